//! Engines (a profile, a float policy, a memory and optional disk cache), modules (compiled
//! from wasm, loaded through the cache, serialized and deserialized) and byte buffers.

use std::borrow::Cow;
use std::ffi::{c_char, CStr};

use gasket_vm::metering::{FloatPolicy, Profile};
use gasket_vm::{Engine, EngineOptions, Module};

use crate::error::{bytes, guard, object, Failure, GasketError, GasketErrorCode, OutSlot};

/// The rules modules are validated and metered under.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GasketProfile {
    /// Smart contracts: only the host ABI may be imported; `gasket_call` runs them.
    GASKET_PROFILE_CONTRACT = 0,
    /// Any imports (for tools; instances need host functions this API does not supply).
    GASKET_PROFILE_PERMISSIVE = 1,
    /// NEAR-compatible contracts (compile, cache and serialize only in this API version).
    GASKET_PROFILE_NEAR = 2,
}

/// What a module may do with floating point.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GasketFloatPolicy {
    /// The profile's own policy.
    GASKET_FLOATS_PROFILE_DEFAULT = 0,
    /// Any float type or operator rejects the module.
    GASKET_FLOATS_REJECT = 1,
    /// Floats allowed; every NaN an operator produces is the canonical NaN (deterministic).
    GASKET_FLOATS_CANONICALIZE = 2,
}

/// How to create an engine (`gasket_engine_new`). Read during the call only.
#[repr(C)]
pub struct GasketEngineConfig {
    /// A `GasketProfile` value (an integer, so an unknown value is an error, not
    /// undefined behaviour).
    pub profile: u32,
    /// A `GasketFloatPolicy` value.
    pub floats: u32,
    /// NUL-terminated directory of the disk cache (created when first written), or NULL
    /// for a memory-only cache.
    pub cache_dir: *const c_char,
}

/// An engine: compiles and caches modules under one profile. Thread-safe: one engine may
/// be used from any number of threads at once (it is `Send + Sync`); free it once, after
/// every other use has returned. Modules keep what they need of it alive.
pub struct GasketEngine {
    pub(crate) engine: Engine,
}

/// A compiled module, ready to call any number of times. Thread-safe: one module may be
/// called from any number of threads at once; each call runs in its own instance.
pub struct GasketModule {
    pub(crate) module: Module,
}

/// An owned byte buffer (a serialized module). Immutable; free with `gasket_bytes_free`.
pub struct GasketBytes {
    data: Vec<u8>,
}

/// The engine's cache counters (`gasket_engine_cache_stats`).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GasketCacheStats {
    /// Modules compiled by a load (cache misses).
    pub compiles: u64,
    /// Loads served from memory.
    pub memory_hits: u64,
    /// Loads served from the disk cache.
    pub disk_hits: u64,
    /// Modules written to the disk cache.
    pub disk_writes: u64,
    /// Disk cache files refused by verification (then recompiled and rewritten).
    pub disk_rejected: u64,
    /// Disk cache writes that failed (only costs a recompilation later).
    pub disk_write_failures: u64,
}

fn profile_of(config: &GasketEngineConfig) -> Result<Profile, Failure> {
    let profile = match config.profile {
        p if p == GasketProfile::GASKET_PROFILE_CONTRACT as u32 => Profile::contract(),
        p if p == GasketProfile::GASKET_PROFILE_PERMISSIVE as u32 => Profile::permissive(),
        p if p == GasketProfile::GASKET_PROFILE_NEAR as u32 => Profile::near(),
        other => return Err(Failure::invalid(format!("unknown profile {other}"))),
    };
    Ok(match config.floats {
        f if f == GasketFloatPolicy::GASKET_FLOATS_PROFILE_DEFAULT as u32 => profile,
        f if f == GasketFloatPolicy::GASKET_FLOATS_REJECT as u32 => {
            profile.with_floats(FloatPolicy::Reject)
        }
        f if f == GasketFloatPolicy::GASKET_FLOATS_CANONICALIZE as u32 => {
            profile.with_floats(FloatPolicy::Canonicalize)
        }
        other => return Err(Failure::invalid(format!("unknown float policy {other}"))),
    })
}

