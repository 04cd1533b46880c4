//! Horizontal and vertical flips, of every image or of the images a mask selects.
//!
//! A flip is a copy with the index order reversed along one axis, so it runs at close to copy
//! speed: whole rows move with `copy_from_slice`, reversed rows with a reversed iterator that
//! the compiler turns into shuffles.
//!
//! Outputs larger than the cache (above `STREAM_ABOVE`) take non-temporal stores for
//! horizontal flips of planar 1- and 4-byte data, which skips the read-for-ownership of every
//! output line; the other cases store through the cache.

use rayon::prelude::*;

use super::{check_pair, pool, Dest, Draws, ImageRef, Order, Pixel, Source};
use crate::{Error, Result};

/// Which axis to reverse.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Axis {
    /// Left to right (reverses columns).
    Horizontal,
    /// Top to bottom (reverses rows).
    Vertical,
}

/// For each of `n` images, whether a random flip with probability `p` happens.
/// As in torchvision, a draw `u >= p` means "no flip", so `p = 0` never flips and `p = 1`
/// always does.
pub fn flip_flags(draws: &Draws, n: usize, p: f64) -> Result<Vec<bool>> {
    if !(0.0..=1.0).contains(&p) {
        return Err(Error::invalid("p", p, "a probability in [0, 1]"));
    }
    Ok((0..n).map(|i| draws.uniform(i, 0) < p).collect())
}

fn check_mask(mask: Option<&[bool]>, n: usize) -> Result<()> {
    match mask {
        Some(m) if m.len() != n => Err(Error::invalid(
            "mask",
            format!("{} values", m.len()),
            format!("expected one per image ({n})"),
        )),
        _ => Ok(()),
    }
}

/// Writes the flipped batch into `dst`; images where `mask` is false are copied unchanged.
pub fn flip<T: Pixel>(
    src: &Source<'_, T>,
    dst: &mut Dest<'_, T>,
    axis: Axis,
    mask: Option<&[bool]>,
) -> Result<()> {
    let shape = src.shape();
    check_pair(shape, dst.shape, true)?;
    check_mask(mask, shape.n)?;
    if shape.is_empty() {
        return Ok(());
    }
    let order = dst.order;
    let len = shape.image_len();
    let stream = shape.len() * std::mem::size_of::<T>() > STREAM_ABOVE;
    pool::install(|| {
        dst.data
            .par_chunks_mut(len)
            .enumerate()
            .for_each(|(i, out)| {
                let on = mask.is_none_or(|m| m[i]);
                let image = src.image(i);
                let (c, h, w) = (image.c, image.h, image.w);
                match image.as_slice(order) {
                    Some(s) if !on => out.copy_from_slice(s),
                    Some(s) => flip_contiguous(s, out, order, c, h, w, axis, stream),
                    None => flip_strided(&image, out, order, on.then_some(axis)),
                }
            })
    })
}

/// Flips the images of `batch` where `mask` is true (all when `None`), in place.
pub fn flip_in_place<T: Pixel>(
    batch: &mut Dest<'_, T>,
    axis: Axis,
    mask: Option<&[bool]>,
) -> Result<()> {
    let shape = batch.shape;
    check_mask(mask, shape.n)?;
    if shape.is_empty() {
        return Ok(());
    }
    let (order, len) = (batch.order, shape.image_len());
    pool::install(|| {
        batch
            .data
            .par_chunks_mut(len)
            .enumerate()
            .filter(|(i, _)| mask.is_none_or(|m| m[*i]))
            .for_each(|(_, img)| flip_image_in_place(img, order, shape.c, shape.h, shape.w, axis))
    })
}

/// Output bytes above which horizontal flips bypass the cache: the result would not stay in
/// it anyway, and streaming stores skip the read-for-ownership of every output line.
const STREAM_ABOVE: usize = 16 << 20;

