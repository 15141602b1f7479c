//! Benchmark data: `.fvecs` / `.ivecs` (TEXMEX layout) and `.npy` readers, seeded clustered
//! random vectors, and exact nearest neighbours computed in `f64`.

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;

use indicatif::ProgressBar;
use rayon::prelude::*;
use vector_tier::Metric;

use crate::error::{Error, Result};

/// The deterministic generator shared with the conformance suite: bench data depend only on the
/// seed, never on a dependency's version, so figures from different builds are comparable.
pub use vector_tier::synth::SplitMix64;

/// Vectors stored row after row.
#[derive(Clone, Debug, Default)]
pub struct Matrix {
    /// Row length.
    pub dim: usize,
    /// `rows × dim` values.
    pub data: Vec<f32>,
}

impl Matrix {
    /// Number of rows.
    pub fn rows(&self) -> usize {
        self.data.len().checked_div(self.dim).unwrap_or(0)
    }

    /// Row `i`.
    pub fn row(&self, i: usize) -> &[f32] {
        &self.data[i * self.dim..(i + 1) * self.dim]
    }
}

/// Ground truth: for each query, the row numbers of its nearest base rows, best first.
#[derive(Clone, Debug, Default)]
pub struct Neighbours {
    /// Neighbours per query.
    pub width: usize,
    /// `queries × width` row numbers.
    pub ids: Vec<u32>,
}

impl Neighbours {
    /// The first `k` neighbours of query `q`.
    pub fn top(&self, q: usize, k: usize) -> &[u32] {
        &self.ids[q * self.width..q * self.width + k.min(self.width)]
    }
}

fn bad(path: &Path, message: impl Into<String>) -> Error {
    Error::Format {
        path: path.display().to_string(),
        message: message.into(),
    }
}

fn extension(path: &Path) -> String {
    path.extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase()
}

/// Reads the TEXMEX layout: rows of a little-endian int32 `d` followed by `d` 4-byte values,
/// at most `limit` rows. `decode` turns each 4-byte value into the element type.
fn read_xvecs<T>(
    path: &Path,
    limit: Option<usize>,
    decode: impl Fn([u8; 4]) -> T,
) -> Result<(usize, Vec<T>)> {
    let file = File::open(path).map_err(Error::io(path))?;
    let size = file.metadata().map_err(Error::io(path))?.len();
    let mut input = BufReader::with_capacity(1 << 20, file);
    let mut head = [0u8; 4];
    if size == 0 {
        return Err(bad(path, "empty file"));
    }
    input.read_exact(&mut head).map_err(Error::io(path))?;
    let dim = i32::from_le_bytes(head);
    if dim <= 0 || dim > 1_000_000 {
        return Err(bad(
            path,
            format!("not a .fvecs/.ivecs file: first row length {dim}"),
        ));
    }
    let dim = dim as usize;
    let row_bytes = 4 + 4 * dim as u64;
    if size % row_bytes != 0 {
        return Err(bad(
            path,
            format!("size {size} is not a multiple of the row size {row_bytes} (truncated?)"),
        ));
    }
    let rows = (size / row_bytes) as usize;
    let rows = limit.map_or(rows, |l| l.min(rows));
    let mut out = Vec::with_capacity(rows * dim);
    let mut row = vec![0u8; 4 * dim];
    for i in 0..rows {
        if i > 0 {
            input.read_exact(&mut head).map_err(Error::io(path))?;
            if i32::from_le_bytes(head) as i64 != dim as i64 {
                return Err(bad(
                    path,
                    format!(
                        "row {i} has length {} but row 0 has {dim}",
                        i32::from_le_bytes(head)
                    ),
                ));
            }
        }
        input.read_exact(&mut row).map_err(Error::io(path))?;
        out.extend(
            row.chunks_exact(4)
                .map(|c| decode([c[0], c[1], c[2], c[3]])),
        );
    }
    Ok((dim, out))
}

