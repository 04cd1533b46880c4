"""ferrotune.minimize and ferrotune.GradientSearch: convergence, bounds, noise, bad input,
batching, told gradients, resume and replay determinism."""

from __future__ import annotations

import json
import math
import pickle

import numpy as np
import pytest

import ferrotune as ft
from ferrotune import _core
from ferrotune.errors import (
    InternalError,
    InvalidArgumentError,
    InvalidTypeError,
    StateError,
    TrialStateError,
)

so = pytest.importorskip("scipy.optimize")


def rosen(x: np.ndarray) -> float:
    return float(np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2))


def rosen_der(x: np.ndarray) -> np.ndarray:
    g = np.zeros_like(x)
    a = x[1:] - x[:-1] ** 2
    g[:-1] = -400.0 * x[:-1] * a - 2.0 * (1.0 - x[:-1])
    g[1:] += 200.0 * a
    return g


def start(n: int) -> np.ndarray:
    return np.array([-1.2 if i % 2 == 0 else 1.0 for i in range(n)])


# -- minimize: convergence ------------------------------------------------------------------


@pytest.mark.parametrize("beta", ["pr+", "hs+", "hz"])
@pytest.mark.parametrize("n", [2, 10])
def test_rosenbrock_with_gradient_beats_scipy_counts(beta: str, n: int) -> None:
    res = ft.minimize(rosen, start(n), jac=rosen_der, beta=beta)
    assert res.success, res.message
    assert np.max(np.abs(res.x - 1.0)) < 1e-4
    ref = so.minimize(rosen, start(n), jac=rosen_der, method="CG")
    assert res.nfev + res.njev <= ref.nfev + ref.njev
    assert res.nit > 0 and res.jac.shape == (n,)
    assert len(res.history) == res.nfev + res.njev


def test_scipy_spelling_of_method() -> None:
    res = ft.minimize(lambda x: float(np.sum(x**2)), [1.0, -1.0], method="CG")
    assert res.success


def test_fletcher_reeves_is_selectable() -> None:
    res = ft.minimize(lambda x: float(np.sum((x - 2.0) ** 2)), np.zeros(3), beta="fr")
    assert res.success and np.allclose(res.x, 2.0, atol=1e-5)


def test_combined_value_and_gradient() -> None:
    res = ft.minimize(lambda x: (rosen(x), rosen_der(x)), start(2), jac=True)
    assert res.success and np.allclose(res.x, 1.0, atol=1e-4)
    assert res.nfev == res.njev


@pytest.mark.parametrize("difference", ["forward", "central"])
def test_finite_differences_converge(difference: str) -> None:
    res = ft.minimize(rosen, start(2), difference=difference)
    assert res.success, res.message
    assert np.max(np.abs(res.x - 1.0)) < 1e-4
    if difference == "forward":
        assert res.nfev <= so.minimize(rosen, start(2), method="CG").nfev


def test_no_point_is_evaluated_twice() -> None:
    res = ft.minimize(rosen, start(4))
    points = {tuple(e.x) for e in res.history if e.fun is not None}
    assert len(points) == res.nfev


def test_finite_difference_steps_do_not_collapse_at_zero() -> None:
    # A kink-free function whose minimum is at 0: forward steps must stay around 1.5e-8.
    res = ft.minimize(lambda x: float(np.sum((x - 1e-3) ** 2)), np.zeros(2))
    steps = [np.max(np.abs(e.x - res.history[0].x)) for e in res.history[1:3]]
    assert all(s > 1e-9 for s in steps)
    assert res.success


def test_bounds_hold_and_constrained_minimum() -> None:
    f = lambda x: float((x[0] - 2.0) ** 2 + (x[1] + 1.0) ** 2)  # noqa: E731
    res = ft.minimize(f, [0.5, 0.5], bounds=[(0.0, 1.0), (0.0, 1.0)])
    assert res.success, res.message
    assert np.allclose(res.x, [1.0, 0.0], atol=1e-8)
    for e in res.history:
        assert np.all(e.x >= 0.0) and np.all(e.x <= 1.0)


def test_one_sided_bound() -> None:
    res = ft.minimize(lambda x: float((x[0] + 3.0) ** 2), [1.0], bounds=[(0.0, None)])
    assert res.success and abs(res.x[0]) < 1e-12


