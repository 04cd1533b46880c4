//! Gradient search: conjugate-gradient descents with line searches, as ask/tell state
//! machines, restarted from quasi-random points.
//!
//! * [`linesearch`]: the Moré-Thuente strong-Wolfe search and a noise-tolerant backtracking
//!   search, each a state machine that names step lengths and is told values.
//! * [`descent`]: one conjugate-gradient descent (beta rules PR+, HS+, Hager-Zhang,
//!   Fletcher-Reeves) with the line search inside it, finite differences when no gradient is
//!   told, and box bounds.
//! * [`MultiStart`]: descents one after another, each from a point of a scrambled Sobol
//!   sequence, over a layout that may hold categorical dimensions (fixed within a descent,
//!   re-drawn at a restart) and conditional ones (varied only while active).
//!
//! `ferrotune.minimize` and `ferrotune.GradientSearch` both drive [`MultiStart`], so feeding
//! the values `minimize` recorded to the searcher reproduces the same points.
//!
//! Bounds: a line never leaves the box; it ends at the first bound it meets. Coordinates on a
//! bound whose direction points outwards are held there (their direction component is zero),
//! and the conjugate sequence restarts whenever the set of coordinates on a bound changes.

pub mod descent;
pub mod linesearch;
pub mod noise;
pub mod unit;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::rng::Philox;
use crate::sobol::Sobol;
pub use descent::{Counts, Descent, Eval, Kind};

/// The conjugate-gradient update rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Beta {
    /// Polak-Ribière with beta clipped at 0 (scipy's rule).
    #[serde(rename = "pr+")]
    PrPlus,
    /// Hestenes-Stiefel clipped at 0.
    #[serde(rename = "hs+")]
    HsPlus,
    /// Hager-Zhang (CG_DESCENT) with its lower bound.
    #[serde(rename = "hz")]
    Hz,
    /// Fletcher-Reeves.
    #[serde(rename = "fr")]
    Fr,
}

impl Beta {
    /// Parses the user's `beta=` argument.
    pub fn parse(name: &str) -> Result<Self> {
        match name {
            "pr+" => Ok(Beta::PrPlus),
            "hs+" => Ok(Beta::HsPlus),
            "hz" => Ok(Beta::Hz),
            "fr" => Ok(Beta::Fr),
            other => Err(Error::invalid(
                "beta",
                format!("{other:?}"),
                "expected one of \"pr+\", \"hs+\", \"hz\", \"fr\"",
            )),
        }
    }
}

/// Finite-difference scheme.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Difference {
    /// n evaluations per gradient (the value at the point is reused).
    Forward,
    /// 2n evaluations per gradient, second-order accurate.
    Central,
}

/// Why a descent stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stop {
    Converged,
    NoiseLevel,
    MaxIter,
    MaxEvals,
    LineSearch,
    NonFinite,
    NonFiniteStart,
    Internal,
}

impl Stop {
    /// Whether the stop counts as success.
    pub fn success(self) -> bool {
        matches!(self, Stop::Converged | Stop::NoiseLevel)
    }

    /// A message for users.
    pub fn message(self) -> &'static str {
        match self {
            Stop::Converged => "converged: the projected gradient is below tol",
            Stop::NoiseLevel => {
                "converged to the noise level: no step decreases the objective by more than \
                 its noise, even with wider finite-difference steps"
            }
            Stop::MaxIter => "stopped: the iteration limit was reached",
            Stop::MaxEvals => "stopped: the evaluation budget (max_evals) was reached",
            Stop::LineSearch => {
                "stopped: the line search found no lower point along steepest descent \
                 (precision loss; the gradient may be inaccurate)"
            }
            Stop::NonFinite => {
                "stopped: the objective or its gradient was not finite around the current \
                 point, on both sides"
            }
            Stop::NonFiniteStart => "stopped: the objective was not finite at the start",
            Stop::Internal => "stopped: internal error (please report it)",
        }
    }
}

/// Options of a descent.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Options {
    pub beta: Beta,
    /// Stop when the largest projected gradient component is at most this.
    pub gtol: f64,
    /// Iteration limit of one descent.
    pub max_iter: u64,
    /// Evaluation limit (values and gradient-only evaluations together).
    pub max_evals: Option<u64>,
    pub c1: f64,
    pub c2: f64,
    /// A gradient function exists: gradients are asked for on their own.
    pub analytic: bool,
    pub difference: Difference,
    /// Absolute finite-difference steps per coordinate (overrides the rule).
    pub fd_step: Option<Vec<f64>>,
    /// The noise level (standard deviation) of the objective's values.
    pub noise: Option<f64>,
}

