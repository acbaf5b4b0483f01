//! [`EmuBackend`]: runs the calls of ordinary `gasket_vm::Instance`s of AArch64 artifacts in
//! Unicorn, through `gasket_vm::call_backend` (feature `call-backend`).
//!
//! The runtime does everything it does natively (instantiation, libcalls, host functions,
//! gas and trap bookkeeping); only the entry trampoline call is emulated. Host memory is
//! mapped into the guest **at the same addresses** (`mem_map_ptr`, identity), so every
//! pointer the runtime hands generated code (vmctx, funcrefs, tables, linear memory, the
//! instance's stack, the code mapping itself) is valid in the guest unchanged, and every
//! pointer generated code hands a libcall (`HostCall`'s slots) is valid on the host.
//!
//! Libcalls: before the call the vmctx's libcall table is pointed at a page of `ret`
//! slots; a code hook on that page runs `gasket_vm::call_backend::libcall` (the runtime's
//! own `extern "C"` helpers) with x0..x7, puts the result in x0, maps any memory or table
//! storage the helper grew or moved, and lets the `ret` return to the generated code.
//!
//! Identity mapping works because x86-64 user-space addresses (< 2^47) are valid guest
//! physical addresses and Unicorn runs the guest with its MMU off.
//!
//! Each call gets a fresh Unicorn (about 0.1 ms), so calls nest naturally (a host function
//! calling another instance runs a second emulator while the first is suspended in its
//! hook) and no translated code outlives the module it came from.

use std::alloc::Layout;
use std::any::Any;
use std::cell::RefCell;
use std::collections::BTreeSet;
use std::ops::Range;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::rc::Rc;
use std::sync::{Arc, OnceLock};

use gasket_singlepass::{Libcall, Target, VmCtx};
use gasket_vm::call_backend::{self, CallBackend, EntryCall};
use gasket_vm::metering::Profile;
use gasket_vm::Engine;
use unicorn_engine::{Arch, Mode, Prot, RegisterARM64, Unicorn};

use crate::XREGS;

const PAGE: usize = 4096;
const RET: u32 = 0xd65f_03c0;
const BRK0: u32 = 0xd420_0000;
/// Libcall slots at the start of the sentinel page; the exit `brk` after them.
const EXIT_OFFSET: usize = 4 * Libcall::COUNT;
/// The trampoline's own ("host") stack: callee-saved registers and little else.
const HOST_STACK_BYTES: usize = 64 * 1024;

/// Executes AArch64 artifacts in Unicorn. Stateless: every call builds its own emulator.
#[derive(Debug, Default)]
pub struct EmuBackend;

/// An engine for `profile` that compiles for AArch64 and runs calls under emulation.
pub fn engine(profile: Profile) -> Engine {
    Engine::with_backend(profile, Arc::new(EmuBackend))
}

/// The page of libcall `ret` slots and the exit `brk`, shared by every emulator (read-only).
fn sentinel_page() -> usize {
    static PAGE_ADDR: OnceLock<usize> = OnceLock::new();
    *PAGE_ADDR.get_or_init(|| {
        let layout = Layout::from_size_align(PAGE, PAGE).unwrap();
        // SAFETY: non-zero size; the page is leaked on purpose (lives for the process).
        let p = unsafe { std::alloc::alloc_zeroed(layout) };
        assert!(!p.is_null());
        for i in 0..Libcall::COUNT {
            // SAFETY: inside the fresh page.
            unsafe { p.add(4 * i).cast::<u32>().write_unaligned(RET) };
        }
        // SAFETY: inside the fresh page.
        unsafe { p.add(EXIT_OFFSET).cast::<u32>().write_unaligned(BRK0) };
        p as usize
    })
}

fn page_floor(a: usize) -> usize {
    a & !(PAGE - 1)
}

fn page_ceil(a: usize) -> usize {
    (a + PAGE - 1) & !(PAGE - 1)
}

/// Pages mapped so far, so the same host page is never mapped twice.
#[derive(Default)]
struct Mapped {
    pages: BTreeSet<usize>,
    /// The data regions at the last sync (most libcalls change none).
    last: Vec<Range<usize>>,
}

impl Mapped {
    /// Maps every not yet mapped page of `range` identity with `prot`.
    fn map(&mut self, uc: &mut Unicorn<'_, ()>, range: Range<usize>, prot: Prot) {
        if range.is_empty() {
            return;
        }
        let (start, end) = (page_floor(range.start), page_ceil(range.end));
        let mut page = start;
        while page < end {
            if self.pages.contains(&page) {
                page += PAGE;
                continue;
            }
            let run_start = page;
            while page < end && !self.pages.contains(&page) {
                self.pages.insert(page);
                page += PAGE;
            }
            // SAFETY: identity mapping of host memory the runtime says generated code may
            // use (or the backend's own buffers); it stays allocated for the call (the
            // instance is borrowed by it), and the emulator is dropped when the call ends.
            unsafe {
                uc.mem_map_ptr(
                    run_start as u64,
                    (page - run_start) as u64,
                    prot,
                    run_start as *mut _,
                )
            }
            .unwrap_or_else(|e| {
                panic!("cannot map {run_start:#x}..{page:#x} into the emulator: {e:?}")
            });
        }
    }

