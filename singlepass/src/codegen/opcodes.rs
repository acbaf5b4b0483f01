//! The operators code generation decodes itself, without wasmparser's general reader
//! (see `decode.rs`): the operators without immediates of the numeric range
//! (`0x45..=0xc4`, the same in every proposal) and LEB128 integers short enough that
//! no encoding of them is malformed. Anything else is left to wasmparser, which then
//! reports the same error at the same offset as it always did.

use wasmparser::Operator;

/// The operator of `byte` when it is one of the numeric range's, which have no
/// immediates (comparisons, arithmetic, conversions, sign extensions).
#[inline(always)]
pub(crate) fn numeric<'a>(byte: u8) -> Option<Operator<'a>> {
    use Operator::*;
    Some(match byte {
        0x45 => I32Eqz,
        0x46 => I32Eq,
        0x47 => I32Ne,
        0x48 => I32LtS,
        0x49 => I32LtU,
        0x4a => I32GtS,
        0x4b => I32GtU,
        0x4c => I32LeS,
        0x4d => I32LeU,
        0x4e => I32GeS,
        0x4f => I32GeU,
        0x50 => I64Eqz,
        0x51 => I64Eq,
        0x52 => I64Ne,
        0x53 => I64LtS,
        0x54 => I64LtU,
        0x55 => I64GtS,
        0x56 => I64GtU,
        0x57 => I64LeS,
        0x58 => I64LeU,
        0x59 => I64GeS,
        0x5a => I64GeU,
        0x5b => F32Eq,
        0x5c => F32Ne,
        0x5d => F32Lt,
        0x5e => F32Gt,
        0x5f => F32Le,
        0x60 => F32Ge,
        0x61 => F64Eq,
        0x62 => F64Ne,
        0x63 => F64Lt,
        0x64 => F64Gt,
        0x65 => F64Le,
        0x66 => F64Ge,
        0x67 => I32Clz,
        0x68 => I32Ctz,
        0x69 => I32Popcnt,
        0x6a => I32Add,
        0x6b => I32Sub,
        0x6c => I32Mul,
        0x6d => I32DivS,
        0x6e => I32DivU,
        0x6f => I32RemS,
        0x70 => I32RemU,
        0x71 => I32And,
        0x72 => I32Or,
        0x73 => I32Xor,
        0x74 => I32Shl,
        0x75 => I32ShrS,
        0x76 => I32ShrU,
        0x77 => I32Rotl,
        0x78 => I32Rotr,
        0x79 => I64Clz,
        0x7a => I64Ctz,
        0x7b => I64Popcnt,
        0x7c => I64Add,
        0x7d => I64Sub,
        0x7e => I64Mul,
        0x7f => I64DivS,
        0x80 => I64DivU,
        0x81 => I64RemS,
        0x82 => I64RemU,
        0x83 => I64And,
        0x84 => I64Or,
        0x85 => I64Xor,
        0x86 => I64Shl,
        0x87 => I64ShrS,
        0x88 => I64ShrU,
        0x89 => I64Rotl,
        0x8a => I64Rotr,
        0x8b => F32Abs,
        0x8c => F32Neg,
        0x8d => F32Ceil,
        0x8e => F32Floor,
        0x8f => F32Trunc,
        0x90 => F32Nearest,
        0x91 => F32Sqrt,
        0x92 => F32Add,
        0x93 => F32Sub,
        0x94 => F32Mul,
        0x95 => F32Div,
        0x96 => F32Min,
        0x97 => F32Max,
        0x98 => F32Copysign,
        0x99 => F64Abs,
        0x9a => F64Neg,
        0x9b => F64Ceil,
        0x9c => F64Floor,
        0x9d => F64Trunc,
        0x9e => F64Nearest,
        0x9f => F64Sqrt,
        0xa0 => F64Add,
        0xa1 => F64Sub,
        0xa2 => F64Mul,
        0xa3 => F64Div,
        0xa4 => F64Min,
        0xa5 => F64Max,
        0xa6 => F64Copysign,
        0xa7 => I32WrapI64,
        0xa8 => I32TruncF32S,
        0xa9 => I32TruncF32U,
        0xaa => I32TruncF64S,
        0xab => I32TruncF64U,
        0xac => I64ExtendI32S,
        0xad => I64ExtendI32U,
        0xae => I64TruncF32S,
        0xaf => I64TruncF32U,
        0xb0 => I64TruncF64S,
        0xb1 => I64TruncF64U,
        0xb2 => F32ConvertI32S,
        0xb3 => F32ConvertI32U,
        0xb4 => F32ConvertI64S,
        0xb5 => F32ConvertI64U,
        0xb6 => F32DemoteF64,
        0xb7 => F64ConvertI32S,
        0xb8 => F64ConvertI32U,
        0xb9 => F64ConvertI64S,
        0xba => F64ConvertI64U,
        0xbb => F64PromoteF32,
        0xbc => I32ReinterpretF32,
        0xbd => I64ReinterpretF64,
        0xbe => F32ReinterpretI32,
        0xbf => F64ReinterpretI64,
        0xc0 => I32Extend8S,
        0xc1 => I32Extend16S,
        0xc2 => I64Extend8S,
        0xc3 => I64Extend16S,
        0xc4 => I64Extend32S,
        _ => return None,
    })
}

