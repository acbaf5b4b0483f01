//! Instantiation and calls against a hand-built artifact whose "compiled code" is a few
//! hand-assembled x86-64 functions, so the runtime's whole call path (stack, vmctx,
//! trampoline, libcalls, host closures, traps, gas) runs without the compiler.
//!
//! The hand-written trampoline switches to the `args` stack, calls the function and
//! returns whatever the function left in `eax` (0 or a trap code).

use std::sync::{Arc, Mutex};

use gasket_host_api::{CallContext, HostEnv, HostFunction, MemoryStorage};
use gasket_metering::{
    ExportInfo, ExportKind as InfoExportKind, ImportInfo, ImportKind as InfoImportKind, Intrinsics,
    ModuleInfo, Profile,
};
use gasket_singlepass::*;

use super::*;
use crate::engine::Engine;
use crate::error::InstantiationError;
use crate::imports::{HostTrap, Imports};

const TRAMPOLINE: &[u8] = &[
    0x55, // push rbp
    0x48, 0x89, 0xe5, // mov rbp, rsp
    0x48, 0x89, 0xd4, // mov rsp, rdx
    0xff, 0xd6, // call rsi
    0x48, 0x89, 0xec, // mov rsp, rbp
    0x5d, // pop rbp
    0xc3, // ret (eax from the callee)
];

/// Import shim: `host_call(vmctx, 0, slots)`, returning its trap code.
const SHIM: &[u8] = &[
    0x48, 0x83, 0xec, 0x08, // sub rsp, 8
    0x31, 0xf6, // xor esi, esi
    0x48, 0x8d, 0x54, 0x24, 0x10, // lea rdx, [rsp+16]
    0xff, 0x57, 0x48, // call [rdi+72] (libcalls[HostCall])
    0x48, 0x83, 0xc4, 0x08, // add rsp, 8
    0xc3, // ret
];

/// `(i32, i32) -> i32`: slot0 = slot0 + slot1.
const ADD: &[u8] = &[
    0x8b, 0x44, 0x24, 0x08, // mov eax, [rsp+8]
    0x03, 0x44, 0x24, 0x10, // add eax, [rsp+16]
    0x48, 0x89, 0x44, 0x24, 0x08, // mov [rsp+8], rax
    0x31, 0xc0, // xor eax, eax
    0xc3, // ret
];

/// `() -> ()`: out of gas (gas_remaining = 0, trap code 2).
const OUT_OF_GAS: &[u8] = &[
    0x48, 0xc7, 0x07, 0x00, 0x00, 0x00, 0x00, // mov qword [rdi], 0
    0xc7, 0x47, 0x20, 0x02, 0x00, 0x00, 0x00, // mov dword [rdi+32], 2
    0xb8, 0x02, 0x00, 0x00, 0x00, // mov eax, 2
    0xc3,
];

/// `() -> ()`: charges 5 gas.
const CHARGE_5: &[u8] = &[
    0x48, 0x83, 0x2f, 0x05, // sub qword [rdi], 5
    0x31, 0xc0, // xor eax, eax
    0xc3,
];

fn sig(params: &[ValType], results: &[ValType]) -> FuncSig {
    FuncSig {
        params: params.to_vec(),
        results: results.to_vec(),
    }
}

fn c(ops: &[ConstOp]) -> ConstExpr {
    ConstExpr { ops: ops.to_vec() }
}

struct Built {
    artifact: Artifact,
    info: ModuleInfo,
}

