//! The runtime's errors: each says what went wrong and what to do about it.

use gasket_host_api::HostError;
use gasket_metering::PrepareError;
use gasket_singlepass::{CompileError, TrapKind};

/// The engine cannot run on this machine.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EngineError {
    /// Gasket compiles to x86-64 and AArch64 only.
    #[error("Gasket runs compiled code on x86_64 and aarch64 only; this machine is {arch}")]
    UnsupportedArchitecture {
        /// The host architecture.
        arch: &'static str,
    },
    /// Generated code uses an instruction this CPU lacks.
    #[error("this CPU lacks the {feature} instruction, which Gasket's generated code uses; run on a CPU that has it (any x86-64 since 2008)")]
    MissingCpuFeature {
        /// The missing feature, e.g. `popcnt`.
        feature: &'static str,
    },
}

/// Why a module could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The metering pass rejected the module (a deterministic verdict about its bytes).
    #[error("module rejected: {0}")]
    Rejected(#[from] PrepareError),
    /// The compiler could not compile the instrumented module.
    #[error("module could not be compiled: {0}")]
    Compile(#[from] CompileError),
    /// An artifact from another target or compiler version was given to `Module::from_artifact`.
    #[error("artifact is incompatible with this engine: {0}; recompile the module")]
    IncompatibleArtifact(String),
    /// The operating system refused executable memory (an environment failure, not a
    /// verdict about the module).
    #[error("cannot map compiled code: {0}")]
    CodeMemory(std::io::Error),
    /// A serialized module failed verification (`Module::deserialize`).
    #[error("serialized module refused: {0}")]
    Artifact(#[from] crate::cache::ArtifactError),
    /// `Engine::load_by_hash` was given bytes whose SHA-256 is not the code hash.
    #[error("the wasm's SHA-256 is {found}, not the code hash {expected} it was loaded under; pass the hash of these bytes")]
    CodeHashMismatch {
        /// The code hash given, hex.
        expected: String,
        /// The SHA-256 of the bytes, hex.
        found: String,
    },
}

impl LoadError {
    /// Stable snake_case kind for JSON output: the `PrepareError`'s kind for rejections.
    pub fn kind(&self) -> &'static str {
        match self {
            LoadError::Rejected(e) => e.kind(),
            LoadError::Compile(e) => e.kind(),
            LoadError::IncompatibleArtifact(_) => "incompatible_artifact",
            LoadError::CodeMemory(_) => "code_memory",
            LoadError::Artifact(e) => e.kind(),
            LoadError::CodeHashMismatch { .. } => "code_hash_mismatch",
        }
    }
}

/// Why a call stopped before returning.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trap {
    /// The trap's kind (stable; what outcomes and `--json` report).
    pub kind: TrapKind,
    /// Details, when there are any (a host function's error, a segment's offset, …).
    pub message: Option<String>,
    /// The host ABI error that ended a contract call, when `kind` is `host_error` (or
    /// `out_of_gas` charged by a host function). `HostError::Panic` is the contract's own
    /// `panic_utf8`; `HostError::Storage` is not deterministic and must not be recorded.
    pub host_error: Option<HostError>,
}

impl Trap {
    /// A trap of `kind` without details.
    pub fn new(kind: TrapKind) -> Trap {
        Trap {
            kind,
            message: None,
            host_error: None,
        }
    }

    /// A trap of `kind` with a message.
    pub fn with_message(kind: TrapKind, message: impl Into<String>) -> Trap {
        Trap {
            kind,
            message: Some(message.into()),
            host_error: None,
        }
    }
}

impl std::fmt::Display for Trap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.message {
            Some(m) => write!(f, "trap {}: {m}", self.kind),
            None => write!(f, "trap {}", self.kind),
        }
    }
}

impl std::error::Error for Trap {}

