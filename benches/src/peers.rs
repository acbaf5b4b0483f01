//! The peer engines (feature `peers`): Wasmtime (Cranelift, Winch; fuel on and off) and
//! Wasmer singlepass (with and without `wasmer-middlewares`' metering). wasmi is always
//! available, in [`crate::wasmi_peer`].

use std::sync::Arc;

use crate::{LoadedModule, Peer, Runner};

fn err(e: impl std::fmt::Debug) -> String {
    format!("{e:?}")
}

/// Every peer of this module, in table order.
pub fn all() -> Vec<Box<dyn Peer>> {
    let mut peers: Vec<Box<dyn Peer>> = Vec::new();
    for (label, strategy) in [
        ("wasmtime_cranelift", wasmtime::Strategy::Cranelift),
        ("wasmtime_winch", wasmtime::Strategy::Winch),
    ] {
        for fuel in [false, true] {
            let name = format!("{label}{}", if fuel { "_fuel" } else { "" });
            match Wasmtime::new(name.clone(), strategy, fuel) {
                Ok(p) => peers.push(Box::new(p)),
                Err(e) => eprintln!("peer {name} unavailable: {e}"),
            }
        }
    }
    for metered in [false, true] {
        peers.push(Box::new(Wasmer { metered }));
    }
    peers
}

/// Wasmtime (Cranelift, no fuel) with the pooling instance allocator: memories, tables
/// and instances come from pre-reserved slots (its fastest instantiation).
pub fn wasmtime_pooling() -> Result<Box<dyn Peer>, String> {
    let mut pool = wasmtime::PoolingAllocationConfig::default();
    pool.total_memories(64)
        .total_tables(64)
        .total_core_instances(64);
    let mut config = wasmtime::Config::new();
    config.strategy(wasmtime::Strategy::Cranelift);
    config.allocation_strategy(wasmtime::InstanceAllocationStrategy::Pooling(pool));
    let engine = wasmtime::Engine::new(&config).map_err(err)?;
    Ok(Box::new(Wasmtime {
        name: "wasmtime_cranelift_pooling".into(),
        engine,
        fuel: false,
    }))
}

struct Wasmtime {
    name: String,
    engine: wasmtime::Engine,
    fuel: bool,
}

impl Wasmtime {
    fn new(name: String, strategy: wasmtime::Strategy, fuel: bool) -> Result<Self, String> {
        let mut config = wasmtime::Config::new();
        config.strategy(strategy);
        config.consume_fuel(fuel);
        let engine = wasmtime::Engine::new(&config).map_err(err)?;
        Ok(Wasmtime { name, engine, fuel })
    }
}

impl Peer for Wasmtime {
    fn name(&self) -> &str {
        &self.name
    }
    fn load(&self, wasm: &[u8]) -> Result<Box<dyn LoadedModule>, String> {
        let module = wasmtime::Module::new(&self.engine, wasm).map_err(err)?;
        Ok(Box::new(WasmtimeModule {
            engine: self.engine.clone(),
            module,
            fuel: self.fuel,
        }))
    }
}

struct WasmtimeModule {
    engine: wasmtime::Engine,
    module: wasmtime::Module,
    fuel: bool,
}

impl LoadedModule for WasmtimeModule {
    fn instantiate(&self) -> Result<Box<dyn Runner>, String> {
        let mut store = wasmtime::Store::new(&self.engine, ());
        if self.fuel {
            store.set_fuel(u64::MAX).map_err(err)?;
        }
        let instance = wasmtime::Instance::new(&mut store, &self.module, &[]).map_err(err)?;
        Ok(Box::new(WasmtimeRunner {
            store,
            instance,
            fuel: self.fuel,
        }))
    }
}

struct WasmtimeRunner {
    store: wasmtime::Store<()>,
    instance: wasmtime::Instance,
    fuel: bool,
}

impl Runner for WasmtimeRunner {
    fn call(&mut self, export: &str, arg: Option<i32>) -> Result<i64, String> {
        if self.fuel {
            self.store.set_fuel(u64::MAX).map_err(err)?;
        }
        let f = self
            .instance
            .get_func(&mut self.store, export)
            .ok_or("no such export")?;
        let params: Vec<wasmtime::Val> = arg.map(wasmtime::Val::I32).into_iter().collect();
        let n = f.ty(&self.store).results().len();
        let mut results = vec![wasmtime::Val::I64(0); n];
        f.call(&mut self.store, &params, &mut results)
            .map_err(err)?;
        Ok(match results.first() {
            Some(wasmtime::Val::I32(v)) => *v as i64,
            Some(wasmtime::Val::I64(v)) => *v,
            _ => 0,
        })
    }
}

struct Wasmer {
    metered: bool,
}

impl Wasmer {
    fn store(&self) -> wasmer::Store {
        use wasmer::sys::CompilerConfig;
        let mut compiler = wasmer::sys::Singlepass::new();
        if self.metered {
            // One point per operator, the middleware's own example cost function.
            let cost = |_: &wasmer::wasmparser::Operator| -> u64 { 1 };
            compiler.push_middleware(Arc::new(wasmer_middlewares::Metering::new(u64::MAX, cost)));
        }
        wasmer::Store::new(compiler)
    }
}

impl Peer for Wasmer {
    fn name(&self) -> &str {
        if self.metered {
            "wasmer_singlepass_metering"
        } else {
            "wasmer_singlepass"
        }
    }
    fn load(&self, wasm: &[u8]) -> Result<Box<dyn LoadedModule>, String> {
        let store = self.store();
        let module = wasmer::Module::new(&store, wasm).map_err(err)?;
        Ok(Box::new(WasmerModule {
            store: std::cell::RefCell::new(store),
            module,
            metered: self.metered,
        }))
    }
    fn compile_only(&self, wasm: &[u8]) -> Result<(), String> {
        // Compilation is per store engine; one store per compile keeps it cold, like the
        // others (engine creation is a few µs, negligible next to compiling MBs).
        let store = self.store();
        wasmer::Module::new(&store, wasm).map(drop).map_err(err)
    }
}

struct WasmerModule {
    store: std::cell::RefCell<wasmer::Store>,
    module: wasmer::Module,
    metered: bool,
}

impl LoadedModule for WasmerModule {
    fn instantiate(&self) -> Result<Box<dyn Runner>, String> {
        // Wasmer instances live in the store that compiled the module's engine; a fresh
        // store on the same engine per instance.
        let engine = self.store.borrow().engine().clone();
        let mut store = wasmer::Store::new(engine);
        let instance =
            wasmer::Instance::new(&mut store, &self.module, &wasmer::imports! {}).map_err(err)?;
        Ok(Box::new(WasmerRunner {
            store,
            instance,
            metered: self.metered,
        }))
    }
}

struct WasmerRunner {
    store: wasmer::Store,
    instance: wasmer::Instance,
    metered: bool,
}

impl Runner for WasmerRunner {
    fn call(&mut self, export: &str, arg: Option<i32>) -> Result<i64, String> {
        if self.metered {
            wasmer_middlewares::metering::set_remaining_points(
                &mut self.store,
                &self.instance,
                u64::MAX,
            );
        }
        let f = self.instance.exports.get_function(export).map_err(err)?;
        let params: Vec<wasmer::Value> = arg.map(wasmer::Value::I32).into_iter().collect();
        let out = f.call(&mut self.store, &params).map_err(err)?;
        Ok(match out.first() {
            Some(wasmer::Value::I32(v)) => *v as i64,
            Some(wasmer::Value::I64(v)) => *v,
            _ => 0,
        })
    }
}
