//! [`WeaviateBackend`]: the `VectorBackend` implementation over REST (schema, objects, batch)
//! and GraphQL (`nearVector` search, sorted scans, `Aggregate` counts).

use std::collections::{HashMap, HashSet};
use std::sync::RwLock;

use futures_util::{StreamExt as _, TryStreamExt as _};
use reqwest::Method;
use serde_json::{Map, Value, json};
use vector_backend::{
    Capabilities, Error, ErrorKind, FieldType, Filter, FilterOp, Metadata, NamespaceConfig,
    NamespaceInfo, OpenBackend, QueryRequest, Record, Result, ScanPage, ScanRequest, SearchResult,
    StoredVector, VectorBackend, async_trait, score, validate,
};

use crate::client::{Client, Gql};
use crate::config::WeaviateConfig;
use crate::distance::{self, Bound};
use crate::error::WeaviateError;
use crate::filter::{Literal, Op, Translated, Where, graphql_string, translate};
use crate::schema::{
    self, ClassMeta, P_ABSENT, P_KEY, P_KEY_HEX, P_META, P_PRESENT, class_name, field_property,
    hex, keyword_token, object_id,
};

/// Requests in flight at once for per-object calls (`get_batch`, `delete_batch`).
const CONCURRENCY: usize = 16;
/// Upper bound on one batch request's body, so 16000-dimensional vectors stay well inside
/// proxies' and the server's request limits.
const MAX_BATCH_BYTES: usize = 8 * 1024 * 1024;
/// Keys per batch delete by key (an `Or` of `Equal`s).
const DELETE_CHUNK: usize = 100;
/// First and longest pause while Weaviate's GraphQL schema catches up with a new class
/// (about 1.6 s in all).
const GRAPHQL_RETRY_START: std::time::Duration = std::time::Duration::from_millis(25);
const GRAPHQL_RETRY_MAX: std::time::Duration = std::time::Duration::from_millis(800);
/// Oldest supported server.
const MIN_VERSION: (u64, u64) = (1, 25);

/// The Weaviate backend. One class per namespace; see the crate docs for the mapping.
///
/// Cheap to share behind an `Arc`; all methods take `&self`. Namespace configs are cached after
/// the first read from the server (they never change while a namespace exists).
#[derive(Debug)]
pub struct WeaviateBackend {
    config: WeaviateConfig,
    client: Client,
    configs: RwLock<HashMap<String, NamespaceConfig>>,
}

/// One object as a query returns it.
struct Hit {
    id: String,
    key: String,
    /// Empty unless the query asked for it.
    metadata: Metadata,
    distance: Option<f64>,
    vector: Option<Vec<f32>>,
}

/// What one GraphQL `Get` asks for.
#[derive(Default)]
struct Fetch<'a> {
    /// Rank by distance to this vector, within this distance.
    near: Option<(&'a [f32], Option<f64>)>,
    /// Only keys whose hex is greater than this.
    above: Option<&'a str>,
    /// Only keys whose hex is at most this.
    up_to: Option<&'a str>,
    /// The translated filter.
    condition: Option<&'a Where>,
    /// Weaviate's cursor: objects after this UUID (no other condition allowed).
    after_id: Option<&'a str>,
    limit: usize,
    meta: bool,
    vector: bool,
}

/// An empty `And`, which matches every record: the stand-in filter when a scan without a filter
/// has to read the whole class. (`Filter::validate` refuses it from users; it is only built here.)
static ALL: Filter = Filter::And {
    filters: Vec::new(),
};

fn err(e: WeaviateError) -> Error {
    e.into()
}

impl WeaviateBackend {
    /// A backend for `config`, without contacting the server (the first call will).
    ///
    /// # Errors
    /// `Unavailable` when the HTTP client cannot be built (no TLS support, say).
    pub fn new(config: WeaviateConfig) -> Result<Self> {
        let client = Client::new(&config).map_err(err)?;
        Ok(Self {
            config,
            client,
            configs: RwLock::new(HashMap::new()),
        })
    }

    /// A backend for `config`, after checking that the server answers and is Weaviate 1.25 or
    /// later.
    ///
    /// # Errors
    /// `Unavailable` ("Weaviate client not available: <cause>") when the server cannot be
    /// reached within the configured timeouts; `Unsupported` for an older server.
    pub async fn connect(config: WeaviateConfig) -> Result<Self> {
        let backend = Self::new(config)?;
        backend.server_version().await.map_err(err)?;
        Ok(backend)
    }

    /// The configuration this backend was opened with.
    pub fn config(&self) -> &WeaviateConfig {
        &self.config
    }

    /// The server's version, checked against the supported range.
    async fn server_version(&self) -> Result<String, WeaviateError> {
        let reply = self
            .client
            .get("/meta")
            .await?
            .expect("GET /v1/meta", &[200])?;
        let meta = reply.json("GET /v1/meta")?;
        let version = meta
            .get("version")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        match parse_version(&version) {
            Some(v) if v >= MIN_VERSION => Ok(version),
            _ => Err(WeaviateError::Version(format!("{version:?}"))),
        }
    }

    fn cached(&self, namespace: &str) -> Option<NamespaceConfig> {
        self.configs
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(namespace)
            .cloned()
    }

    fn remember(&self, namespace: &str, config: &NamespaceConfig) {
        self.configs
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(namespace.to_owned(), config.clone());
    }

