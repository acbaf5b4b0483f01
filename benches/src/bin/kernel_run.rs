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
//!
//! `kernel_run cranelift-object <kernel> <out.o>` (feature `peers`) writes Wasmtime
//! Cranelift's precompiled code of a kernel (an ELF object: `objdump -d out.o`), to read
//! beside Gasket's (`vm/examples/dump_code.rs`) instruction by instruction.
//!
//! `kernel_run time <rounds> <kernel>...` instead times each kernel (at the bench's
//! argument) under Gasket metered, Gasket unmetered and, with feature `peers`, Wasmtime
//! Cranelift, the engines' calls interleaved round by round, and prints each engine's
//! fastest and median call and the ratios of the fastest calls. Other processes only ever
//! add time to a call, so on a shared machine the fastest of many interleaved calls is a
//! steadier estimate than a median; it is a diagnostic beside the criterion benches, which
//! stay the measure of the targets.

use gasket_benches::{bench_profile, compile_unmetered, first_int, WORKLOADS};
use gasket_vm::{Engine, Imports, Instance, Value};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("time") {
        let rounds = match args.get(1).map(|r| r.parse::<u32>()) {
            Some(Ok(r)) if r > 0 => r,
            _ => usage("time: expected a number of rounds > 0"),
        };
        for kernel in &args[2..] {
            time_kernel(kernel, rounds);
        }
        return;
    }
    if let [mode, kernel, out] = &args[..] {
        if mode == "cranelift-object" {
            // An unknown kernel is a usage error here, before the fixtures' lookup.
            bench_arg(kernel);
            let object = cranelift_object(&gasket_fixtures::wasm(kernel))
                .unwrap_or_else(|e| usage(&format!("{kernel}: {e}")));
            std::fs::write(out, object).unwrap_or_else(|e| usage(&format!("{out}: {e}")));
            return;
        }
    }
    let (engine_name, kernel) = match &args[..] {
        [e, k] | [e, k, _] => (e.as_str(), k.as_str()),
        _ => usage("expected <engine> <kernel> [arg]"),
    };
    let default_arg = bench_arg(kernel);
    let arg = match args.get(2) {
        Some(a) => a
            .parse()
            .unwrap_or_else(|_| usage(&format!("bad argument {a}"))),
        None => default_arg,
    };
    let wasm = gasket_fixtures::wasm(kernel);
    let result = load(engine_name, &wasm).and_then(|mut call| call(arg));
    match result {
        Ok(value) => println!("{engine_name} {kernel}({arg}) = {value}"),
        Err(e) => fail(&format!("{engine_name} {kernel}({arg}): {e}")),
    }
}

/// A kernel's `run` export, loaded and instantiated, ready to call with its argument.
type Call = Box<dyn FnMut(i32) -> Result<i64, String>>;

/// The bench's argument for `kernel`.
fn bench_arg(kernel: &str) -> i32 {
    WORKLOADS
        .iter()
        .find(|(name, _)| *name == kernel)
        .map(|&(_, n)| n)
        .unwrap_or_else(|| usage(&format!("unknown kernel {kernel}")))
}

/// `wasm` compiled and instantiated by the engine named `engine`.
fn load(engine: &str, wasm: &[u8]) -> Result<Call, String> {
    match engine {
        "gasket" | "gasket_unmetered" => load_gasket(engine == "gasket", wasm),
        peer => load_peer(peer, wasm),
    }
}

/// Gasket, metered or not, as the execute bench compiles and calls it.
fn load_gasket(metered: bool, wasm: &[u8]) -> Result<Call, String> {
    let engine = Engine::new(bench_profile()).map_err(|e| e.to_string())?;
    let module = if metered {
        engine.compile(wasm)
    } else {
        compile_unmetered(&engine, wasm)
    }
    .map_err(|e| e.to_string())?;
    let mut instance =
        Instance::new(&module, &Imports::new(), u64::MAX).map_err(|e| e.to_string())?;
    Ok(Box::new(move |arg| {
        let outcome = instance
            .call("run", &[Value::I32(arg)], u64::MAX)
            .map_err(|e| e.to_string())?;
        match outcome.result {
            Ok(values) => Ok(first_int(&values)),
            Err(trap) => Err(format!("trapped: {trap:?}")),
        }
    }))
}

#[cfg(feature = "peers")]
fn load_peer(name: &str, wasm: &[u8]) -> Result<Call, String> {
    let peer = gasket_benches::peers::all()
        .into_iter()
        .find(|p| p.name() == name)
        .ok_or_else(|| format!("unknown engine {name}"))?;
    let mut runner = peer.load(wasm)?.instantiate()?;
    Ok(Box::new(move |arg| runner.call("run", Some(arg))))
}

#[cfg(not(feature = "peers"))]
fn load_peer(name: &str, _: &[u8]) -> Result<Call, String> {
    Err(format!(
        "unknown engine {name} (the peers need `--features peers`)"
    ))
}

#[cfg(feature = "peers")]
fn cranelift_object(wasm: &[u8]) -> Result<Vec<u8>, String> {
    let mut config = wasmtime::Config::new();
    config.strategy(wasmtime::Strategy::Cranelift);
    wasmtime::Engine::new(&config)
        .and_then(|engine| engine.precompile_module(wasm))
        .map_err(|e| format!("{e:?}"))
}

#[cfg(not(feature = "peers"))]
fn cranelift_object(_: &[u8]) -> Result<Vec<u8>, String> {
    Err("Cranelift needs `--features peers`".into())
}

/// The engines `time` compares: Gasket metered first (the ratios' numerator).
const TIMED: &[&str] = &[
    "gasket",
    "gasket_unmetered",
    #[cfg(feature = "peers")]
    "wasmtime_cranelift",
];

/// `kernel_run time`: `rounds` rounds, each one call per engine, then each engine's
/// fastest and median call and the fastest calls' ratios.
fn time_kernel(kernel: &str, rounds: u32) {
    let arg = bench_arg(kernel);
    let wasm = gasket_fixtures::wasm(kernel);
    let mut calls: Vec<(&str, Call, Vec<f64>)> = TIMED
        .iter()
        .map(|&name| {
            let call = load(name, &wasm).unwrap_or_else(|e| fail(&format!("{name}: {e}")));
            (name, call, Vec::with_capacity(rounds as usize))
        })
        .collect();
    let mut expected = None;
    for _ in 0..rounds {
        for (name, call, times) in &mut calls {
            let start = std::time::Instant::now();
            let result = call(arg).unwrap_or_else(|e| fail(&format!("{name} {kernel}: {e}")));
            times.push(start.elapsed().as_secs_f64() * 1e6);
            if *expected.get_or_insert(result) != result {
                fail(&format!(
                    "{name} {kernel}: {result} differs from the first engine's"
                ));
            }
        }
    }
    for (_, _, times) in &mut calls {
        times.sort_by(f64::total_cmp);
    }
    let metered = calls[0].2[0];
    for (name, _, times) in &calls {
        println!(
            "{kernel:<11} {name:<20} fastest {:>10.1} us  median {:>10.1} us  gasket/this {:.3}",
            times[0],
            times[times.len() / 2],
            metered / times[0]
        );
    }
}

/// A kernel that failed to load, trapped or disagreed: exit 1, as a failed run does.
fn fail(msg: &str) -> ! {
    eprintln!("kernel_run: {msg}");
    std::process::exit(1)
}

fn usage(msg: &str) -> ! {
    eprintln!("kernel_run: {msg}\nusage: kernel_run <engine> <kernel> [arg] | time <rounds> <kernel>... | cranelift-object <kernel> <out.o>");
    std::process::exit(2)
}
