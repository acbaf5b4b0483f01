//! Gas: the cost formula of a host function and the meter a call charges against.
//!
//! The engine owns the real counter (it also charges for wasm instructions), so host
//! calls see it only through the [`GasMeter`] trait. [`GasCounter`] is a plain
//! implementation for tests, the harness and the wasmi reference.

use thiserror::Error;

/// `cost = base + per_byte * bytes`, saturating at `u64::MAX` (so a huge length can only
/// make a call more expensive, never wrap around to cheap). What "bytes" counts is
/// documented per function in [`HostFunctionSpec::gas_bytes`](crate::HostFunctionSpec).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct GasFormula {
    /// Charged on every call.
    pub base: u64,
    /// Charged per byte of the function's size argument.
    pub per_byte: u64,
}

impl GasFormula {
    /// Total cost for `bytes` bytes: `base + per_byte * bytes`, saturating.
    pub const fn cost(self, bytes: u64) -> u64 {
        self.base.saturating_add(self.per_byte_cost(bytes))
    }

    /// Only the size-dependent part, `per_byte * bytes` (saturating). Used when the size
    /// is learnt after the base was charged (the value found by `storage_read`).
    pub const fn per_byte_cost(self, bytes: u64) -> u64 {
        self.per_byte.saturating_mul(bytes)
    }
}

/// The call ran out of gas. The meter has already set gas used to the limit.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Error)]
#[error("out of gas")]
pub struct OutOfGas;

/// Something a host function can charge gas against; implemented by the engine.
pub trait GasMeter {
    /// Charges `amount`. On failure the meter must leave gas used equal to the limit, so
    /// that an out-of-gas call reports the same gas used on every engine.
    fn charge(&mut self, amount: u64) -> Result<(), OutOfGas>;
    /// Gas still available (NEAR's `used_gas` is the limit minus this).
    fn remaining(&self) -> u64;
}

/// A simple gas meter: `used` counts up towards `limit`.
///
/// Invariant kept by [`GasMeter::charge`]: `used <= limit`, and after an out-of-gas error
/// `used == limit`.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct GasCounter {
    /// Most gas the call may use.
    pub limit: u64,
    /// Gas used so far.
    pub used: u64,
}

impl GasCounter {
    /// A fresh counter with nothing used.
    pub const fn new(limit: u64) -> Self {
        GasCounter { limit, used: 0 }
    }

    /// Gas still available.
    pub const fn remaining(&self) -> u64 {
        self.limit.saturating_sub(self.used)
    }
}

impl GasMeter for GasCounter {
    fn charge(&mut self, amount: u64) -> Result<(), OutOfGas> {
        match self.used.checked_add(amount) {
            Some(total) if total <= self.limit => {
                self.used = total;
                Ok(())
            }
            _ => {
                self.used = self.limit;
                Err(OutOfGas)
            }
        }
    }

    fn remaining(&self) -> u64 {
        GasCounter::remaining(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cost_saturates() {
        let f = GasFormula {
            base: 500,
            per_byte: 10,
        };
        assert_eq!(f.cost(0), 500);
        assert_eq!(f.cost(3), 530);
        assert_eq!(f.cost(u64::MAX), u64::MAX);
        assert_eq!(f.per_byte_cost(u64::MAX / 2), u64::MAX);
    }

    #[test]
    fn counter_charges_up_to_the_limit_exactly() {
        let mut g = GasCounter::new(100);
        assert_eq!(g.charge(60), Ok(()));
        assert_eq!(g.charge(40), Ok(()));
        assert_eq!(g.used, 100);
        assert_eq!(g.remaining(), 0);
        assert_eq!(g.charge(0), Ok(()));
    }

    #[test]
    fn out_of_gas_sets_used_to_limit() {
        let mut g = GasCounter::new(100);
        g.charge(10).unwrap();
        assert_eq!(g.charge(91), Err(OutOfGas));
        assert_eq!(g.used, 100);
        let mut g = GasCounter::new(100);
        assert_eq!(g.charge(u64::MAX), Err(OutOfGas));
        assert_eq!(g.used, 100);
    }
}
