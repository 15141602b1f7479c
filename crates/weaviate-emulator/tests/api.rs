//! HTTP-level tests of the emulator: status codes, body shapes and Weaviate's rules, through
//! a real client over TCP.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use weaviate_emulator::{Emulator, EmulatorOptions};

struct Client {
    http: reqwest::Client,
    base: String,
}

impl Client {
    fn new(emu: &Emulator) -> Self {
        Self {
            http: reqwest::Client::new(),
            base: emu.url(),
        }
    }

    async fn call(&self, method: Method, path: &str, body: Option<Value>) -> (StatusCode, String) {
        let mut req = self.http.request(method, format!("{}{path}", self.base));
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.expect("request");
        let status = resp.status();
        (status, resp.text().await.expect("body"))
    }

    async fn json(&self, method: Method, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        let (status, text) = self.call(method, path, body).await;
        let v = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).expect("JSON body")
        };
        (status, v)
    }

    async fn gql(&self, query: &str) -> Value {
        let (status, v) = self
            .json(Method::POST, "/v1/graphql", Some(json!({"query": query})))
            .await;
        assert_eq!(status, StatusCode::OK, "{v}");
        v
    }

    async fn create(&self, class: Value) -> Value {
        let (status, v) = self.json(Method::POST, "/v1/schema", Some(class)).await;
        assert_eq!(status, StatusCode::OK, "{v}");
        v
    }

    async fn batch(&self, objects: Value) -> Value {
        let (status, v) = self
            .json(
                Method::POST,
                "/v1/batch/objects",
                Some(json!({"objects": objects})),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{v}");
        v
    }
}

fn uuid(n: u32) -> String {
    format!("00000000-0000-4000-8000-{n:012}")
}

fn statuses(batch: &Value) -> Vec<String> {
    batch
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["result"]["status"].as_str().unwrap().to_owned())
        .collect()
}

async fn start() -> (Emulator, Client) {
    let emu = Emulator::start().await.unwrap();
    let c = Client::new(&emu);
    (emu, c)
}

fn ids(get: &Value, class: &str) -> Vec<String> {
    get["data"]["Get"][class]
        .as_array()
        .unwrap_or_else(|| panic!("no results in {get}"))
        .iter()
        .map(|o| o["_additional"]["id"].as_str().unwrap().to_owned())
        .collect()
}

fn distances(get: &Value, class: &str) -> Vec<f64> {
    get["data"]["Get"][class]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["_additional"]["distance"].as_f64().unwrap())
        .collect()
}

