//! Code placement on x86-64: where functions, loop headers and conditional branches
//! fall relative to the front end's 32- and 64-byte windows.
//!
//! The front end fetches, decodes and caches decoded instructions per aligned window,
//! and a compare fused with the conditional branch after it is one micro-op only when
//! both lie in the same window. Where a hot loop lands therefore changes its speed by
//! up to a quarter (matmul, see ARCHITECTURE.md "Code placement"). So that the place
//! does not depend on what came before in the module, the rules are:
//!
//! - every function starts on a [`FUNCTION_ALIGN`] boundary, filled with `int3` (never
//!   executed: functions are only entered by calls). Each part of a parallel compile
//!   starts at offset 0 and is appended at an aligned offset, so the bytes are the same
//!   whatever the thread count;
//! - no fused pair (the flag-setting instruction and its `jcc`) crosses or ends on a
//!   [`BRANCH_WINDOW`] boundary: multi-byte NOPs go before the pair when it would;
//! - a loop header whose gas charge would need such NOPs gets them before its label,
//!   so they run once on entry instead of on every iteration.
//!
//! Every rule depends on offsets inside the function only, so it is deterministic.

use dynasmrt::DynasmApi;

use super::X64Masm;

/// Alignment of every function's first instruction (bytes).
pub(super) const FUNCTION_ALIGN: usize = 32;

/// A fused compare-and-branch never crosses or ends on a multiple of this.
pub(super) const BRANCH_WINDOW: usize = 32;

/// The longest gas charge a loop header starts with: `sub r13, imm32; jb rel32`.
pub(super) const LOOP_HEADER_PAIR: usize = 13;

/// Bytes of a `jcc rel32` (every branch to a label is emitted in that form).
pub(super) const JCC_BYTES: usize = 6;

#[cfg(test)]
thread_local! {
    /// Every fused pair placed on this thread: its start (after any padding) and length
    /// with the `jcc`, for `placement_tests`.
    pub(super) static PLACED_PAIRS: std::cell::RefCell<Vec<(usize, usize)>> =
        const { std::cell::RefCell::new(Vec::new()) };
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

/// Padding before a fused pair of `len` bytes at `offset` so that it neither crosses nor
/// ends on a [`BRANCH_WINDOW`] boundary: 0 when it fits where it is, else up to the
/// boundary (a pair is far shorter than a window).
pub(super) fn pair_padding(offset: usize, len: usize) -> usize {
    let within = offset % BRANCH_WINDOW;
    if within + len >= BRANCH_WINDOW && len < BRANCH_WINDOW {
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
    /// `int3` up to the next [`FUNCTION_ALIGN`] boundary.
    pub(super) fn emit_function_alignment(&mut self) {
        let pad = padding_to(self.ops.offset().0, FUNCTION_ALIGN);
        self.ops.extend(std::iter::repeat_n(INT3, pad));
    }

    /// Before a loop header: NOPs up to the next [`BRANCH_WINDOW`] boundary when a pair of
    /// [`LOOP_HEADER_PAIR`] bytes there would need them, so that the padding of the
    /// header's gas charge runs once, before the loop, not on every iteration (the
    /// header's label would be bound before padding that `place_pair` inserts).
    pub(super) fn emit_loop_alignment(&mut self) {
        let pad = pair_padding(self.ops.offset().0, LOOP_HEADER_PAIR);
        // Less than a window, which `nops` fills in one go.
        let mut filler = [0u8; BRANCH_WINDOW];
        let used = nops(pad, &mut filler);
        self.ops.extend(&filler[..used]);
        self.last_compare = None;
    }

    /// Called just after the flag-setting half of a fused pair that started at `start`
    /// (and holds no label reference), just before its `jcc` (rel32) is emitted: moves
    /// that half past NOPs when the pair would cross or end on a window boundary.
    pub(super) fn place_pair(&mut self, start: usize) {
        let len = self.ops.offset().0 - start + JCC_BYTES;
        let pad = pair_padding(start, len);
        if pad > 0 {
            let mut filler = [0u8; BRANCH_WINDOW];
            let used = nops(pad, &mut filler);
            self.ops.insert_before_tail(start, &filler[..used]);
        }
        #[cfg(test)]
        PLACED_PAIRS.with(|p| p.borrow_mut().push((start + pad, len)));
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
    fn pairs_that_cross_or_end_on_a_boundary_are_padded() {
        // 10 bytes at 21 end on 31: fits. At 22 they end on the boundary, at 30 cross it.
        assert_eq!(pair_padding(21, 10), 0);
        assert_eq!(pair_padding(22, 10), 10);
        assert_eq!(pair_padding(30, 10), 2);
        assert_eq!(pair_padding(64, 13), 0);
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
