//! The runtime helpers generated code calls (`Libcall`), as `extern "C"` functions.
//!
//! Each one recovers the instance state from `VmCtx::runtime`, runs inside
//! `catch_unwind` (a panic becomes a `host_error` trap, never an unwind across generated
//! code) and does its work through a safe method on [`Runtime`], which the unit tests call
//! directly. Every bound is checked in u64 arithmetic before anything is written.

use std::panic::{catch_unwind, AssertUnwindSafe};

use gasket_host_api::{GuestMemory, HostError};
use gasket_singlepass::{TrapKind, ValType, VmCtx};

use crate::error::Trap;
use crate::imports::HostContext;
use crate::runtime::{AbiFunction, FuncImport, Runtime, VmGas};
use crate::values::{decode_externref, encode_externref, type_name, Value};

/// Runs `f` on the instance state behind `vmctx`, turning a panic into `on_panic` (after
/// recording a `host_error` failure).
///
/// On a native call `f` runs on the host thread's stack, just below the entry
/// trampoline's frame (`VmCtx::saved_sp`), not on the instance's: host functions and the
/// node's storage then never write the pooled stack, whose written depth stays bounded by
/// the wasm stack budget (see `NativeStack::note_call`). The few bytes of this function's
/// own frame that do land there are accounted for by `Runtime::lowest_libcall_sp`.
fn with_runtime(vmctx: *mut VmCtx, on_panic: u32, f: impl FnOnce(&mut Runtime) -> u32) -> u32 {
    // SAFETY: generated code passes the vmctx it was entered with, whose `runtime` field
    // the instance set to its boxed, live `Runtime`; the instance is borrowed mutably by
    // the running call, and generated code is suspended in this libcall, so this is the
    // only active reference.
    let runtime = unsafe { &mut *(*vmctx).runtime.cast::<Runtime>() };
    // Below the trampoline's lowest push, past anything a red zone could hold, 16-byte
    // aligned; none when the call is not native (or `saved_sp` was never set).
    let host_stack = runtime
        .libcalls_on_host_stack
        // SAFETY: the vmctx is valid (above); the trampoline set `saved_sp` on entry.
        .then(|| unsafe { (*vmctx).saved_sp } as usize)
        .and_then(|sp| sp.checked_sub(HOST_STACK_GAP))
        .map(|top| top & !15)
        .filter(|&top| top >= 16);
    // Where host code runs on the current stack, that stack's depth is unknown (0).
    let entry_sp = host_stack.map_or(0, |_| psm::stack_pointer() as usize);
    runtime.lowest_libcall_sp = runtime.lowest_libcall_sp.min(entry_sp);
    let rt: *mut Runtime = runtime;
    let run = move || match catch_unwind(AssertUnwindSafe(|| f(runtime))) {
        Ok(code) => code,
        Err(payload) => {
            let what = payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "a panic".into());
            // SAFETY: the reference given to `f` is gone (it unwound); `rt` is the same
            // live state.
            let runtime = unsafe { &mut *rt };
            runtime.fail(
                TrapKind::HostError,
                format!("host function panicked: {what}"),
            );
            on_panic
        }
    };
    match host_stack {
        Some(top) => {
            // The "stack" given to psm is only its top 16 bytes: the host thread's own
            // stack continues below them, with its own guard page.
            // SAFETY: `top` lies below the host stack pointer the entry trampoline saved
            // on this thread's stack when the call began; everything below that is
            // unused stack of the host thread (the trampoline's caller is suspended
            // above it, and no leaf red zone lies below a frame that made a call).
            // `run` catches every panic, so nothing unwinds through psm's frame.
            unsafe { psm::on_stack((top - 16) as *mut u8, 16, run) }
        }
        None => run(),
    }
}

/// Bytes left between the entry trampoline's saved host stack pointer and the top of
/// the stack libcalls run on.
const HOST_STACK_GAP: usize = 256;

const HOST_ERROR: u32 = TrapKind::HostError as u32;

/// `Libcall::HostCall`.
pub extern "C" fn host_call(vmctx: *mut VmCtx, func_index: u32, args: *mut u64) -> u32 {
    with_runtime(vmctx, HOST_ERROR, |rt| rt.host_call(func_index, args))
}

