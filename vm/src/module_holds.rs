//! How instances keep their module alive without sharing a reference count.
//!
//! Why: an instance must keep its module's code and data alive, and cloning the module's
//! `Arc` per instance is an atomic read-modify-write on one count that every thread
//! instantiating the module shares. Its cache line then bounces between the threads'
//! CPUs on every instantiation and every drop (measured with the `scaling` bench: with
//! the clone, two threads gave 1.55–1.74× the calls per second of one; without it,
//! 1.78–1.79×, against 1.84–1.99× for two separate processes).
//!
//! How: the module keeps one hold per pool shard (the calling thread's, as the pool
//! numbers them). The first instance a thread creates takes a strong reference into its
//! shard's hold; later instances only count themselves in that hold, under the shard's
//! own lock, which no other thread touches while each thread keeps to its shard. The
//! reference is given back when both the hold has no instances left and no `Module`
//! handle exists any more, whichever happens last, so dropping every handle and every
//! instance still frees the module.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use crate::module::ModuleInner;
use crate::pool::SHARDS;

/// The module's holds, one per shard, and the count of `Module` handles.
#[derive(Debug)]
pub(crate) struct Holds {
    shards: [Shard; SHARDS],
    /// Live `Module` values (handles an embedder can instantiate from).
    handles: AtomicUsize,
}

/// One shard's hold; aligned so two shards never share a cache line.
#[derive(Debug, Default)]
#[repr(align(128))]
struct Shard(Mutex<Hold>);

#[derive(Debug, Default)]
struct Hold {
    /// Live instances counted here.
    instances: usize,
    /// The strong reference those instances share (`Some` while `instances > 0`, and
    /// kept while a handle exists so the next instance needs no new one).
    module: Option<Arc<ModuleInner>>,
}

/// An instance's place in its module's holds; give it back with [`Holds::release`]
/// exactly once.
#[derive(Debug)]
#[must_use]
pub(crate) struct HoldTicket {
    shard: usize,
}

impl Holds {
    /// Holds for a module with one handle (the one being created).
    pub(crate) fn new() -> Holds {
        Holds {
            shards: Default::default(),
            handles: AtomicUsize::new(1),
        }
    }

    /// Counts a new instance of `module` (whose holds these are) in the calling
    /// thread's shard, taking a strong reference into the hold if it has none.
    pub(crate) fn acquire(&self, module: &Arc<ModuleInner>) -> HoldTicket {
        let shard = crate::pool::home_shard();
        let mut hold = lock(&self.shards[shard]);
        if hold.module.is_none() {
            hold.module = Some(Arc::clone(module));
        }
        hold.instances += 1;
        HoldTicket { shard }
    }

    /// Takes an instance out of its shard's count. When that was the last instance there
    /// and no handle exists, the hold's reference is returned for the caller to drop
    /// (after this borrow of the holds ends: it may be the module's last reference).
    pub(crate) fn release(&self, ticket: HoldTicket) -> Option<Arc<ModuleInner>> {
        let mut hold = lock(&self.shards[ticket.shard]);
        hold.instances -= 1;
        if hold.instances == 0 && self.handles.load(Ordering::SeqCst) == 0 {
            return hold.module.take();
        }
        None
    }

    /// A handle was cloned.
    pub(crate) fn handle_cloned(&self) {
        self.handles.fetch_add(1, Ordering::SeqCst);
    }

    /// A handle was dropped. When it was the last, the references of the holds without
    /// instances are returned for the caller to drop; holds with instances give theirs
    /// back when their last instance goes (`release`).
    pub(crate) fn handle_dropped(&self) -> Vec<Arc<ModuleInner>> {
        if self.handles.fetch_sub(1, Ordering::SeqCst) != 1 {
            return Vec::new();
        }
        self.shards
            .iter()
            .filter_map(|shard| {
                let mut hold = lock(shard);
                if hold.instances == 0 {
                    hold.module.take()
                } else {
                    None
                }
            })
            .collect()
    }
}

fn lock(shard: &Shard) -> MutexGuard<'_, Hold> {
    shard.0.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use std::sync::Weak;

    use gasket_metering::Profile;

    use super::*;
    use crate::{Engine, Imports, Instance, Module};

    fn module() -> (Module, Weak<ModuleInner>) {
        let engine = Engine::new(Profile::permissive()).unwrap();
        let wat = r#"(module (memory 1) (func (export "f") (result i32) (i32.const 7)))"#;
        let module = engine.compile(&wat::parse_str(wat).unwrap()).unwrap();
        let weak = Arc::downgrade(&module.inner);
        (module, weak)
    }

    fn instance(module: &Module) -> Instance {
        Instance::new(module, &Imports::new(), 0).unwrap()
    }

    #[test]
    fn a_module_lives_until_its_last_handle_goes() {
        let (module, weak) = module();
        let (a, b) = (instance(&module), instance(&module));
        drop((a, b));
        let handle = module.clone();
        drop(module);
        assert!(weak.upgrade().is_some(), "a clone is left");
        drop(handle);
        assert!(weak.upgrade().is_none(), "no handle, no instance: freed");
    }

    #[test]
    fn a_module_lives_until_its_last_instance_goes_on_any_thread() {
        let (module, weak) = module();
        let a = instance(&module);
        drop(module);
        assert!(weak.upgrade().is_some(), "the instance keeps it");
        // An instance made from an instance's module, and a handle cloned from it that
        // instantiates and goes away on another thread.
        let b = instance(a.module());
        let handle = a.module().clone();
        std::thread::spawn(move || drop(instance(&handle)))
            .join()
            .unwrap();
        drop(a);
        assert!(weak.upgrade().is_some(), "b keeps it");
        let mut b = b;
        let out = b.call("f", &[], 1_000).unwrap();
        assert!(out.result.is_ok(), "{:?}", out.result);
        // Given to another thread and dropped there: the hold is released in its shard.
        std::thread::spawn(move || drop(b)).join().unwrap();
        assert!(weak.upgrade().is_none(), "no handle, no instance: freed");
    }
}
