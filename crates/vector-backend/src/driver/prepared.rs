//! The checked inputs a [`Driver`](super::Driver) receives. Only this crate can build them, and
//! only by validating, so holding one proves the checks ran (once).

use std::collections::HashMap;
use std::fmt;

use crate::error::{Error, Result};
use crate::filter::Filter;
use crate::types::{Capabilities, NamespaceConfig, QueryRequest, Record};
use crate::validate;

/// A namespace name that passed [`validate::namespace`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct NamespaceName<'a>(&'a str);

impl<'a> NamespaceName<'a> {
    pub(crate) fn new(name: &'a str) -> Result<Self> {
        validate::namespace(name)?;
        Ok(Self(name))
    }

    /// The name, as the caller wrote it.
    pub fn as_str(&self) -> &'a str {
        self.0
    }
}

impl fmt::Display for NamespaceName<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

/// What [`Driver::create_namespace`](super::Driver::create_namespace) returns: the incarnation
/// that exists now, and whether this call created it.
#[derive(Debug)]
#[non_exhaustive]
pub struct Ensured<N> {
    /// The namespace as it is now.
    pub namespace: N,
    /// True when this call created it.
    pub created: bool,
}

impl<N> Ensured<N> {
    /// A namespace this call created.
    pub fn created(namespace: N) -> Self {
        Self {
            namespace,
            created: true,
        }
    }

    /// A namespace that existed already.
    pub fn existing(namespace: N) -> Self {
        Self {
            namespace,
            created: false,
        }
    }
}

/// A filter checked against a namespace's declared fields and the backend's operators.
#[derive(Clone, Copy, Debug)]
pub struct CheckedFilter<'a>(&'a Filter);

impl<'a> CheckedFilter<'a> {
    pub(crate) fn new(
        filter: &'a Filter,
        config: &NamespaceConfig,
        caps: &Capabilities,
    ) -> Result<Self> {
        filter.validate(&config.filterable, &caps.filter_ops)?;
        Ok(Self(filter))
    }

    pub(crate) fn optional(
        filter: Option<&'a Filter>,
        config: &NamespaceConfig,
        caps: &Capabilities,
    ) -> Result<Option<Self>> {
        filter.map(|f| Self::new(f, config, caps)).transpose()
    }

    /// The filter.
    pub fn filter(&self) -> &'a Filter {
        self.0
    }
}

impl std::ops::Deref for CheckedFilter<'_> {
    type Target = Filter;
    fn deref(&self) -> &Filter {
        self.0
    }
}

/// Records to write: each validated against the namespace's config, one per key (the last of
/// the caller's records with that key), in ascending key order so that concurrent writers take
/// row locks in the same order.
#[derive(Debug)]
pub struct WriteBatch {
    records: Vec<Record>,
    /// The config every record was checked against.
    config: NamespaceConfig,
}

impl WriteBatch {
    /// Validates every record (duplicates included) against `config`, then folds duplicates.
    /// The records are taken only when they are valid: a caller may check them again against
    /// another config.
    pub(crate) fn prepare(records: &mut Vec<Record>, config: &NamespaceConfig) -> Result<Self> {
        records
            .iter()
            .try_for_each(|r| validate::record(r, config))?;
        let records = std::mem::take(records);
        let mut last: HashMap<&str, usize> = HashMap::with_capacity(records.len());
        for (i, r) in records.iter().enumerate() {
            last.insert(r.key.as_str(), i);
        }
        let keep: Vec<bool> = records
            .iter()
            .enumerate()
            .map(|(i, r)| last.get(r.key.as_str()) == Some(&i))
            .collect();
        let mut unique: Vec<Record> = records
            .into_iter()
            .zip(keep)
            .filter_map(|(r, k)| k.then_some(r))
            .collect();
        unique.sort_unstable_by(|a, b| a.key.cmp(&b.key));
        Ok(Self {
            records: unique,
            config: config.clone(),
        })
    }

    /// Checks the batch again for another config (the namespace was re-created meanwhile).
    pub(crate) fn revalidate(&mut self, config: &NamespaceConfig) -> Result<()> {
        if self.config != *config {
            self.records
                .iter()
                .try_for_each(|r| validate::record(r, config))?;
            self.config = config.clone();
        }
        Ok(())
    }

    /// The records, one per key, in key order.
    pub fn records(&self) -> &[Record] {
        &self.records
    }

    /// How many records.
    pub fn len(&self) -> usize {
        self.records.len()
    }

    /// True when there is nothing to write.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }
}

/// Keys to read or delete: each valid, each once, in the order of first appearance.
#[derive(Debug)]
pub struct KeySet<'a> {
    keys: Vec<&'a str>,
}

impl<'a> KeySet<'a> {
    /// Validates `keys` and folds duplicates; returns the set and, for each input key, its
    /// index in the set.
    pub(crate) fn prepare(keys: &'a [String]) -> Result<(Self, Vec<usize>)> {
        validate::keys(keys)?;
        let mut index: HashMap<&str, usize> = HashMap::with_capacity(keys.len());
        let mut distinct = Vec::with_capacity(keys.len());
        let positions = keys
            .iter()
            .map(|k| {
                *index.entry(k.as_str()).or_insert_with(|| {
                    distinct.push(k.as_str());
                    distinct.len() - 1
                })
            })
            .collect();
        Ok((Self { keys: distinct }, positions))
    }

    /// The distinct keys.
    pub fn keys(&self) -> &[&'a str] {
        &self.keys
    }

