//! Parsing server replies: script results, `HMGET` records, `FT.SEARCH` documents and counts,
//! `MODULE LIST`. Every function checks the shape it expects and says what it got otherwise.

use std::collections::HashMap;

use redis::Value;
use vector_backend::{Metadata, StoredVector};

use crate::client::RResult;
use crate::error::RedisError;
use crate::schema::unblob;

/// The bytes of a string reply.
pub(crate) fn bulk(v: &Value) -> Option<&[u8]> {
    match v {
        Value::BulkString(b) => Some(b),
        Value::SimpleString(s) => Some(s.as_bytes()),
        _ => None,
    }
}

pub(crate) fn bulk_string(v: &Value) -> Option<String> {
    bulk(v).and_then(|b| String::from_utf8(b.to_vec()).ok())
}

pub(crate) fn int(v: &Value) -> Option<i64> {
    match v {
        Value::Int(i) => Some(*i),
        other => bulk_string(other).and_then(|s| s.parse().ok()),
    }
}

fn array<'a>(command: &'static str, v: &'a Value) -> RResult<&'a [Value]> {
    match v {
        Value::Array(items) => Ok(items),
        other => Err(RedisError::reply(command, format!("{other:?}"))),
    }
}

fn generation(command: &'static str, v: &Value) -> RResult<u64> {
    bulk_string(v)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| RedisError::reply(command, format!("generation {v:?}")))
}

/// The load script's `{config, gen}`: `None` when the namespace does not exist.
pub(crate) fn current(v: &Value) -> RResult<Option<(Vec<u8>, u64)>> {
    const WHAT: &str = "the namespace load script";
    match array(WHAT, v)? {
        [Value::Nil, ..] => Ok(None),
        [config, g] => {
            let config = bulk(config).ok_or_else(|| RedisError::reply(WHAT, format!("{v:?}")))?;
            Ok(Some((config.to_vec(), generation(WHAT, g)?)))
        }
        _ => Err(RedisError::reply(WHAT, format!("{v:?}"))),
    }
}

/// The create script's `{config, gen, created}`.
pub(crate) fn created(v: &Value) -> RResult<(Vec<u8>, u64, bool)> {
    const WHAT: &str = "the namespace create script";
    match array(WHAT, v)? {
        [config, g, created] => Ok((
            bulk(config)
                .ok_or_else(|| RedisError::reply(WHAT, format!("{v:?}")))?
                .to_vec(),
            generation(WHAT, g)?,
            int(created) == Some(1),
        )),
        _ => Err(RedisError::reply(WHAT, format!("{v:?}"))),
    }
}

pub(crate) fn decode_metadata(key: &str, raw: &[u8]) -> RResult<Metadata> {
    serde_json::from_slice(raw)
        .map_err(|e| RedisError::corrupt(format!("record {key:?}"), e.to_string()))
}

pub(crate) fn decode_embedding(key: &str, raw: &[u8]) -> RResult<Vec<f32>> {
    unblob(raw)
        .ok_or_else(|| RedisError::corrupt(format!("record {key:?}"), "embedding blob length"))
}

/// A reply to `HMGET hk v m`: the stored vector, or `None` when the hash is absent.
pub(crate) fn stored(key: &str, v: &Value) -> RResult<Option<StoredVector>> {
    match array("HMGET", v)? {
        [e, m] => match (bulk(e), bulk(m)) {
            (Some(e), Some(m)) => Ok(Some(StoredVector {
                embedding: decode_embedding(key, e)?,
                metadata: decode_metadata(key, m)?,
            })),
            _ => Ok(None),
        },
        _ => Err(RedisError::reply("HMGET", format!("{v:?}"))),
    }
}

/// The total of an `FT.SEARCH` reply (the count of matches, whatever `LIMIT` returned).
pub(crate) fn search_total(v: &Value) -> RResult<u64> {
    array("FT.SEARCH", v)?
        .first()
        .and_then(int)
        .map(|n| n.max(0) as u64)
        .ok_or_else(|| RedisError::reply("FT.SEARCH", format!("{v:?}")))
}