/// `Libcall::MemoryGrow`.
pub extern "C" fn memory_grow(vmctx: *mut VmCtx, delta: u32) -> u32 {
    with_runtime(vmctx, u32::MAX, |rt| rt.memory_grow(delta))
}

/// `Libcall::MemoryFill`.
pub extern "C" fn memory_fill(vmctx: *mut VmCtx, dst: u32, value: u32, len: u32) -> u32 {
    with_runtime(vmctx, HOST_ERROR, |rt| {
        code(rt.memory_fill(dst, value, len))
    })
}

/// `Libcall::MemoryCopy`.
pub extern "C" fn memory_copy(vmctx: *mut VmCtx, dst: u32, src: u32, len: u32) -> u32 {
    with_runtime(vmctx, HOST_ERROR, |rt| code(rt.memory_copy(dst, src, len)))
}

/// `Libcall::MemoryInit`.
pub extern "C" fn memory_init(vmctx: *mut VmCtx, seg: u32, dst: u32, src: u32, len: u32) -> u32 {
    with_runtime(vmctx, HOST_ERROR, |rt| {
        code(rt.memory_init(seg, dst, src, len))
    })
}

/// `Libcall::DataDrop`.
pub extern "C" fn data_drop(vmctx: *mut VmCtx, seg: u32) -> u32 {
    with_runtime(vmctx, HOST_ERROR, |rt| {
        rt.data_drop(seg);
        0
    })
}

/// `Libcall::TableGrow`.
pub extern "C" fn table_grow(vmctx: *mut VmCtx, table: u32, init: u64, delta: u32) -> u32 {
    with_runtime(vmctx, u32::MAX, |rt| rt.table_grow(table, init, delta))
}

/// `Libcall::TableFill`.
pub extern "C" fn table_fill(vmctx: *mut VmCtx, table: u32, dst: u32, value: u64, len: u32) -> u32 {
    with_runtime(vmctx, HOST_ERROR, |rt| {
        code(rt.table_fill(table, dst, value, len))
    })
}

/// `Libcall::TableCopy`.
pub extern "C" fn table_copy(
    vmctx: *mut VmCtx,
    dst_table: u32,
    src_table: u32,
    dst: u32,
    src: u32,
    len: u32,
) -> u32 {
    with_runtime(vmctx, HOST_ERROR, |rt| {
        code(rt.table_copy(dst_table, src_table, dst, src, len))
    })
}

/// `Libcall::TableInit`.
pub extern "C" fn table_init(
    vmctx: *mut VmCtx,
    table: u32,
    seg: u32,
    dst: u32,
    src: u32,
    len: u32,
) -> u32 {
    with_runtime(vmctx, HOST_ERROR, |rt| {
        code(rt.table_init(table, seg, dst, src, len))
    })
}

/// `Libcall::ElemDrop`.
pub extern "C" fn elem_drop(vmctx: *mut VmCtx, seg: u32) -> u32 {
    with_runtime(vmctx, HOST_ERROR, |rt| {
        rt.elem_drop(seg);
        0
    })
}

fn code(result: Result<(), TrapKind>) -> u32 {
    match result {
        Ok(()) => 0,
        Err(kind) => kind.code(),
    }
}

/// `start..start + len` if it lies within `size`, computed without overflow.
fn range(start: u32, len: u32, size: usize) -> Option<std::ops::Range<usize>> {
    let end = u64::from(start) + u64::from(len);
    if end > size as u64 {
        return None;
    }
    Some(start as usize..end as usize)
}

impl Runtime {
    /// `memory.grow`: old size in pages, or `u32::MAX` (nothing changes).
    pub(crate) fn memory_grow(&mut self, delta: u32) -> u32 {
        let old = self.memory.as_mut().and_then(|m| m.grow(delta));
        self.sync_memory_len();
        old.unwrap_or(u32::MAX)
    }

    /// `memory.fill`.
    /// Bounds first (out of bounds pays nothing), then the written-range charge (out of
    /// gas writes nothing), then the write: the order of compiled stores.
    pub(crate) fn memory_fill(&mut self, dst: u32, value: u32, len: u32) -> Result<(), TrapKind> {
        let r = range(dst, len, self.memory_bytes()).ok_or(TrapKind::MemoryOutOfBounds)?;
        self.mark_charged(r.start as u64, r.end as u64)?;
        let (mem, _) = self.tracked_memory().split();
        mem[r].fill(value as u8);
        Ok(())
    }

