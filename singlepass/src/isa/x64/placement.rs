//! Code placement on x86-64: where functions, loop headers and the conditional branches
//! inside loops fall relative to the front end's 32-byte windows.
//!
//! The front end fetches and caches decoded instructions per aligned window, and a
//! compare fuses with the conditional branch after it (one micro-op) only when no window
//! boundary separates them. A hot loop whose `jcc` straddles a boundary ran matmul a
//! quarter slower (see ARCHITECTURE.md "Code placement"). Padding every pair that comes
//! near a boundary costs NOPs that run too (nbody, keccak, sieve) and compile time, so
//! only the two hazards are padded, and only where code repeats. The rules:
//!
//! - every function starts on a [`FUNCTION_ALIGN`] boundary, filled with `int3` (never
//!   executed: functions are only entered by calls). Each part of a parallel compile
//!   starts at offset 0 and is appended at an aligned offset, so the bytes are the same
//!   whatever the thread count;
//! - inside a loop, no fused pair's `jcc` crosses a [`BRANCH_WINDOW`] boundary and no
//!   boundary falls between the flag-setting instruction and its `jcc`: multi-byte NOPs
//!   go before the pair when either would happen, moving it to the next window. Pairs
//!   outside every loop run once per call and are left where they fall;
//! - a loop header whose first pair (its gas charge, or the compare of a `br_if`; 2 to 7
//!   bytes before the `jcc`) could need such NOPs gets them before its label, so they
//!   run once on entry instead of on every iteration.
//!
//! Where the instructions just before a pair's compare are known (a bounds or store
//! check's address arithmetic: `lea`, `mov`, `sub`, `add`), the padding goes into them
//! instead, as redundant `ds` segment prefixes (ignored in 64-bit mode; at most
//! [`MAX_PREFIXES`] on one instruction, none past 15 bytes), so the pair moves just as far
//! but no NOP runs (nbody's store checks ran one a check). Only when they cannot take it
//! all do NOPs go in, as before.
//!
//! Every rule depends on offsets inside the function only, so it is deterministic.

use dynasmrt::DynasmApi;

use super::X64Masm;

/// Alignment of every function's first instruction (bytes).
pub(super) const FUNCTION_ALIGN: usize = 32;

/// Inside a loop, a fused pair's `jcc` never crosses a multiple of this, and no multiple
/// of it lies between the pair's two instructions.
pub(super) const BRANCH_WINDOW: usize = 32;

/// The longest flag-setting half a loop header may start with: `sub r13, imm32` (the
/// gas charge) or a `cmp` with a 32-bit displacement (7 bytes).
const MAX_HEADER_COMPARE: usize = 7;

/// Bytes of a `jcc rel32` (every branch to a label is emitted in that form).
pub(super) const JCC_BYTES: usize = 6;

#[cfg(test)]
thread_local! {
    /// Every fused pair placed on this thread: its start (after any padding), its length
    /// with the `jcc`, and whether it lies inside a loop (only those are padded), for
    /// `placement_tests`.
    pub(super) static PLACED_PAIRS: std::cell::RefCell<Vec<(usize, usize, bool)>> =
        const { std::cell::RefCell::new(Vec::new()) };
}

/// Redundant prefixes one instruction takes at most: the assemblers' default for
/// prefix padding (GNU as `-malign-branch-prefix-size`), which decoders take without
/// penalty.
const MAX_PREFIXES: usize = 5;

/// The `ds` segment override: no effect in 64-bit mode on any instruction it pads here.
const DS: u8 = 0x3e;

/// The longest x86 instruction, prefixes included.
const MAX_INSTRUCTION: usize = 15;

/// Instructions emitted just before a pair's compare that may take padding prefixes:
/// their starts, in order, the last one's end being where the compare starts.
#[derive(Copy, Clone, Debug, Default)]
pub(super) struct PrefixRoom {
    starts: [usize; 3],
    count: usize,
    /// Where the compare starts (the last instruction's end).
    compare: usize,
}

impl PrefixRoom {
    /// Instructions starting at `starts` (ascending, at most 3) and running up to the
    /// compare at `compare`.
    pub(super) fn new(starts: &[usize], compare: usize) -> PrefixRoom {
        let mut room = PrefixRoom {
            compare,
            ..PrefixRoom::default()
        };
        let count = starts.len().min(room.starts.len());
        room.starts[..count].copy_from_slice(&starts[..count]);
        room.count = count;
        room
    }
}

