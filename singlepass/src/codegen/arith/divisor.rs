//! Unsigned division by a constant without a divide instruction.
//!
//! A hardware divide costs tens of cycles (and on x86-64 needs the divisor in a register
//! and rax/rdx), where a multiply costs three. For a constant divisor `d` the quotient of
//! an unsigned `x` is exact from a shift (`d` a power of two) or from one 64-bit multiply
//! by a precomputed reciprocal and a shift (Granlund and Montgomery, "Division by
//! invariant integers using multiplication", 1994, theorem 4.2):
//!
//! if `2^(32+s) <= m*d <= 2^(32+s) + 2^s`, then `x / d == (x * m) >> (32 + s)` for every
//! `x < 2^32`, because `x*m / 2^(32+s) = x/d + x*e / (d*2^(32+s))` with
//! `e = m*d - 2^(32+s) <= 2^s`, and the second term is below `1/d`, too little to carry
//! `x/d` past the next integer. With `m < 2^32` the product fits 64 bits.
//!
//! Divisors without such an `m` (7 is one) and 64-bit divisors other than powers of two
//! keep the divide instruction: their reciprocals need a 65-bit multiply. The remainder
//! is `x - (x / d) * d`. Nothing here can trap: the divisor is a nonzero constant.

use crate::masm::Reciprocal;

/// How to divide by one unsigned constant.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) enum UnsignedDivisor {
    /// `d == 2^k` (`k >= 1`): the quotient is `x >> k`, the remainder `x & (d - 1)`.
    PowerOfTwo { k: u32 },
    /// 32-bit only: the quotient is `(zext64(x) * multiplier) >> shift`, `shift >= 32`
    /// (the plan the masm takes as it is, `MacroAssembler::rem_u32_by_reciprocal`).
    Reciprocal(Reciprocal),
}

impl UnsignedDivisor {
    /// The plan for dividing a `bits`-bit (32 or 64) unsigned value by `d` (its bits, of
    /// which only the low `bits` count), or `None` for the divide instruction: `d` is 0
    /// or 1 (a trap, or nothing worth a special case), or has no 32-bit reciprocal.
    pub fn new(bits: u32, d: u64) -> Option<Self> {
        let d = if bits == 32 { d & 0xffff_ffff } else { d };
        if d < 2 {
            return None;
        }
        if d.is_power_of_two() {
            return Some(UnsignedDivisor::PowerOfTwo {
                k: d.trailing_zeros(),
            });
        }
        if bits != 32 {
            return None;
        }
        // The smallest s that works; s = ceil(log2 d) always meets the error bound
        // (e < d <= 2^s) but may need a 33-bit multiplier.
        let ceil_log2 = 64 - (d - 1).leading_zeros();
        (0..=ceil_log2).find_map(|s| {
            let power = 1u128 << (32 + s);
            let m = power.div_ceil(u128::from(d));
            let error = m * u128::from(d) - power;
            (error <= 1u128 << s)
                .then_some(m)
                .and_then(|m| u32::try_from(m).ok())
                .map(|multiplier| {
                    UnsignedDivisor::Reciprocal(Reciprocal {
                        multiplier,
                        shift: 32 + s,
                        divisor: d as u32,
                    })
                })
        })
    }

    /// `x / d` as the emitted code computes it (for tests).
    #[cfg(test)]
    fn quotient(self, x: u64) -> u64 {
        match self {
            UnsignedDivisor::PowerOfTwo { k } => x >> k,
            UnsignedDivisor::Reciprocal(r) => {
                ((x & 0xffff_ffff) * u64::from(r.multiplier)) >> r.shift
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{Reciprocal, UnsignedDivisor};

    /// Deterministic pseudo-random u32s (xorshift), plus the edges near multiples of `d`.
    fn samples(d: u64, seed: u64) -> impl Iterator<Item = u64> {
        let mut next = crate::test_rng::xorshift(seed | 1);
        let random = std::iter::repeat_with(move || next() & 0xffff_ffff).take(2000);
        let top = u64::from(u32::MAX);
        let edge = top - top % d;
        let edges = [
            0,
            1,
            d - 1,
            d,
            d + 1,
            top,
            top - 1,
            edge,
            edge.saturating_sub(1),
        ];
        random.chain(edges.into_iter().filter(move |&x| x <= top))
    }

    #[test]
    fn reciprocals_divide_exactly() {
        let mut reciprocals = 0;
        let divisors = (2..2000u64)
            .chain([
                5,
                7,
                10,
                25,
                641,
                1_000_000_007,
                0x7fff_ffff,
                0xffff_fffe,
                0xffff_ffff,
            ])
            .chain((0..100u64).map(|i| 0x8000_0001 + i * 0x0123_4567));
        for d in divisors {
            let Some(plan) = UnsignedDivisor::new(32, d) else {
                continue;
            };
            reciprocals += matches!(plan, UnsignedDivisor::Reciprocal(_)) as u32;
            for x in samples(d, d.wrapping_mul(0x9e37_79b9_7f4a_7c15)) {
                assert_eq!(plan.quotient(x), x / d, "{x} / {d} with {plan:?}");
            }
        }
        assert!(reciprocals > 1000, "most divisors have a 32-bit reciprocal");
    }

    #[test]
    fn every_u32_divided_by_five_and_ten() {
        for d in [5u64, 10, 3] {
            let plan = UnsignedDivisor::new(32, d).unwrap();
            // A stride coprime to d through the whole range, and the top of it.
            let mut x = 0u64;
            while x <= u64::from(u32::MAX) {
                assert_eq!(plan.quotient(x), x / d, "{x} / {d}");
                x += 9973;
            }
            for x in u64::from(u32::MAX) - 100_000..=u64::from(u32::MAX) {
                assert_eq!(plan.quotient(x), x / d, "{x} / {d}");
            }
        }
    }

    #[test]
    fn plans_by_width() {
        assert_eq!(
            UnsignedDivisor::new(32, 5),
            Some(UnsignedDivisor::Reciprocal(Reciprocal {
                multiplier: 0xcccc_cccd,
                shift: 34,
                divisor: 5,
            }))
        );
        assert_eq!(
            UnsignedDivisor::new(64, 1 << 40),
            Some(UnsignedDivisor::PowerOfTwo { k: 40 })
        );
        // Only the low 32 bits of an i32 constant count.
        assert_eq!(
            UnsignedDivisor::new(32, 0xffff_ffff_0000_0008),
            Some(UnsignedDivisor::PowerOfTwo { k: 3 })
        );
        assert_eq!(UnsignedDivisor::new(32, 7), None, "needs 33 bits");
        assert_eq!(UnsignedDivisor::new(64, 5), None, "64-bit: divide");
        assert_eq!(UnsignedDivisor::new(32, 1), None);
        assert_eq!(UnsignedDivisor::new(32, 1 << 32), None, "i32 zero");
        assert_eq!(UnsignedDivisor::new(64, 0), None);
    }
}
