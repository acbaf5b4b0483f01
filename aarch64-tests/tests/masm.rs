//! Execution tests of the AArch64 MacroAssembler, run in Unicorn: the shared cases of
//! `gasket_singlepass::masm_suite` (the same ones the x86-64 backend runs natively, in
//! `isa/x64/tests.rs`) through the `Emulated` harness, and what only this harness can
//! test: libcalls as emulator hooks, a libcall re-entering the trampoline, far branches and
//! wide frames, and the float operations against `float_reference` (wasm semantics,
//! canonical NaNs) with the FPCR modes they rely on.

use std::cell::RefCell;
use std::rc::Rc;

use gasket_aarch64_tests::{call_in, Machine, CODE, MEMORY, VMCTX, XREGS};
use gasket_singlepass::isa_testing::{float_reference as reference, A64Masm};
use gasket_singlepass::masm::{
    Address, AluOp, Base, BitOp, Cond, FloatBinOp, FloatCmp, FloatSize, FloatUnOp, IntFloat,
    LibcallArg, LoadKind, MacroAssembler, Operand, Reg, Size, StoreWidth, TruncMode,
};
use gasket_singlepass::masm_suite::{
    self, check_each, check_pairs, float_inputs, slot, store_slot, Harness, TestInstance,
    FLOAT_BINOPS, FLOAT_SIZES,
};
use gasket_singlepass::{Libcall, TrapKind, VmCtx};
use unicorn_engine::RegisterARM64;

// Allocatable x9..x15, local x19/x20 (see `isa/aarch64/regs.rs`).
const RSI: u8 = 9;
const RDI: u8 = 10;
const R8: u8 = 11;
const R9: u8 = 12;
const R10: u8 = 13;
const X14: u8 = 14;
const X15: u8 = 15;
const RBX: u8 = 19;
const R12: u8 = 20;

/// The AArch64 backend run in Unicorn.
struct Emulated;

impl Harness for Emulated {
    type Masm = A64Masm;
    type Instance = Instance;
    const T0: u8 = RSI;
    const T1: u8 = RDI;
    const T2: u8 = R8;
    const T3: u8 = R9;
    const T4: u8 = R10;
    const L0: u8 = RBX;
    const L1: u8 = R12;

    fn masm() -> A64Masm {
        A64Masm::new()
    }

    fn instance(code: &[u8], trampoline: u32, offsets: &[u32]) -> Instance {
        Instance {
            m: Machine::new(code, trampoline),
            offsets: offsets.to_vec(),
        }
    }
}

gasket_singlepass::masm_suite_tests!(Emulated);

/// The shared builder and module, for this backend.
type Builder = masm_suite::Builder<Emulated>;
type Module = masm_suite::Module<Emulated>;

/// A test instance: an emulated machine with the module loaded.
struct Instance {
    m: Machine,
    offsets: Vec<u32>,
}

impl TestInstance for Instance {
    /// Calls `func`; every libcall it made must have found sp 16-byte aligned.
    fn call(&mut self, func: usize, args: &[u64]) -> (u32, [u64; 8]) {
        let (code, slots) = self.m.call(self.offsets[func], args);
        assert_eq!(
            self.m.misaligned_calls(),
            0,
            "libcall with sp not 16-aligned"
        );
        (code, slots)
    }

    fn entry(&self, func: usize) -> u64 {
        CODE + u64::from(self.offsets[func])
    }

    fn memory_address(&self) -> u64 {
        MEMORY
    }

    fn write_memory(&mut self, offset: usize, bytes: &[u8]) {
        self.m.write_memory(offset as u64, bytes);
    }

    fn read_memory(&self, offset: usize, len: usize) -> Vec<u8> {
        self.m.read_memory(offset as u64, len)
    }

    fn get(&self, offset: u32) -> u64 {
        self.m.get(offset)
    }

    fn set(&mut self, offset: u32, value: u64) {
        self.m.set(offset, value)
    }

