//! The command line on both targets: `gasket-aarch64 run … --target aarch64` (emulated)
//! prints exactly what `--target x86_64` (native, the same code as `gasket`) prints, with
//! `--json` and as text, for plain functions, contract calls with state files, traps, out
//! of gas and panics; `compile --target` artifacts run on their own target only; and
//! `gasket run --target aarch64` hands the command to `gasket-aarch64`.

use std::path::{Path, PathBuf};
use std::process::Command;

const EMU: &str = env!("CARGO_BIN_EXE_gasket-aarch64");

/// Exit code, stdout, stderr.
fn run(program: &Path, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(program)
        .args(args)
        .env_remove("GASKET_DELEGATED")
        .output()
        .expect("runs");
    (
        out.status.code().expect("exited"),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn emu(args: &[&str]) -> (i32, String, String) {
    run(Path::new(EMU), args)
}

/// A WAT fixture, or a C contract's `.wasm`.
fn fixture(name: &str) -> String {
    match gasket_fixtures::get(name) {
        Some(f) => f.path().display().to_string(),
        None => gasket_fixtures::c_contract(name)
            .expect("fixture exists")
            .path()
            .display()
            .to_string(),
    }
}

fn scratch_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("gasket-a64-cli-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

/// Runs `args` with `--target x86_64` and `--target aarch64` and asserts identical exit
/// codes and stdout; returns stdout.
fn same_on_both(args: &[&str]) -> String {
    let with = |target: &str| {
        let mut a = args.to_vec();
        a.extend(["--target", target]);
        emu(&a)
    };
    let (x_code, x_out, x_err) = with("x86_64");
    let (a_code, a_out, a_err) = with("aarch64");
    assert_eq!(
        (x_code, &x_out),
        (a_code, &a_out),
        "{args:?}\nx86_64 stderr: {x_err}\naarch64 stderr: {a_err}"
    );
    x_out
}

fn json(stdout: &str) -> serde_json::Value {
    assert_eq!(stdout.lines().count(), 1, "one line: {stdout}");
    serde_json::from_str(stdout).expect("JSON")
}

#[test]
fn invoke_gives_the_same_output_on_both_targets() {
    let arith = fixture("arith");
    let cases: &[(&[&str], &str)] = &[
        (&["--invoke", "add", "-5", "7"], "ok"),
        (&["--invoke", "fac", "20"], "ok"),
        (&["--invoke", "sum_squares", "1000"], "ok"),
        (&["--invoke", "grow", "2"], "ok"),
        (&["--invoke", "div", "7", "0"], "trap"),
        (&["--invoke", "div", "-2147483648", "-1"], "trap"),
        (&["--invoke", "spin", "--gas", "100000"], "trap"),
        (&["--invoke", "recurse", "1000000"], "trap"),
    ];
    for (args, status) in cases {
        let mut a = vec!["run", arith.as_str()];
        a.extend_from_slice(args);
        // Text, then JSON.
        same_on_both(&a);
        a.push("--json");
        let v = json(&same_on_both(&a));
        assert_eq!(v["status"], *status, "{a:?}: {v}");
        assert!(v["gas_used"].as_u64().unwrap() > 0, "{a:?}: {v}");
    }
    let fib = fixture("fib");
    let v = json(&same_on_both(&[
        "run", &fib, "--invoke", "run", "20", "--json",
    ]));
    assert_eq!(v["results"][0], "i64:6765");
}

#[test]
fn contract_calls_and_state_files_agree() {
    let dir = scratch_dir("state");
    for target in ["x86_64", "aarch64"] {
        let state = dir.join(format!("{target}.json")).display().to_string();
        let kv = fixture("kv");
        // Key "k" (length 1, u32 LE), value "v1".
        for (method, input) in [("set", "010000006b7631"), ("has", "6b"), ("get", "6b")] {
            let (code, out, err) = emu(&[
                "run",
                &kv,
                "--call",
                method,
                "--input-hex",
                input,
                "--state",
                &state,
                "--json",
                "--target",
                target,
            ]);
            assert_eq!(code, 0, "{target} {method}: {out}{err}");
            assert_eq!(json(&out)["status"], "ok", "{target} {method}: {out}");
        }
    }
    let x = std::fs::read(dir.join("x86_64.json")).unwrap();
    let a = std::fs::read(dir.join("aarch64.json")).unwrap();
    assert_eq!(x, a, "state files differ");

    let counter = fixture("counter");
    let v = json(&same_on_both(&[
        "run",
        &counter,
        "--call",
        "increment",
        "--json",
    ]));
    assert_eq!(v["return_hex"], "0100000000000000");
    // Text output lists the storage writes.
    assert!(same_on_both(&["run", &counter, "--call", "increment"]).contains("set "));
    let burner = fixture("gas_burner");
    let rounds = "e803000000000000"; // 1000
    let v = json(&same_on_both(&[
        "run",
        &burner,
        "--call",
        "burn",
        "--input-hex",
        rounds,
        "--json",
    ]));
    assert_eq!(v["status"], "ok");
    let v = json(&same_on_both(&[
        "run",
        &burner,
        "--call",
        "burn",
        "--input-hex",
        rounds,
        "--gas",
        "20000",
        "--json",
    ]));
    assert_eq!(v["trap"], "out_of_gas", "{v}");
    let v = json(&same_on_both(&[
        "run", &burner, "--call", "burn", "--input", "x", "--json",
    ]));
    assert_eq!(v["status"], "panic", "{v}");
    let sha = fixture("sha256");
    let v = json(&same_on_both(&[
        "run", &sha, "--call", "compare", "--input", "abc", "--json",
    ]));
    assert_eq!(v["status"], "ok", "{v}");
}

#[test]
fn rejections_and_usage_errors_agree() {
    // Exit 1 with the same JSON, exit 2 with no stdout.
    same_on_both(&["run", &fixture("floats"), "--invoke", "f", "--json"]);
    same_on_both(&["run", "/not/here.wat", "--invoke", "f", "--json"]);
    assert_eq!(
        emu(&[
            "run",
            &fixture("arith"),
            "--invoke",
            "nope",
            "--target",
            "aarch64"
        ])
        .0,
        2
    );
}

#[test]
fn compiled_artifacts_run_on_their_target() {
    let dir = scratch_dir("compile");
    let counter = fixture("counter");
    for target in ["x86_64", "aarch64"] {
        let out = dir.join(format!("{target}.gasket")).display().to_string();
        let (code, stdout, _) = emu(&[
            "compile", &counter, "-o", &out, "--target", target, "--json",
        ]);
        assert_eq!(code, 0, "{stdout}");
        assert_eq!(json(&stdout)["target"], target);
        let args = [
            "run",
            &out,
            "--call",
            "increment",
            "--json",
            "--target",
            target,
        ];
        let (code, stdout, _) = emu(&args);
        assert_eq!(code, 0, "{stdout}");
        assert_eq!(json(&stdout)["return_hex"], "0100000000000000");
        let other = if target == "x86_64" {
            "aarch64"
        } else {
            "x86_64"
        };
        let (code, stdout, _) = emu(&[
            "run",
            &out,
            "--call",
            "increment",
            "--json",
            "--target",
            other,
        ]);
        assert_eq!(code, 1);
        assert_eq!(json(&stdout)["kind"], "wrong_target");
    }
    // gasket-aarch64 compiles and runs for AArch64 by default.
    let (_, stdout, _) = emu(&["compile", &counter, "-o", "/dev/null", "--json"]);
    assert_eq!(json(&stdout)["target"], "aarch64");
}

/// `gasket run --target aarch64` on this x86-64 host runs gasket-aarch64 with the same
/// arguments. Needs the `gasket` binary next to gasket-aarch64 (built by `cargo test
/// --workspace`, which the test command runs first); skipped otherwise.
#[test]
fn gasket_hands_aarch64_runs_to_the_emulator_program() {
    let gasket = Path::new(EMU).with_file_name(format!("gasket{}", std::env::consts::EXE_SUFFIX));
    if !gasket.is_file() {
        eprintln!("skipped: {} not built", gasket.display());
        return;
    }
    let arith = fixture("arith");
    let args = [
        "run", &arith, "--invoke", "fac", "20", "--json", "--target", "aarch64",
    ];
    let via_gasket = run(&gasket, &args);
    assert_eq!(via_gasket, emu(&args));
    assert_eq!(via_gasket.0, 0, "{via_gasket:?}");
    let native = run(&gasket, &args[..6]);
    assert_eq!(native.1, via_gasket.1, "x86_64 native vs aarch64 emulated");

    // Pointed at a program that is not there: exit 1, how to build it, and why.
    let out = Command::new(&gasket)
        .args(args)
        .env("GASKET_AARCH64", "/nonexistent/gasket-aarch64")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let v = json(&String::from_utf8_lossy(&out.stdout));
    assert_eq!(v["kind"], "unsupported_machine");
    let message = v["error"].as_str().unwrap();
    assert!(
        message.contains("cargo build --release -p gasket-aarch64-tests --features emu")
            && message.contains("GPL"),
        "{message}"
    );
}

#[test]
fn gas_reports_and_wasm_stacks_agree() {
    let file = gasket_fixtures::GAS_REPORT.path().display().to_string();
    for mode in ["--invoke", "--call"] {
        for (method, gas) in [
            ("run", "10000000"),
            ("grow", "10000000"),
            ("trap", "10000000"),
            ("panic", "10000000"),
            // Past the start function's written-range charge of the data segment
            // (31 454, cost table version 5), so the call itself runs out of gas.
            ("run", "31954"),
            ("spin", "51454"),
        ] {
            let base = ["run", &file, mode, method, "--gas", gas, "--gas-report"];
            // Text, then JSON.
            same_on_both(&base);
            let v = json(&same_on_both(&[&base[..], &["--json"]].concat()));
            let report = &v["gas_report"];
            assert_eq!(report["gas_used"], v["gas_used"], "{base:?}: {v}");
            let sum = |list: &str| -> u64 {
                let entries = report[list].as_array().expect("list");
                entries.iter().map(|e| e["gas"].as_u64().unwrap()).sum()
            };
            let memory_write = report["memory_write"].as_u64().expect("memory_write");
            assert_eq!(
                sum("by_function") + memory_write,
                v["gas_used"].as_u64().unwrap(),
                "{v}"
            );
            assert_eq!(sum("by_class"), v["gas_used"].as_u64().unwrap(), "{v}");
            // Without the flag: the stack of a failed call, found by a run again.
            let plain = json(&same_on_both(&[
                "run", &file, mode, method, "--gas", gas, "--json",
            ]));
            assert_eq!(plain.get("wasm_stack"), v.get("wasm_stack"), "{base:?}");
        }
    }
}
