//! The gas cost of every operator, grouped into classes of similar native cost.
//!
//! Costs are charged per basic block (see `analysis`), so a class's cost is paid once per
//! execution of each instruction of that class. Work proportional to an operand (pages grown,
//! bytes copied, table elements filled) is charged separately, from the runtime operand.

use borsh::{BorshDeserialize, BorshSerialize};
use gasket_host_api::access::{AccessTier, AccessTiers};
use sha2::{Digest, Sha256};
use wasmparser::Operator;

/// Cost classes. Every operator of the deterministic profile maps to exactly one.
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum OpClass {
    /// `nop`, `block`, `loop`, `else`, `end`: they emit no work of their own.
    Structural,
    /// `i32.const`, `i64.const`, `ref.null`, `ref.func`.
    Constant,
    /// `local.get`, `local.set`, `local.tee`.
    Local,
    /// Per declared local (parameters excluded) at function entry: compiled code zeroes
    /// every declared local before the body runs. Charged in the entry block, never
    /// returned by [`classify`].
    LocalInit,
    /// `global.get`, `global.set`.
    Global,
    /// Cheap integer ALU: add, sub, bit ops, shifts, rotates, compares, `eqz`,
    /// wrap/extend, sign extension, `select`, `drop`, `ref.is_null`.
    Alu,
    /// Bit counts: `clz`, `ctz`, `popcnt` (3-cycle latency instructions, and more than one
    /// on targets without them: a chain of them costs several plain ALU operations each).
    BitCount,
    /// Integer multiplication.
    Mul,
    /// Integer division and remainder (with their trap checks).
    DivRem,
    /// Memory loads of any width.
    Load,
    /// Memory stores of any width.
    Store,
    /// `br`, `br_if`, `if`.
    Branch,
    /// `br_table`.
    BrTable,
    /// Per entry of a `br_table`'s label table, the default included: the jump table's
    /// size is code the jump must fetch (instruction cache and branch-target buffer
    /// misses grow with it). Charged with the `br_table`, never returned by [`classify`].
    BrTableTarget,
    /// Direct `call`.
    Call,
    /// `call_indirect` (table bounds, null and signature checks).
    CallIndirect,
    /// `return`.
    Return,
    /// `unreachable`.
    Unreachable,
    /// `memory.size`.
    MemorySize,
    /// `memory.grow`: the base cost; pages are charged per page.
    MemoryGrow,
    /// `memory.copy`, `memory.fill`, `memory.init`: the base cost; bytes are charged per byte.
    BulkMemory,
    /// `data.drop`, `elem.drop`.
    SegmentDrop,
    /// `table.get`, `table.set`, `table.size`.
    TableAccess,
    /// `table.grow`: the base cost; elements are charged per element.
    TableGrow,
    /// `table.copy`, `table.fill`, `table.init`: the base cost; elements are charged per element.
    TableBulk,
    /// Float add, sub, mul, min, max, comparisons, rounding (ceil/floor/trunc/nearest),
    /// promote/demote and integer-to-float conversion: each also moves its operands
    /// into float registers and canonicalizes a NaN result.
    FloatArith,
    /// Float division and square root (long-latency instructions).
    FloatDivSqrt,
    /// Float-to-integer truncation, trapping or saturating (range checks first).
    FloatToInt,
}

/// What an operator charges in proportion to its size operand, on top of its class cost.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum DynamicCost {
    /// Per 64 KiB page requested by `memory.grow`.
    MemoryPages,
    /// Per byte of `memory.copy` / `memory.fill` / `memory.init`.
    MemoryBytes,
    /// Per element of `table.grow` / `table.copy` / `table.fill` / `table.init`.
    TableElements,
    /// Per 64 KiB page committed above the resident allowance
    /// ([`CostTable::memory_resident_pages`]): charged with `memory.grow`'s per-page price
    /// for the part of the new size above the allowance, and at instantiation for initial
    /// pages above it (see `commit`). Never returned by [`dynamic_cost`].
    MemoryCommit,
    /// Per 4 KiB granule a write adds to the written ranges the pool clears
    /// ([`CostTable::memory_write_per_granule`]): charged by compiled code and the
    /// runtime, not by the instrumented wasm; a class of gas reports. Never returned by
    /// [`dynamic_cost`].
    MemoryWrite,
    /// Per load and store while the memory is above a tier's threshold
    /// ([`CostTable::memory_access_tiers`]): charged with the access's block, from the
    /// current memory size (see `access`). A class of gas reports. Never returned by
    /// [`dynamic_cost`].
    MemoryAccess,
}

