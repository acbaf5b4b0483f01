//! WebAssembly float semantics in plain Rust, with canonical NaNs: the reference the
//! backends' execution tests compare every float operation of the masm against, on a
//! shared table of inputs that sit on every edge (zeros, infinities, subnormals, the
//! truncation bounds, quiet, signalling and negative NaNs).
//!
//! Values are bit patterns (`u64`, an f32 in the low 32 bits), as the masm holds them.
//! Every NaN a reference operation returns is [`FloatSize::canonical_nan`].

use crate::masm::{FloatBinOp, FloatCmp, FloatSize, FloatUnOp, IntFloat, Size};
use crate::TrapKind;

/// 2^n.
fn two(n: i32) -> f64 {
    2f64.powi(n)
}

/// f32 inputs (bit patterns).
pub fn f32_inputs() -> Vec<u64> {
    let values = [
        0.0f32,
        -0.0,
        1.0,
        -1.0,
        0.5,
        -0.5,
        1.5,
        2.5,
        -2.5,
        0.9,
        -0.9,
        3.75,
        1e10,
        -1e10,
        f32::MAX,
        f32::MIN,
        f32::MIN_POSITIVE,
        1e-45, // the smallest subnormal
        -1e-40,
        f32::INFINITY,
        f32::NEG_INFINITY,
        2147483520.0, // the largest f32 below 2^31
        2147483648.0, // 2^31
        -2147483648.0,
        -2147483904.0,              // the next f32 below -2^31
        4294967040.0,               // the largest f32 below 2^32
        4294967296.0,               // 2^32
        (two(63) - two(39)) as f32, // the largest f32 below 2^63 (all exact)
        two(63) as f32,
        -two(63) as f32,
        (-two(63) - two(40)) as f32, // the next f32 below -2^63
        two(64) as f32,
        (two(64) - two(40)) as f32, // the largest f32 below 2^64
        16777217.0,                 // rounds to 2^24
    ];
    let mut bits: Vec<u64> = values.iter().map(|v| u64::from(v.to_bits())).collect();
    bits.extend([
        0x7fc0_0000, // the canonical NaN
        0xffc0_0000, // x86's default NaN
        0x7fa0_0000, // signalling
        0xff80_0001, // negative, signalling, payload 1
        0x7fff_ffff, // quiet, every payload bit
    ]);
    bits
}

/// f64 inputs (bit patterns).
pub fn f64_inputs() -> Vec<u64> {
    let values = [
        0.0f64,
        -0.0,
        1.0,
        -1.0,
        0.5,
        -0.5,
        1.5,
        2.5,
        -2.5,
        0.9,
        -0.9,
        -0.999_999_999_999_999_9,
        3.75,
        1e300,
        -1e300,
        f64::MAX,
        f64::MIN,
        f64::MIN_POSITIVE,
        5e-324, // the smallest subnormal
        -1e-310,
        f64::INFINITY,
        f64::NEG_INFINITY,
        2147483647.0,
        2147483647.9,
        2147483648.0,
        -2147483648.0,
        -2147483648.9,
        -2147483649.0,
        4294967295.0,
        4294967295.5,
        4294967296.0,
        two(63) - two(10), // the largest f64 below 2^63
        two(63),
        -two(63),
        -two(63) - two(11), // the next f64 below -2^63
        two(64),
        two(64) - two(11),     // the largest f64 below 2^64
        9007199254740993.0,    // rounds to 2^53
        3.4028235677973366e38, // f32::MAX rounded up: demotes to infinity
        1.401298464324817e-45, // the smallest f32 subnormal
        1e-50,                 // demotes to 0
    ];
    let mut bits: Vec<u64> = values.iter().map(|v| v.to_bits()).collect();
    bits.extend([
        0x7ff8_0000_0000_0000, // the canonical NaN
        0xfff8_0000_0000_0000, // x86's default NaN
        0x7ff4_0000_0000_0000, // signalling
        0xfff0_0000_0000_0001, // negative, signalling, payload 1
        0x7fff_ffff_ffff_ffff, // quiet, every payload bit
    ]);
    bits
}

/// Inputs of size `size`.
pub fn inputs(size: FloatSize) -> Vec<u64> {
    match size {
        FloatSize::F32 => f32_inputs(),
        FloatSize::F64 => f64_inputs(),
    }
}

