//! Floating-point operations on xmm registers, and the moves between float registers and
//! bit patterns.
//!
//! Codegen allocates xmm2-xmm13 for float temporaries; xmm0 and xmm1 are this file's
//! scratch inside one method, so no operand is ever xmm0 or xmm1 (see `regs`).
//! Scalar SSE only (SSE4.1 for `round*`, which the engine checks at start-up), in the
//! two-operand forms: codegen passes `dst == lhs`, the other cases copy first.
//!
//! x86 has no default-NaN mode: an invalid operation yields the negative "indefinite" NaN
//! `0xffc00000`, and a NaN input propagates with its payload. So a float value leaving a
//! float register for its bit pattern passes through [`X64Masm::emit_float_to_bits`],
//! which replaces a NaN with the canonical one, branch-free and without touching the
//! flags (`cmpunord` mask, `and`/`andn`/`or`). Inside a chain of float operators the NaN
//! may carry any payload: every operator maps a NaN input to a NaN (or to a trap, or a
//! comparison result that ignores the payload), so only the last result's bits are ever
//! seen, and they are canonical.
//!
//! The float unit's mode (round to nearest even, no flush-to-zero, no
//! denormals-are-zero, exceptions masked) is set by the entry trampoline (`traps.rs`).

use dynasmrt::{DynasmApi, DynasmLabelApi};

use super::X64Masm;
use crate::masm::{
    Cond, FReg, FloatBinOp, FloatCmp, FloatSize, FloatUnOp, IntFloat, Label, Operand, Reg, Size,
    TruncMode,
};

/// `$single …` for f32, `$double …` for f64.
macro_rules! sized {
    ($ops:expr, $size:expr, $single:ident, $double:ident; $($args:tt)*) => {
        match $size {
            FloatSize::F32 => asm!($ops; $single $($args)*),
            FloatSize::F64 => asm!($ops; $double $($args)*),
        }
    };
}

/// `roundss`/`roundsd` immediates (bit 3 suppresses the inexact exception, which is masked
/// anyway; bits 0-1 choose the rounding and bit 2 = 0 means "not MXCSR's mode").
fn round_mode(op: FloatUnOp) -> Option<i8> {
    match op {
        FloatUnOp::Nearest => Some(8),
        FloatUnOp::Floor => Some(9),
        FloatUnOp::Ceil => Some(10),
        FloatUnOp::Trunc => Some(11),
        FloatUnOp::Sqrt => None,
    }
}

impl X64Masm {
    /// `dst = src` between xmm registers (nothing when they are the same).
    fn xmm_copy(&mut self, dst: u8, src: u8) {
        if dst != src {
            asm!(self.ops; movaps Rx(dst), Rx(src));
        }
    }

    /// xmm1 = the float with bit pattern `bits` (from the constant pool).
    fn const_to_xmm1(&mut self, size: FloatSize, bits: u64) {
        self.load_constant(size, FReg(1), bits);
    }

    /// Flag-free: `mov`, `movd`/`movq`, `movss`/`movsd` and `xorps` only.
    pub(super) fn emit_float_from_bits(&mut self, size: FloatSize, dst: FReg, src: Operand) {
        let d = dst.0;
        match src {
            Operand::Reg(r) => match size {
                FloatSize::F32 => asm!(self.ops; movd Rx(d), Rd(r.0)),
                FloatSize::F64 => asm!(self.ops; movq Rx(d), Rq(r.0)),
            },
            Operand::Frame(offset) => match size {
                FloatSize::F32 => asm!(self.ops; movss Rx(d), DWORD [rbp + offset]),
                FloatSize::F64 => asm!(self.ops; movsd Rx(d), QWORD [rbp + offset]),
            },
            Operand::Imm(0) => asm!(self.ops; xorps Rx(d), Rx(d)),
            Operand::Imm(bits) => self.load_constant(size, dst, bits as u64),
        }
    }

    /// Integer register `d` = the bits of `src` (an f32 zero-extended), the canonical NaN
    /// instead of any NaN when `canonicalize`. Without flags: xmm0 = `cmpunord(src, src)`
    /// (all ones exactly for a NaN), `src = src & !mask | canonical & mask`. Clobbers
    /// `src` (when canonicalizing), xmm0 and xmm1.
    pub(super) fn emit_float_to_bits(
        &mut self,
        size: FloatSize,
        d: u8,
        src: FReg,
        canonicalize: bool,
    ) {
        let s = src.0;
        debug_assert!(s > 1, "xmm0/xmm1 are the float methods' scratch");
        if canonicalize {
            self.emit_canonical_into_xmm0(size, s);
            match size {
                FloatSize::F32 => asm!(self.ops; movd Rd(d), xmm0),
                FloatSize::F64 => asm!(self.ops; movq Rq(d), xmm0),
            }
            return;
        }
        match size {
            FloatSize::F32 => asm!(self.ops; movd Rd(d), Rx(s)),
            FloatSize::F64 => asm!(self.ops; movq Rq(d), Rx(s)),
        }
    }

