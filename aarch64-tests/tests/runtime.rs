//! AArch64 artifacts through the ordinary `gasket_vm` runtime, calls emulated
//! (`gasket_aarch64_tests::backend`).

use gasket_aarch64_tests::backend;
use gasket_vm::metering::Profile;
use gasket_vm::{FuncSig, Imports, Instance, TrapKind, ValType, Value};

const GAS: u64 = 1 << 40;

#[test]
fn fib_memory_host_calls_and_traps() {
    let engine = backend::engine(Profile::permissive());
    let wasm = wat::parse_str(
        r#"(module
            (import "env" "add" (func $add (param i64 i64) (result i64)))
            (memory (export "mem") 1 4)
            (global $g (export "g") (mut i32) (i32.const 5))
            (table 2 funcref) (elem (i32.const 0) $fib $grow)
            (data (i32.const 8) "hello")
            (func $fib (export "fib") (param i64) (result i64)
              (if (result i64) (i64.lt_u (local.get 0) (i64.const 2))
                (then (local.get 0))
                (else (call $add
                  (call $fib (i64.sub (local.get 0) (i64.const 1)))
                  (call $fib (i64.sub (local.get 0) (i64.const 2)))))))
            (func $grow (export "grow") (param i32) (result i32)
              (local.set 0 (memory.grow (local.get 0)))
              (global.set $g (i32.add (global.get $g) (i32.const 1)))
              (i32.store (i32.const 65536) (i32.const 7))
              (local.get 0))
            (func (export "load") (param i32) (result i32) (i32.load8_u (local.get 0)))
            (func (export "indirect") (param i32 i32) (result i32)
              (call_indirect (param i32) (result i32) (local.get 0) (local.get 1)))
            (func (export "div") (param i32 i32) (result i32) (i32.div_s (local.get 0) (local.get 1))))"#,
    )
    .unwrap();
    let module = engine.compile(&wasm).unwrap();
    let mut imports = Imports::new();
    imports.func(
        "env",
        "add",
        FuncSig {
            params: vec![ValType::I64, ValType::I64],
            results: vec![ValType::I64],
        },
        |cx, args| {
            cx.charge_gas(3)?;
            let (Value::I64(a), Value::I64(b)) = (args[0], args[1]) else {
                unreachable!()
            };
            Ok(vec![Value::I64(a + b)])
        },
    );
    let mut instance = Instance::new(&module, &imports, GAS).unwrap();
    let out = instance.call("fib", &[Value::I64(15)], GAS).unwrap();
    assert_eq!(out.result.unwrap(), vec![Value::I64(610)]);
    assert!(out.gas_used > 0);
    assert_eq!(
        instance.call("load", &[Value::I32(9)], GAS).unwrap().result,
        Ok(vec![Value::I32(i32::from(b'e'))])
    );
    let grow = instance.call("grow", &[Value::I32(0)], GAS).unwrap();
    assert_eq!(grow.result.unwrap_err().kind, TrapKind::MemoryOutOfBounds);
    assert_eq!(
        instance.call("grow", &[Value::I32(1)], GAS).unwrap().result,
        Ok(vec![Value::I32(1)])
    );
    // Trapped calls keep their writes: the first `grow` incremented $g before trapping.
    assert_eq!(instance.global("g"), Some(Value::I32(7)));
    assert_eq!(instance.memory().len(), 2 * 65536);
    assert_eq!(instance.memory()[65536], 7);
    assert_eq!(
        instance
            .call("indirect", &[Value::I32(0), Value::I32(1)], GAS)
            .unwrap()
            .result,
        Ok(vec![Value::I32(2)]),
        "grow(0) through the table: 2 pages"
    );
    assert_eq!(
        instance
            .call("div", &[Value::I32(1), Value::I32(0)], GAS)
            .unwrap()
            .result
            .unwrap_err()
            .kind,
        TrapKind::IntegerDivideByZero
    );
    let starved = instance.call("fib", &[Value::I64(20)], 1000).unwrap();
    assert_eq!(starved.result.unwrap_err().kind, TrapKind::OutOfGas);
    assert_eq!(starved.gas_used, 1000);
}

#[test]
fn artifacts_only_load_into_an_engine_of_their_target() {
    let a64 = backend::engine(Profile::permissive());
    let x64 = gasket_vm::Engine::new(Profile::permissive()).unwrap();
    let wasm = wat::parse_str("(module (func (export \"f\")))").unwrap();
    let from_a64 = a64.compile(&wasm).unwrap();
    let from_x64 = x64.compile(&wasm).unwrap();
    assert_eq!(
        from_a64.artifact().target,
        gasket_vm::singlepass::Target::Aarch64
    );
    let err =
        gasket_vm::Module::from_artifact(&x64, from_a64.to_artifact(), from_a64.info().clone())
            .unwrap_err();
    assert!(err.to_string().contains("aarch64"), "{err}");
    assert!(gasket_vm::Module::from_artifact(
        &a64,
        from_x64.to_artifact(),
        from_x64.info().clone()
    )
    .is_err());
}

/// A host function of one emulated instance calls another emulated instance (a second
/// emulator runs while the first is suspended in its libcall hook); its trap kind passes
/// through.
#[test]
fn host_functions_call_other_emulated_instances() {
    use std::sync::{Arc, Mutex};
    let engine = backend::engine(Profile::permissive());
    let callee = wat::parse_str(
        r#"(module (memory (export "m") 1)
            (func (export "twice") (param i32) (result i32)
              (i32.store (i32.const 0) (local.get 0))
              (if (i32.eqz (local.get 0)) (then unreachable))
              (i32.mul (local.get 0) (i32.const 2))))"#,
    )
    .unwrap();
    let callee = Instance::new(&engine.compile(&callee).unwrap(), &Imports::new(), GAS).unwrap();
    let callee = Arc::new(Mutex::new(callee));
    let mut imports = Imports::new();
    let shared = callee.clone();
    imports.func(
        "env",
        "twice",
        FuncSig {
            params: vec![ValType::I32],
            results: vec![ValType::I32],
        },
        move |cx, args| {
            let mut other = shared
                .try_lock()
                .map_err(|_| gasket_vm::HostTrap::new("busy"))?;
            let out = other
                .call("twice", args, cx.gas_remaining())
                .map_err(|e| gasket_vm::HostTrap::new(e.to_string()))?;
            cx.charge_gas(out.gas_used)?;
            out.result
                .map_err(|t| gasket_vm::HostTrap::with_kind(t.kind, "callee trapped"))
        },
    );
    let caller = wat::parse_str(
        r#"(module (import "env" "twice" (func $t (param i32) (result i32)))
            (func (export "f") (param i32) (result i32)
              (i32.add (call $t (local.get 0)) (call $t (i32.const 5)))))"#,
    )
    .unwrap();
    let mut caller = Instance::new(&engine.compile(&caller).unwrap(), &imports, GAS).unwrap();
    let out = caller.call("f", &[Value::I32(20)], GAS).unwrap();
    assert_eq!(out.result.unwrap(), vec![Value::I32(50)]);
    assert_eq!(callee.lock().unwrap().memory()[0], 5);
    let out = caller.call("f", &[Value::I32(0)], GAS).unwrap();
    assert_eq!(out.result.unwrap_err().kind, TrapKind::Unreachable);
}

#[path = "../../vm/tests/write_paths/mod.rs"]
mod write_paths;

#[test]
fn every_write_path_is_cleared_before_reuse() {
    write_paths::every_write_path_is_cleared_before_reuse(&backend::engine(Profile::permissive()));
}
