//! A compiled module: the artifact, its mapped code and what the embedder can ask about it.

use std::sync::Arc;

use gasket_metering::{ModuleInfo, Profile};
use gasket_singlepass::{
    Artifact, ExportKind, FuncSig, GlobalType, ImportKind, MemoryType, TableType,
    ARTIFACT_FORMAT_VERSION,
};

use crate::code_memory::CodeMemory;
use crate::engine::Engine;
use crate::error::{CallError, LoadError};

/// A compiled module, ready to instantiate any number of times. `Send + Sync`; clones share
/// the code.
#[derive(Debug)]
pub struct Module {
    pub(crate) inner: Arc<ModuleInner>,
}

impl Clone for Module {
    fn clone(&self) -> Module {
        self.inner.holds.handle_cloned();
        Module {
            inner: Arc::clone(&self.inner),
        }
    }
}

impl Drop for Module {
    /// The last handle gives back the references idle per-thread holds kept
    /// (`module_holds`); `self.inner` outlives them, so none of them is the last.
    fn drop(&mut self) {
        drop(self.inner.holds.handle_dropped());
    }
}

#[derive(Debug)]
pub(crate) struct ModuleInner {
    pub profile: Profile,
    pub artifact: Artifact,
    pub info: ModuleInfo,
    pub code: CodeMemory,
    /// Data segment bytes, shared by instances (each keeps only a "dropped" flag:
    /// `DataSegments`).
    pub data: Vec<Box<[u8]>>,
    /// Export name → (kind, index), built once so a call never scans the export list.
    pub exports: std::collections::HashMap<String, (ExportKind, u32)>,
    /// Per import (in module order): its index in the function index space (`None` for
    /// imports of other kinds).
    pub import_function_index: Box<[Option<u32>]>,
    /// Per function index: the host ABI function (v1 or NEAR, resolved by name once) an
    /// imported function resolves to when the embedder binds nothing of its own, which
    /// instances read in place.
    pub abi_bindings: Box<[Option<crate::runtime::FuncImport>]>,
    /// Per function index: its function reference (code address and type), which
    /// instances, their tables and `ref.func` point into.
    pub funcrefs: FuncRefs,
    /// Per element segment: its items' values when none reads a global (`ref.func` and
    /// `ref.null` only, the usual case), so instantiation copies them instead of
    /// evaluating each item again; `None` for a segment an instance must evaluate.
    pub element_items: Box<[Option<Box<[u64]>>]>,
    /// The engine's pool, which instances take their memory and stack from.
    pub pool: Arc<crate::pool::Pool>,
    /// What keeps the module alive for its instances, per thread (`module_holds`).
    pub holds: crate::module_holds::Holds,
    /// The engine's call backend, if it has one.
    #[cfg(feature = "call-backend")]
    pub backend: Option<Arc<dyn crate::call_backend::CallBackend>>,
}

/// The module's function references. They point into its code memory, which lives as
/// long as they do, and are never written after the module is built.
#[derive(Debug)]
pub(crate) struct FuncRefs(pub Box<[gasket_singlepass::FuncRef]>);

// SAFETY: the code pointers are addresses in the module's own, immutable code memory;
// nothing writes through them or to the array, so sharing it between threads is sharing
// plain read-only data.
unsafe impl Send for FuncRefs {}
// SAFETY: as above.
unsafe impl Sync for FuncRefs {}

/// The values of every element segment's items that do not depend on the instance: each
/// item evaluated against the module's function references with no globals (an item that
/// reads one, or fails, leaves its segment to be evaluated per instance).
fn constant_element_items(
    segments: &[gasket_singlepass::ElementSegment],
    funcrefs: &FuncRefs,
) -> Box<[Option<Box<[u64]>>]> {
    let funcref = |index: u32| crate::runtime::funcref_bits(&funcrefs.0, index);
    segments
        .iter()
        .map(|seg| {
            seg.items
                .iter()
                .map(|item| crate::instantiate::eval_const(item, &|_| None, &funcref))
                .collect::<Result<Box<[u64]>, _>>()
                .ok()
        })
        .collect()
}

