//! One NEAR function call: a fresh instance, the NEAR host functions over a [`NearEnv`],
//! then NEAR's end-of-call rules (unused gas shared among weighted function calls, the
//! storage staking check) before the writes are committed. Shared by [`NearChain`]
//! (crate::near::NearChain) and `gasket run --abi near`.

use gasket_host_api::near::{NearContext, NearEnv, NearReturn, Promise, STORAGE_PRICE_PER_BYTE};
use gasket_host_api::{HostError, HostLimits, StateChange, Storage};
use gasket_singlepass::TrapKind;

use crate::error::{InstantiationError, Trap};
use crate::imports::Imports;
use crate::instance::Instance;
use crate::module::Module;
use crate::testing::{HarnessError, Status};

/// Gas of a NEAR call that does not set one: NEAR's 300 Tgas transaction limit, counted in
/// Gasket gas units (about one wasm instruction each, so effectively "plenty").
pub const DEFAULT_NEAR_GAS: u64 = 300_000_000_000_000;

/// Everything one NEAR function call produced.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NearOutcome {
    /// How it ended. A failed storage staking check is a `host_error` trap whose message
    /// starts with `LackBalanceForState`.
    pub status: Status,
    /// What the call returned to whoever waits on it.
    pub returned: NearReturn,
    /// Log lines (kept for failed calls too).
    pub logs: Vec<String>,
    /// Gas used, start function and gas attached to promises included.
    pub gas_used: u64,
    /// Committed state changes (empty unless `Ok`).
    pub state_changes: Vec<StateChange>,
    /// The promises the call created, in index order (empty unless `Ok`).
    pub promises: Vec<Promise>,
    /// Storage usage after the call.
    pub storage_usage: u64,
    /// Balance after the call (attached deposit in, promised amounts out).
    pub balance: u128,
}

impl NearOutcome {
    /// Whether the call returned.
    pub fn is_ok(&self) -> bool {
        self.status == Status::Ok
    }

    /// The `value_return` bytes (empty if none or a promise was returned).
    pub fn return_data(&self) -> &[u8] {
        match &self.returned {
            NearReturn::Value(v) => v,
            _ => &[],
        }
    }

    fn failed(status: Status, context: &NearContext, logs: Vec<String>, gas_used: u64) -> Self {
        NearOutcome {
            status,
            returned: NearReturn::None,
            logs,
            gas_used,
            state_changes: Vec::new(),
            promises: Vec::new(),
            storage_usage: context.storage_usage,
            balance: context.account_balance,
        }
    }
}

/// Runs NEAR method `method` of `module` (compiled with the `near` profile) over the
/// account's `storage`; commits only if the call returned and the account can still pay
/// for its storage. `context.prepaid_gas` is the gas limit.
pub fn call_near<S: Storage + ?Sized>(
    module: &Module,
    method: &str,
    context: NearContext,
    limits: HostLimits,
    storage: &mut S,
) -> Result<NearOutcome, HarnessError> {
    let gas = context.prepaid_gas;
    module.check_entry_point(method)?;
    let mut instance = match Instance::new(module, &Imports::new(), gas) {
        Ok(instance) => instance,
        Err(InstantiationError::Trap(trap)) => {
            let used = if trap.kind == TrapKind::OutOfGas {
                gas
            } else {
                0
            };
            let status = Status::Trap {
                kind: trap.kind,
                message: trap.message,
            };
            return Ok(NearOutcome::failed(status, &context, Vec::new(), used));
        }
        Err(e) => return Err(e.into()),
    };
    let start_gas = instance.start_gas_used();
    let mut env = NearEnv::new(context.clone(), limits, storage);
    let outcome = instance.call_near(method, &mut env, gas - start_gas)?;
    let gas_used = start_gas + outcome.gas_used;
    let end = match outcome.result {
        Ok(_) => Ok(()),
        Err(trap) => Err(trap),
    };
    finish_near_call(env, &context, end, gas_used)
}

/// NEAR's end-of-call rules, shared by every engine that runs NEAR calls (the runtime
/// here, the wasmi reference in tests): a call that returned shares its unused gas among
/// weighted function calls, then must leave the account able to pay for its storage
/// (else it fails with `LackBalanceForState` and nothing is committed); a call that
/// trapped is discarded, a `panic_utf8` becoming [`Status::Panic`].
pub fn finish_near_call<S: Storage + ?Sized>(
    mut env: NearEnv<'_, S>,
    context: &NearContext,
    end: Result<(), Trap>,
    mut gas_used: u64,
) -> Result<NearOutcome, HarnessError> {
    let gas = context.prepaid_gas;
    match end {
        Ok(()) => {
            gas_used += env.distribute_unused_gas(gas.saturating_sub(gas_used));
            let required = u128::from(env.storage_usage()).saturating_mul(STORAGE_PRICE_PER_BYTE);
            let available = env.balance().saturating_add(context.account_locked_balance);
            if available < required {
                let message = format!(
                    "LackBalanceForState: account {} needs {required} yoctoNEAR to pay for {} bytes of storage but has {available}; attach a deposit or store less",
                    context.current_account_id,
                    env.storage_usage()
                );
                let logs = env.discard().logs;
                let status = Status::Trap {
                    kind: TrapKind::HostError,
                    message: Some(message),
                };
                return Ok(NearOutcome::failed(status, context, logs, gas_used));
            }
            let effects = env
                .commit()
                .map_err(|e| HarnessError::Storage(e.to_string()))?;
            Ok(NearOutcome {
                status: Status::Ok,
                returned: effects.returned,
                logs: effects.logs,
                gas_used,
                state_changes: effects.state_changes,
                promises: effects.promises,
                storage_usage: effects.storage_usage,
                balance: effects.balance,
            })
        }
        Err(trap) => {
            let logs = env.discard().logs;
            let status = match trap.host_error {
                Some(HostError::Panic { message }) => Status::Panic { message },
                Some(HostError::Storage(e)) => return Err(HarnessError::Storage(e.to_string())),
                _ => Status::Trap {
                    kind: trap.kind,
                    message: trap.message,
                },
            };
            Ok(NearOutcome::failed(status, context, logs, gas_used))
        }
    }
}

impl NearOutcome {
    /// The panic message, if the contract panicked.
    pub fn panic_message(&self) -> Option<&str> {
        match &self.status {
            Status::Panic { message } => Some(message),
            _ => None,
        }
    }
}
