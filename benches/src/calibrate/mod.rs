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
