//! `vtier serve` as a process: it starts on the in-memory default, answers over HTTP, and exits
//! cleanly (status 0) on SIGTERM after draining, as Docker and Kubernetes stop it.

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// One HTTP/1.1 request over a fresh connection; returns the whole response.
fn http(addr: &str, method: &str, path: &str, body: &str) -> String {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out
}

#[test]
#[cfg(unix)]
fn serve_answers_and_stops_on_sigterm() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_vtier"))
        .args([
            "serve",
            "--port",
            "0",
            "--bind",
            "127.0.0.1",
            "--log-format",
            "json",
            "--log",
            "info",
        ])
        .env_remove("BACKEND_TYPE")
        .env_remove("VTIER_API_TOKENS")
        .env_remove("VTIER_API_TOKENS_FILE")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    // The first log line says where it listens: {"fields":{"message":"vtier serving","addr":"127.0.0.1:PORT",..}}
    let started = Instant::now();
    let addr = loop {
        let line = lines.next().expect("vtier exited before serving").unwrap();
        let v: serde_json::Value = serde_json::from_str(&line).unwrap_or_default();
        if v["fields"]["message"] == "vtier serving" {
            assert_eq!(v["fields"]["backend"], "memory", "{line}");
            break v["fields"]["addr"].as_str().unwrap().to_owned();
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "no startup line"
        );
    };
    assert!(http(&addr, "GET", "/health", "").starts_with("HTTP/1.1 200"));
    let put = http(
        &addr,
        "PUT",
        "/v1/namespaces/documents/vectors/doc1",
        r#"{"embedding":[0.1,0.2,0.3],"metadata":{"title":"Sample"}}"#,
    );
    assert!(put.starts_with("HTTP/1.1 200"), "{put}");
    let query = http(
        &addr,
        "POST",
        "/v1/namespaces/documents/query",
        r#"{"embedding":[0.1,0.2,0.35],"k":5}"#,
    );
    assert!(query.contains(r#""key":"doc1""#), "{query}");
    let metrics = http(&addr, "GET", "/metrics", "");
    assert!(metrics.contains(r#"vector_query_total{backend_type="memory",namespace="documents",operation="upsert"} 1"#), "{metrics}");

    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(15);
    let exit = loop {
        if let Some(exit) = child.try_wait().unwrap() {
            break exit;
        }
        assert!(
            Instant::now() < deadline,
            "vtier did not stop after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(exit.success(), "{exit:?}");
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    assert!(rest.iter().any(|l| l.contains("vtier stopped")), "{rest:?}");
}