/// Functions: 0 = import (shim), 1 = add, 2 = out_of_gas, 3 = charge_5.
fn build(import: (&str, &str, FuncSig), host_function: Option<HostFunction>) -> Built {
    let mut code = Vec::new();
    let mut place = |bytes: &[u8]| {
        let at = code.len() as u32;
        code.extend_from_slice(bytes);
        at
    };
    let entry = place(TRAMPOLINE);
    let offsets = [place(SHIM), place(ADD), place(OUT_OF_GAS), place(CHARGE_5)];
    let types = vec![
        sig(&[ValType::I32, ValType::I32], &[ValType::I32]),
        import.2.clone(),
        sig(&[], &[]),
    ];
    let type_of = [1, 0, 2, 2];
    let functions = (0..4)
        .map(|i| CompiledFunction {
            type_index: type_of[i],
            type_id: type_of[i],
            code_offset: offsets[i],
            code_len: 4,
            kind: if i == 0 {
                FunctionKind::Import { import: 0 }
            } else {
                FunctionKind::Defined
            },
        })
        .collect();
    let export = |name: &str, kind, index| Export {
        name: name.into(),
        kind,
        index,
    };
    let layout = ModuleLayout {
        imports: vec![
            Import {
                module: import.0.into(),
                name: import.1.into(),
                kind: ImportKind::Function { type_index: 1 },
            },
            Import {
                module: "host".into(),
                name: "g".into(),
                kind: ImportKind::Global(GlobalType {
                    ty: ValType::I64,
                    mutable: false,
                }),
            },
        ],
        memory: Some(MemoryType {
            min_pages: 1,
            max_pages: Some(2),
        }),
        tables: vec![TableType {
            element: RefType::FuncRef,
            min: 3,
            max: None,
            init: None,
        }],
        globals: vec![
            GlobalDef {
                ty: GlobalType {
                    ty: ValType::I64,
                    mutable: false,
                },
                init: None,
            },
            GlobalDef {
                ty: GlobalType {
                    ty: ValType::I64,
                    mutable: true,
                },
                init: Some(c(&[
                    ConstOp::GlobalGet(0),
                    ConstOp::I64Const(1),
                    ConstOp::I64Add,
                ])),
            },
            GlobalDef {
                ty: GlobalType {
                    ty: ValType::FuncRef,
                    mutable: false,
                },
                init: Some(c(&[ConstOp::RefFunc(1)])),
            },
        ],
        data: vec![
            DataSegment {
                offset: Some(c(&[ConstOp::I32Const(10)])),
                bytes: b"hello".to_vec(),
            },
            DataSegment {
                offset: None,
                bytes: b"xyz".to_vec(),
            },
        ],
        elements: vec![
            ElementSegment {
                mode: ElementMode::Active {
                    table: 0,
                    offset: c(&[ConstOp::I32Const(1)]),
                },
                element: RefType::FuncRef,
                items: vec![c(&[ConstOp::RefFunc(1)]), c(&[ConstOp::RefFunc(2)])],
            },
            ElementSegment {
                mode: ElementMode::Passive,
                element: RefType::FuncRef,
                items: vec![c(&[ConstOp::RefFunc(3)])],
            },
            ElementSegment {
                mode: ElementMode::Declared,
                element: RefType::FuncRef,
                items: vec![c(&[ConstOp::RefFunc(1)])],
            },
        ],
        exports: vec![
            export("add", ExportKind::Function, 1),
            export("imported", ExportKind::Function, 0),
            export("oog", ExportKind::Function, 2),
            export("charge", ExportKind::Function, 3),
            export("g1", ExportKind::Global, 1),
            export("gf", ExportKind::Global, 2),
            export("mem", ExportKind::Memory, 0),
        ],
        start: None,
    };
    let info = ModuleInfo {
        imports: vec![
            ImportInfo {
                module: import.0.into(),
                name: import.1.into(),
                kind: InfoImportKind::Function { type_index: 1 },
                host_function,
                near_function: None,
            },
            ImportInfo {
                module: "host".into(),
                name: "g".into(),
                kind: InfoImportKind::Global,
                host_function: None,
                near_function: None,
            },
        ],
        imported_functions: 1,
        intrinsics: Intrinsics {
            gas: 1,
            stack_enter: 2,
            stack_leave: 3,
        },
        functions: vec![],
        memory: None,
        tables: 1,
        globals: 3,
        exports: vec![ExportInfo {
            name: "add".into(),
            kind: InfoExportKind::Function,
            index: 1,
        }],
        start: None,
        max_frame_cost: 0,
        original_size: 0,
        cost_table_version: 1,
        profile_fingerprint: [0; 32],
    };
    Built {
        artifact: Artifact {
            format_version: ARTIFACT_FORMAT_VERSION,
            target: Target::X86_64,
            code,
            entry_trampoline: entry,
            types,
            functions,
            module: layout,
        },
        info,
    }
}

