//! Executing a NEAR host call. Same order of steps as ABI v1's `dispatch` (argument
//! count, size limits, gas, memory, state, registers), so the point of failure and the gas
//! charged by then are the same on every engine. Pointers and lengths are u64 here: any
//! that does not fit wasm32 memory is a `memory_access` error, never truncated.

use ripemd::Ripemd160;
use sha2::{Digest, Sha256};
use sha3::{Keccak256, Keccak512};

use crate::error::HostError;
use crate::gas::GasMeter;
use crate::memory::GuestMemory;
use crate::near::context::is_valid_account_id;
use crate::near::context::PromiseResult;
use crate::near::env::NearEnv;
use crate::near::promise::{AccessKeyPermission, Action, NearReturn, Promise};
use crate::near::table::NearFunction;
use crate::storage::Storage;

/// Runs NEAR host function `func`. `args` are the raw i64 arguments; the result, if any,
/// is returned the same way. Never panics, whatever the arguments.
pub fn dispatch_near<S: Storage + ?Sized>(
    func: NearFunction,
    args: &[u64],
    memory: &mut dyn GuestMemory,
    gas: &mut dyn GasMeter,
    env: &mut NearEnv<'_, S>,
) -> Result<Option<u64>, HostError> {
    let params = func.signature().params.len();
    if args.len() != params {
        return Err(HostError::BadArguments {
            function: func.name(),
            detail: format!("expected {params} arguments, got {}", args.len()),
        });
    }
    let mut call = Call {
        func,
        args,
        memory,
        gas,
        env,
    };
    use NearFunction as F;
    match func {
        F::ReadRegister => call.read_register(),
        F::RegisterLen => {
            call.charge(0)?;
            let len = call.env.inner.register(call.arg(0)).map(|r| r.len() as u64);
            Ok(Some(len.unwrap_or(u64::MAX)))
        }
        F::WriteRegister => {
            let (len, ptr) = (call.arg(1), call.arg(2));
            call.charge(len)?;
            let data = call.read(ptr, len)?;
            call.set_register(call.arg(0), data)
        }
        F::CurrentAccountId => {
            let v = call.env.context.current_account_id.clone().into_bytes();
            call.put(v)
        }
        F::SignerAccountId => {
            let v = call.env.context.signer_account_id.clone().into_bytes();
            call.put(v)
        }
        F::SignerAccountPk => {
            let v = call.env.context.signer_account_pk.clone();
            call.put(v)
        }
        F::PredecessorAccountId => {
            let v = call.env.context.predecessor_account_id.clone().into_bytes();
            call.put(v)
        }
        F::Input => {
            let v = call.env.context.input.clone();
            call.put(v)
        }
        F::RandomSeed => {
            let v = call.env.context.random_seed.clone();
            call.put(v)
        }
        F::BlockIndex => call.value(call.env.context.block_height),
        F::BlockTimestamp => call.value(call.env.context.block_timestamp),
        F::EpochHeight => call.value(call.env.context.epoch_height),
        F::StorageUsage => call.value(call.env.storage_usage),
        F::PrepaidGas => call.value(call.env.context.prepaid_gas),
        F::UsedGas => {
            call.charge(0)?;
            let used = call
                .env
                .context
                .prepaid_gas
                .saturating_sub(call.gas.remaining());
            Ok(Some(used))
        }
        F::PromiseResultsCount => call.value(call.env.context.promise_results.len() as u64),
        F::AccountBalance => call.write_u128(call.env.balance),
        F::AccountLockedBalance => call.write_u128(call.env.context.account_locked_balance),
        F::AttachedDeposit => call.write_u128(call.env.context.attached_deposit),
        F::ValidatorTotalStake => {
            let total = call
                .env
                .context
                .validators
                .values()
                .fold(0u128, |a, s| a.saturating_add(*s));
            call.write_u128_at(0, total)
        }
        F::ValidatorStake => {
            let (len, ptr) = (call.arg(0), call.arg(1));
            call.charge(len)?;
            let id = call.read_utf8(ptr, len)?;
            let stake = call.env.context.validators.get(&id).copied().unwrap_or(0);
            call.write_u128_at(2, stake)
        }
        F::Sha256 => call.hash(|d| Sha256::digest(d).to_vec()),
        F::Keccak256 => call.hash(|d| Keccak256::digest(d).to_vec()),
        F::Keccak512 => call.hash(|d| Keccak512::digest(d).to_vec()),
        F::Ripemd160 => call.hash(|d| Ripemd160::digest(d).to_vec()),
        F::ValueReturn => {
            let (len, ptr) = (call.arg(0), call.arg(1));
            call.limit(
                "max_return_data_len",
                call.env.inner.limits().max_return_data_len,
                len,
            )?;
            call.charge(len)?;
            let data = call.read(ptr, len)?;
            call.env.returned = NearReturn::Value(data);
            Ok(None)
        }
        F::Panic => {
            call.charge(0)?;
            Err(HostError::Panic {
                message: "explicit guest panic".into(),
            })
        }
        F::PanicUtf8 => {
            let (len, ptr) = (call.arg(0), call.arg(1));
            call.limit(
                "max_panic_message_len",
                call.env.inner.limits().max_panic_message_len,
                len,
            )?;
            call.charge(len)?;
            let message = call.read_utf8(ptr, len)?;
            Err(HostError::Panic { message })
        }
        F::LogUtf8 | F::LogUtf16 => call.log(func == F::LogUtf16),
        F::StorageWrite => call.storage_write(),
        F::StorageRead => call.storage_read(),
        F::StorageRemove => call.storage_remove(),
        F::StorageHasKey => {
            let (len, ptr) = (call.arg(0), call.arg(1));
            call.limit("max_key_len", call.env.inner.limits().max_key_len, len)?;
            call.charge(len)?;
            let key = call.read(ptr, len)?;
            Ok(Some(u64::from(call.env.inner.storage_contains(&key)?)))
        }
        F::PromiseResult => call.promise_result(),
        F::PromiseReturn => {
            call.charge(0)?;
            let index = call.arg(0);
            if let Promise::Joint(_) = call.promise(index)? {
                return Err(call.invalid(format!(
                    "promise {index} is a joint promise (promise_and), which cannot be returned"
                )));
            }
            call.env.returned = NearReturn::Promise(index);
            Ok(None)
        }
        F::PromiseCreate | F::PromiseThen => call.promise_create(func == F::PromiseThen),
        F::PromiseAnd => call.promise_and(),
        F::PromiseBatchCreate | F::PromiseBatchThen => {
            call.promise_batch_create(func == F::PromiseBatchThen)
        }
        F::PromiseBatchActionCreateAccount => {
            call.charge(0)?;
            call.append(Action::CreateAccount)
        }
        F::PromiseBatchActionDeployContract => {
            let (len, ptr) = (call.arg(1), call.arg(2));
            call.charge(len)?;
            let code = call.read(ptr, len)?;
            call.append(Action::DeployContract { code })
        }
        F::PromiseBatchActionFunctionCall | F::PromiseBatchActionFunctionCallWeight => {
            let weight = if func == F::PromiseBatchActionFunctionCallWeight {
                call.arg(7)
            } else {
                0
            };
            let (m_len, m_ptr, a_len, a_ptr) = (call.arg(1), call.arg(2), call.arg(3), call.arg(4));
            call.charge(m_len.saturating_add(a_len))?;
            let action =
                call.function_call(m_len, m_ptr, a_len, a_ptr, call.arg(5), call.arg(6), weight)?;
            call.append(action)
        }
        F::PromiseBatchActionTransfer => {
            call.charge(0)?;
            let deposit = call.read_u128(call.arg(1))?;
            call.spend(deposit)?;
            call.append(Action::Transfer { deposit })
        }
        F::PromiseBatchActionStake => {
            let (len, ptr) = (call.arg(2), call.arg(3));
            call.charge(len)?;
            let stake = call.read_u128(call.arg(1))?;
            let public_key = call.public_key(ptr, len)?;
            call.append(Action::Stake { stake, public_key })
        }
        F::PromiseBatchActionAddKeyWithFullAccess => {
            let (len, ptr) = (call.arg(1), call.arg(2));
            call.charge(len)?;
            let public_key = call.public_key(ptr, len)?;
            let nonce = call.arg(3);
            call.append(Action::AddKey {
                public_key,
                nonce,
                permission: AccessKeyPermission::FullAccess,
            })
        }
        F::PromiseBatchActionAddKeyWithFunctionCall => call.add_function_call_key(),
        F::PromiseBatchActionDeleteKey => {
            let (len, ptr) = (call.arg(1), call.arg(2));
            call.charge(len)?;
            let public_key = call.public_key(ptr, len)?;
            call.append(Action::DeleteKey { public_key })
        }
        F::PromiseBatchActionDeleteAccount => {
            let (len, ptr) = (call.arg(1), call.arg(2));
            call.charge(len)?;
            let beneficiary_id = call.account_id(ptr, len)?;
            call.append(Action::DeleteAccount { beneficiary_id })
        }
    }
}

