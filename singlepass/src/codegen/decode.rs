//! The operator reader of code generation: the same `Operator` values, offsets and
//! errors as wasmparser's `OperatorsReader::read_with_offset`, at about a quarter of the
//! cost.
//!
//! `OperatorsReader::read` builds each operator through a visitor compiled inside
//! wasmparser (no inlining across the crate boundary), returns it in a `Result`, and
//! `read_with_offset` moves it into another; on a large module that was a quarter of
//! code generation. The frequent operators are decoded here, inline in the compile loop
//! (see [`OpReader`]); for the rest, `BinaryReader::visit_operator` is instantiated with
//! this crate's own visitor, so decoding, the frame bookkeeping and the construction
//! inline into one function that writes the operator once. The control-frame stack is
//! kept exactly as wasmparser's reader keeps it (it decides where a body ends and where
//! `else` may appear), so malformed bodies fail with the same messages at the same
//! offsets (the tests compare both readers on edge cases and random bodies).

use wasmparser::{
    for_each_visit_operator, for_each_visit_simd_operator, BinaryReader, BlockType, FrameKind,
    FrameStack, MemArg, MemArgTarget, Operator, Result, ValType, VisitOperator, VisitSimdOperator,
    WasmFeatures,
};

use super::opcodes::{numeric, short_i64, short_u32};

/// Reads the operators of one body.
///
/// The most frequent operators (locals, constants, numeric operators, loads and stores,
/// branches, calls, block starts and ends) are decoded here, straight from the bytes,
/// when their immediates are short enough that no encoding of them is malformed; the
/// rest go through wasmparser's `BinaryReader::visit_operator` at the same position, so
/// they decode, and fail, exactly as before. On the generated 2 MB module this halves
/// what decoding costs code generation: the general reader is one large function
/// entered per operator, with its prologue, a jump table and a `Result` each time.
pub(crate) struct OpReader<'a> {
    /// The body's operator bytes.
    bytes: &'a [u8],
    /// Where the next operator starts in `bytes`.
    pos: usize,
    /// The absolute offset of `bytes[0]`, for operators' offsets and errors.
    base: u64,
    /// The features the general reader decodes by.
    features: WasmFeatures,
    frames: Factory,
}

/// Builds `Operator`s and tracks the control frames the decoder asks about.
struct Factory {
    /// Open frames, the function's own block first.
    stack: Vec<FrameKind>,
}

impl<'a> OpReader<'a> {
    /// A reader over `reader`'s operators; `stack` is a buffer reused across bodies.
    pub fn new(reader: BinaryReader<'a>, mut stack: Vec<FrameKind>) -> Self {
        stack.clear();
        stack.push(FrameKind::Block);
        let base = reader.original_position();
        let features = reader.features();
        let mut rest = reader;
        let bytes = match rest.read_bytes(rest.bytes_remaining()) {
            Ok(bytes) => bytes,
            // Unreachable (the count is what remains), but an empty body is harmless.
            Err(_) => &[],
        };
        OpReader {
            bytes,
            pos: 0,
            base,
            features,
            frames: Factory { stack },
        }
    }

    pub fn eof(&self) -> bool {
        self.pos >= self.bytes.len()
    }

    /// The next operator and the absolute offset of its first byte.
    #[inline(always)]
    pub fn read_with_offset(&mut self) -> Result<(Operator<'a>, u64)> {
        let offset = self.base + self.pos as u64;
        if let Some((op, len)) = self.decode_common() {
            self.pos += len;
            return Ok((op, offset));
        }
        self.read_general().map(|op| (op, offset))
    }

