//! The emulator's in-memory database: classes (schema rules, defaults, name normalisation,
//! auto-schema) and their objects (validation, vector dimensions, upserts).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Map, Value, json};

use crate::distance::Metric;

/// A Weaviate version, compared numerically.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Version(pub(crate) u32, pub(crate) u32, pub(crate) u32);

impl Version {
    /// Parses `1.39.0`, `1.25.3-rc.1`, `v1.30`.
    pub(crate) fn parse(s: &str) -> Option<Self> {
        let s = s.trim().trim_start_matches('v');
        let core = s.split(['-', '+']).next()?;
        let mut it = core.split('.').map(|p| p.parse::<u32>());
        let major = it.next()?.ok()?;
        let minor = it.next().unwrap_or(Ok(0)).ok()?;
        let patch = it.next().unwrap_or(Ok(0)).ok()?;
        Some(Self(major, minor, patch))
    }
}

/// Server settings (Weaviate's environment defaults).
#[derive(Clone, Debug)]
pub(crate) struct Settings {
    pub(crate) version: Version,
    pub(crate) version_string: String,
    pub(crate) auto_schema: bool,
    /// `QUERY_DEFAULTS_LIMIT` (GraphQL).
    pub(crate) default_limit: usize,
    /// `QUERY_MAXIMUM_RESULTS`.
    pub(crate) max_results: usize,
}

impl Settings {
    /// Whether the `Not` and `ContainsNone` filter operators exist in this version.
    pub(crate) fn has_not_operator(&self) -> bool {
        self.version >= NOT_OPERATOR_SINCE
    }
}

/// First version with the `Not` and `ContainsNone` operators (both added together).
pub(crate) const NOT_OPERATOR_SINCE: Version = Version(1, 33, 0);
/// Versions from which PUT on a missing object is 404 rather than 500.
const PUT_MISSING_404_SINCE: Version = Version(1, 37, 11);
/// First version whose schema endpoints upper-case the first letter of `{className}` (assumed:
/// the 1.25-era handler did an exact lookup, current ones normalise; the exact release of the
/// change was not pinned down).
const SCHEMA_PATH_UPPERCASE_SINCE: Version = Version(1, 26, 0);
/// Versions that forbid internal suffixes in property names.
const PROPERTY_SUFFIX_RULE_SINCE: Version = Version(1, 30, 0);

/// One property of a class, as the emulator needs it for validation and filtering.
#[derive(Clone, Debug)]
pub(crate) struct PropDef {
    pub(crate) name: String,
    pub(crate) data_type: String,
    pub(crate) tokenization: Option<String>,
    pub(crate) filterable: bool,
    pub(crate) searchable: bool,
    pub(crate) rangeable: bool,
}

impl PropDef {
    /// The element type of an array type (`text[]` → `text`), or the type itself.
    pub(crate) fn base_type(&self) -> &str {
        self.data_type.strip_suffix("[]").unwrap_or(&self.data_type)
    }

    pub(crate) fn is_array(&self) -> bool {
        self.data_type.ends_with("[]")
    }
}

/// A stored object.
#[derive(Clone, Debug)]
pub(crate) struct StoredObject {
    pub(crate) id: String,
    /// Insertion order; a write gives the object a new doc id, as in Weaviate.
    pub(crate) doc_id: u64,
    pub(crate) props: Map<String, Value>,
    pub(crate) vector: Option<Vec<f32>>,
    pub(crate) created: i64,
    pub(crate) updated: i64,
}

/// A class with its data.
#[derive(Clone, Debug)]
pub(crate) struct ClassData {
    /// The class as `GET /v1/schema/{c}` returns it (defaults filled in).
    pub(crate) def: Value,
    pub(crate) props: Vec<PropDef>,
    pub(crate) metric: Metric,
    pub(crate) index_null_state: bool,
    /// Fixed by the first vector inserted into the index, not by the schema.
    pub(crate) dims: Option<usize>,
    pub(crate) objects: BTreeMap<String, StoredObject>,
}

impl ClassData {
    pub(crate) fn name(&self) -> &str {
        self.def["class"].as_str().unwrap_or_default()
    }

