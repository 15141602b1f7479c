//! The budget of every request: how many keys, records, neighbours and scan rows one request
//! may ask for, how many bytes its answer may hold, and how many requests and body bytes are
//! handled at once. Every check here runs before the backend is called; over budget is a 400
//! `limit_exceeded` that names the limit and its setting, and nothing is done.
//!
//! `docs/service.md` ("Request budgets") explains the defaults.

use std::io;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse as _, Response};
use serde::Serialize;

use crate::error::ApiError;

/// Default of `--max-batch-keys`.
pub(crate) const DEFAULT_MAX_BATCH_KEYS: usize = 1000;
/// Default of `--max-batch-records`.
pub(crate) const DEFAULT_MAX_BATCH_RECORDS: usize = 1000;
/// Default of `--max-k`.
pub(crate) const DEFAULT_MAX_K: usize = 1000;
/// Default of `--max-scan-page`.
pub(crate) const DEFAULT_MAX_SCAN_PAGE: usize = 1000;
/// Default of `--max-response-bytes`: 8 MiB.
/// Most queries in one `query:batch` request (each still bounded by `--max-k`, and their answers
/// together by `--max-response-bytes`).
pub(crate) const MAX_BATCH_QUERIES: usize = 100;
/// Default of `--max-response-bytes`.
pub(crate) const DEFAULT_MAX_RESPONSE_BYTES: usize = 8 * 1024 * 1024;
/// Default of `--max-concurrent-requests`.
pub(crate) const DEFAULT_MAX_CONCURRENT_REQUESTS: usize = 32;
/// Default of `--max-inflight-body-bytes`: 16 MiB (two bodies of the largest size at once).
pub(crate) const DEFAULT_MAX_INFLIGHT_BODY_BYTES: usize = 16 * 1024 * 1024;
/// Default of `--max-body-bytes`: 8 MiB (1000 records of 768 values).
pub(crate) const DEFAULT_MAX_BODY_BYTES: usize = 8 * 1024 * 1024;

/// The longest JSON text of one `f32` as serde_json writes it (`-1.1754944e-38`) plus its
/// comma: the estimate of an embedding value in an answer.
pub(crate) const JSON_BYTES_PER_VALUE: usize = 16;
/// Estimate of one answer record without its embedding values and metadata: braces, field
/// names, score and distance (the key is counted separately).
pub(crate) const JSON_BYTES_PER_RECORD: usize = 128;

/// The budget of a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Limits {
    /// Most keys of `vectors:get` and `vectors:delete`.
    pub max_batch_keys: usize,
    /// Most records of `vectors:upsert`.
    pub max_batch_records: usize,
    /// Largest `k` of a query.
    pub max_k: usize,
    /// Largest scan page (also the page size when a request gives none).
    pub max_scan_page: usize,
    /// Most bytes of one answer's JSON body.
    pub max_response_bytes: usize,
    /// Most `/v1` requests handled at once; others wait (within the request timeout).
    pub max_concurrent_requests: usize,
    /// Most request-body bytes of `/v1` requests handled at once; others wait (within the
    /// request timeout).
    pub max_inflight_body_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_batch_keys: DEFAULT_MAX_BATCH_KEYS,
            max_batch_records: DEFAULT_MAX_BATCH_RECORDS,
            max_k: DEFAULT_MAX_K,
            max_scan_page: DEFAULT_MAX_SCAN_PAGE,
            max_response_bytes: DEFAULT_MAX_RESPONSE_BYTES,
            max_concurrent_requests: DEFAULT_MAX_CONCURRENT_REQUESTS,
            max_inflight_body_bytes: DEFAULT_MAX_INFLIGHT_BODY_BYTES,
        }
    }
}

/// 400 `limit_exceeded`.
pub(crate) fn exceeded(message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, "limit_exceeded", message)
}

impl Limits {
    /// `k` within `--max-k`.
    pub(crate) fn check_k(&self, k: u64) -> Result<usize, ApiError> {
        match usize::try_from(k) {
            Ok(k) if k <= self.max_k => Ok(k),
            _ => Err(exceeded(format!(
                "k is {k}; at most {} (--max-k)",
                self.max_k
            ))),
        }
    }

