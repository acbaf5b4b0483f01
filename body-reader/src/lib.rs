//! Reads a function body's operators into a wasmparser visitor, as
//! `OperatorsReader::visit_operator` does, with the frequent operators decoded here.
//!
//! Shared by the two passes that read every body of a contract: the metering walk
//! (`gasket-metering`, which validates and plans through a visitor) and code generation
//! (`gasket-singlepass`, which wants `Operator` values: [`BuildOperator`]). Both used to
//! spend a large part of their time in wasmparser's general reader: one large function
//! entered once per operator (a prologue saving most registers, a frame-stack adapter, a
//! jump table, out-of-line LEB128 reads), not inlinable across the crate boundary.
//! Locals, constants, the numeric operators, loads and stores, branches, calls and block
//! starts and ends are decoded inline in the caller's loop instead, when their
//! immediates are short enough that no encoding of them is malformed, or (index and
//! `i32.const` immediates) five bytes long and accepted by the same check wasmparser
//! makes of the last byte: linkers pad relocated function and global indices and
//! static addresses to five bytes, and on the contract corpus such immediates sent
//! 158 K operators a pass of the metering walk (86 K of code generation) to the general
//! reader, against 16 K each without them. The same visitor method is called with the
//! same immediates, so what the visitor sees is unchanged.
//! Everything else (and every malformed encoding) goes through
//! `BinaryReader::visit_operator` at the same position, with the frame stack this
//! reader keeps exactly as `OperatorsReader` keeps it (it decides where a body ends and
//! where `else` may appear), so errors keep their messages and offsets (`tests`
//! compares the two readers on edge cases and random bodies).

use wasmparser::{
    for_each_visit_operator, BinaryReader, BlockType, FrameKind, FrameStack, MemArg, MemArgTarget,
    Result, ValType, VisitOperator, VisitSimdOperator, WasmFeatures,
};

mod build;
mod leb;
mod release;
pub mod uses;

pub use build::BuildOperator;
use leb::var_u32;
pub use leb::{short_i64, short_u32, var_i32};
pub use release::release;
pub use uses::{LocalUses, UseCounter};

/// Reads one body's operators into a visitor.
///
/// The reader is built so that its address is never taken (every method that is not
/// inlined gets copies of its fields, and the frame stack is a borrowed buffer, whose
/// growth is out of line): the compiler can then keep its fields in registers (or its
/// own spill slots) across the caller's loop, instead of in a struct in memory that
/// every out-of-line visitor call might have changed. The position is an index, so a
/// step is one addition; the next operator's bounds check is the one it needs anyway.
pub struct BodyReader<'a, 'f> {
    /// The body's operator bytes.
    bytes: &'a [u8],
    /// Where the next operator starts in `bytes`.
    pos: usize,
    /// The absolute offset of `bytes[0]`.
    base: u64,
    /// The features the general reader decodes by.
    features: WasmFeatures,
    /// Open frames, the function's own block first (`OperatorsReader`'s stack): the
    /// caller's buffer, reused across bodies.
    frames: &'f mut Vec<FrameKind>,
}

impl<'a, 'f> BodyReader<'a, 'f> {
    /// A reader over `reader`'s operators; `frames` is a buffer reused across bodies
    /// (cleared here; it holds the open frames while the reader reads).
    #[inline]
    pub fn new(reader: BinaryReader<'a>, frames: &'f mut Vec<FrameKind>) -> Self {
        frames.clear();
        frames.push(FrameKind::Block);
        let base = reader.original_position();
        let features = reader.features();
        let mut rest = reader;
        // Reading what remains cannot fail; an empty body would only end early.
        let bytes = rest.read_bytes(rest.bytes_remaining()).unwrap_or_default();
        BodyReader {
            bytes,
            pos: 0,
            base,
            features,
            frames,
        }
    }

    #[inline(always)]
    pub fn eof(&self) -> bool {
        self.pos >= self.bytes.len()
    }

    /// The first byte of the next operator, if any (a lookahead that decodes nothing).
    #[inline(always)]
    pub fn peek_byte(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    /// The bytes from the next operator to the body's end: a lookahead that decodes
    /// nothing (unlike [`peek_reader`](Self::peek_reader), which builds a reader).
    #[inline(always)]
    pub fn rest(&self) -> &'a [u8] {
        self.bytes.get(self.pos..).unwrap_or_default()
    }

