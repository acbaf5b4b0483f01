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

use crate::access::AccessCharge;
use crate::analysis::{Edit, FunctionPlan, Locals};
use crate::commit::Commit;
use crate::cost::DynamicCost;
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
    pub(crate) fn count(&mut self, amount: &[Instruction<'_>], out: &mut Vec<u8>) {
        self.count_with(
            |out| {
                for instruction in amount {
                    instruction.encode(out);
                }
            },
            out,
        );
    }

    /// [`ReportCounters::count`] with the amount written by `amount`.
    pub(crate) fn count_with(&mut self, amount: impl FnOnce(&mut Vec<u8>), out: &mut Vec<u8>) {
        let site = self.next_site;
        self.next_site += 1;
        let counter = self.first_counter + site;
        Instruction::GlobalGet(counter).encode(out);
        amount(out);
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

/// How many times the instructions [`inject_function`] writes for one
/// `Edit::DynamicCharge` read or write the scratch local: the walk adds them to the
/// local use counts code generation's register allocation is handed
/// (`gasket_body_reader::uses`), which must be those of the instrumented body.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) struct ScratchReads {
    /// Any dynamic charge: `local.tee` and `local.get`, and a report's count of units.
    per_charge: u64,
    /// `memory.grow`'s: also the commit charge's reads (see `commit`).
    per_grow: u64,
}

impl ScratchReads {
    /// The reads of a module with a page commit charge (`commit`) and of a gas report's
    /// module (`report`, see `ReportCounters`).
    pub(crate) fn new(commit: bool, report: bool) -> ScratchReads {
        let report = u64::from(report);
        let per_charge = 2 + report;
        let per_grow = match commit {
            true => per_charge + crate::commit::DELTA_READS * (1 + report),
            false => per_charge,
        };
        ScratchReads {
            per_charge,
            per_grow,
        }
    }

    /// The reads of a dynamic charge of `kind`.
    #[inline(always)]
    pub(crate) fn of(self, kind: DynamicCost) -> u64 {
        match kind {
            DynamicCost::MemoryPages => self.per_grow,
            _ => self.per_charge,
        }
    }
}

/// Writes the instrumented body (without its size prefix) of function `function`
/// (instrumented index space) into `out`. With `counters` (gas-report modules only),
/// every charge is preceded by its site's count and the function keeps its frame on the
/// shadow stack; the charges themselves are the same. With `commit`, each `memory.grow`
/// also pays the page commit charge (see `commit`).
pub(crate) fn inject_function(
    wasm: &[u8],
    plan: &FunctionPlan,
    wrapper_type: BlockType,
    (intrinsics, commit, access): (&Intrinsics, Option<Commit>, Option<&AccessCharge>),
    (function, mut counters): (u32, Option<&mut ReportCounters>),
    out: &mut Vec<u8>,
) {
    // Locals: the original groups (re-encoded where the input spells them otherwise than
    // minimal, see `Locals`), plus the scratch local dynamic charges use.
    let groups = plan.locals.groups() + u32::from(plan.scratch_local.is_some());
    op::unsigned(groups, out);
    match &plan.locals {
        Locals::Verbatim { start, .. } => out.extend_from_slice(&wasm[*start..plan.ops_start]),
        Locals::Decoded(locals) => {
            for (count, ty) in locals {
                op::unsigned(*count, out);
                encode_val_type(*ty, out);
            }
        }
    }
    if plan.scratch_local.is_some() {
        op::unsigned(1, out);
        out.push(op::I32);
    }

    let frame = plan.frame_cost as i32;
    op::i32_const(frame, out);
    op::call(intrinsics.stack_enter, out);
    if let Some(counters) = counters.as_deref() {
        counters.push_frame(function, out);
    }
    out.push(op::BLOCK);
    wrapper_type.encode(out);

    // Everything but the final `end`, which closes the function after the epilogue.
    let ops_end = plan.body_end - 1;
    let mut copied = plan.ops_start;
    for edit in &plan.edits {
        match *edit {
            Edit::Charge { at, cost, accesses } => {
                out.extend_from_slice(&wasm[copied..at]);
                copied = at;
                if let Some(counters) = counters.as_deref_mut() {
                    counters.count(&[Instruction::I64Const(1)], out);
                }
                match access.filter(|_| accesses > 0) {
                    Some(access) => {
                        if let Some(counters) = counters.as_deref_mut() {
                            // Sums the surcharge per access; the report multiplies.
                            counters.count_with(|out| access.write_surcharge(out), out);
                        }
                        access.write_block_charge(cost, accesses, intrinsics.gas, out);
                    }
                    None => {
                        op::i64_const(cost as i64, out);
                        op::call(intrinsics.gas, out);
                    }
                }
            }
            Edit::AfterGrow { at } => {
                if let Some(access) = access {
                    out.extend_from_slice(&wasm[copied..at]);
                    copied = at;
                    access.write_after_grow(out);
                }
            }
            Edit::DynamicCharge { at, per_unit, kind } => {
                out.extend_from_slice(&wasm[copied..at]);
                copied = at;
                let scratch = plan.scratch_local.unwrap_or_default();
                op::local_tee(scratch, out);
                if let Some(counters) = counters.as_deref_mut() {
                    // Counts units (pages, bytes, elements), not gas.
                    let units = [Instruction::LocalGet(scratch), Instruction::I64ExtendI32U];
                    counters.count(&units, out);
                }
                out.push(op::I64_EXTEND_I32_U);
                op::i64_const(per_unit as i64, out);
                out.push(op::I64_MUL);
                op::call(intrinsics.gas, out);
                if let (DynamicCost::MemoryPages, Some(commit)) = (kind, commit) {
                    commit.write_grow_charge(scratch, intrinsics.gas, counters.as_deref_mut(), out);
                }
                op::local_get(scratch, out);
            }
            Edit::Call {
                start,
                end,
                new_index,
            } => {
                out.extend_from_slice(&wasm[copied..start]);
                copied = end;
                op::call(new_index, out);
            }
            Edit::RefFunc {
                start,
                end,
                new_index,
            } => {
                out.extend_from_slice(&wasm[copied..start]);
                copied = end;
                op::ref_func(new_index, out);
            }
            Edit::BranchIfCharged {
                start,
                end,
                depth,
                cost,
            } => {
                out.extend_from_slice(&wasm[copied..start]);
                copied = end;
                out.extend_from_slice(&[op::IF, op::EMPTY]);
                if let Some(counters) = counters.as_deref_mut() {
                    counters.count(&[Instruction::I64Const(1)], out);
                }
                op::i64_const(cost as i64, out);
                op::call(intrinsics.gas, out);
                op::br(depth + 1, out);
                out.push(op::END);
            }
            Edit::ReturnAsBranch { start, end, depth } => {
                out.extend_from_slice(&wasm[copied..start]);
                copied = end;
                op::br(depth, out);
            }
        }
    }
    out.extend_from_slice(&wasm[copied..ops_end]);
    out.push(op::END);
    if let Some(counters) = counters.as_deref() {
        counters.pop_frame(out);
    }
    op::i32_const(frame, out);
    op::call(intrinsics.stack_leave, out);
    out.push(op::END);
}

/// The instructions written once per edit or per function, encoded straight into the
/// output: building a `wasm_encoder::Instruction` for each costs several times the bytes
/// it writes, and edits are about a third of all operators. The bytes are the same as
/// wasm-encoder's (minimal LEB128; the tests below compare them).
pub(crate) mod op {
    pub const I64_EXTEND_I32_U: u8 = 0xad;
    pub const I64_MUL: u8 = 0x7e;
    pub const I64_ADD: u8 = 0x7c;
    pub const I32_GT_U: u8 = 0x4b;
    pub const SELECT: u8 = 0x1b;
    pub const BLOCK: u8 = 0x02;
    pub const IF: u8 = 0x04;
    /// The empty block type.
    pub const EMPTY: u8 = 0x40;
    pub const END: u8 = 0x0b;
    /// The `i32` value type.
    pub const I32: u8 = 0x7f;

    pub fn i32_const(value: i32, out: &mut Vec<u8>) {
        out.push(0x41);
        signed(i64::from(value), out);
    }

    pub fn i64_const(value: i64, out: &mut Vec<u8>) {
        out.push(0x42);
        signed(value, out);
    }

    pub fn call(function: u32, out: &mut Vec<u8>) {
        out.push(0x10);
        unsigned(function, out);
    }

    pub fn ref_func(function: u32, out: &mut Vec<u8>) {
        out.push(0xd2);
        unsigned(function, out);
    }

    pub fn br(depth: u32, out: &mut Vec<u8>) {
        out.push(0x0c);
        unsigned(depth, out);
    }

    pub fn local_get(local: u32, out: &mut Vec<u8>) {
        out.push(0x20);
        unsigned(local, out);
    }

    pub fn local_tee(local: u32, out: &mut Vec<u8>) {
        out.push(0x22);
        unsigned(local, out);
    }

    pub fn global_get(global: u32, out: &mut Vec<u8>) {
        out.push(0x23);
        unsigned(global, out);
    }

    pub fn global_set(global: u32, out: &mut Vec<u8>) {
        out.push(0x24);
        unsigned(global, out);
    }

    /// `memory.size` of memory 0.
    pub fn memory_size(out: &mut Vec<u8>) {
        out.extend_from_slice(&[0x3f, 0x00]);
    }

    pub fn unsigned(mut value: u32, out: &mut Vec<u8>) {
        loop {
            let byte = (value & 0x7f) as u8;
            value >>= 7;
            if value == 0 {
                out.push(byte);
                return;
            }
            out.push(byte | 0x80);
        }
    }

    fn signed(mut value: i64, out: &mut Vec<u8>) {
        loop {
            let byte = (value & 0x7f) as u8;
            value >>= 7;
            let sign_clear = byte & 0x40 == 0;
            if (value == 0 && sign_clear) || (value == -1 && !sign_clear) {
                out.push(byte);
                return;
            }
            out.push(byte | 0x80);
        }
    }
}

/// Encodes a value type (the profile has already rejected the ones Gasket cannot run):
/// the one-byte forms wasm-encoder writes for [`to_encoder_val_type`]'s results.
fn encode_val_type(ty: wasmparser::ValType, out: &mut Vec<u8>) {
    out.push(match ty {
        wasmparser::ValType::I32 => op::I32,
        wasmparser::ValType::I64 => 0x7e,
        wasmparser::ValType::F32 => 0x7d,
        wasmparser::ValType::F64 => 0x7c,
        wasmparser::ValType::V128 => 0x7b,
        wasmparser::ValType::Ref(r) if r.is_extern_ref() => 0x6f,
        wasmparser::ValType::Ref(_) => 0x70,
    });
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

#[cfg(test)]
mod tests {
    use super::op;
    use wasm_encoder::{Encode, Instruction};

    fn encoder(instruction: Instruction<'_>) -> Vec<u8> {
        let mut out = Vec::new();
        instruction.encode(&mut out);
        out
    }

    fn ours(write: impl FnOnce(&mut Vec<u8>)) -> Vec<u8> {
        let mut out = Vec::new();
        write(&mut out);
        out
    }

    #[test]
    fn hand_encoded_instructions_match_wasm_encoder() {
        let signed = [
            0,
            1,
            -1,
            63,
            64,
            -64,
            -65,
            127,
            128,
            8191,
            8192,
            -8193,
            i64::from(i32::MAX),
            i64::from(u32::MAX),
            1 << 62,
            i64::MAX,
            i64::MIN,
        ];
        for v in signed {
            assert_eq!(
                ours(|o| op::i64_const(v, o)),
                encoder(Instruction::I64Const(v)),
                "{v}"
            );
        }
        let unsigned = [0, 1, 127, 128, 16_383, 16_384, 1 << 21, 1 << 28, u32::MAX];
        for v in unsigned {
            assert_eq!(ours(|o| op::call(v, o)), encoder(Instruction::Call(v)));
            assert_eq!(
                ours(|o| op::ref_func(v, o)),
                encoder(Instruction::RefFunc(v))
            );
            assert_eq!(ours(|o| op::br(v, o)), encoder(Instruction::Br(v)));
            assert_eq!(
                ours(|o| op::local_get(v, o)),
                encoder(Instruction::LocalGet(v))
            );
            assert_eq!(
                ours(|o| op::local_tee(v, o)),
                encoder(Instruction::LocalTee(v))
            );
            assert_eq!(
                ours(|o| op::global_get(v, o)),
                encoder(Instruction::GlobalGet(v))
            );
            assert_eq!(
                ours(|o| op::global_set(v, o)),
                encoder(Instruction::GlobalSet(v))
            );
        }
        assert_eq!(ours(op::memory_size), encoder(Instruction::MemorySize(0)));
        for v in [0, 1, -1, 63, 64, -65, 8192, i32::MAX, i32::MIN] {
            assert_eq!(
                ours(|o| op::i32_const(v, o)),
                encoder(Instruction::I32Const(v))
            );
        }
        for v in [0, 1, 127, 128, u32::MAX] {
            assert_eq!(ours(|o| op::unsigned(v, o)), {
                let mut out = Vec::new();
                v.encode(&mut out);
                out
            });
        }
        assert_eq!(
            [
                op::I64_EXTEND_I32_U,
                op::I64_MUL,
                op::I64_ADD,
                op::I32_GT_U,
                op::SELECT,
                op::BLOCK,
                op::END
            ],
            [
                encoder(Instruction::I64ExtendI32U)[0],
                encoder(Instruction::I64Mul)[0],
                encoder(Instruction::I64Add)[0],
                encoder(Instruction::I32GtU)[0],
                encoder(Instruction::Select)[0],
                encoder(Instruction::Block(wasm_encoder::BlockType::Empty))[0],
                encoder(Instruction::End)[0],
            ]
        );
        let mut i32_type = Vec::new();
        wasm_encoder::ValType::I32.encode(&mut i32_type);
        assert_eq!([op::I32], i32_type[..]);
    }

    #[test]
    fn value_types_match_wasm_encoder() {
        use wasmparser::{RefType, ValType};
        let types = [
            ValType::I32,
            ValType::I64,
            ValType::F32,
            ValType::F64,
            ValType::V128,
            ValType::Ref(RefType::FUNCREF),
            ValType::Ref(RefType::EXTERNREF),
        ];
        for ty in types {
            let mut expected = Vec::new();
            super::to_encoder_val_type(ty).encode(&mut expected);
            assert_eq!(ours(|o| super::encode_val_type(ty, o)), expected, "{ty:?}");
        }
    }
}