/// Reads a 2-D `.npy` array (C order; `.npy` versions 1–3) of float32, float64, int32 or int64,
/// converting each element with `convert`, at most `limit` rows.
fn read_npy<T>(
    path: &Path,
    limit: Option<usize>,
    convert: impl Fn(f64) -> Option<T>,
) -> Result<(usize, Vec<T>)> {
    let open = || -> Result<npyz::NpyFile<BufReader<File>>> {
        let file = File::open(path).map_err(Error::io(path))?;
        npyz::NpyFile::new(BufReader::with_capacity(1 << 20, file))
            .map_err(|e| bad(path, format!("not a .npy file: {e}")))
    };
    let npy = open()?;
    let shape = npy.shape().to_vec();
    if shape.len() != 2 {
        return Err(bad(
            path,
            format!("expected a 2-D array (rows × dimension), found shape {shape:?}"),
        ));
    }
    if npy.order() != npyz::Order::C {
        return Err(bad(
            path,
            "Fortran-order arrays are not supported; save with C order (numpy's default)",
        ));
    }
    let (rows, dim) = (shape[0] as usize, shape[1] as usize);
    if dim == 0 {
        return Err(bad(path, "the array has 0 columns"));
    }
    let rows = limit.map_or(rows, |l| l.min(rows));
    let wanted = rows * dim;
    let dtype = format!("{:?}", npy.dtype());
    let mut out = Vec::with_capacity(wanted);
    let mut push = |value: f64| -> Result<()> {
        out.push(
            convert(value)
                .ok_or_else(|| bad(path, format!("value {value} does not fit the element type")))?,
        );
        Ok(())
    };
    macro_rules! take {
        ($npy:expr, $ty:ty) => {{
            for value in $npy.take(wanted) {
                push(value.map_err(Error::io(path))? as f64)?;
            }
        }};
    }
    // Try the element types in turn; `try_data` hands the file back when the dtype differs.
    match npy.try_data::<f32>() {
        Ok(r) => take!(r, f32),
        Err(npy) => match npy.try_data::<f64>() {
            Ok(r) => take!(r, f64),
            Err(npy) => match npy.try_data::<i32>() {
                Ok(r) => take!(r, i32),
                Err(npy) => match npy.try_data::<i64>() {
                    Ok(r) => take!(r, i64),
                    Err(_) => {
                        return Err(bad(
                            path,
                            format!(
                                "unsupported element type {dtype}; use float32, float64, int32 or int64"
                            ),
                        ));
                    }
                },
            },
        },
    }
    if out.len() != wanted {
        return Err(bad(
            path,
            format!("truncated: expected {wanted} values, read {}", out.len()),
        ));
    }
    Ok((dim, out))
}

/// Reads vectors from `.fvecs` or `.npy` (float32; float64 is converted), at most `limit` rows.
///
/// # Errors
/// Unknown extension, malformed or truncated file.
pub fn read_vectors(path: &Path, limit: Option<usize>) -> Result<Matrix> {
    let (dim, data) = match extension(path).as_str() {
        "fvecs" => read_xvecs(path, limit, f32::from_le_bytes)?,
        "npy" => read_npy(path, limit, |v| Some(v as f32))?,
        other => {
            return Err(bad(
                path,
                format!("unknown vector file type {other:?}; use .fvecs or .npy"),
            ));
        }
    };
    if let Some(i) = data.iter().position(|v| !v.is_finite()) {
        return Err(bad(
            path,
            format!("row {} holds a non-finite value", i / dim),
        ));
    }
    Ok(Matrix { dim, data })
}