def test_restarts_escape_a_local_minimum() -> None:
    # Two basins; x0 sits in the worse one (x = -1, f = 0.3); the better one is at x = 2.
    def f(x: np.ndarray) -> float:
        return float(min((x[0] + 1.0) ** 2 + 0.3, (x[0] - 2.0) ** 2))

    res = ft.minimize(f, [-1.5], bounds=[(-3.0, 3.0)], restarts=4, seed=1)
    assert abs(res.x[0] - 2.0) < 1e-4
    assert len(res.descents) == 5
    assert "best of 5 descents" in res.message


def test_nan_on_the_line_steps_back() -> None:
    def f(x: np.ndarray) -> float:
        return math.nan if x[0] > 1.2 else float((x[0] - 1.0) ** 2)

    # The first trial step goes to 1.5, where f is NaN: the search steps back.
    res = ft.minimize(f, [0.5], jac=lambda x: np.array([2.0 * (x[0] - 1.0)]))
    assert res.success and abs(res.x[0] - 1.0) < 1e-5
    assert any(e.fun is not None and math.isnan(e.fun) for e in res.history)


def test_nan_past_an_extrapolated_step_is_a_step_back_not_a_crash() -> None:
    # The minimum (x = 2) lies beyond the edge of the defined region (x <= 1.5): the line
    # search extrapolates into NaN and must narrow its interval without inverting it.
    def f(x: np.ndarray) -> float:
        return math.nan if x[0] > 1.5 else float((x[0] - 2.0) ** 2)

    res = ft.minimize(f, [0.0])
    assert 1.0 < res.x[0] <= 1.5
    assert any(e.fun is not None and math.isnan(e.fun) for e in res.history)


def test_a_nan_gradient_at_a_trial_step_steps_back_instead_of_stopping() -> None:
    def jac(x: np.ndarray) -> np.ndarray:
        return np.array([math.nan]) if x[0] > 2.0 else 2.0 * (x - 3.0)

    res = ft.minimize(lambda x: float((x[0] - 3.0) ** 2), [1.0], jac=jac)
    assert 1.5 < res.x[0] <= 2.0
    assert res.fun < 1.01  # from 4.0 at the start


def test_nan_on_both_sides_of_a_difference_stops_cleanly() -> None:
    def f(x: np.ndarray) -> float:
        return 1.0 if x[0] == 0.0 else math.nan

    res = ft.minimize(f, [0.0])
    assert not res.success
    assert "not finite" in res.message
    assert res.x.tolist() == [0.0]


def test_noisy_quadratic_reaches_the_noise_floor() -> None:
    q, _ = np.linalg.qr(np.random.default_rng(1).standard_normal((10, 10)))
    a = (q * np.logspace(0, 1, 10)) @ q.T
    dist = []
    for seed in range(5):
        rng = np.random.default_rng(seed)
        f = lambda x, rng=rng: float(0.5 * x @ a @ x + 1e-3 * rng.standard_normal())  # noqa: E731
        res = ft.minimize(f, np.ones(10), noise=1e-3, max_evals=700)
        assert res.nfev <= 700
        dist.append(np.linalg.norm(res.x))
    assert np.median(dist) <= 0.02, dist


def test_noise_level_stop_is_a_success() -> None:
    rng = np.random.default_rng(3)
    res = ft.minimize(
        lambda x: float(np.sum(x**2) + 1e-2 * rng.standard_normal()), np.ones(3), noise=1e-2
    )
    assert res.success
    assert "noise level" in res.message
    assert np.linalg.norm(res.x) < 0.3


def test_common_random_numbers_are_passed_as_seed() -> None:
    seen = set()

    def f(x: np.ndarray, seed: int) -> float:
        seen.add(seed)
        return float(np.sum(x**2) + 1e-3 * np.random.default_rng(seed).standard_normal())

    res = ft.minimize(f, np.ones(2), noise=1e-3, seed=11, max_evals=100)
    assert seen == {11}
    assert np.linalg.norm(res.x) < 0.2


def test_max_evals_is_a_hard_limit() -> None:
    res = ft.minimize(rosen, start(10), max_evals=57)
    assert res.nfev <= 57
    assert not res.success and "max_evals" in res.message


