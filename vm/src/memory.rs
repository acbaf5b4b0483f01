//! Linear memory: the whole maximum is reserved up front so the base never moves (generated
//! code keeps it in a register), and only `memory_len` changes when the module grows it.

use std::io;

/// Bytes per wasm page.
pub const PAGE_SIZE: u64 = 65_536;

/// Largest number of pages a wasm32 memory can have.
pub const MAX_WASM_PAGES: u32 = 65_536;

/// A linear memory reserved at its maximum size.
#[derive(Debug)]
pub struct LinearMemory {
    base: *mut u8,
    /// Bytes reserved (`maximum * PAGE_SIZE`, at least one OS page so `base` is valid).
    reserved: usize,
    pages: u32,
    maximum: u32,
}

// SAFETY: the reservation is plain memory owned by this value.
unsafe impl Send for LinearMemory {}

/// Why a memory could not be created.
#[derive(Debug, thiserror::Error)]
pub enum MemoryError {
    /// The initial size is above the maximum.
    #[error("initial size of {initial} pages is above the maximum of {maximum} pages")]
    InitialAboveMaximum {
        /// Requested initial pages.
        initial: u32,
        /// The maximum in force.
        maximum: u32,
    },
    /// The operating system refused the reservation.
    #[error("cannot reserve {bytes} bytes of address space for linear memory: {source}")]
    Reserve {
        /// Bytes requested.
        bytes: u64,
        /// The OS error.
        source: io::Error,
    },
}

impl LinearMemory {
    /// Reserves `maximum` pages (at most 65 536) and makes `initial` of them usable, all
    /// zero.
    pub fn new(initial: u32, maximum: u32) -> Result<LinearMemory, MemoryError> {
        let maximum = maximum.min(MAX_WASM_PAGES);
        if initial > maximum {
            return Err(MemoryError::InitialAboveMaximum { initial, maximum });
        }
        let bytes = u64::from(maximum) * PAGE_SIZE;
        let reserved = usize::try_from(bytes.max(PAGE_SIZE)).map_err(|_| MemoryError::Reserve {
            bytes,
            source: io::Error::new(io::ErrorKind::OutOfMemory, "larger than the address space"),
        })?;
        // SAFETY: a fresh anonymous mapping at a kernel-chosen address aliases nothing.
        // MAP_NORESERVE: untouched pages cost no memory, so reserving the maximum is cheap.
        let base = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                reserved,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
                -1,
                0,
            )
        };
        if base == libc::MAP_FAILED {
            return Err(MemoryError::Reserve {
                bytes,
                source: io::Error::last_os_error(),
            });
        }
        Ok(LinearMemory {
            base: base.cast(),
            reserved,
            pages: initial,
            maximum,
        })
    }

    /// Whether the reservation can back a memory of `maximum` pages (for reuse from the
    /// engine's pool).
    pub(crate) fn can_hold(&self, maximum: u32) -> bool {
        u64::from(maximum.min(MAX_WASM_PAGES)) * PAGE_SIZE <= self.reserved as u64
    }

    /// Reuses a cleared (all-zero) reservation as a memory of `initial` pages growable to
    /// `maximum`.
    pub(crate) fn reuse(&mut self, initial: u32, maximum: u32) -> Result<(), MemoryError> {
        let maximum = maximum.min(MAX_WASM_PAGES);
        if initial > maximum {
            return Err(MemoryError::InitialAboveMaximum { initial, maximum });
        }
        if !self.can_hold(maximum) {
            return Err(MemoryError::Reserve {
                bytes: u64::from(maximum) * PAGE_SIZE,
                source: io::Error::new(io::ErrorKind::OutOfMemory, "reservation too small"),
            });
        }
        self.pages = initial;
        self.maximum = maximum;
        Ok(())
    }

    /// Shrinks to zero pages (once scrubbed, before going back to the pool).
    pub(crate) fn clear(&mut self) {
        self.pages = 0;
    }

    /// Base address (stable for the memory's lifetime).
    pub fn base(&self) -> *mut u8 {
        self.base
    }

    /// Current size in pages.
    pub fn pages(&self) -> u32 {
        self.pages
    }

    /// The size growth can never exceed, in pages.
    pub fn maximum(&self) -> u32 {
        self.maximum
    }

    /// Current size in bytes.
    pub fn len(&self) -> u64 {
        u64::from(self.pages) * PAGE_SIZE
    }

    /// Whether the memory has no pages.
    pub fn is_empty(&self) -> bool {
        self.pages == 0
    }

    /// Grows by `delta` pages; returns the old size, or `None` (nothing changes) if the
    /// result would exceed the maximum. New pages are zero: pages beyond the current size
    /// are never written (every access is bounds-checked against it) and the reservation
    /// starts zeroed.
    pub fn grow(&mut self, delta: u32) -> Option<u32> {
        let old = self.pages;
        let new = old.checked_add(delta)?;
        if new > self.maximum {
            return None;
        }
        self.pages = new;
        Some(old)
    }

    /// The current bytes.
    pub fn as_slice(&self) -> &[u8] {
        // SAFETY: `len() <= reserved` (pages <= maximum) and the reservation is readable;
        // the borrow of `self` keeps it mapped.
        unsafe { std::slice::from_raw_parts(self.base, self.len() as usize) }
    }

    /// The current bytes, writable.
    pub fn as_mut_slice(&mut self) -> &mut [u8] {
        // SAFETY: as in `as_slice`, and `&mut self` makes this the only reference.
        unsafe { std::slice::from_raw_parts_mut(self.base, self.len() as usize) }
    }
}

