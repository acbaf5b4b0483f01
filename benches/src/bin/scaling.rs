//! Thread scaling of the per-call path: `calls` calls of the `pool_mix` fixture on one
//! thread, then on two threads at once (each `calls`), sharing one Engine and Module.
//! Prints calls/s and the ratio (the target: 2 threads ≥ 1.8× one).
//!
//! `cargo run --release -p gasket-benches --bin scaling -- [calls]`
//!
//! Two controls say what this machine gives a second thread at that moment, so a low ratio
//! can be told apart from a shared resource in Gasket:
//! - pure arithmetic on 1 and 2 threads (shares nothing, barely touches memory);
//! - the same `pool_mix` workload in two separate processes at once (a process each:
//!   nothing of Gasket's is shared, not even the address space, yet caches, memory
//!   bandwidth and the hypervisor's scheduling are). Two threads matching two processes
//!   means the threads lose nothing to each other inside Gasket.
//!
//! A third run tells where a shortfall against the processes lies: two threads of this
//! process, each calling a module of its own engine (its own pool and module holds). If it
//! matches the processes and the shared-module run does not, the threads contend on the
//! shared engine or module; if it falls short too, on something of the process (the
//! allocator, the address space).

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use gasket_benches::scaling::{run_on_modules, run_threads, Times};
use gasket_vm::metering::Profile;
use gasket_vm::{Engine, Module};

/// Argument that makes the binary a control child: load, warm up, print `ready`, wait for
/// a line on stdin, run the calls on one thread and print the seconds it took.
const CHILD: &str = "--child";

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some(CHILD) {
        let calls = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(200_000);
        child(calls);
        return;
    }
    let calls: u64 = args.first().and_then(|a| a.parse().ok()).unwrap_or(200_000);
    let module = load();
    run_threads(&module, 1, calls / 10); // warm-up
    let spin1 = spin(1);
    let one = run_threads(&module, 1, calls);
    let two = run_threads(&module, 2, calls);
    let own_module = load();
    run_threads(&own_module, 1, calls / 10); // warm-up
    let separate = run_on_modules(&[&module, &own_module], calls);
    let spin2 = spin(2);
    let processes = two_processes(calls);
    let rate1 = calls as f64 / one.wall.as_secs_f64();
    let rate2 = 2.0 * calls as f64 / two.wall.as_secs_f64();
    let rate_p = 2.0 * calls as f64 / processes.wall.as_secs_f64();
    let rate_s = 2.0 * calls as f64 / separate.wall.as_secs_f64();
    let cpu_per_call = |t: Times, n: u64| t.cpu.as_secs_f64() * 1e6 / n as f64;
    println!(
        "1 thread: {calls} calls in {:.3} s = {rate1:.0} calls/s ({:.2} µs/call); CPU {:.2} µs/call",
        one.wall.as_secs_f64(),
        1e6 / rate1,
        cpu_per_call(one, calls)
    );
    println!(
        "2 threads: 2 x {calls} calls in {:.3} s = {rate2:.0} calls/s; ratio {:.2}; CPU {:.2} µs/call",
        two.wall.as_secs_f64(),
        rate2 / rate1,
        cpu_per_call(two, 2 * calls)
    );
    let control = spin1.as_secs_f64() / (spin2.as_secs_f64() / 2.0);
    println!("control (pure arithmetic, shares nothing): ratio {control:.2}");
    println!(
        "control (2 processes x {calls} calls, nothing of Gasket shared): {rate_p:.0} calls/s; ratio {:.2}; CPU {:.2} µs/call; 2 threads / 2 processes {:.2}",
        rate_p / rate1,
        cpu_per_call(processes, 2 * calls),
        rate2 / rate_p
    );
    println!(
        "control (2 threads, a module and engine each): {rate_s:.0} calls/s; ratio {:.2}; CPU {:.2} µs/call",
        rate_s / rate1,
        cpu_per_call(separate, 2 * calls)
    );
}

fn load() -> Module {
    let engine = Engine::new(Profile::contract()).expect("engine");
    engine
        .load(&gasket_fixtures::wasm("pool_mix"))
        .expect("pool_mix compiles")
}

/// The control child (see [`CHILD`]): prints its loop's wall and CPU seconds.
fn child(calls: u64) {
    let module = load();
    run_threads(&module, 1, calls / 10); // warm-up, as the threads get
    println!("ready");
    std::io::stdout().flush().expect("stdout");
    let mut go = String::new();
    std::io::stdin().read_line(&mut go).expect("stdin");
    let t = run_threads(&module, 1, calls);
    println!("{} {}", t.wall.as_secs_f64(), t.cpu.as_secs_f64());
}

/// Two child processes started together once both are warm: the wall time from the start
/// signal to the last child's result (process start and compile are left out) and the sum
/// of their loops' CPU times.
fn two_processes(calls: u64) -> Times {
    let exe = std::env::current_exe().expect("own path");
    let mut children: Vec<_> = (0..2)
        .map(|_| {
            Command::new(&exe)
                .args([CHILD, &calls.to_string()])
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .spawn()
                .expect("control child starts")
        })
        .collect();
    let mut outputs: Vec<_> = children
        .iter_mut()
        .map(|c| BufReader::new(c.stdout.take().expect("piped stdout")))
        .collect();
    for out in &mut outputs {
        let mut line = String::new();
        out.read_line(&mut line).expect("child output");
        assert_eq!(line.trim(), "ready", "control child failed to start");
    }
    let start = Instant::now();
    for c in &mut children {
        writeln!(c.stdin.as_mut().expect("piped stdin")).expect("child stdin");
    }
    let mut cpu = 0.0;
    for out in &mut outputs {
        let mut line = String::new();
        out.read_line(&mut line).expect("child output");
        let mut secs = line
            .split_whitespace()
            .map(|s| s.parse::<f64>().expect("child prints seconds"));
        secs.next().expect("wall seconds");
        cpu += secs.next().expect("CPU seconds");
    }
    let wall = start.elapsed();
    for mut c in children {
        assert!(c.wait().expect("child exits").success());
    }
    Times {
        wall,
        cpu: Duration::from_secs_f64(cpu),
    }
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
