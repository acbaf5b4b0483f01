//! Execution tests: code built through the `MacroAssembler` trait only, mapped executable
//! and run through the real entry trampoline on a dedicated stack, against Rust's own
//! wrapping arithmetic.

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;

use super::regs::{R10, R12, R8, R9, RBX, RDI, RSI};
use super::X64Masm;
use crate::masm::{
    Address, AluOp, Base, BitOp, Cond, DivOp, ExtendOp, Label, LibcallArg, LoadKind,
    MacroAssembler, Operand, Reg, ShiftOp, Size, StoreCheck, StoreWidth,
};
use crate::vmctx::{Libcall, VmCtx};
use crate::TrapKind;

const MEMORY_BYTES: usize = 64 * 1024;
const STACK_SLOTS: usize = 32 * 1024; // 256 KiB
/// Incoming slot `i` of a test function.
pub(super) fn slot(i: i32) -> i32 {
    16 + 8 * i
}

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

/// Builds a module of test functions with the shared trap stubs and the trampoline.
pub(super) struct Builder {
    masm: X64Masm,
    traps: BTreeMap<u32, Label>,
    dynamic_trap: Label,
    pub(super) stack_grant: Label,
    pub(super) dirty_range: Label,
    funcs: Vec<Label>,
    offsets: Vec<u32>,
}

impl Builder {
    pub(super) fn new() -> Builder {
        let mut masm = X64Masm::new();
        let traps = TrapKind::ALL
            .iter()
            .map(|k| (k.code(), masm.new_label()))
            .collect();
        let dynamic_trap = masm.new_label();
        let stack_grant = masm.new_label();
        let dirty_range = masm.new_label();
        Builder {
            masm,
            traps,
            dynamic_trap,
            stack_grant,
            dirty_range,
            funcs: Vec::new(),
            offsets: Vec::new(),
        }
    }

    pub(super) fn trap(&self, kind: TrapKind) -> Label {
        self.traps[&kind.code()]
    }

    /// Reserve a label for a function defined later (for calls).
    fn declare(&mut self) -> usize {
        let label = self.masm.new_label();
        self.funcs.push(label);
        self.offsets.push(u32::MAX);
        self.funcs.len() - 1
    }

    /// Define function `index` with both local registers saved and `extra` frame bytes
    /// (a multiple of 16) below them; the body addresses its frame via `rbp`. The masm is
    /// moved out while the body runs so the body can borrow the builder's labels too.
    fn define(&mut self, index: usize, extra: u32, body: impl FnOnce(&mut X64Masm, &Builder)) {
        let label = self.funcs[index];
        self.offsets[index] = self.masm.offset();
        self.masm.bind(label);
        let patch = self.masm.prologue(2);
        let mut masm = std::mem::replace(&mut self.masm, X64Masm::new());
        body(&mut masm, self);
        self.masm = masm;
        self.masm.epilogue(2);
        self.masm.emit_slow_paths();
        self.masm.patch_frame(patch, 16 + extra);
    }

    pub(super) fn func(&mut self, body: impl FnOnce(&mut X64Masm, &Builder)) -> usize {
        self.func_with_frame(0, body)
    }

    fn func_with_frame(&mut self, extra: u32, body: impl FnOnce(&mut X64Masm, &Builder)) -> usize {
        let index = self.declare();
        self.define(index, extra, body);
        index
    }

    pub(super) fn build(mut self) -> Module {
        for kind in TrapKind::ALL {
            let label = self.trap(kind);
            self.masm.emit_trap_stub(label, kind);
        }
        self.masm.emit_dynamic_trap_stub(self.dynamic_trap);
        let overflow = self.trap(TrapKind::StackOverflow);
        self.masm.emit_stack_grant_stub(self.stack_grant, overflow);
        let oob = self.trap(TrapKind::MemoryOutOfBounds);
        let out_of_gas = self.trap(TrapKind::OutOfGas);
        self.masm
            .emit_dirty_range_stub(self.dirty_range, oob, out_of_gas);
        let trampoline = self.masm.emit_entry_trampoline();
        let code = self.masm.finish().expect("finish");
        Module {
            exec: Exec::new(&code),
            trampoline,
            offsets: self.offsets,
        }
    }
}

/// Finished test code: the executable mapping and where things are in it.
pub(super) struct Module {
    exec: Exec,
    trampoline: u32,
    offsets: Vec<u32>,
}

impl Module {
    fn trampoline(&self) -> Trampoline {
        // SAFETY: `trampoline` is the offset of the entry trampoline emitted into this
        // code, which has exactly this C signature.
        unsafe { std::mem::transmute::<*const u8, Trampoline>(self.exec.at(self.trampoline)) }
    }

    fn entry(&self, func: usize) -> *const u8 {
        self.exec.at(self.offsets[func])
    }
}

/// A test instance: vmctx, linear memory and a native stack for the call.
pub(super) struct Instance {
    vmctx: Box<VmCtx>,
    memory: Vec<u8>,
    stack: Vec<u64>,
}

