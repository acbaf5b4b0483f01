//! Floating-point operations on values held as bit patterns in integer registers.
//!
//! Every method moves its inputs into the float scratch registers v16/v17 (`fmov s, w` /
//! `fmov d, x`, see `regs`), computes there and moves the result back (`fmov w, s` zeroes
//! the upper 32 bits, so an f32 stays zero-extended like an i32). Nothing lives in a float
//! register between two masm calls, and `dst` may alias any input because every input is
//! read before `dst` is written.
//!
//! # Wasm semantics for free
//! - `fmin`/`fmax` (not `fminnm`/`fmaxnm`) return NaN when either input is NaN and order
//!   −0 below +0; `frintn` rounds ties to even; `fcvtzs`/`fcvtzu` saturate and turn NaN
//!   into 0, which is exactly `trunc_sat`.
//! - Rounding is round-to-nearest-even and subnormals are neither flushed nor treated as
//!   zero because the entry trampoline sets FPCR to [`DETERMINISTIC_FPCR`] for the whole
//!   call (see `traps`).
//!
//! # NaN canonicalization
//! The same FPCR has DN (default-NaN mode) set: every NaN an arithmetic instruction
//! produces — `fadd`..`fdiv`, `fmin`/`fmax`, `fsqrt`, `frint*`, `fcvt` — is then the
//! default NaN, which on AArch64 is the positive quiet NaN with a zero payload, exactly
//! [`FloatSize::canonical_nan`], whatever the inputs' signs and payloads (quiet or
//! signalling). So the `canonicalize` flag costs no instruction here: results are
//! canonical either way, which is also a valid result when canonicalization is not asked
//! for (the canonical NaN is an arithmetic NaN). Only bit operations (`fneg`, `fabs`,
//! `copysign`, moves) keep payloads, and codegen does those on the integer bits.

use dynasmrt::DynasmApi;

use super::regs::{FLOAT_A, FLOAT_B, SCRATCH};
use super::A64Masm;
use crate::masm::{
    Cond, FloatBinOp, FloatCmp, FloatSize, FloatUnOp, IntFloat, Label, Reg, Size, TruncMode,
};

/// FPCR while wasm runs: DN (bit 25) set; RMode (bits 23:22) = 00, round to nearest even;
/// FZ (bit 24), FZ16 (bit 19), AHP (bit 26), every trap-enable bit and the FEAT_AFP bits
/// (FIZ, AH, NEP) clear.
pub(super) const DETERMINISTIC_FPCR: u64 = 1 << 25;

/// `$mn` on two float scratch registers of `size` (`Sd, Sn` or `Dd, Dn`).
macro_rules! ff {
    ($ops:expr, $mn:ident, $size:expr, $d:expr, $n:expr) => {{
        let (d, n): (u8, u8) = ($d, $n);
        match $size {
            FloatSize::F32 => asm!($ops; $mn S(d), S(n)),
            FloatSize::F64 => asm!($ops; $mn D(d), D(n)),
        }
    }};
}

/// `$mn` on three float scratch registers of `size`.
macro_rules! fff {
    ($ops:expr, $mn:ident, $size:expr, $d:expr, $n:expr, $m:expr) => {{
        let (d, n, m): (u8, u8, u8) = ($d, $n, $m);
        match $size {
            FloatSize::F32 => asm!($ops; $mn S(d), S(n), S(m)),
            FloatSize::F64 => asm!($ops; $mn D(d), D(n), D(m)),
        }
    }};
}

/// An integer-to-float conversion `$mn` (`scvtf`/`ucvtf`) of every width pair.
macro_rules! int_to_float {
    ($ops:expr, $mn:ident, $conv:expr, $v:expr, $x:expr) => {{
        let (v, x): (u8, u8) = ($v, $x);
        match ($conv.float, $conv.int) {
            (FloatSize::F32, Size::S32) => asm!($ops; $mn S(v), W(x)),
            (FloatSize::F32, Size::S64) => asm!($ops; $mn S(v), X(x)),
            (FloatSize::F64, Size::S32) => asm!($ops; $mn D(v), W(x)),
            (FloatSize::F64, Size::S64) => asm!($ops; $mn D(v), X(x)),
        }
    }};
}

