//! The NEAR-compatible ABI on the wasmi reference: [`WasmiNear`] is a
//! [`NearExecutor`](gasket_vm::near::NearExecutor) that runs the same instrumented module
//! (`gasket_metering::prepare` under the module's profile, then the canonicalizing rewrite
//! of `gasket_fixtures::canonicalize`) in wasmi, with every `env` import dispatched to the
//! very same `gasket_host_api::near::dispatch_near` over a `NearEnv`, and the call finished
//! by the same `gasket_vm::near::finish_near_call`. A [`NearChain`] built with it replays
//! any scenario; the outcomes must equal the Gasket runtime's byte for byte (return data,
//! logs, state, receipts, gas).
//!
//! [`NearChain`]: gasket_vm::near::NearChain

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::fmt;

use gasket_fixtures::reference::{classify, store_limits, OutOfGas, StackOverflow};
use gasket_fixtures::write_marks::{write_meter, WriteMeter};
use gasket_host_api::near::{dispatch_near, NearContext, NearEnv, NearFunction};
use gasket_host_api::written::MarkedMemory;
use gasket_host_api::{GasMeter, HostError, HostLimits, MemoryStorage};
use gasket_vm::near::{finish_near_call, NearExecutor, NearOutcome};
use gasket_vm::testing::HarnessError;
use gasket_vm::{Module, Trap, TrapKind};
use sha2::{Digest, Sha256};
use wasmi::{Caller, Extern, FuncType, Linker, Store, StoreLimits, Val, ValType};

use crate::differential::trap_kind;

/// wasmi error for a host function that failed; the `HostError` itself waits in the store.
#[derive(Debug)]
struct HostFailed;
impl fmt::Display for HostFailed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("host function failed")
    }
}
impl wasmi::errors::HostError for HostFailed {}

/// Store data of one NEAR call in wasmi.
struct NearStore<'s> {
    limit: u64,
    used: u64,
    height: u64,
    max_height: u64,
    store_limits: StoreLimits,
    env: NearEnv<'s, MemoryStorage>,
    failure: Option<HostError>,
    /// The written ranges and their price: stores and bulk writes charge through the
    /// rewrite's `write` helper, host functions' writes mark without a charge (as the
    /// runtime's `TrackedMemory`).
    writes: WriteMeter,
}

impl NearStore<'_> {
    /// Runs a `WriteMeter` helper (the rewrite's `write`/`write_init`) on the gas left.
    fn charge_writes(
        &mut self,
        helper: impl FnOnce(&mut WriteMeter, &mut u64) -> Result<(), gasket_host_api::OutOfGas>,
    ) -> Result<(), wasmi::Error> {
        self.writes
            .charge(self.limit, &mut self.used, helper)
            .map_err(|_| wasmi::Error::host(OutOfGas))
    }
}

/// The store's gas counter as host functions see it (like the runtime's: used counts up
/// to the limit, and an out-of-gas charge leaves it at the limit).
struct Gas<'a> {
    limit: u64,
    used: &'a mut u64,
}

impl GasMeter for Gas<'_> {
    fn charge(&mut self, amount: u64) -> Result<(), gasket_host_api::OutOfGas> {
        match self.used.checked_add(amount) {
            Some(total) if total <= self.limit => {
                *self.used = total;
                Ok(())
            }
            _ => {
                *self.used = self.limit;
                Err(gasket_host_api::OutOfGas)
            }
        }
    }

    fn remaining(&self) -> u64 {
        self.limit - *self.used
    }
}

/// The wasmi executor; caches each contract's wasmi module by the SHA-256 of its wasm.
#[derive(Default)]
pub struct WasmiNear {
    /// Each module with its write meter after instantiation (price 0).
    modules: RefCell<BTreeMap<[u8; 32], (wasmi::Module, WriteMeter)>>,
}

impl WasmiNear {
    /// A fresh executor.
    pub fn new() -> WasmiNear {
        WasmiNear::default()
    }

