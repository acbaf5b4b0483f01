//! Calls per second on 1 and N threads sharing one compiled module: the node's per-call
//! path (`gasket_vm::testing::call_contract`: a fresh instance, the host ABI, commit or
//! discard) on the `pool_mix` fixture, with mixed outcomes (returns, traps, panics, out
//! of gas, growth to the memory cap) and a `memory.grow` in every call.

use std::time::{Duration, Instant};

use gasket_vm::host_api::{CallContext, HostLimits, MemoryStorage};
use gasket_vm::testing::{call_contract, Outcome, Status};
use gasket_vm::Module;

/// Gas per call: enough for every mode, so mode 3 is the only out-of-gas (the others
/// use 89–124 thousand with cost table version 8; `benches/tests/scaling.rs` keeps a 2×
/// margin, since 30 000 once fell short and the benches panicked).
pub const GAS: u64 = 300_000;

/// The mode of call `i` (see `fixtures/wat/pool_mix.wat`): mostly returns, one in 8 a
/// trap, a panic, out of gas or growth to the cap.
pub fn mode(i: u64) -> u8 {
    match i % 8 {
        1 => 1,
        3 => 2,
        5 => 3,
        7 => 4,
        _ => 0,
    }
}

/// The status call `i` must end with.
pub fn expected(mode: u8) -> fn(&Status) -> bool {
    match mode {
        0 | 4 => |s| *s == Status::Ok,
        2 => |s| matches!(s, Status::Panic { .. }),
        _ => |s| matches!(s, Status::Trap { .. }),
    }
}

/// One `pool_mix.run` call with `mode` and `secret` and [`GAS`]: its outcome.
pub fn outcome(module: &Module, storage: &mut MemoryStorage, mode: u8, secret: u64) -> Outcome {
    let mut input = vec![mode];
    input.extend_from_slice(&secret.to_le_bytes());
    let context = CallContext {
        current_account: b"pool".to_vec(),
        caller: b"alice".to_vec(),
        input,
        ..CallContext::default()
    };
    call_contract(module, "run", context, HostLimits::default(), storage, GAS)
        .expect("pool_mix.run starts")
}

/// One `pool_mix.run` call with `mode` and `secret`, checked against [`expected`].
pub fn call(module: &Module, storage: &mut MemoryStorage, mode: u8, secret: u64) {
    let out = outcome(module, storage, mode, secret);
    assert!(expected(mode)(&out.status), "mode {mode}: {:?}", out.status);
}

/// Wall time and CPU time (all threads of the process, user and system) of a phase.
#[derive(Clone, Copy, Debug)]
pub struct Times {
    pub wall: Duration,
    pub cpu: Duration,
}

/// CPU time the whole process has used so far.
pub fn process_cpu_time() -> Duration {
    let mut t = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `t` is a valid, writable timespec; the clock id is a constant Linux knows.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut t) };
    assert_eq!(rc, 0, "clock_gettime(CLOCK_PROCESS_CPUTIME_ID)");
    Duration::new(t.tv_sec as u64, t.tv_nsec as u32)
}

/// Runs `calls` calls on each of `threads` threads at once, all sharing `module`; returns
/// the wall and CPU time.
pub fn run_threads(module: &Module, threads: usize, calls: u64) -> Times {
    run_on_modules(&vec![module; threads], calls)
}

/// Runs `calls` calls on one thread per entry of `modules`, each thread calling its own
/// entry, at once; returns the wall and CPU time. Distinct modules (compiled by distinct
/// engines) leave the threads nothing of Gasket's to share but the process.
pub fn run_on_modules(modules: &[&Module], calls: u64) -> Times {
    let cpu = process_cpu_time();
    let start = Instant::now();
    std::thread::scope(|s| {
        for (t, module) in modules.iter().enumerate() {
            s.spawn(move || {
                let mut storage = MemoryStorage::default();
                for i in 0..calls {
                    call(module, &mut storage, mode(i), i ^ (t as u64) << 32);
                }
            });
        }
    });
    Times {
        wall: start.elapsed(),
        cpu: process_cpu_time() - cpu,
    }
}
