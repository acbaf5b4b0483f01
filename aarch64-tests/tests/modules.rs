//! Whole modules compiled with `compile(wasm, Target::Aarch64)` and run in Unicorn by a
//! small runtime of this file's own: code, vmctx (globals, funcrefs, tables, libcalls),
//! linear memory with data segments, `memory.grow` as a host hook. The modules call the
//! `gasket` intrinsics themselves (as the metering pass would inject them), so the gas
//! and stack accounting is checked exactly.

use gasket_aarch64_tests::{Machine, CODE, MEMORY, MEMORY_MAPPED, VMCTX};
use gasket_singlepass::{
    compile, Artifact, ConstExpr, ConstOp, ElementMode, ExportKind, FuncRef, Libcall, TableDef,
    Target, TrapKind, VmCtx,
};

const PAGE: u64 = 0x1_0000;
/// Where this runtime puts the funcref array, the table descriptors and table elements
/// inside the emulated vmctx region.
const FUNCREFS: u64 = VMCTX + 0x4000;
const TABLES: u64 = VMCTX + 0x8000;
const ELEMENTS: u64 = VMCTX + 0x9000;

struct Instance {
    m: Machine,
    art: Artifact,
}

fn eval(expr: &ConstExpr) -> u64 {
    match expr.ops.as_slice() {
        [ConstOp::I32Const(v)] => *v as u32 as u64,
        [ConstOp::I64Const(v)] => *v as u64,
        other => panic!("this test runtime evaluates only constants, not {other:?}"),
    }
}

impl Instance {
    fn new(wat: &str) -> Instance {
        let wasm = wat::parse_str(wat).expect("wat");
        let art = compile(&wasm, Target::Aarch64).expect("compile");
        assert_eq!(art.target, Target::Aarch64);
        let mut m = Machine::new(&art.code, art.entry_trampoline);
        let layout = &art.module;
        let (min, max) = layout.memory.map_or((0, 0), |mt| {
            (mt.min_pages, mt.max_pages.unwrap_or(u32::MAX))
        });
        m.set(VmCtx::MEMORY_LEN, u64::from(min) * PAGE);
        let max_bytes = (u64::from(max) * PAGE).min(MEMORY_MAPPED);
        m.set_libcall(Libcall::MemoryGrow, move |uc, a| {
            let mut b = [0u8; 8];
            uc.mem_read(VMCTX + u64::from(VmCtx::MEMORY_LEN), &mut b)
                .unwrap();
            let len = u64::from_le_bytes(b);
            let new = len + (a[1] as u32 as u64) * PAGE;
            if new > max_bytes {
                return u32::MAX.into();
            }
            uc.mem_write(VMCTX + u64::from(VmCtx::MEMORY_LEN), &new.to_le_bytes())
                .unwrap();
            len / PAGE
        });
        for (i, g) in layout.globals.iter().enumerate() {
            let value = g.init.as_ref().map_or(0, eval);
            m.write_u64(VMCTX + u64::from(VmCtx::global_offset(i as u32)), value);
        }
        for seg in &layout.data {
            if let Some(offset) = &seg.offset {
                m.write_memory(eval(offset), &seg.bytes);
            }
        }
        m.set(VmCtx::FUNCREFS, FUNCREFS);
        for (i, f) in art.functions.iter().enumerate() {
            let at = FUNCREFS + i as u64 * u64::from(FuncRef::SIZE);
            m.write_u64(
                at + u64::from(FuncRef::CODE),
                CODE + u64::from(f.code_offset),
            );
            m.write_u64(at + u64::from(FuncRef::TYPE_ID), f.type_id.into());
        }
        m.set(VmCtx::TABLES, TABLES);
        let mut next = ELEMENTS;
        let mut bases = Vec::new();
        for (i, t) in layout.tables.iter().enumerate() {
            let at = TABLES + i as u64 * u64::from(TableDef::SIZE);
            m.write_u64(at + u64::from(TableDef::BASE), next);
            m.write_u64(at + u64::from(TableDef::LEN), t.min.into());
            bases.push(next);
            next += 8 * u64::from(t.min);
        }
        for seg in &layout.elements {
            if let ElementMode::Active { table, offset } = &seg.mode {
                for (k, item) in seg.items.iter().enumerate() {
                    let value = match item.ops.as_slice() {
                        [ConstOp::RefFunc(f)] => {
                            FUNCREFS + u64::from(*f) * u64::from(FuncRef::SIZE)
                        }
                        _ => 0,
                    };
                    let slot = bases[*table as usize] + 8 * (eval(offset) + k as u64);
                    m.write_u64(slot, value);
                }
            }
        }
        Instance { m, art }
    }

