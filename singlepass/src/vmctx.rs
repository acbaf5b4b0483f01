//! The instance context (`vmctx`) that generated code and the runtime share.
//!
//! Generated code keeps a pointer to the instance's [`VmCtx`] in a pinned register for the
//! whole call and reaches everything instance-specific through it: gas, the stack budget,
//! linear memory, tables, function references, globals and the runtime's helper functions
//! ([`Libcall`]). No host address is ever baked into code, so one artifact runs in every
//! instance, natively or under emulation.
//!
//! Layout: the fixed [`VmCtx`] header, immediately followed by one 8-byte slot per global
//! (at [`VmCtx::global_offset`]). Values in slots and registers are little-endian; an i32
//! occupies the low 4 bytes and the high 4 bytes are zero.

use std::mem::offset_of;

pub use crate::written::{WrittenRanges, DIRTY_GRANULE};

/// The fixed part of an instance context. `repr(C)`: field offsets are part of the ABI
/// between codegen and the runtime (see the `*_OFFSET` constants).
#[repr(C)]
#[derive(Debug)]
pub struct VmCtx {
    /// Gas left. Generated code keeps the live value in a pinned register and writes it
    /// here before every host call and libcall that may charge gas, on return and on trap;
    /// on `out_of_gas` it is 0.
    pub gas_remaining: u64,
    /// The lowest native stack pointer the units granted so far allow. The runtime sets
    /// it to the units it grants first; the entry trampoline turns that into
    /// `args - 32 * units` (saturating at 0). Every wasm frame is exactly
    /// `NATIVE_STACK_BYTES_PER_UNIT` bytes per stack unit it is charged, so the stack
    /// pointer after a prologue is `args - 32 * (units of the active frames)` and one
    /// compare with this is the deterministic stack check; returning releases a frame
    /// with no write. The call's whole budget is what was granted plus `stack_reserve`;
    /// generated code asks the stack-grant stub for more of the reserve when a frame
    /// does not fit (see [`STACK_GRANT_UNITS`]).
    pub stack_limit: u64,
    /// Base of linear memory (never moves: the runtime reserves the maximum up front).
    pub memory_base: *mut u8,
    /// Current size of linear memory in bytes (a multiple of 64 KiB).
    pub memory_len: u64,
    /// The [`TrapKind`](crate::TrapKind) code of the trap that ended the call, or 0.
    pub trap_code: u32,
    /// Set to 1 by a store run's first check when its span was not proven inside the
    /// current written range, so the run's later checks run in full; 0 otherwise (see
    /// `codegen/store_run.rs`). The runtime zeroes it before each call; a 1 left over
    /// costs only time.
    pub store_run_unproven: u32,
    /// Native stack pointer of the entry trampoline, restored when a trap unwinds.
    pub saved_sp: u64,
    /// One [`FuncRef`] per function of the module, by function index.
    pub funcrefs: *const FuncRef,
    /// One [`TableDef`] per table, by table index.
    pub tables: *const TableDef,
    /// The runtime's own per-instance state, opaque to generated code; libcalls use it.
    pub runtime: *mut core::ffi::c_void,
    /// Addresses of the runtime helpers, indexed by [`Libcall`].
    pub libcalls: [usize; Libcall::COUNT],
    /// Deterministic stack units of the call's budget not yet granted (the stub lowers
    /// `stack_limit` by 32 bytes per unit it takes). What the call was granted in all
    /// (`stack_limit`'s units at entry plus what the reserve lost) bounds how deep its wasm frames reached: the runtime
    /// clears only that much of a pooled native stack afterwards.
    pub stack_reserve: u64,
    /// The parts of linear memory that may have been written since the memory was last
    /// all zero (see [`WrittenRanges`]): stores check the current range with one compare
    /// and call the module's dirty-range stub outside it; the runtime widens them for its
    /// own writes and the pool clears only them.
    pub written: WrittenRanges,
    /// Gas per [`DIRTY_GRANULE`] the written ranges grow by (the cost table's
    /// `memory_write_per_granule`, a u32): the dirty-range stub charges
    /// [`write_gas`](crate::written::write_gas) of what `WrittenRanges::mark` adds, and
    /// the runtime charges its own writes the same. Set by the runtime from the engine's
    /// profile; 0 makes writes free.
    pub write_price: u64,
    /// Gas charged so far for widening the written ranges (by the stub and the runtime;
    /// an out-of-gas charge adds nothing): never reset, read as a difference by gas
    /// reports, which show it as its own class.
    pub write_gas: u64,
}

