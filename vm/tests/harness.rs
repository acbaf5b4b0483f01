//! The contract harness (`gasket_vm::testing`): outcomes, atomicity, determinism.

use gasket_vm::testing::{HarnessError, Outcome, Status, TestChain};
use gasket_vm::TrapKind;

/// A contract exercising every part of an outcome. Methods:
/// - `echo`: returns its input, logs "echo";
/// - `put`: stores input under key "k", returns nothing;
/// - `put_then_trap`: stores, logs, then `unreachable`;
/// - `put_then_panic`: stores, logs, then panics with "nope";
/// - `who`: returns caller ‖ current_account ‖ height (8 LE) ‖ timestamp (8 LE);
/// - `spin`: loops forever.
const PROBE: &str = r#"
(module
  (import "env" "input" (func $input (param i64)))
  (import "env" "register_len" (func $register_len (param i64) (result i64)))
  (import "env" "read_register" (func $read_register (param i64 i32)))
  (import "env" "return_value" (func $return_value (param i32 i32)))
  (import "env" "log_utf8" (func $log (param i32 i32)))
  (import "env" "panic_utf8" (func $panic (param i32 i32)))
  (import "env" "storage_write" (func $write (param i32 i32 i32 i32) (result i32)))
  (import "env" "caller" (func $caller (param i64)))
  (import "env" "current_account" (func $account (param i64)))
  (import "env" "block_height" (func $height (result i64)))
  (import "env" "block_timestamp" (func $timestamp (result i64)))
  (memory 1)
  (data (i32.const 0) "k")
  (data (i32.const 8) "echo")
  (data (i32.const 16) "nope")
  ;; Reads register 0 to address 1024; returns its length.
  (func $reg (result i32)
    (local $len i32)
    (local.set $len (i32.wrap_i64 (call $register_len (i64.const 0))))
    (call $read_register (i64.const 0) (i32.const 1024))
    (local.get $len))
  (func $store_input
    (call $input (i64.const 0))
    (drop (call $write (i32.const 0) (i32.const 1) (i32.const 1024) (call $reg))))
  (func (export "echo")
    (call $input (i64.const 0))
    (call $log (i32.const 8) (i32.const 4))
    (call $return_value (i32.const 1024) (call $reg)))
  (func (export "put") (call $store_input))
  (func (export "put_then_trap")
    (call $store_input)
    (call $log (i32.const 8) (i32.const 4))
    unreachable)
  (func (export "put_then_panic")
    (call $store_input)
    (call $log (i32.const 8) (i32.const 4))
    (call $panic (i32.const 16) (i32.const 4)))
  (func (export "who")
    (local $n i32) (local $m i32)
    (call $caller (i64.const 0))
    (local.set $n (call $reg))
    (memory.copy (i32.const 2048) (i32.const 1024) (local.get $n))
    (call $account (i64.const 0))
    (local.set $m (call $reg))
    (memory.copy (i32.add (i32.const 2048) (local.get $n)) (i32.const 1024) (local.get $m))
    (local.set $n (i32.add (local.get $n) (local.get $m)))
    (i64.store (i32.add (i32.const 2048) (local.get $n)) (call $height))
    (i64.store (i32.add (i32.const 2056) (local.get $n)) (call $timestamp))
    (call $return_value (i32.const 2048) (i32.add (local.get $n) (i32.const 16))))
  (func (export "spin") (loop $l (br $l))))
"#;

fn probe_chain() -> TestChain {
    let mut chain = TestChain::new();
    chain
        .deploy("probe", &wat::parse_str(PROBE).unwrap())
        .expect("deploys");
    chain
}

#[test]
fn counter_fixture_counts_and_logs() {
    let mut chain = TestChain::new();
    chain
        .deploy("counter", &gasket_fixtures::wasm("counter"))
        .unwrap();
    for expected in 1..=3u64 {
        let out = chain.call("counter", "increment").run().unwrap();
        assert_eq!(out.unwrap_u64(), expected);
        assert_eq!(out.logs, vec!["incremented".to_string()]);
        assert_eq!(out.state_changes.len(), 1);
        assert!(out.gas_used > 0);
    }
    let out = chain.call("counter", "get").run().unwrap();
    assert_eq!(out.unwrap_u64(), 3);
    assert!(out.state_changes.is_empty());
    assert_eq!(
        chain.view("counter", b"count"),
        Some(3u64.to_le_bytes().to_vec())
    );
}

#[test]
fn input_return_logs_and_context() {
    let mut chain = probe_chain();
    let out = chain
        .call("probe", "echo")
        .input(b"hello".to_vec())
        .run()
        .unwrap();
    assert_eq!(out.unwrap(), b"hello");
    assert_eq!(out.logs, vec!["echo".to_string()]);

    chain.set_block(42, 7_000);
    let out = chain.call("probe", "who").caller("bob").run().unwrap();
    let mut expected = b"bobprobe".to_vec();
    expected.extend(42u64.to_le_bytes());
    expected.extend(7_000u64.to_le_bytes());
    assert_eq!(out.unwrap(), expected);

    let out = chain
        .call("probe", "who")
        .caller("carol")
        .block_height(9)
        .block_timestamp(10)
        .run()
        .unwrap();
    let mut expected = b"carolprobe".to_vec();
    expected.extend(9u64.to_le_bytes());
    expected.extend(10u64.to_le_bytes());
    assert_eq!(out.unwrap(), expected);
    chain.advance_block(2);
    assert_eq!(chain.block_height(), 43);
    assert_eq!(chain.block_timestamp(), 2_000_007_000);
}

