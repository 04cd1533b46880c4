//! Colour adjustments (brightness, contrast, saturation, hue) and `ColorJitter`'s sampling.
//!
//! The arithmetic is torchvision v2's, step for step in `f32`, fused multiply-adds where torch
//! uses them (`add(other, alpha)` is an FMA in its vectorised kernels), and integer results
//! truncated after every operation as torch's `.to(uint8)` does:
//! - brightness: `clamp(x * b, 0, bound)`;
//! - saturation: `blend(x, gray, s)`, contrast: `blend(x, mean(gray), c)` with
//!   `blend(a, g, r) = clamp(fma(g, 1 - r, a * r), 0, bound)` and
//!   `gray = fma(B, 0.114, fma(G, 0.587, R * 0.2989))` (floored for `uint8`);
//! - hue: RGB to HSV with Pillow's formulas, `h = (h + f) mod 1`, back to RGB; `uint8` goes in
//!   as `x * (1 / 255)` and comes back as `trunc(y * 255.999)`.
//!
//! All operations of one image are fused: the image is processed in tiles of [`TILE`] pixels
//! held as three `f32` arrays, every operation of the image is applied to a tile while it sits
//! in L1, and the result is stored once. Contrast needs the mean gray level of the image as it
//! stands just before it, so each contrast in the sequence costs one extra pass that only
//! sums; an image never needs a batch-sized temporary.
//!
//! The fast path needs AVX2 and FMA (x86-64 since 2013) or any aarch64 CPU; older x86 CPUs get
//! the same results through a software `fma`, several times slower.

use rayon::prelude::*;

use super::{check_pair, check_per_image, pool, Dest, Draws, Order, Pixel, Source};
use crate::{Error, Result};

/// Pixels per tile: three `f32` arrays of this length stay in L1 together.
pub const TILE: usize = 256;

/// One colour operation and its factor.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum ColorOp {
    /// Multiply intensities by a factor >= 0.
    Brightness(f64),
    /// Blend with the mean gray level; factor >= 0 (0 gives flat gray, 1 the input).
    Contrast(f64),
    /// Blend with the per-pixel gray level; factor >= 0 (0 gives grayscale).
    Saturation(f64),
    /// Rotate the hue by a fraction of a turn in [-0.5, 0.5].
    Hue(f64),
}

impl ColorOp {
    /// The op for code `k` (0 brightness, 1 contrast, 2 saturation, 3 hue), as torchvision
    /// numbers them.
    pub fn from_code(code: u8, factor: f64) -> Result<ColorOp> {
        Ok(match code {
            0 => ColorOp::Brightness(factor),
            1 => ColorOp::Contrast(factor),
            2 => ColorOp::Saturation(factor),
            3 => ColorOp::Hue(factor),
            _ => return Err(Error::invalid("op", code, "an op code in 0..=3")),
        })
    }

    /// The op's code and factor.
    pub fn code(&self) -> (u8, f64) {
        match *self {
            ColorOp::Brightness(f) => (0, f),
            ColorOp::Contrast(f) => (1, f),
            ColorOp::Saturation(f) => (2, f),
            ColorOp::Hue(f) => (3, f),
        }
    }

    /// Checks the factor.
    pub fn validate(&self) -> Result<()> {
        let (name, f, ok, want) = match *self {
            ColorOp::Brightness(f) => ("brightness", f, f >= 0.0, "a finite factor >= 0"),
            ColorOp::Contrast(f) => ("contrast", f, f >= 0.0, "a finite factor >= 0"),
            ColorOp::Saturation(f) => ("saturation", f, f >= 0.0, "a finite factor >= 0"),
            ColorOp::Hue(f) => (
                "hue",
                f,
                (-0.5..=0.5).contains(&f),
                "a shift in [-0.5, 0.5]",
            ),
        };
        if ok && f.is_finite() {
            Ok(())
        } else {
            Err(Error::invalid(name, f, want))
        }
    }
}

/// Up to four operations, applied in order to one image.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct ColorOps {
    ops: [Option<ColorOp>; 4],
}