/// The type of an import or export.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ExternType {
    /// A function with this signature.
    Func(FuncSig),
    /// A linear memory.
    Memory(MemoryType),
    /// A table.
    Table(TableType),
    /// A global.
    Global(GlobalType),
}

impl ExternType {
    /// `func`, `memory`, `table` or `global`.
    pub fn kind(&self) -> &'static str {
        match self {
            ExternType::Func(_) => "func",
            ExternType::Memory(_) => "memory",
            ExternType::Table(_) => "table",
            ExternType::Global(_) => "global",
        }
    }
}

/// One export of a module.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExportType {
    /// Export name.
    pub name: String,
    /// What it is, with its type.
    pub ty: ExternType,
}

/// One import of a module (the injected `gasket` intrinsics are not listed).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImportType {
    /// Import module name.
    pub module: String,
    /// Import field name.
    pub name: String,
    /// What is imported, with its type.
    pub ty: ExternType,
}

impl Module {
    /// Maps an artifact compiled for this engine's target (e.g. one read from a cache).
    /// `info` is the `ModuleInfo` of the same prepared module.
    pub fn from_artifact(
        engine: &Engine,
        mut artifact: Artifact,
        info: ModuleInfo,
    ) -> Result<Module, LoadError> {
        let code = std::mem::take(&mut artifact.code);
        Module::from_parts(
            engine,
            artifact,
            code.len(),
            || CodeMemory::new(&code),
            info,
        )
    }

    /// [`Module::from_artifact`] for code still in the buffer it was assembled in: the
    /// buffer's pages become the module's executable code, without a copy.
    pub fn from_buffered(
        engine: &Engine,
        buffered: gasket_singlepass::BufferedArtifact,
        info: ModuleInfo,
    ) -> Result<Module, LoadError> {
        let gasket_singlepass::BufferedArtifact { artifact, code } = buffered;
        Module::from_parts(
            engine,
            artifact,
            code.len(),
            || CodeMemory::from_buffer(code),
            info,
        )
    }

