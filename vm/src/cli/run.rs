//! `gasket run`: compile, instantiate and call one exported function.

use std::path::Path;

use gasket_host_api::{CallContext, HostEnv, MemoryStorage};
use serde_json::json;
use wasmparser::{CompositeInnerType, ExternalKind, Parser, Payload, TypeRef, ValType};

use crate::cli::input::{self, LoadError};
use crate::cli::profiles::ProfileChoice;
use crate::cli::{gas, report, MakeEngine};
use crate::{CallOutcome, GasReport, Imports, Instance, Module, ReportModule, Value, WasmFrame};

/// How `run` ended, mapped to the exit code by `main`.
pub enum RunStatus {
    /// The module ran (returned or trapped): exit 0.
    Ran,
    /// Rejected, or failed to load, compile or instantiate: exit 1.
    Failed,
    /// Bad export name or arguments: exit 2.
    Usage,
}

/// A module to run: wasm prepared for compilation, or a verified artifact.
enum Source {
    Prepared(gasket_metering::PreparedModule),
    Compiled(crate::Module),
}

/// What `--invoke` asked for.
pub struct Invocation<'a> {
    pub export: &'a str,
    pub args: &'a [String],
    pub gas: u64,
    /// `--gas-report`: run the report build and print where the gas went.
    pub gas_report: bool,
}

pub fn failed(kind: &'static str, message: String, as_json: bool) -> RunStatus {
    report::load_failed(&LoadError { kind, message }, as_json);
    RunStatus::Failed
}

/// Reports a usage error (see [`report::usage`]): exit 2.
pub fn usage(message: String, as_json: bool) -> RunStatus {
    report::usage(&message, as_json);
    RunStatus::Usage
}

pub fn run(
    path: &Path,
    call: &Invocation<'_>,
    profile: &ProfileChoice,
    make_engine: MakeEngine<'_>,
    as_json: bool,
) -> RunStatus {
    let (wasm, profile) = match profile.load(path) {
        Ok(loaded) => loaded,
        Err(err) => {
            report::load_failed(&err, as_json);
            return RunStatus::Failed;
        }
    };
    let profile = &profile;
    let engine = match make_engine(profile) {
        Ok(engine) => engine,
        Err(e) => return failed("unsupported_machine", e.to_string(), as_json),
    };
    // An artifact from `gasket compile` is verified and mapped; wasm is prepared, and
    // usage errors are found before compiling, from the original module.
    if call.gas_report && input::is_artifact(&wasm) {
        return usage(gas::NEEDS_WASM.to_string(), as_json);
    }
    let (source, sig) = if input::is_artifact(&wasm) {
        let module = match crate::Module::deserialize(&engine, &wasm) {
            Ok(module) => module,
            Err(e) => return failed(e.kind(), e.to_string(), as_json),
        };
        let sig = match module.export_signature(call.export) {
            Some(sig) => Signature {
                params: sig.params.iter().map(|&t| wasm_type(t)).collect(),
                results: sig.results.iter().map(|&t| wasm_type(t)).collect(),
            },
            None => {
                let exports: Vec<(String, &str)> = module
                    .exports()
                    .into_iter()
                    .map(|e| (e.name, e.ty.kind()))
                    .collect();
                return usage(not_a_function(call.export, &exports), as_json);
            }
        };
        (Source::Compiled(module), sig)
    } else {
        let prepared = match gasket_metering::prepare(&wasm, profile) {
            Ok(prepared) => prepared,
            Err(e) => return failed(e.kind(), e.to_string(), as_json),
        };
        let sig = match export_signature(&wasm, call.export) {
            Ok(sig) => sig,
            Err(message) => return usage(message, as_json),
        };
        (Source::Prepared(prepared), sig)
    };
    let params = &sig.params;
    if params.len() != call.args.len() {
        // After `--` every token is an argument, options included.
        let hint = if call.args.iter().any(|a| a.starts_with("--")) {
            " (options after `--` are taken as arguments; negative values such as -inf need no `--`)"
        } else {
            ""
        };
        return usage(
            format!(
                "{} takes {} argument(s), got {}: its signature is {}{}{hint}",
                call.export,
                params.len(),
                call.args.len(),
                call.export,
                sig
            ),
            as_json,
        );
    }
    let mut args = Vec::with_capacity(params.len());
    for (i, (text, ty)) in call.args.iter().zip(params).enumerate() {
        let value = match ty {
            ValType::I32 => text.parse::<i32>().ok().map(Value::I32),
            ValType::I64 => text.parse::<i64>().ok().map(Value::I64),
            // Rust's float syntax: `1.5`, `-0`, `1e-3`, `inf`, `nan` (the canonical NaN).
            ValType::F32 => text.parse::<f32>().ok().map(|v| Value::F32(v.to_bits())),
            ValType::F64 => text.parse::<f64>().ok().map(|v| Value::F64(v.to_bits())),
            other => {
                return usage(
                    format!(
                "parameter {i} of {} has type {other}, which cannot be given on the command line",
                call.export
            ),
                    as_json,
                )
            }
        };
        match value {
            Some(v) => args.push(v),
            None => {
                return usage(
                    format!(
                        "argument {i} ({text:?}) is not a decimal {ty} as {} expects",
                        call.export
                    ),
                    as_json,
                )
            }
        }
    }
    let wasm_source = (!input::is_artifact(&wasm)).then_some((&engine, &wasm[..]));
    let (module, report_build) = match source {
        Source::Compiled(module) => (module, None),
        Source::Prepared(_) if call.gas_report => match gas::report_build(&engine, &wasm) {
            Ok(build) => (build.module().clone(), Some(build)),
            Err((kind, message)) => return failed(kind, message, as_json),
        },
        Source::Prepared(prepared) => match engine.compile_prepared(prepared) {
            Ok(module) => (module, None),
            Err(e) => return failed(e.kind(), e.to_string(), as_json),
        },
    };
    let (outcome, gas_report, mut stack) =
        match execute(&module, report_build.as_ref(), call, &args, as_json) {
            Ok(done) => done,
            Err(status) => return status,
        };
    if outcome.result.is_err() && report_build.is_none() {
        stack = trap_stack(wasm_source, call, &args, &outcome);
    }
    let stack = stack.filter(|_| outcome.result.is_err());
    print_outcome(&outcome, gas_report.as_ref(), stack.as_deref(), as_json);
    RunStatus::Ran
}

