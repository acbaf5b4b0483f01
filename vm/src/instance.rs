//! An instance: a module's state (memory, tables, globals) plus the native stack its code
//! runs on, and the calls into it.

use std::mem::ManuallyDrop;
use std::ptr::NonNull;
use std::sync::Arc;

use gasket_host_api::near::NearEnv;
use gasket_host_api::{HostEnv, Storage};
use gasket_singlepass::{ExportKind, FuncSig, TrapKind, VmCtx};

use crate::error::{CallError, InstantiationError, Trap};
use crate::imports::Imports;
use crate::instantiate;
use crate::module::Module;
use crate::module_holds::HoldTicket;
use crate::pool::Lease;
use crate::runtime::{ContractHost, Runtime};
use crate::stack::NativeStack;
use crate::values::{type_name, Value};

/// Deterministic stack units a call is granted up front (the rest waits in
/// `VmCtx::stack_reserve`; the grant stub tops up by `STACK_GRANT_UNITS` when a frame does
/// not fit). Small, because what was granted is what the pool clears afterwards: 32 units
/// (≤ 1 KiB of native stack) cover a shallow call such as an empty method.
const FIRST_STACK_GRANT: u64 = 32;

/// The entry trampoline's type (see `gasket_singlepass::Artifact`).
type Trampoline = unsafe extern "C" fn(*mut VmCtx, *const u8, *mut u64) -> u32;

/// How a call ended: its values or a trap, and the gas it used (on `out_of_gas`, exactly
/// the limit).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CallOutcome {
    /// The results, or the trap that stopped the call.
    pub result: Result<Vec<Value>, Trap>,
    /// Gas used, instructions and host functions together.
    pub gas_used: u64,
}

/// An instantiated module. Not shared between threads while running, but `Send`: put it in
/// an `Arc<Mutex<_>>` to call it from another instance's host function (closures are
/// `Send + Sync`, so `Rc` cannot be captured; lock with `try_lock` so a cycle becomes a
/// host error instead of a deadlock). Each instance has its own native stack, so nesting
/// calls is safe.
#[derive(Debug)]
pub struct Instance {
    /// The module, sharing the strong reference of the calling thread's hold
    /// (`module_holds`) instead of taking its own: never dropped, and not counted as a
    /// handle. Valid while `hold` is held.
    module: ManuallyDrop<Module>,
    /// This instance's count in its module's holds (given back last, on drop).
    hold: Option<HoldTicket>,
    /// Dropped on drop before the hold is given back: it points into the module.
    pub(crate) rt: ManuallyDrop<Box<Runtime>>,
    /// Taken back into the engine's pool on drop (the only place it is taken).
    stack: ManuallyDrop<NativeStack>,
    /// Gas the start function used (0 without one).
    start_gas_used: u64,
    /// This instance's place in the pool's count of live instances (taken back on drop).
    lease: Option<Lease>,
}

impl Drop for Instance {
    /// Returns the memory and the stack to the engine's pool, cleared (see `pool`).
    fn drop(&mut self) {
        let pool = &self.module.inner.pool;
        let written = self.rt.written();
        if let Some(memory) = self.rt.memory.take() {
            pool.give_memory(memory, written);
        }
        // SAFETY: `stack` is taken only here, once, and never used afterwards.
        let stack = unsafe { ManuallyDrop::take(&mut self.stack) };
        pool.give_stack(stack);
        if let Some(lease) = self.lease.take() {
            pool.release(lease);
        }
        // SAFETY: `rt` is dropped only here, once, and never used afterwards.
        unsafe { ManuallyDrop::drop(&mut self.rt) };
        if let Some(hold) = self.hold.take() {
            // The returned reference may be the module's last: dropped after `release`'s
            // borrow of the module ends, and nothing reads the module afterwards.
            drop(self.module.inner.holds.release(hold));
        }
    }
}

