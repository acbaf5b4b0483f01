//! Executing a host call: decode the raw arguments, charge gas, touch memory and state.
//!
//! Every function follows the same order, so that the point where a call fails (and the
//! gas charged by then) is the same on every engine:
//!
//! 1. check the argument count and that i32 arguments are zero-extended (`bad_arguments`);
//! 2. check size limits that depend only on the arguments (`limit_exceeded`);
//! 3. charge gas for every size known before doing any work: from the arguments, the call
//!    context, or (for `read_register` only) the register being read (`out_of_gas`);
//! 4. read guest memory (`memory_access`, `invalid_utf8`);
//! 5. look up state; if that reveals a size (`storage_read`'s value), charge it now;
//! 6. write registers (which checks register limits), guest memory or the overlay.
//!
//! Nothing observable changes before the gas for it is charged, so an out-of-gas call
//! leaves registers, logs, return data and state as they were.

use sha2::{Digest, Sha256};

use crate::abi::{HostFunction, WasmType};
use crate::env::HostEnv;
use crate::error::HostError;
use crate::gas::GasMeter;
use crate::memory::{GuestMemory, MemoryAccessError};
use crate::storage::Storage;

/// Runs host function `func` for the contract.
///
/// `args` are the raw bits of the wasm arguments: i32 values zero-extended to u64, i64
/// values as their two's-complement bits. The result, if the signature has one, is
/// returned the same way (an i32 result is always `< 2^32`).
///
/// Any error aborts the contract call; see [`HostError`] for which errors are
/// deterministic call results. Never panics, whatever the arguments.
pub fn dispatch<S: Storage + ?Sized>(
    func: HostFunction,
    args: &[u64],
    memory: &mut dyn GuestMemory,
    gas: &mut dyn GasMeter,
    env: &mut HostEnv<'_, S>,
) -> Result<Option<u64>, HostError> {
    check_args(func, args)?;
    let mut call = Call {
        func,
        args,
        memory,
        gas,
        env,
    };
    match func {
        HostFunction::ReadRegister => call.read_register(),
        HostFunction::RegisterLen => call.register_len(),
        HostFunction::Input => call.input(),
        HostFunction::ReturnValue => call.return_value(),
        HostFunction::PanicUtf8 => call.panic_utf8(),
        HostFunction::LogUtf8 => call.log_utf8(),
        HostFunction::StorageWrite => call.storage_write(),
        HostFunction::StorageRead => call.storage_read(),
        HostFunction::StorageRemove => call.storage_remove(),
        HostFunction::StorageHasKey => call.storage_has_key(),
        HostFunction::CurrentAccount => call.current_account(),
        HostFunction::Caller => call.caller(),
        HostFunction::BlockHeight => call.block_height(),
        HostFunction::BlockTimestamp => call.block_timestamp(),
        HostFunction::Sha256 => call.sha256(),
    }
}

/// Step 1: the arguments must match the signature the table declares.
fn check_args(func: HostFunction, args: &[u64]) -> Result<(), HostError> {
    let params = func.signature().params;
    if args.len() != params.len() {
        return Err(HostError::BadArguments {
            function: func.name(),
            detail: format!(
                "expected {} arguments {}, got {}",
                params.len(),
                func.signature(),
                args.len()
            ),
        });
    }
    for (i, (&arg, &ty)) in args.iter().zip(params).enumerate() {
        if ty == WasmType::I32 && arg > u64::from(u32::MAX) {
            return Err(HostError::BadArguments {
                function: func.name(),
                detail: format!(
                    "argument {i} is an i32 but has upper bits set ({arg:#x}); \
                     i32 arguments must be zero-extended"
                ),
            });
        }
    }
    Ok(())
}

/// One host call in progress: the pieces `dispatch` was given, plus helpers.
struct Call<'a, 's, S: Storage + ?Sized> {
    func: HostFunction,
    args: &'a [u64],
    memory: &'a mut dyn GuestMemory,
    gas: &'a mut dyn GasMeter,
    env: &'a mut HostEnv<'s, S>,
}