    /// Calls export `name` with `gas` and a stack budget of `stack` units; returns the
    /// results (or the trap) and the gas left.
    fn call(
        &mut self,
        name: &str,
        args: &[u64],
        gas: u64,
        stack: u64,
    ) -> (Result<Vec<u64>, TrapKind>, u64) {
        let export = self
            .art
            .module
            .exports
            .iter()
            .find(|e| e.name == name && e.kind == ExportKind::Function)
            .unwrap_or_else(|| panic!("no export {name}"));
        let f = &self.art.functions[export.index as usize];
        let results = self.art.types[f.type_index as usize].results.len();
        self.m.set(VmCtx::GAS_REMAINING, gas);
        self.m.set(VmCtx::STACK_LIMIT, stack);
        self.m.set(VmCtx::TRAP_CODE, 0);
        let (code, slots) = self.m.call(f.code_offset, args);
        let gas_left = self.m.get(VmCtx::GAS_REMAINING);
        assert_eq!(self.m.get(VmCtx::SAVED_SP), 0);
        if code == 0 {
            (Ok(slots[..results].to_vec()), gas_left)
        } else {
            assert_eq!(self.m.trap_code(), code);
            (Err(TrapKind::from_code(code).expect("trap code")), gas_left)
        }
    }

    fn run(&mut self, name: &str, args: &[u64]) -> Vec<u64> {
        self.call(name, args, u64::MAX, 1 << 20).0.expect("no trap")
    }
}

const INTRINSICS: &str = r#"
    (import "gasket" "gas" (func $gas (param i64)))
    (import "gasket" "stack_enter" (func $stack_enter (param i32)))
    (import "gasket" "stack_leave" (func $stack_leave (param i32)))
"#;

fn module(body: &str) -> String {
    format!("(module {INTRINSICS} {body})")
}

#[test]
fn fib_recursive_with_exact_gas_and_stack() {
    // Each activation charges 3 gas and 5 stack units.
    let mut inst = Instance::new(&module(
        r#"
        (func $fib (export "fib") (param $n i32) (result i32)
            (local $r i32)
            (call $gas (i64.const 3))
            (call $stack_enter (i32.const 5))
            (if (i32.lt_u (local.get $n) (i32.const 2))
                (then (local.set $r (local.get $n)))
                (else (local.set $r (i32.add
                    (call $fib (i32.sub (local.get $n) (i32.const 1)))
                    (call $fib (i32.sub (local.get $n) (i32.const 2)))))))
            (call $stack_leave (i32.const 5))
            (local.get $r))
        "#,
    ));
    let fibs = [
        0u64, 1, 1, 2, 3, 5, 8, 13, 21, 34, 55, 89, 144, 233, 377, 610, 987, 1597, 2584, 4181, 6765,
    ];
    for (n, &want) in fibs.iter().enumerate() {
        let calls = 2 * fibs.get(n + 1).copied().unwrap_or(10946) - 1;
        let (r, left) = inst.call("fib", &[n as u64], 1_000_000, 1000);
        assert_eq!(r, Ok(vec![want]), "fib({n})");
        assert_eq!(1_000_000 - left, 3 * calls, "gas of fib({n})");
    }
    // Out of gas exactly at the limit, and one above is enough.
    let calls = 2 * 4181 - 1; // fib(18)
    let (r, left) = inst.call("fib", &[18], 3 * calls - 1, 1000);
    assert_eq!((r, left), (Err(TrapKind::OutOfGas), 0));
    let (r, left) = inst.call("fib", &[18], 3 * calls, 1000);
    assert_eq!((r, left), (Ok(vec![2584]), 0));
    // fib(20) nests 20 activations (n = 20 down to 1) of 5 units.
    assert_eq!(
        inst.call("fib", &[20], u64::MAX, 99).0,
        Err(TrapKind::StackOverflow)
    );
    assert_eq!(inst.call("fib", &[20], u64::MAX, 100).0, Ok(vec![6765]));
}

