//! Float operations against `float_reference` (wasm semantics, canonical NaNs): every
//! operation on every input (every pair, for two-input operations) in every register
//! shape, with canonicalization asked for. What a backend does without it differs by
//! design (x86-64 keeps the CPU's NaNs, AArch64's default-NaN mode makes them canonical
//! anyway) and is tested by each backend.

use super::*;
use crate::float_reference as reference;
use crate::masm::{
    FloatBinOp, FloatCmp, FloatSize, FloatUnOp, IntFloat, MacroAssembler, Operand, Reg, Size,
    TruncMode,
};
use crate::TrapKind;

/// Both float sizes.
pub const FLOAT_SIZES: [FloatSize; 2] = [FloatSize::F32, FloatSize::F64];

/// Emits a float operation on integer registers holding the bits: (masm, builder, dst,
/// lhs, rhs).
pub type EmitFloat<'a, H> = dyn Fn(&mut <H as Harness>::Masm, &Builder<H>, Reg, Reg, Reg) + 'a;

/// Emits a one-input float operation: (masm, builder, dst, src).
pub type EmitFloatUnary<'a, H> = dyn Fn(&mut <H as Harness>::Masm, &Builder<H>, Reg, Reg) + 'a;

/// The shared inputs of `size`, plus NaNs with a sign and a payload in both quiet and
/// signalling forms, and more ties for `nearest`.
pub fn float_inputs(size: FloatSize) -> Vec<u64> {
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
pub fn build_float<H: Harness>(emit: &EmitFloat<'_, H>) -> (Module<H>, Vec<usize>) {
    let mut b = Builder::<H>::new();
    let funcs = reg_shapes::<H>()
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
                store_slot(m, 0, Operand::Reg(Reg(d)));
            })
        })
        .collect();
    (b.build(), funcs)
}

/// The result of a call: slot 0, or the trap.
pub fn outcome(code: u32, slots: [u64; 8]) -> Result<u64, TrapKind> {
    if code == 0 {
        Ok(slots[0])
    } else {
        Err(TrapKind::from_code(code).expect("a trap code"))
    }
}

/// Runs every shape of `emit` on every pair of `inputs` (x, x for the one-register shape)
/// and compares slot 0 or the trap with `expect`.
pub fn check_pairs<H: Harness>(
    what: &str,
    inputs: &[u64],
    emit: &EmitFloat<'_, H>,
    expect: &dyn Fn(u64, u64) -> Result<u64, TrapKind>,
) {
    let (module, funcs) = build_float::<H>(emit);
    let mut inst = module.instance();
    for (shape, &f) in reg_shapes::<H>().iter().zip(&funcs) {
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
pub fn check_each<H: Harness>(
    what: &str,
    inputs: &[u64],
    emit: &EmitFloatUnary<'_, H>,
    expect: &dyn Fn(u64) -> Result<u64, TrapKind>,
) {
    let (module, funcs) = build_float::<H>(&|m, b, d, l, _| emit(m, b, d, l));
    let mut inst = module.instance();
    for (shape, &f) in reg_shapes::<H>().iter().zip(&funcs) {
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

pub const FLOAT_BINOPS: [FloatBinOp; 6] = [
    FloatBinOp::Add,
    FloatBinOp::Sub,
    FloatBinOp::Mul,
    FloatBinOp::Div,
    FloatBinOp::Min,
    FloatBinOp::Max,
];

pub fn float_binops_match_wasm_semantics_with_canonical_nans<H: Harness>() {
    for size in FLOAT_SIZES {
        for op in FLOAT_BINOPS {
            check_pairs::<H>(
                &format!("{op:?} {size:?}"),
                &float_inputs(size),
                &|m, _, d, l, r| m.float_binop(op, size, d, l, r, true),
                &|x, y| Ok(reference::binop(op, size, x, y)),
            );
        }
    }
}

pub fn float_unops_match_wasm_semantics_with_canonical_nans<H: Harness>() {
    check_unops::<H>(true);
}

/// Every one-input operation of both sizes against the reference, with or without
/// canonicalization (AArch64 tests the latter: its default-NaN mode makes it canonical).
pub fn check_unops<H: Harness>(canonicalize: bool) {
    for size in FLOAT_SIZES {
        for op in [
            FloatUnOp::Sqrt,
            FloatUnOp::Ceil,
            FloatUnOp::Floor,
            FloatUnOp::Trunc,
            FloatUnOp::Nearest,
        ] {
            check_each::<H>(
                &format!("{op:?} {size:?} (canonicalize: {canonicalize})"),
                &float_inputs(size),
                &|m, _, d, l| m.float_unop(op, size, d, l, canonicalize),
                &|x| Ok(reference::unop(op, size, x)),
            );
        }
    }
}

pub fn float_comparisons_are_false_on_nan_except_ne<H: Harness>() {
    for size in FLOAT_SIZES {
        for op in [
            FloatCmp::Eq,
            FloatCmp::Ne,
            FloatCmp::Lt,
            FloatCmp::Gt,
            FloatCmp::Le,
            FloatCmp::Ge,
        ] {
            check_pairs::<H>(
                &format!("{op:?} {size:?}"),
                &float_inputs(size),
                &|m, _, d, l, r| m.float_cmp(op, size, d, l, r),
                &|x, y| Ok(reference::cmp(op, size, x, y)),
            );
        }
    }
}

pub fn promote_and_demote_round_and_canonicalize<H: Harness>() {
    check_resizes::<H>(true);
}

/// Promotion and demotion against the reference, with or without canonicalization.
pub fn check_resizes<H: Harness>(canonicalize: bool) {
    for (to, from) in [
        (FloatSize::F64, FloatSize::F32),
        (FloatSize::F32, FloatSize::F64),
    ] {
        check_each::<H>(
            &format!("resize to {to:?} (canonicalize: {canonicalize})"),
            &float_inputs(from),
            &|m, _, d, l| m.float_resize(to, d, l, canonicalize),
            &|x| Ok(reference::resize(to, x)),
        );
    }
}

pub fn integer_to_float_rounds_to_nearest_even<H: Harness>() {
    for conv in reference::conversions() {
        check_each::<H>(
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

pub fn trapping_truncation_traps_exactly_outside_the_range<H: Harness>() {
    for conv in reference::conversions() {
        check_each::<H>(
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

pub fn saturating_truncation_clamps_and_maps_nan_to_zero<H: Harness>() {
    for conv in reference::conversions() {
        check_each::<H>(
            &format!("trunc_sat {conv:?}"),
            &truncation_inputs(conv),
            &|m, _, d, l| m.float_to_int(conv, d, l, TruncMode::Saturate),
            &|x| Ok(reference::trunc_sat(conv, x)),
        );
    }
}
