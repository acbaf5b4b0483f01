//! Code generation: one pass over the module that validates each function body and emits
//! its machine code through a [`MacroAssembler`] in the same walk.
//!
//! - `mod.rs` (this file): the module-level driver. It feeds every payload to wasmparser's
//!   `Validator`, records the module layout, compiles each body as it arrives, then emits
//!   the import shims, the shared trap stubs and the entry trampoline, and assembles the
//!   [`Artifact`].
//! - `func.rs`: the per-function state ([`FuncGen`]) and the operator dispatch.
//! - `visit.rs`: the visitor the body reader calls per operator (validate, compile).
//! - `stack.rs`: the value stack of locations and register allocation.
//! - `regalloc.rs`: which locals live in registers (a use-count scan of the body).
//! - `control.rs`: block/loop/if frames and branches.
//! - `hoist.rs`: loop-invariant products of two locals, computed before the loop.
//! - `counted.rs`: counted loops, their iterations charged once where the loop is left.
//! - `arith.rs`: integer operators, with constant folding.
//! - `memory.rs`: loads, stores, globals, tables and bulk operations.
//! - `calls.rs`: calls, the intrinsics, and runtime helper calls.
//!
//! Everything is linear in the size of the input: each operator does a constant amount of
//! work plus work proportional to the values it touches, and the few whole-stack scans
//! (spilling at block boundaries) advance cursors that never move back.

mod addr_cache;
mod aligned;
mod arith;
/// The constant-divisor plans, for the masm suite's remainder case.
#[cfg(any(test, feature = "isa-testing"))]
pub(crate) use arith::UnsignedDivisor;
mod bytes;
mod calls;
mod control;
mod counted;
mod decode;
mod float;
mod func;
mod hoist;
mod load_window;
mod memory;
mod parallel;
mod proven;
mod regalloc;
mod stack;
mod store_run;
mod visit;

use wasmparser::{
    FuncToValidate, FuncValidatorAllocations, FunctionBody, Parser, Payload, ValidPayload,
    Validator, ValidatorResources, WasmFeatures,
};

use gasket_body_reader::uses::FunctionUses;
use gasket_body_reader::LocalUses;

use crate::artifact::*;
use crate::masm::{Label, MacroAssembler};
use crate::module::ModuleEnv;
use crate::vmctx::Libcall;
use crate::{CompileError, Target, TrapKind};

use func::FuncGen;

/// Upper bound on the native stack bytes one activation of a compiled function uses, per
/// unit of the deterministic stack accounting that metering charges for it (locals + max
/// operand height + a fixed overhead). A frame holds one slot per local (its home, the
/// save slot of its register, callee-saved or lent), one spill slot per operand-stack
/// depth (≤ 2 per wasm value, counting the copies an `if` with parameters keeps) and an
/// outgoing call area (≤ 1 slot per value plus alignment), so 8 bytes × (4 + locals + 3 × height) ≤ 32 × (locals + height + 4).
/// The runtime sizes each native stack as this × `StackLimits::max_height`, plus headroom
/// for runtime helpers and host functions, so the deterministic limit always fires first.
///
/// A function whose body calls `stack_enter(units)` (every function `metering::prepare`
/// wrote) gets a native frame of *exactly* this many bytes per unit (return address and
/// saved frame pointer included; `metered_frame_bytes`), padded below its slots. So the
/// stack pointer after its prologue is the call's entry `sp` minus this × the units of
/// the active frames, and `stack_enter` is one compare of it with `VmCtx::stack_limit`:
/// no counter to write on entry, nothing to do on return.
pub const NATIVE_STACK_BYTES_PER_UNIT: u64 = 32;

/// The frame size (below the saved frame pointer and return address, 16 bytes on both
/// ISAs) of a function charged `units` stack units whose slots need `needed` bytes:
/// exactly `NATIVE_STACK_BYTES_PER_UNIT * units - 16`, or `None` if that is less than
/// `needed` (a profile whose `frame_overhead` is too small for the bound above).
fn metered_frame_bytes(units: u32, needed: usize) -> Option<usize> {
    let total = usize::try_from(NATIVE_STACK_BYTES_PER_UNIT * u64::from(units)).ok()?;
    let frame = total.checked_sub(16)?;
    (frame >= needed).then_some(frame)
}