/// Why a module could not be instantiated.
#[derive(Debug, thiserror::Error)]
pub enum InstantiationError {
    /// The module imports something the [`Imports`](crate::Imports) do not provide.
    #[error(
        "unknown import {module}.{name} ({kind}): provide it in the Imports (Imports::{kind})"
    )]
    UnknownImport {
        /// Import module name.
        module: String,
        /// Import field name.
        name: String,
        /// `func`, `memory`, `table` or `global`.
        kind: &'static str,
    },
    /// An import is provided with the wrong type.
    #[error("import {module}.{name} has the wrong type: the module expects {expected}, the Imports provide {found}")]
    IncompatibleImport {
        /// Import module name.
        module: String,
        /// Import field name.
        name: String,
        /// What the module declares.
        expected: String,
        /// What was provided.
        found: String,
    },
    /// The module is structurally wrong in a way validation should have caught (an
    /// artifact not produced by this pipeline).
    #[error("malformed module: {0}; recompile it from wasm with Engine::compile")]
    Malformed(String),
    /// The operating system refused memory for the instance.
    #[error("cannot allocate {what} for the instance: {source}")]
    Resources {
        /// What was being allocated.
        what: &'static str,
        /// The OS error.
        source: std::io::Error,
    },
    /// A segment did not fit, or the start function trapped.
    #[error("instantiation trapped: {0}")]
    Trap(Trap),
    /// The engine's pool allows this many live instances and all are in use
    /// (`PoolConfig::max_instances`): drop one, or raise the limit.
    #[error("the engine's instance pool is exhausted: {limit} instances are alive (PoolConfig::max_instances); drop one or raise the limit")]
    PoolExhausted {
        /// The limit in force.
        limit: usize,
    },
}

impl InstantiationError {
    /// Stable snake_case kind for JSON output.
    pub fn kind(&self) -> &'static str {
        match self {
            InstantiationError::UnknownImport { .. } => "unknown_import",
            InstantiationError::IncompatibleImport { .. } => "incompatible_import",
            InstantiationError::Malformed(_) => "malformed_module",
            InstantiationError::Resources { .. } => "resources",
            InstantiationError::Trap(_) => "instantiation_trap",
            InstantiationError::PoolExhausted { .. } => "pool_exhausted",
        }
    }
}

/// Why a call could not start (nothing ran, no gas was used).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CallError {
    /// No export has this name.
    #[error("the module has no export named {name:?}; exported functions: {available}")]
    NoSuchExport {
        /// The requested name.
        name: String,
        /// Exported function names, comma-separated.
        available: String,
    },
    /// The export is not a function.
    #[error("export {name:?} is a {kind}, not a function")]
    NotAFunction {
        /// The export's name.
        name: String,
        /// What it is (`memory`, `table`, `global`).
        kind: &'static str,
    },
    /// Wrong number of arguments.
    #[error("{name} takes {expected} argument(s) {signature}, got {got}")]
    ArgumentCount {
        /// The export's name.
        name: String,
        /// Parameter count.
        expected: usize,
        /// Arguments given.
        got: usize,
        /// The export's signature.
        signature: String,
    },
    /// An argument has the wrong type.
    #[error("argument {index} of {name} must be {expected}, got {got}")]
    ArgumentType {
        /// The export's name.
        name: String,
        /// Zero-based argument index.
        index: usize,
        /// The parameter's type.
        expected: &'static str,
        /// The value given.
        got: String,
    },
    /// The instance is already running a call (a host function tried to call back into
    /// the instance that called it).
    #[error("instance is already running a call; a host function cannot re-enter the instance that called it")]
    Reentrant,
}

impl CallError {
    /// Stable snake_case kind for JSON output.
    pub fn kind(&self) -> &'static str {
        match self {
            CallError::NoSuchExport { .. } => "no_such_export",
            CallError::NotAFunction { .. } => "not_a_function",
            CallError::ArgumentCount { .. } => "argument_count",
            CallError::ArgumentType { .. } => "argument_type",
            CallError::Reentrant => "reentrant_call",
        }
    }
}