/// Integer inputs for conversions to float: signs, powers of two and the values next to
/// them, and the patterns whose rounding needs a sticky bit.
pub fn int_inputs() -> Vec<u64> {
    let mut v: Vec<u64> = vec![
        0,
        1,
        2,
        3,
        0x7f,
        0x7fff_ffff,
        0x8000_0000,
        0x8000_0001,
        0xffff_ffff,
        0x1_0000_0000,
        0x0100_0001,           // 2^24 + 1
        0x0020_0000_0000_0001, // 2^53 + 1
        0x7fff_ffff_ffff_ffff,
        0x8000_0000_0000_0000,
        0x8000_0000_0000_0001,
        0x8000_0080_0000_0001, // halving must keep the sticky bit
        0x8000_0000_0000_0400,
        0x8000_0000_0000_0401,
        0xffff_ffff_ffff_ffff,
        0xffff_ff7f_ffff_ffff,
        0x1234_5678_9abc_def0,
    ];
    let negated: Vec<u64> = v.iter().map(|x| x.wrapping_neg()).collect();
    v.extend(negated);
    v
}

/// An f32 or f64 as an `f64` (exact for f32).
fn value(size: FloatSize, bits: u64) -> f64 {
    match size {
        FloatSize::F32 => f64::from(f32::from_bits(bits as u32)),
        FloatSize::F64 => f64::from_bits(bits),
    }
}

/// The bits of a result of size `size`, canonical when a NaN.
fn canonical(size: FloatSize, result: f64) -> u64 {
    if result.is_nan() {
        return size.canonical_nan();
    }
    size.bits_of(result)
}

/// `a op b` with wasm semantics.
pub fn binop(op: FloatBinOp, size: FloatSize, a: u64, b: u64) -> u64 {
    // f32 arithmetic in f64 then rounded once is exact for +, -, *, / and sqrt (f64 has
    // more than twice f32's precision), so one f64 implementation serves both sizes.
    let (x, y) = (value(size, a), value(size, b));
    let r = match op {
        FloatBinOp::Add => x + y,
        FloatBinOp::Sub => x - y,
        FloatBinOp::Mul => x * y,
        FloatBinOp::Div => x / y,
        FloatBinOp::Min | FloatBinOp::Max if x.is_nan() || y.is_nan() => f64::NAN,
        FloatBinOp::Min if x == y => f64::from_bits(x.to_bits() | y.to_bits()),
        FloatBinOp::Max if x == y => f64::from_bits(x.to_bits() & y.to_bits()),
        FloatBinOp::Min => x.min(y),
        FloatBinOp::Max => x.max(y),
    };
    match (size, op) {
        (FloatSize::F64, _) | (_, FloatBinOp::Min | FloatBinOp::Max) => canonical(size, r),
        // The single rounding to f32 happens here.
        (FloatSize::F32, _) => canonical(size, f64::from(r as f32)),
    }
}

/// `op a` with wasm semantics.
pub fn unop(op: FloatUnOp, size: FloatSize, a: u64) -> u64 {
    let x = value(size, a);
    let r = match op {
        FloatUnOp::Sqrt => x.sqrt(),
        FloatUnOp::Ceil => x.ceil(),
        FloatUnOp::Floor => x.floor(),
        FloatUnOp::Trunc => x.trunc(),
        FloatUnOp::Nearest => x.round_ties_even(),
    };
    canonical(size, r)
}

/// `a op b` as 0 or 1.
pub fn cmp(op: FloatCmp, size: FloatSize, a: u64, b: u64) -> u64 {
    let (x, y) = (value(size, a), value(size, b));
    u64::from(match op {
        FloatCmp::Eq => x == y,
        FloatCmp::Ne => x != y,
        FloatCmp::Lt => x < y,
        FloatCmp::Gt => x > y,
        FloatCmp::Le => x <= y,
        FloatCmp::Ge => x >= y,
    })
}

/// `f64.promote_f32` (`to` = F64) or `f32.demote_f64` (`to` = F32) of `a`.
pub fn resize(to: FloatSize, a: u64) -> u64 {
    match to {
        FloatSize::F64 => canonical(to, value(FloatSize::F32, a)),
        FloatSize::F32 => canonical(to, f64::from(value(FloatSize::F64, a) as f32)),
    }
}

/// The integer `a` (of `conv.int`, the low 32 bits for S32) converted to `conv.float`.
pub fn int_to_float(conv: IntFloat, a: u64) -> u64 {
    let f = conv.float;
    match (conv.int, conv.signed, f) {
        (Size::S32, true, FloatSize::F32) => u64::from((a as i32 as f32).to_bits()),
        (Size::S32, false, FloatSize::F32) => u64::from((a as u32 as f32).to_bits()),
        (Size::S64, true, FloatSize::F32) => u64::from((a as i64 as f32).to_bits()),
        (Size::S64, false, FloatSize::F32) => u64::from((a as f32).to_bits()),
        (Size::S32, true, FloatSize::F64) => (a as i32 as f64).to_bits(),
        (Size::S32, false, FloatSize::F64) => (a as u32 as f64).to_bits(),
        (Size::S64, true, FloatSize::F64) => (a as i64 as f64).to_bits(),
        (Size::S64, false, FloatSize::F64) => (a as f64).to_bits(),
    }
}

