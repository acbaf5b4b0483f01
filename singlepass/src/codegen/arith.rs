//! Integer operators: comparisons (left in the flags for a following branch or select),
//! arithmetic with constants folded into immediates or evaluated at compile time,
//! division with its traps, bit counts, width changes and select.

use crate::masm::{
    AluOp, BitOp, Cond, DivOp, ExtendOp, MacroAssembler, Operand, Reg, ShiftOp, Size,
};
use crate::TrapKind;

use super::func::FuncGen;
use super::stack::{Kind, Loc, Popped};

mod divisor;

pub(crate) use divisor::UnsignedDivisor;

impl<M: MacroAssembler> FuncGen<'_, M> {
    /// `lhs <cond> rhs`, pushed as pending flags.
    pub fn compare(&mut self, size: Size, cond: Cond) {
        let rhs = self.pop();
        let lhs = self.pop();
        if let (Loc::Const(a), Loc::Const(b)) = (lhs.loc, rhs.loc) {
            let result = evaluate_cond(cond, size, a, b);
            self.push_const(Kind::I32, result as i64);
            return;
        }
        // The ISA compares a register with an operand: put a constant on the right.
        let (lhs, rhs, cond) = if matches!(lhs.loc, Loc::Const(_)) {
            (rhs, lhs, cond.swap())
        } else {
            (lhs, rhs, cond)
        };
        let reg = self.register_operand(lhs);
        let operand = self.operand(rhs);
        self.masm.cmp(size, reg, operand);
        self.release_operand(lhs, reg);
        self.release(rhs);
        self.push(Kind::I32, Loc::Flags(cond));
    }

    /// `eqz` (and `ref.is_null`): a pending comparison is inverted for free.
    pub fn eqz(&mut self, size: Size) {
        let value = self.pop();
        match value.loc {
            Loc::Flags(cond) => self.push(Kind::I32, Loc::Flags(cond.invert())),
            Loc::Const(c) => {
                let zero = match size {
                    Size::S32 => c as u32 == 0,
                    Size::S64 => c == 0,
                };
                self.push_const(Kind::I32, zero as i64);
            }
            _ => {
                let reg = self.register_operand(value);
                self.masm.cmp(size, reg, Operand::Imm(0));
                self.release_operand(value, reg);
                self.push(Kind::I32, Loc::Flags(Cond::Eq));
            }
        }
    }

    /// A register holding `value` for reading only: a register it already occupies (its
    /// own or a local's), else a fresh one. Pair with [`Self::release_operand`].
    pub(super) fn register_operand(&mut self, value: Popped) -> crate::masm::Reg {
        match self.operand(value) {
            Operand::Reg(reg) => reg,
            _ => self.owned_reg(value),
        }
    }

    /// Frees what [`Self::register_operand`] gave for `value`.
    pub(super) fn release_operand(&mut self, value: Popped, reg: crate::masm::Reg) {
        match value.loc {
            Loc::Local(_) if self.operand(value) == Operand::Reg(reg) => {}
            _ => self.free_reg(reg),
        }
    }

    /// When the top two entries read the two locals of the open loop's hoisted product
    /// (see `hoist`; in either order, the multiply commutes) for a multiply of `kind`:
    /// pops them and returns where their product is: the lent register it was given, or
    /// the hidden entry's slot.
    fn hoisted_product(&mut self, kind: Kind) -> Option<Operand> {
        let (product, depth) = self.hoisted?;
        let [.., lhs, rhs] = self.stack[..] else {
            return None;
        };
        let wide = match kind {
            Kind::I32 => false,
            Kind::I64 => true,
            _ => return None,
        };
        let (Loc::Local(a), Loc::Local(b)) = (lhs.loc, rhs.loc) else {
            return None;
        };
        let same = (a, b) == (product.a, product.b) || (b, a) == (product.a, product.b);
        if !same || wide != product.wide {
            return None;
        }
        for _ in 0..2 {
            let value = self.pop();
            self.release(value);
        }
        Some(match self.displaced {
            Some(i) => Operand::Reg(self.lent[i]),
            None => Operand::Frame(self.slot_offset(depth)),
        })
    }

    /// Pops the two operands of a binary operator; if both are constants, pushes
    /// `fold(a, b)` instead and returns `None`.
    fn pop_binary(
        &mut self,
        kind: Kind,
        fold: impl FnOnce(i64, i64) -> i64,
    ) -> Option<(Popped, Popped)> {
        let rhs = self.pop();
        let lhs = self.pop();
        if let (Loc::Const(a), Loc::Const(b)) = (lhs.loc, rhs.loc) {
            self.push_const(kind, fold(a, b));
            return None;
        }
        Some((lhs, rhs))
    }

    /// An ALU operator or shift whose result goes straight into local `local`'s register
    /// `dst` (its `local.set` follows: `FuncGen::fused_operator`). Returns `false` if the
    /// operands were constants: the folded value is then pushed for an ordinary
    /// `local.set`.
    pub fn binary_into_local(&mut self, op: Binary, kind: Kind, local: u32, dst: Reg) -> bool {
        let size = kind.size();
        if op == Binary::Alu(AluOp::Mul) {
            if let Some(product) = self.hoisted_product(kind) {
                // Entries still reading the local lazily keep its old value.
                self.materialize_local(local);
                self.masm.mov(size, dst, product);
                return true;
            }
        }
        let operands = match op {
            Binary::Alu(op) => self.pop_binary(kind, |a, b| evaluate_alu(op, a, b)),
            Binary::Shift(op) => self.pop_binary(kind, |a, b| evaluate_shift(op, size, a, b)),
        };
        let Some((lhs, rhs)) = operands else {
            return false;
        };
        let swap =
            matches!(op, Binary::Alu(op) if op != AluOp::Sub) && matches!(lhs.loc, Loc::Const(_));
        let (lhs, rhs) = if swap { (rhs, lhs) } else { (lhs, rhs) };
        // Entries still reading the local lazily keep its old value.
        self.materialize_local(local);
        let operand = self.operand(rhs);
        let left = self.operand(lhs);
        // A left operand in memory or a constant goes straight into the local's register
        // (unless the right one is that register), not through a temporary.
        let source = match left {
            Operand::Frame(_) | Operand::Imm(_) if operand != Operand::Reg(dst) => {
                self.masm.mov(size, dst, left);
                None
            }
            _ => Some(self.register_operand(lhs)),
        };
        let from = source.unwrap_or(dst);
        match op {
            Binary::Alu(op) => self.masm.alu(op, size, dst, from, operand),
            Binary::Shift(op) => self.masm.shift(op, size, dst, from, operand),
        }
        match source {
            Some(source) => self.release_operand(lhs, source),
            None => self.release(lhs),
        }
        self.release(rhs);
        true
    }

    pub fn alu(&mut self, op: AluOp, kind: Kind) {
        let size = kind.size();
        if op == AluOp::Mul {
            if let Some(product) = self.hoisted_product(kind) {
                let reg = self.alloc();
                self.masm.mov(size, reg, product);
                self.push_reg(kind, reg);
                return;
            }
        }
        let Some((lhs, rhs)) = self.pop_binary(kind, |a, b| evaluate_alu(op, a, b)) else {
            return;
        };
        let commutative = !matches!(op, AluOp::Sub);
        let (lhs, rhs) = if commutative && should_swap(lhs, rhs) {
            (rhs, lhs)
        } else {
            (lhs, rhs)
        };
        // A right operand the last instruction loaded is read from memory by the
        // operator itself (`xor acc, [mem]`): the load is taken back.
        if let (Loc::Reg(acc), Loc::Reg(loaded)) = (lhs.loc, rhs.loc) {
            if self.masm.alu_folding_load(op, size, acc, loaded) {
                self.free_reg(loaded);
                self.push_reg(kind, acc);
                return;
            }
        }
        let (dst, source) = self.destination(lhs);
        let operand = self.operand(rhs);
        self.masm.alu(op, size, dst, source, operand);
        self.release(rhs);
        self.push_reg(kind, dst);
    }

    /// The result register of a two-operand operator and the register its left operand
    /// is read from: the operand's own register, or a local's register and a fresh
    /// result (three-operand ISAs then need no copy), or a fresh register loaded with it.
    // Inline: a call took `lhs` through memory (≈ 880 K calls on the corpus).
    #[inline(always)]
    fn destination(&mut self, lhs: Popped) -> (Reg, Reg) {
        match (lhs.loc, self.operand(lhs)) {
            (Loc::Local(_), Operand::Reg(local)) => (self.alloc(), local),
            _ => {
                let reg = self.owned_reg(lhs);
                (reg, reg)
            }
        }
    }

    pub fn shift(&mut self, op: ShiftOp, kind: Kind) {
        let size = kind.size();
        // `local.get l; i32.const c; i32.shl`: an address off a fixed base, when an
        // access follows (`proven::AddrBase`).
        if let (ShiftOp::Shl, Kind::I32, [.., lhs, rhs]) = (op, kind, self.stack.as_slice()) {
            if let (Loc::Local(local), Loc::Const(c)) = (lhs.loc, rhs.loc) {
                let shift = (c & 31) as u8;
                let base = super::proven::AddrBase { local, shift };
                // The result takes the left operand's entry.
                let depth = self.stack.len() - 2;
                self.shifted = Some(super::func::Shifted {
                    at: self.offset,
                    depth,
                    base,
                });
            }
        }
        let cached = self.cached_shift(op, kind);
        if let Some((expr, Some(reg))) = cached {
            self.reuse_shift(kind, expr, reg);
            return;
        }
        let Some((lhs, rhs)) = self.pop_binary(kind, |a, b| evaluate_shift(op, size, a, b)) else {
            return;
        };
        let aligned = match (op, kind, rhs.loc) {
            (ShiftOp::Shl, Kind::I32, Loc::Const(c)) => (c & 31) as u8,
            _ => 0,
        };
        let (dst, source) = self.destination(lhs);
        let operand = self.operand(rhs);
        self.masm.shift(op, size, dst, source, operand);
        self.release(rhs);
        self.push_reg(kind, dst);
        // A multiple of `2^c` while the entry lives (an access's address: `aligned`).
        self.aligned.note(self.stack.len() - 1, aligned);
        if let Some((expr, None)) = cached {
            // `dst` is a fresh register holding `local << c` (see `addr_cache`).
            self.addr_cache.remember(expr, dst);
        }
    }

    /// For `local.get l; iN.const c; iN.shl` on an ISA that caches addresses: the
    /// expression, and the register already holding its value if the cache has it.
    fn cached_shift(
        &self,
        op: ShiftOp,
        kind: Kind,
    ) -> Option<(super::addr_cache::Expr, Option<crate::masm::Reg>)> {
        let [.., lhs, rhs] = self.stack[..] else {
            return None;
        };
        let (ShiftOp::Shl, Loc::Local(local), Loc::Const(c)) = (op, lhs.loc, rhs.loc) else {
            return None;
        };
        let wide = match kind {
            Kind::I32 => false,
            Kind::I64 => true,
            _ => return None,
        };
        if !self.masm.caches_addresses() {
            return None;
        }
        let count = if wide { c & 63 } else { c & 31 } as u8;
        let expr = super::addr_cache::Expr { local, count, wide };
        Some((expr, self.addr_cache.lookup(expr)))
    }

    /// The shift `expr`, whose value `reg` holds (see `addr_cache`), without computing
    /// it again: `reg` itself when it is free (taken back, the cache keeps it) or when a
    /// load reads the address next (borrowed: the load indexes off it and leaves it to
    /// its owner), else a copy of it.
    fn reuse_shift(&mut self, kind: Kind, expr: super::addr_cache::Expr, reg: crate::masm::Reg) {
        for _ in 0..2 {
            // A lazy read of the local and a constant: nothing to release.
            let value = self.pop_entry();
            self.release(value);
        }
        let depth = self.stack.len();
        // The cache only remembers registers `alloc` handed out.
        let free_bit = self.free & self.reg_bit(reg);
        if free_bit != 0 {
            self.free &= !free_bit;
            self.push_reg(kind, reg);
        } else if !expr.wide && self.load_follows() {
            self.push_reg(kind, reg);
            self.borrowed = Some(depth);
        } else {
            let copy = self.alloc();
            self.masm.mov(kind.size(), copy, Operand::Reg(reg));
            self.push_reg(kind, copy);
        }
        if !expr.wide {
            self.aligned.note(depth, expr.count);
        }
    }

    /// Whether the operator after the current one-byte operator is a load (`i32.load`
    /// … `i64.load32_u`, the float loads included), which pops the current top first.
    fn load_follows(&self) -> bool {
        let at = self.offset.wrapping_sub(self.code_start).wrapping_add(1);
        usize::try_from(at)
            .ok()
            .and_then(|at| self.code.get(at))
            .is_some_and(|&b| (0x28..=0x35).contains(&b))
    }

    /// Division and remainder: traps on a zero divisor, `div_s` traps on `MIN / -1`,
    /// `rem_s` by -1 is 0.
    pub fn div(&mut self, op: DivOp, kind: Kind) {
        let rhs = self.pop();
        let lhs = self.pop();
        let size = kind.size();
        let min = match size {
            Size::S32 => i32::MIN as u32 as i64,
            Size::S64 => i64::MIN,
        };
        let minus_one = match size {
            Size::S32 => u32::MAX as i64,
            Size::S64 => -1,
        };
        if let Loc::Const(b) = rhs.loc {
            if let Some(value) = match lhs.loc {
                Loc::Const(a) => evaluate_div(op, size, a, b),
                _ => None,
            } {
                self.push_const(kind, value);
                return;
            }
            if b == minus_one && op == DivOp::RemS {
                self.release(lhs);
                self.push_const(kind, 0);
                return;
            }
            if matches!(op, DivOp::DivU | DivOp::RemU) {
                let bits = if size == Size::S32 { 32 } else { 64 };
                if let Some(plan) = UnsignedDivisor::new(bits, b as u64) {
                    self.divide_by_constant(op, kind, lhs, b as u64, plan);
                    return;
                }
            }
        }
        let dst = self.owned_reg(lhs);
        let divisor = self.owned_reg(rhs);
        let known_nonzero = matches!(rhs.loc, Loc::Const(b) if b != 0);
        if !known_nonzero {
            self.masm.cmp(size, divisor, Operand::Imm(0));
            self.trap_if(Cond::Eq, TrapKind::IntegerDivideByZero);
        }
        let may_be_minus_one = !matches!(rhs.loc, Loc::Const(b) if b != minus_one);
        match op {
            DivOp::DivS if may_be_minus_one => {
                let ok = self.masm.new_label();
                self.masm.cmp(size, divisor, Operand::Imm(minus_one));
                self.masm.branch(Cond::Ne, ok);
                self.masm.cmp(size, dst, Operand::Imm(min));
                self.trap_if(Cond::Eq, TrapKind::IntegerOverflow);
                self.masm.bind(ok);
                self.masm.div(op, size, dst, dst, divisor);
            }
            DivOp::RemS if may_be_minus_one => {
                let divide = self.masm.new_label();
                let done = self.masm.new_label();
                self.masm.cmp(size, divisor, Operand::Imm(minus_one));
                self.masm.branch(Cond::Ne, divide);
                self.masm.mov(size, dst, Operand::Imm(0));
                self.masm.jump(done);
                self.masm.bind(divide);
                self.masm.div(op, size, dst, dst, divisor);
                self.masm.bind(done);
            }
            _ => self.masm.div(op, size, dst, dst, divisor),
        }
        self.free_reg(divisor);
        self.push_reg(kind, dst);
    }

    /// `div_u`/`rem_u` of `lhs` by the nonzero constant `d` without a divide
    /// (`divisor` says why this is exact): a shift or mask for a power of two, else a
    /// multiply by the reciprocal, a shift and, for the remainder, `x - q * d`.
    fn divide_by_constant(
        &mut self,
        op: DivOp,
        kind: Kind,
        lhs: Popped,
        d: u64,
        plan: UnsignedDivisor,
    ) {
        let size = kind.size();
        let (dst, source) = self.destination(lhs);
        match (plan, op) {
            (UnsignedDivisor::PowerOfTwo { k }, DivOp::DivU) => {
                self.masm
                    .shift(ShiftOp::ShrU, size, dst, source, Operand::Imm(i64::from(k)))
            }
            (UnsignedDivisor::PowerOfTwo { .. }, _) => {
                self.masm
                    .alu(AluOp::And, size, dst, source, Operand::Imm(d as i64 - 1))
            }
            (UnsignedDivisor::Reciprocal(r), DivOp::RemU)
                if self.masm.rem_u32_by_reciprocal(dst, source, r) => {}
            (UnsignedDivisor::Reciprocal(r), _) => {
                // The quotient, in `dst` itself for `div_u`, else in a second register
                // while `source` still holds the dividend.
                let q = if op == DivOp::DivU { dst } else { self.alloc() };
                self.masm.extend(ExtendOp::I64FromI32U, q, source);
                let m = Operand::Imm(i64::from(r.multiplier));
                self.masm.alu(AluOp::Mul, Size::S64, q, q, m);
                let shift = Operand::Imm(i64::from(r.shift));
                self.masm.shift(ShiftOp::ShrU, Size::S64, q, q, shift);
                if op == DivOp::RemU {
                    let d = Operand::Imm(i64::from(r.divisor));
                    self.masm.alu(AluOp::Mul, Size::S32, q, q, d);
                    self.masm
                        .alu(AluOp::Sub, Size::S32, dst, source, Operand::Reg(q));
                    self.free_reg(q);
                }
            }
        }
        self.push_reg(kind, dst);
    }

    pub fn bit_count(&mut self, op: BitOp, kind: Kind) {
        let value = self.pop();
        let size = kind.size();
        if let Loc::Const(c) = value.loc {
            let result = match (op, size) {
                (BitOp::Clz, Size::S32) => (c as u32).leading_zeros(),
                (BitOp::Ctz, Size::S32) => (c as u32).trailing_zeros(),
                (BitOp::Popcnt, Size::S32) => (c as u32).count_ones(),
                (BitOp::Clz, Size::S64) => c.leading_zeros(),
                (BitOp::Ctz, Size::S64) => c.trailing_zeros(),
                (BitOp::Popcnt, Size::S64) => c.count_ones(),
            };
            self.push_const(kind, result.into());
            return;
        }
        let (dst, source) = self.destination(value);
        self.masm.bit_count(op, size, dst, source);
        self.push_reg(kind, dst);
    }

    /// Width changes; `kind` is the result's class.
    pub fn extend(&mut self, op: ExtendOp, kind: Kind) {
        let value = self.pop();
        if let Loc::Const(c) = value.loc {
            let result = match op {
                ExtendOp::Wrap => c as u32 as i64,
                ExtendOp::I64FromI32S => c as i32 as i64,
                ExtendOp::I64FromI32U => c as u32 as i64,
                ExtendOp::I32From8S => c as i8 as i32 as u32 as i64,
                ExtendOp::I32From16S => c as i16 as i32 as u32 as i64,
                ExtendOp::I64From8S => c as i8 as i64,
                ExtendOp::I64From16S => c as i16 as i64,
                ExtendOp::I64From32S => c as i32 as i64,
            };
            self.push_const(kind, result);
            return;
        }
        if let (ExtendOp::I64FromI32U, Loc::Reg(reg)) = (op, value.loc) {
            // An i32 in a register is zero-extended already (see `masm`).
            self.push_reg(kind, reg);
            return;
        }
        let (dst, source) = self.destination(value);
        self.masm.extend(op, dst, source);
        self.push_reg(kind, dst);
    }

    /// `select`: a conditional move, on pending flags when the condition was just computed.
    pub fn select(&mut self) {
        let cond = self.pop();
        // A float operand moved out here must not disturb a pending comparison's flags.
        let if_false = self.pop_keeping_flags();
        let if_true = self.pop_keeping_flags();
        let kind = if_true.kind;
        let size = kind.size();
        let cond = match cond.loc {
            Loc::Const(c) => {
                let (keep, drop) = if c as u32 != 0 {
                    (if_true, if_false)
                } else {
                    (if_false, if_true)
                };
                self.release(drop);
                let reg = self.owned_reg(keep);
                self.push_reg(kind, reg);
                return;
            }
            Loc::Flags(cond) => cond,
            _ => {
                let reg = self.owned_reg(cond);
                self.masm.cmp(Size::S32, reg, Operand::Imm(0));
                self.free_reg(reg);
                Cond::Ne
            }
        };
        // Moves and loads keep the flags, so both values can be put in registers now.
        let dst = self.owned_reg(if_true);
        let other = self.owned_reg(if_false);
        self.masm.cmov(cond.invert(), size, dst, other);
        self.free_reg(other);
        self.push_reg(kind, dst);
    }
}

