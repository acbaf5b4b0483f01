//! Building an instance's state from a module (wasm 2.0 instantiation, in order): resolve
//! imports, create memory and tables, evaluate globals and element items, then apply the
//! active segments. The start function runs afterwards, in `Instance::new`.

use gasket_host_api::RESERVED_MODULE;
use gasket_singlepass::{
    ConstExpr, ConstOp, ElementMode, FuncRef, FunctionKind, ImportKind, TableDef, TrapKind,
};

use crate::data_segments::DataSegments;
use crate::error::{InstantiationError, Trap};
use crate::imports::{Definition, Imports, Limits};
use crate::memory::{LinearMemory, MemoryError, MAX_WASM_PAGES};
use crate::module::Module;
use crate::runtime::{FuncImport, Runtime, Table};
use crate::values::{signature_string, type_name, Value};

fn malformed(message: impl Into<String>) -> InstantiationError {
    InstantiationError::Malformed(message.into())
}

/// Evaluates a constant expression to its slot encoding. `global` reads an earlier
/// global's slot; `funcref` encodes `ref.func`.
pub(crate) fn eval_const(
    expr: &ConstExpr,
    global: &dyn Fn(u32) -> Option<u64>,
    funcref: &dyn Fn(u32) -> Option<u64>,
) -> Result<u64, InstantiationError> {
    let mut stack: Vec<u64> = Vec::with_capacity(4);
    let underflow = || malformed("constant expression pops an empty stack");
    for op in &expr.ops {
        let value = match *op {
            ConstOp::I32Const(v) => u64::from(v as u32),
            ConstOp::I64Const(v) => v as u64,
            ConstOp::F32Const(bits) => u64::from(bits),
            ConstOp::F64Const(bits) => bits,
            ConstOp::GlobalGet(i) => global(i).ok_or_else(|| {
                malformed(format!(
                    "constant expression reads global {i}, which is not an earlier global"
                ))
            })?,
            ConstOp::RefNull(_) => 0,
            ConstOp::RefFunc(i) => funcref(i).ok_or_else(|| {
                malformed(format!(
                    "constant expression refers to missing function {i}"
                ))
            })?,
            ConstOp::I32Add | ConstOp::I32Sub | ConstOp::I32Mul => {
                let b = stack.pop().ok_or_else(underflow)? as u32;
                let a = stack.pop().ok_or_else(underflow)? as u32;
                u64::from(match *op {
                    ConstOp::I32Add => a.wrapping_add(b),
                    ConstOp::I32Sub => a.wrapping_sub(b),
                    _ => a.wrapping_mul(b),
                })
            }
            ConstOp::I64Add | ConstOp::I64Sub | ConstOp::I64Mul => {
                let b = stack.pop().ok_or_else(underflow)?;
                let a = stack.pop().ok_or_else(underflow)?;
                match *op {
                    ConstOp::I64Add => a.wrapping_add(b),
                    ConstOp::I64Sub => a.wrapping_sub(b),
                    _ => a.wrapping_mul(b),
                }
            }
        };
        stack.push(value);
    }
    match (stack.pop(), stack.is_empty()) {
        (Some(v), true) => Ok(v),
        _ => Err(malformed(
            "constant expression must leave exactly one value",
        )),
    }
}

/// Evaluates `expr` against the state built so far (globals before `limit` only).
fn eval_in(rt: &Runtime, expr: &ConstExpr, limit: u32) -> Result<u64, InstantiationError> {
    eval_const(
        expr,
        &|i| if i < limit { rt.global(i) } else { None },
        &|i| rt.funcref_bits(i),
    )
}

