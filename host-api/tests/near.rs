//! The NEAR-compatible host functions driven directly (no engine): NEAR's semantics
//! (registers, storage returning evicted values, storage usage accounting, promises,
//! promise results, balances) and hostile arguments, each ending in a typed error with
//! nothing changed.

use gasket_host_api::near::{
    dispatch_near, Action, NearContext, NearEnv, NearFunction as F, NearReturn, Promise,
    PromiseResult, STORAGE_RECORD_OVERHEAD,
};
use gasket_host_api::{GasCounter, HostError, HostLimits, MemoryStorage};

const GAS: u64 = 1_000_000_000;

fn context() -> NearContext {
    NearContext {
        current_account_id: "token.near".into(),
        signer_account_id: "alice.near".into(),
        predecessor_account_id: "relay.near".into(),
        input: br#"{"a":1}"#.to_vec(),
        block_height: 42,
        block_timestamp: 7_000,
        epoch_height: 3,
        account_balance: 1_000,
        attached_deposit: 5,
        prepaid_gas: GAS,
        random_seed: vec![9; 32],
        storage_usage: 500,
        promise_results: vec![
            PromiseResult::Successful(b"ok".to_vec()),
            PromiseResult::Failed,
        ],
        ..NearContext::default()
    }
}

struct Harness {
    memory: Vec<u8>,
    gas: GasCounter,
}

impl Harness {
    fn new() -> Harness {
        Harness {
            memory: vec![0; 4096],
            gas: GasCounter::new(GAS),
        }
    }

    fn call(
        &mut self,
        env: &mut NearEnv<'_, MemoryStorage>,
        f: F,
        args: &[u64],
    ) -> Result<Option<u64>, HostError> {
        dispatch_near(f, args, &mut self.memory, &mut self.gas, env)
    }

    fn put(&mut self, ptr: usize, bytes: &[u8]) -> (u64, u64) {
        self.memory[ptr..ptr + bytes.len()].copy_from_slice(bytes);
        (bytes.len() as u64, ptr as u64)
    }
}

#[test]
fn registers_context_and_accounts() {
    let mut storage = MemoryStorage::new();
    let mut env = NearEnv::new(context(), HostLimits::default(), &mut storage);
    let mut h = Harness::new();
    assert_eq!(h.call(&mut env, F::RegisterLen, &[0]), Ok(Some(u64::MAX)));
    assert_eq!(
        h.call(&mut env, F::ReadRegister, &[0, 0])
            .unwrap_err()
            .kind(),
        "register_not_found"
    );
    for (f, expected) in [
        (F::PredecessorAccountId, "relay.near"),
        (F::SignerAccountId, "alice.near"),
        (F::CurrentAccountId, "token.near"),
    ] {
        h.call(&mut env, f, &[1]).unwrap();
        h.call(&mut env, F::ReadRegister, &[1, 100]).unwrap();
        assert_eq!(
            &h.memory[100..100 + expected.len()],
            expected.as_bytes(),
            "{f}"
        );
    }
    h.call(&mut env, F::Input, &[2]).unwrap();
    assert_eq!(h.call(&mut env, F::RegisterLen, &[2]), Ok(Some(7)));
    assert_eq!(h.call(&mut env, F::BlockIndex, &[]), Ok(Some(42)));
    assert_eq!(h.call(&mut env, F::EpochHeight, &[]), Ok(Some(3)));
    h.call(&mut env, F::AttachedDeposit, &[200]).unwrap();
    assert_eq!(h.memory[200..216], 5u128.to_le_bytes());
    h.call(&mut env, F::AccountBalance, &[200]).unwrap();
    assert_eq!(h.memory[200..216], 1_000u128.to_le_bytes());
    let used = h.call(&mut env, F::UsedGas, &[]).unwrap().unwrap();
    assert_eq!(used, h.gas.used, "used_gas is what the meter counted");
}

