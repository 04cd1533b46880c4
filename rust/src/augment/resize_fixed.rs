//! The `uint8` resampling kernel: fixed-point weights, integer accumulators and a `uint8`
//! intermediate, in the same two passes as the float kernel of [`super::resize`].
//!
//! Like torch's `uint8` kernel (and Pillow's), each pass rounds to `uint8`: the horizontal pass
//! first, over the input rows the vertical pass needs, then the vertical pass. The weights of
//! each axis are the taps of [`super::resize::Taps`], computed in `f64`, scaled by `2^shift`
//! and rounded, with `shift` the
//! largest (at most 22) that keeps every weight below `2^15`; an output is
//! `clamp((2^(shift-1) + sum w * x) >> shift, 0, 255)`. Results stay within one unit of the
//! float kernel and of torch.
//!
//! The horizontal pass reads each output from a few neighbouring inputs of one row; to run it
//! across many rows at once, sixteen rows are transposed into column-major order (SSE2 16x16
//! byte transposes on x86_64), each output column is computed for all sixteen rows in one
//! 16-lane multiply-add per tap, and the results are transposed back into rows. The vertical
//! pass then runs along whole rows, which the compiler vectorises as it is.

use super::resize::{grow, load_row, CropBox};
use super::{ImageRef, Order};

/// Rows the horizontal pass handles at once: one 16-byte vector per input column.
const ROWS: usize = 16;

/// [`Taps`] in fixed point: output `i` reads inputs `start[i] .. start[i] + k` with weights
/// `weights[i * k .. (i + 1) * k]`, in units of `2^-shift`.
#[derive(Clone, Debug, PartialEq)]
pub struct FixedTaps {
    pub start: Vec<usize>,
    pub weights: Vec<i32>,
    pub k: usize,
    pub shift: u32,
    pub identity: bool,
}

impl FixedTaps {
    /// Taps for resampling `input` samples to `output` samples, weights computed in `f64`
    /// as torch's `uint8` kernel computes them (for bilinear and antialiased alike: the
    /// triangle filter of [`Taps`], widened only when antialiasing a shrink).
    pub fn new(input: usize, output: usize, antialias: bool) -> FixedTaps {
        let scale = input as f64 / output as f64;
        let (support, invscale) = if antialias && scale >= 1.0 {
            (scale, 1.0 / scale)
        } else {
            (1.0, 1.0)
        };
        let spans: Vec<(usize, Vec<f64>)> = (0..output)
            .map(|i| {
                let center = scale * (i as f64 + 0.5);
                // `as i64` truncates toward zero, like the C++ cast.
                let lo = ((center - support + 0.5) as i64).max(0) as usize;
                let hi = ((center + support + 0.5) as i64).min(input as i64) as usize;
                let hi = hi.max(lo + 1).min(input);
                let raw: Vec<f64> = (lo..hi)
                    .map(|j| (1.0 - ((j as f64 - center + 0.5) * invscale).abs()).max(0.0))
                    .collect();
                let total: f64 = raw.iter().sum();
                let ws = if total != 0.0 {
                    raw.iter().map(|w| w / total).collect()
                } else {
                    raw
                };
                (lo, ws)
            })
            .collect();
        let k = spans.iter().map(|(_, ws)| ws.len()).max().unwrap_or(1);
        let max = spans
            .iter()
            .flat_map(|(_, ws)| ws.iter())
            .fold(0.0f64, |m, w| m.max(*w));
        // The most fractional bits that keep the largest weight below 2^15 (what torch's
        // int16 weights allow), at most Pillow's 22; weights are at most 1, so at least 14.
        let mut shift = 1;
        while shift < 22 && (max * f64::from(1u32 << (shift + 1)) + 0.5) < 32768.0 {
            shift += 1;
        }
        let unit = f64::from(1u32 << shift);

        // Shift windows that would run past the end left, padding with zero weights, so
        // every output reads exactly k in-range inputs.
        let mut start = Vec::with_capacity(output);
        let mut weights = vec![0i32; output * k];
        for (i, (lo, ws)) in spans.into_iter().enumerate() {
            let s = lo.min(input - k);
            for (j, w) in ws.into_iter().enumerate() {
                weights[i * k + lo - s + j] = (w * unit).round() as i32;
            }
            start.push(s);
        }
        let identity = input == output
            && (0..output).all(|i| {
                (0..k).all(|j| weights[i * k + j] == if start[i] + j == i { 1 << shift } else { 0 })
            });
        FixedTaps {
            start,
            weights,
            k,
            shift,
            identity,
        }
    }

