//! What an instance's imports resolve to: host closures, global values, and declarations
//! of the memories and tables the runtime creates for the instance.

use std::collections::BTreeMap;
use std::sync::Arc;

use gasket_host_api::GuestMemory;
use gasket_singlepass::{FuncSig, TrapKind};

use crate::memory::TrackedMemory;
use crate::values::Value;

/// A host function failed; the call ends with a trap.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct HostTrap {
    /// What went wrong, for the trap's message.
    pub message: String,
    /// The trap the calling wasm code takes: `host_error` for a host failure, `out_of_gas`
    /// when the host ran out of gas, or the kind of a trap in wasm code the host function
    /// itself called (an embedder linking instances passes that trap on).
    pub kind: TrapKind,
}

impl HostTrap {
    /// A host failure with a message (trap `host_error`).
    pub fn new(message: impl Into<String>) -> HostTrap {
        HostTrap {
            message: message.into(),
            kind: TrapKind::HostError,
        }
    }

    /// A trap of a given kind, e.g. the trap of another instance's function that a host
    /// function called: the calling code traps with the same kind.
    pub fn with_kind(kind: TrapKind, message: impl Into<String>) -> HostTrap {
        HostTrap {
            message: message.into(),
            kind,
        }
    }

    /// The call ran out of gas (trap `out_of_gas`, gas used = limit).
    pub fn out_of_gas() -> HostTrap {
        HostTrap {
            message: "out of gas in a host function".into(),
            kind: TrapKind::OutOfGas,
        }
    }
}

/// What a host closure can touch: the calling instance's linear memory (bounds-checked)
/// and its gas.
pub struct HostContext<'a> {
    memory: TrackedMemory<'a>,
    gas_remaining: &'a mut u64,
}

impl<'a> HostContext<'a> {
    pub(crate) fn new(memory: TrackedMemory<'a>, gas_remaining: &'a mut u64) -> Self {
        HostContext {
            memory,
            gas_remaining,
        }
    }

    /// Reads `[ptr, ptr + len)` of linear memory.
    pub fn read(&self, ptr: u32, len: u32) -> Result<&[u8], HostTrap> {
        self.memory
            .read(ptr, len)
            .map_err(|e| HostTrap::new(e.to_string()))
    }

    /// Writes `data` at `ptr` (nothing is written if any byte is out of bounds).
    pub fn write(&mut self, ptr: u32, data: &[u8]) -> Result<(), HostTrap> {
        self.memory
            .write(ptr, data)
            .map_err(|e| HostTrap::new(e.to_string()))
    }

    /// The whole current linear memory (empty if the module has none).
    pub fn memory(&mut self) -> &mut [u8] {
        self.memory.all_mut()
    }

    /// Gas left for the call.
    pub fn gas_remaining(&self) -> u64 {
        *self.gas_remaining
    }

    /// Charges `amount` gas; if not enough is left, all of it is used and the call will
    /// trap with `out_of_gas` (return the error).
    pub fn charge_gas(&mut self, amount: u64) -> Result<(), HostTrap> {
        match self.gas_remaining.checked_sub(amount) {
            Some(left) => {
                *self.gas_remaining = left;
                Ok(())
            }
            None => {
                *self.gas_remaining = 0;
                Err(HostTrap::out_of_gas())
            }
        }
    }
}

/// The closure type of a host function.
pub type HostFn =
    dyn Fn(&mut HostContext<'_>, &[Value]) -> Result<Vec<Value>, HostTrap> + Send + Sync;

/// A host function: its signature and the closure.
#[derive(Clone)]
pub(crate) struct HostFunc {
    pub sig: FuncSig,
    pub func: Arc<HostFn>,
}

impl std::fmt::Debug for HostFunc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HostFunc").field("sig", &self.sig).finish()
    }
}

/// An import's provided definition.
#[derive(Clone, Debug)]
pub(crate) enum Definition {
    Func(HostFunc),
    Global(Value),
    /// A memory created per instance; with limits, of those limits instead of the
    /// importing module's own declaration.
    Memory(Option<Limits>),
    /// A table created per instance, like memories.
    Table(Option<Limits>),
}

/// The size limits an embedder gives an imported memory (pages) or table (elements).
/// The wasm linking rule applies: at least the declared minimum, and, if the module
/// declares a maximum, a maximum no larger.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Initial size.
    pub min: u32,
    /// Maximum size, if bounded.
    pub max: Option<u32>,
}