impl OpClass {
    /// The class's name in gas reports (snake case, as the cost table's fields).
    pub fn name(self) -> &'static str {
        match self {
            OpClass::Structural => "structural",
            OpClass::Constant => "constant",
            OpClass::Local => "local",
            OpClass::LocalInit => "local_init",
            OpClass::Global => "global",
            OpClass::Alu => "alu",
            OpClass::BitCount => "bit_count",
            OpClass::Mul => "mul",
            OpClass::DivRem => "div_rem",
            OpClass::Load => "load",
            OpClass::Store => "store",
            OpClass::Branch => "branch",
            OpClass::BrTable => "br_table",
            OpClass::BrTableTarget => "br_table_target",
            OpClass::Call => "call",
            OpClass::CallIndirect => "call_indirect",
            OpClass::Return => "return",
            OpClass::Unreachable => "unreachable",
            OpClass::MemorySize => "memory_size",
            OpClass::MemoryGrow => "memory_grow",
            OpClass::BulkMemory => "bulk_memory",
            OpClass::SegmentDrop => "segment_drop",
            OpClass::TableAccess => "table_access",
            OpClass::TableGrow => "table_grow",
            OpClass::TableBulk => "table_bulk",
            OpClass::FloatArith => "float_arith",
            OpClass::FloatDivSqrt => "float_div_sqrt",
            OpClass::FloatToInt => "float_to_int",
        }
    }
}

impl DynamicCost {
    /// The name of this size-proportional charge in gas reports (the cost table's field).
    pub fn name(self) -> &'static str {
        match self {
            DynamicCost::MemoryPages => "memory_grow_per_page",
            DynamicCost::MemoryBytes => "bulk_memory_per_byte",
            DynamicCost::TableElements => "table_per_element",
            DynamicCost::MemoryCommit => "memory_commit_per_page",
            DynamicCost::MemoryWrite => "memory_write_per_granule",
            DynamicCost::MemoryAccess => "memory_access_surcharge",
        }
    }
}

/// Classifies an operator. Operators outside the deterministic profile never reach this
/// function with a valid module; they classify as [`OpClass::FloatArith`] or
/// [`OpClass::Alu`] so the function stays total.
pub fn classify(op: &Operator<'_>) -> OpClass {
    classify_inline(op)
}

