//! Loop-invariant products: a `local.get a; local.get b; i32.mul` (or `i64.mul`) inside a
//! loop that writes neither `a` nor `b` is computed once before the loop's header and
//! read from a frame slot where it occurs (issue 16: matmul's `i * n`, recomputed on
//! every iteration of its inner loop, put a third multiply on the one port that runs
//! them).
//!
//! At a `loop` with no parameters and no results whose first [`FILTER_BYTES`] bytes hold
//! such a product's bytes, [`invariant_product`] scans the loop's operator bytes up to
//! its `end` (at most [`MAX_OPERATORS`] operators, so the scans of nested loops stay
//! linear in the body's size) for the locals it writes and the products
//! of two locals it computes, and names the first product neither of whose locals the
//! loop writes. `FuncGen::loop_` then pushes the product as a hidden operand-stack entry
//! below the loop's frame (in its own slot, like the copies an `if` with parameters
//! keeps) before binding the header label, and the multiply at each occurrence inside
//! the loop becomes a load of that slot (`FuncGen::hoisted_product`); the loop's `end`
//! drops the entry. One hoist is open at a time (a loop inside a hoisting loop hoists
//! nothing), so a frame holds at most one slot more than before.
//!
//! The product's home is a register when the loop lends it one: a lent local's register
//! (`FuncGen::lent`, saved around calls) whose local the loop neither writes nor reads
//! except in the product's occurrences, and out of which the loop does not branch
//! ([`Hoist::keeps_out`]). The header stores that local to its save slot, where it then
//! lives (its home is the slot until the loop's `end`, so even a read the scan did not
//! foresee reads the right value), and puts the product in its register; calls inside
//! the loop reload the register from the hidden entry's slot, and the loop's `end`
//! reloads the local. A branch out of the loop would reach code expecting the local in
//! its register, so a loop with one (`br`/`br_if` past the loop, any `br_table`) keeps
//! the product in the slot.
//!
//! Exact: a multiply neither traps nor touches memory, gas or the flags the code after
//! the header may read, so computing it once more before the loop (even when the loop
//! never reaches the occurrence) changes nothing observable, and since the loop writes
//! neither local, the values the occurrence would multiply are the ones the header
//! multiplied, on every iteration. Gas is charged by the instrumented module's own
//! operators, which are compiled unchanged. The slot is the hidden entry's own (slot `d`
//! belongs to depth `d`), so nothing in the loop, whose entries all lie above it, writes
//! it; branches out of the loop leave it dead.

use super::bytes::Bytes;

/// How many operators a loop may have for its products to be hoisted: bounds the scan
/// (each loop header scans at most this many, however deeply loops nest).
pub(super) const MAX_OPERATORS: usize = 160;

/// How many distinct locals a hoisting loop may write (more: the scan gives up).
const MAX_WRITTEN: usize = 16;

/// How many products of locals the scan remembers (the first ones).
const MAX_CANDIDATES: usize = 4;

/// How many distinct locals read the scan counts (more: no local is kept out of the
/// loop, and the product stays in its slot).
const MAX_READ: usize = 16;

/// A product of two locals a loop does not write: `local.get a; local.get b; mul`.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) struct Product {
    pub a: u32,
    pub b: u32,
    /// `i64.mul` (else `i32.mul`).
    pub wide: bool,
}

impl Product {
    /// The product's value type.
    pub fn kind(self) -> super::stack::Kind {
        if self.wide {
            super::stack::Kind::I64
        } else {
            super::stack::Kind::I32
        }
    }
}

