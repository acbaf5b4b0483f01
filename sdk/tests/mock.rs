//! The SDK on its native mock: every `env` wrapper against the host ABI's documented
//! semantics, `methods!` entry points (decoding, strictness, return encoding), and the
//! call semantics of `testing` (rollback on panic, logs, defaults).

use gasket_sdk::storage::{Map, Value};
use gasket_sdk::{env, testing, Decode, Encode, Remainder};

gasket_sdk::methods! {
    fn echo(text: String, tail: Remainder) -> (String, Vec<u8>) {
        (text, tail.0)
    }

    fn maybe(flag: bool, value: Option<u32>) -> Option<u32> {
        if flag { value } else { None }
    }

    fn write_then_panic(key: Vec<u8>) {
        env::storage_write(&key, b"x");
        env::log("before the panic");
        panic!("failed after writing {} bytes", key.len());
    }

    fn nothing() {}
}

#[test]
fn env_wrappers_follow_the_abi() {
    testing::reset();
    // TestChain's defaults.
    assert_eq!(env::caller(), b"alice");
    assert_eq!(env::current_account(), b"contract");
    assert_eq!(
        (env::block_height(), env::block_timestamp()),
        (1, 1_000_000_000)
    );
    testing::set_caller("bob");
    testing::set_current_account("vault");
    testing::set_block(7, 5);
    testing::advance_block(2);
    assert_eq!(env::caller(), b"bob");
    assert_eq!(env::current_account(), b"vault");
    assert_eq!(
        (env::block_height(), env::block_timestamp()),
        (8, 2_000_000_005)
    );

    // storage_write says whether it replaced a value; remove whether the key existed.
    assert!(!env::storage_write(b"k", b"v1"));
    assert!(env::storage_write(b"k", b""));
    assert_eq!(env::storage_read(b"k"), Some(Vec::new())); // empty, not absent
    assert!(env::storage_has_key(b"k"));
    assert!(env::storage_remove(b"k"));
    assert!(!env::storage_remove(b"k"));
    assert_eq!(env::storage_read(b"k"), None);

    // SHA-256 of "abc" (FIPS 180-2 test vector).
    assert_eq!(
        env::sha256(b"abc")[..4],
        [0xba, 0x78, 0x16, 0xbf],
        "digest prefix"
    );
    env::log("hello");
    assert_eq!(testing::logs(), ["hello"]);
}

#[test]
fn entry_points_decode_strictly_and_encode_results() {
    testing::reset();
    let input = ("hi".to_string(), Remainder(b"rest".to_vec())).encode();
    let out = testing::invoke(METHODS, "echo", &input);
    assert_eq!(
        <(String, Vec<u8>)>::decode(out.unwrap()),
        Ok(("hi".to_string(), b"rest".to_vec()))
    );

    let out = testing::invoke(METHODS, "maybe", &[1, 1, 7, 0, 0, 0]);
    assert_eq!(out.unwrap(), [1, 7, 0, 0, 0]);
    let cases: [(&[u8], &str); 3] = [
        (&[2], "invalid input for maybe: flag: bool is not 0 or 1"),
        (&[1, 3], "invalid input for maybe: value: option tag is not 0 or 1"),
        (
            &[1, 0, 9],
            "invalid input for maybe: after the last argument: unexpected bytes after the last argument",
        ),
    ];
    for (input, message) in cases {
        let out = testing::invoke(METHODS, "maybe", input);
        assert_eq!(out.panic.as_deref(), Some(message), "{input:?}");
    }

    // A method without arguments ignores its input and returns nothing.
    let out = testing::invoke(METHODS, "nothing", b"ignored");
    assert_eq!((out.panic, out.return_data), (None, Vec::new()));
}

#[test]
fn a_panicking_call_rolls_back_its_writes_and_keeps_its_logs() {
    testing::reset();
    testing::set_storage(b"kept", b"1");
    let out = testing::invoke(METHODS, "write_then_panic", &b"key".to_vec().encode());
    assert_eq!(out.panic.as_deref(), Some("failed after writing 3 bytes"));
    assert_eq!(out.logs, ["before the panic"]);
    assert_eq!(testing::storage().len(), 1);
    assert_eq!(testing::view(b"kept"), Some(b"1".to_vec()));
    // The same through `testing::call` with typed arguments.
    let result = testing::call(|| write_then_panic(b"k".to_vec()));
    assert_eq!(result, Err("failed after writing 1 bytes".to_string()));
    assert_eq!(testing::view(b"k"), None);
}

#[test]
fn typed_storage_uses_its_key_and_prefix() {
    testing::reset();
    const NAME: Value<String> = Value::new(b"name");
    const SCORES: Map<u32> = Map::new(b"s:");
    assert_eq!(NAME.get(), None);
    assert!(!NAME.set(&"gasket".to_string()));
    assert_eq!(testing::view(b"name"), Some("gasket".encode()));
    assert!(NAME.exists());
    assert!(!SCORES.insert(b"ann", &3));
    assert_eq!(SCORES.storage_key(b"ann"), b"s:ann");
    assert_eq!(testing::view(b"s:ann"), Some(vec![3, 0, 0, 0]));
    assert!(SCORES.contains_key(b"ann"));
    assert_eq!(SCORES.get_or_default(b"bob"), 0);
    assert!(SCORES.remove(b"ann"));
    // A stored value that does not decode is a contract bug, reported as such.
    testing::set_storage(b"s:bad", &[1]);
    assert_eq!(
        testing::call(|| SCORES.get(b"bad")),
        Err("corrupt value in storage".to_string())
    );
}
