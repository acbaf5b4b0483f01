//! Storage functions, their gas, and the atomicity of the write overlay.

mod common;

use common::*;
use gasket_host_api::{
    dispatch, GasCounter, HostEnv, HostError, HostFunction, MemoryStorage, StateChange, Storage,
    StorageError,
};

// ---------------------------------------------------------------------------- storage

#[test]
fn storage_functions_round_trip() {
    let mut storage = MemoryStorage::new();
    let mut env = HostEnv::new(context(), &mut storage);
    let mut memory = memory_with(0, b"key");
    memory[16..21].copy_from_slice(b"value");
    memory[32..35].copy_from_slice(b"new");
    let mut gas = GasCounter::new(LOTS_OF_GAS);
    use HostFunction::*;

    assert_eq!(
        call(&mut env, &mut memory, &mut gas, StorageHasKey, &[0, 3]),
        Ok(Some(0))
    );
    assert_eq!(
        call(&mut env, &mut memory, &mut gas, StorageRead, &[0, 3, 9]),
        Ok(Some(0))
    );
    assert_eq!(env.register(9), None, "miss leaves the register untouched");

    assert_eq!(
        call(
            &mut env,
            &mut memory,
            &mut gas,
            StorageWrite,
            &[0, 3, 16, 5]
        ),
        Ok(Some(0))
    );
    assert_eq!(
        call(&mut env, &mut memory, &mut gas, StorageHasKey, &[0, 3]),
        Ok(Some(1))
    );
    assert_eq!(
        call(&mut env, &mut memory, &mut gas, StorageRead, &[0, 3, 9]),
        Ok(Some(1))
    );
    assert_eq!(env.register(9), Some(&b"value"[..]));

    assert_eq!(
        call(
            &mut env,
            &mut memory,
            &mut gas,
            StorageWrite,
            &[0, 3, 32, 3]
        ),
        Ok(Some(1))
    );
    assert_eq!(
        call(&mut env, &mut memory, &mut gas, StorageRead, &[0, 3, 9]),
        Ok(Some(1))
    );
    assert_eq!(env.register(9), Some(&b"new"[..]));

    assert_eq!(
        call(&mut env, &mut memory, &mut gas, StorageRemove, &[0, 3]),
        Ok(Some(1))
    );
    assert_eq!(
        call(&mut env, &mut memory, &mut gas, StorageRemove, &[0, 3]),
        Ok(Some(0))
    );
    assert_eq!(
        call(&mut env, &mut memory, &mut gas, StorageHasKey, &[0, 3]),
        Ok(Some(0))
    );
    assert_eq!(
        call(&mut env, &mut memory, &mut gas, StorageRead, &[0, 3, 9]),
        Ok(Some(0))
    );
    assert_eq!(
        env.register(9),
        Some(&b"new"[..]),
        "miss leaves the old contents"
    );

    assert_eq!(
        env.state_changes(),
        vec![StateChange {
            key: b"key".to_vec(),
            value: None
        }]
    );
}

#[test]
fn storage_gas_is_charged_per_byte() {
    let mut storage = MemoryStorage::new();
    storage.insert(b"k".to_vec(), vec![7u8; 1000]);
    let mut env = HostEnv::new(context(), &mut storage);
    let mut memory = memory_with(0, b"k");
    let mut gas = GasCounter::new(LOTS_OF_GAS);

    call(
        &mut env,
        &mut memory,
        &mut gas,
        HostFunction::StorageRead,
        &[0, 1, 0],
    )
    .unwrap();
    assert_eq!(gas.used, cost(HostFunction::StorageRead, 1 + 1000));

    let mut gas = GasCounter::new(LOTS_OF_GAS);
    call(
        &mut env,
        &mut memory,
        &mut gas,
        HostFunction::StorageRead,
        &[0, 0, 0],
    )
    .unwrap();
    assert_eq!(
        gas.used,
        cost(HostFunction::StorageRead, 0),
        "miss pays for the key only"
    );

    let mut gas = GasCounter::new(LOTS_OF_GAS);
    call(
        &mut env,
        &mut memory,
        &mut gas,
        HostFunction::StorageWrite,
        &[0, 1, 100, 500],
    )
    .unwrap();
    assert_eq!(gas.used, cost(HostFunction::StorageWrite, 501));
    assert!(
        HostFunction::StorageWrite.gas().per_byte >= 10,
        "writes must be expensive"
    );
}

