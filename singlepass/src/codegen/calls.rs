//! Calls: direct and indirect wasm calls, the metering intrinsics (inlined), and calls to
//! runtime helpers.

use gasket_host_api::Intrinsic;
use wasmparser::BinaryReader;

use crate::artifact::ValType;

use crate::masm::{
    Address, Base, Cond, LibcallArg, LoadKind, MacroAssembler, Operand, Reg, Size, StoreWidth,
};
use crate::vmctx::{FuncRef, Libcall, VmCtx};
use crate::{CompileError, TrapKind};

use super::func::FuncGen;
use super::stack::{Kind, Loc};

/// The memory-size surcharge's block charge as the metering pass writes it
/// (`gasket_metering`'s `access.rs`): `global.get $s; i64.const scale; i64.mul;
/// i64.const add; i64.add; call $gas`. Compiled one operator at a time it was a load into
/// an allocated register, a multiply, an add and the subtract; as one charge it is
/// [`MacroAssembler::charge_gas_scaled`] (x86-64: `imul rax, [vmctx + g], scale;
/// add rax, add; sub r13, rax; jb`), with no register allocated and nothing spilled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct ScaledCharge {
    global: u32,
    scale: u32,
    add: u32,
}

impl ScaledCharge {
    /// The operators it spans.
    pub const OPERATORS: usize = 6;
    /// The opcode it starts with (`global.get`).
    pub const FIRST_OPCODE: u8 = 0x23;
}

/// A scaled charge's immediates `(global, scale, add, function)` and its length in bytes.
type ChargeImmediates = (u32, i64, i64, u32, usize);

/// What [`charge_immediates`] found at the start of the bytes.
enum Immediates {
    /// The charge's six opcodes, their immediates read.
    Charge(ChargeImmediates),
    /// Another operator sequence (an opcode differs).
    Not,
    /// An immediate longer than the short readers read (or truncated bytes): wasmparser's
    /// reader decides ([`charge_immediates_general`]).
    Long,
}

const I64_CONST: u8 = 0x42;
const I64_MUL: u8 = 0x7e;
const I64_ADD: u8 = 0x7c;
const CALL: u8 = 0x10;

/// The operators of a [`ScaledCharge`] at the start of `rest`, read with the body
/// reader's short LEB128 readers (inline): they give wasmparser's values for every
/// encoding they accept (an index of at most four bytes, a constant of at most nine, as
/// the metering pass writes them: minimal), and decline the rest, which
/// [`charge_immediates_general`] reads as before. Through wasmparser's out-of-line
/// `BinaryReader` reads for all of them, each charge cost ≈ 75 instructions of decoding.
#[inline]
fn charge_immediates(rest: &[u8]) -> Immediates {
    use gasket_body_reader::{short_i64, short_u32};
    let opcode = |at: usize, expected: u8| rest.get(at) == Some(&expected);
    if !opcode(0, ScaledCharge::FIRST_OPCODE) {
        return Immediates::Not;
    }
    let Some((global, n)) = short_u32(&rest[1..]) else {
        return Immediates::Long;
    };
    let at = 1 + n;
    if !opcode(at, I64_CONST) {
        return Immediates::Not;
    }
    let Some((scale, n)) = rest.get(at + 1..).and_then(|b| short_i64(b, 9)) else {
        return Immediates::Long;
    };
    let at = at + 1 + n;
    if !opcode(at, I64_MUL) || !opcode(at + 1, I64_CONST) {
        return Immediates::Not;
    }
    let Some((add, n)) = rest.get(at + 2..).and_then(|b| short_i64(b, 9)) else {
        return Immediates::Long;
    };
    let at = at + 2 + n;
    if !opcode(at, I64_ADD) || !opcode(at + 1, CALL) {
        return Immediates::Not;
    }
    let Some((function, n)) = rest.get(at + 2..).and_then(short_u32) else {
        return Immediates::Long;
    };
    Immediates::Charge((global, scale, add, function, at + 2 + n))
}

