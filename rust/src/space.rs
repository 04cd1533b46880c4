//! Search spaces: a flat list of dimensions, each with a distribution and, for conditional
//! (nested) parameters, the choice and option that make it active.
//!
//! Values are produced in natural units from one uniform draw per dimension, so random and
//! quasi-random (Sobol) sampling share the same transforms.

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::rng::{unit32, SampleStream};
use crate::sobol::{Sobol, SobolWalker};
use crate::special::{exp_fast, norm_cdf, norm_ppf_central, norm_ppf_tail, ppf_is_central};

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
                    // Allow rounding error in k, and that of `low` and `high` themselves,
                    // which far from zero is coarser than a fraction of a small step.
                    let k = (high - low) / step;
                    let slack =
                        1e-9 * k.max(1.0) + 4.0 * f64::EPSILON * low.abs().max(high.abs()) / step;
                    if (k - k.round()).abs() > slack {
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
            } => Prepared::Steps {
                low,
                step,
                count: ((high - low) / step).round() + 1.0,
                high,
            },
            Dist::Int {
                low,
                high,
                log: false,
                step,
            } => Prepared::Steps {
                low: low as f64,
                step: step as f64,
                // In i128: high - low overflows i64 when the range spans more than 2^63.
                count: ((high as i128 - low as i128) / step as i128 + 1) as f64,
                high: high as f64,
            },
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

    /// Replaces the uniforms in `col` by values; `tmp` is scratch at least as long as `col`.
    #[inline(always)]
    fn apply(&self, col: &mut [f64], tmp: &mut [f64]) {
        // One loop per kind over a contiguous column: a straight-line body, no call and no
        // branch, so the compiler vectorises it.
        macro_rules! each {
            (|$u:ident| $body:expr) => {
                for x in col.iter_mut() {
                    let $u = *x;
                    *x = $body;
                }
            };
        }
        match *self {
            Prepared::Linear { low, width, high } => each!(|u| (low + u * width).min(high)),
            Prepared::Log {
                ln_low,
                ln_width,
                low,
                high,
            } => each!(|u| exp_fast(ln_low + u * ln_width).max(low).min(high)),
            Prepared::Steps {
                low,
                step,
                count,
                high,
            } => {
                each!(|u| (low + floor_nonneg(u * count).min(count - 1.0) * step).min(high))
            }
            Prepared::IntLog {
                ln_low,
                ln_width,
                low,
                high,
            } => {
                each!(|u| floor_nonneg(exp_fast(ln_low + u * ln_width) + 0.5)
                    .max(low)
                    .min(high))
            }
            Prepared::Choice { n } => each!(|u| floor_nonneg(u * n).min(n - 1.0)),
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
                let z = &mut tmp[..col.len()];

                // The central branch for every value (vectorised), then the ~5% in the tails
                // again: a per-value branch and a logarithm would stop the vectoriser.
                for (x, z) in col.iter_mut().zip(z.iter_mut()) {
                    let p = pa + *x * width;
                    *x = p;
                    *z = norm_ppf_central(p);
                }
                for (&p, z) in col.iter().zip(z.iter_mut()) {
                    if !ppf_is_central(p) {
                        *z = norm_ppf_tail(p);
                    }
                }

                // Draws measured from the upper tail are mirrored.
                let scale = if upper { -std } else { std };
                if log {
                    for (x, &z) in col.iter_mut().zip(z.iter()) {
                        *x = exp_fast(mean + scale * z).max(low).min(high);
                    }
                } else {
                    for (x, &z) in col.iter_mut().zip(z.iter()) {
                        *x = (mean + scale * z).max(low).min(high);
                    }
                }
            }
        }
    }
}

