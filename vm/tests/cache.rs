//! Serialized modules and the engine cache: round trips, every kind of corruption and
//! truncation refused with a typed error, compile-once under concurrency, atomic disk
//! files.

use std::sync::Arc;

use gasket_vm::cache::{layout, ArtifactError, HEADER_LEN};
use gasket_vm::metering::Profile;
use gasket_vm::testing::TestChain;
use gasket_vm::{Engine, LoadError, Module};

fn engine() -> Engine {
    Engine::new(Profile::contract()).unwrap()
}

fn counter() -> Vec<u8> {
    gasket_fixtures::wasm("counter")
}

fn artifact_error(r: Result<Module, LoadError>) -> ArtifactError {
    match r {
        Err(LoadError::Artifact(e)) => e,
        Err(e) => panic!("refused for another reason: {e}"),
        Ok(_) => panic!("accepted"),
    }
}

fn scratch(tag: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("gasket-cache-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Runs `increment` twice on a module; the counter proves the code works.
fn exercise(module: Module) {
    let mut chain = TestChain::new();
    chain.deploy_module("c", module);
    assert_eq!(chain.call("c", "increment").run().unwrap().unwrap_u64(), 1);
    assert_eq!(chain.call("c", "increment").run().unwrap().unwrap_u64(), 2);
}

#[test]
fn round_trip_is_identical_and_runs() {
    let engine = engine();
    let module = engine.compile(&counter()).unwrap();
    let bytes = module.serialize();
    assert_eq!(&bytes[..8], b"GASKETMD");
    assert_eq!(
        bytes,
        engine.compile(&counter()).unwrap().serialize(),
        "deterministic"
    );
    let back = Module::deserialize(&engine, &bytes).unwrap();
    assert_eq!(back.to_artifact(), module.to_artifact());
    assert_eq!(back.info(), module.info());
    exercise(back);
}

#[test]
fn every_corrupted_byte_is_refused_with_a_typed_error() {
    let engine = engine();
    let bytes = engine.compile(&counter()).unwrap().serialize();
    for i in 0..bytes.len() {
        for flip in [0x01u8, 0x80] {
            let mut bad = bytes.clone();
            bad[i] ^= flip;
            let e = artifact_error(Module::deserialize(&engine, &bad));
            let expected_kinds: &[&str] = if layout::MAGIC.contains(&i) {
                &["not_an_artifact"]
            } else if layout::FORMAT_VERSION.contains(&i) || layout::ARTIFACT_FORMAT.contains(&i) {
                &["wrong_artifact_version"]
            } else if layout::COMPILER.contains(&i) {
                &["wrong_compiler_version"]
            } else if layout::TARGET.contains(&i) {
                &["wrong_target"]
            } else if layout::PROFILE.contains(&i) {
                &["wrong_profile"]
            } else if layout::PAYLOAD_LEN.contains(&i) {
                &["truncated_artifact", "corrupt_artifact"]
            } else {
                // The hash itself, or the payload.
                &["corrupt_artifact"]
            };
            assert!(
                expected_kinds.contains(&e.kind()),
                "byte {i} ^ {flip:#x}: {e} ({})",
                e.kind()
            );
        }
    }
}

#[test]
fn every_truncation_and_extension_is_refused() {
    let engine = engine();
    let bytes = engine.compile(&counter()).unwrap().serialize();
    for len in 0..bytes.len() {
        let e = artifact_error(Module::deserialize(&engine, &bytes[..len]));
        if len < HEADER_LEN {
            assert!(matches!(e, ArtifactError::Truncated { .. }), "{len}: {e}");
        } else {
            assert_eq!(e.kind(), "truncated_artifact", "{len}: {e}");
        }
    }
    let mut longer = bytes.clone();
    longer.push(0);
    assert_eq!(
        artifact_error(Module::deserialize(&engine, &longer)),
        ArtifactError::TrailingBytes(1)
    );
    assert_eq!(
        artifact_error(Module::deserialize(&engine, b"\0asm\x01\0\0\0")),
        ArtifactError::NotAnArtifact
    );
}

/// Serialized format 4: the code ends the file at a page-aligned offset, behind zeros
/// the checksum covers; a disk load maps it executable straight from the file.
#[test]
fn the_code_is_page_aligned_in_the_file_and_mapped_from_it() {
    let engine = engine();
    let module = engine.compile(&counter()).unwrap();
    let bytes = module.serialize();
    let code_at = bytes.len() - module.code().len();
    assert_eq!(code_at % gasket_vm::cache::CODE_ALIGN, 0);
    assert_eq!(&bytes[code_at..], module.code());

    // Padding that is not zero is refused even with a valid checksum.
    assert_eq!(bytes[code_at - 1], 0, "the counter's payload needs padding");
    let mut bad = bytes.clone();
    bad[code_at - 1] = 1;
    let hash = gasket_vm::cache::checksum(&bad[..layout::HASH.start], &bad[HEADER_LEN..]);
    bad[layout::HASH].copy_from_slice(&hash);
    assert_eq!(
        artifact_error(Module::deserialize(&engine, &bad)).kind(),
        "malformed_artifact"
    );

    let dir = scratch("mapped");
    let path = dir.join("counter.gasket");
    std::fs::write(&path, &bytes).unwrap();
    let loaded = Module::deserialize_file(&engine, &path).unwrap();
    assert_eq!(loaded.code(), module.code());
    let addr = loaded.code().as_ptr() as usize;
    let maps = std::fs::read_to_string("/proc/self/maps").unwrap();
    let line = maps
        .lines()
        .find(|l| {
            let range = l.split_whitespace().next().unwrap();
            let (lo, hi) = range.split_once('-').unwrap();
            let lo = usize::from_str_radix(lo, 16).unwrap();
            let hi = usize::from_str_radix(hi, 16).unwrap();
            (lo..hi).contains(&addr)
        })
        .expect("the code is mapped");
    assert!(line.contains(" r-xp "), "never writable: {line}");
    assert!(
        line.ends_with("counter.gasket"),
        "mapped from the file: {line}"
    );
    exercise(loaded);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn wrong_profile_and_target_are_refused() {
    let bytes = engine().compile(&counter()).unwrap().serialize();
    let permissive = Engine::new(Profile::permissive()).unwrap();
    assert_eq!(
        artifact_error(Module::deserialize(&permissive, &bytes)).kind(),
        "wrong_profile"
    );
    // An AArch64 artifact, properly hashed, is refused by an x86-64 engine.
    let prepared = gasket_vm::metering::prepare(&counter(), &Profile::contract()).unwrap();
    let artifact =
        gasket_vm::singlepass::compile(&prepared.wasm, gasket_vm::singlepass::Target::Aarch64)
            .unwrap();
    let arm = gasket_vm::cache::serialize_parts(&artifact, &prepared.info, &Profile::contract());
    assert_eq!(
        artifact_error(Module::deserialize(&engine(), &arm)),
        ArtifactError::WrongTarget {
            found: "aarch64".into(),
            expected: "x86_64"
        }
    );
}

#[test]
fn cache_key_covers_wasm_and_profile() {
    let (c, p) = (engine(), Engine::new(Profile::permissive()).unwrap());
    let wasm = counter();
    assert_eq!(c.cache_key(&wasm), engine().cache_key(&wasm));
    assert_ne!(c.cache_key(&wasm), p.cache_key(&wasm));
    let mut other = wasm.clone();
    other.push(0);
    assert_ne!(c.cache_key(&wasm), c.cache_key(&other));
    let mut costly = Profile::contract();
    costly.costs.version += 1;
    assert_ne!(
        c.cache_key(&wasm),
        Engine::new(costly).unwrap().cache_key(&wasm)
    );
}

#[test]
fn memory_cache_compiles_once_even_under_concurrency() {
    let engine = engine();
    let wasm = Arc::new(counter());
    let threads: Vec<_> = (0..8)
        .map(|_| {
            let (engine, wasm) = (engine.clone(), wasm.clone());
            std::thread::spawn(move || engine.load(&wasm).unwrap())
        })
        .collect();
    let modules: Vec<Module> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    let stats = engine.cache_stats();
    assert_eq!(stats.compiles, 1, "{stats:?}");
    assert_eq!(stats.memory_hits, 7, "{stats:?}");
    assert!(modules
        .windows(2)
        .all(|w| w[0].to_artifact() == w[1].to_artifact()));
    // Rejections are not cached (and not counted as compiles).
    assert!(engine.load(b"junk").is_err());
    assert!(engine.load(b"junk").is_err());
    assert_eq!(engine.cache_stats().compiles, 1);
    exercise(modules[0].clone());
}

#[test]
fn disk_cache_survives_engines_and_replaces_bad_files() {
    let dir = scratch("disk");
    let wasm = counter();
    let first = Engine::with_cache_dir(Profile::contract(), &dir).unwrap();
    first.load(&wasm).unwrap();
    assert_eq!(first.cache_stats().disk_writes, 1);
    let path = first.cache_path(&first.cache_key(&wasm)).unwrap();
    assert!(path.is_file());
    let names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names.len(), 1, "no temporary files left: {names:?}");

    // A new engine (a restarted node) loads from disk without compiling.
    let second = Engine::with_cache_dir(Profile::contract(), &dir).unwrap();
    exercise(second.load(&wasm).unwrap());
    let s = second.cache_stats();
    assert_eq!((s.compiles, s.disk_hits), (0, 1), "{s:?}");

    // A half-written or corrupted file is never used: recompiled and replaced.
    let good = std::fs::read(&path).unwrap();
    for bad in [good[..good.len() / 2].to_vec(), {
        let mut b = good.clone();
        let n = b.len();
        b[n - 10] ^= 0xff;
        b
    }] {
        std::fs::write(&path, &bad).unwrap();
        let third = Engine::with_cache_dir(Profile::contract(), &dir).unwrap();
        exercise(third.load(&wasm).unwrap());
        let s = third.cache_stats();
        assert_eq!(
            (s.compiles, s.disk_rejected, s.disk_writes),
            (1, 1, 1),
            "{s:?}"
        );
        assert_eq!(std::fs::read(&path).unwrap(), good);
    }
    // Stray temporary files from a crash are ignored.
    std::fs::write(dir.join(".stray.gasket.1.0.tmp"), b"GASKETMD partial").unwrap();
    let fourth = Engine::with_cache_dir(Profile::contract(), &dir).unwrap();
    fourth.load(&wasm).unwrap();
    assert_eq!(fourth.cache_stats().disk_hits, 1);
    let _ = std::fs::remove_dir_all(&dir);
}

/// The node example (`vm/examples/node.rs`), run as a test.
#[allow(dead_code)]
#[path = "../examples/node.rs"]
mod node_example;

/// Issue 21 item 13: the node example's disk cache is its own, so every run is a first
/// run (one compile, no disk hit), however many ran before.
#[test]
fn node_example_runs_start_with_an_empty_disk_cache() {
    for _ in 0..2 {
        let (accounts, total, stats) = node_example::run();
        assert_eq!((accounts, total), (8, 200));
        assert_eq!(
            (stats.compiles, stats.disk_hits, stats.disk_writes),
            (1, 0, 1)
        );
    }
}

#[test]
fn load_by_hash_hits_without_the_bytes_and_checks_them_on_a_miss() {
    use sha2::Digest;
    let engine = engine();
    let wasm = counter();
    let hash: [u8; 32] = sha2::Sha256::digest(&wasm).into();
    let module = engine
        .load_by_hash(&hash, || wasm.as_slice().into())
        .unwrap();
    assert_eq!(engine.cache_stats().compiles, 1);
    // A hit never asks for the bytes.
    let again = engine
        .load_by_hash(&hash, || panic!("the bytes are not needed on a hit"))
        .unwrap();
    assert_eq!(again.to_artifact(), module.to_artifact());
    assert_eq!(engine.cache_stats().compiles, 1);
    // The same bytes through `load` share the compiled module.
    engine.load(&wasm).unwrap();
    assert_eq!(engine.cache_stats().compiles, 1);
    exercise(again);
    // Bytes that do not hash to the code hash: typed, and nothing cached under it.
    let wrong = [7u8; 32];
    let err = engine
        .load_by_hash(&wrong, || wasm.as_slice().into())
        .unwrap_err();
    assert_eq!(err.kind(), "code_hash_mismatch", "{err}");
    let err = engine
        .load_by_hash(&wrong, || wasm.as_slice().into())
        .unwrap_err();
    assert_eq!(err.kind(), "code_hash_mismatch");
    // Rejected wasm is an error, not a cached module.
    let junk = b"not wasm".to_vec();
    let junk_hash: [u8; 32] = sha2::Sha256::digest(&junk).into();
    assert_eq!(
        engine
            .load_by_hash(&junk_hash, || junk.as_slice().into())
            .unwrap_err()
            .kind(),
        "invalid_module"
    );
    engine.clear_memory_cache();
    engine
        .load_by_hash(&hash, || wasm.as_slice().into())
        .unwrap();
    assert_eq!(engine.cache_stats().compiles, 2);
}

#[test]
fn an_unwritable_cache_directory_costs_only_the_disk_copy() {
    // A directory whose parent is a regular file cannot be created, even by root.
    let dir = scratch("unwritable");
    let blocker = dir.join("file");
    std::fs::write(&blocker, b"not a directory").unwrap();
    let engine = Engine::with_cache_dir(Profile::contract(), blocker.join("cache")).unwrap();
    let module = engine.load(&counter()).unwrap();
    let s = engine.cache_stats();
    assert_eq!(
        (s.compiles, s.disk_writes, s.disk_write_failures),
        (1, 0, 1),
        "{s:?}"
    );
    exercise(module);
    // Still cached in memory.
    engine.load(&counter()).unwrap();
    assert_eq!(engine.cache_stats().memory_hits, 1);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Set in the child processes of `two_processes_writing_one_entry_never_load_a_torn_file`.
const WRITER_CHILD: &str = "GASKET_CACHE_TEST_WRITER_DIR";

#[test]
fn two_processes_writing_one_entry_never_load_a_torn_file() {
    if let Some(dir) = std::env::var_os(WRITER_CHILD) {
        // Each round: a fresh engine loads from disk or compiles and writes the entry,
        // while the other process does the same; every load must verify and run.
        let wasm = counter();
        for _ in 0..20 {
            let engine = Engine::with_cache_dir(Profile::contract(), &dir).unwrap();
            let path = engine.cache_path(&engine.cache_key(&wasm)).unwrap();
            if std::process::id().is_multiple_of(2) {
                let _ = std::fs::remove_file(&path);
            }
            exercise(engine.load(&wasm).unwrap());
            assert_eq!(engine.cache_stats().disk_rejected, 0);
        }
        println!("writer child: ok");
        return;
    }
    let dir = scratch("writers");
    let spawn = || {
        std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "two_processes_writing_one_entry_never_load_a_torn_file",
                "--nocapture",
            ])
            .env(WRITER_CHILD, &dir)
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    let children = [spawn(), spawn()];
    for child in children {
        let out = child.wait_with_output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && stdout.contains("writer child: ok"),
            "{stdout}"
        );
    }
    let names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names.len(), 1, "one entry, no temporary files: {names:?}");
    let engine = Engine::with_cache_dir(Profile::contract(), &dir).unwrap();
    engine.load(&counter()).unwrap();
    assert_eq!(engine.cache_stats().disk_hits, 1);
    let _ = std::fs::remove_dir_all(&dir);
}
