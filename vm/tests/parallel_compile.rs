//! Parallel compilation (`CompileOptions::threads`, `EngineOptions::compile_threads`)
//! gives the same artifact, byte for byte, and the same first error, whatever the thread
//! count: every fixture, C and Rust contract, the generated 2 MiB module and (when
//! present) the shared corpus, compiled on 1, 2 and 3 threads for x86-64 and AArch64.

use gasket_metering::{prepare, Profile};
use gasket_singlepass::{
    compile_buffered_with, compile_prevalidated_buffered_with, Artifact, CompileOptions,
    PrevalidatedWasm, Target,
};
use gasket_vm::{Engine, EngineOptions};

fn threads(threads: usize) -> CompileOptions {
    CompileOptions {
        threads,
        ..CompileOptions::default()
    }
}

/// Every input, by name: those with at least 64 KiB of code take the parallel path.
fn inputs() -> Vec<(String, Vec<u8>)> {
    let mut inputs = gasket_fixtures::named_inputs();
    inputs.push((
        "gen/large_module_2MiB".into(),
        gasket_fixtures::generate::large_module(2 * 1024 * 1024),
    ));
    for (path, wasm) in gasket_fixtures::corpus_contracts() {
        inputs.push((format!("corpus/{}", path.display()), wasm));
    }
    inputs
}

/// The artifact's borsh encoding (everything but the code) and its code.
fn bytes(artifact: Artifact) -> (Vec<u8>, Vec<u8>) {
    let encoded = borsh::to_vec(&artifact).expect("an artifact encodes");
    (encoded, artifact.code)
}

#[test]
fn artifacts_are_identical_whatever_the_thread_count() {
    let profile = Profile::permissive();
    let mut parallel_inputs = 0;
    for (name, wasm) in inputs() {
        let Ok(prepared) = prepare(&wasm, &profile) else {
            continue;
        };
        if prepared.wasm.len() >= 64 * 1024 {
            parallel_inputs += 1;
        }
        for target in [Target::X86_64, Target::Aarch64] {
            let one = compile_buffered_with(&prepared.wasm, target, &threads(1))
                .map(|c| bytes(c.into_artifact()));
            for n in [2, 3] {
                let many = compile_buffered_with(&prepared.wasm, target, &threads(n))
                    .map(|c| bytes(c.into_artifact()));
                match (&one, &many) {
                    (Ok(a), Ok(b)) => {
                        assert!(a == b, "{name} on {n} threads ({target:?}) differs")
                    }
                    (Err(a), Err(b)) => assert_eq!(
                        format!("{a:?}"),
                        format!("{b:?}"),
                        "{name} on {n} threads ({target:?})"
                    ),
                    _ => panic!("{name} on {n} threads ({target:?}): {one:?} vs {many:?}"),
                }
                // SAFETY: `prepare`'s output is valid wasm (its debug assertion checks).
                let trusted = unsafe { PrevalidatedWasm::new_unchecked(&prepared.wasm) };
                let unvalidated = compile_prevalidated_buffered_with(trusted, target, &threads(n))
                    .map(|c| bytes(c.into_artifact()));
                if let (Ok(a), Ok(b)) = (&one, &unvalidated) {
                    assert!(a == b, "{name} prevalidated on {n} threads ({target:?})");
                }
            }
        }
    }
    assert!(parallel_inputs > 0, "no input took the parallel path");
}

/// The offset of each body's last byte (its final `end`), in code-section order.
fn body_ends(wasm: &[u8]) -> Vec<usize> {
    let mut ends = Vec::new();
    for payload in wasmparser::Parser::new(0).parse_all(wasm) {
        if let Ok(wasmparser::Payload::CodeSectionEntry(body)) = payload {
            ends.push(body.range().end as usize - 1);
        }
    }
    ends
}

#[test]
fn the_lowest_failing_function_wins_whatever_the_thread_count() {
    let wasm = gasket_fixtures::generate::large_module(512 * 1024);
    let prepared = prepare(&wasm, &Profile::permissive()).expect("prepares");
    let ends = body_ends(&prepared.wasm);
    assert!(ends.len() > 100, "{} bodies", ends.len());
    let (early, late) = (ends[ends.len() / 3], ends[ends.len() * 3 / 4]);
    // A body whose final `end` is an unknown opcode fails to compile.
    let broken = |at: &[usize]| {
        let mut wasm = prepared.wasm.clone();
        for &at in at {
            assert_eq!(wasm[at], 0x0b, "a body ends with `end`");
            wasm[at] = 0xff;
        }
        wasm
    };
    let first_error = |wasm: &[u8], n: usize| {
        let e = compile_buffered_with(wasm, Target::X86_64, &threads(n))
            .expect_err("a broken body fails");
        format!("{e:?}")
    };
    let both = broken(&[early, late]);
    let only_early = first_error(&broken(&[early]), 1);
    let only_late = first_error(&broken(&[late]), 1);
    assert_ne!(only_early, only_late, "the two errors are told apart");
    for n in [1, 2, 3] {
        assert_eq!(first_error(&both, n), only_early, "{n} threads");
        assert_eq!(first_error(&broken(&[late]), n), only_late, "{n} threads");
    }
    // A malformed section after the code loses to a failing body before it.
    let mut truncated = broken(&[late]);
    truncated.truncate(truncated.len() - 1);
    let trailing = first_error(&truncated, 1);
    for n in [2, 3] {
        assert_eq!(first_error(&truncated, n), trailing, "{n} threads");
    }
}

#[test]
fn an_engine_compiling_on_threads_maps_the_same_code() {
    let wasm = gasket_fixtures::generate::large_module(1024 * 1024);
    let one = Engine::new(Profile::permissive()).expect("an engine");
    let three = Engine::with_options(
        Profile::permissive(),
        EngineOptions {
            compile_threads: 3,
            ..EngineOptions::default()
        },
    )
    .expect("an engine");
    let a = one.compile(&wasm).expect("compiles");
    let b = three.compile(&wasm).expect("compiles on three threads");
    assert!(a.code() == b.code(), "the same code");
}
