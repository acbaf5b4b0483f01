//! How far the loads off one base (a local, or a local shifted left by a constant: see
//! `proven::AddrBase`) reach in the straight-line code after a load, so the
//! first load's length check can cover them all (issue 16: "the largest end first").
//!
//! A load off a lazy read of local `l` (`local.get l; i32.load offset=o`) that `proven`
//! does not cover gets a length check of `base + end <= memory length`. C compilers
//! and hand-written kernels read fields in increasing order (`offset=0`, `8`, `16`, …),
//! so each later load's end exceeds what the previous check proved and would need its
//! own check. Checking the largest end of the *window* first instead is exact when
//! nothing between the first load and the last can make the earlier trap observable:
//!
//! - every operator of the window runs whenever the first load does (no branch, block,
//!   `end`, `return` or `unreachable`), so the original code reaches the load with the
//!   largest end unless an earlier operator traps;
//! - the only operators in the window that can trap are loads, and they trap with the
//!   same kind (`memory_out_of_bounds`): a trap moved earlier within the window is the
//!   same trap;
//! - nothing in the window has an effect a trap leaves behind: no store (memory and the
//!   written ranges' charge), no call (gas charges are `gasket.gas` calls, so the gas at
//!   the trap is the same), no `global.set` (report builds count sites in globals), no
//!   bulk or table operator. `local.set`/`local.tee` of other locals are fine (locals
//!   die with the trap); one of `l` itself ends the window, since later loads read a
//!   new value; memory cannot grow inside the window.
//!
//! The scan reads at most [`MAX_OPERATORS`] operators (compile time stays linear: one
//! bounded scan per check actually emitted) and stops at anything it does not
//! recognise, malformed bytes included (the main reader reports those).

use super::bytes::Bytes;
use super::proven::AddrBase;

/// Operators scanned past a load at most.
const MAX_OPERATORS: u8 = 48;

/// How much of the address pattern of `base` the operators just read match.
#[derive(Copy, Clone, PartialEq, Eq)]
enum Pattern {
    None,
    /// `local.get base.local`
    Local,
    /// `local.get base.local; i32.const c` with `c mod 32 == base.shift`
    Shift,
    /// The whole pattern: the top of the stack is the base's value.
    Base,
}

/// What the window of a load reaches: the largest end of its loads, and the store that
/// ends it when that store can share the first load's check (see [`window_scan`]).
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Window {
    /// The largest `offset + width` of the loads off the base (0: no load at `at`).
    pub end: u64,
    /// `(offset, offset + width)` of the store that ends the window, when its address is
    /// the base's value (shift 0) and every load in the window is off the base.
    pub store: Option<(u64, u64)>,
}

/// The largest `offset + width` of the loads off `base` in the window that starts with
/// the load at `code[at..]` (included), or 0 when `code[at]` is no plain load.
#[cfg(test)]
pub(crate) fn window_end(code: &[u8], at: usize, base: AddrBase) -> u64 {
    window(code, at, base, 0).end
}

/// The window of the load at `code[at..]` off `base` (see [`window_scan`]).
#[cfg(test)]
pub(crate) fn window(code: &[u8], at: usize, base: AddrBase, below: u64) -> Window {
    window_scan(code, at, base, below).0
}

/// The window of the load at `code[at..]` off `base` (see the module docs): the largest
/// `offset + width` of its loads off `base` (0 when `code[at]` is no plain load, a
/// memory index other than 0, say; a later load is off `base` when its address is a
/// lazy read of the local right before it, `local.get l` for shift 0, or `local.get l;
/// i32.const c; i32.shl`), and the store ending it if that store can share the check.
/// Bit `i` of `below` says that the operand-stack entry `i` places under the load's
/// address (0: the entry right under it) is the base's value (a lazy read of its local,
/// shift 0), as the store's address usually is (`local.get p; local.get p; f64.load;
/// …; f64.store`).
///
/// A store ends the window (it has an effect a trap leaves behind). But when its address
/// is the base itself (`local.get l` with shift 0, before the window or inside it: a
/// small stack model follows the operators) and every load between is off the
/// base, the first load's check may also do the store's: check `[base, base + max)`
/// against the current written range, and out of line check the loads' length, then
/// call the dirty-range stub with the store's bytes. Nothing between the first load and
/// the store can trap (the loads off the base are covered by the same check; a load off
/// another address could trap after the stub charged and widened, so it forbids this),
/// nothing there reads gas, memory written or the ranges, so the stub running earlier
/// gives the same trap (a length trap of the loads first, as they come first), the same
/// gas and the same memory.
///
/// With a sharing store, also the scan stopped just past it: the store run that check
/// may open goes on from there ([`Scan::run_end`]) instead of reading the window again.
pub(crate) fn window_scan(
    code: &[u8],
    at: usize,
    base: AddrBase,
    below: u64,
) -> (Window, Option<Scan>) {
    let Some((_, first, past)) = access_at(code, at, Class::Load) else {
        return (Window::default(), None);
    };
    let stack = StackModel::with_below(if base.shift == 0 { below } else { 0 });
    let mut scan = Scan::new(past, base, stack, first);
    let store = match scan.until_store(code) {
        Next::Store { from, to } if !scan.foreign_load && scan.stack.address_is_base() => {
            Some((from, to))
        }
        _ => None,
    };
    let window = Window {
        end: scan.end,
        store,
    };
    (window, store.map(|_| scan))
}

/// The largest end of the accesses off `base` (loads, and stores whose address the stack
/// model shows is the base's value, shift 0) in the straight-line code from the store at
/// `code[at..]` (its own end included) up to the first operator a window stops at or a
/// store off any other address: the span a store run's first check compares
/// (`codegen/store_run.rs`). 0 when `code[at]` is no plain store. `below` as for
/// [`window_scan`], for the entries under the store's address. A heuristic only: the
/// run's exactness never depends on it. A run opened by a load's check that a store
/// shares goes on from the window's scan instead ([`Scan::run_end`]).
///
/// `memo` (None: not kept, the operand stack being deeper than [`RunMemo::MAX_DEPTH`])
/// answers for a store an earlier run scan went through, and keeps what this scan finds
/// (see [`RunMemo`]).
pub(crate) fn store_run_end(
    code: &[u8],
    at: usize,
    base: AddrBase,
    below: u64,
    memo: Option<&mut RunMemo>,
) -> u64 {
    let Some((_, first, past)) = access_at(code, at, Class::Store) else {
        return 0;
    };
    let mut stack = StackModel::with_below(if base.shift == 0 { below } else { 0 });
    // The model starts at a load's result: a store leaves none.
    stack.apply(1, 0);
    if let Some(span) = memo.as_deref().and_then(|m| m.span(past, base, &stack)) {
        return span;
    }
    Scan::new(past, base, stack, first).run_end(code, memo)
}

