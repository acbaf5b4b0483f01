//! x86-64 register assignment: the fixed roles every piece of generated code (and the
//! entry trampoline) agrees on.
//!
//! - Pinned for the whole wasm call: r15 = `*mut VmCtx`, r14 = linear memory base,
//!   r13 = remaining gas. All three are callee-saved in System V, so they survive libcalls.
//! - Scratch, owned by the masm inside a single method: rax, rcx, r11. rax/rdx are
//!   forced by `div`, rcx by variable shifts, r11 is free for materialising constants.
//!   rdx is no temporary either, but may hold a lent local (below).
//! - Allocatable (caller-saved, clobbered by every call): rsi, rdi, r8, r9, r10. Codegen
//!   may lend rdx, then rsi and rdi to locals of a function (`LENDABLE_REGS`), which then
//!   saves them around its calls and allocates its temporaries from the rest. rdx is
//!   never a temporary (it is the libcall argument register and `div`'s); the only
//!   methods that write it, `div` and the dirty-range stub, put it back.
//! - Local registers (callee-saved, saved by the prologue on demand): rbx, r12.
//! - Float: xmm0 and xmm1 are scratch inside a single masm method; xmm2-xmm13 are
//!   allocatable for float temporaries, and codegen may lend xmm2-xmm9
//!   (`FLOAT_LENDABLE`) to float locals, saving them around calls like rsi/rdi; xmm14
//!   and xmm15 are where the bit-pattern forms (`MacroAssembler::float_binop`, …)
//!   compute. All are caller-saved in System V.
//! - rbp is the frame pointer, rsp the stack pointer.

use crate::masm::{FReg, Reg};

/// Hardware register numbers (the ModRM/REX encoding), as dynasm's `Rq(n)` expects.
pub(super) const RAX: u8 = 0;
pub(super) const RCX: u8 = 1;
pub(super) const RDX: u8 = 2;
pub(super) const RBX: u8 = 3;
pub(super) const RSP: u8 = 4;
pub(super) const RBP: u8 = 5;
pub(super) const RSI: u8 = 6;
pub(super) const RDI: u8 = 7;
pub(super) const R8: u8 = 8;
pub(super) const R9: u8 = 9;
pub(super) const R10: u8 = 10;
pub(super) const R11: u8 = 11;
pub(super) const R12: u8 = 12;
/// Remaining gas (pinned). The instructions name r13 directly; the constant documents the
/// role, the overlap test checks it, and counted loops subtract from it
/// (`MacroAssembler::counted_loop_gas`).
pub(super) const GAS: u8 = 13;
/// Linear memory base (pinned).
pub(super) const MEMORY: u8 = 14;
/// `*mut VmCtx` (pinned).
pub(super) const VMCTX: u8 = 15;

/// Registers codegen may allocate for values.
pub(super) const ALLOCATABLE: [Reg; 5] = [Reg(RSI), Reg(RDI), Reg(R8), Reg(R9), Reg(R10)];
/// Registers codegen may pin locals in; the prologue saves them at `rbp-8`, `rbp-16`.
pub(super) const LOCAL_REGS: [Reg; 2] = [Reg(RBX), Reg(R12)];
/// How many of the first `ALLOCATABLE` registers (rsi, rdi) codegen may lend to locals:
/// three stay for temporaries, the most one operator holds at once (`select`).
pub(super) const LENDABLE: usize = 2;
/// The registers codegen may lend to locals, in lending order: rdx first, which costs
/// no temporary, then the `LENDABLE` first allocatable ones.
pub(super) const LENDABLE_REGS: [Reg; 3] = [Reg(RDX), Reg(RSI), Reg(RDI)];
/// Float registers codegen may allocate for float temporaries.
pub(super) const FLOAT_ALLOCATABLE: [FReg; 12] = [
    FReg(2),
    FReg(3),
    FReg(4),
    FReg(5),
    FReg(6),
    FReg(7),
    FReg(8),
    FReg(9),
    FReg(10),
    FReg(11),
    FReg(12),
    FReg(13),
];
/// How many of the first `FLOAT_ALLOCATABLE` registers (xmm2-xmm9) codegen may lend to
/// float locals: four stay for temporaries (a float operator holds two at most).
pub(super) const FLOAT_LENDABLE: usize = 8;
/// `MacroAssembler::float_scratch`: xmm14, xmm15 (not xmm0/xmm1, which the float
/// methods themselves use).
pub(super) const FLOAT_SCRATCH: [FReg; 2] = [FReg(14), FReg(15)];
/// System V integer argument registers after the first (which always carries the vmctx).
pub(super) const LIBCALL_ARGS: [u8; 5] = [RSI, RDX, RCX, R8, R9];
/// The C return register, where libcall results (and dynamic trap codes) arrive.
pub(super) const RETURN: Reg = Reg(RAX);
/// `rbp + this` is incoming slot 0: above the saved rbp and the return address.
pub(super) const INCOMING_AREA_OFFSET: i32 = 16;

/// Whether `value` survives as a sign-extended 32-bit immediate or displacement.
pub(super) fn fits_i32(value: i64) -> bool {
    i32::try_from(value).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_do_not_overlap() {
        let scratch = [RAX, RCX, RDX, R11];
        let pinned = [GAS, MEMORY, VMCTX, RSP, RBP];
        for r in ALLOCATABLE.iter().chain(LOCAL_REGS.iter()) {
            assert!(!scratch.contains(&r.0) && !pinned.contains(&r.0), "{r:?}");
        }
        for r in LOCAL_REGS {
            assert!(!LIBCALL_ARGS.contains(&r.0) && r.0 != RDI);
        }
        let _ = (R12, RSP, RBP);
        // The lendable registers that are temporaries come first in `ALLOCATABLE`; rdx
        // is lendable but no temporary.
        let temporaries: Vec<Reg> = LENDABLE_REGS
            .into_iter()
            .filter(|r| ALLOCATABLE.contains(r))
            .collect();
        assert_eq!(temporaries, ALLOCATABLE[..LENDABLE]);
        assert_eq!(LENDABLE_REGS[0], Reg(RDX));
        assert!(!LOCAL_REGS.contains(&Reg(RDX)));
    }
}
