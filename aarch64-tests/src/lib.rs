//! An emulated AArch64 machine for testing Gasket's AArch64 backend on any host.
//!
//! Generated code runs in Unicorn (feature `emu`) through the real entry trampoline, with
//! an emulated vmctx, linear memory and stacks. Runtime helpers (libcalls) are Rust
//! closures: the vmctx's libcall table holds the addresses of slots in a page of `ret`
//! instructions, and a code hook on that page runs the closure for the slot before its
//! `ret` returns to the caller (see `../shared/notes/aarch64-testing.md`).
//!
//! Memory map (every region 64 KiB aligned):
//! `CODE` code (R+X) · `TRAP` libcall slots (R+X) · `EXIT` `brk #0` sentinels (R+X) ·
//! `VMCTX` vmctx + globals + funcrefs/tables (R+W) · `HOST_STACK` the trampoline's
//! "host" stack (R+W) · `STACK` the wasm stack (R+W) · `MEMORY` linear memory (R+W).
#![cfg(feature = "emu")]

pub mod backend;

use std::any::Any;
use std::cell::RefCell;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::rc::Rc;

use gasket_singlepass::{Libcall, VmCtx};
use unicorn_engine::{Arch, Mode, Prot, RegisterARM64, Unicorn};

pub const CODE: u64 = 0x1000_0000;
pub const TRAP: u64 = 0x0f00_0000;
pub const EXIT: u64 = 0x0f10_0000;
pub const VMCTX: u64 = 0x2000_0000;
pub const VMCTX_BYTES: u64 = 0x1_0000;
pub const HOST_STACK: u64 = 0x3000_0000;
pub const HOST_STACK_BYTES: u64 = 0x1_0000;
pub const STACK: u64 = 0x4000_0000;
pub const STACK_BYTES: u64 = 0x10_0000;
pub const MEMORY: u64 = 0x5000_0000;
/// The default `memory_len` of a test instance (one wasm page).
pub const MEMORY_BYTES: u64 = 0x1_0000;
/// Linear memory mapped (16 pages: room for `memory.grow` tests; bounds checks use the
/// vmctx's `memory_len`, never the mapping).
pub const MEMORY_MAPPED: u64 = 16 * 0x1_0000;
/// Code region reserved (64 MiB: enough for the far-branch tests).
const CODE_BYTES: u64 = 0x400_0000;

const RET: u32 = 0xd65f_03c0;
const BRK0: u32 = 0xd420_0000;

/// Integer argument registers.
pub const XREGS: [RegisterARM64; 31] = [
    RegisterARM64::X0,
    RegisterARM64::X1,
    RegisterARM64::X2,
    RegisterARM64::X3,
    RegisterARM64::X4,
    RegisterARM64::X5,
    RegisterARM64::X6,
    RegisterARM64::X7,
    RegisterARM64::X8,
    RegisterARM64::X9,
    RegisterARM64::X10,
    RegisterARM64::X11,
    RegisterARM64::X12,
    RegisterARM64::X13,
    RegisterARM64::X14,
    RegisterARM64::X15,
    RegisterARM64::X16,
    RegisterARM64::X17,
    RegisterARM64::X18,
    RegisterARM64::X19,
    RegisterARM64::X20,
    RegisterARM64::X21,
    RegisterARM64::X22,
    RegisterARM64::X23,
    RegisterARM64::X24,
    RegisterARM64::X25,
    RegisterARM64::X26,
    RegisterARM64::X27,
    RegisterARM64::X28,
    RegisterARM64::X29,
    RegisterARM64::X30,
];

/// A runtime helper: gets the emulator and x0..x7 (x0 = vmctx), returns x0.
pub type HostFn = Rc<dyn for<'u> Fn(&mut Unicorn<'u, ()>, [u64; 8]) -> u64>;

/// Emulator state shared with the libcall hook.
#[derive(Default)]
struct Shared {
    libcalls: Vec<Option<HostFn>>,
    panic: Option<Box<dyn Any + Send>>,
    /// sp % 16 at every libcall (must be 0).
    misaligned_calls: u32,
}

/// One emulated machine with one instance loaded.
pub struct Machine {
    pub uc: Unicorn<'static, ()>,
    shared: Rc<RefCell<Shared>>,
    pub trampoline: u64,
}

