//! The per-object cache of namespace incarnations. It is a hint, never the truth: drivers check
//! every operation against the server (see the module docs of [`super`]), so an entry that
//! outlived a change made elsewhere costs one failed attempt and a reload, never a wrong answer.

use std::collections::HashMap;
use std::sync::{Arc, PoisonError, RwLock};

/// Namespace entries a backend object caches at most; past it the cache starts again empty.
/// Only namespaces that exist are cached, so this bounds memory even when callers name many.
pub const MAX_CACHED_NAMESPACES: usize = 4096;

#[derive(Debug)]
pub(crate) struct Catalog<N> {
    enabled: bool,
    entries: RwLock<HashMap<String, Arc<N>>>,
}

impl<N> Catalog<N> {
    pub(crate) fn new(enabled: bool) -> Self {
        Self {
            enabled,
            entries: RwLock::new(HashMap::new()),
        }
    }

    pub(crate) fn get(&self, name: &str) -> Option<Arc<N>> {
        if !self.enabled {
            return None;
        }
        self.entries
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(name)
            .cloned()
    }

    pub(crate) fn put(&self, name: &str, entry: &Arc<N>) {
        if !self.enabled {
            return;
        }
        let mut entries = self.entries.write().unwrap_or_else(PoisonError::into_inner);
        if entries.len() >= MAX_CACHED_NAMESPACES && !entries.contains_key(name) {
            entries.clear();
        }
        entries.insert(name.to_owned(), entry.clone());
    }

    /// Forgets `name`, whatever entry it has.
    pub(crate) fn forget(&self, name: &str) {
        if self.enabled {
            self.entries
                .write()
                .unwrap_or_else(PoisonError::into_inner)
                .remove(name);
        }
    }

    /// Forgets `name` only while it still maps to `stale`, so a fresher entry that a
    /// concurrent operation loaded meanwhile survives.
    pub(crate) fn forget_stale(&self, name: &str, stale: &Arc<N>) {
        if !self.enabled {
            return;
        }
        let mut entries = self.entries.write().unwrap_or_else(PoisonError::into_inner);
        if entries.get(name).is_some_and(|e| Arc::ptr_eq(e, stale)) {
            entries.remove(name);
        }
    }
}
