//! Safe wrappers over every host ABI v1 function.
//!
//! Registers are handled here: functions that produce data of unknown size (`input`,
//! `storage_read`, `caller`, `current_account`, `sha256`) put it into register
//! [`SCRATCH_REGISTER`], and the wrapper copies it straight into a `Vec`. The register
//! is overwritten by the next such call, so nothing is kept there between calls.
//!
//! Gas: each wrapper is one host call (plus `register_len` and `read_register` for the
//! register-producing ones, 70 gas + 1 per byte); see host-api/README.md for the prices.

use alloc::vec::Vec;

use crate::sys;

/// The register every wrapper uses (host-api/README.md, "Registers"). Contract code never
/// needs to name a register.
pub const SCRATCH_REGISTER: u64 = 0;

/// Length the host reports for an empty register.
const EMPTY: u64 = u64::MAX;

/// Reads register `id` into a new `Vec`; `None` if the register is empty.
fn read_register(id: u64) -> Option<Vec<u8>> {
    // SAFETY: register_len has no memory arguments.
    let len = unsafe { sys::register_len(id) };
    if len == EMPTY {
        return None;
    }
    let len = usize::try_from(len).unwrap_or_else(|_| panic_str("register too large"));
    let mut buf = Vec::with_capacity(len);
    // SAFETY: `buf` has room for `len` bytes, exactly what the host writes; the length is
    // set only after the host has initialized them.
    unsafe {
        sys::read_register(id, buf.as_mut_ptr());
        buf.set_len(len);
    }
    Some(buf)
}

/// Reads a register the host has just filled (never empty).
fn read_filled_register(id: u64) -> Vec<u8> {
    read_register(id).unwrap_or_else(|| panic_str("host left the register empty"))
}

/// The call's input bytes.
pub fn input() -> Vec<u8> {
    // SAFETY: input has no memory arguments.
    unsafe { sys::input(SCRATCH_REGISTER) };
    read_filled_register(SCRATCH_REGISTER)
}

/// Sets the call's return data (the last call wins).
pub fn return_value(data: &[u8]) {
    // SAFETY: `data` is a live slice: the host reads exactly `data.len()` bytes from it.
    unsafe { sys::return_value(data.as_ptr(), data.len()) }
}

/// Aborts the call with status `panic` and `message`; state changes are discarded.
///
/// Cheaper than `panic!` (no formatting); both surface as the call's panic message.
pub fn panic_str(message: &str) -> ! {
    // SAFETY: `message` is a live UTF-8 slice.
    unsafe { sys::panic_utf8(message.as_ptr(), message.len()) }
}

/// Appends a log line.
pub fn log(message: &str) {
    // SAFETY: `message` is a live UTF-8 slice.
    unsafe { sys::log_utf8(message.as_ptr(), message.len()) }
}

/// Writes `value` under `key`; `true` if it replaced an existing value.
pub fn storage_write(key: &[u8], value: &[u8]) -> bool {
    // SAFETY: both are live slices, read by the host for their exact lengths.
    unsafe { sys::storage_write(key.as_ptr(), key.len(), value.as_ptr(), value.len()) == 1 }
}

/// The value under `key`, if any.
pub fn storage_read(key: &[u8]) -> Option<Vec<u8>> {
    // SAFETY: `key` is a live slice.
    let found = unsafe { sys::storage_read(key.as_ptr(), key.len(), SCRATCH_REGISTER) };
    if found == 1 {
        Some(read_filled_register(SCRATCH_REGISTER))
    } else {
        None
    }
}

/// Removes `key`; `true` if it existed.
pub fn storage_remove(key: &[u8]) -> bool {
    // SAFETY: `key` is a live slice.
    unsafe { sys::storage_remove(key.as_ptr(), key.len()) == 1 }
}

/// Whether `key` has a value (cheaper than reading it).
pub fn storage_has_key(key: &[u8]) -> bool {
    // SAFETY: `key` is a live slice.
    unsafe { sys::storage_has_key(key.as_ptr(), key.len()) == 1 }
}

/// The account that made this call.
pub fn caller() -> Vec<u8> {
    // SAFETY: caller has no memory arguments.
    unsafe { sys::caller(SCRATCH_REGISTER) };
    read_filled_register(SCRATCH_REGISTER)
}

/// The account whose contract is running.
pub fn current_account() -> Vec<u8> {
    // SAFETY: current_account has no memory arguments.
    unsafe { sys::current_account(SCRATCH_REGISTER) };
    read_filled_register(SCRATCH_REGISTER)
}

/// The height of the block this call executes in.
pub fn block_height() -> u64 {
    // SAFETY: no arguments.
    unsafe { sys::block_height() }
}

/// The block's timestamp in nanoseconds since the Unix epoch (from the block, never a
/// clock).
pub fn block_timestamp() -> u64 {
    // SAFETY: no arguments.
    unsafe { sys::block_timestamp() }
}

/// SHA-256 of `data`, computed by the host (200 gas + 4 per byte: far cheaper than in wasm).
pub fn sha256(data: &[u8]) -> [u8; 32] {
    // SAFETY: `data` is a live slice.
    unsafe { sys::sha256(data.as_ptr(), data.len(), SCRATCH_REGISTER) };
    let digest = read_filled_register(SCRATCH_REGISTER);
    let mut out = [0u8; 32];
    if digest.len() != out.len() {
        panic_str("host returned a digest that is not 32 bytes");
    }
    out.copy_from_slice(&digest);
    out
}
