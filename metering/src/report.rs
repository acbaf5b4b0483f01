//! Gas reports: a module instrumented to count how often each charge site runs, and the
//! arithmetic that turns those counts back into gas by function and by cost class.
//!
//! [`prepare_for_report`] writes exactly the charges [`prepare`](crate::prepare) writes
//! (same sites, same amounts, same stack accounting), and before each one adds to a
//! per-site counter (an i64 global appended after the module's own) and records the
//! site's number in one more global, `last_site`. The counting instructions are not
//! metered, so a call uses exactly the gas it uses with the plain module; they live only
//! in this separately compiled module, so the plain one has no extra instruction.
//!
//! Gas is charged at a block's entry, so a counted site has been charged in full, except
//! for the charge that ran out of gas: it is counted (the count comes first) but only
//! the gas that was left got charged. That site is always `last_site`, and
//! [`GasSites::attribute`] takes the difference off it, class by class from the end of
//! its block, so the totals are what was charged.

use std::collections::BTreeMap;

use wasmparser::{ExternalKind, KnownCustom, Name, Parser, Payload};

use crate::cost::{DynamicCost, OpClass};
use crate::error::{PrepareError, Rejection};
use crate::profile::Profile;
use crate::summary::PreparedModule;

/// Every charge site of a gas-report module and where it counts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GasSites {
    /// The sites, numbered in module order (site `n` counts in global
    /// `first_counter + n`).
    pub sites: Vec<ChargeSite>,
    /// Global index of site 0's counter (i64: executions, or units for per-unit sites).
    pub first_counter: u32,
    /// Global index of the i32 holding the number of the last site counted (-1: none).
    pub last_site: u32,
    /// Global index of the i32 shadow stack depth (active wasm frames).
    pub stack_depth: u32,
    /// Table index of the shadow call stack (funcref; entry `d` is the function of the
    /// frame at depth `d`, outermost first).
    pub stack_table: u32,
    /// The shadow stack table's size: frames deeper than `stack_capacity - 1` all write
    /// the last entry.
    pub stack_capacity: u32,
}

/// One injected charge.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChargeSite {
    /// The function it is in (index in the original module's function space).
    pub function: u32,
    pub charge: SiteCharge,
}

/// What a site charges each time it runs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SiteCharge {
    /// A basic block's cost, and its split by class in order of first appearance.
    Block {
        cost: u64,
        classes: Vec<(OpClass, u64)>,
    },
    /// `per_unit` times a runtime operand; its counter sums the operands. For
    /// [`DynamicCost::MemoryAccess`], the site right after its block's: `per_unit` is the
    /// block's loads and stores and the counter sums the surcharge per access at each
    /// run (both sites are one charge).
    PerUnit { kind: DynamicCost, per_unit: u64 },
}

/// Gas of wasm code (host functions excluded) by function and by cost class.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WasmGas {
    /// Function index (original module) → gas; only functions that used gas.
    pub by_function: BTreeMap<u32, u64>,
    /// Cost class name ([`OpClass::name`], [`DynamicCost::name`]) → gas; nonzero only.
    pub by_class: BTreeMap<&'static str, u64>,
}

/// The counters do not explain the gas the call used: the module was not prepared for a
/// report, or counters were read from another instance or call.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("gas report inconsistent: the charge sites account for {counted} gas, the wasm code used {used}; read the counters of the call that used the gas, from a module made by prepare_for_report")]
pub struct InconsistentCounts {
    pub counted: u64,
    pub used: u64,
}

