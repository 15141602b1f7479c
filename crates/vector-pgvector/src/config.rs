//! [`PgConfig`]: a libpq connection string (URL or key/value form) plus this crate's own
//! options, which are removed before the rest is handed to tokio-postgres.

use std::fmt;
use std::str::FromStr as _;
use std::time::Duration;

use tokio_postgres::config::SslMode;
use vector_backend::driver::DEFAULT_OPERATION_TIMEOUT;
use vector_backend::{Error, Result, redact_url};

/// Settings of the PostgreSQL + pgvector backend, parsed from `PG_CONNECTION_STRING`.
///
/// Every libpq parameter tokio-postgres understands is accepted (`host`, `port`, `user`,
/// `password`, `dbname`, `application_name`, `options`, `keepalives`, `sslmode`, ...). These
/// are this crate's own, accepted as URL query parameters or key/value pairs:
///
/// | field | key | meaning | default |
/// |---|---|---|---|
/// | `timeout` | `timeout_ms` | milliseconds one operation may take: pool wait, connect, and every statement (server-side `statement_timeout` and a client-side deadline); bulk writes get more in proportion to their rows | 5000 |
/// | `pool_size` | `pool_size` | most pooled connections | 16 |
/// | `ef_search` | `ef_search` | HNSW candidate list at query time (raised to the candidates a query needs, at most 1000) | 400 |
/// | `hnsw_m`, `hnsw_ef_construction` | same | HNSW build parameters for new namespaces | 16, 64 |
///
/// libpq's own `connect_timeout` (seconds) is passed through to the socket connect, but
/// `timeout_ms` bounds every connect whatever it says. The former `statement_timeout` key
/// (seconds) is refused with a message naming `timeout_ms`.
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
    /// How long one operation may take (see the table above).
    pub timeout: Duration,
    /// Most pooled connections.
    pub pool_size: usize,
    /// `hnsw.ef_search` at query time (at least the candidates a query needs, at most 1000).
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
            .field("timeout", &self.timeout)
            .field("pool_size", &self.pool_size)
            .field("ef_search", &self.ef_search)
            .field("hnsw_m", &self.hnsw_m)
            .field("hnsw_ef_construction", &self.hnsw_ef_construction)
            .finish()
    }
}

/// This crate's own keys, removed before tokio-postgres parses the rest (`statement_timeout`
/// only to refuse it with a helpful message).
const OWN_KEYS: [&str; 7] = [
    "timeout_ms",
    "pool_size",
    "pool_max_size",
    "ef_search",
    "hnsw_m",
    "hnsw_ef_construction",
    "statement_timeout",
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
            split_url(s)
        } else {
            split_key_values(s)
        };
        // tokio-postgres errors quote no values, so they cannot leak the password.
        let mut pg = tokio_postgres::Config::from_str(&rest).map_err(|e| bad(&e.to_string()))?;
        let mut config = Self {
            pg: tokio_postgres::Config::new(),
            redacted: redacted.clone(),
            timeout: DEFAULT_OPERATION_TIMEOUT,
            pool_size: 16,
            ef_search: 400,
            hnsw_m: 16,
            hnsw_ef_construction: 64,
        };
        for (k, v) in own {
            let int = |lo: u64, hi: u64| {
                v.parse::<u64>()
                    .ok()
                    .filter(|n| (lo..=hi).contains(n))
                    .ok_or_else(|| bad(&format!("{k} must be an integer in {lo}..={hi}")))
            };
            match k.as_str() {
                "timeout_ms" => config.timeout = Duration::from_millis(int(1, 86_400_000)?),
                "pool_size" | "pool_max_size" => config.pool_size = int(1, 10_000)? as usize,
                "ef_search" => config.ef_search = int(1, 1000)? as u32,
                "hnsw_m" => config.hnsw_m = int(2, 100)? as u32,
                "hnsw_ef_construction" => config.hnsw_ef_construction = int(4, 1000)? as u32,
                _ => {
                    return Err(bad(&format!(
                        "{k} is no longer accepted: use timeout_ms (milliseconds, default {})",
                        DEFAULT_OPERATION_TIMEOUT.as_millis()
                    )));
                }
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
        if pg.get_application_name().is_none() {
            pg.application_name("vector-tier");
        }
        config.pg = pg;
        Ok(config)
    }

    /// The connection string with its password replaced by `***`.
    pub fn redacted_url(&self) -> &str {
        &self.redacted
    }

    /// Sets the operation timeout.
    #[must_use]
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The tokio-postgres settings of every pooled connection: the operation timeout as the
    /// server-side `statement_timeout` and as the socket connect timeout (unless libpq's
    /// `connect_timeout` asked for less).
    pub(crate) fn connection(&self) -> tokio_postgres::Config {
        let mut pg = self.pg.clone();
        let connect = pg
            .get_connect_timeout()
            .map_or(self.timeout, |t| (*t).min(self.timeout));
        pg.connect_timeout(connect);
        let existing = pg.get_options().unwrap_or_default().to_owned();
        let sep = if existing.is_empty() { "" } else { " " };
        pg.options(format!(
            "{existing}{sep}-c statement_timeout={}",
            self.timeout.as_millis()
        ));
        pg
    }
}