/// A call's outcome, and with a report build its gas report and stack.
type Executed = (CallOutcome, Option<GasReport>, Option<Vec<WasmFrame>>);

/// A fresh instance of `module`, called as `call` says; with `report_build` (whose module
/// `module` is), also the gas report (start function excluded, as from `gas_used`) and
/// the stack.
fn execute(
    module: &Module,
    report_build: Option<&ReportModule>,
    call: &Invocation<'_>,
    args: &[Value],
    as_json: bool,
) -> Result<Executed, RunStatus> {
    let mut instance = match Instance::new(module, &Imports::new(), call.gas) {
        Ok(instance) => instance,
        Err(e) => return Err(failed(e.kind(), e.to_string(), as_json)),
    };
    let recording = report_build.map(|r| r.begin(&mut instance, false));
    // Host ABI imports need a HostEnv: give parameterless calls an empty one.
    let outcome = if args.is_empty() && !module.info().imports.is_empty() {
        let mut storage = MemoryStorage::new();
        let mut env = HostEnv::new(CallContext::default(), &mut storage);
        instance.call_contract(call.export, &mut env, call.gas)
    } else {
        instance.call(call.export, args, call.gas)
    };
    let outcome = match outcome {
        Ok(outcome) => outcome,
        Err(e) => return Err(usage(e.to_string(), as_json)),
    };
    let (report, stack) = match (report_build, recording) {
        (Some(build), Some(recording)) => {
            let report = match build.finish(&instance, recording, outcome.gas_used) {
                Ok(report) => report,
                Err(e) => return Err(failed("internal", e.to_string(), as_json)),
            };
            (Some(report), Some(build.stack(&instance)))
        }
        _ => (None, None),
    };
    Ok((outcome, report, stack))
}

/// The wasm stack of a trapped call, from running it again on the report build (it is
/// deterministic, so it traps the same way; checked). `None` for an artifact.
fn trap_stack(
    source: gas::Source<'_>,
    call: &Invocation<'_>,
    args: &[Value],
    trapped: &CallOutcome,
) -> Option<Vec<WasmFrame>> {
    let (engine, wasm) = source?;
    let build = gas::report_build(engine, wasm).ok()?;
    let (again, _, stack) = execute(build.module(), Some(&build), call, args, false).ok()?;
    (again == *trapped).then_some(stack).flatten()
}

