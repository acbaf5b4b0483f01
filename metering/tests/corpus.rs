//! The 72 real contracts of `../shared/corpus/contracts`, judged against the corpus's own
//! feature census (`CENSUS.md`, made with wabt and an independent parser, not by Gasket):
//!
//! - wabt says invalid ⇒ rejected;
//! - the census finds f32/f64 and the profile's float policy is `Reject` ⇒ rejected with
//!   `floats_not_allowed` (with the default `Canonicalize` policy floats are no reason);
//! - the census finds SIMD ⇒ rejected with `simd_not_allowed`;
//! - otherwise ⇒ accepted by the permissive profile, with valid, deterministic output.
//!
//! Under the contract profile every one of them is rejected (they import their own chain's
//! host functions), except those with no imports at all.

use std::path::Path;

use gasket_fixtures::census::CensusRow;
use gasket_metering::{prepare, FloatPolicy, Profile};
use wasmparser::{Validator, WasmFeatures};

#[test]
fn corpus_contracts_match_the_census() {
    let (Some(dir), Some(rows)) = (
        gasket_fixtures::corpus_dir(),
        gasket_fixtures::census::census(),
    ) else {
        eprintln!("skipped: ../shared/corpus/contracts is absent");
        return;
    };
    assert!(rows.len() >= 70, "census has {} rows", rows.len());
    let float_rows = rows.iter().filter(|r| r.float).count();
    let strict = check_census(&dir, &rows, FloatPolicy::Reject);
    let canonical = check_census(&dir, &rows, FloatPolicy::Canonicalize);
    println!(
        "{} contracts ({float_rows} with floats): {strict} accepted without floats, {canonical} with canonical NaNs; the rest rejected as the census predicts",
        rows.len()
    );
    assert!(strict >= 30, "only {strict} accepted without floats");
    assert!(
        canonical >= strict + 30,
        "floats admitted only {} more contracts",
        canonical - strict
    );
}

/// Judges every contract under the permissive and contract profiles with `floats`; returns
/// how many the permissive profile accepted.
fn check_census(dir: &Path, rows: &[CensusRow], floats: FloatPolicy) -> usize {
    let permissive = Profile::permissive().with_floats(floats);
    let contract = Profile::contract().with_floats(floats);
    let mut accepted = 0;
    let mut failures = Vec::new();
    for row in rows {
        let wasm = std::fs::read(dir.join(&row.file)).expect("census file exists");
        let result = prepare(&wasm, &permissive);
        let expected_kind = if !row.wabt_valid {
            None // any rejection
        } else if row.float && floats == FloatPolicy::Reject {
            Some("floats_not_allowed")
        } else if row.simd {
            Some("simd_not_allowed")
        } else {
            match &result {
                Ok(prepared) => {
                    accepted += 1;
                    if let Err(e) = Validator::new_with_features(WasmFeatures::WASM2)
                        .validate_all(&prepared.wasm)
                    {
                        failures.push(format!("{}: instrumented output is invalid: {e}", row.file));
                    }
                    if prepare(&wasm, &permissive).as_ref() != Ok(prepared) {
                        failures.push(format!("{}: prepare is not deterministic", row.file));
                    }
                }
                Err(e) => failures.push(format!(
                    "{}: expected acceptance, got [{}] {e}",
                    row.file,
                    e.kind()
                )),
            }
            let contract_result = prepare(&wasm, &contract);
            if row.imports == 0 && contract_result.is_err() {
                failures.push(format!(
                    "{}: has no imports but the contract profile rejects it",
                    row.file
                ));
            }
            if row.imports > 0 && contract_result.is_ok() {
                failures.push(format!(
                    "{}: imports foreign host functions but the contract profile accepts it",
                    row.file
                ));
            }
            continue;
        };
        match (&result, expected_kind) {
            (Ok(_), _) => failures.push(format!("{}: expected rejection, was accepted", row.file)),
            (Err(e), Some(kind)) if e.kind() != kind => failures.push(format!(
                "{}: expected {kind}, got [{}] {e}",
                row.file,
                e.kind()
            )),
            _ => {}
        }
    }
    assert!(
        failures.is_empty(),
        "{floats:?}: {} of {} contracts disagree with the census:\n{}",
        failures.len(),
        rows.len(),
        failures.join("\n")
    );
    accepted
}
