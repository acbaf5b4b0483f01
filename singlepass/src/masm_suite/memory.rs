//! Loads, stores, addressing modes, bounds checks and the written-range check.

use super::*;
use crate::masm::{
    Address, Base, LoadKind, MacroAssembler, Operand, Reg, Size, StoreCheck, StoreWidth,
};
use crate::{written, TrapKind, VmCtx};
fn expected_load(kind: LoadKind, bytes: &[u8]) -> u64 {
    let raw = |n: usize| {
        let mut b = [0u8; 8];
        b[..n].copy_from_slice(&bytes[..n]);
        u64::from_le_bytes(b)
    };
    match kind {
        LoadKind::I32 | LoadKind::I64From32U => raw(4),
        LoadKind::I64 => raw(8),
        LoadKind::I32From8S => raw(1) as i8 as i32 as u32 as u64,
        LoadKind::I32From8U | LoadKind::I64From8U => raw(1),
        LoadKind::I32From16S => raw(2) as i16 as i32 as u32 as u64,
        LoadKind::I32From16U | LoadKind::I64From16U => raw(2),
        LoadKind::I64From8S => raw(1) as i8 as i64 as u64,
        LoadKind::I64From16S => raw(2) as i16 as i64 as u64,
        LoadKind::I64From32S => raw(4) as i32 as i64 as u64,
    }
}

pub fn loads_from_linear_memory_every_kind<H: Harness>() {
    let mut b = Builder::<H>::new();
    let mut funcs = Vec::new();
    for kind in LoadKind::ALL {
        for disp in [0i64, 3, 0x1000] {
            for (d, i) in [(H::T1, H::T0), (H::T0, H::T0), (H::L1, H::L0)] {
                let f = b.func(|m, _| {
                    m.mov(Size::S32, Reg(i), Operand::Frame(slot(0)));
                    if d != i {
                        m.mov(Size::S64, Reg(d), Operand::Imm(-1));
                    }
                    m.load(
                        kind,
                        Reg(d),
                        Address {
                            base: Base::Memory,
                            index: Some((Reg(i), 0)),
                            disp,
                        },
                    );
                    store_slot(m, 0, Operand::Reg(Reg(d)));
                });
                funcs.push((kind, disp, f));
            }
        }
    }
    let module = b.build();
    let mut inst = module.instance();
    let bytes: Vec<u8> = (0..MEMORY_BYTES)
        .map(|i| (i as u8).wrapping_mul(37).wrapping_add(0x81))
        .collect();
    inst.write_memory(0, &bytes);
    for &(kind, disp, f) in &funcs {
        for addr in [0u64, 1, 5, 0x7f, 1000, MEMORY_BYTES as u64 - 0x1000 - 8] {
            let at = (addr as i64 + disp) as usize;
            let want = expected_load(kind, &bytes[at..]);
            assert_eq!(inst.run(f, &[addr]), want, "{kind:?} at {addr}+{disp}");
        }
    }
}

