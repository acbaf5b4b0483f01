//! The x86-64 backend: [`X64Masm`], a [`MacroAssembler`] on dynasmrt.
//!
//! The trait impl below only delegates; the work lives in one file per job:
//! - `regs`: which hardware register plays which role (pinned, scratch, allocatable).
//! - `control`: labels, branches and `br_table` jump tables.
//! - `alu`: moves, integer arithmetic, comparisons and condition materialisation.
//! - `memory`: addressing modes, loads/stores, bounds checks, frame zeroing.
//! - `calls`: prologue/epilogue, wasm calls, libcalls, gas and the deterministic stack.
//! - `counted`: a counted loop's entry computation and its stores' widen routine.
//! - `traps`: trap stubs and the entry trampoline they unwind to.
//!
//! Code is assembled into a [`CodeAssembler`](crate::isa::CodeAssembler) at base address 0: every reference is
//! rip-relative or goes through the vmctx, so the bytes are position-independent.

use dynasmrt::x64::X64Relocation;
use dynasmrt::{DynamicLabel, DynasmApi};

use late::LateTarget;

use crate::code_buffer::CodeBuffer;
use crate::isa::CodeAssembler;
use crate::masm::Address;
use crate::masm::{
    AluOp, BitOp, Cond, CountedState, DivOp, ExtendOp, FReg, FloatBinOp, FloatCmp, FloatSize,
    FloatUnOp, FramePatch, IntFloat, Label, LibcallArg, LoadKind, MacroAssembler, Operand,
    Reciprocal, Reg, ShiftOp, Size, StoreCheck, StoreWidth, TruncMode,
};
use crate::vmctx::Libcall;
use crate::TrapKind;

/// `dynasm!` for this backend: always x64. dynasm converts dynamic register numbers with
/// `.into()`, which clippy calls useless when they are already `u8`.
macro_rules! asm {
    ($ops:expr; $($t:tt)*) => {{
        #[allow(clippy::useless_conversion)]
        {
            dynasmrt::dynasm!($ops ; .arch x64 ; $($t)*)
        }
    }};
}

mod alu;
mod calls;
mod compact;
mod constants;
mod control;
mod counted;
mod float;
mod late;
mod memory;
mod placement;
mod regs;
mod traps;

#[cfg(test)]
mod float_tests;
#[cfg(test)]
mod placement_tests;
#[cfg(test)]
mod tests;

/// The x86-64 macro assembler. See the module docs and `regs` for the register roles.
pub(crate) struct X64Masm {
    ops: CodeAssembler<X64Relocation>,
    /// The entry trampoline's common exit (restore the host stack and registers, return
    /// `eax`). Trap stubs jump here; it is bound by `emit_entry_trampoline`.
    exit: DynamicLabel,
    /// The `jb out_of_gas` of `charge_gas` (see `calls::emit_gas_branch`) and the
    /// `call widen` of store checks' slow paths, patched by `finish` (see `late`).
    gas_sites: LateTarget,
    widen_sites: LateTarget,
    /// Slow paths of this function's store checks, emitted after its code.
    store_slow_paths: Vec<StoreSlowPath>,
    /// Start and end of the last `cmp`/`test` emitted by `emit_cmp` (see `placement`).
    last_compare: Option<(usize, usize)>,
    /// This function's float constants, emitted after its code (see `constants`).
    constants: constants::ConstantPool,
    /// The last `movss`/`movsd` load from linear memory, while nothing came after it
    /// (see `emit_fp_binop`'s folding).
    last_fp_load: Option<FpLoad>,
    /// The last full-width integer load from linear memory, while nothing came after it
    /// (see `emit_alu_folding_load`).
    last_int_load: Option<IntLoad>,
    /// The last float load followed by nothing but a bounds check, and where that check
    /// ends: a float load starting there keeps it as its `prev` (see `emit_fp_load`).
    load_then_check: Option<(FpLoad, usize)>,
    /// The address arithmetic of the check whose compare comes next, which may take that
    /// compare's padding as prefixes (see `placement`).
    prefix_room: Option<placement::PrefixRoom>,
    /// The `movss`/`movsd` of the last float store to linear memory: its start and end.
    last_fp_store: Option<(usize, usize)>,
    /// The integer instructions (loads, stores, shifts, ALU operations) emitted back to
    /// back just now, which may take the next compare's padding as prefixes when they
    /// end where it starts (see `placement::PlainRun`).
    plain_run: placement::PlainRun,
    /// Loops open at this point of the function: `placement` pads pairs only inside one.
    loop_depth: u32,
    /// Store runs opened so far (`store_run_check`): the current one's number.
    runs: u32,
}

