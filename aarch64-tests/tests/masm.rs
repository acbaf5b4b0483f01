//! Execution tests of the AArch64 MacroAssembler, run in Unicorn: code built through the
//! trait only, run through the real entry trampoline on an emulated stack, against Rust's
//! own wrapping arithmetic, and float operations against `float_reference` (wasm
//! semantics, canonical NaNs). One for one with the x86-64 backend's `isa/x64/tests.rs`
//! and `isa/x64/float_tests.rs`.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;

use gasket_aarch64_tests::{call_in, Machine, CODE, MEMORY, MEMORY_BYTES, VMCTX, XREGS};
use gasket_singlepass::isa_testing::{float_reference as reference, A64Masm};
use gasket_singlepass::masm::{
    Address, AluOp, Base, BitOp, Cond, DivOp, ExtendOp, FloatBinOp, FloatCmp, FloatSize, FloatUnOp,
    IntFloat, Label, LibcallArg, LoadKind, MacroAssembler, Operand, Reg, ShiftOp, Size, StoreCheck,
    StoreWidth, TruncMode,
};
use gasket_singlepass::written::{self, WrittenRanges};
use gasket_singlepass::{Libcall, TrapKind, VmCtx, STACK_GRANT_UNITS};
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

/// Incoming slot `i` of a test function.
fn slot(i: i32) -> i32 {
    16 + 8 * i
}

/// Builds a module of test functions with the shared trap stubs and the trampoline.
struct Builder {
    masm: A64Masm,
    traps: BTreeMap<u32, Label>,
    dynamic_trap: Label,
    stack_grant: Label,
    dirty_range: Label,
    funcs: Vec<Label>,
    offsets: Vec<u32>,
}

