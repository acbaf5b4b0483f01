//! Which locals live in registers, chosen before the body is compiled.
//!
//! A baseline compiler's register allocation for locals: every local has one home for
//! the whole function (a register or a frame slot), so no block boundary ever moves a
//! local and every path agrees on where it is. What is decided here is which locals get
//! the registers: by static use counts, from one cheap scan of the body's operator bytes
//! ([`scan_local_uses`]: opcodes and immediate lengths only, no decoding into operators)
//! in which a `local.get`/`set`/`tee` inside `d` nested loops weighs `8^d`. The runtime's
//! compiles skip the scan: the metering walk counted the same (`gasket_body_reader::uses`,
//! `FuncGen::layout_locals`).
//!
//! Two kinds of register can hold a local ([`choose_homes`]):
//! - the ISA's `local_regs()`: callee-saved in the wasm convention (the prologue saves
//!   the ones a function uses), free across calls;
//! - up to `lendable()` of the first `allocatable()` registers, lent to the function's
//!   heaviest remaining locals when their weight beats the calls they would have to be
//!   saved around: lent registers are caller-saved, so codegen stores them to their save
//!   slots before every call and libcall and reloads them after (`FuncGen::save_lent`).
//!   A function that lends `k` registers allocates its temporaries from the rest.
//!
//! Float locals (f32/f64) first compete among themselves for up to `float_lendable()`
//! of the first `float_allocatable()` registers, on the same terms as lent integer
//! registers (saved around calls, paid for by their weight): a float local in a float
//! register is read by float operators where it is and written by them with one move,
//! where in an integer register or a frame slot every use crossed register files. The
//! float locals that get none compete with the integer ones for the registers above.
//!
//! Everything here is linear in the body's size and deterministic: ties go to the lower
//! local index, and a byte sequence the scan does not understand (it knows the wasm 2.0
//! instruction set the compiler accepts) only means the locals are taken in index order.

use crate::masm::{FReg, Reg};

use gasket_body_reader::uses::{is_float_result_at as is_float_result, use_weight, FunctionUses};

use super::bytes::Bytes;
use super::stack::Kind;

/// What [`scan_local_uses`] found (or the metering walk counted, see
/// `gasket_body_reader::uses`): per-local weights (in the caller's buffer) and the
/// weight of the calls, which a lent register must be saved around.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct ScanSummary {
    pub call_weight: u64,
}

/// Adds each `local.get`/`local.set`/`local.tee` in `code` (a body's operators, after
/// the local declarations) to `weights[local]`, weighted by loop depth, and sums the
/// weight of the calls (`is_inlined` names the call targets compiled inline, which cost
/// no call). Sets `copied[local]` when a `local.set`/`local.tee` writes the local a value
/// that is not the result of the float operator just before it or a float constant
/// other than a NaN (`gasket_body_reader::uses::is_float_result`): a local never so written
/// only ever holds values that canonicalizing leaves alone or float operators' results.
/// `loops` is scratch space. Returns `None` if the bytes hold an instruction beyond wasm
/// 2.0 or end early; `weights` and `copied` are then partial and must not be used.
pub(crate) fn scan_local_uses(
    code: &[u8],
    weights: &mut [u64],
    copied: &mut [bool],
    loops: &mut Vec<bool>,
    is_inlined: impl Fn(u32) -> bool,
) -> Option<ScanSummary> {
    let mut bytes = Bytes { code, at: 0 };
    let mut depth = 0u32;
    // `use_weight(depth)`, recomputed only where the loop depth changes.
    let mut weight = use_weight(depth);
    let mut summary = ScanSummary::default();
    // Where the current instruction starts (`usize::MAX` before the first); at the next
    // one, where the previous one did: its value is a `local.set`'s operand.
    let mut current = usize::MAX;
    loops.clear();
    while bytes.at < code.len() {
        let previous = std::mem::replace(&mut current, bytes.at);
        let op = bytes.byte()?;
        match op {
            0x02 | 0x04 => {
                bytes.skip_block_type()?;
                loops.push(false);
            }
            0x03 => {
                bytes.skip_block_type()?;
                loops.push(true);
                depth += 1;
                weight = use_weight(depth);
            }
            0x0b => {
                if loops.pop() == Some(true) {
                    depth -= 1;
                    weight = use_weight(depth);
                }
            }
            0x10 => {
                if !is_inlined(bytes.u32()?) {
                    summary.call_weight = summary.call_weight.saturating_add(weight);
                }
            }
            0x11 => {
                bytes.skip_leb()?;
                bytes.skip_leb()?;
                summary.call_weight = summary.call_weight.saturating_add(weight);
            }
            0x20..=0x22 => {
                let local = bytes.u32()? as usize;
                let total = weights.get_mut(local)?;
                *total = total.saturating_add(weight);
                if op != 0x20 && !is_float_result(code, previous) {
                    *copied.get_mut(local)? = true;
                }
            }
            other => bytes.skip_immediates(other)?,
        }
    }
    Some(summary)
}