#[test]
fn traps_and_panics_leave_storage_untouched() {
    let mut chain = probe_chain();
    chain
        .call("probe", "put")
        .input(b"v1".to_vec())
        .run()
        .unwrap()
        .unwrap();
    let before = chain.storage("probe").unwrap().clone();

    let out = chain
        .call("probe", "put_then_trap")
        .input(b"v2".to_vec())
        .run()
        .unwrap();
    assert_eq!(out.status.trap_kind(), Some(TrapKind::Unreachable));
    assert_eq!(
        out.logs,
        vec!["echo".to_string()],
        "logs kept for diagnosis"
    );
    assert!(out.state_changes.is_empty());
    assert_eq!(chain.storage("probe").unwrap(), &before);

    let out = chain
        .call("probe", "put_then_panic")
        .input(b"v3".to_vec())
        .run()
        .unwrap();
    assert_eq!(
        out.status,
        Status::Panic {
            message: "nope".into()
        }
    );
    assert_eq!(out.panic_message(), Some("nope"));
    assert_eq!(out.status.as_str(), "panic");
    assert_eq!(chain.storage("probe").unwrap(), &before);

    let out = chain.call("probe", "spin").gas(12_345).run().unwrap();
    assert_eq!(out.status.trap_kind(), Some(TrapKind::OutOfGas));
    assert_eq!(out.gas_used, 12_345);
    assert_eq!(chain.storage("probe").unwrap(), &before);

    // Out of gas inside a host function (the write's per-byte price).
    let big = vec![7u8; 10_000];
    let out = chain
        .call("probe", "put")
        .input(big)
        .gas(50_000)
        .run()
        .unwrap();
    assert_eq!(out.status.trap_kind(), Some(TrapKind::OutOfGas));
    assert_eq!(out.gas_used, 50_000);
    assert_eq!(chain.storage("probe").unwrap(), &before);
    assert_eq!(chain.view("probe", b"k"), Some(b"v1".to_vec()));
}

#[test]
fn usage_errors_run_nothing() {
    let mut chain = probe_chain();
    assert!(matches!(
        chain.call("nobody", "echo").run(),
        Err(HarnessError::NoSuchAccount(_))
    ));
    match chain.call("probe", "missing").run() {
        Err(HarnessError::Call(e)) => {
            assert_eq!(e.kind(), "no_such_export");
            assert!(e.to_string().contains("echo"), "{e}");
        }
        other => panic!("{:?}", other.map(|o| o.status)),
    }
}

fn script(chain: &mut TestChain) -> Vec<Outcome> {
    let mut outs = Vec::new();
    for i in 0..5u8 {
        outs.push(
            chain
                .call("probe", "put")
                .input(vec![i; i as usize])
                .run()
                .unwrap(),
        );
        outs.push(
            chain
                .call("probe", "put_then_panic")
                .input(vec![9])
                .run()
                .unwrap(),
        );
        outs.push(chain.call("probe", "who").caller("x").run().unwrap());
        outs.push(
            chain
                .call("probe", "spin")
                .gas(1000 + u64::from(i))
                .run()
                .unwrap(),
        );
        chain.advance_block(1);
    }
    outs
}

#[test]
fn the_same_calls_give_identical_outcomes_and_state() {
    let (mut a, mut b) = (probe_chain(), probe_chain());
    let (oa, ob) = (script(&mut a), script(&mut b));
    assert_eq!(oa, ob);
    assert_eq!(a.storage("probe"), b.storage("probe"));
    // And gas is exactly reproducible call by call.
    let gas: Vec<u64> = oa.iter().map(|o| o.gas_used).collect();
    assert!(gas.iter().all(|&g| g > 0), "{gas:?}");
}

/// Issue 21 item 5: garbage is refused with one line, and a compiled artifact is
/// recognised (deployed after verification) instead of being parsed as wasm.
#[test]
fn deploy_explains_garbage_and_takes_compiled_artifacts() {
    let mut chain = TestChain::new();
    for garbage in [
        &b""[..],
        b"GASKET? no",
        &[0x7f, 0x45, 0x4c, 0x46, 2, 1, 1, 0],
    ] {
        let message = chain.deploy("x", garbage).unwrap_err().to_string();
        assert!(
            message.contains("not a wasm module (no \\0asm header)") && !message.contains('\n'),
            "{message}"
        );
    }
    let engine = gasket_vm::Engine::new(gasket_vm::metering::Profile::contract()).unwrap();
    let artifact = engine
        .compile(&gasket_fixtures::wasm("counter"))
        .unwrap()
        .serialize();
    chain.deploy("counter", &artifact).unwrap();
    assert_eq!(
        chain
            .call("counter", "increment")
            .run()
            .unwrap()
            .unwrap_u64(),
        1
    );
    // Under another profile it is refused as such.
    let permissive = gasket_vm::Engine::new(gasket_vm::metering::Profile::permissive()).unwrap();
    let other = permissive
        .compile(&gasket_fixtures::wasm("counter"))
        .unwrap()
        .serialize();
    let err = chain.deploy("other", &other).unwrap_err();
    assert_eq!(err.kind(), "wrong_profile");
}
