//! Counted loops (issue 16): a loop whose iterations the instrumented module charges one
//! by one is compiled with its charge taken out of the loop body, and the iterations
//! charged once, where the loop is left (ARCHITECTURE.md, "Counted-loop charge"). Built:
//! x86-64, unsigned tests, step 1, a nonzero constant or a local step, top-tested
//! count-down loops, loads and stores in the body. The instrumented module is unchanged: only its
//! compiled code is.
//!
//! The two shapes, as the metering pass writes sieve's count loop (top-tested, the
//! header's charge deferred past the exit test, `metering/src/defer.rs`) and matmul's
//! inner loop (bottom-tested, the exit's charge folded in before the `end`):
//!
//! ```text
//! loop                                  loop
//!   local.get $j  $n  i32.ge_u            i64.const C  call $gas
//!   br_if $exit                           B
//!   i64.const C  call $gas                local.get $k  i32.const 1  i32.add
//!   B                                     local.set $k
//!   local.get $j  i32.const 1  i32.add    local.get $k  $n  i32.lt_u  br_if 0
//!   local.set $j                          [i64.const E  call $gas]
//!   br 0                                end
//! end
//! ```
//!
//! `$j`/`$k` an i32 local in a register written only by the update, `$n` (`local.get $n`
//! or `i32.const n`) a constant or an i32 local nothing in the loop writes, `$exit` a
//! `block` without results, `B` see [`CLASSES`]. [`recognise`] finds them at the
//! `loop` operator by a bounded look-ahead ([`MAX_OPERATORS`] operators, so compile work
//! stays linear); `FuncGen::loop_` compiles them.
//!
//! Top-tested exactness (fast mode, `s = 1`, no wrap: `j_i < n ⇒ j_i + 1 ≤ 2^32 - 1`, so
//! `j_i = j_0 + i`): at entry, with `g` the gas left, `m = ⌊g/C⌋` and `bound = min(n,
//! j_0 + m)` (u64, `m` clamped at 2^32 first, which changes no minimum since `n <
//! 2^32`). The header tests `j ≥ bound`; before iteration `i`'s body it passes iff `j_i <
//! n ∧ i < m`, the per-iteration code's condition (its test passed and its charge did
//! not borrow). When it fails, the exit stub charges `i·C` (`i = j − j_0 ≤ m`: no
//! borrow) for the `i` iterations that ran, then leaves to `$exit` if `j ≥ n` (the per-iteration code paid
//! exactly that), else `i = m` and the per-iteration code would have passed its test
//! and failed the charge with nothing in between: trap `out_of_gas`. A trap in the body
//! of iteration `i` (a load out of bounds) goes through a loop-local stub that first
//! charges `(i + 1)·C`, what the per-iteration code had charged by then (`i + 1 ≤ m`:
//! no borrow), so the trap reports the same gas.
//!
//! Count-down exactness (mix64's loop: the header `local.get $n; i32.eqz; br_if $exit`,
//! the charge deferred past it as above, the update `local.get $n; i32.const 1; i32.sub;
//! local.set $n`, [`Step::Down`]): an iteration runs only with `n_i ≠ 0`, so its update
//! never wraps and `n_i = n_0 − i`. The entry stores `n_0` and, in place of a bound, the
//! lower limit `lower = max(0, n_0 − m)` (`m` as above; the 64-bit difference borrows
//! iff `n_0 < m`). The header tests `n ≤ lower`; before iteration `i` it passes iff `n_0
//! − i > max(0, n_0 − m)` ⇔ `n_i ≠ 0 ∧ i < m`, the per-iteration code's condition. The
//! exit stub settles `(n_0 − n)·C = i·C` (`i ≤ m`: no borrow), leaves if `n = 0`, else
//! (`i = m`) traps `out_of_gas`; a trap in iteration `i`'s body settles `(n_0 − n +
//! 1)·C`, and the widen routine settles the same and rebases from the current `n`, as
//! for a loop counting up (everything above with `j − j_0` read as `n_0 − n`).
//!
//! Bottom-tested exactness: the entry charges iteration 0 itself (`sub; jb out_of_gas`,
//! as the header's charge did: nothing runs between them), then, with `g` the gas left
//! after it and `m = ⌊g/C⌋` (clamped at 2^32), `bound = min(n, k_0 + m + 1)` when `k_0 <
//! n` (fast mode: `k_0 + i < n` for every iteration `i` that runs, so the update never
//! wraps and `k = k_0 + i + 1` after it). The test `k < bound` after iteration `i` passes
//! iff `k_0 + i + 1 < n ∧ i + 1 ≤ m`: the per-iteration code's test passed and the next
//! charge did not borrow. Its fall-through charges `(k − k_0 − 1)·C = i·C` (`i ≤ m`: no
//! borrow) and leaves if `k ≥ n`; else `i = m`, the gas left is below `C`, and it jumps
//! to the entry, whose charge traps `out_of_gas` as the per-iteration charge would have.
//! When `k_0 ≥ n` (a do-while's first iteration past its bound, where the update may wrap:
//! `k_0 = 2^32 − 1`) the entry stores `bound = 0`: the one iteration runs (charged), the
//! fall-through settles `(k − k_0 − 1)·C`, 0 in 32-bit arithmetic even where `k` wrapped,
//! and leaves, or (`k` wrapped to below `n`) enters again, now in fast mode. A trap in
//! iteration `i`'s body settles `(k − k_0)·C = i·C` (the entry paid iteration 0's).
//!
//! Stores (the write charge): a store check's slow path calls the dirty-range stub, which
//! charges the granules a store adds from the gas register or traps. Inside a counted
//! body the slow path calls the loop's widen routine instead (`FuncGen::widen_label`,
//! `MacroAssembler::emit_counted_widen`), which first settles what a trap there would
//! (`(j − j_0 + 1)·C` top-tested, `(k − k_0)·C` bottom-tested), so the stub charges and
//! traps with the per-iteration code's gas; after it returns, it gives the current
//! iteration's `C` back (top-tested: its settle is owed again) and recomputes `j_0 = j`
//! and the bound as the entry does, from the gas left. The formulas above then hold from
//! the new `j_0` for the rest of the body (a second store settles the current iteration
//! again), the later tests and traps: the rebase is an entry at the current iteration,
//! whose charge (top-tested) is already known to pass (`gas ≥ C` after the give-back, so
//! `m ≥ 1` and the bound lies past `j`).
//!
//! A step `s` other than 1 (a local, sieve's marking loop, or a constant, handled as a
//! local whose value the compiler knows): fast mode needs `s ≠ 0` and
//! `n + s ≤ 2^32` (u64), under which no executed update wraps (`j_i < n ⇒ j_i + s ≤ 2^32
//! − 1`), so `j_i = j_0 + i·s` and `i = (j − j_0)/s` exactly; then `bound = min(n, j_0 +
//! m·s)` and the test `j_i < bound ⇔ j_i < n ∧ i < m` as for step 1. The entry writes `s`
//! beside `j_0` (the slot's upper half) when the precondition holds, else 0 there and a
//! bound of 0: stepping mode, where every test goes to the exit stub, which leaves when
//! `j ≥ n` and else charges `C` itself (`sub; jb out_of_gas`, the per-iteration charge)
//! and jumps into the body after the test; the settles (trap stubs, the widen routine)
//! see the 0 and settle nothing, everything being charged. The same stub code serves
//! fast mode, where reaching that charge means `i = m` and the gas left is below `C`:
//! it traps `out_of_gas` as the per-iteration charge would have. `n` and `s` are
//! loop-invariant, so a rebase keeps the mode.
//!
//! The same in a bottom-tested loop (keccak's `drows`: `i += 5; br_if (i < 25)`): in
//! fast mode (`s ≠ 0`, `n + s ≤ 2^32`, `k_0 < n`) every iteration that runs has `k_i <
//! n`, so its update does not wrap and `k_i = k_0 + i·s`; the entry (which charged
//! iteration 0) stores `bound = min(n, k_0 + (m + 1)·s)` (`m` clamped at `2^32 − 1`, so
//! the product stays below 2^64; from there on `(m + 1)·s ≥ 2^32 > n − k_0` and the
//! minimum is `n` either way), and the test `k_0 + (i + 1)·s < bound` after iteration
//! `i` passes iff `k_{i+1} < n ∧ i + 1 ≤ m`, as for step 1. The fall-through settles
//! `((k − k_0)/s − 1)·C = i·C`, traps and the widen routine `((k − k_0)/s)·C`. Else
//! (stepping mode, or `k_0 ≥ n`) the entry stores bound 0: each test falls through,
//! settles nothing (the slot's 0 in stepping mode; with `k_0 ≥ n`, `k − k_0 = s` in
//! 32-bit arithmetic even where `k` wrapped, so `(k − k_0)/s − 1 = 0`) and leaves or
//! enters again, whose charge is the next iteration's.
//!
//! The bound in the gas register (bottom-tested loops, `CountedState::parks_gas`): after
//! the entry, the gas register is stored to a third hidden slot and loaded with the
//! fused bound, so the test is `cmp k, r13d` as the unmetered loop's `cmp k, n` (matmul's
//! `$dot` read its bound's slot every iteration: that load was the one difference
//! between its metered and unmetered loops). Nothing in the body reads the gas
//! register; every way out of the body takes it back from its slot before it reads it:
//! the tail's fall-through (whose re-entry charges from it, then parks again), the trap
//! stubs (before their settle) and the widen routine (before its settle, parking again
//! after its rebase). So every gas figure above is computed from the same values as
//! before.
//!
//! Store runs (`store_run.rs`) may open inside a counted body as anywhere: their checks
//! and flag are unchanged, only the call in their slow paths goes to the routine, which
//! widens exactly as the stub does, and the loop's back edge is a join, which ends every
//! run. Nothing else in such a body reads the gas register: no call, no charge, no
//! helper.

