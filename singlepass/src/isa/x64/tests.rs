//! Execution tests of the x86-64 macro assembler, run natively: the shared cases of
//! `masm_suite` (the same ones the AArch64 backend runs in its emulator) through the
//! `NativeX64` harness, and what only this backend's harness can test: libcalls as C
//! functions, a libcall re-entering the trampoline, the host's callee-saved registers.

use std::cell::{Cell, RefCell};

use super::regs::{R10, R12, R8, R9, RBX, RDI, RSI};
use super::X64Masm;
use crate::masm::{
    Address, AluOp, Base, Cond, LibcallArg, MacroAssembler, Operand, Reg, Size, StoreWidth,
};
use crate::masm_suite::{self, Harness, TestInstance, MEMORY_BYTES};
use crate::vmctx::{Libcall, VmCtx};
use crate::TrapKind;

pub(super) use crate::masm_suite::{slot, store_slot};

const STACK_SLOTS: usize = 32 * 1024; // 256 KiB

/// Executable copy of generated code (W^X: written while RW, then made R|X).
struct Exec {
    ptr: *mut u8,
    len: usize,
}

impl Exec {
    fn new(code: &[u8]) -> Exec {
        let len = code.len().max(1).div_ceil(4096) * 4096;
        // SAFETY: an anonymous private mapping with no address hint; the result is checked.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        assert_ne!(ptr, libc::MAP_FAILED, "mmap failed");
        let ptr = ptr as *mut u8;
        // SAFETY: the mapping is `len >= code.len()` bytes, writable, and fresh (no overlap).
        unsafe { std::ptr::copy_nonoverlapping(code.as_ptr(), ptr, code.len()) };
        // SAFETY: `ptr..ptr+len` is exactly the mapping created above.
        let rc = unsafe { libc::mprotect(ptr.cast(), len, libc::PROT_READ | libc::PROT_EXEC) };
        assert_eq!(rc, 0, "mprotect failed");
        Exec { ptr, len }
    }

    fn at(&self, offset: u32) -> *const u8 {
        assert!((offset as usize) < self.len);
        self.ptr.wrapping_add(offset as usize)
    }
}

impl Drop for Exec {
    fn drop(&mut self) {
        // SAFETY: unmapping exactly the mapping this value owns; no code runs from it now.
        unsafe { libc::munmap(self.ptr.cast(), self.len) };
    }
}

type Trampoline = unsafe extern "C" fn(*mut VmCtx, *const u8, *mut u64) -> u32;

/// The x86-64 backend run natively.
pub(super) struct NativeX64;

impl Harness for NativeX64 {
    type Masm = X64Masm;
    type Instance = Instance;
    const T0: u8 = RSI;
    const T1: u8 = RDI;
    const T2: u8 = R8;
    const T3: u8 = R9;
    const T4: u8 = R10;
    const L0: u8 = RBX;
    const L1: u8 = R12;

    fn masm() -> X64Masm {
        X64Masm::new()
    }

    fn instance(code: &[u8], trampoline: u32, offsets: &[u32]) -> Instance {
        Instance::new(Exec::new(code), trampoline, offsets.to_vec())
    }
}

crate::masm_suite_tests!(NativeX64);

/// The shared builder, for this backend.
pub(super) type Builder = masm_suite::Builder<NativeX64>;

/// A test instance: the executable code, a vmctx, linear memory and a native stack.
pub(super) struct Instance {
    exec: Exec,
    trampoline: u32,
    offsets: Vec<u32>,
    pub(super) vmctx: Box<VmCtx>,
    memory: Vec<u8>,
    stack: Vec<u64>,
}

impl Instance {
    fn new(exec: Exec, trampoline: u32, offsets: Vec<u32>) -> Instance {
        let mut memory = vec![0u8; MEMORY_BYTES];
        let vmctx = Box::new(VmCtx {
            gas_remaining: u64::MAX,
            stack_limit: u64::MAX,
            memory_base: memory.as_mut_ptr(),
            memory_len: MEMORY_BYTES as u64,
            trap_code: 0,
            store_run_unproven: 0,
            saved_sp: 0,
            funcrefs: std::ptr::null(),
            tables: std::ptr::null(),
            runtime: std::ptr::null_mut(),
            libcalls: [0; Libcall::COUNT],
            stack_reserve: 0,
            written: crate::WrittenRanges::EMPTY,
            write_price: 0,
            write_gas: 0,
        });
        Instance {
            exec,
            trampoline,
            offsets,
            vmctx,
            memory,
            stack: vec![0u64; STACK_SLOTS],
        }
    }

