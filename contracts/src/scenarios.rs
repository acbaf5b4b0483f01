//! Call sequences over the example contracts with their expected results; [`run`]
//! replays one on a `TestChain` (the compiled wasm on the VM) and [`run_native`] on the
//! SDK's mock (the same source compiled for the host), each checking every step. Shared
//! by this crate's unit tests, the wasm tests (`tests/wasm.rs`: x86-64, the mock against
//! the VM, the C twins) and the AArch64 emulator tests
//! (`aarch64-tests/tests/rust_contracts.rs`).

use gasket_sdk::testing::{self, MockOutcome};
use gasket_sdk::{Encode, Method, Remainder};
use gasket_vm::testing::{Outcome, TestChain};

/// What a step must end with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Expect {
    /// Returns exactly these bytes (empty for methods without a result).
    Return(Vec<u8>),
    /// Panics with exactly this message (and commits nothing).
    Panic(&'static str),
}

/// One call.
#[derive(Clone, Debug)]
pub struct Step {
    /// Seconds to advance the chain (one block) before the call; 0 stays in the block.
    pub advance_seconds: u64,
    pub caller: &'static str,
    pub method: &'static str,
    pub input: Vec<u8>,
    pub expect: Expect,
}

/// A contract (the name of `wasm/<name>.wasm`) and the steps to run on a fresh chain.
#[derive(Clone, Debug)]
pub struct Scenario {
    pub contract: &'static str,
    pub steps: Vec<Step>,
}

/// The chain's block timestamp before any step (`TestChain`'s default).
pub const START_NS: u64 = 1_000_000_000;
const SECOND: u64 = 1_000_000_000;

fn step(caller: &'static str, method: &'static str, input: Vec<u8>, expect: Expect) -> Step {
    Step {
        advance_seconds: 0,
        caller,
        method,
        input,
        expect,
    }
}

fn ok(value: impl Encode) -> Expect {
    Expect::Return(value.encode())
}

fn amount_then(amount: u64, account: &str) -> Vec<u8> {
    (amount, Remainder(account.as_bytes().to_vec())).encode()
}

/// Every scenario.
pub fn all() -> Vec<Scenario> {
    vec![counter(), token(), kv(), escrow(), multisig(), probe()]
}

/// The method table of the named contract (its module's `METHODS`).
pub fn methods(contract: &str) -> &'static [Method] {
    match contract {
        "counter" => crate::counter::METHODS,
        "token" => crate::token::METHODS,
        "kv" => crate::kv::METHODS,
        "escrow" => crate::escrow::METHODS,
        "multisig" => crate::multisig::METHODS,
        "probe" => crate::probe::METHODS,
        other => panic!("no contract named {other}"),
    }
}

/// The named contract's scenario.
pub fn get(contract: &str) -> Scenario {
    all()
        .into_iter()
        .find(|s| s.contract == contract)
        .unwrap_or_else(|| panic!("no scenario for {contract}"))
}

pub fn counter() -> Scenario {
    Scenario {
        contract: "counter",
        steps: vec![
            step("alice", "get", vec![], ok(0u64)),
            step("alice", "increment", vec![], ok(1u64)),
            step("bob", "increment", vec![], ok(2u64)),
            step("alice", "get", vec![], ok(2u64)),
        ],
    }
}

/// The same bytes in and out as the C token's (fixtures/contracts/token.c).
pub fn token() -> Scenario {
    let p = Expect::Panic;
    Scenario {
        contract: "token",
        steps: vec![
            step("owner", "init", vec![], ok(())),
            step("owner", "init", vec![], p("already initialized")),
            step("owner", "mint", amount_then(100, "alice"), ok(())),
            step(
                "alice",
                "mint",
                amount_then(5, "alice"),
                p("unauthorized mint"),
            ),
            step(
                "owner",
                "mint",
                amount_then(u64::MAX, "bob"),
                p("total supply overflow"),
            ),
            step("alice", "transfer", amount_then(30, "bob"), ok(())),
            step(
                "alice",
                "transfer",
                amount_then(71, "bob"),
                p("insufficient balance"),
            ),
            step("bob", "transfer", amount_then(30, "bob"), ok(())),
            step(
                "alice",
                "transfer",
                amount_then(1, &"x".repeat(65)),
                p("account too long"),
            ),
            step("alice", "balance_of", b"alice".to_vec(), ok(70u64)),
            step("alice", "balance_of", b"bob".to_vec(), ok(30u64)),
            step("alice", "total_supply", vec![], ok(100u64)),
        ],
    }
}