    /// Steps over the next `len` bytes without visiting them, for a caller that decoded
    /// them itself from [`rest`](Self::rest) and has no validator to show them to. They
    /// must be whole operators that neither open nor close a frame: the frame stack is
    /// left as it is (code generation's fused `local.set` skips a binary operator and
    /// the `local.set` after it this way).
    #[inline(always)]
    pub fn skip_decoded(&mut self, len: usize) {
        self.pos = self.pos.saturating_add(len).min(self.bytes.len());
    }

    /// The absolute offset of the next operator.
    #[inline(always)]
    pub fn original_position(&self) -> u64 {
        self.base + self.pos as u64
    }

    /// Visits the next operator. (A caller that wraps the output, e.g. with the
    /// operator's offset, is better served by [`visit_common`](Self::visit_common) then
    /// [`visit_general`](Self::visit_general): the output is then moved once, not
    /// through this `Result` first.)
    #[inline(always)]
    pub fn visit_operator<V>(&mut self, visitor: &mut V) -> Result<V::Output>
    where
        V: VisitOperator<'a>,
    {
        match self.visit_common(visitor) {
            Some(output) => Ok(output),
            None => self.visit_general(visitor),
        }
    }

    /// Checks the body ended exactly after its final `end`.
    #[inline]
    pub fn finish(&self) -> Result<()> {
        self.peek_reader().finish_expression(&Frames(self.frames))
    }

    /// wasmparser's reader at the next operator, with the body's features: for a
    /// lookahead that must not consume.
    #[inline]
    pub fn peek_reader(&self) -> BinaryReader<'a> {
        BinaryReader::new_features(self.rest(), self.original_position(), self.features)
    }

    /// The next operator through wasmparser's reader ([`general`], out of line: it is
    /// large, and the short path should not pay for its frame; it gets copies of the
    /// position, so this reader's address is not taken).
    #[inline(always)]
    pub fn visit_general<V>(&mut self, visitor: &mut V) -> Result<V::Output>
    where
        V: VisitOperator<'a>,
    {
        let (output, len) = general(self.peek_reader(), self.frames, visitor)?;
        self.pos += len;
        Ok(output)
    }

    /// Visits the next operator when it is one decoded here (see the module's doc),
    /// updating the frames as `OperatorsReader` does; `None` (nothing read, nothing
    /// visited) for everything else. Every check that can refuse comes before the
    /// visitor is called.
    #[inline(always)]
    pub fn visit_common<V>(&mut self, v: &mut V) -> Option<V::Output>
    where
        V: VisitOperator<'a>,
    {
        self.visit_inline::<false, V>(v)
    }

    /// [`visit_common`](Self::visit_common), in one of two forms. Shared (`CUT` false):
    /// every operator first tests the frame stack, so that one after the function's
    /// final `end` goes to the general reader, which reports it. Cut (`CUT` true, for
    /// [`WalkReader`]): no test per operator; the final `end` cuts `bytes` after itself
    /// instead, so the caller's `eof` stops the loop there and [`WalkReader::finish`]
    /// reports what follows. Two forms, not one: the cut form is cheaper in the metering
    /// walk's loop, but made code generation's dearer by as much (the seventeenth round
    /// of issue 17 in ARCHITECTURE.md), so code generation keeps the shared one.
    #[inline(always)]
    fn visit_inline<const CUT: bool, V>(&mut self, v: &mut V) -> Option<V::Output>
    where
        V: VisitOperator<'a>,
    {
        let frames = &mut *self.frames;
        // After the function's final `end`: the general reader reports it.
        // (Only the length is read here: the top frame matters to `else` alone.)
        if !CUT && frames.is_empty() {
            return None;
        }
        let bytes = self.bytes;
        let (&code, rest) = bytes.get(self.pos..)?.split_first()?;
        // An operator with one short index immediate: the index read, then the visit
        // (written out in each arm: a closure here was not inlined).
        macro_rules! index {
            ($visit:ident) => {{
                let (index, n) = var_u32(rest)?;
                (v.$visit(index), n + 1)
            }};
        }
        let (output, len) = match code {
            0x00 => (v.visit_unreachable(), 1),
            0x01 => (v.visit_nop(), 1),
            0x02..=0x04 => {
                let blockty = match rest.first()? {
                    0x40 => BlockType::Empty,
                    0x7f => BlockType::Type(ValType::I32),
                    0x7e => BlockType::Type(ValType::I64),
                    0x7d => BlockType::Type(ValType::F32),
                    0x7c => BlockType::Type(ValType::F64),
                    _ => return None,
                };
                let output = match code {
                    0x02 => {
                        frames.push(FrameKind::Block);
                        v.visit_block(blockty)
                    }
                    0x03 => {
                        frames.push(FrameKind::Loop);
                        v.visit_loop(blockty)
                    }
                    _ => {
                        frames.push(FrameKind::If);
                        v.visit_if(blockty)
                    }
                };
                (output, 2)
            }
            0x05 if frames.last() == Some(&FrameKind::If) => {
                frames.pop();
                frames.push(FrameKind::Else);
                (v.visit_else(), 1)
            }
            0x0b => {
                frames.pop();
                if CUT && frames.is_empty() {
                    // The function's final `end`: the body ends after it.
                    self.bytes = bytes.get(..bytes.len() - rest.len()).unwrap_or(bytes);
                }
                (v.visit_end(), 1)
            }
            0x0c => index!(visit_br),
            0x0d => index!(visit_br_if),
            0x0f => (v.visit_return(), 1),
            0x10 => index!(visit_call),
            0x1a => (v.visit_drop(), 1),
            0x1b => (v.visit_select(), 1),
            0x20 => index!(visit_local_get),
            0x21 => index!(visit_local_set),
            0x22 => index!(visit_local_tee),
            0x23 => index!(visit_global_get),
            0x24 => index!(visit_global_set),
            0x28..=0x3e => {
                let (memarg, n) = memarg(rest, MAX_ALIGN[usize::from(code - 0x28)])?;
                (memory_operator(v, code, memarg), n + 1)
            }
            0x41 => {
                let (value, n) = var_i32(rest)?;
                (v.visit_i32_const(value), n + 1)
            }
            0x42 => {
                let (value, n) = short_i64(rest, 9)?;
                (v.visit_i64_const(value), n + 1)
            }
            0x45..=0xc4 => (numeric(v, code), 1),
            _ => return None,
        };
        self.pos += len;
        Some(output)
    }
}

