//! Every function of the C API, called as a C program would (raw pointers, out-pointers,
//! error objects), including NULL and invalid arguments, failing and panicking storage
//! callbacks, and outcomes compared with the `TestChain` harness's.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::ffi::{c_void, CStr, CString};
use std::ptr::{null, null_mut};

use gasket_capi::*;
use GasketErrorCode::*;

fn token() -> &'static [u8] {
    gasket_fixtures::c_contract("token").unwrap().wasm
}

fn config(profile: GasketProfile) -> GasketEngineConfig {
    GasketEngineConfig {
        profile: profile as u32,
        floats: GasketFloatPolicy::GASKET_FLOATS_PROFILE_DEFAULT as u32,
        cache_dir: null(),
    }
}

/// Takes an error: its code and message, freed.
fn take(error: *mut GasketError) -> (GasketErrorCode, String) {
    assert!(!error.is_null(), "a failure stores an error");
    let code = gasket_error_code(error);
    // SAFETY: a live error's message is a NUL-terminated string.
    let message = unsafe { CStr::from_ptr(gasket_error_message(error)) }
        .to_str()
        .unwrap()
        .to_string();
    gasket_error_free(error);
    (code, message)
}

fn engine(profile: GasketProfile) -> *mut GasketEngine {
    let mut e = null_mut();
    let mut err = null_mut();
    assert_eq!(
        gasket_engine_new(&config(profile), &mut e, &mut err),
        GASKET_OK
    );
    assert!(err.is_null() && !e.is_null());
    e
}

fn compile(engine: *const GasketEngine, wasm: &[u8]) -> *mut GasketModule {
    let mut m = null_mut();
    let code = gasket_module_compile(engine, wasm.as_ptr(), wasm.len(), &mut m, null_mut());
    assert_eq!(code, GASKET_OK);
    m
}

/// The node's storage: a map behind `ctx`, with switches to make callbacks fail or panic.
#[derive(Default)]
struct Node {
    map: RefCell<BTreeMap<Vec<u8>, Vec<u8>>>,
    /// `get` and `has` fail.
    fail_read: bool,
    /// `get` and `has` panic.
    panic_in_read: bool,
    fail_set: bool,
}

unsafe fn key<'a>(ptr: *const u8, len: usize) -> &'a [u8] {
    if len == 0 {
        &[]
    } else {
        // SAFETY: Gasket passes `len` readable bytes.
        unsafe { std::slice::from_raw_parts(ptr, len) }
    }
}

unsafe extern "C-unwind" fn get(
    ctx: *mut c_void,
    k: *const u8,
    k_len: usize,
    value: *mut GasketValue,
) -> i32 {
    // SAFETY: ctx is the test's `Node`.
    let node = unsafe { &*(ctx as *const Node) };
    if node.panic_in_read {
        panic!("the node's database exploded");
    }
    if node.fail_read {
        return 5;
    }
    // SAFETY: as documented for callbacks.
    if let Some(v) = node.map.borrow().get(unsafe { key(k, k_len) }) {
        assert_eq!(
            gasket_value_set(value, v.as_ptr(), v.len(), null_mut()),
            GASKET_OK
        );
    }
    0
}

unsafe extern "C-unwind" fn set(
    ctx: *mut c_void,
    k: *const u8,
    k_len: usize,
    v: *const u8,
    v_len: usize,
) -> i32 {
    // SAFETY: ctx is the test's `Node`; key and value as documented.
    let node = unsafe { &*(ctx as *const Node) };
    if node.fail_set {
        return -1;
    }
    // SAFETY: Gasket passes `k`/`v` valid for `k_len`/`v_len` bytes for this call.
    let (k, v) = unsafe { (key(k, k_len).to_vec(), key(v, v_len).to_vec()) };
    node.map.borrow_mut().insert(k, v);
    0
}

unsafe extern "C-unwind" fn remove(ctx: *mut c_void, k: *const u8, k_len: usize) -> i32 {
    // SAFETY: as in `set`.
    let node = unsafe { &*(ctx as *const Node) };
    // SAFETY: Gasket passes `k` valid for `k_len` bytes for this call.
    node.map.borrow_mut().remove(unsafe { key(k, k_len) });
    0
}

