//! Addressing modes, loads, stores, bounds checks and frame zeroing.
//!
//! An [`Address`] becomes `[base + index << scale + disp32]`. Linear-memory accesses use
//! r14 as the base and the zero-extended i32 wasm address as the index; a wasm offset
//! (up to `u32::MAX`) that does not fit a signed disp32 is added into r11 first.

use dynasmrt::{DynasmApi, DynasmLabelApi};

use super::compact::{RegMem, RegOp, StoreSrc, MOV_EAX_ECX, MOV_RM_R};
use super::placement::PrefixRoom;
use super::regs::{fits_i32, MEMORY, R11, RAX, RBP, RCX, RSP, VMCTX};
use super::{RunRole, StoreSlowPath, X64Masm};
use crate::masm::{
    Address, Base, FReg, FloatSize, Label, LoadKind, Operand, Reg, StoreCheck, StoreWidth,
};
use crate::vmctx::{VmCtx, DIRTY_GRANULE};
use crate::written::{WRITTEN_FAR, WRITTEN_SPILLS};

/// An address x86 encodes directly: `[base + index << scale + disp]`.
#[derive(Copy, Clone, Debug)]
struct Mem {
    base: u8,
    index: Option<(u8, u8)>,
    disp: i32,
}

/// Emit one instruction with a memory operand built from `$m`:
/// `at_mem!(ops, m, (prefix tokens) (suffix tokens))` expands to
/// `prefix [memory operand] suffix` for each index scale (dynasm needs a literal scale).
macro_rules! at_mem {
    ($ops:expr, $m:expr, ($($pre:tt)*) ($($post:tt)*)) => {{
        let m: Mem = $m;
        let (b, disp) = (m.base, m.disp);
        match m.index {
            None => asm!($ops; $($pre)* [Rq(b) + disp] $($post)*),
            Some((i, 0)) => asm!($ops; $($pre)* [Rq(b) + Rq(i) * 1 + disp] $($post)*),
            Some((i, 1)) => asm!($ops; $($pre)* [Rq(b) + Rq(i) * 2 + disp] $($post)*),
            Some((i, 2)) => asm!($ops; $($pre)* [Rq(b) + Rq(i) * 4 + disp] $($post)*),
            Some((i, _)) => asm!($ops; $($pre)* [Rq(b) + Rq(i) * 8 + disp] $($post)*),
        }
    }};
}

/// The register an address's base names.
#[inline(always)]
fn base_reg(base: Base) -> u8 {
    match base {
        Base::Vmctx => VMCTX,
        Base::Frame => RBP,
        Base::Sp => RSP,
        Base::Memory => MEMORY,
        Base::Reg(r) => r.0,
    }
}

/// A store's operand when it is a register or an immediate its encoding holds (a
/// sign-extended imm32 for 64 bits); None for a frame slot or a wider immediate, which
/// go through rcx.
#[inline(always)]
fn store_src(width: StoreWidth, src: Operand) -> Option<StoreSrc> {
    match src {
        Operand::Reg(r) => Some(StoreSrc::Reg(r.0)),
        Operand::Imm(i) if width != StoreWidth::B64 || fits_i32(i) => Some(StoreSrc::Imm(i as i32)),
        Operand::Imm(_) | Operand::Frame(_) => None,
    }
}

/// How many bytes a store of `width` writes.
#[inline(always)]
fn width_bytes(width: StoreWidth) -> u8 {
    match width {
        StoreWidth::B8 => 1,
        StoreWidth::B16 => 2,
        StoreWidth::B32 => 4,
        StoreWidth::B64 => 8,
    }
}

impl X64Masm {
    /// Lower `addr`, using r11 when the displacement needs more than 32 bits.
    ///
    /// Inlined into every load, store and `lea` (about 2.5 million calls when compiling
    /// the corpus, 35 instructions each out of line, the `Address` going through
    /// memory); the rare long displacement is [`Self::resolve_far`], out of line.
    #[inline(always)]
    fn resolve(&mut self, addr: Address) -> Mem {
        let base = base_reg(addr.base);
        debug_assert!(addr.index.is_none_or(|(_, scale)| scale <= 3));
        let index = addr.index.map(|(r, scale)| (r.0, scale));
        match i32::try_from(addr.disp) {
            Ok(disp) => Mem { base, index, disp },
            Err(_) => self.resolve_far(base, index, addr.disp),
        }
    }

    /// [`Self::resolve`] of a displacement beyond 32 bits: `r11 = base + disp`.
    #[cold]
    #[inline(never)]
    fn resolve_far(&mut self, base: u8, index: Option<(u8, u8)>, disp: i64) -> Mem {
        asm!(self.ops
            ; mov r11, QWORD disp
            ; add r11, Rq(base)
        );
        Mem {
            base: R11,
            index,
            disp: 0,
        }
    }

