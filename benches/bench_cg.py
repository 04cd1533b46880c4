"""Gradient search against scipy's CG, side by side in one run.

Evaluation counts per problem (analytic gradients: calls of fun plus calls of jac; finite
differences: calls of fun), accuracy, the noisy quadratic, optimizer overhead per iteration,
and the tuner comparison (Branin and Hartmann-6 on hyperparameter-like spaces: GradientSearch
against RandomSearch and, when installed, Optuna's TPE).

Run with ``ferrotune bench cg [--quick]``.
"""

from __future__ import annotations

import logging
import math
import statistics
import time
from collections.abc import Callable
from typing import Any

import numpy as np
from _harness import Row, optional

import ferrotune as ft

SUITE = "cg"
Problem = tuple[str, Callable[[np.ndarray], float], Callable[[np.ndarray], np.ndarray], Any, Any]


# -- problems -------------------------------------------------------------------------------


def rosen(x: np.ndarray) -> float:
    return float(np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2))


def rosen_der(x: np.ndarray) -> np.ndarray:
    g = np.zeros_like(x)
    a = x[1:] - x[:-1] ** 2
    g[:-1] = -400.0 * x[:-1] * a - 2.0 * (1.0 - x[:-1])
    g[1:] += 200.0 * a
    return g


def rosen_start(n: int) -> np.ndarray:
    return np.array([-1.2 if i % 2 == 0 else 1.0 for i in range(n)])