    pub(crate) fn prop(&self, name: &str) -> Option<&PropDef> {
        self.props.iter().find(|p| p.name == name)
    }

    /// Objects in doc-id order (the order of an unsorted, unfiltered Weaviate listing).
    pub(crate) fn objects_by_doc_id(&self) -> Vec<&StoredObject> {
        let mut v: Vec<&StoredObject> = self.objects.values().collect();
        v.sort_by_key(|o| o.doc_id);
        v
    }

    fn add_property(&mut self, def: Value, prop: PropDef) {
        match self.def.get_mut("properties") {
            Some(Value::Array(a)) => a.push(def),
            _ => self.def["properties"] = Value::Array(vec![def]),
        }
        self.props.push(prop);
    }
}

/// The database.
#[derive(Debug, Default)]
pub(crate) struct Db {
    /// Keyed by exact (normalised) class name.
    pub(crate) classes: BTreeMap<String, ClassData>,
    next_doc: u64,
}

/// An error with the HTTP status Weaviate would answer.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct ApiError {
    pub(crate) status: u16,
    pub(crate) message: String,
}

impl ApiError {
    pub(crate) fn new(status: u16, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
        }
    }
    pub(crate) fn unprocessable(message: impl Into<String>) -> Self {
        Self::new(422, message)
    }
}

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

fn is_valid_class_name(name: &str) -> bool {
    let b = name.as_bytes();
    !b.is_empty()
        && b.len() <= 255
        && b[0].is_ascii_uppercase()
        && b[1..]
            .iter()
            .all(|c| c.is_ascii_alphanumeric() || *c == b'_')
}

fn is_valid_property_name(name: &str) -> bool {
    let b = name.as_bytes();
    !b.is_empty()
        && b.len() <= 231
        && (b[0].is_ascii_alphabetic() || b[0] == b'_')
        && b[1..]
            .iter()
            .all(|c| c.is_ascii_alphanumeric() || *c == b'_')
}

/// Whether `s` is a UUID in the form go-openapi's `uuid` format accepts (hyphenated, any case,
/// or 32 hex digits).
pub(crate) fn is_uuid(s: &str) -> bool {
    let b = s.as_bytes();
    match b.len() {
        36 => b.iter().enumerate().all(|(i, c)| {
            if matches!(i, 8 | 13 | 18 | 23) {
                *c == b'-'
            } else {
                c.is_ascii_hexdigit()
            }
        }),
        32 => b.iter().all(u8::is_ascii_hexdigit),
        _ => false,
    }
}

/// The canonical (lower-case, hyphenated) form of a valid UUID.
pub(crate) fn canonical_uuid(s: &str) -> String {
    let hex: String = s
        .chars()
        .filter(|c| *c != '-')
        .collect::<String>()
        .to_ascii_lowercase();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

/// A random (v4-shaped) UUID for objects created without an id.
pub(crate) fn random_uuid() -> String {
    use std::hash::{BuildHasher, Hasher};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let state = std::collections::hash_map::RandomState::new();
    let mut words = [0u64; 2];
    for (i, w) in words.iter_mut().enumerate() {
        let mut h = state.build_hasher();
        h.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
        h.write_usize(i);
        h.write_u128(
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos()),
        );
        *w = h.finish();
    }
    let mut bytes = [0u8; 16];
    bytes[..8].copy_from_slice(&words[0].to_le_bytes());
    bytes[8..].copy_from_slice(&words[1].to_le_bytes());
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    canonical_uuid(&hex)
}

pub(crate) fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
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

fn is_text(base: &str) -> bool {
    base == "text"
}

impl Db {
    fn next_doc_id(&mut self) -> u64 {
        self.next_doc += 1;
        self.next_doc
    }

    /// The class called `name` after upper-casing its first letter.
    pub(crate) fn class(&self, name: &str) -> Option<&ClassData> {
        self.classes.get(&uppercase_class_name(name))
    }

    /// The class called exactly `name` (GraphQL field names, and 1.25's schema endpoints).
    pub(crate) fn class_exact(&self, name: &str) -> Option<&ClassData> {
        self.classes.get(name)
    }

