//! The AArch64 backend: [`A64Masm`], a [`MacroAssembler`] on dynasmrt.
//!
//! The trait impl below only delegates; the work lives in one file per job:
//! - `regs`: which hardware register plays which role (pinned, scratch, allocatable).
//! - `control`: labels, branches and `br_table` jump tables.
//! - `alu`: moves, integer arithmetic, comparisons and condition materialisation.
//! - `memory`: addressing modes, loads/stores, bounds checks, frame zeroing.
//! - `float`: float operations on bit patterns in integer registers (v16/v17 scratch;
//!   canonical NaNs from FPCR.DN).
//! - `calls`: prologue/epilogue, wasm calls, libcalls, gas and the deterministic stack.
//! - `traps`: trap stubs and the entry trampoline they unwind to.
//!
//! Code is assembled into a [`CodeAssembler`](crate::isa::CodeAssembler) at base address 0: every reference is
//! pc-relative (`b`, `bl`, `adr`) or goes through the vmctx, so the bytes are
//! position-independent.
//!
//! # Branch range
//! `b.cond`, `cbz`/`cbnz` and `adr` reach only ±1 MiB; `b` and `bl` reach ±128 MiB.
//! Every conditional jump to a codegen label (branches, traps, bounds checks, gas) is
//! therefore emitted as `b.!cond skip; b label; skip:` (see `control::emit_branch`), so
//! a function of any size links. Only branches to labels the masm binds a few
//! instructions away (loops inside one method, the `adr` of a jump table that follows
//! immediately) use the short forms. The one remaining limit is ±128 MiB for `b`/`bl`
//! across the whole module's code; dynasm reports a relocation out of range at
//! `finish`, which becomes a `CompileError::Limit` (the module-size limits keep real
//! modules far below it).
//!
//! # Native execution (not testable on this machine)
//! On aarch64 Linux the runtime maps the code RW, copies it, switches it to R+X and must
//! flush the instruction cache (`__clear_cache`, or dynasmrt's `cache_control`) before the
//! first call. On macOS the mapping needs `MAP_JIT`, writes happen between
//! `pthread_jit_write_protect_np(0)` and `(1)` on the writing thread, followed by
//! `sys_icache_invalidate`; x18 is reserved there (this backend never touches it).

use dynasmrt::aarch64::Aarch64Relocation;
use dynasmrt::{DynamicLabel, DynasmApi};

use crate::code_buffer::CodeBuffer;
use crate::isa::CodeAssembler;
use crate::masm::Address;
use crate::masm::{
    AluOp, BitOp, Cond, DivOp, ExtendOp, FReg, FloatBinOp, FloatCmp, FloatSize, FloatUnOp,
    FramePatch, IntFloat, Label, LibcallArg, LoadKind, MacroAssembler, Operand, Reg, ShiftOp, Size,
    StoreCheck, StoreSlowPath, StoreWidth, TruncMode,
};
use crate::vmctx::Libcall;
use crate::TrapKind;

/// `dynasm!` for this backend: always aarch64. dynasm converts dynamic register numbers with
/// `.into()`, which clippy calls useless when they are already `u8`.
macro_rules! asm {
    ($ops:expr; $($t:tt)*) => {{
        #[allow(clippy::useless_conversion)]
        {
            dynasmrt::dynasm!($ops ; .arch aarch64 ; $($t)*)
        }
    }};
}

mod alu;
mod calls;
mod control;
mod float;
mod memory;
pub(crate) mod regs;
mod traps;

// Execution tests live in the `gasket-aarch64-tests` crate (they need the Unicorn
// emulator, which must never be a dependency of this crate).

/// The AArch64 macro assembler. See the module docs and `regs` for the register roles.
pub struct A64Masm {
    ops: CodeAssembler<Aarch64Relocation>,
    /// The entry trampoline's common exit (restore the host stack and registers, return
    /// `w0`). Trap stubs jump here; it is bound by `emit_entry_trampoline`.
    exit: DynamicLabel,
    /// Slow paths of this function's store checks, emitted after its code.
    store_slow_paths: Vec<StoreSlowPath>,
}

impl A64Masm {
    pub fn new() -> A64Masm {
        Self::with_capacity(0)
    }

    /// A masm whose code buffer starts with room for `code_bytes` (address space only).
    pub fn with_capacity(code_bytes: usize) -> A64Masm {
        let mut ops = CodeAssembler::with_capacity(code_bytes);
        let exit = ops.new_dynamic_label();
        A64Masm {
            ops,
            exit,
            store_slow_paths: Vec::new(),
        }
    }
}

impl Default for A64Masm {
    fn default() -> A64Masm {
        A64Masm::new()
    }
}

