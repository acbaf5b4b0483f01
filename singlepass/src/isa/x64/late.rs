//! Branches and calls to one module-level stub, patched when the module is finished.
//!
//! dynasm keeps 16 bytes of relocation (plus its label slot) per reference until the end
//! of the module, more memory than the code itself for the commonest references: the
//! per-block `jb out_of_gas` and the store checks' `call widen`. Their targets are stubs
//! emitted after all functions, so each site is kept here as the 4-byte offset of its
//! rel32 field and written by [`LateTarget::patch`] once the stub's address is known.
//! The bytes are the same as dynasm's rel32 forms.

use dynasmrt::x64::X64Relocation;
use dynasmrt::DynamicLabel;

use crate::isa::CodeAssembler;

/// The sites of one label's references.
#[derive(Default)]
pub(super) struct LateTarget {
    /// The label every recorded site refers to (the first one offered).
    label: Option<DynamicLabel>,
    /// Offsets of the rel32 fields to patch.
    fields: Vec<u32>,
}

impl LateTarget {
    /// Whether a reference to `label` can be recorded here: the first label offered
    /// owns this list, any other one takes dynasm's path.
    pub fn accepts(&mut self, label: DynamicLabel) -> bool {
        *self.label.get_or_insert(label) == label
    }

    /// Records a rel32 field ending at `end` (the end of the instruction just written).
    pub fn record(&mut self, end: usize) {
        // Code size is bounded by the module-size limits, far below 4 GiB.
        self.fields.push((end - 4) as u32);
    }

    /// Takes over `part`'s sites, whose code now starts at `base`; `ours` is the label of
    /// this assembler that `part`'s label stands for.
    pub fn append(
        &mut self,
        part: &LateTarget,
        base: u32,
        ours: impl Fn(DynamicLabel) -> Option<DynamicLabel>,
    ) -> Result<(), String> {
        let Some(theirs) = part.label else {
            return Ok(());
        };
        match ours(theirs) {
            Some(label) if self.accepts(label) => {
                for &field in &part.fields {
                    let field = base
                        .checked_add(field)
                        .ok_or("x86-64 code could not be linked: code larger than 4 GiB")?;
                    self.fields.push(field);
                }
                Ok(())
            }
            _ => Err("x86-64 code could not be linked: a part's stub label is unknown".into()),
        }
    }

    /// The target's offset, read before the assembler is finalized.
    pub fn resolve(&self, ops: &CodeAssembler<X64Relocation>) -> Result<Option<usize>, String> {
        match self.label {
            Some(label) => ops.resolve(label).map(Some).ok_or_else(|| {
                format!(
                    "x86-64 code could not be finished: label {} is never bound",
                    label.get_id()
                )
            }),
            None => Ok(None),
        }
    }

    /// Writes every recorded field of the finished `code` to reach `target`.
    pub fn patch(&self, target: Option<usize>, code: &mut [u8]) -> Result<(), String> {
        let Some(target) = target else {
            return Ok(());
        };
        for &field in &self.fields {
            let field = field as usize;
            // rel32 counts from the end of the field, which ends the instruction.
            let rel = i32::try_from(target as i64 - (field as i64 + 4))
                .map_err(|_| "x86-64 code could not be finished: a branch is out of reach")?;
            code[field..field + 4].copy_from_slice(&rel.to_le_bytes());
        }
        Ok(())
    }
}
