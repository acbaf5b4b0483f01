//! [`release`]: dropping a visited operator without a destructor call per operator.

use std::mem::ManuallyDrop;

use wasmparser::Operator;

/// The operators [`release`] drops; a test checks the list against wasmparser's.
#[cfg(test)]
const OWNING_OPERATORS: [&str; 5] = [
    "TypedSelectMulti",
    "TryTable",
    "Resume",
    "ResumeThrow",
    "ResumeThrowRef",
];

/// Drops an operator a visitor method built from its immediates. Only a few operators
/// own memory (a `Vec` in an immediate: the stack-switching `resume` family too, which
/// a profile rejects but a visitor may still build). The others are plain data, and
/// leaving their (no-op) destructor to the compiler costs an out-of-line call per
/// operator: this folds to nothing for them once the visit method is compiled for its
/// variant. Both passes' visitors (the metering walk's, code generation's) use it.
#[inline(always)]
pub fn release(op: ManuallyDrop<Operator<'_>>) {
    if matches!(
        *op,
        Operator::TryTable { .. }
            | Operator::TypedSelectMulti { .. }
            | Operator::Resume { .. }
            | Operator::ResumeThrow { .. }
            | Operator::ResumeThrowRef { .. }
    ) {
        drop(ManuallyDrop::into_inner(op));
    }
}

#[cfg(test)]
mod tests {
    /// Every operator with an immediate that owns memory (a `Vec`, or a table type
    /// holding one; `br_table`'s only borrows the body) is one `release` drops: any other
    /// would leak once per visit.
    #[test]
    fn release_covers_every_operator_that_owns_memory() {
        macro_rules! immediates {
            ($(@$proposal:ident $op:ident $({ $($arg:ident: $argty:ty),* })? => $visit:ident ($($ann:tt)*))*) => {
                [$((stringify!($op), concat!("" $($(, stringify!($argty), " ")*)?))),*]
            };
        }
        let all = wasmparser::for_each_operator!(immediates);
        let owning: Vec<&str> = all
            .iter()
            .filter(|(_, types)| {
                ["Vec", "TryTable", "ResumeTable"]
                    .iter()
                    .any(|t| types.contains(t))
            })
            .map(|(name, _)| *name)
            .collect();
        assert_eq!(owning, super::OWNING_OPERATORS);
    }
}
