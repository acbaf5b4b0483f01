//! Serialized modules and the engine's artifact cache.
//!
//! # Serialized module format (version 4)
//!
//! A fixed 105-byte header, borsh-encoded (every field has a fixed size), then the payload:
//!
//! | bytes | field |
//! |---|---|
//! | 0..8 | magic `GASKETMD` |
//! | 8..12 | [`SERIALIZED_FORMAT_VERSION`] (u32 LE) |
//! | 12..16 | the compiler's `ARTIFACT_FORMAT_VERSION` (u32 LE) |
//! | 16..48 | [`COMPILER_VERSION`], NUL-padded |
//! | 48 | target (0 = x86_64, 1 = aarch64) |
//! | 49..81 | the profile fingerprint (`Profile::fingerprint`) |
//! | 81..89 | payload length (u64 LE) |
//! | 89..105 | XXH3-128 of bytes 0..89 followed by the payload (u128 LE) |
//! | 105.. | payload: borsh `(ModuleInfo, Artifact)` (without the code), zeros up to an offset that is a multiple of [`CODE_ALIGN`], then the code |
//!
//! [`Module::deserialize`] checks, in this order, the magic, the versions, the target, the
//! profile, the length and the checksum, and only then decodes the payload and maps its
//! code executable ([`Module::deserialize_file`] maps it straight from the file: the code
//! is page-aligned in it for that). Each failure is a typed [`ArtifactError`]; nothing of
//! a rejected artifact ever runs. The checksum detects corruption and truncation (a crash, a bad
//! disk, a partial copy), not an attacker who can write the cache directory: that
//! directory must be as trusted as the node's binary. That is why it is XXH3-128 (version
//! 1 used SHA-256): it runs at memory speed (SHA-256 was half of a 300 KB module's disk
//! load), and 128 bits make an undetected random corruption negligible.
//!
//! # The engine cache
//!
//! [`Engine::load`] compiles a module at most once per engine: modules are kept in memory
//! under a key (see [`Engine::cache_key`]); an engine made with
//! [`Engine::with_cache_dir`] also keeps serialized modules in that directory, named
//! `<hex key>.gasket`, written to a temporary file, synced and renamed into place, so a
//! crash mid-write leaves at worst a `.tmp` file that no load ever reads. A file that fails
//! verification is ignored, recompiled and replaced. Threads loading the same contract at
//! once wait for one compilation.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};

use borsh::{BorshDeserialize, BorshSerialize};
use gasket_metering::{ModuleInfo, Profile};
use gasket_singlepass::{Artifact, Target, ARTIFACT_FORMAT_VERSION};
use sha2::{Digest, Sha256};

use crate::code_memory::CodeMemory;
use crate::engine::Engine;
use crate::error::LoadError;
use crate::module::Module;

/// Version of the serialized-module container (the header above) and of its borsh
/// `(ModuleInfo, Artifact)` payload. 2: the XXH3-128 checksum; 3: `ImportInfo::near_function`
/// (the NEAR-compatible ABI); 4: the code after the borsh part, copied from the file
/// straight into executable memory. A module cached by an older Gasket is recompiled,
/// never misread.
pub const SERIALIZED_FORMAT_VERSION: u32 = 4;

/// The compiler that produced an artifact; artifacts from another version are rejected.
pub const COMPILER_VERSION: &str = concat!("gasket-singlepass ", env!("CARGO_PKG_VERSION"));

/// The first bytes of every serialized module.
pub const MAGIC: [u8; 8] = *b"GASKETMD";

/// Length of the header in bytes.
pub const HEADER_LEN: usize = 105;

/// Byte ranges of the header fields, for tests and tools.
pub mod layout {
    use std::ops::Range;
    /// Magic.
    pub const MAGIC: Range<usize> = 0..8;
    /// Container format version.
    pub const FORMAT_VERSION: Range<usize> = 8..12;
    /// Artifact format version.
    pub const ARTIFACT_FORMAT: Range<usize> = 12..16;
    /// Compiler version.
    pub const COMPILER: Range<usize> = 16..48;
    /// Target.
    pub const TARGET: Range<usize> = 48..49;
    /// Profile fingerprint.
    pub const PROFILE: Range<usize> = 49..81;
    /// Payload length.
    pub const PAYLOAD_LEN: Range<usize> = 81..89;
    /// XXH3-128 checksum.
    pub const HASH: Range<usize> = 89..105;
}