/// A [`BodyReader`] for a caller that reads one operator at a time to the body's end and
/// then calls [`finish`](Self::finish) (the metering walk): the same visits, offsets and
/// errors, without the frame stack's test per operator (see `visit_inline`). The final
/// `end` cuts the reader's bytes after itself, so `eof` is true there; `finish` then
/// reports an operator after it as wasmparser's reader reports it (at the operator's
/// offset, before decoding it), or checks the end as [`BodyReader::finish`] does.
pub struct WalkReader<'a, 'f> {
    inner: BodyReader<'a, 'f>,
    /// The whole body's operator bytes (`inner.bytes` is cut after the final `end`).
    whole: &'a [u8],
}

impl<'a, 'f> WalkReader<'a, 'f> {
    /// A reader over `reader`'s operators; `frames` is a buffer reused across bodies.
    #[inline]
    pub fn new(reader: BinaryReader<'a>, frames: &'f mut Vec<FrameKind>) -> Self {
        let inner = BodyReader::new(reader, frames);
        WalkReader {
            whole: inner.bytes,
            inner,
        }
    }

    /// Whether the body's bytes are all read, or its final `end` is.
    #[inline(always)]
    pub fn eof(&self) -> bool {
        self.inner.eof()
    }

    /// The absolute offset of the next operator.
    #[inline(always)]
    pub fn original_position(&self) -> u64 {
        self.inner.original_position()
    }

    /// Visits the next operator (as [`BodyReader::visit_operator`]).
    #[inline(always)]
    pub fn visit_operator<V>(&mut self, visitor: &mut V) -> Result<V::Output>
    where
        V: VisitOperator<'a>,
    {
        if let Some(output) = self.inner.visit_inline::<true, V>(visitor) {
            return Ok(output);
        }
        let output = self.inner.visit_general(visitor)?;
        // The only other operator that closes a frame is `delegate`, which wasmparser's
        // reader accepts on a `try` frame alone, never on the function's own: so this
        // does not happen today. Kept so that a reader that did close it could not make
        // the walk visit operators after the body's end.
        if self.inner.frames.is_empty() {
            self.inner.bytes = self.whole.get(..self.inner.pos).unwrap_or(self.whole);
        }
        Ok(output)
    }

