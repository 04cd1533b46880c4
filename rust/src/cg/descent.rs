//! One conjugate-gradient descent as an ask/tell state machine.
//!
//! The descent asks for evaluations by id (a batch when it forms a finite-difference gradient,
//! one point at a time on a line) and moves on once every point of the batch is told. A value
//! may come with its gradient; it is used wherever the descent needs the slope at that point,
//! and finite differences are asked for only where no gradient came.

use serde::{Deserialize, Serialize};

use super::linesearch::{Backtrack, LsStep, MoreThuente};
use super::{Beta, Difference, Options, Stop};

/// The largest finite number stands in for an infinite bound, so states stay valid JSON.
pub(crate) const BIG: f64 = f64::MAX;

/// What an evaluation asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// The objective's value (a gradient with it is welcome).
    Value,
    /// The gradient at a point whose value is already known (only with `Options::analytic`).
    Gradient,
}

/// One evaluation of a batch.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Eval {
    pub id: u64,
    pub x: Vec<f64>,
    pub kind: Kind,
    handed: bool,
    told: bool,
    /// None when the value was not finite or the evaluation failed.
    value: Option<f64>,
    grad: Option<Vec<f64>>,
}

/// A finite-difference stencil for one coordinate: the signed offsets evaluated, in order.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct Stencil {
    coord: usize,
    /// `[h]` forward; `[h, -h]` central; `[h, 2h]` one-sided second order.
    offsets: Vec<f64>,
    /// Set once the stencil was flipped after a non-finite value.
    flipped: bool,
}

/// Why a gradient is being formed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
enum Purpose {
    /// At the starting point.
    Start,
    /// At the current trial point on the line.
    Trial,
    /// Again at the current point, with larger steps, after a failed noisy line search.
    Recover,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
enum Search {
    Wolfe(MoreThuente),
    Armijo(Backtrack),
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
enum Phase {
    /// Evaluating the starting point.
    Start,
    /// Forming a gradient at `at` (value `f`).
    Gradient {
        purpose: Purpose,
        at: Vec<f64>,
        f: f64,
        /// Components formed so far (all but those of `stencils`).
        partial: Vec<f64>,
        stencils: Vec<Stencil>,
    },
    /// Evaluating a trial step on the line.
    Line,
    Done(Stop),
}

/// A point on the current line with its value and (once formed) gradient.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct TrialPoint {
    stp: f64,
    x: Vec<f64>,
    f: f64,
    g: Option<Vec<f64>>,
}

/// Counts of what a descent evaluated.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    /// Objective values.
    pub values: u64,
    /// Gradient-only evaluations (the analytic gradient function).
    pub gradients: u64,
    /// Gradients formed by finite differences.
    pub fd_gradients: u64,
    /// Iterations (accepted steps).
    pub iterations: u64,
}

/// One conjugate-gradient descent.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Descent {
    opts: Options,
    lower: Vec<f64>,
    upper: Vec<f64>,
    min_step: Vec<f64>,
    next_id: u64,
    batch: Vec<Eval>,
    phase: Phase,
    x: Vec<f64>,
    f: f64,
    g: Vec<f64>,
    p: Vec<f64>,
    /// The value at the previous iterate (for the first trial step).
    f_prev: Option<f64>,
    /// The current direction is steepest descent (a failed line search cannot restart).
    steepest: bool,
    search: Option<Search>,
    trial: Option<TrialPoint>,
    /// The best point on the current line with a known gradient.
    line_best: Option<TrialPoint>,
    /// Multiplier of finite-difference steps, raised by noisy recovery.
    step_scale: f64,
    central: bool,
    recovered: bool,
    /// The value at the start is known.
    started: bool,
    pub counts: Counts,
}

impl Descent {
    /// A descent from `x0` within `[lower, upper]` (use `±BIG` for no bound). `min_step`
    /// is the smallest finite-difference step per coordinate. Ids start at `first_id`.
    pub fn new(
        opts: Options,
        x0: Vec<f64>,
        lower: Vec<f64>,
        upper: Vec<f64>,
        min_step: Vec<f64>,
        first_id: u64,
    ) -> Self {
        let n = x0.len();
        let central = opts.difference == Difference::Central;
        let mut d = Descent {
            opts,
            lower,
            upper,
            min_step,
            next_id: first_id,
            batch: Vec::new(),
            phase: Phase::Start,
            x: x0.clone(),
            f: 0.0,
            g: vec![0.0; n],
            p: vec![0.0; n],
            f_prev: None,
            steepest: true,
            search: None,
            trial: None,
            line_best: None,
            step_scale: 1.0,
            central,
            recovered: false,
            started: false,
            counts: Counts::default(),
        };
        if !d.try_push([(x0, Kind::Value)]) {
            d.phase = Phase::Done(Stop::MaxEvals);
        }
        d
    }

