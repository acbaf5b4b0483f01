//! [`NearChain`]: an in-memory NEAR-like chain for testing NEAR contracts with
//! `cargo test`. Accounts have a balance, a locked balance, access keys, storage, storage
//! usage and optionally a contract. A transaction is one function call from a signer;
//! the promises it creates become receipts, which later steps execute in creation order
//! (a receipt waiting on others runs once they are done and sees their results through
//! `promise_result`). Everything is deterministic: `BTreeMap`s, receipt ids in creation
//! order, the random seed derived from the block height.

use std::collections::BTreeMap;
use std::sync::Arc;

use gasket_host_api::near::{
    AccessKeyPermission, Action, NearContext, NearReturn, Promise, PromiseResult, ACCOUNT_OVERHEAD,
};
use gasket_host_api::{HostLimits, MemoryStorage};
use gasket_metering::Profile;
use gasket_singlepass::TrapKind;
use sha2::{Digest, Sha256};

use crate::engine::Engine;
use crate::error::{EngineError, LoadError};
use crate::module::Module;
use crate::near::call::{call_near, NearOutcome, DEFAULT_NEAR_GAS};
use crate::testing::{HarnessError, Status};

/// One NEAR in yoctoNEAR.
pub const NEAR: u128 = 1_000_000_000_000_000_000_000_000;

/// Balance of an account the chain creates without being told one (100 NEAR).
pub const DEFAULT_BALANCE: u128 = 100 * NEAR;

/// Most receipts one [`NearChain::run_receipts`] executes (a contract that keeps calling
/// itself is stopped here; the rest stay pending).
pub const MAX_RECEIPTS: usize = 10_000;

/// The ed25519 key (borsh: curve byte 0 + 32 zero bytes) of signers that set none.
pub fn default_public_key() -> Vec<u8> {
    let mut k = vec![0u8; 33];
    k[1] = 1;
    k
}

/// An account.
#[derive(Clone, Debug)]
pub struct NearAccount {
    /// Spendable balance, yoctoNEAR.
    pub balance: u128,
    /// Locked (staked) balance.
    pub locked: u128,
    /// The deployed contract.
    pub code: Option<Module>,
    /// Its wasm bytes (what an alternative [`NearExecutor`] runs).
    pub wasm: Option<Arc<[u8]>>,
    /// Size of the deployed wasm (counts towards storage usage).
    pub code_len: u64,
    /// Contract storage.
    pub storage: MemoryStorage,
    /// Storage usage in bytes (account + code + records).
    pub storage_usage: u64,
    /// Access keys.
    pub access_keys: BTreeMap<Vec<u8>, AccessKeyPermission>,
}

impl NearAccount {
    fn new(balance: u128) -> NearAccount {
        NearAccount {
            balance,
            locked: 0,
            code: None,
            wasm: None,
            code_len: 0,
            storage: MemoryStorage::new(),
            storage_usage: ACCOUNT_OVERHEAD,
            access_keys: BTreeMap::new(),
        }
    }
}

/// A receipt: actions for `receiver`, sent by `predecessor`, possibly waiting on others.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Receipt {
    /// Id, in creation order.
    pub id: u64,
    /// Who sent it (the contract that created it, `system` for refunds).
    pub predecessor: String,
    /// The transaction's signer.
    pub signer: String,
    /// The account it acts on.
    pub receiver: String,
    /// Its actions.
    pub actions: Vec<Action>,
    /// Receipt ids whose results it receives, in order.
    pub after: Vec<u64>,
    /// The receipt (or transaction, `None`) that created it.
    pub parent: Option<u64>,
}

/// What executing one receipt did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReceiptOutcome {
    /// The receipt.
    pub receipt: Receipt,
    /// The function call's outcome, if the receipt had one (the last one if several).
    pub call: Option<NearOutcome>,
    /// `Ok`, or why an action failed (then nothing of the receipt was applied).
    pub status: Status,
    /// Ids of the receipts it created.
    pub created: Vec<u64>,
}