    /// Float register `dst` = `src`, a NaN replaced by the canonical one when
    /// `canonicalize`: [`Self::emit_float_to_bits`]'s flag-free mask, ending in `dst`.
    pub(super) fn emit_float_move(
        &mut self,
        size: FloatSize,
        dst: FReg,
        src: FReg,
        canonicalize: bool,
    ) {
        let (d, s) = (dst.0, src.0);
        debug_assert!(d > 1 && s > 1, "xmm0/xmm1 are the float methods' scratch");
        if !canonicalize {
            return self.xmm_copy(d, s);
        }
        self.emit_canonical_into_xmm0(size, s);
        asm!(self.ops; movaps Rx(d), xmm0);
    }

    /// xmm0 = xmm`s`, or the canonical NaN when it is a NaN, without touching the flags:
    /// an unordered-compare mask selects between the value and the NaN in xmm1.
    fn emit_canonical_into_xmm0(&mut self, size: FloatSize, s: u8) {
        self.const_to_xmm1(size, size.canonical_nan());
        self.xmm_copy(0, s);
        sized!(self.ops, size, cmpunordss, cmpunordsd; xmm0, xmm0);
        asm!(self.ops
            ; andps xmm1, xmm0
            ; andnps xmm0, Rx(s)
            ; orps xmm0, xmm1
        );
    }

    /// [`Self::emit_float_move`] for dead flags: copy, then `ucomis s, s` (unordered
    /// exactly for a NaN) and a forward `jnp` over the canonical NaN's load. A NaN is rare,
    /// so the branch predicts and the value's dependency chain gains nothing (the mask
    /// form adds its compare and two logic operations to every chain through a local).
    /// The `jnp rel8` is raw bytes patched once the load's length is known (no label).
    pub(super) fn emit_float_move_with_compare(
        &mut self,
        size: FloatSize,
        dst: FReg,
        src: FReg,
        canonicalize: bool,
    ) {
        self.xmm_copy(dst.0, src.0);
        if canonicalize {
            self.canonicalize_in_place(size, dst);
        }
    }

    /// `reg` = the canonical NaN if it holds a NaN: `ucomis reg, reg` (unordered exactly
    /// for a NaN) and a forward `jnp` over the canonical NaN's load, which a NaN being
    /// rare predicts well; the value's dependency chain gains nothing. Clobbers the flags.
    /// The `jnp rel8` is raw bytes patched once the load's length is known.
    pub(super) fn canonicalize_in_place(&mut self, size: FloatSize, reg: FReg) {
        let r = reg.0;
        sized!(self.ops, size, ucomiss, ucomisd; Rx(r), Rx(r));
        self.ops.extend([0x7b, 0]);
        let after_jump = self.ops.offset().0;
        self.load_constant(size, reg, size.canonical_nan());
        let skipped = self.ops.offset().0 - after_jump;
        // At most 9 bytes (`movsd xmm, [rip + disp32]`): a rel8 always reaches.
        let rel8 = u8::try_from(skipped).unwrap_or(0);
        debug_assert!((1..0x80).contains(&rel8));
        self.ops.patch(after_jump - 1, &[rel8]);
    }

    /// [`Self::emit_float_to_bits`] for dead flags: `ucomis x, x` is unordered (PF = 1)
    /// exactly for a NaN, and `cmovp` picks the canonical NaN; the move out and the compare
    /// run in parallel, so the chain grows by the `cmov` alone. A 32-bit `cmov` zero-extends
    /// whether or not it moves, as f32 bits must be.
    pub(super) fn emit_float_to_bits_with_compare(
        &mut self,
        size: FloatSize,
        d: u8,
        src: FReg,
        canonicalize: bool,
    ) {
        if !canonicalize {
            return self.emit_float_to_bits(size, d, src, false);
        }
        let s = src.0;
        self.mov_imm(super::regs::R11, size.canonical_nan() as i64);
        match size {
            FloatSize::F32 => asm!(self.ops
                ; movd Rd(d), Rx(s)
                ; ucomiss Rx(s), Rx(s)
                ; cmovp Rd(d), r11d
            ),
            FloatSize::F64 => asm!(self.ops
                ; movq Rq(d), Rx(s)
                ; ucomisd Rx(s), Rx(s)
                ; cmovp Rq(d), r11
            ),
        }
    }

