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

use arbitrary::Unstructured;
use gasket_fixtures::programs::programs;
use gasket_fixtures::reference::{
    digest, on_big_stack, smith_config, PreparedRunner, SplitMix, StateItem, Trap as RefTrap, V,
};
use gasket_vm::metering::{prepare, Limits, Profile};
use gasket_vm::{
    Engine, ExternType, Imports, Instance, InstantiationError, Module, TrapKind, Value,
};
use wasmi::TrapCode;

/// The permissive profile with the reference's store limits (16 MiB of memory, 10 000
/// table elements), so growth fails at the same point in both engines.
fn profile() -> Profile {
    let mut profile = Profile::permissive();
    profile.limits = Limits {
        max_memory_pages: 256,
        max_table_size: 10_000,
        ..profile.limits
    };
    profile
}

const HUGE: u64 = 1 << 40;

/// One run in either engine, in comparable form.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Run {
    result: Result<Vec<V>, TrapKind>,
    gas: u64,
    /// Digest of exported memories, globals and table sizes; `None` when instantiation
    /// failed.
    state: Option<u64>,
}

fn trap_kind(trap: &RefTrap) -> Option<TrapKind> {
    Some(match trap {
        RefTrap::OutOfGas => TrapKind::OutOfGas,
        RefTrap::StackOverflow => TrapKind::StackOverflow,
        RefTrap::Wasm(code) => match code {
            TrapCode::UnreachableCodeReached => TrapKind::Unreachable,
            TrapCode::MemoryOutOfBounds => TrapKind::MemoryOutOfBounds,
            TrapCode::TableOutOfBounds => TrapKind::TableOutOfBounds,
            TrapCode::IndirectCallToNull => TrapKind::IndirectCallToNull,
            TrapCode::IntegerDivisionByZero => TrapKind::IntegerDivideByZero,
            TrapCode::IntegerOverflow => TrapKind::IntegerOverflow,
            TrapCode::BadSignature => TrapKind::IndirectCallTypeMismatch,
            _ => return None,
        },
        _ => return None,
    })
}

fn value(v: &Value) -> V {
    match v {
        Value::I32(x) => V::I32(*x),
        Value::I64(x) => V::I64(*x),
        Value::FuncRef(r) => V::FuncRef { null: r.is_none() },
        Value::ExternRef(r) => V::ExternRef { null: r.is_none() },
        Value::F32(bits) => V::F32(*bits),
        Value::F64(bits) => V::F64(*bits),
    }
}

fn wasmi_value(v: &V) -> wasmi::Val {
    match v {
        V::I32(x) => wasmi::Val::I32(*x),
        V::I64(x) => wasmi::Val::I64(*x),
        V::FuncRef { null: true } => wasmi::Val::default_for_ty(wasmi::ValType::FuncRef),
        V::ExternRef { null: true } => wasmi::Val::default_for_ty(wasmi::ValType::ExternRef),
        _ => panic!("only integers and null references are generated as arguments"),
    }
}

/// The same digest `gasket_fixtures::reference::state_digest` computes for wasmi.
fn gasket_state(module: &Module, instance: &Instance) -> u64 {
    let mut items = Vec::new();
    for export in module.exports() {
        let item = match export.ty {
            ExternType::Memory(_) => StateItem::Memory(instance.memory().to_vec()),
            ExternType::Global(_) => {
                StateItem::Global(value(&instance.global(&export.name).expect("exported")))
            }
            ExternType::Table(_) => {
                StateItem::Table(instance.table_size(&export.name).expect("exported").into())
            }
            ExternType::Func(_) => continue,
        };
        items.push((export.name.clone(), item));
    }
    digest(items)
}

/// Instantiates (the start function, if any, runs within `limit` too, as in the
/// reference) and calls `export`.
fn run_gasket(module: &Module, export: &str, args: &[V], limit: u64) -> Run {
    let args: Vec<Value> = args
        .iter()
        .map(|v| match v {
            V::I32(x) => Value::I32(*x),
            V::I64(x) => Value::I64(*x),
            V::FuncRef { null: true } => Value::FuncRef(None),
            V::ExternRef { null: true } => Value::ExternRef(None),
            _ => unreachable!("only integers and null references are generated"),
        })
        .collect();
    let mut instance = match Instance::new(module, &Imports::new(), limit) {
        Ok(instance) => instance,
        Err(InstantiationError::Trap(trap)) if trap.kind == TrapKind::OutOfGas => {
            return Run {
                result: Err(TrapKind::OutOfGas),
                gas: limit,
                state: None,
            }
        }
        // A segment that does not fit: no instance, no gas.
        Err(InstantiationError::Trap(trap)) => {
            return Run {
                result: Err(trap.kind),
                gas: 0,
                state: None,
            }
        }
        Err(e) => panic!("instantiation failed: {e}"),
    };
    let start = instance.start_gas_used();
    let outcome = instance
        .call(export, &args, limit - start)
        .expect("a valid call");
    Run {
        result: outcome
            .result
            .map(|values| values.iter().map(value).collect())
            .map_err(|trap| trap.kind),
        gas: start + outcome.gas_used,
        state: Some(gasket_state(module, &instance)),
    }
}

