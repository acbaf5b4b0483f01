//! The NEAR-compatible host function table: NEAR's import names and signatures (every
//! parameter and result is a u64, pointers and lengths included), with Gasket's own gas
//! formulas. One row per [`NearFunction`]; the enum, the rows and the name lookup are all
//! generated from the single list below, so they cannot disagree.
//!
//! Gas: the same unit as ABI v1 (cost table version 3: about 0.0077 ns of this project's
//! calibration machine per gas). The rows of functions ABI v1 also has (registers,
//! input, account ids, block height and timestamp, sha256, return value, logs, storage)
//! take ABI v1's calibrated formulas (`scripts/derive-costs.py`, ARCHITECTURE.md "Gas
//! calibration"); the others, not calibrated, are their version 2 prices × 50 (the gas
//! unit's rescaling), with a base of at least 4 629, the cheapest measured host call
//! (`block_height`). Storage writes are priced like ABI v1's so storage bombs stay
//! expensive. NEAR's own gas numbers are deliberately not
//! reproduced: what must match NEAR is the semantics, what must be deterministic is the
//! price. Attached gas (`promise_create`, `promise_then`, function-call actions) is charged
//! on top of the formula: gas given to another receipt is gas this call has used.

use borsh::{BorshDeserialize, BorshSerialize};

use crate::abi::{Signature, WasmType};
use crate::gas::GasFormula;

/// Sixteen i64 types; every NEAR signature is a prefix of this.
const I64S: [WasmType; 16] = [WasmType::I64; 16];

const fn i64s(n: usize) -> &'static [WasmType] {
    I64S.split_at(n).0
}

/// One row of the NEAR table.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct NearFunctionSpec {
    /// The variant this row describes; row `i` describes the variant with index `i`.
    pub function: NearFunction,
    /// Import name inside module `env`.
    pub name: &'static str,
    /// Parameter names, one per entry of `signature.params`.
    pub param_names: &'static [&'static str],
    /// The wasm type the import must be declared with (all i64).
    pub signature: Signature,
    /// Gas charged: `gas.base + gas.per_byte * bytes`.
    pub gas: GasFormula,
    /// What "bytes" counts in the gas formula.
    pub gas_bytes: &'static str,
    /// What the function does (NEAR's documented behaviour).
    pub semantics: &'static str,
}

macro_rules! near_table {
    ($( $variant:ident $name:literal ( $($param:ident),* ) -> $res:literal,
        gas($base:literal, $per:literal) $bytes:literal, $sem:literal; )*) => {
        /// Every function of the NEAR-compatible ABI. Declaration order is the stable
        /// dispatch index and borsh tag (compiled artifacts store it): only ever append.
        #[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash,
                 BorshSerialize, BorshDeserialize)]
        #[repr(u32)]
        pub enum NearFunction {
            $( #[doc = concat!("`env.", $name, "`")] $variant, )*
        }

        /// The NEAR table; row `i` is the function with index `i`.
        pub static NEAR_FUNCTIONS: &[NearFunctionSpec] = &[
            $( NearFunctionSpec {
                function: NearFunction::$variant,
                name: $name,
                param_names: &[$(stringify!($param)),*],
                signature: Signature {
                    params: i64s(<[&str]>::len(&[$(stringify!($param)),*])),
                    results: i64s($res),
                },
                gas: GasFormula { base: $base, per_byte: $per },
                gas_bytes: $bytes,
                semantics: $sem,
            }, )*
        ];

        impl NearFunction {
            /// Every function, in index order.
            pub const ALL: &'static [NearFunction] = &[$(NearFunction::$variant),*];
        }
    };
}

