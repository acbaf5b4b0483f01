//! The instrumented module does not depend on how the input spells its local
//! declarations: `inject` copies minimal encodings as they are and re-encodes the others
//! (padded LEB128 counts), and both must give the same bytes as wasm-encoder's minimal
//! form, with or without the scratch local a `memory.grow` adds.

use gasket_metering::{prepare, Profile};
use wasm_encoder::{
    CodeSection, ExportKind, ExportSection, FunctionSection, MemorySection, MemoryType, Module,
    TypeSection, ValType,
};

/// A module of one exported `(i32) -> i32` function with the body `body` (its locals and
/// operators, without the size prefix) and one page of memory.
fn module(body: &[u8]) -> Vec<u8> {
    let mut module = Module::new();
    let mut types = TypeSection::new();
    types.ty().function([ValType::I32], [ValType::I32]);
    module.section(&types);
    let mut functions = FunctionSection::new();
    functions.function(0);
    module.section(&functions);
    let mut memories = MemorySection::new();
    memories.memory(MemoryType {
        minimum: 1,
        maximum: Some(2),
        memory64: false,
        shared: false,
        page_size_log2: None,
    });
    module.section(&memories);
    let mut exports = ExportSection::new();
    exports.export("f", ExportKind::Func, 0);
    module.section(&exports);
    let mut code = CodeSection::new();
    code.raw(body);
    module.section(&code);
    module.finish()
}

/// `(local i64) (local i32 i32 i32)`, minimal: 2 groups, 1 × i64, 3 × i32.
const MINIMAL_LOCALS: &[u8] = &[0x02, 0x01, 0x7e, 0x03, 0x7f];
/// The same declarations with every count padded (2 and 3 bytes instead of 1).
const PADDED_LOCALS: &[u8] = &[0x82, 0x00, 0x81, 0x00, 0x7e, 0x83, 0x80, 0x00, 0x7f];

fn body(locals: &[u8], ops: &[u8]) -> Vec<u8> {
    [locals, ops].concat()
}

#[test]
fn padded_local_counts_give_the_minimal_output() {
    // `local.get 0; end`, then `local.get 0; memory.grow 0; end` (a scratch local).
    let plain: &[u8] = &[0x20, 0x00, 0x0b];
    let grow: &[u8] = &[0x20, 0x00, 0x40, 0x00, 0x0b];
    for ops in [plain, grow] {
        for profile in [Profile::contract(), Profile::permissive()] {
            let minimal = prepare(&module(&body(MINIMAL_LOCALS, ops)), &profile)
                .expect("the minimal module prepares");
            let padded = prepare(&module(&body(PADDED_LOCALS, ops)), &profile)
                .expect("the padded module prepares");
            assert_eq!(padded.wasm, minimal.wasm);
            // And the output's own declarations are minimal: the same 4 locals (plus a
            // scratch i32 with `memory.grow`), as wasm-encoder writes them.
            let mut expected = vec![0x01, 0x7e, 0x03, 0x7f];
            if ops == grow {
                expected.extend_from_slice(&[0x01, 0x7f]);
            }
            let groups = 2 + u8::from(ops == grow);
            let mut declared = vec![groups];
            declared.extend_from_slice(&expected);
            assert!(
                minimal
                    .wasm
                    .windows(declared.len())
                    .any(|w| w == declared.as_slice()),
                "minimal local declarations in the output"
            );
        }
    }
}

#[test]
fn a_function_without_locals_keeps_none() {
    let ops: &[u8] = &[0x20, 0x00, 0x0b];
    let minimal = prepare(&module(&body(&[0x00], ops)), &Profile::contract()).expect("prepares");
    let padded =
        prepare(&module(&body(&[0x80, 0x00], ops)), &Profile::contract()).expect("prepares");
    assert_eq!(padded.wasm, minimal.wasm);
}
