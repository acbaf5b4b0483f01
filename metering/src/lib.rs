//! `gasket-metering`: the first stage of Gasket's pipeline.
//!
//! [`prepare`] takes a contract's bytes and a [`Profile`] and either rejects the module
//! with a typed [`PrepareError`] or returns a [`PreparedModule`]: valid, instrumented wasm
//! plus the [`ModuleInfo`] later stages need.
//!
//! What it does, in one linear pass over the module (see `ARCHITECTURE.md`):
//! 1. validates with wasmparser under exactly the profile's deterministic feature set;
//! 2. rejects nondeterministic features, over-limit structures and (under the contract
//!    profile) any import that is not a host ABI function with its exact signature;
//! 3. plans gas charges per basic block, size-proportional charges for `memory.grow`,
//!    bulk memory and table operations, and each function's stack-frame cost;
//! 4. writes the instrumented module with wasm-encoder, copying function bodies byte for
//!    byte between the injected instructions.
//!
//! The instrumented module imports `gasket.gas(i64)`, `gasket.stack_enter(i32)` and
//! `gasket.stack_leave(i32)` ([`Intrinsics`]); the compiler turns them into inline code,
//! and any other engine can run the module by supplying them as host functions.

mod access;
mod analysis;
mod commit;
mod cost;
mod data_writes;
mod defer;
mod encode;
mod error;
mod features;
mod fused;
mod imports;
mod inject;
mod leb128;
mod limits;
mod profile;
mod report;
mod summary;
#[cfg(test)]
mod uses_tests;
mod walk;

pub use commit::committed_pages;
pub use cost::{
    classify, dynamic_cost, static_units, CostTable, DynamicCost, OpClass, COMMIT_PER_PAGE,
    RESIDENT_PAGES, WRITE_PER_GRANULE,
};
pub use error::{Location, PrepareError, Rejection, NOT_WASM};
pub use features::{is_float_operator, operator_mnemonic, Feature};
pub use gasket_body_reader::LocalUses;
pub use limits::{LimitKind, Limits};
pub use profile::{FloatPolicy, ImportPolicy, Profile, StackLimits};
pub use report::{
    function_names, prepare_for_report, ChargeSite, GasSites, InconsistentCounts, SiteCharge,
    WasmGas,
};
pub use summary::{
    ExportInfo, ExportKind, FunctionInfo, ImportInfo, ImportKind, Intrinsics, MemoryInfo,
    ModuleInfo, PreparedModule,
};

/// Validates `wasm` under `profile` and instruments it. Stops at the first problem.
///
/// Deterministic: the same bytes and profile give the same output bytes, on every machine.
/// Linear in the module's size, also for hostile inputs.
pub fn prepare(wasm: &[u8], profile: &Profile) -> Result<PreparedModule, PrepareError> {
    prepare_with_uses(wasm, profile).map(|(prepared, _)| prepared)
}

/// [`prepare`], also returning how each function of the instrumented module uses its
/// locals ([`LocalUses`], counted by the walk as it validates): code generation's
/// register allocation needs these counts, and scanning every body again for them costs
/// a compile several percent (`gasket_singlepass::PrevalidatedWasm::with_local_uses`).
/// The functions the instrumentation appends are not counted.
pub fn prepare_with_uses(
    wasm: &[u8],
    profile: &Profile,
) -> Result<(PreparedModule, LocalUses), PrepareError> {
    match prepare_inner(wasm, profile, false, false) {
        Ok((prepared, _, uses)) => Ok((prepared, uses)),
        Err(Rejection(mut errors)) => Err(errors.swap_remove(0)),
    }
}

/// Like [`prepare`], but on rejection reports every problem it could find: profile rules
/// and limits in every section, and every function body that fails (a module that is
/// malformed still stops at the first structural error).
pub fn check(wasm: &[u8], profile: &Profile) -> Result<PreparedModule, Rejection> {
    prepare_inner(wasm, profile, true, false).map(|(prepared, _, _)| prepared)
}

/// Prepares `wasm`; with `report`, instrumented to count its charge sites (see `report`),
/// whose description comes back with it (empty without `report`), with the local use
/// counts of the instrumented module's bodies.
pub(crate) fn prepare_inner(
    wasm: &[u8],
    profile: &Profile,
    collect_all: bool,
    report: bool,
) -> Result<(PreparedModule, GasSites, LocalUses), Rejection> {
    // Said plainly: the parser reports an empty or short input as an unexpected end.
    if !wasm.starts_with(b"\0asm") {
        return Err(Rejection(vec![PrepareError::InvalidModule {
            offset: 0,
            message: NOT_WASM.to_string(),
        }]));
    }
    let mut walked = walk::walk(wasm, profile, collect_all, report).map_err(Rejection)?;
    let uses = std::mem::take(&mut walked.uses);
    let encoded = encode::encode(wasm, &walked, profile, report).map_err(|e| Rejection(vec![e]))?;
    let instrumented = encoded.wasm;
    // The runtime compiles this output without validating it again (ARCHITECTURE.md,
    // "Validation once per compile"): every debug build checks that it is valid.
    #[cfg(debug_assertions)]
    if let Err(e) =
        wasmparser::Validator::new_with_features(features::wasm_features(profile.allows_floats()))
            .validate_all(&instrumented)
    {
        panic!("prepare wrote an invalid module (an encoder bug): {e}");
    }
    let info = ModuleInfo {
        imports: walked.import_infos,
        imported_functions: walked.imported_functions,
        intrinsics: encoded.intrinsics,
        max_frame_cost: walked
            .plans
            .iter()
            .map(|p| p.frame_cost)
            .chain(encoded.appended.iter().map(|f| f.frame_cost))
            .max()
            .unwrap_or(0),
        functions: walked
            .plans
            .iter()
            .map(|p| FunctionInfo {
                type_index: p.type_index,
                frame_cost: p.frame_cost,
            })
            .chain(encoded.appended)
            .collect(),
        memory: walked.memory,
        tables: walked.table_count,
        globals: walked.global_count,
        exports: walked.export_infos,
        start: encoded.start,
        original_size: wasm.len() as u64,
        cost_table_version: profile.costs.version,
        profile_fingerprint: profile.fingerprint(),
    };
    let prepared = PreparedModule {
        wasm: instrumented,
        info,
    };
    Ok((prepared, encoded.sites, uses))
}