    fn forget(&self, namespace: &str) {
        self.configs
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(namespace);
    }

    /// The namespace's config: from the cache, or from its class description on the server.
    async fn lookup(&self, namespace: &str) -> Result<Option<NamespaceConfig>> {
        if let Some(c) = self.cached(namespace) {
            return Ok(Some(c));
        }
        let found = self.fetch_class(namespace).await?;
        if let Some(c) = &found {
            self.remember(namespace, c);
        }
        Ok(found)
    }

    async fn fetch_class(&self, namespace: &str) -> Result<Option<NamespaceConfig>> {
        let class = class_name(namespace);
        let what = "GET /v1/schema/{class}";
        let reply = self
            .client
            .get(&format!("/schema/{class}"))
            .await
            .map_err(err)?;
        if reply.status == 404 {
            return Ok(None);
        }
        let v = reply
            .expect(what, &[200])
            .and_then(|r| r.json(what))
            .map_err(err)?;
        let meta = v
            .get("description")
            .and_then(Value::as_str)
            .and_then(ClassMeta::from_description)
            .filter(|m| m.namespace == namespace)
            .ok_or_else(|| {
                err(WeaviateError::ForeignClass {
                    class: class.clone(),
                })
            })?;
        Ok(Some(meta.config))
    }

    /// Creates the namespace's class, or returns the config of the one a concurrent writer
    /// created first.
    async fn create_class(
        &self,
        namespace: &str,
        config: &NamespaceConfig,
    ) -> Result<NamespaceConfig> {
        let body = schema::class_definition(namespace, config);
        let reply = self
            .client
            .send(Method::POST, "/schema", Some(&body))
            .await
            .map_err(err)?;
        if reply.status == 200 {
            self.remember(namespace, config);
            return Ok(config.clone());
        }
        // 422 is also "already exists": another process may have won the race.
        if let Some(existing) = self.fetch_class(namespace).await? {
            self.remember(namespace, &existing);
            return Ok(existing);
        }
        Err(err(WeaviateError::status(
            "POST /v1/schema",
            reply.status,
            &reply.body,
        )))
    }

    /// Runs a class-level GraphQL query; `None` when the class does not exist (any more).
    async fn gql_class(&self, namespace: &str, root: &str, query: String) -> Result<Option<Value>> {
        let class = class_name(namespace);
        let what = format!("GraphQL {root} on {class}");
        let mut pause = GRAPHQL_RETRY_START;
        loop {
            let messages = match self
                .client
                .graphql(query.clone(), &what)
                .await
                .map_err(err)?
            {
                Gql::Data(data) => {
                    let value = data.get(root).and_then(|r| r.get(&class)).cloned();
                    return Ok(Some(value.unwrap_or(Value::Null)));
                }
                Gql::Errors(messages) => messages,
            };
            let missing = messages.iter().any(|m| {
                m.contains(&format!("Cannot query field \"{class}\""))
                    || m.contains("no graphql provider present")
            });
            if !missing {
                return Err(err(WeaviateError::GraphQl {
                    what,
                    message: crate::error::truncate(&messages.join("; ")),
                }));
            }
            // Weaviate rebuilds its GraphQL schema after a class is created; a query right after
            // the create can miss the class although REST already has it. Retry briefly then,
            // so a write followed by a read still reads it.
            self.forget(namespace);
            if pause > GRAPHQL_RETRY_MAX || self.fetch_class(namespace).await?.is_none() {
                return Ok(None);
            }
            tokio::time::sleep(pause).await;
            pause *= 2;
        }
    }

    /// One `Get` query (see [`Fetch`]); `None` when the class does not exist (any more).
    async fn get_objects(&self, namespace: &str, fetch: &Fetch<'_>) -> Result<Option<Vec<Hit>>> {
        let class = class_name(namespace);
        let mut args = Vec::new();
        if let Some((vector, max_distance)) = fetch.near {
            // serde_json prints f32s in their shortest round-trip form, valid GraphQL floats.
            let v = serde_json::to_string(vector)
                .map_err(|e| err(WeaviateError::decode("query vector", e)))?;
            match max_distance {
                Some(d) => args.push(format!(
                    "nearVector: {{vector: {v}, distance: {}}}",
                    crate::filter::graphql_float(d)
                )),
                None => args.push(format!("nearVector: {{vector: {v}}}")),
            }
        }
        let mut parts = Vec::new();
        if let Some(lo) = fetch.above {
            parts.push(Where::leaf(
                P_KEY_HEX,
                Op::GreaterThan,
                Literal::Text(lo.to_owned()),
            ));
        }
        if let Some(hi) = fetch.up_to {
            parts.push(Where::leaf(
                P_KEY_HEX,
                Op::LessThanEqual,
                Literal::Text(hi.to_owned()),
            ));
        }
        if let Some(w) = fetch.condition {
            parts.push(w.clone());
        }
        match parts.len() {
            0 => {}
            1 => args.push(format!("where: {}", parts[0].to_graphql())),
            _ => args.push(format!("where: {}", Where::And(parts).to_graphql())),
        }
        if let Some(id) = fetch.after_id {
            // Weaviate's cursor API (UUID order); it takes no `where`, `sort` or `nearVector`.
            args.push(format!("after: {}", graphql_string(id)));
        }
        args.push(format!("limit: {}", fetch.limit));
        let mut additional = vec!["id"];
        if fetch.near.is_some() {
            additional.push("distance");
        }
        if fetch.vector {
            additional.push("vector");
        }
        let meta = if fetch.meta { P_META } else { "" };
        let query = format!(
            "{{ Get {{ {class}({}) {{ {P_KEY} {meta} _additional {{ {} }} }} }} }}",
            args.join(", "),
            additional.join(" ")
        );
        let Some(list) = self.gql_class(namespace, "Get", query).await? else {
            return Ok(None);
        };
        let what = "GraphQL Get";
        let list = list
            .as_array()
            .ok_or_else(|| err(WeaviateError::decode(what, "no object list")))?;
        list.iter()
            .map(|o| parse_hit(o, what).map_err(err))
            .collect::<Result<Vec<_>>>()
            .map(Some)
    }

