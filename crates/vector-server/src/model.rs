//! The wire types of the API: every request and response body, as the service deserialises and
//! serialises it. The OpenAPI document is generated from these types (`utoipa`), so it
//! describes exactly what the service accepts and answers; conversions to and from the core's
//! types are written out field by field, so a change there fails to compile here.
//!
//! Lists are read through [`crate::bounded`], so a body cannot make the service allocate more
//! than a small multiple of its size before the limits are checked.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use vector_tier::{
    FieldType, Filter, FilterValue, Fusion, IndexKind, Metadata, Metric, NamespaceConfig,
    NamespaceInfo, Record, SearchResult, StoredVector,
};

use crate::bounded;

// ---------------------------------------------------------------------------------------------
// Namespaces

/// Similarity metric of a namespace.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub(crate) enum MetricName {
    /// Cosine similarity (embeddings with a zero, subnormal or infinite norm are refused).
    #[default]
    Cosine,
    /// Inner product.
    DotProduct,
    /// Negative Euclidean distance.
    Euclidean,
}

/// Index kind of a namespace.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub(crate) enum IndexName {
    /// The backend's default.
    #[default]
    Auto,
    /// Exact search.
    Flat,
    /// HNSW graph (approximate).
    Hnsw,
}

/// Type of a filterable metadata field.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub(crate) enum FieldTypeName {
    /// Strings (or arrays of strings).
    Keyword,
    /// Numbers.
    Number,
    /// Booleans.
    Bool,
    /// Strings indexed for keyword search (not usable in filters).
    Text,
}

/// A namespace's configuration (body of `PUT /v1/namespaces/{namespace}`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NamespaceConfigBody {
    /// Number of values of every embedding.
    #[schema(minimum = 1, maximum = 16000)]
    pub(crate) dimension: u64,
    /// Similarity metric.
    #[serde(default)]
    pub(crate) metric: MetricName,
    /// Index kind.
    #[serde(default)]
    pub(crate) index: IndexName,
    /// Metadata fields that filters may use, with their types (at most 64).
    #[serde(default)]
    pub(crate) filterable: BTreeMap<String, FieldTypeName>,
}

impl From<NamespaceConfigBody> for NamespaceConfig {
    fn from(b: NamespaceConfigBody) -> Self {
        let metric = match b.metric {
            MetricName::Cosine => Metric::Cosine,
            MetricName::DotProduct => Metric::DotProduct,
            MetricName::Euclidean => Metric::Euclidean,
        };
        let index = match b.index {
            IndexName::Auto => IndexKind::Auto,
            IndexName::Flat => IndexKind::Flat,
            IndexName::Hnsw => IndexKind::Hnsw,
        };
        // Out-of-range dimensions saturate and are refused by the core's validation.
        let dimension = usize::try_from(b.dimension).unwrap_or(usize::MAX);
        let mut config = NamespaceConfig::new(dimension)
            .with_metric(metric)
            .with_index(index);
        for (name, ty) in b.filterable {
            let ty = match ty {
                FieldTypeName::Keyword => FieldType::Keyword,
                FieldTypeName::Number => FieldType::Number,
                FieldTypeName::Bool => FieldType::Bool,
                FieldTypeName::Text => FieldType::Text,
            };
            config = config.with_field(name, ty);
        }
        config
    }
}

impl From<&NamespaceConfig> for NamespaceConfigBody {
    fn from(c: &NamespaceConfig) -> Self {
        Self {
            dimension: c.dimension as u64,
            metric: match c.metric {
                Metric::Cosine => MetricName::Cosine,
                Metric::DotProduct => MetricName::DotProduct,
                Metric::Euclidean => MetricName::Euclidean,
            },
            index: match c.index {
                IndexKind::Auto => IndexName::Auto,
                IndexKind::Flat => IndexName::Flat,
                IndexKind::Hnsw => IndexName::Hnsw,
            },
            filterable: c
                .filterable
                .iter()
                .map(|(name, ty)| {
                    let ty = match ty {
                        FieldType::Keyword => FieldTypeName::Keyword,
                        FieldType::Number => FieldTypeName::Number,
                        FieldType::Bool => FieldTypeName::Bool,
                        FieldType::Text => FieldTypeName::Text,
                    };
                    (name.clone(), ty)
                })
                .collect(),
        }
    }
}