    /// Whether the value at the start is known (there is an iterate to report).
    pub fn started(&self) -> bool {
        self.started
    }

    /// The id the next evaluation will get.
    pub fn next_id(&self) -> u64 {
        self.next_id
    }

    /// Why the descent stopped, once it has.
    pub fn stop(&self) -> Option<Stop> {
        match self.phase {
            Phase::Done(s) => Some(s),
            _ => None,
        }
    }

    /// The current iterate, its value and gradient.
    pub fn current(&self) -> (&[f64], f64, &[f64]) {
        (&self.x, self.f, &self.g)
    }

    /// All evaluations used (values and gradient-only).
    pub fn used(&self) -> u64 {
        self.counts.values + self.counts.gradients
    }

    /// The next evaluation to hand out, if any is ready.
    pub fn ask(&mut self) -> Option<&Eval> {
        let e = self.batch.iter_mut().find(|e| !e.handed)?;
        e.handed = true;
        Some(e)
    }

    /// True when every evaluation of the batch has been handed out but not all told.
    pub fn waiting(&self) -> bool {
        !self.batch.is_empty() && self.batch.iter().all(|e| e.handed)
    }

    /// The evaluation `id` of the current batch.
    pub fn eval(&self, id: u64) -> Option<&Eval> {
        self.batch.iter().find(|e| e.id == id)
    }

    /// Hands evaluation `id` out again. False if it is not pending.
    pub fn requeue(&mut self, id: u64) -> bool {
        match self.batch.iter_mut().find(|e| e.id == id && !e.told) {
            Some(e) => {
                e.handed = false;
                true
            }
            None => false,
        }
    }

    /// Records the outcome of evaluation `id`: its value (None or non-finite when it failed)
    /// and, optionally, the gradient there. Returns false if `id` is not pending. When the
    /// batch is complete the descent moves on.
    pub fn tell(&mut self, id: u64, value: Option<f64>, grad: Option<Vec<f64>>) -> bool {
        let Some(e) = self.batch.iter_mut().find(|e| e.id == id && !e.told) else {
            return false;
        };
        e.told = true;
        e.handed = true;
        let grad = grad.filter(|g| g.len() == e.x.len() && g.iter().all(|v| v.is_finite()));
        match e.kind {
            Kind::Value => {
                e.value = value.filter(|v| v.is_finite());
                e.grad = if e.value.is_some() { grad } else { None };
            }
            Kind::Gradient => e.grad = grad,
        }
        if self.batch.iter().all(|e| e.told) {
            let batch = std::mem::take(&mut self.batch);
            self.advance(batch);
        }
        true
    }

    // -- requests ---------------------------------------------------------------------------

    /// Queues a batch unless it would exceed the evaluation budget.
    fn try_push<I>(&mut self, points: I) -> bool
    where
        I: IntoIterator<Item = (Vec<f64>, Kind)>,
        I::IntoIter: ExactSizeIterator,
    {
        let points = points.into_iter();
        if let Some(limit) = self.opts.max_evals {
            if self.used() + points.len() as u64 > limit {
                return false;
            }
        }
        for (x, kind) in points {
            match kind {
                Kind::Value => self.counts.values += 1,
                Kind::Gradient => self.counts.gradients += 1,
            }
            self.batch.push(Eval {
                id: self.next_id,
                x,
                kind,
                handed: false,
                told: false,
                value: None,
                grad: None,
            });
            self.next_id += 1;
        }
        true
    }

    fn finish(&mut self, stop: Stop) {
        self.batch.clear();
        self.phase = Phase::Done(stop);
    }

    fn push_or_stop<I>(&mut self, points: I)
    where
        I: IntoIterator<Item = (Vec<f64>, Kind)>,
        I::IntoIter: ExactSizeIterator,
    {
        if !self.try_push(points) {
            self.finish(Stop::MaxEvals);
        }
    }

    // -- the state machine ------------------------------------------------------------------

    fn advance(&mut self, mut batch: Vec<Eval>) {
        match std::mem::replace(&mut self.phase, Phase::Line) {
            Phase::Start => {
                let e = &mut batch[0];
                let Some(f) = e.value else {
                    return self.finish(Stop::NonFiniteStart);
                };
                self.f = f;
                self.started = true;
                match e.grad.take() {
                    Some(g) => self.start_with(g),
                    None => {
                        let x = self.x.clone();
                        self.ask_gradient(Purpose::Start, x, f)
                    }
                }
            }
            Phase::Gradient {
                purpose,
                at,
                f,
                partial,
                stencils,
            } => self.gradient_done(purpose, at, f, partial, stencils, batch),
            Phase::Line => self.line_value(&mut batch[0]),
            Phase::Done(s) => self.phase = Phase::Done(s),
        }
    }

