//! libFuzzer entry point of the `artifact` target (built only by cargo-fuzz, through
//! `fuzz/cargo-fuzz/Cargo.toml`; run it with `fuzz/run.sh artifact <seconds>`). The body is
//! `gasket_fuzz::artifact::artifact`, which the stable driver (`fuzz/tests/bounded.rs`) runs too.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    gasket_fuzz::artifact::artifact(data);
});
