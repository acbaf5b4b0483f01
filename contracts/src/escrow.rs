//! An escrow with deadlines from block time.
//!
//! A depositor opens an escrow of `amount` for a beneficiary, with a deadline (a block
//! timestamp in ns). Before the deadline the depositor may release it to the
//! beneficiary; from the deadline on, anyone may refund it to the depositor. Released
//! and refunded amounts are credited to the receiver's payout balance in this contract
//! (ABI v1 has no native token transfers: a chain would pay out from there).
//!
//! - `open(beneficiary: Vec<u8>, amount: u64, deadline: u64) -> u64`: the escrow's id
//!   (0, 1, …). Panics: `amount must be positive`, `deadline must be in the future`,
//!   `beneficiary must differ from the depositor`, `empty account`.
//! - `release(id: u64)`: `no such escrow`, `only the depositor can release`,
//!   `escrow is closed`, `deadline passed`.
//! - `refund(id: u64)`: `no such escrow`, `escrow is closed`, `deadline not reached`.
//! - `get(id: u64) -> Deal`, `payout_of(account: rest) -> u64`.
//!
//! Storage: `next` (u64), `d:` ‖ id (u64 LE) → [`Deal`], `p:` ‖ account → u64.
#![cfg_attr(target_arch = "wasm32", no_std)]
extern crate alloc;

use alloc::vec::Vec;
use gasket_sdk::codec::{Decode, DecodeError, Encode};
use gasket_sdk::storage::{Map, Value};
use gasket_sdk::{env, require, Remainder};

/// Where an escrow stands.
pub const OPEN: u8 = 0;
/// Paid to the beneficiary.
pub const RELEASED: u8 = 1;
/// Paid back to the depositor.
pub const REFUNDED: u8 = 2;

/// One escrow; encoded as its fields in order (borsh).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Deal {
    pub depositor: Vec<u8>,
    pub beneficiary: Vec<u8>,
    pub amount: u64,
    /// Block timestamp (ns) from which the escrow can only be refunded.
    pub deadline: u64,
    /// [`OPEN`], [`RELEASED`] or [`REFUNDED`].
    pub state: u8,
}

impl Encode for Deal {
    fn encode_to(&self, out: &mut Vec<u8>) {
        self.depositor.encode_to(out);
        self.beneficiary.encode_to(out);
        self.amount.encode_to(out);
        self.deadline.encode_to(out);
        self.state.encode_to(out);
    }
}

impl Decode for Deal {
    fn decode_from(input: &mut &[u8]) -> Result<Self, DecodeError> {
        Ok(Deal {
            depositor: Decode::decode_from(input)?,
            beneficiary: Decode::decode_from(input)?,
            amount: Decode::decode_from(input)?,
            deadline: Decode::decode_from(input)?,
            state: Decode::decode_from(input)?,
        })
    }
}

const NEXT_ID: Value<u64> = Value::new(b"next");
const DEALS: Map<Deal> = Map::new(b"d:");
const PAYOUTS: Map<u64> = Map::new(b"p:");

fn load(id: u64) -> Deal {
    DEALS
        .get(&id.to_le_bytes())
        .unwrap_or_else(|| env::panic_str("no such escrow"))
}

/// Closes an open escrow with `state`, crediting `to`.
fn close(id: u64, mut deal: Deal, state: u8, to: &[u8]) {
    let credited = PAYOUTS
        .get_or_default(to)
        .checked_add(deal.amount)
        .unwrap_or_else(|| env::panic_str("payout overflow"));
    PAYOUTS.insert(to, &credited);
    deal.state = state;
    DEALS.insert(&id.to_le_bytes(), &deal);
}