    /// The next operator through wasmparser's reader. Kept out of line: inlined, its
    /// size made every call of `read_with_offset` pay a large frame.
    #[inline(never)]
    fn read_general(&mut self) -> Result<Operator<'a>> {
        let mut reader = self.reader_here();
        let op = reader.visit_operator(&mut self.frames)?;
        self.pos += reader.current_position();
        Ok(op)
    }

    /// The operator at `pos` and its length when it is one this reader decodes itself
    /// (see the type's doc), updating the frames as wasmparser's reader does; `None`
    /// (nothing consumed, nothing changed) for everything else.
    #[inline(always)]
    fn decode_common(&mut self) -> Option<(Operator<'a>, usize)> {
        use Operator as O;
        let stack = &mut self.frames.stack;
        // After the function's final `end`: the general reader reports it.
        let top = *stack.last()?;
        let bytes = self.bytes.get(self.pos..)?;
        let (&code, rest) = bytes.split_first()?;
        let index = |f: fn(u32) -> Operator<'a>| short_u32(rest).map(|(i, n)| (f(i), n + 1));
        Some(match code {
            0x00 => (O::Unreachable, 1),
            0x01 => (O::Nop, 1),
            0x02..=0x04 => {
                let blockty = match rest.first()? {
                    0x40 => BlockType::Empty,
                    0x7f => BlockType::Type(ValType::I32),
                    0x7e => BlockType::Type(ValType::I64),
                    0x7d => BlockType::Type(ValType::F32),
                    0x7c => BlockType::Type(ValType::F64),
                    _ => return None,
                };
                let (op, kind) = match code {
                    0x02 => (O::Block { blockty }, FrameKind::Block),
                    0x03 => (O::Loop { blockty }, FrameKind::Loop),
                    _ => (O::If { blockty }, FrameKind::If),
                };
                stack.push(kind);
                (op, 2)
            }
            0x05 if top == FrameKind::If => {
                stack.pop();
                stack.push(FrameKind::Else);
                (O::Else, 1)
            }
            0x0b => {
                stack.pop();
                (O::End, 1)
            }
            0x0c => index(|relative_depth| O::Br { relative_depth })?,
            0x0d => index(|relative_depth| O::BrIf { relative_depth })?,
            0x0f => (O::Return, 1),
            0x10 => index(|function_index| O::Call { function_index })?,
            0x1a => (O::Drop, 1),
            0x1b => (O::Select, 1),
            0x20 => index(|local_index| O::LocalGet { local_index })?,
            0x21 => index(|local_index| O::LocalSet { local_index })?,
            0x22 => index(|local_index| O::LocalTee { local_index })?,
            0x23 => index(|global_index| O::GlobalGet { global_index })?,
            0x24 => index(|global_index| O::GlobalSet { global_index })?,
            0x28..=0x3e => {
                let (memarg, n) = memarg(rest, MAX_ALIGN[usize::from(code - 0x28)])?;
                (memory_operator(code, memarg), n + 1)
            }
            0x41 => {
                let (value, n) = short_i64(rest, 4)?;
                (
                    O::I32Const {
                        value: value as i32,
                    },
                    n + 1,
                )
            }
            0x42 => {
                let (value, n) = short_i64(rest, 9)?;
                (O::I64Const { value }, n + 1)
            }
            _ => (numeric(code)?, 1),
        })
    }

    /// wasmparser's reader at the next operator, with the body's features.
    fn reader_here(&self) -> BinaryReader<'a> {
        let rest = self.bytes.get(self.pos..).unwrap_or_default();
        BinaryReader::new_features(rest, self.base + self.pos as u64, self.features)
    }

    /// The bytes after the operator just read (for a lookahead that must not consume).
    pub fn peek_reader(&self) -> BinaryReader<'a> {
        self.reader_here()
    }

    /// Checks the body ended exactly after its final `end`.
    pub fn finish(&self) -> Result<()> {
        self.reader_here().finish_expression(&self.frames)
    }

    /// Gives the frame buffer back for the next body.
    pub fn into_stack(self) -> Vec<FrameKind> {
        self.frames.stack
    }
}

/// The natural alignment (log2) of the loads and stores `0x28..=0x3e`, in opcode order:
/// the `max_align` wasmparser records in their `MemArg`.
const MAX_ALIGN: [u8; 23] = [
    2, 3, 2, 3, 0, 0, 1, 1, 0, 0, 1, 1, 2, 2, // loads
    2, 3, 2, 3, 0, 1, 0, 1, 2, // stores
];

