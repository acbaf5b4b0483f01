//! The state of one contract call: its context, registers, buffered state writes, logs
//! and return data.
//!
//! Writes go to an overlay (a `BTreeMap` from key to new value or removal) that reads
//! consult first, so a call sees its own writes while the node's [`Storage`] stays
//! untouched until [`HostEnv::commit`]. A call that traps is simply
//! [discarded](HostEnv::discard) (or dropped): that is what makes calls atomic.

use std::collections::BTreeMap;

use borsh::{BorshDeserialize, BorshSerialize};

use crate::error::HostError;
use crate::limits::HostLimits;
use crate::storage::{Storage, StorageError};

/// Facts about the call that the contract can ask for. Supplied by the node, never read
/// from a clock or the machine, so every node sees the same values.
#[derive(Clone, Debug, Default, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct CallContext {
    /// Account whose contract is running (`current_account`).
    pub current_account: Vec<u8>,
    /// Account that made the call (`caller`).
    pub caller: Vec<u8>,
    /// Height of the block the call executes in (`block_height`).
    pub block_height: u64,
    /// Block timestamp, nanoseconds since the Unix epoch (`block_timestamp`).
    pub block_timestamp: u64,
    /// The call's input bytes (`input`).
    pub input: Vec<u8>,
}

/// One buffered change to storage.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, BorshSerialize, BorshDeserialize)]
pub struct StateChange {
    /// The key.
    pub key: Vec<u8>,
    /// The new value, or `None` if the key is removed.
    pub value: Option<Vec<u8>>,
}

/// What a finished call produced.
#[derive(Clone, Debug, Default, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct CallEffects {
    /// The last `return_value` data (empty if the contract never called it).
    pub return_data: Vec<u8>,
    /// Log lines, in the order they were emitted.
    pub logs: Vec<String>,
    /// State changes sorted by key (empty for a discarded call).
    pub state_changes: Vec<StateChange>,
}

/// The host side of one contract call. Create one per call, pass it to every
/// [`dispatch`](crate::dispatch), then [`commit`](HostEnv::commit) it if the call
/// succeeded or [`discard`](HostEnv::discard) it if it trapped.
pub struct HostEnv<'s, S: Storage + ?Sized> {
    context: CallContext,
    limits: HostLimits,
    storage: &'s mut S,
    /// Buffered writes: `Some(value)` = set, `None` = removed.
    overlay: BTreeMap<Vec<u8>, Option<Vec<u8>>>,
    registers: BTreeMap<u64, Vec<u8>>,
    /// Sum of all register lengths, kept to check `max_register_bytes` in O(1).
    register_bytes: u64,
    logs: Vec<String>,
    return_data: Vec<u8>,
}

impl<'s, S: Storage + ?Sized> HostEnv<'s, S> {
    /// A call with the default [`HostLimits`].
    pub fn new(context: CallContext, storage: &'s mut S) -> Self {
        Self::with_limits(context, HostLimits::default(), storage)
    }

    /// A call with explicit limits.
    pub fn with_limits(context: CallContext, limits: HostLimits, storage: &'s mut S) -> Self {
        HostEnv {
            context,
            limits,
            storage,
            overlay: BTreeMap::new(),
            registers: BTreeMap::new(),
            register_bytes: 0,
            logs: Vec::new(),
            return_data: Vec::new(),
        }
    }

    /// The call's context.
    pub fn context(&self) -> &CallContext {
        &self.context
    }

    /// The limits in force.
    pub fn limits(&self) -> &HostLimits {
        &self.limits
    }

    /// Log lines so far.
    pub fn logs(&self) -> &[String] {
        &self.logs
    }

    /// Return data so far (empty until the contract calls `return_value`).
    pub fn return_data(&self) -> &[u8] {
        &self.return_data
    }

    /// Contents of a register, or `None` if it is empty.
    pub fn register(&self, register_id: u64) -> Option<&[u8]> {
        self.registers.get(&register_id).map(Vec::as_slice)
    }