/// `x.floor()` for `x >= 0`, exactly, from additions and a comparison: without SSE4.1 a
/// `floor` is a call, and double-to-integer conversions of 64-bit lanes do not vectorise.
#[inline(always)]
fn floor_nonneg(x: f64) -> f64 {
    const TWO52: f64 = 4_503_599_627_370_496.0;
    // Below 2^52, adding and removing 2^52 rounds to the nearest integer; above, x is one.
    let nearest = (x + TWO52) - TWO52;
    let floor = if nearest > x { nearest - 1.0 } else { nearest };
    if x < TWO52 {
        floor
    } else {
        x
    }
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

/// Rows per column-major scratch block: 256 rows of a handful of columns stay in L1.
const BLOCK_ROWS: usize = 256;

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

    /// Checks that `row` (one value per dimension) could have been sampled from this space:
    /// every active value finite and within its bounds, an `Int` a whole number on its step,
    /// a `Choice` the index of one of its options, a stepped `Float` on its grid (to rounding
    /// error). Inactive dimensions (under an option not
    /// chosen) may hold anything. The error is the bad column and why.
    pub fn check_row(&self, row: &[f64]) -> std::result::Result<(), (usize, String)> {
        let mut active = vec![true; self.dims.len()];
        for (j, dim) in self.dims.iter().enumerate() {
            if let Some(c) = &dim.parent {
                active[j] = active[c.dim] && row[c.dim] == c.option as f64;
            }
            if !active[j] {
                continue;
            }
            let x = row[j];
            if !x.is_finite() {
                return Err((j, "must be finite: the parameter is active".into()));
            }
            let within = |low: f64, high: f64| -> std::result::Result<(), (usize, String)> {
                if x < low || x > high {
                    Err((j, format!("must be within [{low}, {high}]")))
                } else {
                    Ok(())
                }
            };
            match dim.dist {
                Dist::Float {
                    low, high, step, ..
                } => {
                    within(low, high)?;
                    if let Some(step) = step {
                        // Grid values are computed (low + k * step), so allow rounding error:
                        // in k, as the step itself was checked, and of a float64 the size of
                        // x, which far from zero can be coarser than a fraction of the step.
                        let k = (x - low) / step;
                        let nearest = (low + k.round() * step).min(high);
                        let slack = 1e-9 * step * k.abs().max(1.0)
                            + 4.0 * f64::EPSILON * x.abs().max(low.abs());
                        if (x - nearest).abs() > slack {
                            return Err((
                                j,
                                format!("must be on the step: {low} plus a multiple of {step}"),
                            ));
                        }
                    }
                }
                Dist::Int {
                    low, high, step, ..
                } => {
                    within(low as f64, high as f64)?;
                    if x.fract() != 0.0 {
                        return Err((j, "must be a whole number (an Int)".into()));
                    }
                    if (x as i128 - low as i128) % step as i128 != 0 {
                        return Err((
                            j,
                            format!("must be on the step: {low} plus a multiple of {step}"),
                        ));
                    }
                }
                Dist::Choice { n } => {
                    if x.fract() != 0.0 || x < 0.0 || x >= n as f64 {
                        return Err((
                            j,
                            format!(
                                "must be an option index, a whole number from 0 to {}",
                                n - 1
                            ),
                        ));
                    }
                }
                Dist::Normal { low, high, log, .. } => {
                    if log && x <= 0.0 {
                        return Err((j, "must be positive (a log-normal value)".into()));
                    }
                    within(
                        low.unwrap_or(f64::NEG_INFINITY),
                        high.unwrap_or(f64::INFINITY),
                    )?;
                }
            }
        }
        Ok(())
    }

    /// The name of dimension `j`.
    pub fn name(&self, j: usize) -> &str {
        &self.dims[j].name
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
    pub fn transform(&self, u: &[f64], row: &mut [f64]) {
        let mut cols = u[..self.len()].to_vec();
        let mut tmp = [0.0];
        self.finish_block(&mut cols, &mut tmp, 1, row);
    }

    /// Writes sample `index` into `row`; the same values as row `index` of [`Space::sample_array`].
    pub fn sample_row(&self, seed: u64, sequence: Sequence, index: u64, row: &mut [f64]) {
        RowSampler::new(self, seed, sequence).sample(self, index, row);
    }

    /// Samples `start .. start + n` as a row-major `n x len()` array, in parallel.
    pub fn sample_array(&self, n: usize, seed: u64, sequence: Sequence, start: u64) -> Vec<f64> {
        let mut out = vec![0.0; n * self.len()];
        self.sample_into(&mut out, seed, sequence, start);
        out
    }

    /// Fills `out` (row-major, a whole number of rows) with samples `start, start + 1, ...`,
    /// in parallel chunks of rows. Each row depends only on the seed and its index.
    pub fn sample_into(&self, out: &mut [f64], seed: u64, sequence: Sequence, start: u64) {
        let d = self.len();
        if d == 0 {
            return;
        }
        let source = Source::new(d, seed, sequence);
        let stride = (out.len() / d).clamp(1, BLOCK_ROWS);
        out.par_chunks_mut(CHUNK_ROWS * d)
            .enumerate()
            .for_each_init(
                || Scratch::new(d, stride),
                |scratch, (c, chunk)| {
                    let first = start + (c * CHUNK_ROWS) as u64;
                    self.fill_rows(chunk, first, &source, scratch);
                },
            );
    }

    /// Fills consecutive rows from sample `first` on, with the widest kernel the CPU runs.
    fn fill_rows(&self, out: &mut [f64], first: u64, source: &Source, scratch: &mut Scratch) {
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx512f")
            && std::arch::is_x86_feature_detected!("avx512dq")
        {
            // SAFETY: the CPU supports AVX-512F and DQ, checked just above.
            unsafe { self.fill_rows_avx512(out, first, source, scratch) };
            return;
        }
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU supports AVX2, checked just above.
            unsafe { self.fill_rows_avx2(out, first, source, scratch) };
            return;
        }
        self.fill_rows_generic(out, first, source, scratch);
    }

    /// [`Space::fill_rows_generic`] compiled for AVX2 (four doubles per instruction). No FMA:
    /// every operation rounds as in the generic build, so the values are bit for bit the same
    /// on every x86-64 CPU.
    ///
    /// TODO: this kernel needs about 1.6x the time of the AVX-512 one (12 against 7.5 ms per
    /// million 5-dimensional rows on one core): AVX2 has no 64-bit multiply, so each SplitMix64
    /// mix costs several 32-bit multiplies, and the row copy-out is scalar. A generator built
    /// on 32-bit multiplies (changing the stream) and a 4x4 transpose in registers would
    /// close most of the gap.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    fn fill_rows_avx2(&self, out: &mut [f64], first: u64, source: &Source, scratch: &mut Scratch) {
        self.fill_rows_generic(out, first, source, scratch);
    }

    /// [`Space::fill_rows_generic`] compiled for AVX-512 (eight doubles per instruction, and
    /// 64-bit multiplies for the generator's mixing), again without FMA.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f,avx512dq")]
    fn fill_rows_avx512(
        &self,
        out: &mut [f64],
        first: u64,
        source: &Source,
        scratch: &mut Scratch,
    ) {
        self.fill_rows_generic(out, first, source, scratch);
    }

    /// Works through `out` block by block: uniforms written column-major into the scratch,
    /// each column transformed in one contiguous pass, conditional columns masked, and the
    /// block copied out as rows.
    #[inline(always)]
    fn fill_rows_generic(
        &self,
        out: &mut [f64],
        first: u64,
        source: &Source,
        scratch: &mut Scratch,
    ) {
        let d = self.len();
        let stride = scratch.stride;
        let mut cursor = match source {
            Source::Sobol(sobol) => Cursor::Sobol(sobol.walker(first)),
            Source::Random(stream) => Cursor::Random(*stream),
        };
        // Blocks of `stride` rows, so that each column pass runs over L1-resident scratch.
        for (b, block) in out.chunks_mut(stride * d).enumerate() {
            let rows = block.len() / d;
            let cols = &mut scratch.cols[..];
            match &mut cursor {
                Cursor::Sobol(walker) => walker.next_columns(cols, stride, rows),
                Cursor::Random(stream) => {
                    let keys = &mut scratch.keys[..rows];
                    let block_first = first + (b * stride) as u64;
                    for (r, key) in keys.iter_mut().enumerate() {
                        *key = stream.row(block_first + r as u64);
                    }
                    // Two columns per 64-bit mix: its high half, then its low half.
                    for (pair, two) in cols.chunks_mut(2 * stride).enumerate() {
                        let (hi, lo) = two.split_at_mut(stride);
                        if lo.is_empty() {
                            for (x, &key) in hi[..rows].iter_mut().zip(keys.iter()) {
                                let bits = SampleStream::pair_bits(key, pair as u64);
                                *x = unit32((bits >> 32) as u32);
                            }
                        } else {
                            let lo = &mut lo[..rows];
                            for ((x, y), &key) in hi[..rows].iter_mut().zip(lo).zip(keys.iter()) {
                                let bits = SampleStream::pair_bits(key, pair as u64);
                                *x = unit32((bits >> 32) as u32);
                                *y = unit32(bits as u32);
                            }
                        }
                    }
                }
            }
            self.finish_block(&mut scratch.cols, &mut scratch.tmp, stride, block);
        }
    }

    /// Turns column-major uniforms (column j at `cols[j * stride..]`, `out.len() / d` rows)
    /// into values and writes them to `out` as rows. Conditional columns are masked in column
    /// order, so a dimension under an inactive parent is inactive too.
    #[inline(always)]
    fn finish_block(&self, cols: &mut [f64], tmp: &mut [f64], stride: usize, out: &mut [f64]) {
        let d = self.len();
        let rows = out.len() / d;

        for (j, prep) in self.prepared.iter().enumerate() {
            prep.apply(&mut cols[j * stride..j * stride + rows], tmp);
        }

        for (j, dim) in self.dims.iter().enumerate() {
            if let Some(cond) = dim.parent {
                // The parent is an earlier column (checked in `Space::new`).
                let (before, rest) = cols.split_at_mut(j * stride);
                let parent = &before[cond.dim * stride..cond.dim * stride + rows];
                let option = cond.option as f64;
                for (x, &p) in rest[..rows].iter_mut().zip(parent) {
                    *x = if p == option { *x } else { f64::NAN };
                }
            }
        }

        // Rows out: unrolled for the common widths, where a loop over d would cost more than
        // the copy itself.
        match d {
            1 => rows_out::<1>(cols, stride, out),
            2 => rows_out::<2>(cols, stride, out),
            3 => rows_out::<3>(cols, stride, out),
            4 => rows_out::<4>(cols, stride, out),
            5 => rows_out::<5>(cols, stride, out),
            6 => rows_out::<6>(cols, stride, out),
            7 => rows_out::<7>(cols, stride, out),
            8 => rows_out::<8>(cols, stride, out),
            _ => {
                for (r, row) in out.chunks_exact_mut(d).enumerate() {
                    for (j, x) in row.iter_mut().enumerate() {
                        *x = cols[j * stride + r];
                    }
                }
            }
        }
    }
}

