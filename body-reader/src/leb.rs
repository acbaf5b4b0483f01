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
}