    fn weights_of(&self, i: usize) -> &[i32] {
        &self.weights[i * self.k..(i + 1) * self.k]
    }
}

/// Buffers reused across the images one thread handles; grown, never cleared, since every
/// element a step reads was written by the step before it (or is a padding row whose results
/// are never read).
#[derive(Default)]
pub struct FixedScratch {
    /// Sixteen input rows of the crop, row-major (`16 x bw`).
    rows: Vec<u8>,
    /// The same rows column-major (`bw x 16`).
    block: Vec<u8>,
    /// Their horizontal results, column-major (`ow x 16`).
    done: Vec<u8>,
    /// The horizontal pass: `c x padded rows x ow`.
    mid: Vec<u8>,
    /// One output row of the vertical pass.
    acc: Vec<i32>,
}

/// Resamples the crop `b` of one `uint8` image into `out` (contiguous in `order`).
#[allow(clippy::too_many_arguments)]
pub fn resample_u8(
    img: &ImageRef<'_, u8>,
    b: CropBox,
    rows: &FixedTaps,
    cols: &FixedTaps,
    out: &mut [u8],
    order: Order,
    oh: usize,
    ow: usize,
    scratch: &mut FixedScratch,
) {
    #[cfg(target_arch = "x86_64")]
    {
        if std::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU has the feature the function is compiled for.
            unsafe { resample_avx2(img, b, rows, cols, out, order, oh, ow, scratch) };
            return;
        }
    }
    resample_impl(img, b, rows, cols, out, order, oh, ow, scratch);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
#[allow(clippy::too_many_arguments)]
unsafe fn resample_avx2(
    img: &ImageRef<'_, u8>,
    b: CropBox,
    rows: &FixedTaps,
    cols: &FixedTaps,
    out: &mut [u8],
    order: Order,
    oh: usize,
    ow: usize,
    scratch: &mut FixedScratch,
) {
    resample_impl(img, b, rows, cols, out, order, oh, ow, scratch);
}

#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn resample_impl(
    img: &ImageRef<'_, u8>,
    b: CropBox,
    rows: &FixedTaps,
    cols: &FixedTaps,
    out: &mut [u8],
    order: Order,
    oh: usize,
    ow: usize,
    s: &mut FixedScratch,
) {
    let [top, left, _bh, bw] = b;
    let c = img.c;
    let planar = img.as_slice(Order::Planar);
    let interleaved = if planar.is_none() {
        img.as_slice(Order::Interleaved)
    } else {
        None
    };
    // The input rows the vertical pass reads, padded to whole blocks of sixteen.
    let first = rows.start[0];
    let n_rows = rows.start[oh - 1] + rows.k - first;
    let padded = n_rows.div_ceil(ROWS) * ROWS;

    // Horizontal pass, into `mid` (c x padded x ow).
    grow(&mut s.mid, c * padded * ow);
    grow(&mut s.rows, ROWS * bw);
    grow(&mut s.block, ROWS * bw);
    grow(&mut s.done, ROWS * ow);
    for ch in 0..c {
        let plane = &mut s.mid[ch * padded * ow..(ch + 1) * padded * ow];
        if cols.identity {
            for r in 0..n_rows {
                let y = top + first + r;
                load_row(
                    img,
                    planar,
                    interleaved,
                    ch,
                    y,
                    left,
                    &mut plane[r * ow..][..ow],
                    |v| v,
                );
            }
            continue;
        }
        // Sixteen rows per step, so each input column is one 16-byte vector across them.
        for r0 in (0..n_rows).step_by(ROWS) {
            // Rows past the last needed one keep stale values; their results are not read.
            for lane in 0..ROWS.min(n_rows - r0) {
                let y = top + first + r0 + lane;
                load_row(
                    img,
                    planar,
                    interleaved,
                    ch,
                    y,
                    left,
                    &mut s.rows[lane * bw..][..bw],
                    |v| v,
                );
            }
            transpose(&s.rows, bw, &mut s.block, ROWS, bw);
            horizontal(&s.block[..ROWS * bw], cols, &mut s.done[..ROWS * ow]);
            untranspose(&s.done, ROWS, &mut plane[r0 * ow..], ow, ow);
        }
    }

    // Vertical pass: whole rows at a time, into the output.
    grow(&mut s.acc, ow);
    let [oc, oy, ox] = order.strides(c, oh, ow).map(|v| v as usize);
    let half = 1i32 << (rows.shift - 1);
    for ch in 0..c {
        let plane = &s.mid[ch * padded * ow..(ch + 1) * padded * ow];
        for y in 0..oh {
            let base = ch * oc + y * oy;
            let s0 = rows.start[y] - first;
            if rows.identity {
                // Output row y is input row y (the last window starts earlier).
                let r = y - first;
                let src = &plane[r * ow..(r + 1) * ow];
                if ox == 1 {
                    out[base..base + ow].copy_from_slice(src);
                } else {
                    for (x, v) in src.iter().enumerate() {
                        out[base + x * ox] = *v;
                    }
                }
                continue;
            }
            let acc = &mut s.acc[..ow];
            acc.fill(half);
            for (j, w) in rows.weights_of(y).iter().enumerate() {
                if *w == 0 {
                    continue;
                }
                let src = &plane[(s0 + j) * ow..(s0 + j + 1) * ow];
                for (a, v) in acc.iter_mut().zip(src) {
                    *a += w * i32::from(*v);
                }
            }
            if ox == 1 {
                for (o, a) in out[base..base + ow].iter_mut().zip(acc.iter()) {
                    *o = narrow(*a, rows.shift);
                }
            } else {
                for (x, a) in acc.iter().enumerate() {
                    out[base + x * ox] = narrow(*a, rows.shift);
                }
            }
        }
    }
}

