//! Profiles: what a module may use and what it costs.

use borsh::{BorshDeserialize, BorshSerialize};
use sha2::{Digest, Sha256};

use crate::cost::CostTable;
use crate::limits::Limits;

/// Which imports a module may declare.
#[derive(Copy, Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub enum ImportPolicy {
    /// Only host ABI functions from module `env`, with their exact signatures.
    HostAbi,
    /// Any function, memory, table or global import (resolved by the embedder), except from
    /// the reserved `gasket` namespace. For spec tests and third-party modules.
    Any,
    /// Only functions of the NEAR-compatible table (`gasket_host_api::near`) from module
    /// `env`, with their exact (all-i64) signatures: NEAR contracts run unmodified.
    Near,
}

/// What happens to f32/f64 types and operators.
///
/// Floats are nondeterministic in one place only: the bit pattern of a NaN an arithmetic
/// operation produces (x86 and Arm produce different signs and payloads). `Canonicalize`
/// removes that: every NaN a float operation produces is the canonical NaN, so all other
/// float results are exactly IEEE-754 round-to-nearest-even on every machine.
#[derive(Copy, Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub enum FloatPolicy {
    /// Any float type or operator rejects the module (`floats` feature error).
    Reject,
    /// Floats are admitted; every NaN that an arithmetic operator (add, sub, mul, div, sqrt,
    /// min, max, ceil, floor, trunc, nearest, promote, demote) produces is the canonical NaN
    /// `0x7fc00000` / `0x7ff8000000000000`. Bitwise operators (abs, neg, copysign,
    /// reinterpret, loads, stores, constants) keep the bits they are given, as wasm says.
    Canonicalize,
}

impl FloatPolicy {
    /// The policy's name in reports and on the command line (`--floats`).
    pub fn name(self) -> &'static str {
        match self {
            FloatPolicy::Reject => "reject",
            FloatPolicy::Canonicalize => "canonicalize",
        }
    }
}

/// Parameters of the deterministic stack-height limit.
///
/// Each function has a frame cost in abstract units: its parameters and locals, its maximum
/// operand-stack depth, plus `frame_overhead`. Entering a function adds its frame cost to a
/// per-call counter, leaving subtracts it; exceeding `max_height` traps with
/// `stack_overflow`. The units do not depend on the target, so the limit fires at the same
/// call on every machine.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct StackLimits {
    /// Maximum total frame cost of the active call chain. Default 65 536.
    pub max_height: u32,
    /// Fixed cost of every activation (return address, saved state). Default 4.
    pub frame_overhead: u32,
}

impl Default for StackLimits {
    fn default() -> Self {
        StackLimits {
            max_height: 65_536,
            frame_overhead: 4,
        }
    }
}

/// Everything that decides whether a module is accepted and how it is instrumented.
///
/// Two profiles with the same [`Profile::fingerprint`] accept the same modules and produce
/// byte-identical instrumented output, so the fingerprint is part of every cache key.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct Profile {
    /// Human-readable name, e.g. `contract`. Part of the fingerprint.
    pub name: String,
    /// Which imports are admitted.
    pub imports: ImportPolicy,
    /// What happens to floats.
    pub floats: FloatPolicy,
    /// Structural limits.
    pub limits: Limits,
    /// Deterministic stack-height accounting.
    pub stack: StackLimits,
    /// Gas prices.
    pub costs: CostTable,
}

impl Profile {
    /// The profile for smart contracts: host ABI imports only, floats with canonical NaNs
    /// (as CosmWasm and NEAR admit them: most Rust contracts carry float formatting code),
    /// default limits and prices. A chain that wants no floats at all sets
    /// `floats: FloatPolicy::Reject`.
    pub fn contract() -> Profile {
        Profile {
            name: "contract".to_string(),
            imports: ImportPolicy::HostAbi,
            floats: FloatPolicy::Canonicalize,
            limits: Limits::default(),
            stack: StackLimits::default(),
            costs: CostTable::default(),
        }
    }

    /// The embedder profile: any imports (floats with canonical NaNs, no other
    /// nondeterminism), for spec tests and third-party modules. Limits are the defaults except that more imports
    /// are admitted.
    pub fn permissive() -> Profile {
        Profile {
            name: "permissive".to_string(),
            imports: ImportPolicy::Any,
            limits: Limits {
                max_imports: 10_000,
                ..Limits::default()
            },
            ..Profile::contract()
        }
    }

    /// The profile for NEAR contracts: exactly the imports of the NEAR-compatible table,
    /// otherwise the contract profile (floats with canonical NaNs, default limits and
    /// prices).
    pub fn near() -> Profile {
        Profile {
            name: "near".to_string(),
            imports: ImportPolicy::Near,
            ..Profile::contract()
        }
    }

    /// Looks a built-in profile up by name (`contract`, `permissive` or `near`).
    pub fn by_name(name: &str) -> Option<Profile> {
        match name {
            "contract" => Some(Profile::contract()),
            "permissive" => Some(Profile::permissive()),
            "near" => Some(Profile::near()),
            _ => None,
        }
    }

    /// SHA-256 over the profile's canonical (borsh) encoding, cost table included.
    pub fn fingerprint(&self) -> [u8; 32] {
        let mut hasher = Sha256::new();
        hasher.update(b"gasket-profile\0");
        hasher.update(borsh::to_vec(self).expect("borsh encoding into a Vec cannot fail"));
        hasher.finalize().into()
    }

    /// This profile with another float policy (and so another fingerprint).
    pub fn with_floats(self, floats: FloatPolicy) -> Profile {
        Profile { floats, ..self }
    }

    pub(crate) fn allows_floats(&self) -> bool {
        match self.floats {
            FloatPolicy::Reject => false,
            FloatPolicy::Canonicalize => true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprint_is_stable_and_sensitive() {
        let a = Profile::contract();
        assert_eq!(a.fingerprint(), Profile::contract().fingerprint());
        assert_ne!(a.fingerprint(), Profile::permissive().fingerprint());
        let mut b = Profile::contract();
        b.costs.alu += 1;
        assert_ne!(a.fingerprint(), b.fingerprint());
        let mut c = Profile::contract();
        c.limits.max_memory_pages -= 1;
        assert_ne!(a.fingerprint(), c.fingerprint());
        assert_ne!(a.fingerprint(), Profile::near().fingerprint());
        let d = Profile::contract().with_floats(FloatPolicy::Reject);
        assert_ne!(a.fingerprint(), d.fingerprint());
    }
}
