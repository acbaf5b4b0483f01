//! Bad pointers, limits, bad arguments, and random calls that must never panic.

mod common;

use common::*;
use gasket_host_api::{
    GasCounter, GasMeter, GuestMemory, HostEnv, HostError, HostFunction, HostLimits, MemoryStorage,
};

// ----------------------------------------------------------------------- bad pointers

/// Every (function, args) that reads guest memory, with `ptr`/`len` at the given
/// argument positions.
const MEMORY_FUNCTIONS: &[(HostFunction, usize, usize)] = &[
    (HostFunction::ReturnValue, 0, 1),
    (HostFunction::PanicUtf8, 0, 1),
    (HostFunction::LogUtf8, 0, 1),
    (HostFunction::StorageWrite, 0, 1),
    (HostFunction::StorageWrite, 2, 3),
    (HostFunction::StorageRead, 0, 1),
    (HostFunction::StorageRemove, 0, 1),
    (HostFunction::StorageHasKey, 0, 1),
    (HostFunction::Sha256, 0, 1),
];

#[test]
fn bad_pointers_are_memory_access_errors() {
    let size = MEMORY_SIZE as u64;
    // (ptr, len): past the end, straddling the end, and ptr + len overflowing u32.
    let bad: &[(u64, u64)] = &[
        (size, 1),
        (size - 2, 4),
        (u64::from(u32::MAX), 2),
        (u64::from(u32::MAX), u64::from(u32::MAX)),
        (100, 1000),
    ];
    for &(func, ptr_at, len_at) in MEMORY_FUNCTIONS {
        for &(ptr, len) in bad {
            let mut storage = MemoryStorage::new();
            let mut env = HostEnv::new(context(), &mut storage);
            let mut memory = vec![0u8; MEMORY_SIZE];
            let mut gas = GasCounter::new(u64::MAX);
            let mut args = vec![0u64; func.signature().params.len()];
            args[ptr_at] = ptr;
            args[len_at] = len;
            let err = call(&mut env, &mut memory, &mut gas, func, &args);
            match err {
                Err(HostError::MemoryAccess {
                    function,
                    ptr: p,
                    len: l,
                    memory_size,
                }) => {
                    assert_eq!(function, func.name());
                    assert_eq!((u64::from(p), u64::from(l)), (ptr, len));
                    assert_eq!(memory_size, size);
                }
                Err(HostError::LimitExceeded { .. }) => {
                    // key lengths above max_key_len stop earlier, which is fine
                    assert!(len > HostLimits::DEFAULT.max_key_len, "{func} {ptr} {len}");
                }
                other => panic!("{func}({ptr}, {len}): expected memory_access, got {other:?}"),
            }
            assert!(env.state_changes().is_empty());
            assert!(env.logs().is_empty());
        }
    }
}

// ------------------------------------------------------------------------------ limits

/// Asserts that the call fails with `LimitExceeded` for limit `what`.
fn expect_limit(
    env: &mut HostEnv<'_, MemoryStorage>,
    memory: &mut [u8],
    func: HostFunction,
    args: &[u64],
    what: &str,
    requested: u64,
) {
    let mut gas = GasCounter::new(LOTS_OF_GAS);
    match call(env, memory, &mut gas, func, args) {
        Err(HostError::LimitExceeded {
            function,
            what: w,
            requested: r,
            ..
        }) => assert_eq!((function, w, r), (func.name(), what, requested)),
        other => panic!("{func}: expected {what} limit, got {other:?}"),
    }
}