/// A float-to-integer conversion `$mn` (`fcvtzs`/`fcvtzu`) of every width pair.
macro_rules! float_to_int {
    ($ops:expr, $mn:ident, $conv:expr, $x:expr, $v:expr) => {{
        let (x, v): (u8, u8) = ($x, $v);
        match ($conv.int, $conv.float) {
            (Size::S32, FloatSize::F32) => asm!($ops; $mn W(x), S(v)),
            (Size::S32, FloatSize::F64) => asm!($ops; $mn W(x), D(v)),
            (Size::S64, FloatSize::F32) => asm!($ops; $mn X(x), S(v)),
            (Size::S64, FloatSize::F64) => asm!($ops; $mn X(x), D(v)),
        }
    }};
}

impl A64Masm {
    /// Float scratch `v` = the `size` float whose bits are in integer register `x`.
    fn float_in(&mut self, size: FloatSize, v: u8, x: u8) {
        match size {
            FloatSize::F32 => asm!(self.ops; fmov S(v), W(x)),
            FloatSize::F64 => asm!(self.ops; fmov D(v), X(x)),
        }
    }

    /// Integer register `x` = the bits of float scratch `v` (an f32 zero-extended).
    fn float_out(&mut self, size: FloatSize, x: u8, v: u8) {
        match size {
            FloatSize::F32 => asm!(self.ops; fmov W(x), S(v)),
            FloatSize::F64 => asm!(self.ops; fmov X(x), D(v)),
        }
    }

    /// `canonicalize` needs no code: see the module docs (FPCR.DN).
    pub(super) fn emit_float_binop(
        &mut self,
        op: FloatBinOp,
        size: FloatSize,
        dst: Reg,
        lhs: Reg,
        rhs: Reg,
        _canonicalize: bool,
    ) {
        let (a, b) = (FLOAT_A, FLOAT_B);
        self.float_in(size, a, lhs.0);
        self.float_in(size, b, rhs.0);
        match op {
            FloatBinOp::Add => fff!(self.ops, fadd, size, a, a, b),
            FloatBinOp::Sub => fff!(self.ops, fsub, size, a, a, b),
            FloatBinOp::Mul => fff!(self.ops, fmul, size, a, a, b),
            FloatBinOp::Div => fff!(self.ops, fdiv, size, a, a, b),
            FloatBinOp::Min => fff!(self.ops, fmin, size, a, a, b),
            FloatBinOp::Max => fff!(self.ops, fmax, size, a, a, b),
        }
        self.float_out(size, dst.0, a);
    }

    /// `frintp`/`frintm`/`frintz`/`frintn` round toward +∞, −∞, zero and to nearest even
    /// whatever FPCR.RMode says. `canonicalize` needs no code (FPCR.DN).
    pub(super) fn emit_float_unop(
        &mut self,
        op: FloatUnOp,
        size: FloatSize,
        dst: Reg,
        src: Reg,
        _canonicalize: bool,
    ) {
        let a = FLOAT_A;
        self.float_in(size, a, src.0);
        match op {
            FloatUnOp::Sqrt => ff!(self.ops, fsqrt, size, a, a),
            FloatUnOp::Ceil => ff!(self.ops, frintp, size, a, a),
            FloatUnOp::Floor => ff!(self.ops, frintm, size, a, a),
            FloatUnOp::Trunc => ff!(self.ops, frintz, size, a, a),
            FloatUnOp::Nearest => ff!(self.ops, frintn, size, a, a),
        }
        self.float_out(size, dst.0, a);
    }

    /// `fcmp` sets NZCV to 0110 (equal), 1000 (less), 0010 (greater) or 0011 (unordered).
    /// The conditions below hold for exactly the wasm results: `eq` (Z), `ne` (!Z, so
    /// true when unordered), `mi` (N: less only), `gt` (!Z && N == V), `ls` (!C || Z:
    /// less or equal) and `ge` (N == V: greater or equal).
    pub(super) fn emit_float_cmp(
        &mut self,
        op: FloatCmp,
        size: FloatSize,
        dst: Reg,
        lhs: Reg,
        rhs: Reg,
    ) {
        let (a, b, d) = (FLOAT_A, FLOAT_B, dst.0);
        self.float_in(size, a, lhs.0);
        self.float_in(size, b, rhs.0);
        ff!(self.ops, fcmp, size, a, b);
        match op {
            FloatCmp::Eq => asm!(self.ops; cset W(d), eq),
            FloatCmp::Ne => asm!(self.ops; cset W(d), ne),
            FloatCmp::Lt => asm!(self.ops; cset W(d), mi),
            FloatCmp::Gt => asm!(self.ops; cset W(d), gt),
            FloatCmp::Le => asm!(self.ops; cset W(d), ls),
            FloatCmp::Ge => asm!(self.ops; cset W(d), ge),
        }
    }

