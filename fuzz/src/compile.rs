//! Target `compile`: wasm-smith modules inside the deterministic profile (memories, tables,
//! multi-value, bulk memory, reference types, f32/f64 with the saturating truncations,
//! deep control flow, sometimes imports and a start function) through `prepare` and the single-pass compiler for both targets.
//! Invariants: nothing panics; every module `prepare` accepts compiles for x86-64 and for
//! AArch64 (compiling needs no emulator), deterministically, and `compile_prevalidated`
//! (the runtime's path: no second validation, the walk's local use counts) gives the
//! same artifact as `compile`.

use arbitrary::Unstructured;
use gasket_metering::{prepare_with_uses, Profile};
use gasket_singlepass::Target;

/// The wasm-smith configuration, shaped by the first fuzzer bytes: the deterministic
/// profile's features with sizes and nesting chosen per input, and floats (the permissive
/// profile accepts them with canonical NaNs).
pub fn config(u: &mut Unstructured<'_>) -> arbitrary::Result<wasm_smith::Config> {
    let base = gasket_fixtures::smith::deterministic_config();
    Ok(wasm_smith::Config {
        max_memories: 1,
        max_tables: u.int_in_range(0..=4)?,
        max_table_elements: u.int_in_range(0..=1_000)?,
        max_memory32_bytes: u64::from(u.int_in_range(0u32..=32)?) << 16,
        max_types: u.int_in_range(1..=24)?,
        max_funcs: u.int_in_range(1..=24)?,
        max_globals: u.int_in_range(0..=16)?,
        max_imports: u.int_in_range(0..=4)?,
        max_instructions: u.int_in_range(1..=2_000)?,
        max_nesting_depth: u.int_in_range(1..=256)?,
        max_data_segments: u.int_in_range(0..=8)?,
        max_element_segments: u.int_in_range(0..=8)?,
        allow_start_export: u.arbitrary()?,
        disallow_traps: u.arbitrary()?,
        export_everything: u.arbitrary()?,
        allow_floats: true,
        saturating_float_to_int_enabled: true,
        ..base
    })
}

/// Generates a module from `data`; `None` when the bytes run out first.
pub fn smith_module(data: &[u8]) -> Option<Vec<u8>> {
    let mut u = Unstructured::new(data);
    let config = config(&mut u).ok()?;
    let module = wasm_smith::Module::new(config, &mut u).ok()?;
    Some(module.to_bytes())
}

/// The body: returns whether `prepare` accepted the module (and so it was compiled).
pub fn compile(data: &[u8]) -> bool {
    let Some(wasm) = smith_module(data) else {
        return false;
    };
    compile_wasm(&wasm)
}

/// `prepare` + compile for both targets; panics if an accepted module does not compile.
pub fn compile_wasm(wasm: &[u8]) -> bool {
    let Ok((prepared, uses)) = prepare_with_uses(wasm, &Profile::permissive()) else {
        return false;
    };
    for target in [Target::X86_64, Target::Aarch64] {
        let artifact = gasket_singlepass::compile(&prepared.wasm, target).unwrap_or_else(|e| {
            panic!(
                "prepare accepted a module that does not compile for {}: {e}\n{}",
                target.as_str(),
                wasmprinter::print_bytes(wasm).unwrap_or_default()
            )
        });
        // The second compile takes the runtime's path, which skips validation and takes
        // the walk's local use counts instead of scanning bodies: it must give the same
        // artifact (determinism, and `compile_prevalidated` ≡ `compile`; debug builds
        // also check each function's counts against the scan).
        let valid = gasket_singlepass::PrevalidatedWasm::validate(&prepared.wasm)
            .expect("prepare's output is valid")
            .with_local_uses(&uses);
        let again = gasket_singlepass::compile_prevalidated(valid, target)
            .expect("the second compile of a module succeeds");
        assert!(
            artifact == again,
            "compiling for {} is not deterministic, or compile_prevalidated differs",
            target.as_str()
        );
    }
    true
}