#[test]
fn limits_are_enforced() {
    let limits = HostLimits {
        max_key_len: 4,
        max_value_len: 8,
        max_log_len: 5,
        max_logs: 2,
        max_panic_message_len: 3,
        max_return_data_len: 6,
        max_register_bytes: 20,
        max_registers: 2,
    };
    let mut storage = MemoryStorage::new();
    let mut env = HostEnv::with_limits(context(), limits, &mut storage);
    let mut memory = memory_with(0, b"0123456789abcdef");
    let mut gas = GasCounter::new(LOTS_OF_GAS);

    use HostFunction::*;
    expect_limit(
        &mut env,
        &mut memory,
        StorageWrite,
        &[0, 5, 0, 1],
        "max_key_len",
        5,
    );
    expect_limit(
        &mut env,
        &mut memory,
        StorageWrite,
        &[0, 4, 0, 9],
        "max_value_len",
        9,
    );
    expect_limit(
        &mut env,
        &mut memory,
        StorageRead,
        &[0, 5, 0],
        "max_key_len",
        5,
    );
    expect_limit(
        &mut env,
        &mut memory,
        StorageRemove,
        &[0, 5],
        "max_key_len",
        5,
    );
    expect_limit(
        &mut env,
        &mut memory,
        StorageHasKey,
        &[0, 5],
        "max_key_len",
        5,
    );
    expect_limit(&mut env, &mut memory, LogUtf8, &[0, 6], "max_log_len", 6);
    expect_limit(
        &mut env,
        &mut memory,
        PanicUtf8,
        &[0, 4],
        "max_panic_message_len",
        4,
    );
    expect_limit(
        &mut env,
        &mut memory,
        ReturnValue,
        &[0, 7],
        "max_return_data_len",
        7,
    );
    // Exactly at the limit is fine.
    assert!(call(&mut env, &mut memory, &mut gas, StorageWrite, &[0, 4, 0, 8]).is_ok());
    assert!(call(&mut env, &mut memory, &mut gas, ReturnValue, &[0, 6]).is_ok());
    call(&mut env, &mut memory, &mut gas, LogUtf8, &[0, 5]).unwrap();
    call(&mut env, &mut memory, &mut gas, LogUtf8, &[0, 5]).unwrap();
    expect_limit(&mut env, &mut memory, LogUtf8, &[0, 1], "max_logs", 3);
    // Registers: 12-byte account + 3-byte caller fit in 20 bytes, a 32-byte digest doesn't.
    call(&mut env, &mut memory, &mut gas, CurrentAccount, &[0]).unwrap();
    call(&mut env, &mut memory, &mut gas, Caller, &[1]).unwrap();
    expect_limit(&mut env, &mut memory, Input, &[2], "max_registers", 3);
    expect_limit(
        &mut env,
        &mut memory,
        Sha256,
        &[0, 1, 1],
        "max_register_bytes",
        12 + 32,
    );
    assert_eq!(
        env.register(1),
        Some(&b"bob"[..]),
        "failed write leaves the register"
    );
}

#[test]
fn limit_messages_are_actionable() {
    let mut storage = MemoryStorage::new();
    let mut env = HostEnv::new(context(), &mut storage);
    let mut memory = vec![0u8; 4096];
    let mut gas = GasCounter::new(LOTS_OF_GAS);
    let err = call(
        &mut env,
        &mut memory,
        &mut gas,
        HostFunction::StorageWrite,
        &[0, 3000, 0, 1],
    )
    .unwrap_err();
    let msg = err.to_string();
    for needle in ["storage_write", "max_key_len", "2048", "3000"] {
        assert!(msg.contains(needle), "{msg:?} lacks {needle}");
    }
    assert_eq!(gas.used, 0, "limits are checked before charging");
}

// ------------------------------------------------------------------- argument checking

#[test]
fn wrong_argument_count_is_bad_arguments() {
    let mut storage = MemoryStorage::new();
    let mut env = HostEnv::new(context(), &mut storage);
    let mut memory = vec![0u8; MEMORY_SIZE];
    let mut gas = GasCounter::new(LOTS_OF_GAS);
    for &func in HostFunction::ALL {
        let n = func.signature().params.len();
        for args in [vec![0u64; n + 1], vec![0u64; n.saturating_sub(1)]] {
            if args.len() == n {
                continue;
            }
            let err = call(&mut env, &mut memory, &mut gas, func, &args).unwrap_err();
            assert_eq!(err.kind(), "bad_arguments", "{func}");
            assert!(err.to_string().contains(func.name()));
        }
    }
    assert_eq!(gas.used, 0);
}

