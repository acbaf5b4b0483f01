//! Golden disassembly of a handful of MacroAssembler operations, checked with
//! `aarch64-linux-gnu-objdump` (package `binutils-aarch64-linux-gnu`; the test skips
//! itself when the tool is absent). Catches encoding mistakes before anything runs.

use std::process::Command;

use gasket_singlepass::isa_testing::A64Masm;
use gasket_singlepass::masm::{
    Address, AluOp, Base, BitOp, Cond, FloatBinOp, FloatCmp, FloatSize, FloatUnOp, IntFloat,
    LoadKind, MacroAssembler, Operand, Reg, ShiftOp, Size, StoreWidth, TruncMode,
};

const OBJDUMP: &str = "aarch64-linux-gnu-objdump";

/// Disassembles `code` (offset 0), one "mnemonic operands" string per instruction.
fn disassemble(code: &[u8]) -> Option<Vec<String>> {
    let dir = std::env::temp_dir().join(format!("gasket-a64-disasm-{}", std::process::id()));
    std::fs::create_dir_all(&dir).ok()?;
    let path = dir.join(format!(
        "{:x}.bin",
        code.len() ^ code.iter().map(|&b| b as usize).sum::<usize>()
    ));
    std::fs::write(&path, code).ok()?;
    let out = Command::new(OBJDUMP)
        .args(["-D", "-b", "binary", "-m", "aarch64"])
        .arg(&path)
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    Some(
        text.lines()
            .filter_map(|line| {
                // "   0:	d2800010 	mov	x16, #0x0                   	// #0"
                let mut parts = line.splitn(3, '\t');
                let addr = parts.next()?;
                if !addr.trim_end().ends_with(':') {
                    return None;
                }
                let _hex = parts.next()?;
                let insn = parts.next()?;
                let insn = insn.split("//").next().unwrap_or(insn);
                Some(insn.split_whitespace().collect::<Vec<_>>().join(" "))
            })
            .collect(),
    )
}

fn check(name: &str, emit: impl FnOnce(&mut A64Masm), want: &[&str]) {
    let mut m = A64Masm::new();
    emit(&mut m);
    let code = m.finish().expect("finish");
    let Some(got) = disassemble(&code) else {
        eprintln!("skipping {name}: {OBJDUMP} not available");
        return;
    };
    assert_eq!(got, want, "{name}");
}

const X9: Reg = Reg(9);
const X10: Reg = Reg(10);
const X19: Reg = Reg(19);

#[test]
fn golden_alu_and_moves() {
    check(
        "alu",
        |m| {
            m.alu(AluOp::Add, Size::S32, X9, X10, Operand::Imm(5));
            m.alu(AluOp::Sub, Size::S64, X9, X10, Operand::Imm(-7));
            m.alu(AluOp::And, Size::S64, X9, X10, Operand::Imm(0xff));
            m.alu(AluOp::Mul, Size::S64, X9, X9, Operand::Reg(X19));
            m.mov(Size::S64, X9, Operand::Imm(0x1234_0000_5678));
            m.mov(Size::S64, X9, Operand::Imm(-2));
            m.mov(Size::S32, X9, Operand::Frame(16));
            m.shift(ShiftOp::Rotl, Size::S32, X9, X10, Operand::Imm(3));
            m.bit_count(BitOp::Popcnt, Size::S64, X9, X10);
        },
        &[
            "add w9, w10, #0x5",
            "add x9, x10, #0x7",
            "and x9, x10, #0xff",
            "mul x9, x9, x19",
            "mov x9, #0x5678",
            "movk x9, #0x1234, lsl #32",
            "mov x9, #0xfffffffffffffffe",
            "ldr w9, [x29, #16]",
            "ror w9, w10, #29",
            "fmov d16, x10",
            "cnt v16.8b, v16.8b",
            "addv b16, v16.8b",
            "fmov w9, s16",
        ],
    );
}

#[test]
fn golden_memory_and_compare() {
    check(
        "memory",
        |m| {
            m.load(
                LoadKind::I64From16S,
                X9,
                Address {
                    base: Base::Memory,
                    index: Some((X10, 0)),
                    disp: 0,
                },
            );
            m.store(
                StoreWidth::B32,
                Address {
                    base: Base::Memory,
                    index: Some((X10, 0)),
                    disp: 0x1_0000,
                },
                Operand::Reg(X9),
            );
            m.store(
                StoreWidth::B64,
                Address::at(Base::Frame, -24),
                Operand::Imm(0),
            );
            m.cmp(Size::S64, X9, Operand::Imm(-1));
            m.set_cond(Cond::LeU, X9);
            m.cmov(Cond::GtS, Size::S32, X9, X10);
        },
        &[
            "ldrsh x9, [x27, w10, uxtw]",
            "mov x17, #0x10000",
            "add x17, x17, w10, uxtw",
            "str w9, [x27, x17]",
            "stur xzr, [x29, #-24]",
            "cmn x9, #0x1",
            "cset w9, ls",
            "csel w9, w10, w9, gt",
        ],
    );
}

