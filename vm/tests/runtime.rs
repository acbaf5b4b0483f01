//! End-to-end tests: wasm text → prepare → singlepass → instantiate → call. The
//! runtime's own logic is also tested without the compiler in the unit tests (`src/*`),
//! including a hand-assembled call path.

use std::sync::{Arc, Mutex};

use gasket_vm::host_api::{CallContext, HostEnv, MemoryStorage, Storage};
use gasket_vm::metering::Profile;
use gasket_vm::{
    CallOutcome, Engine, FuncSig, HostTrap, Imports, Instance, Module, TrapKind, ValType, Value,
};

const GAS: u64 = 10_000_000;

fn compile_with(profile: Profile, wat: &str) -> Module {
    let engine = Engine::new(profile).expect("engine");
    let wasm = wat::parse_str(wat).expect("valid wat");
    engine.compile(&wasm).expect("compiles")
}

fn instance(wat: &str) -> Instance {
    let module = compile_with(Profile::permissive(), wat);
    Instance::new(&module, &Imports::new(), GAS).expect("instantiates")
}

fn ok(out: CallOutcome) -> Vec<Value> {
    match out.result {
        Ok(values) => values,
        Err(trap) => panic!("unexpected {trap}"),
    }
}

fn trap(out: &CallOutcome) -> TrapKind {
    match &out.result {
        Ok(values) => panic!("expected a trap, got {values:?}"),
        Err(trap) => trap.kind,
    }
}

fn call(inst: &mut Instance, name: &str, args: &[Value]) -> CallOutcome {
    inst.call(name, args, GAS).expect("call starts")
}

const ARITH: &str = r#"(module
  (func (export "add") (param i32 i32) (result i32) (i32.add (local.get 0) (local.get 1)))
  (func (export "sub") (param i32 i32) (result i32) (i32.sub (local.get 0) (local.get 1)))
  (func (export "mul") (param i32 i32) (result i32) (i32.mul (local.get 0) (local.get 1)))
  (func (export "mul64") (param i64 i64) (result i64) (i64.mul (local.get 0) (local.get 1)))
  (func (export "mixed") (param i32 i64 i32) (result i64)
    (i64.add (i64.extend_i32_s (local.get 0)) (i64.sub (local.get 1) (i64.extend_i32_u (local.get 2)))))
  (func (export "swap") (param i32 i64) (result i64 i32) (local.get 1) (local.get 0))
  (func (export "divs") (param i32 i32) (result i32) (i32.div_s (local.get 0) (local.get 1)))
  (func (export "divu64") (param i64 i64) (result i64) (i64.div_u (local.get 0) (local.get 1)))
  (func (export "rems") (param i32 i32) (result i32) (i32.rem_s (local.get 0) (local.get 1)))
  (func (export "divs64") (param i64 i64) (result i64) (i64.div_s (local.get 0) (local.get 1)))
  (func (export "spin") (loop $l (br $l)))
  (func $r (export "recurse") (param i32) (result i32) (call $r (i32.add (local.get 0) (i32.const 1))))
  (func (export "unreachable") unreachable))"#;

#[test]
fn integer_arithmetic_and_multi_value() {
    let mut inst = instance(ARITH);
    let i32s = |a, b| [Value::I32(a), Value::I32(b)];
    assert_eq!(ok(call(&mut inst, "add", &i32s(2, -5))), [Value::I32(-3)]);
    assert_eq!(
        ok(call(&mut inst, "add", &i32s(i32::MAX, 1))),
        [Value::I32(i32::MIN)]
    );
    assert_eq!(ok(call(&mut inst, "sub", &i32s(2, 5))), [Value::I32(-3)]);
    assert_eq!(ok(call(&mut inst, "mul", &i32s(-6, 7))), [Value::I32(-42)]);
    assert_eq!(
        ok(call(
            &mut inst,
            "mul64",
            &[Value::I64(1 << 40), Value::I64(-3)]
        )),
        [Value::I64(-3 << 40)]
    );
    assert_eq!(
        ok(call(
            &mut inst,
            "mixed",
            &[Value::I32(-1), Value::I64(10), Value::I32(-1)]
        )),
        [Value::I64(-1 + 10 - 0xffff_ffff)]
    );
    assert_eq!(
        ok(call(
            &mut inst,
            "swap",
            &[Value::I32(-7), Value::I64(i64::MIN)]
        )),
        [Value::I64(i64::MIN), Value::I32(-7)]
    );
    let out = call(&mut inst, "add", &i32s(1, 2));
    assert!(out.gas_used > 0, "instructions cost gas");
}