    /// `fcvt`: promotion is exact, demotion rounds by FPCR.RMode (nearest even). A NaN
    /// becomes the default NaN (FPCR.DN), so `canonicalize` needs no code.
    pub(super) fn emit_float_resize(
        &mut self,
        to: FloatSize,
        dst: Reg,
        src: Reg,
        _canonicalize: bool,
    ) {
        let a = FLOAT_A;
        match to {
            FloatSize::F64 => {
                self.float_in(FloatSize::F32, a, src.0);
                asm!(self.ops; fcvt D(a), S(a));
            }
            FloatSize::F32 => {
                self.float_in(FloatSize::F64, a, src.0);
                asm!(self.ops; fcvt S(a), D(a));
            }
        }
        self.float_out(to, dst.0, a);
    }

    /// `scvtf`/`ucvtf`, rounding by FPCR.RMode (nearest even). An i32 is read through
    /// the `W` register, so its upper (zero) half never counts.
    pub(super) fn emit_int_to_float(&mut self, conv: IntFloat, dst: Reg, src: Reg) {
        let a = FLOAT_A;
        if conv.signed {
            int_to_float!(self.ops, scvtf, conv, a, src.0);
        } else {
            int_to_float!(self.ops, ucvtf, conv, a, src.0);
        }
        self.float_out(conv.float, dst.0, a);
    }

    /// `fcvtzs`/`fcvtzu` round toward zero and saturate (NaN gives 0): `Saturate` is that
    /// instruction alone. `Trap` first checks for NaN and the range, jumping with the far
    /// form of `emit_branch`. An i32 result is written through the `W` register, so the
    /// upper half is zero.
    pub(super) fn emit_float_to_int(
        &mut self,
        conv: IntFloat,
        dst: Reg,
        src: Reg,
        mode: TruncMode,
    ) {
        let a = FLOAT_A;
        self.float_in(conv.float, a, src.0);
        if let TruncMode::Trap { nan, overflow } = mode {
            self.trunc_checks(conv, nan, overflow);
        }
        if conv.signed {
            float_to_int!(self.ops, fcvtzs, conv, dst.0, a);
        } else {
            float_to_int!(self.ops, fcvtzu, conv, dst.0, a);
        }
    }

    /// Jump to `nan` if the float in v16 is NaN, to `overflow` if it is outside
    /// [`IntFloat::trunc_range`].
    ///
    /// `fcmp x, x` is unordered (Z clear) exactly for NaN, so `Ne` catches it. After
    /// that every `fcmp` is ordered, and ordered float flags (V clear) read like those
    /// of a signed integer comparison: the signed [`Cond`]s apply.
    fn trunc_checks(&mut self, conv: IntFloat, nan: Label, overflow: Label) {
        let (a, b, size) = (FLOAT_A, FLOAT_B, conv.float);
        let range = conv.trunc_range();
        ff!(self.ops, fcmp, size, a, a);
        self.emit_branch(Cond::Ne, nan);
        self.load_float_bits(size, b, range.lower);
        ff!(self.ops, fcmp, size, a, b);
        // Valid iff lower < x (or lower <= x); overflow otherwise.
        let below = if range.lower_inclusive {
            Cond::LtS
        } else {
            Cond::LeS
        };
        self.emit_branch(below, overflow);
        self.load_float_bits(size, b, range.upper);
        ff!(self.ops, fcmp, size, a, b);
        // Valid iff x < upper.
        self.emit_branch(Cond::GeS, overflow);
    }

    /// Float scratch `v` = the float with bit pattern `bits`, through x16.
    fn load_float_bits(&mut self, size: FloatSize, v: u8, bits: u64) {
        self.mov_imm(SCRATCH, bits);
        self.float_in(size, v, SCRATCH);
    }
}
