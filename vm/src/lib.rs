//! `gasket-vm`: the runtime a chain node links, and the `gasket` command-line tool.
//!
//! An [`Engine`] holds a metering [`Profile`](gasket_metering::Profile); it prepares
//! (validates and instruments) and compiles wasm into a [`Module`], whose code is mapped
//! W^X. An [`Instance`] owns a module's linear memory, tables, globals and a native stack,
//! and runs exported functions with a gas limit, returning a [`CallOutcome`]: results or a
//! [`Trap`], and the gas used.
//!
//! Imports: permissive-profile modules get host closures and globals from [`Imports`];
//! contract-profile modules import only the host ABI, which
//! [`Instance::call_contract`] dispatches to `gasket_host_api::dispatch` with the call's
//! [`HostEnv`](gasket_host_api::HostEnv).
//!
//! The `gasket` binary (cargo feature `cli`, on by default, with its logic in the hidden
//! `cli` module) checks, instruments, compiles and runs modules; embedders that only link
//! the library turn default features off and do not pull in clap or serde.

#![deny(missing_docs)]

pub mod cache;
#[cfg(feature = "call-backend")]
#[doc(hidden)]
pub mod call_backend;
#[cfg(feature = "cli")]
#[doc(hidden)]
pub mod cli;
mod code_memory;
mod data_segments;
mod engine;
mod error;
mod gas_report;
mod imports;
mod instance;
mod instantiate;
mod libcalls;
mod memory;
mod module;
mod module_holds;
mod module_slice;
pub mod near;
mod pool;
mod runtime;
mod stack;
pub mod testing;
mod values;

pub use gasket_host_api as host_api;
pub use gasket_metering as metering;
pub use gasket_singlepass as singlepass;

pub use cache::{ArtifactError, CacheStats};
pub use code_memory::CodeMemory;
pub use engine::{Engine, EngineOptions, PoolStats};
pub use error::{CallError, EngineError, InstantiationError, LoadError, Trap};
pub use gas_report::{
    FunctionGas, GasReport, HostFunctionGas, Recording, ReportModule, WasmFrame, HOST_CLASS,
};
pub use gasket_singlepass::{FuncSig, TrapKind, ValType};
pub use imports::{HostContext, HostFn, HostTrap, Imports, Limits};
pub use instance::{CallOutcome, Instance};
pub use memory::{LinearMemory, MemoryError, PAGE_SIZE};
pub use module::{ExportType, ExternType, ImportType, Module};
pub use pool::PoolConfig;
pub use stack::NativeStack;
pub use values::{signature_string, type_name, Value};