    /// Maps the instance's current data regions (after instantiation or a libcall).
    ///
    /// # Safety
    /// `vmctx` is the live vmctx of the running call.
    unsafe fn sync(&mut self, uc: &mut Unicorn<'_, ()>, vmctx: *mut VmCtx) {
        // SAFETY: forwarded.
        let regions = unsafe { call_backend::regions(vmctx) };
        if regions == self.last {
            return;
        }
        for r in &regions {
            self.map(uc, r.clone(), Prot::READ | Prot::WRITE);
        }
        self.last = regions;
    }
}

#[derive(Default)]
struct HookState {
    mapped: Mapped,
    panic: Option<Box<dyn Any + Send>>,
    misaligned_calls: u32,
}

struct HostStack(*mut u8);

impl HostStack {
    fn layout() -> Layout {
        Layout::from_size_align(HOST_STACK_BYTES, PAGE).unwrap()
    }
    fn new() -> HostStack {
        // SAFETY: non-zero size.
        let p = unsafe { std::alloc::alloc_zeroed(Self::layout()) };
        assert!(!p.is_null());
        HostStack(p)
    }
    fn range(&self) -> Range<usize> {
        self.0 as usize..self.0 as usize + HOST_STACK_BYTES
    }
}

impl Drop for HostStack {
    fn drop(&mut self) {
        // SAFETY: allocated in `new` with this layout.
        unsafe { std::alloc::dealloc(self.0, Self::layout()) };
    }
}

impl CallBackend for EmuBackend {
    fn target(&self) -> Target {
        Target::Aarch64
    }

    unsafe fn call(&self, call: &EntryCall) -> u32 {
        let mut uc = Unicorn::new(Arch::ARM64, Mode::ARM).expect("unicorn");
        uc.ctl_set_cpu_model(unicorn_engine::Arm64CpuModel::MAX as i32)
            .expect("cpu model");
        let sentinel = sentinel_page();
        let host_stack = HostStack::new();
        let state = Rc::new(RefCell::new(HookState::default()));
        {
            let mut s = state.borrow_mut();
            let m = &mut s.mapped;
            m.map(&mut uc, sentinel..sentinel + PAGE, Prot::READ | Prot::EXEC);
            m.map(&mut uc, call.code.clone(), Prot::READ | Prot::EXEC);
            m.map(&mut uc, call.stack.clone(), Prot::READ | Prot::WRITE);
            m.map(&mut uc, host_stack.range(), Prot::READ | Prot::WRITE);
            // SAFETY: the caller's vmctx is live for the call.
            unsafe { m.sync(&mut uc, call.vmctx) };
        }
        // Libcalls go to the `ret` slots.
        for i in 0..Libcall::COUNT {
            // SAFETY: the live vmctx; generated code is not running yet.
            unsafe { (*call.vmctx).libcalls[i] = sentinel + 4 * i };
        }

        let hook_state = state.clone();
        let slots_end = (sentinel + EXIT_OFFSET - 1) as u64;
        uc.add_code_hook(sentinel as u64, slots_end, move |uc, addr, _| {
            let slot = ((addr - sentinel as u64) / 4) as u32;
            let result = catch_unwind(AssertUnwindSafe(|| {
                let sp = uc.reg_read(RegisterARM64::SP).unwrap();
                if sp % 16 != 0 {
                    hook_state.borrow_mut().misaligned_calls += 1;
                }
                let args: [u64; 8] = std::array::from_fn(|i| uc.reg_read(XREGS[i]).unwrap());
                // SAFETY: generated code called libcall `slot` with its vmctx in x0, as
                // natively; pointer arguments are host addresses (identity mapping).
                let ret = unsafe { call_backend::libcall(slot, args) }
                    .unwrap_or_else(|| panic!("no libcall in slot {slot}"));
                // SAFETY: x0 is the live vmctx.
                unsafe {
                    hook_state
                        .borrow_mut()
                        .mapped
                        .sync(uc, args[0] as *mut VmCtx)
                };
                uc.reg_write(RegisterARM64::X0, ret).unwrap();
            }));
            if let Err(payload) = result {
                hook_state.borrow_mut().panic = Some(payload);
                uc.emu_stop().unwrap();
            }
        })
        .expect("hook");

        let exit = (sentinel + EXIT_OFFSET) as u64;
        let host_top = host_stack.range().end as u64;
        uc.reg_write(RegisterARM64::X0, call.vmctx as u64).unwrap();
        uc.reg_write(RegisterARM64::X1, call.func as u64).unwrap();
        uc.reg_write(RegisterARM64::X2, call.args as u64).unwrap();
        uc.reg_write(RegisterARM64::SP, host_top).unwrap();
        uc.reg_write(RegisterARM64::LR, exit).unwrap();
        let result = uc.emu_start(call.trampoline as u64, exit, 0, 0);
        let pc = uc.pc_read().unwrap();
        let sp = uc.reg_read(RegisterARM64::SP).unwrap();
        let code = uc.reg_read(RegisterARM64::X0).unwrap() as u32;
        let mut s = state.borrow_mut();
        if let Some(p) = s.panic.take() {
            drop(s);
            resume_unwind(p);
        }
        if let Err(e) = result {
            panic!("emulation failed: {e:?} at pc {pc:#x}");
        }
        assert_eq!(pc, exit, "the trampoline must return to its caller");
        assert_eq!(sp, host_top, "the trampoline must restore sp");
        assert_eq!(s.misaligned_calls, 0, "libcall entered with sp % 16 != 0");
        code
    }
}
