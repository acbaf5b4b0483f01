//! The static charges cost table version 3 added, seen in the instrumented output: a
//! function's entry block pays `local_init` per declared local (parameters excluded), a
//! `br_table` pays `br_table_target` per label (default included), and bit counts cost
//! `bit_count`, not `alu`.

use gasket_metering::{prepare, CostTable, Profile};
use wasmparser::{Operator, Parser, Payload};

/// The `i64.const` amounts of the gas charges (`i64.const N; call 0`: `gasket.gas` is the
/// first import of a module without imports of its own) of each defined function.
fn charges(wasm: &[u8]) -> Vec<Vec<i64>> {
    let mut out = Vec::new();
    for payload in Parser::new(0).parse_all(wasm) {
        if let Payload::CodeSectionEntry(body) = payload.expect("valid output") {
            let ops: Vec<Operator> = body
                .get_operators_reader()
                .expect("operators")
                .into_iter()
                .collect::<Result<_, _>>()
                .expect("operators");
            let amounts = ops
                .windows(2)
                .filter_map(|pair| match pair {
                    [Operator::I64Const { value }, Operator::Call { function_index: 0 }] => {
                        Some(*value)
                    }
                    _ => None,
                })
                .collect();
            out.push(amounts);
        }
    }
    out
}

fn prepared_charges(wat: &str) -> Vec<Vec<i64>> {
    let wasm = wat::parse_str(wat).expect("valid WAT");
    charges(&prepare(&wasm, &Profile::contract()).expect("prepares").wasm)
}

#[test]
fn declared_locals_are_charged_once_at_entry() {
    let costs = CostTable::default();
    let found = prepared_charges(
        r#"(module
          (func (param i32 i64) (local i32 i64) (local f64)
            (local.set 2 (local.get 0)))
          (func (param i32)))"#,
    );
    let body = 2 * costs.local;
    assert_eq!(found[0], [(3 * costs.local_init + body) as i64]);
    // Parameters are the caller's: no locals, nothing in the body, no charge at all.
    assert!(found[1].is_empty(), "{found:?}");
}

#[test]
fn br_table_labels_and_bit_counts_have_their_own_prices() {
    let costs = CostTable::default();
    let found = prepared_charges(
        r#"(module
          (func (param i32) (result i32)
            (block (block (block
              (br_table 0 1 2 (i32.clz (local.get 0))))))
            (i32.popcnt (local.get 0))))"#,
    );
    // Entry block: 3 `block`s (structural), local.get, clz, and a br_table of 3 labels
    // (two in its table, the last one its default).
    let entry = costs.local + costs.bit_count + costs.br_table + 3 * costs.br_table_target;
    // After the outermost `end`: local.get, popcnt (the final `end` is structural).
    let tail = costs.local + costs.bit_count;
    assert_eq!(found[0], [entry as i64, tail as i64]);
    assert_ne!(
        costs.bit_count, costs.alu,
        "version 3 prices bit counts apart"
    );
}
