//! The engine's instance pool: memories, stacks, tables and globals never carry one call's
//! bytes into the next (after returns, traps, panics, out of gas and growth to the cap),
//! the pool's limit and the OS refusing memory are typed errors, and a soak run through
//! the pool on two threads keeps resident memory flat.
//!
//! The long soak (1,000,000 calls) is ignored by default:
//! `cargo test --release -p gasket-vm --test pool -- --ignored soak_long`
//! (`GASKET_SOAK_CALLS` overrides the count).

mod write_paths;

/// Start gas for instances of modules with data segments: their written-range charge is
/// paid by the start function the metering pass appends (cost table version 5).
const START_GAS: u64 = 10_000_000;

use gasket_vm::host_api::{CallContext, HostLimits, MemoryStorage};
use gasket_vm::metering::Profile;
use gasket_vm::testing::{call_contract, Outcome, Status};
use gasket_vm::{
    Engine, EngineOptions, Imports, Instance, InstantiationError, Module, PoolConfig, Value,
};

const GAS: u64 = 1_500_000;
/// Enough for `scan` to read all 8 pages of a (wrongly) grown memory.
const SCAN_GAS: u64 = 2_500_000_000;

fn pool_mix(engine: &Engine) -> Module {
    engine.compile(&gasket_fixtures::wasm("pool_mix")).unwrap()
}

fn call(module: &Module, method: &str, input: Vec<u8>, gas: u64) -> Outcome {
    let context = CallContext {
        current_account: b"pool".to_vec(),
        caller: b"alice".to_vec(),
        input,
        ..CallContext::default()
    };
    let mut storage = MemoryStorage::default();
    call_contract(
        module,
        method,
        context,
        HostLimits::default(),
        &mut storage,
        gas,
    )
    .unwrap()
}

/// `run` with `mode` (0 return, 1 trap, 2 panic, 3 out of gas, 4 grow to the cap).
fn run(module: &Module, mode: u8, secret: u64) -> Status {
    let mut input = vec![mode];
    input.extend_from_slice(&secret.to_le_bytes());
    let status = call(module, "run", input, GAS).status;
    let ok = match mode {
        0 | 4 => status == Status::Ok,
        2 => matches!(status, Status::Panic { .. }),
        1 => matches!(&status, Status::Trap { kind, .. } if kind.as_str() == "unreachable"),
        _ => matches!(&status, Status::Trap { kind, .. } if kind.as_str() == "out_of_gas"),
    };
    assert!(ok, "mode {mode}: {status:?}");
    status
}

/// What `scan` finds different from a fresh instance (0 when nothing leaked).
fn scan(module: &Module) -> u32 {
    let out = call(module, "scan", Vec::new(), SCAN_GAS);
    assert_eq!(out.status, Status::Ok);
    u32::from_le_bytes(out.return_data.try_into().unwrap())
}

#[test]
fn pooled_instances_never_see_an_earlier_calls_secrets() {
    let engine = Engine::new(Profile::contract()).unwrap();
    let module = pool_mix(&engine);
    assert_eq!(scan(&module), 0, "a fresh instance is clean");
    for round in 0..3u64 {
        for mode in 0..5u8 {
            let secret = 0x5ec2_e700_0000_0000 | (round << 8) | u64::from(mode);
            run(&module, mode, secret);
            assert_eq!(scan(&module), 0, "after mode {mode} (round {round})");
        }
    }
    let stats = engine.pool_stats();
    assert_eq!(stats.live_instances, 0);
    assert!(
        stats.idle_memories >= 1 && stats.idle_stacks >= 1,
        "{stats:?}"
    );
}

#[test]
fn instances_reuse_the_same_memory_and_see_only_their_own_data() {
    // Permissive profile, plain `Instance` API: a secret in memory (low and high pages),
    // a global and a table slot, then a trap; the next instance reuses the reservation.
    let wat = r#"(module
      (memory (export "memory") 1 4)
      (global $g (export "g") (mut i64) (i64.const 0))
      (table (export "t") 2 funcref)
      (data (i32.const 8) "mine")
      (elem declare func $poison)
      (func $poison (export "poison") (param $s i64)
        (global.set $g (local.get $s))
        (table.set (i32.const 0) (ref.func $poison))
        (drop (memory.grow (i32.const 3)))
        (i64.store (i32.const 0) (local.get $s))
        (i64.store (i32.const 262136) (local.get $s))
        unreachable)
      (func (export "peek") (param $at i32) (result i64) (i64.load (local.get $at)))
      (func (export "slot_is_null") (result i32) (ref.is_null (table.get (i32.const 0)))))"#;
    let engine = Engine::new(Profile::permissive()).unwrap();
    let module = engine.compile(&wat::parse_str(wat).unwrap()).unwrap();
    let mut base = None;
    for secret in [-1i64, 0x5ec2e7, i64::MIN] {
        let mut instance = Instance::new(&module, &Imports::new(), START_GAS).unwrap();
        let memory = instance.memory();
        if let Some(base) = base {
            assert_eq!(memory.as_ptr(), base, "the pooled reservation is reused");
        }
        base = Some(memory.as_ptr());
        assert_eq!(memory.len(), 65536, "the initial size, not the grown one");
        assert_eq!(&memory[8..12], b"mine", "its own data segment");
        assert!(memory[..8].iter().all(|&b| b == 0) && memory[12..].iter().all(|&b| b == 0));
        assert_eq!(instance.global("g"), Some(Value::I64(0)));
        let peek = instance
            .call("peek", &[Value::I32(4)], 1_000)
            .unwrap()
            .result;
        assert_eq!(peek, Ok(vec![Value::I64(0x656e_696d_0000_0000)]));
        let null = instance.call("slot_is_null", &[], 1_000).unwrap().result;
        assert_eq!(null, Ok(vec![Value::I32(1)]));
        let out = instance.call("poison", &[Value::I64(secret)], 1_000_000);
        assert!(out.unwrap().result.is_err(), "poison traps");
        assert_eq!(instance.memory().len(), 4 * 65536, "grown before the trap");
    }
}