    /// Checks the body ended exactly after its final `end` (as [`BodyReader::finish`]);
    /// an operator after that `end` gets the error wasmparser's reader gives it (at its
    /// offset, before anything is decoded).
    #[inline]
    pub fn finish(&mut self) -> Result<()> {
        let inner = &mut self.inner;
        if inner.pos < self.whole.len() && inner.frames.is_empty() {
            let rest = self.whole.get(inner.pos..).unwrap_or_default();
            let reader =
                BinaryReader::new_features(rest, inner.original_position(), inner.features);
            general(reader, inner.frames, &mut BuildOperator)?;
        }
        inner.finish()
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

/// Visits the load or store of opcode `code` (`0x28..=0x3e`).
#[inline(always)]
fn memory_operator<'a, V: VisitOperator<'a>>(v: &mut V, code: u8, memarg: MemArg) -> V::Output {
    match code {
        0x28 => v.visit_i32_load(memarg),
        0x29 => v.visit_i64_load(memarg),
        0x2a => v.visit_f32_load(memarg),
        0x2b => v.visit_f64_load(memarg),
        0x2c => v.visit_i32_load8_s(memarg),
        0x2d => v.visit_i32_load8_u(memarg),
        0x2e => v.visit_i32_load16_s(memarg),
        0x2f => v.visit_i32_load16_u(memarg),
        0x30 => v.visit_i64_load8_s(memarg),
        0x31 => v.visit_i64_load8_u(memarg),
        0x32 => v.visit_i64_load16_s(memarg),
        0x33 => v.visit_i64_load16_u(memarg),
        0x34 => v.visit_i64_load32_s(memarg),
        0x35 => v.visit_i64_load32_u(memarg),
        0x36 => v.visit_i32_store(memarg),
        0x37 => v.visit_i64_store(memarg),
        0x38 => v.visit_f32_store(memarg),
        0x39 => v.visit_f64_store(memarg),
        0x3a => v.visit_i32_store8(memarg),
        0x3b => v.visit_i32_store16(memarg),
        0x3c => v.visit_i64_store8(memarg),
        0x3d => v.visit_i64_store16(memarg),
        _ => v.visit_i64_store32(memarg),
    }
}

/// Visits the operator of `code` in the numeric range `0x45..=0xc4` (comparisons,
/// arithmetic, conversions, sign extensions: no immediates, in every proposal).
#[inline(always)]
fn numeric<'a, V: VisitOperator<'a>>(v: &mut V, code: u8) -> V::Output {
    match code {
        0x45 => v.visit_i32_eqz(),
        0x46 => v.visit_i32_eq(),
        0x47 => v.visit_i32_ne(),
        0x48 => v.visit_i32_lt_s(),
        0x49 => v.visit_i32_lt_u(),
        0x4a => v.visit_i32_gt_s(),
        0x4b => v.visit_i32_gt_u(),
        0x4c => v.visit_i32_le_s(),
        0x4d => v.visit_i32_le_u(),
        0x4e => v.visit_i32_ge_s(),
        0x4f => v.visit_i32_ge_u(),
        0x50 => v.visit_i64_eqz(),
        0x51 => v.visit_i64_eq(),
        0x52 => v.visit_i64_ne(),
        0x53 => v.visit_i64_lt_s(),
        0x54 => v.visit_i64_lt_u(),
        0x55 => v.visit_i64_gt_s(),
        0x56 => v.visit_i64_gt_u(),
        0x57 => v.visit_i64_le_s(),
        0x58 => v.visit_i64_le_u(),
        0x59 => v.visit_i64_ge_s(),
        0x5a => v.visit_i64_ge_u(),
        0x5b => v.visit_f32_eq(),
        0x5c => v.visit_f32_ne(),
        0x5d => v.visit_f32_lt(),
        0x5e => v.visit_f32_gt(),
        0x5f => v.visit_f32_le(),
        0x60 => v.visit_f32_ge(),
        0x61 => v.visit_f64_eq(),
        0x62 => v.visit_f64_ne(),
        0x63 => v.visit_f64_lt(),
        0x64 => v.visit_f64_gt(),
        0x65 => v.visit_f64_le(),
        0x66 => v.visit_f64_ge(),
        0x67 => v.visit_i32_clz(),
        0x68 => v.visit_i32_ctz(),
        0x69 => v.visit_i32_popcnt(),
        0x6a => v.visit_i32_add(),
        0x6b => v.visit_i32_sub(),
        0x6c => v.visit_i32_mul(),
        0x6d => v.visit_i32_div_s(),
        0x6e => v.visit_i32_div_u(),
        0x6f => v.visit_i32_rem_s(),
        0x70 => v.visit_i32_rem_u(),
        0x71 => v.visit_i32_and(),
        0x72 => v.visit_i32_or(),
        0x73 => v.visit_i32_xor(),
        0x74 => v.visit_i32_shl(),
        0x75 => v.visit_i32_shr_s(),
        0x76 => v.visit_i32_shr_u(),
        0x77 => v.visit_i32_rotl(),
        0x78 => v.visit_i32_rotr(),
        0x79 => v.visit_i64_clz(),
        0x7a => v.visit_i64_ctz(),
        0x7b => v.visit_i64_popcnt(),
        0x7c => v.visit_i64_add(),
        0x7d => v.visit_i64_sub(),
        0x7e => v.visit_i64_mul(),
        0x7f => v.visit_i64_div_s(),
        0x80 => v.visit_i64_div_u(),
        0x81 => v.visit_i64_rem_s(),
        0x82 => v.visit_i64_rem_u(),
        0x83 => v.visit_i64_and(),
        0x84 => v.visit_i64_or(),
        0x85 => v.visit_i64_xor(),
        0x86 => v.visit_i64_shl(),
        0x87 => v.visit_i64_shr_s(),
        0x88 => v.visit_i64_shr_u(),
        0x89 => v.visit_i64_rotl(),
        0x8a => v.visit_i64_rotr(),
        0x8b => v.visit_f32_abs(),
        0x8c => v.visit_f32_neg(),
        0x8d => v.visit_f32_ceil(),
        0x8e => v.visit_f32_floor(),
        0x8f => v.visit_f32_trunc(),
        0x90 => v.visit_f32_nearest(),
        0x91 => v.visit_f32_sqrt(),
        0x92 => v.visit_f32_add(),
        0x93 => v.visit_f32_sub(),
        0x94 => v.visit_f32_mul(),
        0x95 => v.visit_f32_div(),
        0x96 => v.visit_f32_min(),
        0x97 => v.visit_f32_max(),
        0x98 => v.visit_f32_copysign(),
        0x99 => v.visit_f64_abs(),
        0x9a => v.visit_f64_neg(),
        0x9b => v.visit_f64_ceil(),
        0x9c => v.visit_f64_floor(),
        0x9d => v.visit_f64_trunc(),
        0x9e => v.visit_f64_nearest(),
        0x9f => v.visit_f64_sqrt(),
        0xa0 => v.visit_f64_add(),
        0xa1 => v.visit_f64_sub(),
        0xa2 => v.visit_f64_mul(),
        0xa3 => v.visit_f64_div(),
        0xa4 => v.visit_f64_min(),
        0xa5 => v.visit_f64_max(),
        0xa6 => v.visit_f64_copysign(),
        0xa7 => v.visit_i32_wrap_i64(),
        0xa8 => v.visit_i32_trunc_f32_s(),
        0xa9 => v.visit_i32_trunc_f32_u(),
        0xaa => v.visit_i32_trunc_f64_s(),
        0xab => v.visit_i32_trunc_f64_u(),
        0xac => v.visit_i64_extend_i32_s(),
        0xad => v.visit_i64_extend_i32_u(),
        0xae => v.visit_i64_trunc_f32_s(),
        0xaf => v.visit_i64_trunc_f32_u(),
        0xb0 => v.visit_i64_trunc_f64_s(),
        0xb1 => v.visit_i64_trunc_f64_u(),
        0xb2 => v.visit_f32_convert_i32_s(),
        0xb3 => v.visit_f32_convert_i32_u(),
        0xb4 => v.visit_f32_convert_i64_s(),
        0xb5 => v.visit_f32_convert_i64_u(),
        0xb6 => v.visit_f32_demote_f64(),
        0xb7 => v.visit_f64_convert_i32_s(),
        0xb8 => v.visit_f64_convert_i32_u(),
        0xb9 => v.visit_f64_convert_i64_s(),
        0xba => v.visit_f64_convert_i64_u(),
        0xbb => v.visit_f64_promote_f32(),
        0xbc => v.visit_i32_reinterpret_f32(),
        0xbd => v.visit_i64_reinterpret_f64(),
        0xbe => v.visit_f32_reinterpret_i32(),
        0xbf => v.visit_f64_reinterpret_i64(),
        0xc0 => v.visit_i32_extend8_s(),
        0xc1 => v.visit_i32_extend16_s(),
        0xc2 => v.visit_i64_extend8_s(),
        0xc3 => v.visit_i64_extend16_s(),
        _ => v.visit_i64_extend32_s(),
    }
}

/// Visits the operator at `reader` through wasmparser's reader, keeping `frames`, and
/// returns the visit's output and the operator's length.
#[inline(never)]
fn general<'a, V>(
    mut reader: BinaryReader<'a>,
    frames: &mut Vec<FrameKind>,
    visitor: &mut V,
) -> Result<(V::Output, usize)>
where
    V: VisitOperator<'a>,
{
    let output = reader.visit_operator(&mut Adapter { frames, visitor })?;
    Ok((output, reader.current_position()))
}

/// The frame stack as wasmparser's `finish_expression` asks about it.
struct Frames<'r>(&'r [FrameKind]);