/// Answer of `GET /v1/namespaces`.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct NamespaceList {
    /// Every namespace, sorted.
    pub(crate) namespaces: Vec<String>,
}

/// Answer of `PUT /v1/namespaces/{namespace}`.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct NamespaceCreated {
    /// The namespace.
    pub(crate) namespace: String,
    /// Its configuration.
    pub(crate) config: NamespaceConfigBody,
}

/// Answer of `GET /v1/namespaces/{namespace}`.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct NamespaceInfoBody {
    /// The namespace.
    pub(crate) name: String,
    /// Its configuration.
    pub(crate) config: NamespaceConfigBody,
    /// How many vectors it holds.
    pub(crate) count: u64,
}

impl From<&NamespaceInfo> for NamespaceInfoBody {
    fn from(i: &NamespaceInfo) -> Self {
        Self {
            name: i.name.clone(),
            config: (&i.config).into(),
            count: i.count,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Vectors

/// Body of `PUT .../vectors/{key}`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct VectorBody {
    /// The embedding (its length is the namespace's dimension).
    #[serde(deserialize_with = "bounded::embedding")]
    #[schema(min_items = 1, max_items = 16000)]
    pub(crate) embedding: Vec<f32>,
    /// Metadata (a JSON object of at most 64 KiB serialised).
    #[serde(default)]
    #[schema(value_type = Object)]
    pub(crate) metadata: Metadata,
}

/// One record of `POST .../vectors:upsert`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RecordBody {
    /// Any UTF-8 key of 1..=512 bytes without NUL.
    pub(crate) key: String,
    /// The embedding.
    #[serde(deserialize_with = "bounded::embedding")]
    #[schema(min_items = 1, max_items = 16000)]
    pub(crate) embedding: Vec<f32>,
    /// Metadata (a JSON object of at most 64 KiB serialised).
    #[serde(default)]
    #[schema(value_type = Object)]
    pub(crate) metadata: Metadata,
}

impl From<RecordBody> for Record {
    fn from(r: RecordBody) -> Self {
        Record::new(r.key, r.embedding, r.metadata)
    }
}

/// Body of `POST .../vectors:upsert`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RecordList {
    /// The records, at most `--max-batch-records` (default 1000); a key given twice: the last
    /// record wins.
    #[serde(deserialize_with = "bounded::records")]
    pub(crate) records: Vec<RecordBody>,
}

/// Body of `POST .../vectors:get` and `POST .../vectors:delete`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct KeyList {
    /// The keys, at most `--max-batch-keys` (default 1000). A key given twice counts once.
    #[serde(deserialize_with = "bounded::keys")]
    pub(crate) keys: Vec<String>,
}

/// A stored vector with its key.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct VectorOut {
    /// The key.
    pub(crate) key: String,
    /// The embedding.
    pub(crate) embedding: Vec<f32>,
    /// The metadata.
    #[schema(value_type = Object)]
    pub(crate) metadata: Metadata,
}

impl VectorOut {
    pub(crate) fn new(key: String, v: StoredVector) -> Self {
        Self {
            key,
            embedding: v.embedding,
            metadata: v.metadata,
        }
    }
}

impl From<Record> for VectorOut {
    fn from(r: Record) -> Self {
        Self {
            key: r.key,
            embedding: r.embedding,
            metadata: r.metadata,
        }
    }
}

/// Answer of `POST .../vectors:get`: one entry per distinct key, in the order each key first
/// appears in the request; `null` for a key with no vector.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct VectorList {
    /// The vectors.
    pub(crate) vectors: Vec<Option<VectorOut>>,
}

/// Answer of writes: how many records were written.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Upserted {
    /// Records written.
    pub(crate) upserted: u64,
}

/// Answer of `DELETE .../vectors/{key}`.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct DeletedOne {
    /// Whether the key existed.
    pub(crate) deleted: bool,
}

/// Answer of deletes of several vectors.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Deleted {
    /// How many vectors were deleted.
    pub(crate) deleted: u64,
}

/// Answer of `DELETE /v1/namespaces/{namespace}`.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Dropped {
    /// Whether the namespace existed.
    pub(crate) dropped: bool,
}

/// Answer of `POST .../count`.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Count {
    /// How many vectors (that match the filter).
    pub(crate) count: u64,
}

// ---------------------------------------------------------------------------------------------
// Queries, scans, filters