    fn trap_code(&self) -> u32 {
        self.m.trap_code()
    }
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
    let recorded: Rc<RefCell<Vec<u64>>> = Rc::default();
    let rec = recorded.clone();
    inst.m.set_libcall(Libcall::MemoryInit, move |uc, a| {
        // `a[3]` is a FrameAddress argument: a pointer to a live frame slot of the caller.
        let mut at_c = [0u8; 8];
        uc.mem_read(a[3], &mut at_c).unwrap();
        let sp = uc.reg_read(RegisterARM64::SP).unwrap();
        rec.borrow_mut().extend([
            a[0],
            a[1],
            a[2],
            a[3],
            a[4],
            a[5],
            u64::from_le_bytes(at_c),
            sp % 16,
        ]);
        0xabcd
    });
    let (code, s) = inst.call(f, &[0x5555]);
    assert_eq!((code, s[0], s[1]), (0, 0xabcd, 0x3333));
    let rec = recorded.borrow().clone();
    assert_eq!(rec[0], VMCTX);
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
    // Returns its first argument as a trap code (garbage in the upper half of x0 must
    // not matter: the result is 32 bits).
    inst.m.set_libcall(Libcall::MemoryFill, |_, a| {
        (a[1] as u32 as u64) | 0xdead_0000_0000_0000
    });
    inst.set_gas(1234);
    assert_eq!(inst.run(f, &[0]), 99);
    for kind in [
        TrapKind::HostError,
        TrapKind::MemoryOutOfBounds,
        TrapKind::TableOutOfBounds,
    ] {
        let (code, _) = inst.call(f, &[kind.code() as u64]);
        assert_eq!(code, kind.code());
        assert_eq!(inst.trap_code(), kind.code());
        assert_eq!(inst.gas(), 1234);
    }
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
    // A libcall that re-enters the trampoline (same vmctx, another stack) running a
    // function that traps, and returns the inner trap code.
    let (trampoline, entry) = (inst.m.trampoline, inst.entry(inner));
    inst.m.set_libcall(Libcall::HostCall, move |uc, a| {
        let mut b = [0u8; 8];
        uc.mem_read(VMCTX + u64::from(VmCtx::SAVED_SP), &mut b)
            .unwrap();
        let outer_saved_sp = u64::from_le_bytes(b);
        let (code, _) = call_in(uc, trampoline, entry, &[a[1]], 1);
        uc.mem_read(VMCTX + u64::from(VmCtx::SAVED_SP), &mut b)
            .unwrap();
        assert_eq!(
            u64::from_le_bytes(b),
            outer_saved_sp,
            "inner call must restore saved_sp"
        );
        u64::from(code)
    });
    for _ in 0..100 {
        assert_eq!(inst.run(outer, &[0]), 0);
        assert_eq!(inst.run(outer, &[1]), TrapKind::Unreachable.code() as u64);
        let (code, _) = inst.call(outer, &[2]);
        assert_eq!(code, TrapKind::IntegerOverflow.code());
        assert_eq!(inst.m.get(VmCtx::SAVED_SP), 0);
    }
}

