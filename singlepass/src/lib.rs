//! `gasket-singlepass`: Gasket's single-pass compiler from instrumented wasm (the output of
//! `gasket_metering::prepare`) to x86-64 (and, later, AArch64) machine code.
//!
//! [`compile`] validates every function body with wasmparser's `FuncValidator` and
//! generates code for it in the same pass (`codegen/`; [`compile_prevalidated`] skips the
//! validation for bytes already validated), through the [`masm::MacroAssembler`]
//! trait that each ISA implements (`isa/`). The result is an [`Artifact`]: position-
//! independent code plus the module layout the runtime (`gasket-vm`) instantiates from.

pub mod artifact;
mod code_buffer;
mod codegen;
mod error;
#[cfg(any(test, feature = "isa-testing"))]
mod float_reference;
mod isa;
pub mod masm;
#[cfg(any(test, feature = "isa-testing"))]
#[doc(hidden)]
pub mod masm_suite;
mod module;
mod target;
#[cfg(test)]
mod test_rng;
mod trap;
pub mod vmctx;
pub mod written;

pub use artifact::*;
pub use code_buffer::{page_size, CodeBuffer};
pub use codegen::NATIVE_STACK_BYTES_PER_UNIT;
pub use error::CompileError;
pub use gasket_body_reader::LocalUses;
pub use target::Target;
pub use trap::TrapKind;
pub use vmctx::{FuncRef, Libcall, TableDef, VmCtx, DIRTY_GRANULE, STACK_GRANT_UNITS};
pub use written::WrittenRanges;

/// Compiles an instrumented module (the `wasm` of a `gasket_metering::PreparedModule`) for
/// `target`.
///
/// The module must import the `gasket` intrinsics the metering pass injects (they become
/// inline code); modules without them compile too, unmetered. Time and memory are linear
/// in the module's size.
pub fn compile(wasm: &[u8], target: Target) -> Result<Artifact, CompileError> {
    compile_with(wasm, target, &CompileOptions::default())
}

/// [`compile`], with the code left in the buffer it was assembled in
/// ([`BufferedArtifact`]): what the runtime makes executable in place, without a copy.
pub fn compile_buffered(wasm: &[u8], target: Target) -> Result<BufferedArtifact, CompileError> {
    compile_buffered_with(wasm, target, &CompileOptions::default())
}

/// [`compile_buffered`] with explicit [`CompileOptions`] (e.g. threads).
pub fn compile_buffered_with(
    wasm: &[u8],
    target: Target,
    options: &CompileOptions,
) -> Result<BufferedArtifact, CompileError> {
    compile_module_for(wasm, target, options, codegen::Validation::Full)
}

/// Code generation choices that change the code but not what a module means. The default
/// is the only deterministic configuration; the others exist to measure what determinism
/// costs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CompileOptions {
    /// Every NaN a float operation produces is the canonical NaN (`FloatPolicy::Canonicalize`
    /// in the metering profile relies on it). Off, NaN bit patterns are whatever the CPU
    /// produces: x86-64 and AArch64 then disagree. Default on.
    pub canonicalize_nans: bool,
    /// Threads compiling function bodies: 1 (the default) compiles on the calling
    /// thread; more splits the code section into parts compiled in parallel (modules
    /// with less than 64 KiB of code stay on one thread). Never changes the output: the
    /// artifact's bytes, and the first error, are the same whatever the count.
    pub threads: usize,
}

impl Default for CompileOptions {
    fn default() -> Self {
        CompileOptions {
            canonicalize_nans: true,
            threads: 1,
        }
    }
}

/// [`compile`] with explicit [`CompileOptions`].
pub fn compile_with(
    wasm: &[u8],
    target: Target,
    options: &CompileOptions,
) -> Result<Artifact, CompileError> {
    compile_module_for(wasm, target, options, codegen::Validation::Full)
        .map(BufferedArtifact::into_artifact)
}

/// Module bytes whose validity is already established, for [`compile_prevalidated`].
///
/// The safe way to get one is [`PrevalidatedWasm::validate`]; the runtime, which compiles
/// what `gasket_metering::prepare` has just validated and written, vouches for its bytes
/// with [`PrevalidatedWasm::new_unchecked`] instead (`ARCHITECTURE.md`, "Validation once
/// per compile", says why that adds no risk).
#[derive(Copy, Clone, Debug)]
pub struct PrevalidatedWasm<'a> {
    bytes: &'a [u8],
    /// The metering walk's local use counts of these bytes, if the caller has them.
    uses: Option<&'a LocalUses>,
}

