//! Executable memory for compiled code, mapped W^X: written while read-write, then
//! switched to read+execute before anything can run it. Never writable and executable at
//! the same time, so a memory-safety bug elsewhere cannot be turned into code injection.

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

/// The system page size.
pub(crate) fn page_size() -> usize {
    // SAFETY: sysconf has no preconditions; it only reads a system constant.
    let size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if size <= 0 {
        4096
    } else {
        size as usize
    }
}

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
        // cannot alias any existing Rust object.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                mapped,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
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
        // SAFETY: `ptr..ptr + mapped` is exactly the mapping created above.
        let rc = unsafe { libc::mprotect(ptr.cast(), mapped, libc::PROT_READ | libc::PROT_EXEC) };
        if rc != 0 {
            let err = io::Error::last_os_error();
            // SAFETY: unmapping the mapping created above, which nothing else refers to.
            unsafe { libc::munmap(ptr.cast(), mapped) };
            return Err(err);
        }
        Ok(CodeMemory {
            ptr,
            mapped,
            len: code.len(),
        })
    }

    /// Start of the code.
    pub fn as_ptr(&self) -> *const u8 {
        self.ptr
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
        let code = CodeMemory::new(&[0xb8, 0x2a, 0x00, 0x00, 0x00, 0xc3]).unwrap();
        assert_eq!(code.len(), 6);
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
    fn empty_code_still_maps() {
        let code = CodeMemory::new(&[]).unwrap();
        assert!(code.is_empty());
        assert!(code.at(0).is_none());
    }
}
