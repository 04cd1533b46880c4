//! Estimating the noise level of an objective from values along a short line, after Moré
//! and Wild, "Estimating computational noise" (SIAM J. Sci. Comput. 33, 2011).
//!
//! For values f(x + i h d), i = 0..m, of a smooth function plus independent noise of standard
//! deviation sigma, the k-th differences are dominated by the noise once h is small: their
//! mean square is sigma^2 (2k)! / (k!)^2. The estimate is taken at the first order k where
//! the differences change sign (noise, not curvature) and the estimates at k, k+1 and k+2
//! agree within a factor of 4.

/// The noise level estimated from `values` (equally spaced along a line), or None when the
/// values look smooth (no noise detected) or the estimate is not consistent.
pub fn estimate_noise(values: &[f64]) -> Option<f64> {
    let m = values.len();
    if m < 4 || values.iter().any(|v| !v.is_finite()) {
        return None;
    }
    let scale = values
        .iter()
        .fold(0.0f64, |a, v| a.max(v.abs()))
        .max(1e-300);
    let mut diff = values.to_vec();
    let mut sigma = Vec::new();
    let mut sign_change = Vec::new();
    let mut gamma = 1.0;
    for k in 1..m {
        diff = diff.windows(2).map(|w| w[1] - w[0]).collect();
        // gamma_k = (k!)^2 / (2k)!, by its recurrence.
        gamma *= (k * k) as f64 / ((2 * k) * (2 * k - 1)) as f64;
        let ms = diff.iter().map(|d| d * d).sum::<f64>() / diff.len() as f64;
        sigma.push((gamma * ms).sqrt());
        let pos = diff.iter().any(|&d| d > 0.0);
        let neg = diff.iter().any(|&d| d < 0.0);
        sign_change.push(pos && neg);
    }
    for k in 0..sigma.len().saturating_sub(2) {
        let window = &sigma[k..k + 3];
        let hi = window.iter().fold(0.0f64, |a, &b| a.max(b));
        let lo = window.iter().fold(f64::INFINITY, |a, &b| a.min(b));
        if sign_change[k] && hi <= 4.0 * lo {
            let s = sigma[k];
            // Differences at rounding level are not noise worth sizing steps to.
            return (s > 1e-13 * scale).then_some(s);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Philox;

    #[test]
    fn finds_the_noise_of_a_noisy_quadratic() {
        let rng = Philox::new(3, 9);
        let mut hits = 0;
        for trial in 0..20u64 {
            let values: Vec<f64> = (0..9)
                .map(|i| {
                    let t = 1.0 + 1e-3 * i as f64;
                    let (a, b) = rng.uniform_pair(trial * 16 + i as u64, 0);
                    let z = (-2.0 * a.ln()).sqrt() * (2.0 * std::f64::consts::PI * b).cos();
                    0.5 * t * t + 1e-3 * z
                })
                .collect();
            if let Some(s) = estimate_noise(&values) {
                if (2.5e-4..4e-3).contains(&s) {
                    hits += 1;
                }
            }
        }
        assert!(hits >= 16, "{hits} of 20 estimates within a factor of 4");
    }

    #[test]
    fn smooth_values_have_no_noise() {
        let values: Vec<f64> = (0..9).map(|i| (1.0 + 1e-3 * i as f64).powi(2)).collect();
        assert_eq!(estimate_noise(&values), None);
        assert_eq!(estimate_noise(&[1.0, f64::NAN, 1.0, 1.0]), None);
    }
}
