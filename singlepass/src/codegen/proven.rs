//! What this path of a function has proven about memory accesses off a local's current
//! value, so a later access that those proofs cover needs no check (issue 16).
//!
//! Facts are about an [`AddrBase`]: a local's current value, or that value shifted left
//! by a constant (`local.get l; i32.const c; i32.shl`, how array indices become byte
//! addresses), which is as fixed as the local itself. Two kinds of fact, per base whose
//! value is `base`:
//!
//! - *In bounds*: `base + end <= memory length`. A load's length check proves it, and so
//!   does a store's check (the written ranges lie inside memory). Memory never shrinks
//!   while the instance lives, so nothing but a change of the local (or a control-flow
//!   join) undoes it; a later load of `[base + off, base + end')` with `end' <= end`
//!   cannot trap.
//! - *Marked*: `[base + from, base + end)` lies inside the *current* written range
//!   (`WrittenRanges::current`). A store's check proves it for its own bytes: the fast
//!   path proves `[base, base + end)` inside, the dirty-range stub marks exactly
//!   `[base + from, base + end)` (widening the current range over it, or starting a new
//!   current range there), so `[from, end)` is what both guarantee. `WrittenRanges::mark`
//!   of bytes inside the current range adds nothing, charges nothing and changes
//!   nothing, so a later store within a marked interval is skipped with the same gas,
//!   trap and memory as the model (cost table version 5). Loads never make this fact.
//!
//! Why *current* and not merely "written": `mark` looks only at the current range. Bytes
//! in a range moved aside are marked again (a new range, charged whole, or a widening),
//! so a marked fact dies whenever the current range may have been moved aside: a store
//! check off another address (it may be far away and move the range aside), a call, a
//! libcall. A store off the same local near its marked interval (within `WRITTEN_FAR` of
//! it) cannot be far from the current range, so it only widens it: every fact survives
//! and the local's interval grows to the hull of both (the current range is one
//! interval, so it holds everything between them too).
//!
//! A *store run* (`codegen/store_run.rs`) is a third fact, about one base: its first
//! check compared `[base, base + span)` against the current range (or set the run's flag).
//! It is about the current range too, so it dies whenever marked facts do.
//!
//! Facts hold until the local is written (`local.set`/`local.tee`, a fused binary into
//! it) or control flow joins (a loop header, `else`, `end`), where paths that did not
//! prove them arrive.

use crate::written::WRITTEN_FAR;

/// What an address is known to be computed from: local `local`'s current value shifted
/// left by `shift` bits (0: the value itself), modulo 2^32.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) struct AddrBase {
    pub local: u32,
    pub shift: u8,
}

impl AddrBase {
    /// The local's value itself.
    pub fn local(local: u32) -> AddrBase {
        AddrBase { local, shift: 0 }
    }
}

/// The facts about one base's current value.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
struct Fact {
    base: AddrBase,
    /// `base + in_bounds <= memory length` (0: nothing proven).
    in_bounds: u64,
    /// `[base + start, base + end)` lies inside the current written range.
    marked: Option<(u64, u64)>,
}

/// The proven facts of the path being compiled; a handful of locals at most in practice,
/// so a vector searched linearly (and deterministic). At most one local has a marked
/// interval at a time: a store off a local with none may be far from the current range.
#[derive(Debug, Default)]
pub(crate) struct Proven {
    facts: Vec<Fact>,
    /// The open store run (`codegen/store_run.rs`): its base and span end. It holds while
    /// the base's marked facts do: it dies with them.
    run: Option<(AddrBase, u64)>,
}

impl Proven {
    fn fact(&self, base: AddrBase) -> Option<&Fact> {
        self.facts.iter().find(|f| f.base == base)
    }

    fn fact_mut(&mut self, base: AddrBase) -> &mut Fact {
        let i = match self.facts.iter().position(|f| f.base == base) {
            Some(i) => i,
            None => {
                self.facts.push(Fact {
                    base,
                    in_bounds: 0,
                    marked: None,
                });
                self.facts.len() - 1
            }
        };
        &mut self.facts[i]
    }

