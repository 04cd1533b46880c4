//! Search spaces: a flat list of dimensions, each with a distribution and, for conditional
//! (nested) parameters, the choice and option that make it active.
//!
//! Values are produced in natural units from one uniform draw per dimension, so random and
//! quasi-random (Sobol) sampling share the same transforms.

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::rng::SampleStream;
use crate::sobol::Sobol;
use crate::special::{exp_fast, norm_cdf, norm_ppf_fast};

/// One dimension's distribution, in natural units.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Dist {
    /// Uniform on [low, high], log-uniform with `log`, or uniform over the grid
    /// `low, low + step, ..., high` with `step`.
    Float {
        low: f64,
        high: f64,
        log: bool,
        step: Option<f64>,
    },
    /// Uniform over `low, low + step, ..., high`; with `log`, log-uniform then rounded.
    Int {
        low: i64,
        high: i64,
        log: bool,
        step: i64,
    },
    /// One of `n` options, each equally likely; the value is the option's index.
    Choice { n: usize },
    /// Normal(mean, std), truncated to [low, high] when bounded. With `log`, the logarithm of
    /// the value is normal with this mean and std, and the bounds are in natural units.
    Normal {
        mean: f64,
        std: f64,
        low: Option<f64>,
        high: Option<f64>,
        log: bool,
    },
}

fn finite(arg: &str, v: f64) -> Result<()> {
    if v.is_finite() {
        Ok(())
    } else {
        Err(Error::invalid(arg, v, "must be a finite number"))
    }
}

impl Dist {
    /// Checks the parameters; the error names the bad argument and quotes its value.
    pub fn validate(&self) -> Result<()> {
        match *self {
            Dist::Float {
                low,
                high,
                log,
                step,
            } => {
                finite("low", low)?;
                finite("high", high)?;
                if low >= high {
                    return Err(Error::invalid(
                        "low",
                        format!("low={low}, high={high}"),
                        "low must be less than high",
                    ));
                }
                if log && low <= 0.0 {
                    return Err(Error::invalid("low", low, "a log scale needs low > 0"));
                }
                if !(high - low).is_finite() {
                    // low + u (high - low) would be infinite: every sample would be `high`.
                    return Err(Error::invalid(
                        "high",
                        format!("low={low:?}, high={high:?}"), // 1e308, not 309 digits
                        "high - low must be a finite float64",
                    ));
                }
                if let Some(step) = step {
                    finite("step", step)?;
                    if step <= 0.0 {
                        return Err(Error::invalid("step", step, "step must be positive"));
                    }
                    if log {
                        return Err(Error::invalid(
                            "step",
                            step,
                            "step cannot be combined with log=True",
                        ));
                    }
                    let k = (high - low) / step;
                    if (k - k.round()).abs() > 1e-9 * k.max(1.0) {
                        return Err(Error::invalid(
                            "step",
                            step,
                            format!("step must divide high - low = {}", high - low),
                        ));
                    }
                }
                Ok(())
            }
            Dist::Int {
                low,
                high,
                log,
                step,
            } => {
                if low >= high {
                    return Err(Error::invalid(
                        "low",
                        format!("low={low}, high={high}"),
                        "low must be less than high",
                    ));
                }
                if step <= 0 {
                    return Err(Error::invalid(
                        "step",
                        step,
                        "step must be a positive integer",
                    ));
                }
                if log && low <= 0 {
                    return Err(Error::invalid("low", low, "a log scale needs low >= 1"));
                }
                if log && step != 1 {
                    return Err(Error::invalid("step", step, "log=True needs step=1"));
                }
                let span = (high as i128) - (low as i128);
                if span % (step as i128) != 0 {
                    return Err(Error::invalid(
                        "step",
                        step,
                        format!("step must divide high - low = {span}"),
                    ));
                }
                Ok(())
            }
            Dist::Choice { n } => {
                if n == 0 {
                    Err(Error::invalid(
                        "options",
                        "[]",
                        "a Choice needs at least one option",
                    ))
                } else {
                    Ok(())
                }
            }
            Dist::Normal {
                mean,
                std,
                low,
                high,
                log,
            } => {
                finite("mean", mean)?;
                finite("std", std)?;
                if std <= 0.0 {
                    return Err(Error::invalid("std", std, "std must be positive"));
                }
                if let Some(l) = low {
                    finite("low", l)?;
                    if log && l <= 0.0 {
                        return Err(Error::invalid("low", l, "a log scale needs low > 0"));
                    }
                }
                if let Some(h) = high {
                    finite("high", h)?;
                    if log && h <= 0.0 {
                        return Err(Error::invalid("high", h, "a log scale needs high > 0"));
                    }
                }
                if let (Some(l), Some(h)) = (low, high) {
                    if l >= h {
                        return Err(Error::invalid(
                            "low",
                            format!("low={l}, high={h}"),
                            "low must be less than high",
                        ));
                    }
                }
                // The truncated mass must be representable, or sampling degenerates.
                let (pa, pb) = normal_mass(mean, std, low, high, log);
                if pb - pa <= 0.0 || pb.is_nan() || pa.is_nan() {
                    let show = |b: Option<f64>| b.map_or("None".to_string(), |v| v.to_string());
                    return Err(Error::invalid(
                        "low",
                        format!("low={}, high={}", show(low), show(high)),
                        "the bounds leave no probability mass under the normal",
                    ));
                }
                Ok(())
            }
        }
    }