impl Instance {
    pub(super) fn new() -> Instance {
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
            vmctx,
            memory,
            stack: vec![0u64; STACK_SLOTS],
        }
    }

    /// Call `func` with `args` in 8 slots at the 16-byte aligned top of the stack; returns
    /// the trampoline's code and the slots.
    pub(super) fn call(&mut self, module: &Module, func: usize, args: &[u64]) -> (u32, [u64; 8]) {
        let (code, slots) = call_on(
            module.trampoline(),
            &mut self.vmctx,
            module.entry(func),
            &mut self.stack,
            args,
        );
        (code, slots)
    }

    /// Call and expect a normal return; slot 0.
    pub(super) fn run(&mut self, module: &Module, func: usize, args: &[u64]) -> u64 {
        let (code, slots) = self.call(module, func, args);
        assert_eq!(code, 0, "unexpected trap {:?}", TrapKind::from_code(code));
        slots[0]
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

const VALUES: [u64; 22] = [
    0,
    1,
    2,
    3,
    7,
    31,
    32,
    33,
    63,
    64,
    65,
    100,
    0x7fff_ffff,
    0x8000_0000,
    0xffff_ffff,
    0x1_0000_0000,
    0x1234_5678_9abc_def0,
    0x8000_0000_0000_0000,
    0x7fff_ffff_ffff_ffff,
    u64::MAX,
    (-7i64) as u64,
    0xfedc_ba98_7654_3210,
];

fn width_mask(size: Size) -> u64 {
    match size {
        Size::S32 => u32::MAX as u64,
        Size::S64 => u64::MAX,
    }
}

/// How a binary operation's operands sit in registers (dst, lhs, rhs).
#[derive(Copy, Clone, Debug)]
enum Shape {
    Regs(u8, u8, u8),
    Imm(u64),
    Frame,
}

const REG_SHAPES: [(u8, u8, u8); 5] = [
    (R8, RSI, RDI),  // all distinct
    (RSI, RSI, RDI), // dst == lhs
    (RDI, RSI, RDI), // dst == rhs
    (RBX, R12, R10), // local registers
    (R9, R9, R9),    // all the same
];

/// Check `emit(dst, lhs, rhs)` against `expect(a, b)` (on the raw 64-bit inputs; S32
/// operations must ignore the upper input bits and zero the upper result bits) for every
/// shape and every pair of `VALUES` accepted by `valid`.
fn check_binary(
    size: Size,
    emit: &dyn Fn(&mut X64Masm, Reg, Reg, Operand),
    expect: &dyn Fn(u64, u64) -> u64,
    valid: &dyn Fn(u64, u64) -> bool,
) {
    let mut b = Builder::new();
    let mut funcs = Vec::new();
    let mut shapes: Vec<Shape> = REG_SHAPES
        .iter()
        .map(|&(d, l, r)| Shape::Regs(d, l, r))
        .collect();
    shapes.push(Shape::Frame);
    shapes.extend(VALUES.iter().map(|&v| Shape::Imm(v)));
    for shape in shapes {
        let f = b.func(|m, _| {
            let (dst, lhs, rhs) = match shape {
                Shape::Regs(d, l, r) => {
                    m.mov(Size::S64, Reg(l), Operand::Frame(slot(0)));
                    if r != l {
                        m.mov(Size::S64, Reg(r), Operand::Frame(slot(1)));
                    }
                    (Reg(d), Reg(l), Operand::Reg(Reg(r)))
                }
                Shape::Frame => {
                    m.mov(Size::S64, Reg(RSI), Operand::Frame(slot(0)));
                    (Reg(R8), Reg(RSI), Operand::Frame(slot(1)))
                }
                Shape::Imm(v) => {
                    m.mov(Size::S64, Reg(RSI), Operand::Frame(slot(0)));
                    (Reg(RDI), Reg(RSI), Operand::Imm(v as i64))
                }
            };
            // Garbage in the destination must not leak into the result.
            if Operand::Reg(dst) != rhs && dst != lhs {
                m.mov(Size::S64, dst, Operand::Imm(-1));
            }
            emit(m, dst, lhs, rhs);
            m.store(
                StoreWidth::B64,
                Address::at(Base::Frame, slot(0) as i64),
                Operand::Reg(dst),
            );
        });
        funcs.push((shape, f));
    }
    let module = b.build();
    let mut inst = Instance::new();
    for &(shape, f) in &funcs {
        for &x in &VALUES {
            for &y in &VALUES {
                let (x, y) = match shape {
                    Shape::Regs(_, l, r) if l == r => (x, x),
                    Shape::Imm(v) => (x, v),
                    _ => (x, y),
                };
                if !valid(x, y) {
                    continue;
                }
                let got = inst.run(&module, f, &[x, y]);
                let want = expect(x, y) & width_mask(size);
                assert_eq!(
                    got, want,
                    "{size:?} {shape:?}: f({x:#x}, {y:#x}) = {got:#x}, want {want:#x}"
                );
            }
        }
    }
}

/// Reference implementations.
type Op64 = fn(u64, u64) -> u64;
type Op32 = fn(u32, u32) -> u32;
type Unary = fn(u64) -> u64;

fn always(_: u64, _: u64) -> bool {
    true
}

#[test]
fn alu_ops_match_wrapping_arithmetic() {
    let ops: [(AluOp, Op64, Op32); 6] = [
        (AluOp::Add, u64::wrapping_add, u32::wrapping_add),
        (AluOp::Sub, u64::wrapping_sub, u32::wrapping_sub),
        (AluOp::Mul, u64::wrapping_mul, u32::wrapping_mul),
        (AluOp::And, |a, b| a & b, |a, b| a & b),
        (AluOp::Or, |a, b| a | b, |a, b| a | b),
        (AluOp::Xor, |a, b| a ^ b, |a, b| a ^ b),
    ];
    for (op, f64_, f32_) in ops {
        check_binary(
            Size::S64,
            &|m, d, l, r| m.alu(op, Size::S64, d, l, r),
            &|a, b| f64_(a, b),
            &always,
        );
        check_binary(
            Size::S32,
            &|m, d, l, r| m.alu(op, Size::S32, d, l, r),
            &|a, b| f32_(a as u32, b as u32) as u64,
            &always,
        );
    }
}

#[test]
fn shifts_and_rotates_mask_the_count() {
    // The u64 count is truncated to u32 first: the same modulo 64.
    let ops: [(ShiftOp, Op64, Op32); 5] = [
        (
            ShiftOp::Shl,
            |a, c| a.wrapping_shl(c as u32),
            u32::wrapping_shl,
        ),
        (
            ShiftOp::ShrU,
            |a, c| a.wrapping_shr(c as u32),
            u32::wrapping_shr,
        ),
        (
            ShiftOp::ShrS,
            |a, c| (a as i64).wrapping_shr(c as u32) as u64,
            |a, c| (a as i32).wrapping_shr(c) as u32,
        ),
        (
            ShiftOp::Rotl,
            |a, c| a.rotate_left((c % 64) as u32),
            |a, c| a.rotate_left(c % 32),
        ),
        (
            ShiftOp::Rotr,
            |a, c| a.rotate_right((c % 64) as u32),
            |a, c| a.rotate_right(c % 32),
        ),
    ];
    for (op, f64_, f32_) in ops {
        check_binary(
            Size::S64,
            &|m, d, l, r| m.shift(op, Size::S64, d, l, r),
            &|a, b| f64_(a, b),
            &always,
        );
        check_binary(
            Size::S32,
            &|m, d, l, r| m.shift(op, Size::S32, d, l, r),
            &|a, b| f32_(a as u32, b as u32) as u64,
            &always,
        );
    }
}

#[test]
fn division_matches_wasm_semantics() {
    // `div` takes registers only: shapes with an immediate or frame rhs move it first.
    fn emit(op: DivOp, size: Size) -> impl Fn(&mut X64Masm, Reg, Reg, Operand) {
        move |m, d, l, r| {
            let r = match r {
                Operand::Reg(r) => r,
                other => {
                    let tmp = if d == Reg(R10) || l == Reg(R10) {
                        Reg(R9)
                    } else {
                        Reg(R10)
                    };
                    m.mov(Size::S64, tmp, other);
                    tmp
                }
            };
            m.div(op, size, d, l, r)
        }
    }
    let valid64 =
        |signed: bool| move |a: u64, b: u64| b != 0 && !(signed && a == 1 << 63 && b == u64::MAX);
    let valid32 = |signed: bool| {
        move |a: u64, b: u64| {
            b as u32 != 0 && !(signed && a as u32 == 1 << 31 && b as u32 == u32::MAX)
        }
    };
    let ops: [(DivOp, bool, Op64, Op32); 4] = [
        (DivOp::DivU, false, |a, b| a / b, |a, b| a / b),
        (DivOp::RemU, false, |a, b| a % b, |a, b| a % b),
        (
            DivOp::DivS,
            true,
            |a, b| (a as i64).wrapping_div(b as i64) as u64,
            |a, b| (a as i32).wrapping_div(b as i32) as u32,
        ),
        (
            DivOp::RemS,
            true,
            |a, b| (a as i64).wrapping_rem(b as i64) as u64,
            |a, b| (a as i32).wrapping_rem(b as i32) as u32,
        ),
    ];
    for (op, signed, f64_, f32_) in ops {
        check_binary(
            Size::S64,
            &emit(op, Size::S64),
            &|a, b| f64_(a, b),
            &valid64(signed),
        );
        check_binary(
            Size::S32,
            &emit(op, Size::S32),
            &|a, b| f32_(a as u32, b as u32) as u64,
            &valid32(signed),
        );
    }
}

/// Check a unary `emit(dst, src)` with dst != src and dst == src (including sil/dil and
/// r12 for the byte and REX forms).
fn check_unary(name: &str, emit: &dyn Fn(&mut X64Masm, Reg, Reg), expect: &dyn Fn(u64) -> u64) {
    let shapes = [
        (R8, RSI),
        (RSI, RSI),
        (RDI, RDI),
        (RBX, RDI),
        (R12, R12),
        (R10, R9),
    ];
    let mut b = Builder::new();
    let funcs: Vec<usize> = shapes
        .iter()
        .map(|&(d, s)| {
            b.func(|m, _| {
                m.mov(Size::S64, Reg(s), Operand::Frame(slot(0)));
                if d != s {
                    m.mov(Size::S64, Reg(d), Operand::Imm(-1));
                }
                emit(m, Reg(d), Reg(s));
                m.store(
                    StoreWidth::B64,
                    Address::at(Base::Frame, slot(0) as i64),
                    Operand::Reg(Reg(d)),
                );
            })
        })
        .collect();
    let module = b.build();
    let mut inst = Instance::new();
    let extra = [
        0x80u64,
        0xff,
        0x7f,
        0x8000,
        0xffff,
        0x1_0000,
        0x0000_0100_0000_0000,
    ];
    for (&f, shape) in funcs.iter().zip(shapes) {
        for &x in VALUES.iter().chain(extra.iter()) {
            let got = inst.run(&module, f, &[x]);
            assert_eq!(got, expect(x), "{name} {shape:?} of {x:#x}");
        }
    }
}

#[test]
fn bit_counts_match_rust() {
    let ops: [(BitOp, Size, Unary); 6] = [
        (BitOp::Clz, Size::S32, |x| (x as u32).leading_zeros() as u64),
        (BitOp::Clz, Size::S64, |x| x.leading_zeros() as u64),
        (BitOp::Ctz, Size::S32, |x| {
            (x as u32).trailing_zeros() as u64
        }),
        (BitOp::Ctz, Size::S64, |x| x.trailing_zeros() as u64),
        (BitOp::Popcnt, Size::S32, |x| (x as u32).count_ones() as u64),
        (BitOp::Popcnt, Size::S64, |x| x.count_ones() as u64),
    ];
    for (op, size, f) in ops {
        check_unary(
            &format!("{op:?} {size:?}"),
            &|m, d, s| m.bit_count(op, size, d, s),
            &f,
        );
    }
}

#[test]
fn extends_match_rust_casts() {
    let ops: [(ExtendOp, Unary); 8] = [
        (ExtendOp::Wrap, |x| x as u32 as u64),
        (ExtendOp::I64FromI32S, |x| x as i32 as i64 as u64),
        (ExtendOp::I64FromI32U, |x| x as u32 as u64),
        (ExtendOp::I32From8S, |x| x as i8 as i32 as u32 as u64),
        (ExtendOp::I32From16S, |x| x as i16 as i32 as u32 as u64),
        (ExtendOp::I64From8S, |x| x as i8 as i64 as u64),
        (ExtendOp::I64From16S, |x| x as i16 as i64 as u64),
        (ExtendOp::I64From32S, |x| x as i32 as i64 as u64),
    ];
    for (op, f) in ops {
        check_unary(&format!("{op:?}"), &|m, d, s| m.extend(op, d, s), &f);
    }
}

#[test]
fn mov_forms_zero_extend_and_materialise_immediates() {
    let mut b = Builder::new();
    let cases: Vec<(Size, i64, u64)> = VALUES
        .iter()
        .flat_map(|&v| {
            [
                (Size::S32, v as i64, v as u32 as u64),
                (Size::S64, v as i64, v),
            ]
        })
        .collect();
    let funcs: Vec<usize> = cases
        .iter()
        .map(|&(size, imm, _)| {
            b.func(|m, _| {
                m.mov(Size::S64, Reg(R9), Operand::Imm(-1));
                m.mov(size, Reg(R9), Operand::Imm(imm));
                m.store(
                    StoreWidth::B64,
                    Address::at(Base::Frame, slot(0) as i64),
                    Operand::Reg(Reg(R9)),
                );
            })
        })
        .collect();
    let frame32 = b.func(|m, _| {
        m.mov(Size::S32, Reg(RBX), Operand::Frame(slot(0)));
        m.mov(Size::S32, Reg(RSI), Operand::Reg(Reg(RBX)));
        m.mov(Size::S64, Reg(R12), Operand::Reg(Reg(RSI)));
        m.store(
            StoreWidth::B64,
            Address::at(Base::Frame, slot(0) as i64),
            Operand::Reg(Reg(R12)),
        );
    });
    let module = b.build();
    let mut inst = Instance::new();
    for (&f, &(size, imm, want)) in funcs.iter().zip(&cases) {
        assert_eq!(inst.run(&module, f, &[]), want, "mov {size:?} {imm:#x}");
    }
    assert_eq!(
        inst.run(&module, frame32, &[0xdead_beef_1234_5678]),
        0x1234_5678
    );
}

const CONDS: [Cond; 10] = [
    Cond::Eq,
    Cond::Ne,
    Cond::LtS,
    Cond::LtU,
    Cond::GtS,
    Cond::GtU,
    Cond::LeS,
    Cond::LeU,
    Cond::GeS,
    Cond::GeU,
];

fn holds(cond: Cond, size: Size, a: u64, b: u64) -> bool {
    let (ua, ub) = (a & width_mask(size), b & width_mask(size));
    let (sa, sb) = match size {
        Size::S32 => (a as i32 as i64, b as i32 as i64),
        Size::S64 => (a as i64, b as i64),
    };
    match cond {
        Cond::Eq => ua == ub,
        Cond::Ne => ua != ub,
        Cond::LtS => sa < sb,
        Cond::LtU => ua < ub,
        Cond::GtS => sa > sb,
        Cond::GtU => ua > ub,
        Cond::LeS => sa <= sb,
        Cond::LeU => ua <= ub,
        Cond::GeS => sa >= sb,
        Cond::GeU => ua >= ub,
    }
}

#[test]
fn cmp_branch_set_cond_and_cmov_for_every_condition() {
    // Between the cmp and each consumer: moves, loads and stores, which must keep the flags.
    let mut b = Builder::new();
    let mut funcs = Vec::new();
    for cond in CONDS {
        for size in [Size::S32, Size::S64] {
            for rhs_kind in 0..3 {
                let f = b.func_with_frame(16, |m, _| {
                    let (is_true, end) = (m.new_label(), m.new_label());
                    m.mov(Size::S64, Reg(RSI), Operand::Frame(slot(0)));
                    m.mov(Size::S64, Reg(RDI), Operand::Frame(slot(1)));
                    m.mov(Size::S64, Reg(R8), Operand::Imm(100));
                    m.mov(Size::S64, Reg(R9), Operand::Imm(200));
                    let rhs = match rhs_kind {
                        0 => Operand::Reg(Reg(RDI)),
                        1 => Operand::Frame(slot(1)),
                        // Filled in per value below via slot 2 is not possible for an
                        // immediate; use a fixed one.
                        _ => Operand::Imm(0x8000_0000),
                    };
                    m.cmp(size, Reg(RSI), rhs);
                    m.mov(Size::S64, Reg(R10), Operand::Imm(0x1234_5678_9abc));
                    m.store(
                        StoreWidth::B64,
                        Address::at(Base::Frame, -32),
                        Operand::Reg(Reg(R10)),
                    );
                    m.load(LoadKind::I32From8S, Reg(R10), Address::at(Base::Frame, -32));
                    m.set_cond(cond, Reg(R10));
                    m.store(
                        StoreWidth::B64,
                        Address::at(Base::Frame, slot(0) as i64),
                        Operand::Reg(Reg(R10)),
                    );
                    m.cmov(cond, size, Reg(R8), Reg(R9));
                    m.store(
                        StoreWidth::B64,
                        Address::at(Base::Frame, slot(1) as i64),
                        Operand::Reg(Reg(R8)),
                    );
                    m.lea(Reg(R10), Address::at(Base::Frame, slot(2) as i64));
                    m.branch(cond, is_true);
                    m.store(
                        StoreWidth::B64,
                        Address::at(Base::Reg(Reg(R10)), 0),
                        Operand::Imm(0),
                    );
                    m.jump(end);
                    m.bind(is_true);
                    m.store(
                        StoreWidth::B64,
                        Address::at(Base::Reg(Reg(R10)), 0),
                        Operand::Imm(1),
                    );
                    m.bind(end);
                });
                funcs.push((cond, size, rhs_kind, f));
            }
        }
    }
    let module = b.build();
    let mut inst = Instance::new();
    for &(cond, size, rhs_kind, f) in &funcs {
        for &x in &VALUES {
            for &y in &VALUES {
                let y = if rhs_kind == 2 { 0x8000_0000 } else { y };
                let want = holds(cond, size, x, y);
                let (code, s) = inst.call(&module, f, &[x, y]);
                assert_eq!(code, 0);
                let ctx = format!("{cond:?} {size:?} rhs#{rhs_kind} {x:#x} ? {y:#x}");
                assert_eq!(s[0], want as u64, "set_cond {ctx}");
                assert_eq!(s[1], if want { 200 } else { 100 }, "cmov {ctx}");
                assert_eq!(s[2], want as u64, "branch {ctx}");
            }
        }
    }
}

#[test]
fn cmp_with_wide_immediate() {
    let mut b = Builder::new();
    let f = b.func(|m, _| {
        m.mov(Size::S64, Reg(RSI), Operand::Frame(slot(0)));
        m.cmp(Size::S64, Reg(RSI), Operand::Imm(0x1234_5678_9abc_def0));
        m.set_cond(Cond::LtU, Reg(RSI));
        m.store(
            StoreWidth::B64,
            Address::at(Base::Frame, slot(0) as i64),
            Operand::Reg(Reg(RSI)),
        );
    });
    let module = b.build();
    let mut inst = Instance::new();
    assert_eq!(inst.run(&module, f, &[0x1234_5678_9abc_deef]), 1);
    assert_eq!(inst.run(&module, f, &[0x1234_5678_9abc_def0]), 0);
}

fn expected_load(kind: LoadKind, bytes: &[u8]) -> u64 {
    let raw = |n: usize| {
        let mut b = [0u8; 8];
        b[..n].copy_from_slice(&bytes[..n]);
        u64::from_le_bytes(b)
    };
    match kind {
        LoadKind::I32 | LoadKind::I64From32U => raw(4),
        LoadKind::I64 => raw(8),
        LoadKind::I32From8S => raw(1) as i8 as i32 as u32 as u64,
        LoadKind::I32From8U | LoadKind::I64From8U => raw(1),
        LoadKind::I32From16S => raw(2) as i16 as i32 as u32 as u64,
        LoadKind::I32From16U | LoadKind::I64From16U => raw(2),
        LoadKind::I64From8S => raw(1) as i8 as i64 as u64,
        LoadKind::I64From16S => raw(2) as i16 as i64 as u64,
        LoadKind::I64From32S => raw(4) as i32 as i64 as u64,
    }
}

#[test]
fn loads_from_linear_memory_every_kind() {
    let mut b = Builder::new();
    let mut funcs = Vec::new();
    for kind in LoadKind::ALL {
        for disp in [0i64, 3, 0x1000] {
            for (d, i) in [(RDI, RSI), (RSI, RSI), (R12, RBX)] {
                let f = b.func(|m, _| {
                    m.mov(Size::S32, Reg(i), Operand::Frame(slot(0)));
                    if d != i {
                        m.mov(Size::S64, Reg(d), Operand::Imm(-1));
                    }
                    m.load(
                        kind,
                        Reg(d),
                        Address {
                            base: Base::Memory,
                            index: Some((Reg(i), 0)),
                            disp,
                        },
                    );
                    m.store(
                        StoreWidth::B64,
                        Address::at(Base::Frame, slot(0) as i64),
                        Operand::Reg(Reg(d)),
                    );
                });
                funcs.push((kind, disp, f));
            }
        }
    }
    let module = b.build();
    let mut inst = Instance::new();
    for (i, byte) in inst.memory.iter_mut().enumerate() {
        *byte = (i as u8).wrapping_mul(37).wrapping_add(0x81);
    }
    for &(kind, disp, f) in &funcs {
        for addr in [0u64, 1, 5, 0x7f, 1000, MEMORY_BYTES as u64 - 0x1000 - 8] {
            let at = (addr as i64 + disp) as usize;
            let want = expected_load(kind, &inst.memory[at..]);
            assert_eq!(
                inst.run(&module, f, &[addr]),
                want,
                "{kind:?} at {addr}+{disp}"
            );
        }
    }
}

#[test]
fn addressing_modes_scales_wide_displacements_and_other_bases() {
    let mut b = Builder::new();
    // [reg + idx << scale + disp] for every scale.
    let scaled: Vec<(u8, usize)> = (0..4u8)
        .map(|scale| {
            let f = b.func(|m, _| {
                m.mov(Size::S64, Reg(R12), Operand::Frame(slot(0)));
                m.mov(Size::S64, Reg(R9), Operand::Frame(slot(1)));
                m.load(
                    LoadKind::I64,
                    Reg(R9),
                    Address {
                        base: Base::Reg(Reg(R12)),
                        index: Some((Reg(R9), scale)),
                        disp: 8,
                    },
                );
                m.store(
                    StoreWidth::B64,
                    Address::at(Base::Frame, slot(0) as i64),
                    Operand::Reg(Reg(R9)),
                );
            });
            (scale, f)
        })
        .collect();
    // A displacement beyond i32 (the base is biased down by it).
    const WIDE: i64 = 0x9000_0000;
    let wide_load = b.func(|m, _| {
        m.mov(Size::S64, Reg(RSI), Operand::Frame(slot(0)));
        m.load(
            LoadKind::I64,
            Reg(RDI),
            Address::at(Base::Reg(Reg(RSI)), WIDE),
        );
        m.store(
            StoreWidth::B64,
            Address::at(Base::Reg(Reg(RSI)), WIDE + 8),
            Operand::Imm(0x55),
        );
        m.lea(Reg(R8), Address::at(Base::Reg(Reg(RSI)), WIDE));
        m.store(
            StoreWidth::B64,
            Address::at(Base::Frame, slot(0) as i64),
            Operand::Reg(Reg(RDI)),
        );
        m.store(
            StoreWidth::B64,
            Address::at(Base::Frame, slot(1) as i64),
            Operand::Reg(Reg(R8)),
        );
    });
    // vmctx fields, the memory base via lea, and sp-relative outgoing slots.
    let bases = b.func(|m, _| {
        m.load(
            LoadKind::I64,
            Reg(RSI),
            Address::at(Base::Vmctx, VmCtx::MEMORY_LEN as i64),
        );
        m.store(
            StoreWidth::B64,
            Address::at(Base::Frame, slot(0) as i64),
            Operand::Reg(Reg(RSI)),
        );
        m.lea(Reg(RDI), Address::at(Base::Memory, 5));
        m.store(
            StoreWidth::B64,
            Address::at(Base::Frame, slot(1) as i64),
            Operand::Reg(Reg(RDI)),
        );
        m.reserve_outgoing(16);
        m.store(StoreWidth::B64, Address::at(Base::Sp, 8), Operand::Imm(77));
        m.load(LoadKind::I64, Reg(R8), Address::at(Base::Sp, 8));
        m.release_outgoing(16);
        m.store(
            StoreWidth::B64,
            Address::at(Base::Frame, slot(2) as i64),
            Operand::Reg(Reg(R8)),
        );
    });
    let module = b.build();
    let mut inst = Instance::new();
    let table: Vec<u64> = (0..64u64).map(|i| i * 0x0101_0101 + 3).collect();
    for &(scale, f) in &scaled {
        for idx in [0u64, 1, 3] {
            let got = inst.run(&module, f, &[table.as_ptr() as u64, idx]);
            let byte_off = 8 + (idx << scale) as usize;
            let want = u64::from_le_bytes(
                // The same bytes, read from a little-endian copy of `table`.
                table
                    .iter()
                    .flat_map(|v| v.to_le_bytes())
                    .collect::<Vec<u8>>()[byte_off..byte_off + 8]
                    .try_into()
                    .unwrap(),
            );
            assert_eq!(got, want, "scale {scale} idx {idx}");
        }
    }
    inst.memory[16..24].copy_from_slice(&0x1122_3344_5566_7788u64.to_le_bytes());
    let biased = (inst.memory.as_ptr() as u64 + 16).wrapping_sub(WIDE as u64);
    let (code, s) = inst.call(&module, wide_load, &[biased]);
    assert_eq!(code, 0);
    assert_eq!(s[0], 0x1122_3344_5566_7788);
    assert_eq!(s[1], inst.memory.as_ptr() as u64 + 16);
    assert_eq!(inst.memory[24], 0x55);
    let (code, s) = inst.call(&module, bases, &[]);
    assert_eq!(code, 0);
    assert_eq!(s[0], MEMORY_BYTES as u64);
    assert_eq!(s[1], inst.memory.as_ptr() as u64 + 5);
    assert_eq!(s[2], 77);
}

#[test]
fn stores_every_width_and_source() {
    let widths = [
        StoreWidth::B8,
        StoreWidth::B16,
        StoreWidth::B32,
        StoreWidth::B64,
    ];
    let value: u64 = 0x8899_aabb_ccdd_eeff;
    let mut b = Builder::new();
    let mut funcs = Vec::new();
    for width in widths {
        for src_kind in 0..4 {
            let f = b.func(|m, _| {
                m.mov(Size::S32, Reg(RDI), Operand::Frame(slot(0)));
                let src = match src_kind {
                    0 => {
                        m.mov(Size::S64, Reg(RSI), Operand::Frame(slot(1)));
                        Operand::Reg(Reg(RSI))
                    }
                    1 => Operand::Frame(slot(1)),
                    2 => Operand::Imm(value as i64),
                    // A sign-extendable immediate (imm32 form for B64).
                    _ => Operand::Imm(-3),
                };
                m.store(
                    width,
                    Address {
                        base: Base::Memory,
                        index: Some((Reg(RDI), 0)),
                        disp: 2,
                    },
                    src,
                );
            });
            funcs.push((width, src_kind, f));
        }
    }
    let module = b.build();
    let mut inst = Instance::new();
    for &(width, src_kind, f) in &funcs {
        inst.memory[..64].fill(0x5a);
        inst.run(&module, f, &[10, value]);
        let v = if src_kind == 3 { (-3i64) as u64 } else { value };
        let n = width.bytes() as usize;
        let mut want = [0x5au8; 64];
        want[12..12 + n].copy_from_slice(&v.to_le_bytes()[..n]);
        assert_eq!(&inst.memory[..64], &want[..], "{width:?} src#{src_kind}");
    }
}

#[test]
fn bounds_check_at_the_memory_edge() {
    let mut b = Builder::new();
    let mut funcs = Vec::new();
    // `aligned`: only for addresses that are multiples of `end`'s power of two (what
    // codegen knows when it asks for it, see `MacroAssembler::bounds_check`).
    let shapes = [
        (1u64, false),
        (8, false),
        (0x8000_0000, false),
        (1 << 32, false),
        ((1 << 32) + 8, false),
        (1, true),
        (4, true),
        (8, true),
        (4096, true),
    ];
    for (end, aligned) in shapes {
        let f = b.func(|m, b| {
            m.mov(Size::S32, Reg(RSI), Operand::Frame(slot(0)));
            m.bounds_check(Reg(RSI), end, b.trap(TrapKind::MemoryOutOfBounds), aligned);
            m.store(
                StoreWidth::B64,
                Address::at(Base::Frame, slot(0) as i64),
                Operand::Imm(7),
            );
        });
        funcs.push((end, aligned, f));
    }
    let module = b.build();
    let mut inst = Instance::new();
    let len = MEMORY_BYTES as u64;
    for &(end, aligned, f) in &funcs {
        for addr in [
            0u64,
            1,
            len - 8,
            len - 7,
            len - 1,
            len,
            0x7fff_ffff,
            0xffff_ffff,
            len - 4096,
            len + 4096,
            0xffff_f000,
        ] {
            if aligned && !addr.is_multiple_of(end) {
                continue;
            }
            let (code, s) = inst.call(&module, f, &[addr]);
            if addr + end <= len {
                assert_eq!((code, s[0]), (0, 7), "addr {addr:#x} end {end:#x}");
            } else {
                assert_eq!(
                    code,
                    TrapKind::MemoryOutOfBounds.code(),
                    "addr {addr:#x} end {end:#x}"
                );
                assert_eq!(inst.vmctx.trap_code, code);
            }
        }
    }
}

#[test]
fn gas_charges_down_to_zero_and_traps_one_below() {
    let mut b = Builder::new();
    let imm = |amount: u64| {
        move |m: &mut X64Masm, b: &Builder| {
            m.charge_gas(Operand::Imm(amount as i64), b.trap(TrapKind::OutOfGas));
        }
    };
    let small = b.func(imm(10));
    let wide = b.func(imm(1 << 40));
    let max = b.func(imm(u64::MAX));
    let reg = b.func(|m, b| {
        m.mov(Size::S64, Reg(RBX), Operand::Frame(slot(0)));
        m.charge_gas(Operand::Reg(Reg(RBX)), b.trap(TrapKind::OutOfGas));
    });
    // Charge, flush, observe the vmctx copy, reload after changing it.
    let flush = b.func(|m, b| {
        m.charge_gas(Operand::Imm(5), b.trap(TrapKind::OutOfGas));
        m.flush_gas();
        m.load(
            LoadKind::I64,
            Reg(RSI),
            Address::at(Base::Vmctx, VmCtx::GAS_REMAINING as i64),
        );
        m.store(
            StoreWidth::B64,
            Address::at(Base::Frame, slot(0) as i64),
            Operand::Reg(Reg(RSI)),
        );
        m.store(
            StoreWidth::B64,
            Address::at(Base::Vmctx, VmCtx::GAS_REMAINING as i64),
            Operand::Imm(1000),
        );
        m.reload_gas();
    });
    let module = b.build();
    let mut inst = Instance::new();
    let cases: [(usize, u64, &[u64]); 4] = [
        (small, 10, &[]),
        (wide, 1 << 40, &[]),
        (max, u64::MAX, &[]),
        (reg, 12345, &[12345]),
    ];
    for (f, amount, args) in cases {
        inst.vmctx.gas_remaining = amount;
        let (code, _) = inst.call(&module, f, args);
        assert_eq!((code, inst.vmctx.gas_remaining), (0, 0), "exactly {amount}");
        if let Some(more) = amount.checked_add(3) {
            inst.vmctx.gas_remaining = more;
            assert_eq!(inst.call(&module, f, args).0, 0);
            assert_eq!(inst.vmctx.gas_remaining, 3);
        }
        if amount > 0 {
            inst.vmctx.gas_remaining = amount - 1;
            let (code, _) = inst.call(&module, f, args);
            assert_eq!(code, TrapKind::OutOfGas.code(), "one below {amount}");
            assert_eq!(inst.vmctx.gas_remaining, 0);
            assert_eq!(inst.vmctx.trap_code, TrapKind::OutOfGas.code());
        }
    }
    inst.vmctx.gas_remaining = 100;
    assert_eq!(inst.run(&module, flush, &[]), 95);
    assert_eq!(inst.vmctx.gas_remaining, 1000);
}

/// A function of `units` stack units: a frame of exactly 32 bytes per unit (the builder's
/// prologue saves two registers below the saved rbp and return address), checked by
/// `stack_enter`; with `callee`, it calls that function after the check.
fn framed(b: &mut Builder, units: u32, callee: Option<usize>) -> usize {
    b.func_with_frame(32 * (units - 1), |m, b| {
        m.stack_enter(b.stack_grant);
        if let Some(callee) = callee {
            m.call(b.funcs[callee]);
        }
    })
}

#[test]
fn stack_budget_enter_grant_and_overflow() {
    let mut b = Builder::new();
    let f = framed(&mut b, 5, None);
    let g = framed(&mut b, 3, Some(f));
    let module = b.build();
    let mut inst = Instance::new();
    let set = |inst: &mut Instance, units: u64, reserve: u64| {
        inst.vmctx.stack_limit = units;
        inst.vmctx.stack_reserve = reserve;
    };
    // Fits: no grant.
    set(&mut inst, 5, 0);
    assert_eq!(inst.call(&module, f, &[]).0, 0);
    assert_eq!(inst.vmctx.stack_reserve, 0);
    set(&mut inst, 4, 0);
    assert_eq!(inst.call(&module, f, &[]).0, TrapKind::StackOverflow.code());
    // Short by 3: the grant covers them and STACK_GRANT_UNITS more.
    set(&mut inst, 2, 300);
    assert_eq!(inst.call(&module, f, &[]).0, 0);
    let grant = crate::STACK_GRANT_UNITS;
    assert_eq!(inst.vmctx.stack_reserve, 300 - grant - 3);
    // The reserve covers exactly the deficit; one unit less overflows.
    set(&mut inst, 1, 4);
    assert_eq!(inst.call(&module, f, &[]).0, 0);
    assert_eq!(inst.vmctx.stack_reserve, 0);
    set(&mut inst, 1, 3);
    assert_eq!(inst.call(&module, f, &[]).0, TrapKind::StackOverflow.code());
    // Nested: the callee's check counts the caller's frame (3 + 5 units).
    set(&mut inst, 8, 0);
    assert_eq!(inst.call(&module, g, &[]).0, 0);
    set(&mut inst, 7, 0);
    assert_eq!(inst.call(&module, g, &[]).0, TrapKind::StackOverflow.code());
    set(&mut inst, 2, 0);
    assert_eq!(inst.call(&module, g, &[]).0, TrapKind::StackOverflow.code());
    set(&mut inst, 7, 1);
    assert_eq!(inst.call(&module, g, &[]).0, 0);
    assert_eq!(inst.vmctx.stack_reserve, 0);
    // A grant in the caller, then the callee fits in what it left.
    set(&mut inst, 2, 200);
    assert_eq!(inst.call(&module, g, &[]).0, 0);
    assert_eq!(inst.vmctx.stack_reserve, 200 - grant - 1);
    // More units than the stack has addresses: the trampoline saturates the limit at 0.
    set(&mut inst, u64::MAX, 0);
    assert_eq!(inst.call(&module, g, &[]).0, 0);
}

#[test]
fn store_check_widens_the_written_ranges_charges_or_traps() {
    let mut b = Builder::new();
    // f(addr): rdi holds a value across the check, which must survive the stub call.
    // (from, end): the stored bytes past the address; loads: the end of loads sharing
    // the check (`load_window`), 0 for none.
    let shapes = [
        (0u64, 8u64, 0u64, false),
        (0, 1, 0, false),
        (4996, 5004, 0, false),
        (70_000, 70_008, 0, false),
        ((1 << 31) + 5, (1 << 31) + 6, 0, false),
        (0, (1 << 32) + 8, 0, false),
        (1 << 32, (1 << 32) + 8, 0, false),
        (24, 32, 32, false),
        (24, 32, 40, false),
        (32, 40, 16, false),
        (4996, 5004, 70_008, false),
        (0, 8, (1 << 32) + 8, false),
        (0, 8, 9, false),
        (0, 1, 8, false),
        // `aligned`: for addresses that are multiples of the power of two at or above
        // `max(end, loads)` (see `MacroAssembler::store_check`).
        (0, 8, 0, true),
        (0, 1, 0, true),
        (4, 8, 0, true),
        (0, 8, 8, true),
        (0, 4, 8, true),
        (0, 4096, 0, true),
    ];
    let funcs: Vec<usize> = shapes
        .iter()
        .map(|&(from, end, loads_end, aligned)| {
            b.func(|m, b| {
                m.mov(Size::S64, Reg(RDI), Operand::Imm(0x5eed));
                m.mov(Size::S32, Reg(RSI), Operand::Frame(slot(0)));
                let loads =
                    (loads_end > 0).then(|| (loads_end, b.trap(TrapKind::MemoryOutOfBounds)));
                let check = StoreCheck {
                    addr: Reg(RSI),
                    from,
                    end,
                    loads,
                    widen: b.dirty_range,
                };
                m.store_check(check, aligned);
                m.store(
                    StoreWidth::B64,
                    Address::at(Base::Frame, slot(0) as i64),
                    Operand::Reg(Reg(RDI)),
                );
            })
        })
        .collect();
    let module = b.build();
    let mut inst = Instance::new();
    // Only the check and the stub read the length; the store goes to the frame.
    let memory_len = 4 << 20;
    inst.vmctx.memory_len = memory_len;
    let price = 30_011;
    inst.vmctx.write_price = price.into();
    let (states, addrs) = crate::written::check_cases(memory_len);
    let mut checked = 0;
    for before in &states {
        for (&(from, end, loads_end, aligned), &func) in shapes.iter().zip(&funcs) {
            let alignment = end.max(loads_end).next_power_of_two();
            let fits =
                |a: u64| a <= u64::from(u32::MAX) && (!aligned || a.is_multiple_of(alignment));
            for &addr in addrs.iter().filter(|&&a| fits(a)) {
                // With plenty of gas, then with exactly the charge and one less.
                let plenty = crate::written::check_effect_after_loads(
                    before,
                    addr,
                    from,
                    end,
                    loads_end,
                    memory_len,
                    price,
                    u64::MAX,
                );
                let charge = plenty.map_or(0, |(_, left)| u64::MAX - left);
                let mut gases = vec![u64::MAX, charge];
                if charge > 0 {
                    gases.push(charge - 1);
                }
                for gas in gases {
                    inst.vmctx.written = *before;
                    inst.vmctx.gas_remaining = gas;
                    inst.vmctx.write_gas = 5;
                    let (code, slots) = inst.call(&module, func, &[addr]);
                    let case = format!(
                        "{before:?} addr {addr} from {from} end {end} loads {loads_end} gas {gas}"
                    );
                    let expected = crate::written::check_effect_after_loads(
                        before, addr, from, end, loads_end, memory_len, price, gas,
                    );
                    match expected {
                        Ok((after, left)) => {
                            assert_eq!(code, 0, "{case}");
                            assert_eq!(slots[0], 0x5eed, "{case}: rdi survives");
                            assert_eq!(inst.vmctx.written, after, "{case}");
                            assert_eq!(inst.vmctx.gas_remaining, left, "{case}");
                            assert_eq!(inst.vmctx.write_gas, 5 + (gas - left), "{case}");
                        }
                        Err(kind) => {
                            assert_eq!(code, kind.code(), "{case}");
                            assert_eq!(inst.vmctx.written, *before, "{case}: unchanged by a trap");
                            assert_eq!(inst.vmctx.write_gas, 5, "{case}");
                            if kind == TrapKind::OutOfGas {
                                assert_eq!(inst.vmctx.gas_remaining, 0, "{case}");
                            }
                        }
                    }
                    checked += 1;
                }
            }
        }
    }
    assert!(checked > 1000, "{checked} cases");
}

#[test]
fn wasm_calls_pass_params_and_results_and_keep_local_registers() {
    let mut b = Builder::new();
    let callee = b.declare();
    // caller(a, b): rbx/r12 hold values across the call; results (a+b, a*b) come back.
    let caller = b.func_with_frame(16, |m, b| {
        m.mov(Size::S64, Reg(RBX), Operand::Imm(0x1111));
        m.mov(Size::S64, Reg(R12), Operand::Imm(0x2222));
        m.reserve_outgoing(16);
        m.mov(Size::S64, Reg(RSI), Operand::Frame(slot(0)));
        m.store(
            StoreWidth::B64,
            Address::at(Base::Sp, 0),
            Operand::Reg(Reg(RSI)),
        );
        m.mov(Size::S64, Reg(RSI), Operand::Frame(slot(1)));
        m.store(
            StoreWidth::B64,
            Address::at(Base::Sp, 8),
            Operand::Reg(Reg(RSI)),
        );
        m.call(b.funcs[callee]);
        m.load(LoadKind::I64, Reg(RSI), Address::at(Base::Sp, 0));
        m.load(LoadKind::I64, Reg(RDI), Address::at(Base::Sp, 8));
        m.release_outgoing(16);
        m.store(
            StoreWidth::B64,
            Address::at(Base::Frame, slot(0) as i64),
            Operand::Reg(Reg(RSI)),
        );
        m.store(
            StoreWidth::B64,
            Address::at(Base::Frame, slot(1) as i64),
            Operand::Reg(Reg(RDI)),
        );
        m.store(
            StoreWidth::B64,
            Address::at(Base::Frame, slot(2) as i64),
            Operand::Reg(Reg(RBX)),
        );
        m.store(
            StoreWidth::B64,
            Address::at(Base::Frame, slot(3) as i64),
            Operand::Reg(Reg(R12)),
        );
    });
    b.define(callee, 0, |m, _| {
        m.mov(Size::S64, Reg(RBX), Operand::Frame(slot(0)));
        m.mov(Size::S64, Reg(R12), Operand::Frame(slot(1)));
        m.alu(
            AluOp::Add,
            Size::S64,
            Reg(RSI),
            Reg(RBX),
            Operand::Reg(Reg(R12)),
        );
        m.alu(
            AluOp::Mul,
            Size::S64,
            Reg(RDI),
            Reg(RBX),
            Operand::Reg(Reg(R12)),
        );
        m.store(
            StoreWidth::B64,
            Address::at(Base::Frame, slot(0) as i64),
            Operand::Reg(Reg(RSI)),
        );
        m.store(
            StoreWidth::B64,
            Address::at(Base::Frame, slot(1) as i64),
            Operand::Reg(Reg(RDI)),
        );
    });
    // indirect(f, x): calls f(x, 3) through a register.
    let indirect = b.func(|m, _| {
        m.mov(Size::S64, Reg(R10), Operand::Frame(slot(0)));
        m.reserve_outgoing(16);
        m.mov(Size::S64, Reg(RSI), Operand::Frame(slot(1)));
        m.store(
            StoreWidth::B64,
            Address::at(Base::Sp, 0),
            Operand::Reg(Reg(RSI)),
        );
        m.store(StoreWidth::B64, Address::at(Base::Sp, 8), Operand::Imm(3));
        m.call_indirect(Reg(R10));
        m.load(LoadKind::I64, Reg(RSI), Address::at(Base::Sp, 8));
        m.release_outgoing(16);
        m.store(
            StoreWidth::B64,
            Address::at(Base::Frame, slot(0) as i64),
            Operand::Reg(Reg(RSI)),
        );
    });
    let module = b.build();
    let mut inst = Instance::new();
    let (code, s) = inst.call(&module, caller, &[6, 7]);
    assert_eq!(code, 0);
    assert_eq!(&s[..4], &[13, 42, 0x1111, 0x2222]);
    let f = module.entry(callee) as u64;
    assert_eq!(inst.run(&module, indirect, &[f, 14]), 42);
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
        m.store(
            StoreWidth::B64,
            Address::at(Base::Frame, slot(0) as i64),
            Operand::Reg(Reg(RSI)),
        );
        m.store(
            StoreWidth::B64,
            Address::at(Base::Frame, slot(1) as i64),
            Operand::Reg(Reg(RBX)),
        );
    });
    let module = b.build();
    let mut inst = Instance::new();
    inst.vmctx.libcalls[Libcall::MemoryInit as usize] = record_args as *const () as usize;
    RECORDED.with(|r| r.borrow_mut().clear());
    let (code, s) = inst.call(&module, f, &[0x5555]);
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
        m.store(
            StoreWidth::B64,
            Address::at(Base::Frame, slot(0) as i64),
            Operand::Imm(99),
        );
    });
    let module = b.build();
    let mut inst = Instance::new();
    inst.vmctx.libcalls[Libcall::MemoryFill as usize] = trap_with as *const () as usize;
    inst.vmctx.gas_remaining = 1234;
    assert_eq!(inst.run(&module, f, &[0]), 99);
    for kind in [
        TrapKind::HostError,
        TrapKind::MemoryOutOfBounds,
        TrapKind::TableOutOfBounds,
    ] {
        let (code, _) = inst.call(&module, f, &[kind.code() as u64]);
        assert_eq!(code, kind.code());
        assert_eq!(inst.vmctx.trap_code, kind.code());
        assert_eq!(inst.vmctx.gas_remaining, 1234);
    }
}