    /// The current length of linear memory in bytes.
    fn memory_bytes(&self) -> usize {
        self.memory.as_ref().map_or(0, |m| m.len() as usize)
    }

    /// `memory.copy`, correct for overlapping ranges.
    pub(crate) fn memory_copy(&mut self, dst: u32, src: u32, len: u32) -> Result<(), TrapKind> {
        let size = self.memory_bytes();
        let s = range(src, len, size).ok_or(TrapKind::MemoryOutOfBounds)?;
        let d = range(dst, len, size).ok_or(TrapKind::MemoryOutOfBounds)?;
        self.mark_charged(d.start as u64, d.end as u64)?;
        let (mem, _) = self.tracked_memory().split();
        mem.copy_within(s, d.start);
        Ok(())
    }

    /// `memory.init`: a dropped segment has length 0.
    pub(crate) fn memory_init(
        &mut self,
        seg: u32,
        dst: u32,
        src: u32,
        len: u32,
    ) -> Result<(), TrapKind> {
        self.init_segment(seg, dst, src, len, true)
    }

    /// `memory.init`, or (`charged` false) an active data segment at instantiation,
    /// whose granules are marked written without a charge (ARCHITECTURE.md, "The
    /// written-range charge": the reference marks them the same way before the start
    /// function).
    pub(crate) fn init_segment(
        &mut self,
        seg: u32,
        dst: u32,
        src: u32,
        len: u32,
        charged: bool,
    ) -> Result<(), TrapKind> {
        let data = self.data.get(seg).ok_or(TrapKind::MemoryOutOfBounds)?;
        // Copied out of `self.data`'s borrow only by pointer: `tracked_memory` borrows
        // `self` mutably. The bytes live in the module, not in `self`.
        let bytes: *const [u8] = data;
        // SAFETY: the segment's bytes outlive this runtime (`DataSegments::new`) and
        // nothing writes them; they are disjoint from linear memory.
        let bytes = unsafe { &*bytes };
        let s = range(src, len, bytes.len()).ok_or(TrapKind::MemoryOutOfBounds)?;
        let d = range(dst, len, self.memory_bytes()).ok_or(TrapKind::MemoryOutOfBounds)?;
        let (from, to) = (d.start as u64, d.end as u64);
        if charged {
            self.mark_charged(from, to)?;
        } else {
            self.tracked_memory().split().1.mark(from, to);
        }
        let (mem, _) = self.tracked_memory().split();
        mem[d].copy_from_slice(&bytes[s]);
        Ok(())
    }

    /// `data.drop`.
    pub(crate) fn data_drop(&mut self, seg: u32) {
        self.data.drop_segment(seg);
    }

    /// `table.grow`: old size, or `u32::MAX` (nothing changes).
    pub(crate) fn table_grow(&mut self, table: u32, init: u64, delta: u32) -> u32 {
        let Some(t) = self.tables.get_mut(table as usize) else {
            return u32::MAX;
        };
        let old = t.elems.len() as u32;
        match old.checked_add(delta) {
            Some(new) if new <= t.maximum => {
                if t.elems.try_reserve_exact(delta as usize).is_err() {
                    return u32::MAX;
                }
                t.elems.resize(new as usize, init);
                self.sync_table_def(table as usize);
                old
            }
            _ => u32::MAX,
        }
    }

    /// `table.fill`.
    pub(crate) fn table_fill(
        &mut self,
        table: u32,
        dst: u32,
        value: u64,
        len: u32,
    ) -> Result<(), TrapKind> {
        let t = self
            .tables
            .get_mut(table as usize)
            .ok_or(TrapKind::TableOutOfBounds)?;
        let r = range(dst, len, t.elems.len()).ok_or(TrapKind::TableOutOfBounds)?;
        t.elems[r].fill(value);
        Ok(())
    }

