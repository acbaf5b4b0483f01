//! The unit tests' pseudo-random numbers: a xorshift64 generator (13, 7, 17), seeded per
//! test so every run checks the same cases.

/// A generator of the xorshift64 sequence after `seed` (nonzero).
pub(crate) fn xorshift(seed: u64) -> impl FnMut() -> u64 {
    let mut state = seed;
    move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    }
}