#[test]
fn host_callee_saved_registers_survive_returns_and_traps() {
    let mut b = Builder::new();
    // Clobbers every register codegen can touch, then returns or traps on its argument.
    let f = b.func(|m, b| {
        m.mov(Size::S64, Reg(RBX), Operand::Frame(slot(0)));
        for r in [RSI, RDI, R8, R9, R10, X14, X15, R12] {
            m.mov(Size::S64, Reg(r), Operand::Imm(-1));
        }
        m.alu(
            AluOp::Mul,
            Size::S64,
            Reg(RSI),
            Reg(RSI),
            Operand::Reg(Reg(RDI)),
        );
        m.bit_count(BitOp::Popcnt, Size::S64, Reg(RSI), Reg(RSI));
        // Every float operation (their scratch registers must not be d8..d15).
        let (f64_, i64s) = (FloatSize::F64, Size::S64);
        let conv = IntFloat {
            int: i64s,
            float: f64_,
            signed: true,
        };
        m.int_to_float(conv, Reg(RDI), Reg(RSI));
        m.float_binop(FloatBinOp::Mul, f64_, Reg(R8), Reg(RDI), Reg(RDI), true);
        m.float_unop(FloatUnOp::Sqrt, f64_, Reg(R8), Reg(R8), true);
        m.float_resize(FloatSize::F32, Reg(R9), Reg(R8), true);
        m.float_resize(f64_, Reg(R9), Reg(R9), true);
        m.float_cmp(FloatCmp::Lt, f64_, Reg(R10), Reg(R9), Reg(R8));
        m.float_to_int(conv, Reg(R10), Reg(R8), TruncMode::Saturate);
        let mode = TruncMode::Trap {
            nan: b.trap(TrapKind::InvalidConversionToInteger),
            overflow: b.trap(TrapKind::ConversionOverflow),
        };
        m.float_to_int(conv, Reg(R10), Reg(R8), mode);
        m.cmp(Size::S64, Reg(RBX), Operand::Imm(0));
        m.branch(Cond::Ne, b.trap(TrapKind::Unreachable));
    });
    let module = b.build();
    let mut inst = module.instance();
    let mut rng = 0x9e37_79b9_7f4a_7c15u64;
    // AAPCS64 callee-saved: x19..x29 (x30 is the return address, checked by the
    // harness: the trampoline must return to the sentinel) and d8..d15.
    let saved: Vec<RegisterARM64> = XREGS[19..30].to_vec();
    let dregs = [
        RegisterARM64::D8,
        RegisterARM64::D9,
        RegisterARM64::D10,
        RegisterARM64::D11,
        RegisterARM64::D12,
        RegisterARM64::D13,
        RegisterARM64::D14,
        RegisterARM64::D15,
    ];
    for i in 0..200u64 {
        rng = rng
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let values: Vec<u64> = (0..saved.len() as u64).map(|k| rng ^ k).collect();
        for (&r, &v) in saved.iter().zip(&values) {
            inst.m.uc.reg_write(r, v).unwrap();
        }
        for (k, &d) in dregs.iter().enumerate() {
            inst.m.uc.reg_write(d, rng.rotate_left(k as u32)).unwrap();
        }
        let (code, _) = inst.call(f, &[i % 2]);
        let want = if i % 2 == 1 {
            TrapKind::Unreachable.code()
        } else {
            0
        };
        assert_eq!(code, want);
        for (&r, &v) in saved.iter().zip(&values) {
            assert_eq!(inst.m.uc.reg_read(r).unwrap(), v, "call {i}: {r:?}");
        }
        for (k, &d) in dregs.iter().enumerate() {
            assert_eq!(inst.m.uc.reg_read(d).unwrap(), rng.rotate_left(k as u32));
        }
    }
}

#[test]
fn far_conditional_branches_beyond_one_mebibyte() {
    // A conditional branch, a trap branch and a gas check whose targets are more than
    // 1 MiB away (b.cond reaches only ±1 MiB): 300 000 filler instructions between.
    const FILLER: usize = 300_000;
    let mut b = Builder::new();
    let f = b.func(|m, b| {
        let (far, end) = (m.new_label(), m.new_label());
        m.mov(Size::S64, Reg(RSI), Operand::Frame(slot(0)));
        m.cmp(Size::S64, Reg(RSI), Operand::Imm(1));
        m.branch(Cond::Eq, far);
        m.cmp(Size::S64, Reg(RSI), Operand::Imm(2));
        // The trap stubs are emitted after all this code.
        m.branch(Cond::Eq, b.trap(TrapKind::IntegerOverflow));
        m.charge_gas(Operand::Imm(10), b.trap(TrapKind::OutOfGas));
        store_slot(m, 0, Operand::Imm(100));
        m.jump(end);
        for _ in 0..FILLER {
            m.mov(Size::S64, Reg(RDI), Operand::Reg(Reg(RSI)));
        }
        m.bind(far);
        store_slot(m, 0, Operand::Imm(200));
        m.bind(end);
    });
    let module = b.build();
    assert!(module.code.len() > (1 << 20) + 64);
    let mut inst = module.instance();
    assert_eq!(inst.run(f, &[0]), 100);
    assert_eq!(inst.run(f, &[1]), 200);
    assert_eq!(inst.call(f, &[2]).0, TrapKind::IntegerOverflow.code());
    inst.set_gas(9);
    assert_eq!(inst.call(f, &[0]).0, TrapKind::OutOfGas.code());
    assert_eq!(inst.gas(), 0);
}

