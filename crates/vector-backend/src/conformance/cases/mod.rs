//! Every case of the suite, one line each in [`all_cases`], and the context they run in.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use anyhow::{Context as _, bail, ensure};
use serde_json::json;

use super::fixture::seed_of;
use crate::VectorBackendExt as _;
use crate::synth::SplitMix64;
use crate::{
    Capabilities, DynBackend, Error, ErrorKind, Metadata, Metric, NamespaceConfig, Record,
};

mod batch;
mod concurrency;
mod differential;
mod filter;
mod namespace;
mod replicas;
mod roundtrip;
mod scan;
mod scores;
mod validation;

pub(crate) type CaseFuture = Pin<Box<dyn Future<Output = anyhow::Result<()>> + Send>>;

/// Opens a second, independent backend object on the same server.
pub(crate) type Reopen =
    Arc<dyn Fn() -> Pin<Box<dyn Future<Output = crate::Result<DynBackend>> + Send>> + Send + Sync>;

/// One named case.
pub(crate) struct Case {
    pub(crate) name: &'static str,
    pub(crate) run: fn(Ctx) -> CaseFuture,
}

macro_rules! case {
    ($group:ident :: $name:ident) => {
        Case {
            name: concat!(stringify!($group), "::", stringify!($name)),
            run: |ctx| Box::pin($group::$name(ctx)),
        }
    };
}

/// THE list of cases. A new case is one line here; a new backend needs no line here.
pub(crate) fn all_cases() -> Vec<Case> {
    vec![
        case!(validation::rejects_invalid_namespace_names),
        case!(validation::accepts_edge_namespace_names),
        case!(validation::rejects_invalid_keys),
        case!(validation::hostile_keys_round_trip),
        case!(validation::rejects_non_finite_embeddings),
        case!(validation::rejects_empty_and_oversized_embeddings),
        case!(validation::zero_vector_is_invalid_only_for_cosine),
        case!(validation::cosine_norm_must_be_a_normal_f32),
        case!(validation::rejects_invalid_metadata),
        case!(validation::accepts_metadata_near_size_limit),
        case!(validation::rejects_k_out_of_range),
        case!(validation::rejects_non_finite_threshold),
        case!(validation::rejected_write_changes_nothing),
        case!(validation::rejects_bad_namespace_configs),
        case!(validation::rejects_declared_field_with_wrong_type),
        case!(validation::bad_input_on_absent_namespace_still_errors),
        case!(roundtrip::embeddings_round_trip_bit_exactly),
        case!(roundtrip::metadata_round_trips_exactly),
        case!(roundtrip::upsert_replaces_metadata_whole),
        case!(roundtrip::get_absent_is_none),
        case!(roundtrip::delete_reports_existence),
        case!(roundtrip::results_include_embedding_when_asked),
        case!(roundtrip::read_your_writes),
        case!(roundtrip::large_dimension_round_trips),
        case!(namespace::implicit_creation_uses_first_upsert),
        case!(namespace::create_same_config_is_noop),
        case!(namespace::create_different_config_is_mismatch),
        case!(namespace::dimension_mismatch_on_upsert_and_query),
        case!(namespace::list_returns_sorted_original_names),
        case!(namespace::case_sensitive_names_are_isolated),
        case!(namespace::similar_names_are_isolated),
        case!(namespace::clear_keeps_config_and_counts),
        case!(namespace::clear_absent_returns_zero),
        case!(namespace::drop_removes_everything),
        case!(namespace::info_reports_config_and_count),
        case!(namespace::absent_namespace_reads_are_empty),
        case!(namespace::config_survives_reopen_through_server),
        case!(scores::cosine_fixed_vectors),
        case!(scores::dot_product_fixed_vectors),
        case!(scores::euclidean_fixed_vectors),
        case!(scores::cosine_random_matches_reference),
        case!(scores::dot_product_random_matches_reference),
        case!(scores::euclidean_random_matches_reference),
        case!(scores::order_is_score_desc_then_key),
        case!(scores::ties_at_k_broken_by_key),
        case!(scores::forty_equal_vectors_tie_by_key),
        case!(scores::k_bounds_results),
        case!(scores::threshold_is_inclusive_on_reported_score),
        case!(scores::threshold_is_inclusive_on_exact_integer_score),
        case!(scores::threshold_excludes_lower_scores),
        case!(scores::unsupported_metrics_and_indexes_are_reported),
        case!(scores::health_check_is_true),
        case!(batch::one_bad_record_writes_nothing),
        case!(batch::bad_batch_creates_no_namespace),
        case!(batch::duplicate_keys_last_wins),
        case!(batch::get_batch_keeps_order),
        case!(batch::delete_batch_counts_existing),
        case!(batch::large_batch_round_trips),
        case!(scan::pages_cover_every_record_once),
        case!(scan::filtered_scan_matches_oracle),
        case!(scan::stream_helper_follows_cursors),
        case!(scan::rejects_oversized_page),
        case!(scan::count_with_filter_matches_oracle),
        case!(filter::eq_on_keyword),
        case!(filter::eq_on_keyword_array_means_contains),
        case!(filter::ne_matches_missing_fields),
        case!(filter::range_operators),
        case!(filter::in_and_nin),
        case!(filter::exists),
        case!(filter::and_or_not),
        case!(filter::bool_fields),
        case!(filter::integer_and_float_compare_equal),
        case!(filter::hostile_values_match_literally),
        case!(filter::undeclared_field_is_invalid_argument),
        case!(filter::type_mismatch_is_invalid_argument),
        case!(filter::query_with_filter_matches_oracle),
        case!(filter::delete_by_filter_matches_oracle),
        case!(filter::supported_operators_are_advertised),
        case!(concurrency::writers_and_readers_end_consistent),
        case!(concurrency::same_key_writers_leave_one_written_value),
        case!(differential::cosine_clustered_matches_oracle),
        case!(differential::dot_product_clustered_matches_oracle),
        case!(differential::euclidean_clustered_matches_oracle),
        case!(replicas::upsert_after_drop_elsewhere_creates_again),
        case!(replicas::stale_dimension_is_refused_after_recreate),
        case!(replicas::recreated_metric_is_used_elsewhere),
        case!(replicas::recreated_dimension_is_accepted_elsewhere),
        case!(replicas::clear_elsewhere_is_seen),
        case!(replicas::deletes_elsewhere_are_seen),
        case!(replicas::reads_after_drop_elsewhere_are_empty),
        case!(replicas::random_operations_keep_acknowledged_writes),
    ]
}