impl Machine {
    /// Maps everything, loads `code` (with the trampoline at `trampoline`) and sets up a
    /// vmctx with unlimited gas and stack budget and `MEMORY_BYTES` of memory.
    pub fn new(code: &[u8], trampoline: u32) -> Machine {
        let mut uc = Unicorn::new(Arch::ARM64, Mode::ARM).expect("unicorn");
        uc.ctl_set_cpu_model(unicorn_engine::Arm64CpuModel::MAX as i32)
            .expect("cpu model");
        let code_len = (code.len() as u64).div_ceil(0x1_0000) * 0x1_0000;
        assert!(code_len <= CODE_BYTES);
        uc.mem_map(CODE, code_len.max(0x1_0000), Prot::READ | Prot::EXEC)
            .expect("map code");
        uc.mem_map(TRAP, 0x1000, Prot::READ | Prot::EXEC)
            .expect("map trap");
        uc.mem_map(EXIT, 0x1000, Prot::READ | Prot::EXEC)
            .expect("map exit");
        uc.mem_map(VMCTX, VMCTX_BYTES, Prot::READ | Prot::WRITE)
            .expect("map vmctx");
        uc.mem_map(HOST_STACK, 4 * HOST_STACK_BYTES, Prot::READ | Prot::WRITE)
            .expect("map host stack");
        uc.mem_map(STACK, 4 * STACK_BYTES, Prot::READ | Prot::WRITE)
            .expect("map stack");
        uc.mem_map(MEMORY, MEMORY_MAPPED, Prot::READ | Prot::WRITE)
            .expect("map memory");
        uc.mem_write(CODE, code).expect("write code");
        let rets: Vec<u8> = (0..1024).flat_map(|_| RET.to_le_bytes()).collect();
        uc.mem_write(TRAP, &rets).unwrap();
        let brks: Vec<u8> = (0..1024).flat_map(|_| BRK0.to_le_bytes()).collect();
        uc.mem_write(EXIT, &brks).unwrap();

        let shared = Rc::new(RefCell::new(Shared {
            libcalls: vec![None; 1024],
            ..Shared::default()
        }));
        let hook_shared = shared.clone();
        uc.add_code_hook(TRAP, TRAP + 0xfff, move |uc, addr, _| {
            let slot = ((addr - TRAP) / 4) as usize;
            let f = hook_shared.borrow().libcalls[slot].clone();
            let result = catch_unwind(AssertUnwindSafe(|| {
                let sp = uc.reg_read(RegisterARM64::SP).unwrap();
                if sp % 16 != 0 {
                    hook_shared.borrow_mut().misaligned_calls += 1;
                }
                let args: [u64; 8] = std::array::from_fn(|i| uc.reg_read(XREGS[i]).unwrap());
                let f = f.unwrap_or_else(|| panic!("libcall slot {slot} has no host function"));
                let ret = f(uc, args);
                uc.reg_write(RegisterARM64::X0, ret).unwrap();
            }));
            if let Err(payload) = result {
                hook_shared.borrow_mut().panic = Some(payload);
                uc.emu_stop().unwrap();
            }
        })
        .expect("hook");

        let mut m = Machine {
            uc,
            shared,
            trampoline: CODE + u64::from(trampoline),
        };
        m.set(VmCtx::GAS_REMAINING, u64::MAX);
        m.set(VmCtx::STACK_LIMIT, u64::MAX);
        m.set(VmCtx::MEMORY_BASE, MEMORY);
        m.set(VmCtx::MEMORY_LEN, MEMORY_BYTES);
        for i in 0..Libcall::COUNT as u32 {
            m.set(VmCtx::LIBCALLS + 8 * i, TRAP + 4 * u64::from(i));
        }
        m
    }

    /// Reads the 8-byte vmctx field at `offset`.
    pub fn get(&self, offset: u32) -> u64 {
        self.read_u64(VMCTX + u64::from(offset))
    }

    /// Writes the 8-byte vmctx field at `offset`.
    pub fn set(&mut self, offset: u32, value: u64) {
        self.write_u64(VMCTX + u64::from(offset), value)
    }

    pub fn trap_code(&self) -> u32 {
        self.get(VmCtx::TRAP_CODE) as u32
    }

    pub fn read_u64(&self, addr: u64) -> u64 {
        let mut b = [0u8; 8];
        self.uc.mem_read(addr, &mut b).expect("read");
        u64::from_le_bytes(b)
    }

