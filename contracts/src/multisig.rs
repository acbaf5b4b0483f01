//! A multi-signature wallet: owners propose payments from the wallet's funds, and a
//! payment executes once `threshold` owners have confirmed it. Paid amounts are credited
//! to the recipient's balance in this contract (ABI v1 has no native token transfers).
//!
//! - `init(owners: Vec<Vec<u8>>, threshold: u32, funds: u64)`: once (`already
//!   initialized`); `no owners`, `duplicate owner`, `empty account`,
//!   `invalid threshold T: must be 1 to N` (N owners).
//! - `submit(to: Vec<u8>, amount: u64) -> u64`: an owner proposes a payment (and
//!   confirms it); returns its id (0, 1, …). `not an owner`, `empty account`.
//! - `confirm(id: u64) -> bool`: an owner confirms; true if this executed it.
//!   `not an owner`, `no such transaction`, `already executed`, `already confirmed`,
//!   and on execution `insufficient funds`.
//! - `revoke(id: u64)`: an owner withdraws a confirmation: `not confirmed`.
//! - `get(id: u64) -> Proposal`, `funds() -> u64`, `paid_to(account: rest) -> u64`.
//!
//! Execution happens inside the confirming call: with `threshold` 1, `submit` executes.
//! Storage: `owners`, `threshold`, `funds`, `next`, `t:` ‖ id (u64 LE) → [`Proposal`],
//! `p:` ‖ account → u64.
#![cfg_attr(target_arch = "wasm32", no_std)]
extern crate alloc;

use alloc::vec::Vec;
use gasket_sdk::codec::{Decode, DecodeError, Encode};
use gasket_sdk::storage::{Map, Value};
use gasket_sdk::{env, require, Remainder};

/// A proposed payment; encoded as its fields in order (borsh).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Proposal {
    pub to: Vec<u8>,
    pub amount: u64,
    /// Owners who confirmed, in confirmation order.
    pub confirmations: Vec<Vec<u8>>,
    pub executed: bool,
}

impl Encode for Proposal {
    fn encode_to(&self, out: &mut Vec<u8>) {
        self.to.encode_to(out);
        self.amount.encode_to(out);
        self.confirmations.encode_to(out);
        self.executed.encode_to(out);
    }
}

impl Decode for Proposal {
    fn decode_from(input: &mut &[u8]) -> Result<Self, DecodeError> {
        Ok(Proposal {
            to: Decode::decode_from(input)?,
            amount: Decode::decode_from(input)?,
            confirmations: Decode::decode_from(input)?,
            executed: Decode::decode_from(input)?,
        })
    }
}

const OWNERS: Value<Vec<Vec<u8>>> = Value::new(b"owners");
const THRESHOLD: Value<u32> = Value::new(b"threshold");
const FUNDS: Value<u64> = Value::new(b"funds");
const NEXT_ID: Value<u64> = Value::new(b"next");
const PROPOSALS: Map<Proposal> = Map::new(b"t:");
const PAID: Map<u64> = Map::new(b"p:");

/// The caller, who must be an owner.
fn owner() -> Vec<u8> {
    let caller = env::caller();
    let owners = OWNERS
        .get()
        .unwrap_or_else(|| env::panic_str("not initialized"));
    require!(owners.contains(&caller), "not an owner");
    caller
}

fn load(id: u64) -> Proposal {
    PROPOSALS
        .get(&id.to_le_bytes())
        .unwrap_or_else(|| env::panic_str("no such transaction"))
}

/// Executes `p` if it has enough confirmations; stores it either way.
fn store_or_execute(id: u64, mut p: Proposal) -> bool {
    let threshold = THRESHOLD.get_or_default() as usize;
    if p.confirmations.len() >= threshold {
        let funds = FUNDS.get_or_default();
        require!(funds >= p.amount, "insufficient funds");
        FUNDS.set(&(funds - p.amount));
        // Cannot overflow: everything paid came out of `funds`, a u64.
        PAID.insert(&p.to, &(PAID.get_or_default(&p.to) + p.amount));
        p.executed = true;
        env::log("executed");
    }
    PROPOSALS.insert(&id.to_le_bytes(), &p);
    p.executed
}

