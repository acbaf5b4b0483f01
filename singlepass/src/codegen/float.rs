//! Float operators: arithmetic, comparisons, conversions and the bitwise sign operations.
//!
//! Float values rest as bit patterns in integer locations (see [`Kind`]), so constants,
//! globals, `select`, calls and reinterpretations need nothing float-specific: they move
//! bits. (Loads and stores go straight between memory and float registers, and hot float
//! locals live in float registers: see `stack` and `regalloc`.) Arithmetic takes its
//! operands in float registers and leaves its result in one ([`Loc::FReg`]), so chained
//! float operators stay in the float unit; the result becomes bits, with a NaN
//! canonicalized when the compile options ask for it (the deterministic default), only
//! where something else reads it (see `stack`).
//! That is the same observable result as canonicalizing after every operator: each float
//! operator maps any NaN input to a NaN (or a trap, or a comparison that ignores the
//! payload), so no intermediate NaN's payload can reach the bits. `abs`, `neg` and
//! `copysign` are integer bit operations, as wasm defines them, and so never touch a
//! NaN's payload.

use crate::masm::{
    AluOp, FloatBinOp, FloatCmp, FloatSize, FloatUnOp, IntFloat, MacroAssembler, Operand, Size,
    TruncMode,
};
use crate::TrapKind;

use super::func::FuncGen;
use super::stack::{Kind, Loc};

/// The stack class of a float size.
pub(crate) fn float_kind(size: FloatSize) -> Kind {
    match size {
        FloatSize::F32 => Kind::F32,
        FloatSize::F64 => Kind::F64,
    }
}

/// The stack class of an integer size.
fn int_kind(size: Size) -> Kind {
    match size {
        Size::S32 => Kind::I32,
        Size::S64 => Kind::I64,
    }
}

