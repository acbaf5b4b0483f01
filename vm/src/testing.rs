//! The contract harness: a tiny in-memory chain for testing contracts with `cargo test`.
//!
//! A [`TestChain`] holds accounts, each with a deployed contract and its storage (a
//! [`MemoryStorage`]), and a current block (height and timestamp). [`TestChain::call`]
//! starts a call that is configured with input bytes, a gas limit, a caller and block
//! facts, and [`CallBuilder::run`] executes it exactly like a node would:
//!
//! - a fresh [`Instance`] per call (linear memory never survives a call; only storage
//!   does), with the start function charged to the call's gas;
//! - the host ABI dispatched to a [`HostEnv`] over the account's storage, committed when
//!   the call returns and discarded when it traps or panics, so a failed call leaves
//!   storage exactly as it was;
//! - an [`Outcome`]: status (ok, trap kind, or the contract's panic message), return
//!   data, logs, gas used and the state changes.
//!
//! Everything is deterministic: the same sequence of deployments and calls gives
//! byte-identical outcomes and storage on every run and every machine.
//!
//! ```no_run
//! use gasket_vm::testing::{Status, TestChain};
//!
//! let mut chain = TestChain::new();
//! chain.deploy("counter", &std::fs::read("counter.wasm").unwrap()).unwrap();
//! let out = chain.call("counter", "increment").caller("alice").gas(1_000_000).run().unwrap();
//! assert_eq!(out.status, Status::Ok);
//! assert_eq!(out.return_data, 1u64.to_le_bytes());
//! ```

use std::collections::BTreeMap;
use std::sync::Arc;

use gasket_host_api::{
    CallContext, HostEnv, HostError, HostLimits, MemoryStorage, StateChange, Storage,
};
use gasket_metering::Profile;
use gasket_singlepass::TrapKind;

use crate::engine::Engine;
use crate::error::{CallError, EngineError, InstantiationError, LoadError};
use crate::gas_report::{GasReport, ReportModule, WasmFrame};
use crate::imports::Imports;
use crate::instance::Instance;
use crate::module::Module;

/// Gas limit of a call that does not set one (the CLI's default too): about 4 s of the
/// calibration machine under cost table version 3 and 4 (version 2's 10^10 × version 3's
/// rescaling of 50).
pub const DEFAULT_GAS: u64 = 500_000_000_000;

/// Caller of a call that does not set one.
pub const DEFAULT_CALLER: &str = "alice";

/// How a contract call ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Status {
    /// The method returned; its state changes were committed.
    Ok,
    /// The call trapped (including `out_of_gas` and host-function errors, whose message
    /// says which host function failed and why); nothing was committed.
    Trap {
        /// The trap's kind.
        kind: TrapKind,
        /// Details, when there are any. Always `None` for `out_of_gas`, whether the gas
        /// meter or a host function's charge ran out: the kind says it all.
        message: Option<String>,
    },
    /// The contract called `panic_utf8`; nothing was committed.
    Panic {
        /// The contract's message.
        message: String,
    },
}

impl Status {
    /// `ok`, `trap` or `panic` (the CLI's `--json` status).
    pub fn as_str(&self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Trap { .. } => "trap",
            Status::Panic { .. } => "panic",
        }
    }

    /// The trap kind, if the call trapped.
    pub fn trap_kind(&self) -> Option<TrapKind> {
        match self {
            Status::Trap { kind, .. } => Some(*kind),
            _ => None,
        }
    }

    /// The panic message, or the trap's message.
    pub fn message(&self) -> Option<&str> {
        match self {
            Status::Ok => None,
            Status::Trap { message, .. } => message.as_deref(),
            Status::Panic { message } => Some(message),
        }
    }
}

