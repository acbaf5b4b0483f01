//! Gas reports and trap call stacks (`ReportModule`, `TestChain` outcomes): exact sums,
//! a hand-computed split, the same gas as the plain build, partial charges when out of
//! gas, and stacks with names from the name section.

use gasket_vm::metering::Profile;
use gasket_vm::testing::{Outcome, Status, TestChain};
use gasket_vm::{Engine, GasReport, Imports, Instance, TrapKind, Value};

/// Checks the three breakdowns each sum to `gas_used`.
fn assert_sums(report: &GasReport) {
    let by_function: u64 = report.by_function.iter().map(|f| f.gas).sum();
    let by_host: u64 = report.by_host_function.iter().map(|h| h.gas).sum();
    let by_class: u64 = report.by_class.iter().map(|c| c.1).sum();
    assert_eq!(
        by_function + report.memory_write,
        report.gas_used,
        "{report:#?}"
    );
    assert_eq!(report.wasm_code + by_host, report.gas_used, "{report:#?}");
    assert_eq!(by_class, report.gas_used, "{report:#?}");
}

/// `outcome` ran out of gas at `limit`, using all of it, and its report adds up.
fn assert_out_of_gas_with_exact_report(outcome: &Outcome, limit: u64) {
    assert_eq!(
        outcome.status.trap_kind(),
        Some(TrapKind::OutOfGas),
        "limit {limit}"
    );
    assert_eq!(outcome.gas_used, limit);
    assert_sums(outcome.gas_report.as_ref().expect("a report"));
}

fn names(outcome: &Outcome) -> Vec<String> {
    outcome.wasm_stack.iter().map(|f| f.to_string()).collect()
}

fn chain() -> TestChain {
    let mut chain = TestChain::new();
    chain
        .deploy("c", &gasket_fixtures::GAS_REPORT.wasm())
        .expect("deploy");
    chain
}

#[test]
fn hand_computed_split() {
    // $main: call + i32.const + i32.add + end (structural, 0); $leaf: i32.const.
    let wat = r#"(module
      (func $main (export "main") (result i32) (i32.add (call $leaf) (i32.const 2)))
      (func $leaf (result i32) (i32.const 1)))"#;
    let wasm = wat::parse_str(wat).unwrap();
    let engine = Engine::new(Profile::permissive()).unwrap();
    let plain = engine.compile(&wasm).unwrap();
    let mut instance = Instance::new(&plain, &Imports::new(), 1000).unwrap();
    let costs = gasket_vm::metering::CostTable::default();
    let main = costs.call + costs.constant + costs.alu;
    let plain_outcome = instance.call("main", &[], 100_000).unwrap();
    assert_eq!(plain_outcome.gas_used, main + costs.constant);

    let report_module = engine.compile_for_report(&wasm).unwrap();
    let mut instance = Instance::new(report_module.module(), &Imports::new(), 1000).unwrap();
    let recording = report_module.begin(&mut instance, false);
    let outcome = instance.call("main", &[], 100_000).unwrap();
    assert_eq!(outcome, plain_outcome);
    assert_eq!(outcome.result, Ok(vec![Value::I32(3)]));
    let report = report_module
        .finish(&instance, recording, outcome.gas_used)
        .unwrap();
    let split: Vec<(u32, Option<&str>, u64)> = report
        .by_function
        .iter()
        .map(|f| (f.index, f.name.as_deref(), f.gas))
        .collect();
    assert_eq!(
        split,
        [(0, Some("main"), main), (1, Some("leaf"), costs.constant)]
    );
    let classes: Vec<(&str, u64)> = report
        .by_class
        .iter()
        .map(|(c, g)| (c.as_str(), *g))
        .collect();
    assert_eq!(
        classes,
        [
            ("alu", costs.alu),
            ("call", costs.call),
            ("constant", 2 * costs.constant)
        ]
    );
    assert_eq!(report.wasm_code, main + costs.constant);
    assert!(report.by_host_function.is_empty());
    assert_sums(&report);
    assert!(
        report_module.stack(&instance).is_empty(),
        "returned: no stack"
    );
}

