//! The per-operator half of `analysis`: one [`VisitOperator`] that validates an operator
//! and plans its instrumentation in a single dispatch.
//!
//! Reading `Operator` values and handing each to `FuncValidator::op` decodes every
//! operator into an enum, dispatches on it again inside the validator and drops it
//! afterwards: about a third of the metering pass on large modules. Here wasmparser's
//! decoder calls one method per operator (`visit_i32_add`, ...), which forwards its
//! immediates straight to the validator's visitor and then builds the `Operator` on the
//! stack only for the cost table and the block rules, which take `&Operator` (the block
//! rules inline into each method and fold to its variant; `cost::classify` stays a call).
//! The plan is the same edit for edit (the compile pins check the output bytes).

use std::mem::ManuallyDrop;

use wasmparser::{
    for_each_visit_operator, for_each_visit_simd_operator, FuncValidator, Operator,
    ValidatorResources, VisitOperator, VisitSimdOperator,
};

use gasket_body_reader::uses::{is_float_result, needs_scan};
use gasket_body_reader::{release, UseCounter};

use crate::analysis::{push_frame, shifted, Edit, Frame, FunctionContext};
use crate::cost::{classify, classify_inline, dynamic_cost, static_units, CostTable, OpClass};
use crate::error::{Location, PrepareError};
use crate::features::{operator_feature, operator_mnemonic};
use crate::limits::LimitKind;

/// What the walk does once it knows where the operator ends (edits that replace the
/// operator's bytes, and block starts, are positioned at its end).
#[derive(Copy, Clone)]
pub(crate) enum Step {
    /// Nothing more.
    Continue,
    /// A new live block starts after the operator.
    NewBlock,
    /// Dead code follows until the next `else`/`end`.
    Dead,
    /// `return` becomes `br depth` (to the wrapper block); dead code follows.
    Return { depth: u32 },
    /// `call` of a defined function, renumbered.
    Call { new_index: u32 },
    /// `ref.func` of a defined function, renumbered.
    RefFunc { new_index: u32 },
    /// `memory.grow`: the memory-size surcharge is recomputed after it (`access`).
    Grown,
    /// A `br_if` (to `depth`) ending a pure block that began at a loop header: the
    /// block's charge moves onto its two edges (see `defer`); a new block follows.
    DeferredBrIf { depth: u32 },
}

/// The state one function body's walk threads through the visitor.
pub(crate) struct Fused<'s, 'c, 'p> {
    pub validator: FuncValidator<ValidatorResources>,
    pub ctx: &'c FunctionContext<'p>,
    pub costs: &'p CostTable,
    /// `ctx.record_sites`, read per operator: a field of its own saves loading `ctx`.
    pub record_sites: bool,
    /// Absolute offset of the operator being visited.
    pub start: usize,
    pub edits: &'s mut Vec<Edit>,
    pub frames: &'s mut Vec<Frame>,
    /// With `record_sites`, one class split per `Charge` or `BranchIfCharged` pushed,
    /// the last one current.
    pub classes: Vec<Vec<(OpClass, u64)>>,
    /// Index into `edits` of the current block's charge; `None` while in dead code.
    /// The charge's cost and accesses accumulate in [`Fused::cost`] and
    /// [`Fused::accesses`] and are written into it when the block ends
    /// ([`Fused::close_block`]): one add per operator, not a lookup of the edit.
    pub block: Option<usize>,
    /// The current block's cost so far (meaningful while `block` is `Some`).
    pub cost: u64,
    /// The current block's loads and stores so far (the memory-size surcharge's count).
    pub accesses: u32,
    pub max_operand_height: u32,
    /// While the current block began at a `loop` header and holds only pure operators
    /// (see `defer`): the operand stack height at the header.
    pub defer: Option<u32>,
    /// How each open frame's `end` is reached (see `defer::ExitTracker`).
    pub exits: &'s mut crate::defer::ExitTracker,
    /// Set by an `end` that closes a frame: how its end was reached, for the block after.
    pub ended: Option<crate::defer::Exits>,
    pub needs_scratch: bool,
    /// The function's local uses, counted for code generation (see
    /// `gasket_body_reader::uses`).
    pub uses: &'s mut UseCounter,
    /// The index the scratch local of dynamic charges gets (after every declared local).
    pub scratch_local: u32,
    /// Whether the operator just visited leaves a float operator's result
    /// (`uses::is_float_result`): a `local.set` of it does not mark the local `copied`.
    pub float_result: bool,
    /// Why the walk stopped, when a visit returned [`Stopped`] (kept here so the value
    /// every visit returns stays a few bytes).
    pub error: Option<PrepareError>,
}

/// A visit found a problem: it is in [`Fused::error`].
pub(crate) struct Stopped;

