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
//! Why in the instrumented wasm rather than in each engine: the wasmi references, the
//! report build and both ISAs then run one definition of the charge and cannot drift;
//! the compiled cost is the same few instructions a vmctx field would need.

use crate::cost::{CostTable, OpClass};
use crate::inject::op;
use crate::summary::MemoryInfo;

/// Whether an operator of `class` is a load or a store (what the surcharge counts):
/// every width, integer and float. Takes the class the walk already computed for the
/// operator's cost, so each operator is classified once.
pub(crate) fn is_memory_access(class: OpClass) -> bool {
    matches!(class, OpClass::Load | OpClass::Store)
}

/// How a module charges the surcharge, when it can ever be nonzero.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct AccessCharge {
    /// The global holding `S(current pages)`; `None` for an imported memory (computed in
    /// place).
    pub global: Option<u32>,
    /// Its initial value: `S(initial pages)` of the module's own memory.
    pub initial: u64,
    /// `(threshold, S(threshold + 1))` for each distinct threshold, ascending: `S(pages)`
    /// is the value of the last step whose threshold `pages` exceeds, 0 below all.
    pub steps: Vec<(u32, u32)>,
}

impl AccessCharge {
    /// The charge `memory` needs under `costs`, if it can ever be nonzero; `global` is
    /// the index the appended global gets (the module's global count).
    pub fn of(costs: &CostTable, memory: Option<MemoryInfo>, global: u32) -> Option<Self> {
        let memory = memory?;
        let tiers = &costs.memory_access_tiers;
        if !tiers.can_charge(memory.maximum_pages) {
            return None;
        }
        let mut thresholds: Vec<u32> = tiers.tiers.iter().map(|t| t.above_pages).collect();
        thresholds.sort_unstable();
        thresholds.dedup();
        let steps = thresholds
            .into_iter()
            .filter(|&t| t < u32::MAX)
            .map(|t| (t, tiers.surcharge(t + 1)))
            .collect();
        Some(AccessCharge {
            global: (!memory.imported).then_some(global),
            initial: u64::from(tiers.surcharge(memory.initial_pages)),
            steps,
        })
    }

    /// Pushes `S(current pages)` (i64).
    pub fn write_surcharge(&self, out: &mut Vec<u8>) {
        match self.global {
            Some(global) => op::global_get(global, out),
            None => self.write_from_size(out),
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

    /// A block's charge: `static + accesses × S`, then `call $gas`.
    pub fn write_block_charge(&self, cost: u64, accesses: u32, gas: u32, out: &mut Vec<u8>) {
        self.write_surcharge(out);
        op::i64_const(i64::from(accesses), out);
        out.push(op::I64_MUL);
        op::i64_const(cost as i64, out);
        out.push(op::I64_ADD);
        op::call(gas, out);
    }

    /// After a `memory.grow` (its result stays on the stack): `$s = S(memory.size)`.
    pub fn write_after_grow(&self, out: &mut Vec<u8>) {
        if let Some(global) = self.global {
            self.write_from_size(out);
            op::global_set(global, out);
        }
    }
}