/// The same bytes in and out as the C store's (fixtures/contracts/kv.c).
pub fn kv() -> Scenario {
    let set = |k: &[u8], v: &[u8]| (k.to_vec(), Remainder(v.to_vec())).encode();
    Scenario {
        contract: "kv",
        steps: vec![
            step("alice", "set", set(b"k", b"v1"), ok(false)),
            step("alice", "set", set(b"k", b"v2"), ok(true)),
            step(
                "alice",
                "get",
                b"k".to_vec(),
                Expect::Return(b"v2".to_vec()),
            ),
            step("alice", "has", b"k".to_vec(), ok(true)),
            step("alice", "remove", b"k".to_vec(), ok(true)),
            step("alice", "remove", b"k".to_vec(), ok(false)),
            step(
                "alice",
                "get",
                b"k".to_vec(),
                Expect::Panic("key not found"),
            ),
        ],
    }
}

pub fn escrow() -> Scenario {
    let p = Expect::Panic;
    let deadline = START_NS + 60 * SECOND;
    let open = |to: &str, amount: u64| (to.as_bytes().to_vec(), amount, deadline).encode();
    let deal = |state: u8| crate::escrow::Deal {
        depositor: b"alice".to_vec(),
        beneficiary: b"bob".to_vec(),
        amount: 50,
        deadline,
        state,
    };
    let mut late_release = step("alice", "release", 1u64.encode(), p("deadline passed"));
    late_release.advance_seconds = 60;
    Scenario {
        contract: "escrow",
        steps: vec![
            step("alice", "open", open("bob", 50), ok(0u64)),
            step("alice", "open", open("bob", 50), ok(1u64)),
            step(
                "alice",
                "open",
                open("alice", 5),
                p("beneficiary must differ from the depositor"),
            ),
            step(
                "alice",
                "open",
                open("bob", 0),
                p("amount must be positive"),
            ),
            step(
                "carol",
                "release",
                0u64.encode(),
                p("only the depositor can release"),
            ),
            step("carol", "refund", 0u64.encode(), p("deadline not reached")),
            step("alice", "release", 0u64.encode(), ok(())),
            step("alice", "release", 0u64.encode(), p("escrow is closed")),
            step(
                "alice",
                "get",
                0u64.encode(),
                ok(deal(crate::escrow::RELEASED)),
            ),
            late_release,
            step(
                "alice",
                "open",
                open("bob", 5),
                p("deadline must be in the future"),
            ),
            step("carol", "refund", 1u64.encode(), ok(())),
            step(
                "alice",
                "get",
                1u64.encode(),
                ok(deal(crate::escrow::REFUNDED)),
            ),
            step("alice", "get", 9u64.encode(), p("no such escrow")),
            step("alice", "payout_of", b"bob".to_vec(), ok(50u64)),
            step("alice", "payout_of", b"alice".to_vec(), ok(50u64)),
        ],
    }
}

pub fn multisig() -> Scenario {
    let p = Expect::Panic;
    let owners = vec![b"alice".to_vec(), b"bob".to_vec(), b"carol".to_vec()];
    let init = |threshold: u32| (owners.clone(), threshold, 100u64).encode();
    let submit = |amount: u64| (b"dave".to_vec(), amount).encode();
    Scenario {
        contract: "multisig",
        steps: vec![
            step(
                "alice",
                "init",
                init(4),
                p("invalid threshold 4: must be 1 to 3"),
            ),
            step("alice", "init", init(2), ok(())),
            step("alice", "init", init(2), p("already initialized")),
            step("mallory", "submit", submit(10), p("not an owner")),
            step("alice", "submit", submit(60), ok(0u64)),
            step("alice", "confirm", 0u64.encode(), p("already confirmed")),
            step("bob", "confirm", 0u64.encode(), ok(true)),
            step("carol", "confirm", 0u64.encode(), p("already executed")),
            step("bob", "submit", submit(50), ok(1u64)),
            step("bob", "revoke", 1u64.encode(), ok(())),
            step("bob", "revoke", 1u64.encode(), p("not confirmed")),
            step("bob", "confirm", 1u64.encode(), ok(false)),
            step("carol", "confirm", 1u64.encode(), p("insufficient funds")),
            step("alice", "funds", vec![], ok(40u64)),
            step("alice", "paid_to", b"dave".to_vec(), ok(60u64)),
        ],
    }
}

/// SHA-256("abc"), the FIPS 180-2 test vector.
const SHA256_ABC: [u8; 32] = [
    0xba, 0x78, 0x16, 0xbf, 0x8f, 0x01, 0xcf, 0xea, 0x41, 0x41, 0x40, 0xde, 0x5d, 0xae, 0x22, 0x23,
    0xb0, 0x03, 0x61, 0xa3, 0x96, 0x17, 0x7a, 0x9c, 0xb4, 0x10, 0xff, 0x61, 0xf2, 0x00, 0x15, 0xad,
];