/// Why a serialized module was refused. None of them ever runs any of its code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ArtifactError {
    /// The bytes do not start with the magic.
    #[error("not a serialized Gasket module (bad magic); compile the wasm with `gasket compile`")]
    NotAnArtifact,
    /// Fewer bytes than the header announces.
    #[error("serialized module is truncated: {found} bytes, expected {expected}; recompile it")]
    Truncated {
        /// Bytes the header announces.
        expected: u64,
        /// Bytes present.
        found: u64,
    },
    /// A container or artifact format this runtime does not read.
    #[error(
        "serialized module has {what} version {found}, this runtime reads {expected}; recompile it"
    )]
    WrongVersion {
        /// `format` or `artifact format`.
        what: &'static str,
        /// Version found.
        found: u32,
        /// Version supported.
        expected: u32,
    },
    /// Produced by another compiler version.
    #[error(
        "serialized module was compiled by {found:?}, this runtime is {expected:?}; recompile it"
    )]
    WrongCompiler {
        /// The compiler recorded in the header.
        found: String,
        /// This runtime's compiler.
        expected: &'static str,
    },
    /// Compiled for another machine.
    #[error("serialized module targets {found}, this engine runs {expected}; recompile it for this machine")]
    WrongTarget {
        /// Target in the header (or `unknown(N)`).
        found: String,
        /// The engine's target.
        expected: &'static str,
    },
    /// Prepared under a different profile (limits, prices, imports) than the engine's.
    #[error("serialized module was prepared under another profile (fingerprint {found}), this engine's is {expected}; recompile it with this engine")]
    WrongProfile {
        /// Fingerprint in the header, hex.
        found: String,
        /// The engine's, hex.
        expected: String,
    },
    /// Bytes after the payload.
    #[error("serialized module has {0} bytes after its payload; it is corrupt")]
    TrailingBytes(u64),
    /// The checksum does not match: the bytes were corrupted.
    #[error("serialized module is corrupt: its checksum does not match; recompile it")]
    ChecksumMismatch,
    /// The payload passed the hash but does not decode (written by a buggy producer).
    #[error("serialized module payload is malformed: {0}")]
    Malformed(String),
}

impl ArtifactError {
    /// Stable snake_case kind.
    pub fn kind(&self) -> &'static str {
        match self {
            ArtifactError::NotAnArtifact => "not_an_artifact",
            ArtifactError::Truncated { .. } => "truncated_artifact",
            ArtifactError::WrongVersion { .. } => "wrong_artifact_version",
            ArtifactError::WrongCompiler { .. } => "wrong_compiler_version",
            ArtifactError::WrongTarget { .. } => "wrong_target",
            ArtifactError::WrongProfile { .. } => "wrong_profile",
            ArtifactError::TrailingBytes(_) => "corrupt_artifact",
            ArtifactError::ChecksumMismatch => "corrupt_artifact",
            ArtifactError::Malformed(_) => "malformed_artifact",
        }
    }
}

#[derive(BorshSerialize, BorshDeserialize)]
struct Header {
    magic: [u8; 8],
    format_version: u32,
    artifact_format: u32,
    compiler: [u8; 32],
    target: u8,
    profile: [u8; 32],
    payload_len: u64,
    checksum: [u8; 16],
}

fn compiler_field() -> [u8; 32] {
    let mut field = [0u8; 32];
    let bytes = COMPILER_VERSION.as_bytes();
    let n = bytes.len().min(32);
    field[..n].copy_from_slice(&bytes[..n]);
    field
}

fn target_code(target: Target) -> u8 {
    match target {
        Target::X86_64 => 0,
        Target::Aarch64 => 1,
    }
}

/// The header's checksum field for a header prefix (bytes `0..layout::HASH.start`) and
/// a payload: XXH3-128, little endian (for tools that rewrite a header, like the fuzzer).
pub fn checksum(header_prefix: &[u8], payload: &[u8]) -> [u8; 16] {
    let mut h = twox_hash::XxHash3_128::new();
    h.write(header_prefix);
    h.write(payload);
    h.finish_128().to_le_bytes()
}

/// Serializes a compiled artifact and its module info (for a module compiled for another
/// target, which cannot be mapped here; [`Module::serialize`] is the usual way).
pub fn serialize_parts(artifact: &Artifact, info: &ModuleInfo, profile: &Profile) -> Vec<u8> {
    encode(artifact, &artifact.code, info, profile)
}

