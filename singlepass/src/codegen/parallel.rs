//! Parallel compilation of a module's function bodies (`CompileOptions::threads`).
//!
//! The driver gathers the code section's bodies; they are cut into contiguous parts of
//! about equal size (a few per thread, so a slow part does not leave threads idle), each
//! compiled by a worker into an assembler of its own with its own copies of the module's
//! labels (trap stubs, functions). The calling thread links the parts in order as they
//! arrive: it appends each part's code, binds the functions it defines, and takes over
//! its references to module-level labels, which the module's stubs resolve at the end as
//! on one thread. A function's code does not depend on where it lies (every reference is
//! relative, and placement padding depends on offsets inside the function only), and
//! each part is appended at the ISA's function alignment, where its first function
//! would start on one thread, so the bytes are the same whatever the thread count.
//!
//! Errors: each part stops at its first failing body, and parts after a failed one are
//! skipped, so the error returned is the lowest failing function's, as on one thread.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Mutex};

use super::{compile_body, BodyState, ModuleLabels, PendingBody};
use crate::masm::MacroAssembler;
use crate::module::ModuleEnv;
use crate::CompileError;

/// Below this many bytes of bodies a compile stays on the calling thread: starting
/// threads would cost more than they save.
const MIN_PARALLEL_BYTES: usize = 64 * 1024;

/// Parts per thread.
const PARTS_PER_THREAD: usize = 4;

/// A compiled part: its assembler, its copies of the module labels, and the functions it
/// defines with their `(start, length)` in its code.
struct Part<M> {
    masm: M,
    labels: ModuleLabels,
    placed: Vec<(u32, u32, u32)>,
}

/// What a worker reports for one part: `None` when it skipped the part (a part before it
/// failed).
type Outcome<M> = Option<Result<Part<M>, CompileError>>;

/// Compiles the bodies in `gathered` (emptying it) and appends their code to `masm`,
/// recording each function's place in `functions`. One thread when there are few bytes
/// of code or `options.threads` is 1.
pub(super) fn compile_gathered<M: MacroAssembler + Send>(
    masm: &mut M,
    env: &ModuleEnv,
    labels: &ModuleLabels,
    gathered: &mut Vec<PendingBody<'_>>,
    options: &crate::CompileOptions,
    state: &mut BodyState,
    functions: &mut [Option<(u32, u32)>],
) -> Result<(), CompileError> {
    if gathered.is_empty() {
        return Ok(());
    }
    let bodies = std::mem::take(gathered);
    let bytes: usize = bodies.iter().map(body_len).sum();
    let threads = options.threads.min(bodies.len());
    if threads <= 1 || bytes < MIN_PARALLEL_BYTES {
        for pending in bodies {
            let index = pending.index as usize;
            functions[index] = Some(compile_body(masm, env, labels, pending, options, state)?);
        }
        return Ok(());
    }
    let parts = split(bodies, bytes, threads * PARTS_PER_THREAD);
    let count = parts.len();
    let queue = Mutex::new(parts.into_iter().enumerate());
    // The lowest part that failed: parts after it are not compiled.
    let failed = AtomicUsize::new(usize::MAX);
    let (sender, results) = mpsc::channel();
    std::thread::scope(|scope| {
        let work = |sender: mpsc::Sender<(usize, Outcome<M>)>| {
            let mut state = BodyState::default();
            loop {
                // A poisoned queue only means another worker panicked, which the scope
                // reports anyway.
                let next = queue.lock().unwrap_or_else(|e| e.into_inner()).next();
                let Some((i, bodies)) = next else { break };
                let outcome = (i <= failed.load(Ordering::Acquire)).then(|| {
                    let part = compile_part::<M>(env, bodies, options, &mut state);
                    if part.is_err() {
                        failed.fetch_min(i, Ordering::AcqRel);
                    }
                    part
                });
                if sender.send((i, outcome)).is_err() {
                    break;
                }
            }
        };
        let mut started = 0;
        for _ in 0..threads {
            let sender = sender.clone();
            let spawned = std::thread::Builder::new()
                .name("gasket-compile".into())
                .spawn_scoped(scope, move || work(sender));
            match spawned {
                Ok(_) => started += 1,
                // The system refuses more threads: those started do the work.
                Err(_) => break,
            }
        }
        if started == 0 {
            // Not even one: every part is compiled here, then linked below.
            work(sender.clone());
        }
        drop(sender);
        // Link in order as parts arrive; a part is dropped (its code buffer unmapped) as
        // soon as it is appended.
        let mut arrived: Vec<Option<Outcome<M>>> = (0..count).map(|_| None).collect();
        let mut next = 0;
        let mut outcome = Ok(());
        for (i, part) in results {
            arrived[i] = Some(part);
            while let Some(part) = arrived.get_mut(next).and_then(Option::take) {
                next += 1;
                match part {
                    Some(Ok(part)) if outcome.is_ok() => {
                        outcome = link(masm, labels, part, functions);
                    }
                    Some(Err(e)) if outcome.is_ok() => outcome = Err(e),
                    // Skipped or after an error: nothing to link.
                    _ => {}
                }
            }
        }
        outcome
    })
}