/// Copies `out.len() / D` rows of `D` columns (column j at `cols[j * stride..]`) into `out`.
#[inline(always)]
fn rows_out<const D: usize>(cols: &[f64], stride: usize, out: &mut [f64]) {
    let rows = out.len() / D;
    let cols: [&[f64]; D] = std::array::from_fn(|j| &cols[j * stride..j * stride + rows]);
    for (r, row) in out.chunks_exact_mut(D).enumerate() {
        for j in 0..D {
            row[j] = cols[j][r];
        }
    }
}

/// Samples single rows of one space under one (seed, sequence), keeping its buffers and its
/// source (a Sobol source costs tables to set up) from row to row: a searcher asks for one row
/// per trial.
pub struct RowSampler {
    seed: u64,
    sequence: Sequence,
    source: Source,
    scratch: Scratch,
}

impl RowSampler {
    pub fn new(space: &Space, seed: u64, sequence: Sequence) -> Self {
        RowSampler {
            seed,
            sequence,
            source: Source::new(space.len(), seed, sequence),
            scratch: Scratch::new(space.len(), 1),
        }
    }

    /// Whether this sampler draws under `seed` and `sequence`.
    pub fn draws(&self, seed: u64, sequence: Sequence) -> bool {
        self.seed == seed && self.sequence == sequence
    }

