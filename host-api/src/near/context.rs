//! What a NEAR call can ask about its world: accounts, block, balances, gas, the results
//! of the promises it waits on. Supplied by the chain (the harness, or a node), never read
//! from the machine, so every engine sees the same values.

use std::collections::BTreeMap;

use borsh::{BorshDeserialize, BorshSerialize};

/// Bytes NEAR charges per stored record on top of its key and value.
pub const STORAGE_RECORD_OVERHEAD: u64 = 40;

/// Bytes NEAR charges for an account's existence.
pub const ACCOUNT_OVERHEAD: u64 = 100;

/// yoctoNEAR locked per byte of storage (NEAR's `storage_amount_per_byte`, 10^19).
pub const STORAGE_PRICE_PER_BYTE: u128 = 10_000_000_000_000_000_000;

/// The result of a promise a callback waits on.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub enum PromiseResult {
    /// Not executed yet (never delivered by the harness, which runs callbacks only when
    /// every dependency is done; kept for NEAR's numbering: `promise_result` returns 0).
    NotReady,
    /// The receipt succeeded with this return value.
    Successful(Vec<u8>),
    /// The receipt failed.
    Failed,
}

/// Facts about one NEAR function call.
#[derive(Clone, Debug, Default, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct NearContext {
    /// The account whose contract runs (`current_account_id`).
    pub current_account_id: String,
    /// The account that signed the transaction that started it all (`signer_account_id`).
    pub signer_account_id: String,
    /// The signer's public key, borsh-encoded (`signer_account_pk`).
    pub signer_account_pk: Vec<u8>,
    /// The account that made this call (`predecessor_account_id`).
    pub predecessor_account_id: String,
    /// The call's arguments (`input`).
    pub input: Vec<u8>,
    /// Block height (`block_index`).
    pub block_height: u64,
    /// Block timestamp in nanoseconds (`block_timestamp`).
    pub block_timestamp: u64,
    /// Epoch height (`epoch_height`).
    pub epoch_height: u64,
    /// Balance at the start of the call, the attached deposit included.
    pub account_balance: u128,
    /// Locked (staked) balance.
    pub account_locked_balance: u128,
    /// Deposit attached to the call.
    pub attached_deposit: u128,
    /// Gas limit of the call (`prepaid_gas`), in Gasket gas units.
    pub prepaid_gas: u64,
    /// The block's random seed (`random_seed`), 32 bytes.
    pub random_seed: Vec<u8>,
    /// Storage usage of the account at the start of the call.
    pub storage_usage: u64,
    /// Results of the promises this call (a callback) waits on, in dependency order.
    pub promise_results: Vec<PromiseResult>,
    /// Stakes of the current validators (`validator_stake`, `validator_total_stake`).
    pub validators: BTreeMap<String, u128>,
}

/// Whether `id` is a valid NEAR account id: 2 to 64 characters from `a-z0-9` separated by
/// single `-`, `_` or `.`, not starting or ending with a separator. (Implicit 64-hex ids
/// satisfy the same rule.)
pub fn is_valid_account_id(id: &str) -> bool {
    if id.len() < 2 || id.len() > 64 {
        return false;
    }
    let mut last_was_separator = true;
    for c in id.bytes() {
        match c {
            b'a'..=b'z' | b'0'..=b'9' => last_was_separator = false,
            b'-' | b'_' | b'.' => {
                if last_was_separator {
                    return false;
                }
                last_was_separator = true;
            }
            _ => return false,
        }
    }
    !last_was_separator
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn account_ids() {
        for ok in ["alice", "a1", "alice.near", "ft-token_1.sub.near", "0x"] {
            assert!(is_valid_account_id(ok), "{ok}");
        }
        for bad in [
            "a",
            "",
            "Alice",
            "alice.",
            ".alice",
            "a..b",
            "a b",
            &"a".repeat(65),
        ] {
            assert!(!is_valid_account_id(bad), "{bad}");
        }
    }
}
