//! A one-entry cache of an address expression's value in a register, for the
//! straight-line code between two joins (issue 16, `kernels3`).
//!
//! Compilers and kernels index arrays as `local.get x; i32.const c; i32.shl`, and a
//! statement like keccak's `C[x] = A[x] ^ A[x+5] ^ …` repeats the same shift six times
//! (five loads and the store); singlepass code computed it each time (`mov r, x; shl r,
//! 3`). The cache remembers which allocatable register holds `x << c` while that stays
//! true, so a later identical shift reuses it: with no code when the register is free
//! (it is taken back as the new entry's own), with a register copy when a stack entry
//! owns it, and for an address a load reads at once, with nothing at all: the load
//! indexes off the register where it is (`FuncGen::borrowed`).
//!
//! **When the register stops holding `x << c`** (each rule a forget here):
//! - `x` is written (`local.set`/`local.tee`, fused or not: every write goes through
//!   `FuncGen::materialize_local`);
//! - the register is handed out again (`FuncGen::alloc`, which prefers any other free
//!   register, or `take_reg`), or the stack entry owning it is popped by an operator,
//!   which may overwrite it (`pop_entry`; the loads and stores, which only read it as
//!   an address, pop it with `pop_address`, which keeps the entry: `checked_address`);
//! - any operator outside straight-line integer code: a block, loop, `if`, `else`,
//!   `end`, branch, return, call, `memory.grow` and the other helpers, float operators
//!   (`FuncGen::operator` forgets before all but the operators [`keeps`] lists), and the
//!   pre-fused gas charges and counted-loop tests; registers are all reset at joins
//!   (`reset_registers`).
//!
//! A spilled owner leaves the register free and still holding the value: the cache
//! stays. Compile work is constant per operator (one entry, compared by value), so it
//! stays linear.

use wasmparser::Operator;

use crate::masm::Reg;

/// A cached expression: `local.get local; iN.const count; iN.shl`, `count` taken modulo
/// the width (as the shift does), `wide` for the i64 form.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) struct Expr {
    pub local: u32,
    pub count: u8,
    pub wide: bool,
}

/// The cache: at most one expression and the register holding its value.
#[derive(Copy, Clone, Debug, Default)]
pub(crate) struct AddrCache {
    entry: Option<(Expr, Reg)>,
}

impl AddrCache {
    /// The register holding `expr`'s value, if one does.
    pub fn lookup(&self, expr: Expr) -> Option<Reg> {
        self.entry.filter(|&(e, _)| e == expr).map(|(_, reg)| reg)
    }

    /// The register the cache holds, if any.
    #[inline(always)]
    pub fn reg(&self) -> Option<Reg> {
        self.entry.map(|(_, reg)| reg)
    }

    /// `reg` now holds `expr`'s value (replacing what was cached).
    pub fn remember(&mut self, expr: Expr, reg: Reg) {
        self.entry = Some((expr, reg));
    }

    /// Nothing is known any more.
    #[inline(always)]
    pub fn forget(&mut self) {
        self.entry = None;
    }

    /// Local `local` is about to change.
    #[inline(always)]
    pub fn local_written(&mut self, local: u32) {
        if self.entry.is_some_and(|(e, _)| e.local == local) {
            self.entry = None;
        }
    }

    /// `reg` is about to be written (handed out, or popped by an operator that owns it).
    #[inline(always)]
    pub fn reg_written(&mut self, reg: Reg) {
        if self.reg() == Some(reg) {
            self.entry = None;
        }
    }
}