#[test]
fn division_traps() {
    let mut inst = instance(ARITH);
    let i32s = |a, b| [Value::I32(a), Value::I32(b)];
    assert_eq!(ok(call(&mut inst, "divs", &i32s(-7, 2))), [Value::I32(-3)]);
    assert_eq!(
        trap(&call(&mut inst, "divs", &i32s(1, 0))),
        TrapKind::IntegerDivideByZero
    );
    assert_eq!(
        trap(&call(&mut inst, "divs", &i32s(i32::MIN, -1))),
        TrapKind::IntegerOverflow
    );
    assert_eq!(
        ok(call(&mut inst, "rems", &i32s(i32::MIN, -1))),
        [Value::I32(0)]
    );
    assert_eq!(
        trap(&call(&mut inst, "rems", &i32s(1, 0))),
        TrapKind::IntegerDivideByZero
    );
    assert_eq!(
        trap(&call(&mut inst, "divu64", &[Value::I64(1), Value::I64(0)])),
        TrapKind::IntegerDivideByZero
    );
    assert_eq!(
        trap(&call(
            &mut inst,
            "divs64",
            &[Value::I64(i64::MIN), Value::I64(-1)]
        )),
        TrapKind::IntegerOverflow
    );
    assert_eq!(
        trap(&call(&mut inst, "unreachable", &[])),
        TrapKind::Unreachable
    );
}

#[test]
fn out_of_gas_uses_exactly_the_limit_and_the_instance_recovers() {
    let mut inst = instance(ARITH);
    for limit in [0, 1, 1_000, 123_457] {
        let out = inst.call("spin", &[], limit).unwrap();
        assert_eq!(trap(&out), TrapKind::OutOfGas);
        assert_eq!(out.gas_used, limit);
    }
    // A trap followed by a successful call on the same instance.
    assert_eq!(
        ok(call(&mut inst, "add", &[Value::I32(1), Value::I32(2)])),
        [Value::I32(3)]
    );
    // Determinism: the same call uses the same gas.
    let a = call(&mut inst, "mul", &[Value::I32(3), Value::I32(4)]).gas_used;
    let b = call(&mut inst, "mul", &[Value::I32(3), Value::I32(4)]).gas_used;
    assert_eq!(a, b);
}

#[test]
fn unbounded_recursion_is_a_stack_overflow_trap_and_the_process_survives() {
    let mut inst = instance(ARITH);
    for _ in 0..3 {
        // Gas for every frame up to the stack limit (~11 000 frames at cost table version
        // 7's `call` price of 1 100: more than `GAS`).
        let out = inst
            .call("recurse", &[Value::I32(0)], 100 * GAS)
            .expect("call starts");
        assert_eq!(trap(&out), TrapKind::StackOverflow);
    }
    assert_eq!(
        ok(call(&mut inst, "add", &[Value::I32(1), Value::I32(1)])),
        [Value::I32(2)]
    );
}

#[test]
fn globals_are_read_written_and_exported() {
    let module = compile_with(
        Profile::permissive(),
        r#"(module
          (import "host" "base" (global $base i64))
          (global $count (export "count") (mut i32) (i32.const 41))
          (global $derived (export "derived") i64 (global.get $base))
          (func (export "bump") (result i32)
            (global.set $count (i32.add (global.get $count) (i32.const 1)))
            (global.get $count))
        )"#,
    );
    let mut imports = Imports::new();
    imports.global("host", "base", Value::I64(-10));
    let mut inst = Instance::new(&module, &imports, GAS).unwrap();
    assert_eq!(inst.global("count"), Some(Value::I32(41)));
    assert_eq!(ok(call(&mut inst, "bump", &[])), [Value::I32(42)]);
    assert_eq!(inst.global("count"), Some(Value::I32(42)));
    assert_eq!(inst.global("derived"), Some(Value::I64(-10)));
}

#[test]
fn start_function_runs_at_instantiation() {
    let inst = instance(
        r#"(module
          (global $g (export "g") (mut i32) (i32.const 0))
          (func $init (global.set $g (i32.const 7)))
          (start $init))"#,
    );
    assert_eq!(inst.global("g"), Some(Value::I32(7)));
}