#[test]
fn storage_returns_evicted_values_and_tracks_usage() {
    let mut storage = MemoryStorage::new();
    let mut env = NearEnv::new(context(), HostLimits::default(), &mut storage);
    let mut h = Harness::new();
    let (kl, kp) = h.put(0, b"key");
    let (vl, vp) = h.put(16, b"value1");
    assert_eq!(
        h.call(&mut env, F::StorageWrite, &[kl, kp, vl, vp, 0]),
        Ok(Some(0))
    );
    assert_eq!(
        h.call(&mut env, F::RegisterLen, &[0]),
        Ok(Some(u64::MAX)),
        "nothing evicted"
    );
    assert_eq!(env.storage_usage(), 500 + 3 + 6 + STORAGE_RECORD_OVERHEAD);
    let (vl2, vp2) = h.put(32, b"v2");
    assert_eq!(
        h.call(&mut env, F::StorageWrite, &[kl, kp, vl2, vp2, 0]),
        Ok(Some(1))
    );
    h.call(&mut env, F::ReadRegister, &[0, 200]).unwrap();
    assert_eq!(
        &h.memory[200..206],
        b"value1",
        "the evicted value is in the register"
    );
    assert_eq!(env.storage_usage(), 500 + 3 + 2 + STORAGE_RECORD_OVERHEAD);
    assert_eq!(h.call(&mut env, F::StorageRead, &[kl, kp, 3]), Ok(Some(1)));
    assert_eq!(h.call(&mut env, F::RegisterLen, &[3]), Ok(Some(2)));
    assert_eq!(h.call(&mut env, F::StorageHasKey, &[kl, kp]), Ok(Some(1)));
    assert_eq!(
        h.call(&mut env, F::StorageRemove, &[kl, kp, 4]),
        Ok(Some(1))
    );
    assert_eq!(h.call(&mut env, F::RegisterLen, &[4]), Ok(Some(2)));
    assert_eq!(env.storage_usage(), 500);
    assert_eq!(
        h.call(&mut env, F::StorageRemove, &[kl, kp, 5]),
        Ok(Some(0))
    );
    assert_eq!(h.call(&mut env, F::StorageRead, &[kl, kp, 5]), Ok(Some(0)));
}

