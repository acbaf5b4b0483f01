//! Applies a [`FunctionPlan`] to a function body: copies the original bytes between edits
//! verbatim and writes the injected instructions. Linear in the body size.
//!
//! The instrumented body is
//!
//! ```text
//! (locals ... [scratch i32])
//! i32.const FRAME  call $stack_enter
//! block (result <function results>)
//!   <original body, with charges inserted, defined-function indices shifted and
//!    `return` turned into `br` to this block>
//! end
//! i32.const FRAME  call $stack_leave
//! end
//! ```
//!
//! Every way out of the original body (falling off the end, `br` to the function label,
//! `return`) leaves the wrapper block, so the frame's height is released exactly once.
//! Traps need no release: they end the whole call.

use wasm_encoder::{BlockType, Encode, Instruction};

use crate::analysis::{Edit, FunctionPlan};
use crate::summary::Intrinsics;

/// What a gas-report module adds (see `report`): site `n` (numbered in module order)
/// adds to global `first_counter + n` just before its charge and stores `n` in global
/// `last_site`; each function pushes its own reference on the shadow call stack (table
/// `stack_table`, depth in global `stack_depth`) after `stack_enter` and pops it before
/// `stack_leave`, so after a trap the table holds the active frames.
pub(crate) struct ReportCounters {
    pub first_counter: u32,
    pub last_site: u32,
    /// The number of the next charge site to write.
    pub next_site: u32,
    pub stack_depth: u32,
    pub stack_table: u32,
    /// The last index of the shadow stack table: deeper frames overwrite it.
    pub stack_cap: u32,
}