/// Whether to swap the operands of a commutative operation so the left one is the better
/// destination: a register the operator owns, and never a constant.
fn should_swap(lhs: Popped, rhs: Popped) -> bool {
    let owned = |v: Popped| matches!(v.loc, Loc::Reg(_));
    (matches!(lhs.loc, Loc::Const(_)) && !matches!(rhs.loc, Loc::Const(_)))
        || (!owned(lhs) && owned(rhs))
}

/// A two-operand integer operator that can write a local's register directly.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) enum Binary {
    Alu(AluOp),
    Shift(ShiftOp),
}

/// An ALU operation evaluated at compile time (wrapping; the caller truncates i32s).
fn evaluate_alu(op: AluOp, a: i64, b: i64) -> i64 {
    match op {
        AluOp::Add => a.wrapping_add(b),
        AluOp::Sub => a.wrapping_sub(b),
        AluOp::Mul => a.wrapping_mul(b),
        AluOp::And => a & b,
        AluOp::Or => a | b,
        AluOp::Xor => a ^ b,
    }
}

/// A comparison evaluated at compile time.
fn evaluate_cond(cond: Cond, size: Size, a: i64, b: i64) -> bool {
    let (sa, sb, ua, ub) = match size {
        Size::S32 => (
            a as i32 as i64,
            b as i32 as i64,
            a as u32 as u64,
            b as u32 as u64,
        ),
        Size::S64 => (a, b, a as u64, b as u64),
    };
    match cond {
        Cond::Eq => ua == ub,
        Cond::Ne => ua != ub,
        Cond::LtS => sa < sb,
        Cond::LtU => ua < ub,
        Cond::GtS => sa > sb,
        Cond::GtU => ua > ub,
        Cond::LeS => sa <= sb,
        Cond::LeU => ua <= ub,
        Cond::GeS => sa >= sb,
        Cond::GeU => ua >= ub,
    }
}