    /// The class a `/v1/schema/{className}` path names: from 1.26 the handler upper-cases the
    /// first letter (`GetConsistentClass`); the 1.25-era handler looked the name up as given.
    pub(crate) fn schema_path_class(&self, name: &str, settings: &Settings) -> Option<&ClassData> {
        if settings.version >= SCHEMA_PATH_UPPERCASE_SINCE {
            self.class(name)
        } else {
            self.class_exact(name)
        }
    }

    /// `DELETE /v1/schema/{c}`: always succeeds (no existence check in the RAFT apply).
    pub(crate) fn delete_class(&mut self, name: &str, settings: &Settings) {
        let key = if settings.version >= SCHEMA_PATH_UPPERCASE_SINCE {
            uppercase_class_name(name)
        } else {
            name.to_owned()
        };
        self.classes.remove(&key);
    }

    pub(crate) fn class_mut(&mut self, name: &str) -> Option<&mut ClassData> {
        self.classes.get_mut(&uppercase_class_name(name))
    }

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
            "usingBlockMaxWAND": settings.version >= Version(1, 30, 0)
        });
        let inverted = match obj.get("invertedIndexConfig") {
            Some(u) if u.is_object() => merge(inverted_defaults, u),
            _ => inverted_defaults,
        };
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
    fn auto_create_class(&mut self, name: &str, settings: &Settings) -> Result<(), ApiError> {
        self.create_class(&json!({"class": name}), settings)
            .map(|_| ())
    }

    /// Validates one object for a write; auto-schema changes happen here, as in Weaviate
    /// (before the object itself is known to be valid).
    pub(crate) fn prepare_object(
        &mut self,
        obj: &Value,
        settings: &Settings,
    ) -> Result<PreparedObject, String> {
        let Some(obj) = obj.as_object() else {
            return Err("invalid object: not a JSON object".to_owned());
        };
        let raw_class = obj.get("class").and_then(Value::as_str).unwrap_or_default();
        if raw_class.is_empty() {
            return Err("invalid object: the given class is empty".to_owned());
        }
        let class_name = uppercase_class_name(raw_class);
        if !self.classes.contains_key(&class_name) {
            if !settings.auto_schema || !is_valid_class_name(&class_name) {
                return Err(format!("class '{class_name}' not present in schema"));
            }
            self.auto_create_class(&class_name, settings)
                .map_err(|e| e.message)?;
        }
        if obj
            .get("tenant")
            .and_then(Value::as_str)
            .is_some_and(|t| !t.is_empty())
        {
            return Err(format!(
                "class {class_name} has multi-tenancy disabled, but request was with tenant"
            ));
        }
        let id = match obj.get("id") {
            None | Some(Value::Null) => random_uuid(),
            Some(Value::String(s)) if is_uuid(s) => canonical_uuid(s),
            Some(other) => return Err(format!("invalid object: id {other} is not a valid uuid")),
        };
        let mut props = Map::new();
        match obj.get("properties") {
            None | Some(Value::Null) => {}
            Some(Value::Object(p)) => {
                for (key, value) in p {
                    if value.is_null() {
                        // "nil values are removed"
                        continue;
                    }
                    let pname = lowercase_first_letter(key);
                    let known = self.classes[&class_name].prop(&pname).cloned();
                    let prop = match known {
                        Some(p) => p,
                        None if settings.auto_schema && is_valid_property_name(&pname) => {
                            let data_type = infer_type(value).map_err(|e| {
                                format!("invalid object: property '{pname}' on class '{class_name}': {e}")
                            })?;
                            let (def, prop) = normalize_property(
                                &class_name,
                                &json!({"name": pname, "dataType": [data_type]}),
                                settings,
                            )
                            .map_err(|e| e.message)?;
                            if let Some(c) = self.classes.get_mut(&class_name) {
                                c.add_property(def, prop.clone());
                            }
                            prop
                        }
                        None => {
                            return Err(format!(
                                "invalid object: no such prop with name '{pname}' found in class '{class_name}' in the schema. Check your schema files for which properties in this class are available"
                            ));
                        }
                    };
                    check_value(&prop, value, &class_name)?;
                    props.insert(pname, value.clone());
                }
            }
            Some(_) => return Err("invalid object: properties must be a JSON object".to_owned()),
        }
        let vector = match obj.get("vector") {
            None | Some(Value::Null) => None,
            Some(Value::Array(a)) if a.is_empty() => None,
            Some(Value::Array(a)) => {
                let mut v = Vec::with_capacity(a.len());
                for x in a {
                    match x.as_f64() {
                        Some(f) => v.push(f as f32),
                        None => {
                            return Err(
                                "invalid object: vector must be an array of numbers".to_owned()
                            );
                        }
                    }
                }
                Some(v)
            }
            Some(_) => return Err("invalid object: vector must be an array of numbers".to_owned()),
        };
        Ok(PreparedObject {
            class: class_name,
            id,
            props,
            vector,
        })
    }

    /// Writes a prepared object (full replace), checking the index dimension.
    pub(crate) fn write(&mut self, p: PreparedObject) -> Result<StoredObject, String> {
        let doc_id = self.next_doc_id();
        let Some(class) = self.classes.get_mut(&p.class) else {
            return Err(format!("class '{}' not present in schema", p.class));
        };
        if let (Some(v), Some(d)) = (&p.vector, class.dims)
            && v.len() != d
        {
            return Err(format!(
                "insert to vector index: new node has a vector with length {}. Existing nodes have vectors with length {d}",
                v.len()
            ));
        }
        if let Some(v) = &p.vector {
            class.dims = Some(v.len());
        }
        let now = now_ms();
        let created = class.objects.get(&p.id).map_or(now, |o| o.created);
        let stored = StoredObject {
            id: p.id.clone(),
            doc_id,
            props: p.props,
            vector: p.vector,
            created,
            updated: now,
        };
        class.objects.insert(p.id, stored.clone());
        Ok(stored)
    }

    /// The status for PUT on a missing object in this version.
    pub(crate) fn put_missing_status(settings: &Settings) -> u16 {
        if settings.version >= PUT_MISSING_404_SINCE {
            404
        } else {
            500
        }
    }
}

