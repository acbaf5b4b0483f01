//! The page commit charge (cost table version 4): a 64 KiB page of linear memory above
//! the profile's resident allowance `R` (`CostTable::memory_resident_pages`) costs
//! `P` (`CostTable::memory_commit_per_page`) once, where it comes into existence.
//!
//! Why there: the dearest thing a contract can buy per gas is the first write to an OS
//! page (a page fault, a page allocated and zeroed, later cleared or released by the
//! pool: ~2 µs against a store's 75 gas). Charging every store for it would overcharge
//! ordinary stores thousands of times, and a per-page first-write check would cost every
//! store; charging the page when it is committed costs nothing per access. Pages up to
//! `R` stay resident in the pool between calls, so they are free.
//!
//! Both charges are in the instrumented wasm, so every engine running it (the wasmi
//! reference included) charges the same gas:
//! - `memory.grow` pays `P × (max(new, R) − max(old, R))` with `new = old + delta`,
//!   computed from `memory.size` and the operand right after the per-page charge and
//!   before the grow, so running out of gas there traps with `out_of_gas` before anything
//!   grows. A grow that will fail pays no commit (its per-page price, as before, it
//!   does): a grow fails exactly when `new` exceeds the memory's maximum (its declared
//!   maximum capped by the profile's `max_memory_pages`, reserved in full by the
//!   runtime), which the charge tests before the grow, so this is deterministic, and a
//!   contract probing with an impossible grow (`memory.grow(-1)`: 2^32 pages) is not
//!   charged for pages that never come into existence.
//! - Initial pages above `R` of a memory the module defines are paid by a start function
//!   the encoder appends (`P × (initial − R)` in one `gas` call, then the module's own
//!   start if it has one): start gas, like any start function's. An imported memory's
//!   pages were committed by whoever created it and are not charged here. The same
//!   function pays the written-range charge of the active data segments
//!   (`data_writes`, cost table version 5).

use wasm_encoder::{Encode, Instruction};

use crate::cost::{CostTable, DynamicCost};
use crate::inject::ReportCounters;
use crate::report::{ChargeSite, SiteCharge};
use crate::summary::{FunctionInfo, Intrinsics, MemoryInfo};
use crate::walk::Walked;

/// Pages above `resident` that growing a memory from `old` to `new` pages commits:
/// `max(new, R) − max(old, R)`. The reference model of the charge `memory.grow` writes.
pub fn committed_pages(old: u64, new: u64, resident: u32) -> u64 {
    let resident = u64::from(resident);
    new.max(resident).saturating_sub(old.max(resident))
}

/// The commit price and allowance of a profile; `None` when the price is 0 (nothing
/// to charge, nothing written).
#[derive(Copy, Clone, Debug)]
pub(crate) struct Commit {
    pub resident: u32,
    pub per_page: u64,
    /// The memory's maximum in pages: a grow past it fails and pays no commit.
    pub maximum: u32,
}

impl Commit {
    /// The commit charge for a module with `memory` under `costs`; `None` without a
    /// memory or with a price of 0.
    pub fn of(costs: &CostTable, memory: Option<MemoryInfo>) -> Option<Commit> {
        let memory = memory?;
        (costs.memory_commit_per_page > 0).then_some(Commit {
            resident: costs.memory_resident_pages,
            per_page: costs.memory_commit_per_page,
            maximum: memory.maximum_pages,
        })
    }

    /// The gas-report site of a commit charge in `function` (original index space).
    pub fn site(self, function: u32) -> ChargeSite {
        ChargeSite {
            function,
            charge: SiteCharge::PerUnit {
                kind: DynamicCost::MemoryCommit,
                per_unit: self.per_page,
            },
        }
    }

    /// Writes the commit charge of a `memory.grow` whose page count is in i32 local
    /// `delta` (the stack is left as it was). With `counters` (report modules), the
    /// pages are counted first, as a per-unit site.
    pub fn write_grow_charge(
        self,
        delta: u32,
        gas: u32,
        counters: Option<&mut ReportCounters>,
        out: &mut Vec<u8>,
    ) {
        let units = grow_pages(delta, self.resident, self.maximum);
        if let Some(counters) = counters {
            counters.count(&units, out);
        }
        for instruction in &units {
            instruction.encode(out);
        }
        Instruction::I64Const(self.per_page as i64).encode(out);
        Instruction::I64Mul.encode(out);
        Instruction::Call(gas).encode(out);
    }
}

