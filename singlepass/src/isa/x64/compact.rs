//! Short encodings dynasm cannot choose by itself.
//!
//! dynasm encodes a displacement that is only known at run time of the compiler (a frame
//! slot, a vmctx field offset held in a variable) as a 32-bit displacement. Frame and
//! vmctx accesses are most of the memory operands generated code has, and nearly all of
//! them fit a signed byte, so the common register forms are encoded here by hand with an
//! 8-bit displacement: 3 bytes shorter each, which shrinks code and speeds up both the
//! compiler (fewer bytes emitted) and the code (denser instruction cache).

use super::X64Masm;
use crate::masm::LoadKind;

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
    /// The opcode bytes, first byte lowest, and how many there are.
    #[inline(always)]
    fn opcode(self) -> (u64, u32) {
        match self {
            RegMem::Load => (0x8B, 1),
            RegMem::Store => (0x89, 1),
            RegMem::Add => (0x03, 1),
            RegMem::Or => (0x0B, 1),
            RegMem::And => (0x23, 1),
            RegMem::Sub => (0x2B, 1),
            RegMem::Xor => (0x33, 1),
            RegMem::Cmp => (0x3B, 1),
            RegMem::Imul => (0xAF0F, 2),
        }
    }
}

/// Two-operand integer operations on a register destination, in the forms dynasm writes
/// for them with registers chosen at run time: between registers `op r/m, r` (the
/// destination in the ModRM `rm` field; `cmp` is `cmp r, r/m`, the form dynasm lists
/// first), `op r/m, imm8` (`83 /ext`, when the constant fits a signed byte) and
/// `op r/m, imm32` (`81 /ext`; `cmp` always takes it), with a REX prefix always. dynasm
/// builds those bytes through its generic encoder; here they are assembled in a register
/// and written with one store, byte for byte the same
/// (`tests::register_forms_match_dynasm`).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(super) enum RegOp {
    Add,
    Or,
    And,
    Sub,
    Xor,
    Cmp,
}

impl RegOp {
    /// The ModRM `reg` field of the immediate forms (`/ext`).
    fn ext(self) -> u8 {
        match self {
            RegOp::Add => 0,
            RegOp::Or => 1,
            RegOp::And => 4,
            RegOp::Sub => 5,
            RegOp::Xor => 6,
            RegOp::Cmp => 7,
        }
    }
}

/// `mov r/m, r` (`89`): a register move as dynasm writes it.
pub(super) const MOV_RM_R: u8 = 0x89;
/// `test r/m, r` (`85`).
pub(super) const TEST_RM_R: u8 = 0x85;
/// `mov eax, ecx` as dynasm writes it (static registers: no REX prefix).
pub(super) const MOV_EAX_ECX: [u8; 2] = [0x89, 0xC8];

impl X64Masm {
    /// `opcode rm, reg` between two registers (64-bit when `wide`): a REX prefix, the
    /// opcode and a register-direct ModRM byte. The REX prefix is there even when it is
    /// a plain 0x40, as dynasm writes it for registers chosen at run time.
    #[inline]
    pub(super) fn reg_reg(&mut self, opcode: u8, wide: bool, rm: u8, reg: u8) {
        let rex = 0x40 | (u8::from(wide) << 3) | (((reg >> 3) & 1) << 2) | ((rm >> 3) & 1);
        let modrm = 0xC0 | ((reg & 7) << 3) | (rm & 7);
        let bytes = u64::from(rex) | (u64::from(opcode) << 8) | (u64::from(modrm) << 16);
        self.ops.push_le(bytes, 3);
    }