pub fn addressing_modes_scales_wide_displacements_and_other_bases<H: Harness>() {
    let mut b = Builder::<H>::new();
    // [reg + idx << scale + disp] for every scale.
    let scaled: Vec<(u8, usize)> = (0..4u8)
        .map(|scale| {
            let f = b.func(|m, _| {
                m.mov(Size::S64, Reg(H::L1), Operand::Frame(slot(0)));
                m.mov(Size::S64, Reg(H::T3), Operand::Frame(slot(1)));
                m.load(
                    LoadKind::I64,
                    Reg(H::T3),
                    Address {
                        base: Base::Reg(Reg(H::L1)),
                        index: Some((Reg(H::T3), scale)),
                        disp: 8,
                    },
                );
                store_slot(m, 0, Operand::Reg(Reg(H::T3)));
            });
            (scale, f)
        })
        .collect();
    // A displacement beyond i32 (the base is biased down by it).
    const WIDE: i64 = 0x9000_0000;
    let wide_load = b.func(|m, _| {
        m.mov(Size::S64, Reg(H::T0), Operand::Frame(slot(0)));
        m.load(
            LoadKind::I64,
            Reg(H::T1),
            Address::at(Base::Reg(Reg(H::T0)), WIDE),
        );
        m.store(
            StoreWidth::B64,
            Address::at(Base::Reg(Reg(H::T0)), WIDE + 8),
            Operand::Imm(0x55),
        );
        m.lea(Reg(H::T2), Address::at(Base::Reg(Reg(H::T0)), WIDE));
        store_slot(m, 0, Operand::Reg(Reg(H::T1)));
        store_slot(m, 1, Operand::Reg(Reg(H::T2)));
    });
    // vmctx fields, the memory base via lea, and sp-relative outgoing slots.
    let bases = b.func(|m, _| {
        m.load(
            LoadKind::I64,
            Reg(H::T0),
            Address::at(Base::Vmctx, VmCtx::MEMORY_LEN as i64),
        );
        store_slot(m, 0, Operand::Reg(Reg(H::T0)));
        m.lea(Reg(H::T1), Address::at(Base::Memory, 5));
        store_slot(m, 1, Operand::Reg(Reg(H::T1)));
        m.reserve_outgoing(16);
        m.store(StoreWidth::B64, Address::at(Base::Sp, 8), Operand::Imm(77));
        m.load(LoadKind::I64, Reg(H::T2), Address::at(Base::Sp, 8));
        m.release_outgoing(16);
        store_slot(m, 2, Operand::Reg(Reg(H::T2)));
    });
    let module = b.build();
    let mut inst = module.instance();
    let table: Vec<u64> = (0..64u64).map(|i| i * 0x0101_0101 + 3).collect();
    let table_bytes: Vec<u8> = table.iter().flat_map(|v| v.to_le_bytes()).collect();
    inst.write_memory(0x800, &table_bytes);
    for &(scale, f) in &scaled {
        for idx in [0u64, 1, 3] {
            let got = inst.run(f, &[inst.memory_address() + 0x800, idx]);
            let byte_off = 8 + (idx << scale) as usize;
            let want = u64::from_le_bytes(
                // The same bytes, read from a little-endian copy of `table`.
                table
                    .iter()
                    .flat_map(|v| v.to_le_bytes())
                    .collect::<Vec<u8>>()[byte_off..byte_off + 8]
                    .try_into()
                    .unwrap(),
            );
            assert_eq!(got, want, "scale {scale} idx {idx}");
        }
    }
    inst.write_memory(16, &0x1122_3344_5566_7788u64.to_le_bytes());
    let biased = (inst.memory_address() + 16).wrapping_sub(WIDE as u64);
    let (code, s) = inst.call(wide_load, &[biased]);
    assert_eq!(code, 0);
    assert_eq!(s[0], 0x1122_3344_5566_7788);
    assert_eq!(s[1], inst.memory_address() + 16);
    assert_eq!(inst.read_memory(24, 1)[0], 0x55);
    let (code, s) = inst.call(bases, &[]);
    assert_eq!(code, 0);
    assert_eq!(s[0], MEMORY_BYTES as u64);
    assert_eq!(s[1], inst.memory_address() + 5);
    assert_eq!(s[2], 77);
}