/// Creates an engine configured by `config` into `*engine`. Fails with
/// `GASKET_ERROR_UNSUPPORTED_HOST` on machines that cannot run generated code, and
/// `GASKET_ERROR_INVALID_ARGUMENT` for an unknown profile or float policy or a cache
/// directory that is not UTF-8.
#[no_mangle]
pub extern "C" fn gasket_engine_new(
    config: *const GasketEngineConfig,
    engine: *mut *mut GasketEngine,
    error: *mut *mut GasketError,
) -> GasketErrorCode {
    guard(error, || {
        let config = object(config, "config")?;
        let out = OutSlot::new(engine, "engine")?;
        let profile = profile_of(config)?;
        let cache_dir = if config.cache_dir.is_null() {
            None
        } else {
            // SAFETY: non-NULL and NUL-terminated, as documented for `cache_dir`.
            let dir = unsafe { CStr::from_ptr(config.cache_dir) };
            let dir = dir
                .to_str()
                .map_err(|_| Failure::invalid("cache_dir is not UTF-8"))?;
            Some(dir.into())
        };
        let options = EngineOptions {
            cache_dir,
            ..Default::default()
        };
        let created = Engine::with_options(profile, options)?;
        out.set(Box::into_raw(Box::new(GasketEngine { engine: created })));
        Ok(())
    })
}

/// Frees an engine. NULL is ignored.
#[no_mangle]
pub extern "C" fn gasket_engine_free(engine: *mut GasketEngine) {
    if !engine.is_null() {
        // SAFETY: a live engine from `gasket_engine_new`, freed once, as documented.
        drop(unsafe { Box::from_raw(engine) });
    }
}

fn new_module(out: OutSlot<*mut GasketModule>, module: Module) {
    out.set(Box::into_raw(Box::new(GasketModule { module })));
}

/// The calls that make a module from an engine and caller bytes (`compile`, `load`,
/// `deserialize`): arguments checked in one order (engine, bytes, out-pointer), then the
/// module made by `make` is boxed into `*module`.
fn module_from_bytes(
    engine: *const GasketEngine,
    (data, len, name): (*const u8, usize, &str),
    module: *mut *mut GasketModule,
    error: *mut *mut GasketError,
    make: impl FnOnce(&Engine, &[u8]) -> Result<Module, Failure>,
) -> GasketErrorCode {
    guard(error, || {
        let engine = object(engine, "engine")?;
        let data = bytes(data, len, name)?;
        let out = OutSlot::new(module, "module")?;
        new_module(out, make(&engine.engine, data)?);
        Ok(())
    })
}

/// Validates, meters and compiles `wasm` (`wasm_len` bytes) into `*module`, bypassing the
/// cache. `GASKET_ERROR_INVALID_MODULE` if the profile rejects it.
#[no_mangle]
pub extern "C" fn gasket_module_compile(
    engine: *const GasketEngine,
    wasm: *const u8,
    wasm_len: usize,
    module: *mut *mut GasketModule,
    error: *mut *mut GasketError,
) -> GasketErrorCode {
    module_from_bytes(engine, (wasm, wasm_len, "wasm"), module, error, |e, w| {
        Ok(e.compile(w)?)
    })
}

/// Like `gasket_module_compile`, through the engine's cache: from memory, else from the
/// disk cache (verified), else compiled once and stored in both.
#[no_mangle]
pub extern "C" fn gasket_engine_load(
    engine: *const GasketEngine,
    wasm: *const u8,
    wasm_len: usize,
    module: *mut *mut GasketModule,
    error: *mut *mut GasketError,
) -> GasketErrorCode {
    module_from_bytes(engine, (wasm, wasm_len, "wasm"), module, error, |e, w| {
        Ok(e.load(w)?)
    })
}

/// Loads by code hash for nodes that store code by hash: `code_hash` points to the 32-byte
/// SHA-256 of the wasm. A cache hit neither reads nor hashes the wasm; pass `wasm = NULL`
/// (and `wasm_len = 0`) to ask for a hit only (`GASKET_ERROR_NOT_CACHED` on a miss). On a
/// miss with bytes, they must hash to `code_hash` (`GASKET_ERROR_CODE_HASH_MISMATCH`).
#[no_mangle]
pub extern "C" fn gasket_engine_load_by_hash(
    engine: *const GasketEngine,
    code_hash: *const u8,
    wasm: *const u8,
    wasm_len: usize,
    module: *mut *mut GasketModule,
    error: *mut *mut GasketError,
) -> GasketErrorCode {
    guard(error, || {
        let engine = object(engine, "engine")?;
        let hash: &[u8; 32] = bytes(code_hash, 32, "code_hash")?
            .try_into()
            .map_err(|_| Failure::invalid("code_hash must be 32 bytes"))?;
        let wasm = if wasm.is_null() {
            None
        } else {
            Some(bytes(wasm, wasm_len, "wasm")?)
        };
        let out = OutSlot::new(module, "module")?;
        let mut missed_without_bytes = false;
        let loaded = engine.engine.load_by_hash(hash, || match wasm {
            Some(w) => Cow::Borrowed(w),
            None => {
                missed_without_bytes = true;
                Cow::Borrowed(&[])
            }
        });
        match loaded {
            Ok(m) => new_module(out, m),
            Err(_) if missed_without_bytes => {
                return Err(Failure::new(
                    GasketErrorCode::GASKET_ERROR_NOT_CACHED,
                    "the code hash is not in the engine's memory cache; pass the wasm bytes",
                ))
            }
            Err(e) => return Err(e.into()),
        }
        Ok(())
    })
}

