//! Validation of JSON bodies against the Swagger 2.0 definitions of Weaviate's OpenAPI spec,
//! read at run time (the spec is never copied into the project).
//!
//! The checks are those go-openapi applies to a body before Weaviate sees it, plus one that is
//! stricter on purpose: a key that the spec does not declare on an object with declared
//! properties is reported, because Weaviate silently ignores it (a client typo would go
//! unnoticed against a real server).

use std::path::Path;

use serde_json::{Map, Value};

/// A loaded spec.
#[derive(Debug)]
pub(crate) struct Spec {
    doc: Value,
    base_path: String,
}

/// Deepest `$ref` chain or nesting followed, against cyclic definitions such as `WhereFilter`.
const MAX_DEPTH: usize = 64;

impl Spec {
    /// Reads the spec; `Ok(None)` when the file does not exist.
    pub(crate) fn load(path: &Path) -> std::io::Result<Option<Self>> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        };
        let doc: Value = serde_json::from_str(&text)
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))?;
        if doc.get("swagger").and_then(Value::as_str) != Some("2.0") {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("{} is not a Swagger 2.0 document", path.display()),
            ));
        }
        let base_path = doc
            .get("basePath")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned();
        Ok(Some(Self { doc, base_path }))
    }

    /// The operation object serving `method path` (path including the base path).
    fn operation(&self, method: &str, path: &str) -> Option<&Value> {
        let rel = path.strip_prefix(&self.base_path)?;
        let paths = self.doc.get("paths")?.as_object()?;
        let seg: Vec<&str> = rel.trim_end_matches('/').split('/').collect();
        // Prefer a literal match over a templated one (`/objects/validate` vs `/objects/{id}`).
        let mut best: Option<(usize, &Value)> = None;
        for (template, item) in paths {
            let tseg: Vec<&str> = template.split('/').collect();
            if tseg.len() != seg.len() {
                continue;
            }
            let mut literal = 0;
            let ok = tseg.iter().zip(&seg).all(|(t, s)| {
                if t.starts_with('{') && t.ends_with('}') {
                    !s.is_empty()
                } else {
                    literal += 1;
                    t == s
                }
            });
            if ok && best.is_none_or(|(l, _)| literal > l) {
                best = Some((literal, item));
            }
        }
        best?.1.get(method.to_ascii_lowercase())
    }

    /// The body schema of the operation serving `method path` (path including `/v1`), if the
    /// spec declares one.
    pub(crate) fn body_schema(&self, method: &str, path: &str) -> Option<&Value> {
        let op = self.operation(method, path)?;
        op.get("parameters")?.as_array()?.iter().find_map(|p| {
            let p = self.resolve(p, 0)?;
            (p.get("in")?.as_str()? == "body").then(|| p.get("schema"))?
        })
    }

    /// The response schema the spec declares for `status` of that operation (`None` when the
    /// operation or status is undeclared, `Some(None)` when declared without a body).
    #[cfg(test)]
    pub(crate) fn response_schema(
        &self,
        method: &str,
        path: &str,
        status: u16,
    ) -> Option<Option<&Value>> {
        let op = self.operation(method, path)?;
        let resp = op.get("responses")?.get(status.to_string())?;
        Some(self.resolve(resp, 0)?.get("schema"))
    }

    fn resolve<'a>(&'a self, schema: &'a Value, depth: usize) -> Option<&'a Value> {
        match schema.get("$ref").and_then(Value::as_str) {
            Some(r) if depth < MAX_DEPTH => {
                let mut node = &self.doc;
                for part in r.strip_prefix("#/")?.split('/') {
                    node = node.get(part.replace("~1", "/").replace("~0", "~"))?;
                }
                self.resolve(node, depth + 1)
            }
            Some(_) => None,
            None => Some(schema),
        }
    }

    /// Validates `value` against `schema`, appending one message per violation.
    pub(crate) fn validate(&self, schema: &Value, value: &Value, out: &mut Vec<String>) {
        self.check(schema, value, "body", false, 0, out);
    }

    fn check(
        &self,
        schema: &Value,
        value: &Value,
        at: &str,
        required: bool,
        depth: usize,
        out: &mut Vec<String>,
    ) {
        if depth > MAX_DEPTH {
            return;
        }
        let Some(schema) = self.resolve(schema, 0) else {
            out.push(format!("{at}: unresolvable $ref {}", schema["$ref"]));
            return;
        };
        if let Some(all) = schema.get("allOf").and_then(Value::as_array) {
            for s in all {
                self.check_all_of_part(s, value, at, depth, out);
            }
        }
        if value.is_null() {
            // go-openapi decodes null into the zero value: only a required or non-nullable
            // required field is a violation.
            let nullable = schema
                .get("x-nullable")
                .and_then(Value::as_bool)
                .unwrap_or(false);
            if required && !nullable {
                out.push(format!("{at}: is required and must not be null"));
            }
            return;
        }
        let declared = schema.get("type").and_then(Value::as_str);
        let ty = declared.or_else(|| schema.get("properties").map(|_| "object"));
        match ty {
            Some("object") => {
                // A free-form `type: object` without properties is `interface{}` in go-swagger:
                // anything goes (Weaviate's `Vector` definition relies on this for arrays).
                let has_shape = schema.get("properties").is_some()
                    || schema.get("additionalProperties").is_some();
                match value.as_object() {
                    Some(obj) => self.check_object(schema, obj, at, depth, out),
                    None if has_shape => {
                        out.push(format!("{at}: must be of type object, got {}", kind(value)))
                    }
                    None => {}
                }
            }
            Some("array") => match value.as_array() {
                Some(items) => {
                    if let Some(item_schema) = schema.get("items") {
                        for (i, item) in items.iter().enumerate() {
                            self.check(
                                item_schema,
                                item,
                                &format!("{at}[{i}]"),
                                false,
                                depth + 1,
                                out,
                            );
                        }
                    }
                }
                None => out.push(format!("{at}: must be of type array, got {}", kind(value))),
            },
            Some("string") => match value.as_str() {
                Some(s) => {
                    if let Some(f) = schema.get("format").and_then(Value::as_str)
                        && f == "uuid"
                        && !crate::store::is_uuid(s)
                    {
                        out.push(format!("{at}: must be of format uuid, got {s:?}"));
                    }
                }
                None => out.push(format!("{at}: must be of type string, got {}", kind(value))),
            },
            Some("integer") => {
                // Go decodes `3.0` or `1e3` into an int64 field with an error: only integer literals pass.
                let ok = value.is_i64() || value.is_u64();
                if !ok {
                    out.push(format!(
                        "{at}: must be of type integer, got {}",
                        kind_detail(value)
                    ));
                }
            }
            Some("number") if !value.is_number() => {
                out.push(format!("{at}: must be of type number, got {}", kind(value)));
            }
            Some("boolean") if !value.is_boolean() => {
                out.push(format!(
                    "{at}: must be of type boolean, got {}",
                    kind(value)
                ));
            }
            _ => {}
        }
        if let Some(allowed) = schema.get("enum").and_then(Value::as_array)
            && !allowed.contains(value)
        {
            out.push(format!(
                "{at}: must be one of {}, got {value}",
                Value::Array(allowed.clone())
            ));
        }
    }

    fn check_all_of_part(
        &self,
        s: &Value,
        value: &Value,
        at: &str,
        depth: usize,
        out: &mut Vec<String>,
    ) {
        // allOf parts are checked without the unknown-key rule: a key may belong to a sibling.
        let Some(s) = self.resolve(s, 0) else { return };
        if let (Some(obj), Some(props)) = (
            value.as_object(),
            s.get("properties").and_then(Value::as_object),
        ) {
            for (k, v) in obj {
                if let Some(ps) = props.get(k) {
                    self.check(ps, v, &format!("{at}.{k}"), false, depth + 1, out);
                }
            }
        }
    }

    fn check_object(
        &self,
        schema: &Value,
        obj: &Map<String, Value>,
        at: &str,
        depth: usize,
        out: &mut Vec<String>,
    ) {
        let props = schema.get("properties").and_then(Value::as_object);
        let required: Vec<&str> = schema
            .get("required")
            .and_then(Value::as_array)
            .map(|r| r.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        for r in &required {
            if !obj.contains_key(*r) {
                out.push(format!("{at}.{r}: is required"));
            }
        }
        let has_all_of = schema.get("allOf").is_some();
        for (k, v) in obj {
            let here = format!("{at}.{k}");
            match props.and_then(|p| p.get(k)) {
                Some(ps) => {
                    self.check(ps, v, &here, required.contains(&k.as_str()), depth + 1, out)
                }
                None => match schema.get("additionalProperties") {
                    Some(Value::Bool(false)) => out.push(format!(
                        "{here}: is not allowed (additionalProperties: false)"
                    )),
                    Some(extra @ Value::Object(_)) => {
                        self.check(extra, v, &here, false, depth + 1, out)
                    }
                    _ if props.is_some() && !has_all_of => out.push(format!(
                        "{here}: is not defined in the spec (Weaviate would silently ignore it)"
                    )),
                    _ => {}
                },
            }
        }
        if has_all_of {
            // Unknown keys across all allOf parts.
            let mut known: Vec<String> = props
                .map(|p| p.keys().cloned().collect())
                .unwrap_or_default();
            for part in schema["allOf"].as_array().into_iter().flatten() {
                if let Some(p) = self
                    .resolve(part, 0)
                    .and_then(|p| p.get("properties"))
                    .and_then(Value::as_object)
                {
                    known.extend(p.keys().cloned());
                }
            }
            for k in obj.keys() {
                if !known.contains(k) {
                    out.push(format!(
                        "{at}.{k}: is not defined in the spec (Weaviate would silently ignore it)"
                    ));
                }
            }
        }
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn kind_detail(v: &Value) -> String {
    match v {
        Value::Number(n) => format!("number {n}"),
        other => kind(other).to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn spec() -> Spec {
        let doc = json!({
            "swagger": "2.0",
            "basePath": "/v1",
            "paths": {
                "/things": {"post": {"parameters": [{"in": "body", "name": "body", "schema": {"$ref": "#/definitions/Thing"}}]}},
                "/things/{id}": {"put": {"parameters": [{"$ref": "#/parameters/P"}]}},
                "/things/special": {"put": {"parameters": []}}
            },
            "parameters": {"P": {"in": "body", "name": "body", "schema": {"$ref": "#/definitions/Thing"}}},
            "definitions": {
                "Thing": {"type": "object", "required": ["name"], "properties": {
                    "name": {"type": "string"},
                    "id": {"type": "string", "format": "uuid"},
                    "n": {"type": "integer", "format": "int64"},
                    "x": {"type": "number"},
                    "kind": {"type": "string", "enum": ["a", "b"]},
                    "tags": {"type": "array", "items": {"type": "string"}},
                    "child": {"$ref": "#/definitions/Thing"},
                    "free": {"type": "object"},
                    "strict": {"type": "object", "additionalProperties": false, "properties": {"a": {"type": "boolean"}}},
                    "map": {"type": "object", "additionalProperties": {"type": "number"}}
                }}
            }
        });
        Spec {
            doc,
            base_path: "/v1".into(),
        }
    }

    fn errors(v: Value) -> Vec<String> {
        let s = spec();
        let schema = s.body_schema("POST", "/v1/things").unwrap().clone();
        let mut out = Vec::new();
        s.validate(&schema, &v, &mut out);
        out
    }

    #[test]
    fn valid_body_has_no_violations() {
        let v = json!({"name": "n", "id": "8C0D7D9E-1234-4abc-8def-0123456789ab", "n": 3, "x": 1.5,
            "kind": "a", "tags": ["t"], "child": {"name": "c"}, "free": [1, 2], "strict": {"a": true},
            "map": {"k": 1}});
        assert_eq!(errors(v), Vec::<String>::new());
    }

    #[test]
    fn each_kind_of_violation_is_reported() {
        let v = json!({"id": "nope", "n": 2.0, "x": "1", "kind": "c", "tags": [1], "child": {"name": 2},
            "strict": {"b": 1}, "map": {"k": "v"}, "typo": 1});
        let e = errors(v);
        let expect = [
            "body.name: is required",
            "body.id: must be of format uuid",
            "body.n: must be of type integer",
            "body.x: must be of type number",
            "body.kind: must be one of",
            "body.tags[0]: must be of type string",
            "body.child.name: must be of type string",
            "body.strict.b: is not allowed",
            "body.map.k: must be of type number",
            "body.typo: is not defined in the spec",
        ];
        for x in expect {
            assert!(
                e.iter().any(|m| m.starts_with(x)),
                "missing {x:?} in {e:#?}"
            );
        }
        assert_eq!(e.len(), expect.len(), "{e:#?}");
    }

    #[test]
    fn routes_prefer_literal_segments_and_resolve_parameter_refs() {
        let s = spec();
        assert!(s.body_schema("PUT", "/v1/things/123").is_some());
        assert!(s.body_schema("PUT", "/v1/things/special").is_none());
        assert!(s.body_schema("GET", "/v1/things").is_none());
        assert!(s.body_schema("POST", "/v2/things").is_none());
    }
}