/// [`charge_immediates`] through wasmparser's reader, for the encodings the short
/// readers decline (padded or long immediates, truncated bytes): None where an opcode
/// differs or wasmparser cannot read an immediate.
#[cold]
#[inline(never)]
fn charge_immediates_general(rest: &[u8]) -> Option<ChargeImmediates> {
    let mut next = BinaryReader::new(rest, 0);
    if next.read_u8().ok()? != ScaledCharge::FIRST_OPCODE {
        return None;
    }
    let global = next.read_var_u32().ok()?;
    if next.read_u8().ok()? != I64_CONST {
        return None;
    }
    let scale = next.read_var_i64().ok()?;
    if next.read_u8().ok()? != I64_MUL || next.read_u8().ok()? != I64_CONST {
        return None;
    }
    let add = next.read_var_i64().ok()?;
    if next.read_u8().ok()? != I64_ADD || next.read_u8().ok()? != CALL {
        return None;
    }
    let function = next.read_var_u32().ok()?;
    Some((global, scale, add, function, next.current_position()))
}

/// The ISA's [`MacroAssembler::return_register`] if a function whose results have `kinds`
/// also returns there: exactly one result, an integer or a reference.
pub(super) fn return_register_for(
    masm: &impl MacroAssembler,
    mut kinds: impl Iterator<Item = Kind>,
) -> Option<Reg> {
    let one_integer = matches!(
        (kinds.next(), kinds.next()),
        (Some(Kind::I32 | Kind::I64 | Kind::Ref), None)
    );
    masm.return_register().filter(|_| one_integer)
}

