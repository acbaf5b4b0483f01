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
/// Last updated for cost table version 8 (`local` 7, `memory_grow` 1 650, `call` 1 200,
/// `call_indirect` 1 225: −0.01 % to +0.64 % here, dearer calls against cheaper
/// locals). Version 7 (`call` 1 100, `call_indirect` 1 125, `store` 66,
/// `br_table_target` 2, `log_utf8` 56 and `input` 3 per byte: +0.8–5.5 % here,
/// mostly the dearer calls). Version 5 (the written-range charge: each call pays
/// 31 454 per 4 KiB granule its writes, data segments included, add to the written
/// ranges; one or two granules a call here). Version 3: prices derived from measured
/// time; storage writes dominate (`storage_write` costs 358 341 + 500 per byte).
const GAS: &[(&str, &[u64])] = &[
    ("counter", &[78844, 458189, 483125, 103780]),
    (
        "token",
        &[
            505484, 60417, 1074861, 235988, 307138, 1040064, 251201, 1068013, 622032, 203012,
            202942, 139718,
        ],
    ),
    (
        "kv",
        &[506413, 506413, 194006, 155203, 257139, 257139, 151640],
    ),
    (
        "escrow",
        &[
            1045620, 1075121, 191691, 168685, 248086, 207641, 1164854, 257633, 275855, 264168,
            175087, 1108759, 275855, 164966, 201547, 201617,
        ],
    ),
    (
        "multisig",
        &[
            353381, 1404236, 213105, 309457, 1269763, 459093, 1894267, 466601, 1294767, 875874,
            415123, 954558, 612131, 140535, 201582,
        ],
    ),
    ("probe", &[218807, 201471, 211766, 744025, 144843, 498612]),
];

#[test]
fn scenarios_pass_with_stable_gas() {
    let mut changed = Vec::new();
    for scenario in scenarios::all() {
        let (first, _) = run(&scenario);
        let (second, _) = run(&scenario);
        assert_eq!(first, second, "{}: a second run differs", scenario.contract);
        let gas: Vec<u64> = first.iter().map(|o| o.gas_used).collect();
        let pinned = GAS.iter().find(|(name, _)| *name == scenario.contract);
        if pinned.map(|(_, g)| *g) != Some(gas.as_slice()) {
            changed.push(format!("(\"{}\", &{gas:?}),", scenario.contract));
        }
    }
    // Lists every changed scenario with its new figures, ready to paste into GAS.
    assert!(
        changed.is_empty(),
        "gas figures changed:\n{}",
        changed.join("\n")
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

/// The same source on the SDK's mock and compiled on the VM: the same return bytes,
/// panic messages, logs and final storage for every step of every scenario.
#[test]
fn the_mock_agrees_with_the_vm() {
    for scenario in scenarios::all() {
        let name = scenario.contract;
        let (vm, chain) = run(&scenario);
        let native = scenarios::run_native(&scenario);
        for (i, (v, n)) in vm.iter().zip(&native).enumerate() {
            assert_eq!(v.panic_message(), n.panic.as_deref(), "{name} step {i}");
            assert_eq!(v.return_data, n.return_data, "{name} step {i}");
            assert_eq!(v.logs, n.logs, "{name} step {i}");
        }
        let vm_storage = chain.storage(name).unwrap().as_map().clone();
        assert_eq!(
            vm_storage,
            gasket_sdk::testing::storage(),
            "{name}: final storage"
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
