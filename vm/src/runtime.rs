//! The per-instance state generated code reaches through `VmCtx::runtime`: memory, tables,
//! function references, segments and import bindings. Libcalls operate on it.

use std::alloc::Layout;
use std::ptr::NonNull;

use gasket_host_api::near::{dispatch_near, NearEnv, NearFunction};
use gasket_host_api::{GasMeter, GuestMemory, HostEnv, HostError, HostFunction, OutOfGas, Storage};
use gasket_singlepass::{FuncRef, Libcall, TableDef, TrapKind, VmCtx, WrittenRanges};

use crate::data_segments::DataSegments;
use crate::error::Trap;
use crate::imports::HostFunc;
use crate::libcalls;
use crate::memory::{LinearMemory, TrackedMemory};
use crate::module_slice::ModuleSlice;

/// A table's storage. `TableDef::base` points into `elems`, so the def is updated whenever
/// `elems` reallocates.
#[derive(Debug)]
pub(crate) struct Table {
    pub elems: Vec<u64>,
    /// The size `table.grow` can never exceed: the declared maximum capped by the profile.
    pub maximum: u32,
}

/// What an imported function resolves to.
#[derive(Clone, Debug)]
pub(crate) enum FuncImport {
    /// An embedder closure (permissive profile).
    Host(HostFunc),
    /// A host ABI function, dispatched to `gasket_host_api::dispatch` with the `HostEnv`
    /// of the running `call_contract`.
    Abi(HostFunction),
    /// A NEAR-compatible host function, dispatched to
    /// `gasket_host_api::near::dispatch_near` with the `NearEnv` of the running
    /// `call_near`.
    Near(NearFunction),
}

/// Encodes a `ref.func` of function `index` of `funcrefs` (the module's array, which
/// instances share): the address of its FuncRef.
pub(crate) fn funcref_bits(funcrefs: &[FuncRef], index: u32) -> Option<u64> {
    funcrefs
        .get(index as usize)
        .map(|f| f as *const FuncRef as u64)
}

/// Per function index, what an imported function resolves to (`None` for defined
/// functions and intrinsics).
#[derive(Debug)]
pub(crate) enum ImportBindings {
    /// The module's host ABI bindings (`ModuleInner::abi_bindings`), read in place: the
    /// embedder bound none of the module's imports itself, the common case, so
    /// instantiation copies nothing.
    Module(ModuleSlice<Option<FuncImport>>),
    /// The module's bindings with the embedder's own functions in their slots.
    Own(Vec<Option<FuncImport>>),
}

impl ImportBindings {
    /// What function `index` resolves to, if it is a bound import.
    pub(crate) fn get(&self, index: u32) -> Option<&FuncImport> {
        let slots = match self {
            ImportBindings::Module(slots) => slots.as_slice(),
            ImportBindings::Own(slots) => slots,
        };
        slots.get(index as usize)?.as_ref()
    }

    /// Binds function `index` to `binding`, copying the module's bindings first if this
    /// still reads them in place. Does nothing for an index outside the table.
    pub(crate) fn bind(&mut self, index: u32, binding: FuncImport) {
        if let ImportBindings::Module(slots) = self {
            *self = ImportBindings::Own(slots.to_vec());
        }
        if let ImportBindings::Own(slots) = self {
            if let Some(slot) = slots.get_mut(index as usize) {
                *slot = Some(binding);
            }
        }
    }
}

/// A host function of either ABI, as the libcall hands it to the [`ContractHost`].
#[derive(Copy, Clone, Debug)]
pub(crate) enum AbiFunction {
    V1(HostFunction),
    Near(NearFunction),
}

impl From<AbiFunction> for FuncImport {
    fn from(func: AbiFunction) -> FuncImport {
        match func {
            AbiFunction::V1(f) => FuncImport::Abi(f),
            AbiFunction::Near(f) => FuncImport::Near(f),
        }
    }
}

impl AbiFunction {
    pub fn name(self) -> &'static str {
        match self {
            AbiFunction::V1(f) => f.name(),
            AbiFunction::Near(f) => f.name(),
        }
    }

    pub fn signature(self) -> gasket_host_api::Signature {
        match self {
            AbiFunction::V1(f) => f.signature(),
            AbiFunction::Near(f) => f.signature(),
        }
    }
}

/// The error for a host function of the other ABI than the running call's environment.
fn wrong_abi(func: AbiFunction, call: &'static str) -> HostError {
    HostError::InvalidArgument {
        function: func.name(),
        detail: format!(
            "the module imports it, but the contract was called with {call}: \
             call ABI v1 contracts with Instance::call_contract and NEAR ones with Instance::call_near"
        ),
    }
}

