//! `gasket-singlepass`: Gasket's single-pass compiler from instrumented wasm (the output of
//! `gasket_metering::prepare`) to x86-64 (and, later, AArch64) machine code.
//!
//! [`compile`] validates every function body with wasmparser's `FuncValidator` and
//! generates code for it in the same pass (`codegen/`), through the [`masm::MacroAssembler`]
//! trait that each ISA implements (`isa/`). The result is an [`Artifact`]: position-
//! independent code plus the module layout the runtime (`gasket-vm`) instantiates from.

pub mod artifact;
mod codegen;
mod error;
#[cfg(any(test, feature = "isa-testing"))]
mod float_reference;
mod isa;
pub mod masm;
mod module;
mod target;
mod trap;
pub mod vmctx;

pub use artifact::*;
pub use codegen::NATIVE_STACK_BYTES_PER_UNIT;
pub use error::CompileError;
pub use target::Target;
pub use trap::TrapKind;
pub use vmctx::{FuncRef, Libcall, TableDef, VmCtx, STACK_GRANT_UNITS};

/// Compiles an instrumented module (the `wasm` of a `gasket_metering::PreparedModule`) for
/// `target`.
///
/// The module must import the `gasket` intrinsics the metering pass injects (they become
/// inline code); modules without them compile too, unmetered. Time and memory are linear
/// in the module's size.
pub fn compile(wasm: &[u8], target: Target) -> Result<Artifact, CompileError> {
    compile_with(wasm, target, &CompileOptions::default())
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
}

impl Default for CompileOptions {
    fn default() -> Self {
        CompileOptions {
            canonicalize_nans: true,
        }
    }
}

/// [`compile`] with explicit [`CompileOptions`].
pub fn compile_with(
    wasm: &[u8],
    target: Target,
    options: &CompileOptions,
) -> Result<Artifact, CompileError> {
    match target {
        Target::X86_64 => {
            // Generated code runs about 3-4 bytes per byte of instrumented wasm.
            let masm = isa::x64::X64Masm::with_capacity(wasm.len().saturating_mul(4));
            codegen::compile_module(wasm, masm, target, options)
        }
        Target::Aarch64 => {
            codegen::compile_module(wasm, isa::aarch64::A64Masm::new(), target, options)
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