/// [`classify`], always inlined: the metering walk's visit methods each build one
/// operator variant, so there the match folds to that variant's class (a call and a
/// jump-table dispatch per operator otherwise, ≈ 1.3 % of a compile's instructions).
#[inline(always)]
pub(crate) fn classify_inline(op: &Operator<'_>) -> OpClass {
    use Operator::*;
    match op {
        Nop | Block { .. } | Loop { .. } | Else | End => OpClass::Structural,
        I32Const { .. }
        | I64Const { .. }
        | F32Const { .. }
        | F64Const { .. }
        | RefNull { .. }
        | RefFunc { .. } => OpClass::Constant,
        LocalGet { .. } | LocalSet { .. } | LocalTee { .. } => OpClass::Local,
        GlobalGet { .. } | GlobalSet { .. } => OpClass::Global,
        I32Mul | I64Mul => OpClass::Mul,
        I32Clz | I32Ctz | I32Popcnt | I64Clz | I64Ctz | I64Popcnt => OpClass::BitCount,
        I32DivS | I32DivU | I32RemS | I32RemU | I64DivS | I64DivU | I64RemS | I64RemU => {
            OpClass::DivRem
        }
        I32Load { .. }
        | I64Load { .. }
        | I32Load8S { .. }
        | I32Load8U { .. }
        | I32Load16S { .. }
        | I32Load16U { .. }
        | I64Load8S { .. }
        | I64Load8U { .. }
        | I64Load16S { .. }
        | I64Load16U { .. }
        | I64Load32S { .. }
        | I64Load32U { .. }
        | F32Load { .. }
        | F64Load { .. } => OpClass::Load,
        I32Store { .. }
        | I64Store { .. }
        | I32Store8 { .. }
        | I32Store16 { .. }
        | I64Store8 { .. }
        | I64Store16 { .. }
        | I64Store32 { .. }
        | F32Store { .. }
        | F64Store { .. } => OpClass::Store,
        // Sign manipulation and reinterpretation are bitwise: integer ALU work.
        F32Abs | F64Abs | F32Neg | F64Neg | F32Copysign | F64Copysign => OpClass::Alu,
        I32ReinterpretF32 | I64ReinterpretF64 | F32ReinterpretI32 | F64ReinterpretI64 => {
            OpClass::Alu
        }
        F32Div | F64Div | F32Sqrt | F64Sqrt => OpClass::FloatDivSqrt,
        I32TruncF32S | I32TruncF32U | I32TruncF64S | I32TruncF64U | I64TruncF32S | I64TruncF32U
        | I64TruncF64S | I64TruncF64U | I32TruncSatF32S | I32TruncSatF32U | I32TruncSatF64S
        | I32TruncSatF64U | I64TruncSatF32S | I64TruncSatF32U | I64TruncSatF64S
        | I64TruncSatF64U => OpClass::FloatToInt,
        Br { .. } | BrIf { .. } | If { .. } => OpClass::Branch,
        BrTable { .. } => OpClass::BrTable,
        Call { .. } => OpClass::Call,
        CallIndirect { .. } => OpClass::CallIndirect,
        Return => OpClass::Return,
        Unreachable => OpClass::Unreachable,
        MemorySize { .. } => OpClass::MemorySize,
        MemoryGrow { .. } => OpClass::MemoryGrow,
        MemoryCopy { .. } | MemoryFill { .. } | MemoryInit { .. } => OpClass::BulkMemory,
        DataDrop { .. } | ElemDrop { .. } => OpClass::SegmentDrop,
        TableGet { .. } | TableSet { .. } | TableSize { .. } => OpClass::TableAccess,
        TableGrow { .. } => OpClass::TableGrow,
        TableCopy { .. } | TableFill { .. } | TableInit { .. } => OpClass::TableBulk,
        other if crate::features::is_float_operator(other) => OpClass::FloatArith,
        _ => OpClass::Alu,
    }
}

/// The per-unit class an operator also charges, with its unit count, when the count is
/// known statically: a `br_table`'s label table size, the default included. Charged in
/// the operator's block like its class cost (no runtime work).
#[inline]
pub fn static_units(op: &Operator<'_>) -> Option<(OpClass, u64)> {
    match op {
        Operator::BrTable { targets } => {
            Some((OpClass::BrTableTarget, u64::from(targets.len()) + 1))
        }
        _ => None,
    }
}

/// The size-proportional charge an operator needs, if any. The size operand is always the
/// i32 on top of the operand stack when the operator runs.
#[inline]
pub fn dynamic_cost(op: &Operator<'_>) -> Option<DynamicCost> {
    use Operator::*;
    match op {
        MemoryGrow { .. } => Some(DynamicCost::MemoryPages),
        MemoryCopy { .. } | MemoryFill { .. } | MemoryInit { .. } => Some(DynamicCost::MemoryBytes),
        TableGrow { .. } | TableCopy { .. } | TableFill { .. } | TableInit { .. } => {
            Some(DynamicCost::TableElements)
        }
        _ => None,
    }
}

