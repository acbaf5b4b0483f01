//! libFuzzer entry point of the `differential` target (built only by cargo-fuzz, through
//! `fuzz/cargo-fuzz/Cargo.toml`; run it with `fuzz/run.sh differential <seconds>`). The body is
//! `gasket_fuzz::differential::differential`, which the stable driver (`fuzz/tests/bounded.rs`) runs too.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    gasket_fuzz::differential::differential(data);
});
