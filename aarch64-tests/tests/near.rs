//! The NEAR scenarios of `vm/tests/near_scenarios` on AArch64 under emulation: the same
//! transactions through the ordinary runtime with an emulated-AArch64 engine
//! (`gasket_aarch64_tests::backend`) must leave byte-identical histories (return data,
//! logs, state changes, receipts, gas) and accounts to native x86-64.

#[path = "../../vm/tests/near_scenarios/mod.rs"]
mod near_scenarios;

use gasket_aarch64_tests::backend;
use gasket_vm::metering::Profile;
use gasket_vm::near::NearChain;

#[test]
fn scenarios_are_identical_on_x86_64_and_emulated_aarch64() {
    let mut compared = 0;
    for (name, scenario) in near_scenarios::SCENARIOS {
        let mut native = NearChain::new();
        if !scenario(&mut native) {
            eprintln!("contract absent: {name} skipped");
            continue;
        }
        let mut a64 = NearChain::with_engine(backend::engine(Profile::near()));
        assert!(scenario(&mut a64), "{name}");
        let (n_history, n_accounts) = near_scenarios::observable(&native);
        let (a_history, a_accounts) = near_scenarios::observable(&a64);
        assert_eq!(n_history.len(), a_history.len(), "{name}");
        for (i, (n, a)) in n_history.iter().zip(&a_history).enumerate() {
            assert_eq!(n, a, "{name}: transaction {i} differs");
        }
        assert_eq!(n_accounts, a_accounts, "{name}: final accounts differ");
        compared += 1;
    }
    eprintln!("{compared} scenarios compared");
}