/// A shift or rotate evaluated at compile time (i32 results zero-extended by the caller).
fn evaluate_shift(op: ShiftOp, size: Size, a: i64, b: i64) -> i64 {
    match size {
        Size::S32 => {
            let (a, n) = (a as u32, (b as u32) & 31);
            (match op {
                ShiftOp::Shl => a << n,
                ShiftOp::ShrS => ((a as i32) >> n) as u32,
                ShiftOp::ShrU => a >> n,
                ShiftOp::Rotl => a.rotate_left(n),
                ShiftOp::Rotr => a.rotate_right(n),
            }) as i64
        }
        Size::S64 => {
            let n = (b as u32) & 63;
            match op {
                ShiftOp::Shl => a << n,
                ShiftOp::ShrS => a >> n,
                ShiftOp::ShrU => ((a as u64) >> n) as i64,
                ShiftOp::Rotl => a.rotate_left(n),
                ShiftOp::Rotr => a.rotate_right(n),
            }
        }
    }
}

/// A division evaluated at compile time, or `None` if it traps (then code is emitted and
/// the trap happens at run time, as the program says).
fn evaluate_div(op: DivOp, size: Size, a: i64, b: i64) -> Option<i64> {
    match size {
        Size::S32 => {
            let (sa, sb, ua, ub) = (a as i32, b as i32, a as u32, b as u32);
            let value = match op {
                DivOp::DivS => sa.checked_div(sb)? as u32,
                DivOp::DivU => ua.checked_div(ub)?,
                DivOp::RemS => {
                    if sb == 0 {
                        return None;
                    }
                    sa.wrapping_rem(sb) as u32
                }
                DivOp::RemU => ua.checked_rem(ub)?,
            };
            Some(value as i64)
        }
        Size::S64 => {
            let (ua, ub) = (a as u64, b as u64);
            match op {
                DivOp::DivS => a.checked_div(b),
                DivOp::DivU => ua.checked_div(ub).map(|v| v as i64),
                DivOp::RemS => (b != 0).then(|| a.wrapping_rem(b)),
                DivOp::RemU => ua.checked_rem(ub).map(|v| v as i64),
            }
        }
    }
}