    /// `table.copy`, correct for overlapping ranges of the same table.
    pub(crate) fn table_copy(
        &mut self,
        dst_table: u32,
        src_table: u32,
        dst: u32,
        src: u32,
        len: u32,
    ) -> Result<(), TrapKind> {
        let src_len = self
            .tables
            .get(src_table as usize)
            .ok_or(TrapKind::TableOutOfBounds)?
            .elems
            .len();
        let dst_len = self
            .tables
            .get(dst_table as usize)
            .ok_or(TrapKind::TableOutOfBounds)?
            .elems
            .len();
        let s = range(src, len, src_len).ok_or(TrapKind::TableOutOfBounds)?;
        let d = range(dst, len, dst_len).ok_or(TrapKind::TableOutOfBounds)?;
        if dst_table == src_table {
            self.tables[dst_table as usize]
                .elems
                .copy_within(s, d.start);
        } else {
            let items = self.tables[src_table as usize].elems[s].to_vec();
            self.tables[dst_table as usize].elems[d].copy_from_slice(&items);
        }
        Ok(())
    }

    /// `table.init`: a dropped segment has length 0, as has one past `elements` (the
    /// runtime keeps only passive segments' items, up to the last passive one).
    pub(crate) fn table_init(
        &mut self,
        table: u32,
        seg: u32,
        dst: u32,
        src: u32,
        len: u32,
    ) -> Result<(), TrapKind> {
        let items = self
            .elements
            .get(seg as usize)
            .map_or(&[][..], Vec::as_slice);
        let s = range(src, len, items.len()).ok_or(TrapKind::TableOutOfBounds)?;
        let t = self
            .tables
            .get_mut(table as usize)
            .ok_or(TrapKind::TableOutOfBounds)?;
        let d = range(dst, len, t.elems.len()).ok_or(TrapKind::TableOutOfBounds)?;
        t.elems[d].copy_from_slice(&items[s]);
        Ok(())
    }

    /// `elem.drop`.
    pub(crate) fn elem_drop(&mut self, seg: u32) {
        if let Some(items) = self.elements.get_mut(seg as usize) {
            *items = Vec::new();
        }
    }

    /// Calls imported function `func_index` with the slots at `args`; when recording for
    /// a gas report, adds the call and the gas it charged to `host_gas`.
    pub(crate) fn host_call(&mut self, func_index: u32, args: *mut u64) -> u32 {
        if self.host_gas.is_none() {
            return self.dispatch_import(func_index, args);
        }
        let before = *self.gas_remaining_mut();
        let code = self.dispatch_import(func_index, args);
        let charged = before.saturating_sub(*self.gas_remaining_mut());
        if let Some(log) = &mut self.host_gas {
            let used = log.entry(func_index).or_default();
            used.calls += 1;
            used.gas = used.gas.saturating_add(charged);
        }
        code
    }

