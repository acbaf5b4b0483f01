//! The module-level pass: feeds every section to wasmparser's validator (with exactly the
//! profile's features), checks the profile's own rules and limits first so rejections are
//! typed, and analyses each function body as it arrives.
//!
//! The pass keeps the section readers (they borrow the input) so that `encode` can write
//! the instrumented module without parsing anything twice.

use wasmparser::{
    CompositeInnerType, DataSectionReader, ElementSectionReader, Encoding, ExportSectionReader,
    FuncType, FuncValidatorAllocations, FunctionSectionReader, GlobalSectionReader, Import,
    MemorySectionReader, MemoryType, Parser, Payload, TableSectionReader, TableType, TypeRef,
    TypeSectionReader, ValidPayload, Validator, WasmFeatures,
};

use crate::analysis::{analyze_function, feature_allowed, FunctionContext, FunctionPlan, Scratch};
use crate::commit::Commit;
use crate::error::{Location, PrepareError};
use crate::features::{val_type_feature, wasm_features, Feature};
use crate::imports::check_import;
use crate::inject::ScratchReads;
use crate::limits::LimitKind;
use crate::profile::Profile;
use crate::summary::{ExportInfo, ExportKind, ImportInfo, ImportKind, MemoryInfo};
use gasket_body_reader::LocalUses;

/// Everything the encoder needs, borrowed from the input where possible.
pub(crate) struct Walked<'a> {
    pub types: Option<TypeSectionReader<'a>>,
    /// Function types by type index (`None` for types that are not function types).
    pub func_types: Vec<Option<FuncType>>,
    pub imports: Vec<Import<'a>>,
    pub import_infos: Vec<ImportInfo>,
    pub imported_functions: u32,
    pub functions: Option<FunctionSectionReader<'a>>,
    pub tables: Option<TableSectionReader<'a>>,
    pub memories: Option<MemorySectionReader<'a>>,
    pub globals: Option<GlobalSectionReader<'a>>,
    pub exports: Option<ExportSectionReader<'a>>,
    pub export_infos: Vec<ExportInfo>,
    pub start: Option<u32>,
    pub elements: Option<ElementSectionReader<'a>>,
    pub data_count: Option<u32>,
    pub data: Option<DataSectionReader<'a>>,
    pub plans: Vec<FunctionPlan>,
    /// Per plan, the local use counts code generation's register allocation needs (see
    /// `gasket_body_reader::uses`).
    pub uses: LocalUses,
    pub memory: Option<MemoryInfo>,
    pub table_count: u32,
    pub global_count: u32,
    /// The size of a gas report's shadow call stack table (see `report`): the deepest
    /// possible stack, since every frame costs at least `frame_overhead` units of
    /// `max_height` (when that is 0, or the profile's table size limit is lower, deeper
    /// frames share the last entry).
    pub shadow_stack_capacity: u32,
}

/// Collects problems; in fail-fast mode the first one ends the pass.
struct Problems {
    errors: Vec<PrepareError>,
    collect_all: bool,
}

/// Marker: stop the pass (the errors are in `Problems`).
struct Stop;

impl Problems {
    /// Records a problem that does not prevent looking further.
    fn report(&mut self, error: PrepareError) -> Result<(), Stop> {
        self.errors.push(error);
        if self.collect_all {
            Ok(())
        } else {
            Err(Stop)
        }
    }

    /// Records a problem after which nothing further can be checked.
    fn fatal(&mut self, error: PrepareError) -> Stop {
        self.errors.push(error);
        Stop
    }
}

/// Walks the module. With `collect_all`, keeps going after errors that leave the rest of
/// the module checkable (profile rules, limits, individual function bodies).
pub(crate) fn walk<'a>(
    wasm: &'a [u8],
    profile: &Profile,
    collect_all: bool,
    record_sites: bool,
) -> Result<Walked<'a>, Vec<PrepareError>> {
    let mut problems = Problems {
        errors: Vec::new(),
        collect_all,
    };
    let limits = &profile.limits;
    if wasm.len() as u64 > limits.max_module_bytes {
        problems.errors.push(PrepareError::LimitExceeded {
            limit: LimitKind::ModuleBytes,
            value: wasm.len() as u64,
            max: limits.max_module_bytes,
            at: Location::Module,
        });
        // Nothing else is looked at: the size limit exists to bound the work done here.
        return Err(problems.errors);
    }
    let strict = wasm_features(profile.allows_floats());
    let (walked, errors) = walk_with_parser(wasm, profile, collect_all, record_sites, strict);
    if errors.is_empty() {
        return Ok(walked);
    }
    // The strict reader cannot tell a malformed module from one that uses a post-2.0
    // encoding (subtypes, exact imports, compact imports). When it only found the module
    // invalid, read it again with every encoding the reader knows, so a module that uses
    // a rejected feature is reported as that feature; a module that is merely malformed
    // fails the same way again (or reads fine) and keeps its first error.
    let only_invalid = errors
        .iter()
        .all(|e| matches!(e, PrepareError::InvalidModule { .. }));
    if only_invalid {
        let (_, lenient) = walk_with_parser(wasm, profile, collect_all, false, WasmFeatures::all());
        if lenient
            .iter()
            .any(|e| !matches!(e, PrepareError::InvalidModule { .. }))
        {
            return Err(lenient);
        }
    }
    Err(errors)
}

