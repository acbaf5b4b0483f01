//! The MacroAssembler: what code generation asks of an instruction set.
//!
//! Codegen (`codegen/`) speaks only this trait: it never names a machine register, an
//! encoding or an addressing-mode limit. Each ISA (`isa/x64`, later `isa/aarch64`)
//! implements it with dynasmrt and hides its own constraints: fixed registers for shifts
//! or division, immediate ranges, two-operand forms, scratch registers.
//!
//! # Conventions every implementation follows
//! - Registers handed to codegen are [`Reg`]s from [`MacroAssembler::allocatable`] or
//!   [`MacroAssembler::local_regs`]; the implementation has its own scratch registers
//!   besides those, and pins three more for the whole call: the vmctx, the base of
//!   linear memory and the remaining gas.
//! - `S32` operations read the low 32 bits of their inputs and leave the high 32 bits of
//!   the destination zero. i32 values always live zero-extended.
//! - [`Operand::Imm`] may be any 64-bit value (for `S32`, only the low 32 bits count); the
//!   implementation materialises what its encodings cannot hold.
//! - Moves, loads, stores, `set_cond` and `cmov` never change the condition flags, so
//!   codegen may spill registers between a `cmp` and the `branch`/`set_cond`/`cmov` that
//!   consumes it. Everything else may clobber them.
//! - Frame layout (codegen owns it): the incoming argument/result area of the wasm calling
//!   convention is at `fp + incoming_area_offset() + 8*i`; the prologue saves the used
//!   local registers at `fp - 8`, `fp - 16`, …; codegen's slots are below those, and the
//!   outgoing area of its largest call at the bottom of the frame (`sp + 8*i`).

use dynasmrt::DynamicLabel;

use crate::vmctx::Libcall;
use crate::TrapKind;

/// The largest alignment an `aligned` memory check (`MacroAssembler::bounds_check`,
/// `store_check`) may rely on: it must divide every memory length (a multiple of the
/// 64 KiB wasm page) and the written range's start and length (multiples of
/// `DIRTY_GRANULE`, 4 KiB).
pub const ALIGNED_MAX: u64 = crate::written::DIRTY_GRANULE;

/// A code label (a dynasmrt dynamic label).
pub type Label = DynamicLabel;

/// What a store's written-range check (`MacroAssembler::store_check` and its store-run
/// forms) covers: the stored bytes `[addr + from, addr + end)` and the loads sharing the
/// check, and the dirty-range stub its slow path calls.
#[derive(Copy, Clone, Debug)]
pub struct StoreCheck {
    /// The register holding the store's address.
    pub addr: Reg,
    /// Where the stored bytes start past the address (the wasm offset).
    pub from: u64,
    /// The store's end past the address.
    pub end: u64,
    /// The loads sharing the check: their end past the address and the trap label of a
    /// failed length check (see `MacroAssembler::store_check`).
    pub loads: Option<(u64, Label)>,
    /// The dirty-range stub.
    pub widen: Label,
}

/// An unsigned 32-bit division by the constant `divisor` as a multiply: the quotient of
/// a u32 `x` is `(zext64(x) * multiplier) >> shift` (`codegen::arith::divisor`, exact
/// for every `x`), for [`MacroAssembler::rem_u32_by_reciprocal`].
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Reciprocal {
    pub multiplier: u32,
    pub shift: u32,
    pub divisor: u32,
}

/// An open counted loop's state (`codegen/counted.rs`), for the ISA's entry computation
/// and the routine its body's store slow paths call (`MacroAssembler::counted_rebase`,
/// `emit_counted_widen`).
#[derive(Copy, Clone, Debug)]
pub struct CountedState {
    /// The register of the induction variable `j` (an i32 local).
    pub var: Reg,
    /// The bound `n` (u32): a register, a frame slot or a constant.
    pub bound: Operand,
    /// A local step `s` (a register or a frame slot; `None`: the constant 1). Its fast
    /// mode needs `s ≠ 0` and `n + s ≤ 2^32`; the entry writes `s` to the upper half of
    /// the `j_0` slot when they hold, else 0 and a bound of 0 (stepping mode).
    pub step: Option<Operand>,
    /// The iteration's charge `C` (1..2^31).
    pub cost: u32,
    /// The frame offsets of the slots holding `j_0` and the fused bound.
    pub start_slot: i32,
    pub bound_slot: i32,
    /// The frame offset of the slot the gas register is parked in while the body of a
    /// loop that [`Self::parks_gas`] runs: there the gas register holds the bound
    /// instead, so the loop's test compares two registers as the unmetered loop does
    /// (`codegen/counted.rs`).
    pub gas_slot: i32,
    /// Bottom-tested: the entry charged iteration 0, so `bound = min(n, j_0 + m + 1)`,
    /// and 0 when `j_0 >= n`; top-tested: `bound = min(n, j_0 + m)`.
    pub bottom: bool,
    /// A count-down loop (top-tested, `n` 0, step −1): the slots hold `j_0` and the
    /// lower limit `max(0, j_0 − m)`, the loop runs while `j > limit`, and the iterations
    /// run are `j_0 − j`.
    pub down: bool,
}

impl CountedState {
    /// The iterations the body's gas readers settle beyond `j - j_0`: a top-tested body
    /// runs after its iteration's (deferred) test, so it owes that iteration too.
    pub fn owed(&self) -> i64 {
        i64::from(!self.bottom)
    }

    /// Whether the body runs with the gas register parked in its slot and the fused bound
    /// in the gas register (`codegen/counted.rs`, `OpenCounted::park`): bottom-tested
    /// loops only. A top-tested loop's header compares with the bound's slot: with the
    /// register there, sha256buf's fill loop and sieve's marking loop (a store, then a
    /// `jmp` back to the test) ran 12 % and 5 % slower on an AMD family 26 core, while
    /// the bottom-tested loops (matmul's `$dot`) gained (ARCHITECTURE.md, "Counted-loop
    /// charge").
    pub fn parks_gas(&self) -> bool {
        self.bottom
    }

