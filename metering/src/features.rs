//! Which WebAssembly features a profile admits, and which feature an operator or type uses.
//!
//! Validation itself is wasmparser's, run with exactly the profile's feature set. This module
//! only names the culprit when validation fails, so that a rejection says "floats are not
//! allowed" rather than wasmparser's generic message.

use borsh::{BorshDeserialize, BorshSerialize};
use wasmparser::{Operator, ValType, WasmFeatures};

/// A WebAssembly feature that a profile can reject.
#[derive(
    Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, BorshSerialize, BorshDeserialize,
)]
pub enum Feature {
    /// f32/f64 types and operators: NaN bit patterns are nondeterministic across CPUs.
    Floats,
    /// 128-bit SIMD (and relaxed SIMD, which is nondeterministic by design).
    Simd,
    /// Shared memory and atomics.
    Threads,
    /// 64-bit memories and tables.
    Memory64,
    /// More than one linear memory.
    MultiMemory,
    /// Exception handling (tags, try/catch/throw).
    Exceptions,
    /// Garbage-collected types and typed function references.
    Gc,
    /// `return_call` and `return_call_indirect`.
    TailCalls,
    /// Any other post-2.0 proposal (stack switching, wide arithmetic, extended constants, ...).
    Other,
}

impl Feature {
    /// Stable snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Feature::Floats => "floats",
            Feature::Simd => "simd",
            Feature::Threads => "threads",
            Feature::Memory64 => "memory64",
            Feature::MultiMemory => "multi_memory",
            Feature::Exceptions => "exceptions",
            Feature::Gc => "gc",
            Feature::TailCalls => "tail_calls",
            Feature::Other => "unsupported_proposal",
        }
    }

    /// What the feature is, for messages ("floating point is not allowed").
    pub fn title(self) -> &'static str {
        match self {
            Feature::Floats => "floating point",
            Feature::Simd => "SIMD",
            Feature::Threads => "shared memory and atomics",
            Feature::Memory64 => "memory64",
            Feature::MultiMemory => "more than one memory",
            Feature::Exceptions => "exception handling",
            Feature::Gc => "GC and typed references",
            Feature::TailCalls => "tail calls",
            Feature::Other => "this proposal",
        }
    }

    /// Why the feature is rejected and what the contract author can do about it.
    pub fn advice(self) -> &'static str {
        match self {
            Feature::Floats => "floating-point NaN bit patterns differ between CPUs; remove float use (e.g. avoid float formatting/parsing) or use a profile with a float policy that admits them",
            Feature::Simd => "SIMD is not deterministic across targets; build without the simd128 target feature",
            Feature::Threads => "shared memory and atomics are nondeterministic; build without the atomics target feature",
            Feature::Memory64 => "only 32-bit memories and tables are supported; target wasm32",
            Feature::MultiMemory => "a module may have at most one linear memory",
            Feature::Exceptions => "exception handling is not supported; build with panic=abort",
            Feature::Gc => "GC and typed function references are not supported",
            Feature::TailCalls => "tail calls are not supported; build without the tail-call target feature",
            Feature::Other => "this WebAssembly proposal is not supported by Gasket",
        }
    }
}

