//! Hostile and edge-case inputs, end to end: every access width at the memory edge, the
//! "JIT bombs" (deep nesting, huge br_table, many locals, long straight-line bodies) at
//! and over the profile's limits, and every real contract of `../shared/corpus` that the
//! permissive profile accepts.

use gasket_vm::metering::Profile;
use gasket_vm::{Engine, Imports, Instance, LoadError, TrapKind, Value};

const GAS: u64 = 1 << 40;

fn engine() -> Engine {
    Engine::new(Profile::permissive()).expect("engine")
}

/// Every load and store width, at `addr + offset` for offsets 0 and 7: the last in-bounds
/// address succeeds, one byte further traps `memory_out_of_bounds` and writes nothing.
#[test]
fn every_width_traps_exactly_at_the_memory_edge() {
    let loads = [
        ("i32.load", 4),
        ("i64.load", 8),
        ("i32.load8_s", 1),
        ("i32.load8_u", 1),
        ("i32.load16_s", 2),
        ("i32.load16_u", 2),
        ("i64.load8_s", 1),
        ("i64.load8_u", 1),
        ("i64.load16_s", 2),
        ("i64.load16_u", 2),
        ("i64.load32_s", 4),
        ("i64.load32_u", 4),
    ];
    let stores = [
        ("i32.store", "i32", 4),
        ("i64.store", "i64", 8),
        ("i32.store8", "i32", 1),
        ("i32.store16", "i32", 2),
        ("i64.store8", "i64", 1),
        ("i64.store16", "i64", 2),
        ("i64.store32", "i64", 4),
    ];
    let mut funcs = String::new();
    for (i, (op, _)) in loads.iter().enumerate() {
        for offset in [0, 7] {
            funcs.push_str(&format!(
                "(func (export \"l{i}_{offset}\") (param i32) (result i32) \
                 ({op} offset={offset} (local.get 0)) drop (i32.const 1))\n"
            ));
        }
    }
    for (i, (op, ty, _)) in stores.iter().enumerate() {
        for offset in [0, 7] {
            funcs.push_str(&format!(
                "(func (export \"s{i}_{offset}\") (param i32) \
                 ({op} offset={offset} (local.get 0) ({ty}.const -1)))\n"
            ));
        }
    }
    let wat = format!("(module (memory 1 1) {funcs})");
    let module = engine()
        .compile(&wat::parse_str(&wat).expect("valid WAT"))
        .expect("compiles");
    let mut instance = Instance::new(&module, &Imports::new(), GAS).expect("instantiates");
    let edge = 65_536i64;
    for (i, (op, bytes)) in loads.iter().enumerate() {
        for offset in [0i64, 7] {
            let name = format!("l{i}_{offset}");
            let last = (edge - bytes - offset) as i32;
            let out = instance
                .call(&name, &[Value::I32(last)], GAS)
                .expect("call");
            assert_eq!(
                out.result.ok(),
                Some(vec![Value::I32(1)]),
                "{op} at {last}+{offset}"
            );
            for beyond in [last + 1, i32::MAX, -1] {
                let out = instance
                    .call(&name, &[Value::I32(beyond)], GAS)
                    .expect("call");
                let kind = out.result.expect_err("traps").kind;
                assert_eq!(
                    kind,
                    TrapKind::MemoryOutOfBounds,
                    "{op} at {beyond}+{offset}"
                );
            }
        }
    }
    for (i, (op, _, bytes)) in stores.iter().enumerate() {
        for offset in [0i64, 7] {
            let name = format!("s{i}_{offset}");
            let last = (edge - bytes - offset) as i32;
            let before = instance.memory().to_vec();
            let out = instance
                .call(&name, &[Value::I32(last + 1)], GAS)
                .expect("call");
            let kind = out.result.expect_err("traps").kind;
            assert_eq!(
                kind,
                TrapKind::MemoryOutOfBounds,
                "{op} at {}+{offset}",
                last + 1
            );
            assert_eq!(
                instance.memory(),
                &before[..],
                "{op}: a trapping store writes nothing"
            );
            let out = instance
                .call(&name, &[Value::I32(last)], GAS)
                .expect("call");
            assert_eq!(out.result.ok(), Some(vec![]), "{op} at {last}+{offset}");
            assert!(instance.memory()[65_536 - *bytes as usize..]
                .iter()
                .all(|&b| b == 0xff));
        }
    }
}