#[test]
fn i32_arguments_must_be_zero_extended() {
    let mut storage = MemoryStorage::new();
    let mut env = HostEnv::new(context(), &mut storage);
    let mut memory = vec![0u8; MEMORY_SIZE];
    let mut gas = GasCounter::new(LOTS_OF_GAS);
    // A sign-extended -1 as an i32 length.
    let err = call(
        &mut env,
        &mut memory,
        &mut gas,
        HostFunction::LogUtf8,
        &[0, u64::MAX],
    );
    assert_eq!(err.unwrap_err().kind(), "bad_arguments");
    // i64 register ids may use all 64 bits.
    let ok = call(
        &mut env,
        &mut memory,
        &mut gas,
        HostFunction::Input,
        &[u64::MAX],
    );
    assert_eq!(ok, Ok(None));
}

#[test]
fn results_match_signatures() {
    let mut storage = MemoryStorage::new();
    storage.insert(b"\0\0\0\0".to_vec(), b"v".to_vec());
    let mut env = HostEnv::new(context(), &mut storage);
    let mut memory = vec![0u8; MEMORY_SIZE];
    let mut gas = GasCounter::new(LOTS_OF_GAS);
    call(&mut env, &mut memory, &mut gas, HostFunction::Input, &[0]).unwrap();
    for &func in HostFunction::ALL {
        if func == HostFunction::PanicUtf8 {
            continue;
        }
        let mut args = vec![0u64; func.signature().params.len()];
        if func == HostFunction::StorageWrite || func.name().starts_with("storage") {
            args[1] = 4; // a 4-byte zero key that exists
        }
        let result = call(&mut env, &mut memory, &mut gas, func, &args)
            .unwrap_or_else(|e| panic!("{func}: {e}"));
        match func.signature().results {
            [] => assert_eq!(result, None, "{func}"),
            [gasket_host_api::WasmType::I32] => {
                assert!(result.is_some_and(|v| v <= u64::from(u32::MAX)), "{func}")
            }
            [gasket_host_api::WasmType::I64] => assert!(result.is_some(), "{func}"),
            other => panic!("{func}: unexpected results {other:?}"),
        }
    }
}

// ---------------------------------------------------------------------- no panics ever

/// A tiny deterministic generator (xorshift64*), so this test needs no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Mostly small and edge-case values, sometimes anything.
    fn arg(&mut self) -> u64 {
        match self.next() % 6 {
            0 => self.next() % 64,
            1 => u64::from(u32::MAX) - self.next() % 4,
            2 => MEMORY_SIZE as u64 - self.next() % 8,
            3 => self.next() & u64::from(u32::MAX),
            4 => u64::MAX - self.next() % 4,
            _ => self.next(),
        }
    }
}

#[test]
fn random_calls_never_panic_and_keep_gas_invariants() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut storage = MemoryStorage::new();
    let mut env = HostEnv::new(context(), &mut storage);
    let mut memory: Vec<u8> = (0..MEMORY_SIZE).map(|i| (i % 128) as u8).collect();
    for _ in 0..20_000 {
        let func = HostFunction::ALL[(rng.next() % HostFunction::ALL.len() as u64) as usize];
        let n = func.signature().params.len() + usize::from(rng.next().is_multiple_of(16));
        let args: Vec<u64> = (0..n).map(|_| rng.arg()).collect();
        let mut gas = GasCounter::new(rng.next() % 20_000);
        let result = call(&mut env, &mut memory, &mut gas, func, &args);
        assert!(gas.used <= gas.limit);
        if result == Err(HostError::OutOfGas) {
            assert_eq!(gas.used, gas.limit);
        }
        if let Err(e) = result {
            assert!(e.is_deterministic());
            assert!(!e.to_string().is_empty());
        }
    }
    assert_eq!(memory.len(), MEMORY_SIZE, "memory never grows");
}

// Keep `GasMeter` and `GuestMemory` usable through trait objects from outside the crate.
#[test]
fn traits_are_object_safe() {
    let mut gas = GasCounter::new(10);
    let meter: &mut dyn GasMeter = &mut gas;
    assert!(meter.charge(11).is_err());
    let mut memory = vec![1u8, 2, 3];
    let mem: &mut dyn GuestMemory = &mut memory;
    assert_eq!(mem.read(1, 2).unwrap(), &[2, 3]);
}
