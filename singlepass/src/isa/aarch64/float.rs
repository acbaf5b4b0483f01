//! Floating-point operations on float registers, and the moves between float registers
//! and bit patterns.
//!
//! Codegen allocates v18..v29 for float temporaries (see `regs`); v16/v17 are this file's
//! scratch inside one method (a truncation bound), v30/v31 the bit-pattern forms' operands.
//! Bits enter with `fmov s, w` / `fmov d, x` and leave with `fmov w, s` (which zeroes the
//! upper 32 bits, so an f32 stays zero-extended like an i32). Every operation is a
//! three-operand instruction, so `dst` may alias any input.
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
//! signalling). So the `canonicalize` flag of `float_to_bits` costs no instruction here:
//! a float register only ever holds an operation's result (or an input of one, whose
//! payload no result shows), and results are canonical either way, which is also a valid
//! result when canonicalization is not asked for (the canonical NaN is an arithmetic NaN).
//! Only bit operations (`fneg`, `fabs`, `copysign`, moves) keep payloads, and codegen does
//! those on the integer bits.

use dynasmrt::DynasmApi;

use super::regs::{FLOAT_B, SCRATCH};
use super::A64Masm;
use crate::masm::{
    Address, Base, Cond, FReg, FloatBinOp, FloatCmp, FloatSize, FloatUnOp, IntFloat, Label,
    LoadKind, Operand, Reg, Size, StoreWidth, TruncMode,
};

/// FPCR while wasm runs: DN (bit 25) set; RMode (bits 23:22) = 00, round to nearest even;
/// FZ (bit 24), FZ16 (bit 19), AHP (bit 26), every trap-enable bit and the FEAT_AFP bits
/// (FIZ, AH, NEP) clear.
pub(super) const DETERMINISTIC_FPCR: u64 = 1 << 25;

/// `$mn` on two float registers of `size` (`Sd, Sn` or `Dd, Dn`).
macro_rules! ff {
    ($ops:expr, $mn:ident, $size:expr, $d:expr, $n:expr) => {{
        let (d, n): (u8, u8) = ($d, $n);
        match $size {
            FloatSize::F32 => asm!($ops; $mn S(d), S(n)),
            FloatSize::F64 => asm!($ops; $mn D(d), D(n)),
        }
    }};
}

