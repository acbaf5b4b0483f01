//! Contract calls (host ABI v1): the node's storage as a table of C callbacks, the call's
//! parameters, and the outcome object.

use std::ffi::{c_char, c_void, CStr};
use std::panic::{catch_unwind, AssertUnwindSafe};

use gasket_vm::host_api::{CallContext, HostLimits, Storage, StorageError};
use gasket_vm::testing::{call_contract, Outcome, Status};

use crate::engine::GasketModule;
use crate::error::{bytes, guard, object, Failure, GasketError, GasketErrorCode, OutSlot};

/// Where a `get` callback puts the value it found (`gasket_value_set`). Valid only during
/// that callback, on its thread.
pub struct GasketValue {
    value: Option<Vec<u8>>,
}

/// Reads the value under a key: call `gasket_value_set(value, ...)` if the key has one,
/// leave `value` alone if not; return 0, or any other number on failure.
pub type GasketStorageGet = Option<
    unsafe extern "C-unwind" fn(
        ctx: *mut c_void,
        key: *const u8,
        key_len: usize,
        value: *mut GasketValue,
    ) -> i32,
>;

/// Stores a value under a key; returns 0, or any other number on failure.
pub type GasketStorageSet = Option<
    unsafe extern "C-unwind" fn(
        ctx: *mut c_void,
        key: *const u8,
        key_len: usize,
        value: *const u8,
        value_len: usize,
    ) -> i32,
>;

/// Removes a key (an absent key is not a failure); returns 0, or any other number on
/// failure.
pub type GasketStorageRemove =
    Option<unsafe extern "C-unwind" fn(ctx: *mut c_void, key: *const u8, key_len: usize) -> i32>;

/// Sets `*found` to whether the key has a value; returns 0, or any other number on
/// failure.
pub type GasketStorageHas = Option<
    unsafe extern "C-unwind" fn(
        ctx: *mut c_void,
        key: *const u8,
        key_len: usize,
        found: *mut bool,
    ) -> i32,
>;

/// The node's key-value storage of the called account, as callbacks. Every callback is
/// required. They are called only from inside `gasket_call`, on the thread that called
/// it, one at a time; `get` and `has` while the contract runs, `set` and `remove` only
/// when a call that returned is committed (a call that traps or panics never writes).
/// Key and value pointers are valid during the callback only. A callback that fails (or
/// panics, for callbacks written in Rust) makes `gasket_call` fail with
/// `GASKET_ERROR_STORAGE`; writes committed before the failing one are not undone, so the
/// node must treat that as an environment failure (retry or halt).
///
/// `get` and `has` run on the native stack Gasket gives each instance, not the thread's
/// own: plain C is fine, but a runtime that checks its stack bounds cannot be entered from
/// them (Go's cgo callbacks abort with "morestack on g0"). Such a node answers reads from
/// another thread (capi/clients/go shows how); `set` and `remove` run on the thread's own
/// stack.
#[repr(C)]
pub struct GasketStorage {
    /// Passed to every callback as is.
    pub ctx: *mut c_void,
    /// See `GasketStorageGet`.
    pub get: GasketStorageGet,
    /// See `GasketStorageSet`.
    pub set: GasketStorageSet,
    /// See `GasketStorageRemove`.
    pub remove: GasketStorageRemove,
    /// See `GasketStorageHas`.
    pub has: GasketStorageHas,
}

/// One contract call (`gasket_call`). Read during the call only; every (pointer, length)
/// pair may be (NULL, 0).
#[repr(C)]
pub struct GasketCallParams {
    /// NUL-terminated UTF-8 name of the exported method (no parameters, no results).
    pub method: *const c_char,
    /// Input bytes (`input` host function).
    pub input: *const u8,
    /// Length of `input`.
    pub input_len: usize,
    /// Calling account.
    pub caller: *const u8,
    /// Length of `caller`.
    pub caller_len: usize,
    /// Account the contract runs as (`current_account`).
    pub current_account: *const u8,
    /// Length of `current_account`.
    pub current_account_len: usize,
    /// Gas limit of the call, start function included.
    pub gas_limit: u64,
    /// Block height.
    pub block_height: u64,
    /// Block timestamp, ns since the Unix epoch.
    pub block_timestamp: u64,
}

