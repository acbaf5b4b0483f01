//! libFuzzer entry point of the `prepare` target (built only by cargo-fuzz, through
//! `fuzz/cargo-fuzz/Cargo.toml`; run it with `fuzz/run.sh prepare <seconds>`). The body is
//! `gasket_fuzz::prepare_bytes`, which the stable driver (`fuzz/tests/bounded.rs`) runs too.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    gasket_fuzz::prepare_bytes(data);
});