impl FrameStack for Frames<'_> {
    fn current_frame(&self) -> Option<FrameKind> {
        self.0.last().copied()
    }
}

/// Passes each operator of the general reader to the visitor, keeping the frame stack
/// as `OperatorsReader` does (structured instructions open a frame, `else`, `catch`
/// and `catch_all` replace the top one, `end` and `delegate` close it).
struct Adapter<'r, V> {
    frames: &'r mut Vec<FrameKind>,
    visitor: &'r mut V,
}

impl<V> FrameStack for Adapter<'_, V> {
    fn current_frame(&self) -> Option<FrameKind> {
        self.frames.last().copied()
    }
}

macro_rules! frames {
    ($frames:expr, visit_block) => {
        $frames.push(FrameKind::Block)
    };
    ($frames:expr, visit_loop) => {
        $frames.push(FrameKind::Loop)
    };
    ($frames:expr, visit_if) => {
        $frames.push(FrameKind::If)
    };
    ($frames:expr, visit_try) => {
        $frames.push(FrameKind::LegacyTry)
    };
    ($frames:expr, visit_try_table) => {
        $frames.push(FrameKind::TryTable)
    };
    ($frames:expr, visit_else) => {{
        $frames.pop();
        $frames.push(FrameKind::Else)
    }};
    ($frames:expr, visit_catch) => {{
        $frames.pop();
        $frames.push(FrameKind::LegacyCatch)
    }};
    ($frames:expr, visit_catch_all) => {{
        $frames.pop();
        $frames.push(FrameKind::LegacyCatchAll)
    }};
    ($frames:expr, visit_end) => {{
        $frames.pop();
    }};
    ($frames:expr, visit_delegate) => {{
        $frames.pop();
    }};
    ($frames:expr, $other:ident) => {};
}