const MEMORY: &str = r#"(module
  (memory (export "memory") 1 3)
  (data (i32.const 16) "gasket")
  (func (export "load") (param i32) (result i32) (i32.load (local.get 0)))
  (func (export "load8") (param i32) (result i32) (i32.load8_u (local.get 0)))
  (func (export "store") (param i32 i32) (i32.store (local.get 0) (local.get 1)))
  (func (export "store64") (param i32 i64) (i64.store (local.get 0) (local.get 1)))
  (func (export "grow") (param i32) (result i32) (memory.grow (local.get 0)))
  (func (export "size") (result i32) (memory.size))
  (func (export "fill") (param i32 i32 i32) (memory.fill (local.get 0) (local.get 1) (local.get 2)))
  (func (export "copy") (param i32 i32 i32) (memory.copy (local.get 0) (local.get 1) (local.get 2)))
)"#;

#[test]
fn memory_load_store_and_data_segments() {
    let mut inst = instance(MEMORY);
    assert_eq!(&inst.memory()[16..22], b"gasket");
    assert_eq!(
        ok(call(&mut inst, "load8", &[Value::I32(16)])),
        [Value::I32(i32::from(b'g'))]
    );
    call(&mut inst, "store", &[Value::I32(100), Value::I32(-2)]);
    assert_eq!(
        ok(call(&mut inst, "load", &[Value::I32(100)])),
        [Value::I32(-2)]
    );
    assert_eq!(&inst.memory()[100..104], &(-2i32).to_le_bytes());
    call(
        &mut inst,
        "store64",
        &[Value::I32(200), Value::I64(0x0102_0304_0506_0708)],
    );
    assert_eq!(
        &inst.memory()[200..208],
        &0x0102_0304_0506_0708u64.to_le_bytes()
    );
}

#[test]
fn memory_edges_trap_out_of_bounds() {
    let mut inst = instance(MEMORY);
    assert_eq!(
        ok(call(&mut inst, "load", &[Value::I32(65_532)])),
        [Value::I32(0)]
    );
    for addr in [65_533, 65_536, -1] {
        let out = call(&mut inst, "load", &[Value::I32(addr)]);
        assert_eq!(trap(&out), TrapKind::MemoryOutOfBounds, "load at {addr}");
    }
    let out = call(&mut inst, "store", &[Value::I32(65_534), Value::I32(1)]);
    assert_eq!(trap(&out), TrapKind::MemoryOutOfBounds);
    assert_eq!(
        &inst.memory()[65_534..],
        &[0, 0],
        "a trapping store writes nothing"
    );
}

#[test]
fn memory_grows_to_its_maximum_then_returns_minus_one() {
    let mut inst = instance(MEMORY);
    assert_eq!(
        ok(call(&mut inst, "grow", &[Value::I32(1)])),
        [Value::I32(1)]
    );
    assert_eq!(
        ok(call(&mut inst, "grow", &[Value::I32(1)])),
        [Value::I32(2)]
    );
    assert_eq!(
        ok(call(&mut inst, "grow", &[Value::I32(1)])),
        [Value::I32(-1)]
    );
    assert_eq!(ok(call(&mut inst, "size", &[])), [Value::I32(3)]);
    assert_eq!(inst.memory().len(), 3 * 65_536);
    // The new pages are usable and zero.
    assert_eq!(
        ok(call(&mut inst, "load", &[Value::I32(3 * 65_536 - 4)])),
        [Value::I32(0)]
    );

    // Without a declared maximum, the profile's page cap applies.
    let mut profile = Profile::permissive();
    profile.limits.max_memory_pages = 4;
    let module = compile_with(
        profile,
        r#"(module (memory 1)
           (func (export "grow") (param i32) (result i32) (memory.grow (local.get 0))))"#,
    );
    let mut inst = Instance::new(&module, &Imports::new(), GAS).unwrap();
    assert_eq!(
        ok(call(&mut inst, "grow", &[Value::I32(3)])),
        [Value::I32(1)]
    );
    assert_eq!(
        ok(call(&mut inst, "grow", &[Value::I32(1)])),
        [Value::I32(-1)]
    );
}

