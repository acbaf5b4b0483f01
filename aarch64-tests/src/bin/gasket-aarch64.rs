//! `gasket-aarch64`: the `gasket` command line (`gasket_vm::cli`) whose `run --target
//! aarch64` (the default here) executes the AArch64 backend's code in the Unicorn emulator
//! ([`EmuBackend`](gasket_aarch64_tests::backend::EmuBackend)); `--target x86_64` runs
//! natively on an x86-64 host, through the same code as `gasket`.
//!
//! A separate program because Unicorn is GPL-2.0 and must never be linked into `gasket` or
//! the library embedders link: `gasket run --target aarch64` on a host that is not AArch64
//! starts this program (next to itself, on PATH, or at `$GASKET_AARCH64`) with the same
//! arguments. Build it with `cargo build --release -p gasket-aarch64-tests --features emu`.

use std::process::ExitCode;

use gasket_aarch64_tests::backend;
use gasket_vm::cli::Engines;
use gasket_vm::metering::Profile;
use gasket_vm::singlepass::Target;
use gasket_vm::{Engine, EngineError};

/// AArch64 under emulation, and the host's own target natively.
struct EmulatedEngines;

impl Engines for EmulatedEngines {
    fn default_target(&self) -> Target {
        Target::Aarch64
    }

    fn runs(&self, target: Target) -> bool {
        target == Target::Aarch64 || Target::host() == Some(target)
    }

    fn engine(&self, target: Target, profile: Profile) -> Result<Engine, EngineError> {
        match target {
            Target::Aarch64 => Ok(backend::engine(profile)),
            _ => Engine::new(profile),
        }
    }
}

fn main() -> ExitCode {
    gasket_vm::cli::main_with(&EmulatedEngines)
}