/// Everything a call produced.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outcome {
    /// How it ended.
    pub status: Status,
    /// The last `return_value` data (kept for failed calls too, for diagnosis).
    pub return_data: Vec<u8>,
    /// Log lines in emission order (kept for failed calls too).
    pub logs: Vec<String>,
    /// Gas used by the start function (if any) and the call; the limit on `out_of_gas`.
    pub gas_used: u64,
    /// The committed state changes, sorted by key; empty unless the status is `Ok`.
    pub state_changes: Vec<StateChange>,
    /// Where the gas went, when the call asked for it ([`CallBuilder::gas_report`]) and
    /// the contract was deployed as wasm; `None` also when the start function trapped.
    pub gas_report: Option<GasReport>,
    /// After a trap or panic in the method: the wasm call stack at that point, innermost
    /// first, with names from the name section (found by running the call again on the
    /// report build of the contract; empty when it was deployed as an artifact).
    pub wasm_stack: Vec<WasmFrame>,
}

impl Outcome {
    /// Whether the call returned.
    pub fn is_ok(&self) -> bool {
        self.status == Status::Ok
    }

    /// The return data; panics with the status if the call did not return (for tests).
    #[track_caller]
    pub fn unwrap(&self) -> &[u8] {
        match &self.status {
            Status::Ok => &self.return_data,
            other => panic!("call failed: {other:?} (logs: {:?})", self.logs),
        }
    }

    /// The return data as a little-endian u64; panics if the call failed or did not
    /// return exactly 8 bytes.
    #[track_caller]
    pub fn unwrap_u64(&self) -> u64 {
        let data = self.unwrap();
        let bytes: [u8; 8] = data
            .try_into()
            .unwrap_or_else(|_| panic!("expected 8 bytes of return data, got {data:?}"));
        u64::from_le_bytes(bytes)
    }

    /// The panic message, if the contract panicked.
    pub fn panic_message(&self) -> Option<&str> {
        match &self.status {
            Status::Panic { message } => Some(message),
            _ => None,
        }
    }
}

/// Why a call could not be made at all (nothing ran).
#[derive(Debug, thiserror::Error)]
pub enum HarnessError {
    /// No contract is deployed under this account.
    #[error("no contract is deployed under account {0:?}; deploy one with TestChain::deploy")]
    NoSuchAccount(String),
    /// The method does not exist or takes parameters.
    #[error(transparent)]
    Call(#[from] CallError),
    /// The module could not be instantiated (a trap in the start function is an
    /// [`Outcome`] instead).
    #[error(transparent)]
    Instantiation(#[from] InstantiationError),
    /// The storage failed (never with the harness's `MemoryStorage`; a custom node
    /// storage must retry or halt, not record it).
    #[error("storage failed: {0}")]
    Storage(String),
}

struct Account {
    module: Module,
    storage: MemoryStorage,
    /// The wasm it was deployed from (`None` for artifacts and `deploy_module`), for
    /// the report build.
    wasm: Option<Arc<[u8]>>,
    /// The report build of `wasm`, compiled when first needed.
    report: Option<ReportModule>,
}

/// An account's report build (its `report`, compiled from its `wasm` on first use);
/// `None` without wasm (or if it fails to compile, which the plain build did not).
fn report_build<'a>(
    report: &'a mut Option<ReportModule>,
    wasm: Option<&Arc<[u8]>>,
    engine: &Engine,
) -> Option<&'a ReportModule> {
    if report.is_none() {
        *report = engine.compile_for_report(wasm?).ok();
    }
    report.as_ref()
}

/// An in-memory chain of accounts with contracts and storage. See the module docs.
pub struct TestChain {
    engine: Engine,
    accounts: BTreeMap<String, Account>,
    block_height: u64,
    block_timestamp: u64,
    limits: HostLimits,
}

impl Default for TestChain {
    fn default() -> Self {
        TestChain::new()
    }
}

impl TestChain {
    /// A chain with the contract profile, at block height 1 and timestamp
    /// 1 000 000 000 ns. Panics if this machine cannot run Gasket's code (see
    /// [`TestChain::with_engine`] to handle that).
    pub fn new() -> TestChain {
        let engine = Engine::new(Profile::contract())
            .unwrap_or_else(|e: EngineError| panic!("cannot create the engine: {e}"));
        TestChain::with_engine(engine)
    }