fn double_sig() -> FuncSig {
    sig(&[ValType::I32], &[ValType::I32])
}

fn module_of(built: Built) -> Module {
    let engine = Engine::new(Profile::permissive()).unwrap();
    Module::from_artifact(&engine, built.artifact, built.info).unwrap()
}

fn test_module() -> Module {
    module_of(build(("host", "double", double_sig()), None))
}

fn test_imports() -> Imports {
    let mut imports = Imports::new();
    imports
        .func("host", "double", double_sig(), |cx, args| {
            cx.charge_gas(3)?;
            let Value::I32(x) = args[0] else {
                return Err(HostTrap::new("expected an i32"));
            };
            if x == 13 {
                panic!("unlucky");
            }
            if x < 0 {
                return Err(HostTrap::new(format!("negative: {x}")));
            }
            cx.write(0, &x.to_le_bytes())?;
            Ok(vec![Value::I32(x.wrapping_mul(2))])
        })
        .global("host", "g", Value::I64(5));
    imports
}

#[test]
fn instantiation_applies_globals_and_segments_in_order() {
    let module = test_module();
    let inst = Instance::new(&module, &test_imports(), 0).unwrap();
    assert_eq!(&inst.memory()[10..15], b"hello");
    assert_eq!(inst.memory().len(), 65_536);
    assert_eq!(inst.global("g1"), Some(Value::I64(6)));
    assert_eq!(inst.global("gf"), Some(Value::FuncRef(Some(1))));
    assert_eq!(inst.global("add"), None);
    let rt = &inst.rt;
    let refs: Vec<Option<u32>> = rt.tables[0]
        .elems
        .iter()
        .map(|&b| rt.funcref_index(b))
        .collect();
    assert_eq!(refs, [None, Some(1), Some(2)]);
    assert_eq!(rt.table_defs[0].len, 3);
    assert!(rt.elements[0].is_empty(), "active segment dropped");
    assert_eq!(rt.elements[1].len(), 1, "passive segment kept");
    assert!(
        rt.elements.get(2).is_none_or(Vec::is_empty),
        "declared segment dropped (not kept: past the last passive one)"
    );
    assert_eq!(rt.data.get(0), Some(&[][..]), "active segment dropped");
    assert!(!rt.data.get(1).unwrap().is_empty(), "passive segment kept");
    // SAFETY: reading the vmctx of an idle instance.
    let ctx = unsafe { &*rt.vmctx() };
    assert_eq!(ctx.memory_len, 65_536);
    assert_eq!(ctx.funcrefs, rt.funcrefs.as_ptr());
    assert_eq!(
        ctx.libcalls[0],
        crate::libcalls::host_call as *const () as usize
    );
    assert_eq!(rt.vmctx() as usize % 16, 0);
}