#[test]
fn frames_beyond_64k_and_wide_frame_displacements() {
    // The prologue's patched `movz/movk` frame size above 16 bits, and frame slots whose
    // offsets need a materialised displacement (beyond `ldur`'s 9 bits and `ldr`'s
    // scaled 12 bits).
    const EXTRA: u32 = 0x2_0000;
    let mut b = Builder::new();
    let f = b.func_with_frame(EXTRA, |m, _| {
        let lowest = -16 - EXTRA as i32;
        m.mov(Size::S64, Reg(RSI), Operand::Frame(slot(0)));
        m.store(
            StoreWidth::B64,
            Address::at(Base::Frame, lowest.into()),
            Operand::Reg(Reg(RSI)),
        );
        m.store(
            StoreWidth::B16,
            Address::at(Base::Frame, -4000),
            Operand::Imm(-2),
        );
        m.zero_frame(lowest + 8, 20);
        m.load(
            LoadKind::I64,
            Reg(RDI),
            Address::at(Base::Frame, lowest.into()),
        );
        m.load(
            LoadKind::I32From16S,
            Reg(R8),
            Address::at(Base::Frame, -4000),
        );
        m.alu(
            AluOp::Add,
            Size::S64,
            Reg(RDI),
            Reg(RDI),
            Operand::Frame(lowest + 8),
        );
        store_slot(m, 0, Operand::Reg(Reg(RDI)));
        store_slot(m, 1, Operand::Reg(Reg(R8)));
    });
    let module = b.build();
    let mut inst = module.instance();
    let (code, s) = inst.call(f, &[0x1234_5678_9abc]);
    assert_eq!((code, s[0], s[1]), (0, 0x1234_5678_9abc, 0xffff_fffe));
}

// ---- floating point ----
//
// One for one with `isa/x64/float_tests.rs`: every operation on every input of
// `float_reference` (every pair for two-input operations), in several register shapes,
// against wasm semantics with canonical NaNs; plus the trampoline's FPCR handling.

/// FPCR.DN makes every NaN result canonical even when codegen does not ask for it (the
/// opposite of x86-64, whose test of the same name finds non-canonical NaNs).
#[test]
fn float_binops_without_canonicalization_are_canonical_anyway() {
    for size in FLOAT_SIZES {
        for op in FLOAT_BINOPS {
            check_pairs::<Emulated>(
                &format!("{op:?} {size:?} (canonicalize: false)"),
                &float_inputs(size),
                &|m, _, d, l, r| m.float_binop(op, size, d, l, r, false),
                &|x, y| Ok(reference::binop(op, size, x, y)),
            );
        }
    }
}

/// The same for one-input operations and the size conversions.
#[test]
fn float_unops_and_resizes_without_canonicalization_are_canonical_anyway() {
    masm_suite::check_unops::<Emulated>(false);
    masm_suite::check_resizes::<Emulated>(false);
}

/// 32-bit inputs (f32 bits, i32 values) are read from the low half only, whatever the
/// upper half holds (the `S`/`W` forms), and 32-bit results are zero-extended.
#[test]
fn float_operations_read_only_the_low_half_of_32_bit_inputs() {
    const GARBAGE: u64 = 0xdead_beef_0000_0000;
    let f32s = float_inputs(FloatSize::F32);
    let (s32, f32) = (Size::S32, FloatSize::F32);
    let conv = |int, float, signed| IntFloat { int, float, signed };
    check_pairs::<Emulated>(
        "f32 add, garbage above",
        &f32s.iter().map(|x| x | GARBAGE).collect::<Vec<_>>(),
        &|m, _, d, l, r| m.float_binop(FloatBinOp::Add, f32, d, l, r, true),
        &|x, y| {
            Ok(reference::binop(
                FloatBinOp::Add,
                f32,
                x & 0xffff_ffff,
                y & 0xffff_ffff,
            ))
        },
    );
    for signed in [true, false] {
        for float in FLOAT_SIZES {
            let c = conv(s32, float, signed);
            check_each::<Emulated>(
                &format!("{c:?}, garbage above"),
                &reference::int_inputs()
                    .iter()
                    .map(|x| x | GARBAGE)
                    .collect::<Vec<_>>(),
                &|m, _, d, l| m.int_to_float(c, d, l),
                &|x| Ok(reference::int_to_float(c, x & 0xffff_ffff)),
            );
        }
        for int in [Size::S32, Size::S64] {
            let c = conv(int, f32, signed);
            check_each::<Emulated>(
                &format!("trunc_sat {c:?}, garbage above"),
                &f32s.iter().map(|x| x | GARBAGE).collect::<Vec<_>>(),
                &|m, _, d, l| m.float_to_int(c, d, l, TruncMode::Saturate),
                &|x| Ok(reference::trunc_sat(c, x & 0xffff_ffff)),
            );
        }
    }
}

