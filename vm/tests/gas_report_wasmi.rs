//! The report build run by wasmi (the reference interpreter, with the `gasket`
//! intrinsics as host functions) gives the same gas, the same charge-site counts and so
//! the same report as compiled code: for the benchmark workloads, returning and out of
//! gas at half their need, and for a trap three frames deep (same stack depth).

use gasket_fixtures::reference::{
    call_export, on_big_stack, Meter, PreparedRunner, MEMORY_LIMIT_BYTES,
};
use gasket_vm::metering::{prepare_for_report, DynamicCost, GasSites, Profile, WasmGas};
use gasket_vm::{Engine, Imports, Instance, Value};
use wasm_encoder::reencode::{Reencode, RoundtripReencoder};
use wasmparser::{Parser, Payload};

/// `wasm` with the report globals and the shadow stack table exported (`site<n>`,
/// `last_site`, `depth`), so wasmi can read them.
fn export_counters(wasm: &[u8], sites: &GasSites) -> Vec<u8> {
    let mut module = wasm_encoder::Module::new();
    let mut exported = false;
    for payload in Parser::new(0).parse_all(wasm) {
        let payload = payload.expect("valid report build");
        if let Payload::ExportSection(reader) = payload {
            let mut section = wasm_encoder::ExportSection::new();
            RoundtripReencoder
                .parse_export_section(&mut section, reader)
                .expect("re-encodes");
            for n in 0..sites.sites.len() as u32 {
                let global = sites.first_counter + n;
                section.export(
                    &format!("site{n}"),
                    wasm_encoder::ExportKind::Global,
                    global,
                );
            }
            section.export(
                "last_site",
                wasm_encoder::ExportKind::Global,
                sites.last_site,
            );
            section.export("depth", wasm_encoder::ExportKind::Global, sites.stack_depth);
            module.section(&section);
            exported = true;
        } else if let Some((id, range)) = payload.as_section() {
            module.section(&wasm_encoder::RawSection {
                id,
                data: &wasm[range.start as usize..range.end as usize],
            });
        }
    }
    assert!(exported, "the workloads export functions");
    module.finish()
}

/// What wasmi's run of the report build shows: gas used, the attributed split, depth.
fn wasmi_report(
    wasm: &[u8],
    profile: &Profile,
    export: &str,
    arg: i32,
    gas: u64,
) -> (u64, WasmGas, i32) {
    let (prepared, sites) = prepare_for_report(wasm, profile).expect("prepares");
    let with_exports = export_counters(&prepared.wasm, &sites);
    // The canonicalizing rewrite charges the written-range charge compiled code makes
    // outside the wasm (cost table version 5).
    let runner = PreparedRunner::canonical(&with_exports, profile.stack.max_height)
        .expect("wasmi")
        .with_write_price(profile.costs.memory_write_per_granule);
    // The reference's limits, but room for the shadow stack table.
    let limits = wasmi::StoreLimitsBuilder::new()
        .memory_size(MEMORY_LIMIT_BYTES)
        .table_elements(sites.stack_capacity as usize)
        .build();
    let mut meter = Meter::new(gas, runner.max_height, limits);
    meter.writes = runner.writes.clone();
    let mut store = wasmi::Store::new(runner.module.engine(), meter);
    store.limiter(|m| &mut m.store_limits);
    let instance = runner
        .linker
        .instantiate_and_start(&mut store, &runner.module)
        .expect("instantiates");
    let global = |store: &wasmi::Store<Meter>, name: &str| {
        instance
            .get_global(store, name)
            .unwrap_or_else(|| panic!("{name}"))
            .get(store)
    };
    let site_counts = |store: &wasmi::Store<Meter>| -> Vec<u64> {
        (0..sites.sites.len())
            .map(|n| match global(store, &format!("site{n}")) {
                wasmi::Val::I64(v) => v as u64,
                other => panic!("{other:?}"),
            })
            .collect()
    };
    // The call alone, as compiled code's (`begin(.., false)`; the start function, which
    // pays the data segments' written-range charge, runs with its own limit there).
    let (start_used, start_written) = (store.data().used, store.data().writes.charged);
    let start_counts = site_counts(&store);
    store.data_mut().limit = start_used + gas;
    let _ = call_export(&mut store, &instance, export, &[wasmi::Val::I32(arg)]);
    let counts: Vec<u64> = site_counts(&store)
        .iter()
        .zip(&start_counts)
        .map(|(after, before)| after - before)
        .collect();
    let global = |name: &str| global(&store, name);
    let int = |name: &str| match global(name) {
        wasmi::Val::I32(v) => v,
        other => panic!("{other:?}"),
    };
    let last = u32::try_from(int("last_site")).ok();
    let used = store.data().used - start_used;
    // As `ReportModule::finish`: out of gas inside a write charge leaves the sites short
    // of the rest by what that charge took.
    let mut written = store.data().writes.charged - start_written;
    let mut split = match sites.attribute(&counts, last, used - written) {
        Err(short) if short.counted < short.used => {
            written += short.used - short.counted;
            sites.attribute(&counts, last, short.counted)
        }
        other => other,
    }
    .expect("adds up");
    if written > 0 {
        *split
            .by_class
            .entry(DynamicCost::MemoryWrite.name())
            .or_default() += written;
    }
    (used, split, int("depth"))
}