/// One walk whose binary reader decodes the encodings of `parser_features`; validation
/// always uses the profile's features.
fn walk_with_parser<'a>(
    wasm: &'a [u8],
    profile: &Profile,
    collect_all: bool,
    record_sites: bool,
    parser_features: WasmFeatures,
) -> (Walked<'a>, Vec<PrepareError>) {
    let mut problems = Problems {
        errors: Vec::new(),
        collect_all,
    };
    let mut walker = Walker {
        profile,
        record_sites,
        walked: Walked {
            types: None,
            func_types: Vec::new(),
            imports: Vec::new(),
            import_infos: Vec::new(),
            imported_functions: 0,
            functions: None,
            tables: None,
            memories: None,
            globals: None,
            exports: None,
            export_infos: Vec::new(),
            start: None,
            elements: None,
            data_count: None,
            data: None,
            plans: Vec::new(),
            uses: LocalUses::default(),
            memory: None,
            table_count: 0,
            global_count: 0,
            shadow_stack_capacity: (profile.stack.max_height / profile.stack.frame_overhead.max(1))
                .saturating_add(1)
                .min(profile.limits.max_table_size.max(1)),
        },
        function_types: Vec::new(),
        memory_count: 0,
        allocations: Some(FuncValidatorAllocations::default()),
        scratch: Scratch::default(),
    };
    let stopped = walker.run(wasm, parser_features, &mut problems).is_err();
    debug_assert!(
        !stopped || !problems.errors.is_empty(),
        "a stop records why"
    );
    (walker.walked, problems.errors)
}

struct Walker<'p, 'a> {
    profile: &'p Profile,
    /// See [`FunctionContext::record_sites`].
    record_sites: bool,
    walked: Walked<'a>,
    /// Type index of every function, imported and defined.
    function_types: Vec<u32>,
    memory_count: u32,
    allocations: Option<FuncValidatorAllocations>,
    /// Buffers `analyze_function` reuses from one body to the next.
    scratch: Scratch,
}