unsafe extern "C-unwind" fn has(
    ctx: *mut c_void,
    k: *const u8,
    k_len: usize,
    found: *mut bool,
) -> i32 {
    // SAFETY: as in `set`; `found` is writable.
    let node = unsafe { &*(ctx as *const Node) };
    if node.panic_in_read {
        panic!("the node's database exploded");
    }
    if node.fail_read {
        return 5;
    }
    // SAFETY: `found` is writable and `k` valid for `k_len` bytes for this call.
    unsafe { *found = node.map.borrow().contains_key(key(k, k_len)) };
    0
}

fn storage(node: &Node) -> GasketStorage {
    GasketStorage {
        ctx: node as *const Node as *mut c_void,
        get: Some(get),
        set: Some(set),
        remove: Some(remove),
        has: Some(has),
    }
}

fn amount_to(amount: u64, account: &str) -> Vec<u8> {
    let mut v = amount.to_le_bytes().to_vec();
    v.extend_from_slice(account.as_bytes());
    v
}

/// Calls `method`; the outcome, or the error's code and message.
fn call(
    module: *const GasketModule,
    node: &Node,
    method: &str,
    caller: &str,
    input: &[u8],
    gas: u64,
) -> Result<*mut GasketOutcome, (GasketErrorCode, String)> {
    let method = CString::new(method).unwrap();
    let params = GasketCallParams {
        method: method.as_ptr(),
        input: input.as_ptr(),
        input_len: input.len(),
        caller: caller.as_ptr(),
        caller_len: caller.len(),
        current_account: b"token".as_ptr(),
        current_account_len: 5,
        gas_limit: gas,
        block_height: 7,
        block_timestamp: 1_000_000_000,
    };
    let mut out = null_mut();
    let mut err = null_mut();
    match gasket_call(module, &params, &storage(node), &mut out, &mut err) {
        GASKET_OK => {
            assert!(err.is_null());
            Ok(out)
        }
        code => {
            assert!(out.is_null());
            let taken = take(err);
            assert_eq!(taken.0, code);
            Err(taken)
        }
    }
}

fn slice<'a>(ptr: *const u8, len: usize) -> &'a [u8] {
    if ptr.is_null() {
        assert_eq!(len, 0);
        return &[];
    }
    // SAFETY: the outcome is alive while the test reads it.
    unsafe { std::slice::from_raw_parts(ptr, len) }
}

fn message(o: *const GasketOutcome) -> Option<String> {
    let mut len = 0;
    let p = gasket_outcome_message(o, &mut len);
    (!p.is_null()).then(|| String::from_utf8(slice(p, len).to_vec()).unwrap())
}

fn return_data(o: *const GasketOutcome) -> Vec<u8> {
    let mut len = 0;
    slice(gasket_outcome_return_data(o, &mut len), len).to_vec()
}

fn logs(o: *const GasketOutcome) -> Vec<String> {
    (0..gasket_outcome_log_count(o))
        .map(|i| {
            let mut len = 0;
            String::from_utf8(slice(gasket_outcome_log(o, i, &mut len), len).to_vec()).unwrap()
        })
        .collect()
}

#[test]
fn versions() {
    assert_eq!(gasket_abi_version(), 1);
    assert_eq!(gasket_abi_version(), GASKET_ABI_VERSION);
    // SAFETY: a static NUL-terminated string.
    let v = unsafe { CStr::from_ptr(gasket_version()) };
    assert_eq!(v.to_str().unwrap(), env!("CARGO_PKG_VERSION"));
}

