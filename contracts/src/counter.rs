//! Counter (the Rust twin of fixtures/contracts/counter.c, same interface and storage):
//! `increment` adds 1 to the u64 under `count`, logs `incremented` and returns the new
//! count (u64 LE); `get` returns it (0 before the first increment).
#![cfg_attr(target_arch = "wasm32", no_std)]
extern crate alloc;

use gasket_sdk::env;
use gasket_sdk::storage::Value;

const COUNT: Value<u64> = Value::new(b"count");

gasket_sdk::methods! {
    /// Adds one and returns the new count.
    pub fn increment() -> u64 {
        let n = COUNT.get_or_default() + 1;
        COUNT.set(&n);
        env::log("incremented");
        n
    }

    /// The current count.
    pub fn get() -> u64 {
        COUNT.get_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gasket_sdk::testing;

    #[test]
    fn counts_from_zero_and_logs() {
        testing::reset();
        assert_eq!(get(), 0);
        assert_eq!(testing::call(increment), Ok(1));
        assert_eq!(testing::logs(), ["incremented"]);
        assert_eq!(testing::call(increment), Ok(2));
        assert_eq!(testing::view(b"count"), Some(2u64.to_le_bytes().to_vec()));
        assert_eq!(testing::invoke(METHODS, "get", &[]).unwrap_u64(), 2);
    }
}
