//! A fungible token: the Rust twin of fixtures/contracts/token.c, with the same methods,
//! input and output bytes, storage layout and panic messages.
//!
//! - `init()`: makes the caller the owner (once; `already initialized` after).
//! - `mint(amount: u64, account: rest)`: owner only (`unauthorized mint`;
//!   `not initialized` before `init`); `total supply overflow` past 2^64-1.
//! - `transfer(amount: u64, recipient: rest)`: `insufficient balance` if the caller has
//!   less than `amount`; a transfer to oneself changes nothing.
//! - `balance_of(account: rest) -> u64`, `total_supply() -> u64`.
//!
//! Input is the amount (u64 LE) followed by the account's bytes ([`Remainder`]), as in C.
//! Accounts must be 1 to 64 bytes (`empty account`, `account too long`). Storage:
//! `owner` (raw account bytes), `supply` (u64 LE), `b:` ‖ account (u64 LE).
//! One difference from C: input shorter than 8 bytes panics with the SDK's
//! `invalid input for <method>: amount: input ended early`.
#![cfg_attr(target_arch = "wasm32", no_std)]
extern crate alloc;

use alloc::vec::Vec;
use gasket_sdk::storage::{Map, Value};
use gasket_sdk::{env, require, Remainder};

const OWNER: Value<Remainder> = Value::new(b"owner");
const SUPPLY: Value<u64> = Value::new(b"supply");
const BALANCES: Map<u64> = Map::new(b"b:");

/// Longest account id the token accepts.
const MAX_ACCOUNT: usize = 64;

fn check_account(account: &[u8]) {
    require!(!account.is_empty(), "empty account");
    require!(account.len() <= MAX_ACCOUNT, "account too long");
}

fn balance(account: &[u8]) -> u64 {
    check_account(account);
    BALANCES.get_or_default(account)
}

fn set_balance(account: &[u8], amount: u64) {
    check_account(account);
    BALANCES.insert(account, &amount);
}

fn caller_id() -> Vec<u8> {
    let caller = env::caller();
    require!(caller.len() <= MAX_ACCOUNT, "account too long");
    caller
}

gasket_sdk::methods! {
    /// Makes the caller the owner.
    pub fn init() {
        require!(!OWNER.exists(), "already initialized");
        OWNER.set(&Remainder(caller_id()));
        env::log("initialized");
    }

    /// Creates `amount` tokens for `account` (owner only).
    pub fn mint(amount: u64, account: Remainder) {
        let caller = caller_id();
        let owner = OWNER.get().unwrap_or_else(|| env::panic_str("not initialized"));
        require!(owner.0 == caller, "unauthorized mint");
        let supply = SUPPLY
            .get_or_default()
            .checked_add(amount)
            .unwrap_or_else(|| env::panic_str("total supply overflow"));
        SUPPLY.set(&supply);
        // Cannot overflow: every balance is at most the supply.
        set_balance(&account, balance(&account) + amount);
        env::log("mint");
    }

    /// Moves `amount` from the caller to `recipient`.
    pub fn transfer(amount: u64, recipient: Remainder) {
        let caller = caller_id();
        let from = balance(&caller);
        if from < amount {
            panic!("insufficient balance");
        }
        set_balance(&caller, from - amount);
        // Read the recipient after the debit, so a self-transfer is a no-op.
        set_balance(&recipient, balance(&recipient) + amount);
        env::log("transfer");
    }

    /// The balance of `account`.
    pub fn balance_of(account: Remainder) -> u64 {
        balance(&account)
    }

    /// All tokens minted.
    pub fn total_supply() -> u64 {
        SUPPLY.get_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gasket_sdk::testing;

    fn rest(account: &str) -> Remainder {
        Remainder(account.as_bytes().to_vec())
    }

    fn setup() {
        testing::reset();
        testing::set_caller("owner");
        testing::call(init).unwrap();
        testing::call(|| mint(100, rest("alice"))).unwrap();
    }

    #[test]
    fn mint_and_transfer() {
        setup();
        assert_eq!(total_supply(), 100);
        testing::set_caller("alice");
        testing::call(|| transfer(30, rest("bob"))).unwrap();
        assert_eq!(testing::logs(), ["transfer"]);
        assert_eq!(balance_of(rest("alice")), 70);
        assert_eq!(balance_of(rest("bob")), 30);
        // Self-transfer changes nothing.
        testing::call(|| transfer(70, rest("alice"))).unwrap();
        assert_eq!(balance_of(rest("alice")), 70);
        assert_eq!(testing::view(b"b:bob"), Some(30u64.to_le_bytes().to_vec()));
    }

    #[test]
    fn errors_leave_state_unchanged() {
        setup();
        let before = testing::storage();
        testing::set_caller("alice");
        assert_eq!(
            testing::call(|| transfer(101, rest("bob"))),
            Err("insufficient balance".into())
        );
        assert_eq!(
            testing::call(|| mint(1, rest("alice"))),
            Err("unauthorized mint".into())
        );
        assert_eq!(testing::call(init), Err("already initialized".into()));
        assert_eq!(
            testing::call(|| transfer(1, rest(""))),
            Err("empty account".into())
        );
        let long = "x".repeat(65);
        assert_eq!(
            testing::call(|| transfer(1, rest(&long))),
            Err("account too long".into())
        );
        testing::set_caller("owner");
        assert_eq!(
            testing::call(|| mint(u64::MAX, rest("bob"))),
            Err("total supply overflow".into())
        );
        assert_eq!(testing::storage(), before);
    }

    #[test]
    fn raw_input_is_the_c_tokens() {
        setup();
        testing::set_caller("alice");
        let mut input = 5u64.to_le_bytes().to_vec();
        input.extend_from_slice(b"bob");
        let out = testing::invoke(METHODS, "transfer", &input);
        assert_eq!(out.panic, None);
        assert_eq!(out.logs, vec!["transfer".to_string()]);
        assert_eq!(
            testing::invoke(METHODS, "balance_of", b"bob").unwrap_u64(),
            5
        );
        let out = testing::invoke(METHODS, "transfer", &[1, 2, 3]);
        assert_eq!(
            out.panic.as_deref(),
            Some("invalid input for transfer: amount: input ended early")
        );
    }
}
