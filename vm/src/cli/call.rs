//! `gasket run <contract> --call <method>`: one contract call through the host ABI, with
//! storage optionally persisted in a state file between invocations.
//!
//! State file format (version 1), UTF-8 JSON, entries sorted by key, keys unique:
//!
//! ```json
//! {"format":"gasket-state","version":1,"entries":[{"key_hex":"636f756e74","value_hex":"0300000000000000"}]}
//! ```
//!
//! A missing file is empty storage. The file is rewritten only when the call returns
//! (status `ok`), through a temporary file in the same directory that is synced and then
//! renamed over it, so a reader sees the old or the new state, never a mix; a call that
//! traps or panics leaves it untouched.

use std::collections::BTreeMap;
use std::path::Path;

use gasket_host_api::{CallContext, HostLimits, MemoryStorage, StateChange};
use serde_json::{json, Value};

use crate::cli::profiles::ProfileChoice;
use crate::cli::run::RunStatus;
use crate::cli::{gas, MakeEngine};
use crate::testing::{self, HarnessError, Outcome, Status};
use crate::{Engine, Module};

/// What `--call` asked for.
pub struct ContractCall<'a> {
    pub method: &'a str,
    pub input: Vec<u8>,
    pub gas: u64,
    pub account: &'a str,
    pub caller: &'a str,
    pub block_height: u64,
    pub block_timestamp: u64,
    pub state: Option<&'a Path>,
    /// `--gas-report`: run the report build and print where the gas went.
    pub gas_report: bool,
}

/// Reads the input bytes from whichever of `--input-hex`, `--input`, `--input-file` was
/// given (clap lets through at most one). `Err` is a usage error.
pub fn input_bytes(
    hex_input: Option<&str>,
    text: Option<&str>,
    file: Option<&Path>,
) -> Result<Vec<u8>, String> {
    if let Some(h) = hex_input {
        let h = h.strip_prefix("0x").unwrap_or(h);
        return hex::decode(h).map_err(|e| format!("--input-hex {h:?} is not hex: {e}"));
    }
    if let Some(t) = text {
        return Ok(t.as_bytes().to_vec());
    }
    if let Some(f) = file {
        return std::fs::read(f)
            .map_err(|e| format!("cannot read --input-file {}: {e}", f.display()));
    }
    Ok(Vec::new())
}

/// Loads a state file; a missing file is empty storage.
pub fn load_state(path: &Path) -> Result<MemoryStorage, String> {
    match read_state_file(path, STATE_FORMAT)? {
        Some(v) => parse_entries(&v, &|what| not_a_state_file(path, STATE_FORMAT, what)),
        None => Ok(MemoryStorage::new()),
    }
}

/// The `format` of `--call`'s state files.
const STATE_FORMAT: &str = "gasket-state";

/// State file `path` parsed and checked to be `format` version 1; `None` when it does not
/// exist (a fresh account). Shared with the NEAR state file of `--abi near`.
pub fn read_state_file(path: &Path, format: &str) -> Result<Option<Value>, String> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("cannot read state file {}: {e}", path.display())),
    };
    let bad = |what: &str| not_a_state_file(path, format, what);
    let v: Value = serde_json::from_str(&text).map_err(|e| bad(&e.to_string()))?;
    if v["format"] != format || v["version"] != 1 {
        return Err(bad(&format!(
            "expected \"format\":\"{format}\",\"version\":1"
        )));
    }
    Ok(Some(v))
}

/// The message for a state file whose content is not what `format` version 1 holds.
pub fn not_a_state_file(path: &Path, format: &str, what: &str) -> String {
    format!(
        "state file {} is not a {format} file (version 1): {what}",
        path.display()
    )
}

/// The `entries` array of a state file (shared with the NEAR state file of
/// `--abi near`): hex keys and values, unique keys.
pub fn parse_entries(v: &Value, bad: &dyn Fn(&str) -> String) -> Result<MemoryStorage, String> {
    let entries = v["entries"]
        .as_array()
        .ok_or_else(|| bad("no entries array"))?;
    let mut map = BTreeMap::new();
    for (i, e) in entries.iter().enumerate() {
        let field = |name: &str| -> Result<Vec<u8>, String> {
            let s = e[name]
                .as_str()
                .ok_or_else(|| bad(&format!("entry {i} has no {name}")))?;
            hex::decode(s).map_err(|err| bad(&format!("entry {i}: {name}: {err}")))
        };
        if map.insert(field("key_hex")?, field("value_hex")?).is_some() {
            return Err(bad(&format!("entry {i} repeats a key")));
        }
    }
    Ok(MemoryStorage::from(map))
}

