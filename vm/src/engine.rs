//! The engine: a profile plus the check that this machine can run Gasket's code, and the
//! target it compiles for (the host's: x86-64 or AArch64). Cheap to clone and shared by
//! every module compiled with it.

use std::sync::Arc;

use gasket_metering::{PreparedModule, Profile};
use gasket_singlepass::Target;

use crate::cache::EngineCache;
use crate::error::{EngineError, LoadError};
use crate::module::Module;
use crate::pool::{Pool, PoolConfig};

/// Everything an engine can be configured with besides its profile
/// ([`Engine::with_options`]).
#[derive(Clone, Debug, Default)]
pub struct EngineOptions {
    /// The disk cache directory ([`Engine::with_cache_dir`]); `None`: memory only.
    pub cache_dir: Option<std::path::PathBuf>,
    /// How instance memories and stacks are pooled.
    pub pool: PoolConfig,
    /// Threads compiling a module's function bodies (0 or 1, the default: the calling
    /// thread alone). The artifact is the same whatever the count (see
    /// `gasket_singlepass::CompileOptions::threads`).
    pub compile_threads: usize,
}

/// The state of an engine's instance pool ([`Engine::pool_stats`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PoolStats {
    /// Instances alive now.
    pub live_instances: usize,
    /// Scrubbed memory reservations waiting for reuse.
    pub idle_memories: usize,
    /// Scrubbed native stacks waiting for reuse.
    pub idle_stacks: usize,
}

/// Compiles modules under one [`Profile`]. `Send + Sync`; clones share the same profile.
#[derive(Clone, Debug)]
pub struct Engine {
    inner: Arc<EngineInner>,
}

#[derive(Debug)]
struct EngineInner {
    profile: Profile,
    /// What modules are compiled for: the host's ISA, or the backend's.
    target: Target,
    cache: EngineCache,
    /// Memories and stacks reused by the instances of every module of this engine.
    pool: Arc<Pool>,
    /// How modules are compiled (threads).
    compile: gasket_singlepass::CompileOptions,
    /// Runs calls instead of the native trampoline (and sets the target).
    #[cfg(feature = "call-backend")]
    backend: Option<Arc<dyn crate::call_backend::CallBackend>>,
}

impl Engine {
    /// An engine for `profile`, compiling for this machine ([`Target::host`]). Fails on
    /// machines generated code cannot run on (neither x86-64 nor AArch64, or an x86-64 CPU
    /// without POPCNT), so that problem surfaces once, at startup, not as a crash.
    pub fn new(profile: Profile) -> Result<Engine, EngineError> {
        Engine::with_options(profile, EngineOptions::default())
    }

    /// An engine for `profile` with a disk cache and pool configured by `options`.
    pub fn with_options(profile: Profile, options: EngineOptions) -> Result<Engine, EngineError> {
        let cache = match options.cache_dir {
            Some(dir) => EngineCache::with_dir(dir),
            None => EngineCache::default(),
        };
        let target = check_host()?;
        Ok(Engine {
            inner: Arc::new(EngineInner {
                profile,
                target,
                cache,
                pool: Arc::new(Pool::new(options.pool)),
                compile: compile_options(options.compile_threads),
                #[cfg(feature = "call-backend")]
                backend: None,
            }),
        })
    }

    pub(crate) fn cache(&self) -> &EngineCache {
        &self.inner.cache
    }

    pub(crate) fn pool(&self) -> &Arc<Pool> {
        &self.inner.pool
    }

    /// The pool's configuration.
    pub fn pool_config(&self) -> PoolConfig {
        *self.inner.pool.config()
    }

    /// Instances alive and idle resources of the pool, for monitoring and tests.
    pub fn pool_stats(&self) -> PoolStats {
        let (idle_memories, idle_stacks) = self.inner.pool.idle();
        PoolStats {
            live_instances: self.inner.pool.live(),
            idle_memories,
            idle_stacks,
        }
    }

    /// An engine compiling for `backend`'s target whose instances run every call through
    /// `backend` (see [`call_backend`](crate::call_backend)). Not a stable API.
    #[cfg(feature = "call-backend")]
    #[doc(hidden)]
    pub fn with_backend(
        profile: Profile,
        backend: Arc<dyn crate::call_backend::CallBackend>,
    ) -> Engine {
        Engine {
            inner: Arc::new(EngineInner {
                profile,
                target: backend.target(),
                cache: EngineCache::default(),
                pool: Arc::new(Pool::new(PoolConfig::default())),
                compile: compile_options(1),
                backend: Some(backend),
            }),
        }
    }

