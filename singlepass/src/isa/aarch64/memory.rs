//! Addressing modes, loads, stores, bounds checks and frame zeroing.
//!
//! An [`Address`] becomes one of AArch64's forms:
//! - `[base, #disp]` with a scaled unsigned 12-bit offset (`ldr`) or a signed 9-bit one
//!   (`ldur`), when the displacement fits;
//! - `[base, xN]` (or `[x27, wN, uxtw]` for linear memory) otherwise, with the index
//!   and/or the displacement first combined into x17.
//!
//! Linear-memory accesses always zero-extend the i32 wasm address (`uxtw`), so the upper
//! half of the index register is never trusted; the wasm offset (up to `u32::MAX`) is
//! added through x17. Nothing here sets the flags (`add`, never `adds`).

use dynasmrt::{DynasmApi, DynasmLabelApi};

use super::alu::add_imm12;
use super::regs::{ADDR, FP, GAS, MEMORY, SCRATCH, SP, VMCTX, XZR};
use super::A64Masm;
use crate::masm::{
    Address, Base, FReg, FloatSize, Label, LoadKind, Operand, Reg, Size, StoreCheck, StoreSlowPath,
    StoreWidth,
};
use crate::vmctx::{VmCtx, DIRTY_GRANULE};
use crate::written::{WRITTEN_FAR, WRITTEN_SPILLS};

/// An address AArch64 encodes directly.
#[derive(Copy, Clone, Debug)]
enum Mem {
    /// `[base, #disp]`, `disp` a multiple of the access size in `0..4096 * size`.
    Scaled(u8, u32),
    /// `[base, #disp]`, `disp` in `-256..256`.
    Unscaled(u8, i32),
    /// `[base, xN]`.
    RegX(u8, u8),
    /// `[base, wN, uxtw]`.
    RegW(u8, u8),
}

