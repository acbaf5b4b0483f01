//! The report build (`prepare_for_report`) and the arithmetic of `GasSites::attribute`.
//!
//! * For every module `prepare` accepts (fixtures, workloads, wasm-smith modules): the
//!   report build validates under WebAssembly 2.0, has one site per charge of the plain
//!   build with the same amounts in the same order, the same `ModuleInfo`, and is
//!   deterministic; each block site's class split sums to its cost.
//! * `attribute`: exact sums, a partial last charge cut from the end of its block,
//!   inconsistent counts refused.

use arbitrary::Unstructured;
use gasket_metering::{
    function_names, prepare, prepare_for_report, ChargeSite, DynamicCost, GasSites,
    InconsistentCounts, OpClass, Profile, SiteCharge,
};
use wasmparser::{Operator, Parser, Payload, Validator, WasmFeatures};

/// The `i64.const N; call $gas` charges of a prepared module, in order (a dynamic charge,
/// whose amount is computed, as `None`).
fn charges(wasm: &[u8], gas_import: u32) -> Vec<Option<u64>> {
    let mut out = Vec::new();
    for payload in Parser::new(0).parse_all(wasm) {
        if let Payload::CodeSectionEntry(body) = payload.unwrap() {
            let mut previous: Option<Operator<'_>> = None;
            for op in body.get_operators_reader().unwrap() {
                let op = op.unwrap();
                if let Operator::Call { function_index } = op {
                    if function_index == gas_import {
                        out.push(match previous {
                            Some(Operator::I64Const { value }) => Some(value as u64),
                            _ => None,
                        });
                    }
                }
                previous = Some(op);
            }
        }
    }
    out
}

fn check_report_build(wasm: &[u8], profile: &Profile) {
    let Ok(plain) = prepare(wasm, profile) else {
        assert!(prepare_for_report(wasm, profile).is_err());
        return;
    };
    let (report, sites) = prepare_for_report(wasm, profile).expect("report build");
    assert_eq!(report.info, plain.info, "same module info");
    let again = prepare_for_report(wasm, profile).unwrap();
    assert_eq!(
        (&again.0.wasm, &again.1),
        (&report.wasm, &sites),
        "deterministic"
    );
    let mut validator = Validator::new_with_features(WasmFeatures::WASM2);
    if let Err(e) = validator.validate_all(&report.wasm) {
        panic!(
            "report build does not validate: {e}\n{}",
            wasmprinter::print_bytes(&report.wasm).unwrap_or_default()
        );
    }
    let gas = plain.info.intrinsics.gas;
    let expected = charges(&plain.wasm, gas);
    assert_eq!(charges(&report.wasm, gas), expected, "same charges");
    // `(site's constant amount, surcharged)`: a block with loads and stores in a memory
    // that can exceed tier 0 is followed by its surcharge site, which shares its charge
    // (computed: `static + accesses × S`, so no constant).
    let mut described: Vec<(Option<u64>, bool)> = Vec::new();
    for site in &sites.sites {
        match &site.charge {
            SiteCharge::Block { cost, classes } => {
                assert_eq!(classes.iter().map(|c| c.1).sum::<u64>(), *cost);
                described.push((Some(*cost), false));
            }
            SiteCharge::PerUnit {
                kind: DynamicCost::MemoryAccess,
                per_unit,
            } => {
                assert!(*per_unit > 0, "a surcharge site counts accesses");
                let block = described.last_mut().expect("a surcharge follows its block");
                assert!(block.0.is_some() && !block.1, "one surcharge per block");
                block.1 = true;
            }
            SiteCharge::PerUnit { .. } => described.push((None, false)),
        }
    }
    // A per-unit site's charge is computed (`i64.mul`), except in the appended start
    // function, whose charges (commit, data segments' written-range charge) are
    // constants: only block sites' amounts are compared.
    assert_eq!(described.len(), expected.len(), "one site per charge");
    for ((site, surcharged), charge) in described.iter().zip(&expected) {
        if *surcharged {
            assert_eq!(*charge, None, "a surcharged block's charge is computed");
        } else if site.is_some() {
            assert_eq!(site, charge, "one site per charge");
        }
    }
}