impl Options {
    /// scipy's settings: PR+, c1 = 1e-4, c2 = 0.4, gtol = 1e-5, 200 n iterations.
    pub fn new(n: usize) -> Self {
        Options {
            beta: Beta::PrPlus,
            gtol: 1e-5,
            max_iter: 200 * n.max(1) as u64,
            max_evals: None,
            c1: 1e-4,
            c2: 0.4,
            analytic: false,
            difference: Difference::Forward,
            fd_step: None,
            noise: None,
        }
    }

    /// Checks the numbers; errors name the option and quote the value.
    pub fn validate(&self, n: usize) -> Result<()> {
        if !(self.gtol >= 0.0 && self.gtol.is_finite()) {
            return Err(Error::invalid("tol", self.gtol, "a finite number >= 0"));
        }
        if !(self.c1 > 0.0 && self.c1 < self.c2 && self.c2 < 1.0) {
            return Err(Error::invalid(
                "c1, c2",
                format!("({}, {})", self.c1, self.c2),
                "0 < c1 < c2 < 1",
            ));
        }
        if let Some(s) = self.noise {
            if !(s > 0.0 && s.is_finite()) {
                return Err(Error::invalid("noise", s, "a positive finite number"));
            }
        }
        if let Some(h) = &self.fd_step {
            if h.len() != n || h.iter().any(|v| !(*v > 0.0 && v.is_finite())) {
                return Err(Error::invalid(
                    "fd_step",
                    format!("{h:?}"),
                    format!("{n} positive finite steps"),
                ));
            }
        }
        Ok(())
    }
}

/// The role of one coordinate of the search vector.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "role", rename_all = "lowercase")]
pub enum Role {
    /// A real coordinate within [lower, upper] (±f64::MAX for none); `min_step` is the
    /// smallest finite-difference step (one level, for a rounded integer).
    Continuous {
        lower: f64,
        upper: f64,
        min_step: f64,
    },
    /// A categorical coordinate holding an option index: fixed within a descent.
    Choice { n: usize },
}

/// A coordinate: its role and, for a conditional one, the (choice coordinate, option) that
/// makes it active.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Coord {
    pub role: Role,
    pub parent: Option<(usize, usize)>,
}

/// How a finished descent ended.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DescentResult {
    pub start: Vec<f64>,
    /// The final iterate (full vector) and its value; None when the start failed.
    pub x: Option<Vec<f64>>,
    pub f: Option<f64>,
    /// The gradient at the final iterate over the descent's active coordinates.
    pub grad: Vec<f64>,
    pub active: Vec<usize>,
    pub stop: Stop,
    pub counts: Counts,
}

/// Descents one after another from `x0`, then from scrambled Sobol points.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MultiStart {
    pub coords: Vec<Coord>,
    pub opts: Options,
    pub seed: u64,
    /// Descents after the first; None for no limit.
    pub restarts: Option<u64>,
    pub x0: Option<Vec<f64>>,
    /// Index of the current descent.
    pub k: u64,
    base: Vec<f64>,
    active: Vec<usize>,
    descent: Descent,
    pub finished: Vec<DescentResult>,
    /// Evaluations used by finished descents.
    used: u64,
    done: bool,
}

/// What the multi-start search answers when asked.
#[derive(Clone, Debug, PartialEq)]
pub enum Next {
    /// Evaluate this (id, full vector, kind).
    Point(u64, Vec<f64>, Kind),
    /// Nothing until pending evaluations are told.
    Wait,
    /// The search is over.
    Done,
}

/// What [`MultiStart::ask_into`] answers: [`Next`] with the point written to the caller's
/// buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// Evaluate the point written to the buffer (id, kind).
    Point(u64, Kind),
    /// Nothing until pending evaluations are told.
    Wait,
    /// The search is over.
    Done,
}