/// Where a scan stopped: at a store (read, its operands still on the model's stack), or
/// at an operator that ends every window and run, or at the operator limit.
enum Next {
    Store { from: u64, to: u64 },
    Stop,
    Limit,
}

/// A forward scan from an access off `base`, stopped just past a store (or not started):
/// everything it needs to go on, without the bytes, so codegen can keep it while it
/// emits a check and go on with it for a store run (one scan for a load's window and the
/// run its shared store check opens).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) struct Scan {
    /// The next operator's offset in the body.
    at: usize,
    base: AddrBase,
    stack: StackModel,
    /// The largest end of the accesses off `base` read so far.
    end: u64,
    /// Operators the scan may still read (of [`MAX_OPERATORS`] after the first access).
    left: u8,
    /// Whether a load off another address was read (the window's store cannot share).
    foreign_load: bool,
}

impl Scan {
    fn new(at: usize, base: AddrBase, stack: StackModel, first: u64) -> Scan {
        Scan {
            at,
            base,
            stack,
            end: first,
            left: MAX_OPERATORS,
            foreign_load: false,
        }
    }

    /// Reads operators up to the next store (read, returned with its bytes `(offset,
    /// offset + width)`; the model's stack still holds its operands) or to the first
    /// operator that ends every window and run: a branch, block boundary, call,
    /// `global.set`, trapping divide or truncation, a write of the base's local, anything
    /// unrecognised or unreadable. Inlined into its two callers (the window's scan, a
    /// run's loop): out of line, its state went through memory at every call.
    #[inline(always)]
    fn until_store(&mut self, code: &[u8]) -> Next {
        let base = self.base;
        let mut bytes = Bytes { code, at: self.at };
        let mut pattern = Pattern::None;
        // The state in locals (registers) for the loop, written back after it.
        let mut stack = self.stack;
        let mut end = self.end;
        let mut left = self.left;
        let mut foreign_load = self.foreign_load;
        let next = loop {
            if left == 0 {
                break Next::Limit;
            }
            left -= 1;
            let Some(op) = bytes.byte() else {
                break Next::Stop;
            };
            let seen = std::mem::replace(&mut pattern, Pattern::None);
            match CLASSES[usize::from(op)] {
                Class::LocalGet => match bytes.u32() {
                    Some(index) if index == base.local => {
                        pattern = if base.shift == 0 {
                            Pattern::Base
                        } else {
                            Pattern::Local
                        };
                        stack.push(base.shift == 0);
                    }
                    Some(_) => stack.push(false),
                    None => break Next::Stop,
                },
                // local.set, local.tee: of the base itself, later loads read a new value.
                Class::LocalWrite => match bytes.u32() {
                    Some(index) if index != base.local => stack.apply(1, u32::from(op == 0x22)),
                    _ => break Next::Stop,
                },
                Class::GlobalGet => {
                    if bytes.u32().is_none() {
                        break Next::Stop;
                    }
                    stack.push(false);
                }
                // Loads: they can only trap out of bounds, the trap the window moves.
                Class::Load => {
                    let (offset, past) = memarg_at(code, bytes.at);
                    if past == 0 {
                        break Next::Stop;
                    }
                    bytes.at = past;
                    if seen == Pattern::Base {
                        end = end.max(offset + access_width(op));
                    } else {
                        foreign_load = true;
                    }
                    stack.apply(1, 1);
                }
                // Stores end the window; one off the base itself may share the check, or
                // go on with a run.
                Class::Store => {
                    let (from, past) = memarg_at(code, bytes.at);
                    if past == 0 {
                        break Next::Stop;
                    }
                    bytes.at = past;
                    break Next::Store {
                        from,
                        to: from + access_width(op),
                    };
                }
                Class::I32Const => match bytes.var_i64() {
                    Some(c) if seen == Pattern::Local && (c & 31) as u8 == base.shift => {
                        pattern = Pattern::Shift;
                        stack.push(false);
                    }
                    Some(_) => stack.push(false),
                    None => break Next::Stop,
                },
                Class::I64Const => {
                    if bytes.var_i64().is_none() {
                        break Next::Stop;
                    }
                    stack.push(false);
                }
                Class::F32Const => {
                    bytes.at += 4;
                    stack.push(false);
                }
                Class::F64Const => {
                    bytes.at += 8;
                    stack.push(false);
                }
                Class::Nop => {}
                Class::Drop => stack.apply(1, 0),
                Class::Select => stack.apply(3, 1),
                Class::Unary => stack.apply(1, 1),
                Class::Binary => stack.apply(2, 1),
                Class::Shl => {
                    if seen == Pattern::Shift {
                        pattern = Pattern::Base;
                    }
                    stack.apply(2, 1);
                }
                Class::Stop => break Next::Stop,
            }
        };
        self.at = bytes.at;
        self.stack = stack;
        self.end = end;
        self.left = left;
        self.foreign_load = foreign_load;
        next
    }

    /// Goes on as a store run's scan: stores off the base (as the stack model shows it,
    /// shift 0) count and the scan goes on, a store off any other address stops it;
    /// returns the largest end of the accesses off the base. The scan must stand just past
    /// a store off the base, whose end it holds (the one whose check opens the run, or
    /// the one a load's check shares). Keeps the spans of the stores it goes through in
    /// `memo`, if given (see [`RunMemo`]).
    pub(crate) fn run_end(mut self, code: &[u8], mut memo: Option<&mut RunMemo>) -> u64 {
        if let Some(memo) = memo.as_deref_mut() {
            memo.start(self.base);
        }
        let mut end = self.end;
        let complete = loop {
            // The loads' ends of each stretch between stores apart, for the memo.
            self.end = 0;
            let next = self.until_store(code);
            end = end.max(self.end);
            if let Some(memo) = memo.as_deref_mut() {
                memo.reach(self.end);
            }
            match next {
                Next::Store { to, .. } if self.stack.address_is_base() => {
                    end = end.max(to);
                    self.stack.apply(2, 0);
                    if let Some(memo) = memo.as_deref_mut() {
                        memo.through(self.at, &self.stack, to);
                    }
                }
                Next::Store { .. } | Next::Stop => break true,
                Next::Limit => break false,
            }
        };
        if let Some(memo) = memo {
            memo.finish(complete);
        }
        end
    }

    /// Goes on past the store that ends a load's window (the store its check shares, off
    /// the base: [`window_scan`] returned this scan with it) as that check's store run
    /// scan ([`Scan::run_end`]), the store's end `to` included: what a scan from the load
    /// reads, without reading the window again.
    pub(crate) fn run_end_after(mut self, code: &[u8], to: u64, memo: Option<&mut RunMemo>) -> u64 {
        self.end = self.end.max(to);
        self.stack.apply(2, 0);
        self.run_end(code, memo)
    }
}

