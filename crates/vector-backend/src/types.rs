//! Plain data types for requests and results: records, namespace configuration, queries,
//! scan pages and capabilities.
//!
//! They are plain structs with public fields so they are easy to build and to match on; the
//! ones that will grow are `#[non_exhaustive]` and have constructors.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::filter::Filter;

/// Metadata stored with a vector: a JSON object.
pub type Metadata = serde_json::Map<String, serde_json::Value>;

/// The similarity metric of a namespace. See `docs/contract.md` for the score formulas.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    /// Cosine similarity; score in [-1, 1], distance = 1 - score.
    #[default]
    Cosine,
    /// Dot product; score = a·b, distance = -(a·b).
    DotProduct,
    /// Euclidean; score = -‖a-b‖, distance = ‖a-b‖ (not squared).
    Euclidean,
}

impl Metric {
    /// Every metric, in a fixed order.
    pub const ALL: [Metric; 3] = [Metric::Cosine, Metric::DotProduct, Metric::Euclidean];

    /// Lower-case name, as used in URLs, JSON and the docs.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Cosine => "cosine",
            Self::DotProduct => "dot_product",
            Self::Euclidean => "euclidean",
        }
    }
}

impl fmt::Display for Metric {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How a namespace is indexed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IndexKind {
    /// The backend's recommended index (HNSW on servers that have it, exact in memory).
    #[default]
    Auto,
    /// Exact (brute-force) search: results identical to the f64 oracle's order.
    Flat,
    /// Approximate HNSW graph index.
    Hnsw,
}

impl IndexKind {
    /// Lower-case name.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Auto => "auto",
            Self::Flat => "flat",
            Self::Hnsw => "hnsw",
        }
    }
}

/// The type of a declared filterable metadata field.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FieldType {
    /// A string, or an array of strings (then `Eq` means "contains").
    Keyword,
    /// A finite JSON number, compared as f64.
    Number,
    /// A JSON boolean.
    Bool,
    /// A string indexed for keyword search (see [`crate::text`]); returned in metadata as
    /// written. Not usable in filters.
    Text,
}

impl FieldType {
    /// Lower-case name.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Keyword => "keyword",
            Self::Number => "number",
            Self::Bool => "bool",
            Self::Text => "text",
        }
    }
}

/// The fixed configuration of a namespace, set when it is created.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct NamespaceConfig {
    /// Length of every embedding in the namespace.
    pub dimension: usize,
    /// Similarity metric.
    #[serde(default)]
    pub metric: Metric,
    /// Index kind.
    #[serde(default)]
    pub index: IndexKind,
    /// Metadata fields that filters may use, with their types. Names match
    /// `[A-Za-z][A-Za-z0-9_]{0,63}`.
    #[serde(default)]
    pub filterable: BTreeMap<String, FieldType>,
}

impl NamespaceConfig {
    /// A config with the given dimension, cosine metric, default index and no filterable fields:
    /// what an implicit create by the first upsert gets.
    pub fn new(dimension: usize) -> Self {
        Self {
            dimension,
            metric: Metric::Cosine,
            index: IndexKind::Auto,
            filterable: BTreeMap::new(),
        }
    }

    /// Sets the metric.
    #[must_use]
    pub fn with_metric(mut self, metric: Metric) -> Self {
        self.metric = metric;
        self
    }

    /// Sets the index kind.
    #[must_use]
    pub fn with_index(mut self, index: IndexKind) -> Self {
        self.index = index;
        self
    }

    /// Declares a filterable field (or, with [`FieldType::Text`], a text field).
    #[must_use]
    pub fn with_field(mut self, name: impl Into<String>, ty: FieldType) -> Self {
        self.filterable.insert(name.into(), ty);
        self
    }

    /// True when the namespace declares text fields (keyword search is possible).
    pub fn has_text(&self) -> bool {
        self.filterable.values().any(|t| *t == FieldType::Text)
    }
}

/// What `namespace_info` reports.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct NamespaceInfo {
    /// The namespace's original name.
    pub name: String,
    /// Its fixed configuration.
    pub config: NamespaceConfig,
    /// How many vectors it holds now.
    pub count: u64,
}

impl NamespaceInfo {
    /// Builds an info value.
    pub fn new(name: impl Into<String>, config: NamespaceConfig, count: u64) -> Self {
        Self {
            name: name.into(),
            config,
            count,
        }
    }
}

/// One record to write: key, embedding and metadata.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Record {
    /// The key, unique within the namespace.
    pub key: String,
    /// The embedding.
    pub embedding: Vec<f32>,
    /// The metadata object (replaced whole on upsert).
    #[serde(default)]
    pub metadata: Metadata,
}

impl Record {
    /// Builds a record.
    pub fn new(key: impl Into<String>, embedding: Vec<f32>, metadata: Metadata) -> Self {
        Self {
            key: key.into(),
            embedding,
            metadata,
        }
    }
}

/// A stored vector as returned by `get`: embedding and metadata.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StoredVector {
    /// The embedding, bit-exact as written.
    pub embedding: Vec<f32>,
    /// The metadata, exactly as written.
    pub metadata: Metadata,
}

