//! Executable memory for compiled code, mapped W^X: written while read-write, then
//! switched to read+execute before anything can run it. Never writable and executable at
//! the same time, so a memory-safety bug elsewhere cannot be turned into code injection.
//!
//! Steps ([`CodeMemory::new`]): `mmap` read-write (anonymous, private) → copy the code →
//! `mprotect` read+execute → flush the instruction cache for the code's range. A fresh
//! compile skips the first two ([`CodeMemory::from_buffer`]): the compiler assembled the
//! code in a mapping of its own (`gasket_singlepass::CodeBuffer`), whose pages are
//! switched to read+execute where they are.
//!
//! # AArch64
//! AArch64 instruction caches are not coherent with data writes: code written through the
//! data side must be cleaned to the point of unification (`dc cvau` per data-cache line),
//! then the instruction cache invalidated (`ic ivau` per instruction-cache line), with
//! `dsb ish` after each loop and an `isb` on the writing thread (the line sizes come from
//! `CTR_EL0`; Linux lets user space run all of these). `dc`/`ic` by address and `dsb ish`
//! are broadcast to every core in the inner-shareable domain, so other threads see the
//! new code too; they have never executed this fresh mapping, and handing them the
//! module (through a lock, channel or thread spawn) already synchronises them. On x86-64
//! the flush is a no-op (coherent caches). This path cannot be tested on the x86-64 CI
//! machine (no aarch64 hardware); it is deliberately the textbook sequence.
//!
//! # macOS on Apple Silicon (not implemented, not tested)
//! Under the hardened runtime, an anonymous mapping can only become executable if it was
//! created with `MAP_JIT` (and the binary has the `com.apple.security.cs.allow-jit`
//! entitlement). Such a mapping is RWX at the kernel level with per-thread write
//! protection instead of `mprotect`: the writing thread calls
//! `pthread_jit_write_protect_np(0)` before copying and `pthread_jit_write_protect_np(1)`
//! after, then `sys_icache_invalidate(ptr, len)` (which this module uses on Apple targets
//! in place of the `dc`/`ic` loops). Without the hardened runtime the Linux sequence
//! (RW → RX by `mprotect`) works as is; with it, the `mprotect` fails and compilation
//! returns that error rather than crashing.

use std::io;

/// Machine code mapped read+execute. Immutable once created, so it can be shared by every
/// instance of a module (and across threads).
#[derive(Debug)]
pub struct CodeMemory {
    ptr: *mut u8,
    /// Length of the mapping (whole pages).
    mapped: usize,
    /// Length of the code.
    len: usize,
}

// SAFETY: the mapping is immutable (read+execute) after `new` returns and owned by this
// value; sharing or sending a pointer to read-only memory across threads is sound.
unsafe impl Send for CodeMemory {}
// SAFETY: see `Send`; no method mutates the mapping.
unsafe impl Sync for CodeMemory {}

/// The system page size, asked once (`sysconf` showed up in the profile of instantiation,
/// which asks for it several times); the compiler's code buffer needs it too.
pub(crate) use gasket_singlepass::page_size;

/// Rounds `n` up to a multiple of `page` (a power of two), or `None` on overflow.
pub(crate) fn round_up(n: usize, page: usize) -> Option<usize> {
    n.checked_add(page - 1).map(|v| v & !(page - 1))
}