/// Gas used, gas by function index, gas by class, stack depth.
type Compiled = (u64, Vec<(u32, u64)>, Vec<(String, u64)>, usize);

/// The same through compiled code.
fn gasket_report(wasm: &[u8], profile: &Profile, export: &str, arg: i32, gas: u64) -> Compiled {
    let engine = Engine::new(profile.clone()).expect("engine");
    let build = engine.compile_for_report(wasm).expect("compiles");
    let mut instance = Instance::new(build.module(), &Imports::new(), gas).expect("instance");
    let recording = build.begin(&mut instance, false);
    let outcome = instance
        .call(export, &[Value::I32(arg)], gas)
        .expect("call");
    let report = build
        .finish(&instance, recording, outcome.gas_used)
        .expect("adds up");
    let by_function = report
        .by_function
        .iter()
        .map(|f| (f.index, f.gas))
        .collect();
    (
        outcome.gas_used,
        by_function,
        report.by_class.clone(),
        build.stack(&instance).len(),
    )
}

/// Asserts both agree; returns the stack depth after the call.
fn assert_same(name: &str, wasm: &[u8], export: &str, arg: i32, gas: u64) -> usize {
    let profile = Profile::permissive();
    let (w_used, w_split, w_depth) = wasmi_report(wasm, &profile, export, arg, gas);
    let (g_used, g_functions, g_classes, g_depth) = gasket_report(wasm, &profile, export, arg, gas);
    assert_eq!(w_used, g_used, "{name}: gas");
    let w_functions: Vec<(u32, u64)> = w_split.by_function.into_iter().collect();
    assert_eq!(w_functions, g_functions, "{name}: by function");
    let w_classes: Vec<(String, u64)> = w_split
        .by_class
        .into_iter()
        .map(|(c, g)| (c.to_string(), g))
        .collect();
    assert_eq!(w_classes, g_classes, "{name}: by class");
    assert_eq!(w_depth as usize, g_depth, "{name}: stack depth");
    g_depth
}

#[test]
fn workloads_report_the_same_as_wasmi() {
    on_big_stack(|| {
        for (name, n) in [
            ("fib", 12),
            ("mix64", 300),
            ("sieve", 500),
            ("matmul", 5),
            ("sha256buf", 100),
            ("quicksort", 100),
            ("keccak", 1),
            ("brtable", 500),
        ] {
            let wasm = gasket_fixtures::wasm(name);
            assert_eq!(assert_same(name, &wasm, "run", n, u64::MAX / 2), 0);
            let need = gasket_report(&wasm, &Profile::permissive(), "run", n, u64::MAX / 2).0;
            assert_same(name, &wasm, "run", n, need / 2);
        }
    })
}

#[test]
fn a_trap_leaves_the_same_stack_depth() {
    let wasm = wat::parse_str(
        r#"(module
          (func $deep (param i32) unreachable)
          (func $middle (param i32) (call $deep (local.get 0)))
          (func (export "run") (param i32) (call $middle (local.get 0))))"#,
    )
    .unwrap();
    let depth = on_big_stack(|| assert_same("trap", &wasm, "run", 0, 1_000_000));
    assert_eq!(depth, 3);
}
