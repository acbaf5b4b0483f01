//! Size limits on what one call may ask of the host.
//!
//! Gas already bounds total work, but some resources (node memory for registers and logs,
//! database key sizes) need hard caps independent of the gas price. Exceeding any limit is
//! a deterministic error ([`HostError::LimitExceeded`](crate::HostError)), so every node
//! with the same limits gives the same result. Limits are part of consensus: nodes must
//! agree on them just as on gas costs.

use borsh::{BorshDeserialize, BorshSerialize};

/// Per-call limits, enforced by [`dispatch`](crate::dispatch).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, BorshSerialize, BorshDeserialize)]
pub struct HostLimits {
    /// Longest storage key, in bytes.
    pub max_key_len: u64,
    /// Longest storage value, in bytes.
    pub max_value_len: u64,
    /// Longest single log line, in bytes.
    pub max_log_len: u64,
    /// Most log lines one call may emit.
    pub max_logs: u64,
    /// Longest `panic_utf8` message, in bytes.
    pub max_panic_message_len: u64,
    /// Longest return data, in bytes.
    pub max_return_data_len: u64,
    /// Most bytes held in all registers together at any moment.
    pub max_register_bytes: u64,
    /// Most registers holding data at any moment (a register holding zero bytes counts).
    pub max_registers: u64,
}

impl HostLimits {
    /// The defaults of ABI v1.
    pub const DEFAULT: HostLimits = HostLimits {
        max_key_len: 2 * 1024,
        max_value_len: 1024 * 1024,
        max_log_len: 16 * 1024,
        max_logs: 100,
        max_panic_message_len: 16 * 1024,
        max_return_data_len: 1024 * 1024,
        max_register_bytes: 16 * 1024 * 1024,
        max_registers: 256,
    };
}

impl Default for HostLimits {
    fn default() -> Self {
        Self::DEFAULT
    }
}