impl Builder {
    fn new() -> Builder {
        let mut masm = A64Masm::new();
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

    fn trap(&self, kind: TrapKind) -> Label {
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
    /// (a multiple of 16) below them; the body addresses its frame via `fp`.
    fn define(&mut self, index: usize, extra: u32, body: impl FnOnce(&mut A64Masm, &Builder)) {
        let label = self.funcs[index];
        self.offsets[index] = self.masm.offset();
        self.masm.bind(label);
        let patch = self.masm.prologue(2);
        let mut masm = std::mem::replace(&mut self.masm, A64Masm::new());
        body(&mut masm, self);
        self.masm = masm;
        self.masm.epilogue(2);
        self.masm.emit_slow_paths();
        self.masm.patch_frame(patch, 16 + extra);
    }

    fn func(&mut self, body: impl FnOnce(&mut A64Masm, &Builder)) -> usize {
        self.func_with_frame(0, body)
    }

    fn func_with_frame(&mut self, extra: u32, body: impl FnOnce(&mut A64Masm, &Builder)) -> usize {
        let index = self.declare();
        self.define(index, extra, body);
        index
    }

    fn build(mut self) -> Module {
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
        let code = self.masm.finish().expect("finish").into_vec();
        Module {
            code,
            trampoline,
            offsets: self.offsets,
        }
    }
}

/// Finished test code and where things are in it.
struct Module {
    code: Vec<u8>,
    trampoline: u32,
    offsets: Vec<u32>,
}

impl Module {
    /// Emulated address of function `func`.
    fn entry(&self, func: usize) -> u64 {
        CODE + u64::from(self.offsets[func])
    }

    fn instance(&self) -> Instance {
        Instance {
            m: Machine::new(&self.code, self.trampoline),
            offsets: self.offsets.clone(),
        }
    }
}

/// A test instance: an emulated machine with the module loaded.
struct Instance {
    m: Machine,
    offsets: Vec<u32>,
}

impl Instance {
    fn call(&mut self, func: usize, args: &[u64]) -> (u32, [u64; 8]) {
        let (code, slots) = self.m.call(self.offsets[func], args);
        assert_eq!(
            self.m.misaligned_calls(),
            0,
            "libcall with sp not 16-aligned"
        );
        (code, slots)
    }

    fn run(&mut self, func: usize, args: &[u64]) -> u64 {
        let (code, slots) = self.call(func, args);
        assert_eq!(code, 0, "unexpected trap {:?}", TrapKind::from_code(code));
        slots[0]
    }

    fn gas(&self) -> u64 {
        self.m.get(VmCtx::GAS_REMAINING)
    }
    fn set_gas(&mut self, gas: u64) {
        self.m.set(VmCtx::GAS_REMAINING, gas)
    }
    fn set_stack(&mut self, units: u64) {
        self.m.set(VmCtx::STACK_LIMIT, units)
    }
    fn reserve(&self) -> u64 {
        self.m.get(VmCtx::STACK_RESERVE)
    }
    fn set_reserve(&mut self, units: u64) {
        self.m.set(VmCtx::STACK_RESERVE, units)
    }
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
    emit: &dyn Fn(&mut A64Masm, Reg, Reg, Operand),
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
    let mut inst = module.instance();
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
                let got = inst.run(f, &[x, y]);
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
    fn emit(op: DivOp, size: Size) -> impl Fn(&mut A64Masm, Reg, Reg, Operand) {
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
fn check_unary(name: &str, emit: &dyn Fn(&mut A64Masm, Reg, Reg), expect: &dyn Fn(u64) -> u64) {
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
    let mut inst = module.instance();
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
            let got = inst.run(f, &[x]);
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
    let mut inst = module.instance();
    for (&f, &(size, imm, want)) in funcs.iter().zip(&cases) {
        assert_eq!(inst.run(f, &[]), want, "mov {size:?} {imm:#x}");
    }
    assert_eq!(inst.run(frame32, &[0xdead_beef_1234_5678]), 0x1234_5678);
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
    let mut inst = module.instance();
    for &(cond, size, rhs_kind, f) in &funcs {
        for &x in &VALUES {
            for &y in &VALUES {
                let y = if rhs_kind == 2 { 0x8000_0000 } else { y };
                let want = holds(cond, size, x, y);
                let (code, s) = inst.call(f, &[x, y]);
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
    let mut inst = module.instance();
    assert_eq!(inst.run(f, &[0x1234_5678_9abc_deef]), 1);
    assert_eq!(inst.run(f, &[0x1234_5678_9abc_def0]), 0);
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
    let mut inst = module.instance();
    let bytes: Vec<u8> = (0..MEMORY_BYTES as usize)
        .map(|i| (i as u8).wrapping_mul(37).wrapping_add(0x81))
        .collect();
    inst.m.write_memory(0, &bytes);
    for &(kind, disp, f) in &funcs {
        for addr in [0u64, 1, 5, 0x7f, 1000, MEMORY_BYTES - 0x1000 - 8] {
            let at = (addr as i64 + disp) as usize;
            let want = expected_load(kind, &bytes[at..]);
            assert_eq!(inst.run(f, &[addr]), want, "{kind:?} at {addr}+{disp}");
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
    let mut inst = module.instance();
    let table: Vec<u64> = (0..64u64).map(|i| i * 0x0101_0101 + 3).collect();
    let table_bytes: Vec<u8> = table.iter().flat_map(|v| v.to_le_bytes()).collect();
    inst.m.write_memory(0x800, &table_bytes);
    for &(scale, f) in &scaled {
        for idx in [0u64, 1, 3] {
            let got = inst.run(f, &[MEMORY + 0x800, idx]);
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
    inst.m
        .write_memory(16, &0x1122_3344_5566_7788u64.to_le_bytes());
    let biased = (MEMORY + 16).wrapping_sub(WIDE as u64);
    let (code, s) = inst.call(wide_load, &[biased]);
    assert_eq!(code, 0);
    assert_eq!(s[0], 0x1122_3344_5566_7788);
    assert_eq!(s[1], MEMORY + 16);
    assert_eq!(inst.m.read_memory(24, 1)[0], 0x55);
    let (code, s) = inst.call(bases, &[]);
    assert_eq!(code, 0);
    assert_eq!(s[0], MEMORY_BYTES);
    assert_eq!(s[1], MEMORY + 5);
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
    let mut inst = module.instance();
    for &(width, src_kind, f) in &funcs {
        inst.m.write_memory(0, &[0x5a; 64]);
        inst.run(f, &[10, value]);
        let v = if src_kind == 3 { (-3i64) as u64 } else { value };
        let n = width.bytes() as usize;
        let mut want = [0x5au8; 64];
        want[12..12 + n].copy_from_slice(&v.to_le_bytes()[..n]);
        assert_eq!(
            &inst.m.read_memory(0, 64)[..],
            &want[..],
            "{width:?} src#{src_kind}"
        );
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
    let mut inst = module.instance();
    let len = MEMORY_BYTES;
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
            let (code, s) = inst.call(f, &[addr]);
            if addr + end <= len {
                assert_eq!((code, s[0]), (0, 7), "addr {addr:#x} end {end:#x}");
            } else {
                assert_eq!(
                    code,
                    TrapKind::MemoryOutOfBounds.code(),
                    "addr {addr:#x} end {end:#x}"
                );
                assert_eq!(inst.m.trap_code(), code);
            }
        }
    }
}

#[test]
fn gas_charges_down_to_zero_and_traps_one_below() {
    let mut b = Builder::new();
    let imm = |amount: u64| {
        move |m: &mut A64Masm, b: &Builder| {
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
    let mut inst = module.instance();
    let cases: [(usize, u64, &[u64]); 4] = [
        (small, 10, &[]),
        (wide, 1 << 40, &[]),
        (max, u64::MAX, &[]),
        (reg, 12345, &[12345]),
    ];
    for (f, amount, args) in cases {
        inst.set_gas(amount);
        let (code, _) = inst.call(f, args);
        assert_eq!((code, inst.gas()), (0, 0), "exactly {amount}");
        if let Some(more) = amount.checked_add(3) {
            inst.set_gas(more);
            assert_eq!(inst.call(f, args).0, 0);
            assert_eq!(inst.gas(), 3);
        }
        if amount > 0 {
            inst.set_gas(amount - 1);
            let (code, _) = inst.call(f, args);
            assert_eq!(code, TrapKind::OutOfGas.code(), "one below {amount}");
            assert_eq!(inst.gas(), 0);
            assert_eq!(inst.m.trap_code(), TrapKind::OutOfGas.code());
        }
    }
    inst.set_gas(100);
    assert_eq!(inst.run(flush, &[]), 95);
    assert_eq!(inst.gas(), 1000);
}

/// A function of `units` stack units: a frame of exactly 32 bytes per unit (the builder's
/// prologue saves two registers below the saved fp and lr), checked by `stack_enter`;
/// with `callee`, it calls that function after the check.
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
    let mut inst = module.instance();
    // Fits: no grant.
    inst.set_stack(5);
    inst.set_reserve(0);
    assert_eq!(inst.call(f, &[]).0, 0);
    assert_eq!(inst.reserve(), 0);
    inst.set_stack(4);
    assert_eq!(inst.call(f, &[]).0, TrapKind::StackOverflow.code());
    // Short by 3: the grant covers them and STACK_GRANT_UNITS more.
    inst.set_stack(2);
    inst.set_reserve(300);
    assert_eq!(inst.call(f, &[]).0, 0);
    let grant = STACK_GRANT_UNITS;
    assert_eq!(inst.reserve(), 300 - grant - 3);
    // The reserve covers exactly the deficit; one unit less overflows.
    inst.set_stack(1);
    inst.set_reserve(4);
    assert_eq!(inst.call(f, &[]).0, 0);
    assert_eq!(inst.reserve(), 0);
    inst.set_stack(1);
    inst.set_reserve(3);
    assert_eq!(inst.call(f, &[]).0, TrapKind::StackOverflow.code());
    // Nested: the callee's check counts the caller's frame (3 + 5 units).
    inst.set_stack(8);
    inst.set_reserve(0);
    assert_eq!(inst.call(g, &[]).0, 0);
    inst.set_stack(7);
    assert_eq!(inst.call(g, &[]).0, TrapKind::StackOverflow.code());
    inst.set_stack(2);
    assert_eq!(inst.call(g, &[]).0, TrapKind::StackOverflow.code());
    inst.set_stack(7);
    inst.set_reserve(1);
    assert_eq!(inst.call(g, &[]).0, 0);
    assert_eq!(inst.reserve(), 0);
    // A grant in the caller, then the callee fits in what it left.
    inst.set_stack(2);
    inst.set_reserve(200);
    assert_eq!(inst.call(g, &[]).0, 0);
    assert_eq!(inst.reserve(), 200 - grant - 1);
    // More units than the stack has addresses: the trampoline saturates the limit at 0.
    inst.set_stack(u64::MAX);
    inst.set_reserve(0);
    assert_eq!(inst.call(g, &[]).0, 0);
}

#[test]
fn store_check_widens_the_written_ranges_charges_or_traps() {
    let mut b = Builder::new();
    // f(addr): x10 holds a value across the check, which must survive the stub call.
    // (from, end): the stored bytes past the address; loads: the end of loads sharing
    // the check (`load_window`), 0 for none.
    let shapes = [
        (0u64, 8u64, 0u64, false),
        (0, 1, 0, false),
        (4996, 5004, 0, false),
        (70_000, 70_008, 0, false),
        (0, (1 << 32) + 8, 0, false),
        (1 << 32, (1 << 32) + 8, 0, false),
        (24, 32, 40, false),
        (32, 40, 16, false),
        (4996, 5004, 70_008, false),
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
    let funcs: Vec<_> = shapes
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
                    Address::at(Base::Frame, slot(0).into()),
                    Operand::Reg(Reg(RDI)),
                );
            })
        })
        .collect();
    let module = b.build();
    let mut inst = module.instance();
    // Only the check and the stub read the length; the store goes to the frame.
    let memory_len = 4 << 20;
    inst.m.set(VmCtx::MEMORY_LEN, memory_len);
    let price = 30_011u32;
    inst.m.set(VmCtx::WRITE_PRICE, price.into());
    let (states, addrs) = written::check_cases(memory_len);
    let read = |inst: &Instance| {
        let mut w = WrittenRanges {
            start: inst.m.get(VmCtx::WRITTEN_START),
            len: inst.m.get(VmCtx::WRITTEN_LEN),
            spilled_count: inst.m.get(VmCtx::WRITTEN_SPILLED_COUNT),
            ..WrittenRanges::EMPTY
        };
        for (i, slot) in w.spilled.iter_mut().enumerate() {
            let at = VmCtx::WRITTEN_SPILLED + 16 * i as u32;
            *slot = [inst.m.get(at), inst.m.get(at + 8)];
        }
        w
    };
    let mut checked = 0;
    for before in &states {
        for (&(from, end, loads_end, aligned), &func) in shapes.iter().zip(&funcs) {
            let alignment = end.max(loads_end).next_power_of_two();
            let effect = |addr, gas| {
                written::check_effect_after_loads(
                    before, addr, from, end, loads_end, memory_len, price, gas,
                )
            };
            let fits =
                |a: u64| a <= u64::from(u32::MAX) && (!aligned || a.is_multiple_of(alignment));
            for &addr in addrs.iter().filter(|&&a| fits(a)) {
                // With plenty of gas, then (when it costs) exactly the charge and one less.
                let plenty = effect(addr, u64::MAX);
                let charge = plenty.map_or(0, |(_, left)| u64::MAX - left);
                let mut gases = vec![u64::MAX];
                if charge > 0 {
                    gases.extend([charge, charge - 1]);
                }
                for gas in gases {
                    inst.m.set(VmCtx::WRITTEN_START, before.start);
                    inst.m.set(VmCtx::WRITTEN_LEN, before.len);
                    inst.m
                        .set(VmCtx::WRITTEN_SPILLED_COUNT, before.spilled_count);
                    for (i, &[start, end]) in before.spilled.iter().enumerate() {
                        let at = VmCtx::WRITTEN_SPILLED + 16 * i as u32;
                        inst.m.set(at, start);
                        inst.m.set(at + 8, end);
                    }
                    inst.m.set(VmCtx::GAS_REMAINING, gas);
                    inst.m.set(VmCtx::WRITE_GAS, 5);
                    let (code, slots) = inst.call(func, &[addr]);
                    let case = format!(
                        "{before:?} addr {addr} from {from} end {end} loads {loads_end} gas {gas}"
                    );
                    match effect(addr, gas) {
                        Ok((after, left)) => {
                            assert_eq!(code, 0, "{case}");
                            assert_eq!(slots[0], 0x5eed, "{case}: x10 survives");
                            assert_eq!(read(&inst), after, "{case}");
                            assert_eq!(inst.m.get(VmCtx::GAS_REMAINING), left, "{case}");
                            assert_eq!(inst.m.get(VmCtx::WRITE_GAS), 5 + (gas - left), "{case}");
                        }
                        Err(kind) => {
                            assert_eq!(code, kind.code(), "{case}");
                            assert_eq!(read(&inst), *before, "{case}: unchanged by a trap");
                            assert_eq!(inst.m.get(VmCtx::WRITE_GAS), 5, "{case}");
                            if kind == TrapKind::OutOfGas {
                                assert_eq!(inst.m.get(VmCtx::GAS_REMAINING), 0, "{case}");
                            }
                        }
                    }
                    checked += 1;
                }
            }
        }
    }
    assert!(checked > 600, "{checked} cases");
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
    let mut inst = module.instance();
    let (code, s) = inst.call(caller, &[6, 7]);
    assert_eq!(code, 0);
    assert_eq!(&s[..4], &[13, 42, 0x1111, 0x2222]);
    let f = module.entry(callee);
    assert_eq!(inst.run(indirect, &[f, 14]), 42);
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
        m.store(
            StoreWidth::B64,
            Address::at(Base::Frame, slot(0) as i64),
            Operand::Imm(99),
        );
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
        assert_eq!(inst.m.trap_code(), kind.code());
        assert_eq!(inst.gas(), 1234);
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
    let mut inst = module.instance();
    for (kind, f) in funcs {
        inst.set_gas(50);
        let (code, _) = inst.call(f, &[]);
        assert_eq!(code, kind.code());
        assert_eq!(inst.m.trap_code(), kind.code());
        let gas = if kind == TrapKind::OutOfGas { 0 } else { 50 };
        assert_eq!(inst.gas(), gas, "{kind:?}");
        assert_eq!(inst.m.get(VmCtx::SAVED_SP), 0);
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
    let mut inst = module.instance();
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
            assert_eq!(inst.run(f, &[idx]), want, "n={n} index {idx}");
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
    let mut inst = module.instance();
    for (count, f) in funcs {
        let (code, s) = inst.call(f, &[]);
        assert_eq!((code, s[0], s[1]), (0, 0, u64::MAX), "count {count}");
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
    let mut inst = module.instance();
    // A libcall that re-enters the trampoline (same vmctx, another stack) running a
    // function that traps, and returns the inner trap code.
    let (trampoline, entry) = (inst.m.trampoline, module.entry(inner));
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
        m.store(
            StoreWidth::B64,
            Address::at(Base::Frame, slot(0) as i64),
            Operand::Imm(100),
        );
        m.jump(end);
        for _ in 0..FILLER {
            m.mov(Size::S64, Reg(RDI), Operand::Reg(Reg(RSI)));
        }
        m.bind(far);
        m.store(
            StoreWidth::B64,
            Address::at(Base::Frame, slot(0) as i64),
            Operand::Imm(200),
        );
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

const FLOAT_SIZES: [FloatSize; 2] = [FloatSize::F32, FloatSize::F64];

/// (dst, lhs, rhs): distinct, dst == lhs, dst == rhs, local registers, all one register.
const FLOAT_SHAPES: [(u8, u8, u8); 5] = [
    (R8, RSI, RDI),
    (RSI, RSI, RDI),
    (RDI, RSI, RDI),
    (RBX, R12, R10),
    (R9, R9, R9),
];

/// The shared inputs of `size`, plus NaNs with a sign and a payload in both quiet and
/// signalling forms, and more ties for `nearest`.
fn float_inputs(size: FloatSize) -> Vec<u64> {
    let mut inputs = reference::inputs(size);
    match size {
        FloatSize::F32 => {
            inputs.extend([0xffc0_0001, 0x7f80_0001, 0x7fc0_1234]);
            inputs
                .extend([3.5f32, -1.5, 0.499_999_97, 8_388_607.5].map(|v| u64::from(v.to_bits())));
        }
        FloatSize::F64 => {
            inputs.extend([
                0xfff8_0000_0000_0001,
                0x7ff0_0000_0000_0001,
                0x7ff8_0000_1234_0000,
            ]);
            inputs.extend(
                [
                    3.5f64,
                    -1.5,
                    0.499_999_999_999_999_94,
                    4_503_599_627_370_495.5,
                ]
                .map(f64::to_bits),
            );
        }
    }
    inputs
}

/// Builds one function per shape: lhs from slot 0, rhs from slot 1, garbage in a distinct
/// dst, `emit`, dst to slot 0.
fn build_float(emit: &dyn Fn(&mut A64Masm, &Builder, Reg, Reg, Reg)) -> (Module, Vec<usize>) {
    let mut b = Builder::new();
    let funcs = FLOAT_SHAPES
        .iter()
        .map(|&(d, l, r)| {
            b.func(|m, b| {
                m.mov(Size::S64, Reg(l), Operand::Frame(slot(0)));
                if r != l {
                    m.mov(Size::S64, Reg(r), Operand::Frame(slot(1)));
                }
                if d != l && d != r {
                    m.mov(Size::S64, Reg(d), Operand::Imm(-1));
                }
                emit(m, b, Reg(d), Reg(l), Reg(r));
                m.store(
                    StoreWidth::B64,
                    Address::at(Base::Frame, slot(0) as i64),
                    Operand::Reg(Reg(d)),
                );
            })
        })
        .collect();
    (b.build(), funcs)
}

/// The result of a call: slot 0, or the trap.
fn outcome(code: u32, slots: [u64; 8]) -> Result<u64, TrapKind> {
    if code == 0 {
        Ok(slots[0])
    } else {
        Err(TrapKind::from_code(code).expect("a trap code"))
    }
}

/// Runs every shape of `emit` on every pair of `inputs` (x, x for the one-register shape)
/// and compares slot 0 or the trap with `expect`.
fn check_pairs(
    what: &str,
    inputs: &[u64],
    emit: &dyn Fn(&mut A64Masm, &Builder, Reg, Reg, Reg),
    expect: &dyn Fn(u64, u64) -> Result<u64, TrapKind>,
) {
    let (module, funcs) = build_float(emit);
    let mut inst = module.instance();
    for (shape, &f) in FLOAT_SHAPES.iter().zip(&funcs) {
        for &x in inputs {
            for &y in inputs {
                let y = if shape.1 == shape.2 { x } else { y };
                let (code, slots) = inst.call(f, &[x, y]);
                let want = expect(x, y);
                assert_eq!(
                    outcome(code, slots),
                    want,
                    "{what} {shape:?}: f({x:#x}, {y:#x})"
                );
            }
        }
    }
}

/// Like `check_pairs` for a one-input operation (the rhs register is unused).
fn check_each(
    what: &str,
    inputs: &[u64],
    emit: &dyn Fn(&mut A64Masm, &Builder, Reg, Reg),
    expect: &dyn Fn(u64) -> Result<u64, TrapKind>,
) {
    let (module, funcs) = build_float(&|m, b, d, l, _| emit(m, b, d, l));
    let mut inst = module.instance();
    for (shape, &f) in FLOAT_SHAPES.iter().zip(&funcs) {
        for &x in inputs {
            let (code, slots) = inst.call(f, &[x, x]);
            assert_eq!(
                outcome(code, slots),
                expect(x),
                "{what} {shape:?}: f({x:#x})"
            );
        }
    }
}

const FLOAT_BINOPS: [FloatBinOp; 6] = [
    FloatBinOp::Add,
    FloatBinOp::Sub,
    FloatBinOp::Mul,
    FloatBinOp::Div,
    FloatBinOp::Min,
    FloatBinOp::Max,
];

#[test]
fn float_binops_match_wasm_semantics_with_canonical_nans() {
    for size in FLOAT_SIZES {
        for op in FLOAT_BINOPS {
            check_pairs(
                &format!("{op:?} {size:?}"),
                &float_inputs(size),
                &|m, _, d, l, r| m.float_binop(op, size, d, l, r, true),
                &|x, y| Ok(reference::binop(op, size, x, y)),
            );
        }
    }
}

/// FPCR.DN makes every NaN result canonical even when codegen does not ask for it (the
/// opposite of x86-64, whose test of the same name finds non-canonical NaNs).
#[test]
fn float_binops_without_canonicalization_are_canonical_anyway() {
    for size in FLOAT_SIZES {
        for op in FLOAT_BINOPS {
            check_pairs(
                &format!("{op:?} {size:?} (canonicalize: false)"),
                &float_inputs(size),
                &|m, _, d, l, r| m.float_binop(op, size, d, l, r, false),
                &|x, y| Ok(reference::binop(op, size, x, y)),
            );
        }
    }
}

#[test]
fn float_unops_match_wasm_semantics_with_canonical_nans() {
    for size in FLOAT_SIZES {
        for op in [
            FloatUnOp::Sqrt,
            FloatUnOp::Ceil,
            FloatUnOp::Floor,
            FloatUnOp::Trunc,
            FloatUnOp::Nearest,
        ] {
            for canonicalize in [true, false] {
                check_each(
                    &format!("{op:?} {size:?} canonicalize {canonicalize}"),
                    &float_inputs(size),
                    &|m, _, d, l| m.float_unop(op, size, d, l, canonicalize),
                    &|x| Ok(reference::unop(op, size, x)),
                );
            }
        }
    }
}

#[test]
fn float_comparisons_are_false_on_nan_except_ne() {
    for size in FLOAT_SIZES {
        for op in [
            FloatCmp::Eq,
            FloatCmp::Ne,
            FloatCmp::Lt,
            FloatCmp::Gt,
            FloatCmp::Le,
            FloatCmp::Ge,
        ] {
            check_pairs(
                &format!("{op:?} {size:?}"),
                &float_inputs(size),
                &|m, _, d, l, r| m.float_cmp(op, size, d, l, r),
                &|x, y| Ok(reference::cmp(op, size, x, y)),
            );
        }
    }
}

#[test]
fn promote_and_demote_round_and_canonicalize() {
    for (to, from) in [
        (FloatSize::F64, FloatSize::F32),
        (FloatSize::F32, FloatSize::F64),
    ] {
        for canonicalize in [true, false] {
            check_each(
                &format!("resize to {to:?} canonicalize {canonicalize}"),
                &float_inputs(from),
                &|m, _, d, l| m.float_resize(to, d, l, canonicalize),
                &|x| Ok(reference::resize(to, x)),
            );
        }
    }
}

#[test]
fn integer_to_float_rounds_to_nearest_even() {
    for conv in reference::conversions() {
        check_each(
            &format!("{conv:?}"),
            &reference::int_inputs(),
            &|m, _, d, l| {
                // The integer as codegen holds it: an i32 zero-extended.
                if conv.int == Size::S32 {
                    m.mov(Size::S32, l, Operand::Reg(l));
                }
                m.int_to_float(conv, d, l)
            },
            &|x| Ok(reference::int_to_float(conv, x)),
        );
    }
}

/// The float inputs of a conversion, plus every truncation bound and its neighbours.
fn truncation_inputs(conv: IntFloat) -> Vec<u64> {
    let mut inputs = float_inputs(conv.float);
    let range = conv.trunc_range();
    for bound in [range.lower, range.upper] {
        inputs.extend([bound - 1, bound, bound + 1]);
    }
    inputs
}

#[test]
fn trapping_truncation_traps_exactly_outside_the_range() {
    for conv in reference::conversions() {
        check_each(
            &format!("trunc {conv:?}"),
            &truncation_inputs(conv),
            &|m, b, d, l| {
                let mode = TruncMode::Trap {
                    nan: b.trap(TrapKind::InvalidConversionToInteger),
                    overflow: b.trap(TrapKind::ConversionOverflow),
                };
                m.float_to_int(conv, d, l, mode)
            },
            &|x| reference::trunc(conv, x),
        );
    }
}

#[test]
fn saturating_truncation_clamps_and_maps_nan_to_zero() {
    for conv in reference::conversions() {
        check_each(
            &format!("trunc_sat {conv:?}"),
            &truncation_inputs(conv),
            &|m, _, d, l| m.float_to_int(conv, d, l, TruncMode::Saturate),
            &|x| Ok(reference::trunc_sat(conv, x)),
        );
    }
}

/// 32-bit inputs (f32 bits, i32 values) are read from the low half only, whatever the
/// upper half holds (the `S`/`W` forms), and 32-bit results are zero-extended.
#[test]
fn float_operations_read_only_the_low_half_of_32_bit_inputs() {
    const GARBAGE: u64 = 0xdead_beef_0000_0000;
    let f32s = float_inputs(FloatSize::F32);
    let (s32, f32) = (Size::S32, FloatSize::F32);
    let conv = |int, float, signed| IntFloat { int, float, signed };
    check_pairs(
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
            check_each(
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
            check_each(
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
        m.store(
            StoreWidth::B64,
            Address::at(Base::Frame, slot(0) as i64),
            Operand::Reg(Reg(RSI)),
        );
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
        m.store(
            StoreWidth::B64,
            Address::at(Base::Frame, slot(0) as i64),
            Operand::Reg(Reg(RSI)),
        );
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
        m.store(
            StoreWidth::B64,
            Address::at(Base::Frame, slot(0) as i64),
            Operand::Reg(Reg(RSI)),
        );
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
        m.store(
            StoreWidth::B64,
            Address::at(Base::Frame, slot(1) as i64),
            Operand::Reg(Reg(RSI)),
        );
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
        m.store(
            StoreWidth::B64,
            Address::at(Base::Frame, slot(1) as i64),
            Operand::Reg(Reg(RSI)),
        );
        m.flush_gas();
        let ret = m.call_libcall(Libcall::HostCall, &[LibcallArg::Reg(Reg(RBX))]);
        m.reload_gas();
        m.store(
            StoreWidth::B64,
            Address::at(Base::Frame, slot(0) as i64),
            Operand::Reg(ret),
        );
        m.float_binop(
            FloatBinOp::Div,
            FloatSize::F64,
            Reg(RSI),
            Reg(RBX),
            Reg(R12),
            true,
        );
        m.store(
            StoreWidth::B64,
            Address::at(Base::Frame, slot(2) as i64),
            Operand::Reg(Reg(RSI)),
        );
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
    let (trampoline, entry) = (inst.m.trampoline, module.entry(inner));
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
            m.store(
                StoreWidth::B64,
                Address::at(Base::Frame, slot(0) as i64),
                Operand::Reg(Reg(9)),
            );
        }),
        ("float_move_clobbering_flags", |m, size, canonicalize| {
            m.float_move_clobbering_flags(size, FReg(25), FReg(18), canonicalize);
            m.float_to_bits(size, Reg(9), FReg(25), false);
            m.store(
                StoreWidth::B64,
                Address::at(Base::Frame, slot(0) as i64),
                Operand::Reg(Reg(9)),
            );
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
