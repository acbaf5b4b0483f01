//! Shared by `vm/tests/pool.rs` (x86-64) and `aarch64-tests/tests/runtime.rs` (emulated
//! AArch64, included with `#[path]`): the written ranges the pool clears cover every
//! write path.

use gasket_vm::{Engine, FuncSig, Imports, Instance, ValType, Value};

/// Start gas: the module's data segments pay their written-range charge in the start
/// function the metering pass appends (cost table version 5).
const START_GAS: u64 = 10_000_000;

/// Every way a byte can be written to linear memory widens the written ranges the pool
/// clears: compiled stores of each width (with offsets past a 4 KiB granule, downwards,
/// at the memory's end, into grown pages, a second store off an already checked local,
/// stores off one local at offsets near and far from each other, stores far enough apart
/// to start new ranges and more of them than there are spill slots, a store after a
/// load off the same local),
/// `memory.fill`/`copy`/`init`, host functions writing through `HostContext::write` and
/// through the whole-memory `HostContext::memory`, and the embedder's `memory_mut`. After
/// each, the next instance gets the same reservation and finds all 4 pages zero but for its
/// own active data segment. Stores that trap out of bounds write nothing and leave the
/// range as it was.
pub fn every_write_path_is_cleared_before_reuse(engine: &Engine) {
    let wat = r#"(module
      (import "host" "write" (func $host_write (param i32 i64)))
      (import "host" "poke" (func $host_poke (param i32 i64)))
      (memory (export "memory") 1 4)
      (data (i32.const 40000) "mine")
      (data $passive "secret-segment")
      (func (export "i64") (param $at i32) (param $s i64)
        (i64.store (local.get $at) (local.get $s)))
      (func (export "i32_far") (param $at i32) (param $s i64)
        (i32.store offset=9000 (local.get $at) (i32.wrap_i64 (local.get $s))))
      (func (export "f64") (param $at i32) (param $s i64)
        (f64.store (local.get $at) (f64.reinterpret_i64 (local.get $s))))
      (func (export "f32") (param $at i32) (param $s i64)
        (f32.store offset=2 (local.get $at) (f32.reinterpret_i32 (i32.wrap_i64 (local.get $s)))))
      (func (export "narrow") (param $at i32) (param $s i64)
        (i64.store8 (local.get $at) (local.get $s))
        (i64.store16 offset=1 (local.get $at) (local.get $s))
        (i64.store32 offset=3 (local.get $at) (local.get $s))
        (i32.store8 offset=7 (local.get $at) (i32.wrap_i64 (local.get $s)))
        (i32.store16 offset=8 (local.get $at) (i32.wrap_i64 (local.get $s))))
      (func (export "same_local") (param $at i32) (param $s i64)
        (i64.store (local.get $at) (local.get $s))
        (i64.store offset=8 (local.get $at) (local.get $s))
        (i64.store offset=20000 (local.get $at) (local.get $s))
        (i64.store offset=4 (local.get $at) (local.get $s)))
      (func (export "windows") (param $at i32) (param $s i64)
        (i64.store offset=16 (local.get $at) (local.get $s))
        (i64.store offset=60000 (local.get $at) (local.get $s))
        (i32.store8 offset=8 (local.get $at) (i32.wrap_i64 (local.get $s)))
        (i64.store offset=60004 (local.get $at) (local.get $s))
        (i64.store32 offset=24 (local.get $at) (local.get $s)))
      (func (export "far_apart") (param $at i32) (param $s i64)
        (drop (memory.grow (i32.const 3)))
        (i64.store (local.get $at) (local.get $s))
        (i64.store offset=70000 (local.get $at) (local.get $s))
        (i64.store offset=140000 (local.get $at) (local.get $s))
        (i64.store offset=1000 (local.get $at) (local.get $s))
        (i64.store offset=210000 (local.get $at) (local.get $s))
        (i64.store offset=100000 (local.get $at) (local.get $s))
        (i64.store offset=250000 (local.get $at) (local.get $s))
        (i64.store offset=2000 (local.get $at) (local.get $s)))
      (func (export "load_then_store") (param $at i32) (param $s i64)
        (drop (i64.load offset=30000 (local.get $at)))
        (i64.store offset=30000 (local.get $at) (local.get $s)))
      (func (export "downwards") (param $at i32) (param $s i64)
        (local $i i32)
        (local.set $i (i32.const 16))
        (loop $l
          (i64.store (i32.sub (local.get $at) (i32.mul (local.get $i) (i32.const 4096)))
                     (local.get $s))
          (local.set $i (i32.sub (local.get $i) (i32.const 1)))
          (br_if $l (local.get $i))))
      (func (export "grown") (param $at i32) (param $s i64)
        (drop (memory.grow (i32.const 3)))
        (i64.store (i32.add (local.get $at) (i32.const 196608)) (local.get $s)))
      (func (export "fill") (param $at i32) (param $s i64)
        (memory.fill (local.get $at) (i32.wrap_i64 (local.get $s)) (i32.const 5000)))
      (func (export "copy") (param $at i32) (param $s i64)
        (i64.store (i32.const 0) (local.get $s))
        (memory.copy (local.get $at) (i32.const 0) (i32.const 8)))
      (func (export "init") (param $at i32) (param $s i64)
        (memory.init $passive (local.get $at) (i32.const 0) (i32.const 14)))
      (func (export "host_write") (param $at i32) (param $s i64)
        (call $host_write (local.get $at) (local.get $s)))
      (func (export "host_poke") (param $at i32) (param $s i64)
        (call $host_poke (local.get $at) (local.get $s)))
      (func (export "grow") (result i32) (memory.grow (i32.const 3))))"#;
    let module = engine.compile(&wat::parse_str(wat).unwrap()).unwrap();
    let sig = FuncSig {
        params: vec![ValType::I32, ValType::I64],
        results: vec![],
    };
    let mut imports = Imports::new();
    imports.func("host", "write", sig.clone(), |cx, args| {
        let (Value::I32(at), Value::I64(s)) = (&args[0], &args[1]) else {
            unreachable!("typed by the signature")
        };
        cx.write(*at as u32, &s.to_le_bytes())?;
        Ok(vec![])
    });
    imports.func("host", "poke", sig, |cx, args| {
        let (Value::I32(at), Value::I64(s)) = (&args[0], &args[1]) else {
            unreachable!("typed by the signature")
        };
        let memory = cx.memory();
        let at = (*at as u32 as usize).min(memory.len() - 8);
        memory[at..at + 8].copy_from_slice(&s.to_le_bytes());
        Ok(vec![])
    });
    let secret = 0x5ec2_e7ff_5ec2_e7ffu64 as i64;
    let expected = |memory: &[u8]| {
        let mut want = vec![0u8; 4 * 65536];
        want[40000..40004].copy_from_slice(b"mine");
        memory == want
    };
    let writers = [
        "i64",
        "i32_far",
        "f64",
        "f32",
        "narrow",
        "same_local",
        "windows",
        "far_apart",
        "load_then_store",
        "downwards",
        "grown",
        "fill",
        "copy",
        "init",
        "host_write",
        "host_poke",
        "memory_mut",
    ];
    let mut base = None;
    for writer in writers {
        for at in [0u32, 4095, 4096, 30000, 65528, 65536, u32::MAX - 3] {
            let mut instance = Instance::new(&module, &imports, START_GAS).unwrap();
            let memory = instance.memory();
            assert_eq!(
                *base.get_or_insert(memory.as_ptr()),
                memory.as_ptr(),
                "reused"
            );
            if writer == "memory_mut" {
                let memory = instance.memory_mut();
                let at = (at as usize).min(memory.len() - 8);
                memory[at..at + 8].copy_from_slice(&secret.to_le_bytes());
            } else {
                let args = [Value::I32(at as i32), Value::I64(secret)];
                let _ = instance.call(writer, &args, 10_000_000).unwrap();
            }
            drop(instance);
            let mut next = Instance::new(&module, &imports, START_GAS).unwrap();
            let grown = next.call("grow", &[], 10_000_000).unwrap().result;
            assert!(matches!(grown.as_deref(), Ok([Value::I32(_)])), "{grown:?}");
            assert!(
                expected(next.memory()),
                "{writer}({at}) left a byte behind at {:?}",
                next.memory()
                    .iter()
                    .enumerate()
                    .position(|(i, &b)| b != 0 && !(40000..40004).contains(&i))
            );
        }
    }
}