#[test]
fn every_static_trap_stub_returns_its_code() {
    let mut b = Builder::new();
    let funcs: Vec<(TrapKind, usize)> = TrapKind::ALL
        .iter()
        .map(|&kind| (kind, b.func(|m, b| m.jump(b.trap(kind)))))
        .collect();
    let module = b.build();
    let mut inst = Instance::new();
    for (kind, f) in funcs {
        inst.vmctx.gas_remaining = 50;
        let (code, _) = inst.call(&module, f, &[]);
        assert_eq!(code, kind.code());
        assert_eq!(inst.vmctx.trap_code, kind.code());
        let gas = if kind == TrapKind::OutOfGas { 0 } else { 50 };
        assert_eq!(inst.vmctx.gas_remaining, gas, "{kind:?}");
        assert_eq!(inst.vmctx.saved_sp, 0);
    }
}

#[test]
fn jump_tables_of_0_3_and_10000_targets() {
    const DEFAULT: u64 = 999_999;
    let mut b = Builder::new();
    let mut funcs = Vec::new();
    for n in [0usize, 3, 10_000] {
        let f = b.func(|m, _| {
            let targets: Vec<Label> = (0..n).map(|_| m.new_label()).collect();
            let (default, end) = (m.new_label(), m.new_label());
            m.mov(Size::S32, Reg(R9), Operand::Frame(slot(0)));
            m.jump_table(Reg(R9), &targets, default);
            for (i, &t) in targets.iter().enumerate() {
                m.bind(t);
                m.store(
                    StoreWidth::B64,
                    Address::at(Base::Frame, slot(0) as i64),
                    Operand::Imm(i as i64 * 3),
                );
                m.jump(end);
            }
            m.bind(default);
            m.store(
                StoreWidth::B64,
                Address::at(Base::Frame, slot(0) as i64),
                Operand::Imm(DEFAULT as i64),
            );
            m.bind(end);
        });
        funcs.push((n, f));
    }
    let module = b.build();
    let mut inst = Instance::new();
    for (n, f) in funcs {
        let mut indices = vec![
            0u64,
            1,
            2,
            3,
            4,
            9_999,
            10_000,
            10_001,
            0x7fff_ffff,
            0x8000_0000,
            0xffff_ffff,
        ];
        indices.extend((0..n as u64).step_by(97));
        for idx in indices {
            let want = if (idx as usize) < n { idx * 3 } else { DEFAULT };
            assert_eq!(inst.run(&module, f, &[idx]), want, "n={n} index {idx}");
        }
    }
}

