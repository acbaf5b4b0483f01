//! The thread-scaling workload (`gasket_benches::scaling`, the `contract` bench's
//! `threads` rows and the `scaling` binary) runs every mode to its intended end within
//! its gas: the benches themselves do not run in CI, and a gas figure that outgrew
//! `GAS` (a cost-table change) once made them panic on the first call.

use gasket_benches::scaling::{expected, outcome, GAS};
use gasket_vm::host_api::MemoryStorage;
use gasket_vm::metering::Profile;
use gasket_vm::Engine;

#[test]
fn every_mode_ends_as_intended_within_the_gas() {
    let engine = Engine::new(Profile::contract()).unwrap();
    let module = engine.load(&gasket_fixtures::wasm("pool_mix")).unwrap();
    let mut storage = MemoryStorage::default();
    for mode in 0..=4u8 {
        let out = outcome(&module, &mut storage, mode, 0x5ec2e7);
        eprintln!("mode {mode}: {:?}, gas used {}", out.status, out.gas_used);
        assert!(expected(mode)(&out.status), "mode {mode}: {:?}", out.status);
        if mode == 3 {
            // Out of gas: the whole limit.
            assert_eq!(out.gas_used, GAS);
        } else {
            // The other modes keep a margin (an out-of-gas call uses all of `GAS`), so a
            // modest cost-table change cannot turn them into out-of-gas calls.
            assert!(
                out.gas_used <= GAS / 2,
                "mode {mode} used {} of {GAS}: raise GAS",
                out.gas_used
            );
        }
    }
}