#[tokio::test]
async fn health_meta_and_auth() {
    let (emu, c) = start().await;
    assert_eq!(
        c.call(Method::GET, "/v1/.well-known/live", None).await,
        (StatusCode::OK, String::new())
    );
    assert_eq!(
        c.call(Method::GET, "/v1/.well-known/ready", None).await,
        (StatusCode::OK, String::new())
    );
    let (s, meta) = c.json(Method::GET, "/v1/meta", None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(meta["version"], "1.39.0");
    assert!(meta["modules"].is_object());
    let (s, v) = c.json(Method::GET, "/v1/nope", None).await;
    assert_eq!((s, v["code"].as_i64()), (StatusCode::NOT_FOUND, Some(404)));
    let (s, v) = c.json(Method::PATCH, "/v1/graphql", None).await;
    assert_eq!(s, StatusCode::METHOD_NOT_ALLOWED);
    assert!(v["message"].as_str().unwrap().contains("not allowed"));
    drop(emu);

    let mut opts = EmulatorOptions::default();
    opts.version = Some("1.25.0".into());
    opts.api_key = Some("secret".into());
    let emu = Emulator::start_with(opts).await.unwrap();
    let c = Client::new(&emu);
    assert_eq!(
        c.call(Method::GET, "/v1/meta", None).await,
        (StatusCode::UNAUTHORIZED, String::new())
    );
    assert_eq!(
        c.call(Method::GET, "/v1/.well-known/ready", None).await.0,
        StatusCode::OK,
        "probes are public"
    );
    let resp = c
        .http
        .get(format!("{}/v1/meta", c.base))
        .bearer_auth("wrong")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    let resp = c
        .http
        .get(format!("{}/v1/meta", c.base))
        .bearer_auth("secret")
        .send()
        .await
        .unwrap();
    let meta: Value = resp.json().await.unwrap();
    assert_eq!(meta["version"], "1.25.0");
    assert!(
        meta.get("grpcMaxMessageSize").is_none(),
        "absent before 1.30"
    );
    // 1.25 looks `/v1/schema/{className}` up exactly as given.
    let authed = |m: Method, path: &str| {
        c.http
            .request(m, format!("{}{path}", c.base))
            .bearer_auth("secret")
    };
    let resp = authed(Method::POST, "/v1/schema")
        .json(&json!({"class": "Abc"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(
        authed(Method::GET, "/v1/schema/Abc")
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );
    assert_eq!(
        authed(Method::GET, "/v1/schema/abc")
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn schema_lifecycle_and_name_rules() {
    let (_emu, c) = start().await;
    let def = c
        .create(
            json!({"class": "vs_6d79", "description": "vs-namespace:my-ns", "vectorizer": "none",
            "vectorIndexConfig": {"distance": "dot"},
            "properties": [{"name": "vs_key", "dataType": ["text"], "tokenization": "field",
                "indexFilterable": true, "indexSearchable": false}]}),
        )
        .await;
    assert_eq!(def["class"], "Vs_6d79");
    assert_eq!(def["vectorIndexType"], "hnsw");
    assert_eq!(def["vectorIndexConfig"]["distance"], "dot");
    assert_eq!(def["vectorIndexConfig"]["efConstruction"], 128);
    assert_eq!(def["description"], "vs-namespace:my-ns");

    let (s, got) = c.json(Method::GET, "/v1/schema/Vs_6d79", None).await;
    assert_eq!((s, &got), (StatusCode::OK, &def));
    assert_eq!(
        c.call(Method::GET, "/v1/schema/Vs_nope", None).await,
        (StatusCode::NOT_FOUND, String::new())
    );
    // From 1.26 the handler upper-cases the first letter of the path's class name.
    assert_eq!(
        c.call(Method::GET, "/v1/schema/vs_6d79", None).await.0,
        StatusCode::OK
    );

    for (name, want) in [
        ("Vs_6d79", "class name Vs_6d79 already exists"),
        (
            "VS_6D79",
            "class already exists: found similar class \"Vs_6d79\"",
        ),
    ] {
        let (s, v) = c
            .json(Method::POST, "/v1/schema", Some(json!({"class": name})))
            .await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(v, json!({"error": [{"message": want}]}));
    }
    let (s, v) = c
        .json(
            Method::POST,
            "/v1/schema",
            Some(json!({"class": "Bad-Name"})),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        v["error"][0]["message"]
            .as_str()
            .unwrap()
            .contains("not a valid class name")
    );
    let (s, _) = c.json(Method::POST, "/v1/schema", Some(json!([1]))).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);

    c.create(json!({"class": "Empty"})).await;
    let (_, list) = c.json(Method::GET, "/v1/schema", None).await;
    let classes = list["classes"].as_array().unwrap();
    assert_eq!(classes.len(), 2);
    assert!(
        classes
            .iter()
            .any(|c| c["class"] == "Empty" && c["properties"].is_null())
    );

    assert_eq!(
        c.call(Method::DELETE, "/v1/schema/Vs_6d79", None).await,
        (StatusCode::OK, String::new())
    );
    assert_eq!(
        c.call(Method::DELETE, "/v1/schema/Vs_6d79", None).await.0,
        StatusCode::OK,
        "missing class: still 200"
    );
    assert_eq!(
        c.call(Method::GET, "/v1/schema/Vs_6d79", None).await.0,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn batch_per_object_results_and_upserts() {
    let (_emu, c) = start().await;
    c.create(json!({"class": "B", "properties": [
        {"name": "k", "dataType": ["text"], "tokenization": "field"}, {"name": "n", "dataType": ["number"]}]}))
        .await;
    let out = c
        .batch(json!([
            {"class": "B", "id": uuid(1), "properties": {"k": "a", "n": 1}, "vector": [1.0, 0.0, 0.0]},
            {"class": "B", "id": uuid(2), "properties": {"k": "b"}, "vector": [1.0, 0.0]},
            {"class": "B", "id": uuid(3), "properties": {"k": 7}, "vector": [0.0, 1.0, 0.0]},
            {"class": "B", "id": uuid(4), "properties": {"k": "first"}, "vector": [0.0, 0.0, 1.0]},
            {"class": "B", "id": uuid(4), "properties": {"k": "last"}, "vector": [0.0, 1.0, 1.0]},
            {"class": "B", "id": uuid(5), "tenant": "t1", "vector": [0.0, 1.0, 1.0]}
        ]))
        .await;
    assert_eq!(
        statuses(&out),
        [
            "SUCCESS", "FAILED", "FAILED", "SUCCESS", "SUCCESS", "FAILED"
        ]
    );
    let msg = |i: usize| {
        out[i]["result"]["errors"]["error"][0]["message"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    assert_eq!(
        msg(1),
        "insert to vector index: new node has a vector with length 2. Existing nodes have vectors with length 3"
    );
    assert_eq!(
        msg(2),
        "invalid text property 'k' on class 'B': not a string, but json.Number"
    );
    assert_eq!(
        msg(5),
        "class B has multi-tenancy disabled, but request was with tenant"
    );
    assert!(
        out[0]["deprecations"].is_null()
            && out[0]["vector"].is_array()
            && out[0]["creationTimeUnix"].is_i64()
    );

    // Last duplicate wins; the failed objects were not written.
    let (s, o) = c
        .json(
            Method::GET,
            &format!("/v1/objects/B/{}?include=vector", uuid(4)),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(o["properties"]["k"], "last");
    assert_eq!(o["vector"], json!([0.0, 1.0, 1.0]));
    assert_eq!(
        c.call(Method::GET, &format!("/v1/objects/B/{}", uuid(2)), None)
            .await,
        (StatusCode::NOT_FOUND, String::new())
    );

    // An upsert is a full replace: the old `n` disappears.
    c.batch(json!([{"class": "B", "id": uuid(1), "properties": {"k": "a2"}, "vector": [0.5, 0.5, 0.0]}])).await;
    let (_, o) = c
        .json(Method::GET, &format!("/v1/objects/B/{}", uuid(1)), None)
        .await;
    assert_eq!(o["properties"], json!({"k": "a2"}));
    assert!(o.get("vector").is_none(), "vector only with include=vector");

    // Whole-request errors.
    let (s, v) = c
        .json(
            Method::POST,
            "/v1/batch/objects",
            Some(json!({"objects": []})),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        v["error"][0]["message"],
        "invalid param 'objects': cannot be empty, need at least one object for batching"
    );
    let (s, v) = c
        .json(
            Method::POST,
            "/v1/batch/objects",
            Some(json!({"objects": [{"class": "B", "id": "k1"}]})),
        )
        .await;
    assert_eq!(
        (s, v["code"].as_i64()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some(606))
    );
    let (s, _) = c
        .call(
            Method::POST,
            "/v1/batch/objects?consistency_level=SOME",
            Some(json!({"objects": [{"class": "B"}]})),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let resp = c
        .http
        .post(format!("{}/v1/batch/objects", c.base))
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["code"], 400);
}

#[tokio::test]
async fn auto_schema_on_and_off() {
    let (_emu, c) = start().await;
    c.create(json!({"class": "A", "properties": [{"name": "k", "dataType": ["text"]}]}))
        .await;
    // Default (on): unknown properties and classes are created, as a real server does.
    let out = c.batch(json!([{"class": "A", "properties": {"k": "x", "extra": 1.5}}, {"class": "Fresh", "vector": [1.0]}])).await;
    assert_eq!(statuses(&out), ["SUCCESS", "SUCCESS"]);
    let (_, a) = c.json(Method::GET, "/v1/schema/A", None).await;
    assert_eq!(
        a["properties"][1],
        json!({"name": "extra", "dataType": ["number"], "indexFilterable": true, "indexSearchable": false, "indexRangeFilters": false})
    );
    let (_, fresh) = c.json(Method::GET, "/v1/schema/Fresh", None).await;
    assert_eq!(fresh["vectorIndexConfig"]["distance"], "cosine");

    let mut opts = EmulatorOptions::default();
    opts.auto_schema = Some(false);
    let emu = Emulator::start_with(opts).await.unwrap();
    let c = Client::new(&emu);
    c.create(json!({"class": "A", "properties": [{"name": "k", "dataType": ["text"]}]}))
        .await;
    let out = c
        .batch(json!([{"class": "A", "properties": {"extra": 1}}, {"class": "Missing"}]))
        .await;
    assert_eq!(statuses(&out), ["FAILED", "FAILED"]);
    assert!(
        out[0]["result"]["errors"]["error"][0]["message"]
            .as_str()
            .unwrap()
            .contains("no such prop with name 'extra'")
    );
    assert_eq!(
        out[1]["result"]["errors"]["error"][0]["message"],
        "class 'Missing' not present in schema"
    );
}

#[tokio::test]
async fn single_object_endpoints() {
    let mut opts = EmulatorOptions::default();
    opts.version = Some("1.25.0".into());
    let emu = Emulator::start_with(opts).await.unwrap();
    let c = Client::new(&emu);
    c.create(json!({"class": "O", "properties": [{"name": "k", "dataType": ["text"]}]}))
        .await;
    let v = [0.1_f32, -0.2, 0.3];
    let upper = "8C0D7D9E-1234-4ABC-8DEF-0123456789AB";
    let lower = upper.to_ascii_lowercase();
    let (s, created) = c
        .json(
            Method::POST,
            "/v1/objects",
            Some(json!({"class": "o", "id": upper, "properties": {"k": "x"}, "vector": v})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{created}");
    assert_eq!(created["id"], lower.as_str());
    assert_eq!(created["class"], "O");
    let (s, dup) = c
        .json(
            Method::POST,
            "/v1/objects",
            Some(json!({"class": "O", "id": lower, "properties": {"k": "y"}})),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        dup["error"][0]["message"],
        format!("id '{lower}' already exists")
    );

    // Vectors round-trip bit-exactly as f32.
    let (_, got) = c
        .json(
            Method::GET,
            &format!("/v1/objects/O/{upper}?include=vector"),
            None,
        )
        .await;
    let back: Vec<f32> = got["vector"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap() as f32)
        .collect();
    assert_eq!(back, v);
    assert_eq!(
        got["vector"][0].to_string(),
        "0.1",
        "printed like a Go float32"
    );

    assert_eq!(
        c.call(Method::HEAD, &format!("/v1/objects/O/{lower}"), None)
            .await
            .0,
        StatusCode::NO_CONTENT
    );
    let (s, v) = c.json(Method::GET, "/v1/objects/O/not-a-uuid", None).await;
    assert_eq!(
        (s, v["code"].as_i64()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some(605))
    );
    assert_eq!(
        c.call(Method::GET, &format!("/v1/objects/Nope/{lower}"), None)
            .await,
        (StatusCode::NOT_FOUND, String::new())
    );
    let (s, _) = c
        .json(
            Method::GET,
            &format!("/v1/objects/O/{lower}?tenant=t"),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);

    // PUT replaces; the id is immutable; a missing object is 500 in 1.25.
    let (s, put) = c
        .json(
            Method::PUT,
            &format!("/v1/objects/O/{lower}"),
            Some(json!({"class": "O", "id": lower, "properties": {"k": "z"}})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{put}");
    let (_, got) = c
        .json(
            Method::GET,
            &format!("/v1/objects/O/{lower}?include=vector"),
            None,
        )
        .await;
    assert_eq!(got["properties"]["k"], "z");
    assert!(
        got.get("vector").is_none(),
        "PUT without a vector leaves none"
    );
    let (s, v) = c
        .json(
            Method::PUT,
            &format!("/v1/objects/O/{lower}"),
            Some(json!({"class": "O", "id": uuid(9)})),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        v["error"][0]["message"],
        "invalid update: field 'id' is immutable"
    );
    let (s, v) = c
        .json(
            Method::PUT,
            &format!("/v1/objects/O/{}", uuid(9)),
            Some(json!({"class": "O", "id": uuid(9)})),
        )
        .await;
    assert_eq!(s, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(
        v["error"][0]["message"],
        format!("no object with id '{}'", uuid(9))
    );

    assert_eq!(
        c.call(Method::DELETE, &format!("/v1/objects/O/{lower}"), None)
            .await,
        (StatusCode::NO_CONTENT, String::new())
    );
    assert_eq!(
        c.call(Method::DELETE, &format!("/v1/objects/O/{lower}"), None)
            .await,
        (StatusCode::NOT_FOUND, String::new())
    );
    assert_eq!(
        c.call(Method::HEAD, &format!("/v1/objects/O/{lower}"), None)
            .await
            .0,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn put_on_missing_object_is_404_from_1_37_11() {
    let (_emu, c) = start().await;
    c.create(json!({"class": "O"})).await;
    assert_eq!(
        c.call(
            Method::PUT,
            &format!("/v1/objects/O/{}", uuid(1)),
            Some(json!({"class": "O", "id": uuid(1)}))
        )
        .await,
        (StatusCode::NOT_FOUND, String::new())
    );
}

async fn golden_class(c: &Client, name: &str, distance: &str, vectors: &[Vec<f32>]) {
    c.create(json!({"class": name, "vectorIndexConfig": {"distance": distance}, "properties": [{"name": "k", "dataType": ["text"], "tokenization": "field"}]})).await;
    let objs: Vec<Value> = vectors
        .iter()
        .enumerate()
        .map(|(i, v)| json!({"class": name, "id": uuid(i as u32 + 1), "properties": {"k": format!("k{}", i + 1)}, "vector": v}))
        .collect();
    let out = c.batch(Value::Array(objs)).await;
    assert!(statuses(&out).iter().all(|s| s == "SUCCESS"), "{out}");
}

#[tokio::test]
async fn golden_distances_over_graphql() {
    let (_emu, c) = start().await;
    golden_class(
        &c,
        "Cos",
        "cosine",
        &[
            vec![0.7, 0.3],
            vec![1.4, 0.6],
            vec![1.0, 1.0],
            vec![-0.7, -0.3],
        ],
    )
    .await;
    let r = c.gql("{ Get { Cos(nearVector: {vector: [0.7, 0.3]}) { k _additional { id distance certainty } } } }").await;
    let d = distances(&r, "Cos");
    assert!(
        d[0].abs() < 1e-6
            && d[1].abs() < 1e-6
            && (d[2] - 0.0715).abs() < 1e-4
            && (d[3] - 2.0).abs() < 1e-6,
        "{d:?}"
    );
    let cert = r["data"]["Get"]["Cos"][2]["_additional"]["certainty"]
        .as_f64()
        .unwrap();
    assert!((cert - 0.964).abs() < 1e-3, "{cert}");

    golden_class(
        &c,
        "Dot",
        "dot",
        &[
            vec![3.0, 4.0, 5.0],
            vec![1.0, 1.0, 1.0],
            vec![0.0, 0.0, 0.0],
            vec![-3.0, -4.0, -5.0],
        ],
    )
    .await;
    let r = c
        .gql("{ Get { Dot(nearVector: {vector: [3, 4, 5]}) { _additional { distance } } } }")
        .await;
    assert_eq!(distances(&r, "Dot"), [-50.0, -12.0, 0.0, 50.0]);
    let r = c.gql("{ Get { Dot(nearVector: {vector: [3, 4, 5], distance: 30}) { _additional { distance } } } }").await;
    assert_eq!(distances(&r, "Dot").len(), 3);
    let r = c.gql("{ Get { Dot(nearVector: {vector: [3, 4, 5], distance: 0}) { _additional { distance } } } }").await;
    assert_eq!(
        distances(&r, "Dot"),
        [-50.0, -12.0, 0.0],
        "inclusive threshold"
    );
    let r = c.gql("{ Get { Dot(nearVector: {vector: [3, 4, 5], certainty: 0.5}) { _additional { distance } } } }").await;
    assert!(
        r["errors"][0]["message"].as_str().unwrap().contains(
            "can't compute and return certainty when vector index is configured with dot distance"
        ),
        "{r}"
    );
    assert!(r["data"]["Get"]["Dot"].is_null());
    assert_eq!(r["errors"][0]["path"], json!(["Get", "Dot"]));

    golden_class(
        &c,
        "L2",
        "l2-squared",
        &[
            vec![10.0, 11.0, 12.0],
            vec![13.0, 15.0, 17.0],
            vec![0.0, 0.0, 0.0],
        ],
    )
    .await;
    let r = c
        .gql("{ Get { L2(nearVector: {vector: [10, 11, 12]}) { _additional { distance } } } }")
        .await;
    assert_eq!(distances(&r, "L2"), [0.0, 50.0, 365.0]);
    let r = c.gql("{ Get { L2(nearVector: {vector: [10, 11, 12], distance: 364}) { _additional { distance } } } }").await;
    assert_eq!(distances(&r, "L2"), [0.0, 50.0]);
}

#[tokio::test]
async fn limits_thresholds_and_filters() {
    let mut opts = EmulatorOptions::default();
    opts.query_maximum_results = Some(30);
    let emu = Emulator::start_with(opts).await.unwrap();
    let c = Client::new(&emu);
    // 25 vectors along the x axis at increasing l2-squared distance from the origin.
    let vectors: Vec<Vec<f32>> = (1..=25).map(|i| vec![i as f32, 0.0]).collect();
    golden_class(&c, "L", "l2-squared", &vectors).await;
    let q = |args: &str| {
        format!(
            "{{ Get {{ L(nearVector: {{vector: [0, 0]{args}}}) {{ k _additional {{ id distance }} }} }} }}"
        )
    };
    // No limit and no threshold: QUERY_DEFAULTS_LIMIT (10).
    assert_eq!(ids(&c.gql(&q("")).await, "L").len(), 10);
    // Threshold alone: every match (up to QUERY_MAXIMUM_RESULTS).
    assert_eq!(ids(&c.gql(&q(", distance: 144")).await, "L").len(), 12);
    // limit + threshold: top-k first, then the cut-off, so fewer than k can come back.
    let r = c.gql(&q(", distance: 16}, limit: 3, where: {path: [\"k\"], operator: NotEqual, valueText: \"k1\"")).await;
    assert_eq!(
        ids(&r, "L"),
        [uuid(2), uuid(3), uuid(4)],
        "filter first, then top-k"
    );
    let r = c.gql("{ Get { L(nearVector: {vector: [0, 0], distance: 4}, limit: 3) { _additional { id } } } }").await;
    assert_eq!(ids(&r, "L"), [uuid(1), uuid(2)]);
    let r = c.gql("{ Get { L(nearVector: {vector: [0, 0]}, limit: 2, offset: 1) { _additional { id } } } }").await;
    assert_eq!(ids(&r, "L"), [uuid(2), uuid(3)]);
    let r = c.gql("{ Get { L(nearVector: {vector: [0, 0]}, limit: 25, offset: 10) { _additional { id } } } }").await;
    assert_eq!(r["errors"][0]["message"], "query maximum results exceeded");
    let r = c.gql("{ Get { L(nearVector: {vector: [0, 0], distance: 1, certainty: 0.5}) { _additional { id } } } }").await;
    assert!(
        r["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("cannot provide distance and certainty")
    );
    let r = c
        .gql("{ Get { L(nearVector: {vector: [0, 0, 0]}) { _additional { id } } } }")
        .await;
    assert!(
        r["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("vector lengths don't match: 3 vs 2"),
        "{r}"
    );
    // where without nearVector, Or, missing property rules.
    let r = c.gql(r#"{ Get { L(where: {operator: Or, operands: [{path: ["k"], operator: Equal, valueText: "k3"}, {path: ["k"], operator: Equal, valueText: "k5"}]}) { k } } }"#).await;
    assert_eq!(r["data"]["Get"]["L"], json!([{"k": "k3"}, {"k": "k5"}]));
    let r = c
        .gql(r#"{ Get { L(where: {path: ["nope"], operator: Equal, valueText: "x"}) { k } } }"#)
        .await;
    assert!(
        r["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("no such prop with name 'nope'"),
        "{r}"
    );
    let r = c.gql(r#"{ Aggregate { L(where: {path: ["k"], operator: Like, valueText: "k1*"}) { meta { count } } } }"#).await;
    assert_eq!(
        r["data"]["Aggregate"]["L"],
        json!([{"meta": {"count": 11}}])
    );
    let r = c.gql("{ Aggregate { L { meta { count } } } }").await;
    assert_eq!(r["data"]["Aggregate"]["L"][0]["meta"]["count"], 25);
}

#[tokio::test]
async fn graphql_errors() {
    let (_emu, c) = start().await;
    let (s, v) = c
        .json(
            Method::POST,
            "/v1/graphql",
            Some(json!({"query": "{ Get { X { a } } }"})),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "empty schema");
    assert!(
        v["error"][0]["message"]
            .as_str()
            .unwrap()
            .starts_with("no graphql provider present")
    );
    c.create(json!({"class": "G", "properties": [{"name": "k", "dataType": ["text"]}]}))
        .await;
    let (s, v) = c
        .json(Method::POST, "/v1/graphql", Some(json!({"query": ""})))
        .await;
    assert_eq!(
        (s, &v["error"][0]["message"]),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            &json!("query cannot be empty")
        )
    );

    let r = c.gql("{ Get { Nope { k } } }").await;
    assert_eq!(
        r["errors"][0]["message"],
        "Cannot query field \"Nope\" on type \"GetObjectsObj\"."
    );
    assert!(r.get("data").is_none() && r["errors"][0]["path"].is_null());
    assert_eq!(
        r["errors"][0]["locations"],
        json!([{"column": 9, "line": 1}])
    );
    let r = c.gql("{ Get { G { k missing } } }").await;
    assert_eq!(
        r["errors"][0]["message"],
        "Cannot query field \"missing\" on type \"G\"."
    );
    let r = c.gql("{ Get { G(bogus: 1) { k } } }").await;
    assert!(
        r["errors"][0]["message"]
            .as_str()
            .unwrap()
            .starts_with("Unknown argument \"bogus\"")
    );
    let r = c.gql("{ Get { G(limit: \"3\") { k } } }").await;
    assert!(
        r["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("Expected type \"Int\"")
    );
    let r = c
        .gql("{ Get { G(nearVector: {vector: [1, 2], foo: 1}) { k } } }")
        .await;
    assert!(
        r["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("Unknown field")
    );
    let r = c.gql("{ Get { G { k } }").await;
    assert!(
        r["errors"][0]["message"]
            .as_str()
            .unwrap()
            .starts_with("Syntax Error GraphQL request (1:18)"),
        "{r}"
    );
    let r = c.gql("{ Get { G(where: {path: [\"k\"], operator: Equal, valueText: \"a \\\"quoted\\\" \\u00e9\"}) { k } } }").await;
    assert_eq!(r["data"]["Get"]["G"], json!([]), "{r}");
}

#[tokio::test]
async fn text_filters_follow_tokenization() {
    let (_emu, c) = start().await;
    c.create(json!({"class": "T", "properties": [
        {"name": "key", "dataType": ["text"], "tokenization": "field"},
        {"name": "body", "dataType": ["text"]},
        {"name": "tags", "dataType": ["text[]"], "tokenization": "field"}]}))
        .await;
    c.batch(json!([
        {"class": "T", "id": uuid(1), "properties": {"key": "test_domain", "body": "the test_domain page", "tags": ["x", "y"]}},
        {"class": "T", "id": uuid(2), "properties": {"key": "test", "body": "other"}}
    ]))
    .await;
    let keys = |r: &Value| -> Vec<String> {
        r["data"]["Get"]["T"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| o["key"].as_str().unwrap().to_owned())
            .collect()
    };
    let r = c
        .gql(r#"{ Get { T(where: {path: ["key"], operator: Equal, valueText: "test"}) { key } } }"#)
        .await;
    assert_eq!(keys(&r), ["test"], "field tokenization: whole value");
    let r = c
        .gql(
            r#"{ Get { T(where: {path: ["body"], operator: Equal, valueText: "test"}) { key } } }"#,
        )
        .await;
    assert_eq!(keys(&r), ["test_domain"], "word tokenization: token match");
    let r = c
        .gql(r#"{ Get { T(where: {path: ["tags"], operator: Equal, valueText: "y"}) { key } } }"#)
        .await;
    assert_eq!(keys(&r), ["test_domain"], "arrays: Equal means contains");
    let r = c
        .gql(
            r#"{ Get { T(where: {path: ["tags"], operator: NotEqual, valueText: "y"}) { key } } }"#,
        )
        .await;
    assert_eq!(keys(&r), ["test"], "missing property matches NotEqual");
}

#[tokio::test]
async fn batch_delete_and_cursor_listing() {
    let mut opts = EmulatorOptions::default();
    opts.query_maximum_results = Some(3);
    let emu = Emulator::start_with(opts).await.unwrap();
    let c = Client::new(&emu);
    c.create(json!({"class": "D", "properties": [{"name": "k", "dataType": ["text"], "tokenization": "field"}]})).await;
    let objs: Vec<Value> = (1..=5)
        .rev()
        .map(|i| json!({"class": "D", "id": uuid(i), "properties": {"k": format!("k{i}")}}))
        .collect();
    c.batch(Value::Array(objs)).await;

    // Cursor listing is ordered by UUID regardless of insertion order.
    let (s, page) = c
        .json(
            Method::GET,
            &format!("/v1/objects?class=D&limit=2&after={}", uuid(1)),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{page}");
    let got: Vec<&str> = page["objects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["id"].as_str().unwrap())
        .collect();
    assert_eq!(got, [uuid(2), uuid(3)]);
    assert_eq!(page["totalResults"], 2);
    let (s, _) = c.json(Method::GET, "/v1/objects?after=x", None).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);

    let del = |dry: bool, output: &str| json!({"match": {"class": "D", "where": {"path": ["k"], "operator": "Like", "valueText": "*"}}, "output": output, "dryRun": dry});
    let (s, r) = c
        .json(
            Method::DELETE,
            "/v1/batch/objects",
            Some(del(true, "verbose")),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{r}");
    assert_eq!(
        r["results"]["matches"], 3,
        "capped at QUERY_MAXIMUM_RESULTS"
    );
    assert_eq!(r["results"]["limit"], 3);
    assert_eq!(r["results"]["objects"][0]["status"], "DRYRUN");
    let (_, r) = c
        .json(
            Method::DELETE,
            "/v1/batch/objects",
            Some(del(false, "minimal")),
        )
        .await;
    assert_eq!(
        (
            r["results"]["matches"].as_i64(),
            r["results"]["successful"].as_i64()
        ),
        (Some(3), Some(3))
    );
    let (_, r) = c
        .json(
            Method::DELETE,
            "/v1/batch/objects",
            Some(del(false, "minimal")),
        )
        .await;
    assert_eq!(r["results"]["matches"], 2);
    let (_, r) = c
        .json(
            Method::DELETE,
            "/v1/batch/objects",
            Some(del(false, "minimal")),
        )
        .await;
    assert_eq!(r["results"]["matches"], 0, "loop until no matches");
    let (s, r) = c
        .json(
            Method::DELETE,
            "/v1/batch/objects",
            Some(del(false, "loud")),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{r}");
    let (s, _) = c
        .json(Method::DELETE, "/v1/batch/objects", Some(json!({"match": {"class": "D", "where": {"path": ["zz"], "operator": "Equal", "valueText": "x"}}})))
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn hostile_strings_round_trip_through_graphql_filters() {
    let (_emu, c) = start().await;
    c.create(json!({"class": "H", "properties": [{"name": "k", "dataType": ["text"], "tokenization": "field"}]})).await;
    let hostile = [
        "quote\" back\\slash",
        "new\nline\ttab\r\u{8}\u{c}",
        "ctl\u{1}\u{1f}",
        "}) { x } } } #",
        "ünï 😀 \u{2028}",
        "/slash $var @dir ...spread",
    ];
    let objs: Vec<Value> = hostile
        .iter()
        .enumerate()
        .map(|(i, k)| json!({"class": "H", "id": uuid(i as u32 + 1), "properties": {"k": k}}))
        .collect();
    c.batch(Value::Array(objs)).await;
    for (i, k) in hostile.iter().enumerate() {
        // serde_json's escaping is a subset of GraphQL string syntax.
        let lit = serde_json::to_string(k).unwrap();
        let r = c.gql(&format!("{{ Get {{ H(where: {{path: [\"k\"], operator: Equal, valueText: {lit}}}) {{ k _additional {{ id }} }} }} }}")).await;
        assert_eq!(ids(&r, "H"), [uuid(i as u32 + 1)], "{k:?}: {r}");
        assert_eq!(
            r["data"]["Get"]["H"][0]["k"],
            json!(k),
            "stored value comes back unchanged"
        );
    }
}

#[tokio::test]
async fn not_operator_requires_1_33() {
    let mut opts = EmulatorOptions::default();
    opts.version = Some("1.32.9".into());
    let emu = Emulator::start_with(opts).await.unwrap();
    let c = Client::new(&emu);
    c.create(json!({"class": "N", "properties": [{"name": "k", "dataType": ["text"], "tokenization": "field"}]})).await;
    let q = r#"{ Get { N(where: {operator: Not, operands: [{path: ["k"], operator: Equal, valueText: "a"}]}) { k } } }"#;
    let r = c.gql(q).await;
    assert!(
        r["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("unrecognized operator: Not"),
        "{r}"
    );
    let (_emu2, c2) = start().await;
    c2.create(json!({"class": "N", "properties": [{"name": "k", "dataType": ["text"], "tokenization": "field"}]})).await;
    c2.batch(
        json!([{"class": "N", "properties": {"k": "a"}}, {"class": "N", "properties": {"k": "b"}}]),
    )
    .await;
    let r = c2.gql(q).await;
    assert_eq!(r["data"]["Get"]["N"], json!([{"k": "b"}]), "{r}");
}

#[tokio::test]
async fn large_batches_are_accepted() {
    let (_emu, c) = start().await;
    c.create(json!({"class": "Big"})).await;
    // 40 objects of 16000 dimensions: a request body of several megabytes.
    let objs: Vec<Value> = (0..40)
        .map(|i| json!({"class": "Big", "id": uuid(i), "vector": (0..16_000).map(|j| ((i * 7 + j) % 13) as f32 * 0.123).collect::<Vec<_>>()}))
        .collect();
    let out = c.batch(Value::Array(objs)).await;
    assert!(statuses(&out).iter().all(|s| s == "SUCCESS"));
    let (_, o) = c
        .json(
            Method::GET,
            &format!("/v1/objects/Big/{}?include=vector", uuid(39)),
            None,
        )
        .await;
    assert_eq!(o["vector"].as_array().unwrap().len(), 16_000);
}

fn temp_spec(name: &str, doc: &Value) -> std::path::PathBuf {
    let path = std::env::temp_dir().join(format!(
        "weaviate-emulator-{}-{name}.json",
        std::process::id()
    ));
    std::fs::write(&path, serde_json::to_vec(doc).unwrap()).unwrap();
    path
}

#[tokio::test]
async fn spec_validation_with_a_synthetic_spec() {
    // A small Swagger 2.0 document exercises the mechanism independently of the real spec.
    let doc = json!({
        "swagger": "2.0", "basePath": "/v1",
        "paths": {"/schema": {"post": {"parameters": [{"in": "body", "name": "objectClass", "schema": {"$ref": "#/definitions/Class"}}]}}},
        "definitions": {"Class": {"type": "object", "properties": {
            "class": {"type": "string"}, "vectorIndexType": {"type": "string", "enum": ["hnsw", "flat"]}}}}
    });
    let path = temp_spec("synthetic", &doc);
    let mut opts = EmulatorOptions::default();
    opts.spec_path = Some(path.clone());
    let emu = Emulator::start_with(opts).await.unwrap();
    let c = Client::new(&emu);
    c.create(json!({"class": "Ok1", "vectorIndexType": "hnsw"}))
        .await;
    assert!(emu.spec_violations().is_empty());
    // Invalid against the spec (and also refused by the server, which still answers as Weaviate).
    let (s, _) = c
        .json(
            Method::POST,
            "/v1/schema",
            Some(json!({"class": 5, "vectorIndexType": "ivf", "vectorIndexConfg": {}})),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    let v = emu.spec_violations();
    assert_eq!(v.len(), 3, "{v:#?}");
    assert!(
        v.iter()
            .any(|m| m.contains("body.class: must be of type string"))
    );
    assert!(
        v.iter()
            .any(|m| m.contains("body.vectorIndexType: must be one of"))
    );
    assert!(
        v.iter()
            .any(|m| m.contains("body.vectorIndexConfg: is not defined in the spec"))
    );
    assert_eq!(emu.validated_requests(), 2);
    // Bodies of operations without a body schema in the spec are not counted.
    c.gql_allow_any("{ Get { Ok1 { _additional { id } } } }")
        .await;
    assert_eq!(emu.validated_requests(), 2);
    let _ = std::fs::remove_file(path);
}

#[tokio::test]
async fn absent_spec_skips_validation() {
    let mut opts = EmulatorOptions::default();
    opts.spec_path = Some(std::env::temp_dir().join("weaviate-emulator-no-such-spec.json"));
    let emu = Emulator::start_with(opts).await.unwrap();
    assert!(!emu.spec_loaded());
    let c = Client::new(&emu);
    let (s, _) = c
        .json(Method::POST, "/v1/schema", Some(json!({"class": 5})))
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(emu.validated_requests(), 0);
    assert!(emu.spec_violations().is_empty());
    // A file that exists but is not a Swagger 2.0 document is a start-up error.
    let bad = temp_spec("bad", &json!({"openapi": "3.0.0"}));
    let mut opts = EmulatorOptions::default();
    opts.spec_path = Some(bad.clone());
    assert!(Emulator::start_with(opts).await.is_err());
    let _ = std::fs::remove_file(bad);
}

/// Against the real v1.39.0 spec when it is present (`../shared/reference`); when it is absent
/// the emulator must validate nothing, which is asserted instead.
#[tokio::test]
async fn real_spec_accepts_the_documented_request_shapes() {
    let emu = Emulator::start().await.unwrap();
    let spec_path = std::env::var_os(weaviate_emulator::SPEC_ENV).map_or_else(
        || weaviate_emulator::DEFAULT_SPEC_PATH.into(),
        std::path::PathBuf::from,
    );
    let present = spec_path.exists();
    assert_eq!(emu.spec_loaded(), present);
    let c = Client::new(&emu);
    c.create(json!({"class": "Vs_6d79", "description": "vs-namespace:my-ns", "vectorizer": "none",
        "vectorIndexType": "hnsw", "vectorIndexConfig": {"distance": "cosine"},
        "properties": [
            {"name": "vs_key", "dataType": ["text"], "tokenization": "field", "indexFilterable": true, "indexSearchable": false},
            {"name": "vs_meta", "dataType": ["text"], "indexFilterable": false, "indexSearchable": false}]}))
        .await;
    c.batch(json!([{"class": "Vs_6d79", "id": uuid(1), "properties": {"vs_key": "k1", "vs_meta": "{}"}, "vector": [0.1, 0.2, 0.3]}])).await;
    c.gql("{ Get { Vs_6d79(nearVector: {vector: [0.1, 0.2, 0.3], distance: 0.35}, limit: 10, where: {path: [\"vs_key\"], operator: Equal, valueText: \"k1\"}) { vs_key vs_meta _additional { id distance vector } } } }").await;
    let (s, _) = c
        .json(Method::DELETE, "/v1/batch/objects", Some(json!({"match": {"class": "Vs_6d79", "where": {"path": ["vs_key"], "operator": "Like", "valueText": "*"}}, "output": "minimal", "dryRun": false})))
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(emu.spec_violations(), Vec::<String>::new());
    if present {
        assert_eq!(emu.validated_requests(), 4);
        // A deliberately invalid body is reported.
        c.batch(json!([{"class": "Vs_6d79", "id": uuid(2), "vector": "not-a-vector", "creationTimeUnix": "x"}])).await;
        let v = emu.spec_violations();
        assert!(
            v.iter()
                .any(|m| m.contains("objects[0].vector: must be of type array")),
            "{v:#?}"
        );
        assert!(
            v.iter()
                .any(|m| m.contains("objects[0].creationTimeUnix: must be of type integer")),
            "{v:#?}"
        );
    } else {
        assert_eq!(emu.validated_requests(), 0);
    }
}

#[test]
fn start_in_thread_outlives_runtimes() {
    let emu = Emulator::start_in_thread(EmulatorOptions::default()).unwrap();
    for _ in 0..2 {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let c = Client::new(&emu);
            assert_eq!(
                c.call(Method::GET, "/v1/.well-known/ready", None).await.0,
                StatusCode::OK
            );
        });
    }
    let url = emu.url();
    drop(emu);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let refused = rt.block_on(async {
        // The server stops after drop; allow it a moment to close the listener.
        for _ in 0..50 {
            if reqwest::Client::new()
                .get(format!("{url}/v1/meta"))
                .send()
                .await
                .is_err()
            {
                return true;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        false
    });
    assert!(refused, "server still answering after drop");
}

impl Client {
    async fn gql_allow_any(&self, query: &str) -> (StatusCode, Value) {
        self.json(Method::POST, "/v1/graphql", Some(json!({"query": query})))
            .await
    }
}

#[tokio::test]
async fn pause_holds_requests_and_fail_with_answers_every_request() {
    let emu = Emulator::start().await.expect("start");
    let c = Client::new(&emu);
    emu.pause();
    let held = tokio::time::timeout(
        std::time::Duration::from_millis(300),
        c.call(Method::GET, "/v1/meta", None),
    )
    .await;
    assert!(held.is_err(), "a paused emulator answers nothing");
    emu.resume();
    assert_eq!(
        c.call(Method::GET, "/v1/meta", None).await.0,
        StatusCode::OK
    );

    emu.fail_with(503, None).expect("no body");
    let (status, body) = c.call(Method::GET, "/v1/.well-known/ready", None).await;
    assert_eq!(
        (status, body.as_str()),
        (StatusCode::SERVICE_UNAVAILABLE, "")
    );
    emu.fail_with(429, Some(r#"{"message":"slow down"}"#))
        .expect("JSON body");
    let (status, v) = c
        .json(
            Method::POST,
            "/v1/graphql",
            Some(json!({"query": "{ Get { X { a } } }"})),
        )
        .await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(v["message"], "slow down");
    assert!(emu.fail_with(500, Some("not json")).is_err());
    emu.heal();
    assert_eq!(
        c.call(Method::GET, "/v1/meta", None).await.0,
        StatusCode::OK
    );
}

#[tokio::test]
async fn bm25_keyword_search_over_graphql() {
    let (emu, c) = start().await;
    c.create(json!({"class": "K", "vectorizer": "none",
        "invertedIndexConfig": {"bm25": {"k1": 1.2, "b": 0.5}, "stopwords": {"preset": "none"}, "usingBlockMaxWAND": true},
        "properties": [
            {"name": "key", "dataType": ["text"], "tokenization": "field", "indexSearchable": false},
            {"name": "txt", "dataType": ["text"], "tokenization": "word", "indexSearchable": true, "indexFilterable": false},
            {"name": "lang", "dataType": ["text"], "tokenization": "field"}]}))
        .await;
    c.batch(json!([
        {"class": "K", "id": uuid(1), "properties": {"key": "a", "txt": "zebra zebra the", "lang": "en"}, "vector": [1.0, 0.0]},
        {"class": "K", "id": uuid(2), "properties": {"key": "b", "txt": "zebra plain plain", "lang": "de"}, "vector": [0.0, 1.0]},
        {"class": "K", "id": uuid(3), "properties": {"key": "c", "txt": "", "lang": "en"}, "vector": [1.0, 1.0]}
    ]))
    .await;
    let hits = |r: &Value, alias: &str| -> Vec<(String, String)> {
        r["data"]["Get"][alias]
            .as_array()
            .unwrap_or_else(|| panic!("no results in {r}"))
            .iter()
            .map(|o| {
                (
                    o["key"].as_str().unwrap().to_owned(),
                    o["_additional"]["score"].as_str().unwrap().to_owned(),
                )
            })
            .collect()
    };
    let r = c
        .gql(r#"{ Get { K(bm25: {query: "zebra the", properties: ["txt"]}, limit: 5) { key _additional { id score } } } }"#)
        .await;
    let all = hits(&r, "K");
    assert_eq!(
        all.iter().map(|h| h.0.as_str()).collect::<Vec<_>>(),
        ["a", "b"]
    );
    // The score is a String holding a float32.
    assert!(
        all.iter()
            .all(|h| h.1.parse::<f32>().is_ok_and(|s| s > 0.0)),
        "{all:?}"
    );
    // `where` restricts the candidates but not the statistics; aliases share one request with
    // a nearVector query; `properties` may be a single string.
    let r = c
        .gql(r#"{ Get { k: K(bm25: {query: "zebra the", properties: "txt"}, where: {path: ["lang"], operator: Equal, valueText: "de"}, limit: 5) { key _additional { score } }
                         v: K(nearVector: {vector: [0.0, 1.0]}, limit: 1) { key _additional { distance } } } }"#)
        .await;
    assert_eq!(hits(&r, "k"), [all[1].clone()]);
    assert_eq!(r["data"]["Get"]["v"][0]["key"], "b");
    // Errors: unknown property, a non-searchable one, bm25 with the cursor API, searchOperator.
    for (q, want) in [
        (
            r#"{ Get { K(bm25: {query: "x", properties: ["nope"]}) { key } } }"#,
            "no such prop",
        ),
        (
            r#"{ Get { K(bm25: {query: "x", properties: ["key"]}) { key } } }"#,
            "requires inverted index",
        ),
        (
            r#"{ Get { K(bm25: {query: "x"}, after: "", limit: 1) { key } } }"#,
            "other params cannot be set",
        ),
        (
            r#"{ Get { K(bm25: {query: "x", searchOperator: {operator: And}}) { key } } }"#,
            "searchOperator",
        ),
        (
            r#"{ Get { K(bm25: {query: 3}) { key } } }"#,
            "Expected type \"String\"",
        ),
    ] {
        let r = c.gql(q).await;
        let msg = r["errors"][0]["message"].as_str().unwrap_or_default();
        assert!(msg.contains(want), "{q}: {r}");
    }
    // Class settings are validated like the server does.
    for (inverted, want) in [
        (
            json!({"stopwords": {"preset": "fr"}}),
            "stopwordPreset 'fr' does not exist",
        ),
        (json!({"bm25": {"b": 1.5}}), "BM25.b must be >= 0 and <= 1"),
        (json!({"bm25": {"k1": -1}}), "BM25.k1 must be >= 0"),
        (
            json!({"stopwords": {"additions": ["x"], "removals": ["x"]}}),
            "in both stopwords.additions and stopwords.removals",
        ),
    ] {
        let (s, v) = c
            .json(
                Method::POST,
                "/v1/schema",
                Some(json!({"class": "Bad", "invertedIndexConfig": inverted})),
            )
            .await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(v.to_string().contains(want), "{v}");
    }
    assert_eq!(emu.spec_violations(), Vec::<String>::new());
}