#[test]
fn loops_locals_and_i64_arithmetic() {
    let mut inst = Instance::new(&module(
        r#"
        (func (export "sum") (param $n i64) (result i64)
            (local $i i64) (local $acc i64) (local $x i64)
            (block $done
                (loop $top
                    (call $gas (i64.const 2))
                    (br_if $done (i64.ge_u (local.get $i) (local.get $n)))
                    (local.set $x (i64.mul (local.get $i) (i64.const 0x9e3779b97f4a7c15)))
                    (local.set $acc (i64.add (local.get $acc)
                        (i64.xor (i64.rotl (local.get $x) (local.get $i))
                                 (i64.shr_u (local.get $x) (i64.const 29)))))
                    (local.set $i (i64.add (local.get $i) (i64.const 1)))
                    (br $top)))
            (i64.add (local.get $acc) (i64.popcnt (local.get $acc))))
        (func (export "bits") (param i32) (result i32)
            (i32.add (i32.add (i32.clz (local.get 0)) (i32.ctz (local.get 0)))
                     (i32.mul (i32.popcnt (local.get 0)) (i32.const 100))))
        (func (export "divs") (param i64 i64) (result i64 i64 i64 i64)
            (i64.div_s (local.get 0) (local.get 1))
            (i64.rem_s (local.get 0) (local.get 1))
            (i64.div_u (local.get 0) (local.get 1))
            (i64.rem_u (local.get 0) (local.get 1)))
        (func (export "select") (param i32 i32 i32) (result i32)
            (select (local.get 0) (local.get 1) (i32.lt_s (local.get 2) (i32.const 0))))
        (func (export "switch") (param i32) (result i32)
            (block $d (block $c (block $b (block $a
                (br_table $a $b $c $d (local.get 0)))
                (return (i32.const 10)))
                (return (i32.const 20)))
                (return (i32.const 30)))
            (i32.const 99))
        "#,
    ));
    let sum = |n: u64| {
        let mut acc = 0u64;
        for i in 0..n {
            let x = i.wrapping_mul(0x9e3779b97f4a7c15);
            acc = acc.wrapping_add(x.rotate_left((i % 64) as u32) ^ (x >> 29));
        }
        acc.wrapping_add(u64::from(acc.count_ones()))
    };
    for n in [0u64, 1, 2, 10, 1000] {
        let (r, left) = inst.call("sum", &[n], 1 << 40, 100);
        assert_eq!(r, Ok(vec![sum(n)]), "sum({n})");
        assert_eq!((1 << 40) - left, 2 * (n + 1));
    }
    for x in [0u32, 1, 0x8000_0000, 0xffff_ffff, 0x00f0_0f00] {
        let want = x.leading_zeros() + x.trailing_zeros() + 100 * x.count_ones();
        assert_eq!(inst.run("bits", &[x.into()]), vec![u64::from(want)]);
    }
    let (a, b) = (-7i64, 2i64);
    assert_eq!(
        inst.run("divs", &[a as u64, b as u64]),
        vec![
            (a / b) as u64,
            (a % b) as u64,
            (a as u64) / 2,
            (a as u64) % 2
        ]
    );
    assert_eq!(
        inst.call("divs", &[5, 0], u64::MAX, 10).0,
        Err(TrapKind::IntegerDivideByZero)
    );
    assert_eq!(
        inst.call("divs", &[i64::MIN as u64, u64::MAX], u64::MAX, 10)
            .0,
        Err(TrapKind::IntegerOverflow)
    );
    assert_eq!(inst.run("select", &[1, 2, (-1i32) as u32 as u64]), vec![1]);
    assert_eq!(inst.run("select", &[1, 2, 0]), vec![2]);
    for (i, want) in [
        (0u64, 10u64),
        (1, 20),
        (2, 30),
        (3, 99),
        (4, 99),
        (0xffff_ffff, 99),
    ] {
        assert_eq!(inst.run("switch", &[i]), vec![want], "switch {i}");
    }
}

