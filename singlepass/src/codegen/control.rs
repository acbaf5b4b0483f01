//! Structured control flow: block/loop/if frames, branches, and function exit.
//!
//! Values cross a control-flow edge in slots: a block's parameters and results occupy the
//! spill slots of the stack depths `base..` of its frame, and every value below `base` is
//! in canonical form since the frame was entered (`spill_all`). A branch therefore only
//! stores the values it carries into the target's slots and jumps. A block that no branch
//! targets merges nothing, so its results stay wherever the last operator left them.
//!
//! An `if` with parameters keeps a second copy of them below its base, because the `then`
//! arm may overwrite their slots before the `else` arm reads them.
//!
//! The exception is the commonest merge: a `block`, `if` or function with one result and
//! no parameters delivers its result in a register (`Frame::result_reg`), not a slot.

use std::collections::BTreeMap;

use wasmparser::{BlockType, Operator};

use crate::masm::{
    Address, AluOp, Base, Cond, Label, MacroAssembler, Operand, Reg, Size, StoreWidth,
};
use crate::CompileError;

use super::calls::return_register_for;
use super::func::FuncGen;
use super::stack::{Kind, Loc, LocalHome, Popped};

/// What a branch condition is known to be.
enum Test {
    /// Constant false.
    Never,
    /// Constant true.
    Always,
    /// True when the flags satisfy the condition.
    When(Cond),
}

#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) enum FrameKind {
    Function,
    Block,
    Loop,
    If,
    Else,
}

/// One open control construct.
#[derive(Clone, Debug)]
pub(crate) struct Frame {
    pub kind: FrameKind,
    /// Where a branch to this frame goes: the loop header, or the end.
    pub label: Label,
    /// The start of the `else` arm (for `if`).
    pub else_label: Option<Label>,
    /// Stack depth of the first parameter (and, after the end, the first result).
    pub base: usize,
    pub params: Vec<Kind>,
    pub results: Vec<Kind>,
    /// Copies of the parameters kept below `base` (for `if` with parameters).
    pub hidden: usize,
    /// Some branch jumps to the end label.
    pub branched: bool,
    /// The `then` arm of an `if`/`else` reached its end.
    pub then_fell_through: bool,
    /// Where a single result travels instead of its slot (see [`FuncGen::result_register`]).
    pub result_reg: Option<Reg>,
    /// Opened inside unreachable code: no code, only bracket matching.
    pub dead: bool,
    /// A loop whose hoisted product (`FuncGen::hoisted`) is the hidden entry just below
    /// `base`, dropped at its end.
    pub hoists: bool,
    /// A counted loop (`FuncGen::counted`), whose hidden entries lie just below
    /// `base`, dropped at its end.
    pub counted: bool,
}

impl Frame {
    fn new(
        kind: FrameKind,
        label: Label,
        base: usize,
        params: Vec<Kind>,
        results: Vec<Kind>,
    ) -> Frame {
        Frame {
            kind,
            label,
            else_label: None,
            base,
            params,
            results,
            hidden: 0,
            branched: false,
            then_fell_through: false,
            result_reg: None,
            dead: false,
            hoists: false,
            counted: false,
        }
    }

    /// How many values a branch to this frame carries.
    fn branch_arity(&self) -> usize {
        if self.kind == FrameKind::Loop {
            self.params.len()
        } else {
            self.results.len()
        }
    }
}