impl<'a> PrevalidatedWasm<'a> {
    /// Validates `bytes` with the compiler's own feature set (what [`compile`] checks).
    pub fn validate(bytes: &'a [u8]) -> Result<Self, CompileError> {
        codegen::validate(bytes)?;
        Ok(PrevalidatedWasm { bytes, uses: None })
    }

    /// Trusts `bytes` without looking at them.
    ///
    /// # Safety
    /// `bytes` must be a module wasmparser's validator accepts under the compiler's feature
    /// set (wasm 2.0 with floats: what [`PrevalidatedWasm::validate`] checks). Code
    /// generation assumes well-typed bodies; compiling an invalid one without validation
    /// may produce machine code that reads or writes outside its sandbox when run.
    pub unsafe fn new_unchecked(bytes: &'a [u8]) -> Self {
        PrevalidatedWasm { bytes, uses: None }
    }

    /// These bytes with the local use counts `gasket_metering::prepare_with_uses`
    /// returned with them: code generation takes each counted function's register
    /// choices from them instead of scanning its body (`gasket_body_reader::uses`).
    ///
    /// `uses` must be the counts `prepare_with_uses` returned together with these very
    /// bytes: other counts give other (valid, but different) register choices, and may
    /// leave a non-canonical NaN in a float local where the profile canonicalizes. Debug
    /// builds check every counted function against a scan of its body.
    pub fn with_local_uses(self, uses: &'a LocalUses) -> Self {
        PrevalidatedWasm {
            uses: Some(uses),
            ..self
        }
    }

    /// The module's bytes.
    pub fn bytes(&self) -> &'a [u8] {
        self.bytes
    }
}

/// [`compile`] without validating again: the same artifact, byte for byte, for a module
/// whose validity is already established (the vm compiles `gasket_metering::prepare`'s
/// output this way). Malformed bytes are still errors, never panics; but only validation
/// makes invalid wasm an error, hence the [`PrevalidatedWasm`] contract.
pub fn compile_prevalidated(
    wasm: PrevalidatedWasm<'_>,
    target: Target,
) -> Result<Artifact, CompileError> {
    compile_prevalidated_buffered(wasm, target).map(BufferedArtifact::into_artifact)
}

/// [`compile_prevalidated`], with the code left in its buffer ([`BufferedArtifact`]): the
/// runtime's path, which makes the buffer's pages executable in place.
pub fn compile_prevalidated_buffered(
    wasm: PrevalidatedWasm<'_>,
    target: Target,
) -> Result<BufferedArtifact, CompileError> {
    compile_prevalidated_buffered_with(wasm, target, &CompileOptions::default())
}

/// [`compile_prevalidated_buffered`] with explicit [`CompileOptions`] (e.g. threads).
pub fn compile_prevalidated_buffered_with(
    wasm: PrevalidatedWasm<'_>,
    target: Target,
    options: &CompileOptions,
) -> Result<BufferedArtifact, CompileError> {
    compile_module_for(
        wasm.bytes,
        target,
        options,
        codegen::Validation::Trusted(wasm.uses),
    )
}

fn compile_module_for(
    wasm: &[u8],
    target: Target,
    options: &CompileOptions,
    validation: codegen::Validation<'_>,
) -> Result<BufferedArtifact, CompileError> {
    // Generated code runs about 3-4 bytes per byte of instrumented wasm on x86-64, a little
    // more on AArch64. The capacity is address space: pages are used as code is written.
    let capacity = wasm.len().saturating_mul(4);
    match target {
        Target::X86_64 => {
            let masm = isa::x64::X64Masm::with_capacity(capacity);
            codegen::compile_module(wasm, masm, target, options, validation)
        }
        Target::Aarch64 => {
            let masm = isa::aarch64::A64Masm::with_capacity(capacity);
            codegen::compile_module(wasm, masm, target, options, validation)
        }
    }
}

/// Hooks for testing the ISA backends outside this crate (the AArch64 emulator tests in
/// `aarch64-tests/`, which must keep the GPL-2.0 Unicorn out of this crate's dependency
/// graph). Not a stable API: enabled only by the `isa-testing` feature.
#[cfg(feature = "isa-testing")]
#[doc(hidden)]
pub mod isa_testing {
    pub use crate::isa::aarch64::A64Masm;

    /// The wasm float reference (`float_reference`, a private module of this crate).
    pub mod float_reference {
        pub use crate::float_reference::*;
    }
}
