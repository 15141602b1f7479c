//! Bearer-token authentication: tokens from a file or `VTIER_API_TOKENS`, compared in constant
//! time; each caller is known by a name or a fingerprint, never by the token itself.

use std::fmt;
use std::path::Path;

use sha2::{Digest as _, Sha256};
use subtle::ConstantTimeEq as _;

/// Who made a request, as the audit log and the rate limiter see it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Caller {
    /// The token's name (`NAME:TOKEN`), or `sha256:` and the first 12 hex digits of the
    /// token's SHA-256, or `anonymous` when authentication is off.
    pub id: String,
}

impl Caller {
    /// The caller when authentication is off.
    pub fn anonymous() -> Self {
        Self {
            id: "anonymous".to_owned(),
        }
    }
}

/// One accepted token. Only its digest is kept.
#[derive(Clone)]
pub struct ApiToken {
    id: String,
    digest: [u8; 32],
}

impl fmt::Debug for ApiToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiToken")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

fn digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

impl ApiToken {
    /// Parses `TOKEN` or `NAME:TOKEN` (split at the first `:`).
    ///
    /// # Errors
    /// A message when the token is empty.
    pub fn parse(entry: &str) -> Result<Self, String> {
        let entry = entry.trim();
        let (name, token) = match entry.split_once(':') {
            Some((name, token)) => (Some(name.trim()), token.trim()),
            None => (None, entry),
        };
        if token.is_empty() {
            return Err("an API token entry has an empty token".to_owned());
        }
        let digest = digest(token);
        let id = match name {
            Some(name) if !name.is_empty() => name.to_owned(),
            _ => {
                let hex: String = digest[..6].iter().map(|b| format!("{b:02x}")).collect();
                format!("sha256:{hex}")
            }
        };
        Ok(Self { id, digest })
    }

    /// The caller id this token authenticates as.
    pub fn id(&self) -> &str {
        &self.id
    }
}

/// Parses a list: one entry per line or comma, blank lines and `#` comments ignored.
///
/// # Errors
/// A message naming the first bad entry's position.
pub fn parse_tokens(text: &str) -> Result<Vec<ApiToken>, String> {
    text.lines()
        .map(|l| l.split('#').next().unwrap_or(""))
        .flat_map(|l| l.split(','))
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .enumerate()
        .map(|(i, e)| ApiToken::parse(e).map_err(|m| format!("entry {}: {m}", i + 1)))
        .collect()
}

/// Reads a token file.
///
/// # Errors
/// A message when the file cannot be read or holds a bad entry (never the tokens).
pub fn read_token_file(path: &Path) -> Result<Vec<ApiToken>, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read API token file {}: {e}", path.display()))?;
    parse_tokens(&text).map_err(|m| format!("API token file {}: {m}", path.display()))
}

/// The accepted tokens.
#[derive(Clone, Debug, Default)]
pub(crate) struct Auth {
    tokens: Vec<ApiToken>,
}

impl Auth {
    pub(crate) fn new(tokens: Vec<ApiToken>) -> Self {
        Self { tokens }
    }

    pub(crate) fn enabled(&self) -> bool {
        !self.tokens.is_empty()
    }

    /// The caller a presented token authenticates, if any. Every configured token is compared
    /// (no early exit), on fixed-length digests, so timing reveals neither which token nor how
    /// much of it matched.
    pub(crate) fn verify(&self, presented: &str) -> Option<Caller> {
        let presented = digest(presented);
        let mut found: Option<&ApiToken> = None;
        for token in &self.tokens {
            let equal: bool = token.digest.ct_eq(&presented).into();
            if equal && found.is_none() {
                found = Some(token);
            }
        }
        found.map(|t| Caller { id: t.id.clone() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_verifies() {
        let tokens =
            parse_tokens("# comment\nalice:s3cret-a\n\n s3cret-b , bob:s3cret-c\n").unwrap();
        assert_eq!(tokens.len(), 3);
        let auth = Auth::new(tokens);
        assert_eq!(auth.verify("s3cret-a").unwrap().id, "alice");
        assert_eq!(auth.verify("s3cret-c").unwrap().id, "bob");
        let anon = auth.verify("s3cret-b").unwrap().id;
        assert!(
            anon.starts_with("sha256:") && anon.len() == 19 && !anon.contains("s3cret"),
            "{anon}"
        );
        assert!(auth.verify("s3cret").is_none());
        assert!(auth.verify("").is_none());
        assert!(parse_tokens("name:").is_err());
        assert!(!format!("{auth:?}").contains("s3cret"));
    }
}
