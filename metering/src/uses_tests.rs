//! The local use counts the walk hands to code generation (`gasket_body_reader::uses`)
//! against a reference count of the instrumented bodies `prepare` writes: with and
//! without the page commit charge, with and without a gas report's counters.

use gasket_body_reader::uses::{is_float_result, use_weight};
use gasket_body_reader::LocalUses;
use wasmparser::{Operator, Parser, Payload};

use crate::profile::Profile;

/// One function's counts: its used locals `(index, weight, copied)` in index order and
/// its call weight.
type Counts = (Vec<(u32, u64, bool)>, u64);

/// The counts of each defined function of `instrumented`, over its decoded operators.
fn reference(instrumented: &[u8]) -> Vec<Counts> {
    let mut functions = Vec::new();
    let mut intrinsics = Vec::new();
    let mut imported = 0u32;
    for payload in Parser::new(0).parse_all(instrumented) {
        match payload.expect("prepare's output parses") {
            Payload::ImportSection(reader) => {
                for import in reader.into_imports() {
                    let import = import.expect("an import");
                    if matches!(import.ty, wasmparser::TypeRef::Func(_)) {
                        if import.module == gasket_host_api::RESERVED_MODULE {
                            intrinsics.push(imported);
                        }
                        imported += 1;
                    }
                }
            }
            Payload::CodeSectionEntry(body) => {
                let mut weights = std::collections::BTreeMap::<u32, (u64, bool)>::new();
                let (mut loops, mut call_weight) = (Vec::new(), 0u64);
                let mut float_result = false;
                let mut reader = body.get_operators_reader().expect("operators");
                while !reader.eof() {
                    let op = reader.read().expect("an operator");
                    let depth = loops.iter().filter(|&&l| l).count() as u32;
                    let weight = use_weight(depth);
                    let mut add = |local: u32, copied: bool| {
                        let entry = weights.entry(local).or_default();
                        entry.0 = entry.0.saturating_add(weight);
                        entry.1 |= copied;
                    };
                    match op {
                        Operator::Block { .. } | Operator::If { .. } => loops.push(false),
                        Operator::Loop { .. } => loops.push(true),
                        Operator::End => drop(loops.pop()),
                        Operator::LocalGet { local_index } => add(local_index, false),
                        Operator::LocalSet { local_index } | Operator::LocalTee { local_index } => {
                            add(local_index, !float_result)
                        }
                        Operator::Call { function_index }
                            if intrinsics.contains(&function_index) => {}
                        Operator::Call { .. } | Operator::CallIndirect { .. } => {
                            call_weight = call_weight.saturating_add(weight)
                        }
                        _ => {}
                    }
                    float_result = is_float_result(&op);
                }
                let used = weights.into_iter().map(|(l, (w, c))| (l, w, c)).collect();
                functions.push((used, call_weight));
            }
            _ => {}
        }
    }
    functions
}

/// The walk's counts, in the reference's form.
fn counted(uses: &LocalUses, function: usize) -> Option<Counts> {
    let counted = uses.function(function)?;
    let mut locals: Vec<_> = counted.locals().collect();
    locals.sort_unstable();
    Some((locals, counted.call_weight))
}

const MODULES: &[&str] = &[
    r#"(module
      (memory 1 100)
      (table 4 funcref)
      (func $callee (param i32) (result i32) local.get 0)
      (func (export "f") (param i32 i32) (result i32)
        (local i32 i32 i32 i32 i32 i32 f64 f64)
        (loop $l
          local.get 0 local.get 1 local.get 2 memory.fill
          local.get 3 local.get 4 local.get 5 memory.copy
          (loop $m
            local.get 6 memory.grow local.tee 7 call $callee drop
            f64.const 1 local.get 8 f64.add local.set 8
            local.get 8 f64.abs local.set 9
            local.get 7 br_if $m)
          ref.null func local.get 0 table.grow 0 drop
          local.get 2 br_if $l)
        local.get 1 memory.grow
        return
        local.get 3 local.set 4 i32.const 0))"#,
    r#"(module
      (func (param f32) (result f32) (local f32)
        local.get 0 f32.const nan f32.add local.set 1
        (loop (result f32) f32.const nan local.tee 1)))"#,
];

#[test]
fn the_walks_counts_are_the_instrumented_bodies_counts() {
    let mut no_commit = Profile::permissive();
    no_commit.costs.memory_commit_per_page = 0;
    let mut inputs: Vec<Vec<u8>> = MODULES
        .iter()
        .map(|wat| wat::parse_str(wat).expect("parses"))
        .collect();
    inputs.extend(gasket_fixtures::named_inputs().into_iter().map(|(_, w)| w));
    let mut compared = 0;
    for profile in [Profile::permissive(), no_commit] {
        for report in [false, true] {
            for wasm in &inputs {
                let Ok((prepared, _, uses)) = crate::prepare_inner(wasm, &profile, false, report)
                else {
                    continue;
                };
                let reference = reference(&prepared.wasm);
                // The appended start function (commit charge) is not counted.
                assert!(uses.len() <= reference.len());
                for (i, expected) in reference.iter().enumerate().take(uses.len()) {
                    if let Some(counted) = counted(&uses, i) {
                        assert_eq!(&counted, expected, "function {i} (report: {report})");
                        compared += 1;
                    }
                }
            }
        }
    }
    assert!(compared > 100, "{compared} functions compared");
}
