//! Validation of every input the contract constrains: names, keys, embeddings, metadata, k,
//! namespace configs and batches. Backends call these at their boundary, before any I/O, so
//! bad input gets the same typed error everywhere and changes nothing.

use std::collections::BTreeMap;

use crate::error::{Error, ErrorKind, Result};
use crate::text;
use crate::types::{
    Capabilities, FieldType, Fusion, Metadata, Metric, NamespaceConfig, QueryMode, QueryRequest,
    Record,
};

/// Longest namespace name, in characters.
pub const MAX_NAMESPACE_LEN: usize = 64;
/// Longest key, in UTF-8 bytes.
pub const MAX_KEY_BYTES: usize = 512;
/// Largest embedding dimension.
pub const MAX_DIMENSION: usize = 16_000;
/// Largest serialized metadata object, in bytes.
pub const MAX_METADATA_BYTES: usize = 64 * 1024;
/// Largest `k`.
pub const MAX_K: usize = 10_000;
/// Largest scan page.
pub const MAX_PAGE_SIZE: usize = 10_000;
/// Longest filterable field name.
pub const MAX_FIELD_NAME_LEN: usize = 64;
/// Most filterable fields per namespace.
pub const MAX_FILTERABLE_FIELDS: usize = 64;

/// Checks a namespace name: 1..=64 characters of `[A-Za-z0-9_-]`.
///
/// # Errors
/// `InvalidNamespace`.
pub fn namespace(ns: &str) -> Result<()> {
    let ok = !ns.is_empty()
        && ns.len() <= MAX_NAMESPACE_LEN
        && ns
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(Error::new(
            ErrorKind::InvalidNamespace,
            format!(
                "namespace {:?} must be 1..={MAX_NAMESPACE_LEN} characters of [A-Za-z0-9_-]",
                ns.chars().take(80).collect::<String>()
            ),
        ))
    }
}

/// Checks a key: 1..=512 bytes of UTF-8 without NUL.
///
/// # Errors
/// `InvalidKey`.
pub fn key(key: &str) -> Result<()> {
    if key.is_empty() || key.len() > MAX_KEY_BYTES || key.contains('\0') {
        return Err(Error::new(
            ErrorKind::InvalidKey,
            format!(
                "key must be 1..={MAX_KEY_BYTES} bytes without NUL (got {} bytes)",
                key.len()
            ),
        ));
    }
    Ok(())
}

/// Checks an embedding's values: 1..=16000 finite numbers; not all zeros under cosine.
///
/// # Errors
/// `InvalidEmbedding`.
pub fn embedding(e: &[f32], metric: Metric) -> Result<()> {
    if e.is_empty() || e.len() > MAX_DIMENSION {
        return Err(Error::new(
            ErrorKind::InvalidEmbedding,
            format!(
                "embedding must have 1..={MAX_DIMENSION} values (got {})",
                e.len()
            ),
        ));
    }
    if let Some(i) = e.iter().position(|v| !v.is_finite()) {
        return Err(Error::new(
            ErrorKind::InvalidEmbedding,
            format!("embedding value at index {i} is not finite"),
        ));
    }
    if metric == Metric::Cosine {
        if e.iter().all(|v| *v == 0.0) {
            return Err(Error::new(
                ErrorKind::InvalidEmbedding,
                "an all-zero embedding has no cosine similarity",
            ));
        }
        // Servers compute cosine in f32: a squared norm that underflows to zero or a subnormal,
        // or overflows to infinity, makes the similarity 0/0 or inf/inf there, so the vector
        // could be stored and then never found. Refuse it everywhere.
        let norm2: f64 = e.iter().map(|v| f64::from(*v) * f64::from(*v)).sum();
        if !((norm2 as f32).is_normal()) {
            return Err(Error::new(
                ErrorKind::InvalidEmbedding,
                format!(
                    "the embedding's squared norm {norm2:e} is outside f32's normal range; \
                     its cosine similarity cannot be computed"
                ),
            ));
        }
    }
    Ok(())
}