gasket_sdk::methods! {
    /// Sets the owners, the number of confirmations a payment needs, and the funds.
    pub fn init(owners: Vec<Vec<u8>>, threshold: u32, funds: u64) {
        require!(!OWNERS.exists(), "already initialized");
        require!(!owners.is_empty(), "no owners");
        for (i, o) in owners.iter().enumerate() {
            require!(!o.is_empty(), "empty account");
            require!(!owners[..i].contains(o), "duplicate owner");
        }
        if threshold == 0 || threshold as usize > owners.len() {
            // A formatted message: the SDK's panic handler formats it for `panic_utf8`.
            panic!("invalid threshold {}: must be 1 to {}", threshold, owners.len());
        }
        OWNERS.set(&owners);
        THRESHOLD.set(&threshold);
        FUNDS.set(&funds);
    }

    /// Proposes paying `amount` to `to`, confirmed by the caller; returns its id.
    pub fn submit(to: Vec<u8>, amount: u64) -> u64 {
        let caller = owner();
        require!(!to.is_empty(), "empty account");
        let id = NEXT_ID.get_or_default();
        NEXT_ID.set(&(id + 1));
        env::log("submitted");
        let p = Proposal { to, amount, confirmations: alloc::vec![caller], executed: false };
        store_or_execute(id, p);
        id
    }

    /// Confirms proposal `id`; true if this confirmation executed it.
    pub fn confirm(id: u64) -> bool {
        let caller = owner();
        let mut p = load(id);
        require!(!p.executed, "already executed");
        require!(!p.confirmations.contains(&caller), "already confirmed");
        p.confirmations.push(caller);
        store_or_execute(id, p)
    }

    /// Withdraws the caller's confirmation of proposal `id`.
    pub fn revoke(id: u64) {
        let caller = owner();
        let mut p = load(id);
        require!(!p.executed, "already executed");
        let before = p.confirmations.len();
        p.confirmations.retain(|o| *o != caller);
        require!(p.confirmations.len() < before, "not confirmed");
        PROPOSALS.insert(&id.to_le_bytes(), &p);
    }

    /// Proposal `id`.
    pub fn get(id: u64) -> Proposal {
        load(id)
    }

    /// The wallet's remaining funds.
    pub fn funds() -> u64 {
        FUNDS.get_or_default()
    }

    /// What has been paid to `account`.
    pub fn paid_to(account: Remainder) -> u64 {
        PAID.get_or_default(&account)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gasket_sdk::testing;

    fn owners() -> Vec<Vec<u8>> {
        vec![b"alice".to_vec(), b"bob".to_vec(), b"carol".to_vec()]
    }

    fn setup() {
        testing::reset();
        testing::call(|| init(owners(), 2, 100)).unwrap();
    }

    #[test]
    fn two_of_three_executes_on_the_second_confirmation() {
        setup();
        testing::set_caller("alice");
        let id = testing::call(|| submit(b"dave".to_vec(), 60)).unwrap();
        assert_eq!(
            testing::call(|| confirm(id)),
            Err("already confirmed".into())
        );
        testing::set_caller("bob");
        assert_eq!(testing::call(|| confirm(id)), Ok(true));
        assert_eq!(testing::logs(), ["executed"]);
        assert_eq!(funds(), 40);
        assert_eq!(paid_to(Remainder(b"dave".to_vec())), 60);
        testing::set_caller("carol");
        assert_eq!(
            testing::call(|| confirm(id)),
            Err("already executed".into())
        );
    }

    #[test]
    fn revoke_and_insufficient_funds() {
        setup();
        testing::set_caller("alice");
        let id = testing::call(|| submit(b"dave".to_vec(), 150)).unwrap();
        testing::call(|| revoke(id)).unwrap();
        assert_eq!(testing::call(|| revoke(id)), Err("not confirmed".into()));
        assert!(get(id).confirmations.is_empty());
        testing::call(|| confirm(id)).unwrap();
        testing::set_caller("bob");
        let before = testing::storage();
        assert_eq!(
            testing::call(|| confirm(id)),
            Err("insufficient funds".into())
        );
        assert_eq!(testing::storage(), before);
        testing::set_caller("mallory");
        assert_eq!(testing::call(|| confirm(id)), Err("not an owner".into()));
    }

    #[test]
    fn init_checks_its_arguments() {
        testing::reset();
        assert_eq!(
            testing::call(|| init(vec![], 1, 0)),
            Err("no owners".into())
        );
        assert_eq!(
            testing::call(|| init(vec![b"a".to_vec(), b"a".to_vec()], 1, 0)),
            Err("duplicate owner".into())
        );
        assert_eq!(
            testing::call(|| init(owners(), 4, 0)),
            Err("invalid threshold 4: must be 1 to 3".into())
        );
        assert_eq!(
            testing::call(|| init(owners(), 0, 0)),
            Err("invalid threshold 0: must be 1 to 3".into())
        );
        assert!(testing::storage().is_empty());
        setup();
        assert_eq!(
            testing::call(|| init(owners(), 1, 0)),
            Err("already initialized".into())
        );
    }
}
