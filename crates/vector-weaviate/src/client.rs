//! The thin HTTP client: JSON requests to `/v1/...` with the bearer token, transport errors
//! turned into [`WeaviateError`] without URLs or secrets, and the GraphQL envelope.

use std::fmt;
use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::config::WeaviateConfig;
use crate::error::{WeaviateError, server_message, truncate};

/// An HTTP answer: status and body text.
#[derive(Debug)]
pub(crate) struct Reply {
    pub(crate) status: u16,
    pub(crate) body: String,
}

impl Reply {
    /// The body as JSON, for a successful call.
    pub(crate) fn json(&self, what: &str) -> Result<Value, WeaviateError> {
        serde_json::from_str(&self.body).map_err(|e| WeaviateError::decode(what, e))
    }

    /// Fails unless the status is one of `ok`.
    pub(crate) fn expect(self, what: &str, ok: &[u16]) -> Result<Self, WeaviateError> {
        if ok.contains(&self.status) {
            Ok(self)
        } else {
            Err(WeaviateError::status(what, self.status, &self.body))
        }
    }
}

/// The outcome of a GraphQL call that reached the server.
#[derive(Debug)]
pub(crate) enum Gql {
    /// `data`, with no `errors`.
    Data(Value),
    /// The `errors` messages (HTTP 200 with `errors`, or the 422 Weaviate sends when the schema
    /// is empty).
    Errors(Vec<String>),
}

/// The HTTP client. `Debug` shows the base URL only.
#[derive(Clone)]
pub(crate) struct Client {
    http: reqwest::Client,
    base: String,
    api_key: Option<String>,
    timeout: Duration,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("base", &vector_backend::redact_url(&self.base))
            .field("api_key", &self.api_key.as_ref().map(|_| "***"))
            .finish_non_exhaustive()
    }
}

/// The causes of a transport error, joined, without the request URL (it carries no secret,
/// but the configured base URL is the user's business, and the chain is what explains).
fn cause_chain(e: reqwest::Error) -> String {
    let e = e.without_url();
    let mut parts = vec![e.to_string()];
    let mut source = std::error::Error::source(&e);
    while let Some(s) = source {
        let text = s.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        source = s.source();
    }
    truncate(&parts.join(": "))
}

impl Client {
    pub(crate) fn new(config: &WeaviateConfig) -> Result<Self, WeaviateError> {
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            .connect_timeout(config.connect_timeout)
            .build()
            .map_err(|e| WeaviateError::Unreachable(cause_chain(e)))?;
        Ok(Self {
            http,
            base: format!("{}/v1", config.base_url),
            api_key: config.api_key.clone(),
            timeout: config.timeout,
        })
    }

    fn transport(&self, what: &str, e: reqwest::Error) -> WeaviateError {
        if e.is_timeout() && !e.is_connect() {
            WeaviateError::Timeout {
                what: what.to_owned(),
                timeout_ms: self.timeout.as_millis(),
            }
        } else {
            WeaviateError::Unreachable(cause_chain(e))
        }
    }

    /// Sends one request. `path` starts with `/` and is relative to `/v1`; every dynamic part of
    /// it is a class name or UUID this crate generated.
    pub(crate) async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Reply, WeaviateError> {
        let what = format!("{method} /v1{}", path.split('?').next().unwrap_or(path));
        let mut req = self.http.request(method, format!("{}{path}", self.base));
        if let Some(key) = &self.api_key {
            req = req.bearer_auth(key);
        }
        if let Some(body) = body {
            req = req.json(body);
        }
        let resp = req.send().await.map_err(|e| self.transport(&what, e))?;
        let status = resp.status().as_u16();
        let body = resp.text().await.map_err(|e| self.transport(&what, e))?;
        if status == StatusCode::UNAUTHORIZED.as_u16() || status == StatusCode::FORBIDDEN.as_u16() {
            let hint = if self.api_key.is_some() {
                "the API key was refused"
            } else {
                "the server needs an API key (api_key=... in the URL or WEAVIATE_API_KEY)"
            };
            return Err(WeaviateError::Status {
                what,
                status,
                message: format!("{hint}: {}", server_message(&body)),
            });
        }
        Ok(Reply { status, body })
    }

    pub(crate) async fn get(&self, path: &str) -> Result<Reply, WeaviateError> {
        self.send(Method::GET, path, None).await
    }

    /// Runs a GraphQL query (`POST /v1/graphql`) and splits `data` from `errors`.
    pub(crate) async fn graphql(&self, query: String, what: &str) -> Result<Gql, WeaviateError> {
        let reply = self
            .send(Method::POST, "/graphql", Some(&json!({ "query": query })))
            .await?;
        match reply.status {
            200 => {}
            // "no graphql provider present": Weaviate's answer when no class exists at all.
            422 => return Ok(Gql::Errors(vec![server_message(&reply.body)])),
            status => return Err(WeaviateError::status(what, status, &reply.body)),
        }
        let v = reply.json(what)?;
        if let Some(errors) = v
            .get("errors")
            .and_then(Value::as_array)
            .filter(|e| !e.is_empty())
        {
            let messages = errors
                .iter()
                .map(|e| {
                    e.get("message")
                        .and_then(Value::as_str)
                        .unwrap_or("(no message)")
                        .to_owned()
                })
                .collect();
            return Ok(Gql::Errors(messages));
        }
        match v.get("data") {
            Some(data) if !data.is_null() => Ok(Gql::Data(data.clone())),
            _ => Err(WeaviateError::decode(
                what,
                "a GraphQL answer without data or errors",
            )),
        }
    }
}