/// Copies the engine's cache counters into `*stats`.
#[no_mangle]
pub extern "C" fn gasket_engine_cache_stats(
    engine: *const GasketEngine,
    stats: *mut GasketCacheStats,
    error: *mut *mut GasketError,
) -> GasketErrorCode {
    guard(error, || {
        let engine = object(engine, "engine")?;
        let out = OutSlot::new(stats, "stats")?;
        let s = engine.engine.cache_stats();
        out.set(GasketCacheStats {
            compiles: s.compiles,
            memory_hits: s.memory_hits,
            disk_hits: s.disk_hits,
            disk_writes: s.disk_writes,
            disk_rejected: s.disk_rejected,
            disk_write_failures: s.disk_write_failures,
        });
        Ok(())
    })
}

/// Drops every module the engine's memory cache holds (the disk cache and modules the
/// caller holds stay valid).
#[no_mangle]
pub extern "C" fn gasket_engine_clear_memory_cache(
    engine: *const GasketEngine,
    error: *mut *mut GasketError,
) -> GasketErrorCode {
    guard(error, || {
        object(engine, "engine")?.engine.clear_memory_cache();
        Ok(())
    })
}

/// Serializes a module (with a checksum, for `gasket_module_deserialize`) into a new
/// buffer `*out`.
#[no_mangle]
pub extern "C" fn gasket_module_serialize(
    module: *const GasketModule,
    out: *mut *mut GasketBytes,
    error: *mut *mut GasketError,
) -> GasketErrorCode {
    guard(error, || {
        let module = object(module, "module")?;
        let out = OutSlot::new(out, "out")?;
        let data = module.module.serialize();
        out.set(Box::into_raw(Box::new(GasketBytes { data })));
        Ok(())
    })
}

/// Loads a serialized module after verifying its checksum, format, compiler, target and
/// profile against `engine` (`GASKET_ERROR_ARTIFACT` when any differs).
#[no_mangle]
pub extern "C" fn gasket_module_deserialize(
    engine: *const GasketEngine,
    data: *const u8,
    len: usize,
    module: *mut *mut GasketModule,
    error: *mut *mut GasketError,
) -> GasketErrorCode {
    module_from_bytes(engine, (data, len, "data"), module, error, |e, d| {
        Ok(Module::deserialize(e, d)?)
    })
}

/// Frees a module. NULL is ignored.
#[no_mangle]
pub extern "C" fn gasket_module_free(module: *mut GasketModule) {
    if !module.is_null() {
        // SAFETY: a live module from this library, freed once, as documented.
        drop(unsafe { Box::from_raw(module) });
    }
}

/// The buffer's bytes, valid until `gasket_bytes_free`; NULL if `bytes` is NULL.
#[no_mangle]
pub extern "C" fn gasket_bytes_data(bytes: *const GasketBytes) -> *const u8 {
    // SAFETY: NULL or a live buffer, as documented.
    unsafe { bytes.as_ref() }.map_or(std::ptr::null(), |b| b.data.as_ptr())
}

/// The buffer's length in bytes; 0 if `bytes` is NULL.
#[no_mangle]
pub extern "C" fn gasket_bytes_len(bytes: *const GasketBytes) -> usize {
    // SAFETY: NULL or a live buffer, as documented.
    unsafe { bytes.as_ref() }.map_or(0, |b| b.data.len())
}

/// Frees a buffer. NULL is ignored.
#[no_mangle]
pub extern "C" fn gasket_bytes_free(bytes: *mut GasketBytes) {
    if !bytes.is_null() {
        // SAFETY: a live buffer from this library, freed once, as documented.
        drop(unsafe { Box::from_raw(bytes) });
    }
}
