//! Redaction of secrets in connection strings, so passwords never reach logs, errors or
//! `Debug` output.

/// Returns `s` with any password replaced by `***`: the password of a URL
/// (`redis://:pw@host`, `postgres://user:pw@host/db`), a `password=` or `api_key=` query
/// parameter, and a libpq key/value `password=...` setting.
pub fn redact_url(s: &str) -> String {
    if let Ok(mut url) = url::Url::parse(s)
        && !url.cannot_be_a_base()
    {
        if url.password().is_some() {
            let _ = url.set_password(Some("***"));
        }
        let pairs: Vec<(String, String)> = url
            .query_pairs()
            .map(|(k, v)| {
                let secret = is_secret_key(&k);
                (
                    k.into_owned(),
                    if secret {
                        "***".to_owned()
                    } else {
                        v.into_owned()
                    },
                )
            })
            .collect();
        if !pairs.is_empty() {
            url.query_pairs_mut().clear().extend_pairs(pairs);
        }
        return url.to_string();
    }
    // Something URL-like that did not parse: hide the whole user-info part rather than guess.
    if let Some((scheme, rest)) = s.split_once("://")
        && let Some(at) = rest.rfind('@')
    {
        return format!("{scheme}://***@{}", &rest[at + 1..]);
    }
    redact_key_values(s)
}

/// The libpq key/value form: `host=x password='a secret with spaces' user=y`. Values may be
/// single-quoted (with `\'` and `\\` escapes) and `=` may have spaces around it; secret values
/// are replaced whole. Anything that does not parse is hidden from that point on.
fn redact_key_values(s: &str) -> String {
    let mut out = Vec::new();
    let mut rest = s.trim_start();
    while !rest.is_empty() {
        let key_end = rest
            .find(|c: char| c == '=' || c.is_whitespace())
            .unwrap_or(rest.len());
        let key = &rest[..key_end];
        let after_key = rest[key_end..].trim_start();
        let Some(value_and_more) = after_key.strip_prefix('=') else {
            // A bare word: not key/value syntax. Keep it only if it cannot be a secret.
            if key.is_empty() || is_secret_key(key) {
                out.push("***".to_owned());
                break;
            }
            out.push(key.to_owned());
            rest = after_key;
            continue;
        };
        let value_and_more = value_and_more.trim_start();
        let Some((value, more)) = split_value(value_and_more) else {
            out.push(format!("{key}=***"));
            break;
        };
        if is_secret_key(key) {
            out.push(format!("{key}=***"));
        } else {
            out.push(format!("{key}={value}"));
        }
        rest = more.trim_start();
    }
    out.join(" ")
}

/// Splits a key/value value (quoted or not) from what follows; `None` for an unterminated quote.
fn split_value(s: &str) -> Option<(&str, &str)> {
    let mut chars = s.char_indices();
    let quoted = s.starts_with('\'');
    if quoted {
        chars.next();
    }
    let mut escaped = false;
    for (i, c) in chars {
        if escaped {
            escaped = false;
        } else if c == '\\' {
            escaped = true;
        } else if quoted && c == '\'' {
            return Some((&s[..=i], &s[i + 1..]));
        } else if !quoted && c.is_whitespace() {
            return Some((&s[..i], &s[i..]));
        }
    }
    (!quoted).then_some((s, ""))
}

fn is_secret_key(k: &str) -> bool {
    let k = k.to_ascii_lowercase();
    k.contains("password")
        || k == "pass"
        || k.contains("api_key")
        || k.contains("apikey")
        || k.contains("token")
        || k.contains("secret")
}

#[cfg(test)]
mod tests {
    use super::redact_url;

    #[test]
    fn passwords_are_replaced() {
        assert_eq!(
            redact_url("redis://:hunter2@localhost:6379/0"),
            "redis://:***@localhost:6379/0"
        );
        let pg = redact_url("postgres://bob:s3cr%40t@db:5432/v?sslmode=require&password=x");
        assert!(!pg.contains("s3cr") && !pg.contains("password=x"), "{pg}");
        assert!(pg.contains("bob") && pg.contains("sslmode=require"), "{pg}");
        assert_eq!(
            redact_url("host=db password=pw user=u"),
            "host=db password=*** user=u"
        );
        assert_eq!(redact_url("memory://"), "memory://");
        let odd = redact_url("postgres://u:p w%zz@host:notaport/db");
        assert!(!odd.contains("p w"), "{odd}");
    }

    #[test]
    fn quoted_key_value_passwords_are_replaced_whole() {
        assert_eq!(
            redact_url("host=db password='a b c' user=u"),
            "host=db password=*** user=u"
        );
        assert_eq!(
            redact_url("password = 'it\\'s secret' dbname=v"),
            "password=*** dbname=v"
        );
        assert_eq!(
            redact_url("host=db password='never closed"),
            "host=db password=***"
        );
        let odd = redact_url("host=db oops password");
        assert!(!odd.contains("password"), "{odd}");
        assert_eq!(redact_url("host=db port=5432"), "host=db port=5432");
    }
}