/// Deterministic stack units the stack-grant stub grants (lowering `VmCtx::stack_limit`)
/// beyond the frame that asked (when the reserve has them).
///
/// Why grants at all: the total the call may use (granted + reserve) and so every
/// overflow trap are exactly those of one budget, but the part granted tells the runtime
/// how deep the call's frames went without any instruction on the hot path (the stub
/// runs only when a call goes deeper than it ever went, at most once per
/// `STACK_GRANT_UNITS` of new depth). 128 units are at most 4 KiB of native stack.
/// Baked into generated code: changing it changes the artifact format.
pub const STACK_GRANT_UNITS: u64 = 128;

/// A function reference: what `ref.func` produces, tables store (as a pointer; null = 0)
/// and `call_indirect` checks and calls.
#[repr(C)]
#[derive(Debug)]
pub struct FuncRef {
    /// Entry of the function's code (wasm calling convention).
    pub code: *const u8,
    /// Canonical type id: the index of the first structurally equal type in the module's
    /// type section (see `Artifact::functions`).
    pub type_id: u32,
    /// Padding; always 0.
    pub _reserved: u32,
}

/// A table as generated code sees it. Elements are 8 bytes: a `*const FuncRef` (0 = null)
/// for funcref tables, the runtime's encoding of a host reference (0 = null) for externref.
#[repr(C)]
#[derive(Debug)]
pub struct TableDef {
    /// First element.
    pub base: *mut u64,
    /// Current number of elements.
    pub len: u32,
    /// Padding; always 0.
    pub _reserved: u32,
}

/// Byte offsets of [`VmCtx`] fields, for code generation.
impl VmCtx {
    pub const GAS_REMAINING: u32 = offset_of!(VmCtx, gas_remaining) as u32;
    pub const STACK_LIMIT: u32 = offset_of!(VmCtx, stack_limit) as u32;
    pub const MEMORY_BASE: u32 = offset_of!(VmCtx, memory_base) as u32;
    pub const MEMORY_LEN: u32 = offset_of!(VmCtx, memory_len) as u32;
    pub const TRAP_CODE: u32 = offset_of!(VmCtx, trap_code) as u32;
    pub const STORE_RUN_UNPROVEN: u32 = offset_of!(VmCtx, store_run_unproven) as u32;
    pub const SAVED_SP: u32 = offset_of!(VmCtx, saved_sp) as u32;
    pub const FUNCREFS: u32 = offset_of!(VmCtx, funcrefs) as u32;
    pub const TABLES: u32 = offset_of!(VmCtx, tables) as u32;
    pub const RUNTIME: u32 = offset_of!(VmCtx, runtime) as u32;
    pub const LIBCALLS: u32 = offset_of!(VmCtx, libcalls) as u32;
    pub const STACK_RESERVE: u32 = offset_of!(VmCtx, stack_reserve) as u32;
    pub const WRITTEN_START: u32 =
        (offset_of!(VmCtx, written) + offset_of!(WrittenRanges, start)) as u32;
    pub const WRITTEN_LEN: u32 =
        (offset_of!(VmCtx, written) + offset_of!(WrittenRanges, len)) as u32;
    pub const WRITTEN_SPILLED_COUNT: u32 =
        (offset_of!(VmCtx, written) + offset_of!(WrittenRanges, spilled_count)) as u32;
    /// The first spill slot; slot `i` is `[start, end)` at `WRITTEN_SPILLED + 16 * i`.
    pub const WRITTEN_SPILLED: u32 =
        (offset_of!(VmCtx, written) + offset_of!(WrittenRanges, spilled)) as u32;
    /// Size of the fixed header; globals start here.
    pub const WRITE_PRICE: u32 = offset_of!(VmCtx, write_price) as u32;
    pub const WRITE_GAS: u32 = offset_of!(VmCtx, write_gas) as u32;
    pub const HEADER_SIZE: u32 = std::mem::size_of::<VmCtx>() as u32;

    /// Offset of global `index`'s 8-byte slot.
    pub fn global_offset(index: u32) -> u32 {
        Self::HEADER_SIZE + 8 * index
    }

    /// Offset of the address of `libcall`.
    pub fn libcall_offset(libcall: Libcall) -> u32 {
        Self::LIBCALLS + 8 * libcall as u32
    }
}

impl FuncRef {
    pub const SIZE: u32 = std::mem::size_of::<FuncRef>() as u32;
    pub const CODE: u32 = offset_of!(FuncRef, code) as u32;
    pub const TYPE_ID: u32 = offset_of!(FuncRef, type_id) as u32;
}

impl TableDef {
    pub const SIZE: u32 = std::mem::size_of::<TableDef>() as u32;
    pub const BASE: u32 = offset_of!(TableDef, base) as u32;
    pub const LEN: u32 = offset_of!(TableDef, len) as u32;
}

