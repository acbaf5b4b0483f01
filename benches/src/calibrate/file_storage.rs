//! A [`Storage`] that keeps values in a file: the disk-backed storage of the calibration
//! (writes are appended, reads go back to the file; no fsync, as a node's write-back
//! cache would do). Only the index of key → value position is in memory.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};

use gasket_vm::host_api::{Storage, StorageError};

/// Append-only value log plus an in-memory index. The file is deleted on drop.
#[derive(Debug)]
pub struct FileStorage {
    file: File,
    path: PathBuf,
    /// Where each present key's value is in the file: offset and length.
    index: BTreeMap<Vec<u8>, (u64, u64)>,
    /// The file's length (next append offset).
    end: u64,
}

/// Distinguishes the files of one process.
static NEXT_FILE: AtomicU64 = AtomicU64::new(0);

fn io_error(what: &str, e: std::io::Error) -> StorageError {
    StorageError::new(format!("{what}: {e}"))
}

impl FileStorage {
    /// A new empty storage in a fresh file under the system's temporary directory.
    pub fn new() -> Result<FileStorage, StorageError> {
        let path = std::env::temp_dir().join(format!(
            "gasket-calibrate-{}-{}.log",
            std::process::id(),
            NEXT_FILE.fetch_add(1, Ordering::Relaxed)
        ));
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&path)
            .map_err(|e| io_error(&format!("create {}", path.display()), e))?;
        Ok(FileStorage {
            file,
            path,
            index: BTreeMap::new(),
            end: 0,
        })
    }

    /// A storage holding `entries`.
    pub fn with_entries(entries: &[(Vec<u8>, Vec<u8>)]) -> Result<FileStorage, StorageError> {
        let mut storage = FileStorage::new()?;
        for (key, value) in entries {
            storage.set(key, value)?;
        }
        Ok(storage)
    }

    /// Appends a record (key length, key, value length, value); returns the value's offset.
    fn append(&mut self, key: &[u8], value: &[u8]) -> Result<u64, StorageError> {
        let mut record = Vec::with_capacity(16 + key.len() + value.len());
        record.extend_from_slice(&(key.len() as u64).to_le_bytes());
        record.extend_from_slice(key);
        record.extend_from_slice(&(value.len() as u64).to_le_bytes());
        record.extend_from_slice(value);
        self.file
            .write_all(&record)
            .map_err(|e| io_error("append", e))?;
        let value_offset = self.end + 16 + key.len() as u64;
        self.end += record.len() as u64;
        Ok(value_offset)
    }
}

impl Drop for FileStorage {
    fn drop(&mut self) {
        // Nothing to report to: a leftover file in the temporary directory is harmless.
        let _ = std::fs::remove_file(&self.path);
    }
}

impl Storage for FileStorage {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StorageError> {
        let Some(&(offset, len)) = self.index.get(key) else {
            return Ok(None);
        };
        let mut value = vec![0; len as usize];
        self.file
            .read_exact_at(&mut value, offset)
            .map_err(|e| io_error("read", e))?;
        Ok(Some(value))
    }

    fn set(&mut self, key: &[u8], value: &[u8]) -> Result<(), StorageError> {
        let offset = self.append(key, value)?;
        self.index
            .insert(key.to_vec(), (offset, value.len() as u64));
        Ok(())
    }

    fn remove(&mut self, key: &[u8]) -> Result<(), StorageError> {
        if self.index.remove(key).is_some() {
            // A tombstone: the key with an empty value, so the log can be replayed.
            self.append(key, &[])?;
        }
        Ok(())
    }

    fn contains(&self, key: &[u8]) -> Result<bool, StorageError> {
        Ok(self.index.contains_key(key))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_round_trip_through_the_file() {
        let mut s = FileStorage::with_entries(&[(b"a".to_vec(), b"one".to_vec())]).unwrap();
        s.set(b"b", b"two").unwrap();
        s.set(b"a", b"uno").unwrap();
        assert_eq!(s.get(b"a").unwrap(), Some(b"uno".to_vec()));
        assert_eq!(s.get(b"b").unwrap(), Some(b"two".to_vec()));
        s.remove(b"a").unwrap();
        assert_eq!(s.get(b"a").unwrap(), None);
        assert!(!s.contains(b"a").unwrap());
        assert!(s.contains(b"b").unwrap());
        let path = s.path.clone();
        assert!(std::fs::metadata(&path).unwrap().len() > 0);
        drop(s);
        assert!(!path.exists());
    }
}