impl<'a> Walker<'_, 'a> {
    fn run(
        &mut self,
        wasm: &'a [u8],
        parser_features: WasmFeatures,
        problems: &mut Problems,
    ) -> Result<(), Stop> {
        let mut validator =
            Validator::new_with_features(wasm_features(self.profile.allows_floats()));
        // The reader decodes some encodings (a memory index in `memory.grow`, long limit
        // LEBs) by the parser's features, not the validator's: with every feature on,
        // malformed wasm 2.0 would be read as a post-2.0 encoding and accepted.
        let mut parser = Parser::new(0);
        parser.set_features(parser_features);
        for payload in parser.parse_all(wasm) {
            let payload = payload.map_err(|e| problems.fatal(PrepareError::invalid(e)))?;
            if let Payload::Version {
                encoding: Encoding::Component,
                range,
                ..
            } = &payload
            {
                return Err(problems.fatal(PrepareError::InvalidModule {
                    offset: range.start,
                    message: "this is a component, not a core module".into(),
                }));
            }
            let reported_before = problems.errors.len();
            self.check_section(&payload, problems)?;
            let valid = match validator.payload(&payload) {
                Ok(valid) => valid,
                // Our own check already explained this section; the validator's generic
                // message would only repeat it.
                Err(_) if problems.errors.len() > reported_before => return Err(Stop),
                Err(e) => return Err(problems.fatal(PrepareError::invalid(e))),
            };
            if let Payload::CodeSectionStart { count, size, .. } = &payload {
                // One plan per body, reserved once rather than regrown (and copied) as
                // the bodies come. The validator has matched `count` with the function
                // section; a body takes at least 3 bytes, which bounds it by the input.
                let room = u64::from(*size).min(wasm.len() as u64) / 3;
                self.walked
                    .plans
                    .reserve_exact(u64::from(*count).min(room) as usize);
            }
            if let ValidPayload::Func(func, body) = valid {
                let function_index = func.index;
                let type_index = self
                    .function_types
                    .get(function_index as usize)
                    .copied()
                    .unwrap_or(0);
                let params = self
                    .walked
                    .func_types
                    .get(type_index as usize)
                    .and_then(|t| t.as_ref())
                    .map_or(0, |t| t.params().len() as u32);
                let ctx = FunctionContext {
                    profile: self.profile,
                    function_index,
                    type_index,
                    params,
                    imported_functions: self.walked.imported_functions,
                    record_sites: self.record_sites,
                    // What `encode` will write for each dynamic charge.
                    scratch_reads: ScratchReads::new(
                        Commit::of(&self.profile.costs, self.walked.memory).is_some(),
                        self.record_sites,
                    ),
                };
                let allocations = self.allocations.take().unwrap_or_default();
                let uses = &mut self.walked.uses;
                match analyze_function(&ctx, func, &body, allocations, &mut self.scratch, uses) {
                    Ok((plan, allocations)) => {
                        self.walked.plans.push(plan);
                        self.allocations = Some(allocations);
                    }
                    Err(error) => problems.report(error)?,
                }
            }
        }
        Ok(())
    }

    /// The profile's own rules for one section, checked before the validator sees it.
    fn check_section(
        &mut self,
        payload: &Payload<'a>,
        problems: &mut Problems,
    ) -> Result<(), Stop> {
        let limits = &self.profile.limits;
        match payload {
            Payload::TypeSection(reader) => {
                self.walked.types = Some(reader.clone());
                check_count(
                    problems,
                    section_start("type", reader.range()),
                    LimitKind::Types,
                    reader.count(),
                    limits.max_types,
                )?;
                for (index, group) in reader.clone().into_iter_with_offsets().enumerate() {
                    let (offset, group) =
                        group.map_err(|e| problems.fatal(PrepareError::invalid(e)))?;
                    let at = || Location::Section {
                        section: "type",
                        index: index as u32,
                        offset,
                    };
                    if group.is_explicit_rec_group() {
                        problems.report(PrepareError::FeatureNotAllowed {
                            feature: Feature::Gc,
                            at: at(),
                        })?;
                    }
                    for sub in group.into_types() {
                        let func = match &sub.composite_type.inner {
                            CompositeInnerType::Func(f)
                                if sub.is_final && sub.supertype_idxs.is_empty() =>
                            {
                                f.clone()
                            }
                            _ => {
                                problems.report(PrepareError::FeatureNotAllowed {
                                    feature: Feature::Gc,
                                    at: at(),
                                })?;
                                self.walked.func_types.push(None);
                                continue;
                            }
                        };
                        check_count(
                            problems,
                            at(),
                            LimitKind::Params,
                            func.params().len() as u32,
                            limits.max_params,
                        )?;
                        check_count(
                            problems,
                            at(),
                            LimitKind::Results,
                            func.results().len() as u32,
                            limits.max_results,
                        )?;
                        for ty in func.params().iter().chain(func.results()) {
                            self.check_val_type(*ty, problems, at())?;
                        }
                        self.walked.func_types.push(Some(func));
                    }
                }
            }
            Payload::ImportSection(reader) => {
                // The compact-imports encoding is a post-2.0 proposal. wasmparser's reader
                // gates it on the parser's features (all on), not the validator's, so the
                // profile has to reject it itself.
                for (index, group) in reader.clone().into_iter().enumerate() {
                    if let Ok(
                        wasmparser::Imports::Compact1 { .. } | wasmparser::Imports::Compact2 { .. },
                    ) = group
                    {
                        let at = Location::Section {
                            section: "import",
                            index: index as u32,
                            offset: reader.range().start,
                        };
                        return Err(problems.fatal(PrepareError::FeatureNotAllowed {
                            feature: Feature::Other,
                            at,
                        }));
                    }
                }
                let mut count = 0u32;
                for import in reader.clone().into_imports_with_offsets() {
                    let (offset, import) =
                        import.map_err(|e| problems.fatal(PrepareError::invalid(e)))?;
                    let index = count;
                    count += 1;
                    let at = Location::Section {
                        section: "import",
                        index,
                        offset,
                    };
                    let func_type = match import.ty {
                        TypeRef::Func(t) | TypeRef::FuncExact(t) => self.func_type(t),
                        _ => None,
                    };
                    let (host_function, near_function) = match check_import(
                        index,
                        import.module,
                        import.name,
                        &import.ty,
                        func_type.as_ref(),
                        self.profile.imports,
                    ) {
                        Ok(f) => f,
                        Err(error) => {
                            problems.report(error)?;
                            (None, None)
                        }
                    };
                    if let TypeRef::FuncExact(_) = import.ty {
                        // Exact function imports belong to the custom-descriptors extension
                        // of GC.
                        problems.report(PrepareError::FeatureNotAllowed {
                            feature: Feature::Gc,
                            at: at.clone(),
                        })?;
                    }
                    let kind = match import.ty {
                        TypeRef::Func(t) | TypeRef::FuncExact(t) => {
                            self.function_types.push(t);
                            self.walked.imported_functions += 1;
                            ImportKind::Function { type_index: t }
                        }
                        TypeRef::Memory(memory) => {
                            self.check_memory(&memory, true, problems, at)?;
                            ImportKind::Memory
                        }
                        TypeRef::Table(table) => {
                            self.check_table(&table, problems, at)?;
                            ImportKind::Table
                        }
                        TypeRef::Global(global) => {
                            self.walked.global_count += 1;
                            self.check_val_type(global.content_type, problems, at)?;
                            if global.shared {
                                problems.report(PrepareError::FeatureNotAllowed {
                                    feature: Feature::Threads,
                                    at: Location::Module,
                                })?;
                            }
                            ImportKind::Global
                        }
                        TypeRef::Tag(_) => {
                            problems.report(PrepareError::FeatureNotAllowed {
                                feature: Feature::Exceptions,
                                at,
                            })?;
                            ImportKind::Global
                        }
                    };
                    self.walked.imports.push(import);
                    self.walked.import_infos.push(ImportInfo {
                        module: import.module.to_string(),
                        name: import.name.to_string(),
                        kind,
                        host_function,
                        near_function,
                    });
                }
                check_count(
                    problems,
                    section_start("import", reader.range()),
                    LimitKind::Imports,
                    count,
                    limits.max_imports,
                )?;
            }
            Payload::FunctionSection(reader) => {
                self.walked.functions = Some(reader.clone());
                let total = u64::from(self.walked.imported_functions) + u64::from(reader.count());
                if total > u64::from(limits.max_functions) {
                    problems.report(PrepareError::LimitExceeded {
                        limit: LimitKind::Functions,
                        value: total,
                        max: limits.max_functions.into(),
                        at: Location::Section {
                            section: "function",
                            index: 0,
                            offset: reader.range().start,
                        },
                    })?;
                }
                for ty in reader.clone() {
                    let ty = ty.map_err(|e| problems.fatal(PrepareError::invalid(e)))?;
                    self.function_types.push(ty);
                }
            }
            Payload::TableSection(reader) => {
                self.walked.tables = Some(reader.clone());
                for (index, table) in reader.clone().into_iter_with_offsets().enumerate() {
                    let (offset, table) =
                        table.map_err(|e| problems.fatal(PrepareError::invalid(e)))?;
                    let at = Location::Section {
                        section: "table",
                        index: index as u32,
                        offset,
                    };
                    if let wasmparser::TableInit::Expr(_) = table.init {
                        // Tables with an initializer expression come with typed function
                        // references.
                        problems.report(PrepareError::FeatureNotAllowed {
                            feature: Feature::Gc,
                            at: at.clone(),
                        })?;
                    }
                    self.check_table(&table.ty, problems, at)?;
                }
            }
            Payload::MemorySection(reader) => {
                self.walked.memories = Some(reader.clone());
                for (index, memory) in reader.clone().into_iter_with_offsets().enumerate() {
                    let (offset, memory) =
                        memory.map_err(|e| problems.fatal(PrepareError::invalid(e)))?;
                    let at = Location::Section {
                        section: "memory",
                        index: index as u32,
                        offset,
                    };
                    self.check_memory(&memory, false, problems, at)?;
                }
            }
            Payload::TagSection(reader) => {
                let at = Location::Section {
                    section: "tag",
                    index: 0,
                    offset: reader.range().start,
                };
                problems.report(PrepareError::FeatureNotAllowed {
                    feature: Feature::Exceptions,
                    at,
                })?;
            }
            Payload::GlobalSection(reader) => {
                self.walked.globals = Some(reader.clone());
                for (index, global) in reader.clone().into_iter_with_offsets().enumerate() {
                    let (offset, global) =
                        global.map_err(|e| problems.fatal(PrepareError::invalid(e)))?;
                    let at = Location::Section {
                        section: "global",
                        index: index as u32,
                        offset,
                    };
                    self.check_val_type(global.ty.content_type, problems, at.clone())?;
                    self.check_const_expr(&global.init_expr, problems, at.clone())?;
                    if global.ty.shared {
                        problems.report(PrepareError::FeatureNotAllowed {
                            feature: Feature::Threads,
                            at,
                        })?;
                    }
                }
                self.walked.global_count += reader.count();
                check_count(
                    problems,
                    section_start("global", reader.range()),
                    LimitKind::Globals,
                    self.walked.global_count,
                    limits.max_globals,
                )?;
            }
            Payload::ExportSection(reader) => {
                self.walked.exports = Some(reader.clone());
                check_count(
                    problems,
                    section_start("export", reader.range()),
                    LimitKind::Exports,
                    reader.count(),
                    limits.max_exports,
                )?;
                for export in reader.clone() {
                    let export = export.map_err(|e| problems.fatal(PrepareError::invalid(e)))?;
                    let (kind, index) = match export.kind {
                        wasmparser::ExternalKind::Func | wasmparser::ExternalKind::FuncExact => (
                            ExportKind::Function,
                            self.instrumented_function_index(export.index),
                        ),
                        wasmparser::ExternalKind::Table => (ExportKind::Table, export.index),
                        wasmparser::ExternalKind::Memory => (ExportKind::Memory, export.index),
                        wasmparser::ExternalKind::Global => (ExportKind::Global, export.index),
                        // The validator rejects tag exports (exceptions are off).
                        wasmparser::ExternalKind::Tag => continue,
                    };
                    self.walked.export_infos.push(ExportInfo {
                        name: export.name.to_string(),
                        kind,
                        index,
                    });
                }
            }
            Payload::StartSection { func, .. } => self.walked.start = Some(*func),
            Payload::ElementSection(reader) => {
                self.walked.elements = Some(reader.clone());
                check_count(
                    problems,
                    section_start("element", reader.range()),
                    LimitKind::ElementSegments,
                    reader.count(),
                    limits.max_element_segments,
                )?;
                for (index, segment) in reader.clone().into_iter_with_offsets().enumerate() {
                    let (offset, segment) =
                        segment.map_err(|e| problems.fatal(PrepareError::invalid(e)))?;
                    let at = Location::Section {
                        section: "element",
                        index: index as u32,
                        offset,
                    };
                    if let wasmparser::ElementKind::Active { offset_expr, .. } = &segment.kind {
                        self.check_const_expr(offset_expr, problems, at.clone())?;
                    }
                    if let wasmparser::ElementItems::Expressions(ty, items) = segment.items {
                        self.check_val_type(wasmparser::ValType::Ref(ty), problems, at.clone())?;
                        for item in items {
                            let item =
                                item.map_err(|e| problems.fatal(PrepareError::invalid(e)))?;
                            self.check_const_expr(&item, problems, at.clone())?;
                        }
                    }
                }
            }
            Payload::DataCountSection { count, .. } => self.walked.data_count = Some(*count),
            Payload::DataSection(reader) => {
                self.walked.data = Some(reader.clone());
                check_count(
                    problems,
                    section_start("data", reader.range()),
                    LimitKind::DataSegments,
                    reader.count(),
                    limits.max_data_segments,
                )?;
                for (index, segment) in reader.clone().into_iter_with_offsets().enumerate() {
                    let (offset, segment) =
                        segment.map_err(|e| problems.fatal(PrepareError::invalid(e)))?;
                    if let wasmparser::DataKind::Active { offset_expr, .. } = &segment.kind {
                        let at = Location::Section {
                            section: "data",
                            index: index as u32,
                            offset,
                        };
                        self.check_const_expr(offset_expr, problems, at)?;
                    }
                }
            }
            _ => {}
        }
        Ok(())
    }

    fn func_type(&self, type_index: u32) -> Option<FuncType> {
        self.walked
            .func_types
            .get(type_index as usize)
            .cloned()
            .flatten()
    }

    fn instrumented_function_index(&self, index: u32) -> u32 {
        if index < self.walked.imported_functions {
            index
        } else {
            index.saturating_add(crate::summary::Intrinsics::COUNT)
        }
    }

    fn check_val_type(
        &self,
        ty: wasmparser::ValType,
        problems: &mut Problems,
        at: Location,
    ) -> Result<(), Stop> {
        match val_type_feature(ty) {
            Some(feature) if !feature_allowed(self.profile, feature) => {
                problems.report(PrepareError::FeatureNotAllowed { feature, at })
            }
            _ => Ok(()),
        }
    }

    /// Reports constant expressions that use the extended-const proposal (`i32.add` and
    /// friends); the validator would only call them "non-constant".
    fn check_const_expr(
        &self,
        expr: &wasmparser::ConstExpr<'_>,
        problems: &mut Problems,
        at: Location,
    ) -> Result<(), Stop> {
        use wasmparser::Operator::*;
        let extended = expr
            .get_operators_reader()
            .into_iter()
            .any(|op| matches!(op, Ok(I32Add | I32Sub | I32Mul | I64Add | I64Sub | I64Mul)));
        if extended && !feature_allowed(self.profile, Feature::Other) {
            problems.report(PrepareError::FeatureNotAllowed {
                feature: Feature::Other,
                at,
            })?;
        }
        Ok(())
    }

    fn check_table(
        &mut self,
        table: &TableType,
        problems: &mut Problems,
        at: Location,
    ) -> Result<(), Stop> {
        let limits = &self.profile.limits;
        self.walked.table_count += 1;
        if self.walked.table_count > limits.max_tables {
            problems.report(PrepareError::LimitExceeded {
                limit: LimitKind::Tables,
                value: self.walked.table_count.into(),
                max: limits.max_tables.into(),
                at: at.clone(),
            })?;
        }
        if table.table64 {
            problems.report(PrepareError::FeatureNotAllowed {
                feature: Feature::Memory64,
                at: at.clone(),
            })?;
        }
        if table.shared {
            problems.report(PrepareError::FeatureNotAllowed {
                feature: Feature::Threads,
                at: at.clone(),
            })?;
        }
        self.check_val_type(
            wasmparser::ValType::Ref(table.element_type),
            problems,
            at.clone(),
        )?;
        if table.initial > u64::from(limits.max_table_size) {
            problems.report(PrepareError::LimitExceeded {
                limit: LimitKind::TableSize,
                value: table.initial,
                max: limits.max_table_size.into(),
                at,
            })?;
        }
        Ok(())
    }

    fn check_memory(
        &mut self,
        memory: &MemoryType,
        imported: bool,
        problems: &mut Problems,
        at: Location,
    ) -> Result<(), Stop> {
        let cap = self.profile.limits.max_memory_pages;
        self.memory_count += 1;
        if self.memory_count > 1 {
            return problems.report(PrepareError::FeatureNotAllowed {
                feature: Feature::MultiMemory,
                at,
            });
        }
        if memory.memory64 {
            return problems.report(PrepareError::FeatureNotAllowed {
                feature: Feature::Memory64,
                at,
            });
        }
        if memory.shared {
            return problems.report(PrepareError::FeatureNotAllowed {
                feature: Feature::Threads,
                at,
            });
        }
        if memory.page_size_log2.is_some() {
            return problems.report(PrepareError::FeatureNotAllowed {
                feature: Feature::Other,
                at,
            });
        }
        if memory.initial > u64::from(cap) {
            return problems.report(PrepareError::LimitExceeded {
                limit: LimitKind::MemoryPages,
                value: memory.initial,
                max: cap.into(),
                at,
            });
        }
        let declared_max = memory.maximum.unwrap_or(u64::MAX);
        self.walked.memory = Some(MemoryInfo {
            initial_pages: memory.initial as u32,
            maximum_pages: declared_max.min(u64::from(cap)) as u32,
            imported,
        });
        Ok(())
    }
}

fn check_count(
    problems: &mut Problems,
    at: Location,
    limit: LimitKind,
    value: u32,
    max: u32,
) -> Result<(), Stop> {
    if value > max {
        problems.report(PrepareError::LimitExceeded {
            limit,
            value: value.into(),
            max: max.into(),
            at,
        })?;
    }
    Ok(())
}

/// The location of a whole section, for limits on its entry count.
fn section_start(section: &'static str, range: std::ops::Range<u64>) -> Location {
    Location::Section {
        section,
        index: 0,
        offset: range.start,
    }
}
