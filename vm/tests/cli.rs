//! The `gasket` binary's exit codes and `--json` shapes: an interface other tools parse.

mod cli_support;

use cli_support::{gasket, json_line};
use std::process::Command;

fn fixture(name: &str) -> String {
    gasket_fixtures::get(name)
        .expect("fixture exists")
        .path()
        .display()
        .to_string()
}

fn scratch_dir(tag: &str) -> std::path::PathBuf {
    cli_support::scratch_dir(&format!("cli-{tag}"))
}

#[test]
fn check_accepts_a_contract_with_a_summary() {
    let (code, stdout, _) = gasket(&["check", &fixture("counter")]);
    assert_eq!(code, 0);
    assert!(
        stdout.contains("ok under the contract profile")
            && stdout.contains("cost table:  version 8")
            && stdout.contains("floats:      canonicalize"),
        "{stdout}"
    );

    let (code, stdout, _) = gasket(&["check", &fixture("counter"), "--json"]);
    assert_eq!(code, 0);
    let v = json_line(&stdout);
    assert!(stdout.starts_with("{\"status\":\"ok\""), "{stdout}");
    // Its three, and the start function the metering pass appends to pay the data
    // segment's written-range charge (cost table version 5).
    assert_eq!(v["functions"], 4);
    assert_eq!(v["imported_functions"], 5);
    assert_eq!(v["cost_table_version"], 8);
    assert_eq!(v["memory"]["initial_pages"], 1);
    assert_eq!(v["imports"][0]["host_function"], "storage_read");
}

#[test]
fn check_rejects_with_kind_and_every_error() {
    let (code, stdout, _) = gasket(&["check", &fixture("floats"), "--floats", "reject", "--json"]);
    assert_eq!(code, 1);
    let v = json_line(&stdout);
    assert!(stdout.starts_with("{\"status\":\"rejected\""), "{stdout}");
    assert_eq!(v["kind"], "floats_not_allowed");
    assert!(v["error"].as_str().unwrap().contains("function 0"));
    // The built-in profiles admit floats with canonical NaNs.
    let (code, stdout, _) = gasket(&["check", &fixture("floats"), "--json"]);
    assert_eq!(code, 0, "{stdout}");
    assert_eq!(json_line(&stdout)["floats"], "canonicalize");

    let (code, stdout, _) = gasket(&["check", &fixture("simd"), "--json"]);
    assert_eq!(code, 1);
    assert_eq!(json_line(&stdout)["kind"], "simd_not_allowed");

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
fn run_takes_and_prints_floats_with_canonical_nans() {
    let dir = scratch_dir("floats");
    let file = dir.join("div.wat");
    std::fs::write(
        &file,
        r#"(module (func (export "div") (param f64 f32) (result f64 f32)
            (f64.div (local.get 0) (f64.promote_f32 (local.get 1)))
            (f32.sqrt (local.get 1))))"#,
    )
    .unwrap();
    let file = file.to_str().unwrap();
    let run = |a: &str, b: &str| {
        let (code, stdout, stderr) = gasket(&["run", file, "--invoke", "div", a, b, "--json"]);
        assert_eq!(code, 0, "{stderr}");
        json_line(&stdout)["results"].clone()
    };
    assert_eq!(run("1", "4"), serde_json::json!(["f64:0.25", "f32:2.0"]));
    assert_eq!(
        run("-0", "-0"),
        serde_json::json!(["f64:nan:0x7ff8000000000000", "f32:-0.0"])
    );
    // x86's own NaN for sqrt(-1) is negative; Gasket's is the canonical one.
    assert_eq!(
        run("1e300", "-1"),
        serde_json::json!(["f64:-1e300", "f32:nan:0x7fc00000"])
    );
    let (code, _, stderr) = gasket(&["run", file, "--invoke", "div", "x", "1"]);
    assert_eq!(code, 2, "{stderr}");
    let (code, stdout, _) = gasket(&["run", &fixture("floats"), "--invoke", "half", "7"]);
    assert_eq!(code, 0);
    assert!(stdout.contains("i32:3"), "{stdout}");
}