#[test]
fn storage_read_out_of_gas_after_lookup_leaves_register_untouched() {
    let mut storage = MemoryStorage::new();
    storage.insert(b"k".to_vec(), vec![7u8; 1000]);
    let mut env = HostEnv::new(context(), &mut storage);
    let mut memory = memory_with(0, b"k");
    // Enough for base + key, not for the value.
    let limit = cost(HostFunction::StorageRead, 1) + 10;
    let mut gas = GasCounter::new(limit);
    let err = call(
        &mut env,
        &mut memory,
        &mut gas,
        HostFunction::StorageRead,
        &[0, 1, 5],
    );
    assert_eq!(err, Err(HostError::OutOfGas));
    assert_eq!(gas.used, limit);
    assert_eq!(env.register(5), None);
}

#[test]
fn out_of_gas_happens_before_side_effects() {
    let mut storage = MemoryStorage::new();
    storage.insert(b"key".to_vec(), b"old".to_vec());
    let original = storage.clone();
    let mut memory = memory_with(0, b"key");
    memory[16..21].copy_from_slice(b"hello");

    let mut env = HostEnv::new(context(), &mut storage);
    // (function, args, bytes charged on success): each runs with one gas too few.
    let cases: &[(HostFunction, &[u64], u64)] = &[
        (HostFunction::StorageWrite, &[0, 3, 16, 5], 8),
        (HostFunction::StorageRemove, &[0, 3], 3),
        (HostFunction::LogUtf8, &[16, 5], 5),
        (HostFunction::ReturnValue, &[16, 5], 5),
        (HostFunction::Input, &[1], context().input.len() as u64),
        (HostFunction::Sha256, &[16, 5, 2], 5),
        (HostFunction::StorageRead, &[0, 3, 3], 3 + 3),
        (HostFunction::Caller, &[4], 3),
        (HostFunction::CurrentAccount, &[4], 12),
    ];
    for &(func, args, bytes) in cases {
        let mut gas = GasCounter::new(cost(func, bytes) - 1);
        let err = call(&mut env, &mut memory, &mut gas, func, args);
        assert_eq!(err, Err(HostError::OutOfGas), "{func}");
        assert_eq!(
            gas.used, gas.limit,
            "{func}: out of gas must use the whole limit"
        );
        // And with exactly enough gas it succeeds (checked on a throwaway env).
        let mut scratch = original.clone();
        let mut scratch_env = HostEnv::new(context(), &mut scratch);
        let mut gas = GasCounter::new(cost(func, bytes));
        call(&mut scratch_env, &mut memory, &mut gas, func, args)
            .unwrap_or_else(|e| panic!("{func} with exact gas: {e}"));
        assert_eq!(gas.used, gas.limit, "{func}");
    }
    assert!(env.state_changes().is_empty());
    assert!(env.logs().is_empty());
    assert!(env.return_data().is_empty());
    assert_eq!(env.registers().count(), 0);
    env.commit().unwrap();
    assert_eq!(storage, original);
}

#[test]
fn storage_bomb_runs_out_of_gas() {
    // 1 MiB values at 10 gas/byte: 100 million gas buys fewer than 10 of them.
    let mut storage = MemoryStorage::new();
    let mut env = HostEnv::new(context(), &mut storage);
    let mut memory = vec![0u8; 1024 * 1024 + 16];
    let mut gas = GasCounter::new(100_000_000);
    let mut written = 0u64;
    let result = loop {
        memory[0..8].copy_from_slice(&written.to_le_bytes());
        match call(
            &mut env,
            &mut memory,
            &mut gas,
            HostFunction::StorageWrite,
            &[0, 8, 16, 1 << 20],
        ) {
            Ok(_) => written += 1,
            Err(e) => break e,
        }
    };
    assert_eq!(result, HostError::OutOfGas);
    assert!(written < 10, "wrote {written} MiB");
    assert_eq!(gas.used, gas.limit);
}

// ------------------------------------------------------------------------- atomicity

