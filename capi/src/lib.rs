//! `gasket-capi`: Gasket's stable C API, for nodes not written in Rust (C, C++, Go via
//! cgo). Builds a static library (`libgasket_capi.a`), a shared one (`libgasket_capi.so`)
//! and an rlib; the header `capi/include/gasket_capi.h` is generated from this crate by
//! cbindgen (`tests/header.rs` fails when the checked-in copy is stale).
//!
//! Conventions, stated once in the header too:
//! - every object has a create function and a `_free` function (NULL is ignored);
//! - fallible functions return a [`GasketErrorCode`] and, if their last argument
//!   `GasketError **error` is not NULL, store a new error there (code and readable
//!   message) on failure, NULL on success;
//! - no Rust panic crosses the boundary: a panic inside Gasket becomes
//!   `GASKET_ERROR_INTERNAL`, one in a storage callback `GASKET_ERROR_STORAGE`;
//! - engines and modules are thread-safe; outcomes, buffers and errors are immutable;
//!   storage callbacks run on the calling thread only.
//!
//! Calls use host ABI v1 through [`gasket_vm::testing::call_contract`], the same path as
//! the `TestChain` harness and `gasket run --call`, so outcomes (gas included) are
//! identical to theirs.

#![deny(missing_docs)]
// The C names (`GASKET_OK`, ...) are the API.
#![allow(non_camel_case_types)]
// The exported functions are the C ABI: they refuse NULL and otherwise rely on the pointer
// contract the header states for every argument (the `// SAFETY:` comments cite it). Marking
// them `unsafe` would change nothing for C callers.
#![allow(clippy::not_unsafe_ptr_arg_deref)]

mod call;
mod engine;
mod error;

pub use call::{
    gasket_call, gasket_outcome_free, gasket_outcome_gas_used, gasket_outcome_log,
    gasket_outcome_log_count, gasket_outcome_message, gasket_outcome_return_data,
    gasket_outcome_state_change, gasket_outcome_state_change_count, gasket_outcome_status,
    gasket_outcome_trap_kind, gasket_value_set,
};
pub use call::{
    GasketCallParams, GasketCallStatus, GasketOutcome, GasketStorage, GasketStorageGet,
    GasketStorageHas, GasketStorageRemove, GasketStorageSet, GasketValue,
};
pub use engine::{
    gasket_bytes_data, gasket_bytes_free, gasket_bytes_len, gasket_engine_cache_stats,
    gasket_engine_clear_memory_cache, gasket_engine_free, gasket_engine_load,
    gasket_engine_load_by_hash, gasket_engine_new, gasket_module_compile,
    gasket_module_deserialize, gasket_module_free, gasket_module_serialize,
};
pub use engine::{
    GasketBytes, GasketCacheStats, GasketEngine, GasketEngineConfig, GasketFloatPolicy,
    GasketModule, GasketProfile,
};
pub use error::{gasket_error_code, gasket_error_free, gasket_error_message};
pub use error::{GasketError, GasketErrorCode};

/// The C API's ABI version (`GASKET_ABI_VERSION`): bumped on any incompatible change to a
/// function, struct or enum of the header. Nodes check it at startup against the header
/// they were built with.
pub const GASKET_ABI_VERSION: u32 = 1;

/// The ABI version of the linked library (compare with `GASKET_ABI_VERSION`).
#[no_mangle]
pub extern "C" fn gasket_abi_version() -> u32 {
    GASKET_ABI_VERSION
}

/// The library's version, a static NUL-terminated string (e.g. `0.1.0`).
#[no_mangle]
pub extern "C" fn gasket_version() -> *const std::ffi::c_char {
    const VERSION: &std::ffi::CStr = match std::ffi::CStr::from_bytes_with_nul(
        concat!(env!("CARGO_PKG_VERSION"), "\0").as_bytes(),
    ) {
        Ok(v) => v,
        Err(_) => panic!("version has no NUL"),
    };
    VERSION.as_ptr()
}