    /// The lowest and highest values the distribution can produce, in natural units.
    pub fn bounds(&self) -> (f64, f64) {
        match *self {
            Dist::Float { low, high, .. } => (low, high),
            Dist::Int { low, high, .. } => (low as f64, high as f64),
            Dist::Choice { n } => (0.0, (n - 1) as f64),
            Dist::Normal { low, high, log, .. } => {
                let lo = low.unwrap_or(if log { 0.0 } else { f64::NEG_INFINITY });
                (lo, high.unwrap_or(f64::INFINITY))
            }
        }
    }
}

/// For a normal truncated to [low, high], the probabilities (pa, pb) of the bounds, measured
/// from the lower tail, or from the upper tail (negated) when the interval lies above the
/// mean, where the lower-tail values would lose precision.
fn normal_mass(mean: f64, std: f64, low: Option<f64>, high: Option<f64>, log: bool) -> (f64, f64) {
    let z = |v: Option<f64>, inf: f64| match v {
        Some(v) if log => (v.ln() - mean) / std,
        Some(v) => (v - mean) / std,
        None => inf,
    };
    let (a, b) = (z(low, f64::NEG_INFINITY), z(high, f64::INFINITY));
    if a > 0.0 {
        (norm_cdf(-b), norm_cdf(-a))
    } else {
        (norm_cdf(a), norm_cdf(b))
    }
}

/// A distribution with its constants worked out, ready to turn uniforms into values.
#[derive(Clone, Debug)]
enum Prepared {
    Linear {
        low: f64,
        width: f64,
        high: f64,
    },
    Log {
        ln_low: f64,
        ln_width: f64,
        low: f64,
        high: f64,
    },
    Steps {
        low: f64,
        step: f64,
        count: f64,
        high: f64,
    },
    /// `Steps` with `count >= 2^62`, beyond what `trunc_nonneg` converts: floors instead.
    WideSteps {
        low: f64,
        step: f64,
        count: f64,
        high: f64,
    },
    IntLog {
        ln_low: f64,
        ln_width: f64,
        low: f64,
        high: f64,
    },
    Choice {
        n: f64,
    },
    Normal {
        mean: f64,
        std: f64,
        pa: f64,
        width: f64,
        upper: bool,
        log: bool,
        low: f64,
        high: f64,
    },
}