    pub(super) fn emit_fp_binop(
        &mut self,
        op: FloatBinOp,
        size: FloatSize,
        dst: FReg,
        lhs: FReg,
        rhs: FReg,
    ) {
        if let FloatBinOp::Min | FloatBinOp::Max = op {
            self.xmm_copy(0, lhs.0);
            self.xmm_copy(1, rhs.0);
            self.min_max(op == FloatBinOp::Min, size);
            self.xmm_copy(dst.0, 0);
            return;
        }
        // An operand loaded by the last instruction is folded (`take_last_fp_load`): the
        // left one loaded straight into `dst` (no copy), the right one read from memory
        // by the operator itself. The same bytes read at the same place, after the same
        // bounds check; the operand's register is left unwritten (the caller frees it).
        if dst != rhs && lhs != rhs {
            if dst != lhs {
                if let Some(load) = self.take_last_fp_load(lhs.0) {
                    self.emit_fp_load(load.size, dst, load.addr);
                    self.last_fp_load = None;
                    return self.emit_fp_op(op, size, dst.0, rhs.0);
                }
            }
            if let Some(load) = self.take_last_fp_load(rhs.0) {
                debug_assert!(load.size == size);
                // The left operand loaded just before, only a bounds check between (integer
                // code, no float register): that load writes `dst` instead, no copy
                // (nbody's `dx = pi[0] - pj[0]`). `dst` is neither operand's register, so
                // nothing between read or wrote it.
                let retargeted = dst != lhs
                    && load
                        .prev
                        .is_some_and(|(at, reg)| reg == lhs.0 && self.retarget_fp_load(at, dst.0));
                if !retargeted {
                    self.xmm_copy(dst.0, lhs.0);
                }
                return self.emit_fp_binop_mem(op, size, dst.0, load.addr);
            }
        }
        self.last_fp_load = None;
        // Two-operand form: compute in `dst` unless it is the right operand (then in xmm0).
        let acc = if dst == rhs && dst != lhs { 0 } else { dst.0 };
        self.xmm_copy(acc, lhs.0);
        self.emit_fp_op(op, size, acc, rhs.0);
        self.xmm_copy(dst.0, acc);
    }

    /// `acc = acc op xmm(r)` (not min/max).
    fn emit_fp_op(&mut self, op: FloatBinOp, size: FloatSize, acc: u8, r: u8) {
        match op {
            FloatBinOp::Add => sized!(self.ops, size, addss, addsd; Rx(acc), Rx(r)),
            FloatBinOp::Sub => sized!(self.ops, size, subss, subsd; Rx(acc), Rx(r)),
            FloatBinOp::Mul => sized!(self.ops, size, mulss, mulsd; Rx(acc), Rx(r)),
            FloatBinOp::Div => sized!(self.ops, size, divss, divsd; Rx(acc), Rx(r)),
            FloatBinOp::Min | FloatBinOp::Max => unreachable!("handled by min_max"),
        }
    }

    /// xmm0 = min/max(xmm0, xmm1) with wasm semantics. `minss`/`maxss` return the second
    /// operand when either is a NaN or both are zeros, so those cases go their own way:
    /// NaN → a NaN (`addss` of the two: quiet, canonicalized when it leaves); equal
    /// operands → `or` of the bits for min (−0 wins), `and` for max (+0 wins), which is the
    /// value itself when they are not zeros.
    fn min_max(&mut self, min: bool, size: FloatSize) {
        let (nan, ordinary, done) = (
            self.ops.new_dynamic_label(),
            self.ops.new_dynamic_label(),
            self.ops.new_dynamic_label(),
        );
        sized!(self.ops, size, ucomiss, ucomisd; xmm0, xmm1);
        asm!(self.ops
            ; jp =>nan
            ; jne =>ordinary
        );
        if min {
            asm!(self.ops; orps xmm0, xmm1);
        } else {
            asm!(self.ops; andps xmm0, xmm1);
        }
        asm!(self.ops; jmp =>done; =>ordinary);
        if min {
            sized!(self.ops, size, minss, minsd; xmm0, xmm1);
        } else {
            sized!(self.ops, size, maxss, maxsd; xmm0, xmm1);
        }
        asm!(self.ops; jmp =>done; =>nan);
        sized!(self.ops, size, addss, addsd; xmm0, xmm1);
        asm!(self.ops; =>done);
    }

