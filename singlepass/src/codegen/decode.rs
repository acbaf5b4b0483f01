//! The operator reader of code generation: the same `Operator` values, offsets and
//! errors as wasmparser's `OperatorsReader::read_with_offset`, at about a quarter of the
//! cost.
//!
//! `OperatorsReader::read` builds each operator through a visitor compiled inside
//! wasmparser (no inlining across the crate boundary), returns it in a `Result`, and
//! `read_with_offset` moves it into another; on a large module that was a quarter of
//! code generation. The shared [`BodyReader`] decodes the frequent operators inline and
//! keeps the frames as wasmparser's reader does (the metering walk reads bodies with
//! it too); [`BuildOperator`] makes each visit the `Operator` value, written once.

use gasket_body_reader::{BodyReader, BuildOperator};
use wasmparser::{BinaryReader, FrameKind, Operator, Result};

/// Reads the operators of one body (see the module's doc).
pub(crate) struct OpReader<'a, 'f> {
    inner: BodyReader<'a, 'f>,
}

impl<'a, 'f> OpReader<'a, 'f> {
    /// A reader over `reader`'s operators; `stack` is a buffer reused across bodies.
    #[inline]
    pub fn new(reader: BinaryReader<'a>, stack: &'f mut Vec<FrameKind>) -> Self {
        OpReader {
            inner: BodyReader::new(reader, stack),
        }
    }

    #[inline(always)]
    pub fn eof(&self) -> bool {
        self.inner.eof()
    }

    /// The next operator and the absolute offset of its first byte.
    #[inline(always)]
    pub fn read_with_offset(&mut self) -> Result<(Operator<'a>, u64)> {
        let offset = self.inner.original_position();
        // Not `visit_operator(..).map(..)`: the operator would move through a second
        // `Result` (17 M instructions on the 2 MB module).
        if let Some(op) = self.inner.visit_common(&mut BuildOperator) {
            return Ok((op, offset));
        }
        self.inner
            .visit_general(&mut BuildOperator)
            .map(|op| (op, offset))
    }

    /// Visits the next operator with `visitor` (code generation's `visit::Compile`).
    #[inline(always)]
    pub fn visit<V: wasmparser::VisitOperator<'a>>(
        &mut self,
        visitor: &mut V,
    ) -> Result<V::Output> {
        self.inner.visit_operator(visitor)
    }

    /// The first byte of the next operator, if any.
    #[inline(always)]
    pub fn peek_byte(&self) -> Option<u8> {
        self.inner.peek_byte()
    }

    /// The absolute offset of the next operator.
    #[inline(always)]
    pub fn original_position(&self) -> u64 {
        self.inner.original_position()
    }

    /// The bytes from the next operator on (a lookahead that must not consume).
    #[inline(always)]
    pub fn rest(&self) -> &'a [u8] {
        self.inner.rest()
    }

    /// Steps over `len` bytes decoded from [`rest`](Self::rest): whole operators that
    /// open or close no frame, compiled without a validator (see
    /// `BodyReader::skip_decoded`).
    #[inline(always)]
    pub fn skip_decoded(&mut self, len: usize) {
        self.inner.skip_decoded(len)
    }

    /// Checks the body ended exactly after its final `end`.
    #[inline]
    pub fn finish(&self) -> Result<()> {
        self.inner.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::OpReader;
    use wasmparser::{BinaryReader, OperatorsReader, WasmFeatures};

    /// Reads `code` with both readers and checks they agree operator by operator,
    /// error included.
    fn same_as_wasmparser(code: &[u8]) {
        let features = WasmFeatures::all();
        let binary = BinaryReader::new_features(code, 100, features);
        let mut theirs = OperatorsReader::new(binary.clone());
        let mut frames = Vec::new();
        let mut ours = OpReader::new(binary, &mut frames);
        loop {
            assert_eq!(ours.eof(), theirs.eof());
            if theirs.eof() {
                break;
            }
            let (a, b) = (ours.read_with_offset(), theirs.read_with_offset());
            match (a, b) {
                (Ok(a), Ok(b)) => assert_eq!(a, b),
                (Err(a), Err(b)) => {
                    assert_eq!((a.offset(), a.message()), (b.offset(), b.message()));
                    return;
                }
                (a, b) => panic!("readers disagree: {a:?} vs {b:?}"),
            }
        }
        let (a, b) = (ours.finish(), theirs.finish());
        assert_eq!(
            a.map_err(|e| (e.offset(), e.message().to_string())),
            b.map_err(|e| (e.offset(), e.message().to_string()))
        );
    }

    #[test]
    fn agrees_with_wasmparser_on_valid_and_malformed_bodies() {
        let bodies: &[&[u8]] = &[
            // block (local.get 0; i32.const -1; i32.add; br_if 0) end; end
            &[
                0x02, 0x40, 0x20, 0x00, 0x41, 0x7f, 0x6a, 0x0d, 0x00, 0x0b, 0x0b,
            ],
            // if / else / end, loop, i64.const, call, br_table, drop, end
            &[
                0x41, 0x01, 0x04, 0x40, 0x01, 0x05, 0x01, 0x0b, 0x03, 0x40, 0x0b, 0x42, 0x80, 0x01,
                0x10, 0x02, 0x41, 0x00, 0x0e, 0x02, 0x00, 0x00, 0x00, 0x1a, 0x0b,
            ],
            // a load and a store with memargs, memory.size/grow, a float constant
            &[
                0x41, 0x00, 0x28, 0x02, 0x04, 0x41, 0x00, 0x36, 0x02, 0x08, 0x3f, 0x00, 0x40, 0x00,
                0x43, 0x00, 0x00, 0x80, 0x3f, 0x0b,
            ],
            // bulk memory (0xfc prefix) and a SIMD constant (0xfd prefix)
            &[
                0xfc, 0x0b, 0x00, 0xfd, 0x0c, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x0b,
            ],
            // operators after the final end
            &[0x0b, 0x01],
            // a body that never ends
            &[0x02, 0x40, 0x0b],
            // `else` outside `if`
            &[0x05, 0x0b],
            // a truncated immediate
            &[0x41, 0x80],
            // an unknown opcode
            &[0xff, 0x0b],
        ];
        for body in bodies {
            same_as_wasmparser(body);
        }
    }
}
