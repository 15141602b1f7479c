//! Property tests of the reply parsers (`reply.rs`): whatever JSON a server (or something
//! pretending to be one) sends, every parser returns a typed answer or a typed error and never
//! panics; where a generator can build the replies Weaviate sends, the parse gives back what
//! was put in.

use proptest::prelude::*;
use serde_json::{Map, Value, json};
use vector_backend::{FieldType, Metric, NamespaceConfig};

use crate::error::WeaviateError;
use crate::reply::{
    Deleted, Entry, Gql, Reply, batch_failures, entry_names, hits, score, server_error_code,
    server_message, truncate, version,
};
use crate::schema::{P_CLASS, P_CONFIG, P_KEY, P_META, P_NAMESPACE};

/// Keys the parsers look for, so arbitrary objects often have the right names with wrong
/// values (the interesting case), besides arbitrary keys.
const KEYS: &[&str] = &[
    P_KEY,
    P_META,
    "_additional",
    "id",
    "distance",
    "score",
    "vector",
    "result",
    "status",
    "errors",
    "error",
    "message",
    "results",
    "matches",
    "successful",
    "failed",
    "properties",
    P_NAMESPACE,
    P_CLASS,
    P_CONFIG,
    "objects",
    "data",
    "Get",
    "code",
    "errorCode",
];

/// Strings that are meaningful to some parser: JSON texts, numbers as text, non-finite names.
const STRINGS: &[&str] = &[
    "",
    "{}",
    "[]",
    "{\"a\":1}",
    "null",
    "0.5753642",
    "1e+06",
    "1.5e-05",
    "-0",
    "NaN",
    "+Inf",
    "inf",
    "3.5e38",
    "1.25.0",
    "1.40.0-dev",
    "SUCCESS",
    "FAILED",
    "é😀\u{0}",
];

fn arb_key() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => prop::sample::select(KEYS).prop_map(str::to_owned),
        1 => ".{0,8}",
    ]
}

fn arb_string() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(STRINGS).prop_map(str::to_owned),
        ".{0,24}",
    ]
}

