//! Batched image augmentation: flips, colour jitter, resizing and random resized crops.
//!
//! The semantics follow `torchvision.transforms.v2` (see the module of each operation). A batch
//! is four-dimensional and always described in logical `(N, C, H, W)` order; its memory may be
//! planar (`NCHW` contiguous), interleaved (`NHWC` contiguous) or any strides at all. Kernels
//! work on one image at a time: a contiguous image is read in place, any other is first gathered
//! into a per-thread scratch buffer (the strided fallback). Images run in parallel on the
//! dedicated thread pool of [`pool`], and every random choice is a pure function of
//! `(seed, stream, call, image)`, so results never depend on the number of threads.

pub mod color;
pub mod crop;
pub mod flip;
pub mod normalize;
pub mod pool;
pub mod resize;
mod resize_fixed;

use crate::rng::Philox;
use crate::{Error, Result};

/// The element types a batch may hold.
pub trait Pixel: Copy + Default + PartialEq + Send + Sync + std::fmt::Debug + 'static {
    /// The name users see in messages.
    const NAME: &'static str;
    /// Whether results are truncated or rounded back to integers.
    const INTEGER: bool;
    /// The largest valid intensity: 255 for `u8`, 1 for `f32`.
    const BOUND: f32;
    /// The value as a float, unscaled.
    fn to_f32(self) -> f32;
    /// A float already inside `[0, BOUND]` and integral when `INTEGER`, stored as is.
    fn from_exact(v: f32) -> Self;
    /// A float rounded to the nearest representable value, saturating (NaN gives 0).
    fn from_round(v: f32) -> Self;
}

impl Pixel for u8 {
    const NAME: &'static str = "uint8";
    const INTEGER: bool = true;
    const BOUND: f32 = 255.0;
    #[inline(always)]
    fn to_f32(self) -> f32 {
        f32::from(self)
    }
    #[inline(always)]
    fn from_exact(v: f32) -> Self {
        // Adding 2^23 puts an integral value in [0, 2^23) in the low mantissa bits: a plain
        // bit cast, which vectorises where the saturating `as u8` does not.
        (v + MAGIC).to_bits() as u8
    }
    #[inline(always)]
    fn from_round(v: f32) -> Self {
        // Clamp (NaN to 0), then the same trick rounds to nearest (halves to even).
        let v = if v > 0.0 { v } else { 0.0 };
        let v = if v < 255.0 { v } else { 255.0 };
        (v + MAGIC).to_bits() as u8
    }
}

/// 2^23: adding it to a float in [0, 2^23) leaves the rounded integer in the mantissa.
const MAGIC: f32 = 8_388_608.0;

impl Pixel for f32 {
    const NAME: &'static str = "float32";
    const INTEGER: bool = false;
    const BOUND: f32 = 1.0;
    #[inline(always)]
    fn to_f32(self) -> f32 {
        self
    }
    #[inline(always)]
    fn from_exact(v: f32) -> Self {
        v
    }
    #[inline(always)]
    fn from_round(v: f32) -> Self {
        v
    }
}

/// How the pixels of one image lie in memory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Order {
    /// `(C, H, W)` contiguous: one plane per channel (an `NCHW` batch).
    Planar,
    /// `(H, W, C)` contiguous: the channels of a pixel side by side (an `NHWC` batch).
    Interleaved,
}

impl Order {
    /// Element strides `(channel, row, column)` of a contiguous `c x h x w` image.
    pub fn strides(self, c: usize, h: usize, w: usize) -> [isize; 3] {
        match self {
            Order::Planar => [(h * w) as isize, w as isize, 1],
            Order::Interleaved => [1, (w * c) as isize, c as isize],
        }
    }
}

/// The logical size of a batch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shape {
    pub n: usize,
    pub c: usize,
    pub h: usize,
    pub w: usize,
}

impl Shape {
    pub fn new(n: usize, c: usize, h: usize, w: usize) -> Self {
        Shape { n, c, h, w }
    }

    /// Elements in one image.
    pub fn image_len(&self) -> usize {
        self.c * self.h * self.w
    }

    /// Elements in the batch.
    pub fn len(&self) -> usize {
        self.n * self.image_len()
    }

    /// Whether the batch holds no element.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A read-only batch with any strides (negative ones included).
#[derive(Clone, Copy, Debug)]
pub struct Source<'a, T> {
    data: &'a [T],
    /// Index in `data` of element `(0, 0, 0, 0)`.
    offset: usize,
    /// Element strides of `(N, C, H, W)`.
    strides: [isize; 4],
    shape: Shape,
}

impl<'a, T: Pixel> Source<'a, T> {
    /// A batch stored contiguously in `order`.
    pub fn contiguous(data: &'a [T], shape: Shape, order: Order) -> Result<Self> {
        if data.len() != shape.len() {
            return Err(Error::invalid(
                "batch",
                format!("{} elements", data.len()),
                format!("expected {} for shape {:?}", shape.len(), shape),
            ));
        }
        let [cs, ys, xs] = order.strides(shape.c, shape.h, shape.w);
        Ok(Source {
            data,
            offset: 0,
            strides: [shape.image_len() as isize, cs, ys, xs],
            shape,
        })
    }