/// Splits our own query parameters off a URL.
fn split_url(s: &str) -> (String, Vec<(String, String)>) {
    let Some((base, query)) = s.split_once('?') else {
        return (s.to_owned(), Vec::new());
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
    (rest, own)
}

/// Splits our own keys off a libpq key/value string (`host=x password='a b' pool_size=4`),
/// keeping every other pair exactly as written (quotes, escapes and spaces around `=`
/// included). A string that does not tokenise is passed on whole, for tokio-postgres to
/// report.
fn split_key_values(s: &str) -> (String, Vec<(String, String)>) {
    let Some(pairs) = key_value_pairs(s) else {
        return (s.to_owned(), Vec::new());
    };
    let mut own = Vec::new();
    let mut kept = Vec::new();
    for (key, value, span) in pairs {
        if OWN_KEYS.contains(&key.as_str()) {
            own.push((key, value));
        } else {
            kept.push(&s[span]);
        }
    }
    (kept.join(" "), own)
}

/// The pairs of a libpq key/value string: key, unquoted value, and the byte range of the
/// whole pair in `s`.
fn key_value_pairs(s: &str) -> Option<Vec<(String, String, std::ops::Range<usize>)>> {
    let b = s.as_bytes();
    let mut i = 0;
    let mut out = Vec::new();
    let skip_space = |mut i: usize| {
        while i < b.len() && b[i].is_ascii_whitespace() {
            i += 1;
        }
        i
    };
    loop {
        i = skip_space(i);
        if i >= b.len() {
            return Some(out);
        }
        let start = i;
        while i < b.len() && b[i] != b'=' && !b[i].is_ascii_whitespace() {
            i += 1;
        }
        let key = s.get(start..i)?.to_owned();
        i = skip_space(i);
        if b.get(i) != Some(&b'=') {
            return None;
        }
        i = skip_space(i + 1);
        let mut value = String::new();
        if b.get(i) == Some(&b'\'') {
            i += 1;
            loop {
                match b.get(i)? {
                    b'\'' => break,
                    b => {
                        // A backslash escapes the character after it.
                        if *b == b'\\' {
                            i += 1;
                        }
                        let c = s.get(i..)?.chars().next()?;
                        value.push(c);
                        i += c.len_utf8() - 1;
                    }
                }
                i += 1;
            }
            i += 1;
        } else {
            let v0 = i;
            while i < b.len() && !b[i].is_ascii_whitespace() {
                i += 1;
            }
            value.push_str(s.get(v0..i)?);
        }
        out.push((key, value, start..i));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_own_options_and_redacts() {
        let c = PgConfig::from_url(
            "postgresql://bob:s3cret@db.example:5433/v?pool_size=4&timeout_ms=2500&connect_timeout=3&sslmode=disable&ef_search=200",
        )
        .unwrap();
        assert_eq!(c.pool_size, 4);
        assert_eq!(c.timeout, Duration::from_millis(2500));
        assert_eq!(c.ef_search, 200);
        assert_eq!(c.pg.get_dbname(), Some("v"));
        assert_eq!(c.pg.get_ports(), &[5433]);
        let conn = c.connection();
        assert!(
            conn.get_options()
                .unwrap()
                .contains("statement_timeout=2500")
        );
        assert_eq!(
            conn.get_connect_timeout(),
            Some(&Duration::from_millis(2500))
        );
        let dbg = format!("{c:?}");
        assert!(!dbg.contains("s3cret") && dbg.contains("bob"), "{dbg}");
        let d = PgConfig::from_url("postgresql://h/d").unwrap();
        assert_eq!(d.timeout, DEFAULT_OPERATION_TIMEOUT);
        assert_eq!(
            d.connection().get_connect_timeout(),
            Some(&DEFAULT_OPERATION_TIMEOUT)
        );
    }

    #[test]
    fn key_value_strings_keep_quoted_values_whole() {
        let kv = PgConfig::from_url(
            "host=localhost user=u password='a b\\'c' dbname = d pool_size=2 timeout_ms='700'",
        )
        .unwrap();
        assert_eq!((kv.pool_size, kv.pg.get_dbname()), (2, Some("d")));
        assert_eq!(kv.timeout, Duration::from_millis(700));
        assert_eq!(kv.pg.get_password(), Some(&b"a b'c"[..]));
    }

    #[test]
    fn refuses_bad_values_old_keys_and_tls_without_leaking() {
        for bad in [
            "postgresql://u:topsecret@h/d?pool_size=0",
            "postgresql://u:topsecret@h/d?timeout_ms=0",
            "postgresql://u:topsecret@h/d?timeout_ms=1.5",
            "postgresql://u:topsecret@h/d?sslmode=require",
            "postgresql://u:topsecret@h/d?statement_timeout=5",
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
        let e = PgConfig::from_url("postgresql://h/d?statement_timeout=5").unwrap_err();
        assert!(e.to_string().contains("timeout_ms"), "{e}");
    }
}
