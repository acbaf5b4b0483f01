//! [`CodeBuffer`]: a growable byte buffer in its own anonymous memory mapping.
//!
//! The assembler writes a module's machine code here, and the runtime (gasket-vm's
//! `code_memory`) switches these same pages to read+execute instead of copying the code
//! into a fresh mapping: a compile never holds its code twice, which was 7 of the 13 bytes
//! per byte of module at a compile's memory peak (ARCHITECTURE.md, "Compile throughput and
//! memory"). Pages are only touched as code is written, so a generous initial capacity
//! costs address space, not memory. Growth moves the mapping with `mremap` on Linux (no
//! copy), elsewhere by map, copy, unmap.

use std::alloc::Layout;
use std::ptr::NonNull;

/// A growable, page-aligned, read-write byte buffer backed by an anonymous private mapping
/// that it owns. Dereferences to the bytes written so far.
pub struct CodeBuffer {
    /// Start of the mapping (page-aligned, never null: at least one page is mapped).
    ptr: NonNull<u8>,
    /// Bytes written.
    len: usize,
    /// Bytes mapped (whole pages, at least one).
    cap: usize,
}

// SAFETY: the buffer owns its mapping exclusively (no aliasing pointer is kept anywhere
// else) and has no interior mutability, so moving it to or sharing it with another thread
// is as sound as for a `Vec<u8>`.
unsafe impl Send for CodeBuffer {}
// SAFETY: see `Send`; `&CodeBuffer` only reads.
unsafe impl Sync for CodeBuffer {}

impl std::fmt::Debug for CodeBuffer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CodeBuffer")
            .field("len", &self.len)
            .field("mapped", &self.cap)
            .finish()
    }
}

/// The system page size (asked once).
pub fn page_size() -> usize {
    static PAGE: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *PAGE.get_or_init(|| {
        // SAFETY: sysconf has no preconditions; it only reads a system constant.
        let size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
        if size <= 0 {
            4096
        } else {
            size as usize
        }
    })
}

/// `bytes` rounded up to whole pages (at least one), or `None` on overflow.
fn pages_for(bytes: usize) -> Option<usize> {
    let page = page_size();
    bytes.max(1).checked_add(page - 1).map(|v| v & !(page - 1))
}

/// What running out of address space looks like to the caller: the same abort as a `Vec`
/// whose allocation fails (code size is bounded by the module's limits long before that).
fn out_of_memory(bytes: usize) -> ! {
    std::alloc::handle_alloc_error(
        Layout::from_size_align(bytes.max(1), page_size()).unwrap_or(Layout::new::<u8>()),
    )
}

/// A fresh read-write anonymous mapping of `bytes` (whole pages), not populated.
fn map(bytes: usize) -> NonNull<u8> {
    // SAFETY: an anonymous private mapping at an address of the kernel's choosing aliases
    // no existing Rust object.
    let ptr = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            bytes,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        )
    };
    if ptr == libc::MAP_FAILED {
        out_of_memory(bytes)
    }
    NonNull::new(ptr.cast::<u8>()).unwrap_or_else(|| out_of_memory(bytes))
}

impl CodeBuffer {
    /// An empty buffer with room for at least `bytes` (address space only: pages are
    /// allocated by the kernel as they are first written).
    pub fn with_capacity(bytes: usize) -> CodeBuffer {
        let cap = pages_for(bytes).unwrap_or_else(|| out_of_memory(bytes));
        CodeBuffer {
            ptr: map(cap),
            len: 0,
            cap,
        }
    }

    /// Number of bytes written.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether nothing was written.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Drops the bytes from `len` on (nothing when `len` is past the end): an
    /// instruction just emitted, replaced by another (`isa/x64`'s float-load folding).
    pub fn truncate(&mut self, len: usize) {
        self.len = self.len.min(len);
    }

    /// Appends one byte.
    #[inline]
    pub fn push(&mut self, byte: u8) {
        if self.len == self.cap {
            self.grow(1);
        }
        // SAFETY: `len < cap`, so the byte lies inside the mapping, which is writable.
        unsafe { self.ptr.as_ptr().add(self.len).write(byte) };
        self.len += 1;
    }

