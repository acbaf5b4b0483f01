//! Which operand-stack entries are known multiples of a power of two, so a memory
//! access addressed by one may be checked by comparing the address alone (issue 16:
//! `MacroAssembler::bounds_check`'s and `store_check`'s `aligned`).
//!
//! An `i32.shl` by a constant `c` leaves a value whose low `c mod 32` bits are zero,
//! whatever its operand (matmul's `(i*n + k) << 3`, keccak's `x << 3`). A wasm operand
//! stack entry never changes on a straight path while it is on the stack (spilling
//! moves it, never changes it), so the fact holds until the entry is popped: a store's
//! address, pushed before its value, keeps it while the value is computed above it.
//! A record stops counting when the stack shrinks to its depth (`FuncGen::pop_entry`), so
//! a record never outlives its entry or describes another value pushed at the same
//! depth later, and all of them at control-flow joins (`clear`), where branches deliver
//! other values to the entries of a loop's parameters or a block's results.

use crate::masm::ALIGNED_MAX;

/// Records kept at most; a shift beyond them is simply not recorded (full checks).
const RECORDS: usize = 8;

/// The entries known to be `i32.shl` results by a constant: `(depth, shift)` records,
/// valid while no pop since their note reached their depth. `floor` is the lowest stack
/// length a pop left since the last note (the operand stack's other cursors work the
/// same way: one `min` per pop, no branch); a note first drops the records it
/// invalidated, so a record below `floor` is still its entry's.
#[derive(Debug)]
pub(crate) struct AlignedEntries {
    records: [(u32, u8); RECORDS],
    len: usize,
    floor: usize,
}

impl Default for AlignedEntries {
    fn default() -> Self {
        AlignedEntries {
            records: [(0, 0); RECORDS],
            len: 0,
            floor: usize::MAX,
        }
    }
}

impl AlignedEntries {
    /// The entry at `depth` (the stack's top) is an `i32.shl` result by `shift` (mod 32).
    pub fn note(&mut self, depth: usize, shift: u8) {
        // Keep the records no pop invalidated, then count pops afresh.
        let floor = std::mem::replace(&mut self.floor, usize::MAX);
        let mut kept = 0;
        for i in 0..self.len {
            if (self.records[i].0 as usize) < floor {
                self.records[kept] = self.records[i];
                kept += 1;
            }
        }
        self.len = kept;
        let Ok(depth) = u32::try_from(depth) else {
            return;
        };
        if shift == 0 || self.len == RECORDS {
            return;
        }
        self.records[self.len] = (depth, shift);
        self.len += 1;
    }

    /// The stack shrank to `len` entries: entries at `len` and above are gone.
    #[inline(always)]
    pub fn popped(&mut self, len: usize) {
        self.floor = self.floor.min(len);
    }

    /// Control flow joins (a loop header, `else`, `end`): a branch may deliver another
    /// value to an entry a record describes (a loop's parameters, a block's results).
    pub fn clear(&mut self) {
        self.len = 0;
        self.floor = usize::MAX;
    }

    /// The known alignment of the entry at `depth` as a shift (0: none known).
    pub fn shift_at(&self, depth: usize) -> u8 {
        if depth >= self.floor {
            return 0;
        }
        self.records[..self.len]
            .iter()
            .rev()
            .find(|r| r.0 as usize == depth)
            .map_or(0, |r| r.1)
    }
}

/// Whether a check of `[addr, addr + end)` may compare the address alone
/// (`MacroAssembler::bounds_check`'s `aligned`): `addr` is a multiple of `2^shift`, and
/// `end` is at most that alignment capped at `ALIGNED_MAX`, which divides every memory
/// length and written-range bound. Then `addr + end <= bound` exactly when
/// `addr < bound`. A shift of 0 (1-byte accesses at offset 0, true of every address)
/// is left to the full check: measured slower in sieve's byte loops (ARCHITECTURE.md,
/// "Aligned checks").
pub(crate) fn aligned(shift: u8, end: u64) -> bool {
    shift > 0 && end <= (1u64 << shift).min(ALIGNED_MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_live_while_their_entry_does() {
        let mut a = AlignedEntries::default();
        a.note(2, 3);
        a.note(4, 2);
        assert_eq!((a.shift_at(2), a.shift_at(4), a.shift_at(3)), (3, 2, 0));
        // The stack shrank to 4 entries: the one at depth 4 is gone.
        a.popped(4);
        assert_eq!((a.shift_at(2), a.shift_at(4)), (3, 0));
        // Another entry pushed at depth 4 is no shift result; a note keeps depth 2's.
        a.note(5, 1);
        assert_eq!((a.shift_at(2), a.shift_at(4), a.shift_at(5)), (3, 0, 1));
        a.popped(2);
        assert_eq!(a.shift_at(2), 0);
        a.note(2, 4);
        assert_eq!(
            (a.shift_at(2), a.shift_at(5)),
            (4, 0),
            "depth 5's was dropped"
        );
        a.clear();
        assert_eq!(a.shift_at(2), 0);
        a.note(0, 0);
        assert_eq!(a.shift_at(0), 0, "no alignment, no record");
        for depth in 0..2 * RECORDS {
            a.note(depth, 1);
        }
        assert_eq!(a.shift_at(RECORDS - 1), 1);
        assert_eq!(a.shift_at(RECORDS), 0, "beyond the records: not known");
    }

    #[test]
    fn aligned_within_the_alignment_and_the_cap() {
        assert!(aligned(3, 8) && aligned(3, 1) && !aligned(3, 9));
        assert!(
            !aligned(0, 1) && !aligned(0, 2),
            "every address is a multiple of 1, but that case keeps the full check"
        );
        assert!(aligned(20, 4096) && !aligned(20, 4097));
        assert!(aligned(31, 8));
    }
}
