//! Every compute workload gives its known result (computed here by an independent Rust
//! implementation, or a published answer) in Gasket metered, Gasket unmetered and wasmi.

use gasket_benches::{bench_profile, compile_unmetered};
use gasket_vm::{Engine, Imports, Instance, Value};
use sha2::Digest;

fn sha256buf(n: u32) -> i64 {
    let data: Vec<u8> = (0..n).map(|i| (i.wrapping_mul(167) + 13) as u8).collect();
    let d = sha2::Sha256::digest(&data);
    i64::from_be_bytes(d[..8].try_into().unwrap())
}

fn quicksort(n: u32) -> i64 {
    let mut x = n;
    let mut a: Vec<i32> = (0..n)
        .map(|_| {
            x = x.wrapping_mul(1103515245).wrapping_add(12345);
            x as i32
        })
        .collect();
    a.sort_unstable();
    a.iter()
        .fold(0i64, |h, &v| h.wrapping_mul(31).wrapping_add(v as i64))
}

fn keccak(n: u32) -> i64 {
    // Round constants from the LFSR of the Keccak reference.
    let mut rc = [0u64; 24];
    let mut r: u8 = 1;
    for c in rc.iter_mut() {
        for j in 0..7 {
            if r & 1 == 1 {
                *c |= 1 << ((1u32 << j) - 1);
            }
            r = if r & 0x80 != 0 {
                (r << 1) ^ 0x71
            } else {
                r << 1
            };
        }
    }
    let mut rot = [0u32; 25];
    let (mut x, mut y) = (1usize, 0usize);
    for t in 0..24u32 {
        rot[x + 5 * y] = ((t + 1) * (t + 2) / 2) % 64;
        (x, y) = (y, (2 * x + 3 * y) % 5);
    }
    let mut a = [0u64; 25];
    for _ in 0..n {
        for c in rc {
            let col: Vec<u64> = (0..5)
                .map(|x| a[x] ^ a[x + 5] ^ a[x + 10] ^ a[x + 15] ^ a[x + 20])
                .collect();
            for x in 0..5 {
                let d = col[(x + 4) % 5] ^ col[(x + 1) % 5].rotate_left(1);
                for y in 0..5 {
                    a[x + 5 * y] ^= d;
                }
            }
            let mut b = [0u64; 25];
            for x in 0..5 {
                for y in 0..5 {
                    b[y + 5 * ((2 * x + 3 * y) % 5)] = a[x + 5 * y].rotate_left(rot[x + 5 * y]);
                }
            }
            for y in 0..5 {
                for x in 0..5 {
                    a[x + 5 * y] =
                        b[x + 5 * y] ^ (!b[(x + 1) % 5 + 5 * y] & b[(x + 2) % 5 + 5 * y]);
                }
            }
            a[0] ^= c;
        }
    }
    a[0] as i64
}

fn brtable(n: u32) -> i64 {
    let mut x: u32 = 1;
    let mut acc: u64 = 0x243F6A8885A308D3;
    for _ in 0..n {
        x = x.wrapping_mul(1664525).wrapping_add(1013904223);
        let k = (x >> 24) as u64;
        acc = match k % 4 {
            0 => acc.wrapping_add(k * 40503 + 1),
            1 => acc ^ (k << (k % 40)),
            2 => acc.rotate_left((k % 63 + 1) as u32),
            _ => acc.wrapping_mul(2 * k + 1),
        };
    }
    acc as i64
}

fn check(name: &str, n: i32, expected: i64) {
    let wasm = gasket_fixtures::wasm(name);
    let engine = Engine::new(bench_profile()).unwrap();
    for (mode, module) in [
        ("metered", engine.compile(&wasm).unwrap()),
        ("unmetered", compile_unmetered(&engine, &wasm).unwrap()),
    ] {
        let mut instance = Instance::new(&module, &Imports::new(), 0).unwrap();
        let out = instance
            .call("run", &[Value::I32(n)], u64::MAX)
            .unwrap()
            .result
            .unwrap();
        assert_eq!(out, vec![Value::I64(expected)], "{name}({n}) {mode}");
    }
    let wasmi_engine = wasmi::Engine::default();
    let module = wasmi::Module::new(&wasmi_engine, &wasm[..]).unwrap();
    let mut store = wasmi::Store::new(&wasmi_engine, ());
    let instance = wasmi::Linker::new(&wasmi_engine)
        .instantiate_and_start(&mut store, &module)
        .unwrap();
    let run = instance.get_typed_func::<i32, i64>(&store, "run").unwrap();
    assert_eq!(
        run.call(&mut store, n).unwrap(),
        expected,
        "{name}({n}) wasmi"
    );
}

