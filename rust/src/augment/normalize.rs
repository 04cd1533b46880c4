//! Conversion to `float32` and per-channel normalisation, fused.
//!
//! `to_float` is torchvision's `to_dtype(float32, scale=True)`: `x * (1 / 255)` in `f32` for
//! `uint8`. `normalize` is `(x - mean) / std` per channel in `f32`, as torchvision's
//! `normalize` computes it (a subtraction, then a true division); on `uint8` it first scales to
//! `[0, 1]` in the same pass, so a `uint8` batch never needs a float temporary.

use rayon::prelude::*;

use super::{check_pair, pool, Dest, Order, Pixel, Source};
use crate::{Error, Result};

/// Checks `mean` and `std` against `c` channels: one value each, or one per channel.
pub fn check_stats(mean: &[f32], std: &[f32], c: usize) -> Result<()> {
    for (name, v) in [("mean", mean), ("std", std)] {
        if v.len() != 1 && v.len() != c {
            return Err(Error::invalid(
                name,
                format!("{} values", v.len()),
                format!("one value, or one per channel ({c})"),
            ));
        }
        if let Some(bad) = v.iter().find(|x| !x.is_finite()) {
            return Err(Error::invalid(name, bad, "finite values"));
        }
    }
    if let Some(bad) = std.iter().find(|x| **x == 0.0) {
        return Err(Error::invalid("std", bad, "non-zero standard deviations"));
    }
    Ok(())
}

/// `u8` to `[0, 1]` floats; `f32` copied unchanged.
pub fn to_float<T: Pixel>(src: &Source<'_, T>, dst: &mut Dest<'_, f32>) -> Result<()> {
    apply(src, dst, &[0.0], &[1.0], false)
}

/// `(scaled(x) - mean[c]) / std[c]` into a float batch.
pub fn normalize<T: Pixel>(
    src: &Source<'_, T>,
    dst: &mut Dest<'_, f32>,
    mean: &[f32],
    std: &[f32],
) -> Result<()> {
    check_stats(mean, std, src.shape().c)?;
    apply(src, dst, mean, std, true)
}

/// Normalises a float batch in place.
pub fn normalize_in_place(batch: &mut Dest<'_, f32>, mean: &[f32], std: &[f32]) -> Result<()> {
    let s = batch.shape;
    check_stats(mean, std, s.c)?;
    if s.is_empty() {
        return Ok(());
    }
    let (order, len) = (batch.order, s.image_len());
    pool::install(|| {
        batch.data.par_chunks_mut(len).for_each(|img| {
            for_channels(img, order, s.c, |c, v| {
                let (m, d) = stats(mean, std, c);
                for x in v {
                    *x = (*x - m) / d;
                }
            })
        })
    })
}

fn stats(mean: &[f32], std: &[f32], c: usize) -> (f32, f32) {
    let m = if mean.len() == 1 { mean[0] } else { mean[c] };
    let d = if std.len() == 1 { std[0] } else { std[c] };
    (m, d)
}

fn apply<T: Pixel>(
    src: &Source<'_, T>,
    dst: &mut Dest<'_, f32>,
    mean: &[f32],
    std: &[f32],
    normalise: bool,
) -> Result<()> {
    let s = src.shape();
    check_pair(s, dst.shape, true)?;
    if s.is_empty() {
        return Ok(());
    }
    let (order, len) = (dst.order, s.image_len());
    let scale = if T::INTEGER {
        (1.0f64 / f64::from(T::BOUND)) as f32
    } else {
        1.0
    };
    pool::install(|| {
        dst.data
            .par_chunks_mut(len)
            .enumerate()
            .for_each_init(Vec::new, |scratch, (i, out)| {
                let input = src.image(i).contiguous(order, scratch);
                // Interleaved images cycle through the channels; planar ones go plane by plane.
                match order {
                    Order::Planar => {
                        let hw = len / s.c;
                        for c in 0..s.c {
                            let (m, d) = stats(mean, std, c);
                            let (from, to) =
                                (&input[c * hw..(c + 1) * hw], &mut out[c * hw..(c + 1) * hw]);
                            convert(from, to, scale, m, d, normalise);
                        }
                    }
                    Order::Interleaved => {
                        for (from, to) in input.chunks_exact(s.c).zip(out.chunks_exact_mut(s.c)) {
                            for c in 0..s.c {
                                let (m, d) = stats(mean, std, c);
                                let x = from[c].to_f32() * scale;
                                to[c] = if normalise { (x - m) / d } else { x };
                            }
                        }
                    }
                }
            })
    })
}

#[inline]
fn convert<T: Pixel>(from: &[T], to: &mut [f32], scale: f32, m: f32, d: f32, normalise: bool) {
    if normalise {
        for (t, f) in to.iter_mut().zip(from) {
            *t = (f.to_f32() * scale - m) / d;
        }
    } else if T::INTEGER {
        for (t, f) in to.iter_mut().zip(from) {
            *t = f.to_f32() * scale;
        }
    } else {
        for (t, f) in to.iter_mut().zip(from) {
            *t = f.to_f32();
        }
    }
}

fn for_channels(
    img: &mut [f32],
    order: Order,
    c: usize,
    mut f: impl FnMut(usize, &mut dyn Iterator<Item = &mut f32>),
) {
    match order {
        Order::Planar => {
            let hw = img.len() / c;
            for (ch, plane) in img.chunks_exact_mut(hw).enumerate() {
                f(ch, &mut plane.iter_mut());
            }
        }
        Order::Interleaved => {
            for ch in 0..c {
                f(ch, &mut img[ch..].iter_mut().step_by(c));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::super::Shape;
    use super::*;

    #[test]
    fn normalize_matches_the_formula_in_both_orders() {
        let s = Shape::new(2, 3, 4, 5);
        let data = batch_u8(s, 8);
        let (mean, std) = ([0.485f32, 0.456, 0.406], [0.229f32, 0.224, 0.225]);
        let hw = s.h * s.w;
        let want: Vec<f32> = data
            .iter()
            .enumerate()
            .map(|(k, v)| {
                let c = (k / hw) % 3;
                (f32::from(*v) * (1.0f64 / 255.0) as f32 - mean[c]) / std[c]
            })
            .collect();
        for order in [Order::Planar, Order::Interleaved] {
            let stored = reorder(&data, s, Order::Planar, order);
            let src = Source::contiguous(&stored, s, order).unwrap();
            let mut out = vec![0f32; s.len()];
            normalize(
                &src,
                &mut Dest::new(&mut out, s, order).unwrap(),
                &mean,
                &std,
            )
            .unwrap();
            assert_eq!(reorder(&out, s, order, Order::Planar), want);
            // Float in place: to_float then normalise gives the same numbers.
            let mut f = vec![0f32; s.len()];
            to_float(&src, &mut Dest::new(&mut f, s, order).unwrap()).unwrap();
            normalize_in_place(&mut Dest::new(&mut f, s, order).unwrap(), &mean, &std).unwrap();
            assert_eq!(f, out);
        }
    }

    #[test]
    fn bad_stats_are_refused() {
        assert!(check_stats(&[0.5], &[0.0], 3).is_err());
        assert!(check_stats(&[0.5, 0.5], &[1.0], 3).is_err());
        assert!(check_stats(&[f32::NAN], &[1.0], 3).is_err());
        assert!(check_stats(&[0.5], &[0.2, 0.3, 0.4], 3).is_ok());
    }
}