/// One search hit.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct SearchResult {
    /// The record's key.
    pub key: String,
    /// Similarity, higher is better (see [`Metric`]).
    pub score: f64,
    /// Distance, lower is better (see [`Metric`]).
    pub distance: f64,
    /// The record's metadata.
    pub metadata: Metadata,
    /// The record's embedding, when the query asked for it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub embedding: Option<Vec<f32>>,
    /// For keyword and hybrid queries: the hit's place in each leg. `score` is then the
    /// keyword leg's BM25 score (keyword query) or the fused score (hybrid), and `distance` is
    /// `-score`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub legs: Option<Legs>,
}

/// Where a keyword or hybrid hit stood in each leg (absent from a leg: `None`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Legs {
    /// In the vector leg: similarity score and 1-based rank.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vector: Option<LegHit>,
    /// In the keyword leg: BM25 score and 1-based rank.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keyword: Option<LegHit>,
}

/// A hit's score and 1-based rank in one leg.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct LegHit {
    /// The leg's score (higher is better).
    pub score: f64,
    /// 1-based rank in the leg.
    pub rank: usize,
}

impl LegHit {
    /// A leg position.
    pub fn new(score: f64, rank: usize) -> Self {
        Self { score, rank }
    }
}

impl SearchResult {
    /// Builds a hit.
    pub fn new(
        key: impl Into<String>,
        score: f64,
        distance: f64,
        metadata: Metadata,
        embedding: Option<Vec<f32>>,
    ) -> Self {
        Self {
            key: key.into(),
            score,
            distance,
            metadata,
            embedding,
            legs: None,
        }
    }
}

/// How a hybrid query fuses its vector and keyword legs (see [`crate::fusion`]).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "fusion", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Fusion {
    /// Reciprocal rank fusion: `Σ 1/(k + rank)` over the legs, ranks from 1.
    Rrf {
        /// The constant added to ranks (60 by default).
        #[serde(default = "Fusion::default_rrf_k")]
        k: u32,
    },
    /// `alpha · mm(vector) + (1 − alpha) · mm(keyword)`, `mm` min-max normalising each leg's
    /// scores over the list it returned.
    Weighted {
        /// The vector leg's weight, in [0, 1] (0.5 by default).
        #[serde(default = "Fusion::default_alpha")]
        alpha: f64,
    },
}

impl Fusion {
    fn default_rrf_k() -> u32 {
        60
    }
    fn default_alpha() -> f64 {
        0.5
    }
    /// Reciprocal rank fusion with `k = 60`.
    pub const RRF: Fusion = Fusion::Rrf { k: 60 };
}

impl Default for Fusion {
    fn default() -> Self {
        Self::RRF
    }
}

/// A query: nearest neighbours of an embedding, keyword search of a text, or both (hybrid).
///
/// - `embedding` alone: vector search.
/// - `text` with an empty `embedding`: keyword search (BM25 over the namespace's text fields).
/// - both: hybrid search, the two legs fused by `hybrid` (reciprocal rank fusion by default).
///
/// `threshold` is a minimum on the vector score (it filters the vector leg of a hybrid query)
/// and, for keyword search, on the BM25 score; `filter` applies to every leg.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct QueryRequest {
    /// The query embedding; empty for a keyword-only query.
    #[serde(default)]
    pub embedding: Vec<f32>,
    /// How many results at most (1..=10000).
    pub k: usize,
    /// Minimum score, inclusive.
    #[serde(default)]
    pub threshold: Option<f64>,
    /// Only records matching this filter.
    #[serde(default)]
    pub filter: Option<Filter>,
    /// Return each hit's embedding too.
    #[serde(default)]
    pub include_embedding: bool,
    /// Keyword query text (see [`crate::text`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// How a hybrid query fuses its legs; `None` means reciprocal rank fusion with k = 60.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hybrid: Option<Fusion>,
}

impl QueryRequest {
    /// A query for the `k` nearest neighbours of `embedding`.
    pub fn new(embedding: Vec<f32>, k: usize) -> Self {
        Self {
            embedding,
            k,
            threshold: None,
            filter: None,
            include_embedding: false,
            text: None,
            hybrid: None,
        }
    }

    /// A keyword query for the `k` best BM25 matches of `text`.
    pub fn keyword(text: impl Into<String>, k: usize) -> Self {
        Self::new(Vec::new(), k).with_text(text)
    }

    /// Adds keyword text: with an embedding, the query becomes hybrid.
    #[must_use]
    pub fn with_text(mut self, text: impl Into<String>) -> Self {
        self.text = Some(text.into());
        self
    }

    /// Sets how a hybrid query fuses its legs.
    #[must_use]
    pub fn with_fusion(mut self, fusion: Fusion) -> Self {
        self.hybrid = Some(fusion);
        self
    }