def test_callback_sees_iterates_and_can_stop() -> None:
    seen: list[np.ndarray] = []

    def cb(xk: np.ndarray) -> bool:
        seen.append(xk)
        return len(seen) == 3

    res = ft.minimize(rosen, start(2), jac=rosen_der, callback=cb)
    assert len(seen) == 3
    assert not res.success and res.nit == 3


# -- minimize: bad input --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"x0": [1.0, math.nan]}, r"x0\[1\]"),
        ({"x0": [math.inf]}, r"x0\[0\]"),
        ({"x0": [2.0], "bounds": [(0.0, 1.0)]}, r"x0\[0\].*within"),
        ({"x0": [0.5], "bounds": [(1.0, 0.0)]}, "low < high"),
        ({"x0": [0.5], "bounds": [(0.5, 0.5)]}, "low < high"),
        ({"x0": [0.5, 0.5], "bounds": [(0.0, 1.0)]}, "2 .low, high. pairs"),
        ({"x0": [0.5], "beta": "pr"}, "beta"),
        ({"x0": [0.5], "method": "bfgs"}, "method"),
        ({"x0": [0.5], "noise": -1.0}, "noise"),
        ({"x0": [0.5], "restarts": 2}, "restarts"),
        ({"x0": [0.5], "tol": -1.0}, "tol"),
        ({"x0": [0.5], "fd_step": [0.1, 0.1]}, "fd_step"),
        ({"x0": [0.5], "c1": 0.5, "c2": 0.1}, "c1, c2"),
    ],
)
def test_bad_arguments(kwargs: dict, match: str) -> None:
    x0 = kwargs.pop("x0")
    with pytest.raises(InvalidArgumentError, match=match):
        ft.minimize(lambda x: float(np.sum(x**2)), x0, **kwargs)


def test_jac_returning_none_is_a_type_error() -> None:
    with pytest.raises(InvalidTypeError, match="jac"):
        ft.minimize(lambda x: float(x[0] ** 2), [1.0], jac=lambda x: None)


def test_jac_true_takes_a_list_pair_as_scipy_does() -> None:
    res = ft.minimize(lambda x: [float(x[0] - 2.0) ** 2, 2.0 * (x - 2.0)], [0.0], jac=True)
    assert res.success and abs(res.x[0] - 2.0) < 1e-6


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_non_finite_value_at_x0(bad: float) -> None:
    with pytest.raises(InvalidArgumentError, match="finite at x0"):
        ft.minimize(lambda x: bad, [0.0])


def test_non_scalar_value() -> None:
    with pytest.raises(InvalidTypeError, match=r"scalar.*\(2,\)"):
        ft.minimize(lambda x: x * 2, [1.0, 2.0])
    with pytest.raises(InvalidTypeError, match="real number"):
        ft.minimize(lambda x: "low", [1.0])


def test_objective_exception_propagates() -> None:
    class Boom(RuntimeError):
        pass

    def f(x: np.ndarray) -> float:
        raise Boom("inside the objective")

    with pytest.raises(Boom, match="inside the objective"):
        ft.minimize(f, [1.0])


def test_gradient_of_wrong_shape() -> None:
    with pytest.raises(InvalidArgumentError, match=r"shape \(2,\)"):
        ft.minimize(rosen, start(2), jac=lambda x: np.ones(3))
    with pytest.raises(InvalidArgumentError, match="jac"):
        ft.minimize(rosen, start(2), jac="cs")
    with pytest.raises(InvalidTypeError, match="jac"):
        ft.minimize(rosen, start(2), jac=3)


class _Sub(np.ndarray):
    pass


_OPTS = json.dumps(
    {
        "beta": "hs+",
        "gtol": 1e-5,
        "max_iter": 100,
        "max_evals": None,
        "c1": 1e-4,
        "c2": 0.4,
        "analytic": False,
        "difference": "forward",
        "fd_step": None,
        "noise": None,
    }
)


def _unaligned(g: np.ndarray) -> np.ndarray:
    buf = np.zeros(g.size * 8 + 1, dtype=np.uint8)
    a = buf[1:].view(np.float64)
    a[:] = g
    return a


