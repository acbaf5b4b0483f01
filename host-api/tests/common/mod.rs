//! Helpers shared by the integration tests.
// Each test crate uses a different subset of these helpers.
#![allow(dead_code)]

use gasket_host_api::{
    dispatch, CallContext, GasCounter, HostEnv, HostError, HostFunction, Storage,
};

pub const MEMORY_SIZE: usize = 1024;
pub const LOTS_OF_GAS: u64 = 1_000_000_000;

pub fn context() -> CallContext {
    CallContext {
        current_account: b"alice.gasket".to_vec(),
        caller: b"bob".to_vec(),
        block_height: 42,
        block_timestamp: 1_700_000_000_123_456_789,
        input: b"{\"amount\":7}".to_vec(),
    }
}

/// Guest memory with `data` copied in at `ptr`.
pub fn memory_with(ptr: usize, data: &[u8]) -> Vec<u8> {
    let mut memory = vec![0u8; MEMORY_SIZE];
    memory[ptr..ptr + data.len()].copy_from_slice(data);
    memory
}

pub fn call<S: Storage + ?Sized>(
    env: &mut HostEnv<'_, S>,
    memory: &mut [u8],
    gas: &mut GasCounter,
    func: HostFunction,
    args: &[u64],
) -> Result<Option<u64>, HostError> {
    // A borrowed slice is passed as `&mut &mut [u8]` (the `[u8]` itself is unsized).
    let mut memory = memory;
    dispatch(func, args, &mut memory, gas, env)
}

pub fn cost(func: HostFunction, bytes: u64) -> u64 {
    func.gas().cost(bytes)
}
