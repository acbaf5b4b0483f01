//! Trap stubs and the entry trampoline they unwind to.
//!
//! A trap records its code in the vmctx, flushes the gas register and jumps to the
//! trampoline's common exit, which resets sp to the value the trampoline saved in
//! `VmCtx::saved_sp`: everything wasm pushed is discarded in one step (wasm frames hold
//! no host resources). The trampoline keeps the previous `saved_sp` on its own stack, so
//! re-entrant calls (a libcall calling back into wasm) nest.
//!
//! # Float mode
//! The trampoline saves the host's FPCR next to that `saved_sp` and sets
//! [`DETERMINISTIC_FPCR`] (default-NaN mode, round to nearest even, no flush to zero,
//! no traps) for the call; the common exit restores the saved value, so the host's mode
//! comes back after a normal return and after every trap, and nested calls restore the
//! mode of the level they return to. Libcalls run in the deterministic mode too; for
//! host code that only means the NaNs it computes carry no payload. FPSR (the cumulative
//! exception flags) is not preserved: AAPCS64 does not ask callees to, and no result
//! depends on it.

use dynasmrt::{DynasmApi, DynasmLabelApi};

use super::float::DETERMINISTIC_FPCR;
use super::regs::{GAS, MEMORY, VMCTX, X0};
use super::A64Masm;
use crate::masm::{Label, Reg};
use crate::vmctx::VmCtx;
use crate::TrapKind;

const GAS_REMAINING: u32 = VmCtx::GAS_REMAINING;
const TRAP_CODE: u32 = VmCtx::TRAP_CODE;
const SAVED_SP: u32 = VmCtx::SAVED_SP;
const MEMORY_BASE: u32 = VmCtx::MEMORY_BASE;
const STACK_LIMIT: u32 = VmCtx::STACK_LIMIT;
/// The system-register operand of `mrs`/`msr` for FPCR, bits 19:5 of the instruction
/// (o0 = op0 - 2 = 1, op1 = 3, CRn = 4, CRm = 4, op2 = 0): dynasm has no name for it.
const FPCR: u32 = (1 << 14) | (3 << 11) | (4 << 7) | (4 << 3);
/// [`DETERMINISTIC_FPCR`] as the one halfword `movz ..., lsl #16` needs.
const DETERMINISTIC_FPCR_HI: u32 = (DETERMINISTIC_FPCR >> 16) as u32;
const _: () = assert!(DETERMINISTIC_FPCR == (DETERMINISTIC_FPCR_HI as u64) << 16);

impl A64Masm {
    /// `cbz w0, skip; b any_trap` on the 32-bit result (the far form: `cbnz` reaches
    /// only ±1 MiB). The dynamic stub reads the code from w0, so a result elsewhere is
    /// copied there first.
    pub(super) fn emit_trap_if_nonzero(&mut self, result: Reg, any_trap: Label) {
        let r = result.0;
        if r != X0 {
            asm!(self.ops; mov w0, W(r));
        }
        let skip = self.ops.new_dynamic_label();
        asm!(self.ops
            ; cbz w0, =>skip
            ; b =>any_trap
            ; =>skip
        );
    }

    pub(super) fn emit_static_trap_stub(&mut self, label: Label, kind: TrapKind) {
        let code = kind.code();
        asm!(self.ops; =>label);
        if kind == TrapKind::OutOfGas {
            // The counter wrapped when the charge failed; out of gas means none left.
            asm!(self.ops; mov X(GAS), xzr);
        }
        asm!(self.ops; movz w0, #code);
        self.trap_exit();
    }

    pub(super) fn emit_code_trap_stub(&mut self, label: Label) {
        asm!(self.ops; =>label);
        self.trap_exit();
    }

    /// Record w0 as the trap code, flush gas and leave through the trampoline's exit.
    fn trap_exit(&mut self) {
        let exit = self.exit;
        asm!(self.ops
            ; str w0, [X(VMCTX), #TRAP_CODE]
            ; str X(GAS), [X(VMCTX), #GAS_REMAINING]
            ; b =>exit
        );
    }

    /// `extern "C" fn(vmctx: x0, func: x1, args: x2) -> u32`; see `Artifact`.
    ///
    /// Saves x19..x30 (every callee-saved general register, whether or not generated
    /// code uses it), the previous `saved_sp` and the host's FPCR, and sets the
    /// deterministic float mode (see the module docs); d8..d15 are never written by
    /// generated code, so they need no saving.
    pub(super) fn emit_trampoline(&mut self) -> u32 {
        let start = self.ops.offset().0 as u32;
        let exit = self.exit;
        asm!(self.ops
            // Host stack: 6 pairs of callee-saved registers and the pair (old saved_sp,
            // host FPCR): 112 bytes, sp stays 16-byte aligned.
            ; stp x29, x30, [sp, #-16]!
            ; mov x29, sp
            ; stp x27, x28, [sp, #-16]!
            ; stp x25, x26, [sp, #-16]!
            ; stp x23, x24, [sp, #-16]!
            ; stp x21, x22, [sp, #-16]!
            ; stp x19, x20, [sp, #-16]!
            ; ldr x16, [x0, #SAVED_SP]
            ; mrs x17, #FPCR
            ; stp x16, x17, [sp, #-16]!
            ; movz x17, #DETERMINISTIC_FPCR_HI, lsl #16
            ; msr #FPCR, x17
            ; mov x16, sp
            ; str x16, [x0, #SAVED_SP]
            ; mov X(VMCTX), x0
            ; ldr X(MEMORY), [X(VMCTX), #MEMORY_BASE]
            ; ldr X(GAS), [X(VMCTX), #GAS_REMAINING]
            // Switch to the call's own stack: the callee's incoming slot 0 is at `args`.
            ; mov sp, x2
            // `VmCtx::stack_limit` holds the units first granted: turn it into the
            // lowest stack pointer they allow, `args - 32 * units` (saturating at 0),
            // which `stack_enter` compares with.
            ; ldr x16, [X(VMCTX), #STACK_LIMIT]
            ; lsr x17, x2, #5
            ; cmp x16, x17
            ; csel x16, x17, x16, hi
            ; sub x16, x2, x16, lsl #5
            ; str x16, [X(VMCTX), #STACK_LIMIT]
            ; blr x1
            ; str X(GAS), [X(VMCTX), #GAS_REMAINING]
            ; mov w0, wzr
            // Common exit (normal return and traps; w0 = result code, x28 = vmctx).
            ; =>exit
            ; ldr x16, [X(VMCTX), #SAVED_SP]
            ; mov sp, x16
            ; ldp x16, x17, [sp], #16
            ; str x16, [X(VMCTX), #SAVED_SP]
            ; msr #FPCR, x17
            ; ldp x19, x20, [sp], #16
            ; ldp x21, x22, [sp], #16
            ; ldp x23, x24, [sp], #16
            ; ldp x25, x26, [sp], #16
            ; ldp x27, x28, [sp], #16
            ; ldp x29, x30, [sp], #16
            ; ret
        );
        start
    }
}