    /// Calls imported function `func_index` with the slots at `args`.
    fn dispatch_import(&mut self, func_index: u32, args: *mut u64) -> u32 {
        let Some(import) = self.imports.get(func_index).cloned() else {
            return self.fail(
                TrapKind::HostError,
                format!("function {func_index} is not an imported host function"),
            );
        };
        let import = match import {
            FuncImport::Abi(f) => Ok(AbiFunction::V1(f)),
            FuncImport::Near(f) => Ok(AbiFunction::Near(f)),
            FuncImport::Host(host) => Err(host),
        };
        match import {
            Ok(func) => {
                let sig = func.signature();
                let params: &[u64] = if sig.params.is_empty() {
                    &[]
                } else {
                    // SAFETY: generated code passes an area of max(params, results) slots
                    // for this import's signature, aligned and valid for the duration of
                    // the call; nothing writes it until the result below, after the last
                    // use of this slice.
                    unsafe { std::slice::from_raw_parts(args, sig.params.len()) }
                };
                let Some(mut host) = self.contract_host else {
                    return self.fail(
                        TrapKind::HostError,
                        format!(
                            "{} is a host ABI function: call the contract with Instance::call_contract and a HostEnv (Instance::call_near and a NearEnv for NEAR contracts)",
                            func.name()
                        ),
                    );
                };
                let vmctx = self.vmctx();
                let mut memory = self.tracked_memory();
                // SAFETY: `gas_remaining` lives in the vmctx allocation, disjoint from the
                // memory slice, the written-range fields and `self`'s fields.
                let gas = unsafe { &mut (*vmctx).gas_remaining };
                // SAFETY: `contract_host` is set by `call_contract` from a `&mut HostEnv`
                // that outlives the call and is cleared before it returns.
                let host = unsafe { host.as_mut() };
                let result = host.dispatch(
                    func,
                    params,
                    &mut memory as &mut dyn GuestMemory,
                    &mut VmGas(gas),
                );
                match result {
                    Ok(value) => {
                        if let (Some(v), 1) = (value, sig.results.len()) {
                            // SAFETY: the area has at least one slot (results == 1).
                            unsafe { args.write(v) };
                        }
                        0
                    }
                    Err(e) => {
                        let kind = if matches!(e, HostError::OutOfGas) {
                            *self.gas_remaining_mut() = 0;
                            TrapKind::OutOfGas
                        } else {
                            TrapKind::HostError
                        };
                        self.failure = Some(Trap {
                            kind,
                            message: Some(e.to_string()),
                            host_error: Some(e),
                        });
                        kind.code()
                    }
                }
            }
            Err(host) => {
                let mut values = Vec::with_capacity(host.sig.params.len());
                for (i, &ty) in host.sig.params.iter().enumerate() {
                    // SAFETY: as above: the area holds one slot per parameter.
                    let bits = unsafe { args.add(i).read() };
                    values.push(self.decode(ty, bits));
                }
                let vmctx = self.vmctx();
                let memory = self.tracked_memory();
                // SAFETY: disjoint from the memory and its written range; see the ABI
                // branch.
                let gas = unsafe { &mut (*vmctx).gas_remaining };
                let mut cx = HostContext::new(memory, gas);
                let result = (host.func)(&mut cx, &values);
                match result {
                    Ok(results) => match self.encode_results(&host.sig.results, &results) {
                        Ok(bits) => {
                            for (i, b) in bits.into_iter().enumerate() {
                                // SAFETY: the area holds one slot per result.
                                unsafe { args.add(i).write(b) };
                            }
                            0
                        }
                        Err(message) => self.fail(TrapKind::HostError, message),
                    },
                    Err(trap) if trap.kind == TrapKind::OutOfGas => {
                        *self.gas_remaining_mut() = 0;
                        self.fail(TrapKind::OutOfGas, trap.message)
                    }
                    Err(trap) => self.fail(trap.kind, trap.message),
                }
            }
        }
    }

    /// The value of a slot of type `ty`.
    pub(crate) fn decode(&self, ty: ValType, bits: u64) -> Value {
        match ty {
            ValType::I32 => Value::I32(bits as u32 as i32),
            ValType::I64 => Value::I64(bits as i64),
            ValType::F32 => Value::F32(bits as u32),
            ValType::F64 => Value::F64(bits),
            ValType::FuncRef => Value::FuncRef(self.funcref_index(bits)),
            ValType::ExternRef => Value::ExternRef(decode_externref(bits)),
        }
    }

    /// The slot encoding of `value`; errors for a function index outside the module.
    pub(crate) fn encode(&self, value: Value) -> Result<u64, String> {
        Ok(match value {
            Value::I32(v) => u64::from(v as u32),
            Value::I64(v) => v as u64,
            Value::F32(v) => u64::from(v),
            Value::F64(v) => v,
            Value::FuncRef(None) => 0,
            Value::FuncRef(Some(i)) => self
                .funcref_bits(i)
                .ok_or_else(|| format!("funcref {i} is not a function of the module"))?,
            Value::ExternRef(v) => encode_externref(v),
        })
    }

