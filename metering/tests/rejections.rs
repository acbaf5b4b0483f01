//! Every rejection and every limit, each asserted by its error kind.

use gasket_fixtures::generate;
use gasket_metering::{
    check, prepare, Feature, FloatPolicy, LimitKind, Limits, PrepareError, Profile,
};

fn wat(text: &str) -> Vec<u8> {
    wat::parse_str(text).expect("test WAT parses")
}

fn rejected(wasm: &[u8], profile: &Profile) -> PrepareError {
    match prepare(wasm, profile) {
        Ok(_) => panic!("module was accepted"),
        Err(e) => e,
    }
}

fn feature_of(text: &str, profile: &Profile) -> Feature {
    let err = rejected(&wat(text), profile);
    err.feature()
        .unwrap_or_else(|| panic!("not a feature error: {err}"))
}

fn limit_of(wasm: &[u8], limits: Limits) -> PrepareError {
    let profile = Profile {
        limits,
        ..Profile::permissive()
    };
    let err = rejected(wasm, &profile);
    assert_eq!(err.kind(), "limit_exceeded", "{err}");
    err
}

#[test]
fn floats_are_rejected_in_operators_types_locals_and_globals() {
    let strict = |p: Profile| p.with_floats(FloatPolicy::Reject);
    for profile in [strict(Profile::contract()), strict(Profile::permissive())] {
        let op = "(module (func (drop (f32.const 1))))";
        assert_eq!(feature_of(op, &profile), Feature::Floats);
        assert_eq!(
            feature_of("(module (func (param f64)))", &profile),
            Feature::Floats
        );
        assert_eq!(
            feature_of("(module (func (local f32)))", &profile),
            Feature::Floats
        );
        assert_eq!(
            feature_of("(module (global f64 (f64.const 0)))", &profile),
            Feature::Floats
        );
        let sat = "(module (func (param i64) (result i32) (i32.wrap_i64 (local.get 0))) (func (drop (i32.trunc_sat_f32_s (f32.const 0)))))";
        assert_eq!(feature_of(sat, &profile), Feature::Floats);
    }
    let err = rejected(
        &gasket_fixtures::wasm("floats"),
        &strict(Profile::contract()),
    );
    assert_eq!(err.kind(), "floats_not_allowed");
    let text = err.to_string();
    assert!(
        text.contains("function 0") && text.contains("f64.convert_i32_s"),
        "{text}"
    );
}

#[test]
fn the_default_profiles_admit_floats_and_charge_them_by_class() {
    let wasm = wat("(module (func (param f64 f32) (result i32)
        (f64.div (local.get 0) (f64.const 3))
        (f64.promote_f32 (local.get 1))
        f64.add
        i32.trunc_sat_f64_s))");
    for profile in [Profile::contract(), Profile::permissive()] {
        assert_eq!(profile.floats, FloatPolicy::Canonicalize);
        let prepared = prepare(&wasm, &profile).expect("floats admitted");
        assert!(!prepared.wasm.is_empty());
    }
    let costs = Profile::contract().costs;
    use gasket_metering::OpClass;
    use wasmparser::Operator;
    assert_eq!(costs.operator_cost(&Operator::F64Div), costs.float_div_sqrt);
    assert_eq!(costs.operator_cost(&Operator::F32Add), costs.float_arith);
    assert_eq!(
        costs.operator_cost(&Operator::I32TruncSatF64S),
        costs.float_to_int
    );
    assert_eq!(costs.operator_cost(&Operator::F64Neg), costs.alu);
    assert_eq!(costs.cost(OpClass::FloatToInt), costs.float_to_int);
}

#[test]
fn nondeterministic_and_unsupported_proposals_are_rejected() {
    let p = Profile::permissive();
    assert_eq!(
        feature_of("(module (func (drop (i32x4.splat (i32.const 1)))))", &p),
        Feature::Simd
    );
    assert_eq!(
        feature_of("(module (func (param v128)))", &p),
        Feature::Simd
    );
    assert_eq!(
        feature_of("(module (memory 1 1 shared))", &p),
        Feature::Threads
    );
    assert_eq!(feature_of("(module (memory i64 1))", &p), Feature::Memory64);
    assert_eq!(
        feature_of("(module (memory 1) (memory 1))", &p),
        Feature::MultiMemory
    );
    assert_eq!(feature_of("(module (tag))", &p), Feature::Exceptions);
    assert_eq!(feature_of("(module (type (struct)))", &p), Feature::Gc);
    assert_eq!(
        feature_of("(module (func $f (return_call $f)))", &p),
        Feature::TailCalls
    );
    let atomics = "(module (memory 1 1) (func (drop (i32.atomic.load (i32.const 0)))))";
    assert_eq!(feature_of(atomics, &p), Feature::Threads);
    assert_eq!(
        rejected(&gasket_fixtures::wasm("simd"), &p).kind(),
        "simd_not_allowed"
    );
}