    /// [`Module::from_artifact`] with the code apart (the artifact's own `code` is
    /// ignored): `map_code` makes the `code_len` bytes of code executable once the
    /// artifact has been checked (a disk load maps them from the file, or copies them from
    /// where they lie in it). The module keeps no other copy of the code.
    pub(crate) fn from_parts(
        engine: &Engine,
        mut artifact: Artifact,
        code_len: usize,
        map_code: impl FnOnce() -> std::io::Result<CodeMemory>,
        info: ModuleInfo,
    ) -> Result<Module, LoadError> {
        artifact.code = Vec::new();
        if artifact.format_version != ARTIFACT_FORMAT_VERSION {
            return Err(LoadError::IncompatibleArtifact(format!(
                "artifact format {} but this runtime reads format {ARTIFACT_FORMAT_VERSION}",
                artifact.format_version
            )));
        }
        if artifact.target != engine.target() {
            return Err(LoadError::IncompatibleArtifact(format!(
                "compiled for {} but this machine runs {}",
                artifact.target.as_str(),
                engine.target().as_str()
            )));
        }
        // Every entry point must be inside the code: a FuncRef pointing elsewhere would
        // send `call_indirect` to an arbitrary address.
        if artifact.entry_trampoline as usize >= code_len {
            return Err(LoadError::IncompatibleArtifact(
                "entry trampoline outside the code".into(),
            ));
        }
        if let Some((i, _)) = artifact
            .functions
            .iter()
            .enumerate()
            .find(|(_, f)| f.code_offset as usize >= code_len)
        {
            return Err(LoadError::IncompatibleArtifact(format!(
                "function {i} starts outside the code"
            )));
        }
        let code = map_code().map_err(LoadError::CodeMemory)?;
        debug_assert_eq!(code.len(), code_len);
        let data = artifact
            .module
            .data
            .iter()
            .map(|d| Box::from(d.bytes.as_slice()))
            .collect();
        // Lookups only, never iterated: the order of a HashMap is unobservable here.
        let exports = artifact
            .module
            .exports
            .iter()
            .map(|e| (e.name.clone(), (e.kind, e.index)))
            .collect();
        let by_name: std::collections::BTreeMap<(&str, &str), _> = info
            .imports
            .iter()
            .filter(|i| matches!(i.kind, gasket_metering::ImportKind::Function { .. }))
            .filter_map(|i| {
                let func = match (i.host_function, i.near_function) {
                    (Some(f), _) => crate::runtime::AbiFunction::V1(f),
                    (None, Some(f)) => crate::runtime::AbiFunction::Near(f),
                    (None, None) => return None,
                };
                Some(((i.module.as_str(), i.name.as_str()), func))
            })
            .collect();
        let import_abi: Vec<_> = artifact
            .module
            .imports
            .iter()
            .map(|i| by_name.get(&(i.module.as_str(), i.name.as_str())).copied())
            .collect();
        let mut import_function_index = vec![None; artifact.module.imports.len()];
        let mut abi_bindings = vec![None; artifact.functions.len()];
        for (index, f) in (0u32..).zip(&artifact.functions) {
            if let gasket_singlepass::FunctionKind::Import { import } = f.kind {
                if let Some(slot) = import_function_index.get_mut(import as usize) {
                    *slot = Some(index);
                }
                let abi = import_abi.get(import as usize).copied().flatten();
                abi_bindings[index as usize] = abi.map(crate::runtime::FuncImport::from);
            }
        }
        let funcrefs = artifact
            .functions
            .iter()
            .map(|f| gasket_singlepass::FuncRef {
                code: code.at(f.code_offset).unwrap_or(std::ptr::null()),
                type_id: f.type_id,
                _reserved: 0,
            })
            .collect();
        let funcrefs = FuncRefs(funcrefs);
        let element_items = constant_element_items(&artifact.module.elements, &funcrefs);
        Ok(Module {
            inner: Arc::new(ModuleInner {
                profile: engine.profile().clone(),
                artifact,
                info,
                code,
                data,
                exports,
                import_function_index: import_function_index.into(),
                abi_bindings: abi_bindings.into(),
                funcrefs,
                element_items,
                pool: engine.pool().clone(),
                holds: crate::module_holds::Holds::new(),
                #[cfg(feature = "call-backend")]
                backend: engine.backend().cloned(),
            }),
        })
    }

    /// The compiled artifact without its code: `code` is empty, because the code lives
    /// only in executable memory ([`Module::code`]). [`Module::to_artifact`] is a complete
    /// copy.
    pub fn artifact(&self) -> &Artifact {
        &self.inner.artifact
    }

    /// The machine code, read from its executable mapping.
    pub fn code(&self) -> &[u8] {
        self.inner.code.bytes()
    }

    /// A complete copy of the artifact, code included (e.g. to map it in another engine).
    pub fn to_artifact(&self) -> Artifact {
        Artifact {
            code: self.code().to_vec(),
            ..self.inner.artifact.clone()
        }
    }

    /// The metering summary of the module.
    pub fn info(&self) -> &ModuleInfo {
        &self.inner.info
    }

    /// The profile the module was prepared under.
    pub fn profile(&self) -> &Profile {
        &self.inner.profile
    }

    /// Exports, in module order.
    pub fn exports(&self) -> Vec<ExportType> {
        let layout = &self.inner.artifact.module;
        layout
            .exports
            .iter()
            .filter_map(|e| {
                Some(ExportType {
                    name: e.name.clone(),
                    ty: self.extern_type(e.kind, e.index)?,
                })
            })
            .collect()
    }

