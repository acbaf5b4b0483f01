//! Reading a module from disk: binary wasm, WebAssembly text, or a compiled artifact,
//! decided by extension and content.

use std::path::Path;

/// Why an input could not be loaded. Reported like a rejection (exit 1).
pub struct LoadError {
    /// Stable kind for JSON output.
    pub kind: &'static str,
    pub message: String,
}

/// Reads `path`: a serialized module (see [`is_artifact`]) or binary wasm (starting with
/// `\0asm`) is returned as is; `.wat`/`.wast` files are parsed as text; a `.wasm` file
/// without the wasm header is refused as not a wasm module; any other file is parsed as
/// text when it is UTF-8.
pub fn load(path: &Path) -> Result<Vec<u8>, LoadError> {
    let bytes = std::fs::read(path).map_err(|e| LoadError {
        kind: "io_error",
        message: format!("cannot read {}: {e}", path.display()),
    })?;
    if is_artifact(&bytes) || bytes.starts_with(b"\0asm") {
        return Ok(bytes);
    }
    let extension = path.extension().and_then(|e| e.to_str());
    let is_text = match extension {
        Some("wat" | "wast") => true,
        Some("wasm") => false,
        _ => std::str::from_utf8(&bytes).is_ok(),
    };
    if !is_text {
        let what = if bytes.is_empty() {
            ": the file is empty".to_string()
        } else if extension == Some("wasm") {
            format!(": it starts with {}", hex_prefix(&bytes))
        } else {
            " nor WebAssembly text (not UTF-8)".to_string()
        };
        return Err(LoadError {
            kind: "invalid_module",
            message: format!("{} is {}{what}", path.display(), gasket_metering::NOT_WASM),
        });
    }
    wat::parse_bytes(&bytes)
        .map(|b| b.into_owned())
        .map_err(|e| LoadError {
            kind: "invalid_wat",
            message: format!("{} is not valid WebAssembly text: {e}", path.display()),
        })
}

/// The first bytes of a file, in hex, for messages.
fn hex_prefix(bytes: &[u8]) -> String {
    let shown = &bytes[..bytes.len().min(4)];
    format!("0x{}", hex::encode(shown))
}

/// Like [`load`], for the commands that take wasm only (`check`, `instrument`,
/// `compile`): a compiled artifact is refused, saying what it is.
pub fn load_wasm(path: &Path) -> Result<Vec<u8>, LoadError> {
    let bytes = load(path)?;
    if is_artifact(&bytes) {
        return Err(LoadError {
            kind: "invalid_module",
            message: format!(
                "{} is a compiled artifact (`gasket compile` output), not wasm; use `gasket \
                 run` to run it, or give this command the wasm it was compiled from",
                path.display()
            ),
        });
    }
    Ok(bytes)
}

/// Whether `bytes` are a serialized module (`gasket compile` output), which `load` returns
/// as is.
pub fn is_artifact(bytes: &[u8]) -> bool {
    bytes.starts_with(&crate::cache::MAGIC)
}