#[test]
fn compact_import_encoding_is_rejected() {
    // Found by `properties::smith_everything_never_panics`: the compact-imports proposal's
    // encoding (module "", then 0x7F and a vector of items) slipped past validation.
    #[rustfmt::skip]
    let wasm = [
        0, b'a', b's', b'm', 1, 0, 0, 0,  // header
        1, 4, 1, 0x60, 0, 0,              // type section: () -> ()
        2, 10,                            // import section, 10 bytes
        1,                                // one group
        1, b'm', 0, 0x7F,                 // module "m", empty name, compact encoding 1
        1, 1, b'f', 0x00, 0x00,           // one item: "f", function of type 0
    ];
    let err = rejected(&wasm, &Profile::permissive());
    assert_eq!(err.kind(), "unsupported_proposal", "{err}");
}

#[test]
fn reserved_namespace_is_rejected_in_every_profile() {
    for profile in [Profile::contract(), Profile::permissive()] {
        let err = rejected(&gasket_fixtures::wasm("imports_gas"), &profile);
        assert_eq!(err.kind(), "reserved_import");
    }
}

#[test]
fn contract_profile_admits_only_host_abi_functions() {
    let c = Profile::contract();
    assert_eq!(
        rejected(&gasket_fixtures::wasm("unknown_import"), &c).kind(),
        "unknown_import"
    );
    let other_module = "(module (import \"other\" \"log_utf8\" (func (param i32 i32))))";
    assert_eq!(rejected(&wat(other_module), &c).kind(), "unknown_import");
    let wrong_sig = "(module (import \"env\" \"log_utf8\" (func (param i32))))";
    let err = rejected(&wat(wrong_sig), &c);
    assert_eq!(err.kind(), "import_signature_mismatch");
    assert!(err.to_string().contains("(i32, i32) -> ()"), "{err}");
    for import in ["(memory 1)", "(table 1 funcref)", "(global i32)"] {
        let text = format!("(module (import \"env\" \"x\" {import}))");
        assert_eq!(
            rejected(&wat(&text), &c).kind(),
            "import_kind_not_allowed",
            "{import}"
        );
    }
    // The same imports are fine for embedders.
    let p = Profile::permissive();
    for text in [
        other_module,
        wrong_sig,
        "(module (import \"env\" \"x\" (memory 1)))",
    ] {
        prepare(&wat(text), &p).unwrap_or_else(|e| panic!("{text}: {e}"));
    }
    // A host function with its exact signature resolves to it.
    let ok = prepare(&gasket_fixtures::wasm("counter"), &c).expect("counter is a valid contract");
    assert!(ok.info.imports.iter().all(|i| i.host_function.is_some()));
}

#[test]
fn invalid_modules_are_rejected_not_panicked_on() {
    assert_eq!(
        rejected(b"\0asm\x01\0\0\0\x01", &Profile::permissive()).kind(),
        "invalid_module"
    );
    assert_eq!(
        rejected(b"not wasm", &Profile::permissive()).kind(),
        "invalid_module"
    );
    let bad_body = "(module (func (result i32) (i64.const 0)))";
    let err = rejected(&wat(bad_body), &Profile::permissive());
    assert_eq!(err.kind(), "invalid_function");
    assert!(err.to_string().contains("function 0"), "{err}");
}

#[test]
fn module_size_limit() {
    let wasm = generate::straight_line(10_000);
    let err = limit_of(
        &wasm,
        Limits {
            max_module_bytes: 1000,
            ..Limits::default()
        },
    );
    assert_eq!(err.limit(), Some(LimitKind::ModuleBytes));
    assert!(Limits::default().max_module_bytes == 4 * 1024 * 1024);
}