    /// `round*`/`sqrt*` write only the low lane: with `dst == src` (codegen's form) that
    /// adds no dependency on an older value.
    pub(super) fn emit_fp_unop(&mut self, op: FloatUnOp, size: FloatSize, dst: FReg, src: FReg) {
        let (d, s) = (dst.0, src.0);
        match round_mode(op) {
            Some(mode) => sized!(self.ops, size, roundss, roundsd; Rx(d), Rx(s), mode),
            None => sized!(self.ops, size, sqrtss, sqrtsd; Rx(d), Rx(s)),
        }
    }

    /// `ucomis` sets ZF, PF and CF (all three for unordered). `a < b` is `b > a`, so the
    /// "less" forms swap the operands and every ordered test is `seta`/`setae` (CF = 0:
    /// false when unordered); `eq` also needs PF = 0 and `ne` accepts PF = 1.
    pub(super) fn emit_fp_cmp(
        &mut self,
        op: FloatCmp,
        size: FloatSize,
        dst: Reg,
        lhs: FReg,
        rhs: FReg,
    ) {
        let d = dst.0;
        let (a, b) = match op {
            FloatCmp::Lt | FloatCmp::Le => (rhs.0, lhs.0),
            _ => (lhs.0, rhs.0),
        };
        // Zeroed before the compare (a `xor` clobbers flags); `setcc` writes the low byte.
        asm!(self.ops; xor Rd(d), Rd(d));
        sized!(self.ops, size, ucomiss, ucomisd; Rx(a), Rx(b));
        match op {
            FloatCmp::Eq => asm!(self.ops
                ; sete Rb(d)
                ; setnp al
                ; and Rb(d), al
            ),
            FloatCmp::Ne => asm!(self.ops
                ; setne Rb(d)
                ; setp al
                ; or Rb(d), al
            ),
            FloatCmp::Gt | FloatCmp::Lt => asm!(self.ops; seta Rb(d)),
            FloatCmp::Ge | FloatCmp::Le => asm!(self.ops; setae Rb(d)),
        }
    }

    /// `ucomis` sets CF and ZF (and PF) on an unordered result, so "above" (CF = ZF = 0)
    /// and "above or equal" (CF = 0) are false then, exactly as `gt`/`ge` (and, with the
    /// operands swapped, `lt`/`le`) must be. `eq`/`ne` need PF too: not fused.
    pub(super) fn emit_fp_cmp_flags(
        &mut self,
        op: FloatCmp,
        size: FloatSize,
        lhs: FReg,
        rhs: FReg,
    ) -> Option<Cond> {
        let (a, b, cond) = match op {
            FloatCmp::Gt => (lhs.0, rhs.0, Cond::GtU),
            FloatCmp::Ge => (lhs.0, rhs.0, Cond::GeU),
            FloatCmp::Lt => (rhs.0, lhs.0, Cond::GtU),
            FloatCmp::Le => (rhs.0, lhs.0, Cond::GeU),
            FloatCmp::Eq | FloatCmp::Ne => return None,
        };
        sized!(self.ops, size, ucomiss, ucomisd; Rx(a), Rx(b));
        Some(cond)
    }

    pub(super) fn emit_fp_resize(&mut self, to: FloatSize, dst: FReg, src: FReg) {
        let (d, s) = (dst.0, src.0);
        match to {
            FloatSize::F64 => asm!(self.ops; cvtss2sd Rx(d), Rx(s)),
            FloatSize::F32 => asm!(self.ops; cvtsd2ss Rx(d), Rx(s)),
        }
    }

    /// `cvtsi2ss/sd` converts a signed integer. An i32 lives zero-extended, so its
    /// unsigned value is the signed 64-bit conversion; a u64 with the top bit set is
    /// halved first, keeping the lost bit as a sticky bit (`x >> 1 | x & 1`) so that the
    /// halved value rounds the same way, then doubled (exact).
    pub(super) fn emit_int_to_fp(&mut self, conv: IntFloat, dst: FReg, src: Reg) {
        let (s, d) = (src.0, dst.0);
        let f = conv.float;
        // Writing only the low lane of `dst` would depend on its previous value.
        asm!(self.ops; xorps Rx(d), Rx(d));
        match (conv.int, conv.signed) {
            (Size::S32, true) => sized!(self.ops, f, cvtsi2ss, cvtsi2sd; Rx(d), Rd(s)),
            (Size::S32, false) | (Size::S64, true) => {
                sized!(self.ops, f, cvtsi2ss, cvtsi2sd; Rx(d), Rq(s))
            }
            (Size::S64, false) => {
                let (halve, done) = (self.ops.new_dynamic_label(), self.ops.new_dynamic_label());
                asm!(self.ops
                    ; test Rq(s), Rq(s)
                    ; js =>halve
                );
                sized!(self.ops, f, cvtsi2ss, cvtsi2sd; Rx(d), Rq(s));
                asm!(self.ops
                    ; jmp =>done
                    ; =>halve
                    ; mov rax, Rq(s)
                    ; shr rax, 1
                    ; mov ecx, Rd(s)
                    ; and ecx, 1
                    ; or rax, rcx
                );
                sized!(self.ops, f, cvtsi2ss, cvtsi2sd; Rx(d), rax);
                sized!(self.ops, f, addss, addsd; Rx(d), Rx(d));
                asm!(self.ops; =>done);
            }
        }
    }