/// The spans a store run's scan found for the later stores it went through, so that the
/// check of such a store, when no run covers it (stores in decreasing order of offset,
/// `[sp+8]` then `[sp]`, open none), does not read the same operators again.
///
/// Exact: the scan from a store is a function of the body, the store's offset, the base
/// and the stack model it starts from (`below`). An earlier scan that went through the
/// store stood just past it with a model; when that model is the one a fresh scan starts
/// from (the same base entries at every depth: the words compared aligned at the top;
/// both complete and never emptied, see [`RunMemo::MAX_DEPTH`]), the two read the same
/// operators with the same stack from there on. The earlier one stopped at an operator
/// that stops every scan (not at its operator limit: the fresh one may read further), so
/// the fresh one stops there too, within its own limit, and its result is the store's
/// end and the ends of the accesses off the base after it up to that stop: the span kept.
/// Nothing else is an input of a scan (not the proven facts, the open run or what was
/// emitted), so the memo needs no invalidation: it is cleared with each function (its
/// offsets are the body's) and replaced by each run scan that keeps one.
#[derive(Clone, Debug, Default)]
pub(crate) struct RunMemo {
    base: Option<AddrBase>,
    /// Per store gone through: the offset just past it, the model's stack there (aligned
    /// at the top), and the largest end of the accesses from it to the next store gone
    /// through (by `finish`: to the scan's stop).
    stores: Vec<(usize, u128, u64)>,
}

impl RunMemo {
    /// The deepest operand stack (codegen's, under the first access's operands) for
    /// which a scan is kept or answered: every entry is then in the model (`below` has 63
    /// bits), and the model's heights stay at 1 or more (valid wasm pops no entry it did
    /// not push), where pushes of the base are recorded.
    pub const MAX_DEPTH: usize = 62;

    /// Forgets everything: a new function's body.
    pub fn clear(&mut self) {
        self.base = None;
        self.stores.clear();
    }

    /// The span kept for the store just before `at` off `base`, if a fresh scan from it
    /// would start with `stack`.
    fn span(&self, at: usize, base: AddrBase, stack: &StackModel) -> Option<u64> {
        if self.base != Some(base) {
            return None;
        }
        let &(_, bits, span) = self.stores.iter().find(|&&(past, _, _)| past == at)?;
        (stack.top_aligned() == Some(bits)).then_some(span)
    }

    fn start(&mut self, base: AddrBase) {
        self.base = Some(base);
        self.stores.clear();
    }

    /// A load off the base read since the last store gone through ends at `end`.
    fn reach(&mut self, end: u64) {
        if let Some(last) = self.stores.last_mut() {
            last.2 = last.2.max(end);
        }
    }

    /// The scan went through a store off the base ending at `to` and stands at `at`, past
    /// it, with `stack`.
    fn through(&mut self, at: usize, stack: &StackModel, to: u64) {
        match stack.top_aligned() {
            Some(bits) => self.stores.push((at, bits, to)),
            // Outside the model's heights (never within `MAX_DEPTH`): not kept; the
            // accesses after it still count for the stores before it.
            None => self.reach(to),
        }
    }

    /// The scan ended, at an operator that stops every scan (`complete`) or at its limit
    /// (nothing kept).
    fn finish(&mut self, complete: bool) {
        if !complete {
            self.stores.clear();
            return;
        }
        let mut span = 0;
        for store in self.stores.iter_mut().rev() {
            span = span.max(store.2);
            store.2 = span;
        }
    }
}

/// How [`Scan::until_store`] reads an operator, by its opcode: one table load and one
/// dense jump table an operator ([`CLASSES`]). A `match` on the opcode itself became a
/// jump table over `0x01..=0x74` only, and the operators past it (loads and stores off
/// the table's default, the numeric operators above `i32.shl`) walked a chain of up to
/// six compares (the eighteenth round of issue 17 in ARCHITECTURE.md).
#[derive(Copy, Clone, PartialEq, Eq)]
enum Class {
    /// Ends every window and run: branches, blocks, calls, `global.set`, trapping
    /// numerics, anything not recognised.
    Stop,
    Nop,
    LocalGet,
    /// `local.set`, `local.tee`.
    LocalWrite,
    GlobalGet,
    /// A load, `0x28..=0x35`.
    Load,
    /// A store, `0x36..=0x3e`.
    Store,
    I32Const,
    I64Const,
    F32Const,
    F64Const,
    Drop,
    Select,
    /// A numeric operator that cannot trap, one operand ([`unary`]).
    Unary,
    /// A numeric operator that cannot trap, two operands.
    Binary,
    /// `i32.shl`: binary, and the end of a shifted base's pattern.
    Shl,
}

/// [`Class`] by opcode.
const CLASSES: [Class; 256] = {
    let mut classes = [Class::Stop; 256];
    let mut op = 0x45;
    while op <= 0xc4 {
        classes[op] = if unary(op as u8) {
            Class::Unary
        } else {
            Class::Binary
        };
        op += 1;
    }
    // Integer division and remainder (by zero, overflow) and float-to-int truncation
    // (NaN, range) trap with other kinds than a load's.
    let trapping: &[(usize, usize)] = &[(0x6d, 0x70), (0x7f, 0x82), (0xa8, 0xab), (0xae, 0xb1)];
    let mut i = 0;
    while i < trapping.len() {
        let (from, to) = trapping[i];
        let mut op = from;
        while op <= to {
            classes[op] = Class::Stop;
            op += 1;
        }
        i += 1;
    }
    let mut op = 0x28;
    while op <= 0x3e {
        classes[op] = if op <= 0x35 {
            Class::Load
        } else {
            Class::Store
        };
        op += 1;
    }
    classes[0x01] = Class::Nop;
    classes[0x1a] = Class::Drop;
    classes[0x1b] = Class::Select;
    classes[0x20] = Class::LocalGet;
    classes[0x21] = Class::LocalWrite;
    classes[0x22] = Class::LocalWrite;
    classes[0x23] = Class::GlobalGet;
    classes[0x41] = Class::I32Const;
    classes[0x42] = Class::I64Const;
    classes[0x43] = Class::F32Const;
    classes[0x44] = Class::F64Const;
    classes[0x74] = Class::Shl;
    classes
};

/// The bytes the load or store of opcode `op` (`0x28..=0x3e`) accesses (a table of all
/// 256 opcodes: indexed by a `u8`, it needs no bounds check).
#[inline(always)]
fn access_width(op: u8) -> u64 {
    const WIDTHS: [u8; 256] = {
        let by_opcode: [u8; 23] = [
            4, 8, 4, 8, 1, 1, 2, 2, 1, 1, 2, 2, 4, 4, // loads
            4, 8, 4, 8, 1, 2, 1, 2, 4, // stores
        ];
        let mut widths = [0; 256];
        let mut i = 0;
        while i < by_opcode.len() {
            widths[0x28 + i] = by_opcode[i];
            i += 1;
        }
        widths
    };
    u64::from(WIDTHS[usize::from(op)])
}

