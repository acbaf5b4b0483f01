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

    /// Skips the immediates of `op` (just read), for every wasm 2.0 operator except the
    /// ones each scan reads itself: block starts (`block`, `loop`, `if`), `call`, and
    /// `local.get`/`set`/`tee`. `None` for those, for anything beyond wasm 2.0 (typed
    /// `select` of typed references, other `0xfc` operators) and at the end of input.
    #[inline]
    pub fn skip_immediates(&mut self, op: u8) -> Option<()> {
        match op {
            0x00 | 0x01 | 0x05 | 0x0b | 0x0f | 0x1a | 0x1b | 0x45..=0xc4 | 0xd1 => Some(()),
            0x0c | 0x0d | 0x23 | 0x24 | 0x25 | 0x26 | 0x3f | 0x40 | 0xd0 | 0xd2 => self.skip_leb(),
            0x0e => {
                let targets = self.u32()?;
                for _ in 0..=targets {
                    self.skip_leb()?;
                }
                Some(())
            }
            0x11 => {
                self.skip_leb()?;
                self.skip_leb()
            }
            0x1c => {
                let types = self.u32()?;
                for _ in 0..types {
                    if matches!(self.byte()?, 0x63 | 0x64) {
                        return None;
                    }
                }
                Some(())
            }
            0x28..=0x3e => {
                let align = self.u32()?;
                if align & 0x40 != 0 {
                    // Multi-memory: a memory index follows.
                    self.skip_leb()?;
                }
                self.skip_leb()
            }
            0x41 | 0x42 => self.skip_leb(),
            0x43 => self.skip(4),
            0x44 => self.skip(8),
            0xfc => match self.u32()? {
                0..=7 => Some(()),
                9 | 11 | 13 | 15..=17 => self.skip_leb(),
                8 | 10 | 12 | 14 => {
                    self.skip_leb()?;
                    self.skip_leb()
                }
                _ => None,
            },
            _ => None,
        }
    }

    /// An `i32.const` immediate, read exactly as wasmparser reads it (five-byte padded
    /// encodings included).
    #[inline]
    pub fn i32(&mut self) -> Option<i32> {
        let (value, len) = gasket_body_reader::var_i32(self.code.get(self.at..)?)?;
        self.at += len;
        Some(value)
    }

    /// A signed LEB128 of at most `max` bytes (`max * 7` bits, below 64), sign-extended.
    #[inline]
    pub fn short_i64(&mut self, max: usize) -> Option<i64> {
        let (value, len) = gasket_body_reader::short_i64(self.code.get(self.at..)?, max)?;
        self.at += len;
        Some(value)
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