    fn trampoline(&self) -> Trampoline {
        // SAFETY: `trampoline` is the offset of the entry trampoline emitted into this
        // code, which has exactly this C signature.
        unsafe { std::mem::transmute::<*const u8, Trampoline>(self.exec.at(self.trampoline)) }
    }

    fn entry_ptr(&self, func: usize) -> *const u8 {
        self.exec.at(self.offsets[func])
    }

    /// A pointer to the 64-bit vmctx field at `offset`.
    fn field(&self, offset: u32) -> *const u64 {
        assert!(
            offset.is_multiple_of(8) && offset + 8 <= VmCtx::HEADER_SIZE,
            "vmctx offset {offset}"
        );
        (&*self.vmctx as *const VmCtx)
            .cast::<u8>()
            .wrapping_add(offset as usize)
            .cast()
    }
}

impl TestInstance for Instance {
    /// Calls `func` with `args` in 8 slots at the 16-byte aligned top of the stack.
    fn call(&mut self, func: usize, args: &[u64]) -> (u32, [u64; 8]) {
        let (trampoline, entry) = (self.trampoline(), self.entry_ptr(func));
        call_on(trampoline, &mut self.vmctx, entry, &mut self.stack, args)
    }

    fn entry(&self, func: usize) -> u64 {
        self.entry_ptr(func) as u64
    }

    fn memory_address(&self) -> u64 {
        self.memory.as_ptr() as u64
    }

    fn write_memory(&mut self, offset: usize, bytes: &[u8]) {
        self.memory[offset..offset + bytes.len()].copy_from_slice(bytes);
    }

    fn read_memory(&self, offset: usize, len: usize) -> Vec<u8> {
        self.memory[offset..offset + len].to_vec()
    }

    fn get(&self, offset: u32) -> u64 {
        // SAFETY: `field` checked that `offset` is an aligned 8-byte field inside the
        // boxed vmctx, which is alive and not borrowed mutably.
        unsafe { self.field(offset).read() }
    }

    fn set(&mut self, offset: u32, value: u64) {
        let field = self.field(offset).cast_mut();
        // SAFETY: as in `get`; `&mut self` makes this the only access to the vmctx.
        unsafe { field.write(value) }
    }

    fn trap_code(&self) -> u32 {
        self.vmctx.trap_code
    }
}

/// Run `entry` through `trampoline` on `stack`.
fn call_on(
    trampoline: Trampoline,
    vmctx: &mut VmCtx,
    entry: *const u8,
    stack: &mut [u64],
    args: &[u64],
) -> (u32, [u64; 8]) {
    assert!(args.len() <= 8);
    // The top 8 slots, 16-byte aligned (Vec<u64> is only 8-aligned).
    let top = stack.len() - 8 - (stack.as_ptr().wrapping_add(stack.len()) as usize % 16) / 8;
    let area = &mut stack[top - 8..top];
    area.fill(0);
    area[..args.len()].copy_from_slice(args);
    let ptr = area.as_mut_ptr();
    assert_eq!(ptr as usize % 16, 0);
    // SAFETY: `entry` is a function in this module's code, `ptr` is the aligned top of a
    // 256 KiB stack that the generated code may use below it (tests use far less), and
    // `vmctx` points to a fully initialised context with valid memory.
    let code = unsafe { trampoline(vmctx, entry, ptr) };
    let mut out = [0u64; 8];
    out.copy_from_slice(&stack[top - 8..top]);
    (code, out)
}

thread_local! {
    static RECORDED: RefCell<Vec<u64>> = const { RefCell::new(Vec::new()) };
    static REENTRY: Cell<Option<(Trampoline, *const u8)>> = const { Cell::new(None) };
}

extern "C" fn record_args(vmctx: *mut VmCtx, a: u64, b: u64, c: u64, d: u64, e: u64) -> u64 {
    // The compiler keeps rsp 16-byte aligned at an asm block (as at a call) on the
    // assumption that this function was entered with the C alignment; a misaligned
    // libcall shows up as rsp % 16 == 8 here.
    let sp: u64;
    // SAFETY: only reads rsp into a register.
    unsafe { std::arch::asm!("mov {}, rsp", out(reg) sp) };
    let align = sp % 16;
    // SAFETY: `c` is a FrameAddress argument: a pointer to a live frame slot of the caller.
    let at_c = unsafe { *(c as *const u64) };
    RECORDED.with(|r| {
        r.borrow_mut()
            .extend([vmctx as u64, a, b, c, d, e, at_c, align])
    });
    0xabcd
}