struct Call<'a, 's, S: Storage + ?Sized> {
    func: NearFunction,
    args: &'a [u64],
    memory: &'a mut dyn GuestMemory,
    gas: &'a mut dyn GasMeter,
    env: &'a mut NearEnv<'s, S>,
}

type HostResult = Result<Option<u64>, HostError>;

impl<S: Storage + ?Sized> Call<'_, '_, S> {
    fn arg(&self, i: usize) -> u64 {
        self.args.get(i).copied().unwrap_or(0)
    }

    fn name(&self) -> &'static str {
        self.func.name()
    }

    fn invalid(&self, detail: impl Into<String>) -> HostError {
        HostError::InvalidArgument {
            function: self.name(),
            detail: detail.into(),
        }
    }

    fn limit(&self, what: &'static str, limit: u64, requested: u64) -> Result<(), HostError> {
        HostError::check_limit(self.name(), what, limit, requested)
    }

    fn charge(&mut self, bytes: u64) -> Result<(), HostError> {
        self.gas.charge(self.func.gas().cost(bytes))?;
        Ok(())
    }

    fn charge_more(&mut self, bytes: u64) -> Result<(), HostError> {
        self.gas.charge(self.func.gas().per_byte_cost(bytes))?;
        Ok(())
    }

    fn memory_error(&self, ptr: u64, len: u64, memory_size: u64) -> HostError {
        HostError::MemoryAccess {
            function: self.name(),
            ptr: u32::try_from(ptr).unwrap_or(u32::MAX),
            len: u32::try_from(len).unwrap_or(u32::MAX),
            memory_size,
        }
    }

    /// `(ptr, len)` as wasm32 values, or a `memory_access` error.
    fn span(&self, ptr: u64, len: u64) -> Result<(u32, u32), HostError> {
        match (u32::try_from(ptr), u32::try_from(len)) {
            (Ok(p), Ok(l)) => Ok((p, l)),
            _ => Err(self.memory_error(ptr, len, 0)),
        }
    }

    fn read(&self, ptr: u64, len: u64) -> Result<Vec<u8>, HostError> {
        let (p, l) = self.span(ptr, len)?;
        self.memory
            .read(p, l)
            .map(<[u8]>::to_vec)
            .map_err(|e| self.memory_error(ptr, len, e.memory_size))
    }

    fn write(&mut self, ptr: u64, data: &[u8]) -> Result<(), HostError> {
        let (p, _) = self.span(ptr, data.len() as u64)?;
        self.memory
            .write(p, data)
            .map_err(|e| HostError::MemoryAccess {
                function: self.func.name(),
                ptr: e.ptr,
                len: e.len,
                memory_size: e.memory_size,
            })
    }

    fn read_utf8(&self, ptr: u64, len: u64) -> Result<String, HostError> {
        String::from_utf8(self.read(ptr, len)?).map_err(|e| HostError::InvalidUtf8 {
            function: self.name(),
            valid_up_to: e.utf8_error().valid_up_to() as u64,
        })
    }

    fn read_u128(&self, ptr: u64) -> Result<u128, HostError> {
        let bytes = self.read(ptr, 16)?;
        let mut b = [0u8; 16];
        b.copy_from_slice(&bytes);
        Ok(u128::from_le_bytes(b))
    }

    fn set_register(&mut self, register_id: u64, data: Vec<u8>) -> HostResult {
        self.env
            .inner
            .set_register(self.func.name(), register_id, data)?;
        Ok(None)
    }

    /// Charges for `data` and puts it into the register named by argument 0.
    fn put(&mut self, data: Vec<u8>) -> HostResult {
        self.charge(data.len() as u64)?;
        self.set_register(self.arg(0), data)
    }

    fn value(&mut self, v: u64) -> HostResult {
        self.charge(0)?;
        Ok(Some(v))
    }

    fn write_u128(&mut self, v: u128) -> HostResult {
        self.write_u128_at(0, v)
    }

    fn write_u128_at(&mut self, arg: usize, v: u128) -> HostResult {
        self.charge(0)?;
        self.write(self.arg(arg), &v.to_le_bytes())?;
        Ok(None)
    }

    fn read_register(&mut self) -> HostResult {
        let ptr = self.arg(1);
        let register_id = self.arg(0);
        let Some(data) = self.env.inner.register(register_id) else {
            return Err(HostError::RegisterNotFound { register_id });
        };
        let data = data.to_vec();
        self.charge(data.len() as u64)?;
        self.write(ptr, &data)?;
        Ok(None)
    }

    fn hash(&mut self, digest: impl FnOnce(&[u8]) -> Vec<u8>) -> HostResult {
        let (len, ptr) = (self.arg(0), self.arg(1));
        self.charge(len)?;
        let data = self.read(ptr, len)?;
        self.set_register(self.arg(2), digest(&data))
    }

    fn log(&mut self, utf16: bool) -> HostResult {
        let (len, ptr) = (self.arg(0), self.arg(1));
        let limits = *self.env.inner.limits();
        self.limit("max_log_len", limits.max_log_len, len)?;
        let count = (self.env.inner.logs().len() as u64).saturating_add(1);
        self.limit("max_logs", limits.max_logs, count)?;
        self.charge(len)?;
        let line = if utf16 {
            let bytes = self.read(ptr, len)?;
            if bytes.len() % 2 != 0 {
                return Err(self.invalid("UTF-16 text must have an even number of bytes"));
            }
            let units: Vec<u16> = bytes
                .chunks_exact(2)
                .map(|c| u16::from_le_bytes([c[0], c[1]]))
                .collect();
            String::from_utf16(&units).map_err(|_| self.invalid("the text is not valid UTF-16"))?
        } else {
            self.read_utf8(ptr, len)?
        };
        self.env.inner.push_log(line);
        Ok(None)
    }

    fn key(&mut self, extra_bytes: u64) -> Result<Vec<u8>, HostError> {
        let (len, ptr) = (self.arg(0), self.arg(1));
        self.limit("max_key_len", self.env.inner.limits().max_key_len, len)?;
        self.charge(len.saturating_add(extra_bytes))?;
        self.read(ptr, len)
    }

    fn storage_write(&mut self) -> HostResult {
        let (v_len, v_ptr) = (self.arg(2), self.arg(3));
        self.limit(
            "max_value_len",
            self.env.inner.limits().max_value_len,
            v_len,
        )?;
        let key = self.key(v_len)?;
        let value = self.read(v_ptr, v_len)?;
        match self.env.write(&key, &value)? {
            Some(old) => {
                self.set_register(self.arg(4), old)?;
                Ok(Some(1))
            }
            None => Ok(Some(0)),
        }
    }

    fn storage_read(&mut self) -> HostResult {
        let key = self.key(0)?;
        match self.env.inner.storage_get(&key)? {
            Some(value) => {
                self.charge_more(value.len() as u64)?;
                self.set_register(self.arg(2), value)?;
                Ok(Some(1))
            }
            None => Ok(Some(0)),
        }
    }

    fn storage_remove(&mut self) -> HostResult {
        let key = self.key(0)?;
        let Some(old) = self.env.inner.storage_get(&key)? else {
            return Ok(Some(0));
        };
        self.charge_more(old.len() as u64)?;
        self.env.remove(&key)?;
        self.set_register(self.arg(2), old)?;
        Ok(Some(1))
    }

    fn promise_result(&mut self) -> HostResult {
        let index = self.arg(0);
        let result = usize::try_from(index)
            .ok()
            .and_then(|i| self.env.context.promise_results.get(i).cloned());
        let Some(result) = result else {
            return Err(self.invalid(format!(
                "promise result {index} does not exist: this call has {} (check promise_results_count)",
                self.env.context.promise_results.len()
            )));
        };
        match result {
            PromiseResult::NotReady => self.value(0),
            PromiseResult::Failed => self.value(2),
            PromiseResult::Successful(data) => {
                self.charge(data.len() as u64)?;
                self.set_register(self.arg(1), data)?;
                Ok(Some(1))
            }
        }
    }

    /// The promise with this index, or `invalid_argument`.
    fn promise(&self, index: u64) -> Result<&Promise, HostError> {
        usize::try_from(index)
            .ok()
            .and_then(|i| self.env.promises.get(i))
            .ok_or_else(|| {
                self.invalid(format!(
                    "promise index {index} does not exist: this call created {} promises",
                    self.env.promises.len()
                ))
            })
    }

    /// The receipts promise `index` stands for (itself, or a joint promise's members).
    fn receipts_of(&self, index: u64) -> Result<Vec<u64>, HostError> {
        Ok(match self.promise(index)? {
            Promise::Receipt { .. } => vec![index],
            Promise::Joint(members) => members.clone(),
        })
    }

    fn account_id(&self, ptr: u64, len: u64) -> Result<String, HostError> {
        let id = self.read_utf8(ptr, len)?;
        if !is_valid_account_id(&id) {
            return Err(self.invalid(format!("{id:?} is not a valid account id")));
        }
        Ok(id)
    }

    fn public_key(&self, ptr: u64, len: u64) -> Result<Vec<u8>, HostError> {
        let key = self.read(ptr, len)?;
        let ok = matches!((key.first(), key.len()), (Some(0), 33) | (Some(1), 65));
        if !ok {
            return Err(self.invalid(
                "a public key is a curve byte (0 = ed25519, 1 = secp256k1) followed by 32 or 64 key bytes",
            ));
        }
        Ok(key)
    }

    /// Takes `amount` from the balance this call may still send.
    fn spend(&mut self, amount: u128) -> Result<(), HostError> {
        match self.env.balance.checked_sub(amount) {
            Some(left) => {
                self.env.balance = left;
                Ok(())
            }
            None => Err(HostError::BalanceExceeded {
                function: self.name(),
                needed: amount,
                available: self.env.balance,
            }),
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn function_call(
        &mut self,
        m_len: u64,
        m_ptr: u64,
        a_len: u64,
        a_ptr: u64,
        amount_ptr: u64,
        attached_gas: u64,
        gas_weight: u64,
    ) -> Result<Action, HostError> {
        let method_name = self.read_utf8(m_ptr, m_len)?;
        if method_name.is_empty() {
            return Err(self.invalid("the method name is empty"));
        }
        let args = self.read(a_ptr, a_len)?;
        let deposit = self.read_u128(amount_ptr)?;
        self.gas.charge(attached_gas)?;
        self.spend(deposit)?;
        Ok(Action::FunctionCall {
            method_name,
            args,
            deposit,
            gas: attached_gas,
            gas_weight,
        })
    }

    fn push(&mut self, promise: Promise) -> HostResult {
        self.env.promises.push(promise);
        Ok(Some(self.env.promises.len() as u64 - 1))
    }

    fn promise_create(&mut self, then: bool) -> HostResult {
        let base = usize::from(then);
        let a = |i: usize| self.args.get(base + i).copied().unwrap_or(0);
        let (id_len, id_ptr, m_len, m_ptr, a_len, a_ptr, amount_ptr, gas) =
            (a(0), a(1), a(2), a(3), a(4), a(5), a(6), a(7));
        self.charge(id_len.saturating_add(m_len).saturating_add(a_len))?;
        let after = if then {
            self.receipts_of(self.arg(0))?
        } else {
            Vec::new()
        };
        let receiver_id = self.account_id(id_ptr, id_len)?;
        let action = self.function_call(m_len, m_ptr, a_len, a_ptr, amount_ptr, gas, 0)?;
        self.push(Promise::Receipt {
            receiver_id,
            actions: vec![action],
            after,
        })
    }

    fn promise_batch_create(&mut self, then: bool) -> HostResult {
        let base = usize::from(then);
        let (len, ptr) = (self.arg(base), self.arg(base + 1));
        self.charge(len)?;
        let after = if then {
            self.receipts_of(self.arg(0))?
        } else {
            Vec::new()
        };
        let receiver_id = self.account_id(ptr, len)?;
        self.push(Promise::Receipt {
            receiver_id,
            actions: Vec::new(),
            after,
        })
    }

    fn promise_and(&mut self) -> HostResult {
        let (ptr, count) = (self.arg(0), self.arg(1));
        self.charge(count.saturating_mul(8))?;
        let bytes = self.read(ptr, count.saturating_mul(8))?;
        let mut members = Vec::new();
        for chunk in bytes.chunks_exact(8) {
            let mut b = [0u8; 8];
            b.copy_from_slice(chunk);
            members.extend(self.receipts_of(u64::from_le_bytes(b))?);
        }
        self.push(Promise::Joint(members))
    }

    fn append(&mut self, action: Action) -> HostResult {
        let index = self.arg(0);
        let name = self.name();
        let promises_len = self.env.promises.len();
        match usize::try_from(index).ok().and_then(|i| self.env.promises.get_mut(i)) {
            Some(Promise::Receipt { actions, .. }) => {
                actions.push(action);
                Ok(None)
            }
            Some(Promise::Joint(_)) => Err(HostError::InvalidArgument {
                function: name,
                detail: format!("promise {index} is a joint promise (promise_and): actions can only be added to a batch"),
            }),
            None => Err(HostError::InvalidArgument {
                function: name,
                detail: format!("promise index {index} does not exist: this call created {promises_len} promises"),
            }),
        }
    }

    fn add_function_call_key(&mut self) -> HostResult {
        let (k_len, k_ptr, nonce, allowance_ptr) =
            (self.arg(1), self.arg(2), self.arg(3), self.arg(4));
        let (r_len, r_ptr, f_len, f_ptr) = (self.arg(5), self.arg(6), self.arg(7), self.arg(8));
        self.charge(k_len.saturating_add(r_len).saturating_add(f_len))?;
        let public_key = self.public_key(k_ptr, k_len)?;
        let allowance = self.read_u128(allowance_ptr)?;
        let receiver_id = self.account_id(r_ptr, r_len)?;
        let names = self.read_utf8(f_ptr, f_len)?;
        let method_names = names
            .split(',')
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect();
        self.append(Action::AddKey {
            public_key,
            nonce,
            permission: AccessKeyPermission::FunctionCall {
                allowance: (allowance > 0).then_some(allowance),
                receiver_id,
                method_names,
            },
        })
    }
}
