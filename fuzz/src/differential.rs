//! Target `differential`: the same instrumented module run in Gasket (compiled code, on
//! every engine given: x86-64 natively, AArch64 under emulation in `aarch64-tests`) and in
//! wasmi (`gasket_fixtures::reference`, the module `prepare` produces with the gas and
//! stack intrinsics as host functions), with the same gas limit and arguments. Every run
//! must give the same results or the same trap kind, exactly the same gas used, and the
//! same final state (a digest of exported memories, globals and table sizes). Each call
//! is replayed at limits around its need (0, 1, half, need − 1, need) and at a small
//! fuzzer-chosen limit, in every engine, so out-of-gas at every boundary is compared too.
//!
//! Input: bytes starting with the wasm magic are the module itself (zero arguments);
//! anything else shapes a wasm-smith module (`gasket_fixtures::reference::smith_config`,
//! traps allowed in half of them; half of them with f32/f64,
//! `gasket_fixtures::reference::smith_float_config`) and the arguments of its exports
//! (integers and floats from edge values: NaNs with payloads, ±0, ±∞, subnormals,
//! truncation bounds).
//!
//! Floats are compared bit for bit. wasmi computes them as the host CPU does and does not
//! canonicalize NaNs, so the reference is wasmi running the instrumented module after
//! `gasket_fixtures::canonicalize::canonicalize`, a wasm-level rewrite that canonicalizes
//! every NaN the float policy says to ([`PreparedRunner::canonical`]); that rewrite also
//! reports a trapping truncation's overflow as its own trap, so wasmi's
//! `IntegerOverflow` maps to Gasket's `integer_overflow` alone and
//! `ConversionOverflow` to `conversion_overflow` alone ([`trap_kind`]).
//!
//! wasmi 2.0.0 is not always right (its known miscompilations: the vm's
//! `wasmi_select_miscompile` and `wasmi_reads_an_unwritten_register` tests). When every
//! Gasket engine agrees with the others and wasmi alone differs, a second, independent
//! interpreter breaks the tie ([`gasket_fixtures::tiebreak`], wasmi 0.31's stack machine,
//! on the same rewritten module with the same intrinsics): if it agrees with Gasket bit for
//! bit, the disagreement is counted as the reference's ([`Stats::reference_disagreements`])
//! and printed; otherwise the run fails as any divergence does.

use arbitrary::Unstructured;
use gasket_fixtures::reference::{
    digest, on_big_stack, smith_config, smith_float_config, Outcome, PreparedRunner, SplitMix,
    StateItem, Trap as RefTrap, V,
};
use gasket_fixtures::tiebreak::TiebreakRunner;
use gasket_host_api::access::{AccessTier, AccessTiers};
use gasket_metering::{prepare, Limits, Profile};
use gasket_vm::{
    Engine, ExternType, Imports, Instance, InstantiationError, Module, TrapKind, Value,
};
use std::sync::OnceLock;
use wasmi::TrapCode;

/// The permissive profile with the reference's store limits (16 MiB of memory, 10 000
/// table elements), so growth fails at the same point in both engines, and a written-range
/// price whatever the default table's, so every store and bulk write that widens the
/// written ranges is charged and compared (`WRITE_PRICE`).
pub fn profile() -> Profile {
    let mut profile = Profile::permissive();
    profile.limits = Limits {
        max_memory_pages: 256,
        max_table_size: 10_000,
        ..profile.limits
    };
    profile.costs.memory_write_per_granule = WRITE_PRICE;
    profile.costs.memory_access_tiers = ACCESS_TIERS;
    profile
}

/// The differential profile's memory-size tiers: low enough that generated programs'
/// memories (a few pages, grown) cross each of them, with surcharges that are no
/// multiple of any other price, so a surcharge at the wrong size, counted twice or
/// missed shows in the gas.
pub const ACCESS_TIERS: AccessTiers = AccessTiers {
    tiers: [
        AccessTier {
            above_pages: 1,
            surcharge: 7,
        },
        AccessTier {
            above_pages: 2,
            surcharge: 53,
        },
        AccessTier {
            above_pages: 16,
            surcharge: 409,
        },
    ],
};

/// The differential profile's `memory_write_per_granule`: not a multiple of any other
/// price, so a charge counted twice or missed shows in the gas.
pub const WRITE_PRICE: u32 = 30_011;