fn flip_contiguous<T: Pixel>(
    src: &[T],
    out: &mut [T],
    order: Order,
    c: usize,
    h: usize,
    w: usize,
    axis: Axis,
    stream: bool,
) {
    #[cfg(target_arch = "x86_64")]
    {
        let size = std::mem::size_of::<T>();
        // Rows of whole cache lines only: where a row ends inside a line, that line mixes
        // plain and streaming stores, and each such line costs a partial write-combining
        // flush (224-byte uint8 rows ran at a fifth of a copy's speed this way).
        if stream
            && order == Order::Planar
            && axis == Axis::Horizontal
            && (size == 1 || size == 4)
            && (w * size).is_multiple_of(64)
            && std::is_x86_feature_detected!("avx2")
        {
            // SAFETY: the CPU has AVX2; the function checks bounds and alignment itself.
            unsafe { streaming::hflip_rows(src, out, w) };
            return;
        }
        if std::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU has the feature the function is compiled for.
            unsafe { flip_contiguous_avx2(src, out, order, c, h, w, axis) };
            return;
        }
    }
    flip_contiguous_impl(src, out, order, c, h, w, axis);
}

/// The same code with AVX2, whose byte shuffles reverse a row 32 bytes at a time.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn flip_contiguous_avx2<T: Pixel>(
    src: &[T],
    out: &mut [T],
    order: Order,
    c: usize,
    h: usize,
    w: usize,
    axis: Axis,
) {
    flip_contiguous_impl(src, out, order, c, h, w, axis);
}

#[inline(always)]
fn flip_contiguous_impl<T: Pixel>(
    src: &[T],
    out: &mut [T],
    order: Order,
    c: usize,
    h: usize,
    w: usize,
    axis: Axis,
) {
    // Rows of the stored layout: a plane row (w values) or a pixel row (w * c values).
    let (row, px) = match order {
        Order::Planar => (w, 1),
        Order::Interleaved => (w * c, c),
    };
    let rows_per_plane = h;
    match axis {
        Axis::Vertical => {
            for (k, dst_row) in out.chunks_exact_mut(row).enumerate() {
                let (plane, y) = (k / rows_per_plane, k % rows_per_plane);
                let from = (plane * rows_per_plane + (h - 1 - y)) * row;
                dst_row.copy_from_slice(&src[from..from + row]);
            }
        }
        Axis::Horizontal => {
            for (dst_row, src_row) in out.chunks_exact_mut(row).zip(src.chunks_exact(row)) {
                reverse_pixels(src_row, dst_row, px);
            }
        }
    }
}

/// `dst` gets the pixels of `src` (each `px` values wide) in reverse order.
#[inline(always)]
fn reverse_pixels<T: Pixel>(src: &[T], dst: &mut [T], px: usize) {
    match (px, std::mem::size_of::<T>()) {
        (1, 1) => reverse_chunked::<T, 32>(src, dst),
        (1, _) => reverse_chunked::<T, 8>(src, dst),
        _ => {
            for (d, s) in dst.chunks_exact_mut(px).zip(src.chunks_exact(px).rev()) {
                d.copy_from_slice(s);
            }
        }
    }
}

/// Reverses `src` into `dst` in fixed blocks of `L` values (one 32-byte register), which the
/// compiler turns into a load, a shuffle and a store per block.
#[inline(always)]
fn reverse_chunked<T: Pixel, const L: usize>(src: &[T], dst: &mut [T]) {
    let n = src.len();
    let mut i = 0;
    while i + L <= n {
        let s: &[T; L] = src[n - i - L..n - i].try_into().unwrap();
        let d: &mut [T; L] = (&mut dst[i..i + L]).try_into().unwrap();
        for l in 0..L {
            d[l] = s[L - 1 - l];
        }
        i += L;
    }
    for k in i..n {
        dst[k] = src[n - 1 - k];
    }
}

#[cfg(target_arch = "x86_64")]
mod streaming {
    use std::arch::x86_64::*;

    use super::Pixel;

