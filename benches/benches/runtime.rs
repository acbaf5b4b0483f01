//! Gasket's compiler and compiled code against the wasmi interpreter, measured in one run
//! so the ratios are meaningful on a shared machine.
//!
//! - `compile/*`: end to end, bytes → ready `Module` (metering, code generation, mapping
//!   the code executable), in input bytes per second; wasmi's `Module::new` (validation and
//!   translation to its bytecode) on the same bytes for a ratio.
//! - `execute/*`: one call of `run(n)` of each workload fixture (`fib`, `mix64`, `sieve`,
//!   `matmul`), metered (Gasket's normal mode), and on wasmi without fuel.
//!
//! Run: `cargo bench -p gasket-benches --bench runtime`.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use gasket_vm::metering::Profile;
use gasket_vm::{Engine, Imports, Instance, Value};

fn compile(c: &mut Criterion) {
    let engine = Engine::new(Profile::permissive()).expect("engine");
    let wasm = gasket_fixtures::generate::large_module(2 * 1024 * 1024);
    engine
        .compile(&wasm)
        .expect("the generated module compiles");
    let mut group = c.benchmark_group("compile");
    group.throughput(Throughput::Bytes(wasm.len() as u64));
    group.sample_size(10);
    group.bench_function(BenchmarkId::new("gasket", wasm.len()), |b| {
        b.iter(|| engine.compile(std::hint::black_box(&wasm)).map(|_| ()))
    });
    let wasmi_engine = wasmi::Engine::default();
    group.bench_function(BenchmarkId::new("wasmi", wasm.len()), |b| {
        b.iter(|| wasmi::Module::new(&wasmi_engine, std::hint::black_box(&wasm[..])).map(|_| ()))
    });
    group.finish();
}

/// (fixture, argument) pairs sized to run for a few milliseconds.
const WORKLOADS: &[(&str, i32)] = &[
    ("fib", 25),
    ("mix64", 1_000_000),
    ("sieve", 1_000_000),
    ("matmul", 64),
];

fn execute(c: &mut Criterion) {
    let engine = Engine::new(Profile::permissive()).expect("engine");
    let wasmi_engine = wasmi::Engine::default();
    let mut group = c.benchmark_group("execute");
    group.sample_size(10);
    for &(name, n) in WORKLOADS {
        let wasm = gasket_fixtures::wasm(name);
        let module = engine.compile(&wasm).expect("compiles");
        let mut instance = Instance::new(&module, &Imports::new(), 0).expect("instantiates");
        let gasket_result = instance
            .call("run", &[Value::I32(n)], u64::MAX)
            .expect("call")
            .result
            .expect("returns");
        group.bench_function(BenchmarkId::new("gasket", name), |b| {
            b.iter(|| {
                instance
                    .call("run", &[Value::I32(n)], u64::MAX)
                    .map(|o| o.gas_used)
            })
        });

        let wasmi_module = wasmi::Module::new(&wasmi_engine, &wasm[..]).expect("wasmi loads it");
        let mut store = wasmi::Store::new(&wasmi_engine, ());
        let wasmi_instance = wasmi::Linker::new(&wasmi_engine)
            .instantiate_and_start(&mut store, &wasmi_module)
            .expect("wasmi instantiates");
        let run = wasmi_instance.get_func(&store, "run").expect("run export");
        let mut out = [wasmi::Val::I32(0)];
        if gasket_result
            .first()
            .is_some_and(|v| matches!(v, Value::I64(_)))
        {
            out = [wasmi::Val::I64(0)];
        }
        run.call(&mut store, &[wasmi::Val::I32(n)], &mut out)
            .expect("wasmi runs it");
        group.bench_function(BenchmarkId::new("wasmi", name), |b| {
            b.iter(|| run.call(&mut store, &[wasmi::Val::I32(n)], &mut out))
        });
    }
    group.finish();
}

criterion_group!(benches, compile, execute);
criterion_main!(benches);
