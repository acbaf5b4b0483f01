//! Frames, calls, libcalls, gas and the deterministic stack budget.
//!
//! Frame layout (rbp-based): `[rbp+16..]` incoming slots, `[rbp+8]` return address,
//! `[rbp]` caller's rbp, `[rbp-8]`/`[rbp-16]` the saved local registers a function uses
//! (rbx, r12), codegen's slots below, the outgoing call area at the bottom (rsp). The
//! frame size is a multiple of 16 and the trampoline calls with rsp 16-byte aligned, so
//! rsp stays 16-byte aligned throughout a body and libcalls need no realignment.

use dynasmrt::{DynasmApi, DynasmLabelApi};

use super::regs::{fits_i32, LIBCALL_ARGS, LOCAL_REGS, RETURN};
use super::X64Masm;
use crate::masm::{FramePatch, Label, LibcallArg, Operand, Reg};
use crate::vmctx::{Libcall, VmCtx, STACK_GRANT_UNITS};

// The gas and stack-budget fields are written as literal offsets below (`[r15]`,
// `[r15 + 8]`), so dynasm picks the short encodings; these keep them honest.
const _: () = assert!(VmCtx::GAS_REMAINING == 0);
const _: () = assert!(VmCtx::STACK_LIMIT == 8);
const STACK_RESERVE: i32 = VmCtx::STACK_RESERVE as i32;

impl X64Masm {
    /// `push rbp; mov rbp, rsp; sub rsp, imm32` (always the 7-byte imm32 form, so the
    /// frame size can be patched in place), then save the used local registers.
    pub(super) fn emit_prologue(&mut self, saved_locals: u32) -> FramePatch {
        asm!(self.ops
            ; push rbp
            ; mov rbp, rsp
        );
        // REX.W 81 /5 id: sub rsp, imm32.
        let start = self.ops.offset().0;
        self.ops.extend([0x48, 0x81, 0xEC, 0, 0, 0, 0]);
        let patch = FramePatch(start + 3);
        for (i, reg) in LOCAL_REGS.iter().take(saved_locals as usize).enumerate() {
            let (r, o) = (reg.0, -8 * (i as i32 + 1));
            asm!(self.ops; mov QWORD [rbp + o], Rq(r));
        }
        patch
    }

    pub(super) fn emit_patch_frame(&mut self, patch: FramePatch, frame_bytes: u32) {
        debug_assert!(
            frame_bytes.is_multiple_of(16),
            "frame size {frame_bytes} breaks alignment"
        );
        debug_assert!(frame_bytes <= i32::MAX as u32);
        self.ops.patch(patch.0, &frame_bytes.to_le_bytes());
    }

    pub(super) fn emit_epilogue(&mut self, saved_locals: u32) {
        for (i, reg) in LOCAL_REGS.iter().take(saved_locals as usize).enumerate() {
            let (r, o) = (reg.0, -8 * (i as i32 + 1));
            asm!(self.ops; mov Rq(r), QWORD [rbp + o]);
        }
        asm!(self.ops
            ; mov rsp, rbp
            ; pop rbp
            ; ret
        );
    }

    pub(super) fn emit_reserve_outgoing(&mut self, bytes: u32) {
        debug_assert!(bytes.is_multiple_of(16));
        let b = bytes as i32;
        asm!(self.ops; sub rsp, DWORD b);
    }

    pub(super) fn emit_release_outgoing(&mut self, bytes: u32) {
        debug_assert!(bytes.is_multiple_of(16));
        let b = bytes as i32;
        asm!(self.ops; add rsp, DWORD b);
    }

    pub(super) fn emit_call(&mut self, label: Label) {
        asm!(self.ops; call =>label);
    }

    pub(super) fn emit_call_indirect(&mut self, target: Reg) {
        let t = target.0;
        asm!(self.ops; call Rq(t));
    }

    /// System V: rdi = vmctx, then rsi, rdx, rcx, r8, r9. The arguments come from
    /// immediates, the frame or local registers (rbx/r12), none of which is an argument
    /// register, so they can be moved in any order. rsp is 16-byte aligned here (see the
    /// module docs), as the C convention requires at a call.
    pub(super) fn emit_call_libcall(&mut self, libcall: Libcall, args: &[LibcallArg]) -> Reg {
        assert!(
            args.len() <= LIBCALL_ARGS.len(),
            "libcall with {} args",
            args.len()
        );
        for (&arg, &r) in args.iter().zip(LIBCALL_ARGS.iter()) {
            match arg {
                LibcallArg::Imm(i) => self.mov_imm(r, i),
                LibcallArg::Frame(o) => asm!(self.ops; mov Rq(r), QWORD [rbp + o]),
                LibcallArg::FrameAddress(o) => asm!(self.ops; lea Rq(r), [rbp + o]),
                LibcallArg::Reg(s) => {
                    debug_assert!(LOCAL_REGS.contains(&s), "libcall arg in {s:?}");
                    asm!(self.ops; mov Rq(r), Rq(s.0))
                }
            }
        }
        let entry = VmCtx::libcall_offset(libcall) as i32;
        asm!(self.ops
            ; mov rdi, r15
            ; call QWORD [r15 + entry]
        );
        RETURN
    }

