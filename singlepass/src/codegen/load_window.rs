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

/// The largest `offset + width` of the loads off `base` in the window that starts with
/// the load at `code[at..]` (included), or 0 when `code[at]` is no plain load (a memory
/// index other than 0, say). A later load is off `base` when its address is a lazy read
/// of the local right before it (`local.get l`, shift 0) or `local.get l; i32.const c;
/// i32.shl`.
pub(crate) fn window_end(code: &[u8], at: usize, base: AddrBase) -> u64 {
    let mut bytes = Bytes { code, at };
    let Some(first) = bytes.load_end() else {
        return 0;
    };
    let mut end = first;
    let mut pattern = Pattern::None;
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
                }
                Some(_) => {}
                None => break,
            },
            // i32.shl
            0x74 if seen == Pattern::Shift => pattern = Pattern::Base,
            // local.set, local.tee: of the base itself, later loads read a new value.
            0x21 | 0x22 => match bytes.u32() {
                Some(index) if index != local => {}
                _ => break,
            },
            // global.get
            0x23 => {
                if bytes.u32().is_none() {
                    break;
                }
            }
            // Loads: they can only trap out of bounds, the trap the window moves.
            0x28..=0x35 => {
                bytes.at -= 1;
                match bytes.load_end() {
                    Some(e) if seen == Pattern::Base => end = end.max(e),
                    Some(_) => {}
                    None => break,
                }
            }
            0x41 => match bytes.var_i64() {
                Some(c) if seen == Pattern::Local && (c & 31) as u8 == base.shift => {
                    pattern = Pattern::Shift;
                }
                Some(_) => {}
                None => break,
            },
            0x42 => {
                if bytes.var_i64().is_none() {
                    break;
                }
            }
            0x43 => bytes.at += 4,
            0x44 => bytes.at += 8,
            // drop, select, nop
            0x01 | 0x1a | 0x1b => {}
            // Integer division and remainder (by zero, overflow) and float-to-int
            // truncation (NaN, range) trap with other kinds.
            0x6d..=0x70 | 0x7f..=0x82 | 0xa8..=0xab | 0xae..=0xb1 => break,
            // Every other numeric operator cannot trap.
            0x45..=0xc4 => {}
            _ => break,
        }
    }
    end
}

impl Bytes<'_> {
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
        let align = self.u32()?;
        if align & 0x40 != 0 {
            return None;
        }
        let offset = self.var_u64()?;
        if offset > u64::from(u32::MAX) {
            return None;
        }
        Some(offset + width)
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
