//! Code generation as a wasmparser visitor: the body reader calls one method per
//! operator, which validates it (when the compile validates) and compiles it.
//!
//! Reading each operator into an `Operator` value and then compiling it dispatched twice
//! per operator: once in the decoder on the opcode, once in `FuncGen::operator` on the
//! variant (two indirect jumps the CPU mostly mispredicts on real contracts), and it
//! built, moved and dropped the 56-byte value in between. Here each visit method builds
//! its operator on the stack, and `FuncGen::operator`, inlined into the method, folds to
//! the variant's one arm, so what remains per operator is the decoder's dispatch and the
//! compiling call. The `Operator` is still what validation and code generation see, so
//! the code is the same byte for byte (the compile pins check it).

use std::mem::ManuallyDrop;

use gasket_body_reader::release;
use wasmparser::{
    for_each_visit_operator, for_each_visit_simd_operator, FuncValidator, Operator,
    ValidatorResources, VisitOperator, VisitSimdOperator,
};

use crate::masm::MacroAssembler;
use crate::CompileError;

use super::func::FuncGen;

/// Validates (with a validator) and compiles each operator visited.
pub(crate) struct Compile<'g, 'a, 'v, M: MacroAssembler> {
    pub gen: &'g mut FuncGen<'a, M>,
    pub validator: Option<&'v mut FuncValidator<ValidatorResources>>,
}

/// What a visit returns: nothing, or the error boxed, so the value is one register wide
/// (a `CompileError` returned by value goes through memory, and moving it out of each
/// visit into the reader's result stalled on the callee's narrow stores).
pub(crate) type Visited = Result<(), Box<CompileError>>;

impl<M: MacroAssembler> Compile<'_, '_, '_, M> {
    /// Validates, then compiles `op`; the operator's offset is `gen.offset`.
    #[inline(always)]
    fn step(&mut self, op: &Operator<'_>) -> Visited {
        if let Some(validator) = self.validator.as_deref_mut() {
            if let Err(e) = validator.op(self.gen.offset, op) {
                return Err(boxed(CompileError::invalid(e)));
            }
        }
        self.gen.operator(op).map_err(boxed)
    }
}

#[cold]
#[inline(never)]
fn boxed(error: CompileError) -> Box<CompileError> {
    Box::new(error)
}

/// One method per operator: build it, validate and compile it, release it.
macro_rules! define_compile {
    ($(@$proposal:ident $op:ident $({ $($arg:ident: $argty:ty),* })? => $visit:ident ($($ann:tt)*))*) => {
        $(
            #[inline(always)]
            fn $visit(&mut self $($(,$arg: $argty)*)?) -> Self::Output {
                let op = ManuallyDrop::new(Operator::$op $({ $($arg),* })?);
                let compiled = self.step(&op);
                release(op);
                compiled
            }
        )*
    };
}

impl<'a, M: MacroAssembler> VisitOperator<'a> for Compile<'_, '_, '_, M> {
    type Output = Visited;

    fn simd_visitor(&mut self) -> Option<&mut dyn VisitSimdOperator<'a, Output = Self::Output>> {
        Some(self)
    }

    for_each_visit_operator!(define_compile);
}

impl<'a, M: MacroAssembler> VisitSimdOperator<'a> for Compile<'_, '_, '_, M> {
    for_each_visit_simd_operator!(define_compile);
}