@pytest.mark.parametrize(
    "form",
    [
        lambda g: g.tolist(),
        lambda g: g.reshape(1, -1),
        lambda g: np.repeat(g, 2)[::2],  # strided
        lambda g: g.astype(">f8"),  # other byte order
        lambda g: g.view(_Sub),
        _unaligned,
    ],
    ids=["list", "row", "strided", "big-endian", "subclass", "unaligned"],
)
def test_jac_in_any_array_form_gives_the_same_search(form) -> None:
    ref = ft.minimize(rosen, start(4), jac=rosen_der)
    res = ft.minimize(rosen, start(4), jac=lambda x: form(rosen_der(x)))
    assert (res.nit, res.nfev, res.njev) == (ref.nit, ref.nfev, ref.njev)
    assert res.x.tolist() == ref.x.tolist() and res.fun == ref.fun
    for e, r in zip(res.history, ref.history, strict=True):
        if r.jac is None:
            assert e.jac is None
            continue
        # Recorded as converted: a plain, C-contiguous, aligned float64 array.
        assert type(e.jac) is np.ndarray and e.jac.dtype == np.float64
        assert e.jac.flags.c_contiguous and e.jac.flags.aligned
        assert e.jac.tolist() == r.jac.tolist()


def test_the_core_refuses_to_read_a_misaligned_gradient() -> None:
    core = _core.CgMinimizer(np.zeros(2), [-math.inf] * 2, [math.inf] * 2, _OPTS, 0, 0)
    pid, x, _ = core.ask()  # type: ignore[misc]
    g = _unaligned(np.ones(2))
    assert not g.flags.aligned
    assert core.tell_ask(pid, 1.0, g) is False  # told nothing: minimize converts and retries
    with pytest.raises(InternalError, match="aligned"):
        core.tell(pid, 1.0, g)
    assert core.tell(pid, 1.0, np.ones(2))


def test_history_is_a_list_of_evaluations_in_call_order() -> None:
    calls: list[tuple[str, np.ndarray, object]] = []

    def f(x: np.ndarray) -> float:
        calls.append(("fun", x, rosen(x)))
        return rosen(x)

    def g(x: np.ndarray) -> np.ndarray:
        calls.append(("jac", x, rosen_der(x)))
        return calls[-1][2]  # type: ignore[return-value]

    res = ft.minimize(f, start(3), jac=g)
    h = res.history
    assert type(h) is list and len(h) == len(calls) == res.nfev + res.njev
    assert h is res["history"]
    for e, (kind, x, out) in zip(h, calls, strict=True):
        assert type(e) is ft.Evaluation and e._fields == ("x", "fun", "jac", "descent")
        assert e.x is x and e.descent == 0
        if kind == "fun":
            assert e.fun == out and e.jac is None
        else:
            assert e.fun is None and e.jac is out
        assert e == ft.Evaluation(x, e.fun, e.jac, 0) == (x, e.fun, e.jac, 0)
    assert [e.fun for e in h[:3]] == [e[1] for e in h[:3]]
    assert h[-1] == h[len(h) - 1] and list(iter(h)) == h

    back = pickle.loads(pickle.dumps(res))["history"]
    assert type(back) is list and len(back) == len(h)
    for a, b in zip(back, h, strict=True):
        assert type(a) is ft.Evaluation
        assert a.x.tolist() == b.x.tolist() and a.fun == b.fun and a.descent == b.descent
        assert (a.jac is None) == (b.jac is None)


def test_history_numbers_the_descents() -> None:
    res = ft.minimize(rosen, start(2), jac=rosen_der, bounds=[(-2, 2)] * 2, restarts=2, seed=1)
    descents = [e.descent for e in res.history]
    assert descents[0] == 0 and descents == sorted(descents)
    assert set(descents) == {0, 1, 2} and len(res.descents) == 3
    assert all(type(e) is ft.Evaluation for e in res.history)


# -- GradientSearch -------------------------------------------------------------------------

SPACE = {
    "lr": ft.Float(1e-4, 1.0, log=True),
    "x": ft.Float(-2.0, 2.0),
}


def objective(p: dict) -> float:
    return (math.log10(p["lr"]) + 2.0) ** 2 + (p["x"] - 0.5) ** 2