impl Prepared {
    fn new(dist: &Dist) -> Self {
        match *dist {
            Dist::Float {
                low,
                high,
                log: false,
                step: None,
            } => Prepared::Linear {
                low,
                width: high - low,
                high,
            },
            Dist::Float {
                low,
                high,
                log: true,
                ..
            } => Prepared::Log {
                ln_low: low.ln(),
                ln_width: high.ln() - low.ln(),
                low,
                high,
            },
            Dist::Float {
                low,
                high,
                step: Some(step),
                ..
            } => Prepared::steps(low, step, ((high - low) / step).round() + 1.0, high),
            Dist::Int {
                low,
                high,
                log: false,
                step,
            } => Prepared::steps(
                low as f64,
                step as f64,
                // In i128: high - low overflows i64 when the range spans more than 2^63.
                ((high as i128 - low as i128) / step as i128 + 1) as f64,
                high as f64,
            ),
            Dist::Int {
                low,
                high,
                log: true,
                ..
            } => {
                let (lo, hi) = (low as f64 - 0.5, high as f64 + 0.5);
                Prepared::IntLog {
                    ln_low: lo.ln(),
                    ln_width: hi.ln() - lo.ln(),
                    low: low as f64,
                    high: high as f64,
                }
            }
            Dist::Choice { n } => Prepared::Choice { n: n as f64 },
            Dist::Normal {
                mean,
                std,
                low,
                high,
                log,
            } => {
                let (pa, pb) = normal_mass(mean, std, low, high, log);
                let z_low = low.map(|l| if log { l.ln() } else { l });
                Prepared::Normal {
                    mean,
                    std,
                    pa,
                    width: pb - pa,
                    upper: z_low.is_some_and(|l| (l - mean) / std > 0.0),
                    log,
                    low: low.unwrap_or(f64::NEG_INFINITY),
                    high: high.unwrap_or(f64::INFINITY),
                }
            }
        }
    }

    fn steps(low: f64, step: f64, count: f64, high: f64) -> Self {
        if count < TRUNC_LIMIT {
            Prepared::Steps {
                low,
                step,
                count,
                high,
            }
        } else {
            Prepared::WideSteps {
                low,
                step,
                count,
                high,
            }
        }
    }

    /// The value for a uniform draw `u` in (0, 1).
    #[inline]
    fn value(&self, u: f64) -> f64 {
        match *self {
            Prepared::Linear { low, width, high } => (low + u * width).min(high),
            Prepared::Log {
                ln_low,
                ln_width,
                low,
                high,
            } => exp_fast(ln_low + u * ln_width).clamp(low, high),
            Prepared::Steps {
                low,
                step,
                count,
                high,
            } => (low + trunc_nonneg(u * count).min(count - 1.0) * step).min(high),
            Prepared::WideSteps {
                low,
                step,
                count,
                high,
            } => (low + (u * count).floor().min(count - 1.0) * step).min(high),
            Prepared::IntLog {
                ln_low,
                ln_width,
                low,
                high,
            } => trunc_nonneg(exp_fast(ln_low + u * ln_width) + 0.5).clamp(low, high),
            Prepared::Choice { n } => trunc_nonneg(u * n).min(n - 1.0),
            Prepared::Normal {
                mean,
                std,
                pa,
                width,
                upper,
                log,
                low,
                high,
            } => {
                let p = pa + u * width;
                let z = if upper {
                    -norm_ppf_fast(p)
                } else {
                    norm_ppf_fast(p)
                };
                let x = mean + std * z;
                let x = if log { exp_fast(x) } else { x };
                x.clamp(low, high)
            }
        }
    }
}

/// Counts of steps from here on are sampled with `floor`, not `trunc_nonneg`.
const TRUNC_LIMIT: f64 = 4_611_686_018_427_387_904.0; // 2^62

/// `x.floor()` for `0 <= x < 2^63`, as two signed conversions: without SSE4.1, `floor` is
/// a call, and unsigned conversions take several instructions.
#[inline]
fn trunc_nonneg(x: f64) -> f64 {
    (x as i64) as f64
}

/// Which option of which choice a conditional dimension depends on.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Condition {
    /// Index of the `Choice` dimension.
    pub dim: usize,
    /// Index of the option that activates the dependent dimension.
    pub option: usize,
}

