//! Compilation errors.

use crate::Target;

/// Why a module could not be compiled. Deterministic for a given module, target and
/// compiler version (so the cache may store it), except where noted.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum CompileError {
    /// The module is not valid wasm (or uses a feature the compiler does not accept).
    /// `gasket_metering::prepare` rejects such modules first; this means the input did not
    /// come from it.
    #[error("invalid module at byte offset {offset}: {message}")]
    Invalid { offset: u64, message: String },
    /// A valid construct this compiler does not implement yet.
    #[error("function {function}: {what} is not supported by the singlepass compiler (at byte offset {offset})")]
    Unsupported {
        function: u32,
        offset: u64,
        what: String,
    },
    /// A compiler-internal limit (e.g. code larger than 2 GiB).
    #[error("compiler limit exceeded: {0}")]
    Limit(String),
    /// No backend for this target yet.
    #[error("target {} is not supported yet", .0.as_str())]
    UnsupportedTarget(Target),
}

impl CompileError {
    pub(crate) fn invalid(e: wasmparser::BinaryReaderError) -> CompileError {
        CompileError::Invalid {
            offset: e.offset(),
            message: e.message().to_string(),
        }
    }

    /// Stable snake_case kind, for JSON output.
    pub fn kind(&self) -> &'static str {
        match self {
            CompileError::Invalid { .. } => "invalid_module",
            CompileError::Unsupported { .. } => "unsupported",
            CompileError::Limit(_) => "compiler_limit",
            CompileError::UnsupportedTarget(_) => "unsupported_target",
        }
    }
}
