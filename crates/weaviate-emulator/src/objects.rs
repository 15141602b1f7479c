//! Objects: validation of one object for a write (ids, tenant, property types with Weaviate's
//! messages), auto-schema (new classes and properties with inferred types), and the write itself
//! (full replace, the vector dimension fixed by the first vector).

use serde_json::{Map, Value, json};

use crate::schema::{
    is_valid_class_name, is_valid_property_name, lowercase_first_letter, normalize_property,
    uppercase_class_name,
};
use crate::settings::{PUT_MISSING_404_SINCE, Settings};
use crate::store::{Db, PropDef, StoredObject, canonical_uuid, is_uuid, now_ms, random_uuid};

impl Db {
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
    use crate::distance::Metric;
    use crate::settings::tests::settings;

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
}