impl<M: MacroAssembler> FuncGen<'_, M> {
    /// `f32.add`, `f64.min`, …: the result stays in the left operand's float register,
    /// or a new one when that is a local's (read where it lives, like the right operand).
    pub fn float_binop(&mut self, op: FloatBinOp, size: FloatSize) {
        let rhs = self.pop_entry();
        let lhs = self.pop_entry();
        if let (Loc::Const(c), Some((local, home))) = (lhs.loc, self.result_local(float_kind(size)))
        {
            // A constant on the left of a result written into a local: loaded straight
            // into the local's register (unless the right operand lives there), not into
            // a temporary copied there.
            let (b, b_owned) = self.float_source(rhs);
            if b != home {
                self.materialize_local(local);
                self.masm.float_from_bits(size, home, Operand::Imm(c));
                self.masm.fp_binop(op, size, home, home, b);
                if b_owned {
                    self.free_float(b);
                }
                self.push_local_result(size, local);
                return;
            }
            let a = self.float_operand(lhs);
            return self.float_binop_sources(op, size, (a, true), (b, b_owned));
        }
        let (a, a_owned) = self.float_source(lhs);
        let (b, b_owned) = self.float_source(rhs);
        self.float_binop_sources(op, size, (a, a_owned), (b, b_owned));
    }

    /// [`Self::float_binop`] once its operands are in float registers (`owned`: the
    /// operator's to free).
    fn float_binop_sources(
        &mut self,
        op: FloatBinOp,
        size: FloatSize,
        (a, a_owned): (crate::masm::FReg, bool),
        (b, b_owned): (crate::masm::FReg, bool),
    ) {
        // `add` and `mul` commute exactly (signed zeros included); only which input NaN's
        // payload propagates depends on the order, and a canonicalizing function never
        // shows an operator's payload. So a local on the left and a register the operator
        // owns on the right compute in that register, with no copy of the local.
        let commutes = matches!(op, FloatBinOp::Add | FloatBinOp::Mul) && self.canonicalize_nans;
        let ((a, a_owned), (b, b_owned)) = if commutes && !a_owned && b_owned {
            ((b, b_owned), (a, a_owned))
        } else {
            ((a, a_owned), (b, b_owned))
        };
        if let Some((local, home)) = self.result_local(float_kind(size)) {
            // Entries still reading the local lazily keep its old value.
            self.materialize_local(local);
            self.masm.fp_binop(op, size, home, a, b);
            for (freg, owned) in [(a, a_owned), (b, b_owned)] {
                if owned {
                    self.free_float(freg);
                }
            }
            self.push_local_result(size, local);
            return;
        }
        let dst = if a_owned { a } else { self.alloc_float() };
        self.masm.fp_binop(op, size, dst, a, b);
        if b_owned {
            self.free_float(b);
        }
        self.push_float_result(float_kind(size), dst);
    }

    /// Pushes the result a float binary operator wrote into `local`'s register: the
    /// `local.set` that follows finds the local's own value and moves nothing. Not a lazy
    /// read to materialise (`push` would record it as one).
    fn push_local_result(&mut self, size: FloatSize, local: u32) {
        self.stack.push(super::stack::Entry {
            kind: float_kind(size),
            loc: Loc::Local(local),
        });
    }

    /// The local a float binary operator's result can be written into directly: the
    /// next operator (after the one-byte opcode at `offset`) is a `local.set` or
    /// `local.tee` of a float-register local of kind `kind` that takes a result as it
    /// is (results-only, or the function does not canonicalize: see
    /// `FuncGen::float_local_set`). Saves the copy from a temporary into the local's
    /// register; the `local.set` then sees the local's own value and emits nothing.
    /// Anything the byte scan does not recognise says no.
    fn result_local(&self, kind: Kind) -> Option<(u32, crate::masm::FReg)> {
        if self.unreachable {
            return None;
        }
        let at = usize::try_from(self.offset.checked_sub(self.code_start)?).ok()?;
        let mut bytes = super::bytes::Bytes {
            code: self.code,
            at,
        };
        // f32.add … f32.max, f64.add … f64.max: one byte, no immediates.
        let (0x92..=0x97 | 0xa0..=0xa5) = bytes.byte()? else {
            return None;
        };
        let (0x21 | 0x22) = bytes.byte()? else {
            return None;
        };
        let local = bytes.u32()?;
        let target = self.locals.get(local as usize)?;
        let home = self.float_home(local)?;
        let as_is = target.results_only || !self.canonicalize_nans;
        (target.kind == kind && as_is).then_some((local, home))
    }

    /// `f32.sqrt`, `f64.nearest`, …
    pub fn float_unop(&mut self, op: FloatUnOp, size: FloatSize) {
        let value = self.pop_entry();
        let dst = self.unary_destination(value, |masm, dst, src| masm.fp_unop(op, size, dst, src));
        self.push_float_result(float_kind(size), dst);
    }

    /// Runs a one-operand float instruction `emit(dst, src)` on `value`: in place in the
    /// register it owns, or from a float-register local into a new register.
    fn unary_destination(
        &mut self,
        value: super::stack::Popped,
        emit: impl FnOnce(&mut M, crate::masm::FReg, crate::masm::FReg),
    ) -> crate::masm::FReg {
        let (src, owned) = self.float_source(value);
        let dst = if owned { src } else { self.alloc_float() };
        emit(self.masm, dst, src);
        dst
    }

    /// `f32.eq`, `f64.lt`, …: pending flags, like an integer comparison, where the ISA
    /// tests the comparison with one condition (a `br_if`, `if` or `select` then
    /// branches on it directly); else an i32 0 or 1 in a register.
    pub fn float_compare(&mut self, op: FloatCmp, size: FloatSize) {
        let rhs = self.pop_entry();
        let lhs = self.pop_entry();
        let (a, a_owned) = self.float_source(lhs);
        let (b, b_owned) = self.float_source(rhs);
        let result = match self.masm.fp_cmp_flags(op, size, a, b) {
            Some(cond) => Loc::Flags(cond),
            None => {
                let dst = self.alloc();
                self.masm.fp_cmp(op, size, dst, a, b);
                Loc::Reg(dst)
            }
        };
        if a_owned {
            self.free_float(a);
        }
        if b_owned {
            self.free_float(b);
        }
        self.push(Kind::I32, result);
    }

    /// `f64.promote_f32` (`to` = F64) and `f32.demote_f64` (`to` = F32).
    pub fn float_resize(&mut self, to: FloatSize) {
        let value = self.pop_entry();
        let dst = self.unary_destination(value, |masm, dst, src| masm.fp_resize(to, dst, src));
        self.push_float_result(float_kind(to), dst);
    }

    /// `f32.convert_i64_u`, …
    pub fn int_to_float(&mut self, conv: IntFloat) {
        let value = self.pop();
        let src = self.register_operand(value);
        let dst = self.alloc_float();
        self.masm.int_to_fp(conv, dst, src);
        self.release_operand(value, src);
        self.push_float_result(float_kind(conv.float), dst);
    }

    /// `i32.trunc_f32_s` (traps on NaN and overflow) or `i32.trunc_sat_f32_s` (saturates).
    pub fn float_to_int(&mut self, conv: IntFloat, saturating: bool) {
        let value = self.pop_entry();
        let src = self.float_operand(value);
        let dst = self.alloc();
        let mode = if saturating {
            TruncMode::Saturate
        } else {
            TruncMode::Trap {
                nan: self.trap_label(TrapKind::InvalidConversionToInteger),
                overflow: self.trap_label(TrapKind::ConversionOverflow),
            }
        };
        self.masm.fp_to_int(conv, dst, src, mode);
        self.free_float(src);
        self.push_reg(int_kind(conv.int), dst);
    }

    /// `i32.reinterpret_f32`, `f64.reinterpret_i64`, …: the bits stay where they are.
    pub fn reinterpret(&mut self, to: Kind) {
        let value = self.pop();
        self.push(to, value.loc);
    }

    /// `f32.abs`: clear the sign bit.
    pub fn float_abs(&mut self, size: FloatSize) {
        self.push_const(float_kind(size), !size.sign_mask() as i64);
        self.alu(AluOp::And, float_kind(size));
    }

    /// `f32.neg`: flip the sign bit.
    pub fn float_neg(&mut self, size: FloatSize) {
        self.push_const(float_kind(size), size.sign_mask() as i64);
        self.alu(AluOp::Xor, float_kind(size));
    }

    /// `f32.copysign`: the magnitude of the first operand with the sign of the second.
    pub fn float_copysign(&mut self, size: FloatSize) {
        let kind = float_kind(size);
        self.push_const(kind, size.sign_mask() as i64);
        self.alu(AluOp::And, kind);
        let sign = self.pop();
        self.float_abs(size);
        // The sign goes back to the depth it was popped from, so a slot stays its own.
        self.push(sign.kind, sign.loc);
        self.alu(AluOp::Or, kind);
    }
}
