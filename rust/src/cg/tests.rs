use super::*;

/// An objective returning its value and gradient.
type Objective<'a> = &'a dyn Fn(&[f64]) -> (f64, Vec<f64>);

/// Drives a search on `f` (value, gradient) with a finite box; `with_grad` tells gradients.
fn drive(ms: &mut MultiStart, f: Objective, with_grad: bool) -> u64 {
    let mut evals = 0;
    loop {
        match ms.ask() {
            Next::Point(id, x, kind) => {
                evals += 1;
                let (v, g) = f(&x);
                match kind {
                    Kind::Value if with_grad => ms.tell(id, Some(v), Some(&g)),
                    Kind::Value => ms.tell(id, Some(v), None),
                    Kind::Gradient => ms.tell(id, None, Some(&g)),
                };
            }
            Next::Wait => panic!("a sequential driver never waits"),
            Next::Done => return evals,
        }
    }
}

fn unbounded(n: usize) -> Vec<Coord> {
    (0..n)
        .map(|_| Coord {
            role: Role::Continuous {
                lower: -f64::MAX,
                upper: f64::MAX,
                min_step: 0.0,
            },
            parent: None,
        })
        .collect()
}

fn rosen(x: &[f64]) -> (f64, Vec<f64>) {
    let n = x.len();
    let mut f = 0.0;
    let mut g = vec![0.0; n];
    for i in 0..n - 1 {
        let a = x[i + 1] - x[i] * x[i];
        let b = 1.0 - x[i];
        f += 100.0 * a * a + b * b;
        g[i] += -400.0 * x[i] * a - 2.0 * b;
        g[i + 1] += 200.0 * a;
    }
    (f, g)
}

fn rosen_start(n: usize) -> Vec<f64> {
    (0..n)
        .map(|i| if i % 2 == 0 { -1.2 } else { 1.0 })
        .collect()
}

fn run(n: usize, opts: Options, x0: Vec<f64>, f: Objective, grad: bool) -> (MultiStart, u64) {
    let mut ms = MultiStart::new(unbounded(n), opts, 0, Some(0), Some(x0)).unwrap();
    let evals = drive(&mut ms, f, grad);
    (ms, evals)
}

#[test]
fn rosenbrock_with_gradient_every_beta() {
    for beta in [Beta::PrPlus, Beta::HsPlus, Beta::Hz] {
        let mut opts = Options::new(10);
        opts.analytic = true;
        opts.beta = beta;
        let (ms, evals) = run(10, opts, rosen_start(10), &rosen, false);
        let r = &ms.finished[0];
        assert_eq!(r.stop, Stop::Converged, "{beta:?}");
        let x = r.x.as_ref().unwrap();
        assert!(x.iter().all(|v| (v - 1.0).abs() < 1e-4), "{beta:?}: {x:?}");
        // scipy CG needs 437 values and 437 gradients here.
        assert!(evals <= 874, "{beta:?}: {evals} evaluations");
    }
}

#[test]
fn rosenbrock_2_by_forward_differences() {
    let (ms, evals) = run(2, Options::new(2), vec![-1.2, 1.0], &rosen, false);
    let x = ms.finished[0].x.clone().unwrap();
    assert!(
        (x[0] - 1.0).abs() < 1e-4 && (x[1] - 1.0).abs() < 1e-4,
        "{x:?}"
    );
    assert!(evals <= 280, "{evals} evaluations (scipy: 280)");
}

#[test]
fn quadratic_converges_in_few_iterations() {
    let diag: Vec<f64> = (0..20).map(|i| 1.0 + i as f64).collect();
    let f = |x: &[f64]| {
        let g: Vec<f64> = x.iter().zip(&diag).map(|(v, d)| v * d).collect();
        (0.5 * x.iter().zip(&g).map(|(a, b)| a * b).sum::<f64>(), g)
    };
    let mut opts = Options::new(20);
    opts.analytic = true;
    let (ms, _) = run(20, opts, vec![1.0; 20], &f, false);
    let r = &ms.finished[0];
    assert_eq!(r.stop, Stop::Converged);
    assert!(r.x.as_ref().unwrap().iter().all(|v| v.abs() < 1e-5));
    assert!(
        r.counts.iterations < 60,
        "{} iterations",
        r.counts.iterations
    );
}

#[test]
fn bounds_hold_and_the_constrained_minimum_is_found() {
    // min (x - 2)^2 + (y + 1)^2 on [0, 1] x [0, 1]: the corner (1, 0).
    let f = |x: &[f64]| {
        let (a, b) = (x[0] - 2.0, x[1] + 1.0);
        (a * a + b * b, vec![2.0 * a, 2.0 * b])
    };
    let coords: Vec<Coord> = (0..2)
        .map(|_| Coord {
            role: Role::Continuous {
                lower: 0.0,
                upper: 1.0,
                min_step: 0.0,
            },
            parent: None,
        })
        .collect();
    let mut ms =
        MultiStart::new(coords, Options::new(2), 0, Some(0), Some(vec![0.5, 0.5])).unwrap();
    let mut seen = Vec::new();
    while let Next::Point(id, x, _) = ms.ask() {
        assert!(x.iter().all(|v| (0.0..=1.0).contains(v)), "{x:?}");
        seen.push(x.clone());
        ms.tell(id, Some(f(&x).0), None);
    }
    let x = ms.finished[0].x.clone().unwrap();
    assert!((x[0] - 1.0).abs() < 1e-9 && x[1].abs() < 1e-9, "{x:?}");
    assert_eq!(ms.finished[0].stop, Stop::Converged);
}