impl ColorOps {
    /// The operations in order; at most four.
    pub fn new(ops: &[ColorOp]) -> Result<Self> {
        if ops.len() > 4 {
            return Err(Error::invalid(
                "ops",
                ops.len(),
                "at most four colour operations",
            ));
        }
        let mut out = ColorOps::default();
        for (slot, op) in out.ops.iter_mut().zip(ops) {
            op.validate()?;
            *slot = Some(*op);
        }
        Ok(out)
    }

    /// One operation.
    pub fn single(op: ColorOp) -> Result<Self> {
        ColorOps::new(&[op])
    }

    pub fn iter(&self) -> impl Iterator<Item = ColorOp> + '_ {
        self.ops.iter().flatten().copied()
    }

    fn to_vec(self) -> Vec<ColorOp> {
        self.iter().collect()
    }
}

/// The factor ranges of `ColorJitter`; `None` skips the operation.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct JitterRanges {
    pub brightness: Option<(f64, f64)>,
    pub contrast: Option<(f64, f64)>,
    pub saturation: Option<(f64, f64)>,
    pub hue: Option<(f64, f64)>,
}

impl JitterRanges {
    /// Checks each range: increasing, factors >= 0, hue inside [-0.5, 0.5].
    pub fn validate(&self) -> Result<()> {
        let check = |name: &str, r: Option<(f64, f64)>, lo: f64, hi: f64| -> Result<()> {
            match r {
                Some((a, b))
                    if !(a.is_finite() && b.is_finite() && lo <= a && a <= b && b <= hi) =>
                {
                    Err(Error::invalid(
                        name,
                        format!("({a}, {b})"),
                        format!("an increasing range inside [{lo}, {hi}]"),
                    ))
                }
                _ => Ok(()),
            }
        };
        check("brightness", self.brightness, 0.0, f64::MAX)?;
        check("contrast", self.contrast, 0.0, f64::MAX)?;
        check("saturation", self.saturation, 0.0, f64::MAX)?;
        check("hue", self.hue, -0.5, 0.5)
    }
}

/// Per-image jitter: a random order of the four operations (a uniform permutation, as
/// `torch.randperm(4)`), then factors uniform in their ranges. Draws 0..3 of each image shuffle,
/// draws 4..7 give the factors, so the result is a pure function of `(draws, image)`.
pub fn sample_jitter(ranges: &JitterRanges, draws: &Draws, n: usize) -> Result<Vec<ColorOps>> {
    ranges.validate()?;
    let factor = |r: (f64, f64), u: f64| r.0 + (r.1 - r.0) * u;
    Ok((0..n)
        .map(|i| {
            let mut perm = [0u8, 1, 2, 3];
            for j in (1..4usize).rev() {
                let k = ((draws.uniform(i, j as u32) * (j + 1) as f64) as usize).min(j);
                perm.swap(j, k);
            }
            let mut out = ColorOps::default();
            let mut slot = 0;
            for code in perm {
                let op = match code {
                    0 => ranges
                        .brightness
                        .map(|r| ColorOp::Brightness(factor(r, draws.uniform(i, 4)))),
                    1 => ranges
                        .contrast
                        .map(|r| ColorOp::Contrast(factor(r, draws.uniform(i, 5)))),
                    2 => ranges
                        .saturation
                        .map(|r| ColorOp::Saturation(factor(r, draws.uniform(i, 6)))),
                    _ => ranges
                        .hue
                        .map(|r| ColorOp::Hue(factor(r, draws.uniform(i, 7)))),
                };
                if let Some(op) = op {
                    out.ops[slot] = Some(op);
                    slot += 1;
                }
            }
            out
        })
        .collect())
}

fn check_rgb(c: usize) -> Result<()> {
    if c == 3 {
        Ok(())
    } else {
        Err(Error::invalid(
            "batch",
            format!("{c} channels"),
            "colour operations need RGB images with exactly 3 channels",
        ))
    }
}

