//! The macro assemblers' execution tests, written once against `MacroAssembler` and run
//! on each backend by its own harness: x86-64 natively (`isa/x64/tests.rs`), AArch64 in
//! the Unicorn emulator (`aarch64-tests/tests/masm.rs`). The cases build small functions
//! through the trait only, call them through the real entry trampoline and compare with
//! Rust's own arithmetic, so both ISAs are held to the same cases; `masm_suite_tests!`
//! turns every case into a `#[test]` for a harness. What only one backend has (its
//! libcall hooks, re-entrant calls, float modes, NaNs without canonicalization) stays in
//! that backend's tests.
//!
//! The cases name registers by role: `T0`..`T4` are the first five allocatable
//! temporaries (x86-64 rsi, rdi, r8, r9, r10; AArch64 x9..x13), `L0`, `L1` the first two
//! local registers (rbx, r12; x19, x20).

mod arith;
mod budget;
mod control;
mod float;
mod memory;

pub use arith::*;
pub use budget::*;
pub use control::*;
pub use float::*;
pub use memory::*;

use std::collections::BTreeMap;
use std::marker::PhantomData;

use crate::masm::{Address, Base, Label, MacroAssembler, Operand, Reg, Size, StoreWidth};
use crate::written::WrittenRanges;
use crate::{TrapKind, VmCtx};

/// Turns every case of the suite into a `#[test]` that runs it on harness `$h`, in the
/// module where it is invoked: `gasket_singlepass::masm_suite_tests!(MyHarness);`.
#[macro_export]
macro_rules! masm_suite_tests {
    ($h:ty) => {
        $crate::masm_suite_tests!(@cases $h;
            alu_ops_match_wrapping_arithmetic,
            shifts_and_rotates_mask_the_count,
            division_matches_wasm_semantics,
            remainder_by_reciprocal_matches_rust,
            bit_counts_match_rust,
            extends_match_rust_casts,
            mov_forms_zero_extend_and_materialise_immediates,
            cmp_branch_set_cond_and_cmov_for_every_condition,
            cmp_with_wide_immediate,
            loads_from_linear_memory_every_kind,
            addressing_modes_scales_wide_displacements_and_other_bases,
            stores_every_width_and_source,
            bounds_check_at_the_memory_edge,
            store_check_widens_the_written_ranges_charges_or_traps,
            gas_charges_down_to_zero_and_traps_one_below,
            stack_budget_enter_grant_and_overflow,
            wasm_calls_pass_params_and_results_and_keep_local_registers,
            jump_tables_of_0_3_and_10000_targets,
            zero_frame_small_and_large,
            every_static_trap_stub_returns_its_code,
            float_binops_match_wasm_semantics_with_canonical_nans,
            float_unops_match_wasm_semantics_with_canonical_nans,
            float_comparisons_are_false_on_nan_except_ne,
            promote_and_demote_round_and_canonicalize,
            integer_to_float_rounds_to_nearest_even,
            trapping_truncation_traps_exactly_outside_the_range,
            saturating_truncation_clamps_and_maps_nan_to_zero
        );
    };
    (@cases $h:ty; $($case:ident),* $(,)?) => {
        $(
            #[test]
            fn $case() {
                $crate::masm_suite::$case::<$h>();
            }
        )*
    };
}

/// Bytes of linear memory a test instance has (`memory_len`).
pub const MEMORY_BYTES: usize = 64 * 1024;

/// Incoming slot `i` of a test function.
pub fn slot(i: i32) -> i32 {
    16 + 8 * i
}

/// Stores `value` (64 bits) to incoming slot `i`: how a test function returns results.
pub fn store_slot<M: MacroAssembler>(m: &mut M, i: i32, value: Operand) {
    m.store(
        StoreWidth::B64,
        Address::at(Base::Frame, slot(i) as i64),
        value,
    );
}

/// A backend under test: its macro assembler, the registers the cases use, and how its
/// code runs.
pub trait Harness {
    type Masm: MacroAssembler;
    type Instance: TestInstance;
    /// The allocatable temporaries the cases use, in the backend's `allocatable()` order.
    const T0: u8;
    const T1: u8;
    const T2: u8;
    const T3: u8;
    const T4: u8;
    /// The first two local registers (`local_regs()`).
    const L0: u8;
    const L1: u8;

    fn masm() -> Self::Masm;
    /// Loads finished code (the entry trampoline at `trampoline`, function `i` at
    /// `offsets[i]`) into a fresh instance: unlimited gas and stack budget, `MEMORY_BYTES`
    /// of zeroed memory.
    fn instance(code: &[u8], trampoline: u32, offsets: &[u32]) -> Self::Instance;
}

