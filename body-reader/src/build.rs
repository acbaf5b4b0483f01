//! [`BuildOperator`]: the visitor that turns each visit into the `Operator` value
//! wasmparser's `OperatorsReader::read` would have returned.

use wasmparser::{
    for_each_visit_operator, for_each_visit_simd_operator, Operator, VisitOperator,
    VisitSimdOperator,
};

/// Builds the `Operator` of each visit. With [`BodyReader`](crate::BodyReader) it reads
/// what `OperatorsReader::read` reads (the reader keeps the frames), inlined into the
/// caller's loop on the short path.
pub struct BuildOperator;

macro_rules! define_build {
    ($(@$proposal:ident $op:ident $({ $($arg:ident: $argty:ty),* })? => $visit:ident ($($ann:tt)*))*) => {
        $(
            #[inline(always)]
            fn $visit(&mut self $($(,$arg: $argty)*)?) -> Operator<'a> {
                Operator::$op $({ $($arg),* })?
            }
        )*
    };
}

impl<'a> VisitOperator<'a> for BuildOperator {
    type Output = Operator<'a>;

    fn simd_visitor(&mut self) -> Option<&mut dyn VisitSimdOperator<'a, Output = Self::Output>> {
        Some(self)
    }

    for_each_visit_operator!(define_build);
}

impl<'a> VisitSimdOperator<'a> for BuildOperator {
    for_each_visit_simd_operator!(define_build);
}