fn print_outcome(
    outcome: &CallOutcome,
    gas_report: Option<&GasReport>,
    stack: Option<&[WasmFrame]>,
    as_json: bool,
) {
    if as_json {
        let mut line = match &outcome.result {
            Ok(values) => {
                let results: Vec<String> = values.iter().map(Value::to_string).collect();
                json!({"status": "ok", "results": results, "gas_used": outcome.gas_used})
            }
            Err(trap) => {
                json!({"status": "trap", "trap": trap.kind.as_str(), "gas_used": outcome.gas_used})
            }
        };
        gas::add_json(&mut line, gas_report, stack);
        println!("{line}");
        return;
    }
    match &outcome.result {
        Ok(values) => {
            let results: Vec<String> = values.iter().map(Value::to_string).collect();
            if results.is_empty() {
                println!("returned (no results)");
            } else {
                println!("result: {}", results.join(" "));
            }
        }
        Err(trap) => {
            match &trap.message {
                Some(m) => println!("trap: {} ({m})", trap.kind),
                None => println!("trap: {}", trap.kind),
            }
            gas::print_stack(stack.unwrap_or_default());
        }
    }
    println!("gas used: {}", outcome.gas_used);
    if let Some(report) = gas_report {
        gas::print_report(report);
    }
}

/// An exported function's parameter and result types.
struct Signature {
    params: Vec<ValType>,
    results: Vec<ValType>,
}

/// `(i32, f64) -> (i64)`, as in usage messages.
impl std::fmt::Display for Signature {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let list = |types: &[ValType]| {
            let names: Vec<String> = types.iter().map(ValType::to_string).collect();
            names.join(", ")
        };
        write!(f, "({}) -> ({})", list(&self.params), list(&self.results))
    }
}

/// Why `name` cannot be called, given the module's exports (name and kind, as
/// `ExternType::kind` spells it): there is no such export, or it is not a function.
pub fn not_a_function(name: &str, exports: &[(String, &str)]) -> String {
    let functions: Vec<&str> = exports
        .iter()
        .filter(|e| e.1 == "func")
        .map(|e| e.0.as_str())
        .collect();
    let list = if functions.is_empty() {
        "(none)".to_string()
    } else {
        functions.join(", ")
    };
    match exports.iter().find(|e| e.0 == name) {
        Some((_, kind)) => {
            format!("export {name:?} is a {kind}, not a function; exported functions: {list}")
        }
        None => format!("the module has no export named {name:?}; exported functions: {list}"),
    }
}

fn kind_name(kind: ExternalKind) -> &'static str {
    match kind {
        ExternalKind::Func | ExternalKind::FuncExact => "func",
        ExternalKind::Memory => "memory",
        ExternalKind::Table => "table",
        ExternalKind::Global => "global",
        ExternalKind::Tag => "tag",
    }
}

/// The signature of exported function `name` of a valid module.
fn export_signature(wasm: &[u8], name: &str) -> Result<Signature, String> {
    let invalid = |e: wasmparser::BinaryReaderError| e.to_string();
    let mut types: Vec<Option<Signature>> = Vec::new();
    let mut funcs: Vec<u32> = Vec::new();
    let mut exports: Vec<(String, &str, u32)> = Vec::new();
    for payload in Parser::new(0).parse_all(wasm) {
        match payload.map_err(invalid)? {
            Payload::TypeSection(reader) => {
                for group in reader {
                    for sub in group.map_err(invalid)?.into_types() {
                        types.push(match &sub.composite_type.inner {
                            CompositeInnerType::Func(f) => Some(Signature {
                                params: f.params().to_vec(),
                                results: f.results().to_vec(),
                            }),
                            _ => None,
                        });
                    }
                }
            }
            Payload::ImportSection(reader) => {
                for import in reader.into_imports() {
                    if let TypeRef::Func(t) | TypeRef::FuncExact(t) = import.map_err(invalid)?.ty {
                        funcs.push(t);
                    }
                }
            }
            Payload::FunctionSection(reader) => {
                for t in reader {
                    funcs.push(t.map_err(invalid)?);
                }
            }
            Payload::ExportSection(reader) => {
                for e in reader {
                    let e = e.map_err(invalid)?;
                    exports.push((e.name.to_string(), kind_name(e.kind), e.index));
                }
            }
            _ => {}
        }
    }
    let index = match exports.iter().find(|e| e.0 == name) {
        Some(&(_, "func", index)) => index,
        _ => {
            let exports: Vec<(String, &str)> =
                exports.into_iter().map(|(n, k, _)| (n, k)).collect();
            return Err(not_a_function(name, &exports));
        }
    };
    let ty = funcs.get(index as usize).copied();
    ty.and_then(|t| types.get_mut(t as usize).and_then(Option::take))
        .ok_or_else(|| format!("export {name:?} has no function type"))
}

fn wasm_type(t: crate::ValType) -> ValType {
    match t {
        crate::ValType::I32 => ValType::I32,
        crate::ValType::I64 => ValType::I64,
        crate::ValType::F32 => ValType::F32,
        crate::ValType::F64 => ValType::F64,
        crate::ValType::FuncRef => ValType::FUNCREF,
        crate::ValType::ExternRef => ValType::EXTERNREF,
    }
}