/// The gas limit of the first run of every call: every generated module ends far below
/// it; a raw module that does not runs out of gas identically everywhere.
pub const HUGE: u64 = 1 << 40;
/// The first limit for raw (magic-prefixed) inputs, which may loop forever.
pub const RAW_LIMIT: u64 = 2_000_000;

/// One run in any engine, in comparable form.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Run {
    pub result: Result<Vec<V>, TrapKind>,
    pub gas: u64,
    /// Digest of exported memories, globals and table sizes; `None` when instantiation
    /// failed.
    pub state: Option<u64>,
}

/// wasmi's trap as Gasket's kind (`None` for traps Gasket has no kind for).
pub fn trap_kind(trap: &RefTrap) -> Option<TrapKind> {
    Some(match trap {
        RefTrap::OutOfGas => TrapKind::OutOfGas,
        RefTrap::StackOverflow => TrapKind::StackOverflow,
        // The canonicalizing rewrite's range check: a truncation out of range. Only it
        // raises this, so wasmi's `IntegerOverflow` below is a division's.
        RefTrap::ConversionOverflow => TrapKind::ConversionOverflow,
        RefTrap::Wasm(code) => match code {
            TrapCode::UnreachableCodeReached => TrapKind::Unreachable,
            TrapCode::MemoryOutOfBounds => TrapKind::MemoryOutOfBounds,
            TrapCode::TableOutOfBounds => TrapKind::TableOutOfBounds,
            TrapCode::IndirectCallToNull => TrapKind::IndirectCallToNull,
            TrapCode::IntegerDivisionByZero => TrapKind::IntegerDivideByZero,
            TrapCode::IntegerOverflow => TrapKind::IntegerOverflow,
            TrapCode::BadConversionToInteger => TrapKind::InvalidConversionToInteger,
            TrapCode::BadSignature => TrapKind::IndirectCallTypeMismatch,
            _ => return None,
        },
        _ => return None,
    })
}

/// A Gasket value in the reference's comparable form.
pub fn value(v: &Value) -> V {
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
        V::F32(bits) => wasmi::Val::F32(wasmi::F32::from_bits(*bits)),
        V::F64(bits) => wasmi::Val::F64(wasmi::F64::from_bits(*bits)),
        _ => panic!("only numbers and null references are generated as arguments"),
    }
}

