//! Native unit tests of contracts: the contract's own source, compiled for the host, runs
//! against the in-memory mock of the host ABI (one per test thread), so logic tests need
//! no wasm toolchain and no VM.
//!
//! ```
//! use gasket_sdk::storage::Value;
//! use gasket_sdk::testing;
//!
//! const COUNT: Value<u64> = Value::new(b"count");
//! gasket_sdk::methods! {
//!     pub fn increment() -> u64 {
//!         let n = COUNT.get_or_default() + 1;
//!         COUNT.set(&n);
//!         gasket_sdk::env::log("incremented");
//!         n
//!     }
//!     pub fn fail() {
//!         COUNT.set(&99);
//!         panic!("no");
//!     }
//! }
//!
//! # fn main() {
//! testing::reset();
//! assert_eq!(testing::call(increment), Ok(1));
//! assert_eq!(testing::logs(), ["incremented"]);
//! // A panic is the call's message, and its writes are rolled back, as on the chain.
//! assert_eq!(testing::call(fail), Err("no".to_string()));
//! assert_eq!(testing::view(b"count"), Some(1u64.to_le_bytes().to_vec()));
//! // Through the entry point with raw input bytes, as the host calls it.
//! let out = testing::invoke(METHODS, "increment", &[]);
//! assert_eq!(out.unwrap_u64(), 2);
//! # }
//! ```
//!
//! What the mock does not model: gas, the host's size limits, and the wasm build itself.
//! Test those on the compiled contract with `gasket_vm::testing::TestChain`
//! (sdk/README.md, "From the mock to the VM").

use alloc::collections::BTreeMap;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use std::boxed::Box;
use std::cell::Cell;
use std::panic::{self, AssertUnwindSafe};
use std::sync::Once;

use crate::methods::Method;
use crate::mock::{with, MockState};

/// Starts over: empty storage, no logs, caller `alice`, account `contract`, block 1 at
/// 1 000 000 000 ns (the defaults of `TestChain`).
pub fn reset() {
    with(|s| *s = MockState::default());
}

/// Sets the caller of later calls.
pub fn set_caller(account: &str) {
    with(|s| s.caller = account.as_bytes().to_vec());
}

/// Sets the account the contract runs under.
pub fn set_current_account(account: &str) {
    with(|s| s.current_account = account.as_bytes().to_vec());
}

/// Sets the current block.
pub fn set_block(height: u64, timestamp_ns: u64) {
    with(|s| {
        s.block_height = height;
        s.block_timestamp = timestamp_ns;
    });
}

/// Moves to the next block, `seconds` later (as `TestChain::advance_block`).
pub fn advance_block(seconds: u64) {
    with(|s| {
        s.block_height += 1;
        s.block_timestamp = s
            .block_timestamp
            .saturating_add(seconds.saturating_mul(1_000_000_000));
    });
}

/// The value stored under `key`.
pub fn view(key: &[u8]) -> Option<Vec<u8>> {
    with(|s| s.storage.get(key).cloned())
}

/// The whole storage, sorted by key.
pub fn storage() -> BTreeMap<Vec<u8>, Vec<u8>> {
    with(|s| s.storage.clone())
}

/// Sets a storage entry directly (to set up a test's state).
pub fn set_storage(key: &[u8], value: &[u8]) {
    with(|s| s.storage.insert(key.to_vec(), value.to_vec()));
}

/// The log lines of the last [`call`] or [`invoke`] (or since [`reset`]).
pub fn logs() -> Vec<String> {
    with(|s| s.logs.clone())
}

std::thread_local! {
    /// Set while [`call`] runs, so the panic hook stays quiet about expected panics.
    static IN_CALL: Cell<bool> = const { Cell::new(false) };
}

/// Installs (once per process) a panic hook that is silent for panics inside [`call`]
/// and defers to the previous hook for everything else (a failing assertion still
/// prints).
fn quiet_panics_in_calls() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        let previous = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            if !IN_CALL.with(Cell::get) {
                previous(info);
            }
        }));
    });
}

/// The text of a panic payload (`panic!` with or without arguments, or `panic_str`).
fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        s.to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        String::from("panic")
    }
}

/// Runs `f` as one contract call: logs and return data start empty, and if `f` panics
/// (`panic!`, `env::panic_str`, a failed `unwrap`, bad input) its storage writes are
/// rolled back and the panic message is returned as `Err`, as the chain reports it.
pub fn call<R>(f: impl FnOnce() -> R) -> Result<R, String> {
    quiet_panics_in_calls();
    let snapshot = with(|s| {
        s.logs.clear();
        s.return_data.clear();
        s.registers.clear();
        s.storage.clone()
    });
    IN_CALL.with(|c| c.set(true));
    let result = panic::catch_unwind(AssertUnwindSafe(f));
    IN_CALL.with(|c| c.set(false));
    result.map_err(|payload| {
        with(|s| s.storage = snapshot);
        panic_message(payload.as_ref())
    })
}

/// What [`invoke`] observed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MockOutcome {
    /// The panic message, if the call panicked (its writes were rolled back).
    pub panic: Option<String>,
    /// The return data.
    pub return_data: Vec<u8>,
    /// The log lines.
    pub logs: Vec<String>,
}

impl MockOutcome {
    /// The return data; panics with the message if the call panicked.
    #[track_caller]
    pub fn unwrap(&self) -> &[u8] {
        match &self.panic {
            None => &self.return_data,
            Some(message) => panic!("call panicked: {message}"),
        }
    }

    /// The return data as a little-endian u64.
    #[track_caller]
    pub fn unwrap_u64(&self) -> u64 {
        let data = self.unwrap();
        let bytes: [u8; 8] = data
            .try_into()
            .unwrap_or_else(|_| panic!("expected 8 bytes of return data, got {data:?}"));
        u64::from_le_bytes(bytes)
    }
}

/// Calls method `name` of `methods` (a contract's generated `METHODS` table) with raw
/// `input` bytes through its entry point, exactly as the host would: argument decoding,
/// return-data encoding and rollback on panic included. Panics if there is no such
/// method (a test bug).
pub fn invoke(methods: &[Method], name: &str, input: &[u8]) -> MockOutcome {
    let method = methods
        .iter()
        .find(|m| m.name == name)
        .unwrap_or_else(|| panic!("no method named {name:?}"));
    with(|s| s.input = input.to_vec());
    let result = call(|| (method.entry)());
    with(|s| MockOutcome {
        panic: result.err(),
        return_data: s.return_data.clone(),
        logs: s.logs.clone(),
    })
}
