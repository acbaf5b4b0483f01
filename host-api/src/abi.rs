//! The vocabulary of the ABI: value types, signatures, the [`HostFunction`] enum and the
//! shape of one table row ([`HostFunctionSpec`]).
//!
//! The rows themselves live in [`crate::table`]; everything on [`HostFunction`] (name,
//! signature, gas, lookup by name or index) is read from that one table, so a function's
//! name or cost can never disagree between metering, the runtime and the docs.

use core::fmt;

use borsh::{BorshDeserialize, BorshSerialize};

use crate::gas::GasFormula;
use crate::table::HOST_FUNCTIONS;

/// Version of the host ABI this crate describes. Bumped only by incompatible changes
/// (a renamed or removed function, a changed signature or meaning); appending a new
/// function at the end of the table keeps existing contracts valid.
pub const ABI_VERSION: u32 = 1;

/// Module name every contract import must use (`(import "env" "storage_write" ...)`).
pub const ENV_MODULE: &str = "env";

/// Module name reserved for the imports Gasket's metering pass injects (see
/// [`crate::Intrinsic`]). A contract that imports from it itself is rejected: otherwise it
/// could call the gas or stack counters directly and forge its own accounting.
pub const RESERVED_MODULE: &str = "gasket";

/// A wasm value type that may appear in a host signature. Floats are deliberately absent:
/// the ABI must be usable under the strict (float-free) profile.
#[derive(
    Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, BorshSerialize, BorshDeserialize,
)]
pub enum WasmType {
    /// 32-bit integer: pointers and lengths into wasm32 linear memory, booleans.
    I32,
    /// 64-bit integer: register ids, heights, timestamps, lengths that may be `-1`.
    I64,
}

impl WasmType {
    /// The wasm text-format spelling (`i32`, `i64`).
    pub const fn as_str(self) -> &'static str {
        match self {
            WasmType::I32 => "i32",
            WasmType::I64 => "i64",
        }
    }
}

impl fmt::Display for WasmType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A function type: what metering compares an import's declared type against.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Signature {
    /// Parameter types, in order.
    pub params: &'static [WasmType],
    /// Result types, in order (at most one in ABI v1).
    pub results: &'static [WasmType],
}

impl fmt::Display for Signature {
    /// Renders as `(i64, i32) -> (i32)`, the form used in error messages and docs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_types(f, self.params)?;
        f.write_str(" -> ")?;
        write_types(f, self.results)
    }
}

fn write_types(f: &mut fmt::Formatter<'_>, types: &[WasmType]) -> fmt::Result {
    f.write_str("(")?;
    for (i, ty) in types.iter().enumerate() {
        if i > 0 {
            f.write_str(", ")?;
        }
        f.write_str(ty.as_str())?;
    }
    f.write_str(")")
}

/// Every host function of ABI v1.
///
/// Declaration order is the stable dispatch index (`func as u32`, also the borsh tag):
/// compiled artifacts refer to host functions by this index, so variants are only ever
/// appended, never reordered or removed. The name, signature, cost and meaning of each
/// variant are in its row of [`crate::HOST_FUNCTIONS`] (rendered in the crate docs).
#[derive(
    Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, BorshSerialize, BorshDeserialize,
)]
#[repr(u32)]
pub enum HostFunction {
    /// `env.read_register`
    ReadRegister,
    /// `env.register_len`
    RegisterLen,
    /// `env.input`
    Input,
    /// `env.return_value`
    ReturnValue,
    /// `env.panic_utf8`
    PanicUtf8,
    /// `env.log_utf8`
    LogUtf8,
    /// `env.storage_write`
    StorageWrite,
    /// `env.storage_read`
    StorageRead,
    /// `env.storage_remove`
    StorageRemove,
    /// `env.storage_has_key`
    StorageHasKey,
    /// `env.current_account`
    CurrentAccount,
    /// `env.caller`
    Caller,
    /// `env.block_height`
    BlockHeight,
    /// `env.block_timestamp`
    BlockTimestamp,
    /// `env.sha256`
    Sha256,
}

/// The last variant of [`HostFunction`]; when appending a function, update this too.
/// The const assertions in [`crate::table`] then check the table has exactly one row per
/// variant, in declaration order.
pub(crate) const LAST_HOST_FUNCTION: HostFunction = HostFunction::Sha256;

/// One row of the ABI table: everything known about one host function.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct HostFunctionSpec {
    /// The variant this row describes; row `i` describes the variant with index `i`.
    pub function: HostFunction,
    /// Import name inside module [`ENV_MODULE`].
    pub name: &'static str,
    /// Parameter names, one per entry of `signature.params` (documentation only).
    pub param_names: &'static [&'static str],
    /// The wasm type the import must be declared with.
    pub signature: Signature,
    /// Gas charged: `gas.base + gas.per_byte * bytes`.
    pub gas: GasFormula,
    /// What "bytes" counts in the gas formula for this function.
    pub gas_bytes: &'static str,
    /// What the function does, from the contract's point of view.
    pub semantics: &'static str,
    /// The errors it can raise (every error aborts the call).
    pub errors: &'static str,
}

impl HostFunction {
    /// Every host function, in dispatch-index order (derived from the table).
    pub const ALL: &'static [HostFunction] = &crate::table::ALL_FUNCTIONS;

    /// The table row for this function.
    pub fn spec(self) -> &'static HostFunctionSpec {
        // In bounds: the const assertions in `table` check one row per variant.
        &HOST_FUNCTIONS[self as usize]
    }

    /// The import name in module [`ENV_MODULE`], e.g. `"storage_write"`.
    pub fn name(self) -> &'static str {
        self.spec().name
    }

    /// Looks a function up by its import name (exact, case-sensitive match).
    pub fn from_name(name: &str) -> Option<HostFunction> {
        HOST_FUNCTIONS
            .iter()
            .find(|row| row.name == name)
            .map(|row| row.function)
    }

    /// Looks a function up by its stable dispatch index (`func as u32`).
    pub fn from_index(index: u32) -> Option<HostFunction> {
        let index = usize::try_from(index).ok()?;
        HOST_FUNCTIONS.get(index).map(|row| row.function)
    }

    /// The stable dispatch index; the same as `self as u32`.
    pub fn index(self) -> u32 {
        self as u32
    }

    /// The wasm type the import must be declared with.
    pub fn signature(self) -> Signature {
        self.spec().signature
    }

    /// The gas formula; see [`HostFunctionSpec::gas_bytes`] for what "bytes" counts.
    pub fn gas(self) -> GasFormula {
        self.spec().gas
    }
}

impl fmt::Display for HostFunction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