    /// Every object whose metadata matches `filter` (keys and metadata, no vectors), for counts
    /// and deletes the server cannot evaluate exactly. One query when the server-side condition
    /// narrows the candidates below `max_results`; otherwise a walk over the whole class with
    /// Weaviate's cursor API.
    async fn all_matching(
        &self,
        namespace: &str,
        filter: &Filter,
        t: &Translated,
        vector: bool,
    ) -> Result<Vec<Hit>> {
        let max = self.config.max_results.max(1);
        let fetch = Fetch {
            condition: t.condition.as_ref(),
            limit: max,
            meta: true,
            vector,
            ..Fetch::default()
        };
        let Some(hits) = self.get_objects(namespace, &fetch).await? else {
            return Ok(Vec::new());
        };
        if hits.len() < max {
            return Ok(hits
                .into_iter()
                .filter(|h| filter.matches(&h.metadata))
                .collect());
        }
        let mut out = Vec::new();
        // The walk starts with `after: ""` (the start of the cursor), so every page, the first
        // included, comes in UUID order.
        let mut after = String::new();
        loop {
            let fetch = Fetch {
                after_id: Some(&after),
                limit: max,
                meta: true,
                vector,
                ..Fetch::default()
            };
            let Some(hits) = self.get_objects(namespace, &fetch).await? else {
                return Ok(out);
            };
            let done = hits.len() < max;
            match hits.last() {
                Some(h) if !done && !h.id.is_empty() => after = h.id.clone(),
                _ => {
                    out.extend(hits.into_iter().filter(|h| filter.matches(&h.metadata)));
                    return Ok(out);
                }
            }
            out.extend(hits.into_iter().filter(|h| filter.matches(&h.metadata)));
        }
    }

    /// One scan page: the `want` smallest keys after `after` (hex) that match the filter, with
    /// their records, and whether more may follow.
    ///
    /// Weaviate's `sort` is not used (it is outside the API subset verified here) and its
    /// cursor API orders by UUID, so the page is found by keyset narrowing on `vt_kx`, whose
    /// string order is the keys' byte order: fetch (keys only) up to `max_results` candidates
    /// above the cursor; if that was all of them, the page is their smallest `want`; if not, the
    /// `want`-th smallest candidate seen bounds the page from above, and the narrower range is
    /// fetched again. The page's records are then read with one range query.
    async fn scan_range(
        &self,
        namespace: &str,
        after: Option<String>,
        filter: Option<(&Filter, &Translated)>,
        want: usize,
    ) -> Result<(Vec<Hit>, bool)> {
        let max = self.config.max_results.max(1);
        let exact = filter.is_none_or(|(_, t)| t.exact);
        let condition = filter.and_then(|(_, t)| t.condition.as_ref());
        let keep = |h: &Hit| exact || filter.is_none_or(|(f, _)| f.matches(&h.metadata));
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
            let Some(hits) = self.get_objects(namespace, &fetch).await? else {
                return Ok((Vec::new(), false));
            };
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
                let (f, t) = filter.unwrap_or((
                    &ALL,
                    &Translated {
                        condition: None,
                        exact: true,
                    },
                ));
                let mut all: Vec<String> = self
                    .all_matching(namespace, f, t, false)
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
            // The range may hold more than one query can return: read the page's records by id.
            let class = class_name(namespace);
            let paths: Vec<String> = keys
                .iter()
                .map(|k| {
                    format!(
                        "/objects/{class}/{}?include=vector",
                        object_id(namespace, k).hyphenated()
                    )
                })
                .collect();
            let stored: Vec<Option<StoredVector>> = futures_util::stream::iter(
                paths.into_iter().map(|path| get_object(&self.client, path)),
            )
            .buffered(CONCURRENCY)
            .try_collect()
            .await?;
            let page = keys
                .into_iter()
                .zip(stored)
                .filter_map(|(key, s)| {
                    // Records deleted between the two reads drop out of the page.
                    let s = s?;
                    Some(Hit {
                        id: String::new(),
                        key,
                        metadata: s.metadata,
                        distance: None,
                        vector: Some(s.embedding),
                    })
                })
                .collect();
            return Ok((page, more));
        }
        let Some(last) = keys.last().map(|k| hex(k.as_bytes())) else {
            return Ok((Vec::new(), more));
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
        let hits = self
            .get_objects(namespace, &fetch)
            .await?
            .unwrap_or_default();
        let mut by_key: HashMap<String, Hit> =
            hits.into_iter().map(|h| (h.key.clone(), h)).collect();
        // Records deleted between the two reads drop out of the page.
        keys.retain(|k| by_key.contains_key(k));
        let page = keys.iter().filter_map(|k| by_key.remove(k)).collect();
        Ok((page, more))
    }

