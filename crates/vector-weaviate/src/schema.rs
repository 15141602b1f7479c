//! How namespaces, incarnations, keys and filterable fields map onto Weaviate classes,
//! properties and object ids, and the classes this tier creates.
//!
//! Weaviate upper-cases the first letter of a class name, lower-cases the first letter of a
//! property name, and compares both case-insensitively. Namespaces and field names are
//! case-sensitive here, so every name is hex-encoded (lower-case hex has no case to fold) behind
//! a fixed prefix: `Docs` and `docs` live in `Vt_446f6373_…` and `Vt_646f6373_…`.
//!
//! Each *incarnation* of a namespace (each creation, implicit or explicit) gets a class of its
//! own, `Vt_<hex of the name>_<generation>`, with a random 64-bit generation that is never
//! reused; the catalogue class [`CATALOG_CLASS`] holds one object per namespace naming its
//! current class (see `catalog.rs`).

use std::hash::{BuildHasher as _, Hasher as _};
use std::sync::atomic::{AtomicU64, Ordering};

use serde_json::{Value, json};
use vector_backend::{FieldType, IndexKind, Metric, NamespaceConfig, text};

/// Prefix of every namespace class this tier creates.
pub(crate) const CLASS_PREFIX: &str = "Vt_";
/// The catalogue: one object per namespace (id [`entry_id`]) holding its name, config and
/// current class. No namespace class can be named like it (`Vt_` + hex + `_` + hex).
pub(crate) const CATALOG_CLASS: &str = "VtCatalog";
/// Catalogue property: the namespace's name as the caller wrote it.
pub(crate) const P_NAMESPACE: &str = "vt_ns";
/// Catalogue property: the class of the current incarnation (`field` tokenization, filterable:
/// reads check it in the same request, and a drop deletes the entry only while it still names
/// the class it read).
pub(crate) const P_CLASS: &str = "vt_class";
/// Catalogue property: the namespace config as JSON.
pub(crate) const P_CONFIG: &str = "vt_config";

/// The original key (returned in results).
pub(crate) const P_KEY: &str = "vt_key";
/// The key as lower-case hex of its UTF-8 bytes: filterable and sortable. Hex has no whitespace
/// to trim and no case to fold, and its string order equals the byte order of the keys, so it
/// gives exact lookups and byte-ordered keyset pagination.
pub(crate) const P_KEY_HEX: &str = "vt_kx";
/// The metadata as JSON text, unindexed: an exact round trip whatever it holds.
pub(crate) const P_META: &str = "vt_meta";
/// The record's text bag (`vector_backend::text::text_bag`: the core's tokens of its text
/// fields joined by spaces; an empty string when it has none), only in namespaces with text
/// fields: `word` tokenization, searchable (BM25), not filterable.
pub(crate) const P_TEXT: &str = "vt_text";
/// The declared filterable fields present in the record, as their property names (`f_<hex>`, so
/// a field named like a stopword is still a distinct, non-stopword token).
pub(crate) const P_PRESENT: &str = "vt_present";
/// The declared filterable fields absent from the record, as their property names. Kept as its own positive list
/// because `NotEqual` on an array property changed meaning between Weaviate versions.
pub(crate) const P_ABSENT: &str = "vt_absent";

/// The class of one incarnation of a namespace: `Vt_` + lower-case hex of the name + `_` + the
/// generation as 16 hex digits (at most 3 + 128 + 17 characters, inside Weaviate's 255).
pub(crate) fn class_name(namespace: &str, generation: u64) -> String {
    format!(
        "{CLASS_PREFIX}{}_{generation:016x}",
        hex(namespace.as_bytes())
    )
}

/// A generation no other incarnation has had: random (the standard library's per-process
/// random hash keys), mixed with the clock and a counter, so concurrent creators in any number
/// of processes pick different classes.
pub(crate) fn new_generation() -> u64 {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    h.write_u32(std::process::id());
    h.finish()
}