#[test]
fn report_builds_charge_exactly_what_plain_builds_charge() {
    let profile = Profile::permissive();
    for fixture in gasket_fixtures::ALL {
        check_report_build(&fixture.wasm(), &profile);
        check_report_build(&fixture.wasm(), &Profile::contract());
    }
    check_report_build(&gasket_fixtures::GAS_REPORT.wasm(), &Profile::contract());
    let mut modules = 0;
    for seed in 0..200u64 {
        let mut rng = gasket_fixtures::reference::SplitMix(seed ^ 0x6a5_0e70);
        let data = rng.bytes(4096);
        let config = gasket_fixtures::reference::smith_config(seed % 2 == 0);
        let Ok(module) = wasm_smith::Module::new(config, &mut Unstructured::new(&data)) else {
            continue;
        };
        let wasm = module.to_bytes();
        modules += usize::from(prepare(&wasm, &profile).is_ok());
        check_report_build(&wasm, &profile);
    }
    assert!(modules > 100, "{modules} modules prepared");
}

#[test]
fn names_come_from_the_name_section_then_exports() {
    let wasm = wat::parse_str(r#"(module (func $a) (func) (func $c))"#).unwrap();
    let names: Vec<(u32, String)> = function_names(&wasm).into_iter().collect();
    assert_eq!(names, [(0, "a".to_string()), (2, "c".to_string())]);
    // An exported function without a name-section name takes its first export name;
    // a name-section name wins over an export name.
    let wasm = wat::parse_str(
        r#"(module (func $a (export "x")) (func (export "y") (export "z")) (func))"#,
    )
    .unwrap();
    let names: Vec<(u32, String)> = function_names(&wasm).into_iter().collect();
    assert_eq!(names, [(0, "a".to_string()), (1, "y".to_string())]);
    assert!(function_names(b"\0asm\x01\0\0\0\x00\x05\x04name").is_empty());
    assert!(function_names(b"not wasm").is_empty());
}

fn sites() -> GasSites {
    let block = |function, classes: &[(OpClass, u64)]| ChargeSite {
        function,
        charge: SiteCharge::Block {
            cost: classes.iter().map(|c| c.1).sum(),
            classes: classes.to_vec(),
        },
    };
    GasSites {
        sites: vec![
            block(0, &[(OpClass::Local, 2), (OpClass::Call, 10)]),
            block(1, &[(OpClass::Constant, 1), (OpClass::Load, 3)]),
            ChargeSite {
                function: 1,
                charge: SiteCharge::PerUnit {
                    kind: DynamicCost::MemoryBytes,
                    per_unit: 1,
                },
            },
        ],
        first_counter: 0,
        last_site: 3,
        stack_depth: 4,
        stack_table: 0,
        stack_capacity: 10,
    }
}

#[test]
fn attribution_is_exact() {
    let sites = sites();
    // 2 × site 0 (24) + 3 × site 1 (12) + 50 bytes.
    let split = sites.attribute(&[2, 3, 50], Some(2), 86).unwrap();
    let functions: Vec<(u32, u64)> = split.by_function.into_iter().collect();
    assert_eq!(functions, [(0, 24), (1, 62)]);
    let classes: Vec<(&str, u64)> = split.by_class.into_iter().collect();
    assert_eq!(
        classes,
        [
            ("bulk_memory_per_byte", 50),
            ("call", 20),
            ("constant", 3),
            ("load", 9),
            ("local", 4)
        ]
    );
}

#[test]
fn a_charge_cut_short_counts_what_it_took() {
    let sites = sites();
    // Site 0 twice, then site 1's third run found 1 gas left (of 4): constant paid.
    let split = sites.attribute(&[2, 3], Some(1), 24 + 8 + 1).unwrap();
    let classes: Vec<(&str, u64)> = split.by_class.into_iter().collect();
    assert_eq!(
        classes,
        [("call", 20), ("constant", 3), ("load", 6), ("local", 4)]
    );
    assert_eq!(split.by_function.get(&1), Some(&9));
}

#[test]
fn inconsistent_counts_are_refused() {
    let sites = sites();
    // Less gas counted than used.
    assert_eq!(
        sites.attribute(&[1], Some(0), 13),
        Err(InconsistentCounts {
            counted: 12,
            used: 13
        })
    );
    // More counted than one cut-short charge explains.
    assert!(sites.attribute(&[2, 1], Some(1), 10).is_err());
    // A cut with no last site.
    assert!(sites.attribute(&[1], None, 5).is_err());
}
