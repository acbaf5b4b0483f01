//! The per-function float constant pool (issue 16): a float constant becomes one
//! rip-relative `movss`/`movsd` from 8-byte slots placed after the function's code,
//! instead of `mov r11, imm64; movq xmm, r11` (two instructions and an integer register
//! on the value's path) at every use.
//!
//! The pool is emitted with the function's slow paths (`emit_slow_paths`, after the
//! function's last instruction, so nothing falls into it), aligned to 8 bytes with
//! `int3`. Every reference is a displacement inside one function, and functions start
//! 32-byte aligned on one thread and in the parallel compile alike, so the bytes do not
//! depend on where the function lands. References are raw rel32 fields patched when the
//! pool is emitted (no dynasm labels, as the store checks' slow paths).
//!
//! Equal bit patterns share a slot while the pool is small (a bounded search keeps
//! compilation linear); the pool holds bit patterns, so `-0.0`, `0.0` and every NaN
//! payload stay distinct.

use dynasmrt::DynasmApi;

use super::X64Masm;
use crate::masm::{FReg, FloatSize};

/// How many slots the search for an equal bit pattern looks at (bounded: linear compile
/// time); later constants get a slot each.
const SHARED_SLOTS: usize = 16;

/// The constants of the function being compiled and the loads referring to them.
#[derive(Default)]
pub(super) struct ConstantPool {
    /// Bit patterns, one 8-byte slot each (an f32's in the low half).
    slots: Vec<u64>,
    /// (rel32 field of a load, its slot).
    uses: Vec<(u32, u32)>,
}

impl ConstantPool {
    /// Whether no load waits for its pool.
    pub fn is_empty(&self) -> bool {
        self.uses.is_empty()
    }

    /// The slot holding `bits`, new or shared.
    fn slot(&mut self, bits: u64) -> u32 {
        let shared = self.slots[..self.slots.len().min(SHARED_SLOTS)]
            .iter()
            .position(|&b| b == bits);
        let index = shared.unwrap_or_else(|| {
            self.slots.push(bits);
            self.slots.len() - 1
        });
        // A function's constants are bounded by its size, far below 2^32.
        index as u32
    }
}

impl X64Masm {
    /// xmm`d` = the float with bit pattern `bits` (an f32's in its low 32 bits), loaded
    /// from the pool: `movss`/`movsd xmm, [rip + disp32]`. Touches no flags and no
    /// integer register.
    pub(super) fn load_constant(&mut self, size: FloatSize, d: FReg, bits: u64) {
        let bits = match size {
            FloatSize::F32 => bits & 0xffff_ffff,
            FloatSize::F64 => bits,
        };
        let prefix = match size {
            FloatSize::F32 => 0xf3,
            FloatSize::F64 => 0xf2,
        };
        let r = d.0;
        self.ops.push(prefix);
        if r >= 8 {
            self.ops.push(0x44);
        }
        // 0f 10 /r with mod = 00, r/m = 101: rip + disp32.
        self.ops
            .extend([0x0f, 0x10, 0x05 | ((r & 7) << 3), 0, 0, 0, 0]);
        let field = self.ops.offset().0 as u32 - 4;
        let slot = self.constants.slot(bits);
        self.constants.uses.push((field, slot));
    }

    /// Emits the function's pool after its code and patches the loads referring to it;
    /// nothing when the function has no float constant.
    pub(super) fn emit_constant_pool(&mut self) {
        if self.constants.uses.is_empty() {
            self.constants.slots.clear();
            return;
        }
        self.emit_int3_to(8);
        let start = self.ops.offset().0 as u32;
        for &bits in &self.constants.slots {
            self.ops.extend(bits.to_le_bytes());
        }
        self.constants.slots.clear();
        // The buffers are kept for the next function.
        for i in 0..self.constants.uses.len() {
            let (field, slot) = self.constants.uses[i];
            self.patch_rel32(field, start + 8 * slot);
        }
        self.constants.uses.clear();
    }
}