#[test]
fn calls_run_on_the_instance_stack_with_results_and_gas() {
    let module = test_module();
    let mut inst = Instance::new(&module, &test_imports(), 0).unwrap();
    let out = inst
        .call("add", &[Value::I32(2), Value::I32(-5)], 100)
        .unwrap();
    assert_eq!(out.result, Ok(vec![Value::I32(-3)]));
    assert_eq!(out.gas_used, 0);

    let out = inst.call("charge", &[], 100).unwrap();
    assert_eq!((out.result, out.gas_used), (Ok(vec![]), 5));

    let out = inst.call("oog", &[], 1234).unwrap();
    assert_eq!(out.result.unwrap_err().kind, TrapKind::OutOfGas);
    assert_eq!(out.gas_used, 1234);

    // The host closure through the import shim and the HostCall libcall.
    let out = inst.call("imported", &[Value::I32(21)], 100).unwrap();
    assert_eq!(out.result, Ok(vec![Value::I32(42)]));
    assert_eq!(out.gas_used, 3);
    assert_eq!(&inst.memory()[..4], &21i32.to_le_bytes());

    let out = inst.call("imported", &[Value::I32(-1)], 100).unwrap();
    let trap = out.result.unwrap_err();
    assert_eq!(trap.kind, TrapKind::HostError);
    assert_eq!(trap.message.as_deref(), Some("negative: -1"));

    let out = inst.call("imported", &[Value::I32(13)], 100).unwrap();
    let trap = out.result.unwrap_err();
    assert_eq!(trap.kind, TrapKind::HostError);
    assert!(trap.message.unwrap().contains("unlucky"));

    let out = inst.call("imported", &[Value::I32(1)], 2).unwrap();
    assert_eq!(out.result.unwrap_err().kind, TrapKind::OutOfGas);
    assert_eq!(out.gas_used, 2);

    // After traps, the instance still works.
    let out = inst
        .call("add", &[Value::I32(1), Value::I32(1)], 100)
        .unwrap();
    assert_eq!(out.result, Ok(vec![Value::I32(2)]));
}

#[test]
fn call_errors_are_typed() {
    let module = test_module();
    let mut inst = Instance::new(&module, &test_imports(), 0).unwrap();
    let e = inst.call("nope", &[], 1).unwrap_err();
    assert_eq!(e.kind(), "no_such_export");
    assert!(e.to_string().contains("add, imported, oog, charge"), "{e}");
    assert!(matches!(
        inst.call("mem", &[], 1),
        Err(CallError::NotAFunction { kind: "memory", .. })
    ));
    let e = inst.call("add", &[Value::I32(1)], 1).unwrap_err();
    assert!(
        matches!(
            e,
            CallError::ArgumentCount {
                expected: 2,
                got: 1,
                ..
            }
        ),
        "{e}"
    );
    assert!(e.to_string().contains("(i32, i32) -> (i32)"), "{e}");
    let e = inst
        .call("add", &[Value::I32(1), Value::I64(1)], 1)
        .unwrap_err();
    assert!(
        matches!(
            e,
            CallError::ArgumentType {
                index: 1,
                expected: "i32",
                ..
            }
        ),
        "{e}"
    );
}

#[test]
fn import_resolution_errors_name_the_import() {
    let module = test_module();
    let e = Instance::new(&module, &Imports::new(), 0).unwrap_err();
    assert!(
        matches!(&e, InstantiationError::UnknownImport { module, name, kind: "func" } if module == "host" && name == "double"),
        "{e}"
    );
    let mut wrong_sig = test_imports();
    wrong_sig.func(
        "host",
        "double",
        sig(&[ValType::I64], &[ValType::I32]),
        |_, _| Ok(vec![]),
    );
    let e = Instance::new(&module, &wrong_sig, 0).unwrap_err();
    assert_eq!(e.kind(), "incompatible_import");
    assert!(e.to_string().contains("func (i32) -> (i32)"), "{e}");
    let mut wrong_kind = test_imports();
    wrong_kind.memory("host", "double");
    assert_eq!(
        Instance::new(&module, &wrong_kind, 0).unwrap_err().kind(),
        "incompatible_import"
    );
    let mut wrong_global = test_imports();
    wrong_global.global("host", "g", Value::I32(1));
    let e = Instance::new(&module, &wrong_global, 0).unwrap_err();
    assert!(e.to_string().contains("global i64"), "{e}");
    let mut no_global = Imports::new();
    no_global.func("host", "double", double_sig(), |_, _| {
        Ok(vec![Value::I32(0)])
    });
    assert!(matches!(
        Instance::new(&module, &no_global, 0),
        Err(InstantiationError::UnknownImport { kind: "global", .. })
    ));
}

