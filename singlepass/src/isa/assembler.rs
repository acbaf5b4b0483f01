//! [`CodeAssembler`]: what both backends' `dynasm!` invocations assemble into.
//!
//! dynasmrt's own `VecAssembler` keeps the code in a `Vec<u8>`, which the runtime then had
//! to copy into executable memory. This one writes into a [`CodeBuffer`], whose pages the
//! runtime makes executable in place. Labels and relocations use dynasmrt's registries as
//! they are; code is assembled at base address 0 (every reference is relative or goes
//! through the vmctx).

use dynasmrt::components::{LabelRegistry, PatchLoc, RelocRegistry, StaticLabel};
use dynasmrt::relocations::Relocation;
use dynasmrt::{
    AssemblyOffset, DynamicLabel, DynasmApi, DynasmError, DynasmLabelApi, LabelKind, TargetKind,
};

use crate::code_buffer::CodeBuffer;

/// A dynasm assembler over a [`CodeBuffer`].
pub(crate) struct CodeAssembler<R: Relocation> {
    code: CodeBuffer,
    labels: LabelRegistry,
    relocs: RelocRegistry<R>,
    /// The first error met while assembling (a label defined twice, an unknown local
    /// label, an impossible value), reported by `finalize`.
    error: Option<DynasmError>,
}

impl<R: Relocation> CodeAssembler<R> {
    /// An assembler whose buffer starts with room for `code_bytes`.
    pub fn with_capacity(code_bytes: usize) -> Self {
        CodeAssembler {
            code: CodeBuffer::with_capacity(code_bytes),
            labels: LabelRegistry::new(),
            relocs: RelocRegistry::new(),
            error: None,
        }
    }

    pub fn new_dynamic_label(&mut self) -> DynamicLabel {
        self.labels.new_dynamic_label()
    }

    pub fn labels(&self) -> &LabelRegistry {
        &self.labels
    }

    /// Overwrites code already assembled at `offset` (a frame size, a branch
    /// displacement).
    pub fn patch(&mut self, offset: usize, bytes: &[u8]) {
        self.code[offset..offset + bytes.len()].copy_from_slice(bytes);
    }

    /// Resolves every relocation and hands over the code.
    pub fn finalize(mut self) -> Result<CodeBuffer, DynasmError> {
        if let Some(e) = self.error.take() {
            return Err(e);
        }
        for (loc, label) in self.relocs.take_statics() {
            let target = self.labels.resolve_static(&label)?;
            if loc.patch(&mut self.code[loc.range(0)], 0, target.0).is_err() {
                let name = label.get_name();
                return Err(DynasmError::ImpossibleRelocation(if label.is_global() {
                    TargetKind::Global(name)
                } else {
                    TargetKind::Local(name)
                }));
            }
        }
        for (loc, id) in self.relocs.take_dynamics() {
            let target = self.labels.resolve_dynamic(id)?;
            if loc.patch(&mut self.code[loc.range(0)], 0, target.0).is_err() {
                return Err(DynasmError::ImpossibleRelocation(TargetKind::Dynamic(id)));
            }
        }
        Ok(self.code)
    }

    /// Where a relocation recorded now (just after its instruction) lies.
    fn here(&self, target_offset: isize, field_offset: u8, ref_offset: u8, kind: R) -> PatchLoc<R> {
        PatchLoc::new(self.offset(), target_offset, field_offset, ref_offset, kind)
    }
}

impl<R: Relocation> Extend<u8> for CodeAssembler<R> {
    fn extend<T: IntoIterator<Item = u8>>(&mut self, iter: T) {
        for byte in iter {
            self.code.push(byte);
        }
    }
}

impl<'a, R: Relocation> Extend<&'a u8> for CodeAssembler<R> {
    fn extend<T: IntoIterator<Item = &'a u8>>(&mut self, iter: T) {
        for &byte in iter {
            self.code.push(byte);
        }
    }
}

impl<R: Relocation> DynasmApi for CodeAssembler<R> {
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

impl<R: Relocation> DynasmLabelApi for CodeAssembler<R> {
    type Relocation = R;

    fn local_label(&mut self, name: &'static str) {
        let offset = self.offset();
        self.labels.define_local(name, offset);
    }

    fn global_label(&mut self, name: &'static str) {
        let offset = self.offset();
        if let Err(e) = self.labels.define_global(name, offset) {
            self.error.get_or_insert(e);
        }
    }

    fn dynamic_label(&mut self, id: DynamicLabel) {
        let offset = self.offset();
        if let Err(e) = self.labels.define_dynamic(id, offset) {
            self.error.get_or_insert(e);
        }
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
        self.relocs.add_static(StaticLabel::global(name), loc);
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
        self.relocs.add_dynamic(id, loc);
    }

    fn forward_relocation(
        &mut self,
        name: &'static str,
        target_offset: isize,
        field_offset: u8,
        ref_offset: u8,
        kind: R,
    ) {
        // The next definition of `name`: the one after the latest, or its first.
        let label = match self.labels.place_local_reference(name) {
            Some(latest) => latest.next(),
            None => StaticLabel::first(name),
        };
        let loc = self.here(target_offset, field_offset, ref_offset, kind);
        self.relocs.add_static(label, loc);
    }

    fn backward_relocation(
        &mut self,
        name: &'static str,
        target_offset: isize,
        field_offset: u8,
        ref_offset: u8,
        kind: R,
    ) {
        match self.labels.place_local_reference(name) {
            Some(label) => {
                let loc = self.here(target_offset, field_offset, ref_offset, kind);
                self.relocs.add_static(label, loc);
            }
            None => {
                self.error
                    .get_or_insert(DynasmError::UnknownLabel(LabelKind::Local(name)));
            }
        }
    }

    fn value_relocation(&mut self, value: usize, field_offset: u8, ref_offset: u8, kind: R) {
        let loc = self.here(0, field_offset, ref_offset, kind);
        if loc.patch(&mut self.code[loc.range(0)], 0, value).is_err() {
            self.error
                .get_or_insert(DynasmError::ImpossibleRelocation(TargetKind::Value(value)));
        }
    }
}
