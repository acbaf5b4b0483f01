//! Cross-target determinism: the same modules run on x86-64 natively and on AArch64 under
//! emulation (`gasket_aarch64_tests::backend`), both through the ordinary `gasket_vm`
//! runtime, must give identical results, trap kinds, gas used and final state (a digest of
//! all linear memory, exported globals and table sizes; for contracts also the return
//! data, logs and storage writes), call by call. Every sequence is run again with each
//! call's gas limit at half its need, so out-of-gas stops at the same point with the same
//! partial state on both.
//!
//! Modules: every fixture (`gasket_fixtures::ALL`: contracts, programs, hostile modules,
//! each under both profiles), the hand-written programs of `gasket_fixtures::programs`,
//! the generated JIT bombs at the profile's limits, the real contracts of
//! `../shared/corpus` (when present) and wasm-smith modules
//! (`gasket_fixtures::reference::smith_config`), with and without floats.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};

use arbitrary::Unstructured;
use gasket_aarch64_tests::backend;
use gasket_fixtures::reference::{smith_config, SplitMix};
use gasket_vm::host_api::{CallContext, HostEnv, MemoryStorage};
use gasket_vm::metering::{Limits, Profile};
use gasket_vm::{Engine, ExternType, Imports, Instance, InstantiationError, Module, Value};

/// Gas for calls that have a natural end.
const HUGE: u64 = 1 << 40;
/// Gas for calls that may not end (loops in fixtures, corpus entry points).
const BOUNDED: u64 = 20_000_000;

/// One call's outcome in comparable form.
#[derive(Clone, Debug, PartialEq, Eq)]
struct CallRun {
    export: String,
    /// Results, or the trap kind (and host error kind, if any).
    result: Result<Vec<Value>, String>,
    gas: u64,
    /// Digest of the state after the call.
    state: u64,
    /// Contract calls: return data, logs and storage writes.
    effects: Option<String>,
}

/// A module's whole run on one target.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Outcome {
    /// The engine rejected it (error kind).
    Rejected(String),
    /// Instantiation failed (error, trap kind or message).
    NotInstantiated(String),
    Ran {
        start_gas: u64,
        calls: Vec<CallRun>,
    },
}

/// A call to make: export, arguments, gas limit.
#[derive(Clone, Debug)]
struct Call {
    export: String,
    args: Vec<Value>,
    gas: u64,
}

/// How calls are made.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum Mode {
    /// `Instance::call` with the given arguments.
    Plain,
    /// `Instance::call_contract` (no arguments) with a fresh `HostEnv` over storage that
    /// persists across the sequence.
    Contract,
}

fn state(module: &Module, instance: &Instance) -> u64 {
    let mut h = DefaultHasher::new();
    instance.memory().hash(&mut h);
    for export in module.exports() {
        match export.ty {
            ExternType::Global(_) => {
                export.name.hash(&mut h);
                format!("{:?}", instance.global(&export.name)).hash(&mut h);
            }
            ExternType::Table(_) => {
                export.name.hash(&mut h);
                instance.table_size(&export.name).hash(&mut h);
            }
            _ => {}
        }
    }
    h.finish()
}

fn run(engine: &Engine, wasm: &[u8], calls: &[Call], mode: Mode, start_gas: u64) -> Outcome {
    let module = match engine.compile(wasm) {
        Ok(m) => m,
        Err(e) => return Outcome::Rejected(e.kind().to_string()),
    };
    let mut instance = match Instance::new(&module, &Imports::new(), start_gas) {
        Ok(i) => i,
        Err(InstantiationError::Trap(trap)) => {
            return Outcome::NotInstantiated(format!("trap {:?}", trap.kind))
        }
        Err(e) => return Outcome::NotInstantiated(e.to_string()),
    };
    let mut storage = MemoryStorage::new();
    let mut runs = Vec::new();
    for call in calls {
        let (outcome, effects) = match mode {
            Mode::Plain => (instance.call(&call.export, &call.args, call.gas), None),
            Mode::Contract => {
                let mut env = HostEnv::new(CallContext::default(), &mut storage);
                let outcome = instance.call_contract(&call.export, &mut env, call.gas);
                let effects = format!(
                    "return {:?} logs {:?} writes {:?}",
                    env.return_data(),
                    env.logs(),
                    env.state_changes()
                );
                if matches!(&outcome, Ok(o) if o.result.is_ok()) {
                    env.commit().expect("commit");
                }
                (outcome, Some(effects))
            }
        };
        let outcome = match outcome {
            Ok(o) => o,
            Err(e) => {
                runs.push(CallRun {
                    export: call.export.clone(),
                    result: Err(format!("cannot call: {e}")),
                    gas: 0,
                    state: state(&module, &instance),
                    effects,
                });
                continue;
            }
        };
        runs.push(CallRun {
            export: call.export.clone(),
            result: outcome.result.map_err(|t| {
                format!(
                    "{:?}{}",
                    t.kind,
                    t.host_error
                        .map(|e| format!(" ({})", e.kind()))
                        .unwrap_or_default()
                )
            }),
            gas: outcome.gas_used,
            state: state(&module, &instance),
            effects,
        });
    }
    Outcome::Ran {
        start_gas: instance.start_gas_used(),
        calls: runs,
    }
}

