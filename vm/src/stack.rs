//! The native stack compiled code runs on: one per instance, with a guard page below it.
//!
//! Generated code never relies on the guard page (the deterministic stack-height limit
//! fires first: every frame fits in `NATIVE_STACK_BYTES_PER_UNIT` bytes per stack unit);
//! the guard turns a bug into a crash instead of silent corruption of neighbouring memory.

use std::io;

use crate::code_memory::{page_size, round_up};

/// Headroom above the deterministic frames, for libcalls and host functions (which run on
/// this stack too).
pub const HOST_HEADROOM: usize = 1 << 20;

/// Bytes of native stack per deterministic stack unit that generated code may use (the
/// compiler's bound, see `gasket_singlepass::NATIVE_STACK_BYTES_PER_UNIT`).
pub const BYTES_PER_STACK_UNIT: usize = gasket_singlepass::NATIVE_STACK_BYTES_PER_UNIT as usize;

/// A native stack: `[guard page][usable bytes]`, growing down from `top`.
#[derive(Debug)]
pub struct NativeStack {
    /// Start of the mapping (the guard page).
    base: *mut u8,
    /// Length of the whole mapping.
    mapped: usize,
}

// SAFETY: the stack is plain memory owned by this value; nothing about it is tied to the
// thread that created it.
unsafe impl Send for NativeStack {}

impl NativeStack {
    /// The stack size for a profile's `max_height`: `32 * max_height + 1 MiB`.
    pub fn size_for(max_height: u32) -> usize {
        BYTES_PER_STACK_UNIT * max_height as usize + HOST_HEADROOM
    }

    /// Maps at least `usable` bytes of stack plus a `PROT_NONE` guard page below them.
    pub fn new(usable: usize) -> io::Result<NativeStack> {
        let page = page_size();
        let usable = round_up(usable.max(1), page)
            .ok_or_else(|| io::Error::new(io::ErrorKind::OutOfMemory, "stack too large"))?;
        let mapped = usable
            .checked_add(page)
            .ok_or_else(|| io::Error::new(io::ErrorKind::OutOfMemory, "stack too large"))?;
        // SAFETY: a fresh anonymous mapping at a kernel-chosen address aliases nothing.
        let base = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                mapped,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
                -1,
                0,
            )
        };
        if base == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: the first page of the mapping created above.
        if unsafe { libc::mprotect(base, page, libc::PROT_NONE) } != 0 {
            let err = io::Error::last_os_error();
            // SAFETY: unmapping the mapping created above, used by nothing else.
            unsafe { libc::munmap(base, mapped) };
            return Err(err);
        }
        Ok(NativeStack {
            base: base.cast(),
            mapped,
        })
    }

    /// One past the highest byte of the stack (page-aligned, so 16-byte aligned).
    pub fn top(&self) -> *mut u8 {
        self.base.wrapping_add(self.mapped)
    }

    /// Usable bytes (the guard page excluded).
    pub fn usable(&self) -> usize {
        self.mapped - page_size()
    }

    /// The lowest usable address (just above the guard page).
    pub fn limit(&self) -> *mut u8 {
        self.base.wrapping_add(page_size())
    }
}

impl Drop for NativeStack {
    fn drop(&mut self) {
        // SAFETY: the mapping this value owns; no call is running on it (calls borrow the
        // instance that owns the stack).
        unsafe { libc::munmap(self.base.cast(), self.mapped) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stack_is_aligned_and_writable_down_to_the_guard() {
        let stack = NativeStack::new(NativeStack::size_for(1024)).unwrap();
        assert_eq!(stack.top() as usize % 16, 0);
        assert!(stack.usable() >= 16 * 1024 + HOST_HEADROOM);
        // SAFETY: the highest and lowest usable bytes are inside the RW part.
        unsafe {
            stack.top().sub(1).write(7);
            stack.limit().write(9);
            assert_eq!(stack.top().sub(1).read(), 7);
        }
    }
}
