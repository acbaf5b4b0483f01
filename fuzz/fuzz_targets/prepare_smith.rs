//! libFuzzer entry point of the `prepare_smith` target (built only by cargo-fuzz, through
//! `fuzz/cargo-fuzz/Cargo.toml`; run it with `fuzz/run.sh prepare_smith <seconds>`). The body is
//! `gasket_fuzz::prepare_smith`, which the stable driver (`fuzz/tests/bounded.rs`) runs too.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    gasket_fuzz::prepare_smith(data);
});
