//! Moves, integer arithmetic, comparisons and condition materialisation.
//!
//! x86 is two-operand (`dst op= src`), so every three-operand request becomes
//! `mov dst, lhs; op dst, rhs`, except when `dst` is the `rhs` register (then the
//! commutative ops swap and `sub` negates). 32-bit forms zero the upper half for free,
//! which keeps the "i32 lives zero-extended" invariant without extra instructions.

use dynasmrt::DynasmApi;

use super::compact::{RegMem, RegOp, MOV_RM_R, TEST_RM_R};
use super::regs::{fits_i32, R11, RAX, RBP, RDX};
use super::X64Masm;
use crate::masm::{AluOp, BitOp, Cond, DivOp, ExtendOp, Operand, Reciprocal, Reg, ShiftOp, Size};

/// A source operand in a form x86 encodes directly.
#[derive(Copy, Clone, Debug)]
pub(super) enum Src {
    Reg(u8),
    /// Sign-extended to the operation's size.
    Imm(i32),
    /// `[rbp + offset]`.
    Frame(i32),
}

/// `$mn dst, src` in every size/operand form.
macro_rules! binop {
    ($ops:expr, $mn:ident, $size:expr, $d:expr, $src:expr) => {{
        let d: u8 = $d;
        match ($size, $src) {
            (Size::S32, Src::Reg(r)) => asm!($ops; $mn Rd(d), Rd(r)),
            (Size::S64, Src::Reg(r)) => asm!($ops; $mn Rq(d), Rq(r)),
            // The sign-extended imm8 form when the constant is small.
            // (dynasm types the imm8 of some mnemonics as i8 and of others as i32.)
            (Size::S32, Src::Imm(i)) if i8::try_from(i).is_ok() => {
                asm!($ops; $mn Rd(d), BYTE (i as i8).into())
            }
            (Size::S64, Src::Imm(i)) if i8::try_from(i).is_ok() => {
                asm!($ops; $mn Rq(d), BYTE (i as i8).into())
            }
            (Size::S32, Src::Imm(i)) => asm!($ops; $mn Rd(d), DWORD i),
            (Size::S64, Src::Imm(i)) => asm!($ops; $mn Rq(d), DWORD i),
            (Size::S32, Src::Frame(o)) => asm!($ops; $mn Rd(d), DWORD [rbp + o]),
            (Size::S64, Src::Frame(o)) => asm!($ops; $mn Rq(d), QWORD [rbp + o]),
        }
    }};
}

/// `$mn dst, imm8` and `$mn dst, cl` for shifts and rotates.
macro_rules! shiftop {
    ($ops:expr, $mn:ident, $size:expr, $d:expr, $count:expr) => {{
        let d: u8 = $d;
        match ($size, $count) {
            (Size::S32, Some(c)) => asm!($ops; $mn Rd(d), BYTE c),
            (Size::S64, Some(c)) => asm!($ops; $mn Rq(d), BYTE c),
            (Size::S32, None) => asm!($ops; $mn Rd(d), cl),
            (Size::S64, None) => asm!($ops; $mn Rq(d), cl),
        }
    }};
}

impl X64Masm {
    /// `dst = src`, leaving the flags alone.
    #[inline(never)]
    pub(super) fn emit_mov(&mut self, size: Size, dst: Reg, src: Operand) {
        let d = dst.0;
        match (size, src) {
            (size, Operand::Reg(r)) => self.mov_reg(size, d, r.0),
            (Size::S32, Operand::Imm(i)) => self.mov_imm(d, i as u32 as i64),
            (Size::S64, Operand::Imm(i)) => self.mov_imm(d, i),
            (size, Operand::Frame(o))
                if self.try_reg_mem8(RegMem::Load, size == Size::S64, d, RBP, o) => {}
            (Size::S32, Operand::Frame(o)) => asm!(self.ops; mov Rd(d), DWORD [rbp + o]),
            (Size::S64, Operand::Frame(o)) => asm!(self.ops; mov Rq(d), QWORD [rbp + o]),
        }
    }

    /// `reg = value` (64-bit) with the shortest flag-preserving encoding.
    pub(super) fn mov_imm(&mut self, d: u8, value: i64) {
        if let Ok(v) = u32::try_from(value) {
            // `mov r32, imm32` zero-extends.
            let v = v as i32;
            asm!(self.ops; mov Rd(d), DWORD v)
        } else if fits_i32(value) {
            let v = value as i32;
            asm!(self.ops; mov Rq(d), DWORD v)
        } else {
            asm!(self.ops; mov Rq(d), QWORD value)
        }
    }

