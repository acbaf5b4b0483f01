//! Moves, integer arithmetic, comparisons and condition materialisation.
//!
//! AArch64 is three-operand, so `dst`, `lhs` and `rhs` may alias freely. `W` forms zero
//! the upper 32 bits, which keeps the "i32 lives zero-extended" invariant for free.
//! Immediates: `add`/`sub`/`cmp` take 12-bit unsigned ones (negated ones flip the
//! operation), logical operations take "bitmask immediates"; anything else is
//! materialised in x16 with `movz`/`movn` + `movk`, which never touch the flags.

use dynasmrt::aarch64::{encode_logical_immediate_32bit, encode_logical_immediate_64bit};
use dynasmrt::DynasmApi;

use super::regs::{SCRATCH, XZR};
use super::A64Masm;
use crate::masm::{Address, Base, LoadKind};
use crate::masm::{AluOp, BitOp, Cond, DivOp, ExtendOp, Operand, Reg, ShiftOp, Size};

/// `$mn` with a condition operand, for every [`Cond`].
macro_rules! with_cond {
    ($ops:expr, $cond:expr, ($($pre:tt)*)) => {{
        match $cond {
            Cond::Eq => asm!($ops; $($pre)* eq),
            Cond::Ne => asm!($ops; $($pre)* ne),
            Cond::LtS => asm!($ops; $($pre)* lt),
            Cond::LtU => asm!($ops; $($pre)* lo),
            Cond::GtS => asm!($ops; $($pre)* gt),
            Cond::GtU => asm!($ops; $($pre)* hi),
            Cond::LeS => asm!($ops; $($pre)* le),
            Cond::LeU => asm!($ops; $($pre)* ls),
            Cond::GeS => asm!($ops; $($pre)* ge),
            Cond::GeU => asm!($ops; $($pre)* hs),
        }
    }};
}

/// `$mn d, l, r` in both sizes (registers).
macro_rules! rrr {
    ($ops:expr, $mn:ident, $size:expr, $d:expr, $l:expr, $r:expr) => {{
        let (d, l, r): (u8, u8, u8) = ($d, $l, $r);
        match $size {
            Size::S32 => asm!($ops; $mn W(d), W(l), W(r)),
            Size::S64 => asm!($ops; $mn X(d), X(l), X(r)),
        }
    }};
}

/// The low `size` bits of an immediate, as the operation sees them.
pub(super) fn imm_bits(size: Size, imm: i64) -> u64 {
    match size {
        Size::S32 => imm as u32 as u64,
        Size::S64 => imm as u64,
    }
}

/// The value of a 12-bit unsigned `add`/`sub` immediate, and whether it is the negation
/// of `value` (so the opposite operation applies). `None` when neither fits.
pub(super) fn add_imm12(size: Size, value: u64) -> Option<(u32, bool)> {
    let neg = match size {
        Size::S32 => (value as u32).wrapping_neg() as u64,
        Size::S64 => value.wrapping_neg(),
    };
    if value < 4096 {
        Some((value as u32, false))
    } else if neg < 4096 {
        Some((neg as u32, true))
    } else {
        None
    }
}

impl A64Masm {
    /// `dst = src`, leaving the flags alone.
    pub(super) fn emit_mov(&mut self, size: Size, dst: Reg, src: Operand) {
        let d = dst.0;
        match src {
            Operand::Reg(r) => self.mov_reg(size, d, r.0),
            Operand::Imm(i) => self.mov_imm(d, imm_bits(size, i)),
            Operand::Frame(o) => {
                let kind = match size {
                    Size::S32 => LoadKind::I32,
                    Size::S64 => LoadKind::I64,
                };
                self.emit_load(kind, dst, Address::at(Base::Frame, o.into()));
            }
        }
    }

    /// `dst = src` between registers (a 32-bit move zero-extends even when `dst == src`).
    pub(super) fn mov_reg(&mut self, size: Size, d: u8, s: u8) {
        match size {
            Size::S32 => asm!(self.ops; mov W(d), W(s)),
            Size::S64 => {
                if d != s {
                    asm!(self.ops; mov X(d), X(s))
                }
            }
        }
    }