    /// When a top-tested loop leaves (or, tested against the fused bound, goes to its
    /// exit stub): `j ≥ n` (unsigned), counting down `j ≤ limit`.
    pub fn exit_cond(&self) -> Cond {
        match self.down {
            false => Cond::GeU,
            true => Cond::LeU,
        }
    }
}

impl StoreCheck {
    /// The end the fast path compares against the written range: the store's or the
    /// loads', whichever is further.
    pub fn fast_end(&self) -> u64 {
        self.end.max(self.loads.map_or(0, |(end, _)| end))
    }

    /// The loads' length check the slow path runs before the stub: only when they end
    /// past the store (otherwise the stub's own length check covers them).
    pub fn loads_past_store(&self) -> Option<(u64, Label)> {
        self.loads.filter(|&(end, _)| end > self.end)
    }
}

/// A `store_check` whose slow path waits to be emitted out of line (`emit_slow_paths`):
/// the fast path branches to `slow`, the slow path calls `check.widen` and jumps to `back`.
#[derive(Copy, Clone, Debug)]
pub struct StoreSlowPath {
    pub slow: Label,
    pub back: Label,
    pub check: StoreCheck,
}

/// An integer register, numbered by the ISA. Opaque to codegen.
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Reg(pub u8);

/// A float register (x86-64 `xmm`, AArch64 `v`), numbered by the ISA. Opaque to codegen.
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FReg(pub u8);

/// Width of an integer operation.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Size {
    S32,
    S64,
}

/// A source operand.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Operand {
    Reg(Reg),
    Imm(i64),
    /// The 8-byte frame slot at `fp + offset` (read with the operation's size).
    Frame(i32),
}

/// An argument of a runtime helper call.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum LibcallArg {
    Imm(i64),
    /// The 8-byte value in the frame slot at `fp + offset`.
    Frame(i32),
    /// The address `fp + offset` (a pointer into the frame).
    FrameAddress(i32),
    /// A register from `local_regs()`.
    Reg(Reg),
}

/// The base of a memory address.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Base {
    /// The instance context.
    Vmctx,
    /// The frame pointer.
    Frame,
    /// The stack pointer (the outgoing call area is at `sp + 8*i`).
    Sp,
    /// The base of linear memory.
    Memory,
    Reg(Reg),
}

/// `base + index << scale + disp`. For [`Base::Memory`] the index is a zero-extended i32
/// wasm address and `disp` the instruction's offset (up to `u32::MAX`).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Address {
    pub base: Base,
    pub index: Option<(Reg, u8)>,
    pub disp: i64,
}

impl Address {
    /// `base + disp`.
    pub fn at(base: Base, disp: i64) -> Address {
        Address {
            base,
            index: None,
            disp,
        }
    }
}

/// Conditions on the flags set by [`MacroAssembler::cmp`] (`lhs ? rhs`).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Cond {
    Eq,
    Ne,
    LtS,
    LtU,
    GtS,
    GtU,
    LeS,
    LeU,
    GeS,
    GeU,
}

impl Cond {
    /// The condition that holds exactly when `self` does not.
    pub fn invert(self) -> Cond {
        match self {
            Cond::Eq => Cond::Ne,
            Cond::Ne => Cond::Eq,
            Cond::LtS => Cond::GeS,
            Cond::LtU => Cond::GeU,
            Cond::GtS => Cond::LeS,
            Cond::GtU => Cond::LeU,
            Cond::LeS => Cond::GtS,
            Cond::LeU => Cond::GtU,
            Cond::GeS => Cond::LtS,
            Cond::GeU => Cond::LtU,
        }
    }

    /// The condition for swapped operands (`rhs ? lhs`).
    pub fn swap(self) -> Cond {
        match self {
            Cond::Eq => Cond::Eq,
            Cond::Ne => Cond::Ne,
            Cond::LtS => Cond::GtS,
            Cond::LtU => Cond::GtU,
            Cond::GtS => Cond::LtS,
            Cond::GtU => Cond::LtU,
            Cond::LeS => Cond::GeS,
            Cond::LeU => Cond::GeU,
            Cond::GeS => Cond::LeS,
            Cond::GeU => Cond::LeU,
        }
    }
}

/// Two-input arithmetic and bitwise operations (wrapping).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum AluOp {
    Add,
    Sub,
    Mul,
    And,
    Or,
    Xor,
}

/// Shifts and rotates; the count is taken modulo the width, as wasm says.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum ShiftOp {
    Shl,
    ShrS,
    ShrU,
    Rotl,
    Rotr,
}

/// Division and remainder. The implementation may assume the divisor is not zero and that
/// a signed division is not `MIN / -1`; codegen checks both (and never emits `RemS` by -1).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum DivOp {
    DivS,
    DivU,
    RemS,
    RemU,
}

/// Bit counting, with wasm results for 0 (`clz`/`ctz` give the width).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum BitOp {
    Clz,
    Ctz,
    Popcnt,
}

/// Width changes.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum ExtendOp {
    /// `i32.wrap_i64`: keep the low 32 bits.
    Wrap,
    /// `i64.extend_i32_s`.
    I64FromI32S,
    /// `i64.extend_i32_u`.
    I64FromI32U,
    /// `i32.extend8_s`.
    I32From8S,
    /// `i32.extend16_s`.
    I32From16S,
    /// `i64.extend8_s`.
    I64From8S,
    /// `i64.extend16_s`.
    I64From16S,
    /// `i64.extend32_s`.
    I64From32S,
}

