//! Writes the instrumented module: the original sections re-encoded with wasm-encoder
//! (defined-function indices shifted past the injected imports), the `gasket` imports and
//! their types appended, and every function body rewritten by `inject`.
//!
//! Custom sections (names, producers, debug info) are dropped: they play no part in
//! execution, and dropping them keeps artifacts small.

use std::collections::BTreeMap;

use gasket_host_api::{Intrinsic, WasmType, RESERVED_MODULE};
use wasm_encoder::reencode::{self, Reencode};
use wasm_encoder::{
    BlockType, CodeSection, DataCountSection, Encode, EntityType, ImportSection, Module, Section,
    StartSection, TypeSection, ValType,
};

use crate::access::{self, AccessCharge};
use crate::analysis::{Edit, FunctionPlan};
use crate::commit::{Commit, StartCharge};
use crate::cost::DynamicCost;
use crate::error::PrepareError;
use crate::inject::{inject_function, to_encoder_val_type, ReportCounters};
use crate::leb128;
use crate::profile::Profile;
use crate::report::{ChargeSite, GasSites, SiteCharge};
use crate::summary::{FunctionInfo, Intrinsics};
use crate::walk::Walked;

/// Re-encodes items of the original module, moving defined functions up by the number of
/// injected imports. Everything else keeps its index.
struct ShiftFunctions {
    imported_functions: u32,
}

impl Reencode for ShiftFunctions {
    type Error = std::convert::Infallible;

    fn function_index(&mut self, func: u32) -> Result<u32, reencode::Error<Self::Error>> {
        Ok(if func < self.imported_functions {
            func
        } else {
            func + Intrinsics::COUNT
        })
    }
}