#[test]
fn out_of_bounds_segments_fail_instantiation_with_a_trap() {
    let mut built = build(("host", "double", double_sig()), None);
    built.artifact.module.data[0].offset = Some(c(&[ConstOp::I32Const(65_534)]));
    let e = Instance::new(&module_of(built), &test_imports(), 0).unwrap_err();
    assert!(
        matches!(&e, InstantiationError::Trap(t) if t.kind == TrapKind::MemoryOutOfBounds),
        "{e}"
    );

    let mut built = build(("host", "double", double_sig()), None);
    built.artifact.module.elements[0].mode = ElementMode::Active {
        table: 0,
        offset: c(&[ConstOp::I32Const(2)]),
    };
    let e = Instance::new(&module_of(built), &test_imports(), 0).unwrap_err();
    assert!(
        matches!(&e, InstantiationError::Trap(t) if t.kind == TrapKind::TableOutOfBounds),
        "{e}"
    );
}

#[test]
fn start_function_runs_with_its_gas_and_can_fail_instantiation() {
    let mut built = build(("host", "double", double_sig()), None);
    built.artifact.module.start = Some(3);
    assert!(Instance::new(&module_of(built), &test_imports(), 10).is_ok());
    let mut built = build(("host", "double", double_sig()), None);
    built.artifact.module.start = Some(2);
    let e = Instance::new(&module_of(built), &test_imports(), 10).unwrap_err();
    assert!(
        matches!(&e, InstantiationError::Trap(t) if t.kind == TrapKind::OutOfGas),
        "{e}"
    );
}

#[test]
fn host_closures_can_call_other_instances_but_not_their_caller() {
    let module = test_module();
    let callee = Arc::new(Mutex::new(
        Instance::new(&module, &test_imports(), 0).unwrap(),
    ));
    let mut imports = test_imports();
    let other = Arc::clone(&callee);
    imports.func("host", "double", double_sig(), move |_, args| {
        let mut other = other
            .try_lock()
            .map_err(|_| HostTrap::new("instance is busy"))?;
        let out = other
            .call("add", &[args[0], args[0]], 10)
            .map_err(|e| HostTrap::new(e.to_string()))?;
        out.result.map_err(|t| HostTrap::new(t.to_string()))
    });
    let mut caller = Instance::new(&module, &imports, 0).unwrap();
    let out = caller.call("imported", &[Value::I32(8)], 10).unwrap();
    assert_eq!(out.result, Ok(vec![Value::I32(16)]));

    // An instance whose import calls itself: refused, never re-entered.
    let cell: Arc<Mutex<Option<Arc<Mutex<Instance>>>>> = Arc::new(Mutex::new(None));
    let mut imports = test_imports();
    let me = Arc::clone(&cell);
    imports.func("host", "double", double_sig(), move |_, args| {
        let me = me.lock().unwrap().clone().unwrap();
        let mut me = me
            .try_lock()
            .map_err(|_| HostTrap::new("instance is busy"))?;
        let out = me.call("add", &[args[0], args[0]], 10).unwrap();
        out.result.map_err(|t| HostTrap::new(t.to_string()))
    });
    let inst = Arc::new(Mutex::new(Instance::new(&module, &imports, 0).unwrap()));
    *cell.lock().unwrap() = Some(Arc::clone(&inst));
    let out = inst
        .lock()
        .unwrap()
        .call("imported", &[Value::I32(1)], 10)
        .unwrap();
    assert_eq!(
        out.result.unwrap_err().message.as_deref(),
        Some("instance is busy")
    );
    *cell.lock().unwrap() = None;
}