/// A memory immediate whose flags byte is a bare alignment below 16 (no memory index,
/// ordering or array flag, so every proposal reads it the same way) and whose offset is
/// a short LEB128, and its length.
#[inline(always)]
fn memarg(bytes: &[u8], max_align: u8) -> Option<(MemArg, usize)> {
    let (&align, rest) = bytes.split_first()?;
    if align >= 0x10 {
        return None;
    }
    let (offset, n) = short_u32(rest)?;
    let memarg = MemArg {
        align,
        max_align,
        offset: u64::from(offset),
        target: MemArgTarget::Memory(0),
        ordering: None,
    };
    Some((memarg, n + 1))
}

/// The load or store of opcode `code` (`0x28..=0x3e`).
#[inline(always)]
fn memory_operator<'a>(code: u8, memarg: MemArg) -> Operator<'a> {
    use Operator as O;
    match code {
        0x28 => O::I32Load { memarg },
        0x29 => O::I64Load { memarg },
        0x2a => O::F32Load { memarg },
        0x2b => O::F64Load { memarg },
        0x2c => O::I32Load8S { memarg },
        0x2d => O::I32Load8U { memarg },
        0x2e => O::I32Load16S { memarg },
        0x2f => O::I32Load16U { memarg },
        0x30 => O::I64Load8S { memarg },
        0x31 => O::I64Load8U { memarg },
        0x32 => O::I64Load16S { memarg },
        0x33 => O::I64Load16U { memarg },
        0x34 => O::I64Load32S { memarg },
        0x35 => O::I64Load32U { memarg },
        0x36 => O::I32Store { memarg },
        0x37 => O::I64Store { memarg },
        0x38 => O::F32Store { memarg },
        0x39 => O::F64Store { memarg },
        0x3a => O::I32Store8 { memarg },
        0x3b => O::I32Store16 { memarg },
        0x3c => O::I64Store8 { memarg },
        0x3d => O::I64Store16 { memarg },
        _ => O::I64Store32 { memarg },
    }
}

impl FrameStack for Factory {
    fn current_frame(&self) -> Option<FrameKind> {
        self.stack.last().copied()
    }
}

/// The frame changes of wasmparser's reader: structured instructions open a frame,
/// `else`/`catch`/`catch_all` replace the top one, `end` and `delegate` close it.
macro_rules! frames {
    ($self:ident visit_block) => {
        $self.stack.push(FrameKind::Block)
    };
    ($self:ident visit_loop) => {
        $self.stack.push(FrameKind::Loop)
    };
    ($self:ident visit_if) => {
        $self.stack.push(FrameKind::If)
    };
    ($self:ident visit_try) => {
        $self.stack.push(FrameKind::LegacyTry)
    };
    ($self:ident visit_try_table) => {
        $self.stack.push(FrameKind::TryTable)
    };
    ($self:ident visit_else) => {{
        $self.stack.pop();
        $self.stack.push(FrameKind::Else)
    }};
    ($self:ident visit_catch) => {{
        $self.stack.pop();
        $self.stack.push(FrameKind::LegacyCatch)
    }};
    ($self:ident visit_catch_all) => {{
        $self.stack.pop();
        $self.stack.push(FrameKind::LegacyCatchAll)
    }};
    ($self:ident visit_end) => {{
        $self.stack.pop();
    }};
    ($self:ident visit_delegate) => {{
        $self.stack.pop();
    }};
    ($self:ident $other:ident) => {};
}

macro_rules! define_factory {
    ($(@$proposal:ident $op:ident $({ $($arg:ident: $argty:ty),* })? => $visit:ident ($($ann:tt)*))*) => {
        $(
            #[inline(always)]
            fn $visit(&mut self $($(,$arg: $argty)*)?) -> Operator<'a> {
                frames!(self $visit);
                Operator::$op $({ $($arg),* })?
            }
        )*
    };
}

macro_rules! define_simd_factory {
    ($(@$proposal:ident $op:ident $({ $($arg:ident: $argty:ty),* })? => $visit:ident ($($ann:tt)*))*) => {
        $(
            fn $visit(&mut self $($(,$arg: $argty)*)?) -> Operator<'a> {
                Operator::$op $({ $($arg),* })?
            }
        )*
    };
}

impl<'a> VisitOperator<'a> for Factory {
    type Output = Operator<'a>;

    fn simd_visitor(&mut self) -> Option<&mut dyn VisitSimdOperator<'a, Output = Self::Output>> {
        Some(self)
    }

    for_each_visit_operator!(define_factory);
}

