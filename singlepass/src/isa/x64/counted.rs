//! Counted loops on x86-64 (`codegen/counted.rs`): the entry's computation of `j_0` and
//! the fused bound, and the routine a counted body's store slow paths call, which
//! settles the iterations' gas around the dirty-range stub and recomputes them after.
//! Both use only the scratch registers (rax, rcx, r11; rdx kept in r11 across the
//! division, as `emit_div` does, or pushed), so the routine preserves what the stub
//! preserves and the entry allocates nothing.

use dynasmrt::{DynasmApi, DynasmLabelApi};

use super::X64Masm;
use crate::masm::{CountedState, Label, Operand};

/// `m`'s clamp, and the no-wrap precondition's limit (`n + s ≤ 2^32`): `j_0 + m·s (+ 1)`
/// then fits 64 bits, and no minimum with `n < 2^32` changes.
const M_MAX: i64 = 1 << 32;

impl X64Masm {
    /// `mov ecx, <op>` for a u32 operand (a register, a frame slot or a constant).
    fn ecx_from(&mut self, op: Operand) {
        match op {
            Operand::Reg(r) => asm!(self.ops; mov ecx, Rd(r.0)),
            Operand::Frame(o) => asm!(self.ops; mov ecx, DWORD [rbp + o]),
            Operand::Imm(n) => asm!(self.ops; mov ecx, n as i32),
        }
    }

    /// See `MacroAssembler::counted_rebase`.
    pub(super) fn emit_counted_rebase(&mut self, state: &CountedState) {
        let v = state.var.0;
        let (start, bound) = (state.start_slot, state.bound_slot);
        // Below 2^31 (`CountedState::cost`).
        let cost = state.cost as i32;
        match state.step {
            // j_0 (the upper half of an i32 register is zero).
            None => asm!(self.ops
                ; mov eax, Rd(v)
                ; mov QWORD [rbp + start], rax
            ),
            Some(step) => {
                // s' = s if s ≠ 0 and n + s ≤ 2^32 (fast mode: no executed update wraps),
                // else 0 (stepping mode), beside j_0.
                self.ecx_from(step);
                asm!(self.ops; mov eax, ecx);
                self.ecx_from(state.bound);
                asm!(self.ops
                    ; add rcx, rax
                    ; mov r11, QWORD M_MAX
                    ; cmp rcx, r11
                    ; mov ecx, 0
                    ; cmova eax, ecx
                    ; shl rax, 32
                    ; mov ecx, Rd(v)
                    ; or rax, rcx
                    ; mov QWORD [rbp + start], rax
                );
            }
        }
        // A bottom-tested loop with a step multiplies m + 1: m ≤ 2^32 − 1 keeps (m + 1)·s'
        // + j_0 below 2^64, and (m + 1)·s' ≥ 2^32 > n − j_0 from there on, so neither
        // clamp changes the bound.
        let stepped_bottom = state.bottom && state.step.is_some();
        let m_max = M_MAX - i64::from(stepped_bottom);
        asm!(self.ops
            // m = min(floor(gas / C), 2^32): the clamp changes no minimum with n < 2^32,
            // and keeps j_0 + m·s (+ 1) from overflowing.
            ; mov r11, rdx
            ; mov rax, r13
            ; xor edx, edx
            ; mov ecx, cost
            ; div rcx
            ; mov rdx, r11
            ; mov rcx, QWORD m_max
            ; cmp rax, rcx
            ; cmova rax, rcx
        );
        if state.down {
            // Counting down: the lower limit max(0, j_0 − m) (a borrow: j_0 < m).
            asm!(self.ops
                ; mov ecx, Rd(v)
                ; sub rcx, rax
                ; mov eax, 0
                ; cmovb rcx, rax
                ; mov QWORD [rbp + bound], rcx
            );
            return;
        }
        // Bottom-tested: the entry charged iteration 0, so m + 1 iterations.
        if state.bottom {
            asm!(self.ops; add rax, 1);
        }
        if state.step.is_some() {
            // m·s' or (m + 1)·s' (< 2^64: m ≤ 2^32, or m + 1 ≤ 2^32; s' < 2^32).
            asm!(self.ops
                ; mov ecx, DWORD [rbp + start + 4]
                ; imul rax, rcx
            );
        }
        // bound = min(n, j_0 + m·s), bottom-tested min(n, j_0 + (m + 1)·s).
        asm!(self.ops
            ; mov ecx, Rd(v)
            ; add rax, rcx
        );
        self.ecx_from(state.bound);
        asm!(self.ops
            ; cmp rax, rcx
            ; cmova rax, rcx
        );
        if state.bottom {
            // j_0 >= n (a do-while's first iteration): the update may wrap, so no fast
            // mode: bound 0 sends the test to the tail's stub, which enters again.
            asm!(self.ops
                ; cmp Rd(v), ecx
                ; mov ecx, 0
                ; cmovae rax, rcx
            );
        }
        if state.step.is_some() {
            // Stepping mode: bound 0 sends every test to the exit stub, which charges
            // each iteration itself.
            asm!(self.ops
                ; mov ecx, DWORD [rbp + start + 4]
                ; test ecx, ecx
                ; mov ecx, 0
                ; cmove rax, rcx
            );
        }
        asm!(self.ops; mov QWORD [rbp + bound], rax);
    }

