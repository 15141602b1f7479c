//! A minimal HTTP/1.0 client over `std::net` for talking to `vtier serve` and Prometheus on
//! 127.0.0.1: one request per connection, the response read to EOF (HTTP/1.0 means no chunked
//! encoding), so the xtask needs no HTTP crate.

use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};

/// A response.
#[derive(Debug)]
pub(crate) struct Reply {
    pub(crate) status: u16,
    pub(crate) body: String,
    /// Round-trip time of the request.
    pub(crate) elapsed: Duration,
}

impl Reply {
    /// The body as JSON.
    pub(crate) fn json(&self) -> anyhow::Result<serde_json::Value> {
        serde_json::from_str(&self.body)
            .with_context(|| format!("not JSON (status {}): {:.300}", self.status, self.body))
    }
}

/// Sends `method path` with an optional JSON body to `127.0.0.1:port`.
pub(crate) fn request(
    port: u16,
    method: &str,
    path: &str,
    json: Option<&str>,
) -> anyhow::Result<Reply> {
    send(port, method, path, json.map(|b| ("application/json", b)))
}

/// Sends a request with a body of the given content type.
pub(crate) fn send(
    port: u16,
    method: &str,
    path: &str,
    body: Option<(&str, &str)>,
) -> anyhow::Result<Reply> {
    let started = Instant::now();
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5))
        .with_context(|| format!("connecting to {addr}"))?;
    stream.set_read_timeout(Some(Duration::from_secs(60)))?;
    let mut head = format!("{method} {path} HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\n");
    if let Some((ty, b)) = body {
        head.push_str(&format!(
            "Content-Type: {ty}\r\nContent-Length: {}\r\n",
            b.len()
        ));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes())?;
    if let Some((_, b)) = body {
        stream.write_all(b.as_bytes())?;
    }
    let mut raw = Vec::new();
    stream
        .read_to_end(&mut raw)
        .with_context(|| format!("reading the reply to {method} {path}"))?;
    let text = String::from_utf8_lossy(&raw);
    let Some((head, body)) = text.split_once("\r\n\r\n") else {
        bail!("{method} {path}: malformed reply {text:.200}");
    };
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .with_context(|| format!("{method} {path}: no status in {head:.200}"))?;
    Ok(Reply {
        status,
        body: body.to_owned(),
        elapsed: started.elapsed(),
    })
}

/// Percent-encodes a query-string or form value.
pub(crate) fn encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len() * 3);
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn encodes_promql() {
        assert_eq!(
            super::encode(r#"sum(rate(x{a="b"}[1m]))"#),
            "sum%28rate%28x%7Ba%3D%22b%22%7D%5B1m%5D%29%29"
        );
    }
}