/// Emit one load/store of register `$r` (family `$fam`: `W` or `X`) at `$m`, with the
/// scaled mnemonic `$mn` and the unscaled one `$umn`.
macro_rules! at_mem {
    ($ops:expr, $mn:ident, $umn:ident, $fam:ident, $r:expr, $m:expr) => {{
        let r: u8 = $r;
        match $m {
            Mem::Scaled(b, disp) => asm!($ops; $mn $fam(r), [XSP(b), #disp]),
            Mem::Unscaled(b, disp) => asm!($ops; $umn $fam(r), [XSP(b), #disp]),
            Mem::RegX(b, i) => asm!($ops; $mn $fam(r), [XSP(b), X(i)]),
            Mem::RegW(b, i) => asm!($ops; $mn $fam(r), [XSP(b), W(i), uxtw]),
        }
    }};
}

impl A64Masm {
    /// Lower `addr` for an access of `bytes` bytes, using x17 when the form needs it.
    fn resolve(&mut self, addr: Address, bytes: u32) -> Mem {
        let base = match addr.base {
            Base::Vmctx => VMCTX,
            Base::Frame => FP,
            Base::Sp => SP,
            Base::Memory => MEMORY,
            Base::Reg(r) => r.0,
        };
        debug_assert!(addr.index.is_none_or(|(_, scale)| scale <= 3));
        let disp = addr.disp;
        let Some((index, scale)) = addr.index else {
            return self.base_disp(base, disp, bytes);
        };
        let i = index.0;
        let memory = addr.base == Base::Memory;
        if disp == 0 && scale == 0 {
            return if memory {
                Mem::RegW(base, i)
            } else {
                Mem::RegX(base, i)
            };
        }
        if Self::fits_imm(disp, bytes) {
            // x17 = base + index << scale, then the displacement as an immediate.
            if base == SP {
                asm!(self.ops; mov XSP(ADDR), sp);
                self.add_index(ADDR, ADDR, i, scale, memory);
            } else {
                self.add_index(ADDR, base, i, scale, memory);
            }
            return self.base_disp(ADDR, disp, bytes);
        }
        // x17 = disp + index << scale, then `[base, x17]`. Only x17 is used, so a store
        // value in x16 survives.
        self.mov_imm(ADDR, disp as u64);
        self.add_index(ADDR, ADDR, i, scale, memory);
        Mem::RegX(base, ADDR)
    }

    /// Whether `[base, #disp]` has an immediate form for an access of `bytes`.
    fn fits_imm(disp: i64, bytes: u32) -> bool {
        let size = i64::from(bytes);
        (disp >= 0 && disp % size == 0 && disp / size < 4096) || (-256..256).contains(&disp)
    }

    /// `d = b + (index << scale)`, the index zero-extended from 32 bits for memory.
    fn add_index(&mut self, d: u8, b: u8, i: u8, scale: u8, memory: bool) {
        match (memory, scale) {
            (true, 0) => asm!(self.ops; add XSP(d), XSP(b), W(i), uxtw),
            (true, 1) => asm!(self.ops; add XSP(d), XSP(b), W(i), uxtw #1),
            (true, 2) => asm!(self.ops; add XSP(d), XSP(b), W(i), uxtw #2),
            (true, _) => asm!(self.ops; add XSP(d), XSP(b), W(i), uxtw #3),
            (false, 0) => asm!(self.ops; add X(d), X(b), X(i)),
            (false, 1) => asm!(self.ops; add X(d), X(b), X(i), lsl #1),
            (false, 2) => asm!(self.ops; add X(d), X(b), X(i), lsl #2),
            (false, _) => asm!(self.ops; add X(d), X(b), X(i), lsl #3),
        }
    }

    /// `[base + disp]`: an immediate form when one fits, else `[base, x17]` with the
    /// displacement materialised in x17 (`base` is never x17 then: see `resolve`).
    fn base_disp(&mut self, base: u8, disp: i64, bytes: u32) -> Mem {
        let size = i64::from(bytes);
        if disp >= 0 && disp % size == 0 && disp / size < 4096 {
            return Mem::Scaled(base, disp as u32);
        }
        if (-256..256).contains(&disp) {
            return Mem::Unscaled(base, disp as i32);
        }
        debug_assert!(base != ADDR);
        self.mov_imm(ADDR, disp as u64);
        Mem::RegX(base, ADDR)
    }

    /// `d = s + value` (64-bit, flags untouched); `s` may be sp, `d` must not be.
    pub(super) fn add_const(&mut self, d: u8, s: u8, value: i64) {
        match add_imm12(Size::S64, value as u64) {
            Some((imm, false)) => asm!(self.ops; add XSP(d), XSP(s), #imm),
            Some((imm, true)) => asm!(self.ops; sub XSP(d), XSP(s), #imm),
            None => {
                let tmp = if d == SCRATCH || s == SCRATCH {
                    ADDR
                } else {
                    SCRATCH
                };
                debug_assert!(tmp != s);
                self.mov_imm(tmp, value as u64);
                if s == SP {
                    asm!(self.ops; add XSP(d), XSP(s), X(tmp), uxtx)
                } else {
                    asm!(self.ops; add X(d), X(s), X(tmp))
                }
            }
        }
    }

    pub(super) fn emit_load(&mut self, kind: LoadKind, dst: Reg, addr: Address) {
        let d = dst.0;
        let m = self.resolve(addr, kind.bytes());
        match kind {
            LoadKind::I32 | LoadKind::I64From32U => at_mem!(self.ops, ldr, ldur, W, d, m),
            LoadKind::I64 => at_mem!(self.ops, ldr, ldur, X, d, m),
            LoadKind::I32From8S => at_mem!(self.ops, ldrsb, ldursb, W, d, m),
            LoadKind::I32From8U | LoadKind::I64From8U => at_mem!(self.ops, ldrb, ldurb, W, d, m),
            LoadKind::I32From16S => at_mem!(self.ops, ldrsh, ldursh, W, d, m),
            LoadKind::I32From16U | LoadKind::I64From16U => {
                at_mem!(self.ops, ldrh, ldurh, W, d, m)
            }
            LoadKind::I64From8S => at_mem!(self.ops, ldrsb, ldursb, X, d, m),
            LoadKind::I64From16S => at_mem!(self.ops, ldrsh, ldursh, X, d, m),
            LoadKind::I64From32S => at_mem!(self.ops, ldrsw, ldursw, X, d, m),
        }
    }

    /// `ldr` into an S or D register: no integer register on the way.
    pub(super) fn emit_fp_load(&mut self, size: FloatSize, dst: FReg, addr: Address) {
        let d = dst.0;
        match size {
            FloatSize::F32 => {
                let m = self.resolve(addr, 4);
                at_mem!(self.ops, ldr, ldur, S, d, m)
            }
            FloatSize::F64 => {
                let m = self.resolve(addr, 8);
                at_mem!(self.ops, ldr, ldur, D, d, m)
            }
        }
    }

    /// `str` of a float register: its bits as they are (FPCR.DN made any NaN an
    /// operation left there canonical already).
    pub(super) fn emit_fp_store(&mut self, size: FloatSize, addr: Address, src: FReg) {
        let s = src.0;
        match size {
            FloatSize::F32 => {
                let m = self.resolve(addr, 4);
                at_mem!(self.ops, str, stur, S, s, m)
            }
            FloatSize::F64 => {
                let m = self.resolve(addr, 8);
                at_mem!(self.ops, str, stur, D, s, m)
            }
        }
    }

    /// The value goes through x16 when it is not a register (0 is xzr); the address may
    /// use x17, so the two never collide.
    pub(super) fn emit_store(&mut self, width: StoreWidth, addr: Address, src: Operand) {
        let v = match src {
            Operand::Reg(r) => r.0,
            Operand::Imm(0) => XZR,
            Operand::Imm(i) => {
                // Only the stored bytes matter: fewer `movk`s for narrow stores.
                let bits = 8 * width.bytes();
                let value = if bits == 64 {
                    i as u64
                } else {
                    i as u64 & ((1u64 << bits) - 1)
                };
                self.mov_imm(SCRATCH, value);
                SCRATCH
            }
            Operand::Frame(o) => {
                self.emit_load(
                    LoadKind::I64,
                    Reg(SCRATCH),
                    Address::at(Base::Frame, o.into()),
                );
                SCRATCH
            }
        };
        let m = self.resolve(addr, width.bytes());
        match width {
            StoreWidth::B8 => at_mem!(self.ops, strb, sturb, W, v, m),
            StoreWidth::B16 => at_mem!(self.ops, strh, sturh, W, v, m),
            StoreWidth::B32 => at_mem!(self.ops, str, stur, W, v, m),
            StoreWidth::B64 => at_mem!(self.ops, str, stur, X, v, m),
        }
    }

    pub(super) fn emit_lea(&mut self, dst: Reg, addr: Address) {
        let d = dst.0;
        match self.resolve(addr, 1) {
            Mem::Scaled(b, disp) => self.add_const(d, b, disp.into()),
            Mem::Unscaled(b, disp) => self.add_const(d, b, disp.into()),
            Mem::RegX(b, i) => {
                if b == SP {
                    asm!(self.ops; add XSP(d), XSP(b), X(i), uxtx)
                } else {
                    asm!(self.ops; add X(d), X(b), X(i))
                }
            }
            Mem::RegW(b, i) => asm!(self.ops; add XSP(d), XSP(b), W(i), uxtw),
        }
    }

    /// `x16 = zext(addr) + end` cannot overflow 64 bits (`end <= 2^32 + 8`), so one
    /// unsigned compare against the current memory length decides. `aligned` (see
    /// `MacroAssembler::bounds_check`): `addr < memory_len` is the same test, one compare
    /// of the address itself.
    pub(super) fn emit_bounds_check(&mut self, addr: Reg, end: u64, oob: Label, aligned: bool) {
        let a = addr.0;
        if aligned {
            asm!(self.ops
                ; ldr X(ADDR), [X(VMCTX), #VmCtx::MEMORY_LEN]
                ; cmp XSP(ADDR), W(a), uxtw
            );
            // Out of bounds when memory_len <= addr.
            self.emit_branch(crate::masm::Cond::LeU, oob);
            return;
        }
        self.mov_imm(SCRATCH, end);
        asm!(self.ops
            ; add XSP(SCRATCH), XSP(SCRATCH), W(a), uxtw
            ; ldr X(ADDR), [X(VMCTX), #VmCtx::MEMORY_LEN]
            ; cmp X(SCRATCH), X(ADDR)
        );
        self.emit_branch(crate::masm::Cond::GtU, oob);
    }

    /// See `MacroAssembler::store_check`: one compare of `(addr - start) mod 2^32 + end`
    /// against the range's length (see `WrittenRanges::len`).
    pub(super) fn emit_store_check(&mut self, check: StoreCheck, aligned: bool) {
        let a = check.addr.0;
        let (slow, back) = (self.ops.new_dynamic_label(), self.ops.new_dynamic_label());
        if aligned {
            // `(addr - start) mod 2^32 < len` (see `MacroAssembler::store_check`).
            asm!(self.ops
                ; ldr W(ADDR), [X(VMCTX), #VmCtx::WRITTEN_START]
                ; sub W(ADDR), W(a), W(ADDR)
                ; ldr X(SCRATCH), [X(VMCTX), #VmCtx::WRITTEN_LEN]
                ; cmp X(ADDR), X(SCRATCH)
            );
            self.emit_branch(crate::masm::Cond::GeU, slow);
        } else {
            self.mov_imm(SCRATCH, check.fast_end());
            asm!(self.ops
                ; ldr W(ADDR), [X(VMCTX), #VmCtx::WRITTEN_START]
                ; sub W(ADDR), W(a), W(ADDR)
                ; add X(SCRATCH), X(SCRATCH), X(ADDR)
                ; ldr X(ADDR), [X(VMCTX), #VmCtx::WRITTEN_LEN]
                ; cmp X(SCRATCH), X(ADDR)
            );
            self.emit_branch(crate::masm::Cond::GtU, slow);
        }
        asm!(self.ops; =>back);
        self.store_slow_paths
            .push(StoreSlowPath { slow, back, check });
    }

    /// The slow paths of `emit_store_check`: x16 = addr + end and x17 = addr + from (the
    /// stored bytes), which is what the dirty-range stub expects, then back.
    pub(super) fn emit_store_slow_paths(&mut self) {
        for path in std::mem::take(&mut self.store_slow_paths) {
            let check = path.check;
            let a = check.addr.0;
            asm!(self.ops; =>path.slow);
            // The loads sharing the check come first: their length check (the stub's own
            // length check covers them when they end no further than the store).
            if let Some((loads_end, oob)) = check.loads_past_store() {
                self.emit_bounds_check(check.addr, loads_end, oob, false);
            }
            self.mov_imm(SCRATCH, check.end);
            asm!(self.ops; add XSP(SCRATCH), XSP(SCRATCH), W(a), uxtw);
            if check.from == 0 {
                asm!(self.ops; mov W(ADDR), W(a));
            } else {
                self.mov_imm(ADDR, check.from);
                asm!(self.ops; add XSP(ADDR), XSP(ADDR), W(a), uxtw);
            }
            asm!(self.ops
                ; bl =>check.widen
                ; b =>path.back
            );
        }
    }

    /// See `MacroAssembler::emit_dirty_range_stub` and `WrittenRanges::mark`, which this
    /// implements: x16 = the stored bytes' end, x17 = their start (from
    /// `emit_store_slow_paths`); x0 to x3 are saved around their use. Nothing is written
    /// to the vmctx before the charge succeeds, so out of gas leaves the ranges (and
    /// `VmCtx::write_gas`, which adds each charge) as they were.
    pub(super) fn emit_dirty_range_stub(&mut self, label: Label, oob: Label, out_of_gas: Label) {
        // The shifts by 12 below round to DIRTY_GRANULE; `#16, lsl #12` is WRITTEN_FAR.
        const _: () = assert!(DIRTY_GRANULE == 0x1000 && WRITTEN_FAR == 16 << 12);
        let spills = WRITTEN_SPILLS as u32;
        let spilled_end = VmCtx::WRITTEN_SPILLED + 8;
        let [charge, far, hull, done] = [(); 4].map(|_| self.ops.new_dynamic_label());
        asm!(self.ops
            ; =>label
            ; stp x0, x1, [sp, #-16]!
            ; ldr x0, [X(VMCTX), #VmCtx::MEMORY_LEN]
            ; cmp X(SCRATCH), x0
        );
        self.emit_branch(crate::masm::Cond::GtU, oob);
        asm!(self.ops
            // Round out: x17 = start of the store's first granule, x16 = end of its last
            // (start < end <= memory_len <= 2^32: no overflow, and never past the length,
            // a multiple of 64 KiB).
            ; lsr W(ADDR), W(ADDR), #12
            ; lsl W(ADDR), W(ADDR), #12
            ; add XSP(SCRATCH), XSP(SCRATCH), #0xfff
            ; lsr X(SCRATCH), X(SCRATCH), #12
            ; lsl X(SCRATCH), X(SCRATCH), #12
            ; stp x2, x3, [sp, #-16]!
            // x2 = the covered length this write adds to: 0 for a new range.
            ; ldr x1, [X(VMCTX), #VmCtx::WRITTEN_LEN]
            ; mov x2, x1
            ; cbz x1, =>charge
            // x0 = the current range's start, x1 = its end.
            ; ldr x0, [X(VMCTX), #VmCtx::WRITTEN_START]
            ; add x1, x1, x0
            ; add x2, x1, #16, lsl #12
            ; cmp X(ADDR), x2
            ; b.hi =>far
            ; add x2, XSP(SCRATCH), #16, lsl #12
            ; cmp x2, x0
            ; b.lo =>far
            ; =>hull
            ; cmp X(ADDR), x0
            ; csel X(ADDR), x0, X(ADDR), hi
            ; cmp X(SCRATCH), x1
            ; csel X(SCRATCH), x1, X(SCRATCH), lo
            ; ldr x2, [X(VMCTX), #VmCtx::WRITTEN_LEN]
            ; =>charge
            // The growth: the new length - x2.
            ; sub x2, X(SCRATCH), x2
            ; sub x2, x2, X(ADDR)
        );
        self.emit_write_charge(out_of_gas);
        asm!(self.ops
            ; b =>done
            ; =>far
            // A new range, if a spill slot is free: charge its whole length, then move
            // the current range to the slot.
            ; ldr x2, [X(VMCTX), #VmCtx::WRITTEN_SPILLED_COUNT]
            ; cmp x2, #spills
            ; b.hs =>hull
            ; sub x2, X(SCRATCH), X(ADDR)
        );
        self.emit_write_charge(out_of_gas);
        asm!(self.ops
            ; ldr x2, [X(VMCTX), #VmCtx::WRITTEN_SPILLED_COUNT]
            ; add x3, X(VMCTX), x2, lsl #4
            ; str x0, [x3, #VmCtx::WRITTEN_SPILLED]
            ; str x1, [x3, #spilled_end]
            ; add x2, x2, #1
            ; str x2, [X(VMCTX), #VmCtx::WRITTEN_SPILLED_COUNT]
            ; =>done
            ; ldp x2, x3, [sp], #16
            ; str X(ADDR), [X(VMCTX), #VmCtx::WRITTEN_START]
            ; sub X(SCRATCH), X(SCRATCH), X(ADDR)
            ; str X(SCRATCH), [X(VMCTX), #VmCtx::WRITTEN_LEN]
            ; ldp x0, x1, [sp], #16
            ; ret
        );
    }

    /// The dirty-range stub's charge of x2 bytes grown (x3 is scratch): `write_gas`
    /// (granules × price, below 2^52) off the gas register, to `out_of_gas` when it does
    /// not cover it, else added to `VmCtx::write_gas`.
    fn emit_write_charge(&mut self, out_of_gas: Label) {
        asm!(self.ops
            ; lsr x2, x2, #12
            ; ldr x3, [X(VMCTX), #VmCtx::WRITE_PRICE]
            ; mul x2, x2, x3
            ; subs X(GAS), X(GAS), x2
        );
        self.emit_branch(crate::masm::Cond::LtU, out_of_gas);
        asm!(self.ops
            ; ldr x3, [X(VMCTX), #VmCtx::WRITE_GAS]
            ; add x3, x3, x2
            ; str x3, [X(VMCTX), #VmCtx::WRITE_GAS]
        );
    }

    /// Unrolled for a few slots, a counted loop beyond (linear either way).
    pub(super) fn emit_zero_frame(&mut self, offset: i32, count: u32) {
        const UNROLL_LIMIT: u32 = 8;
        if count <= UNROLL_LIMIT {
            for i in 0..count as i32 {
                let o = offset + 8 * i;
                self.emit_store(
                    StoreWidth::B64,
                    Address::at(Base::Frame, o.into()),
                    Operand::Imm(0),
                );
            }
            return;
        }
        // x17 walks up from fp + offset, x16 counts down.
        self.add_const(ADDR, FP, offset.into());
        self.mov_imm(SCRATCH, count.into());
        let top = self.ops.new_dynamic_label();
        asm!(self.ops
            ; =>top
            ; str xzr, [X(ADDR)], #8
            ; subs X(SCRATCH), XSP(SCRATCH), #1
            ; b.ne =>top
        );
    }
}
