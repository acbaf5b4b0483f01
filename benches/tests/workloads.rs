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

/// The n-body workload: the same bodies, the same operations in the same order (Rust
/// never fuses a multiply and an add, so every f64 rounds as in wasm). The constants are
/// the published ones, digit for digit as in the WAT and the C.
#[allow(clippy::excessive_precision)]
fn nbody(n: u32) -> i64 {
    const DPY: f64 = 365.24;
    let solar_mass = 4.0 * std::f64::consts::PI * std::f64::consts::PI;
    // x y z vx vy vz mass, velocities per day and masses in solar masses.
    let raw: [[f64; 7]; 5] = [
        [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0],
        [
            4.84143144246472090e+00,
            -1.16032004402742839e+00,
            -1.03622044471123109e-01,
            1.66007664274403694e-03,
            7.69901118419740425e-03,
            -6.90460016972063023e-05,
            9.54791938424326609e-04,
        ],
        [
            8.34336671824457987e+00,
            4.12479856412430479e+00,
            -4.03523417114321381e-01,
            -2.76742510726862411e-03,
            4.99852801234917238e-03,
            2.30417297573763929e-05,
            2.85885980666130812e-04,
        ],
        [
            1.28943695621391310e+01,
            -1.51111514016986312e+01,
            -2.23307578892655734e-01,
            2.96460137564761618e-03,
            2.37847173959480950e-03,
            -2.96589568540237556e-05,
            4.36624404335156298e-05,
        ],
        [
            1.53796971148509165e+01,
            -2.59193146099879641e+01,
            1.79258772950371181e-01,
            2.68067772490389322e-03,
            1.62824170038242295e-03,
            -9.51592254519715870e-05,
            5.15138902046611451e-05,
        ],
    ];
    let mut b = raw.map(|r| {
        [
            r[0],
            r[1],
            r[2],
            r[3] * DPY,
            r[4] * DPY,
            r[5] * DPY,
            r[6] * solar_mass,
        ]
    });
    let mut p = [0.0f64; 3];
    for body in &b {
        for k in 0..3 {
            p[k] += body[3 + k] * body[6];
        }
    }
    for k in 0..3 {
        b[0][3 + k] = -p[k] / solar_mass;
    }
    for _ in 0..n {
        for i in 0..5 {
            for j in i + 1..5 {
                let d: [f64; 3] = std::array::from_fn(|k| b[i][k] - b[j][k]);
                let d2 = d[0] * d[0] + d[1] * d[1] + d[2] * d[2];
                let mag = 0.01 / (d2 * d2.sqrt());
                let s = b[j][6] * mag;
                for k in 0..3 {
                    b[i][3 + k] -= d[k] * s;
                }
                let s = b[i][6] * mag;
                for k in 0..3 {
                    b[j][3 + k] += d[k] * s;
                }
            }
        }
        for body in &mut b {
            for k in 0..3 {
                body[k] += 0.01 * body[3 + k];
            }
        }
    }
    let mut e = 0.0f64;
    for i in 0..5 {
        let v = &b[i];
        e += 0.5 * v[6] * (v[3] * v[3] + v[4] * v[4] + v[5] * v[5]);
        for j in i + 1..5 {
            let d: [f64; 3] = std::array::from_fn(|k| b[i][k] - b[j][k]);
            e -= (b[i][6] * b[j][6]) / (d[0] * d[0] + d[1] * d[1] + d[2] * d[2]).sqrt();
        }
    }
    e.to_bits() as i64
}

fn mandelbrot(n: i32) -> i64 {
    if n <= 0 {
        return 0;
    }
    let scale = 3.0 / n as f64;
    let mut sum = 0i64;
    for y in 0..n {
        let ci = y as f64 * scale - 1.5;
        for x in 0..n {
            let cr = x as f64 * scale - 2.0;
            let (mut zr, mut zi, mut k) = (0.0f64, 0.0f64, 0u32);
            loop {
                let (zr2, zi2) = (zr * zr, zi * zi);
                if zr2 + zi2 > 4.0 {
                    break;
                }
                zi = (zr + zr) * zi + ci;
                zr = zr2 - zi2 + cr;
                k += 1;
                if k >= 200 {
                    break;
                }
            }
            sum += i64::from(k);
        }
    }
    sum
}

/// wasm `f32.min` / `f32.max`: a NaN if either is one, −0 below +0.
fn wasm_min(a: f32, b: f32) -> f32 {
    if a.is_nan() || b.is_nan() {
        f32::NAN
    } else if a == b {
        f32::from_bits(a.to_bits() | b.to_bits())
    } else {
        a.min(b)
    }
}

