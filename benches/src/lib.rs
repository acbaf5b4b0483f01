//! Shared pieces of Gasket's benchmarks: the workload list, Gasket without metering or
//! without NaN canonicalization, and (feature `peers`) the peer engines behind one small
//! interface.

use gasket_vm::metering::{prepare, Profile};
use gasket_vm::singlepass::CompileOptions;
use gasket_vm::{Engine, LoadError, Module};

pub mod calibrate;
pub mod corpus;
#[cfg(feature = "peers")]
pub mod peers;
pub mod scaling;

/// Compute kernels (`fixtures/wat/workloads`, each exporting `run(n)`) with the argument
/// the benches use: sized to run for roughly a millisecond or more.
pub const WORKLOADS: &[(&str, i32)] = &[
    ("fib", 25),
    ("mix64", 1_000_000),
    ("sieve", 1_000_000),
    ("matmul", 64),
    ("sha256buf", 65_536),
    ("quicksort", 50_000),
    ("keccak", 2_000),
    ("brtable", 1_000_000),
    ("nbody", 50_000),
    ("mandelbrot", 200),
    ("stencil32", 16_384),
];

/// The float workloads of [`WORKLOADS`]: the execute bench adds `gasket_nocanon`
/// ([`compile_nocanon`]) for them.
pub const FLOAT_WORKLOADS: &[&str] = &["nbody", "mandelbrot", "stencil32"];

/// Gasket without metering: the raw module (no gas or stack intrinsics injected)
/// compiled by `gasket_singlepass::compile` and mapped with the `ModuleInfo` of the
/// prepared module. The runtime reads only imports from `ModuleInfo` (to bind the host
/// ABI); everything else comes from the artifact, so for import-free modules like the
/// workloads this runs exactly the code the compiler emits for the raw module, without
/// gas checks. Call depth is then bounded only by the native stack's guard.
pub fn compile_unmetered(engine: &Engine, wasm: &[u8]) -> Result<Module, LoadError> {
    compile_mapped(engine, wasm, false, &CompileOptions::default())
}

/// Gasket metered, as `Engine::compile` does it, but with NaN canonicalization off
/// (`CompileOptions { canonicalize_nans: false }`): what canonicalization costs. Not
/// deterministic across targets for NaN results; for measuring only.
pub fn compile_nocanon(engine: &Engine, wasm: &[u8]) -> Result<Module, LoadError> {
    compile_mapped(
        engine,
        wasm,
        true,
        &CompileOptions {
            canonicalize_nans: false,
            ..CompileOptions::default()
        },
    )
}

/// Prepares `wasm` under the engine's profile, compiles the instrumented module
/// (`metered`) or the raw one with `options`, and maps the artifact with the prepared
/// module's `ModuleInfo`.
fn compile_mapped(
    engine: &Engine,
    wasm: &[u8],
    metered: bool,
    options: &CompileOptions,
) -> Result<Module, LoadError> {
    let prepared = prepare(wasm, engine.profile())?;
    let code = if metered { &prepared.wasm[..] } else { wasm };
    let artifact = gasket_vm::singlepass::compile_with(code, engine.target(), options)?;
    Module::from_artifact(engine, artifact, prepared.info)
}

/// A call's first result as the peers' [`Runner::call`] reports it: an i32 (sign-extended)
/// or an i64, 0 when there is none.
pub fn first_int(values: &[gasket_vm::Value]) -> i64 {
    match values.first() {
        Some(gasket_vm::Value::I32(v)) => i64::from(*v),
        Some(gasket_vm::Value::I64(v)) => *v,
        _ => 0,
    }
}

/// The profile the execution benches compile with.
pub fn bench_profile() -> Profile {
    Profile::permissive()
}

/// The `VmHWM` line of `/proc/self/status` in KiB (peak resident set), if readable.
pub fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// A peer engine configured one way (e.g. Wasmtime Cranelift with fuel).
pub trait Peer {
    /// Row label, e.g. `wasmtime_cranelift_fuel`.
    fn name(&self) -> &str;
    /// Compiles (and validates) `wasm` into a module ready to instantiate.
    fn load(&self, wasm: &[u8]) -> Result<Box<dyn LoadedModule>, String>;
    /// Compiles `wasm` and drops the result (the compile benches).
    fn compile_only(&self, wasm: &[u8]) -> Result<(), String> {
        self.load(wasm).map(drop)
    }
}