/// The `entries` array of a state file for `storage`, in key order.
pub fn render_entries(storage: &MemoryStorage) -> Vec<Value> {
    storage
        .entries()
        .map(|(k, v)| json!({"key_hex": hex::encode(k), "value_hex": hex::encode(v)}))
        .collect()
}

/// The state file's text for `storage`.
pub fn render_state(storage: &MemoryStorage) -> String {
    let entries = render_entries(storage);
    let mut text = json!({"format": "gasket-state", "version": 1, "entries": entries}).to_string();
    text.push('\n');
    text
}

/// Loads the contract: wasm or WAT compiled under the chosen profile, or a serialized
/// module verified against the profile it records. `Err` carries the status already
/// reported.
pub fn load_module(
    path: &Path,
    profile: &ProfileChoice,
    make_engine: MakeEngine<'_>,
    as_json: bool,
) -> Result<Contract, RunStatus> {
    let (bytes, profile) = profile.load(path).map_err(|err| {
        crate::cli::report::load_failed(&err, as_json);
        RunStatus::Failed
    })?;
    let engine = make_engine(&profile)
        .map_err(|e| crate::cli::run::failed("unsupported_machine", e.to_string(), as_json))?;
    let artifact = crate::cli::input::is_artifact(&bytes);
    let module = if artifact {
        Module::deserialize(&engine, &bytes)
    } else {
        engine.compile(&bytes)
    };
    let module = module.map_err(|e| crate::cli::run::failed(e.kind(), e.to_string(), as_json))?;
    Ok(Contract {
        module,
        source: (!artifact).then_some((engine, bytes)),
    })
}

/// A loaded contract, and the engine and wasm its report build is made from (`None` for
/// an artifact).
pub struct Contract {
    pub module: Module,
    pub source: Option<(Engine, Vec<u8>)>,
}

impl Contract {
    fn source(&self) -> gas::Source<'_> {
        self.source.as_ref().map(|(e, w)| (e, &w[..]))
    }
}

pub fn run(contract: &Contract, call: &ContractCall<'_>, as_json: bool) -> RunStatus {
    let module = &contract.module;
    let report_build = if call.gas_report {
        let Some((engine, wasm)) = contract.source() else {
            return crate::cli::run::usage(gas::NEEDS_WASM.to_string(), as_json);
        };
        match gas::report_build(engine, wasm) {
            Ok(build) => Some(build),
            Err((kind, message)) => return crate::cli::run::failed(kind, message, as_json),
        }
    } else {
        None
    };
    let exports: Vec<(String, &str)> = module
        .exports()
        .into_iter()
        .map(|e| (e.name, e.ty.kind()))
        .collect();
    if !exports.iter().any(|e| e.0 == call.method && e.1 == "func") {
        let message = crate::cli::run::not_a_function(call.method, &exports);
        return crate::cli::run::usage(message, as_json);
    }
    let mut storage = match call.state.map(load_state).transpose() {
        Ok(s) => s.unwrap_or_default(),
        Err(message) => return crate::cli::run::failed("invalid_state", message, as_json),
    };
    if let Some(Err(message)) = call.state.map(check_writable) {
        return crate::cli::run::failed("io_error", message, as_json);
    }
    let context = CallContext {
        current_account: call.account.as_bytes().to_vec(),
        caller: call.caller.as_bytes().to_vec(),
        block_height: call.block_height,
        block_timestamp: call.block_timestamp,
        input: call.input.clone(),
    };
    // Kept for running a trapped call again (it changed nothing) for its stack.
    let before = (!call.gas_report).then(|| (storage.clone(), context.clone()));
    let limits = HostLimits::default();
    let outcome = match &report_build {
        Some(build) => testing::call_contract_reported(
            build,
            call.method,
            context,
            limits,
            &mut storage,
            call.gas,
        ),
        None => {
            testing::call_contract(module, call.method, context, limits, &mut storage, call.gas)
        }
    };
    let mut outcome = match outcome {
        Ok(outcome) => outcome,
        Err(HarnessError::Call(e)) => return crate::cli::run::usage(e.to_string(), as_json),
        Err(HarnessError::Instantiation(e)) => {
            return crate::cli::run::failed(e.kind(), e.to_string(), as_json)
        }
        Err(e) => return crate::cli::run::failed("storage", e.to_string(), as_json),
    };
    if let (false, Some((mut storage, context)), Some(build)) = (
        outcome.is_ok(),
        before,
        contract
            .source()
            .and_then(|(e, w)| gas::report_build(e, w).ok()),
    ) {
        outcome.wasm_stack = testing::failed_call_stack(
            &build,
            call.method,
            context,
            limits,
            &mut storage,
            call.gas,
            &outcome,
        );
    }
    // The call ran: its outcome is reported even when its state cannot be saved.
    let mut state_error = None;
    if let (Status::Ok, Some(path)) = (&outcome.status, call.state) {
        if let Err(e) = crate::cache::write_atomically(path, render_state(&storage).as_bytes()) {
            state_error = Some(format!(
                "the call returned but its state changes were not saved: cannot write state \
                 file {}: {e}",
                path.display()
            ));
        }
    }
    print(&outcome, state_error.as_deref(), as_json);
    match state_error {
        None => RunStatus::Ran,
        Some(message) => {
            eprintln!("error: {message}");
            RunStatus::Failed
        }
    }
}