/// What [`invariant_product`] found in a loop: the product to hoist, and what says
/// which locals the loop leaves alone (see [`Hoist::keeps_out`]).
#[derive(Copy, Clone, Debug)]
pub(crate) struct Hoist {
    pub product: Product,
    /// How many times the loop computes `product` (either order).
    occurrences: u32,
    /// The locals the loop writes.
    written: [u32; MAX_WRITTEN],
    n_written: usize,
    /// The locals the loop reads and how often, when they fit (`reads_complete`).
    reads: [(u32, u32); MAX_READ],
    n_reads: usize,
    reads_complete: bool,
    /// Whether some branch leaves the loop (`br`/`br_if` past it, or any `br_table`).
    exits: bool,
}

impl Hoist {
    /// Whether the loop never touches `local` except as an operand of the hoisted
    /// product's occurrences (which read the hoisted value instead) and never branches
    /// out, so the local's register may hold the product for the loop's duration.
    pub fn keeps_out(&self, local: u32) -> bool {
        if self.exits || !self.reads_complete || self.written[..self.n_written].contains(&local) {
            return false;
        }
        let reads = self.reads[..self.n_reads]
            .iter()
            .find(|&&(l, _)| l == local)
            .map_or(0, |&(_, n)| n);
        let per_product = u32::from(self.product.a == local) + u32::from(self.product.b == local);
        reads == per_product * self.occurrences
    }
}

/// How many bytes past a loop's block type [`invariant_product`] looks for a product of
/// two locals before it scans the loop: most loops have none, and this filter (a few
/// instructions per eight bytes) is what they pay, where the scan cost about 2 400
/// instructions a loop.
const FILTER_BYTES: usize = 128;

/// Whether the first [`FILTER_BYTES`] bytes of `code` hold the bytes of `local.get a;
/// local.get b; i32.mul` (or `i64.mul`) with one-byte local indices. A match inside an
/// immediate only costs a scan, and products it misses (later, or with longer indices)
/// are only not hoisted.
fn may_have_product(code: &[u8]) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    // Nonzero when some byte of `x` is zero (the lowest such byte is always flagged;
    // a flag above it may be false, which only costs the exact check).
    let zero_byte = |x: u64| x.wrapping_sub(ONES) & !x & HIGHS;
    let window = &code[..code.len().min(FILTER_BYTES)];
    let ends_product = |i: usize| {
        i >= 4 && matches!(window[i], 0x6c | 0x7e) && window[i - 2] == 0x20 && window[i - 4] == 0x20
    };
    // Eight bytes at a time for a multiply's opcode, then the exact check where one is.
    let mut chunks = window.chunks_exact(8);
    let mut at = 0;
    for chunk in &mut chunks {
        let mut bytes = [0u8; 8];
        bytes.copy_from_slice(chunk);
        let x = u64::from_le_bytes(bytes);
        if zero_byte(x ^ (0x6c * ONES)) | zero_byte(x ^ (0x7e * ONES)) != 0
            && (at..at + 8).any(ends_product)
        {
            return true;
        }
        at += 8;
    }
    (at..window.len()).any(ends_product)
}

