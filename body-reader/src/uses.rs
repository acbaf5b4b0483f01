//! How each function's locals are used, counted by the metering walk for code
//! generation's register allocation ([`LocalUses`]).
//!
//! Code generation gives the registers to the locals with the heaviest static use counts,
//! a use inside `d` nested loops weighing [`use_weight`]`(d)`, and needs the weight of the
//! calls a lent register is saved around and, per local, whether anything but a float
//! operator's result is ever written to it (`copied`: see `gasket-singlepass`'s
//! `regalloc`). It used to find them by scanning every body's bytes once more before
//! compiling it: a byte-by-byte dispatch over every operator. The metering walk visits
//! every `local.get`/`set`/`tee`, `loop`, `end` and call anyway, so it counts them as it
//! validates ([`UseCounter`]) and hands the counts over with the instrumented module.
//! They must be exactly what the scan of the *instrumented* body finds (the walk adds the
//! uses of the scratch local its dynamic charges read, and knows the injected calls are
//! all intrinsics, which cost no call), so the code is the same bytes with or without
//! them; code generation checks that in debug builds by scanning anyway.
//!
//! Memory: one entry (12 bytes) per local a function uses, at most one per `local.*`
//! operator, kept until the module is compiled (about a quarter of the module's size
//! for the generated 2 MiB module, less for real contracts). Time: a use is one add;
//! a function costs a pass over its locals at its start and end, as in code
//! generation, which makes such passes too.

use wasmparser::{BlockType, Operator, ValType};

/// The weight of one use of a local, or of one call, at loop depth `depth`: 8 per
/// enclosing loop, capped so that sums cannot wrap.
#[inline(always)]
pub fn use_weight(depth: u32) -> u64 {
    1u64 << (3 * depth.min(12))
}

/// Whether `op` leaves a value that canonicalizing may change only if it is an
/// operator's NaN: a float operator whose result code generation may leave with a
/// non-canonical NaN (arithmetic, rounding, conversions; not `abs`/`neg`/`copysign`,
/// which keep a NaN's payload as wasm requires, nor reinterpretations), or a float
/// constant that is not a NaN (canonicalizing leaves it). [`is_float_result_at`] is the
/// same test on an operator's bytes.
#[inline(always)]
pub fn is_float_result(op: &Operator<'_>) -> bool {
    match op {
        Operator::F32Ceil
        | Operator::F32Floor
        | Operator::F32Trunc
        | Operator::F32Nearest
        | Operator::F32Sqrt
        | Operator::F32Add
        | Operator::F32Sub
        | Operator::F32Mul
        | Operator::F32Div
        | Operator::F32Min
        | Operator::F32Max
        | Operator::F64Ceil
        | Operator::F64Floor
        | Operator::F64Trunc
        | Operator::F64Nearest
        | Operator::F64Sqrt
        | Operator::F64Add
        | Operator::F64Sub
        | Operator::F64Mul
        | Operator::F64Div
        | Operator::F64Min
        | Operator::F64Max
        | Operator::F32ConvertI32S
        | Operator::F32ConvertI32U
        | Operator::F32ConvertI64S
        | Operator::F32ConvertI64U
        | Operator::F32DemoteF64
        | Operator::F64ConvertI32S
        | Operator::F64ConvertI32U
        | Operator::F64ConvertI64S
        | Operator::F64ConvertI64U
        | Operator::F64PromoteF32 => true,
        Operator::F32Const { value } => !f32::from_bits(value.bits()).is_nan(),
        Operator::F64Const { value } => !f64::from_bits(value.bits()).is_nan(),
        _ => false,
    }
}

/// [`is_float_result`] of the operator starting at `code[at]` (`at` past the end, as
/// before a body's first operator, is no operator: false).
pub fn is_float_result_at(code: &[u8], at: usize) -> bool {
    match code.get(at) {
        None => false,
        Some(0x8d..=0x97 | 0x9b..=0xa5 | 0xb2..=0xbb) => true,
        Some(0x43) => code
            .get(at + 1..at + 5)
            .and_then(|b| b.try_into().ok())
            .is_some_and(|b| !f32::from_le_bytes(b).is_nan()),
        Some(0x44) => code
            .get(at + 1..at + 9)
            .and_then(|b| b.try_into().ok())
            .is_some_and(|b| !f64::from_le_bytes(b).is_nan()),
        _ => false,
    }
}

/// Whether the scan of a body's bytes gives up on `op`: a block type or `select` type
/// that may be written in a typed-reference form (`0x63`/`0x64`, beyond wasm 2.0),
/// which the decoded operator no longer tells apart from the wasm 2.0 forms. The walk
/// leaves such a function uncounted, and code generation scans it as before.
#[inline(always)]
pub fn needs_scan(op: &Operator<'_>) -> bool {
    match op {
        Operator::Block { blockty } | Operator::Loop { blockty } | Operator::If { blockty } => {
            matches!(blockty, BlockType::Type(ValType::Ref(_)))
        }
        Operator::TypedSelect { .. } | Operator::TypedSelectMulti { .. } => true,
        _ => false,
    }
}

