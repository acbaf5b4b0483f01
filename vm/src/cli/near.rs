//! `gasket run <contract> --abi near --call <method>`: one NEAR function call with the
//! NEAR-compatible host functions (`gasket_vm::near::call_near`), the account kept in a
//! state file between invocations.
//!
//! NEAR state file format (version 1), UTF-8 JSON, entries sorted by key:
//!
//! ```json
//! {"format":"gasket-near-state","version":1,"balance":"100000000000000000000000000",
//!  "locked":"0","storage_usage":122481,"entries":[{"key_hex":"…","value_hex":"…"}]}
//! ```
//!
//! A missing file is a fresh account: 100 NEAR, no storage, storage usage = 100 bytes for
//! the account + the contract's size. Written atomically, only when the call returns.

use std::path::Path;

use gasket_host_api::near::{
    AccessKeyPermission, Action, NearContext, NearReturn, Promise, ACCOUNT_OVERHEAD,
};
use gasket_host_api::{HostLimits, MemoryStorage};
use serde_json::{json, Value};

use crate::cli::call::{
    not_a_state_file, parse_entries, print_state_changes, print_status, read_state_file,
    render_entries, state_changes_json,
};
use crate::cli::run::RunStatus;
use crate::near::{call_near, default_public_key, NearOutcome, DEFAULT_BALANCE};
use crate::testing::{HarnessError, Status};
use crate::Module;

/// What `--abi near --call` asked for.
pub struct NearCall<'a> {
    pub method: &'a str,
    pub input: Vec<u8>,
    pub gas: u64,
    pub account: &'a str,
    pub caller: &'a str,
    pub signer: &'a str,
    pub deposit: u128,
    pub block_height: u64,
    pub block_timestamp: u64,
    pub state: Option<&'a Path>,
    /// Size of the contract's wasm (its share of storage usage in a fresh account).
    pub code_len: u64,
}

/// The account a state file holds.
struct AccountState {
    balance: u128,
    locked: u128,
    storage_usage: u64,
    storage: MemoryStorage,
}

/// The `format` of `--abi near`'s state files.
const NEAR_STATE_FORMAT: &str = "gasket-near-state";

fn load(path: Option<&Path>, code_len: u64) -> Result<AccountState, String> {
    let fresh = AccountState {
        balance: DEFAULT_BALANCE,
        locked: 0,
        storage_usage: ACCOUNT_OVERHEAD + code_len,
        storage: MemoryStorage::new(),
    };
    let Some(path) = path else { return Ok(fresh) };
    let Some(v) = read_state_file(path, NEAR_STATE_FORMAT)? else {
        return Ok(fresh);
    };
    let bad = |what: &str| not_a_state_file(path, NEAR_STATE_FORMAT, what);
    let amount = |name: &str| -> Result<u128, String> {
        v[name]
            .as_str()
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| bad(&format!("{name} must be a decimal string")))
    };
    Ok(AccountState {
        balance: amount("balance")?,
        locked: amount("locked")?,
        storage_usage: v["storage_usage"]
            .as_u64()
            .ok_or_else(|| bad("storage_usage must be a number"))?,
        storage: parse_entries(&v, &bad)?,
    })
}

fn render(state: &AccountState) -> String {
    let mut text = json!({
        "format": NEAR_STATE_FORMAT,
        "version": 1,
        "balance": state.balance.to_string(),
        "locked": state.locked.to_string(),
        "storage_usage": state.storage_usage,
        "entries": render_entries(&state.storage),
    })
    .to_string();
    text.push('\n');
    text
}

/// Runs the call; prints its outcome.
pub fn run(module: &Module, call: &NearCall<'_>, as_json: bool) -> RunStatus {
    let mut state = match load(call.state, call.code_len) {
        Ok(s) => s,
        Err(message) => return crate::cli::run::failed("invalid_state", message, as_json),
    };
    let context = NearContext {
        current_account_id: call.account.to_string(),
        signer_account_id: call.signer.to_string(),
        signer_account_pk: default_public_key(),
        predecessor_account_id: call.caller.to_string(),
        input: call.input.clone(),
        block_height: call.block_height,
        block_timestamp: call.block_timestamp,
        epoch_height: 1,
        account_balance: state.balance.saturating_add(call.deposit),
        account_locked_balance: state.locked,
        attached_deposit: call.deposit,
        prepaid_gas: call.gas,
        random_seed: vec![0; 32],
        storage_usage: state.storage_usage,
        promise_results: Vec::new(),
        validators: Default::default(),
    };
    let outcome = match call_near(
        module,
        call.method,
        context,
        HostLimits::default(),
        &mut state.storage,
    ) {
        Ok(outcome) => outcome,
        Err(HarnessError::Call(e)) => {
            eprintln!("error: {e}");
            return RunStatus::Usage;
        }
        Err(HarnessError::Instantiation(e)) => {
            return crate::cli::run::failed(e.kind(), e.to_string(), as_json)
        }
        Err(e) => return crate::cli::run::failed("storage", e.to_string(), as_json),
    };
    if let (Status::Ok, Some(path)) = (&outcome.status, call.state) {
        state.balance = outcome.balance;
        state.storage_usage = outcome.storage_usage;
        if let Err(e) = crate::cache::write_atomically(path, render(&state).as_bytes()) {
            return crate::cli::run::failed(
                "io_error",
                format!("cannot write state file {}: {e}", path.display()),
                as_json,
            );
        }
    }
    print(&outcome, as_json);
    RunStatus::Ran
}

