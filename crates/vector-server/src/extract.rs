//! [`ApiJson`] and [`ApiPath`]: JSON bodies and path parameters whose rejections are
//! [`ApiError`]s (JSON bodies) instead of plain text. Bodies are parsed with the service's list
//! limits in force (see [`crate::bounded`]).

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Path, Request};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use serde::de::DeserializeOwned;

use crate::bounded::{ListLimits, with_limits};
use crate::error::ApiError;
use crate::limits::exceeded;
use crate::state::AppState;

/// A JSON request body.
#[derive(Debug)]
pub(crate) struct ApiJson<T>(pub(crate) T);

fn is_json(req: &Request) -> bool {
    let Some(ct) = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let mime = ct.split(';').next().unwrap_or("").trim();
    let Some((ty, sub)) = mime.split_once('/') else {
        return false;
    };
    ty.eq_ignore_ascii_case("application")
        && (sub.eq_ignore_ascii_case("json") || sub.to_ascii_lowercase().ends_with("+json"))
}

impl<T: DeserializeOwned> FromRequest<AppState> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        if !is_json(&req) {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "expected a request with `Content-Type: application/json`",
            ));
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|r| {
            if r.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "payload_too_large",
                    format!(
                        "the body is larger than {} bytes (--max-body-bytes)",
                        state.inner.config.max_body_bytes
                    ),
                )
            } else {
                ApiError::new(StatusCode::BAD_REQUEST, "invalid_body", r.body_text())
            }
        })?;
        let limits = state.inner.config.limits;
        let list = ListLimits {
            keys: limits.max_batch_keys,
            records: limits.max_batch_records,
        };
        // Synchronous: the limits are in force for exactly this parse.
        let (parsed, hit) = with_limits(list, || axum::Json::<T>::from_bytes(&bytes));
        match parsed {
            Ok(axum::Json(value)) => Ok(Self(value)),
            Err(rejection) => match hit {
                Some(_) => Err(exceeded(rejection.body_text())),
                None => Err(rejection.into()),
            },
        }
    }
}

/// Percent-decoded path parameters (`%2F` in a key becomes `/`).
#[derive(Debug)]
pub(crate) struct ApiPath<T>(pub(crate) T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for ApiPath<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let Path(value) = Path::<T>::from_request_parts(parts, state).await?;
        Ok(Self(value))
    }
}
