//! The ABI v1 table: one row per host function, the single source of truth.
//!
//! Names, signatures, gas formulas and the docs in README.md are all derived from
//! [`HOST_FUNCTIONS`]. To add a function: append a variant to [`HostFunction`], update
//! `LAST_HOST_FUNCTION`, append a row here, handle it in `dispatch.rs`, then regenerate the
//! README table with `GASKET_BLESS=1 cargo test -p gasket-host-api`.
//!
//! Gas units: those of cost table version 3 (about 0.0077 ns of this project's calibration
//! machine per gas; a plain ALU operation costs 148). Bases cover the fixed cost of a host
//! call (leaving compiled code, argument checks, the work itself) and per-byte rates
//! copying and hashing, both derived from measured time by `scripts/derive-costs.py`
//! (ARCHITECTURE.md, "Gas calibration"). One price is not a time price: the per-byte rate
//! of `storage_write` covers state growth, so that filling storage ("storage bombs")
//! costs far more gas than any contract can spend in one call (version 2's 10 × the
//! gas unit's rescaling of 50; kept with `--keep host:storage_write:per_byte`).

use crate::abi::{HostFunction, HostFunctionSpec, Signature, WasmType, LAST_HOST_FUNCTION};
use crate::gas::GasFormula;

use WasmType::{I32, I64};

/// Number of host functions in ABI v1.
pub(crate) const HOST_FUNCTION_COUNT: usize = LAST_HOST_FUNCTION as usize + 1;

const NO_PARAMS: &[WasmType] = &[];
const NO_RESULTS: &[WasmType] = &[];

const fn sig(params: &'static [WasmType], results: &'static [WasmType]) -> Signature {
    Signature { params, results }
}

const fn gas(base: u64, per_byte: u64) -> GasFormula {
    GasFormula { base, per_byte }
}

