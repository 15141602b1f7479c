//! Building the GraphQL documents this backend sends: `Get` fields (near-vector search, BM25
//! keyword search, key ranges, the cursor walk), `Aggregate` counts, and the catalogue check that rides along in
//! every read. Each field is aliased (`q0: Vt_…(…)`), the syntax Weaviate's own clients use
//! for several `Get`s in one request (the Python client's `multi_get`), so one request can hold
//! several queries on the same class.
//!
//! Injection cannot happen: class and property names come from [`crate::schema`]
//! (`[A-Za-z0-9_]`), strings go through [`string`], numbers are finite (validated).

use std::fmt::Write as _;

use crate::filter::Where;
use crate::schema::{CATALOG_CLASS, P_CLASS, P_KEY, P_KEY_HEX, P_META, P_TEXT};

/// The alias of the catalogue check in every read.
pub(crate) const CHECK: &str = "vt_check";

/// What one `Get` field asks for.
#[derive(Debug, Default)]
pub(crate) struct Fetch<'a> {
    /// Rank by distance to this vector, within this distance.
    pub(crate) near: Option<(&'a [f32], Option<f64>)>,
    /// Rank by BM25 of these tokens (`[a-z0-9]` only, from the core) in the text bag.
    pub(crate) bm25: Option<&'a [String]>,
    /// Only keys whose hex is greater than this.
    pub(crate) above: Option<&'a str>,
    /// Only keys whose hex is at most this.
    pub(crate) up_to: Option<&'a str>,
    /// The translated filter (or a key condition).
    pub(crate) condition: Option<&'a Where>,
    /// Weaviate's cursor: objects after this UUID, in UUID order (no other condition allowed).
    pub(crate) after_id: Option<&'a str>,
    pub(crate) limit: usize,
    /// Select the metadata.
    pub(crate) meta: bool,
    /// Select the vector.
    pub(crate) vector: bool,
}

/// A GraphQL string literal. JSON string syntax is a subset of GraphQL's (`\"`, `\\`, `\n`,
/// `\uXXXX`, raw non-ASCII), so serde_json's escaping is exact; control characters are always
/// escaped.
pub(crate) fn string(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".to_owned())
}

/// A GraphQL float literal for a finite number (serde_json's shortest round-trip form, which is
/// valid GraphQL: `1.0`, `-0.5`, `1e300`). Non-finite values never reach here (validated).
pub(crate) fn float(n: f64) -> String {
    // -0.0 and 0.0 are equal numbers but Weaviate's sortable byte encoding could tell them apart.
    let n = if n == 0.0 { 0.0 } else { n };
    serde_json::to_string(&n).unwrap_or_else(|_| "0".to_owned())
}

/// `alias: Class(args) { vt_key vt_meta _additional { id distance vector } }`.
pub(crate) fn get_field(alias: &str, class: &str, fetch: &Fetch<'_>) -> String {
    let mut args = Vec::new();
    if let Some((vector, max_distance)) = fetch.near {
        // serde_json prints f32s in their shortest round-trip form, valid GraphQL floats.
        let v = serde_json::to_string(vector).unwrap_or_else(|_| "[]".to_owned());
        match max_distance {
            Some(d) => args.push(format!(
                "nearVector: {{vector: {v}, distance: {}}}",
                float(d)
            )),
            None => args.push(format!("nearVector: {{vector: {v}}}")),
        }
    }
    if let Some(tokens) = fetch.bm25 {
        // The tokens are `[a-z0-9]+` (the core's tokeniser), so nothing in them is syntax,
        // and `word` tokenization gives them back unchanged; `string` escapes anyway.
        args.push(format!(
            "bm25: {{query: {}, properties: [{}]}}",
            string(&tokens.join(" ")),
            string(P_TEXT)
        ));
    }
    let mut parts = Vec::new();
    if let Some(lo) = fetch.above {
        parts.push(Where::text(P_KEY_HEX, crate::filter::Op::GreaterThan, lo));
    }
    if let Some(hi) = fetch.up_to {
        parts.push(Where::text(P_KEY_HEX, crate::filter::Op::LessThanEqual, hi));
    }
    if let Some(w) = fetch.condition {
        parts.push(w.clone());
    }
    match parts.len() {
        0 => {}
        1 => args.push(format!("where: {}", parts[0].to_graphql())),
        _ => args.push(format!("where: {}", Where::And(parts).to_graphql())),
    }
    if let Some(id) = fetch.after_id {
        // Weaviate's cursor API (UUID order); it takes no `where`, `sort` or `nearVector`.
        args.push(format!("after: {}", string(id)));
    }
    args.push(format!("limit: {}", fetch.limit));
    let mut additional = vec!["id"];
    if fetch.near.is_some() {
        additional.push("distance");
    }
    if fetch.bm25.is_some() {
        additional.push("score");
    }
    if fetch.vector {
        additional.push("vector");
    }
    let meta = if fetch.meta { P_META } else { "" };
    format!(
        "{alias}: {class}({}) {{ {P_KEY} {meta} _additional {{ {} }} }}",
        args.join(", "),
        additional.join(" ")
    )
}