/// The code's offset in a serialized module is a multiple of this, so a system with pages
/// of this size (or smaller) maps the code straight from a cache file.
pub const CODE_ALIGN: usize = 4096;

/// Zero bytes between the borsh part of the payload, ending at `end` (an offset in the
/// serialized module), and the code.
fn code_padding(end: usize) -> usize {
    end.next_multiple_of(CODE_ALIGN) - end
}

/// The serialized form of `artifact` (whose own `code` is ignored) with `code`: the header,
/// then the payload: borsh `(info, artifact)`, zeros up to a multiple of [`CODE_ALIGN`],
/// the code.
fn encode(artifact: &Artifact, code: &[u8], info: &ModuleInfo, profile: &Profile) -> Vec<u8> {
    let mut payload =
        borsh::to_vec(&(info, artifact)).expect("borsh encoding into a Vec cannot fail");
    let padding = code_padding(HEADER_LEN + payload.len());
    payload.resize(payload.len() + padding, 0);
    payload.extend_from_slice(code);
    let mut header = Header {
        magic: MAGIC,
        format_version: SERIALIZED_FORMAT_VERSION,
        artifact_format: artifact.format_version,
        compiler: compiler_field(),
        target: target_code(artifact.target),
        profile: profile.fingerprint(),
        payload_len: payload.len() as u64,
        checksum: [0; 16],
    };
    let mut out = borsh::to_vec(&header).expect("borsh encoding into a Vec cannot fail");
    header.checksum = checksum(&out[..layout::HASH.start], &payload);
    out[layout::HASH].copy_from_slice(&header.checksum);
    debug_assert_eq!(out.len(), HEADER_LEN);
    out.extend_from_slice(&payload);
    out
}

/// Verifies a serialized module against `engine` (target, profile) and decodes it,
/// without mapping anything.
pub fn verify(engine: &Engine, bytes: &[u8]) -> Result<(ModuleInfo, Artifact), ArtifactError> {
    let (info, mut artifact, code) = verify_parts(engine, bytes)?;
    artifact.code = code.to_vec();
    Ok((info, artifact))
}

/// [`verify`], with the code left in `bytes` (the artifact's own `code` is empty).
fn verify_parts<'a>(
    engine: &Engine,
    bytes: &'a [u8],
) -> Result<(ModuleInfo, Artifact, &'a [u8]), ArtifactError> {
    let present = bytes.len().min(MAGIC.len());
    if bytes[..present] != MAGIC[..present] {
        return Err(ArtifactError::NotAnArtifact);
    }
    if bytes.len() < HEADER_LEN {
        return Err(ArtifactError::Truncated {
            expected: HEADER_LEN as u64,
            found: bytes.len() as u64,
        });
    }
    let header = Header::try_from_slice(&bytes[..HEADER_LEN])
        .map_err(|e| ArtifactError::Malformed(e.to_string()))?;
    if header.format_version != SERIALIZED_FORMAT_VERSION {
        return Err(ArtifactError::WrongVersion {
            what: "format",
            found: header.format_version,
            expected: SERIALIZED_FORMAT_VERSION,
        });
    }
    if header.artifact_format != ARTIFACT_FORMAT_VERSION {
        return Err(ArtifactError::WrongVersion {
            what: "artifact format",
            found: header.artifact_format,
            expected: ARTIFACT_FORMAT_VERSION,
        });
    }
    if header.compiler != compiler_field() {
        let end = header.compiler.iter().position(|&b| b == 0).unwrap_or(32);
        return Err(ArtifactError::WrongCompiler {
            found: String::from_utf8_lossy(&header.compiler[..end]).into_owned(),
            expected: COMPILER_VERSION,
        });
    }
    let expected_target = engine.target();
    if header.target != target_code(expected_target) {
        let found = match header.target {
            0 => "x86_64".to_string(),
            1 => "aarch64".to_string(),
            n => format!("unknown({n})"),
        };
        return Err(ArtifactError::WrongTarget {
            found,
            expected: expected_target.as_str(),
        });
    }
    let fingerprint = engine.profile().fingerprint();
    if header.profile != fingerprint {
        return Err(ArtifactError::WrongProfile {
            found: to_hex(&header.profile),
            expected: to_hex(&fingerprint),
        });
    }
    let payload = &bytes[HEADER_LEN..];
    let found = payload.len() as u64;
    if found < header.payload_len {
        return Err(ArtifactError::Truncated {
            expected: HEADER_LEN as u64 + header.payload_len,
            found: bytes.len() as u64,
        });
    }
    if found > header.payload_len {
        return Err(ArtifactError::TrailingBytes(found - header.payload_len));
    }
    if checksum(&bytes[..layout::HASH.start], payload) != header.checksum {
        return Err(ArtifactError::ChecksumMismatch);
    }
    let mut rest = payload;
    let (info, artifact) = <(ModuleInfo, Artifact)>::deserialize(&mut rest)
        .map_err(|e| ArtifactError::Malformed(e.to_string()))?;
    if artifact.target != expected_target || artifact.format_version != header.artifact_format {
        return Err(ArtifactError::Malformed(
            "payload disagrees with the header".into(),
        ));
    }
    let padding = code_padding(bytes.len() - rest.len());
    match rest.split_at_checked(padding) {
        Some((zeros, code)) if zeros.iter().all(|&b| b == 0) => Ok((info, artifact, code)),
        _ => Err(ArtifactError::Malformed(
            "no code, or non-zero bytes before it".into(),
        )),
    }
}

fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl Module {
    /// The module in the serialized format above: store it, then
    /// [`Module::deserialize`] it with an engine of the same profile and target.
    pub fn serialize(&self) -> Vec<u8> {
        encode(self.artifact(), self.code(), self.info(), self.profile())
    }

    /// Verifies (see the module docs) and maps a serialized module. A corrupt, truncated,
    /// wrong-version, wrong-target or wrong-profile input is a `LoadError::Artifact`.
    pub fn deserialize(engine: &Engine, bytes: &[u8]) -> Result<Module, LoadError> {
        let (info, artifact, code) = verify_parts(engine, bytes)?;
        Module::from_parts(engine, artifact, code.len(), || CodeMemory::new(code), info)
    }
}

/// A cache file mapped read-only (and populated in one go), so verifying and decoding it
/// reads the page cache directly: no copy into a buffer, no fresh pages to fault in.
///
/// The cache replaces files by rename, never writes one in place, so a mapped file never
/// shrinks under the reader (a file truncated in place by someone else would fault: the
/// directory must be as trusted as the node's binary, see the module docs).
struct MappedFile {
    file: std::fs::File,
    ptr: *mut libc::c_void,
    len: usize,
}

impl MappedFile {
    fn open(path: &Path) -> std::io::Result<MappedFile> {
        use std::os::fd::AsRawFd;
        let file = std::fs::File::open(path)?;
        let len = usize::try_from(file.metadata()?.len())
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::OutOfMemory, "file too large"))?;
        if len == 0 {
            return Ok(MappedFile {
                file,
                ptr: std::ptr::null_mut(),
                len: 0,
            });
        }
        // SAFETY: a fresh read-only private mapping of a file we opened, at an address of
        // the kernel's choosing; it aliases nothing and is unmapped in `drop`.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ,
                libc::MAP_PRIVATE | libc::MAP_POPULATE,
                file.as_raw_fd(),
                0,
            )
        };
        if ptr == libc::MAP_FAILED {
            return Err(std::io::Error::last_os_error());
        }
        Ok(MappedFile { file, ptr, len })
    }

    fn bytes(&self) -> &[u8] {
        if self.len == 0 {
            return &[];
        }
        // SAFETY: `len` readable bytes are mapped at `ptr` for the lifetime of `self`.
        unsafe { std::slice::from_raw_parts(self.ptr.cast::<u8>(), self.len) }
    }
}

impl Drop for MappedFile {
    fn drop(&mut self) {
        if self.len != 0 {
            // SAFETY: the mapping created in `open`; no slice of it outlives `self`.
            unsafe { libc::munmap(self.ptr, self.len) };
        }
    }
}

impl Module {
    /// [`Module::deserialize`] of a file, mapped rather than read (the disk cache's path):
    /// read once, checksummed once, decoded, and its code mapped executable straight from
    /// the file (no copy; copied where the system refuses, see [`CodeMemory::map_file`]).
    /// An I/O error is `Err(Ok(io))`; a refused artifact `Err(Err(load))`.
    pub fn deserialize_file(
        engine: &Engine,
        path: &Path,
    ) -> Result<Module, Result<std::io::Error, LoadError>> {
        let file = MappedFile::open(path).map_err(Ok)?;
        let bytes = file.bytes();
        let (info, artifact, code) = verify_parts(engine, bytes).map_err(|e| Err(e.into()))?;
        let offset = (bytes.len() - code.len()) as u64;
        let map = || {
            CodeMemory::map_file(&file.file, offset, code.len()).or_else(|_| CodeMemory::new(code))
        };
        Module::from_parts(engine, artifact, code.len(), map, info).map_err(Err)
    }
}

