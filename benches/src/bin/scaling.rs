//! Thread scaling of the per-call path: `calls` calls of the `pool_mix` fixture on one
//! thread, then on two threads at once (each `calls`), sharing one Engine and Module.
//! Prints calls/s and the ratio (the target: 2 threads ≥ 1.8× one).
//!
//! `cargo run --release -p gasket-benches --bin scaling -- [calls]`

use std::time::{Duration, Instant};

use gasket_benches::scaling::run_threads;
use gasket_vm::metering::Profile;
use gasket_vm::Engine;

fn main() {
    let calls: u64 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(200_000);
    let engine = Engine::new(Profile::contract()).expect("engine");
    let module = engine
        .load(&gasket_fixtures::wasm("pool_mix"))
        .expect("pool_mix compiles");
    run_threads(&module, 1, calls / 10); // warm-up
    let spin1 = spin(1);
    let one = run_threads(&module, 1, calls);
    let two = run_threads(&module, 2, calls);
    let spin2 = spin(2);
    let rate1 = calls as f64 / one.as_secs_f64();
    let rate2 = 2.0 * calls as f64 / two.as_secs_f64();
    println!(
        "1 thread: {calls} calls in {:.3} s = {:.0} calls/s ({:.2} µs/call)",
        one.as_secs_f64(),
        rate1,
        1e6 / rate1
    );
    println!(
        "2 threads: 2 x {calls} calls in {:.3} s = {:.0} calls/s; ratio {:.2}",
        two.as_secs_f64(),
        rate2,
        rate2 / rate1
    );
    // The same 1-vs-2 comparison for a loop that shares nothing: what this machine gives a
    // second thread right now (other processes compete for the cores).
    let control = spin1.as_secs_f64() / (spin2.as_secs_f64() / 2.0);
    println!("control (pure arithmetic, shares nothing): ratio {control:.2}");
}

/// A fixed amount of arithmetic on each of `threads` threads; the wall time.
fn spin(threads: usize) -> Duration {
    let start = Instant::now();
    std::thread::scope(|s| {
        for t in 0..threads {
            s.spawn(move || {
                let mut x = t as u64 + 1;
                for i in 0..400_000_000u64 {
                    x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(i));
                }
                x
            });
        }
    });
    start.elapsed()
}
