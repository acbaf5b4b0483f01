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
//!   module of at least `N` bytes, for peaks by module size; `corpus` compiles every
//!   `.wasm` under a directory, default `/work/shared/corpus/contracts`, in place of
//!   `file.wasm`, and prints each one's rate in user time and the aggregate: bytes of
//!   the contracts that compile ÷ their user time, the corpus figure of issue 17);
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

use gasket_benches::corpus::{aggregate, user_time, wasm_files, FileRate};
use gasket_benches::{bench_profile, peak_rss_kib};
use gasket_vm::metering::{prepare, Profile};
use gasket_vm::singlepass::{compile, Target};

/// The corpus `compile_loop corpus` reads by default.
const CORPUS: &str = "/work/shared/corpus/contracts";

fn main() {
    let mut args = std::env::args().skip(1);
    let stage = args.next().unwrap_or_else(|| "all".into());
    let count: Option<u32> = args.next().map(|n| {
        n.parse()
            .unwrap_or_else(|_| usage(&format!("bad count {n}")))
    });
    let iterations = count.unwrap_or(10);
    if stage == "corpus" {
        let dir = args.next().unwrap_or_else(|| CORPUS.into());
        return corpus(std::path::Path::new(&dir), iterations);
    }
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
    let profile = profile_for(&wasm);
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

/// The bench profile with its size limits (module bytes, functions, exports) raised to
/// fit `wasm`, so modules larger than the default limits can be measured.
fn profile_for(wasm: &[u8]) -> Profile {
    let mut profile = bench_profile();
    let limits = &mut profile.limits;
    limits.max_module_bytes = limits.max_module_bytes.max(wasm.len() as u64);
    limits.max_functions = limits.max_functions.max(wasm.len() as u32);
    limits.max_exports = limits.max_exports.max(wasm.len() as u32);
    profile
}

/// `compile_loop corpus`: each `.wasm` under `dir` compiled once (files that fail are
/// listed with their error and left out of the aggregate), then `iterations` times in
/// user time; prints one line per file, the five slowest per MB/s and the aggregate.
fn corpus(dir: &std::path::Path, iterations: u32) {
    let files = wasm_files(dir).unwrap_or_else(|e| usage(&format!("{}: {e}", dir.display())));
    let iterations = iterations.max(1);
    let mut rates = Vec::new();
    for path in files {
        let wasm =
            std::fs::read(&path).unwrap_or_else(|e| usage(&format!("{}: {e}", path.display())));
        let options = gasket_vm::EngineOptions::default();
        let engine = gasket_vm::Engine::with_options(profile_for(&wasm), options)
            .expect("an engine for the host");
        let per_compile = match engine.compile(&wasm) {
            Err(e) => Err(e.to_string()),
            Ok(_) => {
                let start = user_time();
                for _ in 0..iterations {
                    std::hint::black_box(engine.compile(&wasm).expect("compiled once already"));
                }
                Ok((user_time() - start) / iterations)
            }
        };
        let rate = FileRate {
            path: path.strip_prefix(dir).unwrap_or(&path).to_path_buf(),
            bytes: wasm.len(),
            per_compile,
        };
        match &rate.per_compile {
            Ok(time) => println!(
                "{:>9} bytes {:>9.3} ms {:>7.1} MB/s  {}",
                rate.bytes,
                time.as_secs_f64() * 1e3,
                rate.mb_per_s().unwrap_or(0.0),
                rate.path.display()
            ),
            Err(e) => println!(
                "{:>9} bytes does not compile ({e})  {}",
                rate.bytes,
                rate.path.display()
            ),
        }
        rates.push(rate);
    }
    let mut slowest: Vec<&FileRate> = rates.iter().filter(|r| r.mb_per_s().is_some()).collect();
    slowest.sort_by(|a, b| {
        a.mb_per_s()
            .unwrap_or(0.0)
            .total_cmp(&b.mb_per_s().unwrap_or(0.0))
    });
    println!("slowest:");
    for rate in slowest.iter().take(5) {
        println!(
            "  {:>7.1} MB/s  {} ({} bytes)",
            rate.mb_per_s().unwrap_or(0.0),
            rate.path.display(),
            rate.bytes
        );
    }
    let compiled = slowest.len();
    let (bytes, time, mb_s) = aggregate(&rates);
    println!(
        "corpus: {compiled} of {} files compile, {bytes} bytes in {:.3} ms of user time per pass ({iterations} passes): {mb_s:.1} MB/s",
        rates.len(),
        time.as_secs_f64() * 1e3
    );
}

fn usage(problem: &str) -> ! {
    eprintln!("compile_loop: {problem}\nusage: compile_loop [all|prepare|codegen] [iterations] [file.wasm] [threads] | compile_loop module [bytes] | compile_loop corpus [iterations] [dir]");
    std::process::exit(2)
}
