//! Short LEB128 reads: integers whose encoding is short enough that no encoding of that
//! length is malformed, so reading them needs no error path. Longer or truncated
//! encodings are left to wasmparser, which decodes them or reports its own error.

/// An unsigned LEB128 of at most four bytes (28 bits: no encoding of that length is
/// too long or too large) at the start of `bytes`, and its length. `None` for longer
/// encodings or a truncated one, which wasmparser's reader decodes or rejects.
#[inline(always)]
pub fn short_u32(bytes: &[u8]) -> Option<(u32, usize)> {
    // Most indices fit one byte: no loop for them.
    let &first = bytes.first()?;
    if first & 0x80 == 0 {
        return Some((u32::from(first), 1));
    }
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
pub fn short_i64(bytes: &[u8], max: usize) -> Option<(i64, usize)> {
    // Most constants fit one byte (-64..=63): no loop for them.
    let &first = bytes.first()?;
    if first & 0x80 == 0 && max > 0 {
        return Some(((i64::from(first) << 57) >> 57, 1));
    }
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

/// An unsigned LEB128 read exactly as wasmparser's `read_var_u32` reads it, up to its
/// five bytes, and its length: [`short_u32`] for up to four, else a five-byte encoding
/// whose last byte has no continuation bit and none of the bits above 32 (`< 0x10`).
/// `None` for anything wasmparser rejects (or a truncated encoding), which it then
/// reads itself and reports. Linkers pad relocated indices to five bytes (`call`,
/// `global.get $__stack_pointer`): those would otherwise all take the general reader.
#[inline(always)]
pub fn var_u32(bytes: &[u8]) -> Option<(u32, usize)> {
    if let Some(short) = short_u32(bytes) {
        return Some(short);
    }
    // `short_u32` declined with five bytes present: the first four continue.
    let &[b0, b1, b2, b3, b4, ..] = bytes else {
        return None;
    };
    if b4 >= 0x10 {
        return None;
    }
    let low = |b: u8| u32::from(b & 0x7f);
    let value = low(b0) | low(b1) << 7 | low(b2) << 14 | low(b3) << 21 | u32::from(b4) << 28;
    Some((value, 5))
}

/// A signed LEB128 read exactly as wasmparser's `read_var_i32` reads it, up to its five
/// bytes, and its length: [`short_i64`] for up to four, else a five-byte encoding whose
/// last byte has no continuation bit and whose bits above the 32nd repeat the sign bit.
/// `None` for anything wasmparser rejects (or a truncated encoding). Linkers pad
/// relocated addresses (`i32.const` of a static) to five bytes.
#[inline(always)]
pub fn var_i32(bytes: &[u8]) -> Option<(i32, usize)> {
    if let Some((value, len)) = short_i64(bytes, 4) {
        return Some((value as i32, len));
    }
    let &[b0, b1, b2, b3, b4, ..] = bytes else {
        return None;
    };
    // Bits 3..=6 of the last byte are bit 31 and the three unused bits above it: all
    // equal, or wasmparser says "integer too large" (bit 7: "too long").
    if b4 & 0x80 != 0 || !matches!(b4 & 0x78, 0x00 | 0x78) {
        return None;
    }
    let low = |b: u8| (b & 0x7f) as u32;
    let value = low(b0) | low(b1) << 7 | low(b2) << 14 | low(b3) << 21 | u32::from(b4) << 28;
    Some((value as i32, 5))
}

#[cfg(test)]
mod tests {
    /// The short readers give wasmparser's values for every length they accept, padded
    /// encodings included, and decline only what is longer or malformed.
    #[test]
    fn short_reads_match_wasmparser() {
        use super::{short_i64, short_u32};
        use wasmparser::BinaryReader;
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

    /// `var_u32` and `var_i32` read what wasmparser reads, length included, and decline
    /// exactly what it rejects: every last byte of a five-byte encoding (padded small
    /// values, the largest and the negative ones, set continuation or unused bits), a
    /// truncated one, and every encoding of up to two bytes.
    #[test]
    fn five_byte_reads_match_wasmparser() {
        use super::{var_i32, var_u32};
        use wasmparser::BinaryReader;
        let mut samples: Vec<Vec<u8>> = Vec::new();
        for last in 0..=255u8 {
            for low in [0x80, 0xff, 0x81, 0xc0] {
                samples.push(vec![low, 0x80, 0x80, 0x80, last]);
                samples.push(vec![low, 0xff, 0xff, 0xff, last, 0x0b]);
            }
            samples.push(vec![last]);
            for second in [0x00, 0x01, 0x7f, 0x80] {
                samples.push(vec![last, second]);
            }
        }
        samples.push(vec![0x80, 0x80, 0x80, 0x80]);
        let agree = |got: Option<(i64, usize)>, theirs: wasmparser::Result<i64>, pos, bytes| match (
            got, theirs,
        ) {
            (Some((value, len)), Ok(expected)) => {
                assert_eq!((value, len), (expected, pos), "{bytes:x?}")
            }
            (None, Err(_)) => {}
            (got, theirs) => panic!("{bytes:x?}: ours {got:?}, wasmparser {theirs:?}"),
        };
        for bytes in &samples {
            let mut r = BinaryReader::new(bytes, 0);
            let theirs = r.read_var_u32().map(i64::from);
            let ours = var_u32(bytes).map(|(v, n)| (i64::from(v), n));
            agree(ours, theirs, r.current_position(), bytes);
            let mut r = BinaryReader::new(bytes, 0);
            let theirs = r.read_var_i32().map(i64::from);
            let ours = var_i32(bytes).map(|(v, n)| (i64::from(v), n));
            agree(ours, theirs, r.current_position(), bytes);
        }
    }
}