    /// Asks for the gradient at `at` (value `f`): analytically or by finite differences.
    fn ask_gradient(&mut self, purpose: Purpose, at: Vec<f64>, f: f64) {
        let n = at.len();
        if n == 0 {
            return self.have_gradient(purpose, at, f, Vec::new());
        }
        if self.opts.analytic {
            self.phase = Phase::Gradient {
                purpose,
                at: at.clone(),
                f,
                partial: Vec::new(),
                stencils: Vec::new(),
            };
            return self.push_or_stop([(at, Kind::Gradient)]);
        }
        let stencils: Vec<Stencil> = (0..n).map(|i| self.stencil(&at, i)).collect();
        self.counts.fd_gradients += 1;
        self.queue_stencils(purpose, at, f, vec![0.0; n], stencils);
    }

    fn queue_stencils(
        &mut self,
        purpose: Purpose,
        at: Vec<f64>,
        f: f64,
        partial: Vec<f64>,
        stencils: Vec<Stencil>,
    ) {
        let mut points = Vec::new();
        for s in &stencils {
            for &h in &s.offsets {
                let mut y = at.clone();
                y[s.coord] += h;
                points.push((y, Kind::Value));
            }
        }
        self.phase = Phase::Gradient {
            purpose,
            at,
            f,
            partial,
            stencils,
        };
        self.push_or_stop(points);
    }

    /// The finite-difference step for coordinate `i` at `xi`: sized to the noise when its
    /// level is known, else relative to max(|xi|, 1), so it never collapses near zero.
    fn step(&self, i: usize, xi: f64) -> f64 {
        let h = match &self.opts.fd_step {
            Some(steps) => steps[i],
            None => {
                let scale = xi.abs().max(1.0);
                match (self.opts.noise, self.central) {
                    (None, false) => f64::EPSILON.sqrt() * scale,
                    (None, true) => f64::EPSILON.cbrt() * scale,
                    // Forward error h|f''|/2 + 2 sigma/h is least at h = 2 sqrt(sigma/|f''|);
                    // 8^(1/4) sqrt(sigma) assumes unit curvature (More and Wild 2012).
                    (Some(s), false) => 8f64.powf(0.25) * s.sqrt(),
                    (Some(s), true) => (3.0 * s).cbrt(),
                }
            }
        };
        (h * self.step_scale).max(self.min_step[i])
    }

    fn inside(&self, i: usize, v: f64) -> bool {
        v >= self.lower[i] && v <= self.upper[i]
    }

    /// With a noise level: the size of the noise in a finite-difference gradient (one
    /// standard deviation of its norm). A gradient no larger is indistinguishable from noise.
    fn noise_floor(&self) -> Option<f64> {
        let sigma = self.opts.noise?;
        if self.opts.analytic {
            return None;
        }
        let mut var = 0.0;
        for i in 0..self.x.len() {
            let h = self.step(i, self.x[i]);
            // Central: (e+ - e-) / 2h has variance sigma^2 / 2h^2; forward: 2 sigma^2 / h^2.
            var += if self.central { 0.5 } else { 2.0 } * (sigma / h).powi(2);
        }
        Some(var.sqrt())
    }

    /// A stencil for coordinate `i` that stays inside the box.
    fn stencil(&self, at: &[f64], i: usize) -> Stencil {
        let h = self.step(i, at[i]);
        let xi = at[i];
        let offsets = if self.central {
            if self.inside(i, xi + h) && self.inside(i, xi - h) {
                vec![h, -h]
            } else if self.inside(i, xi + 2.0 * h) {
                vec![h, 2.0 * h]
            } else {
                vec![-h, -2.0 * h]
            }
        } else if self.inside(i, xi + h) {
            vec![h]
        } else {
            vec![-h]
        };
        Stencil {
            coord: i,
            offsets,
            flipped: false,
        }
    }

