//! The memory-size surcharge on loads and stores (cost table version 6), run on the wasmi
//! reference: a block with `k` accesses pays `k × S(current pages)` on top of its static
//! cost, `S` being `gasket_host_api::access::AccessTiers::surcharge` of the size when the
//! block starts, at instantiation and after each `memory.grow`; nothing is written for a
//! memory that can never leave tier 0.

use gasket_fixtures::reference::{Outcome, PreparedRunner, Trap};
use gasket_host_api::access::{AccessTier, AccessTiers};
use gasket_metering::{prepare, CostTable, PreparedModule, Profile};
use wasmi::Val;
use wasmparser::{Parser, Payload};

const LIMIT: u64 = 1 << 50;

fn costs() -> CostTable {
    CostTable::default()
}

/// Tiers low enough that all three are reached within the reference's 256-page cap.
const LOW: AccessTiers = AccessTiers {
    tiers: [
        AccessTier {
            above_pages: 2,
            surcharge: 10,
        },
        AccessTier {
            above_pages: 4,
            surcharge: 100,
        },
        AccessTier {
            above_pages: 8,
            surcharge: 1000,
        },
    ],
};

fn profile(tiers: AccessTiers) -> Profile {
    let mut profile = Profile::permissive();
    profile.costs.memory_access_tiers = tiers;
    profile
}

fn prepared(wat: &str) -> PreparedModule {
    prepared_with(wat, costs().memory_access_tiers)
}

fn prepared_with(wat: &str, tiers: AccessTiers) -> PreparedModule {
    let wasm = wat::parse_str(wat).expect("valid WAT");
    prepare(&wasm, &profile(tiers)).expect("prepares")
}

fn run(wat: &str, export: &str, args: &[Val], limit: u64) -> Outcome {
    run_with(wat, export, args, limit, costs().memory_access_tiers)
}

fn run_with(wat: &str, export: &str, args: &[Val], limit: u64, tiers: AccessTiers) -> Outcome {
    let prepared = prepared_with(wat, tiers);
    let max_height = Profile::permissive().stack.max_height;
    PreparedRunner::new(&prepared.wasm, max_height)
        .expect("wasmi accepts the prepared module")
        .run(export, args, limit)
}

fn gas(outcome: &Outcome) -> u64 {
    assert!(outcome.result.is_ok(), "{outcome:?}");
    outcome.gas.expect("gas counted")
}

/// `k` loads and stores alternating (`i32.const 8; i32.load; drop` and `i32.const 8;
/// i32.const 1; i32.store`), one block.
fn accesses(k: usize) -> String {
    (0..k)
        .map(|i| {
            if i % 2 == 0 {
                "(drop (i32.load (i32.const 8)))\n"
            } else {
                "(i32.store (i32.const 8) (i32.const 1))\n"
            }
        })
        .collect()
}

/// The static gas of [`accesses`]`(k)`.
fn accesses_static(k: u64) -> u64 {
    let c = costs();
    let loads = k.div_ceil(2);
    let stores = k / 2;
    loads * (c.constant + c.load + c.alu) + stores * (2 * c.constant + c.store)
}

/// A module with memory `memory`, `g(n)`: grow by `n`, then `k` accesses (the block
/// after the grow), and `h(n)`: the same grow alone.
fn module(memory: &str, k: usize) -> String {
    let body = accesses(k);
    format!(
        r#"(module (memory {memory})
            (func (export "g") (param i32) (drop (memory.grow (local.get 0))) {body})
            (func (export "h") (param i32) (drop (memory.grow (local.get 0)))))"#
    )
}

/// The gas `k` accesses cost after growing an `initial`-page memory by `grow`.
fn surcharged(initial: u32, grow: i32, k: usize, tiers: AccessTiers) -> u64 {
    let wat = module(&initial.to_string(), k);
    let args = [Val::I32(grow)];
    gas(&run_with(&wat, "g", &args, LIMIT, tiers)) - gas(&run_with(&wat, "h", &args, LIMIT, tiers))
}

#[test]
fn the_default_tiers() {
    let tiers = costs().memory_access_tiers;
    tiers.check().expect("a sensible protocol constant");
    assert_eq!(costs().version, 8);
    for (pages, want) in [
        (17, 0),
        (32, 0),
        (33, 674),
        (65, 974),
        (257, 1074),
        (1024, 1074),
    ] {
        assert_eq!(tiers.surcharge(pages), want, "{pages} pages");
    }
}

