//! Bearer-token authentication: tokens from a file or `VTIER_API_TOKENS`, compared in constant
//! time; each caller is known by a name or a fingerprint, never by the token itself.

use std::fmt;
use std::path::Path;

use sha2::{Digest as _, Sha256};
use subtle::ConstantTimeEq as _;

/// Who made a request, as the audit log and the rate limiter see it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Caller {
    /// The token's `NAME`, or `anonymous` when authentication is off. Never derived from the
    /// secret.
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

/// Longest token name.
pub(crate) const MAX_TOKEN_NAME_LEN: usize = 64;

/// One accepted token: the caller's name and the digest of the secret (the secret itself is
/// not kept).
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

fn is_separator(c: char) -> bool {
    c == ',' || c.is_whitespace()
}

impl ApiToken {
    /// Parses one entry, `NAME:SECRET`.
    ///
    /// The name is required and is 1..=64 characters of `[A-Za-z0-9_.-]`, so it cannot hold
    /// the `:` that ends it: the entry is split at its first `:` and everything after it is the
    /// secret, which may contain any character except whitespace and `,` (the list
    /// separators), `:` included.
    ///
    /// # Errors
    /// A message that never quotes the entry (it may hold a secret).
    pub fn parse(entry: &str) -> Result<Self, String> {
        let Some((name, secret)) = entry.split_once(':') else {
            return Err(
                "is not NAME:SECRET (a name is required; the audit log records it, never the secret)"
                    .to_owned(),
            );
        };
        let name_ok = !name.is_empty()
            && name.len() <= MAX_TOKEN_NAME_LEN
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
        if !name_ok {
            return Err(format!(
                "has a bad name: NAME must be 1..={MAX_TOKEN_NAME_LEN} characters of [A-Za-z0-9_.-] before the first ':'"
            ));
        }
        if secret.is_empty() {
            return Err(format!("(name {name:?}) has an empty secret"));
        }
        if secret.contains(is_separator) {
            return Err(format!(
                "(name {name:?}) has a secret with whitespace or ',' (they separate entries)"
            ));
        }
        Ok(Self {
            id: name.to_owned(),
            digest: digest(secret),
        })
    }

    /// The caller id this token authenticates as: its name.
    pub fn id(&self) -> &str {
        &self.id
    }
}

/// Parses a token list: `NAME:SECRET` entries separated by whitespace (spaces, tabs, line
/// breaks) or `,`; a line whose first non-blank character is `#` is a comment. An empty list
/// is not an error here: [`crate::AppConfig::from_args`] refuses to start with a configured
/// source that yields no token.
///
/// # Errors
/// A message naming the first bad entry's position (never its text), or two entries with the
/// same secret.
pub fn parse_tokens(text: &str) -> Result<Vec<ApiToken>, String> {
    let mut tokens: Vec<ApiToken> = Vec::new();
    let entries = text
        .lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .flat_map(|l| l.split(is_separator))
        .filter(|e| !e.is_empty());
    for (i, entry) in entries.enumerate() {
        let token = ApiToken::parse(entry).map_err(|m| format!("entry {} {m}", i + 1))?;
        if let Some(j) = tokens.iter().position(|t| t.digest == token.digest) {
            return Err(format!(
                "entries {} and {} have the same secret (each caller needs its own)",
                j + 1,
                i + 1
            ));
        }
        tokens.push(token);
    }
    Ok(tokens)
}

/// Checks that no two tokens (from several sources) share a secret.
///
/// # Errors
/// A message naming the caller names involved (never the secret).
pub(crate) fn check_distinct(tokens: &[ApiToken]) -> Result<(), String> {
    for (i, t) in tokens.iter().enumerate() {
        if let Some(other) = tokens[..i].iter().find(|o| o.digest == t.digest) {
            return Err(format!(
                "tokens {:?} and {:?} have the same secret (each caller needs its own)",
                other.id, t.id
            ));
        }
    }
    Ok(())
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
        let tokens = parse_tokens(
            "# comment\nalice:s3cret-a\n\n  # indented comment\n bob:s3cret-b , carol:s3:cr#et,\n",
        )
        .unwrap();
        assert_eq!(tokens.len(), 3);
        let auth = Auth::new(tokens);
        assert_eq!(auth.verify("s3cret-a").unwrap().id, "alice");
        assert_eq!(auth.verify("s3cret-b").unwrap().id, "bob");
        assert_eq!(
            auth.verify("s3:cr#et").unwrap().id,
            "carol",
            "a secret may hold ':' and '#'"
        );
        assert!(auth.verify("s3cret").is_none());
        assert!(auth.verify("").is_none());
        assert!(!format!("{auth:?}").contains("s3cret"));
    }

    /// The finding: a token containing `:` was split into name and secret, so the audit log's
    /// `who` held part of the secret. Now the name is required and only ever the name.
    #[test]
    fn the_name_never_comes_from_the_secret() {
        for bad in [
            "abc",
            "name:",
            ":secret",
            "bad name:x",
            "na/me:x",
            "n\u{e9}:x",
        ] {
            let e = parse_tokens(bad).map(|_| ()).unwrap_err();
            assert!(e.starts_with("entry 1 "), "{bad:?}: {e}");
            assert!(!e.contains("secret\"") && !e.contains("abc"), "{e}");
        }
        let long = format!("{}:x", "n".repeat(65));
        assert!(parse_tokens(&long).is_err());
        let t = parse_tokens("ci:part1:part2").unwrap();
        assert_eq!(t[0].id(), "ci");
        assert_eq!(
            Auth::new(t).verify("part1:part2").unwrap().id,
            "ci",
            "everything after the first ':' is the secret"
        );
        let e = parse_tokens("a:same\nb:same").map(|_| ()).unwrap_err();
        assert!(e.contains("same secret") && !e.contains("same\""), "{e}");
        assert!(parse_tokens("# only comments\n\n   \n").unwrap().is_empty());
    }
}
