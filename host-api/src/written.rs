//! The written ranges of linear memory: which bytes an instance may have written since its
//! memory was last all zero, kept in the compiled code's instance context (gasket-singlepass's
//! `VmCtx`) where generated code and the runtime both widen them, and by the reference
//! interpreters, which charge the same gas for widening them.
//!
//! Why: a pooled memory must read as zero before the next instance gets it, and clearing
//! only what was written is what makes pooling cheap. Asking the kernel which pages are
//! resident (`mincore`) costs a system call that takes the process's memory-map lock, so
//! two threads dropping instances would contend in the kernel; ranges that hold only what
//! was written stay small enough for the pool to clear them with `memset` alone.
//!
//! Shape: one *current* range, which every store checks with a
//! single compare (`(addr - start) mod 2^32 + end <= len`, see [`WrittenRanges::len`]),
//! plus up to [`WRITTEN_SPILLS`] ranges moved aside. A write far from the
//! current range (more than [`WRITTEN_FAR`] bytes away) moves the current range aside
//! and starts a new one there, instead of stretching one range over everything between
//! (a contract's stack and its heap, or the two ends of a memory, stay two small ranges).
//! Once the spill slots are used up, ranges only widen, so a contract alternating between
//! distant addresses pays at most [`WRITTEN_SPILLS`] extra stub calls.
//!
//! Soundness: every byte written lies in the current range or a spilled one, and ranges
//! are never shrunk or dropped while the instance lives, so the pool's clear covers every
//! write. A store the code generator skips must mark nothing (its charge would be 0):
//! [`WrittenRanges::mark`] compares with the current range only, so a skipped store's
//! bytes must lie inside the *current* range, and the generator forgets such facts
//! whenever the current range may have moved (gasket-singlepass `codegen/proven.rs`).
//!
//! Gas (cost table version 5): the pool clears every granule of these ranges when the
//! instance is dropped, so widening them is priced. [`WrittenRanges::mark`] returns how
//! many bytes the ranges' covered length grew by, and [`write_gas`] turns that into gas at
//! the profile's price per granule. This policy (granule, spill slots, far distance) is
//! therefore consensus: every engine (compiled code on both ISAs, the wasmi reference)
//! runs this one function, or code tested against it, so they charge the same gas. It lives
//! here, below both the compiler and the reference harnesses.

use std::ops::Range;

/// What the dirty-range stub rounds a range out to: a store outside the ranges costs a
/// stub call at most once per granule of new range, and the pool clears at most a
/// granule too much on each side. Baked into generated code: changing it changes the
/// artifact format.
pub const DIRTY_GRANULE: u64 = 4096;

/// Ranges that can be moved aside (see the module docs). Baked into generated code.
pub const WRITTEN_SPILLS: usize = 4;

/// A write whose granules start more than this many bytes above the current range's end,
/// or end more than this below its start, starts a new range (while spill slots remain).
/// 64 KiB: a gap that size costs more to clear than a stub call and a spill slot.
/// Baked into generated code.
pub const WRITTEN_FAR: u64 = 64 << 10;

/// The written ranges as generated code sees them (`repr(C)`, inside [`VmCtx`]
/// (gasket-singlepass's `VmCtx`)). All zero is "nothing written".
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WrittenRanges {
    /// Start of the current range: a multiple of [`DIRTY_GRANULE`], below 2^32
    /// (generated code reads its low 4 bytes; the high 4 are always 0).
    pub start: u64,
    /// Length of the current range (a multiple of [`DIRTY_GRANULE`]; 0 while it is
    /// empty, whatever the start). Kept as a length so a store's check is one compare:
    /// `(addr - start) mod 2^32 + end <= len` holds exactly when the store's bytes
    /// `[addr, addr + end)` lie inside (for `addr < start` the wrapped difference is at
    /// least `2^32 - start`, which with `len <= 2^32 - start` fails the compare).
    pub len: u64,
    /// Spill slots in use.
    pub spilled_count: u64,
    /// Ranges moved aside, `[start, end)`, the first `spilled_count` of them.
    pub spilled: [[u64; 2]; WRITTEN_SPILLS],
}

impl WrittenRanges {
    /// Nothing written.
    pub const EMPTY: WrittenRanges = WrittenRanges {
        start: 0,
        len: 0,
        spilled_count: 0,
        spilled: [[0; 2]; WRITTEN_SPILLS],
    };

