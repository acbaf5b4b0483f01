//! Counted loops (issue 16): a top-tested loop whose iterations the instrumented module
//! charges one by one is compiled with its charge taken out of the loop body, and the
//! iterations charged once, where the loop is left (ARCHITECTURE.md, "Counted-loop
//! charge"). Built: x86-64, fast mode, step 1, unsigned exit test, a body without
//! stores. The instrumented module is unchanged: only its compiled code is.
//!
//! The shape, as the metering pass writes sieve's count loop (the header's charge
//! deferred past the exit test, `metering/src/defer.rs`):
//!
//! ```text
//! loop                                  ;; no parameters, no results
//!   local.get $j  (local.get $n | i32.const n)  i32.ge_u  br_if $exit
//!   i64.const C  call $gas              ;; the iteration's charge
//!   B                                   ;; see `body_operator`
//!   local.get $j  i32.const 1  i32.add  local.set $j
//!   br 0
//! end
//! ```
//!
//! `$j` an i32 local in a register written only by the update, `$n` a constant or an i32
//! local nothing in the loop writes, `$exit` a `block` without results. [`top_tested`]
//! recognises it at the `loop` operator by a bounded look-ahead ([`MAX_OPERATORS`]
//! operators, so compile work stays linear); `FuncGen::loop_` compiles it.
//!
//! Exactness (fast mode, `s = 1`, no wrap: `j_i < n ⇒ j_i + 1 ≤ 2^32 - 1`, so `j_i = j_0 +
//! i`): at entry, with `g` the gas left, `m = ⌊g/C⌋` and `bound = min(n, j_0 + m)` (u64,
//! `m` clamped at 2^32 first, which changes no minimum since `n < 2^32`). The header
//! tests `j ≥ bound`; before iteration `i`'s body it passes iff `j_i < n ∧ i < m`, the
//! per-iteration code's condition (its test passed and its charge did not borrow). When it
//! fails, the exit stub charges `i·C` (`i = j − j_0 ≤ m`: no borrow) for the `i`
//! iterations that ran, then leaves to `$exit` if `j ≥ n` (the per-iteration code paid
//! exactly that), else `i = m` and the per-iteration code would have passed its test
//! and failed the charge with nothing in between: trap `out_of_gas`. A trap in the body
//! of iteration `i` (a load out of bounds) goes through a loop-local stub that first
//! charges `(i + 1)·C`, what the per-iteration code had charged by then (`i + 1 ≤ m`:
//! no borrow), so the trap reports the same gas. Nothing else in such a body reads the
//! gas register: no call, no charge, no store (its dirty-range stub charges write gas),
//! no helper.

use gasket_host_api::Intrinsic;

use crate::masm::{
    Address, AluOp, Base, Cond, DivOp, Label, MacroAssembler, Operand, Reg, Size, StoreWidth,
};
use crate::TrapKind;

use super::bytes::Bytes;
use super::control::FrameKind;
use super::func::FuncGen;
use super::stack::{Kind, Loc, LocalHome};

/// How many operators a counted loop's body may have: bounds the look-ahead (each `loop`
/// header scans at most this many).
pub(super) const MAX_OPERATORS: usize = 64;

/// How many operators the header compiled as the fused test spans: the test's three,
/// the `br_if`, the charge's two.
pub(super) const HEADER_OPERATORS: usize = 6;

/// The exit test's bound.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) enum Bound {
    Local(u32),
    Const(u32),
}

/// A loop [`top_tested`] recognised.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) struct CountedLoop {
    /// The induction variable `$j`.
    pub var: u32,
    pub bound: Bound,
    /// The `br_if`'s relative depth inside the loop (≥ 1).
    pub exit_depth: u32,
    /// The iteration's charge `C` (1..2^31).
    pub cost: u32,
    /// The bytes of the header's six operators (the test, the `br_if`, the charge),
    /// which `FuncGen` compiles as the fused test.
    pub header_len: usize,
}