#[test]
fn golden_prologue_epilogue() {
    check(
        "frame",
        |m| {
            let patch = m.prologue(2);
            m.epilogue(2);
            m.patch_frame(patch, 0x12_3450);
            m.reserve_outgoing(32);
            m.release_outgoing(32);
        },
        &[
            "stp x29, x30, [sp, #-16]!",
            "mov x29, sp",
            "mov x16, #0x3450",
            "movk x16, #0x12, lsl #16",
            "sub sp, sp, x16",
            "stur x19, [x29, #-8]",
            "stur x20, [x29, #-16]",
            "ldur x19, [x29, #-8]",
            "ldur x20, [x29, #-16]",
            "mov sp, x29",
            "ldp x29, x30, [sp], #16",
            "ret",
            "sub sp, sp, #0x20",
            "add sp, sp, #0x20",
        ],
    );
}

#[test]
fn golden_float_ops() {
    check(
        "float",
        |m| {
            m.float_binop(FloatBinOp::Min, FloatSize::F64, X9, X10, X19, true);
            m.float_unop(FloatUnOp::Nearest, FloatSize::F32, X9, X9, true);
            m.float_cmp(FloatCmp::Le, FloatSize::F64, X9, X10, X9);
            m.float_resize(FloatSize::F32, X9, X10, true);
            let conv = |int, float, signed| IntFloat { int, float, signed };
            m.int_to_float(conv(Size::S32, FloatSize::F64, false), X9, X10);
            m.float_to_int(
                conv(Size::S32, FloatSize::F64, true),
                X9,
                X10,
                TruncMode::Saturate,
            );
        },
        &[
            "fmov d30, x10",
            "fmov d31, x19",
            "fmin d30, d30, d31",
            "fmov x9, d30",
            "fmov s30, w9",
            "frintn s30, s30",
            "fmov w9, s30",
            "fmov d30, x10",
            "fmov d31, x9",
            "fcmp d30, d31",
            "cset w9, ls",
            "fmov d30, x10",
            "fcvt s30, d30",
            "fmov w9, s30",
            "ucvtf d30, w10",
            "fmov x9, d30",
            "fmov d30, x10",
            "fcvtzs w9, d30",
        ],
    );
}

#[test]
fn golden_trapping_truncation() {
    // f32 -> u32: NaN check, then -1 < x < 2^32 with far branches to the trap labels.
    check(
        "trunc",
        |m| {
            let (nan, overflow) = (m.new_label(), m.new_label());
            let conv = IntFloat {
                int: Size::S32,
                float: FloatSize::F32,
                signed: false,
            };
            m.float_to_int(conv, X9, X10, TruncMode::Trap { nan, overflow });
            m.bind(nan);
            m.bind(overflow);
        },
        &[
            "fmov s30, w10",
            "fcmp s30, s30",
            "b.eq 0x10",
            "b 0x3c",
            "mov x16, #0xbf800000",
            "fmov s17, w16",
            "fcmp s30, s17",
            "b.gt 0x24",
            "b 0x3c",
            "mov x16, #0x4f800000",
            "fmov s17, w16",
            "fcmp s30, s17",
            "b.lt 0x38",
            "b 0x3c",
            "fcvtzu w9, s30",
        ],
    );
}

#[test]
fn golden_trampoline_float_mode() {
    // The host FPCR is pushed with the old saved_sp and restored at the common exit.
    let mut m = A64Masm::new();
    m.emit_entry_trampoline();
    let code = m.finish().expect("finish");
    let Some(got) = disassemble(&code) else {
        eprintln!("skipping trampoline: {OBJDUMP} not available");
        return;
    };
    let find = |s: &str| {
        got.iter()
            .position(|g| g == s)
            .unwrap_or_else(|| panic!("{s}: {got:?}"))
    };
    let save = find("mrs x17, fpcr");
    assert_eq!(got[save + 1], "stp x16, x17, [sp, #-16]!");
    assert_eq!(got[save + 2], "mov x17, #0x2000000");
    assert_eq!(got[save + 3], "msr fpcr, x17");
    let restore = find("msr fpcr, x17") + 1;
    let restore = restore
        + got[restore..]
            .iter()
            .position(|g| g == "msr fpcr, x17")
            .unwrap();
    assert_eq!(got[restore - 2], "ldp x16, x17, [sp], #16");
}
