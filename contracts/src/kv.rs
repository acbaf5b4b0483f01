//! A key-value store: the Rust twin of fixtures/contracts/kv.c (same input and output
//! bytes, storage and messages).
//!
//! - `set(key: Vec<u8>, value: rest) -> bool`: input = key length (u32 LE) ‖ key ‖ value
//!   (the borsh encoding of the key, then raw bytes); true if it replaced a value.
//! - `get(key: rest) -> rest`: the value, or panics `key not found`.
//! - `has(key: rest) -> bool`, `remove(key: rest) -> bool` (true if it existed).
//!
//! Keys are stored as they are, with no prefix.
#![cfg_attr(target_arch = "wasm32", no_std)]
extern crate alloc;

use alloc::vec::Vec;
use gasket_sdk::{env, Remainder};

gasket_sdk::methods! {
    /// Stores `value` under `key`; true if it replaced a value.
    pub fn set(key: Vec<u8>, value: Remainder) -> bool {
        env::storage_write(&key, &value)
    }

    /// The value under `key`.
    pub fn get(key: Remainder) -> Remainder {
        match env::storage_read(&key) {
            Some(value) => Remainder(value),
            None => env::panic_str("key not found"),
        }
    }

    /// Whether `key` has a value.
    pub fn has(key: Remainder) -> bool {
        env::storage_has_key(&key)
    }

    /// Removes `key`; true if it existed.
    pub fn remove(key: Remainder) -> bool {
        env::storage_remove(&key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gasket_sdk::testing;

    fn rest(bytes: &[u8]) -> Remainder {
        Remainder(bytes.to_vec())
    }

    #[test]
    fn set_get_has_remove() {
        testing::reset();
        assert_eq!(testing::call(|| set(b"k".to_vec(), rest(b"v1"))), Ok(false));
        assert_eq!(testing::call(|| set(b"k".to_vec(), rest(b"v2"))), Ok(true));
        assert_eq!(get(rest(b"k")), rest(b"v2"));
        assert!(has(rest(b"k")));
        assert!(remove(rest(b"k")));
        assert!(!remove(rest(b"k")));
        assert_eq!(
            testing::call(|| get(rest(b"k"))),
            Err("key not found".into())
        );
    }

    #[test]
    fn raw_input_is_the_c_stores() {
        testing::reset();
        let out = testing::invoke(METHODS, "set", b"\x01\x00\x00\x00kvalue");
        assert_eq!(out.unwrap(), [0]);
        assert_eq!(testing::view(b"k"), Some(b"value".to_vec()));
        assert_eq!(testing::invoke(METHODS, "get", b"k").unwrap(), b"value");
        let out = testing::invoke(METHODS, "set", b"\x09\x00\x00\x00k");
        assert_eq!(
            out.panic.as_deref(),
            Some("invalid input for set: key: input ended early")
        );
    }
}