/// How a load reads and extends.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum LoadKind {
    /// 32 bits, zero-extended into the register.
    I32,
    I64,
    I32From8S,
    I32From8U,
    I32From16S,
    I32From16U,
    I64From8S,
    I64From8U,
    I64From16S,
    I64From16U,
    I64From32S,
    I64From32U,
}

impl LoadKind {
    /// Every kind, in declaration order (for tests that cover them all).
    pub const ALL: [LoadKind; 12] = [
        LoadKind::I32,
        LoadKind::I64,
        LoadKind::I32From8S,
        LoadKind::I32From8U,
        LoadKind::I32From16S,
        LoadKind::I32From16U,
        LoadKind::I64From8S,
        LoadKind::I64From8U,
        LoadKind::I64From16S,
        LoadKind::I64From16U,
        LoadKind::I64From32S,
        LoadKind::I64From32U,
    ];

    /// Bytes read.
    pub fn bytes(self) -> u32 {
        match self {
            LoadKind::I32From8S
            | LoadKind::I32From8U
            | LoadKind::I64From8S
            | LoadKind::I64From8U => 1,
            LoadKind::I32From16S
            | LoadKind::I32From16U
            | LoadKind::I64From16S
            | LoadKind::I64From16U => 2,
            LoadKind::I32 | LoadKind::I64From32S | LoadKind::I64From32U => 4,
            LoadKind::I64 => 8,
        }
    }
}

/// How many low bytes a store writes.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum StoreWidth {
    B8,
    B16,
    B32,
    B64,
}

impl StoreWidth {
    /// Bytes written.
    pub fn bytes(self) -> u32 {
        match self {
            StoreWidth::B8 => 1,
            StoreWidth::B16 => 2,
            StoreWidth::B32 => 4,
            StoreWidth::B64 => 8,
        }
    }
}

/// Width of a floating-point operation.
///
/// At rest, float values live where integers do (integer registers, frame slots,
/// constants, locals) as their IEEE-754 bit patterns, an f32 zero-extended like an i32, so
/// moves, merges, calls and memory treat them by width only. The result of a float
/// operator is held in a float register ([`FReg`]) while other float operators consume
/// it, and becomes bits (canonicalized) only when something else reads it: codegen's
/// second register class, for expression temporaries.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum FloatSize {
    F32,
    F64,
}

impl FloatSize {
    /// The integer width that holds this float's bits.
    pub fn bits_size(self) -> Size {
        match self {
            FloatSize::F32 => Size::S32,
            FloatSize::F64 => Size::S64,
        }
    }

    /// The canonical NaN: positive, quiet, payload zero (`0x7fc00000` / `0x7ff8000000000000`).
    pub fn canonical_nan(self) -> u64 {
        match self {
            FloatSize::F32 => 0x7fc0_0000,
            FloatSize::F64 => 0x7ff8_0000_0000_0000,
        }
    }

    /// The bit pattern of `value` in this size (rounded to nearest for f32; every caller
    /// passes values f32 holds exactly).
    pub fn bits_of(self, value: f64) -> u64 {
        match self {
            FloatSize::F32 => u64::from((value as f32).to_bits()),
            FloatSize::F64 => value.to_bits(),
        }
    }

    /// The sign bit.
    pub fn sign_mask(self) -> u64 {
        match self {
            FloatSize::F32 => 0x8000_0000,
            FloatSize::F64 => 0x8000_0000_0000_0000,
        }
    }
}

/// Two-input float arithmetic, with wasm semantics: IEEE-754 round-to-nearest-even;
/// `Min`/`Max` return NaN if either input is NaN and order −0 below +0.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum FloatBinOp {
    Add,
    Sub,
    Mul,
    Div,
    Min,
    Max,
}

/// One-input float arithmetic. `Nearest` rounds to the nearest integer, ties to even.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum FloatUnOp {
    Sqrt,
    Ceil,
    Floor,
    Trunc,
    Nearest,
}

/// Float comparisons. Every comparison with a NaN operand is false except `Ne`.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum FloatCmp {
    Eq,
    Ne,
    Lt,
    Gt,
    Le,
    Ge,
}

/// The integer and float sides of a conversion.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct IntFloat {
    pub int: Size,
    pub float: FloatSize,
    /// Whether the integer is signed.
    pub signed: bool,
}

/// The float inputs a truncation to an integer accepts, as bit patterns of its float size:
/// `lower < x < upper`, or `lower <= x < upper` when `lower_inclusive`. Every bound is
/// exactly representable, so two float comparisons decide validity.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct TruncRange {
    pub lower: u64,
    pub lower_inclusive: bool,
    pub upper: u64,
}

impl IntFloat {
    /// The range of inputs whose truncation fits the integer type.
    pub fn trunc_range(self) -> TruncRange {
        let bits = match self.int {
            Size::S32 => 32,
            Size::S64 => 64,
        };
        // (lower, lower_inclusive, upper) as f64 values; all are exact in f32 too except
        // -2^31 - 1, which is only used for f64.
        let (lower, lower_inclusive, upper) = if self.signed {
            let min = -(2f64.powi(bits - 1));
            if bits == 32 && self.float == FloatSize::F64 {
                (min - 1.0, false, -min)
            } else {
                (min, true, -min)
            }
        } else {
            (-1.0, false, 2f64.powi(bits))
        };
        TruncRange {
            lower: self.float.bits_of(lower),
            lower_inclusive,
            upper: self.float.bits_of(upper),
        }
    }
}

/// What a float-to-integer truncation does with NaN and out-of-range inputs.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum TruncMode {
    /// Jump to `nan` for a NaN input, to `overflow` for one outside [`IntFloat::trunc_range`].
    Trap { nan: Label, overflow: Label },
    /// NaN gives 0, values below the range the integer minimum, above it the maximum.
    Saturate,
}