#[test]
fn an_exhausted_pool_is_a_typed_error_until_an_instance_is_dropped() {
    let engine = Engine::with_options(
        Profile::contract(),
        EngineOptions {
            pool: PoolConfig {
                max_instances: Some(2),
                ..PoolConfig::default()
            },
            ..EngineOptions::default()
        },
    )
    .unwrap();
    let module = pool_mix(&engine);
    let a = Instance::new(&module, &Imports::new(), START_GAS).unwrap();
    let b = Instance::new(&module, &Imports::new(), START_GAS).unwrap();
    let err = Instance::new(&module, &Imports::new(), START_GAS).unwrap_err();
    assert!(
        matches!(err, InstantiationError::PoolExhausted { limit: 2 }),
        "{err}"
    );
    assert_eq!(err.kind(), "pool_exhausted");
    drop(a);
    let c = Instance::new(&module, &Imports::new(), START_GAS).unwrap();
    assert_eq!(engine.pool_stats().live_instances, 2);
    drop((b, c));
    assert_eq!(engine.pool_stats().live_instances, 0);
}

/// Set in the child process of `memory_refused_by_the_os_is_a_typed_error`.
const RLIMIT_CHILD: &str = "GASKET_POOL_TEST_RLIMIT_CHILD";

#[test]
fn memory_refused_by_the_os_is_a_typed_error() {
    if std::env::var_os(RLIMIT_CHILD).is_some() {
        rlimit_child();
        return;
    }
    // Limits apply to the whole process: run the check in a child of this test binary.
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "memory_refused_by_the_os_is_a_typed_error",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(RLIMIT_CHILD, "1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("rlimit child: typed error"),
        "child failed: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// With RLIMIT_AS a little above what the process maps, a module whose memory may grow
/// to 4 GiB cannot reserve it: `Resources`, not an abort.
fn rlimit_child() {
    let mut profile = Profile::permissive();
    profile.limits.max_memory_pages = 65_536;
    let engine = Engine::new(profile).unwrap();
    let module = engine
        .compile(&wat::parse_str("(module (memory 1) (func (export \"f\")))").unwrap())
        .unwrap();
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let vm_kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmSize:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap();
    let limit = (vm_kib + 512 * 1024) * 1024;
    let rlim = libc::rlimit {
        rlim_cur: limit,
        rlim_max: limit,
    };
    // SAFETY: setrlimit reads the struct we pass; it lowers this process's own limit.
    assert_eq!(unsafe { libc::setrlimit(libc::RLIMIT_AS, &rlim) }, 0);
    match Instance::new(&module, &Imports::new(), START_GAS) {
        Err(e @ InstantiationError::Resources { what, .. }) => {
            assert_eq!(what, "linear memory");
            assert_eq!(e.kind(), "resources");
            println!("rlimit child: typed error: {e}");
        }
        other => panic!("expected a Resources error, got {other:?}"),
    }
}

/// Resident set size in KiB (/proc/self/statm).
fn rss_kib() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap();
    let pages: u64 = statm.split_whitespace().nth(1).unwrap().parse().unwrap();
    // SAFETY: sysconf only reads a constant.
    pages * unsafe { libc::sysconf(libc::_SC_PAGESIZE) } as u64 / 1024
}

/// Runs `calls` mixed calls on each of 2 threads sharing `module`, checking every 1000th
/// call with a fresh instance's `scan`.
fn mixed_calls(module: &Module, calls: u64, offset: u64) {
    std::thread::scope(|s| {
        for t in 0..2u64 {
            s.spawn(move || {
                for i in offset..offset + calls {
                    run(module, (i % 5) as u8, i ^ (t << 40) ^ 0xfeed);
                    if i % 1000 == 999 {
                        assert_eq!(scan(module), 0, "thread {t}, call {i}");
                    }
                }
            });
        }
    });
}

/// Resident memory may grow by at most this much after the first 10,000 calls (allocator
/// caches and the pool's idle memories reaching their steady state).
const RSS_BOUND_KIB: u64 = 4 * 1024;

fn soak(total: u64) {
    let engine = Engine::new(Profile::contract()).unwrap();
    let module = pool_mix(&engine);
    let start = std::time::Instant::now();
    mixed_calls(&module, 5_000, 0);
    let after_first = rss_kib();
    mixed_calls(&module, total.saturating_sub(10_000) / 2, 5_000);
    let end = rss_kib();
    let stats = engine.pool_stats();
    println!(
        "soak: {total} calls on 2 threads in {:.2} s; RSS after 10,000 calls {after_first} KiB, at the end {end} KiB; {stats:?}",
        start.elapsed().as_secs_f64()
    );
    assert!(
        end <= after_first + RSS_BOUND_KIB,
        "resident memory grew from {after_first} KiB to {end} KiB"
    );
    assert_eq!(stats.live_instances, 0);
    assert!(stats.idle_memories <= engine.pool_config().max_idle);
}

#[test]
fn soak_short() {
    soak(40_000);
}

#[test]
#[ignore = "long: 1,000,000 calls; run with --release --ignored"]
fn soak_long() {
    let calls = std::env::var("GASKET_SOAK_CALLS")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(1_000_000);
    soak(calls);
}

#[test]
fn every_write_path_is_cleared_before_reuse() {
    write_paths::every_write_path_is_cleared_before_reuse(
        &Engine::new(Profile::permissive()).unwrap(),
    );
}
