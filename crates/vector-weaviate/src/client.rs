//! The HTTP client: JSON requests to `/v1/...` with the bearer token, each bounded by the
//! operation timeout (connecting included), and transport errors classified into
//! `Timeout`/`Unavailable` without URLs or secrets.

use std::fmt;
use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::config::WeaviateConfig;
use crate::error::WeaviateError;
use crate::filter::Where;
use crate::reply::{Deleted, Gql, Reply, server_message};

/// A request body of this many bytes gets the operation timeout once more (bulk chunks).
const BYTES_PER_TIMEOUT: usize = 1 << 20;

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
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl Client {
    pub(crate) fn new(config: &WeaviateConfig) -> Result<Self, WeaviateError> {
        // reqwest's own timeouts: the whole request (connect, send, answer) and the connect
        // phase alone, both the operation timeout. A frozen server therefore costs one timeout
        // per call, and the pool drops the connection it waited on.
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            .connect_timeout(config.timeout)
            .build()
            .map_err(|e| WeaviateError::transport("building the HTTP client", config.timeout, e))?;
        Ok(Self {
            http,
            base: format!("{}/v1", config.base_url),
            api_key: config.api_key.clone(),
            timeout: config.timeout,
        })
    }

    /// The operation timeout.
    pub(crate) fn timeout(&self) -> Duration {
        self.timeout
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
        let mut limit = self.timeout;
        if let Some(key) = &self.api_key {
            req = req.bearer_auth(key);
        }
        if let Some(body) = body {
            let bytes = serde_json::to_vec(body).map_err(|source| WeaviateError::Json {
                what: what.clone(),
                source,
            })?;
            // Bulk chunks take longer to send and to index: one timeout per started MiB.
            let units = bytes.len().div_ceil(BYTES_PER_TIMEOUT).max(1);
            limit = self.timeout * u32::try_from(units).unwrap_or(u32::MAX);
            req = req
                .timeout(limit)
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(bytes);
        }
        let resp = req
            .send()
            .await
            .map_err(|e| WeaviateError::transport(&what, limit, e))?;
        let status = resp.status().as_u16();
        let body = resp
            .text()
            .await
            .map_err(|e| WeaviateError::transport(&what, limit, e))?;
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
                code: None,
            });
        }
        Ok(Reply { status, body })
    }

    pub(crate) async fn get(&self, path: &str) -> Result<Reply, WeaviateError> {
        self.send(Method::GET, path, None).await
    }

    /// One `DELETE /v1/batch/objects` of the objects of `class` matching `condition` (at most
    /// the server's `QUERY_MAXIMUM_RESULTS` of them per call).
    pub(crate) async fn batch_delete(
        &self,
        class: &str,
        condition: &Where,
    ) -> Result<Deleted, WeaviateError> {
        let what = "DELETE /v1/batch/objects";
        let body = json!({
            "match": {"class": class, "where": condition.to_json()},
            "output": "minimal",
            "dryRun": false,
        });
        let v = self
            .send(Method::DELETE, "/batch/objects", Some(&body))
            .await?
            .expect(what, &[200])?
            .json(what)?;
        Ok(Deleted::parse(&v))
    }

    /// Runs a GraphQL query (`POST /v1/graphql`) and splits `data` from `errors`.
    pub(crate) async fn graphql(&self, query: &str, what: &str) -> Result<Gql, WeaviateError> {
        let reply = self
            .send(Method::POST, "/graphql", Some(&json!({ "query": query })))
            .await?;
        Gql::parse(reply, what)
    }
}