impl ReportCounters {
    /// Takes the next site number and writes `counter += amount; last_site = site`, where
    /// `amount` is the instructions `amount` leave on the stack (an i64).
    fn count(&mut self, amount: &[Instruction<'_>], out: &mut Vec<u8>) {
        let site = self.next_site;
        self.next_site += 1;
        let counter = self.first_counter + site;
        Instruction::GlobalGet(counter).encode(out);
        for instruction in amount {
            instruction.encode(out);
        }
        Instruction::I64Add.encode(out);
        Instruction::GlobalSet(counter).encode(out);
        Instruction::I32Const(site as i32).encode(out);
        Instruction::GlobalSet(self.last_site).encode(out);
    }

    /// `stack[min(depth, cap)] = ref.func function; depth += 1`.
    fn push_frame(&self, function: u32, out: &mut Vec<u8>) {
        let cap = self.stack_cap as i32;
        Instruction::GlobalGet(self.stack_depth).encode(out);
        Instruction::I32Const(cap).encode(out);
        Instruction::GlobalGet(self.stack_depth).encode(out);
        Instruction::I32Const(cap).encode(out);
        Instruction::I32LtU.encode(out);
        Instruction::Select.encode(out);
        Instruction::RefFunc(function).encode(out);
        Instruction::TableSet(self.stack_table).encode(out);
        self.add_depth(Instruction::I32Add, out);
    }

    /// `depth -= 1`.
    fn pop_frame(&self, out: &mut Vec<u8>) {
        self.add_depth(Instruction::I32Sub, out);
    }

    fn add_depth(&self, op: Instruction<'_>, out: &mut Vec<u8>) {
        Instruction::GlobalGet(self.stack_depth).encode(out);
        Instruction::I32Const(1).encode(out);
        op.encode(out);
        Instruction::GlobalSet(self.stack_depth).encode(out);
    }
}

/// Writes the instrumented body (without its size prefix) of function `function`
/// (instrumented index space) into `out`. With `counters` (gas-report modules only),
/// every charge is preceded by its site's count and the function keeps its frame on the
/// shadow stack; the charges themselves are the same.
pub(crate) fn inject_function(
    wasm: &[u8],
    plan: &FunctionPlan,
    wrapper_type: BlockType,
    intrinsics: &Intrinsics,
    (function, mut counters): (u32, Option<&mut ReportCounters>),
    out: &mut Vec<u8>,
) {
    // Locals: the original groups, plus the scratch local dynamic charges use.
    let groups = plan.locals.len() as u32 + u32::from(plan.scratch_local.is_some());
    groups.encode(out);
    for (count, ty) in &plan.locals {
        count.encode(out);
        encode_val_type(*ty, out);
    }
    if plan.scratch_local.is_some() {
        1u32.encode(out);
        wasm_encoder::ValType::I32.encode(out);
    }

    let frame = plan.frame_cost as i32;
    Instruction::I32Const(frame).encode(out);
    Instruction::Call(intrinsics.stack_enter).encode(out);
    if let Some(counters) = counters.as_deref() {
        counters.push_frame(function, out);
    }
    Instruction::Block(wrapper_type).encode(out);

    // Everything but the final `end`, which closes the function after the epilogue.
    let ops_end = plan.body_end - 1;
    let mut copied = plan.ops_start;
    for edit in &plan.edits {
        match *edit {
            Edit::Charge { at, cost } => {
                out.extend_from_slice(&wasm[copied..at]);
                copied = at;
                if let Some(counters) = counters.as_deref_mut() {
                    counters.count(&[Instruction::I64Const(1)], out);
                }
                Instruction::I64Const(cost as i64).encode(out);
                Instruction::Call(intrinsics.gas).encode(out);
            }
            Edit::DynamicCharge { at, per_unit, .. } => {
                out.extend_from_slice(&wasm[copied..at]);
                copied = at;
                let scratch = plan.scratch_local.unwrap_or_default();
                Instruction::LocalTee(scratch).encode(out);
                if let Some(counters) = counters.as_deref_mut() {
                    // Counts units (pages, bytes, elements), not gas.
                    let units = [Instruction::LocalGet(scratch), Instruction::I64ExtendI32U];
                    counters.count(&units, out);
                }
                Instruction::I64ExtendI32U.encode(out);
                Instruction::I64Const(per_unit as i64).encode(out);
                Instruction::I64Mul.encode(out);
                Instruction::Call(intrinsics.gas).encode(out);
                Instruction::LocalGet(scratch).encode(out);
            }
            Edit::Call {
                start,
                end,
                new_index,
            } => {
                out.extend_from_slice(&wasm[copied..start]);
                copied = end;
                Instruction::Call(new_index).encode(out);
            }
            Edit::RefFunc {
                start,
                end,
                new_index,
            } => {
                out.extend_from_slice(&wasm[copied..start]);
                copied = end;
                Instruction::RefFunc(new_index).encode(out);
            }
            Edit::ReturnAsBranch { start, end, depth } => {
                out.extend_from_slice(&wasm[copied..start]);
                copied = end;
                Instruction::Br(depth).encode(out);
            }
        }
    }
    out.extend_from_slice(&wasm[copied..ops_end]);
    Instruction::End.encode(out);
    if let Some(counters) = counters.as_deref() {
        counters.pop_frame(out);
    }
    Instruction::I32Const(frame).encode(out);
    Instruction::Call(intrinsics.stack_leave).encode(out);
    Instruction::End.encode(out);
}

/// Encodes a value type (the profile has already rejected the ones Gasket cannot run).
fn encode_val_type(ty: wasmparser::ValType, out: &mut Vec<u8>) {
    to_encoder_val_type(ty).encode(out);
}

/// Converts a value type of an accepted module. Only numeric types and nullable
/// `funcref`/`externref` pass the profile checks; other references never reach here.
pub(crate) fn to_encoder_val_type(ty: wasmparser::ValType) -> wasm_encoder::ValType {
    match ty {
        wasmparser::ValType::I32 => wasm_encoder::ValType::I32,
        wasmparser::ValType::I64 => wasm_encoder::ValType::I64,
        wasmparser::ValType::F32 => wasm_encoder::ValType::F32,
        wasmparser::ValType::F64 => wasm_encoder::ValType::F64,
        wasmparser::ValType::V128 => wasm_encoder::ValType::V128,
        wasmparser::ValType::Ref(r) if r.is_extern_ref() => wasm_encoder::ValType::EXTERNREF,
        wasmparser::ValType::Ref(_) => wasm_encoder::ValType::FUNCREF,
    }
}
