//! Line searches as reverse-communication state machines: they name a step length, the caller
//! evaluates the objective there and reports back, until a step is accepted or the search
//! gives up.
//!
//! [`MoreThuente`] is the strong-Wolfe search of Moré and Thuente (ACM TOMS 20, 1994), the
//! algorithm behind MINPACK-2's `dcsrch` that scipy's CG uses, with one change that saves
//! evaluations: the slope at a trial step is asked for only when the step passes the
//! sufficient-decrease test or lowers the best value. A step that fails both is interpolated
//! from values alone (the slope there is estimated from a quadratic through the best point).
//!
//! [`Backtrack`] is the relaxed Armijo backtracking of Berahas, Byrd and Nocedal (SIAM J.
//! Optim. 29, 2019) for noisy objectives: a step is accepted when it decreases the objective
//! by the Armijo amount less twice the noise level, so noise cannot make every step fail.

use serde::{Deserialize, Serialize};

/// What a line search wants next.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum LsStep {
    /// Evaluate the objective at this step length, then call `value`.
    Value(f64),
    /// The value at the current step is known; report the slope there with `slope`.
    Slope,
    /// The current step is accepted.
    Accept(f64),
    /// No acceptable step was found. `best` is the best step seen with a known slope, if any
    /// lowered the objective.
    Fail { best: Option<f64> },
}

const XTRAPL: f64 = 1.1;
const XTRAPU: f64 = 4.0;
/// Evaluations on one line before the search gives up (MINPACK allows the caller to choose).
const MAX_TRIES: u32 = 20;

/// The Moré-Thuente strong-Wolfe line search.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MoreThuente {
    ftol: f64,
    gtol: f64,
    xtol: f64,
    stpmin: f64,
    stpmax: f64,
    finit: f64,
    ginit: f64,
    gtest: f64,
    stage2: bool,
    brackt: bool,
    width: f64,
    width1: f64,
    stx: f64,
    fx: f64,
    gx: f64,
    sty: f64,
    fy: f64,
    gy: f64,
    stmin: f64,
    stmax: f64,
    stp: f64,
    /// The value at `stp`, waiting for its slope.
    fstp: f64,
    tries: u32,
    /// Steps above this gave a non-finite value: the search stays below it.
    ceiling: f64,
    /// The best step with a known slope that lowered the value.
    best: Option<f64>,
}

impl MoreThuente {
    /// Starts a search from value `f0` and slope `g0 < 0` at step 0, trying `stp` first,
    /// within `[stpmin, stpmax]`. `ftol` is the sufficient-decrease constant (c1), `gtol` the
    /// curvature constant (c2).
    pub fn new(f0: f64, g0: f64, stp: f64, stpmin: f64, stpmax: f64, ftol: f64, gtol: f64) -> Self {
        let stp = stp.clamp(stpmin, stpmax);
        let width = stpmax - stpmin;
        MoreThuente {
            ftol,
            gtol,
            xtol: 1e-14,
            stpmin,
            stpmax,
            finit: f0,
            ginit: g0,
            gtest: ftol * g0,
            stage2: false,
            brackt: false,
            width,
            width1: 2.0 * width,
            stx: 0.0,
            fx: f0,
            gx: g0,
            sty: 0.0,
            fy: f0,
            gy: g0,
            stmin: 0.0,
            stmax: stp + XTRAPU * stp,
            stp,
            fstp: 0.0,
            tries: 0,
            ceiling: f64::MAX,
            best: None,
        }
    }

    /// The first step to evaluate.
    pub fn first(&self) -> LsStep {
        LsStep::Value(self.stp)
    }

    /// The step being evaluated.
    pub fn step(&self) -> f64 {
        self.stp
    }

    /// Reports the value at the current step.
    pub fn value(&mut self, f: f64) -> LsStep {
        self.tries += 1;
        if !f.is_finite() {
            // Step back: halfway towards the best point, never beyond this step again.
            self.ceiling = self.stp;
            self.stmax = self.stmax.min(self.stp);
            // An extrapolation may have put the lower end above the new ceiling; dcstep
            // clamps into [stmin, stmax], which must stay an interval.
            self.stmin = self.stmin.min(self.stmax);
            self.stp = self.stx + 0.5 * (self.stp - self.stx);
            return self.next_or_fail();
        }
        self.fstp = f;
        let ftest = self.finit + self.stp * self.gtest;
        if f > ftest && f > self.fx {
            // Case 1 of dcstep needs no slope: estimate it from a quadratic.
            let d = self.stp - self.stx;
            let c = (f - self.fx - self.gx * d) / (d * d);
            let g = self.gx + 2.0 * c * d;
            return self.update(f, g, false);
        }
        LsStep::Slope
    }