/// Gas per operator class, plus the per-unit prices of size-proportional work.
///
/// The table is versioned: any change to a price must bump [`CostTable::version`], because
/// gas figures are consensus-critical and cached artifacts embed the charges.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct CostTable {
    /// Version of this table; part of its fingerprint and of every cache key.
    pub version: u32,
    pub structural: u64,
    pub constant: u64,
    pub local: u64,
    /// Per declared local, at function entry.
    pub local_init: u64,
    pub global: u64,
    pub alu: u64,
    pub bit_count: u64,
    pub mul: u64,
    pub div_rem: u64,
    pub load: u64,
    pub store: u64,
    pub branch: u64,
    pub br_table: u64,
    /// Per entry of a `br_table`'s label table (default included).
    pub br_table_target: u64,
    pub call: u64,
    pub call_indirect: u64,
    pub return_: u64,
    pub unreachable: u64,
    pub memory_size: u64,
    pub memory_grow: u64,
    pub bulk_memory: u64,
    pub segment_drop: u64,
    pub table_access: u64,
    pub table_grow: u64,
    pub table_bulk: u64,
    pub float_arith: u64,
    pub float_div_sqrt: u64,
    pub float_to_int: u64,
    /// Per page requested by `memory.grow` (charged even if the grow fails).
    pub memory_grow_per_page: u64,
    /// Per byte of `memory.copy`, `memory.fill` and `memory.init`.
    pub bulk_memory_per_byte: u64,
    /// Per element of `table.grow`, `table.copy`, `table.fill` and `table.init`.
    pub table_per_element: u64,
    /// The resident allowance, in 64 KiB pages: memory up to this size is free of the
    /// commit charge (a pooled instance's first pages stay resident between calls, so
    /// they cost no page faults; `PoolConfig::memory_keep_resident` defaults to at least
    /// this much, and a node keeping less resident is undercharged). A protocol constant:
    /// part of the table, its fingerprint and its version.
    pub memory_resident_pages: u32,
    /// Per 64 KiB page of memory above `memory_resident_pages` that comes into
    /// existence: initial pages above it at instantiation, and the part of a
    /// `memory.grow`'s new size above it (charged before the grow, so a grow that fails
    /// pays too). Prices the kernel's page allocation and zeroing and the pool's clear
    /// of a page that is written, which no per-access price can.
    pub memory_commit_per_page: u64,
    /// Per 4 KiB granule (`gasket_host_api::written::DIRTY_GRANULE`) a write adds to the
    /// written ranges the pool clears when the instance is dropped
    /// (`WrittenRanges::mark`'s result, see ARCHITECTURE.md, "The written-range charge"):
    /// compiled stores pay it in the dirty-range stub, `memory.fill/copy/init` in their
    /// libcalls, the wasmi reference through a rewrite of the prepared module. A u32, so
    /// a charge (at most 2^20 granules) never overflows. A protocol constant: part of
    /// the table, its fingerprint and its version; 0 leaves writes free.
    pub memory_write_per_granule: u32,
    /// The memory-size surcharge on loads and stores (cost table version 6;
    /// `gasket_host_api::access`): while the memory has more than a tier's threshold of
    /// pages, each load and store pays that tier's surcharge, charged with its block
    /// (`static + accesses × surcharge(current pages)`). Prices cache and TLB misses
    /// over the footprint the contract can touch, which no static price can. A protocol
    /// constant: part of the table, its fingerprint and its version.
    pub memory_access_tiers: AccessTiers,
}

/// The default memory-size tiers ([`CostTable::memory_access_tiers`]): no surcharge up
/// to 32 pages (2 MiB: the resident allowance, where ordinary contracts live), then 674
/// gas per access above 32 pages, 974 above 64 (4 MiB), 1 074 above 256 (16 MiB).
/// Derived by `scripts/derive-costs.py --tiers 32,64,256` from five quick runs of the
/// cache-hostile loads and stores over 1–64 MiB without huge pages (worst case of the
/// five: `benches/calibration/x86_64-shared-v5-hostile-nothp-quick{0,1,2}-2026-12-06.json`
/// under version 5 and `…-v6tiers-provisional-quick{1,2}-…` under provisional tiers
/// 497/731/809); see ARCHITECTURE.md, "Memory-size tiers".
pub const ACCESS_TIERS: AccessTiers = AccessTiers {
    tiers: [
        AccessTier {
            above_pages: 32,
            surcharge: 674,
        },
        AccessTier {
            above_pages: 64,
            surcharge: 974,
        },
        AccessTier {
            above_pages: 256,
            surcharge: 1074,
        },
    ],
};