/// A literal in a filter.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(untagged)]
pub(crate) enum FilterValueBody {
    /// For bool fields.
    Bool(bool),
    /// For number fields (finite).
    Number(f64),
    /// For keyword fields (at most 4096 bytes, no NUL).
    String(String),
}

impl From<FilterValueBody> for FilterValue {
    fn from(v: FilterValueBody) -> Self {
        match v {
            FilterValueBody::Bool(b) => FilterValue::Bool(b),
            FilterValueBody::Number(n) => FilterValue::Number(n),
            FilterValueBody::String(s) => FilterValue::String(s),
        }
    }
}

/// A metadata filter over the namespace's declared filterable fields. Nesting depth at most
/// 16, at most 1024 nodes, `in`/`nin` take 1..=1024 values, `and`/`or` at least one filter.
/// A comparison on a missing field is false; `ne`, `nin` and `not` match records without it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "op", rename_all = "snake_case", deny_unknown_fields)]
#[schema(no_recursion)]
pub(crate) enum FilterBody {
    /// Field equals value (keyword arrays: contains).
    Eq {
        /// Field name.
        field: String,
        /// Value.
        value: FilterValueBody,
    },
    /// Not `eq`.
    Ne {
        /// Field name.
        field: String,
        /// Value.
        value: FilterValueBody,
    },
    /// Number field greater than value.
    Gt {
        /// Field name.
        field: String,
        /// Value.
        value: FilterValueBody,
    },
    /// Number field at least value.
    Gte {
        /// Field name.
        field: String,
        /// Value.
        value: FilterValueBody,
    },
    /// Number field less than value.
    Lt {
        /// Field name.
        field: String,
        /// Value.
        value: FilterValueBody,
    },
    /// Number field at most value.
    Lte {
        /// Field name.
        field: String,
        /// Value.
        value: FilterValueBody,
    },
    /// Field equals one of the values.
    In {
        /// Field name.
        field: String,
        /// Values.
        #[serde(deserialize_with = "bounded::filter_values")]
        #[schema(min_items = 1, max_items = 1024)]
        values: Vec<FilterValueBody>,
    },
    /// Not `in`.
    Nin {
        /// Field name.
        field: String,
        /// Values.
        #[serde(deserialize_with = "bounded::filter_values")]
        #[schema(min_items = 1, max_items = 1024)]
        values: Vec<FilterValueBody>,
    },
    /// The field is present.
    Exists {
        /// Field name.
        field: String,
    },
    /// All of the filters.
    And {
        /// Filters.
        #[serde(deserialize_with = "bounded::filters")]
        #[schema(min_items = 1, max_items = 1024)]
        filters: Vec<FilterBody>,
    },
    /// Any of the filters.
    Or {
        /// Filters.
        #[serde(deserialize_with = "bounded::filters")]
        #[schema(min_items = 1, max_items = 1024)]
        filters: Vec<FilterBody>,
    },
    /// The negation of the filter.
    Not {
        /// The filter.
        filter: Box<FilterBody>,
    },
}

impl From<FilterBody> for Filter {
    fn from(f: FilterBody) -> Self {
        let values = |v: Vec<FilterValueBody>| v.into_iter().map(Into::into).collect::<Vec<_>>();
        let filters = |v: Vec<FilterBody>| v.into_iter().map(Into::into).collect::<Vec<_>>();
        match f {
            FilterBody::Eq { field, value } => Filter::Eq {
                field,
                value: value.into(),
            },
            FilterBody::Ne { field, value } => Filter::Ne {
                field,
                value: value.into(),
            },
            FilterBody::Gt { field, value } => Filter::Gt {
                field,
                value: value.into(),
            },
            FilterBody::Gte { field, value } => Filter::Gte {
                field,
                value: value.into(),
            },
            FilterBody::Lt { field, value } => Filter::Lt {
                field,
                value: value.into(),
            },
            FilterBody::Lte { field, value } => Filter::Lte {
                field,
                value: value.into(),
            },
            FilterBody::In { field, values: v } => Filter::In {
                field,
                values: values(v),
            },
            FilterBody::Nin { field, values: v } => Filter::Nin {
                field,
                values: values(v),
            },
            FilterBody::Exists { field } => Filter::Exists { field },
            FilterBody::And { filters: v } => Filter::And {
                filters: filters(v),
            },
            FilterBody::Or { filters: v } => Filter::Or {
                filters: filters(v),
            },
            FilterBody::Not { filter } => Filter::Not {
                filter: Box::new((*filter).into()),
            },
        }
    }
}

