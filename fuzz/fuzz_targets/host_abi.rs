//! libFuzzer entry point of the `host_abi` target (built only by cargo-fuzz, through
//! `fuzz/cargo-fuzz/Cargo.toml`; run it with `fuzz/run.sh host_abi <seconds>`). The body is
//! `gasket_fuzz::host_abi::host_abi`, which the stable driver (`fuzz/tests/bounded.rs`) runs too.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    gasket_fuzz::host_abi::host_abi(data);
});
