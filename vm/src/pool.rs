//! The engine's pool of instance resources: linear-memory reservations and native stacks,
//! reused from one instance to the next instead of mapped and unmapped each time.
//!
//! Why: mapping, protecting and unmapping a reservation per instance costs several system
//! calls, and every `munmap` (or `madvise(MADV_DONTNEED)`) of pages another CPU may have
//! cached sends it a TLB-shootdown interrupt, so instances created on two threads
//! serialise each other (measured: `flush_tlb_mm_range` and `smp_call_function_many_cond`
//! at the top of a profile of two threads, 1× the throughput of one).
//!
//! Security: a resource returns to the pool only after every byte the previous instance
//! may have written is zeroed. For a linear memory, which bytes those are comes from the
//! written ranges the instance kept (`VmCtx::written`: compiled stores and every runtime
//! write widen them); a small range is cleared with `memset`, a larger one with [`scrub`].
//! Inside the range, which pages need it comes from `mincore`:
//! a page that is not resident reads as zero (never touched, or dropped), except a page
//! swapped out, so non-resident pages are dropped with `MADV_DONTNEED` (no TLB flush when
//! nothing is mapped there). Resident pages inside the region kept resident are cleared
//! with `memset` (hot pages stay mapped: no fault next time, no shootdown); resident pages
//! beyond it are dropped. A stack that knows how deep its calls wrote
//! (`NativeStack::written`) skips all that: those bytes are cleared with one `memset`.
//! Tables, globals and the vmctx are built fresh for every instance.

use std::io;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};

use crate::code_memory::page_size;
use crate::memory::LinearMemory;
use crate::stack::NativeStack;
use gasket_singlepass::WrittenRanges;

/// How an engine pools instance resources ([`Engine::with_pool`](crate::Engine::with_pool)).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PoolConfig {
    /// Instances alive at once (across all modules of the engine); one more is a typed
    /// [`InstantiationError::PoolExhausted`](crate::InstantiationError::PoolExhausted).
    /// `None`: no limit.
    pub max_instances: Option<usize>,
    /// Idle memories and idle stacks kept for reuse (each); more are unmapped.
    pub max_idle: usize,
    /// Bytes at the bottom of a linear memory (and at the top of a stack) whose touched
    /// pages are cleared in place and stay resident; touched pages beyond are returned to
    /// the OS. Bounds the resident memory of the idle pool: `max_idle × (memory_keep +
    /// stack_keep)`. The default is the cost table's resident allowance
    /// (`CostTable::memory_resident_pages`, 2 MiB): pages up to it pay no commit charge
    /// because they stay resident here, so a node configuring less is undercharged for
    /// the page faults of pages between its setting and the allowance.
    pub memory_keep_resident: usize,
    /// As `memory_keep_resident`, for native stacks (measured from the top).
    pub stack_keep_resident: usize,
}

impl Default for PoolConfig {
    /// No instance limit, 32 idle memories and stacks, 2 MiB of memory (the resident
    /// allowance) and 64 KiB of stack kept resident each (≤ 66 MiB resident when idle).
    fn default() -> PoolConfig {
        PoolConfig {
            max_instances: None,
            max_idle: 32,
            memory_keep_resident: gasket_metering::RESIDENT_PAGES as usize * 65_536,
            stack_keep_resident: 64 << 10,
        }
    }
}

/// Written ranges of memory up to this size are cleared with one `memset` instead of
/// [`scrub`]: at one wasm page, clearing it all costs less than the `mincore` call that
/// would say which pages need it.
const SMALL_MEMORY: usize = 64 << 10;

/// Idle resources and the count of instances alive, in shards: each thread works in
/// its own shard (taking from the others only when its own has nothing to give), so two
/// threads creating and dropping instances never contend for one lock or bounce one
/// cache line between their CPUs (measured: with one shared lock and counter, two
/// threads delivered about the throughput of one).
#[derive(Debug)]
pub(crate) struct Pool {
    config: PoolConfig,
    shards: Box<[Shard]>,
    /// Instances alive, when `max_instances` is set (the limit needs one exact count);
    /// without a limit each shard counts its own.
    live: AtomicUsize,
    /// Whether the system had swap when the pool was created (see [`scrub`]).
    swap: bool,
}

