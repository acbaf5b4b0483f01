//! Running a case: its gas split by price, and its time per gas (median of several runs of
//! program and baseline, the baseline's subtracted).

use std::collections::BTreeMap;
use std::time::Instant;

use gasket_vm::host_api::{CallContext, HostFunction, HostLimits, MemoryStorage, Storage};
use gasket_vm::testing::{call_contract, call_contract_reported, Outcome, Status};
use gasket_vm::{Engine, GasReport, HOST_CLASS};
use thiserror::Error;

use super::cases::{Case, StorageKind};
use super::file_storage::FileStorage;
use super::program::Program;

/// Gas limit of every calibration call: far above any case's use.
const GAS_LIMIT: u64 = 1 << 50;

/// Why a case could not be measured.
#[derive(Debug, Error)]
pub enum CalibrationError {
    /// The generated WAT did not parse (a bug in the case).
    #[error("case {case}: the program does not parse: {message}")]
    Wat { case: String, message: String },
    /// Gasket rejected the module.
    #[error("case {case}: compile failed: {message}")]
    Compile { case: String, message: String },
    /// The call did not return normally.
    #[error("case {case}: the call ended with {status} ({message})")]
    Call {
        case: String,
        status: String,
        message: String,
    },
    /// The gas report was missing (its counters did not add up).
    #[error("case {case}: no gas report")]
    NoReport { case: String },
    /// The program used no more gas than its baseline.
    #[error("case {case}: the program uses {program} gas, its baseline {baseline}")]
    NoGasDifference {
        case: String,
        program: u64,
        baseline: u64,
    },
}

/// How long and how often to measure.
#[derive(Copy, Clone, Debug)]
pub struct Settings {
    /// Gas the program should use per run (its iteration count is chosen for it, within
    /// the case's `max_n`).
    pub target_gas: u64,
    /// Most time a run of the program should take, in ns (caps the iteration count of
    /// cases that are slow per gas).
    pub target_ns: u64,
    /// Runs of program and baseline (alternating); the medians are used.
    pub runs: usize,
}

impl Settings {
    /// The default run: about 5·10⁷ gas or 50 ms per run, 7 runs.
    pub const FULL: Settings = Settings {
        target_gas: 50_000_000,
        target_ns: 50_000_000,
        runs: 7,
    };
    /// `--test` (the `cargo bench -- --test` smoke run): every case once, briefly.
    pub const SMOKE: Settings = Settings {
        target_gas: 100_000,
        target_ns: 1_000_000,
        runs: 1,
    };
    /// `--quick`: about 5·10⁶ gas or 5 ms per run, 3 runs.
    pub const QUICK: Settings = Settings {
        target_gas: 5_000_000,
        target_ns: 5_000_000,
        runs: 3,
    };
}

/// The result of one case.
#[derive(Clone, Debug)]
pub struct Measurement {
    /// The case's name.
    pub name: String,
    /// The price it calibrates (`alu`, `host:sha256:base`), none for a mix.
    pub key: Option<String>,
    /// The gas-report class that dominates its gas (`call`, `host`): the derivation
    /// raises it when a mix is too cheap.
    pub claims: &'static str,
    /// Storage backend (`memory` or `file`).
    pub storage: &'static str,
    /// Loop iterations.
    pub n: u64,
    /// Runs of each program.
    pub runs: usize,
    /// Gas of the program minus gas of its baseline.
    pub gas: u64,
    /// That gas split by price key (cost-table fields, `host:<fn>:base|per_byte`); it
    /// sums to `gas`. A key may be negative when the baseline has more of it.
    pub gas_by_key: BTreeMap<String, i64>,
    /// Median time of the program minus median time of the baseline, in ns (not below 0).
    pub ns: f64,
    /// Median time of the baseline, in ns.
    pub baseline_ns: f64,
    /// The runs' noise on `ns`: the median absolute deviations of program and baseline
    /// times, summed. A difference not well above it says nothing about the price (the
    /// derivation lists such a case as unmeasured instead of calling it overcharged).
    pub noise_ns: f64,
    /// `ns / gas`.
    pub ns_per_gas: f64,
    /// Initial memory pages of the case's program: what a memory-size surcharge on its
    /// loads and stores would depend on (`scripts/derive-costs.py --tiers`).
    pub memory_pages: u32,
}

