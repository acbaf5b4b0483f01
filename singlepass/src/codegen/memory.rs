//! Linear memory, globals and tables: explicit bounds checks against the current size,
//! then a plain access; bulk operations and growth go to the runtime (`Libcall`).

use crate::masm::{
    Address, Base, Cond, FloatSize, LoadKind, MacroAssembler, Operand, Reg, ShiftOp, Size,
    StoreWidth,
};
use crate::vmctx::{FuncRef, Libcall, TableDef, VmCtx};
use crate::TrapKind;

use super::aligned::aligned;
use super::float::float_kind;
use super::func::FuncGen;
use super::load_window::{Scan, Window};
use super::proven::AddrBase;
use super::stack::{Kind, Loc};

/// The register holding a checked address (see `FuncGen::checked_address`).
#[derive(Copy, Clone)]
enum AddressReg {
    /// A register the access owns and must free (or reuse for its result).
    Owned(Reg),
    /// The register of the local the address was read from: read only, never freed.
    Local(Reg),
}

impl AddressReg {
    fn reg(self) -> Reg {
        match self {
            AddressReg::Owned(reg) | AddressReg::Local(reg) => reg,
        }
    }
}

/// What a memory access does, for its check.
#[derive(Copy, Clone)]
enum Access {
    Load,
    Store,
}