    /// An integer load: the 8-bit-displacement form for plain loads without an index
    /// (frame slots, vmctx fields), else [`Self::load_mem32`] (dynasm's bytes).
    pub(super) fn emit_load(&mut self, kind: LoadKind, dst: Reg, addr: Address) {
        let d = dst.0;
        let m = self.resolve(addr);
        let plain = match kind {
            LoadKind::I32 | LoadKind::I64From32U => Some(false),
            LoadKind::I64 => Some(true),
            _ => None,
        };
        if let (Some(wide), None) = (plain, m.index) {
            if self.try_reg_mem8(RegMem::Load, wide, d, m.base, m.disp) {
                return;
            }
        }
        self.load_mem32(kind, d, m.base, m.index, m.disp);
    }

    /// dynasm's own bytes for the loads [`Self::load_mem32`] writes (what it must
    /// reproduce).
    #[cfg(test)]
    pub(super) fn dynasm_load(
        &mut self,
        kind: LoadKind,
        d: u8,
        base: u8,
        index: Option<(u8, u8)>,
        disp: i32,
    ) {
        let m = Mem { base, index, disp };
        match kind {
            LoadKind::I32 | LoadKind::I64From32U => at_mem!(self.ops, m, (mov Rd(d), DWORD) ()),
            LoadKind::I64 => at_mem!(self.ops, m, (mov Rq(d), QWORD) ()),
            LoadKind::I32From8S => at_mem!(self.ops, m, (movsx Rd(d), BYTE) ()),
            LoadKind::I32From8U | LoadKind::I64From8U => {
                at_mem!(self.ops, m, (movzx Rd(d), BYTE) ())
            }
            LoadKind::I32From16S => at_mem!(self.ops, m, (movsx Rd(d), WORD) ()),
            LoadKind::I32From16U | LoadKind::I64From16U => {
                at_mem!(self.ops, m, (movzx Rd(d), WORD) ())
            }
            LoadKind::I64From8S => at_mem!(self.ops, m, (movsx Rq(d), BYTE) ()),
            LoadKind::I64From16S => at_mem!(self.ops, m, (movsx Rq(d), WORD) ()),
            LoadKind::I64From32S => at_mem!(self.ops, m, (movsxd Rq(d), DWORD) ()),
        }
    }

    /// `movss`/`movsd` from memory: no integer register on the way.
    pub(super) fn emit_fp_load(&mut self, size: FloatSize, dst: FReg, addr: Address) {
        let d = dst.0;
        let start = self.ops.offset().0;
        // The previous float load, when only a bounds check came after it (or nothing).
        let prev = match (self.load_then_check.take(), self.last_fp_load) {
            (Some((load, check_end)), _) if check_end == start => Some(load),
            (_, Some(load)) if load.end == start => Some(load),
            _ => None,
        };
        let m = self.resolve(addr);
        let op_at = self.ops.offset().0;
        match size {
            FloatSize::F32 => at_mem!(self.ops, m, (movss Rx(d), DWORD) ()),
            FloatSize::F64 => at_mem!(self.ops, m, (movsd Rx(d), QWORD) ()),
        }
        self.last_fp_load = Some(super::FpLoad {
            start,
            op_at,
            end: self.ops.offset().0,
            size,
            dst: d,
            addr,
            prev: prev.map(|p| (p.op_at, p.dst)),
        });
    }

    /// Makes the `movss`/`movsd` load at `op_at` (see `FpLoad::prev`) write xmm`dst`
    /// instead, in place and at the same length: its REX prefix's R bit and its ModRM
    /// byte's reg field. False, with nothing changed, when the bytes are not that
    /// load with a REX prefix (a linear-memory access always has one, for r14).
    pub(super) fn retarget_fp_load(&mut self, op_at: usize, dst: u8) -> bool {
        let Some(&[prefix, rex, 0x0f, 0x10, modrm]) = self.ops.code_at(op_at, 5) else {
            return false;
        };
        if !matches!(prefix, 0xf2 | 0xf3) || rex & 0xf0 != 0x40 || dst > 15 {
            return false;
        }
        let rex = (rex & !0x04) | ((dst >> 3) << 2);
        let modrm = (modrm & !0x38) | ((dst & 7) << 3);
        self.ops.patch(op_at + 1, &[rex]);
        self.ops.patch(op_at + 4, &[modrm]);
        true
    }

    /// The float load into xmm`reg` if it is the last thing emitted, removed from the
    /// code (its bounds check stays): the caller emits its access again, folded into
    /// what uses it.
    pub(super) fn take_last_fp_load(&mut self, reg: u8) -> Option<super::FpLoad> {
        let end = self.ops.offset().0;
        let load = self
            .last_fp_load
            .filter(|load| load.dst == reg && load.end == end)?;
        self.last_fp_load = None;
        self.ops.truncate_tail(load.start);
        Some(load)
    }