/// Checks, before the call runs, that the state file can be written: its directory
/// exists and takes a new file (probed by creating and removing one beside it).
fn check_writable(path: &Path) -> Result<(), String> {
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    let probe = dir.join(format!(".{name}.{}.probe", std::process::id()));
    let cannot = |e: std::io::Error| {
        format!(
            "cannot write state file {} (nothing was run): directory {}: {e}",
            path.display(),
            dir.display()
        )
    };
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&probe)
        .map_err(cannot)?;
    std::fs::remove_file(&probe).map_err(cannot)
}

/// Prints the outcome. `--json` fields, in this order: status, trap, message,
/// return_hex, logs, gas_used, then state_changes (`{"key_hex","value_hex"}`, `value_hex`
/// null for a removal, in the order made) and state_error (null unless `--state` could
/// not be written); then gas_report (with `--gas-report`) and wasm_stack (after a trap
/// or panic, when found): see `cli::gas`.
fn print(outcome: &Outcome, state_error: Option<&str>, as_json: bool) {
    let trap = outcome.status.trap_kind().map(|k| k.as_str());
    let message = outcome.status.message();
    // The stack of a trap or panic, when there is a report build to find it with.
    let stack =
        (!outcome.is_ok() && !outcome.wasm_stack.is_empty()).then_some(&outcome.wasm_stack[..]);
    if as_json {
        let mut line = json!({
            "status": outcome.status.as_str(),
            "trap": trap,
            "message": message,
            "return_hex": hex::encode(&outcome.return_data),
            "logs": outcome.logs,
            "gas_used": outcome.gas_used,
            "state_changes": state_changes_json(&outcome.state_changes),
            "state_error": state_error,
        });
        gas::add_json(&mut line, outcome.gas_report.as_ref(), stack);
        println!("{line}");
        return;
    }
    print_status(&outcome.status);
    gas::print_stack(stack.unwrap_or_default());
    if !outcome.return_data.is_empty() {
        match std::str::from_utf8(&outcome.return_data) {
            Ok(s) if s.chars().all(|c| !c.is_control()) => {
                println!("return: {} ({s:?})", hex::encode(&outcome.return_data))
            }
            _ => println!("return: {}", hex::encode(&outcome.return_data)),
        }
    }
    for line in &outcome.logs {
        println!("log: {line}");
    }
    print_state_changes(&outcome.state_changes);
    println!("gas used: {}", outcome.gas_used);
    if let Some(report) = &outcome.gas_report {
        gas::print_report(report);
    }
}

/// The `status:` line of text output (shared with `--abi near`).
pub fn print_status(status: &Status) {
    match status {
        Status::Ok => println!("status: ok"),
        Status::Trap { kind, message } => match message {
            Some(m) => println!("status: trap {kind} ({m})"),
            None => println!("status: trap {kind}"),
        },
        Status::Panic { message } => println!("status: panic: {message}"),
    }
}

/// The `set`/`remove` lines of text output, in the order the call made them.
pub fn print_state_changes(changes: &[StateChange]) {
    for change in changes {
        match &change.value {
            Some(v) => println!("set {} = {}", hex::encode(&change.key), hex::encode(v)),
            None => println!("remove {}", hex::encode(&change.key)),
        }
    }
}

/// `--json`'s `state_changes`: `{"key_hex","value_hex"}` in the order made, `value_hex`
/// null for a removal.
pub fn state_changes_json(changes: &[StateChange]) -> Vec<Value> {
    changes
        .iter()
        .map(|c| json!({"key_hex": hex::encode(&c.key), "value_hex": c.value.as_ref().map(hex::encode)}))
        .collect()
}