/// A contract call's host environment with its storage type erased, so a libcall can reach
/// it through the instance state.
pub(crate) trait ContractHost {
    fn dispatch(
        &mut self,
        func: AbiFunction,
        args: &[u64],
        memory: &mut dyn GuestMemory,
        gas: &mut dyn GasMeter,
    ) -> Result<Option<u64>, HostError>;
}

impl<S: Storage + ?Sized> ContractHost for HostEnv<'_, S> {
    fn dispatch(
        &mut self,
        func: AbiFunction,
        args: &[u64],
        memory: &mut dyn GuestMemory,
        gas: &mut dyn GasMeter,
    ) -> Result<Option<u64>, HostError> {
        match func {
            AbiFunction::V1(f) => gasket_host_api::dispatch(f, args, memory, gas, self),
            AbiFunction::Near(_) => Err(wrong_abi(func, "an ABI v1 HostEnv")),
        }
    }
}

impl<S: Storage + ?Sized> ContractHost for NearEnv<'_, S> {
    fn dispatch(
        &mut self,
        func: AbiFunction,
        args: &[u64],
        memory: &mut dyn GuestMemory,
        gas: &mut dyn GasMeter,
    ) -> Result<Option<u64>, HostError> {
        match func {
            AbiFunction::Near(f) => dispatch_near(f, args, memory, gas, self),
            AbiFunction::V1(_) => Err(wrong_abi(func, "a NearEnv")),
        }
    }
}

/// Gas charged by host functions, straight from `VmCtx::gas_remaining`.
pub(crate) struct VmGas<'a>(pub &'a mut u64);

impl GasMeter for VmGas<'_> {
    fn charge(&mut self, amount: u64) -> Result<(), OutOfGas> {
        match self.0.checked_sub(amount) {
            Some(left) => {
                *self.0 = left;
                Ok(())
            }
            None => {
                *self.0 = 0;
                Err(OutOfGas)
            }
        }
    }

    fn remaining(&self) -> u64 {
        *self.0
    }
}

/// One instance's state. Boxed (its address is stored in the vmctx) and never moved.
pub(crate) struct Runtime {
    /// The vmctx (header plus globals), allocated 16-aligned; owned, freed on drop.
    vmctx: NonNull<VmCtx>,
    vmctx_layout: Layout,
    pub globals: u32,
    pub memory: Option<LinearMemory>,
    pub tables: Vec<Table>,
    pub table_defs: Box<[TableDef]>,
    /// The module's function references (`ModuleInner::funcrefs`), read in place.
    pub funcrefs: ModuleSlice<FuncRef>,
    /// Data segments (a dropped one behaves as length 0).
    pub data: DataSegments,
    /// Passive element segments' evaluated items, up to the last passive segment (active
    /// and declared ones are empty here: dropped by instantiation); empty once dropped.
    pub elements: Vec<Vec<u64>>,
    /// Per function index: what an imported function resolves to.
    pub imports: ImportBindings,
    /// The running `call_contract`'s environment; `None` outside one.
    pub contract_host: Option<NonNull<dyn ContractHost>>,
    /// Details of the failure that made the running call trap (set by libcalls).
    pub failure: Option<Trap>,
    /// Whether a call is running (re-entry is refused).
    pub running: bool,
    /// Whether libcalls switch to the host thread's stack (native calls; not calls run
    /// by a `CallBackend`, whose `saved_sp` is not a host address).
    pub libcalls_on_host_stack: bool,
    /// The lowest stack pointer a libcall saw on entry, before switching stacks, since
    /// the call began (`usize::MAX`: none ran). Bounds how deep Rust code wrote the
    /// instance's stack (see `NativeStack::note_call`).
    pub lowest_libcall_sp: usize,
    /// Gas reports only (`None` otherwise, and then never touched): per imported
    /// function index, its calls and the gas they charged.
    pub host_gas: Option<std::collections::BTreeMap<u32, HostGasUse>>,
}

/// Calls of one imported function and the gas they charged (gas reports).
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct HostGasUse {
    pub calls: u64,
    pub gas: u64,
}

// SAFETY: every pointer in `Runtime` points into memory it owns (vmctx, tables, memory) or
// into its module (code, function references, import bindings, segments: `ModuleSlice`),
// which the instance keeps alive and nothing writes; `contract_host` is
// only set while a call runs on the current thread. Nothing is tied to a thread.
unsafe impl Send for Runtime {}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime")
            .field("globals", &self.globals)
            .field("memory_pages", &self.memory.as_ref().map(|m| m.pages()))
            .field("tables", &self.tables.len())
            .finish_non_exhaustive()
    }
}

