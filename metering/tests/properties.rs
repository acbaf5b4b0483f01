//! Properties of `prepare` over arbitrary and generated inputs (proptest + wasm-smith).
//!
//! * It never panics: on arbitrary bytes, on bytes behind a valid wasm header, on mutated
//!   valid modules, and on wasm-smith modules, including modules using floats, SIMD and
//!   every other proposal wasm-smith knows (those must be rejected with a typed error).
//! * Whenever it accepts a module:
//!   - the output validates with wasmparser under the WebAssembly 2.0 feature set;
//!   - preparing the same input twice gives identical bytes and identical `ModuleInfo`;
//!   - `check` (collect-all mode) accepts too, with the same output;
//!   - preparing the OUTPUT again is rejected with `reserved_import`: the `gasket`
//!     namespace belongs to the instrumentation.
//! * Whenever it rejects a module, `check` rejects it too, reporting the same first error.

use arbitrary::Unstructured;
use gasket_metering::{check, prepare, FloatPolicy, PrepareError, Profile};
use proptest::prelude::*;
use wasmparser::{Validator, WasmFeatures};

/// Both built-in profiles.
/// The built-in profiles with floats rejected: the tests about what lies outside the
/// deterministic integer set use these.
fn profiles() -> [Profile; 2] {
    [
        Profile::contract().with_floats(FloatPolicy::Reject),
        Profile::permissive().with_floats(FloatPolicy::Reject),
    ]
}

/// The built-in profiles as shipped (floats admitted with canonical NaNs).
fn float_profiles() -> [Profile; 2] {
    [Profile::contract(), Profile::permissive()]
}

/// Runs every property of `prepare` on `wasm` under `profile`; returns the outcome.
fn check_properties(wasm: &[u8], profile: &Profile) -> Result<(), PrepareError> {
    let first = prepare(wasm, profile);
    let collected = check(wasm, profile);
    match &first {
        Ok(prepared) => {
            let again = prepare(wasm, profile).expect("second prepare of an accepted module");
            assert_eq!(
                prepared.wasm, again.wasm,
                "prepare is not deterministic (bytes)"
            );
            assert_eq!(
                prepared.info, again.info,
                "prepare is not deterministic (info)"
            );
            let collected = collected.expect("check rejects a module prepare accepts");
            assert_eq!(
                &collected, prepared,
                "check and prepare disagree on the output"
            );

            let mut validator = Validator::new_with_features(WasmFeatures::WASM2);
            if let Err(e) = validator.validate_all(&prepared.wasm) {
                panic!(
                    "prepared output does not validate: {e}\n{}",
                    wasmprinter::print_bytes(&prepared.wasm).unwrap_or_default()
                );
            }
            assert_eq!(prepared.info.original_size, wasm.len() as u64);

            match prepare(&prepared.wasm, profile) {
                Ok(_) => panic!("re-preparing instrumented output was accepted"),
                Err(e) => assert_eq!(e.kind(), "reserved_import", "re-preparing output: {e}"),
            }
        }
        Err(error) => {
            assert!(!error.to_string().is_empty());
            let again =
                prepare(wasm, profile).expect_err("second prepare accepts a rejected module");
            assert_eq!(&again, error, "prepare is not deterministic (error)");
            let collected = collected.expect_err("check accepts a module prepare rejects");
            assert!(!collected.0.is_empty(), "check returned an empty rejection");
            assert_eq!(
                &collected.0[0], error,
                "check's first error differs from prepare's"
            );
        }
    }
    first.map(|_| ())
}

fn all_profiles(wasm: &[u8]) {
    for profile in profiles() {
        let _ = check_properties(wasm, &profile);
    }
}

const HEADER: [u8; 8] = *b"\0asm\x01\0\0\0";