/// Applies `ops` (one entry for the whole batch or one per image) from `src` into `dst`.
pub fn adjust<T: Pixel>(
    src: &Source<'_, T>,
    dst: &mut Dest<'_, T>,
    ops: &[ColorOps],
) -> Result<()> {
    let shape = src.shape();
    check_pair(shape, dst.shape, true)?;
    check_rgb(shape.c)?;
    check_per_image("factors", ops, shape.n)?;
    if shape.is_empty() {
        return Ok(());
    }
    let (order, len, hw) = (dst.order, shape.image_len(), shape.h * shape.w);
    pool::install(|| {
        dst.data
            .par_chunks_mut(len)
            .enumerate()
            .for_each_init(Vec::new, |scratch, (i, out)| {
                let list = ops[if ops.len() == 1 { 0 } else { i }].to_vec();
                let input = src.image(i).contiguous(order, scratch);
                color_image(Some(input), out, order, hw, &list);
            })
    })
}

/// Applies `ops` to `batch` in place.
pub fn adjust_in_place<T: Pixel>(batch: &mut Dest<'_, T>, ops: &[ColorOps]) -> Result<()> {
    let shape = batch.shape;
    check_rgb(shape.c)?;
    check_per_image("factors", ops, shape.n)?;
    if shape.is_empty() {
        return Ok(());
    }
    let (order, len, hw) = (batch.order, shape.image_len(), shape.h * shape.w);
    pool::install(|| {
        batch
            .data
            .par_chunks_mut(len)
            .enumerate()
            .for_each(|(i, img)| {
                let list = ops[if ops.len() == 1 { 0 } else { i }].to_vec();
                color_image(None, img, order, hw, &list);
            })
    })
}

/// One image: `src` (or `dst` itself when `None`) through `ops` into `dst`.
fn color_image<T: Pixel>(
    src: Option<&[T]>,
    dst: &mut [T],
    order: Order,
    hw: usize,
    ops: &[ColorOp],
) {
    #[cfg(target_arch = "x86_64")]
    {
        if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
            // SAFETY: the CPU has the features the function is compiled for.
            unsafe { color_image_avx2(src, dst, order, hw, ops) };
            return;
        }
    }
    color_image_impl(src, dst, order, hw, ops);
}

/// The same code compiled for AVX2 and FMA, so the tile loops run eight pixels at a time and
/// `mul_add` is one instruction.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn color_image_avx2<T: Pixel>(
    src: Option<&[T]>,
    dst: &mut [T],
    order: Order,
    hw: usize,
    ops: &[ColorOp],
) {
    color_image_impl(src, dst, order, hw, ops);
}

/// An op with its constants in `f32`, as torch computes them from Python floats.
#[derive(Clone, Copy)]
enum Prepared {
    Brightness(f32),
    /// `(ratio, 1 - ratio, mean)`.
    Contrast(f32, f32, f32),
    /// `(ratio, 1 - ratio)`.
    Saturation(f32, f32),
    Hue(f32),
}

fn prepare(op: ColorOp) -> Prepared {
    match op {
        ColorOp::Brightness(f) => Prepared::Brightness(f as f32),
        ColorOp::Contrast(f) => Prepared::Contrast(f as f32, (1.0 - f) as f32, 0.0),
        ColorOp::Saturation(f) => Prepared::Saturation(f as f32, (1.0 - f) as f32),
        ColorOp::Hue(f) => Prepared::Hue(f as f32),
    }
}

#[inline(always)]
fn color_image_impl<T: Pixel>(
    src: Option<&[T]>,
    dst: &mut [T],
    order: Order,
    hw: usize,
    ops: &[ColorOp],
) {
    let mut tile = Tile::new();
    let mut from_dst = src.is_none();
    let mut rest: Vec<Prepared> = ops.iter().map(|op| prepare(*op)).collect();
    let mut first: Option<Prepared> = None; // a contrast whose mean is known

    // One pass per contrast, plus one: each pass applies a pending contrast, then the plain
    // ops up to the next contrast, and sums the gray level that contrast needs.
    loop {
        let cut = rest
            .iter()
            .position(|p| matches!(p, Prepared::Contrast(..)));
        let (segment, next): (Vec<Prepared>, Option<Prepared>) = match cut {
            Some(j) => (rest[..j].to_vec(), Some(rest[j])),
            None => (rest.clone(), None),
        };
        let steps: Vec<Prepared> = first
            .iter()
            .copied()
            .chain(segment.iter().copied())
            .collect();
        let sum_gray = next.is_some();
        let store = !(steps.is_empty() && sum_gray);
        let mut total = 0.0f64;
        let mut p0 = 0;
        while p0 < hw {
            let len = TILE.min(hw - p0);
            match (from_dst, src) {
                (false, Some(s)) => tile.load(s, order, hw, p0, len),
                _ => tile.load(dst, order, hw, p0, len),
            }
            for step in &steps {
                tile.apply::<T>(*step);
            }
            if sum_gray {
                total += tile.gray_sum::<T>(len);
            }
            if store {
                tile.store(dst, order, hw, p0, len);
            }
            p0 += len;
        }
        if store {
            from_dst = true;
        }
        match next {
            Some(Prepared::Contrast(r, a, _)) => {
                let mean = (total / hw as f64) as f32;
                first = Some(Prepared::Contrast(r, a, mean));
                rest = rest[cut.unwrap_or(0) + 1..].to_vec();
            }
            _ => break,
        }
    }
    if !from_dst {
        if let Some(s) = src {
            dst.copy_from_slice(s);
        }
    }
}

