//! Gasket's intrinsics: imports that the metering pass injects into module
//! [`RESERVED_MODULE`](crate::RESERVED_MODULE) and that the compiler turns into inline code
//! (a counter update and a branch), never into real host calls.
//!
//! They live here, next to the host functions, so that metering (which injects them) and
//! the compiler (which recognises them) agree on names and types.

use borsh::{BorshDeserialize, BorshSerialize};

use crate::abi::{Signature, WasmType};

/// An import injected by metering into module `gasket`.
#[derive(
    Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, BorshSerialize, BorshDeserialize,
)]
pub enum Intrinsic {
    /// `gasket.gas(amount: i64)`: charge `amount` gas (as u64); traps out-of-gas, with
    /// gas used set to the limit, if that exceeds the remaining gas.
    Gas,
    /// `gasket.stack_enter(cost: i32)`: add a function activation's stack cost (wasm units,
    /// as u32) to the deterministic stack height; traps if the limit is exceeded.
    StackEnter,
    /// `gasket.stack_leave(cost: i32)`: subtract the same cost on every exit path.
    StackLeave,
}

const I64_PARAM: &[WasmType] = &[WasmType::I64];
const I32_PARAM: &[WasmType] = &[WasmType::I32];

impl Intrinsic {
    /// Every intrinsic, in this fixed order: `Gas`, `StackEnter`, `StackLeave`.
    pub const ALL: &'static [Intrinsic] =
        &[Intrinsic::Gas, Intrinsic::StackEnter, Intrinsic::StackLeave];

    /// Import name inside module `gasket`.
    pub const fn name(self) -> &'static str {
        match self {
            Intrinsic::Gas => "gas",
            Intrinsic::StackEnter => "stack_enter",
            Intrinsic::StackLeave => "stack_leave",
        }
    }

    /// Looks an intrinsic up by its import name.
    pub fn from_name(name: &str) -> Option<Intrinsic> {
        Self::ALL.iter().copied().find(|i| i.name() == name)
    }

    /// The wasm type of the import: `gas: (i64) -> ()`, `stack_enter` and
    /// `stack_leave: (i32) -> ()`.
    pub const fn signature(self) -> Signature {
        let params = match self {
            Intrinsic::Gas => I64_PARAM,
            Intrinsic::StackEnter | Intrinsic::StackLeave => I32_PARAM,
        };
        Signature {
            params,
            results: &[],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_signatures_are_fixed() {
        let got: Vec<(&str, String)> = Intrinsic::ALL
            .iter()
            .map(|i| (i.name(), i.signature().to_string()))
            .collect();
        assert_eq!(
            got,
            vec![
                ("gas", "(i64) -> ()".to_string()),
                ("stack_enter", "(i32) -> ()".to_string()),
                ("stack_leave", "(i32) -> ()".to_string()),
            ]
        );
    }

    #[test]
    fn from_name_round_trips() {
        for &i in Intrinsic::ALL {
            assert_eq!(Intrinsic::from_name(i.name()), Some(i));
        }
        assert_eq!(Intrinsic::from_name("storage_write"), None);
        assert_eq!(Intrinsic::from_name("Gas"), None);
    }
}