/// A loaded test module with its vmctx and linear memory.
pub trait TestInstance {
    /// Calls function `func` with `args` in its incoming slots; the trampoline's code
    /// (0, or the trap code) and the eight slots after the call.
    fn call(&mut self, func: usize, args: &[u64]) -> (u32, [u64; 8]);
    /// The address a call instruction reaches function `func` at (for indirect calls).
    fn entry(&self, func: usize) -> u64;
    /// The address of linear memory's first byte, as the generated code sees it.
    fn memory_address(&self) -> u64;
    fn write_memory(&mut self, offset: usize, bytes: &[u8]);
    fn read_memory(&self, offset: usize, len: usize) -> Vec<u8>;
    /// The 64-bit vmctx field at `offset` (one of `VmCtx`'s offset constants).
    fn get(&self, offset: u32) -> u64;
    fn set(&mut self, offset: u32, value: u64);
    fn trap_code(&self) -> u32;

    fn gas(&self) -> u64 {
        self.get(VmCtx::GAS_REMAINING)
    }

    fn set_gas(&mut self, gas: u64) {
        self.set(VmCtx::GAS_REMAINING, gas)
    }

    /// Calls and expects a normal return; slot 0.
    fn run(&mut self, func: usize, args: &[u64]) -> u64 {
        let (code, slots) = self.call(func, args);
        assert_eq!(code, 0, "unexpected trap {:?}", TrapKind::from_code(code));
        slots[0]
    }

    /// The written ranges in the vmctx.
    fn written(&self) -> WrittenRanges {
        let mut w = WrittenRanges {
            start: self.get(VmCtx::WRITTEN_START),
            len: self.get(VmCtx::WRITTEN_LEN),
            spilled_count: self.get(VmCtx::WRITTEN_SPILLED_COUNT),
            ..WrittenRanges::EMPTY
        };
        for (i, range) in w.spilled.iter_mut().enumerate() {
            let at = VmCtx::WRITTEN_SPILLED + 16 * i as u32;
            *range = [self.get(at), self.get(at + 8)];
        }
        w
    }

    fn set_written(&mut self, w: &WrittenRanges) {
        self.set(VmCtx::WRITTEN_START, w.start);
        self.set(VmCtx::WRITTEN_LEN, w.len);
        self.set(VmCtx::WRITTEN_SPILLED_COUNT, w.spilled_count);
        for (i, &[start, end]) in w.spilled.iter().enumerate() {
            let at = VmCtx::WRITTEN_SPILLED + 16 * i as u32;
            self.set(at, start);
            self.set(at + 8, end);
        }
    }
}

/// Builds a module of test functions with the shared trap stubs and the trampoline.
pub struct Builder<H: Harness> {
    masm: H::Masm,
    traps: BTreeMap<u32, Label>,
    pub dynamic_trap: Label,
    pub stack_grant: Label,
    pub dirty_range: Label,
    pub funcs: Vec<Label>,
    offsets: Vec<u32>,
}

impl<H: Harness> Builder<H> {
    pub fn new() -> Self {
        let mut masm = H::masm();
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

    pub fn trap(&self, kind: TrapKind) -> Label {
        self.traps[&kind.code()]
    }

    /// Reserves a label for a function defined later (for calls).
    pub fn declare(&mut self) -> usize {
        let label = self.masm.new_label();
        self.funcs.push(label);
        self.offsets.push(u32::MAX);
        self.funcs.len() - 1
    }

    /// Defines function `index` with both local registers saved and `extra` frame bytes
    /// (a multiple of 16) below them; the body addresses its frame through the frame
    /// pointer. The masm is moved out while the body runs so the body can borrow the
    /// builder's labels too.
    pub fn define(&mut self, index: usize, extra: u32, body: impl FnOnce(&mut H::Masm, &Self)) {
        let label = self.funcs[index];
        self.offsets[index] = self.masm.offset();
        self.masm.bind(label);
        let patch = self.masm.prologue(2);
        let mut masm = std::mem::replace(&mut self.masm, H::masm());
        body(&mut masm, self);
        self.masm = masm;
        self.masm.epilogue(2);
        self.masm.emit_slow_paths();
        self.masm.patch_frame(patch, 16 + extra);
    }

    pub fn func(&mut self, body: impl FnOnce(&mut H::Masm, &Self)) -> usize {
        self.func_with_frame(0, body)
    }

    pub fn func_with_frame(&mut self, extra: u32, body: impl FnOnce(&mut H::Masm, &Self)) -> usize {
        let index = self.declare();
        self.define(index, extra, body);
        index
    }

    /// Emits the trap stubs, the stack-grant and dirty-range stubs and the trampoline.
    pub fn build(mut self) -> Module<H> {
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
            harness: PhantomData,
        }
    }
}