    /// A chain compiling with `engine` (its profile and cache).
    pub fn with_engine(engine: Engine) -> TestChain {
        TestChain {
            engine,
            accounts: BTreeMap::new(),
            block_height: 1,
            block_timestamp: 1_000_000_000,
            limits: HostLimits::default(),
        }
    }

    /// The engine contracts are compiled with.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// Sets the host limits of later calls.
    pub fn set_limits(&mut self, limits: HostLimits) {
        self.limits = limits;
    }

    /// Compiles `wasm` and deploys it under `account`, replacing any contract there but
    /// keeping its storage. A compiled artifact (`gasket compile` output, recognised by
    /// its magic) is verified against the chain's profile and deployed as is; bytes that
    /// are neither are refused with one line (`not a wasm module (no \0asm header)`).
    pub fn deploy(&mut self, account: &str, wasm: &[u8]) -> Result<(), LoadError> {
        let (module, source) = if wasm.starts_with(&crate::cache::MAGIC) {
            (Module::deserialize(&self.engine, wasm)?, None)
        } else {
            (self.engine.compile(wasm)?, Some(Arc::from(wasm)))
        };
        self.deploy_module(account, module);
        if let Some(a) = self.accounts.get_mut(account) {
            a.wasm = source;
        }
        Ok(())
    }

    /// Deploys an already compiled module under `account` (keeping its storage).
    pub fn deploy_module(&mut self, account: &str, module: Module) {
        match self.accounts.get_mut(account) {
            Some(a) => {
                a.module = module;
                a.wasm = None;
                a.report = None;
            }
            None => {
                self.accounts.insert(
                    account.to_string(),
                    Account {
                        module,
                        storage: MemoryStorage::new(),
                        wasm: None,
                        report: None,
                    },
                );
            }
        }
    }

    /// The storage of `account`, if a contract is deployed there.
    pub fn storage(&self, account: &str) -> Option<&MemoryStorage> {
        self.accounts.get(account).map(|a| &a.storage)
    }

    /// The storage of `account`, writable (to set up a test's state).
    pub fn storage_mut(&mut self, account: &str) -> Option<&mut MemoryStorage> {
        self.accounts.get_mut(account).map(|a| &mut a.storage)
    }

    /// The value stored under `key` by `account`'s contract.
    pub fn view(&self, account: &str, key: &[u8]) -> Option<Vec<u8>> {
        self.storage(account)?.as_map().get(key).cloned()
    }

    /// The current block height.
    pub fn block_height(&self) -> u64 {
        self.block_height
    }

    /// The current block timestamp (ns since the Unix epoch).
    pub fn block_timestamp(&self) -> u64 {
        self.block_timestamp
    }

    /// Sets the current block.
    pub fn set_block(&mut self, height: u64, timestamp: u64) {
        self.block_height = height;
        self.block_timestamp = timestamp;
    }

    /// Moves to the next block, `seconds` later.
    pub fn advance_block(&mut self, seconds: u64) {
        self.block_height += 1;
        self.block_timestamp = self
            .block_timestamp
            .saturating_add(seconds.saturating_mul(1_000_000_000));
    }

    /// Starts a call of `method` on `account`'s contract: configure it, then
    /// [`run`](CallBuilder::run) it.
    pub fn call<'c>(&'c mut self, account: &str, method: &str) -> CallBuilder<'c> {
        let (block_height, block_timestamp) = (self.block_height, self.block_timestamp);
        CallBuilder {
            chain: self,
            account: account.to_string(),
            method: method.to_string(),
            input: Vec::new(),
            caller: DEFAULT_CALLER.to_string(),
            gas: DEFAULT_GAS,
            block_height,
            block_timestamp,
            gas_report: false,
        }
    }
}