/// The same digest `gasket_fixtures::reference::state_digest` computes for wasmi.
pub fn gasket_state(module: &Module, instance: &Instance) -> u64 {
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
pub fn run_gasket(module: &Module, export: &str, args: &[V], limit: u64) -> Run {
    let args: Vec<Value> = args
        .iter()
        .map(|v| match v {
            V::I32(x) => Value::I32(*x),
            V::I64(x) => Value::I64(*x),
            V::FuncRef { null: true } => Value::FuncRef(None),
            V::ExternRef { null: true } => Value::ExternRef(None),
            V::F32(bits) => Value::F32(*bits),
            V::F64(bits) => Value::F64(*bits),
            _ => unreachable!("only numbers and null references are generated"),
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
        // A segment that does not fit, or a trap in the start function.
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

/// The reference run (see [`comparable_run`]).
pub fn run_wasmi(runner: &PreparedRunner, export: &str, args: &[V], limit: u64) -> Option<Run> {
    let args: Vec<wasmi::Val> = args.iter().map(wasmi_value).collect();
    comparable_run(runner.run(export, &args, limit))
}

/// A reference's outcome as a [`Run`]; `None` when it has no Gasket counterpart (a trap
/// kind Gasket does not have, or no gas count).
fn comparable_run(outcome: Outcome) -> Option<Run> {
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

/// Counters of a campaign.
#[derive(Clone, Default, Debug, PartialEq, Eq)]
pub struct Stats {
    /// Modules `prepare` accepted and both sides loaded.
    pub modules: usize,
    /// Calls that returned / trapped with the large limit (all engines agreeing).
    pub returned: usize,
    pub trapped: usize,
    /// Replays at other limits (each compared in every engine).
    pub limit_runs: usize,
    /// Calls wasmi could not judge (a trap kind without a Gasket counterpart).
    pub skipped: usize,
    /// Gasket (every engine alike) disagrees with wasmi 2.0 and the second interpreter
    /// ([`TiebreakRunner`]) agrees with Gasket: the reference's bug, not Gasket's.
    pub reference_disagreements: usize,
    /// Of `modules`, those with f32/f64 types or operators.
    pub float_modules: usize,
}

impl Stats {
    pub fn add(&mut self, other: &Stats) {
        self.modules += other.modules;
        self.returned += other.returned;
        self.trapped += other.trapped;
        self.limit_runs += other.limit_runs;
        self.skipped += other.skipped;
        self.reference_disagreements += other.reference_disagreements;
        self.float_modules += other.float_modules;
    }
}

/// A module loaded in the reference and in every Gasket engine under test.
pub struct Subject {
    pub wasm: Vec<u8>,
    pub reference: PreparedRunner,
    /// (engine name, module) per engine.
    pub modules: Vec<(String, Module)>,
}

impl Subject {
    /// `None` when the profile rejects the module; panics if an accepted module does not
    /// load in wasmi or in an engine.
    pub fn load(engines: &[(&str, &Engine)], wasm: &[u8]) -> Option<Subject> {
        let profile = profile();
        let prepared = prepare(wasm, &profile).ok()?;
        let reference = PreparedRunner::canonical(&prepared.wasm, profile.stack.max_height)
            .unwrap_or_else(|e| panic!("{e}"))
            .with_write_price(profile.costs.memory_write_per_granule);
        let modules = engines
            .iter()
            .map(|(name, engine)| {
                let module = engine
                    .compile(wasm)
                    .unwrap_or_else(|e| panic!("{name}: accepted module does not compile: {e}"));
                (name.to_string(), module)
            })
            .collect();
        Some(Subject {
            wasm: wasm.to_vec(),
            reference,
            modules,
        })
    }

    /// Whether the module has a float type or operator (counted in [`Stats::float_modules`]).
    pub fn has_floats(&self) -> bool {
        uses_floats(&self.wasm)
    }

    /// Exported functions with their parameter types as zero/null values.
    pub fn exports(&self) -> Vec<(String, Vec<V>)> {
        self.reference
            .module
            .exports()
            .filter_map(|e| match e.ty() {
                wasmi::ExternType::Func(ty) => Some((
                    e.name().to_string(),
                    ty.params()
                        .iter()
                        .map(|t| match t {
                            wasmi::ValType::I64 => V::I64(0),
                            wasmi::ValType::F32 => V::F32(0),
                            wasmi::ValType::F64 => V::F64(0),
                            wasmi::ValType::FuncRef => V::FuncRef { null: true },
                            wasmi::ValType::ExternRef => V::ExternRef { null: true },
                            _ => V::I32(0),
                        })
                        .collect(),
                )),
                _ => None,
            })
            .collect()
    }

    /// The second interpreter's run, for a call where wasmi 2.0 disagrees with Gasket.
    fn tiebreak(&self, export: &str, args: &[V], limit: u64) -> Option<Run> {
        let profile = profile();
        let prepared = prepare(&self.wasm, &profile).ok()?;
        let runner = TiebreakRunner::canonical(&prepared.wasm, profile.stack.max_height)
            .unwrap_or_else(|e| panic!("{e}"))
            .with_write_price(profile.costs.memory_write_per_granule);
        comparable_run(runner.run(export, args, limit))
    }

    /// Runs `export(args)` with `first` gas in wasmi and every engine and compares; then
    /// replays at limits around the need and at `extra_limits`. Panics on a difference.
    pub fn compare(
        &self,
        export: &str,
        args: &[V],
        first: u64,
        extra_limits: &[u64],
        stats: &mut Stats,
        what: &str,
    ) {
        let Some(expected) = run_wasmi(&self.reference, export, args, first) else {
            stats.skipped += 1;
            return;
        };
        let runs: Vec<(&str, Run)> = self
            .modules
            .iter()
            .map(|(name, module)| (name.as_str(), run_gasket(module, export, args, first)))
            .collect();
        let (_, actual) = &runs[0];
        for (name, run) in &runs[1..] {
            assert_eq!(
                run, actual,
                "{what}: {export}({args:?}) limit {first}: {name} vs {}",
                runs[0].0
            );
        }
        if *actual != expected && self.tiebreak(export, args, first).as_ref() == Some(actual) {
            eprintln!(
                "reference disagreement (wasmi 2.0 alone differs; wasmi 0.31 agrees with \
                 gasket): {what}: {export}({args:?}): gasket {actual:?}, wasmi {expected:?}"
            );
            stats.reference_disagreements += 1;
            return;
        }
        for (name, run) in &runs {
            assert_eq!(
                *run, expected,
                "{what}: {export}({args:?}) limit {first}: {name} vs wasmi"
            );
        }
        match expected.result {
            Ok(_) => stats.returned += 1,
            Err(_) => stats.trapped += 1,
        }
        let needed = expected.gas;
        let mut limits = vec![0, 1, needed / 2, needed.saturating_sub(1), needed];
        limits.extend(extra_limits.iter().copied().filter(|&l| l <= needed));
        limits.sort_unstable();
        limits.dedup();
        for limit in limits {
            if limit == first {
                continue;
            }
            let reference = run_wasmi(&self.reference, export, args, limit);
            for (name, module) in &self.modules {
                let run = run_gasket(module, export, args, limit);
                if limit < needed {
                    assert_eq!(
                        (run.result.clone(), run.gas),
                        (Err(TrapKind::OutOfGas), limit),
                        "{what}: {export}({args:?}) on {name} with limit {limit} < {needed}"
                    );
                } else {
                    assert_eq!(
                        run, expected,
                        "{what}: {export}({args:?}) on {name} with exactly {needed}"
                    );
                }
                if let Some(reference) = &reference {
                    assert_eq!(
                        run, *reference,
                        "{what}: {export}({args:?}) limit {limit}: {name} vs wasmi"
                    );
                }
            }
            stats.limit_runs += 1;
        }
    }
}

/// The native engine with the differential profile (one per process).
pub fn native_engine() -> &'static Engine {
    static ENGINE: OnceLock<Engine> = OnceLock::new();
    ENGINE.get_or_init(|| Engine::new(profile()).expect("engine"))
}

/// The body: Gasket on this machine's target against wasmi. Returns whether a module ran.
pub fn differential(data: &[u8]) -> bool {
    differential_with(&[("native", native_engine())], data).modules > 0
}

/// Argument values a fuzzer tends to need: edges, small numbers, memory sizes.
fn interesting(rng: &mut SplitMix) -> i64 {
    const EDGES: [i64; 12] = [
        0,
        1,
        -1,
        2,
        7,
        0x7fff_ffff,
        -0x8000_0000,
        65_536,
        65_535,
        i64::MAX,
        i64::MIN,
        0xffff_ffff,
    ];
    let r = rng.next_u64();
    match r % 4 {
        0 => 0,
        1 => EDGES[(r >> 8) as usize % EDGES.len()],
        2 => ((r >> 8) % 300) as i64,
        _ => rng.next_u64() as i64,
    }
}

/// f32 bit patterns where float code goes wrong: signed zeros, ±1, ties of `nearest`,
/// infinities, NaNs (canonical, negative, with payloads, signalling), subnormals and the
/// normal/subnormal edge, the largest finite values, and the truncation bounds (±2^31,
/// 2^32, 2^63, 2^64 and their neighbours) and precision edges (2^23, 2^24).
#[rustfmt::skip]
pub const F32_EDGES: [u32; 32] = [
    0x0000_0000, 0x8000_0000, 0x3f80_0000, 0xbf80_0000, 0x3f00_0000, 0xbf00_0000,
    0x3fc0_0000, 0x4020_0000, 0x7f80_0000, 0xff80_0000, 0x7fc0_0000, 0xffc0_0000,
    0x7fc0_0001, 0x7fa5_a5a5, 0x7f80_0001, 0xff80_0001, 0x0000_0001, 0x007f_ffff,
    0x0080_0000, 0x807f_ffff, 0x7f7f_ffff, 0xff7f_ffff, 0x4f00_0000, 0xcf00_0000,
    0x4eff_ffff, 0xcf00_0001, 0x4f80_0000, 0x5f00_0000, 0xdf00_0000, 0x5f80_0000,
    0x4b00_0000, 0x4b80_0000,
];

/// The f64 counterparts of [`F32_EDGES`], plus −2^31 − 1 (the exclusive lower bound of
/// `i32.trunc_f64_s`), 2^31 − 1, 2^52 + 1 and the largest f32 as an f64.
#[rustfmt::skip]
pub const F64_EDGES: [u64; 34] = [
    0x0000_0000_0000_0000, 0x8000_0000_0000_0000, 0x3ff0_0000_0000_0000,
    0xbff0_0000_0000_0000, 0x3fe0_0000_0000_0000, 0xbfe0_0000_0000_0000,
    0x3ff8_0000_0000_0000, 0x4004_0000_0000_0000, 0x7ff0_0000_0000_0000,
    0xfff0_0000_0000_0000, 0x7ff8_0000_0000_0000, 0xfff8_0000_0000_0000,
    0x7ff8_0000_0000_0001, 0x7ffa_5a5a_5a5a_5a5a, 0x7ff0_0000_0000_0001,
    0xfff4_0000_0000_0000, 0x0000_0000_0000_0001, 0x000f_ffff_ffff_ffff,
    0x0010_0000_0000_0000, 0x800f_ffff_ffff_ffff, 0x7fef_ffff_ffff_ffff,
    0xffef_ffff_ffff_ffff, 0x41e0_0000_0000_0000, 0xc1e0_0000_0000_0000,
    0xc1e0_0000_0020_0000, 0xc1e0_0000_0010_0000, 0x41df_ffff_ffc0_0000,
    0x41f0_0000_0000_0000, 0x43e0_0000_0000_0000, 0xc3e0_0000_0000_0000,
    0x43f0_0000_0000_0000, 0x4330_0000_0000_0000, 0x4330_0000_0000_0001,
    0x47ef_ffff_e000_0000,
];

/// A float argument: an edge, random bits (any NaN payload), or a small number with a
/// fraction (exact in both widths).
fn interesting_float(rng: &mut SplitMix) -> (u32, u64) {
    let r = rng.next_u64();
    match r % 4 {
        0 | 1 => (
            F32_EDGES[(r >> 8) as usize % F32_EDGES.len()],
            F64_EDGES[(r >> 16) as usize % F64_EDGES.len()],
        ),
        2 => {
            let bits = rng.next_u64();
            (bits as u32, bits)
        }
        _ => {
            let x = ((r >> 8) % 1200) as f32 / 4.0 - 150.0;
            (x.to_bits(), f64::from(x).to_bits())
        }
    }
}

/// Replaces every numeric argument by an interesting value of its type drawn from `rng`.
pub fn interesting_args(args: &mut [V], rng: &mut SplitMix) {
    for a in args {
        match a {
            V::I32(x) => *x = interesting(rng) as i32,
            V::I64(x) => *x = interesting(rng),
            V::F32(x) => *x = interesting_float(rng).0,
            V::F64(x) => *x = interesting_float(rng).1,
            _ => {}
        }
    }
}

/// Whether `wasm` (a valid module) has an f32/f64 type or operator: it fails validation
/// without wasmparser's `FLOATS` feature.
pub fn uses_floats(wasm: &[u8]) -> bool {
    use wasmparser::{Validator, WasmFeatures};
    Validator::new_with_features(WasmFeatures::default() - WasmFeatures::FLOATS)
        .validate_all(wasm)
        .is_err()
}

/// The body against any set of engines (x86-64 native, AArch64 emulated, ...): the first
/// engine's runs are compared with wasmi, every other engine's with the first's.
pub fn differential_with(engines: &[(&str, &Engine)], data: &[u8]) -> Stats {
    on_big_stack(|| {
        let mut stats = Stats::default();
        let raw = data.starts_with(b"\0asm");
        let (wasm, arg_seed, extra, first) = if raw {
            (data.to_vec(), None, vec![], RAW_LIMIT)
        } else {
            let mut u = Unstructured::new(data);
            let disallow_traps: bool = u.arbitrary().unwrap_or(false);
            let floats: bool = u.arbitrary().unwrap_or(false);
            let arg_seed: u64 = u.arbitrary().unwrap_or(0);
            let small: u16 = u.arbitrary().unwrap_or(0);
            let config = if floats {
                smith_float_config(disallow_traps)
            } else {
                smith_config(disallow_traps)
            };
            let Ok(mut smith) = wasm_smith::Module::new(config, &mut u) else {
                return stats;
            };
            if smith.ensure_termination(200).is_err() {
                return stats;
            }
            (
                smith.to_bytes(),
                Some(arg_seed),
                vec![u64::from(small)],
                HUGE,
            )
        };
        let Some(subject) = Subject::load(engines, &wasm) else {
            return stats;
        };
        stats.modules += 1;
        stats.float_modules += usize::from(subject.has_floats());
        let mut rng = SplitMix(arg_seed.unwrap_or(0));
        for (export, mut args) in subject.exports() {
            if arg_seed.is_some() {
                interesting_args(&mut args, &mut rng);
            }
            let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                subject.compare(&export, &args, first, &extra, &mut stats, "fuzz input")
            }));
            if let Err(panic) = result {
                eprintln!(
                    "DIVERGENCE in {export}({args:?}); module:\n{}",
                    wasmprinter::print_bytes(&wasm).unwrap_or_default()
                );
                std::panic::resume_unwind(panic);
            }
        }
        stats
    })
}
