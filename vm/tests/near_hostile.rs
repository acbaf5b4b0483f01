//! NEAR contracts fed hostile calls: malformed JSON, huge inputs, missing deposits,
//! storage they cannot pay for, runaway receipt chains, methods and accounts that do not
//! exist. Every one ends in a typed outcome (a panic with the SDK's message, a trap with
//! its kind, a failed receipt with a refund, a harness error for a call that cannot
//! start), and state is exactly as before. Uses the shared corpus (skips when absent).

use gasket_vm::host_api::near::PromiseResult;
use gasket_vm::near::{NearChain, NEAR};
use gasket_vm::testing::{HarnessError, Status};
use gasket_vm::{CallError, TrapKind};

fn contract(name: &str) -> Option<Vec<u8>> {
    let Some(dir) = gasket_fixtures::corpus_dir() else {
        eprintln!("shared corpus absent: skipping");
        return None;
    };
    std::fs::read(dir.join("near").join(format!("{name}.wasm"))).ok()
}

/// One account: id, balance, storage usage, storage entries.
type Snapshot = (String, u128, u64, Vec<(Vec<u8>, Vec<u8>)>);

/// Balances, storage usage and storage of every account.
fn snapshot(chain: &NearChain) -> Vec<Snapshot> {
    chain
        .account_ids()
        .into_iter()
        .map(|id| {
            let a = chain.account(&id).unwrap();
            let s = a
                .storage
                .entries()
                .map(|(k, v)| (k.to_vec(), v.to_vec()))
                .collect();
            (id, a.balance, a.storage_usage, s)
        })
        .collect()
}

