//! Keyword search, `Get { C(bm25: {query, properties}) }`, as Weaviate's BM25 searcher computes
//! it (read in `adapters/repos/db/inverted/bm25_searcher*.go`, `terms/terms.go`,
//! `shard_write_inverted_lsm.go` and `lsmkv/bucket.go` at v1.25.0 and v1.39.0):
//!
//! - The query is tokenised with each searched property's tokenization; for `word`, the class's
//!   stopwords (`invertedIndexConfig.stopwords`: preset `en` (33 words, the default) or `none`,
//!   plus `additions`, minus `removals`) are dropped from the **query**. A token written twice
//!   counts twice (its idf is multiplied by how often it occurs).
//! - `idf(t) = ln(1 + (N − n + 0.5)/(n + 0.5))`, N = the class's objects (exact here, approximate
//!   on a server), n = objects holding `t`, **never filtered**: a `where` restricts candidates,
//!   not statistics.
//! - A term scores `idf · f / (f + k1·(1 − b + b·dl/avgdl))` (no `(k1 + 1)` factor), k1 and b
//!   from `invertedIndexConfig.bm25`, summed over the query terms in f64 and returned as f32.
//! - Two index layouts, which differ in `dl` and `avgdl`:
//!   - **BlockMax WAND** (`usingBlockMaxWAND`, the default for classes created from 1.30): per
//!     property, `dl` = the object's token count in it, `avgdl` = total tokens / objects holding
//!     at least one token in it; per-property f32 scores are summed.
//!   - **The map index** (1.25–1.29, or `usingBlockMaxWAND: false`): BM25F. `f` and `dl` are
//!     summed over the searched properties in which the object holds the term, but `dl` counts
//!     **distinct** tokens (`len(property.Items)` after duplicates are folded); `avgdl` is the
//!     mean over the searched properties of each one's mean distinct-token count over the
//!     objects that have it set (an empty string counts, with 0), as float32.
//! - Ranking is by score, descending; ties in doc-id order here (arbitrary on a server).

use std::collections::{BTreeMap, HashMap, HashSet};

use serde_json::Value;

use crate::filter::tokenize;
use crate::settings::{BLOCKMAX_WAND_SINCE, Settings};
use crate::store::{ClassData, PropDef, StoredObject};

/// The `en` stopword preset (`adapters/repos/db/inverted/stopwords/presets.go`).
pub(crate) const EN_STOPWORDS: [&str; 33] = [
    "a", "an", "and", "are", "as", "at", "be", "but", "by", "for", "if", "in", "into", "is", "it",
    "no", "not", "of", "on", "or", "such", "that", "the", "their", "then", "there", "these",
    "they", "this", "to", "was", "will", "with",
];

/// The stopword presets a class may name.
pub(crate) const STOPWORD_PRESETS: [&str; 2] = ["en", "none"];

/// What a bm25 search reads from the class definition.
#[derive(Debug)]
struct Params {
    k1: f64,
    b: f64,
    blockmax: bool,
    stopwords: HashSet<String>,
}

impl Params {
    fn of(class: &ClassData, settings: &Settings) -> Self {
        let inverted = &class.def["invertedIndexConfig"];
        let num = |k: &str, d: f64| inverted["bm25"][k].as_f64().unwrap_or(d);
        let words = |k: &str| -> Vec<String> {
            inverted["stopwords"][k]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(Value::as_str)
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default()
        };
        let mut stopwords: HashSet<String> = match inverted["stopwords"]["preset"].as_str() {
            Some("none") => HashSet::new(),
            _ => EN_STOPWORDS.iter().map(|w| (*w).to_owned()).collect(),
        };
        stopwords.extend(words("additions"));
        for w in words("removals") {
            stopwords.remove(&w);
        }
        Self {
            k1: num("k1", 1.2),
            b: num("b", 0.75),
            blockmax: settings.version >= BLOCKMAX_WAND_SINCE
                && inverted["usingBlockMaxWAND"].as_bool() == Some(true),
            stopwords,
        }
    }
}

/// One searched property and its boost (`name^2`).
struct Searched<'a> {
    prop: &'a PropDef,
    boost: f64,
}