    /// Checks NaN and the range (`IntFloat::trunc_range`) with `ucomis`, jumping to the
    /// trap labels or to local saturation code, then converts an in-range value (in xmm0,
    /// which the u64 form adjusts).
    pub(super) fn emit_fp_to_int(&mut self, conv: IntFloat, dst: Reg, src: FReg, mode: TruncMode) {
        let (d, f) = (dst.0, conv.float);
        let range = conv.trunc_range();
        let (nan, below, above) = match mode {
            TruncMode::Trap { nan, overflow } => (nan, overflow, overflow),
            TruncMode::Saturate => (
                self.ops.new_dynamic_label(),
                self.ops.new_dynamic_label(),
                self.ops.new_dynamic_label(),
            ),
        };
        self.xmm_copy(0, src.0);
        sized!(self.ops, f, ucomiss, ucomisd; xmm0, xmm0);
        asm!(self.ops; jp =>nan);
        self.const_to_xmm1(f, range.lower);
        sized!(self.ops, f, ucomiss, ucomisd; xmm0, xmm1);
        if range.lower_inclusive {
            asm!(self.ops; jb =>below);
        } else {
            asm!(self.ops; jbe =>below);
        }
        self.const_to_xmm1(f, range.upper);
        sized!(self.ops, f, ucomiss, ucomisd; xmm0, xmm1);
        asm!(self.ops; jae =>above);
        self.truncate_in_range(conv, d);
        if let TruncMode::Saturate = mode {
            self.saturate(conv, d, nan, below, above);
        }
    }

    /// `d` = xmm0 truncated, for xmm0 within the integer's range. `cvtts?2si` converts to
    /// a signed integer: a u32 goes through the 64-bit form (its upper half comes out
    /// zero), and a u64 of 2^63 or more is converted less 2^63, then the top bit set.
    fn truncate_in_range(&mut self, conv: IntFloat, d: u8) {
        let f = conv.float;
        match (conv.int, conv.signed) {
            (Size::S32, true) => sized!(self.ops, f, cvttss2si, cvttsd2si; Rd(d), xmm0),
            (Size::S32, false) | (Size::S64, true) => {
                sized!(self.ops, f, cvttss2si, cvttsd2si; Rq(d), xmm0)
            }
            (Size::S64, false) => {
                let (large, done) = (self.ops.new_dynamic_label(), self.ops.new_dynamic_label());
                self.const_to_xmm1(f, f.bits_of(2f64.powi(63)));
                sized!(self.ops, f, ucomiss, ucomisd; xmm0, xmm1);
                asm!(self.ops; jae =>large);
                sized!(self.ops, f, cvttss2si, cvttsd2si; Rq(d), xmm0);
                asm!(self.ops; jmp =>done; =>large);
                sized!(self.ops, f, subss, subsd; xmm0, xmm1);
                sized!(self.ops, f, cvttss2si, cvttsd2si; Rq(d), xmm0);
                asm!(self.ops
                    ; btc Rq(d), 63
                    ; =>done
                );
            }
        }
    }

    /// The out-of-line results of a saturating truncation: NaN → 0, below the range → the
    /// integer minimum, above it → the maximum. The in-range path jumps over them.
    fn saturate(&mut self, conv: IntFloat, d: u8, nan: Label, below: Label, above: Label) {
        let (min, max): (i64, i64) = match (conv.int, conv.signed) {
            (Size::S32, true) => (i64::from(i32::MIN as u32), i64::from(i32::MAX)),
            (Size::S32, false) => (0, i64::from(u32::MAX)),
            (Size::S64, true) => (i64::MIN, i64::MAX),
            (Size::S64, false) => (0, -1),
        };
        let done = self.ops.new_dynamic_label();
        asm!(self.ops
            ; jmp =>done
            ; =>nan
            ; xor Rd(d), Rd(d)
            ; jmp =>done
            ; =>below
        );
        self.mov_imm(d, min);
        asm!(self.ops; jmp =>done; =>above);
        self.mov_imm(d, max);
        asm!(self.ops; =>done);
    }
}
