//! The value stack as locations, and register allocation.
//!
//! Every wasm operand-stack entry has a [`Loc`]: a constant, an allocatable register, a
//! float register holding a float operator's result, its own spill slot in the frame (slot
//! `d` belongs to stack depth `d`), a local variable read lazily, or a pending comparison
//! still in the condition flags. Registers of each class are taken from a free set; when
//! none is free the bottom-most entry of that class is spilled to its slot (a cursor per
//! class makes the search amortised constant).
//!
//! Two register classes, one representation at rest: a float value is its bit pattern
//! wherever it rests (constants, slots, integer registers, and locals, a float local in
//! a float register included: that register holds exact bits, or for a results-only local
//! bits canonicalized where read; see `func::Local`), and a float temporary only ever
//! holds the result of a float operator, or a value loaded from memory or copied from a
//! local ([`Loc::FReg`]; `FuncGen::float_exact` tells results from exact bits). A lazy
//! read of a float-register local ([`Loc::Local`]) is read by float operators where it
//! lives ([`FuncGen::float_source`]) and leaves as its bits. Float operators take
//! their operands from float registers ([`FuncGen::float_operand`]), so a chain of float
//! arithmetic never leaves the float unit; anything else that reads such a result
//! ([`FuncGen::pop`], a spill, a branch or call argument) receives its bits, with an
//! operator's NaN canonicalized there, once (see `masm::MacroAssembler::float_to_bits`),
//! and a loaded value's bits unchanged.
//!
//! At control-flow merges all entries below the merge point are in canonical form
//! (constants or slots; see `spill_all`), so every path agrees on where values live.

use crate::masm::{
    Address, Base, FReg, FloatSize, LibcallArg, MacroAssembler, Operand, Reg, Size, StoreWidth,
};

use super::func::FuncGen;

/// The type class of a stack value: decides the operation width.
///
/// Floats rest as their bit patterns in the same locations as integers (an f32 like an
/// i32, zero-extended), so every move, spill, merge and call treats them by width only;
/// a float operator's result is held in a float register until something reads it (see
/// the module docs).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    I32,
    I64,
    F32,
    F64,
    /// funcref / externref: a 64-bit pointer or encoding, 0 = null.
    Ref,
}

impl Kind {
    /// The float size of an f32/f64 entry.
    pub fn float_size(self) -> FloatSize {
        match self {
            Kind::F32 => FloatSize::F32,
            Kind::F64 => FloatSize::F64,
            _ => unreachable!("only float entries live in float registers"),
        }
    }

    pub fn size(self) -> Size {
        match self {
            Kind::I32 | Kind::F32 => Size::S32,
            Kind::I64 | Kind::F64 | Kind::Ref => Size::S64,
        }
    }
}

/// Where a stack value lives.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) enum Loc {
    /// A constant (i32 constants are kept zero-extended).
    Const(i64),
    /// An allocatable register owned by this entry.
    Reg(Reg),
    /// A float register owned by this entry: the result of a float operator (f32/f64
    /// entries only), not yet canonicalized.
    FReg(FReg),
    /// The entry's own frame slot.
    Slot,
    /// The current value of local `n` (materialised before the local changes).
    Local(u32),
    /// An i32 boolean still in the flags: `cond` of the last comparison. Only ever the top
    /// entry; materialised before anything that could change the flags.
    Flags(crate::masm::Cond),
}

#[derive(Copy, Clone, Debug)]
pub(crate) struct Entry {
    pub kind: Kind,
    pub loc: Loc,
}

/// A value taken off the stack: it keeps its location (a register it held is now owned
/// by the operator), plus the depth it had, which names its slot.
#[derive(Copy, Clone, Debug)]
pub(crate) struct Popped {
    pub kind: Kind,
    pub loc: Loc,
    pub depth: usize,
}

/// A float register a value is read from: its own or a float-register local's.
#[derive(Copy, Clone, Debug)]
pub(crate) struct FloatSource {
    pub freg: FReg,
    /// The value's own register, which the reader frees.
    pub owned: bool,
    /// Whether its bits are canonicalized on their way out.
    pub canonicalize: bool,
}