/// The properties a bm25 query searches: those named (with an optional `^boost`), or every
/// searchable text property when none are.
fn searched<'a>(
    class: &'a ClassData,
    names: Option<&[String]>,
) -> Result<Vec<Searched<'a>>, String> {
    let Some(names) = names.filter(|n| !n.is_empty()) else {
        return Ok(class
            .props
            .iter()
            .filter(|p| p.base_type() == "text" && p.searchable)
            .map(|prop| Searched { prop, boost: 1.0 })
            .collect());
    };
    let mut out: Vec<Searched<'a>> = Vec::new();
    for name in names {
        let (name, boost) = match name.split_once('^') {
            Some((n, b)) => (n, b.parse::<f32>().map_or(0.0, f64::from)),
            None => (name.as_str(), 1.0),
        };
        let Some(prop) = class.prop(name) else {
            return Err(format!(
                "no such prop with name '{name}' found in class '{}' in the schema. Check your schema files for which properties in this class are available",
                class.name()
            ));
        };
        if prop.base_type() != "text" {
            return Err(format!(
                "cannot handle datatype '{}' of property '{name}'",
                prop.data_type
            ));
        }
        if !prop.searchable {
            return Err(format!(
                "Searching by property '{name}' requires inverted index. Is `indexSearchable` option of property '{name}' enabled? Set it to `true` or leave empty"
            ));
        }
        if prop.tokenization.as_deref() == Some("trigram") {
            return Err(
                "the Weaviate emulator does not emulate bm25 on trigram-tokenized properties"
                    .into(),
            );
        }
        // A property named twice keeps its last boost.
        match out.iter_mut().find(|s| s.prop.name == prop.name) {
            Some(s) => s.boost = boost,
            None => out.push(Searched { prop, boost }),
        }
    }
    Ok(out)
}

/// The query's terms for one tokenization, each with how often it occurs, in first-seen order.
fn query_terms(
    query: &str,
    tokenization: Option<&str>,
    stopwords: &HashSet<String>,
) -> Vec<(String, usize)> {
    let mut out: Vec<(String, usize)> = Vec::new();
    let word = tokenization.unwrap_or("word") == "word";
    for t in tokenize(query, tokenization) {
        if word && stopwords.contains(&t) {
            continue;
        }
        match out.iter_mut().find(|(s, _)| *s == t) {
            Some((_, n)) => *n += 1,
            None => out.push((t, 1)),
        }
    }
    out
}

/// An object's terms in one property: term → occurrences; `None` when the property is not set.
fn analyzed(o: &StoredObject, prop: &PropDef) -> Option<HashMap<String, u32>> {
    let tok = prop.tokenization.as_deref();
    let values: Vec<&str> = match o.props.get(&prop.name)? {
        Value::String(s) => vec![s.as_str()],
        Value::Array(a) => a.iter().filter_map(Value::as_str).collect(),
        _ => return None,
    };
    let mut counts = HashMap::new();
    for v in values {
        for t in tokenize(v, tok) {
            *counts.entry(t).or_insert(0u32) += 1;
        }
    }
    Some(counts)
}

fn idf(n: f64, total: f64) -> f64 {
    // `terms.Idf` clamps N to n (N is approximate on a server).
    let total = total.max(n);
    (1.0 + (total - n + 0.5) / (n + 0.5)).ln()
}