/// The gas of one call of `wasm` split by price key (see [`Measurement::gas_by_key`]),
/// from its gas report.
pub fn gas_by_key(
    engine: &Engine,
    case: &Case,
    wasm: &[u8],
    context: &CallContext,
) -> Result<BTreeMap<String, i64>, CalibrationError> {
    let report = engine
        .compile_for_report(wasm)
        .map_err(|e| CalibrationError::Compile {
            case: case.name.clone(),
            message: e.to_string(),
        })?;
    let mut storage = MemoryStorage::from_iter(case.storage.iter().cloned());
    let outcome = call_contract_reported(
        &report,
        "run",
        context.clone(),
        HostLimits::DEFAULT,
        &mut storage,
        GAS_LIMIT,
    )
    .map_err(|e| call_error(case, "a harness error", &e.to_string()))?;
    check(case, &outcome)?;
    let report = outcome
        .gas_report
        .ok_or_else(|| CalibrationError::NoReport {
            case: case.name.clone(),
        })?;
    Ok(split(&report))
}

/// A report's classes, with host gas split into each function's base and per-byte parts.
fn split(report: &GasReport) -> BTreeMap<String, i64> {
    let mut keys: BTreeMap<String, i64> = report
        .by_class
        .iter()
        .filter(|(class, _)| class != HOST_CLASS)
        .map(|(class, gas)| (class.clone(), *gas as i64))
        .collect();
    for host in &report.by_host_function {
        let base = HostFunction::from_name(&host.name)
            .map(|f| f.gas().base.saturating_mul(host.calls))
            .unwrap_or(0)
            .min(host.gas);
        *keys.entry(format!("host:{}:base", host.name)).or_default() += base as i64;
        *keys
            .entry(format!("host:{}:per_byte", host.name))
            .or_default() += (host.gas - base) as i64;
    }
    keys
}

/// `after - before`, key by key, zeros dropped.
pub fn difference(
    after: &BTreeMap<String, i64>,
    before: &BTreeMap<String, i64>,
) -> BTreeMap<String, i64> {
    let mut out = after.clone();
    for (key, gas) in before {
        *out.entry(key.clone()).or_default() -= gas;
    }
    out.retain(|_, gas| *gas != 0);
    out
}

fn call_error(case: &Case, status: &str, message: &str) -> CalibrationError {
    CalibrationError::Call {
        case: case.name.clone(),
        status: status.to_string(),
        message: message.to_string(),
    }
}

fn check(case: &Case, outcome: &Outcome) -> Result<(), CalibrationError> {
    match &outcome.status {
        Status::Ok => Ok(()),
        other => Err(call_error(
            case,
            other.as_str(),
            other.message().unwrap_or("no message"),
        )),
    }
}

fn wasm(case: &Case, program: &Program, n: u64) -> Result<Vec<u8>, CalibrationError> {
    program.wasm(n).map_err(|e| CalibrationError::Wat {
        case: case.name.clone(),
        message: e.to_string(),
    })
}

/// The gas split of program and baseline with `n` iterations, and their difference.
pub fn gas_difference(
    engine: &Engine,
    case: &Case,
    n: u64,
) -> Result<BTreeMap<String, i64>, CalibrationError> {
    let program = gas_by_key(engine, case, &wasm(case, &case.program, n)?, &case.context)?;
    let baseline = gas_by_key(
        engine,
        case,
        &wasm(case, &case.baseline, n)?,
        &case.baseline_context,
    )?;
    Ok(difference(&program, &baseline))
}

/// One timed call over a fresh copy of the case's storage: (ns, gas used).
fn timed_call(
    engine_module: &gasket_vm::Module,
    case: &Case,
    context: &CallContext,
) -> Result<(f64, u64), CalibrationError> {
    let storage_error =
        |e: gasket_vm::host_api::StorageError| call_error(case, "a storage error", &e.to_string());
    let mut memory;
    let mut file;
    let storage: &mut dyn Storage = match case.storage_kind {
        StorageKind::Memory => {
            memory = MemoryStorage::from_iter(case.storage.iter().cloned());
            &mut memory
        }
        StorageKind::File => {
            file = FileStorage::with_entries(&case.storage).map_err(storage_error)?;
            &mut file
        }
    };
    let start = Instant::now();
    let outcome = call_contract(
        engine_module,
        "run",
        context.clone(),
        HostLimits::DEFAULT,
        storage,
        GAS_LIMIT,
    )
    .map_err(|e| call_error(case, "a harness error", &e.to_string()))?;
    let ns = start.elapsed().as_nanos() as f64;
    check(case, &outcome)?;
    Ok((ns, outcome.gas_used))
}