/// A transaction and the receipts it led to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Execution {
    /// The transaction's own function call.
    pub outcome: NearOutcome,
    /// Every receipt executed because of it, in execution order.
    pub receipts: Vec<ReceiptOutcome>,
    /// The transaction's final result, following returned promises (`None` if still
    /// pending).
    pub result: Option<PromiseResult>,
}

impl Execution {
    /// The final result's bytes; panics (for tests) if the result failed or is pending.
    #[track_caller]
    pub fn unwrap(&self) -> Vec<u8> {
        match &self.result {
            Some(PromiseResult::Successful(v)) => v.clone(),
            other => panic!(
                "transaction failed: {other:?}; status {:?}, receipts {:?}",
                self.outcome.status,
                self.receipts
                    .iter()
                    .map(|r| (&r.receipt.receiver, &r.status))
                    .collect::<Vec<_>>()
            ),
        }
    }

    /// Every log line of the transaction and its receipts, in execution order.
    pub fn all_logs(&self) -> Vec<String> {
        let mut logs = self.outcome.logs.clone();
        for r in &self.receipts {
            if let Some(c) = &r.call {
                logs.extend(c.logs.iter().cloned());
            }
        }
        logs
    }
}

#[derive(Clone, Debug)]
enum ResultState {
    Done(PromiseResult),
    Forwarded(u64),
}

/// The chain. See the module docs.
pub struct NearChain {
    engine: Engine,
    accounts: BTreeMap<String, NearAccount>,
    block_height: u64,
    block_timestamp: u64,
    epoch_height: u64,
    limits: HostLimits,
    validators: BTreeMap<String, u128>,
    next_receipt: u64,
    pending: Vec<Receipt>,
    results: BTreeMap<u64, ResultState>,
    executor: Box<dyn NearExecutor>,
    history: Vec<Execution>,
}

impl Default for NearChain {
    fn default() -> Self {
        NearChain::new()
    }
}

impl NearChain {
    /// A chain with the `near` profile at block 1, timestamp 1 s, epoch 1. Panics if this
    /// machine cannot run Gasket's code (see [`NearChain::with_engine`]).
    pub fn new() -> NearChain {
        let engine = Engine::new(Profile::near())
            .unwrap_or_else(|e: EngineError| panic!("cannot create the engine: {e}"));
        NearChain::with_engine(engine)
    }

    /// A chain compiling with `engine` (whose profile must be `near`-like).
    pub fn with_engine(engine: Engine) -> NearChain {
        NearChain {
            engine,
            accounts: BTreeMap::new(),
            block_height: 1,
            block_timestamp: 1_000_000_000,
            epoch_height: 1,
            limits: HostLimits::default(),
            validators: BTreeMap::new(),
            next_receipt: 0,
            pending: Vec::new(),
            results: BTreeMap::new(),
            executor: Box::new(GasketExecutor),
            history: Vec::new(),
        }
    }

    /// This chain, running calls with `executor` instead of the Gasket runtime.
    pub fn with_executor(mut self, executor: Box<dyn NearExecutor>) -> NearChain {
        self.executor = executor;
        self
    }

    /// Every transaction run so far, with its receipts, in order.
    pub fn history(&self) -> &[Execution] {
        &self.history
    }

    /// The engine.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// Creates (or tops up to) an account with `balance`.
    pub fn create_account(&mut self, id: &str, balance: u128) {
        self.accounts
            .entry(id.to_string())
            .and_modify(|a| a.balance = balance)
            .or_insert_with(|| NearAccount::new(balance));
    }

    /// Compiles `wasm` and deploys it to `id` (created with [`DEFAULT_BALANCE`] if absent).
    pub fn deploy(&mut self, id: &str, wasm: &[u8]) -> Result<(), LoadError> {
        let module = self.engine.compile(wasm)?;
        let account = self
            .accounts
            .entry(id.to_string())
            .or_insert_with(|| NearAccount::new(DEFAULT_BALANCE));
        set_code(account, module, wasm);
        Ok(())
    }

