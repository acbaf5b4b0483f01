//! Module-level parsing: turns the non-code sections into the [`ModuleLayout`] the runtime
//! instantiates from, and into the [`ModuleEnv`] code generation consults (types, function
//! signatures, globals, tables, intrinsics).

use gasket_host_api::{Intrinsic, RESERVED_MODULE};
use wasmparser::{
    CompositeInnerType, ConstExpr as WasmConstExpr, DataKind, ElementItems, ElementKind,
    ExternalKind, Operator, Payload, TableInit, TypeRef,
};

use crate::artifact::*;
use crate::CompileError;

/// What code generation needs to know about the module around a function body.
#[derive(Debug, Default)]
pub(crate) struct ModuleEnv {
    pub types: Vec<FuncSig>,
    /// Canonical type id per type index (first structurally equal type).
    pub type_ids: Vec<u32>,
    /// The canonical id of each distinct signature seen so far.
    canonical_types: std::collections::BTreeMap<FuncSig, u32>,
    /// Type index of every function (imports first).
    pub func_types: Vec<u32>,
    pub imported_functions: u32,
    /// For each imported function: the intrinsic it is, if it is one.
    pub intrinsics: Vec<Option<Intrinsic>>,
    pub layout: ModuleLayout,
}

impl ModuleEnv {
    /// Signature of function `index`.
    pub fn func_sig(&self, index: u32) -> &FuncSig {
        &self.types[self.func_types[index as usize] as usize]
    }

    /// The intrinsic function `index` is, if any.
    pub fn intrinsic(&self, index: u32) -> Option<Intrinsic> {
        self.intrinsics.get(index as usize).copied().flatten()
    }

    /// Records what one non-code payload says about the module.
    pub fn section(&mut self, payload: &Payload<'_>) -> Result<(), CompileError> {
        match payload {
            Payload::TypeSection(reader) => {
                for group in reader.clone() {
                    for sub in group.map_err(CompileError::invalid)?.into_types() {
                        let sig = match &sub.composite_type.inner {
                            CompositeInnerType::Func(f) => FuncSig {
                                params: f.params().iter().map(|t| val_type(*t)).collect(),
                                results: f.results().iter().map(|t| val_type(*t)).collect(),
                            },
                            _ => return Err(unsupported_section("non-function types")),
                        };
                        // The first structurally equal type: a map keeps this linear in
                        // the number of types (the type section is attacker-controlled).
                        let next = self.types.len() as u32;
                        let id = *self.canonical_types.entry(sig.clone()).or_insert(next);
                        self.type_ids.push(id);
                        self.types.push(sig);
                    }
                }
            }
            Payload::ImportSection(reader) => {
                for import in reader.clone().into_imports() {
                    let import = import.map_err(CompileError::invalid)?;
                    let kind = match import.ty {
                        TypeRef::Func(t) | TypeRef::FuncExact(t) => {
                            self.func_types.push(t);
                            self.imported_functions += 1;
                            self.intrinsics.push(
                                (import.module == RESERVED_MODULE)
                                    .then(|| Intrinsic::from_name(import.name))
                                    .flatten(),
                            );
                            ImportKind::Function { type_index: t }
                        }
                        TypeRef::Memory(m) => {
                            let ty = memory_type(&m);
                            self.layout.memory = Some(ty);
                            ImportKind::Memory(ty)
                        }
                        TypeRef::Table(t) => {
                            let ty = table_type(&t, None);
                            self.layout.tables.push(ty.clone());
                            ImportKind::Table(ty)
                        }
                        TypeRef::Global(g) => {
                            let ty = GlobalType {
                                ty: val_type(g.content_type),
                                mutable: g.mutable,
                            };
                            self.layout.globals.push(GlobalDef { ty, init: None });
                            ImportKind::Global(ty)
                        }
                        TypeRef::Tag(_) => return Err(unsupported_section("tag imports")),
                    };
                    self.layout.imports.push(Import {
                        module: import.module.to_string(),
                        name: import.name.to_string(),
                        kind,
                    });
                }
            }
            Payload::FunctionSection(reader) => {
                for ty in reader.clone() {
                    self.func_types.push(ty.map_err(CompileError::invalid)?);
                }
            }
            Payload::TableSection(reader) => {
                for table in reader.clone() {
                    let table = table.map_err(CompileError::invalid)?;
                    let init = match &table.init {
                        TableInit::RefNull => None,
                        TableInit::Expr(e) => Some(const_expr(e)?),
                    };
                    self.layout.tables.push(table_type(&table.ty, init));
                }
            }
            Payload::MemorySection(reader) => {
                for memory in reader.clone() {
                    self.layout.memory = Some(memory_type(&memory.map_err(CompileError::invalid)?));
                }
            }
            Payload::GlobalSection(reader) => {
                for global in reader.clone() {
                    let global = global.map_err(CompileError::invalid)?;
                    self.layout.globals.push(GlobalDef {
                        ty: GlobalType {
                            ty: val_type(global.ty.content_type),
                            mutable: global.ty.mutable,
                        },
                        init: Some(const_expr(&global.init_expr)?),
                    });
                }
            }
            Payload::ExportSection(reader) => {
                for export in reader.clone() {
                    let export = export.map_err(CompileError::invalid)?;
                    let kind = match export.kind {
                        ExternalKind::Func | ExternalKind::FuncExact => ExportKind::Function,
                        ExternalKind::Memory => ExportKind::Memory,
                        ExternalKind::Table => ExportKind::Table,
                        ExternalKind::Global => ExportKind::Global,
                        ExternalKind::Tag => return Err(unsupported_section("tag exports")),
                    };
                    self.layout.exports.push(Export {
                        name: export.name.to_string(),
                        kind,
                        index: export.index,
                    });
                }
            }
            Payload::StartSection { func, .. } => self.layout.start = Some(*func),
            Payload::ElementSection(reader) => {
                for element in reader.clone() {
                    let element = element.map_err(CompileError::invalid)?;
                    let mode = match element.kind {
                        ElementKind::Passive => ElementMode::Passive,
                        ElementKind::Declared => ElementMode::Declared,
                        ElementKind::Active {
                            table_index,
                            offset_expr,
                        } => ElementMode::Active {
                            table: table_index.unwrap_or(0),
                            offset: const_expr(&offset_expr)?,
                        },
                    };
                    let (element_type, items) = match element.items {
                        ElementItems::Functions(funcs) => {
                            let mut items = Vec::new();
                            for f in funcs {
                                let f = f.map_err(CompileError::invalid)?;
                                items.push(ConstExpr {
                                    ops: vec![ConstOp::RefFunc(f)],
                                });
                            }
                            (RefType::FuncRef, items)
                        }
                        ElementItems::Expressions(ty, exprs) => {
                            let mut items = Vec::new();
                            for e in exprs {
                                items.push(const_expr(&e.map_err(CompileError::invalid)?)?);
                            }
                            (ref_type(ty), items)
                        }
                    };
                    self.layout.elements.push(ElementSegment {
                        mode,
                        element: element_type,
                        items,
                    });
                }
            }
            Payload::DataSection(reader) => {
                for data in reader.clone() {
                    let data = data.map_err(CompileError::invalid)?;
                    let offset = match data.kind {
                        DataKind::Passive => None,
                        DataKind::Active { offset_expr, .. } => Some(const_expr(&offset_expr)?),
                    };
                    self.layout.data.push(DataSegment {
                        offset,
                        bytes: data.data.to_vec(),
                    });
                }
            }
            _ => {}
        }
        Ok(())
    }
}

