//! Per-function code generation: state, prologue, and the operator dispatch.

use wasmparser::{
    FrameKind, FuncValidator, FunctionBody, Operator, ValType, ValidatorResources, WasmFeatures,
};

use gasket_body_reader::short_u32;
use gasket_body_reader::uses::FunctionUses;

use crate::masm::{Address, Base, Cond, FReg, FramePatch, MacroAssembler, Operand, Reg, Size};
use crate::module::ModuleEnv;
use crate::{CompileError, TrapKind};

use super::arith::Binary;
use super::calls::ScaledCharge;
use super::control::Frame;
use super::decode::OpReader;
use super::regalloc::{self, Home};
use super::stack::{Entry, Kind, Loc, LocalHome};
use super::visit::Compile;
use super::ModuleLabels;
use crate::masm::{
    AluOp, BitOp, DivOp, ExtendOp, FloatBinOp, FloatCmp, FloatSize, FloatUnOp, IntFloat, LoadKind,
    ShiftOp, StoreWidth,
};

/// The integer ALU operators and shifts, which can write a local's register directly,
/// by opcode (none has an immediate, so the next instruction starts right after it).
#[inline(always)]
fn binary_opcode(code: u8) -> Option<(Binary, Kind)> {
    let (alu, shift) = (Binary::Alu, Binary::Shift);
    Some(match code {
        0x6a => (alu(AluOp::Add), Kind::I32),
        0x6b => (alu(AluOp::Sub), Kind::I32),
        0x6c => (alu(AluOp::Mul), Kind::I32),
        0x71 => (alu(AluOp::And), Kind::I32),
        0x72 => (alu(AluOp::Or), Kind::I32),
        0x73 => (alu(AluOp::Xor), Kind::I32),
        0x7c => (alu(AluOp::Add), Kind::I64),
        0x7d => (alu(AluOp::Sub), Kind::I64),
        0x7e => (alu(AluOp::Mul), Kind::I64),
        0x83 => (alu(AluOp::And), Kind::I64),
        0x84 => (alu(AluOp::Or), Kind::I64),
        0x85 => (alu(AluOp::Xor), Kind::I64),
        0x74 => (shift(ShiftOp::Shl), Kind::I32),
        0x75 => (shift(ShiftOp::ShrS), Kind::I32),
        0x76 => (shift(ShiftOp::ShrU), Kind::I32),
        0x77 => (shift(ShiftOp::Rotl), Kind::I32),
        0x78 => (shift(ShiftOp::Rotr), Kind::I32),
        0x86 => (shift(ShiftOp::Shl), Kind::I64),
        0x87 => (shift(ShiftOp::ShrS), Kind::I64),
        0x88 => (shift(ShiftOp::ShrU), Kind::I64),
        0x89 => (shift(ShiftOp::Rotl), Kind::I64),
        0x8a => (shift(ShiftOp::Rotr), Kind::I64),
        _ => return None,
    })
}

/// How many lent registers `FuncGen::lent_locals` maps to their locals (more than any
/// ISA lends).
pub(crate) const MAX_LENT: usize = 4;

/// A `local.set`/`local.tee` compiled together with the operator before it.
#[derive(Copy, Clone, Debug)]
struct LocalSet {
    binary: Binary,
    kind: Kind,
    local: u32,
    /// The local's home.
    reg: Reg,
    tee: bool,
}

/// Where the value of a `local.get l; i32.const c; i32.shl` is (`FuncGen::shifted`).
#[derive(Copy, Clone, Debug)]
pub(crate) struct Shifted {
    /// The `i32.shl`'s offset.
    pub at: u64,
    /// The stack depth of its result.
    pub depth: usize,
    pub base: super::proven::AddrBase,
}

/// A local variable: its type class and where it lives.
#[derive(Copy, Clone, Debug)]
pub(crate) struct Local {
    pub kind: Kind,
    pub home: LocalHome,
    /// A float-register local that only ever holds float operators' results or values
    /// canonicalizing leaves alone (zero, constants that are not NaNs; never a
    /// parameter, never a copied value: see `regalloc::scan_local_uses`): it takes a
    /// result as it is, a NaN's payload uncanonicalized, and is canonicalized where its
    /// bits are read instead (if the function canonicalizes), which is rarer.
    pub results_only: bool,
}

/// The growable state of [`FuncGen`], kept by the module driver between functions so a
/// module of many small functions allocates it once rather than once per function
/// (capacity is bounded by the largest function, which metering's limits bound).
#[derive(Default)]
pub(crate) struct FuncBuffers {
    stack: Vec<Entry>,
    locals: Vec<Local>,
    local_refs: Vec<Vec<usize>>,
    frames: Vec<Frame>,
    homes: HomeBuffers,
    reader_frames: Vec<FrameKind>,
    run_memo: super::load_window::RunMemo,
    /// Kept for its vector of facts: made afresh, it grew again in every function.
    proven: super::proven::Proven,
}

/// Scratch space of `layout_locals` (see `regalloc`).
#[derive(Default)]
struct HomeBuffers {
    /// The function's parameter kinds and declared local groups, as `compile` reads them.
    params: Vec<Kind>,
    declared: Vec<(u32, Kind)>,
    kinds: Vec<Kind>,
    weights: Vec<u64>,
    copied: Vec<bool>,
    loops: Vec<bool>,
    order: Vec<u32>,
    homes: Vec<Home>,
}