    /// `dst = src` between registers (a 32-bit move zero-extends even when `dst == src`).
    /// Inline: one store of three bytes, where the call cost about as much again.
    #[inline(always)]
    pub(super) fn mov_reg(&mut self, size: Size, d: u8, s: u8) {
        match size {
            Size::S32 => self.reg_reg(MOV_RM_R, false, d, s),
            Size::S64 => {
                if d != s {
                    self.reg_reg(MOV_RM_R, true, d, s)
                }
            }
        }
    }

    /// Bring `op` into an encodable form; 64-bit immediates that do not fit a
    /// sign-extended imm32 are materialised in r11.
    pub(super) fn src(&mut self, size: Size, op: Operand) -> Src {
        match op {
            Operand::Reg(r) => Src::Reg(r.0),
            Operand::Frame(o) => Src::Frame(o),
            Operand::Imm(i) => match size {
                Size::S32 => Src::Imm(i as i32),
                Size::S64 if fits_i32(i) => Src::Imm(i as i32),
                Size::S64 => {
                    asm!(self.ops; mov r11, QWORD i);
                    Src::Reg(R11)
                }
            },
        }
    }

    /// `op d, src`. Inline for the register and immediate sources of everything but
    /// `imul` (most of the integer ALU operators compiled): their bytes are one store
    /// (`compact`), cheaper than the call that led to them; frame sources and `imul` go
    /// to [`Self::binop_general`].
    #[inline(always)]
    fn binop(&mut self, op: AluOp, size: Size, d: u8, src: Src) {
        let form = match op {
            AluOp::Add => RegOp::Add,
            AluOp::Sub => RegOp::Sub,
            AluOp::And => RegOp::And,
            AluOp::Or => RegOp::Or,
            AluOp::Xor => RegOp::Xor,
            AluOp::Mul => return self.binop_general(op, size, d, src),
        };
        let wide = size == Size::S64;
        match src {
            Src::Reg(r) => self.reg_op(form, wide, d, r),
            Src::Imm(i) => self.reg_imm(form, wide, d, i),
            Src::Frame(_) => self.binop_general(op, size, d, src),
        }
    }

    /// [`Self::binop`]'s other forms: a frame source (the short form when the offset
    /// fits a byte), `imul`.
    #[inline(never)]
    fn binop_general(&mut self, op: AluOp, size: Size, d: u8, src: Src) {
        if let Src::Frame(o) = src {
            let form = match op {
                AluOp::Add => RegMem::Add,
                AluOp::Sub => RegMem::Sub,
                AluOp::And => RegMem::And,
                AluOp::Or => RegMem::Or,
                AluOp::Xor => RegMem::Xor,
                AluOp::Mul => RegMem::Imul,
            };
            if self.try_reg_mem8(form, size == Size::S64, d, RBP, o) {
                return;
            }
        }
        // A long frame offset (or `imul`): dynasm's encoder.
        match op {
            AluOp::Add => binop!(self.ops, add, size, d, src),
            AluOp::Sub => binop!(self.ops, sub, size, d, src),
            AluOp::And => binop!(self.ops, and, size, d, src),
            AluOp::Or => binop!(self.ops, or, size, d, src),
            AluOp::Xor => binop!(self.ops, xor, size, d, src),
            AluOp::Mul => match (size, src) {
                (Size::S32, Src::Imm(i)) if i8::try_from(i).is_ok() => {
                    let b = i as i8;
                    asm!(self.ops; imul Rd(d), Rd(d), BYTE b)
                }
                (Size::S64, Src::Imm(i)) if i8::try_from(i).is_ok() => {
                    let b = i as i8;
                    asm!(self.ops; imul Rq(d), Rq(d), BYTE b)
                }
                (Size::S32, Src::Imm(i)) => asm!(self.ops; imul Rd(d), Rd(d), DWORD i),
                (Size::S64, Src::Imm(i)) => asm!(self.ops; imul Rq(d), Rq(d), DWORD i),
                (Size::S32, Src::Reg(r)) => asm!(self.ops; imul Rd(d), Rd(r)),
                (Size::S64, Src::Reg(r)) => asm!(self.ops; imul Rq(d), Rq(r)),
                (Size::S32, Src::Frame(o)) => asm!(self.ops; imul Rd(d), DWORD [rbp + o]),
                (Size::S64, Src::Frame(o)) => asm!(self.ops; imul Rq(d), QWORD [rbp + o]),
            },
        }
    }

