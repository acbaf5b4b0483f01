//! One linear pass over a function body: validate every operator (wasmparser's
//! `FuncValidator`), enforce the per-function limits, and plan the instrumentation.
//!
//! The plan is a list of [`Edit`]s in source order; `inject` applies them while copying the
//! body's bytes. Keeping analysis and injection apart means each is simple and each is
//! linear: analysis never writes bytes, injection never looks at operators.
//!
//! # Basic blocks
//!
//! Gas is charged once per basic block, at its start, for every instruction in it. A new
//! block starts at function entry and right after each instruction that transfers or
//! merges control: `loop` (its header is a branch target, so every iteration pays), `if`,
//! `else`, the `end` of a `block`/`if` (a branch target), `br_if` and `br_table` (their
//! fall-through), `memory.grow` (since cost table version 6: the memory-size surcharge
//! of a block's loads and stores is priced at one size, see `access`), and
//! `br`/`return`/`unreachable` (the code after them is dead until the next `else`/`end`,
//! and dead code is never charged). The `end` of a `loop` is not a
//! branch target, so the block simply continues. `block` needs no split: entering it is
//! unconditional.
//!
//! Each instruction is charged in the block it belongs to, the control instruction that
//! ends a block included, so a run that returns normally pays exactly the sum of the
//! costs of the instructions it executed. A trapping run may have paid for the rest of the
//! trapping instruction's block; that is still deterministic.
//!
//! One exception moves a charge: a pure block at a loop header that ends in a `br_if`
//! pays on that branch's two edges instead (see `defer`).

use wasmparser::{
    BinaryReaderError, FrameKind, FuncToValidate, FuncValidatorAllocations, FunctionBody, Operator,
    ValType, ValidatorResources,
};

use crate::cost::{CostTable, DynamicCost, OpClass};
use crate::error::{Location, PrepareError};
use crate::features::{operator_mnemonic, val_type_feature};
use crate::fused::{Fused, Step, Stopped};
use crate::inject::ScratchReads;
use crate::limits::LimitKind;
use crate::profile::Profile;
use gasket_body_reader::{LocalUses, UseCounter, WalkReader};

/// One change to a function body, positioned at absolute byte offsets of the module.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Edit {
    /// Insert `i64.const cost; call $gas` before the byte at `at` (skipped when `cost` and
    /// `accesses` are 0); with the memory-size surcharge (`access`), `cost + accesses ×
    /// S(current pages)`. `accesses`: the block's loads and stores.
    Charge { at: usize, cost: u64, accesses: u32 },
    /// After the `memory.grow` ending at `at`: recompute the memory-size surcharge
    /// (nothing when the module has none, see `access`).
    AfterGrow { at: usize },
    /// Insert a charge of `per_unit` times the i32 on top of the stack before the operator
    /// at `at`, leaving that i32 in place.
    DynamicCharge {
        at: usize,
        kind: DynamicCost,
        per_unit: u64,
    },
    /// Replace the operator bytes `start..end` with `call new_index`.
    Call {
        start: usize,
        end: usize,
        new_index: u32,
    },
    /// Replace the operator bytes `start..end` with `ref.func new_index`.
    RefFunc {
        start: usize,
        end: usize,
        new_index: u32,
    },
    /// Replace the `br_if depth` at `start..end` with `if; i64.const cost; call $gas;
    /// br depth+1; end`: the taken edge pays the deferred charge of its block (see
    /// `defer`).
    BranchIfCharged {
        start: usize,
        end: usize,
        depth: u32,
        cost: u64,
    },
    /// Replace `return` at `start..end` with `br depth`: the wrapper block that releases
    /// the frame's stack height sits exactly `depth` labels out.
    ReturnAsBranch {
        start: usize,
        end: usize,
        depth: u32,
    },
}