    fn gradient_done(
        &mut self,
        purpose: Purpose,
        at: Vec<f64>,
        f: f64,
        partial: Vec<f64>,
        stencils: Vec<Stencil>,
        mut batch: Vec<Eval>,
    ) {
        if self.opts.analytic {
            return match batch[0].grad.take() {
                Some(g) => self.have_gradient(purpose, at, f, g),
                None if purpose == Purpose::Trial => self.trial_gradient_failed(),
                None => self.finish(Stop::NonFinite),
            };
        }

        // Assemble the differences; flip a stencil once where a value was not finite.
        let mut g = partial;
        let mut k = 0;
        let mut retry = Vec::new();
        for s in stencils {
            let m = s.offsets.len();
            let vals: Vec<Option<f64>> = batch[k..k + m].iter().map(|e| e.value).collect();
            k += m;
            let h = s.offsets[0];
            match vals.as_slice() {
                [Some(f1)] => g[s.coord] = (f1 - f) / h,
                [Some(fp), Some(fm)] if s.offsets[1] == -h => g[s.coord] = (fp - fm) / (2.0 * h),
                [Some(f1), Some(f2)] => g[s.coord] = (-3.0 * f + 4.0 * f1 - f2) / (2.0 * h),
                _ => {
                    let offsets: Vec<f64> = s.offsets.iter().map(|h| -h).collect();
                    let fits = offsets
                        .iter()
                        .all(|h| self.inside(s.coord, at[s.coord] + h));
                    if s.flipped || !fits {
                        if purpose == Purpose::Trial {
                            return self.trial_gradient_failed();
                        }
                        return self.finish(Stop::NonFinite);
                    }
                    retry.push(Stencil {
                        coord: s.coord,
                        offsets,
                        flipped: true,
                    });
                }
            }
        }
        if retry.is_empty() {
            self.have_gradient(purpose, at, f, g)
        } else {
            self.queue_stencils(purpose, at, f, g, retry)
        }
    }

    fn have_gradient(&mut self, purpose: Purpose, at: Vec<f64>, f: f64, g: Vec<f64>) {
        match purpose {
            Purpose::Start => {
                self.x = at;
                self.f = f;
                self.start_with(g)
            }
            Purpose::Recover => {
                self.g = g;
                self.restart_steepest();
                self.begin_iteration()
            }
            Purpose::Trial => {
                let Some(mut t) = self.trial.take() else {
                    return self.finish(Stop::Internal);
                };
                t.g = Some(g);
                self.trial_slope(t)
            }
        }
    }

    fn start_with(&mut self, g: Vec<f64>) {
        self.g = g;
        self.restart_steepest();
        self.begin_iteration();
    }

    // -- geometry ---------------------------------------------------------------------------

    /// The gradient with the components that push against an active bound zeroed.
    fn projected(&self, g: &[f64], x: &[f64]) -> Vec<f64> {
        g.iter()
            .zip(x)
            .zip(self.lower.iter().zip(&self.upper))
            .map(|((&gi, &xi), (&lo, &hi))| project(gi, xi, lo, hi))
            .collect()
    }

    fn restart_steepest(&mut self) {
        self.p.resize(self.g.len(), 0.0);
        let bounds = self.lower.iter().zip(&self.upper);
        for ((pi, (&gi, &xi)), (&lo, &hi)) in self
            .p
            .iter_mut()
            .zip(self.g.iter().zip(&self.x))
            .zip(bounds)
        {
            *pi = -project(gi, xi, lo, hi);
        }
        self.steepest = true;
    }

    /// Whether the direction already is steepest descent (beta came out as 0): a restart
    /// would repeat the same line.
    fn is_steepest(&self) -> bool {
        let pg = self.projected(&self.g, &self.x);
        self.p.iter().zip(&pg).all(|(p, g)| *p == -g)
    }

    /// The longest step along `p` that stays in the box (`BIG` when unbounded).
    fn max_step(&self) -> f64 {
        let mut t = BIG;
        let bounds = self.lower.iter().zip(&self.upper);
        for ((&pi, &xi), (&lo, &hi)) in self.p.iter().zip(&self.x).zip(bounds) {
            if pi > 0.0 && hi < BIG {
                t = t.min((hi - xi) / pi);
            } else if pi < 0.0 && lo > -BIG {
                t = t.min((lo - xi) / pi);
            }
        }
        t.max(0.0)
    }

    fn point_at(&self, stp: f64) -> Vec<f64> {
        let bounds = self.lower.iter().zip(&self.upper);
        self.x
            .iter()
            .zip(&self.p)
            .zip(bounds)
            .map(|((&xi, &pi), (&lo, &hi))| (xi + stp * pi).clamp(lo, hi))
            .collect()
    }

    /// One pass over the coordinates for what an iteration tests first (n is often in the
    /// hundreds, and this runs every iteration).
    fn scan(&self) -> Scan {
        let mut scan = Scan::default();
        let bounds = self.lower.iter().zip(&self.upper);
        for (((&gi, &xi), &pi), (&lo, &hi)) in self.g.iter().zip(&self.x).zip(&self.p).zip(bounds) {
            let pgi = project(gi, xi, lo, hi);
            scan.add(gi, pgi, pi, lo, hi);
        }
        scan
    }

