//! Gas reports and wasm call stacks, from a separately compiled report module.
//!
//! [`Engine::compile_for_report`] compiles the module made by
//! [`gasket_metering::prepare_for_report`]: the same gas charges as the plain module,
//! plus per-charge-site counters and a shadow call stack (see that function). Code
//! compiled the ordinary way is untouched, so reports cost nothing when not asked for.
//! A call of the report module uses exactly the gas the plain call uses; afterwards
//! [`ReportModule::finish`] reads the counters, the host functions' gas (recorded by the
//! runtime's host-call path while `host_gas` is on) and, after a trap, the shadow stack.

use std::collections::BTreeMap;

use gasket_metering::{GasSites, ImportKind, InconsistentCounts, Intrinsics};

use crate::engine::Engine;
use crate::error::LoadError;
use crate::instance::Instance;
use crate::module::Module;

/// A module compiled for gas reports, with what is needed to read its counters.
#[derive(Clone, Debug)]
pub struct ReportModule {
    module: Module,
    sites: GasSites,
    /// Function names from the original module's name section, else export names, else
    /// (imported functions) import names.
    names: BTreeMap<u32, String>,
    /// Per imported function index: its import name (`storage_write`).
    import_names: Vec<String>,
}

impl Engine {
    /// Prepares `wasm` with charge-site counters and a shadow call stack and compiles
    /// it (see the module docs). Not cached: it is a diagnostic build.
    pub fn compile_for_report(&self, wasm: &[u8]) -> Result<ReportModule, LoadError> {
        let (prepared, sites) = gasket_metering::prepare_for_report(wasm, self.profile())?;
        let import_names: Vec<String> = prepared
            .info
            .imports
            .iter()
            .filter(|i| matches!(i.kind, ImportKind::Function { .. }))
            .map(|i| i.name.clone())
            .collect();
        // An imported function without a name of its own is called by its import name.
        let mut names = gasket_metering::function_names(wasm);
        for (index, name) in (0u32..).zip(&import_names) {
            names.entry(index).or_insert_with(|| name.clone());
        }
        Ok(ReportModule {
            module: self.compile_prepared(prepared)?,
            sites,
            names,
            import_names,
        })
    }
}

/// Counters read before a call, subtracted from those read after it.
#[derive(Clone, Debug)]
pub struct Recording {
    counts: Vec<u64>,
    /// `VmCtx::write_gas` before the call.
    write_gas: u64,
}

/// One wasm frame of a call stack.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WasmFrame {
    /// Function index in the original module.
    pub index: u32,
    /// Its name from the name section, else its export name, if it has either.
    pub name: Option<String>,
}

impl std::fmt::Display for WasmFrame {
    /// The name, or `func[index]`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.name {
            Some(name) => write!(f, "{name}"),
            None => write!(f, "func[{}]", self.index),
        }
    }
}

/// Gas of one function (host function imports included: their gas is the host's).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FunctionGas {
    /// Function index in the original module.
    pub index: u32,
    /// Its name from the name section, else its export name, if it has either.
    pub name: Option<String>,
    /// Gas charged in it (not in its callees).
    pub gas: u64,
}

/// Gas of one host function.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostFunctionGas {
    /// Its import name.
    pub name: String,
    /// How many times it was called.
    pub calls: u64,
    /// Gas its calls charged.
    pub gas: u64,
}

/// Where a call's gas went. `by_function + memory_write`, `wasm_code + by_host_function`
/// and `by_class` each sum exactly to `gas_used`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GasReport {
    /// The call's gas used (start function included where the call's is).
    pub gas_used: u64,
    /// Functions that used gas, by index (the written-range charge excluded).
    pub by_function: Vec<FunctionGas>,
    /// Gas of wasm instructions (everything but host functions; `memory_write`
    /// included).
    pub wasm_code: u64,
    /// Gas charged for the granules stores and bulk memory writes added to the written
    /// ranges (class `memory_write_per_granule`; cost table version 5). Compiled code
    /// charges it outside the instrumented wasm (the dirty-range stub, the bulk-memory
    /// libcalls), so no function's counters see it: it is reported apart.
    pub memory_write: u64,
    /// Host functions that were called, by name.
    pub by_host_function: Vec<HostFunctionGas>,
    /// Cost class (the cost table's names; `host` for host functions) → gas, by name,
    /// nonzero only.
    pub by_class: Vec<(String, u64)>,
}

/// The class host function gas is reported under.
pub const HOST_CLASS: &str = "host";

impl ReportModule {
    /// The compiled report module: instantiate it and call it like any module.
    pub fn module(&self) -> &Module {
        &self.module
    }