/// Reads ground truth (0-based row numbers) from `.ivecs` or an integer `.npy`, at most
/// `limit` rows.
///
/// # Errors
/// Unknown extension, malformed file, negative ids.
pub fn read_neighbours(path: &Path, limit: Option<usize>) -> Result<Neighbours> {
    let (width, ids) = match extension(path).as_str() {
        "ivecs" => {
            let (w, ids) = read_xvecs(path, limit, i32::from_le_bytes)?;
            let ids = ids
                .into_iter()
                .map(|v| u32::try_from(v).map_err(|_| bad(path, format!("negative id {v}"))))
                .collect::<Result<Vec<u32>>>()?;
            (w, ids)
        }
        "npy" => read_npy(path, limit, |v| {
            (v >= 0.0 && v <= f64::from(u32::MAX) && v.fract() == 0.0).then_some(v as u32)
        })?,
        other => {
            return Err(bad(
                path,
                format!("unknown ground-truth file type {other:?}; use .ivecs or .npy"),
            ));
        }
    };
    Ok(Neighbours { width, ids })
}

/// `n` base and `nq` query vectors of dimension `dim` around `clusters` random centres
/// (Gaussian centres, Gaussian spread of a quarter of the centres' scale), from `seed`.
/// Clustered data are what real embeddings look like; uniform data are a worst case for
/// approximate indexes.
pub fn generate(n: usize, nq: usize, dim: usize, clusters: usize, seed: u64) -> (Matrix, Matrix) {
    let clusters = clusters.max(1);
    let mut rng = SplitMix64::new(seed);
    let centres: Vec<f32> = (0..clusters * dim).map(|_| rng.normal()).collect();
    let make = |rows: usize, rng: &mut SplitMix64| {
        let mut data = Vec::with_capacity(rows * dim);
        for _ in 0..rows {
            let c = rng.below(clusters);
            let centre = &centres[c * dim..(c + 1) * dim];
            data.extend(centre.iter().map(|x| x + 0.25 * rng.normal()));
        }
        Matrix { dim, data }
    };
    let base = make(n, &mut rng);
    let queries = make(nq, &mut rng);
    (base, queries)
}

fn dot(a: &[f32], b: &[f32]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(x, y)| f64::from(*x) * f64::from(*y))
        .sum()
}

/// The score of base row `v` (with norm `v_norm`) for query `q` (norm `q_norm`); higher is
/// nearer. For Euclidean the negated squared distance: only the order matters here.
fn score(metric: Metric, q: &[f32], v: &[f32], q_norm: f64, v_norm: f64) -> f64 {
    match metric {
        Metric::Cosine => dot(q, v) / (q_norm * v_norm),
        Metric::DotProduct => dot(q, v),
        _ => -q
            .iter()
            .zip(v)
            .map(|(a, b)| (f64::from(*a) - f64::from(*b)).powi(2))
            .sum::<f64>(),
    }
}

/// The exact `k` nearest base rows of every query under `metric`, computed in `f64` (ties
/// broken by row number, like key order for zero-padded keys), in parallel.
pub fn exact_neighbours(
    base: &Matrix,
    queries: &Matrix,
    metric: Metric,
    k: usize,
    bar: &ProgressBar,
) -> Neighbours {
    let k = k.min(base.rows());
    let norms: Vec<f64> = if metric == Metric::Cosine {
        (0..base.rows())
            .into_par_iter()
            .map(|i| dot(base.row(i), base.row(i)).sqrt())
            .collect()
    } else {
        Vec::new()
    };
    let rows: Vec<Vec<u32>> = (0..queries.rows())
        .into_par_iter()
        .map(|qi| {
            let q = queries.row(qi);
            let q_norm = dot(q, q).sqrt();
            // A small sorted list of the best (score, row) so far; k is small.
            let mut best: Vec<(f64, u32)> = Vec::with_capacity(k + 1);
            for i in 0..base.rows() {
                let s = score(
                    metric,
                    q,
                    base.row(i),
                    q_norm,
                    norms.get(i).copied().unwrap_or(1.0),
                );
                if best.len() == k && best.last().is_some_and(|(worst, _)| s <= *worst) {
                    continue;
                }
                let pos = best.partition_point(|(b, _)| *b >= s);
                best.insert(pos, (s, i as u32));
                best.truncate(k);
            }
            bar.inc(1);
            best.into_iter().map(|(_, i)| i).collect()
        })
        .collect();
    Neighbours {
        width: k,
        ids: rows.into_iter().flatten().collect(),
    }
}
