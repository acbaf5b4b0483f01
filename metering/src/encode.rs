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
    BlockType, CodeSection, DataCountSection, EntityType, ImportSection, Module, StartSection,
    TypeSection, ValType,
};

use crate::error::PrepareError;
use crate::inject::{inject_function, to_encoder_val_type};
use crate::summary::Intrinsics;
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

/// Produces the instrumented module bytes.
pub(crate) fn encode(
    wasm: &[u8],
    walked: &Walked<'_>,
) -> Result<(Vec<u8>, Intrinsics), PrepareError> {
    let mut shift = ShiftFunctions {
        imported_functions: walked.imported_functions,
    };
    let mut module = Module::new();
    let failed = |e: reencode::Error<std::convert::Infallible>| PrepareError::InvalidModule {
        offset: 0,
        message: format!("cannot re-encode module: {e}"),
    };

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
        let results: Vec<ValType> = walked
            .func_types
            .get(plan.type_index as usize)
            .and_then(|t| t.as_ref())
            .map(|t| {
                t.results()
                    .iter()
                    .map(|r| to_encoder_val_type(*r))
                    .collect()
            })
            .unwrap_or_default();
        let block = match results.as_slice() {
            [] => BlockType::Empty,
            [single] => BlockType::Result(*single),
            _ => {
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

    if let Some(reader) = &walked.functions {
        let mut section = wasm_encoder::FunctionSection::new();
        shift
            .parse_function_section(&mut section, reader.clone())
            .map_err(failed)?;
        module.section(&section);
    }
    if let Some(reader) = &walked.tables {
        let mut section = wasm_encoder::TableSection::new();
        shift
            .parse_table_section(&mut section, reader.clone())
            .map_err(failed)?;
        module.section(&section);
    }
    if let Some(reader) = &walked.memories {
        let mut section = wasm_encoder::MemorySection::new();
        shift
            .parse_memory_section(&mut section, reader.clone())
            .map_err(failed)?;
        module.section(&section);
    }
    if let Some(reader) = &walked.globals {
        let mut section = wasm_encoder::GlobalSection::new();
        shift
            .parse_global_section(&mut section, reader.clone())
            .map_err(failed)?;
        module.section(&section);
    }
    if let Some(reader) = &walked.exports {
        let mut section = wasm_encoder::ExportSection::new();
        shift
            .parse_export_section(&mut section, reader.clone())
            .map_err(failed)?;
        module.section(&section);
    }
    if let Some(start) = walked.start {
        let function_index = shift.function_index(start).map_err(failed)?;
        module.section(&StartSection { function_index });
    }
    if let Some(reader) = &walked.elements {
        let mut section = wasm_encoder::ElementSection::new();
        shift
            .parse_element_section(&mut section, reader.clone())
            .map_err(failed)?;
        module.section(&section);
    }
    if let Some(count) = walked.data_count {
        module.section(&DataCountSection { count });
    }
    if !walked.plans.is_empty() {
        let mut code = CodeSection::new();
        let mut body = Vec::new();
        for (plan, block) in walked.plans.iter().zip(wrapper_block) {
            body.clear();
            inject_function(wasm, plan, block, &intrinsics, &mut body);
            code.raw(&body);
        }
        module.section(&code);
    }
    if let Some(reader) = &walked.data {
        let mut section = wasm_encoder::DataSection::new();
        shift
            .parse_data_section(&mut section, reader.clone())
            .map_err(failed)?;
        module.section(&section);
    }
    Ok((module.finish(), intrinsics))
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