pub fn stores_every_width_and_source<H: Harness>() {
    let widths = [
        StoreWidth::B8,
        StoreWidth::B16,
        StoreWidth::B32,
        StoreWidth::B64,
    ];
    let value: u64 = 0x8899_aabb_ccdd_eeff;
    let mut b = Builder::<H>::new();
    let mut funcs = Vec::new();
    for width in widths {
        for src_kind in 0..4 {
            let f = b.func(|m, _| {
                m.mov(Size::S32, Reg(H::T1), Operand::Frame(slot(0)));
                let src = match src_kind {
                    0 => {
                        m.mov(Size::S64, Reg(H::T0), Operand::Frame(slot(1)));
                        Operand::Reg(Reg(H::T0))
                    }
                    1 => Operand::Frame(slot(1)),
                    2 => Operand::Imm(value as i64),
                    // A sign-extendable immediate (imm32 form for B64).
                    _ => Operand::Imm(-3),
                };
                m.store(
                    width,
                    Address {
                        base: Base::Memory,
                        index: Some((Reg(H::T1), 0)),
                        disp: 2,
                    },
                    src,
                );
            });
            funcs.push((width, src_kind, f));
        }
    }
    let module = b.build();
    let mut inst = module.instance();
    for &(width, src_kind, f) in &funcs {
        inst.write_memory(0, &[0x5a; 64]);
        inst.run(f, &[10, value]);
        let v = if src_kind == 3 { (-3i64) as u64 } else { value };
        let n = width.bytes() as usize;
        let mut want = [0x5au8; 64];
        want[12..12 + n].copy_from_slice(&v.to_le_bytes()[..n]);
        assert_eq!(
            &inst.read_memory(0, 64)[..],
            &want[..],
            "{width:?} src#{src_kind}"
        );
    }
}

pub fn bounds_check_at_the_memory_edge<H: Harness>() {
    let mut b = Builder::<H>::new();
    let mut funcs = Vec::new();
    // `aligned`: only for addresses that are multiples of `end`'s power of two (what
    // codegen knows when it asks for it, see `MacroAssembler::bounds_check`).
    let shapes = [
        (1u64, false),
        (8, false),
        (0x8000_0000, false),
        (1 << 32, false),
        ((1 << 32) + 8, false),
        (1, true),
        (4, true),
        (8, true),
        (4096, true),
    ];
    for (end, aligned) in shapes {
        let f = b.func(|m, b| {
            m.mov(Size::S32, Reg(H::T0), Operand::Frame(slot(0)));
            m.bounds_check(
                Reg(H::T0),
                end,
                b.trap(TrapKind::MemoryOutOfBounds),
                aligned,
            );
            store_slot(m, 0, Operand::Imm(7));
        });
        funcs.push((end, aligned, f));
    }
    let module = b.build();
    let mut inst = module.instance();
    let len = MEMORY_BYTES as u64;
    for &(end, aligned, f) in &funcs {
        for addr in [
            0u64,
            1,
            len - 8,
            len - 7,
            len - 1,
            len,
            0x7fff_ffff,
            0xffff_ffff,
            len - 4096,
            len + 4096,
            0xffff_f000,
        ] {
            if aligned && !addr.is_multiple_of(end) {
                continue;
            }
            let (code, s) = inst.call(f, &[addr]);
            if addr + end <= len {
                assert_eq!((code, s[0]), (0, 7), "addr {addr:#x} end {end:#x}");
            } else {
                assert_eq!(
                    code,
                    TrapKind::MemoryOutOfBounds.code(),
                    "addr {addr:#x} end {end:#x}"
                );
                assert_eq!(inst.trap_code(), code);
            }
        }
    }
}