    /// The current range, `[start, end)` (empty: `0..0`).
    pub fn current(&self) -> Range<u64> {
        if self.len == 0 {
            return 0..0;
        }
        self.start..self.start + self.len
    }

    /// Every range that may hold a written byte, ascending and disjoint (the spilled
    /// ones and the current one may overlap, e.g. after a contract went back to a region
    /// it left: they are merged, so the pool clears each byte once). Everything outside
    /// them is zero.
    pub fn ranges(&self) -> impl Iterator<Item = Range<u64>> {
        let spilled = (self.spilled_count as usize).min(WRITTEN_SPILLS);
        let mut all = [[0u64; 2]; WRITTEN_SPILLS + 1];
        all[..spilled].copy_from_slice(&self.spilled[..spilled]);
        let mut count = spilled;
        if self.len != 0 {
            all[count] = [self.start, self.start + self.len];
            count += 1;
        }
        all[..count].sort_unstable();
        let mut merged = 0;
        for i in 0..count {
            let [start, end] = all[i];
            if merged > 0 && start <= all[merged - 1][1] {
                all[merged - 1][1] = all[merged - 1][1].max(end);
            } else {
                all[merged] = [start, end];
                merged += 1;
            }
        }
        all.into_iter().take(merged).map(|[start, end]| start..end)
    }

    /// Records that `from..to` (bytes of a memory whose length is a multiple of
    /// [`DIRTY_GRANULE`] and at least `to`) may have been written: rounded out to
    /// granules, either the current range widens to cover it, or (when it is far from
    /// the current range and a spill slot is free) the current range is moved aside and
    /// this becomes the current one.
    ///
    /// Returns the bytes (a multiple of [`DIRTY_GRANULE`]) the write is charged for: the
    /// current range's growth when it widens (0 when `from..to` already lies inside it),
    /// the new range's whole length when one starts (also when it overlaps a range moved
    /// aside earlier: the sum charged is at least what the pool clears, never less).
    ///
    /// This is also the specification of the dirty-range stub: after its bounds check, a
    /// store of the bytes `[from, to)` does `mark(from, to)` and charges
    /// [`write_gas`] of the result, so the tests compare the stub against it.
    pub fn mark(&mut self, from: u64, to: u64) -> u64 {
        if from >= to {
            return 0;
        }
        let start = from / DIRTY_GRANULE * DIRTY_GRANULE;
        let end = to.div_ceil(DIRTY_GRANULE) * DIRTY_GRANULE;
        let current = self.current();
        // `before`: the covered length this write adds to (0 for a new range).
        let (start, end, before) = if current.is_empty() {
            (start, end, 0)
        } else {
            let far = start > current.end + WRITTEN_FAR || end + WRITTEN_FAR < current.start;
            let slot = self.spilled_count as usize;
            if far && slot < WRITTEN_SPILLS {
                self.spilled[slot] = [current.start, current.end];
                self.spilled_count += 1;
                (start, end, 0)
            } else {
                (start.min(current.start), end.max(current.end), self.len)
            }
        };
        self.start = start;
        self.len = end - start;
        self.len - before
    }
}

impl WrittenRanges {
    /// `mark(from, to)` paid for: charges [`write_gas`] of what it adds at
    /// `price_per_granule` from `gas_left` and returns the charge, or, when `gas_left` does
    /// not cover it, leaves the ranges unchanged, sets `gas_left` to 0 and fails (out of
    /// gas: the write must not happen). The one function every engine's runtime writes and
    /// every reference harness charge through (compiled stores: the dirty-range stub,
    /// tested against it).
    pub fn mark_charged(
        &mut self,
        from: u64,
        to: u64,
        price_per_granule: u32,
        gas_left: &mut u64,
    ) -> Result<u64, crate::OutOfGas> {
        let mut after = *self;
        let charge = write_gas(after.mark(from, to), price_per_granule);
        match gas_left.checked_sub(charge) {
            Some(left) => {
                *gas_left = left;
                *self = after;
                Ok(charge)
            }
            None => {
                *gas_left = 0;
                Err(crate::OutOfGas)
            }
        }
    }
}