def test_study_with_gradient_search_finds_the_minimum() -> None:
    study = ft.Study(ft.GradientSearch(SPACE, seed=2, restarts=3))
    study.optimize(lambda t: objective(t.params), n_trials=150)
    best = study.best_params
    assert abs(math.log10(best["lr"]) + 2.0) < 1e-3 and abs(best["x"] - 0.5) < 1e-3
    for t in study.trials:
        assert 1e-4 <= t.params["lr"] <= 1.0 and -2.0 <= t.params["x"] <= 2.0


def test_maximize_follows_the_value_up() -> None:
    study = ft.Study(ft.GradientSearch(SPACE, seed=0, restarts=1), direction="maximize")
    study.optimize(lambda t: -objective(t.params), n_trials=80)
    assert study.best_value > -1e-5


def test_finite_differences_come_as_one_batch() -> None:
    space = {f"p{i}": ft.Float(0.0, 1.0) for i in range(4)}
    s = ft.GradientSearch(space, seed=0)
    first = s.ask()
    assert first is not None and s.ask() is None
    s.tell(first[0], 1.0)
    batch = [s.ask() for _ in range(4)]
    assert all(b is not None for b in batch)
    assert s.ask() is None and not s.exhausted
    for b in reversed(batch):  # any order
        s.tell(b[0], 1.0 + sum(b[1].values()))  # type: ignore[index]
    assert s.ask() is not None


def test_int_dims_round_and_choices_are_fixed_within_a_descent() -> None:
    space = {
        "layers": ft.Int(1, 8),
        "act": ft.Choice(["relu", "tanh", "gelu"]),
        "lr": ft.Float(1e-3, 1e-1, log=True),
    }
    s = ft.GradientSearch(space, seed=5, restarts=5, max_iter=5)
    study = ft.Study(s)
    study.optimize(
        lambda t: (t.params["layers"] - 5) ** 2 + math.log10(t.params["lr"]) ** 2, n_trials=3000
    )
    assert s.exhausted
    acts_per_descent: dict[int, set] = {}
    for t in study.trials:
        assert isinstance(t.params["layers"], int) and 1 <= t.params["layers"] <= 8
        assert 1e-3 <= t.params["lr"] <= 1e-1
    descents = s.descents
    assert len(descents) >= 2
    for d in descents:
        acts_per_descent.setdefault(int(d["start"][1]), set()).add(int(d["x"][1]))
    # Within a descent the choice never moves: start and end hold the same option.
    assert all(len(v) == 1 and k in v for k, v in acts_per_descent.items())
    assert len(acts_per_descent) >= 2, "restarts re-draw the choice"
    assert study.best_params["layers"] == 5
    # Rounded points already evaluated are answered from the memo, never proposed again.
    proposed = [tuple(sorted(t.params.items())) for t in study.trials]
    assert len(set(proposed)) == len(proposed)


def test_a_used_up_discrete_space_ends_the_search_instead_of_hanging() -> None:
    # Four integer levels: once each was told, every restart meets only known rows.
    study = ft.Study(ft.GradientSearch({"k": ft.Int(0, 3)}, seed=0))
    study.optimize(lambda t: (t.params["k"] - 1.3) ** 2, n_trials=50)
    assert sorted(t.params["k"] for t in study.trials) == [0, 1, 2, 3]
    assert study.searcher.exhausted
    with pytest.raises(ft.SearchExhausted):
        study.ask()


def test_memo_survives_a_restore() -> None:
    space = {"n": ft.Int(1, 50), "m": ft.Int(1, 50)}
    f = lambda p: (p["n"] - 17) ** 2 + (p["m"] - 30) ** 2  # noqa: E731
    a = ft.GradientSearch(space, seed=1)
    seen = []
    for _ in range(40):
        pid, params = a.ask()  # type: ignore[misc]
        seen.append(params)
        a.tell(pid, f(params))
    b = ft.GradientSearch(space, seed=1)
    b.restore(a.state())
    for _ in range(40):
        pa, qa = a.ask()  # type: ignore[misc]
        pb, qb = b.ask()  # type: ignore[misc]
        assert (pa, qa) == (pb, qb)
        assert qa not in seen
        seen.append(qa)
        a.tell(pa, f(qa))
        b.tell(pb, f(qb))