/// The trapping truncation of `a` (an i32 result zero-extended).
pub fn trunc(conv: IntFloat, a: u64) -> Result<u64, TrapKind> {
    let x = value(conv.float, a);
    if x.is_nan() {
        return Err(TrapKind::InvalidConversionToInteger);
    }
    let t = x.trunc();
    let fits = match (conv.int, conv.signed) {
        (Size::S32, true) => (-2147483648.0..2147483648.0).contains(&t),
        (Size::S32, false) => (0.0..4294967296.0).contains(&t),
        (Size::S64, true) => (-two(63)..two(63)).contains(&t),
        (Size::S64, false) => (0.0..two(64)).contains(&t),
    };
    if fits {
        Ok(trunc_sat(conv, a))
    } else {
        Err(TrapKind::ConversionOverflow)
    }
}

/// The saturating truncation of `a` (Rust's `as` casts saturate exactly as wasm's
/// `trunc_sat` does; an i32 result zero-extended).
pub fn trunc_sat(conv: IntFloat, a: u64) -> u64 {
    let x = value(conv.float, a);
    match (conv.int, conv.signed) {
        (Size::S32, true) => u64::from(x as i32 as u32),
        (Size::S32, false) => u64::from(x as u32),
        (Size::S64, true) => x as i64 as u64,
        (Size::S64, false) => x as u64,
    }
}

/// Every (integer, float, signedness) combination.
pub fn conversions() -> Vec<IntFloat> {
    let mut all = Vec::new();
    for int in [Size::S32, Size::S64] {
        for float in [FloatSize::F32, FloatSize::F64] {
            for signed in [true, false] {
                all.push(IntFloat { int, float, signed });
            }
        }
    }
    all
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reference_agrees_with_native_f32_arithmetic() {
        // The f64-then-round shortcut must equal f32 arithmetic on every input pair.
        for &a in &f32_inputs() {
            for &b in &f32_inputs() {
                let (x, y) = (f32::from_bits(a as u32), f32::from_bits(b as u32));
                for (op, native) in [
                    (FloatBinOp::Add, x + y),
                    (FloatBinOp::Sub, x - y),
                    (FloatBinOp::Mul, x * y),
                    (FloatBinOp::Div, x / y),
                ] {
                    let want = if native.is_nan() {
                        FloatSize::F32.canonical_nan()
                    } else {
                        u64::from(native.to_bits())
                    };
                    assert_eq!(binop(op, FloatSize::F32, a, b), want, "{op:?} {x} {y}");
                }
            }
        }
    }

    #[test]
    fn min_max_order_zeros_and_propagate_nans() {
        let (pz, nz) = (0f64.to_bits(), (-0f64).to_bits());
        let s = FloatSize::F64;
        assert_eq!(binop(FloatBinOp::Min, s, pz, nz), nz);
        assert_eq!(binop(FloatBinOp::Min, s, nz, pz), nz);
        assert_eq!(binop(FloatBinOp::Max, s, nz, pz), pz);
        assert_eq!(binop(FloatBinOp::Max, s, pz, nz), pz);
        let one = 1f64.to_bits();
        assert_eq!(
            binop(FloatBinOp::Max, s, one, 0x7ff4_0000_0000_0000),
            s.canonical_nan()
        );
    }

    #[test]
    fn truncation_bounds() {
        let c = |int, float, signed| IntFloat { int, float, signed };
        let i32s = c(Size::S32, FloatSize::F64, true);
        assert_eq!(trunc(i32s, (-2147483648.9f64).to_bits()), Ok(0x8000_0000));
        assert_eq!(
            trunc(i32s, (-2147483649f64).to_bits()),
            Err(TrapKind::ConversionOverflow)
        );
        let u64f = c(Size::S64, FloatSize::F32, false);
        assert_eq!(trunc(u64f, u64::from((-0.9f32).to_bits())), Ok(0));
        assert_eq!(
            trunc(u64f, u64::from(1.8446744e19f32.to_bits())),
            Err(TrapKind::ConversionOverflow)
        );
        assert_eq!(
            trunc(u64f, 0x7fc0_0000),
            Err(TrapKind::InvalidConversionToInteger)
        );
    }
}
