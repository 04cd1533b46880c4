//! Bilinear resizing of whole images or of crop boxes, with or without antialiasing, exactly as
//! `torch.nn.functional.interpolate(mode="bilinear", align_corners=False, antialias=...)`.
//!
//! - Without antialias each output sample reads two inputs around
//!   `src = max(0, (i + 0.5) * in / out - 0.5)` (computed in `f32` like torch).
//! - With antialias a shrink by `s = in / out` uses Pillow's triangle filter widened by `s`:
//!   `center = s * (i + 0.5)`, inputs `max(int(center - s + 0.5), 0) .. min(int(center + s +
//!   0.5), in)`, weights `max(0, 1 - |(j + xmin - center + 0.5) / s|)` normalised to sum 1.
//!   Enlarging uses the same filter with support 1, which is plain bilinear.
//!
//! The resampling is separable: a horizontal pass over the rows the vertical pass needs, into
//! a buffer, then a vertical pass that runs across whole rows (so it vectorises) and rounds to
//! the output type. `float32` computes in `f32` with 8-row column-major blocks for the
//! horizontal pass. `uint8` has its own fixed-point kernel ([`super::resize_fixed`]): integer
//! weights and accumulators and a `uint8` intermediate, the scheme of torch's AVX2 `uint8`
//! kernel, whose results it reproduces exactly on the sizes tested (within one unit wherever
//! torch takes another path, e.g. without AVX2 or with more than four channels).
//!
//! Known limits, for whoever picks this up next:
//! - The `float32` path still moves rows into and out of its 8-row column-major blocks one
//!   value at a time; 8x8 register transposes, as the `uint8` kernel does with 16x16 bytes,
//!   are the way past it.
//! - Work is split across images only: one very large image uses one thread.
//! - `float32` without antialias: torch computes the source position sometimes with one
//!   rounding and sometimes with two (its code paths differ); ours is the single rounding of
//!   `(i + 0.5) * scale - 0.5`, so a few samples can differ from torch by one `f32` ulp of the
//!   position (at most ~1e-5 of the value range for images under 256 pixels wide).

use rayon::prelude::*;

use super::resize_fixed::{resample_u8, FixedScratch, FixedTaps};
use super::{check_per_image, pool, Dest, ImageRef, Order, Pixel, Source};
use crate::{Error, Result};

/// The inputs each output sample of a 1-D resampling reads: output `i` reads inputs
/// `start[i] .. start[i] + k` with weights `weights[i * k .. (i + 1) * k]` (zero-padded).
#[derive(Clone, Debug, PartialEq)]
pub struct Taps {
    pub start: Vec<usize>,
    pub weights: Vec<f32>,
    pub k: usize,
    /// Output i is exactly input i (same size, weights exactly one).
    pub identity: bool,
    /// Accumulate taps first to last (torch's antialiased kernel) or last to first (its
    /// two-tap bilinear kernel, `fma(w0, x0, w1 * x1)`), with fused multiply-adds either way.
    pub forward: bool,
}

impl Taps {
    /// Taps for resampling `input` samples to `output` samples.
    pub fn new(input: usize, output: usize, antialias: bool) -> Taps {
        let (k, spans) = if antialias {
            triangle(input, output)
        } else {
            linear(input, output)
        };
        let mut start = Vec::with_capacity(output);
        let mut weights = vec![0.0f32; output * k];
        for (i, (lo, ws)) in spans.into_iter().enumerate() {
            // Shift windows that would run past the end left, padding with zero weights,
            // so every output reads exactly k in-range inputs.
            let s = lo.min(input.saturating_sub(k));
            let shift = lo - s;
            for (j, w) in ws.into_iter().enumerate() {
                weights[i * k + shift + j] = w;
            }
            start.push(s);
        }
        let identity = input == output
            && (0..output).all(|i| {
                let ws = &weights[i * k..(i + 1) * k];
                i >= start[i]
                    && i - start[i] < k
                    && ws
                        .iter()
                        .enumerate()
                        .all(|(j, w)| *w == if start[i] + j == i { 1.0 } else { 0.0 })
            });
        Taps {
            start,
            weights,
            k,
            identity,
            forward: antialias,
        }
    }

