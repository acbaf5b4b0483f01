//! The page commit charge (cost table version 4), one test per rule, run on the wasmi
//! reference: pages above the resident allowance `R` cost `memory_commit_per_page` once,
//! at instantiation for initial pages and in `memory.grow` for the part of the new size
//! above `R`; a grow that fails pays no commit; running out of gas at the charge traps
//! before the grow.

use gasket_fixtures::reference::{Outcome, PreparedRunner, Trap, V};
use gasket_metering::{committed_pages, prepare, CostTable, PreparedModule, Profile};
use wasmi::Val;

const LIMIT: u64 = 1 << 50;

fn costs() -> CostTable {
    CostTable::default()
}

fn prepared(wat: &str) -> PreparedModule {
    let wasm = wat::parse_str(wat).expect("valid WAT");
    prepare(&wasm, &Profile::permissive()).expect("prepares")
}

fn run(wat: &str, export: &str, args: &[Val], limit: u64) -> Outcome {
    let prepared = prepared(wat);
    let max_height = Profile::permissive().stack.max_height;
    PreparedRunner::new(&prepared.wasm, max_height)
        .expect("wasmi accepts the prepared module")
        .run(export, args, limit)
}

fn gas(outcome: &Outcome) -> u64 {
    outcome.gas.expect("gas counted")
}

/// A module with `memory` (`initial [max]`) and exports `f` (does nothing), `grow` and
/// `size`.
fn module(memory: &str) -> String {
    format!(
        r#"(module (memory (export "mem") {memory})
            (func (export "f"))
            (func (export "grow") (param i32) (result i32) (memory.grow (local.get 0)))
            (func (export "size") (result i32) (memory.size)))"#
    )
}

/// The gas a call of `grow(delta)` uses beyond a call of `grow(0)` on the same module.
fn grow_extra(memory: &str, delta: i32) -> (Outcome, u64) {
    let wat = module(memory);
    let zero = run(&wat, "grow", &[Val::I32(0)], LIMIT);
    let grown = run(&wat, "grow", &[Val::I32(delta)], LIMIT);
    let extra = gas(&grown) - gas(&zero);
    (grown, extra)
}

#[test]
fn the_default_allowance_and_price() {
    let costs = costs();
    assert_eq!(costs.version, 8);
    assert_eq!(costs.memory_resident_pages, 32);
    assert!(costs.memory_commit_per_page > 1_000_000);
}

#[test]
fn initial_pages_up_to_the_allowance_pay_nothing_and_change_nothing() {
    let at_one = run(&module("1"), "f", &[], LIMIT);
    for memory in ["17", "32", "32 40"] {
        let prepared = prepared(&module(memory));
        assert_eq!(
            prepared.info.start, None,
            "{memory}: no start function appended"
        );
        assert_eq!(prepared.info.functions.len(), 3);
        let outcome = run(&module(memory), "f", &[], LIMIT);
        assert_eq!(gas(&outcome), gas(&at_one), "{memory}");
    }
}

#[test]
fn initial_pages_above_the_allowance_pay_at_instantiation() {
    let base = gas(&run(&module("1"), "f", &[], LIMIT));
    let price = costs().memory_commit_per_page;
    for (pages, above) in [(33, 1), (40, 8), (256, 224)] {
        let wat = module(&pages.to_string());
        let prepared = prepared(&wat);
        // The appended start function is the last function.
        assert_eq!(prepared.info.start, Some(3 + 3), "{pages}");
        assert_eq!(prepared.info.functions.len(), 4);
        let outcome = run(&wat, "f", &[], LIMIT);
        assert_eq!(outcome.result, Ok(vec![]));
        assert_eq!(gas(&outcome) - base, above * price, "{pages} pages");
    }
}

#[test]
fn the_module_start_function_still_runs_after_the_charge() {
    let wat = r#"(module (memory (export "mem") 40 50)
        (global $g (export "g") (mut i32) (i32.const 0))
        (func $start (global.set $g (i32.add (global.get $g) (i32.const 7))))
        (start $start)
        (func (export "g_value") (result i32) (global.get $g)))"#;
    let prepared = prepared(wat);
    // $start is function 0, then `g_value`; the appended start comes after them.
    assert_eq!(prepared.info.start, Some(3 + 2));
    let outcome = run(wat, "g_value", &[], LIMIT);
    assert_eq!(outcome.result, Ok(vec![V::I32(7)]));
    assert!(gas(&outcome) > 8 * costs().memory_commit_per_page);
}