#[test]
fn reports_add_up_and_match_the_plain_build() {
    for (method, gas) in [
        ("run", 10_000_000),
        ("trap", 10_000_000),
        ("panic", 10_000_000),
        ("grow", 10_000_000),
        ("spin", 50_000),
    ] {
        let mut plain = chain();
        let expected = plain.call("c", method).gas(gas).run().unwrap();
        let mut chain = chain();
        let outcome = chain
            .call("c", method)
            .gas(gas)
            .gas_report(true)
            .run()
            .unwrap();
        assert_eq!(outcome.status, expected.status, "{method}");
        assert_eq!(outcome.gas_used, expected.gas_used, "{method}");
        assert_eq!(outcome.logs, expected.logs, "{method}");
        assert_eq!(outcome.state_changes, expected.state_changes, "{method}");
        assert_eq!(outcome.wasm_stack, expected.wasm_stack, "{method}");
        let report = outcome.gas_report.as_ref().expect("a report");
        assert_eq!(report.gas_used, outcome.gas_used);
        assert_sums(report);
        assert!(expected.gas_report.is_none(), "not asked for");
    }
}

#[test]
fn host_functions_and_names() {
    let mut chain = chain();
    let outcome = chain.call("c", "run").gas_report(true).run().unwrap();
    assert!(outcome.is_ok());
    let report = outcome.gas_report.unwrap();
    let calls: Vec<(&str, u64)> = report
        .by_host_function
        .iter()
        .map(|h| (h.name.as_str(), h.calls))
        .collect();
    assert_eq!(calls, [("log_utf8", 2), ("storage_write", 1)]);
    assert!(report.by_host_function.iter().all(|h| h.gas > 0));
    let host: u64 = report.by_host_function.iter().map(|h| h.gas).sum();
    assert!(report.by_class.contains(&("host".to_string(), host)));
    let functions: Vec<&str> = report
        .by_function
        .iter()
        .map(|f| f.name.as_deref().unwrap_or("?"))
        .collect();
    // Last, unnamed: the start function the metering pass appends, which pays the data
    // segment's written-range charge (cost table version 5).
    assert_eq!(
        functions,
        ["storage_write", "log_utf8", "leaf", "helper", "run", "?"]
    );
    assert_sums(&report);
}

#[test]
fn unnamed_functions_take_their_export_or_import_name() {
    // No name section: the import is called by its import name, the export by its
    // export name, the helper by its index.
    let wasm = wat::parse_str(
        r#"(module
          (import "env" "log_utf8" (func (param i32 i32)))
          (memory 1)
          (data (i32.const 0) "hi")
          (func (export "go") (call 2))
          (func (call 0 (i32.const 0) (i32.const 2))))"#,
    )
    .unwrap();
    let mut chain = TestChain::new();
    chain.deploy("c", &wasm).unwrap();
    let outcome = chain.call("c", "go").gas_report(true).run().unwrap();
    assert!(outcome.is_ok(), "{outcome:?}");
    let report = outcome.gas_report.unwrap();
    let mut functions: Vec<(u32, Option<&str>)> = report
        .by_function
        .iter()
        .map(|f| (f.index, f.name.as_deref()))
        .collect();
    functions.sort();
    // Index 3: the appended start function's data segment charge (cost table version 5).
    assert_eq!(
        functions,
        [(0, Some("log_utf8")), (1, Some("go")), (2, None), (3, None)]
    );
    assert_sums(&report);
}

#[test]
fn per_unit_charges_are_their_own_classes() {
    let mut chain = chain();
    let outcome = chain.call("c", "grow").gas_report(true).run().unwrap();
    assert!(outcome.is_ok(), "{:?}", outcome.status);
    let report = outcome.gas_report.unwrap();
    let costs = gasket_vm::metering::CostTable::default();
    let class = |name: &str| report.by_class.iter().find(|c| c.0 == name).map(|c| c.1);
    assert_eq!(
        class("memory_grow_per_page"),
        Some(costs.memory_grow_per_page)
    );
    assert_eq!(
        class("bulk_memory_per_byte"),
        Some(100 * costs.bulk_memory_per_byte)
    );
    assert_sums(&report);
}

#[test]
fn out_of_gas_at_every_limit_reports_what_was_charged() {
    let mut chain = chain();
    let need = chain.call("c", "run").run().unwrap().gas_used;
    // Every limit was affordable under version 2's prices (about 1 500); under version 3
    // a run needs several hundred thousand gas, most of it in single host charges. So:
    // every limit at the start and the end, and a stride that is not a multiple of any
    // price (so it lands at varying offsets inside blocks) over the rest.
    // From the end of the start function's written-range charge of the data segment
    // (cost table version 5): running out of gas inside it fails instantiation, which has
    // no report.
    let start = u64::from(gasket_vm::metering::WRITE_PER_GRANULE);
    let edge = 400.min(need - start);
    let stride = (need / 1_500).max(1) | 1;
    let limits = (start..start + edge)
        .chain((start + edge..need - edge).step_by(stride as usize))
        .chain(need - edge..need);
    for limit in limits {
        let mut chain = self::chain();
        let outcome = chain
            .call("c", "run")
            .gas(limit)
            .gas_report(true)
            .run()
            .unwrap();
        assert_out_of_gas_with_exact_report(&outcome, limit);
    }
}

