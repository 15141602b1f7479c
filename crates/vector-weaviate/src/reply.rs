//! Parsing what Weaviate answers: error bodies (every shape of WEAVIATE.md §2.8), the GraphQL
//! envelope, objects as queries return them, batch results, catalogue entries, versions.

use serde_json::Value;
use vector_backend::{Metadata, NamespaceConfig};

use crate::error::WeaviateError;
use crate::schema::{P_CLASS, P_CONFIG, P_KEY, P_META, P_NAMESPACE};

/// Longest server message kept in an error.
const MAX_MESSAGE: usize = 500;

/// An HTTP answer: status and body text.
#[derive(Debug)]
pub(crate) struct Reply {
    pub(crate) status: u16,
    pub(crate) body: String,
}

impl Reply {
    /// The body as JSON, for a successful call.
    pub(crate) fn json(&self, what: &str) -> Result<Value, WeaviateError> {
        serde_json::from_str(&self.body).map_err(|source| WeaviateError::Json {
            what: what.to_owned(),
            source,
        })
    }

    /// Fails unless the status is one of `ok`.
    pub(crate) fn expect(self, what: &str, ok: &[u16]) -> Result<Self, WeaviateError> {
        if ok.contains(&self.status) {
            Ok(self)
        } else {
            Err(WeaviateError::status(what, self.status, &self.body))
        }
    }
}

/// The outcome of a GraphQL call that reached the server.
#[derive(Debug)]
pub(crate) enum Gql {
    /// `data`, with no `errors`.
    Data(Value),
    /// The `errors` messages (HTTP 200 with `errors`, or the 422 Weaviate sends when the schema
    /// is empty).
    Errors(Vec<String>),
}

impl Gql {
    /// Splits a `POST /v1/graphql` answer into data or error messages.
    pub(crate) fn parse(reply: Reply, what: &str) -> Result<Self, WeaviateError> {
        match reply.status {
            200 => {}
            // "no graphql provider present": Weaviate's answer when no class exists at all.
            422 => return Ok(Self::Errors(vec![server_message(&reply.body)])),
            status => return Err(WeaviateError::status(what, status, &reply.body)),
        }
        let v = reply.json(what)?;
        if let Some(errors) = v
            .get("errors")
            .and_then(Value::as_array)
            .filter(|e| !e.is_empty())
        {
            let messages = errors
                .iter()
                .map(|e| {
                    e.get("message")
                        .and_then(Value::as_str)
                        .unwrap_or("(no message)")
                        .to_owned()
                })
                .collect();
            return Ok(Self::Errors(messages));
        }
        match v.get("data") {
            Some(data) if !data.is_null() => Ok(Self::Data(data.clone())),
            _ => Err(WeaviateError::decode(
                what,
                "a GraphQL answer without data or errors",
            )),
        }
    }
}

/// One object as a GraphQL `Get` returns it.
#[derive(Debug)]
pub(crate) struct Hit {
    /// Weaviate's id (for the cursor API).
    pub(crate) id: String,
    pub(crate) key: String,
    /// Empty unless the query asked for it.
    pub(crate) metadata: Metadata,
    pub(crate) distance: Option<f64>,
    /// The BM25 score of a keyword query (`_additional { score }`).
    pub(crate) score: Option<f64>,
    pub(crate) vector: Option<Vec<f32>>,
}

impl Hit {
    /// The vector, which the query must have asked for.
    pub(crate) fn take_vector(&mut self, what: &str) -> Result<Vec<f32>, WeaviateError> {
        self.vector
            .take()
            .ok_or_else(|| WeaviateError::decode(what, "an object without its vector"))
    }
}

/// The objects of one `Get` field.
pub(crate) fn hits(list: &Value, what: &str) -> Result<Vec<Hit>, WeaviateError> {
    list.as_array()
        .ok_or_else(|| WeaviateError::decode(what, "no object list"))?
        .iter()
        .map(|o| hit(o, what))
        .collect()
}

fn hit(o: &Value, what: &str) -> Result<Hit, WeaviateError> {
    let key = o
        .get(P_KEY)
        .and_then(Value::as_str)
        .ok_or_else(|| WeaviateError::decode(what, format!("an object without {P_KEY}")))?
        .to_owned();
    let metadata = match o.get(P_META) {
        Some(m) if !m.is_null() => metadata(m.as_str(), what)?,
        _ => Metadata::new(),
    };
    let additional = o.get("_additional");
    let id = additional
        .and_then(|a| a.get("id"))
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let distance = additional
        .and_then(|a| a.get("distance"))
        .and_then(Value::as_f64);
    let vector = match additional.and_then(|a| a.get("vector")) {
        Some(v) if !v.is_null() => Some(vector(v, what)?),
        _ => None,
    };
    let score = match additional.and_then(|a| a.get("score")) {
        Some(v) if !v.is_null() => Some(score(v, what)?),
        _ => None,
    };
    Ok(Hit {
        id,
        key,
        metadata,
        distance,
        score,
        vector,
    })
}