/// A call being configured; see [`TestChain::call`].
#[must_use = "a call does nothing until run"]
pub struct CallBuilder<'c> {
    chain: &'c mut TestChain,
    account: String,
    method: String,
    input: Vec<u8>,
    caller: String,
    gas: u64,
    block_height: u64,
    block_timestamp: u64,
    gas_report: bool,
}

impl CallBuilder<'_> {
    /// Runs the call on the contract's report build and fills [`Outcome::gas_report`]
    /// (same results, same gas; slower). Default: off.
    pub fn gas_report(mut self, on: bool) -> Self {
        self.gas_report = on;
        self
    }

    /// The input bytes (`input` host function). Default: empty.
    pub fn input(mut self, input: impl Into<Vec<u8>>) -> Self {
        self.input = input.into();
        self
    }

    /// The calling account. Default: [`DEFAULT_CALLER`].
    pub fn caller(mut self, caller: &str) -> Self {
        self.caller = caller.to_string();
        self
    }

    /// The gas limit. Default: [`DEFAULT_GAS`].
    pub fn gas(mut self, gas: u64) -> Self {
        self.gas = gas;
        self
    }

    /// The block height for this call only (default: the chain's).
    pub fn block_height(mut self, height: u64) -> Self {
        self.block_height = height;
        self
    }

    /// The block timestamp for this call only (default: the chain's).
    pub fn block_timestamp(mut self, timestamp: u64) -> Self {
        self.block_timestamp = timestamp;
        self
    }

    /// Runs the call; commits its state changes if it returned.
    pub fn run(self) -> Result<Outcome, HarnessError> {
        let account = self
            .chain
            .accounts
            .get_mut(&self.account)
            .ok_or_else(|| HarnessError::NoSuchAccount(self.account.clone()))?;
        let context = CallContext {
            current_account: self.account.clone().into_bytes(),
            caller: self.caller.into_bytes(),
            block_height: self.block_height,
            block_timestamp: self.block_timestamp,
            input: self.input,
        };
        let engine = &self.chain.engine;
        let limits = self.chain.limits;
        let Account {
            module,
            storage,
            wasm,
            report,
        } = account;
        if self.gas_report {
            if let Some(report) = report_build(report, wasm.as_ref(), engine) {
                return call_contract_reported(
                    report,
                    &self.method,
                    context,
                    limits,
                    storage,
                    self.gas,
                );
            }
        }
        let mut outcome = call_contract(
            module,
            &self.method,
            context.clone(),
            limits,
            storage,
            self.gas,
        )?;
        if !outcome.is_ok() {
            // The call changed nothing: run it again on the report build, on a copy of
            // the storage, for the stack. The run is deterministic, so it ends the same
            // way (checked: a stack from a run that did not is not shown).
            if let Some(report) = report_build(report, wasm.as_ref(), engine) {
                outcome.wasm_stack = failed_call_stack(
                    report,
                    &self.method,
                    context,
                    limits,
                    &mut storage.clone(),
                    self.gas,
                    &outcome,
                );
            }
        }
        Ok(outcome)
    }
}

/// Runs one contract call the way the harness and `gasket run --call` do: a fresh
/// instance of `module` (start function included in the gas), `method` called with the
/// host ABI over `storage`, changes committed to `storage` only if the call returned.
pub fn call_contract<S: Storage + ?Sized>(
    module: &Module,
    method: &str,
    context: CallContext,
    limits: HostLimits,
    storage: &mut S,
    gas: u64,
) -> Result<Outcome, HarnessError> {
    call(module, None, method, context, limits, storage, gas)
}

/// [`call_contract`] on a contract's report build: the same outcome, plus
/// [`Outcome::gas_report`] and, after a trap or panic, [`Outcome::wasm_stack`].
pub fn call_contract_reported<S: Storage + ?Sized>(
    report: &ReportModule,
    method: &str,
    context: CallContext,
    limits: HostLimits,
    storage: &mut S,
    gas: u64,
) -> Result<Outcome, HarnessError> {
    call(
        report.module(),
        Some(report),
        method,
        context,
        limits,
        storage,
        gas,
    )
}