#[test]
fn sha256_matches_sha2() {
    for n in [0, 1, 55, 56, 63, 64, 1000, 4096] {
        check("sha256buf", n, sha256buf(n as u32));
    }
    // SHA-256 of the empty string starts e3b0c442 98fc1c14.
    assert_eq!(sha256buf(0), 0xe3b0c44298fc1c14u64 as i64);
}

#[test]
fn quicksort_matches_a_rust_sort() {
    for n in [0, 1, 2, 3, 10, 1000, 5000] {
        check("quicksort", n, quicksort(n as u32));
    }
}

#[test]
fn keccak_matches_the_known_answer_and_a_rust_permutation() {
    assert_eq!(keccak(1), 0xF1258F7940E1DDE7u64 as i64);
    for n in [0, 1, 2, 7] {
        check("keccak", n, keccak(n as u32));
    }
}

#[test]
fn brtable_matches_a_rust_mirror() {
    for n in [0, 1, 255, 10_000] {
        check("brtable", n, brtable(n as u32));
    }
}

#[test]
fn every_bench_workload_runs_unmetered() {
    let engine = Engine::new(bench_profile()).unwrap();
    for &(name, _) in gasket_benches::WORKLOADS {
        let wasm = gasket_fixtures::wasm(name);
        let metered = engine.compile(&wasm).unwrap();
        let unmetered = compile_unmetered(&engine, &wasm).unwrap();
        let n = Value::I32(if name == "matmul" { 8 } else { 20 });
        let a = Instance::new(&metered, &Imports::new(), 0)
            .unwrap()
            .call("run", &[n], u64::MAX)
            .unwrap();
        let b = Instance::new(&unmetered, &Imports::new(), 0)
            .unwrap()
            .call("run", &[n], u64::MAX)
            .unwrap();
        assert_eq!(a.result.unwrap(), b.result.unwrap(), "{name}");
        assert!(a.gas_used > 0, "{name}");
    }
}

/// The C kernels of `benches/native/kernels.c` (the native baseline of BENCHMARKS.md)
/// compute what the WAT workloads compute, at the bench arguments. Skipped without gcc.
#[test]
fn native_kernels_agree_with_the_wat_workloads() {
    let dir = std::env::temp_dir().join(format!("gasket-native-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let exe = dir.join("kernels");
    let src = concat!(env!("CARGO_MANIFEST_DIR"), "/native/kernels.c");
    let Ok(status) = std::process::Command::new("gcc")
        .args(["-O2", "-o"])
        .arg(&exe)
        .arg(src)
        .status()
    else {
        eprintln!("native kernels: skipped, gcc is absent");
        return;
    };
    assert!(status.success());
    let out = std::process::Command::new(&exe).output().unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    let text = String::from_utf8(out.stdout).unwrap();
    let engine = Engine::new(bench_profile()).unwrap();
    let mut seen = 0;
    for line in text.lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        let (name, n) = (
            v["workload"].as_str().unwrap(),
            v["n"].as_i64().unwrap() as i32,
        );
        assert!(
            gasket_benches::WORKLOADS.contains(&(name, n)),
            "{name}({n}) is not a bench workload"
        );
        let module = engine.compile(&gasket_fixtures::wasm(name)).unwrap();
        let mut instance = Instance::new(&module, &Imports::new(), 0).unwrap();
        let got = match instance
            .call("run", &[Value::I32(n)], u64::MAX)
            .unwrap()
            .result
            .unwrap()[0]
        {
            Value::I32(v) => v as i64,
            Value::I64(v) => v,
            ref other => panic!("{other:?}"),
        };
        assert_eq!(got, v["result"].as_i64().unwrap(), "{name}({n})");
        seen += 1;
    }
    assert_eq!(seen, gasket_benches::WORKLOADS.len());
}