#[test]
fn count_limits() {
    let cases: Vec<(&str, Limits, LimitKind)> = vec![
        (
            "(module (type (func)) (type (func (param i32))))",
            Limits {
                max_types: 1,
                ..Limits::default()
            },
            LimitKind::Types,
        ),
        (
            "(module (func) (func))",
            Limits {
                max_functions: 1,
                ..Limits::default()
            },
            LimitKind::Functions,
        ),
        (
            "(module (import \"a\" \"b\" (func)) (import \"a\" \"c\" (func)))",
            Limits {
                max_imports: 1,
                ..Limits::default()
            },
            LimitKind::Imports,
        ),
        (
            "(module (func (export \"a\")) (func (export \"b\")))",
            Limits {
                max_exports: 1,
                ..Limits::default()
            },
            LimitKind::Exports,
        ),
        (
            "(module (global i32 (i32.const 0)) (global i32 (i32.const 0)))",
            Limits {
                max_globals: 1,
                ..Limits::default()
            },
            LimitKind::Globals,
        ),
        (
            "(module (func (param i32 i32 i32)))",
            Limits {
                max_params: 2,
                ..Limits::default()
            },
            LimitKind::Params,
        ),
        (
            "(module (func (result i32 i32) (i32.const 0) (i32.const 0)))",
            Limits {
                max_results: 1,
                ..Limits::default()
            },
            LimitKind::Results,
        ),
        (
            "(module (func (param i32) (local i32 i32)))",
            Limits {
                max_locals: 2,
                ..Limits::default()
            },
            LimitKind::Locals,
        ),
        (
            "(module (table 11 funcref))",
            Limits {
                max_table_size: 10,
                ..Limits::default()
            },
            LimitKind::TableSize,
        ),
        (
            "(module (table 1 funcref) (table 1 funcref))",
            Limits {
                max_tables: 1,
                ..Limits::default()
            },
            LimitKind::Tables,
        ),
        (
            "(module (memory 2))",
            Limits {
                max_memory_pages: 1,
                ..Limits::default()
            },
            LimitKind::MemoryPages,
        ),
        (
            "(module (memory 1) (data (i32.const 0) \"a\") (data (i32.const 1) \"b\"))",
            Limits {
                max_data_segments: 1,
                ..Limits::default()
            },
            LimitKind::DataSegments,
        ),
        (
            "(module (table 2 funcref) (func) (elem (i32.const 0) 0) (elem (i32.const 1) 0))",
            Limits {
                max_element_segments: 1,
                ..Limits::default()
            },
            LimitKind::ElementSegments,
        ),
    ];
    for (text, limits, kind) in cases {
        let err = limit_of(&wat(text), limits);
        assert_eq!(err.limit(), Some(kind), "{text}: {err}");
        assert!(
            err.to_string().contains(kind.field()),
            "the message names the knob: {err}"
        );
    }
}

#[test]
fn body_limits_and_jit_bombs() {
    let err = limit_of(
        &generate::deep_nesting(50),
        Limits {
            max_nesting_depth: 49,
            ..Limits::default()
        },
    );
    assert_eq!(err.limit(), Some(LimitKind::NestingDepth));
    prepare(
        &generate::deep_nesting(49),
        &Profile {
            limits: Limits {
                max_nesting_depth: 49,
                ..Limits::default()
            },
            ..Profile::permissive()
        },
    )
    .expect("exactly at the limit is fine");
    let err = limit_of(&generate::big_br_table(100_000), Limits::default());
    assert_eq!(err.limit(), Some(LimitKind::BrTableTargets));
    let err = limit_of(&generate::many_locals(20_000), Limits::default());
    assert_eq!(err.limit(), Some(LimitKind::Locals));
    let err = limit_of(&generate::straight_line(300_000), Limits::default());
    assert_eq!(err.limit(), Some(LimitKind::BodyBytes));
    // Under the limits, the same shapes are accepted.
    let p = Profile::permissive();
    for wasm in [
        generate::deep_nesting(1000),
        generate::big_br_table(16_384),
        generate::many_locals(9_000),
        generate::straight_line(100_000),
    ] {
        prepare(&wasm, &p).expect("within default limits");
    }
}

#[test]
fn frame_larger_than_the_stack_limit_is_rejected() {
    let mut profile = Profile::permissive();
    profile.stack.max_height = 100;
    let err = rejected(&generate::many_locals(200), &profile);
    assert_eq!(err.limit(), Some(LimitKind::FrameSize));
}

#[test]
fn memory_maximum_is_capped_by_the_profile() {
    let p = Profile::permissive();
    let declared = prepare(&wat("(module (memory 1 4))"), &p).unwrap();
    assert_eq!(
        declared
            .info
            .memory
            .map(|m| (m.initial_pages, m.maximum_pages)),
        Some((1, 4))
    );
    let unbounded = prepare(&wat("(module (memory 1))"), &p).unwrap();
    assert_eq!(
        unbounded.info.memory.map(|m| m.maximum_pages),
        Some(p.limits.max_memory_pages)
    );
    let over = prepare(&wat("(module (memory 1 65536))"), &p).unwrap();
    assert_eq!(
        over.info.memory.map(|m| m.maximum_pages),
        Some(p.limits.max_memory_pages)
    );
}

#[test]
fn check_reports_every_error_found() {
    let text = "(module
        (import \"env\" \"nope\" (func))
        (func (drop (f32.const 1)))
        (func (result i32) (i64.const 0))
        (func (drop (i32x4.splat (i32.const 0)))))";
    let errors = check(
        &wat(text),
        &Profile::contract().with_floats(FloatPolicy::Reject),
    )
    .expect_err("rejected")
    .0;
    let kinds: Vec<&str> = errors.iter().map(|e| e.kind()).collect();
    assert_eq!(
        kinds,
        [
            "unknown_import",
            "floats_not_allowed",
            "invalid_function",
            "simd_not_allowed"
        ]
    );
    // prepare stops at the first.
    assert_eq!(
        rejected(&wat(text), &Profile::contract()).kind(),
        "unknown_import"
    );
}
