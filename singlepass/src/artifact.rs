//! The compiler's output: machine code plus everything the runtime needs to instantiate it,
//! in one borsh-serializable value (the cache stores it as is).
//!
//! An artifact is self-contained: the runtime never re-parses the wasm module.

use borsh::{BorshDeserialize, BorshSerialize};

use crate::Target;

/// Version of the artifact format: the layout of this struct, the vmctx layout, the calling
/// conventions and the libcall table. Bump it whenever any of them changes.
/// 3: no trap-site table (nothing read it), and `code` outside the borsh encoding.
/// 4: `VmCtx::stack_reserve` and the stack-grant stub (`stack_enter` asks it for more of
/// the budget instead of trapping at once).
/// 5: `VmCtx::memory_dirty_start/len` and the dirty-range stub (stores check the written
/// range instead of the memory length); the globals moved 16 bytes up.
/// 6: `VmCtx::written` (`WrittenRanges`: the current range, checked as before, plus
/// ranges moved aside by the stub); the globals moved 48 bytes up.
/// 7: `VmCtx::write_price` and `write_gas`: the dirty-range stub charges the granules it
/// adds (cost table version 5) and marks the stored bytes, not from the address; the
/// globals moved 16 bytes up.
/// 8: `VmCtx::stack_limit` (a stack pointer, set by the trampoline from the units first
/// granted) replaces `stack_remaining`: metered frames are exactly 32 bytes per stack
/// unit and `stack_enter` compares the stack pointer with the limit.
pub const ARTIFACT_FORMAT_VERSION: u32 = 8;

/// A compiled module.
///
/// # Calling compiled code
/// `code[entry_trampoline..]` is a function with the platform C calling convention:
/// `extern "C" fn(vmctx: *mut VmCtx, func: *const u8, args: *mut u64) -> u32`.
/// `func` is the entry of a function in wasm calling convention; `args` points to
/// `max(params, results)` 8-byte slots holding the parameters, and must be 16-byte aligned
/// at the top of a native stack reserved for the call: the trampoline switches the stack
/// pointer to `args` and calls `func` from there, so the function and everything it calls
/// run below `args`. On return the slots hold the results and the trampoline returns 0; on
/// a trap it returns the [`TrapKind`](crate::TrapKind) code (also in `VmCtx::trap_code`). Either way
/// `VmCtx::gas_remaining` is up to date.
///
/// # Wasm calling convention (between compiled functions)
/// The caller reserves `max(params, results)` 8-byte slots (rounded up to 16 bytes) at its
/// stack pointer, writes parameter `i` to slot `i` and calls; the callee writes result `i`
/// to slot `i` before returning. The vmctx, memory base and gas registers are pinned for
/// the whole call; the registers an ISA uses for pinned locals are callee-saved; everything
/// else is clobbered by a call.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct Artifact {
    /// [`ARTIFACT_FORMAT_VERSION`] of the compiler that produced it.
    pub format_version: u32,
    /// The ISA of `code`.
    pub target: Target,
    /// Position-independent machine code for every function, the entry trampoline and the
    /// trap stubs. Not part of the borsh encoding: a serialized module stores the code
    /// after the encoded rest, so loading copies it once, straight from the file into
    /// executable memory, instead of decoding it into a buffer first.
    #[borsh(skip)]
    pub code: Vec<u8>,
    /// Offset of the entry trampoline in `code`.
    pub entry_trampoline: u32,
    /// The module's function types, in type-section order.
    pub types: Vec<FuncSig>,
    /// Every function of the module's index space (imports first), in order.
    pub functions: Vec<CompiledFunction>,
    /// Everything about the module besides code.
    pub module: ModuleLayout,
}

/// A function type.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, BorshSerialize, BorshDeserialize)]
pub struct FuncSig {
    pub params: Vec<ValType>,
    pub results: Vec<ValType>,
}

/// A value type.
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, BorshSerialize, BorshDeserialize)]
pub enum ValType {
    I32,
    I64,
    F32,
    F64,
    FuncRef,
    ExternRef,
}

/// A reference type.
#[derive(Copy, Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub enum RefType {
    FuncRef,
    ExternRef,
}

/// One function of the index space.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct CompiledFunction {
    /// Index into `Artifact::types`.
    pub type_index: u32,
    /// Canonical type id: the index of the first type in `Artifact::types` equal to this
    /// function's type. `call_indirect` compares these.
    pub type_id: u32,
    /// Entry offset in `Artifact::code` (wasm calling convention). Imports get a small
    /// shim here that calls [`Libcall::HostCall`](crate::Libcall::HostCall).
    pub code_offset: u32,
    /// Length of the function's code in bytes.
    pub code_len: u32,
    /// What the function is.
    pub kind: FunctionKind,
}

/// Where a function comes from.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub enum FunctionKind {
    /// An imported function, resolved by the runtime (`ModuleLayout::imports[import]`).
    Import { import: u32 },
    /// One of the injected `gasket` imports, compiled inline at every call site. Its shim
    /// traps with `unreachable` (no module can reference it from a table).
    Intrinsic,
    /// A function defined in the module.
    Defined,
}

/// Module structure the runtime instantiates from.
#[derive(Clone, Debug, Default, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct ModuleLayout {
    /// The instrumented module's imports, in order (the `gasket` intrinsics included).
    pub imports: Vec<Import>,
    /// The linear memory, defined or imported (an imported memory is created by the
    /// runtime for the instance from this type; Gasket never shares memories).
    pub memory: Option<MemoryType>,
    /// Tables, imported ones first (also created by the runtime per instance).
    pub tables: Vec<TableType>,
    /// Globals, imported ones first.
    pub globals: Vec<GlobalDef>,
    /// Data segments, in order.
    pub data: Vec<DataSegment>,
    /// Element segments, in order.
    pub elements: Vec<ElementSegment>,
    /// Exports, in order.
    pub exports: Vec<Export>,
    /// The start function, if any.
    pub start: Option<u32>,
}

