//! Registers, context, return data, logs, panics and sha256, dispatched against
//! `MemoryStorage` and a byte-vector memory.

mod common;

use common::*;
use gasket_host_api::{CallContext, GasCounter, HostEnv, HostError, HostFunction, MemoryStorage};

// ---------------------------------------------------------------- registers and context

#[test]
fn register_lifecycle() {
    let mut storage = MemoryStorage::new();
    let mut env = HostEnv::new(context(), &mut storage);
    let mut memory = vec![0u8; MEMORY_SIZE];
    let mut gas = GasCounter::new(LOTS_OF_GAS);
    let reg = 3u64;

    // Empty: register_len says -1, read_register errors.
    let len = call(
        &mut env,
        &mut memory,
        &mut gas,
        HostFunction::RegisterLen,
        &[reg],
    );
    assert_eq!(len, Ok(Some(u64::MAX)));
    assert_eq!(len.unwrap().unwrap() as i64, -1);
    let err = call(
        &mut env,
        &mut memory,
        &mut gas,
        HostFunction::ReadRegister,
        &[reg, 0],
    );
    assert_eq!(err, Err(HostError::RegisterNotFound { register_id: reg }));

    // input fills it.
    let input = context().input;
    assert_eq!(
        call(&mut env, &mut memory, &mut gas, HostFunction::Input, &[reg]),
        Ok(None)
    );
    let len = call(
        &mut env,
        &mut memory,
        &mut gas,
        HostFunction::RegisterLen,
        &[reg],
    );
    assert_eq!(len, Ok(Some(input.len() as u64)));

    // read_register copies it into memory, charging per byte.
    let before = gas.used;
    let got = call(
        &mut env,
        &mut memory,
        &mut gas,
        HostFunction::ReadRegister,
        &[reg, 100],
    );
    assert_eq!(got, Ok(None));
    assert_eq!(&memory[100..100 + input.len()], input.as_slice());
    assert_eq!(
        gas.used - before,
        cost(HostFunction::ReadRegister, input.len() as u64)
    );

    // Writing again replaces the contents; totals follow.
    call(
        &mut env,
        &mut memory,
        &mut gas,
        HostFunction::Caller,
        &[reg],
    )
    .unwrap();
    assert_eq!(env.register(reg), Some(&b"bob"[..]));
    assert_eq!(env.register_bytes(), 3);

    // Registers are independent, and a register id is any 64-bit value.
    let big = u64::MAX - 1;
    call(
        &mut env,
        &mut memory,
        &mut gas,
        HostFunction::CurrentAccount,
        &[big],
    )
    .unwrap();
    assert_eq!(env.register(big), Some(&b"alice.gasket"[..]));
    let ids: Vec<u64> = env.registers().map(|(id, _)| id).collect();
    assert_eq!(ids, vec![reg, big]);
}

#[test]
fn zero_byte_register_is_present_not_empty() {
    let mut storage = MemoryStorage::new();
    let ctx = CallContext {
        input: Vec::new(),
        ..context()
    };
    let mut env = HostEnv::new(ctx, &mut storage);
    let mut memory = vec![0u8; MEMORY_SIZE];
    let mut gas = GasCounter::new(LOTS_OF_GAS);
    call(&mut env, &mut memory, &mut gas, HostFunction::Input, &[0]).unwrap();
    let len = call(
        &mut env,
        &mut memory,
        &mut gas,
        HostFunction::RegisterLen,
        &[0],
    );
    assert_eq!(len, Ok(Some(0)));
    // Reading zero bytes at the very end of memory is fine.
    let end = MEMORY_SIZE as u64;
    let read = call(
        &mut env,
        &mut memory,
        &mut gas,
        HostFunction::ReadRegister,
        &[0, end],
    );
    assert_eq!(read, Ok(None));
}

#[test]
fn read_register_out_of_bounds_is_memory_access() {
    let mut storage = MemoryStorage::new();
    let mut env = HostEnv::new(context(), &mut storage);
    let mut memory = vec![0u8; MEMORY_SIZE];
    let mut gas = GasCounter::new(LOTS_OF_GAS);
    call(&mut env, &mut memory, &mut gas, HostFunction::Input, &[1]).unwrap();
    let ptr = MEMORY_SIZE as u64 - 2;
    let err = call(
        &mut env,
        &mut memory,
        &mut gas,
        HostFunction::ReadRegister,
        &[1, ptr],
    );
    assert_eq!(
        err,
        Err(HostError::MemoryAccess {
            function: "read_register",
            ptr: ptr as u32,
            len: context().input.len() as u32,
            memory_size: MEMORY_SIZE as u64,
        })
    );
    assert_eq!(memory, vec![0u8; MEMORY_SIZE], "nothing written");
}

