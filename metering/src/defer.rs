//! Deferred loop-header charges: one gas charge per iteration instead of two for the
//! commonest loop shape (issue 16), `loop; <pure test>; br_if $exit; <body>; br $loop`.
//!
//! Plain block charging (see `analysis`) pays the header block `A` (the test and the
//! `br_if`) at the loop header and the body `B` after the `br_if`: two charges for every
//! iteration. When the header block is *pure* — its instructions cannot trap and have no
//! effect that outlives a trap (local reads and writes, constants, non-trapping integer
//! arithmetic and comparisons, `select`, `drop`, `nop`, `global.get`) — its charge can
//! move past it without anyone being able to tell: the `br_if` becomes
//!
//! ```text
//! if            ;; the branch is taken: pay A on the way out
//!   i64.const A  call $gas
//!   br $exit+1
//! end           ;; it falls through: the body's charge is A + B
//! ```
//!
//! and the header pays nothing. A run that completes pays exactly what it did before on
//! every path (exit: `A`; iteration: `A + B`), so gas used is unchanged. Only the point
//! where a run out of gas stops moves, from the header to the `br_if`: the pure
//! instructions between them may now run first, but they cannot trap (so `out_of_gas`
//! stays the trap) and nothing they do survives it (locals die with the call; gas used
//! is the limit). The charges chain: a pure block after a deferred `br_if` that ends in
//! another `br_if` defers `A + B` in turn.
//!
//! Applied only where it cannot cost code quality either: the block starts at a `loop`
//! header (where code generation has nothing in registers and no proven bounds to lose
//! at the injected `end`), the `br_if` leaves the operand stack as the header had it, its
//! target is not a loop (a back edge would pay the same either way) and takes no values.
//! A gas report's build defers the same charges: the edge is a charge site of its own
//! (counted inside the `if`) with the header's split by class, as is the fall-through.

use wasmparser::{BlockType, FrameKind, Operator};

/// Whether `op` may run before its block's charge: it cannot trap and nothing it does
/// outlives a trap of the call.
#[inline]
pub(crate) fn is_pure(op: &Operator<'_>) -> bool {
    use Operator::*;
    matches!(
        op,
        Nop | Drop
            | Select
            | TypedSelect { .. }
            | LocalGet { .. }
            | LocalSet { .. }
            | LocalTee { .. }
            | GlobalGet { .. }
            | I32Const { .. }
            | I64Const { .. }
            | I32Eqz
            | I32Eq
            | I32Ne
            | I32LtS
            | I32LtU
            | I32GtS
            | I32GtU
            | I32LeS
            | I32LeU
            | I32GeS
            | I32GeU
            | I64Eqz
            | I64Eq
            | I64Ne
            | I64LtS
            | I64LtU
            | I64GtS
            | I64GtU
            | I64LeS
            | I64LeU
            | I64GeS
            | I64GeU
            | I32Clz
            | I32Ctz
            | I32Popcnt
            | I32Add
            | I32Sub
            | I32Mul
            | I32And
            | I32Or
            | I32Xor
            | I32Shl
            | I32ShrS
            | I32ShrU
            | I32Rotl
            | I32Rotr
            | I64Clz
            | I64Ctz
            | I64Popcnt
            | I64Add
            | I64Sub
            | I64Mul
            | I64And
            | I64Or
            | I64Xor
            | I64Shl
            | I64ShrS
            | I64ShrU
            | I64Rotl
            | I64Rotr
            | I32WrapI64
            | I64ExtendI32S
            | I64ExtendI32U
            | I32Extend8S
            | I32Extend16S
            | I64Extend8S
            | I64Extend16S
            | I64Extend32S
    )
}

/// Whether a `br_if` to a label of this frame kind and type takes no values and is no
/// back edge.
pub(crate) fn exit_without_values(kind: FrameKind, block_type: BlockType) -> bool {
    kind != FrameKind::Loop && block_type == BlockType::Empty
}

/// How the `end` of an open `block` is reached, for folding deferred exits into the
/// charge after it: when every way in is a deferred `br_if` carrying the same charge
/// `A` (no fall-through, no other branch), the edges need no `if` at all — the `br_if`s
/// stay as they are and the block after the `end` pays `A` on top of its own cost (the
/// sieve's `block $done (loop $l (br_if $done …) … (br $l)))`: its exit pays at `$done`).
/// Between a `br_if` and that charge nothing runs, so the out-of-gas point moves past
/// nothing at all.
#[derive(Clone, Debug, Default)]
pub(crate) enum Exits {
    /// No way in seen yet.
    #[default]
    None,
    /// Only deferred `br_if`s, all carrying `cost` (with its split by class, report
    /// builds only): the indices of their `BranchIfCharged` edits.
    Deferred {
        cost: u64,
        edits: Vec<usize>,
        split: Vec<(crate::cost::OpClass, u64)>,
    },
    /// Anything else (an `if`'s label, a fall-through, a plain branch): edges keep
    /// their `if`.
    Mixed,
}

/// One [`Exits`] per open control frame of the function, innermost last.
#[derive(Default)]
pub(crate) struct ExitTracker {
    frames: Vec<Exits>,
}

impl ExitTracker {
    /// Empties the tracker for the next function, keeping its buffer (the walk reuses
    /// one tracker for every body: no allocation and no drop per function).
    pub(crate) fn clear(&mut self) {
        self.frames.clear();
    }

    /// A frame opens; only a `block`'s end can collect deferred exits.
    pub(crate) fn open(&mut self, block: bool) {
        self.frames
            .push(if block { Exits::None } else { Exits::Mixed });
    }

    /// The innermost frame ends; `live` when the code before its `end` falls into it.
    pub(crate) fn close(&mut self, live: bool) -> Exits {
        match self.frames.pop() {
            Some(Exits::Deferred { .. }) if live => Exits::Mixed,
            Some(exits) => exits,
            None => Exits::Mixed,
        }
    }

    /// A way into the end of the frame `depth` labels out other than a deferred `br_if`
    /// (the function's own label, past the last frame, is ignored).
    pub(crate) fn branch(&mut self, depth: u32) {
        if let Some(exits) = self.at(depth) {
            *exits = Exits::Mixed;
        }
    }

    /// A deferred `br_if` to `depth` whose edge charge `cost` is edit `edit` (`None`: a
    /// zero charge, no edit).
    pub(crate) fn deferred(
        &mut self,
        depth: u32,
        cost: u64,
        edit: Option<usize>,
        split: &[(crate::cost::OpClass, u64)],
    ) {
        let Some(exits) = self.at(depth) else { return };
        match exits {
            Exits::None => {
                *exits = Exits::Deferred {
                    cost,
                    edits: edit.into_iter().collect(),
                    split: split.to_vec(),
                }
            }
            Exits::Deferred { cost: c, edits, .. } if *c == cost => edits.extend(edit),
            _ => *exits = Exits::Mixed,
        }
    }

    fn at(&mut self, depth: u32) -> Option<&mut Exits> {
        let len = self.frames.len();
        let index = len.checked_sub(1 + depth as usize)?;
        self.frames.get_mut(index)
    }
}
