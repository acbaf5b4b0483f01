//! Typed storage: a single [`Value`] under a fixed key, and a [`Map`] of values under a
//! key prefix. Values are stored in the byte format of [`crate::codec`]; a value that
//! does not decode aborts the call with `corrupt value in storage` (it can only come
//! from a different contract version or a bug, never from a caller).

use alloc::vec::Vec;
use core::marker::PhantomData;

use crate::codec::{Decode, Encode};
use crate::env;

fn decode_stored<T: Decode>(bytes: &[u8]) -> T {
    T::decode(bytes).unwrap_or_else(|_| env::panic_str("corrupt value in storage"))
}

/// One value of type `T` under a fixed storage key.
///
/// ```
/// use gasket_sdk::storage::Value;
/// const SUPPLY: Value<u64> = Value::new(b"supply");
/// # gasket_sdk::testing::reset();
/// assert_eq!(SUPPLY.get_or_default(), 0);
/// SUPPLY.set(&5);
/// assert_eq!(SUPPLY.get(), Some(5));
/// ```
pub struct Value<T> {
    key: &'static [u8],
    _type: PhantomData<fn() -> T>,
}

impl<T> Value<T> {
    /// The value stored under `key`.
    pub const fn new(key: &'static [u8]) -> Self {
        Value {
            key,
            _type: PhantomData,
        }
    }

    /// Its storage key.
    pub fn key(&self) -> &'static [u8] {
        self.key
    }

    /// Whether a value is stored.
    pub fn exists(&self) -> bool {
        env::storage_has_key(self.key)
    }

    /// Removes the value; `true` if there was one.
    pub fn remove(&self) -> bool {
        env::storage_remove(self.key)
    }
}

impl<T: Encode + Decode> Value<T> {
    /// The stored value, if any.
    pub fn get(&self) -> Option<T> {
        env::storage_read(self.key).map(|bytes| decode_stored(&bytes))
    }

    /// The stored value, or `T::default()` when there is none.
    pub fn get_or_default(&self) -> T
    where
        T: Default,
    {
        self.get().unwrap_or_default()
    }

    /// Stores `value`; `true` if it replaced one.
    pub fn set(&self, value: &T) -> bool {
        env::storage_write(self.key, &value.encode())
    }
}

/// Values of type `V` keyed by bytes, stored under `prefix ‖ key`.
///
/// Use a prefix no other key of the contract starts with (for example `b"b:"` for
/// balances), so that two maps never share a storage key.
///
/// ```
/// use gasket_sdk::storage::Map;
/// const BALANCES: Map<u64> = Map::new(b"b:");
/// # gasket_sdk::testing::reset();
/// BALANCES.insert(b"alice", &10);
/// assert_eq!(BALANCES.get(b"alice"), Some(10));
/// assert_eq!(gasket_sdk::testing::view(b"b:alice"), Some(10u64.to_le_bytes().to_vec()));
/// ```
pub struct Map<V> {
    prefix: &'static [u8],
    _type: PhantomData<fn() -> V>,
}

impl<V> Map<V> {
    /// A map under `prefix`.
    pub const fn new(prefix: &'static [u8]) -> Self {
        Map {
            prefix,
            _type: PhantomData,
        }
    }

    /// The storage key of `key`: `prefix ‖ key`.
    pub fn storage_key(&self, key: &[u8]) -> Vec<u8> {
        let mut full = Vec::with_capacity(self.prefix.len() + key.len());
        full.extend_from_slice(self.prefix);
        full.extend_from_slice(key);
        full
    }

    /// Whether `key` has a value.
    pub fn contains_key(&self, key: &[u8]) -> bool {
        env::storage_has_key(&self.storage_key(key))
    }

    /// Removes `key`; `true` if it had a value.
    pub fn remove(&self, key: &[u8]) -> bool {
        env::storage_remove(&self.storage_key(key))
    }
}

impl<V: Encode + Decode> Map<V> {
    /// The value under `key`, if any.
    pub fn get(&self, key: &[u8]) -> Option<V> {
        env::storage_read(&self.storage_key(key)).map(|bytes| decode_stored(&bytes))
    }

    /// The value under `key`, or `V::default()`.
    pub fn get_or_default(&self, key: &[u8]) -> V
    where
        V: Default,
    {
        self.get(key).unwrap_or_default()
    }

    /// Stores `value` under `key`; `true` if it replaced one.
    pub fn insert(&self, key: &[u8], value: &V) -> bool {
        env::storage_write(&self.storage_key(key), &value.encode())
    }
}