impl Instance {
    /// Instantiates `module`: resolves `imports`, creates memory and tables, evaluates
    /// globals, applies segments and runs the start function with `start_gas` gas (a
    /// trap there fails instantiation). The start function has no `HostEnv`: host ABI
    /// calls in it trap.
    ///
    /// The memory and the native stack come from the engine's pool when it has a scrubbed
    /// one (see [`PoolConfig`](crate::PoolConfig)); they go back to it when the instance
    /// is dropped.
    pub fn new(
        module: &Module,
        imports: &Imports,
        start_gas: u64,
    ) -> Result<Instance, InstantiationError> {
        let pool = &module.inner.pool;
        let lease = pool
            .lease()
            .map_err(|limit| InstantiationError::PoolExhausted { limit })?;
        let size = NativeStack::size_for(module.profile().stack.max_height);
        let stack = match pool.take_stack(size) {
            Some(stack) => stack,
            None => match NativeStack::new(size) {
                Ok(stack) => stack,
                Err(source) => {
                    pool.release(lease);
                    return Err(InstantiationError::Resources {
                        what: "native stack",
                        source,
                    });
                }
            },
        };
        let rt = match instantiate::build(module, imports) {
            Ok(rt) => rt,
            Err(e) => {
                pool.give_stack(stack);
                pool.release(lease);
                return Err(e);
            }
        };
        let hold = module.inner.holds.acquire(&module.inner);
        // SAFETY: a second `Arc` for the strong reference the hold just took or already
        // had, which the hold keeps until `hold` is released in `drop`; never dropped
        // itself (`ManuallyDrop`), so the count stays exact.
        let shared = unsafe { Arc::from_raw(Arc::as_ptr(&module.inner)) };
        let mut instance = Instance {
            module: ManuallyDrop::new(Module { inner: shared }),
            hold: Some(hold),
            rt: ManuallyDrop::new(rt),
            stack: ManuallyDrop::new(stack),
            start_gas_used: 0,
            lease: Some(lease),
        };
        if let Some(start) = module.artifact().module.start {
            let (result, gas_used) = instance.invoke(start, &[], 0, start_gas);
            if let Err(trap) = result {
                return Err(InstantiationError::Trap(trap));
            }
            instance.start_gas_used = gas_used;
        }
        Ok(instance)
    }

    /// Gas the start function used during instantiation (0 if the module has none), so
    /// an embedder can charge instantiation like a call.
    pub fn start_gas_used(&self) -> u64 {
        self.start_gas_used
    }

    /// The module this is an instance of.
    pub fn module(&self) -> &Module {
        &self.module
    }

    /// Calls exported function `export` with `args` and at most `gas_limit` gas.
    ///
    /// `Err` means the call could not start (nothing ran, no gas used); a trap is a
    /// normal outcome. Host ABI imports trap here: use [`Instance::call_contract`].
    pub fn call(
        &mut self,
        export: &str,
        args: &[Value],
        gas_limit: u64,
    ) -> Result<CallOutcome, CallError> {
        let index = self.module.exported_function(export)?;
        let sig = self.sig(index);
        if args.len() != sig.params.len() {
            return Err(CallError::ArgumentCount {
                name: export.into(),
                expected: sig.params.len(),
                got: args.len(),
                signature: crate::values::signature_string(sig),
            });
        }
        let mut bits = Vec::with_capacity(args.len());
        for (i, (arg, &ty)) in args.iter().zip(&sig.params).enumerate() {
            let encoded = if arg.ty() == ty {
                self.rt.encode(*arg).ok()
            } else {
                None
            };
            let Some(b) = encoded else {
                return Err(CallError::ArgumentType {
                    name: export.into(),
                    index: i,
                    expected: type_name(ty),
                    got: arg.to_string(),
                });
            };
            bits.push(b);
        }
        self.run(index, &bits, gas_limit)
    }

    /// Calls contract entry point `export` (no parameters) with the host ABI dispatched to
    /// `env`, which collects the call's registers, logs, return data and state writes: the
    /// caller commits or discards it depending on the outcome.
    pub fn call_contract<S: Storage + ?Sized>(
        &mut self,
        export: &str,
        env: &mut HostEnv<'_, S>,
        gas_limit: u64,
    ) -> Result<CallOutcome, CallError> {
        self.call_with_host(export, env, gas_limit)
    }

    /// Calls NEAR contract method `export` (no parameters) with the NEAR-compatible host
    /// functions dispatched to `env` (module compiled with the `near` profile); the caller
    /// commits or discards `env` depending on the outcome.
    pub fn call_near<S: Storage + ?Sized>(
        &mut self,
        export: &str,
        env: &mut NearEnv<'_, S>,
        gas_limit: u64,
    ) -> Result<CallOutcome, CallError> {
        self.call_with_host(export, env, gas_limit)
    }