/// The plan for one defined function.
#[derive(Clone, Debug)]
pub(crate) struct FunctionPlan {
    /// Type index of the function.
    pub type_index: u32,
    /// Declared local groups (parameters excluded), as in the original body.
    pub locals: Locals,
    /// Absolute offset of the first operator.
    pub ops_start: usize,
    /// Absolute offset one past the body's final `end`.
    pub body_end: usize,
    /// The edits, in source order.
    pub edits: Vec<Edit>,
    /// Index of the i32 scratch local dynamic charges need, if any.
    pub scratch_local: Option<u32>,
    /// Stack-height units one activation costs.
    pub frame_cost: u32,
    /// Only when [`FunctionContext::record_sites`]: per `Charge` or `BranchIfCharged`
    /// edit (in `edits` order), the gas of each cost class in its block, in order of
    /// first appearance.
    pub charge_classes: Vec<Vec<(OpClass, u64)>>,
}

/// A body's declared local groups, as `inject` writes them back (minimal LEB128 counts,
/// one-byte types).
#[derive(Clone, Debug)]
pub(crate) enum Locals {
    /// `groups` groups whose bytes, from `start` to the first operator, are already
    /// written that way (the usual case): copied as they are, nothing kept per function.
    Verbatim { start: usize, groups: u32 },
    /// Groups the input spells otherwise (padded LEB128, long type forms): re-encoded.
    Decoded(Vec<(u32, ValType)>),
}

impl Locals {
    /// How many groups the body declares.
    pub(crate) fn groups(&self) -> u32 {
        match self {
            Locals::Verbatim { groups, .. } => *groups,
            Locals::Decoded(groups) => groups.len() as u32,
        }
    }
}

/// What `analyze_function` needs to know about the module.
pub(crate) struct FunctionContext<'p> {
    pub profile: &'p Profile,
    /// Function index in the original module.
    pub function_index: u32,
    pub type_index: u32,
    /// Number of parameters of the function's type.
    pub params: u32,
    /// Function imports of the original module: defined functions shift past them.
    pub imported_functions: u32,
    /// Whether to record each charge's split by cost class (gas reports only: it
    /// allocates per block, which plain preparation has no use for).
    pub record_sites: bool,
    /// How often each dynamic charge uses the scratch local (for the local use counts).
    pub scratch_reads: ScratchReads,
}

/// Kinds of open control frames; only what block splitting and `return` need.
#[derive(Copy, Clone, PartialEq, Eq)]
pub(crate) enum Frame {
    Block,
    Loop,
    If,
}

/// Working buffers of [`analyze_function`], kept by the walk between functions: a plan's
/// edits are collected here and copied out at their exact size, so a module of many small
/// functions neither regrows a vector per function nor keeps the slack of one per plan.
/// The operator reader's frame stack is kept for the same reason.
#[derive(Default)]
pub(crate) struct Scratch {
    edits: Vec<Edit>,
    locals: Vec<(u32, ValType)>,
    frames: Vec<Frame>,
    operators: Vec<FrameKind>,
    exits: crate::defer::ExitTracker,
    uses: UseCounter,
}