    /// What kind of query this is.
    pub fn mode(&self) -> QueryMode {
        match (&self.text, self.embedding.is_empty()) {
            (None, _) => QueryMode::Vector,
            (Some(_), true) => QueryMode::Keyword,
            (Some(_), false) => QueryMode::Hybrid,
        }
    }

    /// Sets the inclusive minimum score.
    #[must_use]
    pub fn with_threshold(mut self, threshold: f64) -> Self {
        self.threshold = Some(threshold);
        self
    }

    /// Sets the filter.
    #[must_use]
    pub fn with_filter(mut self, filter: Filter) -> Self {
        self.filter = Some(filter);
        self
    }

    /// Asks for embeddings in the results.
    #[must_use]
    pub fn with_embeddings(mut self) -> Self {
        self.include_embedding = true;
        self
    }
}

/// What a [`QueryRequest`] asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum QueryMode {
    /// Nearest neighbours of the embedding.
    Vector,
    /// BM25 matches of the text.
    Keyword,
    /// Both, fused.
    Hybrid,
}

/// One page request of a scan.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ScanRequest {
    /// Opaque cursor from the previous page; `None` for the first page.
    #[serde(default)]
    pub cursor: Option<String>,
    /// Records per page (1..=10000); `0` means the default of 1000.
    #[serde(default)]
    pub page_size: usize,
    /// Only records matching this filter.
    #[serde(default)]
    pub filter: Option<Filter>,
}

impl ScanRequest {
    /// The default page size.
    pub const DEFAULT_PAGE_SIZE: usize = 1000;

    /// A first-page request with the given page size.
    pub fn new(page_size: usize) -> Self {
        Self {
            cursor: None,
            page_size,
            filter: None,
        }
    }

    /// Sets the filter.
    #[must_use]
    pub fn with_filter(mut self, filter: Filter) -> Self {
        self.filter = Some(filter);
        self
    }

    /// Sets the cursor.
    #[must_use]
    pub fn with_cursor(mut self, cursor: Option<String>) -> Self {
        self.cursor = cursor;
        self
    }

    /// The page size after applying the default.
    pub fn effective_page_size(&self) -> usize {
        if self.page_size == 0 {
            Self::DEFAULT_PAGE_SIZE
        } else {
            self.page_size
        }
    }
}

/// One page of a scan: records in key order, and the cursor of the next page.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ScanPage {
    /// The records of this page, in ascending key order (byte order of the UTF-8 key).
    pub records: Vec<Record>,
    /// Cursor for the next page; `None` when this was the last.
    pub next_cursor: Option<String>,
}

impl ScanPage {
    /// Builds a page.
    pub fn new(records: Vec<Record>, next_cursor: Option<String>) -> Self {
        Self {
            records,
            next_cursor,
        }
    }
}

/// Filter operators, for [`Capabilities::filter_ops`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[allow(missing_docs)] // The names are the operators of `Filter`.
pub enum FilterOp {
    Eq,
    Ne,
    Gt,
    Gte,
    Lt,
    Lte,
    In,
    Nin,
    Exists,
    And,
    Or,
    Not,
}

impl FilterOp {
    /// Every operator.
    pub const ALL: [FilterOp; 12] = [
        Self::Eq,
        Self::Ne,
        Self::Gt,
        Self::Gte,
        Self::Lt,
        Self::Lte,
        Self::In,
        Self::Nin,
        Self::Exists,
        Self::And,
        Self::Or,
        Self::Not,
    ];
}

/// What a backend supports. The conformance suite asserts `Unsupported` for what is absent.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Capabilities {
    /// Metrics a namespace may use.
    pub metrics: Vec<Metric>,
    /// Index kinds a namespace may use.
    pub index_kinds: Vec<IndexKind>,
    /// Filter operators accepted in `query`, `count`, `scan` and `delete_by_filter`.
    pub filter_ops: Vec<FilterOp>,
    /// Largest dimension accepted (at most the contract's 16000).
    pub max_dimension: usize,
    /// True when `IndexKind::Auto` is exact (results equal the oracle's).
    pub auto_index_is_exact: bool,
    /// Whether the data survives a restart of the server.
    pub persistent: bool,
    /// Whether namespaces may declare [`FieldType::Text`] fields and be queried by keyword
    /// (keyword-only and hybrid queries).
    pub text_search: bool,
}

impl Capabilities {
    /// Everything the contract defines, exact auto index, not persistent.
    pub fn full() -> Self {
        Self {
            metrics: Metric::ALL.to_vec(),
            index_kinds: vec![IndexKind::Auto, IndexKind::Flat, IndexKind::Hnsw],
            filter_ops: FilterOp::ALL.to_vec(),
            max_dimension: crate::validate::MAX_DIMENSION,
            auto_index_is_exact: false,
            persistent: true,
            text_search: true,
        }
    }

    /// Whether a namespace may use this metric.
    pub fn supports_metric(&self, metric: Metric) -> bool {
        self.metrics.contains(&metric)
    }

    /// Whether a namespace may use this index kind.
    pub fn supports_index(&self, index: IndexKind) -> bool {
        self.index_kinds.contains(&index)
    }
}
