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

/// Gas reports and trap stacks (`TestChain` outcomes) are identical on both targets:
/// returns, a trap, a panic, per-unit charges, and out of gas at several limits, one of
/// them inside a host function's charge.
#[test]
fn gas_reports_agree_across_targets() {
    let wasm = gasket_fixtures::GAS_REPORT.wasm();
    let mut native = TestChain::new();
    native.deploy("c", &wasm).unwrap();
    let mut emulated = TestChain::with_engine(backend::engine(Profile::contract()));
    emulated.deploy("c", &wasm).unwrap();
    // The start function pays the data segment's granule first (cost table version 5);
    // the small limits are past it, so the call itself runs out of gas.
    let start = u64::from(gasket_vm::metering::WRITE_PER_GRANULE);
    let cases = [
        ("run", 10_000_000),
        ("run", start + 100),
        ("run", start + 300),
        ("trap", 10_000_000),
        ("panic", 10_000_000),
        ("grow", 10_000_000),
        ("spin", start + 20_000),
    ];
    for (method, gas) in cases {
        for report in [false, true] {
            let call = |chain: &mut TestChain| {
                chain
                    .call("c", method)
                    .gas(gas)
                    .gas_report(report)
                    .run()
                    .unwrap()
            };
            let (x, a) = (call(&mut native), call(&mut emulated));
            assert_eq!(x, a, "{method} with {gas} gas: x86-64 and AArch64 differ");
            assert_eq!(x.gas_report.is_some(), report);
            assert_eq!(x.wasm_stack.is_empty(), x.is_ok(), "{method}: {x:?}");
        }
    }
}
