//! Floating-point operations on values held as bit patterns in integer registers.
//!
//! Each operation moves its inputs' bits into xmm0/xmm1 (`movd`/`movq`), computes with
//! scalar SSE (SSE4.1 for `round*`, which the engine checks at start-up), and moves the
//! result back. xmm0 and xmm1 are scratch: nothing lives in an xmm register between two
//! masm calls, so calls and libcalls need not save them.
//!
//! x86 has no default-NaN mode: an invalid operation yields the negative "indefinite" NaN
//! `0xffc00000`, and a NaN input propagates with its payload. So when canonicalization is
//! asked for, every arithmetic result passes through [`X64Masm::xmm0_to_bits`], which
//! replaces a NaN with the canonical one by a branch-free `ucomis` + `cmovp`.
//!
//! The float unit's mode (round to nearest even, no flush-to-zero, no
//! denormals-are-zero, exceptions masked) is set by the entry trampoline (`traps.rs`).

use dynasmrt::{DynasmApi, DynasmLabelApi};

use super::X64Masm;
use crate::masm::{
    FloatBinOp, FloatCmp, FloatSize, FloatUnOp, IntFloat, Label, Reg, Size, TruncMode,
};

/// `$single xmm0, …` for f32, `$double xmm0, …` for f64.
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
    /// xmm0 (or xmm1 when `second`) = the float whose bits are in `src`.
    fn bits_to_xmm(&mut self, size: FloatSize, second: bool, src: Reg) {
        let s = src.0;
        match (size, second) {
            (FloatSize::F32, false) => asm!(self.ops; movd xmm0, Rd(s)),
            (FloatSize::F32, true) => asm!(self.ops; movd xmm1, Rd(s)),
            (FloatSize::F64, false) => asm!(self.ops; movq xmm0, Rq(s)),
            (FloatSize::F64, true) => asm!(self.ops; movq xmm1, Rq(s)),
        }
    }

    /// xmm1 = the float with bit pattern `bits` (through r11).
    fn const_to_xmm1(&mut self, size: FloatSize, bits: u64) {
        self.mov_imm(super::regs::R11, bits as i64);
        match size {
            FloatSize::F32 => asm!(self.ops; movd xmm1, r11d),
            FloatSize::F64 => asm!(self.ops; movq xmm1, r11),
        }
    }

    /// `dst` = the bits of xmm0 (an f32 zero-extended), the canonical NaN instead of any
    /// NaN when `canonicalize`.
    fn xmm0_to_bits(&mut self, size: FloatSize, dst: Reg, canonicalize: bool) {
        let d = dst.0;
        if !canonicalize {
            match size {
                FloatSize::F32 => asm!(self.ops; movd Rd(d), xmm0),
                FloatSize::F64 => asm!(self.ops; movq Rq(d), xmm0),
            }
            return;
        }
        // Unordered with itself (PF = 1) exactly when xmm0 is a NaN. A 32-bit cmov
        // zero-extends whether or not it moves, as f32 bits must be.
        self.mov_imm(super::regs::R11, size.canonical_nan() as i64);
        match size {
            FloatSize::F32 => asm!(self.ops
                ; movd Rd(d), xmm0
                ; ucomiss xmm0, xmm0
                ; cmovp Rd(d), r11d
            ),
            FloatSize::F64 => asm!(self.ops
                ; movq Rq(d), xmm0
                ; ucomisd xmm0, xmm0
                ; cmovp Rq(d), r11
            ),
        }
    }

    pub(super) fn emit_float_binop(
        &mut self,
        op: FloatBinOp,
        size: FloatSize,
        dst: Reg,
        lhs: Reg,
        rhs: Reg,
        canonicalize: bool,
    ) {
        self.bits_to_xmm(size, false, lhs);
        self.bits_to_xmm(size, true, rhs);
        match op {
            FloatBinOp::Add => sized!(self.ops, size, addss, addsd; xmm0, xmm1),
            FloatBinOp::Sub => sized!(self.ops, size, subss, subsd; xmm0, xmm1),
            FloatBinOp::Mul => sized!(self.ops, size, mulss, mulsd; xmm0, xmm1),
            FloatBinOp::Div => sized!(self.ops, size, divss, divsd; xmm0, xmm1),
            FloatBinOp::Min | FloatBinOp::Max => self.min_max(op == FloatBinOp::Min, size),
        }
        self.xmm0_to_bits(size, dst, canonicalize);
    }

    /// xmm0 = min/max(xmm0, xmm1) with wasm semantics. `minss`/`maxss` return the second
    /// operand when either is a NaN or both are zeros, so those cases go their own way:
    /// NaN → a NaN (`addss` of the two: quiet, canonicalized later if asked); equal
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

    pub(super) fn emit_float_unop(
        &mut self,
        op: FloatUnOp,
        size: FloatSize,
        dst: Reg,
        src: Reg,
        canonicalize: bool,
    ) {
        self.bits_to_xmm(size, false, src);
        match round_mode(op) {
            Some(mode) => sized!(self.ops, size, roundss, roundsd; xmm0, xmm0, mode),
            None => sized!(self.ops, size, sqrtss, sqrtsd; xmm0, xmm0),
        }
        self.xmm0_to_bits(size, dst, canonicalize);
    }

    /// `ucomis` sets ZF, PF and CF (all three for unordered). `a < b` is `b > a`, so the
    /// "less" forms swap the operands and every ordered test is `seta`/`setae` (CF = 0:
    /// false when unordered); `eq` also needs PF = 0 and `ne` accepts PF = 1.
    pub(super) fn emit_float_cmp(
        &mut self,
        op: FloatCmp,
        size: FloatSize,
        dst: Reg,
        lhs: Reg,
        rhs: Reg,
    ) {
        let d = dst.0;
        let swap = matches!(op, FloatCmp::Lt | FloatCmp::Le);
        self.bits_to_xmm(size, swap, lhs);
        self.bits_to_xmm(size, !swap, rhs);
        // Zeroed before the compare (a `xor` clobbers flags); `setcc` writes the low byte.
        asm!(self.ops; xor Rd(d), Rd(d));
        sized!(self.ops, size, ucomiss, ucomisd; xmm0, xmm1);
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

    pub(super) fn emit_float_resize(
        &mut self,
        to: FloatSize,
        dst: Reg,
        src: Reg,
        canonicalize: bool,
    ) {
        match to {
            FloatSize::F64 => {
                self.bits_to_xmm(FloatSize::F32, false, src);
                asm!(self.ops; cvtss2sd xmm0, xmm0);
            }
            FloatSize::F32 => {
                self.bits_to_xmm(FloatSize::F64, false, src);
                asm!(self.ops; cvtsd2ss xmm0, xmm0);
            }
        }
        self.xmm0_to_bits(to, dst, canonicalize);
    }

    /// `cvtsi2ss/sd` converts a signed integer. An i32 lives zero-extended, so its
    /// unsigned value is the signed 64-bit conversion; a u64 with the top bit set is
    /// halved first, keeping the lost bit as a sticky bit (`x >> 1 | x & 1`) so that the
    /// halved value rounds the same way, then doubled (exact).
    pub(super) fn emit_int_to_float(&mut self, conv: IntFloat, dst: Reg, src: Reg) {
        let s = src.0;
        let f = conv.float;
        // Writing only the low lane of xmm0 would depend on its previous value.
        asm!(self.ops; xorps xmm0, xmm0);
        match (conv.int, conv.signed) {
            (Size::S32, true) => sized!(self.ops, f, cvtsi2ss, cvtsi2sd; xmm0, Rd(s)),
            (Size::S32, false) | (Size::S64, true) => {
                sized!(self.ops, f, cvtsi2ss, cvtsi2sd; xmm0, Rq(s))
            }
            (Size::S64, false) => {
                let (halve, done) = (self.ops.new_dynamic_label(), self.ops.new_dynamic_label());
                asm!(self.ops
                    ; test Rq(s), Rq(s)
                    ; js =>halve
                );
                sized!(self.ops, f, cvtsi2ss, cvtsi2sd; xmm0, Rq(s));
                asm!(self.ops
                    ; jmp =>done
                    ; =>halve
                    ; mov rax, Rq(s)
                    ; shr rax, 1
                    ; mov ecx, Rd(s)
                    ; and ecx, 1
                    ; or rax, rcx
                );
                sized!(self.ops, f, cvtsi2ss, cvtsi2sd; xmm0, rax);
                sized!(self.ops, f, addss, addsd; xmm0, xmm0);
                asm!(self.ops; =>done);
            }
        }
        // An integer never converts to a NaN.
        self.xmm0_to_bits(f, dst, false);
    }

    /// Checks NaN and the range (`IntFloat::trunc_range`) with `ucomis`, jumping to the
    /// trap labels or to local saturation code, then converts an in-range value.
    pub(super) fn emit_float_to_int(
        &mut self,
        conv: IntFloat,
        dst: Reg,
        src: Reg,
        mode: TruncMode,
    ) {
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
        self.bits_to_xmm(f, false, src);
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