/// Three channels of up to [`TILE`] pixels as `f32`. Loops always run over the full tile so
/// they vectorise without a remainder; lanes past the valid length hold stale finite values
/// and are never stored or summed.
struct Tile {
    r: [f32; TILE],
    g: [f32; TILE],
    b: [f32; TILE],
}

#[inline(always)]
fn clamp(v: f32, lo: f32, hi: f32) -> f32 {
    // Propagates NaN like torch's clamp.
    let v = if v < lo { lo } else { v };
    if v > hi {
        hi
    } else {
        v
    }
}

#[inline(always)]
fn gray(r: f32, g: f32, b: f32) -> f32 {
    b.mul_add(0.114, g.mul_add(0.587, r * 0.2989))
}

impl Tile {
    fn new() -> Self {
        Tile {
            r: [0.0; TILE],
            g: [0.0; TILE],
            b: [0.0; TILE],
        }
    }

    #[inline(always)]
    fn load<T: Pixel>(&mut self, src: &[T], order: Order, hw: usize, p0: usize, len: usize) {
        match order {
            Order::Planar => {
                for (c, plane) in [&mut self.r, &mut self.g, &mut self.b]
                    .into_iter()
                    .enumerate()
                {
                    let from = &src[c * hw + p0..c * hw + p0 + len];
                    for (d, s) in plane.iter_mut().zip(from) {
                        *d = s.to_f32();
                    }
                }
            }
            Order::Interleaved => {
                let from = &src[3 * p0..3 * (p0 + len)];
                for (k, px) in from.chunks_exact(3).enumerate() {
                    self.r[k] = px[0].to_f32();
                    self.g[k] = px[1].to_f32();
                    self.b[k] = px[2].to_f32();
                }
            }
        }
    }

    #[inline(always)]
    fn store<T: Pixel>(&self, dst: &mut [T], order: Order, hw: usize, p0: usize, len: usize) {
        match order {
            Order::Planar => {
                for (c, plane) in [&self.r, &self.g, &self.b].into_iter().enumerate() {
                    let to = &mut dst[c * hw + p0..c * hw + p0 + len];
                    for (d, s) in to.iter_mut().zip(plane.iter()) {
                        *d = T::from_exact(*s);
                    }
                }
            }
            Order::Interleaved => {
                let to = &mut dst[3 * p0..3 * (p0 + len)];
                for (k, px) in to.chunks_exact_mut(3).enumerate() {
                    px[0] = T::from_exact(self.r[k]);
                    px[1] = T::from_exact(self.g[k]);
                    px[2] = T::from_exact(self.b[k]);
                }
            }
        }
    }

    /// Sum of the (floored, for integers) gray level over the first `len` pixels.
    #[inline(always)]
    fn gray_sum<T: Pixel>(&self, len: usize) -> f64 {
        let mut levels = [0.0f32; TILE];
        for (k, l) in levels.iter_mut().enumerate() {
            let g = gray(self.r[k], self.g[k], self.b[k]);
            *l = if T::INTEGER { g.floor() } else { g };
        }
        // Eight f32 lanes over one tile: exact for integer levels (the sum stays below 2^24),
        // a few ulps for floats; tiles then add up in f64.
        let mut lanes = [0.0f32; 8];
        let chunks = levels[..len].chunks_exact(8);
        let tail: f32 = chunks.remainder().iter().sum();
        for chunk in chunks {
            for (a, v) in lanes.iter_mut().zip(chunk) {
                *a += *v;
            }
        }
        lanes.iter().map(|v| f64::from(*v)).sum::<f64>() + f64::from(tail)
    }

