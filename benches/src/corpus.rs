//! The compile-throughput corpus run (`compile_loop corpus`, issue 17): every `.wasm`
//! under a directory compiled end to end a number of times, timed in user CPU time, so
//! the corpus's aggregate rate (bytes of the contracts that compile ÷ their user time)
//! can be set against the generated module's.

use std::path::{Path, PathBuf};
use std::time::Duration;

/// The `.wasm` files under `dir`, recursively, in path order (so two runs list the same
/// files in the same order).
pub fn wasm_files(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir)? {
            let path = entry?.path();
            if path.is_dir() {
                pending.push(path);
            } else if path.extension().is_some_and(|e| e == "wasm") {
                files.push(path);
            }
        }
    }
    files.sort();
    Ok(files)
}

/// User CPU time the process has used so far (`getrusage`: system time, such as the
/// kernel's work mapping code, is left out, as `/usr/bin/time`'s user figure does).
pub fn user_time() -> Duration {
    // SAFETY: `rusage` is plain old data; all-zero bytes are a valid value.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `usage` is a valid, writable rusage; RUSAGE_SELF is a constant Linux knows.
    let rc = unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) };
    assert_eq!(rc, 0, "getrusage(RUSAGE_SELF)");
    Duration::new(
        usage.ru_utime.tv_sec as u64,
        usage.ru_utime.tv_usec as u32 * 1000,
    )
}

/// One file's result: its size and the user time of one compile, or why it does not
/// compile.
pub struct FileRate {
    pub path: PathBuf,
    pub bytes: usize,
    pub per_compile: Result<Duration, String>,
}

impl FileRate {
    /// Megabytes (10⁶ bytes) per second of user time, when the file compiles.
    pub fn mb_per_s(&self) -> Option<f64> {
        let time = self.per_compile.as_ref().ok()?;
        Some(self.bytes as f64 / time.as_secs_f64() / 1e6)
    }
}

/// The aggregate of `rates`: total bytes of the files that compile, their total user time
/// per compile, and the rate in MB/s.
pub fn aggregate(rates: &[FileRate]) -> (usize, Duration, f64) {
    let (bytes, time) = rates
        .iter()
        .filter_map(|r| Some((r.bytes, *r.per_compile.as_ref().ok()?)))
        .fold((0, Duration::ZERO), |(b, t), (bytes, time)| {
            (b + bytes, t + time)
        });
    let rate = bytes as f64 / time.as_secs_f64().max(f64::MIN_POSITIVE) / 1e6;
    (bytes, time, rate)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aggregate_counts_only_files_that_compile() {
        let rates = [
            FileRate {
                path: "a.wasm".into(),
                bytes: 2_000_000,
                per_compile: Ok(Duration::from_millis(50)),
            },
            FileRate {
                path: "b.wasm".into(),
                bytes: 1_000_000,
                per_compile: Err("invalid".into()),
            },
            FileRate {
                path: "c.wasm".into(),
                bytes: 2_000_000,
                per_compile: Ok(Duration::from_millis(150)),
            },
        ];
        let (bytes, time, rate) = aggregate(&rates);
        assert_eq!(bytes, 4_000_000);
        assert_eq!(time, Duration::from_millis(200));
        assert!((rate - 20.0).abs() < 1e-9, "{rate}");
        assert_eq!(rates[1].mb_per_s(), None);
        assert!((rates[0].mb_per_s().unwrap() - 40.0).abs() < 1e-9);
    }

    #[test]
    fn user_time_advances_while_computing() {
        let before = user_time();
        let start = std::time::Instant::now();
        let mut x = 0u64;
        while user_time() == before && start.elapsed() < Duration::from_secs(10) {
            for _ in 0..100_000 {
                x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
            }
        }
        assert!(
            user_time() > before,
            "no user time counted in 10 s of computing"
        );
    }
}