    /// `op dst, src` between two registers (64-bit when `wide`), see [`RegOp`].
    #[inline]
    pub(super) fn reg_op(&mut self, op: RegOp, wide: bool, dst: u8, src: u8) {
        match op {
            RegOp::Add => self.reg_reg(0x01, wide, dst, src),
            RegOp::Or => self.reg_reg(0x09, wide, dst, src),
            RegOp::And => self.reg_reg(0x21, wide, dst, src),
            RegOp::Sub => self.reg_reg(0x29, wide, dst, src),
            RegOp::Xor => self.reg_reg(0x31, wide, dst, src),
            // `cmp r, r/m`: the destination in the `reg` field.
            RegOp::Cmp => self.reg_reg(0x3B, wide, src, dst),
        }
    }

    /// `op rm, imm` (64-bit when `wide`, the immediate sign-extended): the imm8 form when
    /// `imm` fits a signed byte, else the imm32 one; a REX prefix always, as
    /// [`Self::reg_reg`].
    #[inline]
    pub(super) fn reg_imm(&mut self, op: RegOp, wide: bool, rm: u8, imm: i32) {
        let rex = u64::from(0x40 | (u8::from(wide) << 3) | ((rm >> 3) & 1));
        let modrm = u64::from(0xC0 | (op.ext() << 3) | (rm & 7));
        // dynasm lists `cmp`'s imm32 form before its imm8 one and takes the first that
        // matches: a byte constant too gets four bytes.
        match i8::try_from(imm).ok().filter(|_| op != RegOp::Cmp) {
            Some(byte) => {
                let bytes = rex | (0x83 << 8) | (modrm << 16) | (u64::from(byte as u8) << 24);
                self.ops.push_le(bytes, 4);
            }
            None => self.reg_imm32(op, wide, rm, imm),
        }
    }

    /// `op rm, imm32` (`81 /ext`, 64-bit when `wide`): the form dynasm writes for an
    /// immediate given as `DWORD` (the store checks' `add Rq(r), DWORD end`), a REX prefix
    /// always, as [`Self::reg_imm`].
    #[inline]
    pub(super) fn reg_imm32(&mut self, op: RegOp, wide: bool, rm: u8, imm: i32) {
        let rex = u64::from(0x40 | (u8::from(wide) << 3) | ((rm >> 3) & 1));
        let modrm = u64::from(0xC0 | (op.ext() << 3) | (rm & 7));
        let bytes = rex | (0x81 << 8) | (modrm << 16) | (u64::from(imm as u32) << 24);
        self.ops.push_le(bytes, 7);
    }

    /// `op reg, [r15 + disp]` (64-bit when `wide`) with `reg` and `disp` known when the
    /// compiler is built (`sub eax, DWORD [r15 + VmCtx::WRITTEN_START as i32]`), as dynasm
    /// writes it: REX (needed for r15), the opcode, ModRM mod = 10 and a 32-bit
    /// displacement (dynasm takes a constant expression's displacement as 32 bits). One
    /// store instead of dynasm's byte-by-byte pushes; the store checks' fast and slow paths
    /// read the vmctx's written range this way.
    #[inline(always)]
    pub(super) fn vmctx_op32(&mut self, op: RegMem, wide: bool, reg: u8, disp: i32) {
        const R15: u8 = 15;
        let rex = 0x41 | (u8::from(wide) << 3) | (((reg >> 3) & 1) << 2);
        let modrm = 0x80 | ((reg & 7) << 3) | (R15 & 7);
        let (opcode, opcode_len) = op.opcode();
        let tail = u64::from(modrm) | (u64::from(disp as u32) << 8);
        let bytes = u64::from(rex) | (opcode << 8) | (tail << (8 + 8 * opcode_len));
        self.ops.push_le(bytes, 6 + opcode_len as usize);
    }