def test_told_gradients_replace_differences() -> None:
    def run(with_grad: bool) -> tuple[int, float]:
        study = ft.Study(ft.GradientSearch(SPACE, seed=3, restarts=0))
        while not study.searcher.exhausted:
            trial = study.ask()
            p = trial.params
            g = None
            if with_grad:
                lr, x = p["lr"], p["x"]
                g = {
                    "lr": 2.0 * (math.log10(lr) + 2.0) / (lr * math.log(10.0)),
                    "x": 2.0 * (x - 0.5),
                }
            study.tell(trial, objective(p), gradient=g)
        return len(study.trials), study.best_value

    n_grad, best_grad = run(True)
    n_fd, best_fd = run(False)
    assert best_grad < 1e-8 and best_fd < 1e-8
    assert n_grad < n_fd


def test_gradient_as_array_in_names_order() -> None:
    study = ft.Study(ft.GradientSearch({"x": ft.Float(-3.0, 3.0)}, seed=1, restarts=0))
    while not study.searcher.exhausted:
        t = study.ask()
        study.tell(t, (t.params["x"] - 1.0) ** 2, gradient=np.array([2 * (t.params["x"] - 1.0)]))
    assert abs(study.best_params["x"] - 1.0) < 1e-6
    assert len(study.trials) < 20


def test_wrong_gradient_leaves_the_trial_running() -> None:
    study = ft.Study(ft.GradientSearch(SPACE, seed=0))
    trial = study.ask()
    with pytest.raises(InvalidArgumentError, match=r"shape \(2,\)"):
        study.tell(trial, 1.0, gradient=[1.0, 2.0, 3.0])
    with pytest.raises(InvalidArgumentError, match="keys among"):
        study.tell(trial, 1.0, gradient={"nope": 1.0})
    with pytest.raises(InvalidArgumentError, match="derivative for each"):
        study.tell(trial, 1.0, gradient={"lr": 1.0})
    with pytest.raises(InvalidArgumentError, match="finite"):
        study.tell(trial, 1.0, gradient=[math.nan, 1.0])
    assert trial.state.value == "RUNNING"
    study.tell(trial, 1.0, gradient=[0.5, 1.0])
    with pytest.raises(TrialStateError):
        study.tell(trial, 1.0)


def test_failed_trials_do_not_stall_the_search() -> None:
    study = ft.Study(ft.GradientSearch(SPACE, seed=4, restarts=2))

    def f(t: ft.Trial) -> float:
        if t.params["x"] > 1.5:
            raise ValueError("diverged")
        return objective(t.params)

    study.optimize(f, n_trials=200, catch=ValueError)
    assert study.best_value < 1e-6


def test_bad_searcher_arguments() -> None:
    with pytest.raises(InvalidArgumentError, match="x0"):
        ft.GradientSearch(SPACE, x0={"lr": 10.0, "x": 0.0})
    with pytest.raises(InvalidArgumentError):
        ft.GradientSearch(SPACE, x0={"lr": 0.1})
    with pytest.raises(InvalidArgumentError, match="beta"):
        ft.GradientSearch(SPACE, beta="cg")
    with pytest.raises(InvalidArgumentError, match="restarts"):
        ft.GradientSearch(SPACE, restarts=-1)


def test_x0_refuses_nan_and_fractional_ints_but_not_inactive_parameters() -> None:
    space = {
        "n": ft.Int(1, 8),
        "model": ft.Choice([{"kind": "svm", "c": ft.Float(0.1, 10.0)}, "tree"]),
    }
    with pytest.raises(InvalidArgumentError, match=r"x0\['n'\].*nan"):
        ft.GradientSearch(space, x0={"n": math.nan, "model": "tree"})
    with pytest.raises(InvalidArgumentError, match=r"x0\['n'\].*2.5"):
        ft.GradientSearch(space, x0={"n": 2.5, "model": "tree"})
    with pytest.raises(InvalidArgumentError, match="x0"):
        ft.GradientSearch(space, x0={"n": 2, "model": {"kind": "svm", "c": math.nan}})
    # "c" is inactive when "tree" is chosen: its NaN in the encoded row is no error.
    search = ft.GradientSearch(space, x0={"n": 2, "model": "tree"})
    assert search.ask()[1] == {"n": 2, "model": "tree"}  # type: ignore[index]