use gasket_host_api::Intrinsic;

use crate::masm::{
    Address, AluOp, Base, Cond, CountedState, DivOp, Label, MacroAssembler, Operand, Reg, Size,
    StoreWidth,
};
use crate::TrapKind;

use super::bytes::Bytes;
use super::control::FrameKind;
use super::func::FuncGen;
use super::stack::{Kind, Loc, LocalHome};

/// The hidden operand-stack entries an open counted loop keeps below its frame: the
/// slots of `j_0`, of the fused bound and of the parked gas register (see
/// [`OpenCounted::park`]).
pub(super) const HIDDEN_ENTRIES: usize = 3;

/// How many operators a counted loop's body may have: bounds the look-ahead (each `loop`
/// header scans at most this many).
pub(super) const MAX_OPERATORS: usize = 64;

/// The exit test's bound.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) enum Bound {
    Local(u32),
    Const(u32),
}

/// How the update steps the variable: `i32.const 1`, another nonzero constant or a local
/// the loop does not write added, or (a count-down loop, top-tested by `i32.eqz`)
/// `i32.const 1` subtracted.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) enum Step {
    One,
    Const(u32),
    Local(u32),
    Down,
}

/// Where the loop tests its variable.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) enum Test {
    /// At the header: `br_if` to the `block` `exit_depth` frames out (≥ 1), `i32.ge_u`
    /// (or, with the step [`Step::Down`], `i32.eqz`: the bound is 0).
    Top { exit_depth: u32 },
    /// At the end of the body: `br_if 0` back to the header, `i32.lt_u`. `tail`: where
    /// the test's four operators start, in bytes from the start of the loop's bytes;
    /// `tail_len`: their bytes.
    Bottom { tail: usize, tail_len: usize },
}

/// A loop [`recognise`] found.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) struct CountedLoop {
    /// The induction variable `$j`.
    pub var: u32,
    pub bound: Bound,
    /// Count-down loops are top-tested.
    pub step: Step,
    pub test: Test,
    /// The iteration's charge `C` (1..2^31).
    pub cost: u32,
    /// The bytes of the header's operators that `FuncGen` compiles as the fused test (a
    /// top-tested loop: the test, the `br_if`, the charge) or as the entry's charge (a
    /// bottom-tested loop: the charge).
    pub header_len: usize,
}

impl CountedLoop {
    /// How many operators `header_len` spans.
    pub fn header_operators(&self) -> usize {
        match (self.test, self.step) {
            (Test::Top { .. }, Step::Down) => 5,
            (Test::Top { .. }, _) => 6,
            (Test::Bottom { .. }, _) => 2,
        }
    }
}

/// How many operators the bottom test compiled as the fused test spans: the test's
/// three and the `br_if`.
pub(super) const TAIL_OPERATORS: usize = 4;

/// How many bytes a body and its bottom test span at most: [`MAX_OPERATORS`] and the
/// test's, each at most 11 bytes (an `i64.const`, or a load or store with a 5-byte
/// alignment and offset: valid memory32 code, which the scan's decoding assumes).
const MAX_BODY_BYTES: usize = (MAX_OPERATORS + TAIL_OPERATORS) * 11;