    /// Reports the slope at the current step (after `value` answered `Slope`).
    pub fn slope(&mut self, g: f64) -> LsStep {
        let f = self.fstp;
        if f < self.finit && self.best.is_none_or(|_| f <= self.fx) {
            self.best = Some(self.stp);
        }
        self.update(f, g, true)
    }

    fn next_or_fail(&mut self) -> LsStep {
        if self.tries >= MAX_TRIES || self.stp <= self.stpmin {
            return LsStep::Fail { best: self.best };
        }
        LsStep::Value(self.stp)
    }

    fn update(&mut self, f: f64, g: f64, known: bool) -> LsStep {
        let stp = self.stp;
        let ftest = self.finit + stp * self.gtest;
        if !self.stage2 && known && f <= ftest && g >= 0.0 {
            self.stage2 = true;
        }

        // Convergence and the ends of the interval.
        if known && f <= ftest && g.abs() <= self.gtol * (-self.ginit) {
            return LsStep::Accept(stp);
        }
        if stp >= self.stpmax.min(self.ceiling) && known && f <= ftest && g <= self.gtest {
            return LsStep::Accept(stp);
        }
        if self.brackt && (stp <= self.stmin || stp >= self.stmax) {
            return self.fail_or_sufficient(f, ftest, known);
        }
        if self.brackt && self.stmax - self.stmin <= self.xtol * self.stmax {
            return self.fail_or_sufficient(f, ftest, known);
        }
        if stp <= self.stpmin && (f > ftest || g >= self.gtest) {
            return LsStep::Fail { best: self.best };
        }
        if self.tries >= MAX_TRIES {
            return self.fail_or_sufficient(f, ftest, known);
        }

        // A safeguarded step, on the modified function in stage 1 while it pays.
        if !self.stage2 && f <= self.fx && f > ftest {
            let gt = self.gtest;
            let mut fxm = self.fx - self.stx * gt;
            let mut fym = self.fy - self.sty * gt;
            let mut gxm = self.gx - gt;
            let mut gym = self.gy - gt;
            let fm = f - stp * gt;
            let gm = g - gt;
            self.dcstep(&mut fxm, &mut gxm, &mut fym, &mut gym, fm, gm);
            self.fx = fxm + self.stx * gt;
            self.fy = fym + self.sty * gt;
            self.gx = gxm + gt;
            self.gy = gym + gt;
        } else {
            let (mut fx, mut gx, mut fy, mut gy) = (self.fx, self.gx, self.fy, self.gy);
            self.dcstep(&mut fx, &mut gx, &mut fy, &mut gy, f, g);
            (self.fx, self.gx, self.fy, self.gy) = (fx, gx, fy, gy);
        }

        // Bisect when the interval does not shrink fast enough.
        if self.brackt {
            if (self.sty - self.stx).abs() >= 0.66 * self.width1 {
                self.stp = self.stx + 0.5 * (self.sty - self.stx);
            }
            self.width1 = self.width;
            self.width = (self.sty - self.stx).abs();
        }
        if self.brackt {
            self.stmin = self.stx.min(self.sty);
            self.stmax = self.stx.max(self.sty);
        } else {
            self.stmin = self.stp + XTRAPL * (self.stp - self.stx);
            self.stmax = self.stp + XTRAPU * (self.stp - self.stx);
        }
        self.stp = self.stp.clamp(self.stpmin, self.stpmax);
        if self.stp >= self.ceiling {
            self.stp = self.stx + 0.5 * (self.ceiling - self.stx);
        }
        if self.brackt
            && (self.stp <= self.stmin
                || self.stp >= self.stmax
                || self.stmax - self.stmin <= self.xtol * self.stmax)
        {
            self.stp = self.stx;
        }
        if self.stp == self.stx && self.stx > 0.0 && self.best.is_some() {
            // Nothing new to try: the best point is the answer.
            return LsStep::Fail { best: self.best };
        }
        LsStep::Value(self.stp)
    }

    fn fail_or_sufficient(&self, f: f64, ftest: f64, known: bool) -> LsStep {
        if known && f <= ftest && f < self.finit {
            return LsStep::Accept(self.stp);
        }
        LsStep::Fail { best: self.best }
    }