/// Validates and plans one function body, and appends its local use counts to `uses`
/// (see `gasket_body_reader::uses`). Returns the validator's allocations for reuse by
/// the next function (on error they are dropped: errors end the function, and `uses`
/// is left as it was).
pub(crate) fn analyze_function(
    ctx: &FunctionContext<'_>,
    func: FuncToValidate<ValidatorResources>,
    body: &FunctionBody<'_>,
    allocations: FuncValidatorAllocations,
    scratch: &mut Scratch,
    uses: &mut LocalUses,
) -> Result<(FunctionPlan, FuncValidatorAllocations), PrepareError> {
    let profile = ctx.profile;
    let limits = &profile.limits;
    let function = ctx.function_index;
    let range = body.range();
    let body_start = range.start as usize;
    let body_end = range.end as usize;
    let function_location = Location::Function {
        function,
        offset: body_start as u64,
    };

    let body_len = (body_end - body_start) as u64;
    if body_len > u64::from(limits.max_body_bytes) {
        return Err(PrepareError::LimitExceeded {
            limit: LimitKind::BodyBytes,
            value: body_len,
            max: limits.max_body_bytes.into(),
            at: function_location,
        });
    }

    let mut validator = func.into_validator(allocations);
    let invalid = |err: BinaryReaderError| PrepareError::InvalidFunction {
        at: Location::Function {
            function,
            offset: err.offset(),
        },
        message: err.message().to_string(),
    };

    // Locals.
    let mut locals_reader = body.get_locals_reader().map_err(invalid)?;
    let groups_start = locals_reader.original_position() as usize;
    let locals = &mut scratch.locals;
    locals.clear();
    // The bytes the groups take when written as `inject` writes them.
    let mut minimal_len = 0;
    let mut total_locals = u64::from(ctx.params);
    for _ in 0..locals_reader.get_count() {
        let offset = locals_reader.original_position();
        let (count, ty) = locals_reader.read().map_err(invalid)?;
        total_locals += u64::from(count);
        if total_locals > u64::from(limits.max_locals) {
            return Err(PrepareError::LimitExceeded {
                limit: LimitKind::Locals,
                value: total_locals,
                max: limits.max_locals.into(),
                at: Location::Function { function, offset },
            });
        }
        if let Some(feature) = val_type_feature(ty).filter(|f| !feature_allowed(profile, *f)) {
            return Err(PrepareError::FeatureNotAllowed {
                feature,
                at: Location::Function { function, offset },
            });
        }
        validator
            .define_locals(offset, count, ty)
            .map_err(invalid)?;
        locals.push((count, ty));
        minimal_len += crate::leb128::len(count.into()) + 1;
    }
    // Each encoding is at least as long as its minimal form, so the same total length
    // means every one is minimal: the bytes are what re-encoding would write.
    let groups_end = locals_reader.original_position() as usize;
    let locals = if groups_end - groups_start == minimal_len {
        Locals::Verbatim {
            start: groups_start,
            groups: locals.len() as u32,
        }
    } else {
        Locals::Decoded(locals.clone())
    };

    let mut ops = WalkReader::new(locals_reader.get_binary_reader(), &mut scratch.operators);
    let ops_start = ops.original_position() as usize;
    let costs: &CostTable = &profile.costs;

    let Scratch {
        edits,
        frames,
        exits,
        uses: counter,
        ..
    } = scratch;
    edits.clear();
    frames.clear();
    exits.clear();
    // The scratch local, if dynamic charges need it, comes after every declared local.
    counter.start(total_locals as usize + 1);
    // The entry block runs once per call: it also pays for zeroing the declared locals.
    let declared_locals = total_locals - u64::from(ctx.params);
    let entry_cost = costs.entry_cost(declared_locals);
    edits.push(Edit::Charge {
        at: ops_start,
        cost: entry_cost,
        accesses: 0,
    });
    // With `record_sites`, one class split per `Charge` pushed, the last one current.
    let mut classes: Vec<Vec<(OpClass, u64)>> = Vec::new();
    if ctx.record_sites {
        let mut entry = Vec::new();
        add_class(&mut entry, OpClass::LocalInit, declared_locals, costs);
        classes.push(entry);
    }
    let mut fused = Fused {
        validator,
        ctx,
        costs,
        record_sites: ctx.record_sites,
        start: ops_start,
        edits,
        frames,
        classes,
        block: Some(0),
        cost: entry_cost,
        accesses: 0,
        max_operand_height: 0,
        defer: None,
        exits,
        ended: None,
        needs_scratch: false,
        uses: counter,
        scratch_local: total_locals as u32,
        float_result: false,
        error: None,
    };

    while !ops.eof() {
        let start = ops.original_position() as usize;
        fused.start = start;
        let step = match ops.visit_operator(&mut fused).map_err(invalid)? {
            Ok(step) => step,
            Err(Stopped) => {
                return Err(fused
                    .error
                    .take()
                    .unwrap_or_else(|| PrepareError::InvalidModule {
                        offset: start as u64,
                        message: "the operator walk stopped without a reason (a bug)".into(),
                    }))
            }
        };
        // Most operators: no edit, no block boundary, and no frame closed (`ended` is
        // only set with `Step::NewBlock`), so nothing below applies.
        if let Step::Continue = step {
            continue;
        }
        let end = ops.original_position() as usize;
        // A new block's charge at `end`, pushed next (its cost and accesses accumulate).
        let new_block = |fused: &mut Fused<'_, '_, '_>| {
            fused.open_block(0);
            if ctx.record_sites {
                fused.classes.push(Vec::new());
            }
            Some(Edit::Charge {
                at: end,
                cost: 0,
                accesses: 0,
            })
        };
        let edit = match step {
            // Taken by the `continue` above; kept for an exhaustive match.
            Step::Continue => None,
            Step::NewBlock => new_block(&mut fused),
            Step::DeferredBrIf { depth } => {
                // The header block's charge moves onto both edges (see `defer`).
                fused.close_block();
                let cost = match fused.block.and_then(|i| fused.edits.get_mut(i)) {
                    Some(Edit::Charge { cost, .. }) => std::mem::take(cost),
                    _ => 0,
                };
                let edge = (cost != 0).then_some(fused.edits.len());
                if cost != 0 {
                    fused.edits.push(Edit::BranchIfCharged {
                        start,
                        end,
                        depth,
                        cost,
                    });
                }
                // The edge and the fall-through both pay the header's classes (its own
                // charge, now 0, drops its split below).
                let header = fused.classes.last().cloned().unwrap_or_default();
                fused.exits.deferred(depth, cost, edge, &header);
                if ctx.record_sites {
                    if cost != 0 {
                        fused.classes.push(header.clone());
                    }
                    fused.classes.push(header);
                }
                // Not `open_block`: the header's charge is already closed (and now 0).
                fused.block = Some(fused.edits.len());
                fused.cost = cost;
                fused.accesses = 0;
                // A deferred header is pure: it has no memory accesses to surcharge.
                Some(Edit::Charge {
                    at: end,
                    cost,
                    accesses: 0,
                })
            }
            Step::Dead => {
                fused.close_block();
                fused.block = None;
                None
            }
            Step::Return { depth } => {
                fused.close_block();
                fused.block = None;
                Some(Edit::ReturnAsBranch { start, end, depth })
            }
            Step::Call { new_index } => Some(Edit::Call {
                start,
                end,
                new_index,
            }),
            // `memory.grow` ends its block (cost table version 6): every access of a
            // block then runs at one memory size, the one its charge saw, and the
            // memory-size surcharge is recomputed before the next block's charge.
            Step::Grown if fused.block.is_some() => {
                fused.edits.push(Edit::AfterGrow { at: end });
                new_block(&mut fused)
            }
            Step::Grown => None,
            Step::RefFunc { new_index } => Some(Edit::RefFunc {
                start,
                end,
                new_index,
            }),
        };
        if let Some(edit) = edit {
            fused.edits.push(edit);
        }
        // Checked before taking: `take` would move the whole `Exits` out per operator.
        if fused.ended.is_some() {
            if let Some(crate::defer::Exits::Deferred { cost, edits, split }) = fused.ended.take() {
                fold_exits(&mut fused, cost, &edits, &split);
            }
        }
    }
    ops.finish().map_err(invalid)?;
    fused.close_block();

    let Fused {
        validator,
        edits,
        classes,
        max_operand_height,
        needs_scratch,
        uses: counter,
        ..
    } = fused;
    let scratch_local = needs_scratch.then_some(total_locals as u32);
    let frame_cost =
        u64::from(max_operand_height) + total_locals + u64::from(profile.stack.frame_overhead);
    if frame_cost > u64::from(profile.stack.max_height) {
        return Err(PrepareError::LimitExceeded {
            limit: LimitKind::FrameSize,
            value: frame_cost,
            max: profile.stack.max_height.into(),
            at: function_location,
        });
    }
    // Zero-cost charges are never written; their splits (all zero) go with them.
    let charge_classes = edits
        .iter()
        .filter_map(|edit| match edit {
            Edit::Charge { cost, accesses, .. } => Some(*cost != 0 || *accesses != 0),
            Edit::BranchIfCharged { cost, .. } => Some(*cost != 0),
            _ => None,
        })
        .zip(classes)
        .filter(|(written, _)| *written)
        .map(|(_, split)| split)
        .collect();
    edits.retain(|edit| {
        !matches!(
            edit,
            Edit::Charge {
                cost: 0,
                accesses: 0,
                ..
            }
        )
    });

    let plan = FunctionPlan {
        type_index: ctx.type_index,
        locals,
        ops_start,
        body_end,
        edits: edits.as_slice().to_vec(),
        scratch_local,
        frame_cost: frame_cost as u32,
        charge_classes,
    };
    counter.finish(uses);
    Ok((plan, validator.into_allocations()))
}

