//! Embedding Gasket the way a node does: one engine with a disk cache, contract storage
//! backed by the node's own database (here a `Mutex<BTreeMap>` per account standing in
//! for it), and many calls on several threads. Each call runs in a fresh instance and
//! commits only when it returns.
//!
//! `cargo run -p gasket-vm --example node`
//!
//! The disk cache is a directory of this run's own, removed at the end, so that what the
//! counters show is a first run (one compile, no disk hit), never the leftovers of an
//! earlier run or of another user's. A node keeps its cache directory across restarts.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use gasket_vm::cache::CacheStats;
use gasket_vm::host_api::{CallContext, HostLimits, Storage, StorageError};
use gasket_vm::metering::Profile;
use gasket_vm::testing::{call_contract, Status};
use gasket_vm::Engine;

/// One account's keys and values.
type KeySpace = BTreeMap<Vec<u8>, Vec<u8>>;

/// The node's database: one key space per account.
#[derive(Default)]
struct Database {
    accounts: Mutex<BTreeMap<String, KeySpace>>,
}

/// A view of one account's key space inside a database transaction.
struct AccountStorage<'a> {
    map: &'a mut KeySpace,
}

impl Storage for AccountStorage<'_> {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StorageError> {
        Ok(self.map.get(key).cloned())
    }
    fn set(&mut self, key: &[u8], value: &[u8]) -> Result<(), StorageError> {
        self.map.insert(key.to_vec(), value.to_vec());
        Ok(())
    }
    fn remove(&mut self, key: &[u8]) -> Result<(), StorageError> {
        self.map.remove(key);
        Ok(())
    }
}

fn main() {
    let (accounts, total, stats) = run();
    println!("{accounts} accounts, {total} increments in total");
    println!("cache: {stats:?}");
}

/// A fresh cache directory for one run: unique to this process and run.
fn private_cache_dir() -> std::path::PathBuf {
    static RUNS: AtomicU64 = AtomicU64::new(0);
    let run = RUNS.fetch_add(1, Ordering::Relaxed);
    std::env::temp_dir().join(format!(
        "gasket-example-node-cache-{}-{run}",
        std::process::id()
    ))
}

/// Runs 200 calls on four threads; returns the number of accounts, the increments they
/// counted and the engine's cache counters.
pub fn run() -> (usize, u64, CacheStats) {
    let cache_dir = private_cache_dir();
    let engine = Engine::with_cache_dir(Profile::contract(), &cache_dir).expect("engine");
    let db = Arc::new(Database::default());
    let wasm: &[u8] = gasket_fixtures::c_contract("counter").unwrap().wasm;

    // Eight accounts run the counter contract; four threads call them in turn.
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let (engine, db) = (engine.clone(), db.clone());
            std::thread::spawn(move || {
                for i in 0..50u64 {
                    let account = format!("counter-{}", (t + i) % 8);
                    // Loading is a cache lookup after the first time (memory, then disk).
                    let module = engine.load(wasm).expect("loads");
                    let mut accounts = db.accounts.lock().unwrap();
                    let mut storage = AccountStorage {
                        map: accounts.entry(account.clone()).or_default(),
                    };
                    let context = CallContext {
                        current_account: account.into_bytes(),
                        caller: format!("user-{t}").into_bytes(),
                        block_height: 100 + i,
                        block_timestamp: 1_700_000_000_000_000_000 + i * 1_000_000_000,
                        input: Vec::new(),
                    };
                    let outcome = call_contract(
                        &module,
                        "increment",
                        context,
                        HostLimits::default(),
                        &mut storage,
                        1_000_000,
                    )
                    .expect("call starts");
                    assert_eq!(outcome.status, Status::Ok);
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let accounts = db.accounts.lock().unwrap();
    let total: u64 = accounts
        .values()
        .map(|m| u64::from_le_bytes(m[b"count".as_slice()].as_slice().try_into().unwrap()))
        .sum();
    assert_eq!(total, 200);
    let stats = engine.cache_stats();
    // A first run: the contract is compiled once (and written to disk), then found in memory.
    assert_eq!((stats.compiles, stats.disk_hits), (1, 0), "{stats:?}");
    std::fs::remove_dir_all(&cache_dir).ok();
    (accounts.len(), total, stats)
}