/// The property holding a declared filterable field: `f_` + lower-case hex of the field name.
/// Hex keeps `Color` and `color` apart and can never end in one of Weaviate's reserved property
/// suffixes (`_temp`, `_nullState`, ...).
pub(crate) fn field_property(field: &str) -> String {
    format!("f_{}", hex(field.as_bytes()))
}

/// A keyword value as stored and compared: `x` + lower-case hex of its UTF-8 bytes. Weaviate's
/// `field` tokenization trims whitespace, so leading or trailing spaces, newlines and the empty
/// string would not match literally; the encoded form has none of them.
pub(crate) fn keyword_token(value: &str) -> String {
    format!("x{}", hex(value.as_bytes()))
}

/// Lower-case hex.
pub(crate) fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(DIGITS[usize::from(b >> 4)] as char);
        out.push(DIGITS[usize::from(b & 15)] as char);
    }
    out
}

/// Decodes lower-case hex; `None` for anything else (upper case included, so the encoding stays
/// one-to-one).
#[cfg(test)]
fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    let nibble = |c: u8| match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    };
    s.as_bytes()
        .chunks(2)
        .map(|p| Some(nibble(p[0])? << 4 | nibble(p[1])?))
        .collect()
}

/// The cursor API's starting point: the nil UUID, which no object of this tier has (they are
/// UUIDv5), so "after it" is "from the start".
pub(crate) const FIRST_ID: &str = "00000000-0000-0000-0000-000000000000";

/// This tier's own UUID namespace.
fn tier_uuid() -> uuid::Uuid {
    uuid::Uuid::new_v5(
        &uuid::Uuid::NAMESPACE_URL,
        b"https://github.com/vector-tier/vector-tier#weaviate",
    )
}

/// The object id of a key: UUIDv5 over `namespace NUL key` (NUL cannot occur in either, so the
/// pair is unambiguous) in this tier's own UUID namespace.
pub(crate) fn object_id(namespace: &str, key: &str) -> uuid::Uuid {
    let mut name = Vec::with_capacity(namespace.len() + key.len() + 1);
    name.extend_from_slice(namespace.as_bytes());
    name.push(0);
    name.extend_from_slice(key.as_bytes());
    uuid::Uuid::new_v5(&tier_uuid(), &name)
}

/// The id of a namespace's catalogue entry: UUIDv5 over `NUL namespace` (no key starts with NUL
/// or is empty, so it is no record's id either).
pub(crate) fn entry_id(namespace: &str) -> uuid::Uuid {
    let mut name = Vec::with_capacity(namespace.len() + 1);
    name.push(0);
    name.extend_from_slice(namespace.as_bytes());
    uuid::Uuid::new_v5(&tier_uuid(), &name)
}

/// Weaviate's name for a metric.
pub(crate) fn distance_name(metric: Metric) -> &'static str {
    match metric {
        Metric::Cosine => "cosine",
        Metric::DotProduct => "dot",
        Metric::Euclidean => "l2-squared",
    }
}

fn text_property(name: &str, array: bool, filterable: bool) -> Value {
    json!({
        "name": name,
        "dataType": [if array { "text[]" } else { "text" }],
        "tokenization": "field",
        "indexFilterable": filterable,
        "indexSearchable": false,
    })
}

