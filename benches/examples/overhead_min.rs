//! Metering overhead of one kernel on a loaded machine: runs the kernel's metered and
//! unmetered Gasket code alternately, `reps` times each, and prints the minimum and
//! median times and their ratios. The minimum over many interleaved runs moves by under
//! 1 % between invocations at load 4-5 on two cores, where criterion's means move by
//! 10-20 %, so an A/B of two builds (or of placement variants) is readable without an
//! idle machine. Times only; gas is not checked here.
//!
//! `cargo run --release -p gasket-benches --example overhead_min -- [kernel] [n] [reps]`
//! (defaults: sieve 1000000 200; kernels are `fixtures/wat/workloads/*.wat`).
use gasket_benches::{bench_profile, compile_unmetered};
use gasket_vm::{Engine, Imports, Instance, Value};
use std::time::Instant;

/// Milliseconds of one `run(n)` call.
fn time_call(instance: &mut Instance, n: i32) -> f64 {
    let start = Instant::now();
    let outcome = instance
        .call("run", &[Value::I32(n)], u64::MAX)
        .map(|o| o.gas_used);
    std::hint::black_box(outcome).expect("the kernel runs");
    start.elapsed().as_secs_f64() * 1e3
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let name = args.get(1).map_or("sieve", String::as_str);
    let n: i32 = args
        .get(2)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    let reps: usize = args
        .get(3)
        .and_then(|a| a.parse().ok())
        .unwrap_or(200)
        .max(1);
    let engine = Engine::new(bench_profile()).expect("engine");
    let wasm = gasket_fixtures::wasm(name);
    let metered = engine.compile(&wasm).expect("compiles metered");
    let unmetered = compile_unmetered(&engine, &wasm).expect("compiles unmetered");
    let mut m = Instance::new(&metered, &Imports::new(), u64::MAX).expect("instantiates");
    let mut u = Instance::new(&unmetered, &Imports::new(), u64::MAX).expect("instantiates");
    let (mut tm, mut tu) = (Vec::with_capacity(reps), Vec::with_capacity(reps));
    for _ in 0..reps {
        tm.push(time_call(&mut m, n));
        tu.push(time_call(&mut u, n));
    }
    tm.sort_by(f64::total_cmp);
    tu.sort_by(f64::total_cmp);
    let (min_m, med_m, min_u, med_u) = (tm[0], tm[reps / 2], tu[0], tu[reps / 2]);
    println!(
        "{name} {n}: metered min {min_m:.3} ms med {med_m:.3} | unmetered min {min_u:.3} ms \
         med {med_u:.3} | metered/unmetered min {:.3} med {:.3}",
        min_m / min_u,
        med_m / med_u
    );
}
