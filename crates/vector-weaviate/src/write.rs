//! Writes and deletes: upserts through `POST /v1/batch/objects` in chunks, deletes (by key, by
//! filter, all) through `DELETE /v1/batch/objects`; each ends with the incarnation check
//! ([`WeaviateDriver::settle`]).

use reqwest::Method;
use serde_json::{Map, Value, json};
use vector_backend::driver::{CheckedFilter, NamespaceState as _, WriteBatch};
use vector_backend::{FieldType, Record, Result, validate};

use crate::backend::WeaviateDriver;
use crate::catalog::WeaviateNamespace;
use crate::error::WeaviateError;
use crate::filter::{Where, translate};
use crate::reply::{batch_failures, truncate};
use crate::schema::{
    P_ABSENT, P_KEY, P_KEY_HEX, P_META, P_PRESENT, P_TEXT, field_property, hex, keyword_token,
    object_id,
};

/// Upper bound on one batch request's body, so 16000-dimensional vectors stay well inside
/// proxies' and the server's request limits.
const MAX_BATCH_BYTES: usize = 8 * 1024 * 1024;
/// Keys per batch delete by key (an `Or` of `Equal`s).
const DELETE_CHUNK: usize = 100;

impl WeaviateDriver {
    /// Upserts the batch into `ns`'s class, then checks that `ns` is still current.
    pub(crate) async fn upsert(&self, ns: &WeaviateNamespace, batch: &WriteBatch) -> Result<()> {
        let outcome = self.post_records(ns, batch).await;
        self.settle(ns, outcome).await
    }

    /// Deletes the records with these keys; how many existed.
    pub(crate) async fn delete_keys(&self, ns: &WeaviateNamespace, keys: &[&str]) -> Result<u64> {
        let outcome = self.delete_by_keys(ns, keys).await;
        self.settle(ns, outcome).await
    }

    /// Deletes every record, keeping the class (and so the namespace and its config).
    pub(crate) async fn delete_all(&self, ns: &WeaviateNamespace) -> Result<u64> {
        let outcome = self.batch_delete(ns, &Where::every_record()).await;
        self.settle(ns, outcome).await
    }

    /// Deletes the records matching `filter`: one batch delete when the filter translates
    /// exactly; otherwise the matches are found (and re-checked) first, then deleted by key.
    pub(crate) async fn delete_where(
        &self,
        ns: &WeaviateNamespace,
        filter: &CheckedFilter<'_>,
    ) -> Result<u64> {
        let t = translate(filter, &ns.config().filterable);
        let outcome = if t.exact {
            let condition = t.condition.unwrap_or_else(Where::every_record);
            self.batch_delete(ns, &condition).await
        } else {
            match self
                .all_matching(ns, Some(filter.filter()), &t, false)
                .await
            {
                Ok(hits) => {
                    let keys: Vec<&str> = hits.iter().map(|h| h.key.as_str()).collect();
                    self.delete_by_keys(ns, &keys).await
                }
                Err(e) => Err(e),
            }
        };
        self.settle(ns, outcome).await
    }

    async fn delete_by_keys(&self, ns: &WeaviateNamespace, keys: &[&str]) -> Result<u64> {
        let mut deleted = 0;
        for chunk in keys.chunks(DELETE_CHUNK) {
            deleted += self.batch_delete(ns, &Where::any_key(chunk)).await?;
        }
        Ok(deleted)
    }

    /// `DELETE /v1/batch/objects` with `condition`, repeated until nothing matches (each call is
    /// capped at the server's `QUERY_MAXIMUM_RESULTS`). Returns how many were deleted.
    async fn batch_delete(&self, ns: &WeaviateNamespace, condition: &Where) -> Result<u64> {
        let mut deleted = 0u64;
        loop {
            let d = self.client.batch_delete(ns.class(), condition).await?;
            deleted += d.successful;
            if d.failed > 0 {
                return Err(WeaviateError::Batch {
                    failed: d.failed as usize,
                    total: d.matches as usize,
                    message: format!("batch delete left {} objects", d.failed),
                }
                .into());
            }
            if d.matches == 0 || d.successful == 0 {
                return Ok(deleted);
            }
        }
    }

    /// Posts the records in chunks of at most `batch_size` objects and [`MAX_BATCH_BYTES`].
    async fn post_records(&self, ns: &WeaviateNamespace, batch: &WriteBatch) -> Result<()> {
        let mut chunk = Vec::new();
        let mut bytes = 0usize;
        for r in batch.records() {
            let bag = batch.text_bag(r);
            let size = r.embedding.len() * 16
                + validate::serialized_len(&r.metadata) * 2
                + bag.as_ref().map_or(0, |b| b.len() * 2)
                + r.key.len() * 4
                + 512;
            if !chunk.is_empty()
                && (chunk.len() >= self.config.batch_size || bytes + size > MAX_BATCH_BYTES)
            {
                self.post_chunk(std::mem::take(&mut chunk)).await?;
                bytes = 0;
            }
            chunk.push(object(ns, r, bag));
            bytes += size;
        }
        if !chunk.is_empty() {
            self.post_chunk(chunk).await?;
        }
        Ok(())
    }

