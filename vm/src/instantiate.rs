//! Building an instance's state from a module (wasm 2.0 instantiation, in order): resolve
//! imports, create memory and tables, evaluate globals and element items, then apply the
//! active segments. The start function runs afterwards, in `Instance::new`.

use gasket_host_api::RESERVED_MODULE;
use gasket_singlepass::{ConstExpr, ConstOp, ElementMode, ImportKind, TableDef, TrapKind};

use crate::data_segments::DataSegments;
use crate::error::{InstantiationError, Trap};
use crate::imports::{Definition, Imports, Limits};
use crate::memory::{LinearMemory, MemoryError, MAX_WASM_PAGES};
use crate::module::Module;
use crate::module_slice::ModuleSlice;
use crate::runtime::{FuncImport, ImportBindings, Runtime, Table};
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
    // Nearly every initializer is one constant, `global.get` or `ref.func`: evaluated
    // without the stack's allocation.
    if let [op] = expr.ops[..] {
        if let Some(value) = eval_operand(op, global, funcref) {
            return value;
        }
    }
    let mut stack: Vec<u64> = Vec::with_capacity(4);
    let underflow = || malformed("constant expression pops an empty stack");
    for &op in &expr.ops {
        let value = match eval_operand(op, global, funcref) {
            Some(value) => value?,
            None => {
                let b = stack.pop().ok_or_else(underflow)?;
                let a = stack.pop().ok_or_else(underflow)?;
                eval_binary(op, a, b)
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

/// The value arithmetic operator `op` pushes for operands `a` and `b` (i32 operators
/// wrap in 32 bits and zero-extend their result, as slots hold i32s).
fn eval_binary(op: ConstOp, a: u64, b: u64) -> u64 {
    let (a32, b32) = (a as u32, b as u32);
    match op {
        ConstOp::I32Add => u64::from(a32.wrapping_add(b32)),
        ConstOp::I32Sub => u64::from(a32.wrapping_sub(b32)),
        ConstOp::I32Mul => u64::from(a32.wrapping_mul(b32)),
        ConstOp::I64Add => a.wrapping_add(b),
        ConstOp::I64Sub => a.wrapping_sub(b),
        // `I64Mul`; operands never get here (`eval_operand` took them).
        _ => a.wrapping_mul(b),
    }
}

/// The value an operator that pops nothing pushes; `None` for the arithmetic ones.
fn eval_operand(
    op: ConstOp,
    global: &dyn Fn(u32) -> Option<u64>,
    funcref: &dyn Fn(u32) -> Option<u64>,
) -> Option<Result<u64, InstantiationError>> {
    Some(match op {
        ConstOp::I32Const(v) => Ok(u64::from(v as u32)),
        ConstOp::I64Const(v) => Ok(v as u64),
        ConstOp::F32Const(bits) => Ok(u64::from(bits)),
        ConstOp::F64Const(bits) => Ok(bits),
        ConstOp::GlobalGet(i) => global(i).ok_or_else(|| {
            malformed(format!(
                "constant expression reads global {i}, which is not an earlier global"
            ))
        }),
        ConstOp::RefNull(_) => Ok(0),
        ConstOp::RefFunc(i) => funcref(i).ok_or_else(|| {
            malformed(format!(
                "constant expression refers to missing function {i}"
            ))
        }),
        ConstOp::I32Add
        | ConstOp::I32Sub
        | ConstOp::I32Mul
        | ConstOp::I64Add
        | ConstOp::I64Sub
        | ConstOp::I64Mul => return None,
    })
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
    rt.set_write_price(m.profile.costs.memory_write_per_granule);

    // SAFETY: the module's function references outlive the runtime: the instance that
    // will own it holds the module (and a failed build drops the runtime before returning).
    rt.funcrefs = unsafe { ModuleSlice::new(&m.funcrefs.0) };
    // 1. Imports. Host ABI functions were resolved by name once, in `Module` (a module
    // may have thousands of imports); the runtime reads those bindings in place unless
    // the embedder binds an import itself.
    // SAFETY: as for the function references: the bindings live in the module.
    rt.imports = ImportBindings::Module(unsafe { ModuleSlice::new(&m.abi_bindings) });
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
                let index = m.import_function_index.get(i).copied().flatten();
                let index = index.ok_or_else(|| {
                    malformed(format!("import {i} is not in the function index space"))
                })?;
                match provided {
                    Some(Definition::Func(host)) => {
                        if host.sig != *sig {
                            return Err(incompatible(
                                format!("func {}", signature_string(sig)),
                                format!("func {}", signature_string(&host.sig)),
                            ));
                        }
                        rt.imports.bind(index, FuncImport::Host(host.clone()));
                    }
                    Some(other) => {
                        return Err(incompatible(
                            format!("func {}", signature_string(sig)),
                            other.kind().into(),
                        ))
                    }
                    // Bound in the module's table already.
                    None if m
                        .abi_bindings
                        .get(index as usize)
                        .is_some_and(Option::is_some) => {}
                    None => return Err(unknown("func")),
                }
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

    // 5. Passive element segments' items, the only ones an instance keeps: active and
    // declared segments are dropped once instantiation applied them, so theirs go straight
    // into the tables (step 6) and a module without passive segments keeps none.
    let kept = layout
        .elements
        .iter()
        .rposition(|seg| matches!(seg.mode, ElementMode::Passive))
        .map_or(0, |last| last + 1);
    let mut elements = Vec::with_capacity(kept);
    for (seg, constant) in layout.elements[..kept].iter().zip(&m.element_items[..]) {
        elements.push(match (&seg.mode, constant) {
            (ElementMode::Passive, Some(values)) => values.to_vec(),
            (ElementMode::Passive, None) => seg
                .items
                .iter()
                .map(|item| eval_in(&rt, item, global_count))
                .collect::<Result<Vec<_>, _>>()?,
            _ => Vec::new(),
        });
    }
    rt.elements = elements;
    // SAFETY: the module's segments outlive the runtime: the instance that will own it
    // holds the module (and a failed build drops the runtime before returning).
    rt.data = unsafe { DataSegments::new(&m.data) };

    // 6. Active element segments, then active data segments, each checked whole before
    // it is written; active data segments are dropped after (element segments were never
    // kept).
    for (i, seg) in layout.elements.iter().enumerate() {
        if let ElementMode::Active { table, offset } = &seg.mode {
            let offset = eval_in(&rt, offset, global_count)? as u32;
            let len = seg.items.len();
            let table_len = rt.tables.get(*table as usize).map_or(0, |t| t.elems.len());
            let fits = (offset as usize)
                .checked_add(len)
                .filter(|&end| end <= table_len);
            let Some(end) = fits else {
                return Err(InstantiationError::Trap(Trap::with_message(
                    TrapKind::TableOutOfBounds,
                    format!("element segment {i}: {len} elements at offset {offset} do not fit in table {table} of {table_len} elements"),
                )));
            };
            let slots = offset as usize..end;
            match m.element_items.get(i).and_then(Option::as_deref) {
                Some(values) => rt.tables[*table as usize].elems[slots].copy_from_slice(values),
                None => {
                    for (slot, item) in slots.zip(&seg.items) {
                        let value = eval_in(&rt, item, global_count)?;
                        rt.tables[*table as usize].elems[slot] = value;
                    }
                }
            }
        }
    }
    for (i, seg) in layout.data.iter().enumerate() {
        if let Some(offset) = &seg.offset {
            let offset = eval_in(&rt, offset, global_count)? as u32;
            let len = seg.bytes.len() as u32;
            if rt.init_segment(i as u32, offset, 0, len, false).is_err() {
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