/// The default resident allowance ([`CostTable::memory_resident_pages`]): 32 pages,
/// 2 MiB. The corpus's contracts declare 17 initial pages and grow little, so ordinary
/// contracts pay nothing new; the pool keeps this much resident by default.
pub const RESIDENT_PAGES: u32 = 32;

/// The default commit price ([`CostTable::memory_commit_per_page`]), derived by
/// `scripts/derive-costs.py` from the calibration case `memory_grow_per_page/touched`
/// (grow a page above the allowance and write each of its 16 OS pages once: 17–34 µs
/// of page faults, zeroing and the pool's release on the calibration machine) in two
/// quick runs under a provisional 5 918 985 (`benches/calibration/
/// x86_64-shared-v4commit-provisional-quick{1,2}-2026-12-06.json`, worst case of the
/// two); see ARCHITECTURE.md, "Page commits and cache misses".
pub const COMMIT_PER_PAGE: u64 = 7_950_153;

/// The default write price ([`CostTable::memory_write_per_granule`]), derived by
/// `scripts/derive-costs.py` from the calibration case `mix/resident_touch_stores` (a
/// store into each OS page of the resident 2 MiB: the pool clears each such granule when
/// the instance is dropped, ~100 ns here) in two quick runs under a provisional 30 000
/// (`benches/calibration/x86_64-shared-v5write-provisional-quick{1,2}-2026-12-06.json`,
/// worst case of the two); see ARCHITECTURE.md, "The written-range charge".
pub const WRITE_PER_GRANULE: u32 = 31_454;