    fn weights_of(&self, i: usize) -> &[f32] {
        &self.weights[i * self.k..(i + 1) * self.k]
    }
}

/// torch's bilinear source indices (align_corners=False): the scale in `f32`, the source
/// position computed in `f64` and rounded once, as torch's C++ does.
fn linear(input: usize, output: usize) -> (usize, Vec<(usize, Vec<f32>)>) {
    let k = input.min(2);
    let scale = input as f32 / output as f32;
    let spans = (0..output)
        .map(|i| {
            let src = ((f64::from(scale) * (i as f64 + 0.5) - 0.5) as f32).max(0.0);
            let i0 = (src as usize).min(input - 1);
            let l1 = (src - i0 as f32).clamp(0.0, 1.0);
            let l0 = 1.0 - l1;
            if i0 + 1 < input {
                (i0, vec![l0, l1])
            } else {
                // The last input: torch reads it twice with both weights.
                (i0, vec![l0 + l1])
            }
        })
        .collect();
    (k, spans)
}

/// Pillow's (and torch's antialiased) triangle filter, in `f32` step for step like torch.
fn triangle(input: usize, output: usize) -> (usize, Vec<(usize, Vec<f32>)>) {
    let scale = input as f32 / output as f32;
    let (support, invscale) = if scale >= 1.0 {
        (scale, 1.0 / scale)
    } else {
        (1.0, 1.0)
    };
    let mut k = 1;
    let spans: Vec<(usize, Vec<f32>)> = (0..output)
        .map(|i| {
            let center = (f64::from(scale) * (i as f64 + 0.5)) as f32;
            // `as i64` truncates toward zero, like the C++ cast torch uses.
            let xmin = (f64::from(center - support) + 0.5) as i64;
            let xmin = xmin.max(0) as usize;
            let xmax = (f64::from(center + support) + 0.5) as i64;
            let xmax = (xmax.min(input as i64).max(xmin as i64 + 1) as usize).min(input);
            let raw: Vec<f32> = (xmin..xmax)
                .map(|j| {
                    let x = (j as f32 - center + 0.5) * invscale;
                    (1.0 - x.abs()).max(0.0)
                })
                .collect();
            let mut total = 0.0f32;
            for w in &raw {
                total += *w;
            }
            let ws = if total != 0.0 {
                raw.iter().map(|w| w / total).collect()
            } else {
                raw
            };
            k = k.max(xmax - xmin);
            (xmin, ws)
        })
        .collect();
    (k.min(input), spans)
}

/// A crop box `(top, left, height, width)` in input pixels.
pub type CropBox = [usize; 4];

fn check_box(b: &CropBox, h: usize, w: usize, i: usize) -> Result<()> {
    let [top, left, bh, bw] = *b;
    if bh == 0 || bw == 0 || top + bh > h || left + bw > w {
        return Err(Error::invalid(
            "boxes",
            format!("(top={top}, left={left}, height={bh}, width={bw}) for image {i}"),
            format!("a non-empty box inside the {h}x{w} image"),
        ));
    }
    Ok(())
}

fn check_sizes(
    src: &Source<'_, impl Pixel>,
    dst_n: usize,
    dst_c: usize,
    oh: usize,
    ow: usize,
) -> Result<()> {
    let s = src.shape();
    if oh == 0 || ow == 0 {
        return Err(Error::invalid(
            "size",
            format!("({oh}, {ow})"),
            "a target size of at least 1x1",
        ));
    }
    if s.n != dst_n || s.c != dst_c {
        return Err(Error::invalid(
            "out",
            format!("{dst_n} images of {dst_c} channels"),
            format!("expected {} images of {} channels", s.n, s.c),
        ));
    }
    if s.n > 0 && (s.h == 0 || s.w == 0) {
        return Err(Error::invalid(
            "batch",
            format!("{}x{} images", s.h, s.w),
            "images with at least one pixel to resize",
        ));
    }
    Ok(())
}