/// Where a local lives for the whole function.
#[derive(Copy, Clone, Debug)]
pub(crate) enum LocalHome {
    Reg(Reg),
    /// A float register (f32/f64 locals): holds the value's exact bits, as a frame slot
    /// would (a NaN written by an operator was canonicalized on its way in, when the
    /// function canonicalizes).
    FReg(FReg),
    Frame(i32),
}

impl<M: MacroAssembler> FuncGen<'_, M> {
    // ---- frame layout ----

    /// Frame offset of the spill slot of stack depth `depth`.
    pub fn slot_offset(&self, depth: usize) -> i32 {
        -8 * (self.slots_start as i32 + 1 + depth as i32)
    }

    /// Records that the frame must hold slots for depths `< depth`.
    fn note_depth(&mut self, depth: usize) {
        if depth > self.max_depth {
            self.max_depth = depth;
        }
    }

    // ---- registers ----

    /// `reg`'s bit in the free set (`reg` must be allocatable).
    pub(super) fn reg_bit(&self, reg: Reg) -> u32 {
        let index = self
            .allocatable
            .iter()
            .position(|&r| r == reg)
            .expect("only allocatable registers are freed");
        1 << index
    }

    /// A free allocatable register, spilling the bottom-most register entry if needed.
    pub fn alloc(&mut self) -> Reg {
        if self.free == 0 {
            self.spill_one();
        }
        // Any free register but the cached address's (see `addr_cache`), if there is one.
        let mut free = self.free;
        if let Some(cached) = self.addr_cache.reg() {
            let others = free & !self.reg_bit(cached);
            if others != 0 {
                free = others;
            }
        }
        let index = free.trailing_zeros();
        self.free &= !(1 << index);
        let reg = self.allocatable[index as usize];
        self.addr_cache.reg_written(reg);
        reg
    }

    /// Takes `reg`, which must be free, out of the free set (a merge's result register).
    pub fn take_reg(&mut self, reg: Reg) {
        let bit = self.reg_bit(reg);
        debug_assert_ne!(self.free & bit, 0, "{reg:?} is taken");
        self.free &= !bit;
        self.addr_cache.reg_written(reg);
    }

    /// Returns `reg` to the free set.
    pub fn free_reg(&mut self, reg: Reg) {
        let bit = self.reg_bit(reg);
        debug_assert_eq!(self.free & bit, 0, "double free of {reg:?}");
        self.free |= bit;
    }

    /// A free float register, spilling the bottom-most float register entry if needed.
    pub fn alloc_float(&mut self) -> FReg {
        if self.float_free == 0 {
            self.spill_one_float();
        }
        let index = self.float_free.trailing_zeros();
        self.float_free &= !(1 << index);
        self.float_allocatable[index as usize]
    }

    /// Returns `freg` to the free set.
    pub fn free_float(&mut self, freg: FReg) {
        let index = self.float_index(freg);
        debug_assert_eq!(self.float_free & (1 << index), 0, "double free of {freg:?}");
        self.float_free |= 1 << index;
        self.float_exact &= !(1 << index);
    }

    fn float_index(&self, freg: FReg) -> usize {
        self.float_allocatable
            .iter()
            .position(|&r| r == freg)
            .expect("only allocatable float registers are tracked")
    }

    /// Pushes a float operator's result, left in `freg`: canonicalized when it leaves the
    /// register (if the function canonicalizes at all).
    pub fn push_float_result(&mut self, kind: Kind, freg: FReg) {
        self.float_exact &= !(1 << self.float_index(freg));
        self.push(kind, Loc::FReg(freg));
    }

    /// Pushes a value loaded from memory into `freg`: its bits are the value's, so they
    /// leave the register unchanged (a NaN keeps its payload, as wasm requires).
    pub fn push_float_loaded(&mut self, kind: Kind, freg: FReg) {
        self.float_exact |= 1 << self.float_index(freg);
        self.push(kind, Loc::FReg(freg));
    }

    /// Whether `freg`'s value is canonicalized on its way out of the register.
    pub fn canonicalizes(&self, freg: FReg) -> bool {
        self.canonicalize_nans && self.float_exact & (1 << self.float_index(freg)) == 0
    }

    /// Frees the register a popped value owned, if any.
    pub fn release(&mut self, value: Popped) {
        match value.loc {
            Loc::Reg(reg) => self.free_reg(reg),
            Loc::FReg(freg) => self.free_float(freg),
            _ => {}
        }
    }

    /// Marks every allocatable register free (at a merge point, where no entry holds one).
    pub fn reset_registers(&mut self) {
        debug_assert!(self
            .stack
            .iter()
            .all(|e| !matches!(e.loc, Loc::Reg(_) | Loc::FReg(_))));
        self.free = (1u32 << self.allocatable.len()) - 1;
        self.float_free = (1u32 << self.float_allocatable.len()) - 1;
        self.float_exact = 0;
        self.addr_cache.forget();
        self.spill_cursor = 0;
        self.float_spill_cursor = 0;
    }

    fn spill_one(&mut self) {
        while self.spill_cursor < self.stack.len() {
            let depth = self.spill_cursor;
            self.spill_cursor += 1;
            if let Loc::Reg(_) = self.stack[depth].loc {
                self.spill_entry(depth);
                return;
            }
        }
        unreachable!("no register to spill: an operator holds more than the allocatable set");
    }

    fn spill_one_float(&mut self) {
        while self.float_spill_cursor < self.stack.len() {
            let depth = self.float_spill_cursor;
            self.float_spill_cursor += 1;
            if let Loc::FReg(_) = self.stack[depth].loc {
                self.spill_entry(depth);
                return;
            }
        }
        unreachable!("no float register to spill: an operator holds more than the set");
    }

    /// Moves entry `depth` to its slot (registers, locals and flags; constants stay). Never
    /// changes the flags.
    pub fn spill_entry(&mut self, depth: usize) {
        let entry = self.stack[depth];
        let offset = self.slot_offset(depth);
        let slot = Address::at(Base::Frame, offset as i64);
        match entry.loc {
            Loc::Const(_) | Loc::Slot => return,
            Loc::Reg(reg) => {
                self.masm.store(StoreWidth::B64, slot, Operand::Reg(reg));
                self.free_reg(reg);
            }
            Loc::FReg(freg) => {
                let size = entry.kind.float_size();
                let canonicalize = self.canonicalizes(freg);
                self.masm.float_spill(size, offset, freg, canonicalize);
                self.free_float(freg);
            }
            Loc::Local(local) => match self.locals[local as usize].home {
                LocalHome::FReg(freg) => {
                    let canonicalize = self.local_canonicalizes(local);
                    self.masm
                        .float_spill(entry.kind.float_size(), offset, freg, canonicalize)
                }
                _ => {
                    let src = self.local_operand(local);
                    self.masm.store(StoreWidth::B64, slot, src);
                }
            },
            Loc::Flags(cond) => {
                let reg = self.alloc();
                self.masm.set_cond(cond, reg);
                self.masm.store(StoreWidth::B64, slot, Operand::Reg(reg));
                self.free_reg(reg);
            }
        }
        self.stack[depth].loc = Loc::Slot;
    }

    /// Puts every entry in canonical form (constant or slot). Called where control flow
    /// splits or merges. Never changes the flags.
    pub fn spill_all(&mut self) {
        let from = self.canonical_below.min(self.stack.len());
        for depth in from..self.stack.len() {
            self.spill_entry(depth);
        }
        self.canonical_below = self.stack.len();
        self.spill_cursor = self.stack.len();
        self.float_spill_cursor = self.stack.len();
    }

    /// Spills the register entries (both classes) below `depth`: values that must survive
    /// a call, which clobbers every allocatable register. Locals stay lazy: calls cannot
    /// change them.
    pub fn spill_registers_below(&mut self, depth: usize) {
        let from = self.spill_cursor.min(self.float_spill_cursor).min(depth);
        for d in from..depth {
            if let Loc::Reg(_) | Loc::FReg(_) = self.stack[d].loc {
                self.spill_entry(d);
            }
        }
        self.spill_cursor = self.spill_cursor.max(depth);
        self.float_spill_cursor = self.float_spill_cursor.max(depth);
    }

    /// Moves every float register entry at `from` or above, and every lazy read of a
    /// local living in a float register, to its slot, so that the entries there can be
    /// read as operands (call arguments, results).
    pub fn spill_floats_from(&mut self, from: usize) {
        for d in from..self.stack.len() {
            match self.stack[d].loc {
                Loc::FReg(_) => self.spill_entry(d),
                Loc::Local(local) if self.float_home(local).is_some() => self.spill_entry(d),
                _ => {}
            }
        }
    }

    /// The float register local `local` lives in, if it does.
    pub fn float_home(&self, local: u32) -> Option<FReg> {
        match self.locals[local as usize].home {
            LocalHome::FReg(freg) => Some(freg),
            _ => None,
        }
    }

    /// Whether float-register local `local`'s bits are canonicalized where they are read
    /// (a results-only local of a canonicalizing function; see `func::Local`).
    pub fn local_canonicalizes(&self, local: u32) -> bool {
        self.canonicalize_nans && self.locals[local as usize].results_only
    }

    // ---- pushing and popping ----

    // Inline: out of line, `loc` went by memory, written by the caller with narrow stores
    // and read back here with a wide load (a store-forwarding stall per push).
    #[inline(always)]
    pub fn push(&mut self, kind: Kind, loc: Loc) {
        let depth = self.stack.len();
        if let Loc::Local(local) = loc {
            self.local_refs[local as usize].push(depth);
        }
        self.stack.push(Entry { kind, loc });
        self.note_depth(depth + 1);
    }

    pub fn push_reg(&mut self, kind: Kind, reg: Reg) {
        self.push(kind, Loc::Reg(reg));
    }

    /// Inline, as `push`: every constant operator comes here, and out of line (as LLVM
    /// chose once other callers grew) it cost about 1.7 % of the 2 MB module's compile.
    #[inline(always)]
    pub fn push_const(&mut self, kind: Kind, value: i64) {
        let value = match kind {
            Kind::I32 | Kind::F32 => value as u32 as i64,
            _ => value,
        };
        self.push(kind, Loc::Const(value));
    }

    /// The top entry as it is: possibly in a float register (float operators and drops).
    #[inline(always)]
    pub fn pop_entry(&mut self) -> Popped {
        self.take_top::<true>()
    }

    /// [`Self::pop_entry`]; with `WRITES` false, for a popper that only reads the value
    /// (an access's address), the address cache keeps a register the entry held.
    #[inline(always)]
    fn take_top<const WRITES: bool>(&mut self) -> Popped {
        let entry = self
            .stack
            .pop()
            .expect("validated: operand stack underflow");
        let depth = self.stack.len();
        self.aligned.popped(depth);
        // Its popper owns the register now and may write it (see `addr_cache`).
        if let (true, Loc::Reg(reg)) = (WRITES, entry.loc) {
            self.addr_cache.reg_written(reg);
        }
        self.canonical_below = self.canonical_below.min(depth);
        self.spill_cursor = self.spill_cursor.min(depth);
        self.float_spill_cursor = self.float_spill_cursor.min(depth);
        Popped {
            kind: entry.kind,
            loc: entry.loc,
            depth,
        }
    }

    /// The top entry if it is in a float register: its own (the caller frees it) or the
    /// float register of the local it reads lazily. Else pops nothing.
    pub fn pop_float_register(&mut self) -> Option<(Popped, FloatSource)> {
        let top = self.value_at(self.stack.len().checked_sub(1)?);
        let source = match top.loc {
            Loc::FReg(freg) => FloatSource {
                freg,
                owned: true,
                canonicalize: self.canonicalizes(freg),
            },
            _ => self.lazy_float_local(top)?,
        };
        let value = self.pop_entry();
        Some((value, source))
    }

    /// The top entry, a float register's value moved into an integer register as bits
    /// (canonicalized): what every operator except the float ones reads. May change the
    /// flags (see [`Self::pop_keeping_flags`]).
    // Inline, with the float cases out of line: most pops are integers, constants and
    // lazy reads of integer locals, which need nothing but the pop itself (out of line,
    // every pop was a call returning its value through memory).
    #[inline(always)]
    pub fn pop(&mut self) -> Popped {
        let value = self.pop_entry();
        if self.in_float_register(value) {
            return self.float_as_bits(value, false);
        }
        value
    }

    /// [`Self::pop`] of a memory access's address (an i32: never in a float register),
    /// which the access only reads: the address cache stays as it is (see `addr_cache`).
    /// (Before, the cache's entry was saved around a plain `pop`, which forgot it, and
    /// put back: a copy through memory at every access.)
    #[inline(always)]
    pub fn pop_address(&mut self) -> Popped {
        let value = self.take_top::<false>();
        debug_assert!(!self.in_float_register(value), "an address is an i32");
        value
    }

    /// [`Self::pop`] for an operator whose pending comparison is still in the flags
    /// (`select`).
    pub fn pop_keeping_flags(&mut self) -> Popped {
        let value = self.pop_entry();
        self.float_as_bits(value, true)
    }

    /// Whether `value`'s bits are in a float register: its own, or the home of the
    /// local it reads lazily.
    #[inline(always)]
    fn in_float_register(&self, value: Popped) -> bool {
        match value.loc {
            Loc::FReg(_) => true,
            Loc::Local(local) => matches!(self.locals[local as usize].home, LocalHome::FReg(_)),
            _ => false,
        }
    }

    /// `value`, just popped, moved to an integer register if its bits are in a float
    /// register (see [`Self::pop`]); otherwise unchanged.
    #[inline(never)]
    fn float_as_bits(&mut self, mut value: Popped, keep_flags: bool) -> Popped {
        if let Some(local) = self.lazy_float_local(value) {
            let reg = self.alloc();
            let (size, freg, canonicalize) =
                (value.kind.float_size(), local.freg, local.canonicalize);
            if keep_flags {
                self.masm.float_to_bits(size, reg, freg, canonicalize);
            } else {
                self.masm
                    .float_to_bits_clobbering_flags(size, reg, freg, canonicalize);
            }
            value.loc = Loc::Reg(reg);
        }
        if let Loc::FReg(freg) = value.loc {
            let reg = self.alloc();
            let (size, canonicalize) = (value.kind.float_size(), self.canonicalizes(freg));
            if keep_flags {
                self.masm.float_to_bits(size, reg, freg, canonicalize);
            } else {
                self.masm
                    .float_to_bits_clobbering_flags(size, reg, freg, canonicalize);
            }
            self.free_float(freg);
            value.loc = Loc::Reg(reg);
        }
        value
    }

    /// Drops entries down to `len`, freeing their registers.
    pub fn truncate(&mut self, len: usize) {
        while self.stack.len() > len {
            let value = self.pop_entry();
            self.release(value);
        }
    }

    /// The entry at `depth` as a value to read (it stays on the stack).
    pub fn value_at(&self, depth: usize) -> Popped {
        let entry = self.stack[depth];
        Popped {
            kind: entry.kind,
            loc: entry.loc,
            depth,
        }
    }

    /// The top entry.
    pub fn peek(&self) -> Option<&Entry> {
        self.stack.last()
    }

    // ---- reading values ----

    /// `value` as an instruction operand (no code emitted). Flags must have been
    /// materialised.
    #[inline]
    pub fn operand(&self, value: Popped) -> Operand {
        match value.loc {
            Loc::Const(c) => Operand::Imm(c),
            Loc::Reg(reg) => Operand::Reg(reg),
            Loc::Slot => Operand::Frame(self.slot_offset(value.depth)),
            Loc::Local(local) => self.local_operand(local),
            Loc::Flags(_) => unreachable!("flags are materialised before use as an operand"),
            Loc::FReg(_) => unreachable!("float registers are moved out before use as an operand"),
        }
    }

    /// `value` (an f32/f64) in a float register this operator owns (and may overwrite).
    pub fn float_operand(&mut self, value: Popped) -> FReg {
        if let Loc::FReg(freg) = value.loc {
            return freg;
        }
        if let Some(local) = self.lazy_float_local(value) {
            return self.float_copy_of_local(value.kind, local);
        }
        let src = self.operand(value);
        let freg = self.alloc_float();
        self.masm
            .float_from_bits(value.kind.float_size(), freg, src);
        self.release(value);
        freg
    }

    /// `value` (an f32/f64) in a float register for an operator that only reads it: a
    /// local living in a float register is read where it lives. Returns whether the
    /// operator owns the register (and must free it).
    pub fn float_source(&mut self, value: Popped) -> (FReg, bool) {
        match self.lazy_float_local(value) {
            Some(local) => (local.freg, false),
            None => (self.float_operand(value), true),
        }
    }

    /// The float register of the local `value` reads lazily, if it lives in one.
    fn lazy_float_local(&self, value: Popped) -> Option<FloatSource> {
        match value.loc {
            Loc::Local(local) => Some(FloatSource {
                freg: self.float_home(local)?,
                owned: false,
                canonicalize: self.local_canonicalizes(local),
            }),
            _ => None,
        }
    }

    /// A new float register holding a copy of a float-register local, which leaves it as
    /// the local's bits would (exact, or canonicalized for a results-only local).
    fn float_copy_of_local(&mut self, kind: Kind, local: FloatSource) -> FReg {
        let freg = self.alloc_float();
        self.masm
            .float_move(kind.float_size(), freg, local.freg, false);
        let bit = 1 << self.float_index(freg);
        if local.canonicalize {
            self.float_exact &= !bit;
        } else {
            self.float_exact |= bit;
        }
        freg
    }

    /// `value` as a runtime-helper argument; registers must have been spilled.
    pub fn libcall_arg(&self, value: Popped) -> LibcallArg {
        match self.operand(value) {
            Operand::Imm(c) => LibcallArg::Imm(c),
            Operand::Frame(offset) => LibcallArg::Frame(offset),
            Operand::Reg(reg) => LibcallArg::Reg(reg),
        }
    }

    /// Where an integer-located local lives, as an operand. A local living in a float
    /// register is never read this way: its readers move it out first (`pop`,
    /// `spill_floats_from`, `spill_entry`, `move_to_reg`, `store_to_slot`).
    pub fn local_operand(&self, local: u32) -> Operand {
        match self.locals[local as usize].home {
            LocalHome::Reg(reg) => Operand::Reg(reg),
            LocalHome::Frame(offset) => Operand::Frame(offset),
            LocalHome::FReg(_) => unreachable!("a float-register local is moved out first"),
        }
    }

    /// `value` in a register this operator owns (and may overwrite).
    // Inline for a value already in its own register (nothing to do), the rest out of
    // line: as a call, every use passed the `Popped` through memory.
    #[inline(always)]
    pub fn owned_reg(&mut self, value: Popped) -> Reg {
        match value.loc {
            Loc::Reg(reg) => reg,
            _ => self.owned_reg_moved(value),
        }
    }

    /// [`Self::owned_reg`] of a value not in a register of its own: moved into a fresh
    /// one.
    #[inline(never)]
    fn owned_reg_moved(&mut self, value: Popped) -> Reg {
        match value.loc {
            Loc::Reg(reg) => reg,
            Loc::Flags(cond) => {
                let reg = self.alloc();
                self.masm.set_cond(cond, reg);
                reg
            }
            _ => {
                let src = self.operand(value);
                let reg = self.alloc();
                self.masm.mov(value.kind.size(), reg, src);
                reg
            }
        }
    }

    /// Materialises a pending comparison on top of the stack into a register. Called
    /// before almost every operator, so the common case (no pending comparison) is
    /// checked inline.
    #[inline(always)]
    pub fn materialize_flags(&mut self) {
        if matches!(
            self.stack.last(),
            Some(Entry {
                loc: Loc::Flags(_),
                ..
            })
        ) {
            self.materialize_pending_flags();
        }
    }

    /// [`Self::materialize_flags`]'s work, out of line (the rare case).
    #[inline(never)]
    fn materialize_pending_flags(&mut self) {
        if let Some(Entry {
            loc: Loc::Flags(cond),
            ..
        }) = self.peek().copied()
        {
            let reg = self.alloc();
            self.masm.set_cond(cond, reg);
            let top = self.stack.len() - 1;
            self.stack[top].loc = Loc::Reg(reg);
        }
    }

    /// Before local `local` changes: every stack entry still reading it lazily gets a copy
    /// of the current value. Each lazy read is materialised at most once, so this is
    /// linear overall.
    ///
    /// Every write of a local goes through here, so this is also where the accesses
    /// proven off its old value are forgotten (`proven`).
    pub fn materialize_local(&mut self, local: u32) {
        self.proven.forget_local(local);
        self.addr_cache.local_written(local);
        // Taken out for the loop and put back emptied, so the allocation is reused by
        // the local's next lazy reads instead of freed and allocated again.
        let mut depths = std::mem::take(&mut self.local_refs[local as usize]);
        for &depth in &depths {
            let lazy = matches!(self.stack.get(depth), Some(Entry { loc: Loc::Local(l), .. }) if *l == local);
            if lazy {
                let kind = self.stack[depth].kind;
                if let Some(source) = self.lazy_float_local(self.value_at(depth)) {
                    let freg = self.float_copy_of_local(kind, source);
                    self.stack[depth].loc = Loc::FReg(freg);
                    self.float_spill_cursor = self.float_spill_cursor.min(depth);
                    continue;
                }
                let src = self.local_operand(local);
                let reg = self.alloc();
                self.masm.mov(kind.size(), reg, src);
                self.stack[depth].loc = Loc::Reg(reg);
                self.spill_cursor = self.spill_cursor.min(depth);
            }
        }
        depths.clear();
        let slot = &mut self.local_refs[local as usize];
        if slot.is_empty() {
            *slot = depths;
        }
    }

    /// Copies `value` (it stays on the stack) into `reg`, which nothing else live on this
    /// path may hold (a merge's result register). Never changes the flags.
    pub fn move_to_reg(&mut self, value: Popped, reg: Reg) {
        if let Some(local) = self.lazy_float_local(value) {
            self.masm
                .float_to_bits(value.kind.float_size(), reg, local.freg, local.canonicalize);
            return;
        }
        match value.loc {
            Loc::Reg(r) if r == reg => {}
            Loc::FReg(freg) => {
                let canonicalize = self.canonicalizes(freg);
                self.masm
                    .float_to_bits(value.kind.float_size(), reg, freg, canonicalize);
            }
            Loc::Flags(cond) => self.masm.set_cond(cond, reg),
            _ => {
                let src = self.operand(value);
                self.masm.mov(value.kind.size(), reg, src);
            }
        }
    }

    /// Stores `value` into slot `depth` (for branch arguments and block results). Never
    /// changes the flags; a float register value stays where it is.
    pub fn store_to_slot(&mut self, value: Popped, depth: usize) {
        if matches!(value.loc, Loc::Slot) && value.depth == depth {
            return;
        }
        let offset = self.slot_offset(depth);
        self.note_depth(depth + 1);
        if let Loc::FReg(freg) = value.loc {
            let size = value.kind.float_size();
            let canonicalize = self.canonicalizes(freg);
            self.masm.float_spill(size, offset, freg, canonicalize);
            return;
        }
        if let Some(local) = self.lazy_float_local(value) {
            let size = value.kind.float_size();
            self.masm
                .float_spill(size, offset, local.freg, local.canonicalize);
            return;
        }
        let src = self.operand(value);
        self.masm.store(
            StoreWidth::B64,
            Address::at(Base::Frame, offset as i64),
            src,
        );
    }
}
