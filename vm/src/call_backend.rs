//! A hook for running compiled code through something other than a native call (cargo
//! feature `call-backend`; `#[doc(hidden)]`, not a stable API).
//!
//! It exists so the AArch64 backend can be tested on an x86-64 host: the emulator lives in
//! the unpublished `gasket-aarch64-tests` crate (Unicorn is GPL-2.0 and must never be a
//! dependency of what embedders link), and this module gives it exactly what it needs to
//! run a call of an ordinary [`Instance`](crate::Instance), so that instantiation (imports,
//! memory, tables, globals, segments), libcalls, host functions, traps and gas are the
//! runtime's own, not a copy:
//!
//! - [`Engine::with_backend`](crate::Engine::with_backend) makes an engine that compiles
//!   for the backend's target and hands every call to the backend instead of calling the
//!   entry trampoline natively;
//! - [`CallBackend::call`] gets the addresses a native call would use ([`EntryCall`]);
//! - [`regions`] lists the host memory generated code may touch (vmctx and globals,
//!   function references, tables, linear memory), for a backend that maps host memory
//!   into its guest at the same addresses;
//! - [`libcall`] runs runtime helper `index` with integer arguments, exactly as a native
//!   call through `VmCtx::libcalls` would.

use std::ops::Range;

use gasket_singlepass::{FuncRef, Libcall, TableDef, Target, VmCtx};

use crate::libcalls;
use crate::runtime::Runtime;

/// Runs the entry trampoline of an artifact compiled for [`CallBackend::target`].
pub trait CallBackend: Send + Sync + std::fmt::Debug {
    /// The ISA of the code this backend runs.
    fn target(&self) -> Target;

    /// Runs `call.trampoline(call.vmctx, call.func, call.args)` and returns what the
    /// trampoline returns (0, or a trap code). The vmctx is fully initialised (gas, stack
    /// budget, libcall table with the native helper addresses: a backend that cannot call
    /// those replaces them and dispatches to [`libcall`]).
    ///
    /// # Safety
    /// Called by the runtime only, with the pointers of a live instance whose call is in
    /// progress; the backend must follow the trampoline's contract (Artifact docs).
    unsafe fn call(&self, call: &EntryCall) -> u32;
}

/// Everything about one call through the entry trampoline.
#[derive(Debug)]
pub struct EntryCall {
    /// The entry trampoline (inside `code`).
    pub trampoline: *const u8,
    /// The instance's vmctx.
    pub vmctx: *mut VmCtx,
    /// Entry of the called function (inside `code`).
    pub func: *const u8,
    /// The parameter/result slots, 16-byte aligned at the top of `stack`.
    pub args: *mut u64,
    /// The module's code, as mapped by the runtime (read+execute, page-aligned start).
    pub code: Range<usize>,
    /// The usable part of the instance's native stack (page-aligned).
    pub stack: Range<usize>,
}

/// The host memory generated code of the instance behind `vmctx` may read or write right
/// now, as address ranges (not page-aligned, possibly overlapping): the vmctx with its
/// globals, the function references, the table definitions, every table's elements and
/// the current linear memory. Tables and memory move or grow only in libcalls, so a
/// backend calls this again after each one.
///
/// # Safety
/// `vmctx` is the vmctx of a live instance ([`EntryCall::vmctx`]), not borrowed elsewhere.
pub unsafe fn regions(vmctx: *mut VmCtx) -> Vec<Range<usize>> {
    // SAFETY: the caller guarantees `vmctx` is live; its `runtime` is the instance's boxed
    // state, only read here.
    let rt = unsafe { &*(*vmctx).runtime.cast::<Runtime>() };
    let span = |start: usize, bytes: usize| start..start + bytes;
    let mut out = vec![span(
        vmctx as usize,
        VmCtx::global_offset(rt.globals) as usize,
    )];
    out.push(span(
        rt.funcrefs.as_ptr() as usize,
        rt.funcrefs.len() * FuncRef::SIZE as usize,
    ));
    out.push(span(
        rt.table_defs.as_ptr() as usize,
        rt.table_defs.len() * TableDef::SIZE as usize,
    ));
    for t in &rt.tables {
        out.push(span(t.elems.as_ptr() as usize, t.elems.len() * 8));
    }
    if let Some(m) = &rt.memory {
        out.push(span(m.base() as usize, m.len() as usize));
    }
    out.retain(|r| !r.is_empty());
    out
}

/// Runs runtime helper `index` (a [`Libcall`] number) with the integer argument registers
/// `args` (`args[0]` is the vmctx; the others as documented per [`Libcall`], 32-bit ones in
/// the low half) and returns its result, zero-extended; `None` for an unknown index.
///
/// # Safety
/// As for a native libcall: `args[0]` is the vmctx of the instance whose call is running
/// and suspended in this helper; pointer arguments (`HostCall`'s slots) point to host
/// memory valid for the helper.
pub unsafe fn libcall(index: u32, args: [u64; 8]) -> Option<u64> {
    let vmctx = args[0] as *mut VmCtx;
    let a = |i: usize| args[i] as u32;
    let result = match index {
        i if i == Libcall::HostCall as u32 => libcalls::host_call(vmctx, a(1), args[2] as *mut u64),
        i if i == Libcall::MemoryGrow as u32 => libcalls::memory_grow(vmctx, a(1)),
        i if i == Libcall::MemoryFill as u32 => libcalls::memory_fill(vmctx, a(1), a(2), a(3)),
        i if i == Libcall::MemoryCopy as u32 => libcalls::memory_copy(vmctx, a(1), a(2), a(3)),
        i if i == Libcall::MemoryInit as u32 => {
            libcalls::memory_init(vmctx, a(1), a(2), a(3), a(4))
        }
        i if i == Libcall::DataDrop as u32 => libcalls::data_drop(vmctx, a(1)),
        i if i == Libcall::TableGrow as u32 => libcalls::table_grow(vmctx, a(1), args[2], a(3)),
        i if i == Libcall::TableFill as u32 => {
            libcalls::table_fill(vmctx, a(1), a(2), args[3], a(4))
        }
        i if i == Libcall::TableCopy as u32 => {
            libcalls::table_copy(vmctx, a(1), a(2), a(3), a(4), a(5))
        }
        i if i == Libcall::TableInit as u32 => {
            libcalls::table_init(vmctx, a(1), a(2), a(3), a(4), a(5))
        }
        i if i == Libcall::ElemDrop as u32 => libcalls::elem_drop(vmctx, a(1)),
        _ => return None,
    };
    Some(u64::from(result))
}
