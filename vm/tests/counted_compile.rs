//! The runtime's compile takes each function's register choices from the local use
//! counts the metering walk hands over (`gasket_metering::prepare_with_uses`,
//! `PrevalidatedWasm::with_local_uses`) instead of scanning the body again. The code must
//! be the same bytes as with the scan: every input `pinned_compile` pins (fixtures, C and
//! Rust contracts, the JIT-bomb generators, the generated 2 MiB module and, when present,
//! the shared corpus) plus modules written for the counting's edge cases, under the
//! permissive and contract profiles, for x86-64 and AArch64, on one thread and on two.
//! (Debug builds also compare every counted function's counts with a scan of its body.)

use gasket_metering::{prepare_with_uses, Profile};
use gasket_singlepass::{
    compile_prevalidated_buffered_with, Artifact, CompileOptions, PrevalidatedWasm, Target,
};

/// The pinned inputs and the edge cases below.
fn inputs() -> Vec<(String, Vec<u8>)> {
    let mut inputs = gasket_fixtures::pinned_inputs();
    for (name, wat) in EDGE_CASES {
        let wasm = wat::parse_str(wat).unwrap_or_else(|e| panic!("{name}: {e}"));
        inputs.push((format!("edge/{name}"), wasm));
    }
    inputs
}

/// Modules for what the counts must get exactly right: uses in nested loops and in dead
/// code, the scratch local of dynamic charges (bulk memory, `memory.grow` with its page
/// commit charge) at loop depth, calls (the injected intrinsics cost nothing), `copied`
/// float locals (a `local.set` after a float operator, a NaN or other constant, a
/// parameter), and the typed-reference forms the walk leaves to the scan.
const EDGE_CASES: &[(&str, &str)] = &[
    (
        "loops_calls_and_dead_code",
        r#"(module
          (func $callee (param i32) (result i32) local.get 0)
          (func (export "f") (param i32 i64) (result i32)
            (local i32 i32 i32 i32 i32 i32 i32 i64 i64)
            local.get 0 local.set 2
            (loop $a
              (loop $b
                local.get 2 i32.const 1 i32.add local.tee 3 local.set 4
                local.get 3 call $callee drop
                local.get 4 local.get 5 i32.add local.set 5
                local.get 5 br_if $b)
              local.get 6 local.get 7 i32.mul local.set 8
              local.get 8 br_if $a)
            local.get 9 i64.const 3 i64.add local.set 10
            local.get 8
            return
            local.get 7 local.set 6 local.get 0))"#,
    ),
    (
        "dynamic_charges_in_loops",
        r#"(module
          (memory 1 100)
          (table 4 funcref)
          (func (export "f") (param i32 i32) (result i32)
            (local i32 i32 i32 i32 i32 i32)
            (loop $l
              local.get 0 local.get 1 local.get 2 memory.fill
              local.get 3 local.get 4 local.get 5 memory.copy
              (loop $m
                local.get 6 memory.grow local.set 7
                local.get 7 br_if $m)
              ref.null func local.get 0 table.grow 0 drop
              local.get 2 br_if $l)
            local.get 1 memory.grow))"#,
    ),
    (
        "float_locals",
        r#"(module
          (func $g (param f64) (result f64) local.get 0)
          (func (export "f") (param f32 f64) (result f64)
            (local f32 f32 f32 f64 f64 f64 f64 f64 i32 i32 i32 i32 i32 i32 i32)
            f32.const 1.5 local.set 2
            f32.const nan local.set 3
            local.get 0 local.set 4
            (loop $l
              local.get 1 local.get 5 f64.add local.set 5
              local.get 5 f64.sqrt local.tee 6 local.set 7
              local.get 7 f64.neg local.set 8
              local.get 5 f32.demote_f64 local.set 2
              local.get 10 f32.convert_i32_s local.set 4
              local.get 5 call $g local.set 9
              local.get 10 local.get 11 i32.add local.tee 10 br_if $l)
            f64.const nan:0x1 local.set 6
            local.get 5 local.get 6 f64.add local.get 7 f64.add local.get 8 f64.add
            local.get 9 f64.add))"#,
    ),
    (
        "typed_reference_forms",
        r#"(module
          (table 1 funcref)
          (func (export "f") (param i32) (result i32)
            (local i32 i32 i32 i32 i32 i32 i32 funcref)
            (loop $l
              local.get 1 local.get 2 i32.add local.set 3
              local.get 4 local.get 5 local.get 6 select (result i32) local.set 7
              (block (result funcref) ref.null func) local.set 8
              local.get 3 br_if $l)
            local.get 7))"#,
    ),
];

/// The artifact's borsh encoding (everything but the code) and its code.
fn bytes(artifact: Artifact) -> (Vec<u8>, Vec<u8>) {
    let encoded = borsh::to_vec(&artifact).expect("an artifact encodes");
    (encoded, artifact.code)
}

#[test]
fn counted_compiles_are_the_scanned_compiles_byte_for_byte() {
    let mut counted_functions = 0;
    for profile in [Profile::permissive(), Profile::contract()] {
        for (name, wasm) in inputs() {
            let Ok((prepared, uses)) = prepare_with_uses(&wasm, &profile) else {
                continue;
            };
            counted_functions += (0..uses.len())
                .filter(|&i| uses.function(i).is_some())
                .count();
            // SAFETY: `prepare`'s output is valid wasm (its debug assertion checks).
            let scanned = unsafe { PrevalidatedWasm::new_unchecked(&prepared.wasm) };
            let counted = scanned.with_local_uses(&uses);
            for target in [Target::X86_64, Target::Aarch64] {
                for threads in [1, 2] {
                    let options = CompileOptions {
                        threads,
                        ..CompileOptions::default()
                    };
                    let with = compile_prevalidated_buffered_with(counted, target, &options)
                        .map(|c| bytes(c.into_artifact()));
                    let without = compile_prevalidated_buffered_with(scanned, target, &options)
                        .map(|c| bytes(c.into_artifact()));
                    match (&with, &without) {
                        (Ok(a), Ok(b)) => assert!(
                            a == b,
                            "{name} ({}, {target:?}, {threads} threads): the counted \
                             compile differs from the scanned one",
                            profile.name
                        ),
                        (Err(a), Err(b)) => assert_eq!(format!("{a:?}"), format!("{b:?}")),
                        _ => panic!("{name}: {with:?} vs {without:?}"),
                    }
                }
            }
        }
    }
    assert!(
        counted_functions > 1000,
        "{counted_functions} functions counted"
    );
}

#[test]
fn the_walk_leaves_typed_reference_forms_to_the_scan() {
    let (_, wat) = EDGE_CASES
        .iter()
        .find(|(name, _)| *name == "typed_reference_forms")
        .expect("the case exists");
    let wasm = wat::parse_str(wat).expect("parses");
    let (_, uses) = prepare_with_uses(&wasm, &Profile::permissive()).expect("prepares");
    assert_eq!(uses.len(), 1);
    assert!(uses.function(0).is_none(), "a typed select: not counted");
}