    #[cfg(feature = "call-backend")]
    pub(crate) fn backend(&self) -> Option<&Arc<dyn crate::call_backend::CallBackend>> {
        self.inner.backend.as_ref()
    }

    /// The profile modules are prepared with.
    pub fn profile(&self) -> &Profile {
        &self.inner.profile
    }

    /// The target this engine compiles to: the host's ([`Target::host`]), or a call
    /// backend's.
    pub fn target(&self) -> Target {
        self.inner.target
    }

    /// Validates and instruments `wasm` under the profile, compiles it and maps the code.
    ///
    /// The module is validated once, by `prepare`: the compiler trusts the instrumented
    /// module `prepare` has just written (`ARCHITECTURE.md`, "Validation once per
    /// compile").
    pub fn compile(&self, wasm: &[u8]) -> Result<Module, LoadError> {
        let (
            PreparedModule {
                wasm: instrumented,
                info,
            },
            uses,
        ) = gasket_metering::prepare_with_uses(wasm, self.profile())?;
        // SAFETY: `instrumented` is `prepare`'s own output, written a line above from a
        // module its validator accepted under the profile's features (a subset of the
        // compiler's): the original sections re-encoded and the original bodies copied
        // between type-neutral injected instructions, so it is valid (checked under
        // debug assertions in `prepare` and by the `compile` fuzz target).
        let trusted = unsafe { gasket_singlepass::PrevalidatedWasm::new_unchecked(&instrumented) };
        // The walk's local use counts of these very bytes: no body is scanned again.
        let trusted = trusted.with_local_uses(&uses);
        let compiled = gasket_singlepass::compile_prevalidated_buffered_with(
            trusted,
            self.target(),
            &self.inner.compile,
        )?;
        drop((instrumented, uses));
        // The code's pages become executable where they were written: never held twice.
        Module::from_buffered(self, compiled, info)
    }

    /// Compiles a module already prepared under this engine's profile (for callers that
    /// inspect the `PreparedModule` first, like the CLI). A `PreparedModule` is a plain
    /// struct anyone can fill, so its wasm is validated again.
    pub fn compile_prepared(&self, prepared: PreparedModule) -> Result<Module, LoadError> {
        let compiled = gasket_singlepass::compile_buffered_with(
            &prepared.wasm,
            self.target(),
            &self.inner.compile,
        )?;
        drop(prepared.wasm);
        Module::from_buffered(self, compiled, prepared.info)
    }
}

/// The compile options of an engine compiling on `threads` threads (0 counts as 1).
fn compile_options(threads: usize) -> gasket_singlepass::CompileOptions {
    gasket_singlepass::CompileOptions {
        threads: threads.max(1),
        ..Default::default()
    }
}

/// The host's target, if generated code can run here.
#[cfg(target_arch = "x86_64")]
fn check_host() -> Result<Target, EngineError> {
    if !std::arch::is_x86_feature_detected!("popcnt") {
        return Err(EngineError::MissingCpuFeature { feature: "popcnt" });
    }
    // `roundss`/`roundsd` for ceil, floor, trunc and nearest.
    if !std::arch::is_x86_feature_detected!("sse4.1") {
        return Err(EngineError::MissingCpuFeature { feature: "sse4.1" });
    }
    Ok(Target::X86_64)
}

/// The host's target, if generated code can run here. The AArch64 backend uses ARMv8.0-A
/// with Advanced SIMD (`cnt` for popcount), which every AArch64 Linux or macOS machine
/// has, so there is nothing to detect. Code memory flushes the instruction cache (see
/// `code_memory`).
#[cfg(target_arch = "aarch64")]
fn check_host() -> Result<Target, EngineError> {
    Ok(Target::Aarch64)
}

#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
fn check_host() -> Result<Target, EngineError> {
    Err(EngineError::UnsupportedArchitecture {
        arch: std::env::consts::ARCH,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn engine_is_send_sync_and_rejects_bad_modules_with_a_kind() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<Engine>();
        let engine = Engine::new(Profile::contract()).unwrap();
        assert_eq!(Some(engine.target()), Target::host());
        let err = engine.compile(b"not wasm").unwrap_err();
        assert!(matches!(err, LoadError::Rejected(_)));
        assert_eq!(err.kind(), "invalid_module");
        let floats =
            wat::parse_str("(module (func (export \"f\") (result f32) f32.const 1))").unwrap();
        assert!(engine.compile(&floats).is_ok());
        let strict = Profile::contract().with_floats(gasket_metering::FloatPolicy::Reject);
        assert_eq!(
            Engine::new(strict)
                .unwrap()
                .compile(&floats)
                .unwrap_err()
                .kind(),
            "floats_not_allowed"
        );
    }
}