/// Linear memory as host functions see it: every write widens the written ranges
/// (`VmCtx::written`, which compiled stores widen through the dirty-range stub; the pool
/// clears only them). The NEAR reference marks host writes through the same type.
pub(crate) type TrackedMemory<'a> = gasket_host_api::written::MarkedMemory<'a>;

impl Drop for LinearMemory {
    fn drop(&mut self) {
        // SAFETY: the reservation this value owns; nothing uses it after the instance
        // (its owner) is dropped.
        unsafe { libc::munmap(self.base.cast(), self.reserved) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_up_to_the_maximum_and_no_further() {
        let mut m = LinearMemory::new(1, 3).unwrap();
        assert_eq!(m.len(), PAGE_SIZE);
        let base = m.base();
        assert_eq!(m.grow(1), Some(1));
        assert_eq!(m.grow(2), None, "4 > 3 pages");
        assert_eq!(m.pages(), 2);
        assert_eq!(m.grow(1), Some(2));
        assert_eq!(m.grow(0), Some(3));
        assert_eq!(m.grow(1), None);
        assert_eq!(m.grow(u32::MAX), None);
        assert_eq!(m.base(), base, "the base never moves");
        assert_eq!(m.as_slice().len() as u64, 3 * PAGE_SIZE);
    }

    #[test]
    fn new_pages_are_zero_and_writable() {
        let mut m = LinearMemory::new(1, 2).unwrap();
        assert!(m.as_slice().iter().all(|&b| b == 0));
        let last = m.as_slice().len() - 1;
        m.as_mut_slice()[last] = 0xff;
        m.grow(1).unwrap();
        assert_eq!(m.as_slice()[last], 0xff);
        assert!(m.as_slice()[last + 1..].iter().all(|&b| b == 0));
    }

    #[test]
    fn initial_above_maximum_and_empty_memories() {
        assert!(matches!(
            LinearMemory::new(3, 2),
            Err(MemoryError::InitialAboveMaximum { .. })
        ));
        let mut m = LinearMemory::new(0, 0).unwrap();
        assert!(m.is_empty() && m.as_slice().is_empty());
        assert_eq!(m.grow(1), None);
        assert_eq!(m.grow(0), Some(0));
    }
}
