//! A short run of the runtime for Valgrind (`scripts/valgrind.sh`) and quick manual
//! checks: compiles the `pool_mix` fixture, then makes `n` contract calls (default 200)
//! through the engine's instance pool with every outcome (return, trap, panic, out of
//! gas, growth to the memory cap), then a fresh-instance `scan` that must find nothing
//! left over, and a serialize/deserialize round trip through the disk cache's reader.
//!
//! `cargo run -p gasket-vm --example pool_calls -- [n]`

use gasket_vm::host_api::{CallContext, HostLimits, MemoryStorage};
use gasket_vm::metering::Profile;
use gasket_vm::testing::{call_contract, Status};
use gasket_vm::{Engine, Module};

fn call(module: &Module, method: &str, input: Vec<u8>, gas: u64) -> Status {
    let context = CallContext {
        input,
        ..CallContext::default()
    };
    let mut storage = MemoryStorage::default();
    let out = call_contract(
        module,
        method,
        context,
        HostLimits::default(),
        &mut storage,
        gas,
    )
    .expect("the call starts");
    if method == "scan" {
        assert_eq!(out.return_data, 0u32.to_le_bytes(), "nothing leaked");
    }
    out.status
}

fn main() {
    let n: u64 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(200);
    let engine = Engine::new(Profile::contract()).expect("engine");
    let wasm = gasket_fixtures::wasm("pool_mix");
    let module = engine.load(&wasm).expect("pool_mix compiles");
    let mut counts = [0u64; 3];
    for i in 0..n {
        let mut input = vec![(i % 5) as u8];
        input.extend_from_slice(&(i * 0x9e37_79b9).to_le_bytes());
        let slot = match call(&module, "run", input, 30_000) {
            Status::Ok => 0,
            Status::Trap { .. } => 1,
            Status::Panic { .. } => 2,
        };
        counts[slot] += 1;
    }
    assert_eq!(call(&module, "scan", Vec::new(), 50_000_000), Status::Ok);
    let dir = std::env::temp_dir().join(format!("gasket-pool-calls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("pool_mix.gasket");
    std::fs::write(&path, module.serialize()).expect("write");
    let back = Module::deserialize_file(&engine, &path).expect("reads back");
    assert_eq!(call(&back, "scan", Vec::new(), 50_000_000), Status::Ok);
    let _ = std::fs::remove_dir_all(&dir);
    println!(
        "pool_calls: {n} calls: {} returned, {} trapped, {} panicked; {:?}",
        counts[0],
        counts[1],
        counts[2],
        engine.pool_stats()
    );
}
