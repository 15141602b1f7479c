//! The service over real sockets: `Server::bind` on a free port, reqwest as the client,
//! HTTPS with the fixture certificate, and graceful shutdown.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::sync::oneshot;
use vector_server::{ServeArgs, Server};

fn args() -> ServeArgs {
    let mut args = ServeArgs::default();
    args.port = 0;
    args.bind = [127, 0, 0, 1].into();
    args
}

/// Starts the server; returns its address, the shutdown trigger and the serving task.
async fn start(
    args: ServeArgs,
) -> (
    std::net::SocketAddr,
    oneshot::Sender<()>,
    tokio::task::JoinHandle<Result<(), vector_server::ServeError>>,
) {
    let server = Server::bind(&args).await.unwrap();
    let addr = server.local_addr();
    let (tx, rx) = oneshot::channel::<()>();
    let task = tokio::spawn(server.run(async move {
        let _ = rx.await;
    }));
    (addr, tx, task)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn curl_session_over_a_socket() {
    let mut a = args();
    a.api_tokens = Some("ci:e2e-token".into());
    let (addr, stop, task) = start(a).await;
    let base = format!("http://{addr}");
    let http = reqwest::Client::new();

    let r = http.put(format!("{base}/v1/namespaces/documents/vectors/doc1"))
        .json(&json!({ "embedding": [0.1, 0.2, 0.3], "metadata": { "title": "Sample Document", "category": "example" } }))
        .send().await.unwrap();
    assert_eq!(r.status(), 401, "a token is required");
    let r = http.put(format!("{base}/v1/namespaces/documents/vectors/doc1"))
        .bearer_auth("e2e-token")
        .json(&json!({ "embedding": [0.1, 0.2, 0.3], "metadata": { "title": "Sample Document", "category": "example" } }))
        .send().await.unwrap();
    assert_eq!(r.status(), 200);
    let r: Value = http
        .post(format!("{base}/v1/namespaces/documents/query"))
        .bearer_auth("e2e-token")
        .json(&json!({ "embedding": [0.1, 0.2, 0.35], "k": 5 }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(r["results"][0]["key"], "doc1", "{r}");
    assert!(r["results"][0]["score"].as_f64().unwrap() > 0.99);

    let text = http
        .get(format!("{base}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for (name, _, _) in vector_metrics::METRIC_NAMES {
        assert!(text.contains(name), "{name} missing from {text}");
    }
    assert!(text.contains(r#"vector_query_total{backend_type="memory",namespace="documents",operation="upsert"} 1"#), "{text}");
    assert_eq!(
        http.get(format!("{base}/ready"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );

    // Graceful shutdown: the task ends cleanly and the port stops answering.
    stop.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(10), task)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert!(http.get(format!("{base}/health")).send().await.is_err());
}

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_with_rustls() {
    use tokio_rustls::rustls::pki_types::pem::PemObject as _;
    use tokio_rustls::rustls::pki_types::{CertificateDer, ServerName};
    use tokio_rustls::rustls::{ClientConfig, RootCertStore};

    let mut a = args();
    a.tls_cert = Some(fixture("cert.pem"));
    a.tls_key = Some(fixture("key.pem"));
    let (addr, stop, task) = start(a).await;

    let mut roots = RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_file(fixture("ca.pem")).unwrap())
        .unwrap();
    let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut tls = connector
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await
        .unwrap();
    tls.write_all(b"GET /health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut response = String::new();
    tls.read_to_string(&mut response).await.unwrap();
    assert!(response.starts_with("HTTP/1.1 200 OK"), "{response}");
    assert!(response.contains(r#"{"status":"ok"}"#), "{response}");

    // Plain HTTP to the TLS port gets no HTTP answer.
    let plain = reqwest::Client::new()
        .get(format!("http://{addr}/health"))
        .timeout(Duration::from_secs(5))
        .send()
        .await;
    assert!(plain.is_err(), "{plain:?}");

    stop.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(10), task)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
}

#[tokio::test]
async fn bad_settings_fail_at_startup() {
    let mut a = args();
    a.tls_cert = Some(fixture("missing.pem"));
    a.tls_key = Some(fixture("key.pem"));
    let e = Server::bind(&a).await.unwrap_err().to_string();
    assert!(e.contains("missing.pem"), "{e}");

    let mut a = args();
    a.api_tokens_file = Some(fixture("no-such-token-file"));
    assert!(
        Server::bind(&a)
            .await
            .unwrap_err()
            .to_string()
            .contains("no-such-token-file")
    );

    // The redis backend without `redis_url` (flag or REDIS_URL) cannot start.
    let mut a = args();
    a.backend = vector_tier::BackendKind::Redis;
    a.redis_url = None;
    let e = Server::bind(&a).await.unwrap_err().to_string();
    assert!(e.contains("redis"), "{e}");
}