/// One function's counts (see [`LocalUses::function`]).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct FunctionUses<'a> {
    /// The summed weight of the calls that are not intrinsics.
    pub call_weight: u64,
    /// Per used local: its index shifted left once, the low bit set if it is `copied`.
    locals: &'a [u32],
    /// Per used local: its summed weight (never 0).
    weights: &'a [u64],
}

impl FunctionUses<'_> {
    /// Each used local: `(index, weight, copied)`, where `copied` says a `local.set` or
    /// `local.tee` writes it a value that is not the result of the float operator just
    /// before it ([`is_float_result`]). Unused locals do not appear.
    pub fn locals(&self) -> impl Iterator<Item = (u32, u64, bool)> + '_ {
        self.locals
            .iter()
            .zip(self.weights)
            .map(|(&local, &weight)| (local >> 1, weight, local & 1 != 0))
    }
}

/// Where one function's entries end, and its call weight; `complete` is false when the
/// walk left it to the scan ([`needs_scan`]).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
struct Counted {
    end: usize,
    call_weight: u64,
    complete: bool,
}

/// The local use counts of every function a module defines, in order (see the module
/// documentation). Filled by a [`UseCounter`] per function.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LocalUses {
    functions: Vec<Counted>,
    locals: Vec<u32>,
    weights: Vec<u64>,
}

impl LocalUses {
    /// The counts of defined function `index` (0 for the first body of the code
    /// section), if the walk counted it completely.
    pub fn function(&self, index: usize) -> Option<FunctionUses<'_>> {
        let counted = self.functions.get(index).filter(|c| c.complete)?;
        let start = match index {
            0 => 0,
            _ => self.functions[index - 1].end,
        };
        Some(FunctionUses {
            call_weight: counted.call_weight,
            locals: self.locals.get(start..counted.end)?,
            weights: self.weights.get(start..counted.end)?,
        })
    }

    /// How many functions were counted (completely or not).
    pub fn len(&self) -> usize {
        self.functions.len()
    }

    /// Whether no function was counted.
    pub fn is_empty(&self) -> bool {
        self.functions.is_empty()
    }
}

/// Counts one function's uses at a time, in the walk's order, into [`LocalUses`].
///
/// Its buffer, one entry per local of the current function, is kept from one function
/// to the next: a use is one add, and a function costs one pass over its locals to
/// start and one to end (code generation makes such passes per function too).
#[derive(Debug, Default)]
pub struct UseCounter {
    /// Per local of the current function: its weight so far (0: unused) and its
    /// `copied` mark.
    locals: Vec<Entry>,
    depth: u32,
    /// `use_weight(depth)`, recomputed only when the depth changes.
    weight: u64,
    call_weight: u64,
    complete: bool,
}

/// One local's counts in [`UseCounter`].
#[derive(Copy, Clone, Debug, Default)]
struct Entry {
    weight: u64,
    copied: bool,
}

impl UseCounter {
    /// Starts a function with `locals` locals (parameters, declared locals and any the
    /// instrumentation adds).
    pub fn start(&mut self, locals: usize) {
        self.locals.clear();
        self.locals.resize(locals, Entry::default());
        self.depth = 0;
        self.weight = use_weight(0);
        self.call_weight = 0;
        self.complete = true;
    }

    /// Adds `uses` uses of `local` at the current depth; with `copied`, marks it
    /// `copied`. An index outside the function (never, in a validated body) leaves the
    /// function to the scan.
    #[inline(always)]
    pub fn add(&mut self, local: u32, uses: u64, copied: bool) {
        match self.locals.get_mut(local as usize) {
            Some(entry) => {
                entry.weight = entry
                    .weight
                    .saturating_add(self.weight.saturating_mul(uses));
                entry.copied |= copied;
            }
            None => self.complete = false,
        }
    }

    /// A `loop` opens.
    #[inline(always)]
    pub fn enter_loop(&mut self) {
        self.depth += 1;
        self.weight = use_weight(self.depth);
    }

    /// A `loop`'s `end`.
    #[inline(always)]
    pub fn leave_loop(&mut self) {
        self.depth = self.depth.saturating_sub(1);
        self.weight = use_weight(self.depth);
    }

    /// A call that is not an intrinsic (or a `call_indirect`).
    #[inline(always)]
    pub fn call(&mut self) {
        self.call_weight = self.call_weight.saturating_add(self.weight);
    }