impl<M: MacroAssembler> FuncGen<'_, M> {
    /// Emits the check of an access to the bytes `[addr + from, addr + end)`, unless this
    /// path already proved it (`proven`) for `base`, what the value `addr` holds was
    /// computed from, a multiple of `2^shift`.
    ///
    /// A store is checked against the current written range (the dirty-range stub widens
    /// it over exactly the stored bytes and charges the granules it adds, or traps). A
    /// load gets the plain length check, which leaves the range alone.
    ///
    /// Why loads never widen and a skipped store must lie inside the *current* range
    /// (cost table version 5): widening is charged, and the wasmi reference charges it by
    /// running `WrittenRanges::mark` on every store's bytes, so compiled code must widen
    /// exactly where that model does. `mark` of bytes already inside the current range
    /// adds and charges nothing, so only such a store may be skipped; a load widening the
    /// range, or a store skipped because its bytes were written once (the range may since
    /// have been moved aside, and the model then marks them again), would make the gas
    /// depend on code generation.
    ///
    /// Checks off a local may also open a store run or go behind its flag
    /// (`store_run`): the same checks, skipped only where they would have passed.
    // Inline into `checked_address`, its one caller (two call sites): out of line, its
    // seven arguments and its prologue cost ≈ 17 instructions an access.
    #[inline(always)]
    fn check_memory(
        &mut self,
        addr: Reg,
        base: Option<AddrBase>,
        shift: u8,
        from: u64,
        end: u64,
        access: Access,
    ) {
        match (access, base) {
            (Access::Load, Some(base)) if self.proven.covers_load(base, end) => {}
            (Access::Store, Some(base)) if self.proven.covers_store(base, from, end) => {}
            (Access::Load, _) => {
                // Off a local: check the largest end of the loads off it up to the next
                // operator that could make an earlier trap observable (`load_window`).
                let (window, scan) = base.map(|base| self.load_window(base)).unwrap_or_default();
                let end = end.max(window.end);
                let oob = self.trap_label(TrapKind::MemoryOutOfBounds);
                let shared = base
                    .zip(window.store)
                    .zip(scan)
                    .filter(|&((base, (from, to)), _)| !self.proven.covers_store(base, from, to));
                match shared {
                    // The store ending the window is checked here too (see `load_window`);
                    // a store run it opens goes on with the window's scan.
                    Some(((base, (from, to)), scan)) => {
                        let loads = Some((end, oob, scan));
                        self.store_check(addr, Some(base), shift, from, to, loads);
                        self.proven.loaded(base, end);
                    }
                    None => {
                        self.load_check(addr, base, end, oob, aligned(shift, end));
                        if let Some(base) = base {
                            self.proven.loaded(base, end);
                        }
                    }
                }
            }
            (Access::Store, _) => self.store_check(addr, base, shift, from, end, None),
        }
    }

    /// Which entries of the operand stack, from the top down (bit `i` for the entry `i`
    /// places under the top), are lazy reads of `base`'s local: what the byte scans of
    /// `load_window` start from.
    pub(super) fn base_entries(&self, base: AddrBase) -> u64 {
        self.stack
            .iter()
            .rev()
            .take(63)
            .enumerate()
            .filter(|(_, e)| matches!(e.loc, Loc::Local(l) if l == base.local))
            .fold(0u64, |bits, (i, _)| bits | 1 << i)
    }

    /// The window of the load being compiled off `base` (see `load_window`): the
    /// largest end of its loads (0 when the bytes there are no load) and the store that
    /// may share its check, with the scan stopped past that store.
    fn load_window(&self, base: AddrBase) -> (Window, Option<Scan>) {
        // Which entries under the (popped) address are reads of the base's local: a
        // store's address usually is one, pushed before its value's loads.
        let below = self.base_entries(base);
        let at = self.offset.checked_sub(self.code_start);
        at.and_then(|at| usize::try_from(at).ok())
            .map_or_else(Default::default, |at| {
                super::load_window::window_scan(self.code, at, base, below)
            })
    }

    /// Pops an address operand, checks `offset + bytes` past it for `access` and returns
    /// the register holding it and the address of the access. The register is the
    /// caller's to free ([`AddressReg::Owned`]), or a local's own register when the
    /// address is a lazy read of a local living in one ([`AddressReg::Local`]): the
    /// access indexes off it directly instead of copying it first (the upper half of
    /// an i32 register is zero on x86-64; AArch64 zero-extends the index anyway).
    ///
    /// A constant address is folded with the offset into one register (when the sum is
    /// a u32), so the check covers exactly the accessed bytes: compilers address statics
    /// as `i32.const 0` plus a large offset, and checking from address 0 would stretch
    /// the written range over everything below them.
    fn checked_address(
        &mut self,
        offset: u64,
        bytes: u32,
        access: Access,
    ) -> (AddressReg, Address) {
        // What the address is a multiple of, as a shift (0: nothing known), when an
        // `i32.shl` by a constant made it: read before the pop, which drops the record.
        let shift = self.aligned.shift_at(self.stack.len() - 1);
        let borrowed = self.borrowed.take() == Some(self.stack.len() - 1);
        // A cached shift the address may be (see `addr_cache`) stays cached: an access
        // only reads its address.
        let addr = self.pop_address();
        if let Loc::Const(c) = addr.loc {
            let folded = u64::from(c as u32) + offset;
            if let Ok(folded) = u32::try_from(folded) {
                let reg = self.alloc();
                self.masm
                    .mov(Size::S32, reg, Operand::Imm(i64::from(folded)));
                self.check_memory(reg, None, 0, 0, u64::from(bytes), access);
                let address = Address {
                    base: Base::Memory,
                    index: Some((reg, 0)),
                    disp: 0,
                };
                return (AddressReg::Owned(reg), address);
            }
        }
        // A lazy local read: the address is that local's current value; or the result of
        // the `i32.shl` of one by a constant right before this access (a store's address
        // lies below its value: the depth tells which entry the shift made).
        let depth = self.stack.len();
        let base = match addr.loc {
            Loc::Local(local) => Some(AddrBase::local(local)),
            Loc::Reg(_) => self
                .shifted
                .filter(|s| s.at + 1 == self.offset && s.depth == depth)
                .map(|s| s.base),
            _ => None,
        };
        let reg = match (addr.loc, self.operand(addr)) {
            (Loc::Local(_), Operand::Reg(local)) => AddressReg::Local(local),
            // The cache's register, owned by another entry: read only, never freed.
            (Loc::Reg(reg), _) if borrowed => AddressReg::Local(reg),
            _ => AddressReg::Owned(self.owned_reg(addr)),
        };
        let index = reg.reg();
        self.check_memory(
            index,
            base,
            shift,
            offset,
            offset + u64::from(bytes),
            access,
        );
        let address = Address {
            base: Base::Memory,
            index: Some((index, 0)),
            disp: offset as i64,
        };
        (reg, address)
    }

    /// Frees the register [`Self::checked_address`] gave, if it is the caller's.
    fn release_address(&mut self, reg: AddressReg) {
        if let AddressReg::Owned(reg) = reg {
            self.free_reg(reg);
        }
    }

    /// An integer load (`f32.load`/`f64.load` are [`Self::load_float`]).
    pub fn load(&mut self, kind: LoadKind, offset: u64) {
        let result = match kind {
            LoadKind::I32
            | LoadKind::I32From8S
            | LoadKind::I32From8U
            | LoadKind::I32From16S
            | LoadKind::I32From16U => Kind::I32,
            _ => Kind::I64,
        };
        let (reg, address) = self.checked_address(offset, kind.bytes(), Access::Load);
        // The loaded value replaces an owned address, unless it is the cached shift's
        // and another register is free (see `addr_cache`); a local's register stays the
        // local's.
        let dst = match reg {
            AddressReg::Owned(reg) if self.addr_cache.reg() != Some(reg) || self.free == 0 => reg,
            AddressReg::Owned(_) | AddressReg::Local(_) => self.alloc(),
        };
        self.addr_cache.reg_written(dst);
        self.masm.load(kind, dst, address);
        if let AddressReg::Owned(reg) = reg {
            if reg != dst {
                self.free_reg(reg);
            }
        }
        self.push_reg(result, dst);
    }

    /// `f32.load`/`f64.load`: straight into a float register, for the float operators
    /// that usually follow; its bits leave that register unchanged (see `float_exact`).
    pub fn load_float(&mut self, size: FloatSize, offset: u64) {
        let bytes = match size {
            FloatSize::F32 => 4,
            FloatSize::F64 => 8,
        };
        let (reg, address) = self.checked_address(offset, bytes, Access::Load);
        let dst = self.alloc_float();
        self.masm.fp_load(size, dst, address);
        self.release_address(reg);
        self.push_float_loaded(float_kind(size), dst);
    }

    pub fn store(&mut self, width: StoreWidth, offset: u64) {
        if let Some((value, source)) = self.pop_float_register() {
            // Straight from the float register (an operator's result canonicalized there).
            let (reg, address) = self.checked_address(offset, width.bytes(), Access::Store);
            let size = value.kind.float_size();
            self.masm
                .fp_store(size, address, source.freg, source.canonicalize);
            self.release_address(reg);
            if source.owned {
                self.free_float(source.freg);
            }
            return;
        }
        let value = self.pop();
        let (reg, address) = self.checked_address(offset, width.bytes(), Access::Store);
        let src = self.operand(value);
        self.masm.store(width, address, src);
        self.release_address(reg);
        self.release(value);
    }

    pub fn memory_size(&mut self) {
        let reg = self.alloc();
        self.masm.load(
            LoadKind::I64,
            reg,
            Address::at(Base::Vmctx, VmCtx::MEMORY_LEN.into()),
        );
        self.masm
            .shift(ShiftOp::ShrU, Size::S64, reg, reg, Operand::Imm(16));
        self.push_reg(Kind::I32, reg);
    }

    pub fn memory_grow(&mut self) {
        let reg = self.libcall_value(Libcall::MemoryGrow, &[], 1);
        self.push_reg(Kind::I32, reg);
    }

    pub fn memory_fill(&mut self) {
        self.writing_libcall(Libcall::MemoryFill, &[], 3);
    }

    pub fn memory_copy(&mut self) {
        self.writing_libcall(Libcall::MemoryCopy, &[], 3);
    }

    pub fn memory_init(&mut self, segment: u32) {
        self.writing_libcall(Libcall::MemoryInit, &[segment.into()], 3);
    }

    /// A bulk memory libcall, which charges the granules it adds to the written ranges
    /// (`Runtime::mark_charged`) from the vmctx's gas: the gas register is flushed before
    /// it and reloaded after, before its trap check (so an `out_of_gas` trap keeps the 0
    /// the libcall left).
    fn writing_libcall(&mut self, libcall: Libcall, prefix: &[i64], nargs: usize) {
        self.masm.flush_gas();
        let result = self.libcall(libcall, prefix, nargs);
        self.masm.reload_gas();
        self.masm.trap_if_nonzero(result, self.labels.dynamic_trap);
    }

    pub fn data_drop(&mut self, segment: u32) {
        self.libcall_checked(Libcall::DataDrop, &[segment.into()], 0);
    }

    // ---- globals ----

    pub fn global_get(&mut self, global: u32) -> Result<(), crate::CompileError> {
        let ty = self.env.layout.globals[global as usize].ty.ty;
        let kind = self.kinds(&[ty])?[0];
        let reg = self.alloc();
        let load = if kind.size() == Size::S32 {
            LoadKind::I32
        } else {
            LoadKind::I64
        };
        self.masm.load(
            load,
            reg,
            Address::at(Base::Vmctx, VmCtx::global_offset(global).into()),
        );
        self.push_reg(kind, reg);
        Ok(())
    }

    pub fn global_set(&mut self, global: u32) {
        let value = self.pop();
        let src = self.operand(value);
        self.masm.store(
            StoreWidth::B64,
            Address::at(Base::Vmctx, VmCtx::global_offset(global).into()),
            src,
        );
        self.release(value);
    }

    // ---- references and tables ----

    /// `ref.func`: the address of the function's `FuncRef` in this instance.
    pub fn ref_func(&mut self, function: u32) {
        let reg = self.alloc();
        self.masm.load(
            LoadKind::I64,
            reg,
            Address::at(Base::Vmctx, VmCtx::FUNCREFS.into()),
        );
        self.masm.lea(
            reg,
            Address::at(
                Base::Reg(reg),
                i64::from(function) * i64::from(FuncRef::SIZE),
            ),
        );
        self.push_reg(Kind::Ref, reg);
    }

    /// Loads the address of table `table`'s `TableDef` into a fresh register.
    pub fn table_def(&mut self, table: u32) -> crate::masm::Reg {
        let reg = self.alloc();
        self.masm.load(
            LoadKind::I64,
            reg,
            Address::at(Base::Vmctx, VmCtx::TABLES.into()),
        );
        if table != 0 {
            self.masm.lea(
                reg,
                Address::at(Base::Reg(reg), i64::from(table) * i64::from(TableDef::SIZE)),
            );
        }
        reg
    }

    /// With `def` holding a `TableDef` address and `index` an element index: traps unless
    /// `index < len`, then leaves the address of the element in `def`.
    pub fn table_element(&mut self, def: crate::masm::Reg, index: crate::masm::Reg) {
        let len = self.alloc();
        self.masm.load(
            LoadKind::I32,
            len,
            Address::at(Base::Reg(def), TableDef::LEN.into()),
        );
        self.masm.cmp(Size::S32, index, Operand::Reg(len));
        self.free_reg(len);
        self.trap_if(Cond::GeU, TrapKind::TableOutOfBounds);
        self.masm.load(
            LoadKind::I64,
            def,
            Address::at(Base::Reg(def), TableDef::BASE.into()),
        );
        self.masm.lea(
            def,
            Address {
                base: Base::Reg(def),
                index: Some((index, 3)),
                disp: 0,
            },
        );
    }

    pub fn table_get(&mut self, table: u32) {
        let index = self.pop();
        let index = self.owned_reg(index);
        let def = self.table_def(table);
        self.table_element(def, index);
        self.masm
            .load(LoadKind::I64, index, Address::at(Base::Reg(def), 0));
        self.free_reg(def);
        self.push_reg(Kind::Ref, index);
    }

    pub fn table_set(&mut self, table: u32) {
        // The value waits in its slot: the element's address takes three registers, as
        // many as a function that lends registers to locals may have (`regalloc`).
        let top = self.stack.len() - 1;
        self.spill_entry(top);
        let value = self.pop();
        let index = self.pop();
        let index = self.owned_reg(index);
        let def = self.table_def(table);
        self.table_element(def, index);
        let src = self.operand(value);
        self.masm
            .store(StoreWidth::B64, Address::at(Base::Reg(def), 0), src);
        self.free_reg(def);
        self.free_reg(index);
        self.release(value);
    }

    pub fn table_size(&mut self, table: u32) {
        let def = self.table_def(table);
        self.masm.load(
            LoadKind::I32,
            def,
            Address::at(Base::Reg(def), TableDef::LEN.into()),
        );
        self.push_reg(Kind::I32, def);
    }

    pub fn table_grow(&mut self, table: u32) {
        let reg = self.libcall_value(Libcall::TableGrow, &[table.into()], 2);
        self.push_reg(Kind::I32, reg);
    }

    pub fn table_fill(&mut self, table: u32) {
        self.libcall_checked(Libcall::TableFill, &[table.into()], 3);
    }

    pub fn table_copy(&mut self, dst_table: u32, src_table: u32) {
        self.libcall_checked(Libcall::TableCopy, &[dst_table.into(), src_table.into()], 3);
    }

    pub fn table_init(&mut self, table: u32, segment: u32) {
        self.libcall_checked(Libcall::TableInit, &[table.into(), segment.into()], 3);
    }

    pub fn elem_drop(&mut self, segment: u32) {
        self.libcall_checked(Libcall::ElemDrop, &[segment.into()], 0);
    }
}