#[test]
fn promises_results_and_balance() {
    let mut storage = MemoryStorage::new();
    let mut env = NearEnv::new(context(), HostLimits::default(), &mut storage);
    let mut h = Harness::new();
    let (al, ap) = h.put(0, b"bob.near");
    let (ml, mp) = h.put(32, b"hello");
    let (gl, gp) = h.put(64, b"{}");
    h.put(128, &300u128.to_le_bytes());
    let gas_before = h.gas.used;
    let p0 = h
        .call(
            &mut env,
            F::PromiseCreate,
            &[al, ap, ml, mp, gl, gp, 128, 1_000],
        )
        .unwrap();
    assert_eq!(p0, Some(0));
    assert!(h.gas.used >= gas_before + 1_000, "attached gas is charged");
    let p1 = h
        .call(&mut env, F::PromiseBatchCreate, &[al, ap])
        .unwrap()
        .unwrap();
    h.call(&mut env, F::PromiseBatchActionTransfer, &[p1, 128])
        .unwrap();
    h.put(200, &[0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0]);
    let joint = h.call(&mut env, F::PromiseAnd, &[200, 2]).unwrap().unwrap();
    let then = h
        .call(&mut env, F::PromiseBatchThen, &[joint, al, ap])
        .unwrap()
        .unwrap();
    // The balance: 1000 - 300 - 300 = 400 left; 500 more is more than there is.
    h.put(144, &500u128.to_le_bytes());
    let e = h
        .call(&mut env, F::PromiseBatchActionTransfer, &[then, 144])
        .unwrap_err();
    assert_eq!(e.kind(), "balance_exceeded");
    assert_eq!(env.balance(), 400);
    // Actions cannot go on a joint promise, nor on a promise that does not exist.
    let e = h
        .call(&mut env, F::PromiseBatchActionCreateAccount, &[joint])
        .unwrap_err();
    assert_eq!(e.kind(), "invalid_argument");
    let e = h
        .call(&mut env, F::PromiseBatchActionCreateAccount, &[99])
        .unwrap_err();
    assert_eq!(e.kind(), "invalid_argument");
    let e = h.call(&mut env, F::PromiseReturn, &[joint]).unwrap_err();
    assert_eq!(e.kind(), "invalid_argument");
    h.call(&mut env, F::PromiseReturn, &[then]).unwrap();
    // Promise results of this callback.
    assert_eq!(h.call(&mut env, F::PromiseResultsCount, &[]), Ok(Some(2)));
    assert_eq!(h.call(&mut env, F::PromiseResult, &[0, 7]), Ok(Some(1)));
    assert_eq!(h.call(&mut env, F::RegisterLen, &[7]), Ok(Some(2)));
    assert_eq!(h.call(&mut env, F::PromiseResult, &[1, 8]), Ok(Some(2)));
    assert_eq!(
        h.call(&mut env, F::PromiseResult, &[2, 8])
            .unwrap_err()
            .kind(),
        "invalid_argument"
    );
    let effects = env.commit().unwrap();
    assert_eq!(effects.returned, NearReturn::Promise(3));
    assert_eq!(effects.balance, 400);
    match &effects.promises[..] {
        [Promise::Receipt {
            receiver_id,
            actions,
            after,
        }, Promise::Receipt { actions: a1, .. }, Promise::Joint(members), Promise::Receipt {
            after: then_after,
            actions: then_actions,
            ..
        }] => {
            assert_eq!(receiver_id, "bob.near");
            assert!(after.is_empty());
            assert!(
                matches!(&actions[..], [Action::FunctionCall { method_name, deposit: 300, gas: 1_000, .. }] if method_name == "hello")
            );
            assert_eq!(a1, &vec![Action::Transfer { deposit: 300 }]);
            assert_eq!(members, &vec![0, 1]);
            assert_eq!(then_after, &vec![0, 1]);
            assert!(then_actions.is_empty(), "the failed transfer added nothing");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn hostile_arguments_are_typed_errors_and_change_nothing() {
    let mut storage = MemoryStorage::new();
    storage.insert(b"k".to_vec(), b"v".to_vec());
    let mut env = NearEnv::new(context(), HostLimits::default(), &mut storage);
    let mut h = Harness::new();
    let cases: Vec<(F, Vec<u64>, &str)> = vec![
        // Pointers and lengths beyond wasm32 are never truncated.
        (F::StorageWrite, vec![1, 1 << 32, 1, 0, 0], "memory_access"),
        (F::ValueReturn, vec![1 << 40, 0], "limit_exceeded"),
        (F::LogUtf8, vec![8, u64::MAX - 3], "memory_access"),
        (F::Sha256, vec![u64::MAX, 0, 0], "out_of_gas"),
        (F::ReadRegister, vec![12345, 0], "register_not_found"),
        (F::WriteRegister, vec![0, 16, 4090], "memory_access"),
        (F::StorageRead, vec![3000, 0, 0], "limit_exceeded"),
        (F::PromiseBatchCreate, vec![3, 0], "invalid_argument"),
        (
            F::PromiseBatchActionTransfer,
            vec![0, 0],
            "invalid_argument",
        ),
        (F::LogUtf16, vec![3, 0], "invalid_argument"),
        (F::PanicUtf8, vec![2, 300], "invalid_utf8"),
    ];
    h.memory[300] = 0xff;
    h.memory[301] = 0xfe;
    for (f, args, kind) in cases {
        let mut h2 = Harness {
            memory: h.memory.clone(),
            gas: GasCounter::new(GAS),
        };
        let e = h2.call(&mut env, f, &args).unwrap_err();
        assert_eq!(e.kind(), kind, "{f}({args:?}): {e}");
        assert!(e.is_deterministic());
        assert_eq!(h2.memory, h.memory, "{f} wrote memory");
    }
    assert_eq!(
        h.call(&mut env, F::Panic, &[]),
        Err(HostError::Panic {
            message: "explicit guest panic".into()
        })
    );
    // Wrong argument count (an engine bug) is reported, not guessed around.
    assert_eq!(
        h.call(&mut env, F::BlockIndex, &[1]).unwrap_err().kind(),
        "bad_arguments"
    );
    // Out of gas before any effect: a write that cannot be paid for writes nothing.
    let (kl, kp) = h.put(0, b"k");
    let (vl, vp) = h.put(8, b"new");
    let mut poor = Harness {
        memory: h.memory.clone(),
        gas: GasCounter::new(10),
    };
    assert_eq!(
        poor.call(&mut env, F::StorageWrite, &[kl, kp, vl, vp, 0]),
        Err(HostError::OutOfGas)
    );
    assert_eq!(poor.gas.used, 10);
    assert!(env.commit().unwrap().state_changes.is_empty());
    assert_eq!(storage.as_map().get(b"k".as_slice()), Some(&b"v".to_vec()));
}

#[test]
fn hashes_match_published_vectors() {
    let mut storage = MemoryStorage::new();
    let mut env = NearEnv::new(context(), HostLimits::default(), &mut storage);
    let mut h = Harness::new();
    let (len, ptr) = h.put(0, b"abc");
    for (f, hex) in [
        (F::Sha256, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
        (F::Keccak256, "4e03657aea45a94fc7d47ba826c8d667c0d1e6e33a64a036ec44f58fa12d6c45"),
        (F::Keccak512, "18587dc2ea106b9a1563e32b3312421ca164c7f1f07bc922a9c83d77cea3a1e5d0c69910739025372dc14ac9642629379540c17e2a65b19d77aa511a9d00bb96"),
        (F::Ripemd160, "8eb208f7e05d987a9b044a8e98c6b087f15a0bfc"),
    ] {
        h.call(&mut env, f, &[len, ptr, 9]).unwrap();
        let n = h.call(&mut env, F::RegisterLen, &[9]).unwrap().unwrap() as usize;
        h.call(&mut env, F::ReadRegister, &[9, 1000]).unwrap();
        let got: String = h.memory[1000..1000 + n].iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(got, hex, "{f}");
    }
}