    /// Appends `bytes`.
    #[inline]
    pub fn extend_from_slice(&mut self, bytes: &[u8]) {
        if self.cap - self.len < bytes.len() {
            self.grow(bytes.len());
        }
        // SAFETY: `len + bytes.len() <= cap` bytes are mapped writable; `bytes` cannot
        // overlap the mapping, which no shared reference outlives a `&mut self` call on.
        unsafe {
            std::ptr::copy_nonoverlapping(
                bytes.as_ptr(),
                self.ptr.as_ptr().add(self.len),
                bytes.len(),
            )
        };
        self.len += bytes.len();
    }

    /// Appends the bytes of `iter`. An iterator of exact length (an array's, a slice's:
    /// what `dynasm!` and the encoders hand over) is written after one capacity check,
    /// with the length kept in a register: pushing byte by byte checked the capacity and
    /// stored the length once per byte (a byte written through the buffer's pointer may
    /// alias the length, so the compiler reloads and stores it around every write).
    #[inline(always)]
    pub fn extend_from_iter<I: Iterator<Item = u8>>(&mut self, mut iter: I) {
        let (lower, upper) = iter.size_hint();
        if upper == Some(lower) {
            if self.cap - self.len < lower {
                self.grow(lower);
            }
            let dst = self.ptr.as_ptr();
            let mut len = self.len;
            for byte in iter.by_ref().take(lower) {
                // SAFETY: at most `lower` bytes are written from the old `len`, and
                // `len + lower <= cap` bytes are mapped writable.
                unsafe { dst.add(len).write(byte) };
                len += 1;
            }
            self.len = len;
        }
        // Whatever an inexact (or inaccurate) size hint left.
        for byte in iter {
            self.push(byte);
        }
    }

    /// Appends the low `len` bytes of `bytes` (little-endian: the first byte is the low
    /// one), `len <= 8`: one 8-byte store and one length update, for the short
    /// instructions the encoders assemble in a register (`isa/x64/compact`). The store
    /// writes past the new end when `len < 8`; those bytes are not code (the buffer's
    /// contents end at its length, as after `truncate`) and the next write overwrites
    /// them.
    #[inline]
    pub fn push_le(&mut self, bytes: u64, len: usize) {
        debug_assert!(len <= 8);
        if self.cap - self.len < 8 {
            self.grow(8);
        }
        // SAFETY: `self.len + 8 <= cap` bytes are mapped writable; an unaligned store.
        unsafe {
            self.ptr
                .as_ptr()
                .add(self.len)
                .cast::<u64>()
                .write_unaligned(bytes.to_le())
        };
        self.len += len.min(8);
    }

    /// Makes room for `additional` more bytes: at least doubles the mapping.
    #[cold]
    fn grow(&mut self, additional: usize) {
        let needed = self
            .len
            .checked_add(additional)
            .unwrap_or_else(|| out_of_memory(usize::MAX));
        let new_cap = pages_for(needed.max(self.cap.saturating_mul(2)))
            .unwrap_or_else(|| out_of_memory(needed));
        self.ptr = self.remap(new_cap);
        self.cap = new_cap;
    }

    /// The mapping moved to `new_cap` bytes, keeping its contents (Linux: the kernel moves
    /// the pages, nothing is copied).
    #[cfg(target_os = "linux")]
    fn remap(&mut self, new_cap: usize) -> NonNull<u8> {
        // SAFETY: `ptr..ptr + cap` is the mapping this buffer owns; MREMAP_MAYMOVE lets the
        // kernel move it, after which only the returned address is used.
        let ptr = unsafe {
            libc::mremap(
                self.ptr.as_ptr().cast(),
                self.cap,
                new_cap,
                libc::MREMAP_MAYMOVE,
            )
        };
        if ptr == libc::MAP_FAILED {
            out_of_memory(new_cap)
        }
        NonNull::new(ptr.cast::<u8>()).unwrap_or_else(|| out_of_memory(new_cap))
    }