macro_rules! define_adapter {
    ($(@$proposal:ident $op:ident $({ $($arg:ident: $argty:ty),* })? => $visit:ident ($($ann:tt)*))*) => {
        $(
            #[inline(always)]
            fn $visit(&mut self $($(,$arg: $argty)*)?) -> V::Output {
                frames!(self.frames, $visit);
                self.visitor.$visit($($($arg),*)?)
            }
        )*
    };
}

impl<'a, V: VisitOperator<'a>> VisitOperator<'a> for Adapter<'_, V> {
    type Output = V::Output;

    fn simd_visitor(&mut self) -> Option<&mut dyn VisitSimdOperator<'a, Output = Self::Output>> {
        self.visitor.simd_visitor()
    }

    for_each_visit_operator!(define_adapter);
}

#[cfg(test)]
mod tests {
    use super::{BodyReader, BuildOperator, WalkReader};
    use wasmparser::{BinaryReader, OperatorsReader, WasmFeatures};

    /// Reads `code` with this reader and `OperatorsReader` and checks they agree on
    /// every visit, offset and error, and on the end of the body.
    fn same_as_wasmparser(code: &[u8]) {
        let binary = BinaryReader::new_features(code, 100, WasmFeatures::all());
        let mut theirs = OperatorsReader::new(binary.clone());
        let mut frames = Vec::new();
        let mut ours = BodyReader::new(binary, &mut frames);
        loop {
            assert_eq!(ours.eof(), theirs.eof(), "{code:x?}");
            if theirs.eof() {
                break;
            }
            assert_eq!(ours.original_position(), theirs.original_position());
            let a = ours.visit_operator(&mut BuildOperator);
            let b = theirs.visit_operator(&mut BuildOperator);
            match (a, b) {
                (Ok(a), Ok(b)) => assert_eq!(a, b, "{code:x?}"),
                (Err(a), Err(b)) => {
                    assert_eq!((a.offset(), a.message()), (b.offset(), b.message()));
                    return;
                }
                (a, b) => panic!("readers disagree on {code:x?}: {a:?} vs {b:?}"),
            }
        }
        let (a, b) = (ours.finish(), theirs.finish());
        assert_eq!(
            a.map_err(|e| (e.offset(), e.message().to_string())),
            b.map_err(|e| (e.offset(), e.message().to_string())),
            "{code:x?}"
        );
    }

