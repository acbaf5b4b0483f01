//! Structural limits enforced before any code is compiled.
//!
//! Every limit bounds work a hostile module could otherwise make a node do (compile time,
//! memory, instantiation cost). Defaults are sized for real contracts: the largest of the
//! 72 contracts in the shared corpus is well inside every default.

use borsh::{BorshDeserialize, BorshSerialize};

/// Which limit a module exceeded; part of [`crate::PrepareError::LimitExceeded`].
#[derive(
    Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, BorshSerialize, BorshDeserialize,
)]
pub enum LimitKind {
    /// Size of the module in bytes.
    ModuleBytes,
    /// Types in the type section.
    Types,
    /// Functions, imported and defined.
    Functions,
    /// Imports of any kind.
    Imports,
    /// Exports of any kind.
    Exports,
    /// Globals, imported and defined.
    Globals,
    /// Locals of one function, parameters included.
    Locals,
    /// Parameters of one function type.
    Params,
    /// Results of one function type.
    Results,
    /// Size of one function body in bytes.
    BodyBytes,
    /// Nesting depth of blocks, loops and ifs in one function.
    NestingDepth,
    /// Targets of one `br_table`.
    BrTableTargets,
    /// Elements of one table (initial size, and the cap for growth).
    TableSize,
    /// Tables, imported and defined.
    Tables,
    /// Initial pages of the linear memory.
    MemoryPages,
    /// Data segments.
    DataSegments,
    /// Element segments.
    ElementSegments,
    /// Frame size of one function in stack-height units (it could never be called).
    FrameSize,
}

impl LimitKind {
    /// Stable snake_case name, used in JSON output and docs.
    pub fn as_str(self) -> &'static str {
        match self {
            LimitKind::ModuleBytes => "module_bytes",
            LimitKind::Types => "types",
            LimitKind::Functions => "functions",
            LimitKind::Imports => "imports",
            LimitKind::Exports => "exports",
            LimitKind::Globals => "globals",
            LimitKind::Locals => "locals",
            LimitKind::Params => "params",
            LimitKind::Results => "results",
            LimitKind::BodyBytes => "body_bytes",
            LimitKind::NestingDepth => "nesting_depth",
            LimitKind::BrTableTargets => "br_table_targets",
            LimitKind::TableSize => "table_size",
            LimitKind::Tables => "tables",
            LimitKind::MemoryPages => "memory_pages",
            LimitKind::DataSegments => "data_segments",
            LimitKind::ElementSegments => "element_segments",
            LimitKind::FrameSize => "frame_size",
        }
    }

    /// The `Limits` field an embedder changes to raise this limit.
    pub fn field(self) -> &'static str {
        match self {
            LimitKind::ModuleBytes => "max_module_bytes",
            LimitKind::Types => "max_types",
            LimitKind::Functions => "max_functions",
            LimitKind::Imports => "max_imports",
            LimitKind::Exports => "max_exports",
            LimitKind::Globals => "max_globals",
            LimitKind::Locals => "max_locals",
            LimitKind::Params => "max_params",
            LimitKind::Results => "max_results",
            LimitKind::BodyBytes => "max_body_bytes",
            LimitKind::NestingDepth => "max_nesting_depth",
            LimitKind::BrTableTargets => "max_br_table_targets",
            LimitKind::TableSize => "max_table_size",
            LimitKind::Tables => "max_tables",
            LimitKind::MemoryPages => "max_memory_pages",
            LimitKind::DataSegments => "max_data_segments",
            LimitKind::ElementSegments => "max_element_segments",
            LimitKind::FrameSize => "max_stack_height",
        }
    }
}

impl std::fmt::Display for LimitKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Structural limits. All are inclusive maxima.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct Limits {
    /// Module size in bytes. Default 4 MiB.
    pub max_module_bytes: u64,
    /// Types in the type section. Default 4096.
    pub max_types: u32,
    /// Functions, imported plus defined. Default 20 000.
    pub max_functions: u32,
    /// Imports. Default 256.
    pub max_imports: u32,
    /// Exports. Default 1024.
    pub max_exports: u32,
    /// Globals, imported plus defined. Default 1024.
    pub max_globals: u32,
    /// Locals of one function, parameters included. Default 10 000.
    pub max_locals: u32,
    /// Parameters of a function type. Default 128.
    pub max_params: u32,
    /// Results of a function type. Default 32.
    pub max_results: u32,
    /// Bytes of one function body. Default 512 KiB.
    pub max_body_bytes: u32,
    /// Control nesting depth within one function. Default 1024.
    pub max_nesting_depth: u32,
    /// Targets of one `br_table` (default target excluded). Default 16 384.
    pub max_br_table_targets: u32,
    /// Elements of a table: its initial size, and the cap `table.grow` can reach. Default 65 536.
    pub max_table_size: u32,
    /// Tables, imported plus defined. Default 16.
    pub max_tables: u32,
    /// Pages (64 KiB) of linear memory: the initial size may not exceed it and
    /// `memory.grow` never grows past it, whatever maximum the module declares. Default
    /// 1024 pages (64 MiB).
    pub max_memory_pages: u32,
    /// Data segments. Default 4096.
    pub max_data_segments: u32,
    /// Element segments. Default 1024.
    pub max_element_segments: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_module_bytes: 4 * 1024 * 1024,
            max_types: 4096,
            max_functions: 20_000,
            max_imports: 256,
            max_exports: 1024,
            max_globals: 1024,
            max_locals: 10_000,
            max_params: 128,
            max_results: 32,
            max_body_bytes: 512 * 1024,
            max_nesting_depth: 1024,
            max_br_table_targets: 16_384,
            max_table_size: 65_536,
            max_tables: 16,
            max_memory_pages: 1024,
            max_data_segments: 4096,
            max_element_segments: 1024,
        }
    }
}