    /// Reverses each `w`-wide row of `src` into `dst`, 32 bytes at a time with non-temporal
    /// stores (elements of 1 or 4 bytes), then fences so the stores are visible in order.
    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn hflip_rows<T: Pixel>(src: &[T], dst: &mut [T], w: usize) {
        let size = std::mem::size_of::<T>();
        let per = 32 / size;
        let words = _mm256_setr_epi32(7, 6, 5, 4, 3, 2, 1, 0);
        let bytes = _mm256_setr_epi8(
            15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0, 15, 14, 13, 12, 11, 10, 9, 8, 7,
            6, 5, 4, 3, 2, 1, 0,
        );
        for (s, d) in src.chunks_exact(w).zip(dst.chunks_exact_mut(w)) {
            // Destination blocks start where the row meets a 32-byte boundary; the few values
            // before the first and after the last block take plain stores.
            let misaligned = (d.as_ptr() as usize) % 32;
            let head = (((32 - misaligned) % 32) / size).min(w);
            let blocks = (w - head) / per;
            for x in (0..head).chain(head + blocks * per..w) {
                d[x] = s[w - 1 - x];
            }
            // Last block first, so the source is read forwards (prefetchers follow ascending
            // streams).
            for k in (0..blocks).rev() {
                let p = head + k * per;
                let block = &s[w - p - per..w - p];
                let target = &mut d[p..p + per];
                // SAFETY: both ranges hold exactly 32 bytes (checked by the slicing above) and
                // `target` starts on a 32-byte boundary (`head` puts it there).
                let v = _mm256_loadu_si256(block.as_ptr() as *const __m256i);
                let r = if size == 4 {
                    _mm256_permutevar8x32_epi32(v, words)
                } else {
                    let b = _mm256_shuffle_epi8(v, bytes);
                    _mm256_permute2x128_si256(b, b, 0x01)
                };
                _mm256_stream_si256(target.as_mut_ptr() as *mut __m256i, r);
            }
        }
        _mm_sfence();
    }
}

fn flip_strided<T: Pixel>(
    image: &ImageRef<'_, T>,
    out: &mut [T],
    order: Order,
    axis: Option<Axis>,
) {
    let (c, h, w) = (image.c, image.h, image.w);
    let [oc, oy, ox] = order.strides(c, h, w).map(|s| s as usize);
    for ch in 0..c {
        for y in 0..h {
            for x in 0..w {
                let (sy, sx) = match axis {
                    Some(Axis::Horizontal) => (y, w - 1 - x),
                    Some(Axis::Vertical) => (h - 1 - y, x),
                    None => (y, x),
                };
                out[ch * oc + y * oy + x * ox] = image.at(ch, sy, sx);
            }
        }
    }
}