    pub(super) fn emit_charge_gas(&mut self, amount: Operand, out_of_gas: Label) {
        let start = self.ops.offset().0;
        match amount {
            // imm32 is sign-extended, which is exactly the u64 bit pattern when it fits.
            // Most block costs fit a sign-extended byte: the 4-byte form.
            Operand::Imm(i) if (0..=127).contains(&i) => {
                asm!(self.ops; sub r13, BYTE (i as i8).into())
            }
            Operand::Imm(i) if fits_i32(i) => {
                let i = i as i32;
                asm!(self.ops; sub r13, DWORD i)
            }
            Operand::Imm(i) => asm!(self.ops; mov rax, QWORD i; sub r13, rax),
            Operand::Reg(r) => asm!(self.ops; sub r13, Rq(r.0)),
            Operand::Frame(o) => asm!(self.ops; sub r13, QWORD [rbp + o]),
        }
        self.place_pair(start);
        // Borrow: the gas left was smaller than the charge.
        self.emit_gas_branch(out_of_gas);
    }

    /// `imul rax, [r15 + offset], scale` (a plain load for 1; a byte immediate when it
    /// fits, as blocks have few accesses), `add rax, add` (none for 0), `sub r13, rax;
    /// jb`: rax is masm scratch, so no register is allocated.
    pub(super) fn emit_charge_gas_scaled(
        &mut self,
        offset: u32,
        scale: u32,
        add: u32,
        out_of_gas: Label,
    ) {
        debug_assert!(scale <= i32::MAX as u32 && add <= i32::MAX as u32);
        let (o, k, c) = (offset as i32, scale as i32, add as i32);
        match scale {
            1 => asm!(self.ops; mov rax, QWORD [r15 + o]),
            2..=127 => asm!(self.ops; imul rax, QWORD [r15 + o], BYTE k as i8),
            _ => asm!(self.ops; imul rax, QWORD [r15 + o], DWORD k),
        }
        match add {
            0 => {}
            1..=127 => asm!(self.ops; add rax, BYTE c as i8),
            _ => asm!(self.ops; add rax, DWORD c),
        }
        let start = self.ops.offset().0;
        asm!(self.ops; sub r13, rax);
        self.place_pair(start);
        self.emit_gas_branch(out_of_gas);
    }

    /// `jb out_of_gas` in its rel32 form, the bytes dynasm writes for `jb =>label`. The
    /// module's most frequent branch (one per basic block) is not a dynasm relocation:
    /// dynasm keeps 16 bytes per relocation until the end of the module, more memory
    /// than the code itself; here a site costs the 4 bytes of its offset in
    /// `gas_sites` (see `late`), patched by `finish` once the stub's address is known.
    /// A second, different out-of-gas label (never in one module) takes dynasm's path.
    fn emit_gas_branch(&mut self, out_of_gas: Label) {
        if !self.gas_sites.accepts(out_of_gas) {
            asm!(self.ops; jb =>out_of_gas);
            return;
        }
        self.ops.extend([0x0f, 0x82, 0, 0, 0, 0]);
        self.gas_sites.record(self.ops.offset().0);
    }

    pub(super) fn emit_flush_gas(&mut self) {
        asm!(self.ops; mov QWORD [r15], r13);
    }

    pub(super) fn emit_reload_gas(&mut self) {
        asm!(self.ops; mov r13, QWORD [r15]);
    }

    /// `cmp rsp, [vmctx.stack_limit]; jae ok; call grant; ok:`, after the prologue (the
    /// frame is allocated, and is exactly 32 bytes per stack unit: see
    /// `NATIVE_STACK_BYTES_PER_UNIT`). No write: returning releases the frame.
    pub(super) fn emit_stack_enter(&mut self, grant: Label) {
        let start = self.ops.offset().0;
        asm!(self.ops; cmp rsp, QWORD [r15 + 8]);
        self.place_pair(start);
        asm!(self.ops
            ; jae >fits
            ; call =>grant
            ; fits:
        );
    }

    /// See `MacroAssembler::emit_stack_grant_stub`. Saves and restores the two registers
    /// it uses; `pop` leaves the flags of the final `cmp`. The asking frame's stack
    /// pointer is `rsp + 24` here (the return address and the two pushes).
    pub(super) fn emit_stack_grant_stub(&mut self, label: Label, overflow: Label) {
        let chunk = STACK_GRANT_UNITS as i32;
        asm!(self.ops
            ; =>label
            ; push rax
            ; push rcx
            // want = deficit + STACK_GRANT_UNITS, the deficit (limit - sp) / 32 in units
            // (a whole number: every frame is 32 bytes per unit); take min(want, reserve).
            ; mov rcx, QWORD [r15 + 8]
            ; lea rax, [rsp + 24]
            ; sub rcx, rax
            ; shr rcx, 5
            ; add rcx, DWORD chunk
            ; mov rax, QWORD [r15 + STACK_RESERVE]
            ; cmp rcx, rax
            ; cmova rcx, rax
            ; sub QWORD [r15 + STACK_RESERVE], rcx
            // limit -= 32 * take, saturating at 0 (a reserve as large as the address).
            ; shl rcx, 5
            ; mov rax, QWORD [r15 + 8]
            ; sub rax, rcx
            ; jae >lowered
            ; xor eax, eax
            ; lowered:
            ; mov QWORD [r15 + 8], rax
            ; lea rcx, [rsp + 24]
            ; cmp rcx, rax
            ; pop rcx
            ; pop rax
            ; jb =>overflow
            ; ret
        );
    }
}