#[test]
fn discard_and_drop_leave_storage_untouched_commit_applies() {
    let mut storage = MemoryStorage::new();
    storage.insert(b"a".to_vec(), b"1".to_vec());
    let original = storage.clone();
    let mut memory = memory_with(0, b"ab");
    memory[8..10].copy_from_slice(b"zz");

    let run = |env: &mut HostEnv<'_, MemoryStorage>, memory: &mut Vec<u8>| {
        let mut gas = GasCounter::new(LOTS_OF_GAS);
        call(
            env,
            memory,
            &mut gas,
            HostFunction::StorageWrite,
            &[1, 1, 8, 2],
        )
        .unwrap();
        call(env, memory, &mut gas, HostFunction::StorageRemove, &[0, 1]).unwrap();
        call(env, memory, &mut gas, HostFunction::LogUtf8, &[8, 2]).unwrap();
        // The call sees its own writes.
        assert_eq!(env.storage_get(b"b").unwrap(), Some(b"zz".to_vec()));
        assert_eq!(env.storage_get(b"a").unwrap(), None);
    };

    let mut env = HostEnv::new(context(), &mut storage);
    run(&mut env, &mut memory);
    let effects = env.discard();
    assert_eq!(effects.logs, vec!["zz".to_string()]);
    assert!(effects.state_changes.is_empty());
    assert_eq!(storage, original);

    {
        let mut env = HostEnv::new(context(), &mut storage);
        run(&mut env, &mut memory);
    } // dropped, as when a call traps
    assert_eq!(storage, original);

    let mut env = HostEnv::new(context(), &mut storage);
    run(&mut env, &mut memory);
    let effects = env.commit().unwrap();
    let expected = vec![
        StateChange {
            key: b"a".to_vec(),
            value: None,
        },
        StateChange {
            key: b"b".to_vec(),
            value: Some(b"zz".to_vec()),
        },
    ];
    assert_eq!(effects.state_changes, expected);
    let entries: Vec<(&[u8], &[u8])> = storage.entries().collect();
    assert_eq!(entries, vec![(&b"b"[..], &b"zz"[..])]);
}

#[test]
fn same_calls_give_identical_effects() {
    let run = || {
        let mut storage = MemoryStorage::new();
        let mut memory = memory_with(0, b"k1k2k3payload");
        let mut gas = GasCounter::new(LOTS_OF_GAS);
        let mut env = HostEnv::new(context(), &mut storage);
        for key in [4u64, 0, 2] {
            call(
                &mut env,
                &mut memory,
                &mut gas,
                HostFunction::StorageWrite,
                &[key, 2, 6, 7],
            )
            .unwrap();
        }
        call(
            &mut env,
            &mut memory,
            &mut gas,
            HostFunction::LogUtf8,
            &[6, 7],
        )
        .unwrap();
        let effects = env.commit().unwrap();
        (effects, gas.used, storage)
    };
    let first = run();
    assert_eq!(first, run());
    let keys: Vec<&[u8]> = first
        .0
        .state_changes
        .iter()
        .map(|c| c.key.as_slice())
        .collect();
    assert_eq!(
        keys,
        vec![&b"k1"[..], b"k2", b"k3"],
        "sorted by key, not call order"
    );
}

/// A node database that fails every operation.
struct BrokenStorage;

impl Storage for BrokenStorage {
    fn get(&self, _: &[u8]) -> Result<Option<Vec<u8>>, StorageError> {
        Err(StorageError::new("disk unavailable"))
    }
    fn set(&mut self, _: &[u8], _: &[u8]) -> Result<(), StorageError> {
        Err(StorageError::new("disk unavailable"))
    }
    fn remove(&mut self, _: &[u8]) -> Result<(), StorageError> {
        Err(StorageError::new("disk unavailable"))
    }
}

#[test]
fn storage_failure_is_not_deterministic() {
    let mut storage = BrokenStorage;
    // Also exercises `HostEnv` over a trait object.
    let storage: &mut dyn Storage = &mut storage;
    let mut env = HostEnv::new(context(), storage);
    let mut memory = memory_with(0, b"key");
    let mut gas = GasCounter::new(LOTS_OF_GAS);
    for (func, args) in [
        (HostFunction::StorageRead, &[0u64, 3, 0][..]),
        (HostFunction::StorageWrite, &[0, 3, 0, 3]),
        (HostFunction::StorageHasKey, &[0, 3]),
        (HostFunction::StorageRemove, &[0, 3]),
    ] {
        let err = dispatch(func, args, &mut memory, &mut gas, &mut env).unwrap_err();
        assert_eq!(
            err,
            HostError::Storage(StorageError::new("disk unavailable"))
        );
        assert!(!err.is_deterministic());
    }
}
