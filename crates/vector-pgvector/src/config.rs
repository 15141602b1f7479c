//! [`PgConfig`]: a libpq connection string (URL or key/value form) plus this crate's own
//! options, which are removed before the rest is handed to tokio-postgres.

use std::fmt;
use std::str::FromStr as _;
use std::time::Duration;

use tokio_postgres::config::SslMode;
use vector_backend::{Error, Result, redact_url};

/// Settings of the PostgreSQL + pgvector backend, parsed from `PG_CONNECTION_STRING`.
///
/// Every libpq parameter tokio-postgres understands is accepted (`host`, `port`, `user`,
/// `password`, `dbname`, `connect_timeout`, `application_name`, `options`, `keepalives`,
/// `sslmode`, ...). These are this crate's own, accepted as URL query parameters or key/value
/// pairs:
///
/// | key | meaning | default |
/// |---|---|---|
/// | `pool_size` | most pooled connections | 16 |
/// | `connect_timeout` (libpq's) | seconds to connect; also the pool's wait/create/recycle timeouts | 5 |
/// | `statement_timeout` | seconds a statement may run (server-side, 0 = none) | 60 |
/// | `ef_search` | HNSW candidate list at query time (raised to the over-fetched k) | 400 |
/// | `hnsw_m`, `hnsw_ef_construction` | HNSW build parameters for new namespaces | 16, 64 |
///
/// `sslmode=disable` and `prefer` connect without TLS (this build has no TLS connector);
/// `require`, `verify-ca` and `verify-full` are refused with `InvalidArgument` rather than
/// silently downgraded.
#[derive(Clone)]
#[non_exhaustive]
pub struct PgConfig {
    /// The parsed connection settings (holds the password; never printed).
    pub(crate) pg: tokio_postgres::Config,
    /// The connection string with its password replaced, for messages.
    redacted: String,
    /// Most pooled connections.
    pub pool_size: usize,
    /// Connect timeout, also used for the pool's wait, create and recycle timeouts.
    pub connect_timeout: Duration,
    /// Server-side statement timeout; `None` for no limit.
    pub statement_timeout: Option<Duration>,
    /// `hnsw.ef_search` at query time (at least the over-fetched k, at most 1000).
    pub ef_search: u32,
    /// HNSW `m` for new namespaces.
    pub hnsw_m: u32,
    /// HNSW `ef_construction` for new namespaces.
    pub hnsw_ef_construction: u32,
}

impl fmt::Debug for PgConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PgConfig")
            .field("url", &self.redacted)
            .field("pool_size", &self.pool_size)
            .field("connect_timeout", &self.connect_timeout)
            .field("statement_timeout", &self.statement_timeout)
            .field("ef_search", &self.ef_search)
            .field("hnsw_m", &self.hnsw_m)
            .field("hnsw_ef_construction", &self.hnsw_ef_construction)
            .finish()
    }
}

/// This crate's own keys, removed before tokio-postgres parses the rest.
const OWN_KEYS: [&str; 6] = [
    "pool_size",
    "statement_timeout",
    "ef_search",
    "hnsw_m",
    "hnsw_ef_construction",
    "pool_max_size",
];

impl PgConfig {
    /// Parses a `postgres://` / `postgresql://` URL or a libpq key/value string.
    ///
    /// # Errors
    /// `InvalidArgument` for a malformed string, a bad option value or an unsupported
    /// `sslmode`. Messages never contain the password.
    pub fn from_url(s: &str) -> Result<Self> {
        let redacted = redact_url(s);
        let bad = |what: &str| {
            Error::invalid_argument(format!(
                "invalid PostgreSQL connection string {redacted}: {what}"
            ))
        };
        let (rest, own) = if s.starts_with("postgres://") || s.starts_with("postgresql://") {
            split_url(s).map_err(|e| bad(&e))?
        } else {
            split_key_values(s)
        };
        // tokio-postgres errors quote no values, so they cannot leak the password.
        let mut pg = tokio_postgres::Config::from_str(&rest).map_err(|e| bad(&e.to_string()))?;
        let mut config = Self {
            pg: tokio_postgres::Config::new(),
            redacted: redacted.clone(),
            pool_size: 16,
            connect_timeout: pg
                .get_connect_timeout()
                .copied()
                .unwrap_or(Duration::from_secs(5)),
            statement_timeout: Some(Duration::from_secs(60)),
            ef_search: 400,
            hnsw_m: 16,
            hnsw_ef_construction: 64,
        };
        for (k, v) in own {
            let num = || {
                v.parse::<f64>()
                    .ok()
                    .filter(|n| n.is_finite() && *n >= 0.0)
                    .ok_or_else(|| bad(&format!("{k} must be a non-negative number")))
            };
            let int = |lo: u64, hi: u64| {
                v.parse::<u64>()
                    .ok()
                    .filter(|n| (lo..=hi).contains(n))
                    .ok_or_else(|| bad(&format!("{k} must be an integer in {lo}..={hi}")))
            };
            match k.as_str() {
                "pool_size" | "pool_max_size" => config.pool_size = int(1, 10_000)? as usize,
                "statement_timeout" => {
                    let secs = num()?;
                    config.statement_timeout = (secs > 0.0).then(|| Duration::from_secs_f64(secs));
                }
                "ef_search" => config.ef_search = int(1, 1000)? as u32,
                "hnsw_m" => config.hnsw_m = int(2, 100)? as u32,
                "hnsw_ef_construction" => config.hnsw_ef_construction = int(4, 1000)? as u32,
                _ => {}
            }
        }
        match pg.get_ssl_mode() {
            SslMode::Disable | SslMode::Prefer => {}
            _ => {
                return Err(bad(
                    "sslmode=require is not supported by this build (no TLS connector); use sslmode=disable or prefer, or a TLS-terminating proxy",
                ));
            }
        }
        // Never wait forever on a black-holed address.
        pg.connect_timeout(config.connect_timeout);
        if pg.get_application_name().is_none() {
            pg.application_name("vector-tier");
        }
        if let Some(t) = config.statement_timeout {
            let existing = pg.get_options().unwrap_or_default().to_owned();
            let sep = if existing.is_empty() { "" } else { " " };
            pg.options(format!(
                "{existing}{sep}-c statement_timeout={}",
                t.as_millis()
            ));
        }
        config.pg = pg;
        Ok(config)
    }

