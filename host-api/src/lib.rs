#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod abi;
pub mod access;
mod dispatch;
mod env;
mod error;
mod gas;
mod intrinsic;
mod limits;
mod markdown;
mod memory;
pub mod near;
mod storage;
pub mod table;
pub mod written;

pub use abi::{
    HostFunction, HostFunctionSpec, Signature, WasmType, ABI_VERSION, ENV_MODULE, RESERVED_MODULE,
};
pub use dispatch::dispatch;
pub use env::{CallContext, CallEffects, HostEnv, StateChange};
pub use error::HostError;
pub use gas::{GasCounter, GasFormula, GasMeter, OutOfGas};
pub use intrinsic::Intrinsic;
pub use limits::HostLimits;
pub use markdown::{render_markdown_table, TABLE_END_MARKER, TABLE_START_MARKER};
pub use memory::{GuestMemory, MemoryAccessError};
pub use storage::{MemoryStorage, Storage, StorageError};
pub use table::HOST_FUNCTIONS;