/// Both targets of one profile.
struct Targets {
    x64: Engine,
    a64: Engine,
}

impl Targets {
    fn new(profile: Profile) -> Targets {
        Targets {
            x64: Engine::new(profile.clone()).expect("x86-64 engine"),
            a64: backend::engine(profile),
        }
    }

    /// Runs `calls` on both targets and compares; then again with each call's gas at half
    /// of what it used. Returns the x86-64 outcome.
    fn check(&self, what: &str, wasm: &[u8], calls: &[Call], mode: Mode) -> Outcome {
        let x64 = run(&self.x64, wasm, calls, mode, HUGE);
        let a64 = run(&self.a64, wasm, calls, mode, HUGE);
        if x64 != a64 {
            panic!(
                "{what}: x86-64 and AArch64 differ\nx86-64:  {x64:?}\nAArch64: {a64:?}\n{}",
                wasmprinter::print_bytes(wasm).unwrap_or_default()
            );
        }
        if let Outcome::Ran { calls: runs, .. } = &x64 {
            let halved: Vec<Call> = calls
                .iter()
                .zip(runs)
                .map(|(c, r)| Call {
                    gas: (r.gas / 2).max(1),
                    ..c.clone()
                })
                .collect();
            let x = run(&self.x64, wasm, &halved, mode, HUGE);
            let a = run(&self.a64, wasm, &halved, mode, HUGE);
            assert_eq!(x, a, "{what}: with half the gas, x86-64 and AArch64 differ");
        }
        x64
    }
}

/// A few argument vectors for a signature of integers and references.
fn arg_sets(module: &Module, export: &str) -> Vec<Vec<Value>> {
    let Some(sig) = module.export_signature(export) else {
        return vec![];
    };
    [0i64, 7, -1, 300]
        .iter()
        .map(|&n| {
            sig.params
                .iter()
                .map(|t| match t {
                    gasket_vm::ValType::I32 => Value::I32(n as i32),
                    gasket_vm::ValType::I64 => Value::I64(n.wrapping_mul(0x1_0000_0001)),
                    gasket_vm::ValType::F32 => Value::F32(n as u32),
                    gasket_vm::ValType::F64 => Value::F64(n as u64),
                    gasket_vm::ValType::FuncRef => Value::FuncRef(None),
                    gasket_vm::ValType::ExternRef => Value::ExternRef(None),
                })
                .collect()
        })
        .collect()
}

/// Every exported function, with a few argument vectors each (compiled natively to read
/// the signatures; modules the engine rejects get no calls).
fn generic_calls(engine: &Engine, wasm: &[u8], gas: u64) -> Vec<Call> {
    let Ok(module) = engine.compile(wasm) else {
        return vec![];
    };
    let mut calls = Vec::new();
    for export in module.exports() {
        if let ExternType::Func(sig) = &export.ty {
            let sets = if sig.params.is_empty() {
                vec![vec![]]
            } else {
                arg_sets(&module, &export.name)
            };
            for args in sets {
                calls.push(Call {
                    export: export.name.clone(),
                    args,
                    gas,
                });
            }
        }
    }
    calls
}

fn ran(outcome: &Outcome) -> usize {
    match outcome {
        Outcome::Ran { calls, .. } => calls.len(),
        _ => 0,
    }
}