/// Returns its first argument as a trap code.
extern "C" fn trap_with(_vmctx: *mut VmCtx, code: u64) -> u32 {
    code as u32
}

#[test]
fn libcall_passes_five_args_and_returns() {
    let mut b = Builder::new();
    let f = b.func_with_frame(16, |m, _| {
        m.mov(Size::S64, Reg(RBX), Operand::Imm(0x3333));
        m.mov(Size::S64, Reg(R12), Operand::Imm(-4));
        m.store(
            StoreWidth::B64,
            Address::at(Base::Frame, -32),
            Operand::Imm(0x4444),
        );
        let ret = m.call_libcall(
            Libcall::MemoryInit,
            &[
                LibcallArg::Imm(0x1_0000_0001),
                LibcallArg::Frame(slot(0)),
                LibcallArg::FrameAddress(-32),
                LibcallArg::Reg(Reg(RBX)),
                LibcallArg::Reg(Reg(R12)),
            ],
        );
        m.mov(Size::S64, Reg(RSI), Operand::Reg(ret));
        store_slot(m, 0, Operand::Reg(Reg(RSI)));
        store_slot(m, 1, Operand::Reg(Reg(RBX)));
    });
    let module = b.build();
    let mut inst = module.instance();
    inst.vmctx.libcalls[Libcall::MemoryInit as usize] = record_args as *const () as usize;
    RECORDED.with(|r| r.borrow_mut().clear());
    let (code, s) = inst.call(f, &[0x5555]);
    assert_eq!((code, s[0], s[1]), (0, 0xabcd, 0x3333));
    let rec = RECORDED.with(|r| r.borrow().clone());
    let vmctx = &*inst.vmctx as *const VmCtx as u64;
    assert_eq!(rec[0], vmctx);
    assert_eq!(&rec[1..3], &[0x1_0000_0001, 0x5555]);
    assert_eq!(&rec[4..8], &[0x3333, (-4i64) as u64, 0x4444, 0]);
}

#[test]
fn trap_if_nonzero_reports_the_libcall_code() {
    let mut b = Builder::new();
    let f = b.func(|m, b| {
        let ret = m.call_libcall(Libcall::MemoryFill, &[LibcallArg::Frame(slot(0))]);
        m.trap_if_nonzero(ret, b.dynamic_trap);
        store_slot(m, 0, Operand::Imm(99));
    });
    let module = b.build();
    let mut inst = module.instance();
    inst.vmctx.libcalls[Libcall::MemoryFill as usize] = trap_with as *const () as usize;
    inst.vmctx.gas_remaining = 1234;
    assert_eq!(inst.run(f, &[0]), 99);
    for kind in [
        TrapKind::HostError,
        TrapKind::MemoryOutOfBounds,
        TrapKind::TableOutOfBounds,
    ] {
        let (code, _) = inst.call(f, &[kind.code() as u64]);
        assert_eq!(code, kind.code());
        assert_eq!(inst.vmctx.trap_code, kind.code());
        assert_eq!(inst.vmctx.gas_remaining, 1234);
    }
}

/// A libcall that re-enters the trampoline (same vmctx, another stack) running a function
/// that traps, and returns the inner trap code.
extern "C" fn reenter(vmctx: *mut VmCtx, arg: u64) -> u64 {
    let (trampoline, entry) = REENTRY.with(|r| r.get()).expect("reentry target");
    let mut stack = vec![0u64; 8 * 1024];
    // SAFETY: `vmctx` is the live context the outer call passed; the outer generated code
    // is suspended in this libcall and does not touch it until we return.
    let vmctx = unsafe { &mut *vmctx };
    let outer_saved_sp = vmctx.saved_sp;
    let (code, _) = call_on(trampoline, vmctx, entry, &mut stack, &[arg]);
    assert_eq!(
        vmctx.saved_sp, outer_saved_sp,
        "inner call must restore saved_sp"
    );
    code as u64
}

