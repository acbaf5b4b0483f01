//! Instruction-set backends: one [`MacroAssembler`](crate::masm::MacroAssembler)
//! implementation per ISA.
//!
//! An ISA module owns everything machine-specific: which hardware registers codegen may
//! allocate, which ones are pinned (vmctx, memory base, gas) or scratch, how operations,
//! addressing modes and immediates are encoded, the function prologue/epilogue, calls into
//! runtime helpers, trap stubs and the entry trampoline the runtime calls into. Codegen
//! drives it only through the trait.

pub(crate) mod aarch64;
mod assembler;
pub(crate) mod x64;

pub(crate) use assembler::CodeAssembler;
