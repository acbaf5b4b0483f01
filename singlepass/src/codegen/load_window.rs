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
const MAX_OPERATORS: usize = 48;

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
/// ends it when that store can share the first load's check (see [`window`]).
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
pub(crate) fn window(code: &[u8], at: usize, base: AddrBase, below: u64) -> Window {
    let mut bytes = Bytes { code, at };
    let Some(first) = bytes.load_end() else {
        return Window::default();
    };
    let stack = StackModel::with_below(if base.shift == 0 { below } else { 0 });
    scan(bytes, base, stack, first, false)
}

/// The largest end of the accesses off `base` (loads, and stores whose address the stack
/// model shows is the base's value, shift 0) in the straight-line code from the access at
/// `code[at..]` (a store, or a load whose check a store shares; its own end included) up
/// to the first operator a window stops at or a store off any other address: the span a
/// store run's first check compares (`codegen/store_run.rs`). 0 when `code[at]` is no
/// plain load or store. `below` as for [`window`], for the entries under the access's
/// operands. A heuristic only: the run's exactness never depends on it.
pub(crate) fn store_run_end(code: &[u8], at: usize, base: AddrBase, below: u64) -> u64 {
    let mut bytes = Bytes { code, at };
    let mut stack = StackModel::with_below(if base.shift == 0 { below } else { 0 });
    let first = match bytes.load_end() {
        Some(end) => end,
        None => {
            bytes.at = at;
            let Some((_, end)) = bytes.store_bytes() else {
                return 0;
            };
            // The model starts at a load's result: a store leaves none.
            stack.apply(1, 0);
            end
        }
    };
    scan(bytes, base, stack, first, true).end
}

/// The operators after the first access (`bytes` just past it), as [`window`] reads them
/// (`run`: false) or [`store_run_end`] (`run`: true: stores off the base count and go on,
/// loads off other addresses do not matter).
fn scan(
    mut bytes: Bytes<'_>,
    base: AddrBase,
    mut stack: StackModel,
    first: u64,
    run: bool,
) -> Window {
    let mut end = first;
    let mut pattern = Pattern::None;
    let mut foreign_load = false;
    let mut store = None;
    for _ in 0..MAX_OPERATORS {
        let Some(op) = bytes.byte() else { break };
        let seen = std::mem::replace(&mut pattern, Pattern::None);
        let local = base.local;
        match op {
            // local.get
            0x20 => match bytes.u32() {
                Some(index) if index == local => {
                    pattern = if base.shift == 0 {
                        Pattern::Base
                    } else {
                        Pattern::Local
                    };
                    stack.push(base.shift == 0);
                }
                Some(_) => stack.push(false),
                None => break,
            },
            // i32.shl
            0x74 if seen == Pattern::Shift => {
                pattern = Pattern::Base;
                stack.apply(2, 1);
            }
            // local.set, local.tee: of the base itself, later loads read a new value.
            0x21 | 0x22 => match bytes.u32() {
                Some(index) if index != local => stack.apply(1, u32::from(op == 0x22)),
                _ => break,
            },
            // global.get
            0x23 => {
                if bytes.u32().is_none() {
                    break;
                }
                stack.push(false);
            }
            // Loads: they can only trap out of bounds, the trap the window moves.
            0x28..=0x35 => {
                bytes.at -= 1;
                match bytes.load_end() {
                    Some(e) if seen == Pattern::Base => end = end.max(e),
                    Some(_) => foreign_load = true,
                    None => break,
                }
                stack.apply(1, 1);
            }
            // Stores end the window; one off the base itself may share the check.
            0x36..=0x3e => {
                bytes.at -= 1;
                let Some((from, to)) = bytes.store_bytes() else {
                    break;
                };
                if run && stack.address_is_base() {
                    end = end.max(to);
                    stack.apply(2, 0);
                    continue;
                }
                if !run && !foreign_load && stack.address_is_base() {
                    store = Some((from, to));
                }
                break;
            }
            0x41 => match bytes.var_i64() {
                Some(c) if seen == Pattern::Local && (c & 31) as u8 == base.shift => {
                    pattern = Pattern::Shift;
                    stack.push(false);
                }
                Some(_) => stack.push(false),
                None => break,
            },
            0x42 => {
                if bytes.var_i64().is_none() {
                    break;
                }
                stack.push(false);
            }
            0x43 => {
                bytes.at += 4;
                stack.push(false);
            }
            0x44 => {
                bytes.at += 8;
                stack.push(false);
            }
            // nop
            0x01 => {}
            // drop
            0x1a => stack.apply(1, 0),
            // select
            0x1b => stack.apply(3, 1),
            // Integer division and remainder (by zero, overflow) and float-to-int
            // truncation (NaN, range) trap with other kinds.
            0x6d..=0x70 | 0x7f..=0x82 | 0xa8..=0xab | 0xae..=0xb1 => break,
            // Every other numeric operator cannot trap.
            0x45..=0xc4 => {
                if unary(op) {
                    stack.apply(1, 1);
                } else {
                    stack.apply(2, 1);
                }
            }
            _ => break,
        }
    }
    Window { end, store }
}

/// Whether numeric operator `op` (0x45..=0xc4) takes one operand (tests, counts,
/// float unary operators, conversions); the others take two.
fn unary(op: u8) -> bool {
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
struct StackModel {
    height: i32,
    base: u128,
}

impl StackModel {
    /// The height of the first load's result: at most 48 operators pop at most 3 each.
    const START: i32 = 64;

    /// The model at the first load's result, bit `i` of `below` for the entry `i` places
    /// under it.
    fn with_below(below: u64) -> Self {
        // Bit `i < START - 1` of `below` to bit `START - 1 - i` (63 - i): a bit reversal
        // of the low 63 bits (`i = 63` would be height 0, never the base). One
        // instruction instead of a loop of 63 (a third of a window's scan before).
        const _: () = assert!(StackModel::START == 64);
        let base = u128::from((below & !(1 << 63)).reverse_bits());
        StackModel {
            height: Self::START,
            base,
        }
    }

    /// An operator popping `pops` entries and pushing `pushes` results (none the base).
    fn apply(&mut self, pops: u32, pushes: u32) {
        self.height -= pops as i32;
        self.keep_below(self.height);
        self.height += pushes as i32;
    }

    /// Pushes one entry, the base's value or not.
    fn push(&mut self, is_base: bool) {
        self.height += 1;
        self.keep_below(self.height - 1);
        if is_base && (1..128).contains(&self.height) {
            self.base |= 1 << self.height;
        }
    }

    /// Forgets the entries above height `h`.
    fn keep_below(&mut self, h: i32) {
        self.base &= match h {
            ..=0 => 0,
            1..=126 => (1u128 << (h + 1)) - 1,
            _ => u128::MAX,
        };
    }

    /// Whether a store's address (the entry below its value) is the base.
    fn address_is_base(&self) -> bool {
        let h = self.height - 1;
        (1..128).contains(&h) && self.base & (1 << h) != 0
    }
}

impl Bytes<'_> {
    /// Reads a store (opcode and memarg) and returns its bytes `(offset, offset +
    /// width)`; None for anything else, a memory index other than 0 or an offset past 32
    /// bits.
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
    /// offset past 32 bits.
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
    /// multi-memory flag in the alignment) or an offset past 32 bits.
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
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        for _ in 0..1000 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            words.push(state);
        }
        for below in words {
            assert_eq!(
                StackModel::with_below(below).base,
                by_loop(below),
                "{below:#x}"
            );
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

    #[test]
    fn the_scan_is_bounded() {
        let filler = "i32.const 1 i32.add ".repeat(MAX_OPERATORS);
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
