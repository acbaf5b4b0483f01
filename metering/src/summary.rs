//! What the later stages need to know about a prepared module, so they need not re-derive it.

use borsh::{BorshDeserialize, BorshSerialize};
use gasket_host_api::near::NearFunction;
use gasket_host_api::HostFunction;

/// A prepared module: instrumented wasm plus its summary.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct PreparedModule {
    /// Instrumented, valid WebAssembly. Runs in any engine that supplies the three
    /// `gasket` imports described in [`Intrinsics`].
    pub wasm: Vec<u8>,
    /// Summary of the module.
    pub info: ModuleInfo,
}

/// Indices, in the instrumented module's function index space, of the injected imports.
///
/// They are appended after the module's own function imports, so defined functions move up
/// by [`Intrinsics::COUNT`]; imported functions keep their indices.
#[derive(Copy, Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct Intrinsics {
    /// `gasket.gas(cost: i64)`: subtract `cost` from the remaining gas; if it does not
    /// suffice, set gas used to the limit and trap with `out_of_gas`.
    pub gas: u32,
    /// `gasket.stack_enter(frame: i32)`: add `frame` to the stack height; trap with
    /// `stack_overflow` if it would exceed the profile's `max_height`.
    pub stack_enter: u32,
    /// `gasket.stack_leave(frame: i32)`: subtract `frame` from the stack height.
    pub stack_leave: u32,
}

impl Intrinsics {
    /// How many functions the instrumentation imports.
    pub const COUNT: u32 = 3;
}

/// What kind of thing an import is.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub enum ImportKind {
    /// A function of the given type index.
    Function { type_index: u32 },
    /// A linear memory.
    Memory,
    /// A table.
    Table,
    /// A global.
    Global,
}

/// One of the module's own imports (the injected ones are in [`Intrinsics`]).
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct ImportInfo {
    /// Import module name.
    pub module: String,
    /// Import field name.
    pub name: String,
    /// What is imported.
    pub kind: ImportKind,
    /// The host ABI function it resolves to, when it is one (always, under the contract
    /// profile, for function imports).
    pub host_function: Option<HostFunction>,
    /// The NEAR-compatible host function it resolves to (profile `near` only).
    pub near_function: Option<NearFunction>,
}

/// A function defined in the module.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct FunctionInfo {
    /// Type index (type indices are unchanged by instrumentation).
    pub type_index: u32,
    /// Stack-height units one activation costs.
    pub frame_cost: u32,
}

/// The linear memory, if the module has one.
#[derive(Copy, Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct MemoryInfo {
    /// Initial size in 64 KiB pages.
    pub initial_pages: u32,
    /// The size `memory.grow` can never exceed: the module's declared maximum capped by
    /// the profile's `max_memory_pages`.
    pub maximum_pages: u32,
    /// Whether the memory is imported (permissive profile only).
    pub imported: bool,
}

/// What an export refers to.
#[derive(Copy, Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub enum ExportKind {
    Function,
    Table,
    Memory,
    Global,
}

/// One export; `index` is in the instrumented module's index space.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct ExportInfo {
    pub name: String,
    pub kind: ExportKind,
    pub index: u32,
}

/// Summary of a prepared module.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct ModuleInfo {
    /// The module's own imports, in order.
    pub imports: Vec<ImportInfo>,
    /// Number of function imports in the original module.
    pub imported_functions: u32,
    /// Indices of the injected `gasket` imports.
    pub intrinsics: Intrinsics,
    /// Defined functions, in order; function `i` of this list has index
    /// `imported_functions + Intrinsics::COUNT + i` in the instrumented module. When the
    /// module's memory starts above the resident allowance, the last is the start function
    /// the instrumentation appended to charge those pages (see `commit`).
    pub functions: Vec<FunctionInfo>,
    /// The linear memory, if any.
    pub memory: Option<MemoryInfo>,
    /// Number of tables, imported and defined.
    pub tables: u32,
    /// Number of globals, imported and defined.
    pub globals: u32,
    /// Exports, in order.
    pub exports: Vec<ExportInfo>,
    /// Start function (instrumented index space): the appended commit charge's when
    /// there is one (it calls the module's own), else the module's own.
    pub start: Option<u32>,
    /// Largest frame cost of any function.
    pub max_frame_cost: u32,
    /// Size of the original module in bytes.
    pub original_size: u64,
    /// Version of the cost table used.
    pub cost_table_version: u32,
    /// Fingerprint of the profile used (see `Profile::fingerprint`).
    pub profile_fingerprint: [u8; 32],
}

impl ModuleInfo {
    /// Maps a function index of the original module to the instrumented module.
    pub fn instrumented_function_index(&self, original: u32) -> u32 {
        if original < self.imported_functions {
            original
        } else {
            original + Intrinsics::COUNT
        }
    }

    /// Maps a function index of the instrumented module back to the original module;
    /// `None` for the injected imports.
    pub fn original_function_index(&self, instrumented: u32) -> Option<u32> {
        if instrumented < self.imported_functions {
            Some(instrumented)
        } else if instrumented < self.imported_functions + Intrinsics::COUNT {
            None
        } else {
            Some(instrumented - Intrinsics::COUNT)
        }
    }

    /// The exported function named `name`, as an instrumented function index.
    pub fn exported_function(&self, name: &str) -> Option<u32> {
        self.exports
            .iter()
            .find(|e| e.kind == ExportKind::Function && e.name == name)
            .map(|e| e.index)
    }
}