/// The wasm features the compiler validates with: wasm 2.0, with floats accepted by the
/// validator (their operators are then reported as unsupported by code generation).
fn features() -> WasmFeatures {
    WasmFeatures::MUTABLE_GLOBAL
        | WasmFeatures::SIGN_EXTENSION
        | WasmFeatures::MULTI_VALUE
        | WasmFeatures::BULK_MEMORY
        | WasmFeatures::REFERENCE_TYPES
        | WasmFeatures::CALL_INDIRECT_OVERLONG
        | WasmFeatures::BULK_MEMORY_OPT
        | WasmFeatures::GC_TYPES
        | WasmFeatures::FLOATS
        | WasmFeatures::SATURATING_FLOAT_TO_INT
}

/// Validates `wasm` as [`crate::compile`] does, without compiling it.
pub(crate) fn validate(wasm: &[u8]) -> Result<(), CompileError> {
    Validator::new_with_features(features())
        .validate_all(wasm)
        .map(drop)
        .map_err(CompileError::invalid)
}

/// Labels shared by every function of the module: one trap stub per kind, the dynamic
/// stub for libcall trap codes, and one entry label per function.
pub(crate) struct ModuleLabels {
    traps: Vec<(TrapKind, Label)>,
    pub dynamic_trap: Label,
    /// The stack-grant stub every function's `stack_enter` calls when its frame does not
    /// fit the budget granted so far.
    pub stack_grant: Label,
    /// The dirty-range stub every store's check calls when it writes outside the range
    /// written so far (see `VmCtx::written`).
    pub dirty_range: Label,
    pub functions: Vec<Label>,
}

impl ModuleLabels {
    /// The module-level labels of `masm`, without functions yet.
    pub fn new<M: MacroAssembler>(masm: &mut M) -> ModuleLabels {
        ModuleLabels {
            traps: TrapKind::ALL
                .iter()
                .map(|&kind| (kind, masm.new_label()))
                .collect(),
            dynamic_trap: masm.new_label(),
            stack_grant: masm.new_label(),
            dirty_range: masm.new_label(),
            functions: Vec::new(),
        }
    }

    /// Each of these labels with its counterpart in `other` (the same stub or function).
    pub fn pairs_with(&self, other: &ModuleLabels) -> Vec<(Label, Label)> {
        let singles = [
            (self.dynamic_trap, other.dynamic_trap),
            (self.stack_grant, other.stack_grant),
            (self.dirty_range, other.dirty_range),
        ];
        let traps = self.traps.iter().zip(&other.traps).map(|(a, b)| (a.1, b.1));
        let functions = self
            .functions
            .iter()
            .copied()
            .zip(other.functions.iter().copied());
        singles.into_iter().chain(traps).chain(functions).collect()
    }

    /// The stub of `kind`.
    pub fn trap(&self, kind: TrapKind) -> Label {
        self.traps[kind as usize - 1].1
    }
}

/// Whether the module driver runs wasmparser's validator over the module and every body.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) enum Validation<'u> {
    /// Validate everything (untrusted input): [`crate::compile`].
    Full,
    /// Only parse: the bytes were validated already ([`crate::compile_prevalidated`]),
    /// perhaps with the metering walk's local use counts
    /// ([`crate::PrevalidatedWasm::with_local_uses`]).
    Trusted(Option<&'u LocalUses>),
}

/// One function body to compile, with its validator when the compile validates and its
/// local use counts when the caller has them (else `regalloc` scans the body).
pub(crate) struct PendingBody<'a> {
    pub index: u32,
    pub body: FunctionBody<'a>,
    pub validate: Option<FuncToValidate<ValidatorResources>>,
    pub uses: Option<FunctionUses<'a>>,
}

/// What a thread compiling bodies reuses from one body to the next.
#[derive(Default)]
pub(crate) struct BodyState {
    buffers: func::FuncBuffers,
    allocations: FuncValidatorAllocations,
}

/// Compiles one body at `masm`'s current offset: its `(start, length)` in the code.
pub(crate) fn compile_body<M: MacroAssembler>(
    masm: &mut M,
    env: &ModuleEnv,
    labels: &ModuleLabels,
    pending: PendingBody<'_>,
    options: &crate::CompileOptions,
    state: &mut BodyState,
) -> Result<(u32, u32), CompileError> {
    let PendingBody {
        index,
        body,
        validate,
        uses,
    } = pending;
    masm.align_function();
    let start = masm.offset();
    masm.bind(labels.functions[index as usize]);
    masm.begin_function();
    let mut validator = validate.map(|v| v.into_validator(std::mem::take(&mut state.allocations)));
    let mut gen = FuncGen::new(masm, env, labels, index, options, &mut state.buffers);
    let compiled = gen.compile(&body, validator.as_mut(), uses, features());
    gen.into_buffers(&mut state.buffers);
    masm.end_function();
    if let Some(validator) = validator {
        state.allocations = validator.into_allocations();
    }
    compiled?;
    Ok((start, masm.offset() - start))
}

