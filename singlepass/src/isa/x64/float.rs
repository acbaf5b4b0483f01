//! Floating-point operations on values held as bit patterns in integer registers.
//! PLACEHOLDER: to be implemented.

use super::X64Masm;
use crate::masm::{FloatBinOp, FloatCmp, FloatSize, FloatUnOp, IntFloat, Reg, TruncMode};

impl X64Masm {
    pub(super) fn emit_float_binop(
        &mut self,
        _op: FloatBinOp,
        _size: FloatSize,
        _dst: Reg,
        _lhs: Reg,
        _rhs: Reg,
        _canonicalize: bool,
    ) {
        todo!("float_binop")
    }
    pub(super) fn emit_float_unop(
        &mut self,
        _op: FloatUnOp,
        _size: FloatSize,
        _dst: Reg,
        _src: Reg,
        _canonicalize: bool,
    ) {
        todo!("float_unop")
    }
    pub(super) fn emit_float_cmp(
        &mut self,
        _op: FloatCmp,
        _size: FloatSize,
        _dst: Reg,
        _lhs: Reg,
        _rhs: Reg,
    ) {
        todo!("float_cmp")
    }
    pub(super) fn emit_float_resize(
        &mut self,
        _to: FloatSize,
        _dst: Reg,
        _src: Reg,
        _canonicalize: bool,
    ) {
        todo!("float_resize")
    }
    pub(super) fn emit_int_to_float(&mut self, _conv: IntFloat, _dst: Reg, _src: Reg) {
        todo!("int_to_float")
    }
    pub(super) fn emit_float_to_int(
        &mut self,
        _conv: IntFloat,
        _dst: Reg,
        _src: Reg,
        _mode: TruncMode,
    ) {
        todo!("float_to_int")
    }
}
