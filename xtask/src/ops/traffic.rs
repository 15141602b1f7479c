//! Traffic for a `vtier serve`: every operation of the REST API, some deliberate client
//! errors, readiness probes; with the client-side round-trip time of every request.

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::{Context as _, bail};
use serde_json::{Value, json};

use super::http;

/// Namespaces the traffic creates (and leaves behind, except `ops_tmp`).
pub(crate) const DOCS: &str = "ops_docs";
pub(crate) const FAQ: &str = "ops_faq";
const TMP: &str = "ops_tmp";
const DIM: usize = 16;

/// What was sent.
#[derive(Default, Debug)]
pub(crate) struct Traffic {
    /// Client round trips per metric operation name.
    pub(crate) latencies: BTreeMap<&'static str, Vec<Duration>>,
    /// Requests per (namespace, operation) that reached the backend.
    pub(crate) sent: BTreeMap<(String, &'static str), u64>,
    /// Error kinds provoked.
    pub(crate) error_kinds: Vec<&'static str>,
}

impl Traffic {
    // One argument per part of the request, so each call site reads like the request it sends.
    #[allow(clippy::too_many_arguments)]
    fn call(
        &mut self,
        port: u16,
        op: &'static str,
        ns: &str,
        method: &str,
        path: &str,
        body: Option<Value>,
        want: u16,
    ) -> anyhow::Result<Value> {
        let body = body.map(|b| b.to_string());
        let r = http::request(port, method, path, body.as_deref())?;
        if r.status != want {
            bail!(
                "{method} {path}: status {} (wanted {want}): {:.300}",
                r.status,
                r.body
            );
        }
        self.latencies.entry(op).or_default().push(r.elapsed);
        *self.sent.entry((ns.to_owned(), op)).or_default() += 1;
        Ok(r.json().unwrap_or(Value::Null))
    }

    /// Client round trips of `op`, sorted.
    pub(crate) fn sorted(&self, op: &str) -> Vec<Duration> {
        let mut v = self.latencies.get(op).cloned().unwrap_or_default();
        v.sort();
        v
    }
}

/// A deterministic vector (no two alike; never all zero).
pub(crate) fn vector(seed: u64, dim: usize) -> Vec<f32> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..dim)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x % 2000) as f32 / 1000.0 - 0.999
        })
        .collect()
}

fn records(range: std::ops::Range<u64>, dim: usize) -> Value {
    Value::Array(
        range
            .map(|i| {
                json!({"key": format!("k{i:05}"), "embedding": vector(i, dim),
                       "metadata": {"lang": if i % 2 == 0 { "en" } else { "fr" }, "i": i}})
            })
            .collect(),
    )
}

/// Drives every operation on the service at `port`.
pub(crate) fn drive(port: u16) -> anyhow::Result<Traffic> {
    let mut t = Traffic::default();
    let docs = format!("/v1/namespaces/{DOCS}");
    let faq = format!("/v1/namespaces/{FAQ}");
    let tmp = format!("/v1/namespaces/{TMP}");
    let config = json!({"dimension": DIM, "metric": "cosine", "filterable": {"lang": "keyword"}});
    t.call(
        port,
        "create_namespace",
        DOCS,
        "PUT",
        &docs,
        Some(config.clone()),
        200,
    )?;
    t.call(
        port,
        "create_namespace",
        FAQ,
        "PUT",
        &faq,
        Some(json!({"dimension": DIM, "metric": "euclidean"})),
        200,
    )?;
    t.call(
        port,
        "create_namespace",
        TMP,
        "PUT",
        &tmp,
        Some(json!({"dimension": 4})),
        200,
    )?;
    for b in 0..10 {
        t.call(
            port,
            "upsert_batch",
            DOCS,
            "POST",
            &format!("{docs}/vectors:upsert"),
            Some(json!({"records": records(b * 200..(b + 1) * 200, DIM)})),
            200,
        )?;
    }
    for i in 0..100u64 {
        t.call(
            port,
            "upsert",
            FAQ,
            "PUT",
            &format!("{faq}/vectors/q{i:03}"),
            Some(json!({"embedding": vector(10_000 + i, DIM), "metadata": {"n": i}})),
            200,
        )?;
    }
    for i in 0..300u64 {
        let filter = (i % 3 == 0).then(|| json!({"op": "eq", "field": "lang", "value": "en"}));
        let mut body = json!({"embedding": vector(50_000 + i, DIM), "k": 10});
        if let Some(f) = filter {
            body["filter"] = f;
        }
        let hits = t.call(
            port,
            "query",
            DOCS,
            "POST",
            &format!("{docs}/query"),
            Some(body),
            200,
        )?;
        if hits["results"].as_array().map_or(0, Vec::len) != 10 {
            bail!("a query returned {hits:.200}");
        }
    }
    for i in 0..100u64 {
        t.call(
            port,
            "query",
            FAQ,
            "POST",
            &format!("{faq}/query"),
            Some(json!({"embedding": vector(60_000 + i, DIM), "k": 5})),
            200,
        )?;
        t.call(
            port,
            "get",
            DOCS,
            "GET",
            &format!("{docs}/vectors/k{:05}", i * 7),
            None,
            200,
        )?;
    }
    for i in 0..20u64 {
        let keys: Vec<String> = (0..50).map(|j| format!("k{:05}", i * 50 + j)).collect();
        t.call(
            port,
            "get_batch",
            DOCS,
            "POST",
            &format!("{docs}/vectors:get"),
            Some(json!({"keys": keys})),
            200,
        )?;
        t.call(
            port,
            "count",
            DOCS,
            "POST",
            &format!("{docs}/count"),
            Some(json!({})),
            200,
        )?;
    }
    let mut cursor = Value::Null;
    for _ in 0..10 {
        let page = t.call(
            port,
            "scan",
            DOCS,
            "POST",
            &format!("{docs}/scan"),
            Some(json!({"page_size": 200, "cursor": cursor})),
            200,
        )?;
        cursor = page["next_cursor"].clone();
        if cursor.is_null() {
            break;
        }
    }
    for i in 0..20u64 {
        t.call(
            port,
            "delete",
            FAQ,
            "DELETE",
            &format!("{faq}/vectors/q{i:03}"),
            None,
            200,
        )?;
    }
    let keys: Vec<String> = (1900..1950).map(|i| format!("k{i:05}")).collect();
    t.call(
        port,
        "delete_batch",
        DOCS,
        "POST",
        &format!("{docs}/vectors:delete"),
        Some(json!({"keys": keys})),
        200,
    )?;
    t.call(
        port,
        "delete_by_filter",
        DOCS,
        "POST",
        &format!("{docs}/delete-by-filter"),
        Some(json!({"filter": {"op": "eq", "field": "lang", "value": "none"}})),
        200,
    )?;
    t.call(port, "namespace_info", DOCS, "GET", &docs, None, 200)?;
    t.call(
        port,
        "list_namespaces",
        "",
        "GET",
        "/v1/namespaces",
        None,
        200,
    )?;
    t.call(
        port,
        "clear_namespace",
        TMP,
        "DELETE",
        &format!("{tmp}/vectors"),
        None,
        200,
    )?;
    t.call(port, "drop_namespace", TMP, "DELETE", &tmp, None, 200)?;
    // Client errors the backend reports: a wrong dimension, a conflicting configuration.
    for i in 0..10u64 {
        t.call(
            port,
            "upsert",
            DOCS,
            "PUT",
            &format!("{docs}/vectors/bad{i}"),
            Some(json!({"embedding": vector(i, DIM + 1), "metadata": {}})),
            422,
        )?;
    }
    t.error_kinds.push("dimension_mismatch");
    for _ in 0..5 {
        t.call(
            port,
            "create_namespace",
            DOCS,
            "PUT",
            &docs,
            Some(json!({"dimension": DIM + 2})),
            409,
        )?;
    }
    t.error_kinds.push("config_mismatch");
    // Readiness probes (the backend's health_check), spread over a few scrapes as a
    // kubelet's are, so the counter rises between samples.
    probes(&mut t, port, 4)?;
    Ok(t)
}