/// A block's `end` reached only by deferred `br_if`s charging `cost` (see
/// `defer::Exits`): they stay plain `br_if`s (each edge edit becomes a zero charge, which
/// is dropped with its split) and the block just started after the `end` pays `cost`.
fn fold_exits(fused: &mut Fused<'_, '_, '_>, cost: u64, edges: &[usize], split: &[(OpClass, u64)]) {
    for &index in edges {
        if let Some(Edit::BranchIfCharged { start, .. }) = fused.edits.get(index) {
            let at = *start;
            fused.edits[index] = Edit::Charge {
                at,
                cost: 0,
                accesses: 0,
            };
        }
    }
    // The block just started accumulates its cost in `fused` (see `Fused::close_block`).
    if fused.block.is_some() {
        fused.cost = fused.cost.saturating_add(cost);
    }
    if fused.ctx.record_sites {
        if let Some(last) = fused.classes.last_mut() {
            for &(class, gas) in split {
                match last.iter_mut().find(|(c, _)| *c == class) {
                    Some((_, total)) => *total = total.saturating_add(gas),
                    None => last.push((class, gas)),
                }
            }
        }
    }
}

/// Adds `units` of `class` (one operator, or a per-unit charge's count) to a block's
/// split, kept in order of first appearance so a block cut short by running out of gas
/// can be charged class by class in order.
pub(crate) fn add_class(
    split: &mut Vec<(OpClass, u64)>,
    class: OpClass,
    units: u64,
    costs: &CostTable,
) {
    let gas = costs.cost(class).saturating_mul(units);
    if gas == 0 {
        return;
    }
    match split.iter_mut().find(|(c, _)| *c == class) {
        Some((_, total)) => *total = total.saturating_add(gas),
        None => split.push((class, gas)),
    }
}

/// Defined functions move up past the injected imports.
pub(crate) fn shifted(function_index: u32) -> u32 {
    function_index + crate::summary::Intrinsics::COUNT
}

pub(crate) fn push_frame(
    frames: &mut Vec<Frame>,
    frame: Frame,
    ctx: &FunctionContext<'_>,
    offset: usize,
    op: &Operator<'_>,
) -> Result<(), PrepareError> {
    frames.push(frame);
    let max = ctx.profile.limits.max_nesting_depth;
    if frames.len() as u64 > u64::from(max) {
        return Err(PrepareError::LimitExceeded {
            limit: LimitKind::NestingDepth,
            value: frames.len() as u64,
            max: max.into(),
            at: Location::Operator {
                function: ctx.function_index,
                offset: offset as u64,
                operator: operator_mnemonic(op),
            },
        });
    }
    Ok(())
}

pub(crate) fn feature_allowed(profile: &Profile, feature: crate::features::Feature) -> bool {
    feature == crate::features::Feature::Floats && profile.allows_floats()
}