    /// Reads `code` to its end with [`WalkReader`] and with [`BodyReader`] (whose
    /// agreement with wasmparser `same_as_wasmparser` checks) as a walk does (visit
    /// until `eof`, then `finish`) and checks they see the same operators at the same
    /// offsets and end with the same result.
    fn walk_same_as_body_reader(code: &[u8]) {
        /// The operators seen (offset, operator) and how the walk ended.
        type Walked = (Vec<(u64, String)>, Result<(), (u64, String)>);
        fn walk<R>(
            reader: &mut R,
            eof: fn(&R) -> bool,
            position: fn(&R) -> u64,
            visit: fn(&mut R) -> wasmparser::Result<wasmparser::Operator<'_>>,
            finish: impl FnOnce(&mut R) -> wasmparser::Result<()>,
        ) -> Walked {
            let mut seen = Vec::new();
            let error = |e: wasmparser::BinaryReaderError| (e.offset(), e.message().to_string());
            while !eof(reader) {
                let offset = position(reader);
                match visit(reader) {
                    Ok(op) => seen.push((offset, format!("{op:?}"))),
                    Err(e) => return (seen, Err(error(e))),
                }
            }
            (seen, finish(reader).map_err(error))
        }
        let binary = BinaryReader::new_features(code, 100, WasmFeatures::all());
        let (mut frames_a, mut frames_b) = (Vec::new(), Vec::new());
        let mut ours = WalkReader::new(binary.clone(), &mut frames_a);
        let mut shared = BodyReader::new(binary, &mut frames_b);
        let a = walk(
            &mut ours,
            |r| r.eof(),
            |r| r.original_position(),
            |r| r.visit_operator(&mut BuildOperator),
            |r| r.finish(),
        );
        let b = walk(
            &mut shared,
            |r| r.eof(),
            |r| r.original_position(),
            |r| r.visit_operator(&mut BuildOperator),
            |r| r.finish(),
        );
        assert_eq!(a, b, "{code:x?}");
    }