#[test]
fn run_rejections_exit_1() {
    let (code, stdout, _) = gasket(&["run", &fixture("simd"), "--invoke", "f", "--json"]);
    assert_eq!(code, 1);
    let v = json_line(&stdout);
    assert!(
        stdout.starts_with("{\"status\":\"rejected\",\"kind\""),
        "{stdout}"
    );
    assert_eq!(v["kind"], "simd_not_allowed");
    let (code, stdout, _) = gasket(&[
        "run",
        &fixture("floats"),
        "--invoke",
        "half",
        "7",
        "--floats",
        "reject",
        "--json",
    ]);
    assert_eq!(code, 1);
    assert_eq!(json_line(&stdout)["kind"], "floats_not_allowed");
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

/// A contract for `--call`: `put` stores its input under "k" and returns it; `fail`
/// stores, then panics with "boom"; `trap` stores, then traps; `spin` never ends.
const CALL_PROBE: &str = r#"
(module
  (import "env" "input" (func $input (param i64)))
  (import "env" "register_len" (func $register_len (param i64) (result i64)))
  (import "env" "read_register" (func $read_register (param i64 i32)))
  (import "env" "return_value" (func $return_value (param i32 i32)))
  (import "env" "log_utf8" (func $log (param i32 i32)))
  (import "env" "panic_utf8" (func $panic (param i32 i32)))
  (import "env" "storage_write" (func $write (param i32 i32 i32 i32) (result i32)))
  (memory 1)
  (data (i32.const 0) "k")
  (data (i32.const 8) "put")
  (data (i32.const 16) "boom")
  (func $store (result i32)
    (local $len i32)
    (call $input (i64.const 0))
    (local.set $len (i32.wrap_i64 (call $register_len (i64.const 0))))
    (call $read_register (i64.const 0) (i32.const 1024))
    (drop (call $write (i32.const 0) (i32.const 1) (i32.const 1024) (local.get $len)))
    (local.get $len))
  (func (export "put")
    (call $log (i32.const 8) (i32.const 3))
    (call $return_value (i32.const 1024) (call $store)))
  (func (export "fail") (drop (call $store)) (call $panic (i32.const 16) (i32.const 4)))
  (func (export "trap") (drop (call $store)) unreachable)
  (func (export "spin") (loop $l (br $l))))
"#;

fn call_probe(dir: &std::path::Path) -> String {
    let path = dir.join("probe.wat");
    std::fs::write(&path, CALL_PROBE).unwrap();
    path.display().to_string()
}

#[test]
fn run_call_json_shape_and_field_order() {
    let dir = scratch_dir("call-json");
    let probe = call_probe(&dir);
    let (code, stdout, _) = gasket(&["run", &probe, "--call", "put", "--input", "hi", "--json"]);
    assert_eq!(code, 0);
    let v = json_line(&stdout);
    assert!(
        stdout.starts_with(
            "{\"status\":\"ok\",\"trap\":null,\"message\":null,\"return_hex\":\"6869\",\"logs\":[\"put\"],\"gas_used\":"
        ),
        "{stdout}"
    );
    assert!(v["gas_used"].as_u64().unwrap() > 0);

    let (code, stdout, _) = gasket(&[
        "run",
        &probe,
        "--call",
        "fail",
        "--input-hex",
        "00ff",
        "--json",
    ]);
    assert_eq!(code, 0);
    assert!(
        stdout.starts_with("{\"status\":\"panic\",\"trap\":null,\"message\":\"boom\",\"return_hex\":\"\",\"logs\":[],\"gas_used\":"),
        "{stdout}"
    );

    // The limit covers the start function's written-range charge of the data segments'
    // granule (cost table version 5), so the call runs out of gas in `spin`.
    let (code, stdout, _) = gasket(&["run", &probe, "--call", "spin", "--gas", "500000", "--json"]);
    assert_eq!(code, 0);
    assert_eq!(
        stdout.trim(),
        // The fields of a trap, then (added by issue 19) the wasm stack where it stopped.
        "{\"status\":\"trap\",\"trap\":\"out_of_gas\",\"message\":null,\"return_hex\":\"\",\"logs\":[],\"gas_used\":500000,\"state_changes\":[],\"state_error\":null,\"wasm_stack\":[{\"index\":11,\"name\":\"spin\"}]}"
    );

    let input = dir.join("input.bin");
    std::fs::write(&input, [1u8, 2, 3]).unwrap();
    let (code, stdout, _) = gasket(&[
        "run",
        &probe,
        "--call",
        "put",
        "--input-file",
        &input.display().to_string(),
        "--json",
    ]);
    assert_eq!(code, 0);
    assert_eq!(json_line(&stdout)["return_hex"], "010203");

    // Text output.
    let (code, stdout, _) = gasket(&["run", &probe, "--call", "put", "--input", "hi"]);
    assert_eq!(code, 0);
    assert!(
        stdout.contains("status: ok") && stdout.contains("log: put"),
        "{stdout}"
    );
    assert!(stdout.contains("set 6b = 6869"), "{stdout}");
}

#[test]
fn run_call_state_file_persists_and_is_untouched_on_failure() {
    let dir = scratch_dir("call-state");
    let state = dir.join("state.json");
    let _ = std::fs::remove_file(&state);
    let st = state.display().to_string();
    let counter = fixture("counter");
    for expected in ["0100000000000000", "0200000000000000"] {
        let (code, stdout, _) = gasket(&[
            "run",
            &counter,
            "--call",
            "increment",
            "--state",
            &st,
            "--json",
        ]);
        assert_eq!(code, 0, "{stdout}");
        assert_eq!(json_line(&stdout)["return_hex"], expected);
    }
    let text = std::fs::read_to_string(&state).unwrap();
    assert_eq!(
        text,
        "{\"format\":\"gasket-state\",\"version\":1,\"entries\":[{\"key_hex\":\"636f756e74\",\"value_hex\":\"0200000000000000\"}]}\n"
    );
    // No temporary file is left behind.
    let leftovers: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().contains(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");

    // Panic, trap and out of gas leave the file byte-for-byte untouched.
    let probe = call_probe(&dir);
    let (code, _, _) = gasket(&[
        "run", &probe, "--call", "put", "--input", "v", "--state", &st,
    ]);
    assert_eq!(code, 0);
    let before = std::fs::read(&state).unwrap();
    for method in ["fail", "trap", "spin"] {
        let (code, stdout, _) = gasket(&[
            "run", &probe, "--call", method, "--input", "other", "--state", &st, "--gas", "100000",
            "--json",
        ]);
        assert_eq!(code, 0, "{method}: {stdout}");
        assert_ne!(json_line(&stdout)["status"], "ok");
        assert_eq!(std::fs::read(&state).unwrap(), before, "{method}");
    }

    // A corrupt state file is a load failure (exit 1), and is not overwritten.
    std::fs::write(&state, "not json").unwrap();
    let (code, stdout, _) = gasket(&[
        "run",
        &counter,
        "--call",
        "increment",
        "--state",
        &st,
        "--json",
    ]);
    assert_eq!(code, 1);
    assert_eq!(json_line(&stdout)["kind"], "invalid_state");
    assert_eq!(std::fs::read_to_string(&state).unwrap(), "not json");
}

#[test]
fn run_call_usage_errors_and_rejections() {
    let dir = scratch_dir("call-usage");
    let probe = call_probe(&dir);
    let counter = fixture("counter");
    let usage: &[&[&str]] = &[
        &["run", &counter, "--call", "get", "--invoke", "get"],
        &["run", &counter],
        &["run", &counter, "--call", "nope"],
        &[
            "run",
            &counter,
            "--call",
            "get",
            "--input",
            "a",
            "--input-hex",
            "00",
        ],
        &["run", &counter, "--call", "get", "--input-hex", "zz"],
        &["run", &counter, "--call", "get", "7"],
        &["run", &counter, "--invoke", "get", "--caller", "bob"],
        &["run", &counter, "--invoke", "get", "--state", "x.json"],
        &[
            "run",
            &probe,
            "--call",
            "put",
            "--input-file",
            "/nonexistent/input",
        ],
    ];
    for args in usage {
        let (code, _, stderr) = gasket(args);
        assert_eq!(code, 2, "{args:?}: {stderr}");
    }
    // SIMD is rejected by the contract profile (exit 1).
    let (code, stdout, _) = gasket(&["run", &fixture("simd"), "--call", "f", "--json"]);
    assert_eq!(code, 1);
    assert_eq!(json_line(&stdout)["status"], "rejected");
}

#[test]
fn compile_then_run_the_artifact() {
    let dir = scratch_dir("compile");
    let out = dir.join("counter.gasket");
    let o = out.display().to_string();
    let (code, stdout, _) = gasket(&["compile", &fixture("counter"), "-o", &o, "--json"]);
    assert_eq!(code, 0, "{stdout}");
    let v = json_line(&stdout);
    assert_eq!(v["target"], "x86_64");
    assert_eq!(
        v["bytes"].as_u64().unwrap(),
        std::fs::metadata(&out).unwrap().len()
    );
    let (code, stdout, _) = gasket(&["run", &o, "--call", "increment", "--json"]);
    assert_eq!(code, 0);
    assert_eq!(json_line(&stdout)["return_hex"], "0100000000000000");

    // Corrupted: refused with a kind, exit 1, nothing runs.
    let mut bytes = std::fs::read(&out).unwrap();
    let n = bytes.len();
    bytes[n - 1] ^= 1;
    let bad = dir.join("bad.gasket");
    std::fs::write(&bad, &bytes).unwrap();
    let (code, stdout, _) = gasket(&[
        "run",
        &bad.display().to_string(),
        "--call",
        "increment",
        "--json",
    ]);
    assert_eq!(code, 1);
    assert_eq!(json_line(&stdout)["kind"], "corrupt_artifact");

    // Another target or profile: refused.
    let arm = dir.join("arm.gasket").display().to_string();
    let (code, _, _) = gasket(&[
        "compile",
        &fixture("counter"),
        "-o",
        &arm,
        "--target",
        "aarch64",
    ]);
    assert_eq!(code, 0);
    let (code, stdout, _) = gasket(&["run", &arm, "--call", "increment", "--json"]);
    assert_eq!(code, 1);
    assert_eq!(json_line(&stdout)["kind"], "wrong_target");
    // An artifact runs under the profile it was compiled with, unless another is asked for.
    let (code, stdout, _) = gasket(&["run", &o, "--invoke", "get", "--json"]);
    assert_eq!(code, 0, "{stdout}");
    assert_eq!(json_line(&stdout)["status"], "ok");
    let (code, stdout, _) = gasket(&[
        "run",
        &o,
        "--invoke",
        "get",
        "--profile",
        "permissive",
        "--json",
    ]);
    assert_eq!(code, 1);
    assert_eq!(json_line(&stdout)["kind"], "wrong_profile");

    // A plain program compiled under the permissive profile runs with --invoke.
    let fib = dir.join("fib.gasket").display().to_string();
    let (code, _, _) = gasket(&[
        "compile",
        &fixture("fib"),
        "-o",
        &fib,
        "--profile",
        "permissive",
    ]);
    assert_eq!(code, 0);
    let (code, stdout, _) = gasket(&["run", &fib, "--invoke", "run", "20", "--json"]);
    assert_eq!(code, 0);
    assert_eq!(json_line(&stdout)["results"][0], "i64:6765");

    // Rejected input: exit 1.
    let (code, _, _) = gasket(&["compile", &fixture("simd"), "-o", &o]);
    assert_eq!(code, 1);
}

#[test]
fn run_target_aarch64_needs_the_emulator_program() {
    let arith = fixture("arith");
    let args = [
        "run", &arith, "--invoke", "add", "-5", "7", "--json", "--target",
    ];
    // This machine's own target is the default.
    let native: Vec<&str> = args.iter().copied().chain(["x86_64"]).collect();
    let (code, stdout, _) = gasket(&native);
    assert_eq!(code, 0);
    assert_eq!(json_line(&stdout)["results"][0], "i32:2");
    // gasket never links the emulator: without gasket-aarch64, exit 1 and say how to get it.
    let out = Command::new(env!("CARGO_BIN_EXE_gasket"))
        .args(args.iter().copied().chain(["aarch64"]))
        .env("GASKET_AARCH64", "/nonexistent/gasket-aarch64")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let v = json_line(&String::from_utf8_lossy(&out.stdout));
    assert_eq!(v["kind"], "unsupported_machine");
    let message = v["error"].as_str().unwrap();
    assert!(
        message.contains("/nonexistent/gasket-aarch64")
            && message.contains("cargo build --release -p gasket-aarch64-tests --features emu")
            && message.contains("GPL-2.0"),
        "{message}"
    );
}

// ---- Issue 21: frictions found on a fresh clone ----

fn float_div(dir: &std::path::Path) -> String {
    let file = dir.join("fl.wat");
    std::fs::write(
        &file,
        r#"(module (func (export "div") (param f64 f64) (result f64)
            (f64.div (local.get 0) (local.get 1))))"#,
    )
    .unwrap();
    file.display().to_string()
}