    fn checked_filter<'f>(
        config: &NamespaceConfig,
        filter: Option<&'f Filter>,
    ) -> Result<Option<(&'f Filter, Translated)>> {
        match filter {
            None => Ok(None),
            Some(f) => {
                f.validate(&config.filterable, &FilterOp::ALL)?;
                Ok(Some((f, translate(f, &config.filterable))))
            }
        }
    }

    /// `DELETE /v1/batch/objects` with `condition`, repeated until nothing matches (each call is
    /// capped at the server's `QUERY_MAXIMUM_RESULTS`). Returns how many were deleted.
    async fn batch_delete(&self, namespace: &str, condition: &Where) -> Result<u64> {
        let class = class_name(namespace);
        let what = "DELETE /v1/batch/objects";
        let body = json!({
            "match": {"class": class, "where": condition.to_json()},
            "output": "minimal",
            "dryRun": false,
        });
        let mut deleted = 0u64;
        loop {
            let reply = self
                .client
                .send(Method::DELETE, "/batch/objects", Some(&body))
                .await
                .map_err(err)?;
            if reply.status == 404
                || (reply.status == 422 && self.fetch_class(namespace).await?.is_none())
            {
                // The class vanished meanwhile (another process dropped it).
                self.forget(namespace);
                return Ok(deleted);
            }
            let v = reply
                .expect(what, &[200])
                .and_then(|r| r.json(what))
                .map_err(err)?;
            let results = v.get("results").cloned().unwrap_or(Value::Null);
            let count = |k: &str| results.get(k).and_then(Value::as_f64).unwrap_or(0.0) as u64;
            let (matches, successful, failed) =
                (count("matches"), count("successful"), count("failed"));
            deleted += successful;
            if failed > 0 {
                return Err(err(WeaviateError::Batch {
                    failed: failed as usize,
                    total: matches as usize,
                    message: format!("batch delete left {failed} objects"),
                }));
            }
            if matches == 0 || successful == 0 {
                return Ok(deleted);
            }
        }
    }

    /// Deletes records by key through batch deletes of `vt_kx` equalities.
    async fn delete_keys(&self, namespace: &str, keys: &[String]) -> Result<u64> {
        let mut deleted = 0;
        for chunk in keys.chunks(DELETE_CHUNK) {
            let parts: Vec<Where> = chunk
                .iter()
                .map(|k| Where::leaf(P_KEY_HEX, Op::Equal, Literal::Text(hex(k.as_bytes()))))
                .collect();
            let condition = if parts.len() == 1 {
                parts.into_iter().next().unwrap_or(Where::Or(Vec::new()))
            } else {
                Where::Or(parts)
            };
            deleted += self.batch_delete(namespace, &condition).await?;
        }
        Ok(deleted)
    }

    /// The object body for one record.
    fn object(namespace: &str, class: &str, config: &NamespaceConfig, r: &Record) -> Value {
        let mut props = Map::new();
        props.insert(P_KEY.into(), json!(r.key));
        props.insert(P_KEY_HEX.into(), json!(hex(r.key.as_bytes())));
        props.insert(
            P_META.into(),
            json!(serde_json::to_string(&r.metadata).unwrap_or_default()),
        );
        let mut present = Vec::new();
        let mut absent = Vec::new();
        for (field, ty) in &config.filterable {
            let prop = field_property(field);
            let Some(v) = r.metadata.get(field).filter(|v| !v.is_null()) else {
                absent.push(prop);
                continue;
            };
            present.push(prop.clone());
            match ty {
                FieldType::Keyword => {
                    let tokens: Vec<String> = match v {
                        Value::String(s) => vec![keyword_token(s)],
                        Value::Array(a) => a
                            .iter()
                            .filter_map(Value::as_str)
                            .map(keyword_token)
                            .collect(),
                        _ => Vec::new(),
                    };
                    // An empty array stores nothing; presence is in vt_present.
                    if !tokens.is_empty() {
                        props.insert(prop, json!(tokens));
                    }
                }
                FieldType::Number => {
                    let n = v.as_f64().unwrap_or(0.0);
                    props.insert(prop, json!(if n == 0.0 { 0.0 } else { n }));
                }
                FieldType::Bool => {
                    props.insert(prop, json!(v.as_bool().unwrap_or(false)));
                }
            }
        }
        // Empty lists are left out rather than sent as `[]`: the property is then null, which
        // an `Equal` never matches, exactly like an empty list.
        if !present.is_empty() {
            props.insert(P_PRESENT.into(), json!(present));
        }
        if !absent.is_empty() {
            props.insert(P_ABSENT.into(), json!(absent));
        }
        json!({
            "class": class,
            "id": object_id(namespace, &r.key).hyphenated().to_string(),
            "properties": props,
            "vector": r.embedding,
        })
    }

    async fn post_batch(&self, objects: Vec<Value>) -> Result<()> {
        let what = "POST /v1/batch/objects";
        let total = objects.len();
        let body = json!({ "objects": objects });
        let reply = self
            .client
            .send(Method::POST, "/batch/objects", Some(&body))
            .await
            .map_err(err)?;
        let v = reply
            .expect(what, &[200])
            .and_then(|r| r.json(what))
            .map_err(err)?;
        let items = v
            .as_array()
            .ok_or_else(|| err(WeaviateError::decode(what, "not an array")))?;
        if items.len() != total {
            return Err(err(WeaviateError::decode(
                what,
                format!("{} results for {total} objects", items.len()),
            )));
        }
        // HTTP 200 even when objects failed: every result must be checked.
        let mut failures = Vec::new();
        for item in items {
            let result = item.get("result");
            let status = result.and_then(|r| r.get("status")).and_then(Value::as_str);
            let errors: Vec<&str> = result
                .and_then(|r| r.get("errors"))
                .and_then(|e| e.get("error"))
                .and_then(Value::as_array)
                .map(|list| {
                    list.iter()
                        .filter_map(|m| m.get("message")?.as_str())
                        .collect()
                })
                .unwrap_or_default();
            if !errors.is_empty() || status.is_some_and(|s| s != "SUCCESS") {
                failures.push(if errors.is_empty() {
                    status.unwrap_or("FAILED").to_owned()
                } else {
                    errors.join("; ")
                });
            }
        }
        if failures.is_empty() {
            Ok(())
        } else {
            Err(err(WeaviateError::Batch {
                failed: failures.len(),
                total,
                message: crate::error::truncate(&failures.join(" | ")),
            }))
        }
    }

    /// The `k` nearest (after the filter), fetching more candidates while ties at the k-th
    /// place or a widened filter could still change the answer.
    async fn nearest(
        &self,
        namespace: &str,
        config: &NamespaceConfig,
        request: &QueryRequest,
        max_distance: Option<f64>,
        filter: Option<(&Filter, &Translated)>,
    ) -> Result<Vec<SearchResult>> {
        let max = self.config.max_results.max(1);
        let k = request.k;
        let exact = filter.is_none_or(|(_, t)| t.exact);
        let condition = filter.and_then(|(_, t)| t.condition.as_ref());
        let mut limit = score::overfetch(k).min(max);
        loop {
            let fetch = Fetch {
                near: Some((request.embedding.as_slice(), max_distance)),
                condition,
                limit,
                meta: true,
                vector: request.include_embedding,
                ..Fetch::default()
            };
            let Some(hits) = self.get_objects(namespace, &fetch).await? else {
                return Ok(Vec::new());
            };
            let fetched = hits.len();
            let last_distance = hits.last().and_then(|h| h.distance);
            let mut results = Vec::with_capacity(hits.len());
            for h in hits {
                if !exact && !filter.is_some_and(|(f, _)| f.matches(&h.metadata)) {
                    continue;
                }
                let d = h.distance.ok_or_else(|| {
                    err(WeaviateError::decode(
                        "GraphQL Get",
                        "a result without distance",
                    ))
                })?;
                let s = distance::scored(config.metric, d);
                results.push((
                    d,
                    SearchResult::new(h.key, s.score, s.distance, h.metadata, h.vector),
                ));
            }
            // Complete when the server ran out of candidates, or when the k-th match is strictly
            // closer than the farthest candidate (so no tie at the k-th place was cut off).
            let exhausted = fetched < limit;
            let settled =
                results.len() >= k && last_distance.is_some_and(|last| results[k - 1].0 < last);
            if exhausted || settled || (limit >= max && exact) {
                // At the server's maximum with an exact filter, only ties at the
                // `max_results`-th place can be missed.
                let results = results.into_iter().map(|(_, r)| r).collect();
                return Ok(score::finish(results, k, request.threshold));
            }
            if limit >= max {
                // A widened filter whose matches lie beyond the server's maximum result count:
                // score every match client-side (exact, and costly, but never wrong).
                let Some((f, t)) = filter else {
                    return Ok(Vec::new());
                };
                let results = self
                    .all_matching(namespace, f, t, true)
                    .await?
                    .into_iter()
                    .map(|h| {
                        let v = h.vector.ok_or_else(|| {
                            err(WeaviateError::decode(
                                "GraphQL Get",
                                "an object without its vector",
                            ))
                        })?;
                        let s = score::reference(config.metric, &request.embedding, &v);
                        let v = request.include_embedding.then_some(v);
                        Ok(SearchResult::new(h.key, s.score, s.distance, h.metadata, v))
                    })
                    .collect::<Result<Vec<_>>>()?;
                return Ok(score::finish(results, k, request.threshold));
            }
            limit = (limit * 4).min(max);
        }
    }
}