#[test]
fn context_functions_report_the_context() {
    let mut storage = MemoryStorage::new();
    let mut env = HostEnv::new(context(), &mut storage);
    let mut memory = vec![0u8; MEMORY_SIZE];
    let mut gas = GasCounter::new(LOTS_OF_GAS);

    let h = call(
        &mut env,
        &mut memory,
        &mut gas,
        HostFunction::BlockHeight,
        &[],
    );
    assert_eq!(h, Ok(Some(42)));
    let t = call(
        &mut env,
        &mut memory,
        &mut gas,
        HostFunction::BlockTimestamp,
        &[],
    );
    assert_eq!(t, Ok(Some(1_700_000_000_123_456_789)));
    assert_eq!(
        gas.used,
        cost(HostFunction::BlockHeight, 0) + cost(HostFunction::BlockTimestamp, 0)
    );

    call(
        &mut env,
        &mut memory,
        &mut gas,
        HostFunction::CurrentAccount,
        &[10],
    )
    .unwrap();
    call(&mut env, &mut memory, &mut gas, HostFunction::Caller, &[11]).unwrap();
    assert_eq!(env.register(10), Some(&b"alice.gasket"[..]));
    assert_eq!(env.register(11), Some(&b"bob"[..]));
}

// ------------------------------------------------------------------- return, log, panic

#[test]
fn return_value_last_call_wins() {
    let mut storage = MemoryStorage::new();
    let mut env = HostEnv::new(context(), &mut storage);
    let mut memory = memory_with(0, b"firstsecond");
    let mut gas = GasCounter::new(LOTS_OF_GAS);
    assert_eq!(env.return_data(), b"");
    call(
        &mut env,
        &mut memory,
        &mut gas,
        HostFunction::ReturnValue,
        &[0, 5],
    )
    .unwrap();
    assert_eq!(env.return_data(), b"first");
    call(
        &mut env,
        &mut memory,
        &mut gas,
        HostFunction::ReturnValue,
        &[5, 6],
    )
    .unwrap();
    assert_eq!(env.return_data(), b"second");
    assert_eq!(
        gas.used,
        cost(HostFunction::ReturnValue, 5) + cost(HostFunction::ReturnValue, 6)
    );
    let effects = env.commit().unwrap();
    assert_eq!(effects.return_data, b"second");
}

#[test]
fn log_utf8_appends_lines_in_order() {
    let mut storage = MemoryStorage::new();
    let mut env = HostEnv::new(context(), &mut storage);
    let mut memory = memory_with(0, "héllo world".as_bytes());
    let mut gas = GasCounter::new(LOTS_OF_GAS);
    let n = "héllo".len() as u64;
    call(
        &mut env,
        &mut memory,
        &mut gas,
        HostFunction::LogUtf8,
        &[0, n],
    )
    .unwrap();
    call(
        &mut env,
        &mut memory,
        &mut gas,
        HostFunction::LogUtf8,
        &[n + 1, 5],
    )
    .unwrap();
    assert_eq!(env.logs(), &["héllo".to_string(), "world".to_string()]);
    assert_eq!(
        gas.used,
        cost(HostFunction::LogUtf8, n) + cost(HostFunction::LogUtf8, 5)
    );
}

#[test]
fn invalid_utf8_is_rejected() {
    let mut storage = MemoryStorage::new();
    let mut env = HostEnv::new(context(), &mut storage);
    let mut memory = memory_with(0, b"ok\xff\xfe");
    let mut gas = GasCounter::new(LOTS_OF_GAS);
    let err = call(
        &mut env,
        &mut memory,
        &mut gas,
        HostFunction::LogUtf8,
        &[0, 4],
    );
    assert_eq!(
        err,
        Err(HostError::InvalidUtf8 {
            function: "log_utf8",
            valid_up_to: 2
        })
    );
    assert!(env.logs().is_empty());
    let err = call(
        &mut env,
        &mut memory,
        &mut gas,
        HostFunction::PanicUtf8,
        &[0, 4],
    );
    assert_eq!(err.unwrap_err().kind(), "invalid_utf8");
}

#[test]
fn panic_utf8_aborts_with_the_message() {
    let mut storage = MemoryStorage::new();
    let mut env = HostEnv::new(context(), &mut storage);
    let mut memory = memory_with(0, b"balance too low");
    let mut gas = GasCounter::new(LOTS_OF_GAS);
    let err = call(
        &mut env,
        &mut memory,
        &mut gas,
        HostFunction::PanicUtf8,
        &[0, 15],
    );
    let err = err.unwrap_err();
    assert_eq!(
        err,
        HostError::Panic {
            message: "balance too low".into()
        }
    );
    assert_eq!(err.kind(), "panic");
    assert!(err.is_deterministic());
    assert_eq!(gas.used, cost(HostFunction::PanicUtf8, 15));
}

// ------------------------------------------------------------------------------ sha256

#[test]
fn sha256_known_vectors() {
    let mut storage = MemoryStorage::new();
    let mut env = HostEnv::new(context(), &mut storage);
    let mut memory = memory_with(0, b"abc");
    let mut gas = GasCounter::new(LOTS_OF_GAS);
    call(
        &mut env,
        &mut memory,
        &mut gas,
        HostFunction::Sha256,
        &[0, 3, 1],
    )
    .unwrap();
    call(
        &mut env,
        &mut memory,
        &mut gas,
        HostFunction::Sha256,
        &[0, 0, 2],
    )
    .unwrap();
    assert_eq!(
        hex(env.register(1).unwrap()),
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );
    assert_eq!(
        hex(env.register(2).unwrap()),
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    );
    assert_eq!(
        gas.used,
        cost(HostFunction::Sha256, 3) + cost(HostFunction::Sha256, 0)
    );
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