impl Fused<'_, '_, '_> {
    /// Turns the validator's verdict on `op` into the pass's error, then plans `op`.
    #[inline(always)]
    fn after(
        &mut self,
        validated: wasmparser::Result<()>,
        op: &Operator<'_>,
    ) -> Result<Step, Stopped> {
        if let Err(err) = validated {
            return Err(self.stop(self.rejected(op, err)));
        }
        self.max_operand_height = self
            .max_operand_height
            .max(self.validator.operand_stack_height());
        self.plan(op).map_err(|e| self.stop(e))
    }

    #[cold]
    #[inline(never)]
    fn stop(&mut self, error: PrepareError) -> Stopped {
        self.error = Some(error);
        Stopped
    }

    /// An operator the validator refused: a feature the profile forbids, else invalid.
    #[cold]
    #[inline(never)]
    fn rejected(&self, op: &Operator<'_>, err: wasmparser::BinaryReaderError) -> PrepareError {
        let at = Location::Operator {
            function: self.ctx.function_index,
            offset: self.start as u64,
            operator: operator_mnemonic(op),
        };
        match operator_feature(op)
            .filter(|f| !crate::analysis::feature_allowed(self.ctx.profile, *f))
        {
            Some(feature) => PrepareError::FeatureNotAllowed { feature, at },
            None => PrepareError::InvalidFunction {
                at,
                message: err.message().to_string(),
            },
        }
    }

    /// Charges `op` to the current block and decides what follows it (see `analysis`).
    #[inline(always)]
    fn plan(&mut self, op: &Operator<'_>) -> Result<Step, PrepareError> {
        let start = self.start;
        let ctx = self.ctx;
        if self.block.is_some() {
            let class = classify_inline(op);
            self.cost = self
                .cost
                .saturating_add(self.costs.classified_operator_cost(op, class));
            self.accesses = self
                .accesses
                .saturating_add(u32::from(crate::access::is_memory_access(class)));
            if self.record_sites {
                self.record_classes(op);
            }
            if let Some(dynamic) = dynamic_cost(op) {
                self.edits.push(Edit::DynamicCharge {
                    at: start,
                    kind: dynamic,
                    per_unit: self.costs.per_unit(dynamic),
                });
                self.needs_scratch = true;
                // The charge's reads of the scratch local (always an i32 on the stack
                // before them: never a float result, so `copied`).
                let reads = ctx.scratch_reads.of(dynamic);
                self.uses.add(self.scratch_local, reads, true);
            }
        }
        // What code generation's register allocation counts (see `uses`). The
        // instrumented body has the same loops, and its added calls are intrinsics.
        match op {
            Operator::LocalGet { local_index } => self.uses.add(*local_index, 1, false),
            Operator::LocalSet { local_index } | Operator::LocalTee { local_index } => {
                self.uses.add(*local_index, 1, !self.float_result)
            }
            Operator::Call { .. } | Operator::CallIndirect { .. } => self.uses.call(),
            _ if needs_scan(op) => self.uses.give_up(),
            _ => {}
        }
        self.float_result = is_float_result(op);
        if self.defer.is_some()
            && !matches!(op, Operator::Loop { .. } | Operator::BrIf { .. })
            && !crate::defer::is_pure(op)
        {
            self.defer = None;
        }
        Ok(match op {
            Operator::Block { .. } => {
                push_frame(self.frames, Frame::Block, ctx, start, op)?;
                self.exits.open(true);
                Step::Continue
            }
            Operator::Loop { .. } => {
                push_frame(self.frames, Frame::Loop, ctx, start, op)?;
                self.uses.enter_loop();
                self.exits.open(false);
                self.defer = Some(self.validator.operand_stack_height());
                Step::NewBlock
            }
            Operator::If { .. } => {
                push_frame(self.frames, Frame::If, ctx, start, op)?;
                self.exits.open(false);
                Step::NewBlock
            }
            Operator::Else => Step::NewBlock,
            Operator::End => match self.frames.pop() {
                // A loop's `end` is no branch target: the block (or dead code) continues.
                Some(Frame::Loop) => {
                    self.exits.close(false);
                    self.uses.leave_loop();
                    Step::Continue
                }
                Some(_) => {
                    self.ended = Some(self.exits.close(self.block.is_some()));
                    Step::NewBlock
                }
                None => Step::Continue, // the function's final `end`
            },
            Operator::BrIf { relative_depth } => match self.defer {
                Some(height) if self.deferrable_exit(*relative_depth, height) => {
                    Step::DeferredBrIf {
                        depth: *relative_depth,
                    }
                }
                _ => {
                    self.defer = None;
                    self.exits.branch(*relative_depth);
                    Step::NewBlock
                }
            },
            Operator::BrTable { targets } => {
                let count = targets.len();
                for depth in targets.targets().flatten() {
                    self.exits.branch(depth);
                }
                self.exits.branch(targets.default());
                let max = ctx.profile.limits.max_br_table_targets;
                if count > max {
                    return Err(PrepareError::LimitExceeded {
                        limit: LimitKind::BrTableTargets,
                        value: count.into(),
                        max: max.into(),
                        at: Location::Operator {
                            function: ctx.function_index,
                            offset: start as u64,
                            operator: operator_mnemonic(op),
                        },
                    });
                }
                Step::Dead
            }
            Operator::Br { relative_depth } => {
                self.exits.branch(*relative_depth);
                Step::Dead
            }
            Operator::Unreachable => Step::Dead,
            Operator::Return => Step::Return {
                depth: self.frames.len() as u32,
            },
            Operator::Call { function_index } if *function_index >= ctx.imported_functions => {
                Step::Call {
                    new_index: shifted(*function_index),
                }
            }
            Operator::RefFunc { function_index } if *function_index >= ctx.imported_functions => {
                Step::RefFunc {
                    new_index: shifted(*function_index),
                }
            }
            Operator::MemoryGrow { .. } => Step::Grown,
            _ => Step::Continue,
        })
    }

    /// Writes the current block's cost and accesses into its charge edit; the walk
    /// calls it before the block ends or its charge is read.
    #[inline(always)]
    pub(crate) fn close_block(&mut self) {
        if let Some(Edit::Charge { cost, accesses, .. }) =
            self.block.and_then(|index| self.edits.get_mut(index))
        {
            *cost = self.cost;
            *accesses = self.accesses;
        }
    }

    /// Starts a block whose charge is the edit about to be pushed at `edits.len()`, with
    /// `cost` already in it (and no accesses).
    #[inline(always)]
    pub(crate) fn open_block(&mut self, cost: u64) {
        self.close_block();
        self.block = Some(self.edits.len());
        self.cost = cost;
        self.accesses = 0;
    }

    /// Whether a `br_if` to `depth` in a pure header block may carry its charge (see
    /// `defer`): the operand stack is as the header left it (`height`) and the target
    /// takes no values and is no loop.
    fn deferrable_exit(&self, depth: u32, height: u32) -> bool {
        self.validator.operand_stack_height() == height
            && self
                .validator
                .get_control_frame(depth as usize)
                .is_some_and(|f| crate::defer::exit_without_values(f.kind, f.block_type))
    }

    /// Gas reports only: adds `op`'s gas to the current block's split by class.
    #[inline(never)]
    fn record_classes(&mut self, op: &Operator<'_>) {
        let costs = self.costs;
        if let Some(split) = self.classes.last_mut() {
            crate::analysis::add_class(split, classify(op), 1, costs);
            if let Some((class, units)) = static_units(op) {
                crate::analysis::add_class(split, class, units, costs);
            }
        }
    }
}

