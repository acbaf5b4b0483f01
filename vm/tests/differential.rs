//! Differential tests of compiled code against the wasmi reference interpreter.
//!
//! The same module runs in Gasket (`Engine::compile` → `Instance::call`, x86-64 code) and
//! in wasmi (the module `gasket_metering::prepare` produces, with the gas and stack
//! intrinsics as host functions: `gasket_fixtures::reference`). Both runs must give the
//! same results or the same trap kind, exactly the same gas used, and the same exported
//! memory and globals afterwards. Every returning run is replayed with limits below its
//! need (out of gas, `gas_used == limit`) and at its need (same results).
//!
//! Programs: the hand-written set of `gasket_fixtures::programs` and wasm-smith modules
//! (the deterministic profile's configuration, traps allowed in half of them). A failing
//! seed is printed with the module's text.
//!
//! The comparison itself (`Subject::compare`, the wasmi `select` triage) lives in
//! `gasket_fuzz::differential`, shared with the `differential` fuzz target; each call is
//! also replayed at limits around its need in wasmi, so out-of-gas states are compared.

use arbitrary::Unstructured;
use gasket_fixtures::programs::programs;
use gasket_fixtures::reference::{on_big_stack, smith_config, SplitMix, V};
use gasket_fuzz::differential::{native_engine, profile, Stats, Subject, HUGE};
use gasket_vm::metering::prepare;
use gasket_vm::{Engine, Imports, Instance, Value};

/// Loads a module the profile must accept into wasmi and the native engine.
fn load(wasm: &[u8]) -> Subject {
    Subject::load(&[("native", native_engine())], wasm).expect("within the profile")
}

#[test]
fn hand_written_programs_match_wasmi() {
    on_big_stack(|| {
        let mut stats = Stats::default();
        for program in programs() {
            let wasm = wat::parse_str(program.wat).expect("valid WAT");
            let subject = load(&wasm);
            for (export, args) in &program.calls {
                let args: Vec<V> = args.iter().map(|&a| V::I32(a)).collect();
                subject.compare(export, &args, HUGE, &[], &mut stats, program.name);
            }
        }
        // The benchmark workloads, at small sizes.
        for (name, n) in [
            ("fib", 15),
            ("mix64", 1000),
            ("sieve", 2000),
            ("matmul", 8),
            ("sha256buf", 300),
            ("quicksort", 300),
            ("keccak", 2),
            ("brtable", 2000),
        ] {
            let subject = load(&gasket_fixtures::wasm(name));
            subject.compare("run", &[V::I32(n)], HUGE, &[], &mut stats, name);
        }
        eprintln!("hand-written: {stats:?}");
        assert!(stats.returned >= 60 && stats.trapped >= 15, "{stats:?}");
    })
}

/// wasm-smith seeds per run; `GASKET_DIFF_SEEDS=<n>` runs a longer campaign (and
/// `GASKET_DIFF_FIRST_SEED=<s>` starts elsewhere), e.g. in release mode:
/// `GASKET_DIFF_SEEDS=20000 cargo test --release -p gasket-vm --test differential generated`.
const SEEDS: u64 = 300;

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[test]
fn generated_programs_match_wasmi() {
    on_big_stack(|| {
        let mut stats = Stats::default();
        let mut modules = 0;
        let seeds = env_u64("GASKET_DIFF_SEEDS", SEEDS);
        let first = env_u64("GASKET_DIFF_FIRST_SEED", 0);
        for seed in first..first + seeds {
            let mut rng = SplitMix(seed.wrapping_mul(0x9E37_79B9) ^ 0x005E_ED0F_6A5E);
            let len = 4096 + (rng.next_u64() % 12288) as usize;
            let data = rng.bytes(len);
            let mut u = Unstructured::new(&data);
            let Ok(mut smith) = wasm_smith::Module::new(smith_config(seed % 2 == 1), &mut u) else {
                continue;
            };
            if smith.ensure_termination(200).is_err() {
                continue;
            }
            let wasm = smith.to_bytes();
            if prepare(&wasm, &profile()).is_err() {
                continue;
            }
            modules += 1;
            let subject = load(&wasm);
            for (export, args) in subject.exports() {
                let what = format!("wasm-smith seed {seed}");
                let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    subject.compare(&export, &args, HUGE, &[], &mut stats, &what)
                }));
                if let Err(panic) = result {
                    eprintln!(
                        "FAILED {what}; module:\n{}",
                        wasmprinter::print_bytes(&wasm).unwrap_or_default()
                    );
                    std::panic::resume_unwind(panic);
                }
            }
        }
        eprintln!("generated: {modules} modules, {stats:?}");
        let calls = stats.returned + stats.trapped + stats.reference_disagreements;
        assert!(
            stats.reference_disagreements * 100 <= calls,
            "too many disagreements blamed on wasmi: {stats:?}"
        );
        assert!(modules as u64 >= seeds / 2, "too few modules: {modules}");
        assert!(stats.returned >= 100 && stats.trapped >= 20, "{stats:?}");
    })
}

/// Canary for the reference's miscompilation that
/// `gasket_fuzz::differential::has_wasmi_select_pattern` triages (its module is also in
/// `fuzz/corpus/regressions/differential/reference-disagreement/`): wasmi 2.0.0
/// evaluates this `select` (condition `i32.eqz` of a local just set, a value beneath on
/// the operand stack, inside a block with a parameter) to the wrong operand and divides by
/// zero; the right answer is 27 / 1. When a wasmi upgrade fixes it, this test fails:
/// then drop the triage.
#[test]
fn wasmi_select_miscompile() {
    let wasm = wat::parse_str(
        r#"(module
          (type (func (param i32) (result i32)))
          (func (export "f") (param i32) (result i32) (local i32)
            i32.const -134217728
            local.set 0
            local.get 0
            i32.ctz
            block (type 0)
              i64.const -8
              i64.const 5850736623180341808
              i64.eq
              local.set 1
              i32.const 1
              local.get 1
              local.get 1
              i32.eqz
              select
              i32.div_u
            end))"#,
    )
    .expect("valid WAT");
    let engine = wasmi::Engine::default();
    let module = wasmi::Module::new(&engine, &wasm[..]).expect("wasmi loads it");
    let mut store = wasmi::Store::new(&engine, ());
    let instance = wasmi::Linker::new(&engine)
        .instantiate_and_start(&mut store, &module)
        .expect("instantiates");
    let f = instance.get_func(&store, "f").expect("export");
    let mut out = [wasmi::Val::I32(0)];
    let wasmi_result = f.call(&mut store, &[wasmi::Val::I32(0)], &mut out);
    assert!(
        wasmi_result.is_err(),
        "wasmi no longer miscompiles this: remove the triage"
    );

    let gasket = Engine::new(profile()).expect("engine");
    let module = gasket.compile(&wasm).expect("compiles");
    let mut instance = Instance::new(&module, &Imports::new(), 0).expect("instantiates");
    let outcome = instance.call("f", &[Value::I32(0)], 1_000).expect("call");
    assert_eq!(outcome.result.expect("returns"), vec![Value::I32(27)]);
}
