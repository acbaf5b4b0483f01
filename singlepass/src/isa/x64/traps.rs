//! Trap stubs and the entry trampoline they unwind to.
//!
//! A trap records its code in the vmctx, flushes the gas register and jumps to the
//! trampoline's common exit, which resets rsp to the value the trampoline saved in
//! `VmCtx::saved_sp`: everything wasm pushed is discarded in one step (wasm frames hold
//! no host resources). The trampoline keeps the previous `saved_sp` on its own stack, so
//! re-entrant calls (a libcall calling back into wasm) nest.

use dynasmrt::{DynasmApi, DynasmLabelApi};

use super::X64Masm;
use crate::masm::{Label, Reg};
use crate::vmctx::VmCtx;
use crate::TrapKind;

const GAS_REMAINING: i32 = VmCtx::GAS_REMAINING as i32;
const TRAP_CODE: i32 = VmCtx::TRAP_CODE as i32;
const SAVED_SP: i32 = VmCtx::SAVED_SP as i32;
const MEMORY_BASE: i32 = VmCtx::MEMORY_BASE as i32;
const STACK_LIMIT: i32 = VmCtx::STACK_LIMIT as i32;

/// MXCSR for wasm code: every exception masked (bits 7-12), round to nearest even
/// (bits 13-14 = 0), no flush-to-zero (bit 15) and no denormals-are-zero (bit 6), no
/// sticky flags. Wasm floats are exactly IEEE-754 in this mode.
const DETERMINISTIC_MXCSR: i32 = 0x1f80;

impl X64Masm {
    /// `test; jnz` on the 32-bit result. The dynamic stub reads the code from eax, so a
    /// result elsewhere is copied there first (`mov` keeps the flags of nothing we need).
    pub(super) fn emit_trap_if_nonzero(&mut self, result: Reg, any_trap: Label) {
        let r = result.0;
        if r != super::regs::RAX {
            asm!(self.ops; mov eax, Rd(r));
        }
        asm!(self.ops
            ; test eax, eax
            ; jnz =>any_trap
        );
    }

    pub(super) fn emit_static_trap_stub(&mut self, label: Label, kind: TrapKind) {
        let code = kind.code() as i32;
        asm!(self.ops; =>label);
        if kind == TrapKind::OutOfGas {
            // The counter wrapped when the charge failed; out of gas means none left.
            asm!(self.ops; xor r13d, r13d);
        }
        asm!(self.ops
            ; mov DWORD [r15 + TRAP_CODE], DWORD code
            ; mov eax, DWORD code
        );
        self.trap_exit();
    }

    pub(super) fn emit_code_trap_stub(&mut self, label: Label) {
        asm!(self.ops
            ; =>label
            ; mov DWORD [r15 + TRAP_CODE], eax
        );
        self.trap_exit();
    }

    /// Flush gas and leave through the trampoline's exit with eax = the trap code.
    fn trap_exit(&mut self) {
        let exit = self.exit;
        asm!(self.ops
            ; mov QWORD [r15 + GAS_REMAINING], r13
            ; jmp =>exit
        );
    }

    /// `extern "C" fn(vmctx: rdi, func: rsi, args: rdx) -> u32`; see `Artifact`.
    ///
    /// The call runs with MXCSR = [`DETERMINISTIC_MXCSR`]; the host's MXCSR (its modes and
    /// its sticky exception flags) is saved below the pushed registers and restored on
    /// every exit.
    pub(super) fn emit_trampoline(&mut self) -> u32 {
        let start = self.ops.offset().0 as u32;
        let exit = self.exit;
        asm!(self.ops
            // Host stack: return address, then 6 callee-saved registers and the old
            // saved_sp (7 pushes), then 16 bytes holding the host's MXCSR at [rsp] and
            // the deterministic one at [rsp + 4]: rsp ends 16-byte aligned, though
            // nothing relies on it.
            ; push rbp
            ; push rbx
            ; push r12
            ; push r13
            ; push r14
            ; push r15
            ; push QWORD [rdi + SAVED_SP]
            ; sub rsp, 16
            ; stmxcsr [rsp]
            ; mov DWORD [rsp + 4], DETERMINISTIC_MXCSR
            ; ldmxcsr [rsp + 4]
            ; mov [rdi + SAVED_SP], rsp
            ; mov r15, rdi
            ; mov r14, QWORD [r15 + MEMORY_BASE]
            ; mov r13, QWORD [r15 + GAS_REMAINING]
            // Switch to the call's own stack: the callee's incoming slot 0 is at `args`.
            ; mov rsp, rdx
            // `VmCtx::stack_limit` holds the units first granted: turn it into the
            // lowest stack pointer they allow, `args - 32 * units` (saturating at 0),
            // which `stack_enter` compares with.
            ; mov rax, QWORD [r15 + STACK_LIMIT]
            ; mov rcx, rsp
            ; shr rcx, 5
            ; cmp rax, rcx
            ; cmova rax, rcx
            ; shl rax, 5
            ; mov rcx, rsp
            ; sub rcx, rax
            ; mov QWORD [r15 + STACK_LIMIT], rcx
            ; call rsi
            ; mov QWORD [r15 + GAS_REMAINING], r13
            ; xor eax, eax
            // Common exit (normal return and traps; eax = result code, r15 = vmctx).
            ; =>exit
            ; mov rsp, QWORD [r15 + SAVED_SP]
            ; ldmxcsr [rsp]
            ; add rsp, 16
            ; pop rcx
            ; mov QWORD [r15 + SAVED_SP], rcx
            ; pop r15
            ; pop r14
            ; pop r13
            ; pop r12
            ; pop rbx
            ; pop rbp
            ; ret
        );
        start
    }
}