#[test]
fn engine_arguments_are_checked() {
    let mut e = null_mut();
    let mut err = null_mut();
    assert_eq!(
        gasket_engine_new(null(), &mut e, &mut err),
        GASKET_ERROR_NULL_ARGUMENT
    );
    assert_eq!(take(err).1, "argument `config` is NULL");
    assert!(e.is_null());
    let c = config(GasketProfile::GASKET_PROFILE_CONTRACT);
    assert_eq!(
        gasket_engine_new(&c, null_mut(), null_mut()),
        GASKET_ERROR_NULL_ARGUMENT,
        "a NULL error slot only drops the message"
    );
    let bad = GasketEngineConfig { profile: 9, ..c };
    assert_eq!(
        gasket_engine_new(&bad, &mut e, &mut err),
        GASKET_ERROR_INVALID_ARGUMENT
    );
    assert_eq!(take(err).1, "unknown profile 9");
    let bad = GasketEngineConfig { floats: 3, ..c };
    assert_eq!(
        gasket_engine_new(&bad, &mut e, &mut err),
        GASKET_ERROR_INVALID_ARGUMENT
    );
    assert_eq!(take(err).1, "unknown float policy 3");
    let bad_dir = [0xffu8, 0];
    let bad = GasketEngineConfig {
        cache_dir: bad_dir.as_ptr().cast(),
        ..c
    };
    assert_eq!(
        gasket_engine_new(&bad, &mut e, &mut err),
        GASKET_ERROR_INVALID_ARGUMENT
    );
    assert_eq!(take(err).1, "cache_dir is not UTF-8");
    gasket_engine_free(null_mut());
    assert_eq!(gasket_error_code(null()), GASKET_ERROR_NULL_ARGUMENT);
    assert!(gasket_error_message(null()).is_null());
    gasket_error_free(null_mut());
}

#[test]
fn profiles_and_float_policies() {
    let floats = wat::parse_str("(module (func (export \"f\") (result f32) f32.const 1))").unwrap();
    for (profile, policy, ok) in [
        (
            GasketProfile::GASKET_PROFILE_CONTRACT,
            GasketFloatPolicy::GASKET_FLOATS_PROFILE_DEFAULT,
            true,
        ),
        (
            GasketProfile::GASKET_PROFILE_CONTRACT,
            GasketFloatPolicy::GASKET_FLOATS_REJECT,
            false,
        ),
        (
            GasketProfile::GASKET_PROFILE_PERMISSIVE,
            GasketFloatPolicy::GASKET_FLOATS_CANONICALIZE,
            true,
        ),
        (
            GasketProfile::GASKET_PROFILE_NEAR,
            GasketFloatPolicy::GASKET_FLOATS_REJECT,
            false,
        ),
    ] {
        let c = GasketEngineConfig {
            floats: policy as u32,
            ..config(profile)
        };
        let mut e = null_mut();
        assert_eq!(gasket_engine_new(&c, &mut e, null_mut()), GASKET_OK);
        let mut m = null_mut();
        let mut err = null_mut();
        let code = gasket_module_compile(e, floats.as_ptr(), floats.len(), &mut m, &mut err);
        if ok {
            assert_eq!(code, GASKET_OK, "{profile:?} {policy:?}");
        } else {
            assert_eq!(code, GASKET_ERROR_INVALID_MODULE, "{profile:?} {policy:?}");
            assert!(take(err).1.contains("float"));
        }
        gasket_module_free(m);
        gasket_engine_free(e);
    }
}

