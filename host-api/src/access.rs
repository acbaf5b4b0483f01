//! The memory-size surcharge on loads and stores (issue 19, planned as cost table
//! version 6): while an instance's memory has more than a tier's threshold of 64 KiB
//! pages, every load and store (every width, integer and float) pays that tier's
//! surcharge on top of its class price.
//!
//! Why: no static price bounds cache-missing accesses. A store that misses every cache
//! level costs tens of times a cached one, and `store` is already at its 3× overcharge
//! limit on cache-friendly stores, so strided stores over a 64 MiB memory buy 10–20× the
//! median time per gas (ARCHITECTURE.md, "Gas calibration"). How much an access can miss
//! is bounded by how much memory the instance has *now*, so, like EVM's memory-size
//! pricing, the contract pays for the footprint it can miss over. Small memories (where
//! ordinary contracts live: Rust contracts have 17 pages) are in tier 0 and pay nothing.
//!
//! This is consensus: a metered block with `k` loads and stores pays `static + k ×
//! surcharge(current pages)`, and every engine (compiled code on both ISAs through a
//! vmctx field set at instantiation and by each successful `memory.grow`, the wasmi
//! references through their rewrite) computes the surcharge with [`AccessTiers::surcharge`]
//! alone, so they agree to the unit. It lives here, below both the compiler and the
//! reference harnesses, like the written-range model (`written`).

use borsh::{BorshDeserialize, BorshSerialize};

/// Tiers a table has. Fixed, so the cost table's encoding (and fingerprint) has one
/// shape; a tier with surcharge 0 charges nothing.
pub const ACCESS_TIERS: usize = 3;

/// Largest surcharge a tier may set. With at most 2^24 accesses in a block (a body is
/// far smaller) the block's surcharge stays at most 2^44, so adding it to a static block
/// charge cannot overflow.
pub const MAX_SURCHARGE: u32 = 1 << 20;

/// One tier: memories of more than `above_pages` pages pay `surcharge` per access.
#[derive(
    Copy,
    Clone,
    Debug,
    Default,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    BorshSerialize,
    BorshDeserialize,
)]
pub struct AccessTier {
    /// The tier applies while the memory has more than this many 64 KiB pages.
    pub above_pages: u32,
    /// Gas per load or store while it applies.
    pub surcharge: u32,
}

/// The surcharge tiers of a cost table, lowest threshold first.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, Hash, BorshSerialize, BorshDeserialize)]
pub struct AccessTiers {
    /// Non-decreasing thresholds and surcharges ([`AccessTiers::check`]).
    pub tiers: [AccessTier; ACCESS_TIERS],
}

/// Why a set of tiers is not a valid protocol constant.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AccessTierError {
    /// Thresholds must not fall from tier to tier.
    #[error("access tier {index}: threshold {above_pages} pages is below the previous tier's {previous}")]
    ThresholdDescending {
        /// The tier's position.
        index: usize,
        /// Its threshold.
        above_pages: u32,
        /// The previous tier's threshold.
        previous: u32,
    },
    /// A larger memory never pays less per access than a smaller one.
    #[error("access tier {index}: surcharge {surcharge} is below the previous tier's {previous}")]
    SurchargeDecreasing {
        /// The tier's position.
        index: usize,
        /// Its surcharge.
        surcharge: u32,
        /// The previous tier's surcharge.
        previous: u32,
    },
    /// See [`MAX_SURCHARGE`].
    #[error(
        "access tier {index}: surcharge {surcharge} is above the largest allowed ({MAX_SURCHARGE})"
    )]
    SurchargeTooLarge {
        /// The tier's position.
        index: usize,
        /// Its surcharge.
        surcharge: u32,
    },
}

impl AccessTiers {
    /// No surcharge at any size (cost table versions up to 5).
    pub const NONE: AccessTiers = AccessTiers {
        tiers: [AccessTier {
            above_pages: 0,
            surcharge: 0,
        }; ACCESS_TIERS],
    };

    /// The gas every load and store pays on top of its class price while the memory has
    /// `pages` pages: the surcharge of the highest tier whose threshold `pages` exceeds,
    /// 0 below every threshold. Non-decreasing in `pages` for tiers that pass
    /// [`AccessTiers::check`] (and the largest matching surcharge for any others, so
    /// the function is total and still monotone).
    pub fn surcharge(&self, pages: u32) -> u32 {
        self.tiers
            .iter()
            .filter(|tier| pages > tier.above_pages)
            .map(|tier| tier.surcharge)
            .max()
            .unwrap_or(0)
    }

    /// What a metered block with `accesses` loads and stores pays on top of its static
    /// charge while the memory has `pages` pages.
    pub fn block_surcharge(&self, pages: u32, accesses: u32) -> u64 {
        u64::from(accesses) * u64::from(self.surcharge(pages))
    }

