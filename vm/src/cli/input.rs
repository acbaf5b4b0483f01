//! Reading a module from disk: binary wasm, or WebAssembly text (by extension or content).

use std::path::Path;

/// Why an input could not be loaded. Reported like a rejection (exit 1).
pub struct LoadError {
    /// Stable kind for JSON output.
    pub kind: &'static str,
    pub message: String,
}

/// Reads `path` as wasm (or a serialized module, returned as is, see [`is_artifact`]); `.wat`/`.wast` files, and files that do not start with the wasm
/// magic, are parsed as text.
pub fn load(path: &Path) -> Result<Vec<u8>, LoadError> {
    let bytes = std::fs::read(path).map_err(|e| LoadError {
        kind: "io_error",
        message: format!("cannot read {}: {e}", path.display()),
    })?;
    if is_artifact(&bytes) {
        return Ok(bytes);
    }
    let is_text = matches!(
        path.extension().and_then(|e| e.to_str()),
        Some("wat" | "wast")
    ) || !bytes.starts_with(b"\0asm");
    if !is_text {
        return Ok(bytes);
    }
    wat::parse_bytes(&bytes)
        .map(|b| b.into_owned())
        .map_err(|e| LoadError {
            kind: "invalid_wat",
            message: format!("{} is not valid WebAssembly text: {e}", path.display()),
        })
}

/// Whether `bytes` are a serialized module (`gasket compile` output), which `load` returns
/// as is.
pub fn is_artifact(bytes: &[u8]) -> bool {
    bytes.starts_with(&crate::cache::MAGIC)
}
