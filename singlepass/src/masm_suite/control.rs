//! Calls between generated functions, jump tables and frames.

use super::*;
use crate::masm::{
    Address, AluOp, Base, Label, LoadKind, MacroAssembler, Operand, Reg, Size, StoreWidth,
};
use crate::{TrapKind, VmCtx};
pub fn wasm_calls_pass_params_and_results_and_keep_local_registers<H: Harness>() {
    let mut b = Builder::<H>::new();
    let callee = b.declare();
    // caller(a, b): L0/L1 hold values across the call; results (a+b, a*b) come back.
    let caller = b.func_with_frame(16, |m, b| {
        m.mov(Size::S64, Reg(H::L0), Operand::Imm(0x1111));
        m.mov(Size::S64, Reg(H::L1), Operand::Imm(0x2222));
        m.reserve_outgoing(16);
        m.mov(Size::S64, Reg(H::T0), Operand::Frame(slot(0)));
        m.store(
            StoreWidth::B64,
            Address::at(Base::Sp, 0),
            Operand::Reg(Reg(H::T0)),
        );
        m.mov(Size::S64, Reg(H::T0), Operand::Frame(slot(1)));
        m.store(
            StoreWidth::B64,
            Address::at(Base::Sp, 8),
            Operand::Reg(Reg(H::T0)),
        );
        m.call(b.funcs[callee]);
        m.load(LoadKind::I64, Reg(H::T0), Address::at(Base::Sp, 0));
        m.load(LoadKind::I64, Reg(H::T1), Address::at(Base::Sp, 8));
        m.release_outgoing(16);
        store_slot(m, 0, Operand::Reg(Reg(H::T0)));
        store_slot(m, 1, Operand::Reg(Reg(H::T1)));
        store_slot(m, 2, Operand::Reg(Reg(H::L0)));
        store_slot(m, 3, Operand::Reg(Reg(H::L1)));
    });
    b.define(callee, 0, |m, _| {
        m.mov(Size::S64, Reg(H::L0), Operand::Frame(slot(0)));
        m.mov(Size::S64, Reg(H::L1), Operand::Frame(slot(1)));
        m.alu(
            AluOp::Add,
            Size::S64,
            Reg(H::T0),
            Reg(H::L0),
            Operand::Reg(Reg(H::L1)),
        );
        m.alu(
            AluOp::Mul,
            Size::S64,
            Reg(H::T1),
            Reg(H::L0),
            Operand::Reg(Reg(H::L1)),
        );
        store_slot(m, 0, Operand::Reg(Reg(H::T0)));
        store_slot(m, 1, Operand::Reg(Reg(H::T1)));
    });
    // indirect(f, x): calls f(x, 3) through a register.
    let indirect = b.func(|m, _| {
        m.mov(Size::S64, Reg(H::T4), Operand::Frame(slot(0)));
        m.reserve_outgoing(16);
        m.mov(Size::S64, Reg(H::T0), Operand::Frame(slot(1)));
        m.store(
            StoreWidth::B64,
            Address::at(Base::Sp, 0),
            Operand::Reg(Reg(H::T0)),
        );
        m.store(StoreWidth::B64, Address::at(Base::Sp, 8), Operand::Imm(3));
        m.call_indirect(Reg(H::T4));
        m.load(LoadKind::I64, Reg(H::T0), Address::at(Base::Sp, 8));
        m.release_outgoing(16);
        store_slot(m, 0, Operand::Reg(Reg(H::T0)));
    });
    let module = b.build();
    let mut inst = module.instance();
    let (code, s) = inst.call(caller, &[6, 7]);
    assert_eq!(code, 0);
    assert_eq!(&s[..4], &[13, 42, 0x1111, 0x2222]);
    let f = inst.entry(callee);
    assert_eq!(inst.run(indirect, &[f, 14]), 42);
}

