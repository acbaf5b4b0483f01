//! `gasket instrument`: write the instrumented module.

use std::path::Path;

use gasket_metering::{Profile, Rejection};
use serde_json::json;

use crate::cli::input::{self, LoadError};
use crate::cli::report;

pub fn run(path: &Path, output: &Path, profile: &Profile, as_json: bool) -> bool {
    let wasm = match input::load_wasm(path) {
        Ok(wasm) => wasm,
        Err(err) => {
            report::load_failed(&err, as_json);
            return false;
        }
    };
    let prepared = match gasket_metering::prepare(&wasm, profile) {
        Ok(prepared) => prepared,
        Err(err) => {
            report::rejected(&Rejection(vec![err]), as_json);
            return false;
        }
    };
    if let Err(e) = std::fs::write(output, &prepared.wasm) {
        let err = LoadError {
            kind: "io_error",
            message: format!("cannot write {}: {e}", output.display()),
        };
        report::load_failed(&err, as_json);
        return false;
    }
    if as_json {
        println!(
            "{}",
            json!({"status": "ok", "output": output.display().to_string(), "original_bytes": wasm.len(), "instrumented_bytes": prepared.wasm.len()})
        );
    } else {
        println!(
            "wrote {} ({} bytes, from {} bytes)",
            output.display(),
            prepared.wasm.len(),
            wasm.len()
        );
        println!(
            "  it imports gasket.gas, gasket.stack_enter and gasket.stack_leave: run it on an \
             engine that provides them, or read it to audit gas; gasket check, compile and run \
             take the original module"
        );
    }
    true
}
