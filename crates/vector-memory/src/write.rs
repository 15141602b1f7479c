//! Writes under the optional capacity limit: a batch is admitted whole or refused whole, and
//! what deletes, clears, drops and replacements free goes back to the budget.

use vector_backend::{Record, Result};

use crate::catalog::{Store, lock};
use crate::error::MemoryError;
use crate::namespace::Namespace;

impl Store {
    /// Writes `records` (distinct keys) into `ns` (held for writing) unless that would exceed a
    /// limit.
    /// Replacements count only their growth.
    pub(crate) fn write_batch(&self, ns: &mut Namespace, records: &[Record]) -> Result<()> {
        let mut usage = lock(&self.usage);
        if self.config.max_vectors.is_some() || self.config.max_bytes.is_some() {
            let mut vectors = usage.vectors;
            let mut bytes = usage.bytes;
            // Keys are distinct within a prepared batch.
            for r in records {
                let new = ns.record_size(r);
                match ns.size_of(&r.key) {
                    Some(old) => bytes = bytes.saturating_sub(old) + new,
                    None => {
                        vectors += 1;
                        bytes += new;
                    }
                }
            }
            if let Some(limit) = self.config.max_vectors
                && vectors > limit
            {
                return Err(MemoryError::Capacity {
                    needed: vectors,
                    limit,
                    unit: "vectors",
                }
                .into());
            }
            if let Some(limit) = self.config.max_bytes
                && bytes > limit
            {
                return Err(MemoryError::Capacity {
                    needed: bytes,
                    limit,
                    unit: "bytes",
                }
                .into());
            }
        }
        let (n0, b0) = (ns.len() as u64, ns.bytes());
        for r in records {
            ns.upsert(r);
        }
        usage.vectors = (usage.vectors + ns.len() as u64).saturating_sub(n0);
        usage.bytes = (usage.bytes + ns.bytes()).saturating_sub(b0);
        // Linking new graph nodes is the slow part of an HNSW write: it runs after the budget
        // is booked (the sizes are per-record estimates it does not change), so writers to
        // other namespaces are not kept waiting on the usage lock meanwhile.
        drop(usage);
        ns.finish_writes();
        Ok(())
    }
}