/// Every ABI function through the SDK (contracts/src/probe.rs).
pub fn probe() -> Scenario {
    let mut later = step(
        "bob",
        "context",
        vec![],
        ok((
            b"bob".to_vec(),
            b"probe".to_vec(),
            2u64,
            START_NS + 5 * SECOND,
        )),
    );
    later.advance_seconds = 5;
    let roundtrip = (b"k".to_vec(), b"v".to_vec()).encode();
    Scenario {
        contract: "probe",
        steps: vec![
            step(
                "alice",
                "context",
                vec![],
                ok((b"alice".to_vec(), b"probe".to_vec(), 1u64, START_NS)),
            ),
            later,
            step("alice", "hash", b"abc".to_vec(), ok(SHA256_ABC)),
            step(
                "alice",
                "roundtrip",
                roundtrip,
                ok((false, true, Some(b"v".to_vec()), true, false)),
            ),
            step(
                "alice",
                "echo",
                b"hello".to_vec(),
                Expect::Return(b"hello".to_vec()),
            ),
            step("alice", "fail", "boom".encode(), Expect::Panic("boom")),
        ],
    }
}

/// Deploys `wasm` under the scenario's contract name on `chain` and runs every step,
/// checking its expectation: the exact return bytes, or the exact panic message with no
/// state change and the account's storage as it was. Returns every outcome (gas
/// included), for comparisons across runs and targets. Panics (a test failure) on the
/// first step that does not match.
pub fn run(chain: &mut TestChain, wasm: &[u8], scenario: &Scenario) -> Vec<Outcome> {
    let account = scenario.contract;
    chain
        .deploy(account, wasm)
        .unwrap_or_else(|e| panic!("{account}: not accepted by the contract profile: {e}"));
    let mut outcomes = Vec::new();
    for (i, s) in scenario.steps.iter().enumerate() {
        if s.advance_seconds > 0 {
            chain.advance_block(s.advance_seconds);
        }
        let before = chain.storage(account).map(|st| st.as_map().clone());
        let out = chain
            .call(account, s.method)
            .caller(s.caller)
            .input(s.input.clone())
            .run()
            .unwrap_or_else(|e| panic!("{account} step {i} ({}): {e}", s.method));
        let what = format!("{account} step {i} ({} by {})", s.method, s.caller);
        match &s.expect {
            Expect::Return(bytes) => {
                assert!(out.is_ok(), "{what}: {:?}", out.status);
                assert_eq!(&out.return_data, bytes, "{what}: return data");
            }
            Expect::Panic(message) => {
                assert_eq!(
                    out.panic_message(),
                    Some(*message),
                    "{what}: {:?}",
                    out.status
                );
                assert!(out.state_changes.is_empty(), "{what}: committed changes");
                let after = chain.storage(account).map(|st| st.as_map().clone());
                assert_eq!(before, after, "{what}: storage changed");
            }
        }
        outcomes.push(out);
    }
    outcomes
}

/// Runs the scenario on the SDK's native mock, through each method's entry point with
/// the same input bytes, under the same accounts and blocks as [`run`] (the contract's
/// account is its name), checking every expectation the same way. Returns every
/// outcome, for comparison with the VM's. Resets the calling thread's mock first.
pub fn run_native(scenario: &Scenario) -> Vec<MockOutcome> {
    let account = scenario.contract;
    let methods = methods(account);
    testing::reset();
    testing::set_current_account(account);
    let mut outcomes = Vec::new();
    for (i, s) in scenario.steps.iter().enumerate() {
        if s.advance_seconds > 0 {
            testing::advance_block(s.advance_seconds);
        }
        testing::set_caller(s.caller);
        let before = testing::storage();
        let out = testing::invoke(methods, s.method, &s.input);
        let what = format!("{account} step {i} ({} by {}, native)", s.method, s.caller);
        match &s.expect {
            Expect::Return(bytes) => {
                assert_eq!(out.panic, None, "{what}");
                assert_eq!(&out.return_data, bytes, "{what}: return data");
            }
            Expect::Panic(message) => {
                assert_eq!(out.panic.as_deref(), Some(*message), "{what}");
                assert_eq!(before, testing::storage(), "{what}: storage changed");
            }
        }
        outcomes.push(out);
    }
    outcomes
}

#[cfg(test)]
mod tests {
    /// Every scenario on the mock: the contracts' logic without wasm.
    #[test]
    fn every_scenario_passes_natively() {
        for scenario in super::all() {
            super::run_native(&scenario);
        }
    }
}