/// Bytes as UTF-8 text when they are, else `null`.
fn text(bytes: &[u8]) -> Value {
    std::str::from_utf8(bytes).map_or(Value::Null, |s| Value::String(s.into()))
}

fn action_json(action: &Action) -> Value {
    let mut v = match action {
        Action::CreateAccount => json!({}),
        Action::DeployContract { code } => json!({"code_len": code.len()}),
        Action::FunctionCall {
            method_name,
            args,
            deposit,
            gas,
            gas_weight,
        } => json!({
            "method_name": method_name,
            "args_text": text(args),
            "args_hex": hex::encode(args),
            "deposit": deposit.to_string(),
            "gas": gas,
            "gas_weight": gas_weight,
        }),
        Action::Transfer { deposit } => json!({"deposit": deposit.to_string()}),
        Action::Stake { stake, public_key } => {
            json!({"stake": stake.to_string(), "public_key_hex": hex::encode(public_key)})
        }
        Action::AddKey {
            public_key,
            nonce,
            permission,
        } => {
            let permission = match permission {
                AccessKeyPermission::FullAccess => json!("FullAccess"),
                AccessKeyPermission::FunctionCall {
                    allowance,
                    receiver_id,
                    method_names,
                } => json!({
                    "allowance": allowance.map(|a| a.to_string()),
                    "receiver_id": receiver_id,
                    "method_names": method_names,
                }),
            };
            json!({"public_key_hex": hex::encode(public_key), "nonce": nonce, "permission": permission})
        }
        Action::DeleteKey { public_key } => json!({"public_key_hex": hex::encode(public_key)}),
        Action::DeleteAccount { beneficiary_id } => json!({"beneficiary_id": beneficiary_id}),
    };
    v["type"] = json!(action.name());
    v
}

/// The promises of a call as `--json` reports them: index, receiver, actions, and the
/// promises each waits on (`promise_and` joins appear as `{"index", "joint": [...]}`).
pub fn receipts_json(promises: &[Promise]) -> Vec<Value> {
    promises
        .iter()
        .enumerate()
        .map(|(i, p)| match p {
            Promise::Receipt {
                receiver_id,
                actions,
                after,
            } => json!({
                "index": i,
                "receiver_id": receiver_id,
                "actions": actions.iter().map(action_json).collect::<Vec<_>>(),
                "after": after,
            }),
            Promise::Joint(members) => json!({"index": i, "joint": members}),
        })
        .collect()
}

fn print(outcome: &NearOutcome, as_json: bool) {
    let trap = outcome.status.trap_kind().map(|k| k.as_str());
    let returned_promise = match outcome.returned {
        NearReturn::Promise(p) => Some(p),
        _ => None,
    };
    if as_json {
        println!(
            "{}",
            json!({
                "status": outcome.status.as_str(),
                "trap": trap,
                "message": outcome.status.message(),
                "return_hex": hex::encode(outcome.return_data()),
                "return_text": text(outcome.return_data()),
                "returned_promise": returned_promise,
                "logs": outcome.logs,
                "gas_used": outcome.gas_used,
                "state_changes": state_changes_json(&outcome.state_changes),
                "receipts": receipts_json(&outcome.promises),
                "balance": outcome.balance.to_string(),
                "storage_usage": outcome.storage_usage,
            })
        );
        return;
    }
    print_status(&outcome.status);
    match (
        &outcome.returned,
        std::str::from_utf8(outcome.return_data()),
    ) {
        (NearReturn::Value(_), Ok(s)) => println!("return: {s}"),
        (NearReturn::Value(v), Err(_)) => println!("return: {}", hex::encode(v)),
        (NearReturn::Promise(p), _) => println!("return: promise {p}"),
        (NearReturn::None, _) => {}
    }
    for line in &outcome.logs {
        println!("log: {line}");
    }
    print_state_changes(&outcome.state_changes);
    for r in receipts_json(&outcome.promises) {
        println!("receipt: {r}");
    }
    println!("storage usage: {} bytes", outcome.storage_usage);
    println!("gas used: {}", outcome.gas_used);
}