#[test]
fn zero_frame_small_and_large() {
    let mut b = Builder::new();
    let mut funcs = Vec::new();
    for count in [1u32, 3, 8, 9, 50] {
        let extra = (count * 8 + 16).div_ceil(16) * 16;
        let f = b.func_with_frame(extra, |m, _| {
            // Slots -24 .. -24 - 8*(count+1): a sentinel at each end, garbage between.
            let lowest = -16 - extra as i32;
            let first = lowest + 8;
            m.mov(Size::S64, Reg(RSI), Operand::Imm(-1));
            for i in 0..count as i32 + 2 {
                m.store(
                    StoreWidth::B64,
                    Address::at(Base::Frame, (lowest + 8 * i) as i64),
                    Operand::Reg(Reg(RSI)),
                );
            }
            m.zero_frame(first, count);
            m.mov(Size::S64, Reg(RDI), Operand::Imm(0));
            for i in 0..count as i32 {
                m.alu(
                    AluOp::Or,
                    Size::S64,
                    Reg(RDI),
                    Reg(RDI),
                    Operand::Frame(first + 8 * i),
                );
            }
            m.store(
                StoreWidth::B64,
                Address::at(Base::Frame, slot(0) as i64),
                Operand::Reg(Reg(RDI)),
            );
            m.mov(Size::S64, Reg(R8), Operand::Frame(lowest));
            m.alu(
                AluOp::And,
                Size::S64,
                Reg(R8),
                Reg(R8),
                Operand::Frame(first + 8 * count as i32),
            );
            m.store(
                StoreWidth::B64,
                Address::at(Base::Frame, slot(1) as i64),
                Operand::Reg(Reg(R8)),
            );
        });
        funcs.push((count, f));
    }
    let module = b.build();
    let mut inst = Instance::new();
    for (count, f) in funcs {
        let (code, s) = inst.call(&module, f, &[]);
        assert_eq!((code, s[0], s[1]), (0, 0, u64::MAX), "count {count}");
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
        m.store(
            StoreWidth::B64,
            Address::at(Base::Frame, slot(0) as i64),
            Operand::Imm(5),
        );
    });
    // outer(x): r = reenter(x); store r; then trap with IntegerOverflow if x == 2.
    let outer = b.func(|m, b| {
        m.mov(Size::S64, Reg(RBX), Operand::Frame(slot(0)));
        m.flush_gas();
        let ret = m.call_libcall(Libcall::HostCall, &[LibcallArg::Reg(Reg(RBX))]);
        m.reload_gas();
        m.mov(Size::S64, Reg(RSI), Operand::Reg(ret));
        m.store(
            StoreWidth::B64,
            Address::at(Base::Frame, slot(0) as i64),
            Operand::Reg(Reg(RSI)),
        );
        m.cmp(Size::S64, Reg(RBX), Operand::Imm(2));
        m.branch(Cond::Eq, b.trap(TrapKind::IntegerOverflow));
    });
    let module = b.build();
    REENTRY.with(|r| r.set(Some((module.trampoline(), module.entry(inner)))));
    let mut inst = Instance::new();
    inst.vmctx.libcalls[Libcall::HostCall as usize] = reenter as *const () as usize;
    for _ in 0..100 {
        assert_eq!(inst.run(&module, outer, &[0]), 0);
        assert_eq!(
            inst.run(&module, outer, &[1]),
            TrapKind::Unreachable.code() as u64
        );
        let (code, _) = inst.call(&module, outer, &[2]);
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
    let mut inst = Instance::new();
    let trampoline = module.trampoline();
    let entry = module.entry(f);
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