    // -- iterations -------------------------------------------------------------------------

    /// At an iterate with its gradient and direction: test for convergence, then start a line.
    fn begin_iteration(&mut self) {
        let scan = self.scan();
        self.begin_with(scan)
    }

    /// [`Descent::begin_iteration`] with the pass over the coordinates already made.
    fn begin_with(&mut self, scan: Scan) {
        if scan.pg_max <= self.opts.gtol {
            return self.finish(Stop::Converged);
        }
        if let Some(noise) = self.noise_floor() {
            if scan.pg_sq.sqrt() <= noise {
                return self.finish(Stop::NoiseLevel);
            }
        }
        if self.counts.iterations >= self.opts.max_iter {
            return self.finish(Stop::MaxIter);
        }
        let mut slope = scan.slope;
        // NaN counts as not descending.
        if slope.is_nan() || slope >= 0.0 {
            self.restart_steepest();
            slope = dot(&self.g, &self.p);
        }
        // Without a finite bound every coordinate allows any step.
        let stpmax = if scan.boxed { self.max_step() } else { BIG };
        if stpmax <= 0.0 || slope.is_nan() || slope >= 0.0 {
            // Every descent direction leaves the box: a constrained minimum.
            return self.finish(Stop::Converged);
        }

        // The first trial step (scipy's rule): twice the last decrease over the slope.
        let first = match self.f_prev {
            Some(fp) => {
                let a = 2.02 * (self.f - fp) / slope;
                if a > 0.0 && a.is_finite() {
                    a.min(1.0)
                } else {
                    1.0
                }
            }
            None => (1.01 / norm(&self.g)).min(1.0),
        };
        let first = first.min(stpmax);
        let (search, step) = match self.opts.noise {
            None => {
                let ls = MoreThuente::new(
                    self.f,
                    slope,
                    first,
                    0.0,
                    stpmax.min(1e100),
                    self.opts.c1,
                    self.opts.c2,
                );
                let s = ls.first();
                (Search::Wolfe(ls), s)
            }
            Some(sigma) => {
                let ls = Backtrack::new(self.f, slope, first, stpmax, self.opts.c1, 2.0 * sigma);
                let s = ls.first();
                (Search::Armijo(ls), s)
            }
        };
        self.search = Some(search);
        self.line_best = None;
        self.line_step(step);
    }

    /// Acts on what the line search wants.
    fn line_step(&mut self, step: LsStep) {
        match step {
            LsStep::Value(stp) => {
                let x = self.point_at(stp);
                self.trial = Some(TrialPoint {
                    stp,
                    x: x.clone(),
                    f: f64::MAX,
                    g: None,
                });
                self.phase = Phase::Line;
                self.push_or_stop([(x, Kind::Value)]);
            }
            LsStep::Slope => {
                let Some(t) = self.trial.take() else {
                    return self.finish(Stop::Internal);
                };
                match t.g {
                    Some(_) => self.trial_slope(t),
                    None => {
                        let (x, f) = (t.x.clone(), t.f);
                        self.trial = Some(t);
                        self.ask_gradient(Purpose::Trial, x, f)
                    }
                }
            }
            LsStep::Accept(_) => {
                let Some(t) = self.trial.take() else {
                    return self.finish(Stop::Internal);
                };
                match t.g {
                    Some(g) => self.accept(t.x, t.f, g, None),
                    None => {
                        // Armijo accepts on the value alone; the gradient comes next.
                        let (x, f) = (t.x.clone(), t.f);
                        self.trial = Some(t);
                        self.ask_gradient(Purpose::Trial, x, f)
                    }
                }
            }
            LsStep::Fail { .. } => self.line_failed(),
        }
    }

    fn line_value(&mut self, e: &mut Eval) {
        let Some(mut t) = self.trial.take() else {
            return self.finish(Stop::Internal);
        };
        // A failed value stays out of the state as f64::MAX; the search sees NaN.
        let f = e.value.unwrap_or(f64::NAN);
        t.f = e.value.unwrap_or(f64::MAX);
        t.g = e.grad.take();
        let step = match self.search.as_mut() {
            Some(Search::Wolfe(ls)) => ls.value(f),
            Some(Search::Armijo(ls)) => ls.value(f),
            None => return self.finish(Stop::Internal),
        };
        self.trial = Some(t);
        self.line_step(step);
    }

