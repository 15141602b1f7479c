//! Parsing server replies: script results, `HMGET` records, `FT.SEARCH` documents (with and
//! without scores) and counts, `MODULE LIST`. Every function checks the shape it expects and says
//! what it got otherwise (a `Backend` error naming the command); none panics, whatever the
//! reply (property tests in `reply_props.rs`).

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
        other => Err(RedisError::reply(command, shape(other))),
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
            let config = bulk(config).ok_or_else(|| RedisError::reply(WHAT, shape(v)))?;
            Ok(Some((config.to_vec(), generation(WHAT, g)?)))
        }
        _ => Err(RedisError::reply(WHAT, shape(v))),
    }
}

/// The create script's `{config, gen, created}`.
pub(crate) fn created(v: &Value) -> RResult<(Vec<u8>, u64, bool)> {
    const WHAT: &str = "the namespace create script";
    match array(WHAT, v)? {
        [config, g, created] => Ok((
            bulk(config)
                .ok_or_else(|| RedisError::reply(WHAT, shape(v)))?
                .to_vec(),
            generation(WHAT, g)?,
            int(created) == Some(1),
        )),
        _ => Err(RedisError::reply(WHAT, shape(v))),
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

/// A reply to `HMGET hk v m`: the stored vector, or `None` when the hash is absent (both
/// fields nil). A hash holding only one of them was not written by this crate.
pub(crate) fn stored(key: &str, v: &Value) -> RResult<Option<StoredVector>> {
    match array("HMGET", v)? {
        [Value::Nil, Value::Nil] => Ok(None),
        [e, m] => match (bulk(e), bulk(m)) {
            (Some(e), Some(m)) => Ok(Some(StoredVector {
                embedding: decode_embedding(key, e)?,
                metadata: decode_metadata(key, m)?,
            })),
            _ => Err(RedisError::reply("HMGET", shape(v))),
        },
        _ => Err(RedisError::reply("HMGET", shape(v))),
    }
}

/// A reply's `Debug` form cut to a few hundred bytes, for error messages (a search reply can
/// hold megabytes of embeddings).
fn shape(v: &Value) -> String {
    const MAX: usize = 300;
    let mut s = format!("{v:?}");
    if s.len() > MAX {
        let mut end = MAX;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
        s.push_str("...");
    }
    s
}

/// The total of an `FT.SEARCH` reply (the count of matches, whatever `LIMIT` returned).
pub(crate) fn search_total(v: &Value) -> RResult<u64> {
    array("FT.SEARCH", v)?
        .first()
        .and_then(int)
        .map(|n| n.max(0) as u64)
        .ok_or_else(|| RedisError::reply("FT.SEARCH", shape(v)))
}

/// The first element of a search reply must be its count; the rest follows.
fn after_total<'a>(command: &'static str, v: &'a Value) -> RResult<&'a [Value]> {
    match array(command, v)? {
        [Value::Int(_), rest @ ..] => Ok(rest),
        _ => Err(RedisError::reply(command, shape(v))),
    }
}

/// The document ids (hash keys) of an `FT.SEARCH ... NOCONTENT` reply.
pub(crate) fn search_ids(v: &Value) -> RResult<Vec<Vec<u8>>> {
    after_total("FT.SEARCH", v)?
        .iter()
        .map(|id| {
            bulk(id)
                .map(<[u8]>::to_vec)
                .ok_or_else(|| RedisError::reply("FT.SEARCH", shape(v)))
        })
        .collect()
}

/// The fields of one search document, by name.
pub(crate) type Fields = HashMap<String, Vec<u8>>;

/// A field list: `[name, value, ...]` (RESP2) or a map (RESP3). Names are strings; a nil
/// value is a field the record lacks (left out); numbers are kept as their decimal text, as
/// RESP2 would send them.
fn fields(command: &'static str, v: &Value) -> RResult<Fields> {
    let bad = || RedisError::reply(command, shape(v));
    let pairs: Vec<(&Value, &Value)> = match v {
        Value::Array(items) if items.len() % 2 == 0 => {
            items.chunks_exact(2).map(|c| (&c[0], &c[1])).collect()
        }
        Value::Map(pairs) => pairs.iter().map(|(k, v)| (k, v)).collect(),
        _ => return Err(bad()),
    };
    let mut out = HashMap::with_capacity(pairs.len());
    for (name, value) in pairs {
        let name = bulk_string(name).ok_or_else(bad)?;
        let value = match value {
            Value::Nil => continue,
            Value::Int(i) => i.to_string().into_bytes(),
            Value::Double(d) => d.to_string().into_bytes(),
            other => bulk(other).ok_or_else(bad)?.to_vec(),
        };
        out.insert(name, value);
    }
    Ok(out)
}

/// The documents of an `FT.SEARCH` reply with returned fields (`[total, id, fields, ...]`),
/// each as its fields by name. A document whose fields are nil (deleted between matching and
/// loading) has none.
pub(crate) fn search_documents(v: &Value) -> RResult<Vec<Fields>> {
    let rest = after_total("FT.SEARCH", v)?;
    if rest.len() % 2 != 0 {
        return Err(RedisError::reply("FT.SEARCH", shape(v)));
    }
    rest.chunks_exact(2)
        .map(|pair| {
            if bulk(&pair[0]).is_none() {
                return Err(RedisError::reply("FT.SEARCH", shape(v)));
            }
            match &pair[1] {
                Value::Nil => Ok(Fields::new()),
                f => fields("FT.SEARCH", f),
            }
        })
        .collect()
}

/// A score as a search reply carries it: decimal text (RESP2) or a double (RESP3).
pub(crate) fn number(v: &Value) -> Option<f64> {
    match v {
        Value::Double(d) => Some(*d),
        other => bulk(other)
            .and_then(|b| std::str::from_utf8(b).ok())
            .and_then(|s| s.trim().parse().ok()),
    }
}

/// The documents of an `FT.SEARCH ... WITHSCORES` reply with returned fields (`[total, id,
/// score, fields, ...]`): each document's score and fields.
pub(crate) fn search_scored_documents(v: &Value) -> RResult<Vec<(f64, Fields)>> {
    let rest = after_total("FT.SEARCH", v)?;
    if rest.len() % 3 != 0 {
        return Err(RedisError::reply("FT.SEARCH", shape(v)));
    }
    rest.chunks_exact(3)
        .map(|doc| {
            let (Some(_), Some(score)) = (bulk(&doc[0]), number(&doc[1]).filter(|s| s.is_finite()))
            else {
                return Err(RedisError::reply("FT.SEARCH", shape(v)));
            };
            let fields = match &doc[2] {
                Value::Nil => Fields::new(),
                f => fields("FT.SEARCH", f)?,
            };
            Ok((score, fields))
        })
        .collect()
}

/// The version of RediSearch a `MODULE LIST` reply shows (`major * 10000 + minor * 100 +
/// patch`, as the server reports it), or `None` when it has none.
pub(crate) fn search_module_version(modules: &Value) -> Option<i64> {
    let Value::Array(mods) = modules else {
        return None;
    };
    mods.iter().find_map(|m| {
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
        if matches!(name.as_deref(), Some("search" | "searchlight")) {
            ver
        } else {
            None
        }
    })
}

/// RediSearch 2.4: vector fields.
pub(crate) const VECTOR_SEARCH_VERSION: i64 = 20400;
/// RediSearch 2.10: the oldest version the keyword query was checked on (2.10.5: `SCORER
/// BM25STD` with b = 0.5, the #4673 work-around). Older servers get `text_search = false`.
pub(crate) const KEYWORD_SEARCH_VERSION: i64 = 21000;

/// Whether a `MODULE LIST` reply shows RediSearch 2.4 or newer (vector fields).
pub(crate) fn search_module_has_vectors(modules: &Value) -> bool {
    search_module_version(modules).is_some_and(|v| v >= VECTOR_SEARCH_VERSION)
}

#[cfg(test)]
#[path = "reply_props.rs"]
mod props;

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