    #[inline(always)]
    fn apply<T: Pixel>(&mut self, op: Prepared) {
        let bound = T::BOUND;
        let int = T::INTEGER;
        match op {
            Prepared::Brightness(f) => {
                for plane in [&mut self.r, &mut self.g, &mut self.b] {
                    for v in plane.iter_mut() {
                        let y = clamp(*v * f, 0.0, bound);
                        *v = if int { y.trunc() } else { y };
                    }
                }
            }
            Prepared::Contrast(ratio, alpha, mean) => {
                for plane in [&mut self.r, &mut self.g, &mut self.b] {
                    for v in plane.iter_mut() {
                        let y = clamp(mean.mul_add(alpha, *v * ratio), 0.0, bound);
                        *v = if int { y.trunc() } else { y };
                    }
                }
            }
            Prepared::Saturation(ratio, alpha) => {
                for k in 0..TILE {
                    let mut l = gray(self.r[k], self.g[k], self.b[k]);
                    if int {
                        l = l.floor();
                    }
                    let blend = |v: f32| {
                        let y = clamp(l.mul_add(alpha, v * ratio), 0.0, bound);
                        if int {
                            y.trunc()
                        } else {
                            y
                        }
                    };
                    self.r[k] = blend(self.r[k]);
                    self.g[k] = blend(self.g[k]);
                    self.b[k] = blend(self.b[k]);
                }
            }
            Prepared::Hue(shift) => self.hue::<T>(shift),
        }
    }

    /// Hue rotation through HSV, torchvision's formulas operation for operation. Two simple
    /// branch-free loops (to HSV with the shift, back to RGB) so that both vectorise.
    #[inline(always)]
    fn hue<T: Pixel>(&mut self, shift: f32) {
        let (scale_in, scale_out) = if T::INTEGER {
            ((1.0f64 / 255.0) as f32, 255.999f32)
        } else {
            (1.0, 1.0)
        };
        let sixth = (1.0f64 / 6.0) as f32;

        // RGB to HSV, in place: r <- h, g <- s, b <- v.
        for k in 0..TILE {
            let r = self.r[k] * scale_in;
            let g = self.g[k] * scale_in;
            let b = self.b[k] * scale_in;
            let maxc = fmax(fmax(r, g), b);
            let minc = fmin(fmin(r, g), b);
            let eqc = maxc == minc;
            let range = maxc - minc;
            let s = range / select(eqc, 1.0, maxc);
            let div = select(eqc, 1.0, range);
            let rc = (maxc - r) / div;
            let gc = (maxc - g) / div;
            let bc = (maxc - b) / div;
            let neq_r = maxc != r;
            let eq_g = maxc == g;
            let hg = select(eq_g & neq_r, (rc + 2.0) - bc, 0.0);
            let hr = select(!neq_r, bc - gc, 0.0);
            let hb = select(neq_r & !eq_g, (gc + 4.0) - rc, 0.0);
            let h = frac(((hr + hg) + hb) * sixth + 1.0);
            // The shift, with torch's remainder: fmod, then + 1 when negative.
            let m = frac(h + shift);
            self.r[k] = select(m < 0.0, m + 1.0, m);
            self.g[k] = s;
            self.b[k] = maxc;
        }

        // HSV to RGB.
        for k in 0..TILE {
            let (h, s, v) = (self.r[k], self.g[k], self.b[k]);
            let h6 = h * 6.0;
            let i = h6.floor();
            let f = h6 - i;
            let sector = i - 6.0 * (i * sixth).floor();
            let sxf = s * f;
            let one_minus_s = 1.0 - s;
            let q = clamp((1.0 - sxf) * v, 0.0, 1.0);
            let t = clamp((sxf + one_minus_s) * v, 0.0, 1.0);
            let p = clamp(one_minus_s * v, 0.0, 1.0);
            let (s0, s1, s2) = (sector == 0.0, sector == 1.0, sector == 2.0);
            let (s3, s4) = (sector == 3.0, sector == 4.0);
            // Sectors 0..5 pick (v,t,p), (q,v,p), (p,v,t), (p,q,v), (t,p,v), (v,p,q).
            let nr = select(s0, v, select(s1, q, select(s2 | s3, p, select(s4, t, v))));
            let ng = select(s0, t, select(s1 | s2, v, select(s3, q, p)));
            let nb = select(s0 | s1, p, select(s2, t, select(s3 | s4, v, q)));
            if T::INTEGER {
                self.r[k] = (nr * scale_out).trunc();
                self.g[k] = (ng * scale_out).trunc();
                self.b[k] = (nb * scale_out).trunc();
            } else {
                self.r[k] = nr;
                self.g[k] = ng;
                self.b[k] = nb;
            }
        }
    }
}