    /// A batch whose element `(i, c, y, x)` is `data[offset + i*s0 + c*s1 + y*s2 + x*s3]`.
    /// Every element must lie inside `data`.
    pub fn strided(
        data: &'a [T],
        offset: usize,
        strides: [isize; 4],
        shape: Shape,
    ) -> Result<Self> {
        if !shape.is_empty() {
            let dims = [shape.n, shape.c, shape.h, shape.w];
            let (mut lo, mut hi) = (offset as i128, offset as i128);
            for (d, s) in dims.iter().zip(strides) {
                let reach = (*d as i128 - 1) * s as i128;
                if reach < 0 {
                    lo += reach;
                } else {
                    hi += reach;
                }
            }
            if lo < 0 || hi >= data.len() as i128 {
                return Err(Error::Internal(format!(
                    "strided batch {shape:?} with strides {strides:?} reaches outside its buffer"
                )));
            }
        }
        Ok(Source {
            data,
            offset,
            strides,
            shape,
        })
    }

    pub fn shape(&self) -> Shape {
        self.shape
    }

    /// The order in which each image is contiguous, if any. When both fit (one channel, or one
    /// pixel), `prefer` wins.
    pub fn image_order(&self, prefer: Order) -> Option<Order> {
        let s = self.shape;
        let fits = |order: Order| {
            let want = order.strides(s.c, s.h, s.w);
            let dims = [s.c, s.h, s.w];
            (0..3).all(|k| dims[k] <= 1 || self.strides[k + 1] == want[k])
        };
        match (fits(prefer), fits(other(prefer))) {
            (true, _) => Some(prefer),
            (false, true) => Some(other(prefer)),
            _ => None,
        }
    }

    /// Read access to image `i`.
    pub fn image(&self, i: usize) -> ImageRef<'a, T> {
        let base = self.offset as isize + i as isize * self.strides[0];
        ImageRef {
            data: self.data,
            base,
            strides: [self.strides[1], self.strides[2], self.strides[3]],
            c: self.shape.c,
            h: self.shape.h,
            w: self.shape.w,
        }
    }
}

fn other(order: Order) -> Order {
    match order {
        Order::Planar => Order::Interleaved,
        Order::Interleaved => Order::Planar,
    }
}

/// One image of a [`Source`]: element `(c, y, x)` is `data[base + c*s0 + y*s1 + x*s2]`.
#[derive(Clone, Copy, Debug)]
pub struct ImageRef<'a, T> {
    data: &'a [T],
    base: isize,
    strides: [isize; 3],
    pub c: usize,
    pub h: usize,
    pub w: usize,
}

impl<'a, T: Pixel> ImageRef<'a, T> {
    /// Element `(c, y, x)`.
    #[inline(always)]
    pub fn at(&self, c: usize, y: usize, x: usize) -> T {
        let [sc, sy, sx] = self.strides;
        self.data[(self.base + c as isize * sc + y as isize * sy + x as isize * sx) as usize]
    }

    /// The image as one contiguous slice in `order`, when it is stored that way.
    pub fn as_slice(&self, order: Order) -> Option<&'a [T]> {
        let want = order.strides(self.c, self.h, self.w);
        let dims = [self.c, self.h, self.w];
        let fits = (0..3).all(|k| dims[k] <= 1 || self.strides[k] == want[k]);
        if !fits {
            return None;
        }
        let len = self.c * self.h * self.w;
        let start = self.base as usize;
        Some(&self.data[start..start + len])
    }

    /// The image contiguous in `order`: borrowed when it already is, else copied into
    /// `scratch` (the strided fallback).
    pub fn contiguous<'s>(&self, order: Order, scratch: &'s mut Vec<T>) -> &'s [T]
    where
        'a: 's,
    {
        if let Some(s) = self.as_slice(order) {
            return s;
        }
        self.gather(order, scratch);
        scratch
    }

    /// Copies the image into `out` (resized to fit), contiguous in `order`.
    pub fn gather(&self, order: Order, out: &mut Vec<T>) {
        let (c, h, w) = (self.c, self.h, self.w);
        out.clear();
        out.resize(c * h * w, T::default());
        let [oc, oy, ox] = order.strides(c, h, w).map(|s| s as usize);
        for ch in 0..c {
            for y in 0..h {
                for x in 0..w {
                    out[ch * oc + y * oy + x * ox] = self.at(ch, y, x);
                }
            }
        }
    }

    /// Element strides `(channel, row, column)`.
    pub fn strides(&self) -> [isize; 3] {
        self.strides
    }
}

/// A writable batch stored contiguously in one order.
#[derive(Debug)]
pub struct Dest<'a, T> {
    pub data: &'a mut [T],
    pub shape: Shape,
    pub order: Order,
}

impl<'a, T: Pixel> Dest<'a, T> {
    pub fn new(data: &'a mut [T], shape: Shape, order: Order) -> Result<Self> {
        if data.len() != shape.len() {
            return Err(Error::invalid(
                "out",
                format!("{} elements", data.len()),
                format!("expected {} for shape {:?}", shape.len(), shape),
            ));
        }
        Ok(Dest { data, shape, order })
    }