/// One shard's idle resources; aligned so two shards never share a cache line.
#[derive(Debug, Default)]
#[repr(align(128))]
struct Shard {
    memories: Mutex<Vec<LinearMemory>>,
    stacks: Mutex<Vec<NativeStack>>,
    /// Instances counted here (pools without an instance limit).
    live: AtomicUsize,
    /// Idle resources of each kind this shard keeps at most: the shards' caps add up to
    /// `max_idle`.
    cap: usize,
}

/// Shards per pool: more than the cores a node is likely to call from, few enough that
/// a thread stealing from the others scans a short list.
pub(crate) const SHARDS: usize = 8;

/// The shard the calling thread works in: threads are numbered in the order they
/// first use a pool, so up to `SHARDS` threads each have their own.
pub(crate) fn home_shard() -> usize {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    thread_local! {
        static HOME: usize = NEXT.fetch_add(1, Ordering::Relaxed) % SHARDS;
    }
    HOME.with(|home| *home)
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// One live instance, counted in the pool that handed it out; give it back with
/// [`Pool::release`] exactly once. No reference to the pool: taking one per instance
/// would bounce the pool's reference count between threads.
#[derive(Debug)]
#[must_use]
pub(crate) struct Lease {
    /// The shard whose counter holds this instance, or `None` for the pool's exact one.
    shard: Option<usize>,
}

impl Pool {
    pub(crate) fn new(config: PoolConfig) -> Pool {
        let shards = (0..SHARDS)
            .map(|i| Shard {
                cap: config.max_idle / SHARDS + usize::from(i < config.max_idle % SHARDS),
                ..Shard::default()
            })
            .collect();
        Pool {
            config,
            shards,
            live: AtomicUsize::new(0),
            swap: swap_possible(),
        }
    }

    pub(crate) fn config(&self) -> &PoolConfig {
        &self.config
    }

    /// Counts a new instance, or `Err(limit)` if `max_instances` are alive.
    pub(crate) fn lease(&self) -> Result<Lease, usize> {
        let Some(limit) = self.config.max_instances else {
            let shard = home_shard();
            self.shards[shard].live.fetch_add(1, Ordering::Relaxed);
            return Ok(Lease { shard: Some(shard) });
        };
        self.live
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < limit).then_some(n + 1)
            })
            .map_err(|_| limit)?;
        Ok(Lease { shard: None })
    }

    /// Releases the count `lease` took.
    pub(crate) fn release(&self, lease: Lease) {
        match lease.shard {
            Some(shard) => self.shards[shard].live.fetch_sub(1, Ordering::Relaxed),
            None => self.live.fetch_sub(1, Ordering::AcqRel),
        };
    }

    /// Instances alive now.
    pub(crate) fn live(&self) -> usize {
        // A lease is released in the shard that counted it, so no count goes negative.
        let sharded: usize = self
            .shards
            .iter()
            .map(|shard| shard.live.load(Ordering::Relaxed))
            .sum();
        sharded + self.live.load(Ordering::Acquire)
    }

    /// The shards in the order the calling thread tries them: its own first.
    fn shards_from_home(&self) -> impl Iterator<Item = &Shard> {
        let home = home_shard();
        self.shards[home..].iter().chain(&self.shards[..home])
    }

    /// An idle reservation of at least `maximum` pages, resized to `initial` pages (all
    /// zero), if there is one.
    pub(crate) fn take_memory(&self, initial: u32, maximum: u32) -> Option<LinearMemory> {
        let mut memory = self.shards_from_home().find_map(|shard| {
            let mut idle = lock(&shard.memories);
            let i = idle.iter().rposition(|m| m.can_hold(maximum))?;
            Some(idle.swap_remove(i))
        })?;
        memory.reuse(initial, maximum).ok()?;
        Some(memory)
    }

    /// An idle stack of at least `usable` bytes, if there is one.
    pub(crate) fn take_stack(&self, usable: usize) -> Option<NativeStack> {
        self.shards_from_home().find_map(|shard| {
            let mut idle = lock(&shard.stacks);
            let i = idle.iter().rposition(|s| s.usable() >= usable)?;
            Some(idle.swap_remove(i))
        })
    }

    /// Keeps `item` in the first shard (from the caller's own) with room under its cap;
    /// drops it (unmapped) when every shard is full.
    fn keep<T>(&self, item: T, idle: impl Fn(&Shard) -> &Mutex<Vec<T>>) {
        for shard in self.shards_from_home() {
            let mut list = lock(idle(shard));
            if list.len() < shard.cap {
                list.push(item);
                return;
            }
        }
    }

    /// Clears `memory` and keeps it for reuse (or unmaps it: pool full, scrub failed).
    /// `written` holds every byte the instance may have written (`WrittenRanges`):
    /// everything outside its ranges is zero already. A range of at most
    /// [`SMALL_MEMORY`] is cleared with one `memset`, with no system call; a larger one is
    /// scrubbed (only its resident pages cleared).
    pub(crate) fn give_memory(&self, mut memory: LinearMemory, written: WrittenRanges) {
        if self.config.max_idle == 0 {
            return;
        }
        let len = memory.len();
        let page = page_size() as u64;
        for range in written.ranges() {
            let start = (range.start / page * page).min(len);
            let end = range.end.div_ceil(page).saturating_mul(page).min(len);
            if start >= end {
                continue;
            }
            let bytes = (end - start) as usize;
            // SAFETY: `start < end <= len`: inside the memory's current, writable pages.
            let from = unsafe { memory.base().add(start as usize) };
            if bytes <= SMALL_MEMORY {
                // Cheaper than asking the kernel which pages were touched; a page swapped
                // out is swapped in and cleared like any other.
                // SAFETY: as above.
                unsafe { std::ptr::write_bytes(from, 0, bytes) };
            } else {
                let keep_end = (self.config.memory_keep_resident as u64).saturating_sub(start);
                let keep = 0..keep_end.min(end - start) as usize;
                if scrub(from, bytes, keep, self.swap).is_err() {
                    return; // Dropped: unmapped.
                }
            }
        }
        memory.clear();
        self.keep(memory, |shard| &shard.memories);
    }

    /// Scrubs `stack` and keeps it for reuse (or unmaps it). When the stack knows how
    /// much its calls wrote (no overflow: see `NativeStack::note_call`), those
    /// bytes at the top are cleared with one `memset`, without asking the kernel which
    /// pages were touched.
    pub(crate) fn give_stack(&self, mut stack: NativeStack) {
        if self.config.max_idle == 0 {
            return;
        }
        let usable = stack.usable();
        match stack.written() {
            Some(bytes) => {
                let bytes = bytes.min(usable);
                // SAFETY: the `bytes <= usable` bytes below the top are the stack's own
                // read-write pages; no call is running on it.
                unsafe { std::ptr::write_bytes(stack.top().sub(bytes), 0, bytes) };
            }
            None => {
                let keep = self.config.stack_keep_resident.min(usable);
                if scrub(stack.limit(), usable, usable - keep..usable, self.swap).is_err() {
                    return;
                }
            }
        }
        stack.mark_clean();
        self.keep(stack, |shard| &shard.stacks);
    }

    /// Idle memories and stacks.
    pub(crate) fn idle(&self) -> (usize, usize) {
        self.shards.iter().fold((0, 0), |(m, s), shard| {
            (
                m + lock(&shard.memories).len(),
                s + lock(&shard.stacks).len(),
            )
        })
    }
}

