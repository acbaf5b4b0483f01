//! The guest's linear memory, as host functions see it.
//!
//! Every access is bounds-checked with arithmetic that cannot overflow: a contract controls
//! `ptr` and `len`, so a bad pair must become an error, never a panic or a wrap-around.

use thiserror::Error;

/// A guest access outside linear memory.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Error)]
#[error("{len} bytes at address {ptr} are outside linear memory of {memory_size} bytes")]
pub struct MemoryAccessError {
    /// Start address requested.
    pub ptr: u32,
    /// Length requested.
    pub len: u32,
    /// Size of linear memory in bytes (u64: a full wasm32 memory is 2^32 bytes).
    pub memory_size: u64,
}

/// Read/write access to a contract's linear memory.
///
/// Implemented for `[u8]`, `Vec<u8>` and `&mut [u8]`; the last lets a borrowed slice be
/// passed as `&mut dyn GuestMemory` (`[u8]` itself is unsized and cannot be).
pub trait GuestMemory {
    /// The bytes `[ptr, ptr + len)`, or an error if any of them is outside memory.
    fn read(&self, ptr: u32, len: u32) -> Result<&[u8], MemoryAccessError>;
    /// Copies `data` to `[ptr, ptr + data.len())`, or errors (writing nothing) if any byte
    /// would land outside memory.
    fn write(&mut self, ptr: u32, data: &[u8]) -> Result<(), MemoryAccessError>;
}

/// `[start, end)` as `usize` indices if `[ptr, ptr + len)` fits in `size` bytes.
/// Computed in u64, where `ptr + len` (both < 2^32) cannot overflow.
fn checked_range(
    ptr: u32,
    len: u64,
    size: usize,
) -> Result<core::ops::Range<usize>, MemoryAccessError> {
    let memory_size = size as u64;
    let end = u64::from(ptr) + len;
    let error = MemoryAccessError {
        ptr,
        len: u32::try_from(len).unwrap_or(u32::MAX),
        memory_size,
    };
    if end > memory_size {
        return Err(error);
    }
    // Both fit: end <= memory_size, which came from a usize.
    let start = usize::try_from(ptr).map_err(|_| error)?;
    let end = usize::try_from(end).map_err(|_| error)?;
    Ok(start..end)
}

impl GuestMemory for [u8] {
    fn read(&self, ptr: u32, len: u32) -> Result<&[u8], MemoryAccessError> {
        let range = checked_range(ptr, u64::from(len), self.len())?;
        Ok(&self[range])
    }

    fn write(&mut self, ptr: u32, data: &[u8]) -> Result<(), MemoryAccessError> {
        let range = checked_range(ptr, data.len() as u64, self.len())?;
        self[range].copy_from_slice(data);
        Ok(())
    }
}

impl GuestMemory for Vec<u8> {
    fn read(&self, ptr: u32, len: u32) -> Result<&[u8], MemoryAccessError> {
        self.as_slice().read(ptr, len)
    }

    /// Never grows the vector: memory size is the contract's to change, via `memory.grow`.
    fn write(&mut self, ptr: u32, data: &[u8]) -> Result<(), MemoryAccessError> {
        self.as_mut_slice().write(ptr, data)
    }
}

impl GuestMemory for &mut [u8] {
    fn read(&self, ptr: u32, len: u32) -> Result<&[u8], MemoryAccessError> {
        (**self).read(ptr, len)
    }

    fn write(&mut self, ptr: u32, data: &[u8]) -> Result<(), MemoryAccessError> {
        (**self).write(ptr, data)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn in_bounds_read_and_write() {
        let mut mem = vec![0u8; 16];
        mem.write(12, &[1, 2, 3, 4]).unwrap();
        assert_eq!(mem.read(12, 4).unwrap(), &[1, 2, 3, 4]);
        assert_eq!(mem.read(16, 0).unwrap(), &[] as &[u8]);
        assert_eq!(mem.read(0, 16).unwrap().len(), 16);
    }

    #[test]
    fn past_end_is_an_error() {
        let mut mem = vec![0u8; 16];
        let err = mem.read(13, 4).unwrap_err();
        assert_eq!(
            err,
            MemoryAccessError {
                ptr: 13,
                len: 4,
                memory_size: 16
            }
        );
        assert!(mem.read(17, 0).is_err());
        assert!(mem.write(15, &[1, 2]).is_err());
        assert_eq!(mem, vec![0u8; 16], "a failed write writes nothing");
    }

    #[test]
    fn overflowing_ptr_plus_len_is_an_error_not_a_panic() {
        let mut mem = vec![0u8; 16];
        assert!(mem.read(u32::MAX, u32::MAX).is_err());
        assert!(mem.read(u32::MAX, 2).is_err());
        assert!(mem.read(1, u32::MAX).is_err());
        assert!(mem.write(u32::MAX, &[1]).is_err());
    }

    #[test]
    fn borrowed_slice_works_as_dyn_memory() {
        let mut buf = [0u8; 8];
        let mut slice: &mut [u8] = &mut buf;
        let mem: &mut dyn GuestMemory = &mut slice;
        mem.write(4, &[9, 9]).unwrap();
        assert_eq!(mem.read(4, 2).unwrap(), &[9, 9]);
        assert_eq!(buf[4..6], [9, 9]);
    }
}