impl std::fmt::Display for Feature {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The deterministic feature set: WebAssembly 2.0 without SIMD, optionally without floats.
pub(crate) fn wasm_features(allow_floats: bool) -> WasmFeatures {
    let mut features = WasmFeatures::MUTABLE_GLOBAL
        | WasmFeatures::SIGN_EXTENSION
        | WasmFeatures::MULTI_VALUE
        | WasmFeatures::BULK_MEMORY
        | WasmFeatures::REFERENCE_TYPES
        | WasmFeatures::CALL_INDIRECT_OVERLONG
        | WasmFeatures::BULK_MEMORY_OPT
        | WasmFeatures::GC_TYPES;
    if allow_floats {
        features |= WasmFeatures::FLOATS | WasmFeatures::SATURATING_FLOAT_TO_INT;
    }
    features
}

/// The feature a value type needs beyond the deterministic integer set, if any.
pub(crate) fn val_type_feature(ty: ValType) -> Option<Feature> {
    match ty {
        ValType::I32 | ValType::I64 => None,
        ValType::F32 | ValType::F64 => Some(Feature::Floats),
        ValType::V128 => Some(Feature::Simd),
        ValType::Ref(r) => {
            let exception_type = matches!(
                r.heap_type(),
                wasmparser::HeapType::Abstract {
                    ty: wasmparser::AbstractHeapType::Exn | wasmparser::AbstractHeapType::NoExn,
                    ..
                }
            );
            if exception_type {
                Some(Feature::Exceptions)
            } else if r.is_func_ref() || r.is_extern_ref() {
                if r.is_nullable() && !r.is_concrete_type_ref() {
                    None
                } else {
                    Some(Feature::Gc)
                }
            } else {
                Some(Feature::Gc)
            }
        }
    }
}

/// The feature an operator belongs to, if it is outside the integer deterministic set:
/// by its opcode, or by a value type it carries (`block (result f32)`, `select (result
/// v128)`). Used to name the culprit when validation of an operator fails.
pub(crate) fn operator_feature(op: &Operator<'_>) -> Option<Feature> {
    if is_float_operator(op) {
        return Some(Feature::Floats);
    }
    let carried = match op {
        Operator::Block { blockty } | Operator::Loop { blockty } | Operator::If { blockty } => {
            match blockty {
                wasmparser::BlockType::Type(ty) => val_type_feature(*ty),
                _ => None,
            }
        }
        Operator::TypedSelect { ty } => val_type_feature(*ty),
        Operator::TypedSelectMulti { tys } => tys.iter().find_map(|ty| val_type_feature(*ty)),
        _ => None,
    };
    if carried.is_some() {
        return carried;
    }
    match operator_proposal(op) {
        "simd" | "relaxed_simd" => Some(Feature::Simd),
        "threads" | "shared_everything_threads" | "acquire_release_atomics" => {
            Some(Feature::Threads)
        }
        "exceptions" | "legacy_exceptions" => Some(Feature::Exceptions),
        "gc" | "function_references" | "custom_descriptors" => Some(Feature::Gc),
        "tail_call" => Some(Feature::TailCalls),
        "mvp" | "sign_extension" | "bulk_memory" | "reference_types" => None,
        "saturating_float_to_int" => Some(Feature::Floats),
        _ => Some(Feature::Other),
    }
}

/// Whether a wasmparser operator name mentions an f32/f64 operand or result
/// (`F64Sqrt`, `I32TruncSatF32S`, `I64ReinterpretF64`, ...). Evaluated at compile time.
const fn name_mentions_float(name: &str) -> bool {
    let b = name.as_bytes();
    let mut i = 0;
    while i + 2 < b.len() {
        if b[i] == b'F'
            && ((b[i + 1] == b'3' && b[i + 2] == b'2') || (b[i + 1] == b'6' && b[i + 2] == b'4'))
        {
            return true;
        }
        i += 1;
    }
    false
}

macro_rules! define_operator_tables {
    ($( @$proposal:ident $op:ident $({ $($arg:ident: $argty:ty),* })? => $visit:ident ($($ann:tt)*))*) => {
        /// The wasmparser name of an operator (e.g. `I32Add`).
        pub fn operator_name(op: &Operator<'_>) -> &'static str {
            match op {
                $( Operator::$op { .. } => stringify!($op), )*
                _ => "unknown",
            }
        }

        /// The proposal an operator comes from, as wasmparser groups them (e.g. `mvp`).
        fn operator_proposal(op: &Operator<'_>) -> &'static str {
            match op {
                $( Operator::$op { .. } => stringify!($proposal), )*
                _ => "unknown",
            }
        }

        /// Whether an operator consumes or produces f32/f64 values. Inlined: where the
        /// variant is known (the walk's `classify_inline`) it folds to a constant.
        #[inline(always)]
        pub fn is_float_operator(op: &Operator<'_>) -> bool {
            match op {
                $( Operator::$op { .. } => { const FLOAT: bool = name_mentions_float(stringify!($op)); FLOAT } )*
                _ => false,
            }
        }
    };
}
wasmparser::for_each_operator!(define_operator_tables);

/// Whether the first CamelCase word of an operator name is a namespace in the text format
/// (`i32.add`, `memory.grow`) rather than part of the name (`br_table`, `call_indirect`).
fn is_text_namespace(word: &str) -> bool {
    matches!(
        word,
        "I32"
            | "I64"
            | "F32"
            | "F64"
            | "V128"
            | "I8x16"
            | "I16x8"
            | "I32x4"
            | "I64x2"
            | "F32x4"
            | "F64x2"
            | "Memory"
            | "Table"
            | "Local"
            | "Global"
            | "Ref"
            | "Data"
            | "Elem"
    )
}

/// The text-format mnemonic of an operator, e.g. `i32.trunc_sat_f64_u`, for error messages.
pub fn operator_mnemonic(op: &Operator<'_>) -> String {
    let name = operator_name(op);
    // Split CamelCase into words; digits and lowercase letters continue the current word.
    let mut words: Vec<&str> = Vec::new();
    let mut start = 0;
    for (i, ch) in name.char_indices().skip(1) {
        if ch.is_ascii_uppercase() {
            words.push(&name[start..i]);
            start = i;
        }
    }
    words.push(&name[start..]);
    let mut out = String::with_capacity(name.len() + words.len());
    for (i, word) in words.iter().enumerate() {
        if i == 1 {
            out.push(if is_text_namespace(words[0]) {
                '.'
            } else {
                '_'
            });
        } else if i > 1 {
            out.push('_');
        }
        out.push_str(&word.to_ascii_lowercase());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mnemonics_read_like_the_text_format() {
        assert_eq!(operator_mnemonic(&Operator::I32Add), "i32.add");
        assert_eq!(operator_mnemonic(&Operator::F32Add), "f32.add");
        assert_eq!(
            operator_mnemonic(&Operator::I32TruncSatF64U),
            "i32.trunc_sat_f64_u"
        );
        assert_eq!(operator_mnemonic(&Operator::Nop), "nop");
        assert_eq!(
            operator_mnemonic(&Operator::CallIndirect {
                type_index: 0,
                table_index: 0
            }),
            "call_indirect"
        );
        assert_eq!(operator_mnemonic(&Operator::RefIsNull), "ref.is_null");
        assert_eq!(
            operator_mnemonic(&Operator::LocalGet { local_index: 0 }),
            "local.get"
        );
        assert_eq!(
            operator_mnemonic(&Operator::MemoryGrow { mem: 0 }),
            "memory.grow"
        );
        assert_eq!(operator_mnemonic(&Operator::I64Extend32S), "i64.extend32_s");
    }

    #[test]
    fn features_name_the_culprit() {
        assert_eq!(operator_feature(&Operator::F64Sqrt), Some(Feature::Floats));
        assert_eq!(
            operator_feature(&Operator::I32TruncSatF32S),
            Some(Feature::Floats)
        );
        assert_eq!(operator_feature(&Operator::I32Add), None);
        assert_eq!(
            operator_feature(&Operator::ReturnCall { function_index: 0 }),
            Some(Feature::TailCalls)
        );
        assert_eq!(
            operator_feature(&Operator::AtomicFence {
                ordering: wasmparser::Ordering::SeqCst
            }),
            Some(Feature::Threads)
        );
        assert_eq!(
            operator_feature(&Operator::I8x16Swizzle),
            Some(Feature::Simd)
        );
        let f32_block = wasmparser::BlockType::Type(ValType::F32);
        assert_eq!(
            operator_feature(&Operator::Loop { blockty: f32_block }),
            Some(Feature::Floats)
        );
        assert_eq!(
            operator_feature(&Operator::TypedSelect { ty: ValType::V128 }),
            Some(Feature::Simd)
        );
        assert_eq!(
            operator_feature(&Operator::TypedSelect { ty: ValType::I64 }),
            None
        );
    }
}
