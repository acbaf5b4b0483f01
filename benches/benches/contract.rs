//! Contract calls the way a node makes them (`gasket_vm::testing`: a fresh instance per
//! call, the host ABI over in-memory storage, changes committed on return), and the bare
//! instantiate + empty call, against the peers.
//!
//! - `call/gasket/<method>`: `empty_method` (fixtures/wat/empty.wat `noop`),
//!   `token_transfer` (fixtures/contracts/token.c `transfer`: two storage reads and two
//!   writes, a log), `token_transfer_rust` (the same call with the same bytes on the Rust
//!   token, contracts/src/token.rs built with gasket-sdk; both calls' gas is printed at
//!   the start), `hash_1k_host` (sha256.c `hash_host`: 1 KiB hashed by the host's
//!   `sha256`), `hash_1k_wasm` (the same hash computed in wasm), `host_loop_1000` and
//!   `loop_only_1000` (1000 calls of `block_height`, and the same loop without them: the
//!   difference / 1000 is the host-call overhead).
//! - `instantiate_call/<engine>/noop`: instantiate a compiled module (no imports, a
//!   one-page memory) and call its empty export; `noop_data` adds two small data
//!   segments; peers as in the runtime bench plus Wasmtime with its pooling allocator
//!   (`wasmtime_cranelift_pooling`). Gasket's instances take their memory and
//!   stack from the engine's pool.
//! - `threads/gasket_pool_mix/<n>`: the `pool_mix` contract's mixed calls (returns,
//!   traps, panics, out of gas, growth to the cap) on `n` threads sharing one Module; time
//!   per call of the whole machine.
//!
//! Run: `cargo bench -p gasket-benches --bench contract [--features peers]`.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use gasket_benches::instantiation_peers;
use gasket_vm::testing::{Status, TestChain};
use gasket_vm::{Engine, Imports, Instance};

fn calls(c: &mut Criterion) {
    let mut chain = TestChain::new();
    chain
        .deploy("empty", &gasket_fixtures::wasm("empty"))
        .unwrap();
    for name in ["token", "sha256"] {
        chain
            .deploy(name, gasket_fixtures::c_contract(name).unwrap().wasm)
            .unwrap();
    }
    chain
        .deploy(
            "token_rs",
            gasket_fixtures::rust_contract("token").unwrap().wasm,
        )
        .unwrap();
    let ok = |chain: &mut TestChain, account: &str, method: &str, input: Vec<u8>| {
        let out = chain.call(account, method).input(input).run().unwrap();
        assert_eq!(out.status, Status::Ok, "{account}.{method}");
    };
    let mut mint = u64::MAX.to_le_bytes().to_vec();
    mint.extend_from_slice(b"alice");
    for token in ["token", "token_rs"] {
        ok(&mut chain, token, "init", vec![]);
        ok(&mut chain, token, "mint", mint.clone());
    }
    let mut transfer = 1u64.to_le_bytes().to_vec();
    transfer.extend_from_slice(b"bob");
    let kib: Vec<u8> = (0..1024u32).map(|i| i as u8).collect();

    let mut group = c.benchmark_group("call");
    for (label, token) in [
        ("token_transfer", "token"),
        ("token_transfer_rust", "token_rs"),
    ] {
        let out = chain
            .call(token, "transfer")
            .input(transfer.clone())
            .run()
            .unwrap();
        eprintln!("{label}: gas used {}", out.gas_used);
    }
    let cases: [(&str, &str, &str, Vec<u8>); 7] = [
        ("empty_method", "empty", "noop", vec![]),
        ("token_transfer", "token", "transfer", transfer.clone()),
        ("token_transfer_rust", "token_rs", "transfer", transfer),
        ("hash_1k_host", "sha256", "hash_host", kib.clone()),
        ("hash_1k_wasm", "sha256", "hash_wasm", kib),
        ("host_loop_1000", "empty", "host_loop", vec![]),
        ("loop_only_1000", "empty", "loop_only", vec![]),
    ];
    for (label, account, method, input) in cases {
        ok(&mut chain, account, method, input.clone());
        group.bench_function(BenchmarkId::new("gasket", label), |b| {
            b.iter(|| {
                chain
                    .call(account, method)
                    .input(input.clone())
                    .run()
                    .map(|o| o.gas_used)
            })
        });
    }
    group.finish();
}

fn instantiate_call(c: &mut Criterion) {
    let noop = wat::parse_str("(module (memory 1) (func (export \"noop\")))").unwrap();
    // A one-page memory with small data segments (the issue's case).
    let noop_data = wat::parse_str(
        r#"(module (memory 1)
             (data (i32.const 16) "owner: alice.near")
             (data (i32.const 1024) "\01\02\03\04\05\06\07\08 total supply")
             (func (export "noop")))"#,
    )
    .unwrap();
    let engine = Engine::new(gasket_benches::bench_profile()).unwrap();
    let mut group = c.benchmark_group("instantiate_call");
    for (label, wasm) in [("noop", &noop), ("noop_data", &noop_data)] {
        let module = engine.compile(wasm).unwrap();
        group.bench_function(BenchmarkId::new("gasket", label), |b| {
            b.iter(|| {
                Instance::new(&module, &Imports::new(), 1_000_000)
                    .unwrap()
                    .call("noop", &[], 1_000_000)
                    .map(|o| o.gas_used)
            })
        });
        for peer in instantiation_peers() {
            let loaded = match peer.load(wasm) {
                Ok(m) => m,
                Err(e) => {
                    eprintln!("instantiate_call/{}: skipped: {e}", peer.name());
                    continue;
                }
            };
            group.bench_function(BenchmarkId::new(peer.name(), label), |b| {
                b.iter(|| loaded.instantiate().unwrap().call("noop", None))
            });
        }
    }
    group.finish();
}

/// Calls per second on 1 and 2 threads sharing one Engine and Module
/// (`gasket_benches::scaling`): each sample runs `iters` calls on every thread and reports
/// the wall time divided by the thread count, so the row is the time per call of the
/// whole machine, and `threads/1 ÷ threads/2` is the speed-up of the second thread.
fn threads(c: &mut Criterion) {
    let engine = Engine::new(gasket_vm::metering::Profile::contract()).unwrap();
    let module = engine.load(&gasket_fixtures::wasm("pool_mix")).unwrap();
    let mut group = c.benchmark_group("threads");
    for n in [1usize, 2] {
        group.bench_function(BenchmarkId::new("gasket_pool_mix", n), |b| {
            b.iter_custom(|iters| {
                gasket_benches::scaling::run_threads(&module, n, iters).wall / n as u32
            })
        });
    }
    group.finish();
}

criterion_group!(benches, calls, instantiate_call, threads);
criterion_main!(benches);
