#![allow(dead_code)]
//! Scenarios shared by vm/tests/near.rs (Gasket), near_differential.rs (wasmi) and
//! aarch64-tests (emulated AArch64). NEAR contracts from the shared corpus, unmodified, on the NEAR-compatible ABI: every
//! corpus NEAR contract prepares under the `near` profile, and scenario tests check
//! documented behaviour of the near-sdk-rs examples and NEAR's core contracts. Tests read
//! `../shared/corpus/contracts/near` and pass (saying so) when it is absent.

use gasket_vm::host_api::near::{Action, PromiseResult};
use gasket_vm::near::{Execution, NearChain, NEAR};
use gasket_vm::testing::Status;

/// The bytes of corpus contract `near/<name>.wasm`, or `None` (with a note) if absent.
fn contract(name: &str) -> Option<Vec<u8>> {
    let Some(dir) = gasket_fixtures::corpus_dir() else {
        eprintln!("shared corpus absent: skipping the NEAR scenario using {name}");
        return None;
    };
    let path = dir.join("near").join(format!("{name}.wasm"));
    match std::fs::read(&path) {
        Ok(b) => Some(b),
        Err(_) => {
            eprintln!("{} absent: skipping", path.display());
            None
        }
    }
}

/// Asserts the call panicked with a message containing `needle` (near-sdk's panic hook
/// wraps `panic!`/`assert!` messages as `panicked at '...', file:line:col`).
#[track_caller]
fn assert_panics_with(out: &gasket_vm::near::Execution, needle: &str) {
    let message = out
        .outcome
        .panic_message()
        .unwrap_or_else(|| panic!("no panic: {:?}", out.outcome.status));
    assert!(
        message.contains(needle),
        "{message:?} does not contain {needle:?}"
    );
    assert!(out.outcome.state_changes.is_empty() && out.outcome.promises.is_empty());
}

fn json_string(bytes: &[u8]) -> String {
    serde_json::from_slice::<String>(bytes).unwrap_or_else(|e| {
        panic!(
            "not a JSON string: {e}: {:?}",
            String::from_utf8_lossy(bytes)
        )
    })
}