impl<M: MacroAssembler> FuncGen<'_, M> {
    /// The [`ScaledCharge`] whose operators start `rest`, if they are exactly one
    /// (every constant below 2^31, so both fit a sign-extended 32-bit immediate; the
    /// metering pass's never come near) in reachable code. Anything else is compiled
    /// operator by operator, as before. Also returns the charge's length in bytes (its
    /// six operators open and close no frame: a trusted compile steps over them).
    pub(super) fn scaled_charge(&self, rest: &[u8]) -> Option<(ScaledCharge, usize)> {
        if self.unreachable {
            return None;
        }
        let (global, scale, add, function, len) = match charge_immediates(rest) {
            Immediates::Charge(immediates) => immediates,
            Immediates::Not => return None,
            Immediates::Long => charge_immediates_general(rest)?,
        };
        let def = self.env.layout.globals.get(global as usize)?;
        if def.ty.ty != ValType::I64 || self.env.intrinsic(function) != Some(Intrinsic::Gas) {
            return None;
        }
        let imm32 = |v: i64| u32::try_from(v).ok().filter(|&v| v <= i32::MAX as u32);
        let charge = ScaledCharge {
            global,
            scale: imm32(scale)?,
            add: imm32(add)?,
        };
        Some((charge, len))
    }

    /// Compiles a [`ScaledCharge`] (its operators read and validated by the caller).
    pub(super) fn charge_scaled(&mut self, charge: ScaledCharge) {
        // The charge's subtract sets the flags.
        self.materialize_flags();
        let label = self.labels.trap(TrapKind::OutOfGas);
        self.masm.charge_gas_scaled(
            VmCtx::global_offset(charge.global),
            charge.scale,
            charge.add,
            label,
        );
    }

    pub fn call(&mut self, function: u32) -> Result<(), CompileError> {
        if let Some(intrinsic) = self.env.intrinsic(function) {
            return self.intrinsic(intrinsic);
        }
        // Borrowed from the module, not cloned: a call allocated nothing before it did.
        let env = self.env;
        let sig = env.func_sig(function);
        self.store_call_arguments(sig.params.len(), sig.results.len());
        let label = self.labels.functions[function as usize];
        self.masm.call(label);
        // The callee may have moved the current written range aside.
        self.proven.forget_marks();
        self.take_call_results(&sig.results);
        Ok(())
    }

    pub fn call_indirect(&mut self, type_index: u32, table: u32) -> Result<(), CompileError> {
        let env = self.env;
        let sig = &env.types[type_index as usize];
        let expected_type = self.env.type_ids[type_index as usize];
        let index = self.pop();
        let index = self.owned_reg(index);
        self.store_call_arguments(sig.params.len(), sig.results.len());
        let def = self.table_def(table);
        self.table_element(def, index);
        self.masm
            .load(LoadKind::I64, index, Address::at(Base::Reg(def), 0));
        self.masm
            .cmp(crate::masm::Size::S64, index, Operand::Imm(0));
        self.trap_if(Cond::Eq, TrapKind::IndirectCallToNull);
        self.masm.load(
            LoadKind::I32,
            def,
            Address::at(Base::Reg(index), FuncRef::TYPE_ID.into()),
        );
        self.masm.cmp(
            crate::masm::Size::S32,
            def,
            Operand::Imm(expected_type.into()),
        );
        self.trap_if(Cond::Ne, TrapKind::IndirectCallTypeMismatch);
        self.masm.load(
            LoadKind::I64,
            def,
            Address::at(Base::Reg(index), FuncRef::CODE.into()),
        );
        self.masm.call_indirect(def);
        self.proven.forget_marks();
        self.free_reg(def);
        self.free_reg(index);
        self.take_call_results(&sig.results);
        Ok(())
    }

    /// Spills what must survive the call, stores the top `params` values into the
    /// outgoing area at `sp` and saves the lent registers.
    fn store_call_arguments(&mut self, params: usize, results: usize) {
        let first = self.stack.len() - params;
        self.spill_registers_below(first);
        self.spill_floats_from(first);
        // The frame keeps room for the largest call's area at its bottom (`sp`), so a
        // call moves no stack pointer.
        let area = ((params.max(results) * 8).div_ceil(16) * 16) as u32;
        self.max_outgoing = self.max_outgoing.max(area);
        for i in 0..params {
            let src = self.operand(self.value_at(first + i));
            self.masm
                .store(StoreWidth::B64, Address::at(Base::Sp, 8 * i as i64), src);
        }
        self.truncate(first);
        self.save_lent();
    }

    /// Reloads the lent registers and pushes the callee's results: from the return
    /// register when the callee leaves it there (one integer result), else from the
    /// outgoing area.
    fn take_call_results(&mut self, results: &[crate::artifact::ValType]) {
        self.restore_lent();
        let kinds = results.iter().map(|&ty| Self::artifact_kind(ty));
        if let Some(ret) = return_register_for(&*self.masm, kinds) {
            let kind = Self::artifact_kind(results[0]);
            let reg = self.alloc();
            self.masm.mov(kind.size(), reg, Operand::Reg(ret));
            self.push_reg(kind, reg);
            return;
        }
        for (i, &ty) in results.iter().enumerate() {
            let kind = Self::artifact_kind(ty);
            let reg = self.alloc();
            let load = if kind.size() == Size::S32 {
                LoadKind::I32
            } else {
                LoadKind::I64
            };
            self.masm
                .load(load, reg, Address::at(Base::Sp, 8 * i as i64));
            self.push_reg(kind, reg);
        }
    }

    /// The injected `gasket` imports, compiled inline.
    fn intrinsic(&mut self, intrinsic: Intrinsic) -> Result<(), CompileError> {
        let arg = self.pop();
        match intrinsic {
            Intrinsic::Gas => {
                let amount = match arg.loc {
                    Loc::Const(c) => Operand::Imm(c),
                    _ => Operand::Reg(self.owned_reg(arg)),
                };
                let label = self.labels.trap(TrapKind::OutOfGas);
                self.masm.charge_gas(amount, label);
                if let Operand::Reg(reg) = amount {
                    self.free_reg(reg);
                }
            }
            Intrinsic::StackEnter | Intrinsic::StackLeave => {
                let Loc::Const(units) = arg.loc else {
                    return Err(self.unsupported(
                        "a non-constant stack_enter/stack_leave argument (only the metering \
                         pass may call the gasket intrinsics)",
                    ));
                };
                // The units size the frame (see `NATIVE_STACK_BYTES_PER_UNIT`): one
                // compare of the stack pointer on entry, nothing on leaving.
                if intrinsic == Intrinsic::StackEnter {
                    if self.frame_units.is_some() {
                        return Err(self.unsupported(
                            "a second stack_enter in one function (only the metering pass \
                             may call the gasket intrinsics)",
                        ));
                    }
                    self.frame_units = Some(units as u32);
                    self.masm.stack_enter(self.labels.stack_grant);
                }
            }
        }
        Ok(())
    }

    /// Calls runtime helper `libcall` with `(vmctx, prefix..., top nargs values...)`,
    /// popping the values. Every register value is spilled first and the lent registers
    /// saved (helpers clobber the allocatable registers); an argument in a lent register
    /// is passed from its save slot. Returns the register holding the helper's result.
    pub(super) fn libcall(&mut self, libcall: Libcall, prefix: &[i64], nargs: usize) -> Reg {
        self.spill_all_registers();
        self.save_lent();
        let first = self.stack.len() - nargs;
        self.spill_floats_from(first);
        let mut args: Vec<LibcallArg> = prefix.iter().map(|&c| LibcallArg::Imm(c)).collect();
        for depth in first..self.stack.len() {
            let arg = match self.libcall_arg(self.value_at(depth)) {
                LibcallArg::Reg(reg) => match self.lent.iter().position(|&r| r == reg) {
                    Some(i) => LibcallArg::Frame(self.lent_slot(i)),
                    None => LibcallArg::Reg(reg),
                },
                other => other,
            };
            args.push(arg);
        }
        let result = self.masm.call_libcall(libcall, &args);
        // Bulk memory operations (and any helper) may mark anywhere.
        self.proven.forget_marks();
        // Loads only: the result register keeps the helper's result.
        self.restore_lent();
        // Popped after the call: their slots had to stay theirs until it was made.
        self.truncate(first);
        result
    }

    /// A helper that returns a trap code: trap with it unless it is 0.
    pub fn libcall_checked(&mut self, libcall: Libcall, prefix: &[i64], nargs: usize) {
        let result = self.libcall(libcall, prefix, nargs);
        self.masm.trap_if_nonzero(result, self.labels.dynamic_trap);
    }

    /// A helper that returns a value (an i32): moved into a fresh register.
    pub fn libcall_value(&mut self, libcall: Libcall, prefix: &[i64], nargs: usize) -> Reg {
        let result = self.libcall(libcall, prefix, nargs);
        let reg = self.alloc();
        self.masm
            .mov(crate::masm::Size::S32, reg, Operand::Reg(result));
        reg
    }

    /// Spills every register entry of the stack.
    fn spill_all_registers(&mut self) {
        let len = self.stack.len();
        self.spill_registers_below(len);
    }
}

