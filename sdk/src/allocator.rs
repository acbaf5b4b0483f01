//! The contract's global allocator on wasm32: a bump allocator.
//!
//! Gasket runs every call in a fresh instance, so the heap lives for one call and is
//! discarded with the instance. An allocator that never reuses freed memory is therefore
//! the right trade: allocation is a bounds check and an add, about 60 gas with the call
//! into the allocator (measured on Gasket: 100 `Box::new(u64)` in a loop cost 6 707 gas,
//! loop included), where a general-purpose allocator such as dlmalloc searches free
//! lists and keeps bookkeeping on every call and adds kilobytes of code; and memory is
//! returned anyway when the call ends. Two cheap refinements keep common
//! patterns from wasting memory: freeing (or shrinking) the most recent allocation moves
//! the top back, and growing the most recent allocation (a `Vec` being pushed to) extends
//! it in place.
//!
//! The heap starts at `__heap_base` (set by the linker after the stack and static data)
//! and grows linear memory with `memory.grow` when it reaches the end: each new 64 KiB
//! page is charged by the profile's per-page `memory.grow` price, and a call that needs
//! more than the profile's memory cap gets a null pointer, which Rust turns into the
//! panic `memory allocation of N bytes failed` (see `panic.rs`). A call that allocates in a loop without bound
//! pays for every byte it ever allocated, which is what a metered chain wants.

use core::alloc::{GlobalAlloc, Layout};
use core::arch::wasm32;

const PAGE: usize = 65536;

/// The bump allocator (see the module docs).
pub struct BumpAllocator;

/// Next free address (0 until the first allocation) and end of linear memory. Wasm
/// instances of contracts are single-threaded, so plain statics suffice.
static mut TOP: usize = 0;
static mut END: usize = 0;

extern "C" {
    /// Defined by wasm-ld: the first address after the stack and static data.
    static __heap_base: u8;
}

/// Makes `[.., new_top)` usable, growing memory if needed; false if memory is exhausted.
///
/// # Safety
/// Single-threaded access to `TOP`/`END` (always true in a contract instance).
unsafe fn reserve(new_top: usize) -> bool {
    if END == 0 {
        TOP = core::ptr::addr_of!(__heap_base) as usize;
        END = wasm32::memory_size(0) * PAGE;
    }
    if new_top > END {
        let pages = (new_top - END + PAGE - 1) / PAGE;
        if wasm32::memory_grow(0, pages) == usize::MAX {
            return false;
        }
        END += pages * PAGE;
    }
    true
}

// SAFETY: blocks never overlap: each allocation starts at or after TOP (aligned up) and
// moves TOP past its end; TOP only moves back over the most recent block when that block
// is freed or shrunk, and in-place growth only applies to the block ending at TOP.
unsafe impl GlobalAlloc for BumpAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if END == 0 && !reserve(0) {
            return core::ptr::null_mut();
        }
        let start = match TOP.checked_add(layout.align() - 1) {
            Some(v) => v & !(layout.align() - 1),
            None => return core::ptr::null_mut(),
        };
        let new_top = match start.checked_add(layout.size()) {
            Some(v) => v,
            None => return core::ptr::null_mut(),
        };
        if !reserve(new_top) {
            return core::ptr::null_mut();
        }
        TOP = new_top;
        start as *mut u8
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if ptr as usize + layout.size() == TOP {
            TOP = ptr as usize;
        }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let start = ptr as usize;
        if start + layout.size() == TOP {
            // The most recent block: resize it where it is.
            let new_top = match start.checked_add(new_size) {
                Some(v) => v,
                None => return core::ptr::null_mut(),
            };
            if !reserve(new_top) {
                return core::ptr::null_mut();
            }
            TOP = new_top;
            return ptr;
        }
        if new_size <= layout.size() {
            return ptr;
        }
        let new_layout = Layout::from_size_align_unchecked(new_size, layout.align());
        let new = self.alloc(new_layout);
        if !new.is_null() {
            core::ptr::copy_nonoverlapping(ptr, new, layout.size());
        }
        new
    }
}

#[global_allocator]
static ALLOCATOR: BumpAllocator = BumpAllocator;
