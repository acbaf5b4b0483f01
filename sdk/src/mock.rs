//! The in-memory host of native builds: the ABI v1 functions of [`crate::sys`] over a
//! per-thread [`MockState`], with the host's semantics (registers, storage returning
//! whether a key existed, UTF-8 checks, panics aborting the call). Tests drive it through
//! [`crate::testing`]; each test thread has its own state.
//!
//! What it does not model: gas and the host's size limits. Measure those on the compiled
//! contract with `gasket_vm::testing::TestChain` (see sdk/README.md).

use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::vec::Vec;
use std::cell::RefCell;

/// Everything a native call can see and change.
#[derive(Clone, Debug)]
pub(crate) struct MockState {
    pub storage: BTreeMap<Vec<u8>, Vec<u8>>,
    pub input: Vec<u8>,
    pub return_data: Vec<u8>,
    pub logs: Vec<String>,
    pub caller: Vec<u8>,
    pub current_account: Vec<u8>,
    pub block_height: u64,
    pub block_timestamp: u64,
    pub registers: BTreeMap<u64, Vec<u8>>,
}

impl Default for MockState {
    /// The defaults of `gasket_vm::testing::TestChain` and `gasket run --call`: caller
    /// `alice`, account `contract`, block 1 at 1 000 000 000 ns.
    fn default() -> Self {
        MockState {
            storage: BTreeMap::new(),
            input: Vec::new(),
            return_data: Vec::new(),
            logs: Vec::new(),
            caller: b"alice".to_vec(),
            current_account: b"contract".to_vec(),
            block_height: 1,
            block_timestamp: 1_000_000_000,
            registers: BTreeMap::new(),
        }
    }
}

std::thread_local! {
    static STATE: RefCell<MockState> = RefCell::new(MockState::default());
}

/// Runs `f` on this thread's state. `f` must not call back into the mock.
pub(crate) fn with<R>(f: impl FnOnce(&mut MockState) -> R) -> R {
    STATE.with(|state| f(&mut state.borrow_mut()))
}

/// Aborts the native call the way the host aborts a wasm call: a Rust panic whose
/// message is the contract's message (the state is released before unwinding).
fn abort(message: String) -> ! {
    std::panic::panic_any(message)
}

/// The ABI v1 functions with the signatures of the wasm32 imports in [`crate::sys`].
///
/// Every pointer comes from a live slice in [`crate::env`] (the only caller), with its
/// exact length; `read_register` gets a buffer of `register_len` bytes.
#[allow(clippy::missing_safety_doc)]
pub(crate) mod abi {
    use super::{abort, with};
    use alloc::string::String;
    use alloc::vec::Vec;
    use sha2::Digest;

    /// # Safety
    /// `ptr, len` must describe a live readable slice (guaranteed by `crate::env`).
    unsafe fn bytes<'a>(ptr: *const u8, len: usize) -> &'a [u8] {
        // SAFETY: per this function's contract.
        unsafe { core::slice::from_raw_parts(ptr, len) }
    }

    unsafe fn text(ptr: *const u8, len: usize) -> String {
        // SAFETY: forwarded contract of `bytes`.
        match core::str::from_utf8(unsafe { bytes(ptr, len) }) {
            Ok(s) => String::from(s),
            Err(_) => abort(String::from("invalid_utf8: the text is not UTF-8")),
        }
    }

    fn set_register(id: u64, data: Vec<u8>) {
        with(|s| s.registers.insert(id, data));
    }

    pub unsafe fn read_register(id: u64, ptr: *mut u8) {
        let data = match with(|s| s.registers.get(&id).cloned()) {
            Some(data) => data,
            None => abort(String::from(
                "register_not_found: read_register on an empty register",
            )),
        };
        // SAFETY: `crate::env` passes a buffer of `register_len(id)` = `data.len()` bytes.
        unsafe { core::ptr::copy_nonoverlapping(data.as_ptr(), ptr, data.len()) }
    }

    pub unsafe fn register_len(id: u64) -> u64 {
        with(|s| s.registers.get(&id).map_or(u64::MAX, |d| d.len() as u64))
    }

    pub unsafe fn input(id: u64) {
        let data = with(|s| s.input.clone());
        set_register(id, data);
    }

    pub unsafe fn return_value(ptr: *const u8, len: usize) {
        // SAFETY: a live slice from `crate::env`.
        let data = unsafe { bytes(ptr, len) }.to_vec();
        with(|s| s.return_data = data);
    }

    pub unsafe fn panic_utf8(ptr: *const u8, len: usize) -> ! {
        // SAFETY: a live slice from `crate::env`.
        abort(unsafe { text(ptr, len) })
    }

    pub unsafe fn log_utf8(ptr: *const u8, len: usize) {
        // SAFETY: a live slice from `crate::env`.
        let line = unsafe { text(ptr, len) };
        with(|s| s.logs.push(line));
    }

    pub unsafe fn storage_write(k: *const u8, kl: usize, v: *const u8, vl: usize) -> u32 {
        // SAFETY: live slices from `crate::env`.
        let (key, value) = unsafe { (bytes(k, kl).to_vec(), bytes(v, vl).to_vec()) };
        with(|s| u32::from(s.storage.insert(key, value).is_some()))
    }

    pub unsafe fn storage_read(k: *const u8, kl: usize, id: u64) -> u32 {
        // SAFETY: a live slice from `crate::env`.
        let key = unsafe { bytes(k, kl) };
        match with(|s| s.storage.get(key).cloned()) {
            Some(value) => {
                set_register(id, value);
                1
            }
            None => 0,
        }
    }

    pub unsafe fn storage_remove(k: *const u8, kl: usize) -> u32 {
        // SAFETY: a live slice from `crate::env`.
        let key = unsafe { bytes(k, kl) };
        with(|s| u32::from(s.storage.remove(key).is_some()))
    }

    pub unsafe fn storage_has_key(k: *const u8, kl: usize) -> u32 {
        // SAFETY: a live slice from `crate::env`.
        let key = unsafe { bytes(k, kl) };
        with(|s| u32::from(s.storage.contains_key(key)))
    }

    pub unsafe fn current_account(id: u64) {
        let data = with(|s| s.current_account.clone());
        set_register(id, data);
    }

    pub unsafe fn caller(id: u64) {
        let data = with(|s| s.caller.clone());
        set_register(id, data);
    }

    pub unsafe fn block_height() -> u64 {
        with(|s| s.block_height)
    }

    pub unsafe fn block_timestamp() -> u64 {
        with(|s| s.block_timestamp)
    }

    pub unsafe fn sha256(ptr: *const u8, len: usize, id: u64) {
        // SAFETY: a live slice from `crate::env`.
        let digest = sha2::Sha256::digest(unsafe { bytes(ptr, len) });
        set_register(id, digest.to_vec());
    }
}