// ---- the float mode (FPCR) ----

/// FPCR.DN (default NaN), FPCR.FZ (flush to zero), FPCR.RMode (bits 23:22).
const FPCR_DN: u64 = 1 << 25;
const FPCR_FZ: u64 = 1 << 24;
const FPCR_RMODE_PLUS_INF: u64 = 0b01 << 22;
const FPCR_RMODE_ZERO: u64 = 0b11 << 22;
/// The FPCR the trampoline sets: default NaN, round to nearest even, nothing else.
const DETERMINISTIC: u64 = FPCR_DN;

fn fpcr(uc: &unicorn_engine::Unicorn<'_, ()>) -> u64 {
    uc.reg_read(RegisterARM64::FPCR).expect("read FPCR")
}

fn set_fpcr(uc: &mut unicorn_engine::Unicorn<'_, ()>, value: u64) {
    uc.reg_write(RegisterARM64::FPCR, value)
        .expect("write FPCR");
    assert_eq!(fpcr(uc), value, "the emulator keeps FPCR as written");
}

/// The control experiment behind relying on FPCR.DN: Unicorn does model it. `fadd` run
/// bare (no trampoline) propagates a NaN payload with DN = 0 and gives the default NaN,
/// exactly the canonical one, with DN = 1.
#[test]
fn emulator_honors_fpcr_default_nan_mode() {
    let mut m = A64Masm::new();
    m.float_binop(
        FloatBinOp::Add,
        FloatSize::F32,
        Reg(RSI),
        Reg(RSI),
        Reg(RDI),
        false,
    );
    m.float_binop(
        FloatBinOp::Min,
        FloatSize::F64,
        Reg(R8),
        Reg(R8),
        Reg(R9),
        false,
    );
    let code = m.finish().expect("finish");
    let mut machine = Machine::new(&code, 0);
    let one32 = u64::from(1f32.to_bits());
    let one64 = 1f64.to_bits();
    // (f32 lhs, f64 lhs, DN) -> (f32 result, f64 result)
    let cases = [
        (
            0x7fa0_0000,
            0x7ff4_0000_0000_0000,
            0,
            (0x7fe0_0000, 0x7ffc_0000_0000_0000),
        ),
        (
            0xffc0_0001,
            0xfff8_0000_0000_0001,
            0,
            (0xffc0_0001, 0xfff8_0000_0000_0001),
        ),
        (
            0x7fa0_0000,
            0x7ff4_0000_0000_0000,
            FPCR_DN,
            (0x7fc0_0000, 0x7ff8_0000_0000_0000),
        ),
        (
            0xffc0_0001,
            0xfff8_0000_0000_0001,
            FPCR_DN,
            (0x7fc0_0000, 0x7ff8_0000_0000_0000),
        ),
    ];
    for (x32, x64, mode, want) in cases {
        set_fpcr(&mut machine.uc, mode);
        for (r, v) in [(RSI, x32), (RDI, one32), (R8, x64), (R9, one64)] {
            machine.uc.reg_write(XREGS[r as usize], v).unwrap();
        }
        machine
            .uc
            .emu_start(CODE, CODE + code.len() as u64, 0, 0)
            .expect("run");
        let got = (
            machine.uc.reg_read(XREGS[RSI as usize]).unwrap(),
            machine.uc.reg_read(XREGS[R8 as usize]).unwrap(),
        );
        assert_eq!(got, want, "FPCR {mode:#x}: {x32:#x} + 1, min({x64:#x}, 1)");
    }
}