/// The state of one function being compiled.
pub(crate) struct FuncGen<'a, M: MacroAssembler> {
    pub masm: &'a mut M,
    pub env: &'a ModuleEnv,
    pub labels: &'a ModuleLabels,
    /// Function index (for error messages).
    pub index: u32,
    /// Byte offset of the operator being compiled (for error messages).
    pub offset: u64,
    /// The registers temporaries are allocated from: the ISA's `allocatable()` less the
    /// ones lent to locals.
    pub allocatable: &'static [Reg],
    /// Free allocatable registers, one bit per `allocatable` entry.
    pub free: u32,
    pub float_allocatable: &'static [FReg],
    /// Free float registers, one bit per `float_allocatable` entry.
    pub float_free: u32,
    /// Float registers holding a value loaded from memory rather than an operator's
    /// result, one bit per `float_allocatable` entry: their bits are exact (a NaN keeps its
    /// payload), so they are never canonicalized on the way out.
    pub float_exact: u32,
    /// Accesses off locals already checked on this path (see `proven`): a later access
    /// they cover is emitted without a check.
    pub proven: super::proven::Proven,
    pub stack: Vec<Entry>,
    /// Entries below this depth are constants or in their slots.
    pub canonical_below: usize,
    /// No entry below this depth is in a register.
    pub spill_cursor: usize,
    /// No entry below this depth is in a float register.
    pub float_spill_cursor: usize,
    /// Highest stack depth used (the number of spill slots the frame needs).
    pub max_depth: usize,
    /// Bytes of the largest outgoing call area (a multiple of 16), kept at the bottom of
    /// the frame, below the spill slots.
    pub max_outgoing: u32,
    /// The stack units of this function's `stack_enter`, once compiled: its native
    /// frame is then exactly `NATIVE_STACK_BYTES_PER_UNIT` bytes per unit.
    pub frame_units: Option<u32>,
    pub locals: Vec<Local>,
    /// Per local: depths of stack entries that may read it lazily (at least one list
    /// per local; those past the function's locals are empty).
    pub local_refs: Vec<Vec<usize>>,
    /// Frame slots below the frame pointer before the first spill slot (saved registers
    /// and locals that live in the frame).
    pub slots_start: u32,
    pub saved_locals: u32,
    /// Registers lent to locals (the first of the ISA's `allocatable()`), each saved to
    /// its slot around calls: `fp + lent_slots - 8 * i` for the `i`th.
    pub lent: &'static [Reg],
    /// Float registers lent to float locals (the first of the ISA's
    /// `float_allocatable()`), saved like `lent` in the slots after theirs.
    pub float_lent: &'static [FReg],
    pub lent_slots: i32,
    pub frames: Vec<Frame>,
    homes: HomeBuffers,
    /// The operator reader's control-frame buffer (see `decode`), kept between bodies.
    reader_frames: Vec<FrameKind>,
    /// The body's operator bytes, for the loads' look-ahead (`load_window`); `offset -
    /// code_start` indexes it. Borrowed from the module being compiled: a copy per
    /// function cost ≈ 8 M Ir of memcpy on the corpus (compile19b).
    pub code: &'a [u8],
    pub code_start: u64,
    /// The spans a store run's scan found for the stores it went through (offsets in
    /// `code`): see `load_window::RunMemo`.
    pub run_memo: super::load_window::RunMemo,
    /// The last `i32.shl` of a lazy local read by a constant: an access at the next
    /// offset whose address is that entry is addressed off its base.
    pub shifted: Option<Shifted>,
    /// The operand-stack entries known to be `i32.shl` results by a constant (`aligned`).
    pub aligned: super::aligned::AlignedEntries,
    /// Which register holds a shifted local's value in this straight-line stretch (see
    /// `addr_cache`).
    pub addr_cache: super::addr_cache::AddrCache,
    /// The depth of the top entry when it reads the cache's register without owning it
    /// (an address the next operator, a load, reads; see `addr_cache`).
    pub borrowed: Option<usize>,
    /// The open loop's hoisted product and the depth of the hidden entry holding it
    /// (see `hoist`); at most one is open.
    pub hoisted: Option<(super::hoist::Product, usize)>,
    /// The local each lent register holds (`lent[i]`; `u32::MAX` past `MAX_LENT`).
    pub lent_locals: [u32; MAX_LENT],
    /// While the open loop's hoisted product lives in a lent register instead of its
    /// slot (see `hoist`): the register's index in `lent`; its local lives in the
    /// register's save slot meanwhile.
    pub displaced: Option<usize>,
    /// The open counted loop, whose body's traps settle its iterations' gas first (see
    /// `counted`); at most one is open (its body has no blocks).
    pub counted: Option<super::counted::OpenCounted>,
    /// How many operators of a counted loop's header (a top-tested loop's test and
    /// charge, a bottom-tested loop's charge) `loop_` compiled, and their bytes: the
    /// operator loop skips them.
    pub counted_header: Option<(usize, usize)>,
    /// Where an open bottom-tested counted loop's test starts (`u64::MAX`: none), which
    /// the operator loop compiles as the fused test (`FuncGen::counted_tail`): one
    /// compare per operator.
    pub counted_tail: u64,
    /// The code after the last branch/return/unreachable cannot run: no code is emitted
    /// until the enclosing frame ends (or its `else` starts).
    pub unreachable: bool,
    /// Whether a float result is canonicalized when it leaves its float register (see
    /// `CompileOptions`).
    pub canonicalize_nans: bool,
}

impl<'a, M: MacroAssembler> FuncGen<'a, M> {
    pub fn new(
        masm: &'a mut M,
        env: &'a ModuleEnv,
        labels: &'a ModuleLabels,
        index: u32,
        options: &crate::CompileOptions,
        buffers: &mut FuncBuffers,
    ) -> Self {
        // Taken field by field (and given back so by `into_buffers`): moving the whole
        // struct in and out by value was a memcpy call per move, four per function.
        let mut stack = std::mem::take(&mut buffers.stack);
        let mut locals = std::mem::take(&mut buffers.locals);
        let local_refs = std::mem::take(&mut buffers.local_refs);
        let mut frames = std::mem::take(&mut buffers.frames);
        let homes = std::mem::take(&mut buffers.homes);
        let reader_frames = std::mem::take(&mut buffers.reader_frames);
        let mut run_memo = std::mem::take(&mut buffers.run_memo);
        let mut proven = std::mem::take(&mut buffers.proven);
        stack.clear();
        run_memo.clear();
        proven.clear();
        locals.clear();
        frames.clear();
        let allocatable = masm.allocatable();
        let float_allocatable = masm.float_allocatable();
        FuncGen {
            masm,
            env,
            labels,
            index,
            offset: 0,
            allocatable,
            free: (1u32 << allocatable.len()) - 1,
            float_allocatable,
            float_free: (1u32 << float_allocatable.len()) - 1,
            stack,
            float_exact: 0,
            proven,
            canonical_below: 0,
            spill_cursor: 0,
            float_spill_cursor: 0,
            max_depth: 0,
            max_outgoing: 0,
            frame_units: None,
            locals,
            // Empty lists (see `into_buffers`), extended in `layout_locals`.
            local_refs,
            slots_start: 0,
            saved_locals: 0,
            lent: &[],
            float_lent: &[],
            lent_slots: 0,
            homes,
            frames,
            reader_frames,
            code: &[],
            code_start: 0,
            run_memo,
            shifted: None,
            aligned: Default::default(),
            addr_cache: Default::default(),
            borrowed: None,
            hoisted: None,
            lent_locals: [u32::MAX; MAX_LENT],
            displaced: None,
            counted: None,
            counted_header: None,
            counted_tail: u64::MAX,
            unreachable: false,
            canonicalize_nans: options.canonicalize_nans,
        }
    }

    /// Ends the function's compilation and hands its buffers back (into `buffers`, which
    /// `new` took them from) for the next one.
    pub fn into_buffers(mut self, buffers: &mut FuncBuffers) {
        // Only this function's locals can have lazy reads left (an error can end it
        // anywhere).
        let used = self.locals.len().min(self.local_refs.len());
        for refs in &mut self.local_refs[..used] {
            refs.clear();
        }
        buffers.stack = self.stack;
        buffers.locals = self.locals;
        buffers.local_refs = self.local_refs;
        buffers.frames = self.frames;
        buffers.homes = self.homes;
        buffers.reader_frames = self.reader_frames;
        buffers.run_memo = self.run_memo;
        buffers.proven = self.proven;
    }

    /// The error for a valid operator the compiler does not implement (SIMD, proposals
    /// beyond wasm 2.0 that a caller validated with more features).
    pub fn unsupported(&self, what: impl Into<String>) -> CompileError {
        CompileError::Unsupported {
            function: self.index,
            offset: self.offset,
            what: what.into(),
        }
    }

