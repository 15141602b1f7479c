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
    // libpq key/value form: `host=x password=secret user=y`.
    s.split(' ')
        .map(|part| match part.split_once('=') {
            Some((k, _)) if is_secret_key(k) => format!("{k}=***"),
            _ => part.to_owned(),
        })
        .collect::<Vec<_>>()
        .join(" ")
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
}
