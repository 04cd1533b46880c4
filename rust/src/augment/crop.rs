//! `RandomResizedCrop`'s boxes, drawn by torchvision's law.
//!
//! Up to ten attempts: a target area `area * U(scale)`, an aspect ratio
//! `exp(U(log r0, log r1))`, `w = round(sqrt(area_t * aspect))`, `h = round(sqrt(area_t /
//! aspect))` (halves to even, like Python's `round`); the first box that fits gets a uniform top
//! and left over the valid range. When all ten fail, a central crop, clipped to the ratio range.
//! The resizing itself is [`super::resize::resized_crop`].

use super::resize::CropBox;
use super::Draws;
use crate::{Error, Result};

/// Attempts before the central fallback, as torchvision.
pub const ATTEMPTS: u32 = 10;

/// Checks `scale` and `ratio`: finite, positive, increasing.
pub fn check_ranges(scale: (f64, f64), ratio: (f64, f64)) -> Result<()> {
    let ok = |r: (f64, f64)| r.0.is_finite() && r.1.is_finite() && r.0 > 0.0 && r.0 <= r.1;
    if !ok(scale) {
        return Err(Error::invalid(
            "scale",
            format!("({}, {})", scale.0, scale.1),
            "an increasing pair (min, max) of area fractions > 0",
        ));
    }
    if !ok(ratio) {
        return Err(Error::invalid(
            "ratio",
            format!("({}, {})", ratio.0, ratio.1),
            "an increasing pair (min, max) of aspect ratios > 0",
        ));
    }
    Ok(())
}

/// One box per image of an `h x w` batch. Image `i` uses draws `4a .. 4a + 3` for attempt
/// `a`: area, log-ratio, top, left.
pub fn sample_boxes(
    draws: &Draws,
    n: usize,
    h: usize,
    w: usize,
    scale: (f64, f64),
    ratio: (f64, f64),
) -> Result<Vec<CropBox>> {
    check_ranges(scale, ratio)?;
    if n > 0 && (h == 0 || w == 0) {
        return Err(Error::invalid(
            "batch",
            format!("{h}x{w} images"),
            "images with at least one pixel",
        ));
    }
    let area = (h * w) as f64;
    let (lr0, lr1) = (ratio.0.ln(), ratio.1.ln());
    Ok((0..n)
        .map(|i| {
            for a in 0..ATTEMPTS {
                let target = area * (scale.0 + (scale.1 - scale.0) * draws.uniform(i, 4 * a));
                let aspect = (lr0 + (lr1 - lr0) * draws.uniform(i, 4 * a + 1)).exp();
                let bw = (target * aspect).sqrt().round_ties_even();
                let bh = (target / aspect).sqrt().round_ties_even();
                if bw > 0.0 && bw <= w as f64 && bh > 0.0 && bh <= h as f64 {
                    let (bw, bh) = (bw as usize, bh as usize);
                    let top = pick(draws.uniform(i, 4 * a + 2), h - bh + 1);
                    let left = pick(draws.uniform(i, 4 * a + 3), w - bw + 1);
                    return [top, left, bh, bw];
                }
            }
            central(h, w, ratio)
        })
        .collect())
}

/// An integer uniform in `0 .. count` from a uniform in (0, 1).
fn pick(u: f64, count: usize) -> usize {
    ((u * count as f64) as usize).min(count - 1)
}

/// torchvision's fallback: the whole image, clipped to the ratio range, centred.
pub fn central(h: usize, w: usize, ratio: (f64, f64)) -> CropBox {
    let in_ratio = w as f64 / h as f64;
    let (bh, bw) = if in_ratio < ratio.0 {
        let bh = (w as f64 / ratio.0).round_ties_even() as usize;
        (bh.clamp(1, h), w)
    } else if in_ratio > ratio.1 {
        let bw = (h as f64 * ratio.1).round_ties_even() as usize;
        (h, bw.clamp(1, w))
    } else {
        (h, w)
    };
    [(h - bh) / 2, (w - bw) / 2, bh, bw]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boxes_fit_and_follow_the_law() {
        let d = Draws::new(11, 4, 0);
        let (h, w) = (224, 224);
        let boxes = sample_boxes(&d, 20_000, h, w, (0.08, 1.0), (0.75, 4.0 / 3.0)).unwrap();
        let mut area = 0.0;
        for b in &boxes {
            let [t, l, bh, bw] = *b;
            assert!(bh >= 1 && bw >= 1 && t + bh <= h && l + bw <= w);
            area += (bh * bw) as f64 / (h * w) as f64;
        }
        // Accepted areas are uniform on [0.08, 1] but large, wide boxes fail more often:
        // the mean falls a little under 0.54.
        let mean = area / boxes.len() as f64;
        assert!((0.45..0.54).contains(&mean), "{mean}");
    }

    #[test]
    fn fallback_is_central_and_clipped() {
        assert_eq!(central(100, 100, (0.75, 4.0 / 3.0)), [0, 0, 100, 100]);
        // A very wide image: clip the width to 4/3 of the height.
        assert_eq!(central(30, 300, (0.75, 4.0 / 3.0)), [0, 130, 30, 40]);
        assert_eq!(central(300, 30, (0.75, 4.0 / 3.0)), [130, 0, 40, 30]);
        // Boxes that can never fit fall back every time.
        let d = Draws::new(0, 0, 0);
        let boxes = sample_boxes(&d, 5, 10, 10, (5.0, 6.0), (1.0, 1.0)).unwrap();
        assert!(boxes.iter().all(|b| *b == [0, 0, 10, 10]));
    }

    #[test]
    fn bad_ranges_are_refused() {
        let d = Draws::new(0, 0, 0);
        assert!(sample_boxes(&d, 1, 8, 8, (0.9, 0.1), (1.0, 1.0)).is_err());
        assert!(sample_boxes(&d, 1, 8, 8, (0.1, 0.9), (0.0, 1.0)).is_err());
        assert!(sample_boxes(&d, 1, 8, 8, (f64::NAN, 0.9), (1.0, 1.0)).is_err());
    }
}
