//! The WebAssembly spec suite on the AArch64 backend, calls emulated in Unicorn
//! (`gasket_aarch64_tests::backend`), with the x86-64 runner (`vm/tests/spec_runner/`):
//! the `execution-aarch64` section of `CONFORMANCE.md`, whose counts must equal the
//! `execution` section's.

#[path = "../../vm/tests/spec_runner/mod.rs"]
mod spec_runner;

use gasket_aarch64_tests::backend;
use gasket_vm::metering::Profile;

#[test]
fn spec_suite_execution_aarch64() {
    let engine = backend::engine(Profile::permissive());
    spec_runner::run_and_check(
        &engine,
        &spec_runner::Section {
            name: "execution-aarch64",
            heading: "## Execution on AArch64 (gasket-vm, AArch64 code emulated in Unicorn)",
            source: "aarch64-tests/tests/spec.rs",
            bless: "GASKET_BLESS=1 cargo test -p gasket-aarch64-tests --features emu --test spec",
        },
    );
    // Same counts, file by file, as the committed x86-64 run.
    let text = std::fs::read_to_string(gasket_fixtures::conformance::path()).unwrap();
    let rows = |section: &str| -> Vec<String> {
        let begin = format!("<!-- section:{section} -->");
        let end = format!("<!-- /section:{section} -->");
        let start = text
            .find(&begin)
            .unwrap_or_else(|| panic!("no section {section}"));
        let stop = start + text[start..].find(&end).unwrap();
        text[start..stop]
            .lines()
            .filter(|l| l.starts_with("| `") || l.starts_with("| **total"))
            .map(str::to_string)
            .collect()
    };
    let (x64, a64) = (rows("execution"), rows("execution-aarch64"));
    assert!(x64.len() > 80, "the x86-64 section lists every file");
    assert_eq!(a64, x64, "AArch64 and x86-64 pass counts differ");
}