async fn get_object(client: &Client, path: String) -> Result<Option<StoredVector>> {
    let what = "GET /v1/objects/{class}/{id}";
    let reply = client.get(&path).await.map_err(err)?;
    if reply.status == 404 {
        return Ok(None);
    }
    let v = reply
        .expect(what, &[200])
        .and_then(|r| r.json(what))
        .map_err(err)?;
    let props = v.get("properties");
    let metadata = parse_metadata(
        props.and_then(|p| p.get(P_META)).and_then(Value::as_str),
        what,
    )
    .map_err(err)?;
    let embedding = parse_vector(v.get("vector"), what).map_err(err)?;
    Ok(Some(StoredVector {
        embedding,
        metadata,
    }))
}

async fn delete_object(client: &Client, path: String) -> Result<bool> {
    let what = "DELETE /v1/objects/{class}/{id}";
    let reply = client
        .send(Method::DELETE, &path, None)
        .await
        .map_err(err)?;
    let reply = reply.expect(what, &[204, 404]).map_err(err)?;
    Ok(reply.status == 204)
}

fn parse_version(v: &str) -> Option<(u64, u64)> {
    let mut parts = v.split(['.', '-']);
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next()?.parse().ok()?;
    Some((major, minor))
}

fn parse_metadata(text: Option<&str>, what: &str) -> Result<Metadata, WeaviateError> {
    let text =
        text.ok_or_else(|| WeaviateError::decode(what, format!("an object without {P_META}")))?;
    serde_json::from_str(text).map_err(|e| WeaviateError::decode(what, e))
}