    /// The trial point now has its gradient.
    fn trial_slope(&mut self, t: TrialPoint) {
        match self.search.as_mut() {
            Some(Search::Wolfe(ls)) => {
                let best = t.f < self.f && self.line_best.as_ref().is_none_or(|b| t.f <= b.f);
                // The pass for the slope also forms what `accept` needs, should the search
                // accept this point (the extra sums ride along at no cost in time).
                let g1 = t.g.as_deref().unwrap_or_default();
                let products = Products::of(self.opts.beta, g1, &self.g, &self.p);
                let step = ls.slope(products.g1p);

                // The point becomes the line's best (a copy, as the trial keeps it) unless a
                // copy is not needed: the trial is replaced by the next step's point, and an
                // accepted point's best is cleared as the next line begins.
                match step {
                    LsStep::Accept(_) if t.g.is_some() => {
                        // What `line_step` does with an accepted point that has its gradient.
                        let TrialPoint { stp, x, f, g } = t;
                        self.accept(x, f, g.unwrap_or_default(), Some(products));
                        // Every line begins with a trial point: without one, the descent
                        // stopped at the accepted point, which stays recorded as the best.
                        if best && self.trial.is_none() {
                            self.line_best = Some(TrialPoint {
                                stp,
                                x: self.x.clone(),
                                f: self.f,
                                g: Some(self.g.clone()),
                            });
                        }
                    }
                    LsStep::Value(_) => {
                        if best {
                            self.line_best = Some(t);
                        }
                        self.line_step(step)
                    }
                    _ => {
                        if best {
                            self.line_best = Some(t.clone());
                        }
                        self.trial = Some(t);
                        self.line_step(step)
                    }
                }
            }
            // Armijo asked for the gradient only after accepting the point.
            Some(Search::Armijo(_)) => self.accept(t.x, t.f, t.g.unwrap_or_default(), None),
            None => self.finish(Stop::Internal),
        }
    }

    /// The gradient at a line-search trial point is not finite: with a Wolfe search the
    /// step is unusable, as if its value were NaN, and the search steps back along the line
    /// instead of ending the descent.
    fn trial_gradient_failed(&mut self) {
        let step = match self.search.as_mut() {
            Some(Search::Wolfe(ls)) => ls.value(f64::NAN),
            _ => return self.finish(Stop::NonFinite),
        };
        self.trial = None;
        self.line_step(step);
    }

    fn line_failed(&mut self) {
        if let Some(best) = self.line_best.take() {
            let g = best.g.unwrap_or_default();
            return self.accept(best.x, best.f, g, None);
        }
        match self.opts.noise {
            Some(_) if !self.recovered => {
                // Recovery: differences with wider steps (central ones), then steepest descent.
                self.recovered = true;
                self.step_scale *= 2.0;
                self.central = true;
                let (x, f) = (self.x.clone(), self.f);
                self.ask_gradient(Purpose::Recover, x, f)
            }
            Some(_) => self.finish(Stop::NoiseLevel),
            None if !self.steepest && !self.is_steepest() => {
                self.restart_steepest();
                self.begin_iteration()
            }
            None => self.finish(Stop::LineSearch),
        }
    }

    /// Moves to the accepted point and picks the next conjugate direction. `products`:
    /// [`Products::of`] for `g1`, if already formed.
    fn accept(&mut self, x1: Vec<f64>, f1: f64, g1: Vec<f64>, products: Option<Products>) {
        // The products the beta rule uses (y = g1 - g), each summed in coordinate order as
        // `dot` sums, and whether the set of coordinates on a bound changes.
        let s = products.unwrap_or_else(|| Products::of(self.opts.beta, &g1, &self.g, &self.p));
        let bounds = self.lower.iter().zip(&self.upper);
        let bounds_changed =
            self.x
                .iter()
                .zip(&x1)
                .zip(bounds)
                .fold(false, |changed, ((&a, &b), (&lo, &hi))| {
                    changed | ((a <= lo || a >= hi) != (b <= lo || b >= hi))
                });
        let beta = match self.opts.beta {
            Beta::PrPlus => (s.g1y / s.gg).max(0.0),
            Beta::Fr => s.g1g1 / s.gg,
            Beta::HsPlus => (s.g1y / s.py).max(0.0),
            Beta::Hz => {
                // Hager and Zhang (2005), with their lower bound eta_k.
                let b = (s.g1y - 2.0 * s.yy * s.g1p / s.py) / s.py;
                let eta = -1.0 / (s.pp.sqrt() * s.gg.sqrt().min(0.01));
                b.max(eta)
            }
        };

        self.f_prev = Some(self.f);
        self.x = x1;
        self.f = f1;
        self.g = g1;
        self.counts.iterations += 1;
        self.recovered = false;

        // The new direction, in place: -pg + beta p, with the components that would leave
        // the box at once zeroed. The same pass scans for the next iteration.
        let mut scan = Scan::default();
        let mut p_pg = -0.0;
        let bounds = self.lower.iter().zip(&self.upper);
        let at = self.g.iter().zip(&self.x);
        for ((pi, (&gi, &xi)), (&lo, &hi)) in self.p.iter_mut().zip(at).zip(bounds) {
            let pgi = project(gi, xi, lo, hi);
            let mut v = -pgi + beta * *pi;
            if ((xi <= lo) & (v < 0.0)) | ((xi >= hi) & (v > 0.0)) {
                v = 0.0;
            }
            *pi = v;
            p_pg += v * pgi;
            scan.add(gi, pgi, v, lo, hi);
        }

        // Restarted when it is not a sufficient descent direction.
        let descent = p_pg <= -0.01 * scan.pg_sq;
        if beta.is_finite() && descent && !bounds_changed {
            self.steepest = false;
            self.begin_with(scan)
        } else {
            self.restart_steepest();
            self.begin_iteration()
        }
    }
}

