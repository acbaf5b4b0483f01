//! `gasket run --gas-report` and the wasm stack of a trap: JSON shapes (only added
//! fields), exact sums, the same gas as without the flag, text output, refusals.

mod cli_support;

use cli_support::{gasket, json_line, scratch_dir};
use serde_json::Value;

fn fixture() -> String {
    gasket_fixtures::GAS_REPORT.path().display().to_string()
}

/// Checks `gas_report`'s three breakdowns each sum to its `gas_used`, which is the line's.
fn check_report(line: &Value) {
    let report = &line["gas_report"];
    let used = report["gas_used"].as_u64().expect("gas_used");
    assert_eq!(line["gas_used"].as_u64(), Some(used));
    let sum = |list: &str| -> u64 {
        report[list]
            .as_array()
            .expect(list)
            .iter()
            .map(|e| e["gas"].as_u64().expect("gas"))
            .sum()
    };
    assert_eq!(
        sum("by_function") + report["memory_write"].as_u64().expect("memory_write"),
        used,
        "{line}"
    );
    assert_eq!(
        sum("by_host_function") + report["wasm_code"].as_u64().unwrap(),
        used,
        "{line}"
    );
    assert_eq!(sum("by_class"), used, "{line}");
}

/// `with` has every field of `without`, equal, plus only `added`.
fn only_adds(without: &Value, with: &Value, added: &[&str]) {
    let (a, b) = (without.as_object().unwrap(), with.as_object().unwrap());
    for (key, value) in a {
        assert_eq!(b.get(key), Some(value), "{key}");
    }
    let mut extra: Vec<&str> = b
        .keys()
        .filter(|k| !a.contains_key(*k))
        .map(String::as_str)
        .collect();
    extra.sort_unstable();
    assert_eq!(extra, added);
}

fn run_json(args: &[&str]) -> Value {
    let (code, stdout, stderr) = gasket(args);
    assert_eq!(code, 0, "{stdout}{stderr}");
    json_line(&stdout)
}

#[test]
fn gas_report_json_adds_up_and_changes_nothing_else() {
    let file = fixture();
    for mode in ["--invoke", "--call"] {
        for method in ["run", "grow", "trap", "panic"] {
            let base = ["run", &file, mode, method, "--json"];
            let plain = run_json(&base);
            let reported = run_json(&[&base[..], &["--gas-report"]].concat());
            check_report(&reported);
            // A failed call has its stack with or without the flag.
            let failed = plain["status"] != "ok";
            only_adds(&plain, &reported, &["gas_report"]);
            assert_eq!(plain.get("wasm_stack").is_some(), failed, "{mode} {method}");
        }
    }
}

#[test]
fn out_of_gas_reports_what_was_charged() {
    let file = fixture();
    // Past the start function, which pays the data segment's granule (cost table version
    // 5; running out of gas there fails instantiation, which has no report).
    let start = u64::from(gasket_vm::metering::WRITE_PER_GRANULE);
    for extra in [0, 1, 57, 500, 888] {
        let gas = (start + extra).to_string();
        let line = run_json(&[
            "run",
            &file,
            "--call",
            "run",
            "--gas",
            &gas,
            "--gas-report",
            "--json",
        ]);
        assert_eq!(line["trap"], "out_of_gas");
        assert_eq!(line["gas_used"].to_string(), gas);
        check_report(&line);
    }
}

#[test]
fn trap_json_has_the_wasm_stack() {
    let file = fixture();
    let expected = serde_json::json!([
        {"index": 6, "name": "fail_deep"},
        {"index": 7, "name": "fail_middle"},
        {"index": 8, "name": "fail"},
    ]);
    for mode in ["--invoke", "--call"] {
        let line = run_json(&["run", &file, mode, "trap", "--json"]);
        assert_eq!(line["wasm_stack"], expected, "{mode}");
        let line = run_json(&["run", &file, mode, "trap", "--json", "--gas-report"]);
        assert_eq!(line["wasm_stack"], expected, "{mode}");
    }
    let line = run_json(&["run", &file, "--call", "panic", "--json"]);
    assert_eq!(line["status"], "panic");
    assert_eq!(
        line["wasm_stack"],
        serde_json::json!([{"index": 9, "name": "panic_outer"}])
    );
    let line = run_json(&["run", &file, "--call", "run", "--json"]);
    assert!(line.get("wasm_stack").is_none(), "returned: no stack");
}

#[test]
fn text_output() {
    let file = fixture();
    let (code, stdout, _) = gasket(&["run", &file, "--call", "run", "--gas-report"]);
    assert_eq!(code, 0);
    for line in [
        "gas used: 416657",
        "gas report (416657 gas):",
        "  by function:",
        "  by host function:",
        "  by cost class:",
        "log_utf8 (2 calls)",
        "storage_write (1 call)",
        "(wasm code)",
        "#4 helper",
    ] {
        assert!(stdout.contains(line), "{line:?} in\n{stdout}");
    }
    let (code, stdout, _) = gasket(&["run", &file, "--invoke", "trap"]);
    assert_eq!(code, 0);
    assert!(
        stdout.contains(
            "trap: unreachable\nwasm stack (innermost first):\n  #6 fail_deep\n  #7 fail_middle\n  #8 fail\n"
        ),
        "{stdout}"
    );
}

#[test]
fn refusals() {
    let dir = scratch_dir("gas-report-refusals");
    let artifact = dir.join("m.gasket");
    let artifact = artifact.display().to_string();
    let (code, _, stderr) = gasket(&[
        "compile",
        &fixture(),
        "-o",
        &artifact,
        "--profile",
        "contract",
    ]);
    assert_eq!(code, 0, "{stderr}");
    for mode in ["--invoke", "--call"] {
        let (code, stdout, _) = gasket(&["run", &artifact, mode, "run", "--gas-report", "--json"]);
        assert_eq!(code, 2, "{stdout}");
        assert!(stdout.contains("--gas-report needs"), "{stdout}");
        // Without the flag an artifact runs, and a trap has no stack to show.
        let line = run_json(&["run", &artifact, mode, "trap", "--json"]);
        assert_eq!(line["trap"], "unreachable");
        assert!(line.get("wasm_stack").is_none());
    }
    let (code, _, _) = gasket(&[
        "run",
        &fixture(),
        "--call",
        "run",
        "--abi",
        "near",
        "--gas-report",
    ]);
    assert_eq!(code, 2);
}

#[test]
fn deep_stacks_are_elided_in_text_only() {
    let dir = scratch_dir("gas-report-deep");
    let path = dir.join("deep.wat");
    std::fs::write(
        &path,
        r#"(module (func $down (export "down") (param i32)
             (if (local.get 0) (then (call $down (i32.sub (local.get 0) (i32.const 1))) (return)))
             unreachable))"#,
    )
    .unwrap();
    let path = path.display().to_string();
    let line = run_json(&["run", &path, "--invoke", "down", "99", "--json"]);
    assert_eq!(line["trap"], "unreachable");
    assert_eq!(line["wasm_stack"].as_array().unwrap().len(), 100);
    let (code, stdout, _) = gasket(&["run", &path, "--invoke", "down", "99"]);
    assert_eq!(code, 0);
    assert_eq!(stdout.matches("  #0 down\n").count(), 32, "{stdout}");
    assert!(stdout.contains("  … 68 more frames …\n"), "{stdout}");
}