/// An unsigned LEB128 of at most four bytes (28 bits: no encoding of that length is
/// too long or too large) at the start of `bytes`, and its length. `None` for longer
/// encodings or a truncated one, which the general reader decodes or rejects.
#[inline(always)]
pub(crate) fn short_u32(bytes: &[u8]) -> Option<(u32, usize)> {
    let mut value = 0u32;
    for (i, &byte) in bytes.iter().take(4).enumerate() {
        value |= u32::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            return Some((value, i + 1));
        }
    }
    None
}

/// A signed LEB128 of at most `max` bytes (`max * 7` bits below the type's width, so
/// no encoding of that length is malformed), sign-extended from its last byte.
#[inline(always)]
pub(crate) fn short_i64(bytes: &[u8], max: usize) -> Option<(i64, usize)> {
    let mut value = 0i64;
    for (i, &byte) in bytes.iter().take(max).enumerate() {
        value |= i64::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            let unused = 64 - 7 * (i as u32 + 1);
            return Some(((value << unused) >> unused, i + 1));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::{numeric, short_i64, short_u32};
    use wasmparser::{BinaryReader, OperatorsReader};

    /// Every byte of the numeric range decodes to wasmparser's operator; no byte
    /// outside it is claimed.
    #[test]
    fn numeric_range_matches_wasmparser() {
        for byte in 0..=u8::MAX {
            let ours = numeric(byte);
            if !(0x45..=0xc4).contains(&byte) {
                assert!(ours.is_none(), "0x{byte:x} claimed");
                continue;
            }
            let code = [byte, 0x0b];
            let mut theirs = OperatorsReader::new(BinaryReader::new(&code, 0));
            assert_eq!(ours, Some(theirs.read().unwrap()), "0x{byte:x}");
        }
    }

    /// The short LEB readers give wasmparser's values for every length they accept,
    /// padded encodings included, and decline the rest.
    #[test]
    fn short_lebs_match_wasmparser() {
        let samples: &[&[u8]] = &[
            &[0x00],
            &[0x7f],
            &[0x3f],
            &[0x40],
            &[0x80, 0x01],
            &[0xff, 0x7f],
            &[0x80, 0x80, 0x00],
            &[0xe5, 0x8e, 0x26],
            &[0xff, 0xff, 0xff, 0x7f],
            &[0x80, 0x80, 0x80, 0x40],
            &[0xff, 0xff, 0xff, 0xff, 0x0f],
            &[0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x7f],
            &[0x80, 0x80],
            &[],
        ];
        for &bytes in samples {
            let reader = || BinaryReader::new(bytes, 0);
            match short_u32(bytes) {
                Some((value, len)) => {
                    let mut r = reader();
                    assert_eq!(r.read_var_u32().unwrap(), value, "{bytes:x?}");
                    assert_eq!(r.current_position(), len);
                }
                None => assert!(bytes.len() > 4 || reader().read_var_u32().is_err()),
            }
            match short_i64(bytes, 4) {
                Some((value, len)) => {
                    let mut r = reader();
                    assert_eq!(i64::from(r.read_var_i32().unwrap()), value, "{bytes:x?}");
                    assert_eq!(r.current_position(), len);
                }
                None => assert!(bytes.len() > 4 || reader().read_var_i32().is_err()),
            }
            match short_i64(bytes, 9) {
                Some((value, len)) => {
                    let mut r = reader();
                    assert_eq!(r.read_var_i64().unwrap(), value, "{bytes:x?}");
                    assert_eq!(r.current_position(), len);
                }
                None => assert!(bytes.len() > 9 || reader().read_var_i64().is_err()),
            }
        }
    }
}
