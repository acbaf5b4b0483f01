//! The NEAR-compatible ABI: a second host function table beside ABI v1, with NEAR's
//! import names, signatures and documented semantics, so NEAR contracts (near-sdk-rs and
//! friends) run unmodified. It shares ABI v1's machinery: [`HostEnv`](crate::HostEnv)'s
//! write overlay and registers, [`GuestMemory`](crate::GuestMemory) bounds checks,
//! [`GasMeter`](crate::GasMeter), [`HostError`](crate::HostError) and
//! [`HostLimits`](crate::HostLimits). Every engine (the Gasket runtime, the wasmi
//! reference, emulated AArch64) calls [`dispatch_near`], so they run the same host code.

mod context;
mod dispatch;
mod env;
mod promise;
mod table;

pub use context::{
    is_valid_account_id, NearContext, PromiseResult, ACCOUNT_OVERHEAD, STORAGE_PRICE_PER_BYTE,
    STORAGE_RECORD_OVERHEAD,
};
pub use dispatch::dispatch_near;
pub use env::{NearEffects, NearEnv};
pub use promise::{AccessKeyPermission, Action, NearReturn, Promise};
pub use table::{
    render_near_markdown_table, NearFunction, NearFunctionSpec, NEAR_FUNCTIONS,
    NEAR_TABLE_END_MARKER, NEAR_TABLE_START_MARKER,
};