/// Produces the instrumented module bytes; with `report`, also counts every charge site
/// in globals appended after the module's own (see `report`) and describes the sites
/// (without, the sites returned are empty).
pub(crate) fn encode(
    wasm: &[u8],
    walked: &Walked<'_>,
    profile: &Profile,
    report: bool,
) -> Result<Encoded, PrepareError> {
    let mut shift = ShiftFunctions {
        imported_functions: walked.imported_functions,
    };
    let mut module = Module::new();
    let failed = |e: reencode::Error<std::convert::Infallible>| PrepareError::InvalidModule {
        offset: 0,
        message: format!("cannot re-encode module: {e}"),
    };
    let own_start = walked
        .start
        .map(|s| shift.function_index(s))
        .transpose()
        .map_err(failed)?;
    let commit = Commit::of(&profile.costs, walked.memory);
    // The memory-size surcharge's global comes right after the module's own globals.
    let access = AccessCharge::of(&profile.costs, walked.memory, walked.global_count, || {
        access::grows(&walked.plans)
    });
    let frame_overhead = profile.stack.frame_overhead;
    let start_charge = StartCharge::plan(walked, &profile.costs, frame_overhead, own_start);

    // Types: the original ones, then one per intrinsic signature, then one `[] -> results`
    // type per multi-value result list the wrapper blocks need.
    let mut types = TypeSection::new();
    if let Some(reader) = &walked.types {
        shift
            .parse_type_section(&mut types, reader.clone())
            .map_err(failed)?;
    }
    let original_types = walked.func_types.len() as u32;
    let mut intrinsic_types = BTreeMap::new();
    for intrinsic in Intrinsic::ALL {
        let sig = intrinsic.signature();
        let key = (val_types(sig.params), val_types(sig.results));
        if !intrinsic_types.contains_key(&key) {
            let index = original_types + intrinsic_types.len() as u32;
            types.ty().function(key.0.clone(), key.1.clone());
            intrinsic_types.insert(key, index);
        }
    }
    let mut next_type = original_types + intrinsic_types.len() as u32;
    let mut wrapper_types: BTreeMap<Vec<ValType>, u32> = BTreeMap::new();
    let mut wrapper_block = Vec::with_capacity(walked.plans.len());
    for plan in &walked.plans {
        let results = walked
            .func_types
            .get(plan.type_index as usize)
            .and_then(|t| t.as_ref())
            .map_or(&[][..], |t| t.results());
        // Only multi-value results need a list (and a type) of their own.
        let block = match results {
            [] => BlockType::Empty,
            [single] => BlockType::Result(to_encoder_val_type(*single)),
            _ => {
                let results: Vec<ValType> =
                    results.iter().map(|r| to_encoder_val_type(*r)).collect();
                let index = *wrapper_types.entry(results.clone()).or_insert_with(|| {
                    let index = next_type;
                    next_type += 1;
                    types.ty().function([], results.iter().copied());
                    index
                });
                BlockType::FunctionType(index)
            }
        };
        wrapper_block.push(block);
    }
    // The appended start function's `[] -> []` type comes last.
    let start_type = start_charge.map(|_| {
        types.ty().function([], []);
        next_type
    });
    module.section(&types);

    // Imports: the module's own, then the intrinsics.
    let mut imports = ImportSection::new();
    for import in &walked.imports {
        let ty = shift.entity_type(import.ty).map_err(failed)?;
        imports.import(import.module, import.name, ty);
    }
    let first = walked.imported_functions;
    let intrinsics = Intrinsics {
        gas: first,
        stack_enter: first + 1,
        stack_leave: first + 2,
    };
    for intrinsic in Intrinsic::ALL {
        let sig = intrinsic.signature();
        let index = intrinsic_types[&(val_types(sig.params), val_types(sig.results))];
        imports.import(
            RESERVED_MODULE,
            intrinsic.name(),
            EntityType::Function(index),
        );
    }
    module.section(&imports);

    if walked.functions.is_some() || start_type.is_some() {
        let mut section = wasm_encoder::FunctionSection::new();
        if let Some(reader) = &walked.functions {
            shift
                .parse_function_section(&mut section, reader.clone())
                .map_err(failed)?;
        }
        if let Some(ty) = start_type {
            section.function(ty);
        }
        module.section(&section);
    }
    let sites =
        report.then(|| charge_sites(walked, commit, access.as_ref(), start_charge.as_ref()));
    if walked.tables.is_some() || sites.is_some() {
        let mut section = wasm_encoder::TableSection::new();
        if let Some(reader) = &walked.tables {
            shift
                .parse_table_section(&mut section, reader.clone())
                .map_err(failed)?;
        }
        if let Some(sites) = &sites {
            let size = u64::from(sites.stack_capacity);
            section.table(wasm_encoder::TableType {
                element_type: wasm_encoder::RefType::FUNCREF,
                table64: false,
                minimum: size,
                maximum: Some(size),
                shared: false,
            });
        }
        module.section(&section);
    }
    if let Some(reader) = &walked.memories {
        let mut section = wasm_encoder::MemorySection::new();
        shift
            .parse_memory_section(&mut section, reader.clone())
            .map_err(failed)?;
        module.section(&section);
    }
    let access_global = access.as_ref().and_then(AccessCharge::global);
    if walked.globals.is_some() || sites.is_some() || access_global.is_some() {
        let mut section = wasm_encoder::GlobalSection::new();
        if let Some(reader) = &walked.globals {
            shift
                .parse_global_section(&mut section, reader.clone())
                .map_err(failed)?;
        }
        if let Some((_, initial)) = access_global {
            let surcharge = wasm_encoder::GlobalType {
                val_type: ValType::I64,
                mutable: true,
                shared: false,
            };
            let initial = wasm_encoder::ConstExpr::i64_const(initial as i64);
            section.global(surcharge, &initial);
        }
        if let Some(sites) = &sites {
            let counter = wasm_encoder::GlobalType {
                val_type: ValType::I64,
                mutable: true,
                shared: false,
            };
            for _ in &sites.sites {
                section.global(counter, &wasm_encoder::ConstExpr::i64_const(0));
            }
            let index = wasm_encoder::GlobalType {
                val_type: ValType::I32,
                ..counter
            };
            // `last_site` (-1: none yet), then the shadow stack's depth.
            section.global(index, &wasm_encoder::ConstExpr::i32_const(-1));
            section.global(index, &wasm_encoder::ConstExpr::i32_const(0));
        }
        module.section(&section);
    }
    let mut counters = sites.as_ref().map(|sites| ReportCounters {
        first_counter: sites.first_counter,
        last_site: sites.last_site,
        next_site: 0,
        stack_depth: sites.stack_depth,
        stack_table: sites.stack_table,
        stack_cap: sites.stack_capacity - 1,
    });
    if let Some(reader) = &walked.exports {
        let mut section = wasm_encoder::ExportSection::new();
        shift
            .parse_export_section(&mut section, reader.clone())
            .map_err(failed)?;
        module.section(&section);
    }
    let start = start_charge.map(|charge| charge.index).or(own_start);
    if let Some(function_index) = start {
        module.section(&StartSection { function_index });
    }
    if walked.elements.is_some() || sites.is_some() {
        let mut section = wasm_encoder::ElementSection::new();
        if let Some(reader) = &walked.elements {
            shift
                .parse_element_section(&mut section, reader.clone())
                .map_err(failed)?;
        }
        if sites.is_some() {
            // `ref.func` of each function's own index needs it declared.
            let first = walked.imported_functions + Intrinsics::COUNT;
            let defined: Vec<u32> = (first..first + walked.plans.len() as u32).collect();
            section.declared(wasm_encoder::Elements::Functions(defined.into()));
        }
        module.section(&section);
    }
    if let Some(count) = walked.data_count {
        module.section(&DataCountSection { count });
    }
    // The code section and its bodies are written straight into the output, not built
    // apart and copied in: the instrumented bodies, most of the module, are never held
    // twice, and the output is sized once from the input.
    let mut out = module.finish();
    let code_estimate: usize = walked.plans.iter().map(body_estimate).sum();
    let data_size = walked
        .data
        .as_ref()
        .map_or(0, |r| r.range().end - r.range().start);
    out.reserve(code_estimate + data_size as usize + 64);
    if !walked.plans.is_empty() || start_charge.is_some() {
        out.push(CodeSection::new().id());
        sized(&mut out, code_estimate, |out| {
            (walked.plans.len() + usize::from(start_charge.is_some())).encode(out);
            let first = walked.imported_functions + Intrinsics::COUNT;
            for ((plan, block), function) in walked.plans.iter().zip(wrapper_block).zip(first..) {
                sized(out, body_estimate(plan), |out| {
                    let report = (function, counters.as_mut());
                    let charges = (&intrinsics, commit, access.as_ref());
                    inject_function(wasm, plan, block, charges, report, out);
                });
            }
            if let Some(charge) = &start_charge {
                sized(out, 0, |out| {
                    charge.write_body(&intrinsics, counters.as_mut(), out)
                });
            }
        });
    }
    if let Some(reader) = &walked.data {
        let mut section = wasm_encoder::DataSection::new();
        shift
            .parse_data_section(&mut section, reader.clone())
            .map_err(failed)?;
        // What `Module::section` writes.
        out.push(section.id());
        section.encode(&mut out);
    }
    let sites = sites.unwrap_or_else(|| GasSites {
        sites: Vec::new(),
        ..report_layout(walked, access.as_ref(), 0)
    });
    Ok(Encoded {
        wasm: out,
        intrinsics,
        sites,
        start,
        appended: start_charge.zip(start_type).map(|(c, ty)| c.info(ty)),
    })
}