/// Counters of an engine's cache.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CacheStats {
    /// Modules compiled by [`Engine::load`].
    pub compiles: u64,
    /// Loads answered from memory.
    pub memory_hits: u64,
    /// Loads answered from the disk cache.
    pub disk_hits: u64,
    /// Files written to the disk cache.
    pub disk_writes: u64,
    /// Disk files that failed verification (and were replaced).
    pub disk_rejected: u64,
    /// Writes to the disk cache that failed (directory unwritable, disk full, an I/O
    /// error): the module was still loaded and is kept in memory; only a later process
    /// recompiles it. Nothing half-written is ever loaded (files are renamed into place).
    pub disk_write_failures: u64,
}

type Slot = Arc<Mutex<Option<Module>>>;

/// The engine's cache state.
#[derive(Debug, Default)]
pub(crate) struct EngineCache {
    dir: Option<PathBuf>,
    slots: Mutex<HashMap<[u8; 32], Slot>>,
    /// Modules by the code hash the node gave ([`Engine::load_by_hash`]): a hit costs a
    /// read lock and a map lookup, no hashing of the wasm.
    by_hash: RwLock<HashMap<[u8; 32], Module>>,
    compiles: AtomicU64,
    memory_hits: AtomicU64,
    disk_hits: AtomicU64,
    disk_writes: AtomicU64,
    disk_rejected: AtomicU64,
    disk_write_failures: AtomicU64,
}

