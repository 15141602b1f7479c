//! Property tests of the reply parsers (issue 12): whatever tree of `redis::Value`s a server
//! (or a corrupted connection) hands over, every parser returns a typed error or the parse a
//! small model of the reply grammar predicts, and never panics; and replies generated the way
//! the server writes them (RESP2 bytes, parsed by redis-rs itself) round-trip exactly.

use std::collections::HashMap;

use proptest::prelude::*;
use redis::Value;
use serde_json::json;
use vector_backend::Metadata;

use super::*;
use crate::search::decode_hit;

// ---------------------------------------------------------------------------------------
// Generators.

/// Strings that are sometimes the names the parsers look for.
fn name() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => prop::sample::select(vec!["k", "m", "v", "__score", "__vtier_distance", "name", "ver"])
            .prop_map(str::to_owned),
        1 => "[a-z_]{0,6}",
        1 => any::<String>(),
    ]
}

fn bytes() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        name().prop_map(String::into_bytes),
        prop::collection::vec(any::<u8>(), 0..24),
        Just(b"{}".to_vec()),
        Just(b"{\"a\":1}".to_vec()),
        any::<f64>().prop_map(|f| f.to_string().into_bytes()),
        any::<i64>().prop_map(|i| i.to_string().into_bytes()),
    ]
}

/// Leaves of every kind the parsers can meet (server errors are classified before parsing).
fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Nil),
        Just(Value::Okay),
        any::<i64>().prop_map(Value::Int),
        prop_oneof![Just(0i64), Just(1), Just(-1), Just(21005)].prop_map(Value::Int),
        bytes().prop_map(Value::BulkString),
        name().prop_map(Value::SimpleString),
        any::<f64>().prop_map(Value::Double),
        any::<bool>().prop_map(Value::Boolean),
        prop::collection::vec(any::<u8>(), 0..8).prop_map(Value::BigNumber),
    ]
}

/// Any tree of values.
fn tree() -> impl Strategy<Value = Value> {
    leaf().prop_recursive(4, 48, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..8).prop_map(Value::Array),
            prop::collection::vec((inner.clone(), inner.clone()), 0..4).prop_map(Value::Map),
            prop::collection::vec(inner, 0..4).prop_map(Value::Set),
        ]
    })
}

/// Usually `good`, sometimes any value: trees close to a valid reply, so the deep branches of
/// the parsers are reached too.
fn mostly(good: impl Strategy<Value = Value> + 'static) -> BoxedStrategy<Value> {
    prop_oneof![8 => good, 1 => tree()].boxed()
}

/// A field list as the server writes it (RESP2 pairs, RESP3 map), perhaps damaged.
fn field_list() -> BoxedStrategy<Value> {
    let pair = (
        mostly(name().prop_map(|n| Value::BulkString(n.into_bytes()))),
        mostly(prop_oneof![
            bytes().prop_map(Value::BulkString),
            Just(Value::Nil),
        ]),
    );
    prop::collection::vec(pair, 0..5)
        .prop_flat_map(|pairs| {
            let flat: Vec<Value> = pairs
                .iter()
                .flat_map(|(a, b)| [a.clone(), b.clone()])
                .collect();
            prop_oneof![Just(Value::Array(flat)), Just(Value::Map(pairs))]
        })
        .boxed()
}