fn default_k() -> u64 {
    10
}

/// How a hybrid query fuses its legs.
#[derive(Clone, Copy, Debug, Deserialize, ToSchema)]
#[serde(tag = "fusion", rename_all = "snake_case", deny_unknown_fields)]
pub(crate) enum FusionBody {
    /// Reciprocal rank fusion: `Σ 1/(k + rank)`, ranks from 1.
    Rrf {
        /// The constant added to ranks.
        #[serde(default = "default_rrf_k")]
        #[schema(default = 60, maximum = 1000000)]
        k: u32,
    },
    /// `alpha · mm(vector) + (1 − alpha) · mm(keyword)` of min-max normalised leg scores.
    Weighted {
        /// The vector leg's weight, in [0, 1].
        #[serde(default = "default_alpha")]
        #[schema(default = 0.5, minimum = 0.0, maximum = 1.0)]
        alpha: f64,
    },
}

fn default_rrf_k() -> u32 {
    60
}

fn default_alpha() -> f64 {
    0.5
}

impl From<FusionBody> for Fusion {
    fn from(f: FusionBody) -> Self {
        match f {
            FusionBody::Rrf { k } => Fusion::Rrf { k },
            FusionBody::Weighted { alpha } => Fusion::Weighted { alpha },
        }
    }
}

/// Body of `POST .../query`: an embedding (vector search), a `text` (keyword search), or
/// both (hybrid search, fused as `hybrid` says; reciprocal rank fusion by default).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct QueryBody {
    /// The query embedding; leave it out for a keyword-only query.
    #[serde(default, deserialize_with = "bounded::embedding")]
    #[schema(max_items = 16000)]
    pub(crate) embedding: Vec<f32>,
    /// Keyword query text: lower-cased ASCII words (every other character separates words),
    /// matched with OR and ranked by BM25 over the namespace's text fields.
    #[serde(default)]
    #[schema(max_length = 16384)]
    pub(crate) text: Option<String>,
    /// With `text` and an embedding: how the two legs are fused.
    #[serde(default)]
    pub(crate) hybrid: Option<FusionBody>,
    /// How many neighbours, 1..=`--max-k` (default 1000); ties at the k-th place are broken by
    /// key.
    #[serde(default = "default_k")]
    #[schema(minimum = 1, default = 10)]
    pub(crate) k: u64,
    /// Inclusive minimum score.
    #[serde(default)]
    pub(crate) threshold: Option<f64>,
    /// Only records matching this filter.
    #[serde(default)]
    pub(crate) filter: Option<FilterBody>,
    /// Return each hit's embedding too (counts against `--max-response-bytes`).
    #[serde(default)]
    pub(crate) include_embedding: bool,
}

/// Body of `POST .../count`.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CountBody {
    /// Only records matching this filter.
    #[serde(default)]
    pub(crate) filter: Option<FilterBody>,
}

/// Body of `POST .../delete-by-filter`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct DeleteByFilterBody {
    /// Records matching this filter are deleted.
    pub(crate) filter: FilterBody,
}

/// Body of `POST .../scan`.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ScanBody {
    /// `next_cursor` of the previous page; absent or null for the first page.
    #[serde(default)]
    pub(crate) cursor: Option<String>,
    /// Records per page, at most `--max-scan-page` (default 1000); 0 or absent means that
    /// maximum (at most 1000).
    #[serde(default)]
    #[schema(minimum = 0)]
    pub(crate) page_size: u64,
    /// Only records matching this filter.
    #[serde(default)]
    pub(crate) filter: Option<FilterBody>,
}

/// One hit of a query.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Hit {
    /// The key.
    pub(crate) key: String,
    /// Similarity: higher is nearer.
    pub(crate) score: f64,
    /// The metric's distance.
    pub(crate) distance: f64,
    /// The metadata.
    #[schema(value_type = Object)]
    pub(crate) metadata: Metadata,
    /// The embedding, with `include_embedding`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) embedding: Option<Vec<f32>>,
    /// Keyword and hybrid queries: the hit's score and 1-based rank in each leg (`score` is
    /// then the BM25 or fused score, and `distance` is `-score`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) legs: Option<LegsOut>,
}