    pub(super) fn emit_alu(&mut self, op: AluOp, size: Size, dst: Reg, lhs: Reg, rhs: Operand) {
        let (d, l) = (dst.0, lhs.0);
        // Each instruction (or short group) joins the run of integer code a compare
        // after it may pad with prefixes (`placement::PlainRun`).
        let first = self.ops.offset().0;
        if rhs == Operand::Reg(dst) && d != l {
            // `mov dst, lhs` would destroy rhs.
            match op {
                AluOp::Sub => {
                    // lhs - rhs == -rhs + lhs (wrapping).
                    match size {
                        Size::S32 => asm!(self.ops; neg Rd(d)),
                        Size::S64 => asm!(self.ops; neg Rq(d)),
                    }
                    self.binop(AluOp::Add, size, d, Src::Reg(l));
                }
                _ => self.binop(op, size, d, Src::Reg(l)),
            }
            self.plain(first);
            return;
        }
        let src = self.src(size, rhs);
        if d != l {
            // Otherwise the operation itself zero-extends a 32-bit result.
            self.mov_reg(size, d, l);
        }
        self.plain(first);
        let op_at = self.ops.offset().0;
        self.binop(op, size, d, src);
        self.plain(op_at);
    }

    pub(super) fn emit_shift(&mut self, op: ShiftOp, size: Size, dst: Reg, lhs: Reg, rhs: Operand) {
        let (d, l) = (dst.0, lhs.0);
        let width: u64 = match size {
            Size::S32 => 32,
            Size::S64 => 64,
        };
        let first = self.ops.offset().0;
        let count = match rhs {
            Operand::Imm(c) => Some((c as u64 % width) as i8),
            // Load the count first: rhs may be dst.
            Operand::Reg(r) => {
                asm!(self.ops; mov ecx, Rd(r.0));
                None
            }
            Operand::Frame(o) => {
                asm!(self.ops; mov ecx, DWORD [rbp + o]);
                None
            }
        };
        // The count's move, the value's and the shift join the run of integer code a
        // compare after it may pad with prefixes (`placement::PlainRun`).
        self.plain(first);
        let moved = self.ops.offset().0;
        if count == Some(0) {
            // No shift: the move alone gives the (zero-extended, for S32) result.
            self.mov_reg(size, d, l);
            self.plain(moved);
            return;
        }
        if d != l {
            // Otherwise the shift itself zero-extends a 32-bit result.
            self.mov_reg(size, d, l);
        }
        self.plain(moved);
        let op_at = self.ops.offset().0;
        match op {
            ShiftOp::Shl => shiftop!(self.ops, shl, size, d, count),
            ShiftOp::ShrS => shiftop!(self.ops, sar, size, d, count),
            ShiftOp::ShrU => shiftop!(self.ops, shr, size, d, count),
            ShiftOp::Rotl => shiftop!(self.ops, rol, size, d, count),
            ShiftOp::Rotr => shiftop!(self.ops, ror, size, d, count),
        }
        self.plain(op_at);
    }

    /// x86 `div`/`idiv` divide rdx:rax. rax is scratch; rdx may hold a lent local
    /// (`regs::LENDABLE_REGS`), so it is kept in r11 meanwhile. None of the operands is
    /// either (they are temporaries).
    /// `MacroAssembler::rem_u32_by_reciprocal`: the quotient in rax (the multiplier in
    /// r11, zero-extended), then `dst = lhs - eax`. Neither scratch register is
    /// allocatable, so every value codegen holds survives.
    pub(super) fn emit_rem_u32_by_reciprocal(&mut self, dst: Reg, lhs: Reg, r: Reciprocal) {
        let first = self.ops.offset().0;
        let (dst, lhs) = (dst.0, lhs.0);
        self.mov_reg(Size::S32, RAX, lhs);
        self.mov_imm(R11, i64::from(r.multiplier));
        let shift = r.shift as i8;
        asm!(self.ops
            ; imul rax, r11
            ; shr rax, BYTE shift
        );
        self.binop(AluOp::Mul, Size::S32, RAX, Src::Imm(r.divisor as i32));
        if dst != lhs {
            self.mov_reg(Size::S32, dst, lhs);
        }
        self.reg_op(RegOp::Sub, false, dst, RAX);
        self.plain(first);
    }