/// `$mn` on three float registers of `size`.
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
    /// Float register `v` = the `size` float whose bits are in integer register `x`.
    fn float_in(&mut self, size: FloatSize, v: u8, x: u8) {
        match size {
            FloatSize::F32 => asm!(self.ops; fmov S(v), W(x)),
            FloatSize::F64 => asm!(self.ops; fmov D(v), X(x)),
        }
    }

    /// Integer register `x` = the bits of float register `v` (an f32 zero-extended).
    fn float_out(&mut self, size: FloatSize, x: u8, v: u8) {
        match size {
            FloatSize::F32 => asm!(self.ops; fmov W(x), S(v)),
            FloatSize::F64 => asm!(self.ops; fmov X(x), D(v)),
        }
    }

    /// A constant or a frame slot goes through x16 (`movz`/`movk` or a load: flag-free).
    pub(super) fn emit_float_from_bits(&mut self, size: FloatSize, dst: FReg, src: Operand) {
        let x = match src {
            Operand::Reg(r) => r.0,
            Operand::Imm(bits) => {
                self.mov_imm(SCRATCH, bits as u64);
                SCRATCH
            }
            Operand::Frame(offset) => {
                self.emit_load(
                    LoadKind::I64,
                    Reg(SCRATCH),
                    Address::at(Base::Frame, offset.into()),
                );
                SCRATCH
            }
        };
        self.float_in(size, dst.0, x);
    }

    /// `canonicalize` needs no code: see the module docs (FPCR.DN).
    pub(super) fn emit_float_to_bits(&mut self, size: FloatSize, dst: Reg, src: FReg) {
        self.float_out(size, dst.0, src.0);
    }

    /// Float register `dst` = `src`, bits unchanged (`fmov` between float registers never
    /// canonicalizes). Canonicalizing needs no code: see the module docs (FPCR.DN).
    pub(super) fn emit_float_move(&mut self, size: FloatSize, dst: FReg, src: FReg) {
        ff!(self.ops, fmov, size, dst.0, src.0);
    }

    /// The slot = the bits, through x16 (addresses use x17).
    pub(super) fn emit_float_spill(&mut self, size: FloatSize, offset: i32, src: FReg) {
        self.float_out(size, SCRATCH, src.0);
        self.emit_store(
            StoreWidth::B64,
            Address::at(Base::Frame, offset.into()),
            Operand::Reg(Reg(SCRATCH)),
        );
    }

    pub(super) fn emit_fp_binop(
        &mut self,
        op: FloatBinOp,
        size: FloatSize,
        dst: FReg,
        lhs: FReg,
        rhs: FReg,
    ) {
        let (d, a, b) = (dst.0, lhs.0, rhs.0);
        match op {
            FloatBinOp::Add => fff!(self.ops, fadd, size, d, a, b),
            FloatBinOp::Sub => fff!(self.ops, fsub, size, d, a, b),
            FloatBinOp::Mul => fff!(self.ops, fmul, size, d, a, b),
            FloatBinOp::Div => fff!(self.ops, fdiv, size, d, a, b),
            FloatBinOp::Min => fff!(self.ops, fmin, size, d, a, b),
            FloatBinOp::Max => fff!(self.ops, fmax, size, d, a, b),
        }
    }

    /// `frintp`/`frintm`/`frintz`/`frintn` round toward +∞, −∞, zero and to nearest even
    /// whatever FPCR.RMode says.
    pub(super) fn emit_fp_unop(&mut self, op: FloatUnOp, size: FloatSize, dst: FReg, src: FReg) {
        let (d, a) = (dst.0, src.0);
        match op {
            FloatUnOp::Sqrt => ff!(self.ops, fsqrt, size, d, a),
            FloatUnOp::Ceil => ff!(self.ops, frintp, size, d, a),
            FloatUnOp::Floor => ff!(self.ops, frintm, size, d, a),
            FloatUnOp::Trunc => ff!(self.ops, frintz, size, d, a),
            FloatUnOp::Nearest => ff!(self.ops, frintn, size, d, a),
        }
    }

    /// `fcmp` sets NZCV to 0110 (equal), 1000 (less), 0010 (greater) or 0011 (unordered).
    /// The conditions below hold for exactly the wasm results: `eq` (Z), `ne` (!Z, so
    /// true when unordered), `mi` (N: less only), `gt` (!Z && N == V), `ls` (!C || Z:
    /// less or equal) and `ge` (N == V: greater or equal).
    pub(super) fn emit_fp_cmp(
        &mut self,
        op: FloatCmp,
        size: FloatSize,
        dst: Reg,
        lhs: FReg,
        rhs: FReg,
    ) {
        let d = dst.0;
        ff!(self.ops, fcmp, size, lhs.0, rhs.0);
        match op {
            FloatCmp::Eq => asm!(self.ops; cset W(d), eq),
            FloatCmp::Ne => asm!(self.ops; cset W(d), ne),
            FloatCmp::Lt => asm!(self.ops; cset W(d), mi),
            FloatCmp::Gt => asm!(self.ops; cset W(d), gt),
            FloatCmp::Le => asm!(self.ops; cset W(d), ls),
            FloatCmp::Ge => asm!(self.ops; cset W(d), ge),
        }
    }

    /// `fcmp` sets NZCV = 0011 on an unordered result: `eq`, `lo` (C = 0), `ls`
    /// (C = 0 or Z = 1), `gt` (Z = 0 and N = V) and `ge` (N = V) are then false and `ne`
    /// true, exactly wasm's results, and the same conditions are right for ordered
    /// operands. So every comparison is one condition.
    pub(super) fn emit_fp_cmp_flags(
        &mut self,
        op: FloatCmp,
        size: FloatSize,
        lhs: FReg,
        rhs: FReg,
    ) -> Option<Cond> {
        ff!(self.ops, fcmp, size, lhs.0, rhs.0);
        Some(match op {
            FloatCmp::Eq => Cond::Eq,
            FloatCmp::Ne => Cond::Ne,
            FloatCmp::Lt => Cond::LtU,
            FloatCmp::Le => Cond::LeU,
            FloatCmp::Gt => Cond::GtS,
            FloatCmp::Ge => Cond::GeS,
        })
    }

    /// `fcvt`: promotion is exact, demotion rounds by FPCR.RMode (nearest even). A NaN
    /// becomes the default NaN (FPCR.DN).
    pub(super) fn emit_fp_resize(&mut self, to: FloatSize, dst: FReg, src: FReg) {
        let (d, a) = (dst.0, src.0);
        match to {
            FloatSize::F64 => asm!(self.ops; fcvt D(d), S(a)),
            FloatSize::F32 => asm!(self.ops; fcvt S(d), D(a)),
        }
    }

    /// `scvtf`/`ucvtf`, rounding by FPCR.RMode (nearest even). An i32 is read through
    /// the `W` register, so its upper (zero) half never counts.
    pub(super) fn emit_int_to_fp(&mut self, conv: IntFloat, dst: FReg, src: Reg) {
        if conv.signed {
            int_to_float!(self.ops, scvtf, conv, dst.0, src.0);
        } else {
            int_to_float!(self.ops, ucvtf, conv, dst.0, src.0);
        }
    }

    /// `fcvtzs`/`fcvtzu` round toward zero and saturate (NaN gives 0): `Saturate` is that
    /// instruction alone. `Trap` first checks for NaN and the range, jumping with the far
    /// form of `emit_branch`. An i32 result is written through the `W` register, so the
    /// upper half is zero.
    pub(super) fn emit_fp_to_int(&mut self, conv: IntFloat, dst: Reg, src: FReg, mode: TruncMode) {
        let a = src.0;
        if let TruncMode::Trap { nan, overflow } = mode {
            self.trunc_checks(conv, a, nan, overflow);
        }
        if conv.signed {
            float_to_int!(self.ops, fcvtzs, conv, dst.0, a);
        } else {
            float_to_int!(self.ops, fcvtzu, conv, dst.0, a);
        }
    }

    /// Jump to `nan` if the float in `a` is NaN, to `overflow` if it is outside
    /// [`IntFloat::trunc_range`].
    ///
    /// `fcmp x, x` is unordered (Z clear) exactly for NaN, so `Ne` catches it. After
    /// that every `fcmp` is ordered, and ordered float flags (V clear) read like those
    /// of a signed integer comparison: the signed [`Cond`]s apply.
    fn trunc_checks(&mut self, conv: IntFloat, a: u8, nan: Label, overflow: Label) {
        let (b, size) = (FLOAT_B, conv.float);
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

    /// Float register `v` = the float with bit pattern `bits`, through x16.
    fn load_float_bits(&mut self, size: FloatSize, v: u8, bits: u64) {
        self.mov_imm(SCRATCH, bits);
        self.float_in(size, v, SCRATCH);
    }
}