/// The first product of two locals in the loop body `code` (its operator bytes after the
/// `loop`'s block type, up to and past its `end`) whose locals the body writes nowhere,
/// with what the body reads, writes and where it branches; `None` when there is none,
/// its first [`FILTER_BYTES`] bytes hold no product with one-byte local indices, the
/// body has more than [`MAX_OPERATORS`] operators or writes more than `MAX_WRITTEN`
/// locals, or the bytes hold anything the scan does not read (instructions beyond wasm
/// 2.0, the end of input).
pub(crate) fn invariant_product(code: &[u8]) -> Option<Hoist> {
    if !may_have_product(code) {
        return None;
    }
    let mut bytes = Bytes { code, at: 0 };
    // Blocks opened inside the loop and not yet ended.
    let mut depth = 0u32;
    let mut written = [0u32; MAX_WRITTEN];
    let mut n_written = 0;
    // Candidate products and how often each occurs.
    let mut candidates = [None::<(Product, u32)>; MAX_CANDIDATES];
    let mut n_candidates = 0;
    let mut reads = [(0u32, 0u32); MAX_READ];
    let mut n_reads = 0;
    let mut reads_complete = true;
    let mut exits = false;
    // The locals read by the two instructions before this one, when they were
    // `local.get`s (`gets[1]` the nearer).
    let mut gets: [Option<u32>; 2] = [None, None];
    for _ in 0..MAX_OPERATORS {
        let op = bytes.byte()?;
        let mut get = None;
        match op {
            0x02..=0x04 => {
                bytes.skip_block_type()?;
                depth += 1;
            }
            0x0b => {
                if depth == 0 {
                    let writes = &written[..n_written];
                    let (product, occurrences) = candidates[..n_candidates]
                        .iter()
                        .flatten()
                        .find(|(p, _)| !writes.contains(&p.a) && !writes.contains(&p.b))
                        .copied()?;
                    return Some(Hoist {
                        product,
                        occurrences,
                        written,
                        n_written,
                        reads,
                        n_reads,
                        reads_complete,
                        exits,
                    });
                }
                depth -= 1;
            }
            // `br`/`br_if` past the loop's own label (depth `depth` from inside).
            0x0c | 0x0d => exits |= bytes.u32()? > depth,
            0x0e => {
                exits = true;
                bytes.skip_immediates(op)?;
            }
            0x6c | 0x7e => {
                if let [Some(a), Some(b)] = gets {
                    let wide = op == 0x7e;
                    let same = |p: &Product| {
                        p.wide == wide && ((p.a, p.b) == (a, b) || (p.a, p.b) == (b, a))
                    };
                    match candidates[..n_candidates]
                        .iter_mut()
                        .flatten()
                        .find(|(p, _)| same(p))
                    {
                        Some((_, count)) => *count += 1,
                        None if n_candidates < MAX_CANDIDATES => {
                            candidates[n_candidates] = Some((Product { a, b, wide }, 1));
                            n_candidates += 1;
                        }
                        None => {}
                    }
                }
            }
            0x10 => bytes.skip_leb()?,
            0x20 => {
                let local = bytes.u32()?;
                get = Some(local);
                match reads[..n_reads].iter_mut().find(|(l, _)| *l == local) {
                    Some((_, count)) => *count += 1,
                    None if n_reads < MAX_READ => {
                        reads[n_reads] = (local, 1);
                        n_reads += 1;
                    }
                    None => reads_complete = false,
                }
            }
            0x21 | 0x22 => {
                let local = bytes.u32()?;
                if !written[..n_written].contains(&local) {
                    *written.get_mut(n_written)? = local;
                    n_written += 1;
                }
            }
            other => bytes.skip_immediates(other)?,
        }
        gets = [gets[1], get];
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn product(code: &[u8]) -> Option<Product> {
        invariant_product(code).map(|hoist| hoist.product)
    }

    fn body(wat_body: &str) -> Vec<u8> {
        // A function whose body is `loop <wat_body> end`, then the loop's bytes after its
        // block type.
        let wat = format!("(module (func (param i32 i32 i32) (local i64 i64) (loop {wat_body})))");
        let wasm = wat::parse_str(wat).unwrap();
        // The body: locals declaration, then `0x03 0x40`.
        let at = wasm
            .windows(2)
            .rposition(|w| w == [0x03, 0x40])
            .expect("the loop");
        wasm[at + 2..].to_vec()
    }

    #[test]
    fn finds_a_product_of_locals_the_loop_does_not_write() {
        let code = body(
            "(drop (i32.mul (local.get 0) (local.get 1)))
             (local.set 2 (i32.add (local.get 2) (i32.const 1)))
             (br_if 0 (local.get 2))",
        );
        assert_eq!(
            product(&code),
            Some(Product {
                a: 0,
                b: 1,
                wide: false
            })
        );
    }

    #[test]
    fn skips_products_of_written_locals_and_finds_the_next() {
        let code = body(
            "(drop (i32.mul (local.get 2) (local.get 1)))
             (drop (i64.mul (local.get 3) (local.get 3)))
             (block (local.set 2 (i32.const 1)))",
        );
        assert_eq!(
            product(&code),
            Some(Product {
                a: 3,
                b: 3,
                wide: true
            })
        );
        let code = body(
            "(drop (i32.mul (local.get 0) (local.get 1)))
             (loop (drop (local.tee 1 (i32.const 1))))",
        );
        assert_eq!(product(&code), None);
    }

    #[test]
    fn a_product_with_something_between_its_reads_is_none() {
        let code = body("(drop (i32.mul (local.get 0) (i32.add (local.get 1) (i32.const 0))))");
        assert_eq!(product(&code), None);
    }

    #[test]
    fn the_filter_finds_a_product_at_every_offset_in_its_window() {
        // `drop` + the product's 5 bytes after `nops` one-byte `nop`s.
        for nops in 0..FILTER_BYTES - 5 {
            let wat = format!(
                "{}(drop (i32.mul (local.get 0) (local.get 1)))",
                "(nop)".repeat(nops)
            );
            let found = product(&body(&wat)).is_some();
            assert_eq!(
                found,
                nops + 5 <= FILTER_BYTES && nops + 2 < MAX_OPERATORS,
                "{nops}"
            );
        }
    }

    #[test]
    fn looks_for_products_only_near_the_header() {
        let mut wat = String::new();
        for _ in 0..FILTER_BYTES {
            wat.push_str("(nop)");
        }
        wat.push_str("(drop (i32.mul (local.get 0) (local.get 1)))");
        assert_eq!(product(&body(&wat)), None);
    }

    #[test]
    fn gives_up_past_the_operator_bound() {
        let mut wat = String::from("(drop (i32.mul (local.get 0) (local.get 1)))");
        for _ in 0..MAX_OPERATORS {
            wat.push_str("(nop)");
        }
        assert_eq!(product(&body(&wat)), None);
    }

    #[test]
    fn keeps_out_the_locals_read_only_in_the_product() {
        // Local 0 is read only by the product's two occurrences, local 1 also elsewhere,
        // local 3 nowhere, local 2 is written.
        let code = body(
            "(drop (i32.mul (local.get 0) (local.get 1)))
             (drop (i32.mul (local.get 1) (local.get 0)))
             (drop (local.get 1))
             (local.set 2 (i32.add (local.get 2) (i32.const 1)))
             (br_if 0 (local.get 2))",
        );
        let hoist = invariant_product(&code).unwrap();
        assert!(hoist.keeps_out(0));
        assert!(!hoist.keeps_out(1));
        assert!(!hoist.keeps_out(2));
        assert!(hoist.keeps_out(3));
        // A product of a local with itself reads it twice per occurrence.
        let code = body("(drop (i32.mul (local.get 0) (local.get 0)))");
        assert!(invariant_product(&code).unwrap().keeps_out(0));
        let code = body("(drop (i32.mul (local.get 0) (local.get 0))) (drop (local.get 0))");
        assert!(!invariant_product(&code).unwrap().keeps_out(0));
    }

    #[test]
    fn a_branch_out_of_the_loop_keeps_every_local_in() {
        // To the loop itself (also from a block inside): fine.
        let code = body(
            "(drop (i32.mul (local.get 0) (local.get 1)))
             (block (br_if 1 (local.get 2)))
             (br_if 0 (local.get 2))",
        );
        assert!(invariant_product(&code).unwrap().keeps_out(3));
        for exit in [
            "(br_if 1 (local.get 2))",
            "(block (br 2))",
            "(block (br_table 0 0 (local.get 2)))",
        ] {
            let code = body(&format!(
                "(drop (i32.mul (local.get 0) (local.get 1))) {exit}"
            ));
            let hoist = invariant_product(&code).unwrap();
            assert!(!hoist.keeps_out(3), "{exit}");
        }
    }
}