    async fn post_chunk(&self, objects: Vec<Value>) -> Result<(), WeaviateError> {
        let what = "POST /v1/batch/objects";
        let total = objects.len();
        let body = json!({ "objects": objects });
        let v = self
            .client
            .send(Method::POST, "/batch/objects", Some(&body))
            .await?
            .expect(what, &[200])?
            .json(what)?;
        let failures = batch_failures(&v, total, what)?;
        if failures.is_empty() {
            Ok(())
        } else {
            Err(WeaviateError::Batch {
                failed: failures.len(),
                total,
                message: truncate(&failures.join(" | ")),
            })
        }
    }
}

/// The object body for one record: key, key hex, metadata JSON, presence lists, the declared
/// fields in their encoded forms and, in namespaces with text fields, the text bag (see the
/// crate docs).
fn object(ns: &WeaviateNamespace, r: &Record, text_bag: Option<String>) -> Value {
    let mut props = Map::new();
    if let Some(bag) = text_bag {
        // Always set, even empty: Weaviate's map index then counts the record in `avgdl` with
        // length 0, as the contract does.
        props.insert(P_TEXT.into(), json!(bag));
    }
    props.insert(P_KEY.into(), json!(r.key));
    props.insert(P_KEY_HEX.into(), json!(hex(r.key.as_bytes())));
    props.insert(
        P_META.into(),
        json!(serde_json::to_string(&r.metadata).unwrap_or_default()),
    );
    let mut present = Vec::new();
    let mut absent = Vec::new();
    for (field, ty) in &ns.config().filterable {
        let prop = field_property(field);
        let Some(v) = r.metadata.get(field).filter(|v| !v.is_null()) else {
            absent.push(prop);
            continue;
        };
        present.push(prop.clone());
        match ty {
            FieldType::Keyword => {
                let tokens: Vec<String> = match v {
                    Value::String(s) => vec![keyword_token(s)],
                    Value::Array(a) => a
                        .iter()
                        .filter_map(Value::as_str)
                        .map(keyword_token)
                        .collect(),
                    _ => Vec::new(),
                };
                // An empty array stores nothing; presence is in vt_present.
                if !tokens.is_empty() {
                    props.insert(prop, json!(tokens));
                }
            }
            FieldType::Number => {
                let n = v.as_f64().unwrap_or(0.0);
                props.insert(prop, json!(if n == 0.0 { 0.0 } else { n }));
            }
            FieldType::Bool => {
                props.insert(prop, json!(v.as_bool().unwrap_or(false)));
            }
            FieldType::Text => {}
        }
    }
    // Empty lists are left out rather than sent as `[]`: the property is then null, which an
    // `Equal` never matches, exactly like an empty list.
    if !present.is_empty() {
        props.insert(P_PRESENT.into(), json!(present));
    }
    if !absent.is_empty() {
        props.insert(P_ABSENT.into(), json!(absent));
    }
    json!({
        "class": ns.class(),
        "id": object_id(ns.name(), &r.key).hyphenated().to_string(),
        "properties": props,
        "vector": r.embedding,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reply::Entry;
    use vector_backend::NamespaceConfig;

    #[test]
    fn objects_carry_presence_and_encoded_fields() {
        let config = NamespaceConfig::new(2)
            .with_field("color", FieldType::Keyword)
            .with_field("tags", FieldType::Keyword)
            .with_field("price", FieldType::Number)
            .with_field("ok", FieldType::Bool);
        let ns: WeaviateNamespace = Entry {
            namespace: "ns".into(),
            class: "Vt_6e73_00".into(),
            config,
        }
        .into();
        let meta = json!({"color": " red ", "tags": [], "price": -0.0, "note": {"x": 1}});
        let r = Record::new(
            "k 1",
            vec![0.5, -1.0],
            meta.as_object().cloned().unwrap_or_default(),
        );
        let o = object(&ns, &r, None);
        let p = &o["properties"];
        assert_eq!(o["class"], "Vt_6e73_00");
        assert_eq!(p[P_KEY], "k 1");
        assert_eq!(p[P_KEY_HEX], hex(b"k 1"));
        assert_eq!(
            serde_json::from_str::<Value>(p[P_META].as_str().unwrap_or("")).ok(),
            Some(meta)
        );
        assert_eq!(p[field_property("color")], json!([keyword_token(" red ")]));
        assert!(
            p.get(field_property("tags")).is_none(),
            "empty arrays are left out"
        );
        assert_eq!(p[field_property("price")], json!(0.0));
        let props =
            |names: &[&str]| json!(names.iter().map(|n| field_property(n)).collect::<Vec<_>>());
        assert_eq!(p[P_PRESENT], props(&["color", "price", "tags"]));
        assert_eq!(p[P_ABSENT], props(&["ok"]));
        assert_eq!(o["id"], object_id("ns", "k 1").hyphenated().to_string());
        assert_eq!(o["vector"], json!([0.5, -1.0]));
        assert!(p.get(P_TEXT).is_none(), "no text fields: no text bag");
        let o = object(&ns, &r, Some(String::new()));
        assert_eq!(o["properties"][P_TEXT], "", "an empty bag is still stored");
    }
}
