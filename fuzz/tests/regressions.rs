//! Replays the checked-in regression corpus (`fuzz/corpus/regressions/<target>/`): every
//! input a fuzz campaign found a bug with, through the same target body, so the bug stays
//! fixed. Files are raw fuzzer inputs (what libFuzzer's `crash-*` files and the bounded
//! driver's `fuzz/artifacts/<target>/crash-*` files hold); a `.wat` file is parsed first
//! (the `differential` body takes a binary module as input directly).
//!
//! `differential/reference-disagreement/` holds modules on which wasmi 2.0.0 is known to
//! be wrong (its `select` miscompilation): each must be triaged as a reference
//! disagreement, with every Gasket engine agreeing, and fails when wasmi gets fixed.

use std::path::{Path, PathBuf};

fn corpus() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("corpus/regressions")
}

fn files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|d| {
            d.flatten()
                .map(|e| e.path())
                .filter(|p| {
                    p.is_file() && !p.file_name().unwrap().to_string_lossy().starts_with('.')
                })
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    files
}

fn input(path: &Path) -> Vec<u8> {
    let bytes = std::fs::read(path).unwrap();
    if path.extension().is_some_and(|e| e == "wat") {
        wat::parse_bytes(&bytes)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
            .into_owned()
    } else {
        bytes
    }
}

#[test]
fn every_regression_input_passes_its_target() {
    let mut replayed = 0;
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(corpus())
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    for dir in dirs {
        let name = dir.file_name().unwrap().to_string_lossy().into_owned();
        let target = gasket_fuzz::target(&name)
            .unwrap_or_else(|| panic!("corpus directory {name} names no fuzz target"));
        for file in files(&dir) {
            let data = input(&file);
            if std::panic::catch_unwind(|| target(&data)).is_err() {
                panic!("regression {} fails again", file.display());
            }
            replayed += 1;
        }
    }
    println!("{replayed} regression inputs replayed");
}

#[test]
fn wasmi_select_miscompile_is_triaged_as_a_reference_disagreement() {
    let dir = corpus().join("differential/reference-disagreement");
    let files = files(&dir);
    assert!(!files.is_empty(), "{} is empty", dir.display());
    for file in files {
        let wasm = input(&file);
        let stats = gasket_fuzz::differential::differential_with(
            &[("native", gasket_fuzz::differential::native_engine())],
            &wasm,
        );
        assert_eq!(stats.modules, 1, "{}: {stats:?}", file.display());
        assert!(
            stats.reference_disagreements > 0,
            "{}: wasmi no longer disagrees ({stats:?}): drop the select triage",
            file.display()
        );
    }
}