/// One edit of a valid module.
#[derive(Clone, Debug)]
enum Mutation {
    Flip { at: usize, bit: u8 },
    Set { at: usize, byte: u8 },
    Insert { at: usize, byte: u8 },
    Delete { at: usize, len: usize },
    Duplicate { at: usize, len: usize },
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let at = any::<usize>();
    prop_oneof![
        (at, 0u8..8).prop_map(|(at, bit)| Mutation::Flip { at, bit }),
        (at, any::<u8>()).prop_map(|(at, byte)| Mutation::Set { at, byte }),
        (at, any::<u8>()).prop_map(|(at, byte)| Mutation::Insert { at, byte }),
        (at, 1usize..8).prop_map(|(at, len)| Mutation::Delete { at, len }),
        (at, 1usize..16).prop_map(|(at, len)| Mutation::Duplicate { at, len }),
    ]
}

fn apply(mut wasm: Vec<u8>, mutations: &[Mutation]) -> Vec<u8> {
    for m in mutations {
        if wasm.is_empty() {
            break;
        }
        let n = wasm.len();
        match *m {
            Mutation::Flip { at, bit } => wasm[at % n] ^= 1 << bit,
            Mutation::Set { at, byte } => wasm[at % n] = byte,
            Mutation::Insert { at, byte } => wasm.insert(at % (n + 1), byte),
            Mutation::Delete { at, len } => {
                let start = at % n;
                wasm.drain(start..(start + len).min(n));
            }
            Mutation::Duplicate { at, len } => {
                let start = at % n;
                let piece: Vec<u8> = wasm[start..(start + len).min(n)].to_vec();
                wasm.splice(start..start, piece);
            }
        }
    }
    wasm
}

/// Fixtures that both profiles (or at least the permissive one) accept: mutation seeds.
fn seeds() -> Vec<Vec<u8>> {
    let mut seeds = vec![
        gasket_fixtures::wasm("arith"),
        gasket_fixtures::wasm("counter"),
    ];
    seeds.push(
        wat::parse_str(
            r#"(module
              (type $t (func (param i32) (result i32)))
              (table 2 funcref)
              (memory 1 2)
              (global $g (mut i64) (i64.const 1))
              (elem (i32.const 0) $f)
              (data "abc")
              (func $f (type $t) (local i64)
                (block $b (result i32)
                  (br_table $b 0 (local.get 0) (local.get 0))))
              (func (export "bulk") (param i32) (result i32)
                (memory.init 0 (i32.const 0) (i32.const 0) (local.get 0))
                (memory.copy (i32.const 8) (i32.const 0) (local.get 0))
                (memory.fill (i32.const 8) (i32.const 1) (local.get 0))
                (drop (table.grow (ref.null func) (local.get 0)))
                (global.set $g (i64.extend_i32_u (memory.grow (local.get 0))))
                (call_indirect (type $t) (local.get 0) (i32.const 0))))"#,
        )
        .unwrap(),
    );
    for seed in &seeds {
        assert!(
            prepare(seed, &Profile::permissive()).is_ok(),
            "mutation seeds must be accepted"
        );
    }
    seeds
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1024, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        all_profiles(&bytes);
    }

    #[test]
    fn arbitrary_bytes_behind_a_header_never_panic(body in prop::collection::vec(any::<u8>(), 0..512)) {
        let mut wasm = HEADER.to_vec();
        wasm.extend_from_slice(&body);
        all_profiles(&wasm);
    }

    #[test]
    fn mutated_valid_modules_never_panic(
        seed in 0usize..3,
        mutations in prop::collection::vec(mutation(), 1..5),
    ) {
        let seeds = seeds();
        let wasm = apply(seeds[seed % seeds.len()].clone(), &mutations);
        all_profiles(&wasm);
    }
}

// ---------------------------------------------------------------------------------------
// wasm-smith
// ---------------------------------------------------------------------------------------

/// Inside the deterministic profile: integer-only WebAssembly 2.0, no imports.
fn in_profile_config() -> wasm_smith::Config {
    wasm_smith::Config {
        max_memory32_bytes: 256 << 16,
        max_table_elements: 10_000,
        ..gasket_fixtures::smith::deterministic_config()
    }
}

