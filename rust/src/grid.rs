//! Lazy parameter grids with scikit-learn's `ParameterGrid` order.
//!
//! A grid is a list of sub-grids; each sub-grid is a product of value lists, one per key,
//! with keys in sorted order and the last key varying fastest. Nothing is materialised: point
//! `i` is found by mixed-radix arithmetic, so a grid of 10^12 points costs memory
//! proportional to its number of values.

use rayon::prelude::*;

use crate::error::{Error, Result};
use crate::rng::Philox;

/// The shape of one sub-grid: the number of values of each key, in sorted key order.
#[derive(Clone, Debug)]
struct SubGrid {
    sizes: Vec<u64>,
    total: u64,
}

/// The shape of a grid: how many points, and which values make up point `i`.
#[derive(Clone, Debug)]
pub struct GridShape {
    subs: Vec<SubGrid>,
    len: u64,
}

impl GridShape {
    /// A grid from the value counts of each sub-grid's keys (sorted key order). An empty
    /// sub-grid (no keys) holds exactly one point, the empty assignment.
    pub fn new(sizes: Vec<Vec<u64>>) -> Result<Self> {
        let mut subs = Vec::with_capacity(sizes.len());
        let mut len: u64 = 0;
        for (s, sizes) in sizes.into_iter().enumerate() {
            let mut total: u64 = 1;
            for &n in &sizes {
                if n == 0 {
                    return Err(Error::invalid(
                        "param_grid",
                        format!("sub-grid {s}"),
                        "every parameter needs a non-empty list of values",
                    ));
                }
                total = total.checked_mul(n).ok_or_else(too_large)?;
            }
            len = len.checked_add(total).ok_or_else(too_large)?;
            subs.push(SubGrid { sizes, total });
        }
        if len > i64::MAX as u64 {
            return Err(too_large());
        }
        Ok(GridShape { subs, len })
    }

    /// Number of points.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether the grid has no points.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Number of sub-grids.
    pub fn n_subs(&self) -> usize {
        self.subs.len()
    }

    /// Finds point `index`: returns its sub-grid and writes the value index of each of that
    /// sub-grid's keys into `digits`.
    pub fn locate(&self, index: u64, digits: &mut Vec<usize>) -> Result<usize> {
        let mut rest = index;
        for (s, sub) in self.subs.iter().enumerate() {
            if rest < sub.total {
                digits.clear();
                digits.resize(sub.sizes.len(), 0);
                for (d, &n) in digits.iter_mut().zip(&sub.sizes).rev() {
                    *d = (rest % n) as usize;
                    rest /= n;
                }
                return Ok(s);
            }
            rest -= sub.total;
        }
        Err(Error::IndexOutOfRange {
            what: "grid".into(),
            index: i128::from(index),
            len: u128::from(self.len),
        })
    }

    /// Fills a row-major array with points `start .. start + n`. `columns[s][k]` is the output
    /// column of key `k` of sub-grid `s`, and `values[s][k]` its numeric values; columns a
    /// sub-grid lacks are NaN.
    pub fn fill(
        &self,
        start: u64,
        n: usize,
        n_cols: usize,
        columns: &[Vec<usize>],
        values: &[Vec<Vec<f64>>],
    ) -> Result<Vec<f64>> {
        if start.checked_add(n as u64).is_none_or(|end| end > self.len) {
            return Err(Error::IndexOutOfRange {
                what: "grid".into(),
                index: i128::from(start) + n as i128,
                len: u128::from(self.len),
            });
        }
        let mut out = vec![f64::NAN; n * n_cols];
        self.fill_into(&mut out, start, n_cols, columns, values)?;
        Ok(out)
    }

    /// Like [`GridShape::fill`], writing into `out` (`n * n_cols` long). Columns a sub-grid
    /// lacks are left as they are: set them to NaN first when that matters.
    pub fn fill_into(
        &self,
        out: &mut [f64],
        start: u64,
        n_cols: usize,
        columns: &[Vec<usize>],
        values: &[Vec<Vec<f64>>],
    ) -> Result<()> {
        if n_cols == 0 {
            return Ok(());
        }
        let n = out.len() / n_cols;
        if start.checked_add(n as u64).is_none_or(|end| end > self.len) {
            return Err(Error::IndexOutOfRange {
                what: "grid".into(),
                index: i128::from(start) + n as i128,
                len: u128::from(self.len),
            });
        }
        const CHUNK: usize = 8192;
        out.par_chunks_mut(CHUNK * n_cols)
            .enumerate()
            .try_for_each(|(c, block)| {
                let mut digits = Vec::new();
                let mut index = start + (c * CHUNK) as u64;
                let mut s = self.locate(index, &mut digits)?;
                for row in block.chunks_mut(n_cols) {
                    for (k, &d) in digits.iter().enumerate() {
                        row[columns[s][k]] = values[s][k][d];
                    }
                    // Odometer step: the last key varies fastest.
                    index += 1;
                    let sizes = &self.subs[s].sizes;
                    let mut carry = true;
                    for k in (0..digits.len()).rev() {
                        digits[k] += 1;
                        if (digits[k] as u64) < sizes[k] {
                            carry = false;
                            break;
                        }
                        digits[k] = 0;
                    }
                    if carry && index < self.len {
                        s = self.locate(index, &mut digits)?;
                    }
                }
                Ok::<(), Error>(())
            })?;
        Ok(())
    }
}