#[test]
fn trap_and_panic_report_the_wasm_stack() {
    let mut chain = chain();
    let trap = chain.call("c", "trap").run().unwrap();
    assert_eq!(trap.status.trap_kind(), Some(TrapKind::Unreachable));
    assert_eq!(names(&trap), ["fail_deep", "fail_middle", "fail"]);
    let indices: Vec<u32> = trap.wasm_stack.iter().map(|f| f.index).collect();
    assert_eq!(indices, [6, 7, 8]);

    let panic = chain.call("c", "panic").run().unwrap();
    assert!(matches!(panic.status, Status::Panic { .. }));
    assert_eq!(names(&panic), ["panic_outer"]);

    // Past the start function's written-range charge (cost table version 5).
    let start = u64::from(gasket_vm::metering::WRITE_PER_GRANULE);
    let spin = chain.call("c", "spin").gas(start + 1000).run().unwrap();
    assert_eq!(names(&spin), ["spin"]);

    let ok = chain.call("c", "run").run().unwrap();
    assert!(ok.is_ok() && ok.wasm_stack.is_empty());
}

#[test]
fn stacks_without_a_name_section_show_export_names_then_indices() {
    let wasm =
        wat::parse_str(r#"(module (func (export "f") (call 1)) (func unreachable))"#).unwrap();
    let mut chain = TestChain::new();
    chain.deploy("c", &wasm).unwrap();
    let outcome = chain.call("c", "f").run().unwrap();
    let frames: Vec<String> = outcome.wasm_stack.iter().map(|f| f.to_string()).collect();
    assert_eq!(frames, ["func[1]", "f"]);
    let names: Vec<Option<&str>> = outcome
        .wasm_stack
        .iter()
        .map(|f| f.name.as_deref())
        .collect();
    assert_eq!(names, [None, Some("f")]);
}

/// The page commit charge (cost table version 4) is its own class: the initial pages'
/// charge (start gas) under the index one past the module's last function, a grow's
/// under its function; the sums stay exact when the call runs out of gas inside it.
#[test]
fn commit_charges_are_their_own_class() {
    let wat = r#"(module (memory (export "memory") 40 100)
      (func (export "grow") (drop (memory.grow (i32.const 3)))))"#;
    let wasm = wat::parse_str(wat).unwrap();
    let deploy = || {
        let mut chain = TestChain::new();
        chain.deploy("m", &wasm).expect("deploy");
        chain
    };
    let outcome = deploy().call("m", "grow").gas_report(true).run().unwrap();
    assert!(outcome.is_ok(), "{:?}", outcome.status);
    let report = outcome.gas_report.unwrap();
    assert_sums(&report);
    let commit = gasket_vm::metering::CostTable::default().memory_commit_per_page;
    let class = |name: &str| report.by_class.iter().find(|c| c.0 == name).map(|c| c.1);
    assert_eq!(class("memory_commit_per_page"), Some(11 * commit));
    let start = report
        .by_function
        .iter()
        .find(|f| f.index == 1)
        .expect("start charge");
    assert_eq!((start.name.as_deref(), start.gas), (None, 8 * commit));
    let grow = report
        .by_function
        .iter()
        .find(|f| f.index == 0)
        .expect("grow");
    assert!(grow.gas > 3 * commit, "{report:#?}");

    let need = outcome.gas_used;
    for limit in [
        need - 1,
        need - commit,
        need - 3 * commit + 1,
        8 * commit + 1_000,
    ] {
        let outcome = deploy()
            .call("m", "grow")
            .gas(limit)
            .gas_report(true)
            .run()
            .unwrap();
        assert_out_of_gas_with_exact_report(&outcome, limit);
    }
}

