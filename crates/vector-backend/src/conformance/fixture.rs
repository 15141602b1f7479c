//! Test data of the suite: per-case seeds, hostile strings, and the record set the filter
//! cases share. The generator and the vector sets are `crate::synth`, shared with benchmarks.

use serde_json::json;

use crate::Metadata;
use crate::synth::SplitMix64;

/// A stable 64-bit hash of a string (FNV-1a), for per-case seeds.
pub(crate) fn seed_of(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// Strings that are syntax in SQL, RediSearch, GraphQL, JSON, URLs or shells, plus unicode:
/// as keys and keyword values they must be stored and matched literally.
pub(crate) const HOSTILE: &[&str] = &[
    "plain",
    "with space",
    "quote'single",
    "quote\"double",
    "back\\slash",
    "'; DROP TABLE vectors; --",
    "1 OR 1=1",
    "$1",
    "@field:{value}",
    "a|b",
    "(x) -y ~z",
    "*",
    "%",
    "tag{with}braces",
    "[0 TO 9]",
    "=>[KNN 10 @embedding $vec]",
    "{ Get { Things } }",
    "\") { id } }",
    "colon:and/slash",
    "dot.and,comma;",
    "new\nline\ttab",
    "ümlaut",
    "漢字",
    "emoji 🎉",
    "\u{202e}rtl",
    "-leading-dash",
    "trailing space ",
];

/// The records the filter cases share: keys `r00..`, a 4-dimensional embedding, and metadata
/// with `color` (keyword, sometimes missing), `tags` (keyword array), `price` (number, sometimes
/// missing; integers and fractions, negative too), `in_stock` (bool, sometimes missing), `name`
/// (a hostile string) and an undeclared `note`.
pub(crate) fn filter_records() -> Vec<(String, Vec<f32>, Metadata)> {
    let colors = ["red", "green", "blue", "Red"];
    let mut rng = SplitMix64::new(7);
    (0..60)
        .map(|i| {
            let mut m = serde_json::Map::new();
            if i % 7 != 3 {
                m.insert("color".into(), json!(colors[i % colors.len()]));
            }
            let tags: Vec<&str> = match i % 5 {
                0 => vec![],
                1 => vec!["a"],
                2 => vec!["a", "b"],
                3 => vec!["c", HOSTILE[i % HOSTILE.len()]],
                _ => vec!["b"],
            };
            if i % 11 != 4 {
                m.insert("tags".into(), json!(tags));
            }
            if i % 6 != 5 {
                let price = if i % 2 == 0 {
                    json!(i as i64 - 20)
                } else {
                    json!(i as f64 * 0.5)
                };
                m.insert("price".into(), price);
            }
            if i % 4 != 1 {
                m.insert("in_stock".into(), json!(i % 3 == 0));
            }
            m.insert("name".into(), json!(HOSTILE[i % HOSTILE.len()]));
            m.insert("note".into(), json!({"i": i, "nested": [i, "x"]}));
            let e = (0..4).map(|_| rng.signed()).collect();
            (format!("r{i:02}"), e, m)
        })
        .collect()
}
