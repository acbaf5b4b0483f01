//! The written ranges of linear memory (see [`gasket_host_api::written`], where the model
//! lives so that the reference interpreters charge the same gas for widening them), and
//! the test helpers that compare each backend's store check and dirty-range stub with it.

pub use gasket_host_api::written::{
    write_gas, WrittenRanges, DIRTY_GRANULE, WRITTEN_FAR, WRITTEN_SPILLS,
};

#[cfg(any(test, feature = "isa-testing"))]
/// What a `store_check` of the bytes `[addr + from, addr + end)` followed by the stub does
/// in a memory of `memory_len` bytes with `gas` left at `price` per granule: the ranges
/// and the gas after it, or the trap (`MemoryOutOfBounds` before any charge; `OutOfGas`
/// with the ranges unchanged). The backends' tests compare generated code against this.
pub fn check_effect(
    ranges: &WrittenRanges,
    addr: u64,
    from: u64,
    end: u64,
    memory_len: u64,
    price: u32,
    gas: u64,
) -> Result<(WrittenRanges, u64), crate::TrapKind> {
    let mut after = *ranges;
    if (addr.wrapping_sub(ranges.start) & u64::from(u32::MAX)) + end <= ranges.len {
        return Ok((after, gas)); // The fast path: no stub call.
    }
    if addr + end > memory_len {
        return Err(crate::TrapKind::MemoryOutOfBounds);
    }
    let charge = write_gas(after.mark(addr + from, addr + end), price);
    match gas.checked_sub(charge) {
        Some(left) => Ok((after, left)),
        None => Err(crate::TrapKind::OutOfGas),
    }
}

#[cfg(any(test, feature = "isa-testing"))]
/// [`check_effect`] of a `store_check` that also checks loads up to `addr + loads_end`
/// (`MacroAssembler::store_check` with `loads`): nothing when `[addr, addr + max(end,
/// loads_end))` lies inside the current range, else the loads' length trap first, else
/// what the store's check does.
#[allow(clippy::too_many_arguments)]
pub fn check_effect_after_loads(
    ranges: &WrittenRanges,
    addr: u64,
    from: u64,
    end: u64,
    loads_end: u64,
    memory_len: u64,
    price: u32,
    gas: u64,
) -> Result<(WrittenRanges, u64), crate::TrapKind> {
    let wide = end.max(loads_end);
    if (addr.wrapping_sub(ranges.start) & u64::from(u32::MAX)) + wide <= ranges.len {
        return Ok((*ranges, gas));
    }
    if addr + loads_end > memory_len {
        return Err(crate::TrapKind::MemoryOutOfBounds);
    }
    check_effect(ranges, addr, from, end, memory_len, price, gas)
}

#[cfg(any(test, feature = "isa-testing"))]
/// Written ranges in several shapes, and addresses around their edges, for the backends'
/// tests of `store_check` and the stub in a memory of `memory_len` (at least 2 MiB) bytes.
pub fn check_cases(memory_len: u64) -> (Vec<WrittenRanges>, Vec<u64>) {
    let g = DIRTY_GRANULE;
    let mut states = vec![WrittenRanges::EMPTY];
    let mut one = WrittenRanges::EMPTY;
    one.mark(g, 2 * g);
    states.push(one);
    let mut spilled = one;
    spilled.mark(1 << 20, (1 << 20) + 1);
    states.push(spilled);
    let mut full = spilled;
    for i in 0..WRITTEN_SPILLS as u64 {
        full.mark(3 * g + (i << 18), 3 * g + (i << 18) + 1);
    }
    assert_eq!(full.spilled_count, WRITTEN_SPILLS as u64);
    states.push(full);
    let mut top = WrittenRanges::EMPTY;
    top.mark(memory_len - g, memory_len);
    states.push(top);
    let mut addrs = vec![
        0,
        100,
        g - 1,
        g,
        2 * g - 8,
        2 * g - 7,
        2 * g - 1,
        2 * g,
        3 * g - 8,
    ];
    for edge in [2 * g + WRITTEN_FAR, 1 << 20, memory_len] {
        addrs.extend([edge - 9, edge - 8, edge - 7, edge - 1, edge, edge + 1]);
    }
    addrs.push(u64::from(u32::MAX));
    (states, addrs)
}

#[cfg(test)]
mod tests {
    use super::*;

    const G: u64 = DIRTY_GRANULE;

    #[test]
    fn the_check_admits_exactly_the_stores_inside_the_current_range() {
        let mut w = WrittenRanges::default();
        w.mark(2 * G, 3 * G);
        let inside =
            |addr: u64, end: u64| check_effect(&w, addr, 0, end, 1 << 20, 1, 0) == Ok((w, 0));
        assert!(inside(2 * G, 8));
        assert!(inside(3 * G - 8, 8));
        assert!(!inside(3 * G - 7, 8), "past the end");
        assert!(!inside(2 * G - 1, 8), "below the start wraps");
        assert!(!inside(0, 8));
        assert_eq!(
            check_effect(&w, (1 << 20) - 7, 0, 8, 1 << 20, 0, 0),
            Err(crate::TrapKind::MemoryOutOfBounds),
            "out of bounds"
        );
        assert_eq!(
            check_effect(&WrittenRanges::EMPTY, 0, 0, 1, 0, 0, 0),
            Err(crate::TrapKind::MemoryOutOfBounds)
        );
    }

    #[test]
    fn the_stub_marks_the_stored_bytes_and_charges_what_they_add() {
        let mut w = WrittenRanges::default();
        w.mark(2 * G, 3 * G);
        // A base below the range with an offset into it: the stub runs (the fast check
        // covers base..end) but the stored bytes are inside: nothing added, nothing paid.
        assert_eq!(
            check_effect(&w, 8, 2 * G, 2 * G + 8, 1 << 20, 7, 100),
            Ok((w, 100))
        );
        // One granule more: exactly the price, or out of gas with the ranges unchanged.
        let mut wider = w;
        wider.mark(3 * G, 3 * G + 8);
        assert_eq!(check_effect(&w, 3 * G, 0, 8, 1 << 20, 7, 7), Ok((wider, 0)));
        assert_eq!(
            check_effect(&w, 3 * G, 0, 8, 1 << 20, 7, 6),
            Err(crate::TrapKind::OutOfGas)
        );
        // Out of bounds comes first and pays nothing.
        assert_eq!(
            check_effect(&w, (1 << 20) - 4, 0, 8, 1 << 20, 7, 0),
            Err(crate::TrapKind::MemoryOutOfBounds)
        );
    }
}