/// Resizes every image of `src` to the size of `dst`.
pub fn resize<T: Resample>(
    src: &Source<'_, T>,
    dst: &mut Dest<'_, T>,
    antialias: bool,
) -> Result<()> {
    let s = src.shape();
    check_sizes(src, dst.shape.n, dst.shape.c, dst.shape.h, dst.shape.w)?;
    if dst.shape.is_empty() {
        return Ok(());
    }
    let (oh, ow) = (dst.shape.h, dst.shape.w);
    let plan = Plan::new::<T>([s.h, s.w], [oh, ow], antialias);
    let full = [0, 0, s.h, s.w];
    run(src, dst, |_| full, Some(&plan), antialias)
}

/// Crops `boxes[i]` (or the one box for all) out of image `i` and resizes it to the size of
/// `dst`.
pub fn resized_crop<T: Resample>(
    src: &Source<'_, T>,
    dst: &mut Dest<'_, T>,
    boxes: &[CropBox],
    antialias: bool,
) -> Result<()> {
    let s = src.shape();
    check_sizes(src, dst.shape.n, dst.shape.c, dst.shape.h, dst.shape.w)?;
    check_per_image("boxes", boxes, s.n)?;
    for (i, b) in boxes.iter().enumerate() {
        check_box(b, s.h, s.w, i)?;
    }
    if dst.shape.is_empty() {
        return Ok(());
    }
    let out_size = [dst.shape.h, dst.shape.w];
    let shared =
        (boxes.len() == 1).then(|| Plan::new::<T>([boxes[0][2], boxes[0][3]], out_size, antialias));
    let pick = |i: usize| boxes[if boxes.len() == 1 { 0 } else { i }];
    run(src, dst, pick, shared.as_ref(), antialias)
}

/// The taps of both axes, and their fixed-point form for the integer kernel.
pub struct Plan {
    rows: Taps,
    cols: Taps,
    fixed: Option<(FixedTaps, FixedTaps)>,
    antialias: bool,
}

impl Plan {
    fn new<T: Pixel>([ih, iw]: [usize; 2], [oh, ow]: [usize; 2], antialias: bool) -> Plan {
        let rows = Taps::new(ih, oh, antialias);
        let cols = Taps::new(iw, ow, antialias);
        let fixed = T::INTEGER.then(|| {
            let rows = FixedTaps::new(ih, oh, antialias);
            (rows, FixedTaps::new(iw, ow, antialias))
        });
        Plan {
            rows,
            cols,
            fixed,
            antialias,
        }
    }
}

/// The element types [`resize`] handles, each with its own kernel: `f32` accumulates in
/// `f32`, `u8` in fixed point (see [`super::resize_fixed`]).
pub trait Resample: Pixel {
    #[doc(hidden)]
    #[allow(clippy::too_many_arguments, private_interfaces)]
    fn resample_image(
        img: &ImageRef<'_, Self>,
        b: CropBox,
        plan: &Plan,
        out: &mut [Self],
        order: Order,
        oh: usize,
        ow: usize,
        scratch: &mut Scratch,
    );
}

impl Resample for f32 {
    #[allow(private_interfaces)]
    fn resample_image(
        img: &ImageRef<'_, f32>,
        b: CropBox,
        plan: &Plan,
        out: &mut [f32],
        order: Order,
        oh: usize,
        ow: usize,
        scratch: &mut Scratch,
    ) {
        resample(img, b, plan, out, order, oh, ow, scratch);
    }
}

impl Resample for u8 {
    #[allow(private_interfaces)]
    fn resample_image(
        img: &ImageRef<'_, u8>,
        b: CropBox,
        plan: &Plan,
        out: &mut [u8],
        order: Order,
        oh: usize,
        ow: usize,
        scratch: &mut Scratch,
    ) {
        let own;
        let (rows, cols) = match &plan.fixed {
            Some((r, c)) => (r, c),
            None => {
                let [_, _, bh, bw] = b;
                let antialias = plan.antialias;
                own = (
                    FixedTaps::new(bh, oh, antialias),
                    FixedTaps::new(bw, ow, antialias),
                );
                (&own.0, &own.1)
            }
        };
        resample_u8(img, b, rows, cols, out, order, oh, ow, &mut scratch.fixed);
    }
}

