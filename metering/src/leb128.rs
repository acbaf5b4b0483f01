//! Minimal unsigned LEB128, the form wasm-encoder writes: for size prefixes written in
//! place and for telling whether the input's own encodings are already minimal (then
//! they can be copied instead of re-encoded).

/// How many bytes `value`'s minimal unsigned LEB128 takes.
pub(crate) fn len(value: u64) -> usize {
    let bits = u64::BITS - value.leading_zeros();
    (bits.max(1) as usize).div_ceil(7)
}

/// Writes `value` as minimal unsigned LEB128 at the start of `buf`; returns its length.
pub(crate) fn write(mut value: u64, buf: &mut [u8; 10]) -> usize {
    let mut len = 0;
    loop {
        let byte = (value & 0x7f) as u8;
        value >>= 7;
        if value == 0 {
            buf[len] = byte;
            return len + 1;
        }
        buf[len] = byte | 0x80;
        len += 1;
    }
}

#[cfg(test)]
mod tests {
    use wasm_encoder::Encode;

    #[test]
    fn minimal_as_wasm_encoder_writes_it() {
        let values = [
            0,
            1,
            127,
            128,
            16_383,
            16_384,
            1 << 21,
            1 << 28,
            u64::from(u32::MAX),
        ];
        for value in values {
            let mut expected = Vec::new();
            value.encode(&mut expected);
            let mut buf = [0u8; 10];
            let len = super::write(value, &mut buf);
            assert_eq!(buf[..len], expected[..], "{value}");
            assert_eq!(super::len(value), expected.len(), "{value}");
        }
        let mut buf = [0u8; 10];
        assert_eq!(super::write(u64::MAX, &mut buf), 10);
        assert_eq!(super::len(u64::MAX), 10);
    }
}
