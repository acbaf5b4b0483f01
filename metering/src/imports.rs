//! Import checks: the reserved namespace, and under the contract profile, the host ABI.

use gasket_host_api::near::NearFunction;
use gasket_host_api::{HostFunction, WasmType, ABI_VERSION, ENV_MODULE, RESERVED_MODULE};
use wasmparser::{FuncType, TypeRef, ValType};

use crate::error::PrepareError;
use crate::profile::ImportPolicy;

/// Checks one import; returns the host function it resolves to, if any: an ABI v1
/// function (profiles `contract` and `permissive`) or a NEAR one (profile `near`).
pub(crate) fn check_import(
    index: u32,
    module: &str,
    name: &str,
    ty: &TypeRef,
    func_type: Option<&FuncType>,
    policy: ImportPolicy,
) -> Result<(Option<HostFunction>, Option<NearFunction>), PrepareError> {
    if module == RESERVED_MODULE {
        return Err(PrepareError::ReservedImport {
            index,
            module: module.to_string(),
            name: name.to_string(),
        });
    }
    if policy == ImportPolicy::Near {
        check_kind(index, module, name, ty)?;
        return check_near_import(index, module, name, func_type).map(|f| (None, Some(f)));
    }
    check_v1_import(index, module, name, ty, func_type, policy).map(|f| (f, None))
}

/// Only function imports are admitted by the contract and near profiles.
fn check_kind(index: u32, module: &str, name: &str, ty: &TypeRef) -> Result<(), PrepareError> {
    let kind = match ty {
        TypeRef::Func(_) | TypeRef::FuncExact(_) => return Ok(()),
        TypeRef::Memory(_) => "memory",
        TypeRef::Table(_) => "table",
        TypeRef::Global(_) => "global",
        TypeRef::Tag(_) => "tag",
    };
    Err(PrepareError::ImportKindNotAllowed {
        index,
        module: module.to_string(),
        name: name.to_string(),
        kind,
    })
}

fn check_near_import(
    index: u32,
    module: &str,
    name: &str,
    func_type: Option<&FuncType>,
) -> Result<NearFunction, PrepareError> {
    let function = (module == ENV_MODULE)
        .then(|| NearFunction::from_name(name))
        .flatten()
        .ok_or_else(|| PrepareError::UnknownNearImport {
            index,
            module: module.to_string(),
            name: name.to_string(),
        })?;
    let sig = function.signature();
    match func_type {
        Some(t) if same_types(sig.params, t.params()) && same_types(sig.results, t.results()) => {
            Ok(function)
        }
        _ => Err(PrepareError::NearImportSignatureMismatch {
            index,
            module: module.to_string(),
            name: name.to_string(),
            expected: sig.to_string(),
            found: func_type
                .map(render_func_type)
                .unwrap_or_else(|| "a non-function type".into()),
        }),
    }
}

fn check_v1_import(
    index: u32,
    module: &str,
    name: &str,
    ty: &TypeRef,
    func_type: Option<&FuncType>,
    policy: ImportPolicy,
) -> Result<Option<HostFunction>, PrepareError> {
    let host_function = (module == ENV_MODULE)
        .then(|| HostFunction::from_name(name))
        .flatten();
    if policy == ImportPolicy::Any {
        // Any import resolves at instantiation; a host ABI name is still recognised so the
        // runtime can dispatch it, but only when its signature matches.
        let matches = match (host_function, func_type) {
            (Some(f), Some(t)) => signature_matches(f, t),
            _ => false,
        };
        return Ok(host_function.filter(|_| matches));
    }
    check_kind(index, module, name, ty)?;
    let Some(function) = host_function else {
        return Err(PrepareError::UnknownImport {
            index,
            module: module.to_string(),
            name: name.to_string(),
            abi: ABI_VERSION,
        });
    };
    match func_type {
        Some(t) if signature_matches(function, t) => Ok(Some(function)),
        _ => Err(PrepareError::ImportSignatureMismatch {
            index,
            module: module.to_string(),
            name: name.to_string(),
            expected: render_host_signature(function),
            found: func_type
                .map(render_func_type)
                .unwrap_or_else(|| "a non-function type".into()),
            abi: ABI_VERSION,
        }),
    }
}

fn signature_matches(function: HostFunction, ty: &FuncType) -> bool {
    let sig = function.signature();
    same_types(sig.params, ty.params()) && same_types(sig.results, ty.results())
}

fn same_types(host: &[WasmType], wasm: &[ValType]) -> bool {
    host.len() == wasm.len()
        && host.iter().zip(wasm).all(|(h, w)| {
            matches!(
                (h, w),
                (WasmType::I32, ValType::I32) | (WasmType::I64, ValType::I64)
            )
        })
}

fn render_host_signature(function: HostFunction) -> String {
    let sig = function.signature();
    let list = |types: &[WasmType]| {
        types
            .iter()
            .map(|t| match t {
                WasmType::I32 => "i32",
                WasmType::I64 => "i64",
            })
            .collect::<Vec<_>>()
            .join(", ")
    };
    format!("({}) -> ({})", list(sig.params), list(sig.results))
}

fn render_func_type(ty: &FuncType) -> String {
    let list = |types: &[ValType]| {
        types
            .iter()
            .map(|t| t.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    };
    format!("({}) -> ({})", list(ty.params()), list(ty.results()))
}