near_table! {
    ReadRegister "read_register" (register_id, ptr) -> 0, gas(8156, 1) "register length",
        "Copies register `register_id` into memory at `ptr`; `register_not_found` if it is empty.";
    RegisterLen "register_len" (register_id) -> 1, gas(8083, 0) "-",
        "Length of register `register_id`, or u64::MAX if it is empty.";
    WriteRegister "write_register" (register_id, data_len, data_ptr) -> 0, gas(4629, 50) "`data_len`",
        "Puts memory `[data_ptr, data_ptr + data_len)` into register `register_id`.";
    CurrentAccountId "current_account_id" (register_id) -> 0, gas(12255, 48) "account id length",
        "Puts the id of the account whose contract runs into the register.";
    SignerAccountId "signer_account_id" (register_id) -> 0, gas(11182, 48) "account id length",
        "Puts the id of the account that signed the original transaction into the register.";
    SignerAccountPk "signer_account_pk" (register_id) -> 0, gas(4629, 50) "key length",
        "Puts the signer's public key (borsh: curve byte + key bytes) into the register.";
    PredecessorAccountId "predecessor_account_id" (register_id) -> 0, gas(11182, 48) "account id length",
        "Puts the id of the account that made this call (the signer, or the contract whose receipt this is) into the register.";
    Input "input" (register_id) -> 0, gas(9801, 3) "input length",
        "Puts the call's arguments into the register.";
    BlockIndex "block_index" () -> 1, gas(4629, 0) "-",
        "The current block height.";
    BlockTimestamp "block_timestamp" () -> 1, gas(4630, 0) "-",
        "The current block timestamp, nanoseconds since the Unix epoch (from the block, never a clock).";
    EpochHeight "epoch_height" () -> 1, gas(4629, 0) "-",
        "The current epoch height.";
    StorageUsage "storage_usage" () -> 1, gas(4629, 0) "-",
        "Bytes of storage the account uses now, its own writes in this call included (NEAR's accounting: 40 bytes per record on top of key and value, 100 for the account, plus the code).";
    AccountBalance "account_balance" (balance_ptr) -> 0, gas(4629, 0) "-",
        "Writes the account's balance in yoctoNEAR (u128 little-endian, 16 bytes) at `balance_ptr`: the attached deposit is already included, amounts sent by this call's promises are already subtracted.";
    AccountLockedBalance "account_locked_balance" (balance_ptr) -> 0, gas(4629, 0) "-",
        "Writes the account's locked (staked) balance, u128 LE, at `balance_ptr`.";
    AttachedDeposit "attached_deposit" (balance_ptr) -> 0, gas(4629, 0) "-",
        "Writes the deposit attached to this call, u128 LE, at `balance_ptr`.";
    PrepaidGas "prepaid_gas" () -> 1, gas(4629, 0) "-",
        "The gas limit of this call (Gasket gas units).";
    UsedGas "used_gas" () -> 1, gas(4629, 0) "-",
        "Gas used so far by this call, attached gas included.";
    RandomSeed "random_seed" (register_id) -> 0, gas(4629, 50) "32",
        "Puts the block's 32-byte random seed into the register (supplied by the chain, deterministic).";
    Sha256 "sha256" (value_len, value_ptr, register_id) -> 0, gas(23411, 139) "`value_len`",
        "SHA-256 of memory `[value_ptr, value_ptr + value_len)` into the register (32 bytes).";
    Keccak256 "keccak256" (value_len, value_ptr, register_id) -> 0, gas(10000, 200) "`value_len`",
        "Keccak-256 (the pre-standard SHA-3 padding, as Ethereum) of the bytes into the register (32 bytes).";
    Keccak512 "keccak512" (value_len, value_ptr, register_id) -> 0, gas(10000, 400) "`value_len`",
        "Keccak-512 of the bytes into the register (64 bytes).";
    Ripemd160 "ripemd160" (value_len, value_ptr, register_id) -> 0, gas(10000, 300) "`value_len`",
        "RIPEMD-160 of the bytes into the register (20 bytes).";
    ValueReturn "value_return" (value_len, value_ptr) -> 0, gas(9150, 2) "`value_len`",
        "Sets the call's return value; replaces an earlier value_return or promise_return.";
    Panic "panic" () -> 0, gas(4629, 0) "-",
        "Ends the call with status `panic` and the message `explicit guest panic`; nothing is committed.";
    PanicUtf8 "panic_utf8" (len, ptr) -> 0, gas(2425, 48) "`len`",
        "Ends the call with status `panic` and the UTF-8 message at `[ptr, ptr + len)`; nothing is committed.";
    LogUtf8 "log_utf8" (len, ptr) -> 0, gas(6377, 56) "`len`",
        "Appends the UTF-8 text at `[ptr, ptr + len)` to the logs.";
    LogUtf16 "log_utf16" (len, ptr) -> 0, gas(5000, 100) "`len`",
        "Appends the UTF-16LE text of `len` bytes at `ptr` to the logs (as UTF-8).";
    PromiseCreate "promise_create" (account_id_len, account_id_ptr, function_name_len, function_name_ptr, arguments_len, arguments_ptr, amount_ptr, gas) -> 1, gas(25000, 100) "account id + method name + arguments",
        "A new receipt to `account_id` calling `function_name(arguments)` with the deposit at `amount_ptr` and `gas` attached; returns its promise index.";
    PromiseThen "promise_then" (promise_index, account_id_len, account_id_ptr, function_name_len, function_name_ptr, arguments_len, arguments_ptr, amount_ptr, gas) -> 1, gas(25000, 100) "account id + method name + arguments",
        "Like promise_create, but the receipt runs after promise `promise_index` and sees its results through promise_result.";
    PromiseAnd "promise_and" (promise_idx_ptr, promise_idx_count) -> 1, gas(5000, 400) "8 × count",
        "A joint promise over the u64 indices at `promise_idx_ptr`: a `then` on it waits for all of them.";
    PromiseBatchCreate "promise_batch_create" (account_id_len, account_id_ptr) -> 1, gas(15000, 100) "account id length",
        "A new empty receipt to `account_id`; actions are appended with promise_batch_action_*.";
    PromiseBatchThen "promise_batch_then" (promise_index, account_id_len, account_id_ptr) -> 1, gas(15000, 100) "account id length",
        "A new empty receipt to `account_id` that runs after promise `promise_index`.";
    PromiseBatchActionCreateAccount "promise_batch_action_create_account" (promise_index) -> 0, gas(10000, 0) "-",
        "Appends CreateAccount (of the receiver) to the receipt.";
    PromiseBatchActionDeployContract "promise_batch_action_deploy_contract" (promise_index, code_len, code_ptr) -> 0, gas(10000, 50) "`code_len`",
        "Appends DeployContract(code) to the receipt.";
    PromiseBatchActionFunctionCall "promise_batch_action_function_call" (promise_index, method_name_len, method_name_ptr, arguments_len, arguments_ptr, amount_ptr, gas) -> 0, gas(15000, 100) "method name + arguments",
        "Appends FunctionCall(method, arguments, deposit, gas) to the receipt; `gas` is charged to this call.";
    PromiseBatchActionFunctionCallWeight "promise_batch_action_function_call_weight" (promise_index, method_name_len, method_name_ptr, arguments_len, arguments_ptr, amount_ptr, gas, gas_weight) -> 0, gas(15000, 100) "method name + arguments",
        "As promise_batch_action_function_call, and when this call ends, its unused gas is shared among such actions in proportion to `gas_weight`.";
    PromiseBatchActionTransfer "promise_batch_action_transfer" (promise_index, amount_ptr) -> 0, gas(10000, 0) "-",
        "Appends Transfer(amount) to the receipt; the amount leaves this account's balance now.";
    PromiseBatchActionStake "promise_batch_action_stake" (promise_index, amount_ptr, public_key_len, public_key_ptr) -> 0, gas(10000, 50) "key length",
        "Appends Stake(amount, public_key) to the receipt.";
    PromiseBatchActionAddKeyWithFullAccess "promise_batch_action_add_key_with_full_access" (promise_index, public_key_len, public_key_ptr, nonce) -> 0, gas(10000, 50) "key length",
        "Appends AddKey(public_key, nonce, full access) to the receipt.";
    PromiseBatchActionAddKeyWithFunctionCall "promise_batch_action_add_key_with_function_call" (promise_index, public_key_len, public_key_ptr, nonce, allowance_ptr, receiver_id_len, receiver_id_ptr, function_names_len, function_names_ptr) -> 0, gas(10000, 50) "key + receiver + method names",
        "Appends AddKey with a function-call permission (allowance 0 = unlimited, comma-separated method names).";
    PromiseBatchActionDeleteKey "promise_batch_action_delete_key" (promise_index, public_key_len, public_key_ptr) -> 0, gas(10000, 50) "key length",
        "Appends DeleteKey(public_key) to the receipt.";
    PromiseBatchActionDeleteAccount "promise_batch_action_delete_account" (promise_index, beneficiary_id_len, beneficiary_id_ptr) -> 0, gas(10000, 50) "account id length",
        "Appends DeleteAccount(beneficiary) to the receipt.";
    PromiseResultsCount "promise_results_count" () -> 1, gas(4629, 0) "-",
        "How many promise results this call (a callback) received.";
    PromiseResult "promise_result" (result_idx, register_id) -> 1, gas(4629, 50) "result length",
        "0 not ready, 1 successful (its value put into the register), 2 failed.";
    PromiseReturn "promise_return" (promise_id) -> 0, gas(4629, 0) "-",
        "Makes this call's result the result of promise `promise_id`; replaces an earlier value_return.";
    StorageWrite "storage_write" (key_len, key_ptr, value_len, value_ptr, register_id) -> 1, gas(358341, 500) "key + value",
        "Stores the value under the key; returns 1 and puts the old value into the register if one was replaced, else 0.";
    StorageRead "storage_read" (key_len, key_ptr, register_id) -> 1, gas(27634, 29) "key + value found",
        "If the key has a value: puts it into the register and returns 1; else returns 0.";
    StorageRemove "storage_remove" (key_len, key_ptr, register_id) -> 1, gas(120810, 2) "key + value removed",
        "Removes the key; returns 1 and puts the removed value into the register if it existed, else 0.";
    StorageHasKey "storage_has_key" (key_len, key_ptr) -> 1, gas(18874, 2) "`key_len`",
        "1 if the key has a value, else 0.";
    ValidatorStake "validator_stake" (account_id_len, account_id_ptr, stake_ptr) -> 0, gas(5000, 100) "account id length",
        "Writes the validator's stake (u128 LE; 0 for a non-validator) at `stake_ptr`.";
    ValidatorTotalStake "validator_total_stake" (stake_ptr) -> 0, gas(5000, 0) "-",
        "Writes the total stake of the current validators (u128 LE) at `stake_ptr`.";
}