    /// Whether a load ending at `base + end` off `local` is known in bounds.
    pub fn covers_load(&self, base: AddrBase, end: u64) -> bool {
        self.fact(base).is_some_and(|f| end <= f.in_bounds)
    }

    /// Whether a store of `[base + from, base + end)` off `local` lies inside the current
    /// written range already (so its check would mark and charge nothing).
    pub fn covers_store(&self, base: AddrBase, from: u64, end: u64) -> bool {
        self.fact(base)
            .and_then(|f| f.marked)
            .is_some_and(|(start, stop)| start <= from && end <= stop)
    }

    /// A store run's first check off `base` was emitted, checking `[base, base + span)`
    /// against the current range on its fast path (see `codegen/store_run.rs`). Call it
    /// after that check's [`Proven::stored`].
    pub fn open_run(&mut self, base: AddrBase, span: u64) {
        self.run = Some((base, span));
    }

    /// Whether a store run off `base` is open (the range may not have moved since its
    /// first check, `base` has not changed, and the path has been straight-line since).
    pub fn run_open(&self, base: AddrBase) -> bool {
        self.run.is_some_and(|(b, _)| b == base)
    }

    /// Whether the open run off `base` covers a check whose fast path would compare
    /// `[base, base + end)` (or `base + end <= memory length`).
    pub fn run_covers(&self, base: AddrBase, end: u64) -> bool {
        self.run.is_some_and(|(b, span)| b == base && end <= span)
    }

    /// A load's length check of `base + end` off `local` passed.
    pub fn loaded(&mut self, base: AddrBase, end: u64) {
        let fact = self.fact_mut(base);
        fact.in_bounds = fact.in_bounds.max(end);
    }

    /// A store's check of `[base + from, base + end)` off `local` passed.
    pub fn stored(&mut self, base: AddrBase, from: u64, end: u64) {
        let near = self
            .fact(base)
            .and_then(|f| f.marked)
            .filter(|&(start, stop)| from <= stop + WRITTEN_FAR && start <= end + WRITTEN_FAR);
        let marked = match near {
            // Not far from the current range: it only widened, every fact still holds.
            Some((start, stop)) => (start.min(from), stop.max(end)),
            None => {
                // The current range may have been moved aside.
                self.forget_marks();
                (from, end)
            }
        };
        // Only a store off the run's own base leaves its span inside the current range
        // (a near one widens it); the invariant above makes this redundant, but cheap.
        if self.run.is_some_and(|(b, _)| b != base) {
            self.run = None;
        }
        let fact = self.fact_mut(base);
        fact.marked = Some(marked);
        fact.in_bounds = fact.in_bounds.max(end);
    }

    /// A store's check off an address that is no local's value passed (or is about to
    /// run): it may have moved the current range aside.
    pub fn stored_elsewhere(&mut self) {
        self.forget_marks();
    }

    /// Something may have marked memory anywhere (a call, a libcall, a store off an
    /// address no fact is about): no marked fact survives; bounds still hold.
    pub fn forget_marks(&mut self) {
        for fact in &mut self.facts {
            fact.marked = None;
        }
        self.run = None;
    }

    /// Local `local` is about to change: the facts of every base computed from it were
    /// about the old value.
    pub fn forget_local(&mut self, local: u32) {
        self.facts.retain(|f| f.base.local != local);
        if self.run.is_some_and(|(b, _)| b.local == local) {
            self.run = None;
        }
    }

