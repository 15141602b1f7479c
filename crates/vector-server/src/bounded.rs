//! Bounded lists in request bodies: deserialisers that stop reading a JSON array as soon as it
//! holds more elements than allowed, so a body of millions of tiny elements (`["a","a",...]`)
//! is refused after the limit plus one element instead of being materialised first.
//!
//! The limits of batch keys and records are settings of the service; [`with_limits`] makes
//! them visible to the deserialisers for the duration of one synchronous parse (a thread-local,
//! set and reset around `serde_json::from_slice`, with no `await` in between). The other
//! limits are the core's constants.

use std::cell::Cell;
use std::fmt;
use std::marker::PhantomData;

use serde::de::{self, Deserialize, Deserializer, SeqAccess, Visitor};

/// The list limits of one parse.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ListLimits {
    /// Most keys of a batch get or delete.
    pub(crate) keys: usize,
    /// Most records of a batch upsert.
    pub(crate) records: usize,
}

impl ListLimits {
    const UNBOUNDED: Self = Self {
        keys: usize::MAX,
        records: usize::MAX,
    };
}

thread_local! {
    static LIMITS: Cell<ListLimits> = const { Cell::new(ListLimits::UNBOUNDED) };
    /// Set when a parse stopped at a limit, so the caller can answer `limit_exceeded`.
    static EXCEEDED: Cell<Option<&'static str>> = const { Cell::new(None) };
}

/// Runs `parse` with `limits` in force; returns its result and, when it stopped at a limit,
/// which one.
pub(crate) fn with_limits<T>(
    limits: ListLimits,
    parse: impl FnOnce() -> T,
) -> (T, Option<&'static str>) {
    LIMITS.with(|l| l.set(limits));
    EXCEEDED.with(|e| e.set(None));
    let out = parse();
    LIMITS.with(|l| l.set(ListLimits::UNBOUNDED));
    (out, EXCEEDED.with(Cell::take))
}

struct Bounded<T> {
    max: usize,
    what: &'static str,
    flag: &'static str,
    _t: PhantomData<T>,
}

impl<'de, T: Deserialize<'de>> Visitor<'de> for Bounded<T> {
    type Value = Vec<T>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "an array of at most {} {}", self.max, self.what)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<T>, A::Error> {
        // Never trust a size hint for the allocation beyond the limit.
        let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(self.max).min(1024));
        while let Some(item) = seq.next_element()? {
            if out.len() == self.max {
                EXCEEDED.with(|e| e.set(Some(self.flag)));
                return Err(de::Error::custom(format_args!(
                    "more than {} {} ({})",
                    self.max, self.what, self.flag
                )));
            }
            out.push(item);
        }
        Ok(out)
    }
}

fn bounded<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
    max: usize,
    what: &'static str,
    flag: &'static str,
) -> Result<Vec<T>, D::Error> {
    d.deserialize_seq(Bounded {
        max,
        what,
        flag,
        _t: PhantomData,
    })
}

/// An embedding: at most the core's maximum dimension.
pub(crate) fn embedding<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<f32>, D::Error> {
    bounded(
        d,
        vector_tier::validate::MAX_DIMENSION,
        "values in an embedding",
        "the largest dimension",
    )
}

/// Queries of a batch query: at most [`crate::limits::MAX_BATCH_QUERIES`].
pub(crate) fn queries<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Vec<T>, D::Error> {
    bounded(
        d,
        crate::limits::MAX_BATCH_QUERIES,
        "queries",
        "the batch query limit",
    )
}

/// Keys of a batch get or delete: at most `--max-batch-keys`.
pub(crate) fn keys<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    let max = LIMITS.with(|l| l.get().keys);
    bounded(d, max, "keys", "--max-batch-keys")
}

/// Records of a batch upsert: at most `--max-batch-records`.
pub(crate) fn records<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Vec<T>, D::Error> {
    let max = LIMITS.with(|l| l.get().records);
    bounded(d, max, "records", "--max-batch-records")
}

/// Values of `in`/`nin`: at most the core's limit.
pub(crate) fn filter_values<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Vec<T>, D::Error> {
    bounded(
        d,
        vector_tier::filter::MAX_IN_VALUES,
        "values in an in/nin filter",
        "the filter limit",
    )
}

/// Filters of `and`/`or`: at most the core's node limit.
pub(crate) fn filters<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Vec<T>, D::Error> {
    bounded(
        d,
        vector_tier::filter::MAX_FILTER_NODES,
        "filters in an and/or filter",
        "the filter limit",
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::KeyList;

    #[test]
    fn stops_at_the_limit() {
        let limits = ListLimits {
            keys: 3,
            records: 3,
        };
        let (ok, hit) = with_limits(limits, || {
            serde_json::from_str::<KeyList>(r#"{"keys":["a","b","c"]}"#)
        });
        assert_eq!(ok.unwrap().keys.len(), 3);
        assert!(hit.is_none());
        let (err, hit) = with_limits(limits, || {
            serde_json::from_str::<KeyList>(r#"{"keys":["a","b","c","d","e"]}"#)
        });
        assert!(err.unwrap_err().to_string().contains("more than 3 keys"));
        assert_eq!(hit, Some("--max-batch-keys"));
        // Outside `with_limits` nothing is left over.
        assert!(serde_json::from_str::<KeyList>(r#"{"keys":["a","b","c","d"]}"#).is_ok());
    }
}