    /// Sample `index` of `space` (the space this sampler was made for) into `row[..d]`.
    pub fn sample(&mut self, space: &Space, index: u64, row: &mut [f64]) {
        if space.is_empty() {
            return;
        }
        space.fill_rows(
            &mut row[..space.len()],
            index,
            &self.source,
            &mut self.scratch,
        );
    }
}

/// Where a space's uniforms come from.
enum Source {
    Random(SampleStream),
    Sobol(Sobol),
}

impl Source {
    fn new(d: usize, seed: u64, sequence: Sequence) -> Self {
        match sequence {
            Sequence::Random => Source::Random(SampleStream::new(seed)),
            Sequence::Sobol => Source::Sobol(Sobol::new(d, seed)),
        }
    }
}

/// A source positioned at the first row of a run of rows.
enum Cursor<'a> {
    Random(SampleStream),
    Sobol(SobolWalker<'a>),
}

/// Column-major buffers for one block of `stride` rows, reused from block to block.
struct Scratch {
    stride: usize,
    cols: Vec<f64>,
    tmp: Vec<f64>,
    keys: Vec<u64>,
}

impl Scratch {
    fn new(d: usize, stride: usize) -> Self {
        Scratch {
            stride,
            cols: vec![0.0; d * stride],
            tmp: vec![0.0; stride],
            keys: vec![0; stride],
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
    fn check_row_accepts_samples_and_names_the_column_of_a_bad_value() {
        let space = Space::new(vec![
            Dim {
                name: "c".into(),
                dist: Dist::Choice { n: 2 },
                parent: None,
            },
            Dim {
                name: "x".into(),
                dist: Dist::Float {
                    low: 0.0,
                    high: 1.0,
                    log: false,
                    step: None,
                },
                parent: Some(Condition { dim: 0, option: 1 }),
            },
            Dim {
                name: "k".into(),
                dist: Dist::Int {
                    low: 2,
                    high: 10,
                    log: false,
                    step: 2,
                },
                parent: None,
            },
            Dim {
                name: "s".into(),
                dist: Dist::Float {
                    low: 0.1,
                    high: 0.9,
                    log: false,
                    step: Some(0.1),
                },
                parent: None,
            },
        ])
        .unwrap();
        let mut row = vec![0.0; 4];
        for i in 0..200 {
            space.sample_row(7, Sequence::Random, i, &mut row);
            assert_eq!(space.check_row(&row), Ok(()), "sample {i}: {row:?}");
        }
        // x is inactive under option 0: anything goes there, NaN included.
        assert_eq!(space.check_row(&[0.0, 5.0, 4.0, 0.3]), Ok(()));
        assert_eq!(space.check_row(&[0.0, f64::NAN, 4.0, 0.1 * 3.0]), Ok(()));
        let column = |row: &[f64]| space.check_row(row).unwrap_err().0;
        assert_eq!(column(&[1.0, 5.0, 4.0, 0.3]), 1); // active and out of bounds
        assert_eq!(column(&[1.0, f64::NAN, 4.0, 0.3]), 1);
        assert_eq!(column(&[2.0, 0.5, 4.0, 0.3]), 0); // no option 2
        assert_eq!(column(&[0.5, 0.5, 4.0, 0.3]), 0);
        assert_eq!(column(&[0.0, 0.5, 5.0, 0.3]), 2); // off the step
        assert_eq!(column(&[0.0, 0.5, 4.5, 0.3]), 2);
        assert_eq!(column(&[0.0, 0.5, 12.0, 0.3]), 2);
        assert_eq!(column(&[0.0, 0.5, 4.0, 0.35]), 3);
        // Far from zero, a sampled grid value is off the exact grid by more than 1e-9 steps.
        let far = Space::new(vec![Dim {
            name: "f".into(),
            dist: Dist::Float {
                low: 1e9,
                high: 1e9 + 1.0,
                log: false,
                step: Some(0.01),
            },
            parent: None,
        }])
        .unwrap();
        let mut one = [0.0];
        for i in 0..200 {
            far.sample_row(7, Sequence::Random, i, &mut one);
            assert_eq!(far.check_row(&one), Ok(()), "sample {i}: {one:?}");
        }
        assert!(far.check_row(&[1e9 + 0.005]).is_err());
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

    /// Every kind of dimension, a log normal and nested conditions, for the kernel tests.
    fn everything() -> Space {
        let mut dims = mixed().dims().to_vec();
        dims.push(dim(
            "scale",
            Dist::Normal {
                mean: -2.0,
                std: 1.5,
                low: Some(1e-3),
                high: None,
                log: true,
            },
        ));
        dims.push(dim("model", Dist::Choice { n: 2 }));
        dims.push(Dim {
            name: "model[1].kind".into(),
            dist: Dist::Choice { n: 3 },
            parent: Some(Condition { dim: 7, option: 1 }),
        });
        dims.push(Dim {
            name: "model[1].kind[2].c".into(),
            dist: Dist::Float {
                low: 0.5,
                high: 2.0,
                log: true,
                step: None,
            },
            parent: Some(Condition { dim: 8, option: 2 }),
        });
        Space::new(dims).unwrap()
    }

    #[test]
    fn rows_do_not_depend_on_n_start_or_block() {
        let space = everything();
        let d = space.len();
        for seq in [Sequence::Random, Sequence::Sobol] {
            let whole = space.sample_array(9000, 5, seq, 0);
            for (n, start) in [
                (1usize, 0u64),
                (3, 255),
                (300, 250),
                (5000, 4000),
                (17, 8190),
            ] {
                let part = space.sample_array(n, 5, seq, start);
                let at = start as usize * d;
                assert_eq!(
                    part.iter().map(|x| x.to_bits()).collect::<Vec<_>>(),
                    whole[at..at + n * d]
                        .iter()
                        .map(|x| x.to_bits())
                        .collect::<Vec<_>>(),
                    "{seq:?} n={n} start={start}"
                );
            }
        }
    }

    #[test]
    fn every_kernel_gives_the_same_bits() {
        // The dispatched kernel (AVX-512 or AVX2 where the CPU has them) against the one
        // compiled for the baseline instruction set.
        let space = everything();
        let d = space.len();
        for seq in [Sequence::Random, Sequence::Sobol] {
            let source = Source::new(d, 9, seq);
            let n = 1000;
            let (mut a, mut b) = (vec![0.0; n * d], vec![0.0; n * d]);
            space.fill_rows(&mut a, 77, &source, &mut Scratch::new(d, BLOCK_ROWS));
            space.fill_rows_generic(&mut b, 77, &source, &mut Scratch::new(d, BLOCK_ROWS));
            for (i, (x, y)) in a.iter().zip(&b).enumerate() {
                assert_eq!(x.to_bits(), y.to_bits(), "{seq:?} value {i}");
            }
        }
    }

    #[test]
    fn nested_conditions_and_log_normal() {
        let space = everything();
        let a = space.sample_array(20_000, 2, Sequence::Random, 0);
        let mut active_c = 0;
        for row in a.chunks(space.len()) {
            assert!(row[6] >= 1e-3 && row[6].is_finite());
            assert_eq!(row[8].is_nan(), row[7] != 1.0);
            let c_active = row[8] == 2.0;
            assert_eq!(!row[9].is_nan(), c_active);
            if c_active {
                assert!((0.5..=2.0).contains(&row[9]));
                active_c += 1;
            }
        }
        // P(model = 1) * P(kind = 2) = 1/6.
        let share = active_c as f64 / 20_000.0;
        assert!((share - 1.0 / 6.0).abs() < 0.015, "share {share}");
    }

    #[test]
    fn transform_matches_sampling() {
        let space = everything();
        let d = space.len();
        let stream = SampleStream::new(4);
        let a = space.sample_array(50, 4, Sequence::Random, 0);
        let (mut u, mut row) = (vec![0.0; d], vec![0.0; d]);
        for i in 0..50u64 {
            for (j, x) in u.iter_mut().enumerate() {
                let (hi, lo) = SampleStream::uniform_pair(stream.row(i), j as u64 / 2);
                *x = if j % 2 == 0 { hi } else { lo };
            }
            space.transform(&u, &mut row);
            let expect = &a[i as usize * d..(i as usize + 1) * d];
            assert!(row
                .iter()
                .zip(expect)
                .all(|(x, y)| x.to_bits() == y.to_bits()));
        }
    }

    #[test]
    fn floor_nonneg_is_floor() {
        let cases = [
            0.0,
            0.25,
            0.5,
            0.999_999_999,
            1.0,
            1.5,
            2.5,
            3.499,
            495.999,
            1e15 + 0.5,
        ];
        for x in cases
            .into_iter()
            .chain((0..10_000).map(|k| k as f64 * 0.0371))
        {
            assert_eq!(floor_nonneg(x), x.floor(), "x={x}");
        }
        for x in [4_503_599_627_370_496.0, 9.1e15, 1e300] {
            assert_eq!(floor_nonneg(x), x);
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