/// How a call ended.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GasketCallStatus {
    /// The method returned; its writes were committed to the storage.
    GASKET_CALL_OK = 0,
    /// The call trapped (see `gasket_outcome_trap_kind`); nothing was written.
    GASKET_CALL_TRAP = 1,
    /// The contract panicked (see `gasket_outcome_message`); nothing was written.
    GASKET_CALL_PANIC = 2,
}

/// Everything a call produced. Immutable, so it may be read from any thread; free with
/// `gasket_outcome_free`. Pointers it returns are valid until then.
pub struct GasketOutcome {
    outcome: Outcome,
}

/// The node's callbacks as a [`Storage`].
struct CallbackStorage<'t> {
    table: &'t GasketStorage,
}

/// Runs one callback, turning a nonzero result or a panic into a [`StorageError`].
fn invoke(what: &str, f: impl FnOnce() -> i32) -> Result<(), StorageError> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(0) => Ok(()),
        Ok(code) => Err(StorageError::new(format!(
            "the node's `{what}` callback failed with {code}"
        ))),
        Err(_) => Err(StorageError::new(format!(
            "the node's `{what}` callback panicked"
        ))),
    }
}

impl Storage for CallbackStorage<'_> {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StorageError> {
        let get = self.table.get.ok_or_else(|| StorageError::new("no get"))?;
        let mut sink = GasketValue { value: None };
        // SAFETY: the node guarantees its callback and `ctx` are valid for the call; the
        // key and sink outlive the callback.
        invoke("get", || unsafe {
            get(self.table.ctx, key.as_ptr(), key.len(), &mut sink)
        })?;
        Ok(sink.value)
    }

    fn set(&mut self, key: &[u8], value: &[u8]) -> Result<(), StorageError> {
        let set = self.table.set.ok_or_else(|| StorageError::new("no set"))?;
        // SAFETY: as in `get`.
        invoke("set", || unsafe {
            set(
                self.table.ctx,
                key.as_ptr(),
                key.len(),
                value.as_ptr(),
                value.len(),
            )
        })
    }

    fn remove(&mut self, key: &[u8]) -> Result<(), StorageError> {
        let remove = self
            .table
            .remove
            .ok_or_else(|| StorageError::new("no remove"))?;
        // SAFETY: as in `get`.
        invoke("remove", || unsafe {
            remove(self.table.ctx, key.as_ptr(), key.len())
        })
    }

    fn contains(&self, key: &[u8]) -> Result<bool, StorageError> {
        let has = self.table.has.ok_or_else(|| StorageError::new("no has"))?;
        let mut found = false;
        // SAFETY: as in `get`.
        invoke("has", || unsafe {
            has(self.table.ctx, key.as_ptr(), key.len(), &mut found)
        })?;
        Ok(found)
    }
}

/// Hands the value a `get` callback found to Gasket (copied; a second call replaces it).
/// `data` may be NULL when `len` is 0 (an empty value).
#[no_mangle]
pub extern "C" fn gasket_value_set(
    value: *mut GasketValue,
    data: *const u8,
    len: usize,
    error: *mut *mut GasketError,
) -> GasketErrorCode {
    guard(error, || {
        let data = bytes(data, len, "data")?.to_vec();
        // SAFETY: NULL (refused) or the live sink handed to the `get` callback.
        let sink = unsafe { value.as_mut() }.ok_or_else(|| Failure::null("value"))?;
        sink.value = Some(data);
        Ok(())
    })
}