impl NearFunction {
    /// The table row.
    pub fn spec(self) -> &'static NearFunctionSpec {
        // In bounds: the test below checks one row per variant, in order.
        &NEAR_FUNCTIONS[self as usize]
    }

    /// The import name in module `env`.
    pub fn name(self) -> &'static str {
        self.spec().name
    }

    /// The wasm type the import must be declared with.
    pub fn signature(self) -> Signature {
        self.spec().signature
    }

    /// The gas formula.
    pub fn gas(self) -> GasFormula {
        self.spec().gas
    }

    /// Looks a function up by its import name.
    pub fn from_name(name: &str) -> Option<NearFunction> {
        NEAR_FUNCTIONS
            .iter()
            .find(|row| row.name == name)
            .map(|row| row.function)
    }
}

impl core::fmt::Display for NearFunction {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_are_in_variant_order_and_names_unique() {
        assert_eq!(NEAR_FUNCTIONS.len(), NearFunction::ALL.len());
        for (i, row) in NEAR_FUNCTIONS.iter().enumerate() {
            assert_eq!(row.function as usize, i);
            assert_eq!(NearFunction::from_name(row.name), Some(row.function));
            assert_eq!(row.param_names.len(), row.signature.params.len());
        }
    }

    #[test]
    fn signatures_are_nears() {
        let s = NearFunction::PromiseBatchActionFunctionCallWeight.signature();
        assert_eq!(s.params.len(), 8);
        assert!(s.results.is_empty());
        assert_eq!(
            NearFunction::StorageWrite.signature().to_string(),
            "(i64, i64, i64, i64, i64) -> (i64)"
        );
        assert_eq!(NearFunction::Panic.signature().to_string(), "() -> ()");
    }
}