    /// The stack class of a value type, or an `Unsupported` error for SIMD.
    pub fn kind_of(&self, ty: ValType) -> Result<Kind, CompileError> {
        match ty {
            ValType::I32 => Ok(Kind::I32),
            ValType::I64 => Ok(Kind::I64),
            ValType::F32 => Ok(Kind::F32),
            ValType::F64 => Ok(Kind::F64),
            ValType::Ref(_) => Ok(Kind::Ref),
            ValType::V128 => Err(self.unsupported("SIMD")),
        }
    }

    /// The stack class of an artifact value type (every one has a class).
    pub fn artifact_kind(ty: crate::artifact::ValType) -> Kind {
        use crate::artifact::ValType as A;
        match ty {
            A::I32 => Kind::I32,
            A::I64 => Kind::I64,
            A::F32 => Kind::F32,
            A::F64 => Kind::F64,
            A::FuncRef | A::ExternRef => Kind::Ref,
        }
    }

    /// Stack classes of a list of artifact value types.
    pub fn kinds(&self, types: &[crate::artifact::ValType]) -> Result<Vec<Kind>, CompileError> {
        Ok(types.iter().map(|&t| Self::artifact_kind(t)).collect())
    }

    /// Jumps to the stub of `kind` if `cond` holds.
    pub fn trap_if(&mut self, cond: Cond, kind: TrapKind) {
        let label = self.trap_label(kind);
        self.masm.branch(cond, label);
    }

    /// Where code compiled now jumps to trap with `kind`: the shared stub, or inside a
    /// counted loop's body the loop's own stub, which settles the iterations' gas first.
    pub fn trap_label(&mut self, kind: TrapKind) -> crate::masm::Label {
        match self.counted.as_mut() {
            Some(open) => open.trap_label(kind, self.masm),
            None => self.labels.trap(kind),
        }
    }

    /// What a store check's slow path calls to widen the written range: the dirty-range
    /// stub, or inside a counted loop's body the loop's routine, which settles the
    /// iterations' gas before the stub and recomputes the loop's state after it.
    pub fn widen_label(&mut self) -> crate::masm::Label {
        match self.counted.as_mut() {
            Some(open) => open.widen_label(self.masm),
            None => self.labels.dirty_range,
        }
    }

    /// Compiles the body: locals, prologue, operators, frame size. With a `validator`,
    /// every local declaration and operator is validated before it is compiled; without,
    /// the caller vouches that the body is valid under `features`. `uses`: the metering
    /// walk's local use counts of this body, if the caller has them (see `regalloc`).
    pub fn compile(
        &mut self,
        body: &FunctionBody<'a>,
        validator: Option<&mut FuncValidator<ValidatorResources>>,
        uses: Option<FunctionUses<'_>>,
        features: WasmFeatures,
    ) -> Result<(), CompileError> {
        match validator {
            Some(validator) => self.compile_validating(body, validator, uses, features),
            None => self.compile_trusted(body, uses, features),
        }
    }

    /// [`Self::compile`] with a validator.
    #[inline(never)]
    fn compile_validating(
        &mut self,
        body: &FunctionBody<'a>,
        validator: &mut FuncValidator<ValidatorResources>,
        uses: Option<FunctionUses<'_>>,
        features: WasmFeatures,
    ) -> Result<(), CompileError> {
        self.compile_with(body, Some(validator), uses, features)
    }

    /// [`Self::compile`] without a validator: its own copy of the loop, in which the
    /// validator's absence is a constant. With the `Option` read at run time, every
    /// operator copied it into the visitor (`visit::Compile`) and tested it again in the
    /// visit method (six instructions an operator, ≈ 9.4 M operators on the corpus).
    #[inline(never)]
    fn compile_trusted(
        &mut self,
        body: &FunctionBody<'a>,
        uses: Option<FunctionUses<'_>>,
        features: WasmFeatures,
    ) -> Result<(), CompileError> {
        self.compile_with(body, None, uses, features)
    }