/// The integer instructions emitted back to back just before the current offset (at most
/// the last 3): loads, stores, shifts and ALU operations, none of which holds a label
/// reference, a label or a recorded offset. Cleared when a label is bound (prefixes
/// before a label's code would move it from under the label); any other code emitted
/// in between ends the run, since the next one no longer starts at its end. A compare
/// starting at `end` can take its padding as prefixes on them (see
/// [`PlainRun::room_before`]): this is how a pair after a load (quicksort's partition
/// scans) or an increment and a store (keccak's column loops) moves without a NOP.
#[derive(Copy, Clone, Debug, Default)]
pub(super) struct PlainRun {
    starts: [usize; 3],
    count: usize,
    end: usize,
}

impl PlainRun {
    /// An instruction (or a few) at `start..end` just emitted.
    fn push(&mut self, start: usize, end: usize) {
        if start == end {
            return;
        }
        if self.count == 0 || self.end != start {
            *self = PlainRun::default();
        }
        if self.count == self.starts.len() {
            self.starts.copy_within(1.., 0);
            self.count -= 1;
        }
        self.starts[self.count] = start;
        self.count += 1;
        self.end = end;
    }

    /// The room for a compare at `compare` whose own room (a check's address arithmetic,
    /// see [`PrefixRoom`]) is `own`: this run's instructions when they end where `own`
    /// starts (or at `compare`, with no own room), then `own`'s, at most 3 (the last).
    fn room_before(&self, own: Option<&PrefixRoom>, compare: usize) -> Option<PrefixRoom> {
        let own = own.filter(|room| room.compare == compare && room.count > 0);
        let joins = match own {
            Some(room) => room.starts[0],
            None => compare,
        };
        if self.count == 0 || self.end != joins {
            return own.copied();
        }
        let mut starts = [0; 6];
        let run = &self.starts[..self.count];
        starts[..run.len()].copy_from_slice(run);
        let mut n = run.len();
        if let Some(room) = own {
            starts[n..n + room.count].copy_from_slice(&room.starts[..room.count]);
            n += room.count;
        }
        Some(PrefixRoom::new(&starts[n.saturating_sub(3)..n], compare))
    }
}

/// How many prefixes each instruction of `room` takes to move the compare at `compare` by
/// `pad` bytes, or `None` when together they cannot take that many.
pub(super) fn prefix_split(room: &PrefixRoom, compare: usize, pad: usize) -> Option<[usize; 3]> {
    let starts = &room.starts[..room.count];
    if room.compare != compare || starts.first().is_none_or(|&first| first > compare) {
        return None;
    }
    let mut room_of = [0; 3];
    for (i, &start) in starts.iter().enumerate() {
        let end = starts.get(i + 1).copied().unwrap_or(compare);
        room_of[i] = MAX_PREFIXES.min(MAX_INSTRUCTION.saturating_sub(end.checked_sub(start)?));
    }
    if room_of.iter().sum::<usize>() < pad {
        return None;
    }
    // Spread evenly (one at a time, first instructions first): few prefixes on each.
    let mut split = [0; 3];
    let mut left = pad;
    while left > 0 {
        for i in 0..starts.len() {
            if left > 0 && split[i] < room_of[i] {
                split[i] += 1;
                left -= 1;
            }
        }
    }
    Some(split)
}

/// `int3`: the filler between functions.
const INT3: u8 = 0xcc;

/// The recommended multi-byte NOPs (Intel SDM, `NOP`), by length 1..=9.
const NOPS: [&[u8]; 9] = [
    &[0x90],
    &[0x66, 0x90],
    &[0x0f, 0x1f, 0x00],
    &[0x0f, 0x1f, 0x40, 0x00],
    &[0x0f, 0x1f, 0x44, 0x00, 0x00],
    &[0x66, 0x0f, 0x1f, 0x44, 0x00, 0x00],
    &[0x0f, 0x1f, 0x80, 0x00, 0x00, 0x00, 0x00],
    &[0x0f, 0x1f, 0x84, 0x00, 0x00, 0x00, 0x00, 0x00],
    &[0x66, 0x0f, 0x1f, 0x84, 0x00, 0x00, 0x00, 0x00, 0x00],
];

/// Bytes of padding that take `offset` to the next multiple of `align` (a power of two).
pub(super) fn padding_to(offset: usize, align: usize) -> usize {
    offset.wrapping_neg() & (align - 1)
}

