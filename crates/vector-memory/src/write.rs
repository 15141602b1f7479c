//! Writes under the optional capacity limit: a batch is admitted whole or refused whole, and
//! what deletes, clears, drops and replacements free goes back to the budget.

use vector_backend::Result;
use vector_backend::driver::WriteBatch;

use crate::catalog::{Store, lock};
use crate::error::MemoryError;
use crate::namespace::{Namespace, record_size};

impl Store {
    /// Writes `batch` into `ns` (held for writing) unless that would exceed a limit.
    /// Replacements count only their growth.
    pub(crate) fn write_batch(&self, ns: &mut Namespace, batch: &WriteBatch) -> Result<()> {
        let mut usage = lock(&self.usage);
        if self.config.max_vectors.is_some() || self.config.max_bytes.is_some() {
            let mut vectors = usage.vectors;
            let mut bytes = usage.bytes;
            // Keys are distinct within a prepared batch.
            for r in batch.records() {
                let new = record_size(r, &ns.config);
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
        for r in batch.records() {
            ns.upsert(r);
        }
        usage.vectors = (usage.vectors + ns.len() as u64).saturating_sub(n0);
        usage.bytes = (usage.bytes + ns.bytes()).saturating_sub(b0);
        Ok(())
    }
}