#[test]
fn contract_calls_dispatch_the_host_abi() {
    let built = build(
        ("env", "block_height", sig(&[], &[ValType::I64])),
        Some(HostFunction::BlockHeight),
    );
    let module = module_of(built);
    let mut imports = Imports::new();
    imports.global("host", "g", Value::I64(0));
    let mut inst = Instance::new(&module, &imports, 0).unwrap();
    let out = inst.call("imported", &[], 1_000_000).unwrap();
    let trap = out.result.unwrap_err();
    assert_eq!(trap.kind, TrapKind::HostError);
    assert!(trap.message.unwrap().contains("call_contract"));

    let mut storage = MemoryStorage::new();
    let context = CallContext {
        block_height: 99,
        ..CallContext::default()
    };
    let mut env = HostEnv::new(context, &mut storage);
    let out = inst.call_contract("imported", &mut env, 1_000_000).unwrap();
    assert_eq!(out.result, Ok(vec![Value::I64(99)]));
    let cost = HostFunction::BlockHeight.gas().cost(0);
    assert_eq!(out.gas_used, cost);
    let out = inst.call_contract("imported", &mut env, cost - 1).unwrap();
    let trap = out.result.unwrap_err();
    assert_eq!(trap.kind, TrapKind::OutOfGas);
    assert_eq!(trap.host_error.map(|e| e.kind()), Some("out_of_gas"));
    assert_eq!(out.gas_used, cost - 1);
    assert!(matches!(
        inst.call_contract("add", &mut env, 10),
        Err(CallError::ArgumentCount { .. })
    ));
}

#[test]
fn instances_are_send() {
    fn assert_send<T: Send>() {}
    assert_send::<Instance>();
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Module>();
}

#[test]
fn artifacts_pointing_outside_their_code_are_refused() {
    let engine = Engine::new(Profile::permissive()).unwrap();
    let mut built = build(("host", "double", double_sig()), None);
    built.artifact.functions[2].code_offset = 10_000;
    let e = Module::from_artifact(&engine, built.artifact, built.info).unwrap_err();
    assert_eq!(e.kind(), "incompatible_artifact");
    let mut built = build(("host", "double", double_sig()), None);
    built.artifact.target = Target::Aarch64;
    let e = Module::from_artifact(&engine, built.artifact, built.info).unwrap_err();
    assert!(e.to_string().contains("aarch64"), "{e}");
}

#[test]
fn element_items_that_read_globals_are_evaluated_per_instance_and_the_rest_copied() {
    let engine = Engine::new(Profile::permissive()).unwrap();
    let wasm = wat::parse_str(
        r#"(module
             (import "host" "g" (global $g funcref))
             (table 4 funcref)
             (func $f0 (export "f0")) (func $f1 (export "f1"))
             (elem (i32.const 0) funcref (ref.func $f0) (global.get $g))
             (elem (i32.const 2) func $f1 $f0)
             (elem $p funcref (global.get $g) (ref.null func))
             (func (export "init") (table.init 0 $p (i32.const 0) (i32.const 0) (i32.const 2))))"#,
    )
    .unwrap();
    let module = engine.compile(&wasm).unwrap();
    let constant: Vec<bool> = module
        .inner
        .element_items
        .iter()
        .map(Option::is_some)
        .collect();
    assert_eq!(
        constant,
        [false, true, false],
        "only the global-free segment"
    );
    // Function indices after instrumentation (which may add imports before them).
    let index = |name: &str| Some(module.inner.exports[name].1);
    let (f0, f1) = (index("f0"), index("f1"));
    let mut imports = Imports::new();
    imports.global("host", "g", Value::FuncRef(f1));
    let mut inst = Instance::new(&module, &imports, 0).unwrap();
    let table = |inst: &Instance| -> Vec<Option<u32>> {
        let rt = &inst.rt;
        rt.tables[0]
            .elems
            .iter()
            .map(|&b| rt.funcref_index(b))
            .collect()
    };
    assert_eq!(table(&inst), [f0, f1, f1, f0]);
    assert_eq!(inst.rt.elements.len(), 3, "up to the passive segment");
    inst.call("init", &[], 1_000_000).unwrap().result.unwrap();
    assert_eq!(table(&inst), [f1, None, f1, f0]);
}
