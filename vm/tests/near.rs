//! NEAR contracts from the shared corpus, unmodified, on the NEAR-compatible ABI: every
//! corpus NEAR contract prepares under the `near` profile, and the scenarios of
//! `near_scenarios` (documented behaviour of near-sdk-rs examples and NEAR's core
//! contracts) pass on the Gasket runtime. Tests read `../shared/corpus/contracts/near`
//! and pass (saying so) when it is absent.

mod near_scenarios;

use gasket_vm::near::NearChain;

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

macro_rules! scenario_tests {
    ($($name:ident),* $(,)?) => {$(
        #[test]
        fn $name() {
            let mut chain = NearChain::new();
            if !near_scenarios::$name(&mut chain) {
                eprintln!("contract absent: {} skipped", stringify!($name));
            }
        }
    )*};
}

scenario_tests!(
    status_message_sets_and_gets_per_account,
    fungible_token_storage_deposit_transfer_and_balances,
    cross_contract_high_level,
    cross_contract_low_level,
    callback_results_joins_promises_and_sees_each_result,
    factory_high_level,
    factory_low_level,
    non_fungible_token_mint_transfer_token_and_approvals,
    test_contract_initialization_deposit_check_and_panic_macro,
    multisig2_executes_a_request_after_enough_confirmations,
    w_near_wraps_and_unwraps_near,
    ft_transfer_call_to_defi,
);
