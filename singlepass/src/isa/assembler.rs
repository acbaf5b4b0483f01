//! [`CodeAssembler`]: what both backends' `dynasm!` invocations assemble into.
//!
//! dynasmrt's own `VecAssembler` keeps the code in a `Vec<u8>`, which the runtime then had
//! to copy into executable memory, and keeps every label and every reference until the
//! whole module is finalized: 16 bytes per label and 32 per reference, more memory than
//! the code itself on memory-heavy modules. This one
//!
//! - writes into a [`CodeBuffer`], whose pages the runtime makes executable in place;
//! - patches a function's references to its own labels when the function ends
//!   ([`CodeAssembler::end_function`]) and then reuses those labels for the next
//!   function, so only module-level labels (functions, trap stubs) and the references to
//!   them outlive a function, at 12 bytes a reference;
//! - resolves local labels (`>name`, `<name`) as soon as they are defined.
//!
//! The bytes are exactly those dynasmrt's `VecAssembler` writes. Code is assembled at
//! base address 0 (every reference is relative or goes through the vmctx).

use dynasmrt::components::{LabelRegistry, PatchLoc};
use dynasmrt::relocations::{Relocation, RelocationKind};
use dynasmrt::{
    AssemblyOffset, DynamicLabel, DynasmApi, DynasmError, DynasmLabelApi, LabelKind, TargetKind,
};

use crate::code_buffer::CodeBuffer;

/// `CodeAssembler::bound` of a label not bound (yet, or since it was recycled).
const UNBOUND: u32 = u32::MAX;
/// `CodeAssembler::bound` of an unbound label still referenced, during `end_function`.
const PINNED: u32 = u32::MAX - 1;

/// A reference to a dynamic label not patched yet: where, to what, and how (an index
/// into `CodeAssembler::shapes`, since a backend uses only a handful of encodings).
#[derive(Copy, Clone)]
struct Pending {
    location: u32,
    label: u32,
    shape: u32,
}

/// How a reference is encoded, as dynasm describes it.
#[derive(Copy, Clone, PartialEq, Eq)]
struct Shape {
    target_offset: isize,
    field_offset: u8,
    ref_offset: u8,
    kind: u8,
}

/// How a backend's relocations write their fields.
pub(crate) trait Fields: Relocation {
    /// Whether every field of a relative reference is the displacement itself,
    /// little-endian, in 1 or 4 bytes (x86-64's rel8 and rel32): `end_function` then
    /// writes it directly (dynasmrt's generic `PatchLoc::patch`, a decode of the
    /// relocation and a dispatch on its size per reference, was ≈ 96 instructions a
    /// reference). Otherwise (AArch64's immediates inside instructions) dynasmrt writes it.
    const PLAIN: bool;
}

impl Fields for dynasmrt::x64::X64Relocation {
    const PLAIN: bool = true;
}

impl Fields for dynasmrt::aarch64::Aarch64Relocation {
    const PLAIN: bool = false;
}