#[test]
fn nan_on_the_line_steps_back() {
    // Undefined for x > 1.5; minimum of (x - 1)^2 at 1 from 0 (first step overshoots).
    let f = |x: &[f64]| {
        if x[0] > 1.5 {
            (f64::NAN, vec![f64::NAN])
        } else {
            ((x[0] - 1.0).powi(2), vec![2.0 * (x[0] - 1.0)])
        }
    };
    let mut opts = Options::new(1);
    opts.analytic = true;
    let (ms, _) = run(1, opts, vec![-10.0], &f, false);
    let r = &ms.finished[0];
    assert_eq!(r.stop, Stop::Converged);
    assert!((r.x.as_ref().unwrap()[0] - 1.0).abs() < 1e-5);
}

#[test]
fn nan_past_an_extrapolated_step_keeps_the_interval_valid() {
    // Undefined for x > 1.5, minimum of (x - 2)^2 beyond that edge: the line search
    // extrapolates, meets NaN, and must step back without inverting its interval.
    let f = |x: &[f64]| {
        if x[0] > 1.5 {
            (f64::NAN, vec![f64::NAN])
        } else {
            ((x[0] - 2.0).powi(2), vec![2.0 * (x[0] - 2.0)])
        }
    };
    for analytic in [true, false] {
        let mut opts = Options::new(1);
        opts.analytic = analytic;
        let (ms, _) = run(1, opts, vec![0.0], &f, analytic);
        let x = ms.finished[0].x.as_ref().unwrap()[0];
        assert!((0.0..=1.5).contains(&x), "x = {x}");
        assert!(
            x > 1.0,
            "the search should get close to the edge, got x = {x}"
        );
    }
}

#[test]
fn a_non_finite_gradient_at_a_trial_step_steps_back() {
    // The value is finite everywhere, the gradient only for x <= 2; minimum at 3 from 1.
    let f = |x: &[f64]| {
        let g = if x[0] > 2.0 {
            f64::NAN
        } else {
            2.0 * (x[0] - 3.0)
        };
        ((x[0] - 3.0).powi(2), vec![g])
    };
    let mut opts = Options::new(1);
    opts.analytic = true;
    let (ms, _) = run(1, opts, vec![1.0], &f, false);
    let x = ms.finished[0].x.as_ref().unwrap()[0];
    assert!(
        x > 1.5 && x <= 2.0,
        "the descent should move towards 2, got x = {x}"
    );
}

#[test]
fn noisy_quadratic_reaches_the_noise_floor() {
    // 0.5 sum d_i x_i^2 + noise of std 1e-3, deterministic per call.
    let calls = std::cell::Cell::new(0u64);
    let rng = Philox::new(5, 1);
    let f = |x: &[f64]| {
        let i = calls.get();
        calls.set(i + 1);
        let (a, b) = rng.uniform_pair(i, 0);
        let z = (-2.0 * a.ln()).sqrt() * (2.0 * std::f64::consts::PI * b).cos();
        let v: f64 = x
            .iter()
            .enumerate()
            .map(|(i, v)| 0.5 * (1.0 + i as f64) * v * v)
            .sum();
        (v + 1e-3 * z, Vec::<f64>::new())
    };
    let mut opts = Options::new(10);
    opts.noise = Some(1e-3);
    opts.difference = Difference::Central;
    opts.max_evals = Some(700);
    let (ms, evals) = run(10, opts, vec![1.0; 10], &f, false);
    let r = &ms.finished[0];
    let d =
        r.x.as_ref()
            .unwrap()
            .iter()
            .map(|v| v * v)
            .sum::<f64>()
            .sqrt();
    assert!(evals <= 700);
    assert!(d < 0.1, "distance {d}, stop {:?}", r.stop);
}

#[test]
fn state_round_trips_mid_descent() {
    let mut opts = Options::new(4);
    opts.analytic = false;
    let mut a = MultiStart::new(unbounded(4), opts, 3, Some(0), Some(rosen_start(4))).unwrap();
    for _ in 0..37 {
        if let Next::Point(id, x, _) = a.ask() {
            a.tell(id, Some(rosen(&x).0), None);
        }
    }
    let mut b = MultiStart::from_json(&a.to_json().unwrap()).unwrap();
    assert_eq!(a, b);
    for _ in 0..50 {
        match (a.ask(), b.ask()) {
            (Next::Point(i, x, _), Next::Point(j, y, _)) => {
                assert_eq!((i, &x), (j, &y));
                a.tell(i, Some(rosen(&x).0), None);
                b.tell(j, Some(rosen(&y).0), None);
            }
            (p, q) => assert_eq!(p, q),
        }
    }
}