    /// The body of [`Self::compile`], inlined into its two copies.
    #[inline(always)]
    fn compile_with(
        &mut self,
        body: &FunctionBody<'a>,
        mut validator: Option<&mut FuncValidator<ValidatorResources>>,
        uses: Option<FunctionUses<'_>>,
        features: WasmFeatures,
    ) -> Result<(), CompileError> {
        let env = self.env;
        let sig = env.func_sig(self.index);
        // The parameter kinds and local groups go in buffers kept between bodies.
        let mut params = std::mem::take(&mut self.homes.params);
        params.clear();
        params.extend(sig.params.iter().map(|&t| Self::artifact_kind(t)));
        let results = self.kinds(&sig.results)?;

        let mut declared = std::mem::take(&mut self.homes.declared);
        declared.clear();
        let mut locals_reader = body.get_locals_reader().map_err(CompileError::invalid)?;
        for _ in 0..locals_reader.get_count() {
            let offset = locals_reader.original_position();
            let (count, ty) = locals_reader.read().map_err(CompileError::invalid)?;
            if let Some(validator) = validator.as_deref_mut() {
                validator
                    .define_locals(offset, count, ty)
                    .map_err(CompileError::invalid)?;
            }
            self.offset = offset;
            let kind = self.kind_of(ty)?;
            declared.push((count, kind));
        }
        // The reader decodes by the validator's features, so an encoding only a later
        // proposal allows (an overlong memory index, say) is malformed here too.
        let mut binary = body
            .get_binary_reader_for_operators()
            .map_err(CompileError::invalid)?;
        let code = binary
            .clone()
            .read_bytes(binary.bytes_remaining())
            .map_err(CompileError::invalid)?;
        let patch = self.layout_locals(&params, &declared, code, uses);
        self.homes.params = params;
        self.homes.declared = declared;
        self.code = code;
        self.code_start = binary.original_position();

        binary.set_features(features);
        let mut frames = std::mem::take(&mut self.reader_frames);
        let mut reader = OpReader::new(binary, &mut frames);
        self.enter_function(results);
        while !reader.eof() {
            self.offset = reader.original_position();
            if self.offset == self.counted_tail {
                // A bottom-tested counted loop's test: its four operators are read and
                // validated as every operator is, and compiled as its fused test.
                let len = self
                    .counted
                    .as_ref()
                    .and_then(|c| c.tail())
                    .map_or(0, |t| t.1);
                match validator.as_deref_mut() {
                    Some(validator) => {
                        for _ in 0..super::counted::TAIL_OPERATORS {
                            let (op, offset) =
                                reader.read_with_offset().map_err(CompileError::invalid)?;
                            validator.op(offset, &op).map_err(CompileError::invalid)?;
                        }
                    }
                    // Trusted bytes: `counted::recognise` decoded them (the `br_if`
                    // neither opens nor closes a frame).
                    None => reader.skip_decoded(len),
                }
                self.counted_tail = u64::MAX;
                self.addr_cache.forget();
                self.counted_tail();
                continue;
            }
            let next = reader.peek_byte();
            if next == Some(ScaledCharge::FIRST_OPCODE) {
                if let Some((charge, len)) = self.scaled_charge(reader.rest()) {
                    // Its six operators are read and validated first, as every operator
                    // is, then compiled as one charge (see `ScaledCharge`).
                    match validator.as_deref_mut() {
                        Some(validator) => {
                            for _ in 0..ScaledCharge::OPERATORS {
                                let (op, offset) =
                                    reader.read_with_offset().map_err(CompileError::invalid)?;
                                validator.op(offset, &op).map_err(CompileError::invalid)?;
                            }
                        }
                        // Trusted bytes: `scaled_charge` decoded all six already (none
                        // opens or closes a frame).
                        None => reader.skip_decoded(len),
                    }
                    self.addr_cache.forget();
                    self.charge_scaled(charge);
                    continue;
                }
            }
            // Not `bool::then` with a closure: LLVM put that closure out of line in the
            // trusted copy of this loop.
            let fusable = match next.and_then(binary_opcode) {
                Some(_) => self.fusable_set(reader.rest()),
                None => None,
            };
            if let Some((set, len)) = fusable {
                // The `local.set`/`local.tee` is compiled with the operator before it.
                match validator.as_deref_mut() {
                    // Both are read and validated first, as every operator is.
                    Some(validator) => {
                        for _ in 0..2 {
                            let (op, offset) =
                                reader.read_with_offset().map_err(CompileError::invalid)?;
                            validator.op(offset, &op).map_err(CompileError::invalid)?;
                        }
                    }
                    // Trusted bytes: `fusable_set` decoded both already (an operator
                    // without immediates and a local index, neither touching frames).
                    None => reader.skip_decoded(len),
                }
                self.fused_operator(set);
                continue;
            }
            // Decoded, validated and compiled in one visit (see `visit`).
            let mut compile = Compile {
                gen: self,
                validator: validator.as_deref_mut(),
            };
            reader
                .visit(&mut compile)
                .map_err(CompileError::invalid)?
                .map_err(|e| *e)?;
            // Only a `loop` opens a counted loop: one compare per operator, not a load.
            if next == Some(0x03) {
                if let Some((operators, len)) = self.counted_header.take() {
                    // A counted loop's header, compiled by `loop_`: its operators are read
                    // and validated as every operator is.
                    match validator.as_deref_mut() {
                        Some(validator) => {
                            for _ in 0..operators {
                                let (op, offset) =
                                    reader.read_with_offset().map_err(CompileError::invalid)?;
                                validator.op(offset, &op).map_err(CompileError::invalid)?;
                            }
                        }
                        // Trusted bytes: `counted::recognise` decoded them (none opens or
                        // closes a frame).
                        None => reader.skip_decoded(len),
                    }
                }
            }
        }
        reader.finish().map_err(CompileError::invalid)?;
        self.reader_frames = frames;
        // After the function's last instruction (its epilogue's return): nothing falls in.
        self.masm.emit_slow_paths();

        let slots = self.slots_start as usize + self.max_depth;
        let needed = (slots * 8).div_ceil(16) * 16 + self.max_outgoing as usize;
        let frame_bytes = match self.frame_units {
            Some(units) => super::metered_frame_bytes(units, needed).ok_or_else(|| {
                CompileError::Limit(format!(
                    "function {}: its frame needs {needed} bytes, more than its {units} \
                     stack units cover",
                    self.index
                ))
            })?,
            None => needed,
        };
        let frame_bytes = u32::try_from(frame_bytes).map_err(|_| {
            CompileError::Limit(format!("function {}: frame too large", self.index))
        })?;
        self.masm.patch_frame(patch, frame_bytes);
        Ok(())
    }

    /// Decides where every local lives (see `regalloc`), emits the prologue and
    /// initialises the locals. The use counts, needed when there are more candidates
    /// than callee-saved local registers, are `uses` (the metering walk's) when given,
    /// else a scan of `code`, the body's operator bytes. Frame layout below the frame
    /// pointer: the saved local registers, the locals living in the frame, the save
    /// slots of lent registers, then the spill slots.
    fn layout_locals(
        &mut self,
        params: &[Kind],
        declared: &[(u32, Kind)],
        code: &[u8],
        uses: Option<FunctionUses<'_>>,
    ) -> FramePatch {
        let saved_regs = self.masm.local_regs();
        let all_allocatable = self.masm.allocatable();
        let lendable = self.masm.lendable_regs();
        let all_float = self.masm.float_allocatable();
        let float_lendable = &all_float[..self.masm.float_lendable()];
        let incoming = self.masm.incoming_area_offset();
        // Borrowed in place (the rest of the body uses other fields only): taken out and
        // put back, the 192-byte struct was two memcpy calls and a drop per function.
        let buffers = &mut self.homes;
        let kinds = &mut buffers.kinds;
        kinds.clear();
        kinds.extend_from_slice(params);
        for &(count, kind) in declared {
            kinds.extend(std::iter::repeat_n(kind, count as usize));
        }
        let candidates = kinds.iter().filter(|&&k| k != Kind::Ref).count();
        let floats = kinds.iter().any(|&k| matches!(k, Kind::F32 | Kind::F64));
        let weights = if candidates > saved_regs.len() || floats {
            buffers.weights.clear();
            buffers.weights.resize(kinds.len(), 0);
            buffers.copied.clear();
            buffers.copied.resize(kinds.len(), false);
            let env = self.env;
            let is_inlined = |f| env.intrinsic(f).is_some();
            match uses {
                Some(uses) => {
                    let counted =
                        regalloc::take_counts(uses, &mut buffers.weights, &mut buffers.copied);
                    #[cfg(debug_assertions)]
                    regalloc::check_counts(
                        counted,
                        code,
                        (&buffers.weights, &buffers.copied),
                        &mut buffers.loops,
                        is_inlined,
                    );
                    counted
                }
                None => regalloc::scan_local_uses(
                    code,
                    &mut buffers.weights,
                    &mut buffers.copied,
                    &mut buffers.loops,
                    is_inlined,
                ),
            }
        } else {
            None
        };
        let used = regalloc::choose_homes(
            kinds,
            weights.map(|summary| (buffers.weights.as_slice(), summary)),
            regalloc::Registers {
                saved: saved_regs,
                lendable,
                float_lendable,
            },
            &mut buffers.order,
            &mut buffers.homes,
        );
        let (saved, lent) = (used.saved, used.lent + used.float_lent);
        self.saved_locals = saved as u32;
        self.lent = &lendable[..used.lent];
        // The lent registers that are also temporaries are the first allocatable ones.
        let taken = self
            .lent
            .iter()
            .filter(|r| all_allocatable.contains(r))
            .count();
        debug_assert_eq!(all_allocatable[..taken], self.lent[used.lent - taken..]);
        self.allocatable = &all_allocatable[taken..];
        self.free = (1u32 << self.allocatable.len()) - 1;
        self.float_lent = &all_float[..used.float_lent];
        self.float_allocatable = &all_float[used.float_lent..];
        self.float_free = (1u32 << self.float_allocatable.len()) - 1;

        // Frame locals are numbered after the saved registers, lent save slots after them.
        let mut locals = std::mem::take(&mut self.locals);
        locals.clear();
        locals.reserve(kinds.len());
        let mut frame_locals = 0i32;
        self.lent_locals = [u32::MAX; MAX_LENT];
        for (i, (&kind, &home)) in kinds.iter().zip(&buffers.homes).enumerate() {
            if let Home::Lent(reg) = home {
                let index = self.lent.iter().position(|&r| r == reg);
                if let Some(slot) = index.and_then(|index| self.lent_locals.get_mut(index)) {
                    *slot = i as u32;
                }
            }
            let home = match home {
                Home::Saved(reg) | Home::Lent(reg) => LocalHome::Reg(reg),
                Home::FloatLent(freg) => LocalHome::FReg(freg),
                Home::Memory if i < params.len() => LocalHome::Frame(incoming + 8 * i as i32),
                Home::Memory => {
                    frame_locals += 1;
                    LocalHome::Frame(-8 * (saved as i32 + frame_locals))
                }
            };
            // Only a scanned function's locals are ever results-only (`copied` is then
            // filled); a parameter arrives with the caller's exact bits.
            let results_only = matches!(home, LocalHome::FReg(_))
                && i >= params.len()
                && weights.is_some()
                && !buffers.copied[i];
            locals.push(Local {
                kind,
                home,
                results_only,
            });
        }
        self.lent_slots = -8 * (saved as i32 + frame_locals + 1);
        self.slots_start = saved as u32 + frame_locals as u32 + lent as u32;

        let patch = self.masm.prologue(self.saved_locals);
        for (i, local) in locals.iter().enumerate() {
            let value = if i < params.len() {
                Operand::Frame(incoming + 8 * i as i32)
            } else {
                Operand::Imm(0)
            };
            match local.home {
                LocalHome::Reg(reg) => self.masm.mov(local.kind.size(), reg, value),
                LocalHome::FReg(freg) => {
                    self.masm
                        .float_from_bits(local.kind.float_size(), freg, value)
                }
                LocalHome::Frame(_) => {}
            }
        }
        if frame_locals > 0 {
            self.masm
                .zero_frame(-8 * (saved as i32 + frame_locals), frame_locals as u32);
        }
        // Every entry is empty here (`into_buffers` empties the last function's): the
        // lists are kept, with their allocations, from one function to the next.
        if self.local_refs.len() < locals.len() {
            self.local_refs.resize_with(locals.len(), Vec::new);
        }
        self.locals = locals;
        patch
    }

