//! The calibration programs (`gasket_benches::calibrate`) compiled for AArch64 and run
//! under emulation use exactly the gas they use on x86-64, split by price the same way.
//! Only counts are compared: emulated time means nothing, so the calibration's time
//! figures are x86-64 (or whatever the bench runs natively on).

use gasket_aarch64_tests::backend;
use gasket_benches::calibrate::{self, measure::gas_by_key};
use gasket_vm::metering::Profile;
use gasket_vm::Engine;

#[test]
fn calibration_programs_use_the_same_gas_on_both_targets() {
    let native = Engine::new(Profile::contract()).expect("engine");
    let emulated = backend::engine(Profile::contract());
    for case in calibrate::all() {
        // Two iterations: the loop back edge runs, and the emulator stays fast.
        let n = 2.min(case.max_n);
        for (program, context) in [
            (&case.program, &case.context),
            (&case.baseline, &case.baseline_context),
        ] {
            let wasm = program.wasm(n).expect("the program parses");
            let x86 = gas_by_key(&native, &case, &wasm, context).expect("runs on x86-64");
            let arm = gas_by_key(&emulated, &case, &wasm, context).expect("runs on AArch64");
            assert_eq!(
                x86, arm,
                "{}: gas differs between x86-64 and AArch64",
                case.name
            );
        }
    }
}