fn parse_vector(v: Option<&Value>, what: &str) -> Result<Vec<f32>, WeaviateError> {
    let list = v
        .and_then(Value::as_array)
        .ok_or_else(|| WeaviateError::decode(what, "an object without its vector"))?;
    list.iter()
        .map(|x| {
            x.as_f64()
                .map(|f| f as f32)
                .ok_or_else(|| WeaviateError::decode(what, "a non-numeric vector element"))
        })
        .collect()
}

fn parse_hit(o: &Value, what: &str) -> Result<Hit, WeaviateError> {
    let key = o
        .get(P_KEY)
        .and_then(Value::as_str)
        .ok_or_else(|| WeaviateError::decode(what, format!("an object without {P_KEY}")))?
        .to_owned();
    let metadata = match o.get(P_META) {
        Some(m) if !m.is_null() => parse_metadata(m.as_str(), what)?,
        _ => Metadata::new(),
    };
    let additional = o.get("_additional");
    let id = additional
        .and_then(|a| a.get("id"))
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let distance = additional
        .and_then(|a| a.get("distance"))
        .and_then(Value::as_f64);
    let vector = match additional.and_then(|a| a.get("vector")) {
        Some(v) if !v.is_null() => Some(parse_vector(Some(v), what)?),
        _ => None,
    };
    Ok(Hit {
        id,
        key,
        metadata,
        distance,
        vector,
    })
}

/// An opaque scan cursor: the lower-case hex of the last key returned.
fn parse_cursor(cursor: Option<&str>) -> Result<Option<String>> {
    match cursor {
        None => Ok(None),
        Some(c)
            if !c.is_empty()
                && c.len() <= 2 * validate::MAX_KEY_BYTES
                && schema::unhex(c).is_some() =>
        {
            Ok(Some(c.to_owned()))
        }
        Some(_) => Err(Error::invalid_argument(
            "invalid scan cursor (not one this backend returned)",
        )),
    }
}