/// A dynasm assembler over a [`CodeBuffer`] (see the module docs).
pub(crate) struct CodeAssembler<R: Fields> {
    code: CodeBuffer,
    /// Mints dynamic labels (dynasm's only way to make a `DynamicLabel`); its own table of
    /// their offsets is not used. Also holds global labels, which the backends never use.
    registry: LabelRegistry,
    /// Offset of each dynamic label by id, or `UNBOUND`.
    bound: Vec<u32>,
    /// Each label by id (for error messages).
    minted: Vec<DynamicLabel>,
    /// Labels of finished functions, bound and no longer referenced: handed out again.
    free: Vec<DynamicLabel>,
    /// Labels handed out since `begin_function`.
    function_labels: Vec<DynamicLabel>,
    /// Whether a function is being assembled (labels handed out are then its own).
    in_function: bool,
    /// References to dynamic labels not patched yet; those before `function_pending`
    /// come from finished functions (they refer to module-level labels).
    pending: Vec<Pending>,
    function_pending: usize,
    shapes: Vec<Shape>,
    /// Per shape: the byte size of its field when it is a plain relative one (see
    /// [`Fields::PLAIN`]), else 0.
    plain: Vec<u8>,
    /// References through the non-encoded API (`dynamic_relocation`, which `dynasm!` does
    /// not use), patched by `finalize`.
    other_dynamic: Vec<(DynamicLabel, PatchLoc<R>)>,
    /// Each local label's latest definition.
    locals: Vec<(&'static str, usize)>,
    /// Forward references to local labels, waiting for their next definition.
    local_forward: Vec<(&'static str, PatchLoc<R>)>,
    /// References to global labels, patched by `finalize`.
    global_refs: Vec<(&'static str, PatchLoc<R>)>,
    /// The first error met while assembling, reported by `finalize`.
    error: Option<DynasmError>,
}

impl<R: Fields> CodeAssembler<R> {
    /// An assembler whose buffer starts with room for `code_bytes`.
    pub fn with_capacity(code_bytes: usize) -> Self {
        CodeAssembler {
            code: CodeBuffer::with_capacity(code_bytes),
            registry: LabelRegistry::new(),
            bound: Vec::new(),
            minted: Vec::new(),
            free: Vec::new(),
            function_labels: Vec::new(),
            in_function: false,
            pending: Vec::new(),
            function_pending: 0,
            shapes: Vec::new(),
            plain: Vec::new(),
            other_dynamic: Vec::new(),
            locals: Vec::new(),
            local_forward: Vec::new(),
            global_refs: Vec::new(),
            error: None,
        }
    }

    /// A fresh (unbound) label: a recycled one inside a function, else a new one.
    pub fn new_dynamic_label(&mut self) -> DynamicLabel {
        let recycled = if self.in_function {
            self.free.pop()
        } else {
            None
        };
        let label = recycled.unwrap_or_else(|| {
            let label = self.registry.new_dynamic_label();
            self.bound.push(UNBOUND);
            self.minted.push(label);
            label
        });
        if self.in_function {
            self.function_labels.push(label);
        }
        label
    }

    /// Where `label` is bound, if it is.
    pub fn resolve(&self, label: DynamicLabel) -> Option<usize> {
        match self.bound.get(label.get_id()) {
            Some(&offset) if offset != UNBOUND => Some(offset as usize),
            _ => None,
        }
    }

    /// Labels handed out from now on belong to one function, until `end_function`.
    pub fn begin_function(&mut self) {
        self.in_function = true;
    }

    /// Patches the function's references to labels bound by now (its own), and recycles
    /// its labels; references to labels still unbound (module-level ones, or a later
    /// function's entry) wait for `finalize`.
    pub fn end_function(&mut self) {
        let mut kept = self.function_pending;
        for i in self.function_pending..self.pending.len() {
            let reference = self.pending[i];
            match self.bound[reference.label as usize] {
                UNBOUND => {
                    self.pending[kept] = reference;
                    kept += 1;
                }
                target => self.patch_pending(reference, target as usize),
            }
        }
        // Labels still referenced (unbound: a module-level label, or one this function
        // left unbound) are pinned while the function's labels are recycled.
        let waiting = self.function_pending..kept;
        for i in waiting.clone() {
            self.bound[self.pending[i].label as usize] = PINNED;
        }
        for label in self.function_labels.drain(..) {
            let slot = &mut self.bound[label.get_id()];
            if *slot != PINNED {
                *slot = UNBOUND;
                self.free.push(label);
            }
        }
        for i in waiting {
            self.bound[self.pending[i].label as usize] = UNBOUND;
        }
        self.pending.truncate(kept);
        self.function_pending = kept;
        self.in_function = false;
    }

    /// Appends `part`'s code (see `MacroAssembler::append`): `labels` pairs labels of
    /// `part` with labels of `self`. A paired label bound in `part` is bound here at the
    /// same place in the appended code; `part`'s pending references (all to labels it did
    /// not bind, since its functions are finished) are taken over through the pairs.
    pub fn append(
        &mut self,
        part: CodeAssembler<R>,
        labels: &[(DynamicLabel, DynamicLabel)],
    ) -> Result<(), DynasmError> {
        if let Some(e) = part.error {
            return Err(e);
        }
        if let Some(&(name, _)) = part.local_forward.first() {
            return Err(DynasmError::UnknownLabel(LabelKind::Local(name)));
        }
        if let Some(&(label, _)) = part.other_dynamic.first() {
            return Err(DynasmError::UnknownLabel(LabelKind::Dynamic(label)));
        }
        if let Some(&(name, _)) = part.global_refs.first() {
            return Err(DynasmError::UnknownLabel(LabelKind::Global(name)));
        }
        let base = self.code.len();
        let offset_of = |offset: usize| {
            u32::try_from(base + offset)
                .ok()
                .filter(|&o| o < PINNED)
                .ok_or(DynasmError::ImpossibleRelocation(TargetKind::Value(
                    base + offset,
                )))
        };
        let mut map: Vec<Option<DynamicLabel>> = vec![None; part.bound.len()];
        for &(theirs, ours) in labels {
            if let Some(slot) = map.get_mut(theirs.get_id()) {
                *slot = Some(ours);
            }
        }
        for (id, &offset) in part.bound.iter().enumerate() {
            if let (Some(ours), true) = (map[id], offset != UNBOUND) {
                let slot = &mut self.bound[ours.get_id()];
                if *slot != UNBOUND {
                    return Err(DynasmError::DuplicateLabel(LabelKind::Dynamic(ours)));
                }
                *slot = offset_of(offset as usize)?;
            }
        }
        self.code.extend_from_slice(&part.code);
        for reference in &part.pending {
            let ours = map[reference.label as usize].ok_or(DynasmError::UnknownLabel(
                LabelKind::Dynamic(part.minted[reference.label as usize]),
            ))?;
            let shape = self.shape_index(part.shapes[reference.shape as usize]);
            self.pending.push(Pending {
                location: offset_of(reference.location as usize)?,
                label: ours.get_id() as u32,
                shape,
            });
        }
        self.function_pending = self.pending.len();
        Ok(())
    }

    /// The code already assembled at `offset..offset + len` (an instruction about to be
    /// patched), if there is that much.
    pub fn code_at(&self, offset: usize, len: usize) -> Option<&[u8]> {
        self.code.get(offset..offset.checked_add(len)?)
    }

    /// Overwrites code already assembled at `offset` (a frame size, a branch
    /// displacement).
    pub fn patch(&mut self, offset: usize, bytes: &[u8]) {
        self.code[offset..offset + bytes.len()].copy_from_slice(bytes);
    }

    /// Moves the bytes from `start` to the end `filler.len()` bytes further and writes
    /// `filler` in their place: padding put before an instruction already emitted. The
    /// moved bytes (at most 32) must hold no reference to a label and no label may be
    /// bound among them, as neither would move with them (`isa/x64/placement.rs` calls it
    /// only on a compare it just emitted).
    pub fn insert_before_tail(&mut self, start: usize, filler: &[u8]) {
        let end = self.code.len();
        debug_assert!(start <= end && end - start <= 32);
        debug_assert!(self
            .pending
            .last()
            .is_none_or(|p| (p.location as usize) <= start));
        let mut tail = [0u8; 32];
        let moved = end - start;
        tail[..moved].copy_from_slice(&self.code[start..end]);
        self.code.extend_from_slice(filler);
        self.code[start..start + filler.len()].copy_from_slice(filler);
        self.code[start + filler.len()..].copy_from_slice(&tail[..moved]);
    }

    /// Appends the low `len` (at most 8) bytes of `bytes`, little-endian: a short
    /// instruction assembled in a register, written with one store (see
    /// `CodeBuffer::push_le`).
    #[inline]
    pub fn push_le(&mut self, bytes: u64, len: usize) {
        self.code.push_le(bytes, len);
    }

    /// Replaces the code from `start` on with `bytes`: instructions just emitted, emitted
    /// again longer (padding prefixes). The same conditions as `truncate_tail`.
    pub fn replace_tail(&mut self, start: usize, bytes: &[u8]) {
        self.truncate_tail(start);
        self.code.extend_from_slice(bytes);
    }

    /// Drops the code from `start` on: an instruction just emitted that is to be
    /// replaced. It must hold no reference to a label and no label may be bound in it or
    /// at its end (nothing would move them back).
    pub fn truncate_tail(&mut self, start: usize) {
        debug_assert!(self
            .pending
            .last()
            .is_none_or(|p| (p.location as usize) <= start));
        self.code.truncate(start);
    }

    /// Resolves every remaining reference and hands over the code.
    pub fn finalize(mut self) -> Result<CodeBuffer, DynasmError> {
        if let Some(e) = self.error.take() {
            return Err(e);
        }
        if let Some(&(name, _)) = self.local_forward.first() {
            return Err(DynasmError::UnknownLabel(LabelKind::Local(name)));
        }
        for reference in std::mem::take(&mut self.pending) {
            let target = self.bound[reference.label as usize];
            if target == UNBOUND {
                let label = self.label_of(reference.label);
                return Err(DynasmError::UnknownLabel(LabelKind::Dynamic(label)));
            }
            self.patch_pending(reference, target as usize);
        }
        if let Some(e) = self.error.take() {
            return Err(e);
        }
        for (label, loc) in std::mem::take(&mut self.other_dynamic) {
            let target = self
                .resolve(label)
                .ok_or(DynasmError::UnknownLabel(LabelKind::Dynamic(label)))?;
            self.patch_loc(&loc, target, TargetKind::Dynamic(label))?;
        }
        for (name, loc) in std::mem::take(&mut self.global_refs) {
            let label = dynasmrt::components::StaticLabel::global(name);
            let target = self.registry.resolve_static(&label)?;
            self.patch_loc(&loc, target.0, TargetKind::Global(name))?;
        }
        Ok(self.code)
    }

    /// The label whose id is `id` (for error messages).
    fn label_of(&self, id: u32) -> DynamicLabel {
        self.minted[id as usize]
    }

    /// Writes a pending reference's field to reach `target`. Inline in the loops of
    /// `end_function` and `finalize` (one call per label reference was ≈ 20 of its ≈ 60
    /// instructions); anything but a plain in-range field goes to `patch_generic`.
    #[inline(always)]
    fn patch_pending(&mut self, reference: Pending, target: usize) {
        let shape = self.shapes[reference.shape as usize];
        let plain = self.plain[reference.shape as usize];
        if plain != 0 {
            // `PatchLoc::value` of a relative reference, written as `write_value` would.
            let location = reference.location as usize;
            let from = location - shape.ref_offset as usize;
            let value = (target as isize)
                .wrapping_sub(from as isize)
                .wrapping_add(shape.target_offset);
            let field = location - shape.field_offset as usize;
            match plain {
                4 => {
                    if let Ok(value) = i32::try_from(value) {
                        self.code[field..field + 4].copy_from_slice(&value.to_le_bytes());
                        return;
                    }
                }
                _ => {
                    if let Ok(value) = i8::try_from(value) {
                        self.code[field] = value as u8;
                        return;
                    }
                }
            }
            // Out of range: the generic path reports it.
        }
        self.patch_generic(reference, target);
    }

    /// [`Self::patch_pending`] through dynasm's `PatchLoc` (AArch64's fields, and the
    /// out-of-range error of any).
    #[cold]
    fn patch_generic(&mut self, reference: Pending, target: usize) {
        let shape = self.shapes[reference.shape as usize];
        let loc = PatchLoc::<R>::new(
            AssemblyOffset(reference.location as usize),
            shape.target_offset,
            shape.field_offset,
            shape.ref_offset,
            R::from_encoding(shape.kind),
        );
        if loc.patch(&mut self.code[loc.range(0)], 0, target).is_err() {
            let label = self.label_of(reference.label);
            self.error
                .get_or_insert(DynasmError::ImpossibleRelocation(TargetKind::Dynamic(
                    label,
                )));
        }
    }

    /// Writes `loc`'s field to reach `target`.
    fn patch_loc(
        &mut self,
        loc: &PatchLoc<R>,
        target: usize,
        kind: TargetKind,
    ) -> Result<(), DynasmError> {
        loc.patch(&mut self.code[loc.range(0)], 0, target)
            .map_err(|_| DynasmError::ImpossibleRelocation(kind))
    }

    /// Where a relocation recorded now (just after its instruction) lies.
    fn here(&self, target_offset: isize, field_offset: u8, ref_offset: u8, kind: R) -> PatchLoc<R> {
        PatchLoc::new(self.offset(), target_offset, field_offset, ref_offset, kind)
    }

    /// The index of `shape` in `shapes` (a backend uses a handful: a linear search, one
    /// or two compares for the common shapes, which come first). Inline in
    /// `dynamic_reloc`: out of line, the call was most of its cost per label reference.
    #[inline(always)]
    fn shape_index(&mut self, shape: Shape) -> u32 {
        match self.shapes.iter().position(|&s| s == shape) {
            Some(i) => i as u32,
            None => self.add_shape(shape),
        }
    }

    /// Adds `shape` (new) to `shapes` and returns its index.
    #[cold]
    fn add_shape(&mut self, shape: Shape) -> u32 {
        let relocation = R::from_encoding(shape.kind);
        let plain = match (relocation.kind(), relocation.size()) {
            (RelocationKind::Relative, size @ (1 | 4)) if R::PLAIN => size as u8,
            _ => 0,
        };
        self.shapes.push(shape);
        self.plain.push(plain);
        (self.shapes.len() - 1) as u32
    }
}

// `dynasm!` hands each instruction's fixed bytes over as a slice or an array: written
// after one capacity check (see `CodeBuffer::extend_from_iter`), inlined where the bytes
// are constants.
impl<R: Fields> Extend<u8> for CodeAssembler<R> {
    #[inline(always)]
    fn extend<T: IntoIterator<Item = u8>>(&mut self, iter: T) {
        self.code.extend_from_iter(iter.into_iter());
    }
}

impl<'a, R: Fields> Extend<&'a u8> for CodeAssembler<R> {
    #[inline(always)]
    fn extend<T: IntoIterator<Item = &'a u8>>(&mut self, iter: T) {
        self.code.extend_from_iter(iter.into_iter().copied());
    }
}

impl<R: Fields> DynasmApi for CodeAssembler<R> {
    fn offset(&self) -> AssemblyOffset {
        AssemblyOffset(self.code.len())
    }

    #[inline]
    fn push(&mut self, byte: u8) {
        self.code.push(byte);
    }

    fn align(&mut self, alignment: usize, with: u8) {
        while !self.code.len().is_multiple_of(alignment) {
            self.code.push(with);
        }
    }

    // The fixed-size pushes copy a slice at once rather than byte by byte.
    #[inline]
    fn push_i16(&mut self, value: i16) {
        self.code.extend_from_slice(&value.to_le_bytes());
    }
    #[inline]
    fn push_i32(&mut self, value: i32) {
        self.code.extend_from_slice(&value.to_le_bytes());
    }
    #[inline]
    fn push_i64(&mut self, value: i64) {
        self.code.extend_from_slice(&value.to_le_bytes());
    }
    #[inline]
    fn push_u16(&mut self, value: u16) {
        self.code.extend_from_slice(&value.to_le_bytes());
    }
    #[inline]
    fn push_u32(&mut self, value: u32) {
        self.code.extend_from_slice(&value.to_le_bytes());
    }
    #[inline]
    fn push_u64(&mut self, value: u64) {
        self.code.extend_from_slice(&value.to_le_bytes());
    }
}

impl<R: Fields> DynasmLabelApi for CodeAssembler<R> {
    type Relocation = R;

    fn local_label(&mut self, name: &'static str) {
        let offset = self.offset().0;
        // Forward references waiting for this definition are patched now.
        let mut i = 0;
        while i < self.local_forward.len() {
            if self.local_forward[i].0 == name {
                let (_, loc) = self.local_forward.swap_remove(i);
                if let Err(e) = self.patch_loc(&loc, offset, TargetKind::Local(name)) {
                    self.error.get_or_insert(e);
                }
            } else {
                i += 1;
            }
        }
        match self.locals.iter_mut().find(|(n, _)| *n == name) {
            Some(latest) => latest.1 = offset,
            None => self.locals.push((name, offset)),
        }
    }

    fn global_label(&mut self, name: &'static str) {
        let offset = self.offset();
        if let Err(e) = self.registry.define_global(name, offset) {
            self.error.get_or_insert(e);
        }
    }

    fn dynamic_label(&mut self, id: DynamicLabel) {
        let offset = self.offset().0;
        match (self.bound.get_mut(id.get_id()), u32::try_from(offset)) {
            (Some(slot), Ok(offset)) if *slot == UNBOUND && offset < PINNED => *slot = offset,
            (Some(slot), _) if *slot != UNBOUND => {
                self.error
                    .get_or_insert(DynasmError::DuplicateLabel(LabelKind::Dynamic(id)));
            }
            _ => {
                self.error
                    .get_or_insert(DynasmError::UnknownLabel(LabelKind::Dynamic(id)));
            }
        }
    }

    /// The form `dynasm!` writes: kept in 12 bytes until the label is bound.
    fn dynamic_reloc(
        &mut self,
        id: DynamicLabel,
        target_offset: isize,
        field_offset: u8,
        ref_offset: u8,
        kind: u8,
    ) {
        let shape = self.shape_index(Shape {
            target_offset,
            field_offset,
            ref_offset,
            kind,
        });
        match (u32::try_from(self.code.len()), u32::try_from(id.get_id())) {
            (Ok(location), Ok(label)) => self.pending.push(Pending {
                location,
                label,
                shape,
            }),
            _ => {
                self.error
                    .get_or_insert(DynasmError::ImpossibleRelocation(TargetKind::Dynamic(id)));
            }
        }
    }

    fn dynamic_relocation(
        &mut self,
        id: DynamicLabel,
        target_offset: isize,
        field_offset: u8,
        ref_offset: u8,
        kind: R,
    ) {
        let loc = self.here(target_offset, field_offset, ref_offset, kind);
        self.other_dynamic.push((id, loc));
    }

    fn global_relocation(
        &mut self,
        name: &'static str,
        target_offset: isize,
        field_offset: u8,
        ref_offset: u8,
        kind: R,
    ) {
        let loc = self.here(target_offset, field_offset, ref_offset, kind);
        self.global_refs.push((name, loc));
    }

    fn forward_relocation(
        &mut self,
        name: &'static str,
        target_offset: isize,
        field_offset: u8,
        ref_offset: u8,
        kind: R,
    ) {
        let loc = self.here(target_offset, field_offset, ref_offset, kind);
        self.local_forward.push((name, loc));
    }

    fn backward_relocation(
        &mut self,
        name: &'static str,
        target_offset: isize,
        field_offset: u8,
        ref_offset: u8,
        kind: R,
    ) {
        let loc = self.here(target_offset, field_offset, ref_offset, kind);
        match self.locals.iter().find(|(n, _)| *n == name) {
            Some(&(_, target)) => {
                if let Err(e) = self.patch_loc(&loc, target, TargetKind::Local(name)) {
                    self.error.get_or_insert(e);
                }
            }
            None => {
                self.error
                    .get_or_insert(DynasmError::UnknownLabel(LabelKind::Local(name)));
            }
        }
    }

    fn value_relocation(&mut self, value: usize, field_offset: u8, ref_offset: u8, kind: R) {
        let loc = self.here(0, field_offset, ref_offset, kind);
        if let Err(e) = self.patch_loc(&loc, value, TargetKind::Value(value)) {
            self.error.get_or_insert(e);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dynasmrt::x64::X64Relocation;

    /// The rel32 of the 5-byte `jmp` ending at `end`.
    fn rel32(code: &[u8], end: usize) -> i32 {
        i32::from_le_bytes(code[end - 4..end].try_into().unwrap())
    }

    #[test]
    fn labels_are_resolved_per_function_and_reused() {
        let mut ops = CodeAssembler::<X64Relocation>::with_capacity(0);
        let module_label = ops.new_dynamic_label();

        // Function A: a forward and a backward jump to its own label, one to the module's.
        ops.begin_function();
        let a = ops.new_dynamic_label();
        dynasmrt::dynasm!(ops ; .arch x64 ; jmp =>a ; =>a ; jmp =>a ; jmp =>module_label);
        ops.end_function();
        assert_eq!(
            ops.pending.len(),
            1,
            "only the module label's reference waits"
        );

        // Function B reuses A's label, bound elsewhere, plus a local label.
        ops.begin_function();
        let b = ops.new_dynamic_label();
        assert_eq!(b, a, "a finished function's label is handed out again");
        dynasmrt::dynasm!(ops ; .arch x64 ; jmp >next ; next: ; =>b ; jmp =>b);
        ops.end_function();

        dynasmrt::dynasm!(ops ; .arch x64 ; =>module_label ; ret);
        let code = ops.finalize().expect("every label is bound");
        // A: jmp a (0..5, a at 5), jmp a (5..10), jmp module (10..15).
        assert_eq!(rel32(&code, 5), 0);
        assert_eq!(rel32(&code, 10), -5);
        // B: jmp next (15..20, next at 20), b at 20, jmp b (20..25); module label at 25.
        assert_eq!(rel32(&code, 20), 0);
        assert_eq!(rel32(&code, 25), -5);
        assert_eq!(rel32(&code, 15), 25 - 15);
        assert_eq!(code[25], 0xc3);
    }

    #[test]
    fn an_appended_part_binds_and_refers_through_the_pairs() {
        let mut main = CodeAssembler::<X64Relocation>::with_capacity(0);
        let (stub, entry) = (main.new_dynamic_label(), main.new_dynamic_label());
        dynasmrt::dynasm!(main ; .arch x64 ; jmp =>entry);

        let mut part = CodeAssembler::<X64Relocation>::with_capacity(0);
        let (their_stub, their_entry) = (part.new_dynamic_label(), part.new_dynamic_label());
        dynasmrt::dynasm!(part ; .arch x64 ; =>their_entry ; jmp =>their_stub);
        main.append(part, &[(their_stub, stub), (their_entry, entry)])
            .expect("links");
        assert_eq!(
            main.resolve(entry),
            Some(5),
            "bound where the part's code landed"
        );

        dynasmrt::dynasm!(main ; .arch x64 ; =>stub ; ret);
        let code = main.finalize().expect("every label is bound");
        assert_eq!(rel32(&code, 5), 0, "jmp entry");
        assert_eq!(rel32(&code, 10), 0, "the part's jmp stub");

        // A reference to a label the pairs do not name cannot be linked.
        let mut main = CodeAssembler::<X64Relocation>::with_capacity(0);
        let mut part = CodeAssembler::<X64Relocation>::with_capacity(0);
        let orphan = part.new_dynamic_label();
        dynasmrt::dynasm!(part ; .arch x64 ; jmp =>orphan);
        assert!(main.append(part, &[]).is_err());
    }
}
