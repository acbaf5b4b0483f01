//! The native stack compiled code runs on: one per instance, with a guard page below it.
//!
//! Generated code never relies on the guard page (the deterministic stack-height limit
//! fires first: every frame fits in `NATIVE_STACK_BYTES_PER_UNIT` bytes per stack unit);
//! the guard turns a bug into a crash instead of silent corruption of neighbouring memory.

use std::io;

use crate::code_memory::{page_size, round_up};

/// Headroom below the deterministic frames, for the entry frames of libcalls (which then
/// switch to the host thread's stack for the host function itself, see
/// `libcalls::with_runtime`) and as a margin against a miscounted frame bound.
pub const HOST_HEADROOM: usize = 1 << 20;

/// Bytes of native stack per deterministic stack unit that generated code may use (the
/// compiler's bound, see `gasket_singlepass::NATIVE_STACK_BYTES_PER_UNIT`).
pub const BYTES_PER_STACK_UNIT: usize = gasket_singlepass::NATIVE_STACK_BYTES_PER_UNIT as usize;

/// Slack below the deepest frame the stack budget accounts for: the entry trampoline's
/// return address and what the stack-grant stub pushes (its return address and two
/// saved registers on x86-64, nothing on AArch64), rounded up.
const WASM_CALL_SLACK: usize = 64;

/// Bytes a libcall may write below the stack pointer it records before switching to the
/// host stack: the rest of `with_runtime`'s frame and psm's switch (a few words each).
const LIBCALL_FRAME_SLACK: usize = 1024;

/// A native stack: `[guard page][usable bytes]`, growing down from `top`.
#[derive(Debug)]
pub struct NativeStack {
    /// Start of the mapping (the guard page).
    base: *mut u8,
    /// Length of the whole mapping.
    mapped: usize,
    /// Bytes below `top` that calls may have written since the stack was last all zero,
    /// or `None` when unknown (a call overflowed its budget, or host code ran on this
    /// stack because it could not switch to the host's). Below that, the stack still
    /// reads as zero; the pool clears just those bytes.
    written: Option<usize>,
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
            written: Some(0),
        })
    }

    /// Records a call that put `area` bytes of arguments at the top and was granted
    /// `granted_units` deterministic stack units (`VmCtx` budget at entry minus
    /// `stack_reserve` at exit; `None` if it overflowed its budget: the overflowing
    /// frame was written before the check), whose libcalls saw `lowest_libcall_sp` as
    /// their lowest stack pointer before switching to the host stack (`usize::MAX`:
    /// none ran; see `libcalls::with_runtime`).
    ///
    /// Every wasm frame fits in `BYTES_PER_STACK_UNIT` per unit it is charged (the
    /// compiler's bound), so the granted units bound the depth of the wasm frames; a
    /// libcall writes at most `LIBCALL_FRAME_SLACK` below the pointer it recorded.
    pub fn note_call(&mut self, area: usize, granted_units: Option<u64>, lowest_libcall_sp: usize) {
        let top = self.top() as usize;
        let wasm = granted_units.and_then(|units| {
            let frames = usize::try_from(units)
                .ok()?
                .checked_mul(BYTES_PER_STACK_UNIT)?;
            area.checked_add(frames)?.checked_add(WASM_CALL_SLACK)
        });
        let libcalls = match lowest_libcall_sp {
            usize::MAX => Some(0),
            sp if sp > self.limit() as usize && sp <= top => Some(top - sp + LIBCALL_FRAME_SLACK),
            _ => None,
        };
        self.written = match (self.written, wasm, libcalls) {
            (Some(before), Some(wasm), Some(libcalls)) => {
                Some(before.max(wasm).max(libcalls).min(self.usable()))
            }
            _ => None,
        };
    }

    /// Bytes below `top` that may be non-zero (`None`: unknown, see `note_call`).
    pub fn written(&self) -> Option<usize> {
        self.written
    }

    /// Records that the whole stack reads as zero again (after the pool scrubbed it).
    pub fn mark_clean(&mut self) {
        self.written = Some(0);
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