    fn module(
        &self,
        gasket: &Module,
        wasm: &[u8],
    ) -> Result<(wasmi::Module, WriteMeter), HarnessError> {
        let key: [u8; 32] = Sha256::digest(wasm).into();
        if let Some(m) = self.modules.borrow().get(&key) {
            return Ok(m.clone());
        }
        let fail = |e: String| HarnessError::Storage(format!("wasmi reference: {e}"));
        let prepared =
            gasket_metering::prepare(wasm, gasket.profile()).map_err(|e| fail(e.to_string()))?;
        let canonical =
            gasket_fixtures::canonicalize::canonicalize(&prepared.wasm).map_err(fail)?;
        let engine = gasket_fixtures::reference::engine(false);
        let module = wasmi::Module::new(&engine, &canonical).map_err(|e| fail(e.to_string()))?;
        let writes = write_meter(&canonical, 0).map_err(fail)?;
        self.modules
            .borrow_mut()
            .insert(key, (module.clone(), writes.clone()));
        Ok((module, writes))
    }
}

fn linker<'s>(engine: &wasmi::Engine) -> Linker<NearStore<'s>> {
    let mut linker = Linker::<NearStore<'s>>::new(engine);
    linker
        .func_wrap(
            "gasket",
            "gas",
            |mut caller: Caller<'_, NearStore<'s>>, cost: i64| {
                let s = caller.data_mut();
                let cost = cost as u64;
                if s.limit - s.used < cost {
                    s.used = s.limit;
                    return Err(wasmi::Error::host(OutOfGas));
                }
                s.used += cost;
                Ok(())
            },
        )
        .expect("fresh linker");
    linker
        .func_wrap(
            "gasket",
            "stack_enter",
            |mut caller: Caller<'_, NearStore<'s>>, frame: i32| {
                let s = caller.data_mut();
                s.height += u64::from(frame as u32);
                if s.height > s.max_height {
                    return Err(wasmi::Error::host(StackOverflow));
                }
                Ok(())
            },
        )
        .expect("fresh linker");
    linker
        .func_wrap(
            "gasket",
            "stack_leave",
            |mut caller: Caller<'_, NearStore<'s>>, frame: i32| {
                let s = caller.data_mut();
                s.height = s.height.saturating_sub(u64::from(frame as u32));
            },
        )
        .expect("fresh linker");
    linker
        .func_wrap(
            gasket_fixtures::canonicalize::REFERENCE_MODULE,
            gasket_fixtures::canonicalize::CONVERSION_OVERFLOW,
            || -> Result<(), wasmi::Error> {
                Err(wasmi::Error::host(
                    gasket_fixtures::reference::ConversionOverflow,
                ))
            },
        )
        .expect("fresh linker");
    linker
        .func_wrap(
            gasket_fixtures::canonicalize::REFERENCE_MODULE,
            gasket_fixtures::write_marks::WRITE,
            |mut caller: Caller<'_, NearStore<'s>>,
             from: i64,
             to: i64,
             bound: i64,
             pages: i32|
             -> Result<(), wasmi::Error> {
                caller
                    .data_mut()
                    .charge_writes(|w, left| w.write(from, to, bound, pages, left))
            },
        )
        .expect("fresh linker");
    linker
        .func_wrap(
            gasket_fixtures::canonicalize::REFERENCE_MODULE,
            gasket_fixtures::write_marks::WRITE_INIT,
            |mut caller: Caller<'_, NearStore<'s>>,
             segment: i32,
             dst: i64,
             src_end: i64,
             len: i64,
             pages: i32|
             -> Result<(), wasmi::Error> {
                caller
                    .data_mut()
                    .charge_writes(|w, left| w.write_init(segment, dst, src_end, len, pages, left))
            },
        )
        .expect("fresh linker");
    linker
        .func_wrap(
            gasket_fixtures::canonicalize::REFERENCE_MODULE,
            gasket_fixtures::write_marks::DROP_SEGMENT,
            |mut caller: Caller<'_, NearStore<'s>>, segment: i32| {
                caller.data_mut().writes.drop_segment(segment)
            },
        )
        .expect("fresh linker");
    for &f in NearFunction::ALL {
        let sig = f.signature();
        let ty = FuncType::new(
            vec![ValType::I64; sig.params.len()],
            vec![ValType::I64; sig.results.len()],
        );
        linker
            .func_new(
                "env",
                f.name(),
                ty,
                move |mut caller: Caller<'_, NearStore<'s>>,
                      params: &[Val],
                      results: &mut [Val]| {
                    let args: Vec<u64> =
                        params.iter().map(|v| v.i64().unwrap_or(0) as u64).collect();
                    let memory = caller.get_export("memory").and_then(Extern::into_memory);
                    let mut empty: [u8; 0] = [];
                    let (mem, data): (&mut [u8], &mut NearStore<'s>) = match memory {
                        Some(m) => m.data_and_store_mut(&mut caller),
                        None => (&mut empty, caller.data_mut()),
                    };
                    let NearStore {
                        limit,
                        used,
                        env,
                        failure,
                        writes,
                        ..
                    } = data;
                    let mut gas = Gas {
                        limit: *limit,
                        used,
                    };
                    let mut mem = MarkedMemory::new(mem, &mut writes.written);
                    match dispatch_near(f, &args, &mut mem, &mut gas, env) {
                        Ok(value) => {
                            if let (Some(v), Some(slot)) = (value, results.first_mut()) {
                                *slot = Val::I64(v as i64);
                            }
                            Ok(())
                        }
                        Err(e) => {
                            *failure = Some(e);
                            Err(wasmi::Error::host(HostFailed))
                        }
                    }
                },
            )
            .expect("fresh linker");
    }
    linker
}

