//! Error codes, the `GasketError` object that carries a code with a readable message, and
//! the guard every exported function runs its body in, so that no Rust panic ever
//! unwinds into the caller's C frames.

use std::ffi::{c_char, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};

use gasket_vm::testing::HarnessError;
use gasket_vm::{EngineError, LoadError};

/// What a function returns: `GASKET_OK` (0) or why it failed. Codes are stable: new ones
/// are only ever appended.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GasketErrorCode {
    /// Success.
    GASKET_OK = 0,
    /// A required pointer argument was NULL.
    GASKET_ERROR_NULL_ARGUMENT = 1,
    /// An argument is out of range or malformed (unknown enum value, method name that is
    /// not UTF-8, index past the end).
    GASKET_ERROR_INVALID_ARGUMENT = 2,
    /// This machine cannot run Gasket's generated code (architecture or CPU feature).
    GASKET_ERROR_UNSUPPORTED_HOST = 3,
    /// The wasm module was rejected by the profile or could not be compiled.
    GASKET_ERROR_INVALID_MODULE = 4,
    /// A serialized module was refused (corrupt, truncated, other engine or profile).
    GASKET_ERROR_ARTIFACT = 5,
    /// `gasket_engine_load_by_hash` was given bytes whose SHA-256 is not the code hash.
    GASKET_ERROR_CODE_HASH_MISMATCH = 6,
    /// `gasket_engine_load_by_hash` without bytes, and the hash is not in the cache.
    GASKET_ERROR_NOT_CACHED = 7,
    /// The module could not be instantiated (imports, resources, pool exhausted).
    GASKET_ERROR_INSTANTIATION = 8,
    /// The method does not exist, is not a function or takes parameters.
    GASKET_ERROR_NO_SUCH_METHOD = 9,
    /// A storage callback failed or panicked. An environment failure, not the call's
    /// result: the node must retry or halt, never record it.
    GASKET_ERROR_STORAGE = 10,
    /// An internal error (a Rust panic caught at the API boundary). Please report it.
    GASKET_ERROR_INTERNAL = 11,
    /// The operating system refused memory (code mapping, disk cache I/O).
    GASKET_ERROR_SYSTEM = 12,
}

/// An error: a code and a readable message. Created by failing functions that were given a
/// non-NULL `GasketError **error`; free it with `gasket_error_free`. Immutable, so it may
/// be read from any thread.
pub struct GasketError {
    pub(crate) code: GasketErrorCode,
    message: CString,
}

/// A failure inside an exported function, before it becomes a [`GasketError`].
pub(crate) struct Failure {
    pub(crate) code: GasketErrorCode,
    pub(crate) message: String,
}

impl Failure {
    pub(crate) fn new(code: GasketErrorCode, message: impl Into<String>) -> Failure {
        Failure {
            code,
            message: message.into(),
        }
    }

    pub(crate) fn null(argument: &str) -> Failure {
        Failure::new(
            GasketErrorCode::GASKET_ERROR_NULL_ARGUMENT,
            format!("argument `{argument}` is NULL"),
        )
    }

    pub(crate) fn invalid(message: impl Into<String>) -> Failure {
        Failure::new(GasketErrorCode::GASKET_ERROR_INVALID_ARGUMENT, message)
    }
}

impl From<EngineError> for Failure {
    fn from(e: EngineError) -> Failure {
        Failure::new(
            GasketErrorCode::GASKET_ERROR_UNSUPPORTED_HOST,
            e.to_string(),
        )
    }
}

impl From<LoadError> for Failure {
    fn from(e: LoadError) -> Failure {
        use GasketErrorCode::*;
        let code = match &e {
            LoadError::Rejected(_) | LoadError::Compile(_) => GASKET_ERROR_INVALID_MODULE,
            LoadError::IncompatibleArtifact(_) | LoadError::Artifact(_) => GASKET_ERROR_ARTIFACT,
            LoadError::CodeMemory(_) => GASKET_ERROR_SYSTEM,
            LoadError::CodeHashMismatch { .. } => GASKET_ERROR_CODE_HASH_MISMATCH,
        };
        Failure::new(code, e.to_string())
    }
}

impl From<HarnessError> for Failure {
    fn from(e: HarnessError) -> Failure {
        use GasketErrorCode::*;
        let code = match &e {
            HarnessError::Call(_) | HarnessError::NoSuchAccount(_) => GASKET_ERROR_NO_SUCH_METHOD,
            HarnessError::Instantiation(_) => GASKET_ERROR_INSTANTIATION,
            HarnessError::Storage(_) => GASKET_ERROR_STORAGE,
        };
        Failure::new(code, e.to_string())
    }
}