/// The class this tier creates for an incarnation: explicit properties only (auto-schema is
/// never relied on), no vectorizer, and the index kind and metric of the config.
pub(crate) fn class_definition(class: &str, namespace: &str, config: &NamespaceConfig) -> Value {
    let mut properties = vec![
        text_property(P_KEY, false, false),
        text_property(P_KEY_HEX, false, true),
        text_property(P_META, false, false),
        text_property(P_PRESENT, true, true),
        text_property(P_ABSENT, true, true),
    ];
    for (field, ty) in &config.filterable {
        let name = field_property(field);
        properties.push(match ty {
            FieldType::Keyword => text_property(&name, true, true),
            FieldType::Number => {
                json!({"name": name, "dataType": ["number"], "indexFilterable": true})
            }
            FieldType::Bool => {
                json!({"name": name, "dataType": ["boolean"], "indexFilterable": true})
            }
            // Text fields are searched through the record's text bag (`vt_text`) and stay
            // in the metadata JSON as written.
            FieldType::Text => continue,
        });
    }
    // Filter values are matched whole; with the default `en` preset a value that happens to be
    // a stopword ("a", "be", a field named "is") would be dropped from the query, and so would
    // keyword query tokens.
    let mut inverted = json!({"stopwords": {"preset": "none"}});
    if config.has_text() {
        properties.push(json!({
            "name": P_TEXT,
            "dataType": ["text"],
            "tokenization": "word",
            "indexSearchable": true,
            "indexFilterable": false,
        }));
        // The contract's BM25 constants. BlockMax WAND (the default for classes created from
        // 1.30; older servers ignore the key) measures a document's length in tokens, as the
        // contract does; the older map index counts distinct tokens.
        inverted["bm25"] = json!({"k1": text::BM25_K1, "b": text::BM25_B});
        inverted["usingBlockMaxWAND"] = json!(true);
    }
    let index = match config.index {
        IndexKind::Flat => "flat",
        IndexKind::Auto | IndexKind::Hnsw => "hnsw",
    };
    json!({
        "class": class,
        // For people browsing the schema; the catalogue is what the tier reads.
        "description": format!("vector-tier namespace {}", json!(namespace)),
        "vectorizer": "none",
        "vectorIndexType": index,
        // `skipDefaultQuantization` (1.33+; ignored by older servers) keeps distances exact
        // when the operator configured DEFAULT_QUANTIZATION.
        "vectorIndexConfig": {"distance": distance_name(config.metric), "skipDefaultQuantization": true},
        "invertedIndexConfig": inverted,
        "properties": properties,
    })
}