/// Checks an embedding against a namespace: values first, then the dimension.
///
/// # Errors
/// `InvalidEmbedding` or `DimensionMismatch`.
pub fn embedding_for(e: &[f32], config: &NamespaceConfig) -> Result<()> {
    embedding(e, config.metric)?;
    if e.len() != config.dimension {
        return Err(Error::dimension_mismatch(config.dimension, e.len()));
    }
    Ok(())
}

/// Checks metadata: at most 64 KiB serialized, no NUL in any string or key, and every declared
/// filterable field present with its declared type (keyword: string or array of strings;
/// number: a number; bool: a boolean; `null` is not allowed for declared fields).
///
/// # Errors
/// `InvalidMetadata`.
pub fn metadata(m: &Metadata, filterable: &BTreeMap<String, FieldType>) -> Result<()> {
    let bad = |msg: String| Error::new(ErrorKind::InvalidMetadata, msg);
    // Measure without allocating the whole string: a writer that only counts.
    let size = serialized_len(m);
    if size > MAX_METADATA_BYTES {
        return Err(bad(format!(
            "metadata is {size} bytes serialized; the limit is {MAX_METADATA_BYTES}"
        )));
    }
    if m.iter().any(|(k, v)| k.contains('\0') || has_nul(v)) {
        return Err(bad(
            "metadata strings and keys must not contain NUL".to_owned()
        ));
    }
    for (field, ty) in filterable {
        let Some(v) = m.get(field) else { continue };
        let fits = match ty {
            FieldType::Keyword => {
                v.is_string()
                    || v.as_array()
                        .is_some_and(|a| a.iter().all(serde_json::Value::is_string))
            }
            FieldType::Number => v.as_f64().is_some_and(f64::is_finite),
            FieldType::Bool => v.is_boolean(),
            FieldType::Text => v.is_string(),
        };
        if !fits {
            return Err(bad(format!(
                "filterable field {field:?} is declared {} but the metadata holds {v}",
                ty.as_str()
            )
            .chars()
            .take(200)
            .collect()));
        }
    }
    Ok(())
}