fn unsupported_section(what: &str) -> CompileError {
    CompileError::Invalid {
        offset: 0,
        message: format!("{what} are not supported"),
    }
}

pub(crate) fn val_type(ty: wasmparser::ValType) -> ValType {
    match ty {
        wasmparser::ValType::I32 => ValType::I32,
        wasmparser::ValType::I64 => ValType::I64,
        wasmparser::ValType::F32 => ValType::F32,
        wasmparser::ValType::F64 => ValType::F64,
        // V128 and GC references never pass validation with Gasket's feature set; treat
        // any other reference as its nullable abstract heap type.
        wasmparser::ValType::V128 => ValType::I64,
        wasmparser::ValType::Ref(r) => match ref_type(r) {
            RefType::FuncRef => ValType::FuncRef,
            RefType::ExternRef => ValType::ExternRef,
        },
    }
}

fn ref_type(r: wasmparser::RefType) -> RefType {
    if r.is_extern_ref() {
        RefType::ExternRef
    } else {
        RefType::FuncRef
    }
}

fn memory_type(m: &wasmparser::MemoryType) -> MemoryType {
    MemoryType {
        min_pages: m.initial.min(u32::MAX as u64) as u32,
        max_pages: m.maximum.map(|m| m.min(u32::MAX as u64) as u32),
    }
}

fn table_type(t: &wasmparser::TableType, init: Option<ConstExpr>) -> TableType {
    TableType {
        element: ref_type(t.element_type),
        min: t.initial.min(u32::MAX as u64) as u32,
        max: t.maximum.map(|m| m.min(u32::MAX as u64) as u32),
        init,
    }
}

fn const_expr(expr: &WasmConstExpr<'_>) -> Result<ConstExpr, CompileError> {
    let mut ops = Vec::new();
    let mut reader = expr.get_operators_reader();
    loop {
        let op = match reader.read().map_err(CompileError::invalid)? {
            Operator::End => break,
            Operator::I32Const { value } => ConstOp::I32Const(value),
            Operator::I64Const { value } => ConstOp::I64Const(value),
            Operator::F32Const { value } => ConstOp::F32Const(value.bits()),
            Operator::F64Const { value } => ConstOp::F64Const(value.bits()),
            Operator::GlobalGet { global_index } => ConstOp::GlobalGet(global_index),
            Operator::RefNull { hty } => ConstOp::RefNull(
                if matches!(
                    hty,
                    wasmparser::HeapType::Abstract {
                        ty: wasmparser::AbstractHeapType::Extern,
                        ..
                    }
                ) {
                    RefType::ExternRef
                } else {
                    RefType::FuncRef
                },
            ),
            Operator::RefFunc { function_index } => ConstOp::RefFunc(function_index),
            Operator::I32Add => ConstOp::I32Add,
            Operator::I32Sub => ConstOp::I32Sub,
            Operator::I32Mul => ConstOp::I32Mul,
            Operator::I64Add => ConstOp::I64Add,
            Operator::I64Sub => ConstOp::I64Sub,
            Operator::I64Mul => ConstOp::I64Mul,
            other => {
                return Err(CompileError::Invalid {
                    offset: reader.original_position(),
                    message: format!("unsupported operator in a constant expression: {other:?}"),
                })
            }
        };
        ops.push(op);
    }
    Ok(ConstExpr { ops })
}
