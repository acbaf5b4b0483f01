//! Labels, jumps, conditional branches and `br_table` jump tables.
//!
//! `b.cond` reaches only ±1 MiB, and a single wasm function may be larger than that, so
//! every conditional branch to a label is emitted as `b.!cond skip; b label; skip:`
//! (`b` reaches ±128 MiB). It costs one instruction per branch and needs no
//! relaxation pass; the not-taken path (the common one for traps and gas) falls through
//! a predicted-not-taken `b.cond`. Jump-table entries are `b label` (4 bytes each).

use dynasmrt::{DynasmApi, DynasmLabelApi};

use super::alu::add_imm12;
use super::regs::SCRATCH;
use super::A64Masm;
use crate::masm::{Cond, Label, Reg, Size};

/// Bytes of one jump-table entry (`b label`).
const TABLE_ENTRY_BYTES: usize = 4;

impl A64Masm {
    pub(super) fn emit_bind(&mut self, label: Label) {
        self.ops.dynamic_label(label);
    }

    pub(super) fn emit_jump(&mut self, label: Label) {
        asm!(self.ops; b =>label);
    }

    /// `b.!cond skip; b label; skip:` (see the module docs).
    pub(super) fn emit_branch(&mut self, cond: Cond, label: Label) {
        let skip = self.ops.new_dynamic_label();
        match cond.invert() {
            Cond::Eq => asm!(self.ops; b.eq =>skip),
            Cond::Ne => asm!(self.ops; b.ne =>skip),
            Cond::LtS => asm!(self.ops; b.lt =>skip),
            Cond::LtU => asm!(self.ops; b.lo =>skip),
            Cond::GtS => asm!(self.ops; b.gt =>skip),
            Cond::GtU => asm!(self.ops; b.hi =>skip),
            Cond::LeS => asm!(self.ops; b.le =>skip),
            Cond::LeU => asm!(self.ops; b.ls =>skip),
            Cond::GeS => asm!(self.ops; b.ge =>skip),
            Cond::GeU => asm!(self.ops; b.hs =>skip),
        }
        asm!(self.ops
            ; b =>label
            ; =>skip
        );
    }

    /// Bounds check, then an indirect jump into a table of `b label` entries:
    /// `table + index * 4`. Code size and time are linear in `targets.len()`.
    pub(super) fn emit_jump_table(&mut self, index: Reg, targets: &[Label], default: Label) {
        if targets.is_empty() {
            self.emit_jump(default);
            return;
        }
        // br_table target counts are limited far below 2^31 by the metering profile.
        let len = targets.len() as u32;
        let i = index.0;
        match add_imm12(Size::S32, len.into()) {
            Some((imm, false)) => asm!(self.ops; cmp WSP(i), #imm),
            _ => {
                self.mov_imm(SCRATCH, len.into());
                asm!(self.ops; cmp W(i), W(SCRATCH));
            }
        }
        self.emit_branch(Cond::GeU, default);
        let table = self.ops.new_dynamic_label();
        asm!(self.ops
            ; adr X(SCRATCH), =>table
            ; add XSP(SCRATCH), XSP(SCRATCH), W(i), uxtw #2
            ; br X(SCRATCH)
            ; =>table
        );
        for &target in targets {
            let start = self.ops.offset().0;
            asm!(self.ops; b =>target);
            debug_assert_eq!(self.ops.offset().0 - start, TABLE_ENTRY_BYTES);
        }
    }
}
