//! Gas calibration (issue 19): how much time one unit of gas buys, per cost class, per
//! host function (base and per-byte parts, over in-memory and file-backed storage) and in
//! adversarial mixes. The `calibrate` bench prints the table and writes the JSON that
//! `scripts/derive-costs.py` turns into a proposed cost table.
//!
//! Every case runs through the real pipeline: metered compile by [`gasket_vm::Engine`],
//! calls by [`gasket_vm::testing::call_contract`]; gas is split by price from the gas
//! report of [`gasket_vm::Engine::compile_for_report`].

pub mod cases;
pub mod file_storage;
pub mod measure;
pub mod prices;
pub mod program;

pub use cases::{all, Case, Part, StorageKind, Target};
pub use file_storage::FileStorage;
pub use measure::{gas_difference, measure, CalibrationError, Measurement, Settings};
pub use program::Program;

/// Whether the `calibrate` bench's FILTER selects the case `name`: FILTER is a
/// comma-separated list, each item a part of the name, or `=NAME` for that name alone
/// (`=store,cache_hostile_stores`: the cached-store case beside the hostile stores, so
/// one run compares them, without the other cases whose names contain `store`).
pub fn selected(filter: &str, name: &str) -> bool {
    filter.split(',').any(|item| match item.strip_prefix('=') {
        Some(exact) => name == exact,
        None => name.contains(item),
    })
}

#[cfg(test)]
mod tests {
    use super::selected;

    #[test]
    fn filter_items_are_parts_or_exact_names() {
        assert!(selected("hostile", "mix/cache_hostile_stores/1mib"));
        assert!(selected("=store", "store"));
        assert!(!selected("=store", "mix/cache_hostile_stores"));
        assert!(selected("=store,cache_hostile", "mix/cache_hostile_stores"));
        assert!(selected("=store,cache_hostile", "store"));
        assert!(!selected("=store,cache_hostile", "storage_write_base/file"));
    }
}