/// A BM25 score: Weaviate sends a GraphQL String holding a float32 (Go's `%v`: `0.5753642`,
/// `1.5e-05`). It is read as an f32, so equal server scores stay equal here; a JSON number is
/// taken too. Anything else, or a non-finite value, is a decode error.
pub(crate) fn score(v: &Value, what: &str) -> Result<f64, WeaviateError> {
    let parsed = match v {
        Value::String(s) => s.trim().parse::<f32>().ok(),
        Value::Number(n) => n.as_f64().map(|f| f as f32),
        _ => None,
    };
    parsed
        .filter(|s| s.is_finite())
        .map(f64::from)
        .ok_or_else(|| {
            WeaviateError::decode(
                what,
                format!(
                    "a score that is not a finite number: {}",
                    truncate(&v.to_string())
                ),
            )
        })
}

fn metadata(text: Option<&str>, what: &str) -> Result<Metadata, WeaviateError> {
    let text =
        text.ok_or_else(|| WeaviateError::decode(what, format!("an object without {P_META}")))?;
    serde_json::from_str(text).map_err(|source| WeaviateError::Json {
        what: what.to_owned(),
        source,
    })
}

fn vector(v: &Value, what: &str) -> Result<Vec<f32>, WeaviateError> {
    let list = v
        .as_array()
        .ok_or_else(|| WeaviateError::decode(what, "an object without its vector"))?;
    list.iter()
        .map(|x| {
            x.as_f64()
                .map(|f| f as f32)
                .ok_or_else(|| WeaviateError::decode(what, "a non-numeric vector element"))
        })
        .collect()
}

/// The failures of a `POST /v1/batch/objects` answer (HTTP 200 even when objects failed, so
/// every per-object result is read), one message per failed object.
pub(crate) fn batch_failures(
    v: &Value,
    total: usize,
    what: &str,
) -> Result<Vec<String>, WeaviateError> {
    let items = v
        .as_array()
        .ok_or_else(|| WeaviateError::decode(what, "not an array"))?;
    if items.len() != total {
        return Err(WeaviateError::decode(
            what,
            format!("{} results for {total} objects", items.len()),
        ));
    }
    let mut failures = Vec::new();
    for item in items {
        let result = item.get("result");
        let status = result.and_then(|r| r.get("status")).and_then(Value::as_str);
        let errors: Vec<&str> = result
            .and_then(|r| r.get("errors"))
            .and_then(|e| e.get("error"))
            .and_then(Value::as_array)
            .map(|list| {
                list.iter()
                    .filter_map(|m| m.get("message")?.as_str())
                    .collect()
            })
            .unwrap_or_default();
        if !errors.is_empty() || status.is_some_and(|s| s != "SUCCESS") {
            failures.push(if errors.is_empty() {
                status.unwrap_or("FAILED").to_owned()
            } else {
                errors.join("; ")
            });
        }
    }
    Ok(failures)
}

/// `results` of a `DELETE /v1/batch/objects` answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Deleted {
    pub(crate) matches: u64,
    pub(crate) successful: u64,
    pub(crate) failed: u64,
}

impl Deleted {
    pub(crate) fn parse(v: &Value) -> Self {
        let results = v.get("results");
        let count = |k: &str| {
            results
                .and_then(|r| r.get(k))
                .and_then(Value::as_f64)
                .unwrap_or(0.0) as u64
        };
        Self {
            matches: count("matches"),
            successful: count("successful"),
            failed: count("failed"),
        }
    }
}

/// A catalogue entry as `GET /v1/objects/VtCatalog/{id}` returns it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Entry {
    pub(crate) namespace: String,
    pub(crate) class: String,
    pub(crate) config: NamespaceConfig,
}

impl Entry {
    /// Parses an entry, which must be `namespace`'s.
    pub(crate) fn parse(v: &Value, namespace: &str) -> Result<Self, WeaviateError> {
        let damaged = |message: &str| WeaviateError::Catalog {
            namespace: namespace.to_owned(),
            message: message.to_owned(),
        };
        let props = v
            .get("properties")
            .ok_or_else(|| damaged("no properties"))?;
        let text = |p: &str| props.get(p).and_then(Value::as_str);
        let entry = Self {
            namespace: text(P_NAMESPACE)
                .ok_or_else(|| damaged("no name"))?
                .to_owned(),
            class: text(P_CLASS).ok_or_else(|| damaged("no class"))?.to_owned(),
            config: text(P_CONFIG)
                .and_then(|c| serde_json::from_str(c).ok())
                .ok_or_else(|| damaged("no readable config"))?,
        };
        if entry.namespace == namespace {
            Ok(entry)
        } else {
            Err(damaged("it names another namespace"))
        }
    }
}

