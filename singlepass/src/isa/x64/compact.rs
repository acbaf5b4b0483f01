//! Short encodings dynasm cannot choose by itself.
//!
//! dynasm encodes a displacement that is only known at run time of the compiler (a frame
//! slot, a vmctx field offset held in a variable) as a 32-bit displacement. Frame and
//! vmctx accesses are most of the memory operands generated code has, and nearly all of
//! them fit a signed byte, so the common register forms are encoded here by hand with an
//! 8-bit displacement: 3 bytes shorter each, which shrinks code and speeds up both the
//! compiler (fewer bytes emitted) and the code (denser instruction cache).

use super::X64Masm;

/// `op reg, [base + disp]` / `op [base + disp], reg` forms with a ModRM `reg` field.
#[derive(Copy, Clone, Debug)]
pub(super) enum RegMem {
    /// `mov r32/r64, [m]` (8B).
    Load,
    /// `mov [m], r32/r64` (89).
    Store,
    /// `add r, [m]` (03).
    Add,
    /// `or r, [m]` (0B).
    Or,
    /// `and r, [m]` (23).
    And,
    /// `sub r, [m]` (2B).
    Sub,
    /// `xor r, [m]` (33).
    Xor,
    /// `cmp r, [m]` (3B).
    Cmp,
    /// `imul r, [m]` (0F AF).
    Imul,
}

impl RegMem {
    fn opcode(self) -> &'static [u8] {
        match self {
            RegMem::Load => &[0x8B],
            RegMem::Store => &[0x89],
            RegMem::Add => &[0x03],
            RegMem::Or => &[0x0B],
            RegMem::And => &[0x23],
            RegMem::Sub => &[0x2B],
            RegMem::Xor => &[0x33],
            RegMem::Cmp => &[0x3B],
            RegMem::Imul => &[0x0F, 0xAF],
        }
    }
}

impl X64Masm {
    /// Emits `op reg, [base + disp]` (64-bit operand size when `wide`) with an 8-bit
    /// displacement if `disp` fits one; returns false (emitting nothing) otherwise.
    /// Inline: the operation and operand size are constants at most call sites.
    #[inline]
    pub(super) fn try_reg_mem8(
        &mut self,
        op: RegMem,
        wide: bool,
        reg: u8,
        base: u8,
        disp: i32,
    ) -> bool {
        let Ok(disp8) = i8::try_from(disp) else {
            return false;
        };
        let rex = 0x40 | (u8::from(wide) << 3) | (((reg >> 3) & 1) << 2) | ((base >> 3) & 1);
        // The instruction (at most 7 bytes) is assembled in a register, first byte
        // lowest, and written with one store.
        let mut bytes = 0u64;
        let mut len = 0;
        let mut put = |byte: u8| {
            bytes |= u64::from(byte) << (8 * len);
            len += 1;
        };
        if rex != 0x40 {
            put(rex);
        }
        for &byte in op.opcode() {
            put(byte);
        }
        // mod = 01 (disp8); rm = base; rsp/r12 as a base need a SIB byte (no index).
        put(0x40 | ((reg & 7) << 3) | (base & 7));
        if base & 7 == 4 {
            put(0x24);
        }
        put(disp8 as u8);
        self.ops.push_le(bytes, len);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::masm::MacroAssembler;

    fn bytes(f: impl FnOnce(&mut X64Masm)) -> Vec<u8> {
        let mut masm = X64Masm::new();
        let start = masm.offset() as usize;
        f(&mut masm);
        let end = masm.offset() as usize;
        masm.emit_entry_trampoline();
        masm.finish().expect("assembles")[start..end].to_vec()
    }

    #[test]
    fn encodings_match_the_manual() {
        // mov rax, [rbp-8]
        assert_eq!(
            bytes(|m| assert!(m.try_reg_mem8(RegMem::Load, true, 0, 5, -8))),
            [0x48, 0x8B, 0x45, 0xF8]
        );
        // mov [r15+0x10], r13
        assert_eq!(
            bytes(|m| assert!(m.try_reg_mem8(RegMem::Store, true, 13, 15, 0x10))),
            [0x4D, 0x89, 0x6F, 0x10]
        );
        // mov esi, [rsp+8]
        assert_eq!(
            bytes(|m| assert!(m.try_reg_mem8(RegMem::Load, false, 6, 4, 8))),
            [0x8B, 0x74, 0x24, 0x08]
        );
        // imul r9d, [r12-1]
        assert_eq!(
            bytes(|m| assert!(m.try_reg_mem8(RegMem::Imul, false, 9, 12, -1))),
            [0x45, 0x0F, 0xAF, 0x4C, 0x24, 0xFF]
        );
        // out of range: nothing
        assert_eq!(
            bytes(|m| assert!(!m.try_reg_mem8(RegMem::Add, true, 0, 5, 128))),
            [] as [u8; 0]
        );
    }
}