    /// The page size to ask the backend for: `page_size`, or the limit when it is 0.
    pub(crate) fn scan_page(&self, page_size: u64) -> Result<usize, ApiError> {
        match usize::try_from(page_size) {
            Ok(0) => Ok(self
                .max_scan_page
                .min(vector_tier::ScanRequest::DEFAULT_PAGE_SIZE)),
            Ok(n) if n <= self.max_scan_page => Ok(n),
            _ => Err(exceeded(format!(
                "page_size is {page_size}; at most {} (--max-scan-page)",
                self.max_scan_page
            ))),
        }
    }

    /// The estimated answer of `records` records of `dimension` values each (0 without
    /// embeddings) within `--max-response-bytes`, before any work.
    pub(crate) fn check_answer(
        &self,
        what: &str,
        records: usize,
        dimension: usize,
        key_bytes: usize,
    ) -> Result<(), ApiError> {
        let estimate = records
            .saturating_mul(
                dimension
                    .saturating_mul(JSON_BYTES_PER_VALUE)
                    .saturating_add(JSON_BYTES_PER_RECORD),
            )
            .saturating_add(key_bytes);
        if estimate > self.max_response_bytes {
            return Err(exceeded(format!(
                "{what}: {records} records of {dimension} values would make an answer of about \
                 {estimate} bytes ({JSON_BYTES_PER_VALUE} per value); at most {} bytes \
                 (--max-response-bytes)",
                self.max_response_bytes
            )));
        }
        Ok(())
    }

    /// Whether `records` records of any dimension (up to the core's maximum) surely fit, so the
    /// dimension need not be known.
    pub(crate) fn fits_any_dimension(&self, records: usize, key_bytes: usize) -> bool {
        self.check_answer("", records, vector_tier::validate::MAX_DIMENSION, key_bytes)
            .is_ok()
    }

    /// Serialises an answer, refusing (without sending anything) one longer than
    /// `--max-response-bytes`: the exact check, metadata included, after the estimate.
    pub(crate) fn json<T: Serialize>(&self, value: &T) -> Result<Response, ApiError> {
        let mut out = Capped {
            buf: Vec::with_capacity(1024),
            cap: self.max_response_bytes,
            over: false,
        };
        match serde_json::to_writer(&mut out, value) {
            Ok(()) => {
                let mut response = out.buf.into_response();
                response.headers_mut().insert(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/json"),
                );
                Ok(response)
            }
            Err(_) if out.over => Err(exceeded(format!(
                "the answer would be larger than {} bytes (--max-response-bytes); ask for fewer \
                 records or leave out embeddings",
                self.max_response_bytes
            ))),
            Err(e) => Err(ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                format!("cannot serialise the answer: {e}"),
            )),
        }
    }
}

/// A buffer that refuses to grow past `cap`.
struct Capped {
    buf: Vec<u8>,
    cap: usize,
    over: bool,
}

impl io::Write for Capped {
    fn write(&mut self, b: &[u8]) -> io::Result<usize> {
        if self.buf.len() + b.len() > self.cap {
            self.over = true;
            return Err(io::Error::other("answer too large"));
        }
        self.buf.extend_from_slice(b);
        Ok(b.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checks_name_the_limit() {
        let l = Limits::default();
        assert_eq!(l.check_k(1000).unwrap(), 1000);
        let e = l.check_k(1001).unwrap_err();
        assert_eq!((e.status().as_u16(), e.kind()), (400, "limit_exceeded"));
        assert_eq!(l.scan_page(0).unwrap(), 1000);
        assert!(l.scan_page(1001).is_err());
        // 1000 records x 1024 values x 16 bytes = 16 MB > 8 MiB.
        assert!(l.check_answer("query", 1000, 1024, 0).is_err());
        assert!(l.check_answer("query", 100, 1024, 0).is_ok());
        assert!(l.fits_any_dimension(2, 0) && !l.fits_any_dimension(100, 0));
        let small = Limits {
            max_response_bytes: 10,
            ..l
        };
        assert!(small.json(&"0123456789abc").is_err());
        assert!(small.json(&"012345").is_ok());
    }
}
