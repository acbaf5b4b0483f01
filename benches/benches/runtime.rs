//! Gasket's compiler and compiled code against the peers, measured in one run so the
//! ratios are meaningful on a shared machine. wasmi (fuel off and on) always; Wasmtime
//! (Cranelift, Winch; fuel off and on) and Wasmer singlepass (metering middleware off
//! and on) with `--features peers`.
//!
//! - `compile/<engine>/generated_<bytes>`: end to end, bytes → ready module, on the
//!   generated 2 MB module, in input bytes per second. For Gasket also its two halves:
//!   `gasket_metering_pass` (validate + analyse + instrument) and `gasket_codegen`
//!   (`gasket_singlepass::compile` of the instrumented module; mapping not included).
//! - `compile_contracts/<engine>`: the fixture C contracts and every contract of the
//!   shared corpus the permissive profile accepts (corpus skipped when absent).
//! - `execute/<engine>/<workload>`: one call of `run(n)` on an existing instance.
//!   `gasket` is metered (the normal mode), `gasket_unmetered` the same compiler on the
//!   raw module (no gas intrinsics; see `gasket_benches::compile_unmetered`); for the
//!   float kernels (`FLOAT_WORKLOADS`) also `gasket_nocanon`, metered without NaN
//!   canonicalization (`gasket_benches::compile_nocanon`): what canonicalization costs.
//!
//! Run: `cargo bench -p gasket-benches --bench runtime [--features peers]`.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use gasket_benches::{
    all_peers, bench_profile, compile_nocanon, compile_unmetered, first_int, FLOAT_WORKLOADS,
    WORKLOADS,
};
use gasket_vm::metering::prepare;
use gasket_vm::{Engine, Imports, Instance, Value};

fn compile(c: &mut Criterion) {
    let engine = Engine::new(bench_profile()).expect("engine");
    let wasm = gasket_fixtures::generate::large_module(2 * 1024 * 1024);
    engine
        .compile(&wasm)
        .expect("the generated module compiles");
    let id = format!("generated_{}", wasm.len());
    let mut group = c.benchmark_group("compile");
    group.throughput(Throughput::Bytes(wasm.len() as u64));
    group.sample_size(10);
    group.bench_function(BenchmarkId::new("gasket", &id), |b| {
        b.iter(|| engine.compile(std::hint::black_box(&wasm)).map(|_| ()))
    });
    group.bench_function(BenchmarkId::new("gasket_metering_pass", &id), |b| {
        b.iter(|| prepare(std::hint::black_box(&wasm), engine.profile()).map(|p| p.wasm.len()))
    });
    let prepared = prepare(&wasm, engine.profile()).unwrap().wasm;
    group.bench_function(BenchmarkId::new("gasket_codegen", &id), |b| {
        b.iter(|| {
            gasket_vm::singlepass::compile(std::hint::black_box(&prepared), engine.target())
                .map(|a| a.code.len())
        })
    });
    for peer in all_peers() {
        if let Err(e) = peer.compile_only(&wasm) {
            eprintln!("compile/{}: skipped: {e}", peer.name());
            continue;
        }
        group.bench_function(BenchmarkId::new(peer.name(), &id), |b| {
            b.iter(|| peer.compile_only(std::hint::black_box(&wasm)))
        });
    }
    group.finish();
}

fn compile_contracts(c: &mut Criterion) {
    let engine = Engine::new(bench_profile()).expect("engine");
    let mut contracts: Vec<Vec<u8>> = gasket_fixtures::C_CONTRACTS
        .iter()
        .map(|c| c.wasm.to_vec())
        .collect();
    let corpus: Vec<Vec<u8>> = gasket_fixtures::corpus_contracts()
        .into_iter()
        .map(|(_, w)| w)
        .filter(|w| prepare(w, engine.profile()).is_ok())
        .collect();
    if corpus.is_empty() {
        eprintln!("compile_contracts: corpus skipped, ../shared/corpus/contracts is absent");
    }
    contracts.extend(corpus);
    let total: usize = contracts.iter().map(Vec::len).sum();
    let id = format!("{}_contracts", contracts.len());
    let mut group = c.benchmark_group("compile_contracts");
    group.throughput(Throughput::Bytes(total as u64));
    group.sample_size(10);
    group.bench_function(BenchmarkId::new("gasket", &id), |b| {
        b.iter(|| {
            contracts
                .iter()
                .filter(|w| engine.compile(w).is_ok())
                .count()
        })
    });
    for peer in all_peers() {
        let ok: Vec<&Vec<u8>> = contracts
            .iter()
            .filter(|w| peer.compile_only(w).is_ok())
            .collect();
        if ok.len() != contracts.len() {
            eprintln!(
                "compile_contracts/{}: skipped, {} of {} contracts do not load",
                peer.name(),
                contracts.len() - ok.len(),
                contracts.len()
            );
            continue;
        }
        group.bench_function(BenchmarkId::new(peer.name(), &id), |b| {
            b.iter(|| ok.iter().filter(|w| peer.compile_only(w).is_ok()).count())
        });
    }
    group.finish();
}

fn execute(c: &mut Criterion) {
    let engine = Engine::new(bench_profile()).expect("engine");
    let peers = all_peers();
    let mut group = c.benchmark_group("execute");
    group.sample_size(10);
    for &(name, n) in WORKLOADS {
        let wasm = gasket_fixtures::wasm(name);
        let mut gaskets = vec![
            ("gasket", engine.compile(&wasm).expect("compiles")),
            (
                "gasket_unmetered",
                compile_unmetered(&engine, &wasm).expect("compiles unmetered"),
            ),
        ];
        if FLOAT_WORKLOADS.contains(&name) {
            let nocanon =
                compile_nocanon(&engine, &wasm).expect("compiles without canonicalization");
            gaskets.insert(1, ("gasket_nocanon", nocanon));
        }
        let mut expected = None;
        for (label, module) in gaskets {
            let mut instance =
                Instance::new(&module, &Imports::new(), u64::MAX).expect("instantiates");
            let result = instance
                .call("run", &[Value::I32(n)], u64::MAX)
                .expect("call")
                .result
                .expect("returns");
            let result = first_int(&result);
            assert_eq!(*expected.get_or_insert(result), result, "{label} {name}");
            group.bench_function(BenchmarkId::new(label, name), |b| {
                b.iter(|| {
                    instance
                        .call("run", &[Value::I32(n)], u64::MAX)
                        .map(|o| o.gas_used)
                })
            });
        }
        for peer in &peers {
            let mut runner = match peer.load(&wasm).and_then(|m| m.instantiate()) {
                Ok(r) => r,
                Err(e) => {
                    eprintln!("execute/{}/{name}: skipped: {e}", peer.name());
                    continue;
                }
            };
            let result = runner.call("run", Some(n)).expect("peer runs it");
            assert_eq!(Some(result), expected, "{} {name}", peer.name());
            group.bench_function(BenchmarkId::new(peer.name(), name), |b| {
                b.iter(|| runner.call("run", Some(n)))
            });
        }
    }
    group.finish();
}

criterion_group!(benches, compile, compile_contracts, execute);
criterion_main!(benches);
