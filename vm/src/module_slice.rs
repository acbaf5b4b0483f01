//! A slice that belongs to an instance's module, read by the instance without a copy.
//!
//! Instantiation used to copy module-constant tables into every instance (function
//! references, import bindings): one allocation and one pass over every function of the
//! module per instantiation, for values no instance ever changes. The instance keeps its
//! module alive (`module_holds`), so it can read the module's own slices in place; this
//! type is that borrow, without a lifetime the `Runtime` (boxed, reached from generated
//! code through a raw pointer) could carry.

use std::ptr::NonNull;

pub(crate) struct ModuleSlice<T> {
    slice: NonNull<[T]>,
}

// SAFETY: the slice is only read, and lives in a module that is `Sync`; sending the view
// to another thread is sending a shared reference, which `T: Sync` allows.
unsafe impl<T: Sync> Send for ModuleSlice<T> {}

impl<T> ModuleSlice<T> {
    /// An empty slice (a runtime before instantiation fills it in).
    pub(crate) fn empty() -> ModuleSlice<T> {
        ModuleSlice {
            slice: NonNull::from(&[][..]),
        }
    }

    /// A view of `slice`.
    ///
    /// # Safety
    /// `slice` must stay alive and unchanged for as long as the returned value: it belongs
    /// to the runtime's module, which the instance owning the runtime holds (or, in tests,
    /// it is leaked or outlives the runtime).
    pub(crate) unsafe fn new(slice: &[T]) -> ModuleSlice<T> {
        ModuleSlice {
            slice: NonNull::from(slice),
        }
    }

    /// The slice.
    pub(crate) fn as_slice(&self) -> &[T] {
        // SAFETY: the slice outlives `self` (the contract of `new`).
        unsafe { self.slice.as_ref() }
    }
}

impl<T> std::ops::Deref for ModuleSlice<T> {
    type Target = [T];

    fn deref(&self) -> &[T] {
        self.as_slice()
    }
}

impl<T: std::fmt::Debug> std::fmt::Debug for ModuleSlice<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.as_slice().fmt(f)
    }
}