/// Runtime helpers generated code calls with the platform C calling convention
/// (`extern "C"`: System V on x86-64, AAPCS64 on AArch64). The first argument is always the
/// `*mut VmCtx`; the others are listed per variant. Helpers returning a "trap code" return
/// 0 on success or a [`TrapKind`](crate::TrapKind) code, and generated code then traps
/// with it. Helpers never unwind (they catch panics and report `HostError`).
///
/// Before a call, generated code writes its gas register to `VmCtx::gas_remaining` and
/// reloads it afterwards, so helpers may read and charge gas there.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum Libcall {
    /// `(vmctx, func_index: u32, args: *mut u64) -> trap code`: call imported function
    /// `func_index`; its parameters are in `args[0..params]`, results are written to
    /// `args[0..results]` (the area holds max(params, results) slots).
    HostCall = 0,
    /// `(vmctx, delta_pages: u32) -> u32`: old size in pages, or `u32::MAX` if it cannot grow.
    MemoryGrow = 1,
    /// `(vmctx, dst: u32, value: u32, len: u32) -> trap code`.
    MemoryFill = 2,
    /// `(vmctx, dst: u32, src: u32, len: u32) -> trap code`.
    MemoryCopy = 3,
    /// `(vmctx, segment: u32, dst: u32, src: u32, len: u32) -> trap code`.
    MemoryInit = 4,
    /// `(vmctx, segment: u32) -> 0`.
    DataDrop = 5,
    /// `(vmctx, table: u32, init: u64, delta: u32) -> u32`: old size, or `u32::MAX`.
    TableGrow = 6,
    /// `(vmctx, table: u32, dst: u32, value: u64, len: u32) -> trap code`.
    TableFill = 7,
    /// `(vmctx, dst_table: u32, src_table: u32, dst: u32, src: u32, len: u32) -> trap code`.
    TableCopy = 8,
    /// `(vmctx, table: u32, segment: u32, dst: u32, src: u32, len: u32) -> trap code`.
    TableInit = 9,
    /// `(vmctx, segment: u32) -> 0`.
    ElemDrop = 10,
}

impl Libcall {
    /// Number of libcalls (the length of `VmCtx::libcalls`).
    pub const COUNT: usize = 11;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_is_the_documented_one() {
        // These offsets are baked into generated code: changing them changes the artifact
        // format (bump `ARTIFACT_FORMAT_VERSION`).
        assert_eq!(VmCtx::GAS_REMAINING, 0);
        assert_eq!(VmCtx::STACK_LIMIT, 8);
        assert_eq!(VmCtx::MEMORY_BASE, 16);
        assert_eq!(VmCtx::MEMORY_LEN, 24);
        assert_eq!(VmCtx::TRAP_CODE, 32);
        assert_eq!(VmCtx::STORE_RUN_UNPROVEN, 36);
        assert_eq!(VmCtx::SAVED_SP, 40);
        assert_eq!(VmCtx::FUNCREFS, 48);
        assert_eq!(VmCtx::TABLES, 56);
        assert_eq!(VmCtx::RUNTIME, 64);
        assert_eq!(VmCtx::LIBCALLS, 72);
        assert_eq!(VmCtx::STACK_RESERVE, 72 + 8 * Libcall::COUNT as u32);
        assert_eq!(VmCtx::WRITTEN_START, VmCtx::STACK_RESERVE + 8);
        assert_eq!(VmCtx::WRITTEN_LEN, VmCtx::STACK_RESERVE + 16);
        assert_eq!(VmCtx::WRITTEN_SPILLED_COUNT, VmCtx::STACK_RESERVE + 24);
        assert_eq!(VmCtx::WRITTEN_SPILLED, VmCtx::STACK_RESERVE + 32);
        assert_eq!(
            VmCtx::WRITE_PRICE,
            VmCtx::WRITTEN_SPILLED + 16 * crate::written::WRITTEN_SPILLS as u32
        );
        assert_eq!(VmCtx::WRITE_GAS, VmCtx::WRITE_PRICE + 8);
        assert_eq!(VmCtx::HEADER_SIZE, VmCtx::WRITE_GAS + 8);
        assert_eq!((FuncRef::SIZE, FuncRef::CODE, FuncRef::TYPE_ID), (16, 0, 8));
        assert_eq!((TableDef::SIZE, TableDef::BASE, TableDef::LEN), (16, 0, 8));
        assert_eq!(Libcall::ElemDrop as usize + 1, Libcall::COUNT);
    }
}