#[test]
fn bulk_memory_goes_through_the_libcalls() {
    let mut inst = instance(MEMORY);
    call(
        &mut inst,
        "fill",
        &[Value::I32(0), Value::I32(0xab), Value::I32(4)],
    );
    assert_eq!(&inst.memory()[..5], &[0xab, 0xab, 0xab, 0xab, 0]);
    call(
        &mut inst,
        "copy",
        &[Value::I32(17), Value::I32(16), Value::I32(6)],
    );
    assert_eq!(&inst.memory()[16..23], b"ggasket");
    let out = call(
        &mut inst,
        "fill",
        &[Value::I32(65_535), Value::I32(1), Value::I32(2)],
    );
    assert_eq!(trap(&out), TrapKind::MemoryOutOfBounds);
}

#[test]
fn call_indirect_checks_null_type_and_bounds() {
    let mut inst = instance(
        r#"(module
          (type $unary (func (param i32) (result i32)))
          (table 4 funcref)
          (elem (i32.const 0) $double $other)
          (func $double (type $unary) (i32.mul (local.get 0) (i32.const 2)))
          (func $other (param i64) (result i64) (local.get 0))
          (func (export "call") (param i32 i32) (result i32)
            (call_indirect (type $unary) (local.get 1) (local.get 0))))"#,
    );
    let at = |i| [Value::I32(i), Value::I32(21)];
    assert_eq!(ok(call(&mut inst, "call", &at(0))), [Value::I32(42)]);
    assert_eq!(
        trap(&call(&mut inst, "call", &at(1))),
        TrapKind::IndirectCallTypeMismatch
    );
    assert_eq!(
        trap(&call(&mut inst, "call", &at(2))),
        TrapKind::IndirectCallToNull
    );
    assert_eq!(
        trap(&call(&mut inst, "call", &at(4))),
        TrapKind::TableOutOfBounds
    );
    assert_eq!(
        trap(&call(&mut inst, "call", &at(-1))),
        TrapKind::TableOutOfBounds
    );
}

#[test]
fn host_import_closures_get_arguments_and_return_results() {
    let module = compile_with(
        Profile::permissive(),
        r#"(module
          (import "host" "mul_add" (func $mul_add (param i32 i64) (result i64)))
          (import "host" "fail" (func $fail))
          (memory (export "memory") 1)
          (func (export "run") (param i32 i64) (result i64)
            (i64.add (call $mul_add (local.get 0) (local.get 1)) (i64.const 1)))
          (func (export "fail") (call $fail)))"#,
    );
    let seen = Arc::new(Mutex::new(Vec::new()));
    let mut imports = Imports::new();
    let record = Arc::clone(&seen);
    imports
        .func(
            "host",
            "mul_add",
            FuncSig {
                params: vec![ValType::I32, ValType::I64],
                results: vec![ValType::I64],
            },
            move |cx, args| {
                record.lock().unwrap().extend_from_slice(args);
                cx.charge_gas(1_000)?;
                cx.write(8, b"host")?;
                let (Value::I32(a), Value::I64(b)) = (args[0], args[1]) else {
                    return Err(HostTrap::new("bad arguments"));
                };
                Ok(vec![Value::I64(i64::from(a) * b)])
            },
        )
        .func(
            "host",
            "fail",
            FuncSig {
                params: vec![],
                results: vec![],
            },
            |_, _| Err(HostTrap::new("nope")),
        );
    let mut inst = Instance::new(&module, &imports, GAS).unwrap();
    let out = call(&mut inst, "run", &[Value::I32(-3), Value::I64(5)]);
    assert!(out.gas_used >= 1_000);
    assert_eq!(ok(out), [Value::I64(-14)]);
    assert_eq!(*seen.lock().unwrap(), [Value::I32(-3), Value::I64(5)]);
    assert_eq!(&inst.memory()[8..12], b"host");

    let out = call(&mut inst, "fail", &[]);
    let t = out.result.unwrap_err();
    assert_eq!(
        (t.kind, t.message.as_deref()),
        (TrapKind::HostError, Some("nope"))
    );
    let out = inst
        .call("run", &[Value::I32(1), Value::I64(1)], 500)
        .unwrap();
    assert_eq!(trap(&out), TrapKind::OutOfGas);
    assert_eq!(out.gas_used, 500);
}