/// A compiled module of a peer.
pub trait LoadedModule {
    /// A new instance (no imports), start function run.
    fn instantiate(&self) -> Result<Box<dyn Runner>, String>;
}

/// An instance of a peer, with its store; fuel is reset to the maximum before each call.
pub trait Runner {
    /// Calls `export` with no argument or one i32; returns the i32 or i64 result (0 when
    /// there is none).
    fn call(&mut self, export: &str, arg: Option<i32>) -> Result<i64, String>;
}

/// wasmi 2 (the reference interpreter), with or without fuel metering.
pub mod wasmi_peer {
    use super::{LoadedModule, Peer, Runner};

    /// wasmi with `consume_fuel` on or off.
    pub struct Wasmi {
        engine: wasmi::Engine,
        fuel: bool,
    }

    impl Wasmi {
        /// A wasmi engine.
        pub fn new(fuel: bool) -> Wasmi {
            let mut config = wasmi::Config::default();
            config.consume_fuel(fuel);
            Wasmi {
                engine: wasmi::Engine::new(&config),
                fuel,
            }
        }
    }

    impl Peer for Wasmi {
        fn name(&self) -> &str {
            if self.fuel {
                "wasmi_fuel"
            } else {
                "wasmi"
            }
        }
        fn load(&self, wasm: &[u8]) -> Result<Box<dyn LoadedModule>, String> {
            let module = wasmi::Module::new(&self.engine, wasm).map_err(|e| e.to_string())?;
            Ok(Box::new(WasmiModule {
                engine: self.engine.clone(),
                module,
                fuel: self.fuel,
            }))
        }
    }

    struct WasmiModule {
        engine: wasmi::Engine,
        module: wasmi::Module,
        fuel: bool,
    }

    impl LoadedModule for WasmiModule {
        fn instantiate(&self) -> Result<Box<dyn Runner>, String> {
            let mut store = wasmi::Store::new(&self.engine, ());
            if self.fuel {
                store.set_fuel(u64::MAX).map_err(|e| e.to_string())?;
            }
            let instance = wasmi::Linker::new(&self.engine)
                .instantiate_and_start(&mut store, &self.module)
                .map_err(|e| e.to_string())?;
            Ok(Box::new(WasmiRunner {
                store,
                instance,
                fuel: self.fuel,
            }))
        }
    }

    struct WasmiRunner {
        store: wasmi::Store<()>,
        instance: wasmi::Instance,
        fuel: bool,
    }

    impl Runner for WasmiRunner {
        fn call(&mut self, export: &str, arg: Option<i32>) -> Result<i64, String> {
            if self.fuel {
                self.store.set_fuel(u64::MAX).map_err(|e| e.to_string())?;
            }
            let f = self
                .instance
                .get_func(&self.store, export)
                .ok_or("no such export")?;
            let params: Vec<wasmi::Val> = arg.map(wasmi::Val::I32).into_iter().collect();
            let n = f.ty(&self.store).results().len();
            let mut results = vec![wasmi::Val::I64(0); n];
            f.call(&mut self.store, &params, &mut results)
                .map_err(|e| e.to_string())?;
            Ok(match results.first() {
                Some(wasmi::Val::I32(v)) => *v as i64,
                Some(wasmi::Val::I64(v)) => *v,
                _ => 0,
            })
        }
    }
}

/// wasmi with and without fuel, then (feature `peers`) Wasmtime and Wasmer.
pub fn all_peers() -> Vec<Box<dyn Peer>> {
    #[allow(unused_mut)]
    let mut peers: Vec<Box<dyn Peer>> = vec![
        Box::new(wasmi_peer::Wasmi::new(false)),
        Box::new(wasmi_peer::Wasmi::new(true)),
    ];
    #[cfg(feature = "peers")]
    peers.extend(peers::all());
    peers
}

/// [`all_peers`], plus (feature `peers`) Wasmtime with its pooling instance allocator,
/// the fastest way it instantiates: for the instantiation benchmarks only (its
/// compiled code is `wasmtime_cranelift`'s).
pub fn instantiation_peers() -> Vec<Box<dyn Peer>> {
    #[allow(unused_mut)]
    let mut peers = all_peers();
    #[cfg(feature = "peers")]
    match peers::wasmtime_pooling() {
        Ok(p) => peers.push(p),
        Err(e) => eprintln!("peer wasmtime_cranelift_pooling unavailable: {e}"),
    }
    peers
}