/// How many times [`Commit::write_grow_charge`]'s page count reads local `delta` (once
/// per `new = old + delta` in [`grow_pages`]), not counting a report's count of it:
/// code generation's register allocation is handed the scratch local's reads
/// (`inject::ScratchReads`).
pub(crate) const DELTA_READS: u64 = 3;

/// Instructions leaving (i64) the pages above `resident` a `memory.grow` of the i32 in
/// local `delta` commits: `max(old + delta, R) − max(old, R)` with `old = memory.size`,
/// or 0 when `old + delta` exceeds `maximum` (the grow fails), in i64 so `old + delta`
/// cannot wrap. Pure (reads `memory.size` and the local again instead of needing more
/// locals), so the gas report can count the same expression.
fn grow_pages(delta: u32, resident: u32, maximum: u32) -> Vec<Instruction<'static>> {
    let r = i64::from(resident);
    let new = [
        Instruction::MemorySize(0),
        Instruction::I64ExtendI32U,
        Instruction::LocalGet(delta),
        Instruction::I64ExtendI32U,
        Instruction::I64Add,
    ];
    let mut out = Vec::with_capacity(30);
    // max(new, R) = select(new, R, new > R)
    out.extend(new.iter().cloned());
    out.push(Instruction::I64Const(r));
    out.extend(new.iter().cloned());
    out.push(Instruction::I64Const(r));
    out.push(Instruction::I64GtU);
    out.push(Instruction::Select);
    // max(old, R) = select(old, R, old > R)
    out.push(Instruction::MemorySize(0));
    out.push(Instruction::I64ExtendI32U);
    out.push(Instruction::I64Const(r));
    out.push(Instruction::MemorySize(0));
    out.push(Instruction::I32Const(resident as i32));
    out.push(Instruction::I32GtU);
    out.push(Instruction::Select);
    out.push(Instruction::I64Sub);
    // select(pages, 0, new <= maximum)
    out.push(Instruction::I64Const(0));
    out.extend(new.iter().cloned());
    out.push(Instruction::I64Const(i64::from(maximum)));
    out.push(Instruction::I64LeU);
    out.push(Instruction::Select);
    out
}

/// The start function the encoder appends to charge a module's initial pages above the
/// allowance and the granules its active data segments add to the written ranges
/// (`data_writes`), then run the module's own start function.
#[derive(Copy, Clone, Debug)]
pub(crate) struct StartCharge {
    /// Initial pages above the allowance, with their price (`pages` 0: none).
    pub pages: u64,
    pub commit: Option<Commit>,
    /// Granules the active data segments add to the written ranges, and their price
    /// (`memory_write_per_granule`; `granules` 0: none).
    pub granules: u64,
    pub write_price: u32,
    /// The appended function's index (instrumented index space): after every defined
    /// function.
    pub index: u32,
    /// Its stack-height units: one operand (the charge) plus the profile's
    /// `frame_overhead`.
    pub frame_cost: u32,
    /// The module's own start function (instrumented index space), called after the
    /// charge.
    pub then: Option<u32>,
}

impl StartCharge {
    /// The start charge `walked` needs under `costs`, if any: a defined memory whose
    /// initial size is above the allowance with a nonzero commit price, or active data
    /// segments with a nonzero write price. `then` is the module's own start function
    /// (instrumented index space).
    pub fn plan(
        walked: &Walked<'_>,
        costs: &CostTable,
        frame_overhead: u32,
        then: Option<u32>,
    ) -> Option<Self> {
        let commit = Commit::of(costs, walked.memory);
        let pages = match (commit, walked.memory.filter(|m| !m.imported)) {
            (Some(commit), Some(memory)) => {
                committed_pages(0, u64::from(memory.initial_pages), commit.resident)
            }
            _ => 0,
        };
        let write_price = costs.memory_write_per_granule;
        let granules = if write_price > 0 {
            crate::data_writes::data_segment_granules(walked)
        } else {
            0
        };
        if pages == 0 && granules == 0 {
            return None;
        }
        let first_defined = walked.imported_functions + Intrinsics::COUNT;
        Some(StartCharge {
            pages,
            commit: commit.filter(|_| pages > 0),
            granules,
            write_price,
            index: first_defined + walked.plans.len() as u32,
            frame_cost: frame_overhead.saturating_add(1),
            then,
        })
    }