    /// An account.
    pub fn account(&self, id: &str) -> Option<&NearAccount> {
        self.accounts.get(id)
    }

    /// An account, writable.
    pub fn account_mut(&mut self, id: &str) -> Option<&mut NearAccount> {
        self.accounts.get_mut(id)
    }

    /// Every account id, sorted.
    pub fn account_ids(&self) -> Vec<String> {
        self.accounts.keys().cloned().collect()
    }

    /// An account's balance (0 if it does not exist).
    pub fn balance(&self, id: &str) -> u128 {
        self.accounts.get(id).map_or(0, |a| a.balance)
    }

    /// Sets a validator's stake (for `validator_stake`).
    pub fn set_validator(&mut self, id: &str, stake: u128) {
        self.validators.insert(id.to_string(), stake);
    }

    /// Sets the host limits of later calls.
    pub fn set_limits(&mut self, limits: HostLimits) {
        self.limits = limits;
    }

    /// The current block height.
    pub fn block_height(&self) -> u64 {
        self.block_height
    }

    /// Moves to the next block, `seconds` later; every 10 blocks start a new epoch.
    pub fn advance_block(&mut self, seconds: u64) {
        self.block_height += 1;
        self.block_timestamp = self
            .block_timestamp
            .saturating_add(seconds.saturating_mul(1_000_000_000));
        self.epoch_height = 1 + self.block_height / 10;
    }

    /// Sets the block timestamp (ns).
    pub fn set_timestamp(&mut self, timestamp: u64) {
        self.block_timestamp = timestamp;
    }

    /// Receipts waiting to run.
    pub fn pending(&self) -> &[Receipt] {
        &self.pending
    }

