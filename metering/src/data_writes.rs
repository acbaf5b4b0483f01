//! The written-range charge of active data segments (cost table version 5): the runtime
//! writes them at instantiation and marks their bytes in the written ranges the pool
//! clears, so, as for stores, each granule that adds costs `memory_write_per_granule`.
//! The charge is paid by the start function the encoder appends (with the page commit
//! charge, see `commit`): start gas, inside the call's limit, charged by every engine
//! running the instrumented module (wasmi included). Without it a module could declare a
//! few one-byte segments far apart and have the pool clear most of its memory for free
//! on every call.
//!
//! The granules are computed here with the runtime's own model (`WrittenRanges::mark`
//! over the active segments in order, from empty ranges), so the charge is exact when
//! every offset is an `i32.const`. An offset that reads an imported global (the
//! permissive profile only) is unknown until instantiation: the module then pays the
//! bound of every active segment covering its whole initial memory.

use gasket_host_api::written::{WrittenRanges, DIRTY_GRANULE};
use wasmparser::{DataKind, Operator};

use crate::walk::Walked;

/// Granules that writing `walked`'s active data segments adds to the written ranges of a
/// fresh instance (exact for constant offsets; see the module docs otherwise).
pub(crate) fn data_segment_granules(walked: &Walked<'_>) -> u64 {
    let Some(reader) = &walked.data else {
        return 0;
    };
    let mut written = WrittenRanges::EMPTY;
    let mut grown = 0u64;
    let mut active = 0u64;
    let mut unknown = false;
    for segment in reader.clone() {
        // The walk validated every segment already.
        let Ok(segment) = segment else {
            continue;
        };
        let DataKind::Active { offset_expr, .. } = segment.kind else {
            continue;
        };
        active += 1;
        match constant_offset(offset_expr) {
            Some(offset) => {
                let from = u64::from(offset);
                grown += written.mark(from, from + segment.data.len() as u64);
            }
            None => unknown = true,
        }
    }
    if unknown {
        let memory_bytes = walked
            .memory
            .map_or(0, |m| u64::from(m.initial_pages) << 16);
        return active.saturating_mul(memory_bytes / DIRTY_GRANULE);
    }
    grown / DIRTY_GRANULE
}

/// The offset of an `i32.const` expression.
fn constant_offset(expr: wasmparser::ConstExpr<'_>) -> Option<u32> {
    let mut ops = expr.get_operators_reader();
    match (ops.read().ok()?, ops.read().ok()?) {
        (Operator::I32Const { value }, Operator::End) => Some(value as u32),
        _ => None,
    }
}