impl MultiStart {
    /// A search over `coords`. `x0` (a full vector: option indices for choices) starts the
    /// first descent; without it the first descent starts at Sobol point 0.
    pub fn new(
        coords: Vec<Coord>,
        opts: Options,
        seed: u64,
        restarts: Option<u64>,
        x0: Option<Vec<f64>>,
    ) -> Result<Self> {
        let d = coords.len();
        if let Some(x) = &x0 {
            if x.len() != d {
                return Err(Error::invalid(
                    "x0",
                    format!("{} values", x.len()),
                    format!("{d} values"),
                ));
            }
            for (j, (v, c)) in x.iter().zip(&coords).enumerate() {
                let ok = match c.role {
                    Role::Continuous { lower, upper, .. } => {
                        v.is_finite() && lower <= *v && *v <= upper
                    }
                    Role::Choice { n } => *v >= 0.0 && (*v as usize) < n && v.fract() == 0.0,
                };
                if !ok {
                    return Err(Error::invalid(
                        format!("x0[{j}]"),
                        v,
                        "a finite value within the bounds",
                    ));
                }
            }
        }
        let n_cont = coords
            .iter()
            .filter(|c| matches!(c.role, Role::Continuous { .. }))
            .count();
        opts.validate(n_cont)?;
        let mut ms = MultiStart {
            coords,
            opts,
            seed,
            restarts,
            x0,
            k: 0,
            base: Vec::new(),
            active: Vec::new(),
            descent: Descent::new(Options::new(0), Vec::new(), vec![], vec![], vec![], 0),
            finished: Vec::new(),
            used: 0,
            done: false,
        };
        ms.begin(0, 0);
        Ok(ms)
    }

    /// The starting point of descent `k` (full vector).
    pub fn start_point(&self, k: u64) -> Vec<f64> {
        if k == 0 {
            if let Some(x) = &self.x0 {
                return x.clone();
            }
        }
        let d = self.coords.len();
        let mut u = vec![0.5; d];
        if d > 0 && d <= crate::sobol::max_dims() {
            Sobol::new(d, self.seed).point(k, &mut u);
        } else {
            let rng = Philox::new(self.seed, 0x6367);
            for (j, v) in u.iter_mut().enumerate() {
                *v = rng.uniform(k, j as u32);
            }
        }
        self.coords
            .iter()
            .enumerate()
            .map(|(j, c)| match c.role {
                Role::Continuous { lower, upper, .. }
                    if lower > -descent::BIG && upper < descent::BIG =>
                {
                    lower + u[j] * (upper - lower)
                }
                Role::Continuous { .. } => self.x0.as_ref().map_or(0.0, |x| x[j]),
                Role::Choice { n } => ((u[j] * n as f64).floor()).min(n as f64 - 1.0),
            })
            .collect()
    }

    /// The coordinates varied by a descent from `full`: continuous and active.
    fn active_of(&self, full: &[f64]) -> Vec<usize> {
        let mut on = vec![false; self.coords.len()];
        for (j, c) in self.coords.iter().enumerate() {
            on[j] = match c.parent {
                None => true,
                Some((dim, option)) => dim < j && on[dim] && full[dim] == option as f64,
            };
        }
        (0..self.coords.len())
            .filter(|&j| on[j] && matches!(self.coords[j].role, Role::Continuous { .. }))
            .collect()
    }

    fn begin(&mut self, k: u64, first_id: u64) {
        let start = self.start_point(k);
        let active = self.active_of(&start);
        let mut opts = self.opts.clone();
        opts.max_evals = self.opts.max_evals.map(|m| m.saturating_sub(self.used));
        opts.fd_step = self.opts.fd_step.as_ref().map(|h| {
            active
                .iter()
                .map(|&j| h[self.continuous_index(j)])
                .collect()
        });
        let mut lower = Vec::new();
        let mut upper = Vec::new();
        let mut min_step = Vec::new();
        for &j in &active {
            if let Role::Continuous {
                lower: lo,
                upper: hi,
                min_step: m,
            } = self.coords[j].role
            {
                lower.push(lo);
                upper.push(hi);
                min_step.push(m);
            }
        }
        let z: Vec<f64> = active.iter().map(|&j| start[j]).collect();
        self.descent = Descent::new(opts, z, lower, upper, min_step, first_id);
        self.base = start;
        self.active = active;
        self.k = k;
    }

    /// Position of continuous coordinate `j` among the continuous ones.
    fn continuous_index(&self, j: usize) -> usize {
        self.coords[..j]
            .iter()
            .filter(|c| matches!(c.role, Role::Continuous { .. }))
            .count()
    }