    /// `lea Rq(dst), [Rq(base) + disp]` as dynasm writes it with registers and a
    /// displacement known only when the compiler runs: REX.W, `8D`, ModRM mod = 10 with a
    /// SIB byte always (index none), a 32-bit displacement; one store instead of dynasm's
    /// generic encoder (the length checks' `lea rax, [addr + end]`).
    #[inline]
    pub(super) fn lea_mem32(&mut self, dst: u8, base: u8, disp: i32) {
        let rex = 0x48 | (((dst >> 3) & 1) << 2) | ((base >> 3) & 1);
        let modrm = 0x84 | ((dst & 7) << 3);
        let sib = 0x20 | (base & 7);
        let head = u64::from(rex) | (0x8D << 8) | (u64::from(modrm) << 16) | (u64::from(sib) << 24);
        self.ops.push_le(head | (u64::from(disp as u32) << 32), 8);
    }

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
        self.reg_mem8(op, wide, reg, base, disp8);
        true
    }

    /// `op reg, [base + disp8]` (64-bit operand size when `wide`): a REX prefix only when
    /// one is needed, ModRM mod = 01, a SIB byte (no index) for an rsp/r12 base. Built
    /// without a loop or a branch on the length (a few shifts and conditional moves):
    /// most spills, reloads and outgoing-call arguments come here.
    #[inline(always)]
    pub(super) fn reg_mem8(&mut self, op: RegMem, wide: bool, reg: u8, base: u8, disp8: i8) {
        let rex =
            (u64::from(wide) << 3) | u64::from(((reg >> 3) & 1) << 2) | u64::from((base >> 3) & 1);
        let modrm = u64::from(0x40 | ((reg & 7) << 3) | (base & 7));
        let disp = u64::from(disp8 as u8);
        // ModRM, SIB if any, displacement.
        let (tail, tail_len) = if base & 7 == 4 {
            (modrm | (0x24 << 8) | (disp << 16), 3)
        } else {
            (modrm | (disp << 8), 2)
        };
        let (opcode, opcode_len) = op.opcode();
        let body = opcode | (tail << (8 * opcode_len));
        let len = opcode_len + tail_len;
        // The instruction (at most 7 bytes), first byte lowest, written with one store.
        let (bytes, len) = if rex != 0 {
            ((body << 8) | 0x40 | rex, len + 1)
        } else {
            (body, len)
        };
        self.ops.push_le(bytes, len as usize);
    }
}

/// The operand of a store dynasm's generic encoder used to write (see [`X64Masm::store_mem32`]).
#[derive(Copy, Clone, Debug)]
pub(super) enum StoreSrc {
    /// A register: `mov m, r` (`88`, `89`).
    Reg(u8),
    /// An immediate of the store's width (at most 32 bits; sign-extended for 64-bit
    /// stores): `mov m, imm` (`C6`, `C7`).
    Imm(i32),
}

impl X64Masm {
    /// `mov [base + index << scale + disp], src` of `bytes` (1, 2, 4 or 8) bytes, byte for
    /// byte as dynasm writes it when the registers and the displacement are known only when
    /// the compiler runs (`tests::stores_match_dynasm`): the operand-size prefix (0x66) for
    /// 16 bits, a REX prefix always (0x40 when empty: dynasm cannot tell at macro time
    /// whether a register needs one, and a byte register 4–7 must mean `spl`–`dil`), a
    /// 32-bit displacement always (ModRM mod = 10), a SIB byte always (index field 100,
    /// none, when there is no index register), then the immediate. Two stores into the
    /// code buffer instead of dynasm's generic encoder: the stores left after
    /// [`Self::reg_mem8`]'s (linear-memory accesses, immediates, long displacements) are
    /// ≈ 0.88 M of the corpus's ≈ 1.75 M.
    #[inline(always)]
    pub(super) fn store_mem32(
        &mut self,
        bytes: u8,
        base: u8,
        index: Option<(u8, u8)>,
        disp: i32,
        src: StoreSrc,
    ) {
        let (opcode, reg, imm, imm_len) = match src {
            StoreSrc::Reg(r) => (if bytes == 1 { 0x88u8 } else { 0x89 }, r, 0, 0),
            StoreSrc::Imm(i) => match bytes {
                1 => (0xC6, 0, u64::from(i as u8), 1),
                2 => (0xC7, 0, u64::from(i as u16), 2),
                _ => (0xC7, 0, u64::from(i as u32), 4),
            },
        };
        // Without an index, index field 100 (none).
        let (x, scale, i) = match index {
            Some((i, scale)) => ((i >> 3) & 1, scale, i & 7),
            None => (0, 0, 4),
        };
        let sib = (scale << 6) | (i << 3) | (base & 7);
        let rex = 0x40
            | (u8::from(bytes == 8) << 3)
            | (((reg >> 3) & 1) << 2)
            | (x << 1)
            | ((base >> 3) & 1);
        let modrm = 0x80 | ((reg & 7) << 3) | 4;
        // Prefixes, opcode, ModRM and SIB (at most 5 bytes), first byte lowest.
        let head = u64::from(rex)
            | (u64::from(opcode) << 8)
            | (u64::from(modrm) << 16)
            | (u64::from(sib) << 24);
        let (head, len) = if bytes == 2 {
            ((head << 8) | 0x66, 5)
        } else {
            (head, 4)
        };
        self.ops.push_le(head, len);
        self.ops
            .push_le(u64::from(disp as u32) | (imm << 32), 4 + imm_len);
    }
}