/// Padding before a fused pair whose flag-setting half of `cmp_len` bytes starts at
/// `offset`: when its `jcc` would cross a [`BRANCH_WINDOW`] boundary, or start exactly
/// on one (the boundary between the two halves), the whole pair moves to the next
/// window; else 0. A `jcc` that merely ends on the boundary, or a compare that crosses
/// it with its `jcc` after it, stays where it is (both fuse).
pub(super) fn pair_padding(offset: usize, cmp_len: usize) -> usize {
    let within = offset % BRANCH_WINDOW;
    let jcc = (within + cmp_len) % BRANCH_WINDOW;
    if cmp_len >= BRANCH_WINDOW {
        0
    } else if jcc == 0 || jcc + JCC_BYTES > BRANCH_WINDOW {
        BRANCH_WINDOW - within
    } else {
        0
    }
}

/// Padding before a loop header at `offset`: up to the next [`BRANCH_WINDOW`] boundary
/// when a pair whose first half is 2 to 7 bytes long (every loop-header gas charge, and
/// the `cmp`/`test` a `br_if` starts with) would need [`pair_padding`] there, else 0.
pub(super) fn loop_header_padding(offset: usize) -> usize {
    let within = offset % BRANCH_WINDOW;
    if (2..=MAX_HEADER_COMPARE).any(|len| pair_padding(within, len) > 0) {
        BRANCH_WINDOW - within
    } else {
        0
    }
}

/// `bytes` of executable padding: as few NOP instructions as possible (at most 9 bytes
/// each), written into `out`; returns how many bytes of `out` were used.
pub(super) fn nops(bytes: usize, out: &mut [u8; BRANCH_WINDOW]) -> usize {
    let mut used = 0;
    let mut left = bytes.min(BRANCH_WINDOW);
    while left > 0 {
        let nop = NOPS[left.min(NOPS.len()) - 1];
        out[used..used + nop.len()].copy_from_slice(nop);
        used += nop.len();
        left -= nop.len();
    }
    used
}

impl X64Masm {
    /// `int3` up to the next [`FUNCTION_ALIGN`] boundary; a new function is outside
    /// every loop.
    pub(super) fn emit_function_alignment(&mut self) {
        self.loop_depth = 0;
        self.emit_int3_to(FUNCTION_ALIGN);
    }

    /// `int3` up to the next multiple of `align` (a power of two): filler that is never
    /// executed (between functions, before a function's constant pool).
    pub(super) fn emit_int3_to(&mut self, align: usize) {
        let pad = padding_to(self.ops.offset().0, align);
        self.ops.extend(std::iter::repeat_n(INT3, pad));
    }

    /// Before a loop header: NOPs up to the next [`BRANCH_WINDOW`] boundary when the
    /// header's first pair could need them ([`loop_header_padding`]), so that they run
    /// once, before the loop, not on every iteration (the header's label is bound before
    /// any padding that `place_pair` inserts). A header that starts with the body
    /// (`pair_first` false: a bottom-tested counted loop, whose charge is out of the
    /// loop) is always aligned: its first pair comes after a few instructions (a bounds
    /// check's address arithmetic), and from the window's start it fits the window
    /// (keccak's column loop: an 8-byte `lea` then a 13-byte pair, which from 12 bytes
    /// into a window ran 12 bytes of NOPs every iteration).
    pub(super) fn emit_loop_alignment(&mut self, pair_first: bool) {
        self.loop_depth += 1;
        let offset = self.ops.offset().0;
        let pad = match pair_first {
            true => loop_header_padding(offset),
            false => padding_to(offset, BRANCH_WINDOW),
        };
        // Less than a window, which `nops` fills in one go.
        let mut filler = [0u8; BRANCH_WINDOW];
        let used = nops(pad, &mut filler);
        self.ops.extend(&filler[..used]);
        self.last_compare = None;
    }

    /// Puts `split[i]` `ds` prefixes before instruction `i` of `room`: the code from the
    /// first one on (address arithmetic and the compare at `compare` just emitted, no
    /// label reference or label among them) is emitted again with them.
    fn insert_prefixes(&mut self, room: &PrefixRoom, compare: usize, split: [usize; 3]) {
        let starts = &room.starts[..room.count];
        let first = starts[0];
        let end = self.ops.offset().0;
        // At most 3 instructions of 15 bytes and a compare: 64 bytes, prefixes included.
        let mut out = [DS; 64];
        let Some(code) = self.ops.code_at(first, end - first) else {
            return;
        };
        let mut used = 0;
        for (i, &start) in starts.iter().enumerate() {
            let next = starts.get(i + 1).copied().unwrap_or(compare);
            // `out` is all `ds`: skipping over the prefixes writes them.
            used += split[i];
            let len = next - start;
            out[used..used + len].copy_from_slice(&code[start - first..next - first]);
            used += len;
        }
        let len = end - compare;
        out[used..used + len].copy_from_slice(&code[compare - first..]);
        used += len;
        self.ops.replace_tail(first, &out[..used]);
    }