    fn full(&self, z: &[f64]) -> Vec<f64> {
        let mut x = self.base.clone();
        for (&j, &v) in self.active.iter().zip(z) {
            x[j] = v;
        }
        x
    }

    /// Moves past a finished descent, to the next one or to the end.
    fn roll(&mut self) {
        while !self.done {
            let Some(stop) = self.descent.stop() else {
                return;
            };
            let (x, f, g) = self.descent.current();
            let ok = self.descent.started();
            self.finished.push(DescentResult {
                start: self.base.clone(),
                x: ok.then(|| self.full(x)),
                f: ok.then_some(f),
                grad: g.to_vec(),
                active: self.active.clone(),
                stop,
                counts: self.descent.counts,
            });
            self.used += self.descent.used();
            let budget_left = self.opts.max_evals.is_none_or(|m| self.used < m);
            let more = self.restarts.is_none_or(|r| self.k < r);
            if stop == Stop::MaxEvals || !budget_left || !more {
                self.done = true;
                return;
            }
            let id = self.descent.next_id();
            self.begin(self.k + 1, id);
        }
    }

    /// The next evaluation.
    pub fn ask(&mut self) -> Next {
        let mut x = vec![0.0; self.coords.len()];
        match self.ask_into(&mut x) {
            Step::Point(id, kind) => Next::Point(id, x, kind),
            Step::Wait => Next::Wait,
            Step::Done => Next::Done,
        }
    }

    /// The next evaluation, its full vector written to `out` (one value per coordinate):
    /// [`MultiStart::ask`] without allocating. `out` is left as it was unless a point is
    /// returned.
    pub fn ask_into(&mut self, out: &mut [f64]) -> Step {
        self.roll();
        if self.done {
            return Step::Done;
        }
        let Some(e) = self.descent.ask() else {
            return Step::Wait;
        };
        if self.active.len() == self.base.len() {
            // Every coordinate is active (the active ones are distinct and in order).
            for (o, &v) in out.iter_mut().zip(&e.x) {
                *o = v;
            }
        } else {
            for (o, &v) in out.iter_mut().zip(&self.base) {
                *o = v;
            }
            for (&j, &v) in self.active.iter().zip(&e.x) {
                if let Some(o) = out.get_mut(j) {
                    *o = v;
                }
            }
        }
        Step::Point(e.id, e.kind)
    }

    /// The full vector of pending evaluation `id`.
    pub fn point(&self, id: u64) -> Option<(Vec<f64>, Kind)> {
        self.descent.eval(id).map(|e| (self.full(&e.x), e.kind))
    }

    /// Ends the search now: `ask` answers `Done` from here on.
    pub fn finish(&mut self) {
        self.done = true;
    }

    /// Whether the search is over.
    pub fn is_done(&mut self) -> bool {
        self.roll();
        self.done
    }

    /// Tells the outcome of evaluation `id`; `grad`, if given, is over the full vector
    /// (entries of inactive and categorical coordinates are ignored). False if `id` is not
    /// pending.
    pub fn tell(&mut self, id: u64, value: Option<f64>, grad: Option<&[f64]>) -> bool {
        let g = grad.map(|g| {
            if self.active.len() == self.base.len() && g.len() == self.base.len() {
                // Every coordinate is active.
                g.to_vec()
            } else {
                self.active.iter().map(|&j| g[j]).collect()
            }
        });
        let ok = self.descent.tell(id, value, g);
        self.roll();
        ok
    }

    /// Hands evaluation `id` out again. False if it is not pending.
    pub fn requeue(&mut self, id: u64) -> bool {
        self.descent.requeue(id)
    }

    /// The current descent's active coordinates.
    pub fn active(&self) -> &[usize] {
        &self.active
    }

    /// The current descent.
    pub fn descent(&self) -> &Descent {
        &self.descent
    }

    /// Evaluations used so far (finished descents and the current one).
    pub fn used(&self) -> u64 {
        self.used + if self.done { 0 } else { self.descent.used() }
    }

    /// The state as JSON.
    pub fn to_json(&self) -> Result<String> {
        serde_json::to_string(self).map_err(|e| Error::Internal(e.to_string()))
    }

    /// Restores a state written by [`MultiStart::to_json`].
    pub fn from_json(text: &str) -> Result<Self> {
        Ok(serde_json::from_str(text)?)
    }
}

#[cfg(test)]
mod tests;