/// Arbitrary JSON: every shape, nested, with the parsers' key names.
fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("JSON numbers are finite", |f| f.is_finite())
            .prop_map(Value::from),
        any::<f32>()
            .prop_filter("JSON numbers are finite", |f| f.is_finite())
            .prop_map(|f| Value::from(f64::from(f))),
        arb_string().prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 64, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec((arb_key(), inner), 0..6)
                .prop_map(|kv| Value::Object(kv.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

/// A typed error is one of the parser error kinds, never something else.
fn is_parse_error(e: &WeaviateError) -> bool {
    matches!(
        e,
        WeaviateError::Decode { .. } | WeaviateError::Json { .. } | WeaviateError::Catalog { .. }
    )
}

fn config() -> impl Strategy<Value = NamespaceConfig> {
    (
        1usize..4096,
        prop::sample::select(&Metric::ALL[..]),
        prop::collection::btree_map(
            ".{1,12}",
            prop::sample::select(
                &[
                    FieldType::Keyword,
                    FieldType::Number,
                    FieldType::Bool,
                    FieldType::Text,
                ][..],
            ),
            0..4,
        ),
    )
        .prop_map(|(dim, metric, fields)| {
            fields.into_iter().fold(
                NamespaceConfig::new(dim).with_metric(metric),
                |c, (f, t)| c.with_field(f, t),
            )
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    /// Any JSON into every value parser: an answer or a typed error, never a panic; and what
    /// an answer says agrees with the input.
    #[test]
    fn arbitrary_json_never_panics(v in arb_json(), total in 0usize..8, ns in ".{0,6}") {
        match hits(&v, "q") {
            Ok(list) => {
                let objects = v.as_array().expect("a list parsed from a non-array");
                prop_assert_eq!(list.len(), objects.len());
                for (h, o) in list.iter().zip(objects) {
                    prop_assert_eq!(Some(h.key.as_str()), o[P_KEY].as_str());
                    prop_assert!(h.score.is_none_or(f64::is_finite));
                    prop_assert!(h.distance.is_none_or(f64::is_finite));
                }
            }
            Err(e) => prop_assert!(is_parse_error(&e), "{e:?}"),
        }
        match score(&v, "q") {
            Ok(s) => {
                prop_assert!(s.is_finite());
                // Exactly an f32: equal server scores stay equal.
                prop_assert_eq!(f64::from(s as f32), s);
            }
            Err(e) => prop_assert!(is_parse_error(&e)),
        }
        match batch_failures(&v, total, "b") {
            Ok(f) => {
                prop_assert_eq!(v.as_array().map(Vec::len), Some(total));
                prop_assert!(f.len() <= total);
            }
            Err(e) => prop_assert!(is_parse_error(&e)),
        }
        let _ = Deleted::parse(&v);
        match Entry::parse(&v, &ns) {
            Ok(e) => prop_assert_eq!(e.namespace, ns),
            Err(e) => prop_assert!(is_parse_error(&e)),
        }
        match entry_names(&v, "l") {
            Ok((names, last)) => {
                let objects = v["objects"].as_array().expect("names from a non-list");
                prop_assert!(names.len() <= objects.len());
                prop_assert_eq!(last.is_some(), objects.last().is_some_and(|o| o["id"].is_string()));
            }
            Err(e) => prop_assert!(is_parse_error(&e)),
        }
        // The same JSON as a whole reply body.
        let body = v.to_string();
        for status in [200u16, 422, 500] {
            let reply = Reply { status, body: body.clone() };
            match Gql::parse(reply, "g") {
                Ok(Gql::Data(d)) => prop_assert!(!d.is_null() && status == 200),
                Ok(Gql::Errors(m)) => prop_assert!(!m.is_empty()),
                Err(e) => prop_assert!(
                    is_parse_error(&e) || matches!(e, WeaviateError::Status { .. }),
                    "{e:?}"
                ),
            }
        }
        let _ = server_message(&body);
        let _ = server_error_code(&body);
    }

    /// Arbitrary text bodies (not JSON at all, cut JSON, huge): typed answers, bounded messages.
    #[test]
    fn arbitrary_bodies_never_panic(body in ".{0,700}", status in 100u16..600, cut in 0usize..64) {
        for text in [body.clone(), json!({"data": {"Get": body}}).to_string().chars().take(cut).collect()] {
            let reply = Reply { status, body: text.clone() };
            let _ = reply.json("r");
            let _ = Gql::parse(Reply { status, body: text.clone() }, "g");
            let m = server_message(&text);
            prop_assert!(m.len() <= 500 + '…'.len_utf8());
            prop_assert!(!m.is_empty());
            let _ = server_error_code(&text);
            let _ = version(&text);
        }
    }

    /// `truncate` keeps a prefix on a character boundary, within the bound.
    #[test]
    fn truncation_is_a_bounded_prefix(s in ".{0,800}") {
        let t = truncate(&s);
        let kept = t.strip_suffix('…').unwrap_or(&t);
        prop_assert!(s.starts_with(kept));
        prop_assert!(kept.len() <= 500);
        prop_assert_eq!(t == s, s.len() <= 500);
    }

    /// Objects as a GraphQL `Get` returns them parse back to what they held: key, metadata,
    /// id, distance, score (a String holding a float32, in both of Go's `%v` forms) and vector.
    #[test]
    fn hits_round_trip(
        objects in prop::collection::vec(
            (
                ".{1,16}",
                prop::collection::btree_map("[a-z]{1,6}", arb_string(), 0..4),
                any::<u128>(),
                prop::option::of(any::<f32>().prop_filter("finite", |f| f.is_finite())),
                prop::option::of(any::<f32>().prop_filter("finite", |f| f.is_finite())),
                any::<bool>(),
                prop::option::of(prop::collection::vec(any::<f32>().prop_filter("finite", |f| f.is_finite()), 0..6)),
            ),
            0..6,
        )
    ) {
        let list: Vec<Value> = objects
            .iter()
            .map(|(key, meta, id, distance, score, exp, vector)| {
                let id = uuid::Uuid::from_u128(*id).hyphenated().to_string();
                let mut add = json!({"id": id});
                if let Some(d) = distance {
                    add["distance"] = json!(f64::from(*d));
                }
                if let Some(s) = score {
                    add["score"] = json!(if *exp { format!("{s:e}") } else { format!("{s}") });
                }
                if let Some(v) = vector {
                    add["vector"] = json!(v);
                }
                json!({P_KEY: key, P_META: serde_json::to_string(meta).unwrap_or_default(), "_additional": add})
            })
            .collect();
        let parsed = hits(&Value::Array(list), "q").map_err(|e| TestCaseError::fail(format!("{e:?}")))?;
        prop_assert_eq!(parsed.len(), objects.len());
        for (h, (key, meta, id, distance, score, _, vector)) in parsed.iter().zip(&objects) {
            prop_assert_eq!(&h.key, key);
            prop_assert_eq!(h.id.clone(), uuid::Uuid::from_u128(*id).hyphenated().to_string());
            let want: Map<String, Value> = meta.iter().map(|(k, v)| (k.clone(), json!(v))).collect();
            prop_assert_eq!(&h.metadata, &want);
            prop_assert_eq!(h.distance, distance.map(f64::from));
            prop_assert_eq!(h.score, score.map(f64::from));
            prop_assert_eq!(&h.vector, vector);
        }
    }

    /// Batch results: one per object; the failed ones (a non-SUCCESS status or error messages)
    /// are reported, with their messages.
    #[test]
    fn batch_results_round_trip(items in prop::collection::vec((any::<bool>(), prop::collection::vec("[a-z ]{1,10}", 0..3)), 0..8)) {
        let v: Vec<Value> = items
            .iter()
            .map(|(ok, errors)| {
                let mut result = json!({"status": if *ok { "SUCCESS" } else { "FAILED" }});
                if !errors.is_empty() {
                    result["errors"] = json!({"error": errors.iter().map(|m| json!({"message": m})).collect::<Vec<_>>()});
                }
                json!({"result": result})
            })
            .collect();
        let failures = batch_failures(&Value::Array(v), items.len(), "b")
            .map_err(|e| TestCaseError::fail(format!("{e:?}")))?;
        let want: Vec<String> = items
            .iter()
            .filter(|(ok, errors)| !ok || !errors.is_empty())
            .map(|(_, errors)| if errors.is_empty() { "FAILED".to_owned() } else { errors.join("; ") })
            .collect();
        prop_assert_eq!(failures, want);
    }

    /// Batch-delete counts, catalogue entries, listings, versions and error bodies round-trip.
    #[test]
    fn documented_shapes_round_trip(
        counts in (any::<u32>(), any::<u32>(), any::<u32>()),
        ns in ".{1,20}",
        class in "Vt_[0-9a-f]{2,8}_[0-9a-f]{16}",
        cfg in config(),
        names in prop::collection::vec((".{1,10}", any::<u128>()), 0..5),
        ver in (0u64..100, 0u64..100, 0u64..100, "(-[a-z0-9.]{1,6})?"),
        messages in prop::collection::vec("[ -~]{1,30}", 1..4),
    ) {
        let (m, s, f) = counts;
        let d = Deleted::parse(&json!({"results": {"matches": m, "successful": s, "failed": f, "limit": 10000}}));
        prop_assert_eq!(d, Deleted { matches: m.into(), successful: s.into(), failed: f.into() });

        let entry = json!({"properties": {P_NAMESPACE: ns, P_CLASS: class, P_CONFIG: serde_json::to_string(&cfg).unwrap_or_default()}});
        let e = Entry::parse(&entry, &ns).map_err(|e| TestCaseError::fail(format!("{e:?}")))?;
        prop_assert_eq!(e, Entry { namespace: ns.clone(), class, config: cfg });

        let objects: Vec<Value> = names
            .iter()
            .map(|(n, id)| json!({"id": uuid::Uuid::from_u128(*id).hyphenated().to_string(), "properties": {P_NAMESPACE: n}}))
            .collect();
        let (got, last) = entry_names(&json!({"objects": objects}), "l").map_err(|e| TestCaseError::fail(format!("{e:?}")))?;
        prop_assert_eq!(got, names.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>());
        prop_assert_eq!(last, names.last().map(|(_, id)| uuid::Uuid::from_u128(*id).hyphenated().to_string()));

        let (major, minor, patch, suffix) = ver;
        prop_assert_eq!(version(&format!("{major}.{minor}.{patch}{suffix}")), Some((major, minor)));

        let body = json!({"error": messages.iter().map(|m| json!({"message": m})).collect::<Vec<_>>()}).to_string();
        prop_assert_eq!(server_message(&body), truncate(&messages.join("; ")));
        let gql = Gql::parse(Reply { status: 200, body: json!({"errors": messages.iter().map(|m| json!({"message": m})).collect::<Vec<_>>(), "data": null}).to_string() }, "g")
            .map_err(|e| TestCaseError::fail(format!("{e:?}")))?;
        prop_assert!(matches!(gql, Gql::Errors(ref got) if *got == messages));
        let gql = Gql::parse(Reply { status: 200, body: json!({"data": {"Get": {"q": []}}}).to_string() }, "g")
            .map_err(|e| TestCaseError::fail(format!("{e:?}")))?;
        prop_assert!(matches!(gql, Gql::Data(ref d) if d["Get"]["q"] == json!([])));
    }
}