/// A module whose function `div` computes slot0 / slot1 (f64, without asking for
/// canonicalization) and `trunc` truncates the f64 in slot 0 to an i32, with traps.
struct ModeModule {
    module: Module,
    div: usize,
    trunc: usize,
}

fn mode_module() -> ModeModule {
    let mut b = Builder::new();
    let div = b.func(|m, _| {
        m.mov(Size::S64, Reg(RSI), Operand::Frame(slot(0)));
        m.mov(Size::S64, Reg(RDI), Operand::Frame(slot(1)));
        m.float_binop(
            FloatBinOp::Div,
            FloatSize::F64,
            Reg(RSI),
            Reg(RSI),
            Reg(RDI),
            false,
        );
        store_slot(m, 0, Operand::Reg(Reg(RSI)));
    });
    let trunc = b.func(|m, b| {
        m.mov(Size::S64, Reg(RSI), Operand::Frame(slot(0)));
        let conv = IntFloat {
            int: Size::S32,
            float: FloatSize::F64,
            signed: true,
        };
        let mode = TruncMode::Trap {
            nan: b.trap(TrapKind::InvalidConversionToInteger),
            overflow: b.trap(TrapKind::ConversionOverflow),
        };
        m.float_to_int(conv, Reg(RSI), Reg(RSI), mode);
        store_slot(m, 0, Operand::Reg(Reg(RSI)));
    });
    ModeModule {
        module: b.build(),
        div,
        trunc,
    }
}

/// Whatever mode the host left the float unit in (round toward +inf, flush to zero, no
/// default NaN), wasm code computes in the deterministic mode, and the host gets its own
/// FPCR back after a return and after a trap.
#[test]
fn trampoline_runs_wasm_in_the_deterministic_mode_and_restores_the_hosts() {
    let mm = mode_module();
    let mut inst = mm.module.instance();
    let hostile = FPCR_RMODE_PLUS_INF | FPCR_FZ;
    let cases = [
        (1f64, 3f64),                                 // rounding: toward +inf would round up
        (f64::MIN_POSITIVE, 4.0),                     // a subnormal result (FZ would flush it)
        (5e-324, 0.5),                                // a subnormal input, a tie to even (0)
        (1.5e-323, 2.0), // a subnormal tie rounding to even (2 * 5e-324)
        (0.0, 0.0),      // the default NaN
        (f64::from_bits(0x7ff4_0000_0000_0000), 1.0), // a signalling NaN, quieted
        (f64::from_bits(0xfff8_0000_0000_0001), 1.0), // a negative NaN with a payload
    ];
    for (x, y) in cases {
        let (a, b) = (x.to_bits(), y.to_bits());
        set_fpcr(&mut inst.m.uc, hostile);
        let (code, slots) = inst.call(mm.div, &[a, b]);
        assert_eq!(code, 0);
        assert_eq!(
            slots[0],
            reference::binop(FloatBinOp::Div, FloatSize::F64, a, b),
            "{x:e} / {y:e}"
        );
        assert_eq!(fpcr(&inst.m.uc), hostile, "host FPCR after a return");
    }
    for (input, want) in [
        (
            f64::NAN.to_bits(),
            TrapKind::InvalidConversionToInteger.code(),
        ),
        (1e300f64.to_bits(), TrapKind::ConversionOverflow.code()),
        (2.5f64.to_bits(), 0),
    ] {
        set_fpcr(&mut inst.m.uc, hostile);
        let (code, slots) = inst.call(mm.trunc, &[input]);
        assert_eq!(code, want);
        if code == 0 {
            assert_eq!(slots[0], 2);
        }
        assert_eq!(
            fpcr(&inst.m.uc),
            hostile,
            "host FPCR after trap code {code}"
        );
    }
}

