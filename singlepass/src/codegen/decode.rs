//! The operator reader of code generation: the same `Operator` values, offsets and
//! errors as wasmparser's `OperatorsReader::read_with_offset`, at about half the cost.
//!
//! `OperatorsReader::read` builds each operator through a visitor compiled inside
//! wasmparser (no inlining across the crate boundary), returns it in a `Result`, and
//! `read_with_offset` moves it into another; on a large module that was a quarter of
//! code generation. Here `BinaryReader::visit_operator` is instantiated with this crate's
//! own visitor, so decoding, the frame bookkeeping and the construction inline into one
//! function that writes the operator once. The control-frame stack is kept exactly as
//! wasmparser's reader keeps it (it decides where a body ends and where `else` may
//! appear), so malformed bodies fail with the same messages at the same offsets.

use wasmparser::{
    for_each_visit_operator, for_each_visit_simd_operator, BinaryReader, FrameKind, FrameStack,
    Operator, Result, VisitOperator, VisitSimdOperator,
};

/// Reads the operators of one body.
pub(crate) struct OpReader<'a> {
    reader: BinaryReader<'a>,
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
        OpReader {
            reader,
            frames: Factory { stack },
        }
    }

    pub fn eof(&self) -> bool {
        self.reader.eof()
    }

    /// The next operator and the absolute offset of its first byte.
    #[inline]
    pub fn read_with_offset(&mut self) -> Result<(Operator<'a>, u64)> {
        let offset = self.reader.original_position();
        let op = self.reader.visit_operator(&mut self.frames)?;
        Ok((op, offset))
    }

    /// The bytes after the operator just read (for a lookahead that must not consume).
    pub fn peek_reader(&self) -> BinaryReader<'a> {
        self.reader.clone()
    }

    /// Checks the body ended exactly after its final `end`.
    pub fn finish(&self) -> Result<()> {
        self.reader.finish_expression(&self.frames)
    }

    /// Gives the frame buffer back for the next body.
    pub fn into_stack(self) -> Vec<FrameKind> {
        self.frames.stack
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
}
