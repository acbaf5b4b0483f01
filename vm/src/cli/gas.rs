//! `run --gas-report` and the wasm stack of a trap: the report build of the module, and
//! how both are printed (text, or fields of `--json`'s line).
//!
//! JSON shapes (only added to `run`'s line; every other field is unchanged):
//! - `"gas_report"` (with `--gas-report`): `{"gas_used", "by_function": [{"index",
//!   "name" (name section, else export or import name; null without any), "gas"}] by index, "wasm_code", "memory_write", "by_host_function":
//!   [{"name", "calls", "gas"}] by name, "by_class": [{"class", "gas"}] by name}`;
//!   `by_function` plus `memory_write` (the written-range charge, which no function's
//!   counters see), `wasm_code` plus `by_host_function`, and `by_class` each sum to
//!   `gas_used`.
//! - `"wasm_stack"` (trap or panic, when the module was given as wasm or text):
//!   `[{"index", "name"}]`, innermost frame first.

use serde_json::{json, Value};

use crate::{Engine, GasReport, ReportModule, WasmFrame};

/// Where a module came from, for its report build: `None` for an artifact (it has no
/// wasm to instrument).
pub type Source<'a> = Option<(&'a Engine, &'a [u8])>;

/// The usage message for `--gas-report` with an artifact.
pub const NEEDS_WASM: &str =
    "--gas-report needs the module as .wasm or .wat: a .gasket artifact has no report build";

/// Compiles the report build; `Err` is the `(kind, message)` of a load failure.
pub fn report_build(engine: &Engine, wasm: &[u8]) -> Result<ReportModule, (&'static str, String)> {
    engine
        .compile_for_report(wasm)
        .map_err(|e| (e.kind(), e.to_string()))
}

/// The `"gas_report"` object.
pub fn report_json(report: &GasReport) -> Value {
    let functions: Vec<Value> = report
        .by_function
        .iter()
        .map(|f| json!({"index": f.index, "name": f.name, "gas": f.gas}))
        .collect();
    let hosts: Vec<Value> = report
        .by_host_function
        .iter()
        .map(|h| json!({"name": h.name, "calls": h.calls, "gas": h.gas}))
        .collect();
    let classes: Vec<Value> = report
        .by_class
        .iter()
        .map(|(class, gas)| json!({"class": class, "gas": gas}))
        .collect();
    json!({
        "gas_used": report.gas_used,
        "by_function": functions,
        "wasm_code": report.wasm_code,
        "memory_write": report.memory_write,
        "by_host_function": hosts,
        "by_class": classes,
    })
}

/// The `"wasm_stack"` array.
pub fn stack_json(stack: &[WasmFrame]) -> Value {
    stack
        .iter()
        .map(|f| json!({"index": f.index, "name": f.name}))
        .collect()
}

/// Adds `gas_report` and `wasm_stack` (when there are) to the `--json` object `line`.
pub fn add_json(line: &mut Value, report: Option<&GasReport>, stack: Option<&[WasmFrame]>) {
    if let Some(object) = line.as_object_mut() {
        if let Some(report) = report {
            object.insert("gas_report".into(), report_json(report));
        }
        if let Some(stack) = stack {
            object.insert("wasm_stack".into(), stack_json(stack));
        }
    }
}

/// Frames text output shows at each end of a deeper stack (a runaway recursion has
/// thousands; `--json` lists them all).
const TEXT_STACK_ENDS: usize = 16;

/// The text form of the stack: `wasm stack (innermost first):` and one frame a line,
/// the middle of a very deep stack elided.
pub fn print_stack(stack: &[WasmFrame]) {
    if stack.is_empty() {
        return;
    }
    println!("wasm stack (innermost first):");
    let line = |frame: &WasmFrame| match &frame.name {
        Some(name) => println!("  #{} {name}", frame.index),
        None => println!("  #{} func[{}]", frame.index, frame.index),
    };
    if stack.len() <= 2 * TEXT_STACK_ENDS {
        stack.iter().for_each(line);
        return;
    }
    stack[..TEXT_STACK_ENDS].iter().for_each(line);
    let hidden = stack.len() - 2 * TEXT_STACK_ENDS;
    println!("  … {hidden} more frames …");
    stack[stack.len() - TEXT_STACK_ENDS..].iter().for_each(line);
}

/// The text form of a report: three tables, largest first (ties by name or index).
pub fn print_report(report: &GasReport) {
    let percent = |gas: u64| {
        if report.gas_used == 0 {
            0.0
        } else {
            gas as f64 * 100.0 / report.gas_used as f64
        }
    };
    println!("gas report ({} gas):", report.gas_used);
    println!("  by function:");
    let mut functions: Vec<_> = report.by_function.iter().collect();
    functions.sort_by(|a, b| b.gas.cmp(&a.gas).then(a.index.cmp(&b.index)));
    for f in functions {
        let name = f
            .name
            .clone()
            .unwrap_or_else(|| format!("func[{}]", f.index));
        println!(
            "    {:>14} {:>6.2}%  #{} {name}",
            f.gas,
            percent(f.gas),
            f.index
        );
    }
    if report.memory_write > 0 {
        println!(
            "    {:>14} {:>6.2}%  (memory writes: granules added to the written ranges)",
            report.memory_write,
            percent(report.memory_write)
        );
    }
    println!("  by host function:");
    let mut hosts: Vec<(&str, Option<u64>, u64)> = report
        .by_host_function
        .iter()
        .map(|h| (h.name.as_str(), Some(h.calls), h.gas))
        .collect();
    hosts.push(("(wasm code)", None, report.wasm_code));
    hosts.sort_by(|a, b| b.2.cmp(&a.2).then(a.0.cmp(b.0)));
    for (name, calls, gas) in hosts {
        let calls = match calls {
            Some(1) => " (1 call)".to_string(),
            Some(c) => format!(" ({c} calls)"),
            None => String::new(),
        };
        println!("    {gas:>14} {:>6.2}%  {name}{calls}", percent(gas));
    }
    println!("  by cost class:");
    let mut classes: Vec<_> = report.by_class.iter().collect();
    classes.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    for (class, gas) in classes {
        println!("    {gas:>14} {:>6.2}%  {class}", percent(*gas));
    }
}
