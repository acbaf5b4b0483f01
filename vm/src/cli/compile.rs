//! `gasket compile`: prepare and compile a module, and write it serialized (the format of
//! `gasket_vm::cache`), for `gasket run` or a node's cache.

use std::path::Path;

use gasket_metering::Profile;
use gasket_singlepass::Target;
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::cache;
use crate::cli::input;
use crate::cli::report;

pub fn run(path: &Path, output: &Path, target: Target, profile: &Profile, as_json: bool) -> bool {
    let fail = |kind: &'static str, message: String| {
        report::load_failed(&input::LoadError { kind, message }, as_json);
        false
    };
    let wasm = match input::load_wasm(path) {
        Ok(wasm) => wasm,
        Err(err) => {
            report::load_failed(&err, as_json);
            return false;
        }
    };
    let prepared = match gasket_metering::prepare(&wasm, profile) {
        Ok(prepared) => prepared,
        Err(e) => return fail(e.kind(), e.to_string()),
    };
    let artifact = match gasket_singlepass::compile(&prepared.wasm, target) {
        Ok(artifact) => artifact,
        Err(e) => return fail(e.kind(), e.to_string()),
    };
    let bytes = cache::serialize_parts(&artifact, &prepared.info, profile);
    if let Err(e) = cache::write_atomically(output, &bytes) {
        return fail(
            "io_error",
            format!("cannot write {}: {e}", output.display()),
        );
    }
    let sha256: String = Sha256::digest(&bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    if as_json {
        println!(
            "{}",
            json!({"status": "ok", "target": target.as_str(), "bytes": bytes.len(), "code_bytes": artifact.code.len(), "sha256": sha256})
        );
    } else {
        println!(
            "compiled {} for {}: {} bytes ({} of code) -> {}",
            path.display(),
            target.as_str(),
            bytes.len(),
            artifact.code.len(),
            output.display()
        );
    }
    true
}