    /// One safeguarded step of the interval update (MINPACK-2 `dcstep`), on the current
    /// interval ends (stx, fx, dx) and (sty, fy, dy) and trial (stp, fp, dp).
    fn dcstep(&mut self, fx: &mut f64, dx: &mut f64, fy: &mut f64, dy: &mut f64, fp: f64, dp: f64) {
        let (stx, sty, stp) = (self.stx, self.sty, self.stp);
        let (stpmin, stpmax) = (self.stmin, self.stmax);
        let sgnd = dp * dx.signum();
        let stpf;
        if fp > *fx {
            // Case 1: a higher value; the minimum is bracketed.
            let theta = 3.0 * (*fx - fp) / (stp - stx) + *dx + dp;
            let s = theta.abs().max(dx.abs()).max(dp.abs());
            let mut gamma = s * ((theta / s).powi(2) - (*dx / s) * (dp / s)).max(0.0).sqrt();
            if stp < stx {
                gamma = -gamma;
            }
            let p = (gamma - *dx) + theta;
            let q = ((gamma - *dx) + gamma) + dp;
            let stpc = stx + (p / q) * (stp - stx);
            let stpq = stx + ((*dx / ((*fx - fp) / (stp - stx) + *dx)) / 2.0) * (stp - stx);
            stpf = if (stpc - stx).abs() < (stpq - stx).abs() || !stpc.is_finite() {
                if stpc.is_finite() {
                    stpc
                } else {
                    stpq
                }
            } else {
                stpc + (stpq - stpc) / 2.0
            };
            self.brackt = true;
        } else if sgnd < 0.0 {
            // Case 2: lower value, slopes of opposite sign; bracketed.
            let theta = 3.0 * (*fx - fp) / (stp - stx) + *dx + dp;
            let s = theta.abs().max(dx.abs()).max(dp.abs());
            let mut gamma = s * ((theta / s).powi(2) - (*dx / s) * (dp / s)).max(0.0).sqrt();
            if stp > stx {
                gamma = -gamma;
            }
            let p = (gamma - dp) + theta;
            let q = ((gamma - dp) + gamma) + *dx;
            let stpc = stp + (p / q) * (stx - stp);
            let stpq = stp + (dp / (dp - *dx)) * (stx - stp);
            stpf = if (stpc - stp).abs() > (stpq - stp).abs() {
                stpc
            } else {
                stpq
            };
            self.brackt = true;
        } else if dp.abs() < dx.abs() {
            // Case 3: lower value, same sign, the slope decreases in magnitude.
            let theta = 3.0 * (*fx - fp) / (stp - stx) + *dx + dp;
            let s = theta.abs().max(dx.abs()).max(dp.abs());
            let mut gamma = s * ((theta / s).powi(2) - (*dx / s) * (dp / s)).max(0.0).sqrt();
            if stp > stx {
                gamma = -gamma;
            }
            let p = (gamma - dp) + theta;
            let q = (gamma + (*dx - dp)) + gamma;
            let r = p / q;
            let stpc = if r < 0.0 && gamma != 0.0 {
                stp + r * (stx - stp)
            } else if stp > stx {
                stpmax
            } else {
                stpmin
            };
            let stpq = stp + (dp / (dp - *dx)) * (stx - stp);
            if self.brackt {
                let mut f = if (stpc - stp).abs() < (stpq - stp).abs() {
                    stpc
                } else {
                    stpq
                };
                f = if stp > stx {
                    f.min(stp + 0.66 * (sty - stp))
                } else {
                    f.max(stp + 0.66 * (sty - stp))
                };
                stpf = f;
            } else {
                let f = if (stpc - stp).abs() > (stpq - stp).abs() {
                    stpc
                } else {
                    stpq
                };
                stpf = f.clamp(stpmin, stpmax);
            }
        } else {
            // Case 4: lower value, same sign, the slope does not decrease.
            stpf = if self.brackt {
                let theta = 3.0 * (fp - *fy) / (sty - stp) + *dy + dp;
                let s = theta.abs().max(dy.abs()).max(dp.abs());
                let mut gamma = s * ((theta / s).powi(2) - (*dy / s) * (dp / s)).max(0.0).sqrt();
                if stp > sty {
                    gamma = -gamma;
                }
                let p = (gamma - dp) + theta;
                let q = ((gamma - dp) + gamma) + *dy;
                stp + (p / q) * (sty - stp)
            } else if stp > stx {
                stpmax
            } else {
                stpmin
            };
        }

        // Update the interval that contains a minimiser.
        if fp > *fx {
            self.sty = stp;
            *fy = fp;
            *dy = dp;
        } else {
            if sgnd < 0.0 {
                self.sty = stx;
                *fy = *fx;
                *dy = *dx;
            }
            self.stx = stp;
            *fx = fp;
            *dx = dp;
        }
        self.stp = if stpf.is_finite() {
            stpf
        } else {
            self.stx + 0.5 * (self.sty - self.stx)
        };
    }
}

/// Relaxed Armijo backtracking for noisy objectives.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Backtrack {
    f0: f64,
    g0: f64,
    c1: f64,
    /// The allowance for noise in the decrease test (twice the noise level).
    slack: f64,
    stp: f64,
    stpmax: f64,
    tries: u32,
    max_tries: u32,
    /// A step has passed the relaxed test only; the next one is accepted on the relaxed test.
    interpolated: bool,
}

