//! Reads that are not searches: counts (`Aggregate`), reads by key, scan pages in key order,
//! and the walk over every match of a filter the server can only narrow. Every GraphQL
//! document goes through [`WeaviateDriver::query_checked`], so each carries the incarnation
//! check.

use std::collections::HashMap;

use vector_backend::driver::{CheckedFilter, NamespaceState as _, Page, ScanSpec};
use vector_backend::{Filter, Record, Result, StoredVector};

use crate::backend::WeaviateDriver;
use crate::catalog::WeaviateNamespace;
use crate::error::WeaviateError;
use crate::filter::{Translated, Where, translate};
use crate::graphql::{Document, Fetch, aggregate_field, get_field};
use crate::reply::{Hit, hits};
use crate::schema::{FIRST_ID, hex};

/// Keys per `Get` field of a read by key (an `Or` of `vt_kx` equalities).
const READ_CHUNK: usize = 100;
/// `Get` fields per request of a read by key.
const READ_FIELDS: usize = 10;

impl WeaviateDriver {
    /// One `Get` field on `ns` (with the catalogue check); its objects.
    pub(crate) async fn get_hits(
        &self,
        ns: &WeaviateNamespace,
        fetch: &Fetch<'_>,
    ) -> Result<Vec<Hit>> {
        let doc = Document {
            get: vec![get_field("q", ns.class(), fetch)],
            ..Document::default()
        };
        let data = self.query_checked(ns, &doc).await?;
        Ok(hits(&data["Get"]["q"], "GraphQL Get")?)
    }

    /// How many records `ns` holds, or match `filter`: an `Aggregate` count, or the matches
    /// counted one by one when the filter is widened on the server.
    pub(crate) async fn count_matching(
        &self,
        ns: &WeaviateNamespace,
        filter: Option<&CheckedFilter<'_>>,
    ) -> Result<u64> {
        let t = filter.map(|f| translate(f, &ns.config().filterable));
        if let (Some(f), Some(t)) = (filter, &t)
            && !t.exact
        {
            return Ok(self.all_matching(ns, Some(f), t, false).await?.len() as u64);
        }
        let condition = t.as_ref().and_then(|t| t.condition.as_ref());
        let doc = Document {
            aggregate: vec![aggregate_field("n", ns.class(), condition)],
            ..Document::default()
        };
        let data = self.query_checked(ns, &doc).await?;
        let n = data["Aggregate"]["n"]
            .as_array()
            .and_then(|a| a.first())
            .and_then(|g| g["meta"]["count"].as_f64())
            .ok_or_else(|| WeaviateError::decode("GraphQL Aggregate", "no meta.count"))?;
        Ok(n as u64)
    }

    /// The stored vector of each key, in order: `Get` fields matching up to [`READ_CHUNK`] keys
    /// each, [`READ_FIELDS`] of them per request.
    pub(crate) async fn read_keys(
        &self,
        ns: &WeaviateNamespace,
        keys: &[&str],
    ) -> Result<Vec<Option<StoredVector>>> {
        let chunk = READ_CHUNK.min(self.max_results());
        let mut found: HashMap<String, StoredVector> = HashMap::with_capacity(keys.len());
        for group in keys.chunks(chunk * READ_FIELDS) {
            let conditions: Vec<(Where, usize)> = group
                .chunks(chunk)
                .map(|c| (Where::any_key(c), c.len()))
                .collect();
            let doc = Document {
                get: conditions
                    .iter()
                    .enumerate()
                    .map(|(i, (w, n))| {
                        let fetch = Fetch {
                            condition: Some(w),
                            limit: *n,
                            meta: true,
                            vector: true,
                            ..Fetch::default()
                        };
                        get_field(&format!("k{i}"), ns.class(), &fetch)
                    })
                    .collect(),
                ..Document::default()
            };
            let data = self.query_checked(ns, &doc).await?;
            for i in 0..conditions.len() {
                for mut h in hits(&data["Get"][format!("k{i}")], "GraphQL Get")? {
                    let embedding = h.take_vector("GraphQL Get")?;
                    found.insert(
                        h.key,
                        StoredVector {
                            embedding,
                            metadata: h.metadata,
                        },
                    );
                }
            }
        }
        Ok(keys.iter().map(|k| found.remove(*k)).collect())
    }

