//! One benchmark kernel run by one engine, for instruction counters (`valgrind
//! --tool=callgrind`): the execute bench's rows without criterion, so a kernel's cost can
//! be counted exactly where times on a shared machine are noise.
//!
//! `kernel_run <engine> <kernel> [arg]`
//!
//! - `engine`: `gasket` (metered, as `Engine::compile` does it), `gasket_unmetered` (the
//!   raw module, `gasket_benches::compile_unmetered`), and with feature `peers` the peers'
//!   row labels (`wasmtime_cranelift`, `wasmtime_winch`, their `_fuel` forms,
//!   `wasmer_singlepass`, `wasmer_singlepass_metering`);
//! - `kernel`: a name of `gasket_benches::WORKLOADS` (`fixtures/wat/workloads`);
//! - `arg`: `run`'s argument, default the bench's.
//!
//! Prints the result. `scripts/callgrind-ratios.sh` runs each kernel at its argument and at
//! 1 and subtracts, so process start and compile drop out and the kernel's own
//! instructions remain.

use gasket_benches::{bench_profile, compile_unmetered, WORKLOADS};
use gasket_vm::{Engine, Imports, Instance, Value};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (engine_name, kernel) = match &args[..] {
        [e, k] | [e, k, _] => (e.as_str(), k.as_str()),
        _ => usage("expected <engine> <kernel> [arg]"),
    };
    let default_arg = WORKLOADS
        .iter()
        .find(|(name, _)| *name == kernel)
        .map(|&(_, n)| n)
        .unwrap_or_else(|| usage(&format!("unknown kernel {kernel}")));
    let arg = match args.get(2) {
        Some(a) => a
            .parse()
            .unwrap_or_else(|_| usage(&format!("bad argument {a}"))),
        None => default_arg,
    };
    let wasm = gasket_fixtures::wasm(kernel);
    let result = match engine_name {
        "gasket" | "gasket_unmetered" => run_gasket(engine_name == "gasket", &wasm, arg),
        peer => run_peer(peer, &wasm, arg),
    };
    match result {
        Ok(value) => println!("{engine_name} {kernel}({arg}) = {value}"),
        Err(e) => {
            eprintln!("kernel_run: {engine_name} {kernel}({arg}): {e}");
            std::process::exit(1);
        }
    }
}

/// Gasket, metered or not, as the execute bench compiles and calls it.
fn run_gasket(metered: bool, wasm: &[u8], arg: i32) -> Result<i64, String> {
    let engine = Engine::new(bench_profile()).map_err(|e| e.to_string())?;
    let module = if metered {
        engine.compile(wasm)
    } else {
        compile_unmetered(&engine, wasm)
    }
    .map_err(|e| e.to_string())?;
    let mut instance =
        Instance::new(&module, &Imports::new(), u64::MAX).map_err(|e| e.to_string())?;
    let outcome = instance
        .call("run", &[Value::I32(arg)], u64::MAX)
        .map_err(|e| e.to_string())?;
    match outcome.result {
        Ok(values) => Ok(match values.first() {
            Some(Value::I32(v)) => *v as i64,
            Some(Value::I64(v)) => *v,
            _ => 0,
        }),
        Err(trap) => Err(format!("trapped: {trap:?}")),
    }
}

#[cfg(feature = "peers")]
fn run_peer(name: &str, wasm: &[u8], arg: i32) -> Result<i64, String> {
    let peer = gasket_benches::peers::all()
        .into_iter()
        .find(|p| p.name() == name)
        .ok_or_else(|| format!("unknown engine {name}"))?;
    peer.load(wasm)?.instantiate()?.call("run", Some(arg))
}

#[cfg(not(feature = "peers"))]
fn run_peer(name: &str, _: &[u8], _: i32) -> Result<i64, String> {
    Err(format!(
        "unknown engine {name} (the peers need `--features peers`)"
    ))
}

fn usage(msg: &str) -> ! {
    eprintln!("kernel_run: {msg}\nusage: kernel_run <engine> <kernel> [arg]");
    std::process::exit(2)
}
