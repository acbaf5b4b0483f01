//! NEAR contracts from the shared corpus, unmodified, on the NEAR-compatible ABI: every
//! corpus NEAR contract prepares under the `near` profile, and scenario tests check
//! documented behaviour of the near-sdk-rs examples and NEAR's core contracts. Tests read
//! `../shared/corpus/contracts/near` and pass (saying so) when it is absent.

use gasket_vm::host_api::near::PromiseResult;
use gasket_vm::near::{NearChain, NEAR};
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

fn json_string(bytes: &[u8]) -> String {
    serde_json::from_slice::<String>(bytes).unwrap_or_else(|e| {
        panic!(
            "not a JSON string: {e}: {:?}",
            String::from_utf8_lossy(bytes)
        )
    })
}

#[test]
fn every_corpus_near_contract_prepares_under_the_near_profile() {
    let Some(dir) = gasket_fixtures::corpus_dir() else {
        eprintln!("shared corpus absent: skipping");
        return;
    };
    let profile = gasket_vm::metering::Profile::near();
    let mut count = 0;
    for entry in std::fs::read_dir(dir.join("near")).unwrap() {
        let path = entry.unwrap().path();
        let bytes = std::fs::read(&path).unwrap();
        let prepared = gasket_vm::metering::prepare(&bytes, &profile)
            .unwrap_or_else(|e| panic!("{}: {e:?}", path.display()));
        assert!(prepared
            .info
            .imports
            .iter()
            .all(|i| i.near_function.is_some()));
        count += 1;
    }
    assert_eq!(count, 32);
}

#[test]
fn status_message_sets_and_gets_per_account() {
    let Some(wasm) = contract("sdkrs_status_message") else {
        return;
    };
    let mut chain = NearChain::new();
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
    assert_eq!(get(&mut chain, "alice"), br#""hello""#);
    assert_eq!(get(&mut chain, "bob"), br#""bye""#);
    assert_eq!(get(&mut chain, "carol"), b"null");
}