/// Runs `body`, turning a failure or a panic into a code and, if `error` is not NULL, a
/// new `GasketError` stored through it (`*error` is set to NULL on success).
pub(crate) fn guard(
    error: *mut *mut GasketError,
    body: impl FnOnce() -> Result<(), Failure>,
) -> GasketErrorCode {
    let result = catch_unwind(AssertUnwindSafe(body)).unwrap_or_else(|panic| {
        let what = panic
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic payload".to_string());
        Err(Failure::new(
            GasketErrorCode::GASKET_ERROR_INTERNAL,
            format!("internal error (a bug in Gasket, please report it): {what}"),
        ))
    });
    let (code, out) = match result {
        Ok(()) => (GasketErrorCode::GASKET_OK, std::ptr::null_mut()),
        Err(f) => {
            let message = CString::new(f.message.replace('\0', "\\0"))
                .unwrap_or_else(|_| CString::from(c"error message unavailable"));
            let boxed = Box::new(GasketError {
                code: f.code,
                message,
            });
            (f.code, Box::into_raw(boxed))
        }
    };
    if error.is_null() {
        if !out.is_null() {
            // SAFETY: `out` was just made by `Box::into_raw` and is not shared.
            drop(unsafe { Box::from_raw(out) });
        }
    } else {
        // SAFETY: the caller passes either NULL (checked above) or a writable
        // `GasketError *` slot, as the header documents.
        unsafe { *error = out };
    }
    code
}

/// The error's code (`GASKET_ERROR_NULL_ARGUMENT` if `error` is NULL).
#[no_mangle]
pub extern "C" fn gasket_error_code(error: *const GasketError) -> GasketErrorCode {
    // SAFETY: NULL or a live error from this library, as documented.
    match unsafe { error.as_ref() } {
        Some(e) => e.code,
        None => GasketErrorCode::GASKET_ERROR_NULL_ARGUMENT,
    }
}

/// The error's message: NUL-terminated UTF-8, valid until `gasket_error_free(error)`.
/// NULL if `error` is NULL.
#[no_mangle]
pub extern "C" fn gasket_error_message(error: *const GasketError) -> *const c_char {
    // SAFETY: NULL or a live error from this library, as documented.
    match unsafe { error.as_ref() } {
        Some(e) => e.message.as_ptr(),
        None => std::ptr::null(),
    }
}

/// Frees an error. NULL is ignored.
#[no_mangle]
pub extern "C" fn gasket_error_free(error: *mut GasketError) {
    if !error.is_null() {
        // SAFETY: a live error from this library, freed once, as documented.
        drop(unsafe { Box::from_raw(error) });
    }
}

/// Copies `len` bytes at `ptr` (NULL allowed when `len` is 0).
pub(crate) fn bytes<'a>(ptr: *const u8, len: usize, name: &str) -> Result<&'a [u8], Failure> {
    if len == 0 {
        return Ok(&[]);
    }
    if ptr.is_null() {
        return Err(Failure::null(name));
    }
    // SAFETY: the caller guarantees `len` readable bytes at `ptr` for the duration of the
    // call, as the header documents for every (pointer, length) pair.
    Ok(unsafe { std::slice::from_raw_parts(ptr, len) })
}

/// A reference to a live object passed by the caller.
pub(crate) fn object<'a, T>(ptr: *const T, name: &str) -> Result<&'a T, Failure> {
    // SAFETY: the caller passes NULL (refused) or a live object of this type, as the
    // header documents.
    unsafe { ptr.as_ref() }.ok_or_else(|| Failure::null(name))
}

/// A caller's non-NULL out-pointer, checked before any work is done and written once the
/// result exists.
pub(crate) struct OutSlot<T>(*mut T);

impl<T> OutSlot<T> {
    /// Refuses a NULL out-pointer.
    pub(crate) fn new(out: *mut T, name: &str) -> Result<OutSlot<T>, Failure> {
        if out.is_null() {
            Err(Failure::null(name))
        } else {
            Ok(OutSlot(out))
        }
    }

    /// Writes the result (without reading or dropping what the slot held).
    pub(crate) fn set(self, value: T) {
        // SAFETY: non-NULL (checked in `new`) and writable, as the header documents for
        // every out-pointer; `write` does not read the possibly uninitialized old value.
        unsafe { self.0.write(value) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_becomes_an_internal_error_not_an_unwind() {
        let mut error = std::ptr::null_mut();
        let code = guard(&mut error, || panic!("boom"));
        assert_eq!(code, GasketErrorCode::GASKET_ERROR_INTERNAL);
        assert_eq!(gasket_error_code(error), code);
        // SAFETY: a live error's message is NUL-terminated.
        let message = unsafe { std::ffi::CStr::from_ptr(gasket_error_message(error)) };
        assert_eq!(
            message.to_str().unwrap(),
            "internal error (a bug in Gasket, please report it): boom"
        );
        gasket_error_free(error);
        let code = guard(&mut error, || Ok(()));
        assert_eq!(code, GasketErrorCode::GASKET_OK);
        assert!(error.is_null());
    }

    #[test]
    fn messages_with_nul_bytes_stay_readable() {
        let mut error = std::ptr::null_mut();
        guard(&mut error, || Err(Failure::invalid("a\0b")));
        // SAFETY: as above.
        let message = unsafe { std::ffi::CStr::from_ptr(gasket_error_message(error)) };
        assert_eq!(message.to_str().unwrap(), "a\\0b");
        gasket_error_free(error);
    }
}
