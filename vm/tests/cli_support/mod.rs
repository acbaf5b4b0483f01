//! Helpers shared by the tests that run the `gasket` binary (`cli.rs`, `near_cli.rs`).

use std::process::Command;

use serde_json::Value;

/// Runs `gasket` with `args`: (exit code, stdout, stderr).
pub fn gasket(args: &[&str]) -> (i32, String, String) {
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

/// The one JSON line a `--json` command prints.
pub fn json_line(stdout: &str) -> Value {
    assert_eq!(stdout.lines().count(), 1, "exactly one line: {stdout}");
    serde_json::from_str(stdout).expect("valid JSON")
}

/// A fresh-per-process temporary directory named after `tag`.
pub fn scratch_dir(tag: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("gasket-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}
