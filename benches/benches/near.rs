//! A NEAR fungible-token transfer end to end, the way a node runs a receipt: load the
//! contract from the engine's in-memory cache, instantiate it, call `ft_transfer` (with
//! its 1 yoctoNEAR deposit) through the NEAR-compatible host functions over the token's
//! storage, finish the call (gas sharing, storage staking check, commit).
//!
//! - `near_ft_transfer/gasket`: `Engine::load` (cache hit) + `gasket_vm::near::call_near`;
//! - `near_ft_transfer/gasket/ft_transfer_by_hash`: the same with `Engine::load_by_hash`,
//!   as a node that stores code by its hash loads it (the row above hashes the 200 KB
//!   contract on every hit, which is most of its time);
//! - `near_ft_transfer/gasket_threads/{1,2}`: the by-hash path on 1 and 2 threads at once;
//! - `near_ft_transfer/wasmi`: the same call on the wasmi reference
//!   (`gasket_fuzz::near_reference::WasmiNear`, its own module cache, the same host code).
//!
//! Both start every iteration from the same token state (alice owns the supply, bob is
//! registered). Needs the shared corpus (`../shared/corpus/contracts/near/
//! sdkrs_fungible_token.wasm`); without it the group is skipped with a note.
//!
//! Run: `cargo bench -p gasket-benches --bench near`.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use gasket_fuzz::near_reference::WasmiNear;
use gasket_vm::host_api::near::NearContext;
use gasket_vm::host_api::{HostLimits, MemoryStorage};
use gasket_vm::metering::Profile;
use gasket_vm::near::{call_near, NearChain, NearExecutor, DEFAULT_NEAR_GAS, NEAR};
use gasket_vm::testing::Status;
use gasket_vm::Engine;
use sha2::Digest;

fn ft_transfer(c: &mut Criterion) {
    let Some(dir) = gasket_fixtures::corpus_dir() else {
        eprintln!("shared corpus absent: near_ft_transfer skipped");
        return;
    };
    let wasm = std::fs::read(dir.join("near/sdkrs_fungible_token.wasm")).expect("ft contract");
    // Set the token up on a NearChain (new, bob registered), then take its account.
    let mut chain = NearChain::new();
    chain.deploy("ft", &wasm).unwrap();
    chain.create_account("alice", 10 * NEAR);
    chain.create_account("bob", 10 * NEAR);
    chain
        .call("ft", "new_default_meta")
        .args_json(r#"{"owner_id":"alice","total_supply":"1000000000"}"#)
        .run()
        .unwrap()
        .unwrap();
    chain
        .call("ft", "storage_deposit")
        .signer("bob")
        .deposit(NEAR / 100)
        .args_json("{}")
        .run()
        .unwrap()
        .unwrap();
    let account = chain.account("ft").unwrap().clone();
    let context = NearContext {
        current_account_id: "ft".into(),
        signer_account_id: "alice".into(),
        signer_account_pk: gasket_vm::near::default_public_key(),
        predecessor_account_id: "alice".into(),
        input: br#"{"receiver_id":"bob","amount":"1"}"#.to_vec(),
        block_height: 10,
        block_timestamp: 10_000_000_000,
        epoch_height: 1,
        account_balance: account.balance + 1,
        account_locked_balance: 0,
        attached_deposit: 1,
        prepaid_gas: DEFAULT_NEAR_GAS,
        random_seed: vec![7; 32],
        storage_usage: account.storage_usage,
        promise_results: Vec::new(),
        validators: Default::default(),
    };
    let engine = Engine::new(Profile::near()).unwrap();
    let module = engine.load(&wasm).unwrap();
    let wasmi = WasmiNear::new();
    // One `ft_transfer` over `storage`, on Gasket (`module`) or on the wasmi reference.
    let on_gasket = |module: &gasket_vm::Module, storage: &mut MemoryStorage| {
        call_near(
            module,
            "ft_transfer",
            context.clone(),
            HostLimits::default(),
            storage,
        )
        .unwrap()
    };
    let on_wasmi = |storage: &mut MemoryStorage| {
        wasmi
            .call(
                &module,
                &wasm,
                "ft_transfer",
                context.clone(),
                HostLimits::default(),
                storage,
            )
            .unwrap()
    };
    assert_eq!(
        on_gasket(&module, &mut account.storage.clone()).status,
        Status::Ok
    );
    assert_eq!(on_wasmi(&mut account.storage.clone()).status, Status::Ok);

    let mut group = c.benchmark_group("near_ft_transfer");
    let code_hash: [u8; 32] = sha2::Sha256::digest(&wasm).into();
    let by_bytes = || engine.load(&wasm).unwrap();
    let by_hash = || {
        engine
            .load_by_hash(&code_hash, || wasm.as_slice().into())
            .unwrap()
    };
    let rows: [(&str, &dyn Fn() -> gasket_vm::Module); 2] = [
        ("ft_transfer", &by_bytes),
        ("ft_transfer_by_hash", &by_hash),
    ];
    for (name, load) in rows {
        group.bench_function(BenchmarkId::new("gasket", name), |b| {
            b.iter_batched(
                || account.storage.clone(),
                |mut storage| on_gasket(&load(), &mut storage).gas_used,
                criterion::BatchSize::SmallInput,
            )
        });
    }
    // The node's path on 1 and 2 threads sharing the engine: each sample runs `iters`
    // transfers (each on a fresh copy of the token's storage, copied inside the timed
    // loop) on every thread; the wall time divided by the thread count, so `1 ÷ 2` is the
    // second thread's speed-up.
    for threads in [1u32, 2] {
        group.bench_function(BenchmarkId::new("gasket_threads", threads), |b| {
            b.iter_custom(|iters| {
                let start = std::time::Instant::now();
                std::thread::scope(|s| {
                    for _ in 0..threads {
                        s.spawn(|| {
                            for _ in 0..iters {
                                let mut storage = account.storage.clone();
                                on_gasket(&by_hash(), &mut storage);
                            }
                        });
                    }
                });
                start.elapsed() / threads
            })
        });
    }
    group.bench_function(BenchmarkId::new("wasmi", "ft_transfer"), |b| {
        b.iter_batched(
            || account.storage.clone(),
            |mut storage| on_wasmi(&mut storage).gas_used,
            criterion::BatchSize::SmallInput,
        )
    });
    group.finish();
}

criterion_group!(benches, ft_transfer);
criterion_main!(benches);