/// Compiles `wasm` with `masm`. See [`crate::compile`] and [`crate::compile_prevalidated`].
///
/// With `options.threads > 1` and enough code, the code section's bodies are gathered and
/// compiled in parts on that many threads (`parallel`), then linked in order: the same
/// bytes, and the same first error (the lowest function index's, and a structural error
/// only when no body before it fails), as compiling them one by one here.
pub(crate) fn compile_module<'a, M: MacroAssembler + Send>(
    wasm: &'a [u8],
    mut masm: M,
    target: Target,
    options: &crate::CompileOptions,
    validation: Validation<'a>,
) -> Result<BufferedArtifact, CompileError> {
    let features = features();
    let mut validator =
        (validation == Validation::Full).then(|| Validator::new_with_features(features));
    let uses = match validation {
        Validation::Trusted(uses) => uses,
        Validation::Full => None,
    };
    let mut parser = Parser::new(0);
    parser.set_features(features);
    let mut env = ModuleEnv::default();
    let mut labels = ModuleLabels::new(&mut masm);
    let mut functions: Vec<Option<(u32, u32)>> = Vec::new();
    let mut state = BodyState::default();
    // Without a validator, bodies are numbered here: defined functions follow the imports.
    let mut next_body = 0u32;
    // Bodies waiting to be compiled in parallel (always empty on one thread).
    let mut gathered: Vec<PendingBody<'_>> = Vec::new();
    let parallel = options.threads > 1;
    // Compiles the gathered bodies (there are none on one thread).
    macro_rules! flush {
        () => {
            parallel::compile_gathered(
                &mut masm,
                &env,
                &labels,
                &mut gathered,
                options,
                &mut state,
                &mut functions,
            )?
        };
    }
    for payload in parser.parse_all(wasm) {
        let step = next_step(payload, validator.as_mut(), &env, uses, &mut next_body);
        let pending = match step {
            Ok(Step::Body(pending)) => pending,
            Ok(Step::Section(payload)) => {
                flush!();
                env.section(&payload)?;
                continue;
            }
            Ok(Step::End) => break,
            Err(e) => {
                // Bodies before the structural error come first, as on one thread.
                flush!();
                return Err(e);
            }
        };
        ensure_function_labels(&mut masm, &env, &mut labels, &mut functions);
        if pending.index as usize >= functions.len() {
            // Only reachable without a validator, on bytes that were not valid after all.
            flush!();
            return Err(CompileError::Invalid {
                offset: pending.body.range().start,
                message: "more function bodies than functions".into(),
            });
        }
        if parallel {
            gathered.push(pending);
            continue;
        }
        let index = pending.index as usize;
        let placed = compile_body(&mut masm, &env, &labels, pending, options, &mut state)?;
        functions[index] = Some(placed);
    }
    flush!();
    ensure_function_labels(&mut masm, &env, &mut labels, &mut functions);
    if validator.is_none()
        && env.imported_functions as usize + next_body as usize != functions.len()
    {
        return Err(CompileError::Invalid {
            offset: wasm.len() as u64,
            message: "function and code section counts differ".into(),
        });
    }

    for index in 0..env.imported_functions {
        let start = masm.offset();
        masm.bind(labels.functions[index as usize]);
        emit_import_shim(&mut masm, &env, &labels, index);
        functions[index as usize] = Some((start, masm.offset() - start));
    }
    for &(kind, label) in &labels.traps {
        masm.emit_trap_stub(label, kind);
    }
    masm.emit_dynamic_trap_stub(labels.dynamic_trap);
    masm.emit_stack_grant_stub(labels.stack_grant, labels.trap(TrapKind::StackOverflow));
    masm.emit_dirty_range_stub(
        labels.dirty_range,
        labels.trap(TrapKind::MemoryOutOfBounds),
        labels.trap(TrapKind::OutOfGas),
    );
    let entry_trampoline = masm.emit_entry_trampoline();
    let code = masm.finish().map_err(CompileError::Limit)?;
    if code.len() > i32::MAX as usize {
        return Err(CompileError::Limit(format!(
            "generated code is {} bytes; the limit is 2 GiB",
            code.len()
        )));
    }

    let import_positions = function_import_positions(&env);
    let functions = env
        .func_types
        .iter()
        .enumerate()
        .map(|(index, &type_index)| {
            let (code_offset, code_len) = functions[index].unwrap_or((0, 0));
            let kind = if (index as u32) < env.imported_functions {
                match env.intrinsic(index as u32) {
                    Some(_) => FunctionKind::Intrinsic,
                    None => FunctionKind::Import {
                        import: import_positions[index],
                    },
                }
            } else {
                FunctionKind::Defined
            };
            CompiledFunction {
                type_index,
                type_id: env.type_ids[type_index as usize],
                code_offset,
                code_len,
                kind,
            }
        })
        .collect();
    let artifact = Artifact {
        format_version: ARTIFACT_FORMAT_VERSION,
        target,
        code: Vec::new(),
        entry_trampoline,
        types: env.types.clone(),
        functions,
        module: env.layout,
    };
    Ok(BufferedArtifact { artifact, code })
}