#[test]
fn compile_serialize_deserialize() {
    let e = engine(GasketProfile::GASKET_PROFILE_CONTRACT);
    let mut m = null_mut();
    let mut err = null_mut();
    assert_eq!(
        gasket_module_compile(e, b"not wasm".as_ptr(), 8, &mut m, &mut err),
        GASKET_ERROR_INVALID_MODULE
    );
    assert!(take(err).1.starts_with("module rejected"));
    assert_eq!(
        gasket_module_compile(null(), token().as_ptr(), token().len(), &mut m, &mut err),
        GASKET_ERROR_NULL_ARGUMENT
    );
    take(err);
    assert_eq!(
        gasket_module_compile(e, null(), 10, &mut m, &mut err),
        GASKET_ERROR_NULL_ARGUMENT
    );
    assert_eq!(take(err).1, "argument `wasm` is NULL");
    let module = compile(e, token());

    let mut bytes = null_mut();
    assert_eq!(
        gasket_module_serialize(module, &mut bytes, null_mut()),
        GASKET_OK
    );
    let serialized = slice(gasket_bytes_data(bytes), gasket_bytes_len(bytes)).to_vec();
    assert!(serialized.starts_with(b"GASKETMD"));
    assert_eq!(
        gasket_module_serialize(null(), &mut bytes, &mut err),
        GASKET_ERROR_NULL_ARGUMENT
    );
    take(err);
    let mut copy = null_mut();
    assert_eq!(
        gasket_module_deserialize(
            e,
            serialized.as_ptr(),
            serialized.len(),
            &mut copy,
            null_mut()
        ),
        GASKET_OK
    );
    // The deserialized module runs like the original.
    let node = Node::default();
    let out = call(copy, &node, "init", "owner", &[], 100_000_000).unwrap();
    assert_eq!(gasket_outcome_status(out), GasketCallStatus::GASKET_CALL_OK);
    gasket_outcome_free(out);

    let mut corrupt = serialized.clone();
    let last = corrupt.len() - 1;
    corrupt[last] ^= 1;
    let mut refused = null_mut();
    assert_eq!(
        gasket_module_deserialize(e, corrupt.as_ptr(), corrupt.len(), &mut refused, &mut err),
        GASKET_ERROR_ARTIFACT
    );
    assert!(take(err).1.starts_with("serialized module refused"));
    assert!(refused.is_null());
    // Another profile's engine refuses the artifact too.
    let permissive = engine(GasketProfile::GASKET_PROFILE_PERMISSIVE);
    assert_eq!(
        gasket_module_deserialize(
            permissive,
            serialized.as_ptr(),
            serialized.len(),
            &mut refused,
            &mut err
        ),
        GASKET_ERROR_ARTIFACT
    );
    take(err);
    assert!(gasket_bytes_data(null()).is_null());
    assert_eq!(gasket_bytes_len(null()), 0);
    gasket_bytes_free(bytes);
    gasket_bytes_free(null_mut());
    gasket_module_free(copy);
    gasket_module_free(module);
    gasket_module_free(null_mut());
    gasket_engine_free(permissive);
    gasket_engine_free(e);
}