#[async_trait]
impl VectorBackend for WeaviateBackend {
    fn backend_type(&self) -> &'static str {
        "weaviate"
    }

    fn capabilities(&self) -> Capabilities {
        let mut caps = Capabilities::full();
        // `Auto` is HNSW: approximate on large sets (exact with filters below 40000 matches).
        caps.auto_index_is_exact = false;
        caps.persistent = true;
        caps
    }

    async fn health_check(&self) -> bool {
        let ready = matches!(self.client.get("/.well-known/ready").await, Ok(r) if r.status == 200);
        ready && self.server_version().await.is_ok()
    }

    async fn create_namespace(&self, namespace: &str, config: &NamespaceConfig) -> Result<()> {
        validate::namespace(namespace)?;
        validate::config(config, &self.capabilities())?;
        let existing = match self.lookup(namespace).await? {
            Some(c) => c,
            None => self.create_class(namespace, config).await?,
        };
        if existing == *config {
            Ok(())
        } else {
            Err(Error::new(
                ErrorKind::ConfigMismatch,
                format!("namespace {namespace} exists with a different config"),
            ))
        }
    }

    async fn namespace_info(&self, namespace: &str) -> Result<Option<NamespaceInfo>> {
        validate::namespace(namespace)?;
        let Some(config) = self.lookup(namespace).await? else {
            return Ok(None);
        };
        let count = self.count(namespace, None).await?;
        Ok(Some(NamespaceInfo::new(namespace, config, count)))
    }

    async fn drop_namespace(&self, namespace: &str) -> Result<bool> {
        validate::namespace(namespace)?;
        self.forget(namespace);
        // Weaviate answers 200 for a missing class too, so ask first; refuse foreign classes.
        if self.fetch_class(namespace).await?.is_none() {
            return Ok(false);
        }
        let path = format!("/schema/{}", class_name(namespace));
        self.client
            .send(Method::DELETE, &path, None)
            .await
            .and_then(|r| r.expect("DELETE /v1/schema/{class}", &[200]))
            .map_err(err)?;
        self.forget(namespace);
        Ok(true)
    }

    async fn list_namespaces(&self) -> Result<Vec<String>> {
        let what = "GET /v1/schema";
        let v = self
            .client
            .get("/schema")
            .await
            .and_then(|r| r.expect(what, &[200]))
            .and_then(|r| r.json(what))
            .map_err(err)?;
        let classes = v
            .get("classes")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let mut names: Vec<String> = classes
            .iter()
            .filter_map(|c| {
                let class = c.get("class")?.as_str()?;
                let meta = ClassMeta::from_description(c.get("description")?.as_str()?)?;
                // Only classes whose name is the encoding of the recorded namespace are ours.
                (schema::namespace_of_class(class).as_deref() == Some(meta.namespace.as_str()))
                    .then_some(meta.namespace)
            })
            .collect();
        names.sort();
        names.dedup();
        Ok(names)
    }

    async fn clear_namespace(&self, namespace: &str) -> Result<u64> {
        validate::namespace(namespace)?;
        if self.lookup(namespace).await?.is_none() {
            return Ok(0);
        }
        // Objects only: the class, and with it the config, stays.
        self.batch_delete(
            namespace,
            &Where::leaf(P_KEY_HEX, Op::Like, Literal::Text("*".into())),
        )
        .await
    }

    async fn upsert_batch(&self, namespace: &str, records: Vec<Record>) -> Result<()> {
        validate::namespace(namespace)?;
        if records.is_empty() {
            return Ok(());
        }
        let existing = self.lookup(namespace).await?;
        let mut config = validate::batch(&records, existing.as_ref())?;
        if existing.is_none() {
            let created = self.create_class(namespace, &config).await?;
            if created != config {
                // A concurrent writer created the namespace differently: check against that.
                config = validate::batch(&records, Some(&created))?;
            }
        }
        // The last occurrence of a key wins, as in a sequence of single upserts.
        let mut last = HashMap::with_capacity(records.len());
        for (i, r) in records.iter().enumerate() {
            last.insert(r.key.as_str(), i);
        }
        let class = class_name(namespace);
        let mut chunk = Vec::new();
        let mut bytes = 0usize;
        for (i, r) in records.iter().enumerate() {
            if last.get(r.key.as_str()) != Some(&i) {
                continue;
            }
            let size = r.embedding.len() * 16
                + validate::serialized_len(&r.metadata) * 2
                + r.key.len() * 4
                + 512;
            if !chunk.is_empty()
                && (chunk.len() >= self.config.batch_size || bytes + size > MAX_BATCH_BYTES)
            {
                self.post_batch(std::mem::take(&mut chunk))
                    .await
                    .inspect_err(|_| self.forget(namespace))?;
                bytes = 0;
            }
            chunk.push(Self::object(namespace, &class, &config, r));
            bytes += size;
        }
        if !chunk.is_empty() {
            self.post_batch(chunk)
                .await
                .inspect_err(|_| self.forget(namespace))?;
        }
        Ok(())
    }

    async fn get_batch(
        &self,
        namespace: &str,
        keys: &[String],
    ) -> Result<Vec<Option<StoredVector>>> {
        validate::namespace(namespace)?;
        validate::keys(keys)?;
        if keys.is_empty() || self.lookup(namespace).await?.is_none() {
            return Ok(vec![None; keys.len()]);
        }
        let class = class_name(namespace);
        let paths: Vec<String> = keys
            .iter()
            .map(|key| {
                format!(
                    "/objects/{class}/{}?include=vector",
                    object_id(namespace, key).hyphenated()
                )
            })
            .collect();
        futures_util::stream::iter(paths.into_iter().map(|path| get_object(&self.client, path)))
            .buffered(CONCURRENCY)
            .try_collect()
            .await
    }

    async fn delete_batch(&self, namespace: &str, keys: &[String]) -> Result<u64> {
        validate::namespace(namespace)?;
        validate::keys(keys)?;
        if keys.is_empty() || self.lookup(namespace).await?.is_none() {
            return Ok(0);
        }
        let class = class_name(namespace);
        let unique: HashSet<&str> = keys.iter().map(String::as_str).collect();
        let paths: Vec<String> = unique
            .into_iter()
            .map(|key| {
                format!(
                    "/objects/{class}/{}",
                    object_id(namespace, key).hyphenated()
                )
            })
            .collect();
        let deleted: Vec<bool> = futures_util::stream::iter(
            paths
                .into_iter()
                .map(|path| delete_object(&self.client, path)),
        )
        .buffer_unordered(CONCURRENCY)
        .try_collect()
        .await?;
        Ok(deleted.into_iter().filter(|d| *d).count() as u64)
    }

    async fn search(&self, namespace: &str, request: &QueryRequest) -> Result<Vec<SearchResult>> {
        validate::query(namespace, request)?;
        let Some(config) = self.lookup(namespace).await? else {
            return Ok(Vec::new());
        };
        validate::embedding_for(&request.embedding, &config)?;
        let filter = Self::checked_filter(&config, request.filter.as_ref())?;
        let max_distance = match distance::bound(config.metric, request.threshold) {
            Bound::Nothing => return Ok(Vec::new()),
            Bound::All => None,
            Bound::Max(d) => Some(d),
        };
        self.nearest(
            namespace,
            &config,
            request,
            max_distance,
            filter.as_ref().map(|(f, t)| (*f, t)),
        )
        .await
    }

    async fn count(&self, namespace: &str, filter: Option<&Filter>) -> Result<u64> {
        validate::namespace(namespace)?;
        let Some(config) = self.lookup(namespace).await? else {
            return Ok(0);
        };
        let filter = Self::checked_filter(&config, filter)?;
        if let Some((f, t)) = &filter
            && !t.exact
        {
            return Ok(self.all_matching(namespace, f, t, false).await?.len() as u64);
        }
        let class = class_name(namespace);
        let args = match filter.as_ref().and_then(|(_, t)| t.condition.as_ref()) {
            Some(w) => format!("(where: {})", w.to_graphql()),
            None => String::new(),
        };
        let query = format!("{{ Aggregate {{ {class}{args} {{ meta {{ count }} }} }} }}");
        let Some(v) = self.gql_class(namespace, "Aggregate", query).await? else {
            return Ok(0);
        };
        let n = v
            .as_array()
            .and_then(|a| a.first())
            .and_then(|g| g.get("meta"))
            .and_then(|m| m.get("count"))
            .and_then(Value::as_f64)
            .ok_or_else(|| err(WeaviateError::decode("GraphQL Aggregate", "no meta.count")))?;
        Ok(n as u64)
    }

    async fn scan_page(&self, namespace: &str, request: &ScanRequest) -> Result<ScanPage> {
        validate::namespace(namespace)?;
        validate::page_size(request.page_size)?;
        let Some(config) = self.lookup(namespace).await? else {
            return Ok(ScanPage::default());
        };
        let filter = Self::checked_filter(&config, request.filter.as_ref())?;
        let after = parse_cursor(request.cursor.as_deref())?;
        let size = request.effective_page_size();
        let (hits, more) = self
            .scan_range(
                namespace,
                after,
                filter.as_ref().map(|(f, t)| (*f, t)),
                size,
            )
            .await?;
        let next = if more {
            hits.last().map(|h| hex(h.key.as_bytes()))
        } else {
            None
        };
        let records = hits
            .into_iter()
            .map(|h| {
                let embedding = h.vector.ok_or_else(|| {
                    err(WeaviateError::decode(
                        "GraphQL Get",
                        "a scanned object without its vector",
                    ))
                })?;
                Ok(Record::new(h.key, embedding, h.metadata))
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(ScanPage::new(records, next))
    }

    async fn delete_by_filter(&self, namespace: &str, filter: &Filter) -> Result<u64> {
        validate::namespace(namespace)?;
        let Some(config) = self.lookup(namespace).await? else {
            return Ok(0);
        };
        filter.validate(&config.filterable, &FilterOp::ALL)?;
        let t = translate(filter, &config.filterable);
        if t.exact {
            let all = Where::leaf(P_KEY_HEX, Op::Like, Literal::Text("*".into()));
            return self
                .batch_delete(namespace, t.condition.as_ref().unwrap_or(&all))
                .await;
        }
        // The server can only narrow the candidates: find the matches, then delete them by key.
        let hits = self.all_matching(namespace, filter, &t, false).await?;
        let keys: Vec<String> = hits.into_iter().map(|h| h.key).collect();
        self.delete_keys(namespace, &keys).await
    }
}

#[async_trait]
impl OpenBackend for WeaviateBackend {
    const NAME: &'static str = "weaviate";
    const SCHEMES: &'static [&'static str] = &["weaviate+http", "weaviate+https"];
    const URL_ENV: &'static str = "WEAVIATE_URL";

    /// Also accepts plain `http://` and `https://`, the form of the design's `weaviate_url`.
    async fn open(url: &str) -> Result<Self> {
        Self::connect(WeaviateConfig::from_url(url)?).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions() {
        assert_eq!(parse_version("1.25.0"), Some((1, 25)));
        assert_eq!(parse_version("1.40.0-dev"), Some((1, 40)));
        assert_eq!(parse_version("1.9"), Some((1, 9)));
        assert!(parse_version("1.24.9").is_some_and(|v| v < MIN_VERSION));
        assert!(parse_version("2.0.0").is_some_and(|v| v >= MIN_VERSION));
        assert_eq!(parse_version("garbage"), None);
    }

    #[test]
    fn cursors_are_validated() {
        assert_eq!(parse_cursor(None).unwrap(), None);
        assert_eq!(parse_cursor(Some("6b31")).unwrap().as_deref(), Some("6b31"));
        for bad in ["", "xyz", "6B31", "abc", "\") { x }"] {
            assert_eq!(
                parse_cursor(Some(bad)).unwrap_err().kind(),
                ErrorKind::InvalidArgument
            );
        }
    }

    #[test]
    fn objects_carry_presence_and_encoded_fields() {
        let config = NamespaceConfig::new(2)
            .with_field("color", FieldType::Keyword)
            .with_field("tags", FieldType::Keyword)
            .with_field("price", FieldType::Number)
            .with_field("ok", FieldType::Bool);
        let meta = json!({"color": " red ", "tags": [], "price": -0.0, "note": {"x": 1}});
        let r = Record::new(
            "k 1",
            vec![0.5, -1.0],
            meta.as_object().cloned().unwrap_or_default(),
        );
        let o = WeaviateBackend::object("ns", "Vt_6e73", &config, &r);
        let p = &o["properties"];
        assert_eq!(p[P_KEY], "k 1");
        assert_eq!(p[P_KEY_HEX], hex(b"k 1"));
        assert_eq!(
            serde_json::from_str::<Value>(p[P_META].as_str().unwrap_or("")).ok(),
            Some(meta)
        );
        assert_eq!(p[field_property("color")], json!([keyword_token(" red ")]));
        assert!(
            p.get(field_property("tags")).is_none(),
            "empty arrays are left out"
        );
        assert_eq!(p[field_property("price")], json!(0.0));
        let props =
            |names: &[&str]| json!(names.iter().map(|n| field_property(n)).collect::<Vec<_>>());
        assert_eq!(p[P_PRESENT], props(&["color", "price", "tags"]));
        assert_eq!(p[P_ABSENT], props(&["ok"]));
        assert_eq!(o["id"], object_id("ns", "k 1").hyphenated().to_string());
        assert_eq!(o["vector"], json!([0.5, -1.0]));
    }
}