#[test]
fn trampoline_is_reentrant() {
    let mut b = Builder::new();
    let inner = b.func(|m, b| {
        // Traps with Unreachable when its argument is nonzero.
        m.mov(Size::S64, Reg(RSI), Operand::Frame(slot(0)));
        m.cmp(Size::S64, Reg(RSI), Operand::Imm(0));
        m.branch(Cond::Ne, b.trap(TrapKind::Unreachable));
        store_slot(m, 0, Operand::Imm(5));
    });
    // outer(x): r = reenter(x); store r; then trap with IntegerOverflow if x == 2.
    let outer = b.func(|m, b| {
        m.mov(Size::S64, Reg(RBX), Operand::Frame(slot(0)));
        m.flush_gas();
        let ret = m.call_libcall(Libcall::HostCall, &[LibcallArg::Reg(Reg(RBX))]);
        m.reload_gas();
        m.mov(Size::S64, Reg(RSI), Operand::Reg(ret));
        store_slot(m, 0, Operand::Reg(Reg(RSI)));
        m.cmp(Size::S64, Reg(RBX), Operand::Imm(2));
        m.branch(Cond::Eq, b.trap(TrapKind::IntegerOverflow));
    });
    let module = b.build();
    let mut inst = module.instance();
    REENTRY.with(|r| r.set(Some((inst.trampoline(), inst.entry_ptr(inner)))));
    inst.vmctx.libcalls[Libcall::HostCall as usize] = reenter as *const () as usize;
    for _ in 0..100 {
        assert_eq!(inst.run(outer, &[0]), 0);
        assert_eq!(inst.run(outer, &[1]), TrapKind::Unreachable.code() as u64);
        let (code, _) = inst.call(outer, &[2]);
        assert_eq!(code, TrapKind::IntegerOverflow.code());
        assert_eq!(inst.vmctx.saved_sp, 0);
    }
}

#[test]
fn host_callee_saved_registers_survive_returns_and_traps() {
    let mut b = Builder::new();
    // Clobbers every register codegen can touch, then returns or traps on its argument.
    let f = b.func(|m, b| {
        m.mov(Size::S64, Reg(RBX), Operand::Frame(slot(0)));
        for r in [RSI, RDI, R8, R9, R10, R12] {
            m.mov(Size::S64, Reg(r), Operand::Imm(-1));
        }
        m.alu(
            AluOp::Mul,
            Size::S64,
            Reg(RSI),
            Reg(RSI),
            Operand::Reg(Reg(RDI)),
        );
        m.cmp(Size::S64, Reg(RBX), Operand::Imm(0));
        m.branch(Cond::Ne, b.trap(TrapKind::Unreachable));
    });
    let module = b.build();
    let mut inst = module.instance();
    let trampoline = inst.trampoline();
    let entry = inst.entry_ptr(f);
    let vmctx: *mut VmCtx = &mut *inst.vmctx;
    let mut rng = 0x9e37_79b9_7f4a_7c15u64;
    for i in 0..1000u64 {
        rng = rng
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let (r12, r13, r14, r15) = (rng, rng ^ 1, rng ^ 2, rng ^ 3);
        let (rbx, rbp) = (rng ^ 4, rng ^ 5);
        let top =
            STACK_SLOTS - 8 - (inst.stack.as_ptr().wrapping_add(STACK_SLOTS) as usize % 16) / 8;
        inst.stack[top - 8] = i % 2;
        let args = inst.stack[top - 8..].as_mut_ptr();
        let (code, o12, o13, o14, o15, obx, obp): (u64, u64, u64, u64, u64, u64, u64);
        // SAFETY: calls the trampoline with its C signature (vmctx in rdi, function in
        // rsi, 16-aligned args in rdx). rbx and rbp are saved on the stack around the call
        // and restored; every other callee-saved register is an explicit operand, and the
        // C clobbers are declared.
        unsafe {
            std::arch::asm!(
                "push rbx",
                "push rbp",
                "mov rbx, r8",
                "mov rbp, r9",
                "call {t}",
                "mov r8, rbx",
                "mov r9, rbp",
                "pop rbp",
                "pop rbx",
                t = in(reg) trampoline,
                inout("r8") rbx => obx,
                inout("r9") rbp => obp,
                in("rdi") vmctx,
                in("rsi") entry,
                in("rdx") args,
                inout("r12") r12 => o12,
                inout("r13") r13 => o13,
                inout("r14") r14 => o14,
                inout("r15") r15 => o15,
                lateout("rax") code,
                clobber_abi("C"),
            );
        }
        let want = if i % 2 == 1 {
            TrapKind::Unreachable.code() as u64
        } else {
            0
        };
        assert_eq!(code as u32 as u64, want);
        assert_eq!(
            (o12, o13, o14, o15, obx, obp),
            (r12, r13, r14, r15, rbx, rbp),
            "call {i}"
        );
    }
}