    /// `acc = acc op [addr]` (`addsd xmm, m64`, …): a float operator with its right
    /// operand read from linear memory (already checked), as a load into a register
    /// would have read it. Not min/max.
    pub(super) fn emit_fp_binop_mem(
        &mut self,
        op: crate::masm::FloatBinOp,
        size: FloatSize,
        acc: u8,
        addr: Address,
    ) {
        use crate::masm::FloatBinOp::{Add, Div, Max, Min, Mul, Sub};
        let m = self.resolve(addr);
        match (op, size) {
            (Add, FloatSize::F32) => at_mem!(self.ops, m, (addss Rx(acc), DWORD) ()),
            (Add, FloatSize::F64) => at_mem!(self.ops, m, (addsd Rx(acc), QWORD) ()),
            (Sub, FloatSize::F32) => at_mem!(self.ops, m, (subss Rx(acc), DWORD) ()),
            (Sub, FloatSize::F64) => at_mem!(self.ops, m, (subsd Rx(acc), QWORD) ()),
            (Mul, FloatSize::F32) => at_mem!(self.ops, m, (mulss Rx(acc), DWORD) ()),
            (Mul, FloatSize::F64) => at_mem!(self.ops, m, (mulsd Rx(acc), QWORD) ()),
            (Div, FloatSize::F32) => at_mem!(self.ops, m, (divss Rx(acc), DWORD) ()),
            (Div, FloatSize::F64) => at_mem!(self.ops, m, (divsd Rx(acc), QWORD) ()),
            (Min | Max, _) => unreachable!("min/max take registers"),
        }
    }

    /// See `MacroAssembler::alu_folding_load`: the integer load into `loaded`, when it
    /// is the last thing emitted (nothing after it, no label bound since) and as wide as
    /// the operation, is taken back and its access emitted again as the operation's
    /// source (`xor rax, [r14 + r8 + 0x28]`). Its bounds check, before it, stays; the
    /// address registers it reads were not written since (nothing was emitted).
    pub(super) fn emit_alu_folding_load(
        &mut self,
        op: crate::masm::AluOp,
        size: crate::masm::Size,
        acc: Reg,
        loaded: Reg,
    ) -> bool {
        use crate::masm::AluOp::{Add, And, Mul, Or, Sub, Xor};
        let end = self.ops.offset().0;
        let wide = size == crate::masm::Size::S64;
        let Some(load) = self
            .last_int_load
            .filter(|load| load.dst == loaded.0 && load.end == end && load.wide == wide)
        else {
            return false;
        };
        if op == Mul {
            return false;
        }
        self.last_int_load = None;
        self.ops.truncate_tail(load.start);
        // The run of integer code ended with the load, which is gone.
        self.plain_run = super::placement::PlainRun::default();
        let m = self.resolve(load.addr);
        let a = acc.0;
        match (op, wide) {
            (Add, false) => at_mem!(self.ops, m, (add Rd(a), DWORD) ()),
            (Add, true) => at_mem!(self.ops, m, (add Rq(a), QWORD) ()),
            (Sub, false) => at_mem!(self.ops, m, (sub Rd(a), DWORD) ()),
            (Sub, true) => at_mem!(self.ops, m, (sub Rq(a), QWORD) ()),
            (And, false) => at_mem!(self.ops, m, (and Rd(a), DWORD) ()),
            (And, true) => at_mem!(self.ops, m, (and Rq(a), QWORD) ()),
            (Or, false) => at_mem!(self.ops, m, (or Rd(a), DWORD) ()),
            (Or, true) => at_mem!(self.ops, m, (or Rq(a), QWORD) ()),
            (Xor, false) => at_mem!(self.ops, m, (xor Rd(a), DWORD) ()),
            (Xor, true) => at_mem!(self.ops, m, (xor Rq(a), QWORD) ()),
            (Mul, _) => unreachable!("refused above"),
        }
        self.plain(load.start);
        true
    }

    /// `movss`/`movsd` store: the float's bits as they are in `src`.
    pub(super) fn emit_fp_store(&mut self, size: FloatSize, addr: Address, src: FReg) {
        let s = src.0;
        let m = self.resolve(addr);
        let op_at = self.ops.offset().0;
        match size {
            FloatSize::F32 => at_mem!(self.ops, m, (movss DWORD) (, Rx(s))),
            FloatSize::F64 => at_mem!(self.ops, m, (movsd QWORD) (, Rx(s))),
        }
        self.last_fp_store = Some((op_at, self.ops.offset().0));
    }