/// An import.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct Import {
    pub module: String,
    pub name: String,
    pub kind: ImportKind,
}

/// What an import provides.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub enum ImportKind {
    /// A function of type `Artifact::types[type_index]`.
    Function {
        type_index: u32,
    },
    Memory(MemoryType),
    Table(TableType),
    /// A global; its value is supplied at instantiation.
    Global(GlobalType),
}

/// Limits of a linear memory, in 64 KiB pages.
#[derive(Copy, Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct MemoryType {
    pub min_pages: u32,
    pub max_pages: Option<u32>,
}

/// A table's element type and limits.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct TableType {
    pub element: RefType,
    pub min: u32,
    pub max: Option<u32>,
    /// Initial value of every element for defined tables with an init expression
    /// (function-references proposal); `None` means null.
    pub init: Option<ConstExpr>,
}

/// A global's type.
#[derive(Copy, Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct GlobalType {
    pub ty: ValType,
    pub mutable: bool,
}

/// A global of the index space.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct GlobalDef {
    pub ty: GlobalType,
    /// The initializer of a defined global; `None` for an imported one.
    pub init: Option<ConstExpr>,
}

/// A constant expression (global initializers, segment offsets, element items), as the
/// sequence of its operators; evaluated by the runtime on a small stack.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct ConstExpr {
    pub ops: Vec<ConstOp>,
}

/// An operator allowed in a constant expression (wasm 2.0 plus extended-const).
#[derive(Copy, Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub enum ConstOp {
    I32Const(i32),
    I64Const(i64),
    GlobalGet(u32),
    RefNull(RefType),
    RefFunc(u32),
    I32Add,
    I32Sub,
    I32Mul,
    I64Add,
    I64Sub,
    I64Mul,
    /// An f32 constant, as its bit pattern.
    F32Const(u32),
    /// An f64 constant, as its bit pattern.
    F64Const(u64),
}

/// A data segment.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct DataSegment {
    /// `Some(offset)` for an active segment (memory 0), `None` for a passive one.
    pub offset: Option<ConstExpr>,
    pub bytes: Vec<u8>,
}

/// An element segment.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct ElementSegment {
    pub mode: ElementMode,
    pub element: RefType,
    /// One constant expression per element (`ref.func i` for function-index segments).
    pub items: Vec<ConstExpr>,
}

/// When an element segment is applied.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub enum ElementMode {
    /// Copied into `table` at `offset` during instantiation, then dropped.
    Active { table: u32, offset: ConstExpr },
    /// Used by `table.init`.
    Passive,
    /// Only declares functions for `ref.func`; dropped at instantiation.
    Declared,
}

/// An export.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct Export {
    pub name: String,
    pub kind: ExportKind,
    pub index: u32,
}

/// What an export refers to.
#[derive(Copy, Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub enum ExportKind {
    Function,
    Memory,
    Table,
    Global,
}

/// An [`Artifact`] whose code is still in the [`CodeBuffer`](crate::CodeBuffer) it was assembled in
/// (`artifact.code` is empty). The runtime turns the buffer's own pages executable, so a
/// compile never holds its machine code twice (code and a copy of it).
#[derive(Debug)]
pub struct BufferedArtifact {
    /// Everything but the code (`code` is empty).
    pub artifact: Artifact,
    /// The code.
    pub code: crate::CodeBuffer,
}

impl BufferedArtifact {
    /// The plain [`Artifact`], its code copied out of the buffer.
    pub fn into_artifact(self) -> Artifact {
        let BufferedArtifact { mut artifact, code } = self;
        artifact.code = code.into_vec();
        artifact
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A compiled module survives borsh unchanged: the cache stores exactly this.
    #[test]
    fn artifacts_round_trip_through_borsh() {
        // Hand-encoded: (module (memory 1) (global (mut i32) (i32.const 7))
        //   (func (export "f") (param i32) (result i32) (i32.add (local.get 0) (global.get 0))))
        let wasm = [
            0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // header
            0x01, 0x06, 0x01, 0x60, 0x01, 0x7f, 0x01, 0x7f, // type (i32) -> i32
            0x03, 0x02, 0x01, 0x00, // function 0: type 0
            0x05, 0x03, 0x01, 0x00, 0x01, // memory min 1
            0x06, 0x06, 0x01, 0x7f, 0x01, 0x41, 0x07, 0x0b, // global mut i32 = 7
            0x07, 0x05, 0x01, 0x01, b'f', 0x00, 0x00, // export "f" func 0
            0x0a, 0x09, 0x01, 0x07, 0x00, 0x20, 0x00, 0x23, 0x00, 0x6a, 0x0b, // body
        ];
        let artifact = crate::compile(&wasm, crate::Target::X86_64).expect("compiles");
        assert!(!artifact.code.is_empty());
        assert_eq!(artifact.format_version, ARTIFACT_FORMAT_VERSION);
        assert_eq!(artifact.module.exports[0].name, "f");
        let bytes = borsh::to_vec(&artifact).expect("serializes");
        let mut back: Artifact = borsh::from_slice(&bytes).expect("deserializes");
        assert!(
            back.code.is_empty(),
            "the code is stored beside the encoding"
        );
        back.code = artifact.code.clone();
        assert_eq!(back, artifact);
        // The same input always gives the same bytes (the cache key relies on it).
        let again = crate::compile(&wasm, crate::Target::X86_64).expect("compiles");
        assert_eq!(borsh::to_vec(&again).expect("serializes"), bytes);
        assert_eq!(again.code, artifact.code);
    }
}
