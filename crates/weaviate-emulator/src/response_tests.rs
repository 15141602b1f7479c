//! Checks the emulator's own responses against the response schemas of the real OpenAPI spec
//! (when the spec file is present; without it there is nothing to check against, and the test
//! only confirms the spec is indeed absent).

use serde_json::{Value, json};

use crate::spec::Spec;
use crate::{DEFAULT_SPEC_PATH, Emulator, SPEC_ENV};

fn spec_path() -> std::path::PathBuf {
    std::env::var_os(SPEC_ENV).map_or_else(|| DEFAULT_SPEC_PATH.into(), Into::into)
}

#[tokio::test]
async fn responses_match_the_spec() {
    let Some(spec) = Spec::load(&spec_path()).unwrap() else {
        assert!(!spec_path().exists());
        return;
    };
    let emu = Emulator::start().await.unwrap();
    let http = reqwest::Client::new();
    let id = "00000000-0000-4000-8000-000000000001";
    let calls: Vec<(&str, String, Option<Value>)> = vec![
        ("GET", "/v1/meta".into(), None),
        ("GET", "/v1/schema".into(), None),
        (
            "POST",
            "/v1/schema".into(),
            Some(
                json!({"class": "R", "invertedIndexConfig": {"indexNullState": true},
            "properties": [{"name": "k", "dataType": ["text"], "tokenization": "field"}, {"name": "n", "dataType": ["int"]}]}),
            ),
        ),
        ("POST", "/v1/schema".into(), Some(json!({"class": "r"}))),
        ("GET", "/v1/schema".into(), None),
        ("GET", "/v1/schema/R".into(), None),
        ("GET", "/v1/schema/Nope".into(), None),
        (
            "POST",
            "/v1/batch/objects".into(),
            Some(json!({"objects": [
            {"class": "R", "id": id, "properties": {"k": "a", "n": 1}, "vector": [1.0, 2.0]},
            {"class": "R", "properties": {"k": 1}, "vector": [1.0, 2.0]},
            {"class": "R", "vector": [1.0]}]})),
        ),
        (
            "POST",
            "/v1/batch/objects".into(),
            Some(json!({"objects": []})),
        ),
        ("GET", format!("/v1/objects/R/{id}?include=vector"), None),
        ("GET", "/v1/objects?class=R&limit=5".into(), None),
        (
            "GET",
            format!("/v1/objects?class=R&limit=5&after={id}"),
            None,
        ),
        (
            "POST",
            "/v1/objects".into(),
            Some(json!({"class": "R", "id": id})),
        ),
        (
            "POST",
            "/v1/objects".into(),
            Some(json!({"class": "R", "properties": {"k": "b"}, "vector": [0.5, 0.5]})),
        ),
        (
            "PUT",
            format!("/v1/objects/R/{id}"),
            Some(json!({"class": "R", "id": id, "properties": {"k": "c"}, "vector": [2.0, 1.0]})),
        ),
        (
            "POST",
            "/v1/graphql".into(),
            Some(
                json!({"query": "{ Get { R(nearVector: {vector: [1, 2]}, limit: 2) { k n _additional { id distance certainty vector creationTimeUnix } } } Aggregate { R { meta { count } } } }"}),
            ),
        ),
        (
            "POST",
            "/v1/graphql".into(),
            Some(json!({"query": "{ Get { R(nearVector: {vector: [1, 2, 3]}) { k } } }"})),
        ),
        (
            "POST",
            "/v1/graphql".into(),
            Some(json!({"query": "{ Get { Nope { k } } }"})),
        ),
        (
            "DELETE",
            "/v1/batch/objects".into(),
            Some(
                json!({"match": {"class": "R", "where": {"path": ["n"], "operator": "IsNull", "valueBoolean": true}}, "output": "verbose", "dryRun": true}),
            ),
        ),
        (
            "DELETE",
            "/v1/batch/objects".into(),
            Some(
                json!({"match": {"class": "R", "where": {"path": ["k"], "operator": "Like", "valueText": "*"}}}),
            ),
        ),
        ("DELETE", format!("/v1/objects/R/{id}"), None),
        ("DELETE", "/v1/schema/R".into(), None),
    ];
    let mut problems = Vec::new();
    for (method, path, body) in calls {
        let mut req = http.request(method.parse().unwrap(), format!("{}{path}", emu.url()));
        if let Some(b) = &body {
            req = req.json(b);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap();
        let spec_path = path.split('?').next().unwrap();
        match spec.response_schema(method, spec_path, status) {
            None => problems.push(format!(
                "{method} {path}: status {status} is not declared in the spec"
            )),
            Some(None) => {
                if !text.is_empty() {
                    problems.push(format!(
                        "{method} {path}: {status} should have no body, got {text}"
                    ));
                }
            }
            Some(Some(schema)) => {
                let v: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
                let mut out = Vec::new();
                spec.validate(schema, &v, &mut out);
                problems.extend(
                    out.into_iter()
                        .map(|m| format!("{method} {path} -> {status}: {m}")),
                );
            }
        }
    }
    assert!(problems.is_empty(), "{problems:#?}");
    assert!(
        emu.spec_violations().is_empty(),
        "{:#?}",
        emu.spec_violations()
    );
}