/// Fills `weights` and `copied` (zeroed, one entry per local) from the metering walk's
/// counts of the function, as [`scan_local_uses`] would from its instrumented body.
/// `None` (the locals are then taken in index order, as when the scan gives up) only if
/// the counts name a local the function does not have, which `prepare`'s never do.
pub(crate) fn take_counts(
    uses: FunctionUses<'_>,
    weights: &mut [u64],
    copied: &mut [bool],
) -> Option<ScanSummary> {
    for (local, weight, was_copied) in uses.locals() {
        *weights.get_mut(local as usize)? = weight;
        *copied.get_mut(local as usize)? = was_copied;
    }
    Some(ScanSummary {
        call_weight: uses.call_weight,
    })
}

/// Debug builds: checks that [`take_counts`]' result (`counted`, `taken`) is what
/// scanning `code` finds, so the code is the same bytes either way.
#[cfg(debug_assertions)]
pub(crate) fn check_counts(
    counted: Option<ScanSummary>,
    code: &[u8],
    taken: (&[u64], &[bool]),
    loops: &mut Vec<bool>,
    is_inlined: impl Fn(u32) -> bool,
) {
    let mut weights = vec![0; taken.0.len()];
    let mut copied = vec![false; taken.1.len()];
    let scanned = scan_local_uses(code, &mut weights, &mut copied, loops, is_inlined);
    assert_eq!(counted, scanned, "the walk's call weight is the scan's");
    if scanned.is_some() {
        assert_eq!(
            taken.0,
            &weights[..],
            "the walk's local weights are the scan's"
        );
        assert_eq!(
            taken.1,
            &copied[..],
            "the walk's copied locals are the scan's"
        );
    }
}

/// Where [`choose_homes`] put one local.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) enum Home {
    /// A callee-saved local register.
    Saved(Reg),
    /// A lent (caller-saved) register.
    Lent(Reg),
    /// A lent (caller-saved) float register: f32/f64 locals only.
    FloatLent(FReg),
    /// Memory: its frame slot (or a parameter's incoming slot).
    Memory,
}

/// The registers a function may put locals in.
pub(crate) struct Registers<'r> {
    /// Callee-saved (`MacroAssembler::local_regs`).
    pub saved: &'r [Reg],
    /// Caller-saved, lendable to locals (the first `lendable()` of `allocatable()`).
    pub lendable: &'r [Reg],
    /// Caller-saved float registers, lendable to float locals (the first
    /// `float_lendable()` of `float_allocatable()`).
    pub float_lendable: &'r [FReg],
}

/// How many registers of each kind [`choose_homes`] used, each a prefix of its list.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Used {
    pub saved: usize,
    pub lent: usize,
    pub float_lent: usize,
}