gasket_sdk::methods! {
    /// Opens an escrow from the caller to `beneficiary`; returns its id.
    pub fn open(beneficiary: Vec<u8>, amount: u64, deadline: u64) -> u64 {
        let depositor = env::caller();
        require!(amount > 0, "amount must be positive");
        require!(deadline > env::block_timestamp(), "deadline must be in the future");
        require!(!beneficiary.is_empty(), "empty account");
        require!(beneficiary != depositor, "beneficiary must differ from the depositor");
        let id = NEXT_ID.get_or_default();
        NEXT_ID.set(&(id + 1));
        let deal = Deal { depositor, beneficiary, amount, deadline, state: OPEN };
        DEALS.insert(&id.to_le_bytes(), &deal);
        env::log("opened");
        id
    }

    /// Pays the escrow to its beneficiary (depositor only, before the deadline).
    pub fn release(id: u64) {
        let deal = load(id);
        require!(env::caller() == deal.depositor, "only the depositor can release");
        require!(deal.state == OPEN, "escrow is closed");
        require!(env::block_timestamp() < deal.deadline, "deadline passed");
        let to = deal.beneficiary.clone();
        close(id, deal, RELEASED, &to);
        env::log("released");
    }

    /// Pays the escrow back to its depositor (anyone, from the deadline on).
    pub fn refund(id: u64) {
        let deal = load(id);
        require!(deal.state == OPEN, "escrow is closed");
        require!(env::block_timestamp() >= deal.deadline, "deadline not reached");
        let to = deal.depositor.clone();
        close(id, deal, REFUNDED, &to);
        env::log("refunded");
    }

    /// The escrow `id`.
    pub fn get(id: u64) -> Deal {
        load(id)
    }

    /// What has been paid out to `account`.
    pub fn payout_of(account: Remainder) -> u64 {
        PAYOUTS.get_or_default(&account)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gasket_sdk::testing;

    const SECOND: u64 = 1_000_000_000;

    fn open_one() -> u64 {
        testing::reset();
        testing::set_caller("alice");
        let deadline = env::block_timestamp() + 60 * SECOND;
        testing::call(|| open(b"bob".to_vec(), 50, deadline)).unwrap()
    }

    #[test]
    fn release_before_the_deadline() {
        let id = open_one();
        assert_eq!(id, 0);
        testing::advance_block(59);
        testing::call(|| release(id)).unwrap();
        assert_eq!(payout_of(Remainder(b"bob".to_vec())), 50);
        assert_eq!(get(id).state, RELEASED);
        assert_eq!(
            testing::call(|| release(id)),
            Err("escrow is closed".into())
        );
        assert_eq!(testing::call(|| refund(id)), Err("escrow is closed".into()));
    }

    #[test]
    fn refund_from_the_deadline_on() {
        let id = open_one();
        testing::set_caller("carol");
        assert_eq!(
            testing::call(|| refund(id)),
            Err("deadline not reached".into())
        );
        assert_eq!(
            testing::call(|| release(id)),
            Err("only the depositor can release".into())
        );
        testing::advance_block(60);
        testing::set_caller("alice");
        assert_eq!(testing::call(|| release(id)), Err("deadline passed".into()));
        testing::set_caller("carol");
        testing::call(|| refund(id)).unwrap();
        assert_eq!(payout_of(Remainder(b"alice".to_vec())), 50);
        assert_eq!(get(id).state, REFUNDED);
    }

    #[test]
    fn open_checks_its_arguments() {
        let _ = open_one();
        let now = env::block_timestamp();
        let before = testing::storage();
        for (args, message) in [
            ((b"bob".to_vec(), 0, now + 1), "amount must be positive"),
            ((b"bob".to_vec(), 1, now), "deadline must be in the future"),
            (
                (b"alice".to_vec(), 1, now + 1),
                "beneficiary must differ from the depositor",
            ),
            ((Vec::new(), 1, now + 1), "empty account"),
        ] {
            let (b, a, d) = args;
            assert_eq!(testing::call(|| open(b, a, d)), Err(message.into()));
        }
        assert_eq!(testing::call(|| get(7)), Err("no such escrow".into()));
        assert_eq!(testing::storage(), before);
        // Through the entry point: borsh (Vec<u8>, u64, u64) in, the Deal out.
        let input = (b"bob".to_vec(), 5u64, now + 1).encode();
        let out = testing::invoke(METHODS, "open", &input);
        assert_eq!(out.unwrap_u64(), 1);
        let deal = Deal::decode(testing::invoke(METHODS, "get", &1u64.encode()).unwrap());
        assert_eq!(deal.map(|d| d.amount), Ok(5));
    }
}