#[test]
fn finite_differences_come_as_one_batch() {
    let coords: Vec<Coord> = (0..3)
        .map(|_| Coord {
            role: Role::Continuous {
                lower: 0.0,
                upper: 1.0,
                min_step: 0.0,
            },
            parent: None,
        })
        .collect();
    let mut ms = MultiStart::new(coords, Options::new(3), 1, None, None).unwrap();
    let Next::Point(id, x, _) = ms.ask() else {
        panic!()
    };
    assert_eq!(ms.ask(), Next::Wait);
    ms.tell(id, Some(x.iter().sum()), None);
    let batch: Vec<u64> = (0..3)
        .map(|_| match ms.ask() {
            Next::Point(id, _, _) => id,
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(ms.ask(), Next::Wait);
    // Told out of order, and one handed out again.
    ms.requeue(batch[1]);
    let Next::Point(again, _, _) = ms.ask() else {
        panic!()
    };
    assert_eq!(again, batch[1]);
    for &id in batch.iter().rev() {
        let (x, _) = ms.point(id).unwrap();
        assert!(ms.tell(id, Some(x.iter().sum()), None));
    }
    assert!(matches!(ms.ask(), Next::Point(..)));
}

#[test]
fn restarts_redraw_choices_and_vary_only_active_coordinates() {
    // A choice of 2 options; coordinate 1 lives under option 0, coordinate 2 under option 1.
    let coords = vec![
        Coord {
            role: Role::Choice { n: 2 },
            parent: None,
        },
        Coord {
            role: Role::Continuous {
                lower: 0.0,
                upper: 1.0,
                min_step: 0.0,
            },
            parent: Some((0, 0)),
        },
        Coord {
            role: Role::Continuous {
                lower: 0.0,
                upper: 1.0,
                min_step: 0.0,
            },
            parent: Some((0, 1)),
        },
    ];
    let f = |x: &[f64]| -> (f64, Vec<f64>) {
        let v = if x[0] == 0.0 {
            (x[1] - 0.3).powi(2)
        } else {
            1.0 + (x[2] - 0.7).powi(2)
        };
        (v, vec![])
    };
    let mut ms = MultiStart::new(coords, Options::new(2), 9, Some(7), None).unwrap();
    let mut choices = std::collections::BTreeSet::new();
    while let Next::Point(id, x, _) = ms.ask() {
        choices.insert(x[0] as i64);
        let active = ms.active().to_vec();
        assert_eq!(active, if x[0] == 0.0 { vec![1] } else { vec![2] });
        ms.tell(id, Some(f(&x).0), None);
    }
    assert_eq!(ms.finished.len(), 8);
    assert_eq!(
        choices.len(),
        2,
        "both options are visited over the restarts"
    );
    let best = ms
        .finished
        .iter()
        .filter_map(|r| r.f)
        .fold(f64::INFINITY, f64::min);
    assert!(best < 1e-8);
}

#[test]
fn ask_into_writes_what_ask_returns() {
    // All coordinates active (copied whole) and some inactive (filled from the start point).
    let choice = |n, parent| Coord {
        role: Role::Choice { n },
        parent,
    };
    let unit = |parent| Coord {
        role: Role::Continuous {
            lower: 0.0,
            upper: 1.0,
            min_step: 0.0,
        },
        parent,
    };
    let layouts = [
        unbounded(3),
        vec![
            choice(2, None),
            unit(Some((0, 0))),
            unit(Some((0, 1))),
            unit(None),
        ],
    ];
    for coords in layouts {
        let f = |x: &[f64]| x.iter().map(|v| (v - 0.3).powi(2)).sum::<f64>();
        let mut a = MultiStart::new(coords.clone(), Options::new(3), 4, Some(3), None).unwrap();
        let mut b = MultiStart::new(coords, Options::new(3), 4, Some(3), None).unwrap();
        let mut out = vec![f64::NAN; a.coords.len()];
        loop {
            let next = a.ask();
            let step = b.ask_into(&mut out);
            match (next, step) {
                (Next::Point(i, x, k), Step::Point(j, l)) => {
                    assert_eq!((i, k), (j, l));
                    assert_eq!(x, out);
                    a.tell(i, Some(f(&x)), None);
                    b.tell(j, Some(f(&out)), None);
                }
                (Next::Done, Step::Done) => break,
                other => panic!("ask and ask_into disagree: {other:?}"),
            }
        }
        assert_eq!(a, b);
    }
}

#[test]
fn bad_options_and_starts_are_rejected() {
    assert!(MultiStart::new(
        unbounded(2),
        Options::new(2),
        0,
        Some(0),
        Some(vec![f64::NAN, 0.0])
    )
    .is_err());
    let mut o = Options::new(2);
    o.c2 = 1e-5;
    assert!(MultiStart::new(unbounded(2), o, 0, Some(0), Some(vec![0.0, 0.0])).is_err());
    assert!(Beta::parse("pr").is_err());
}