/// One named dimension of a space.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Dim {
    pub name: String,
    pub dist: Dist,
    pub parent: Option<Condition>,
}

/// How sample points are spread over the unit cube before the transforms.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Sequence {
    /// Independent uniforms from the counter-based generator.
    Random,
    /// Scrambled Sobol points (quasi-random).
    Sobol,
}

impl Sequence {
    /// Parses the user's `sequence=` argument.
    pub fn parse(name: &str) -> Result<Self> {
        match name {
            "random" => Ok(Sequence::Random),
            "sobol" => Ok(Sequence::Sobol),
            other => Err(Error::invalid(
                "sequence",
                format!("{other:?}"),
                "expected \"random\" or \"sobol\"",
            )),
        }
    }
}

/// A validated search space.
#[derive(Clone, Debug)]
pub struct Space {
    dims: Vec<Dim>,
    prepared: Vec<Prepared>,
}

/// Rows per parallel work unit: large enough to amortise scheduling, small enough to balance.
const CHUNK_ROWS: usize = 4096;

impl Space {
    /// Validates the dimensions: each distribution, unique names, and conditions that point
    /// at an earlier `Choice` and one of its options.
    pub fn new(dims: Vec<Dim>) -> Result<Self> {
        let mut seen = std::collections::HashSet::new();
        for (j, dim) in dims.iter().enumerate() {
            dim.dist.validate().map_err(|e| match e {
                Error::InvalidArgument { arg, value, reason } => Error::InvalidArgument {
                    arg: format!("{} ({arg})", dim.name),
                    value,
                    reason,
                },
                other => other,
            })?;
            if !seen.insert(dim.name.as_str()) {
                return Err(Error::invalid(
                    "space",
                    &dim.name,
                    "duplicate parameter name",
                ));
            }
            if let Some(c) = dim.parent {
                let ok =
                    c.dim < j && matches!(dims[c.dim].dist, Dist::Choice { n } if c.option < n);
                if !ok {
                    return Err(Error::invalid(
                        "space",
                        &dim.name,
                        "a condition must name an earlier Choice and one of its options",
                    ));
                }
            }
        }
        let prepared = dims.iter().map(|d| Prepared::new(&d.dist)).collect();
        Ok(Space { dims, prepared })
    }

    /// The dimensions, in column order.
    pub fn dims(&self) -> &[Dim] {
        &self.dims
    }

    /// Number of dimensions (columns of a sample array).
    pub fn len(&self) -> usize {
        self.dims.len()
    }

    /// Whether the space has no dimensions.
    pub fn is_empty(&self) -> bool {
        self.dims.is_empty()
    }

    /// Fills `row` (one value per dimension) from uniforms `u`, with NaN for inactive ones.
    #[inline]
    pub fn transform(&self, u: &[f64], row: &mut [f64]) {
        for (j, (dim, prep)) in self.dims.iter().zip(&self.prepared).enumerate() {
            let active = match dim.parent {
                None => true,
                Some(c) => row[c.dim] == c.option as f64,
            };
            row[j] = if active { prep.value(u[j]) } else { f64::NAN };
        }
    }

    /// Writes sample `index` into `row`.
    pub fn sample_row(&self, seed: u64, sequence: Sequence, index: u64, row: &mut [f64]) {
        let mut u = vec![0.0; self.len()];
        match sequence {
            Sequence::Random => self.uniforms(&SampleStream::new(seed), index, &mut u),
            Sequence::Sobol => Sobol::new(self.len(), seed).point(index, &mut u),
        }
        self.transform(&u, row);
    }

    fn uniforms(&self, stream: &SampleStream, index: u64, u: &mut [f64]) {
        let row = stream.row(index);
        for (pair, x) in u.chunks_mut(2).enumerate() {
            let (a, b) = SampleStream::uniform_pair(row, pair as u64);
            x[0] = a;
            if let Some(second) = x.get_mut(1) {
                *second = b;
            }
        }
    }

