//! Loading a token-sized contract (`fixtures/contracts/token.wasm`): from the engine's
//! in-memory cache, from its disk cache (read + verify + map), and a cold compile.

use criterion::{criterion_group, criterion_main, Criterion};
use gasket_metering::Profile;
use gasket_vm::{Engine, Module};

fn cache(c: &mut Criterion) {
    let wasm = gasket_fixtures::c_contract("token").unwrap().wasm;
    let dir = std::env::temp_dir().join(format!("gasket-bench-cache-{}", std::process::id()));
    let engine = Engine::with_cache_dir(Profile::contract(), &dir).unwrap();
    engine.load(wasm).unwrap();
    let path = engine.cache_path(&engine.cache_key(wasm)).unwrap();
    let mut group = c.benchmark_group("cache/token");
    group.bench_function("memory_hit", |b| b.iter(|| engine.load(wasm).unwrap()));
    group.bench_function("disk_load", |b| {
        b.iter(|| Module::deserialize(&engine, &std::fs::read(&path).unwrap()).unwrap())
    });
    group.bench_function("cold_compile", |b| b.iter(|| engine.compile(wasm).unwrap()));
    group.finish();
    let _ = std::fs::remove_dir_all(&dir);
}

criterion_group!(benches, cache);
criterion_main!(benches);
