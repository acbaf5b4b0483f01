//! An instance's view of its module's data segments.
//!
//! The bytes stay in the module, which every instance keeps alive; an instance keeps only
//! which segments it dropped. Why not a clone of each segment's `Arc` per instance: every
//! clone and every drop is an atomic on a count that all threads instantiating the module
//! share, and the cache line holding it bounces between their CPUs (measured: the
//! `lock inc` of those clones was among the hottest instructions of `Instance::new` on two
//! threads).

use std::ptr::NonNull;

pub(crate) struct DataSegments {
    /// The module's segments (`ModuleInner::data`), which outlive this value (see `new`).
    segments: NonNull<[Box<[u8]>]>,
    /// Per segment: whether `data.drop` (or instantiation, for an active one) dropped it.
    dropped: Vec<bool>,
}

// SAFETY: `segments` is only read, and points into a module that is `Sync` and outlives
// this value; `dropped` is owned.
unsafe impl Send for DataSegments {}

impl DataSegments {
    /// No segments (a runtime before instantiation fills them in).
    pub(crate) fn none() -> DataSegments {
        DataSegments {
            segments: NonNull::from(&[][..]),
            dropped: Vec::new(),
        }
    }

    /// A view of `segments`, none dropped.
    ///
    /// # Safety
    /// `segments` must stay alive and unchanged for as long as the returned value: the
    /// runtime's module, which the instance owning the runtime holds.
    pub(crate) unsafe fn new(segments: &[Box<[u8]>]) -> DataSegments {
        DataSegments {
            segments: NonNull::from(segments),
            dropped: vec![false; segments.len()],
        }
    }

    /// Segment `index`'s bytes (empty once dropped); `None` if there is no such segment.
    pub(crate) fn get(&self, index: u32) -> Option<&[u8]> {
        let index = index as usize;
        let dropped = *self.dropped.get(index)?;
        // SAFETY: the segments outlive `self` (the contract of `new`).
        let segments = unsafe { self.segments.as_ref() };
        Some(if dropped { &[] } else { &segments[index] })
    }

    /// `data.drop` of segment `index` (nothing if there is no such segment).
    pub(crate) fn drop_segment(&mut self, index: u32) {
        if let Some(dropped) = self.dropped.get_mut(index as usize) {
            *dropped = true;
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
}