    /// Starts a transaction calling `method` of `receiver`'s contract.
    pub fn call<'c>(&'c mut self, receiver: &str, method: &str) -> TxBuilder<'c> {
        TxBuilder {
            chain: self,
            receiver: receiver.to_string(),
            method: method.to_string(),
            args: Vec::new(),
            signer: "alice".to_string(),
            signer_pk: default_public_key(),
            predecessor: None,
            deposit: 0,
            gas: DEFAULT_NEAR_GAS,
            run_receipts: true,
        }
    }

    fn context(
        &self,
        receipt: &Receipt,
        account: &NearAccount,
        deposit: u128,
        gas: u64,
        input: Vec<u8>,
    ) -> NearContext {
        let seed = Sha256::new()
            .chain_update(b"gasket-near-random-seed")
            .chain_update(self.block_height.to_le_bytes())
            .finalize()
            .to_vec();
        NearContext {
            current_account_id: receipt.receiver.clone(),
            signer_account_id: receipt.signer.clone(),
            signer_account_pk: default_public_key(),
            predecessor_account_id: receipt.predecessor.clone(),
            input,
            block_height: self.block_height,
            block_timestamp: self.block_timestamp,
            epoch_height: self.epoch_height,
            account_balance: account.balance,
            account_locked_balance: account.locked,
            attached_deposit: deposit,
            prepaid_gas: gas,
            random_seed: seed,
            storage_usage: account.storage_usage,
            promise_results: receipt
                .after
                .iter()
                .map(|id| self.resolve(*id).unwrap_or(PromiseResult::NotReady))
                .collect(),
            validators: self.validators.clone(),
        }
    }

    /// The final result of receipt `id`, following forwarded promises.
    fn resolve(&self, mut id: u64) -> Option<PromiseResult> {
        for _ in 0..=self.results.len() {
            match self.results.get(&id)? {
                ResultState::Done(r) => return Some(r.clone()),
                ResultState::Forwarded(next) => id = *next,
            }
        }
        None
    }

    /// Queues a receipt; returns its id.
    fn push_receipt(&mut self, mut receipt: Receipt) -> u64 {
        receipt.id = self.next_receipt;
        self.next_receipt += 1;
        let id = receipt.id;
        self.pending.push(receipt);
        id
    }

    /// Turns a call's promises into receipts; returns promise index → receipt id.
    fn spawn(&mut self, parent: &Receipt, promises: &[Promise]) -> Vec<Option<u64>> {
        let mut ids: Vec<Option<u64>> = Vec::with_capacity(promises.len());
        for p in promises {
            match p {
                Promise::Receipt {
                    receiver_id,
                    actions,
                    after,
                } => {
                    let after = after
                        .iter()
                        .filter_map(|i| ids.get(*i as usize).copied().flatten())
                        .collect();
                    let id = self.push_receipt(Receipt {
                        id: 0,
                        predecessor: parent.receiver.clone(),
                        signer: parent.signer.clone(),
                        receiver: receiver_id.clone(),
                        actions: actions.clone(),
                        after,
                        parent: Some(parent.id),
                    });
                    ids.push(Some(id));
                }
                Promise::Joint(_) => ids.push(None),
            }
        }
        ids
    }

    /// Executes every ready receipt, in id order, once (one block's worth); returns what
    /// ran. Receipts they create run in later steps.
    pub fn step(&mut self) -> Vec<ReceiptOutcome> {
        let ready: Vec<Receipt> = self
            .pending
            .iter()
            .filter(|r| r.after.iter().all(|id| self.resolve(*id).is_some()))
            .cloned()
            .collect();
        self.pending.retain(|r| !ready.iter().any(|x| x.id == r.id));
        let mut out = Vec::new();
        for receipt in ready {
            out.push(self.execute(receipt));
        }
        self.advance_block(1);
        out
    }

    /// Runs steps until no receipt is pending (or [`MAX_RECEIPTS`] ran).
    pub fn run_receipts(&mut self) -> Vec<ReceiptOutcome> {
        let mut out = Vec::new();
        while !self.pending.is_empty() && out.len() < MAX_RECEIPTS {
            let ran = self.step();
            if ran.is_empty() {
                break;
            }
            out.extend(ran);
        }
        out
    }

    /// Executes one receipt atomically: on any failed action, the receiver (and an account
    /// it created) are restored and attached deposits are refunded by a new receipt.
    fn execute(&mut self, receipt: Receipt) -> ReceiptOutcome {
        let snapshot = self.accounts.get(&receipt.receiver).cloned();
        // Every receipt the actions create (promises, DeleteAccount's transfer) gets an id
        // from here on.
        let first_new = self.next_receipt;
        let mut call = None;
        let mut result = Ok(ResultState::Done(PromiseResult::Successful(Vec::new())));
        for action in &receipt.actions {
            match self.apply(&receipt, action) {
                Ok(Some((outcome, promise_ids))) => {
                    result = match (&outcome.status, &outcome.returned) {
                        (Status::Ok, NearReturn::Promise(p)) => {
                            match promise_ids.get(*p as usize).copied().flatten() {
                                Some(id) => Ok(ResultState::Forwarded(id)),
                                None => Ok(ResultState::Done(PromiseResult::Failed)),
                            }
                        }
                        (Status::Ok, NearReturn::Value(v)) => {
                            Ok(ResultState::Done(PromiseResult::Successful(v.clone())))
                        }
                        (Status::Ok, NearReturn::None) => {
                            Ok(ResultState::Done(PromiseResult::Successful(Vec::new())))
                        }
                        (status, _) => Err(status.clone()),
                    };
                    let failed = result.is_err();
                    call = Some(outcome);
                    if failed {
                        break;
                    }
                }
                Ok(None) => {}
                Err(status) => {
                    result = Err(status);
                    break;
                }
            }
        }
        let mut created: Vec<u64> = Vec::new();
        let status = match result {
            Ok(state) => {
                created = self
                    .pending
                    .iter()
                    .map(|r| r.id)
                    .filter(|id| *id >= first_new)
                    .collect();
                self.results.insert(receipt.id, state);
                Status::Ok
            }
            Err(status) => {
                // Roll back the receiver, drop what the receipt created, refund deposits.
                match snapshot {
                    Some(a) => {
                        self.accounts.insert(receipt.receiver.clone(), a);
                    }
                    None => {
                        self.accounts.remove(&receipt.receiver);
                    }
                }
                self.pending.retain(|r| r.id < first_new);
                self.results
                    .insert(receipt.id, ResultState::Done(PromiseResult::Failed));
                let refund: u128 = receipt.actions.iter().map(Action::deposit).sum();
                if refund > 0 && receipt.predecessor != "system" {
                    created.push(self.push_receipt(Receipt {
                        id: 0,
                        predecessor: "system".into(),
                        signer: receipt.signer.clone(),
                        receiver: receipt.predecessor.clone(),
                        actions: vec![Action::Transfer { deposit: refund }],
                        after: Vec::new(),
                        parent: Some(receipt.id),
                    }));
                }
                status
            }
        };
        ReceiptOutcome {
            receipt,
            call,
            status,
            created,
        }
    }

    #[allow(clippy::type_complexity)]
    fn apply(
        &mut self,
        receipt: &Receipt,
        action: &Action,
    ) -> Result<Option<(NearOutcome, Vec<Option<u64>>)>, Status> {
        let fail = |what: String| Status::Trap {
            kind: TrapKind::HostError,
            message: Some(what),
        };
        let receiver = receipt.receiver.as_str();
        if !matches!(action, Action::CreateAccount) && !self.accounts.contains_key(receiver) {
            return Err(fail(format!(
                "AccountDoesNotExist: {receiver} does not exist"
            )));
        }
        match action {
            Action::CreateAccount => {
                if self.accounts.contains_key(receiver) {
                    return Err(fail(format!("AccountAlreadyExists: {receiver}")));
                }
                let sub = receiver.ends_with(&format!(".{}", receipt.predecessor));
                if !sub && (receiver.contains('.') || receiver.len() < 32) {
                    return Err(fail(format!(
                        "CreateAccountNotAllowed: {} may only create sub-accounts of itself, not {receiver}",
                        receipt.predecessor
                    )));
                }
                self.accounts
                    .insert(receiver.to_string(), NearAccount::new(0));
                Ok(None)
            }
            Action::Transfer { deposit } => {
                let a = self
                    .accounts
                    .get_mut(receiver)
                    .ok_or_else(|| fail(receiver.into()))?;
                a.balance = a.balance.saturating_add(*deposit);
                Ok(None)
            }
            Action::DeployContract { code } => {
                let module = self
                    .engine
                    .compile(code)
                    .map_err(|e| fail(format!("CompilationError: {e}")))?;
                let a = self
                    .accounts
                    .get_mut(receiver)
                    .ok_or_else(|| fail(receiver.into()))?;
                set_code(a, module, code);
                Ok(None)
            }
            Action::Stake { stake, .. } => {
                let a = self
                    .accounts
                    .get_mut(receiver)
                    .ok_or_else(|| fail(receiver.into()))?;
                let total = a.balance.saturating_add(a.locked);
                if *stake > total {
                    return Err(fail(format!("TriesToStake: {stake} exceeds {total}")));
                }
                a.balance = total - stake;
                a.locked = *stake;
                Ok(None)
            }
            Action::AddKey {
                public_key,
                permission,
                ..
            } => {
                let a = self
                    .accounts
                    .get_mut(receiver)
                    .ok_or_else(|| fail(receiver.into()))?;
                a.access_keys.insert(public_key.clone(), permission.clone());
                Ok(None)
            }
            Action::DeleteKey { public_key } => {
                let a = self
                    .accounts
                    .get_mut(receiver)
                    .ok_or_else(|| fail(receiver.into()))?;
                if a.access_keys.remove(public_key).is_none() {
                    return Err(fail("DeleteKeyDoesNotExist".into()));
                }
                Ok(None)
            }
            Action::DeleteAccount { beneficiary_id } => {
                let a = self
                    .accounts
                    .remove(receiver)
                    .ok_or_else(|| fail(receiver.into()))?;
                let amount = a.balance.saturating_add(a.locked);
                self.push_receipt(Receipt {
                    id: 0,
                    predecessor: "system".into(),
                    signer: receipt.signer.clone(),
                    receiver: beneficiary_id.clone(),
                    actions: vec![Action::Transfer { deposit: amount }],
                    after: Vec::new(),
                    parent: Some(receipt.id),
                });
                Ok(None)
            }
            Action::FunctionCall {
                method_name,
                args,
                deposit,
                gas,
                ..
            } => {
                let account = self
                    .accounts
                    .get(receiver)
                    .ok_or_else(|| fail(receiver.into()))?;
                let (Some(module), Some(wasm)) = (account.code.clone(), account.wasm.clone())
                else {
                    return Err(fail(format!(
                        "CodeDoesNotExist: {receiver} has no contract"
                    )));
                };
                let mut account = account.clone();
                account.balance = account.balance.saturating_add(*deposit);
                let context = self.context(receipt, &account, *deposit, *gas, args.clone());
                let outcome = match self.executor.call(
                    &module,
                    &wasm,
                    method_name,
                    context,
                    self.limits,
                    &mut account.storage,
                ) {
                    Ok(o) => o,
                    Err(e) => return Err(fail(format!("MethodResolveError: {e}"))),
                };
                if outcome.is_ok() {
                    account.balance = outcome.balance;
                    account.storage_usage = outcome.storage_usage;
                    self.accounts.insert(receiver.to_string(), account);
                    let ids = self.spawn(receipt, &outcome.promises);
                    Ok(Some((outcome, ids)))
                } else {
                    Ok(Some((outcome, Vec::new())))
                }
            }
        }
    }
}