#[test]
fn fixtures_programs_and_hostile_modules_agree_across_targets() {
    let permissive = Targets::new(Profile::permissive());
    let contract = Targets::new(Profile::contract());
    let mut calls_made = 0;
    for fixture in gasket_fixtures::ALL {
        let wasm = fixture.wasm();
        // Permissive profile: every exported function with generic arguments.
        let calls = generic_calls(&permissive.x64, &wasm, BOUNDED);
        let out = permissive.check(fixture.name, &wasm, &calls, Mode::Plain);
        calls_made += ran(&out);
        // Contract profile: zero-parameter exports as contract calls, in sequence.
        let calls: Vec<Call> = generic_calls(&contract.x64, &wasm, BOUNDED)
            .into_iter()
            .filter(|c| c.args.is_empty())
            .flat_map(|c| [c.clone(), c])
            .collect();
        let out = contract.check(fixture.name, &wasm, &calls, Mode::Contract);
        calls_made += ran(&out);
    }
    // The workloads with the sizes the differential tests use.
    for (name, n) in [
        ("fib", 15),
        ("mix64", 1000),
        ("sieve", 2000),
        ("matmul", 8),
        ("nbody", 20),
        ("mandelbrot", 6),
    ] {
        let call = Call {
            export: "run".into(),
            args: vec![Value::I32(n)],
            gas: HUGE,
        };
        let out = permissive.check(name, &gasket_fixtures::wasm(name), &[call], Mode::Plain);
        calls_made += ran(&out);
    }
    for program in gasket_fixtures::programs::programs() {
        let wasm = wat::parse_str(program.wat).expect("valid WAT");
        let calls: Vec<Call> = program
            .calls
            .iter()
            .map(|(export, args)| Call {
                export: export.to_string(),
                args: args.iter().map(|&a| Value::I32(a)).collect(),
                gas: HUGE,
            })
            .collect();
        let out = permissive.check(program.name, &wasm, &calls, Mode::Plain);
        assert!(ran(&out) > 0, "{}: {out:?}", program.name);
        calls_made += ran(&out);
    }
    eprintln!("fixtures and programs: {calls_made} calls agree");
    assert!(calls_made >= 150, "{calls_made}");
}