impl GasSites {
    /// Splits `wasm_gas` (the call's gas used minus host function gas) by function and by
    /// class, from each site's counter (`counts[n]` for site `n`) and the last site
    /// counted. Exact: each map sums to `wasm_gas`, or the counts are inconsistent.
    pub fn attribute(
        &self,
        counts: &[u64],
        last_site: Option<u32>,
        wasm_gas: u64,
    ) -> Result<WasmGas, InconsistentCounts> {
        let mut by_function: BTreeMap<u32, u128> = BTreeMap::new();
        let mut by_class: BTreeMap<&'static str, u128> = BTreeMap::new();
        let mut total: u128 = 0;
        for (site, &count) in self.sites.iter().zip(counts) {
            if count == 0 {
                continue;
            }
            let count = u128::from(count);
            let gas = match &site.charge {
                SiteCharge::Block { cost, classes } => {
                    for (class, gas) in classes {
                        *by_class.entry(class.name()).or_default() += count * u128::from(*gas);
                    }
                    count * u128::from(*cost)
                }
                SiteCharge::PerUnit { kind, per_unit } => {
                    let gas = count * u128::from(*per_unit);
                    *by_class.entry(kind.name()).or_default() += gas;
                    gas
                }
            };
            *by_function.entry(site.function).or_default() += gas;
            total += gas;
        }
        let clamp = |v: u128| u64::try_from(v).unwrap_or(u64::MAX);
        let inconsistent = InconsistentCounts {
            counted: clamp(total),
            used: wasm_gas,
        };
        let Some(mut excess) = total.checked_sub(u128::from(wasm_gas)) else {
            return Err(inconsistent);
        };
        if excess > 0 {
            // The last site ran out of gas: it was charged only what was left.
            let site = last_site
                .and_then(|n| self.sites.get(n as usize))
                .ok_or_else(|| inconsistent.clone())?;
            let charged = by_function.entry(site.function).or_default();
            *charged = charged.checked_sub(excess).ok_or(inconsistent.clone())?;
            let block_classes = |charge: &SiteCharge| match charge {
                SiteCharge::Block { classes, .. } => {
                    classes.iter().map(|(c, gas)| (c.name(), *gas)).collect()
                }
                SiteCharge::PerUnit { .. } => Vec::new(),
            };
            let classes: Vec<(&'static str, u64)> = match &site.charge {
                SiteCharge::Block { .. } => block_classes(&site.charge),
                // A block's memory-size surcharge is one charge with the block (the
                // site before it): the surcharge is cut first, then the block's classes.
                SiteCharge::PerUnit {
                    kind: DynamicCost::MemoryAccess,
                    ..
                } => {
                    let block = last_site
                        .and_then(|n| n.checked_sub(1))
                        .and_then(|n| self.sites.get(n as usize))
                        .map_or(Vec::new(), |s| block_classes(&s.charge));
                    let mut classes = block;
                    classes.push((DynamicCost::MemoryAccess.name(), u64::MAX));
                    classes
                }
                SiteCharge::PerUnit { kind, .. } => vec![(kind.name(), u64::MAX)],
            };
            for (class, gas) in classes.into_iter().rev() {
                let total = by_class.entry(class).or_default();
                let cut = excess.min(u128::from(gas)).min(*total);
                *total -= cut;
                excess -= cut;
            }
            if excess > 0 {
                return Err(inconsistent);
            }
        }
        Ok(WasmGas {
            by_function: by_function
                .into_iter()
                .filter(|&(_, gas)| gas > 0)
                .map(|(f, gas)| (f, clamp(gas)))
                .collect(),
            by_class: by_class
                .into_iter()
                .filter(|&(_, gas)| gas > 0)
                .map(|(c, gas)| (c, clamp(gas)))
                .collect(),
        })
    }
}

/// Like [`prepare`](crate::prepare), but the module also counts its charge sites (see
/// the module docs). Run it only to make a report: the counting makes it slower.
pub fn prepare_for_report(
    wasm: &[u8],
    profile: &Profile,
) -> Result<(PreparedModule, GasSites), PrepareError> {
    match crate::prepare_inner(wasm, profile, false, true) {
        Ok((prepared, sites, _)) => Ok((prepared, sites)),
        Err(Rejection(mut errors)) => Err(errors.swap_remove(0)),
    }
}

/// The function names of `wasm` (function index → name): the name section's, else the
/// function's first export name (so an unnamed build still shows `transfer`, not an
/// index); empty without either. A malformed name section is ignored, as engines do:
/// names never affect execution.
pub fn function_names(wasm: &[u8]) -> BTreeMap<u32, String> {
    let mut names = BTreeMap::new();
    let mut exported = BTreeMap::new();
    for payload in Parser::new(0).parse_all(wasm) {
        match payload {
            Ok(Payload::ExportSection(reader)) => {
                for export in reader.into_iter().flatten() {
                    if export.kind == ExternalKind::Func {
                        exported
                            .entry(export.index)
                            .or_insert_with(|| export.name.to_string());
                    }
                }
            }
            Ok(Payload::CustomSection(section)) => {
                let KnownCustom::Name(reader) = section.as_known() else {
                    continue;
                };
                for name in reader {
                    let Ok(Name::Function(map)) = name else {
                        continue;
                    };
                    for naming in map.into_iter().flatten() {
                        names.insert(naming.index, naming.name.to_string());
                    }
                }
            }
            Ok(_) => {}
            Err(_) => break,
        }
    }
    for (index, name) in exported {
        names.entry(index).or_insert(name);
    }
    names
}