    /// A read-only view of the same memory, for checks in tests.
    pub fn as_source(&self) -> Source<'_, T> {
        let [cs, ys, xs] = self.order.strides(self.shape.c, self.shape.h, self.shape.w);
        Source {
            data: self.data,
            offset: 0,
            strides: [self.shape.image_len() as isize, cs, ys, xs],
            shape: self.shape,
        }
    }
}

/// Where the random draws of one call come from: a seed, a stream that tells transforms apart,
/// and the call number. Image `i` of the call uses Philox counter `(call << 32) | i`.
#[derive(Clone, Copy, Debug)]
pub struct Draws {
    rng: Philox,
    call: u64,
}

impl Draws {
    pub fn new(seed: u64, stream: u32, call: u64) -> Self {
        Draws {
            rng: Philox::new(seed, stream),
            call,
        }
    }

    /// Uniform draw `k` in (0, 1) for image `i`.
    #[inline]
    pub fn uniform(&self, i: usize, k: u32) -> f64 {
        self.rng.uniform((self.call << 32) ^ i as u64, k)
    }
}

/// Checks that the source and destination agree on the number of images and channels.
pub(crate) fn check_pair(src: Shape, dst: Shape, same_size: bool) -> Result<()> {
    let ok = src.n == dst.n && src.c == dst.c && (!same_size || (src.h, src.w) == (dst.h, dst.w));
    if ok {
        Ok(())
    } else {
        Err(Error::invalid(
            "out",
            format!("shape {dst:?}"),
            format!("does not fit the batch of shape {src:?}"),
        ))
    }
}

/// Checks a per-image parameter list: one entry for the whole batch, or one per image.
pub(crate) fn check_per_image<P>(arg: &str, values: &[P], n: usize) -> Result<()> {
    if values.len() == 1 || values.len() == n {
        Ok(())
    } else {
        Err(Error::invalid(
            arg,
            format!("{} values", values.len()),
            format!("give one value for the batch or one per image ({n})"),
        ))
    }
}

#[cfg(test)]
pub(crate) mod testing {
    //! Small helpers shared by the tests of the augmentation modules.

    use super::*;

    /// A deterministic pseudo-random batch.
    pub fn batch_u8(shape: Shape, seed: u64) -> Vec<u8> {
        let g = Philox::new(seed, 99);
        (0..shape.len())
            .map(|i| (g.bits(i as u64, 0) & 0xff) as u8)
            .collect()
    }

    pub fn batch_f32(shape: Shape, seed: u64) -> Vec<f32> {
        let g = Philox::new(seed, 98);
        (0..shape.len())
            .map(|i| g.uniform(i as u64, 0) as f32)
            .collect()
    }

    /// The batch re-stored in the other order.
    pub fn reorder<T: Pixel>(data: &[T], shape: Shape, from: Order, to: Order) -> Vec<T> {
        let src = Source::contiguous(data, shape, from).unwrap();
        let mut out = Vec::with_capacity(data.len());
        let mut buf = Vec::new();
        for i in 0..shape.n {
            src.image(i).gather(to, &mut buf);
            out.extend_from_slice(&buf);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_order_detects_layouts() {
        let shape = Shape::new(2, 3, 4, 5);
        let data = vec![0u8; shape.len()];
        let planar = Source::contiguous(&data, shape, Order::Planar).unwrap();
        assert_eq!(planar.image_order(Order::Interleaved), Some(Order::Planar));
        let inter = Source::contiguous(&data, shape, Order::Interleaved).unwrap();
        assert_eq!(inter.image_order(Order::Planar), Some(Order::Interleaved));
        // Every other column: no contiguous order.
        let wide = vec![0u8; 2 * 3 * 4 * 10];
        let s = Source::strided(&wide, 0, [120, 40, 10, 2], shape).unwrap();
        assert_eq!(s.image_order(Order::Planar), None);
    }

    #[test]
    fn strided_bounds_are_checked() {
        let shape = Shape::new(1, 1, 2, 2);
        let data = vec![0u8; 4];
        assert!(Source::strided(&data, 0, [4, 4, 2, 1], shape).is_ok());
        assert!(Source::strided(&data, 0, [4, 4, 2, -1], shape).is_err());
        // A flipped view: start at the last column, step backwards.
        let s = Source::strided(&data, 1, [4, 4, 2, -1], shape).unwrap();
        assert_eq!(s.image(0).as_slice(Order::Planar), None);
    }

    #[test]
    fn gather_transposes() {
        let shape = Shape::new(1, 2, 2, 3);
        let data: Vec<u8> = (0..12).collect();
        let s = Source::contiguous(&data, shape, Order::Planar).unwrap();
        let mut out = Vec::new();
        s.image(0).gather(Order::Interleaved, &mut out);
        assert_eq!(out, vec![0, 6, 1, 7, 2, 8, 3, 9, 4, 10, 5, 11]);
    }
}