#[test]
fn grow_pays_for_the_part_of_the_new_size_above_the_allowance() {
    let costs = costs();
    let per_page = costs.memory_grow_per_page;
    let commit = costs.memory_commit_per_page;
    // (memory, delta, pages above the allowance)
    let cases = [
        ("1 100", 5, 0),  // far below
        ("30 100", 2, 0), // exactly to the allowance
        ("30 100", 5, 3), // across it
        ("32 100", 1, 1), // from the allowance
        ("40 100", 7, 7), // above it (and the initial 8 pages paid at instantiation)
        ("1 256", 255, 224),
    ];
    for (memory, delta, above) in cases {
        let (outcome, extra) = grow_extra(memory, delta);
        let old: i32 = memory.split(' ').next().unwrap().parse().unwrap();
        assert_eq!(
            outcome.result,
            Ok(vec![V::I32(old)]),
            "{memory} grow {delta}"
        );
        assert_eq!(
            committed_pages(
                old as u64,
                (old + delta) as u64,
                costs.memory_resident_pages
            ),
            above
        );
        assert_eq!(
            extra,
            delta as u64 * per_page + above * commit,
            "{memory} grow {delta}"
        );
    }
}

#[test]
fn a_grow_that_fails_pays_no_commit() {
    let per_page = costs().memory_grow_per_page;
    for (memory, delta) in [("30 40", 11), ("40 40", 1), ("30 40", -1), ("1", 1024)] {
        let (outcome, extra) = grow_extra(memory, delta);
        assert_eq!(
            outcome.result,
            Ok(vec![V::I32(-1)]),
            "{memory} grow {delta}"
        );
        assert_eq!(
            extra,
            u64::from(delta as u32) * per_page,
            "{memory} grow {delta}"
        );
    }
    // Exactly to the maximum succeeds and pays.
    let (outcome, extra) = grow_extra("30 40", 10);
    assert_eq!(outcome.result, Ok(vec![V::I32(30)]));
    assert_eq!(extra, 10 * per_page + 8 * costs().memory_commit_per_page);
}

#[test]
fn out_of_gas_at_the_commit_charge_traps_before_the_grow() {
    let wat = module("30 100");
    let need = gas(&run(&wat, "grow", &[Val::I32(5)], LIMIT));
    let exact = run(&wat, "grow", &[Val::I32(5)], need);
    assert_eq!(exact.result, Ok(vec![V::I32(30)]));
    // One unit short: the commit charge is the last one before the grow, so the memory
    // must still have its 30 pages (the state is that of a call that grew nothing).
    let short = run(&wat, "grow", &[Val::I32(5)], need - 1);
    assert_eq!(short.result, Err(Trap::OutOfGas));
    assert_eq!(gas(&short), need - 1);
    let unchanged = run(&wat, "grow", &[Val::I32(0)], LIMIT);
    assert_eq!(short.state, unchanged.state);
    assert_ne!(exact.state, unchanged.state);
    // Short by the whole commit: still out of gas at that charge, still before the grow.
    let commit = 3 * costs().memory_commit_per_page;
    let shorter = run(&wat, "grow", &[Val::I32(5)], need - commit);
    assert_eq!(shorter.result, Err(Trap::OutOfGas));
    assert_eq!(shorter.state, unchanged.state);
}

#[test]
fn out_of_gas_at_the_instantiation_charge_fails_instantiation() {
    let wat = module("40");
    let need = gas(&run(&wat, "f", &[], LIMIT));
    assert_eq!(run(&wat, "f", &[], need).result, Ok(vec![]));
    let short = run(&wat, "f", &[], 8 * costs().memory_commit_per_page - 1);
    assert_eq!(short.result, Err(Trap::OutOfGas));
    assert_eq!(short.state, None, "instantiation failed");
}

#[test]
fn a_zero_price_writes_no_charge() {
    let wasm = wat::parse_str(module("40 100")).expect("valid WAT");
    let mut profile = Profile::permissive();
    let with = prepare(&wasm, &profile).expect("prepares");
    profile.costs.memory_commit_per_page = 0;
    let without = prepare(&wasm, &profile).expect("prepares");
    assert_eq!(without.info.start, None);
    assert!(without.wasm.len() < with.wasm.len());
    let grow = prepared(&module("1 100"));
    let grow_without = prepare(&wat::parse_str(module("1 100")).unwrap(), &profile).unwrap();
    assert!(
        grow_without.wasm.len() < grow.wasm.len(),
        "no grow charge either"
    );
}
