//! The emulator's in-memory database: classes with their properties and objects, looked up the
//! way Weaviate looks names up, plus ids and errors. The rules for creating classes live in
//! `schema.rs`, those for writing objects in `objects.rs`.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Map, Value};

use crate::distance::Metric;
use crate::schema::uppercase_class_name;
use crate::settings::{SCHEMA_PATH_UPPERCASE_SINCE, Settings};

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

    pub(crate) fn add_property(&mut self, def: Value, prop: PropDef) {
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

impl Db {
    pub(crate) fn next_doc_id(&mut self) -> u64 {
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
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
