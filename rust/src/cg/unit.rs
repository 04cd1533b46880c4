//! The normalised coordinates gradient search works in: each dimension of a [`Space`] maps
//! to [0, 1] through the same transform sampling uses, so a log-scaled dimension is searched
//! in log scale, an integer is rounded, and a truncated normal is searched in probability.
//! Categorical dimensions hold their option index and are not varied within a descent.

use super::{Coord, Role};
use crate::space::{Dist, Space};

/// Keeps u strictly inside (0, 1) where the transform is infinite at the ends.
const EDGE: f64 = 1e-12;

/// The search coordinates of `space`.
pub fn coords(space: &Space) -> Vec<Coord> {
    space
        .dims()
        .iter()
        .map(|d| Coord {
            role: match d.dist {
                Dist::Choice { n } => Role::Choice { n },
                // A rounded dimension's differences must reach the next level.
                Dist::Int {
                    low,
                    high,
                    log: false,
                    step,
                } => Role::Continuous {
                    lower: 0.0,
                    upper: 1.0,
                    min_step: 1.0 / ((high - low) / step + 1) as f64,
                },
                Dist::Int {
                    low,
                    high,
                    log: true,
                    ..
                } => {
                    // One level at the top of a log range is the smallest step in u.
                    let (lo, hi) = (low as f64 - 0.5, high as f64 + 0.5);
                    let top = high as f64;
                    Role::Continuous {
                        lower: 0.0,
                        upper: 1.0,
                        min_step: (top / (top - 1.0).max(0.5)).ln() / (hi / lo).ln(),
                    }
                }
                Dist::Float {
                    low,
                    high,
                    step: Some(step),
                    ..
                } => Role::Continuous {
                    lower: 0.0,
                    upper: 1.0,
                    min_step: 1.0 / (((high - low) / step).round() + 1.0),
                },
                _ => Role::Continuous {
                    lower: 0.0,
                    upper: 1.0,
                    min_step: 0.0,
                },
            },
            parent: d.parent.map(|c| (c.dim, c.option)),
        })
        .collect()
}

/// The uniforms for the space's transform from a search vector (option indices for choices).
pub fn to_uniform(space: &Space, z: &[f64]) -> Vec<f64> {
    space
        .dims()
        .iter()
        .zip(z)
        .map(|(d, &v)| match d.dist {
            Dist::Choice { n } => (v + 0.5) / n as f64,
            Dist::Normal { .. } => v.clamp(EDGE, 1.0 - EDGE),
            _ => v,
        })
        .collect()
}

/// The natural row (values, option indices, NaN when inactive) for a search vector.
pub fn to_row(space: &Space, z: &[f64]) -> Vec<f64> {
    let u = to_uniform(space, z);
    let mut row = vec![0.0; space.len()];
    space.transform(&u, &mut row);
    row
}

/// The search vector for a natural row (as `Space.encode` gives): the inverse transforms,
/// 0.5 for an inactive dimension.
pub fn from_row(space: &Space, row: &[f64]) -> Vec<f64> {
    space
        .dims()
        .iter()
        .enumerate()
        .map(|(j, d)| {
            let x = row[j];
            if x.is_nan() {
                return 0.5;
            }
            let u = match d.dist {
                Dist::Choice { .. } => return x,
                Dist::Float {
                    low,
                    high,
                    log: false,
                    step: None,
                } => (x - low) / (high - low),
                Dist::Float {
                    low,
                    high,
                    log: true,
                    ..
                } => (x / low).ln() / (high / low).ln(),
                Dist::Float {
                    low,
                    high,
                    step: Some(step),
                    ..
                } => {
                    let count = ((high - low) / step).round() + 1.0;
                    (((x - low) / step).round() + 0.5) / count
                }
                Dist::Int {
                    low,
                    high,
                    log: false,
                    step,
                } => {
                    let count = ((high - low) / step + 1) as f64;
                    (((x - low as f64) / step as f64).round() + 0.5) / count
                }
                Dist::Int {
                    low,
                    high,
                    log: true,
                    ..
                } => {
                    let (lo, hi) = (low as f64 - 0.5, high as f64 + 0.5);
                    (x / lo).ln() / (hi / lo).ln()
                }
                Dist::Normal { .. } => invert_monotone(space, j, x),
            };
            u.clamp(0.0, 1.0)
        })
        .collect()
}

/// Dimension `j`'s value for uniform `u`, with every other dimension at 0.5 and the
/// dimension's own condition switched on.
fn value_of(space: &Space, j: usize, u: f64) -> f64 {
    let mut z = vec![0.5; space.len()];
    // Activate the chain of conditions above j.
    let mut k = j;
    while let Some(c) = space.dims()[k].parent {
        z[c.dim] = c.option as f64;
        k = c.dim;
    }
    z[j] = u;
    to_row(space, &z)[j]
}