/// How a lent register must pay for itself: its local's weight must be at least this
/// (a use inside a loop) and more than twice the weight of the calls it is saved and
/// reloaded around.
const LEND_MIN_WEIGHT: u64 = 8;

/// Chooses every local's home into `homes` (one per entry of `kinds`; `Ref` locals stay
/// in memory). With `weights` (from [`scan_local_uses`]), the heaviest float locals get
/// the lendable float registers if they pay for themselves, then the heaviest remaining
/// locals get the callee-saved registers, then the lendable ones if they pay for
/// themselves, and unused locals stay in memory; without, the first locals in index
/// order get the callee-saved registers. `order` is scratch space.
pub(crate) fn choose_homes(
    kinds: &[Kind],
    weights: Option<(&[u64], ScanSummary)>,
    regs: Registers<'_>,
    order: &mut Vec<u32>,
    homes: &mut Vec<Home>,
) -> Used {
    homes.clear();
    homes.resize(kinds.len(), Home::Memory);
    let mut used = Used::default();
    let Some((weights, summary)) = weights else {
        for (i, home) in homes.iter_mut().enumerate() {
            if kinds[i] != Kind::Ref && used.saved < regs.saved.len() {
                *home = Home::Saved(regs.saved[used.saved]);
                used.saved += 1;
            }
        }
        return used;
    };
    let pays = |weight: u64| weight >= LEND_MIN_WEIGHT && weight / 2 > summary.call_weight;
    let is_float = |i: usize| matches!(kinds[i], Kind::F32 | Kind::F64);
    heaviest(weights, regs.float_lendable.len(), order, is_float);
    for &i in order.iter() {
        if !pays(weights[i as usize]) {
            break;
        }
        homes[i as usize] = Home::FloatLent(regs.float_lendable[used.float_lent]);
        used.float_lent += 1;
    }
    let free = |i: usize| kinds[i] != Kind::Ref && homes[i] == Home::Memory;
    heaviest(weights, regs.saved.len() + regs.lendable.len(), order, free);
    for &i in order.iter() {
        let home = &mut homes[i as usize];
        if used.saved < regs.saved.len() {
            *home = Home::Saved(regs.saved[used.saved]);
            used.saved += 1;
        } else if used.lent < regs.lendable.len() && pays(weights[i as usize]) {
            *home = Home::Lent(regs.lendable[used.lent]);
            used.lent += 1;
        } else {
            break;
        }
    }
    used
}