impl CodeMemory {
    /// Maps `code` read-write, copies it in, then makes it read+execute.
    pub fn new(code: &[u8]) -> io::Result<CodeMemory> {
        let page = page_size();
        let mapped = round_up(code.len().max(1), page)
            .ok_or_else(|| io::Error::new(io::ErrorKind::OutOfMemory, "code too large"))?;
        // SAFETY: an anonymous private mapping at an address of the kernel's choosing
        // cannot alias any existing Rust object. MAP_POPULATE: every page is written
        // next, so allocating them in one go beats one page fault each (a large module's
        // load from the disk cache).
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                mapped,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_POPULATE,
                -1,
                0,
            )
        };
        if ptr == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        let ptr = ptr.cast::<u8>();
        // SAFETY: `ptr` is a fresh writable mapping of `mapped >= code.len()` bytes that
        // does not overlap `code`.
        unsafe { std::ptr::copy_nonoverlapping(code.as_ptr(), ptr, code.len()) };
        // SAFETY: the mapping created above, owned by nothing else, holding the code.
        unsafe { CodeMemory::seal(ptr, mapped, code.len()) }
    }

    /// Makes the pages `code` was assembled in read+execute, in place: no second mapping
    /// and no copy, so compiling never holds the code twice (the compile path;
    /// [`CodeMemory::new`] copies for code that lives elsewhere).
    pub fn from_buffer(code: gasket_singlepass::CodeBuffer) -> io::Result<CodeMemory> {
        let (ptr, len, mapped) = code.into_raw_parts();
        let ptr = ptr.as_ptr();
        // Whole pages past the code were address space reserved for growth: given back.
        let used = round_up(len.max(1), page_size())
            .unwrap_or(mapped)
            .min(mapped);
        if used < mapped {
            // SAFETY: the tail of the mapping `into_raw_parts` handed over, page-aligned
            // (`used` is whole pages) and holding no code.
            unsafe { libc::munmap(ptr.add(used).cast(), mapped - used) };
        }
        // SAFETY: `ptr..ptr + used` is the rest of that mapping, now owned here alone,
        // with the code in its first `len` bytes.
        unsafe { CodeMemory::seal(ptr, used, len) }
    }

    /// Switches `ptr..ptr + mapped` to read+execute and flushes the instruction cache for
    /// its first `len` bytes; unmaps it on failure.
    ///
    /// # Safety
    /// `ptr..ptr + mapped` must be a page-aligned mapping owned by the caller alone, which
    /// hands it over (the returned value unmaps it on drop), with `len <= mapped`.
    unsafe fn seal(ptr: *mut u8, mapped: usize, len: usize) -> io::Result<CodeMemory> {
        // SAFETY: `ptr..ptr + mapped` is a mapping we own (the caller's contract).
        let rc = unsafe { libc::mprotect(ptr.cast(), mapped, libc::PROT_READ | libc::PROT_EXEC) };
        if rc != 0 {
            let err = io::Error::last_os_error();
            // SAFETY: unmapping that mapping, which nothing else refers to.
            unsafe { libc::munmap(ptr.cast(), mapped) };
            return Err(err);
        }
        flush_icache(ptr, len);
        Ok(CodeMemory { ptr, mapped, len })
    }

    /// Maps `len` bytes of code that lie at `offset` in `file` read+execute, without
    /// copying them: the mapping shares the page cache's pages, so nothing is allocated,
    /// zeroed or copied (a large module's load from the disk cache). Not populated: the
    /// pages are in the page cache (the file was just checksummed), and the first call
    /// into each region maps it with the kernel's fault-around, so code never run costs
    /// nothing. `offset` must be a multiple of the page size and `len` non-zero. Fails
    /// (and the caller copies with [`CodeMemory::new`]) where files may not be mapped
    /// executable, e.g. a `noexec` mount.
    ///
    /// The mapping is private and never writable; it would still show a later in-place
    /// change of the file, which is why the cache only ever replaces files by rename and
    /// its directory must be as trusted as the node's binary (see `cache`).
    pub fn map_file(file: &std::fs::File, offset: u64, len: usize) -> io::Result<CodeMemory> {
        use std::os::fd::AsRawFd;
        let page = page_size();
        if !offset.is_multiple_of(page as u64) || len == 0 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "no code, or code not page-aligned in the file",
            ));
        }
        let mapped = round_up(len, page)
            .ok_or_else(|| io::Error::new(io::ErrorKind::OutOfMemory, "code too large"))?;
        let offset = libc::off_t::try_from(offset)
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "offset too large"))?;
        // SAFETY: a fresh private read+execute mapping of a file we hold open, at an
        // address of the kernel's choosing: it aliases no Rust object and is unmapped in
        // `drop`. Pages past the end of the file would fault, but the caller has checked
        // that `offset + len` bytes exist (they were just checksummed).
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                mapped,
                libc::PROT_READ | libc::PROT_EXEC,
                libc::MAP_PRIVATE,
                file.as_raw_fd(),
                offset,
            )
        };
        if ptr == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        let ptr = ptr.cast::<u8>();
        flush_icache(ptr, len);
        Ok(CodeMemory { ptr, mapped, len })
    }

    /// Start of the code.
    pub fn as_ptr(&self) -> *const u8 {
        self.ptr
    }

    /// The code bytes (the mapping is readable as well as executable).
    pub fn bytes(&self) -> &[u8] {
        // SAFETY: `len <= mapped` bytes at `ptr` are mapped read+execute and immutable for
        // the lifetime of `self`; `ptr` is page-aligned and non-null even for empty code.
        unsafe { std::slice::from_raw_parts(self.ptr, self.len) }
    }

    /// Length of the code in bytes.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether there is no code.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Address of `offset` in the code, if it is inside it.
    pub fn at(&self, offset: u32) -> Option<*const u8> {
        let offset = offset as usize;
        // `wrapping_add` keeps this safe code; the bound makes it stay in the mapping.
        (offset < self.len).then(|| self.ptr.wrapping_add(offset).cast_const())
    }
}