/// How [`scan_body`] reads an operator, by its opcode: one table load an operator
/// (most loops are rejected by it after a few operators, but long straight-line bodies
/// are read up to the operator bound).
#[derive(Copy, Clone, PartialEq, Eq)]
enum Class {
    /// Not in `B`: the loop is not counted.
    Reject,
    /// `br` or `br_if`: the body ends.
    Branch,
    /// In `B`, no immediates.
    Plain,
    /// In `B`, one LEB128 immediate (local accesses, `global.get`, integer constants).
    Leb,
    /// In `B`, a memarg (alignment and offset): integer loads and stores.
    MemArg,
}

/// The operators `B` may hold: local accesses, constants, `global.get`, integer loads
/// and stores, non-trapping integer operators, `drop`, `select`. None branches or calls;
/// the accesses' checks are the only traps, and a store's slow path the only other
/// reader of the gas register (the dirty-range stub's write charge: the loop's widen
/// routine settles around it, `FuncGen::widen_label`).
const CLASSES: [Class; 256] = {
    let mut classes = [Class::Reject; 256];
    let ranges: &[(u8, u8, Class)] = &[
        (0x0c, 0x0d, Class::Branch), // br, br_if
        (0x1a, 0x1b, Class::Plain),  // drop, select
        (0x20, 0x23, Class::Leb),    // local.get/set/tee, global.get
        (0x28, 0x29, Class::MemArg), // i32.load, i64.load
        (0x2c, 0x35, Class::MemArg), // narrow integer loads
        (0x36, 0x37, Class::MemArg), // i32.store, i64.store
        (0x3a, 0x3e, Class::MemArg), // narrow integer stores
        (0x41, 0x42, Class::Leb),    // i32.const, i64.const
        (0x45, 0x5a, Class::Plain),  // integer tests and compares
        (0x67, 0x6c, Class::Plain),  // i32 bit counts, add, sub, mul
        (0x71, 0x78, Class::Plain),  // i32 bitwise, shifts, rotates
        (0x79, 0x7e, Class::Plain),  // the same for i64
        (0x83, 0x8a, Class::Plain),
        (0xa7, 0xa7, Class::Plain), // wrap
        (0xac, 0xad, Class::Plain), // extends
        (0xc0, 0xc4, Class::Plain), // sign extensions
    ];
    let mut i = 0;
    while i < ranges.len() {
        let (from, to, class) = ranges[i];
        let mut op = from as usize;
        while op <= to as usize {
            classes[op] = class;
            op += 1;
        }
        i += 1;
    }
    classes
};

/// What [`scan_body`] read: the body up to its first branch.
struct Body {
    /// The opcode of the branch that ends it (`br` or `br_if`).
    branch: u8,
    /// Where the body starts.
    from: usize,
    /// How many operators it has before the branch.
    len: usize,
    /// The starts of its last eight operators, a ring indexed by operator number mod 8.
    starts: [usize; 8],
}

impl Body {
    /// Where the `k`-th operator from the end (1: the last before the branch) starts, if
    /// the body has that many.
    fn nth_last(&self, k: usize) -> Option<usize> {
        (1..=8.min(self.len))
            .contains(&k)
            .then(|| self.starts[(self.len - k) % 8])
    }

    /// The update's step, if the variable's only write is the update at the `update`-th
    /// operator from the end, whose end is `end`, and neither the bound nor a local step
    /// is the variable or written; a count-down update exactly where `down` says (its
    /// test is `i32.eqz`). The
    /// writes are counted by a second scan of the body (`code`, up to `end`): only for a
    /// loop whose tail has the shape, so a non-candidate pays the first scan alone.
    fn qualifies(
        &self,
        code: &[u8],
        var: u32,
        bound: Bound,
        (update, end): (usize, usize),
        down: bool,
    ) -> Option<Step> {
        let at = self.nth_last(update)?;
        let (update_end, step) = is_update(code, at, var)?;
        if update_end != end || (step == Step::Down) != down {
            return None;
        }
        let bound_local = match bound {
            Bound::Local(n) if n == var => return None,
            Bound::Local(n) => Some(n),
            Bound::Const(_) => None,
        };
        let step_local = match step {
            Step::Local(s) if s == var => return None,
            Step::Local(s) => Some(s),
            Step::One | Step::Const(_) | Step::Down => None,
        };
        (self.writes(code, var, [bound_local, step_local])? == (1, [0, 0])).then_some(step)
    }

    /// How many times the body (in `code`) writes `var` and each of `others`.
    fn writes(
        &self,
        code: &[u8],
        var: u32,
        others: [Option<u32>; 2],
    ) -> Option<(usize, [usize; 2])> {
        let mut bytes = Bytes {
            code,
            at: self.from,
        };
        let (mut var_writes, mut other_writes) = (0, [0, 0]);
        for _ in 0..self.len {
            match bytes.byte()? {
                0x20 => {
                    bytes.u32()?;
                }
                0x21 | 0x22 => {
                    let local = bytes.u32()?;
                    var_writes += usize::from(local == var);
                    for (other, writes) in others.iter().zip(&mut other_writes) {
                        *writes += usize::from(*other == Some(local));
                    }
                }
                op => bytes.skip_immediates(op)?,
            }
        }
        Some((var_writes, other_writes))
    }
}

/// Reads the body from `bytes` up to its first `br`/`br_if` (whose opcode it consumes),
/// if it is at most [`MAX_OPERATORS`] operators drawn from local accesses and
/// operators of [`CLASSES`]. One table load, one decode and one store an operator: every loop that opens with
/// a charge is a bottom-tested candidate, so this is the whole cost of most loops
/// (which locals the body writes is [`Body::qualifies`]' second scan).
fn scan_body(bytes: &mut Bytes) -> Option<Body> {
    let mut body = Body {
        branch: 0,
        from: bytes.at,
        len: 0,
        starts: [usize::MAX; 8],
    };
    for n in 0..MAX_OPERATORS {
        let start = bytes.at;
        let op = bytes.byte()?;
        match CLASSES[usize::from(op)] {
            Class::Plain => {}
            Class::Leb => bytes.skip_leb()?,
            Class::MemArg => {
                // A memory index after the alignment (bit 6 of its first byte) is
                // multi-memory, which the compiler does not take.
                if bytes.code.get(bytes.at)? & 0x40 != 0 {
                    return None;
                }
                bytes.skip_leb()?;
                bytes.skip_leb()?;
            }
            Class::Branch => {
                body.branch = op;
                body.len = n;
                return Some(body);
            }
            Class::Reject => return None,
        }
        body.starts[n % 8] = start;
    }
    None
}

/// The bound operand at `bytes`: `local.get $n` or `i32.const n`.
fn bound(bytes: &mut Bytes) -> Option<Bound> {
    match bytes.byte()? {
        0x20 => Some(Bound::Local(bytes.u32()?)),
        0x41 => Some(Bound::Const(bytes.i32()? as u32)),
        _ => None,
    }
}