/// Linear memory as host functions see it, when writes must be tracked: every write marks
/// what it wrote in the written ranges, without a charge (host functions' writes are
/// bounded by their own per-byte prices; see ARCHITECTURE.md, "The written-range
/// charge"). The runtime's memory for host calls, and the NEAR reference's, so both mark
/// the same bytes.
pub struct MarkedMemory<'a> {
    bytes: &'a mut [u8],
    written: &'a mut WrittenRanges,
}

impl<'a> MarkedMemory<'a> {
    /// `bytes` (all of linear memory) whose writes widen `written`.
    pub fn new(bytes: &'a mut [u8], written: &'a mut WrittenRanges) -> Self {
        MarkedMemory { bytes, written }
    }

    /// All of memory, writable: marks all of it written (the caller may write anywhere).
    pub fn all_mut(&mut self) -> &mut [u8] {
        self.written.mark(0, self.bytes.len() as u64);
        self.bytes
    }

    /// Memory without marking anything, for a writer that marks what it writes first.
    pub fn split(self) -> (&'a mut [u8], &'a mut WrittenRanges) {
        (self.bytes, self.written)
    }
}

impl crate::GuestMemory for MarkedMemory<'_> {
    fn read(&self, ptr: u32, len: u32) -> Result<&[u8], crate::MemoryAccessError> {
        (*self.bytes).read(ptr, len)
    }

    fn write(&mut self, ptr: u32, data: &[u8]) -> Result<(), crate::MemoryAccessError> {
        (*self.bytes).write(ptr, data)?;
        self.written
            .mark(u64::from(ptr), u64::from(ptr) + data.len() as u64);
        Ok(())
    }
}

/// The gas for widening the written ranges by `grown` bytes (what [`WrittenRanges::mark`]
/// returned) at `price_per_granule` (the cost table's `memory_write_per_granule`): one
/// price per [`DIRTY_GRANULE`]. Cannot overflow: `grown` is at most 2^32 (a memory's
/// length), so the product is below 2^52; generated code multiplies the same way.
pub fn write_gas(grown: u64, price_per_granule: u32) -> u64 {
    grown / DIRTY_GRANULE * u64::from(price_per_granule)
}

#[cfg(test)]
mod tests {
    use super::*;

    const G: u64 = DIRTY_GRANULE;

    fn ranges(w: &WrittenRanges) -> Vec<(u64, u64)> {
        w.ranges().map(|r| (r.start, r.end)).collect()
    }

    #[test]
    fn all_zero_is_empty_and_marks_round_out_to_granules() {
        let mut w = WrittenRanges::default();
        assert_eq!(w, WrittenRanges::EMPTY);
        assert!(w.ranges().next().is_none());
        w.mark(5, 5);
        assert!(w.ranges().next().is_none(), "an empty write marks nothing");
        w.mark(5000, 5008);
        assert_eq!(ranges(&w), [(G, 2 * G)]);
        assert_eq!(w.len, G);
        w.mark(2 * G - 1, 2 * G + 1);
        assert_eq!(ranges(&w), [(G, 3 * G)], "adjacent: widened");
    }

    #[test]
    fn far_writes_start_new_ranges_until_the_slots_run_out() {
        let mut w = WrittenRanges::default();
        w.mark(0, 8);
        // Within WRITTEN_FAR of the end: widened over the gap.
        w.mark(G + WRITTEN_FAR, G + WRITTEN_FAR + 8);
        assert_eq!(ranges(&w), [(0, 2 * G + WRITTEN_FAR)]);
        // Far above, then far below: each moves the current range aside.
        let high = 1 << 20;
        w.mark(high, high + 8);
        assert_eq!(ranges(&w), [(0, 2 * G + WRITTEN_FAR), (high, high + G)]);
        w.mark(3 * G + WRITTEN_FAR, 3 * G + WRITTEN_FAR + 1);
        assert_eq!(w.spilled_count, 2);
        for i in 0..WRITTEN_SPILLS as u64 {
            w.mark(high * (i + 2), high * (i + 2) + 1);
        }
        assert_eq!(w.spilled_count, WRITTEN_SPILLS as u64);
        // The slots ran out at the write to 3 MiB: the writes to 4 and 5 MiB widened the
        // current range from there.
        let last = ranges(&w).pop().unwrap();
        assert_eq!(last, (high * 3, high * 5 + G));
        assert_eq!(ranges(&w).len(), WRITTEN_SPILLS + 1);
    }