/// The load or store at `code[at..]` if its opcode is of `class` ([`Class::Load`] or
/// [`Class::Store`]): `(offset, offset + width, where it ends)`; None for anything else, a
/// memory index other than 0 or an offset past 32 bits. By value, as [`memarg_at`]: the
/// scans' set-up took their cursor by address for the first access's read.
#[inline(always)]
fn access_at(code: &[u8], at: usize, class: Class) -> Option<(u64, u64, usize)> {
    let op = *code.get(at)?;
    if CLASSES[usize::from(op)] != class {
        return None;
    }
    let (offset, past) = memarg_at(code, at + 1);
    (past != 0).then(|| (offset, offset + access_width(op), past))
}

/// The memarg at `code[at..]`: its offset and where it ends; `(0, 0)` for a memory
/// index other than 0 (the multi-memory flag in the alignment), an offset past 32 bits
/// or bytes that end first. Takes the cursor by value, so the scans' loop keeps its
/// cursor in a register (a method on the loop's `Bytes` out of line took it by address,
/// which kept the cursor in memory: a reload and a store at every operator), and returns
/// two words (in registers) rather than an `Option` of them (through memory).
#[inline(never)]
fn memarg_at(code: &[u8], at: usize) -> (u64, usize) {
    let mut bytes = Bytes { code, at };
    let read = |bytes: &mut Bytes| {
        let align = bytes.u32()?;
        if align & 0x40 != 0 {
            return None;
        }
        bytes
            .var_u64()
            .filter(|&offset| offset <= u64::from(u32::MAX))
    };
    match read(&mut bytes) {
        Some(offset) => (offset, bytes.at),
        None => (0, 0),
    }
}

/// Whether numeric operator `op` (0x45..=0xc4) takes one operand (tests, counts,
/// float unary operators, conversions); the others take two.
const fn unary(op: u8) -> bool {
    matches!(
        op,
        0x45 | 0x50 | 0x67..=0x69 | 0x79..=0x7b | 0x8b..=0x91 | 0x99..=0x9f | 0xa7..=0xc4
    )
}

/// Which operand-stack entries hold the base's value: bit `h` of `base` for the entry at
/// height `h`; the first load's result is at [`StackModel::START`], the entries under it
/// as codegen's stack says (`below`), those pushed in the window as the operators say.
/// Entries outside `1..128` are never the base (conservative: a store addressed by one
/// just does not share the check).
///
/// Only the live entries' bits (heights `1..=height`) mean anything: a pop leaves the
/// popped entries' bits behind and each push writes its own, so a pop costs a
/// subtraction and a push of another value (most operators) a compare against `hi`,
/// above which no bit is set (the scans read a few million operators on the corpus).
///
/// Two words rather than one `u128`: a bit of a `u128` at a variable height is a
/// double-word shift and two conditional moves (x86-64 has no 128-bit shift), paid at
/// nearly every push of the scans. The low word runs downwards (height `h` at bit
/// `63 - h`) so that it is `below` as it comes ([`StackModel::with_below`]): bit `i` of
/// `below` is the entry at height `63 - i`. A bit's position is then one `xor` more
/// ([`StackModel::position`]) than with both words upwards, where `with_below` paid a
/// bit reversal (about 25 instructions on x86-64) at each of the ≈ 473 K scans of the
/// corpus.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
struct StackModel {
    height: i32,
    /// Heights 0..64, height `h` at bit `63 - h`.
    low: u64,
    /// Heights 64..128, height `h` at bit `h - 64`.
    high: u64,
    /// No bit above this height is set.
    hi: i32,
}

impl StackModel {
    /// The height of the first load's result: at most 48 operators pop at most 3 each.
    const START: i32 = 64;

    /// The model at the first load's result, bit `i` of `below` for the entry `i` places
    /// under it.
    fn with_below(below: u64) -> Self {
        // Bit `i < START - 1` of `below` is height `START - 1 - i` (63 - i), which the
        // low word keeps at bit `i` (`i = 63` would be height 0, never the base).
        const _: () = assert!(StackModel::START == 64);
        let low = below & !(1 << 63);
        StackModel {
            height: Self::START,
            low,
            high: 0,
            hi: if low == 0 { 0 } else { Self::START - 1 },
        }
    }

    /// The base entries' bits as one word (bit `h` for height `h`).
    #[cfg(test)]
    fn bits(&self) -> u128 {
        u128::from(self.high) << 64 | u128::from(self.low.reverse_bits())
    }

    /// The bit of height `h` (in `0..128`) in its word: `63 - h` in the low word (for
    /// `h` below 64, that is `h ^ 63`), `h - 64` in the high one.
    #[inline(always)]
    fn position(h: i32) -> u32 {
        (if h < 64 { h ^ 63 } else { h }) as u32 & 63
    }

    /// An operator popping `pops` entries and pushing `pushes` (0 or 1) results, none the
    /// base.
    #[inline(always)]
    fn apply(&mut self, pops: u32, pushes: u32) {
        self.height -= pops as i32;
        if pushes != 0 {
            self.height += 1;
            self.clear_top();
        }
    }

    /// Pushes one entry, the base's value or not.
    #[inline(always)]
    fn push(&mut self, is_base: bool) {
        self.height += 1;
        if !is_base {
            self.clear_top();
        } else if (1..128).contains(&self.height) {
            let h = self.height;
            let bit = 1u64 << Self::position(h);
            if h < 64 {
                self.low |= bit;
            } else {
                self.high |= bit;
            }
            self.hi = self.hi.max(h);
        }
    }

    /// The entry on top is not the base (its bit may be a popped entry's).
    #[inline(always)]
    fn clear_top(&mut self) {
        let h = self.height;
        // `hi` is below 128, so `h` is a height with a bit.
        if h <= self.hi && h >= 1 {
            let keep = !(1u64 << Self::position(h));
            if h < 64 {
                self.low &= keep;
            } else {
                self.high &= keep;
            }
        }
    }

    /// The base entries by depth: bit `d` for the entry `d` places under the top (the
    /// live entries only); None when the height is outside `0..=127`.
    fn top_aligned(&self) -> Option<u128> {
        let h = self.height;
        if !(0..128).contains(&h) {
            return None;
        }
        // Height `g < 64` is at bit `63 - g` of the low word, and at depth `h - g`: bit
        // `63 - h + d`. The entries above `h` (dead) fall off the right.
        let low = if h < 64 {
            u128::from(self.low >> (63 - h))
        } else {
            u128::from(self.low) << (h - 63)
        };
        // Heights `64..=h` are bits `0..=h - 64` of the high word, `g` at depth `h - g`:
        // reversed, and the dead ones above `h` cut off.
        let live_high = if h < 64 {
            0
        } else {
            self.high & (u64::MAX >> (127 - h))
        };
        let high = if live_high == 0 {
            0
        } else {
            u128::from(live_high.reverse_bits() >> (127 - h))
        };
        Some(low | high)
    }