impl Limits {
    /// Whether these limits satisfy a module's declaration `(min, max)`.
    pub fn satisfies(&self, min: u32, max: Option<u32>) -> bool {
        self.min >= min
            && match (max, self.max) {
                (None, _) => true,
                (Some(declared), Some(provided)) => provided <= declared,
                (Some(_), None) => false,
            }
    }
}

impl std::fmt::Display for Limits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.max {
            Some(max) => write!(f, "{{min {}, max {max}}}", self.min),
            None => write!(f, "{{min {}, no max}}", self.min),
        }
    }
}

impl Definition {
    pub fn kind(&self) -> &'static str {
        match self {
            Definition::Func(_) => "func",
            Definition::Global(_) => "global",
            Definition::Memory(_) => "memory",
            Definition::Table(_) => "table",
        }
    }
}

/// Import resolver for the permissive profile (contract-profile modules need none: their
/// host ABI imports are dispatched to `gasket_host_api`, see `Instance::call_contract`).
///
/// Closures are `Send + Sync` so an instance can be moved across threads; to link
/// instances, capture an `Arc<Mutex<Instance>>` of the other instance.
#[derive(Clone, Debug, Default)]
pub struct Imports {
    pub(crate) defs: BTreeMap<(String, String), Definition>,
}

impl Imports {
    /// No imports.
    pub fn new() -> Imports {
        Imports::default()
    }

    /// Provides function `module.name` of type `sig`.
    pub fn func<F>(&mut self, module: &str, name: &str, sig: FuncSig, f: F) -> &mut Self
    where
        F: Fn(&mut HostContext<'_>, &[Value]) -> Result<Vec<Value>, HostTrap>
            + Send
            + Sync
            + 'static,
    {
        self.defs.insert(
            (module.into(), name.into()),
            Definition::Func(HostFunc {
                sig,
                func: Arc::new(f),
            }),
        );
        self
    }

    /// Provides global `module.name` with initial value `value`.
    pub fn global(&mut self, module: &str, name: &str, value: Value) -> &mut Self {
        self.defs
            .insert((module.into(), name.into()), Definition::Global(value));
        self
    }

    /// Declares that memory `module.name` may be imported; the runtime creates a fresh
    /// memory of the imported type for each instance (Gasket never shares memories).
    pub fn memory(&mut self, module: &str, name: &str) -> &mut Self {
        self.defs
            .insert((module.into(), name.into()), Definition::Memory(None));
        self
    }

    /// Like [`Imports::memory`], but the memory has `limits` (in pages), which must
    /// satisfy the importing module's declaration (else `IncompatibleImport`).
    pub fn memory_with_limits(&mut self, module: &str, name: &str, limits: Limits) -> &mut Self {
        self.defs.insert(
            (module.into(), name.into()),
            Definition::Memory(Some(limits)),
        );
        self
    }

    /// Declares that table `module.name` may be imported (created per instance, like
    /// memories).
    pub fn table(&mut self, module: &str, name: &str) -> &mut Self {
        self.defs
            .insert((module.into(), name.into()), Definition::Table(None));
        self
    }

    /// Like [`Imports::table`], with `limits` in elements.
    pub fn table_with_limits(&mut self, module: &str, name: &str, limits: Limits) -> &mut Self {
        self.defs.insert(
            (module.into(), name.into()),
            Definition::Table(Some(limits)),
        );
        self
    }

    pub(crate) fn get(&self, module: &str, name: &str) -> Option<&Definition> {
        // Contracts instantiate with no imports: skip building the key.
        if self.defs.is_empty() {
            return None;
        }
        self.defs.get(&(module.to_string(), name.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_context_checks_bounds_and_gas() {
        let mut mem = vec![0u8; 16];
        let mut gas = 10;
        let mut written = gasket_singlepass::WrittenRanges::EMPTY;
        let mut cx = HostContext::new(TrackedMemory::new(&mut mem, &mut written), &mut gas);
        cx.write(12, &[1, 2, 3, 4]).unwrap();
        assert!(cx.write(13, &[1, 2, 3, 4]).is_err());
        assert_eq!(cx.read(12, 4).unwrap(), &[1, 2, 3, 4]);
        assert!(cx.read(u32::MAX, 2).is_err());
        cx.charge_gas(4).unwrap();
        assert_eq!(cx.gas_remaining(), 6);
        let e = cx.charge_gas(7).unwrap_err();
        assert_eq!(e.kind, TrapKind::OutOfGas);
        assert_eq!(cx.gas_remaining(), 0);
        // The write widened the written range to its granule; the failed one did nothing.
        assert_eq!(written.current(), 0..gasket_singlepass::DIRTY_GRANULE);
        assert_eq!(written.ranges().count(), 1);
    }
}