#[test]
fn memory_and_disk_cache_by_bytes_and_by_hash() {
    let dir = std::env::temp_dir().join(format!("gasket-capi-cache-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let dir_c = CString::new(dir.to_str().unwrap()).unwrap();
    let c = GasketEngineConfig {
        cache_dir: dir_c.as_ptr(),
        ..config(GasketProfile::GASKET_PROFILE_CONTRACT)
    };
    let mut e = null_mut();
    assert_eq!(gasket_engine_new(&c, &mut e, null_mut()), GASKET_OK);
    let wasm = token();
    let hash: [u8; 32] = sha256(wasm);

    let mut m = null_mut();
    let mut err = null_mut();
    assert_eq!(
        gasket_engine_load_by_hash(e, hash.as_ptr(), null(), 0, &mut m, &mut err),
        GASKET_ERROR_NOT_CACHED
    );
    take(err);
    let mut wrong = hash;
    wrong[0] ^= 1;
    assert_eq!(
        gasket_engine_load_by_hash(
            e,
            wrong.as_ptr(),
            wasm.as_ptr(),
            wasm.len(),
            &mut m,
            &mut err
        ),
        GASKET_ERROR_CODE_HASH_MISMATCH
    );
    take(err);
    assert_eq!(
        gasket_engine_load_by_hash(e, null(), wasm.as_ptr(), wasm.len(), &mut m, &mut err),
        GASKET_ERROR_NULL_ARGUMENT
    );
    take(err);
    let mut by_hash = null_mut();
    assert_eq!(
        gasket_engine_load_by_hash(
            e,
            hash.as_ptr(),
            wasm.as_ptr(),
            wasm.len(),
            &mut by_hash,
            null_mut()
        ),
        GASKET_OK
    );
    let mut hit = null_mut();
    assert_eq!(
        gasket_engine_load_by_hash(e, hash.as_ptr(), null(), 0, &mut hit, null_mut()),
        GASKET_OK
    );
    let mut loaded = null_mut();
    assert_eq!(
        gasket_engine_load(e, wasm.as_ptr(), wasm.len(), &mut loaded, null_mut()),
        GASKET_OK
    );
    let mut stats = GasketCacheStats::default();
    assert_eq!(
        gasket_engine_cache_stats(e, &mut stats, null_mut()),
        GASKET_OK
    );
    assert_eq!(
        stats,
        GasketCacheStats {
            compiles: 1,
            memory_hits: 2,
            disk_writes: 1,
            ..Default::default()
        }
    );
    assert_eq!(gasket_engine_clear_memory_cache(e, null_mut()), GASKET_OK);
    let mut from_disk = null_mut();
    assert_eq!(
        gasket_engine_load(e, wasm.as_ptr(), wasm.len(), &mut from_disk, null_mut()),
        GASKET_OK
    );
    assert_eq!(
        gasket_engine_cache_stats(e, &mut stats, null_mut()),
        GASKET_OK
    );
    assert_eq!(stats.disk_hits, 1);
    assert_eq!(stats.compiles, 1);
    assert_eq!(
        gasket_engine_cache_stats(e, null_mut(), &mut err),
        GASKET_ERROR_NULL_ARGUMENT
    );
    take(err);
    assert_eq!(
        gasket_engine_clear_memory_cache(null(), &mut err),
        GASKET_ERROR_NULL_ARGUMENT
    );
    take(err);
    assert_eq!(
        gasket_engine_load(null(), wasm.as_ptr(), wasm.len(), &mut m, &mut err),
        GASKET_ERROR_NULL_ARGUMENT
    );
    take(err);
    for m in [by_hash, hit, loaded, from_disk] {
        gasket_module_free(m);
    }
    gasket_engine_free(e);
    std::fs::remove_dir_all(&dir).unwrap();
}

fn sha256(data: &[u8]) -> [u8; 32] {
    use sha2::Digest;
    sha2::Sha256::digest(data).into()
}

#[test]
fn token_calls_match_the_harness() {
    let e = engine(GasketProfile::GASKET_PROFILE_CONTRACT);
    let m = compile(e, token());
    let node = Node::default();
    let mut chain = gasket_vm::testing::TestChain::new();
    chain.deploy("token", token()).unwrap();
    chain.set_block(7, 1_000_000_000);
    let steps: [(&str, &str, Vec<u8>); 5] = [
        ("init", "owner", vec![]),
        ("mint", "owner", amount_to(100, "alice")),
        ("transfer", "alice", amount_to(30, "bob")),
        ("transfer", "bob", amount_to(31, "alice")),
        ("balance_of", "alice", b"alice".to_vec()),
    ];
    for (method, caller, input) in steps {
        let out = call(m, &node, method, caller, &input, 100_000_000).unwrap();
        let expected = chain
            .call("token", method)
            .caller(caller)
            .input(input)
            .gas(100_000_000)
            .run()
            .unwrap();
        assert_eq!(gasket_outcome_gas_used(out), expected.gas_used, "{method}");
        assert_eq!(return_data(out), expected.return_data, "{method}");
        assert_eq!(logs(out), expected.logs, "{method}");
        assert_eq!(
            message(out).as_deref(),
            expected.status.message(),
            "{method}"
        );
        let status = gasket_outcome_status(out);
        assert_eq!(
            status,
            match expected.status.as_str() {
                "ok" => GasketCallStatus::GASKET_CALL_OK,
                "panic" => GasketCallStatus::GASKET_CALL_PANIC,
                _ => GasketCallStatus::GASKET_CALL_TRAP,
            }
        );
        assert!(gasket_outcome_trap_kind(out).is_null());
        assert_eq!(
            gasket_outcome_state_change_count(out),
            expected.state_changes.len()
        );
        for (i, change) in expected.state_changes.iter().enumerate() {
            let (mut k, mut kl, mut v, mut vl) = (null(), 0, null(), 0);
            assert_eq!(
                gasket_outcome_state_change(out, i, &mut k, &mut kl, &mut v, &mut vl, null_mut()),
                GASKET_OK
            );
            assert_eq!(slice(k, kl), &change.key[..]);
            assert_eq!(v.is_null(), change.value.is_none());
            assert_eq!(slice(v, vl), change.value.as_deref().unwrap_or_default());
        }
        let mut err = null_mut();
        let (mut k, mut kl, mut v, mut vl) = (null(), 0, null(), 0);
        assert_eq!(
            gasket_outcome_state_change(out, 99, &mut k, &mut kl, &mut v, &mut vl, &mut err),
            GASKET_ERROR_INVALID_ARGUMENT
        );
        assert!(take(err).1.starts_with("state change 99 does not exist"));
        assert_eq!(
            gasket_outcome_state_change(out, 0, null_mut(), &mut kl, &mut v, &mut vl, &mut err),
            GASKET_ERROR_NULL_ARGUMENT
        );
        take(err);
        gasket_outcome_free(out);
    }
    assert_eq!(
        node.map.borrow().clone(),
        chain.storage("token").unwrap().as_map().clone()
    );
    assert_eq!(
        node.map.borrow().len(),
        chain.storage("token").unwrap().len()
    );

    // Out of gas: a trap with a kind and no message; the limit is the gas used.
    let out = call(m, &node, "transfer", "alice", &amount_to(1, "bob"), 100).unwrap();
    assert_eq!(
        gasket_outcome_status(out),
        GasketCallStatus::GASKET_CALL_TRAP
    );
    // SAFETY: a static NUL-terminated string.
    let kind = unsafe { CStr::from_ptr(gasket_outcome_trap_kind(out)) };
    assert_eq!(kind.to_str().unwrap(), "out_of_gas");
    assert_eq!(gasket_outcome_gas_used(out), 100);
    assert_eq!(message(out), None);
    gasket_outcome_free(out);

    assert_eq!(
        call(m, &node, "no_such_method", "alice", &[], 1_000)
            .unwrap_err()
            .0,
        GASKET_ERROR_NO_SUCH_METHOD
    );
    gasket_module_free(m);
    gasket_engine_free(e);
}

#[test]
fn outcome_accessors_accept_null() {
    assert_eq!(
        gasket_outcome_status(null()),
        GasketCallStatus::GASKET_CALL_TRAP
    );
    assert!(gasket_outcome_trap_kind(null()).is_null());
    let mut len = 7;
    assert!(gasket_outcome_message(null(), &mut len).is_null());
    assert_eq!(len, 0);
    assert!(gasket_outcome_return_data(null(), null_mut()).is_null());
    assert!(gasket_outcome_log(null(), 0, null_mut()).is_null());
    assert_eq!(gasket_outcome_gas_used(null()), 0);
    assert_eq!(gasket_outcome_log_count(null()), 0);
    assert_eq!(gasket_outcome_state_change_count(null()), 0);
    gasket_outcome_free(null_mut());
    let mut err = null_mut();
    assert_eq!(
        gasket_value_set(null_mut(), null(), 0, &mut err),
        GASKET_ERROR_NULL_ARGUMENT
    );
    take(err);
}

#[test]
fn call_arguments_are_checked() {
    let e = engine(GasketProfile::GASKET_PROFILE_CONTRACT);
    let m = compile(e, token());
    let node = Node::default();
    let mut table = storage(&node);
    let method = c"init";
    let mut params = GasketCallParams {
        method: method.as_ptr(),
        input: null(),
        input_len: 0,
        caller: null(),
        caller_len: 0,
        current_account: null(),
        current_account_len: 0,
        gas_limit: 100_000_000,
        block_height: 1,
        block_timestamp: 1,
    };
    let mut out = null_mut();
    let mut err = null_mut();
    assert_eq!(
        gasket_call(null(), &params, &table, &mut out, &mut err),
        GASKET_ERROR_NULL_ARGUMENT
    );
    take(err);
    assert_eq!(
        gasket_call(m, null(), &table, &mut out, &mut err),
        GASKET_ERROR_NULL_ARGUMENT
    );
    take(err);
    assert_eq!(
        gasket_call(m, &params, null(), &mut out, &mut err),
        GASKET_ERROR_NULL_ARGUMENT
    );
    take(err);
    assert_eq!(
        gasket_call(m, &params, &table, null_mut(), &mut err),
        GASKET_ERROR_NULL_ARGUMENT
    );
    take(err);
    table.has = None;
    assert_eq!(
        gasket_call(m, &params, &table, &mut out, &mut err),
        GASKET_ERROR_NULL_ARGUMENT
    );
    assert!(take(err).1.contains("storage callback"));
    table.has = Some(has);
    params.input_len = 3;
    assert_eq!(
        gasket_call(m, &params, &table, &mut out, &mut err),
        GASKET_ERROR_NULL_ARGUMENT
    );
    assert_eq!(take(err).1, "argument `params->input` is NULL");
    params.input_len = 0;
    let not_utf8 = [0xc3u8, 0x28, 0];
    params.method = not_utf8.as_ptr().cast();
    assert_eq!(
        gasket_call(m, &params, &table, &mut out, &mut err),
        GASKET_ERROR_INVALID_ARGUMENT
    );
    take(err);
    params.method = null();
    assert_eq!(
        gasket_call(m, &params, &table, &mut out, &mut err),
        GASKET_ERROR_NULL_ARGUMENT
    );
    take(err);
    assert!(out.is_null());
    assert!(node.map.borrow().is_empty(), "refused calls write nothing");
    gasket_module_free(m);
    gasket_engine_free(e);
}

#[test]
fn failing_and_panicking_callbacks_are_storage_errors() {
    let e = engine(GasketProfile::GASKET_PROFILE_CONTRACT);
    let m = compile(e, token());
    let failing_set = Node {
        fail_set: true,
        ..Node::default()
    };
    let (code, msg) = call(m, &failing_set, "init", "owner", &[], 100_000_000).unwrap_err();
    assert_eq!(code, GASKET_ERROR_STORAGE);
    assert!(msg.contains("`set` callback failed with -1"), "{msg}");

    let failing_get = Node {
        fail_read: true,
        ..Node::default()
    };
    let (code, msg) = call(m, &failing_get, "init", "owner", &[], 100_000_000).unwrap_err();
    assert_eq!(code, GASKET_ERROR_STORAGE);
    assert!(msg.contains("callback failed with 5"), "{msg}");

    let panicking = Node {
        panic_in_read: true,
        ..Node::default()
    };
    let (code, msg) = call(m, &panicking, "init", "owner", &[], 100_000_000).unwrap_err();
    assert_eq!(code, GASKET_ERROR_STORAGE);
    assert!(msg.contains("callback panicked"), "{msg}");
    // The engine and module still work afterwards.
    let node = Node::default();
    let out = call(m, &node, "init", "owner", &[], 100_000_000).unwrap();
    assert_eq!(gasket_outcome_status(out), GasketCallStatus::GASKET_CALL_OK);
    gasket_outcome_free(out);
    gasket_module_free(m);
    gasket_engine_free(e);
}

#[test]
fn one_engine_and_module_serve_calls_from_many_threads() {
    let e = engine(GasketProfile::GASKET_PROFILE_CONTRACT);
    let m = compile(e, token());
    // Raw pointers are not `Send`; the header documents engines and modules as thread-safe.
    let (engine_addr, module_addr) = (e as usize, m as usize);
    let gas: Vec<Vec<u64>> = std::thread::scope(|s| {
        let threads: Vec<_> = (0..4)
            .map(|_| {
                s.spawn(move || {
                    let module = module_addr as *const GasketModule;
                    let mut loaded = null_mut();
                    let wasm = token();
                    let engine = engine_addr as *const GasketEngine;
                    assert_eq!(
                        gasket_engine_load(
                            engine,
                            wasm.as_ptr(),
                            wasm.len(),
                            &mut loaded,
                            null_mut()
                        ),
                        GASKET_OK
                    );
                    gasket_module_free(loaded);
                    let node = Node::default();
                    let steps = [
                        ("init", "owner", vec![]),
                        ("mint", "owner", amount_to(100, "alice")),
                        ("transfer", "alice", amount_to(30, "bob")),
                    ];
                    let used: Vec<u64> = steps
                        .iter()
                        .map(|(method, caller, input)| {
                            let out =
                                call(module, &node, method, caller, input, 100_000_000).unwrap();
                            assert_eq!(
                                gasket_outcome_status(out),
                                GasketCallStatus::GASKET_CALL_OK
                            );
                            let g = gasket_outcome_gas_used(out);
                            gasket_outcome_free(out);
                            g
                        })
                        .collect();
                    assert_eq!(node.map.borrow().len(), 4);
                    used
                })
            })
            .collect();
        threads.into_iter().map(|t| t.join().unwrap()).collect()
    });
    assert!(gas.windows(2).all(|w| w[0] == w[1]), "{gas:?}");
    let mut stats = GasketCacheStats::default();
    assert_eq!(
        gasket_engine_cache_stats(e, &mut stats, null_mut()),
        GASKET_OK
    );
    assert_eq!(stats.compiles, 1, "concurrent loads compile once");
    gasket_module_free(m);
    gasket_engine_free(e);
}