#[test]
fn a_block_pays_its_accesses_at_the_size_it_starts_at() {
    // The reference caps memories at 256 pages: the default table's top tier is
    // reached with `LOW`'s.
    let default_sizes = [
        (1, 0),
        (1, 31),
        (1, 32),
        (32, 0),
        (33, 0),
        (32, 32),
        (64, 1),
        (65, 0),
        (200, 56),
    ];
    let low_sizes = [
        (1, 0),
        (1, 1),
        (2, 0),
        (1, 2),
        (3, 1),
        (4, 1),
        (8, 0),
        (1, 8),
        (9, 0),
    ];
    for (tiers, sizes) in [
        (costs().memory_access_tiers, &default_sizes[..]),
        (LOW, &low_sizes[..]),
    ] {
        for k in [1usize, 2, 5] {
            for &(initial, grow) in sizes {
                let pages = initial + grow as u32;
                let want = accesses_static(k as u64) + k as u64 * u64::from(tiers.surcharge(pages));
                assert_eq!(
                    surcharged(initial, grow, k, tiers),
                    want,
                    "{k} accesses after growing {initial} pages by {grow} ({tiers:?})"
                );
            }
        }
    }
}

#[test]
fn a_failed_grow_leaves_the_surcharge_unchanged() {
    let tiers = costs().memory_access_tiers;
    let wat = module("40 50", 3);
    let failed =
        gas(&run(&wat, "g", &[Val::I32(11)], LIMIT)) - gas(&run(&wat, "h", &[Val::I32(11)], LIMIT));
    assert_eq!(
        failed,
        accesses_static(3) + 3 * u64::from(tiers.surcharge(40))
    );
}

#[test]
fn many_accesses_in_one_block() {
    let tiers = costs().memory_access_tiers;
    let k = 3000;
    assert_eq!(
        surcharged(256, 0, k, tiers),
        accesses_static(k as u64) + k as u64 * u64::from(tiers.surcharge(256))
    );
    assert_eq!(
        surcharged(9, 0, k, LOW),
        accesses_static(k as u64) + k as u64 * 1000
    );
}

#[test]
fn out_of_gas_lands_exactly_on_a_surcharged_block() {
    let wat = module("200", 4);
    let needed = gas(&run(&wat, "g", &[Val::I32(0)], LIMIT));
    let short = run(&wat, "g", &[Val::I32(0)], needed - 1);
    assert_eq!(short.result, Err(Trap::OutOfGas));
    assert_eq!(
        short.gas,
        Some(needed - 1),
        "out of gas uses the whole limit"
    );
    // The surcharged block is the last charge: one surcharge short of it fails too.
    let tiers = costs().memory_access_tiers;
    let before = needed - accesses_static(4) - 4 * u64::from(tiers.surcharge(200));
    let at_block = run(&wat, "g", &[Val::I32(0)], before);
    assert_eq!(at_block.result, Err(Trap::OutOfGas));
}

/// Globals the prepared module defines.
fn defined_globals(wasm: &[u8]) -> u32 {
    Parser::new(0)
        .parse_all(wasm)
        .filter_map(|p| match p.unwrap() {
            Payload::GlobalSection(reader) => Some(reader.count()),
            _ => None,
        })
        .sum()
}

#[test]
fn nothing_is_written_for_a_memory_capped_within_tier_0() {
    let capped = prepared(&module("1 32", 4));
    let open = prepared(&module("1 33", 4));
    assert_eq!(defined_globals(&capped.wasm), 0);
    assert_eq!(defined_globals(&open.wasm), 1, "the surcharge's global");
    assert!(capped.wasm.len() < open.wasm.len());
    // A module without loads or stores keeps the global (set by grows) but its blocks
    // pay their static cost only.
    let plain = prepared(&module("1", 0));
    assert_eq!(defined_globals(&plain.wasm), 1);
}

