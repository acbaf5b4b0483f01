//! Gas calibration bench (issue 19): time per gas of every case of
//! `gasket_benches::calibrate`, a table with each case's ratio to the median and the worst
//! offenders, and (`--json FILE`) the measurements for `scripts/derive-costs.py`.
//!
//! ```sh
//! cargo bench -p gasket-benches --bench calibrate -- [--quick] [--json FILE] [FILTER]
//! ```
//!
//! FILTER: comma-separated parts of case names, `=NAME` for one name exactly
//! ([`calibrate::selected`]).

use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

use gasket_benches::calibrate::{self, prices::prices, Measurement, Settings};
use gasket_vm::metering::Profile;
use gasket_vm::Engine;
use serde_json::{json, Value};

/// Command-line options.
struct Options {
    settings: Settings,
    json: Option<String>,
    filter: Option<String>,
    note: Option<String>,
}

fn parse_args() -> Result<Options, String> {
    let mut options = Options {
        settings: Settings::FULL,
        json: None,
        filter: None,
        note: None,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--quick" => options.settings = Settings::QUICK,
            // `cargo bench -- --test`, as the criterion benches take it: a smoke run.
            "--test" => options.settings = Settings::SMOKE,
            "--json" => options.json = Some(args.next().ok_or("--json needs a file name")?),
            "--note" => options.note = Some(args.next().ok_or("--note needs a text")?),
            // Passed by `cargo bench`.
            "--bench" => {}
            other if other.starts_with("--") => {
                return Err(format!(
                    "unknown option {other}; usage: calibrate [--quick | --test] [--json FILE] [--note TEXT] [FILTER]"
                ))
            }
            other => options.filter = Some(other.to_string()),
        }
    }
    Ok(options)
}

/// The CPU model from /proc/cpuinfo (`model name`, else `CPU part` on Arm).
fn cpu_model() -> String {
    let info = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    info.lines()
        .find(|l| l.starts_with("model name") || l.starts_with("CPU part"))
        .and_then(|l| l.split_once(':'))
        .map(|(_, v)| v.trim().to_string())
        .unwrap_or_else(|| "unknown".to_string())
}

/// Today's date (UTC) as YYYY-MM-DD, from days since the epoch (civil calendar).
fn date_utc() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let z = (secs / 86_400) as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}")
}

fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    match sorted.len() {
        0 => 0.0,
        n if n % 2 == 1 => sorted[n / 2],
        n => (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0,
    }
}

fn print_table(results: &[Measurement]) {
    let med = median(&results.iter().map(|m| m.ns_per_gas).collect::<Vec<_>>());
    println!(
        "{:<34} {:>9} {:>14} {:>12} {:>10} {:>8}",
        "case", "n", "gas", "ns", "ns/gas", "ratio"
    );
    for m in results {
        println!(
            "{:<34} {:>9} {:>14} {:>12.0} {:>10.4} {:>8.2}",
            m.name,
            m.n,
            m.gas,
            m.ns,
            m.ns_per_gas,
            m.ns_per_gas / med
        );
    }
    println!("\nmedian: {med:.4} ns per gas over {} cases", results.len());
    let mut sorted: Vec<&Measurement> = results.iter().collect();
    sorted.sort_by(|a, b| a.ns_per_gas.total_cmp(&b.ns_per_gas));
    let show = |label: &str, items: &mut dyn Iterator<Item = &&Measurement>| {
        println!("{label}");
        for m in items {
            println!(
                "  {:<34} {:>10.4} ns/gas  {:>7.2}× median",
                m.name,
                m.ns_per_gas,
                m.ns_per_gas / med
            );
        }
    };
    show(
        "cheapest per gas (overcharged):",
        &mut sorted.iter().take(5),
    );
    show(
        "dearest per gas (undercharged, what an attacker fills a block with):",
        &mut sorted.iter().rev().take(5),
    );
}

fn to_json(results: &[Measurement], options: &Options, profile: &Profile) -> Value {
    let cases: Vec<Value> = results
        .iter()
        .map(|m| {
            json!({
                "name": m.name,
                "key": m.key,
                "claims": m.claims,
                "storage": m.storage,
                "n": m.n,
                "runs": m.runs,
                "gas": m.gas,
                "gas_by_key": m.gas_by_key,
                "ns": m.ns,
                "baseline_ns": m.baseline_ns,
                "noise_ns": m.noise_ns,
                "ns_per_gas": m.ns_per_gas,
                "memory_pages": m.memory_pages,
            })
        })
        .collect();
    json!({
        "format": "gasket-calibration/1",
        "machine": {
            "cpu": cpu_model(),
            "arch": std::env::consts::ARCH,
            "cores": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
            "date": date_utc(),
            "note": options.note.clone().unwrap_or_default(),
        },
        "settings": {
            "target_gas": options.settings.target_gas,
            "runs": options.settings.runs,
        },
        "cost_table_version": profile.costs.version,
        "prices": prices(&profile.costs),
        "cases": cases,
    })
}

fn main() -> ExitCode {
    let options = match parse_args() {
        Ok(options) => options,
        Err(message) => {
            eprintln!("calibrate: {message}");
            return ExitCode::from(2);
        }
    };
    let profile = Profile::contract();
    let engine = match Engine::new(profile.clone()) {
        Ok(engine) => engine,
        Err(e) => {
            eprintln!("calibrate: engine: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut results = Vec::new();
    for case in calibrate::all() {
        if let Some(filter) = &options.filter {
            if !calibrate::selected(filter, &case.name) {
                continue;
            }
        }
        match calibrate::measure(&engine, &case, options.settings) {
            Ok(m) => {
                eprintln!("{:<34} {:>10.4} ns/gas", m.name, m.ns_per_gas);
                results.push(m);
            }
            Err(e) => {
                eprintln!("calibrate: {e}");
                return ExitCode::FAILURE;
            }
        }
    }
    println!();
    print_table(&results);
    if let Some(path) = &options.json {
        let text = match serde_json::to_string_pretty(&to_json(&results, &options, &profile)) {
            Ok(text) => text,
            Err(e) => {
                eprintln!("calibrate: JSON: {e}");
                return ExitCode::FAILURE;
            }
        };
        if let Err(e) = std::fs::write(path, text + "\n") {
            eprintln!("calibrate: write {path}: {e}");
            return ExitCode::FAILURE;
        }
        println!("\nwrote {path}");
    }
    ExitCode::SUCCESS
}