/// The libcall table, in `Libcall` order.
fn libcall_addresses() -> [usize; Libcall::COUNT] {
    [
        libcalls::host_call as *const () as usize,
        libcalls::memory_grow as *const () as usize,
        libcalls::memory_fill as *const () as usize,
        libcalls::memory_copy as *const () as usize,
        libcalls::memory_init as *const () as usize,
        libcalls::data_drop as *const () as usize,
        libcalls::table_grow as *const () as usize,
        libcalls::table_fill as *const () as usize,
        libcalls::table_copy as *const () as usize,
        libcalls::table_init as *const () as usize,
        libcalls::elem_drop as *const () as usize,
    ]
}

impl Runtime {
    /// A state with a zeroed vmctx for `globals` globals and nothing else; the caller
    /// fills in the rest, then calls [`Runtime::reset_vmctx`] once the box is in place.
    pub fn new(globals: u32) -> Box<Runtime> {
        let size = VmCtx::HEADER_SIZE as usize + 8 * globals as usize;
        // 16-aligned and never zero-sized (the header alone is 160 bytes).
        let layout = Layout::from_size_align(size, 16).unwrap_or(Layout::new::<VmCtx>());
        // SAFETY: `layout` has a non-zero size; zeroed memory is a valid VmCtx (null
        // pointers, zero counters) and valid global slots.
        let raw = unsafe { std::alloc::alloc_zeroed(layout) };
        let Some(vmctx) = NonNull::new(raw.cast::<VmCtx>()) else {
            std::alloc::handle_alloc_error(layout)
        };
        Box::new(Runtime {
            vmctx,
            vmctx_layout: layout,
            globals,
            memory: None,
            tables: Vec::new(),
            table_defs: Box::new([]),
            funcrefs: ModuleSlice::empty(),
            data: DataSegments::none(),
            elements: Vec::new(),
            imports: ImportBindings::Own(Vec::new()),
            contract_host: None,
            failure: None,
            running: false,
            libcalls_on_host_stack: false,
            lowest_libcall_sp: usize::MAX,
            host_gas: None,
        })
    }

    /// The vmctx pointer generated code gets.
    pub fn vmctx(&self) -> *mut VmCtx {
        self.vmctx.as_ptr()
    }

    /// Writes every header field except gas and the stack budget: pointers to this state,
    /// memory, tables, function references and the libcalls. `self` must be at its final
    /// address (boxed).
    pub fn reset_vmctx(&mut self) {
        let runtime = (self as *mut Runtime).cast();
        let (memory_base, memory_len) = self.memory_view();
        let funcrefs = self.funcrefs.as_ptr();
        let tables = self.table_defs.as_ptr();
        // SAFETY: `vmctx` is the allocation this state owns, valid and aligned for VmCtx;
        // no call is running, so nothing else accesses it.
        let ctx = unsafe { &mut *self.vmctx.as_ptr() };
        ctx.memory_base = memory_base;
        ctx.memory_len = memory_len;
        ctx.trap_code = 0;
        ctx.store_run_unproven = 0;
        ctx.saved_sp = 0;
        ctx.funcrefs = funcrefs;
        ctx.tables = tables;
        ctx.runtime = runtime;
        ctx.libcalls = libcall_addresses();
    }

    fn memory_view(&self) -> (*mut u8, u64) {
        match &self.memory {
            Some(m) => (m.base(), m.len()),
            None => (std::ptr::null_mut(), 0),
        }
    }

    /// Global `index`'s slot.
    pub fn global(&self, index: u32) -> Option<u64> {
        if index >= self.globals {
            return None;
        }
        // SAFETY: the slot is inside the vmctx allocation (index < globals) and 8-aligned.
        Some(unsafe { self.global_ptr(index).read() })
    }

    /// Sets global `index`'s slot.
    pub fn set_global(&mut self, index: u32, bits: u64) {
        if index < self.globals {
            // SAFETY: as in `global`; `&mut self` excludes other accesses.
            unsafe { self.global_ptr(index).write(bits) };
        }
    }

    /// # Safety
    /// `index < self.globals`.
    unsafe fn global_ptr(&self, index: u32) -> *mut u64 {
        let offset = VmCtx::global_offset(index) as usize;
        // SAFETY: the caller guarantees the offset is inside the allocation.
        unsafe { self.vmctx.as_ptr().cast::<u8>().add(offset).cast::<u64>() }
    }

    /// `VmCtx::gas_remaining`, as a mutable reference for host gas charging.
    pub fn gas_remaining_mut(&mut self) -> &mut u64 {
        // SAFETY: the field is inside the vmctx this state owns; `&mut self` makes the
        // reference unique for its lifetime.
        unsafe { &mut (*self.vmctx.as_ptr()).gas_remaining }
    }