    /// Control flow joins: other paths may arrive without this path's facts.
    pub fn clear(&mut self) {
        self.facts.clear();
        self.run = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn local(local: u32) -> AddrBase {
        AddrBase::local(local)
    }

    #[test]
    fn loads_prove_bounds_never_marks() {
        let mut p = Proven::default();
        p.loaded(local(0), 16);
        assert!(p.covers_load(local(0), 16));
        assert!(!p.covers_load(local(0), 17));
        assert!(!p.covers_store(local(0), 8, 16));
        assert!(!p.covers_load(local(1), 1));
    }

    #[test]
    fn a_store_proves_its_own_bytes_only() {
        let mut p = Proven::default();
        p.stored(local(0), 16, 24);
        assert!(p.covers_store(local(0), 16, 24));
        assert!(p.covers_store(local(0), 20, 24));
        // The stub marked only [base + 16, base + 24): base + 8 may lie below the range.
        assert!(!p.covers_store(local(0), 8, 16));
        assert!(!p.covers_store(local(0), 16, 25));
        assert!(p.covers_load(local(0), 24));
    }

    #[test]
    fn near_stores_widen_far_ones_replace() {
        let mut p = Proven::default();
        p.stored(local(1), 0, 4);
        p.stored(local(0), 0, 8);
        // Off another local: that store may have moved the current range aside.
        assert!(!p.covers_store(local(1), 0, 4));
        assert!(p.covers_load(local(1), 4), "bounds survive");
        p.stored(local(0), 100, 108);
        // The hull: the current range is one interval holding both.
        assert!(p.covers_store(local(0), 40, 48));
        p.stored(local(0), 100 + 8 + WRITTEN_FAR, 116 + WRITTEN_FAR);
        assert!(p.covers_store(local(0), 0, 116 + WRITTEN_FAR), "still near");
        p.stored(local(0), 200_000, 200_008);
        assert!(
            !p.covers_store(local(0), 0, 8),
            "a far store may have started a new range"
        );
        assert!(p.covers_store(local(0), 200_000, 200_008));
        p.stored(local(0), 0, 8);
        assert!(!p.covers_store(local(0), 200_000, 200_008), "far below");
    }

    #[test]
    fn a_run_dies_with_the_marks() {
        let mut p = Proven::default();
        p.stored(local(0), 24, 32);
        p.open_run(local(0), 48);
        assert!(p.run_covers(local(0), 48) && !p.run_covers(local(0), 49));
        assert!(!p.run_covers(local(1), 8));
        // A near store off the base only widens the range: the run survives.
        p.stored(local(0), 48, 56);
        assert!(p.run_open(local(0)));
        p.forget_local(1);
        assert!(p.run_open(local(0)));
        p.stored(local(1), 0, 8);
        assert!(!p.run_open(local(0)), "a store off another base");
        for end in [
            |p: &mut Proven| p.forget_marks(),
            |p: &mut Proven| p.clear(),
            |p: &mut Proven| p.forget_local(0),
            |p: &mut Proven| p.stored_elsewhere(),
            |p: &mut Proven| p.stored(local(0), 200_000, 200_008),
        ] {
            let mut p = Proven::default();
            p.stored(local(0), 24, 32);
            p.open_run(local(0), 48);
            end(&mut p);
            assert!(!p.run_open(local(0)));
        }
    }

    #[test]
    fn invalidation() {
        let mut p = Proven::default();
        p.stored(local(0), 0, 8);
        p.stored_elsewhere();
        assert!(!p.covers_store(local(0), 0, 8));
        assert!(p.covers_load(local(0), 8));
        p.forget_local(0);
        assert!(!p.covers_load(local(0), 8));
        p.stored(local(2), 0, 8);
        p.clear();
        assert!(!p.covers_load(local(2), 8));
        // A shifted base is another base, forgotten with its local.
        let shifted = AddrBase { local: 3, shift: 2 };
        p.loaded(shifted, 40);
        p.loaded(local(3), 8);
        assert!(p.covers_load(shifted, 40) && !p.covers_load(local(3), 40));
        p.forget_local(3);
        assert!(!p.covers_load(shifted, 4));
        assert!(!p.covers_load(local(2), 8));
    }
}
