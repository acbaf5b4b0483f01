//! Store runs (issue 16): one written-range check for the stores off one base in a
//! stretch of straight-line code, the later checks reduced to a test of a flag.
//!
//! nbody writes `p[3]`, `p[4]`, `p[5]` off one local with only float arithmetic and loads
//! off the same local between; each store's bytes need their own check (a store's check
//! proves only its own bytes marked, see `proven`), and the loads before each store share
//! it (`load_window`), so three written-range checks of five instructions ran where one
//! covers them all when the bytes are written already, which in a loop they are.
//!
//! The scheme. The first store check off a base `b` (its own, or one shared with the
//! loads before it) that a bounded byte scan finds followed by further accesses off `b`
//! (`load_window::store_run_end`: their largest end `span`) *opens a run*
//! (`Proven::open_run`): its fast path compares `[b, b + span)` against the current
//! written range instead of `[b, b + end)`; its slow path does what the check's slow path
//! always did (the loads' length check, the dirty-range stub with the store's bytes), then
//! compares `[b, b + span)` again and sets `VmCtx::store_run_unproven` to 1 if it is still
//! not inside, 0 if it is. While the run is open, every later check off `b` whose fast
//! path would compare no more than `[b, b + span)` (a store check, or a load's length
//! check) is emitted *behind the flag*: inline only `cmp dword [flag], 0; jne slow`, and out
//! of line that check whole (its fast compare, then its slow path), exactly as it would
//! have been emitted without the run, with the same `proven` facts. The last check
//! behind the flag of a run clears the flag out of line (0 when its check is done).
//!
//! Why exact. Every check behind the flag either runs as it would have without the run
//! (flag 1) or is skipped; it is skipped only when the flag is 0, and then its fast
//! compare would have passed, so skipping it changes nothing (no stub call: no mark, no
//! charge, no trap). Proof of that: between the run's first check and a later check of
//! the same run, codegen guarantees straight-line code in which nothing moves the current
//! range aside, changes `b` or shrinks memory: the run is forgotten with `b`'s marked
//! facts (any call or libcall, a store check off another address or a far store off `b`,
//! a write of `b`'s local, a control-flow join), and a store check off `b` that is not
//! behind the flag is near `b`'s marked interval, so it can only widen the range. So the
//! only writers of the flag run in between are the first check's slow path and the
//! slow paths of earlier checks of the same run, which are not its last and leave the
//! flag alone. If the first check's fast path passed, `[b, b + span)` was inside the
//! current range; if its slow path ran, the flag is 0 only if `[b, b + span)` was inside
//! after the stub. Either way, when the later check finds 0 (from that slow path, or left
//! by earlier code while the fast path passed), `[b, b + span)` is inside the current
//! range still, which holds the later check's bytes and lies inside memory. A 1 left
//! over (a run that trapped or branched out before its last check) only sends checks of
//! the next run out of line, where they do their full work: correct, and that run's
//! last check clears it; the runtime zeroes the flag before every call.
//!
//! The first check's slow path runs the stub also when only the span (not the store's own
//! bytes) lay outside: `WrittenRanges::mark` of bytes inside the current range adds,
//! charges and changes nothing, and the loads' length check passes, so that is the same.
//!
//! Per-store semantics at a failing check hold because nothing moved: a store that would
//! run out of gas or out of bounds is one whose bytes are outside the range, so the flag
//! is 1 at it (its span was not proven) and its own check runs at its own place, after the
//! stores before it wrote. x86-64 only (`MacroAssembler::store_runs`); AArch64 emits the
//! checks as before, with the same behaviour.

use crate::masm::{Label, MacroAssembler, Reg, StoreCheck};

use super::aligned::aligned;
use super::func::FuncGen;
use super::load_window::{RunMemo, Scan};
use super::proven::AddrBase;

impl<M: MacroAssembler> FuncGen<'_, M> {
    /// The check of a store of `[addr + from, addr + to)` (`addr` holds `base`'s value,
    /// a multiple of `2^shift`), with `loads = Some((end, oob, scan))` when it is also the
    /// length check of the loads before it up to `addr + end` (`load_window`; `scan` the
    /// window's, stopped past the store): behind the open run's flag when the run covers
    /// it, opening a run when a scan finds accesses off `base` after it, else plain.
    /// Records what it proves in `proven`.
    pub(super) fn store_check(
        &mut self,
        addr: Reg,
        base: Option<AddrBase>,
        shift: u8,
        from: u64,
        to: u64,
        loads: Option<(u64, Label, Scan)>,
    ) {
        let check = StoreCheck {
            addr,
            from,
            end: to,
            loads: loads.map(|(end, oob, _)| (end, oob)),
            widen: self.widen_label(),
        };
        let end = check.fast_end();
        let Some(base) = base else {
            self.masm.store_check(check, aligned(shift, end));
            self.proven.stored_elsewhere();
            return;
        };
        if self.proven.run_covers(base, end) {
            self.masm.flagged_store_check(check, aligned(shift, end));
            self.proven.stored(base, from, to);
            return;
        }
        let span = match self.masm.store_runs() && !self.proven.run_open(base) {
            true => self.store_run_span(base, to, loads.map(|(_, _, scan)| scan)),
            false => 0,
        };
        if span > end {
            self.masm.store_run_check(check, span, aligned(shift, span));
            self.proven.stored(base, from, to);
            self.proven.open_run(base, span);
        } else {
            self.masm.store_check(check, aligned(shift, end));
            self.proven.stored(base, from, to);
        }
    }

    /// A load's length check of `addr + end` (`addr` holding `base`'s value): behind the
    /// open run's flag when the run covers it.
    pub(super) fn load_check(
        &mut self,
        addr: Reg,
        base: Option<AddrBase>,
        end: u64,
        oob: Label,
        aligned: bool,
    ) {
        if base.is_some_and(|base| self.proven.run_covers(base, end)) {
            self.masm.flagged_bounds_check(addr, end, oob, aligned);
        } else {
            self.masm.bounds_check(addr, end, oob, aligned);
        }
    }

    /// The span of a run opened by the check of the access being compiled off `base`
    /// (see `load_window::store_run_end`), 0 if none: for a check a load's window shares
    /// (`window`: its scan, stopped past this store, whose end is `to`), the window's scan
    /// goes on; for a store's own, a scan from it, unless `run_memo` knows the span.
    fn store_run_span(&mut self, base: AddrBase, to: u64, window: Option<Scan>) -> u64 {
        let keep = self.stack.len() <= RunMemo::MAX_DEPTH;
        if let Some(scan) = window {
            return scan.run_end_after(self.code, to, keep.then_some(&mut self.run_memo));
        }
        let below = self.base_entries(base);
        let memo = keep.then_some(&mut self.run_memo);
        let at = self.offset.checked_sub(self.code_start);
        at.and_then(|at| usize::try_from(at).ok()).map_or(0, |at| {
            super::load_window::store_run_end(self.code, at, base, below, memo)
        })
    }
}