/// The objects `allowed` accepts that hold at least one query term in a searched property,
/// with their scores, best first (ties by doc id).
pub(crate) fn search<'a>(
    class: &'a ClassData,
    settings: &Settings,
    query: &str,
    properties: Option<&[String]>,
    allowed: impl Fn(&StoredObject) -> bool,
) -> Result<Vec<(&'a StoredObject, f32)>, String> {
    let params = Params::of(class, settings);
    let props = searched(class, properties)?;
    let objects: Vec<&StoredObject> = class.objects_by_doc_id();
    let total = objects.len() as f64;
    // Per property: every object's analysed terms (None: not set).
    let bags: Vec<Vec<Option<HashMap<String, u32>>>> = props
        .iter()
        .map(|s| objects.iter().map(|o| analyzed(o, s.prop)).collect())
        .collect();
    let mut scores: BTreeMap<usize, f32> = BTreeMap::new();
    if params.blockmax {
        // Per property, summed in f32 (`combineResults`).
        // n per term: the mean (integer division) over the properties holding it.
        let mut holding: HashMap<String, (u64, u64)> = HashMap::new();
        let mut per_prop: Vec<Vec<(String, usize)>> = Vec::new();
        for (s, bag) in props.iter().zip(&bags) {
            let terms = query_terms(query, s.prop.tokenization.as_deref(), &params.stopwords);
            for (t, _) in &terms {
                let n = bag.iter().flatten().filter(|b| b.contains_key(t)).count() as u64;
                let e = holding.entry(t.clone()).or_insert((0, 0));
                e.0 += n;
                e.1 += u64::from(n > 0);
            }
            per_prop.push(terms);
        }
        for ((s, bag), terms) in props.iter().zip(&bags).zip(&per_prop) {
            let (sum, count) = bag
                .iter()
                .flatten()
                .map(|b| b.values().map(|&f| u64::from(f)).sum::<u64>())
                .filter(|&len| len > 0)
                .fold((0u64, 0u64), |(s, c), len| (s + len, c + 1));
            let avgdl = if count == 0 {
                0.0
            } else {
                sum as f64 / count as f64
            };
            for (i, b) in bag.iter().enumerate() {
                let Some(b) = b else { continue };
                if !allowed(objects[i]) {
                    continue;
                }
                let dl = f64::from(b.values().sum::<u32>());
                let mut score = 0.0f64;
                let mut hit = false;
                for (t, dup) in terms {
                    let Some(&f) = b.get(t) else { continue };
                    hit = true;
                    let (n_sum, n_props) = holding[t];
                    let n = (n_sum / n_props.max(1)) as f64;
                    let w = idf(n, total) * *dup as f64;
                    let f = f64::from(f);
                    score += w * s.boost * f
                        / (f + params.k1 * (1.0 - params.b + params.b * dl / avgdl));
                }
                if hit {
                    *scores.entry(i).or_insert(0.0) += score as f32;
                }
            }
        }
    } else {
        // BM25F over the searched properties, with the first property's tokenization of the
        // query per tokenization group (Weaviate tokenises once per tokenization).
        let mut avgdl = 0.0f64;
        for bag in &bags {
            let (sum, count) = bag
                .iter()
                .flatten()
                .fold((0u64, 0u64), |(s, c), b| (s + b.len() as u64, c + 1));
            let mean = if count == 0 {
                0.0
            } else {
                sum as f32 / count as f32
            };
            avgdl += f64::from(mean);
        }
        avgdl /= props.len().max(1) as f64;
        let mut sums: BTreeMap<usize, f64> = BTreeMap::new();
        let mut by_tokenization: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
        for (j, s) in props.iter().enumerate() {
            by_tokenization
                .entry(s.prop.tokenization.as_deref().unwrap_or("word"))
                .or_default()
                .push(j);
        }
        for (tokenization, group) in by_tokenization {
            for (t, dup) in query_terms(query, Some(tokenization), &params.stopwords) {
                // Per object: (boosted frequency, distinct-token length) summed over the
                // group's properties holding the term.
                let mut per_object: BTreeMap<usize, (f64, f64)> = BTreeMap::new();
                for &j in &group {
                    for (i, b) in bags[j].iter().enumerate() {
                        let Some(b) = b else { continue };
                        let Some(&f) = b.get(&t) else { continue };
                        let e = per_object.entry(i).or_insert((0.0, 0.0));
                        e.0 += f64::from(f as f32 * props[j].boost as f32);
                        e.1 += b.len() as f64;
                    }
                }
                let w = idf(per_object.len() as f64, total) * dup as f64;
                for (i, (f, dl)) in per_object {
                    if allowed(objects[i]) {
                        *sums.entry(i).or_insert(0.0) +=
                            w * f / (f + params.k1 * (1.0 - params.b + params.b * dl / avgdl));
                    }
                }
            }
        }
        // Summed in f64, converted once (the top-k heap holds float32).
        scores.extend(sums.into_iter().map(|(i, s)| (i, s as f32)));
    }
    let mut out: Vec<(&StoredObject, f32)> =
        scores.into_iter().map(|(i, s)| (objects[i], s)).collect();
    out.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.doc_id.cmp(&b.0.doc_id)));
    Ok(out)
}