/// Makes the `len` bytes of code just written at `start` visible to instruction fetch (see
/// the module docs). A no-op on x86-64, whose instruction caches are coherent.
#[cfg(not(target_arch = "aarch64"))]
fn flush_icache(_start: *const u8, _len: usize) {}

/// Makes the `len` bytes of code just written at `start` visible to instruction fetch:
/// clean every data-cache line of the range to the point of unification, invalidate every
/// instruction-cache line, then synchronise this thread's pipeline (see the module docs).
#[cfg(all(target_arch = "aarch64", not(target_vendor = "apple")))]
fn flush_icache(start: *const u8, len: usize) {
    use core::arch::asm;
    if len == 0 {
        return;
    }
    let ctr_el0: u64;
    // SAFETY: reading CTR_EL0 (cache type register) has no side effects; Linux allows it
    // at EL0 (SCTLR_EL1.UCT, or traps and emulates it).
    unsafe { asm!("mrs {}, ctr_el0", out(reg) ctr_el0, options(nomem, nostack, preserves_flags)) };
    // DminLine (bits 19:16) and IminLine (bits 3:0): log2 of the smallest line, in words.
    let dline = 4usize << ((ctr_el0 >> 16) & 0xf);
    let iline = 4usize << (ctr_el0 & 0xf);
    let (start, end) = (start as usize, start as usize + len);
    let mut addr = start & !(dline - 1);
    while addr < end {
        // SAFETY: cache maintenance by address on our own readable mapping; it changes no
        // memory contents.
        unsafe { asm!("dc cvau, {}", in(reg) addr, options(nostack, preserves_flags)) };
        addr += dline;
    }
    // SAFETY: a barrier: waits for the cleaning above to complete.
    unsafe { asm!("dsb ish", options(nostack, preserves_flags)) };
    let mut addr = start & !(iline - 1);
    while addr < end {
        // SAFETY: as for `dc cvau`: invalidation only, on our own mapping.
        unsafe { asm!("ic ivau, {}", in(reg) addr, options(nostack, preserves_flags)) };
        addr += iline;
    }
    // SAFETY: barriers: wait for the invalidation, then discard prefetched instructions.
    unsafe { asm!("dsb ish", "isb", options(nostack, preserves_flags)) };
}

/// Makes the `len` bytes of code just written at `start` visible to instruction fetch,
/// with the system's own routine (see the module docs on macOS).
#[cfg(all(target_arch = "aarch64", target_vendor = "apple"))]
fn flush_icache(start: *const u8, len: usize) {
    extern "C" {
        // libSystem (always linked): cleans and invalidates the caches for the range.
        fn sys_icache_invalidate(start: *mut libc::c_void, len: usize);
    }
    // SAFETY: `start..start + len` is our own mapping; the call only maintains caches.
    unsafe { sys_icache_invalidate(start as *mut libc::c_void, len) };
}