    /// Imports, in module order, without the injected `gasket` intrinsics.
    pub fn imports(&self) -> Vec<ImportType> {
        let artifact = &self.inner.artifact;
        artifact
            .module
            .imports
            .iter()
            .filter(|i| i.module != gasket_host_api::RESERVED_MODULE)
            .filter_map(|i| {
                let ty = match &i.kind {
                    ImportKind::Function { type_index } => {
                        ExternType::Func(artifact.types.get(*type_index as usize)?.clone())
                    }
                    ImportKind::Memory(m) => ExternType::Memory(*m),
                    ImportKind::Table(t) => ExternType::Table(t.clone()),
                    ImportKind::Global(g) => ExternType::Global(*g),
                };
                Some(ImportType {
                    module: i.module.clone(),
                    name: i.name.clone(),
                    ty,
                })
            })
            .collect()
    }

    /// The signature of the exported function `name`, if there is one.
    pub fn export_signature(&self, name: &str) -> Option<&FuncSig> {
        match self.inner.exports.get(name)? {
            (ExportKind::Function, index) => self.func_sig(*index),
            _ => None,
        }
    }

    /// The function index of exported function `name` (one map lookup, no scan), or the
    /// error a call of it gives: no such export (naming the exported functions) or an
    /// export that is not a function.
    pub(crate) fn exported_function(&self, name: &str) -> Result<u32, CallError> {
        let kind = match self.export(name) {
            Some((ExportKind::Function, index)) if self.func_sig(index).is_some() => {
                return Ok(index)
            }
            Some((ExportKind::Memory, _)) => "memory",
            Some((ExportKind::Table, _)) => "table",
            Some((ExportKind::Global, _)) => "global",
            Some((ExportKind::Function, _)) | None => {
                let available: Vec<&str> = self
                    .inner
                    .artifact
                    .module
                    .exports
                    .iter()
                    .filter(|e| e.kind == ExportKind::Function)
                    .map(|e| e.name.as_str())
                    .collect();
                return Err(CallError::NoSuchExport {
                    name: name.into(),
                    available: if available.is_empty() {
                        "(none)".into()
                    } else {
                        available.join(", ")
                    },
                });
            }
        };
        Err(CallError::NotAFunction {
            name: name.into(),
            kind,
        })
    }

    /// Checks that `method` is a contract entry point (an exported function without
    /// parameters) before anything runs, so a typo is an error, not a trap: the error a
    /// call of it would give otherwise.
    pub fn check_entry_point(&self, method: &str) -> Result<(), CallError> {
        let index = self.exported_function(method)?;
        match self.func_sig(index) {
            Some(sig) if !sig.params.is_empty() => Err(CallError::ArgumentCount {
                name: method.into(),
                expected: sig.params.len(),
                got: 0,
                signature: crate::values::signature_string(sig),
            }),
            _ => Ok(()),
        }
    }

    /// Export `name`'s kind and index.
    pub(crate) fn export(&self, name: &str) -> Option<(ExportKind, u32)> {
        self.inner.exports.get(name).copied()
    }

    pub(crate) fn func_sig(&self, index: u32) -> Option<&FuncSig> {
        let artifact = &self.inner.artifact;
        let f = artifact.functions.get(index as usize)?;
        artifact.types.get(f.type_index as usize)
    }

    fn extern_type(&self, kind: ExportKind, index: u32) -> Option<ExternType> {
        let layout = &self.inner.artifact.module;
        Some(match kind {
            ExportKind::Function => ExternType::Func(self.func_sig(index)?.clone()),
            ExportKind::Memory => ExternType::Memory(layout.memory?),
            ExportKind::Table => ExternType::Table(layout.tables.get(index as usize)?.clone()),
            ExportKind::Global => ExternType::Global(layout.globals.get(index as usize)?.ty),
        })
    }
}