type HostResult = Result<Option<u64>, HostError>;

/// Result for a function with no results.
const NOTHING: HostResult = Ok(None);

/// Result for an i32 boolean.
fn flag(value: bool) -> HostResult {
    Ok(Some(u64::from(value)))
}

impl<S: Storage + ?Sized> Call<'_, '_, S> {
    /// Argument `i` as a u32 (pointer or length). `check_args` has verified the count
    /// and the zero extension; the fallbacks are never taken.
    fn u32_arg(&self, i: usize) -> u32 {
        self.args
            .get(i)
            .and_then(|&a| u32::try_from(a).ok())
            .unwrap_or(0)
    }

    /// Argument `i` as raw i64 bits (a register id).
    fn u64_arg(&self, i: usize) -> u64 {
        self.args.get(i).copied().unwrap_or(0)
    }

    fn name(&self) -> &'static str {
        self.func.name()
    }

    /// Step 2: a size limit that depends only on the arguments.
    fn check_limit(&self, what: &'static str, limit: u64, requested: u64) -> Result<(), HostError> {
        HostError::check_limit(self.name(), what, limit, requested)
    }

    /// Step 3: `base + per_byte * bytes`.
    fn charge(&mut self, bytes: u64) -> Result<(), HostError> {
        self.gas.charge(self.func.gas().cost(bytes))?;
        Ok(())
    }

    /// Step 5: the per-byte part only, for a size learnt after the base was charged.
    fn charge_more_bytes(&mut self, bytes: u64) -> Result<(), HostError> {
        self.gas.charge(self.func.gas().per_byte_cost(bytes))?;
        Ok(())
    }

    /// Step 4: copies `[ptr, ptr + len)` out of guest memory.
    fn read_memory(&self, ptr: u32, len: u32) -> Result<Vec<u8>, HostError> {
        self.memory
            .read(ptr, len)
            .map(<[u8]>::to_vec)
            .map_err(|e| memory_error(self.func, e))
    }

    /// Step 4 for text: reads and validates UTF-8.
    fn read_utf8(&self, ptr: u32, len: u32) -> Result<String, HostError> {
        let bytes = self.read_memory(ptr, len)?;
        String::from_utf8(bytes).map_err(|e| HostError::InvalidUtf8 {
            function: self.name(),
            valid_up_to: e.utf8_error().valid_up_to() as u64,
        })
    }

    /// Storage key arguments `(key_ptr, key_len)` at positions 0 and 1: limit check only.
    fn check_key_len(&self) -> Result<u32, HostError> {
        let key_len = self.u32_arg(1);
        self.check_limit("max_key_len", self.env.limits().max_key_len, key_len.into())?;
        Ok(key_len)
    }

    fn read_register(&mut self) -> HostResult {
        let register_id = self.u64_arg(0);
        let ptr = self.u32_arg(1);
        let Some(data) = self.env.register(register_id) else {
            return Err(HostError::RegisterNotFound { register_id });
        };
        // Field-level borrows: `data` borrows `env` while `gas` and `memory` are used.
        self.gas.charge(self.func.gas().cost(data.len() as u64))?;
        self.memory
            .write(ptr, data)
            .map_err(|e| memory_error(self.func, e))?;
        NOTHING
    }

    fn register_len(&mut self) -> HostResult {
        self.charge(0)?;
        let len = self.env.register(self.u64_arg(0)).map(|r| r.len() as u64);
        Ok(Some(len.unwrap_or(u64::MAX)))
    }

    fn input(&mut self) -> HostResult {
        self.charge(self.env.context().input.len() as u64)?;
        let data = self.env.context().input.clone();
        self.env.set_register(self.name(), self.u64_arg(0), data)?;
        NOTHING
    }

    fn return_value(&mut self) -> HostResult {
        let (ptr, len) = (self.u32_arg(0), self.u32_arg(1));
        let limit = self.env.limits().max_return_data_len;
        self.check_limit("max_return_data_len", limit, len.into())?;
        self.charge(len.into())?;
        let data = self.read_memory(ptr, len)?;
        self.env.set_return_data(data);
        NOTHING
    }

    fn panic_utf8(&mut self) -> HostResult {
        let (ptr, len) = (self.u32_arg(0), self.u32_arg(1));
        let limit = self.env.limits().max_panic_message_len;
        self.check_limit("max_panic_message_len", limit, len.into())?;
        self.charge(len.into())?;
        let message = self.read_utf8(ptr, len)?;
        Err(HostError::Panic { message })
    }

    fn log_utf8(&mut self) -> HostResult {
        let (ptr, len) = (self.u32_arg(0), self.u32_arg(1));
        let limits = *self.env.limits();
        self.check_limit("max_log_len", limits.max_log_len, len.into())?;
        let count = (self.env.logs().len() as u64).saturating_add(1);
        self.check_limit("max_logs", limits.max_logs, count)?;
        self.charge(len.into())?;
        let line = self.read_utf8(ptr, len)?;
        self.env.push_log(line);
        NOTHING
    }

    fn storage_write(&mut self) -> HostResult {
        let key_len = self.check_key_len()?;
        let (value_ptr, value_len) = (self.u32_arg(2), self.u32_arg(3));
        let limit = self.env.limits().max_value_len;
        self.check_limit("max_value_len", limit, value_len.into())?;
        self.charge(u64::from(key_len) + u64::from(value_len))?;
        let key = self.read_memory(self.u32_arg(0), key_len)?;
        let value = self.read_memory(value_ptr, value_len)?;
        flag(self.env.storage_set(&key, &value)?)
    }

    fn storage_read(&mut self) -> HostResult {
        let key_len = self.check_key_len()?;
        self.charge(key_len.into())?;
        let key = self.read_memory(self.u32_arg(0), key_len)?;
        let Some(value) = self.env.storage_get(&key)? else {
            return flag(false);
        };
        self.charge_more_bytes(value.len() as u64)?;
        self.env.set_register(self.name(), self.u64_arg(2), value)?;
        flag(true)
    }

    fn storage_remove(&mut self) -> HostResult {
        let key_len = self.check_key_len()?;
        self.charge(key_len.into())?;
        let key = self.read_memory(self.u32_arg(0), key_len)?;
        flag(self.env.storage_remove(&key)?)
    }

    fn storage_has_key(&mut self) -> HostResult {
        let key_len = self.check_key_len()?;
        self.charge(key_len.into())?;
        let key = self.read_memory(self.u32_arg(0), key_len)?;
        flag(self.env.storage_contains(&key)?)
    }

    fn current_account(&mut self) -> HostResult {
        self.charge(self.env.context().current_account.len() as u64)?;
        let data = self.env.context().current_account.clone();
        self.env.set_register(self.name(), self.u64_arg(0), data)?;
        NOTHING
    }

    fn caller(&mut self) -> HostResult {
        self.charge(self.env.context().caller.len() as u64)?;
        let data = self.env.context().caller.clone();
        self.env.set_register(self.name(), self.u64_arg(0), data)?;
        NOTHING
    }

    fn block_height(&mut self) -> HostResult {
        self.charge(0)?;
        Ok(Some(self.env.context().block_height))
    }

    fn block_timestamp(&mut self) -> HostResult {
        self.charge(0)?;
        Ok(Some(self.env.context().block_timestamp))
    }

    fn sha256(&mut self) -> HostResult {
        let (ptr, len) = (self.u32_arg(0), self.u32_arg(1));
        self.charge(len.into())?;
        let digest = {
            let data = self
                .memory
                .read(ptr, len)
                .map_err(|e| memory_error(self.func, e))?;
            Sha256::digest(data).to_vec()
        };
        self.env
            .set_register(self.name(), self.u64_arg(2), digest)?;
        NOTHING
    }
}

fn memory_error(func: HostFunction, e: MemoryAccessError) -> HostError {
    HostError::MemoryAccess {
        function: func.name(),
        ptr: e.ptr,
        len: e.len,
        memory_size: e.memory_size,
    }
}