/// Fills `order` with the heaviest `slots` used locals that `candidate` accepts,
/// heaviest first, equal weights in index order: an insertion into a list of at most
/// `slots` (ten or so), so linear in the number of locals, unlike a sort.
fn heaviest(
    weights: &[u64],
    slots: usize,
    order: &mut Vec<u32>,
    candidate: impl Fn(usize) -> bool,
) {
    order.clear();
    if slots == 0 {
        return;
    }
    for (i, &weight) in weights.iter().enumerate() {
        if weight == 0 || !candidate(i) {
            continue;
        }
        if order.len() == slots && weights[order[slots - 1] as usize] >= weight {
            continue;
        }
        let at = order.partition_point(|&o| weights[o as usize] >= weight);
        if order.len() == slots {
            order.pop();
        }
        order.insert(at, i as u32);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scan(code: &[u8], locals: usize) -> Option<(Vec<u64>, ScanSummary)> {
        let mut weights = vec![0; locals];
        let mut copied = vec![false; locals];
        let summary =
            scan_local_uses(code, &mut weights, &mut copied, &mut Vec::new(), |f| f == 0)?;
        Some((weights, summary))
    }

    #[test]
    fn locals_written_only_by_float_operators_are_told_apart() {
        // f64.add; local.set 0; f64.neg; local.set 1; f64.sqrt; local.tee 2; local.set 3;
        // f32.demote_f64; local.set 4; local.get 5; f64.const 2.0; local.set 6;
        // f32.const nan:0x200000; local.set 7
        let code = [
            0xa0, 0x21, 0, 0x9a, 0x21, 1, 0x9f, 0x22, 2, 0x21, 3, 0xb6, 0x21, 4, 0x20, 5, 0x44, 0,
            0, 0, 0, 0, 0, 0, 0x40, 0x21, 6, 0x43, 0, 0, 0xa0, 0x7f, 0x21, 7,
        ];
        let mut copied = vec![false; 8];
        scan_local_uses(&code, &mut [0; 8], &mut copied, &mut Vec::new(), |_| false).unwrap();
        assert_eq!(
            copied,
            [false, true, false, true, false, false, false, true]
        );
    }

    #[test]
    fn uses_weigh_eight_per_loop() {
        // local.get 0; loop; local.get 1; loop; local.tee 2; end; local.set 1; end;
        // local.get 0; end
        let code = [
            0x20, 0, 0x03, 0x40, 0x20, 1, 0x03, 0x7f, 0x22, 2, 0x0b, 0x21, 1, 0x0b, 0x20, 0, 0x0b,
        ];
        let (weights, summary) = scan(&code, 3).unwrap();
        assert_eq!(weights, [2, 16, 64]);
        assert_eq!(summary.call_weight, 0);
    }

    #[test]
    fn immediates_are_skipped_and_calls_weighed() {
        let code = [
            0x41, 0x80, 0x80, 0x01, // i32.const (3-byte LEB)
            0x44, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, // f64.const of 0x20 bytes
            0x28, 0x02, 0xa0, 0x01, // i32.load align=2 offset=160
            0x0e, 0x02, 0x00, 0x01, 0x02, // br_table 0 1 2
            0x03, 0x40, 0x10, 0x00, // loop; call 0 (inlined)
            0x10, 0x05, // call 5
            0x11, 0x01, 0x00, // call_indirect
            0xfc, 0x0a, 0x00, 0x00, // memory.copy
            0x22, 0x01, 0x0b, 0x0b,
        ];
        let (weights, summary) = scan(&code, 2).unwrap();
        assert_eq!(weights, [0, 8]);
        assert_eq!(summary.call_weight, 16);
    }

    #[test]
    fn unknown_or_truncated_bytes_give_up() {
        assert_eq!(scan(&[0xfd, 0x0c], 1), None, "SIMD");
        assert_eq!(scan(&[0x41, 0x80], 1), None, "a LEB cut short");
        assert_eq!(scan(&[0x20, 0x05], 1), None, "an out-of-range local");
        assert_eq!(scan(&[0x44, 0, 0], 1), None, "an f64 cut short");
    }

    #[test]
    fn the_heaviest_of_many_locals_win_ties_going_to_the_lower_index() {
        let kinds = [Kind::I64; 20];
        let weights: Vec<u64> = (0..20u64).map(|i| [8, 64, 9, 64][i as usize % 4]).collect();
        let mut homes = Vec::new();
        let regs = Registers {
            saved: &[Reg(1), Reg(2), Reg(3)],
            lendable: &[Reg(4), Reg(5)],
            float_lendable: &[FReg(1)],
        };
        let summary = ScanSummary::default();
        let used = choose_homes(
            &kinds,
            Some((&weights, summary)),
            regs,
            &mut Vec::new(),
            &mut homes,
        );
        assert_eq!(
            used,
            Used {
                saved: 3,
                lent: 2,
                float_lent: 0
            }
        );
        let placed: Vec<(usize, Home)> = homes
            .iter()
            .enumerate()
            .filter(|(_, h)| **h != Home::Memory)
            .map(|(i, &h)| (i, h))
            .collect();
        assert_eq!(
            placed,
            [
                (1, Home::Saved(Reg(1))),
                (3, Home::Saved(Reg(2))),
                (5, Home::Saved(Reg(3))),
                (7, Home::Lent(Reg(4))),
                (9, Home::Lent(Reg(5))),
            ]
        );
    }

    #[test]
    fn heaviest_locals_get_registers_and_lending_pays_for_itself() {
        let kinds = [
            Kind::I32,
            Kind::I64,
            Kind::Ref,
            Kind::F64,
            Kind::I32,
            Kind::I32,
        ];
        let weights = [1, 64, 512, 64, 0, 10];
        let regs = Registers {
            saved: &[Reg(1)],
            lendable: &[Reg(2), Reg(3), Reg(4)],
            float_lendable: &[],
        };
        let mut homes = Vec::new();
        let summary = ScanSummary { call_weight: 4 };
        let used = choose_homes(
            &kinds,
            Some((&weights, summary)),
            regs,
            &mut Vec::new(),
            &mut homes,
        );
        // The ref stays in memory; 1 and 3 tie (index order); 5 is heavy enough (10/2 > 4)
        // to be lent a register, 0 is not, 4 is unused.
        assert_eq!(
            used,
            Used {
                saved: 1,
                lent: 2,
                float_lent: 0
            }
        );
        assert_eq!(
            homes,
            [
                Home::Memory,
                Home::Saved(Reg(1)),
                Home::Memory,
                Home::Lent(Reg(2)),
                Home::Memory,
                Home::Lent(Reg(3)),
            ]
        );
        let calls = ScanSummary { call_weight: 32 };
        let used = choose_homes(
            &kinds,
            Some((&weights, calls)),
            Registers {
                saved: &[Reg(1)],
                lendable: &[Reg(2)],
                float_lendable: &[],
            },
            &mut Vec::new(),
            &mut homes,
        );
        assert_eq!(
            (used.saved, used.lent),
            (1, 0),
            "calls in the loop make lending a loss"
        );
        let used = choose_homes(
            &kinds,
            None,
            Registers {
                saved: &[Reg(1), Reg(7)],
                lendable: &[Reg(2)],
                float_lendable: &[FReg(3)],
            },
            &mut Vec::new(),
            &mut homes,
        );
        assert_eq!(
            used,
            Used {
                saved: 2,
                lent: 0,
                float_lent: 0
            },
            "no weights, no lending"
        );
        assert_eq!(homes[..2], [Home::Saved(Reg(1)), Home::Saved(Reg(7))]);
    }

    #[test]
    fn float_locals_take_float_registers_first_and_spill_over_to_integer_ones() {
        let kinds = [
            Kind::F64,
            Kind::I32,
            Kind::F32,
            Kind::F64,
            Kind::I64,
            Kind::F64,
        ];
        // Local 5 is too light to be lent anything; 3 misses the one float register and
        // competes with the integers for the callee-saved ones.
        let weights = [512, 64, 1, 128, 8, 4];
        let mut homes = Vec::new();
        let used = choose_homes(
            &kinds,
            Some((&weights, ScanSummary { call_weight: 2 })),
            Registers {
                saved: &[Reg(1), Reg(2)],
                lendable: &[Reg(3)],
                float_lendable: &[FReg(9)],
            },
            &mut Vec::new(),
            &mut homes,
        );
        assert_eq!(
            used,
            Used {
                saved: 2,
                lent: 1,
                float_lent: 1
            }
        );
        assert_eq!(
            homes,
            [
                Home::FloatLent(FReg(9)),
                Home::Saved(Reg(2)),
                Home::Memory,
                Home::Saved(Reg(1)),
                Home::Lent(Reg(3)),
                Home::Memory,
            ]
        );
        let used = choose_homes(
            &kinds,
            Some((&weights, ScanSummary { call_weight: 300 })),
            Registers {
                saved: &[Reg(1)],
                lendable: &[],
                float_lendable: &[FReg(9), FReg(10)],
            },
            &mut Vec::new(),
            &mut homes,
        );
        assert_eq!(used.float_lent, 0, "calls in the loop make lending a loss");
        assert_eq!(homes[0], Home::Saved(Reg(1)));
    }
}
