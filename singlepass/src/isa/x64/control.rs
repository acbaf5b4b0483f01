//! Labels, jumps, conditional branches and `br_table` jump tables.
//!
//! Every jump to a dynamic label is emitted in its rel32 form (dynasm's default for
//! label targets), so code of any size links and jump-table entries have a fixed width.

use dynasmrt::{DynasmApi, DynasmLabelApi};

use super::X64Masm;
use crate::masm::{Cond, Label, Reg};

/// Bytes of one jump-table entry (`jmp rel32`).
const TABLE_ENTRY_BYTES: usize = 5;

impl X64Masm {
    pub(super) fn emit_bind(&mut self, label: Label) {
        // A label between a compare and its branch: the compare cannot move past it.
        self.last_compare = None;
        // Code before a label is no longer the last thing emitted (folding a load).
        self.last_fp_load = None;
        self.last_int_load = None;
        self.load_then_check = None;
        self.last_fp_store = None;
        // Prefixes before code a branch lands after would move that code under the label.
        self.plain_run = super::placement::PlainRun::default();
        self.ops.dynamic_label(label);
    }

    pub(super) fn emit_jump(&mut self, label: Label) {
        asm!(self.ops; jmp =>label);
    }

    pub(super) fn emit_branch(&mut self, cond: Cond, label: Label) {
        if let Some((start, end)) = self.last_compare.take() {
            if end == self.ops.offset().0 {
                self.place_pair(start);
            }
        }
        match cond {
            Cond::Eq => asm!(self.ops; je =>label),
            Cond::Ne => asm!(self.ops; jne =>label),
            Cond::LtS => asm!(self.ops; jl =>label),
            Cond::LtU => asm!(self.ops; jb =>label),
            Cond::GtS => asm!(self.ops; jg =>label),
            Cond::GtU => asm!(self.ops; ja =>label),
            Cond::LeS => asm!(self.ops; jle =>label),
            Cond::LeU => asm!(self.ops; jbe =>label),
            Cond::GeS => asm!(self.ops; jge =>label),
            Cond::GeU => asm!(self.ops; jae =>label),
        }
    }

    /// Bounds check, then an indirect jump into a table of `jmp rel32` entries:
    /// `table + index * 5`. Code size and time are linear in `targets.len()`.
    pub(super) fn emit_jump_table(&mut self, index: Reg, targets: &[Label], default: Label) {
        if targets.is_empty() {
            self.emit_jump(default);
            return;
        }
        // br_table target counts are limited far below 2^31 by the metering profile.
        let len = targets.len() as u32 as i32;
        let i = index.0;
        let table = self.ops.new_dynamic_label();
        let start = self.ops.offset().0;
        asm!(self.ops; cmp Rd(i), DWORD len);
        self.place_pair(start);
        asm!(self.ops
            ; jae =>default
            // rcx = index * 5 (the index is a zero-extended u32).
            ; mov ecx, Rd(i)
            ; lea rcx, [rcx + rcx * 4]
            ; lea rax, [=>table]
            ; add rax, rcx
            ; jmp rax
            ; =>table
        );
        for &target in targets {
            let start = self.ops.offset().0;
            asm!(self.ops; jmp =>target);
            debug_assert_eq!(self.ops.offset().0 - start, TABLE_ENTRY_BYTES);
        }
    }
}