    /// Stores the lent registers, integer and float, to their save slots (before a call,
    /// which clobbers them). Never changes the flags. A float register is saved and
    /// restored as all 64 bits of its value, so an f32 comes back as it was.
    pub fn save_lent(&mut self) {
        for (i, &reg) in self.lent.iter().enumerate() {
            if self.displaced == Some(i) {
                // Its local is in the slot already; the register holds the hoisted
                // product, which its own slot keeps.
                continue;
            }
            let slot = Address::at(Base::Frame, self.lent_slot(i).into());
            self.masm.store(StoreWidth::B64, slot, Operand::Reg(reg));
        }
        for (i, &freg) in self.float_lent.iter().enumerate() {
            let offset = self.lent_slot(self.lent.len() + i);
            self.masm.float_spill(FloatSize::F64, offset, freg, false);
        }
    }

    /// Reloads the lent registers from their save slots (after a call).
    pub fn restore_lent(&mut self) {
        for (i, &reg) in self.lent.iter().enumerate() {
            if self.displaced == Some(i) {
                if let Some((product, depth)) = self.hoisted {
                    let slot = Operand::Frame(self.slot_offset(depth));
                    self.masm.mov(product.kind().size(), reg, slot);
                }
                continue;
            }
            let slot = Operand::Frame(self.lent_slot(i));
            self.masm.mov(Size::S64, reg, slot);
        }
        for (i, &freg) in self.float_lent.iter().enumerate() {
            let slot = Operand::Frame(self.lent_slot(self.lent.len() + i));
            self.masm.float_from_bits(FloatSize::F64, freg, slot);
        }
    }

    /// The frame offset of lent register `i`'s save slot.
    pub fn lent_slot(&self, i: usize) -> i32 {
        self.lent_slots - 8 * i as i32
    }

