//! ABI probe: a contract that exercises every `gasket_sdk::env` wrapper, so tests can
//! compare the SDK's native mock with the real VM call for call (the other examples use
//! only some of the ABI).
//!
//! - `context() -> (Vec<u8>, Vec<u8>, u64, u64)`: caller, current account, block height,
//!   block timestamp.
//! - `hash(data: rest) -> [u8; 32]`: SHA-256 computed by the host.
//! - `roundtrip(key: Vec<u8>, value: Vec<u8>) -> (bool, bool, Option<Vec<u8>>, bool, bool)`:
//!   write (replaced?), has, read, remove (existed?), has — leaves the key absent.
//! - `echo(data: rest) -> rest`: the input back, and logs `echo`.
//! - `fail(message: String)`: panics with `message` (after writing `dirty`).
#![cfg_attr(target_arch = "wasm32", no_std)]
extern crate alloc;

use alloc::string::String;
use alloc::vec::Vec;
use gasket_sdk::{env, Remainder};

gasket_sdk::methods! {
    /// Who and where the call runs.
    pub fn context() -> (Vec<u8>, Vec<u8>, u64, u64) {
        (env::caller(), env::current_account(), env::block_height(), env::block_timestamp())
    }

    /// SHA-256 of `data`.
    pub fn hash(data: Remainder) -> [u8; 32] {
        env::sha256(&data)
    }

    /// Every storage function on one key.
    pub fn roundtrip(key: Vec<u8>, value: Vec<u8>) -> (bool, bool, Option<Vec<u8>>, bool, bool) {
        let replaced = env::storage_write(&key, &value);
        let has = env::storage_has_key(&key);
        let read = env::storage_read(&key);
        let existed = env::storage_remove(&key);
        (replaced, has, read, existed, env::storage_has_key(&key))
    }

    /// The input back.
    pub fn echo(data: Remainder) -> Remainder {
        env::log("echo");
        data
    }

    /// Panics with `message` after a write.
    pub fn fail(message: String) {
        env::storage_write(b"dirty", b"1");
        env::panic_str(&message)
    }
}