    pub fn write_u64(&mut self, addr: u64, value: u64) {
        self.uc
            .mem_write(addr, &value.to_le_bytes())
            .expect("write")
    }

    pub fn read_memory(&self, offset: u64, len: usize) -> Vec<u8> {
        self.uc
            .mem_read_as_vec(MEMORY + offset, len)
            .expect("read memory")
    }

    pub fn write_memory(&mut self, offset: u64, bytes: &[u8]) {
        self.uc
            .mem_write(MEMORY + offset, bytes)
            .expect("write memory")
    }

    /// Installs the host function behind `libcall`.
    pub fn set_libcall(
        &mut self,
        libcall: Libcall,
        f: impl for<'u> Fn(&mut Unicorn<'u, ()>, [u64; 8]) -> u64 + 'static,
    ) {
        self.shared.borrow_mut().libcalls[libcall as usize] = Some(Rc::new(f));
    }

    /// Libcalls entered with a misaligned sp so far.
    pub fn misaligned_calls(&self) -> u32 {
        self.shared.borrow().misaligned_calls
    }

    /// Calls the function at code offset `func` through the trampoline with `args` in
    /// the 8 slots at the top of the wasm stack; returns the trampoline's result and the
    /// slots. Checks that the trampoline returned to its caller with sp restored.
    pub fn call(&mut self, func: u32, args: &[u64]) -> (u32, [u64; 8]) {
        let (code, slots) = call_in(
            &mut self.uc,
            self.trampoline,
            CODE + u64::from(func),
            args,
            0,
        );
        if let Some(p) = self.shared.borrow_mut().panic.take() {
            resume_unwind(p);
        }
        (code, slots)
    }

    /// Call and expect a normal return; slot 0.
    pub fn run(&mut self, func: u32, args: &[u64]) -> u64 {
        let (code, slots) = self.call(func, args);
        assert_eq!(code, 0, "unexpected trap {code}");
        slots[0]
    }
}

/// Runs `entry` through the trampoline at `trampoline`, nesting level `depth` (0 for a
/// top-level call; a host function calling back in uses 1, 2, …: each level has its own
/// host stack, wasm stack and exit sentinel, and the caller's registers are restored).
pub fn call_in(
    uc: &mut Unicorn<'_, ()>,
    trampoline: u64,
    entry: u64,
    args: &[u64],
    depth: u64,
) -> (u32, [u64; 8]) {
    assert!(args.len() <= 8 && depth < 4);
    let saved = if depth > 0 {
        Some(uc.context_init().expect("context"))
    } else {
        None
    };
    let host_top = HOST_STACK + (depth + 1) * HOST_STACK_BYTES;
    let area = STACK + (depth + 1) * STACK_BYTES - 64;
    let mut bytes = [0u8; 64];
    for (i, a) in args.iter().enumerate() {
        bytes[8 * i..8 * i + 8].copy_from_slice(&a.to_le_bytes());
    }
    uc.mem_write(area, &bytes).unwrap();
    let exit = EXIT + 4 * depth;
    uc.reg_write(RegisterARM64::X0, VMCTX).unwrap();
    uc.reg_write(RegisterARM64::X1, entry).unwrap();
    uc.reg_write(RegisterARM64::X2, area).unwrap();
    uc.reg_write(RegisterARM64::SP, host_top).unwrap();
    uc.reg_write(RegisterARM64::LR, exit).unwrap();
    let result = uc.emu_start(trampoline, exit, 0, 0);
    let pc = uc.pc_read().unwrap();
    let sp = uc.reg_read(RegisterARM64::SP).unwrap();
    let code = uc.reg_read(RegisterARM64::X0).unwrap() as u32;
    let mut out = [0u8; 64];
    uc.mem_read(area, &mut out).unwrap();
    if let Some(ctx) = saved {
        uc.context_restore(&ctx).expect("restore");
    }
    if result.is_ok() {
        // (A hook that panicked stopped the emulation early: the caller re-raises.)
        if pc == exit {
            assert_eq!(sp, host_top, "trampoline must restore sp");
        }
    } else {
        panic!("emulation failed: {result:?} at pc {pc:#x}");
    }
    (
        code,
        std::array::from_fn(|i| u64::from_le_bytes(out[8 * i..8 * i + 8].try_into().unwrap())),
    )
}
