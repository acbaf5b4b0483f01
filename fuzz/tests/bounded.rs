//! The stable-Rust fuzz driver: runs every target body of `gasket_fuzz` over a seeded
//! pseudo-random stream of inputs for a bounded number of iterations (one test per target,
//! named after it). Each test prints its seed and iteration count.
//!
//! - `GASKET_FUZZ_SEED=<u64>` (default fixed): the campaign's seed; each target derives its
//!   own stream from it and its name.
//! - `GASKET_FUZZ_ITERATIONS=<n>`: iterations per target (defaults are per target, sized so
//!   the whole crate's tests stay under a minute in debug on 2 cores).
//! - `GASKET_FUZZ_SCALE=<k>`: each target's default iteration count times `k`: a fixed
//!   amount of work, so a commit is green or red on every machine whatever its speed
//!   (`scripts/fuzz-ci.sh`, CI's campaign, uses it).
//! - `GASKET_FUZZ_SECONDS=<s>`: a time budget per target instead (iterations unbounded
//!   unless also given), for campaigns outside CI (`scripts/fuzz-campaign.sh`,
//!   `fuzz/run.sh`'s fallback): how far it gets depends on the machine.
//!
//! A failing input is written to `fuzz/artifacts/<target>/crash-<sha256 prefix>` (the
//! cargo-fuzz location) and the replay commands are printed; copy it to
//! `fuzz/corpus/regressions/<target>/` once fixed (`tests/regressions.rs` replays those).

use std::path::PathBuf;
use std::time::{Duration, Instant};

fn env_u64(name: &str) -> Option<u64> {
    std::env::var(name).ok().and_then(|v| v.trim().parse().ok())
}

fn seed() -> u64 {
    env_u64("GASKET_FUZZ_SEED").unwrap_or(0x6A5C_E7F0)
}

/// xorshift64*: a tiny deterministic generator, so a seed names a campaign on any machine.
struct Stream(u64);

impl Stream {
    fn new(seed: u64, name: &str) -> Stream {
        // FNV-1a of the name, so targets draw independent streams from one seed.
        let mut h = 0xcbf2_9ce4_8422_2325u64;
        for b in name.bytes() {
            h = (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3);
        }
        Stream((seed ^ h) | 1)
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn bytes(&mut self, min_len: usize, max_len: usize) -> Vec<u8> {
        let len = min_len + (self.next() as usize) % (max_len - min_len);
        (0..len).map(|_| self.next() as u8).collect()
    }
}

/// Valid modules with a few bytes flipped: reaches deeper than random bytes do.
fn mutate(stream: &mut Stream, mut wasm: Vec<u8>) -> Vec<u8> {
    for _ in 0..1 + stream.next() % 4 {
        if wasm.is_empty() {
            break;
        }
        let at = (stream.next() as usize) % wasm.len();
        match stream.next() % 3 {
            0 => wasm[at] = stream.next() as u8,
            1 => wasm.insert(at, stream.next() as u8),
            _ => {
                wasm.remove(at);
            }
        }
    }
    wasm
}

fn save(target: &str, data: &[u8]) -> PathBuf {
    use sha2::{Digest, Sha256};
    let hash: String = Sha256::digest(data)[..8]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("artifacts")
        .join(target);
    let path = dir.join(format!("crash-{hash}"));
    let _ = std::fs::create_dir_all(&dir).and_then(|_| std::fs::write(&path, data));
    path
}

/// Runs `target` over the stream; returns (iterations, accepted).
fn run(
    name: &str,
    default_iterations: u64,
    target: fn(&[u8]) -> bool,
    mut input: impl FnMut(&mut Stream) -> Vec<u8>,
) -> (u64, u64) {
    let seed = seed();
    let budget = env_u64("GASKET_FUZZ_SECONDS").map(Duration::from_secs);
    let scale = env_u64("GASKET_FUZZ_SCALE").unwrap_or(1);
    let iterations = env_u64("GASKET_FUZZ_ITERATIONS").unwrap_or(if budget.is_some() {
        u64::MAX
    } else {
        default_iterations.saturating_mul(scale)
    });
    let mut stream = Stream::new(seed, name);
    let started = Instant::now();
    let (mut done, mut accepted) = (0, 0);
    while done < iterations && budget.is_none_or(|b| started.elapsed() < b) {
        let data = input(&mut stream);
        match std::panic::catch_unwind(|| target(&data)) {
            Ok(ok) => accepted += u64::from(ok),
            Err(_) => {
                let path = save(name, &data);
                panic!(
                    "fuzz target {name} failed at iteration {done} (seed {seed}); input saved to {}\n\
                     replay the campaign: GASKET_FUZZ_SEED={seed} GASKET_FUZZ_ITERATIONS={} \
                     cargo test -p gasket-fuzz --test bounded {name}\n\
                     replay the input: copy it to fuzz/corpus/regressions/{name}/ and run \
                     cargo test -p gasket-fuzz --test regressions",
                    path.display(),
                    done + 1
                );
            }
        }
        done += 1;
    }
    println!(
        "fuzz target {name}: seed {seed}, {done} iterations, {accepted} accepted, {:.1} s \
         (replay: GASKET_FUZZ_SEED={seed} GASKET_FUZZ_ITERATIONS={done} cargo test -p gasket-fuzz --test bounded {name})",
        started.elapsed().as_secs_f64()
    );
    (done, accepted)
}

/// Inputs that reach the interesting part are not all noise: with the default stream at
/// least some must. A tiny replay (a few iterations) is exempt.
fn assert_reached(name: &str, (done, accepted): (u64, u64)) {
    if done >= 20 {
        assert!(
            accepted > 0,
            "{name}: no input was accepted in {done} iterations"
        );
    }
}

#[test]
fn prepare() {
    run("prepare", 2000, gasket_fuzz::prepare_bytes, |s| {
        s.bytes(0, 512)
    });
    // Random bytes are almost never a module: this stream is about never panicking.
    let fixtures: Vec<Vec<u8>> = gasket_fixtures::ALL.iter().map(|f| f.wasm()).collect();
    let r = run("prepare(mutated)", 1000, gasket_fuzz::prepare_bytes, |s| {
        let base = fixtures[(s.next() as usize) % fixtures.len()].clone();
        mutate(s, base)
    });
    assert_reached("prepare(mutated)", r);
}

#[test]
fn prepare_smith() {
    let r = run("prepare_smith", 1000, gasket_fuzz::prepare_smith, |s| {
        s.bytes(0, 4096)
    });
    assert_reached("prepare_smith", r);
}

#[test]
fn compile() {
    let r = run("compile", 600, gasket_fuzz::compile::compile, |s| {
        s.bytes(64, 8192)
    });
    assert_reached("compile", r);
}

#[test]
fn differential() {
    let r = run(
        "differential",
        400,
        gasket_fuzz::differential::differential,
        |s| s.bytes(4096, 16384),
    );
    assert_reached("differential", r);
}

#[test]
fn artifact() {
    let r = run("artifact", 3000, gasket_fuzz::artifact::artifact, |s| {
        s.bytes(0, 1024)
    });
    let _ = r; // Acceptance needs a resealed, still-decodable payload: rare, not required.
}

#[test]
fn host_abi() {
    let r = run("host_abi", 1500, gasket_fuzz::host_abi::host_abi, |s| {
        s.bytes(0, 600)
    });
    assert_reached("host_abi", r);
}
