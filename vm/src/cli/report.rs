//! Output shared by the subcommands: rejections and load failures, as text or one JSON line.

use gasket_metering::Rejection;
use serde_json::json;

use crate::cli::input::LoadError;

/// Prints a load failure; `--json` shape: `{"status":"rejected","kind":…,"error":…}`.
pub fn load_failed(err: &LoadError, as_json: bool) {
    if as_json {
        println!(
            "{}",
            json!({"status": "rejected", "kind": err.kind, "error": err.message})
        );
    } else {
        eprintln!("error: {}", err.message);
    }
}

/// Prints a usage error (exit 2) on stderr, and with `--json` also as one line on stdout:
/// `{"status":"usage","error":…}`.
pub fn usage(message: &str, as_json: bool) {
    eprintln!("error: {message}");
    if as_json {
        usage_json(message);
    }
}

/// The `--json` line of a usage error (clap prints its own text on stderr).
pub fn usage_json(message: &str) {
    println!("{}", json!({"status": "usage", "error": message}));
}

/// Prints every problem of a rejection. `--json`: the first problem's kind, all messages
/// in `error` (one per line), and each in `errors`.
pub fn rejected(rejection: &Rejection, as_json: bool) {
    let errors = &rejection.0;
    if as_json {
        let kind = errors.first().map_or("invalid_module", |e| e.kind());
        let all: Vec<_> = errors
            .iter()
            .map(|e| json!({"kind": e.kind(), "error": e.to_string()}))
            .collect();
        println!(
            "{}",
            json!({"status": "rejected", "kind": kind, "error": rejection.to_string(), "errors": all})
        );
    } else {
        eprintln!("rejected: {} problem(s)", errors.len());
        for e in errors {
            eprintln!("  [{}] {e}", e.kind());
        }
    }
}