    /// Integer code just emitted from `start` on (see [`PlainRun`]): it may take the
    /// padding of a compare right after it. Recorded only inside loops.
    pub(super) fn plain(&mut self, start: usize) {
        if self.loop_depth > 0 {
            self.plain_run.push(start, self.ops.offset().0);
        }
    }

    /// The end of the innermost loop: pairs after it are padded only if another loop
    /// still encloses them.
    pub(super) fn emit_loop_end(&mut self) {
        self.loop_depth = self.loop_depth.saturating_sub(1);
    }

    /// Called just after the flag-setting half of a fused pair that started at `start`
    /// (and holds no label reference), just before its `jcc` (rel32) is emitted: inside a
    /// loop, moves that half past NOPs when [`pair_padding`] asks for them.
    ///
    /// Inlined: most pairs (every one outside loops, most inside) need nothing, and the
    /// check is a few instructions where the padding's prologue was a dozen
    /// ([`Self::pad_pair`] is out of line).
    #[inline]
    pub(super) fn place_pair(&mut self, start: usize) {
        let in_loop = self.loop_depth > 0;
        let cmp_len = self.ops.offset().0 - start;
        let needed = if in_loop {
            pair_padding(start, cmp_len)
        } else {
            0
        };
        // How far the compare moved (read by the placement tests).
        #[cfg_attr(not(test), allow(unused_variables))]
        let pad = if needed > 0 {
            self.pad_pair(start, cmp_len, needed)
        } else {
            0
        };
        #[cfg(test)]
        PLACED_PAIRS.with(|p| {
            p.borrow_mut()
                .push((start + pad, cmp_len + JCC_BYTES, in_loop))
        });
    }

