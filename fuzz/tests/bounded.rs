//! The stable-Rust fuzz driver: runs every target body over a seeded pseudo-random stream
//! of inputs for a bounded number of iterations. `GASKET_FUZZ_ITERATIONS` (default 300)
//! and `GASKET_FUZZ_SEED` (default fixed) replay a campaign exactly; both are printed.

fn iterations() -> u64 {
    std::env::var("GASKET_FUZZ_ITERATIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(300)
}

fn seed() -> u64 {
    std::env::var("GASKET_FUZZ_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0x6A5C_E7F0)
}

/// xorshift64*: a tiny deterministic generator, so a seed names a campaign on any machine.
struct Stream(u64);

impl Stream {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn bytes(&mut self, max_len: usize) -> Vec<u8> {
        let len = (self.next() as usize) % max_len;
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

/// Runs `target` over the stream; returns how many inputs it accepted.
fn run(
    name: &str,
    target: fn(&[u8]) -> bool,
    mut input: impl FnMut(&mut Stream) -> Vec<u8>,
) -> u64 {
    let (seed, iterations) = (seed(), iterations());
    let mut stream = Stream(seed | 1);
    let mut accepted = 0;
    for i in 0..iterations {
        let data = input(&mut stream);
        match std::panic::catch_unwind(|| target(&data)) {
            Ok(ok) => accepted += u64::from(ok),
            Err(_) => panic!("fuzz target {name} failed at iteration {i} (GASKET_FUZZ_SEED={seed}); input: {data:02x?}"),
        }
    }
    println!("fuzz target {name}: seed {seed}, {iterations} iterations, {accepted} accepted");
    accepted
}

#[test]
fn prepare_random_bytes() {
    run("prepare_bytes", gasket_fuzz::prepare_bytes, |s| {
        s.bytes(512)
    });
    // Random bytes are almost never a module: this target is about never panicking.
}

#[test]
fn prepare_mutated_fixtures() {
    let fixtures: Vec<Vec<u8>> = gasket_fixtures::ALL.iter().map(|f| f.wasm()).collect();
    let accepted = run("prepare_bytes(mutated)", gasket_fuzz::prepare_bytes, |s| {
        let base = fixtures[(s.next() as usize) % fixtures.len()].clone();
        mutate(s, base)
    });
    assert!(
        accepted > 0,
        "no mutated fixture was accepted: the stream never reaches instrumentation"
    );
}

#[test]
fn prepare_wasm_smith_modules() {
    let accepted = run("prepare_smith", gasket_fuzz::prepare_smith, |s| {
        s.bytes(4096)
    });
    assert!(
        accepted > 0,
        "no wasm-smith module was accepted: the stream never reaches instrumentation"
    );
}