    /// A parameterless call with host ABI calls dispatched to `host`.
    fn call_with_host(
        &mut self,
        export: &str,
        host: &mut (dyn ContractHost + '_),
        gas_limit: u64,
    ) -> Result<CallOutcome, CallError> {
        let index = self.module.exported_function(export)?;
        let sig = self.sig(index);
        if !sig.params.is_empty() {
            return Err(CallError::ArgumentCount {
                name: export.into(),
                expected: sig.params.len(),
                got: 0,
                signature: crate::values::signature_string(sig),
            });
        }
        if self.rt.running {
            return Err(CallError::Reentrant);
        }
        let host = NonNull::from(host);
        // SAFETY: only the lifetime is erased. The pointer is stored for the duration of
        // this call and cleared below before `env`'s borrow ends; libcalls use it only
        // while the call runs.
        let host: NonNull<dyn ContractHost + 'static> = unsafe { std::mem::transmute(host) };
        self.rt.contract_host = Some(host);
        let outcome = self.run(index, &[], gas_limit);
        self.rt.contract_host = None;
        outcome
    }

    /// The current value of exported global `name`.
    pub fn global(&self, name: &str) -> Option<Value> {
        let index = self.export_index(name, ExportKind::Global)?;
        instantiate::global_value(&self.rt, &self.module, index)
    }

    /// The current number of elements of exported table `name`.
    pub fn table_size(&self, name: &str) -> Option<u32> {
        let index = self.export_index(name, ExportKind::Table)?;
        let table = self.rt.tables.get(index as usize)?;
        Some(table.elems.len() as u32)
    }

    /// The index of export `name` if it is of `kind`.
    fn export_index(&self, name: &str, kind: ExportKind) -> Option<u32> {
        match self.module.export(name)? {
            (k, index) if k == kind => Some(index),
            _ => None,
        }
    }

    /// The current bytes of linear memory (empty if the module has none).
    pub fn memory(&self) -> &[u8] {
        self.rt.memory.as_ref().map_or(&[], |m| m.as_slice())
    }

    /// The current bytes of linear memory, writable (for harnesses that place input).
    pub fn memory_mut(&mut self) -> &mut [u8] {
        self.rt.memory_mut()
    }

    /// The signature of function `index`, checked by `exported_function`.
    fn sig(&self, index: u32) -> &FuncSig {
        static NONE: FuncSig = FuncSig {
            params: Vec::new(),
            results: Vec::new(),
        };
        self.module.func_sig(index).unwrap_or(&NONE)
    }

    fn run(&mut self, index: u32, args: &[u64], gas_limit: u64) -> Result<CallOutcome, CallError> {
        if self.rt.running {
            return Err(CallError::Reentrant);
        }
        let results = self.sig(index).results.len();
        let (result, gas_used) = self.invoke(index, args, results, gas_limit);
        let result = result.map(|bits| {
            let sig = self.module.func_sig(index);
            let types = sig.map_or(&[][..], |s| &s.results[..]);
            bits.iter()
                .zip(types)
                .map(|(&b, &ty)| self.rt.decode(ty, b))
                .collect()
        });
        Ok(CallOutcome { result, gas_used })
    }

    /// Runs function `index` through the entry trampoline on this instance's stack.
    fn invoke(
        &mut self,
        index: u32,
        args: &[u64],
        results: usize,
        gas_limit: u64,
    ) -> (Result<Vec<u64>, Trap>, u64) {
        let malformed = |what: &str| {
            (
                Err(Trap::with_message(
                    TrapKind::HostError,
                    format!("cannot call function {index}: {what}; recompile the module"),
                )),
                0,
            )
        };
        let module = &self.module.inner;
        let Some(trampoline) = module.code.at(module.artifact.entry_trampoline) else {
            return malformed("the artifact has no entry trampoline");
        };
        let Some(func) = self
            .rt
            .funcrefs
            .get(index as usize)
            .map(|f| f.code)
            .filter(|c| !c.is_null())
        else {
            return malformed("no code");
        };
        let slots = args.len().max(results);
        let area = (slots * 8).next_multiple_of(16);
        if area > self.stack.usable() / 2 {
            return malformed("too many parameters or results");
        }
        // `area <= usable / 2`, so this stays inside the stack mapping; the top is
        // page-aligned and `area` a multiple of 16, so `slots_ptr` is 16-byte aligned.
        let slots_ptr = self.stack.top().wrapping_sub(area).cast::<u64>();
        for (i, &a) in args.iter().enumerate() {
            // SAFETY: slot `i < slots` lies in the area just below the stack top.
            unsafe { slots_ptr.add(i).write(a) };
        }

        // Everything done through `self.rt` happens before `reset_vmctx` derives the
        // pointer libcalls use, and nothing touches `self.rt` until the call returns.
        self.rt.running = true;
        self.rt.failure = None;
        self.rt.lowest_libcall_sp = usize::MAX;
        #[cfg(feature = "call-backend")]
        let native = module.backend.is_none();
        #[cfg(not(feature = "call-backend"))]
        let native = true;
        self.rt.libcalls_on_host_stack = native;
        self.rt.reset_vmctx();
        let max_height = u64::from(module.profile.stack.max_height);
        let first_grant = max_height.min(FIRST_STACK_GRANT);
        let vmctx = self.rt.vmctx();
        // SAFETY: the vmctx the state owns; no call is running.
        unsafe {
            (*vmctx).gas_remaining = gas_limit;
            (*vmctx).stack_limit = first_grant;
            (*vmctx).stack_reserve = max_height - first_grant;
        }
        // SAFETY: `trampoline` is the entry trampoline inside the module's mapped code,
        // which has this C signature (Artifact docs).
        let trampoline: Trampoline = unsafe { std::mem::transmute(trampoline) };
        // SAFETY: the vmctx is fully initialised and owned by `self.rt` (which outlives the
        // call); `func` is a function entry of the same code; `slots_ptr` is the 16-byte
        // aligned top of this instance's own stack, with `max(params, results)` slots
        // above it. Generated code bounds-checks memory and tables and enforces the
        // deterministic stack limit, which fits in the stack (32 bytes per unit plus
        // 1 MiB of headroom; libcalls run host code on the host thread's stack).
        #[cfg(feature = "call-backend")]
        let code = match &module.backend {
            // SAFETY: as for the native call below; the backend follows the trampoline's
            // contract.
            Some(backend) => unsafe {
                backend.call(&crate::call_backend::EntryCall {
                    trampoline: trampoline as *const u8,
                    vmctx,
                    func,
                    args: slots_ptr,
                    code: module.code.as_ptr() as usize
                        ..module.code.as_ptr() as usize + module.code.len(),
                    stack: self.stack.limit() as usize..self.stack.top() as usize,
                })
            },
            // SAFETY: see below.
            None => unsafe { trampoline(vmctx, func, slots_ptr) },
        };
        #[cfg(not(feature = "call-backend"))]
        // SAFETY: see above.
        let code = unsafe { trampoline(vmctx, func, slots_ptr) };
        self.rt.running = false;
        // SAFETY: the call is over; the vmctx is ours again.
        let (gas_remaining, reserve_left) =
            unsafe { ((*vmctx).gas_remaining, (*vmctx).stack_reserve) };
        let granted = (code != TrapKind::StackOverflow.code())
            .then(|| max_height.saturating_sub(reserve_left));
        self.stack
            .note_call(area, granted, self.rt.lowest_libcall_sp);
        let mut gas_used = gas_limit.saturating_sub(gas_remaining);
        if code == 0 {
            // SAFETY: the slots written by the callee, inside the area above.
            let values = (0..results)
                .map(|i| unsafe { slots_ptr.add(i).read() })
                .collect();
            return (Ok(values), gas_used);
        }
        let failure = self.rt.failure.take();
        let trap = match TrapKind::from_code(code) {
            Some(kind) => match failure {
                Some(f) if f.kind == kind => f,
                _ => Trap::new(kind),
            },
            None => Trap::with_message(
                TrapKind::HostError,
                format!("generated code returned unknown trap code {code}"),
            ),
        };
        if trap.kind == TrapKind::OutOfGas {
            gas_used = gas_limit;
        }
        (Err(trap), gas_used)
    }
}

#[cfg(test)]
#[path = "instance_stack_tests.rs"]
mod stack_tests;

// Hand-written x86-64 machine code stands in for the compiler there.
#[cfg(all(test, target_arch = "x86_64"))]
#[path = "instance_tests.rs"]
mod tests;