/// An object that passed validation, ready to be written.
#[derive(Clone, Debug)]
pub(crate) struct PreparedObject {
    pub(crate) class: String,
    pub(crate) id: String,
    pub(crate) props: Map<String, Value>,
    pub(crate) vector: Option<Vec<f32>>,
}

/// Validates and normalises one property definition; returns the echo and the model.
fn normalize_property(
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

fn is_rfc3339(s: &str) -> bool {
    // YYYY-MM-DDTHH:MM:SS[.frac](Z|±HH:MM)
    let b = s.as_bytes();
    if b.len() < 20 {
        return false;
    }
    let digits = |r: std::ops::Range<usize>| b[r].iter().all(u8::is_ascii_digit);
    if !(digits(0..4)
        && b[4] == b'-'
        && digits(5..7)
        && b[7] == b'-'
        && digits(8..10)
        && matches!(b[10], b'T' | b't')
        && digits(11..13)
        && b[13] == b':'
        && digits(14..16)
        && b[16] == b':'
        && digits(17..19))
    {
        return false;
    }
    let mut i = 19;
    if b.get(i) == Some(&b'.') {
        i += 1;
        let start = i;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        if i == start {
            return false;
        }
    }
    match &b[i..] {
        [b'Z' | b'z'] => true,
        [b'+' | b'-', h1, h2, b':', m1, m2] => [h1, h2, m1, m2].iter().all(|c| c.is_ascii_digit()),
        _ => false,
    }
}

/// Auto-schema type inference (`determineType`).
fn infer_type(v: &Value) -> Result<String, String> {
    fn scalar(v: &Value) -> Result<&'static str, String> {
        Ok(match v {
            Value::String(s) if is_rfc3339(s) => "date",
            Value::String(s) if is_uuid(s) => "uuid",
            Value::String(_) => "text",
            Value::Number(_) => "number",
            Value::Bool(_) => "boolean",
            Value::Object(_) => {
                return Err("the Weaviate emulator does not emulate object properties".into());
            }
            _ => return Err("unsupported value".into()),
        })
    }
    match v {
        Value::Array(items) => {
            let Some(first) = items.first() else {
                return Ok("text[]".into());
            };
            let t = scalar(first)?;
            for (i, item) in items.iter().enumerate().skip(1) {
                let ti = scalar(item)?;
                if ti != t {
                    return Err(format!(
                        "element [{i}]: mismatched data type - '{t}' expected, got '{ti}'"
                    ));
                }
            }
            Ok(format!("{t}[]"))
        }
        other => scalar(other).map(str::to_owned),
    }
}