/// Calls `params->method` of `module` in a fresh instance (linear memory never survives a
/// call) with host ABI v1 over `storage`, into a new `*outcome`. A trap or a contract
/// panic is an outcome, not an error; errors are: no such method
/// (`GASKET_ERROR_NO_SUCH_METHOD`), instantiation failures, and storage failures
/// (`GASKET_ERROR_STORAGE`). Thread-safe: calls may run on one module from many threads,
/// each with its own storage table.
#[no_mangle]
pub extern "C" fn gasket_call(
    module: *const GasketModule,
    params: *const GasketCallParams,
    storage: *const GasketStorage,
    outcome: *mut *mut GasketOutcome,
    error: *mut *mut GasketError,
) -> GasketErrorCode {
    guard(error, || {
        let module = object(module, "module")?;
        let params = object(params, "params")?;
        let table = object(storage, "storage")?;
        let out = OutSlot::new(outcome, "outcome")?;
        if table.get.is_none()
            || table.set.is_none()
            || table.remove.is_none()
            || table.has.is_none()
        {
            return Err(Failure::null("storage callback (get, set, remove and has)"));
        }
        if params.method.is_null() {
            return Err(Failure::null("params->method"));
        }
        // SAFETY: non-NULL and NUL-terminated, as documented for `method`.
        let method = unsafe { CStr::from_ptr(params.method) }
            .to_str()
            .map_err(|_| Failure::invalid("params->method is not UTF-8"))?;
        let context = CallContext {
            current_account: bytes(
                params.current_account,
                params.current_account_len,
                "params->current_account",
            )?
            .to_vec(),
            caller: bytes(params.caller, params.caller_len, "params->caller")?.to_vec(),
            block_height: params.block_height,
            block_timestamp: params.block_timestamp,
            input: bytes(params.input, params.input_len, "params->input")?.to_vec(),
        };
        let mut storage = CallbackStorage { table };
        let result = call_contract(
            &module.module,
            method,
            context,
            HostLimits::default(),
            &mut storage,
            params.gas_limit,
        )?;
        out.set(Box::into_raw(Box::new(GasketOutcome { outcome: result })));
        Ok(())
    })
}

/// Frees an outcome. NULL is ignored.
#[no_mangle]
pub extern "C" fn gasket_outcome_free(outcome: *mut GasketOutcome) {
    if !outcome.is_null() {
        // SAFETY: a live outcome from `gasket_call`, freed once, as documented.
        drop(unsafe { Box::from_raw(outcome) });
    }
}

fn outcome_ref<'a>(outcome: *const GasketOutcome) -> Option<&'a Outcome> {
    // SAFETY: NULL or a live outcome, as documented.
    unsafe { outcome.as_ref() }.map(|o| &o.outcome)
}

/// Writes `len` (if not NULL) and returns the data pointer (NULL for `None`).
fn slice_out(data: Option<&[u8]>, len: *mut usize) -> *const u8 {
    if !len.is_null() {
        // SAFETY: non-NULL and writable, as documented for every `len` out-pointer.
        unsafe { len.write(data.map_or(0, <[u8]>::len)) };
    }
    data.map_or(std::ptr::null(), <[u8]>::as_ptr)
}

/// How the call ended (`GASKET_CALL_TRAP` if `outcome` is NULL).
#[no_mangle]
pub extern "C" fn gasket_outcome_status(outcome: *const GasketOutcome) -> GasketCallStatus {
    match outcome_ref(outcome).map(|o| &o.status) {
        Some(Status::Ok) => GasketCallStatus::GASKET_CALL_OK,
        Some(Status::Panic { .. }) => GasketCallStatus::GASKET_CALL_PANIC,
        Some(Status::Trap { .. }) | None => GasketCallStatus::GASKET_CALL_TRAP,
    }
}

/// The trap kind's stable name (`out_of_gas`, `unreachable`, `host_error`, ...) as a static
/// NUL-terminated string, or NULL if the call did not trap.
#[no_mangle]
pub extern "C" fn gasket_outcome_trap_kind(outcome: *const GasketOutcome) -> *const c_char {
    match outcome_ref(outcome).and_then(|o| o.status.trap_kind()) {
        Some(kind) => trap_kind_name(kind).as_ptr(),
        None => std::ptr::null(),
    }
}