def rotated_quadratic(n: int, cond: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    q, _ = np.linalg.qr(rng.standard_normal((n, n)))
    return (q * np.logspace(0, math.log10(cond), n)) @ q.T


_A50 = rotated_quadratic(50, 1e3, 0)


def quad50(x: np.ndarray) -> float:
    return float(0.5 * x @ _A50 @ x)


def quad50_der(x: np.ndarray) -> np.ndarray:
    return _A50 @ x


def beale(x: np.ndarray) -> float:
    a, b = x
    return (1.5 - a + a * b) ** 2 + (2.25 - a + a * b * b) ** 2 + (2.625 - a + a * b**3) ** 2


def beale_der(x: np.ndarray) -> np.ndarray:
    a, b = x
    t1, t2, t3 = 1.5 - a + a * b, 2.25 - a + a * b * b, 2.625 - a + a * b**3
    return np.array(
        [
            2 * t1 * (b - 1) + 2 * t2 * (b * b - 1) + 2 * t3 * (b**3 - 1),
            2 * t1 * a + 4 * t2 * a * b + 6 * t3 * a * b * b,
        ]
    )


def booth(x: np.ndarray) -> float:
    a, b = x
    return (a + 2 * b - 7) ** 2 + (2 * a + b - 5) ** 2


def booth_der(x: np.ndarray) -> np.ndarray:
    a, b = x
    u, w = a + 2 * b - 7, 2 * a + b - 5
    return np.array([2 * u + 4 * w, 4 * u + 2 * w])


def himmelblau(x: np.ndarray) -> float:
    a, b = x
    return (a * a + b - 11) ** 2 + (a + b * b - 7) ** 2


def himmelblau_der(x: np.ndarray) -> np.ndarray:
    a, b = x
    u, w = a * a + b - 11, a + b * b - 7
    return np.array([4 * a * u + 2 * w, 2 * u + 4 * b * w])


def problems() -> list[Problem]:
    """(name, f, gradient, start, known minimiser) for the noise-free suite."""
    return [
        ("rosenbrock-2", rosen, rosen_der, rosen_start(2), np.ones(2)),
        ("rosenbrock-10", rosen, rosen_der, rosen_start(10), np.ones(10)),
        ("rosenbrock-100", rosen, rosen_der, rosen_start(100), np.ones(100)),
        ("quadratic-50 cond 1e3", quad50, quad50_der, np.ones(50), np.zeros(50)),
        ("beale", beale, beale_der, np.array([1.0, 1.0]), np.array([3.0, 0.5])),
        ("booth", booth, booth_der, np.zeros(2), np.array([1.0, 3.0])),
        ("himmelblau", himmelblau, himmelblau_der, np.zeros(2), np.array([3.0, 2.0])),
    ]


_A10 = rotated_quadratic(10, 10.0, 1)


def noisy_quadratic(seed: int) -> Callable[[np.ndarray], float]:
    """0.5 x'Ax (eigenvalues 1 to 10, rotated) plus N(0, 1e-3^2) noise on every value."""
    rng = np.random.default_rng(seed)

    def f(x: np.ndarray) -> float:
        return float(0.5 * x @ _A10 @ x + 1e-3 * rng.standard_normal())

    return f


# -- the optimisation suite -----------------------------------------------------------------


def _scipy_counts(res: Any, analytic: bool) -> int:
    return int(res.nfev + (res.njev if analytic else 0))


def _suite(rows: list[Row], quick: bool) -> None:
    so = optional("scipy.optimize")
    probs = problems()
    if quick:
        probs = [p for p in probs if p[0] != "rosenbrock-100"]
    totals = {"ft": 0, "scipy": 0}
    worst = 0.0
    for name, f, g, x0, xstar in probs:
        res = ft.minimize(f, x0, jac=g)
        err = float(np.max(np.abs(res.x - xstar)))
        ours = res.nfev + res.njev
        theirs = None
        note = f"max err {err:.1e}"
        if so is not None:
            sres = so.minimize(f, x0, jac=g, method="CG")
            theirs = _scipy_counts(sres, True)
            serr = float(np.max(np.abs(sres.x - xstar)))
            note += f" (scipy {serr:.1e})"
            totals["ft"] += ours
            totals["scipy"] += theirs
            worst = max(worst, ours / theirs)
        rows.append(
            Row(SUITE, f"{name}: nfev+njev", ours, "scipy CG", theirs, "evals", ">= 1x", note)
        )
    if so is not None:
        rows.append(
            Row(
                SUITE,
                "noise-free total: nfev+njev",
                totals["ft"],
                "scipy CG",
                totals["scipy"],
                "evals",
                ">= 1.18x (0.85x the evals)",
                f"worst problem {worst:.2f}x scipy's count",
            )
        )

    # Finite differences.
    totals = {"ft": 0, "scipy": 0}
    for name, f, _, x0, xstar in probs:
        if quick and name == "quadratic-50 cond 1e3":
            continue
        res = ft.minimize(f, x0)
        err = float(np.max(np.abs(res.x - xstar)))
        theirs = None
        note = f"max err {err:.1e}, {res.njev} gradients"
        if so is not None and not (name == "rosenbrock-100"):
            sres = so.minimize(f, x0, method="CG")
            theirs = int(sres.nfev)
            note += f" (scipy {float(np.max(np.abs(sres.x - xstar))):.1e})"
            totals["ft"] += res.nfev
            totals["scipy"] += theirs
        elif name == "rosenbrock-100":
            theirs = 208262  # scipy 1.17, measured once (notes/gradient-search.md): 2 minutes
            note += " (scipy count from the notes, not rerun)"
        rows.append(
            Row(SUITE, f"{name}: FD nfev", res.nfev, "scipy CG", theirs, "evals", ">= 1x", note)
        )
    if so is not None:
        rows.append(
            Row(
                SUITE,
                "finite differences total",
                totals["ft"],
                "scipy CG",
                totals["scipy"],
                "evals",
                ">= 1x",
                "",
            )
        )


def _noisy(rows: list[Row], quick: bool) -> None:
    so = optional("scipy.optimize")
    seeds = range(5 if quick else 10)
    ours, theirs, evals = [], [], []
    for s in seeds:
        res = ft.minimize(noisy_quadratic(s), np.ones(10), noise=1e-3, max_evals=700)
        ours.append(float(np.linalg.norm(res.x)))
        evals.append(res.nfev)
        if so is not None:
            sres = so.minimize(noisy_quadratic(s), np.ones(10), method="CG")
            theirs.append(float(np.linalg.norm(sres.x)))
    rows.append(
        Row(
            SUITE,
            "noisy quadratic-10: median distance to x*",
            statistics.median(ours),
            "scipy CG",
            statistics.median(theirs) if theirs else None,
            "",
            "<= 0.02 in 700 evals",
            f"at most {max(evals)} evaluations; start distance {math.sqrt(10):.2f}",
        )
    )


def _random_starts(rows: list[Row], quick: bool) -> None:
    so = optional("scipy.optimize")
    rng = np.random.default_rng(7)
    starts = rng.uniform(-2.0, 2.0, size=(3 if quick else 10, 10))
    ours = theirs = 0
    hits = [0, 0]
    for x0 in starts:
        res = ft.minimize(rosen, x0, jac=rosen_der)
        ours += res.nfev + res.njev
        hits[0] += int(np.max(np.abs(res.x - 1.0)) < 1e-4)
        if so is not None:
            sres = so.minimize(rosen, x0, jac=rosen_der, method="CG")
            theirs += _scipy_counts(sres, True)
            hits[1] += int(np.max(np.abs(sres.x - 1.0)) < 1e-4)
    rows.append(
        Row(
            SUITE,
            f"rosenbrock-10 from {len(starts)} random starts: nfev+njev",
            ours,
            "scipy CG",
            theirs if so is not None else None,
            "evals",
            ">= 1x",
            f"global minimum reached {hits[0]}/{len(starts)} (scipy {hits[1]})",
        )
    )


def _overhead(rows: list[Row], quick: bool) -> None:
    """Seconds per iteration spent outside the objective (timed and subtracted)."""
    so = optional("scipy.optimize")
    x0 = rosen_start(100)
    spent = [0.0]

    def timed(fn: Callable[[np.ndarray], Any]) -> Callable[[np.ndarray], Any]:
        def wrapped(x: np.ndarray) -> Any:
            t0 = time.perf_counter()
            out = fn(x)
            spent[0] += time.perf_counter() - t0
            return out

        return wrapped

    def per_iter(run: Callable[[], Any]) -> float:
        best = math.inf
        for _ in range(2 if quick else 5):
            spent[0] = 0.0
            t0 = time.perf_counter()
            res = run()
            total = time.perf_counter() - t0
            best = min(best, (total - spent[0]) / max(res.nit, 1))
        return best

    ours = per_iter(lambda: ft.minimize(timed(rosen), x0, jac=timed(rosen_der)))
    theirs = None
    if so is not None:
        theirs = per_iter(lambda: so.minimize(timed(rosen), x0, jac=timed(rosen_der), method="CG"))
    rows.append(
        Row(
            SUITE,
            "overhead per iteration (rosenbrock-100)",
            ours,
            "scipy CG",
            theirs,
            "s",
            ">= 10x",
            "wall time minus time inside fun and jac",
        )
    )


# -- the tuner comparison -------------------------------------------------------------------

BRANIN_MIN = 0.397887357729739
HARTMANN_MIN = -3.32236801141551
_H_A = np.array(
    [
        [10, 3, 17, 3.5, 1.7, 8],
        [0.05, 10, 17, 0.1, 8, 14],
        [3, 3.5, 1.7, 10, 17, 8],
        [17, 8, 0.05, 10, 0.1, 14],
    ]
)
_H_P = 1e-4 * np.array(
    [
        [1312, 1696, 5569, 124, 8283, 5886],
        [2329, 4135, 8307, 3736, 1004, 9991],
        [2348, 1451, 3522, 2883, 3047, 6650],
        [4047, 8828, 8732, 5743, 1091, 381],
    ]
)
_H_ALPHA = np.array([1.0, 1.2, 3.0, 3.2])


def branin_xy(x1: float, x2: float) -> float:
    b, c, t = 5.1 / (4 * math.pi**2), 5 / math.pi, 1 / (8 * math.pi)
    return (x2 - b * x1 * x1 + c * x1 - 6) ** 2 + 10 * (1 - t) * math.cos(x1) + 10


def hartmann6(x: np.ndarray) -> float:
    return float(-np.sum(_H_ALPHA * np.exp(-np.sum(_H_A * (x - _H_P) ** 2, axis=1))))


# Hyperparameter-like spaces: a log-scaled "learning rate" and plain ones, mapped onto the
# test functions' domains (the log dimension is linear in the function's coordinate).
BRANIN_SPACE = {"lr": ft.Float(1e-5, 1e-2, log=True), "momentum": ft.Float(0.0, 15.0)}
HARTMANN_SPACE = {
    "lr": ft.Float(1e-5, 1e-1, log=True),
    "weight_decay": ft.Float(1e-6, 1e-2, log=True),
    "dropout": ft.Float(0.0, 0.5),
    "warmup": ft.Float(0.0, 1.0),
    "beta1": ft.Float(0.8, 1.0),
    "label_smoothing": ft.Float(0.0, 0.2),
}


def branin_params(p: dict[str, Any]) -> float:
    x1 = -5.0 + 15.0 * (math.log10(p["lr"]) + 5.0) / 3.0
    return branin_xy(x1, p["momentum"])


def hartmann_params(p: dict[str, Any]) -> float:
    x = np.array(
        [
            (math.log10(p["lr"]) + 5.0) / 4.0,
            (math.log10(p["weight_decay"]) + 6.0) / 4.0,
            p["dropout"] / 0.5,
            p["warmup"],
            (p["beta1"] - 0.8) / 0.2,
            p["label_smoothing"] / 0.2,
        ]
    )
    return hartmann6(np.clip(x, 0.0, 1.0))


def _evals_to_target(
    make: Callable[[int], ft.Searcher],
    f: Callable[[dict[str, Any]], float],
    target: float,
    seed: int,
    budget: int,
) -> int:
    """Trials until the best value is within `target`, or budget + 1 if never."""
    searcher = make(seed)
    study = ft.Study(searcher)
    for i in range(budget):
        trial = study.ask()
        value = f(trial.params)
        study.tell(trial, value)
        if value <= target:
            return i + 1
    return budget + 1


def _tpe_evals(
    space: dict[str, Any],
    f: Callable[[dict[str, Any]], float],
    target: float,
    seed: int,
    budget: int,
) -> int:
    optuna = optional("optuna")
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(sampler=optuna.samplers.TPESampler(seed=seed))
    for i in range(budget):
        trial = study.ask()
        params = {
            name: trial.suggest_float(name, d.low, d.high, log=d.log) for name, d in space.items()
        }
        value = f(params)
        study.tell(trial, value)
        if value <= target:
            return i + 1
    return budget + 1


def _tuner(rows: list[Row], quick: bool) -> None:
    seeds = range(3 if quick else 10)
    cases = [
        ("branin", BRANIN_SPACE, branin_params, BRANIN_MIN + 0.01 * abs(BRANIN_MIN), 3000),
        ("hartmann-6", HARTMANN_SPACE, hartmann_params, HARTMANN_MIN * 0.99, 10000),
    ]
    for name, space, f, target, budget in cases:
        if quick:
            budget //= 4
        grad = [
            _evals_to_target(
                lambda s, space=space: ft.GradientSearch(space, seed=s), f, target, s, budget
            )
            for s in seeds
        ]
        rand = [
            _evals_to_target(
                lambda s, space=space: ft.RandomSearch(space, seed=s), f, target, s, budget
            )
            for s in seeds
        ]
        gm, rm = statistics.median(grad), statistics.median(rand)
        rows.append(
            Row(
                SUITE,
                f"{name}: trials to within 1% (median of {len(seeds)})",
                gm,
                "RandomSearch",
                rm,
                "evals",
                "> 1x",
                f"budget {budget}; a value of {budget + 1} means never",
            )
        )
        if optional("optuna") is not None:
            # TPE's cost per trial grows with the trials; 300 keeps the run to minutes.
            tpe_budget = min(budget, 100 if quick else 300)
            tpe = [_tpe_evals(space, f, target, s, tpe_budget) for s in seeds]
            rows.append(
                Row(
                    SUITE,
                    f"{name}: trials to within 1% (median of {len(seeds)})",
                    gm,
                    "Optuna TPE",
                    statistics.median(tpe),
                    "evals",
                    "",
                    f"TPE budget {tpe_budget}; {tpe_budget + 1} means never",
                )
            )


def run(quick: bool) -> list[Row]:
    logging.getLogger("ferrotune").setLevel(logging.WARNING)
    rows: list[Row] = []
    _suite(rows, quick)
    _noisy(rows, quick)
    _random_starts(rows, quick)
    _overhead(rows, quick)
    _tuner(rows, quick)
    return rows