    /// One operator. The validator has accepted it already. Inlined into each visit
    /// method (`visit`), where it folds to the operator's arm.
    #[inline(always)]
    pub(super) fn operator(&mut self, op: &Operator<'_>) -> Result<(), CompileError> {
        use Operator as O;
        if matches!(op, O::Loop { .. } | O::Else | O::End) {
            // Control-flow joins: other paths may arrive without this path's facts (and
            // with other values in the entries a loop's or block's end delivers to).
            self.proven.clear();
            self.aligned.clear();
        }
        if !super::addr_cache::keeps(op) {
            self.addr_cache.forget();
            self.borrowed = None;
        }
        if self.unreachable {
            return self.unreachable_operator(op);
        }
        // A pending comparison survives only into the operators that consume flags.
        if !matches!(op, O::BrIf { .. } | O::If { .. } | O::Select | O::I32Eqz) {
            self.materialize_flags();
        }
        match *op {
            O::Unreachable => {
                let label = self.labels.trap(TrapKind::Unreachable);
                self.masm.jump(label);
                self.mark_unreachable();
            }
            O::Nop => {}
            O::Block { blockty } => self.block(blockty)?,
            O::Loop { blockty } => self.loop_(blockty)?,
            O::If { blockty } => self.if_(blockty)?,
            O::Else => self.else_(),
            O::End => self.end(),
            O::Br { relative_depth } => self.br(relative_depth),
            O::BrIf { relative_depth } => self.br_if(relative_depth),
            O::BrTable { ref targets } => {
                let mut depths = Vec::with_capacity(targets.len() as usize);
                for target in targets.targets() {
                    depths.push(target.map_err(CompileError::invalid)?);
                }
                self.br_table(&depths, targets.default());
            }
            O::Return => self.return_(),
            O::Call { function_index } => self.call(function_index)?,
            O::CallIndirect {
                type_index,
                table_index,
            } => self.call_indirect(type_index, table_index)?,
            O::Drop => {
                let value = self.pop_entry();
                self.release(value);
            }
            O::Select | O::TypedSelect { .. } => self.select(),
            O::LocalGet { local_index } => {
                let kind = self.locals[local_index as usize].kind;
                self.push(kind, super::stack::Loc::Local(local_index));
            }
            O::LocalSet { local_index } => self.local_set(local_index, false),
            O::LocalTee { local_index } => self.local_set(local_index, true),
            O::GlobalGet { global_index } => self.global_get(global_index)?,
            O::GlobalSet { global_index } => self.global_set(global_index),

            O::I32Load { memarg } => self.load(LoadKind::I32, memarg.offset),
            O::I64Load { memarg } => self.load(LoadKind::I64, memarg.offset),
            O::I32Load8S { memarg } => self.load(LoadKind::I32From8S, memarg.offset),
            O::I32Load8U { memarg } => self.load(LoadKind::I32From8U, memarg.offset),
            O::I32Load16S { memarg } => self.load(LoadKind::I32From16S, memarg.offset),
            O::I32Load16U { memarg } => self.load(LoadKind::I32From16U, memarg.offset),
            O::I64Load8S { memarg } => self.load(LoadKind::I64From8S, memarg.offset),
            O::I64Load8U { memarg } => self.load(LoadKind::I64From8U, memarg.offset),
            O::I64Load16S { memarg } => self.load(LoadKind::I64From16S, memarg.offset),
            O::I64Load16U { memarg } => self.load(LoadKind::I64From16U, memarg.offset),
            O::I64Load32S { memarg } => self.load(LoadKind::I64From32S, memarg.offset),
            O::I64Load32U { memarg } => self.load(LoadKind::I64From32U, memarg.offset),
            O::I32Store { memarg } => self.store(StoreWidth::B32, memarg.offset),
            O::I64Store { memarg } => self.store(StoreWidth::B64, memarg.offset),
            O::I32Store8 { memarg } | O::I64Store8 { memarg } => {
                self.store(StoreWidth::B8, memarg.offset)
            }
            O::I32Store16 { memarg } | O::I64Store16 { memarg } => {
                self.store(StoreWidth::B16, memarg.offset)
            }
            O::I64Store32 { memarg } => self.store(StoreWidth::B32, memarg.offset),
            O::MemorySize { .. } => self.memory_size(),
            O::MemoryGrow { .. } => self.memory_grow(),
            O::MemoryFill { .. } => self.memory_fill(),
            O::MemoryCopy { .. } => self.memory_copy(),
            O::MemoryInit { data_index, .. } => self.memory_init(data_index),
            O::DataDrop { data_index } => self.data_drop(data_index),

            O::I32Const { value } => self.push_const(Kind::I32, value.into()),
            O::I64Const { value } => self.push_const(Kind::I64, value),

            O::I32Eqz => self.eqz(Size::S32),
            O::I64Eqz => self.eqz(Size::S64),
            O::I32Eq => self.compare(Size::S32, Cond::Eq),
            O::I32Ne => self.compare(Size::S32, Cond::Ne),
            O::I32LtS => self.compare(Size::S32, Cond::LtS),
            O::I32LtU => self.compare(Size::S32, Cond::LtU),
            O::I32GtS => self.compare(Size::S32, Cond::GtS),
            O::I32GtU => self.compare(Size::S32, Cond::GtU),
            O::I32LeS => self.compare(Size::S32, Cond::LeS),
            O::I32LeU => self.compare(Size::S32, Cond::LeU),
            O::I32GeS => self.compare(Size::S32, Cond::GeS),
            O::I32GeU => self.compare(Size::S32, Cond::GeU),
            O::I64Eq => self.compare(Size::S64, Cond::Eq),
            O::I64Ne => self.compare(Size::S64, Cond::Ne),
            O::I64LtS => self.compare(Size::S64, Cond::LtS),
            O::I64LtU => self.compare(Size::S64, Cond::LtU),
            O::I64GtS => self.compare(Size::S64, Cond::GtS),
            O::I64GtU => self.compare(Size::S64, Cond::GtU),
            O::I64LeS => self.compare(Size::S64, Cond::LeS),
            O::I64LeU => self.compare(Size::S64, Cond::LeU),
            O::I64GeS => self.compare(Size::S64, Cond::GeS),
            O::I64GeU => self.compare(Size::S64, Cond::GeU),

            O::I32Clz => self.bit_count(BitOp::Clz, Kind::I32),
            O::I32Ctz => self.bit_count(BitOp::Ctz, Kind::I32),
            O::I32Popcnt => self.bit_count(BitOp::Popcnt, Kind::I32),
            O::I64Clz => self.bit_count(BitOp::Clz, Kind::I64),
            O::I64Ctz => self.bit_count(BitOp::Ctz, Kind::I64),
            O::I64Popcnt => self.bit_count(BitOp::Popcnt, Kind::I64),

            O::I32Add => self.alu(AluOp::Add, Kind::I32),
            O::I32Sub => self.alu(AluOp::Sub, Kind::I32),
            O::I32Mul => self.alu(AluOp::Mul, Kind::I32),
            O::I32And => self.alu(AluOp::And, Kind::I32),
            O::I32Or => self.alu(AluOp::Or, Kind::I32),
            O::I32Xor => self.alu(AluOp::Xor, Kind::I32),
            O::I64Add => self.alu(AluOp::Add, Kind::I64),
            O::I64Sub => self.alu(AluOp::Sub, Kind::I64),
            O::I64Mul => self.alu(AluOp::Mul, Kind::I64),
            O::I64And => self.alu(AluOp::And, Kind::I64),
            O::I64Or => self.alu(AluOp::Or, Kind::I64),
            O::I64Xor => self.alu(AluOp::Xor, Kind::I64),
            O::I32DivS => self.div(DivOp::DivS, Kind::I32),
            O::I32DivU => self.div(DivOp::DivU, Kind::I32),
            O::I32RemS => self.div(DivOp::RemS, Kind::I32),
            O::I32RemU => self.div(DivOp::RemU, Kind::I32),
            O::I64DivS => self.div(DivOp::DivS, Kind::I64),
            O::I64DivU => self.div(DivOp::DivU, Kind::I64),
            O::I64RemS => self.div(DivOp::RemS, Kind::I64),
            O::I64RemU => self.div(DivOp::RemU, Kind::I64),
            O::I32Shl => self.shift(ShiftOp::Shl, Kind::I32),
            O::I32ShrS => self.shift(ShiftOp::ShrS, Kind::I32),
            O::I32ShrU => self.shift(ShiftOp::ShrU, Kind::I32),
            O::I32Rotl => self.shift(ShiftOp::Rotl, Kind::I32),
            O::I32Rotr => self.shift(ShiftOp::Rotr, Kind::I32),
            O::I64Shl => self.shift(ShiftOp::Shl, Kind::I64),
            O::I64ShrS => self.shift(ShiftOp::ShrS, Kind::I64),
            O::I64ShrU => self.shift(ShiftOp::ShrU, Kind::I64),
            O::I64Rotl => self.shift(ShiftOp::Rotl, Kind::I64),
            O::I64Rotr => self.shift(ShiftOp::Rotr, Kind::I64),

            O::I32WrapI64 => self.extend(ExtendOp::Wrap, Kind::I32),
            O::I64ExtendI32S => self.extend(ExtendOp::I64FromI32S, Kind::I64),
            O::I64ExtendI32U => self.extend(ExtendOp::I64FromI32U, Kind::I64),
            O::I32Extend8S => self.extend(ExtendOp::I32From8S, Kind::I32),
            O::I32Extend16S => self.extend(ExtendOp::I32From16S, Kind::I32),
            O::I64Extend8S => self.extend(ExtendOp::I64From8S, Kind::I64),
            O::I64Extend16S => self.extend(ExtendOp::I64From16S, Kind::I64),
            O::I64Extend32S => self.extend(ExtendOp::I64From32S, Kind::I64),

            O::RefNull { .. } => self.push_const(Kind::Ref, 0),
            O::RefIsNull => self.eqz(Size::S64),
            O::RefFunc { function_index } => self.ref_func(function_index),
            O::TableGet { table } => self.table_get(table),
            O::TableSet { table } => self.table_set(table),
            O::TableSize { table } => self.table_size(table),
            O::TableGrow { table } => self.table_grow(table),
            O::TableFill { table } => self.table_fill(table),
            O::TableCopy {
                dst_table,
                src_table,
            } => self.table_copy(dst_table, src_table),
            O::TableInit { elem_index, table } => self.table_init(table, elem_index),
            O::ElemDrop { elem_index } => self.elem_drop(elem_index),

            _ => return self.float_operator(op),
        }
        Ok(())
    }