/// One visitor method per operator: validate with the immediates, then plan.
macro_rules! define_fused {
    ($(@$proposal:ident $op:ident $({ $($arg:ident: $argty:ty),* })? => $visit:ident ($($ann:tt)*))*) => {
        $(
            #[allow(clippy::redundant_clone)]
            fn $visit(&mut self $($(,$arg: $argty)*)?) -> Self::Output {
                let validated = define_fused!(@validate self $visit $($($arg)*)?);
                let op = ManuallyDrop::new(Operator::$op $({ $($arg),* })?);
                let step = self.after(validated, &op);
                release(op);
                step
            }
        )*
    };
    (@validate $self:ident $visit:ident $($arg:ident)*) => {
        $self
            .validator
            .visitor($self.start as u64)
            .$visit($($arg.clone()),*)
    };
}

/// The same for the SIMD operators, which the decoder reaches through `simd_visitor`
/// (the profile never allows them: the validator rejects each, as with `Operator`s).
macro_rules! define_fused_simd {
    ($(@$proposal:ident $op:ident $({ $($arg:ident: $argty:ty),* })? => $visit:ident ($($ann:tt)*))*) => {
        $(
            #[allow(clippy::redundant_clone)]
            fn $visit(&mut self $($(,$arg: $argty)*)?) -> Self::Output {
                let validated = self
                    .validator
                    .simd_visitor(self.start as u64)
                    .$visit($($($arg.clone()),*)?);
                let op = ManuallyDrop::new(Operator::$op $({ $($arg),* })?);
                let step = self.after(validated, &op);
                release(op);
                step
            }
        )*
    };
}

impl<'a> VisitOperator<'a> for Fused<'_, '_, '_> {
    type Output = Result<Step, Stopped>;

    fn simd_visitor(&mut self) -> Option<&mut dyn VisitSimdOperator<'a, Output = Self::Output>> {
        Some(self)
    }

    for_each_visit_operator!(define_fused);
}

impl<'a> VisitSimdOperator<'a> for Fused<'_, '_, '_> {
    for_each_visit_simd_operator!(define_fused_simd);
}
