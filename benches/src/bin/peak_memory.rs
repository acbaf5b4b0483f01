//! Peak memory of compiling the largest module: the generated 2 MB module of the compile
//! bench (larger ones exceed the default limits of 1024 exports and 20 000 functions), or
//! the largest corpus contract the permissive profile accepts if that is larger. Prints one line of
//! JSON: the engine, the module size, VmHWM (peak resident set, from /proc/self/status)
//! before and after the compile, in KiB. One engine per process, so the peaks do not mix:
//!
//! `cargo run --release -p gasket-benches [--features peers] --bin peak_memory -- <engine>`
//!
//! with `<engine>` one of `gasket`, `wasmi`, or (feature `peers`) a peer's row name, e.g.
//! `wasmtime_cranelift`, `wasmer_singlepass_metering`.

use gasket_benches::{all_peers, bench_profile, peak_rss_kib};

fn main() {
    let engine_name = std::env::args().nth(1).unwrap_or_else(|| "gasket".into());
    let profile = bench_profile();
    let mut wasm = gasket_fixtures::generate::large_module(2 * 1024 * 1024);
    let mut source = "generated".to_string();
    for (path, w) in gasket_fixtures::corpus_contracts() {
        if w.len() > wasm.len() && gasket_vm::metering::prepare(&w, &profile).is_ok() {
            source = path.display().to_string();
            wasm = w;
        }
    }
    let before = peak_rss_kib().unwrap_or(0);
    let code_bytes = if engine_name == "gasket" {
        let engine = gasket_vm::Engine::new(profile).expect("engine");
        let module = engine.compile(&wasm).expect("compiles");
        module.code().len()
    } else {
        let peer = all_peers()
            .into_iter()
            .find(|p| p.name() == engine_name)
            .unwrap_or_else(|| panic!("unknown engine {engine_name}"));
        peer.compile_only(&wasm).expect("compiles");
        0
    };
    let after = peak_rss_kib().unwrap_or(0);
    println!(
        "{{\"engine\": \"{engine_name}\", \"module\": \"{source}\", \"module_bytes\": {}, \
         \"code_bytes\": {code_bytes}, \"vm_hwm_before_kib\": {before}, \
         \"vm_hwm_after_kib\": {after}, \"compile_peak_kib\": {}}}",
        wasm.len(),
        after.saturating_sub(before)
    );
}