fn run<T: Resample>(
    src: &Source<'_, T>,
    dst: &mut Dest<'_, T>,
    pick: impl Fn(usize) -> CropBox + Sync,
    shared: Option<&Plan>,
    antialias: bool,
) -> Result<()> {
    let (order, oh, ow) = (dst.order, dst.shape.h, dst.shape.w);
    let len = dst.shape.image_len();
    pool::install(|| {
        dst.data
            .par_chunks_mut(len)
            .enumerate()
            .for_each(|(i, out)| {
                SCRATCH.with(|cell| {
                    let scratch = &mut *cell.borrow_mut();
                    let b = pick(i);
                    let own;
                    let plan = match shared {
                        Some(p) => p,
                        None => {
                            own = Plan::new::<T>([b[2], b[3]], [oh, ow], antialias);
                            &own
                        }
                    };
                    T::resample_image(&src.image(i), b, plan, out, order, oh, ow, scratch);
                })
            })
    })
}

thread_local! {
    /// Each thread's buffers, kept across images and calls: a fresh buffer per image would
    /// cost page faults and zeroing comparable to the resampling itself.
    static SCRATCH: std::cell::RefCell<Scratch> = std::cell::RefCell::new(Scratch::default());
}

/// Buffers reused across the images one thread handles. Every element a pass reads was
/// written by the pass before it, so they are grown but never cleared.
#[derive(Default)]
pub struct Scratch {
    /// One input row per channel, as f32.
    line: Vec<f32>,
    /// The horizontal pass: `c x rows x ow`.
    mid: Vec<f32>,
    /// One output row.
    acc: Vec<f32>,
    /// Eight input rows, column-major.
    block: Vec<f32>,
    /// The buffers of the `uint8` kernel.
    fixed: FixedScratch,
}

/// Rows the horizontal pass handles at once: one AVX register of f32.
const LANES: usize = 8;

fn resample<T: Pixel>(
    img: &ImageRef<'_, T>,
    b: CropBox,
    plan: &Plan,
    out: &mut [T],
    order: Order,
    oh: usize,
    ow: usize,
    scratch: &mut Scratch,
) {
    #[cfg(target_arch = "x86_64")]
    {
        if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
            // SAFETY: the CPU has the features the function is compiled for.
            unsafe { resample_avx2(img, b, plan, out, order, oh, ow, scratch) };
            return;
        }
    }
    resample_impl(img, b, plan, out, order, oh, ow, scratch);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn resample_avx2<T: Pixel>(
    img: &ImageRef<'_, T>,
    b: CropBox,
    plan: &Plan,
    out: &mut [T],
    order: Order,
    oh: usize,
    ow: usize,
    scratch: &mut Scratch,
) {
    resample_impl(img, b, plan, out, order, oh, ow, scratch);
}