    /// The common stores, inlined where `store` is called: no index, a base register
    /// and a displacement that fit the short forms (spills, outgoing-call arguments,
    /// saved lent registers, locals: ≈ 1.3 M of the corpus's ≈ 1.75 M stores), the same
    /// bytes as [`Self::emit_store`] writes for them:
    /// - a register, 32 or 64 bits, at an 8-bit displacement: `mov [base + disp8], r`;
    /// - a frame slot, 32 or 64 bits, both displacements 8-bit: `mov rcx, [rbp + disp8]`
    ///   then the register store from rcx;
    /// - an immediate (a sign-extended imm32 for 64 bits), a 32-bit displacement:
    ///   dynasm's `mov [base + disp32], imm` ([`Self::store_mem32`]);
    /// - with an index (linear memory), a register or such an immediate, a 32-bit
    ///   displacement: dynasm's `mov [base + index << scale + disp32], src`.
    ///
    /// False, emitting nothing, for anything else. At the call sites the width, the base
    /// and often the operand's kind are constants.
    #[inline(always)]
    pub(super) fn store_short(&mut self, width: StoreWidth, addr: Address, src: Operand) -> bool {
        let base = base_reg(addr.base);
        let wide = width == StoreWidth::B64;
        if let Some((index, scale)) = addr.index {
            let (Ok(disp), Some(src)) = (i32::try_from(addr.disp), store_src(width, src)) else {
                return false;
            };
            self.store_mem32(width_bytes(width), base, Some((index.0, scale)), disp, src);
            return true;
        }
        let word = matches!(width, StoreWidth::B32 | StoreWidth::B64);
        match (src, i8::try_from(addr.disp)) {
            (Operand::Reg(r), Ok(disp)) if word => {
                self.reg_mem8(RegMem::Store, wide, r.0, base, disp);
            }
            (Operand::Frame(slot), Ok(disp)) if word => {
                let Ok(slot) = i8::try_from(slot) else {
                    return false;
                };
                self.reg_mem8(RegMem::Load, true, super::regs::RCX, RBP, slot);
                self.reg_mem8(RegMem::Store, wide, super::regs::RCX, base, disp);
            }
            (Operand::Imm(i), _) if !wide || fits_i32(i) => {
                let Ok(disp) = i32::try_from(addr.disp) else {
                    return false;
                };
                self.store_mem32(
                    width_bytes(width),
                    base,
                    None,
                    disp,
                    StoreSrc::Imm(i as i32),
                );
            }
            _ => return false,
        }
        true
    }

    /// Any store (see [`Self::store_short`] for the common one). Out of line: it is large
    /// (every width, immediates, an index), and where LLVM inlined it into `store` every
    /// store paid for its register saves (corpus +5 M Ir).
    #[inline(never)]
    pub(super) fn emit_store(&mut self, width: StoreWidth, addr: Address, src: Operand) {
        // The value goes through rcx when it is not directly encodable; the address may
        // use r11, so the two never collide.
        let value = match src {
            Operand::Reg(r) => Ok(r.0),
            Operand::Frame(o) => {
                if !self.try_reg_mem8(RegMem::Load, true, super::regs::RCX, RBP, o) {
                    asm!(self.ops; mov rcx, QWORD [rbp + o]);
                }
                Ok(super::regs::RCX)
            }
            Operand::Imm(i) if width == StoreWidth::B64 && !fits_i32(i) => {
                asm!(self.ops; mov rcx, QWORD i);
                Ok(super::regs::RCX)
            }
            Operand::Imm(i) => Err(i),
        };
        let m = self.resolve(addr);
        if let (StoreWidth::B32 | StoreWidth::B64, Ok(r), None) = (width, value, m.index) {
            let wide = width == StoreWidth::B64;
            if self.try_reg_mem8(RegMem::Store, wide, r, m.base, m.disp) {
                return;
            }
        }
        // For B64 an immediate fits a sign-extended imm32 (checked above); narrower ones
        // keep their low bits.
        let src = match value {
            Ok(r) => StoreSrc::Reg(r),
            Err(i) => StoreSrc::Imm(i as i32),
        };
        self.store_mem32(width_bytes(width), m.base, m.index, m.disp, src);
    }

    /// dynasm's own bytes for the stores [`Self::store_mem32`] writes (what it must
    /// reproduce): `value` a register or an immediate of the store's width.
    #[cfg(test)]
    pub(super) fn dynasm_store(
        &mut self,
        width: StoreWidth,
        base: u8,
        index: Option<(u8, u8)>,
        disp: i32,
        value: Result<u8, i64>,
    ) {
        let m = Mem { base, index, disp };
        match (width, value) {
            (StoreWidth::B8, Ok(r)) => at_mem!(self.ops, m, (mov BYTE) (, Rb(r))),
            (StoreWidth::B16, Ok(r)) => at_mem!(self.ops, m, (mov WORD) (, Rw(r))),
            (StoreWidth::B32, Ok(r)) => at_mem!(self.ops, m, (mov DWORD) (, Rd(r))),
            (StoreWidth::B64, Ok(r)) => at_mem!(self.ops, m, (mov QWORD) (, Rq(r))),
            (StoreWidth::B8, Err(i)) => {
                let i = i as i8;
                at_mem!(self.ops, m, (mov BYTE) (, BYTE i))
            }
            (StoreWidth::B16, Err(i)) => {
                let i = i as i16;
                at_mem!(self.ops, m, (mov WORD) (, WORD i))
            }
            (StoreWidth::B32 | StoreWidth::B64, Err(i)) => {
                // For B64 the value fits a sign-extended imm32 (checked above).
                let i = i as i32;
                if width == StoreWidth::B32 {
                    at_mem!(self.ops, m, (mov DWORD) (, DWORD i))
                } else {
                    at_mem!(self.ops, m, (mov QWORD) (, DWORD i))
                }
            }
        }
    }

