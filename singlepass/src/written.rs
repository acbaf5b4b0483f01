//! The written ranges of linear memory: which bytes an instance may have written since its
//! memory was last all zero, kept in the [`VmCtx`](crate::VmCtx) where generated code and
//! the runtime both widen them.
//!
//! Why: a pooled memory must read as zero before the next instance gets it, and clearing
//! only what was written is what makes pooling cheap. Asking the kernel which pages are
//! resident (`mincore`) costs a system call that takes the process's memory-map lock, so
//! two threads dropping instances would contend in the kernel; ranges that hold only what
//! was written stay small enough for the pool to clear them with `memset` alone.
//!
//! Shape: one *current* range, which every store (and load off a local) checks with a
//! single compare (`(addr - start) mod 2^32 + end <= len`, see [`WrittenRanges::len`]),
//! plus up to [`WRITTEN_SPILLS`] ranges moved aside. A write far from the
//! current range (more than [`WRITTEN_FAR`] bytes away) moves the current range aside
//! and starts a new one there, instead of stretching one range over everything between
//! (a contract's stack and its heap, or the two ends of a memory, stay two small ranges).
//! Once the spill slots are used up, ranges only widen, so a contract alternating between
//! distant addresses pays at most [`WRITTEN_SPILLS`] extra stub calls.
//!
//! Soundness: every byte written lies in the current range or a spilled one, and ranges
//! are never shrunk or dropped while the instance lives, so the code generator's facts
//! ("the bytes from this local's value to `end` past it were checked") stay true for the
//! rest of the call, even after the range that proved them was moved aside.

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
/// (crate::VmCtx)). All zero is "nothing written".
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
    /// This is also the specification of the dirty-range stub: after its bounds check, a
    /// store of `[addr, addr + end)` does `mark(addr, addr + end)`, so the tests compare
    /// the stub against it.
    pub fn mark(&mut self, from: u64, to: u64) {
        if from >= to {
            return;
        }
        let start = from / DIRTY_GRANULE * DIRTY_GRANULE;
        let end = to.div_ceil(DIRTY_GRANULE) * DIRTY_GRANULE;
        let current = self.current();
        let (start, end) = if current.is_empty() {
            (start, end)
        } else {
            let far = start > current.end + WRITTEN_FAR || end + WRITTEN_FAR < current.start;
            let slot = self.spilled_count as usize;
            if far && slot < WRITTEN_SPILLS {
                self.spilled[slot] = [current.start, current.end];
                self.spilled_count += 1;
                (start, end)
            } else {
                (start.min(current.start), end.max(current.end))
            }
        };
        self.start = start;
        self.len = end - start;
    }
}

#[cfg(any(test, feature = "isa-testing"))]
/// What a `store_check` of `[addr, addr + end)` followed by the stub does to `ranges` in a
/// memory of `memory_len` bytes: `None` when it traps out of bounds (nothing changes),
/// else the ranges after it. The backends' tests compare generated code against this.
pub fn check_effect(
    ranges: &WrittenRanges,
    addr: u64,
    end: u64,
    memory_len: u64,
) -> Option<WrittenRanges> {
    let mut after = *ranges;
    if (addr.wrapping_sub(ranges.start) & u64::from(u32::MAX)) + end <= ranges.len {
        return Some(after); // The fast path: no stub call.
    }
    if addr + end > memory_len {
        return None;
    }
    after.mark(addr, addr + end);
    Some(after)
}

#[cfg(any(test, feature = "isa-testing"))]
/// Written ranges in several shapes, and addresses around their edges, for the backends'
/// tests of `store_check` and the stub in a memory of `memory_len` (at least 2 MiB) bytes.
pub fn check_cases(memory_len: u64) -> (Vec<WrittenRanges>, Vec<u64>) {
    let g = DIRTY_GRANULE;
    let mut states = vec![WrittenRanges::EMPTY];
    let mut one = WrittenRanges::EMPTY;
    one.mark(g, 2 * g);
    states.push(one);
    let mut spilled = one;
    spilled.mark(1 << 20, (1 << 20) + 1);
    states.push(spilled);
    let mut full = spilled;
    for i in 0..WRITTEN_SPILLS as u64 {
        full.mark(3 * g + (i << 18), 3 * g + (i << 18) + 1);
    }
    assert_eq!(full.spilled_count, WRITTEN_SPILLS as u64);
    states.push(full);
    let mut top = WrittenRanges::EMPTY;
    top.mark(memory_len - g, memory_len);
    states.push(top);
    let mut addrs = vec![
        0,
        100,
        g - 1,
        g,
        2 * g - 8,
        2 * g - 7,
        2 * g - 1,
        2 * g,
        3 * g - 8,
    ];
    for edge in [2 * g + WRITTEN_FAR, 1 << 20, memory_len] {
        addrs.extend([edge - 9, edge - 8, edge - 7, edge - 1, edge, edge + 1]);
    }
    addrs.push(u64::from(u32::MAX));
    (states, addrs)
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
    fn the_check_admits_exactly_the_stores_inside_the_current_range() {
        let mut w = WrittenRanges::default();
        w.mark(2 * G, 3 * G);
        let inside = |addr: u64, end: u64| check_effect(&w, addr, end, 1 << 20) == Some(w);
        assert!(inside(2 * G, 8));
        assert!(inside(3 * G - 8, 8));
        assert!(!inside(3 * G - 7, 8), "past the end");
        assert!(!inside(2 * G - 1, 8), "below the start wraps");
        assert!(!inside(0, 8));
        assert_eq!(
            check_effect(&w, (1 << 20) - 7, 8, 1 << 20),
            None,
            "out of bounds"
        );
        assert_eq!(check_effect(&WrittenRanges::EMPTY, 0, 1, 0), None);
    }
}