/// The catalogue class: the namespace's name and config (unindexed text) and its current class
/// (exact match), no vector index worth the name (objects carry no vector).
pub(crate) fn catalog_definition() -> Value {
    json!({
        "class": CATALOG_CLASS,
        "description": "vector-tier namespace catalogue: one object per namespace",
        "vectorizer": "none",
        "vectorIndexType": "flat",
        "invertedIndexConfig": {"stopwords": {"preset": "none"}},
        "properties": [
            text_property(P_NAMESPACE, false, false),
            text_property(P_CLASS, false, true),
            text_property(P_CONFIG, false, false),
        ],
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    /// What Weaviate compares: the name with its first letter upper-cased, case-folded.
    fn weaviate_identity(class: &str) -> String {
        class.to_lowercase()
    }

    #[test]
    fn class_names_are_injective_modulo_case_and_valid() {
        let names = [
            "docs", "Docs", "DOCS", "dOcs", "a-z", "a_z", "a", "A", "0", "-", "_", "_-_", "a-",
            "a_", "vt_abc", "Vt_abc", "61", "x", "X",
        ];
        let long_a = "a".repeat(64);
        let long_b = format!("{}b", "a".repeat(63));
        let mut seen = HashSet::new();
        for ns in names
            .iter()
            .copied()
            .chain([long_a.as_str(), long_b.as_str()])
        {
            let c = class_name(ns, u64::MAX);
            assert!(c.len() <= 255, "{c}");
            let mut chars = c.chars();
            assert!(chars.next().is_some_and(|c| c.is_ascii_uppercase()));
            assert!(chars.all(|c| c == '_' || c.is_ascii_alphanumeric()), "{c}");
            assert!(seen.insert(weaviate_identity(&c)), "{ns} collides");
            assert_ne!(weaviate_identity(&c), weaviate_identity(CATALOG_CLASS));
        }
        assert_eq!(class_name("docs", 0xab), "Vt_646f6373_00000000000000ab");
        // Incarnations of one namespace never share a class.
        let generations: HashSet<u64> = (0..1000).map(|_| new_generation()).collect();
        assert_eq!(generations.len(), 1000);
    }

    #[test]
    fn property_names_are_injective_modulo_case_and_avoid_reserved_suffixes() {
        let fields = [
            "color",
            "Color",
            "COLOR",
            "a_temp",
            "x_nullState",
            "in_stock",
            "f",
            "F",
        ];
        let mut seen = HashSet::new();
        for f in fields {
            let p = field_property(f);
            assert!(seen.insert(p.to_lowercase()), "{f}");
            assert!(p.len() <= 231 && p.starts_with("f_"));
            for suffix in [
                "_propertyLength",
                "_nullState",
                "_searchable",
                "_rangeable",
                "_temp",
                "__meta_count",
            ] {
                assert!(!p.to_lowercase().ends_with(&suffix.to_lowercase()), "{p}");
            }
        }
    }

    #[test]
    fn key_hex_preserves_byte_order() {
        let mut keys = vec![
            "b", "a", "ab", "a b", "ü/1", "Z 3", "k:1", "10", "9", "", "\u{7f}", "é",
        ];
        let mut by_hex = keys.clone();
        keys.sort();
        by_hex.sort_by_key(|k| hex(k.as_bytes()));
        assert_eq!(keys, by_hex);
        for k in keys {
            assert_eq!(unhex(&hex(k.as_bytes())).as_deref(), Some(k.as_bytes()));
        }
        assert_eq!(unhex("0g"), None);
        assert_eq!(unhex("abc"), None);
    }

    #[test]
    fn keyword_tokens_keep_whitespace_and_empty_strings_distinct() {
        let vals = ["", " ", "a", "a ", " a", "a\n", "A", "\u{202e}rtl"];
        let tokens: HashSet<String> = vals.iter().map(|v| keyword_token(v)).collect();
        assert_eq!(tokens.len(), vals.len());
        for t in &tokens {
            assert!(!t.is_empty() && t.bytes().all(|b| b.is_ascii_alphanumeric()));
        }
    }

    #[test]
    fn object_ids_are_deterministic_and_distinct() {
        let a = object_id("ns", "key");
        assert_eq!(a, object_id("ns", "key"));
        assert_eq!(a.get_version_num(), 5);
        assert_ne!(a, object_id("ns", "Key"));
        assert_ne!(a, object_id("nsk", "ey"));
        assert_ne!(object_id("a", "b"), object_id("b", "a"));
    }

    #[test]
    fn class_definition_carries_the_config() {
        let config = NamespaceConfig::new(5)
            .with_metric(Metric::DotProduct)
            .with_index(IndexKind::Flat)
            .with_field("tag", FieldType::Keyword);
        let class = class_definition("Vt_x", "my-ns", &config);
        assert_eq!(class["class"], "Vt_x");
        assert_eq!(class["vectorIndexType"], "flat");
        assert_eq!(class["vectorIndexConfig"]["distance"], "dot");
        assert!(
            class["properties"]
                .as_array()
                .is_some_and(|p| p.iter().any(|p| p["name"] == field_property("tag")))
        );
        assert_ne!(entry_id("ns"), object_id("ns", ""));
        assert_ne!(entry_id("a"), entry_id("b"));
        // No text fields: no text bag, no BM25 settings.
        assert!(class["invertedIndexConfig"].get("bm25").is_none());
        assert!(
            class["properties"]
                .as_array()
                .is_some_and(|p| p.iter().all(|p| p["name"] != P_TEXT))
        );
    }

    #[test]
    fn text_fields_become_one_searchable_text_bag() {
        let config = NamespaceConfig::new(2)
            .with_field("body", FieldType::Text)
            .with_field("title", FieldType::Text);
        let class = class_definition("Vt_x", "ns", &config);
        let props = class["properties"].as_array().cloned().unwrap_or_default();
        let text: Vec<&Value> = props.iter().filter(|p| p["name"] == P_TEXT).collect();
        assert_eq!(
            text,
            [
                &json!({"name": P_TEXT, "dataType": ["text"], "tokenization": "word", "indexSearchable": true, "indexFilterable": false})
            ]
        );
        // Text fields get no property of their own (the bag holds them).
        assert!(!props.iter().any(|p| p["name"] == field_property("body")));
        assert_eq!(
            class["invertedIndexConfig"],
            json!({"stopwords": {"preset": "none"}, "bm25": {"k1": 1.2, "b": 0.5}, "usingBlockMaxWAND": true})
        );
    }
}
