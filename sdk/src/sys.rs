//! The raw host ABI v1 (host-api/README.md), one function per import, with pointers and
//! lengths as Rust types.
//!
//! On `wasm32` these are the imports from module `env`; on any other target they are the
//! in-memory mock of [`crate::mock`], with the same signatures and semantics, so the
//! safe layer ([`crate::env`]) is the same code on both and is exercised by native tests.
//! Only [`crate::env`] calls these; pointers always come from live Rust slices there.

#[cfg(target_arch = "wasm32")]
mod imports {
    #[link(wasm_import_module = "env")]
    extern "C" {
        pub fn read_register(register_id: u64, ptr: u32);
        pub fn register_len(register_id: u64) -> u64;
        pub fn input(register_id: u64);
        pub fn return_value(ptr: u32, len: u32);
        pub fn panic_utf8(ptr: u32, len: u32) -> !;
        pub fn log_utf8(ptr: u32, len: u32);
        pub fn storage_write(key_ptr: u32, key_len: u32, value_ptr: u32, value_len: u32) -> u32;
        pub fn storage_read(key_ptr: u32, key_len: u32, register_id: u64) -> u32;
        pub fn storage_remove(key_ptr: u32, key_len: u32) -> u32;
        pub fn storage_has_key(key_ptr: u32, key_len: u32) -> u32;
        pub fn current_account(register_id: u64);
        pub fn caller(register_id: u64);
        pub fn block_height() -> u64;
        pub fn block_timestamp() -> u64;
        pub fn sha256(ptr: u32, len: u32, register_id: u64);
    }
}

#[cfg(target_arch = "wasm32")]
pub use wasm::*;

#[cfg(not(target_arch = "wasm32"))]
pub use crate::mock::abi::*;

/// The wasm32 side: casts to the ABI's `i32` addresses (wasm32 pointers are 32-bit, so
/// the casts are lossless) and calls the import.
#[cfg(target_arch = "wasm32")]
mod wasm {
    use super::imports as host;

    /// Copies register `id` to `ptr`, which must have room for `register_len(id)` bytes.
    pub unsafe fn read_register(id: u64, ptr: *mut u8) {
        host::read_register(id, ptr as u32)
    }
    pub unsafe fn register_len(id: u64) -> u64 {
        host::register_len(id)
    }
    pub unsafe fn input(id: u64) {
        host::input(id)
    }
    pub unsafe fn return_value(ptr: *const u8, len: usize) {
        host::return_value(ptr as u32, len as u32)
    }
    pub unsafe fn panic_utf8(ptr: *const u8, len: usize) -> ! {
        host::panic_utf8(ptr as u32, len as u32)
    }
    pub unsafe fn log_utf8(ptr: *const u8, len: usize) {
        host::log_utf8(ptr as u32, len as u32)
    }
    pub unsafe fn storage_write(k: *const u8, kl: usize, v: *const u8, vl: usize) -> u32 {
        host::storage_write(k as u32, kl as u32, v as u32, vl as u32)
    }
    pub unsafe fn storage_read(k: *const u8, kl: usize, id: u64) -> u32 {
        host::storage_read(k as u32, kl as u32, id)
    }
    pub unsafe fn storage_remove(k: *const u8, kl: usize) -> u32 {
        host::storage_remove(k as u32, kl as u32)
    }
    pub unsafe fn storage_has_key(k: *const u8, kl: usize) -> u32 {
        host::storage_has_key(k as u32, kl as u32)
    }
    pub unsafe fn current_account(id: u64) {
        host::current_account(id)
    }
    pub unsafe fn caller(id: u64) {
        host::caller(id)
    }
    pub unsafe fn block_height() -> u64 {
        host::block_height()
    }
    pub unsafe fn block_timestamp() -> u64 {
        host::block_timestamp()
    }
    pub unsafe fn sha256(ptr: *const u8, len: usize, id: u64) {
        host::sha256(ptr as u32, len as u32, id)
    }
}