impl X64Masm {
    /// `mov`/`movzx`/`movsx`/`movsxd dst, [base + index << scale + disp]` for `kind`, byte
    /// for byte as dynasm writes it when the registers and the displacement are known only
    /// when the compiler runs (`tests::loads_match_dynasm`): a REX prefix always (REX.W
    /// for 64-bit results but the zero-extending ones, which write the 32-bit register), a
    /// 32-bit displacement always and a SIB byte always, as for [`Self::store_mem32`].
    /// Two stores into the code buffer instead of dynasm's generic encoder: the loads left
    /// after [`Self::reg_mem8`]'s (linear-memory accesses, sign- and zero-extending ones,
    /// long displacements).
    #[inline]
    pub(super) fn load_mem32(
        &mut self,
        kind: LoadKind,
        dst: u8,
        base: u8,
        index: Option<(u8, u8)>,
        disp: i32,
    ) {
        // The opcode bytes (first byte lowest), how many, and REX.W.
        let (opcode, opcode_len, wide): (u64, u32, bool) = match kind {
            LoadKind::I32 | LoadKind::I64From32U => (0x8B, 1, false),
            LoadKind::I64 => (0x8B, 1, true),
            LoadKind::I64From32S => (0x63, 1, true),
            LoadKind::I32From8S => (0xBE0F, 2, false),
            LoadKind::I64From8S => (0xBE0F, 2, true),
            LoadKind::I32From8U | LoadKind::I64From8U => (0xB60F, 2, false),
            LoadKind::I32From16S => (0xBF0F, 2, false),
            LoadKind::I64From16S => (0xBF0F, 2, true),
            LoadKind::I32From16U | LoadKind::I64From16U => (0xB70F, 2, false),
        };
        // Without an index, index field 100 (none).
        let (x, scale, i) = match index {
            Some((i, scale)) => ((i >> 3) & 1, scale, i & 7),
            None => (0, 0, 4),
        };
        let sib = (scale << 6) | (i << 3) | (base & 7);
        let rex =
            0x40 | (u8::from(wide) << 3) | (((dst >> 3) & 1) << 2) | (x << 1) | ((base >> 3) & 1);
        let modrm = 0x80 | ((dst & 7) << 3) | 4;
        // REX, opcode, ModRM and SIB (at most 5 bytes), first byte lowest.
        let tail = u64::from(modrm) | (u64::from(sib) << 8);
        let head = u64::from(rex) | (opcode << 8) | (tail << (8 + 8 * opcode_len));
        self.ops.push_le(head, 3 + opcode_len as usize);
        self.ops.push_le(u64::from(disp as u32), 4);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::masm::MacroAssembler;
    use dynasmrt::DynasmApi;

    fn bytes(f: impl FnOnce(&mut X64Masm)) -> Vec<u8> {
        let mut masm = X64Masm::new();
        let start = masm.offset() as usize;
        f(&mut masm);
        let end = masm.offset() as usize;
        masm.emit_entry_trampoline();
        masm.finish().expect("assembles")[start..end].to_vec()
    }

    #[test]
    fn register_forms_match_dynasm() {
        use super::super::regs::fits_i32;
        use crate::isa::x64::alu::Src;
        use crate::masm::Size;
        let ops = [
            RegOp::Add,
            RegOp::Or,
            RegOp::And,
            RegOp::Sub,
            RegOp::Xor,
            RegOp::Cmp,
        ];
        let imms = [
            0,
            1,
            -1,
            127,
            -128,
            128,
            -129,
            0x1234_5678,
            i32::MIN,
            i32::MAX,
        ];
        assert!(imms.iter().all(|&i| fits_i32(i.into())));
        for size in [Size::S32, Size::S64] {
            let wide = size == Size::S64;
            for d in 0..16u8 {
                for s in 0..16u8 {
                    let src = Src::Reg(s);
                    for op in ops {
                        assert_eq!(
                            bytes(|m| m.reg_op(op, wide, d, s)),
                            bytes(|m| m.dynasm_regop(op, size, d, src)),
                            "{op:?} {size:?} {d} {s}"
                        );
                    }
                    assert_eq!(
                        bytes(|m| m.reg_reg(MOV_RM_R, wide, d, s)),
                        bytes(|m| match size {
                            Size::S32 => asm!(m.ops; mov Rd(d), Rd(s)),
                            Size::S64 => asm!(m.ops; mov Rq(d), Rq(s)),
                        }),
                        "mov {size:?} {d} {s}"
                    );
                    assert_eq!(
                        bytes(|m| m.reg_reg(TEST_RM_R, wide, d, s)),
                        bytes(|m| match size {
                            Size::S32 => asm!(m.ops; test Rd(d), Rd(s)),
                            Size::S64 => asm!(m.ops; test Rq(d), Rq(s)),
                        }),
                        "test {size:?} {d} {s}"
                    );
                }
                for imm in imms {
                    for op in ops {
                        assert_eq!(
                            bytes(|m| m.reg_imm(op, wide, d, imm)),
                            bytes(|m| m.dynasm_regop(op, size, d, Src::Imm(imm))),
                            "{op:?} {size:?} {d} {imm}"
                        );
                    }
                }
            }
        }
    }

    /// The store and length checks' hand-encoded forms (`emit_checked_store`,
    /// `emit_widening`, `emit_range_compare`, `add_u64`, `emit_bounds_check`) against
    /// dynasm's bytes for every register and edge
    /// immediates.
    #[test]
    fn store_check_forms_match_dynasm() {
        use super::super::regs::{RAX, RCX};
        use crate::vmctx::VmCtx;
        let imms = [0, 1, -1, 127, -128, 128, 0x1234_5678, i32::MIN, i32::MAX];
        for r in 0..16u8 {
            for imm in imms {
                assert_eq!(
                    bytes(|m| m.reg_imm32(RegOp::Add, true, r, imm)),
                    bytes(|m| asm!(m.ops; add Rq(r), DWORD imm)),
                    "add {r} {imm}"
                );
            }
            assert_eq!(
                bytes(|m| m.reg_reg(MOV_RM_R, false, RAX, r)),
                bytes(|m| asm!(m.ops; mov eax, Rd(r))),
                "mov eax {r}"
            );
            assert_eq!(
                bytes(|m| m.reg_reg(MOV_RM_R, false, RCX, r)),
                bytes(|m| asm!(m.ops; mov ecx, Rd(r))),
                "mov ecx {r}"
            );
        }
        assert_eq!(
            bytes(|m| m.vmctx_op32(RegMem::Sub, false, RAX, VmCtx::WRITTEN_START as i32)),
            bytes(|m| asm!(m.ops; sub eax, DWORD [r15 + VmCtx::WRITTEN_START as i32]))
        );
        assert_eq!(
            bytes(|m| m.vmctx_op32(RegMem::Cmp, true, RAX, VmCtx::WRITTEN_LEN as i32)),
            bytes(|m| asm!(m.ops; cmp rax, QWORD [r15 + VmCtx::WRITTEN_LEN as i32]))
        );
        assert_eq!(
            bytes(|m| m.vmctx_op32(RegMem::Cmp, true, RAX, VmCtx::MEMORY_LEN as i32)),
            bytes(|m| asm!(m.ops; cmp rax, QWORD [r15 + VmCtx::MEMORY_LEN as i32]))
        );
        assert_eq!(
            bytes(|m| m.ops.extend(MOV_EAX_ECX)),
            bytes(|m| asm!(m.ops; mov eax, ecx))
        );
        for disp in [0, 8, 0x7f, 0x80, -1, i32::MAX, i32::MIN] {
            for reg in 0..16u8 {
                assert_eq!(
                    bytes(|m| m.lea_mem32(RAX, reg, disp)),
                    bytes(|m| asm!(m.ops; lea rax, [Rq(reg) + disp])),
                    "lea rax {reg} {disp}"
                );
                for dst in 0..16u8 {
                    assert_eq!(
                        bytes(|m| m.lea_mem32(dst, reg, disp)),
                        bytes(|m| asm!(m.ops; lea Rq(dst), [Rq(reg) + disp])),
                        "lea {dst} {reg} {disp}"
                    );
                }
                assert_eq!(
                    bytes(|m| m.vmctx_op32(RegMem::Cmp, true, reg, VmCtx::MEMORY_LEN as i32)),
                    bytes(|m| asm!(m.ops; cmp Rq(reg), QWORD [r15 + VmCtx::MEMORY_LEN as i32])),
                    "cmp {reg} len"
                );
                for (op, wide) in [(RegMem::Sub, false), (RegMem::Cmp, true)] {
                    let ours = bytes(|m| m.vmctx_op32(op, wide, reg, disp));
                    let theirs = bytes(|m| match op {
                        RegMem::Sub => asm!(m.ops; sub Rd(reg), DWORD [r15 + disp]),
                        _ => asm!(m.ops; cmp Rq(reg), QWORD [r15 + disp]),
                    });
                    assert_eq!(ours, theirs, "{op:?} {reg} {disp}");
                }
            }
        }
    }

    #[test]
    fn stores_match_dynasm() {
        use crate::masm::StoreWidth;
        let disps = [0, 1, -1, 127, -128, 128, 0x1234_5678, i32::MIN, i32::MAX];
        let imms = [
            0,
            1,
            -1,
            127,
            -128,
            255,
            0x7FFF,
            -0x8000,
            0x1234_5678,
            -0x1234_5678,
        ];
        let indices = (0..16u8)
            .filter(|&i| i != 4)
            .flat_map(|i| (0..4u8).map(move |scale| Some((i, scale))))
            .chain([None]);
        // Every register and immediate at every index, scale and displacement.
        let mut cases = Vec::new();
        for index in indices {
            for disp in disps {
                for value in (0..16u8).map(Ok).chain(imms.iter().map(|&i| Err(i))) {
                    cases.push((index, disp, value));
                }
            }
        }
        for (width, bytes_) in [
            (StoreWidth::B8, 1),
            (StoreWidth::B16, 2),
            (StoreWidth::B32, 4),
            (StoreWidth::B64, 8),
        ] {
            for base in 0..16u8 {
                let ours = bytes(|m| {
                    for &(index, disp, value) in &cases {
                        let src = match value {
                            Ok(r) => StoreSrc::Reg(r),
                            Err(i) => StoreSrc::Imm(i as i32),
                        };
                        m.store_mem32(bytes_, base, index, disp, src);
                    }
                });
                let theirs = bytes(|m| {
                    for &(index, disp, value) in &cases {
                        m.dynasm_store(width, base, index, disp, value);
                    }
                });
                if ours != theirs {
                    // Name the first case that differs.
                    for &(index, disp, value) in &cases {
                        let src = match value {
                            Ok(r) => StoreSrc::Reg(r),
                            Err(i) => StoreSrc::Imm(i as i32),
                        };
                        assert_eq!(
                            bytes(|m| m.store_mem32(bytes_, base, index, disp, src)),
                            bytes(|m| m.dynasm_store(width, base, index, disp, value)),
                            "{width:?} base {base} index {index:?} disp {disp} {value:?}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn loads_match_dynasm() {
        let disps = [0, 1, -1, 127, -128, 128, 0x1234_5678, i32::MIN, i32::MAX];
        let indices: Vec<_> = (0..16u8)
            .filter(|&i| i != 4)
            .flat_map(|i| (0..4u8).map(move |scale| Some((i, scale))))
            .chain([None])
            .collect();
        for kind in LoadKind::ALL {
            for base in 0..16u8 {
                let cases = || {
                    indices.iter().flat_map(|&index| {
                        disps
                            .iter()
                            .flat_map(move |&disp| (0..16u8).map(move |dst| (index, disp, dst)))
                    })
                };
                let ours = bytes(|m| {
                    for (index, disp, dst) in cases() {
                        m.load_mem32(kind, dst, base, index, disp);
                    }
                });
                let theirs = bytes(|m| {
                    for (index, disp, dst) in cases() {
                        m.dynasm_load(kind, dst, base, index, disp);
                    }
                });
                if ours != theirs {
                    // Name the first case that differs.
                    for (index, disp, dst) in cases() {
                        assert_eq!(
                            bytes(|m| m.load_mem32(kind, dst, base, index, disp)),
                            bytes(|m| m.dynasm_load(kind, dst, base, index, disp)),
                            "{kind:?} dst {dst} base {base} index {index:?} disp {disp}"
                        );
                    }
                }
            }
        }
    }

    /// `op reg, [base + disp8]` assembled one byte at a time, in the order the manual
    /// lists them: what [`X64Masm::reg_mem8`]'s shifts must produce.
    fn reg_mem8_reference(op: RegMem, wide: bool, reg: u8, base: u8, disp: i8) -> Vec<u8> {
        let mut out = Vec::new();
        let rex = 0x40 | (u8::from(wide) << 3) | (((reg >> 3) & 1) << 2) | ((base >> 3) & 1);
        if rex != 0x40 {
            out.push(rex);
        }
        let (opcode, len) = op.opcode();
        out.extend_from_slice(&opcode.to_le_bytes()[..len as usize]);
        out.push(0x40 | ((reg & 7) << 3) | (base & 7));
        if base & 7 == 4 {
            out.push(0x24);
        }
        out.push(disp as u8);
        out
    }

    #[test]
    fn short_memory_forms_match_the_reference() {
        let ops = [
            RegMem::Load,
            RegMem::Store,
            RegMem::Add,
            RegMem::Or,
            RegMem::And,
            RegMem::Sub,
            RegMem::Xor,
            RegMem::Cmp,
            RegMem::Imul,
        ];
        for op in ops {
            for wide in [false, true] {
                for reg in 0..16u8 {
                    for base in 0..16u8 {
                        for disp in [0i8, 1, -1, 8, 127, -128] {
                            assert_eq!(
                                bytes(|m| m.reg_mem8(op, wide, reg, base, disp)),
                                reg_mem8_reference(op, wide, reg, base, disp),
                                "{op:?} {wide} {reg} {base} {disp}"
                            );
                        }
                    }
                }
            }
        }
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