/// Whether the cache survives `op`: straight-line integer operators that write no
/// allocatable register except through the allocator (local accesses, constants,
/// `global.get`, integer arithmetic, compares, conversions, loads and stores, `drop`).
/// Everything else, control flow and calls above all, forgets.
pub(crate) fn keeps(op: &Operator<'_>) -> bool {
    use Operator as O;
    matches!(
        op,
        O::Nop
            | O::Drop
            | O::LocalGet { .. }
            | O::LocalSet { .. }
            | O::LocalTee { .. }
            | O::GlobalGet { .. }
            | O::I32Const { .. }
            | O::I64Const { .. }
            | O::I32Load { .. }
            | O::I64Load { .. }
            | O::I32Load8S { .. }
            | O::I32Load8U { .. }
            | O::I32Load16S { .. }
            | O::I32Load16U { .. }
            | O::I64Load8S { .. }
            | O::I64Load8U { .. }
            | O::I64Load16S { .. }
            | O::I64Load16U { .. }
            | O::I64Load32S { .. }
            | O::I64Load32U { .. }
            | O::I32Store { .. }
            | O::I64Store { .. }
            | O::I32Store8 { .. }
            | O::I32Store16 { .. }
            | O::I64Store8 { .. }
            | O::I64Store16 { .. }
            | O::I64Store32 { .. }
            | O::I32Eqz
            | O::I32Eq
            | O::I32Ne
            | O::I32LtS
            | O::I32LtU
            | O::I32GtS
            | O::I32GtU
            | O::I32LeS
            | O::I32LeU
            | O::I32GeS
            | O::I32GeU
            | O::I64Eqz
            | O::I64Eq
            | O::I64Ne
            | O::I64LtS
            | O::I64LtU
            | O::I64GtS
            | O::I64GtU
            | O::I64LeS
            | O::I64LeU
            | O::I64GeS
            | O::I64GeU
            | O::I32Add
            | O::I32Sub
            | O::I32Mul
            | O::I32And
            | O::I32Or
            | O::I32Xor
            | O::I32Shl
            | O::I32ShrS
            | O::I32ShrU
            | O::I32Rotl
            | O::I32Rotr
            | O::I64Add
            | O::I64Sub
            | O::I64Mul
            | O::I64And
            | O::I64Or
            | O::I64Xor
            | O::I64Shl
            | O::I64ShrS
            | O::I64ShrU
            | O::I64Rotl
            | O::I64Rotr
            | O::I32WrapI64
            | O::I64ExtendI32S
            | O::I64ExtendI32U
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const X: Expr = Expr {
        local: 2,
        count: 3,
        wide: false,
    };

    fn cached() -> AddrCache {
        let mut cache = AddrCache::default();
        cache.remember(X, Reg(8));
        cache
    }

    #[test]
    fn hits_only_the_same_local_count_and_width() {
        let cache = cached();
        assert_eq!(cache.lookup(X), Some(Reg(8)));
        assert_eq!(cache.lookup(Expr { local: 3, ..X }), None);
        assert_eq!(cache.lookup(Expr { count: 2, ..X }), None);
        assert_eq!(cache.lookup(Expr { wide: true, ..X }), None);
    }

    #[test]
    fn a_write_of_its_local_forgets_and_of_another_keeps() {
        let mut cache = cached();
        cache.local_written(3);
        assert_eq!(cache.lookup(X), Some(Reg(8)));
        cache.local_written(2);
        assert_eq!(cache.lookup(X), None);
    }

    #[test]
    fn a_write_of_its_register_forgets_and_of_another_keeps() {
        let mut cache = cached();
        cache.reg_written(Reg(9));
        assert_eq!(cache.lookup(X), Some(Reg(8)));
        cache.reg_written(Reg(8));
        assert_eq!(cache.lookup(X), None);
    }

    #[test]
    fn control_flow_calls_and_floats_forget() {
        use wasmparser::BlockType;
        for op in [
            Operator::Block {
                blockty: BlockType::Empty,
            },
            Operator::Loop {
                blockty: BlockType::Empty,
            },
            Operator::If {
                blockty: BlockType::Empty,
            },
            Operator::Else,
            Operator::End,
            Operator::Br { relative_depth: 0 },
            Operator::BrIf { relative_depth: 0 },
            Operator::Return,
            Operator::Call { function_index: 0 },
            Operator::MemoryGrow { mem: 0 },
            Operator::GlobalSet { global_index: 0 },
            Operator::Select,
            Operator::I32DivU,
            Operator::F64Add,
        ] {
            assert!(!keeps(&op), "{op:?}");
        }
        for op in [
            Operator::LocalGet { local_index: 0 },
            Operator::I32Shl,
            Operator::I64Xor,
        ] {
            assert!(keeps(&op), "{op:?}");
        }
    }
}
