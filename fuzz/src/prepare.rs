//! Target `prepare`: arbitrary bytes and wasm-smith modules into the metering pass.

use arbitrary::Unstructured;
use gasket_metering::{prepare, Profile};
use wasmparser::{Validator, WasmFeatures};

/// `prepare` on arbitrary bytes: never panics; accepted output validates as plain wasm 2.0
/// and is byte-for-byte deterministic. Returns whether any profile accepted the input.
pub fn prepare_bytes(data: &[u8]) -> bool {
    let permissive = check_prepare(data, &Profile::permissive());
    check_prepare(data, &Profile::contract()) || permissive
}

/// `prepare` on a wasm-smith module shaped by the fuzzer's bytes, with floats and SIMD
/// sometimes enabled so rejections are exercised too. Returns whether it was accepted.
pub fn prepare_smith(data: &[u8]) -> bool {
    let mut u = Unstructured::new(data);
    let Ok(mut config) = u.arbitrary::<wasm_smith::Config>() else {
        return false;
    };
    config.simd_enabled &= data.first().is_some_and(|b| b & 1 == 1);
    config.threads_enabled = false;
    config.max_memories = config.max_memories.min(2);
    let Ok(module) = wasm_smith::Module::new(config, &mut u) else {
        return false;
    };
    check_prepare(&module.to_bytes(), &Profile::permissive())
}

fn check_prepare(wasm: &[u8], profile: &Profile) -> bool {
    let Ok(first) = prepare(wasm, profile) else {
        return false;
    };
    let mut validator = Validator::new_with_features(WasmFeatures::WASM2);
    if let Err(e) = validator.validate_all(&first.wasm) {
        panic!("prepare accepted a module but produced invalid wasm: {e}");
    }
    let second = prepare(wasm, profile).expect("the second prepare of an accepted module succeeds");
    assert!(first == second, "prepare is not deterministic");
    true
}
