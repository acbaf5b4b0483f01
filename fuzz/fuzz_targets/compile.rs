//! libFuzzer entry point of the `compile` target (built only by cargo-fuzz, through
//! `fuzz/cargo-fuzz/Cargo.toml`; run it with `fuzz/run.sh compile <seconds>`). The body is
//! `gasket_fuzz::compile::compile`, which the stable driver (`fuzz/tests/bounded.rs`) runs too.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    gasket_fuzz::compile::compile(data);
});
