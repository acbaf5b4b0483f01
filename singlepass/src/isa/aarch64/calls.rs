//! Frames, calls, libcalls, gas and the deterministic stack budget.
//!
//! Frame layout (x29-based): `[fp+16..]` incoming slots, `[fp+8]` saved lr, `[fp]`
//! caller's fp, `[fp-8]`, `[fp-16]`, … the saved local registers a function uses
//! (x19..x25), codegen's slots below, the outgoing call area at the bottom (sp). `bl` pushes
//! nothing, so the callee's sp at entry is the caller's outgoing slot 0, and the
//! `stp x29, x30, [sp, #-16]!` of the prologue puts it at `fp + 16`, as on x86-64. The
//! frame size is a multiple of 16 and the trampoline calls with sp 16-byte aligned, so
//! sp stays 16-byte aligned throughout a body and libcalls need no realignment.

use dynasmrt::{DynasmApi, DynasmLabelApi};

use super::alu::add_imm12;
use super::regs::{ADDR, FP, GAS, LIBCALL_ARGS, LOCAL_REGS, RETURN, SCRATCH, VMCTX};
use super::A64Masm;
use crate::masm::Cond;
use crate::masm::{Address, Base, FramePatch, Label, LibcallArg, LoadKind, Operand, Reg, Size};
use crate::vmctx::{Libcall, VmCtx, STACK_GRANT_UNITS};

const GAS_REMAINING: u32 = VmCtx::GAS_REMAINING;
const STACK_LIMIT: u32 = VmCtx::STACK_LIMIT;
const STACK_RESERVE: u32 = VmCtx::STACK_RESERVE;

/// `movz x16, #imm16` (the frame patch's first instruction).
const MOVZ_X16: u32 = 0xd280_0000 | SCRATCH as u32;
/// `movk x16, #imm16, lsl #16`.
const MOVK_X16_LSL16: u32 = 0xf2a0_0000 | SCRATCH as u32;