#[inline(always)]
fn resample_impl<T: Pixel>(
    img: &ImageRef<'_, T>,
    b: CropBox,
    plan: &Plan,
    out: &mut [T],
    order: Order,
    oh: usize,
    ow: usize,
    scratch: &mut Scratch,
) {
    let [top, left, _bh, bw] = b;
    let c = img.c;
    let (rows, cols) = (&plan.rows, &plan.cols);
    // The input rows the vertical pass reads.
    let first = rows.start[0];
    let last = rows.start[oh - 1] + rows.k;
    let n_rows = last - first;

    // Horizontal pass: each needed row of each channel, into `mid` (c x n_rows x ow).
    grow(&mut scratch.mid, c * n_rows * ow);
    grow(&mut scratch.line, bw);
    let planar = img.as_slice(Order::Planar);
    let interleaved = if planar.is_none() {
        img.as_slice(Order::Interleaved)
    } else {
        None
    };
    grow(&mut scratch.block, bw * LANES);
    for ch in 0..c {
        if cols.identity {
            for r in 0..n_rows {
                let line = &mut scratch.line[..bw];
                load_row(
                    img,
                    planar,
                    interleaved,
                    ch,
                    top + first + r,
                    left,
                    line,
                    T::to_f32,
                );
                let at = (ch * n_rows + r) * ow;
                scratch.mid[at..at + ow].copy_from_slice(line);
            }
            continue;
        }
        // Eight rows at a time, stored column-major (`block[x * 8 + lane]`), so that each tap
        // is one 8-wide multiply-add across the rows.
        for r0 in (0..n_rows).step_by(LANES) {
            let lanes = LANES.min(n_rows - r0);
            for lane in 0..lanes {
                let line = &mut scratch.line[..bw];
                load_row(
                    img,
                    planar,
                    interleaved,
                    ch,
                    top + first + r0 + lane,
                    left,
                    line,
                    T::to_f32,
                );
                for (x, v) in line.iter().enumerate() {
                    scratch.block[x * LANES + lane] = *v;
                }
            }
            let base = (ch * n_rows + r0) * ow;
            horizontal_block(
                &scratch.block[..bw * LANES],
                cols,
                &mut scratch.mid[base..],
                ow,
                lanes,
            );
        }
    }

    // Vertical pass: whole rows at a time, rounded into the output.
    grow(&mut scratch.acc, ow);
    let [oc, oy, ox] = order.strides(c, oh, ow).map(|s| s as usize);
    for ch in 0..c {
        let plane = &scratch.mid[ch * n_rows * ow..(ch + 1) * n_rows * ow];
        for y in 0..oh {
            let acc = &mut scratch.acc[..ow];
            let s0 = rows.start[y] - first;
            if rows.identity {
                // Output row y is input row y.
                let r = y - first;
                acc.copy_from_slice(&plane[r * ow..(r + 1) * ow]);
            } else {
                acc.fill(0.0);
                let ws = rows.weights_of(y);
                for n in 0..rows.k {
                    let j = if rows.forward { n } else { rows.k - 1 - n };
                    let w = ws[j];
                    if w == 0.0 {
                        continue; // fma(0, x, acc) == acc
                    }
                    let src = &plane[(s0 + j) * ow..(s0 + j + 1) * ow];
                    for (a, v) in acc.iter_mut().zip(src) {
                        *a = w.mul_add(*v, *a);
                    }
                }
            }
            let base = ch * oc + y * oy;
            if ox == 1 {
                for (o, a) in out[base..base + ow].iter_mut().zip(acc.iter()) {
                    *o = T::from_round(*a);
                }
            } else {
                for (x, a) in acc.iter().enumerate() {
                    out[base + x * ox] = T::from_round(*a);
                }
            }
        }
    }
}

pub(super) fn grow<T: Copy + Default>(v: &mut Vec<T>, len: usize) {
    if v.len() < len {
        v.resize(len, T::default());
    }
}

/// Row `y` of channel `ch`, columns `left .. left + line.len()`, each value through `conv`
/// (to `f32` for the float kernel; as it is for the fixed-point `uint8` one).
#[inline(always)]
pub(super) fn load_row<T: Pixel, U>(
    img: &ImageRef<'_, T>,
    planar: Option<&[T]>,
    interleaved: Option<&[T]>,
    ch: usize,
    y: usize,
    left: usize,
    line: &mut [U],
    conv: impl Fn(T) -> U,
) {
    let (h, w, c) = (img.h, img.w, img.c);
    if let Some(p) = planar {
        let (at, n) = ((ch * h + y) * w + left, line.len());
        for (d, &s) in line.iter_mut().zip(&p[at..at + n]) {
            *d = conv(s);
        }
    } else if let Some(p) = interleaved {
        let at = (y * w + left) * c + ch;
        for (d, &s) in line.iter_mut().zip(p[at..].iter().step_by(c)) {
            *d = conv(s);
        }
    } else {
        for (x, d) in line.iter_mut().enumerate() {
            *d = conv(img.at(ch, y, left + x));
        }
    }
}