    pub(super) fn emit_lea(&mut self, dst: Reg, addr: Address) {
        let d = dst.0;
        let m = self.resolve(addr);
        at_mem!(self.ops, m, (lea Rq(d),) ())
    }

    /// `rax = zext(addr) + end` cannot overflow 64 bits (`end <= 2^32 + 8`), so one
    /// unsigned compare against the current memory length decides. An i32 lives
    /// zero-extended in its register (the access itself indexes with all 64 bits), so
    /// when `end` fits a displacement one `lea` computes the sum. `aligned` (see
    /// `MacroAssembler::bounds_check`): `addr < memory_len` is the same test, one
    /// compare of the address itself.
    pub(super) fn emit_bounds_check(&mut self, addr: Reg, end: u64, oob: Label, aligned: bool) {
        let checked_from = self.ops.offset().0;
        if !aligned {
            match i32::try_from(end) {
                // `lea rax, [Rq(addr) + e]`, encoded by hand (`compact`).
                Ok(e) => self.lea_mem32(RAX, addr.0, e),
                Err(_) => {
                    asm!(self.ops; mov eax, Rd(addr.0));
                    self.add_end(end);
                }
            }
        }
        let start = self.ops.offset().0;
        // The address arithmetic (none when aligned) and the float store just before
        // (nbody's velocity updates), if any, take prefixes: no label reference in them,
        // and a branch to the store lands on its prefixes. Only pairs inside loops are
        // padded.
        if self.loop_depth > 0 {
            let store = self
                .last_fp_store
                .filter(|&(_, end)| end == checked_from)
                .map(|(store, _)| store);
            self.prefix_room = match (store, aligned) {
                (Some(store), false) => Some(PrefixRoom::new(&[store, checked_from], start)),
                (None, false) => Some(PrefixRoom::new(&[checked_from], start)),
                (Some(store), true) => Some(PrefixRoom::new(&[store], start)),
                // An aligned check's compare comes first: nothing before it takes prefixes.
                (None, true) => None,
            };
        }
        // `cmp Rq(addr), QWORD [r15 + len]` (`rax` when not aligned).
        let len = VmCtx::MEMORY_LEN as i32;
        if aligned {
            self.vmctx_op32(RegMem::Cmp, true, addr.0, len);
            self.place_pair(start);
            asm!(self.ops; jae =>oob);
        } else {
            self.vmctx_op32(RegMem::Cmp, true, RAX, len);
            self.place_pair(start);
            asm!(self.ops; ja =>oob);
        }
        // Integer code only (rax and the flags): a float load just before it can still be
        // retargeted by an operator using it with the load after the check.
        self.load_then_check = self
            .last_fp_load
            .filter(|load| load.end == checked_from)
            .map(|load| (load, self.ops.offset().0));
    }

    /// See `MacroAssembler::store_check`: one compare of `(addr - start) mod 2^32 + end`
    /// against the range's length (see `WrittenRanges::len`), and a branch not
    /// taken on the fast path. `aligned` (see `MacroAssembler::store_check`): the same
    /// test is `(addr - start) mod 2^32 < len`, without adding the end.
    pub(super) fn emit_store_check(&mut self, check: StoreCheck, aligned: bool) {
        self.emit_checked_store(check, check.fast_end(), aligned, RunRole::Plain)
    }