    /// The body's gas register parked (`codegen/counted.rs`, `OpenCounted::park`): the
    /// gas to its slot, the fused bound into r13.
    fn emit_counted_park(&mut self, state: &CountedState) {
        if !state.parks_gas() {
            return;
        }
        asm!(self.ops
            ; mov QWORD [rbp + state.gas_slot], r13
            ; mov r13d, DWORD [rbp + state.bound_slot]
        );
    }

    /// See `MacroAssembler::emit_counted_widen`: called with rax = the stored bytes'
    /// end and rcx = their start, as the dirty-range stub is, from the body, where the
    /// gas register holds the bound (parked); returns to it the same way.
    pub(super) fn emit_counted_widen_routine(
        &mut self,
        label: Label,
        state: &CountedState,
        widen: Label,
    ) {
        let v = state.var.0;
        let start = state.start_slot;
        let cost = state.cost as i32;
        let owed = state.owed() as i32;
        asm!(self.ops; =>label);
        if state.parks_gas() {
            asm!(self.ops; mov r13, QWORD [rbp + state.gas_slot]);
        }
        match state.step {
            None => {
                // Settle (j - j_0 + owed)·C (counting down (j_0 - j + owed)·C; a 32-bit
                // difference, see `codegen/counted.rs`) in r11, leaving rax and rcx for
                // the stub; it never borrows.
                if state.down {
                    asm!(self.ops
                        ; mov r11d, DWORD [rbp + start]
                        ; sub r11d, Rd(v)
                    );
                } else {
                    asm!(self.ops
                        ; mov r11d, Rd(v)
                        ; sub r11d, DWORD [rbp + start]
                    );
                }
                if owed != 0 {
                    asm!(self.ops; add r11d, owed);
                }
                asm!(self.ops
                    ; imul r11, r11, cost
                    ; sub r13, r11
                );
                self.emit_call_widen(widen);
            }
            Some(_) => {
                // Stepping mode (s' = 0): every iteration is charged, nothing to settle
                // or recompute.
                let fast = self.ops.new_dynamic_label();
                asm!(self.ops
                    ; cmp DWORD [rbp + start + 4], 0
                    ; jne =>fast
                );
                self.emit_call_widen(widen);
                self.emit_counted_park(state);
                asm!(self.ops
                    ; ret
                    ; =>fast
                    // Settle ((j - j_0)/s' + owed)·C, keeping the stub's rax and rcx.
                    ; push rax
                    ; push rcx
                    ; push rdx
                    ; mov eax, Rd(v)
                    ; sub eax, DWORD [rbp + start]
                    ; xor edx, edx
                    ; div DWORD [rbp + start + 4]
                    ; add eax, owed
                    ; imul rax, rax, cost
                    ; sub r13, rax
                    ; pop rdx
                    ; pop rcx
                    ; pop rax
                );
                self.emit_call_widen(widen);
            }
        }
        // The stub saw exact gas: its charge and its traps are the per-iteration code's.
        // The current iteration is owed again, so the same settles hold for the rest of
        // the body and the tests after it.
        if owed != 0 {
            asm!(self.ops; add r13, cost * owed);
        }
        self.emit_counted_rebase(state);
        self.emit_counted_park(state);
        asm!(self.ops; ret);
    }
}