/// An accumulator in units of `2^-shift`, already offset by one half, as a saturated `u8`.
#[inline(always)]
fn narrow(acc: i32, shift: u32) -> u8 {
    (acc >> shift).clamp(0, 255) as u8
}

/// The horizontal taps over sixteen rows stored column-major in `block`; output column `x`
/// of all sixteen rows goes to `done[x * 16 .. (x + 1) * 16]`.
#[inline(always)]
fn horizontal(block: &[u8], cols: &FixedTaps, done: &mut [u8]) {
    let half = 1i32 << (cols.shift - 1);
    for (x, d) in done.chunks_exact_mut(ROWS).enumerate() {
        let s = cols.start[x];
        // Sixteen accumulators, one per row: two AVX2 registers the lane loops vectorise into.
        let mut acc = [half; ROWS];
        for (j, w) in cols.weights_of(x).iter().enumerate() {
            let col = &block[(s + j) * ROWS..(s + j + 1) * ROWS];
            for (a, v) in acc.iter_mut().zip(col) {
                *a += w * i32::from(*v);
            }
        }
        for (o, a) in d.iter_mut().zip(acc) {
            *o = narrow(a, cols.shift);
        }
    }
}

/// Transposes sixteen rows of `n` bytes: `dst[x * ds + r] = src[r * ss + x]` for `r < 16`,
/// `x < n`. Whole 16x16 tiles go through SSE2 registers, the remaining columns one byte at a
/// time.
///
/// TODO: other targets transpose everything one byte at a time, which costs about what the
/// float kernel's block moves cost; on aarch64 a NEON version of `tile` (`vzip`/`vtrn`) would
/// close that gap.
fn transpose(src: &[u8], ss: usize, dst: &mut [u8], ds: usize, n: usize) {
    #[cfg(target_arch = "x86_64")]
    let tiled = n / ROWS * ROWS;
    #[cfg(not(target_arch = "x86_64"))]
    let tiled = 0;
    #[cfg(target_arch = "x86_64")]
    for x0 in (0..tiled).step_by(ROWS) {
        // SAFETY: SSE2 is part of every x86_64 CPU.
        unsafe { tile(&src[x0..], ss, &mut dst[x0 * ds..], ds) };
    }
    for x in tiled..n {
        for r in 0..ROWS {
            dst[x * ds + r] = src[r * ss + x];
        }
    }
}

/// The inverse of [`transpose`]: `n` rows of sixteen bytes into sixteen rows of `n`,
/// `dst[r * ds + x] = src[x * ss + r]`.
fn untranspose(src: &[u8], ss: usize, dst: &mut [u8], ds: usize, n: usize) {
    #[cfg(target_arch = "x86_64")]
    let tiled = n / ROWS * ROWS;
    #[cfg(not(target_arch = "x86_64"))]
    let tiled = 0;
    #[cfg(target_arch = "x86_64")]
    for x0 in (0..tiled).step_by(ROWS) {
        // SAFETY: SSE2 is part of every x86_64 CPU.
        unsafe { tile(&src[x0 * ss..], ss, &mut dst[x0..], ds) };
    }
    for x in tiled..n {
        for r in 0..ROWS {
            dst[r * ds + x] = src[x * ss + r];
        }
    }
}

