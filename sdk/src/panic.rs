//! The contract's panic handler on wasm32: `panic!("insufficient balance")` ends the call
//! with status `panic` and exactly that message, through the host's `panic_utf8`.
//!
//! A message without arguments is passed as it is (no formatting code runs); one with
//! arguments is formatted into a fixed 1 KiB buffer (longer ones are cut at a character
//! boundary). The location (`src/lib.rs:10:5`) is left out: it is not useful to the
//! caller of a deployed contract and would make messages change with unrelated edits.
//!
//! Built with Debian's rustc 1.63 (`--cfg gasket_legacy_toolchain`, set by
//! scripts/build-rust-contracts.sh with `RUSTC_BOOTSTRAP=1`), `PanicInfo::message` and
//! the allocation-error handler are unstable features; on Rust ≥ 1.81 they are stable.

use core::fmt::{self, Write};
use core::panic::PanicInfo;

use crate::env;

const CAPACITY: usize = 1024;

/// A fixed buffer that keeps what fits and drops the rest.
struct MessageBuffer {
    bytes: [u8; CAPACITY],
    len: usize,
}

impl Write for MessageBuffer {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let mut take = s.len().min(CAPACITY - self.len);
        while !s.is_char_boundary(take) {
            take -= 1;
        }
        self.bytes[self.len..self.len + take].copy_from_slice(&s.as_bytes()[..take]);
        self.len += take;
        Ok(())
    }
}

fn report(message: fmt::Arguments<'_>) -> ! {
    if let Some(text) = message.as_str() {
        env::panic_str(text);
    }
    let mut buffer = MessageBuffer {
        bytes: [0; CAPACITY],
        len: 0,
    };
    let _ = buffer.write_fmt(message);
    // Only whole characters were copied, so this is UTF-8.
    match core::str::from_utf8(&buffer.bytes[..buffer.len]) {
        Ok(text) => env::panic_str(text),
        Err(_) => env::panic_str("panic"),
    }
}

#[cfg(not(gasket_legacy_toolchain))]
#[panic_handler]
fn panic(info: &PanicInfo<'_>) -> ! {
    match info.message().as_str() {
        Some(text) => env::panic_str(text),
        None => report(format_args!("{}", info.message())),
    }
}

#[cfg(gasket_legacy_toolchain)]
#[panic_handler]
fn panic(info: &PanicInfo<'_>) -> ! {
    match info.message() {
        Some(message) => report(*message),
        None => env::panic_str("panic"),
    }
}

#[cfg(gasket_legacy_toolchain)]
#[alloc_error_handler]
fn out_of_memory(layout: core::alloc::Layout) -> ! {
    // The same message as the default handler of newer Rust.
    report(format_args!(
        "memory allocation of {} bytes failed",
        layout.size()
    ))
}