    #[test]
    fn going_back_to_a_region_leaves_it_once_in_the_ranges() {
        let mut w = WrittenRanges::default();
        let far = 50 * G;
        // Stack, heap, stack, heap: each switch moves the current range aside.
        for addr in [100, far, 200, far + 8, G + 100] {
            w.mark(addr, addr + 8);
        }
        assert_eq!(w.spilled_count, 4);
        assert_eq!(ranges(&w), [(0, 2 * G), (far, far + G)]);
    }

    #[test]
    fn widening_charges_the_growth_and_a_new_range_its_whole_length() {
        let mut w = WrittenRanges::default();
        assert_eq!(w.mark(10, 10), 0, "an empty write is free");
        assert_eq!(w.mark(5000, 5008), G, "the first write: its granule");
        assert_eq!(w.mark(G, 2 * G), 0, "inside the current range");
        assert_eq!(
            w.mark(2 * G - 1, 2 * G + 1),
            G,
            "one granule more at the top"
        );
        assert_eq!(w.mark(100, 101), G, "one below");
        assert_eq!(ranges(&w), [(0, 3 * G)]);
        // A write within WRITTEN_FAR pays for the gap it stretches the range over.
        assert_eq!(
            w.mark(3 * G + WRITTEN_FAR, 3 * G + WRITTEN_FAR + 1),
            WRITTEN_FAR + G
        );
        // A far write starts a new range: its own length only.
        let high = 1 << 20;
        assert_eq!(w.mark(high + 1, high + 2 * G), 2 * G);
        // Back to the region moved aside: a new range again, charged again in full
        // (the sum charged is never below what the pool clears).
        assert_eq!(w.mark(0, 8), G);
        assert_eq!(ranges(&w), [(0, 4 * G + WRITTEN_FAR), (high, high + 2 * G)]);
    }

    #[test]
    fn once_the_slots_run_out_far_writes_pay_for_the_hull() {
        let mut w = WrittenRanges::default();
        let step = 1 << 20;
        for i in 0..=WRITTEN_SPILLS as u64 {
            assert_eq!(w.mark(i * step, i * step + 1), G);
        }
        assert_eq!(w.spilled_count, WRITTEN_SPILLS as u64);
        let last = WRITTEN_SPILLS as u64 * step;
        // The current range [last, last + G) widens up to the next far write.
        assert_eq!(w.mark(last + 3 * step, last + 3 * step + 1), 3 * step);
        // Below it, down to an address inside a range moved aside: the hull's growth.
        assert_eq!(w.mark(step, step + 1), last - step);
    }

    #[test]
    fn every_write_is_charged_at_least_what_the_pool_clears() {
        // Whatever the order, the sum of the charges covers the bytes of `ranges()`.
        let mut w = WrittenRanges::default();
        let mut charged = 0;
        let mut x = 0x9e37_79b9_u64;
        for _ in 0..2000 {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let from = (x >> 33) % (64 << 20);
            let len = 1 + (x >> 7) % 300;
            charged += w.mark(from, (from + len).min(64 << 20));
            let covered: u64 = w.ranges().map(|r| r.end - r.start).sum();
            assert!(charged >= covered, "{charged} < {covered}");
        }
    }

    #[test]
    fn a_charge_that_does_not_fit_marks_nothing() {
        let mut w = WrittenRanges::default();
        let mut gas = 10;
        assert_eq!(w.mark_charged(0, 8, 4, &mut gas), Ok(4));
        assert_eq!(gas, 6);
        let before = w;
        assert_eq!(
            w.mark_charged(2 * G, 2 * G + 1, 7, &mut gas),
            Err(crate::OutOfGas)
        );
        assert_eq!((w, gas), (before, 0), "unchanged, out of gas");
        assert_eq!(w.mark_charged(8, 16, 7, &mut gas), Ok(0), "inside: free");
    }

    #[test]
    fn write_gas_is_one_price_per_granule() {
        assert_eq!(write_gas(0, 30_000), 0);
        assert_eq!(write_gas(3 * G, 30_000), 90_000);
        assert_eq!(
            write_gas(1 << 32, u32::MAX),
            (1 << 20) * u64::from(u32::MAX)
        );
    }
}
