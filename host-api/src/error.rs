//! Errors a host call can end with. Every one aborts the contract call.

use thiserror::Error;

use crate::gas::OutOfGas;
use crate::storage::StorageError;

/// Why a host call did not return normally.
///
/// All variants except [`HostError::Storage`] are *deterministic*: they follow from the
/// contract, its input, the state and the gas limit alone, so every node reaches the same
/// one and it is a valid call result. `Storage` is the node's own failure and must not be
/// recorded as a result (see [`HostError::is_deterministic`]).
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum HostError {
    /// The call ran out of gas (the meter has set gas used to the limit).
    #[error("out of gas: the call used its whole gas limit; raise the gas limit or make the contract do less work")]
    OutOfGas,

    /// The contract called `panic_utf8`: the call ends with status "panic" (not a trap).
    #[error("contract panicked: {message}")]
    Panic {
        /// The contract's message.
        message: String,
    },

    /// A pointer/length pair passed to (or produced for) a host function is outside
    /// linear memory.
    #[error("{function}: {len} bytes at address {ptr} are outside linear memory ({memory_size} bytes); check the pointer and length the contract passes to {function}")]
    MemoryAccess {
        /// Import name of the host function.
        function: &'static str,
        /// Start address.
        ptr: u32,
        /// Length in bytes.
        len: u32,
        /// Linear memory size in bytes.
        memory_size: u64,
    },

    /// Text that must be UTF-8 (a log line, a panic message) is not.
    #[error("{function}: the text is not valid UTF-8 (first invalid byte at offset {valid_up_to}); pass UTF-8 text, or hex-encode binary data")]
    InvalidUtf8 {
        /// Import name of the host function.
        function: &'static str,
        /// Length of the valid UTF-8 prefix.
        valid_up_to: u64,
    },

    /// `read_register` was asked for a register that holds nothing.
    #[error("read_register: register {register_id} is empty; check register_len (which returns -1 for an empty register) before reading")]
    RegisterNotFound {
        /// The register id (the i64 argument's bits).
        register_id: u64,
    },

    /// A size limit of [`HostLimits`](crate::HostLimits) was exceeded.
    #[error("{function}: {requested} exceeds the limit HostLimits::{what} = {limit}; make the data smaller (or split it up), or run with larger limits")]
    LimitExceeded {
        /// Import name of the host function that hit the limit.
        function: &'static str,
        /// The [`HostLimits`](crate::HostLimits) field that was exceeded, e.g. `"max_key_len"`.
        what: &'static str,
        /// The limit's value.
        limit: u64,
        /// What the call asked for (bytes or a count, in the limit's unit).
        requested: u64,
    },

    /// The engine passed arguments that do not fit the function's signature (wrong count,
    /// or an i32 argument with its upper 32 bits set). Metering checks import types, so
    /// this means an engine bug, reported rather than guessed around.
    #[error("{function}: bad arguments from the engine: {detail}; this is a bug in the engine's host-call glue, not in the contract")]
    BadArguments {
        /// Import name of the host function.
        function: &'static str,
        /// What was wrong.
        detail: String,
    },

    /// An argument has the wrong shape or names something that does not exist (NEAR ABI:
    /// a promise index, an account id, a public key, a promise result index).
    #[error("{function}: {detail}")]
    InvalidArgument {
        /// Import name of the host function.
        function: &'static str,
        /// What was wrong.
        detail: String,
    },

    /// A promise would send more yoctoNEAR than the account has (NEAR ABI).
    #[error("{function}: the call would send {needed} yoctoNEAR but the account has only {available} left; attach a deposit or send less")]
    BalanceExceeded {
        /// Import name of the host function.
        function: &'static str,
        /// The amount asked for.
        needed: u128,
        /// What was left.
        available: u128,
    },

    /// The node's storage failed. Not deterministic: do not record it as a call result.
    #[error(transparent)]
    Storage(#[from] StorageError),
}

impl HostError {
    /// `LimitExceeded` for `function` when `requested` is over `limit` (both ABIs' size
    /// checks, before any work or gas that depends on the size).
    pub fn check_limit(
        function: &'static str,
        what: &'static str,
        limit: u64,
        requested: u64,
    ) -> Result<(), HostError> {
        if requested > limit {
            return Err(HostError::LimitExceeded {
                function,
                what,
                limit,
                requested,
            });
        }
        Ok(())
    }

    /// Whether every node would reach this same error. `false` only for
    /// [`HostError::Storage`], an environment failure the node must handle itself
    /// (retry or halt) instead of committing it as the call's outcome.
    pub fn is_deterministic(&self) -> bool {
        !matches!(self, HostError::Storage(_))
    }

    /// A stable snake_case name for the error kind, for outcomes, logs and tests.
    /// These strings are part of the ABI: never change them.
    pub fn kind(&self) -> &'static str {
        match self {
            HostError::OutOfGas => "out_of_gas",
            HostError::Panic { .. } => "panic",
            HostError::MemoryAccess { .. } => "memory_access",
            HostError::InvalidUtf8 { .. } => "invalid_utf8",
            HostError::RegisterNotFound { .. } => "register_not_found",
            HostError::LimitExceeded { .. } => "limit_exceeded",
            HostError::BadArguments { .. } => "bad_arguments",
            HostError::InvalidArgument { .. } => "invalid_argument",
            HostError::BalanceExceeded { .. } => "balance_exceeded",
            HostError::Storage(_) => "storage",
        }
    }
}

impl From<OutOfGas> for HostError {
    fn from(_: OutOfGas) -> Self {
        HostError::OutOfGas
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_storage_errors_are_nondeterministic() {
        assert!(HostError::OutOfGas.is_deterministic());
        assert!(HostError::Panic {
            message: "x".into()
        }
        .is_deterministic());
        let storage = HostError::from(StorageError::new("disk on fire"));
        assert!(!storage.is_deterministic());
        assert_eq!(storage.kind(), "storage");
        assert_eq!(storage.to_string(), "storage backend failed: disk on fire");
    }

    #[test]
    fn messages_name_the_function_and_limit() {
        let e = HostError::LimitExceeded {
            function: "storage_write",
            what: "max_key_len",
            limit: 2048,
            requested: 4096,
        };
        let msg = e.to_string();
        assert!(msg.contains("storage_write"), "{msg}");
        assert!(msg.contains("max_key_len"), "{msg}");
        assert!(msg.contains("2048") && msg.contains("4096"), "{msg}");
        assert_eq!(e.kind(), "limit_exceeded");
    }
}
