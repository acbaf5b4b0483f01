//! Target `artifact`: bytes into `Module::deserialize`. Arbitrary bytes, valid serialized
//! modules with fuzzer-chosen mutations (flips, insertions, deletions, truncation), and
//! mutated payloads re-sealed with a correct length and SHA-256 (what a buggy producer or
//! someone who can write the cache could hand over).
//!
//! Invariants: nothing panics; a rejected input is refused with `LoadError::Artifact` or
//! `LoadError::IncompatibleArtifact`, the two errors raised before any code is mapped
//! (`Module::from_artifact` maps code last), so rejected input never reaches executable
//! memory; any change to a sealed module is refused; nothing returned is ever executed.

use std::sync::OnceLock;

use arbitrary::Unstructured;
use gasket_metering::Profile;
use gasket_vm::cache::{checksum, layout, HEADER_LEN};
use gasket_vm::{Engine, LoadError, Module};

/// The engine every input is deserialized with.
pub fn engine() -> &'static Engine {
    static ENGINE: OnceLock<Engine> = OnceLock::new();
    ENGINE.get_or_init(|| Engine::new(Profile::permissive()).expect("engine"))
}

/// Valid serialized modules (every fixture the permissive profile accepts).
pub fn bases() -> &'static [Vec<u8>] {
    static BASES: OnceLock<Vec<Vec<u8>>> = OnceLock::new();
    BASES.get_or_init(|| {
        gasket_fixtures::ALL
            .iter()
            .filter_map(|f| engine().compile(&f.wasm()).ok())
            .map(|m| m.serialize())
            .collect()
    })
}

/// How an input was built.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Mode {
    Raw,
    Mutated,
    Resealed,
}

/// Deserializes `bytes` and checks the invariants; returns whether a module came back.
pub fn check(bytes: &[u8], mode: Mode) -> bool {
    match Module::deserialize(engine(), bytes) {
        Ok(module) => {
            // Only inputs sealed with a correct SHA-256 can pass; never executed, only
            // checked to describe exactly the bytes it came from.
            assert!(
                mode != Mode::Mutated,
                "a mutated sealed module was accepted"
            );
            assert_eq!(
                module.artifact().target,
                engine().target(),
                "a module for another target was accepted"
            );
            true
        }
        Err(LoadError::Artifact(e)) => {
            assert!(!e.kind().is_empty());
            false
        }
        Err(LoadError::IncompatibleArtifact(_)) => false,
        Err(e) => panic!(
            "rejected with an error raised after mapping code ({}): {e}",
            e.kind()
        ),
    }
}

fn mutate(u: &mut Unstructured<'_>, bytes: &mut Vec<u8>, from: usize) {
    let n = u.int_in_range(1..=4u8).unwrap_or(1);
    for _ in 0..n {
        if bytes.len() <= from {
            break;
        }
        let at = from + u.choose_index(bytes.len() - from).unwrap_or(0);
        match u.int_in_range(0..=4u8).unwrap_or(0) {
            0 => bytes[at] ^= 1 << u.int_in_range(0..=7u8).unwrap_or(0),
            1 => bytes[at] = u.arbitrary().unwrap_or(0xff),
            2 => bytes.insert(at, u.arbitrary().unwrap_or(0)),
            3 => {
                bytes.remove(at);
            }
            _ => bytes.truncate(at),
        }
    }
}

/// Rewrites the header's payload length and checksum for the current payload.
pub fn reseal(bytes: &mut [u8]) {
    if bytes.len() < HEADER_LEN {
        return;
    }
    let payload_len = (bytes.len() - HEADER_LEN) as u64;
    bytes[layout::PAYLOAD_LEN].copy_from_slice(&payload_len.to_le_bytes());
    let sum = checksum(&bytes[..layout::HASH.start], &bytes[HEADER_LEN..]);
    bytes[layout::HASH].copy_from_slice(&sum);
}

/// The body.
pub fn artifact(data: &[u8]) -> bool {
    let Some((&selector, rest)) = data.split_first() else {
        return check(data, Mode::Raw);
    };
    let bases = bases();
    let mut u = Unstructured::new(rest);
    match selector % 4 {
        0 => check(rest, Mode::Raw),
        1 => {
            // A valid header with arbitrary payload, or arbitrary bytes after the magic.
            let base = &bases[usize::from(selector / 4) % bases.len()];
            let mut bytes = base[..HEADER_LEN].to_vec();
            bytes.extend_from_slice(rest);
            check(&bytes, Mode::Raw);
            reseal(&mut bytes);
            check(&bytes, Mode::Resealed)
        }
        2 => {
            let base = &bases[usize::from(selector / 4) % bases.len()];
            let mut bytes = base.clone();
            mutate(&mut u, &mut bytes, 0);
            if bytes == *base {
                return check(&bytes, Mode::Resealed);
            }
            check(&bytes, Mode::Mutated)
        }
        _ => {
            let base = &bases[usize::from(selector / 4) % bases.len()];
            let mut bytes = base.clone();
            mutate(&mut u, &mut bytes, HEADER_LEN);
            reseal(&mut bytes);
            check(&bytes, Mode::Resealed)
        }
    }
}
