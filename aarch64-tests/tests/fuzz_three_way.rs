//! The `differential` fuzz target three ways: every input runs on x86-64 natively, on
//! AArch64 under emulation and in wasmi (`gasket_fuzz::differential::differential_with`):
//! x86-64 is compared with wasmi, AArch64 with x86-64, call by call and at every gas limit
//! the target tries (results, trap kinds, gas used, final memory and globals).
//!
//! Inputs: a seeded stream (`GASKET_FUZZ_SEED`, printed) for `GASKET_FUZZ_ITERATIONS`
//! iterations (default 150, about 10 s) or `GASKET_FUZZ_SECONDS`; then the checked-in regression
//! corpus of the target (`fuzz/corpus/regressions/differential/`, binary modules and
//! fuzzer inputs alike, the reference-disagreement reproducers included).

use std::path::PathBuf;
use std::time::{Duration, Instant};

use gasket_fixtures::programs::programs;
use gasket_fixtures::reference::{on_big_stack, SplitMix, V};
use gasket_fuzz::differential::{differential_with, native_engine, profile, Stats, Subject, HUGE};
use gasket_vm::Engine;

fn env_u64(name: &str) -> Option<u64> {
    std::env::var(name).ok().and_then(|v| v.trim().parse().ok())
}

fn engines(a64: &Engine) -> [(&'static str, &Engine); 2] {
    [("x86-64", native_engine()), ("aarch64 (emulated)", a64)]
}

#[test]
fn differential_three_way_over_seeded_inputs() {
    let a64 = gasket_aarch64_tests::backend::engine(profile());
    let seed = env_u64("GASKET_FUZZ_SEED").unwrap_or(0xA64_D1FF);
    let budget = env_u64("GASKET_FUZZ_SECONDS").map(Duration::from_secs);
    let iterations =
        env_u64("GASKET_FUZZ_ITERATIONS").unwrap_or(if budget.is_some() { u64::MAX } else { 150 });
    let mut rng = SplitMix(seed);
    let started = Instant::now();
    let (mut done, mut total) = (0, Stats::default());
    while done < iterations && budget.is_none_or(|b| started.elapsed() < b) {
        let len = 4096 + (rng.next_u64() % 12288) as usize;
        let data = rng.bytes(len);
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            differential_with(&engines(&a64), &data)
        }));
        match result {
            Ok(stats) => total.add(&stats),
            Err(_) => panic!(
                "three-way differential failed at iteration {done} (GASKET_FUZZ_SEED={seed}); \
                 input ({} bytes): {}",
                data.len(),
                data.iter().map(|b| format!("{b:02x}")).collect::<String>()
            ),
        }
        done += 1;
    }
    println!(
        "three-way differential: seed {seed}, {done} iterations, {:.1} s, {total:?} \
         (replay: GASKET_FUZZ_SEED={seed} GASKET_FUZZ_ITERATIONS={done} \
         cargo test -p gasket-aarch64-tests --features emu --test fuzz_three_way)",
        started.elapsed().as_secs_f64()
    );
    if done >= 20 {
        assert!(total.modules as u64 >= done / 2, "{total:?}");
        assert!(total.returned > 0 && total.trapped > 0, "{total:?}");
    }
}

/// The memory-size surcharge's compiled block charge (`ScaledCharge` in singlepass) three
/// ways: the hand-written surcharge programs under the differential profile's low tiers,
/// each call at its need, one below it (out of gas exactly on its last block, which is
/// surcharged), half of it, 1 and 0, results, gas and final state compared.
#[test]
fn surcharged_block_charges_three_way() {
    on_big_stack(|| {
        let a64 = gasket_aarch64_tests::backend::engine(profile());
        let mut stats = Stats::default();
        let mut calls = 0;
        let surcharged = programs()
            .into_iter()
            .filter(|p| p.name.starts_with("memory_access_surcharge"));
        for program in surcharged {
            let wasm = wat::parse_str(program.wat).expect("valid WAT");
            let subject = Subject::load(&engines(&a64), &wasm).expect("within the profile");
            for (export, args) in &program.calls {
                let args: Vec<V> = args.iter().map(|&a| V::I32(a)).collect();
                subject.compare(export, &args, HUGE, &[], &mut stats, program.name);
                calls += 1;
            }
        }
        assert!(calls >= 30, "both surcharge programs ran ({calls} calls)");
        assert_eq!(stats.returned + stats.trapped, calls, "{stats:?}");
        assert!(stats.limit_runs >= 3 * calls, "{stats:?}");
    });
}

#[test]
fn differential_regressions_three_way() {
    let a64 = gasket_aarch64_tests::backend::engine(profile());
    let dir =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus/regressions/differential");
    let mut files: Vec<PathBuf> = walk(&dir);
    files.sort();
    let mut disagreements = 0;
    for file in &files {
        let bytes = std::fs::read(file).unwrap();
        let data = if file.extension().is_some_and(|e| e == "wat") {
            wat::parse_bytes(&bytes).unwrap().into_owned()
        } else {
            bytes
        };
        let stats = differential_with(&engines(&a64), &data);
        disagreements += stats.reference_disagreements;
    }
    println!("{} regression inputs agree three ways", files.len());
    assert!(
        disagreements > 0,
        "the wasmi select reproducer is triaged on both targets"
    );
}

fn walk(dir: &std::path::Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else if !entry.file_name().to_string_lossy().starts_with('.') {
            out.push(path);
        }
    }
    out
}
