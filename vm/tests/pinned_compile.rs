//! Byte-identity pin of the compile pipeline: for every fixture, C and Rust contract, JIT
//! bomb generator, the generated large module and (when present) every contract of the
//! shared corpus, the SHA-256 of
//!
//! - the instrumented wasm `gasket_metering::prepare` writes (permissive profile), and
//! - the compiled artifact for x86-64 and for AArch64 (its code, and its borsh encoding,
//!   which holds everything but the code),
//!
//! must equal the line recorded in `tests/pinned/compile_hashes.txt`. Compile-speed work
//! must not change a single output byte; a change that means to (a new cost table, a
//! codegen improvement) re-blesses the file with
//! `GASKET_BLESS=1 cargo test -p gasket-vm --test pinned_compile` and says why in its
//! commit. Rejected inputs are pinned too, by their error's kind.
//!
//! Corpus lines are checked only when the corpus is present (`../shared/corpus`); a
//! missing corpus skips them and says so.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::PathBuf;

use gasket_metering::{prepare, Profile};
use gasket_singlepass::{compile, compile_prevalidated, PrevalidatedWasm, Target};
use sha2::{Digest, Sha256};

const PINS: &str = "tests/pinned/compile_hashes.txt";
/// Name prefix of corpus inputs (their lines are optional).
const CORPUS: &str = gasket_fixtures::CORPUS_PREFIX;

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .fold(String::new(), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

/// One input's pinned line (without the name).
fn pin(wasm: &[u8], profile: &Profile) -> String {
    let prepared = match prepare(wasm, profile) {
        Ok(prepared) => prepared,
        Err(e) => return format!("rejected {}", error_kind(&format!("{e:?}"))),
    };
    let mut line = format!("wasm={}", sha256_hex(&prepared.wasm));
    for (name, target) in [("x64", Target::X86_64), ("a64", Target::Aarch64)] {
        match compile(&prepared.wasm, target) {
            Ok(artifact) => {
                // The runtime's path (no second validation) must give the same artifact.
                let valid = PrevalidatedWasm::validate(&prepared.wasm).expect("compiled, so valid");
                let trusted = compile_prevalidated(valid, target).expect("compiles again");
                assert!(
                    trusted == artifact,
                    "compile_prevalidated differs from compile for {name}"
                );
                let rest = borsh::to_vec(&artifact).expect("borsh into a Vec cannot fail");
                let _ = write!(
                    line,
                    " {name}.code={} {name}.rest={}",
                    sha256_hex(&artifact.code),
                    sha256_hex(&rest)
                );
            }
            Err(e) => {
                let _ = write!(line, " {name}=failed:{}", error_kind(&format!("{e:?}")));
            }
        }
    }
    line
}

/// The variant name of an error's Debug form: stable across message rewording.
fn error_kind(debug: &str) -> &str {
    debug.split([' ', '{', '(']).next().unwrap_or(debug)
}

fn pins_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(PINS)
}

#[test]
fn instrumented_wasm_and_compiled_code_are_pinned() {
    let profile = Profile::permissive();
    let computed: BTreeMap<String, String> = gasket_fixtures::pinned_inputs()
        .into_iter()
        .map(|(name, wasm)| {
            let line = pin(&wasm, &profile);
            (name, line)
        })
        .collect();

    if std::env::var_os("GASKET_BLESS").is_some_and(|v| v == "1") {
        let mut text = String::from(
            "# sha256 of instrumented wasm (permissive profile) and of compiled code per target.\n\
             # Re-bless: GASKET_BLESS=1 cargo test -p gasket-vm --test pinned_compile\n",
        );
        for (name, line) in &computed {
            let _ = writeln!(text, "{name} {line}");
        }
        std::fs::write(pins_path(), text).expect("write the pins");
        return;
    }

    let text = std::fs::read_to_string(pins_path()).expect("read tests/pinned/compile_hashes.txt");
    let pinned: BTreeMap<&str, &str> = text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .filter_map(|l| l.split_once(' '))
        .collect();

    let mut problems = Vec::new();
    for (name, line) in &computed {
        match pinned.get(name.as_str()) {
            Some(expected) if expected == line => {}
            Some(expected) => {
                problems.push(format!("{name}:\n  pinned   {expected}\n  computed {line}"))
            }
            None => problems.push(format!("{name}: not pinned (computed {line})")),
        }
    }
    let mut skipped_corpus = 0;
    for name in pinned.keys() {
        if computed.contains_key(*name) {
            continue;
        }
        if name.starts_with(CORPUS) && gasket_fixtures::corpus_dir().is_none() {
            skipped_corpus += 1;
        } else {
            problems.push(format!("{name}: pinned but no longer an input"));
        }
    }
    if skipped_corpus > 0 {
        eprintln!("pinned_compile: {skipped_corpus} corpus lines skipped, the corpus is absent");
    }
    assert!(
        problems.is_empty(),
        "{} of {} inputs differ from {PINS} (re-bless with GASKET_BLESS=1 only if the \
         change is meant):\n{}",
        problems.len(),
        computed.len(),
        problems.join("\n")
    );
    // The pins cover the pipeline's interesting paths: not everything may be a rejection.
    let compiled = computed
        .values()
        .filter(|l| l.contains("x64.code="))
        .count();
    assert!(compiled >= 20, "only {compiled} inputs compiled");
}