impl Default for CostTable {
    /// Version 8: version 7 with four prices moved into the bound (ARCHITECTURE.md, "Cost
    /// table version 8"): `local` 10 → 7 (a register move the allocator often removes:
    /// its case was 3.55–3.65× overcharged), `memory_grow` 1 214 → 1 650 (a libcall:
    /// `memory.grow(0)` cost 1.9–2.4× the median per gas), `call` 1 100 → 1 200 and
    /// `call_indirect` 1 125 → 1 225 (recursion to the stack limit was at 1.7–2.0×, at
    /// the edge). Cache-hostile stores in a memory of at most 32 pages stay outside the
    /// bound, an argued exception: a store that misses L1 takes 1.6–2.3× a load that
    /// does (a read-for-ownership fill plus a dirty write-back) but `store` is priced at
    /// an eighth of `load`, capped by its cached case; no size tier below 2 MiB can price
    /// it without charging every contract's stores.
    ///
    /// Version 7: version 6 with four prices moved into the bound (ARCHITECTURE.md, "Cost
    /// table version 7"; quick calibration runs kept in `benches/calibration`): `call`
    /// 472 → 1 100 and `call_indirect` 497 → 1 125 (recursion to the stack limit, once per
    /// call, cost 2.6–3.1× the median per gas: each `$rec` frame takes ~224 bytes of
    /// fresh stack, 2 MiB for 9 000 frames, which the pool then clears; `call_indirect`
    /// must not be the cheaper way to recurse), `br_table_target` 1 → 2 (2.0–2.1×),
    /// `store` 75 → 66 (its case was 3.3× overcharged); and, in the host table
    /// (`gasket-host-api`), `log_utf8` per byte 7 → 56 and `input` per byte 1 → 3.
    ///
    /// Version 6: version 5's prices plus the memory-size surcharge on loads and stores
    /// ([`ACCESS_TIERS`]): cache-missing stores strided over a 64 MiB memory bought
    /// 12–17× the median time per gas, and `store` was at its 3× overcharge limit on
    /// cached stores, so what an access can miss is priced by the memory it can miss
    /// over (ARCHITECTURE.md, "Memory-size tiers").
    ///
    /// Version 5: version 4's prices plus the written-range charge:
    /// `memory_write_per_granule` per 4 KiB granule a write adds to the written ranges the
    /// pool clears when the instance is dropped (stores, bulk memory writes, active data
    /// segments at instantiation; ARCHITECTURE.md, "The written-range charge"): a store
    /// into a fresh resident page cost the node ~100 ns of clearing for 75 gas (260–320×
    /// the median per gas).
    ///
    /// Version 4: version 3's prices plus the page commit charge:
    /// `memory_commit_per_page` per 64 KiB page above `memory_resident_pages` (32) that
    /// comes into existence, at instantiation (initial pages) or by `memory.grow`
    /// (ARCHITECTURE.md, "Page commits and cache misses"). A page's first write costs a
    /// page fault per OS page, which no static per-store price can carry without
    /// overcharging ordinary stores thousands of times; charged where the page is
    /// committed, above what the pool keeps resident, it costs ordinary contracts
    /// nothing.
    ///
    /// Version 3: prices derived from measured time (`scripts/derive-costs.py` over
    /// `benches/calibration/x86_64-shared-v3prices-2026-12-05.json`, the calibration
    /// bench's run under version 3's charges with provisional prices), so that gas tracks
    /// time: the target is every calibration case within 2× of the median time per gas
    /// and no price overcharged more than 3×; the measured bound, and the cases that miss
    /// it (cache-missing loads and stores above all), are in ARCHITECTURE.md, "Gas
    /// calibration". About 0.0077 ns of the calibration machine per gas.
    ///
    /// What changed from version 2 and why:
    /// - the gas unit is rescaled ×50 (the smallest of the derivation's scales that meets
    ///   the bound with integer prices): per-byte and per-target work is a fraction of an
    ///   instruction and could not be priced within 3× in version 2's units (bulk memory
    ///   per byte was 40× overcharged, `memory.grow` per page 100×);
    /// - `local_init` charges per declared local at function entry (compiled code zeroes
    ///   them: a call of a function with 9 990 locals cost 2 438× the median per gas);
    /// - `br_table_target` charges per label of a `br_table` (a 4 096-label table cost
    ///   10× the median per gas: its jump table misses the instruction cache);
    /// - `bit_count` splits `clz`/`ctz`/`popcnt` out of `alu` (a chain of them cost 4.7×
    ///   the median at `alu`'s price);
    /// - every other class, dynamic price and host function formula is re-priced from its
    ///   measured time (the calibrated cases of a class are priced for the dearest), then
    ///   `store` (75) and a few host prices were moved to their 2×/3× limits as measured
    ///   in two runs of the derived table (cache-hostile stores are far above the median
    ///   per gas; `store` is as high as its own case's 3× overcharge limit allows);
    ///   `constant`, `unreachable` and `return` are below the timer's resolution or once
    ///   per call and keep about their version 2 price × 50 (48, 48, 97: the derivation
    ///   renormalises every price each round).
    ///
    /// Version 2 priced floats by class (version 1 had one `float` price and no profile
    /// that admitted floats); both priced roughly one unit per cheap native instruction.
    fn default() -> Self {
        CostTable {
            version: 8,
            structural: 0,
            constant: 48,
            local: 7,
            local_init: 154,
            global: 10,
            alu: 148,
            bit_count: 320,
            mul: 294,
            div_rem: 774,
            load: 517,
            store: 66,
            branch: 81,
            br_table: 1510,
            br_table_target: 2,
            call: 1200,
            call_indirect: 1225,
            return_: 97,
            unreachable: 48,
            memory_size: 14,
            memory_grow: 1650,
            bulk_memory: 2301,
            segment_drop: 1647,
            table_access: 57,
            table_grow: 2219,
            table_bulk: 1881,
            float_arith: 325,
            float_div_sqrt: 797,
            float_to_int: 233,
            memory_grow_per_page: 86,
            bulk_memory_per_byte: 1,
            table_per_element: 14,
            memory_resident_pages: RESIDENT_PAGES,
            memory_commit_per_page: COMMIT_PER_PAGE,
            memory_write_per_granule: WRITE_PER_GRANULE,
            memory_access_tiers: ACCESS_TIERS,
        }
    }
}