/// `gi` with its push against an active bound removed: 0 where `xi` sits on a bound and the
/// descent direction `-gi` points out of the box.
#[inline]
fn project(gi: f64, xi: f64, lo: f64, hi: f64) -> f64 {
    // `&` and `|`, not `&&` and `||`: selects, not branches, in the loops this is inlined in.
    if ((xi <= lo) & (gi > 0.0)) | ((xi >= hi) & (gi < 0.0)) {
        0.0
    } else {
        gi
    }
}

/// What an iteration tests first, from one pass over the coordinates: the largest projected
/// gradient component, the projected gradient's squared norm, the slope g.p, and whether any
/// coordinate has a finite bound.
struct Scan {
    pg_max: f64,
    pg_sq: f64,
    slope: f64,
    boxed: bool,
}

impl Default for Scan {
    fn default() -> Self {
        // Sums start at -0.0, as `Iterator::sum` does, so they match `dot` bit for bit.
        Scan {
            pg_max: 0.0,
            pg_sq: -0.0,
            slope: -0.0,
            boxed: false,
        }
    }
}

impl Scan {
    #[inline]
    fn add(&mut self, gi: f64, pgi: f64, pi: f64, lo: f64, hi: f64) {
        // As `f64::max` (a NaN is passed over; |pgi| is never -0.0), in one instruction.
        let a = pgi.abs();
        self.pg_max = if a > self.pg_max { a } else { self.pg_max };
        self.pg_sq += pgi * pgi;
        self.slope += gi * pi;
        self.boxed |= lo > -BIG || hi < BIG;
    }
}

/// The products of the beta rules, with y = g1 - g: g.g, p.y, g1.y, g1.g1, y.y, p.p, and the
/// slope g1.p along the line.
struct Products {
    gg: f64,
    py: f64,
    g1y: f64,
    g1g1: f64,
    yy: f64,
    pp: f64,
    g1p: f64,
}

impl Default for Products {
    fn default() -> Self {
        Products {
            gg: -0.0,
            py: -0.0,
            g1y: -0.0,
            g1g1: -0.0,
            yy: -0.0,
            pp: -0.0,
            g1p: -0.0,
        }
    }
}

