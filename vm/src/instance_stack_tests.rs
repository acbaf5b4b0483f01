//! The depth a call reports for the pool's scrub (`NativeStack::note_call`) covers every
//! byte of the native stack the call wrote: the stack is filled with a pattern, calls of
//! every shape run on it (deep recursion past several grants, many locals, a deep operand
//! stack, block parameters and results, traps, host functions and runtime helpers at
//! depth), and everything below the reported depth must still hold the pattern.

use std::cell::Cell;

use gasket_metering::Profile;
use gasket_singlepass::FuncSig;

use crate::{Engine, Imports, Instance, Value};

const PATTERN: u8 = 0xa5;

thread_local! {
    /// The stack pointer the host function last ran with on this thread.
    static HOST_SP: Cell<usize> = const { Cell::new(0) };
}

/// Recursion with 40 i64 locals and a deep operand stack per frame; `blocks` nests
/// blocks with parameters and results; `trap_at` hits `unreachable` at depth `n`;
/// `host_at` calls a host function, `memory.grow` and `memory.fill` at depth `n`.
const WAT: &str = r#"(module
  (import "host" "nop" (func $nop))
  (memory 1 4)
  (func $rec (export "rec") (param $n i32) (param $x i64) (result i64)
    (local i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64
           i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64)
    (local.set 2 (i64.add (local.get $x) (i64.const 1)))
    (local.set 41 (i64.mul (local.get 2) (i64.const 3)))
    (if (result i64) (i32.eqz (local.get $n))
      (then (local.get 41))
      (else
        (i64.add (local.get 2)
          (i64.add (local.get 41)
            (i64.add (local.get $x)
              (i64.add (i64.const 7)
                (call $rec (i32.sub (local.get $n) (i32.const 1)) (local.get 41)))))))))
  (func $host_at (export "host_at") (param $n i32)
    (local i64 i64 i64 i64 i64 i64 i64 i64)
    (if (i32.eqz (local.get $n))
      (then (call $nop) (drop (memory.grow (i32.const 1))) (memory.fill (i32.const 0) (i32.const 1) (i32.const 100)))
      (else (call $host_at (i32.sub (local.get $n) (i32.const 1))))))
  (func $trap_at (export "trap_at") (param $n i32)
    (if (i32.eqz (local.get $n)) (then unreachable))
    (call $trap_at (i32.sub (local.get $n) (i32.const 1))))
  (func (export "blocks") (param i64 i64) (result i64 i64)
    (local.get 0) (local.get 1)
    (block (param i64 i64) (result i64 i64)
      (loop (param i64 i64) (result i64 i64)
        (block (param i64 i64) (result i64 i64)
          (i64.add) (i32.const 3) (local.get 1) (call $rec)))))
  (func (export "host") (call $nop)))"#;

fn new_instance() -> Instance {
    let engine = Engine::new(Profile::permissive()).unwrap();
    let module = engine.compile(&wat::parse_str(WAT).unwrap()).unwrap();
    let mut imports = Imports::new();
    let sig = FuncSig {
        params: vec![],
        results: vec![],
    };
    imports.func("host", "nop", sig, |_, _| {
        HOST_SP.set(psm::stack_pointer() as usize);
        Ok(vec![])
    });
    Instance::new(&module, &imports, 0).unwrap()
}

/// The usable stack as bytes.
fn stack_bytes(instance: &mut Instance) -> &mut [u8] {
    let stack = &instance.stack;
    // SAFETY: the stack's usable range is mapped read-write and no call is running.
    unsafe { std::slice::from_raw_parts_mut(stack.limit(), stack.usable()) }
}

#[test]
fn a_call_writes_nothing_below_the_depth_it_reports() {
    let calls: &[(&str, &[Value])] = &[
        ("rec", &[Value::I32(0), Value::I64(1)]),
        ("rec", &[Value::I32(3), Value::I64(1)]),
        ("rec", &[Value::I32(40), Value::I64(1)]),
        ("rec", &[Value::I32(900), Value::I64(1)]),
        ("trap_at", &[Value::I32(500)]),
        ("host_at", &[Value::I32(0)]),
        ("host_at", &[Value::I32(300)]),
        ("blocks", &[Value::I64(2), Value::I64(3)]),
    ];
    for &(export, args) in calls {
        let mut instance = new_instance();
        stack_bytes(&mut instance).fill(PATTERN);
        let outcome = instance.call(export, args, 100_000_000).unwrap();
        let written = instance
            .stack
            .written()
            .unwrap_or_else(|| panic!("{export}{args:?}: depth unknown ({outcome:?})"));
        let bytes = stack_bytes(&mut instance);
        let boundary = bytes.len() - written.min(bytes.len());
        let below = &bytes[..boundary];
        if let Some(deepest) = below.iter().position(|&b| b != PATTERN) {
            panic!(
                "{export}{args:?}: wrote {} bytes below the top, reported {written}",
                bytes.len() - deepest
            );
        }
        assert!(
            bytes[boundary..].iter().any(|&b| b != PATTERN),
            "{export}{args:?}: the call wrote nothing"
        );
    }
}

#[test]
fn only_an_overflow_makes_the_depth_unknown() {
    let mut instance = new_instance();
    instance.call("host_at", &[Value::I32(2)], 1 << 30).unwrap();
    assert!(
        instance.stack.written().is_some(),
        "host functions run on the host stack"
    );
    let outcome = instance
        .call("trap_at", &[Value::I32(1 << 30)], 1 << 40)
        .unwrap();
    let trap = outcome.result.unwrap_err();
    assert_eq!(trap.kind, gasket_singlepass::TrapKind::StackOverflow);
    assert_eq!(instance.stack.written(), None);
}