    /// Starts recording on `instance` (of [`ReportModule::module`]): host function gas,
    /// a fresh shadow stack, and the counters as they are now, so gas of the start
    /// function is left out; with `include_start`, counted from zero so it is included.
    pub fn begin(&self, instance: &mut Instance, include_start: bool) -> Recording {
        instance.rt.host_gas = Some(BTreeMap::new());
        // A stack left by an earlier trap on this instance is not this call's.
        instance.rt.set_global(self.sites.stack_depth, 0);
        let counts = if include_start {
            vec![0; self.sites.sites.len()]
        } else {
            self.counts(instance)
        };
        Recording {
            counts,
            write_gas: instance.rt.write_gas(),
        }
    }

    /// The report of the call recorded since `recording` began, which used `gas_used`.
    /// An error means the counters do not explain `gas_used` (a bug, never expected).
    pub fn finish(
        &self,
        instance: &Instance,
        recording: Recording,
        gas_used: u64,
    ) -> Result<GasReport, InconsistentCounts> {
        let counts: Vec<u64> = self
            .counts(instance)
            .iter()
            .zip(&recording.counts)
            .map(|(after, before)| after.wrapping_sub(*before))
            .collect();
        let last_site = instance
            .rt
            .global(self.sites.last_site)
            .and_then(|bits| u32::try_from(bits as u32 as i32).ok());
        let host_gas = instance.rt.host_gas.clone().unwrap_or_default();
        let host_total = host_gas.values().fold(0u64, |t, u| t.saturating_add(u.gas));
        let wasm_code = gas_used.checked_sub(host_total).ok_or(InconsistentCounts {
            counted: host_total,
            used: gas_used,
        })?;
        // The written-range charges were taken in full, except one that ran out of gas:
        // then the sites account for less than the rest, and the difference is what
        // that charge took (the sites' own out-of-gas case is the opposite one, more
        // counted than used, which `attribute` handles).
        let written = instance.rt.write_gas().wrapping_sub(recording.write_gas);
        let sites_gas = wasm_code.checked_sub(written).ok_or(InconsistentCounts {
            counted: written,
            used: wasm_code,
        })?;
        let (wasm, memory_write) = match self.sites.attribute(&counts, last_site, sites_gas) {
            Err(short) if short.counted < short.used => {
                let wasm = self.sites.attribute(&counts, last_site, short.counted)?;
                (wasm, written + (short.used - short.counted))
            }
            other => (other?, written),
        };

        let mut by_function = wasm.by_function;
        let mut by_host: BTreeMap<String, HostFunctionGas> = BTreeMap::new();
        for (&index, used) in &host_gas {
            if used.gas > 0 {
                *by_function.entry(index).or_default() += used.gas;
            }
            let name = self.import_names.get(index as usize).cloned();
            let name = name.unwrap_or_else(|| format!("func[{index}]"));
            let entry = by_host.entry(name.clone()).or_insert(HostFunctionGas {
                name,
                calls: 0,
                gas: 0,
            });
            entry.calls += used.calls;
            entry.gas += used.gas;
        }
        let mut by_class: BTreeMap<String, u64> = wasm
            .by_class
            .into_iter()
            .map(|(class, gas)| (class.to_string(), gas))
            .collect();
        if host_total > 0 {
            by_class.insert(HOST_CLASS.to_string(), host_total);
        }
        if memory_write > 0 {
            let class = gasket_metering::DynamicCost::MemoryWrite.name();
            *by_class.entry(class.to_string()).or_default() += memory_write;
        }
        Ok(GasReport {
            gas_used,
            by_function: by_function
                .into_iter()
                .map(|(index, gas)| FunctionGas {
                    index,
                    name: self.names.get(&index).cloned(),
                    gas,
                })
                .collect(),
            wasm_code,
            memory_write,
            by_host_function: by_host.into_values().collect(),
            by_class: by_class.into_iter().collect(),
        })
    }

    /// The wasm call stack of `instance` after a trap, innermost frame first (empty after
    /// a normal return). Frames deeper than the shadow stack's capacity are not listed.
    pub fn stack(&self, instance: &Instance) -> Vec<WasmFrame> {
        let depth = instance.rt.global(self.sites.stack_depth).unwrap_or(0) as u32;
        let Some(table) = instance.rt.tables.get(self.sites.stack_table as usize) else {
            return Vec::new();
        };
        let imported = self.import_names.len() as u32;
        table
            .elems
            .iter()
            .take(depth as usize)
            .rev()
            .filter_map(|&bits| instance.rt.funcref_index(bits))
            .map(|index| {
                // Back to the original index space: defined functions follow the
                // injected imports.
                let index = if index >= imported + Intrinsics::COUNT {
                    index - Intrinsics::COUNT
                } else {
                    index
                };
                WasmFrame {
                    index,
                    name: self.names.get(&index).cloned(),
                }
            })
            .collect()
    }

    /// Each site's counter, in site order.
    fn counts(&self, instance: &Instance) -> Vec<u64> {
        (0..self.sites.sites.len() as u32)
            .map(|n| {
                instance
                    .rt
                    .global(self.sites.first_counter + n)
                    .unwrap_or(0)
            })
            .collect()
    }
}
