//! The WebAssembly spec suite on x86-64: the `execution` section of `CONFORMANCE.md`
//! (the runner is `spec_runner/`, shared with the AArch64 emulated run).

mod spec_runner;

use gasket_vm::metering::Profile;
use gasket_vm::Engine;

#[test]
fn spec_suite_execution() {
    let engine = Engine::new(Profile::permissive()).expect("this machine runs Gasket");
    spec_runner::run_and_check(
        &engine,
        &spec_runner::Section {
            name: "execution",
            heading: "## Execution (gasket-vm: compile, instantiate, call on x86-64)",
            source: "vm/tests/spec_exec.rs",
            bless: "GASKET_BLESS=1 cargo test -p gasket-vm --test spec_exec",
        },
    );
}