impl Drop for CodeMemory {
    fn drop(&mut self) {
        // SAFETY: `ptr..ptr + mapped` is the mapping this value owns; no instance can use
        // it any more (instances hold the module, which holds this value).
        unsafe { libc::munmap(self.ptr.cast(), self.mapped) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The permission string (`r-xp`, …) of the mapping containing `addr`, from
    /// /proc/self/maps.
    fn permissions_of(addr: usize) -> String {
        let maps = std::fs::read_to_string("/proc/self/maps").unwrap();
        for line in maps.lines() {
            let mut parts = line.split_whitespace();
            let range = parts.next().unwrap();
            let perms = parts.next().unwrap();
            let (lo, hi) = range.split_once('-').unwrap();
            let lo = usize::from_str_radix(lo, 16).unwrap();
            let hi = usize::from_str_radix(hi, 16).unwrap();
            if (lo..hi).contains(&addr) {
                return perms.to_string();
            }
        }
        panic!("address {addr:#x} is not mapped");
    }

    #[test]
    fn maps_runs_and_is_not_writable() {
        // mov eax, 42; ret
        let bytes = [0xb8, 0x2a, 0x00, 0x00, 0x00, 0xc3];
        let code = CodeMemory::new(&bytes).unwrap();
        assert_eq!(code.len(), 6);
        assert_eq!(code.bytes(), bytes);
        #[cfg(target_arch = "x86_64")]
        {
            // SAFETY: the mapping holds a complete `extern "C" fn() -> u32` (x86-64).
            let f: extern "C" fn() -> u32 = unsafe { std::mem::transmute(code.as_ptr()) };
            assert_eq!(f(), 42);
        }
        let perms = permissions_of(code.as_ptr() as usize);
        assert!(perms.starts_with("r-x"), "{perms}");
        assert!(code.at(5).is_some() && code.at(6).is_none());
    }

    #[test]
    fn maps_code_from_a_file_only_at_a_page_offset() {
        let page = page_size();
        // mov eax, 7; ret at offset `page`, behind a page of filler.
        let code = [0xb8, 0x07, 0x00, 0x00, 0x00, 0xc3];
        let mut bytes = vec![0xccu8; page];
        bytes.extend_from_slice(&code);
        let path = std::env::temp_dir().join(format!("gasket-code-{}", std::process::id()));
        std::fs::write(&path, &bytes).unwrap();
        let file = std::fs::File::open(&path).unwrap();
        let mapped = CodeMemory::map_file(&file, page as u64, code.len()).unwrap();
        assert_eq!(mapped.bytes(), code);
        let perms = permissions_of(mapped.as_ptr() as usize);
        assert!(perms.starts_with("r-x"), "{perms}");
        #[cfg(target_arch = "x86_64")]
        {
            // SAFETY: the mapping holds a complete `extern "C" fn() -> u32` (x86-64).
            let f: extern "C" fn() -> u32 = unsafe { std::mem::transmute(mapped.as_ptr()) };
            assert_eq!(f(), 7);
        }
        // Not page-aligned, or nothing to map: refused, so the caller copies instead.
        assert!(CodeMemory::map_file(&file, 1, code.len()).is_err());
        assert!(CodeMemory::map_file(&file, page as u64, 0).is_err());
        let _ = std::fs::remove_file(&path);
    }

    #[test]
    fn a_code_buffer_becomes_executable_in_place() {
        // mov eax, 9; ret, behind two pages of int3 so the buffer spans three pages.
        let mut buffer = gasket_singlepass::CodeBuffer::with_capacity(64 * page_size());
        let filler = vec![0xccu8; 2 * page_size()];
        buffer.extend_from_slice(&filler);
        buffer.extend_from_slice(&[0xb8, 0x09, 0x00, 0x00, 0x00, 0xc3]);
        let at = buffer.as_ptr() as usize;
        let code = CodeMemory::from_buffer(buffer).unwrap();
        assert_eq!(code.as_ptr() as usize, at, "the same pages, not a copy");
        assert_eq!(code.len(), 2 * page_size() + 6);
        assert_eq!(
            code.mapped,
            3 * page_size(),
            "the unused capacity is unmapped"
        );
        let perms = permissions_of(code.as_ptr() as usize);
        assert!(perms.starts_with("r-x"), "{perms}");
        #[cfg(target_arch = "x86_64")]
        {
            let entry = code.at(2 * page_size() as u32).unwrap();
            // SAFETY: `entry` holds a complete `extern "C" fn() -> u32` (x86-64).
            let f: extern "C" fn() -> u32 = unsafe { std::mem::transmute(entry) };
            assert_eq!(f(), 9);
        }
    }

    #[test]
    fn empty_code_still_maps() {
        let code = CodeMemory::new(&[]).unwrap();
        assert!(code.is_empty());
        assert!(code.at(0).is_none());
    }
}