    /// Sets the gas a granule added to the written ranges costs (the profile's
    /// `memory_write_per_granule`), which the dirty-range stub and `mark_charged` read.
    pub fn set_write_price(&mut self, price: u32) {
        // SAFETY: the field is inside the vmctx this state owns; `&mut self` makes the
        // access unique.
        unsafe { (*self.vmctx.as_ptr()).write_price = u64::from(price) };
    }

    /// Marks the bytes `from..to` of memory written before the runtime writes them,
    /// charging what they add to the written ranges at the vmctx's write price
    /// (`WrittenRanges::mark_charged`, the rule compiled stores follow in the dirty-range
    /// stub): out of gas leaves the ranges and memory unchanged and the gas at 0.
    pub(crate) fn mark_charged(&mut self, from: u64, to: u64) -> Result<(), TrapKind> {
        // SAFETY: the fields are inside the vmctx this state owns, disjoint from each
        // other; `&mut self` makes the access unique (generated code is suspended in a
        // libcall or not running).
        let ctx = unsafe { &mut *self.vmctx.as_ptr() };
        // The price was set from a u32 (`set_write_price`).
        let price = ctx.write_price as u32;
        let charged = ctx
            .written
            .mark_charged(from, to, price, &mut ctx.gas_remaining)
            .map_err(|_| TrapKind::OutOfGas)?;
        ctx.write_gas = ctx.write_gas.wrapping_add(charged);
        Ok(())
    }

    /// Gas charged so far for widening the written ranges (`VmCtx::write_gas`).
    pub(crate) fn write_gas(&self) -> u64 {
        // SAFETY: the field is inside the vmctx this state owns; read while no call runs.
        unsafe { (*self.vmctx.as_ptr()).write_gas }
    }

    /// Encodes a `ref.func` of function `index`: the address of its FuncRef.
    pub fn funcref_bits(&self, index: u32) -> Option<u64> {
        funcref_bits(&self.funcrefs, index)
    }

    /// The function index a funcref slot refers to (`None` for null or a foreign value).
    pub fn funcref_index(&self, bits: u64) -> Option<u32> {
        let base = self.funcrefs.as_ptr() as u64;
        let offset = bits.checked_sub(base)?;
        let size = u64::from(FuncRef::SIZE);
        if offset % size != 0 || offset / size >= self.funcrefs.len() as u64 {
            return None;
        }
        u32::try_from(offset / size).ok()
    }

    /// Points `table_defs[index]` at the table's current storage.
    pub fn sync_table_def(&mut self, index: usize) {
        if let (Some(table), Some(def)) =
            (self.tables.get_mut(index), self.table_defs.get_mut(index))
        {
            def.base = table.elems.as_mut_ptr();
            def.len = table.elems.len() as u32;
            def._reserved = 0;
        }
    }

    /// Updates `VmCtx::memory_len` after growth.
    pub fn sync_memory_len(&mut self) {
        let (_, len) = self.memory_view();
        // SAFETY: field of the vmctx this state owns; the libcall that grew memory runs
        // while generated code is suspended in the call, so nothing reads it concurrently.
        unsafe { (*self.vmctx.as_ptr()).memory_len = len };
    }

    /// The current linear memory bytes (empty without a memory), all marked written:
    /// the caller may write anywhere.
    pub fn memory_mut(&mut self) -> &mut [u8] {
        let (bytes, written) = self.tracked_memory().split();
        written.mark(0, bytes.len() as u64);
        bytes
    }

    /// Linear memory whose writes widen the written ranges (`VmCtx::written`).
    pub(crate) fn tracked_memory(&mut self) -> TrackedMemory<'_> {
        let vmctx = self.vmctx.as_ptr();
        let bytes = match &mut self.memory {
            Some(m) => m.as_mut_slice(),
            None => &mut [],
        };
        // SAFETY: the field lives in the vmctx allocation this state owns, disjoint from
        // the memory's bytes and from `self`'s fields; generated code is suspended (in a
        // libcall) or not running while the borrow lasts.
        let written = unsafe { &mut (*vmctx).written };
        TrackedMemory::new(bytes, written)
    }

    /// The parts of linear memory that may hold a written byte: everything outside them
    /// is zero.
    pub(crate) fn written(&self) -> WrittenRanges {
        // SAFETY: a field of the vmctx this state owns; no call is running.
        unsafe { (*self.vmctx.as_ptr()).written }
    }

    /// Records why the running call is about to trap.
    pub fn fail(&mut self, kind: TrapKind, message: impl Into<String>) -> u32 {
        self.failure = Some(Trap::with_message(kind, message));
        kind.code()
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        // SAFETY: allocated in `new` with exactly this layout, freed once.
        unsafe { std::alloc::dealloc(self.vmctx.as_ptr().cast(), self.vmctx_layout) };
    }
}