    pub(super) fn emit_div(&mut self, op: DivOp, size: Size, dst: Reg, lhs: Reg, rhs: Reg) {
        let (d, l, r) = (dst.0, lhs.0, rhs.0);
        debug_assert!(![RAX, RDX, R11].contains(&r) && ![RAX, RDX, R11].contains(&l));
        debug_assert!(![RAX, RDX, R11].contains(&d));
        asm!(self.ops; mov r11, rdx);
        let signed = matches!(op, DivOp::DivS | DivOp::RemS);
        match (size, signed) {
            (Size::S32, true) => asm!(self.ops; mov eax, Rd(l); cdq; idiv Rd(r)),
            (Size::S32, false) => asm!(self.ops; mov eax, Rd(l); xor edx, edx; div Rd(r)),
            (Size::S64, true) => asm!(self.ops; mov rax, Rq(l); cqo; idiv Rq(r)),
            (Size::S64, false) => asm!(self.ops; mov rax, Rq(l); xor edx, edx; div Rq(r)),
        }
        let result = match op {
            DivOp::DivS | DivOp::DivU => RAX,
            DivOp::RemS | DivOp::RemU => RDX,
        };
        self.mov_reg(size, d, result);
        asm!(self.ops; mov rdx, r11);
    }

    /// Baseline x86-64 only (no LZCNT/TZCNT): `bsr`/`bsf` leave ZF set and the result
    /// undefined for 0, so a `cmovz` substitutes a constant that yields the wasm answer.
    pub(super) fn emit_bit_count(&mut self, op: BitOp, size: Size, dst: Reg, src: Reg) {
        let (d, s) = (dst.0, src.0);
        match (op, size) {
            (BitOp::Popcnt, Size::S32) => asm!(self.ops; popcnt Rd(d), Rd(s)),
            (BitOp::Popcnt, Size::S64) => asm!(self.ops; popcnt Rq(d), Rq(s)),
            // clz = 31 - bsr = bsr ^ 31; for 0: 63 ^ 31 = 32.
            (BitOp::Clz, Size::S32) => asm!(self.ops
                ; mov ecx, 63
                ; bsr eax, Rd(s)
                ; cmovz eax, ecx
                ; xor eax, 31
                ; mov Rd(d), eax
            ),
            // clz = 63 - bsr = bsr ^ 63; for 0: 127 ^ 63 = 64.
            (BitOp::Clz, Size::S64) => asm!(self.ops
                ; mov ecx, 127
                ; bsr rax, Rq(s)
                ; cmovz eax, ecx
                ; xor eax, 63
                ; mov Rd(d), eax
            ),
            (BitOp::Ctz, Size::S32) => asm!(self.ops
                ; mov ecx, 32
                ; bsf eax, Rd(s)
                ; cmovz eax, ecx
                ; mov Rd(d), eax
            ),
            (BitOp::Ctz, Size::S64) => asm!(self.ops
                ; mov ecx, 64
                ; bsf rax, Rq(s)
                ; cmovz eax, ecx
                ; mov Rd(d), eax
            ),
        }
    }

    pub(super) fn emit_extend(&mut self, op: ExtendOp, dst: Reg, src: Reg) {
        let (d, s) = (dst.0, src.0);
        match op {
            ExtendOp::Wrap | ExtendOp::I64FromI32U => asm!(self.ops; mov Rd(d), Rd(s)),
            ExtendOp::I64FromI32S | ExtendOp::I64From32S => {
                asm!(self.ops; movsxd Rq(d), Rd(s))
            }
            ExtendOp::I32From8S => asm!(self.ops; movsx Rd(d), Rb(s)),
            ExtendOp::I32From16S => asm!(self.ops; movsx Rd(d), Rw(s)),
            ExtendOp::I64From8S => asm!(self.ops; movsx Rq(d), Rb(s)),
            ExtendOp::I64From16S => asm!(self.ops; movsx Rq(d), Rw(s)),
        }
    }

    /// Records where the compare lies, so that a branch right after it can place the
    /// pair (see `placement`).
    pub(super) fn emit_cmp(&mut self, size: Size, lhs: Reg, rhs: Operand) {
        let start = self.ops.offset().0;
        self.emit_compare(size, lhs, rhs);
        self.last_compare = Some((start, self.ops.offset().0));
    }