impl NearExecutor for WasmiNear {
    fn call(
        &self,
        module: &Module,
        wasm: &[u8],
        method: &str,
        context: NearContext,
        limits: HostLimits,
        storage: &mut MemoryStorage,
    ) -> Result<NearOutcome, HarnessError> {
        // The same up-front check (and error) as the runtime's `call_near`.
        module.check_entry_point(method)?;
        let (wasmi_module, mut writes) = self.module(module, wasm)?;
        writes.price = module.profile().costs.memory_write_per_granule;
        let data = NearStore {
            limit: context.prepaid_gas,
            used: 0,
            height: 0,
            max_height: module.profile().stack.max_height.into(),
            store_limits: store_limits(),
            env: NearEnv::new(context.clone(), limits, storage),
            failure: None,
            writes,
        };
        let mut store = Store::new(wasmi_module.engine(), data);
        store.limiter(|s| &mut s.store_limits);
        let linker = linker(wasmi_module.engine());
        let result = linker
            .instantiate_and_start(&mut store, &wasmi_module)
            .and_then(|instance| {
                let func = instance
                    .get_func(&store, method)
                    .ok_or_else(|| wasmi::Error::new("no such export"))?;
                func.call(&mut store, &[], &mut [])
            });
        let end = match result {
            Ok(()) => Ok(()),
            Err(e) => Err(match store.data_mut().failure.take() {
                Some(host_error) => {
                    let kind = if host_error == HostError::OutOfGas {
                        TrapKind::OutOfGas
                    } else {
                        TrapKind::HostError
                    };
                    Trap {
                        kind,
                        message: Some(host_error.to_string()),
                        host_error: Some(host_error),
                    }
                }
                None => {
                    let trap = classify(e);
                    let kind = trap_kind(&trap).unwrap_or(TrapKind::HostError);
                    Trap::new(kind)
                }
            }),
        };
        let data = store.into_data();
        finish_near_call(data.env, &context, end, data.used)
    }
}
