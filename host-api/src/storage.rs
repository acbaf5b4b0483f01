//! Contract state as the node supplies it.
//!
//! A call never writes to [`Storage`] directly: [`HostEnv`](crate::HostEnv) buffers writes
//! in an overlay and applies them only on `commit`, so a call that traps leaves state
//! exactly as it found it.

use std::collections::BTreeMap;

use thiserror::Error;

/// The node's storage failed (I/O error, corrupted database, ...).
///
/// This is an *environment* failure, not something the contract did: the same call could
/// succeed on another node, so it must never be recorded as the call's deterministic
/// result. The node should stop and retry or halt instead.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[error("storage backend failed: {message}")]
pub struct StorageError {
    /// What went wrong, for the node operator.
    pub message: String,
}

impl StorageError {
    /// An error with the given description.
    pub fn new(message: impl Into<String>) -> Self {
        StorageError {
            message: message.into(),
        }
    }
}

/// Key-value state of one contract account; implemented by the node.
pub trait Storage {
    /// The value stored under `key`, if any.
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StorageError>;
    /// Stores `value` under `key`, replacing any previous value.
    fn set(&mut self, key: &[u8], value: &[u8]) -> Result<(), StorageError>;
    /// Removes `key`; removing an absent key is not an error.
    fn remove(&mut self, key: &[u8]) -> Result<(), StorageError>;
    /// Whether `key` has a value. Override it if the backend can answer without loading
    /// the value.
    fn contains(&self, key: &[u8]) -> Result<bool, StorageError> {
        Ok(self.get(key)?.is_some())
    }
}

/// In-memory [`Storage`] for tests and the harness. A `BTreeMap`, so iteration is in key
/// order and therefore deterministic.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MemoryStorage {
    map: BTreeMap<Vec<u8>, Vec<u8>>,
}

impl MemoryStorage {
    /// Empty storage.
    pub fn new() -> Self {
        Self::default()
    }

    /// All entries, in ascending key order.
    pub fn entries(&self) -> impl Iterator<Item = (&[u8], &[u8])> + '_ {
        self.map.iter().map(|(k, v)| (k.as_slice(), v.as_slice()))
    }

    /// Number of keys stored.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether no key is stored.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Inserts an entry directly (for setting up tests); returns the previous value.
    pub fn insert(
        &mut self,
        key: impl Into<Vec<u8>>,
        value: impl Into<Vec<u8>>,
    ) -> Option<Vec<u8>> {
        self.map.insert(key.into(), value.into())
    }

    /// The underlying map.
    pub fn as_map(&self) -> &BTreeMap<Vec<u8>, Vec<u8>> {
        &self.map
    }

    /// Consumes the storage, returning the underlying map.
    pub fn into_map(self) -> BTreeMap<Vec<u8>, Vec<u8>> {
        self.map
    }
}

impl From<BTreeMap<Vec<u8>, Vec<u8>>> for MemoryStorage {
    fn from(map: BTreeMap<Vec<u8>, Vec<u8>>) -> Self {
        MemoryStorage { map }
    }
}

impl FromIterator<(Vec<u8>, Vec<u8>)> for MemoryStorage {
    fn from_iter<I: IntoIterator<Item = (Vec<u8>, Vec<u8>)>>(iter: I) -> Self {
        MemoryStorage {
            map: iter.into_iter().collect(),
        }
    }
}

impl Storage for MemoryStorage {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StorageError> {
        Ok(self.map.get(key).cloned())
    }

    fn set(&mut self, key: &[u8], value: &[u8]) -> Result<(), StorageError> {
        self.map.insert(key.to_vec(), value.to_vec());
        Ok(())
    }

    fn remove(&mut self, key: &[u8]) -> Result<(), StorageError> {
        self.map.remove(key);
        Ok(())
    }

    fn contains(&self, key: &[u8]) -> Result<bool, StorageError> {
        Ok(self.map.contains_key(key))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_are_in_key_order() {
        let mut s = MemoryStorage::new();
        s.set(b"b", b"2").unwrap();
        s.set(b"a", b"1").unwrap();
        s.set(b"c", b"3").unwrap();
        s.remove(b"c").unwrap();
        s.remove(b"missing").unwrap();
        let keys: Vec<&[u8]> = s.entries().map(|(k, _)| k).collect();
        assert_eq!(keys, vec![b"a".as_slice(), b"b".as_slice()]);
        assert_eq!(s.get(b"a").unwrap(), Some(b"1".to_vec()));
        assert!(s.contains(b"b").unwrap());
        assert!(!s.contains(b"c").unwrap());
    }
}