impl<H: Harness> Default for Builder<H> {
    fn default() -> Self {
        Self::new()
    }
}

/// Finished test code and where things are in it.
pub struct Module<H: Harness> {
    pub code: Vec<u8>,
    pub trampoline: u32,
    pub offsets: Vec<u32>,
    harness: PhantomData<H>,
}

impl<H: Harness> Module<H> {
    pub fn instance(&self) -> H::Instance {
        H::instance(&self.code, self.trampoline, &self.offsets)
    }
}

pub(super) const VALUES: [u64; 22] = [
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

pub(super) fn width_mask(size: Size) -> u64 {
    match size {
        Size::S32 => u32::MAX as u64,
        Size::S64 => u64::MAX,
    }
}

/// Emits a binary operation: (masm, dst, lhs, rhs).
pub(super) type EmitBinary<'a, H> = dyn Fn(&mut <H as Harness>::Masm, Reg, Reg, Operand) + 'a;

/// How a binary operation's operands sit in registers (dst, lhs, rhs).
#[derive(Copy, Clone, Debug)]
enum Shape {
    Regs(u8, u8, u8),
    Imm(u64),
    Frame,
}

pub fn reg_shapes<H: Harness>() -> [(u8, u8, u8); 5] {
    [
        (H::T2, H::T0, H::T1), // all distinct
        (H::T0, H::T0, H::T1), // dst == lhs
        (H::T1, H::T0, H::T1), // dst == rhs
        (H::L0, H::L1, H::T4), // local registers
        (H::T3, H::T3, H::T3), // all the same
    ]
}

/// Check `emit(dst, lhs, rhs)` against `expect(a, b)` (on the raw 64-bit inputs; S32
/// operations must ignore the upper input bits and zero the upper result bits) for every
/// shape and every pair of `VALUES` accepted by `valid`.
pub(super) fn check_binary<H: Harness>(
    size: Size,
    emit: &EmitBinary<'_, H>,
    expect: &dyn Fn(u64, u64) -> u64,
    valid: &dyn Fn(u64, u64) -> bool,
) {
    let mut b = Builder::<H>::new();
    let mut funcs = Vec::new();
    let mut shapes: Vec<Shape> = reg_shapes::<H>()
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
                    m.mov(Size::S64, Reg(H::T0), Operand::Frame(slot(0)));
                    (Reg(H::T2), Reg(H::T0), Operand::Frame(slot(1)))
                }
                Shape::Imm(v) => {
                    m.mov(Size::S64, Reg(H::T0), Operand::Frame(slot(0)));
                    (Reg(H::T1), Reg(H::T0), Operand::Imm(v as i64))
                }
            };
            // Garbage in the destination must not leak into the result.
            if Operand::Reg(dst) != rhs && dst != lhs {
                m.mov(Size::S64, dst, Operand::Imm(-1));
            }
            emit(m, dst, lhs, rhs);
            store_slot(m, 0, Operand::Reg(dst));
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
pub(super) type Op64 = fn(u64, u64) -> u64;
pub(super) type Op32 = fn(u32, u32) -> u32;
pub(super) type Unary = fn(u64) -> u64;

pub(super) fn always(_: u64, _: u64) -> bool {
    true
}

/// Check a unary `emit(dst, src)` with dst != src and dst == src (on x86-64 including
/// sil/dil and r12, for the byte and REX forms).
pub(super) fn check_unary<H: Harness>(
    name: &str,
    emit: &dyn Fn(&mut H::Masm, Reg, Reg),
    expect: &dyn Fn(u64) -> u64,
) {
    let shapes = [
        (H::T2, H::T0),
        (H::T0, H::T0),
        (H::T1, H::T1),
        (H::L0, H::T1),
        (H::L1, H::L1),
        (H::T4, H::T3),
    ];
    let mut b = Builder::<H>::new();
    let funcs: Vec<usize> = shapes
        .iter()
        .map(|&(d, s)| {
            b.func(|m, _| {
                m.mov(Size::S64, Reg(s), Operand::Frame(slot(0)));
                if d != s {
                    m.mov(Size::S64, Reg(d), Operand::Imm(-1));
                }
                emit(m, Reg(d), Reg(s));
                store_slot(m, 0, Operand::Reg(Reg(d)));
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
