//! The checked-in wasm of every Rust example contract on Gasket's VM (`TestChain`,
//! x86-64): each scenario's return bytes and panic messages, storage untouched by
//! panics, byte-identical outcomes (gas included) when run again, pinned gas figures,
//! and the C twins (counter, token, kv) answering the same calls with the same bytes.
//! The same scenarios run on AArch64 under emulation in
//! `aarch64-tests/tests/rust_contracts.rs`.

use gasket_example_contracts::scenarios::{self, Scenario};
use gasket_vm::testing::{Outcome, TestChain};

fn wasm(name: &str) -> &'static [u8] {
    gasket_fixtures::rust_contract(name)
        .unwrap_or_else(|| panic!("no Rust contract {name}"))
        .wasm
}

fn run(scenario: &Scenario) -> (Vec<Outcome>, TestChain) {
    let mut chain = TestChain::new();
    let outcomes = scenarios::run(&mut chain, wasm(scenario.contract), scenario);
    (outcomes, chain)
}

/// Gas used by each scenario's calls, in order. A change here is a change of what
/// users pay: rebuild the contracts only on purpose, and update these with the reason.
const GAS: &[(&str, &[u64])] = &[
    ("counter", &[667, 1682, 1893, 878]),
    (
        "token",
        &[
            1543, 341, 4533, 1584, 2331, 4164, 1791, 4386, 2871, 1520, 1508, 935,
        ],
    ),
    ("kv", &[1474, 1474, 1352, 1009, 1109, 1109, 863]),
    (
        "escrow",
        &[
            4824, 5082, 1202, 944, 1861, 1538, 6120, 1984, 2707, 2020, 985, 5659, 2707, 1020, 1516,
            1528,
        ],
    ),
    (
        "multisig",
        &[
            4598, 5765, 1816, 2688, 7437, 4494, 11358, 4626, 7625, 6233, 3887, 7172, 6142, 940,
            1522,
        ],
    ),
];

#[test]
fn scenarios_pass_with_stable_gas() {
    for scenario in scenarios::all() {
        let (first, _) = run(&scenario);
        let (second, _) = run(&scenario);
        assert_eq!(first, second, "{}: a second run differs", scenario.contract);
        let gas: Vec<u64> = first.iter().map(|o| o.gas_used).collect();
        if let Some((_, pinned)) = GAS.iter().find(|(name, _)| *name == scenario.contract) {
            assert_eq!(&gas, pinned, "{}: gas figures changed", scenario.contract);
        }
    }
    assert_eq!(
        GAS.len(),
        scenarios::all().len(),
        "every scenario has pinned gas"
    );
}

#[test]
fn contracts_are_kilobytes() {
    for c in gasket_fixtures::RUST_CONTRACTS {
        assert!(
            c.wasm.len() < 32 * 1024,
            "{}: {} bytes",
            c.name,
            c.wasm.len()
        );
    }
}

/// The Rust counter, token and kv take the C contracts' input bytes and give the same
/// results, panic messages, logs and final storage.
#[test]
fn rust_and_c_twins_agree() {
    for name in ["counter", "token", "kv"] {
        let scenario = scenarios::get(name);
        let (rust, rust_chain) = run(&scenario);
        let mut c_chain = TestChain::new();
        let c_wasm = gasket_fixtures::c_contract(name).unwrap().wasm;
        let c = scenarios::run(&mut c_chain, c_wasm, &scenario);
        for (i, (r, c)) in rust.iter().zip(&c).enumerate() {
            assert_eq!(r.status, c.status, "{name} step {i}");
            assert_eq!(r.return_data, c.return_data, "{name} step {i}");
            assert_eq!(r.logs, c.logs, "{name} step {i}");
            assert_eq!(r.state_changes, c.state_changes, "{name} step {i}");
        }
        assert_eq!(
            rust_chain.storage(name).unwrap().as_map(),
            c_chain.storage(name).unwrap().as_map(),
            "{name}: final storage"
        );
    }
}

/// A `panic!` with formatted arguments and a failed decode both surface as the call's
/// panic message.
#[test]
fn bad_input_names_the_argument() {
    let mut chain = TestChain::new();
    chain.deploy("escrow", wasm("escrow")).unwrap();
    let out = chain
        .call("escrow", "release")
        .input(vec![1, 2])
        .run()
        .unwrap();
    assert_eq!(
        out.panic_message(),
        Some("invalid input for release: id: input ended early")
    );
    let out = chain
        .call("escrow", "release")
        .input(vec![0; 9])
        .run()
        .unwrap();
    assert_eq!(
        out.panic_message(),
        Some("invalid input for release: after the last argument: unexpected bytes after the last argument")
    );
}
