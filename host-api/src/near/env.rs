//! The host side of one NEAR call: [`HostEnv`]'s overlay, registers and logs (so writes
//! are buffered and a failed call is discarded exactly as in ABI v1), plus NEAR's
//! account view: storage usage, balance, the promises created and the return value.

use crate::env::{CallContext, HostEnv, StateChange};
use crate::error::HostError;
use crate::limits::HostLimits;
use crate::near::context::{NearContext, STORAGE_RECORD_OVERHEAD};
use crate::near::promise::{Action, NearReturn, Promise};
use crate::storage::{Storage, StorageError};

/// What a finished NEAR call produced.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NearEffects {
    /// The call's result: a value, a promise, or nothing.
    pub returned: NearReturn,
    /// Log lines in order.
    pub logs: Vec<String>,
    /// Committed state changes sorted by key (empty when discarded).
    pub state_changes: Vec<StateChange>,
    /// The promises the call created (empty when discarded).
    pub promises: Vec<Promise>,
    /// Storage usage after the call (the start value when discarded).
    pub storage_usage: u64,
    /// Balance after the call: the start balance minus what its promises send (the start
    /// balance when discarded).
    pub balance: u128,
}

/// One NEAR call's host state. Create one per call, pass it to every
/// [`dispatch_near`](crate::near::dispatch_near), then commit or discard it.
pub struct NearEnv<'s, S: Storage + ?Sized> {
    pub(crate) inner: HostEnv<'s, S>,
    pub(crate) context: NearContext,
    pub(crate) storage_usage: u64,
    pub(crate) balance: u128,
    pub(crate) promises: Vec<Promise>,
    pub(crate) returned: NearReturn,
}

impl<'s, S: Storage + ?Sized> NearEnv<'s, S> {
    /// A call over `storage` (the account's) with `limits`.
    pub fn new(context: NearContext, limits: HostLimits, storage: &'s mut S) -> Self {
        NearEnv {
            inner: HostEnv::with_limits(CallContext::default(), limits, storage),
            storage_usage: context.storage_usage,
            balance: context.account_balance,
            context,
            promises: Vec::new(),
            returned: NearReturn::None,
        }
    }

    /// The call's context.
    pub fn context(&self) -> &NearContext {
        &self.context
    }

    /// Log lines so far.
    pub fn logs(&self) -> &[String] {
        self.inner.logs()
    }

    /// Promises created so far.
    pub fn promises(&self) -> &[Promise] {
        &self.promises
    }

    /// Balance as the call sees it now (promised amounts already subtracted).
    pub fn balance(&self) -> u128 {
        self.balance
    }

    /// Storage usage as the call sees it now.
    pub fn storage_usage(&self) -> u64 {
        self.storage_usage
    }

    /// Shares `unused` gas among the function-call actions with a gas weight, in
    /// proportion to their weights (the last one gets the rounding remainder), as NEAR
    /// does when a call ends. Returns the gas given away, which the caller counts as used.
    pub fn distribute_unused_gas(&mut self, unused: u64) -> u64 {
        let weights: Vec<(usize, usize, u64)> = self
            .promises
            .iter()
            .enumerate()
            .flat_map(|(p, promise)| match promise {
                Promise::Receipt { actions, .. } => actions
                    .iter()
                    .enumerate()
                    .filter_map(|(a, action)| match action {
                        Action::FunctionCall { gas_weight, .. } if *gas_weight > 0 => {
                            Some((p, a, *gas_weight))
                        }
                        _ => None,
                    })
                    .collect::<Vec<_>>(),
                Promise::Joint(_) => Vec::new(),
            })
            .collect();
        let total: u128 = weights.iter().map(|w| u128::from(w.2)).sum();
        if total == 0 || unused == 0 {
            return 0;
        }
        let mut given = 0u64;
        let last = weights.len() - 1;
        for (i, &(p, a, weight)) in weights.iter().enumerate() {
            let share = if i == last {
                unused - given
            } else {
                // weight <= total, so the share fits in u64.
                (u128::from(unused) * u128::from(weight) / total) as u64
            };
            given += share;
            if let Some(Promise::Receipt { actions, .. }) = self.promises.get_mut(p) {
                if let Some(Action::FunctionCall { gas, .. }) = actions.get_mut(a) {
                    *gas = gas.saturating_add(share);
                }
            }
        }
        given
    }

    /// Applies the buffered writes to storage and returns the effects.
    pub fn commit(self) -> Result<NearEffects, StorageError> {
        let NearEnv {
            inner,
            storage_usage,
            balance,
            promises,
            returned,
            ..
        } = self;
        let effects = inner.commit()?;
        Ok(NearEffects {
            returned,
            logs: effects.logs,
            state_changes: effects.state_changes,
            promises,
            storage_usage,
            balance,
        })
    }

    /// Drops the buffered writes and promises; logs are kept for diagnosis.
    pub fn discard(self) -> NearEffects {
        let effects = self.inner.discard();
        NearEffects {
            returned: NearReturn::None,
            logs: effects.logs,
            state_changes: Vec::new(),
            promises: Vec::new(),
            storage_usage: self.context.storage_usage,
            balance: self.context.account_balance,
        }
    }

    /// Buffers `key = value` and keeps storage usage current; returns the old value.
    pub(crate) fn write(&mut self, key: &[u8], value: &[u8]) -> Result<Option<Vec<u8>>, HostError> {
        let old = self.inner.storage_get(key)?;
        self.inner.storage_set(key, value)?;
        let added = value.len() as u64;
        self.storage_usage = match &old {
            Some(old) => self
                .storage_usage
                .saturating_sub(old.len() as u64)
                .saturating_add(added),
            None => self
                .storage_usage
                .saturating_add(key.len() as u64 + added + STORAGE_RECORD_OVERHEAD),
        };
        Ok(old)
    }

    /// Buffers the removal of `key`; returns the removed value.
    pub(crate) fn remove(&mut self, key: &[u8]) -> Result<Option<Vec<u8>>, HostError> {
        let old = self.inner.storage_get(key)?;
        if let Some(old) = &old {
            self.inner.storage_remove(key)?;
            self.storage_usage = self
                .storage_usage
                .saturating_sub(key.len() as u64 + old.len() as u64 + STORAGE_RECORD_OVERHEAD);
        }
        Ok(old)
    }
}