/// The wasm stack of `failed`, an outcome of [`call_contract`] that trapped or panicked,
/// found by running the call again on the report build over `storage`, a copy of the
/// storage the call started with (it changed nothing). The run is deterministic, so it
/// ends the same way; if it did not, the stack would not be this call's, and none is
/// given.
pub fn failed_call_stack<S: Storage + ?Sized>(
    report: &ReportModule,
    method: &str,
    context: CallContext,
    limits: HostLimits,
    storage: &mut S,
    gas: u64,
    failed: &Outcome,
) -> Vec<WasmFrame> {
    match call_contract_reported(report, method, context, limits, storage, gas) {
        Ok(again) if again.status == failed.status && again.gas_used == failed.gas_used => {
            again.wasm_stack
        }
        _ => Vec::new(),
    }
}

/// [`call_contract`], recording a report when `report` (whose module `module` is) is given.
fn call<S: Storage + ?Sized>(
    module: &Module,
    report: Option<&ReportModule>,
    method: &str,
    context: CallContext,
    limits: HostLimits,
    storage: &mut S,
    gas: u64,
) -> Result<Outcome, HarnessError> {
    module.check_entry_point(method)?;
    let mut instance = match Instance::new(module, &Imports::new(), gas) {
        Ok(instance) => instance,
        Err(InstantiationError::Trap(trap)) => {
            // The start function (or a segment) trapped: nothing ran against storage.
            let gas_used = if trap.kind == TrapKind::OutOfGas {
                gas
            } else {
                0
            };
            return Ok(Outcome {
                status: Status::Trap {
                    kind: trap.kind,
                    message: trap.message.filter(|_| trap.kind != TrapKind::OutOfGas),
                },
                return_data: Vec::new(),
                logs: Vec::new(),
                gas_used,
                state_changes: Vec::new(),
                gas_report: None,
                wasm_stack: Vec::new(),
            });
        }
        Err(e) => return Err(e.into()),
    };
    let recording = report.map(|r| r.begin(&mut instance, true));
    let start_gas = instance.start_gas_used();
    let mut env = HostEnv::with_limits(context, limits, storage);
    let outcome = instance.call_contract(method, &mut env, gas - start_gas)?;
    let gas_used = start_gas + outcome.gas_used;
    // A report that does not add up is left out rather than shown wrong.
    let (gas_report, wasm_stack) = match (report, recording) {
        (Some(report), Some(recording)) => (
            report.finish(&instance, recording, gas_used).ok(),
            report.stack(&instance),
        ),
        _ => (None, Vec::new()),
    };
    match outcome.result {
        Ok(_) => {
            let effects = env
                .commit()
                .map_err(|e| HarnessError::Storage(e.to_string()))?;
            Ok(Outcome {
                status: Status::Ok,
                return_data: effects.return_data,
                logs: effects.logs,
                gas_used,
                state_changes: effects.state_changes,
                gas_report,
                wasm_stack: Vec::new(),
            })
        }
        Err(trap) => {
            let effects = env.discard();
            let status = match trap.host_error {
                Some(HostError::Panic { message }) => Status::Panic { message },
                Some(HostError::Storage(e)) => return Err(HarnessError::Storage(e.to_string())),
                _ if trap.kind == TrapKind::OutOfGas => Status::Trap {
                    kind: trap.kind,
                    message: None,
                },
                _ => Status::Trap {
                    kind: trap.kind,
                    message: trap.message,
                },
            };
            Ok(Outcome {
                status,
                return_data: effects.return_data,
                logs: effects.logs,
                gas_used,
                state_changes: Vec::new(),
                gas_report,
                wasm_stack,
            })
        }
    }
}