/// Marker line before the generated NEAR table in host-api/README.md.
pub const NEAR_TABLE_START_MARKER: &str = "<!-- near-table:start -->";
/// Marker line after it.
pub const NEAR_TABLE_END_MARKER: &str = "<!-- near-table:end -->";

/// The NEAR table as markdown (for host-api/README.md; a test keeps it current).
pub fn render_near_markdown_table() -> String {
    let cell = |t: &str| t.replace('|', "\\|").replace('\n', " ");
    let mut out = String::from(
        "| # | Function | Gas base | Gas per byte | Bytes counted | Semantics |\n|---:|---|---:|---:|---|---|\n",
    );
    for row in NEAR_FUNCTIONS {
        let mut heading = format!("{}({})", row.name, row.param_names.join(", "));
        if !row.signature.results.is_empty() {
            heading.push_str(" -> u64");
        }
        out.push_str(&format!(
            "| {} | `{}` | {} | {} | {} | {} |\n",
            row.function as u32,
            heading,
            row.gas.base,
            row.gas.per_byte,
            cell(row.gas_bytes),
            cell(row.semantics)
        ));
    }
    out
}

#[cfg(test)]
mod readme {
    use super::*;

    #[test]
    fn readme_near_table_is_current() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md");
        let readme = std::fs::read_to_string(&path).unwrap();
        let start = readme.find(NEAR_TABLE_START_MARKER).expect("start marker")
            + NEAR_TABLE_START_MARKER.len();
        let end = readme[start..]
            .find(NEAR_TABLE_END_MARKER)
            .expect("end marker")
            + start;
        let expected = format!("\n{}", render_near_markdown_table());
        if readme[start..end] == expected {
            return;
        }
        if std::env::var("GASKET_BLESS").as_deref() == Ok("1") {
            let updated = format!("{}{}{}", &readme[..start], expected, &readme[end..]);
            std::fs::write(&path, updated).unwrap();
            return;
        }
        panic!("host-api/README.md's NEAR table is stale; regenerate it with `GASKET_BLESS=1 cargo test -p gasket-host-api`");
    }
}