/// Go's `%T`-style name of a JSON value, as Weaviate's validation messages print it.
fn go_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "<nil>",
        Value::Bool(_) => "bool",
        Value::Number(_) => "json.Number",
        Value::String(_) => "string",
        Value::Array(_) => "[]interface {}",
        Value::Object(_) => "map[string]interface {}",
    }
}

fn show(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Checks a property value against its data type (`validation/properties_validation.go`).
fn check_value(prop: &PropDef, v: &Value, class: &str) -> Result<(), String> {
    let name = &prop.name;
    let base = prop.base_type();
    let one = |x: &Value, label: &str| -> Result<(), String> {
        match base {
            "text" => match x {
                Value::String(_) => Ok(()),
                _ => Err(format!(
                    "invalid {label} property '{name}' on class '{class}': not a string, but {}",
                    go_type(x)
                )),
            },
            "number" => match x {
                Value::Number(_) => Ok(()),
                _ => Err(format!(
                    "invalid {label} property '{name}' on class '{class}': requires a float, the given value is '{}'",
                    show(x)
                )),
            },
            "int" => match x {
                Value::Number(n) if n.is_i64() || n.is_u64() => Ok(()),
                _ => Err(format!(
                    "invalid {label} property '{name}' on class '{class}': requires an integer, the given value is '{}'",
                    show(x)
                )),
            },
            "boolean" => match x {
                Value::Bool(_) => Ok(()),
                _ => Err(format!(
                    "invalid {label} property '{name}' on class '{class}': not a boolean, but {}",
                    go_type(x)
                )),
            },
            "date" => match x {
                Value::String(s) if is_rfc3339(s) => Ok(()),
                _ => Err(format!(
                    "invalid {label} property '{name}' on class '{class}': requires a string with a RFC3339 formatted date, but the given value is '{}'",
                    show(x)
                )),
            },
            "uuid" => match x {
                Value::String(s) if is_uuid(s) => Ok(()),
                _ => Err(format!(
                    "invalid {label} property '{name}' on class '{class}': requires a string with a valid uuid, but the given value is '{}'",
                    show(x)
                )),
            },
            _ => Ok(()),
        }
    };
    if prop.is_array() {
        let label = format!("{base} array");
        let Value::Array(items) = v else {
            return Err(format!(
                "invalid {label} property '{name}' on class '{class}': not an array, but {}",
                go_type(v)
            ));
        };
        items.iter().try_for_each(|x| one(x, &label))
    } else {
        one(v, base)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn settings() -> Settings {
        Settings {
            version: Version(1, 39, 0),
            version_string: "1.39.0".into(),
            auto_schema: true,
            default_limit: 10,
            max_results: 10_000,
        }
    }

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

    #[test]
    fn uuids() {
        assert!(is_uuid("8C0D7D9E-1234-4abc-8def-0123456789ab"));
        assert!(is_uuid("8c0d7d9e12344abc8def0123456789ab"));
        assert!(!is_uuid("8c0d7d9e-1234-4abc-8def-0123456789a"));
        assert!(!is_uuid("k1"));
        assert_eq!(
            canonical_uuid("8C0D7D9E12344ABC8DEF0123456789AB"),
            "8c0d7d9e-1234-4abc-8def-0123456789ab"
        );
        let r = random_uuid();
        assert!(is_uuid(&r) && r.as_bytes()[14] == b'4', "{r}");
        assert_ne!(random_uuid(), random_uuid());
    }

    #[test]
    fn object_validation_and_auto_schema() {
        let s = settings();
        let mut db = Db::default();
        db.create_class(
            &json!({"class": "C", "properties": [
            {"name": "t", "dataType": ["text"]}, {"name": "n", "dataType": ["number"]},
            {"name": "i", "dataType": ["int"]}, {"name": "tags", "dataType": ["text[]"]}]}),
            &s,
        )
        .unwrap();
        let id = "00000000-0000-0000-0000-000000000001";
        let bad = [
            (
                json!({"t": 1}),
                "invalid text property 't' on class 'C': not a string, but json.Number",
            ),
            (
                json!({"n": "abc"}),
                "invalid number property 'n' on class 'C': requires a float, the given value is 'abc'",
            ),
            (json!({"i": 1.5}), "requires an integer"),
            (json!({"tags": "x"}), "not an array"),
            (
                json!({"tags": ["x", 1]}),
                "invalid text array property 'tags'",
            ),
        ];
        for (props, want) in bad {
            let e = db
                .prepare_object(&json!({"class": "C", "id": id, "properties": props}), &s)
                .unwrap_err();
            assert!(e.contains(want), "{e}");
        }
        // Auto-schema adds unknown properties with inferred types; nulls are dropped.
        let p = db
            .prepare_object(&json!({"class": "c", "id": id, "properties": {"New": "2024-01-01T00:00:00Z", "z": null}}), &s)
            .unwrap();
        assert_eq!(p.class, "C");
        assert!(p.props.contains_key("new") && !p.props.contains_key("z"));
        assert_eq!(
            db.class("C").unwrap().prop("new").unwrap().data_type,
            "date"
        );
        // A missing class is auto-created with cosine/HNSW.
        db.prepare_object(&json!({"class": "Auto", "properties": {"x": [1, 2]}}), &s)
            .unwrap();
        let auto = db.class("Auto").unwrap();
        assert_eq!(auto.metric, Metric::Cosine);
        assert_eq!(auto.prop("x").unwrap().data_type, "number[]");
        assert!(
            db.prepare_object(&json!({"class": "Auto", "properties": {"m": [1, "a"]}}), &s)
                .unwrap_err()
                .contains("mismatched data type")
        );
        // With auto-schema off, unknown classes and properties are per-object errors.
        let off = Settings {
            auto_schema: false,
            ..s
        };
        assert_eq!(
            db.prepare_object(&json!({"class": "Nope"}), &off)
                .unwrap_err(),
            "class 'Nope' not present in schema"
        );
        assert!(
            db.prepare_object(&json!({"class": "C", "properties": {"zz": "1"}}), &off)
                .unwrap_err()
                .contains("no such prop with name 'zz'")
        );
        assert!(
            db.prepare_object(&json!({"class": "C", "tenant": "t"}), &off)
                .unwrap_err()
                .contains("multi-tenancy disabled")
        );
    }

    #[test]
    fn first_vector_fixes_dimension() {
        let s = settings();
        let mut db = Db::default();
        db.create_class(&json!({"class": "V"}), &s).unwrap();
        let p = |v: Value| Db::default().prepare_object(&json!({"class": "V", "vector": v}), &s);
        let mut db2 = db;
        let a = db2
            .prepare_object(&json!({"class": "V", "vector": [1.0, 2.0, 3.0]}), &s)
            .unwrap();
        db2.write(a).unwrap();
        let b = db2
            .prepare_object(&json!({"class": "V", "vector": [1.0, 2.0]}), &s)
            .unwrap();
        assert_eq!(
            db2.write(b).unwrap_err(),
            "insert to vector index: new node has a vector with length 2. Existing nodes have vectors with length 3"
        );
        assert!(p(json!(["a"])).is_err());
    }

    #[test]
    fn versions_parse_and_compare() {
        assert_eq!(Version::parse("1.25.0"), Some(Version(1, 25, 0)));
        assert_eq!(Version::parse("v1.37.11-rc.1"), Some(Version(1, 37, 11)));
        assert_eq!(Version::parse("1.30"), Some(Version(1, 30, 0)));
        assert!(Version(1, 37, 11) > Version(1, 37, 2));
        assert!(Version::parse("x").is_none());
        let mut s = settings();
        assert_eq!(Db::put_missing_status(&s), 404);
        s.version = Version(1, 25, 0);
        assert_eq!(Db::put_missing_status(&s), 500);
        assert!(!s.has_not_operator());
    }
}