pub fn jump_tables_of_0_3_and_10000_targets<H: Harness>() {
    const DEFAULT: u64 = 999_999;
    let mut b = Builder::<H>::new();
    let mut funcs = Vec::new();
    for n in [0usize, 3, 10_000] {
        let f = b.func(|m, _| {
            let targets: Vec<Label> = (0..n).map(|_| m.new_label()).collect();
            let (default, end) = (m.new_label(), m.new_label());
            m.mov(Size::S32, Reg(H::T3), Operand::Frame(slot(0)));
            m.jump_table(Reg(H::T3), &targets, default);
            for (i, &t) in targets.iter().enumerate() {
                m.bind(t);
                store_slot(m, 0, Operand::Imm(i as i64 * 3));
                m.jump(end);
            }
            m.bind(default);
            store_slot(m, 0, Operand::Imm(DEFAULT as i64));
            m.bind(end);
        });
        funcs.push((n, f));
    }
    let module = b.build();
    let mut inst = module.instance();
    for (n, f) in funcs {
        let mut indices = vec![
            0u64,
            1,
            2,
            3,
            4,
            9_999,
            10_000,
            10_001,
            0x7fff_ffff,
            0x8000_0000,
            0xffff_ffff,
        ];
        indices.extend((0..n as u64).step_by(97));
        for idx in indices {
            let want = if (idx as usize) < n { idx * 3 } else { DEFAULT };
            assert_eq!(inst.run(f, &[idx]), want, "n={n} index {idx}");
        }
    }
}

pub fn zero_frame_small_and_large<H: Harness>() {
    let mut b = Builder::<H>::new();
    let mut funcs = Vec::new();
    for count in [1u32, 3, 8, 9, 50] {
        let extra = (count * 8 + 16).div_ceil(16) * 16;
        let f = b.func_with_frame(extra, |m, _| {
            // Slots -24 .. -24 - 8*(count+1): a sentinel at each end, garbage between.
            let lowest = -16 - extra as i32;
            let first = lowest + 8;
            m.mov(Size::S64, Reg(H::T0), Operand::Imm(-1));
            for i in 0..count as i32 + 2 {
                m.store(
                    StoreWidth::B64,
                    Address::at(Base::Frame, (lowest + 8 * i) as i64),
                    Operand::Reg(Reg(H::T0)),
                );
            }
            m.zero_frame(first, count);
            m.mov(Size::S64, Reg(H::T1), Operand::Imm(0));
            for i in 0..count as i32 {
                m.alu(
                    AluOp::Or,
                    Size::S64,
                    Reg(H::T1),
                    Reg(H::T1),
                    Operand::Frame(first + 8 * i),
                );
            }
            store_slot(m, 0, Operand::Reg(Reg(H::T1)));
            m.mov(Size::S64, Reg(H::T2), Operand::Frame(lowest));
            m.alu(
                AluOp::And,
                Size::S64,
                Reg(H::T2),
                Reg(H::T2),
                Operand::Frame(first + 8 * count as i32),
            );
            store_slot(m, 1, Operand::Reg(Reg(H::T2)));
        });
        funcs.push((count, f));
    }
    let module = b.build();
    let mut inst = module.instance();
    for (count, f) in funcs {
        let (code, s) = inst.call(f, &[]);
        assert_eq!((code, s[0], s[1]), (0, 0, u64::MAX), "count {count}");
    }
}

pub fn every_static_trap_stub_returns_its_code<H: Harness>() {
    let mut b = Builder::<H>::new();
    let funcs: Vec<(TrapKind, usize)> = TrapKind::ALL
        .iter()
        .map(|&kind| (kind, b.func(|m, b| m.jump(b.trap(kind)))))
        .collect();
    let module = b.build();
    let mut inst = module.instance();
    for (kind, f) in funcs {
        inst.set_gas(50);
        let (code, _) = inst.call(f, &[]);
        assert_eq!(code, kind.code());
        assert_eq!(inst.trap_code(), kind.code());
        let gas = if kind == TrapKind::OutOfGas { 0 } else { 50 };
        assert_eq!(inst.gas(), gas, "{kind:?}");
        assert_eq!(inst.get(VmCtx::SAVED_SP), 0);
    }
}