fn too_large() -> Error {
    Error::invalid(
        "param_grid",
        "more than 2^63 points",
        "the grid is too large to index",
    )
}

/// A bijection of `0..n` keyed by a seed: a balanced Feistel network on the smallest even
/// number of bits covering `n`, with cycle walking back into range. O(1) memory for any `n`.
#[derive(Clone, Debug)]
pub struct Permutation {
    n: u64,
    half_bits: u32,
    rng: Philox,
}

const FEISTEL_ROUNDS: u32 = 6;

impl Permutation {
    /// A permutation of `0..n` determined by `seed`.
    pub fn new(n: u64, seed: u64) -> Self {
        let bits = (64 - n.saturating_sub(1).leading_zeros()).max(2);
        let half_bits = bits.div_ceil(2);
        Permutation {
            n,
            half_bits,
            rng: Philox::new(seed, 0x0F21_57E1),
        }
    }

    fn encrypt(&self, x: u64) -> u64 {
        let mask = (1u64 << self.half_bits) - 1;
        let (mut left, mut right) = (x >> self.half_bits, x & mask);
        for round in 0..FEISTEL_ROUNDS {
            let f = self.rng.bits(right, round) & mask;
            (left, right) = (right, left ^ f);
        }
        (left << self.half_bits) | right
    }

    /// The image of `i` (which must be below `n`).
    pub fn apply(&self, i: u64) -> u64 {
        let mut x = self.encrypt(i);
        while x >= self.n {
            x = self.encrypt(x);
        }
        x
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locate_follows_sklearn_order() {
        // {"a": [1, 2], "b": [x, y, z]} then {} then {"c": [7]}
        let g = GridShape::new(vec![vec![2, 3], vec![], vec![1]]).unwrap();
        assert_eq!(g.len(), 8);
        let mut d = Vec::new();
        let seen: Vec<(usize, Vec<usize>)> = (0..8)
            .map(|i| (g.locate(i, &mut d).unwrap(), d.clone()))
            .collect();
        assert_eq!(seen[0], (0, vec![0, 0]));
        assert_eq!(seen[1], (0, vec![0, 1]));
        assert_eq!(seen[3], (0, vec![1, 0]));
        assert_eq!(seen[6], (1, vec![]));
        assert_eq!(seen[7], (2, vec![0]));
        assert!(g.locate(8, &mut d).is_err());
    }

    #[test]
    fn fill_matches_locate() {
        let g = GridShape::new(vec![vec![3, 4, 5], vec![7, 2]]).unwrap();
        let columns = vec![vec![0, 1, 2], vec![0, 3]];
        let values: Vec<Vec<Vec<f64>>> = vec![
            vec![
                vec![0., 1., 2.],
                vec![10., 11., 12., 13.],
                (20..25).map(f64::from).collect(),
            ],
            vec![(30..37).map(f64::from).collect(), vec![40., 41.]],
        ];
        let n = g.len() as usize;
        let out = g.fill(0, n, 4, &columns, &values).unwrap();
        let mut d = Vec::new();
        for i in 0..n {
            let s = g.locate(i as u64, &mut d).unwrap();
            for (k, &c) in columns[s].iter().enumerate() {
                assert_eq!(out[i * 4 + c], values[s][k][d[k]]);
            }
        }
        let tail = g.fill(70, 4, 4, &columns, &values).unwrap();
        let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&tail), bits(&out[70 * 4..]));
        assert!(g.fill(70, 5, 4, &columns, &values).is_err());
    }

    #[test]
    fn huge_grids_are_lazy_and_overflow_is_an_error() {
        let g = GridShape::new(vec![vec![1000; 4]]).unwrap();
        assert_eq!(g.len(), 1_000_000_000_000);
        let mut d = Vec::new();
        g.locate(999_999_999_999, &mut d).unwrap();
        assert_eq!(d, vec![999; 4]);
        assert!(GridShape::new(vec![vec![u64::MAX, 2]]).is_err());
        assert!(GridShape::new(vec![vec![3, 0]]).is_err());
    }

    #[test]
    fn permutation_is_a_bijection() {
        for n in [1u64, 2, 3, 10, 1000, 4097] {
            let p = Permutation::new(n, 9);
            let mut seen = vec![false; n as usize];
            for i in 0..n {
                let j = p.apply(i) as usize;
                assert!(!seen[j]);
                seen[j] = true;
            }
        }
        let p = Permutation::new(1000, 1);
        assert_ne!(
            (0..10).map(|i| p.apply(i)).collect::<Vec<_>>(),
            (0..10).collect::<Vec<_>>()
        );
    }
}
