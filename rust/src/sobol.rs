//! Scrambled Sobol points: Joe-Kuo direction numbers, a random linear matrix scramble and a
//! random digital shift per dimension (the scrambling scipy's `qmc.Sobol` also uses).
//!
//! Point `i` is the Gray-code point `gray(i) = i ^ (i >> 1)`, so walking forward costs one XOR
//! per coordinate, and any point can also be computed on its own.

use crate::rng::{unit32, Philox};
use crate::sobol_table::{MAX_DEGREE, MAX_DIMS, MINIT, POLY};

const BITS: usize = 32;
/// Random stream used for scrambling, apart from the sampling streams.
const SCRAMBLE_STREAM: u32 = 0x0005_0801;

/// A scrambled Sobol sequence in `dims` dimensions.
#[derive(Clone, Debug)]
pub struct Sobol {
    /// `dirs[j * BITS + k]`: scrambled direction number k of dimension j.
    dirs: Vec<u32>,
    shift: Vec<u32>,
    dims: usize,
}

/// Largest number of dimensions supported.
pub const fn max_dims() -> usize {
    MAX_DIMS
}

fn direction_numbers(dim: usize) -> [u32; BITS] {
    let mut v = [0u32; BITS];
    if dim == 0 {
        for (k, vk) in v.iter_mut().enumerate() {
            *vk = 1 << (BITS - 1 - k);
        }
        return v;
    }
    let poly = u32::from(POLY[dim]);
    let s = (32 - poly.leading_zeros() - 1) as usize;
    let mut m = [0u32; BITS];
    m[..s].copy_from_slice(
        &MINIT[dim][..s]
            .iter()
            .map(|&x| u32::from(x))
            .collect::<Vec<_>>(),
    );
    for k in s..BITS {
        let mut mk = m[k - s] ^ (m[k - s] << s);
        for j in 1..s {
            if (poly >> (s - j)) & 1 == 1 {
                mk ^= m[k - j] << j;
            }
        }
        m[k] = mk;
    }
    for k in 0..BITS {
        v[k] = m[k] << (BITS - 1 - k);
    }
    v
}

impl Sobol {
    /// The sequence for `dims` dimensions (at most [`max_dims`]) scrambled by `seed`.
    pub fn new(dims: usize, seed: u64) -> Self {
        const { assert!(MAX_DEGREE <= BITS) };
        let rng = Philox::new(seed, SCRAMBLE_STREAM);
        let mut dirs = vec![0u32; dims * BITS];
        let mut shift = vec![0u32; dims];
        for j in 0..dims {
            let v = direction_numbers(j % MAX_DIMS);
            // Lower-triangular scramble: output bit r (from the top) mixes input bits 0..=r.
            let mut rows = [0u32; BITS];
            for (r, row) in rows.iter_mut().enumerate() {
                let random = rng.bits(j as u64, r as u32) as u32;
                let above = if r == 0 { 0 } else { !0u32 << (BITS - r) };
                *row = (random & above) | (1 << (BITS - 1 - r));
            }
            for k in 0..BITS {
                let mut out = 0u32;
                for (r, row) in rows.iter().enumerate() {
                    out |= ((row & v[k]).count_ones() & 1) << (BITS - 1 - r);
                }
                dirs[j * BITS + k] = out;
            }
            shift[j] = rng.bits(j as u64, BITS as u32) as u32;
        }
        Sobol { dirs, shift, dims }
    }

    fn raw(&self, index: u64, j: usize) -> u32 {
        let gray = (index ^ (index >> 1)) as u32;
        let mut x = self.shift[j];
        let mut bits = gray;
        while bits != 0 {
            let k = bits.trailing_zeros() as usize;
            x ^= self.dirs[j * BITS + k];
            bits &= bits - 1;
        }
        x
    }

    /// Point `index`, written as uniforms strictly inside (0, 1).
    pub fn point(&self, index: u64, out: &mut [f64]) {
        for (j, o) in out.iter_mut().enumerate().take(self.dims) {
            *o = to_unit(self.raw(index, j));
        }
    }

    /// An iterator-like walker starting at point `start`.
    pub fn walker(&self, start: u64) -> SobolWalker<'_> {
        let state = (0..self.dims).map(|j| self.raw(start, j)).collect();
        SobolWalker {
            sobol: self,
            state,
            index: start,
            flips: Vec::new(),
        }
    }
}

#[inline]
fn to_unit(x: u32) -> f64 {
    unit32(x)
}

/// Walks the sequence forward one point at a time with one XOR per coordinate.
pub struct SobolWalker<'a> {
    sobol: &'a Sobol,
    state: Vec<u32>,
    index: u64,
    /// Scratch of [`SobolWalker::next_columns`]: the bit each step flips (`BITS`: none).
    flips: Vec<usize>,
}