    /// How many distinct keys.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// True when there are none.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

/// A query checked against its namespace: embedding values and dimension, `k`, threshold and
/// filter.
#[derive(Debug)]
pub struct Query<'a> {
    request: &'a QueryRequest,
    filter: Option<CheckedFilter<'a>>,
    fetch: usize,
}

impl<'a> Query<'a> {
    /// Checks what needs the namespace's config; the rest was checked by
    /// [`validate::query`] before the namespace was looked up.
    pub(crate) fn prepare(
        request: &'a QueryRequest,
        config: &NamespaceConfig,
        caps: &Capabilities,
    ) -> Result<Self> {
        validate::embedding_for(&request.embedding, config)?;
        Ok(Self {
            request,
            filter: CheckedFilter::optional(request.filter.as_ref(), config, caps)?,
            fetch: crate::score::overfetch(request.k),
        })
    }

    pub(crate) fn with_fetch(&self, fetch: usize) -> Self {
        Self {
            request: self.request,
            filter: self.filter,
            fetch,
        }
    }

    /// The query embedding (dimension checked).
    pub fn embedding(&self) -> &'a [f32] {
        &self.request.embedding
    }

    /// How many results the caller wants.
    pub fn k(&self) -> usize {
        self.request.k
    }

    /// How many candidates to return (at least `k`).
    pub fn fetch(&self) -> usize {
        self.fetch
    }

    /// The inclusive minimum score; a driver may push a widened bound down
    /// ([`super::NativeDistance::bound`]); the core applies the exact one.
    pub fn threshold(&self) -> Option<f64> {
        self.request.threshold
    }

    /// The checked filter.
    pub fn filter(&self) -> Option<&CheckedFilter<'a>> {
        self.filter.as_ref()
    }

    /// Whether hits must carry their embeddings.
    pub fn include_embedding(&self) -> bool {
        self.request.include_embedding
    }
}

/// One page of a scan, checked: the key to resume after (decoded from the cursor), the page
/// size and the filter.
#[derive(Debug)]
pub struct ScanSpec<'a> {
    after: Option<String>,
    limit: usize,
    filter: Option<CheckedFilter<'a>>,
}

impl<'a> ScanSpec<'a> {
    pub(crate) fn new(
        after: Option<String>,
        limit: usize,
        filter: Option<CheckedFilter<'a>>,
    ) -> Self {
        Self {
            after,
            limit,
            filter,
        }
    }

    /// Records come strictly after this key (byte order); `None` for the first page.
    pub fn after(&self) -> Option<&str> {
        self.after.as_deref()
    }

    /// Most records in the page.
    pub fn limit(&self) -> usize {
        self.limit
    }

    /// The checked filter.
    pub fn filter(&self) -> Option<&CheckedFilter<'a>> {
        self.filter.as_ref()
    }
}

/// What [`Driver::scan`](super::Driver::scan) returns.
#[derive(Debug, Default)]
#[non_exhaustive]
pub struct Page {
    /// The records, in key order.
    pub records: Vec<crate::types::Record>,
    /// True when records follow the last one.
    pub more: bool,
}

impl Page {
    /// A page.
    pub fn new(records: Vec<crate::types::Record>, more: bool) -> Self {
        Self { records, more }
    }
}

/// The opaque cursor after `key`: its bytes in hex, so any key (spaces, quotes, NUL-free UTF-8
/// of any script) travels safely in URLs and JSON.
pub(crate) fn encode_cursor(key: &str) -> String {
    use fmt::Write as _;
    let mut s = String::with_capacity(key.len() * 2);
    for b in key.bytes() {
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// The key a cursor stands for.
///
/// # Errors
/// `InvalidArgument` when the cursor was not made by [`encode_cursor`].
pub(crate) fn decode_cursor(cursor: &str) -> Result<String> {
    let malformed = || Error::invalid_argument("scan cursor is malformed");
    if !cursor.len().is_multiple_of(2) || cursor.len() > 2 * validate::MAX_KEY_BYTES {
        return Err(malformed());
    }
    let bytes = (0..cursor.len())
        .step_by(2)
        .map(|i| {
            cursor
                .get(i..i + 2)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        })
        .collect::<Option<Vec<u8>>>()
        .ok_or_else(malformed)?;
    let key = String::from_utf8(bytes).map_err(|_| malformed())?;
    validate::key(&key).map_err(|_| malformed())?;
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_reject_garbage() {
        for key in ["a", "key with spaces", "ünï\"'\\", "🎉"] {
            assert_eq!(decode_cursor(&encode_cursor(key)).unwrap(), key);
        }
        for bad in ["", "0", "zz", "00", "c3"] {
            assert!(decode_cursor(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn batches_keep_the_last_record_of_each_key_in_key_order() {
        let r = |k: &str, v: f32| Record::new(k, vec![v, 1.0], Default::default());
        let mut records = vec![r("b", 1.0), r("a", 2.0), r("b", 3.0)];
        assert!(WriteBatch::prepare(&mut records, &NamespaceConfig::new(3)).is_err());
        assert_eq!(records.len(), 3, "kept after a failed check");
        let b = WriteBatch::prepare(&mut records, &NamespaceConfig::new(2)).unwrap();
        let got: Vec<_> = b
            .records()
            .iter()
            .map(|r| (r.key.as_str(), r.embedding[0]))
            .collect();
        assert_eq!(got, [("a", 2.0), ("b", 3.0)]);
    }

    #[test]
    fn key_sets_fetch_each_key_once() {
        let keys: Vec<String> = ["x", "y", "x", "x"].map(String::from).to_vec();
        let (set, pos) = KeySet::prepare(&keys).unwrap();
        assert_eq!(set.keys(), ["x", "y"]);
        assert_eq!(pos, [0, 1, 0, 0]);
    }
}