/// The length of `m` serialized as compact JSON.
pub fn serialized_len(m: &Metadata) -> usize {
    struct Counter(usize);
    impl std::io::Write for Counter {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0 += buf.len();
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut c = Counter(0);
    // Serializing a Map of Values cannot fail.
    let _ = serde_json::to_writer(&mut c, m);
    c.0
}

fn has_nul(v: &serde_json::Value) -> bool {
    match v {
        serde_json::Value::String(s) => s.contains('\0'),
        serde_json::Value::Array(a) => a.iter().any(has_nul),
        serde_json::Value::Object(o) => o.iter().any(|(k, v)| k.contains('\0') || has_nul(v)),
        _ => false,
    }
}

/// Checks `k`: 1..=10000.
///
/// # Errors
/// `InvalidArgument`.
pub fn k(k: usize) -> Result<()> {
    if (1..=MAX_K).contains(&k) {
        Ok(())
    } else {
        Err(Error::invalid_argument(format!(
            "k must be 1..={MAX_K} (got {k})"
        )))
    }
}

/// Checks what a query can be checked for before its namespace's config is known: the name,
/// `k`, the threshold, and the embedding's length and values. The zero-vector rule and the
/// dimension need the config ([`embedding_for`]); so does the filter. Every backend calls this
/// first, so a malformed query fails even on an absent namespace instead of "succeeding" empty.
///
/// # Errors
/// `InvalidNamespace`, `InvalidArgument` or `InvalidEmbedding`.
pub fn query(namespace: &str, request: &QueryRequest) -> Result<()> {
    self::namespace(namespace)?;
    query_request(request)
}

/// [`query`] without the namespace name.
///
/// # Errors
/// `InvalidArgument` or `InvalidEmbedding`.
pub fn query_request(request: &QueryRequest) -> Result<()> {
    k(request.k)?;
    threshold(request.threshold)?;
    if let Some(text) = &request.text {
        query_text(text)?;
    } else if request.hybrid.is_some() {
        return Err(Error::invalid_argument(
            "`hybrid` needs `text` (and an embedding) to fuse",
        ));
    }
    if let Some(fusion) = request.hybrid {
        self::fusion(fusion)?;
        if request.embedding.is_empty() {
            return Err(Error::invalid_argument(
                "`hybrid` needs an embedding besides `text`; without one, leave `hybrid` out",
            ));
        }
    }
    if request.mode() == QueryMode::Keyword {
        return Ok(());
    }
    // Dot product has no zero-vector rule: only the metric-independent checks apply here.
    embedding(&request.embedding, Metric::DotProduct)
}

/// Checks a keyword query text: at most [`text::MAX_QUERY_TEXT_BYTES`] bytes without NUL and at
/// most [`text::MAX_QUERY_TOKENS`] distinct tokens.
///
/// # Errors
/// `InvalidArgument`.
pub fn query_text(t: &str) -> Result<()> {
    if t.len() > text::MAX_QUERY_TEXT_BYTES || t.contains('\0') {
        return Err(Error::invalid_argument(format!(
            "query text must be at most {} bytes without NUL (got {} bytes)",
            text::MAX_QUERY_TEXT_BYTES,
            t.len()
        )));
    }
    let n = text::query_tokens(t).len();
    if n > text::MAX_QUERY_TOKENS {
        return Err(Error::invalid_argument(format!(
            "query text has {n} distinct words; the limit is {}",
            text::MAX_QUERY_TOKENS
        )));
    }
    Ok(())
}

/// Checks a fusion: `alpha` finite in [0, 1].
///
/// # Errors
/// `InvalidArgument`.
pub fn fusion(f: Fusion) -> Result<()> {
    match f {
        Fusion::Weighted { alpha } if !(0.0..=1.0).contains(&alpha) => Err(
            Error::invalid_argument(format!("fusion alpha must be in [0, 1] (got {alpha})")),
        ),
        _ => Ok(()),
    }
}

/// Checks a threshold: finite when given.
///
/// # Errors
/// `InvalidArgument`.
pub fn threshold(t: Option<f64>) -> Result<()> {
    match t {
        Some(t) if !t.is_finite() => Err(Error::invalid_argument("threshold must be finite")),
        _ => Ok(()),
    }
}

/// Checks a scan page size: 0 (default) or 1..=10000.
///
/// # Errors
/// `InvalidArgument`.
pub fn page_size(n: usize) -> Result<()> {
    if n <= MAX_PAGE_SIZE {
        Ok(())
    } else {
        Err(Error::invalid_argument(format!(
            "page size must be at most {MAX_PAGE_SIZE}"
        )))
    }
}

/// Checks a filterable field name: `[A-Za-z][A-Za-z0-9_]{0,63}`. The rule keeps field names
/// valid as RediSearch attributes, SQL parameters and GraphQL property names on every backend.
///
/// # Errors
/// `InvalidArgument`.
pub fn field_name(name: &str) -> Result<()> {
    let mut bytes = name.bytes();
    let ok = name.len() <= MAX_FIELD_NAME_LEN
        && bytes.next().is_some_and(|b| b.is_ascii_alphabetic())
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(Error::invalid_argument(format!(
            "filterable field name {:?} must match [A-Za-z][A-Za-z0-9_]{{0,63}}",
            name.chars().take(80).collect::<String>()
        )))
    }
}

/// Checks a namespace config against the contract and a backend's capabilities.
///
/// # Errors
/// `InvalidArgument` for a dimension outside 1..=16000 or a bad field name; `Unsupported` for
/// a metric, index kind or dimension the backend lacks.
pub fn config(config: &NamespaceConfig, caps: &Capabilities) -> Result<()> {
    if config.dimension == 0 || config.dimension > MAX_DIMENSION {
        return Err(Error::invalid_argument(format!(
            "dimension must be 1..={MAX_DIMENSION} (got {})",
            config.dimension
        )));
    }
    if config.dimension > caps.max_dimension {
        return Err(Error::unsupported(format!(
            "this backend supports at most {} dimensions",
            caps.max_dimension
        )));
    }
    if !caps.supports_metric(config.metric) {
        return Err(Error::unsupported(format!(
            "this backend does not support the {} metric",
            config.metric
        )));
    }
    if !caps.supports_index(config.index) {
        return Err(Error::unsupported(format!(
            "this backend does not support the {} index",
            config.index.as_str()
        )));
    }
    if config.has_text() && !caps.text_search {
        return Err(Error::unsupported(
            "this backend does not support text fields (keyword search)",
        ));
    }
    if config.filterable.len() > MAX_FILTERABLE_FIELDS {
        return Err(Error::invalid_argument(format!(
            "at most {MAX_FILTERABLE_FIELDS} filterable fields"
        )));
    }
    config.filterable.keys().try_for_each(|f| field_name(f))
}