    fn encode_results(&self, types: &[ValType], values: &[Value]) -> Result<Vec<u64>, String> {
        let expected = || {
            types
                .iter()
                .map(|t| type_name(*t))
                .collect::<Vec<_>>()
                .join(", ")
        };
        if types.len() != values.len() || types.iter().zip(values).any(|(t, v)| v.ty() != *t) {
            let got: Vec<String> = values.iter().map(|v| v.to_string()).collect();
            return Err(format!(
                "host function returned [{}] but its signature expects ({})",
                got.join(", "),
                expected()
            ));
        }
        values.iter().map(|v| self.encode(*v)).collect()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use crate::data_segments::DataSegments;
    use crate::module_slice::ModuleSlice;
    use crate::runtime::ImportBindings;

    use gasket_host_api::{CallContext, HostEnv, HostFunction, MemoryStorage};
    use gasket_singlepass::{FuncRef, FuncSig, TableDef};

    use super::*;
    use crate::imports::{HostFunc, HostTrap};
    use crate::memory::LinearMemory;
    use crate::runtime::{ContractHost, Table};

    /// A state with 1 page of memory (max 2), two tables and a few segments.
    fn state() -> Box<Runtime> {
        let mut rt = Runtime::new(2);
        rt.memory = Some(LinearMemory::new(1, 2).unwrap());
        let funcrefs: &'static [FuncRef] = Box::leak(
            (0..3)
                .map(|i| FuncRef {
                    code: std::ptr::null(),
                    type_id: i,
                    _reserved: 0,
                })
                .collect(),
        );
        // SAFETY: leaked: the references outlive the runtime.
        rt.funcrefs = unsafe { ModuleSlice::new(funcrefs) };
        rt.tables = vec![
            Table {
                elems: vec![0; 4],
                maximum: 6,
            },
            Table {
                elems: vec![0; 2],
                maximum: 2,
            },
        ];
        rt.table_defs = (0..2)
            .map(|_| TableDef {
                base: std::ptr::null_mut(),
                len: 0,
                _reserved: 0,
            })
            .collect();
        rt.sync_table_def(0);
        rt.sync_table_def(1);
        let segments: &'static [Box<[u8]>] =
            Box::leak(Box::new([Box::from(&b"hello"[..]), Box::from(&b"xy"[..])]));
        // SAFETY: leaked: the segments outlive the runtime.
        rt.data = unsafe { DataSegments::new(segments) };
        rt.elements = vec![vec![11, 12, 13]];
        rt.reset_vmctx();
        rt
    }

    fn ctx(rt: &Runtime) -> &VmCtx {
        // SAFETY: the vmctx the state owns; read only.
        unsafe { &*rt.vmctx() }
    }

    #[test]
    fn memory_grow_respects_the_maximum_and_updates_the_vmctx() {
        let rt = state();
        let vmctx = rt.vmctx();
        assert_eq!(memory_grow(vmctx, 1), 1);
        assert_eq!(ctx(&rt).memory_len, 2 * 65_536);
        assert_eq!(memory_grow(vmctx, 1), u32::MAX);
        assert_eq!(memory_grow(vmctx, u32::MAX), u32::MAX);
        assert_eq!(memory_grow(vmctx, 0), 2);
        assert_eq!(ctx(&rt).memory_len, 2 * 65_536);
    }

    #[test]
    fn memory_fill_and_copy_bounds_and_overlap() {
        let mut rt = state();
        let vmctx = rt.vmctx();
        let oob = TrapKind::MemoryOutOfBounds.code();
        assert_eq!(memory_fill(vmctx, 10, 0x1ff, 4), 0);
        assert_eq!(&rt.memory_mut()[10..14], &[0xff; 4]);
        assert_eq!(memory_fill(vmctx, 65_535, 1, 2), oob);
        assert_eq!(
            memory_fill(vmctx, 65_536, 1, 0),
            0,
            "len 0 at the end is fine"
        );
        assert_eq!(memory_fill(vmctx, 65_537, 1, 0), oob);
        assert_eq!(memory_fill(vmctx, u32::MAX, 1, u32::MAX), oob);
        assert_eq!(rt.memory_mut()[65_535], 0, "nothing written");

        rt.memory_mut()[0..5].copy_from_slice(b"abcde");
        assert_eq!(memory_copy(vmctx, 1, 0, 4), 0, "forward overlap");
        assert_eq!(&rt.memory_mut()[0..5], b"aabcd");
        assert_eq!(memory_copy(vmctx, 0, 1, 4), 0, "backward overlap");
        assert_eq!(&rt.memory_mut()[0..5], b"abcdd");
        assert_eq!(memory_copy(vmctx, 65_535, 0, 2), oob);
        assert_eq!(memory_copy(vmctx, 0, 65_535, 2), oob);
        assert_eq!(&rt.memory_mut()[0..2], b"ab");
    }

