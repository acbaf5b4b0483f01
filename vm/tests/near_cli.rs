//! `gasket run --abi near`: exit codes, the `--json` shape (the `--call` shape plus
//! `return_text` and `receipts`), state kept between calls, and unknown imports rejected
//! by name. Uses the shared corpus (and says so when it is absent).

mod cli_support;

use cli_support::{gasket, json_line};

fn near_contract(name: &str) -> Option<String> {
    let Some(dir) = gasket_fixtures::corpus_dir() else {
        eprintln!("shared corpus absent: skipping");
        return None;
    };
    let path = dir.join("near").join(format!("{name}.wasm"));
    path.is_file().then(|| path.display().to_string())
}

fn scratch(tag: &str) -> std::path::PathBuf {
    cli_support::scratch_dir(&format!("near-cli-{tag}"))
}

#[test]
fn status_message_session_keeps_state_between_calls() {
    let Some(wasm) = near_contract("sdkrs_status_message") else {
        return;
    };
    let dir = scratch("status");
    let state = dir.join("state.json");
    let _ = std::fs::remove_file(&state);
    let state = state.to_str().unwrap();
    let (code, out, err) = gasket(&[
        "run",
        &wasm,
        "--abi",
        "near",
        "--call",
        "set_status",
        "--input",
        r#"{"message":"hello"}"#,
        "--caller",
        "bob",
        "--state",
        state,
        "--json",
    ]);
    assert_eq!(code, 0, "{err}");
    let v = json_line(&out);
    let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    for key in [
        "status",
        "trap",
        "message",
        "return_hex",
        "logs",
        "gas_used",
        "state_changes",
        "return_text",
        "receipts",
    ] {
        assert!(keys.contains(&key), "{key} missing from {v}");
    }
    assert_eq!(v["status"], "ok");
    assert_eq!(v["logs"][0], "bob set_status with message hello");
    assert_eq!(v["receipts"], serde_json::json!([]));
    // The write of the status, as --call reports state changes.
    assert_eq!(v["state_changes"].as_array().map(Vec::len), Some(1), "{v}");
    let (code, out, _) = gasket(&[
        "run",
        &wasm,
        "--abi",
        "near",
        "--call",
        "get_status",
        "--input",
        r#"{"account_id":"bob"}"#,
        "--state",
        state,
        "--json",
    ]);
    assert_eq!(code, 0);
    let v = json_line(&out);
    assert_eq!(v["return_text"], r#""hello""#);
    assert_eq!(v["return_hex"], hex_of(r#""hello""#));
    // --signer differs from --caller: status_message keys by signer.
    let (_, out, _) = gasket(&[
        "run",
        &wasm,
        "--abi",
        "near",
        "--call",
        "set_status",
        "--input",
        r#"{"message":"x"}"#,
        "--caller",
        "relay",
        "--signer",
        "carol",
        "--state",
        state,
        "--json",
    ]);
    assert_eq!(
        json_line(&out)["logs"][0],
        "carol set_status with message x"
    );
}

fn hex_of(s: &str) -> String {
    s.bytes().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn fungible_token_deposit_rules_and_refund_receipt() {
    let Some(wasm) = near_contract("sdkrs_fungible_token") else {
        return;
    };
    let dir = scratch("ft");
    let state = dir.join("state.json");
    let _ = std::fs::remove_file(&state);
    let state = state.to_str().unwrap();
    let run = |args: &[&str]| {
        let mut all = vec![
            "run",
            wasm.as_str(),
            "--abi",
            "near",
            "--account",
            "ft",
            "--state",
            state,
            "--json",
        ];
        all.extend_from_slice(args);
        let (code, out, err) = gasket(&all);
        assert_eq!(code, 0, "{err}");
        json_line(&out)
    };
    let v = run(&[
        "--call",
        "new_default_meta",
        "--input",
        r#"{"owner_id":"alice","total_supply":"1000"}"#,
    ]);
    assert_eq!(v["status"], "ok");
    let v = run(&[
        "--call",
        "storage_deposit",
        "--caller",
        "bob",
        "--deposit",
        "10000000000000000000000",
        "--input",
        "{}",
    ]);
    assert_eq!(v["status"], "ok");
    // The deposit above the minimum goes back to bob in a Transfer receipt.
    assert_eq!(v["receipts"][0]["receiver_id"], "bob");
    assert_eq!(v["receipts"][0]["actions"][0]["type"], "Transfer");
    assert_eq!(
        v["receipts"][0]["actions"][0]["deposit"],
        "8750000000000000000000"
    );
    let transfer = r#"{"receiver_id":"bob","amount":"5"}"#;
    let v = run(&["--call", "ft_transfer", "--input", transfer]);
    assert_eq!(v["status"], "panic");
    assert_eq!(
        v["message"],
        "Requires attached deposit of exactly 1 yoctoNEAR"
    );
    let v = run(&[
        "--call",
        "ft_transfer",
        "--deposit",
        "1",
        "--input",
        transfer,
    ]);
    assert_eq!(v["status"], "ok");
    let v = run(&[
        "--call",
        "ft_balance_of",
        "--input",
        r#"{"account_id":"bob"}"#,
    ]);
    assert_eq!(v["return_text"], r#""5""#);
}

#[test]
fn check_under_the_near_profile_resolves_every_import() {
    let Some(wasm) = near_contract("sdkrs_fungible_token") else {
        return;
    };
    let (code, out, err) = gasket(&["check", &wasm, "--profile", "near", "--json"]);
    assert_eq!(code, 0, "{err}");
    let v = json_line(&out);
    assert_eq!(v["profile"], "near");
    let imports = v["imports"].as_array().unwrap();
    assert!(!imports.is_empty());
    for i in imports {
        assert_eq!(i["host_function"], i["name"], "{i}");
    }
}

#[test]
fn cross_contract_call_reports_its_receipts() {
    let Some(wasm) = near_contract("sdkrs_cross_contract_low_level") else {
        return;
    };
    let (code, out, _) = gasket(&[
        "run",
        &wasm,
        "--abi",
        "near",
        "--call",
        "factorial",
        "--input",
        r#"{"n":3}"#,
        "--json",
    ]);
    assert_eq!(code, 0);
    let v = json_line(&out);
    assert_eq!(v["status"], "ok");
    assert!(v["returned_promise"].is_u64());
    let receipts = v["receipts"].as_array().unwrap();
    assert_eq!(receipts.len(), 2, "{v}");
    assert_eq!(receipts[0]["actions"][0]["method_name"], "factorial");
    // The low-level example encodes its arguments as a JSON tuple.
    assert_eq!(receipts[0]["actions"][0]["args_text"], "[2]");
    assert_eq!(receipts[1]["actions"][0]["method_name"], "factorial_mult");
    assert_eq!(receipts[1]["after"], serde_json::json!([0]));
}

#[test]
fn unknown_imports_are_rejected_by_name() {
    let dir = scratch("unknown");
    let wat = dir.join("bad.wat");
    std::fs::write(
        &wat,
        r#"(module (import "env" "log_utf8" (func (param i64 i64)))
                   (import "env" "teleport" (func))
                   (func (export "go")))"#,
    )
    .unwrap();
    let (code, out, _) = gasket(&[
        "run",
        wat.to_str().unwrap(),
        "--abi",
        "near",
        "--call",
        "go",
        "--json",
    ]);
    assert_eq!(code, 1);
    let v = json_line(&out);
    assert_eq!(v["kind"], "unknown_import", "{v}");
    assert!(v["error"].as_str().unwrap().contains("env.teleport"), "{v}");
    // An ABI v1 signature for a NEAR name is a signature mismatch.
    let v1 = dir.join("v1.wat");
    std::fs::write(
        &v1,
        r#"(module (import "env" "storage_write" (func (param i32 i32 i32 i32) (result i32)))
                   (func (export "go")))"#,
    )
    .unwrap();
    let (code, out, _) = gasket(&["check", v1.to_str().unwrap(), "--profile", "near", "--json"]);
    assert_eq!(code, 1);
    let text = out.to_string();
    assert!(
        text.contains("import_signature_mismatch") && text.contains("storage_write"),
        "{text}"
    );
    // --signer without --abi near is a usage error.
    let (code, _, err) = gasket(&[
        "run",
        wat.to_str().unwrap(),
        "--call",
        "go",
        "--signer",
        "x",
    ]);
    assert_eq!(code, 2, "{err}");
}