impl A64Masm {
    /// `stp x29, x30, [sp, #-16]!; mov x29, sp`, then a fixed-length
    /// `movz x16, #lo; movk x16, #hi, lsl #16; sub sp, sp, x16` whose two immediates
    /// are patched once the frame size is known (any size below 2^32), then the used
    /// local registers are saved.
    pub(super) fn emit_prologue(&mut self, saved_locals: u32) -> FramePatch {
        asm!(self.ops
            ; stp x29, x30, [sp, #-16]!
            ; mov x29, sp
        );
        let patch = FramePatch(self.ops.offset().0);
        self.ops.extend(MOVZ_X16.to_le_bytes());
        self.ops.extend(MOVK_X16_LSL16.to_le_bytes());
        asm!(self.ops; sub sp, sp, X(SCRATCH), uxtx);
        for (i, reg) in LOCAL_REGS.iter().take(saved_locals as usize).enumerate() {
            let (r, o) = (reg.0, -8 * (i as i32 + 1));
            asm!(self.ops; stur X(r), [x29, #o]);
        }
        patch
    }

    pub(super) fn emit_patch_frame(&mut self, patch: FramePatch, frame_bytes: u32) {
        debug_assert!(
            frame_bytes.is_multiple_of(16),
            "frame size {frame_bytes} breaks alignment"
        );
        let lo = frame_bytes & 0xffff;
        let hi = frame_bytes >> 16;
        self.ops.patch(patch.0, &(MOVZ_X16 | lo << 5).to_le_bytes());
        self.ops
            .patch(patch.0 + 4, &(MOVK_X16_LSL16 | hi << 5).to_le_bytes());
    }

    pub(super) fn emit_epilogue(&mut self, saved_locals: u32) {
        for (i, reg) in LOCAL_REGS.iter().take(saved_locals as usize).enumerate() {
            let (r, o) = (reg.0, -8 * (i as i32 + 1));
            asm!(self.ops; ldur X(r), [x29, #o]);
        }
        asm!(self.ops
            ; mov sp, x29
            ; ldp x29, x30, [sp], #16
            ; ret
        );
    }

    /// `sub sp, sp, #bytes` (or through x16 beyond 12 bits); never touches the flags.
    pub(super) fn emit_reserve_outgoing(&mut self, bytes: u32) {
        debug_assert!(bytes.is_multiple_of(16));
        match add_imm12(Size::S64, bytes.into()) {
            Some((imm, false)) => asm!(self.ops; sub sp, sp, #imm),
            _ => {
                self.mov_imm(SCRATCH, bytes.into());
                asm!(self.ops; sub sp, sp, X(SCRATCH), uxtx);
            }
        }
    }

    pub(super) fn emit_release_outgoing(&mut self, bytes: u32) {
        debug_assert!(bytes.is_multiple_of(16));
        match add_imm12(Size::S64, bytes.into()) {
            Some((imm, false)) => asm!(self.ops; add sp, sp, #imm),
            _ => {
                self.mov_imm(SCRATCH, bytes.into());
                asm!(self.ops; add sp, sp, X(SCRATCH), uxtx);
            }
        }
    }

    pub(super) fn emit_call(&mut self, label: Label) {
        asm!(self.ops; bl =>label);
    }

    pub(super) fn emit_call_indirect(&mut self, target: Reg) {
        let t = target.0;
        asm!(self.ops; blr X(t));
    }

    /// AAPCS64: x0 = vmctx, then x1..x5. The arguments come from immediates, the frame
    /// or local registers (x19/x20), none of which is an argument register, so they can
    /// be moved in any order. sp is 16-byte aligned here (see the module docs), as the C
    /// convention requires. The helper's address is loaded from the vmctx's table into
    /// x16 (never an absolute address in code).
    pub(super) fn emit_call_libcall(&mut self, libcall: Libcall, args: &[LibcallArg]) -> Reg {
        assert!(
            args.len() <= LIBCALL_ARGS.len(),
            "libcall with {} args",
            args.len()
        );
        for (&arg, &r) in args.iter().zip(LIBCALL_ARGS.iter()) {
            match arg {
                LibcallArg::Imm(i) => self.mov_imm(r, i as u64),
                LibcallArg::Frame(o) => {
                    self.emit_load(LoadKind::I64, Reg(r), Address::at(Base::Frame, o.into()))
                }
                LibcallArg::FrameAddress(o) => self.add_const(r, FP, o.into()),
                LibcallArg::Reg(s) => {
                    debug_assert!(LOCAL_REGS.contains(&s), "libcall arg in {s:?}");
                    asm!(self.ops; mov X(r), X(s.0))
                }
            }
        }
        let entry = VmCtx::libcall_offset(libcall);
        asm!(self.ops
            ; ldr X(SCRATCH), [X(VMCTX), #entry]
            ; mov x0, X(VMCTX)
            ; blr X(SCRATCH)
        );
        RETURN
    }

    /// `subs x26, x26, amount; b.lo out_of_gas` (a borrow clears C).
    pub(super) fn emit_charge_gas(&mut self, amount: Operand, out_of_gas: Label) {
        match amount {
            Operand::Imm(i) if (i as u64) < 4096 => {
                let i = i as u32;
                asm!(self.ops; subs X(GAS), XSP(GAS), #i)
            }
            _ => {
                let r = self.operand_reg(Size::S64, amount);
                asm!(self.ops; subs X(GAS), X(GAS), X(r));
            }
        }
        self.emit_branch(Cond::LtU, out_of_gas);
    }

    /// `ldr x17, [vmctx + offset]`, times `scale` (`lsl` for a power of two, else `mul`
    /// by x16), plus `add`, then `subs gas, gas, x17; b.lo`: the masm's scratch
    /// registers only.
    pub(super) fn emit_charge_gas_scaled(
        &mut self,
        offset: u32,
        scale: u32,
        add: u32,
        out_of_gas: Label,
    ) {
        let s = Reg(ADDR);
        self.emit_load(LoadKind::I64, s, Address::at(Base::Vmctx, offset.into()));
        if scale.is_power_of_two() {
            if scale > 1 {
                let shift = scale.trailing_zeros();
                asm!(self.ops; lsl X(ADDR), X(ADDR), #shift);
            }
        } else {
            self.mov_imm(SCRATCH, scale.into());
            asm!(self.ops; mul X(ADDR), X(ADDR), X(SCRATCH));
        }
        match add {
            0 => {}
            1..4096 => asm!(self.ops; add XSP(ADDR), XSP(ADDR), #add),
            _ => {
                self.mov_imm(SCRATCH, add.into());
                asm!(self.ops; add X(ADDR), X(ADDR), X(SCRATCH));
            }
        }
        asm!(self.ops; subs X(GAS), X(GAS), X(ADDR));
        self.emit_branch(Cond::LtU, out_of_gas);
    }

    pub(super) fn emit_flush_gas(&mut self) {
        asm!(self.ops; str X(GAS), [X(VMCTX), #GAS_REMAINING]);
    }

    pub(super) fn emit_reload_gas(&mut self) {
        asm!(self.ops; ldr X(GAS), [X(VMCTX), #GAS_REMAINING]);
    }

    /// `ldr x17, [vmctx.stack_limit]; cmp sp, x17; b.hs fits; bl grant; fits:`, after
    /// the prologue (the frame is allocated, and is exactly 32 bytes per stack unit: see
    /// `NATIVE_STACK_BYTES_PER_UNIT`). No write: returning releases the frame. `bl`
    /// clobbers x30, which the prologue saved.
    pub(super) fn emit_stack_enter(&mut self, grant: Label) {
        let fits = self.ops.new_dynamic_label();
        asm!(self.ops
            ; ldr X(ADDR), [X(VMCTX), #STACK_LIMIT]
            ; cmp sp, X(ADDR), uxtx
            ; b.hs =>fits
            ; bl =>grant
            ; =>fits
        );
    }

    /// See `MacroAssembler::emit_stack_grant_stub`. Uses only the masm's scratch
    /// registers (x16, x17) and returns through x30; `bl` moved no stack pointer, so
    /// `sp` is the asking frame's.
    pub(super) fn emit_stack_grant_stub(&mut self, label: Label, overflow: Label) {
        let chunk = STACK_GRANT_UNITS as u32;
        asm!(self.ops
            ; =>label
            // want = deficit + STACK_GRANT_UNITS, the deficit (limit - sp) / 32 in units
            // (a whole number: every frame is 32 bytes per unit); take min(want, reserve).
            ; ldr X(SCRATCH), [X(VMCTX), #STACK_LIMIT]
            ; mov XSP(ADDR), sp
            ; sub X(ADDR), X(SCRATCH), X(ADDR)
            ; lsr X(ADDR), X(ADDR), #5
            ; add XSP(ADDR), XSP(ADDR), #chunk
            ; ldr X(SCRATCH), [X(VMCTX), #STACK_RESERVE]
            ; cmp X(ADDR), X(SCRATCH)
            ; csel X(ADDR), X(SCRATCH), X(ADDR), hi
            ; sub X(SCRATCH), X(SCRATCH), X(ADDR)
            ; str X(SCRATCH), [X(VMCTX), #STACK_RESERVE]
            // limit -= 32 * take, saturating at 0 (a reserve as large as the address).
            ; ldr X(SCRATCH), [X(VMCTX), #STACK_LIMIT]
            ; subs X(SCRATCH), X(SCRATCH), X(ADDR), lsl #5
            ; csel X(SCRATCH), xzr, X(SCRATCH), lo
            ; str X(SCRATCH), [X(VMCTX), #STACK_LIMIT]
            ; mov XSP(ADDR), sp
            ; cmp X(ADDR), X(SCRATCH)
        );
        self.emit_branch(Cond::LtU, overflow);
        asm!(self.ops; ret);
    }
}