    #[test]
    fn memory_init_and_dropped_segments() {
        let mut rt = state();
        let vmctx = rt.vmctx();
        let oob = TrapKind::MemoryOutOfBounds.code();
        assert_eq!(memory_init(vmctx, 0, 100, 1, 3), 0);
        assert_eq!(&rt.memory_mut()[100..103], b"ell");
        assert_eq!(memory_init(vmctx, 0, 0, 3, 3), oob, "past the segment");
        assert_eq!(memory_init(vmctx, 0, 65_534, 0, 3), oob, "past memory");
        assert_eq!(memory_init(vmctx, 9, 0, 0, 0), oob, "no such segment");
        assert_eq!(data_drop(vmctx, 0), 0);
        assert_eq!(memory_init(vmctx, 0, 0, 0, 0), 0, "dropped: length 0");
        assert_eq!(memory_init(vmctx, 0, 0, 0, 1), oob);
        assert_eq!(memory_init(vmctx, 0, 0, 1, 0), oob);
        assert_eq!(
            memory_init(vmctx, 1, 5, 0, 2),
            0,
            "other segments unaffected"
        );
        assert_eq!(&rt.memory_mut()[5..7], b"xy");
    }

    #[test]
    fn table_grow_fill_copy_init_drop() {
        let rt = state();
        let vmctx = rt.vmctx();
        let oob = TrapKind::TableOutOfBounds.code();
        assert_eq!(table_grow(vmctx, 0, 7, 2), 4);
        assert_eq!(rt.table_defs[0].len, 6);
        assert_eq!(
            rt.table_defs[0].base,
            rt.tables[0].elems.as_ptr().cast_mut()
        );
        assert_eq!(&rt.tables[0].elems[4..], &[7, 7]);
        assert_eq!(table_grow(vmctx, 0, 0, 1), u32::MAX, "maximum 6");
        assert_eq!(table_grow(vmctx, 1, 0, 1), u32::MAX);
        assert_eq!(table_grow(vmctx, 5, 0, 0), u32::MAX, "no such table");

        assert_eq!(table_fill(vmctx, 0, 1, 9, 2), 0);
        assert_eq!(&rt.tables[0].elems[..4], &[0, 9, 9, 0]);
        assert_eq!(table_fill(vmctx, 0, 5, 9, 2), oob);
        assert_eq!(table_fill(vmctx, 0, 6, 9, 0), 0);

        assert_eq!(table_copy(vmctx, 0, 0, 2, 1, 3), 0, "overlapping");
        assert_eq!(&rt.tables[0].elems, &[0, 9, 9, 9, 0, 7]);
        assert_eq!(table_copy(vmctx, 1, 0, 0, 4, 2), 0, "across tables");
        assert_eq!(&rt.tables[1].elems, &[0, 7]);
        assert_eq!(table_copy(vmctx, 1, 0, 1, 0, 2), oob);

        assert_eq!(table_init(vmctx, 0, 0, 0, 1, 2), 0);
        assert_eq!(&rt.tables[0].elems[..2], &[12, 13]);
        assert_eq!(table_init(vmctx, 0, 0, 0, 2, 2), oob, "past the segment");
        assert_eq!(table_init(vmctx, 0, 0, 5, 0, 2), oob, "past the table");
        assert_eq!(elem_drop(vmctx, 0), 0);
        assert_eq!(table_init(vmctx, 0, 0, 0, 0, 0), 0);
        assert_eq!(table_init(vmctx, 0, 0, 0, 0, 1), oob);
    }