impl<M: MacroAssembler> FuncGen<'_, M> {
    /// Parameter and result classes of a block type.
    fn block_signature(&self, blockty: BlockType) -> Result<(Vec<Kind>, Vec<Kind>), CompileError> {
        match blockty {
            BlockType::Empty => Ok((Vec::new(), Vec::new())),
            BlockType::Type(ty) => Ok((Vec::new(), vec![self.kind_of(ty)?])),
            BlockType::FuncType(index) => {
                let sig = &self.env.types[index as usize];
                Ok((self.kinds(&sig.params)?, self.kinds(&sig.results)?))
            }
        }
    }

    pub fn enter_function(&mut self, results: Vec<Kind>) {
        let label = self.masm.new_label();
        let mut frame = Frame::new(FrameKind::Function, label, 0, Vec::new(), results);
        frame.result_reg = self.result_register(&frame);
        self.frames.push(frame);
    }

    /// The register a frame's branches and fall-through deliver its result in, when that
    /// merge is simple: exactly one result and no parameters (`block`, `if`/`else`, the
    /// function). At the merge every register is free (values below a frame's base are
    /// in canonical form), so the first temporary register serves; a branch moves the
    /// value there on its taken path only, where nothing else on the stack lives on.
    /// Other frames pass their values in slots.
    fn result_register(&self, frame: &Frame) -> Option<Reg> {
        let simple =
            frame.kind != FrameKind::Loop && frame.params.is_empty() && frame.results.len() == 1;
        simple.then(|| self.allocatable[0])
    }

    pub fn mark_unreachable(&mut self) {
        self.unreachable = true;
    }

    pub fn block(&mut self, blockty: BlockType) -> Result<(), CompileError> {
        let (params, results) = self.block_signature(blockty)?;
        self.spill_all();
        let base = self.stack.len() - params.len();
        let label = self.masm.new_label();
        let mut frame = Frame::new(FrameKind::Block, label, base, params, results);
        frame.result_reg = self.result_register(&frame);
        self.frames.push(frame);
        Ok(())
    }

    pub fn loop_(&mut self, blockty: BlockType) -> Result<(), CompileError> {
        let (params, results) = self.block_signature(blockty)?;
        self.spill_all();
        let base = self.stack.len() - params.len();
        // Back edges deliver the parameters in their slots, so the header must find them
        // there on entry too (a constant would be stale on the next iteration).
        for depth in base..self.stack.len() {
            if let Loc::Const(_) = self.stack[depth].loc {
                self.store_to_slot(self.value_at(depth), depth);
                self.stack[depth].loc = Loc::Slot;
            }
        }
        // A product of two locals the loop does not write is computed here, once (see
        // `hoist`): a hidden entry in its slot below the loop's frame.
        let hoist = match blockty {
            BlockType::Empty if self.hoisted.is_none() => {
                let at = (self.offset - self.code_start) as usize + 2;
                self.code
                    .get(at..)
                    .and_then(super::hoist::invariant_product)
            }
            _ => None,
        };
        let hoists = hoist.is_some();
        let base = match hoist {
            Some(hoist) => {
                let product = hoist.product;
                let kind = product.kind();
                self.push(kind, Loc::Local(product.a));
                self.push(kind, Loc::Local(product.b));
                self.alu(AluOp::Mul, kind);
                self.displace_for(&hoist);
                self.spill_all();
                self.hoisted = Some((product, base));
                base + 1
            }
            None => base,
        };
        // A counted loop (see `counted`): its iterations charged where it is left. Its
        // hidden entries go above a hoisted product's (the homes it reads are the
        // ones after the hoist's displacement).
        let at = (self.offset - self.code_start) as usize + 2;
        let counted = match blockty {
            BlockType::Empty => self.counted_loop_at(at),
            _ => None,
        };
        let is_counted = counted.is_some();
        let base = match counted {
            Some((shape, homes)) => self.enter_counted(shape, homes, at),
            None => base,
        };
        let label = self.masm.new_label();
        // A bottom-tested counted loop's header is its body's first instruction, not
        // the fused pair (a charge, a test) other headers start with.
        let pair_first = !self
            .counted
            .as_ref()
            .is_some_and(|open| open.is_bottom_tested());
        self.masm.align_loop(pair_first);
        self.masm.bind(label);
        self.counted_header();
        let mut frame = Frame::new(FrameKind::Loop, label, base, params, results);
        frame.hoists = hoists;
        frame.counted = is_counted;
        self.frames.push(frame);
        Ok(())
    }

    /// Gives the hoisted product, the top entry (in a register), a lent register's home
    /// for the loop when the loop keeps that register's local out (see `hoist`): the
    /// local moves to the register's save slot until the loop's `end`
    /// ([`Self::end_displacement`]).
    fn displace_for(&mut self, hoist: &super::hoist::Hoist) {
        let Some(Loc::Reg(product)) = self.stack.last().map(|entry| entry.loc) else {
            return;
        };
        let lent = self.lent.len().min(self.lent_locals.len());
        let Some(i) = (0..lent).find(|&i| hoist.keeps_out(self.lent_locals[i])) else {
            return;
        };
        let (local, reg) = (self.lent_locals[i], self.lent[i]);
        debug_assert!(matches!(self.locals[local as usize].home, LocalHome::Reg(r) if r == reg));
        let slot = self.lent_slot(i);
        self.masm.store(
            StoreWidth::B64,
            Address::at(Base::Frame, slot.into()),
            Operand::Reg(reg),
        );
        self.masm
            .mov(hoist.product.kind().size(), reg, Operand::Reg(product));
        self.locals[local as usize].home = LocalHome::Frame(slot);
        self.displaced = Some(i);
    }

    /// At a hoisting loop's `end`: the local [`Self::displace_for`] moved out returns to
    /// its register (reloaded, if the code after the loop runs).
    fn end_displacement(&mut self) {
        let Some(i) = self.displaced.take() else {
            return;
        };
        let (local, reg) = (self.lent_locals[i], self.lent[i]);
        let kind = self.locals[local as usize].kind;
        if !self.unreachable {
            self.masm
                .mov(kind.size(), reg, Operand::Frame(self.lent_slot(i)));
        }
        self.locals[local as usize].home = LocalHome::Reg(reg);
    }

    pub fn if_(&mut self, blockty: BlockType) -> Result<(), CompileError> {
        let (params, results) = self.block_signature(blockty)?;
        let cond = self.pop();
        let test = self.condition(cond);
        self.spill_all();
        let hidden = params.len();
        let first_param = self.stack.len() - hidden;
        for i in 0..hidden {
            self.push_copy(first_param + i);
        }
        let else_label = self.masm.new_label();
        let end_label = self.masm.new_label();
        match test {
            Test::When(cond) => self.masm.branch(cond.invert(), else_label),
            Test::Never => self.masm.jump(else_label),
            Test::Always => {}
        }
        let mut frame = Frame::new(
            FrameKind::If,
            end_label,
            first_param + hidden,
            params,
            results,
        );
        frame.else_label = Some(else_label);
        frame.hidden = hidden;
        frame.result_reg = self.result_register(&frame);
        self.frames.push(frame);
        Ok(())
    }

    /// Turns a popped i32 condition into a test, emitting the comparison if needed.
    // Inline into its two callers (`if_`, `br_if`), as LLVM did until `owned_reg`'s
    // register case became inline (then it went out of line: +6 M Ir on the corpus).
    #[inline(always)]
    fn condition(&mut self, cond: Popped) -> Test {
        match cond.loc {
            Loc::Flags(cc) => Test::When(cc),
            Loc::Const(0) => Test::Never,
            Loc::Const(_) => Test::Always,
            _ => {
                let reg = self.owned_reg(cond);
                self.masm.cmp(Size::S32, reg, Operand::Imm(0));
                self.free_reg(reg);
                Test::When(Cond::Ne)
            }
        }
    }

    /// Pushes a copy of the entry at `depth` (constants stay constants).
    fn push_copy(&mut self, depth: usize) {
        let value = self.value_at(depth);
        match value.loc {
            Loc::Const(c) => self.push(value.kind, Loc::Const(c)),
            _ => {
                let to = self.stack.len();
                self.store_to_slot(value, to);
                self.push(value.kind, Loc::Slot);
            }
        }
    }

    pub fn else_(&mut self) {
        let frame_index = self.frames.len() - 1;
        if self.frames[frame_index].dead {
            return;
        }
        if !self.unreachable {
            self.branch_moves(frame_index);
            let end = self.frames[frame_index].label;
            self.masm.jump(end);
            self.frames[frame_index].then_fell_through = true;
        }
        let frame = &mut self.frames[frame_index];
        let else_label = frame.else_label.take().expect("else follows if");
        frame.kind = FrameKind::Else;
        let (base, hidden) = (frame.base, frame.hidden);
        self.masm.bind(else_label);
        // Back to the state at `if`: the kept parameter copies, then fresh working copies.
        self.truncate(base);
        self.reset_registers();
        for i in 0..hidden {
            self.push_copy(base - hidden + i);
        }
        self.unreachable = false;
    }

    pub fn end(&mut self) {
        let frame = self.frames.pop().expect("validated: end matches a frame");
        if frame.dead {
            return;
        }
        if frame.kind == FrameKind::Loop {
            self.masm.end_loop();
        }
        let fell_through = !self.unreachable;
        let merges = frame.branched || matches!(frame.kind, FrameKind::If | FrameKind::Else);
        if merges {
            if fell_through {
                self.deliver_results(frame.result_reg, frame.results.len(), frame.base);
            }
            if let Some(else_label) = frame.else_label {
                // An `if` without `else`: the implicit else arm passes the parameters on.
                if frame.hidden > 0 && fell_through {
                    self.masm.jump(frame.label);
                }
                self.masm.bind(else_label);
                let first_hidden = frame.base - frame.hidden;
                for i in 0..frame.hidden {
                    self.store_to_slot(self.value_at(first_hidden + i), frame.base + i);
                }
            }
            self.masm.bind(frame.label);
            self.truncate(frame.base - frame.hidden);
            self.reset_registers();
            if let Some(reg) = frame.result_reg {
                self.take_reg(reg);
                self.push_reg(frame.results[0], reg);
            }
            let slot_results = if frame.result_reg.is_some() {
                &[][..]
            } else {
                &frame.results[..]
            };
            for (i, &kind) in slot_results.iter().enumerate() {
                if frame.hidden > 0 {
                    let from = Popped {
                        kind,
                        loc: Loc::Slot,
                        depth: frame.base + i,
                    };
                    self.store_to_slot(from, frame.base - frame.hidden + i);
                }
                self.push(kind, Loc::Slot);
            }
            let reachable = fell_through
                || frame.branched
                || frame.kind == FrameKind::If
                || frame.then_fell_through;
            self.unreachable = !reachable;
        } else if !fell_through {
            // Nothing reaches the end: the code after it is unreachable too.
            self.truncate(frame.base);
        }
        if frame.counted {
            self.leave_counted(frame.base);
        }
        if frame.hoists {
            // No results (only loops without any hoist): the hidden entry is the top, now
            // that a counted loop's are dropped.
            let counted = super::counted::HIDDEN_ENTRIES * usize::from(frame.counted);
            self.truncate(frame.base - 1 - counted);
            self.end_displacement();
            self.hoisted = None;
        }
        if frame.kind == FrameKind::Function && !self.unreachable {
            self.function_exit(frame.results.len());
        }
    }

    /// Writes the top `count` values (the results) to the caller's argument area and
    /// returns.
    fn function_exit(&mut self, count: usize) {
        let first = self.stack.len() - count;
        self.spill_floats_from(first);
        // Parameters living in the argument area are about to be overwritten by results:
        // results that still read them lazily get their own copy first.
        for depth in first..self.stack.len() {
            if let Loc::Local(local) = self.stack[depth].loc {
                if matches!(self.locals[local as usize].home, LocalHome::Frame(o) if o > 0) {
                    self.spill_entry(depth);
                }
            }
        }
        let incoming = self.masm.incoming_area_offset();
        for i in 0..count {
            let src = self.operand(self.value_at(first + i));
            self.masm.store(
                crate::masm::StoreWidth::B64,
                crate::masm::Address::at(
                    crate::masm::Base::Frame,
                    (incoming + 8 * i as i32).into(),
                ),
                src,
            );
        }
        let kinds = self.stack[first..].iter().map(|entry| entry.kind);
        if let Some(ret) = return_register_for(&*self.masm, kinds) {
            let src = self.operand(self.value_at(first));
            self.masm.mov(crate::masm::Size::S64, ret, src);
        }
        self.truncate(first);
        self.masm.epilogue(self.saved_locals);
    }

    /// Stores the values a branch to `frames[frame_index]` carries (the top of the stack)
    /// into the target's slots, or its result register. Reads the stack without popping
    /// (the branch may not be taken). Stores go in increasing depth, which is safe: a destination is never
    /// above its source.
    fn branch_moves(&mut self, frame_index: usize) {
        let frame = &self.frames[frame_index];
        let is_loop = frame.kind == FrameKind::Loop;
        if is_loop {
            self.store_top_values(frame.branch_arity(), frame.base);
        } else {
            let (result_reg, count, base) = (frame.result_reg, frame.results.len(), frame.base);
            self.deliver_results(result_reg, count, base);
            self.frames[frame_index].branched = true;
        }
    }

    /// Puts the top `count` values, a frame's results, where its merge expects them: its
    /// result register, or the slots of depths `base..`.
    fn deliver_results(&mut self, result_reg: Option<Reg>, count: usize, base: usize) {
        match result_reg {
            Some(reg) => {
                let value = self.value_at(self.stack.len() - 1);
                self.move_to_reg(value, reg);
            }
            None => self.store_top_values(count, base),
        }
    }

    /// Stores the top `count` values into the slots of depths `base..base + count`.
    fn store_top_values(&mut self, count: usize, base: usize) {
        let first = self.stack.len() - count;
        for i in 0..count {
            self.store_to_slot(self.value_at(first + i), base + i);
        }
    }

    /// Whether a branch to `frames[frame_index]` needs no stores.
    fn branch_in_place(&self, frame_index: usize) -> bool {
        let frame = &self.frames[frame_index];
        if frame.kind != FrameKind::Loop {
            if let Some(reg) = frame.result_reg {
                return self.stack.last().map(|e| e.loc) == Some(Loc::Reg(reg));
            }
        }
        let arity = frame.branch_arity();
        let first = self.stack.len() - arity;
        (0..arity).all(|i| first + i == frame.base + i && self.stack[first + i].loc == Loc::Slot)
    }

    fn frame_index(&self, relative_depth: u32) -> usize {
        self.frames.len() - 1 - relative_depth as usize
    }

    pub fn br(&mut self, relative_depth: u32) {
        let target = self.frame_index(relative_depth);
        self.branch_moves(target);
        let label = self.frames[target].label;
        self.masm.jump(label);
        self.mark_unreachable();
    }

    pub fn br_if(&mut self, relative_depth: u32) {
        let cond = self.pop();
        let cond = match self.condition(cond) {
            Test::When(cond) => cond,
            Test::Never => return,
            Test::Always => {
                // Taken every time; the code after it stays reachable for the validator's
                // sake but never runs.
                let target = self.frame_index(relative_depth);
                self.branch_moves(target);
                let label = self.frames[target].label;
                self.masm.jump(label);
                return;
            }
        };
        let target = self.frame_index(relative_depth);
        let label = self.frames[target].label;
        if self.branch_in_place(target) {
            if self.frames[target].kind != FrameKind::Loop {
                self.frames[target].branched = true;
            }
            self.masm.branch(cond, label);
        } else {
            let skip = self.masm.new_label();
            self.masm.branch(cond.invert(), skip);
            self.branch_moves(target);
            self.masm.jump(label);
            self.masm.bind(skip);
        }
    }

    pub fn br_table(&mut self, depths: &[u32], default: u32) {
        let index = self.pop();
        if let Loc::Const(i) = index.loc {
            let depth = depths.get(i as u32 as usize).copied().unwrap_or(default);
            self.br(depth);
            return;
        }
        let reg = self.owned_reg(index);
        // One move stub per distinct target that needs stores; direct jumps otherwise.
        let mut stubs: BTreeMap<u32, Label> = BTreeMap::new();
        let mut target_label = |gen: &mut Self, depth: u32| -> Label {
            let frame = gen.frame_index(depth);
            if gen.branch_in_place(frame) {
                if gen.frames[frame].kind != FrameKind::Loop {
                    gen.frames[frame].branched = true;
                }
                gen.frames[frame].label
            } else {
                *stubs.entry(depth).or_insert_with(|| gen.masm.new_label())
            }
        };
        let labels: Vec<Label> = depths.iter().map(|&d| target_label(self, d)).collect();
        let default_label = target_label(self, default);
        self.masm.jump_table(reg, &labels, default_label);
        self.free_reg(reg);
        for (depth, stub) in stubs {
            self.masm.bind(stub);
            let frame = self.frame_index(depth);
            self.branch_moves(frame);
            let label = self.frames[frame].label;
            self.masm.jump(label);
        }
        self.mark_unreachable();
    }

    pub fn return_(&mut self) {
        self.br(self.frames.len() as u32 - 1);
    }

    /// Operators in unreachable code: only bracket matching, no code.
    pub fn unreachable_operator(&mut self, op: &Operator<'_>) -> Result<(), CompileError> {
        match op {
            Operator::Block { .. } | Operator::Loop { .. } | Operator::If { .. } => {
                let label = self.masm.new_label();
                let mut frame = Frame::new(FrameKind::Block, label, 0, Vec::new(), Vec::new());
                frame.dead = true;
                self.frames.push(frame);
            }
            Operator::Else => self.else_(),
            Operator::End => self.end(),
            _ => {}
        }
        Ok(())
    }
}
