//! How namespaces and records map onto Redis keys, hash fields and RediSearch index fields.
//!
//! A namespace `ns` (1..=64 of `[A-Za-z0-9_-]`, so never a `:`) has a config hash, and each of
//! its *incarnations* (see [`crate::catalog`]) a generation number `g` from a global counter,
//! which names all of the incarnation's storage:
//!
//! | Redis object | name |
//! |---|---|
//! | config hash: `config` (JSON), `gen` (the current generation) | `vtier:cfg:{ns}` |
//! | registry set of every namespace | `vtier:namespaces` |
//! | generation counter | `vtier:generation` |
//! | retired generations whose data awaits removal (`{g}:{ns}`) | `vtier:retired` |
//! | RediSearch index of generation `g` | `vtier:idx:{ns}:{g}` |
//! | record hashes (the index's only key prefix) | `vtier:rec:{ns}:{g}:{key}` |
//! | sorted set of keys (score 0, for byte-ordered scans) | `vtier:keys:{ns}:{g}` |
//!
//! Generation 0 is the layout of earlier versions, which had no generations:
//! `vtier:idx:{ns}`, `vtier:ns:{ns}:{key}`, `vtier:keys:{ns}`; a config hash without `gen` is
//! that generation. Its prefix `vtier:ns:` is disjoint from `vtier:rec:`, so its index never
//! sees a later generation's records.
//!
//! The mapping is injective: a namespace holds no `:` and a generation is digits, so the
//! prefix of one incarnation is never a prefix of another's (`vtier:rec:a:1:` vs
//! `vtier:rec:a:12:`, `vtier:rec:a-b:1:`), and Redis keys and RediSearch prefixes compare
//! bytes, case-sensitively. Generations are never reused, so nothing of an old incarnation can
//! be read or written through a new one.
//!
//! A record hash holds `k` (the key), `v` (the embedding, little-endian FLOAT32), `m` (the
//! metadata as JSON text, so it round-trips exactly), `p` (a TAG listing the declared
//! filterable fields the record has) and, for the declared field number `i` (in name order),
//! `t{i}` (a TAG of its encoded values) and for number fields `n{i}` (NUMERIC). Text fields
//! (which cannot be filtered on) get no TAG; when a namespace declares any, the record's
//! *text bag* (the core's tokens of its text fields, joined by spaces; empty when it has
//! none) is the hash field `x`, a `TEXT NOSTEM` field of an index created with `STOPWORDS 0`,
//! so the server indexes exactly the core's tokens (see [`crate::text`]). Index attribute
//! names are therefore fixed ASCII, whatever the user's field names are.
//!
//! TAG values are encoded so that no user string is ever RediSearch syntax: strings become
//! `s` + lower-case hex of their UTF-8 bytes, numbers `n` + the hex bits of their f64 value
//! (`-0` folded into `0`, so equal numbers encode equally), booleans `b1`/`b0`. Encoded values
//! are lower-case alphanumerics: TAG lower-casing, trimming and the `,` separator leave them
//! intact, and hex is injective, so a TAG match is exact string equality.

use std::fmt::Write as _;

use vector_backend::{FieldType, FilterValue, IndexKind, Metric, NamespaceConfig};

/// The set of every namespace this tier created.
pub(crate) const REGISTRY: &str = "vtier:namespaces";
/// The counter generations are taken from.
pub(crate) const GENERATIONS: &str = "vtier:generation";
/// Retired generations (`{g}:{ns}`) whose index and records are still to be removed.
pub(crate) const RETIRED: &str = "vtier:retired";
/// Hash fields of a record.
pub(crate) const F_KEY: &str = "k";
pub(crate) const F_VEC: &str = "v";
pub(crate) const F_META: &str = "m";
pub(crate) const F_PRESENT: &str = "p";
/// The record's text bag (`vector_backend::text::text_bag`), a `TEXT NOSTEM` index field;
/// only in namespaces that declare text fields.
pub(crate) const F_TEXT: &str = "x";
/// The field of a namespace's config hash holding its generation (beside `config`, the
/// config as JSON; the catalogue's Lua scripts name both).
pub(crate) const CFG_GEN: &str = "gen";
/// The KNN score alias (a distance, ascending).
pub(crate) const SCORE_ALIAS: &str = "__vtier_distance";

/// The config hash of a namespace, which must already be validated (no `:`).
pub(crate) fn config_key(ns: &str) -> String {
    format!("vtier:cfg:{ns}")
}