    fn host(
        sig: FuncSig,
        f: impl Fn(&mut HostContext<'_>, &[Value]) -> Result<Vec<Value>, HostTrap>
            + Send
            + Sync
            + 'static,
    ) -> Option<FuncImport> {
        Some(FuncImport::Host(HostFunc {
            sig,
            func: Arc::new(f),
        }))
    }

    #[test]
    fn host_call_converts_values_charges_gas_and_reports_errors() {
        let mut rt = state();
        let sig = FuncSig {
            params: vec![ValType::I32, ValType::I64],
            results: vec![ValType::I64],
        };
        rt.imports = ImportBindings::Own(vec![
            host(sig.clone(), |cx, args| {
                let (Value::I32(a), Value::I64(b)) = (args[0], args[1]) else {
                    return Err(HostTrap::new("bad args"));
                };
                cx.charge_gas(5)?;
                cx.write(0, &[1, 2])?;
                Ok(vec![Value::I64(i64::from(a) * b)])
            }),
            host(sig.clone(), |_, _| Ok(vec![Value::I32(1)])),
            host(sig.clone(), |_, _| panic!("boom")),
            None,
        ]);
        let vmctx = rt.vmctx();
        // SAFETY: the vmctx this test's state owns.
        unsafe { (*vmctx).gas_remaining = 100 };
        let mut args = [(-3i32) as u32 as u64, 7];
        assert_eq!(host_call(vmctx, 0, args.as_mut_ptr()), 0);
        assert_eq!(args[0] as i64, -21);
        assert_eq!(ctx(&rt).gas_remaining, 95);
        assert_eq!(&rt.memory_mut()[..2], &[1, 2]);

        assert_eq!(host_call(vmctx, 1, args.as_mut_ptr()), HOST_ERROR);
        let msg = rt.failure.take().unwrap().message.unwrap();
        assert!(msg.contains("expects (i64)"), "{msg}");
        assert_eq!(host_call(vmctx, 2, args.as_mut_ptr()), HOST_ERROR);
        let msg = rt.failure.take().unwrap().message.unwrap();
        assert!(msg.contains("panicked: boom"), "{msg}");
        assert_eq!(host_call(vmctx, 3, args.as_mut_ptr()), HOST_ERROR);

        // SAFETY: as above.
        unsafe { (*vmctx).gas_remaining = 4 };
        let mut args = [1, 1];
        assert_eq!(
            host_call(vmctx, 0, args.as_mut_ptr()),
            TrapKind::OutOfGas.code()
        );
        assert_eq!(ctx(&rt).gas_remaining, 0);
    }

    #[test]
    fn host_call_dispatches_the_host_abi() {
        let mut rt = state();
        rt.imports = ImportBindings::Own(vec![
            Some(FuncImport::Abi(HostFunction::LogUtf8)),
            Some(FuncImport::Abi(HostFunction::BlockHeight)),
        ]);
        rt.memory_mut()[..2].copy_from_slice(b"hi");
        let vmctx = rt.vmctx();
        // SAFETY: the vmctx this test's state owns.
        unsafe { (*vmctx).gas_remaining = 1_000_000_000 };
        let mut args = [0u64, 2];
        assert_eq!(
            host_call(vmctx, 0, args.as_mut_ptr()),
            HOST_ERROR,
            "no HostEnv"
        );
        assert!(rt
            .failure
            .take()
            .unwrap()
            .message
            .unwrap()
            .contains("call_contract"));

        let mut storage = MemoryStorage::new();
        let context = CallContext {
            block_height: 77,
            ..CallContext::default()
        };
        let mut env = HostEnv::new(context, &mut storage);
        let host: &mut dyn ContractHost = &mut env;
        // SAFETY (test): `env` outlives every use of the pointer below.
        rt.contract_host = Some(unsafe {
            std::mem::transmute::<
                std::ptr::NonNull<dyn ContractHost + '_>,
                std::ptr::NonNull<dyn ContractHost>,
            >(std::ptr::NonNull::from(host))
        });
        assert_eq!(host_call(vmctx, 0, args.as_mut_ptr()), 0);
        let mut args = [0u64];
        assert_eq!(host_call(vmctx, 1, args.as_mut_ptr()), 0);
        assert_eq!(args[0], 77);
        assert!(ctx(&rt).gas_remaining < 1_000_000_000, "host gas charged");
        let mut args = [70_000u64, 2];
        assert_eq!(host_call(vmctx, 0, args.as_mut_ptr()), HOST_ERROR);
        let failure = rt.failure.take().unwrap();
        assert_eq!(failure.host_error.unwrap().kind(), "memory_access");
        // SAFETY: as above.
        unsafe { (*vmctx).gas_remaining = 1 };
        let mut args = [0u64, 2];
        assert_eq!(
            host_call(vmctx, 0, args.as_mut_ptr()),
            TrapKind::OutOfGas.code()
        );
        assert_eq!(ctx(&rt).gas_remaining, 0);
        rt.contract_host = None;
        assert_eq!(env.logs(), ["hi"]);
    }

    #[test]
    fn values_round_trip_through_slots() {
        let rt = state();
        for v in [
            Value::I32(-1),
            Value::I64(i64::MIN),
            Value::FuncRef(Some(2)),
            Value::FuncRef(None),
            Value::ExternRef(Some(0)),
            Value::ExternRef(None),
        ] {
            let bits = rt.encode(v).unwrap();
            assert_eq!(rt.decode(v.ty(), bits), v);
        }
        assert_eq!(rt.encode(Value::I32(-1)).unwrap(), 0xffff_ffff);
        assert!(rt.encode(Value::FuncRef(Some(3))).is_err());
    }
}