impl MacroAssembler for A64Masm {
    fn allocatable(&self) -> &'static [Reg] {
        &regs::ALLOCATABLE
    }
    fn local_regs(&self) -> &'static [Reg] {
        &regs::LOCAL_REGS
    }
    fn lendable(&self) -> usize {
        regs::LENDABLE
    }
    fn incoming_area_offset(&self) -> i32 {
        regs::INCOMING_AREA_OFFSET
    }

    fn offset(&self) -> u32 {
        // Code size is bounded by the module-size limits, far below 4 GiB.
        self.ops.offset().0 as u32
    }
    fn new_label(&mut self) -> Label {
        self.ops.new_dynamic_label()
    }
    fn bind(&mut self, label: Label) {
        self.emit_bind(label)
    }
    fn jump(&mut self, label: Label) {
        self.emit_jump(label)
    }
    fn branch(&mut self, cond: Cond, label: Label) {
        self.emit_branch(cond, label)
    }
    fn jump_table(&mut self, index: Reg, targets: &[Label], default: Label) {
        self.emit_jump_table(index, targets, default)
    }

    fn mov(&mut self, size: Size, dst: Reg, src: Operand) {
        self.emit_mov(size, dst, src)
    }
    fn load(&mut self, kind: LoadKind, dst: Reg, addr: Address) {
        self.emit_load(kind, dst, addr)
    }
    fn store(&mut self, width: StoreWidth, addr: Address, src: Operand) {
        self.emit_store(width, addr, src)
    }
    fn lea(&mut self, dst: Reg, addr: Address) {
        self.emit_lea(dst, addr)
    }
    fn bounds_check(&mut self, addr: Reg, end: u64, oob: Label, aligned: bool) {
        self.emit_bounds_check(addr, end, oob, aligned)
    }
    fn store_check(&mut self, check: StoreCheck, aligned: bool) {
        self.emit_store_check(check, aligned)
    }
    fn begin_function(&mut self) {
        self.ops.begin_function()
    }
    fn end_function(&mut self) {
        self.ops.end_function()
    }
    fn emit_slow_paths(&mut self) {
        self.emit_store_slow_paths()
    }

    fn alu(&mut self, op: AluOp, size: Size, dst: Reg, lhs: Reg, rhs: Operand) {
        self.emit_alu(op, size, dst, lhs, rhs)
    }
    fn shift(&mut self, op: ShiftOp, size: Size, dst: Reg, lhs: Reg, rhs: Operand) {
        self.emit_shift(op, size, dst, lhs, rhs)
    }
    fn div(&mut self, op: DivOp, size: Size, dst: Reg, lhs: Reg, rhs: Reg) {
        self.emit_div(op, size, dst, lhs, rhs)
    }
    fn bit_count(&mut self, op: BitOp, size: Size, dst: Reg, src: Reg) {
        self.emit_bit_count(op, size, dst, src)
    }
    fn extend(&mut self, op: ExtendOp, dst: Reg, src: Reg) {
        self.emit_extend(op, dst, src)
    }
    fn cmp(&mut self, size: Size, lhs: Reg, rhs: Operand) {
        self.emit_cmp(size, lhs, rhs)
    }
    fn set_cond(&mut self, cond: Cond, dst: Reg) {
        self.emit_set_cond(cond, dst)
    }
    fn cmov(&mut self, cond: Cond, size: Size, dst: Reg, src: Reg) {
        self.emit_cmov(cond, size, dst, src)
    }

    fn float_allocatable(&self) -> &'static [FReg] {
        &regs::FLOAT_ALLOCATABLE
    }
    fn float_lendable(&self) -> usize {
        regs::FLOAT_LENDABLE
    }
    fn float_scratch(&self) -> [FReg; 2] {
        regs::FLOAT_SCRATCH
    }
    fn float_from_bits(&mut self, size: FloatSize, dst: FReg, src: Operand) {
        self.emit_float_from_bits(size, dst, src)
    }
    fn float_to_bits(&mut self, size: FloatSize, dst: Reg, src: FReg, _canonicalize: bool) {
        self.emit_float_to_bits(size, dst, src)
    }
    fn float_spill(&mut self, size: FloatSize, offset: i32, src: FReg, _canonicalize: bool) {
        self.emit_float_spill(size, offset, src)
    }
    fn float_move(&mut self, size: FloatSize, dst: FReg, src: FReg, _canonicalize: bool) {
        self.emit_float_move(size, dst, src)
    }
    fn fp_binop(&mut self, op: FloatBinOp, size: FloatSize, dst: FReg, lhs: FReg, rhs: FReg) {
        self.emit_fp_binop(op, size, dst, lhs, rhs)
    }
    fn fp_unop(&mut self, op: FloatUnOp, size: FloatSize, dst: FReg, src: FReg) {
        self.emit_fp_unop(op, size, dst, src)
    }
    fn fp_load(&mut self, size: FloatSize, dst: FReg, addr: Address) {
        self.emit_fp_load(size, dst, addr)
    }
    fn fp_store(&mut self, size: FloatSize, addr: Address, src: FReg, _canonicalize: bool) {
        self.emit_fp_store(size, addr, src)
    }
    fn fp_cmp(&mut self, op: FloatCmp, size: FloatSize, dst: Reg, lhs: FReg, rhs: FReg) {
        self.emit_fp_cmp(op, size, dst, lhs, rhs)
    }
    fn fp_cmp_flags(
        &mut self,
        op: FloatCmp,
        size: FloatSize,
        lhs: FReg,
        rhs: FReg,
    ) -> Option<Cond> {
        self.emit_fp_cmp_flags(op, size, lhs, rhs)
    }
    fn fp_resize(&mut self, to: FloatSize, dst: FReg, src: FReg) {
        self.emit_fp_resize(to, dst, src)
    }
    fn int_to_fp(&mut self, conv: IntFloat, dst: FReg, src: Reg) {
        self.emit_int_to_fp(conv, dst, src)
    }
    fn fp_to_int(&mut self, conv: IntFloat, dst: Reg, src: FReg, mode: TruncMode) {
        self.emit_fp_to_int(conv, dst, src, mode)
    }

    fn charge_gas(&mut self, amount: Operand, out_of_gas: Label) {
        self.emit_charge_gas(amount, out_of_gas)
    }
    fn charge_gas_scaled(&mut self, offset: u32, scale: u32, add: u32, out_of_gas: Label) {
        self.emit_charge_gas_scaled(offset, scale, add, out_of_gas)
    }
    fn flush_gas(&mut self) {
        self.emit_flush_gas()
    }
    fn reload_gas(&mut self) {
        self.emit_reload_gas()
    }
    fn stack_enter(&mut self, grant: Label) {
        self.emit_stack_enter(grant)
    }

    fn prologue(&mut self, saved_locals: u32) -> FramePatch {
        self.emit_prologue(saved_locals)
    }
    fn patch_frame(&mut self, patch: FramePatch, frame_bytes: u32) {
        self.emit_patch_frame(patch, frame_bytes)
    }
    fn epilogue(&mut self, saved_locals: u32) {
        self.emit_epilogue(saved_locals)
    }
    fn zero_frame(&mut self, offset: i32, count: u32) {
        self.emit_zero_frame(offset, count)
    }
    fn reserve_outgoing(&mut self, bytes: u32) {
        self.emit_reserve_outgoing(bytes)
    }
    fn release_outgoing(&mut self, bytes: u32) {
        self.emit_release_outgoing(bytes)
    }
    fn call(&mut self, label: Label) {
        self.emit_call(label)
    }
    fn call_indirect(&mut self, target: Reg) {
        self.emit_call_indirect(target)
    }
    fn call_libcall(&mut self, libcall: Libcall, args: &[LibcallArg]) -> Reg {
        self.emit_call_libcall(libcall, args)
    }
    fn trap_if_nonzero(&mut self, result: Reg, any_trap: Label) {
        self.emit_trap_if_nonzero(result, any_trap)
    }

    fn emit_trap_stub(&mut self, label: Label, kind: TrapKind) {
        self.emit_static_trap_stub(label, kind)
    }
    fn emit_dynamic_trap_stub(&mut self, label: Label) {
        self.emit_code_trap_stub(label)
    }
    fn emit_stack_grant_stub(&mut self, label: Label, overflow: Label) {
        self.emit_stack_grant_stub(label, overflow)
    }
    fn emit_dirty_range_stub(&mut self, label: Label, oob: Label, out_of_gas: Label) {
        self.emit_dirty_range_stub(label, oob, out_of_gas)
    }
    fn emit_entry_trampoline(&mut self) -> u32 {
        self.emit_trampoline()
    }
    fn new_part(code_bytes: usize) -> Self {
        A64Masm::with_capacity(code_bytes)
    }
    fn append(&mut self, part: Self, labels: &[(Label, Label)]) -> Result<(), String> {
        if !part.store_slow_paths.is_empty() {
            return Err("AArch64 code could not be linked: a part's slow paths are missing".into());
        }
        self.ops
            .append(part.ops, labels)
            .map_err(|e| format!("AArch64 code could not be linked: {e}"))
    }
    fn finish(self) -> Result<CodeBuffer, String> {
        self.ops
            .finalize()
            .map_err(|e| format!("AArch64 code could not be finished: {e}"))
    }
}