    /// `reg = value` with `movz` (or `movn` when most halfwords are 0xffff) and `movk`
    /// for each remaining halfword: at most 4 instructions, flags untouched.
    pub(super) fn mov_imm(&mut self, d: u8, value: u64) {
        let halves: [u32; 4] = std::array::from_fn(|i| ((value >> (16 * i)) & 0xffff) as u32);
        let ones = halves.iter().filter(|&&h| h == 0xffff).count();
        let zeros = halves.iter().filter(|&&h| h == 0).count();
        let inverted = ones > zeros;
        let filler = if inverted { 0xffff } else { 0 };
        let first = halves.iter().position(|&h| h != filler).unwrap_or(0);
        let h = halves[first];
        match (inverted, first) {
            (false, 0) => asm!(self.ops; movz X(d), #h),
            (false, 1) => asm!(self.ops; movz X(d), #h, lsl #16),
            (false, 2) => asm!(self.ops; movz X(d), #h, lsl #32),
            (false, _) => asm!(self.ops; movz X(d), #h, lsl #48),
            (true, i) => {
                let n = !h & 0xffff;
                match i {
                    0 => asm!(self.ops; movn X(d), #n),
                    1 => asm!(self.ops; movn X(d), #n, lsl #16),
                    2 => asm!(self.ops; movn X(d), #n, lsl #32),
                    _ => asm!(self.ops; movn X(d), #n, lsl #48),
                }
            }
        }
        for (i, &h) in halves.iter().enumerate() {
            if i == first || h == filler {
                continue;
            }
            match i {
                0 => asm!(self.ops; movk X(d), #h),
                1 => asm!(self.ops; movk X(d), #h, lsl #16),
                2 => asm!(self.ops; movk X(d), #h, lsl #32),
                _ => asm!(self.ops; movk X(d), #h, lsl #48),
            }
        }
    }

    /// A register holding `op` (read with `size`): itself, or x16 loaded/materialised.
    pub(super) fn operand_reg(&mut self, size: Size, op: Operand) -> u8 {
        match op {
            Operand::Reg(r) => r.0,
            Operand::Imm(0) => XZR,
            Operand::Imm(i) => {
                self.mov_imm(SCRATCH, imm_bits(size, i));
                SCRATCH
            }
            Operand::Frame(_) => {
                self.emit_mov(size, Reg(SCRATCH), op);
                SCRATCH
            }
        }
    }

    pub(super) fn emit_alu(&mut self, op: AluOp, size: Size, dst: Reg, lhs: Reg, rhs: Operand) {
        let (d, l) = (dst.0, lhs.0);
        if let Operand::Imm(i) = rhs {
            let value = imm_bits(size, i);
            match op {
                AluOp::Add | AluOp::Sub => {
                    if let Some((imm, negated)) = add_imm12(size, value) {
                        let add = (op == AluOp::Add) != negated;
                        match (size, add) {
                            (Size::S32, true) => asm!(self.ops; add WSP(d), WSP(l), #imm),
                            (Size::S64, true) => asm!(self.ops; add XSP(d), XSP(l), #imm),
                            (Size::S32, false) => asm!(self.ops; sub WSP(d), WSP(l), #imm),
                            (Size::S64, false) => asm!(self.ops; sub XSP(d), XSP(l), #imm),
                        }
                        return;
                    }
                }
                AluOp::And | AluOp::Or | AluOp::Xor => {
                    let encodable = match size {
                        Size::S32 => encode_logical_immediate_32bit(value as u32).is_some(),
                        Size::S64 => encode_logical_immediate_64bit(value).is_some(),
                    };
                    if encodable {
                        let (v32, v64) = (value as u32, value);
                        match (op, size) {
                            (AluOp::And, Size::S32) => asm!(self.ops; and WSP(d), W(l), #v32),
                            (AluOp::And, Size::S64) => asm!(self.ops; and XSP(d), X(l), #v64),
                            (AluOp::Or, Size::S32) => asm!(self.ops; orr WSP(d), W(l), #v32),
                            (AluOp::Or, Size::S64) => asm!(self.ops; orr XSP(d), X(l), #v64),
                            (_, Size::S32) => asm!(self.ops; eor WSP(d), W(l), #v32),
                            (_, Size::S64) => asm!(self.ops; eor XSP(d), X(l), #v64),
                        }
                        return;
                    }
                }
                AluOp::Mul => {}
            }
        }
        let r = self.operand_reg(size, rhs);
        match op {
            AluOp::Add => rrr!(self.ops, add, size, d, l, r),
            AluOp::Sub => rrr!(self.ops, sub, size, d, l, r),
            AluOp::Mul => rrr!(self.ops, mul, size, d, l, r),
            AluOp::And => rrr!(self.ops, and, size, d, l, r),
            AluOp::Or => rrr!(self.ops, orr, size, d, l, r),
            AluOp::Xor => rrr!(self.ops, eor, size, d, l, r),
        }
    }

    /// Register counts: `lslv`/`asrv`/`lsrv`/`rorv` use the count modulo the width, as
    /// wasm does; `rotl` is `ror` by the negated count.
    pub(super) fn emit_shift(&mut self, op: ShiftOp, size: Size, dst: Reg, lhs: Reg, rhs: Operand) {
        let (d, l) = (dst.0, lhs.0);
        let width: u64 = match size {
            Size::S32 => 32,
            Size::S64 => 64,
        };
        if let Operand::Imm(c) = rhs {
            let c = (c as u64 % width) as u32;
            if c == 0 {
                self.mov_reg(size, d, l);
                return;
            }
            match (op, size) {
                (ShiftOp::Shl, Size::S32) => asm!(self.ops; lsl W(d), W(l), #c),
                (ShiftOp::Shl, Size::S64) => asm!(self.ops; lsl X(d), X(l), #c),
                (ShiftOp::ShrS, Size::S32) => asm!(self.ops; asr W(d), W(l), #c),
                (ShiftOp::ShrS, Size::S64) => asm!(self.ops; asr X(d), X(l), #c),
                (ShiftOp::ShrU, Size::S32) => asm!(self.ops; lsr W(d), W(l), #c),
                (ShiftOp::ShrU, Size::S64) => asm!(self.ops; lsr X(d), X(l), #c),
                (ShiftOp::Rotr, Size::S32) => asm!(self.ops; ror W(d), W(l), #c),
                (ShiftOp::Rotr, Size::S64) => asm!(self.ops; ror X(d), X(l), #c),
                (ShiftOp::Rotl, Size::S32) => {
                    let r = 32 - c;
                    asm!(self.ops; ror W(d), W(l), #r)
                }
                (ShiftOp::Rotl, Size::S64) => {
                    let r = 64 - c;
                    asm!(self.ops; ror X(d), X(l), #r)
                }
            }
            return;
        }
        let mut r = self.operand_reg(size, rhs);
        if op == ShiftOp::Rotl {
            match size {
                Size::S32 => asm!(self.ops; neg W(SCRATCH), W(r)),
                Size::S64 => asm!(self.ops; neg X(SCRATCH), X(r)),
            }
            r = SCRATCH;
        }
        match op {
            ShiftOp::Shl => rrr!(self.ops, lslv, size, d, l, r),
            ShiftOp::ShrS => rrr!(self.ops, asrv, size, d, l, r),
            ShiftOp::ShrU => rrr!(self.ops, lsrv, size, d, l, r),
            ShiftOp::Rotl | ShiftOp::Rotr => rrr!(self.ops, rorv, size, d, l, r),
        }
    }

    /// `sdiv`/`udiv`; remainders as `lhs - (lhs / rhs) * rhs` with `msub`. AArch64 never
    /// traps on division (x / 0 = 0, MIN / -1 = MIN): codegen has checked both cases
    /// before, exactly as on x86-64, so the results agree.
    pub(super) fn emit_div(&mut self, op: DivOp, size: Size, dst: Reg, lhs: Reg, rhs: Reg) {
        let (d, l, r) = (dst.0, lhs.0, rhs.0);
        let s = SCRATCH;
        match (op, size) {
            (DivOp::DivS, _) => rrr!(self.ops, sdiv, size, d, l, r),
            (DivOp::DivU, _) => rrr!(self.ops, udiv, size, d, l, r),
            (DivOp::RemS, Size::S32) => {
                asm!(self.ops; sdiv W(s), W(l), W(r); msub W(d), W(s), W(r), W(l))
            }
            (DivOp::RemS, Size::S64) => {
                asm!(self.ops; sdiv X(s), X(l), X(r); msub X(d), X(s), X(r), X(l))
            }
            (DivOp::RemU, Size::S32) => {
                asm!(self.ops; udiv W(s), W(l), W(r); msub W(d), W(s), W(r), W(l))
            }
            (DivOp::RemU, Size::S64) => {
                asm!(self.ops; udiv X(s), X(l), X(r); msub X(d), X(s), X(r), X(l))
            }
        }
    }

    /// `clz` gives the width for 0 already; `ctz` is `clz` of the bit-reversed value;
    /// `popcnt` goes through the vector unit (`cnt` per byte, `addv` to sum) in v16.
    pub(super) fn emit_bit_count(&mut self, op: BitOp, size: Size, dst: Reg, src: Reg) {
        let (d, s) = (dst.0, src.0);
        match (op, size) {
            (BitOp::Clz, Size::S32) => asm!(self.ops; clz W(d), W(s)),
            (BitOp::Clz, Size::S64) => asm!(self.ops; clz X(d), X(s)),
            (BitOp::Ctz, Size::S32) => asm!(self.ops; rbit W(SCRATCH), W(s); clz W(d), W(SCRATCH)),
            (BitOp::Ctz, Size::S64) => asm!(self.ops; rbit X(SCRATCH), X(s); clz X(d), X(SCRATCH)),
            (BitOp::Popcnt, Size::S32) => asm!(self.ops
                ; fmov s16, W(s)
                ; cnt v16.b8, v16.b8
                ; addv b16, v16.b8
                ; fmov W(d), s16
            ),
            (BitOp::Popcnt, Size::S64) => asm!(self.ops
                ; fmov d16, X(s)
                ; cnt v16.b8, v16.b8
                ; addv b16, v16.b8
                ; fmov W(d), s16
            ),
        }
    }

    pub(super) fn emit_extend(&mut self, op: ExtendOp, dst: Reg, src: Reg) {
        let (d, s) = (dst.0, src.0);
        match op {
            ExtendOp::Wrap | ExtendOp::I64FromI32U => asm!(self.ops; mov W(d), W(s)),
            ExtendOp::I64FromI32S | ExtendOp::I64From32S => asm!(self.ops; sxtw X(d), W(s)),
            ExtendOp::I32From8S => asm!(self.ops; sxtb W(d), W(s)),
            ExtendOp::I32From16S => asm!(self.ops; sxth W(d), W(s)),
            ExtendOp::I64From8S => asm!(self.ops; sxtb X(d), W(s)),
            ExtendOp::I64From16S => asm!(self.ops; sxth X(d), W(s)),
        }
    }

    pub(super) fn emit_cmp(&mut self, size: Size, lhs: Reg, rhs: Operand) {
        let l = lhs.0;
        if let Operand::Imm(i) = rhs {
            // `cmn x, #k` sets exactly the flags of `cmp x, #-k` (for k != 0).
            if let Some((imm, negated)) = add_imm12(size, imm_bits(size, i)) {
                match (size, negated) {
                    (Size::S32, false) => asm!(self.ops; cmp WSP(l), #imm),
                    (Size::S64, false) => asm!(self.ops; cmp XSP(l), #imm),
                    (Size::S32, true) => asm!(self.ops; cmn WSP(l), #imm),
                    (Size::S64, true) => asm!(self.ops; cmn XSP(l), #imm),
                }
                return;
            }
        }
        let r = self.operand_reg(size, rhs);
        match size {
            Size::S32 => asm!(self.ops; cmp W(l), W(r)),
            Size::S64 => asm!(self.ops; cmp X(l), X(r)),
        }
    }

    pub(super) fn emit_set_cond(&mut self, cond: Cond, dst: Reg) {
        let d = dst.0;
        with_cond!(self.ops, cond, (cset W(d),));
    }

    /// `csel dst, src, dst, cond`; the `W` form zero-extends, as `S32` wants.
    pub(super) fn emit_cmov(&mut self, cond: Cond, size: Size, dst: Reg, src: Reg) {
        let (d, s) = (dst.0, src.0);
        match size {
            Size::S32 => with_cond!(self.ops, cond, (csel W(d), W(s), W(d),)),
            Size::S64 => with_cond!(self.ops, cond, (csel X(d), X(s), X(d),)),
        }
    }
}