    /// Samples `start .. start + n` as a row-major `n x len()` array, in parallel.
    pub fn sample_array(&self, n: usize, seed: u64, sequence: Sequence, start: u64) -> Vec<f64> {
        let mut out = vec![0.0; n * self.len()];
        self.sample_into(&mut out, seed, sequence, start);
        out
    }

    /// Fills `out` (row-major, a whole number of rows) with samples `start, start + 1, ...`.
    ///
    /// Works block by block in parallel. Within a block, one pass writes the uniforms, then
    /// each column is transformed in its own loop (the distribution's `match` hoisted out of
    /// the inner loop), then conditional columns are masked in column order, so that a
    /// dimension under an inactive parent is inactive too.
    pub fn sample_into(&self, out: &mut [f64], seed: u64, sequence: Sequence, start: u64) {
        let d = self.len();
        if d == 0 {
            return;
        }
        let sobol = matches!(sequence, Sequence::Sobol).then(|| Sobol::new(d, seed));
        let stream = SampleStream::new(seed);
        out.par_chunks_mut(CHUNK_ROWS * d)
            .enumerate()
            .for_each(|(c, block)| {
                let first = start + (c * CHUNK_ROWS) as u64;
                match &sobol {
                    None => {
                        for (r, row) in block.chunks_exact_mut(d).enumerate() {
                            self.uniforms(&stream, first + r as u64, row);
                        }
                    }
                    Some(sobol) => {
                        let mut walker = sobol.walker(first);
                        for row in block.chunks_exact_mut(d) {
                            walker.next_into(row);
                        }
                    }
                }
                for (j, prep) in self.prepared.iter().enumerate() {
                    prep.apply_column(block, j, d);
                }
                for (j, dim) in self.dims.iter().enumerate() {
                    if let Some(cond) = dim.parent {
                        let option = cond.option as f64;
                        for row in block.chunks_exact_mut(d) {
                            if row[cond.dim] != option {
                                row[j] = f64::NAN;
                            }
                        }
                    }
                }
            });
    }
}

