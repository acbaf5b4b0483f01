//! Typed rejections. Each says where (function index, byte offset, operator or section),
//! what rule was broken, and what to do about it.

use crate::features::Feature;
use crate::limits::LimitKind;

/// Where in the module a problem was found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Location {
    /// Inside a function body. `function` is the index in the original module's function
    /// index space (imports first), `offset` a byte offset into the module.
    Operator {
        function: u32,
        offset: u64,
        operator: String,
    },
    /// In a function's locals or body as a whole.
    Function { function: u32, offset: u64 },
    /// In a section other than code; `index` is the item's index in that section.
    Section {
        section: &'static str,
        index: u32,
        offset: u64,
    },
    /// The module as a whole.
    Module,
}

impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Location::Operator {
                function,
                offset,
                operator,
            } => {
                write!(
                    f,
                    "function {function} uses `{operator}` at byte offset {offset:#x}"
                )
            }
            Location::Function { function, offset } => {
                write!(f, "function {function} (byte offset {offset:#x})")
            }
            Location::Section {
                section,
                index,
                offset,
            } => {
                write!(
                    f,
                    "{section} section entry {index} (byte offset {offset:#x})"
                )
            }
            Location::Module => f.write_str("the module"),
        }
    }
}

/// Why a module was rejected by [`crate::prepare`].
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PrepareError {
    /// The module is not a well-formed, valid WebAssembly module.
    #[error("invalid module at byte offset {offset:#x}: {message}")]
    InvalidModule { offset: u64, message: String },

    /// A function body fails validation.
    #[error("invalid code: {at}: {message}")]
    InvalidFunction { at: Location, message: String },

    /// The module uses a feature the profile does not admit.
    #[error("{at}: {} is not allowed in this profile: {}", feature.title(), feature.advice())]
    FeatureNotAllowed { feature: Feature, at: Location },

    /// A structural limit is exceeded.
    #[error("{at}: {limit} limit exceeded ({value} > {max}); reduce it in the contract, or raise Limits::{} if you run the node", limit.field())]
    LimitExceeded {
        limit: LimitKind,
        value: u64,
        max: u64,
        at: Location,
    },

    /// The module imports from the namespace reserved for Gasket's own instrumentation.
    #[error("import {index} `{module}.{name}` uses the reserved module name `{module}`; only Gasket's instrumentation may import from it")]
    ReservedImport {
        index: u32,
        module: String,
        name: String,
    },

    /// The contract profile admits only the host ABI's functions.
    #[error("import {index} `{module}.{name}` is not a host function of ABI v{abi}; contracts may import only the functions listed in gasket-host-api from module `env`")]
    UnknownImport {
        index: u32,
        module: String,
        name: String,
        abi: u32,
    },

    /// The `near` profile admits only the NEAR-compatible table's functions.
    #[error("import {index} `{module}.{name}` is not a function of the NEAR-compatible ABI; NEAR contracts may import only the functions listed in gasket_host_api::near from module `env`")]
    UnknownNearImport {
        index: u32,
        module: String,
        name: String,
    },

    /// A NEAR host function is imported with the wrong signature.
    #[error("import {index} `{module}.{name}` has signature {found} but the NEAR-compatible ABI defines {expected}")]
    NearImportSignatureMismatch {
        index: u32,
        module: String,
        name: String,
        expected: String,
        found: String,
    },

    /// A host function is imported with the wrong signature.
    #[error("import {index} `{module}.{name}` has signature {found} but host ABI v{abi} defines {expected}")]
    ImportSignatureMismatch {
        index: u32,
        module: String,
        name: String,
        expected: String,
        found: String,
        abi: u32,
    },

    /// The contract profile does not let a contract import memories, tables or globals.
    #[error("import {index} `{module}.{name}` imports a {kind}; contracts may import only host functions (define memories, tables and globals in the module)")]
    ImportKindNotAllowed {
        index: u32,
        module: String,
        name: String,
        kind: &'static str,
    },
}

impl PrepareError {
    /// Stable snake_case name of the error kind, for JSON output and for tests.
    pub fn kind(&self) -> &'static str {
        match self {
            PrepareError::InvalidModule { .. } => "invalid_module",
            PrepareError::InvalidFunction { .. } => "invalid_function",
            PrepareError::FeatureNotAllowed { feature, .. } => match feature {
                Feature::Floats => "floats_not_allowed",
                Feature::Simd => "simd_not_allowed",
                Feature::Threads => "threads_not_allowed",
                Feature::Memory64 => "memory64_not_allowed",
                Feature::MultiMemory => "multi_memory_not_allowed",
                Feature::Exceptions => "exceptions_not_allowed",
                Feature::Gc => "gc_not_allowed",
                Feature::TailCalls => "tail_calls_not_allowed",
                Feature::Other => "unsupported_proposal",
            },
            PrepareError::LimitExceeded { .. } => "limit_exceeded",
            PrepareError::ReservedImport { .. } => "reserved_import",
            PrepareError::UnknownImport { .. } | PrepareError::UnknownNearImport { .. } => {
                "unknown_import"
            }
            PrepareError::NearImportSignatureMismatch { .. } => "import_signature_mismatch",
            PrepareError::ImportSignatureMismatch { .. } => "import_signature_mismatch",
            PrepareError::ImportKindNotAllowed { .. } => "import_kind_not_allowed",
        }
    }

    /// The rejected feature, if this is a feature rejection.
    pub fn feature(&self) -> Option<Feature> {
        match self {
            PrepareError::FeatureNotAllowed { feature, .. } => Some(*feature),
            _ => None,
        }
    }

    /// The exceeded limit, if this is a limit rejection.
    pub fn limit(&self) -> Option<LimitKind> {
        match self {
            PrepareError::LimitExceeded { limit, .. } => Some(*limit),
            _ => None,
        }
    }

    /// The parser's error, on one line: its "bad magic number" message is a multi-line
    /// dump of both byte arrays, which says less than [`NOT_WASM`].
    pub(crate) fn invalid(err: wasmparser::BinaryReaderError) -> Self {
        let message = if err.message().starts_with("magic header not detected") {
            NOT_WASM.to_string()
        } else {
            err.message()
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ")
        };
        PrepareError::InvalidModule {
            offset: err.offset(),
            message,
        }
    }
}

/// The message for bytes that do not start with the wasm magic.
pub const NOT_WASM: &str = "not a wasm module (no \\0asm header)";

/// Every problem found in a module, in the order found. Never empty.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{}", render(.0))]
pub struct Rejection(pub Vec<PrepareError>);

fn render(errors: &[PrepareError]) -> String {
    let lines: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
    lines.join("\n")
}