    /// Operators at the edges of what the short path accepts: immediates of every LEB
    /// length around its limits, memory immediates with flags, block types beyond the
    /// value types, `else` in and out of `if`, operators after the end, truncations.
    #[test]
    fn agrees_with_wasmparser_at_the_edges_of_the_short_path() {
        let bodies: &[&[u8]] = &[
            &[
                0x20, 0x80, 0x01, 0x20, 0x80, 0x80, 0x01, 0x20, 0xff, 0xff, 0xff, 0x7f, 0x20, 0x80,
                0x80, 0x80, 0x80, 0x01, 0x10, 0x80, 0x00, 0x0b,
            ],
            &[0x21, 0xff, 0xff, 0xff, 0xff, 0x7f, 0x0b],
            &[
                0x41, 0xff, 0xff, 0xff, 0x7f, 0x41, 0x80, 0x80, 0x80, 0x80, 0x78, 0x42, 0x80, 0x80,
                0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x7f, 0x42, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                0xff, 0xff, 0xff, 0x7f, 0x0b,
            ],
            &[0x41, 0x80, 0x80, 0x80, 0x80, 0x10, 0x0b],
            // Linker-padded five-byte indices and addresses (the inline path's longest),
            // then ones wasmparser rejects: unused bits, a sixth byte, a truncated one.
            &[
                0x23, 0x80, 0x80, 0x80, 0x80, 0x00, 0x41, 0x90, 0x80, 0x80, 0x80, 0x00, 0x6a, 0x24,
                0x80, 0x80, 0x80, 0x80, 0x00, 0x10, 0x85, 0x80, 0x80, 0x80, 0x00, 0x41, 0xff, 0xff,
                0xff, 0xff, 0x7f, 0x41, 0xff, 0xff, 0xff, 0xff, 0x07, 0x1a, 0x1a, 0x0b,
            ],
            &[0x10, 0x80, 0x80, 0x80, 0x80, 0x10, 0x0b],
            &[0x41, 0x80, 0x80, 0x80, 0x80, 0x40, 0x0b],
            &[0x41, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x0b],
            &[0x23, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00, 0x0b],
            &[0x41, 0x80, 0x80, 0x80, 0x80],
            &[
                0x41, 0x00, 0x29, 0x03, 0xff, 0xff, 0xff, 0x7f, 0x1a, 0x41, 0x00, 0x41, 0x00, 0x3e,
                0x02, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x0b,
            ],
            &[0x41, 0x00, 0x28, 0x42, 0x01, 0x00, 0x1a, 0x0b],
            &[0x41, 0x00, 0x28, 0x12, 0x00, 0x0b],
            &[0x41, 0x00, 0x2d, 0x20, 0x00, 0x0b],
            &[
                0x02, 0x00, 0x0b, 0x03, 0x70, 0x0b, 0x04, 0xff, 0x7f, 0x0b, 0x0b,
            ],
            &[0x04, 0x7f, 0x41, 0x01, 0x05, 0x41, 0x02, 0x0b, 0x05, 0x0b],
            &[0x0b, 0x0b],
            &[0x0b, 0x20, 0x00],
            &[0x20, 0x80],
            &[0x42, 0x80, 0x80],
            &[0x28, 0x02],
            &[0x28],
            &[0x02],
            &[0x45, 0xc4, 0xc5, 0x0b],
            &[0x44, 0x0b],
            // try_table and legacy try/catch through the general reader's frames
            &[0x06, 0x40, 0x07, 0x00, 0x19, 0x0b, 0x0b],
            &[0x1f, 0x40, 0x00, 0x0b, 0x0b],
            // `delegate` closing a `try`, and outside one (where the function's frame
            // is on top: refused), with and without operators after it
            &[0x06, 0x40, 0x18, 0x00, 0x0b],
            &[0x18, 0x00],
            &[0x18, 0x00, 0x20, 0x00],
            &[0x0b, 0x18, 0x00],
            // a SIMD operator
            &[
                0xfd, 0x0c, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x1a, 0x0b,
            ],
        ];
        for body in bodies {
            same_as_wasmparser(body);
            walk_same_as_body_reader(body);
        }
        // Every opcode of the numeric range and its neighbours.
        for code in 0x40..=0xd0u8 {
            same_as_wasmparser(&[code, 0x0b]);
            walk_same_as_body_reader(&[code, 0x0b]);
        }
    }

    /// Random bodies over the bytes that matter to the short path.
    #[test]
    fn agrees_with_wasmparser_on_random_bodies() {
        const ALPHABET: &[u8] = &[
            0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x0b, 0x0c, 0x0d, 0x0f, 0x10, 0x1a,
            0x1b, 0x20, 0x21, 0x22, 0x23, 0x24, 0x28, 0x2c, 0x36, 0x3e, 0x40, 0x41, 0x42, 0x45,
            0x6a, 0x7f, 0x80, 0xc4, 0xff, 0x0e, 0x11, 0x43, 0x19,
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
            walk_same_as_body_reader(&body);
        }
    }
}
