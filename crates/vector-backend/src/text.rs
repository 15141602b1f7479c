//! Keyword search, defined once: the tokeniser every backend's text goes through, the text
//! "bag" a record contributes, and the BM25 reference.
//!
//! The servers' own text analysis differs everywhere (RediSearch keeps `_` in words and mangles
//! 4-byte characters, PostgreSQL's parser makes one lexeme of `foo-bar.baz` and of e-mail
//! addresses, Weaviate lower-cases with Go's Unicode tables), so the core tokenises and every
//! backend stores and queries the result: each server then only sees tokens of
//! `[a-z0-9]`, in its most literal mode, and no user character ever reaches a query parser.
//!
//! - A **token** is a maximal run of ASCII letters and digits, lower-cased (ASCII only), cut to
//!   [`MAX_TOKEN_BYTES`]. Everything else separates tokens: whitespace, punctuation, `_`,
//!   control characters and every non-ASCII character (`naïve` gives `na`, `ve`).
//! - A record's **text bag** is the tokens of its text fields (declared [`FieldType::Text`]),
//!   field by field in name order, joined by one space: what backends index.
//! - A **keyword query** is the distinct tokens of the query text, in order of appearance; a
//!   record matches when it holds at least one (OR), and is ranked by [`bm25`] with
//!   [`BM25_K1`] and [`BM25_B`] over statistics of the whole namespace (a filter restricts the
//!   candidates, not the statistics).

use crate::types::{FieldType, Metadata, NamespaceConfig};

/// Tokens are cut to this many bytes.
pub const MAX_TOKEN_BYTES: usize = 64;
/// Most distinct tokens a keyword query may hold (bounded work per request).
pub const MAX_QUERY_TOKENS: usize = 256;
/// Longest keyword query text, in bytes.
pub const MAX_QUERY_TEXT_BYTES: usize = 16 * 1024;
/// BM25's term-frequency saturation.
pub const BM25_K1: f64 = 1.2;
/// BM25's length normalisation: RediSearch's `BM25STD` hard-codes 0.5, and every other
/// backend can be set to it.
pub const BM25_B: f64 = 0.5;

/// The tokens of `s` (see the [module docs](self)).
pub fn tokens(s: &str) -> Vec<String> {
    s.split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|t| !t.is_empty())
        .map(|t| {
            let mut t = t.to_ascii_lowercase();
            t.truncate(MAX_TOKEN_BYTES);
            t
        })
        .collect()
}

/// `s` normalised: its tokens joined by one space.
pub fn normalize(s: &str) -> String {
    tokens(s).join(" ")
}

/// The distinct tokens of a query, in order of first appearance.
pub fn query_tokens(s: &str) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    tokens(s)
        .into_iter()
        .filter(|t| seen.insert(t.clone()))
        .collect()
}

/// The record's text bag: the normalised text of each declared text field it holds, in field
/// name order, joined by one space; empty when it holds none.
pub fn text_bag(metadata: &Metadata, config: &NamespaceConfig) -> String {
    let mut out = String::new();
    for (name, ty) in &config.filterable {
        if *ty != FieldType::Text {
            continue;
        }
        if let Some(s) = metadata.get(name).and_then(serde_json::Value::as_str) {
            for t in tokens(s) {
                if !out.is_empty() {
                    out.push(' ');
                }
                out.push_str(&t);
            }
        }
    }
    out
}

/// BM25 of one document: `Σ_t idf(t) · f·(k1+1) / (f + k1·(1 − b + b·dl/avgdl))` over the
/// query tokens `t` the document holds `f` times, with `idf(t) = ln(1 + (N − n_t + 0.5) /
/// (n_t + 0.5))`; `dl` is the document's token count, `avgdl` the namespace's mean (records
/// without text count as 0), `N` the namespace's record count and `n_t` how many records hold
/// `t`. The reference the memory backend computes and the suite checks orderings against.
pub fn bm25(term_freqs: &[(f64, f64)], doc_len: f64, avg_doc_len: f64) -> f64 {
    term_freqs
        .iter()
        .map(|&(idf, f)| {
            let norm = if avg_doc_len > 0.0 {
                1.0 - BM25_B + BM25_B * doc_len / avg_doc_len
            } else {
                1.0
            };
            idf * f * (BM25_K1 + 1.0) / (f + BM25_K1 * norm)
        })
        .sum()
}