/// The generated "JIT bombs" just inside the default limits compile and run; just over
/// them they are rejected with `limit_exceeded` before any code is generated.
#[test]
fn jit_bombs_compile_within_the_limits_and_are_rejected_beyond() {
    use gasket_fixtures::generate::{big_br_table, deep_nesting, many_locals, straight_line};
    let limits = Profile::permissive().limits;
    let engine = engine();
    let within: [(&str, Vec<u8>, Vec<Value>); 4] = [
        (
            "deep_nesting",
            deep_nesting(limits.max_nesting_depth - 2),
            vec![],
        ),
        (
            "big_br_table",
            big_br_table(limits.max_br_table_targets),
            vec![Value::I32(7)],
        ),
        ("many_locals", many_locals(limits.max_locals - 1), vec![]),
        ("straight_line", straight_line(100_000), vec![]),
    ];
    for (name, wasm, args) in within {
        let module = engine
            .compile(&wasm)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let mut instance = Instance::new(&module, &Imports::new(), GAS).expect("instantiates");
        let out = instance.call("f", &args, GAS).expect("call");
        assert!(out.result.is_ok(), "{name}: {:?}", out.result);
    }
    let beyond = [
        ("deep_nesting", deep_nesting(limits.max_nesting_depth + 1)),
        (
            "big_br_table",
            big_br_table(limits.max_br_table_targets + 1),
        ),
        ("many_locals", many_locals(limits.max_locals + 1)),
    ];
    for (name, wasm) in beyond {
        match engine.compile(&wasm) {
            Err(LoadError::Rejected(e)) => assert_eq!(e.kind(), "limit_exceeded", "{name}: {e}"),
            Err(e) => panic!("{name}: rejected for the wrong reason: {e}"),
            Ok(_) => panic!("{name}: accepted beyond the limit"),
        }
    }
}

/// Every contract of the shared corpus that the permissive profile accepts also compiles:
/// real compilers' output (CosmWasm, NEAR, ink!), not only generated and hand-written code.
/// In particular every valid float-using contract without SIMD (by the corpus's own
/// census) compiles, floats being admitted with canonical NaNs. Skipped, with a message,
/// when `../shared/corpus` is absent.
#[test]
fn every_accepted_corpus_contract_compiles() {
    let (Some(dir), Some(census)) = (
        gasket_fixtures::corpus_dir(),
        gasket_fixtures::census::census(),
    ) else {
        eprintln!("skipped: ../shared/corpus/contracts is absent");
        return;
    };
    let engine = engine();
    let (mut compiled, mut rejected, mut floats_compiled, mut floats_expected) = (0, 0, 0, 0);
    for row in &census {
        let wasm = std::fs::read(dir.join(&row.file)).expect("census file exists");
        let must_compile = row.float && row.wabt_valid && !row.simd;
        floats_expected += usize::from(must_compile);
        match engine.compile(&wasm) {
            Ok(module) => {
                assert!(!module.code().is_empty());
                compiled += 1;
                floats_compiled += usize::from(row.float);
            }
            Err(LoadError::Rejected(e)) => {
                assert!(!must_compile, "{}: float contract rejected: {e}", row.file);
                rejected += 1;
            }
            Err(e) => panic!(
                "{}: accepted by metering but failed to compile: {e}",
                row.file
            ),
        }
    }
    eprintln!(
        "corpus: {compiled} of {} compiled ({floats_compiled} of them use floats; \
         {floats_expected} valid float contracts without SIMD), {rejected} rejected by the profile",
        census.len()
    );
    assert_eq!(floats_compiled, floats_expected);
    assert!(
        floats_compiled >= 30,
        "only {floats_compiled} float contracts compiled"
    );
}

/// Recursion through the fattest frames codegen makes (hundreds of locals, a deep operand
/// stack held across the call, an `if` with parameters whose copies double the spill
/// slots, a wide outgoing argument area) ends in the deterministic `stack_overflow`, never
/// in the native stack's guard page: the native stack is sized from the compiler's
/// per-unit bound (`NATIVE_STACK_BYTES_PER_UNIT`).
#[test]
fn recursion_with_fat_frames_hits_the_deterministic_limit_first() {
    let depth = 120; // values kept on the operand stack across each call
    let mut body = String::new();
    for i in 0..depth {
        body.push_str(&format!("(i64.const {i}) "));
    }
    // An `if` with the most parameters the profile admits (32 results): codegen keeps a
    // copy of its parameters in extra spill slots.
    let params = "(param i64) ".repeat(32);
    let results = "(result i64) ".repeat(32);
    let args = "(local.get 1) ".repeat(64);
    let arg_types = "(param i64) ".repeat(64);
    let drops = "(drop) ".repeat(depth - 1);
    let wat = format!(
        r#"(module
          (type $wide (func {arg_types} (result i64)))
          (table 1 funcref)
          (elem (i32.const 0) $f)
          (func $f (type $wide) (local i64 i64) (local $pad i64) (local i64) (local i64)
            (local {locals})
            {body}
            (local.get 1) (i64.eqz)
            (if (type $blk) (then) (else))
            (drop) {drops}
            (call_indirect (type $wide) {args} (i32.const 0)))
          (type $blk (func {params} {results}))
          (func (export "run") (result i64) (call $f {args_zero})))"#,
        locals = "i64 ".repeat(500),
        args_zero = "(i64.const 1) ".repeat(64),
    );
    let wasm = wat::parse_str(&wat).expect("valid WAT");
    let module = engine().compile(&wasm).expect("compiles");
    let mut instance = Instance::new(&module, &Imports::new(), GAS).expect("instantiates");
    for _ in 0..3 {
        let out = instance.call("run", &[], GAS).expect("call");
        assert_eq!(out.result.expect_err("traps").kind, TrapKind::StackOverflow);
    }
}