/// The charge `i64.const C; call $gas` at `bytes`: `C`, if in 1..2^31.
fn charge(bytes: &mut Bytes, is_gas: &impl Fn(u32) -> bool) -> Option<u32> {
    if bytes.byte()? != 0x42 {
        return None;
    }
    // Every block charge's constant fits five bytes; a negative one fails the range.
    let cost = bytes.short_i64(5)?;
    let cost = u32::try_from(cost)
        .ok()
        .filter(|&c| (1..=i32::MAX as u32).contains(&c))?;
    (bytes.byte()? == 0x10 && is_gas(bytes.u32()?)).then_some(cost)
}

/// The counted loop whose operator bytes (after the `loop`'s empty block type, up to and
/// past its `end`) start `code`, if they have exactly one of the two shapes above;
/// `is_gas(f)`: `f` is the gas intrinsic. Whether `$j`, `$n` and the exit's frame qualify
/// is the caller's to check (it knows their homes and the frames).
pub(crate) fn recognise(code: &[u8], is_gas: impl Fn(u32) -> bool) -> Option<CountedLoop> {
    let found = match code.first()? {
        0x20 => top_tested(code, &is_gas),
        _ => bottom_tested(code, &is_gas),
    }?;
    (found.max_trips().unwrap_or(u64::MAX) >= MIN_TRIPS).then_some(found)
}

/// The fewest iterations an entry may run (at most) for a counted loop to pay: the entry
/// (a 64-bit division, ~20 instructions) and the exit's settle cost about as much as 16
/// per-iteration charges (`sub; jb`, two instructions each). keccak's `drows` (`i += 5`
/// to 25 from `i < 5`: five iterations) lost 11.3 M instructions (+8.3 %) counted.
const MIN_TRIPS: u64 = 16;

impl CountedLoop {
    /// The most iterations an entry with `j_0 < n` can run when both the bound and the
    /// step are constants: `⌈n/s⌉`. `None` when either is not known.
    fn max_trips(&self) -> Option<u64> {
        let Bound::Const(n) = self.bound else {
            return None;
        };
        let s = match self.step {
            Step::One => 1,
            Step::Const(s) => s,
            Step::Local(_) | Step::Down => return None,
        };
        Some(u64::from(n).div_ceil(u64::from(s)))
    }
}

fn top_tested(code: &[u8], is_gas: &impl Fn(u32) -> bool) -> Option<CountedLoop> {
    let mut bytes = Bytes { code, at: 0 };
    // The header: local.get $j; (local.get $n | i32.const n); i32.ge_u; br_if d, or
    // (a count-down loop) local.get $j; i32.eqz; br_if d.
    if bytes.byte()? != 0x20 {
        return None;
    }
    let var = bytes.u32()?;
    let down = bytes.code.get(bytes.at) == Some(&0x45);
    let bound = if down {
        bytes.at += 1;
        Bound::Const(0)
    } else {
        let bound = bound(&mut bytes)?;
        if bytes.byte()? != 0x4f {
            return None;
        }
        bound
    };
    if bytes.byte()? != 0x0d {
        return None;
    }
    let exit_depth = bytes.u32()?;
    if exit_depth == 0 {
        return None;
    }
    let cost = charge(&mut bytes, is_gas)?;
    let header_len = bytes.at;
    // The body, up to `br 0; end`, its last four operators the update.
    let body = scan_body(&mut bytes)?;
    if body.branch != 0x0c {
        return None;
    }
    let step = body.qualifies(code, var, bound, (4, bytes.at - 1), down)?;
    let ends = bytes.u32()? == 0 && bytes.byte()? == 0x0b;
    ends.then_some(CountedLoop {
        var,
        bound,
        step,
        test: Test::Top { exit_depth },
        cost,
        header_len,
    })
}

/// The bottom-tested shape: `i64.const C; call $gas; B; <update>; local.get $j;
/// (local.get $n | i32.const n); i32.lt_u; br_if 0`, then the loop's `end`, or the
/// exit's charge `i64.const E; call $gas` and the `end`.
fn bottom_tested(code: &[u8], is_gas: &impl Fn(u32) -> bool) -> Option<CountedLoop> {
    let mut bytes = Bytes { code, at: 0 };
    let cost = charge(&mut bytes, is_gas)?;
    let header_len = bytes.at;
    // A first filter, since every loop opening with a charge gets here: the test's
    // `i32.lt_u` (0x49) lies within the bytes the body and the test can span. `contains`
    // on bytes is core's word-at-a-time `memchr`, far cheaper than decoding them.
    let rest = code.get(header_len..)?;
    if !rest[..rest.len().min(MAX_BODY_BYTES)].contains(&0x49) {
        return None;
    }
    // The body up to the `br_if`; the test, its last three operators, names the
    // variable and the bound.
    let body = scan_body(&mut bytes)?;
    let tail = body.nth_last(3)?;
    let mut test = Bytes { code, at: tail };
    if test.byte()? != 0x20 {
        return None;
    }
    let var = test.u32()?;
    let bound = bound(&mut test)?;
    if test.byte()? != 0x49 || body.branch != 0x0d || test.at + 1 != bytes.at {
        return None;
    }
    // `br_if 0`, the depth in one byte.
    let mut probe = bytes;
    if probe.byte()? != 0 {
        return None;
    }
    let tail_len = probe.at - tail;
    // After the `br_if`: the `end`, or the exit's charge and the `end`.
    if probe.byte()? != 0x0b {
        probe.at -= 1;
        charge(&mut probe, is_gas)?;
        if probe.byte()? != 0x0b {
            return None;
        }
    }
    // The update ends the body right before the test.
    body.qualifies(code, var, bound, (7, tail), false)
        .map(|step| CountedLoop {
            var,
            bound,
            step,
            test: Test::Bottom { tail, tail_len },
            cost,
            header_len,
        })
}

/// Where the update `local.get var; (i32.const s | local.get s); i32.add; local.set var`
/// (`s ≠ 0`; or `local.get var; i32.const 1; i32.sub; local.set var`: [`Step::Down`])
/// starting at `at` in `code` ends (the variable's index in its shortest encoding), and
/// its step, if it is there.
fn is_update(code: &[u8], at: usize, var: u32) -> Option<(usize, Step)> {
    let mut bytes = Bytes { code, at };
    if bytes.byte()? != 0x20 || bytes.u32()? != var {
        return None;
    }
    let step = match (bytes.byte()?, bytes.byte()?) {
        (0x41, _) => {
            bytes.at -= 1;
            match (bytes.i32()? as u32, bytes.byte()?) {
                (1, 0x6a) => Step::One,
                (1, 0x6b) => Step::Down,
                (0, _) => return None,
                (s, 0x6a) => Step::Const(s),
                _ => return None,
            }
        }
        (0x20, _) => {
            bytes.at -= 1;
            let step = Step::Local(bytes.u32()?);
            if bytes.byte()? != 0x6a {
                return None;
            }
            step
        }
        _ => return None,
    };
    let found = bytes.byte()? == 0x21 && bytes.u32()? == var;
    found.then_some((bytes.at, step))
}