/// `n` readiness probes, 1.1 s apart: the service caches `/ready` for a second, so each of
/// these reaches the backend's health check once.
pub(crate) fn probes(t: &mut Traffic, port: u16, n: usize) -> anyhow::Result<()> {
    for _ in 0..n {
        t.call(port, "health_check", "", "GET", "/ready", None, 200)?;
        std::thread::sleep(Duration::from_millis(1100));
    }
    Ok(())
}

/// `vector_count_per_namespace` follows writes: after each step Prometheus must show the
/// namespace's new size (the service refreshes its gauges on the next scrape after a write).
pub(crate) fn count_tracking(
    port: u16,
    prom: &super::prom::Prom,
    backend: &str,
) -> anyhow::Result<String> {
    let ns = "ops_count";
    let base = format!("/v1/namespaces/{ns}");
    let mut t = Traffic::default();
    let q = format!(r#"vector_count_per_namespace{{namespace="{ns}",backend_type="{backend}"}}"#);
    let mut steps = Vec::new();
    let expect = |what: &str, want: f64, steps: &mut Vec<String>| -> anyhow::Result<()> {
        let (got, waited) = prom
            .wait_value(&q, want, Duration::from_secs(30))
            .with_context(|| format!("after {what}"))?;
        steps.push(format!(
            "{what} -> {got} (seen after {:.1}s)",
            waited.as_secs_f64()
        ));
        Ok(())
    };
    t.call(
        port,
        "create_namespace",
        ns,
        "PUT",
        &base,
        Some(json!({"dimension": 4})),
        200,
    )?;
    t.call(
        port,
        "upsert_batch",
        ns,
        "POST",
        &format!("{base}/vectors:upsert"),
        Some(json!({"records": records(0..120, 4)})),
        200,
    )?;
    expect("upsert 120", 120.0, &mut steps)?;
    let keys: Vec<String> = (0..20).map(|i| format!("k{i:05}")).collect();
    t.call(
        port,
        "delete_batch",
        ns,
        "POST",
        &format!("{base}/vectors:delete"),
        Some(json!({"keys": keys})),
        200,
    )?;
    expect("delete 20", 100.0, &mut steps)?;
    for i in 115..125u64 {
        t.call(
            port,
            "upsert",
            ns,
            "PUT",
            &format!("{base}/vectors/k{i:05}"),
            Some(json!({"embedding": vector(i, 4)})),
            200,
        )?;
    }
    expect("upsert 5 existing + 5 new", 105.0, &mut steps)?;
    t.call(
        port,
        "clear_namespace",
        ns,
        "DELETE",
        &format!("{base}/vectors"),
        None,
        200,
    )?;
    expect("clear", 0.0, &mut steps)?;
    t.call(
        port,
        "upsert_batch",
        ns,
        "POST",
        &format!("{base}/vectors:upsert"),
        Some(json!({"records": records(0..42, 4)})),
        200,
    )?;
    expect("upsert 42", 42.0, &mut steps)?;
    Ok(steps.join("; "))
}