fn trap_kind_name(kind: gasket_vm::TrapKind) -> &'static CStr {
    use gasket_vm::TrapKind::*;
    match kind {
        Unreachable => c"unreachable",
        OutOfGas => c"out_of_gas",
        StackOverflow => c"stack_overflow",
        MemoryOutOfBounds => c"memory_out_of_bounds",
        TableOutOfBounds => c"table_out_of_bounds",
        IndirectCallToNull => c"indirect_call_to_null",
        IndirectCallTypeMismatch => c"indirect_call_type_mismatch",
        IntegerDivideByZero => c"integer_divide_by_zero",
        IntegerOverflow => c"integer_overflow",
        HostError => c"host_error",
        InvalidConversionToInteger => c"invalid_conversion_to_integer",
        ConversionOverflow => c"conversion_overflow",
    }
}

/// The contract's panic message or the trap's details (UTF-8, not NUL-terminated, length
/// in `*len`), or NULL (and 0) if there is none.
#[no_mangle]
pub extern "C" fn gasket_outcome_message(
    outcome: *const GasketOutcome,
    len: *mut usize,
) -> *const u8 {
    let message = outcome_ref(outcome).and_then(|o| o.status.message());
    slice_out(message.map(str::as_bytes), len)
}

/// The last return data (kept for failed calls too); length in `*len`.
#[no_mangle]
pub extern "C" fn gasket_outcome_return_data(
    outcome: *const GasketOutcome,
    len: *mut usize,
) -> *const u8 {
    slice_out(outcome_ref(outcome).map(|o| &o.return_data[..]), len)
}

/// Gas used by the start function and the call; the limit on `out_of_gas`.
#[no_mangle]
pub extern "C" fn gasket_outcome_gas_used(outcome: *const GasketOutcome) -> u64 {
    outcome_ref(outcome).map_or(0, |o| o.gas_used)
}

/// Number of log lines (kept for failed calls too).
#[no_mangle]
pub extern "C" fn gasket_outcome_log_count(outcome: *const GasketOutcome) -> usize {
    outcome_ref(outcome).map_or(0, |o| o.logs.len())
}

/// Log line `index` in emission order (UTF-8, not NUL-terminated, length in `*len`); NULL
/// if `index` is out of range.
#[no_mangle]
pub extern "C" fn gasket_outcome_log(
    outcome: *const GasketOutcome,
    index: usize,
    len: *mut usize,
) -> *const u8 {
    let line = outcome_ref(outcome).and_then(|o| o.logs.get(index));
    slice_out(line.map(String::as_bytes), len)
}

/// Number of committed state writes (0 unless the status is `GASKET_CALL_OK`).
#[no_mangle]
pub extern "C" fn gasket_outcome_state_change_count(outcome: *const GasketOutcome) -> usize {
    outcome_ref(outcome).map_or(0, |o| o.state_changes.len())
}

/// State write `index` (sorted by key): its key, and its value, or `*value = NULL` and
/// `*value_len = 0` for a removal. Pointers are valid until `gasket_outcome_free`.
/// `GASKET_ERROR_INVALID_ARGUMENT` if `index` is out of range.
#[no_mangle]
pub extern "C" fn gasket_outcome_state_change(
    outcome: *const GasketOutcome,
    index: usize,
    key: *mut *const u8,
    key_len: *mut usize,
    value: *mut *const u8,
    value_len: *mut usize,
    error: *mut *mut GasketError,
) -> GasketErrorCode {
    guard(error, || {
        let outcome = object(outcome, "outcome")?;
        let key = OutSlot::new(key, "key")?;
        let key_len = OutSlot::new(key_len, "key_len")?;
        let value = OutSlot::new(value, "value")?;
        let value_len = OutSlot::new(value_len, "value_len")?;
        let changes = &outcome.outcome.state_changes;
        let change = changes.get(index).ok_or_else(|| {
            Failure::invalid(format!(
                "state change {index} does not exist (there are {})",
                changes.len()
            ))
        })?;
        key.set(change.key.as_ptr());
        key_len.set(change.key.len());
        value.set(
            change
                .value
                .as_ref()
                .map_or(std::ptr::null(), |v| v.as_ptr()),
        );
        value_len.set(change.value.as_ref().map_or(0, Vec::len));
        Ok(())
    })
}
