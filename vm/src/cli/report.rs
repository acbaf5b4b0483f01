//! Output shared by the subcommands: rejections and load failures, as text or one JSON line.

use gasket_metering::{PrepareError, Rejection};
use serde_json::json;

use crate::cli::input::LoadError;

/// Prints a load failure; `--json` shape: `{"status":"rejected","kind":…,"error":…}`,
/// plus `"hint"` when the kind suggests a cause.
pub fn load_failed(err: &LoadError, as_json: bool) {
    let hint = hint(std::iter::once(err.kind));
    if as_json {
        let mut line = json!({"status": "rejected", "kind": err.kind, "error": err.message});
        if let Some(hint) = hint {
            line["hint"] = hint.into();
        }
        println!("{line}");
    } else {
        eprintln!("error: {}", err.message);
        if let Some(hint) = hint {
            eprintln!("hint: {hint}");
        }
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
/// in `error` (one per line), each in `errors`, and a `hint` when the problems suggest
/// what was meant.
pub fn rejected(rejection: &Rejection, as_json: bool) {
    let errors = &rejection.0;
    let hint = hint(errors.iter().map(PrepareError::kind));
    if as_json {
        let kind = errors.first().map_or("invalid_module", |e| e.kind());
        let all: Vec<_> = errors
            .iter()
            .map(|e| json!({"kind": e.kind(), "error": e.to_string()}))
            .collect();
        let mut line = json!({"status": "rejected", "kind": kind, "error": rejection.to_string(), "errors": all});
        if let Some(hint) = hint {
            line["hint"] = hint.into();
        }
        println!("{line}");
    } else {
        eprintln!("rejected: {} problem(s)", errors.len());
        for e in errors {
            eprintln!("  [{}] {e}", e.kind());
        }
        if let Some(hint) = hint {
            eprintln!("hint: {hint}");
        }
    }
}

/// What problems of these kinds probably mean, when they say it plainly.
fn hint<'a>(mut kinds: impl Iterator<Item = &'a str>) -> Option<&'static str> {
    kinds.find_map(|kind| match kind {
        // Only Gasket's instrumentation imports from the reserved `gasket` module.
        "reserved_import" => Some(
            "this looks like `gasket instrument` output, which imports Gasket's own gas and \
             stack accounting; it is for running on an engine that provides those imports or \
             for auditing gas, and is not a module to check, compile or run: give these \
             commands the original module",
        ),
        // Only the contract profile restricts imports.
        "unknown_import" | "import_signature_mismatch" => Some(
            "the contract profile admits only Gasket's host ABI; contracts built for another \
             chain (CosmWasm, ink!, NEAR) import that chain's ABI and pass `--profile \
             permissive` only",
        ),
        _ => None,
    })
}