/// A libcall runs in the deterministic mode; a host function that changes FPCR and calls
/// back into wasm gets its own FPCR back from the inner trampoline (returning or
/// trapping), and the outer call still restores the outermost host's FPCR.
///
/// `call_in` saves and restores the whole emulated CPU around a nested call, which would
/// hide a wrong FPCR at the inner exit; so FPCR is recorded by a hook on the trampoline's
/// final `ret`, after its `msr fpcr` and before anything else can touch it.
#[test]
fn float_mode_nests_across_reentrant_calls() {
    let mut b = Builder::new();
    // inner(x): slot0 = trunc_s(x) (traps on NaN); slot1 = 1/3.
    let inner = b.func(|m, b| {
        m.mov(Size::S64, Reg(RSI), Operand::Frame(slot(0)));
        let conv = IntFloat {
            int: Size::S64,
            float: FloatSize::F64,
            signed: true,
        };
        let mode = TruncMode::Trap {
            nan: b.trap(TrapKind::InvalidConversionToInteger),
            overflow: b.trap(TrapKind::ConversionOverflow),
        };
        m.float_to_int(conv, Reg(RSI), Reg(RSI), mode);
        store_slot(m, 0, Operand::Reg(Reg(RSI)));
        m.mov(Size::S64, Reg(RSI), Operand::Imm(1f64.to_bits() as i64));
        m.mov(Size::S64, Reg(RDI), Operand::Imm(3f64.to_bits() as i64));
        m.float_binop(
            FloatBinOp::Div,
            FloatSize::F64,
            Reg(RSI),
            Reg(RSI),
            Reg(RDI),
            true,
        );
        store_slot(m, 1, Operand::Reg(Reg(RSI)));
    });
    // outer(x, y): slot1 = x / y; slot0 = reenter(x) (the inner result or trap code);
    // slot2 = x / y again; then trap like inner on x.
    let outer = b.func(|m, b| {
        m.mov(Size::S64, Reg(RBX), Operand::Frame(slot(0)));
        m.mov(Size::S64, Reg(R12), Operand::Frame(slot(1)));
        m.float_binop(
            FloatBinOp::Div,
            FloatSize::F64,
            Reg(RSI),
            Reg(RBX),
            Reg(R12),
            true,
        );
        store_slot(m, 1, Operand::Reg(Reg(RSI)));
        m.flush_gas();
        let ret = m.call_libcall(Libcall::HostCall, &[LibcallArg::Reg(Reg(RBX))]);
        m.reload_gas();
        store_slot(m, 0, Operand::Reg(ret));
        m.float_binop(
            FloatBinOp::Div,
            FloatSize::F64,
            Reg(RSI),
            Reg(RBX),
            Reg(R12),
            true,
        );
        store_slot(m, 2, Operand::Reg(Reg(RSI)));
        let conv = IntFloat {
            int: Size::S32,
            float: FloatSize::F64,
            signed: false,
        };
        let mode = TruncMode::Trap {
            nan: b.trap(TrapKind::InvalidConversionToInteger),
            overflow: b.trap(TrapKind::ConversionOverflow),
        };
        m.float_to_int(conv, Reg(RSI), Reg(RBX), mode);
    });
    let module = b.build();
    let mut inst = module.instance();

    // The trampoline is emitted last: its final instruction is the exit's `ret`.
    let ret_at = CODE + module.code.len() as u64 - 4;
    let last = u32::from_le_bytes(module.code[module.code.len() - 4..].try_into().unwrap());
    assert_eq!(last, 0xd65f_03c0, "the trampoline ends in ret");
    let at_ret: Rc<RefCell<Vec<u64>>> = Rc::default();
    let record = at_ret.clone();
    inst.m
        .uc
        .add_code_hook(ret_at, ret_at, move |uc, _, _| {
            record.borrow_mut().push(fpcr(uc))
        })
        .expect("hook");

    const OUTER_HOST: u64 = FPCR_RMODE_PLUS_INF | FPCR_FZ;
    const INNER_HOST: u64 = FPCR_RMODE_ZERO;
    let in_libcall: Rc<RefCell<Vec<u64>>> = Rc::default();
    let seen = in_libcall.clone();
    let (trampoline, entry) = (inst.m.trampoline, inst.entry(inner));
    let third = (1f64 / 3f64).to_bits();
    inst.m.set_libcall(Libcall::HostCall, move |uc, a| {
        let mode = fpcr(uc);
        seen.borrow_mut().push(mode);
        set_fpcr(uc, INNER_HOST);
        let (code, slots) = call_in(uc, trampoline, entry, &[a[1]], 1);
        if code == 0 {
            assert_eq!(
                slots[1], third,
                "inner call computes in the deterministic mode"
            );
        }
        // Back to the mode wasm called us in (AAPCS64: FPCR's modes are preserved).
        set_fpcr(uc, mode);
        if code == 0 {
            slots[0]
        } else {
            u64::from(code)
        }
    });

    for (x, want_code, want_inner) in [
        (7.75f64, 0, 7),
        (f64::NAN, TrapKind::InvalidConversionToInteger.code(), 0),
    ] {
        let want_inner = if want_code == 0 {
            want_inner
        } else {
            u64::from(want_code)
        };
        at_ret.borrow_mut().clear();
        in_libcall.borrow_mut().clear();
        set_fpcr(&mut inst.m.uc, OUTER_HOST);
        let (code, slots) = inst.call(outer, &[x.to_bits(), 3f64.to_bits()]);
        assert_eq!(code, want_code, "outer({x})");
        assert_eq!(slots[0], want_inner, "outer({x}): the inner result");
        let quotient =
            reference::binop(FloatBinOp::Div, FloatSize::F64, x.to_bits(), 3f64.to_bits());
        assert_eq!(
            (slots[1], slots[2]),
            (quotient, quotient),
            "outer({x}) divisions"
        );
        assert_eq!(
            *in_libcall.borrow(),
            [DETERMINISTIC],
            "FPCR inside the libcall"
        );
        assert_eq!(
            *at_ret.borrow(),
            [INNER_HOST, OUTER_HOST],
            "FPCR at the inner and the outer trampoline's ret"
        );
        assert_eq!(fpcr(&inst.m.uc), OUTER_HOST);
        assert_eq!(inst.m.get(VmCtx::SAVED_SP), 0);
    }
}