/// The deterministic feature set plus floats: what `prepare` must reject as floats only.
fn features_with(extra: WasmFeatures) -> WasmFeatures {
    (WasmFeatures::MUTABLE_GLOBAL
        | WasmFeatures::SIGN_EXTENSION
        | WasmFeatures::MULTI_VALUE
        | WasmFeatures::BULK_MEMORY
        | WasmFeatures::REFERENCE_TYPES
        | WasmFeatures::CALL_INDIRECT_OVERLONG
        | WasmFeatures::BULK_MEMORY_OPT
        | WasmFeatures::GC_TYPES)
        | extra
}

fn valid_with(wasm: &[u8], features: WasmFeatures) -> bool {
    Validator::new_with_features(features)
        .validate_all(wasm)
        .is_ok()
}

fn smith(config: wasm_smith::Config, data: &[u8]) -> Option<Vec<u8>> {
    let mut u = Unstructured::new(data);
    wasm_smith::Module::new(config, &mut u)
        .ok()
        .map(|m| m.to_bytes())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

    /// In-profile modules are accepted (unless over a limit) and satisfy every property.
    #[test]
    fn smith_in_profile_modules_are_accepted(data in prop::collection::vec(any::<u8>(), 256..6144)) {
        let Some(wasm) = smith(in_profile_config(), &data) else { return Ok(()) };
        prop_assert!(valid_with(&wasm, features_with(WasmFeatures::empty())));
        for profile in profiles() {
            match check_properties(&wasm, &profile) {
                Ok(()) => {}
                Err(e) if e.kind() == "limit_exceeded" => {}
                Err(e) => prop_assert!(false, "in-profile module rejected ({}): {e}", profile.name),
            }
        }
    }

    /// Floats enabled, everything else in profile: with the `Reject` policy a module that
    /// needs floats is rejected with `floats_not_allowed` and one that happens not to use
    /// them is accepted; with `Canonicalize` (the default) every one is accepted.
    #[test]
    fn smith_float_modules_follow_the_float_policy(data in prop::collection::vec(any::<u8>(), 256..6144)) {
        let config = wasm_smith::Config {
            allow_floats: true,
            saturating_float_to_int_enabled: true,
            ..in_profile_config()
        };
        let Some(wasm) = smith(config, &data) else { return Ok(()) };
        let uses_floats = !valid_with(&wasm, features_with(WasmFeatures::empty()));
        prop_assert!(valid_with(&wasm, features_with(WasmFeatures::FLOATS | WasmFeatures::SATURATING_FLOAT_TO_INT)));
        for profile in profiles() {
            match check_properties(&wasm, &profile) {
                Ok(()) => prop_assert!(!uses_floats, "a module using floats was accepted"),
                Err(e) if e.kind() == "limit_exceeded" => {}
                Err(e) => {
                    prop_assert!(uses_floats, "float-free module rejected: {e}");
                    prop_assert!(e.kind() == "floats_not_allowed", "{}", e);
                }
            }
        }
        for profile in float_profiles() {
            match check_properties(&wasm, &profile) {
                Ok(()) => {}
                Err(e) if e.kind() == "limit_exceeded" => {}
                Err(e) => prop_assert!(false, "float module rejected under {}: {e}", profile.name),
            }
        }
    }

    /// SIMD enabled (floats off): a module that needs SIMD is rejected with a feature error.
    #[test]
    fn smith_simd_modules_are_rejected(data in prop::collection::vec(any::<u8>(), 256..6144)) {
        let config = wasm_smith::Config { simd_enabled: true, ..in_profile_config() };
        let Some(wasm) = smith(config, &data) else { return Ok(()) };
        let in_profile = valid_with(&wasm, features_with(WasmFeatures::empty()));
        for profile in profiles() {
            match check_properties(&wasm, &profile) {
                Ok(()) => prop_assert!(in_profile, "a module using SIMD was accepted"),
                Err(e) if e.kind() == "limit_exceeded" => {}
                Err(e) => {
                    prop_assert!(!in_profile, "SIMD-free module rejected: {e}");
                    prop_assert!(
                        matches!(e.kind(), "simd_not_allowed" | "floats_not_allowed"),
                        "unexpected rejection of a SIMD module: {e}"
                    );
                }
            }
        }
    }

    /// wasm-smith's defaults: every proposal it knows (floats, SIMD, relaxed SIMD, threads,
    /// exceptions, GC, tail calls, memory64, multi-memory, wide arithmetic, imports of every
    /// kind). Never a panic; a module outside the profile is never accepted.
    #[test]
    fn smith_everything_never_panics(data in prop::collection::vec(any::<u8>(), 256..6144)) {
        let config = wasm_smith::Config { max_memories: 2, ..wasm_smith::Config::default() };
        let Some(wasm) = smith(config, &data) else { return Ok(()) };
        let in_profile = valid_with(&wasm, features_with(WasmFeatures::empty()));
        for profile in profiles() {
            if check_properties(&wasm, &profile).is_ok() {
                prop_assert!(in_profile, "a module outside the deterministic feature set was accepted");
            }
        }
    }
}