#[cfg(test)]
mod tests {
    use super::{charge_immediates, charge_immediates_general, Immediates};
    use crate::test_rng::xorshift;

    fn uleb(mut value: u64, pad_to: usize, out: &mut Vec<u8>) {
        let start = out.len();
        loop {
            let byte = (value & 0x7f) as u8;
            value >>= 7;
            if value == 0 && out.len() + 1 - start >= pad_to {
                out.push(byte);
                return;
            }
            out.push(byte | 0x80);
        }
    }

    fn sleb(mut value: i64, pad_to: usize, out: &mut Vec<u8>) {
        let start = out.len();
        loop {
            let byte = (value & 0x7f) as u8;
            value >>= 7;
            let done = (value == 0 && byte & 0x40 == 0) || (value == -1 && byte & 0x40 != 0);
            if done && out.len() + 1 - start >= pad_to {
                out.push(byte);
                return;
            }
            out.push(byte | 0x80);
        }
    }

    /// The inline reading of a scaled charge answers what wasmparser's reader answers:
    /// the same immediates and length where it reads a charge, no charge where an opcode
    /// differs, and it leaves every encoding it does not read (padded, long, truncated,
    /// malformed) to that reader.
    #[test]
    fn charge_immediates_match_wasmparser() {
        let mut next = xorshift(0x2545_f491_4f6c_dd1d);
        let mut inline_reads = 0;
        for round in 0..20_000 {
            let mut bytes = vec![0x23];
            let pads = |r: u64| {
                if r.is_multiple_of(4) {
                    (r % 11) as usize
                } else {
                    0
                }
            };
            uleb(next() >> (next() % 64), pads(next()), &mut bytes);
            bytes.push(0x42);
            sleb(next() as i64 >> (next() % 64), pads(next()), &mut bytes);
            bytes.extend([0x7e, 0x42]);
            sleb(next() as i64 >> (next() % 64), pads(next()), &mut bytes);
            bytes.extend([0x7c, 0x10]);
            uleb(next() >> (next() % 64), pads(next()), &mut bytes);
            bytes.push(0x0b);
            // Now and then a byte changed, or the bytes cut short.
            match round % 5 {
                0 => {
                    let at = (next() as usize) % bytes.len();
                    bytes[at] = next() as u8;
                }
                1 => bytes.truncate((next() as usize) % bytes.len()),
                _ => {}
            }
            let general = charge_immediates_general(&bytes);
            match charge_immediates(&bytes) {
                Immediates::Charge(found) => {
                    inline_reads += 1;
                    assert_eq!(Some(found), general, "{bytes:x?}");
                }
                Immediates::Not => assert_eq!(general, None, "{bytes:x?}"),
                Immediates::Long => {}
            }
        }
        // Both readers exercised: every fourth immediate or so is too long to read inline.
        assert!(inline_reads > 1_000, "{inline_reads}");
    }
}