/// About how many bytes `plan`'s instrumented body takes: its operators, a dozen per edit
/// and the wrapper. Only the length of its LEB128 matters (see [`sized`]).
fn body_estimate(plan: &FunctionPlan) -> usize {
    plan.body_end - plan.ops_start + 12 * plan.edits.len() + 16
}

/// Writes `write`'s bytes after their length as minimal LEB128 (what wasm-encoder writes
/// before a section or a function body), without building them apart: room for the
/// length of an `estimate`d size is left first, and the bytes move only when the actual
/// size needs a longer or shorter LEB128 than the estimate.
fn sized(out: &mut Vec<u8>, estimate: usize, write: impl FnOnce(&mut Vec<u8>)) {
    let at = out.len();
    let room = leb128::len(estimate as u64);
    out.resize(at + room, 0);
    write(out);
    let size = out.len() - at - room;
    let mut prefix = [0u8; 10];
    let len = leb128::write(size as u64, &mut prefix);
    if len == room {
        out[at..at + room].copy_from_slice(&prefix[..len]);
    } else {
        out.splice(at..at + room, prefix[..len].iter().copied());
    }
}

/// The instrumented module and what the summary needs to know about it.
pub(crate) struct Encoded {
    pub wasm: Vec<u8>,
    pub intrinsics: Intrinsics,
    pub sites: GasSites,
    /// The start function (instrumented index space): the appended commit charge's, if
    /// any, else the module's own.
    pub start: Option<u32>,
    /// The function appended to charge initial pages (see `commit`), after the module's.
    pub appended: Option<FunctionInfo>,
}

