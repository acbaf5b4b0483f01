//! AArch64 register assignment: the fixed roles every piece of generated code (and the
//! entry trampoline) agrees on. AAPCS64 throughout.
//!
//! - Pinned for the whole wasm call: x28 = `*mut VmCtx`, x27 = linear memory base,
//!   x26 = remaining gas. All three are callee-saved in AAPCS64, so they survive libcalls
//!   (the runtime's helpers are ordinary C functions).
//! - Scratch, owned by the masm inside a single method: x16 (IP0) and x17 (IP1). x16
//!   materialises immediates, holds loaded operands and store values; x17 builds
//!   addresses. Neither ever holds a value across two trait calls.
//! - Float/vector scratch, likewise owned inside a single method: v16 and v17. v16 is the
//!   vector scratch of `popcnt`, v17 a truncation bound.
//! - Float allocatable: v18..v29 hold float temporaries between masm calls (never across
//!   a call or a merge); codegen may lend v18..v25 (`FLOAT_LENDABLE`) to float locals,
//!   saving them around calls like x6..x8; v30 and v31 are where the bit-pattern forms
//!   (`MacroAssembler::float_binop`, …) compute. v16..v31 are caller-saved in AAPCS64, so
//!   using them needs no saving.
//! - Allocatable (caller-saved, clobbered by every call): x6..x15. Codegen may lend
//!   x6..x8 to locals of a function (`LENDABLE`), which then saves them around its
//!   calls and allocates its temporaries from x9..x15.
//! - Local registers (callee-saved, saved by the prologue on demand): x19..x25.
//! - x0 is the C return register: libcall results and dynamic trap codes arrive there.
//!   x1..x5 carry libcall arguments. Neither is allocatable, so no argument shuffle can
//!   overwrite a live value.
//! - x29 is the frame pointer, x30 the link register, sp the stack pointer (always
//!   16-byte aligned: AArch64 faults on a misaligned sp-based access when alignment
//!   checking is on, and AAPCS64 requires it at every public interface).
//! - x18 (the platform register, reserved on macOS and Windows) and v0..v15 are never
//!   touched by generated code; in particular d8..d15 (callee-saved in AAPCS64) must
//!   never be written and need no saving anywhere.

use crate::masm::{FReg, Reg};

pub(super) const X0: u8 = 0;
pub(super) const X6: u8 = 6;
pub(super) const X7: u8 = 7;
pub(super) const X8: u8 = 8;
pub(super) const X9: u8 = 9;
pub(super) const X10: u8 = 10;
pub(super) const X11: u8 = 11;
pub(super) const X12: u8 = 12;
pub(super) const X13: u8 = 13;
pub(super) const X14: u8 = 14;
pub(super) const X15: u8 = 15;
/// Scratch for values and immediates.
pub(super) const SCRATCH: u8 = 16;
/// Scratch for addresses.
pub(super) const ADDR: u8 = 17;
/// Float scratch: a truncation bound (v17, caller-saved).
pub(super) const FLOAT_B: u8 = 17;
/// Float registers codegen may allocate for float temporaries (v18..v29).
pub(super) const FLOAT_ALLOCATABLE: [FReg; 12] = [
    FReg(18),
    FReg(19),
    FReg(20),
    FReg(21),
    FReg(22),
    FReg(23),
    FReg(24),
    FReg(25),
    FReg(26),
    FReg(27),
    FReg(28),
    FReg(29),
];
/// How many of the first `FLOAT_ALLOCATABLE` registers (v18..v25) codegen may lend to
/// float locals: four stay for temporaries (a float operator holds two at most).
pub(super) const FLOAT_LENDABLE: usize = 8;
/// `MacroAssembler::float_scratch`: v30, v31.
pub(super) const FLOAT_SCRATCH: [FReg; 2] = [FReg(30), FReg(31)];
pub(super) const X19: u8 = 19;
pub(super) const X20: u8 = 20;
pub(super) const X21: u8 = 21;
pub(super) const X22: u8 = 22;
pub(super) const X23: u8 = 23;
pub(super) const X24: u8 = 24;
pub(super) const X25: u8 = 25;
/// Remaining gas (pinned).
pub(super) const GAS: u8 = 26;
/// Linear memory base (pinned).
pub(super) const MEMORY: u8 = 27;
/// `*mut VmCtx` (pinned).
pub(super) const VMCTX: u8 = 28;
/// Frame pointer.
pub(super) const FP: u8 = 29;
/// The encoding of sp in base-register positions (and of xzr in data positions).
pub(super) const SP: u8 = 31;
/// The zero register in data positions.
pub(super) const XZR: u8 = 31;

/// Registers codegen may allocate for values.
pub(super) const ALLOCATABLE: [Reg; 10] = [
    Reg(X6),
    Reg(X7),
    Reg(X8),
    Reg(X9),
    Reg(X10),
    Reg(X11),
    Reg(X12),
    Reg(X13),
    Reg(X14),
    Reg(X15),
];
/// Registers codegen may pin locals in; the prologue saves the ones a function uses at
/// `fp-8`, `fp-16`, ….
pub(super) const LOCAL_REGS: [Reg; 7] = [
    Reg(X19),
    Reg(X20),
    Reg(X21),
    Reg(X22),
    Reg(X23),
    Reg(X24),
    Reg(X25),
];
/// How many of the first `ALLOCATABLE` registers (x6..x8) codegen may lend to locals.
pub(super) const LENDABLE: usize = 3;
/// AAPCS64 integer argument registers after the first (which always carries the vmctx).
pub(super) const LIBCALL_ARGS: [u8; 5] = [1, 2, 3, 4, 5];
/// The C return register, where libcall results (and dynamic trap codes) arrive.
pub(super) const RETURN: Reg = Reg(X0);
/// `fp + this` is incoming slot 0: above the saved fp/lr pair.
pub(super) const INCOMING_AREA_OFFSET: i32 = 16;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_do_not_overlap() {
        let scratch = [SCRATCH, ADDR, X0];
        let pinned = [GAS, MEMORY, VMCTX, FP, 30, SP, 18];
        for r in ALLOCATABLE.iter().chain(LOCAL_REGS.iter()) {
            assert!(!scratch.contains(&r.0) && !pinned.contains(&r.0), "{r:?}");
            assert!(!LIBCALL_ARGS.contains(&r.0), "{r:?}");
        }
        for r in LOCAL_REGS.iter().chain(
            [GAS, MEMORY, VMCTX]
                .iter()
                .map(|&r| Reg(r))
                .collect::<Vec<_>>()
                .iter(),
        ) {
            // AAPCS64 callee-saved: x19..x28.
            assert!((19..=28).contains(&r.0), "{r:?}");
        }
        // AAPCS64: v8..v15 are callee-saved (their low halves), v16..v31 caller-saved.
        // v16: `popcnt`'s vector scratch (`alu`).
        let float: Vec<u8> = [16, FLOAT_B]
            .into_iter()
            .chain(FLOAT_ALLOCATABLE.iter().chain(&FLOAT_SCRATCH).map(|v| v.0))
            .collect();
        for (i, v) in float.iter().enumerate() {
            assert!((16..=31).contains(v), "v{v}");
            assert!(!float[..i].contains(v), "v{v} has two roles");
        }
    }
}
