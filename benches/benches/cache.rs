//! Loading a compiled contract: from the engine's in-memory cache, from its disk cache
//! (read + verify + map), and a cold compile; for the token contract
//! (`fixtures/contracts/token.wasm`) and a generated 300 KB module. `memory_hit` hashes
//! the wasm (callers with bytes only); `memory_hit_by_hash` is a node that gives the code
//! hash it stores code under (`Engine::load_by_hash`).

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use gasket_metering::Profile;
use gasket_vm::{Engine, Module};
use sha2::Digest;

fn cache(c: &mut Criterion) {
    let inputs = [
        (
            "token".to_string(),
            gasket_fixtures::c_contract("token").unwrap().wasm.to_vec(),
        ),
        {
            let wasm = gasket_fixtures::generate::large_module(300 * 1024);
            (format!("generated_{}", wasm.len()), wasm)
        },
    ];
    let dir = std::env::temp_dir().join(format!("gasket-bench-cache-{}", std::process::id()));
    let engine = Engine::with_cache_dir(Profile::permissive(), &dir).unwrap();
    let mut group = c.benchmark_group("cache");
    for (name, wasm) in &inputs {
        engine.load(wasm).unwrap();
        let path = engine.cache_path(&engine.cache_key(wasm)).unwrap();
        group.bench_function(BenchmarkId::new("memory_hit", name), |b| {
            b.iter(|| engine.load(wasm).unwrap())
        });
        // A node that stores code by hash: no hashing of the wasm on a hit.
        let code_hash: [u8; 32] = sha2::Sha256::digest(wasm).into();
        engine.load_by_hash(&code_hash, || wasm.into()).unwrap();
        group.bench_function(BenchmarkId::new("memory_hit_by_hash", name), |b| {
            b.iter(|| engine.load_by_hash(&code_hash, || wasm.into()).unwrap())
        });
        group.bench_function(BenchmarkId::new("disk_load", name), |b| {
            b.iter(|| Module::deserialize_file(&engine, &path).unwrap())
        });
        group.sample_size(10);
        group.bench_function(BenchmarkId::new("cold_compile", name), |b| {
            b.iter(|| engine.compile(wasm).unwrap())
        });
        group.sample_size(100);
    }
    group.finish();
    let _ = std::fs::remove_dir_all(&dir);
}

criterion_group!(benches, cache);
criterion_main!(benches);
