//! The store: the map of namespaces, each behind its own lock so writers to one namespace never
//! block readers of another, and the liveness flag that is this backend's catalogue check.
//!
//! Several backend objects may share one store (see [`crate::MemoryDriver::share`]), as
//! several replicas share one server. A [`MemoryNamespace`] handle is one incarnation: when the
//! namespace is dropped, its slot is marked dead under its write lock, so an operation that
//! holds an old handle finds out under the same lock it would write with, and reports
//! `namespace_changed` instead of writing into storage nobody can see.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

use vector_backend::driver::{Ensured, NamespaceName, NamespaceState};
use vector_backend::{Error, NamespaceConfig, Result};

use crate::config::MemoryConfig;
use crate::namespace::Namespace;

/// Locks are only poisoned by a panic inside this crate's own code, which never leaves data
/// half-written in a way a reader could observe; recover the guard rather than propagate.
pub(crate) fn read<T>(l: &RwLock<T>) -> RwLockReadGuard<'_, T> {
    l.read().unwrap_or_else(PoisonError::into_inner)
}
pub(crate) fn write<T>(l: &RwLock<T>) -> RwLockWriteGuard<'_, T> {
    l.write().unwrap_or_else(PoisonError::into_inner)
}
pub(crate) fn lock<T>(l: &Mutex<T>) -> MutexGuard<'_, T> {
    l.lock().unwrap_or_else(PoisonError::into_inner)
}

/// One incarnation of a namespace.
#[derive(Debug)]
pub(crate) struct Slot {
    pub(crate) name: String,
    pub(crate) config: NamespaceConfig,
    pub(crate) data: RwLock<Namespace>,
}

/// The handle the core caches: one incarnation of a namespace.
#[derive(Debug, Clone)]
pub struct MemoryNamespace(pub(crate) Arc<Slot>);

impl NamespaceState for MemoryNamespace {
    fn config(&self) -> &NamespaceConfig {
        &self.0.config
    }
}

impl MemoryNamespace {
    /// The data for reading, or `namespace_changed` when this incarnation was dropped.
    pub(crate) fn read(&self) -> Result<RwLockReadGuard<'_, Namespace>> {
        let g = read(&self.0.data);
        if g.live {
            Ok(g)
        } else {
            Err(Error::namespace_changed(&self.0.name))
        }
    }

    /// The data for writing, or `namespace_changed` when this incarnation was dropped.
    pub(crate) fn write(&self) -> Result<RwLockWriteGuard<'_, Namespace>> {
        let g = write(&self.0.data);
        if g.live {
            Ok(g)
        } else {
            Err(Error::namespace_changed(&self.0.name))
        }
    }
}

/// Vectors and bytes held across all namespaces of a store. Changed only by a writer that
/// holds the namespace's write lock (lock order: map, then namespace, then usage), so
/// check-and-add is atomic.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Usage {
    pub(crate) vectors: u64,
    pub(crate) bytes: u64,
}

/// Everything one in-memory "server" holds.
#[derive(Debug, Default)]
pub(crate) struct Store {
    pub(crate) config: MemoryConfig,
    namespaces: RwLock<HashMap<String, Arc<Slot>>>,
    pub(crate) usage: Mutex<Usage>,
}

impl Store {
    pub(crate) fn new(config: MemoryConfig) -> Self {
        Self {
            config,
            ..Self::default()
        }
    }

    pub(crate) fn load(&self, name: NamespaceName<'_>) -> Option<MemoryNamespace> {
        self.load_str(name.as_str())
    }

    pub(crate) fn load_str(&self, name: &str) -> Option<MemoryNamespace> {
        read(&self.namespaces)
            .get(name)
            .cloned()
            .map(MemoryNamespace)
    }

    pub(crate) fn create(
        &self,
        name: NamespaceName<'_>,
        config: &NamespaceConfig,
    ) -> Ensured<MemoryNamespace> {
        let mut map = write(&self.namespaces);
        if let Some(existing) = map.get(name.as_str()) {
            return Ensured::existing(MemoryNamespace(existing.clone()));
        }
        let slot = Arc::new(Slot {
            name: name.as_str().to_owned(),
            config: config.clone(),
            data: RwLock::new(Namespace::new(config.clone(), self.config.hnsw)),
        });
        map.insert(name.as_str().to_owned(), slot.clone());
        Ensured::created(MemoryNamespace(slot))
    }

    pub(crate) fn drop_namespace(&self, name: NamespaceName<'_>) -> bool {
        // Release the map before touching the namespace (nobody waits for the map while
        // holding a namespace lock, but holding both longer than needed serialises creators).
        let removed = write(&self.namespaces).remove(name.as_str());
        match removed {
            Some(slot) => {
                let mut data = write(&slot.data);
                self.release(&mut data);
                true
            }
            None => false,
        }
    }

    /// Removes `ns` if it is still the namespace of its name and empty.
    pub(crate) fn discard_if_empty(&self, ns: &MemoryNamespace) {
        let mut map = write(&self.namespaces);
        let current = map.get(&ns.0.name).is_some_and(|s| Arc::ptr_eq(s, &ns.0));
        if current {
            let mut data = write(&ns.0.data);
            if data.live && data.len() == 0 {
                map.remove(&ns.0.name);
                self.release(&mut data);
            }
        }
    }

    /// Marks a removed incarnation dead and returns its room to the budget.
    fn release(&self, data: &mut Namespace) {
        self.tracked(data, Namespace::clear);
        data.live = false;
    }

    pub(crate) fn names(&self) -> Vec<String> {
        read(&self.namespaces).keys().cloned().collect()
    }

    /// Runs `change` on a namespace the caller holds for writing and books the difference in
    /// vectors and bytes.
    pub(crate) fn tracked<T>(
        &self,
        ns: &mut Namespace,
        change: impl FnOnce(&mut Namespace) -> T,
    ) -> T {
        let (n0, b0) = (ns.len() as u64, ns.bytes());
        let out = change(ns);
        let (n1, b1) = (ns.len() as u64, ns.bytes());
        let mut usage = lock(&self.usage);
        usage.vectors = (usage.vectors + n1).saturating_sub(n0);
        usage.bytes = (usage.bytes + b1).saturating_sub(b0);
        out
    }
}