/// An `FT.SEARCH` reply (with or without ids and scores), perhaps damaged.
fn search_like() -> BoxedStrategy<Value> {
    let total = mostly(any::<i64>().prop_map(Value::Int));
    let score = mostly(prop_oneof![
        any::<f64>().prop_map(|f| Value::BulkString(f.to_string().into_bytes())),
        Just(Value::BulkString(b"1.25".to_vec())),
        any::<f64>().prop_map(Value::Double),
    ]);
    let doc = (
        mostly(bytes().prop_map(Value::BulkString)),
        score,
        prop_oneof![4 => field_list(), 1 => Just(Value::Nil)],
    );
    (
        total,
        prop::collection::vec(doc, 0..4),
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(|(total, docs, with_ids, with_scores, odd)| {
            let mut items = vec![total];
            for (id, score, fields) in docs {
                if with_ids {
                    items.push(id);
                }
                if with_scores {
                    items.push(score);
                }
                items.push(fields);
            }
            if odd {
                items.push(Value::Int(1));
            }
            Value::Array(items)
        })
        .boxed()
}

// ---------------------------------------------------------------------------------------
// The model: the reply grammar, written out case by case.

fn model_text(v: &Value) -> Option<Vec<u8>> {
    match v {
        Value::BulkString(b) => Some(b.clone()),
        Value::SimpleString(s) => Some(s.clone().into_bytes()),
        _ => None,
    }
}

fn model_fields(v: &Value) -> Option<Fields> {
    let pairs: Vec<(&Value, &Value)> = match v {
        Value::Array(a) if a.len() % 2 == 0 => a.chunks(2).map(|c| (&c[0], &c[1])).collect(),
        Value::Map(m) => m.iter().map(|(a, b)| (a, b)).collect(),
        _ => return None,
    };
    let mut out = HashMap::new();
    for (n, x) in pairs {
        let n = String::from_utf8(model_text(n)?).ok()?;
        let x = match x {
            Value::Nil => continue,
            Value::Int(i) => format!("{i}").into_bytes(),
            Value::Double(d) => format!("{d}").into_bytes(),
            other => model_text(other)?,
        };
        out.insert(n, x);
    }
    Some(out)
}

fn model_search(v: &Value) -> Option<Vec<Fields>> {
    let Value::Array(items) = v else { return None };
    let (Value::Int(_), rest) = items.split_first()? else {
        return None;
    };
    if rest.len() % 2 == 1 {
        return None;
    }
    rest.chunks(2)
        .map(|c| {
            model_text(&c[0])?;
            if c[1] == Value::Nil {
                Some(Fields::new())
            } else {
                model_fields(&c[1])
            }
        })
        .collect()
}

fn model_number(v: &Value) -> Option<f64> {
    let n = match v {
        Value::Double(d) => *d,
        other => std::str::from_utf8(&model_text(other)?)
            .ok()?
            .trim()
            .parse()
            .ok()?,
    };
    n.is_finite().then_some(n)
}

/// Scores as bits, so that equal parses compare equal.
type Scored = Vec<(u64, Fields)>;

fn model_scored(v: &Value) -> Option<Scored> {
    let Value::Array(items) = v else { return None };
    let (Value::Int(_), rest) = items.split_first()? else {
        return None;
    };
    if rest.len() % 3 != 0 {
        return None;
    }
    rest.chunks(3)
        .map(|c| {
            model_text(&c[0])?;
            let score = model_number(&c[1])?;
            let fields = if c[2] == Value::Nil {
                Fields::new()
            } else {
                model_fields(&c[2])?
            };
            Some((score.to_bits(), fields))
        })
        .collect()
}

fn model_ids(v: &Value) -> Option<Vec<Vec<u8>>> {
    let Value::Array(items) = v else { return None };
    let (Value::Int(_), rest) = items.split_first()? else {
        return None;
    };
    rest.iter().map(model_text).collect()
}

/// The parser's error is one of ours (a `Backend` error for callers), with a short message.
fn typed<T: std::fmt::Debug>(r: &RResult<T>) -> Result<(), TestCaseError> {
    if let Err(e) = r {
        prop_assert!(
            matches!(e, RedisError::Reply { .. } | RedisError::Corrupt { .. }),
            "{e:?}"
        );
        let message = e.to_string();
        prop_assert!(
            message.len() < 1000,
            "error messages stay short: {}",
            message
        );
    }
    Ok(())
}

fn check_all(v: &Value) -> Result<(), TestCaseError> {
    let docs = search_documents(v);
    typed(&docs)?;
    prop_assert_eq!(docs.ok(), model_search(v), "FT.SEARCH {:?}", v);
    let scored = search_scored_documents(v);
    typed(&scored)?;
    let scored = scored.ok().map(|d| {
        d.into_iter()
            .map(|(s, f)| (s.to_bits(), f))
            .collect::<Scored>()
    });
    prop_assert_eq!(scored, model_scored(v), "FT.SEARCH WITHSCORES {:?}", v);
    let ids = search_ids(v);
    typed(&ids)?;
    prop_assert_eq!(ids.ok(), model_ids(v));
    let total = search_total(v);
    typed(&total)?;
    if let Ok(n) = total {
        let Value::Array(items) = v else {
            return Err(TestCaseError::fail("a total from a non-array"));
        };
        prop_assert_eq!(
            Some(n as i64),
            items.first().and_then(int).map(|i| i.max(0))
        );
    }
    let hm = stored("key", v);
    typed(&hm)?;
    if let Ok(Some(s)) = &hm {
        let Value::Array(items) = v else {
            return Err(TestCaseError::fail("a record from a non-array"));
        };
        prop_assert_eq!(items.len(), 2);
        prop_assert_eq!(
            s.embedding.len() * 4,
            bulk(&items[0]).unwrap_or_default().len()
        );
    }
    if let Ok(None) = &hm {
        prop_assert_eq!(v, &Value::Array(vec![Value::Nil, Value::Nil]));
    }
    typed(&current(v))?;
    typed(&created(v))?;
    let _ = search_module_version(v);
    for (score, row) in model_scored(v).unwrap_or_default() {
        for include in [false, true] {
            let hit = decode_hit(&row, Some(f64::from_bits(score)), include);
            if let Ok(None) = hit {
                prop_assert!(!row.contains_key("k") || !row.contains_key("m"));
            }
            if let Ok(Some(h)) = hit {
                prop_assert_eq!(h.key.as_bytes(), row["k"].as_slice());
                prop_assert_eq!(h.embedding.is_some(), include);
            }
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Valid replies, written as RESP2 bytes the way the server writes them.

fn resp_bulk(out: &mut Vec<u8>, b: &[u8]) {
    out.extend_from_slice(format!("${}\r\n", b.len()).as_bytes());
    out.extend_from_slice(b);
    out.extend_from_slice(b"\r\n");
}

fn resp_array_len(out: &mut Vec<u8>, n: usize) {
    out.extend_from_slice(format!("*{n}\r\n").as_bytes());
}

/// One stored record as a search returns it.
#[derive(Clone, Debug)]
struct Doc {
    key: String,
    metadata: Metadata,
    embedding: Vec<f32>,
    score: f64,
}

fn doc() -> impl Strategy<Value = Doc> {
    let meta = prop::collection::btree_map(
        any::<String>(),
        prop_oneof![
            any::<String>().prop_map(serde_json::Value::from),
            any::<i64>().prop_map(serde_json::Value::from),
            any::<bool>().prop_map(serde_json::Value::from),
            prop::collection::vec(any::<String>(), 0..3).prop_map(|v| json!(v)),
            Just(serde_json::Value::Null),
        ],
        0..4,
    );
    (
        "[^\u{0}]{1,20}",
        meta,
        prop::collection::vec(any::<f32>(), 0..10),
        any::<f64>().prop_filter("a finite score", |f| f.is_finite()),
    )
        .prop_map(|(key, meta, embedding, score)| Doc {
            key,
            metadata: meta.into_iter().collect(),
            embedding,
            score,
        })
}

fn blob(e: &[f32]) -> Vec<u8> {
    crate::schema::blob(e)
}

/// `[total, id, score, [k, key, m, json(, v, blob)], ...]`, the fields rotated by `rotate`.
fn scored_search_bytes(docs: &[Doc], include: bool, rotate: usize) -> Vec<u8> {
    let mut out = Vec::new();
    resp_array_len(&mut out, 3 * docs.len() + 1);
    out.extend_from_slice(format!(":{}\r\n", docs.len()).as_bytes());
    for d in docs {
        resp_bulk(&mut out, format!("vtier:rec:ns:3:{}", d.key).as_bytes());
        resp_bulk(&mut out, format!("{}", d.score).as_bytes());
        let mut fields: Vec<(&[u8], Vec<u8>)> = vec![
            (b"k", d.key.clone().into_bytes()),
            (b"m", serde_json::to_vec(&d.metadata).unwrap()),
        ];
        if include {
            fields.push((b"v", blob(&d.embedding)));
        }
        let n = fields.len();
        fields.rotate_left(rotate % n);
        resp_array_len(&mut out, 2 * n);
        for (name, value) in fields {
            resp_bulk(&mut out, name);
            resp_bulk(&mut out, &value);
        }
    }
    out
}

/// `[total, id, [k, key, m, json, __vtier_distance, d(, v, blob)], ...]`.
fn search_bytes(docs: &[Doc], include: bool) -> Vec<u8> {
    let mut out = Vec::new();
    resp_array_len(&mut out, 2 * docs.len() + 1);
    out.extend_from_slice(format!(":{}\r\n", docs.len() + 7).as_bytes());
    for d in docs {
        resp_bulk(&mut out, format!("vtier:rec:ns:3:{}", d.key).as_bytes());
        resp_array_len(&mut out, if include { 8 } else { 6 });
        resp_bulk(&mut out, b"k");
        resp_bulk(&mut out, d.key.as_bytes());
        resp_bulk(&mut out, b"m");
        resp_bulk(&mut out, &serde_json::to_vec(&d.metadata).unwrap());
        resp_bulk(&mut out, b"__vtier_distance");
        resp_bulk(&mut out, format!("{}", d.score).as_bytes());
        if include {
            resp_bulk(&mut out, b"v");
            resp_bulk(&mut out, &blob(&d.embedding));
        }
    }
    out
}

fn parse(bytes: &[u8]) -> Value {
    redis::parse_redis_value(bytes).expect("valid RESP")
}

fn same_hit(h: &crate::search::Hit, d: &Doc, include: bool) -> Result<(), TestCaseError> {
    prop_assert_eq!(&h.key, &d.key);
    prop_assert_eq!(h.native.to_bits(), d.score.to_bits());
    prop_assert_eq!(&h.metadata, &d.metadata);
    let bits = |e: &[f32]| e.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
    if include {
        prop_assert_eq!(h.embedding.as_deref().map(bits), Some(bits(&d.embedding)));
    } else {
        prop_assert!(h.embedding.is_none());
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    #[test]
    fn arbitrary_trees_give_a_typed_error_or_the_model_parse(v in tree()) {
        check_all(&v)?;
    }

    #[test]
    fn damaged_search_replies_give_a_typed_error_or_the_model_parse(v in search_like()) {
        check_all(&v)?;
    }

    #[test]
    fn arbitrary_bytes_parsed_by_redis_rs_never_break_the_parsers(
        raw in prop::collection::vec(
            prop_oneof![
                Just(b"*2\r\n".to_vec()), Just(b":3\r\n".to_vec()), Just(b"$1\r\nk\r\n".to_vec()),
                Just(b"$-1\r\n".to_vec()), Just(b"%1\r\n".to_vec()), Just(b",1.5\r\n".to_vec()),
                Just(b"+m\r\n".to_vec()), prop::collection::vec(any::<u8>(), 0..6),
            ],
            0..12,
        )
    ) {
        if let Ok(v) = redis::parse_redis_value(&raw.concat()) {
            check_all(&v)?;
        }
    }

    #[test]
    fn scored_search_replies_round_trip(
        docs in prop::collection::vec(doc(), 0..6),
        include in any::<bool>(),
        rotate in 0usize..4,
    ) {
        let v = parse(&scored_search_bytes(&docs, include, rotate));
        let found = search_scored_documents(&v).unwrap();
        prop_assert_eq!(found.len(), docs.len());
        for ((score, doc), d) in found.iter().zip(&docs) {
            let hit = decode_hit(doc, Some(*score), include).unwrap().unwrap();
            same_hit(&hit, d, include)?;
        }
    }

    #[test]
    fn search_replies_round_trip(
        docs in prop::collection::vec(doc(), 0..6),
        include in any::<bool>(),
    ) {
        let v = parse(&search_bytes(&docs, include));
        prop_assert_eq!(search_total(&v).unwrap(), docs.len() as u64 + 7);
        let found = search_documents(&v).unwrap();
        prop_assert_eq!(found.len(), docs.len());
        for (doc, d) in found.iter().zip(&docs) {
            let distance = doc.get("__vtier_distance").map(|d| Value::BulkString(d.clone()));
            let hit = decode_hit(doc, distance.as_ref().and_then(number), include)
                .unwrap()
                .unwrap();
            same_hit(&hit, d, include)?;
        }
    }

    #[test]
    fn hmget_replies_round_trip(d in doc(), absent in any::<bool>()) {
        let mut out = Vec::new();
        resp_array_len(&mut out, 2);
        if absent {
            out.extend_from_slice(b"$-1\r\n$-1\r\n");
        } else {
            resp_bulk(&mut out, &blob(&d.embedding));
            resp_bulk(&mut out, &serde_json::to_vec(&d.metadata).unwrap());
        }
        let got = stored(&d.key, &parse(&out)).unwrap();
        if absent {
            prop_assert!(got.is_none());
        } else {
            let got = got.unwrap();
            prop_assert_eq!(got.metadata, d.metadata);
            let bits = |e: &[f32]| e.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            prop_assert_eq!(bits(&got.embedding), bits(&d.embedding));
        }
    }

    #[test]
    fn field_lists_round_trip(
        fields in prop::collection::hash_map(any::<String>(), prop::collection::vec(any::<u8>(), 0..16), 0..6),
    ) {
        let mut out = Vec::new();
        resp_array_len(&mut out, 3);
        out.extend_from_slice(b":1\r\n");
        resp_bulk(&mut out, b"id");
        resp_array_len(&mut out, 2 * fields.len());
        for (n, v) in &fields {
            resp_bulk(&mut out, n.as_bytes());
            resp_bulk(&mut out, v);
        }
        let docs = search_documents(&parse(&out)).unwrap();
        prop_assert_eq!(&docs[0], &fields);
    }
}

#[test]
fn damaged_records_are_errors() {
    let s = |x: &[u8]| Value::BulkString(x.to_vec());
    // Half a record, a blob of a length no embedding has, metadata that is not JSON.
    for bad in [
        Value::Array(vec![Value::Nil, s(b"{}")]),
        Value::Array(vec![s(b"abc"), s(b"{}")]),
        Value::Array(vec![s(b"abcd"), s(b"{")]),
        Value::Array(vec![Value::Int(1), s(b"{}")]),
        Value::Array(vec![s(b"abcd")]),
    ] {
        let e = stored("k", &bad).unwrap_err();
        assert!(matches!(
            e,
            RedisError::Reply { .. } | RedisError::Corrupt { .. }
        ));
    }
    // A document with key and metadata but no score, or without the embedding asked for.
    let mut row = Fields::new();
    row.insert("k".into(), b"a".to_vec());
    row.insert("m".into(), b"{}".to_vec());
    assert!(decode_hit(&row, None, false).is_err());
    assert!(decode_hit(&row, Some(1.5), true).is_err(), "no embedding");
    assert_eq!(
        decode_hit(&row, Some(1.5), false).unwrap().unwrap().native,
        1.5
    );
    // Scores must be finite numbers.
    for bad in [
        s(b"x"),
        s(b"nan"),
        s(b"inf"),
        Value::Nil,
        Value::Double(f64::NAN),
    ] {
        let reply = Value::Array(vec![Value::Int(1), s(b"id"), bad, Value::Array(vec![])]);
        assert!(search_scored_documents(&reply).is_err());
    }
    // A huge reply's error message is cut.
    let huge = Value::Array(vec![s(&[b'x'; 100_000])]);
    assert!(search_documents(&huge).unwrap_err().to_string().len() < 1000);
}