impl EngineCache {
    pub(crate) fn with_dir(dir: PathBuf) -> EngineCache {
        EngineCache {
            dir: Some(dir),
            ..EngineCache::default()
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

static TMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// Writes `bytes` to `path` atomically: a uniquely named temporary file in the same
/// directory, synced, then renamed over `path`.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    // A device or a pipe (`-o /dev/null`) is written to, never replaced: renaming a file
    // over it would turn `/dev/null` into a regular file for the whole machine.
    if std::fs::metadata(path).is_ok_and(|m| !m.is_file() && !m.is_dir()) {
        return std::fs::OpenOptions::new()
            .write(true)
            .open(path)?
            .write_all(bytes);
    }
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let name = path
        .file_name()
        .map_or_else(|| "file".into(), |n| n.to_string_lossy());
    let tmp = dir.join(format!(
        ".{name}.{}.{}.tmp",
        std::process::id(),
        TMP_COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        drop(f);
        std::fs::rename(&tmp, path)?;
        if let Ok(d) = std::fs::File::open(dir) {
            let _ = d.sync_all();
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

impl Engine {
    /// An engine whose [`Engine::load`] also keeps serialized modules in `dir` (created
    /// when first written).
    pub fn with_cache_dir(
        profile: Profile,
        dir: impl Into<PathBuf>,
    ) -> Result<Engine, crate::error::EngineError> {
        Engine::with_options(
            profile,
            crate::engine::EngineOptions {
                cache_dir: Some(dir.into()),
                ..Default::default()
            },
        )
    }

    /// The cache key of `wasm` under this engine:
    /// SHA-256(wasm ‖ profile fingerprint ‖ cost table version ‖ compiler version ‖
    /// target), with lengths and a domain tag so no two inputs collide by concatenation.
    pub fn cache_key(&self, wasm: &[u8]) -> [u8; 32] {
        let mut h = Sha256::new();
        h.update(b"gasket-cache-key/1\0");
        h.update((wasm.len() as u64).to_le_bytes());
        h.update(wasm);
        h.update(self.profile().fingerprint());
        h.update(self.profile().costs.version.to_le_bytes());
        h.update(COMPILER_VERSION.as_bytes());
        h.update([0]);
        h.update(ARTIFACT_FORMAT_VERSION.to_le_bytes());
        h.update(self.target().as_str().as_bytes());
        h.finalize().into()
    }

    /// The disk cache directory, if any.
    pub fn cache_dir(&self) -> Option<&Path> {
        self.cache().dir.as_deref()
    }

    /// The file a module with this key is cached in (with a disk cache).
    pub fn cache_path(&self, key: &[u8; 32]) -> Option<PathBuf> {
        Some(self.cache_dir()?.join(format!("{}.gasket", to_hex(key))))
    }

    /// Like [`Engine::compile`], through the cache: from memory, else from the disk cache
    /// (verified), else compiled (once, however many threads ask at the same time) and
    /// stored in both. Rejections are not cached.
    pub fn load(&self, wasm: &[u8]) -> Result<Module, LoadError> {
        let cache = self.cache();
        let key = self.cache_key(wasm);
        let slot = lock(&cache.slots).entry(key).or_default().clone();
        let mut guard = lock(&slot);
        if let Some(module) = &*guard {
            cache.memory_hits.fetch_add(1, Ordering::Relaxed);
            return Ok(module.clone());
        }
        let path = self.cache_path(&key);
        if let Some(path) = &path {
            match Module::deserialize_file(self, path) {
                Ok(module) => {
                    cache.disk_hits.fetch_add(1, Ordering::Relaxed);
                    *guard = Some(module.clone());
                    return Ok(module);
                }
                Err(Err(_)) => {
                    cache.disk_rejected.fetch_add(1, Ordering::Relaxed);
                }
                // Absent (first load) or unreadable: compile.
                Err(Ok(_)) => {}
            }
        }
        let module = match self.compile(wasm) {
            Ok(module) => module,
            Err(e) => {
                drop(guard);
                let mut slots = lock(&cache.slots);
                if slots
                    .get(&key)
                    .is_some_and(|s| Arc::ptr_eq(s, &slot) && lock(s).is_none())
                {
                    slots.remove(&key);
                }
                return Err(e);
            }
        };
        cache.compiles.fetch_add(1, Ordering::Relaxed);
        if let Some(path) = &path {
            // A failed write only costs a recompilation later.
            let written = path
                .parent()
                .map_or(Ok(()), std::fs::create_dir_all)
                .and_then(|()| write_atomically(path, &module.serialize()));
            let counter = if written.is_ok() {
                &cache.disk_writes
            } else {
                &cache.disk_write_failures
            };
            counter.fetch_add(1, Ordering::Relaxed);
        }
        *guard = Some(module.clone());
        Ok(module)
    }

    /// Like [`Engine::load`], for a node that stores code by hash: `code_hash` is the
    /// SHA-256 of the wasm, and `wasm` is asked for the bytes only on a miss. A hit costs
    /// a map lookup whatever the module's size (the wasm is neither read nor hashed); a
    /// miss checks that the bytes hash to `code_hash` (else
    /// [`LoadError::CodeHashMismatch`], nothing cached) and loads them through
    /// [`Engine::load`] (memory, disk, compile). Callers with bytes only use
    /// [`Engine::load`].
    pub fn load_by_hash<'w>(
        &self,
        code_hash: &[u8; 32],
        wasm: impl FnOnce() -> std::borrow::Cow<'w, [u8]>,
    ) -> Result<Module, LoadError> {
        let cache = self.cache();
        let hit = cache
            .by_hash
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(code_hash)
            .cloned();
        if let Some(module) = hit {
            cache.memory_hits.fetch_add(1, Ordering::Relaxed);
            return Ok(module);
        }
        let wasm = wasm();
        let found: [u8; 32] = Sha256::digest(&wasm).into();
        if found != *code_hash {
            return Err(LoadError::CodeHashMismatch {
                expected: to_hex(code_hash),
                found: to_hex(&found),
            });
        }
        let module = self.load(&wasm)?;
        cache
            .by_hash
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(*code_hash, module.clone());
        Ok(module)
    }

    /// The cache's counters.
    pub fn cache_stats(&self) -> CacheStats {
        let c = self.cache();
        CacheStats {
            compiles: c.compiles.load(Ordering::Relaxed),
            memory_hits: c.memory_hits.load(Ordering::Relaxed),
            disk_hits: c.disk_hits.load(Ordering::Relaxed),
            disk_writes: c.disk_writes.load(Ordering::Relaxed),
            disk_rejected: c.disk_rejected.load(Ordering::Relaxed),
            disk_write_failures: c.disk_write_failures.load(Ordering::Relaxed),
        }
    }

    /// Drops every module held in memory (the disk cache stays).
    pub fn clear_memory_cache(&self) {
        lock(&self.cache().slots).clear();
        self.cache()
            .by_hash
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
    }
}
