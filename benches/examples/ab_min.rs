//! A/B of two modules' `run(n)` (metered, as `Engine::compile` does it), alternated:
//! `cargo run --release -p gasket-benches --example ab_min -- a.wat b.wat n reps`.
use gasket_benches::bench_profile;
use gasket_vm::{Engine, Imports, Instance, Value};
use std::time::Instant;

fn time_call(instance: &mut Instance, n: i32) -> (f64, u64) {
    let start = Instant::now();
    let outcome = instance
        .call("run", &[Value::I32(n)], u64::MAX)
        .map(|o| o.gas_used);
    let gas = std::hint::black_box(outcome).expect("the kernel runs");
    (start.elapsed().as_secs_f64() * 1e3, gas)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let n: i32 = args[3].parse().unwrap();
    let reps: usize = args[4].parse().unwrap();
    let engine = Engine::new(bench_profile()).expect("engine");
    let a = engine.compile(&wat::parse_file(&args[1]).unwrap()).unwrap();
    let b = engine.compile(&wat::parse_file(&args[2]).unwrap()).unwrap();
    let mut ia = Instance::new(&a, &Imports::new(), u64::MAX).unwrap();
    let mut ib = Instance::new(&b, &Imports::new(), u64::MAX).unwrap();
    let (mut ta, mut tb) = (Vec::new(), Vec::new());
    for _ in 0..reps {
        ta.push(time_call(&mut ia, n).0);
        tb.push(time_call(&mut ib, n).0);
    }
    ta.sort_by(f64::total_cmp);
    tb.sort_by(f64::total_cmp);
    println!(
        "a min {:.4} med {:.4} | b min {:.4} med {:.4} | b/a min {:.3} med {:.3}",
        ta[0],
        ta[reps / 2],
        tb[0],
        tb[reps / 2],
        tb[0] / ta[0],
        tb[reps / 2] / ta[reps / 2]
    );
}
