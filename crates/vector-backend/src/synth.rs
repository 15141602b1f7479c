//! Deterministic synthetic data: a seeded generator whose output never changes between
//! versions (so a printed seed reproduces a conformance failure forever, and benchmark figures
//! from different builds use the same data), uniform and clustered vector sets.

/// SplitMix64: tiny, fast, and stable by construction. Test data must not change when a
/// dependency's generator does, or recorded seeds stop reproducing failures.
#[derive(Clone, Debug)]
pub struct SplitMix64(u64);

impl SplitMix64 {
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
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in [-1, 1) as f32.
    pub fn signed(&mut self) -> f32 {
        (self.next_f64() * 2.0 - 1.0) as f32
    }

    /// `dim` values uniform in [-1, 1).
    pub fn vector(&mut self, dim: usize) -> Vec<f32> {
        (0..dim).map(|_| self.signed()).collect()
    }

    /// Uniform integer in `0..n`.
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    /// Approximately normal (sum of uniforms), mean 0, standard deviation ~1.
    pub fn normal(&mut self) -> f32 {
        let s: f64 = (0..12).map(|_| self.next_f64()).sum();
        (s - 6.0) as f32
    }
}

/// `n` vectors of dimension `dim` with values uniform in [-1, 1).
pub fn random_unit(rng: &mut SplitMix64, n: usize, dim: usize) -> Vec<Vec<f32>> {
    (0..n)
        .map(|_| (0..dim).map(|_| rng.signed()).collect())
        .collect()
}

/// `n` vectors drawn around `clusters` random centres with Gaussian spread `spread`: the shape
/// of real embeddings, which approximate indexes are built for (uniform data is their worst
/// case).
pub fn clustered(
    rng: &mut SplitMix64,
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