/// What a case gets: the backend, its capabilities, a namespace of its own and a seeded
/// generator. Further namespaces come from [`Ctx::extra_ns`] and are cleaned up too.
#[derive(Clone)]
pub(crate) struct Ctx {
    pub(crate) backend: DynBackend,
    pub(crate) caps: Capabilities,
    reopen: Reopen,
    second: Reopen,
    ns: String,
    seed: u64,
    used: Arc<Mutex<Vec<String>>>,
}

impl Ctx {
    pub(crate) fn new(
        backend: DynBackend,
        caps: Capabilities,
        reopen: Reopen,
        second: Reopen,
        ns: String,
        case: &str,
    ) -> Self {
        let seed = std::env::var("VTIER_TEST_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| seed_of(case));
        let used = Arc::new(Mutex::new(vec![ns.clone()]));
        Self {
            backend,
            caps,
            reopen,
            second,
            ns,
            seed,
            used,
        }
    }

    /// A second backend object opened from the same URL.
    pub(crate) async fn reopen(&self) -> anyhow::Result<DynBackend> {
        Ok((self.reopen)().await?)
    }

    /// Another backend object on the same server (for the memory backend, on the same store):
    /// what a second replica of a service is. It has its own catalogue.
    pub(crate) async fn second(&self) -> anyhow::Result<DynBackend> {
        Ok((self.second)().await?)
    }

    /// The case's own namespace.
    pub(crate) fn ns(&self) -> &str {
        &self.ns
    }

    /// Another namespace for this case, `<ns>_<suffix>` (suffix of `[A-Za-z0-9_-]`).
    pub(crate) fn extra_ns(&self, suffix: &str) -> String {
        let name = format!("{}_{suffix}", self.ns);
        if let Ok(mut used) = self.used.lock() {
            used.push(name.clone());
        }
        name
    }

    /// Registers a namespace the case named itself, so cleanup drops it.
    pub(crate) fn track(&self, name: &str) {
        if let Ok(mut used) = self.used.lock() {
            used.push(name.to_owned());
        }
    }

    pub(crate) fn seed(&self) -> u64 {
        self.seed
    }

    pub(crate) fn rng(&self) -> SplitMix64 {
        SplitMix64::new(self.seed)
    }

    pub(crate) fn used_namespaces(&self) -> Vec<String> {
        self.used.lock().map(|u| u.clone()).unwrap_or_default()
    }

    pub(crate) async fn cleanup(&self) {
        for ns in self.used_namespaces() {
            let _ = self.backend.drop_namespace(&ns).await;
        }
    }

    /// Upserts one record, with context on failure.
    pub(crate) async fn put(
        &self,
        ns: &str,
        key: &str,
        e: Vec<f32>,
        m: Metadata,
    ) -> anyhow::Result<()> {
        self.backend
            .upsert(ns, key, e, m)
            .await
            .with_context(|| format!("upsert {key:?} into {ns}"))
    }

    /// Creates `ns` with `config`, or returns Ok(false) after asserting `Unsupported` when the
    /// backend does not advertise the config's metric or index.
    pub(crate) async fn create_if_supported(
        &self,
        ns: &str,
        config: &NamespaceConfig,
    ) -> anyhow::Result<bool> {
        let supported =
            self.caps.supports_metric(config.metric) && self.caps.supports_index(config.index);
        let r = self.backend.create_namespace(ns, config).await;
        if supported {
            r.with_context(|| format!("create {ns} with {config:?}"))?;
            Ok(true)
        } else {
            expect_kind(
                r,
                ErrorKind::Unsupported,
                "create_namespace with an unadvertised metric/index",
            )?;
            Ok(false)
        }
    }

    /// Upserts records in one batch.
    pub(crate) async fn put_all(&self, ns: &str, records: Vec<Record>) -> anyhow::Result<()> {
        let n = records.len();
        self.backend
            .upsert_batch(ns, records)
            .await
            .with_context(|| format!("upsert_batch of {n} records into {ns}"))
    }
}

/// Asserts that `r` failed with `kind` (for `DimensionMismatch`, any dimensions).
pub(crate) fn expect_kind<T: std::fmt::Debug>(
    r: Result<T, Error>,
    kind: ErrorKind,
    what: &str,
) -> anyhow::Result<()> {
    match r {
        Ok(v) => bail!(
            "{what}: expected {kind:?}, got Ok({:.200})",
            format!("{v:?}")
        ),
        Err(e) => {
            let same = match (e.kind(), kind) {
                (ErrorKind::DimensionMismatch { .. }, ErrorKind::DimensionMismatch { .. }) => true,
                (a, b) => a == b,
            };
            ensure!(same, "{what}: expected {kind:?}, got {:?}: {e}", e.kind());
            Ok(())
        }
    }
}

/// The keys of `records` that `filter` matches by the reference semantics, in the records'
/// order. Refuses a predicate that matches none or all of them: such a test could not tell a
/// backend that ignores the filter from one that applies it.
pub(crate) fn oracle_keys<'a>(
    records: &'a [Record],
    filter: &crate::Filter,
) -> anyhow::Result<Vec<&'a str>> {
    let keys: Vec<&str> = records
        .iter()
        .filter(|r| filter.matches(&r.metadata))
        .map(|r| r.key.as_str())
        .collect();
    ensure!(
        !keys.is_empty() && keys.len() < records.len(),
        "test predicate {filter} matches {} of {} records; it must match some but not all",
        keys.len(),
        records.len()
    );
    Ok(keys)
}

/// Builds a metadata object from a JSON literal.
pub(crate) fn meta(v: serde_json::Value) -> Metadata {
    v.as_object().cloned().unwrap_or_default()
}

/// An empty metadata object.
pub(crate) fn no_meta() -> Metadata {
    Metadata::new()
}

/// A metadata object `{"i": i}`.
pub(crate) fn tag(i: usize) -> Metadata {
    meta(json!({ "i": i }))
}

/// All metrics with a readable name, for per-metric loops.
pub(crate) fn metrics() -> [Metric; 3] {
    Metric::ALL
}