    /// All registers holding data, in id order.
    pub fn registers(&self) -> impl Iterator<Item = (u64, &[u8])> + '_ {
        self.registers
            .iter()
            .map(|(id, data)| (*id, data.as_slice()))
    }

    /// Total bytes held in registers.
    pub fn register_bytes(&self) -> u64 {
        self.register_bytes
    }

    /// Buffered state changes, sorted by key. Nothing has reached storage yet.
    pub fn state_changes(&self) -> Vec<StateChange> {
        self.overlay
            .iter()
            .map(|(key, value)| StateChange {
                key: key.clone(),
                value: value.clone(),
            })
            .collect()
    }

    /// Reads a key as this call sees it: its own writes first, then storage.
    pub fn storage_get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StorageError> {
        match self.overlay.get(key) {
            Some(buffered) => Ok(buffered.clone()),
            None => self.storage.get(key),
        }
    }

    /// Whether a key has a value as this call sees it.
    pub fn storage_contains(&self, key: &[u8]) -> Result<bool, StorageError> {
        match self.overlay.get(key) {
            Some(buffered) => Ok(buffered.is_some()),
            None => self.storage.contains(key),
        }
    }

    /// Applies the buffered changes to storage, in key order, and returns the call's
    /// effects. If storage fails part-way, the error is an environment failure: the node
    /// must roll back its own database transaction.
    pub fn commit(self) -> Result<CallEffects, StorageError> {
        let HostEnv {
            storage,
            overlay,
            logs,
            return_data,
            ..
        } = self;
        let mut state_changes = Vec::with_capacity(overlay.len());
        for (key, value) in overlay {
            match &value {
                Some(value) => storage.set(&key, value)?,
                None => storage.remove(&key)?,
            }
            state_changes.push(StateChange { key, value });
        }
        Ok(CallEffects {
            return_data,
            logs,
            state_changes,
        })
    }

    /// Drops the buffered changes, leaving storage untouched (the path for a call that
    /// trapped, panicked or ran out of gas). Logs and return data are returned so a
    /// failed call can still be diagnosed; `state_changes` is empty.
    pub fn discard(self) -> CallEffects {
        CallEffects {
            return_data: self.return_data,
            logs: self.logs,
            state_changes: Vec::new(),
        }
    }

    /// Buffers `key = value`; returns whether a value was replaced.
    pub(crate) fn storage_set(&mut self, key: &[u8], value: &[u8]) -> Result<bool, StorageError> {
        let existed = self.storage_contains(key)?;
        self.overlay.insert(key.to_vec(), Some(value.to_vec()));
        Ok(existed)
    }

    /// Buffers the removal of `key`; returns whether it existed. Removing an absent key
    /// records nothing, so it does not show up in [`HostEnv::state_changes`].
    pub(crate) fn storage_remove(&mut self, key: &[u8]) -> Result<bool, StorageError> {
        let existed = self.storage_contains(key)?;
        if existed {
            self.overlay.insert(key.to_vec(), None);
        }
        Ok(existed)
    }

    /// Replaces a register's contents, enforcing `max_registers` and
    /// `max_register_bytes`. On error the register is unchanged.
    pub(crate) fn set_register(
        &mut self,
        function: &'static str,
        register_id: u64,
        data: Vec<u8>,
    ) -> Result<(), HostError> {
        let old_len = self.registers.get(&register_id).map(|r| r.len() as u64);
        if old_len.is_none() {
            let count = (self.registers.len() as u64).saturating_add(1);
            if count > self.limits.max_registers {
                return Err(HostError::LimitExceeded {
                    function,
                    what: "max_registers",
                    limit: self.limits.max_registers,
                    requested: count,
                });
            }
        }
        let total = self
            .register_bytes
            .saturating_sub(old_len.unwrap_or(0))
            .saturating_add(data.len() as u64);
        if total > self.limits.max_register_bytes {
            return Err(HostError::LimitExceeded {
                function,
                what: "max_register_bytes",
                limit: self.limits.max_register_bytes,
                requested: total,
            });
        }
        self.registers.insert(register_id, data);
        self.register_bytes = total;
        Ok(())
    }

    pub(crate) fn push_log(&mut self, line: String) {
        self.logs.push(line);
    }

    pub(crate) fn set_return_data(&mut self, data: Vec<u8>) {
        self.return_data = data;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::MemoryStorage;

    #[test]
    fn overlay_reads_own_writes_and_commit_applies_them() {
        let mut storage = MemoryStorage::new();
        storage.insert(b"old".to_vec(), b"1".to_vec());
        storage.insert(b"gone".to_vec(), b"x".to_vec());
        let mut env = HostEnv::new(CallContext::default(), &mut storage);
        assert!(env.storage_set(b"old", b"2").unwrap());
        assert!(!env.storage_set(b"new", b"3").unwrap());
        assert!(env.storage_remove(b"gone").unwrap());
        assert!(!env.storage_remove(b"never").unwrap());
        assert_eq!(env.storage_get(b"old").unwrap(), Some(b"2".to_vec()));
        assert_eq!(env.storage_get(b"gone").unwrap(), None);
        let keys: Vec<Vec<u8>> = env.state_changes().into_iter().map(|c| c.key).collect();
        assert_eq!(
            keys,
            vec![b"gone".to_vec(), b"new".to_vec(), b"old".to_vec()]
        );
        let effects = env.commit().unwrap();
        assert_eq!(effects.state_changes.len(), 3);
        let entries: Vec<(&[u8], &[u8])> = storage.entries().collect();
        assert_eq!(
            entries,
            vec![(b"new".as_slice(), b"3".as_slice()), (b"old", b"2")]
        );
    }

    #[test]
    fn register_limits_leave_register_unchanged() {
        let mut storage = MemoryStorage::new();
        let limits = HostLimits {
            max_registers: 1,
            max_register_bytes: 4,
            ..HostLimits::default()
        };
        let mut env = HostEnv::with_limits(CallContext::default(), limits, &mut storage);
        env.set_register("input", 7, vec![1, 2, 3]).unwrap();
        let e = env.set_register("input", 8, vec![]).unwrap_err();
        assert_eq!(e.kind(), "limit_exceeded");
        let e = env.set_register("input", 7, vec![0; 5]).unwrap_err();
        assert!(e.to_string().contains("max_register_bytes"), "{e}");
        assert_eq!(env.register(7), Some(&[1u8, 2, 3][..]));
        env.set_register("input", 7, vec![9; 4]).unwrap();
        assert_eq!(env.register_bytes(), 4);
    }
}