fn set_code(account: &mut NearAccount, module: Module, wasm: &[u8]) {
    let len = wasm.len() as u64;
    account.storage_usage = account
        .storage_usage
        .saturating_sub(account.code_len)
        .saturating_add(len);
    account.code = Some(module);
    account.wasm = Some(wasm.into());
    account.code_len = len;
}

/// Runs one NEAR function call for the chain. The default, [`GasketExecutor`], is
/// [`call_near`] on the module the chain compiled; tests plug in other engines (the wasmi
/// reference) to replay the same transactions and compare outcomes byte for byte.
pub trait NearExecutor {
    /// Runs `method` of the contract (`module`, compiled from `wasm`) over `storage`.
    fn call(
        &self,
        module: &Module,
        wasm: &[u8],
        method: &str,
        context: NearContext,
        limits: HostLimits,
        storage: &mut MemoryStorage,
    ) -> Result<NearOutcome, HarnessError>;
}

/// The Gasket runtime: [`call_near`].
#[derive(Copy, Clone, Debug, Default)]
pub struct GasketExecutor;

impl NearExecutor for GasketExecutor {
    fn call(
        &self,
        module: &Module,
        _wasm: &[u8],
        method: &str,
        context: NearContext,
        limits: HostLimits,
        storage: &mut MemoryStorage,
    ) -> Result<NearOutcome, HarnessError> {
        call_near(module, method, context, limits, storage)
    }
}

