//! Rows back into the contract's types: search hits (native distance to score), records and
//! stored vectors (metadata parsed from its exact JSON text).

use pgvector::Vector;
use tokio_postgres::Row;
use vector_backend::driver::NativeDistance;
use vector_backend::{Metadata, Record, SearchResult, StoredVector};

use crate::error::PgError;

/// The metadata of a row, from the exact JSON text it was written as.
fn metadata(text: &str) -> Result<Metadata, PgError> {
    serde_json::from_str(text)
        .map_err(|e| PgError::Corrupt(format!("stored metadata is not a JSON object: {e}")))
}

/// A kNN row: `key, meta, distance[, embedding]`.
pub(crate) fn hit(
    row: &Row,
    native: NativeDistance,
    with_embedding: bool,
) -> Result<SearchResult, PgError> {
    let key: String = row.try_get(0)?;
    let meta: &str = row.try_get(1)?;
    let s = native.scored(row.try_get(2)?);
    let embedding = if with_embedding {
        Some(row.try_get::<_, Vector>(3)?.to_vec())
    } else {
        None
    };
    Ok(SearchResult::new(
        key,
        s.score,
        s.distance,
        metadata(meta)?,
        embedding,
    ))
}

/// A keyword row: `key, meta, score[, embedding]`; `distance` is `-score`.
pub(crate) fn keyword_hit(row: &Row, with_embedding: bool) -> Result<SearchResult, PgError> {
    let key: String = row.try_get(0)?;
    let meta: &str = row.try_get(1)?;
    let score: f64 = row.try_get(2)?;
    let embedding = if with_embedding {
        Some(row.try_get::<_, Vector>(3)?.to_vec())
    } else {
        None
    };
    Ok(SearchResult::new(
        key,
        score,
        -score,
        metadata(meta)?,
        embedding,
    ))
}

/// A scan row: `key, embedding, meta`.
pub(crate) fn record(row: &Row) -> Result<Record, PgError> {
    let (key, stored) = stored(row)?;
    Ok(Record::new(key, stored.embedding, stored.metadata))
}

/// A read row: `key, embedding, meta`.
pub(crate) fn stored(row: &Row) -> Result<(String, StoredVector), PgError> {
    let key: String = row.try_get(0)?;
    let v: Vector = row.try_get(1)?;
    let meta: &str = row.try_get(2)?;
    Ok((
        key,
        StoredVector {
            embedding: v.to_vec(),
            metadata: metadata(meta)?,
        },
    ))
}