impl<'a> VisitSimdOperator<'a> for Factory {
    for_each_visit_simd_operator!(define_simd_factory);
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
        let mut ours = OpReader::new(binary, Vec::new());
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

    /// The operators decoded without wasmparser, at the edges of what they accept:
    /// immediates of every LEB length around the four-byte limit, padded encodings,
    /// memory immediates with flags, block types beyond the value types, truncations.
    #[test]
    fn agrees_with_wasmparser_at_the_edges_of_the_short_path() {
        let bodies: &[&[u8]] = &[
            // local.get with 1..=5-byte indices, call with a padded index
            &[
                0x20, 0x80, 0x01, 0x20, 0x80, 0x80, 0x01, 0x20, 0xff, 0xff, 0xff, 0x7f, 0x20, 0x80,
                0x80, 0x80, 0x80, 0x01, 0x10, 0x80, 0x00, 0x0b,
            ],
            // a 5-byte index too large
            &[0x21, 0xff, 0xff, 0xff, 0xff, 0x7f, 0x0b],
            // i32.const of 4 and 5 bytes, i64.const of 9 and 10 bytes
            &[
                0x41, 0xff, 0xff, 0xff, 0x7f, 0x41, 0x80, 0x80, 0x80, 0x80, 0x78, 0x42, 0x80, 0x80,
                0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x7f, 0x42, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                0xff, 0xff, 0xff, 0x7f, 0x0b,
            ],
            // an i32.const too large
            &[0x41, 0x80, 0x80, 0x80, 0x80, 0x10, 0x0b],
            // loads and stores: aligned, a 4-byte offset, a 5-byte offset
            &[
                0x41, 0x00, 0x29, 0x03, 0xff, 0xff, 0xff, 0x7f, 0x1a, 0x41, 0x00, 0x41, 0x00, 0x3e,
                0x02, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x0b,
            ],
            // a memory index flag (multi-memory), then an ordering flag
            &[0x41, 0x00, 0x28, 0x42, 0x01, 0x00, 0x1a, 0x0b],
            &[0x41, 0x00, 0x28, 0x12, 0x00, 0x0b],
            // an alignment of 16 and over
            &[0x41, 0x00, 0x2d, 0x20, 0x00, 0x0b],
            // block types: a type index, a reference type, an overlong value type
            &[
                0x02, 0x00, 0x0b, 0x03, 0x70, 0x0b, 0x04, 0xff, 0x7f, 0x0b, 0x0b,
            ],
            // else inside and outside if, end closing everything then more
            &[0x04, 0x7f, 0x41, 0x01, 0x05, 0x41, 0x02, 0x0b, 0x05, 0x0b],
            &[0x0b, 0x0b],
            &[0x0b, 0x20, 0x00],
            // truncated immediates of each short form
            &[0x20, 0x80],
            &[0x42, 0x80, 0x80],
            &[0x28, 0x02],
            &[0x28],
            &[0x02],
            // the numeric range's edges and the operators just outside it
            &[0x45, 0xc4, 0xc5, 0x0b],
            &[0x44, 0x0b],
        ];
        for body in bodies {
            same_as_wasmparser(body);
        }
    }

    /// Random bodies over the bytes that matter to the short path: both readers agree
    /// on every operator, offset and error.
    #[test]
    fn agrees_with_wasmparser_on_random_bodies() {
        const ALPHABET: &[u8] = &[
            0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x0b, 0x0c, 0x0d, 0x0f, 0x10, 0x1a, 0x1b, 0x20,
            0x21, 0x22, 0x23, 0x24, 0x28, 0x2c, 0x36, 0x3e, 0x40, 0x41, 0x42, 0x45, 0x6a, 0x7f,
            0x80, 0xc4, 0xff, 0x0e, 0x11, 0x43,
        ];
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        let mut body = Vec::new();
        for _ in 0..20_000 {
            body.clear();
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1);
            let len = 1 + (state >> 59) as usize;
            for _ in 0..len {
                state = state
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1);
                body.push(ALPHABET[(state >> 33) as usize % ALPHABET.len()]);
            }
            same_as_wasmparser(&body);
        }
    }
}