/// Inverts a monotone transform by bisection (truncated normals have no closed form here).
fn invert_monotone(space: &Space, j: usize, x: f64) -> f64 {
    let (mut a, mut b) = (EDGE, 1.0 - EDGE);
    let increasing = value_of(space, j, b) >= value_of(space, j, a);
    for _ in 0..80 {
        let m = 0.5 * (a + b);
        let below = value_of(space, j, m) < x;
        if below == increasing {
            a = m;
        } else {
            b = m;
        }
    }
    0.5 * (a + b)
}

/// d(natural value)/du for every dimension at search vector `z` (0 for choices). Integer
/// and stepped dimensions use the derivative of their continuous relaxation.
pub fn jacobian(space: &Space, z: &[f64]) -> Vec<f64> {
    space
        .dims()
        .iter()
        .enumerate()
        .map(|(j, d)| match d.dist {
            Dist::Choice { .. } => 0.0,
            Dist::Float {
                low,
                high,
                log: false,
                step: None,
            } => high - low,
            Dist::Float {
                low,
                high,
                log: true,
                ..
            } => {
                let x = low * ((high / low).ln() * z[j]).exp();
                x * (high / low).ln()
            }
            Dist::Float {
                low,
                high,
                step: Some(step),
                ..
            } => (((high - low) / step).round() + 1.0) * step,
            Dist::Int {
                low,
                high,
                log: false,
                step,
            } => ((high - low) / step + 1) as f64 * step as f64,
            Dist::Int {
                low,
                high,
                log: true,
                ..
            } => {
                let (lo, hi) = (low as f64 - 0.5, high as f64 + 0.5);
                let x = lo * ((hi / lo).ln() * z[j]).exp();
                x * (hi / lo).ln()
            }
            Dist::Normal { .. } => {
                let u = z[j].clamp(1e-9, 1.0 - 1e-9);
                let h = 1e-7_f64.min(u - EDGE).min(1.0 - EDGE - u).max(EDGE);
                (value_of(space, j, u + h) - value_of(space, j, u - h)) / (2.0 * h)
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::space::{Condition, Dim};

    fn space() -> Space {
        let f = |low, high, log| Dist::Float {
            low,
            high,
            log,
            step: None,
        };
        Space::new(vec![
            Dim {
                name: "lr".into(),
                dist: f(1e-4, 1e-1, true),
                parent: None,
            },
            Dim {
                name: "width".into(),
                dist: Dist::Int {
                    low: 1,
                    high: 8,
                    log: false,
                    step: 1,
                },
                parent: None,
            },
            Dim {
                name: "kind".into(),
                dist: Dist::Choice { n: 2 },
                parent: None,
            },
            Dim {
                name: "kind[1].m".into(),
                dist: Dist::Normal {
                    mean: 0.0,
                    std: 2.0,
                    low: Some(-1.0),
                    high: None,
                    log: false,
                },
                parent: Some(Condition { dim: 2, option: 1 }),
            },
        ])
        .unwrap()
    }

    #[test]
    fn rows_round_trip_through_the_unit_cube() {
        let s = space();
        let row = vec![1e-3, 5.0, 1.0, 0.7];
        let z = from_row(&s, &row);
        let back = to_row(&s, &z);
        assert!((back[0] - 1e-3).abs() < 1e-15);
        assert_eq!(back[1], 5.0);
        assert_eq!(back[2], 1.0);
        assert!((back[3] - 0.7).abs() < 1e-9, "{back:?}");
        // log scale: the middle of the cube is the geometric middle.
        let mid = to_row(&s, &[0.5, 0.5, 0.0, 0.5]);
        assert!((mid[0] - (1e-4f64 * 1e-1).sqrt()).abs() < 1e-12);
        assert!(mid[3].is_nan(), "inactive under option 0");
    }

    #[test]
    fn jacobian_matches_differences() {
        let s = space();
        let z = vec![0.3, 0.4, 1.0, 0.6];
        let jac = jacobian(&s, &z);
        let h = 1e-6;
        let mut zp = z.clone();
        zp[0] += h;
        let d0 = (to_row(&s, &zp)[0] - to_row(&s, &z)[0]) / h;
        assert!((jac[0] - d0).abs() < 1e-4 * d0.abs());
        let mut zp = z.clone();
        zp[3] += h;
        let d3 = (to_row(&s, &zp)[3] - to_row(&s, &z)[3]) / h;
        assert!((jac[3] - d3).abs() < 1e-3 * d3.abs(), "{} vs {d3}", jac[3]);
        assert_eq!(jac[1], 8.0);
        assert_eq!(jac[2], 0.0);
    }
}
