//! The closed set of trap kinds, shared by every backend and the runtime.

use borsh::{BorshDeserialize, BorshSerialize};

/// Why a call stopped before returning. Every backend produces exactly these, with the
/// same code for the same situation; the names are part of Gasket's user-facing contract
/// (CLI `--json`, outcomes) and never change.
///
/// Generated code records the numeric code (`as u32`, never 0) in `VmCtx::trap_code` and
/// unwinds to the entry trampoline.
#[derive(
    Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, BorshSerialize, BorshDeserialize,
)]
#[borsh(use_discriminant = true)]
#[repr(u32)]
pub enum TrapKind {
    /// `unreachable` was executed.
    Unreachable = 1,
    /// The gas limit was reached; gas used equals the limit.
    OutOfGas = 2,
    /// The deterministic stack-height limit (metering's `StackLimits`) was exceeded.
    StackOverflow = 3,
    /// A load, store or bulk-memory operation touched bytes outside linear memory, or a
    /// `memory.init` read outside its data segment.
    MemoryOutOfBounds = 4,
    /// A table access, `call_indirect` index or table bulk operation was out of bounds.
    TableOutOfBounds = 5,
    /// `call_indirect` reached a null table entry.
    IndirectCallToNull = 6,
    /// `call_indirect` reached a function of another signature.
    IndirectCallTypeMismatch = 7,
    /// Integer division or remainder by zero.
    IntegerDivideByZero = 8,
    /// Signed division overflow (`MIN / -1`).
    IntegerOverflow = 9,
    /// A host function failed (bad pointer, limit, contract panic, …); the runtime keeps
    /// the host error for details.
    HostError = 10,
    /// A trapping float-to-integer truncation (`i32.trunc_f32_s`, …) got a NaN.
    InvalidConversionToInteger = 11,
    /// A trapping float-to-integer truncation got a value whose integer part does not fit
    /// the result type (the saturating `trunc_sat` forms never trap).
    ConversionOverflow = 12,
}

impl TrapKind {
    /// Every trap kind, in code order.
    pub const ALL: [TrapKind; 12] = [
        TrapKind::Unreachable,
        TrapKind::OutOfGas,
        TrapKind::StackOverflow,
        TrapKind::MemoryOutOfBounds,
        TrapKind::TableOutOfBounds,
        TrapKind::IndirectCallToNull,
        TrapKind::IndirectCallTypeMismatch,
        TrapKind::IntegerDivideByZero,
        TrapKind::IntegerOverflow,
        TrapKind::HostError,
        TrapKind::InvalidConversionToInteger,
        TrapKind::ConversionOverflow,
    ];

    /// The numeric code generated code stores (never 0).
    pub fn code(self) -> u32 {
        self as u32
    }

    /// The trap kind of a numeric code, if it is one.
    pub fn from_code(code: u32) -> Option<TrapKind> {
        Self::ALL.iter().copied().find(|k| k.code() == code)
    }

    /// Stable snake_case name (`out_of_gas`, …), used in JSON output.
    pub fn as_str(self) -> &'static str {
        match self {
            TrapKind::Unreachable => "unreachable",
            TrapKind::OutOfGas => "out_of_gas",
            TrapKind::StackOverflow => "stack_overflow",
            TrapKind::MemoryOutOfBounds => "memory_out_of_bounds",
            TrapKind::TableOutOfBounds => "table_out_of_bounds",
            TrapKind::IndirectCallToNull => "indirect_call_to_null",
            TrapKind::IndirectCallTypeMismatch => "indirect_call_type_mismatch",
            TrapKind::IntegerDivideByZero => "integer_divide_by_zero",
            TrapKind::IntegerOverflow => "integer_overflow",
            TrapKind::HostError => "host_error",
            TrapKind::InvalidConversionToInteger => "invalid_conversion_to_integer",
            TrapKind::ConversionOverflow => "conversion_overflow",
        }
    }
}

impl std::fmt::Display for TrapKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_and_are_never_zero() {
        for kind in TrapKind::ALL {
            assert_ne!(kind.code(), 0);
            assert_eq!(TrapKind::from_code(kind.code()), Some(kind));
        }
        assert_eq!(TrapKind::from_code(0), None);
        assert_eq!(TrapKind::OutOfGas.as_str(), "out_of_gas");
    }
}