/// Median absolute deviation from the median.
fn deviation(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    let centre = median(&mut sorted);
    let mut deviations: Vec<f64> = values.iter().map(|v| (v - centre).abs()).collect();
    median(&mut deviations)
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    if values.len() % 2 == 1 {
        values[mid]
    } else {
        (values[mid - 1] + values[mid]) / 2.0
    }
}

/// Measures `case`: picks the iteration count for `settings.target_gas` from a 4-iteration
/// probe, splits the gas difference by price, then times program and baseline.
pub fn measure(
    engine: &Engine,
    case: &Case,
    settings: Settings,
) -> Result<Measurement, CalibrationError> {
    let probe_n = 4.min(case.max_n);
    let probe: i64 = gas_difference(engine, case, probe_n)?.values().sum();
    let per_iteration = (probe.max(1) as u64).div_ceil(probe_n);
    let compile = |program: &Program, n: u64| -> Result<gasket_vm::Module, CalibrationError> {
        engine
            .compile(&wasm(case, program, n)?)
            .map_err(|e| CalibrationError::Compile {
                case: case.name.clone(),
                message: e.to_string(),
            })
    };
    let gas_n = (settings.target_gas / per_iteration)
        .max(case.min_n)
        .clamp(1, case.max_n);
    // Grow the count fourfold until the program takes a quarter of the target time more
    // than its baseline, and a quarter of the baseline's own time (so that instantiation
    // and setup, such as filling a 64 MiB memory, no longer dominate and their noise
    // cannot pass for the loop's time), then scale it to the target time.
    let mut n = probe_n;
    let n = loop {
        let (program_ns, _) = timed_call(&compile(&case.program, n)?, case, &case.context)?;
        let (baseline_ns, _) =
            timed_call(&compile(&case.baseline, n)?, case, &case.baseline_context)?;
        let ns = program_ns - baseline_ns;
        if n >= gas_n || (ns >= settings.target_ns as f64 / 4.0 && ns >= baseline_ns / 4.0) {
            let by_time = (settings.target_ns as f64 / ns.max(1.0) * n as f64) as u64;
            break gas_n.min(by_time).max(case.min_n).clamp(1, case.max_n);
        }
        n = (n * 4).min(gas_n);
    };
    let by_key = gas_difference(engine, case, n)?;
    let program = compile(&case.program, n)?;
    let baseline = compile(&case.baseline, n)?;
    // One untimed call of each warms caches and the instance pool.
    timed_call(&program, case, &case.context)?;
    timed_call(&baseline, case, &case.baseline_context)?;
    let mut program_ns = Vec::with_capacity(settings.runs);
    let mut baseline_ns = Vec::with_capacity(settings.runs);
    let (mut program_gas, mut baseline_gas) = (0, 0);
    for _ in 0..settings.runs.max(1) {
        let (ns, gas) = timed_call(&program, case, &case.context)?;
        program_ns.push(ns);
        program_gas = gas;
        let (ns, gas) = timed_call(&baseline, case, &case.baseline_context)?;
        baseline_ns.push(ns);
        baseline_gas = gas;
    }
    if program_gas <= baseline_gas {
        return Err(CalibrationError::NoGasDifference {
            case: case.name.clone(),
            program: program_gas,
            baseline: baseline_gas,
        });
    }
    let gas = program_gas - baseline_gas;
    let noise_ns = deviation(&program_ns) + deviation(&baseline_ns);
    let baseline_median = median(&mut baseline_ns);
    let ns = (median(&mut program_ns) - baseline_median).max(0.0);
    Ok(Measurement {
        name: case.name.clone(),
        key: case.target.key(),
        claims: case.claims,
        storage: case.storage_kind.name(),
        n,
        runs: settings.runs.max(1),
        gas,
        gas_by_key: by_key,
        ns,
        baseline_ns: baseline_median,
        noise_ns,
        ns_per_gas: ns / gas as f64,
        memory_pages: case.program.memory_pages,
    })
}