/// Operators `B` may hold besides local accesses: constants, `global.get`, loads (the
/// integer ones), non-trapping integer operators, `drop`, `select`. None writes memory,
/// reads gas, branches or calls; the loads' bounds checks are the only traps.
fn body_operator(op: u8) -> bool {
    matches!(op,
        0x1a | 0x1b                 // drop, select
        | 0x23                      // global.get
        | 0x28 | 0x29 | 0x2c..=0x35 // integer loads
        | 0x41 | 0x42               // i32.const, i64.const
        | 0x45..=0x5a               // integer tests and compares
        | 0x67..=0x6c | 0x71..=0x78 // i32 bit counts, add, sub, mul, bitwise, shifts
        | 0x79..=0x7e | 0x83..=0x8a // the same for i64
        | 0xa7 | 0xac | 0xad        // wrap, extends
        | 0xc0..=0xc4) // sign extensions
}

/// The counted loop whose operator bytes (after the `loop`'s empty block type, up to and
/// past its `end`) start `code`, if they have exactly the shape above; `is_gas(f)`: `f`
/// is the gas intrinsic. Whether `$j`, `$n` and the exit's frame qualify is the caller's
/// to check (it knows their homes and the frames).
pub(crate) fn top_tested(code: &[u8], is_gas: impl Fn(u32) -> bool) -> Option<CountedLoop> {
    let mut bytes = Bytes { code, at: 0 };
    // The header: local.get $j; (local.get $n | i32.const n); i32.ge_u; br_if d.
    if bytes.byte()? != 0x20 {
        return None;
    }
    let var = bytes.u32()?;
    let bound = match bytes.byte()? {
        0x20 => Bound::Local(bytes.u32()?),
        0x41 => Bound::Const(bytes.i32()? as u32),
        _ => return None,
    };
    if bytes.byte()? != 0x4f || bytes.byte()? != 0x0d {
        return None;
    }
    let exit_depth = bytes.u32()?;
    // The charge: i64.const C; call $gas.
    if exit_depth == 0 || bytes.byte()? != 0x42 {
        return None;
    }
    // Every block charge's constant fits five bytes; a negative one fails the range.
    let cost = bytes.short_i64(5)?;
    let cost = u32::try_from(cost)
        .ok()
        .filter(|&c| (1..=i32::MAX as u32).contains(&c))?;
    if bytes.byte()? != 0x10 || !is_gas(bytes.u32()?) {
        return None;
    }
    let header_len = bytes.at;
    if let Bound::Local(n) = bound {
        if n == var {
            return None;
        }
    }
    // The body, up to `br 0; end`. `last`: the last four operators' starts.
    let mut last = [usize::MAX; 4];
    let mut var_writes = 0;
    for _ in 0..MAX_OPERATORS {
        let start = bytes.at;
        let op = bytes.byte()?;
        match op {
            0x0c => {
                if bytes.u32()? != 0 || bytes.byte()? != 0x0b {
                    return None;
                }
                // The update ends the body and is the variable's only write.
                let update = last[0];
                return (var_writes == 1 && update != usize::MAX && is_update(code, update, var))
                    .then_some(CountedLoop {
                        var,
                        bound,
                        exit_depth,
                        cost,
                        header_len,
                    });
            }
            0x20 => {
                bytes.u32()?;
            }
            0x21 | 0x22 => {
                let local = bytes.u32()?;
                if Bound::Local(local) == bound {
                    return None;
                }
                var_writes += usize::from(local == var);
            }
            op if body_operator(op) => bytes.skip_immediates(op)?,
            _ => return None,
        }
        last = [last[1], last[2], last[3], start];
    }
    None
}

/// Whether the bytes at `at` end `code`'s body with exactly `local.get var; i32.const 1;
/// i32.add; local.set var; br 0; end` (the variable's index in its shortest encoding,
/// as the four operators before `br 0` start at `at`).
fn is_update(code: &[u8], at: usize, var: u32) -> bool {
    let mut bytes = Bytes { code, at };
    let mut read = || -> Option<bool> {
        Some(
            bytes.byte()? == 0x20
                && bytes.u32()? == var
                && bytes.byte()? == 0x41
                && bytes.byte()? == 0x01
                && bytes.byte()? == 0x6a
                && bytes.byte()? == 0x21
                && bytes.u32()? == var
                && bytes.byte()? == 0x0c,
        )
    };
    read() == Some(true)
}