    fn emit_compare(&mut self, size: Size, lhs: Reg, rhs: Operand) {
        if rhs == Operand::Imm(0) {
            // `test x, x` sets every flag a comparison with 0 reads exactly as `cmp x, 0`
            // (CF = OF = 0), in 2-3 bytes instead of 7.
            let l = lhs.0;
            self.reg_reg(TEST_RM_R, size == Size::S64, l, l);
            return;
        }
        let src = self.src(size, rhs);
        let wide = size == Size::S64;
        match src {
            Src::Reg(r) => return self.reg_op(RegOp::Cmp, wide, lhs.0, r),
            Src::Imm(i) => return self.reg_imm(RegOp::Cmp, wide, lhs.0, i),
            Src::Frame(o) => {
                if self.try_reg_mem8(RegMem::Cmp, wide, lhs.0, RBP, o) {
                    return;
                }
            }
        }
        binop!(self.ops, cmp, size, lhs.0, src)
    }

    /// dynasm's own bytes for `op dst, src` (what [`RegOp`]'s encoder must reproduce).
    #[cfg(test)]
    pub(super) fn dynasm_regop(&mut self, op: RegOp, size: Size, d: u8, src: Src) {
        match op {
            RegOp::Add => binop!(self.ops, add, size, d, src),
            RegOp::Or => binop!(self.ops, or, size, d, src),
            RegOp::And => binop!(self.ops, and, size, d, src),
            RegOp::Sub => binop!(self.ops, sub, size, d, src),
            RegOp::Xor => binop!(self.ops, xor, size, d, src),
            RegOp::Cmp => binop!(self.ops, cmp, size, d, src),
        }
    }

    /// `setcc` + `movzx`: neither touches the flags, unlike the usual `xor` idiom.
    pub(super) fn emit_set_cond(&mut self, cond: Cond, dst: Reg) {
        let d = dst.0;
        match cond {
            Cond::Eq => asm!(self.ops; sete Rb(d)),
            Cond::Ne => asm!(self.ops; setne Rb(d)),
            Cond::LtS => asm!(self.ops; setl Rb(d)),
            Cond::LtU => asm!(self.ops; setb Rb(d)),
            Cond::GtS => asm!(self.ops; setg Rb(d)),
            Cond::GtU => asm!(self.ops; seta Rb(d)),
            Cond::LeS => asm!(self.ops; setle Rb(d)),
            Cond::LeU => asm!(self.ops; setbe Rb(d)),
            Cond::GeS => asm!(self.ops; setge Rb(d)),
            Cond::GeU => asm!(self.ops; setae Rb(d)),
        }
        asm!(self.ops; movzx Rd(d), Rb(d));
    }

    pub(super) fn emit_cmov(&mut self, cond: Cond, size: Size, dst: Reg, src: Reg) {
        let (d, s) = (dst.0, src.0);
        if size == Size::S32 {
            // A 32-bit cmov zero-extends dst even when the condition fails; that is what
            // S32 wants, and i32 values are zero-extended already.
            match cond {
                Cond::Eq => asm!(self.ops; cmove Rd(d), Rd(s)),
                Cond::Ne => asm!(self.ops; cmovne Rd(d), Rd(s)),
                Cond::LtS => asm!(self.ops; cmovl Rd(d), Rd(s)),
                Cond::LtU => asm!(self.ops; cmovb Rd(d), Rd(s)),
                Cond::GtS => asm!(self.ops; cmovg Rd(d), Rd(s)),
                Cond::GtU => asm!(self.ops; cmova Rd(d), Rd(s)),
                Cond::LeS => asm!(self.ops; cmovle Rd(d), Rd(s)),
                Cond::LeU => asm!(self.ops; cmovbe Rd(d), Rd(s)),
                Cond::GeS => asm!(self.ops; cmovge Rd(d), Rd(s)),
                Cond::GeU => asm!(self.ops; cmovae Rd(d), Rd(s)),
            }
        } else {
            match cond {
                Cond::Eq => asm!(self.ops; cmove Rq(d), Rq(s)),
                Cond::Ne => asm!(self.ops; cmovne Rq(d), Rq(s)),
                Cond::LtS => asm!(self.ops; cmovl Rq(d), Rq(s)),
                Cond::LtU => asm!(self.ops; cmovb Rq(d), Rq(s)),
                Cond::GtS => asm!(self.ops; cmovg Rq(d), Rq(s)),
                Cond::GtU => asm!(self.ops; cmova Rq(d), Rq(s)),
                Cond::LeS => asm!(self.ops; cmovle Rq(d), Rq(s)),
                Cond::LeU => asm!(self.ops; cmovbe Rq(d), Rq(s)),
                Cond::GeS => asm!(self.ops; cmovge Rq(d), Rq(s)),
                Cond::GeU => asm!(self.ops; cmovae Rq(d), Rq(s)),
            }
        }
    }
}
