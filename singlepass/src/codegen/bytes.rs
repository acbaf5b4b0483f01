//! A cursor over a function body's operator bytes for the compiler's bounded
//! lookahead scans (`regalloc::scan_local_uses`, `load_window`): they run before or
//! beside the validating reader, so every read gives up (`None`) at the end of input or
//! on an encoding valid wasm never has, and a scan stops where it cannot read.

/// A cursor over operator bytes that gives up (returns `None`) at the end of input. Its
/// reads are `#[inline]`: they sit in `scan_local_uses`'s per-operator loop.
pub(super) struct Bytes<'a> {
    pub code: &'a [u8],
    pub at: usize,
}

impl Bytes<'_> {
    #[inline]
    pub fn byte(&mut self) -> Option<u8> {
        let b = *self.code.get(self.at)?;
        self.at += 1;
        Some(b)
    }

    /// An unsigned LEB128 up to 32 bits (longer encodings are invalid wasm: give up).
    #[inline]
    pub fn u32(&mut self) -> Option<u32> {
        let mut value = 0u32;
        for shift in (0..35).step_by(7) {
            let b = self.byte()?;
            value |= u32::from(b & 0x7f).checked_shl(shift)?;
            if b & 0x80 == 0 {
                return Some(value);
            }
        }
        None
    }

    /// Skips one LEB128 of any length (signed constants, 64-bit offsets).
    #[inline]
    pub fn skip_leb(&mut self) -> Option<()> {
        while self.byte()? & 0x80 != 0 {}
        Some(())
    }

    #[inline]
    pub fn skip(&mut self, n: usize) -> Option<()> {
        self.at = self
            .at
            .checked_add(n)
            .filter(|&end| end <= self.code.len())?;
        Some(())
    }

    /// A block type: empty, one value type (one byte in wasm 2.0) or a type index.
    #[inline]
    pub fn skip_block_type(&mut self) -> Option<()> {
        match *self.code.get(self.at)? {
            0x40 | 0x7f | 0x7e | 0x7d | 0x7c | 0x7b | 0x70 | 0x6f => self.skip(1),
            // Typed references (`ref`, `ref null` + heap type): beyond wasm 2.0.
            0x63 | 0x64 => None,
            _ => self.skip_leb(),
        }
    }

    /// An unsigned LEB128 of at most 64 bits.
    #[inline]
    pub fn var_u64(&mut self) -> Option<u64> {
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let b = self.byte()?;
            value |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Some(value);
            }
        }
        None
    }

    /// A signed LEB128 of at most 64 bits, as its low 64 bits without sign extension
    /// (its callers use only the low bits: a shift count).
    #[inline]
    pub fn var_i64(&mut self) -> Option<i64> {
        self.var_u64().map(|v| v as i64)
    }
}