pub fn status_message_sets_and_gets_per_account(chain: &mut NearChain) -> bool {
    let Some(wasm) = contract("sdkrs_status_message") else {
        return false;
    };
    chain.deploy("status", &wasm).unwrap();
    let out = chain
        .call("status", "set_status")
        .signer("alice")
        .args_json(r#"{"message":"hello"}"#)
        .run()
        .unwrap();
    assert_eq!(out.outcome.status, Status::Ok, "{:?}", out.outcome);
    assert_eq!(
        out.outcome.logs,
        vec!["alice set_status with message hello".to_string()]
    );
    chain
        .call("status", "set_status")
        .signer("bob")
        .args_json(r#"{"message":"bye"}"#)
        .run()
        .unwrap()
        .unwrap();
    let get = |chain: &mut NearChain, who: &str| {
        chain
            .call("status", "get_status")
            .args_json(&format!(r#"{{"account_id":"{who}"}}"#))
            .run()
            .unwrap()
            .unwrap()
    };
    assert_eq!(get(chain, "alice"), br#""hello""#);
    assert_eq!(get(chain, "bob"), br#""bye""#);
    assert_eq!(get(chain, "carol"), b"null");
    true
}

/// 0.01 NEAR: more than any storage_deposit minimum here.
const STORAGE_DEPOSIT: u128 = NEAR / 100;

fn ft_setup(chain: &mut NearChain) -> bool {
    let Some(wasm) = contract("sdkrs_fungible_token") else {
        return false;
    };
    chain.deploy("ft", &wasm).unwrap();
    for who in ["alice", "bob", "carol"] {
        chain.create_account(who, 10 * NEAR);
    }
    chain
        .call("ft", "new_default_meta")
        .signer("alice")
        .args_json(r#"{"owner_id":"alice","total_supply":"1000000"}"#)
        .run()
        .unwrap()
        .unwrap();
    true
}

fn ft_balance(chain: &mut NearChain, who: &str) -> String {
    let out = chain
        .call("ft", "ft_balance_of")
        .args_json(&format!(r#"{{"account_id":"{who}"}}"#))
        .run()
        .unwrap();
    json_string(&out.unwrap())
}

pub fn fungible_token_storage_deposit_transfer_and_balances(chain: &mut NearChain) -> bool {
    if !ft_setup(chain) {
        return false;
    };
    assert_eq!(ft_balance(chain, "alice"), "1000000");
    assert_eq!(ft_balance(chain, "bob"), "0");
    let supply = chain.call("ft", "ft_total_supply").run().unwrap().unwrap();
    assert_eq!(json_string(&supply), "1000000");

    // storage_deposit: bob pays for his registration; the excess over the minimum comes
    // back in a refund receipt.
    let bounds = chain
        .call("ft", "storage_balance_bounds")
        .run()
        .unwrap()
        .unwrap();
    let bounds: serde_json::Value = serde_json::from_slice(&bounds).unwrap();
    let min: u128 = bounds["min"].as_str().unwrap().parse().unwrap();
    assert!(min > 0 && min < STORAGE_DEPOSIT);
    let bob_before = chain.balance("bob");
    let out = chain
        .call("ft", "storage_deposit")
        .signer("bob")
        .deposit(STORAGE_DEPOSIT)
        .args_json("{}")
        .run()
        .unwrap();
    let balance: serde_json::Value = serde_json::from_slice(&out.unwrap()).unwrap();
    assert_eq!(balance["total"].as_str().unwrap(), min.to_string());
    assert_eq!(
        out.receipts.len(),
        1,
        "one refund receipt: {:?}",
        out.receipts
    );
    assert_eq!(out.receipts[0].receipt.receiver, "bob");
    assert_eq!(
        chain.balance("bob"),
        bob_before - min,
        "bob paid exactly the minimum"
    );

    // ft_transfer without the 1 yoctoNEAR deposit panics with the SDK's message.
    let transfer = r#"{"receiver_id":"bob","amount":"250"}"#;
    let out = chain
        .call("ft", "ft_transfer")
        .signer("alice")
        .args_json(transfer)
        .run()
        .unwrap();
    assert_eq!(
        out.outcome.status,
        Status::Panic {
            message: "Requires attached deposit of exactly 1 yoctoNEAR".into()
        }
    );
    assert_eq!(ft_balance(chain, "bob"), "0");

    // With it, the tokens move and the standard log is emitted.
    let out = chain
        .call("ft", "ft_transfer")
        .signer("alice")
        .deposit(1)
        .args_json(transfer)
        .run()
        .unwrap();
    assert_eq!(out.outcome.status, Status::Ok, "{:?}", out.outcome);
    assert!(
        out.outcome
            .logs
            .iter()
            .any(|l| l.contains("ft_transfer") && l.contains("250")),
        "{:?}",
        out.outcome.logs
    );
    assert_eq!(ft_balance(chain, "alice"), "999750");
    assert_eq!(ft_balance(chain, "bob"), "250");

    // A transfer to an unregistered account panics.
    let out = chain
        .call("ft", "ft_transfer")
        .signer("alice")
        .deposit(1)
        .args_json(r#"{"receiver_id":"carol","amount":"1"}"#)
        .run()
        .unwrap();
    assert_eq!(
        out.outcome.panic_message(),
        Some("The account carol is not registered")
    );

    // A transfer exceeding the balance panics with the SDK's message and changes nothing.
    let storage_before = chain.account("ft").unwrap().storage.clone();
    let usage_before = chain.account("ft").unwrap().storage_usage;
    let out = chain
        .call("ft", "ft_transfer")
        .signer("bob")
        .deposit(1)
        .args_json(r#"{"receiver_id":"alice","amount":"251"}"#)
        .run()
        .unwrap();
    assert_eq!(
        out.outcome.panic_message(),
        Some("The account doesn't have enough balance")
    );
    assert!(out.outcome.state_changes.is_empty());
    assert_eq!(out.result, Some(PromiseResult::Failed));
    assert_eq!(chain.account("ft").unwrap().storage, storage_before);
    assert_eq!(chain.account("ft").unwrap().storage_usage, usage_before);
    assert_eq!(ft_balance(chain, "bob"), "250");
    assert_eq!(
        json_string(&chain.call("ft", "ft_total_supply").run().unwrap().unwrap()),
        "1000000"
    );
    true
}

fn cross_contract(chain: &mut NearChain, name: &str) -> bool {
    let Some(wasm) = contract(name) else {
        return false;
    };
    chain.deploy("fact", &wasm).unwrap();
    let out = chain
        .call("fact", "factorial")
        .args_json(r#"{"n":5}"#)
        .run()
        .unwrap();
    assert_eq!(out.outcome.status, Status::Ok, "{name}: {:?}", out.outcome);
    // factorial(5) calls factorial(4) with a factorial_mult(5) callback, and so on.
    assert_eq!(out.unwrap(), b"120", "{name}");
    let methods: Vec<String> = out
        .receipts
        .iter()
        .filter_map(|r| match r.receipt.actions.first() {
            Some(Action::FunctionCall { method_name, .. }) => Some(method_name.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(
        methods.iter().filter(|m| *m == "factorial").count(),
        4,
        "{name}: {methods:?}"
    );
    assert_eq!(
        methods.iter().filter(|m| *m == "factorial_mult").count(),
        4,
        "{name}: {methods:?}"
    );
    assert!(out.receipts.iter().all(|r| r.status == Status::Ok));
    // The callbacks are private (the high-level SDK says so, the low-level example
    // checks predecessor == current account with require!): a direct call panics.
    let out = chain
        .call("fact", "factorial_mult")
        .signer("mallory")
        .args_json(r#"{"n":2}"#)
        .run()
        .unwrap();
    let message = out.outcome.panic_message().unwrap_or_default();
    assert!(
        message.contains("private") || message == "require! assertion failed",
        "{name}: {:?}",
        out.outcome.status
    );
    true
}

pub fn callback_results_joins_promises_and_sees_each_result(chain: &mut NearChain) -> bool {
    let Some(wasm) = contract("sdkrs_callback_results") else {
        return false;
    };
    chain.deploy("cb", &wasm).unwrap();
    // call_all calls a, b, c and d on itself, joins them with promise_and, and
    // handle_callbacks returns which of b, c, d failed (b panics if fail_b, c and d
    // require a positive value).
    for (args, expected) in [
        (
            r#"{"fail_b":false,"c_value":1,"d_value":2}"#,
            "[false,false,false]",
        ),
        (
            r#"{"fail_b":true,"c_value":1,"d_value":2}"#,
            "[true,false,false]",
        ),
        (
            r#"{"fail_b":false,"c_value":0,"d_value":0}"#,
            "[false,true,true]",
        ),
    ] {
        let out = chain.call("cb", "call_all").args_json(args).run().unwrap();
        assert_eq!(out.outcome.status, Status::Ok, "{:?}", out.outcome);
        assert_eq!(String::from_utf8(out.unwrap()).unwrap(), expected, "{args}");
        let callback = out.receipts.last().unwrap();
        assert_eq!(
            callback.receipt.after.len(),
            4,
            "the callback waits on a, b, c and d"
        );
    }
    true
}

fn factory(chain: &mut NearChain, name: &str) -> bool {
    let Some(wasm) = contract(name) else {
        return false;
    };
    chain.deploy("factory", &wasm).unwrap();
    let out = chain
        .call("factory", "deploy_status_message")
        .args_json(r#"{"account_id":"status.factory","amount":"5000000000000000000000000"}"#)
        .run()
        .unwrap();
    assert_eq!(out.outcome.status, Status::Ok, "{name}: {:?}", out.outcome);
    assert!(
        out.receipts.iter().all(|r| r.status == Status::Ok),
        "{name}: {:?}",
        out.receipts
    );
    let account = chain.account("status.factory").expect("created");
    assert!(account.code.is_some());
    assert_eq!(account.balance, 5 * NEAR);
    let out = chain
        .call("factory", "complex_call")
        .args_json(r#"{"account_id":"status.factory","message":"made by a factory"}"#)
        .run()
        .unwrap();
    assert_eq!(out.outcome.status, Status::Ok, "{name}: {:?}", out.outcome);
    // complex_call sets the status, then reads it back through a callback.
    assert_eq!(out.unwrap(), br#""made by a factory""#, "{name}");
    assert!(
        out.all_logs()
            .iter()
            .any(|l| l.contains("made by a factory")),
        "{name}: {:?}",
        out.all_logs()
    );
    let status = chain
        .call("status.factory", "get_status")
        .args_json(r#"{"account_id":"alice"}"#)
        .run()
        .unwrap();
    // status_message keys by signer: alice signed the transaction.
    assert_eq!(status.unwrap(), br#""made by a factory""#, "{name}");
    true
}

pub fn non_fungible_token_mint_transfer_token_and_approvals(chain: &mut NearChain) -> bool {
    let Some(wasm) = contract("sdkrs_non_fungible_token") else {
        return false;
    };
    chain.deploy("nft", &wasm).unwrap();
    for who in ["alice", "bob", "carol", "mallory"] {
        chain.create_account(who, 10 * NEAR);
    }
    chain
        .call("nft", "new_default_meta")
        .args_json(r#"{"owner_id":"alice"}"#)
        .run()
        .unwrap()
        .unwrap();
    let mint = r#"{"token_id":"t1","token_owner_id":"alice","token_metadata":{"title":"One"}}"#;
    let out = chain
        .call("nft", "nft_mint")
        .signer("bob")
        .deposit(NEAR / 10)
        .args_json(mint)
        .run()
        .unwrap();
    assert_panics_with(&out, "Unauthorized");
    assert_eq!(
        chain.balance("bob"),
        10 * NEAR,
        "a failed call's deposit is returned"
    );
    let out = chain
        .call("nft", "nft_mint")
        .signer("alice")
        .deposit(NEAR / 10)
        .args_json(mint)
        .run()
        .unwrap();
    let token: serde_json::Value = serde_json::from_slice(&out.unwrap()).unwrap();
    assert_eq!(token["token_id"], "t1");
    assert_eq!(token["owner_id"], "alice");
    assert_eq!(token["metadata"]["title"], "One");
    let out = chain
        .call("nft", "nft_mint")
        .signer("alice")
        .deposit(NEAR / 10)
        .args_json(mint)
        .run()
        .unwrap();
    assert_panics_with(&out, "token_id must be unique");

    let token = |chain: &mut NearChain| -> serde_json::Value {
        let out = chain
            .call("nft", "nft_token")
            .args_json(r#"{"token_id":"t1"}"#)
            .run()
            .unwrap();
        serde_json::from_slice(&out.unwrap()).unwrap()
    };
    let is_approved = |chain: &mut NearChain, who: &str| -> bool {
        let args = format!(r#"{{"token_id":"t1","approved_account_id":"{who}"}}"#);
        let out = chain
            .call("nft", "nft_is_approved")
            .args_json(&args)
            .run()
            .unwrap();
        serde_json::from_slice(&out.unwrap()).unwrap()
    };
    assert_eq!(token(chain)["owner_id"], "alice");

    let transfer = r#"{"receiver_id":"bob","token_id":"t1"}"#;
    let out = chain
        .call("nft", "nft_transfer")
        .signer("alice")
        .args_json(transfer)
        .run()
        .unwrap();
    assert_eq!(
        out.outcome.panic_message(),
        Some("Requires attached deposit of exactly 1 yoctoNEAR")
    );

    // Approvals: alice approves carol, who may then transfer with the approval id.
    let out = chain
        .call("nft", "nft_approve")
        .signer("alice")
        .deposit(NEAR / 100)
        .args_json(r#"{"token_id":"t1","account_id":"carol"}"#)
        .run()
        .unwrap();
    assert_eq!(out.outcome.status, Status::Ok, "{:?}", out.outcome);
    assert!(is_approved(chain, "carol"));
    assert!(!is_approved(chain, "mallory"));
    let out = chain
        .call("nft", "nft_transfer")
        .signer("mallory")
        .deposit(1)
        .args_json(transfer)
        .run()
        .unwrap();
    assert_panics_with(&out, "Sender not approved");
    // Approval ids start at 1; a stale id is refused.
    let out = chain
        .call("nft", "nft_transfer")
        .signer("carol")
        .deposit(1)
        .args_json(r#"{"receiver_id":"bob","token_id":"t1","approval_id":0}"#)
        .run()
        .unwrap();
    assert_panics_with(
        &out,
        "The actual approval_id Some(1) is different from the given approval_id Some(0)",
    );
    let out = chain
        .call("nft", "nft_transfer")
        .signer("carol")
        .deposit(1)
        .args_json(r#"{"receiver_id":"bob","token_id":"t1","approval_id":1}"#)
        .run()
        .unwrap();
    assert_eq!(out.outcome.status, Status::Ok, "{:?}", out.outcome);
    assert_eq!(token(chain)["owner_id"], "bob");
    assert!(!is_approved(chain, "carol"), "a transfer clears approvals");
    true
}

pub fn test_contract_initialization_deposit_check_and_panic_macro(chain: &mut NearChain) -> bool {
    let Some(wasm) = contract("sdkrs_test_contract") else {
        return false;
    };
    chain.deploy("test", &wasm).unwrap();
    let out = chain
        .call("test", "new")
        .deposit(5)
        .args_json("{}")
        .run()
        .unwrap();
    assert_panics_with(&out, "Method new doesn't accept deposit");
    let out = chain
        .call("test", "migrate_state")
        .args_json("{}")
        .run()
        .unwrap();
    assert_panics_with(&out, "Old state doesn't exist");
    chain
        .call("test", "new")
        .args_json("{}")
        .run()
        .unwrap()
        .unwrap();
    let usage = chain.account("test").unwrap().storage_usage;
    assert!(usage > 100 + wasm.len() as u64, "state written");
    let out = chain.call("test", "new").args_json("{}").run().unwrap();
    assert_panics_with(&out, "The contract has already been initialized");
    let out = chain.call("test", "test_panic_macro").run().unwrap();
    let message = out.outcome.panic_message().unwrap();
    assert!(message.contains("PANIC!"), "{message}");
    assert_eq!(chain.account("test").unwrap().storage_usage, usage);
    true
}

pub fn multisig2_executes_a_request_after_enough_confirmations(chain: &mut NearChain) -> bool {
    let Some(wasm) = contract("multisig2") else {
        return false;
    };
    chain.deploy("msig", &wasm).unwrap();
    for who in ["alice", "bob", "carol", "mallory"] {
        chain.create_account(who, 10 * NEAR);
    }
    chain
        .call("msig", "new")
        .args_json(
            r#"{"members":[{"account_id":"alice"},{"account_id":"bob"}],"num_confirmations":2}"#,
        )
        .run()
        .unwrap()
        .unwrap();
    let request = r#"{"request":{"receiver_id":"carol","actions":[{"type":"Transfer","amount":"3000000000000000000000000"}]}}"#;
    let out = chain
        .call("msig", "add_request_and_confirm")
        .signer("mallory")
        .args_json(request)
        .run()
        .unwrap();
    assert!(
        out.outcome.panic_message().is_some(),
        "a non-member cannot add requests"
    );
    let out = chain
        .call("msig", "add_request_and_confirm")
        .signer("alice")
        .args_json(request)
        .run()
        .unwrap();
    assert_eq!(out.unwrap(), b"0", "request id 0");
    assert!(
        out.receipts.is_empty(),
        "one confirmation of two: nothing happens"
    );
    let confirmations = chain
        .call("msig", "get_confirmations")
        .args_json(r#"{"request_id":0}"#)
        .run()
        .unwrap();
    // multisig2 lists confirming members as their JSON encoding.
    assert_eq!(
        String::from_utf8(confirmations.unwrap()).unwrap(),
        r#"["{\"account_id\":\"alice\"}"]"#
    );
    let carol = chain.balance("carol");
    let out = chain
        .call("msig", "confirm")
        .signer("bob")
        .args_json(r#"{"request_id":0}"#)
        .run()
        .unwrap();
    assert_eq!(out.outcome.status, Status::Ok, "{:?}", out.outcome);
    assert_eq!(out.receipts.len(), 1, "{:?}", out.receipts);
    assert_eq!(chain.balance("carol"), carol + 3 * NEAR);
    let out = chain
        .call("msig", "get_request")
        .args_json(r#"{"request_id":0}"#)
        .run()
        .unwrap();
    assert!(
        out.outcome.panic_message().is_some(),
        "an executed request is removed"
    );
    true
}

pub fn w_near_wraps_and_unwraps_near(chain: &mut NearChain) -> bool {
    let Some(wasm) = contract("w_near") else {
        return false;
    };
    chain.deploy("wrap", &wasm).unwrap();
    chain.create_account("alice", 10 * NEAR);
    chain
        .call("wrap", "new")
        .args_json("{}")
        .run()
        .unwrap()
        .unwrap();
    let out = chain
        .call("wrap", "near_deposit")
        .signer("alice")
        .args_json("{}")
        .run()
        .unwrap();
    assert!(
        out.outcome.panic_message().is_some(),
        "a deposit of nothing is refused"
    );
    let out = chain
        .call("wrap", "near_deposit")
        .signer("alice")
        .deposit(2 * NEAR)
        .args_json("{}")
        .run()
        .unwrap();
    assert_eq!(out.outcome.status, Status::Ok, "{:?}", out.outcome);
    let balance = |chain: &mut NearChain| -> u128 {
        let out = chain
            .call("wrap", "ft_balance_of")
            .args_json(r#"{"account_id":"alice"}"#)
            .run()
            .unwrap();
        json_string(&out.unwrap()).parse().unwrap()
    };
    let wrapped = balance(chain);
    assert!(
        wrapped > NEAR && wrapped <= 2 * NEAR,
        "{wrapped}: 2 NEAR minus the registration"
    );
    let before = chain.balance("alice");
    let out = chain
        .call("wrap", "near_withdraw")
        .signer("alice")
        .deposit(1)
        .args_json(r#"{"amount":"1000000000000000000000000"}"#)
        .run()
        .unwrap();
    assert_eq!(out.outcome.status, Status::Ok, "{:?}", out.outcome);
    assert_eq!(balance(chain), wrapped - NEAR);
    // w_near sends the amount back together with the 1 yoctoNEAR security deposit.
    let transfer = &out.receipts[0].receipt;
    assert_eq!(transfer.receiver, "alice");
    assert_eq!(
        transfer.actions,
        vec![Action::Transfer { deposit: NEAR + 1 }]
    );
    assert_eq!(
        chain.balance("alice"),
        before + NEAR,
        "the transfer receipt paid alice"
    );
    true
}

pub fn cross_contract_high_level(chain: &mut NearChain) -> bool {
    cross_contract(chain, "sdkrs_cross_contract_high_level")
}

pub fn cross_contract_low_level(chain: &mut NearChain) -> bool {
    cross_contract(chain, "sdkrs_cross_contract_low_level")
}

pub fn factory_high_level(chain: &mut NearChain) -> bool {
    factory(chain, "sdkrs_factory_contract_high_level")
}

pub fn factory_low_level(chain: &mut NearChain) -> bool {
    factory(chain, "sdkrs_factory_contract_low_level")
}

/// ft_transfer_call into the defi example: the token calls the receiver's
/// ft_on_transfer, which keeps everything ("take-my-money") or calls itself
/// (value_please) to return part of it; the token's ft_resolve_transfer callback reads that
/// result and refunds the sender. A chain of four receipts across two contracts.
pub fn ft_transfer_call_to_defi(chain: &mut NearChain) -> bool {
    let (Some(ft), Some(defi)) = (contract("sdkrs_fungible_token"), contract("sdkrs_defi")) else {
        return false;
    };
    chain.deploy("ft", &ft).unwrap();
    chain.deploy("defi", &defi).unwrap();
    chain.create_account("alice", 10 * NEAR);
    chain
        .call("ft", "new_default_meta")
        .args_json(r#"{"owner_id":"alice","total_supply":"1000"}"#)
        .run()
        .unwrap()
        .unwrap();
    chain
        .call("defi", "new")
        .args_json(r#"{"fungible_token_account_id":"ft"}"#)
        .run()
        .unwrap()
        .unwrap();
    chain
        .call("ft", "storage_deposit")
        .signer("alice")
        .deposit(STORAGE_DEPOSIT)
        .args_json(r#"{"account_id":"defi"}"#)
        .run()
        .unwrap()
        .unwrap();
    let transfer_call = |chain: &mut NearChain, msg: &str| {
        let args = format!(r#"{{"receiver_id":"defi","amount":"100","msg":"{msg}"}}"#);
        chain
            .call("ft", "ft_transfer_call")
            .signer("alice")
            .deposit(1)
            .args_json(&args)
            .run()
            .unwrap()
    };
    let out = transfer_call(chain, "take-my-money");
    assert_eq!(json_string(&out.unwrap()), "100", "all 100 used");
    assert!(
        out.receipts.iter().all(|r| r.status == Status::Ok),
        "{:?}",
        out.receipts
    );
    assert_eq!(ft_balance(chain, "alice"), "900");
    assert_eq!(ft_balance(chain, "defi"), "100");
    let out = transfer_call(chain, "30");
    assert_eq!(json_string(&out.unwrap()), "70", "30 of 100 returned");
    let methods: Vec<String> = out
        .receipts
        .iter()
        .filter_map(|r| match r.receipt.actions.first() {
            Some(Action::FunctionCall { method_name, .. }) => Some(method_name.clone()),
            _ => None,
        })
        .collect();
    // ft_resolve_transfer waits on ft_on_transfer, whose result is value_please's.
    assert_eq!(
        methods,
        ["ft_on_transfer", "value_please", "ft_resolve_transfer"]
    );
    assert!(
        out.all_logs()
            .iter()
            .any(|l| l.contains("amount_to_return = 30")),
        "{:?}",
        out.all_logs()
    );
    assert_eq!(ft_balance(chain, "alice"), "830");
    assert_eq!(ft_balance(chain, "defi"), "170");
    true
}

/// A scenario: runs on the chain it is given (fresh), asserting documented behaviour;
/// `false` if its contract is absent from the corpus.
pub type Scenario = fn(&mut NearChain) -> bool;

/// Every scenario, by name.
pub const SCENARIOS: &[(&str, Scenario)] = &[
    ("status_message", status_message_sets_and_gets_per_account),
    (
        "fungible_token",
        fungible_token_storage_deposit_transfer_and_balances,
    ),
    ("cross_contract_high_level", cross_contract_high_level),
    ("cross_contract_low_level", cross_contract_low_level),
    (
        "callback_results",
        callback_results_joins_promises_and_sees_each_result,
    ),
    ("factory_high_level", factory_high_level),
    ("factory_low_level", factory_low_level),
    (
        "non_fungible_token",
        non_fungible_token_mint_transfer_token_and_approvals,
    ),
    (
        "test_contract",
        test_contract_initialization_deposit_check_and_panic_macro,
    ),
    (
        "multisig2",
        multisig2_executes_a_request_after_enough_confirmations,
    ),
    ("w_near", w_near_wraps_and_unwraps_near),
    ("ft_transfer_call_to_defi", ft_transfer_call_to_defi),
];

/// One account: id, balance, locked balance, storage usage, storage entries.
pub type AccountState = (String, u128, u128, u64, Vec<(Vec<u8>, Vec<u8>)>);

/// Everything observable a scenario left behind: every transaction with its receipts
/// (return data, logs, gas, state changes, promises), and every account's balance,
/// locked balance, storage usage and storage.
pub fn observable(chain: &NearChain) -> (Vec<Execution>, Vec<AccountState>) {
    let accounts = chain
        .account_ids()
        .into_iter()
        .map(|id| {
            let a = chain.account(&id).unwrap();
            let storage = a
                .storage
                .entries()
                .map(|(k, v)| (k.to_vec(), v.to_vec()))
                .collect();
            (id, a.balance, a.locked, a.storage_usage, storage)
        })
        .collect();
    (chain.history().to_vec(), accounts)
}
