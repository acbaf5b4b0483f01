//! Fuzz target bodies for Gasket. Each body takes raw fuzzer bytes and panics only when an
//! invariant is broken, so the same function serves cargo-fuzz (libFuzzer, `fuzz_targets/`)
//! and the stable-Rust bounded driver in `tests/bounded.rs` that the normal test suite runs.
//! Every body returns whether the input reached the interesting part (a module accepted,
//! a contract run, ...), so drivers can check that their input streams are not all noise.
//!
//! | target | module | invariant |
//! |---|---|---|
//! | `prepare` | [`prepare`] | never panics; accepted output validates; deterministic |
//! | `compile` | [`compile`] | every module `prepare` accepts compiles for x86-64 and AArch64 |
//! | `differential` | [`differential`] | Gasket and wasmi agree on results, traps, gas, memory, globals |
//! | `artifact` | [`artifact`] | `Module::deserialize` rejects bad bytes before mapping code |
//! | `host_abi` | [`host_abi`] | host calls with hostile arguments: deterministic, state intact |

pub mod artifact;
pub mod compile;
pub mod differential;
pub mod host_abi;
pub mod near_reference;
pub mod prepare;

pub use prepare::{prepare_bytes, prepare_smith};

/// A target body: raw fuzzer bytes in, whether the input got far (see the crate docs).
pub type Body = fn(&[u8]) -> bool;

/// Every target by name: the body `fuzz/run.sh`, the bounded driver and the regression
/// corpus (`corpus/regressions/<name>/`) use.
pub const TARGETS: &[(&str, Body)] = &[
    ("prepare", prepare_bytes),
    ("prepare_smith", prepare_smith),
    ("compile", compile::compile),
    ("differential", differential::differential),
    ("artifact", artifact::artifact),
    ("host_abi", host_abi::host_abi),
];

/// The body of target `name`.
pub fn target(name: &str) -> Option<Body> {
    TARGETS.iter().find(|(n, _)| *n == name).map(|(_, f)| *f)
}