    /// The contents moved to a new mapping of `new_cap` bytes (no `mremap` here).
    #[cfg(not(target_os = "linux"))]
    fn remap(&mut self, new_cap: usize) -> NonNull<u8> {
        let new = map(new_cap);
        // SAFETY: both mappings are ours, distinct, and at least `len` bytes long; the old
        // one is unmapped once its contents are copied and never used again.
        unsafe {
            std::ptr::copy_nonoverlapping(self.ptr.as_ptr(), new.as_ptr(), self.len);
            libc::munmap(self.ptr.as_ptr().cast(), self.cap);
        }
        new
    }

    /// The bytes, copied into a `Vec` (the buffer's mapping is released).
    pub fn into_vec(self) -> Vec<u8> {
        self.to_vec()
    }

    /// Gives up ownership of the mapping without unmapping it: `(start, bytes written,
    /// bytes mapped)`. The caller owns `start..start + mapped` (read-write, page-aligned,
    /// whole pages) and must `munmap` it, e.g. after making it executable in place.
    pub fn into_raw_parts(self) -> (NonNull<u8>, usize, usize) {
        let this = std::mem::ManuallyDrop::new(self);
        (this.ptr, this.len, this.cap)
    }
}

impl std::ops::Deref for CodeBuffer {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        // SAFETY: the first `len` bytes of the mapping were written and stay mapped as
        // long as `self`; the pointer is non-null and aligned for `u8`.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.len) }
    }
}

impl std::ops::DerefMut for CodeBuffer {
    fn deref_mut(&mut self) -> &mut [u8] {
        // SAFETY: as in `deref`, and `&mut self` makes this the only reference.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.as_ptr(), self.len) }
    }
}

impl Drop for CodeBuffer {
    fn drop(&mut self) {
        // SAFETY: `ptr..ptr + cap` is the mapping this buffer owns; nothing refers to it
        // once the buffer is dropped.
        unsafe { libc::munmap(self.ptr.as_ptr().cast(), self.cap) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_keeping_its_contents() {
        let mut buf = CodeBuffer::with_capacity(0);
        assert!(buf.is_empty());
        let page = page_size();
        for i in 0..3 * page + 5 {
            buf.push(i as u8);
        }
        buf.extend_from_slice(&[7; 10_000]);
        assert_eq!(buf.len(), 3 * page + 5 + 10_000);
        assert!(buf[..3 * page + 5]
            .iter()
            .enumerate()
            .all(|(i, &b)| b == i as u8));
        assert!(buf[3 * page + 5..].iter().all(|&b| b == 7));
        buf[0] = 0xcc;
        let copy = buf.into_vec();
        assert_eq!(copy[0], 0xcc);
        assert_eq!(copy.len(), 3 * page + 5 + 10_000);
    }

    #[test]
    fn short_writes_append_exactly_their_bytes_across_page_ends() {
        let page = page_size();
        let mut buf = CodeBuffer::with_capacity(0);
        let mut expected = Vec::new();
        let mut i = 0u64;
        // Past two page ends: each write may need the buffer to grow first.
        while expected.len() < 2 * page + 40 {
            let len = (i % 9) as usize;
            let bytes = 0x0807_0605_0403_0201u64.wrapping_mul(i + 1);
            buf.push_le(bytes, len);
            expected.extend_from_slice(&bytes.to_le_bytes()[..len]);
            // An exact-size iterator, and one whose size hint is a range.
            buf.extend_from_iter([i as u8, 0xaa, 0x55].into_iter());
            expected.extend_from_slice(&[i as u8, 0xaa, 0x55]);
            let odd = (0..(i % 5) as u8).filter(|b| b % 2 == 1);
            expected.extend(odd.clone());
            buf.extend_from_iter(odd);
            assert_eq!(&buf[..], &expected[..], "after write {i}");
            i += 1;
        }
    }

    #[test]
    fn raw_parts_are_whole_pages() {
        let mut buf = CodeBuffer::with_capacity(10);
        buf.extend_from_slice(b"abc");
        let (ptr, len, mapped) = buf.into_raw_parts();
        assert_eq!(len, 3);
        assert!(mapped >= page_size() && mapped.is_multiple_of(page_size()));
        assert_eq!(ptr.as_ptr() as usize % page_size(), 0);
        // SAFETY: the mapping was handed over by `into_raw_parts` and is released here.
        unsafe { libc::munmap(ptr.as_ptr().cast(), mapped) };
    }
}