/// The namespace names of a page of catalogue objects (`GET /v1/objects?class=VtCatalog`), and
/// the id of the last one.
pub(crate) fn entry_names(
    v: &Value,
    what: &str,
) -> Result<(Vec<String>, Option<String>), WeaviateError> {
    let objects = v
        .get("objects")
        .and_then(Value::as_array)
        .ok_or_else(|| WeaviateError::decode(what, "no object list"))?;
    let names = objects
        .iter()
        .filter_map(|o| o.get("properties")?.get(P_NAMESPACE)?.as_str())
        .map(str::to_owned)
        .collect();
    let last = objects
        .last()
        .and_then(|o| o.get("id")?.as_str())
        .map(str::to_owned);
    Ok((names, last))
}

/// `major.minor` of a version string (`1.25.0`, `1.40.0-dev`).
pub(crate) fn version(v: &str) -> Option<(u64, u64)> {
    let mut parts = v.split(['.', '-']);
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next()?.parse().ok()?;
    Some((major, minor))
}

/// The human part of an error body: the messages of an `ErrorResponse`
/// (`{"error":[{"message":...}]}`), a go-openapi error (`{"code":..,"message":..}`), a 1.38+
/// structured error (`{"errorCode":..,"message":..}`), or the raw text; "(empty body)" for 401,
/// 404 and 503, which have none.
pub(crate) fn server_message(body: &str) -> String {
    let body = body.trim();
    if body.is_empty() {
        return "(empty body)".to_owned();
    }
    let Ok(v) = serde_json::from_str::<Value>(body) else {
        return truncate(body);
    };
    if let Some(list) = v.get("error").and_then(|e| e.as_array()) {
        let msgs: Vec<&str> = list
            .iter()
            .filter_map(|m| m.get("message")?.as_str())
            .collect();
        if !msgs.is_empty() {
            return truncate(&msgs.join("; "));
        }
    }
    if let Some(m) = v.get("message").and_then(|m| m.as_str()) {
        return truncate(m);
    }
    truncate(body)
}

/// The `errorCode` of a 1.38+ structured error body.
pub(crate) fn server_error_code(body: &str) -> Option<String> {
    serde_json::from_str::<Value>(body)
        .ok()?
        .get("errorCode")?
        .as_str()
        .map(str::to_owned)
}

pub(crate) fn truncate(s: &str) -> String {
    if s.len() <= MAX_MESSAGE {
        return s.to_owned();
    }
    let mut end = MAX_MESSAGE;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parses_every_error_shape() {
        assert_eq!(
            server_message(r#"{"error":[{"message":"class name Foo already exists"}]}"#),
            "class name Foo already exists"
        );
        assert_eq!(
            server_message(r#"{"code":601,"message":"id in path must be of type uuid"}"#),
            "id in path must be of type uuid"
        );
        let limit = r#"{"errorCode":"USAGE_LIMIT_EXCEEDED","limit":"objects","value":5,"message":"limit reached"}"#;
        assert_eq!(server_message(limit), "limit reached");
        assert_eq!(
            server_error_code(limit).as_deref(),
            Some("USAGE_LIMIT_EXCEEDED")
        );
        assert_eq!(server_message(""), "(empty body)");
        assert_eq!(server_message("gateway timeout"), "gateway timeout");
        assert!(server_message(&"x".repeat(2000)).len() < 600);
    }

    #[test]
    fn versions() {
        assert_eq!(version("1.25.0"), Some((1, 25)));
        assert_eq!(version("1.40.0-dev"), Some((1, 40)));
        assert_eq!(version("1.9"), Some((1, 9)));
        assert_eq!(version("garbage"), None);
    }

    #[test]
    fn batch_results_are_read_one_by_one() {
        let v = json!([
            {"result": {"status": "SUCCESS"}},
            {"result": {"status": "FAILED", "errors": {"error": [{"message": "no"}]}}},
        ]);
        assert_eq!(batch_failures(&v, 2, "batch").unwrap(), ["no"]);
        assert!(batch_failures(&v, 3, "batch").is_err());
    }

    #[test]
    fn catalogue_entries_must_be_the_namespaces() {
        let v = json!({"properties": {"vt_ns": "a", "vt_class": "Vt_61_00", "vt_config": serde_json::to_string(&NamespaceConfig::new(2)).unwrap()}});
        let e = Entry::parse(&v, "a").unwrap();
        assert_eq!((e.class.as_str(), e.config.dimension), ("Vt_61_00", 2));
        assert!(Entry::parse(&v, "b").is_err());
        assert!(Entry::parse(&json!({"properties": {}}), "a").is_err());
    }
}