fn ft() -> Option<NearChain> {
    let wasm = contract("sdkrs_fungible_token")?;
    let mut chain = NearChain::new();
    chain.deploy("ft", &wasm).unwrap();
    chain.create_account("alice", 10 * NEAR);
    chain.create_account("bob", 10 * NEAR);
    chain
        .call("ft", "new_default_meta")
        .args_json(r#"{"owner_id":"alice","total_supply":"1000"}"#)
        .run()
        .unwrap()
        .unwrap();
    Some(chain)
}

#[test]
fn malformed_json_panics_with_the_sdk_message_and_changes_nothing() {
    let Some(mut chain) = ft() else { return };
    let before = snapshot(&chain);
    for args in [
        &br#"{"receiver_id":"#[..],
        b"\xff\xfe",
        b"[]",
        br#"{"receiver_id":"bob","amount":"-1"}"#,
    ] {
        let out = chain
            .call("ft", "ft_transfer")
            .deposit(1)
            .args(args.to_vec())
            .run()
            .unwrap();
        let message = out
            .outcome
            .panic_message()
            .unwrap_or_else(|| panic!("{:?}", out.outcome.status));
        assert!(
            message.contains("Failed to deserialize input from JSON"),
            "{message}"
        );
        assert_eq!(out.result, Some(PromiseResult::Failed));
    }
    // The 1 yoctoNEAR deposits came back to alice, nothing else moved.
    assert_eq!(snapshot(&chain), before);
}

#[test]
fn huge_input_hits_the_register_limit_as_a_typed_trap() {
    let Some(mut chain) = ft() else { return };
    let before = snapshot(&chain);
    let huge = vec![b' '; 20 << 20];
    let out = chain.call("ft", "ft_balance_of").args(huge).run().unwrap();
    match &out.outcome.status {
        Status::Trap {
            kind: TrapKind::HostError,
            message: Some(m),
        } => {
            assert!(m.contains("max_register_bytes"), "{m}")
        }
        other => panic!("{other:?}"),
    }
    // Not enough gas for a large input: out_of_gas, gas used = the limit.
    let out = chain
        .call("ft", "ft_balance_of")
        .args(vec![b' '; 1 << 20])
        .gas(100_000)
        .run()
        .unwrap();
    assert_eq!(out.outcome.status.trap_kind(), Some(TrapKind::OutOfGas));
    assert_eq!(out.outcome.gas_used, 100_000);
    assert_eq!(snapshot(&chain), before);
}

#[test]
fn missing_deposits_and_unpaid_storage_are_refused() {
    let Some(mut chain) = ft() else { return };
    let before = snapshot(&chain);
    let out = chain
        .call("ft", "storage_deposit")
        .signer("bob")
        .args_json("{}")
        .run()
        .unwrap();
    assert!(
        out.outcome
            .panic_message()
            .unwrap()
            .contains("The attached deposit is less than the minimum storage balance"),
        "{:?}",
        out.outcome.status
    );
    assert_eq!(snapshot(&chain), before);

    // A contract whose account cannot pay for the storage a call adds: LackBalanceForState.
    let Some(wasm) = contract("sdkrs_status_message") else {
        return;
    };
    chain.deploy("status", &wasm).unwrap();
    let usage = chain.account("status").unwrap().storage_usage;
    chain.account_mut("status").unwrap().balance =
        u128::from(usage) * gasket_vm::host_api::near::STORAGE_PRICE_PER_BYTE;
    let before = snapshot(&chain);
    let message = "x".repeat(1000);
    let out = chain
        .call("status", "set_status")
        .args_json(&format!(r#"{{"message":"{message}"}}"#))
        .run()
        .unwrap();
    match &out.outcome.status {
        Status::Trap {
            kind: TrapKind::HostError,
            message: Some(m),
        } => {
            assert!(m.starts_with("LackBalanceForState"), "{m}")
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(snapshot(&chain), before);
    // Attaching a deposit that pays for it makes the same call succeed.
    let out = chain
        .call("status", "set_status")
        .deposit(NEAR / 10)
        .args_json(&format!(r#"{{"message":"{message}"}}"#))
        .run()
        .unwrap();
    assert_eq!(out.outcome.status, Status::Ok);
}

#[test]
fn runaway_receipt_chains_end_in_out_of_gas_deterministically() {
    let Some(wasm) = contract("sdkrs_cross_contract_high_level") else {
        return;
    };
    let run = || {
        let mut chain = NearChain::new();
        chain.deploy("fact", &wasm).unwrap();
        let before = snapshot(&chain);
        let out = chain
            .call("fact", "factorial")
            .args_json(r#"{"n":500}"#)
            .gas(3_000_000)
            .run()
            .unwrap();
        assert_eq!(out.outcome.status, Status::Ok);
        assert_eq!(
            out.result,
            Some(PromiseResult::Failed),
            "the chain ran out of gas somewhere"
        );
        assert!(out.receipts.iter().any(|r| matches!(
            &r.call,
            Some(c) if c.status.trap_kind() == Some(TrapKind::OutOfGas)
        )));
        assert!(chain.pending().is_empty());
        // Every receipt's gas came from the transaction's: their sum stays within it.
        let total: u64 = out.outcome.gas_used;
        assert!(total <= 3_000_000);
        assert_eq!(
            snapshot(&chain),
            before,
            "a stateless contract: nothing changed"
        );
        out
    };
    assert_eq!(run(), run(), "identical receipt trees on every run");
}

#[test]
fn missing_methods_and_accounts_are_typed() {
    let Some(mut chain) = ft() else { return };
    match chain.call("ft", "no_such_method").run() {
        Err(HarnessError::Call(CallError::NoSuchExport { name, available })) => {
            assert_eq!(name, "no_such_method");
            assert!(available.contains("ft_transfer"));
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        chain.call("nobody", "x").run(),
        Err(HarnessError::NoSuchAccount(_))
    ));

    // Receipts to a missing method or a missing account fail; their deposit is refunded.
    let Some(wasm) = contract("multisig2") else {
        return;
    };
    chain.deploy("msig", &wasm).unwrap();
    chain
        .call("msig", "new")
        .args_json(r#"{"members":[{"account_id":"alice"}],"num_confirmations":1}"#)
        .run()
        .unwrap()
        .unwrap();
    let before = snapshot(&chain);
    for receiver in ["ft", "ghost"] {
        let request = format!(
            r#"{{"request":{{"receiver_id":"{receiver}","actions":[{{"type":"FunctionCall","method_name":"no_such_method","args":"e30=","deposit":"7","gas":"1000000"}}]}}}}"#
        );
        let out = chain
            .call("msig", "add_request_and_confirm")
            .args_json(&request)
            .run()
            .unwrap();
        assert_eq!(out.outcome.status, Status::Ok, "{:?}", out.outcome);
        let failed = &out.receipts[0];
        let message = failed.status.message().unwrap_or_default();
        let expected = if receiver == "ft" {
            "MethodResolveError"
        } else {
            "AccountDoesNotExist"
        };
        assert!(message.starts_with(expected), "{message}");
        let refund = &out.receipts[1];
        assert_eq!(refund.receipt.predecessor, "system");
        assert_eq!(refund.receipt.receiver, "msig");
        assert_eq!(refund.status, Status::Ok);
    }
    let after = snapshot(&chain);
    let unchanged =
        |id: &str| before.iter().find(|a| a.0 == id) == after.iter().find(|a| a.0 == id);
    assert!(
        unchanged("ft"),
        "the target's state and balance are untouched"
    );
    let balance = |s: &[Snapshot]| s.iter().find(|a| a.0 == "msig").unwrap().1;
    assert_eq!(balance(&after), balance(&before), "deposits refunded");
}

/// A NEAR contract in WAT whose `go` sends one batch to `sub.maker`: CreateAccount,
/// Transfer 1 NEAR, DeleteAccount (beneficiary bob), then — in `go_bad` only — a
/// FunctionCall on the account it just deleted, which fails.
const BATCH_MAKER: &str = r#"
(module
  (import "env" "promise_batch_create" (func $create (param i64 i64) (result i64)))
  (import "env" "promise_batch_action_create_account" (func $create_account (param i64)))
  (import "env" "promise_batch_action_transfer" (func $transfer (param i64 i64)))
  (import "env" "promise_batch_action_delete_account" (func $delete (param i64 i64 i64)))
  (import "env" "promise_batch_action_function_call"
    (func $call (param i64 i64 i64 i64 i64 i64 i64)))
  (memory (export "memory") 1)
  (data (i32.const 0) "sub.maker")
  (data (i32.const 16) "\00\00\00\a1\ed\cc\ce\1b\c2\d3\00\00\00\00\00\00")
  (data (i32.const 32) "bob")
  (data (i32.const 48) "missing")
  (func $batch (result i64)
    (local $p i64)
    (local.set $p (call $create (i64.const 9) (i64.const 0)))
    (call $create_account (local.get $p))
    (call $transfer (local.get $p) (i64.const 16))
    (call $delete (local.get $p) (i64.const 3) (i64.const 32))
    (local.get $p))
  (func (export "go") (drop (call $batch)))
  (func (export "go_bad")
    (call $call (call $batch) (i64.const 7) (i64.const 48) (i64.const 0) (i64.const 0)
      (i64.const 64) (i64.const 1000))))
"#;

#[test]
fn a_failed_batch_receipt_is_undone_as_a_whole() {
    let wasm = wat::parse_str(BATCH_MAKER).unwrap();
    let mut chain = NearChain::new();
    chain.deploy("maker", &wasm).unwrap();
    chain.create_account("bob", 10 * NEAR);
    let maker = chain.balance("maker");

    let out = chain.call("maker", "go_bad").run().unwrap();
    assert_eq!(out.outcome.status, Status::Ok);
    assert_eq!(chain.balance("maker"), maker, "the 1 NEAR came back");
    let batch = &out.receipts[0];
    assert!(
        batch
            .status
            .message()
            .unwrap()
            .starts_with("AccountDoesNotExist"),
        "{:?}",
        batch.status
    );
    assert_eq!(
        out.receipts.len(),
        2,
        "the batch and the refund; no transfer to bob: {:?}",
        out.receipts
    );
    assert_eq!(out.receipts[1].receipt.predecessor, "system");
    assert_eq!(out.receipts[1].receipt.receiver, "maker");
    assert!(
        chain.account("sub.maker").is_none(),
        "the created account is rolled back"
    );
    assert_eq!(chain.balance("bob"), 10 * NEAR);

    let out = chain.call("maker", "go").run().unwrap();
    assert!(
        out.receipts.iter().all(|r| r.status == Status::Ok),
        "{:?}",
        out.receipts
    );
    assert!(
        chain.account("sub.maker").is_none(),
        "created, then deleted"
    );
    assert_eq!(
        chain.balance("bob"),
        11 * NEAR,
        "the deleted account's balance went to bob"
    );
    assert_eq!(chain.balance("maker"), maker - NEAR);
}