pub fn store_check_widens_the_written_ranges_charges_or_traps<H: Harness>() {
    let mut b = Builder::<H>::new();
    // f(addr): T1 holds a value across the check, which must survive the stub call.
    // (from, end): the stored bytes past the address; loads: the end of loads sharing
    // the check (`load_window`), 0 for none.
    let shapes = [
        (0u64, 8u64, 0u64, false),
        (0, 1, 0, false),
        (4996, 5004, 0, false),
        (70_000, 70_008, 0, false),
        ((1 << 31) + 5, (1 << 31) + 6, 0, false),
        (0, (1 << 32) + 8, 0, false),
        (1 << 32, (1 << 32) + 8, 0, false),
        (24, 32, 32, false),
        (24, 32, 40, false),
        (32, 40, 16, false),
        (4996, 5004, 70_008, false),
        (0, 8, (1 << 32) + 8, false),
        (0, 8, 9, false),
        (0, 1, 8, false),
        // `aligned`: for addresses that are multiples of the power of two at or above
        // `max(end, loads)` (see `MacroAssembler::store_check`).
        (0, 8, 0, true),
        (0, 1, 0, true),
        (4, 8, 0, true),
        (0, 8, 8, true),
        (0, 4, 8, true),
        (0, 4096, 0, true),
    ];
    let funcs: Vec<usize> = shapes
        .iter()
        .map(|&(from, end, loads_end, aligned)| {
            b.func(|m, b| {
                m.mov(Size::S64, Reg(H::T1), Operand::Imm(0x5eed));
                m.mov(Size::S32, Reg(H::T0), Operand::Frame(slot(0)));
                let loads =
                    (loads_end > 0).then(|| (loads_end, b.trap(TrapKind::MemoryOutOfBounds)));
                let check = StoreCheck {
                    addr: Reg(H::T0),
                    from,
                    end,
                    loads,
                    widen: b.dirty_range,
                };
                m.store_check(check, aligned);
                store_slot(m, 0, Operand::Reg(Reg(H::T1)));
            })
        })
        .collect();
    let module = b.build();
    let mut inst = module.instance();
    // Only the check and the stub read the length; the store goes to the frame.
    let memory_len = 4 << 20;
    inst.set(VmCtx::MEMORY_LEN, memory_len);
    let price = 30_011;
    inst.set(VmCtx::WRITE_PRICE, price.into());
    let (states, addrs) = written::check_cases(memory_len);
    let mut checked = 0;
    for before in &states {
        for (&(from, end, loads_end, aligned), &func) in shapes.iter().zip(&funcs) {
            let alignment = end.max(loads_end).next_power_of_two();
            let fits =
                |a: u64| a <= u64::from(u32::MAX) && (!aligned || a.is_multiple_of(alignment));
            for &addr in addrs.iter().filter(|&&a| fits(a)) {
                // With plenty of gas, then with exactly the charge and one less.
                let plenty = written::check_effect_after_loads(
                    before,
                    addr,
                    from,
                    end,
                    loads_end,
                    memory_len,
                    price,
                    u64::MAX,
                );
                let charge = plenty.map_or(0, |(_, left)| u64::MAX - left);
                let mut gases = vec![u64::MAX, charge];
                if charge > 0 {
                    gases.push(charge - 1);
                }
                for gas in gases {
                    inst.set_written(before);
                    inst.set_gas(gas);
                    inst.set(VmCtx::WRITE_GAS, 5);
                    let (code, slots) = inst.call(func, &[addr]);
                    let case = format!(
                        "{before:?} addr {addr} from {from} end {end} loads {loads_end} gas {gas}"
                    );
                    let expected = written::check_effect_after_loads(
                        before, addr, from, end, loads_end, memory_len, price, gas,
                    );
                    match expected {
                        Ok((after, left)) => {
                            assert_eq!(code, 0, "{case}");
                            assert_eq!(slots[0], 0x5eed, "{case}: T1 survives");
                            assert_eq!(inst.written(), after, "{case}");
                            assert_eq!(inst.gas(), left, "{case}");
                            assert_eq!(inst.get(VmCtx::WRITE_GAS), 5 + (gas - left), "{case}");
                        }
                        Err(kind) => {
                            assert_eq!(code, kind.code(), "{case}");
                            assert_eq!(inst.written(), *before, "{case}: unchanged by a trap");
                            assert_eq!(inst.get(VmCtx::WRITE_GAS), 5, "{case}");
                            if kind == TrapKind::OutOfGas {
                                assert_eq!(inst.gas(), 0, "{case}");
                            }
                        }
                    }
                    checked += 1;
                }
            }
        }
    }
    assert!(checked > 1000, "{checked} cases");
}