/// A module with memory `memory` and no `memory.grow` that runs: `f` does `k` accesses
/// in one block; with `dead_grow`, an exported function that is never called grows the
/// memory (so the instrumented module keeps the surcharge's global and reads it).
fn never_grown(memory: &str, k: usize, dead_grow: bool) -> String {
    let body = accesses(k);
    let grow = if dead_grow {
        r#"(func (export "grow") (param i32) (drop (memory.grow (local.get 0))))"#
    } else {
        ""
    };
    format!(r#"(module (memory {memory}) (func (export "f") {body}) {grow})"#)
}

#[test]
fn a_memory_never_grown_pays_a_constant_surcharge() {
    // Below, at and above every threshold, for both tier tables: the folded constant
    // (no global) charges what the global read by the general form charges, and what
    // `AccessTiers::surcharge` says.
    let default_pages = [1u32, 31, 32, 33, 64, 65, 200, 256];
    let low_pages = [1u32, 2, 3, 4, 5, 8, 9, 40];
    for (tiers, pages) in [
        (costs().memory_access_tiers, &default_pages[..]),
        (LOW, &low_pages[..]),
    ] {
        for k in [1usize, 2, 7] {
            for &initial in pages {
                let memory = initial.to_string();
                let folded = never_grown(&memory, k, false);
                let general = never_grown(&memory, k, true);
                let want =
                    accesses_static(k as u64) + k as u64 * u64::from(tiers.surcharge(initial));
                let empty = never_grown(&memory, 0, false);
                let base = gas(&run_with(&empty, "f", &[], LIMIT, tiers));
                let got = gas(&run_with(&folded, "f", &[], LIMIT, tiers));
                assert_eq!(
                    got - base,
                    want,
                    "{k} accesses in {initial} pages ({tiers:?})"
                );
                assert_eq!(
                    got,
                    gas(&run_with(&general, "f", &[], LIMIT, tiers)),
                    "{k} accesses in {initial} pages: folded and general forms ({tiers:?})"
                );
                assert_eq!(defined_globals(&prepared_with(&folded, tiers).wasm), 0);
                assert_eq!(defined_globals(&prepared_with(&general, tiers).wasm), 1);
            }
        }
    }
}

#[test]
fn a_memory_never_grown_in_tier_0_is_instrumented_as_without_tiers() {
    // The same bytes as a profile without any surcharge: nothing of version 6 is left.
    for memory in ["1", "32", "17"] {
        let wat = never_grown(memory, 5, false);
        assert_eq!(
            prepared(&wat).wasm,
            prepared_with(&wat, AccessTiers::NONE).wasm,
            "memory {memory}"
        );
    }
    // A grow in dead code never runs: it does not count.
    let dead = r#"(module (memory 1)
        (func (export "f") (param i32) (drop (i32.load (i32.const 0))) return
            (drop (memory.grow (local.get 0)))))"#;
    assert_eq!(
        prepared(dead).wasm,
        prepared_with(dead, AccessTiers::NONE).wasm
    );
    // A reachable one does.
    let live = never_grown("1", 5, true);
    assert_ne!(
        prepared(&live).wasm,
        prepared_with(&live, AccessTiers::NONE).wasm
    );
}

#[test]
fn out_of_gas_lands_exactly_on_a_constant_surcharged_block() {
    let tiers = costs().memory_access_tiers;
    for dead_grow in [false, true] {
        let wat = never_grown("200", 4, dead_grow);
        let needed = gas(&run(&wat, "f", &[], LIMIT));
        let short = run(&wat, "f", &[], needed - 1);
        assert_eq!(short.result, Err(Trap::OutOfGas), "dead grow: {dead_grow}");
        assert_eq!(short.gas, Some(needed - 1));
        // The whole block is one charge: every limit from the gas before it up to one
        // short of it traps there, using the whole limit.
        let before = gas(&run(&never_grown("200", 0, dead_grow), "f", &[], LIMIT));
        let surcharge = 4 * u64::from(tiers.surcharge(200));
        assert_eq!(needed, before + accesses_static(4) + surcharge);
        for limit in [before, before + surcharge, needed - 2] {
            let outcome = run(&wat, "f", &[], limit);
            assert_eq!(outcome.result, Err(Trap::OutOfGas), "limit {limit}");
            assert_eq!(outcome.gas, Some(limit));
        }
        assert!(run(&wat, "f", &[], needed).result.is_ok());
    }
}