/// `bodies` cut into at most `parts` contiguous runs of about `bytes / parts` bytes each.
fn split<'a>(
    bodies: Vec<PendingBody<'a>>,
    bytes: usize,
    parts: usize,
) -> Vec<Vec<PendingBody<'a>>> {
    let target = bytes.div_ceil(parts.max(1)).max(1);
    let mut out = Vec::with_capacity(parts);
    let mut current = Vec::new();
    let mut size = 0;
    for body in bodies {
        size += body_len(&body);
        current.push(body);
        if size >= target {
            out.push(std::mem::take(&mut current));
            size = 0;
        }
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

/// Bytes of one body.
fn body_len(pending: &PendingBody<'_>) -> usize {
    let range = pending.body.range();
    range.end.saturating_sub(range.start) as usize
}

/// Compiles one part into an assembler of its own.
fn compile_part<M: MacroAssembler>(
    env: &ModuleEnv,
    bodies: Vec<PendingBody<'_>>,
    options: &crate::CompileOptions,
    state: &mut BodyState,
) -> Result<Part<M>, CompileError> {
    let bytes: usize = bodies.iter().map(body_len).sum();
    // As for a whole module (see `compile_module_for`): address space, not memory.
    let mut masm = M::new_part(bytes.saturating_mul(4));
    let mut labels = ModuleLabels::new(&mut masm);
    labels.functions = (0..env.func_types.len())
        .map(|_| masm.new_label())
        .collect();
    let mut placed = Vec::with_capacity(bodies.len());
    for pending in bodies {
        let index = pending.index;
        let (start, len) = compile_body(&mut masm, env, &labels, pending, options, state)?;
        placed.push((index, start, len));
    }
    Ok(Part {
        masm,
        labels,
        placed,
    })
}

/// Appends a compiled part to `masm`.
fn link<M: MacroAssembler>(
    masm: &mut M,
    labels: &ModuleLabels,
    part: Part<M>,
    functions: &mut [Option<(u32, u32)>],
) -> Result<(), CompileError> {
    // The part was compiled from offset 0 (aligned), so it is appended where its first
    // function would start on one thread.
    masm.align_function();
    let base = masm.offset();
    let pairs = part.labels.pairs_with(labels);
    masm.append(part.masm, &pairs)
        .map_err(CompileError::Limit)?;
    for (index, start, len) in part.placed {
        let start = base.checked_add(start).ok_or_else(|| {
            CompileError::Limit("generated code is larger than 4 GiB".to_string())
        })?;
        functions[index as usize] = Some((start, len));
    }
    Ok(())
}