/// Checks one record against a namespace config (or, when the namespace does not exist yet,
/// against the config its first upsert would create).
///
/// # Errors
/// `InvalidKey`, `InvalidEmbedding`, `DimensionMismatch` or `InvalidMetadata`.
pub fn record(r: &Record, config: &NamespaceConfig) -> Result<()> {
    key(&r.key)?;
    embedding_for(&r.embedding, config)?;
    metadata(&r.metadata, &config.filterable)
}

/// Checks a whole batch before anything is written, and returns the config the namespace has
/// or will get: `existing`, or the implicit one (dimension of the first record, cosine).
///
/// # Errors
/// The first record's error; `InvalidArgument` for an empty batch.
pub fn batch(records: &[Record], existing: Option<&NamespaceConfig>) -> Result<NamespaceConfig> {
    let config = match existing {
        Some(c) => c.clone(),
        None => {
            let first = records
                .first()
                .ok_or_else(|| Error::invalid_argument("empty batch"))?;
            embedding(&first.embedding, Metric::Cosine)?;
            NamespaceConfig::new(first.embedding.len())
        }
    };
    records.iter().try_for_each(|r| record(r, &config))?;
    Ok(config)
}

/// Checks a list of keys.
///
/// # Errors
/// `InvalidKey`.
pub fn keys<S: AsRef<str>>(keys: &[S]) -> Result<()> {
    keys.iter().try_for_each(|k| key(k.as_ref()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn names_keys_and_embeddings() {
        assert!(namespace("Docs_1-x").is_ok());
        assert!(namespace(&"a".repeat(64)).is_ok());
        for bad in ["", "a b", "a/b", "ü", "a'b", &"a".repeat(65)] {
            assert_eq!(
                namespace(bad).unwrap_err().kind(),
                ErrorKind::InvalidNamespace
            );
        }
        assert!(key("a:b/c 'd\" 🎉").is_ok());
        assert!(key(&"k".repeat(512)).is_ok());
        for bad in ["", "a\0b", &"k".repeat(513)] {
            assert_eq!(self::key(bad).unwrap_err().kind(), ErrorKind::InvalidKey);
        }
        assert!(embedding(&[0.0, 0.0], Metric::DotProduct).is_ok());
        assert!(embedding(&[0.0, 0.0], Metric::Cosine).is_err());
        assert!(embedding(&[1e-30, 1e-30], Metric::Cosine).is_err());
        assert!(embedding(&[1e30, 1e30], Metric::Cosine).is_err());
        assert!(embedding(&[1e-30, 1e-30], Metric::DotProduct).is_ok());
        assert!(embedding(&[1e-18, 1.0], Metric::Cosine).is_ok());
        assert!(embedding(&[f32::NAN], Metric::Euclidean).is_err());
        assert!(embedding(&[], Metric::Euclidean).is_err());
        let c = NamespaceConfig::new(2);
        assert_eq!(
            embedding_for(&[1.0, 2.0, 3.0], &c).unwrap_err().kind(),
            ErrorKind::DimensionMismatch {
                expected: 2,
                got: 3
            }
        );
    }

    #[test]
    fn metadata_rules() {
        let fields = BTreeMap::from([("n".to_owned(), FieldType::Number)]);
        let ok = json!({"n": 1, "x": {"deep": [1, "two", null]}});
        assert!(metadata(ok.as_object().unwrap(), &fields).is_ok());
        let wrong = json!({"n": "one"});
        assert!(metadata(wrong.as_object().unwrap(), &fields).is_err());
        let nul = json!({"x": ["a\u{0}b"]});
        assert!(metadata(nul.as_object().unwrap(), &fields).is_err());
        let big = json!({"x": "y".repeat(MAX_METADATA_BYTES)});
        assert!(metadata(big.as_object().unwrap(), &fields).is_err());
    }
}