/// Regression: a float or SIMD value type that appears only as a block type
/// (`block`/`loop`/`if (result f32)`) or as a typed `select`'s type was once reported as
/// `invalid_function` instead of the typed feature error. Found by
/// `smith_float_modules_follow_the_float_policy`.
#[test]
fn float_and_simd_block_types_are_typed_rejections() {
    let cases = [
        ("(module (func (block (result f32) (unreachable)) (drop)))", "floats_not_allowed"),
        ("(module (func (loop (result f64) (unreachable)) (drop)))", "floats_not_allowed"),
        (
            "(module (func (param i32) (if (result f32) (local.get 0) (then (unreachable)) (else (unreachable))) (drop)))",
            "floats_not_allowed",
        ),
        ("(module (func (unreachable) (select (result f32)) (drop)))", "floats_not_allowed"),
        ("(module (func (block (result v128) (unreachable)) (drop)))", "simd_not_allowed"),
    ];
    let mut wrong = Vec::new();
    for (text, expected) in cases {
        let wasm = wat::parse_str(text).unwrap();
        for profile in profiles() {
            match prepare(&wasm, &profile) {
                Ok(_) => wrong.push(format!("{}: {text}: accepted", profile.name)),
                Err(e) if e.kind() != expected => wrong.push(format!(
                    "{}: {text}: {} ({e}), expected {expected}",
                    profile.name,
                    e.kind()
                )),
                Err(_) => {}
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "untyped rejections:\n{}",
        wrong.join("\n")
    );
}

/// The wasm-smith properties are not vacuous: fixed inputs produce modules that `prepare`
/// accepts and mutated seeds are sometimes still accepted.
#[test]
fn generators_reach_the_accepting_path() {
    let mut state = 0x2545_F491_4F6C_DD1Du64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let (mut generated, mut accepted) = (0, 0);
    for _ in 0..100 {
        let data: Vec<u8> = (0..2048).map(|_| next() as u8).collect();
        let Some(wasm) = smith(in_profile_config(), &data) else {
            continue;
        };
        generated += 1;
        match check_properties(&wasm, &Profile::permissive()) {
            Ok(()) => accepted += 1,
            // wasm-smith's default sizes can exceed the profile's limits (memory pages...).
            Err(e) => assert_eq!(e.kind(), "limit_exceeded", "{e}"),
        }
    }
    assert!(
        generated >= 90 && accepted * 4 >= generated * 3,
        "{accepted} of {generated} accepted"
    );

    let seeds = seeds();
    let mut mutated_accepted = 0;
    for i in 0..300u64 {
        let mutations = [Mutation::Flip {
            at: next() as usize,
            bit: (next() % 8) as u8,
        }];
        let wasm = apply(seeds[(i % 3) as usize].clone(), &mutations);
        if check_properties(&wasm, &Profile::permissive()).is_ok() {
            mutated_accepted += 1;
        }
    }
    assert!(
        mutated_accepted >= 10,
        "only {mutated_accepted} of 300 single-bit mutants accepted"
    );
}