/// Item 1: every float syntax the README accepts works as an argument, with options after.
#[test]
fn negative_float_specials_are_arguments() {
    let dir = scratch_dir("negfloats");
    let file = float_div(&dir);
    let run = |a: &str, b: &str| {
        let (code, stdout, stderr) = gasket(&["run", &file, "--invoke", "div", a, b, "--json"]);
        assert_eq!(code, 0, "{a} {b}: {stderr}");
        json_line(&stdout)["results"][0].clone()
    };
    assert_eq!(run("inf", "-inf"), "f64:nan:0x7ff8000000000000");
    assert_eq!(run("-inf", "2"), "f64:-inf");
    assert_eq!(run("1", "-inf"), "f64:-0.0");
    assert_eq!(run("-.5", "-1e300"), "f64:5e-301");
    assert_eq!(run("-nan", "1"), "f64:nan:0x7ff8000000000000");
    assert_eq!(run("-infinity", "-.25"), "f64:inf");
    // Options between and after the arguments are still options.
    let (code, stdout, _) = gasket(&[
        "run", &file, "--invoke", "div", "-inf", "--gas", "100000", "-0.5", "--json",
    ]);
    assert_eq!(code, 0);
    assert_eq!(json_line(&stdout)["results"][0], "f64:inf");
    // An option's value stays that option's (`--gas -inf` is not a number).
    let (code, _, _) = gasket(&["run", &file, "--invoke", "div", "1", "2", "--gas", "-inf"]);
    assert_eq!(code, 2);
    // Options after `--` are arguments: the message says so.
    let (code, _, stderr) = gasket(&["run", &file, "--invoke", "div", "--", "1", "2", "--json"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("after `--`"), "{stderr}");
    std::fs::remove_dir_all(&dir).ok();
}

/// Item 2: `compile` then `run` work with both commands' defaults; a profile mismatch
/// names both profiles and the flag that fixes it.
#[test]
fn compiled_artifacts_run_under_their_own_profile() {
    let dir = scratch_dir("artifact-profile");
    let fib = dir.join("fib.gasket").display().to_string();
    let (code, _, _) = gasket(&["compile", &fixture("fib"), "-o", &fib]);
    assert_eq!(code, 0);
    let (code, stdout, stderr) = gasket(&["run", &fib, "--invoke", "run", "20", "--json"]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(json_line(&stdout)["results"][0], "i64:6765");
    let (code, stdout, _) = gasket(&[
        "run",
        &fib,
        "--invoke",
        "run",
        "20",
        "--profile",
        "permissive",
        "--json",
    ]);
    assert_eq!(code, 1);
    let v = json_line(&stdout);
    assert_eq!(v["kind"], "wrong_profile");
    let message = v["error"].as_str().unwrap();
    assert!(
        message.contains("compiled with `--profile contract`")
            && message.contains("`--profile permissive` was asked for")
            && message.contains("run it with `--profile contract`"),
        "{message}"
    );
    // The float policy is part of the profile, and is taken from the artifact too.
    let strict = dir.join("strict.gasket").display().to_string();
    let (code, _, _) = gasket(&[
        "compile",
        &fixture("fib"),
        "-o",
        &strict,
        "--profile",
        "permissive",
        "--floats",
        "reject",
    ]);
    assert_eq!(code, 0);
    let (code, stdout, _) = gasket(&["run", &strict, "--invoke", "run", "10", "--json"]);
    assert_eq!(code, 0, "{stdout}");
    let (code, stdout, _) = gasket(&[
        "run",
        &strict,
        "--invoke",
        "run",
        "10",
        "--floats",
        "canonicalize",
        "--json",
    ]);
    assert_eq!(code, 1);
    let message = json_line(&stdout)["error"].to_string();
    assert!(
        message.contains("--profile permissive --floats reject"),
        "{message}"
    );
    std::fs::remove_dir_all(&dir).ok();
}

/// Item 7: a usage error under `--json` is also one JSON line on stdout.
#[test]
fn usage_errors_print_one_json_line() {
    let arith = fixture("arith");
    let cases: &[&[&str]] = &[
        // Refused by the argument parser.
        &[
            "run", &arith, "--invoke", "add", "1", "2", "--gas", "lots", "--json",
        ],
        &["check", &arith, "--profile", "lax", "--json"],
        // Refused by gasket.
        &["run", &arith, "--invoke", "add", "1", "--json"],
        &[
            "run", &arith, "--invoke", "add", "1", "2", "--caller", "bob", "--json",
        ],
        &["run", &fixture("counter"), "--call", "nope", "--json"],
        &[
            "run",
            &fixture("counter"),
            "--call",
            "get",
            "--input-hex",
            "zz",
            "--json",
        ],
    ];
    for args in cases {
        let (code, stdout, stderr) = gasket(args);
        assert_eq!(code, 2, "{args:?}");
        let v = json_line(&stdout);
        assert_eq!(v["status"], "usage", "{args:?}");
        let error = v["error"].as_str().unwrap();
        assert!(
            !error.is_empty() && stderr.contains(error),
            "{error} / {stderr}"
        );
    }
    // Without --json, stdout stays empty.
    let (code, stdout, _) = gasket(&["run", &arith, "--invoke", "add", "1"]);
    assert_eq!((code, stdout.as_str()), (2, ""));
}

/// Item 12: a non-function export is named as such, and a wrong argument count shows the
/// signature.
#[test]
fn non_function_exports_and_signatures_are_explained() {
    let token = gasket_fixtures::c_contract("token")
        .expect("token contract")
        .path()
        .display()
        .to_string();
    for mode in ["--call", "--invoke"] {
        let (code, _, stderr) = gasket(&["run", &token, mode, "memory"]);
        assert_eq!(code, 2);
        assert!(
            stderr.contains("export \"memory\" is a memory, not a function")
                && stderr.contains("exported functions: init, mint"),
            "{mode}: {stderr}"
        );
    }
    let (code, _, stderr) = gasket(&["run", &fixture("arith"), "--invoke", "fac"]);
    assert_eq!(code, 2);
    assert!(
        stderr.contains("fac takes 1 argument(s), got 0: its signature is fac(i64) -> (i64)"),
        "{stderr}"
    );
}

/// Item 4: a `.wasm` file without the wasm header is "not a wasm module", never bad text.
#[test]
fn binary_garbage_is_not_a_wasm_module() {
    let dir = scratch_dir("garbage");
    let cases: [(&str, &[u8], &str); 4] = [
        (
            "garbage.wasm",
            &[0x1e, 0xdf, 0x04, 0x1e, 0xff, 0x00],
            "it starts with 0x1edf041e",
        ),
        ("empty.wasm", b"", "the file is empty"),
        ("text.wasm", b"(module)", "it starts with 0x286d6f64"),
        (
            "garbage.bin",
            &[0xff, 0xfe, 0x00, 0x01],
            "nor WebAssembly text (not UTF-8)",
        ),
    ];
    for (name, bytes, detail) in cases {
        let path = dir.join(name);
        std::fs::write(&path, bytes).unwrap();
        let (code, stdout, _) = gasket(&["check", path.to_str().unwrap(), "--json"]);
        assert_eq!(code, 1);
        let v = json_line(&stdout);
        assert_eq!(v["kind"], "invalid_module", "{name}");
        let error = v["error"].as_str().unwrap();
        assert!(
            error.contains("is not a wasm module (no \\0asm header)") && error.contains(detail),
            "{name}: {error}"
        );
    }
    // Text without an extension is still read as text.
    let text = dir.join("module.txt");
    std::fs::write(&text, "(module (func (export \"f\")))").unwrap();
    assert_eq!(gasket(&["check", text.to_str().unwrap()]).0, 0);
    std::fs::remove_dir_all(&dir).ok();
}

/// Item 5: errors are one line, and a compiled artifact given where wasm is expected is
/// named as such.
#[test]
fn parser_errors_are_one_line_and_artifacts_are_recognised() {
    let dir = scratch_dir("oneline");
    let artifact = dir.join("counter.gasket").display().to_string();
    assert_eq!(
        gasket(&["compile", &fixture("counter"), "-o", &artifact]).0,
        0
    );
    for command in ["check", "instrument", "compile"] {
        let out = dir.join("out").display().to_string();
        let mut args = vec![command, artifact.as_str()];
        if command != "check" {
            args.extend(["-o", &out]);
        }
        let (code, _, stderr) = gasket(&args);
        assert_eq!(code, 1, "{command}");
        assert_eq!(stderr.lines().count(), 1, "{command}: {stderr}");
        assert!(
            stderr.contains("is a compiled artifact") && stderr.contains("use `gasket run`"),
            "{command}: {stderr}"
        );
        args.push("--json");
        let (_, stdout, _) = gasket(&args);
        assert_eq!(json_line(&stdout)["kind"], "invalid_module");
    }
    // Bytes that start like wasm but are cut short: one line too.
    let short = dir.join("short.wasm");
    std::fs::write(&short, b"\0asm\x01\0\0\0\x01").unwrap();
    let (code, _, stderr) = gasket(&["check", short.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert_eq!(
        stderr.lines().count(),
        2,
        "header and one problem: {stderr}"
    );
    std::fs::remove_dir_all(&dir).ok();
}

/// Item 6: `out_of_gas` has the same fields whether the gas meter or a host function's
/// charge ran out.
#[test]
fn out_of_gas_reports_the_same_fields_however_it_happens() {
    let burner = gasket_fixtures::c_contract("gas_burner")
        .expect("gas_burner contract")
        .path()
        .display()
        .to_string();
    let bomb = fixture("storage_bomb");
    let meter = [
        "run",
        &burner,
        "--call",
        "burn",
        "--input-hex",
        "ffffffff00000000",
    ];
    let host = ["run", &bomb, "--call", "run"];
    let mut lines = Vec::new();
    for args in [&meter[..], &host[..]] {
        let args: Vec<&str> = args
            .iter()
            .copied()
            .chain(["--gas", "100000", "--json"])
            .collect();
        let (code, stdout, _) = gasket(&args);
        assert_eq!(code, 0);
        let v = json_line(&stdout);
        assert_eq!(v["trap"], "out_of_gas", "{stdout}");
        lines.push(v);
    }
    assert_eq!(lines[0]["message"], lines[1]["message"]);
    assert!(lines[1]["message"].is_null(), "{}", lines[1]);
}

/// Item 8: `--call --json` lists the state changes text mode prints, in order, in hex.
#[test]
fn call_json_lists_state_changes() {
    let dir = scratch_dir("call-changes");
    let probe = call_probe(&dir);
    let (code, stdout, _) = gasket(&["run", &probe, "--call", "put", "--input", "hi", "--json"]);
    assert_eq!(code, 0);
    let v = json_line(&stdout);
    assert_eq!(
        v["state_changes"],
        serde_json::json!([{"key_hex": "6b", "value_hex": "6869"}])
    );
    assert!(stdout.trim_end().ends_with(",\"state_changes\":[{\"key_hex\":\"6b\",\"value_hex\":\"6869\"}],\"state_error\":null}"), "{stdout}");
    // A failed call commits, and lists, nothing.
    let (_, stdout, _) = gasket(&["run", &probe, "--call", "fail", "--json"]);
    assert_eq!(json_line(&stdout)["state_changes"], serde_json::json!([]));
    // Removals have a null value (kv's remove).
    let kv = gasket_fixtures::c_contract("kv")
        .expect("kv")
        .path()
        .display()
        .to_string();
    let state = dir.join("kv.json").display().to_string();
    // Key "k" (length 1, u32 LE), value "v".
    let (code, stdout, _) = gasket(&[
        "run",
        &kv,
        "--call",
        "set",
        "--input-hex",
        "010000006b76",
        "--state",
        &state,
        "--json",
    ]);
    assert_eq!(code, 0, "{stdout}");
    let (code, stdout, _) = gasket(&[
        "run", &kv, "--call", "remove", "--input", "k", "--state", &state, "--json",
    ]);
    assert_eq!(code, 0, "{stdout}");
    assert_eq!(
        json_line(&stdout)["state_changes"],
        serde_json::json!([{"key_hex": "6b", "value_hex": null}])
    );
    std::fs::remove_dir_all(&dir).ok();
}

/// Item 11: a state file that cannot be written is found before the call runs.
#[test]
fn unwritable_state_file_is_refused_before_running() {
    let dir = scratch_dir("state-dir");
    let probe = call_probe(&dir);
    let (code, stdout, _) = gasket(&[
        "run",
        &probe,
        "--call",
        "put",
        "--input",
        "v",
        "--state",
        "/nonexistent-dir/x.json",
        "--json",
    ]);
    assert_eq!(code, 1);
    let v = json_line(&stdout);
    assert_eq!(v["kind"], "io_error");
    let error = v["error"].as_str().unwrap();
    assert!(
        error.contains("/nonexistent-dir/x.json") && error.contains("nothing was run"),
        "{error}"
    );
    // No probe file is left behind where the state file can be written.
    let state = dir.join("s.json").display().to_string();
    let (code, stdout, _) = gasket(&[
        "run", &probe, "--call", "put", "--input", "v", "--state", &state, "--json",
    ]);
    assert_eq!(code, 0, "{stdout}");
    assert_eq!(json_line(&stdout)["state_error"], serde_json::Value::Null);
    let names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        names
            .iter()
            .all(|n| !n.ends_with(".probe") && !n.ends_with(".tmp")),
        "{names:?}"
    );
    std::fs::remove_dir_all(&dir).ok();
}

fn readme() -> String {
    std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md")).unwrap()
}

/// The options `gasket <command> --help` lists (but `--help`), each as its spellings
/// (`-o`, `--output`).
fn options(command: &str) -> Vec<Vec<String>> {
    let (code, stdout, _) = gasket(&[command, "--help"]);
    assert_eq!(code, 0);
    stdout
        .lines()
        .map(str::trim_start)
        // Option lines, not the `- value: …` lines that list an option's values.
        .filter(|l| l.starts_with("--") || l.get(2..4) == Some(", "))
        .filter(|l| !l.starts_with("-h, --help"))
        .map(|l| {
            l.split(' ')
                .take_while(|w| w.starts_with('-'))
                .map(|w| w.trim_end_matches(',').to_string())
                .collect()
        })
        .collect()
}

/// Item 3: the README says how to get `gasket` on PATH before its examples call it.
#[test]
fn readme_says_how_to_install_gasket_before_using_it() {
    let readme = readme();
    let install = readme
        .find("cargo install --locked --path vm")
        .expect("README gives the install command");
    let first_use = readme.find("\ngasket ").expect("README uses gasket");
    assert!(install < first_use, "the install command comes first");
    assert!(readme.contains("target/release/gasket"));
    // `vm` is the package that has the binary.
    let manifest = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml"));
    assert!(manifest.unwrap().contains("name = \"gasket\""));
}

/// Item 9: help, version and the README's synopses say what the CLI does.
#[test]
fn help_version_and_readme_synopses_agree_with_the_cli() {
    let (code, stdout, _) = gasket(&["--version"]);
    assert_eq!(code, 0);
    for part in [
        "compiler: gasket-singlepass",
        "artifact format ",
        "cost table: version 8",
        "host ABI: version 1",
    ] {
        assert!(stdout.contains(part), "{part}: {stdout}");
    }
    let (_, stdout, _) = gasket(&["run", "--help"]);
    assert!(stdout.contains(".gasket"), "{stdout}");
    for command in ["check", "instrument", "compile"] {
        let (_, stdout, _) = gasket(&[command, "--help"]);
        let at = stdout.find("--profile <PROFILE>").unwrap();
        let described = stdout[at..].lines().nth(1).unwrap().trim();
        assert!(
            described.starts_with("Profile to"),
            "{command}: --profile has no text: {stdout}"
        );
    }
    // Every option of a command is in that command's synopsis lines in the README.
    let readme = readme();
    for command in ["run", "compile", "check", "instrument"] {
        let prefix = format!("gasket {command} <");
        let synopses: Vec<&str> = readme.lines().filter(|l| l.starts_with(&prefix)).collect();
        assert!(!synopses.is_empty(), "{command}");
        for spellings in options(command) {
            // The spelling as a whole word (`--input`, not the start of `--input-hex`).
            let listed = |l: &&str| {
                spellings.iter().any(|o| {
                    l.match_indices(o.as_str()).any(|(at, _)| {
                        let next = l[at + o.len()..].chars().next();
                        !next.is_some_and(|c| c.is_alphanumeric() || c == '-')
                    })
                })
            };
            // `run`'s two synopses (--invoke, --call) share it; the others have one.
            assert!(
                synopses.iter().any(listed),
                "README's `gasket {command}` synopsis lacks {spellings:?}"
            );
        }
    }
    // --call's synopsis has every --call option.
    let call = readme
        .lines()
        .find(|l| l.starts_with("gasket run <contract> --call"))
        .unwrap();
    for option in [
        "--account",
        "--block-height",
        "--block-timestamp",
        "--profile",
        "--state",
        "--caller",
    ] {
        assert!(call.contains(option), "{option}");
    }
    assert!(
        readme.contains("\"code_bytes\":N,\"sha256\""),
        "compile --json is documented"
    );
}

/// Item 10: instrumented output says what it is for, and `check` recognises it.
#[test]
fn instrumented_output_is_explained() {
    let dir = scratch_dir("instrumented");
    let out = dir.join("arith.instrumented.wasm").display().to_string();
    let (code, stdout, _) = gasket(&[
        "instrument",
        &fixture("arith"),
        "-o",
        &out,
        "--profile",
        "permissive",
    ]);
    assert_eq!(code, 0);
    assert!(
        stdout.contains("audit gas") && stdout.contains("take the original module"),
        "{stdout}"
    );
    let (code, stdout, _) = gasket(&["check", &out, "--profile", "permissive", "--json"]);
    assert_eq!(code, 1);
    let v = json_line(&stdout);
    assert_eq!(v["kind"], "reserved_import");
    let hint = v["hint"].as_str().unwrap();
    assert!(
        hint.contains("`gasket instrument` output") && hint.contains("original module"),
        "{hint}"
    );
    let (_, _, stderr) = gasket(&["check", &out, "--profile", "permissive"]);
    assert!(
        stderr.contains("hint: this looks like `gasket instrument` output"),
        "{stderr}"
    );
    // `compile` and `run` say the same.
    let o = dir.join("x.gasket").display().to_string();
    let (code, stdout, _) = gasket(&["compile", &out, "-o", &o, "--json"]);
    assert_eq!(code, 1);
    assert!(json_line(&stdout)["hint"]
        .as_str()
        .unwrap()
        .contains("original module"));
    let (code, stdout, _) = gasket(&["run", &out, "--invoke", "add", "1", "2", "--json"]);
    assert_eq!(code, 1);
    assert!(json_line(&stdout)["hint"]
        .as_str()
        .unwrap()
        .contains("original module"));
    assert!(readme().contains("It is for\n  auditing where gas is charged"));
    std::fs::remove_dir_all(&dir).ok();
}

/// Item 14: real contracts of other chains pass the permissive profile only, and the
/// contract profile's rejection says so.
#[test]
fn foreign_contracts_pass_the_permissive_profile_only() {
    let readme = readme();
    assert!(readme.contains("all 38 compile under the `permissive` profile"));
    assert!(readme.contains("pass `--profile permissive` only"));
    let Some(corpus) = gasket_fixtures::corpus_dir() else {
        eprintln!("../shared/corpus is absent: the corpus part of this test is skipped");
        return;
    };
    for name in [
        "cosmwasm/hackatom.wasm",
        "ink/erc20.wasm",
        "near/w_near.wasm",
    ] {
        let path = corpus.join(name).display().to_string();
        let (code, stdout, _) = gasket(&["check", &path, "--json"]);
        assert_eq!(code, 1, "{name}");
        let hint = json_line(&stdout)["hint"].as_str().unwrap().to_string();
        assert!(hint.contains("pass `--profile permissive` only"), "{hint}");
        let (code, _, _) = gasket(&["check", &path, "--profile", "permissive"]);
        assert_eq!(code, 0, "{name}");
    }
    // `run --call` (the contract profile) says the same.
    let hackatom = corpus.join("cosmwasm/hackatom.wasm").display().to_string();
    let (code, stdout, _) = gasket(&["run", &hackatom, "--call", "instantiate", "--json"]);
    assert_eq!(code, 1);
    let v = json_line(&stdout);
    assert_eq!(v["kind"], "unknown_import");
    assert!(v["hint"].as_str().unwrap().contains("--profile"), "{v}");
    // Only the corpus binary without imports passes the contract profile.
    let contract_ok: Vec<String> = gasket_fixtures::corpus_contracts()
        .into_iter()
        .filter(|(path, _)| gasket(&["check", path.to_str().unwrap()]).0 == 0)
        .map(|(path, _)| path.display().to_string())
        .collect();
    assert!(
        contract_ok.len() == 1 && contract_ok[0].ends_with("cosmwasm/empty.wasm"),
        "{contract_ok:?}"
    );
}

/// `-o` naming a pipe or a device writes into it and leaves it what it was. Writing by
/// rename once turned `/dev/null` into a regular file for the whole machine (the
/// emulator CLI test compiles to `-o /dev/null`).
#[test]
fn compile_into_a_pipe_writes_into_it_and_keeps_it_a_pipe() {
    use std::os::unix::ffi::OsStrExt;
    use std::os::unix::fs::FileTypeExt;
    let dir = scratch_dir("fifo");
    let fifo = dir.join("out.fifo");
    let _ = std::fs::remove_file(&fifo);
    let path = std::ffi::CString::new(fifo.as_os_str().as_bytes()).unwrap();
    // SAFETY: `path` is a NUL-terminated string that outlives the call.
    assert_eq!(unsafe { libc::mkfifo(path.as_ptr(), 0o600) }, 0);
    let reading = fifo.clone();
    // Opening a pipe blocks until the other end opens too: gasket writes, this reads.
    let reader = std::thread::spawn(move || std::fs::read(reading).expect("reads the pipe"));
    let out = fifo.display().to_string();
    let (code, stdout, stderr) = gasket(&["compile", &fixture("counter"), "-o", &out, "--json"]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    // Checked before joining: a pipe replaced by a file would leave the reader waiting.
    let kind = std::fs::symlink_metadata(&fifo).unwrap().file_type();
    assert!(kind.is_fifo(), "the pipe was replaced: {kind:?}");
    let bytes = reader.join().unwrap();
    assert!(
        bytes.starts_with(b"GASKETMD"),
        "an artifact went through the pipe"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