/// The storage of one generation of a namespace.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Names {
    pub(crate) index: String,
    pub(crate) prefix: String,
    pub(crate) keys: String,
}

impl Names {
    /// The names of generation `generation` of `ns`, which must already be validated.
    pub(crate) fn of(ns: &str, generation: u64) -> Self {
        if generation == 0 {
            return Self {
                index: format!("vtier:idx:{ns}"),
                prefix: format!("vtier:ns:{ns}:"),
                keys: format!("vtier:keys:{ns}"),
            };
        }
        Self {
            index: format!("vtier:idx:{ns}:{generation}"),
            prefix: format!("vtier:rec:{ns}:{generation}:"),
            keys: format!("vtier:keys:{ns}:{generation}"),
        }
    }

    /// The hash key of a record.
    pub(crate) fn record(&self, key: &str) -> String {
        let mut s = String::with_capacity(self.prefix.len() + key.len());
        s.push_str(&self.prefix);
        s.push_str(key);
        s
    }
}

/// The entry of [`RETIRED`] for a generation, and back.
pub(crate) fn retired_entry(ns: &str, generation: u64) -> String {
    format!("{generation}:{ns}")
}

pub(crate) fn parse_retired(entry: &str) -> Option<(&str, u64)> {
    let (generation, ns) = entry.split_once(':')?;
    Some((ns, generation.parse().ok()?))
}

/// Index attribute name of the TAG of declared field number `i`.
pub(crate) fn tag_attr(i: usize) -> String {
    format!("t{i}")
}

/// Index attribute name of the NUMERIC of declared field number `i`.
pub(crate) fn num_attr(i: usize) -> String {
    format!("n{i}")
}

fn hex_into(out: &mut String, bytes: &[u8]) {
    for b in bytes {
        let _ = write!(out, "{b:02x}");
    }
}

/// The TAG encoding of a string.
pub(crate) fn enc_str(s: &str) -> String {
    let mut out = String::with_capacity(1 + 2 * s.len());
    out.push('s');
    hex_into(&mut out, s.as_bytes());
    out
}

/// The TAG encoding of a number (compared as f64, `-0 == 0`).
pub(crate) fn enc_num(n: f64) -> String {
    let n = if n == 0.0 { 0.0 } else { n };
    format!("n{:016x}", n.to_bits())
}

/// The TAG encoding of a boolean.
pub(crate) fn enc_bool(b: bool) -> String {
    if b { "b1".to_owned() } else { "b0".to_owned() }
}

/// The TAG encoding of a filter literal.
pub(crate) fn enc_value(v: &FilterValue) -> String {
    match v {
        FilterValue::String(s) => enc_str(s),
        FilterValue::Number(n) => enc_num(*n),
        FilterValue::Bool(b) => enc_bool(*b),
    }
}

/// The TAG encodings of a stored JSON value (arrays: every element), as the reference
/// semantics compare them: only scalars of a matching kind can ever be equal to a literal.
fn enc_json(v: &serde_json::Value, out: &mut Vec<String>) {
    match v {
        serde_json::Value::String(s) => out.push(enc_str(s)),
        serde_json::Value::Number(n) => {
            if let Some(f) = n.as_f64() {
                out.push(enc_num(f));
            }
        }
        serde_json::Value::Bool(b) => out.push(enc_bool(*b)),
        serde_json::Value::Array(items) => items.iter().for_each(|i| enc_json(i, out)),
        serde_json::Value::Null | serde_json::Value::Object(_) => {}
    }
}

/// A number formatted for a RediSearch NUMERIC value or range bound: Rust's shortest
/// round-trip decimal form (digits, `.`, `-` only), which the server parses back exactly.
pub(crate) fn fmt_num(n: f64) -> String {
    let n = if n == 0.0 { 0.0 } else { n };
    format!("{n}")
}