    /// The function holds something the walk does not count (see [`needs_scan`]).
    #[cold]
    pub fn give_up(&mut self) {
        self.complete = false;
    }

    /// Ends the function: appends its counts to `uses`.
    pub fn finish(&mut self, uses: &mut LocalUses) {
        // A local index of 2^31 or more cannot be packed (no valid function has one).
        let complete = self.complete && self.locals.len() <= 1 << 31;
        if complete {
            for (local, entry) in self.locals.iter().enumerate() {
                if entry.weight != 0 {
                    uses.locals
                        .push((local as u32) << 1 | u32::from(entry.copied));
                    uses.weights.push(entry.weight);
                }
            }
        }
        uses.functions.push(Counted {
            end: uses.locals.len(),
            call_weight: self.call_weight,
            complete,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasmparser::{BinaryReader, OperatorsReader, WasmFeatures};

    /// Decodes the operator at the start of `bytes` (features: everything).
    fn decode(bytes: &[u8]) -> Option<Operator<'_>> {
        OperatorsReader::new(BinaryReader::new_features(bytes, 0, WasmFeatures::all()))
            .read()
            .ok()
    }

    #[test]
    fn float_results_agree_on_operators_and_bytes() {
        for opcode in 0u8..=0xff {
            let mut bytes = vec![opcode];
            // Enough immediates (zeros) for any one-byte opcode to decode.
            bytes.extend([0u8; 16]);
            if let Some(op) = decode(&bytes) {
                assert_eq!(
                    is_float_result(&op),
                    is_float_result_at(&bytes, 0),
                    "{op:?}"
                );
            }
        }
        for (bytes, expected) in [
            (&[0x43, 0, 0, 0x80, 0x3f][..], true),
            (&[0x43, 0, 0, 0xc0, 0x7f][..], false),
            (&[0x44, 0, 0, 0, 0, 0, 0, 0xf8, 0x7f][..], false),
            (&[0x44, 0, 0, 0, 0, 0, 0, 0xf0, 0x3f][..], true),
        ] {
            let op = decode(bytes).unwrap();
            assert_eq!(is_float_result(&op), expected, "{op:?}");
            assert_eq!(is_float_result_at(bytes, 0), expected, "{op:?}");
        }
        assert!(!is_float_result_at(&[0x43, 0, 0], 0), "a cut constant");
        assert!(!is_float_result_at(&[], 0));
    }

    #[test]
    fn counts_reach_uses_and_buffers_are_cleared() {
        let mut counter = UseCounter::default();
        let mut uses = LocalUses::default();
        counter.start(4);
        counter.add(2, 1, false);
        counter.enter_loop();
        counter.add(2, 1, true);
        counter.add(0, 3, false);
        counter.call();
        counter.leave_loop();
        counter.call();
        counter.finish(&mut uses);
        counter.start(3);
        counter.add(1, 1, false);
        counter.add(7, 1, false);
        counter.finish(&mut uses);
        counter.start(2);
        counter.finish(&mut uses);

        let first = uses.function(0).unwrap();
        assert_eq!(first.call_weight, 9);
        assert_eq!(
            first.locals().collect::<Vec<_>>(),
            [(0, 24, false), (2, 9, true)]
        );
        assert_eq!(uses.function(1), None, "an index out of range gives up");
        let third = uses.function(2).unwrap();
        assert_eq!((third.call_weight, third.locals().count()), (0, 0));
        assert_eq!(uses.len(), 3);
        // A function whose walk failed leaves nothing for the next.
        counter.start(3);
        counter.add(1, 1, true);
        counter.start(3);
        counter.add(0, 1, false);
        counter.finish(&mut uses);
        assert_eq!(
            uses.function(3).unwrap().locals().collect::<Vec<_>>(),
            [(0, 1, false)]
        );
    }

    #[test]
    fn weights_saturate() {
        let mut counter = UseCounter::default();
        let mut uses = LocalUses::default();
        counter.start(1);
        for _ in 0..20 {
            counter.enter_loop();
        }
        counter.add(0, u64::MAX, false);
        counter.add(0, 1, false);
        counter.finish(&mut uses);
        assert_eq!(
            uses.function(0).unwrap().locals().collect::<Vec<_>>(),
            [(0, u64::MAX, false)]
        );
    }

    #[test]
    fn typed_reference_forms_need_the_scan() {
        let typed_select = decode(&[0x1c, 0x01, 0x70]).unwrap();
        assert!(needs_scan(&typed_select));
        let funcref_block = decode(&[0x02, 0x70]).unwrap();
        assert!(needs_scan(&funcref_block));
        let i32_block = decode(&[0x02, 0x7f]).unwrap();
        assert!(!needs_scan(&i32_block));
        assert!(!needs_scan(&Operator::Select));
    }
}