impl Products {
    /// The slope and the products `rule` needs, from the new gradient `g1`, the old one `g`
    /// and the direction `p` (the others stay -0.0). One loop per rule: each sum is a chain
    /// of dependent additions, and a rule's loop carries only its own.
    fn of(rule: Beta, g1: &[f64], g: &[f64], p: &[f64]) -> Self {
        let mut s = Products::default();
        let coords = g1.iter().zip(g).zip(p);
        match rule {
            Beta::PrPlus => coords.for_each(|((&a, &b), &p)| {
                s.gg += b * b;
                s.g1y += a * (a - b);
                s.g1p += a * p;
            }),
            Beta::HsPlus => coords.for_each(|((&a, &b), &p)| {
                let y = a - b;
                s.py += p * y;
                s.g1y += a * y;
                s.g1p += a * p;
            }),
            Beta::Fr => coords.for_each(|((&a, &b), &p)| {
                s.gg += b * b;
                s.g1g1 += a * a;
                s.g1p += a * p;
            }),
            Beta::Hz => coords.for_each(|((&a, &b), &p)| {
                let y = a - b;
                s.gg += b * b;
                s.py += p * y;
                s.g1y += a * y;
                s.yy += y * y;
                s.pp += p * p;
                s.g1p += a * p;
            }),
        }
        s
    }
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

fn norm(a: &[f64]) -> f64 {
    dot(a, a).sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn same(a: f64, b: f64) -> bool {
        a.to_bits() == b.to_bits()
    }

    fn coords(n: usize) -> impl Strategy<Value = (Vec<f64>, Vec<f64>, Vec<f64>)> {
        let v = || prop::collection::vec(-1e3f64..1e3, n);
        (v(), v(), v())
    }

    /// A descent that stops at an accepted point keeps that point as the line's best in its
    /// state, as when every better trial point was copied there (the copy is now made only
    /// when the descent stops).
    #[test]
    fn a_descent_that_converges_keeps_its_last_point_as_the_line_best() {
        let mut opts = Options::new(3);
        opts.analytic = true;
        let mut d = Descent::new(
            opts,
            vec![1.0, -2.0, 0.5],
            vec![-BIG; 3],
            vec![BIG; 3],
            vec![0.0; 3],
            0,
        );
        let grad = |x: &[f64]| {
            x.iter()
                .enumerate()
                .map(|(i, v)| 2.0 * (i + 1) as f64 * v)
                .collect::<Vec<f64>>()
        };
        while let Some(e) = d.ask() {
            let (id, x, kind) = (e.id, e.x.clone(), e.kind);
            let f: f64 = x
                .iter()
                .enumerate()
                .map(|(i, v)| (i + 1) as f64 * v * v)
                .sum();
            match kind {
                Kind::Value => d.tell(id, Some(f), None),
                Kind::Gradient => d.tell(id, None, Some(grad(&x))),
            };
        }
        assert_eq!(d.stop(), Some(Stop::Converged));
        let best = d
            .line_best
            .as_ref()
            .expect("the accepted point is the line's best");
        assert_eq!((&best.x, best.f, best.g.as_ref()), (&d.x, d.f, Some(&d.g)));
        assert!(d.trial.is_none());
    }

    proptest! {
        /// The one-pass products equal `dot` over the vectors the rules are written with,
        /// bit for bit (each sum keeps its order), so fusing the passes changed no result.
        #[test]
        fn products_match_dot((g1, g, p) in (1usize..40).prop_flat_map(coords)) {
            let y: Vec<f64> = g1.iter().zip(&g).map(|(a, b)| a - b).collect();
            let pr = Products::of(Beta::PrPlus, &g1, &g, &p);
            prop_assert!(same(pr.gg, dot(&g, &g)) && same(pr.g1y, dot(&g1, &y)));
            let hs = Products::of(Beta::HsPlus, &g1, &g, &p);
            prop_assert!(same(hs.py, dot(&p, &y)) && same(hs.g1y, dot(&g1, &y)));
            let fr = Products::of(Beta::Fr, &g1, &g, &p);
            prop_assert!(same(fr.gg, dot(&g, &g)) && same(fr.g1g1, dot(&g1, &g1)));
            let hz = Products::of(Beta::Hz, &g1, &g, &p);
            prop_assert!(same(hz.yy, dot(&y, &y)) && same(hz.pp, dot(&p, &p)));
            prop_assert!(same(hz.py, dot(&p, &y)));
            for s in [pr, hs, fr, hz] {
                prop_assert!(same(s.g1p, dot(&g1, &p)) && same(s.g1p, dot(&p, &g1)));
            }
        }

        /// The scan equals the separate passes it replaces: the projected gradient's largest
        /// component and norm, the slope, and the longest step.
        #[test]
        fn scan_matches_the_separate_passes(
            (g, x, p) in (1usize..40).prop_flat_map(coords),
            bounded in any::<bool>(),
        ) {
            let n = x.len();
            let (lo, hi) = if bounded { (-500.0, 500.0) } else { (-BIG, BIG) };
            // Some coordinates on a bound, so projection matters.
            let x: Vec<f64> = x.iter().map(|&v| v.clamp(lo, hi)).collect();
            let mut d = Descent::new(Options::new(n), x.clone(), vec![lo; n], vec![hi; n], vec![0.0; n], 0);
            d.g = g.clone();
            d.p = p.clone();
            let pg = d.projected(&g, &x);
            let s = d.scan();
            prop_assert!(same(s.pg_max, pg.iter().fold(0.0f64, |m, v| m.max(v.abs()))));
            prop_assert!(same(s.pg_sq.sqrt(), norm(&pg)));
            prop_assert!(same(s.slope, dot(&g, &p)));
            prop_assert_eq!(s.boxed, bounded);
            if !s.boxed {
                prop_assert!(same(d.max_step(), BIG));
            }
        }
    }
}