impl Prepared {
    /// Replaces the uniforms in column `j` of a row-major block of width `d` by values.
    fn apply_column(&self, block: &mut [f64], j: usize, d: usize) {
        // One loop per kind: the compiler sees a straight-line body it can unroll.
        macro_rules! each {
            (|$u:ident| $body:expr) => {
                for row in block.chunks_exact_mut(d) {
                    let $u = row[j];
                    row[j] = $body;
                }
            };
        }
        match *self {
            Prepared::Linear { low, width, high } => each!(|u| (low + u * width).min(high)),
            Prepared::Choice { n } => each!(|u| trunc_nonneg(u * n).min(n - 1.0)),
            Prepared::Steps {
                low,
                step,
                count,
                high,
            } => {
                each!(|u| (low + trunc_nonneg(u * count).min(count - 1.0) * step).min(high))
            }
            Prepared::Log {
                ln_low,
                ln_width,
                low,
                high,
            } => {
                each!(|u| exp_fast(ln_low + u * ln_width).clamp(low, high))
            }
            _ => each!(|u| self.value(u)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dim(name: &str, dist: Dist) -> Dim {
        Dim {
            name: name.into(),
            dist,
            parent: None,
        }
    }

    fn mixed() -> Space {
        Space::new(vec![
            dim(
                "lr",
                Dist::Float {
                    low: 1e-5,
                    high: 1e-1,
                    log: true,
                    step: None,
                },
            ),
            dim(
                "width",
                Dist::Int {
                    low: 16,
                    high: 512,
                    log: true,
                    step: 1,
                },
            ),
            dim(
                "layers",
                Dist::Int {
                    low: 1,
                    high: 9,
                    log: false,
                    step: 2,
                },
            ),
            dim("act", Dist::Choice { n: 3 }),
            dim(
                "init",
                Dist::Normal {
                    mean: 0.0,
                    std: 1.0,
                    low: Some(1.5),
                    high: Some(9.0),
                    log: false,
                },
            ),
            dim(
                "drop",
                Dist::Float {
                    low: 0.0,
                    high: 0.5,
                    log: false,
                    step: Some(0.1),
                },
            ),
        ])
        .unwrap()
    }

    #[test]
    fn samples_respect_bounds_and_steps() {
        let space = mixed();
        for seq in [Sequence::Random, Sequence::Sobol] {
            let a = space.sample_array(5000, 7, seq, 0);
            for row in a.chunks(space.len()) {
                assert!((1e-5..=1e-1).contains(&row[0]));
                assert!((16.0..=512.0).contains(&row[1]) && row[1].fract() == 0.0);
                assert!([1.0, 3.0, 5.0, 7.0, 9.0].contains(&row[2]));
                assert!([0.0, 1.0, 2.0].contains(&row[3]));
                assert!((1.5..=9.0).contains(&row[4]));
                let k = row[5] / 0.1;
                assert!((k - k.round()).abs() < 1e-9 && row[5] <= 0.5);
            }
        }
    }

    #[test]
    fn array_rows_equal_single_rows() {
        let space = mixed();
        for seq in [Sequence::Random, Sequence::Sobol] {
            let a = space.sample_array(10_000, 3, seq, 100);
            let mut row = vec![0.0; space.len()];
            for i in [0usize, 1, 4095, 4096, 9999] {
                space.sample_row(3, seq, 100 + i as u64, &mut row);
                assert_eq!(&a[i * space.len()..(i + 1) * space.len()], &row[..]);
            }
        }
    }

    #[test]
    fn truncated_normal_in_far_tail() {
        let space = Space::new(vec![dim(
            "x",
            Dist::Normal {
                mean: 0.0,
                std: 1.0,
                low: Some(8.0),
                high: Some(8.5),
                log: false,
            },
        )])
        .unwrap();
        let a = space.sample_array(1000, 1, Sequence::Random, 0);
        assert!(a.iter().all(|v| (8.0..=8.5).contains(v)));
        let mean = a.iter().sum::<f64>() / 1000.0;
        assert!(
            mean < 8.2,
            "mass concentrates near the lower bound, mean {mean}"
        );
    }

    #[test]
    fn conditional_dimensions_are_nan_when_inactive() {
        let space = Space::new(vec![
            dim("model", Dist::Choice { n: 2 }),
            Dim {
                name: "model[0].c".into(),
                dist: Dist::Float {
                    low: 0.0,
                    high: 1.0,
                    log: false,
                    step: None,
                },
                parent: Some(Condition { dim: 0, option: 0 }),
            },
        ])
        .unwrap();
        let a = space.sample_array(200, 0, Sequence::Random, 0);
        for row in a.chunks(2) {
            assert_eq!(row[0] == 0.0, !row[1].is_nan());
        }
    }

    #[test]
    fn bad_distributions_are_rejected() {
        let bad = [
            Dist::Float {
                low: 1.0,
                high: 1.0,
                log: false,
                step: None,
            },
            Dist::Float {
                low: 0.0,
                high: 1.0,
                log: true,
                step: None,
            },
            Dist::Float {
                low: 0.0,
                high: 1.0,
                log: false,
                step: Some(0.3),
            },
            Dist::Float {
                low: f64::NAN,
                high: 1.0,
                log: false,
                step: None,
            },
            Dist::Int {
                low: 0,
                high: 10,
                log: true,
                step: 1,
            },
            Dist::Int {
                low: 0,
                high: 10,
                log: false,
                step: 3,
            },
            Dist::Choice { n: 0 },
            Dist::Normal {
                mean: 0.0,
                std: 0.0,
                low: None,
                high: None,
                log: false,
            },
            Dist::Normal {
                mean: 0.0,
                std: 1.0,
                low: Some(50.0),
                high: Some(51.0),
                log: false,
            },
        ];
        for d in bad {
            assert!(
                matches!(d.validate(), Err(Error::InvalidArgument { .. })),
                "{d:?}"
            );
        }
    }
}