/// The FT.CREATE arguments after the index name.
pub(crate) fn create_args(names: &Names, config: &NamespaceConfig) -> Vec<String> {
    let mut a: Vec<String> = ["ON", "HASH", "PREFIX", "1"].map(str::to_owned).to_vec();
    a.push(names.prefix.clone());
    // The index is always created before any record of its generation exists (a fresh
    // prefix, see `crate::catalog`), so the initial keyspace scan finds nothing to index.
    // Worse, it runs in the background, walks every key of the server and re-indexes records
    // written meanwhile under new document ids: measured, 400 records written right after
    // FT.CREATE on a server with 200,000 other keys got 797 ids and the inverted index 797
    // entries, so BM25 statistics counted stale postings (n > N) and an HNSW graph changed
    // under concurrent queries.
    a.push("SKIPINITIALSCAN".to_owned());
    if config.has_text() {
        // The default stop-word list (`the`, `a`, `of`, ...) is neither indexed nor
        // searchable; the contract indexes every token.
        a.extend(["STOPWORDS", "0"].map(str::to_owned));
    }
    a.push("SCHEMA".to_owned());
    a.push(F_VEC.to_owned());
    a.push("VECTOR".to_owned());
    let metric = match config.metric {
        Metric::Cosine => "COSINE",
        Metric::DotProduct => "IP",
        Metric::Euclidean => "L2",
    };
    let dim = config.dimension.to_string();
    let mut attrs: Vec<String> = vec![
        "TYPE".into(),
        "FLOAT32".into(),
        "DIM".into(),
        dim,
        "DISTANCE_METRIC".into(),
        metric.into(),
    ];
    match config.index {
        IndexKind::Flat => a.push("FLAT".to_owned()),
        IndexKind::Auto | IndexKind::Hnsw => {
            a.push("HNSW".to_owned());
            // Inner products are not a metric, and a graph built on them navigates poorly: at
            // M 16 the suite's clustered recall@10 swung between 0.85 and 0.97 from run to run.
            // A denser graph for IP costs memory and build time but keeps recall above 0.95.
            let (m, ef) = match config.metric {
                Metric::DotProduct => ("48", "400"),
                Metric::Cosine | Metric::Euclidean => ("16", "200"),
            };
            attrs.extend(["M".into(), m.into(), "EF_CONSTRUCTION".into(), ef.into()]);
        }
    }
    a.push(attrs.len().to_string());
    a.extend(attrs);
    a.extend([F_PRESENT, "TAG", "SEPARATOR", ","].map(str::to_owned));
    for (i, ty) in config.filterable.values().enumerate() {
        if *ty == FieldType::Text {
            continue;
        }
        a.extend([tag_attr(i), "TAG".into(), "SEPARATOR".into(), ",".into()]);
        if *ty == FieldType::Number {
            a.extend([num_attr(i), "NUMERIC".into()]);
        }
    }
    if config.has_text() {
        // NOSTEM: the query side adds VERBATIM too (NOSTEM alone still expands queries with
        // stems). Weight 1, no phonetics, no suffix trie: BM25 over the tokens as they are.
        a.extend([F_TEXT, "TEXT", "NOSTEM"].map(str::to_owned));
    }
    a
}

/// The index-only hash fields of a record: presence, TAG and NUMERIC values, by declared field.
pub(crate) fn index_fields(
    config: &NamespaceConfig,
    metadata: &vector_backend::Metadata,
) -> Vec<(String, String)> {
    let mut present = Vec::new();
    let mut out = Vec::new();
    for (i, (name, ty)) in config.filterable.iter().enumerate() {
        if *ty == FieldType::Text {
            // Indexed as the text bag (F_TEXT); filters on text fields are refused.
            continue;
        }
        let Some(v) = metadata.get(name) else {
            continue;
        };
        if v.is_null() {
            // The reference semantics treat null as absent (`Exists` is false).
            continue;
        }
        present.push(enc_str(name));
        let mut tags = Vec::new();
        enc_json(v, &mut tags);
        if !tags.is_empty() {
            out.push((tag_attr(i), tags.join(",")));
        }
        if let (FieldType::Number, Some(f)) = (ty, v.as_f64()) {
            out.push((num_attr(i), fmt_num(f)));
        }
    }
    if !present.is_empty() {
        out.push((F_PRESENT.to_owned(), present.join(",")));
    }
    out
}

/// An embedding as the little-endian FLOAT32 blob RediSearch reads.
pub(crate) fn blob(e: &[f32]) -> Vec<u8> {
    let mut out = Vec::with_capacity(e.len() * 4);
    for x in e {
        out.extend_from_slice(&x.to_le_bytes());
    }
    out
}