    /// The connection string with its password replaced by `***`.
    pub fn redacted_url(&self) -> &str {
        &self.redacted
    }
}

/// Splits our own query parameters off a URL.
fn split_url(s: &str) -> std::result::Result<(String, Vec<(String, String)>), String> {
    let Some((base, query)) = s.split_once('?') else {
        return Ok((s.to_owned(), Vec::new()));
    };
    let mut own = Vec::new();
    let mut kept = Vec::new();
    for part in query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = part.split_once('=').unwrap_or((part, ""));
        if OWN_KEYS.contains(&k) {
            let v = url::form_urlencoded::parse(format!("v={v}").as_bytes())
                .next()
                .map(|(_, v)| v.into_owned())
                .unwrap_or_default();
            own.push((k.to_owned(), v));
        } else {
            kept.push(part);
        }
    }
    let rest = if kept.is_empty() {
        base.to_owned()
    } else {
        format!("{base}?{}", kept.join("&"))
    };
    Ok((rest, own))
}

/// Splits our own keys off a libpq key/value string (`host=x pool_size=4`).
fn split_key_values(s: &str) -> (String, Vec<(String, String)>) {
    let mut own = Vec::new();
    let mut kept = Vec::new();
    for part in s.split_whitespace() {
        match part.split_once('=') {
            Some((k, v)) if OWN_KEYS.contains(&k) => own.push((k.to_owned(), v.to_owned())),
            _ => kept.push(part),
        }
    }
    (kept.join(" "), own)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_own_options_and_redacts() {
        let c = PgConfig::from_url(
            "postgresql://bob:s3cret@db.example:5433/v?pool_size=4&statement_timeout=2.5&connect_timeout=3&sslmode=disable&ef_search=200",
        )
        .unwrap();
        assert_eq!(c.pool_size, 4);
        assert_eq!(c.statement_timeout, Some(Duration::from_millis(2500)));
        assert_eq!(c.connect_timeout, Duration::from_secs(3));
        assert_eq!(c.ef_search, 200);
        assert_eq!(c.pg.get_dbname(), Some("v"));
        assert_eq!(c.pg.get_ports(), &[5433]);
        assert!(
            c.pg.get_options()
                .unwrap()
                .contains("statement_timeout=2500")
        );
        let dbg = format!("{c:?}");
        assert!(!dbg.contains("s3cret") && dbg.contains("bob"), "{dbg}");
        let kv =
            PgConfig::from_url("host=localhost user=u password=pw dbname=d pool_size=2").unwrap();
        assert_eq!((kv.pool_size, kv.pg.get_dbname()), (2, Some("d")));
    }

    #[test]
    fn refuses_bad_values_and_tls_without_leaking() {
        for bad in [
            "postgresql://u:topsecret@h/d?pool_size=0",
            "postgresql://u:topsecret@h/d?sslmode=require",
            "postgresql://u:topsecret@h/d?statement_timeout=x",
            "postgresql://u:topsecret@h/d?nonsense_param=1",
        ] {
            let e = PgConfig::from_url(bad).unwrap_err();
            assert_eq!(
                e.kind(),
                vector_backend::ErrorKind::InvalidArgument,
                "{bad}"
            );
            assert!(!e.to_string().contains("topsecret"), "{e}");
        }
    }
}