    /// Whether a memory that can never exceed `maximum` pages ever pays a surcharge: if
    /// not, compiled code emits nothing for it (its vmctx field would stay 0).
    pub fn can_charge(&self, maximum: u32) -> bool {
        self.surcharge(maximum) != 0
    }

    /// Checks the tiers are a sensible protocol constant: thresholds and surcharges
    /// non-decreasing, surcharges at most [`MAX_SURCHARGE`]. Tiers with surcharge 0 at
    /// the front are allowed (they charge nothing), so is [`AccessTiers::NONE`].
    pub fn check(&self) -> Result<(), AccessTierError> {
        for (index, tier) in self.tiers.iter().enumerate() {
            if tier.surcharge > MAX_SURCHARGE {
                return Err(AccessTierError::SurchargeTooLarge {
                    index,
                    surcharge: tier.surcharge,
                });
            }
            if index == 0 {
                continue;
            }
            let previous = self.tiers[index - 1];
            if tier.above_pages < previous.above_pages {
                return Err(AccessTierError::ThresholdDescending {
                    index,
                    above_pages: tier.above_pages,
                    previous: previous.above_pages,
                });
            }
            if tier.surcharge < previous.surcharge {
                return Err(AccessTierError::SurchargeDecreasing {
                    index,
                    surcharge: tier.surcharge,
                    previous: previous.surcharge,
                });
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tiers(t: [(u32, u32); ACCESS_TIERS]) -> AccessTiers {
        AccessTiers {
            tiers: t.map(|(above_pages, surcharge)| AccessTier {
                above_pages,
                surcharge,
            }),
        }
    }

    #[test]
    fn the_surcharge_steps_up_just_past_each_threshold() {
        let t = tiers([(32, 100), (64, 300), (256, 500)]);
        t.check().unwrap();
        for (pages, want) in [
            (0, 0),
            (1, 0),
            (17, 0),
            (32, 0),
            (33, 100),
            (64, 100),
            (65, 300),
            (256, 300),
            (257, 500),
            (1024, 500),
            (65_536, 500),
            (u32::MAX, 500),
        ] {
            assert_eq!(t.surcharge(pages), want, "{pages} pages");
        }
        assert_eq!(t.block_surcharge(300, 7), 3500);
        assert_eq!(t.block_surcharge(300, 0), 0);
        assert_eq!(t.block_surcharge(32, 1000), 0);
        assert!(
            !t.can_charge(32),
            "a memory capped within tier 0 pays nothing"
        );
        assert!(t.can_charge(33));
    }

    #[test]
    fn none_never_charges_and_is_the_default() {
        assert_eq!(AccessTiers::default(), AccessTiers::NONE);
        AccessTiers::NONE.check().unwrap();
        for pages in [0, 1, 32, 1024, u32::MAX] {
            assert_eq!(AccessTiers::NONE.surcharge(pages), 0);
        }
        assert!(!AccessTiers::NONE.can_charge(u32::MAX));
    }

    #[test]
    fn zero_tiers_in_front_charge_nothing() {
        let t = tiers([(16, 0), (32, 0), (64, 40)]);
        t.check().unwrap();
        assert_eq!(t.surcharge(40), 0);
        assert_eq!(t.surcharge(65), 40);
    }

    #[test]
    fn check_rejects_what_a_protocol_cannot_mean() {
        assert_eq!(
            tiers([(32, 1), (31, 2), (64, 3)]).check(),
            Err(AccessTierError::ThresholdDescending {
                index: 1,
                above_pages: 31,
                previous: 32
            })
        );
        assert_eq!(
            tiers([(32, 5), (64, 2), (128, 3)]).check(),
            Err(AccessTierError::SurchargeDecreasing {
                index: 1,
                surcharge: 2,
                previous: 5
            })
        );
        assert_eq!(
            tiers([(32, MAX_SURCHARGE + 1), (64, u32::MAX), (128, u32::MAX)]).check(),
            Err(AccessTierError::SurchargeTooLarge {
                index: 0,
                surcharge: MAX_SURCHARGE + 1
            })
        );
    }

    #[test]
    fn surcharge_is_monotone_in_pages_even_for_unchecked_tiers() {
        let t = tiers([(256, 50), (32, 900), (64, 10)]);
        let mut last = 0;
        for pages in 0..2000 {
            let s = t.surcharge(pages);
            assert!(s >= last, "{pages}");
            last = s;
        }
    }

    #[test]
    fn the_largest_block_surcharge_cannot_overflow_a_charge() {
        let t = tiers([(0, MAX_SURCHARGE), (1, MAX_SURCHARGE), (2, MAX_SURCHARGE)]);
        t.check().unwrap();
        let most = t.block_surcharge(u32::MAX, 1 << 24);
        assert_eq!(most, 1 << 44);
        assert!(most.checked_add(u64::from(u32::MAX) << 8).is_some());
    }
}