/// The embedding of a blob, or `None` when its length is not a multiple of 4.
pub(crate) fn unblob(b: &[u8]) -> Option<Vec<f32>> {
    if !b.len().is_multiple_of(4) {
        return None;
    }
    Some(
        b.chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn prefixes_never_nest_and_names_keep_case() {
        let all: Vec<Names> = ["a", "a-b", "a_b", "A", "ab"]
            .iter()
            .flat_map(|ns| [0, 1, 12, 2].map(|g| Names::of(ns, g)))
            .collect();
        for (i, x) in all.iter().enumerate() {
            for (j, y) in all.iter().enumerate() {
                if i != j {
                    assert!(!y.prefix.starts_with(&x.prefix), "{x:?} / {y:?}");
                    assert_ne!(x.index, y.index);
                    assert_ne!(x.keys, y.keys);
                }
            }
        }
        assert_eq!(Names::of("a", 7).record("x:y"), "vtier:rec:a:7:x:y");
        assert_eq!(Names::of("a", 0).record("x:y"), "vtier:ns:a:x:y");
        assert_eq!(parse_retired(&retired_entry("a-b", 42)), Some(("a-b", 42)));
        assert_eq!(parse_retired("x"), None);
    }

    #[test]
    fn encodings_are_plain_and_injective() {
        let hostile = [
            "",
            " ",
            "a,b",
            "A",
            "a",
            "{x}",
            "a|b",
            "trailing ",
            "\u{202e}rtl",
            "漢",
        ];
        let mut seen = std::collections::HashSet::new();
        for h in hostile {
            let e = enc_str(h);
            assert!(
                e.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()),
                "{e}"
            );
            assert!(seen.insert(e));
        }
        assert_eq!(enc_num(10.0), enc_value(&FilterValue::Number(10.0)));
        assert_eq!(enc_num(-0.0), enc_num(0.0));
        assert_ne!(enc_num(10.0), enc_num(10.5));
        assert_eq!(fmt_num(-4.0), "-4");
        assert_eq!(fmt_num(1e-7).parse::<f64>().unwrap(), 1e-7);
    }

    #[test]
    fn text_fields_are_one_text_bag_without_stopwords() {
        let names = Names::of("a", 3);
        let plain = create_args(&names, &NamespaceConfig::new(2));
        assert!(!plain.iter().any(|a| a == "STOPWORDS" || a == "TEXT"));
        assert_eq!(plain[5], "SKIPINITIALSCAN", "{plain:?}");
        let c = NamespaceConfig::new(2)
            .with_field("body", FieldType::Text)
            .with_field("lang", FieldType::Keyword)
            .with_field("title", FieldType::Text);
        let a = create_args(&names, &c);
        let at = |w: &str| a.iter().position(|x| x == w).unwrap();
        assert_eq!(a[at("STOPWORDS") + 1], "0");
        assert!(at("STOPWORDS") < at("SCHEMA"));
        assert_eq!(a[a.len() - 3..], [F_TEXT, "TEXT", "NOSTEM"]);
        // Only the keyword field (number 1) gets a TAG.
        assert!(a.contains(&tag_attr(1)));
        assert!(!a.contains(&tag_attr(0)) && !a.contains(&tag_attr(2)));
        let m = json!({"body": "Hello there", "lang": "en", "title": "T"});
        let f = index_fields(&c, m.as_object().unwrap());
        assert_eq!(
            f,
            [
                (tag_attr(1), enc_str("en")),
                (F_PRESENT.to_owned(), enc_str("lang"))
            ]
        );
    }

    #[test]
    fn index_fields_follow_declared_types() {
        let c = NamespaceConfig::new(2)
            .with_field("color", FieldType::Keyword)
            .with_field("price", FieldType::Number)
            .with_field("tags", FieldType::Keyword);
        let m = json!({"price": 10, "tags": ["a", "b,c"], "note": 1});
        let f = index_fields(&c, m.as_object().unwrap());
        let get = |k: &str| f.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
        assert_eq!(get("t0"), None);
        assert_eq!(get("t1"), Some(enc_num(10.0)));
        assert_eq!(get("n1").as_deref(), Some("10"));
        assert_eq!(
            get("t2"),
            Some(format!("{},{}", enc_str("a"), enc_str("b,c")))
        );
        assert_eq!(
            get("p"),
            Some(format!("{},{}", enc_str("price"), enc_str("tags")))
        );
        assert_eq!(
            unblob(&blob(&[1.5, -0.0, f32::MIN_POSITIVE])).unwrap()[2],
            f32::MIN_POSITIVE
        );
    }
}
