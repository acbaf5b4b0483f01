//! An instance's view of its module's data segments.
//!
//! The bytes stay in the module, which every instance keeps alive; an instance keeps only
//! which segments it dropped. Why not a clone of each segment's `Arc` per instance: every
//! clone and every drop is an atomic on a count that all threads instantiating the module
//! share, and the cache line holding it bounces between their CPUs (measured: the
//! `lock inc` of those clones was among the hottest instructions of `Instance::new` on two
//! threads). The "dropped" flags of the first 64 segments are bits of one word, so the
//! common module (a few segments) allocates nothing per instance.

use crate::module_slice::ModuleSlice;

pub(crate) struct DataSegments {
    /// The module's segments (`ModuleInner::data`).
    segments: ModuleSlice<Box<[u8]>>,
    /// Segments 0..64: bit `i` set when segment `i` was dropped.
    dropped_low: u64,
    /// Segments 64..: whether each was dropped (empty for modules with at most 64).
    dropped_high: Vec<bool>,
}

/// Segments whose flags live in `dropped_low`.
const LOW: usize = 64;

impl DataSegments {
    /// No segments (a runtime before instantiation fills them in).
    pub(crate) fn none() -> DataSegments {
        DataSegments {
            segments: ModuleSlice::empty(),
            dropped_low: 0,
            dropped_high: Vec::new(),
        }
    }

    /// A view of `segments`, none dropped.
    ///
    /// # Safety
    /// As [`ModuleSlice::new`]: `segments` outlives the returned value.
    pub(crate) unsafe fn new(segments: &[Box<[u8]>]) -> DataSegments {
        DataSegments {
            // SAFETY: the caller's guarantee.
            segments: unsafe { ModuleSlice::new(segments) },
            dropped_low: 0,
            dropped_high: vec![false; segments.len().saturating_sub(LOW)],
        }
    }

    /// Segment `index`'s bytes (empty once dropped); `None` if there is no such segment.
    pub(crate) fn get(&self, index: u32) -> Option<&[u8]> {
        let bytes = self.segments.get(index as usize)?;
        Some(if self.is_dropped(index as usize) {
            &[]
        } else {
            bytes
        })
    }

    fn is_dropped(&self, index: usize) -> bool {
        match index.checked_sub(LOW) {
            None => self.dropped_low & (1 << index) != 0,
            Some(high) => self.dropped_high.get(high).copied().unwrap_or(true),
        }
    }

    /// `data.drop` of segment `index` (nothing if there is no such segment).
    pub(crate) fn drop_segment(&mut self, index: u32) {
        let index = index as usize;
        match index.checked_sub(LOW) {
            None => self.dropped_low |= 1 << index,
            Some(high) => {
                if let Some(dropped) = self.dropped_high.get_mut(high) {
                    *dropped = true;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dropped_segments_read_as_empty() {
        let bytes: Vec<Box<[u8]>> = vec![Box::from(&b"hello"[..]), Box::from(&b"xy"[..])];
        // SAFETY: `bytes` outlives `data`.
        let mut data = unsafe { DataSegments::new(&bytes) };
        assert_eq!(data.get(0), Some(&b"hello"[..]));
        data.drop_segment(0);
        data.drop_segment(7);
        assert_eq!(data.get(0), Some(&[][..]));
        assert_eq!(data.get(1), Some(&b"xy"[..]));
        assert_eq!(data.get(2), None);
        assert_eq!(DataSegments::none().get(0), None);
    }

    #[test]
    fn segments_past_the_first_64_are_dropped_one_by_one() {
        let bytes: Vec<Box<[u8]>> = (0..70u8).map(|i| Box::from(&[i][..])).collect();
        // SAFETY: `bytes` outlives `data`.
        let mut data = unsafe { DataSegments::new(&bytes) };
        for i in [0u32, 63, 64, 69] {
            data.drop_segment(i);
        }
        for i in 0..70u32 {
            let expected: &[u8] = if [0, 63, 64, 69].contains(&i) {
                &[]
            } else {
                &bytes[i as usize]
            };
            assert_eq!(data.get(i), Some(expected), "segment {i}");
        }
        assert_eq!(data.get(70), None);
    }
}