#[test]
fn host_closures_can_call_another_instance() {
    let callee = Arc::new(Mutex::new(instance(ARITH)));
    let module = compile_with(
        Profile::permissive(),
        r#"(module
          (import "other" "mul" (func $mul (param i32 i32) (result i32)))
          (func (export "square") (param i32) (result i32) (call $mul (local.get 0) (local.get 0))))"#,
    );
    let mut imports = Imports::new();
    let other = Arc::clone(&callee);
    imports.func(
        "other",
        "mul",
        FuncSig {
            params: vec![ValType::I32, ValType::I32],
            results: vec![ValType::I32],
        },
        move |_, args| {
            let mut other = other.try_lock().map_err(|_| HostTrap::new("busy"))?;
            let out = other
                .call("mul", args, GAS)
                .map_err(|e| HostTrap::new(e.to_string()))?;
            out.result.map_err(|t| HostTrap::new(t.to_string()))
        },
    );
    let mut inst = Instance::new(&module, &imports, GAS).unwrap();
    assert_eq!(
        ok(call(&mut inst, "square", &[Value::I32(12)])),
        [Value::I32(144)]
    );
}

const ECHO: &str = r#"(module
  (import "env" "input" (func $input (param i64)))
  (import "env" "register_len" (func $register_len (param i64) (result i64)))
  (import "env" "read_register" (func $read_register (param i64 i32)))
  (import "env" "return_value" (func $return_value (param i32 i32)))
  (import "env" "log_utf8" (func $log_utf8 (param i32 i32)))
  (import "env" "storage_write" (func $storage_write (param i32 i32 i32 i32) (result i32)))
  (memory 1)
  (data (i32.const 0) "echoed")
  (data (i32.const 8) "last")
  (func (export "echo") (local $len i32)
    (call $input (i64.const 1))
    (local.set $len (i32.wrap_i64 (call $register_len (i64.const 1))))
    (call $read_register (i64.const 1) (i32.const 64))
    (drop (call $storage_write (i32.const 8) (i32.const 4) (i32.const 64) (local.get $len)))
    (call $log_utf8 (i32.const 0) (i32.const 6))
    (call $return_value (i32.const 64) (local.get $len)))
  (func (export "bad_log") (call $log_utf8 (i32.const 65535) (i32.const 2))))"#;

#[test]
fn contract_profile_modules_call_the_host_abi_through_dispatch() {
    let module = compile_with(Profile::contract(), ECHO);
    let mut inst = Instance::new(&module, &Imports::new(), GAS).unwrap();
    let mut storage = MemoryStorage::new();
    let context = CallContext {
        input: b"hello contract".to_vec(),
        ..CallContext::default()
    };
    let mut env = HostEnv::new(context, &mut storage);
    let out = inst.call_contract("echo", &mut env, GAS).unwrap();
    assert_eq!(out.result, Ok(vec![]));
    assert!(out.gas_used > 0);
    let effects = env.commit().unwrap();
    assert_eq!(effects.return_data, b"hello contract");
    assert_eq!(effects.logs, ["echoed"]);
    assert_eq!(effects.state_changes.len(), 1);
    assert_eq!(effects.state_changes[0].key, b"last");
    assert_eq!(
        storage.get(b"last").unwrap().as_deref(),
        Some(&b"hello contract"[..])
    );

    // A host error is a trap carrying the HostError.
    let mut storage = MemoryStorage::new();
    let mut env = HostEnv::new(CallContext::default(), &mut storage);
    let out = inst.call_contract("bad_log", &mut env, GAS).unwrap();
    let t = out.result.unwrap_err();
    assert_eq!(t.kind, TrapKind::HostError);
    assert_eq!(t.host_error.unwrap().kind(), "memory_access");

    // Out of gas inside a host function: gas used is the limit.
    let mut env = HostEnv::new(CallContext::default(), &mut storage);
    let out = inst.call_contract("echo", &mut env, 50).unwrap();
    assert_eq!(trap(&out), TrapKind::OutOfGas);
    assert_eq!(out.gas_used, 50);
}

#[test]
fn the_counter_fixture_counts() {
    let module = compile_with(
        Profile::contract(),
        gasket_fixtures::get("counter").unwrap().wat,
    );
    let mut inst = Instance::new(&module, &Imports::new(), GAS).unwrap();
    let mut storage = MemoryStorage::new();
    for expected in 1u64..=3 {
        let mut env = HostEnv::new(CallContext::default(), &mut storage);
        let out = inst.call_contract("increment", &mut env, GAS).unwrap();
        assert_eq!(out.result, Ok(vec![]));
        let effects = env.commit().unwrap();
        assert_eq!(effects.return_data, expected.to_le_bytes());
        assert_eq!(effects.logs, ["incremented"]);
    }
}