#[inline(always)]
fn select(c: bool, a: f32, b: f32) -> f32 {
    if c {
        a
    } else {
        b
    }
}

#[inline(always)]
fn fmax(a: f32, b: f32) -> f32 {
    if a > b {
        a
    } else {
        b
    }
}

#[inline(always)]
fn fmin(a: f32, b: f32) -> f32 {
    if a < b {
        a
    } else {
        b
    }
}

/// `fmod(x, 1)`, exactly: the fractional part with the sign of `x`.
#[inline(always)]
fn frac(x: f32) -> f32 {
    x - x.trunc()
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::super::Shape;
    use super::*;

    /// A straightforward per-pixel version of each op on a planar u8 image, for cross-checks.
    fn reference_u8(img: &[u8], hw: usize, ops: &[ColorOp]) -> Vec<u8> {
        let mut x: Vec<f32> = img.iter().map(|v| f32::from(*v)).collect();
        for op in ops {
            match *op {
                ColorOp::Brightness(f) => {
                    for v in &mut x {
                        *v = (*v * f as f32).clamp(0.0, 255.0).trunc();
                    }
                }
                ColorOp::Saturation(s) | ColorOp::Contrast(s) => {
                    let grays: Vec<f32> = (0..hw)
                        .map(|p| gray(x[p], x[hw + p], x[2 * hw + p]).floor())
                        .collect();
                    let mean =
                        (grays.iter().map(|g| f64::from(*g)).sum::<f64>() / hw as f64) as f32;
                    let contrast = matches!(op, ColorOp::Contrast(_));
                    for c in 0..3 {
                        for p in 0..hw {
                            let l = if contrast { mean } else { grays[p] };
                            let v = x[c * hw + p];
                            x[c * hw + p] = l
                                .mul_add((1.0 - s) as f32, v * s as f32)
                                .clamp(0.0, 255.0)
                                .trunc();
                        }
                    }
                }
                ColorOp::Hue(_) => unreachable!(),
            }
        }
        x.iter().map(|v| *v as u8).collect()
    }

    #[test]
    fn fused_ops_match_a_plain_reference() {
        let s = Shape::new(2, 3, 17, 31); // not a multiple of the tile
        let data = batch_u8(s, 3);
        let ops = [
            ColorOp::Saturation(0.7),
            ColorOp::Brightness(1.3),
            ColorOp::Contrast(1.2),
            ColorOp::Brightness(0.9),
        ];
        let hw = s.h * s.w;
        let want: Vec<u8> = data
            .chunks(s.image_len())
            .flat_map(|img| reference_u8(img, hw, &ops))
            .collect();
        let plan = [ColorOps::new(&ops).unwrap()];
        for order in [Order::Planar, Order::Interleaved] {
            let stored = reorder(&data, s, Order::Planar, order);
            let src = Source::contiguous(&stored, s, order).unwrap();
            let mut out = vec![0u8; s.len()];
            adjust(&src, &mut Dest::new(&mut out, s, order).unwrap(), &plan).unwrap();
            assert_eq!(reorder(&out, s, order, Order::Planar), want, "{order:?}");
            let mut inplace = stored.clone();
            adjust_in_place(&mut Dest::new(&mut inplace, s, order).unwrap(), &plan).unwrap();
            assert_eq!(inplace, out);
        }
    }

    #[test]
    fn identity_factors_leave_images_alone() {
        let s = Shape::new(3, 3, 9, 40);
        let data = batch_u8(s, 4);
        let src = Source::contiguous(&data, s, Order::Planar).unwrap();
        for op in [
            ColorOp::Brightness(1.0),
            ColorOp::Saturation(1.0),
            ColorOp::Contrast(1.0),
        ] {
            let mut out = vec![0u8; s.len()];
            let plan = [ColorOps::single(op).unwrap()];
            adjust(
                &src,
                &mut Dest::new(&mut out, s, Order::Planar).unwrap(),
                &plan,
            )
            .unwrap();
            assert_eq!(out, data, "{op:?}");
        }
        // A zero hue shift round-trips uint8 through HSV unchanged.
        let mut out = vec![0u8; s.len()];
        let plan = [ColorOps::single(ColorOp::Hue(0.0)).unwrap()];
        adjust(
            &src,
            &mut Dest::new(&mut out, s, Order::Planar).unwrap(),
            &plan,
        )
        .unwrap();
        assert_eq!(out, data);
    }

    #[test]
    fn hue_rotates_primaries() {
        // Pure red shifted by a third of a turn is pure green, by two thirds pure blue.
        let s = Shape::new(1, 3, 1, 1);
        let red = [1.0f32, 0.0, 0.0];
        let src = Source::contiguous(&red, s, Order::Planar).unwrap();
        for (shift, want) in [(1.0 / 3.0, [0.0, 1.0, 0.0]), (-1.0 / 3.0, [0.0, 0.0, 1.0])] {
            let mut out = [0.0f32; 3];
            let plan = [ColorOps::single(ColorOp::Hue(shift)).unwrap()];
            adjust(
                &src,
                &mut Dest::new(&mut out, s, Order::Planar).unwrap(),
                &plan,
            )
            .unwrap();
            for (a, b) in out.iter().zip(want) {
                assert!((a - b).abs() < 1e-6, "{shift}: {out:?}");
            }
        }
    }

    #[test]
    fn bad_factors_and_channels_are_refused() {
        assert!(ColorOps::single(ColorOp::Brightness(-0.1)).is_err());
        assert!(ColorOps::single(ColorOp::Hue(0.6)).is_err());
        assert!(ColorOps::single(ColorOp::Contrast(f64::NAN)).is_err());
        let s = Shape::new(1, 4, 2, 2);
        let data = vec![0u8; s.len()];
        let src = Source::contiguous(&data, s, Order::Planar).unwrap();
        let mut out = vec![0u8; s.len()];
        let plan = [ColorOps::single(ColorOp::Brightness(1.0)).unwrap()];
        let err = adjust(
            &src,
            &mut Dest::new(&mut out, s, Order::Planar).unwrap(),
            &plan,
        );
        assert!(err.is_err());
    }

    #[test]
    fn jitter_draws_every_order_and_stays_in_range() {
        let ranges = JitterRanges {
            brightness: Some((0.6, 1.4)),
            contrast: Some((0.6, 1.4)),
            saturation: Some((0.6, 1.4)),
            hue: Some((-0.1, 0.1)),
        };
        let plans = sample_jitter(&ranges, &Draws::new(3, 2, 0), 4000).unwrap();
        let mut seen = std::collections::HashSet::new();
        for p in &plans {
            let ops: Vec<ColorOp> = p.iter().collect();
            assert_eq!(ops.len(), 4);
            seen.insert(ops.iter().map(|o| o.code().0).collect::<Vec<_>>());
            for op in ops {
                let (code, f) = op.code();
                if code == 3 {
                    assert!((-0.1..=0.1).contains(&f));
                } else {
                    assert!((0.6..=1.4).contains(&f));
                }
            }
        }
        assert_eq!(seen.len(), 24);
        // Skipped operations leave the others in their drawn order.
        let only = JitterRanges {
            hue: Some((0.0, 0.2)),
            ..Default::default()
        };
        let plans = sample_jitter(&only, &Draws::new(3, 2, 0), 10).unwrap();
        assert!(plans.iter().all(|p| p.iter().count() == 1));
        let bad = JitterRanges {
            hue: Some((0.0, 0.7)),
            ..Default::default()
        };
        assert!(sample_jitter(&bad, &Draws::new(0, 0, 0), 1).is_err());
    }
}