/// Whether pages may be swapped out (`/proc/swaps` lists a device, or cannot be read).
/// `mincore` reports a swapped-out page as not resident, so with swap a non-resident page
/// may still hold data and must be dropped; without it, it reads as zero already.
fn swap_possible() -> bool {
    match std::fs::read_to_string("/proc/swaps") {
        Ok(table) => table.lines().nth(1).is_some(),
        Err(_) => true,
    }
}

/// Makes `len` bytes at `base` (page-aligned, read-write, private anonymous) read as zero.
///
/// Inside `keep` (byte offsets): pages `mincore` reports resident are cleared in place
/// (they stay mapped: no fault, no TLB shootdown next time); the others are dropped with
/// `MADV_DONTNEED` if `swap` (they may be swapped out), else they are already zero.
/// Above `keep`: dropped (a memory grown past the kept size). Below `keep` (a stack's
/// deep end): dropped if the page just below `keep` was touched (or `swap`). A stack is
/// touched contiguously from the top: generated code writes every slot of its frames
/// (locals are zero-initialised) and Rust probes every page of a frame larger than one,
/// so an untouched boundary page means nothing below it was touched.
pub(crate) fn scrub(
    base: *mut u8,
    len: usize,
    keep: std::ops::Range<usize>,
    swap: bool,
) -> io::Result<()> {
    let page = page_size();
    let pages = len.div_ceil(page);
    let keep_first = keep.start.div_ceil(page).min(pages);
    let keep_end = (keep.end / page).clamp(keep_first, pages);
    let drop_pages = |from: usize, to: usize| -> io::Result<()> {
        if from >= to {
            return Ok(());
        }
        // SAFETY: pages `from..to` lie inside the caller's mapping; dropping private
        // anonymous pages makes them read as zero, which is the point.
        let rc = unsafe {
            libc::madvise(
                base.add(from * page).cast(),
                (to - from) * page,
                libc::MADV_DONTNEED,
            )
        };
        if rc != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    };
    drop_pages(keep_end, pages)?;
    // One mincore for the kept pages and the boundary page below them.
    let first = keep_first.saturating_sub(1);
    let mut resident = vec![0u8; keep_end - first];
    if !resident.is_empty() {
        // SAFETY: pages `first..keep_end` lie inside the caller's mapping; `resident`
        // has a byte for each.
        let rc = unsafe {
            libc::mincore(
                base.add(first * page).cast(),
                (keep_end - first) * page,
                resident.as_mut_ptr(),
            )
        };
        if rc != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    if keep_first > 0 && (swap || resident[0] & 1 != 0) {
        drop_pages(0, keep_first)?;
    }
    // Runs of non-resident pages, merged so one system call drops each.
    let mut run: Option<usize> = None;
    for i in keep_first..keep_end {
        if resident[i - first] & 1 != 0 {
            if let Some(from) = run.take() {
                drop_pages(from, i)?;
            }
            // SAFETY: page `i` is inside the caller's read-write mapping.
            unsafe { std::ptr::write_bytes(base.add(i * page), 0, page) };
        } else if swap && run.is_none() {
            run = Some(i);
        }
    }
    if let Some(from) = run {
        drop_pages(from, keep_end)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memory::PAGE_SIZE;
    use std::ops::Range;

    #[test]
    fn scrub_zeroes_kept_and_dropped_pages() {
        let page = page_size();
        let mut m = LinearMemory::new(4, 4).unwrap();
        let len = m.len() as usize;
        m.as_mut_slice().fill(0xa5);
        scrub(m.base(), len, 0..len / 2, false).unwrap();
        assert!(m.as_slice().iter().all(|&b| b == 0));
        m.as_mut_slice().fill(0x5a);
        scrub(m.base(), len, 0..len / 2, true).unwrap();
        assert!(m.as_slice().iter().all(|&b| b == 0));
        // A stack-like scrub: the kept part at the top, the deep end touched.
        m.as_mut_slice().fill(0x3c);
        scrub(m.base(), len, len - page..len, false).unwrap();
        assert!(m.as_slice().iter().all(|&b| b == 0));
        // Sparse writes, some pages never touched.
        for i in (0..len).step_by(3 * page) {
            m.as_mut_slice()[i] = 1;
        }
        scrub(m.base(), len, page..len, false).unwrap();
        assert!(m.as_slice().iter().all(|&b| b == 0));
    }

    #[test]
    fn the_pool_reuses_scrubbed_memory_and_counts_leases() {
        let pool = Pool::new(PoolConfig {
            max_instances: Some(1),
            ..PoolConfig::default()
        });
        let lease = pool.lease().unwrap();
        assert_eq!(pool.lease().unwrap_err(), 1);
        pool.release(lease);
        assert_eq!(pool.live(), 0);
        let mut m = LinearMemory::new(1, 4).unwrap();
        m.grow(2).unwrap();
        m.as_mut_slice().fill(7);
        let base = m.base();
        let mut all = WrittenRanges::EMPTY;
        all.mark(0, 3 * PAGE_SIZE);
        pool.give_memory(m, all);
        assert!(pool.take_memory(1, 8).is_none(), "too small a reservation");
        let m = pool.take_memory(1, 2).unwrap();
        assert_eq!(m.base(), base);
        assert_eq!((m.pages(), m.maximum()), (1, 2));
        assert!(m.as_slice().iter().all(|&b| b == 0));
    }

    /// The ranges `marks` leave (as the runtime and the stub mark them).
    fn written(marks: &[Range<u64>]) -> WrittenRanges {
        let mut w = WrittenRanges::EMPTY;
        for m in marks {
            w.mark(m.start, m.end);
        }
        w
    }

    #[test]
    fn spilled_ranges_are_cleared_and_nothing_else_is_touched() {
        let pool = Pool::new(PoolConfig::default());
        let mut m = LinearMemory::new(8, 8).unwrap();
        let spots = [10u64, 300_000, 500_000, 2 * PAGE_SIZE];
        let marks: Vec<Range<u64>> = spots.iter().map(|&a| a..a + 8).collect();
        let w = written(&marks);
        assert_eq!(w.ranges().count(), 4, "far apart: one range each");
        for &a in &spots {
            m.as_mut_slice()[a as usize..a as usize + 8].fill(0xab);
        }
        // A byte no range covers: the pool must leave it alone (it clears only the
        // ranges, never the whole memory), which proves the ranges are what it uses.
        let outside = 200_000;
        m.as_mut_slice()[outside] = 1;
        let base = m.base();
        pool.give_memory(m, w);
        let m = pool.take_memory(8, 8).unwrap();
        assert_eq!(m.base(), base);
        for &a in &spots {
            assert!(m.as_slice()[a as usize..a as usize + 8]
                .iter()
                .all(|&b| b == 0));
        }
        assert_eq!(m.as_slice()[outside], 1);
    }

    #[test]
    fn shards_share_what_they_keep_and_keep_at_most_max_idle() {
        let pool = Pool::new(PoolConfig {
            max_idle: 3,
            ..PoolConfig::default()
        });
        // Given on this thread, taken on another (from a shard not its own).
        pool.give_memory(LinearMemory::new(1, 1).unwrap(), WrittenRanges::EMPTY);
        std::thread::scope(|s| {
            s.spawn(|| assert!(pool.take_memory(1, 1).is_some()));
        });
        assert_eq!(pool.idle(), (0, 0));
        // Five given: the shards' caps add up to three.
        for _ in 0..5 {
            pool.give_memory(LinearMemory::new(1, 1).unwrap(), WrittenRanges::EMPTY);
        }
        assert_eq!(pool.idle().0, 3);
        // Leases counted in shards and released on another thread.
        let leases: Vec<Lease> = (0..4).map(|_| pool.lease().unwrap()).collect();
        assert_eq!(pool.live(), 4);
        std::thread::scope(|s| {
            s.spawn(|| leases.into_iter().for_each(|lease| pool.release(lease)));
        });
        assert_eq!(pool.live(), 0);
    }

    #[test]
    fn a_pooled_stack_comes_back_zeroed_however_deep_it_was_used() {
        let pool = Pool::new(PoolConfig::default());
        let stack = NativeStack::new(NativeStack::size_for(1024)).unwrap();
        let usable = stack.usable();
        pool.give_stack(stack);
        // Depths a call reported (cleared with one memset) and depths unknown (after an
        // overflow: cleared page by page after `mincore`).
        for (depth, known) in [
            (64, true),
            (100 << 10, false),
            (usable, false),
            (9000, true),
        ] {
            let mut stack = pool.take_stack(usable).unwrap();
            // SAFETY: the top `depth` bytes are inside the stack's usable range.
            unsafe { std::ptr::write_bytes(stack.top().sub(depth), 0xee, depth) };
            stack.note_call(depth, known.then_some(0), usize::MAX);
            pool.give_stack(stack);
        }
        let stack = pool.take_stack(usable).unwrap();
        // SAFETY: the whole usable range is mapped read-write.
        let bytes = unsafe { std::slice::from_raw_parts(stack.limit(), stack.usable()) };
        assert!(bytes.iter().all(|&b| b == 0));
    }
}