def test_resumed_study_continues_the_same_descent(tmp_path) -> None:
    path = tmp_path / "study.db"
    f = lambda t: objective(t.params)  # noqa: E731

    whole = ft.Study(ft.GradientSearch(SPACE, seed=7, restarts=2))
    whole.optimize(f, n_trials=60)

    first = ft.Study(ft.GradientSearch(SPACE, seed=7, restarts=2), storage=path)
    first.optimize(f, n_trials=25)
    first.close()
    second = ft.Study(ft.GradientSearch(SPACE, seed=7, restarts=2), storage=path)
    second.optimize(f, n_trials=35)
    assert [t.params for t in second.trials] == [t.params for t in whole.trials]
    second.close()


def test_restore_refuses_another_space() -> None:
    a = ft.GradientSearch(SPACE, seed=0)
    b = ft.GradientSearch({"y": ft.Float(0.0, 1.0)}, seed=0)
    with pytest.raises(StateError):
        b.restore(a.state())
    with pytest.raises(StateError):
        b.restore("not json")


def test_replaying_minimize_through_the_searcher_gives_the_same_points() -> None:
    lows, highs = np.array([-2.0, -1.0]), np.array([2.0, 3.0])

    def f(x: np.ndarray) -> float:
        return rosen(x)

    res = ft.minimize(f, [-1.2, 1.0], bounds=list(zip(lows, highs, strict=False)))
    space = {"a": ft.Float(-2.0, 2.0), "b": ft.Float(-1.0, 3.0)}
    s = ft.GradientSearch(space, x0={"a": -1.2, "b": 1.0}, restarts=0)
    for e in res.history:
        point_id, params = s.ask()  # type: ignore[misc]
        assert [params["a"], params["b"]] == e.x.tolist()
        s.tell(point_id, e.fun)
    assert s.ask() is None and s.exhausted


def test_gradient_search_is_exported_and_is_a_searcher() -> None:
    assert isinstance(ft.GradientSearch(SPACE), ft.Searcher)
    cfg = ft.GradientSearch(SPACE, seed=3).config()
    assert cfg["kind"] == "gradient" and cfg["seed"] == 3


def test_noise_is_estimated_when_asked() -> None:
    rng = np.random.default_rng(0)
    res = ft.minimize(
        lambda x: float(np.sum(x**2) + 1e-3 * rng.standard_normal()), np.ones(4), noise="auto"
    )
    assert res.noise is not None and 2.5e-4 < res.noise < 4e-3
    assert np.linalg.norm(res.x) < 0.1
    smooth = ft.minimize(lambda x: float(np.sum(x**2)), np.ones(4), noise="auto")
    assert smooth.noise is None and smooth.success
    with pytest.raises(InvalidArgumentError, match="noise"):
        ft.minimize(lambda x: float(np.sum(x**2)), np.ones(4), noise="estimate")


def test_scipy_scheme_names_for_jac() -> None:
    fwd = ft.minimize(rosen, start(2), jac="2-point", tol=None)
    cen = ft.minimize(rosen, start(2), jac="3-point")
    assert fwd.success and cen.success
    assert np.allclose(fwd.x, 1.0, atol=1e-4) and np.allclose(cen.x, 1.0, atol=1e-4)


def test_replay_with_gradients_told() -> None:
    res = ft.minimize(
        lambda x: (rosen(x), rosen_der(x)), [-1.2, 1.0], jac=True, bounds=[(-2, 2), (-1, 3)]
    )
    space = {"a": ft.Float(-2.0, 2.0), "b": ft.Float(-1.0, 3.0)}
    s = ft.GradientSearch(space, x0={"a": -1.2, "b": 1.0}, restarts=0)
    for e in res.history:
        point_id, params = s.ask()  # type: ignore[misc]
        assert [params["a"], params["b"]] == e.x.tolist()
        s.tell(point_id, e.fun, gradient={"a": e.jac[0], "b": e.jac[1]})
    assert s.ask() is None and s.exhausted