/// `alias: Class(where: …) { meta { count } }`.
pub(crate) fn aggregate_field(alias: &str, class: &str, condition: Option<&Where>) -> String {
    let args = match condition {
        Some(w) => format!("(where: {})", w.to_graphql()),
        None => String::new(),
    };
    format!("{alias}: {class}{args} {{ meta {{ count }} }}")
}

/// The catalogue check: the entry that names `class` as its namespace's current incarnation
/// (one object while it is, none once the namespace was dropped or re-created).
fn check_field(class: &str) -> String {
    format!(
        "{CHECK}: {CATALOG_CLASS}(where: {}, limit: 1) {{ _additional {{ id }} }}",
        Where::text(P_CLASS, crate::filter::Op::Equal, class).to_graphql()
    )
}

/// A read document on one incarnation: `Get` fields, `Aggregate` fields, and the catalogue
/// check for `class` in the same request.
#[derive(Debug, Default)]
pub(crate) struct Document {
    pub(crate) get: Vec<String>,
    pub(crate) aggregate: Vec<String>,
}

impl Document {
    /// The query text, checking that `class` is still current.
    pub(crate) fn render(&self, class: &str) -> String {
        let mut out = String::from("{ Get { ");
        for f in &self.get {
            let _ = write!(out, "{f} ");
        }
        let _ = write!(out, "{} }}", check_field(class));
        if !self.aggregate.is_empty() {
            out.push_str(" Aggregate { ");
            for f in &self.aggregate {
                let _ = write!(out, "{f} ");
            }
            out.push('}');
        }
        out.push_str(" }");
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_strings_are_escaped_into_valid_graphql() {
        let hostile = [
            "quote\"double",
            "back\\slash",
            "\") { id } }",
            "new\nline\ttab",
            "{ Get { Things } }",
            "\u{202e}rtl",
            "emoji 🎉",
            "ctl\u{1}\u{1f}",
            "trailing space ",
        ];
        for h in hostile {
            let lit = string(h);
            // A GraphQL string literal: starts and ends with a quote, no raw quote, backslash
            // or line break inside except in escapes, and decodes back to the input.
            assert!(lit.starts_with('"') && lit.ends_with('"') && lit.len() >= 2);
            let inner = &lit[1..lit.len() - 1];
            assert!(!inner.contains('\n') && !inner.contains('\r'), "{lit}");
            let mut chars = inner.chars();
            while let Some(c) = chars.next() {
                assert_ne!(c, '"', "raw quote in {lit}");
                assert!(u32::from(c) >= 0x20, "raw control character in {lit}");
                if c == '\\' {
                    let e = chars.next();
                    assert!(
                        matches!(
                            e,
                            Some('"' | '\\' | '/' | 'b' | 'f' | 'n' | 'r' | 't' | 'u')
                        ),
                        "{lit}"
                    );
                }
            }
            assert_eq!(
                serde_json::from_str::<String>(&lit).ok().as_deref(),
                Some(h)
            );
        }
        // Keyword queries: the tokens joined by spaces, the text bag, the score selected.
        let tokens = ["t1".to_owned(), "t2".to_owned()];
        let fetch = Fetch {
            bm25: Some(&tokens),
            limit: 3,
            meta: true,
            ..Fetch::default()
        };
        assert_eq!(
            get_field("k", "Vt_61_01", &fetch),
            "k: Vt_61_01(bm25: {query: \"t1 t2\", properties: [\"vt_text\"]}, limit: 3) { vt_key vt_meta _additional { id score } }"
        );
        // GraphQL allows a signed exponent.
        assert_eq!(float(1e300), "1e+300");
        assert_eq!(float(10.0), "10.0");
        assert_eq!(float(-0.0), "0.0");
    }

    #[test]
    fn documents_alias_every_field_and_check_the_incarnation() {
        let v = [1.0f32, -0.5];
        let fetch = Fetch {
            near: Some((&v, Some(0.25))),
            limit: 7,
            meta: true,
            ..Fetch::default()
        };
        let doc = Document {
            get: vec![
                get_field("q0", "Vt_61_01", &fetch),
                get_field("q1", "Vt_61_01", &fetch),
            ],
            aggregate: vec![aggregate_field("n", "Vt_61_01", None)],
        };
        assert_eq!(
            doc.render("Vt_61_01"),
            "{ Get { q0: Vt_61_01(nearVector: {vector: [1.0,-0.5], distance: 0.25}, limit: 7) { vt_key vt_meta _additional { id distance } } \
             q1: Vt_61_01(nearVector: {vector: [1.0,-0.5], distance: 0.25}, limit: 7) { vt_key vt_meta _additional { id distance } } \
             vt_check: VtCatalog(where: {path: [\"vt_class\"], operator: Equal, valueText: \"Vt_61_01\"}, limit: 1) { _additional { id } } } \
             Aggregate { n: Vt_61_01 { meta { count } } } }"
        );
    }
}