/// A `sub sp, FRAME` emitted by the prologue before the frame size is known; patched by
/// [`MacroAssembler::patch_frame`] when the function ends.
#[derive(Copy, Clone, Debug)]
pub struct FramePatch(pub usize);

/// What code generation asks of an ISA. See the module docs for the conventions.
pub trait MacroAssembler {
    // ---- registers and layout ----

    /// Registers codegen may allocate for values. Caller-saved: clobbered by every call.
    fn allocatable(&self) -> &'static [Reg];
    /// Registers that may hold locals for a whole function. Callee-saved across wasm calls
    /// (the prologue saves the ones a function uses) and across libcalls.
    fn local_regs(&self) -> &'static [Reg];
    /// How many of the first `allocatable()` registers codegen may lend to a function's
    /// locals once `local_regs()` are taken; the function allocates its temporaries from
    /// the rest (at least 3 remain). Lent registers stay caller-saved: codegen saves them
    /// around every call and libcall (see `codegen/regalloc.rs`).
    fn lendable(&self) -> usize;
    /// The registers codegen may lend to locals, in the order it lends them. By default
    /// the first `lendable()` of `allocatable()`; an ISA may put first registers that are
    /// never temporaries but that its methods leave intact (or save themselves), which
    /// lends a local one more register without taking a temporary. Those of them that
    /// are allocatable must be the first `lendable()` of `allocatable()`, in order.
    fn lendable_regs(&self) -> &'static [Reg] {
        &self.allocatable()[..self.lendable()]
    }
    /// `fp + this` is incoming slot 0 (the wasm calling convention's argument area).
    fn incoming_area_offset(&self) -> i32;
    /// Where a function with exactly one integer (or reference) result also leaves it on
    /// return, besides incoming slot 0, or `None`. A caller then takes the result with a
    /// register move instead of a load that waits on the callee's store (x86-64: the
    /// store-to-load forwarding sat on the critical path of every call). Codegen writes
    /// it with `mov` just before `epilogue` and reads it just after the call (restoring
    /// lent registers in between must not touch it), so it must be a register no masm
    /// method between those two points writes and no allocatable one. Every function's
    /// entry (wasm bodies and import shims) sets it; the entry trampoline still reads
    /// the incoming area.
    fn return_register(&self) -> Option<Reg> {
        None
    }

    // ---- positions and labels ----

    /// Current code offset.
    fn offset(&self) -> u32;
    fn new_label(&mut self) -> Label;
    fn bind(&mut self, label: Label);
    fn jump(&mut self, label: Label);
    /// Jump to `label` if `cond` holds on the current flags.
    fn branch(&mut self, cond: Cond, label: Label);
    /// Jump to `targets[index]`, or to `default` if `index` (u32) is out of range. Linear
    /// in `targets.len()`; clobbers `index`.
    fn jump_table(&mut self, index: Reg, targets: &[Label], default: Label);

    // ---- moves and memory ----

    /// `dst = src` (a `Frame` source is loaded with the given size).
    fn mov(&mut self, size: Size, dst: Reg, src: Operand);
    /// Load `kind` from `addr` into `dst`. No bounds check.
    fn load(&mut self, kind: LoadKind, dst: Reg, addr: Address);
    /// `acc = acc op [address]` (add, sub, and, or, xor), where `loaded` holds the value
    /// the last instruction emitted loaded from linear memory (`load` of an `I32` for
    /// `S32`, an `I64` for `S64`, nothing emitted and no label bound since): that load is
    /// taken back and the operation reads its address instead, the same bytes at the
    /// same point after the same bounds check, so `loaded` is never written (the caller
    /// frees it). Returns false, with nothing emitted, when it cannot (then the caller
    /// emits `alu` as usual); the default never folds.
    fn alu_folding_load(&mut self, op: AluOp, size: Size, acc: Reg, loaded: Reg) -> bool {
        let _ = (op, size, acc, loaded);
        false
    }
    /// Store the low bytes of `src` (`Reg`, `Imm` or `Frame`) to `addr`. No bounds check.
    fn store(&mut self, width: StoreWidth, addr: Address, src: Operand);
    /// `dst = address` (no memory access; `Base::Memory` gives a host pointer).
    fn lea(&mut self, dst: Reg, addr: Address);
    /// Jump to `oob` unless `addr (u32, zero-extended) + end <= VmCtx::memory_len`, with
    /// the sum computed without overflow (`end` up to 2^32 + 8).
    ///
    /// `aligned`: codegen knows `addr` is a multiple of a power of two `a` with
    /// `end <= a <= ALIGNED_MAX` (see `ALIGNED_MAX`), so the check may compare `addr`
    /// alone: `addr < memory_len` (both multiples of `a`, so `addr <= memory_len - a`).
    fn bounds_check(&mut self, addr: Reg, end: u64, oob: Label, aligned: bool);
    /// The check before a store of the bytes `[addr + from, addr + end)` (`addr` a u32,
    /// zero-extended; `from < end`, `end` up to 2^32 + 8; `from` is the wasm offset):
    /// when `[addr, addr + end)` is not all inside the current written range
    /// (`VmCtx::written`), branch to an out-of-line slow path (emitted by the next
    /// `emit_slow_paths`) that calls the dirty-range stub `widen` (see
    /// `emit_dirty_range_stub`) with the stored bytes, which widens the ranges over
    /// exactly them (so the gas charged depends on the bytes stored alone, as in the
    /// reference) or traps, and comes back. Inside the range the bytes are also inside
    /// memory (the range never passes its length), so this replaces `bounds_check` for
    /// stores. Preserves `addr` and every allocatable register.
    ///
    /// With `loads = Some((loads_end, oob))` it is also the length check of loads up to
    /// `addr + loads_end` that come before the store (`codegen/load_window.rs`): the fast
    /// path checks `[addr, addr + max(end, loads_end))` against the range, and the slow
    /// path first jumps to `oob` unless `addr + loads_end <= VmCtx::memory_len`, then
    /// calls `widen` with the stored bytes as above.
    ///
    /// `aligned`: as for `bounds_check`, with `max(end, loads_end) <= a`: the fast path
    /// may compare `(addr - start) mod 2^32 < len` (the range's start and length are
    /// multiples of `DIRTY_GRANULE`, so of `a`); the slow path is unchanged.
    fn store_check(&mut self, check: StoreCheck, aligned: bool);
    /// Whether code generation reuses a register holding a shifted local's value for
    /// the same shift later in a straight-line stretch (`codegen/addr_cache.rs`).
    fn caches_addresses(&self) -> bool {
        false
    }
    /// Whether the ISA emits store runs (`codegen/store_run.rs`): `store_run_check` and
    /// the flagged checks below. Without them (the defaults) they are the plain checks.
    fn store_runs(&self) -> bool {
        false
    }
    /// A store run's first check: `store_check` whose fast path checks `[addr, addr +
    /// span)` (`span` at least `max(end, loads_end)`) against the current written range,
    /// and whose slow path, after the `store_check` slow path's work, compares that again
    /// and sets `VmCtx::store_run_unproven` to 1 when it is still not inside, 0 when it is
    /// (unless the run has no check behind the flag: then it leaves the flag alone).
    /// `aligned`: as for `store_check`, with `span <= a`.
    #[allow(clippy::too_many_arguments)]
    fn store_run_check(&mut self, check: StoreCheck, span: u64, aligned: bool) {
        let _ = span;
        self.store_check(check, aligned)
    }
    /// `store_check` behind the open run's flag: inline, a branch out of line when
    /// `VmCtx::store_run_unproven` is not 0; there, the whole `store_check` (fast compare
    /// and slow path), and for the run's last check, clearing the flag; then back.
    fn flagged_store_check(&mut self, check: StoreCheck, aligned: bool) {
        self.store_check(check, aligned)
    }
    /// `bounds_check` behind the open run's flag (as `flagged_store_check`).
    fn flagged_bounds_check(&mut self, addr: Reg, end: u64, oob: Label, aligned: bool) {
        self.bounds_check(addr, end, oob, aligned)
    }
    /// Emit the out-of-line slow paths of the `store_check`s since the last call; codegen
    /// calls it after each function's code, where nothing falls through into them.
    fn emit_slow_paths(&mut self);
    /// Pads (with filler never executed) so that the next function starts on the ISA's
    /// function alignment: x86-64 aligns to 32 bytes (see `isa/x64/placement.rs`),
    /// AArch64 needs nothing (every instruction is 4 bytes, aligned already).
    fn align_function(&mut self) {}
    /// Pads (with no-ops, executed once on entry) before a loop header, where the ISA's
    /// placement rule wants one. `pair_first`: the header starts with a compare and its
    /// branch (a charge, a test); else with the body, whose first such pair comes after
    /// instructions the ISA cannot see yet.
    fn align_loop(&mut self, pair_first: bool) {
        let _ = pair_first;
    }
    /// The end of a loop whose header [`MacroAssembler::align_loop`] began (x86-64 pads
    /// compare-and-branch pairs only inside loops).
    fn end_loop(&mut self) {}
    /// Labels made from now on until [`MacroAssembler::end_function`] belong to one
    /// function body: bound inside it and referred to only from it.
    fn begin_function(&mut self);
    /// The body begun by [`MacroAssembler::begin_function`] is complete: its references
    /// to its own labels can be resolved and the labels reused (assembler memory then
    /// grows with the largest function, not the module).
    fn end_function(&mut self);

    // ---- integer operations ----

    /// `dst = lhs op rhs`. `dst` may equal `lhs` or the `rhs` register.
    fn alu(&mut self, op: AluOp, size: Size, dst: Reg, lhs: Reg, rhs: Operand);
    /// `dst = lhs op (rhs mod width)`. `dst` may equal `lhs` or the `rhs` register.
    fn shift(&mut self, op: ShiftOp, size: Size, dst: Reg, lhs: Reg, rhs: Operand);
    /// `dst = lhs op rhs` (see [`DivOp`] for the preconditions).
    fn div(&mut self, op: DivOp, size: Size, dst: Reg, lhs: Reg, rhs: Reg);
    /// `dst = lhs mod r.divisor` (32-bit, unsigned): `lhs - quotient * divisor`, the
    /// quotient computed by [`Reciprocal`] in the masm's own scratch registers, so
    /// codegen needs no second temporary for it (keccak's `(x + 2) % 5` next to three
    /// live values spilled one for it). Returns false, with nothing emitted, where the
    /// ISA leaves it to codegen (the default); `dst` may equal `lhs`.
    fn rem_u32_by_reciprocal(&mut self, dst: Reg, lhs: Reg, r: Reciprocal) -> bool {
        let _ = (dst, lhs, r);
        false
    }
    /// `dst = op(src)`.
    fn bit_count(&mut self, op: BitOp, size: Size, dst: Reg, src: Reg);
    /// `dst = op(src)`.
    fn extend(&mut self, op: ExtendOp, dst: Reg, src: Reg);
    /// Set the flags from `lhs ? rhs`.
    fn cmp(&mut self, size: Size, lhs: Reg, rhs: Operand);
    /// `dst = cond ? 1 : 0` (as an i32).
    fn set_cond(&mut self, cond: Cond, dst: Reg);
    /// `if cond { dst = src }`.
    fn cmov(&mut self, cond: Cond, size: Size, dst: Reg, src: Reg);

    // ---- floating point ----
    //
    // Float values rest as bit patterns where integers do; an operator's result stays in a
    // float register ([`FReg`]) while further float operators consume it, and leaves it
    // through `float_to_bits` (see `FloatSize`). `float_from_bits`, `float_to_bits` and
    // `float_spill` never change the condition flags (so a float value can be moved out or
    // spilled between a `cmp` and its consumer); the operations may.

    /// Float registers codegen may allocate for values. Caller-saved: clobbered by every
    /// call; no temporary holds a value across a call or a merge.
    fn float_allocatable(&self) -> &'static [FReg];
    /// How many of the first `float_allocatable()` registers codegen may lend to a
    /// function's float locals (the rest stay for temporaries, at least 4). Like lent
    /// integer registers, codegen saves them around every call and libcall.
    fn float_lendable(&self) -> usize;
    /// Two float registers outside [`Self::float_allocatable`] that the bit-pattern forms
    /// (`float_binop`, …) compute in.
    fn float_scratch(&self) -> [FReg; 2];
    /// `dst` = the `size` float whose bits are `src` (a register, a frame slot or a
    /// constant).
    fn float_from_bits(&mut self, size: FloatSize, dst: FReg, src: Operand);
    /// `dst` = the bits of `src` (an f32 zero-extended); when `canonicalize`, the canonical
    /// NaN instead of any NaN. `src` keeps its value.
    fn float_to_bits(&mut self, size: FloatSize, dst: Reg, src: FReg, canonicalize: bool);
    /// [`Self::float_to_bits`] where the condition flags are dead: an ISA may canonicalize
    /// more cheaply with a compare.
    fn float_to_bits_clobbering_flags(
        &mut self,
        size: FloatSize,
        dst: Reg,
        src: FReg,
        canonicalize: bool,
    ) {
        self.float_to_bits(size, dst, src, canonicalize)
    }
    /// The frame slot at `fp + offset` (8 bytes) = `float_to_bits(src)`; `src` keeps its
    /// value.
    fn float_spill(&mut self, size: FloatSize, offset: i32, src: FReg, canonicalize: bool);
    /// `dst = src` between float registers, bits unchanged, or with the canonical NaN
    /// instead of any NaN when `canonicalize`. Never changes the flags; `dst != src`.
    fn float_move(&mut self, size: FloatSize, dst: FReg, src: FReg, canonicalize: bool);
    /// [`Self::float_move`] where the condition flags are dead: an ISA may canonicalize
    /// more cheaply with a compare.
    fn float_move_clobbering_flags(
        &mut self,
        size: FloatSize,
        dst: FReg,
        src: FReg,
        canonicalize: bool,
    ) {
        self.float_move(size, dst, src, canonicalize)
    }
    /// `dst = lhs op rhs` (wasm semantics; a NaN result is some NaN). `dst` may equal either
    /// input; `dst == lhs` is the cheap form.
    fn fp_binop(&mut self, op: FloatBinOp, size: FloatSize, dst: FReg, lhs: FReg, rhs: FReg);
    /// `dst = op(src)`; `dst == src` is the cheap form.
    fn fp_unop(&mut self, op: FloatUnOp, size: FloatSize, dst: FReg, src: FReg);
    /// `dst =` the `size` float at `addr`, bits unchanged (a NaN keeps its payload).
    fn fp_load(&mut self, size: FloatSize, dst: FReg, addr: Address);
    /// The `size` float in `src` stored at `addr` (4 or 8 bytes), bits unchanged, or the
    /// canonical NaN instead of any NaN when `canonicalize` (which may overwrite `src` with
    /// it and change the flags).
    fn fp_store(&mut self, size: FloatSize, addr: Address, src: FReg, canonicalize: bool);
    /// `dst = (lhs op rhs) ? 1 : 0` (an i32).
    fn fp_cmp(&mut self, op: FloatCmp, size: FloatSize, dst: Reg, lhs: FReg, rhs: FReg);
    /// Compare `lhs` with `rhs` into the flags and return the condition that holds
    /// exactly when `lhs op rhs` (unordered operands included: then it must not hold, or
    /// for `ne` must), for a branch, select or `setcc` to consume like an integer
    /// comparison's; `None`, emitting nothing, where the ISA needs two conditions
    /// (x86-64 `eq`/`ne`: zero and parity flags).
    fn fp_cmp_flags(&mut self, op: FloatCmp, size: FloatSize, lhs: FReg, rhs: FReg)
        -> Option<Cond>;
    /// `dst = src` converted to the float size `to` (`F64`: promote, exact; `F32`: demote,
    /// rounded to nearest even).
    fn fp_resize(&mut self, to: FloatSize, dst: FReg, src: FReg);
    /// `dst = src` (an integer of `conv.int`) converted to `conv.float`, rounded to nearest
    /// even.
    fn int_to_fp(&mut self, conv: IntFloat, dst: FReg, src: Reg);
    /// `dst = trunc(src)` (a float of `conv.float`) as an integer of `conv.int` (an i32
    /// result zero-extended), handling NaN and out-of-range inputs as `mode` says. May
    /// clobber `src`.
    fn fp_to_int(&mut self, conv: IntFloat, dst: Reg, src: FReg, mode: TruncMode);

    // The same operations on bit patterns in integer registers, through
    // [`Self::float_scratch`]: one operation with its moves in and out, which is what the
    // ISA tests check against `float_reference`. `dst` may equal any input.

    /// `dst = lhs op rhs` on the floats whose bits are in `lhs` and `rhs`. When
    /// `canonicalize`, a NaN result is [`FloatSize::canonical_nan`].
    fn float_binop(
        &mut self,
        op: FloatBinOp,
        size: FloatSize,
        dst: Reg,
        lhs: Reg,
        rhs: Reg,
        canonicalize: bool,
    ) {
        let [a, b] = self.float_scratch();
        self.float_from_bits(size, a, Operand::Reg(lhs));
        self.float_from_bits(size, b, Operand::Reg(rhs));
        self.fp_binop(op, size, a, a, b);
        self.float_to_bits(size, dst, a, canonicalize);
    }
    /// `dst = op(src)`, canonicalizing a NaN result like `float_binop`.
    fn float_unop(
        &mut self,
        op: FloatUnOp,
        size: FloatSize,
        dst: Reg,
        src: Reg,
        canonicalize: bool,
    ) {
        let [a, _] = self.float_scratch();
        self.float_from_bits(size, a, Operand::Reg(src));
        self.fp_unop(op, size, a, a);
        self.float_to_bits(size, dst, a, canonicalize);
    }
    /// `dst = (lhs op rhs) ? 1 : 0` (an i32).
    fn float_cmp(&mut self, op: FloatCmp, size: FloatSize, dst: Reg, lhs: Reg, rhs: Reg) {
        let [a, b] = self.float_scratch();
        self.float_from_bits(size, a, Operand::Reg(lhs));
        self.float_from_bits(size, b, Operand::Reg(rhs));
        self.fp_cmp(op, size, dst, a, b);
    }
    /// Promote or demote (see [`Self::fp_resize`]), canonicalizing like `float_binop`.
    fn float_resize(&mut self, to: FloatSize, dst: Reg, src: Reg, canonicalize: bool) {
        let [a, _] = self.float_scratch();
        let from = match to {
            FloatSize::F32 => FloatSize::F64,
            FloatSize::F64 => FloatSize::F32,
        };
        self.float_from_bits(from, a, Operand::Reg(src));
        self.fp_resize(to, a, a);
        self.float_to_bits(to, dst, a, canonicalize);
    }
    /// [`Self::int_to_fp`] into bits.
    fn int_to_float(&mut self, conv: IntFloat, dst: Reg, src: Reg) {
        let [a, _] = self.float_scratch();
        self.int_to_fp(conv, a, src);
        self.float_to_bits(conv.float, dst, a, false);
    }
    /// [`Self::fp_to_int`] from bits.
    fn float_to_int(&mut self, conv: IntFloat, dst: Reg, src: Reg, mode: TruncMode) {
        let [a, _] = self.float_scratch();
        self.float_from_bits(conv.float, a, Operand::Reg(src));
        self.fp_to_int(conv, dst, a, mode);
    }

    // ---- gas and the deterministic stack ----

    /// Subtract `amount` (u64: `Reg` or `Imm`) from the gas register; jump to `out_of_gas`
    /// if it was smaller than `amount`.
    fn charge_gas(&mut self, amount: Operand, out_of_gas: Label);
    /// Subtract `add + scale × [vmctx + offset]` (u64, wrapping: what `global.get;
    /// i64.const scale; i64.mul; i64.const add; i64.add; call $gas` charges) from the gas
    /// register, like [`Self::charge_gas`]; only the masm's scratch registers are used.
    /// `scale` and `add` are below 2^31. The memory-size surcharge's block charge.
    fn charge_gas_scaled(&mut self, offset: u32, scale: u32, add: u32, out_of_gas: Label);
    /// The gas register, on an ISA whose code generation compiles counted loops with
    /// their charge out of the body (`codegen/counted.rs`; x86-64): the loop's entry and
    /// stubs subtract from it with the ordinary integer methods. `None` elsewhere
    /// (AArch64 keeps the per-iteration charges, which are exact too).
    fn counted_loop_gas(&self) -> Option<Reg> {
        None
    }
    /// A counted loop's entry computation, with every iteration before the current one
    /// charged (the gas register exact but for the current iteration's charge, which a
    /// top-tested loop's header defers): `j_0 = var` and, with `m = min(⌊gas/C⌋, 2^32)`,
    /// `bound = min(n, j_0 + m)` (bottom-tested `min(n, j_0 + m + 1)`, or 0 when `j_0 >=
    /// n`; with a local step `s`, `min(n, j_0 + m·s)` and `s` beside `j_0`, or 0 and 0 in
    /// stepping mode, see `CountedState::step`) into their slots (see
    /// `codegen/counted.rs` for why these are exact). Only the masm's scratch registers
    /// change. Only on an ISA whose `counted_loop_gas` is `Some`, which codegen checks
    /// first.
    fn counted_rebase(&mut self, state: &CountedState) {
        let _ = state;
        unreachable!("counted loops are compiled only where counted_loop_gas is Some")
    }
    /// Emit (bind `label` first) the routine a counted loop's store slow paths call
    /// instead of the dirty-range stub `widen`, with the same arguments: it settles the
    /// iterations run (`((j - j_0)/s + owed)·C`, so the gas register is exact), calls
    /// `widen` (which charges the write or traps with that gas), gives back the current
    /// iteration's `owed·C` and recomputes the state as the entry does
    /// (`counted_rebase`), then returns; in stepping mode (a local step, 0 beside
    /// `j_0`) it only calls `widen`: every iteration is charged already. Preserves what
    /// the dirty-range stub preserves.
    fn emit_counted_widen(&mut self, label: Label, state: &CountedState, widen: Label) {
        let _ = (label, state, widen);
        unreachable!("counted loops are compiled only where counted_loop_gas is Some")
    }
    /// Write the gas register to `VmCtx::gas_remaining`.
    fn flush_gas(&mut self);
    /// Reload the gas register from `VmCtx::gas_remaining`.
    fn reload_gas(&mut self);
    /// After the prologue: compare the stack pointer (the bottom of this function's
    /// frame) with `VmCtx::stack_limit`; if it is below, call the stack-grant stub
    /// `grant` (see `emit_stack_grant_stub`), which returns with the budget granted or
    /// traps. When the frame fits, the cost is a compare and one branch over that call;
    /// leaving needs nothing (see `NATIVE_STACK_BYTES_PER_UNIT`).
    fn stack_enter(&mut self, grant: Label);

    // ---- frames and calls ----

    /// Function entry: save the caller's frame, set up `fp`, reserve a frame whose size is
    /// patched later, and save `local_regs()[..saved_locals]` at `fp - 8`, `fp - 16`, ….
    fn prologue(&mut self, saved_locals: u32) -> FramePatch;
    /// Set the frame size reserved by `prologue` (bytes, a multiple of 16 that includes the
    /// saved local registers).
    fn patch_frame(&mut self, patch: FramePatch, frame_bytes: u32);
    /// Restore the saved local registers and the caller's frame, and return.
    fn epilogue(&mut self, saved_locals: u32);
    /// Store zero into `count` consecutive 8-byte slots starting at `fp + offset` going up.
    /// Linear in `count`, in a loop when it is large.
    fn zero_frame(&mut self, offset: i32, count: u32);
    /// Move the stack pointer down by `bytes` (a multiple of 16) for an outgoing call area.
    /// (Codegen reserves its call areas in the frame instead, at `sp`; this is for code
    /// that calls from a frame it did not size, such as the masm tests.)
    fn reserve_outgoing(&mut self, bytes: u32);
    /// Move it back up.
    fn release_outgoing(&mut self, bytes: u32);
    /// Call a function in wasm calling convention at `label`.
    fn call(&mut self, label: Label);
    /// Call a function in wasm calling convention whose entry is in `target`.
    fn call_indirect(&mut self, target: Reg);
    /// Call a runtime helper with `(vmctx, args...)` (at most 5 args) in the C calling
    /// convention, keeping the stack aligned as that convention requires. Allocatable
    /// registers are clobbered, so codegen spills them first. Returns the register holding
    /// the helper's return value (the ISA's return register, not allocatable: move it out
    /// before anything else).
    fn call_libcall(&mut self, libcall: Libcall, args: &[LibcallArg]) -> Reg;
    /// Jump to the trap stub of `trap` if the 32-bit value in `result` (a libcall's trap
    /// code) is not zero. The stub records that code.
    fn trap_if_nonzero(&mut self, result: Reg, any_trap: Label);

    // ---- module-level code ----

    /// Emit the shared stub for `kind` (bind `label` first): record the code, unwind to the
    /// entry trampoline. `OutOfGas` also sets the remaining gas to 0.
    fn emit_trap_stub(&mut self, label: Label, kind: TrapKind);
    /// Emit the stub `trap_if_nonzero` jumps to: it records the code in the libcall result
    /// register and unwinds like the other stubs.
    fn emit_dynamic_trap_stub(&mut self, label: Label);
    /// Emit the stack-grant stub (bind `label` first), which `stack_enter` calls when
    /// the asking frame's stack pointer `sp` is below `VmCtx::stack_limit`: it moves
    /// `take = min(reserve, deficit + STACK_GRANT_UNITS)` units (deficit = (limit -
    /// sp) / 32) out of `VmCtx::stack_reserve`, lowers the limit by `32 * take` bytes
    /// (saturating at 0) and returns if `sp` is no longer below it, else jumps to
    /// `overflow`. Preserves every register except the scratch registers the ISA
    /// reserves for the masm (and the link register on AArch64, saved by the prologue)
    /// and the flags.
    fn emit_stack_grant_stub(&mut self, label: Label, overflow: Label);
    /// Emit the dirty-range stub (bind `label` first), which `store_check`'s slow path
    /// calls with the stored bytes' start and end in the ISA's agreed scratch registers:
    /// it jumps to `oob` when the end is past `VmCtx::memory_len`, else computes what
    /// `WrittenRanges::mark(start, end)` on `VmCtx::written` adds, charges its
    /// `write_gas` at `VmCtx::write_price` (jumping to `out_of_gas` with the ranges
    /// unchanged when the gas register does not cover it), then marks and returns.
    /// Preserves every register except the masm's scratch registers (and the link
    /// register on AArch64, saved by the prologue) and the flags.
    fn emit_dirty_range_stub(&mut self, label: Label, oob: Label, out_of_gas: Label);
    /// Emit the entry trampoline (see `Artifact`); returns its offset. For the call it
    /// puts the float unit in the deterministic mode (round to nearest even, subnormals
    /// neither flushed nor treated as zero, exceptions masked) and restores the host's mode
    /// on every exit, trap or return; nested (re-entrant) calls each restore the mode of
    /// their caller. An ISA whose float unit can produce canonical NaNs by itself turns
    /// that on here too (AArch64: FPCR.DN, after which `canonicalize` costs nothing).
    fn emit_entry_trampoline(&mut self) -> u32;
    /// An empty assembler of the same kind with room for `code_bytes`, for one part of a
    /// parallel compile (see `codegen/parallel.rs`).
    fn new_part(code_bytes: usize) -> Self
    where
        Self: Sized;
    /// Appends a part's code: its bound labels that `labels` pairs with labels of `self`
    /// are bound here, at the same place in the appended code; its references to labels
    /// paired with labels of `self` not bound yet become references to those. Every other
    /// label of the part must be its own, bound and referred to only from it.
    fn append(&mut self, part: Self, labels: &[(Label, Label)]) -> Result<(), String>
    where
        Self: Sized;
    /// The finished, position-independent code, in the buffer it was assembled in.
    fn finish(self) -> Result<crate::code_buffer::CodeBuffer, String>;
}