    /// A store run's first check (see `MacroAssembler::store_run_check`): the fast path
    /// compares the run's span.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn emit_store_run_check(&mut self, check: StoreCheck, span: u64, aligned: bool) {
        // Whether the run has a check behind the flag is known when the slow paths are
        // emitted (`emit_store_slow_paths`).
        let role = RunRole::First { span, sets: false };
        self.emit_checked_store(check, span, aligned, role)
    }

    /// A check behind the open store run's flag (`MacroAssembler::flagged_store_check`,
    /// `flagged_bounds_check`): `cmp dword [flag], 0; jne slow`, the check itself out of
    /// line. Integer code only, like a bounds check: a float load before it can still be
    /// retargeted (see `load_then_check`).
    pub(super) fn emit_flagged_check(&mut self, check: StoreCheck, role: RunRole) {
        let checked_from = self.ops.offset().0;
        // Nothing before the compare takes its padding but a plain run (`placement`).
        self.prefix_room = None;
        // `cmp dword [r15 + disp8], 0` (dynasm would take a disp32 and an imm32: 11 bytes).
        const FLAG: u8 = VmCtx::STORE_RUN_UNPROVEN as u8;
        const _: () = assert!(VmCtx::STORE_RUN_UNPROVEN < 0x80);
        self.ops.extend([0x41, 0x83, 0x7f, FLAG, 0x00]);
        self.place_pair(checked_from);
        // `jne slow`, patched as `ja slow` is (see `emit_checked_store`).
        self.branch_to_slow_path(0x85, check, role);
        if matches!(role, RunRole::FlaggedLoad { .. }) {
            self.load_then_check = self
                .last_fp_load
                .filter(|load| load.end == checked_from)
                .map(|load| (load, self.ops.offset().0));
        }
    }

    /// A store check whose fast path compares `[check.addr, check.addr + fast)`.
    fn emit_checked_store(&mut self, check: StoreCheck, fast: u64, aligned: bool, role: RunRole) {
        let a = check.addr.0;
        let mov = self.ops.offset().0;
        // `mov eax, Rd(a); sub eax, DWORD [r15 + start]`, encoded by hand (`compact`).
        self.reg_reg(MOV_RM_R, false, RAX, a);
        let sub = self.ops.offset().0;
        self.vmctx_op32(RegMem::Sub, false, RAX, VmCtx::WRITTEN_START as i32);
        let add = self.ops.offset().0;
        if !aligned {
            self.add_end(fast);
        }
        let start = self.ops.offset().0;
        if self.loop_depth > 0 {
            let room = if aligned {
                PrefixRoom::new(&[mov, sub], start)
            } else {
                PrefixRoom::new(&[mov, sub, add], start)
            };
            self.prefix_room = Some(room);
        }
        // `cmp rax, QWORD [r15 + len]`.
        self.vmctx_op32(RegMem::Cmp, true, RAX, VmCtx::WRITTEN_LEN as i32);
        self.place_pair(start);
        // `ja slow` (`jae slow` when aligned) in its rel32 form (the bytes dynasm writes
        // for `ja =>label`), patched when the slow path is emitted after the function: no
        // dynasm labels or relocations, which cost more memory than the code for
        // store-heavy modules.
        self.branch_to_slow_path(if aligned { 0x83 } else { 0x87 }, check, role);
    }

    /// A conditional branch (`0f <condition>` with a rel32 field, patched when the slow
    /// path is emitted) to a new store slow path that comes back right after it.
    fn branch_to_slow_path(&mut self, condition: u8, check: StoreCheck, role: RunRole) {
        self.ops.extend([0x0f, condition, 0, 0, 0, 0]);
        // Code size is bounded by the module-size limits, far below 4 GiB.
        let back = self.ops.offset().0 as u32;
        self.store_slow_paths.push(StoreSlowPath {
            ja_field: back - 4,
            back,
            check,
            role,
            run: self.runs,
        });
    }

    /// The slow paths of `emit_store_check`: rax = addr + end and rcx = addr + from (the
    /// stored bytes), which is what the dirty-range stub expects, then back (`jmp rel32`,
    /// as dynasm writes `jmp =>label`).
    pub(super) fn emit_store_slow_paths(&mut self) {
        let mut paths = std::mem::take(&mut self.store_slow_paths);
        mark_run_ends(&mut paths);
        for path in paths.drain(..) {
            let slow = self.ops.offset().0 as u32;
            self.patch_rel32(path.ja_field, slow);
            let flag = VmCtx::STORE_RUN_UNPROVEN as i32;
            match path.role {
                RunRole::Plain | RunRole::First { sets: false, .. } => {
                    self.emit_widening(path.check)
                }
                RunRole::First { span, sets: true } => {
                    self.emit_widening(path.check);
                    // Is the span inside the current range now? The flag says no.
                    self.emit_range_compare(path.check.addr, span, false);
                    asm!(self.ops
                        ; seta al
                        ; movzx eax, al
                        ; mov DWORD [r15 + flag], eax
                    );
                }
                RunRole::Flagged { aligned, clears } => {
                    self.emit_range_compare(path.check.addr, path.check.fast_end(), aligned);
                    // Inside: skip the widening (`jbe`/`jb done`, rel32, patched below).
                    self.ops
                        .extend([0x0f, if aligned { 0x82 } else { 0x86 }, 0, 0, 0, 0]);
                    let done = self.ops.offset().0 as u32 - 4;
                    self.emit_widening(path.check);
                    let here = self.ops.offset().0 as u32;
                    self.patch_rel32(done, here);
                    if clears {
                        asm!(self.ops; mov DWORD [r15 + flag], 0);
                    }
                }
                RunRole::FlaggedLoad {
                    oob,
                    aligned,
                    clears,
                } => {
                    self.emit_bounds_check(path.check.addr, path.check.end, oob, aligned);
                    if clears {
                        asm!(self.ops; mov DWORD [r15 + flag], 0);
                    }
                }
            }
            self.ops.push(0xe9);
            let field = self.ops.offset().0 as u32;
            self.ops.extend([0, 0, 0, 0]);
            self.patch_rel32(field, path.back);
        }
        // The buffer is kept for the next function's paths.
        self.store_slow_paths = paths;
    }

    /// The work of a store check's slow path: rax = addr + end and rcx = addr + from
    /// (the stored bytes), which is what the dirty-range stub expects, after the loads
    /// sharing the check have their length check.
    fn emit_widening(&mut self, check: StoreCheck) {
        // The loads sharing the check come first: their length check (the stub's own
        // length check covers them when they end no further than the store).
        if let Some((loads_end, oob)) = check.loads_past_store() {
            self.emit_bounds_check(check.addr, loads_end, oob, false);
        }
        // `mov ecx, Rd(a); mov eax, ecx`.
        self.reg_reg(MOV_RM_R, false, RCX, check.addr.0);
        self.ops.extend(MOV_EAX_ECX);
        self.add_end(check.end);
        if check.from != 0 {
            self.add_u64(super::regs::RCX, check.from);
        }
        self.emit_call_widen(check.widen);
    }

    /// `call widen`: the dirty-range stub in its rel32 form, patched by `finish` (see
    /// `late`), or any other label (a counted loop's widen routine, which calls the stub
    /// and is emitted before every slow path calling it, so the stub is offered first).
    pub(super) fn emit_call_widen(&mut self, widen: Label) {
        if self.widen_sites.accepts(widen) {
            self.ops.extend([0xe8, 0, 0, 0, 0]);
            self.widen_sites.record(self.ops.offset().0);
        } else {
            asm!(self.ops; call =>widen);
        }
    }

    /// `cmp rax, len` with rax = `(addr - start) mod 2^32 + end` (no `+ end` when
    /// `aligned`): the fast compare of a store check, out of line.
    fn emit_range_compare(&mut self, addr: Reg, end: u64, aligned: bool) {
        // `mov eax, Rd(addr); sub eax, DWORD [r15 + start]`, (`add rax, end`), `cmp rax,
        // QWORD [r15 + len]`, as `emit_checked_store`.
        self.reg_reg(MOV_RM_R, false, RAX, addr.0);
        self.vmctx_op32(RegMem::Sub, false, RAX, VmCtx::WRITTEN_START as i32);
        if !aligned {
            self.add_end(end);
        }
        self.vmctx_op32(RegMem::Cmp, true, RAX, VmCtx::WRITTEN_LEN as i32);
    }

    /// Writes the rel32 field at `field` so the branch it ends lands on `target`.
    pub(super) fn patch_rel32(&mut self, field: u32, target: u32) {
        // Offsets below 4 GiB: the difference fits an i32.
        let rel = (i64::from(target) - (i64::from(field) + 4)) as i32;
        self.ops.patch(field as usize, &rel.to_le_bytes());
    }

    /// rax += end, which cannot overflow 64 bits from a u32 (`end <= 2^32 + 8`).
    fn add_end(&mut self, end: u64) {
        self.add_u64(super::regs::RAX, end)
    }

    /// `reg += value` (through r11 when `value` does not fit a sign-extended imm32).
    // Inline, with the long constant out of line: the call cost as much as the store of
    // the instruction's seven bytes (≈ 1 M calls on the corpus).
    #[inline(always)]
    fn add_u64(&mut self, reg: u8, value: u64) {
        match i32::try_from(value) {
            // `add Rq(reg), DWORD v`, encoded by hand (`compact`).
            Ok(v) => self.reg_imm32(RegOp::Add, true, reg, v),
            Err(_) => self.add_u64_far(reg, value),
        }
    }

    /// [`Self::add_u64`] of a constant that does not fit a sign-extended imm32.
    #[cold]
    #[inline(never)]
    fn add_u64_far(&mut self, reg: u8, value: u64) {
        let v = value as i64;
        asm!(self.ops; mov r11, QWORD v; add Rq(reg), r11)
    }

    /// See `MacroAssembler::emit_dirty_range_stub` and `WrittenRanges::mark`, which this
    /// implements: rax = the stored bytes' end, rcx = their start (from
    /// `emit_store_slow_paths`); uses those two and r11, and saves rdx and rbx around
    /// their use. Nothing is written to the vmctx before the charge succeeds, so out of
    /// gas leaves the ranges (and `VmCtx::write_gas`, which adds each charge) as they
    /// were.
    pub(super) fn emit_dirty_range_stub(&mut self, label: Label, oob: Label, out_of_gas: Label) {
        let granule = DIRTY_GRANULE as i32;
        let far = WRITTEN_FAR as i32;
        let spills = WRITTEN_SPILLS as i32;
        const _: () = assert!(DIRTY_GRANULE == 1 << 12);
        asm!(self.ops
            ; =>label
            ; cmp rax, QWORD [r15 + VmCtx::MEMORY_LEN as i32]
            ; ja =>oob
            // Round out: rcx = start of the store's first granule, rax = end of its last
            // (start < end <= memory_len <= 2^32: no overflow, and never past the length,
            // a multiple of 64 KiB).
            ; and ecx, DWORD -granule
            ; add rax, DWORD granule - 1
            ; and rax, DWORD -granule
            ; push rdx
            ; push rbx
            // rbx = the covered length this write adds to: 0 for a new range.
            ; mov rdx, QWORD [r15 + VmCtx::WRITTEN_LEN as i32]
            ; mov rbx, rdx
            ; test rdx, rdx
            ; je >charge
            // r11 = the current range's start, rdx = its end.
            ; mov r11, QWORD [r15 + VmCtx::WRITTEN_START as i32]
            ; add rdx, r11
            ; lea rbx, [rdx + far]
            ; cmp rcx, rbx
            ; ja >far
            ; lea rbx, [rax + far]
            ; cmp rbx, r11
            ; jb >far
            ; hull:
            ; cmp rcx, r11
            ; cmova rcx, r11
            ; cmp rax, rdx
            ; cmovb rax, rdx
            ; mov rbx, QWORD [r15 + VmCtx::WRITTEN_LEN as i32]
            ; charge:
            // The growth: the new length - rbx.
            ; neg rbx
            ; add rbx, rax
            ; sub rbx, rcx
        );
        self.emit_write_charge(out_of_gas);
        asm!(self.ops
            ; jmp >done
            ; far:
            // A new range, if a spill slot is free: charge its whole length, then move
            // the current range to the slot.
            ; cmp QWORD [r15 + VmCtx::WRITTEN_SPILLED_COUNT as i32], spills
            ; jae <hull
            ; mov rbx, rax
            ; sub rbx, rcx
        );
        self.emit_write_charge(out_of_gas);
        asm!(self.ops
            ; mov rbx, QWORD [r15 + VmCtx::WRITTEN_SPILLED_COUNT as i32]
            ; shl rbx, 4
            ; mov QWORD [r15 + rbx + VmCtx::WRITTEN_SPILLED as i32], r11
            ; mov QWORD [r15 + rbx + VmCtx::WRITTEN_SPILLED as i32 + 8], rdx
            ; add QWORD [r15 + VmCtx::WRITTEN_SPILLED_COUNT as i32], 1
            ; done:
            ; pop rbx
            ; pop rdx
            ; mov QWORD [r15 + VmCtx::WRITTEN_START as i32], rcx
            ; sub rax, rcx
            ; mov QWORD [r15 + VmCtx::WRITTEN_LEN as i32], rax
            ; ret
        );
    }

    /// The dirty-range stub's charge of rbx bytes grown: `write_gas` (granules × price,
    /// below 2^52) off the gas register, to `out_of_gas` when it does not cover it, else
    /// added to `VmCtx::write_gas`.
    fn emit_write_charge(&mut self, out_of_gas: Label) {
        asm!(self.ops
            ; shr rbx, 12
            ; imul rbx, QWORD [r15 + VmCtx::WRITE_PRICE as i32]
            ; sub r13, rbx
            ; jb =>out_of_gas
            ; add QWORD [r15 + VmCtx::WRITE_GAS as i32], rbx
        );
    }

    /// Unrolled for a few slots, a counted loop beyond (linear either way).
    pub(super) fn emit_zero_frame(&mut self, offset: i32, count: u32) {
        const UNROLL_LIMIT: u32 = 8;
        if count == 0 {
            return;
        }
        asm!(self.ops; xor eax, eax);
        if count <= UNROLL_LIMIT {
            for i in 0..count as i32 {
                let o = offset + 8 * i;
                asm!(self.ops; mov QWORD [rbp + o], rax);
            }
            return;
        }
        // Slots rbp+offset .. rbp+offset+8*count, written from the top down:
        // [rbp + rcx*8 + offset - 8] for rcx = count..1.
        let base = offset - 8;
        let count = count as i32;
        let top = self.ops.new_dynamic_label();
        asm!(self.ops
            ; mov ecx, DWORD count
            ; =>top
            ; mov QWORD [rbp + rcx * 8 + base], rax
            ; sub ecx, 1
            ; jnz =>top
        );
    }
}

/// Which run checks set and clear the flag (see `codegen/store_run.rs`): the last check
/// behind the flag of each run clears it, and a run's first check sets it only when the
/// run has one. A run's checks come after its first check and before the next run's, so
/// one pass from the end finds them.
fn mark_run_ends(paths: &mut [StoreSlowPath]) {
    let mut last_flagged: Option<u32> = None;
    for path in paths.iter_mut().rev() {
        let run = path.run;
        match &mut path.role {
            RunRole::Flagged { clears, .. } | RunRole::FlaggedLoad { clears, .. } => {
                *clears = last_flagged != Some(run);
                last_flagged = Some(run);
            }
            RunRole::First { sets, .. } => *sets = last_flagged == Some(run),
            RunRole::Plain => {}
        }
    }
}