/// The horizontal taps over eight rows stored column-major in `block`; row `lane` of the
/// result goes to `mid[lane * ow ..]`, for the first `lanes` rows.
#[inline(always)]
fn horizontal_block(block: &[f32], cols: &Taps, mid: &mut [f32], ow: usize, lanes: usize) {
    let k = cols.k;
    for x in 0..ow {
        let s = cols.start[x];
        let ws = cols.weights_of(x);
        let mut acc = [0.0f32; LANES];
        for n in 0..k {
            let j = if cols.forward { n } else { k - 1 - n };
            let w = ws[j];
            let col: &[f32; LANES] = block[(s + j) * LANES..(s + j + 1) * LANES]
                .try_into()
                .unwrap();
            for l in 0..LANES {
                acc[l] = w.mul_add(col[l], acc[l]);
            }
        }
        for (l, a) in acc.iter().enumerate().take(lanes) {
            mid[l * ow + x] = *a;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::super::Shape;
    use super::*;

    #[test]
    fn linear_taps_match_torch_formula() {
        // 4 -> 2: sources 0.5 and 2.5.
        let t = Taps::new(4, 2, false);
        assert_eq!(t.start, vec![0, 2]);
        assert_eq!(t.weights, vec![0.5, 0.5, 0.5, 0.5]);
        // 2 -> 4 enlarges; the last output reads the last input only.
        let t = Taps::new(2, 4, false);
        assert_eq!(t.k, 2);
        assert_eq!(t.start, vec![0, 0, 0, 0]);
        assert_eq!(&t.weights[6..8], &[0.0, 1.0]);
        assert!(Taps::new(5, 5, false).identity);
        assert!(Taps::new(5, 5, true).identity);
        assert!(!Taps::new(5, 4, true).identity);
    }

    #[test]
    fn triangle_taps_sum_to_one_and_widen() {
        let t = Taps::new(224, 160, true);
        assert!(t.k >= 3);
        for i in 0..160 {
            let s: f32 = t.weights_of(i).iter().sum();
            assert!((s - 1.0).abs() < 1e-6);
            assert!(t.start[i] + t.k <= 224);
        }
        // Halving: each output averages a 4-wide triangle centred between two inputs.
        let t = Taps::new(8, 4, true);
        let w = t.weights_of(1);
        let total: f32 = w.iter().sum();
        assert!((total - 1.0).abs() < 1e-6);
        assert_eq!(w.iter().filter(|v| **v > 0.0).count(), 4);
    }

    #[test]
    fn constant_images_stay_constant() {
        let s = Shape::new(2, 3, 13, 17);
        let data = vec![77u8; s.len()];
        for antialias in [false, true] {
            for (oh, ow) in [(5, 9), (30, 7), (13, 17)] {
                for order in [Order::Planar, Order::Interleaved] {
                    let src = Source::contiguous(&data, s, order).unwrap();
                    let os = Shape::new(2, 3, oh, ow);
                    let mut out = vec![0u8; os.len()];
                    resize(
                        &src,
                        &mut Dest::new(&mut out, os, order).unwrap(),
                        antialias,
                    )
                    .unwrap();
                    assert!(out.iter().all(|v| *v == 77), "{antialias} {oh}x{ow}");
                }
            }
        }
    }

    #[test]
    fn same_size_is_a_copy() {
        let s = Shape::new(2, 3, 9, 11);
        let data = batch_u8(s, 6);
        for antialias in [false, true] {
            let src = Source::contiguous(&data, s, Order::Planar).unwrap();
            let mut out = vec![0u8; s.len()];
            resize(
                &src,
                &mut Dest::new(&mut out, s, Order::Planar).unwrap(),
                antialias,
            )
            .unwrap();
            assert_eq!(out, data);
        }
    }

    #[test]
    fn layouts_and_crops_agree() {
        let s = Shape::new(2, 3, 20, 24);
        let data = batch_f32(s, 5);
        let os = Shape::new(2, 3, 7, 9);
        let boxes = [[2, 3, 15, 11], [0, 0, 20, 24]];
        let mut want = vec![0f32; os.len()];
        let src = Source::contiguous(&data, s, Order::Planar).unwrap();
        resized_crop(
            &src,
            &mut Dest::new(&mut want, os, Order::Planar).unwrap(),
            &boxes,
            true,
        )
        .unwrap();
        let inter = reorder(&data, s, Order::Planar, Order::Interleaved);
        let src = Source::contiguous(&inter, s, Order::Interleaved).unwrap();
        let mut got = vec![0f32; os.len()];
        resized_crop(
            &src,
            &mut Dest::new(&mut got, os, Order::Interleaved).unwrap(),
            &boxes,
            true,
        )
        .unwrap();
        assert_eq!(reorder(&got, os, Order::Interleaved, Order::Planar), want);
        // The full-image box is a plain resize.
        let mut full = vec![0f32; os.len()];
        let src = Source::contiguous(&data, s, Order::Planar).unwrap();
        resize(
            &src,
            &mut Dest::new(&mut full, os, Order::Planar).unwrap(),
            true,
        )
        .unwrap();
        assert_eq!(full[os.image_len()..], want[os.image_len()..]);
    }

    #[test]
    fn fixed_point_uint8_stays_within_one_unit_of_f32() {
        // Sizes around the 16-row blocks and 16-column tiles, tiny, enlarged and odd; both
        // layouts; per-image crop boxes.
        let s = Shape::new(2, 3, 35, 33);
        let data = batch_u8(s, 7);
        let as_f32: Vec<f32> = data.iter().map(|v| f32::from(*v)).collect();
        let boxes = [[0, 0, 35, 33], [3, 1, 17, 31]];
        for antialias in [false, true] {
            for (oh, ow) in [(1, 1), (16, 16), (17, 15), (34, 32), (70, 5), (9, 47)] {
                for order in [Order::Planar, Order::Interleaved] {
                    let os = Shape::new(2, 3, oh, ow);
                    let src_u8 = reorder(&data, s, Order::Planar, order);
                    let src_f32 = reorder(&as_f32, s, Order::Planar, order);
                    let mut got = vec![0u8; os.len()];
                    let mut want = vec![0f32; os.len()];
                    let src = Source::contiguous(&src_u8, s, order).unwrap();
                    let mut dst = Dest::new(&mut got, os, order).unwrap();
                    resized_crop(&src, &mut dst, &boxes, antialias).unwrap();
                    let src = Source::contiguous(&src_f32, s, order).unwrap();
                    let mut dst = Dest::new(&mut want, os, order).unwrap();
                    resized_crop(&src, &mut dst, &boxes, antialias).unwrap();
                    let worst = got
                        .iter()
                        .zip(&want)
                        .map(|(g, w)| (f32::from(*g) - w).abs())
                        .fold(0.0f32, f32::max);
                    assert!(worst < 1.5, "{antialias} {oh}x{ow} {order:?}: {worst}");
                }
            }
        }
    }

    #[test]
    fn bad_boxes_and_sizes_are_refused() {
        let s = Shape::new(1, 3, 10, 10);
        let data = vec![0u8; s.len()];
        let src = Source::contiguous(&data, s, Order::Planar).unwrap();
        let os = Shape::new(1, 3, 4, 4);
        let mut out = vec![0u8; os.len()];
        let mut dst = Dest::new(&mut out, os, Order::Planar).unwrap();
        assert!(resized_crop(&src, &mut dst, &[[5, 0, 6, 4]], true).is_err());
        assert!(resized_crop(&src, &mut dst, &[[0, 0, 0, 4]], true).is_err());
        assert!(resized_crop(&src, &mut dst, &[[0, 0, 4, 4], [0, 0, 4, 4]], true).is_err());
        let zero = Shape::new(1, 3, 0, 4);
        let mut none: Vec<u8> = vec![];
        assert!(resize(
            &src,
            &mut Dest::new(&mut none, zero, Order::Planar).unwrap(),
            true
        )
        .is_err());
    }
}