/// The reference keyword ranking: the BM25 of every document holding a token of `query`, over
/// the statistics of all `docs` (`(key, text bag)`; an empty bag counts with length 0), best
/// first, ties by key. What the suite and the backends' live tests compare against.
pub fn reference_ranking<K: AsRef<str>, B: AsRef<str>>(
    docs: &[(K, B)],
    query: &str,
) -> Vec<(String, f64)> {
    let q = query_tokens(query);
    let bags: Vec<Vec<String>> = docs.iter().map(|(_, b)| tokens(b.as_ref())).collect();
    let n = docs.len() as f64;
    let avgdl = bags.iter().map(Vec::len).sum::<usize>() as f64 / n.max(1.0);
    let holding: Vec<f64> = q
        .iter()
        .map(|t| bags.iter().filter(|b| b.contains(t)).count() as f64)
        .collect();
    let mut out: Vec<(String, f64)> = docs
        .iter()
        .zip(&bags)
        .filter_map(|((key, _), bag)| {
            let tf: Vec<(f64, f64)> = q
                .iter()
                .zip(&holding)
                .filter_map(|(t, h)| {
                    let f = bag.iter().filter(|b| *b == t).count();
                    (f > 0).then(|| (idf(n, *h), f as f64))
                })
                .collect();
            (!tf.is_empty()).then(|| (key.as_ref().to_owned(), bm25(&tf, bag.len() as f64, avgdl)))
        })
        .collect();
    out.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    out
}

/// BM25's inverse document frequency of a token held by `holding` of `total` records.
pub fn idf(total: f64, holding: f64) -> f64 {
    (1.0 + (total - holding + 0.5) / (holding + 0.5)).ln()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn tokens_are_lowercase_ascii_words() {
        assert_eq!(
            tokens("Hello, World! foo-bar.baz user@example.com x_y O'Reilly"),
            [
                "hello", "world", "foo", "bar", "baz", "user", "example", "com", "x", "y", "o",
                "reilly"
            ]
        );
        assert_eq!(
            tokens("naïve Café 😀x \u{212A}elvin"),
            ["na", "ve", "caf", "x", "elvin"]
        );
        assert_eq!(tokens(&"a".repeat(100))[0].len(), MAX_TOKEN_BYTES);
        assert!(tokens("--- !!! \u{0} 日本語").is_empty());
        assert_eq!(query_tokens("b a B c a"), ["b", "a", "c"]);
    }

    #[test]
    fn text_bags_follow_field_names() {
        let config = NamespaceConfig::new(2)
            .with_field("title", FieldType::Text)
            .with_field("body", FieldType::Text)
            .with_field("tag", FieldType::Keyword);
        let m = json!({"title": "The Title", "body": "Some BODY", "tag": "skip me"});
        assert_eq!(
            text_bag(m.as_object().unwrap(), &config),
            "some body the title"
        );
    }

    #[test]
    fn bm25_prefers_more_occurrences_and_rarer_terms() {
        let rare = idf(100.0, 2.0);
        let common = idf(100.0, 60.0);
        assert!(rare > common);
        assert!(bm25(&[(rare, 3.0)], 10.0, 10.0) > bm25(&[(rare, 1.0)], 10.0, 10.0));
        assert!(bm25(&[(rare, 1.0)], 10.0, 10.0) > bm25(&[(common, 1.0)], 10.0, 10.0));
    }
}
