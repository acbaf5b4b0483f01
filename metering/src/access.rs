//! The memory-size surcharge on loads and stores (cost table version 6), written into the
//! instrumented module so that every engine running it charges the same gas.
//!
//! A metered block with `k` loads and stores (every width, integer and float) pays
//! `static + k × S(current pages)`, in its one block charge:
//! `global.get $s; i64.const k; i64.mul; i64.const static; i64.add; call $gas` (one
//! out-of-gas check, as for any block). `S` is
//! `gasket_host_api::access::AccessTiers::surcharge`; the module keeps `S(current pages)`
//! in an i64 global `$s` appended after its own globals (compiled code keeps globals in
//! the vmctx, so the charge is a load, a multiply, an add and the usual subtract):
//!
//! - initialised to `S(initial pages)` (a constant: the memory is the module's own);
//! - set again after every `memory.grow` from `memory.size` (a select chain over the
//!   tiers' steps, which gives exactly `surcharge` for every page count: a grow that
//!   fails leaves it unchanged).
//!
//! An imported memory (permissive profile only) may have any size when the instance
//! starts, so its blocks compute `S` from `memory.size` in place instead of reading the
//! global. A module whose memory can never exceed tier 0 (its maximum, declared or the
//! profile's `max_memory_pages`, pays no surcharge) or has no memory gets nothing: its
//! output is what version 5 wrote. Blocks with no access are charged as before.
//!
//! A module's own memory that no reachable `memory.grow` can change (only `memory.grow`
//! changes a memory's size: no host function grows it) keeps `S(initial pages)` for the
//! whole instance, so the surcharge is a constant: the block charge is the one
//! `i64.const static + k × S; call $gas` of version 5 (no global), and when that `S` is
//! 0 nothing at all is written, as for a memory capped in tier 0. Every kernel and many
//! contracts never grow: they run and compile exactly as before version 6. Deciding it
//! costs no second pass over the code: the walk already recorded an
//! [`Edit::AfterGrow`] for every reachable `memory.grow`.
//!
//! Why in the instrumented wasm rather than in each engine: the wasmi references, the
//! report build and both ISAs then run one definition of the charge and cannot drift;
//! the compiled cost is the same few instructions a vmctx field would need.

use crate::analysis::{Edit, FunctionPlan};
use crate::cost::{CostTable, OpClass};
use crate::inject::op;
use crate::summary::MemoryInfo;

/// Whether an operator of `class` is a load or a store (what the surcharge counts):
/// every width, integer and float. Takes the class the walk already computed for the
/// operator's cost, so each operator is classified once.
pub(crate) fn is_memory_access(class: OpClass) -> bool {
    matches!(class, OpClass::Load | OpClass::Store)
}

/// Where a block's charge takes `S(current pages)` from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Source {
    /// The module's own memory, which a reachable `memory.grow` may change: the appended
    /// global at `index`, initialised to `S(initial pages)` and set after every grow.
    Global { index: u32, initial: u64 },
    /// An imported memory: computed from `memory.size` in place.
    FromSize,
    /// The module's own memory, never grown: `S(initial pages)` (nonzero) for the whole
    /// instance, folded into each block's constant.
    Constant(u64),
}

/// How a module charges the surcharge, when it can ever be nonzero.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct AccessCharge {
    pub source: Source,
    /// `(threshold, S(threshold + 1))` for each distinct threshold, ascending: `S(pages)`
    /// is the value of the last step whose threshold `pages` exceeds, 0 below all.
    pub steps: Vec<(u32, u32)>,
}

/// Whether some reachable `memory.grow` of `plans` can change the memory's size: the walk
/// records an [`Edit::AfterGrow`] for each (none in dead code, which never runs).
pub(crate) fn grows(plans: &[FunctionPlan]) -> bool {
    plans.iter().any(|plan| {
        plan.edits
            .iter()
            .any(|e| matches!(e, Edit::AfterGrow { .. }))
    })
}

impl AccessCharge {
    /// The charge `memory` needs under `costs`, if it can ever be nonzero; `global` is
    /// the index the appended global gets (the module's global count); `grows`: whether
    /// a reachable `memory.grow` exists (see [`grows`]).
    pub fn of(
        costs: &CostTable,
        memory: Option<MemoryInfo>,
        global: u32,
        grows: impl FnOnce() -> bool,
    ) -> Option<Self> {
        let memory = memory?;
        let tiers = &costs.memory_access_tiers;
        if !tiers.can_charge(memory.maximum_pages) {
            return None;
        }
        let initial = u64::from(tiers.surcharge(memory.initial_pages));
        let source = if memory.imported {
            Source::FromSize
        } else if grows() {
            Source::Global {
                index: global,
                initial,
            }
        } else if initial == 0 {
            return None;
        } else {
            Source::Constant(initial)
        };
        let mut thresholds: Vec<u32> = tiers.tiers.iter().map(|t| t.above_pages).collect();
        thresholds.sort_unstable();
        thresholds.dedup();
        let steps = thresholds
            .into_iter()
            .filter(|&t| t < u32::MAX)
            .map(|t| (t, tiers.surcharge(t + 1)))
            .collect();
        Some(AccessCharge { source, steps })
    }

    /// The appended global and its initial value, if the module gets one.
    pub fn global(&self) -> Option<(u32, u64)> {
        match self.source {
            Source::Global { index, initial } => Some((index, initial)),
            Source::FromSize | Source::Constant(_) => None,
        }
    }

    /// Pushes `S(current pages)` (i64).
    pub fn write_surcharge(&self, out: &mut Vec<u8>) {
        match self.source {
            Source::Global { index, .. } => op::global_get(index, out),
            Source::FromSize => self.write_from_size(out),
            Source::Constant(surcharge) => op::i64_const(surcharge as i64, out),
        }
    }

    /// Pushes `S(memory.size)` (i64): `select(S_n, select(S_n-1, … 0 …, size > T_n-1),
    /// size > T_n)`, innermost the lowest step.
    fn write_from_size(&self, out: &mut Vec<u8>) {
        for &(_, value) in self.steps.iter().rev() {
            op::i64_const(i64::from(value), out);
        }
        op::i64_const(0, out);
        for &(threshold, _) in &self.steps {
            op::memory_size(out);
            op::i32_const(threshold as i32, out);
            out.push(op::I32_GT_U);
            out.push(op::SELECT);
        }
    }

    /// A block's charge: `static + accesses × S`, then `call $gas`; one constant when `S`
    /// is a constant (computed wrapping, as `i64.mul` and `i64.add` would).
    pub fn write_block_charge(&self, cost: u64, accesses: u32, gas: u32, out: &mut Vec<u8>) {
        if let Source::Constant(surcharge) = self.source {
            let charge = cost.wrapping_add(u64::from(accesses).wrapping_mul(surcharge));
            op::i64_const(charge as i64, out);
            op::call(gas, out);
            return;
        }
        self.write_surcharge(out);
        op::i64_const(i64::from(accesses), out);
        out.push(op::I64_MUL);
        op::i64_const(cost as i64, out);
        out.push(op::I64_ADD);
        op::call(gas, out);
    }

    /// After a `memory.grow` (its result stays on the stack): `$s = S(memory.size)`.
    pub fn write_after_grow(&self, out: &mut Vec<u8>) {
        if let Some((global, _)) = self.global() {
            self.write_from_size(out);
            op::global_set(global, out);
        }
    }
}