/// A float32 as Go's `fmt.Sprintf("%v", x)` prints it (graphql-go's String coercion of
/// `_additional.score`): the shortest digits that round-trip, `%e` form (`1.5e-05`, `1e+06`)
/// when the exponent is below -4 or at least 6.
pub(crate) fn go_f32(x: f32) -> String {
    if x.is_nan() {
        return "NaN".into();
    }
    if x.is_infinite() {
        return if x > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        };
    }
    let sign = if x.is_sign_negative() { "-" } else { "" };
    if x == 0.0 {
        return format!("{sign}0");
    }
    let e = format!("{:e}", x.abs());
    let (mantissa, exp) = e.split_once('e').unwrap_or((&e, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    if !(-4..6).contains(&exp) {
        let esign = if exp < 0 { '-' } else { '+' };
        return format!("{sign}{mantissa}e{esign}{:02}", exp.abs());
    }
    if exp < 0 {
        let zeros = "0".repeat((-exp - 1) as usize);
        return format!("{sign}0.{zeros}{digits}");
    }
    let int_len = exp as usize + 1;
    if digits.len() <= int_len {
        format!("{sign}{digits}{}", "0".repeat(int_len - digits.len()))
    } else {
        format!("{sign}{}.{}", &digits[..int_len], &digits[int_len..])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::Version;
    use crate::settings::tests::settings;
    use crate::store::Db;
    use serde_json::json;

    fn class(
        db: &mut Db,
        name: &str,
        inverted: Value,
        s: &Settings,
        texts: &[(&str, Option<&str>)],
    ) {
        db.create_class(
            &json!({"class": name, "invertedIndexConfig": inverted, "properties": [
                {"name": "key", "dataType": ["text"], "tokenization": "field", "indexSearchable": false},
                {"name": "body", "dataType": ["text"], "tokenization": "word", "indexFilterable": false},
                {"name": "plain", "dataType": ["text"], "indexSearchable": false},
                {"name": "n", "dataType": ["number"]}
            ]}),
            s,
        )
        .unwrap();
        for (i, (key, body)) in texts.iter().enumerate() {
            let mut props = json!({"key": key});
            if let Some(b) = body {
                props["body"] = json!(b);
            }
            let p = db
                .prepare_object(
                    &json!({"class": name, "id": format!("00000000-0000-0000-0000-{:012}", i + 1), "properties": props}),
                    s,
                )
                .unwrap();
            db.write(p).unwrap();
        }
    }

    fn keys(hits: &[(&StoredObject, f32)]) -> Vec<String> {
        hits.iter()
            .map(|(o, _)| o.props["key"].as_str().unwrap().to_owned())
            .collect()
    }

    /// The contract-style reference for one property under BlockMax: k1, b given.
    fn reference(tf: f64, dl: f64, avgdl: f64, n: f64, total: f64, k1: f64, b: f64) -> f64 {
        idf(n, total) * tf / (tf + k1 * (1.0 - b + b * dl / avgdl))
    }

    #[test]
    fn blockmax_scores_follow_the_source_formula() {
        let s = settings();
        let mut db = Db::default();
        let docs = [
            ("a", Some("zebra zebra plain")),
            ("b", Some("zebra plain plain plain plain")),
            ("c", Some("other words only")),
            ("d", Some("")),
            ("e", None),
        ];
        class(
            &mut db,
            "C",
            json!({"bm25": {"k1": 1.2, "b": 0.5}, "stopwords": {"preset": "none"}, "usingBlockMaxWAND": true}),
            &s,
            &docs,
        );
        let c = db.class("C").unwrap();
        let hits = search(c, &s, "zebra", Some(&["body".into()]), |_| true).unwrap();
        assert_eq!(keys(&hits), ["a", "b"]);
        // N = 5 objects, n = 2; avgdl over objects with at least one token: (3 + 5 + 3) / 3.
        let avgdl = 11.0 / 3.0;
        let want_a = reference(2.0, 3.0, avgdl, 2.0, 5.0, 1.2, 0.5) as f32;
        let want_b = reference(1.0, 5.0, avgdl, 2.0, 5.0, 1.2, 0.5) as f32;
        assert_eq!(hits[0].1, want_a);
        assert_eq!(hits[1].1, want_b);
        // A filter restricts the candidates, not the statistics.
        let only_b = search(c, &s, "zebra", Some(&["body".into()]), |o| {
            o.props["key"] == "b"
        })
        .unwrap();
        assert_eq!(only_b.len(), 1);
        assert_eq!(only_b[0].1, want_b);
        // A repeated query term doubles its idf.
        let twice = search(c, &s, "zebra ZEBRA", Some(&["body".into()]), |_| true).unwrap();
        assert_eq!(twice[0].1, (2.0 * f64::from(want_a)) as f32);
        // Omitted properties: every searchable text property (only `body` here).
        assert_eq!(
            keys(&search(c, &s, "zebra", None, |_| true).unwrap()),
            ["a", "b"]
        );
    }

    #[test]
    fn the_map_index_counts_distinct_tokens_and_empty_strings() {
        let mut s = settings();
        s.version = Version(1, 25, 0);
        let mut db = Db::default();
        class(
            &mut db,
            "C",
            json!({"bm25": {"k1": 1.2, "b": 0.5}, "stopwords": {"preset": "none"}}),
            &s,
            &[
                ("a", Some("zebra zebra plain")),
                ("b", Some("zebra plain plain plain plain")),
                ("d", Some("")),
                ("e", None),
            ],
        );
        let c = db.class("C").unwrap();
        let hits = search(c, &s, "zebra", Some(&["body".into()]), |_| true).unwrap();
        // dl = distinct tokens (2 and 2); avgdl = (2 + 2 + 0) / 3 objects with the property set.
        let avgdl = f64::from(4.0f32 / 3.0f32);
        assert_eq!(keys(&hits), ["a", "b"]);
        assert_eq!(
            hits[0].1,
            reference(2.0, 2.0, avgdl, 2.0, 4.0, 1.2, 0.5) as f32
        );
        assert_eq!(
            hits[1].1,
            reference(1.0, 2.0, avgdl, 2.0, 4.0, 1.2, 0.5) as f32
        );
    }

    #[test]
    fn stopwords_are_dropped_from_word_queries_only() {
        let s = settings();
        let mut db = Db::default();
        class(
            &mut db,
            "En",
            json!({}),
            &s,
            &[("a", Some("the cat")), ("b", Some("a dog"))],
        );
        class(
            &mut db,
            "None",
            json!({"stopwords": {"preset": "none"}}),
            &s,
            &[("a", Some("the cat")), ("b", Some("a dog"))],
        );
        class(
            &mut db,
            "Custom",
            json!({"stopwords": {"preset": "en", "additions": ["cat"], "removals": ["the"]}}),
            &s,
            &[("a", Some("the cat")), ("b", Some("a dog"))],
        );
        let q = |c: &str, text: &str| {
            keys(&search(db.class(c).unwrap(), &s, text, None, |_| true).unwrap())
        };
        assert!(q("En", "the a").is_empty());
        assert_eq!(q("En", "the cat"), ["a"]);
        assert_eq!(q("None", "the"), ["a"]);
        assert_eq!(q("None", "a"), ["b"]);
        assert_eq!(q("Custom", "the"), ["a"]);
        assert!(q("Custom", "cat").is_empty());
        assert_eq!(EN_STOPWORDS.len(), 33);
    }

    #[test]
    fn property_errors_use_weaviates_messages() {
        let s = settings();
        let mut db = Db::default();
        class(&mut db, "C", json!({}), &s, &[]);
        let c = db.class("C").unwrap();
        let err = |p: &str| search(c, &s, "x", Some(&[p.to_owned()]), |_| true).unwrap_err();
        assert!(
            err("key").contains("requires inverted index"),
            "{}",
            err("key")
        );
        assert!(err("n").contains("cannot handle datatype"));
        assert!(err("nope").contains("no such prop"));
        assert!(
            search(c, &s, "x", Some(&["body^2".into()]), |_| true)
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn scores_print_like_go_float32() {
        assert_eq!(go_f32(0.0), "0");
        assert_eq!(go_f32(1.0), "1");
        assert_eq!(go_f32(0.5753642), "0.5753642");
        assert_eq!(go_f32(123456.0), "123456");
        assert_eq!(go_f32(1_000_000.0), "1e+06");
        assert_eq!(go_f32(1_234_567.0), "1.234567e+06");
        assert_eq!(go_f32(0.0001), "0.0001");
        assert_eq!(go_f32(0.000_015), "1.5e-05");
        assert_eq!(go_f32(-2.25), "-2.25");
        assert_eq!(go_f32(f32::INFINITY), "+Inf");
        // Round trip through the shortest form.
        for x in [0.1f32, 3.4028235e38, 1.0e-45, 7.654321, 12.5] {
            assert_eq!(go_f32(x).parse::<f32>().ok(), Some(x), "{x}");
        }
    }
}