/// A float load just emitted: `code[start..end]` loads `addr` into xmm`dst`, its
/// `movss`/`movsd` itself at `code[op_at..end]` (after any address arithmetic).
#[derive(Copy, Clone, Debug)]
struct FpLoad {
    start: usize,
    op_at: usize,
    end: usize,
    size: FloatSize,
    dst: u8,
    addr: Address,
    /// The float load emitted just before this one with nothing between them but
    /// integer code that reads and writes no float register (a bounds check): its
    /// `movss`/`movsd` at `.0` into xmm`.1`, which can still be retargeted in place.
    prev: Option<(usize, u8)>,
}

/// A full-width integer load just emitted: `code[start..end]` loads `addr` into `dst`
/// (its address arithmetic included), 64 bits wide if `wide`.
#[derive(Copy, Clone, Debug)]
struct IntLoad {
    start: usize,
    end: usize,
    wide: bool,
    dst: u8,
    addr: Address,
}

/// A `store_check` whose slow path waits to be emitted out of line after the function:
/// offsets into the code, not dynasm labels (see `emit_store_check`).
#[derive(Copy, Clone, Debug)]
struct StoreSlowPath {
    /// The rel32 field of the fast path's `ja slow`.
    ja_field: u32,
    /// Where the slow path jumps back to (just after that `ja`).
    back: u32,
    check: StoreCheck,
    /// Its part in a store run (`codegen/store_run.rs`).
    role: RunRole,
    /// The store run it belongs to (counted per masm, see `X64Masm::runs`).
    run: u32,
}

/// What a slow path does for a store run (see `codegen/store_run.rs`).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum RunRole {
    /// A check outside any run.
    Plain,
    /// A run's first check: after the stub, sets the flag unless `[addr, addr + span)` is
    /// inside the current range (`sets`: the run has a check behind the flag).
    First { span: u64, sets: bool },
    /// A store check behind the flag: its fast compare runs here first.
    Flagged { aligned: bool, clears: bool },
    /// A load's length check of `addr + end` behind the flag, trapping to `oob`.
    FlaggedLoad {
        oob: Label,
        aligned: bool,
        clears: bool,
    },
}

impl X64Masm {
    #[cfg_attr(not(test), allow(dead_code))]
    pub(crate) fn new() -> X64Masm {
        Self::with_capacity(0)
    }

    /// A masm whose code buffer starts with room for `code_bytes`: growing a buffer of
    /// megabytes by doubling costs copies and page faults that show in compile time.
    pub(crate) fn with_capacity(code_bytes: usize) -> X64Masm {
        let mut ops = CodeAssembler::with_capacity(code_bytes);
        let exit = ops.new_dynamic_label();
        X64Masm {
            ops,
            exit,
            gas_sites: LateTarget::default(),
            widen_sites: LateTarget::default(),
            store_slow_paths: Vec::new(),
            last_compare: None,
            constants: constants::ConstantPool::default(),
            last_fp_load: None,
            last_int_load: None,
            load_then_check: None,
            prefix_room: None,
            last_fp_store: None,
            runs: 0,
            plain_run: placement::PlainRun::default(),
            loop_depth: 0,
        }
    }
}

