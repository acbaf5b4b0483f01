//! Float operators: arithmetic, comparisons, conversions and the bitwise sign operations.
//!
//! Float values are bit patterns in integer locations (see [`Kind`]), so constants,
//! loads, stores, locals, globals, `select`, calls and reinterpretations need nothing
//! float-specific: they move bits. Arithmetic goes through the masm's float operations,
//! which canonicalize every NaN they produce when the compile options ask for it (the
//! deterministic default). `abs`, `neg` and `copysign` are integer bit operations, as
//! wasm defines them, and so never touch a NaN's payload.

use crate::masm::{
    AluOp, FloatBinOp, FloatCmp, FloatSize, FloatUnOp, IntFloat, MacroAssembler, Size, TruncMode,
};
use crate::TrapKind;

use super::func::FuncGen;
use super::stack::Kind;

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
    /// `f32.add`, `f64.min`, …
    pub fn float_binop(&mut self, op: FloatBinOp, size: FloatSize) {
        let rhs = self.pop();
        let lhs = self.pop();
        let dst = self.owned_reg(lhs);
        let src = self.register_operand(rhs);
        self.masm
            .float_binop(op, size, dst, dst, src, self.canonicalize_nans);
        self.release_operand(rhs, src);
        self.push_reg(float_kind(size), dst);
    }

    /// `f32.sqrt`, `f64.nearest`, …
    pub fn float_unop(&mut self, op: FloatUnOp, size: FloatSize) {
        let value = self.pop();
        let dst = self.owned_reg(value);
        self.masm
            .float_unop(op, size, dst, dst, self.canonicalize_nans);
        self.push_reg(float_kind(size), dst);
    }

    /// `f32.eq`, `f64.lt`, …: an i32 0 or 1 in a register.
    pub fn float_compare(&mut self, op: FloatCmp, size: FloatSize) {
        let rhs = self.pop();
        let lhs = self.pop();
        let a = self.register_operand(lhs);
        let b = self.register_operand(rhs);
        let dst = self.alloc();
        self.masm.float_cmp(op, size, dst, a, b);
        self.release_operand(lhs, a);
        self.release_operand(rhs, b);
        self.push_reg(Kind::I32, dst);
    }

    /// `f64.promote_f32` (`to` = F64) and `f32.demote_f64` (`to` = F32).
    pub fn float_resize(&mut self, to: FloatSize) {
        let value = self.pop();
        let dst = self.owned_reg(value);
        self.masm.float_resize(to, dst, dst, self.canonicalize_nans);
        self.push_reg(float_kind(to), dst);
    }

    /// `f32.convert_i64_u`, …
    pub fn int_to_float(&mut self, conv: IntFloat) {
        let value = self.pop();
        let dst = self.owned_reg(value);
        self.masm.int_to_float(conv, dst, dst);
        self.push_reg(float_kind(conv.float), dst);
    }

    /// `i32.trunc_f32_s` (traps on NaN and overflow) or `i32.trunc_sat_f32_s` (saturates).
    pub fn float_to_int(&mut self, conv: IntFloat, saturating: bool) {
        let value = self.pop();
        let dst = self.owned_reg(value);
        let mode = if saturating {
            TruncMode::Saturate
        } else {
            self.note_trap_site(TrapKind::InvalidConversionToInteger);
            self.note_trap_site(TrapKind::ConversionOverflow);
            TruncMode::Trap {
                nan: self.labels.trap(TrapKind::InvalidConversionToInteger),
                overflow: self.labels.trap(TrapKind::ConversionOverflow),
            }
        };
        self.masm.float_to_int(conv, dst, dst, mode);
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
