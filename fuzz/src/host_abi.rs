//! Target `host_abi`: contracts, built with wasm-encoder from the fuzzer's bytes, that call
//! host functions with arbitrary pointers, lengths and register ids (edges of memory,
//! `u32::MAX`, empty and huge registers), over storage that already holds keys the
//! contract's memory contains, under a large or a small gas limit, sometimes ending in
//! `unreachable` after its writes.
//!
//! Invariants: the call always completes (a result, a trap or a panic; never a host crash
//! or a harness error); the same input gives byte-identical outcomes and final storage
//! twice; a call that traps or panics leaves storage exactly as it was and reports no
//! state changes; a call that returns changes storage by exactly its reported changes.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use arbitrary::Unstructured;
use gasket_host_api::{CallContext, HostFunction, HostLimits, MemoryStorage, WasmType};
use gasket_metering::Profile;
use gasket_vm::testing::{call_contract, Outcome, Status};
use gasket_vm::{Engine, Module};
use wasm_encoder::{
    CodeSection, ConstExpr, DataSection, EntityType, ExportKind, ExportSection, Function,
    FunctionSection, ImportSection, Instruction, MemorySection, MemoryType, TypeSection, ValType,
};

/// The contract-profile engine every input runs on.
pub fn engine() -> &'static Engine {
    static ENGINE: OnceLock<Engine> = OnceLock::new();
    ENGINE.get_or_init(|| Engine::new(Profile::contract()).expect("engine"))
}

const PAGE: i64 = 65_536;

fn i32_arg(u: &mut Unstructured<'_>, pages: i64) -> i32 {
    let end = pages * PAGE;
    let r: u8 = u.arbitrary().unwrap_or(0);
    let k = i64::from(u.arbitrary::<u8>().unwrap_or(0));
    (match r % 16 {
        0..=9 => k % 48,               // small pointers and lengths: inside the data
        10 => end - k,                 // near the end of memory
        11 => end + k,                 // just past it
        12 => i64::from(u32::MAX) - k, // wraps when added to a length
        13 => k * 256,
        14 => 0,
        _ => i64::from(u.arbitrary::<i32>().unwrap_or(0)),
    }) as i32
}

fn i64_arg(u: &mut Unstructured<'_>) -> i64 {
    let r: u8 = u.arbitrary().unwrap_or(0);
    match r % 6 {
        0..=2 => i64::from(r / 6 % 4), // register ids 0..3 (and small lengths)
        3 => -1,                       // u64::MAX: "no register" / huge
        4 => i64::from(u.arbitrary::<u16>().unwrap_or(0)),
        _ => u.arbitrary().unwrap_or(0),
    }
}

/// The generated contract: every host function imported with its exact signature, one
/// memory (1 page, maximum 1 or 2) initialized with fuzzer bytes, and `main` making the
/// calls. Returns the wasm and the memory's leading bytes (to seed storage keys).
pub fn contract(data: &[u8]) -> (Vec<u8>, Vec<u8>) {
    let mut u = Unstructured::new(data);
    let mut types = TypeSection::new();
    let mut imports = ImportSection::new();
    let vt = |t: &WasmType| match t {
        WasmType::I32 => ValType::I32,
        WasmType::I64 => ValType::I64,
    };
    for (i, f) in HostFunction::ALL.iter().enumerate() {
        let sig = f.signature();
        types
            .ty()
            .function(sig.params.iter().map(vt), sig.results.iter().map(vt));
        imports.import("env", f.name(), EntityType::Function(i as u32));
    }
    let main_type = HostFunction::ALL.len() as u32;
    types.ty().function([], []);
    let mut functions = FunctionSection::new();
    functions.function(main_type);
    let max_pages: u64 = if u.arbitrary().unwrap_or(false) { 2 } else { 1 };
    let mut memories = MemorySection::new();
    memories.memory(MemoryType {
        minimum: 1,
        maximum: Some(max_pages),
        memory64: false,
        shared: false,
        page_size_log2: None,
    });
    let mut exports = ExportSection::new();
    exports.export("memory", ExportKind::Memory, 0);
    exports.export("main", ExportKind::Func, HostFunction::ALL.len() as u32);

    let init_len = u.int_in_range(0..=256usize).unwrap_or(0);
    let init = u.bytes(init_len).unwrap_or(&[]).to_vec();

    let mut body = Function::new([]);
    let grow = u.arbitrary::<u8>().unwrap_or(0).is_multiple_of(8);
    let pages = if grow && max_pages == 2 {
        body.instruction(&Instruction::I32Const(1));
        body.instruction(&Instruction::MemoryGrow(0));
        body.instruction(&Instruction::Drop);
        2
    } else {
        1
    };
    // Often a write that succeeds first, so that a later trap has changes to discard.
    if u.arbitrary::<u8>().unwrap_or(0).is_multiple_of(2) {
        for _ in 0..4 {
            let v = i32::from(u.arbitrary::<u8>().unwrap_or(0) % 32);
            body.instruction(&Instruction::I32Const(v));
        }
        body.instruction(&Instruction::Call(HostFunction::StorageWrite.index()));
        body.instruction(&Instruction::Drop);
    }
    let calls = u.int_in_range(1..=24u8).unwrap_or(1);
    for _ in 0..calls {
        if u.is_empty() {
            break;
        }
        let f = *u.choose(HostFunction::ALL).unwrap_or(&HostFunction::ALL[0]);
        let sig = f.signature();
        for p in sig.params {
            match p {
                WasmType::I32 => body.instruction(&Instruction::I32Const(i32_arg(&mut u, pages))),
                WasmType::I64 => body.instruction(&Instruction::I64Const(i64_arg(&mut u))),
            };
        }
        body.instruction(&Instruction::Call(f.index()));
        for _ in sig.results {
            body.instruction(&Instruction::Drop);
        }
    }
    if u.arbitrary::<u8>().unwrap_or(0).is_multiple_of(4) {
        body.instruction(&Instruction::Unreachable);
    }
    body.instruction(&Instruction::End);
    let mut code = CodeSection::new();
    code.function(&body);
    let mut data_section = DataSection::new();
    data_section.active(0, &ConstExpr::i32_const(0), init.iter().copied());

    let mut module = wasm_encoder::Module::new();
    module
        .section(&types)
        .section(&imports)
        .section(&functions)
        .section(&memories)
        .section(&exports)
        .section(&code)
        .section(&data_section);
    (module.finish(), init)
}