/// Where a counted loop's variable, bound and local step live (`FuncGen::counted_loop_at`).
pub(super) struct Homes {
    var: Reg,
    bound: Operand,
    /// `None`: a step of 1.
    step: Option<Operand>,
}

/// How a counted loop being compiled tests its variable.
enum OpenTest {
    /// Top-tested: the fused test jumps to `exit_stub`, which leaves to `exit`, the end
    /// of `$exit`, or (a local step's stepping mode) charges the iteration and enters
    /// the body at `body`, right after the test.
    Top {
        exit_stub: Label,
        exit: Label,
        body: Option<Label>,
    },
    /// Bottom-tested: the entry, where the tail's stub jumps back to for another entry
    /// (see [`FuncGen::counted_tail`]); `tail` (the test's offset in the body) and
    /// `tail_len` (its bytes) until the tail is compiled.
    Bottom {
        entry: Label,
        tail: Option<(u64, usize)>,
    },
}

/// A counted loop being compiled (`FuncGen::counted`).
pub(crate) struct OpenCounted {
    /// The variable's register, the bound, `C` and the slots of `j_0`, the fused bound
    /// and the parked gas (hidden entries below the loop's frame, like `hoist`'s product).
    state: CountedState,
    /// The gas register.
    gas: Reg,
    test: OpenTest,
    /// The loop-local trap stubs the body jumps to, by kind (made on first use).
    traps: Vec<(TrapKind, Label)>,
    /// The routine the body's store slow paths call instead of the dirty-range stub
    /// (made on first use, emitted after the loop: `MacroAssembler::emit_counted_widen`).
    widen: Option<Label>,
}

impl OpenCounted {
    /// The loop-local stub of `kind`.
    pub fn trap_label<M: MacroAssembler>(&mut self, kind: TrapKind, masm: &mut M) -> Label {
        if let Some(&(_, label)) = self.traps.iter().find(|t| t.0 == kind) {
            return label;
        }
        let label = masm.new_label();
        self.traps.push((kind, label));
        label
    }

    /// Where the bottom test starts (its offset in the body) and its length in bytes,
    /// while it is still to compile.
    pub fn tail(&self) -> Option<(u64, usize)> {
        match self.test {
            OpenTest::Bottom { tail, .. } => tail,
            OpenTest::Top { .. } => None,
        }
    }

    /// Where the body of a loop that parks (`CountedState::parks_gas`: bottom-tested)
    /// starts, after the entry: the gas register goes to its slot and takes the fused
    /// bound, so the loop's test compares two registers, as the unmetered loop's `k < n`
    /// does, instead of reading the bound's slot each iteration. Nothing in the body
    /// reads the gas register (no call, charge or helper; its trap stubs and the tail
    /// go through [`Self::unpark`] first, the widen routine does the same itself).
    fn park<M: MacroAssembler>(&self, masm: &mut M) {
        let state = &self.state;
        if !state.parks_gas() {
            return;
        }
        masm.store(
            StoreWidth::B64,
            Address::at(Base::Frame, state.gas_slot.into()),
            Operand::Reg(self.gas),
        );
        masm.mov(Size::S32, self.gas, Operand::Frame(state.bound_slot));
    }

    /// Wherever a parked body is left (the tail's fall-through, the trap stubs): the gas
    /// register back from its slot.
    fn unpark<M: MacroAssembler>(&self, masm: &mut M) {
        if !self.state.parks_gas() {
            return;
        }
        masm.mov(Size::S64, self.gas, Operand::Frame(self.state.gas_slot));
    }

    /// Whether the loop is bottom-tested: its header starts with its body, not a test.
    pub fn is_bottom_tested(&self) -> bool {
        self.state.bottom
    }

    /// The routine the body's store slow paths call (see `widen`).
    pub fn widen_label<M: MacroAssembler>(&mut self, masm: &mut M) -> Label {
        *self.widen.get_or_insert_with(|| masm.new_label())
    }

    /// Charges `((j − j_0)/s + adjust)·C`, the iterations run and not yet charged (32-bit
    /// arithmetic: see the shapes' exactness notes; no division for a step of 1, nothing
    /// in stepping mode), with `t` (and `u` for a local step) as temporaries.
    fn settle<M: MacroAssembler>(&self, masm: &mut M, [t, u]: [Reg; 2], adjust: i64) {
        let state = &self.state;
        let skip = state.step.map(|_| {
            // A local step: i = (j − j_0)/s, with s beside j_0; 0 there (stepping mode)
            // means every iteration is charged already.
            let skip = masm.new_label();
            masm.mov(Size::S32, u, Operand::Frame(state.start_slot + 4));
            masm.cmp(Size::S32, u, Operand::Imm(0));
            masm.branch(Cond::Eq, skip);
            skip
        });
        // j − j_0, or (counting down) n_0 − n.
        let (from, less) = match state.down {
            false => (Operand::Reg(state.var), Operand::Frame(state.start_slot)),
            true => (Operand::Frame(state.start_slot), Operand::Reg(state.var)),
        };
        masm.mov(Size::S32, t, from);
        masm.alu(AluOp::Sub, Size::S32, t, t, less);
        if skip.is_some() {
            masm.div(DivOp::DivU, Size::S32, t, t, u);
        }
        if adjust != 0 {
            masm.alu(AluOp::Add, Size::S32, t, t, Operand::Imm(adjust));
        }
        masm.alu(AluOp::Mul, Size::S64, t, t, Operand::Imm(state.cost.into()));
        masm.alu(AluOp::Sub, Size::S64, self.gas, self.gas, Operand::Reg(t));
        if let Some(skip) = skip {
            masm.bind(skip);
        }
    }
}

