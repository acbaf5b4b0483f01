//! Builds the C client (`capi/clients/c/token_client.c`) with gcc against the static
//! library and the checked-in header, and runs it on the token contract, passing the gas
//! the `TestChain` harness measures for the same transfer. Skipped, with a note, only when
//! gcc is missing.

use std::path::{Path, PathBuf};
use std::process::Command;

/// `target/<profile>/`, where cargo put `libgasket_capi.a` for this test run.
fn artifact_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.parent().unwrap().parent().unwrap().to_path_buf()
}

/// Builds the static library (`cargo test` builds only the rlib for integration tests) into
/// this test run's target directory and profile, and returns its path.
fn static_library() -> PathBuf {
    let dir = artifact_dir();
    let mut cargo = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    cargo.args(["build", "-p", "gasket-capi", "--lib"]);
    if dir.file_name().is_some_and(|n| n == "release") {
        cargo.arg("--release");
    }
    let status = cargo.status().unwrap();
    assert!(status.success(), "cargo build -p gasket-capi failed");
    let lib = dir.join("libgasket_capi.a");
    assert!(lib.is_file(), "{} was not built", lib.display());
    lib
}

fn harness_transfer_gas(wasm: &[u8]) -> u64 {
    let mut chain = gasket_vm::testing::TestChain::new();
    chain.deploy("token", wasm).unwrap();
    chain.set_block(7, 1_000_000_000);
    chain
        .call("token", "init")
        .caller("owner")
        .run()
        .unwrap()
        .unwrap();
    let mut mint = 100u64.to_le_bytes().to_vec();
    mint.extend_from_slice(b"alice");
    chain
        .call("token", "mint")
        .caller("owner")
        .input(mint)
        .run()
        .unwrap()
        .unwrap();
    let mut transfer = 30u64.to_le_bytes().to_vec();
    transfer.extend_from_slice(b"bob");
    let out = chain
        .call("token", "transfer")
        .caller("alice")
        .input(transfer)
        .gas(100_000_000)
        .run()
        .unwrap();
    out.unwrap();
    out.gas_used
}

#[test]
fn c_client_runs_the_token_contract() {
    if Command::new("gcc").arg("--version").output().is_err() {
        eprintln!("note: gcc not found; the C client test is skipped (apt-get install gcc)");
        return;
    }
    let capi = Path::new(env!("CARGO_MANIFEST_DIR"));
    let lib = static_library();
    let exe = Path::new(env!("CARGO_TARGET_TMPDIR")).join("token_client");
    let status = Command::new("gcc")
        .args(["-std=c11", "-Wall", "-Wextra", "-Werror", "-g", "-I"])
        .arg(capi.join("include"))
        .arg(capi.join("clients/c/token_client.c"))
        .arg(&lib)
        .args(["-lpthread", "-ldl", "-lm", "-lgcc_s", "-o"])
        .arg(&exe)
        .status()
        .unwrap();
    assert!(status.success(), "gcc failed");
    let token = gasket_fixtures::c_contract("token").unwrap();
    let wasm_path = capi.join("../fixtures/contracts/token.wasm");
    assert_eq!(std::fs::read(&wasm_path).unwrap(), token.wasm);
    let out = Command::new(&exe)
        .arg(&wasm_path)
        .arg(harness_transfer_gas(token.wasm).to_string())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "token_client failed:\n{stdout}{stderr}"
    );
    assert!(stdout.starts_with("token_client: ok"), "{stdout}");
}