/// The moves float locals live by (`float_move`, its flag-clobbering form, `fp_store`):
/// a value from bits keeps them (NaN payloads included); an operation's result, with
/// canonicalization asked for, has every NaN canonical (FPCR.DN made it so already).
#[test]
fn float_moves_and_stores_keep_bits_and_results_stay_canonical() {
    use gasket_singlepass::masm::FReg;
    type Emit = fn(&mut A64Masm, FloatSize, bool);
    let forms: [(&str, Emit); 3] = [
        ("float_move", |m, size, canonicalize| {
            m.float_move(size, FReg(19), FReg(18), canonicalize);
            m.float_to_bits(size, Reg(9), FReg(19), false);
            store_slot(m, 0, Operand::Reg(Reg(9)));
        }),
        ("float_move_clobbering_flags", |m, size, canonicalize| {
            m.float_move_clobbering_flags(size, FReg(25), FReg(18), canonicalize);
            m.float_to_bits(size, Reg(9), FReg(25), false);
            store_slot(m, 0, Operand::Reg(Reg(9)));
        }),
        ("fp_store", |m, size, canonicalize| {
            m.fp_store(
                size,
                Address::at(Base::Frame, slot(0) as i64),
                FReg(18),
                canonicalize,
            );
        }),
    ];
    let is_nan = |size: FloatSize, x: u64| match size {
        FloatSize::F32 => f32::from_bits(x as u32).is_nan(),
        FloatSize::F64 => f64::from_bits(x).is_nan(),
    };
    for size in FLOAT_SIZES {
        let inputs = float_inputs(size);
        for (name, emit) in forms {
            // From bits, moved exactly; or `max(x, x)` (x itself, or the default NaN),
            // moved with canonicalization.
            for result in [false, true] {
                let mut b = Builder::new();
                let f = b.func(|m, _| {
                    m.float_from_bits(size, FReg(18), Operand::Frame(slot(0)));
                    if result {
                        m.fp_binop(FloatBinOp::Max, size, FReg(18), FReg(18), FReg(18));
                    }
                    emit(m, size, result);
                });
                let module = b.build();
                let mut inst = module.instance();
                for &x in &inputs {
                    let want = if result && is_nan(size, x) {
                        size.canonical_nan()
                    } else {
                        x
                    };
                    assert_eq!(
                        inst.run(f, &[x]),
                        want,
                        "{name} {size:?} result={result}: {x:#x}"
                    );
                }
            }
        }
    }
}
