//! A loop over one module's compile, for profilers (`perf record`, `valgrind
//! --tool=callgrind`): no criterion, no peers, nothing else in the profile.
//!
//! `cargo run --release -p gasket-benches --bin compile_loop -- [stage] [iterations] [file.wasm]`
//!
//! - `stage`: `all` (default: `Engine::compile`, bytes → ready `Module`), `prepare`
//!   (`gasket_metering::prepare` alone) or `codegen` (`gasket_singlepass` on the
//!   instrumented module, validating as `compile` does);
//!   (`module` writes the input module to stdout instead, e.g. to measure a compile's
//!   peak in a process that never ran the generator; `module N` writes a generated
//!   module of at least `N` bytes, for peaks by module size);
//! - `iterations`: default 10;
//! - `file.wasm`: default the generated 2 MiB module of the compile bench;
//! - `threads`: `EngineOptions::compile_threads` of the `all` stage, default 1.
//!
//! Prints the stage, the module size and the output size once, so the loop cannot be
//! optimised away and two runs can be compared, and the growth of the peak resident set
//! (VmHWM) over the loop: which stage sets a compile's memory peak. The growth is measured
//! above the process's baseline: `all` first compiles an empty module with the same
//! engine, so the engine, its pool and lazily made statics are not counted. The profile's
//! size limits (module bytes, functions, exports) are raised to fit the input, so modules
//! larger than the default limits (the generated 4 MB one) can be measured. Not a timing
//! tool: use the criterion benches for times and callgrind's instruction counts for
//! before/after ratios.

use gasket_benches::{bench_profile, peak_rss_kib};
use gasket_vm::metering::prepare;
use gasket_vm::singlepass::{compile, Target};

fn main() {
    let mut args = std::env::args().skip(1);
    let stage = args.next().unwrap_or_else(|| "all".into());
    let count: Option<u32> = args.next().map(|n| {
        n.parse()
            .unwrap_or_else(|_| usage(&format!("bad count {n}")))
    });
    let iterations = count.unwrap_or(10);
    let wasm = match args.next() {
        Some(path) => std::fs::read(&path).unwrap_or_else(|e| usage(&format!("{path}: {e}"))),
        None => gasket_fixtures::generate::large_module(2 * 1024 * 1024),
    };
    let compile_threads: usize = match args.next() {
        Some(n) => n
            .parse()
            .unwrap_or_else(|_| usage(&format!("bad thread count {n}"))),
        None => 1,
    };
    let mut profile = bench_profile();
    let limits = &mut profile.limits;
    limits.max_module_bytes = limits.max_module_bytes.max(wasm.len() as u64);
    limits.max_functions = limits.max_functions.max(wasm.len() as u32);
    limits.max_exports = limits.max_exports.max(wasm.len() as u32);
    if stage == "module" {
        // The second argument is the generated module's size here.
        let wasm = match count {
            Some(bytes) => gasket_fixtures::generate::large_module(bytes as usize),
            None => wasm,
        };
        use std::io::Write;
        std::io::stdout()
            .write_all(&wasm)
            .unwrap_or_else(|e| usage(&format!("stdout: {e}")));
        return;
    }
    let mut output = 0usize;
    let options = gasket_vm::EngineOptions {
        compile_threads,
        ..Default::default()
    };
    let engine =
        gasket_vm::Engine::with_options(profile.clone(), options).expect("an engine for the host");
    if stage == "all" {
        // The baseline: a trivial module's compile.
        engine
            .compile(b"\0asm\x01\0\0\0")
            .expect("the empty module compiles");
    }
    let before = peak_rss_kib().unwrap_or(0);
    match stage.as_str() {
        "all" => {
            for _ in 0..iterations {
                let module = engine.compile(&wasm).expect("the module compiles");
                output = module.code().len();
            }
        }
        "prepare" => {
            for _ in 0..iterations {
                output = prepare(&wasm, &profile).expect("prepares").wasm.len();
            }
        }
        "codegen" => {
            let prepared = prepare(&wasm, &profile).expect("prepares");
            let target = Target::host().expect("a supported host");
            for _ in 0..iterations {
                output = compile(&prepared.wasm, target)
                    .expect("compiles")
                    .code
                    .len();
            }
        }
        other => usage(&format!("unknown stage {other}")),
    }
    let growth = peak_rss_kib().unwrap_or(0).saturating_sub(before);
    println!(
        "stage {stage}: {iterations} x {} bytes in, {output} bytes out, VmHWM +{growth} KiB",
        wasm.len()
    );
}

fn usage(problem: &str) -> ! {
    eprintln!("compile_loop: {problem}\nusage: compile_loop [all|prepare|codegen] [iterations] [file.wasm] [threads] | compile_loop module [bytes]");
    std::process::exit(2)
}
