//! A loop of instantiate + empty call + drop, the fixed cost a node pays per transaction,
//! for profilers (`perf record`) and CPU-time comparisons (`/usr/bin/time`) on a shared
//! machine: no criterion, nothing else in the profile.
//!
//! `cargo run --release -p gasket-benches --bin instantiate_loop -- [case] [iterations]`
//!
//! - `case`: `noop` (default: a one-page memory and an empty export, as the contract
//!   bench's `instantiate_call/gasket/noop`), `noop_data` (plus two small data segments)
//!   or `dirty` (the export writes one byte in each 4 KiB of its page first, so the pool
//!   clears the whole page afterwards);
//! - `iterations`: default 300 000.
//!
//! Prints the case, the iterations and the wall time per iteration (rough on a shared
//! machine: compare the process's CPU time across builds instead).

use std::time::Instant;

use gasket_benches::bench_profile;
use gasket_vm::{Engine, Imports, Instance};

fn main() {
    let mut args = std::env::args().skip(1);
    let case = args.next().unwrap_or_else(|| "noop".into());
    let iterations: u32 = match args.next() {
        Some(n) => n
            .parse()
            .unwrap_or_else(|_| usage(&format!("bad count {n}"))),
        None => 300_000,
    };
    let wat = match case.as_str() {
        "noop" => "(module (memory 1) (func (export \"run\")))",
        "noop_data" => {
            r#"(module (memory 1)
                 (data (i32.const 16) "owner: alice.near")
                 (data (i32.const 1024) "\01\02\03\04\05\06\07\08 total supply")
                 (func (export "run")))"#
        }
        "dirty" => {
            r#"(module (memory 1)
                 (func (export "run") (local $at i32)
                   (loop $l
                     (i32.store8 (local.get $at) (i32.const 1))
                     (local.set $at (i32.add (local.get $at) (i32.const 4096)))
                     (br_if $l (i32.lt_u (local.get $at) (i32.const 65536))))))"#
        }
        other => usage(&format!("unknown case {other}")),
    };
    let engine = Engine::new(bench_profile()).expect("engine");
    let module = engine
        .compile(&wat::parse_str(wat).expect("case parses"))
        .expect("case compiles");
    let imports = Imports::new();
    let start = Instant::now();
    for _ in 0..iterations {
        let mut instance = Instance::new(&module, &imports, 1_000_000).expect("instantiates");
        let out = instance.call("run", &[], 1_000_000).expect("calls");
        assert!(out.result.is_ok(), "{:?}", out.result);
    }
    let elapsed = start.elapsed();
    println!(
        "{case}: {iterations} iterations, {:.3} µs each (wall)",
        elapsed.as_secs_f64() * 1e6 / f64::from(iterations.max(1))
    );
}

fn usage(problem: &str) -> ! {
    eprintln!(
        "instantiate_loop: {problem}\nusage: instantiate_loop [noop|noop_data|dirty] [iterations]"
    );
    std::process::exit(2)
}