    /// One scan page: the `limit` smallest keys after `after` that match the filter, with their
    /// records, and whether more may follow.
    ///
    /// Weaviate's `sort` is not used (it is outside the API subset verified here) and its
    /// cursor API orders by UUID, so the page is found by keyset narrowing on `vt_kx`, whose
    /// string order is the keys' byte order: fetch (keys only) up to `max_results` candidates
    /// above the cursor; if that was all of them, the page is their smallest `limit`; if not,
    /// the `limit`-th smallest candidate seen bounds the page from above, and the narrower range
    /// is fetched again. The page's records are then read with one range query (or by key).
    pub(crate) async fn page(&self, ns: &WeaviateNamespace, spec: &ScanSpec<'_>) -> Result<Page> {
        let max = self.max_results();
        let want = spec.limit();
        let after = spec.after().map(|k| hex(k.as_bytes()));
        let filter = spec.filter().map(|f| f.filter());
        let t = filter.map(|f| translate(f, &ns.config().filterable));
        let exact = t.as_ref().is_none_or(|t| t.exact);
        let condition = t.as_ref().and_then(|t| t.condition.as_ref());
        let keep = |h: &Hit| exact || filter.is_none_or(|f| f.matches(&h.metadata));
        let mut upper: Option<String> = None;
        let (mut keys, more, by_range) = loop {
            let fetch = Fetch {
                above: after.as_deref(),
                up_to: upper.as_deref(),
                condition,
                limit: max,
                meta: !exact,
                ..Fetch::default()
            };
            let hits = self.get_hits(ns, &fetch).await?;
            let complete = hits.len() < max;
            let mut keys: Vec<String> = hits
                .into_iter()
                .filter(|h| keep(h))
                .map(|h| h.key)
                .collect();
            keys.sort_unstable();
            if complete {
                // With an upper bound, records beyond it exist (it came from a larger sample).
                let more = keys.len() > want || upper.is_some();
                keys.truncate(want);
                break (keys, more, true);
            }
            let narrowed = keys.get(want.saturating_sub(1)).map(|k| hex(k.as_bytes()));
            if narrowed.is_none() || narrowed == upper {
                // Too few matches in a sample of a huge range: read the whole class instead.
                let everything = Translated {
                    condition: None,
                    exact: true,
                };
                let mut all: Vec<String> = self
                    .all_matching(ns, filter, t.as_ref().unwrap_or(&everything), false)
                    .await?
                    .into_iter()
                    .map(|h| h.key)
                    .filter(|k| after.as_ref().is_none_or(|a| hex(k.as_bytes()) > *a))
                    .collect();
                all.sort_unstable();
                let more = all.len() > want;
                all.truncate(want);
                break (all, more, false);
            }
            upper = narrowed;
        };
        if !by_range {
            // The range may hold more than one query can return: read the page's records by key.
            let refs: Vec<&str> = keys.iter().map(String::as_str).collect();
            let stored = self.read_keys(ns, &refs).await?;
            // Records deleted between the two reads drop out of the page.
            let records = keys
                .into_iter()
                .zip(stored)
                .filter_map(|(key, s)| s.map(|s| Record::new(key, s.embedding, s.metadata)))
                .collect();
            return Ok(Page::new(records, more));
        }
        let Some(last) = keys.last().map(|k| hex(k.as_bytes())) else {
            return Ok(Page::new(Vec::new(), more));
        };
        // The narrowing query returned this whole range, so one query reads the page.
        let fetch = Fetch {
            above: after.as_deref(),
            up_to: Some(&last),
            condition,
            limit: max,
            meta: true,
            vector: true,
            ..Fetch::default()
        };
        let mut by_key: HashMap<String, Hit> = self
            .get_hits(ns, &fetch)
            .await?
            .into_iter()
            .map(|h| (h.key.clone(), h))
            .collect();
        // Records deleted between the two reads drop out of the page.
        keys.retain(|k| by_key.contains_key(k));
        let mut records = Vec::with_capacity(keys.len());
        for k in keys {
            if let Some(mut h) = by_key.remove(&k) {
                let embedding = h.take_vector("GraphQL Get")?;
                records.push(Record::new(k, embedding, h.metadata));
            }
        }
        Ok(Page::new(records, more))
    }

    /// Every object matching `filter` (keys and metadata, vectors when asked), for counts,
    /// deletes and searches the server cannot evaluate exactly. One query when the server-side
    /// condition narrows the candidates below `max_results`; otherwise a walk over the whole
    /// class with Weaviate's cursor API. `None` matches everything.
    pub(crate) async fn all_matching(
        &self,
        ns: &WeaviateNamespace,
        filter: Option<&Filter>,
        t: &Translated,
        vector: bool,
    ) -> Result<Vec<Hit>> {
        let max = self.max_results();
        let matches = |h: &Hit| filter.is_none_or(|f| f.matches(&h.metadata));
        let fetch = Fetch {
            condition: t.condition.as_ref(),
            limit: max,
            meta: true,
            vector,
            ..Fetch::default()
        };
        let hits = self.get_hits(ns, &fetch).await?;
        if hits.len() < max {
            return Ok(hits.into_iter().filter(|h| matches(h)).collect());
        }
        let mut out = Vec::new();
        // Every page, the first included, comes in UUID order from the cursor API.
        let mut after = FIRST_ID.to_owned();
        loop {
            let fetch = Fetch {
                after_id: Some(&after),
                limit: max,
                meta: true,
                vector,
                ..Fetch::default()
            };
            let hits = self.get_hits(ns, &fetch).await?;
            let done = hits.len() < max;
            let next = hits
                .last()
                .map(|h| h.id.clone())
                .filter(|id| !id.is_empty());
            out.extend(hits.into_iter().filter(|h| matches(h)));
            match next {
                Some(id) if !done => after = id,
                _ => return Ok(out),
            }
        }
    }
}