    /// The float operators (wasm 2.0, saturating truncations included).
    fn float_operator(&mut self, op: &Operator<'_>) -> Result<(), CompileError> {
        use FloatSize::{F32, F64};
        use Operator as O;
        let conv = |int, float, signed| IntFloat { int, float, signed };
        let (s32, s64) = (Size::S32, Size::S64);
        match *op {
            O::F32Load { memarg } => self.load_float(FloatSize::F32, memarg.offset),
            O::F64Load { memarg } => self.load_float(FloatSize::F64, memarg.offset),
            O::F32Store { memarg } => self.store(StoreWidth::B32, memarg.offset),
            O::F64Store { memarg } => self.store(StoreWidth::B64, memarg.offset),
            O::F32Const { value } => self.push_const(Kind::F32, value.bits().into()),
            O::F64Const { value } => self.push_const(Kind::F64, value.bits() as i64),

            O::F32Add => self.float_binop(FloatBinOp::Add, F32),
            O::F32Sub => self.float_binop(FloatBinOp::Sub, F32),
            O::F32Mul => self.float_binop(FloatBinOp::Mul, F32),
            O::F32Div => self.float_binop(FloatBinOp::Div, F32),
            O::F32Min => self.float_binop(FloatBinOp::Min, F32),
            O::F32Max => self.float_binop(FloatBinOp::Max, F32),
            O::F64Add => self.float_binop(FloatBinOp::Add, F64),
            O::F64Sub => self.float_binop(FloatBinOp::Sub, F64),
            O::F64Mul => self.float_binop(FloatBinOp::Mul, F64),
            O::F64Div => self.float_binop(FloatBinOp::Div, F64),
            O::F64Min => self.float_binop(FloatBinOp::Min, F64),
            O::F64Max => self.float_binop(FloatBinOp::Max, F64),

            O::F32Sqrt => self.float_unop(FloatUnOp::Sqrt, F32),
            O::F32Ceil => self.float_unop(FloatUnOp::Ceil, F32),
            O::F32Floor => self.float_unop(FloatUnOp::Floor, F32),
            O::F32Trunc => self.float_unop(FloatUnOp::Trunc, F32),
            O::F32Nearest => self.float_unop(FloatUnOp::Nearest, F32),
            O::F64Sqrt => self.float_unop(FloatUnOp::Sqrt, F64),
            O::F64Ceil => self.float_unop(FloatUnOp::Ceil, F64),
            O::F64Floor => self.float_unop(FloatUnOp::Floor, F64),
            O::F64Trunc => self.float_unop(FloatUnOp::Trunc, F64),
            O::F64Nearest => self.float_unop(FloatUnOp::Nearest, F64),

            O::F32Abs => self.float_abs(F32),
            O::F32Neg => self.float_neg(F32),
            O::F32Copysign => self.float_copysign(F32),
            O::F64Abs => self.float_abs(F64),
            O::F64Neg => self.float_neg(F64),
            O::F64Copysign => self.float_copysign(F64),

            O::F32Eq => self.float_compare(FloatCmp::Eq, F32),
            O::F32Ne => self.float_compare(FloatCmp::Ne, F32),
            O::F32Lt => self.float_compare(FloatCmp::Lt, F32),
            O::F32Gt => self.float_compare(FloatCmp::Gt, F32),
            O::F32Le => self.float_compare(FloatCmp::Le, F32),
            O::F32Ge => self.float_compare(FloatCmp::Ge, F32),
            O::F64Eq => self.float_compare(FloatCmp::Eq, F64),
            O::F64Ne => self.float_compare(FloatCmp::Ne, F64),
            O::F64Lt => self.float_compare(FloatCmp::Lt, F64),
            O::F64Gt => self.float_compare(FloatCmp::Gt, F64),
            O::F64Le => self.float_compare(FloatCmp::Le, F64),
            O::F64Ge => self.float_compare(FloatCmp::Ge, F64),

            O::F32DemoteF64 => self.float_resize(F32),
            O::F64PromoteF32 => self.float_resize(F64),
            O::F32ConvertI32S => self.int_to_float(conv(s32, F32, true)),
            O::F32ConvertI32U => self.int_to_float(conv(s32, F32, false)),
            O::F32ConvertI64S => self.int_to_float(conv(s64, F32, true)),
            O::F32ConvertI64U => self.int_to_float(conv(s64, F32, false)),
            O::F64ConvertI32S => self.int_to_float(conv(s32, F64, true)),
            O::F64ConvertI32U => self.int_to_float(conv(s32, F64, false)),
            O::F64ConvertI64S => self.int_to_float(conv(s64, F64, true)),
            O::F64ConvertI64U => self.int_to_float(conv(s64, F64, false)),

            O::I32TruncF32S => self.float_to_int(conv(s32, F32, true), false),
            O::I32TruncF32U => self.float_to_int(conv(s32, F32, false), false),
            O::I32TruncF64S => self.float_to_int(conv(s32, F64, true), false),
            O::I32TruncF64U => self.float_to_int(conv(s32, F64, false), false),
            O::I64TruncF32S => self.float_to_int(conv(s64, F32, true), false),
            O::I64TruncF32U => self.float_to_int(conv(s64, F32, false), false),
            O::I64TruncF64S => self.float_to_int(conv(s64, F64, true), false),
            O::I64TruncF64U => self.float_to_int(conv(s64, F64, false), false),
            O::I32TruncSatF32S => self.float_to_int(conv(s32, F32, true), true),
            O::I32TruncSatF32U => self.float_to_int(conv(s32, F32, false), true),
            O::I32TruncSatF64S => self.float_to_int(conv(s32, F64, true), true),
            O::I32TruncSatF64U => self.float_to_int(conv(s32, F64, false), true),
            O::I64TruncSatF32S => self.float_to_int(conv(s64, F32, true), true),
            O::I64TruncSatF32U => self.float_to_int(conv(s64, F32, false), true),
            O::I64TruncSatF64S => self.float_to_int(conv(s64, F64, true), true),
            O::I64TruncSatF64U => self.float_to_int(conv(s64, F64, false), true),

            O::I32ReinterpretF32 => self.reinterpret(Kind::I32),
            O::I64ReinterpretF64 => self.reinterpret(Kind::I64),
            O::F32ReinterpretI32 => self.reinterpret(Kind::F32),
            O::F64ReinterpretI64 => self.reinterpret(Kind::F64),

            _ => {
                let name = format!("{op:?}");
                let name = name.split([' ', '{']).next().unwrap_or("operator");
                return Err(self.unsupported(format!("operator {name}")));
            }
        }
        Ok(())
    }