impl<M: MacroAssembler> FuncGen<'_, M> {
    /// The counted loop whose `loop` operator (empty block type) is being compiled, its
    /// bytes after the block type at `at` in `self.code`, if the ISA compiles counted
    /// loops, none is open, and its variable, bound and exit qualify: `$j` an i32 local
    /// in a register, `$n` an i32 local (any home) or a constant, a top-tested loop's
    /// `$exit` a live `block` without results. Returns it with the variable's register
    /// and the bound operand.
    pub(super) fn counted_loop_at(&self, at: usize) -> Option<(CountedLoop, Homes)> {
        self.masm.counted_loop_gas()?;
        if self.counted.is_some() {
            return None;
        }
        let env = self.env;
        let shape = recognise(self.code.get(at..)?, |f| {
            env.intrinsic(f) == Some(Intrinsic::Gas)
        })?;
        let var = self.locals.get(shape.var as usize)?;
        let LocalHome::Reg(reg) = var.home else {
            return None;
        };
        if var.kind != Kind::I32 {
            return None;
        }
        let i32_local = |n: u32| {
            let local = self.locals.get(n as usize)?;
            match (local.kind, local.home) {
                (Kind::I32, LocalHome::Reg(r)) => Some(Operand::Reg(r)),
                (Kind::I32, LocalHome::Frame(o)) => Some(Operand::Frame(o)),
                _ => None,
            }
        };
        let bound = match shape.bound {
            Bound::Const(n) => Operand::Imm(n.into()),
            Bound::Local(n) => i32_local(n)?,
        };
        let step = match shape.step {
            Step::One | Step::Down => None,
            Step::Const(s) => Some(Operand::Imm(s.into())),
            Step::Local(s) => Some(i32_local(s)?),
        };
        if let Test::Top { exit_depth, .. } = shape.test {
            // The loop's frame is not pushed yet: depth d from inside it is d - 1 from
            // here.
            let exit = self.frames.len().checked_sub(exit_depth as usize)?;
            let frame = self.frames.get(exit)?;
            if frame.kind != FrameKind::Block || !frame.results.is_empty() || frame.dead {
                return None;
            }
        }
        Some((
            shape,
            Homes {
                var: reg,
                bound,
                step,
            },
        ))
    }

    /// Before the loop's header (every value below it in canonical form): pushes the
    /// [`HIDDEN_ENTRIES`] whose slots hold `j_0`, `bound` and the parked gas, emits the
    /// entry, and opens the loop; `at` as for [`Self::counted_loop_at`]. Returns the stack
    /// depth above them (the loop frame's base).
    pub(super) fn enter_counted(&mut self, shape: CountedLoop, homes: Homes, at: usize) -> usize {
        let gas = self
            .masm
            .counted_loop_gas()
            .expect("counted_loop_at checked the ISA");
        let first = self.stack.len();
        for _ in 0..HIDDEN_ENTRIES {
            self.push(Kind::I64, Loc::Slot);
        }
        let [start_slot, bound_slot, gas_slot] =
            [0, 1, 2].map(|entry| self.slot_offset(first + entry));
        let test = match shape.test {
            Test::Top { exit_depth, .. } => {
                let exit_frame = self.frames.len() - exit_depth as usize;
                self.frames[exit_frame].branched = true;
                OpenTest::Top {
                    exit_stub: self.masm.new_label(),
                    exit: self.frames[exit_frame].label,
                    body: homes.step.map(|_| self.masm.new_label()),
                }
            }
            Test::Bottom { tail, tail_len } => {
                // The entry charges iteration 0 itself, as the header's charge did
                // (nothing runs between them).
                let entry = self.masm.new_label();
                self.masm.bind(entry);
                let out_of_gas = self.labels.trap(TrapKind::OutOfGas);
                self.masm
                    .charge_gas(Operand::Imm(shape.cost.into()), out_of_gas);
                let offset = self.code_start + (at + tail) as u64;
                self.counted_tail = offset;
                OpenTest::Bottom {
                    entry,
                    tail: Some((offset, tail_len)),
                }
            }
        };
        let state = CountedState {
            var: homes.var,
            bound: homes.bound,
            step: homes.step,
            cost: shape.cost,
            start_slot,
            bound_slot,
            gas_slot,
            bottom: matches!(test, OpenTest::Bottom { .. }),
            down: shape.step == Step::Down,
        };
        self.masm.counted_rebase(&state);
        let open = OpenCounted {
            state,
            gas,
            test,
            traps: Vec::new(),
            widen: None,
        };
        open.park(self.masm);
        self.counted = Some(open);
        self.counted_header = Some((shape.header_operators(), shape.header_len));
        first + HIDDEN_ENTRIES
    }

    /// At a top-tested loop's header: the fused exit test `j >= bound`, to the exit stub.
    pub(super) fn counted_header(&mut self) {
        let Some(OpenCounted {
            state,
            test: OpenTest::Top {
                exit_stub, body, ..
            },
            ..
        }) = self.counted
        else {
            return;
        };
        // The bound's slot: a top-tested loop does not park (`CountedState::parks_gas`).
        self.masm
            .cmp(Size::S32, state.var, Operand::Frame(state.bound_slot));
        self.masm.branch(state.exit_cond(), exit_stub);
        if let Some(body) = body {
            self.masm.bind(body);
        }
    }

    /// At a bottom-tested loop's test (in place of its four operators): back to the
    /// header while `k < bound`; else, inline, the stub: charge the `(k − k_0 − 1)` further
    /// iterations run (the entry charged the first), then leave if `k ≥ n`, else enter
    /// again. Fast mode (`k_0 < n`): there `k < n` means `i = m`, the gas left is below
    /// `C`, and the entry's charge traps `out_of_gas` where the per-iteration charge
    /// would have; `k_0 ≥ n` (bound 0): the one iteration run was the entry's, `k − k_0 −
    /// 1` is 0 in 32-bit arithmetic even where `k` wrapped, and `k < n` continues the
    /// loop from a new entry, now in fast mode. Not inlined: it runs once a loop, and
    /// inlined it grew the operator loop of `FuncGen::compile` (+0.2 % compile Ir on the
    /// 2 MB module, the same code out).
    #[inline(never)]
    pub(super) fn counted_tail(&mut self) {
        let Some(open) = self.counted.as_mut() else {
            return;
        };
        let OpenTest::Bottom { entry, tail } = &mut open.test else {
            return;
        };
        *tail = None;
        let entry = *entry;
        let header = self.frames.last().expect("inside the loop").label;
        // Every allocatable register is dead here (the body's values are consumed; the
        // loop's and everything below it are in their slots), as at the stubs.
        let t = [self.allocatable[0], self.allocatable[1]];
        let state = open.state;
        // The bound is in the gas register (`OpenCounted::park`).
        debug_assert!(state.parks_gas());
        self.masm.cmp(Size::S32, state.var, Operand::Reg(open.gas));
        self.masm.branch(Cond::LtU, header);
        open.unpark(self.masm);
        open.settle(self.masm, t, -1);
        self.masm.cmp(Size::S32, state.var, state.bound);
        self.masm.branch(Cond::LtU, entry);
    }

    /// At the loop's `end`: the stubs, out of the loop, and the hidden entries dropped.
    /// A top-tested loop's body ends in `br 0`, so nothing falls through the `end`; a
    /// bottom-tested loop's fall-through jumps over its trap stubs.
    pub(super) fn leave_counted(&mut self, base: usize) {
        let Some(open) = self.counted.take() else {
            return;
        };
        // Every allocatable register is dead here: the stubs leave the function's values
        // behind (a trap) or arrive where every value is in its slot (`$exit`'s end).
        let t = [self.allocatable[0], self.allocatable[1]];
        // The iterations charged by the time iteration i's body traps: i + 1 (top-tested,
        // j = j_0 + i·s), the entry's included (bottom-tested, k = k_0 + i).
        let adjust = match open.test {
            OpenTest::Top {
                exit_stub,
                exit,
                body,
            } => {
                // Gas for the i = (j - j_0)/s iterations run; then leave, or trap where
                // the per-iteration charge would have.
                self.masm.bind(exit_stub);
                open.settle(self.masm, t, 0);
                self.masm.cmp(Size::S32, open.state.var, open.state.bound);
                self.masm.branch(open.state.exit_cond(), exit);
                let out_of_gas = self.labels.trap(TrapKind::OutOfGas);
                match body {
                    // Fast mode: i = m, the gas left is below C, so this charge traps;
                    // stepping mode: the iteration's own charge, then its body.
                    Some(body) => {
                        self.masm
                            .charge_gas(Operand::Imm(open.state.cost.into()), out_of_gas);
                        self.masm.jump(body);
                    }
                    None => self.masm.jump(out_of_gas),
                }
                1
            }
            OpenTest::Bottom { tail, .. } => {
                debug_assert!(tail.is_none(), "the bottom test was compiled");
                0
            }
        };
        let out_of_line = !open.traps.is_empty() || open.widen.is_some();
        let over = (!self.unreachable && out_of_line).then(|| {
            let over = self.masm.new_label();
            self.masm.jump(over);
            over
        });
        for &(kind, label) in &open.traps {
            self.masm.bind(label);
            open.unpark(self.masm);
            open.settle(self.masm, t, adjust);
            self.masm.jump(self.labels.trap(kind));
        }
        if let Some(label) = open.widen {
            self.masm
                .emit_counted_widen(label, &open.state, self.labels.dirty_range);
        }
        if let Some(over) = over {
            self.masm.bind(over);
        }
        self.truncate(base - HIDDEN_ENTRIES);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The bytes after the first `loop`'s block type of `(func (param i32 i32) (local i32)
    /// <wat>)` whose gas intrinsic is function 0.
    fn loop_bytes(wat: &str) -> Vec<u8> {
        let wat = format!(
            "(module (import \"gasket\" \"gas\" (func (param i64)))
               (memory 1)
               (func (param i32 i32) (local i32) {wat}))"
        );
        let wasm = wat::parse_str(wat).unwrap();
        let at = wasm
            .windows(2)
            .position(|w| w == [0x03, 0x40])
            .expect("the loop");
        wasm[at + 2..].to_vec()
    }

    fn shape(body: &str, update: &str) -> String {
        format!(
            "(block $done (loop $next
               (br_if $done (i32.ge_u (local.get 0) (local.get 1)))
               (call 0 (i64.const 37))
               {body}
               {update}
               (br $next)))"
        )
    }

    const UPDATE: &str = "(local.set 0 (i32.add (local.get 0) (i32.const 1)))";

    #[test]
    fn recognises_the_count_loop() {
        let body = "(local.set 2 (i32.add (local.get 2) (i32.load8_u (local.get 0))))";
        let code = loop_bytes(&shape(body, UPDATE));
        let found = recognise(&code, |f| f == 0).expect("a counted loop");
        assert_eq!(
            found,
            CountedLoop {
                var: 0,
                bound: Bound::Local(1),
                step: Step::One,
                test: Test::Top { exit_depth: 1 },
                cost: 37,
                header_len: 11,
            }
        );
        // Not the gas intrinsic.
        assert_eq!(recognise(&code, |f| f == 1), None);
    }

    #[test]
    fn a_constant_bound() {
        let wat = "(block $done (loop $next
               (br_if $done (i32.ge_u (local.get 0) (i32.const -5)))
               (call 0 (i64.const 300))
               (local.set 0 (i32.add (local.get 0) (i32.const 1)))
               (br $next)))";
        let found = recognise(&loop_bytes(wat), |f| f == 0).expect("a counted loop");
        assert_eq!(found.bound, Bound::Const(-5i32 as u32));
        assert_eq!(found.cost, 300);
    }

    #[test]
    fn near_misses_are_not_counted() {
        let misses = [
            // The variable written twice, or the bound written.
            shape("(local.set 0 (local.get 0))", UPDATE),
            shape("(local.set 1 (i32.const 0))", UPDATE),
            // A call, a branch, a block.
            shape("(call 0 (i64.const 1))", UPDATE),
            shape("(br_if 1 (local.get 2))", UPDATE),
            shape("(block)", UPDATE),
            // A trapping operator the scan does not settle: division.
            shape(
                "(local.set 2 (i32.div_u (local.get 2) (local.get 1)))",
                UPDATE,
            ),
            // A step of 0, another update.
            shape("", "(local.set 0 (i32.add (local.get 0) (i32.const 0)))"),
            shape("", "(local.set 0 (i32.add (i32.const 1) (local.get 0)))"),
            shape("", "(local.set 0 (i32.sub (local.get 0) (i32.const -1)))"),
        ];
        for wat in misses {
            assert_eq!(recognise(&loop_bytes(&wat), |f| f == 0), None, "{wat}");
        }
        // Signed test.
        let signed = shape("", UPDATE).replace("ge_u", "ge_s");
        assert_eq!(recognise(&loop_bytes(&signed), |f| f == 0), None);
        // Past the operator bound.
        let long = shape(&"(drop (i32.const 0))".repeat(MAX_OPERATORS / 2), UPDATE);
        assert_eq!(recognise(&loop_bytes(&long), |f| f == 0), None);
    }

    #[test]
    fn stores_are_counted() {
        // Their slow paths settle around the dirty-range stub (`FuncGen::widen_label`).
        let store = "(i32.store8 (local.get 0) (local.get 0))
                     (i64.store32 offset=8 (local.get 2) (i64.const 1))";
        let top = recognise(&loop_bytes(&shape(store, UPDATE)), |f| f == 0);
        assert!(matches!(top, Some(CountedLoop { var: 0, .. })), "{top:?}");
        let bottom = do_while(store, UPDATE, "i32.lt_u", "");
        let bottom = recognise(&loop_bytes(&bottom), |f| f == 0);
        assert!(
            matches!(bottom, Some(CountedLoop { var: 0, .. })),
            "{bottom:?}"
        );
        // Float stores and bulk memory are not body operators.
        for miss in [
            "(f32.store (local.get 0) (f32.const 1))",
            "(memory.fill (local.get 0) (i32.const 0) (i32.const 1))",
        ] {
            let wat = shape(miss, UPDATE);
            assert_eq!(recognise(&loop_bytes(&wat), |f| f == 0), None, "{wat}");
        }
    }

    #[test]
    fn a_local_step() {
        let step = "(local.set 0 (i32.add (local.get 0) (local.get 2)))";
        let found = recognise(&loop_bytes(&shape("", step)), |f| f == 0);
        assert_eq!(found.map(|f| f.step), Some(Step::Local(2)));
        let misses = [
            // The step written, the step the variable, the step first.
            shape("(local.set 2 (i32.const 3))", step),
            shape("", "(local.set 0 (i32.add (local.get 0) (local.get 0)))"),
            shape("", "(local.set 0 (i32.add (local.get 2) (local.get 0)))"),
        ];
        for wat in misses {
            assert_eq!(recognise(&loop_bytes(&wat), |f| f == 0), None, "{wat}");
        }
        // Bottom-tested too.
        let found = recognise(&loop_bytes(&do_while("", step, "i32.lt_u", "")), |f| f == 0);
        assert_eq!(found.map(|f| f.step), Some(Step::Local(2)));
    }

    #[test]
    fn short_constant_loops_are_not_counted() {
        // keccak's `drows` runs five iterations at most: cheaper charged one by one.
        let drows = |n: u32, s: u32| {
            format!(
                "(loop $rows
                   (call 0 (i64.const 41))
                   (local.set 0 (i32.add (local.get 0) (i32.const {s})))
                   (br_if $rows (i32.lt_u (local.get 0) (i32.const {n}))))"
            )
        };
        let counted = |wat: String| recognise(&loop_bytes(&wat), |f| f == 0).is_some();
        assert!(!counted(drows(25, 5)));
        assert!(!counted(drows(75, 5)));
        assert!(counted(drows(76, 5)));
        assert!(!counted(drows(15, 1)));
        assert!(counted(drows(16, 1)));
        // The bound a local: no cap.
        assert!(counted(do_while("", UPDATE, "i32.lt_u", "")));
    }

    #[test]
    fn a_constant_step() {
        // keccak's `drows` (`i += 5; br_if (i < 25)`), a negative (wrapping) step, a step
        // whose constant takes more than one byte, top-tested too.
        for (step, wanted) in [("5", 5), ("-3", -3i32 as u32), ("300", 300)] {
            let update = format!("(local.set 0 (i32.add (local.get 0) (i32.const {step})))");
            for wat in [
                do_while("", &update, "i32.lt_u", ""),
                shape("(i32.store8 (local.get 0) (local.get 1))", &update),
            ] {
                let found = recognise(&loop_bytes(&wat), |f| f == 0);
                assert_eq!(found.map(|f| f.step), Some(Step::Const(wanted)), "{wat}");
            }
        }
    }

    #[test]
    fn a_count_down() {
        let wat = |test: &str, update: &str| {
            format!(
                "(block $done (loop $next
                   (br_if $done {test})
                   (call 0 (i64.const 23))
                   (local.set 2 (i32.add (local.get 2) (i32.load8_u (local.get 0))))
                   {update}
                   (br $next)))"
            )
        };
        let eqz = "(i32.eqz (local.get 0))";
        let down = "(local.set 0 (i32.sub (local.get 0) (i32.const 1)))";
        let found = recognise(&loop_bytes(&wat(eqz, down)), |f| f == 0);
        assert_eq!(
            found,
            Some(CountedLoop {
                var: 0,
                bound: Bound::Const(0),
                step: Step::Down,
                test: Test::Top { exit_depth: 1 },
                cost: 23,
                header_len: 9,
            })
        );
        assert_eq!(found.map(|f| f.header_operators()), Some(5));
        let misses = [
            // Counting down to a bound, or up to 0; another step down; the test of
            // another local.
            wat("(i32.ge_u (local.get 0) (local.get 1))", down),
            wat(eqz, UPDATE),
            wat(eqz, "(local.set 0 (i32.sub (local.get 0) (i32.const 2)))"),
            wat(eqz, "(local.set 0 (i32.sub (local.get 0) (local.get 1)))"),
            wat("(i32.eqz (local.get 1))", down),
            // The count-down update in a bottom-tested loop.
            do_while("", down, "i32.lt_u", ""),
        ];
        for wat in misses {
            assert_eq!(recognise(&loop_bytes(&wat), |f| f == 0), None, "{wat}");
        }
    }

    fn do_while(body: &str, update: &str, test: &str, after: &str) -> String {
        format!(
            "(loop $next
               (call 0 (i64.const 41))
               {body}
               {update}
               (br_if $next ({test} (local.get 0) (local.get 1)))
               {after})"
        )
    }

    #[test]
    fn recognises_the_bottom_tested_loop() {
        let body = "(local.set 2 (i32.add (local.get 2) (i32.load8_u (local.get 0))))";
        for after in ["", "(call 0 (i64.const 9))"] {
            let code = loop_bytes(&do_while(body, UPDATE, "i32.lt_u", after));
            let found = recognise(&code, |f| f == 0).expect("a counted loop");
            // The test's four operators: local.get 0, local.get 1, i32.lt_u, br_if 0.
            let tail = code
                .windows(7)
                .position(|w| w == [0x20, 0, 0x20, 1, 0x49, 0x0d, 0]);
            assert_eq!(
                found,
                CountedLoop {
                    var: 0,
                    bound: Bound::Local(1),
                    step: Step::One,
                    test: Test::Bottom {
                        tail: tail.expect("the test"),
                        tail_len: 7
                    },
                    cost: 41,
                    header_len: 4,
                }
            );
        }
        let misses = [
            // Another test, the bound written, a second write of the variable.
            do_while("", UPDATE, "i32.le_u", ""),
            do_while("(local.set 1 (i32.const 0))", UPDATE, "i32.lt_u", ""),
            do_while("(local.set 0 (local.get 2))", UPDATE, "i32.lt_u", ""),
            // Something else after the test.
            do_while("", UPDATE, "i32.lt_u", "(drop (i32.const 0))"),
            // No update right before the test.
            do_while(UPDATE, "(drop (i32.const 0))", "i32.lt_u", ""),
        ];
        for wat in misses {
            assert_eq!(recognise(&loop_bytes(&wat), |f| f == 0), None, "{wat}");
        }
    }
}