fn flip_image_in_place<T: Pixel>(
    img: &mut [T],
    order: Order,
    c: usize,
    h: usize,
    w: usize,
    axis: Axis,
) {
    let (row, px, planes) = match order {
        Order::Planar => (w, 1, c),
        Order::Interleaved => (w * c, c, 1),
    };
    match axis {
        Axis::Horizontal => {
            for r in img.chunks_exact_mut(row) {
                if px == 1 {
                    r.reverse();
                } else {
                    for x in 0..w / 2 {
                        for k in 0..px {
                            r.swap(x * px + k, (w - 1 - x) * px + k);
                        }
                    }
                }
            }
        }
        Axis::Vertical => {
            for plane in img.chunks_exact_mut(row * h).take(planes) {
                for y in 0..h / 2 {
                    let (top, bottom) = plane.split_at_mut((h - 1 - y) * row);
                    top[y * row..(y + 1) * row].swap_with_slice(&mut bottom[..row]);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::super::Shape;
    use super::*;

    fn reference(data: &[u8], s: Shape, axis: Axis, mask: &[bool]) -> Vec<u8> {
        // Planar reference by index arithmetic.
        let mut out = vec![0; data.len()];
        for i in 0..s.n {
            for c in 0..s.c {
                for y in 0..s.h {
                    for x in 0..s.w {
                        let (sy, sx) = match (mask[i], axis) {
                            (false, _) => (y, x),
                            (true, Axis::Horizontal) => (y, s.w - 1 - x),
                            (true, Axis::Vertical) => (s.h - 1 - y, x),
                        };
                        let at = |y: usize, x: usize| ((i * s.c + c) * s.h + y) * s.w + x;
                        out[at(y, x)] = data[at(sy, sx)];
                    }
                }
            }
        }
        out
    }

    #[test]
    fn flips_match_index_arithmetic_in_every_layout() {
        let s = Shape::new(3, 3, 5, 7);
        let data = batch_u8(s, 1);
        let mask = [true, false, true];
        for axis in [Axis::Horizontal, Axis::Vertical] {
            let want = reference(&data, s, axis, &mask);
            for order in [Order::Planar, Order::Interleaved] {
                let stored = reorder(&data, s, Order::Planar, order);
                // Out of place.
                let src = Source::contiguous(&stored, s, order).unwrap();
                let mut out = vec![0u8; s.len()];
                let mut dst = Dest::new(&mut out, s, order).unwrap();
                flip(&src, &mut dst, axis, Some(&mask)).unwrap();
                assert_eq!(
                    reorder(&out, s, order, Order::Planar),
                    want,
                    "{axis:?} {order:?}"
                );
                // In place.
                let mut inplace = stored.clone();
                let mut dst = Dest::new(&mut inplace, s, order).unwrap();
                flip_in_place(&mut dst, axis, Some(&mask)).unwrap();
                assert_eq!(reorder(&inplace, s, order, Order::Planar), want);
                // Strided source (rows padded by two columns) into either order.
                let pw = s.w + 2;
                let mut padded = vec![0u8; s.n * s.c * s.h * pw];
                for (r, row) in data.chunks_exact(s.w).enumerate() {
                    padded[r * pw..r * pw + s.w].copy_from_slice(row);
                }
                let strided = Source::strided(
                    &padded,
                    0,
                    [
                        (s.c * s.h * pw) as isize,
                        (s.h * pw) as isize,
                        pw as isize,
                        1,
                    ],
                    s,
                )
                .unwrap();
                assert_eq!(strided.image_order(Order::Planar), None);
                let mut out = vec![0u8; s.len()];
                let mut dst = Dest::new(&mut out, s, order).unwrap();
                flip(&strided, &mut dst, axis, Some(&mask)).unwrap();
                assert_eq!(reorder(&out, s, order, Order::Planar), want);
            }
        }
    }

    #[test]
    fn flips_from_a_reversed_view() {
        // A source that reads columns backwards (a numpy `[..., ::-1]` view): flipping it
        // horizontally gives the original back.
        let s = Shape::new(2, 3, 4, 6);
        let data = batch_u8(s, 2);
        let view = Source::strided(
            &data,
            s.w - 1,
            [
                s.image_len() as isize,
                (s.h * s.w) as isize,
                s.w as isize,
                -1,
            ],
            s,
        )
        .unwrap();
        assert_eq!(view.image_order(Order::Planar), None);
        let mut out = vec![0u8; s.len()];
        let mut dst = Dest::new(&mut out, s, Order::Planar).unwrap();
        flip(&view, &mut dst, Axis::Horizontal, None).unwrap();
        assert_eq!(out, data);
    }

    #[test]
    fn flip_flags_follow_p() {
        let d = Draws::new(7, 1, 0);
        assert!(flip_flags(&d, 100, 0.0).unwrap().iter().all(|f| !f));
        assert!(flip_flags(&d, 100, 1.0).unwrap().iter().all(|f| *f));
        let half = flip_flags(&d, 10_000, 0.5).unwrap();
        let k = half.iter().filter(|f| **f).count();
        assert!((4800..5200).contains(&k), "{k}");
        assert!(flip_flags(&d, 1, 1.5).is_err());
    }
}
