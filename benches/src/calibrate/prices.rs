//! The prices in force, by the price keys the calibration uses: the derivation's
//! starting point (it needs each price to turn gas back into operation counts).

use std::collections::BTreeMap;

use gasket_vm::host_api::HostFunction;
use gasket_vm::metering::{CostTable, DynamicCost, OpClass};

/// Every cost class of the cost table.
pub const CLASSES: &[OpClass] = &[
    OpClass::Structural,
    OpClass::Constant,
    OpClass::Local,
    OpClass::LocalInit,
    OpClass::Global,
    OpClass::Alu,
    OpClass::BitCount,
    OpClass::Mul,
    OpClass::DivRem,
    OpClass::Load,
    OpClass::Store,
    OpClass::Branch,
    OpClass::BrTable,
    OpClass::BrTableTarget,
    OpClass::Call,
    OpClass::CallIndirect,
    OpClass::Return,
    OpClass::Unreachable,
    OpClass::MemorySize,
    OpClass::MemoryGrow,
    OpClass::BulkMemory,
    OpClass::SegmentDrop,
    OpClass::TableAccess,
    OpClass::TableGrow,
    OpClass::TableBulk,
    OpClass::FloatArith,
    OpClass::FloatDivSqrt,
    OpClass::FloatToInt,
];

/// Every size-proportional charge of the cost table.
pub const DYNAMIC: &[DynamicCost] = &[
    DynamicCost::MemoryPages,
    DynamicCost::MemoryBytes,
    DynamicCost::TableElements,
    DynamicCost::MemoryCommit,
    DynamicCost::MemoryWrite,
];

/// Price key → gas: the cost-table fields by their gas-report names, and
/// `host:<function>:base` / `host:<function>:per_byte` for every host function.
pub fn prices(table: &CostTable) -> BTreeMap<String, u64> {
    let mut prices: BTreeMap<String, u64> = CLASSES
        .iter()
        .map(|&class| (class.name().to_string(), table.cost(class)))
        .collect();
    for &dynamic in DYNAMIC {
        prices.insert(dynamic.name().to_string(), table.per_unit(dynamic));
    }
    for &function in HostFunction::ALL {
        let gas = function.gas();
        prices.insert(format!("host:{}:base", function.name()), gas.base);
        prices.insert(format!("host:{}:per_byte", function.name()), gas.per_byte);
    }
    prices
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_class_is_listed_once() {
        let mut names: Vec<&str> = CLASSES.iter().map(|c| c.name()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), CLASSES.len());
        let prices = prices(&CostTable::default());
        assert_eq!(prices["alu"], CostTable::default().alu);
        assert_eq!(
            prices["memory_grow_per_page"],
            CostTable::default().memory_grow_per_page
        );
        assert_eq!(prices["local_init"], CostTable::default().local_init);
        assert_eq!(
            prices["br_table_target"],
            CostTable::default().br_table_target
        );
        assert_eq!(
            prices["host:sha256:per_byte"],
            HostFunction::Sha256.gas().per_byte
        );
    }
}