impl SobolWalker<'_> {
    /// Writes the current point and advances to the next one.
    #[inline]
    pub fn next_into(&mut self, out: &mut [f64]) {
        for (o, &x) in out.iter_mut().zip(&self.state) {
            *o = to_unit(x);
        }
        self.advance();
    }

    /// Writes the next `rows` points column-major as uniforms in (0, 1): coordinate j of the
    /// r-th point goes to `cols[j * stride + r]` (`rows <= stride`, `cols` at least
    /// `dims * stride` long). The same values as `rows` calls of [`SobolWalker::next_into`].
    pub fn next_columns(&mut self, cols: &mut [f64], stride: usize, rows: usize) {
        // Which direction number each step flips: shared by every column, worked out once.
        self.flips.clear();
        self.flips.extend((1..=rows as u64).map(|r| {
            let k = self.index.wrapping_add(r).trailing_zeros() as usize;
            k.min(BITS)
        }));

        // One column at a time: a short dependent chain per value, with no inner loop. The
        // coordinate is walked inside the bits of the double 1 + unit32(x) (x in the top 32
        // mantissa bits, the half cell below it), so a step is one XOR and one store, and the
        // one is taken off in a second, vectorised pass.
        const ONE_AND_HALF_CELL: u64 = 0x3FF0_0000_0000_0000 | (1 << 19);
        for (j, x0) in self.state.iter_mut().enumerate() {
            let mut dirs = [0u64; BITS + 1];
            for (d, &v) in dirs
                .iter_mut()
                .zip(&self.sobol.dirs[j * BITS..(j + 1) * BITS])
            {
                *d = u64::from(v) << 20;
            }
            let col = &mut cols[j * stride..j * stride + rows];
            let mut x = ONE_AND_HALF_CELL | (u64::from(*x0) << 20);
            for (out, &k) in col.iter_mut().zip(&self.flips) {
                *out = f64::from_bits(x);
                x ^= dirs[k];
            }
            *x0 = (x >> 20) as u32;
            for out in col.iter_mut() {
                *out -= 1.0;
            }
        }
        self.index = self.index.wrapping_add(rows as u64);
    }

    #[inline]
    fn advance(&mut self) {
        self.index += 1;
        // gray(i) and gray(i - 1) differ in bit trailing_zeros(i).
        let k = self.index.trailing_zeros() as usize;
        if k < BITS {
            let dirs = &self.sobol.dirs[..self.state.len() * BITS];
            for (j, s) in self.state.iter_mut().enumerate() {
                *s ^= dirs[j * BITS + k];
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn walker_matches_direct_points() {
        let s = Sobol::new(7, 11);
        let mut w = s.walker(5);
        let (mut a, mut b) = (vec![0.0; 7], vec![0.0; 7]);
        for i in 5..3000u64 {
            w.next_into(&mut a);
            s.point(i, &mut b);
            assert_eq!(a, b, "point {i}");
        }
    }

    #[test]
    fn column_walk_matches_direct_points() {
        let s = Sobol::new(3, 4);
        let mut w = s.walker(7);
        let stride = 50;
        let mut cols = vec![0.0; 3 * stride];
        w.next_columns(&mut cols, stride, stride);
        let mut p = vec![0.0; 3];
        for r in 0..stride {
            s.point(7 + r as u64, &mut p);
            for j in 0..3 {
                assert_eq!(cols[j * stride + r], p[j], "point {r} dim {j}");
            }
        }
        s.point(7 + stride as u64, &mut p);
        let mut next = vec![0.0; 3];
        w.next_into(&mut next);
        assert_eq!(next, p);
    }

    #[test]
    fn first_power_of_two_points_are_stratified() {
        // A (t, m, s)-net property: in every dimension, 2^m points fill each of the 2^m
        // intervals [k / 2^m, (k + 1) / 2^m) exactly once, scrambled or not.
        let s = Sobol::new(20, 3);
        let n = 256;
        let mut counts = vec![vec![0; n]; 20];
        let mut p = vec![0.0; 20];
        for i in 0..n as u64 {
            s.point(i, &mut p);
            for j in 0..20 {
                counts[j][(p[j] * n as f64) as usize] += 1;
            }
        }
        assert!(counts.iter().all(|c| c.iter().all(|&k| k == 1)));
    }

    #[test]
    fn unscrambled_second_dimension_is_known() {
        // Dimension 1 of the plain sequence in Gray-code order: 0, 1/2, 1/4, 3/4.
        let v = direction_numbers(1);
        let pts: Vec<u32> = (0..4u32)
            .map(|i| {
                let g = i ^ (i >> 1);
                (0..32).filter(|k| g >> k & 1 == 1).fold(0, |x, k| x ^ v[k])
            })
            .collect();
        assert_eq!(pts, vec![0, 1 << 31, 1 << 30, 3 << 30]);
    }
}