/// Whether the module has the instruction sequence wasmi 2.0.0 miscompiles (see
/// `wasmi_select_miscompile`): `local.get x; local.get x; i32.eqz; select`, which it
/// evaluates to the wrong operand in some contexts. A disagreement in such a module may be
/// the reference's.
fn has_wasmi_select_pattern(wasm: &[u8]) -> bool {
    use wasmparser::Operator as O;
    wasmparser::Parser::new(0).parse_all(wasm).any(|payload| {
        let Ok(wasmparser::Payload::CodeSectionEntry(body)) = payload else {
            return false;
        };
        let Ok(reader) = body.get_operators_reader() else {
            return false;
        };
        let ops: Vec<O<'_>> = reader.into_iter().filter_map(Result::ok).collect();
        ops.windows(4).any(|w| {
            matches!(
                (&w[0], &w[1], &w[2], &w[3]),
                (O::LocalGet { local_index: a }, O::LocalGet { local_index: b }, O::I32Eqz, O::Select)
                    if a == b
            )
        })
    })
}

fn run_wasmi(runner: &PreparedRunner, export: &str, args: &[V], limit: u64) -> Option<Run> {
    let args: Vec<wasmi::Val> = args.iter().map(wasmi_value).collect();
    let outcome = runner.run(export, &args, limit);
    let result = match outcome.result {
        Ok(values) => Ok(values),
        Err(trap) => Err(trap_kind(&trap)?),
    };
    Some(Run {
        result,
        gas: outcome.gas?,
        state: outcome.state,
    })
}

#[derive(Default, Debug)]
struct Stats {
    returned: usize,
    trapped: usize,
    limit_runs: usize,
    skipped: usize,
    /// Gasket disagrees with the instrumented module in wasmi but agrees with the
    /// uninstrumented one: the reference's known miscompilation, not Gasket's bug.
    reference_disagreements: usize,
}

/// Runs `export(args)` in both engines and compares; then replays with smaller limits.
fn compare(
    wasm: &[u8],
    module: &Module,
    reference: &PreparedRunner,
    export: &str,
    args: &[V],
    stats: &mut Stats,
    what: &str,
) {
    let Some(expected) = run_wasmi(reference, export, args, HUGE) else {
        stats.skipped += 1;
        return;
    };
    let actual = run_gasket(module, export, args, HUGE);
    if actual != expected && has_wasmi_select_pattern(wasm) {
        eprintln!(
            "possible reference disagreement (wasmi select miscompilation): {what}: \
             {export}({args:?}): gasket {actual:?}, wasmi {expected:?}"
        );
        stats.reference_disagreements += 1;
        return;
    }
    assert_eq!(
        actual, expected,
        "{what}: {export}({args:?}): gasket vs wasmi"
    );
    match actual.result {
        Ok(_) => stats.returned += 1,
        Err(_) => stats.trapped += 1,
    }
    let needed = actual.gas;
    let mut limits = vec![0, 1, needed / 2, needed.saturating_sub(1), needed];
    limits.sort_unstable();
    limits.dedup();
    for limit in limits {
        let run = run_gasket(module, export, args, limit);
        if limit < needed {
            assert_eq!(
                (run.result.clone(), run.gas),
                (Err(TrapKind::OutOfGas), limit),
                "{what}: {export}({args:?}) with limit {limit} < {needed}"
            );
        } else {
            assert_eq!(
                run, actual,
                "{what}: {export}({args:?}) with exactly {needed}"
            );
        }
        stats.limit_runs += 1;
    }
}

fn load(engine: &Engine, wasm: &[u8]) -> (Module, PreparedRunner) {
    let profile = profile();
    let prepared = prepare(wasm, &profile).expect("within the profile");
    let reference =
        PreparedRunner::new(&prepared.wasm, profile.stack.max_height).expect("wasmi loads it");
    let module = engine.compile(wasm).expect("compiles");
    (module, reference)
}

#[test]
fn hand_written_programs_match_wasmi() {
    on_big_stack(|| {
        let engine = Engine::new(profile()).expect("engine");
        let mut stats = Stats::default();
        for program in programs() {
            let wasm = wat::parse_str(program.wat).expect("valid WAT");
            let (module, reference) = load(&engine, &wasm);
            for (export, args) in &program.calls {
                let args: Vec<V> = args.iter().map(|&a| V::I32(a)).collect();
                compare(
                    &wasm,
                    &module,
                    &reference,
                    export,
                    &args,
                    &mut stats,
                    program.name,
                );
            }
        }
        // The benchmark workloads, at small sizes.
        for (name, n) in [("fib", 15), ("mix64", 1000), ("sieve", 2000), ("matmul", 8)] {
            let wasm = gasket_fixtures::wasm(name);
            let (module, reference) = load(&engine, &wasm);
            compare(
                &wasm,
                &module,
                &reference,
                "run",
                &[V::I32(n)],
                &mut stats,
                name,
            );
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
        let engine = Engine::new(profile()).expect("engine");
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
            let (module, reference) = load(&engine, &wasm);
            let exports: Vec<(String, Vec<V>)> = reference
                .module
                .exports()
                .filter_map(|e| match e.ty() {
                    wasmi::ExternType::Func(ty) => Some((
                        e.name().to_string(),
                        ty.params()
                            .iter()
                            .map(|t| match t {
                                wasmi::ValType::I64 => V::I64(0),
                                wasmi::ValType::FuncRef => V::FuncRef { null: true },
                                wasmi::ValType::ExternRef => V::ExternRef { null: true },
                                _ => V::I32(0),
                            })
                            .collect(),
                    )),
                    _ => None,
                })
                .collect();
            for (export, args) in exports {
                let what = format!("wasm-smith seed {seed}");
                let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    compare(
                        &wasm, &module, &reference, &export, &args, &mut stats, &what,
                    )
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

/// Canary for the reference's miscompilation that `has_select` triages: wasmi 2.0.0
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