    /// Whether a store's address (the entry below its value) is the base.
    #[inline(always)]
    fn address_is_base(&self) -> bool {
        let h = self.height - 1;
        let word = if h < 64 { self.low } else { self.high };
        (1..128).contains(&h) && word >> Self::position(h) & 1 != 0
    }
}

impl Bytes<'_> {
    /// Reads a store (opcode and memarg) and returns its bytes `(offset, offset +
    /// width)`; None for anything else, a memory index other than 0 or an offset past 32
    /// bits. (The scans' reading before [`access_at`]: the tests' reference for it.)
    #[cfg(test)]
    fn store_bytes(&mut self) -> Option<(u64, u64)> {
        let width = match self.byte()? {
            0x36 | 0x38 | 0x3e => 4,
            0x37 | 0x39 => 8,
            0x3a | 0x3c => 1,
            0x3b | 0x3d => 2,
            _ => return None,
        };
        let offset = self.memarg_offset()?;
        Some((offset, offset + width))
    }

    /// Reads a load (opcode and memarg) and returns `offset + width`; None for anything
    /// else, a memory index other than 0 (the multi-memory flag in the alignment) or an
    /// offset past 32 bits. (The tests' reference for [`access_at`], as `store_bytes`.)
    #[cfg(test)]
    fn load_end(&mut self) -> Option<u64> {
        let width = match self.byte()? {
            0x28 | 0x2a | 0x34 | 0x35 => 4,
            0x29 | 0x2b => 8,
            0x2c | 0x2d | 0x30 | 0x31 => 1,
            0x2e | 0x2f | 0x32 | 0x33 => 2,
            _ => return None,
        };
        Some(self.memarg_offset()? + width)
    }

    /// Reads a memarg and returns its offset; None for a memory index other than 0 (the
    /// multi-memory flag in the alignment) or an offset past 32 bits. (The scans' reading
    /// before [`memarg_at`], kept as the tests' reference for it.)
    #[cfg(test)]
    fn memarg_offset(&mut self) -> Option<u64> {
        let align = self.u32()?;
        if align & 0x40 != 0 {
            return None;
        }
        let offset = self.var_u64()?;
        (offset <= u64::from(u32::MAX)).then_some(offset)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_rng::xorshift;

    fn body(wat_ops: &str) -> Vec<u8> {
        let wat = format!(
            "(module (memory 1) (global $g (mut i32) (i32.const 0)) \
             (func (param i32 i32) (local f64) {wat_ops}))"
        );
        let wasm = wat::parse_str(wat).unwrap();
        for payload in wasmparser::Parser::new(0).parse_all(&wasm) {
            if let wasmparser::Payload::CodeSectionEntry(body) = payload.unwrap() {
                let ops = body.get_operators_reader().unwrap();
                let mut reader = ops.get_binary_reader();
                return reader
                    .read_bytes(reader.bytes_remaining())
                    .unwrap()
                    .to_vec();
            }
        }
        unreachable!()
    }

    /// The window of the first load in the body, which starts with `local.get 0`.
    fn end_of(wat_ops: &str) -> u64 {
        window_end(&body(wat_ops), 2, AddrBase::local(0))
    }

    /// `with_below` puts bit `i` of `below` at height `START - 1 - i`, as the loop it
    /// replaced did, for single bits, the top bit (never a height) and mixed words.
    #[test]
    fn stack_model_below_bits_land_at_their_heights() {
        let by_loop = |below: u64| {
            let mut base = 0u128;
            for i in 0..StackModel::START - 1 {
                if below & (1 << i) != 0 {
                    base |= 1u128 << (StackModel::START - 1 - i);
                }
            }
            base
        };
        let mut words: Vec<u64> = (0..64).map(|i| 1u64 << i).collect();
        words.extend([0, u64::MAX, 0x8000_0000_0000_0001, 0x0123_4567_89ab_cdef]);
        words.extend(std::iter::repeat_with(xorshift(0x9e37_79b9_7f4a_7c15)).take(1000));
        for below in words {
            assert_eq!(
                StackModel::with_below(below).bits(),
                by_loop(below),
                "{below:#x}"
            );
        }
    }

    /// The stack model as first written, clearing the popped entries' bits at every pop:
    /// what the one that leaves them behind must answer.
    struct ClearingModel {
        height: i32,
        base: u128,
    }

    impl ClearingModel {
        fn apply(&mut self, pops: u32, pushes: u32) {
            self.height -= pops as i32;
            self.keep_below(self.height);
            self.height += pushes as i32;
        }

        fn push(&mut self, is_base: bool) {
            self.height += 1;
            self.keep_below(self.height - 1);
            if is_base && (1..128).contains(&self.height) {
                self.base |= 1 << self.height;
            }
        }

        fn keep_below(&mut self, h: i32) {
            self.base &= match h {
                ..=0 => 0,
                1..=126 => (1u128 << (h + 1)) - 1,
                _ => u128::MAX,
            };
        }

        fn address_is_base(&self) -> bool {
            let h = self.height - 1;
            (1..128).contains(&h) && self.base & (1 << h) != 0
        }

        fn top_aligned(&self) -> Option<u128> {
            let shift = u32::try_from(127 - self.height).ok()?;
            self.base.checked_shl(shift)
        }
    }

    /// The class table says what the scan's `match` on the opcode said before it
    /// (written out here as that match's arms).
    #[test]
    fn classes_are_the_opcode_ranges() {
        for op in 0..=255u8 {
            let expected = match op {
                0x20 => Class::LocalGet,
                0x74 => Class::Shl,
                0x21 | 0x22 => Class::LocalWrite,
                0x23 => Class::GlobalGet,
                0x28..=0x35 => Class::Load,
                0x36..=0x3e => Class::Store,
                0x41 => Class::I32Const,
                0x42 => Class::I64Const,
                0x43 => Class::F32Const,
                0x44 => Class::F64Const,
                0x01 => Class::Nop,
                0x1a => Class::Drop,
                0x1b => Class::Select,
                0x6d..=0x70 | 0x7f..=0x82 | 0xa8..=0xab | 0xae..=0xb1 => Class::Stop,
                0x45..=0xc4 if unary(op) => Class::Unary,
                0x45..=0xc4 => Class::Binary,
                _ => Class::Stop,
            };
            assert!(CLASSES[usize::from(op)] == expected, "{op:#04x}");
        }
        // `access_at` reads what the scans' `load_end` and `store_bytes` read, for every
        // opcode and memargs plain, multi-memory, long and cut short.
        let memargs: [&[u8]; 7] = [
            &[2, 12],
            &[0x42, 0, 8],
            &[3, 0x80, 0x80, 0x04],
            &[2, 0xff, 0xff, 0xff, 0xff, 0x0f],
            &[2, 0x80, 0x80, 0x80, 0x80, 0x10],
            &[2],
            &[],
        ];
        for op in 0..=255u8 {
            for memarg in memargs {
                let code = [&[op][..], memarg].concat();
                let mut load = Bytes { code: &code, at: 0 };
                let expected = load.load_end().map(|end| (end, load.at));
                let read = access_at(&code, 0, Class::Load).map(|(_, end, past)| (end, past));
                assert_eq!(read, expected, "{op:#04x} {memarg:?}");
                let mut store = Bytes { code: &code, at: 0 };
                let expected = store.store_bytes().map(|span| (span, store.at));
                let read =
                    access_at(&code, 0, Class::Store).map(|(from, to, past)| ((from, to), past));
                assert_eq!(read, expected, "{op:#04x} {memarg:?}");
            }
        }
    }

    #[test]
    fn stack_model_matches_the_clearing_one() {
        let mut next = xorshift(0x853c_49e6_748f_ea9b);
        for round in 0..2000 {
            let below = match round % 3 {
                0 => 0,
                1 => next() & next(),
                _ => next(),
            };
            let mut model = StackModel::with_below(below);
            let mut reference = ClearingModel {
                height: model.height,
                base: model.bits(),
            };
            for _ in 0..(next() % 200) {
                let r = next();
                match r % 4 {
                    0 => {
                        let is_base = r & 0x10 != 0;
                        model.push(is_base);
                        reference.push(is_base);
                    }
                    _ => {
                        // Deep pops now and then: heights down to 0 and below.
                        let pops = ((r >> 8) % if r & 0x100 != 0 { 4 } else { 40 }) as u32;
                        let pushes = ((r >> 16) & 1) as u32;
                        model.apply(pops, pushes);
                        reference.apply(pops, pushes);
                    }
                }
                assert_eq!(model.height, reference.height);
                assert_eq!(model.address_is_base(), reference.address_is_base());
                // The memo's words are by depth from the top: the reference's, reversed.
                assert_eq!(
                    model.top_aligned(),
                    reference.top_aligned().map(u128::reverse_bits)
                );
            }
        }
    }

    #[test]
    fn later_loads_off_the_same_local_widen_the_check() {
        let ops = "local.get 0 f64.load local.get 1 f64.load f64.sub local.set 2 \
                   local.get 0 f64.load offset=8 local.get 0 i32.load8_u offset=30 \
                   f64.convert_i32_u f64.add local.get 0 i64.load offset=16 drop drop";
        assert_eq!(end_of(ops), 31);
    }

    #[test]
    fn loads_off_other_addresses_do_not_count() {
        let ops = "local.get 0 i32.load offset=4 local.get 1 i32.load offset=100 \
                   i32.const 3 i32.load offset=200 i32.add i32.add drop";
        assert_eq!(end_of(ops), 8);
    }

    #[test]
    fn the_window_ends_where_an_earlier_trap_could_be_seen() {
        let tail = |stop: &str| {
            end_of(&format!(
                "local.get 0 i32.load {stop} local.get 0 i32.load offset=60 drop drop"
            ))
        };
        assert_eq!(tail("i32.const 1 i32.add"), 64, "pure arithmetic");
        assert_eq!(tail("local.get 1 i32.store"), 4, "a store");
        assert_eq!(tail("i32.const 0 i32.div_u"), 4, "a trapping divide");
        assert_eq!(tail("global.set $g global.get $g"), 4, "a global write");
        assert_eq!(tail("call 0"), 4, "a call");
        assert_eq!(tail("local.tee 0"), 4, "the base changes");
        assert_eq!(tail("local.tee 1"), 64, "another local changes");
        assert_eq!(tail("br_if 0 i32.const 1"), 4, "a branch");
        assert_eq!(tail("block end"), 4, "a block");
        assert_eq!(
            tail("f64.const 1 i64.trunc_f64_s drop"),
            4,
            "a trapping conversion"
        );
    }

    /// The window of the first load (at 2, after `local.get 0`) off local 0.
    fn window_of(wat_ops: &str) -> Window {
        window(&body(wat_ops), 2, AddrBase::local(0), 0)
    }

    #[test]
    fn a_store_off_the_base_shares_the_check() {
        // nbody's read-modify-write: `p[4] = p[3] - x` after a load of `p[4]`.
        let rmw = "local.get 0 f64.load offset=32 local.set 2 \
                   local.get 0 local.get 0 f64.load offset=24 local.get 2 f64.sub \
                   f64.store offset=24";
        let shared = Window {
            end: 40,
            store: Some((24, 32)),
        };
        assert_eq!(window_of(rmw), shared);
        let widths = [
            ("i32.store", 0, 4),
            ("i64.store offset=3", 3, 11),
            ("i32.store8 offset=7", 7, 8),
            ("i64.store16", 0, 2),
            ("i64.store32 offset=9", 9, 13),
        ];
        for (store, from, to) in widths {
            let ty = &store[..3];
            let ops = format!(
                "local.get 0 {ty}.load drop local.get 0 i32.const 1 i32.const 2 local.get 1 \
                 select drop local.get 0 {ty}.load offset=1 {store}"
            );
            assert_eq!(window_of(&ops).store, Some((from, to)), "{store}");
        }
    }

    #[test]
    fn only_a_store_addressed_by_the_base_after_loads_off_it_shares() {
        let none = |ops: &str| {
            let w = window_of(ops);
            assert_eq!(w.store, None, "{ops}");
            w.end
        };
        // Addressed by another local, by the base plus something, or by a value of the
        // base pushed before the window.
        none("local.get 0 f64.load local.set 2 local.get 1 local.get 2 f64.store offset=8");
        none("local.get 0 i32.load i32.const 4 i32.add local.get 0 i32.store");
        none("local.get 0 i32.load local.get 0 i32.const 4 i32.add i32.store");
        none("local.get 0 i32.load local.get 0 i32.add local.get 0 i32.store drop");
        // A load off another address between: it could trap after the stub charged.
        let end = none(
            "local.get 0 f64.load local.set 2 local.get 0 local.get 1 f64.load \
             local.get 0 f64.load offset=8 f64.add f64.store",
        );
        assert_eq!(end, 16);
        // A shifted base's store address is no lazy read of the local.
        let code =
            body("local.get 0 i32.const 2 i32.shl i32.load local.get 0 local.get 0 i32.store");
        let w = window(&code, 5, AddrBase { local: 0, shift: 2 }, !0);
        assert_eq!(
            w,
            Window {
                end: 4,
                store: None
            }
        );
        // A base pushed before the window starts (below the first load's result).
        let code = body("local.get 0 local.get 0 i32.load i32.store");
        assert_eq!(window(&code, 4, AddrBase::local(0), 0).store, None);
        // ... unless codegen's stack says it is a read of the base (nbody's
        // `p[3] = p[3] - x`).
        let code = body("local.get 0 local.get 0 i32.load offset=12 i32.store offset=12");
        let shared = Window {
            end: 16,
            store: Some((12, 16)),
        };
        assert_eq!(window(&code, 4, AddrBase::local(0), 1), shared);
        assert_eq!(
            window(&code, 4, AddrBase::local(0), 2).store,
            None,
            "deeper"
        );
        // The store's address is the entry right under the first load's address.
        let code = body(
            "local.get 1 local.get 0 local.get 0 i32.load local.get 0 i32.load offset=4 \
             i32.add i32.store offset=8 drop",
        );
        assert_eq!(
            window(&code, 6, AddrBase::local(0), 0b01).store,
            Some((8, 12))
        );
        assert_eq!(
            window(&code, 6, AddrBase::local(0), 0b10).store,
            None,
            "the entry under the address"
        );
        // The base written between: the window ends there, no store.
        none("local.get 0 i32.load local.set 0 local.get 0 i32.const 1 i32.store");
    }

    /// The span of a run opened at the store at `code[at..]` off local 0, scanned afresh.
    fn fresh_span(code: &[u8], at: usize, below: u64) -> u64 {
        store_run_end(code, at, AddrBase::local(0), below, None)
    }

    /// The offsets of the operators of a plain body (one-byte opcodes, LEB immediates of
    /// one byte: what these tests write), each with its opcode.
    fn operators(code: &[u8]) -> Vec<(usize, u8)> {
        let mut at = 0;
        let mut ops = Vec::new();
        while at < code.len() {
            let op = code[at];
            ops.push((at, op));
            let mut bytes = Bytes { code, at: at + 1 };
            bytes
                .skip_immediates(op)
                .or_else(|| bytes.skip_leb())
                .unwrap();
            at = bytes.at;
        }
        ops
    }

    /// The offsets of the `i32.store` operators in `code`.
    fn i32_stores(code: &[u8]) -> Vec<usize> {
        operators(code)
            .into_iter()
            .filter(|&(_, op)| op == 0x36)
            .map(|(at, _)| at)
            .collect()
    }

    #[test]
    fn a_run_goes_on_from_the_window_of_the_load_whose_check_it_shares() {
        // nbody's `p[3] = p[3] - x; p[4] = p[4] - y`: the check of the load of `p[3]`
        // shares the store's; the run goes on to `p[4]` (and a load of `p[5]`).
        let code = body(
            "local.get 0 local.get 0 f64.load offset=24 local.get 2 f64.sub \
             f64.store offset=24 \
             local.get 0 local.get 0 f64.load offset=32 local.get 2 f64.sub \
             f64.store offset=32 local.get 0 f64.load offset=40 drop call 0",
        );
        let (window, scan) = window_scan(&code, 4, AddrBase::local(0), 1);
        assert_eq!(window.store, Some((24, 32)));
        let scan = scan.expect("the window's scan, stopped past the store");
        assert_eq!(scan.run_end_after(&code, 32, None), 48);
        // No sharing store (a load off another address first): no scan to go on with.
        let code = body("local.get 0 local.get 0 f64.load local.get 1 f64.load f64.sub f64.store");
        assert_eq!(window_scan(&code, 4, AddrBase::local(0), 1).1, None);
    }

    #[test]
    fn the_memo_answers_for_the_stores_a_run_scan_went_through() {
        // Fields stored in decreasing order of offset: no run opens at `[p+12]` (the span
        // is its own end), and the check of `[p+8]` finds its span in the memo.
        let code = body(
            "local.get 0 local.get 1 i32.store offset=12 \
             local.get 0 local.get 1 i32.store offset=8 \
             local.get 0 i32.load offset=16 drop \
             local.get 0 local.get 1 i32.store offset=4 \
             local.get 0 local.get 1 i32.store offset=0 \
             call 0 local.get 0 i32.load offset=100 drop",
        );
        let stores = i32_stores(&code);
        let mut memo = RunMemo::default();
        let base = AddrBase::local(0);
        assert_eq!(
            store_run_end(&code, stores[0], base, 0, Some(&mut memo)),
            20
        );
        for (i, &at) in stores.iter().enumerate().skip(1) {
            let mut bytes = Bytes { code: &code, at };
            bytes.store_bytes().unwrap();
            let mut stack = StackModel::with_below(0);
            stack.apply(1, 0);
            let kept = memo.span(bytes.at, base, &stack);
            assert_eq!(kept, Some(fresh_span(&code, at, 0)), "store {i}");
            // Answered by the memo: the same.
            let mut again = RunMemo::default();
            again.clone_from(&memo);
            assert_eq!(
                store_run_end(&code, at, base, 0, Some(&mut again)),
                fresh_span(&code, at, 0)
            );
        }
        assert_eq!(
            fresh_span(&code, stores[1], 0),
            20,
            "the load of [p+16, p+20)"
        );
        assert_eq!(fresh_span(&code, stores[3], 0), 4, "nothing after [p+0]");
        // Another base, or another stack under the store: not answered.
        let mut bytes = Bytes {
            code: &code,
            at: stores[1],
        };
        bytes.store_bytes().unwrap();
        let mut stack = StackModel::with_below(0);
        stack.apply(1, 0);
        assert_eq!(memo.span(bytes.at, AddrBase::local(1), &stack), None);
        assert_eq!(
            memo.span(bytes.at, AddrBase { local: 0, shift: 2 }, &stack),
            None
        );
        let mut other = StackModel::with_below(0b100);
        other.apply(1, 0);
        assert_eq!(memo.span(bytes.at, base, &other), None);
    }

    #[test]
    fn the_memo_keeps_nothing_past_a_write_of_the_base_or_the_limit() {
        // The base written between: the scan from the first store stops there, and the
        // store after it (off the new value) is not in the memo.
        let code = body(
            "local.get 0 local.get 1 i32.store offset=8 \
             local.get 1 local.set 0 \
             local.get 0 local.get 1 i32.store offset=0 \
             local.get 0 i32.load offset=60 drop",
        );
        let stores = i32_stores(&code);
        let base = AddrBase::local(0);
        let mut memo = RunMemo::default();
        assert_eq!(
            store_run_end(&code, stores[0], base, 0, Some(&mut memo)),
            12
        );
        assert_eq!(
            store_run_end(&code, stores[1], base, 0, Some(&mut memo)),
            64,
            "the second store's own scan"
        );
        // A scan that went through a store but stopped at its operator limit keeps no
        // span: the scan from that store reads further.
        let filler = "i32.const 1 drop ".repeat(MAX_OPERATORS as usize / 2 - 1);
        let code = body(&format!(
            "local.get 0 local.get 1 i32.store offset=8 \
             local.get 0 local.get 1 i32.store offset=4 {filler} \
             local.get 0 i32.load offset=60 drop"
        ));
        let stores = i32_stores(&code);
        let mut memo = RunMemo::default();
        assert_eq!(
            store_run_end(&code, stores[0], base, 0, Some(&mut memo)),
            12
        );
        assert_eq!(fresh_span(&code, stores[1], 0), 64);
        assert_eq!(
            store_run_end(&code, stores[1], base, 0, Some(&mut memo)),
            64,
            "not the first scan's 12"
        );
    }

    /// Random straight-line bodies (valid stack use, operators a scan reads or stops
    /// at): at every store off local 0, what the memo kept by any earlier scan answers is
    /// what a fresh scan finds, with `below` as codegen would give it (a `local.tee` of
    /// another local keeps a lazy read of local 0 lazy: the model does not know that,
    /// and the memo must then not answer).
    #[test]
    fn memo_answers_match_fresh_scans() {
        let mut random = xorshift(0x2545_f491_4f6c_dd1d);
        let mut next = move |n: u64| random() % n;
        let base = AddrBase::local(0);
        let (mut hits, mut stores_seen) = (0, 0);
        for _ in 0..400 {
            // The operators, and codegen's stack: whether each entry is a lazy read of
            // local 0.
            let mut ops = String::new();
            let mut stack: Vec<bool> = Vec::new();
            // (store's index among the stores, `below` at it)
            let mut belows = Vec::new();
            for _ in 0..(20 + next(60)) {
                let depth = stack.len();
                if depth >= 40 {
                    ops.push_str("drop ");
                    stack.pop();
                    continue;
                }
                match next(12) {
                    0 | 1 => {
                        ops.push_str("local.get 0 ");
                        stack.push(true);
                    }
                    2 => {
                        ops.push_str("local.get 1 ");
                        stack.push(false);
                    }
                    3 => {
                        ops.push_str("i32.const 7 ");
                        stack.push(false);
                    }
                    4 if depth >= 1 => {
                        let offset = 4 * next(8);
                        ops.push_str(&format!("i32.load offset={offset} "));
                        stack.pop();
                        stack.push(false);
                    }
                    5 | 6 if depth >= 2 => {
                        let offset = 4 * next(8);
                        ops.push_str(&format!("i32.store offset={offset} "));
                        stack.truncate(depth - 2);
                        let below = stack
                            .iter()
                            .rev()
                            .take(63)
                            .enumerate()
                            .filter(|(_, &b)| b)
                            .fold(0u64, |bits, (i, _)| bits | 1 << i);
                        belows.push(below);
                    }
                    7 if depth >= 2 => {
                        ops.push_str("i32.add ");
                        stack.truncate(depth - 2);
                        stack.push(false);
                    }
                    8 if depth >= 1 => {
                        // Codegen keeps the entry where it is.
                        ops.push_str("local.tee 1 ");
                    }
                    9 if depth >= 1 => {
                        ops.push_str("drop ");
                        stack.pop();
                    }
                    10 if depth >= 1 && next(4) == 0 => {
                        ops.push_str("local.set 0 ");
                        stack.pop();
                        // Codegen materializes the lazy reads of the local written.
                        stack.iter_mut().for_each(|b| *b = false);
                    }
                    11 if next(6) == 0 => ops.push_str("call 0 "),
                    _ => {
                        ops.push_str("i32.const 1 ");
                        stack.push(false);
                    }
                }
            }
            let drops = "drop ".repeat(stack.len());
            let code = body(&format!("{ops}{drops}"));
            let stores = i32_stores(&code);
            assert_eq!(stores.len(), belows.len());
            let mut memo = RunMemo::default();
            for (&at, &below) in stores.iter().zip(&belows) {
                stores_seen += 1;
                let fresh = fresh_span(&code, at, below);
                let mut bytes = Bytes { code: &code, at };
                bytes.store_bytes().unwrap();
                let mut stack = StackModel::with_below(below);
                stack.apply(1, 0);
                if let Some(kept) = memo.span(bytes.at, base, &stack) {
                    hits += 1;
                    assert_eq!(kept, fresh, "{ops}");
                }
                // As codegen does: a store answered by the memo leaves it as it is.
                assert_eq!(
                    store_run_end(&code, at, base, below, Some(&mut memo)),
                    fresh
                );
            }
        }
        assert!(
            hits > 100,
            "the memo answered {hits} of {stores_seen} stores"
        );
    }

    #[test]
    fn the_scan_is_bounded() {
        let filler = "i32.const 1 i32.add ".repeat(MAX_OPERATORS as usize);
        let ops = format!("local.get 0 i32.load {filler} local.get 0 i32.load offset=60 drop");
        assert_eq!(end_of(&ops), 4);
    }

    #[test]
    fn not_a_load_or_truncated() {
        let code = body("local.get 0 i32.load offset=12 drop");
        let base = AddrBase::local(0);
        assert_eq!(window_end(&code, 0, base), 0, "local.get is no load");
        assert_eq!(window_end(&code[..4], 2, base), 0, "cut inside the memarg");
        assert_eq!(window_end(&code, 2, base), 16);
    }

    #[test]
    fn shifted_bases() {
        // The first load is at 5: local.get 0, i32.const 3, i32.shl before it.
        let code = body(
            "local.get 0 i32.const 3 i32.shl i64.load \
             local.get 0 i32.const 3 i32.shl i64.load offset=40 i64.xor \
             local.get 0 i32.const 35 i32.shl i64.load offset=80 i64.xor \
             local.get 0 i32.const 2 i32.shl i64.load offset=400 i64.xor \
             local.get 0 i64.load offset=800 i64.xor \
             local.get 1 i32.const 3 i32.shl i64.load offset=1200 i64.xor \
             local.get 0 i32.const 3 i32.add i64.load offset=1600 i64.xor \
             local.get 0 i32.const 3 i32.shl i32.const 1 i32.add i64.load offset=2000 i64.xor \
             drop",
        );
        let shifted = AddrBase { local: 0, shift: 3 };
        assert_eq!(window_end(&code, 5, shifted), 88, "35 mod 32 is 3");
        assert_eq!(window_end(&code, 5, AddrBase { local: 0, shift: 2 }), 408);
        assert_eq!(window_end(&code, 5, AddrBase::local(0)), 808);
    }
}
