//! Throughput of `gasket_metering::prepare` (validate + analyse + instrument), in bytes of
//! input per second: on a generated 2 MB module of thousands of varied functions, and on
//! every contract of the shared corpus the permissive profile accepts.
//!
//! Run: `cargo bench -p gasket-benches --bench prepare`. Criterion prints MiB/s per input.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use gasket_metering::{prepare, Profile};

fn prepare_generated(c: &mut Criterion) {
    let profile = Profile::permissive();
    let wasm = gasket_fixtures::generate::large_module(2 * 1024 * 1024);
    prepare(&wasm, &profile).expect("the generated module is within the profile");
    let mut group = c.benchmark_group("prepare");
    group.throughput(Throughput::Bytes(wasm.len() as u64));
    group.sample_size(20);
    group.bench_function(BenchmarkId::new("generated", wasm.len()), |b| {
        b.iter(|| prepare(std::hint::black_box(&wasm), &profile).map(|p| p.wasm.len()))
    });
    // Baseline: wasmparser's validation alone, the floor under prepare's cost.
    group.bench_function(
        BenchmarkId::new("generated_validate_only", wasm.len()),
        |b| {
            b.iter(|| {
                wasmparser::Validator::new()
                    .validate_all(std::hint::black_box(&wasm))
                    .is_ok()
            })
        },
    );
    group.finish();
}

fn prepare_corpus(c: &mut Criterion) {
    let profile = Profile::permissive();
    let contracts: Vec<_> = gasket_fixtures::corpus_contracts()
        .into_iter()
        .filter(|(_, wasm)| prepare(wasm, &profile).is_ok())
        .collect();
    if contracts.is_empty() {
        eprintln!("prepare/corpus: skipped, ../shared/corpus/contracts is absent");
        return;
    }
    let total: usize = contracts.iter().map(|(_, w)| w.len()).sum();
    let mut group = c.benchmark_group("prepare");
    group.throughput(Throughput::Bytes(total as u64));
    group.sample_size(20);
    group.bench_function(
        BenchmarkId::new("corpus_accepted", format!("{}_contracts", contracts.len())),
        |b| {
            b.iter(|| {
                contracts
                    .iter()
                    .map(|(_, wasm)| prepare(wasm, &profile).map_or(0, |p| p.wasm.len()))
                    .sum::<usize>()
            })
        },
    );
    group.finish();
}

criterion_group!(benches, prepare_generated, prepare_corpus);
criterion_main!(benches);