    /// Its gas-report sites (the commit's, then the data segments', as `write_body`
    /// counts them), attributed to the module's own start function if it has one, else
    /// to the original index one past the module's last function (no function of the
    /// module has it, so a report shows the instantiation charge apart).
    pub fn sites(&self, walked: &Walked<'_>) -> Vec<ChargeSite> {
        let function = walked
            .start
            .unwrap_or(walked.imported_functions + walked.plans.len() as u32);
        let mut sites: Vec<ChargeSite> =
            self.commit.map(|c| c.site(function)).into_iter().collect();
        if self.granules > 0 {
            sites.push(ChargeSite {
                function,
                charge: SiteCharge::PerUnit {
                    kind: DynamicCost::MemoryWrite,
                    per_unit: u64::from(self.write_price),
                },
            });
        }
        sites
    }

    /// The appended function's summary, given the index of its `[] -> []` type.
    pub fn info(&self, type_index: u32) -> FunctionInfo {
        FunctionInfo {
            type_index,
            frame_cost: self.frame_cost,
        }
    }

    /// Writes its body (without the size prefix): `stack_enter`, the charges (each
    /// counted first in a report module), the module's start, `stack_leave`.
    pub fn write_body(
        &self,
        intrinsics: &Intrinsics,
        mut counters: Option<&mut ReportCounters>,
        out: &mut Vec<u8>,
    ) {
        0u32.encode(out); // no locals
        let frame = self.frame_cost as i32;
        Instruction::I32Const(frame).encode(out);
        Instruction::Call(intrinsics.stack_enter).encode(out);
        let charges = [
            self.commit.map(|c| (self.pages, c.per_page)),
            (self.granules > 0).then_some((self.granules, u64::from(self.write_price))),
        ];
        for (units, price) in charges.into_iter().flatten() {
            if let Some(counters) = counters.as_deref_mut() {
                counters.count(&[Instruction::I64Const(units as i64)], out);
            }
            let gas = units.saturating_mul(price);
            Instruction::I64Const(i64::try_from(gas).unwrap_or(i64::MAX)).encode(out);
            Instruction::Call(intrinsics.gas).encode(out);
        }
        if let Some(then) = self.then {
            Instruction::Call(then).encode(out);
        }
        Instruction::I32Const(frame).encode(out);
        Instruction::Call(intrinsics.stack_leave).encode(out);
        Instruction::End.encode(out);
    }
}

#[cfg(test)]
mod tests {
    use super::{committed_pages, grow_pages, DELTA_READS};

    #[test]
    fn the_grow_charge_reads_delta_delta_reads_times() {
        let reads = grow_pages(7, 32, 100)
            .iter()
            .filter(|i| matches!(i, wasm_encoder::Instruction::LocalGet(7)))
            .count();
        assert_eq!(reads as u64, DELTA_READS);
    }

    #[test]
    fn committed_pages_counts_only_pages_above_the_allowance() {
        assert_eq!(committed_pages(0, 17, 32), 0);
        assert_eq!(committed_pages(0, 32, 32), 0);
        assert_eq!(committed_pages(0, 40, 32), 8);
        assert_eq!(committed_pages(17, 31, 32), 0);
        assert_eq!(committed_pages(30, 35, 32), 3);
        assert_eq!(committed_pages(32, 33, 32), 1);
        assert_eq!(committed_pages(40, 50, 32), 10);
        assert_eq!(committed_pages(40, 40, 32), 0);
        assert_eq!(
            committed_pages(5, 5 + u64::from(u32::MAX), 32),
            u64::from(u32::MAX) - 27
        );
        assert_eq!(committed_pages(3, 9, 0), 6);
    }
}
