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
    a.backend_keys.unset("redis_url");
    let e = Server::bind(&a).await.unwrap_err().to_string();
    assert!(e.contains("redis"), "{e}");
}

/// A configured token source that yields no token refuses to start (before: the service
/// started with every `/v1` route open, the only sign a log field).
#[tokio::test]
async fn an_empty_token_source_refuses_to_start() {
    let dir = std::env::temp_dir().join(format!("vtier-tokens-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("tokens");
    std::fs::write(
        &file,
        "# ingest:put-a-secret-here\n\n   # another comment\n",
    )
    .unwrap();
    let mut a = args();
    a.api_tokens_file = Some(file.clone());
    let e = Server::bind(&a).await.unwrap_err().to_string();
    assert!(
        e.contains("holds no token") && e.contains("refusing to start"),
        "{e}"
    );
    let mut a = args();
    a.api_tokens = Some(String::new());
    let e = Server::bind(&a).await.unwrap_err().to_string();
    assert!(
        e.contains("VTIER_API_TOKENS") && e.contains("refusing to start"),
        "{e}"
    );
    let mut a = args();
    a.api_tokens = Some(" , ".into());
    assert!(Server::bind(&a).await.is_err());
    // A token without a name is an error that does not quote it.
    let mut a = args();
    a.api_tokens = Some("just-a-secret".into());
    let e = Server::bind(&a).await.unwrap_err().to_string();
    assert!(
        e.contains("NAME:SECRET") && !e.contains("just-a-secret"),
        "{e}"
    );
    std::fs::write(&file, "ingest:a\nsearch:a\n").unwrap();
    let mut a = args();
    a.api_tokens_file = Some(file);
    let e = Server::bind(&a).await.unwrap_err().to_string();
    assert!(e.contains("same secret"), "{e}");
    let _ = std::fs::remove_dir_all(dir);
}

/// Opens a connection and sends the start of a request, never finishing its headers.
async fn half_open(addr: std::net::SocketAddr) -> tokio::net::TcpStream {
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        .await
        .unwrap();
    s
}

/// `GET /health` on a fresh connection, with a deadline.
async fn health(addr: std::net::SocketAddr) -> bool {
    let check = async {
        let mut s = tokio::net::TcpStream::connect(addr).await.ok()?;
        s.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .await
            .ok()?;
        let mut out = String::new();
        s.read_to_string(&mut out).await.ok()?;
        Some(out.starts_with("HTTP/1.1 200"))
    };
    matches!(
        tokio::time::timeout(Duration::from_secs(2), check).await,
        Ok(Some(true))
    )
}

/// The finding: clients that send half a header were held open forever (no header-read
/// timeout, no connection limit). Now 500 of them, held for up to 35 s, are closed by the
/// server (after the 10 s default header-read timeout), and `/health` answers meanwhile.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn half_open_connections_are_closed_and_health_answers() {
    let (addr, stop, task) = start(args()).await;
    let started = std::time::Instant::now();
    let mut readers = Vec::new();
    for _ in 0..500 {
        let mut s = half_open(addr).await;
        readers.push(tokio::spawn(async move {
            let mut buf = [0u8; 1024];
            // Whatever the server does (an error answer, then close, or just close), the read
            // ends with EOF or an error only when the server closes the connection.
            let closed = tokio::time::timeout(Duration::from_secs(35), async {
                loop {
                    match s.read(&mut buf).await {
                        Ok(0) | Err(_) => break,
                        Ok(_) => {}
                    }
                }
            })
            .await;
            closed.is_ok()
        }));
    }
    let mut answered = 0;
    while !readers.iter().all(tokio::task::JoinHandle::is_finished) {
        assert!(
            health(addr).await,
            "/health did not answer with 500 half-open connections"
        );
        answered += 1;
        assert!(started.elapsed() < Duration::from_secs(40));
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    for r in readers {
        assert!(r.await.unwrap(), "a half-open connection was held for 35 s");
    }
    let took = started.elapsed();
    assert!(
        took >= Duration::from_secs(9),
        "closed before the timeout: {took:?}"
    );
    assert!(answered >= 5, "{answered}");
    stop.send(()).unwrap();
    task.await.unwrap().unwrap();
}

/// Idle keep-alive connections are closed after the header-read timeout too, and the
/// connection limit holds: with 2 connections allowed, a third is served once one closes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_connections_close_and_the_connection_limit_holds() {
    let mut a = args();
    a.header_read_timeout_secs = 1.0;
    a.max_connections = 2;
    let (addr, stop, task) = start(a).await;
    // A finished request, then silence: closed after ~1 s.
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut buf = [0u8; 1024];
    let n = s.read(&mut buf).await.unwrap();
    assert!(buf[..n].starts_with(b"HTTP/1.1 200"));
    let t = std::time::Instant::now();
    let rest = tokio::time::timeout(Duration::from_secs(5), s.read(&mut buf)).await;
    assert!(matches!(rest, Ok(Ok(0) | Err(_))), "{rest:?}");
    assert!(
        t.elapsed() >= Duration::from_millis(800),
        "{:?}",
        t.elapsed()
    );

    // Two silent connections take both places; a third waits for one of them to close.
    let _a = tokio::net::TcpStream::connect(addr).await.unwrap();
    let _b = tokio::net::TcpStream::connect(addr).await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let t = std::time::Instant::now();
    assert!(health(addr).await);
    assert!(
        t.elapsed() >= Duration::from_millis(500),
        "the third connection was served at once: {:?}",
        t.elapsed()
    );
    stop.send(()).unwrap();
    task.await.unwrap().unwrap();
}

/// Graceful shutdown has a deadline: a request that does not finish (its body never comes)
/// does not hold the process past `--shutdown-timeout-secs`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_has_a_deadline() {
    let mut a = args();
    a.shutdown_timeout_secs = 1.0;
    let (addr, stop, task) = start(a).await;
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(
        b"PUT /v1/namespaces/n/vectors/k HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"embedding\":",
    )
    .await
    .unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let t = std::time::Instant::now();
    stop.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(5), task)
        .await
        .expect("shutdown waited for the stuck request")
        .unwrap()
        .unwrap();
    assert!(
        t.elapsed() >= Duration::from_millis(900),
        "{:?}",
        t.elapsed()
    );
    drop(s);
}

/// TLS handshakes in progress are capped: with one allowed, a client that opens a connection
/// and never says hello holds the only slot, and a real client's handshake waits until that
/// connection goes away.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_handshakes_in_flight_are_capped() {
    use tokio_rustls::rustls::pki_types::pem::PemObject as _;
    use tokio_rustls::rustls::pki_types::{CertificateDer, ServerName};
    use tokio_rustls::rustls::{ClientConfig, RootCertStore};

    let mut a = args();
    a.tls_cert = Some(fixture("cert.pem"));
    a.tls_key = Some(fixture("key.pem"));
    a.max_tls_handshakes = 1;
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
    let handshake = || {
        let connector = connector.clone();
        async move {
            let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
            connector
                .connect(ServerName::try_from("localhost").unwrap(), tcp)
                .await
        }
    };
    assert!(handshake().await.is_ok());

    let silent = tokio::net::TcpStream::connect(addr).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let waiting = tokio::spawn(handshake());
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(
        !waiting.is_finished(),
        "a second handshake ran beside the first"
    );
    drop(silent);
    let done = tokio::time::timeout(Duration::from_secs(5), waiting)
        .await
        .expect("the handshake did not proceed once the slot was free")
        .unwrap();
    assert!(done.is_ok(), "{done:?}");
    stop.send(()).unwrap();
    task.await.unwrap().unwrap();
}