fn wasm_max(a: f32, b: f32) -> f32 {
    if a.is_nan() || b.is_nan() {
        f32::NAN
    } else if a == b {
        f32::from_bits(a.to_bits() & b.to_bits())
    } else {
        a.max(b)
    }
}

fn stencil32(n: i32) -> i64 {
    let mut x = n as u32;
    let mut a: Vec<f32> = (0..n.max(0))
        .map(|_| {
            x = x.wrapping_mul(1664525).wrapping_add(1013904223);
            ((x as i32) >> 8) as f32 * (1.0 / 65536.0)
        })
        .collect();
    for _ in 0..16 {
        for i in 1..a.len().saturating_sub(1) {
            let s = (a[i - 1] + a[i + 1]) * 0.25 + a[i] * 0.55;
            a[i] = wasm_min(64.0, wasm_max(-64.0, s));
        }
    }
    // `as i32` saturates and maps NaN to 0, like i32.trunc_sat_f32_s.
    a.iter().fold(0i64, |mut h, &v| {
        h = h
            .wrapping_mul(31)
            .wrapping_add(i64::from((v * 16.0).round_ties_even() as i32));
        h = h.wrapping_mul(31).wrapping_add(i64::from(v.floor() as i32));
        h.wrapping_mul(31)
            .wrapping_add(i64::from((v.abs().sqrt() * 1000.0) as i32))
    })
}

fn check(name: &str, n: i32, expected: i64) {
    let wasm = gasket_fixtures::wasm(name);
    let engine = Engine::new(bench_profile()).unwrap();
    for (mode, module) in [
        ("metered", engine.compile(&wasm).unwrap()),
        ("unmetered", compile_unmetered(&engine, &wasm).unwrap()),
    ] {
        let mut instance = Instance::new(&module, &Imports::new(), u64::MAX).unwrap();
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
fn nbody_matches_a_rust_mirror() {
    // The Benchmarks Game's published energies (to nine digits) at 0 and 1000 steps.
    assert_eq!(
        format!("{:.9}", f64::from_bits(nbody(0) as u64)),
        "-0.169075164"
    );
    assert_eq!(
        format!("{:.9}", f64::from_bits(nbody(1000) as u64)),
        "-0.169087605"
    );
    for n in [0, 1, 2, 100, 1000] {
        check("nbody", n, nbody(n as u32));
    }
}

#[test]
fn mandelbrot_matches_a_rust_mirror() {
    for n in [-1, 0, 1, 2, 17, 64] {
        check("mandelbrot", n, mandelbrot(n));
    }
}

#[test]
fn stencil32_matches_a_rust_mirror() {
    for n in [-1, 0, 1, 2, 3, 4, 100, 4096, 16384] {
        check("stencil32", n, stencil32(n));
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
        let a = Instance::new(&metered, &Imports::new(), u64::MAX)
            .unwrap()
            .call("run", &[n], u64::MAX)
            .unwrap();
        let b = Instance::new(&unmetered, &Imports::new(), u64::MAX)
            .unwrap()
            .call("run", &[n], u64::MAX)
            .unwrap();
        assert_eq!(a.result.unwrap(), b.result.unwrap(), "{name}");
        assert!(a.gas_used > 0, "{name}");
    }
}

/// `gasket_nocanon` runs the same instrumented module as `gasket`: same results, same gas
/// (the float kernels never produce a NaN, so canonicalization changes nothing they see).
#[test]
fn float_workloads_agree_without_canonicalization() {
    let engine = Engine::new(bench_profile()).unwrap();
    for &name in gasket_benches::FLOAT_WORKLOADS {
        assert!(
            gasket_benches::WORKLOADS.iter().any(|&(w, _)| w == name),
            "{name} is not a bench workload"
        );
        let wasm = gasket_fixtures::wasm(name);
        let canon = engine.compile(&wasm).unwrap();
        let nocanon = gasket_benches::compile_nocanon(&engine, &wasm).unwrap();
        let a = Instance::new(&canon, &Imports::new(), u64::MAX)
            .unwrap()
            .call("run", &[Value::I32(50)], u64::MAX)
            .unwrap();
        let b = Instance::new(&nocanon, &Imports::new(), u64::MAX)
            .unwrap()
            .call("run", &[Value::I32(50)], u64::MAX)
            .unwrap();
        assert_eq!(a.result.unwrap(), b.result.unwrap(), "{name}");
        assert_eq!(a.gas_used, b.gas_used, "{name}");
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
        .args(["-O2", "-ffp-contract=off", "-o"])
        .arg(&exe)
        .arg(src)
        .arg("-lm")
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
        let mut instance = Instance::new(&module, &Imports::new(), u64::MAX).unwrap();
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
