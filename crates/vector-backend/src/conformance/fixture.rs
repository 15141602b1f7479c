//! Deterministic test data: a seeded generator whose output never changes between versions
//! (so a printed seed reproduces a failure forever), random and clustered vector sets, and the
//! record set the filter cases share.

use serde_json::json;

use crate::Metadata;

/// SplitMix64: tiny, fast, and stable by construction. Test data must not change when a
/// dependency's generator does, or recorded seeds stop reproducing failures.
#[derive(Clone, Debug)]
pub struct Lcg(u64);

impl Lcg {
    /// A generator from a seed.
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in [-1, 1) as f32.
    pub fn signed(&mut self) -> f32 {
        (self.unit() * 2.0 - 1.0) as f32
    }

    /// Uniform integer in `0..n`.
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    /// Approximately normal (sum of uniforms), mean 0, standard deviation ~1.
    pub fn normal(&mut self) -> f32 {
        let s: f64 = (0..12).map(|_| self.unit()).sum();
        (s - 6.0) as f32
    }
}

/// A stable 64-bit hash of a string (FNV-1a), for per-case seeds.
pub(crate) fn seed_of(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// `n` vectors of dimension `dim` with values uniform in [-1, 1).
pub fn random_unit(rng: &mut Lcg, n: usize, dim: usize) -> Vec<Vec<f32>> {
    (0..n)
        .map(|_| (0..dim).map(|_| rng.signed()).collect())
        .collect()
}

/// `n` vectors drawn around `clusters` random centres with Gaussian spread `spread`: the shape
/// of real embeddings, which approximate indexes are built for (uniform data is their worst
/// case).
pub fn clustered(
    rng: &mut Lcg,
    n: usize,
    dim: usize,
    clusters: usize,
    spread: f32,
) -> Vec<Vec<f32>> {
    let centres = random_unit(rng, clusters, dim);
    (0..n)
        .map(|_| {
            let c = &centres[rng.below(clusters)];
            c.iter().map(|x| x + spread * rng.normal()).collect()
        })
        .collect()
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
    let mut rng = Lcg::new(7);
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