    /// Whether the next operator (at `next`) is an integer ALU operator or shift followed
    /// by a `local.set` or `local.tee` of a local living in a register: then the
    /// operator can write its result straight into that register (`fused_operator`)
    /// instead of a temporary moved there after. Reads only the two instructions' bytes
    /// (the operator has no immediates), and returns how many they are; anything it
    /// does not recognise (including malformed bytes, which the main reader will
    /// report) says no.
    #[inline(always)]
    fn fusable_set(&self, next: &[u8]) -> Option<(LocalSet, usize)> {
        if self.unreachable {
            return None;
        }
        let (binary, kind) = binary_opcode(*next.first()?)?;
        let tee = match *next.get(1)? {
            0x21 => false,
            0x22 => true,
            _ => return None,
        };
        let index = &next[2..];
        // Short indices inline; a longer (or padded) LEB128 as wasmparser reads it.
        let (local, index_len) = short_u32(index).or_else(|| {
            let mut reader = wasmparser::BinaryReader::new(index, 0);
            let local = reader.read_var_u32().ok()?;
            Some((local, reader.current_position()))
        })?;
        let target = self.locals.get(local as usize)?;
        match target.home {
            LocalHome::Reg(reg) if target.kind == kind => Some((
                LocalSet {
                    binary,
                    kind,
                    local,
                    reg,
                    tee,
                },
                2 + index_len,
            )),
            _ => None,
        }
    }

    /// The operator [`Self::fusable_set`] accepted, with its result written into
    /// `set.reg`, then the `local.set`/`local.tee` done.
    fn fused_operator(&mut self, set: LocalSet) {
        self.materialize_flags();
        let kind = set.kind;
        let done = self.binary_into_local(set.binary, kind, set.local, set.reg);
        if done {
            if set.tee {
                self.push(kind, super::stack::Loc::Local(set.local));
            }
        } else {
            // Folded to a constant (pushed): an ordinary `local.set` of it.
            self.local_set(set.local, set.tee);
        }
    }

    /// `local.set` / `local.tee`.
    fn local_set(&mut self, local: u32, tee: bool) {
        self.materialize_local(local);
        if let Some(home) = self.float_home(local) {
            return self.float_local_set(local, home, tee);
        }
        let value = self.pop();
        let home = self.locals[local as usize].home;
        let kind = self.locals[local as usize].kind;
        let src = self.operand(value);
        match home {
            LocalHome::Reg(reg) => {
                if src != Operand::Reg(reg) {
                    self.masm.mov(kind.size(), reg, src);
                }
            }
            LocalHome::Frame(offset) => {
                self.masm.store(
                    StoreWidth::B64,
                    crate::masm::Address::at(crate::masm::Base::Frame, offset.into()),
                    src,
                );
            }
            LocalHome::FReg(_) => unreachable!("float-register locals are set above"),
        }
        if tee {
            // Keep the value where it is: it is still the operator's result.
            self.push(value.kind, value.loc);
        } else {
            self.release(value);
        }
    }

    /// `local.set`/`local.tee` of a local living in float register `home`: an operator's
    /// result moves in (canonicalized, if the function canonicalizes, since the local
    /// holds exact bits); bits from anywhere else move in unchanged. The flags are dead
    /// here (`operator` materialised any pending comparison).
    fn float_local_set(&mut self, local: u32, home: FReg, tee: bool) {
        let value = self.pop_entry();
        let size = value.kind.float_size();
        // A results-only local takes a result as it is (see `Local::results_only`).
        let exact = !self.locals[local as usize].results_only;
        match value.loc {
            // Its own value (a float operator wrote it there: `float_binop`): no change.
            Loc::Local(other) if other == local => {}
            Loc::FReg(freg) => {
                let canonicalize = exact && self.canonicalizes(freg);
                self.masm
                    .float_move_clobbering_flags(size, home, freg, canonicalize);
            }
            Loc::Local(other) => match self.float_home(other) {
                Some(src) => {
                    let canonicalize = exact && self.local_canonicalizes(other);
                    self.masm
                        .float_move_clobbering_flags(size, home, src, canonicalize)
                }
                None => {
                    let src = self.local_operand(other);
                    self.masm.float_from_bits(size, home, src);
                }
            },
            _ => {
                let src = self.operand(value);
                self.masm.float_from_bits(size, home, src);
            }
        }
        self.release(value);
        if tee {
            // The local itself is the value now, read lazily like a `local.get`.
            self.push(value.kind, Loc::Local(local));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The operators `FuncGen::operator` compiles with `alu`/`shift`, as (operator,
    /// binary, kind): what `binary_opcode` must say for their opcodes.
    fn binary_operator(op: &Operator<'_>) -> Option<(Binary, Kind)> {
        use Operator as O;
        let (alu, shift) = (Binary::Alu, Binary::Shift);
        Some(match op {
            O::I32Add => (alu(AluOp::Add), Kind::I32),
            O::I32Sub => (alu(AluOp::Sub), Kind::I32),
            O::I32Mul => (alu(AluOp::Mul), Kind::I32),
            O::I32And => (alu(AluOp::And), Kind::I32),
            O::I32Or => (alu(AluOp::Or), Kind::I32),
            O::I32Xor => (alu(AluOp::Xor), Kind::I32),
            O::I64Add => (alu(AluOp::Add), Kind::I64),
            O::I64Sub => (alu(AluOp::Sub), Kind::I64),
            O::I64Mul => (alu(AluOp::Mul), Kind::I64),
            O::I64And => (alu(AluOp::And), Kind::I64),
            O::I64Or => (alu(AluOp::Or), Kind::I64),
            O::I64Xor => (alu(AluOp::Xor), Kind::I64),
            O::I32Shl => (shift(ShiftOp::Shl), Kind::I32),
            O::I32ShrS => (shift(ShiftOp::ShrS), Kind::I32),
            O::I32ShrU => (shift(ShiftOp::ShrU), Kind::I32),
            O::I32Rotl => (shift(ShiftOp::Rotl), Kind::I32),
            O::I32Rotr => (shift(ShiftOp::Rotr), Kind::I32),
            O::I64Shl => (shift(ShiftOp::Shl), Kind::I64),
            O::I64ShrS => (shift(ShiftOp::ShrS), Kind::I64),
            O::I64ShrU => (shift(ShiftOp::ShrU), Kind::I64),
            O::I64Rotl => (shift(ShiftOp::Rotl), Kind::I64),
            O::I64Rotr => (shift(ShiftOp::Rotr), Kind::I64),
            _ => return None,
        })
    }

    /// Every one-byte opcode: `binary_opcode` names exactly the ALU operators and shifts
    /// wasmparser decodes it as, with the same operation and kind.
    #[test]
    fn binary_opcodes_are_the_alu_operators_and_shifts() {
        let mut found = 0;
        for code in 0..=255u8 {
            let bytes = [code];
            let reader = wasmparser::BinaryReader::new(&bytes, 0);
            let expected = wasmparser::OperatorsReader::new(reader)
                .read()
                .ok()
                .and_then(|op| binary_operator(&op));
            assert_eq!(binary_opcode(code), expected, "opcode {code:#04x}");
            found += usize::from(expected.is_some());
        }
        assert_eq!(found, 22);
    }
}
