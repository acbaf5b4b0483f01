//! The `gasket` binary's exit codes and `--json` shapes: an interface other tools parse.

use std::process::Command;

use serde_json::Value;

fn gasket(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_gasket"))
        .args(args)
        .output()
        .expect("runs gasket");
    (
        out.status.code().expect("exited"),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn fixture(name: &str) -> String {
    gasket_fixtures::get(name)
        .expect("fixture exists")
        .path()
        .display()
        .to_string()
}

fn json_line(stdout: &str) -> Value {
    assert_eq!(stdout.lines().count(), 1, "exactly one line: {stdout}");
    serde_json::from_str(stdout).expect("valid JSON")
}

fn scratch_dir(tag: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("gasket-cli-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

#[test]
fn check_accepts_a_contract_with_a_summary() {
    let (code, stdout, _) = gasket(&["check", &fixture("counter")]);
    assert_eq!(code, 0);
    assert!(
        stdout.contains("ok under the contract profile")
            && stdout.contains("cost table:  version 1"),
        "{stdout}"
    );

    let (code, stdout, _) = gasket(&["check", &fixture("counter"), "--json"]);
    assert_eq!(code, 0);
    let v = json_line(&stdout);
    assert!(stdout.starts_with("{\"status\":\"ok\""), "{stdout}");
    assert_eq!(v["functions"], 3);
    assert_eq!(v["imported_functions"], 5);
    assert_eq!(v["cost_table_version"], 1);
    assert_eq!(v["memory"]["initial_pages"], 1);
    assert_eq!(v["imports"][0]["host_function"], "storage_read");
}

#[test]
fn check_rejects_with_kind_and_every_error() {
    let (code, stdout, _) = gasket(&["check", &fixture("floats"), "--json"]);
    assert_eq!(code, 1);
    let v = json_line(&stdout);
    assert!(stdout.starts_with("{\"status\":\"rejected\""), "{stdout}");
    assert_eq!(v["kind"], "floats_not_allowed");
    assert!(v["error"].as_str().unwrap().contains("function 0"));

    let (code, _, stderr) = gasket(&["check", &fixture("unknown_import")]);
    assert_eq!(code, 1);
    assert!(stderr.contains("[unknown_import]"), "{stderr}");

    // The permissive profile takes any function import.
    let (code, _, _) = gasket(&[
        "check",
        &fixture("unknown_import"),
        "--profile",
        "permissive",
    ]);
    assert_eq!(code, 0);
}

#[test]
fn load_failures_exit_1_and_usage_errors_exit_2() {
    let (code, stdout, _) = gasket(&["check", "/definitely/not/here.wasm", "--json"]);
    assert_eq!(code, 1);
    assert_eq!(json_line(&stdout)["kind"], "io_error");

    let dir = scratch_dir("load");
    let bad = dir.join("bad.wat");
    std::fs::write(&bad, "(module (func $oops").unwrap();
    let (code, stdout, _) = gasket(&["check", bad.to_str().unwrap(), "--json"]);
    assert_eq!(code, 1);
    assert_eq!(json_line(&stdout)["kind"], "invalid_wat");

    assert_eq!(gasket(&["check"]).0, 2);
    assert_eq!(
        gasket(&["check", &fixture("counter"), "--profile", "lax"]).0,
        2
    );
    assert_eq!(gasket(&["frobnicate"]).0, 2);
    assert_eq!(
        gasket(&["instrument", &fixture("counter")]).0,
        2,
        "-o is required"
    );
    assert_eq!(gasket(&["--help"]).0, 0);
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn instrument_writes_exactly_what_prepare_produces() {
    let dir = scratch_dir("instrument");
    let out = dir.join("arith.wasm");
    let out_arg = out.to_str().unwrap();
    let (code, stdout, _) = gasket(&[
        "instrument",
        &fixture("arith"),
        "-o",
        out_arg,
        "--profile",
        "permissive",
        "--json",
    ]);
    assert_eq!(code, 0, "{stdout}");
    assert_eq!(json_line(&stdout)["status"], "ok");
    let bytes = std::fs::read(&out).unwrap();
    let profile = gasket_metering::Profile::permissive();
    let expected = gasket_metering::prepare(&gasket_fixtures::wasm("arith"), &profile).unwrap();
    assert_eq!(bytes, expected.wasm);

    // Binary input is read as binary, and instrumented output cannot be instrumented again.
    let (code, stdout, _) = gasket(&["check", out_arg, "--profile", "permissive", "--json"]);
    assert_eq!(code, 1);
    assert_eq!(json_line(&stdout)["kind"], "reserved_import");

    let (code, _, _) = gasket(&["instrument", &fixture("simd"), "-o", out_arg]);
    assert_eq!(code, 1);
    std::fs::remove_dir_all(&dir).ok();
}

// ---- gasket run ----

#[test]
fn run_usage_errors_exit_2() {
    let arith = fixture("arith");
    let (code, _, stderr) = gasket(&["run", &arith, "--invoke", "nope"]);
    assert_eq!(code, 2);
    assert!(
        stderr.contains("no export named \"nope\"") && stderr.contains("add"),
        "{stderr}"
    );
    let (code, _, stderr) = gasket(&["run", &arith, "--invoke", "add", "-5"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("takes 2 argument(s), got 1"), "{stderr}");
    let (code, _, stderr) = gasket(&["run", &arith, "--invoke", "add", "-5", "x", "--json"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("\"x\""), "{stderr}");
    let (code, _, _) = gasket(&["run", &arith, "--invoke", "add", "1", "99999999999"]);
    assert_eq!(code, 2, "i32 out of range");
    assert_eq!(gasket(&["run", &arith]).0, 2, "--invoke is required");
    assert_eq!(
        gasket(&["run", &arith, "--invoke", "add", "--gas", "lots"]).0,
        2
    );
    let (code, stdout, _) = gasket(&["run", "--help"]);
    assert_eq!(code, 0);
    assert!(stdout.contains("permissive"), "{stdout}");
}

#[test]
fn run_rejections_exit_1() {
    let (code, stdout, _) = gasket(&["run", &fixture("floats"), "--invoke", "f", "--json"]);
    assert_eq!(code, 1);
    let v = json_line(&stdout);
    assert!(
        stdout.starts_with("{\"status\":\"rejected\",\"kind\""),
        "{stdout}"
    );
    assert_eq!(v["kind"], "floats_not_allowed");
    let (code, stdout, _) = gasket(&["run", "/not/here.wat", "--invoke", "f", "--json"]);
    assert_eq!(code, 1);
    assert_eq!(json_line(&stdout)["kind"], "io_error");
    // Host ABI imports are not contract-profile-only, but unknown imports are.
    let (code, stdout, _) = gasket(&[
        "run",
        &fixture("unknown_import"),
        "--invoke",
        "roll",
        "--profile",
        "contract",
        "--json",
    ]);
    assert_eq!(code, 1);
    assert_eq!(json_line(&stdout)["kind"], "unknown_import");
}

/// Needs the singlepass compiler (fails with `unsupported_target` until it lands).
#[test]
fn run_prints_results_and_traps() {
    let arith = fixture("arith");
    let (code, stdout, stderr) = gasket(&["run", &arith, "--invoke", "add", "-5", "7", "--json"]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    let v = json_line(&stdout);
    assert!(
        stdout.starts_with("{\"status\":\"ok\",\"results\":[\"i32:2\"],\"gas_used\":"),
        "{stdout}"
    );
    assert!(v["gas_used"].as_u64().unwrap() > 0);

    let (code, stdout, _) = gasket(&["run", &arith, "--invoke", "divmod", "7", "2", "--json"]);
    assert_eq!(code, 0);
    assert_eq!(
        json_line(&stdout)["results"],
        serde_json::json!(["i32:3", "i32:1"])
    );

    let (code, stdout, _) = gasket(&["run", &arith, "--invoke", "fac", "5", "--json"]);
    assert_eq!(code, 0);
    assert_eq!(
        json_line(&stdout)["results"],
        serde_json::json!(["i64:120"])
    );

    let (code, stdout, _) = gasket(&["run", &arith, "--invoke", "div", "1", "0", "--json"]);
    assert_eq!(code, 0, "a trap is a normal outcome");
    let v = json_line(&stdout);
    assert!(
        stdout.starts_with("{\"status\":\"trap\",\"trap\":\"integer_divide_by_zero\""),
        "{stdout}"
    );
    assert!(v["gas_used"].is_u64());

    let (code, stdout, _) = gasket(&["run", &arith, "--invoke", "spin", "--gas", "5000", "--json"]);
    assert_eq!(code, 0);
    let v = json_line(&stdout);
    assert_eq!(v["trap"], "out_of_gas");
    assert_eq!(v["gas_used"], 5000);

    let (code, stdout, _) = gasket(&["run", &arith, "--invoke", "recurse", "0", "--json"]);
    assert_eq!(code, 0);
    assert_eq!(json_line(&stdout)["trap"], "stack_overflow");

    let (code, stdout, _) = gasket(&["run", &arith, "--invoke", "add", "2", "3"]);
    assert_eq!(code, 0);
    assert!(
        stdout.contains("result: i32:5") && stdout.contains("gas used:"),
        "{stdout}"
    );
    let (code, stdout, _) = gasket(&["run", &arith, "--invoke", "div", "-2147483648", "-1"]);
    assert_eq!(code, 0);
    assert!(stdout.contains("trap: integer_overflow"), "{stdout}");

    // A contract runs with an empty HostEnv under the contract profile.
    let (code, stdout, _) = gasket(&[
        "run",
        &fixture("counter"),
        "--invoke",
        "increment",
        "--profile",
        "contract",
        "--json",
    ]);
    assert_eq!(code, 0, "{stdout}");
    assert_eq!(json_line(&stdout)["status"], "ok");
}
