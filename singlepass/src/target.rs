//! The instruction sets Gasket compiles to.

use borsh::{BorshDeserialize, BorshSerialize};

/// An instruction set Gasket compiles to. Part of every artifact and cache key.
#[derive(
    Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, BorshSerialize, BorshDeserialize,
)]
pub enum Target {
    /// x86-64 (System V ABI).
    X86_64,
    /// AArch64 (AAPCS64).
    Aarch64,
}

impl Target {
    /// The target of the machine this code runs on, if Gasket supports it.
    pub fn host() -> Option<Target> {
        if cfg!(target_arch = "x86_64") {
            Some(Target::X86_64)
        } else if cfg!(target_arch = "aarch64") {
            Some(Target::Aarch64)
        } else {
            None
        }
    }

    /// Stable lowercase name (`x86_64`, `aarch64`).
    pub fn as_str(self) -> &'static str {
        match self {
            Target::X86_64 => "x86_64",
            Target::Aarch64 => "aarch64",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_target_is_known_on_supported_machines() {
        #[cfg(target_arch = "x86_64")]
        assert_eq!(Target::host(), Some(Target::X86_64));
        assert_eq!(Target::Aarch64.as_str(), "aarch64");
        // The borsh tag is part of the artifact format: never reorder the variants.
        assert_eq!(borsh::to_vec(&Target::X86_64).unwrap(), [0]);
        assert_eq!(borsh::to_vec(&Target::Aarch64).unwrap(), [1]);
    }
}