impl MacroAssembler for X64Masm {
    fn allocatable(&self) -> &'static [Reg] {
        &regs::ALLOCATABLE
    }
    fn local_regs(&self) -> &'static [Reg] {
        &regs::LOCAL_REGS
    }
    fn lendable(&self) -> usize {
        regs::LENDABLE
    }
    fn lendable_regs(&self) -> &'static [Reg] {
        &regs::LENDABLE_REGS
    }
    fn incoming_area_offset(&self) -> i32 {
        regs::INCOMING_AREA_OFFSET
    }
    fn return_register(&self) -> Option<Reg> {
        Some(regs::RETURN)
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

    // Inline for a register source (one store of three bytes, `emit_mov`'s first arms,
    // the same bytes); the other sources through the out-of-line `emit_mov`.
    #[inline(always)]
    fn mov(&mut self, size: Size, dst: Reg, src: Operand) {
        match src {
            Operand::Reg(r) => self.mov_reg(size, dst.0, r.0),
            _ => self.emit_mov(size, dst, src),
        }
    }
    fn load(&mut self, kind: LoadKind, dst: Reg, addr: Address) {
        let start = self.ops.offset().0;
        self.emit_load(kind, dst, addr);
        // Integer code (no label, reference or recorded offset): a compare after it may
        // pad with prefixes on it (`placement::PlainRun`).
        self.plain(start);
        let wide = match kind {
            LoadKind::I32 => Some(false),
            LoadKind::I64 => Some(true),
            _ => None,
        };
        self.last_int_load = wide.map(|wide| IntLoad {
            start,
            end: self.ops.offset().0,
            wide,
            dst: dst.0,
            addr,
        });
    }
    fn caches_addresses(&self) -> bool {
        true
    }
    fn alu_folding_load(&mut self, op: AluOp, size: Size, acc: Reg, loaded: Reg) -> bool {
        self.emit_alu_folding_load(op, size, acc, loaded)
    }
    #[inline(always)]
    fn store(&mut self, width: StoreWidth, addr: Address, src: Operand) {
        let start = self.ops.offset().0;
        if !self.store_short(width, addr, src) {
            self.emit_store(width, addr, src);
        }
        // As for `load`.
        self.plain(start);
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
    fn store_runs(&self) -> bool {
        true
    }
    fn store_run_check(&mut self, check: StoreCheck, span: u64, aligned: bool) {
        self.runs += 1;
        self.emit_store_run_check(check, span, aligned)
    }
    fn flagged_store_check(&mut self, check: StoreCheck, aligned: bool) {
        let role = RunRole::Flagged {
            aligned,
            clears: false,
        };
        self.emit_flagged_check(check, role)
    }
    fn flagged_bounds_check(&mut self, addr: Reg, end: u64, oob: Label, aligned: bool) {
        let role = RunRole::FlaggedLoad {
            oob,
            aligned,
            clears: false,
        };
        // The widen label is unused by a load's check: any label will do.
        let check = StoreCheck {
            addr,
            from: 0,
            end,
            loads: None,
            widen: oob,
        };
        self.emit_flagged_check(check, role)
    }
    fn align_function(&mut self) {
        self.emit_function_alignment()
    }
    fn align_loop(&mut self, pair_first: bool) {
        self.emit_loop_alignment(pair_first)
    }
    fn end_loop(&mut self) {
        self.emit_loop_end()
    }
    fn begin_function(&mut self) {
        self.ops.begin_function()
    }
    fn end_function(&mut self) {
        self.ops.end_function()
    }
    fn emit_slow_paths(&mut self) {
        self.emit_store_slow_paths();
        self.emit_constant_pool()
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
    fn rem_u32_by_reciprocal(&mut self, dst: Reg, lhs: Reg, r: Reciprocal) -> bool {
        self.emit_rem_u32_by_reciprocal(dst, lhs, r);
        true
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
    fn float_to_bits(&mut self, size: FloatSize, dst: Reg, src: FReg, canonicalize: bool) {
        self.emit_float_to_bits(size, dst.0, src, canonicalize)
    }
    fn float_to_bits_clobbering_flags(
        &mut self,
        size: FloatSize,
        dst: Reg,
        src: FReg,
        canonicalize: bool,
    ) {
        self.emit_float_to_bits_with_compare(size, dst.0, src, canonicalize)
    }
    fn float_spill(&mut self, size: FloatSize, offset: i32, src: FReg, canonicalize: bool) {
        self.emit_float_to_bits(size, regs::RAX, src, canonicalize);
        asm!(self.ops; mov QWORD [rbp + offset], rax);
    }
    fn float_move(&mut self, size: FloatSize, dst: FReg, src: FReg, canonicalize: bool) {
        self.emit_float_move(size, dst, src, canonicalize)
    }
    fn float_move_clobbering_flags(
        &mut self,
        size: FloatSize,
        dst: FReg,
        src: FReg,
        canonicalize: bool,
    ) {
        self.emit_float_move_with_compare(size, dst, src, canonicalize)
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
    fn fp_store(&mut self, size: FloatSize, addr: Address, src: FReg, canonicalize: bool) {
        if canonicalize {
            self.canonicalize_in_place(size, src);
        }
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
    fn counted_loop_gas(&self) -> Option<Reg> {
        Some(Reg(regs::GAS))
    }
    fn counted_rebase(&mut self, state: &CountedState) {
        self.emit_counted_rebase(state)
    }
    fn emit_counted_widen(&mut self, label: Label, state: &CountedState, widen: Label) {
        self.emit_counted_widen_routine(label, state, widen)
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
        X64Masm::with_capacity(code_bytes)
    }
    fn append(&mut self, part: Self, labels: &[(Label, Label)]) -> Result<(), String> {
        if !part.store_slow_paths.is_empty() || !part.constants.is_empty() {
            return Err("x86-64 code could not be linked: a part's slow paths are missing".into());
        }
        let base = self.offset();
        let ours = |theirs: Label| labels.iter().find(|p| p.0 == theirs).map(|p| p.1);
        self.gas_sites.append(&part.gas_sites, base, ours)?;
        self.widen_sites.append(&part.widen_sites, base, ours)?;
        self.ops
            .append(part.ops, labels)
            .map_err(|e| format!("x86-64 code could not be linked: {e}"))
    }
    fn finish(self) -> Result<CodeBuffer, String> {
        let failed = |e: dynasmrt::DynasmError| format!("x86-64 code could not be finished: {e}");
        if !self.constants.is_empty() {
            return Err("x86-64 code could not be finished: a constant pool is missing".into());
        }
        let gas_target = self.gas_sites.resolve(&self.ops)?;
        let widen_target = self.widen_sites.resolve(&self.ops)?;
        let mut code = self.ops.finalize().map_err(failed)?;
        self.gas_sites.patch(gas_target, &mut code)?;
        self.widen_sites.patch(widen_target, &mut code)?;
        Ok(code)
    }
}
