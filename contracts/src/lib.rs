//! Gasket's example contracts in Rust, written with `gasket-sdk`.
//!
//! Each module is one contract, and each module's file is also the crate root of its
//! wasm build (`scripts/build-rust-contracts.sh` compiles `src/<name>.rs` to
//! `wasm/<name>.wasm`, which is checked in). Compiled here, for the host, they run their
//! native unit tests against the SDK's mock; `tests/wasm.rs` runs the checked-in wasm in
//! `gasket_vm::testing::TestChain`. [`scenarios`] holds the call sequences both replay
//! (and the AArch64 emulator tests). `probe` calls every ABI function, so that the mock
//! and the VM can be compared on all of them.

pub mod counter;
pub mod escrow;
pub mod kv;
pub mod multisig;
pub mod probe;
pub mod scenarios;
pub mod token;