#[test]
fn written_range_charges_are_their_own_class() {
    // One granule, then two more widening the range, then a far fill: a new range of
    // two granules (cost table version 5's rule, `WrittenRanges::mark`). The data
    // segment's granule is paid at instantiation, by the appended start function.
    let wat = r#"(module (memory 4)
      (data (i32.const 200000) "x")
      (func (export "run") (param i32)
        (i32.store (i32.const 0) (i32.const 1))
        (i32.store (i32.const 8200) (i32.const 1))
        (memory.fill (i32.const 100000) (i32.const 7) (local.get 0))))"#;
    let wasm = wat::parse_str(wat).unwrap();
    let mut profile = Profile::permissive();
    let price = 1_003;
    profile.costs.memory_write_per_granule = price;
    let engine = Engine::new(profile).unwrap();
    let report_module = engine.compile_for_report(&wasm).unwrap();
    let plain = engine.compile(&wasm).unwrap();
    let run = |module: &gasket_vm::Module, limit: u64| {
        let mut instance = Instance::new(module, &Imports::new(), 1_000_000).unwrap();
        let recording = report_module.begin(&mut instance, false);
        let outcome = instance.call("run", &[Value::I32(5000)], limit).unwrap();
        let report = report_module.finish(&instance, recording, outcome.gas_used);
        (outcome, report)
    };
    let (outcome, report) = run(report_module.module(), 10_000_000);
    assert_eq!(outcome.result, Ok(vec![]));
    let report = report.unwrap();
    assert_sums(&report);
    assert_eq!(report.memory_write, 5 * u64::from(price), "{report:#?}");
    let class = |name: &str| report.by_class.iter().find(|c| c.0 == name).map(|c| c.1);
    assert_eq!(
        class("memory_write_per_granule"),
        Some(5 * u64::from(price))
    );
    let mut plain_instance = Instance::new(&plain, &Imports::new(), 1_000_000).unwrap();
    let plain_outcome = plain_instance
        .call("run", &[Value::I32(5000)], 10_000_000)
        .unwrap();
    assert_eq!(
        plain_outcome.gas_used, outcome.gas_used,
        "same gas as the plain build"
    );

    // Out of gas anywhere, inside the write charges included: what was charged.
    let need = outcome.gas_used;
    for limit in (need.saturating_sub(8 * u64::from(price))..need).step_by(97) {
        let (outcome, report) = run(report_module.module(), limit);
        assert_eq!(outcome.gas_used, limit);
        let report = report.unwrap();
        assert_sums(&report);
        assert!(report.memory_write <= 5 * u64::from(price));
    }
}

#[test]
fn memory_access_surcharges_are_their_own_class() {
    // Cost table version 6: above a tier's threshold every load and store pays its
    // surcharge with its block; the report attributes it to the block's function.
    // Three accesses at 40 pages, then a grow to 70 and two accesses there.
    let wat = r#"(module (memory 40)
      (func $before
        (i32.store (i32.const 0) (i32.load (i32.const 4)))
        (drop (i64.load (i32.const 8))))
      (func (export "run")
        (call $before)
        (drop (memory.grow (i32.const 30)))
        (f64.store (i32.const 16) (f64.load (i32.const 24)))))"#;
    let wasm = wat::parse_str(wat).unwrap();
    let profile = Profile::permissive();
    let tiers = profile.costs.memory_access_tiers;
    let at_40 = u64::from(tiers.surcharge(40));
    let at_70 = u64::from(tiers.surcharge(70));
    assert!(at_40 > 0 && at_70 > at_40, "the default tiers apply");
    let engine = Engine::new(profile).unwrap();
    let report_module = engine.compile_for_report(&wasm).unwrap();
    let plain = engine.compile(&wasm).unwrap();
    let run = |module: &gasket_vm::Module, limit: u64| {
        let mut instance = Instance::new(module, &Imports::new(), 1 << 40).unwrap();
        let recording = report_module.begin(&mut instance, false);
        let outcome = instance.call("run", &[], limit).unwrap();
        let report = report_module.finish(&instance, recording, outcome.gas_used);
        (outcome, report)
    };
    let (outcome, report) = run(report_module.module(), 1 << 40);
    assert_eq!(outcome.result, Ok(vec![]));
    let report = report.unwrap();
    assert_sums(&report);
    let class = |name: &str| report.by_class.iter().find(|c| c.0 == name).map(|c| c.1);
    assert_eq!(
        class("memory_access_surcharge"),
        Some(3 * at_40 + 2 * at_70),
        "{report:#?}"
    );
    let mut plain_instance = Instance::new(&plain, &Imports::new(), 1 << 40).unwrap();
    let plain_outcome = plain_instance.call("run", &[], 1 << 40).unwrap();
    assert_eq!(
        plain_outcome.gas_used, outcome.gas_used,
        "same gas as the plain build"
    );

    // Out of gas anywhere, inside a surcharged block's charge included: what was
    // charged, and never more surcharge than the whole run's.
    let need = outcome.gas_used;
    for limit in (need.saturating_sub(3 * at_70)..need).step_by(41) {
        let (outcome, report) = run(report_module.module(), limit);
        assert_eq!(outcome.gas_used, limit);
        let report = report.unwrap();
        assert_sums(&report);
        let surcharge = report
            .by_class
            .iter()
            .find(|c| c.0 == "memory_access_surcharge")
            .map_or(0, |c| c.1);
        assert!(surcharge <= 3 * at_40 + 2 * at_70);
    }
}