impl Backtrack {
    /// Starts from value `f0` and slope `g0 < 0`, trying `stp` (at most `stpmax`) first.
    pub fn new(f0: f64, g0: f64, stp: f64, stpmax: f64, c1: f64, slack: f64) -> Self {
        Backtrack {
            f0,
            g0,
            c1,
            slack,
            stp: stp.min(stpmax),
            stpmax,
            tries: 0,
            max_tries: 12,
            interpolated: false,
        }
    }

    /// The first step to evaluate.
    pub fn first(&self) -> LsStep {
        LsStep::Value(self.stp)
    }

    /// Reports the value at the current step.
    pub fn value(&mut self, f: f64) -> LsStep {
        self.tries += 1;
        let stp = self.stp;
        let armijo = self.f0 + self.c1 * stp * self.g0;
        if f.is_finite() && (f <= armijo || (self.interpolated && f <= armijo + self.slack)) {
            return LsStep::Accept(stp);
        }
        // A step that passes only thanks to the noise allowance made little progress: try
        // the minimiser of the quadratic model once before accepting such a step, or a
        // search could bounce across the minimum forever.
        let relaxed = f.is_finite() && f <= armijo + self.slack;
        if relaxed && self.interpolated {
            return LsStep::Accept(stp);
        }
        self.interpolated = relaxed || self.interpolated;
        if self.tries >= self.max_tries {
            return LsStep::Fail { best: None };
        }
        // The minimiser of the quadratic through f0, g0 and f, kept within [0.1, 0.5] stp.
        let curv = f - self.f0 - self.g0 * stp;
        let q = if f.is_finite() && curv > 0.0 {
            -self.g0 * stp * stp / (2.0 * curv)
        } else {
            0.5 * stp
        };
        self.stp = q.clamp(0.1 * stp, 0.5 * stp).min(self.stpmax);
        LsStep::Value(self.stp)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs a search on phi(t) = f(x + t p) given as a closure returning (value, slope).
    fn run(phi: impl Fn(f64) -> (f64, f64), stp: f64) -> (Option<f64>, usize) {
        let (f0, g0) = phi(0.0);
        let mut ls = MoreThuente::new(f0, g0, stp, 0.0, 1e10, 1e-4, 0.4);
        let mut step = ls.first();
        let mut evals = 0;
        loop {
            match step {
                LsStep::Value(t) => {
                    evals += 1;
                    step = ls.value(phi(t).0);
                }
                LsStep::Slope => step = ls.slope(phi(ls.step()).1),
                LsStep::Accept(t) => return (Some(t), evals),
                LsStep::Fail { best } => return (best, evals),
            }
        }
    }

    #[test]
    fn accepts_strong_wolfe_step_on_a_quadratic() {
        // phi(t) = (t - 3)^2: minimum at 3, slope -6 at 0.
        let phi = |t: f64| ((t - 3.0).powi(2), 2.0 * (t - 3.0));
        let (t, evals) = run(phi, 1.0);
        let t = t.unwrap();
        assert!((phi(t).1).abs() <= 0.4 * 6.0, "step {t}");
        assert!(phi(t).0 <= 9.0 - 1e-4 * 6.0 * t);
        assert!(evals <= 4, "{evals} evaluations");
    }

    #[test]
    fn shrinks_from_a_long_step() {
        let phi = |t: f64| ((t - 0.01).powi(2), 2.0 * (t - 0.01));
        let (t, _) = run(phi, 100.0);
        let t = t.unwrap();
        assert!((t - 0.01).abs() < 0.01, "step {t}");
    }

    #[test]
    fn steps_back_from_non_finite_values() {
        // Undefined beyond t = 2; minimum at 1.5.
        let phi = |t: f64| {
            if t > 2.0 {
                (f64::NAN, f64::NAN)
            } else {
                ((t - 1.5).powi(2), 2.0 * (t - 1.5))
            }
        };
        let (t, _) = run(phi, 50.0);
        let t = t.unwrap();
        assert!(t <= 2.0 && (phi(t).1).abs() <= 0.4 * 3.0, "step {t}");
    }

    #[test]
    fn backtracking_allows_for_noise() {
        // A flat line with noise 1e-3: the relaxed test accepts, the plain one would not.
        let mut bt = Backtrack::new(1.0, -1e-6, 1.0, 10.0, 1e-4, 2e-3);
        // Passing only on the allowance: one interpolated step is tried, then accepted.
        let LsStep::Value(t) = bt.value(1.0015) else {
            panic!()
        };
        assert!(t < 1.0);
        assert_eq!(bt.value(1.0012), LsStep::Accept(t));
        let mut strict = Backtrack::new(1.0, -1e-6, 1.0, 10.0, 1e-4, 0.0);
        assert!(matches!(strict.value(1.0015), LsStep::Value(t) if t < 1.0));
    }
}