    /// Moves the pair whose `cmp_len`-byte compare starts at `start` by `needed` bytes
    /// (or the least that leaves it unhazarded, with prefixes): prefixes on the
    /// instructions before it when they can take them, else NOPs. Returns how far it
    /// moved.
    #[inline(never)]
    fn pad_pair(&mut self, start: usize, cmp_len: usize, needed: usize) -> usize {
        // A room recorded for another compare (one that needed no padding) is left
        // stale: `prefix_split` finds that its compare is not this one.
        let own = self.prefix_room.take();
        let room = self.plain_run.room_before(own.as_ref(), start);
        self.plain_run = PlainRun::default();
        // Prefixes move the pair to the next window, or when they cannot, the least
        // that leaves it unhazarded (its compare then crosses the boundary, its `jcc`
        // after it); NOPs move it to the next window.
        let least = (1..needed)
            .find(|&p| pair_padding(start + p, cmp_len) == 0)
            .unwrap_or(needed);
        let prefixed = room.and_then(|room| {
            [needed, least]
                .into_iter()
                .find_map(|p| Some((p, prefix_split(&room, start, p)?)))
                .map(|(p, split)| (room, p, split))
        });
        match prefixed {
            Some((room, moved, split)) => {
                self.insert_prefixes(&room, start, split);
                moved
            }
            None => {
                let mut filler = [0u8; BRANCH_WINDOW];
                let used = nops(needed, &mut filler);
                self.ops.insert_before_tail(start, &filler[..used]);
                needed
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn padding_reaches_the_boundary() {
        assert_eq!(padding_to(0, 64), 0);
        assert_eq!(padding_to(1, 64), 63);
        assert_eq!(padding_to(64, 64), 0);
        assert_eq!(padding_to(100, 32), 28);
    }

    #[test]
    fn only_a_straddling_or_separated_jcc_is_padded() {
        // A 4-byte compare at 21: its jcc at 25..31 fits. At 22 the jcc ends on the
        // boundary (fuses: not padded); at 23 it crosses, at 28 the boundary falls
        // between the two halves: the whole pair moves to 32.
        assert_eq!(pair_padding(21, 4), 0);
        assert_eq!(pair_padding(22, 4), 0);
        assert_eq!(pair_padding(23, 4), 9);
        assert_eq!(pair_padding(27, 4), 5);
        assert_eq!(pair_padding(28, 4), 4);
        // The compare crossing the boundary with its jcc after it: fine.
        assert_eq!(pair_padding(29, 4), 0);
        assert_eq!(pair_padding(64 + 23, 4), 9);
        assert_eq!(pair_padding(64, 7), 0);
    }

    #[test]
    fn loop_headers_are_padded_where_a_short_pair_could_straddle() {
        // A 7-byte compare at 20 puts its jcc at 27..33; a 2-byte one at 30 puts the
        // boundary between the halves. At 19 and 31 no compare of 2..=7 bytes needs it.
        assert_eq!(loop_header_padding(19), 0);
        assert_eq!(loop_header_padding(20), 12);
        assert_eq!(loop_header_padding(30), 2);
        assert_eq!(loop_header_padding(31), 0);
        assert_eq!(loop_header_padding(32), 0);
        for offset in 0..256 {
            let pad = loop_header_padding(offset);
            for len in 2..=MAX_HEADER_COMPARE {
                assert_eq!(pair_padding(offset + pad, len), 0, "{offset} {len}");
            }
        }
    }

    #[test]
    fn prefixes_fill_exactly_what_the_instructions_can_take() {
        // Three instructions of 3, 7 and 7 bytes before a compare at 117: 5 + 5 + 5.
        let room = PrefixRoom::new(&[100, 103, 110], 117);
        assert_eq!(prefix_split(&room, 117, 15), Some([5, 5, 5]));
        assert_eq!(prefix_split(&room, 117, 16), None);
        // Spread evenly, the first ones first.
        assert_eq!(prefix_split(&room, 117, 4), Some([2, 1, 1]));
        assert_eq!(prefix_split(&room, 117, 1), Some([1, 0, 0]));
        // 15 bytes at most: a 12-byte instruction takes 3, a 15-byte one none.
        let room = PrefixRoom::new(&[0, 12], 27);
        assert_eq!(prefix_split(&room, 27, 3), Some([3, 0, 0]));
        assert_eq!(prefix_split(&room, 27, 4), None);
        // Recorded for another compare: nothing.
        let room = PrefixRoom::new(&[0], 8);
        assert_eq!(prefix_split(&room, 9, 1), None);
        assert_eq!(prefix_split(&room, 8, 5), Some([5, 0, 0]));
        assert_eq!(prefix_split(&PrefixRoom::default(), 0, 1), None);
    }

    #[test]
    fn a_run_is_the_last_three_back_to_back_instructions_ending_at_the_compare() {
        let mut run = PlainRun::default();
        run.push(10, 13);
        run.push(13, 17);
        // Nothing emitted: no instruction.
        run.push(17, 17);
        let room = run.room_before(None, 17).expect("ends at the compare");
        assert_eq!(room.starts[..room.count], [10, 13]);
        // A compare somewhere else, or a gap, has none.
        assert!(run.room_before(None, 18).is_none());
        run.push(20, 24);
        assert!(run.room_before(None, 17).is_none());
        assert_eq!(
            run.room_before(None, 24).expect("new run").starts[..1],
            [20]
        );
        // Only the last three.
        run.push(24, 27);
        run.push(27, 30);
        run.push(30, 33);
        let room = run.room_before(None, 33).expect("ends at the compare");
        assert_eq!(room.starts[..room.count], [24, 27, 30]);
        // Joined before a check's own room (its `lea` at 33), the last three of all.
        let own = PrefixRoom::new(&[33], 41);
        let room = run.room_before(Some(&own), 41).expect("joins");
        assert_eq!(room.starts[..room.count], [27, 30, 33]);
        assert_eq!(room.compare, 41);
        // Not joined: the own room alone.
        let own = PrefixRoom::new(&[34], 41);
        let room = run.room_before(Some(&own), 41).expect("own");
        assert_eq!(room.starts[..room.count], [34]);
        // An own room recorded for another compare is ignored.
        let room = run.room_before(Some(&own), 33).expect("the run");
        assert_eq!(room.starts[..room.count], [24, 27, 30]);
        // A 3-byte compare at 24 within the window needs 8 bytes to reach the next one,
        // but 6 leave it crossing the boundary with its jcc after it: the least move.
        assert_eq!(pair_padding(24, 3), 8);
        assert_eq!((1..8).find(|&p| pair_padding(24 + p, 3) == 0), Some(6));
    }

    #[test]
    fn nops_fill_exactly() {
        let mut out = [0u8; BRANCH_WINDOW];
        for n in 0..=BRANCH_WINDOW {
            assert_eq!(nops(n, &mut out), n);
        }
        assert_eq!(nops(11, &mut out), 11);
        assert_eq!(
            &out[..11],
            &[0x66, 0x0f, 0x1f, 0x84, 0, 0, 0, 0, 0, 0x66, 0x90]
        );
    }
}