/// The rows, as a constant so that derived constants (like `ALL_FUNCTIONS`) can be
/// computed and checked at compile time.
const TABLE: [HostFunctionSpec; HOST_FUNCTION_COUNT] = [
    HostFunctionSpec {
        function: HostFunction::ReadRegister,
        name: "read_register",
        param_names: &["register_id", "ptr"],
        signature: sig(&[I64, I32], NO_RESULTS),
        gas: gas(8156, 1),
        gas_bytes: "register length",
        semantics: "Copies the whole contents of register `register_id` into memory at `ptr` (the length is `register_len(register_id)`).",
        errors: "`register_not_found` if the register is empty; `memory_access` if `ptr + len` is past the end of memory.",
    },
    HostFunctionSpec {
        function: HostFunction::RegisterLen,
        name: "register_len",
        param_names: &["register_id"],
        signature: sig(&[I64], &[I64]),
        gas: gas(8083, 0),
        gas_bytes: "-",
        semantics: "Returns the length in bytes of register `register_id`, or -1 (`u64::MAX` as i64) if it is empty.",
        errors: "none besides `out_of_gas`.",
    },
    HostFunctionSpec {
        function: HostFunction::Input,
        name: "input",
        param_names: &["register_id"],
        signature: sig(&[I64], NO_RESULTS),
        gas: gas(9801, 3),
        gas_bytes: "input length",
        semantics: "Puts the call's input bytes into register `register_id` (replacing its contents).",
        errors: "`limit_exceeded` (`max_registers`, `max_register_bytes`).",
    },
    HostFunctionSpec {
        function: HostFunction::ReturnValue,
        name: "return_value",
        param_names: &["ptr", "len"],
        signature: sig(&[I32, I32], NO_RESULTS),
        gas: gas(9150, 2),
        gas_bytes: "`len`",
        semantics: "Sets the call's return data to memory `[ptr, ptr + len)`; the last call wins.",
        errors: "`limit_exceeded` (`max_return_data_len`); `memory_access`.",
    },
    HostFunctionSpec {
        function: HostFunction::PanicUtf8,
        name: "panic_utf8",
        param_names: &["ptr", "len"],
        signature: sig(&[I32, I32], NO_RESULTS),
        gas: gas(2425, 48),
        gas_bytes: "`len`",
        semantics: "Aborts the call with status `panic` and the UTF-8 message at `[ptr, ptr + len)`; state changes are discarded. Never returns.",
        errors: "always `panic`; `limit_exceeded` (`max_panic_message_len`), `memory_access` or `invalid_utf8` if the message itself is bad.",
    },
    HostFunctionSpec {
        function: HostFunction::LogUtf8,
        name: "log_utf8",
        param_names: &["ptr", "len"],
        signature: sig(&[I32, I32], NO_RESULTS),
        gas: gas(6377, 56),
        gas_bytes: "`len`",
        semantics: "Appends the UTF-8 text at `[ptr, ptr + len)` to the call's log lines.",
        errors: "`limit_exceeded` (`max_log_len`, `max_logs`); `memory_access`; `invalid_utf8`.",
    },
    HostFunctionSpec {
        function: HostFunction::StorageWrite,
        name: "storage_write",
        param_names: &["key_ptr", "key_len", "value_ptr", "value_len"],
        signature: sig(&[I32, I32, I32, I32], &[I32]),
        gas: gas(358341, 500),
        gas_bytes: "`key_len + value_len`",
        semantics: "Stores the value at `[value_ptr, value_ptr + value_len)` under the key at `[key_ptr, key_ptr + key_len)`. Returns 1 if it replaced an existing value, else 0.",
        errors: "`limit_exceeded` (`max_key_len`, `max_value_len`); `memory_access`; `storage`.",
    },
    HostFunctionSpec {
        function: HostFunction::StorageRead,
        name: "storage_read",
        param_names: &["key_ptr", "key_len", "register_id"],
        signature: sig(&[I32, I32, I64], &[I32]),
        gas: gas(27634, 29),
        gas_bytes: "`key_len` + length of the value found (charged after the lookup, before the register is written)",
        semantics: "Looks the key up. If found: puts the value into register `register_id` and returns 1. If absent: returns 0 and leaves the register untouched.",
        errors: "`limit_exceeded` (`max_key_len`, `max_registers`, `max_register_bytes`); `memory_access`; `storage`.",
    },
    HostFunctionSpec {
        function: HostFunction::StorageRemove,
        name: "storage_remove",
        param_names: &["key_ptr", "key_len"],
        signature: sig(&[I32, I32], &[I32]),
        gas: gas(120810, 2),
        gas_bytes: "`key_len`",
        semantics: "Removes the key. Returns 1 if it existed, else 0.",
        errors: "`limit_exceeded` (`max_key_len`); `memory_access`; `storage`.",
    },
    HostFunctionSpec {
        function: HostFunction::StorageHasKey,
        name: "storage_has_key",
        param_names: &["key_ptr", "key_len"],
        signature: sig(&[I32, I32], &[I32]),
        gas: gas(18874, 2),
        gas_bytes: "`key_len`",
        semantics: "Returns 1 if the key has a value, else 0.",
        errors: "`limit_exceeded` (`max_key_len`); `memory_access`; `storage`.",
    },
    HostFunctionSpec {
        function: HostFunction::CurrentAccount,
        name: "current_account",
        param_names: &["register_id"],
        signature: sig(&[I64], NO_RESULTS),
        gas: gas(12255, 48),
        gas_bytes: "account id length",
        semantics: "Puts the id (bytes) of the account whose contract is running into register `register_id`.",
        errors: "`limit_exceeded` (`max_registers`, `max_register_bytes`).",
    },
    HostFunctionSpec {
        function: HostFunction::Caller,
        name: "caller",
        param_names: &["register_id"],
        signature: sig(&[I64], NO_RESULTS),
        gas: gas(11182, 48),
        gas_bytes: "account id length",
        semantics: "Puts the id (bytes) of the account that made this call into register `register_id`.",
        errors: "`limit_exceeded` (`max_registers`, `max_register_bytes`).",
    },
    HostFunctionSpec {
        function: HostFunction::BlockHeight,
        name: "block_height",
        param_names: &[],
        signature: sig(NO_PARAMS, &[I64]),
        gas: gas(4629, 0),
        gas_bytes: "-",
        semantics: "Returns the height of the block this call executes in.",
        errors: "none besides `out_of_gas`.",
    },
    HostFunctionSpec {
        function: HostFunction::BlockTimestamp,
        name: "block_timestamp",
        param_names: &[],
        signature: sig(NO_PARAMS, &[I64]),
        gas: gas(4630, 0),
        gas_bytes: "-",
        semantics: "Returns the block's timestamp in nanoseconds since the Unix epoch (from the block, never from a clock).",
        errors: "none besides `out_of_gas`.",
    },
    HostFunctionSpec {
        function: HostFunction::Sha256,
        name: "sha256",
        param_names: &["ptr", "len", "register_id"],
        signature: sig(&[I32, I32, I64], NO_RESULTS),
        gas: gas(23411, 139),
        gas_bytes: "`len`",
        semantics: "Puts the 32-byte SHA-256 digest of memory `[ptr, ptr + len)` into register `register_id`.",
        errors: "`memory_access`; `limit_exceeded` (`max_registers`, `max_register_bytes`).",
    },
];

/// The ABI v1 table. Row `i` describes the host function with dispatch index `i`.
pub static HOST_FUNCTIONS: [HostFunctionSpec; HOST_FUNCTION_COUNT] = TABLE;

/// Every variant, in index order, read off the table (backs [`HostFunction::ALL`]).
pub(crate) const ALL_FUNCTIONS: [HostFunction; HOST_FUNCTION_COUNT] = {
    let mut all = [HostFunction::ReadRegister; HOST_FUNCTION_COUNT];
    let mut i = 0;
    while i < HOST_FUNCTION_COUNT {
        all[i] = TABLE[i].function;
        i += 1;
    }
    all
};

// Compile-time checks: row `i` is the variant with index `i` (so `spec()` indexing is
// sound and nothing is reordered silently), and parameter names match the signature.
const _: () = {
    let mut i = 0;
    while i < HOST_FUNCTION_COUNT {
        assert!(
            TABLE[i].function as usize == i,
            "HOST_FUNCTIONS row order must match HostFunction declaration order"
        );
        assert!(
            TABLE[i].param_names.len() == TABLE[i].signature.params.len(),
            "param_names must have one entry per signature parameter"
        );
        assert!(
            TABLE[i].signature.results.len() <= 1,
            "ABI v1 host functions return at most one value"
        );
        i += 1;
    }
};
