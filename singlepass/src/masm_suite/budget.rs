//! The gas and stack budgets: charges down to zero, the stack check, grant and overflow.

use super::*;
use crate::masm::{Address, Base, LoadKind, MacroAssembler, Operand, Reg, Size, StoreWidth};
use crate::{TrapKind, VmCtx, STACK_GRANT_UNITS};
pub fn gas_charges_down_to_zero_and_traps_one_below<H: Harness>() {
    let mut b = Builder::<H>::new();
    let imm = |amount: u64| {
        move |m: &mut H::Masm, b: &Builder<H>| {
            m.charge_gas(Operand::Imm(amount as i64), b.trap(TrapKind::OutOfGas));
        }
    };
    let small = b.func(imm(10));
    let wide = b.func(imm(1 << 40));
    let max = b.func(imm(u64::MAX));
    let reg = b.func(|m, b| {
        m.mov(Size::S64, Reg(H::L0), Operand::Frame(slot(0)));
        m.charge_gas(Operand::Reg(Reg(H::L0)), b.trap(TrapKind::OutOfGas));
    });
    // Charge, flush, observe the vmctx copy, reload after changing it.
    let flush = b.func(|m, b| {
        m.charge_gas(Operand::Imm(5), b.trap(TrapKind::OutOfGas));
        m.flush_gas();
        m.load(
            LoadKind::I64,
            Reg(H::T0),
            Address::at(Base::Vmctx, VmCtx::GAS_REMAINING as i64),
        );
        store_slot(m, 0, Operand::Reg(Reg(H::T0)));
        m.store(
            StoreWidth::B64,
            Address::at(Base::Vmctx, VmCtx::GAS_REMAINING as i64),
            Operand::Imm(1000),
        );
        m.reload_gas();
    });
    let module = b.build();
    let mut inst = module.instance();
    let cases: [(usize, u64, &[u64]); 4] = [
        (small, 10, &[]),
        (wide, 1 << 40, &[]),
        (max, u64::MAX, &[]),
        (reg, 12345, &[12345]),
    ];
    for (f, amount, args) in cases {
        inst.set_gas(amount);
        let (code, _) = inst.call(f, args);
        assert_eq!((code, inst.gas()), (0, 0), "exactly {amount}");
        if let Some(more) = amount.checked_add(3) {
            inst.set_gas(more);
            assert_eq!(inst.call(f, args).0, 0);
            assert_eq!(inst.gas(), 3);
        }
        if amount > 0 {
            inst.set_gas(amount - 1);
            let (code, _) = inst.call(f, args);
            assert_eq!(code, TrapKind::OutOfGas.code(), "one below {amount}");
            assert_eq!(inst.gas(), 0);
            assert_eq!(inst.trap_code(), TrapKind::OutOfGas.code());
        }
    }
    inst.set_gas(100);
    assert_eq!(inst.run(flush, &[]), 95);
    assert_eq!(inst.gas(), 1000);
}

/// A function of `units` stack units: a frame of exactly 32 bytes per unit (the builder's
/// prologue saves two registers below the saved frame pointer and return address),
/// checked by `stack_enter`; with `callee`, it calls that function after the check.
fn framed<H: Harness>(b: &mut Builder<H>, units: u32, callee: Option<usize>) -> usize {
    b.func_with_frame(32 * (units - 1), |m, b| {
        m.stack_enter(b.stack_grant);
        if let Some(callee) = callee {
            m.call(b.funcs[callee]);
        }
    })
}

pub fn stack_budget_enter_grant_and_overflow<H: Harness>() {
    let mut b = Builder::<H>::new();
    let f = framed(&mut b, 5, None);
    let g = framed(&mut b, 3, Some(f));
    let module = b.build();
    let mut inst = module.instance();
    let set = |inst: &mut H::Instance, units: u64, reserve: u64| {
        inst.set(VmCtx::STACK_LIMIT, units);
        inst.set(VmCtx::STACK_RESERVE, reserve);
    };
    // Fits: no grant.
    set(&mut inst, 5, 0);
    assert_eq!(inst.call(f, &[]).0, 0);
    assert_eq!(inst.get(VmCtx::STACK_RESERVE), 0);
    set(&mut inst, 4, 0);
    assert_eq!(inst.call(f, &[]).0, TrapKind::StackOverflow.code());
    // Short by 3: the grant covers them and STACK_GRANT_UNITS more.
    set(&mut inst, 2, 300);
    assert_eq!(inst.call(f, &[]).0, 0);
    let grant = STACK_GRANT_UNITS;
    assert_eq!(inst.get(VmCtx::STACK_RESERVE), 300 - grant - 3);
    // The reserve covers exactly the deficit; one unit less overflows.
    set(&mut inst, 1, 4);
    assert_eq!(inst.call(f, &[]).0, 0);
    assert_eq!(inst.get(VmCtx::STACK_RESERVE), 0);
    set(&mut inst, 1, 3);
    assert_eq!(inst.call(f, &[]).0, TrapKind::StackOverflow.code());
    // Nested: the callee's check counts the caller's frame (3 + 5 units).
    set(&mut inst, 8, 0);
    assert_eq!(inst.call(g, &[]).0, 0);
    set(&mut inst, 7, 0);
    assert_eq!(inst.call(g, &[]).0, TrapKind::StackOverflow.code());
    set(&mut inst, 2, 0);
    assert_eq!(inst.call(g, &[]).0, TrapKind::StackOverflow.code());
    set(&mut inst, 7, 1);
    assert_eq!(inst.call(g, &[]).0, 0);
    assert_eq!(inst.get(VmCtx::STACK_RESERVE), 0);
    // A grant in the caller, then the callee fits in what it left.
    set(&mut inst, 2, 200);
    assert_eq!(inst.call(g, &[]).0, 0);
    assert_eq!(inst.get(VmCtx::STACK_RESERVE), 200 - grant - 1);
    // More units than the stack has addresses: the trampoline saturates the limit at 0.
    set(&mut inst, u64::MAX, 0);
    assert_eq!(inst.call(g, &[]).0, 0);
}