#[test]
fn memory_loads_stores_data_and_grow() {
    let mut inst = Instance::new(&module(
        r#"
        (memory 1 3)
        (data (i32.const 16) "\01\02\03\04\05\06\07\08\ff")
        (global $g (mut i64) (i64.const 42))
        (func (export "load") (param i32) (result i64 i64 i32)
            (i64.load offset=16 (local.get 0))
            (i64.load8_s offset=16 (local.get 0))
            (i32.load16_u offset=17 (local.get 0)))
        (func (export "store_sum") (param $n i32) (result i32)
            (local $i i32) (local $acc i32)
            (loop $w
                (i32.store offset=0x100 (i32.shl (local.get $i) (i32.const 2)) (local.get $i))
                (local.set $i (i32.add (local.get $i) (i32.const 1)))
                (br_if $w (i32.lt_u (local.get $i) (local.get $n))))
            (local.set $i (i32.const 0))
            (loop $r
                (local.set $acc (i32.add (local.get $acc)
                    (i32.load offset=0x100 (i32.shl (local.get $i) (i32.const 2)))))
                (local.set $i (i32.add (local.get $i) (i32.const 1)))
                (br_if $r (i32.lt_u (local.get $i) (local.get $n))))
            (local.get $acc))
        (func (export "poke") (param i32 i64)
            (i64.store (local.get 0) (local.get 1)))
        (func (export "grow") (param i32) (result i32 i32)
            (memory.grow (local.get 0))
            (memory.size))
        (func (export "global") (param i64) (result i64)
            (global.set $g (i64.add (global.get $g) (local.get 0)))
            (global.get $g))
        "#,
    ));
    assert_eq!(
        inst.run("load", &[0]),
        vec![0x0807_0605_0403_0201, 1, 0x0302]
    );
    assert_eq!(inst.run("load", &[8]), vec![0xff, (-1i64) as u64, 0]);
    assert_eq!(inst.run("store_sum", &[100]), vec![4950]);
    // Bounds at the edge of the one page, then after growing.
    assert_eq!(
        inst.call("poke", &[PAGE - 8, 7], u64::MAX, 10).0,
        Ok(vec![])
    );
    assert_eq!(inst.m.read_memory(PAGE - 8, 1)[0], 7);
    assert_eq!(
        inst.call("poke", &[PAGE - 7, 7], u64::MAX, 10).0,
        Err(TrapKind::MemoryOutOfBounds)
    );
    assert_eq!(
        inst.call("load", &[0xffff_fff0], u64::MAX, 10).0,
        Err(TrapKind::MemoryOutOfBounds)
    );
    assert_eq!(inst.run("grow", &[1]), vec![1, 2]);
    assert_eq!(
        inst.call("poke", &[PAGE - 7, 9], u64::MAX, 10).0,
        Ok(vec![])
    );
    assert_eq!(inst.run("grow", &[5]), vec![u32::MAX as u64, 2]);
    assert_eq!(inst.run("grow", &[1]), vec![2, 3]);
    assert_eq!(inst.m.read_memory(PAGE - 7, 1)[0], 9);
    assert_eq!(inst.run("global", &[8]), vec![50]);
    assert_eq!(
        inst.run("global", &[(-60i64) as u64]),
        vec![(-10i64) as u64]
    );
    assert_eq!(MEMORY % PAGE, 0);
}

#[test]
fn traps_and_indirect_calls() {
    let mut inst = Instance::new(&module(
        r#"
        (type $ii (func (param i32) (result i32)))
        (table 4 funcref)
        (elem (i32.const 0) $double $triple)
        (elem (i32.const 3) $other)
        (func $double (type $ii) (i32.mul (local.get 0) (i32.const 2)))
        (func $triple (type $ii) (i32.mul (local.get 0) (i32.const 3)))
        (func $other (param i64) (result i64) (local.get 0))
        (func (export "dispatch") (param i32 i32) (result i32)
            (call_indirect (type $ii) (local.get 1) (local.get 0)))
        (func (export "unreachable") unreachable)
        (func (export "spin") (loop $l (call $gas (i64.const 1)) (br $l)))
        "#,
    ));
    assert_eq!(inst.run("dispatch", &[0, 21]), vec![42]);
    assert_eq!(inst.run("dispatch", &[1, 21]), vec![63]);
    let trap = |inst: &mut Instance, name: &str, args: &[u64]| inst.call(name, args, 1000, 100);
    assert_eq!(
        trap(&mut inst, "dispatch", &[2, 1]).0,
        Err(TrapKind::IndirectCallToNull)
    );
    assert_eq!(
        trap(&mut inst, "dispatch", &[3, 1]).0,
        Err(TrapKind::IndirectCallTypeMismatch)
    );
    assert_eq!(
        trap(&mut inst, "dispatch", &[4, 1]).0,
        Err(TrapKind::TableOutOfBounds)
    );
    assert_eq!(
        trap(&mut inst, "unreachable", &[]),
        (Err(TrapKind::Unreachable), 1000)
    );
    assert_eq!(trap(&mut inst, "spin", &[]), (Err(TrapKind::OutOfGas), 0));
}
