//! Values crossing the boundary between the embedder and wasm, and how each one is
//! encoded in an 8-byte slot (argument areas, globals, tables).

use std::fmt;

use gasket_singlepass::{FuncSig, ValType};

/// A wasm value as the embedder sees it.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Value {
    /// A 32-bit integer.
    I32(i32),
    /// A 64-bit integer.
    I64(i64),
    /// An f32, as its bit pattern (only modules of a float-admitting profile have these).
    F32(u32),
    /// An f64, as its bit pattern.
    F64(u64),
    /// A function reference, by function index in the module's (instrumented) index
    /// space; `None` is `ref.null func`.
    FuncRef(Option<u32>),
    /// An opaque host reference chosen by the embedder; `None` is `ref.null extern`.
    ExternRef(Option<u32>),
}

impl Value {
    /// The value's type.
    pub fn ty(&self) -> ValType {
        match self {
            Value::I32(_) => ValType::I32,
            Value::I64(_) => ValType::I64,
            Value::F32(_) => ValType::F32,
            Value::F64(_) => ValType::F64,
            Value::FuncRef(_) => ValType::FuncRef,
            Value::ExternRef(_) => ValType::ExternRef,
        }
    }

    /// The zero value of a type (what a null reference is for reference types).
    pub fn default_for(ty: ValType) -> Value {
        match ty {
            ValType::I32 => Value::I32(0),
            ValType::I64 => Value::I64(0),
            ValType::F32 => Value::F32(0),
            ValType::F64 => Value::F64(0),
            ValType::FuncRef => Value::FuncRef(None),
            ValType::ExternRef => Value::ExternRef(None),
        }
    }
}

/// The text form of a type (`i32`, `funcref`, …).
pub fn type_name(ty: ValType) -> &'static str {
    match ty {
        ValType::I32 => "i32",
        ValType::I64 => "i64",
        ValType::F32 => "f32",
        ValType::F64 => "f64",
        ValType::FuncRef => "funcref",
        ValType::ExternRef => "externref",
    }
}

/// Renders a signature as `(i32, i64) -> (i32)`.
pub fn signature_string(sig: &FuncSig) -> String {
    let list = |types: &[ValType]| {
        types
            .iter()
            .map(|t| type_name(*t))
            .collect::<Vec<_>>()
            .join(", ")
    };
    format!("({}) -> ({})", list(&sig.params), list(&sig.results))
}

impl fmt::Display for Value {
    /// The CLI form: `i32:-5`, `i64:7`, `f64:0.1`, `f32:2.0`, `f64:1e300`, `f32:-inf`, `f32:nan:0x7fc00000` (a NaN
    /// with its bit pattern), `funcref:3`, `funcref:null`, `externref:1`. Finite floats
    /// print the shortest decimal that reads back to the same bits.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let opt = |f: &mut fmt::Formatter<'_>, name: &str, v: &Option<u32>| match v {
            Some(i) => write!(f, "{name}:{i}"),
            None => write!(f, "{name}:null"),
        };
        match self {
            Value::I32(v) => write!(f, "i32:{v}"),
            Value::I64(v) => write!(f, "i64:{v}"),
            Value::F32(bits) if f32::from_bits(*bits).is_nan() => write!(f, "f32:nan:{bits:#010x}"),
            Value::F64(bits) if f64::from_bits(*bits).is_nan() => write!(f, "f64:nan:{bits:#018x}"),
            // Debug is the shortest round-trip form, with an exponent for very large and
            // very small magnitudes (`1e300`, not 301 digits).
            Value::F32(bits) => write!(f, "f32:{:?}", f32::from_bits(*bits)),
            Value::F64(bits) => write!(f, "f64:{:?}", f64::from_bits(*bits)),
            Value::FuncRef(v) => opt(f, "funcref", v),
            Value::ExternRef(v) => opt(f, "externref", v),
        }
    }
}

/// Encodes an externref for a slot: `n` as `n + 1`, null as 0.
pub(crate) fn encode_externref(v: Option<u32>) -> u64 {
    v.map_or(0, |n| u64::from(n) + 1)
}

/// Decodes an externref slot.
pub(crate) fn decode_externref(bits: u64) -> Option<u32> {
    bits.checked_sub(1).and_then(|n| u32::try_from(n).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_is_the_cli_form() {
        assert_eq!(Value::I32(-5).to_string(), "i32:-5");
        assert_eq!(Value::I64(7).to_string(), "i64:7");
        assert_eq!(Value::FuncRef(None).to_string(), "funcref:null");
        assert_eq!(Value::ExternRef(Some(2)).to_string(), "externref:2");
    }

    #[test]
    fn externref_encoding_round_trips() {
        assert_eq!(encode_externref(None), 0);
        assert_eq!(encode_externref(Some(0)), 1);
        assert_eq!(decode_externref(1), Some(0));
        assert_eq!(decode_externref(0), None);
        assert_eq!(
            decode_externref(encode_externref(Some(u32::MAX))),
            Some(u32::MAX)
        );
    }

    #[test]
    fn signatures_render() {
        let sig = FuncSig {
            params: vec![ValType::I32, ValType::I64],
            results: vec![ValType::I32],
        };
        assert_eq!(signature_string(&sig), "(i32, i64) -> (i32)");
    }
}
