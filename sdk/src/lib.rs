//! Write Gasket contracts in Rust.
//!
//! - [`env`](mod@env): safe wrappers over every host ABI v1 function (input, return data, storage,
//!   logs, panics, caller, account, block, sha256); registers are handled inside.
//! - [`methods!`]: declares methods as ordinary Rust functions and exports an entry point
//!   for each that decodes the arguments and encodes the result ([`codec`]: a borsh
//!   subset).
//! - [`storage`]: a typed [`Value`](storage::Value) under a key and a
//!   [`Map`](storage::Map) under a key prefix.
//! - On wasm32: a bump allocator suited to one fresh instance per call, and a panic
//!   handler that makes `panic!("msg")` the call's panic message (`panic_utf8`).
//! - On other targets: [`testing`], the same contract source run against an in-memory
//!   mock of the ABI in plain `cargo test`.
//!
//! A contract (`src/lib.rs` of a `cdylib` + `rlib` crate):
//!
//! ```
//! #![cfg_attr(target_arch = "wasm32", no_std)]
//! extern crate alloc;
//!
//! use gasket_sdk::storage::Value;
//!
//! const COUNT: Value<u64> = Value::new(b"count");
//!
//! gasket_sdk::methods! {
//!     pub fn increment() -> u64 {
//!         let n = COUNT.get_or_default() + 1;
//!         COUNT.set(&n);
//!         n
//!     }
//! }
//! # fn main() {
//! #     gasket_sdk::testing::reset();
//! #     assert_eq!(increment(), 1);
//! # }
//! ```
//!
//! The crate is `no_std` + `alloc` with no dependencies on wasm32 and compiles with
//! Rust 1.63 (Debian's wasm32 toolchain) as well as current stable; see sdk/README.md.
#![no_std]
#![cfg_attr(
    gasket_legacy_toolchain,
    feature(panic_info_message, alloc_error_handler)
)]

extern crate alloc;
#[cfg(not(target_arch = "wasm32"))]
extern crate std;

pub mod codec;
pub mod env;
mod methods;
pub mod storage;
mod sys;

#[cfg(target_arch = "wasm32")]
mod allocator;
#[cfg(target_arch = "wasm32")]
mod panic;

#[cfg(not(target_arch = "wasm32"))]
mod mock;
#[cfg(not(target_arch = "wasm32"))]
pub mod testing;

pub use codec::{Decode, DecodeError, Encode, Remainder};
pub use methods::Method;

/// The helpers `methods!` expands to; not an API.
#[doc(hidden)]
pub mod __private {
    pub use crate::methods::{return_encoded, Input};
}

/// Aborts the call with `message` unless `condition` holds (`env::panic_str`, no
/// formatting code).
///
/// ```should_panic
/// # gasket_sdk::testing::reset();
/// let balance = 3u64;
/// gasket_sdk::require!(balance >= 5, "insufficient balance");
/// ```
#[macro_export]
macro_rules! require {
    ($condition:expr, $message:expr $(,)?) => {
        if !$condition {
            $crate::env::panic_str($message)
        }
    };
}