/// A transaction being configured; see [`NearChain::call`].
#[must_use = "a transaction does nothing until run"]
pub struct TxBuilder<'c> {
    chain: &'c mut NearChain,
    receiver: String,
    method: String,
    args: Vec<u8>,
    signer: String,
    signer_pk: Vec<u8>,
    predecessor: Option<String>,
    deposit: u128,
    gas: u64,
    run_receipts: bool,
}

impl TxBuilder<'_> {
    /// The arguments (bytes; NEAR contracts usually take JSON).
    pub fn args(mut self, args: impl Into<Vec<u8>>) -> Self {
        self.args = args.into();
        self
    }

    /// JSON arguments.
    pub fn args_json(self, json: &str) -> Self {
        self.args(json.as_bytes())
    }

    /// The signer (and predecessor unless set). Default `alice`.
    pub fn signer(mut self, signer: &str) -> Self {
        self.signer = signer.to_string();
        self
    }

    /// The signer's public key (borsh: curve byte + key). Default
    /// [`default_public_key`].
    pub fn signer_pk(mut self, key: &[u8]) -> Self {
        self.signer_pk = key.to_vec();
        self
    }

    /// The predecessor, when it differs from the signer.
    pub fn predecessor(mut self, predecessor: &str) -> Self {
        self.predecessor = Some(predecessor.to_string());
        self
    }

    /// Attached deposit in yoctoNEAR, taken from the signer's account if it exists (an
    /// unknown signer's deposit comes from outside the chain).
    pub fn deposit(mut self, yocto: u128) -> Self {
        self.deposit = yocto;
        self
    }

    /// Gas limit. Default [`DEFAULT_NEAR_GAS`].
    pub fn gas(mut self, gas: u64) -> Self {
        self.gas = gas;
        self
    }

    /// Leave the receipts the call creates pending (run them with
    /// [`NearChain::step`]/[`NearChain::run_receipts`]).
    pub fn no_receipts(mut self) -> Self {
        self.run_receipts = false;
        self
    }

    /// Runs the transaction's call, then (by default) every receipt it leads to.
    pub fn run(self) -> Result<Execution, HarnessError> {
        let TxBuilder {
            chain,
            receiver,
            method,
            args,
            signer,
            signer_pk,
            predecessor,
            deposit,
            gas,
            run_receipts,
        } = self;
        let Some(account) = chain.accounts.get(&receiver) else {
            return Err(HarnessError::NoSuchAccount(receiver));
        };
        let (Some(module), Some(wasm)) = (account.code.clone(), account.wasm.clone()) else {
            return Err(HarnessError::NoSuchAccount(receiver));
        };
        if let Some(s) = chain.accounts.get_mut(&signer) {
            if s.balance < deposit {
                return Err(HarnessError::Storage(format!(
                    "signer {signer} has {} yoctoNEAR, cannot attach {deposit}",
                    s.balance
                )));
            }
            s.balance -= deposit;
        }
        let id = chain.next_receipt;
        chain.next_receipt += 1;
        let receipt = Receipt {
            id,
            predecessor: predecessor.unwrap_or_else(|| signer.clone()),
            signer,
            receiver: receiver.clone(),
            actions: Vec::new(),
            after: Vec::new(),
            parent: None,
        };
        let mut account = chain
            .accounts
            .get(&receiver)
            .cloned()
            .ok_or_else(|| HarnessError::NoSuchAccount(receiver.clone()))?;
        account.balance = account.balance.saturating_add(deposit);
        let mut context = chain.context(&receipt, &account, deposit, gas, args);
        context.signer_account_pk = signer_pk;
        let outcome = chain.executor.call(
            &module,
            &wasm,
            &method,
            context,
            chain.limits,
            &mut account.storage,
        )?;
        if outcome.is_ok() {
            account.balance = outcome.balance;
            account.storage_usage = outcome.storage_usage;
            chain.accounts.insert(receiver.clone(), account);
            let ids = chain.spawn(&receipt, &outcome.promises);
            let state = match &outcome.returned {
                NearReturn::Promise(p) => match ids.get(*p as usize).copied().flatten() {
                    Some(id) => ResultState::Forwarded(id),
                    None => ResultState::Done(PromiseResult::Failed),
                },
                NearReturn::Value(v) => ResultState::Done(PromiseResult::Successful(v.clone())),
                NearReturn::None => ResultState::Done(PromiseResult::Successful(Vec::new())),
            };
            chain.results.insert(id, state);
        } else {
            chain
                .results
                .insert(id, ResultState::Done(PromiseResult::Failed));
            if deposit > 0 {
                if let Some(s) = chain.accounts.get_mut(&receipt.signer) {
                    s.balance = s.balance.saturating_add(deposit);
                }
            }
        }
        let receipts = if run_receipts {
            chain.run_receipts()
        } else {
            Vec::new()
        };
        let result = chain.resolve(id);
        let execution = Execution {
            outcome,
            receipts,
            result,
        };
        chain.history.push(execution.clone());
        Ok(execution)
    }
}