/// A counted loop being compiled (`FuncGen::counted`).
pub(crate) struct OpenCounted {
    /// The variable's register.
    var: Reg,
    /// The bound: a constant, the bound local's register or frame slot.
    bound: Operand,
    /// `C`.
    cost: u32,
    /// The gas register.
    gas: Reg,
    /// The frame offsets of the slots holding `j_0` and `bound` (two hidden entries
    /// below the loop's frame, like `hoist`'s product).
    start_slot: i32,
    bound_slot: i32,
    /// The exit stub, where the fused test jumps.
    exit_stub: Label,
    /// Where the loop is left: the end of `$exit`.
    exit: Label,
    /// The loop-local trap stubs the body jumps to, by kind (made on first use).
    traps: Vec<(TrapKind, Label)>,
}

impl OpenCounted {
    /// The loop-local stub of `kind`.
    pub fn trap_label<M: MacroAssembler>(&mut self, kind: TrapKind, masm: &mut M) -> Label {
        if let Some(&(_, label)) = self.traps.iter().find(|t| t.0 == kind) {
            return label;
        }
        let label = masm.new_label();
        self.traps.push((kind, label));
        label
    }
}

impl<M: MacroAssembler> FuncGen<'_, M> {
    /// The counted loop whose `loop` operator (empty block type) is being compiled, its
    /// bytes after the block type at `at` in `self.code`, if the ISA compiles counted
    /// loops, none is open, and its variable, bound and exit qualify: `$j` an i32 local
    /// in a register, `$n` an i32 local (any home) or a constant, `$exit` a live `block`
    /// without results. Returns it with the variable's register and the bound operand.
    pub(super) fn counted_loop_at(&self, at: usize) -> Option<(CountedLoop, Reg, Operand)> {
        self.masm.counted_loop_gas()?;
        if self.counted.is_some() {
            return None;
        }
        let env = self.env;
        let shape = top_tested(self.code.get(at..)?, |f| {
            env.intrinsic(f) == Some(Intrinsic::Gas)
        })?;
        let var = self.locals.get(shape.var as usize)?;
        let LocalHome::Reg(reg) = var.home else {
            return None;
        };
        if var.kind != Kind::I32 {
            return None;
        }
        let bound = match shape.bound {
            Bound::Const(n) => Operand::Imm(n.into()),
            Bound::Local(n) => {
                let local = self.locals.get(n as usize)?;
                match (local.kind, local.home) {
                    (Kind::I32, LocalHome::Reg(r)) => Operand::Reg(r),
                    (Kind::I32, LocalHome::Frame(o)) => Operand::Frame(o),
                    _ => return None,
                }
            }
        };
        // The loop's frame is not pushed yet: depth d from inside it is d - 1 from here.
        let exit = self.frames.len().checked_sub(shape.exit_depth as usize)?;
        let frame = self.frames.get(exit)?;
        if frame.kind != FrameKind::Block || !frame.results.is_empty() || frame.dead {
            return None;
        }
        Some((shape, reg, bound))
    }

    /// Before the loop's header (every value below it in canonical form): pushes the two
    /// hidden entries whose slots hold `j_0` and `bound`, computes them, and opens the
    /// loop. Returns the stack depth above them (the loop frame's base).
    pub(super) fn enter_counted(&mut self, shape: CountedLoop, var: Reg, bound: Operand) -> usize {
        let gas = self
            .masm
            .counted_loop_gas()
            .expect("counted_loop_at checked the ISA");
        let first = self.stack.len();
        self.push(Kind::I64, Loc::Slot);
        self.push(Kind::I64, Loc::Slot);
        let (start_slot, bound_slot) = (self.slot_offset(first), self.slot_offset(first + 1));
        let (m, t) = (self.alloc(), self.alloc());
        // j_0 (an i32 register's upper half is zero).
        self.masm.store(
            StoreWidth::B64,
            Address::at(Base::Frame, start_slot.into()),
            Operand::Reg(var),
        );
        // m = min(floor(gas / C), 2^32): the clamp changes no minimum with n < 2^32, and
        // keeps j_0 + m from overflowing.
        self.masm.mov(Size::S64, t, Operand::Imm(shape.cost.into()));
        self.masm.div(DivOp::DivU, Size::S64, m, gas, t);
        self.masm.mov(Size::S64, t, Operand::Imm(1 << 32));
        self.masm.cmp(Size::S64, m, Operand::Reg(t));
        self.masm.cmov(Cond::GtU, Size::S64, m, t);
        // bound = min(n, j_0 + m).
        self.masm.mov(Size::S32, t, Operand::Reg(var));
        self.masm.alu(AluOp::Add, Size::S64, m, m, Operand::Reg(t));
        self.masm.mov(Size::S32, t, bound);
        self.masm.cmp(Size::S64, m, Operand::Reg(t));
        self.masm.cmov(Cond::GtU, Size::S64, m, t);
        self.masm.store(
            StoreWidth::B64,
            Address::at(Base::Frame, bound_slot.into()),
            Operand::Reg(m),
        );
        self.free_reg(m);
        self.free_reg(t);
        let exit_frame = self.frames.len() - shape.exit_depth as usize;
        self.frames[exit_frame].branched = true;
        let exit = self.frames[exit_frame].label;
        let exit_stub = self.masm.new_label();
        self.counted = Some(OpenCounted {
            var,
            bound,
            cost: shape.cost,
            gas,
            start_slot,
            bound_slot,
            exit_stub,
            exit,
            traps: Vec::new(),
        });
        self.counted_header = Some(shape.header_len);
        first + 2
    }

    /// At the loop's header: the fused exit test `j >= bound`, to the exit stub.
    pub(super) fn counted_header(&mut self) {
        let Some(open) = self.counted.as_ref() else {
            return;
        };
        let (var, bound_slot, stub) = (open.var, open.bound_slot, open.exit_stub);
        self.masm.cmp(Size::S32, var, Operand::Frame(bound_slot));
        self.masm.branch(Cond::GeU, stub);
    }

    /// At the loop's `end` (nothing falls through it: the body ends in `br 0`): the exit
    /// stub and the body's trap stubs, out of the loop, and the hidden entries dropped.
    pub(super) fn leave_counted(&mut self, base: usize) {
        let Some(open) = self.counted.take() else {
            return;
        };
        // Every allocatable register is dead here: the stubs leave the function's values
        // behind (a trap) or arrive where every value is in its slot (`$exit`'s end).
        let t = self.allocatable[0];
        let start = Operand::Frame(open.start_slot);
        let cost = Operand::Imm(open.cost.into());
        // Gas for the i = j - j_0 iterations run; then leave, or trap where the
        // per-iteration charge would have.
        self.masm.bind(open.exit_stub);
        self.masm.mov(Size::S32, t, Operand::Reg(open.var));
        self.masm.alu(AluOp::Sub, Size::S64, t, t, start);
        self.masm.alu(AluOp::Mul, Size::S64, t, t, cost);
        self.masm
            .alu(AluOp::Sub, Size::S64, open.gas, open.gas, Operand::Reg(t));
        self.masm.cmp(Size::S32, open.var, open.bound);
        self.masm.branch(Cond::GeU, open.exit);
        self.masm.jump(self.labels.trap(TrapKind::OutOfGas));
        // A trap in iteration i's body: the i + 1 iterations charged by then.
        for &(kind, label) in &open.traps {
            self.masm.bind(label);
            self.masm.mov(Size::S32, t, Operand::Reg(open.var));
            self.masm.alu(AluOp::Sub, Size::S64, t, t, start);
            self.masm.alu(AluOp::Add, Size::S64, t, t, Operand::Imm(1));
            self.masm.alu(AluOp::Mul, Size::S64, t, t, cost);
            self.masm
                .alu(AluOp::Sub, Size::S64, open.gas, open.gas, Operand::Reg(t));
            self.masm.jump(self.labels.trap(kind));
        }
        self.truncate(base - 2);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The bytes after the first `loop`'s block type of `(func (param i32 i32) (local i32)
    /// <wat>)` whose gas intrinsic is function 0.
    fn loop_bytes(wat: &str) -> Vec<u8> {
        let wat = format!(
            "(module (import \"gasket\" \"gas\" (func (param i64)))
               (memory 1)
               (func (param i32 i32) (local i32) {wat}))"
        );
        let wasm = wat::parse_str(wat).unwrap();
        let at = wasm
            .windows(2)
            .position(|w| w == [0x03, 0x40])
            .expect("the loop");
        wasm[at + 2..].to_vec()
    }

    fn shape(body: &str, update: &str) -> String {
        format!(
            "(block $done (loop $next
               (br_if $done (i32.ge_u (local.get 0) (local.get 1)))
               (call 0 (i64.const 37))
               {body}
               {update}
               (br $next)))"
        )
    }

    const UPDATE: &str = "(local.set 0 (i32.add (local.get 0) (i32.const 1)))";

    #[test]
    fn recognises_the_count_loop() {
        let body = "(local.set 2 (i32.add (local.get 2) (i32.load8_u (local.get 0))))";
        let code = loop_bytes(&shape(body, UPDATE));
        let found = top_tested(&code, |f| f == 0).expect("a counted loop");
        assert_eq!(
            found,
            CountedLoop {
                var: 0,
                bound: Bound::Local(1),
                exit_depth: 1,
                cost: 37,
                header_len: 11,
            }
        );
        // Not the gas intrinsic.
        assert_eq!(top_tested(&code, |f| f == 1), None);
    }

    #[test]
    fn a_constant_bound() {
        let wat = "(block $done (loop $next
               (br_if $done (i32.ge_u (local.get 0) (i32.const -5)))
               (call 0 (i64.const 300))
               (local.set 0 (i32.add (local.get 0) (i32.const 1)))
               (br $next)))";
        let found = top_tested(&loop_bytes(wat), |f| f == 0).expect("a counted loop");
        assert_eq!(found.bound, Bound::Const(-5i32 as u32));
        assert_eq!(found.cost, 300);
    }

    #[test]
    fn near_misses_are_not_counted() {
        let misses = [
            // A store (its write charge reads the gas register).
            shape("(i32.store8 (local.get 0) (local.get 0))", UPDATE),
            // The variable written twice, or the bound written.
            shape("(local.set 0 (local.get 0))", UPDATE),
            shape("(local.set 1 (i32.const 0))", UPDATE),
            // A call, a branch, a block.
            shape("(call 0 (i64.const 1))", UPDATE),
            shape("(br_if 1 (local.get 2))", UPDATE),
            shape("(block)", UPDATE),
            // A trapping operator the scan does not settle: division.
            shape(
                "(local.set 2 (i32.div_u (local.get 2) (local.get 1)))",
                UPDATE,
            ),
            // Another step, another update.
            shape("", "(local.set 0 (i32.add (local.get 0) (i32.const 2)))"),
            shape("", "(local.set 0 (i32.add (i32.const 1) (local.get 0)))"),
            shape("", "(local.set 0 (i32.sub (local.get 0) (i32.const -1)))"),
        ];
        for wat in misses {
            assert_eq!(top_tested(&loop_bytes(&wat), |f| f == 0), None, "{wat}");
        }
        // Signed test.
        let signed = shape("", UPDATE).replace("ge_u", "ge_s");
        assert_eq!(top_tested(&loop_bytes(&signed), |f| f == 0), None);
        // Past the operator bound.
        let long = shape(&"(drop (i32.const 0))".repeat(MAX_OPERATORS / 2), UPDATE);
        assert_eq!(top_tested(&loop_bytes(&long), |f| f == 0), None);
    }
}