impl CostTable {
    /// The gas an operator of `class` costs each time it executes.
    #[inline]
    pub fn cost(&self, class: OpClass) -> u64 {
        match class {
            OpClass::Structural => self.structural,
            OpClass::Constant => self.constant,
            OpClass::Local => self.local,
            OpClass::LocalInit => self.local_init,
            OpClass::Global => self.global,
            OpClass::Alu => self.alu,
            OpClass::BitCount => self.bit_count,
            OpClass::Mul => self.mul,
            OpClass::DivRem => self.div_rem,
            OpClass::Load => self.load,
            OpClass::Store => self.store,
            OpClass::Branch => self.branch,
            OpClass::BrTable => self.br_table,
            OpClass::BrTableTarget => self.br_table_target,
            OpClass::Call => self.call,
            OpClass::CallIndirect => self.call_indirect,
            OpClass::Return => self.return_,
            OpClass::Unreachable => self.unreachable,
            OpClass::MemorySize => self.memory_size,
            OpClass::MemoryGrow => self.memory_grow,
            OpClass::BulkMemory => self.bulk_memory,
            OpClass::SegmentDrop => self.segment_drop,
            OpClass::TableAccess => self.table_access,
            OpClass::TableGrow => self.table_grow,
            OpClass::TableBulk => self.table_bulk,
            OpClass::FloatArith => self.float_arith,
            OpClass::FloatDivSqrt => self.float_div_sqrt,
            OpClass::FloatToInt => self.float_to_int,
        }
    }

    /// The gas an operator costs each time it executes: its class cost, plus the static
    /// per-unit charge it carries (a `br_table`'s targets).
    #[inline]
    pub fn operator_cost(&self, op: &Operator<'_>) -> u64 {
        self.classified_operator_cost(op, classify(op))
    }

    /// [`CostTable::operator_cost`] for an operator whose class (`classify(op)`) the
    /// caller already has.
    #[inline]
    pub(crate) fn classified_operator_cost(&self, op: &Operator<'_>, class: OpClass) -> u64 {
        let units = static_units(op).map_or(0, |(class, n)| self.cost(class).saturating_mul(n));
        self.cost(class).saturating_add(units)
    }

    /// The gas charged at a function's entry for zeroing its `declared_locals` (parameters
    /// excluded: the caller wrote them).
    #[inline]
    pub fn entry_cost(&self, declared_locals: u64) -> u64 {
        self.local_init.saturating_mul(declared_locals)
    }

    /// The price per unit of a size-proportional charge.
    pub fn per_unit(&self, dynamic: DynamicCost) -> u64 {
        match dynamic {
            DynamicCost::MemoryPages => self.memory_grow_per_page,
            DynamicCost::MemoryBytes => self.bulk_memory_per_byte,
            DynamicCost::TableElements => self.table_per_element,
            DynamicCost::MemoryCommit => self.memory_commit_per_page,
            DynamicCost::MemoryWrite => u64::from(self.memory_write_per_granule),
            // Per access, at the tier of the current size: no single price.
            DynamicCost::MemoryAccess => 0,
        }
    }

    /// SHA-256 of the table's canonical (borsh) encoding: identifies the prices exactly.
    pub fn fingerprint(&self) -> [u8; 32] {
        let mut hasher = Sha256::new();
        hasher.update(b"gasket-cost-table\0");
        hasher.update(borsh::to_vec(self).expect("borsh encoding into a Vec cannot fail"));
        hasher.finalize().into()
    }
}