#[test]
fn hostile_modules_agree_across_targets() {
    use gasket_fixtures::generate::{big_br_table, deep_nesting, many_locals, straight_line};
    let profile = Profile::permissive();
    let limits = profile.limits.clone();
    let targets = Targets::new(profile);
    let bombs: [(&str, Vec<u8>); 7] = [
        ("deep_nesting", deep_nesting(limits.max_nesting_depth - 2)),
        ("big_br_table", big_br_table(limits.max_br_table_targets)),
        ("many_locals", many_locals(limits.max_locals - 1)),
        ("straight_line", straight_line(100_000)),
        ("deep_nesting+1", deep_nesting(limits.max_nesting_depth + 1)),
        (
            "big_br_table+1",
            big_br_table(limits.max_br_table_targets + 1),
        ),
        ("many_locals+1", many_locals(limits.max_locals + 1)),
    ];
    for (name, wasm) in bombs {
        let calls = generic_calls(&targets.x64, &wasm, HUGE);
        targets.check(name, &wasm, &calls, Mode::Plain);
    }
    // Every access width at the memory edge, and memory/table growth at their maxima.
    let mut funcs = String::new();
    for (i, op) in [
        "i32.load",
        "i64.load",
        "i32.load8_s",
        "i32.load16_u",
        "i64.load32_s",
    ]
    .iter()
    .enumerate()
    {
        funcs.push_str(&format!(
            "(func (export \"l{i}\") (param i32) (result i64) ({op} offset=7 (local.get 0)) {})\n",
            if op.starts_with("i32") {
                "i64.extend_i32_u"
            } else {
                ""
            }
        ));
    }
    for (i, (op, ty)) in [
        ("i32.store", "i32"),
        ("i64.store", "i64"),
        ("i64.store16", "i64"),
    ]
    .iter()
    .enumerate()
    {
        funcs.push_str(&format!(
            "(func (export \"s{i}\") (param i32) ({op} offset=7 (local.get 0) ({ty}.const -1)))\n"
        ));
    }
    let wat = format!(
        "(module (memory (export \"m\") 1 2) (table (export \"t\") 1 3 funcref)
           (func (export \"grow\") (param i32) (result i32) (memory.grow (local.get 0)))
           (func (export \"tgrow\") (param i32) (result i32) (table.grow (ref.null func) (local.get 0)))
           {funcs})"
    );
    let wasm = wat::parse_str(&wat).unwrap();
    let mut calls = Vec::new();
    let mut push = |export: &str, arg: i32| {
        calls.push(Call {
            export: export.into(),
            args: vec![Value::I32(arg)],
            gas: HUGE,
        })
    };
    for round in 0..2 {
        let size = 65_536 * (round + 1);
        for i in 0..5 {
            for back in [4, 8, 9, 12] {
                push(&format!("l{i}"), size - 7 - back);
            }
        }
        for i in 0..3 {
            for back in [1, 2, 4, 8] {
                push(&format!("s{i}"), size - 7 - back);
            }
        }
        push("grow", 1);
        push("tgrow", 2);
    }
    push("grow", 1);
    push("tgrow", 1);
    let out = targets.check("memory edge", &wasm, &calls, Mode::Plain);
    assert!(ran(&out) > 60);
}

/// Real contracts (`../shared/corpus`): the same accept/reject decision on both targets,
/// and for accepted ones every zero-parameter export called as a contract, in sequence.
/// Skipped, with a message, without the corpus.
#[test]
fn corpus_contracts_agree_across_targets() {
    let corpus = gasket_fixtures::corpus_contracts();
    if corpus.is_empty() {
        eprintln!("SKIPPED: no ../shared/corpus/contracts");
        return;
    }
    let contract = Targets::new(Profile::contract());
    let permissive = Targets::new(Profile::permissive());
    let (mut accepted, mut calls_made) = (0, 0);
    for (path, wasm) in &corpus {
        let what = path.display().to_string();
        let calls: Vec<Call> = generic_calls(&contract.x64, wasm, BOUNDED)
            .into_iter()
            .filter(|c| c.args.is_empty())
            .collect();
        let out = contract.check(&what, wasm, &calls, Mode::Contract);
        calls_made += ran(&out);
        accepted += usize::from(!matches!(out, Outcome::Rejected(_)));
        // Permissive: compile and instantiate only (entry points need host imports).
        permissive.check(&what, wasm, &[], Mode::Plain);
    }
    eprintln!(
        "corpus: {} contracts, {accepted} accepted by the contract profile, {calls_made} calls agree",
        corpus.len()
    );
}

/// The differential tests' profile: permissive with the reference's store limits.
fn smith_profile() -> Profile {
    let mut profile = Profile::permissive();
    profile.limits = Limits {
        max_memory_pages: 256,
        max_table_size: 10_000,
        ..profile.limits
    };
    profile
}

/// wasm-smith seeds: 2000 by default (the "a few thousand generated modules"; about
/// a minute on 2 cores); `GASKET_A64_SEEDS=300` for a quick run, more for a longer one.
fn seeds() -> u64 {
    std::env::var("GASKET_A64_SEEDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(2000)
}

#[test]
fn generated_modules_agree_across_targets() {
    let targets = Targets::new(smith_profile());
    let seeds = seeds();
    let (mut modules, mut calls_made, mut trapped) = (0, 0, 0);
    for seed in 0..seeds {
        // Seeds disjoint from the differential tests' (`seed * 0x9E3779B9 ^ 0x5EED0F6A5E`).
        let mut rng = SplitMix(seed.wrapping_mul(0x2545_F491_4F6C_DD1D) ^ 0xA64);
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
        let calls: Vec<Call> = generic_calls(&targets.x64, &wasm, HUGE)
            .into_iter()
            .filter(|c| {
                // Zero arguments only, like the differential tests.
                c.args.iter().all(|a| {
                    matches!(
                        a,
                        Value::I32(0)
                            | Value::I64(0)
                            | Value::FuncRef(None)
                            | Value::ExternRef(None)
                    )
                })
            })
            .collect();
        let out = targets.check(
            &format!("wasm-smith seed {seed}"),
            &wasm,
            &calls,
            Mode::Plain,
        );
        if let Outcome::Ran { calls, .. } = &out {
            modules += 1;
            calls_made += calls.len();
            trapped += calls.iter().filter(|c| c.result.is_err()).count();
        }
    }
    eprintln!("wasm-smith: {modules} modules ran, {calls_made} calls ({trapped} trapped) agree");
    assert!(modules as u64 >= seeds / 2, "too few modules: {modules}");
    assert!(
        calls_made >= 300 && trapped >= 20,
        "{calls_made} calls, {trapped} trapped"
    );
}

/// Float arguments that sit on the edges where the two ISAs could differ: zeros of both
/// signs, infinities, subnormals, truncation bounds, and NaNs of both signs with payloads
/// (quiet and signalling), as bit patterns.
const F32_ARGS: [u32; 10] = [
    0x0000_0000,
    0x8000_0000,
    0x3fc0_0000, // 1.5
    0xff80_0000, // -inf
    0x0000_0001, // the smallest subnormal
    0x4f00_0000, // 2^31
    0x7fc0_0000, // the canonical NaN
    0xffc0_0001, // a negative quiet NaN with a payload
    0x7fa0_0000, // a signalling NaN
    0xcf00_0001, // just below -2^31
];
const F64_ARGS: [u64; 10] = [
    0x0000_0000_0000_0000,
    0x8000_0000_0000_0000,
    0x3ff8_0000_0000_0000, // 1.5
    0x7ff0_0000_0000_0000, // inf
    0x0000_0000_0000_0001, // the smallest subnormal
    0x43e0_0000_0000_0000, // 2^63
    0x7ff8_0000_0000_0000, // the canonical NaN
    0xfff8_0000_0000_0001, // a negative quiet NaN with a payload
    0x7ff4_0000_0000_0000, // a signalling NaN
    0xc1e0_0000_0020_0000, // just below -2^31
];

/// Arguments for `sig` drawn by `rng`: floats from the edge tables (a NaN half of the
/// time, since NaNs are where the ISAs differ), integers small or raw.
fn float_args(sig: &gasket_vm::FuncSig, rng: &mut SplitMix) -> Vec<Value> {
    sig.params
        .iter()
        .map(|t| {
            let r = rng.next_u64();
            match t {
                gasket_vm::ValType::I32 => Value::I32((r % 5) as i32 - 2),
                gasket_vm::ValType::I64 => Value::I64(r as i64 >> (r % 64)),
                gasket_vm::ValType::F32 => Value::F32(F32_ARGS[edge_index(r)]),
                gasket_vm::ValType::F64 => Value::F64(F64_ARGS[edge_index(r)]),
                gasket_vm::ValType::FuncRef => Value::FuncRef(None),
                gasket_vm::ValType::ExternRef => Value::ExternRef(None),
            }
        })
        .collect()
}

/// An index into the edge tables: one of their three NaNs (indices 6..9) half of the time.
fn edge_index(r: u64) -> usize {
    if r & 1 == 0 {
        6 + (r >> 1) as usize % 3
    } else {
        (r >> 1) as usize % 10
    }
}

/// wasm-smith seeds with floats (every float operator of wasm 2.0, saturating truncations
/// included): results, traps, gas and memory bit for bit on both targets. NaNs reach
/// memory, globals and integer results through stores and reinterpretations, so this
/// checks canonicalization wherever NaN bits become observable. `GASKET_A64_SEEDS` scales
/// it too (a quarter of that many seeds).
#[test]
fn generated_float_modules_agree_bit_for_bit() {
    let targets = Targets::new(smith_profile());
    let seeds = seeds() / 4;
    let (mut modules, mut calls_made, mut float_results, mut nan_results) = (0, 0, 0, 0);
    for seed in 0..seeds {
        let mut rng = SplitMix(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0xF10A7);
        let len = 4096 + (rng.next_u64() % 12288) as usize;
        let data = rng.bytes(len);
        let mut u = Unstructured::new(&data);
        let config = wasm_smith::Config {
            allow_floats: true,
            saturating_float_to_int_enabled: true,
            ..smith_config(seed % 2 == 1)
        };
        let Ok(mut smith) = wasm_smith::Module::new(config, &mut u) else {
            continue;
        };
        if smith.ensure_termination(200).is_err() {
            continue;
        }
        let wasm = smith.to_bytes();
        let Ok(module) = targets.x64.compile(&wasm) else {
            continue;
        };
        let mut calls = Vec::new();
        for export in module.exports() {
            if let ExternType::Func(sig) = &export.ty {
                for _ in 0..4 {
                    calls.push(Call {
                        export: export.name.clone(),
                        args: float_args(sig, &mut rng),
                        gas: HUGE,
                    });
                }
            }
        }
        let out = targets.check(
            &format!("float wasm-smith seed {seed}"),
            &wasm,
            &calls,
            Mode::Plain,
        );
        if let Outcome::Ran { calls, .. } = &out {
            modules += 1;
            calls_made += calls.len();
            for value in calls
                .iter()
                .filter_map(|c| c.result.as_ref().ok())
                .flatten()
            {
                let nan = match *value {
                    Value::F32(bits) => f32::from_bits(bits).is_nan(),
                    Value::F64(bits) => f64::from_bits(bits).is_nan(),
                    _ => continue,
                };
                float_results += 1;
                nan_results += usize::from(nan);
            }
        }
    }
    eprintln!(
        "float wasm-smith: {modules} modules ran, {calls_made} calls ({float_results} float results, {nan_results} NaN) agree"
    );
    assert!(modules as u64 >= seeds / 2, "too few modules: {modules}");
    assert!(
        float_results >= 100 && nan_results >= 20,
        "only {float_results} float results, {nan_results} NaN"
    );
}