/// Builds the state of a new instance, segments applied (the start function not run).
pub(crate) fn build(
    module: &Module,
    imports: &Imports,
) -> Result<Box<Runtime>, InstantiationError> {
    let m = &module.inner;
    let artifact = &m.artifact;
    let layout = &artifact.module;
    let limits = &m.profile.limits;
    let global_count =
        u32::try_from(layout.globals.len()).map_err(|_| malformed("too many globals"))?;
    let mut rt = Runtime::new(global_count);

    // Function references, for every function of the index space.
    rt.funcrefs = artifact
        .functions
        .iter()
        .map(|f| FuncRef {
            code: m.code.at(f.code_offset).unwrap_or(std::ptr::null()),
            type_id: f.type_id,
            _reserved: 0,
        })
        .collect();

    // 1. Imports. Host ABI functions were resolved by name once, in `Module` (a module
    // may have thousands of imports).
    let mut import_funcs = vec![None; layout.imports.len()];
    for (index, f) in artifact.functions.iter().enumerate() {
        if let FunctionKind::Import { import } = f.kind {
            if let Some(slot) = import_funcs.get_mut(import as usize) {
                *slot = Some(index);
            }
        }
    }
    rt.imports = vec![None; artifact.functions.len()];
    let mut imported_globals = Vec::new();
    // Limits given by the embedder for imported memories and tables (in table order).
    let mut memory_limits: Option<Limits> = None;
    let mut table_limits: Vec<Option<Limits>> = Vec::new();
    for (i, import) in layout.imports.iter().enumerate() {
        let (module_name, name) = (import.module.as_str(), import.name.as_str());
        if module_name == RESERVED_MODULE && matches!(import.kind, ImportKind::Function { .. }) {
            continue; // A metering intrinsic, compiled inline.
        }
        let provided = imports.get(module_name, name);
        let incompatible =
            |expected: String, found: String| InstantiationError::IncompatibleImport {
                module: module_name.into(),
                name: name.into(),
                expected,
                found,
            };
        let unknown = |kind: &'static str| InstantiationError::UnknownImport {
            module: module_name.into(),
            name: name.into(),
            kind,
        };
        match &import.kind {
            ImportKind::Function { type_index } => {
                let sig = artifact
                    .types
                    .get(*type_index as usize)
                    .ok_or_else(|| malformed(format!("import {i} has no type")))?;
                let binding = match provided {
                    Some(Definition::Func(host)) => {
                        if host.sig != *sig {
                            return Err(incompatible(
                                format!("func {}", signature_string(sig)),
                                format!("func {}", signature_string(&host.sig)),
                            ));
                        }
                        FuncImport::Host(host.clone())
                    }
                    Some(other) => {
                        return Err(incompatible(
                            format!("func {}", signature_string(sig)),
                            other.kind().into(),
                        ))
                    }
                    None => match m.import_abi.get(i).copied().flatten() {
                        Some(func) => FuncImport::from(func),
                        None => return Err(unknown("func")),
                    },
                };
                let index = import_funcs[i].ok_or_else(|| {
                    malformed(format!("import {i} is not in the function index space"))
                })?;
                rt.imports[index] = Some(binding);
            }
            ImportKind::Memory(declared) => match provided {
                Some(Definition::Memory(limits)) => {
                    if let Some(limits) = limits {
                        if !limits.satisfies(declared.min_pages, declared.max_pages) {
                            let declared = Limits {
                                min: declared.min_pages,
                                max: declared.max_pages,
                            };
                            return Err(incompatible(
                                format!("memory {declared}"),
                                format!("memory {limits}"),
                            ));
                        }
                    }
                    memory_limits = *limits;
                }
                Some(other) => return Err(incompatible("memory".into(), other.kind().into())),
                None => return Err(unknown("memory")),
            },
            ImportKind::Table(declared) => match provided {
                Some(Definition::Table(limits)) => {
                    if let Some(limits) = limits {
                        if !limits.satisfies(declared.min, declared.max) {
                            let declared = Limits {
                                min: declared.min,
                                max: declared.max,
                            };
                            return Err(incompatible(
                                format!("table {declared}"),
                                format!("table {limits}"),
                            ));
                        }
                    }
                    table_limits.push(*limits);
                }
                Some(other) => return Err(incompatible("table".into(), other.kind().into())),
                None => return Err(unknown("table")),
            },
            ImportKind::Global(ty) => match provided {
                Some(Definition::Global(value)) if value.ty() == ty.ty => {
                    imported_globals.push(*value)
                }
                Some(Definition::Global(value)) => {
                    return Err(incompatible(
                        format!("global {}", type_name(ty.ty)),
                        format!("global {}", type_name(value.ty())),
                    ))
                }
                Some(other) => {
                    return Err(incompatible(
                        format!("global {}", type_name(ty.ty)),
                        other.kind().into(),
                    ))
                }
                None => return Err(unknown("global")),
            },
        }
    }

    // 2. Memory: the whole maximum reserved now, so the base never moves.
    if let Some(mut mem) = layout.memory {
        if let Some(limits) = memory_limits {
            mem.min_pages = limits.min;
            mem.max_pages = limits.max;
        }
        let maximum = mem
            .max_pages
            .unwrap_or(MAX_WASM_PAGES)
            .min(limits.max_memory_pages)
            .min(MAX_WASM_PAGES);
        let memory = match m.pool.take_memory(mem.min_pages, maximum) {
            Some(memory) => Ok(memory),
            None => LinearMemory::new(mem.min_pages, maximum),
        };
        let memory = memory.map_err(|e| match e {
            MemoryError::Reserve { source, .. } => InstantiationError::Resources {
                what: "linear memory",
                source,
            },
            e @ MemoryError::InitialAboveMaximum { .. } => malformed(format!("memory: {e}")),
        })?;
        rt.memory = Some(memory);
    }

    // 3. Globals, in order (initializers see imported and earlier globals).
    let mut imported = imported_globals.into_iter();
    for (i, global) in layout.globals.iter().enumerate() {
        let i = i as u32;
        let bits = match &global.init {
            None => {
                let value = imported
                    .next()
                    .ok_or_else(|| malformed(format!("global {i} has no initializer")))?;
                rt.encode(value).map_err(malformed)?
            }
            Some(init) => eval_in(&rt, init, i)?,
        };
        rt.set_global(i, bits);
    }

    // 4. Tables, filled with their initial value.
    let mut tables = Vec::with_capacity(layout.tables.len());
    for (i, t) in layout.tables.iter().enumerate() {
        let (min, max) = match table_limits.get(i).copied().flatten() {
            Some(provided) => (provided.min, provided.max),
            None => (t.min, t.max),
        };
        let maximum = max.unwrap_or(u32::MAX).min(limits.max_table_size);
        if min > maximum {
            return Err(malformed(format!(
                "table {i} starts with {min} elements, above its maximum of {maximum}"
            )));
        }
        let init = match &t.init {
            Some(expr) => eval_in(&rt, expr, global_count)?,
            None => 0,
        };
        tables.push(Table {
            elems: vec![init; min as usize],
            maximum,
        });
    }
    rt.tables = tables;
    rt.table_defs = (0..rt.tables.len())
        .map(|_| TableDef {
            base: std::ptr::null_mut(),
            len: 0,
            _reserved: 0,
        })
        .collect();

    // 5. Element segments' items.
    let mut elements = Vec::with_capacity(layout.elements.len());
    for seg in &layout.elements {
        let items = seg
            .items
            .iter()
            .map(|item| eval_in(&rt, item, global_count))
            .collect::<Result<Vec<_>, _>>()?;
        elements.push(items);
    }
    rt.elements = elements;
    // SAFETY: the module's segments outlive the runtime: the instance that will own it
    // holds the module (and a failed build drops the runtime before returning).
    rt.data = unsafe { DataSegments::new(&m.data) };

    // 6. Active element segments, then active data segments, each checked whole; then
    // active and declared segments are dropped.
    for (i, seg) in layout.elements.iter().enumerate() {
        match &seg.mode {
            ElementMode::Active { table, offset } => {
                let offset = eval_in(&rt, offset, global_count)? as u32;
                let len = rt.elements[i].len() as u32;
                let table_len = rt.tables.get(*table as usize).map_or(0, |t| t.elems.len());
                if rt.table_init(*table, i as u32, offset, 0, len).is_err() {
                    return Err(InstantiationError::Trap(Trap::with_message(
                        TrapKind::TableOutOfBounds,
                        format!("element segment {i}: {len} elements at offset {offset} do not fit in table {table} of {table_len} elements"),
                    )));
                }
                rt.elem_drop(i as u32);
            }
            ElementMode::Declared => rt.elem_drop(i as u32),
            ElementMode::Passive => {}
        }
    }
    for (i, seg) in layout.data.iter().enumerate() {
        if let Some(offset) = &seg.offset {
            let offset = eval_in(&rt, offset, global_count)? as u32;
            let len = seg.bytes.len() as u32;
            if rt.memory_init(i as u32, offset, 0, len).is_err() {
                let size = rt.memory.as_ref().map_or(0, |m| m.len());
                return Err(InstantiationError::Trap(Trap::with_message(
                    TrapKind::MemoryOutOfBounds,
                    format!("data segment {i}: {len} bytes at offset {offset} do not fit in memory of {size} bytes"),
                )));
            }
            rt.data_drop(i as u32);
        }
    }

    for i in 0..rt.tables.len() {
        rt.sync_table_def(i);
    }
    rt.reset_vmctx();
    Ok(rt)
}