/// The document ids (hash keys) of an `FT.SEARCH ... NOCONTENT` reply.
pub(crate) fn search_ids(v: &Value) -> RResult<Vec<Vec<u8>>> {
    Ok(array("FT.SEARCH", v)?
        .iter()
        .skip(1)
        .filter_map(bulk)
        .map(<[u8]>::to_vec)
        .collect())
}

/// The documents of an `FT.SEARCH` reply with returned fields, each as its fields by name.
pub(crate) fn search_documents(v: &Value) -> RResult<Vec<HashMap<String, Vec<u8>>>> {
    let items = array("FT.SEARCH", v)?;
    let mut out = Vec::new();
    for pair in items.get(1..).unwrap_or_default().chunks(2) {
        let Some(Value::Array(fields)) = pair.get(1) else {
            continue;
        };
        let mut doc = HashMap::new();
        for f in fields.chunks(2) {
            if let (Some(name), Some(val)) =
                (f.first().and_then(bulk_string), f.get(1).and_then(bulk))
            {
                doc.insert(name, val.to_vec());
            }
        }
        out.push(doc);
    }
    Ok(out)
}

/// Whether a `MODULE LIST` reply shows RediSearch 2.4 or newer (vector fields).
pub(crate) fn search_module_has_vectors(modules: &Value) -> bool {
    let Value::Array(mods) = modules else {
        return false;
    };
    mods.iter().any(|m| {
        let fields: Vec<(String, &Value)> = match m {
            Value::Array(kv) => kv
                .chunks(2)
                .filter_map(|c| Some((bulk_string(c.first()?)?, c.get(1)?)))
                .collect(),
            Value::Map(kv) => kv
                .iter()
                .filter_map(|(k, v)| Some((bulk_string(k)?, v)))
                .collect(),
            _ => Vec::new(),
        };
        let name = fields
            .iter()
            .find(|(k, _)| k == "name")
            .and_then(|(_, v)| bulk_string(v));
        let ver = fields
            .iter()
            .find(|(k, _)| k == "ver")
            .and_then(|(_, v)| int(v));
        matches!(name.as_deref(), Some("search" | "searchlight")) && ver.is_some_and(|v| v >= 20400)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(x: &str) -> Value {
        Value::BulkString(x.as_bytes().to_vec())
    }

    #[test]
    fn script_replies() {
        assert_eq!(
            current(&Value::Array(vec![Value::Nil, Value::Nil])).unwrap(),
            None
        );
        assert_eq!(
            current(&Value::Array(vec![s("{}"), s("12")])).unwrap(),
            Some((b"{}".to_vec(), 12))
        );
        assert!(current(&Value::Array(vec![s("{}"), s("x")])).is_err());
        assert_eq!(
            created(&Value::Array(vec![s("{}"), s("3"), Value::Int(1)])).unwrap(),
            (b"{}".to_vec(), 3, true)
        );
        assert!(created(&Value::Int(1)).is_err());
    }

    #[test]
    fn search_replies() {
        let reply = Value::Array(vec![
            Value::Int(7),
            s("vtier:rec:a:1:x"),
            Value::Array(vec![s("k"), s("x"), s("m"), s("{}")]),
        ]);
        assert_eq!(search_total(&reply).unwrap(), 7);
        let docs = search_documents(&reply).unwrap();
        assert_eq!(docs.len(), 1);
        assert_eq!(docs[0]["k"], b"x");
        let ids = Value::Array(vec![Value::Int(2), s("a"), s("b")]);
        assert_eq!(
            search_ids(&ids).unwrap(),
            vec![b"a".to_vec(), b"b".to_vec()]
        );
        assert!(search_total(&Value::Nil).is_err());
    }

    #[test]
    fn module_list() {
        let m = |name: &str, ver: i64| {
            Value::Array(vec![Value::Array(vec![
                s("name"),
                s(name),
                s("ver"),
                Value::Int(ver),
            ])])
        };
        assert!(search_module_has_vectors(&m("search", 21005)));
        assert!(!search_module_has_vectors(&m("search", 20200)));
        assert!(!search_module_has_vectors(&m("ReJSON", 999_999)));
    }
}