/// A hit's place in each leg of a keyword or hybrid query.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct LegsOut {
    /// In the vector leg.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) vector: Option<LegOut>,
    /// In the keyword leg.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) keyword: Option<LegOut>,
}

/// Score and 1-based rank in one leg.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct LegOut {
    /// The leg's score.
    pub(crate) score: f64,
    /// 1-based rank.
    pub(crate) rank: u64,
}

impl From<SearchResult> for Hit {
    fn from(r: SearchResult) -> Self {
        let leg = |l: Option<vector_tier::LegHit>| {
            l.map(|l| LegOut {
                score: l.score,
                rank: l.rank as u64,
            })
        };
        Self {
            key: r.key,
            score: r.score,
            distance: r.distance,
            metadata: r.metadata,
            embedding: r.embedding,
            legs: r.legs.map(|l| LegsOut {
                vector: leg(l.vector),
                keyword: leg(l.keyword),
            }),
        }
    }
}

/// Body of `POST .../query:batch`: several queries on one namespace, answered in order.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct QueryBatchBody {
    /// The queries, at most 100; the sum of their answers counts against
    /// `--max-response-bytes`.
    #[serde(deserialize_with = "bounded::queries")]
    #[schema(max_items = 100)]
    pub(crate) queries: Vec<QueryBody>,
}

/// Answer of `POST .../query:batch`: one answer per query, in order.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct QueryBatchResponse {
    /// The answers.
    pub(crate) results: Vec<QueryResponse>,
}

/// Answer of `POST .../query`: best first (score descending, then key ascending).
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct QueryResponse {
    /// The hits.
    pub(crate) results: Vec<Hit>,
}

/// Answer of `POST .../scan`.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ScanPageOut {
    /// Records in ascending key order.
    pub(crate) records: Vec<VectorOut>,
    /// Pass it back as `cursor` for the next page; null after the last page.
    pub(crate) next_cursor: Option<String>,
}

// ---------------------------------------------------------------------------------------------
// Operations and errors

/// Answer of `GET /health`.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Health {
    /// Always `ok`.
    pub(crate) status: HealthStatus,
}

/// The liveness status.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub(crate) enum HealthStatus {
    /// The process serves.
    Ok,
}

/// Answer of `GET /ready`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub(crate) struct Ready {
    /// `ready` (200) or `unavailable` (503).
    pub(crate) status: ReadyStatus,
    /// The backend type (`memory`, `redis`, `weaviate`, `pgvector`).
    pub(crate) backend: String,
}

/// The readiness status.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub(crate) enum ReadyStatus {
    /// The backend's health check passed.
    Ready,
    /// It failed or timed out.
    Unavailable,
}

/// Every error kind the service answers with.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
#[allow(dead_code)] // Documentation of the kinds; the service writes them as strings.
pub(crate) enum ErrorKindName {
    /// 400.
    InvalidNamespace,
    /// 400.
    InvalidKey,
    /// 400.
    InvalidEmbedding,
    /// 400.
    InvalidMetadata,
    /// 400.
    InvalidArgument,
    /// 400: malformed JSON.
    InvalidJson,
    /// 400: bad percent-encoding in the path.
    InvalidPath,
    /// 400: the body could not be read.
    InvalidBody,
    /// 400: over a request budget (keys, records, k, page size, response bytes).
    LimitExceeded,
    /// 401.
    Unauthorized,
    /// 404.
    NotFound,
    /// 405.
    MethodNotAllowed,
    /// 409.
    ConfigMismatch,
    /// 413.
    PayloadTooLarge,
    /// 415.
    UnsupportedMediaType,
    /// 422: wrong types, missing or unknown fields.
    InvalidRequest,
    /// 422.
    DimensionMismatch,
    /// 429.
    RateLimited,
    /// 422: this backend does not support what was asked (index kind, filter operator).
    Unsupported,
    /// 502.
    Backend,
    /// 503.
    Unavailable,
    /// 503.
    Timeout,
    /// 507.
    CapacityExceeded,
}

/// Every error answer: `{"error": {"kind": ..., "message": ...}}`.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ErrorBody {
    /// The error.
    pub(crate) error: ErrorDetail,
}

/// What went wrong.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ErrorDetail {
    /// What kind of error, to match on.
    #[schema(value_type = ErrorKindName)]
    pub(crate) kind: String,
    /// Why, for people (at most 512 characters, never a secret).
    pub(crate) message: String,
}
