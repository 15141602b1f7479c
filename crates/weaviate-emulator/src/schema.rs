//! Schema rules: class and property name normalisation and validation, index and inverted-index
//! defaults, property types, and `POST /v1/schema` (also used by auto-schema).

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::distance::Metric;
use crate::settings::{BLOCKMAX_WAND_SINCE, PROPERTY_SUFFIX_RULE_SINCE, Settings};
use crate::store::{ApiError, ClassData, Db, PropDef};

/// `UppercaseClassName`: the first letter is upper-cased.
pub(crate) fn uppercase_class_name(name: &str) -> String {
    let mut c = name.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

/// `LowercaseFirstLetter` for property names.
pub(crate) fn lowercase_first_letter(name: &str) -> String {
    let mut c = name.chars();
    match c.next() {
        Some(f) => f.to_lowercase().chain(c).collect(),
        None => String::new(),
    }
}

pub(crate) fn is_valid_class_name(name: &str) -> bool {
    let b = name.as_bytes();
    !b.is_empty()
        && b.len() <= 255
        && b[0].is_ascii_uppercase()
        && b[1..]
            .iter()
            .all(|c| c.is_ascii_alphanumeric() || *c == b'_')
}

pub(crate) fn is_valid_property_name(name: &str) -> bool {
    let b = name.as_bytes();
    !b.is_empty()
        && b.len() <= 231
        && (b[0].is_ascii_alphabetic() || b[0] == b'_')
        && b[1..]
            .iter()
            .all(|c| c.is_ascii_alphanumeric() || *c == b'_')
}

const PRIMITIVE_TYPES: &[&str] = &[
    "text",
    "text[]",
    "int",
    "int[]",
    "number",
    "number[]",
    "boolean",
    "boolean[]",
    "date",
    "date[]",
    "uuid",
    "uuid[]",
    "geoCoordinates",
    "phoneNumber",
    "blob",
];

const TOKENIZATIONS: &[&str] = &["word", "lowercase", "whitespace", "field", "trigram"];

const RESERVED_PROPERTY_NAMES: &[&str] = &["_additional", "_id", "id"];

const RESERVED_PROPERTY_SUFFIXES: &[&str] = &[
    "_propertyLength",
    "_nullState",
    "_searchable",
    "_rangeable",
    "_temp",
    "__meta_count",
];

fn hnsw_defaults(distance: &str) -> Value {
    json!({
        "skip": false, "cleanupIntervalSeconds": 300, "maxConnections": 64, "efConstruction": 128,
        "ef": -1, "dynamicEfMin": 100, "dynamicEfMax": 500, "dynamicEfFactor": 8,
        "vectorCacheMaxObjects": 1_000_000_000_000_i64, "flatSearchCutoff": 40000, "distance": distance,
        "pq": {"enabled": false, "bitCompression": false, "segments": 0, "centroids": 256,
               "trainingLimit": 100_000, "encoder": {"type": "kmeans", "distribution": "log-normal"}},
        "bq": {"enabled": false}, "sq": {"enabled": false, "trainingLimit": 100_000, "rescoreLimit": 20},
        "filterStrategy": "sweeping", "multivector": {"enabled": false}
    })
}

fn flat_defaults(distance: &str) -> Value {
    json!({
        "distance": distance, "vectorCacheMaxObjects": 1_000_000_000_000_i64,
        "pq": {"enabled": false, "rescoreLimit": -1, "cache": false},
        "bq": {"enabled": false, "rescoreLimit": -1, "cache": false},
        "sq": {"enabled": false, "rescoreLimit": -1, "cache": false}
    })
}

/// Overlays the user's keys on the defaults (recursively for nested objects).
fn merge(defaults: Value, user: &Value) -> Value {
    match (defaults, user) {
        (Value::Object(mut d), Value::Object(u)) => {
            for (k, v) in u {
                let merged = match d.remove(k) {
                    Some(dv) => merge(dv, v),
                    None => v.clone(),
                };
                d.insert(k.clone(), merged);
            }
            Value::Object(d)
        }
        (_, u) => u.clone(),
    }
}

pub(crate) fn is_text(base: &str) -> bool {
    base == "text"
}

/// `validateBM25Config` and `validateStopwordConfig` (`adapters/repos/db/inverted/config.go`).
fn validate_inverted(inverted: &Value) -> Result<(), ApiError> {
    let bm25 = &inverted["bm25"];
    if bm25["k1"].as_f64().is_some_and(|k1| k1 < 0.0) {
        return Err(ApiError::unprocessable("BM25.k1 must be >= 0"));
    }
    if bm25["b"]
        .as_f64()
        .is_some_and(|b| !(0.0..=1.0).contains(&b))
    {
        return Err(ApiError::unprocessable("BM25.b must be >= 0 and <= 1"));
    }
    let stopwords = &inverted["stopwords"];
    let preset = stopwords["preset"]
        .as_str()
        .filter(|p| !p.is_empty())
        .unwrap_or("en");
    if !crate::bm25::STOPWORD_PRESETS.contains(&preset) {
        return Err(ApiError::unprocessable(format!(
            "stopwordPreset '{preset}' does not exist"
        )));
    }
    let words = |k: &str| -> Vec<&str> {
        stopwords[k]
            .as_array()
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default()
    };
    for (k, list) in [
        ("additions", words("additions")),
        ("removals", words("removals")),
    ] {
        if list.iter().any(|w| w.trim().is_empty()) {
            return Err(ApiError::unprocessable(format!(
                "cannot use whitespace in stopword.{k}"
            )));
        }
    }
    if let Some(w) = words("removals")
        .iter()
        .find(|w| words("additions").contains(w))
    {
        return Err(ApiError::unprocessable(format!(
            "found '{w}' in both stopwords.additions and stopwords.removals"
        )));
    }
    Ok(())
}

impl Db {
    /// `POST /v1/schema`: validates, normalises and fills defaults; returns the stored class.
    pub(crate) fn create_class(
        &mut self,
        body: &Value,
        settings: &Settings,
    ) -> Result<Value, ApiError> {
        let Some(obj) = body.as_object() else {
            return Err(ApiError::new(
                400,
                "parsing objectClass body failed: expected a JSON object",
            ));
        };
        let raw_name = obj.get("class").and_then(Value::as_str).unwrap_or_default();
        let name = uppercase_class_name(raw_name);
        if name.len() > 255 {
            return Err(ApiError::unprocessable(format!(
                "'{name}' is not a valid class name. Name should not be longer than 255 characters."
            )));
        }
        if !is_valid_class_name(&name) {
            return Err(ApiError::unprocessable(format!(
                "'{name}' is not a valid class name"
            )));
        }
        if self.classes.contains_key(&name) {
            return Err(ApiError::unprocessable(format!(
                "class name {name} already exists"
            )));
        }
        if let Some(other) = self.classes.keys().find(|k| k.eq_ignore_ascii_case(&name)) {
            return Err(ApiError::unprocessable(format!(
                "class already exists: found similar class {other:?}"
            )));
        }
        if obj.get("vectorConfig").is_some_and(|v| !v.is_null()) {
            return Err(ApiError::unprocessable(
                "the Weaviate emulator does not emulate named vectors (vectorConfig)",
            ));
        }
        let vectorizer = obj
            .get("vectorizer")
            .and_then(Value::as_str)
            .unwrap_or("none");
        if vectorizer != "none" {
            return Err(ApiError::unprocessable(format!(
                "vectorizer: invalid vectorizer \"{vectorizer}\""
            )));
        }
        if obj
            .get("multiTenancyConfig")
            .and_then(|m| m.get("enabled"))
            .and_then(Value::as_bool)
            == Some(true)
        {
            return Err(ApiError::unprocessable(
                "the Weaviate emulator does not emulate multi-tenancy",
            ));
        }
        let index_type = obj
            .get("vectorIndexType")
            .and_then(Value::as_str)
            .unwrap_or("hnsw");
        let user_cfg = obj.get("vectorIndexConfig").cloned().unwrap_or(Value::Null);
        if !user_cfg.is_null() && !user_cfg.is_object() {
            return Err(ApiError::new(400, "vectorIndexConfig must be an object"));
        }
        let distance = user_cfg
            .get("distance")
            .and_then(Value::as_str)
            .unwrap_or("cosine");
        let Some(metric) = Metric::parse(distance) else {
            return Err(ApiError::unprocessable(format!(
                "unrecognized distance metric \"{distance}\",choose one of [\"cosine\", \"dot\", \"l2-squared\", \"manhattan\",\"hamming\"]"
            )));
        };
        let defaults = match index_type {
            "hnsw" => hnsw_defaults(distance),
            "flat" => {
                if user_cfg.pointer("/pq/enabled").and_then(Value::as_bool) == Some(true) {
                    return Err(ApiError::unprocessable(
                        "PQ is not currently supported for flat indices",
                    ));
                }
                flat_defaults(distance)
            }
            "dynamic" => {
                return Err(ApiError::unprocessable(
                    "the dynamic index can only be created under async indexing environment",
                ));
            }
            other => {
                return Err(ApiError::unprocessable(format!(
                    "unrecognized or unsupported vectorIndexType \"{other}\""
                )));
            }
        };
        let vector_index_config = if user_cfg.is_null() {
            defaults
        } else {
            merge(defaults, &user_cfg)
        };

        let inverted_defaults = json!({
            "bm25": {"b": 0.75, "k1": 1.2}, "cleanupIntervalSeconds": 60,
            "stopwords": {"additions": null, "preset": "en", "removals": null},
            "indexTimestamps": false, "indexNullState": false, "indexPropertyLength": false,
            "usingBlockMaxWAND": settings.version >= BLOCKMAX_WAND_SINCE
        });
        let inverted = match obj.get("invertedIndexConfig") {
            Some(u) if u.is_object() => merge(inverted_defaults, u),
            _ => inverted_defaults,
        };
        validate_inverted(&inverted)?;
        let index_null_state = inverted["indexNullState"].as_bool().unwrap_or(false);

        let mut class = ClassData {
            def: Value::Null,
            props: Vec::new(),
            metric,
            index_null_state,
            dims: None,
            objects: BTreeMap::new(),
        };
        let mut prop_defs = Vec::new();
        if let Some(props) = obj.get("properties").filter(|p| !p.is_null()) {
            let Some(props) = props.as_array() else {
                return Err(ApiError::new(400, "properties must be an array"));
            };
            for p in props {
                let (def, prop) = normalize_property(&name, p, settings)?;
                if class
                    .props
                    .iter()
                    .any(|q| q.name.eq_ignore_ascii_case(&prop.name))
                {
                    return Err(ApiError::unprocessable(format!(
                        "class \"{name}\": conflict for property \"{}\": already in use or provided multiple times",
                        prop.name
                    )));
                }
                class.props.push(prop);
                prop_defs.push(def);
            }
        }
        let mut def = json!({
            "class": name,
            "vectorizer": "none",
            "vectorIndexType": index_type,
            "vectorIndexConfig": vector_index_config,
            "invertedIndexConfig": inverted,
            "multiTenancyConfig": {"enabled": false, "autoTenantCreation": false, "autoTenantActivation": false},
            "replicationConfig": {"factor": 1, "deletionStrategy": "NoAutomatedResolution"},
            "shardingConfig": {"virtualPerPhysical": 128, "desiredCount": 1, "actualCount": 1,
                "desiredVirtualCount": 128, "actualVirtualCount": 128, "key": "_id",
                "strategy": "hash", "function": "murmur3"},
            // An empty property list is serialised as null (no omitempty in the Go model).
            "properties": if prop_defs.is_empty() { Value::Null } else { Value::Array(prop_defs) },
        });
        if let Some(d) = obj.get("description").and_then(Value::as_str) {
            def["description"] = Value::String(d.to_owned());
        }
        class.def = def.clone();
        self.classes.insert(name, class);
        Ok(def)
    }

    /// Auto-schema: creates a class with Weaviate's defaults (cosine, HNSW).
    pub(crate) fn auto_create_class(
        &mut self,
        name: &str,
        settings: &Settings,
    ) -> Result<(), ApiError> {
        self.create_class(&json!({"class": name}), settings)
            .map(|_| ())
    }
}

/// Validates and normalises one property definition; returns the echo and the model.
pub(crate) fn normalize_property(
    class: &str,
    p: &Value,
    settings: &Settings,
) -> Result<(Value, PropDef), ApiError> {
    let Some(p) = p.as_object() else {
        return Err(ApiError::new(400, "a property must be a JSON object"));
    };
    let raw = p.get("name").and_then(Value::as_str).unwrap_or_default();
    let name = lowercase_first_letter(raw);
    if !is_valid_property_name(&name) {
        return Err(ApiError::unprocessable(format!(
            "'{name}' is not a valid property name. Property names in Weaviate are restricted to valid GraphQL names, which must be \"/[_A-Za-z][_0-9A-Za-z]{{0,230}}/\"."
        )));
    }
    if RESERVED_PROPERTY_NAMES.contains(&name.as_str()) {
        return Err(ApiError::unprocessable(format!(
            "'{name}' is a reserved property name"
        )));
    }
    if settings.version >= PROPERTY_SUFFIX_RULE_SINCE
        && let Some(s) = RESERVED_PROPERTY_SUFFIXES
            .iter()
            .find(|s| name.ends_with(*s))
    {
        return Err(ApiError::unprocessable(format!(
            "'{name}' is not a valid property name: the suffix '{s}' is reserved"
        )));
    }
    let data_type: Vec<&str> = p
        .get("dataType")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let [dt] = data_type.as_slice() else {
        return Err(ApiError::unprocessable(format!(
            "property '{name}': invalid dataType: dataType must have exactly one element"
        )));
    };
    let dt = *dt;
    if dt == "object" || dt == "object[]" {
        return Err(ApiError::unprocessable(
            "the Weaviate emulator does not emulate object properties",
        ));
    }
    if !PRIMITIVE_TYPES.contains(&dt) {
        if dt.starts_with(|c: char| c.is_ascii_uppercase()) {
            return Err(ApiError::unprocessable(
                "the Weaviate emulator does not emulate cross-references",
            ));
        }
        return Err(ApiError::unprocessable(format!(
            "property '{name}': invalid dataType: data type '{dt}' is not supported"
        )));
    }
    let base = dt.strip_suffix("[]").unwrap_or(dt);
    let tokenization = match p
        .get("tokenization")
        .and_then(Value::as_str)
        .filter(|t| !t.is_empty())
    {
        Some(t) if is_text(base) => {
            if !TOKENIZATIONS.contains(&t) {
                return Err(ApiError::unprocessable(format!(
                    "Tokenization '{t}' is not allowed for data type '{dt}'"
                )));
            }
            Some(t.to_owned())
        }
        Some(t) => {
            return Err(ApiError::unprocessable(format!(
                "Tokenization '{t}' is not allowed for data type '{dt}'"
            )));
        }
        None if is_text(base) => Some("word".to_owned()),
        None => None,
    };
    let flag = |k: &str| p.get(k).and_then(Value::as_bool);
    let filterable = flag("indexFilterable")
        .or(flag("indexInverted"))
        .unwrap_or(true);
    let searchable = match flag("indexSearchable") {
        Some(true) if !is_text(base) => {
            return Err(ApiError::unprocessable(
                "`indexSearchable` is not allowed for other than text/text[] data types",
            ));
        }
        Some(v) => v,
        None => is_text(base) && flag("indexInverted").unwrap_or(true),
    };
    let rangeable = match flag("indexRangeFilters") {
        Some(true) if !matches!(base, "int" | "number" | "date") || base != dt => {
            return Err(ApiError::unprocessable(format!(
                "`indexRangeFilters` is not allowed for data type '{dt}'; allowed types: int, number, date"
            )));
        }
        Some(v) => v,
        None => false,
    };
    let mut def = json!({
        "name": name, "dataType": [dt], "indexFilterable": filterable,
        "indexSearchable": searchable, "indexRangeFilters": rangeable
    });
    if let Some(t) = &tokenization {
        def["tokenization"] = Value::String(t.clone());
    }
    if let Some(d) = p.get("description").and_then(Value::as_str) {
        def["description"] = Value::String(d.to_owned());
    }
    let _ = class;
    Ok((
        def,
        PropDef {
            name,
            data_type: dt.to_owned(),
            tokenization,
            filterable,
            searchable,
            rangeable,
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::tests::settings;

    #[test]
    fn class_names_are_normalised_and_unique_case_insensitively() {
        let s = settings();
        let mut db = Db::default();
        let c = db.create_class(&json!({"class": "vs_abc"}), &s).unwrap();
        assert_eq!(c["class"], "Vs_abc");
        assert_eq!(c["vectorIndexConfig"]["distance"], "cosine");
        assert_eq!(c["vectorIndexType"], "hnsw");
        assert_eq!(c["properties"], Value::Null);
        let e = db
            .create_class(&json!({"class": "Vs_abc"}), &s)
            .unwrap_err();
        assert_eq!(
            (e.status, e.message.as_str()),
            (422, "class name Vs_abc already exists")
        );
        let e = db
            .create_class(&json!({"class": "VS_ABC"}), &s)
            .unwrap_err();
        assert_eq!(
            e.message,
            "class already exists: found similar class \"Vs_abc\""
        );
        for bad in ["", "1abc", "a-b", "ab c", "é", &"A".repeat(256)] {
            let e = db.create_class(&json!({"class": bad}), &s).unwrap_err();
            assert_eq!(e.status, 422, "{bad}");
            assert!(
                e.message.contains("is not a valid class name"),
                "{bad}: {}",
                e.message
            );
        }
        assert!(
            db.create_class(&json!({"class": "A".repeat(255)}), &s)
                .is_ok()
        );
        assert!(
            db.class("vs_abc").is_some(),
            "lookups upper-case the first letter"
        );
    }

    #[test]
    fn property_rules() {
        let s = settings();
        let mut db = Db::default();
        let c = db
            .create_class(
                &json!({"class": "C", "properties": [
                    {"name": "Key", "dataType": ["text"], "tokenization": "field"},
                    {"name": "n", "dataType": ["number"]},
                    {"name": "tags", "dataType": ["text[]"]}
                ]}),
                &s,
            )
            .unwrap();
        let p = &c["properties"];
        assert_eq!(p[0]["name"], "key");
        assert_eq!(p[0]["tokenization"], "field");
        assert_eq!(p[1]["indexSearchable"], false);
        assert!(p[1].get("tokenization").is_none());
        assert_eq!(p[2]["tokenization"], "word");
        assert_eq!(p[2]["indexFilterable"], true);
        let cases = [
            (
                json!([{"name": "a", "dataType": ["text"]}, {"name": "A", "dataType": ["int"]}]),
                "conflict for property",
            ),
            (json!([{"name": "id", "dataType": ["text"]}]), "reserved"),
            (
                json!([{"name": "_additional", "dataType": ["text"]}]),
                "reserved",
            ),
            (
                json!([{"name": "x_nullState", "dataType": ["text"]}]),
                "suffix",
            ),
            (
                json!([{"name": "a-b", "dataType": ["text"]}]),
                "not a valid property name",
            ),
            (
                json!([{"name": "a", "dataType": ["int"], "tokenization": "word"}]),
                "Tokenization",
            ),
            (
                json!([{"name": "a", "dataType": ["text"], "tokenization": "nope"}]),
                "Tokenization",
            ),
            (
                json!([{"name": "a", "dataType": ["float"]}]),
                "invalid dataType",
            ),
            (json!([{"name": "a", "dataType": []}]), "invalid dataType"),
            (
                json!([{"name": "a", "dataType": ["int"], "indexSearchable": true}]),
                "indexSearchable",
            ),
        ];
        for (i, (props, want)) in cases.into_iter().enumerate() {
            let e = db
                .create_class(&json!({"class": format!("D{i}"), "properties": props}), &s)
                .unwrap_err();
            assert_eq!(e.status, 422);
            assert!(e.message.contains(want), "{i}: {}", e.message);
        }
    }

    #[test]
    fn index_config_rules() {
        let s = settings();
        let mut db = Db::default();
        let c = db
            .create_class(&json!({"class": "F", "vectorIndexType": "flat", "vectorIndexConfig": {"distance": "dot"}}), &s)
            .unwrap();
        assert_eq!(c["vectorIndexConfig"]["distance"], "dot");
        assert_eq!(db.class("F").unwrap().metric, Metric::Dot);
        let c = db
            .create_class(
                &json!({"class": "H", "vectorIndexConfig": {"distance": "l2-squared", "ef": 7}}),
                &s,
            )
            .unwrap();
        assert_eq!(c["vectorIndexConfig"]["ef"], 7);
        assert_eq!(c["vectorIndexConfig"]["maxConnections"], 64);
        for (body, want) in [
            (
                json!({"class": "X", "vectorIndexConfig": {"distance": "euclid"}}),
                "unrecognized distance",
            ),
            (
                json!({"class": "X", "vectorIndexType": "ivf"}),
                "unsupported vectorIndexType",
            ),
            (
                json!({"class": "X", "vectorIndexType": "dynamic"}),
                "async indexing",
            ),
            (
                json!({"class": "X", "vectorIndexType": "flat", "vectorIndexConfig": {"pq": {"enabled": true}}}),
                "PQ",
            ),
            (
                json!({"class": "X", "vectorizer": "text2vec-openai"}),
                "vectorizer",
            ),
        ] {
            let e = db.create_class(&body, &s).unwrap_err();
            assert_eq!(e.status, 422);
            assert!(e.message.contains(want), "{}", e.message);
        }
    }
}