/// Reads the value a global slot holds, by its declared type.
pub(crate) fn global_value(rt: &Runtime, module: &Module, index: u32) -> Option<Value> {
    let ty = module
        .inner
        .artifact
        .module
        .globals
        .get(index as usize)?
        .ty
        .ty;
    Some(rt.decode(ty, rt.global(index)?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use gasket_singlepass::RefType;

    fn expr(ops: &[ConstOp]) -> ConstExpr {
        ConstExpr { ops: ops.to_vec() }
    }

    #[test]
    fn const_exprs_evaluate_with_wrapping_and_zero_extension() {
        let globals = |i: u32| [5u64, 0xffff_ffff].get(i as usize).copied();
        let funcs = |i: u32| (i < 3).then_some(0x1000 + 16 * u64::from(i));
        let eval = |ops: &[ConstOp]| eval_const(&expr(ops), &globals, &funcs);
        assert_eq!(eval(&[ConstOp::I32Const(-1)]).unwrap(), 0xffff_ffff);
        assert_eq!(eval(&[ConstOp::I64Const(-1)]).unwrap(), u64::MAX);
        assert_eq!(
            eval(&[ConstOp::GlobalGet(1), ConstOp::I32Const(2), ConstOp::I32Add]).unwrap(),
            1,
            "i32 wraps"
        );
        assert_eq!(
            eval(&[ConstOp::I32Const(2), ConstOp::I32Const(5), ConstOp::I32Sub]).unwrap(),
            u64::from((-3i32) as u32)
        );
        assert_eq!(
            eval(&[
                ConstOp::I64Const(i64::MAX),
                ConstOp::I64Const(2),
                ConstOp::I64Mul
            ])
            .unwrap(),
            (i64::MAX as u64).wrapping_mul(2)
        );
        assert_eq!(eval(&[ConstOp::GlobalGet(0)]).unwrap(), 5);
        assert_eq!(eval(&[ConstOp::RefNull(RefType::FuncRef)]).unwrap(), 0);
        assert_eq!(eval(&[ConstOp::RefFunc(2)]).unwrap(), 0x1020);
        assert!(eval(&[ConstOp::GlobalGet(2)]).is_err());
        assert!(eval(&[ConstOp::RefFunc(3)]).is_err());
        assert!(eval(&[ConstOp::I32Add]).is_err());
        assert!(eval(&[]).is_err());
        assert!(eval(&[ConstOp::I32Const(1), ConstOp::I32Const(1)]).is_err());
    }
}