/// What one payload of the module asks the driver to do.
enum Step<'a> {
    /// Compile a function body.
    Body(PendingBody<'a>),
    /// Record a section (or ignore it).
    Section(Payload<'a>),
    /// The module is complete.
    End,
}

/// Parses (and, with a validator, validates) one payload; a body gets its local use
/// counts from `uses` (trusted compiles only).
fn next_step<'a>(
    payload: wasmparser::Result<Payload<'a>>,
    validator: Option<&mut Validator>,
    env: &ModuleEnv,
    uses: Option<&'a LocalUses>,
    next_body: &mut u32,
) -> Result<Step<'a>, CompileError> {
    let payload = payload.map_err(CompileError::invalid)?;
    Ok(match validator {
        Some(validator) => match validator.payload(&payload).map_err(CompileError::invalid)? {
            ValidPayload::Func(to_validate, body) => Step::Body(PendingBody {
                index: to_validate.index,
                body,
                validate: Some(to_validate),
                uses: None,
            }),
            ValidPayload::End(_) => Step::End,
            _ => Step::Section(payload),
        },
        None => match payload {
            Payload::CodeSectionEntry(body) => {
                let index = env.imported_functions + *next_body;
                let uses = uses.and_then(|u| u.function(*next_body as usize));
                *next_body += 1;
                Step::Body(PendingBody {
                    index,
                    body,
                    validate: None,
                    uses,
                })
            }
            Payload::End(_) => Step::End,
            _ => Step::Section(payload),
        },
    })
}

/// Creates one label per function once the function index space is known (at the first
/// body, or at the end for modules without code).
fn ensure_function_labels<M: MacroAssembler>(
    masm: &mut M,
    env: &ModuleEnv,
    labels: &mut ModuleLabels,
    functions: &mut Vec<Option<(u32, u32)>>,
) {
    while labels.functions.len() < env.func_types.len() {
        labels.functions.push(masm.new_label());
        functions.push(None);
    }
}

/// For each imported function, in function-index order, its position in
/// `ModuleLayout::imports` (imports of other kinds are interleaved with functions).
fn function_import_positions(env: &ModuleEnv) -> Vec<u32> {
    env.layout
        .imports
        .iter()
        .enumerate()
        .filter(|(_, import)| matches!(import.kind, ImportKind::Function { .. }))
        .map(|(position, _)| position as u32)
        .collect()
}

/// The code behind an imported function's entry: a wasm-convention function that hands
/// its argument area to the runtime (`Libcall::HostCall`), which writes the results back
/// in place. Intrinsics are always inlined at call sites, so their entry only traps.
fn emit_import_shim<M: MacroAssembler>(
    masm: &mut M,
    env: &ModuleEnv,
    labels: &ModuleLabels,
    index: u32,
) {
    if env.intrinsic(index).is_some() {
        masm.jump(labels.trap(TrapKind::Unreachable));
        return;
    }
    let patch = masm.prologue(0);
    masm.flush_gas();
    let args = crate::masm::LibcallArg::FrameAddress(masm.incoming_area_offset());
    let result = masm.call_libcall(
        Libcall::HostCall,
        &[crate::masm::LibcallArg::Imm(index as i64), args],
    );
    masm.reload_gas();
    masm.trap_if_nonzero(result, labels.dynamic_trap);
    // The runtime wrote the results in place; callers of a one-integer-result function
    // take it from the return register (as from a compiled body).
    let kinds = env
        .func_sig(index)
        .results
        .iter()
        .map(|&ty| FuncGen::<M>::artifact_kind(ty));
    if let Some(ret) = calls::return_register_for(&*masm, kinds) {
        let incoming = crate::masm::Operand::Frame(masm.incoming_area_offset());
        masm.mov(crate::masm::Size::S64, ret, incoming);
    }
    masm.epilogue(0);
    masm.patch_frame(patch, 0);
}
