//! The Rust example contracts (`contracts/`, built with gasket-sdk) on AArch64 under
//! emulation: every scenario of `gasket_example_contracts::scenarios` passes with the
//! emulated AArch64 backend, and every outcome — status, panic message, return data,
//! logs, gas used, state changes — is identical to native x86-64.

use gasket_aarch64_tests::backend;
use gasket_example_contracts::scenarios;
use gasket_vm::metering::Profile;
use gasket_vm::testing::TestChain;

#[test]
fn rust_contracts_agree_across_targets() {
    for scenario in scenarios::all() {
        let wasm = gasket_fixtures::rust_contract(scenario.contract)
            .expect("every scenario has a contract")
            .wasm;
        let native = scenarios::run(&mut TestChain::new(), wasm, &scenario);
        let mut emulated_chain = TestChain::with_engine(backend::engine(Profile::contract()));
        let emulated = scenarios::run(&mut emulated_chain, wasm, &scenario);
        assert_eq!(
            native, emulated,
            "{}: x86-64 and AArch64 differ",
            scenario.contract
        );
    }
}