/// Storage that already holds keys the contract's memory starts with (so reads hit).
fn initial_storage(init: &[u8]) -> MemoryStorage {
    let mut storage = MemoryStorage::new();
    for len in [0usize, 1, 4, 8, 32] {
        if len <= init.len() {
            storage.insert(init[..len].to_vec(), format!("value of {len}").into_bytes());
        }
    }
    storage.insert(b"count".to_vec(), 7u64.to_le_bytes().to_vec());
    storage
}

/// One call, and the storage afterwards.
fn run_once(
    module: &Module,
    storage: &MemoryStorage,
    gas: u64,
    input: &[u8],
) -> (Outcome, BTreeMap<Vec<u8>, Vec<u8>>) {
    let mut storage = storage.clone();
    let context = CallContext {
        current_account: b"contract".to_vec(),
        caller: b"alice".to_vec(),
        block_height: 1,
        block_timestamp: 1_000_000_000,
        input: input.to_vec(),
    };
    let outcome = call_contract(
        module,
        "main",
        context,
        HostLimits::default(),
        &mut storage,
        gas,
    )
    .unwrap_or_else(|e| panic!("the harness failed instead of trapping: {e}"));
    (outcome, storage.into_map())
}

/// The body: returns whether the contract ran (it always should).
pub fn host_abi(data: &[u8]) -> bool {
    let (gas_choice, rest) = data.split_first().unwrap_or((&0, &[]));
    let (wasm, init) = contract(rest);
    let module = engine()
        .compile(&wasm)
        .unwrap_or_else(|e| panic!("the generated contract is rejected: {e}"));
    let storage = initial_storage(&init);
    let gas = match gas_choice % 4 {
        0 => u64::from(*gas_choice) * 97,
        _ => 10_000_000,
    };
    let input = &init[..init.len().min(40)];
    let (first, after) = run_once(&module, &storage, gas, input);
    let (second, after_again) = run_once(&module, &storage, gas, input);
    assert_eq!(
        format!("{first:?}"),
        format!("{second:?}"),
        "the same call gave different outcomes"
    );
    assert_eq!(after, after_again, "the same call left different storage");
    assert!(
        first.gas_used <= gas,
        "gas used {} > limit {gas}",
        first.gas_used
    );
    match first.status {
        Status::Ok => {
            let mut expected = storage.as_map().clone();
            for change in &first.state_changes {
                match &change.value {
                    Some(v) => expected.insert(change.key.clone(), v.clone()),
                    None => expected.remove(&change.key),
                };
            }
            assert_eq!(after, expected, "storage differs from the reported changes");
        }
        Status::Trap { .. } | Status::Panic { .. } => {
            assert!(
                first.state_changes.is_empty(),
                "a failed call reported changes"
            );
            assert_eq!(&after, storage.as_map(), "a failed call changed storage");
            if first.status.trap_kind() == Some(gasket_vm::TrapKind::OutOfGas) {
                assert_eq!(first.gas_used, gas, "out of gas below the limit");
            }
        }
    }
    true
}
