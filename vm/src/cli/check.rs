//! `gasket check`: accept with a summary, or list every problem found.

use std::path::Path;

use gasket_metering::{ImportKind, PreparedModule, Profile};
use serde_json::json;

use crate::cli::{input, report};

pub fn run(path: &Path, profile: &Profile, as_json: bool) -> bool {
    let wasm = match input::load_wasm(path) {
        Ok(wasm) => wasm,
        Err(err) => {
            report::load_failed(&err, as_json);
            return false;
        }
    };
    match gasket_metering::check(&wasm, profile) {
        Ok(prepared) => {
            if as_json {
                println!("{}", summary_json(&prepared, profile));
            } else {
                print_summary(path, &prepared, profile);
            }
            true
        }
        Err(rejection) => {
            report::rejected(&rejection, as_json);
            false
        }
    }
}

fn import_kind(kind: &ImportKind) -> &'static str {
    match kind {
        ImportKind::Function { .. } => "function",
        ImportKind::Memory => "memory",
        ImportKind::Table => "table",
        ImportKind::Global => "global",
    }
}

/// `{"status":"ok", …}`: the module summary.
pub fn summary_json(prepared: &PreparedModule, profile: &Profile) -> serde_json::Value {
    let info = &prepared.info;
    json!({
        "status": "ok",
        "profile": profile.name,
        "profile_fingerprint": hex::encode(info.profile_fingerprint),
        "cost_table_version": info.cost_table_version,
        "floats": profile.floats.name(),
        "functions": info.functions.len(),
        "imported_functions": info.imported_functions,
        "imports": info.imports.iter().map(|i| json!({
            "module": i.module,
            "name": i.name,
            "kind": import_kind(&i.kind),
            // The ABI v1 function, or under `--profile near` the NEAR one.
            "host_function": i.host_function.map(|f| f.name()).or(i.near_function.map(|f| f.name())),
        })).collect::<Vec<_>>(),
        "exports": info.exports.iter().map(|e| e.name.as_str()).collect::<Vec<_>>(),
        "memory": info.memory.map(|m| json!({"initial_pages": m.initial_pages, "maximum_pages": m.maximum_pages})),
        "max_frame_cost": info.max_frame_cost,
        "original_bytes": info.original_size,
        "instrumented_bytes": prepared.wasm.len(),
    })
}

fn print_summary(path: &Path, prepared: &PreparedModule, profile: &Profile) {
    let info = &prepared.info;
    println!("{}: ok under the {} profile", path.display(), profile.name);
    println!(
        "  functions:   {} defined, {} imported",
        info.functions.len(),
        info.imported_functions
    );
    for import in &info.imports {
        println!(
            "  import:      {}.{} ({})",
            import.module,
            import.name,
            import_kind(&import.kind)
        );
    }
    let exports: Vec<&str> = info.exports.iter().map(|e| e.name.as_str()).collect();
    println!("  exports:     {}", exports.join(", "));
    match info.memory {
        Some(m) => println!(
            "  memory:      {} pages initial, {} pages maximum",
            m.initial_pages, m.maximum_pages
        ),
        None => println!("  memory:      none"),
    }
    println!("  cost table:  version {}", info.cost_table_version);
    println!("  floats:      {}", profile.floats.name());
    println!(
        "  stack:       largest frame {} of {} units",
        info.max_frame_cost, profile.stack.max_height
    );
    println!(
        "  size:        {} bytes, {} instrumented",
        info.original_size,
        prepared.wasm.len()
    );
}
