//! The x86-64 float tests beyond the shared ones (`masm_suite::float`): NaNs without
//! canonicalization (the CPU's payloads survive, which canonicalization exists to remove),
//! the moves float locals live by, and the trampoline's MXCSR switch and restore.

use super::regs::{RDI, RSI};
use super::tests::{slot, store_slot, Builder, NativeX64};
use super::X64Masm;
use crate::float_reference as reference;
use crate::masm::{Address, Base, FloatBinOp, FloatSize, MacroAssembler, Operand, Reg, Size};
use crate::masm_suite::{build_float, TestInstance, FLOAT_SIZES};
use crate::TrapKind;

/// Without canonicalization every non-NaN result is the same; a NaN result is still a
/// NaN (with whatever payload the CPU gives).
#[test]
fn binops_without_canonicalization_differ_only_in_nan_bits() {
    for size in FLOAT_SIZES {
        let (module, funcs) = build_float::<NativeX64>(&|m, _, d, l, r| {
            m.float_binop(FloatBinOp::Div, size, d, l, r, false)
        });
        let mut inst = module.instance();
        let inputs = reference::inputs(size);
        let mut other_nans = 0;
        for &x in &inputs {
            for &y in &inputs {
                let got = inst.run(funcs[0], &[x, y]);
                let want = reference::binop(FloatBinOp::Div, size, x, y);
                if want == size.canonical_nan() {
                    let exponent = size.canonical_nan() & !(size.canonical_nan() >> 1);
                    assert_eq!(
                        got & exponent | size.sign_mask(),
                        size.sign_mask() | exponent
                    );
                    other_nans += usize::from(got != want);
                } else {
                    assert_eq!(got, want);
                }
            }
        }
        // x86 produces negative and payload-carrying NaNs: what canonicalization removes.
        assert!(other_nans > 0, "{size:?}: every NaN was canonical anyway");
    }
}

fn read_mxcsr() -> u32 {
    let mut value = 0u32;
    // SAFETY: `stmxcsr` only stores the 4-byte MXCSR to the given, valid location.
    unsafe {
        std::arch::asm!("stmxcsr [{}]", in(reg) &mut value, options(nostack));
    }
    value
}

fn write_mxcsr(value: u32) {
    // SAFETY: loads a valid MXCSR (reserved bits zero) from a valid location; the tests
    // restore the default before doing any float work of their own.
    unsafe {
        std::arch::asm!("ldmxcsr [{}]", in(reg) &value, options(nostack));
    }
}

/// Whatever mode the host left the float unit in (round toward zero, flush-to-zero,
/// denormals-are-zero, a sticky flag), wasm code computes in the deterministic mode, and
/// the host gets its own mode back after a return and after a trap.
#[test]
fn trampoline_runs_wasm_in_the_deterministic_mode_and_restores_the_hosts() {
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
            true,
        );
        store_slot(m, 0, Operand::Reg(Reg(RSI)));
    });
    let trap = b.func(|m, b| m.jump(b.trap(TrapKind::Unreachable)));
    let module = b.build();
    let mut inst = module.instance();
    // Round toward zero (bits 13-14 = 11), FZ (bit 15), DAZ (bit 6), the inexact flag.
    let hostile = 0x1f80 | 0x6000 | 0x8000 | 0x40 | 0x20;
    let cases = [
        (1f64, 3f64),
        (f64::MIN_POSITIVE, 4.0), // a subnormal result (FZ would flush it)
        (5e-324, 0.5),            // a subnormal input (DAZ would zero it)
        (2.0, 3.0),
    ];
    for (x, y) in cases {
        let (a, b) = (x.to_bits(), y.to_bits());
        write_mxcsr(hostile);
        let got = inst.call(div, &[a, b]);
        let after = read_mxcsr();
        write_mxcsr(0x1f80);
        assert_eq!(got.0, 0);
        assert_eq!(
            got.1[0],
            reference::binop(FloatBinOp::Div, FloatSize::F64, a, b)
        );
        assert_eq!(after, hostile, "host MXCSR after a return");
    }
    write_mxcsr(hostile);
    let (code, _) = inst.call(trap, &[]);
    let after = read_mxcsr();
    write_mxcsr(0x1f80);
    assert_eq!(code, TrapKind::Unreachable.code());
    assert_eq!(after, hostile, "host MXCSR after a trap");
}

/// Whether `bits` are a NaN of `size`.
fn is_nan(size: FloatSize, bits: u64) -> bool {
    match size {
        FloatSize::F32 => f32::from_bits(bits as u32).is_nan(),
        FloatSize::F64 => f64::from_bits(bits).is_nan(),
    }
}

/// The moves float locals live by (`float_move`, its flag-clobbering form, `fp_store`):
/// bits unchanged, NaN payloads included, or every NaN canonical when asked.
#[test]
fn float_moves_and_stores_keep_bits_or_canonicalize_nans() {
    use crate::masm::FReg;
    type Emit = fn(&mut X64Masm, FloatSize, bool);
    let forms: [(&str, Emit); 3] = [
        ("float_move", |m, size, canonicalize| {
            m.float_move(size, FReg(3), FReg(2), canonicalize);
            m.float_to_bits(size, Reg(RSI), FReg(3), false);
            store_slot(m, 0, Operand::Reg(Reg(RSI)));
        }),
        ("float_move_clobbering_flags", |m, size, canonicalize| {
            m.float_move_clobbering_flags(size, FReg(9), FReg(2), canonicalize);
            m.float_to_bits(size, Reg(RSI), FReg(9), false);
            store_slot(m, 0, Operand::Reg(Reg(RSI)));
        }),
        ("fp_store", |m, size, canonicalize| {
            m.fp_store(
                size,
                Address::at(Base::Frame, slot(0) as i64),
                FReg(2),
                canonicalize,
            );
        }),
    ];
    for size in FLOAT_SIZES {
        let mut inputs = reference::inputs(size);
        inputs.extend(match size {
            FloatSize::F32 => [0x7fa0_0005, 0xffc0_0001],
            FloatSize::F64 => [0x7ff4_0000_0000_0123, 0xfff8_0000_0000_0abc],
        });
        assert!(inputs
            .iter()
            .any(|&x| is_nan(size, x) && x != size.canonical_nan()));
        for (name, emit) in forms {
            for canonicalize in [false, true] {
                let mut b = Builder::new();
                let f = b.func(|m, _| {
                    m.float_from_bits(size, FReg(2), Operand::Frame(slot(0)));
                    emit(m, size, canonicalize);
                });
                let module = b.build();
                let mut inst = module.instance();
                for &x in &inputs {
                    let want = if canonicalize && is_nan(size, x) {
                        size.canonical_nan()
                    } else {
                        x
                    };
                    let got = inst.run(f, &[x]);
                    assert_eq!(
                        got, want,
                        "{name} {size:?} canonicalize={canonicalize}: {x:#x}"
                    );
                }
            }
        }
    }
}