/// One 16x16 byte transpose: `dst[x * ds + r] = src[r * ss + x]` for `r, x < 16`.
///
/// Four rounds of interleaving pair up ever wider units of two rows: bytes, then 2-, 4- and
/// 8-byte groups, after which each register holds one column.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "sse2")]
#[inline]
fn tile(src: &[u8], ss: usize, dst: &mut [u8], ds: usize) {
    use std::arch::x86_64::*;

    let mut r = [_mm_setzero_si128(); ROWS];
    for (i, v) in r.iter_mut().enumerate() {
        let row = &src[i * ss..i * ss + ROWS];
        // SAFETY: `row` holds the 16 bytes read.
        *v = unsafe { _mm_loadu_si128(row.as_ptr().cast()) };
    }
    // Rows 2i and 2i+1, byte by byte: columns 0-7, then 8-15.
    let mut a = r;
    for i in 0..8 {
        a[2 * i] = _mm_unpacklo_epi8(r[2 * i], r[2 * i + 1]);
        a[2 * i + 1] = _mm_unpackhi_epi8(r[2 * i], r[2 * i + 1]);
    }
    // Rows 4g..4g+4 in 4-byte units: b[4g + q] holds columns 4q..4q+4.
    let mut b = a;
    for g in 0..4 {
        b[4 * g] = _mm_unpacklo_epi16(a[4 * g], a[4 * g + 2]);
        b[4 * g + 1] = _mm_unpackhi_epi16(a[4 * g], a[4 * g + 2]);
        b[4 * g + 2] = _mm_unpacklo_epi16(a[4 * g + 1], a[4 * g + 3]);
        b[4 * g + 3] = _mm_unpackhi_epi16(a[4 * g + 1], a[4 * g + 3]);
    }
    // Rows 8h..8h+8 in 8-byte units: c[8h + m] holds columns 2m and 2m+1.
    let mut c = b;
    for h in 0..2 {
        for q in 0..4 {
            let (lo, hi) = (b[8 * h + q], b[8 * h + 4 + q]);
            c[8 * h + 2 * q] = _mm_unpacklo_epi32(lo, hi);
            c[8 * h + 2 * q + 1] = _mm_unpackhi_epi32(lo, hi);
        }
    }
    // All sixteen rows of columns 2m and 2m+1.
    for m in 0..8 {
        let cols = [
            _mm_unpacklo_epi64(c[m], c[8 + m]),
            _mm_unpackhi_epi64(c[m], c[8 + m]),
        ];
        for (k, v) in cols.into_iter().enumerate() {
            let x = 2 * m + k;
            let col = &mut dst[x * ds..x * ds + ROWS];
            // SAFETY: `col` holds the 16 bytes written.
            unsafe { _mm_storeu_si128(col.as_mut_ptr().cast(), v) };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transpose_matches_the_definition() {
        for n in [0, 1, 5, 16, 17, 40] {
            let (ss, ds) = (n + 3, 19);
            let src: Vec<u8> = (0..ROWS * ss).map(|i| (i * 7 + 3) as u8).collect();
            let mut dst = vec![0u8; n.max(1) * ds];
            transpose(&src, ss, &mut dst, ds, n);
            for x in 0..n {
                for r in 0..ROWS {
                    assert_eq!(dst[x * ds + r], src[r * ss + x], "n={n} x={x} r={r}");
                }
            }
            let mut back = vec![0u8; ROWS * ss];
            untranspose(&dst, ds, &mut back, ss, n);
            for r in 0..ROWS {
                assert_eq!(
                    back[r * ss..r * ss + n],
                    src[r * ss..r * ss + n],
                    "n={n} r={r}"
                );
            }
        }
    }

    #[test]
    fn fixed_weights_keep_the_float_sums() {
        for (i, o, aa) in [
            (224, 160, true),
            (50, 7, true),
            (3, 80, false),
            (64, 25, false),
        ] {
            let f = FixedTaps::new(i, o, aa);
            assert!((14..=22).contains(&f.shift));
            assert!(f.weights.iter().all(|w| *w < 1 << 15 && *w >= 0));
            for x in 0..o {
                let total: i32 = f.weights_of(x).iter().sum();
                // Each weight rounds by at most half a unit.
                assert!(
                    (total - (1 << f.shift)).abs() <= f.k as i32,
                    "{i}->{o} at {x}"
                );
            }
        }
    }
}