/// Every charge the plans write, in module order (the order `inject` numbers them), with
/// its function (original index space) and what it charges: a `memory.grow`'s commit
/// charge right after its per-page charge, the appended start's charge last.
fn charge_sites(
    walked: &Walked<'_>,
    commit: Option<Commit>,
    access: Option<&AccessCharge>,
    start_charge: Option<&StartCharge>,
) -> GasSites {
    let mut sites = Vec::new();
    for (defined, plan) in walked.plans.iter().enumerate() {
        let function = walked.imported_functions + defined as u32;
        let mut classes = plan.charge_classes.iter();
        for edit in &plan.edits {
            let charge = match *edit {
                Edit::Charge { cost, accesses, .. } => {
                    sites.push(ChargeSite {
                        function,
                        charge: SiteCharge::Block {
                            cost,
                            classes: classes.next().cloned().unwrap_or_default(),
                        },
                    });
                    // The block's surcharge: a second site right after it, counting
                    // the surcharge per access at each run (see `inject`).
                    if access.is_none() || accesses == 0 {
                        continue;
                    }
                    SiteCharge::PerUnit {
                        kind: DynamicCost::MemoryAccess,
                        per_unit: u64::from(accesses),
                    }
                }
                Edit::BranchIfCharged { cost, .. } => SiteCharge::Block {
                    cost,
                    classes: classes.next().cloned().unwrap_or_default(),
                },
                Edit::DynamicCharge { kind, per_unit, .. } => {
                    SiteCharge::PerUnit { kind, per_unit }
                }
                _ => continue,
            };
            let grow = matches!(
                charge,
                SiteCharge::PerUnit {
                    kind: DynamicCost::MemoryPages,
                    ..
                }
            );
            sites.push(ChargeSite { function, charge });
            if let (true, Some(commit)) = (grow, commit) {
                sites.push(commit.site(function));
            }
        }
    }
    if let Some(charge) = start_charge {
        sites.extend(charge.sites(walked));
    }
    let sites_len = sites.len();
    GasSites {
        sites,
        ..report_layout(walked, access, sites_len)
    }
}

/// Where a report module with `sites` charge sites keeps its counters and shadow stack:
/// after the module's own globals (and the surcharge's, if any) and tables.
fn report_layout(walked: &Walked<'_>, access: Option<&AccessCharge>, sites: usize) -> GasSites {
    let appended = access.is_some_and(|a| a.global().is_some());
    let first_counter = walked.global_count + u32::from(appended);
    let last_site = first_counter + sites as u32;
    let stack_capacity = walked.shadow_stack_capacity;
    GasSites {
        sites: Vec::new(),
        first_counter,
        last_site,
        stack_depth: last_site + 1,
        stack_table: walked.table_count,
        stack_capacity,
    }
}

fn val_types(types: &[WasmType]) -> Vec<ValType> {
    types
        .iter()
        .map(|t| match t {
            WasmType::I32 => ValType::I32,
            WasmType::I64 => ValType::I64,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::sized;
    use wasm_encoder::Encode;

    #[test]
    fn sized_writes_what_wasm_encoder_writes_whatever_the_estimate() {
        let sizes = [0, 1, 127, 128, 300, 16_383, 16_384, 20_000];
        for size in sizes {
            let body: Vec<u8> = (0..size).map(|i| i as u8).collect();
            let mut expected = vec![0xaa];
            body.len().encode(&mut expected);
            expected.extend_from_slice(&body);
            for estimate in [0, 1, 127, 128, 16_384, 1 << 21, 1 << 28, size] {
                let mut out = vec![0xaa];
                sized(&mut out, estimate, |out| out.extend_from_slice(&body));
                assert_eq!(out, expected, "size {size}, estimate {estimate}");
            }
        }
    }
}
