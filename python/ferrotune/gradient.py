"""Gradient search: conjugate-gradient descents with line searches, run by a Rust state machine.

Two front ends drive the same machine:

* :func:`minimize` minimises a function of a real vector, like ``scipy.optimize.minimize``
  with ``method="CG"``, with bounds, finite differences sized to the noise, and restarts.
* :class:`GradientSearch` is a :class:`~ferrotune.Searcher` for a :class:`~ferrotune.Study`:
  it descends in the space's normalised coordinates and restarts from quasi-random points.

Feeding the values that :func:`minimize` recorded to a :class:`GradientSearch` over a space of
``Float`` dimensions with the same bounds, start and options reproduces the same points.

>>> import numpy as np
>>> import ferrotune as ft
>>> res = ft.minimize(lambda x: float(np.sum((x - 3.0) ** 2)), [0.0, 0.0])
>>> bool(res.success), np.round(res.x, 6).tolist()
(True, [3.0, 3.0])
"""

from __future__ import annotations

import inspect
import json
import logging
import math
import numbers
from collections.abc import Callable, Mapping, Sequence
from itertools import repeat
from typing import Any, NamedTuple

import numpy as np

from . import _core
from . import _validate as v
from .errors import InvalidArgumentError, StateError
from .search import Searcher
from .space import Choice, Float, Int, Normal, Space, SpaceLike, as_space

__all__ = ["minimize", "OptimizeResult", "Evaluation", "GradientSearch"]

log = logging.getLogger("ferrotune.gradient")

_BETAS = ("pr+", "hs+", "hz", "fr")
_DIFFERENCES = ("forward", "central")
_SCHEMES = {"2-point": "forward", "3-point": "central"}


class Evaluation(NamedTuple):
    """One call of the objective during :func:`minimize`.

    ``fun`` is None for a call of ``jac`` alone; ``jac`` is None where no gradient was
    computed. ``descent`` numbers the descent (0 for the first, then each restart).
    """

    x: np.ndarray
    fun: float | None
    jac: np.ndarray | None
    descent: int


class OptimizeResult(dict):  # type: ignore[type-arg]
    """The outcome of :func:`minimize`: a dict whose keys are also attributes.

    Keys: ``x``, ``fun``, ``jac`` (the gradient at ``x``), ``nit`` (accepted steps),
    ``nfev`` (calls of ``fun``), ``njev`` (calls of ``jac``, or finite-difference gradients
    without one), ``success``, ``status``, ``message``, ``history`` (every evaluation, a list
    of :class:`Evaluation`) and ``descents`` (one summary per descent).
    """

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError as e:
            raise AttributeError(name) from e

    def __setattr__(self, name: str, value: Any) -> None:
        self[name] = value

    def __repr__(self) -> str:
        keys = ("message", "success", "fun", "x", "nit", "nfev", "njev")
        return "OptimizeResult(" + ", ".join(f"{k}={self.get(k)!r}" for k in keys) + ")"


def _options(
    n: int,
    *,
    beta: str | None,
    tol: Any,
    max_iter: Any,
    max_evals: Any,
    c1: Any,
    c2: Any,
    analytic: bool,
    difference: str | None,
    fd_step: Any,
    noise: Any,
) -> dict[str, Any]:
    """Validated options for the core, as its JSON expects them."""
    if beta is None:
        # Hestenes-Stiefel+ needed the fewest evaluations on the noise-free suite; with noise
        # its denominator p.y is itself noisy, and Polak-Ribiere+ got closer on the noisy
        # quadratic (benches/RESULTS.md).
        beta = "hs+" if noise is None else "pr+"
    beta = v.one_of("beta", beta, _BETAS)
    gtol = v.real("tol", tol)
    if gtol < 0:
        v.bad_value("tol", tol, "a number >= 0")
    if noise is not None:
        noise = v.real("noise", noise)
        if noise <= 0:
            v.bad_value("noise", noise, "a positive number (the objective's noise std) or None")
    if difference is None:
        difference = "central" if noise is not None else "forward"
    difference = v.one_of("difference", difference, _DIFFERENCES)
    steps = None
    if fd_step is not None:
        arr = np.asarray(fd_step, dtype=np.float64) if _is_numeric(fd_step) else None
        if arr is None or arr.ndim > 1 or (arr.ndim == 1 and arr.shape != (n,)):
            v.bad_value("fd_step", fd_step, f"a positive number or {n} positive numbers")
        arr = np.broadcast_to(arr, (n,))
        if not np.all(np.isfinite(arr) & (arr > 0)):
            v.bad_value("fd_step", fd_step, "positive finite steps")
        steps = [float(h) for h in arr]
    if max_iter is None:
        max_iter = 200 * max(n, 1)
    max_iter = v.integer("max_iter", max_iter, minimum=0)
    if max_evals is not None:
        max_evals = v.integer("max_evals", max_evals, minimum=1)
    c1 = v.real("c1", c1)
    c2 = v.real("c2", c2)
    if not 0 < c1 < c2 < 1:
        v.bad_value("c1, c2", (c1, c2), "0 < c1 < c2 < 1")
    return {
        "beta": beta,
        "gtol": gtol,
        "max_iter": max_iter,
        "max_evals": max_evals,
        "c1": c1,
        "c2": c2,
        "analytic": analytic,
        "difference": difference,
        "fd_step": steps,
        "noise": noise,
    }


def _is_numeric(value: Any) -> bool:
    try:
        np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        return False
    return True


def _vector(name: str, value: Any) -> np.ndarray:
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        v.bad_type(name, value, "a 1-D array of real numbers")
    if arr.ndim == 0:
        arr = arr.reshape(1)
    if arr.ndim != 1 or arr.size == 0:
        v.bad_value(name, value, "a non-empty 1-D array")
    if not np.all(np.isfinite(arr)):
        bad = [i for i in range(arr.size) if not math.isfinite(arr[i])]
        v.bad_value(f"{name}[{bad[0]}]", float(arr[bad[0]]), "finite (every x0 must be finite)")
    return np.ascontiguousarray(arr)


def _bounds(bounds: Any, x0: np.ndarray) -> tuple[list[float], list[float]]:
    n = x0.size
    if bounds is None:
        return [-math.inf] * n, [math.inf] * n
    if hasattr(bounds, "lb") and hasattr(bounds, "ub"):  # scipy.optimize.Bounds
        lb = np.broadcast_to(np.asarray(bounds.lb, dtype=np.float64), (n,))
        ub = np.broadcast_to(np.asarray(bounds.ub, dtype=np.float64), (n,))
        pairs: list[Any] = list(zip(lb.tolist(), ub.tolist(), strict=False))
    else:
        if isinstance(bounds, (str, bytes, Mapping)) or not isinstance(
            bounds, (Sequence, np.ndarray)
        ):
            v.bad_type("bounds", bounds, "a sequence of (low, high) pairs")
        pairs = list(bounds)
    if len(pairs) != n:
        v.bad_value("bounds", bounds, f"{n} (low, high) pairs, one per coordinate of x0")
    lower, upper = [], []
    for i, pair in enumerate(pairs):
        try:
            lo, hi = pair
        except (TypeError, ValueError):
            v.bad_value(f"bounds[{i}]", pair, "a (low, high) pair")
        lo = -math.inf if lo is None else v.real(f"bounds[{i}] low", lo, finite=False)
        hi = math.inf if hi is None else v.real(f"bounds[{i}] high", hi, finite=False)
        if math.isnan(lo) or math.isnan(hi) or lo == math.inf or hi == -math.inf:
            v.bad_value(f"bounds[{i}]", pair, "a (low, high) pair of numbers or None")
        if not lo < hi:
            v.bad_value(f"bounds[{i}]", pair, "low < high")
        if not lo <= x0[i] <= hi:
            v.bad_value(f"x0[{i}]", float(x0[i]), f"within bounds[{i}] = ({lo}, {hi})")
        lower.append(lo)
        upper.append(hi)
    return lower, upper


def _scalar(value: Any) -> float:
    """The objective's value as a float; arrays of one element are accepted (as scipy)."""
    if type(value) is float:
        return value
    if isinstance(value, bool):
        v.bad_type("fun", value, "a function returning a real number, not a bool")
    if isinstance(value, numbers.Real):
        return float(value)
    shape = getattr(value, "shape", None)
    if shape is not None and int(np.prod(shape)) == 1:
        return float(np.asarray(value).reshape(()))
    if shape is not None:
        v.bad_type("fun", value, f"a function returning a scalar, not shape {tuple(shape)}")
    try:
        return float(value)
    except (TypeError, ValueError):
        v.bad_type("fun", value, "a function returning a real number")


def _gradient(value: Any, n: int, name: str) -> np.ndarray:
    """``value`` as a C-contiguous, aligned float64 array of shape ``(n,)`` (itself if it is
    one already), or an error naming ``name``."""
    if (
        type(value) is np.ndarray
        and value.dtype == np.float64
        and value.shape == (n,)
        and value.flags.c_contiguous
        and value.flags.aligned
    ):
        return value
    if value is None:  # np.asarray(None, dtype=float) is NaN, which would pass for n = 1
        v.bad_type(name, value, f"an array of {n} real numbers")
    try:
        g = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        v.bad_type(name, value, f"an array of {n} real numbers")
    if g.shape != (n,):
        g = g.reshape(-1) if g.size == n else g
    if g.shape != (n,):
        v.bad_value(name, value, f"a gradient of shape ({n},), got shape {g.shape}")
    g = np.ascontiguousarray(g)
    return g if g.flags.aligned else g.copy()


def _estimate_noise(
    fun: Callable[..., Any],
    x0: np.ndarray,
    args: tuple[Any, ...],
    extra: dict[str, Any],
    lower: list[float],
    upper: list[float],
    seed: int,
    history: list[Evaluation],
) -> float | None:
    """Evaluates ``fun`` at 9 points along a short random line from ``x0`` (x0 first) and
    estimates its noise level from their differences (Moré and Wild 2011)."""
    n = x0.size
    d = np.random.default_rng(seed).standard_normal(n)
    d /= np.linalg.norm(d)
    h = 1e-3 * max(1.0, float(np.max(np.abs(x0))))
    lo, hi = np.asarray(lower), np.asarray(upper)
    if np.any(x0 + 8 * h * d > hi) or np.any(x0 + 8 * h * d < lo):
        d = -d
    values = []
    for i in range(9):
        xi = np.clip(x0 + i * h * d, lo, hi)
        f = _scalar(fun(xi, *args, **extra))
        if i == 0 and not math.isfinite(f):
            v.bad_value("fun", f, "finite at x0 (the objective returned a non-finite value)")
        history.append(Evaluation(xi, f, None, 0))
        values.append(f)
    sigma = _core.estimate_noise(values)
    log.info("estimated noise level at x0: %s", sigma)
    return sigma


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def _accepts_seed(fun: Callable[..., Any]) -> bool:
    try:
        params = inspect.signature(fun).parameters
    except (TypeError, ValueError):
        return False
    p = params.get("seed")
    return p is not None and p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)


def minimize(
    fun: Callable[..., Any],
    x0: Any,
    *,
    jac: Callable[..., Any] | bool | str | None = None,
    method: str = "cg",
    bounds: Any = None,
    tol: float | None = 1e-5,
    max_evals: int | None = None,
    seed: int | None = None,
    callback: Callable[[np.ndarray], Any] | None = None,
    beta: str | None = None,
    args: tuple[Any, ...] = (),
    difference: str | None = None,
    fd_step: Any = None,
    noise: float | str | None = None,
    max_iter: int | None = None,
    restarts: int = 0,
    c1: float = 1e-4,
    c2: float = 0.4,
) -> OptimizeResult:
    """Minimises ``fun(x, *args)`` by nonlinear conjugate gradients with line searches.

    The defaults follow scipy's ``minimize(method="CG")`` (Polak-Ribière+, a strong-Wolfe
    Moré-Thuente line search with c1 = 1e-4 and c2 = 0.4, scipy's first-step rule, stop when
    the largest gradient component is below ``tol``) while using fewer evaluations: the
    gradient at a trial step is computed only when the step passes the sufficient-decrease
    test, and no point is evaluated twice.

    Parameters
    ----------
    fun : callable
        ``fun(x, *args) -> float``. If it takes a ``seed`` keyword, it is called with
        ``seed=seed`` every time (common random numbers: noisy values compared along a line
        share their randomness).
    x0 : array_like
        The start, finite and within ``bounds``.
    jac : callable, True, "2-point", "3-point" or None
        ``jac(x, *args) -> array`` of shape ``(n,)``; True when ``fun`` returns
        ``(value, gradient)``; None (or scipy's "2-point") for forward differences, n
        evaluations per gradient; "3-point" for central ones, 2n.
    method : {"cg"}
        Case-insensitive (scipy's "CG" is accepted).
    bounds : sequence of (low, high), or scipy ``Bounds``, optional
        ``None`` for an open side. A line stops at the first bound it meets; coordinates on
        a bound are held there while the descent direction points outwards. Coordinates
        bounded on both sides are searched in ``[0, 1]`` (x = low + z (high - low)), so the
        tolerance and the steps apply to the scaled coordinate.
    tol : float
        Stop when the largest component of the (projected, scaled) gradient is at most this.
    max_evals : int, optional
        At most this many calls of ``fun`` and ``jac`` together.
    seed : int, optional
        Seeds the restart points (scrambled Sobol) and the ``seed`` passed to ``fun``.
    callback : callable, optional
        ``callback(xk)`` after each accepted step; returning True stops the search.
    beta : {"pr+", "hs+", "hz", "fr"}, optional
        The conjugate-gradient rule: Polak-Ribière+ (scipy's), Hestenes-Stiefel+, Hager-Zhang,
        Fletcher-Reeves. The default is "hs+" (the fewest evaluations on the benchmark suite),
        or "pr+" when ``noise`` is given. Every rule falls back to steepest descent when its
        direction is not a sufficient descent direction (p.g <= -0.01 |g|^2).
    difference : {"forward", "central"}, optional
        The finite-difference scheme; default central when ``noise`` is given, else forward.
    fd_step : float or array, optional
        Absolute finite-difference steps. By default ``sqrt(eps) max(|x|, 1)`` (forward) or
        ``eps^(1/3) max(|x|, 1)`` (central) without noise, and ``8^(1/4) sqrt(noise)`` or
        ``(3 noise)^(1/3)`` with it: never collapsing to zero near ``x = 0``.
    noise : float or "auto", optional
        The standard deviation of ``fun``'s noise; ``"auto"`` estimates it first from 9 values
        along a short random line from ``x0`` (Moré and Wild 2011; the estimate is in
        ``result.noise``, None when the values look smooth). A noise level switches to a
        backtracking line search whose sufficient-decrease test allows ``2 * noise``; when it
        fails, the gradient is recomputed with wider central differences, and a second failure
        stops the search with "converged to the noise level" (``success=True``), as does a
        gradient no larger than the noise in its finite differences.
    max_iter : int, optional
        Iterations per descent, default ``200 * n``.
    restarts : int
        Further descents from scrambled Sobol points within ``bounds`` (which must then be
        finite); the best descent is reported.
    c1, c2 : float
        The Wolfe constants.

    Returns
    -------
    OptimizeResult

    Raises
    ------
    InvalidArgumentError
        Non-finite ``x0`` or ``x0`` outside ``bounds``; bounds with ``low >= high``; a non-finite
        value at ``x0``; a gradient of the wrong shape; bad options.
    InvalidTypeError
        ``fun`` returned something that is not a real scalar.

    A non-finite value at a trial step of a line search is not an error: the search steps
    back halfway towards the best point on the line and never goes beyond that step again.
    Exceptions raised by ``fun`` or ``jac`` propagate unchanged.

    Examples
    --------
    >>> import numpy as np
    >>> import ferrotune as ft
    >>> def rosen(x):
    ...     return float(np.sum(100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2))
    >>> res = ft.minimize(rosen, [-1.2, 1.0])
    >>> bool(res.success), bool(np.allclose(res.x, 1, atol=1e-4))
    (True, True)
    """
    if not callable(fun):
        v.bad_type("fun", fun, "a callable")
    if isinstance(method, str):
        method = method.lower()  # scipy spells it "CG"
    v.one_of("method", method, ("cg",))
    x = _vector("x0", x0)
    n = x.size
    if isinstance(jac, str):
        # scipy's names for finite-difference schemes.
        scheme = v.one_of("jac", jac, ("2-point", "3-point"))
        if difference is not None and difference != _SCHEMES[scheme]:
            v.bad_value("difference", difference, f"{_SCHEMES[scheme]!r} with jac={jac!r}")
        difference, jac = _SCHEMES[scheme], None
    if tol is None:
        tol = 1e-5
    combined = jac is True
    if jac is not None and not combined and not callable(jac):
        v.bad_type("jac", jac, "a callable, True or None")
    if not isinstance(args, tuple):
        args = (args,)
    if callback is not None and not callable(callback):
        v.bad_type("callback", callback, "a callable taking xk")
    lower, upper = _bounds(bounds, x)
    restarts = v.integer("restarts", restarts, minimum=0)
    if restarts and not all(math.isfinite(b) for b in lower + upper):
        v.bad_value("restarts", restarts, "0 unless every coordinate has finite bounds")
    seed_value = 0 if seed is None else v.seed(seed)
    extra: dict[str, Any] = {"seed": seed_value} if _accepts_seed(fun) else {}
    history: list[Evaluation] = []
    memo: dict[bytes, float] = {}
    estimated = None
    if isinstance(noise, str):
        v.one_of("noise", noise, ("auto",))
        estimated = _estimate_noise(fun, x, args, extra, lower, upper, seed_value, history)
        for e in history:
            memo[e.x.tobytes()] = e.fun  # type: ignore[assignment]
        noise = estimated
    opts = _options(
        n,
        beta=beta,
        tol=tol,
        max_iter=max_iter,
        max_evals=max_evals,
        c1=c1,
        c2=c2,
        analytic=jac is not None and not combined,
        difference=difference,
        fd_step=fd_step,
        noise=noise,
    )
    core = _core.CgMinimizer(x, lower, upper, json.dumps(opts), seed_value, restarts)

    nfev = len(history)
    njev = 0
    seen_iters = 0
    descent = 0
    track = callback is not None or restarts > 0
    # Only a clamp at a bound can land on a point twice; without bounds there is no memo.
    remember = bool(memo) or any(math.isfinite(b) for b in lower + upper)
    # The loop runs once per evaluation: locals bound once, records as plain tuples, plain
    # calls when there are no extra arguments.
    tell_ask = core.tell_ask
    record = history.append
    bare = not args and not extra
    key = b""
    req = core.ask()
    while req is not None:
        pid, xk, grad_only = req
        if grad_only:
            gk = jac(xk) if bare else jac(xk, *args)  # type: ignore[misc,operator]
            njev += 1
            # (None would tell no gradient: it goes to _gradient, which rejects it.)
            nxt = False if gk is None else tell_ask(pid, None, gk)
            if nxt is False:
                # Not a C-contiguous, aligned float64 array of shape (n,): converted (or
                # rejected with the reason), then told.
                gk = _gradient(gk, n, "jac")
                nxt = tell_ask(pid, None, gk)
            record((xk, None, gk, descent))  # type: ignore[arg-type]
            req = nxt  # type: ignore[assignment]
            continue
        if remember:
            key = xk.tobytes()
            cached = memo.get(key)
            if cached is not None:
                # Already evaluated (a clamped step can land on a point seen before): the
                # searcher answers such points from its memo too, so replays stay in step.
                req = tell_ask(pid, cached, None)  # type: ignore[assignment]
                continue
        out = fun(xk) if bare else fun(xk, *args, **extra)
        nfev += 1
        g: np.ndarray | None = None
        if combined:
            if not isinstance(out, (tuple, list)) or len(out) != 2:
                v.bad_type("fun", out, "a (value, gradient) pair, since jac=True")
            out, g = out
            g = _gradient(g, n, "jac")
            njev += 1
        f = out if type(out) is float else _scalar(out)
        if f - f != 0.0:  # NaN or infinite
            if nfev == 1:
                v.bad_value("fun", f, "finite at x0 (the objective returned a non-finite value)")
        elif remember:
            memo[key] = f
        record((xk, f, g, descent))  # type: ignore[arg-type]
        if not track:
            req = tell_ask(pid, f, g)  # type: ignore[assignment]
            continue
        core.tell(pid, f, g)
        it, xc, _ = core.progress()
        if it == 0 and seen_iters > 0:
            descent += 1
        if callback is not None and it > seen_iters and callback(xc.copy()) is True:
            break
        seen_iters = it
        req = core.ask()

    # tuple.__new__ through map: about half the time of Evaluation._make per record.
    history[:] = map(tuple.__new__, repeat(Evaluation), history)
    result = _result(core, history, nfev, njev, jac is not None)
    result["noise"] = opts["noise"]
    return result


def _result(
    core: Any, history: list[Evaluation], nfev: int, njev: int, analytic: bool
) -> OptimizeResult:
    descents = core.descents()
    done = [d for d in descents if d["fun"] is not None]
    if not done:
        # Stopped (by the callback or the budget) before any descent finished: report the
        # running descent's current point.
        it, xc, fc = core.progress()
        best = {
            "x": xc,
            "fun": fc,
            "grad": None,
            "success": False,
            "status": "stopped",
            "message": "stopped by the callback" if descents == [] else descents[-1]["message"],
        }
        nit = it
    else:
        best = min(done, key=lambda d: d["fun"])
        nit = sum(d["nit"] for d in descents)
    if not analytic:
        njev = sum(d["ngrad_fd"] for d in descents)
    message = best["message"]
    if len(descents) > 1:
        message = f"best of {len(descents)} descents: {message}"
    grad = best["grad"]
    return OptimizeResult(
        x=np.asarray(best["x"], dtype=np.float64),
        fun=best["fun"],
        jac=None if grad is None else np.asarray(grad, dtype=np.float64),
        nit=nit,
        nfev=nfev,
        njev=njev,
        success=bool(best["success"]),
        status=best["status"],
        message=message,
        history=history,
        descents=descents,
    )


# -- the searcher ---------------------------------------------------------------------------


class GradientSearch(Searcher):
    """Gradient search for a study: conjugate-gradient descents restarted from quasi-random
    points.

    It works in the space's normalised coordinates: each dimension maps to ``[0, 1]`` through
    the transform sampling uses, so a log-scaled dimension is searched in log scale, an
    ``Int`` is rounded (its finite differences span at least one level), and bounds always
    hold. A ``Choice`` is held fixed within a descent and re-drawn at each restart, and the
    parameters nested under an option are varied only while that option is chosen.

    All finite-difference points of a gradient are proposed as one batch: ``ask`` hands them
    out one after another without waiting, so parallel workers evaluate them at once, and
    returns None until the whole batch is told. Line-search points come one at a time.
    Points whose rounded parameters were already evaluated are answered from a memo (kept in
    the saved state) and not proposed again.

    A trial may report its gradient: ``study.tell(trial, value, gradient=g)``. ``g`` holds the
    derivatives of the value with respect to the natural parameters, as an array in
    ``space.names`` order or a dict ``{name: derivative}``; entries of ``Choice`` parameters and
    of parameters inactive in that trial are ignored (give 0 or omit them). For a log-scaled
    parameter give d value / d parameter, not d value / d log(parameter): the chain rule to
    the normalised coordinates is applied here. A told gradient replaces finite differences
    at that point.

    Parameters
    ----------
    space : Space or dict
    x0 : dict, optional
        The first descent's start (natural values). Without it, the first descent starts at a
        scrambled Sobol point.
    seed : int
        Seeds the Sobol points of the starts (and the choices drawn there).
    restarts : int or None
        Descents after the first; None (the default) restarts for as long as the study runs.
    beta, tol, difference, fd_step, noise, max_iter, max_evals, c1, c2
        As for :func:`minimize`, in normalised coordinates (the defaults are the same, so a
        replay of :func:`minimize` matches). ``max_evals`` bounds the whole search. Without
        ``noise`` the finite-difference steps are about 1.5e-8 of each range: right for a
        deterministic float64 objective, far too small for a validation loss after training,
        whose noise swamps such differences. Set ``noise`` (the standard deviation of the
        objective's value, e.g. measured over a few seeds) for such objectives: the steps widen
        to match it, the line search allows for it, and descents stop at the noise level.
    direction : {"minimize", "maximize"}
        Set by the study that runs the searcher; a searcher told maximised values negates them.

    Examples
    --------
    >>> import ferrotune as ft
    >>> space = {"lr": ft.Float(1e-4, 1.0, log=True), "x": ft.Float(-2.0, 2.0)}
    >>> search = ft.GradientSearch(space, seed=1, restarts=2)
    >>> study = ft.Study(search)
    >>> study.optimize(lambda t: (t.params["x"] - 0.5) ** 2, n_trials=60)
    >>> abs(study.best_params["x"] - 0.5) < 1e-3
    True
    """

    # TODO: line-search trial steps are proposed one at a time; a parallel study could
    # evaluate a few candidate steps along the line at once (e.g. alpha, alpha/2, 2 alpha)
    # and let the line search consume them in order.
    # TODO: common random numbers are not offered to trials (Trial carries no seed); a
    # descent-wide seed in trial.attrs would let noisy objectives share their randomness.

    def __init__(
        self,
        space: SpaceLike,
        *,
        x0: Mapping[str, Any] | None = None,
        seed: int = 0,
        restarts: int | None = None,
        beta: str | None = None,
        tol: float = 1e-5,
        difference: str | None = None,
        fd_step: Any = None,
        noise: float | None = None,
        max_iter: int | None = None,
        max_evals: int | None = None,
        c1: float = 1e-4,
        c2: float = 0.4,
    ):
        self.space: Space = as_space(space)
        self.seed = v.seed(seed)
        self.restarts = None if restarts is None else v.integer("restarts", restarts, minimum=0)
        n_cont = sum(1 for _, d in self.space.dims if not isinstance(d, Choice))
        self._options = _options(
            n_cont,
            beta=beta,
            tol=tol,
            max_iter=max_iter,
            max_evals=max_evals,
            c1=c1,
            c2=c2,
            analytic=False,
            difference=difference,
            fd_step=fd_step,
            noise=noise,
        )
        row = None if x0 is None else self._encode_x0(x0)
        # Plain Python values, so that the config is JSON (numpy scalars are not).
        self.x0 = None if x0 is None else {k: _plain(val) for k, val in dict(x0).items()}
        self._sign = 1.0
        self._core = _core.GradientSearcher(
            self.space._core, json.dumps(self._options), self.seed, self.restarts, row
        )

    def _encode_x0(self, x0: Any) -> list[float]:
        if not isinstance(x0, Mapping):
            v.bad_type("x0", x0, "a dict of parameter values")
        row = self.space.encode(x0)
        values = row.tolist()
        for j, ((name, dist), value) in enumerate(zip(self.space.dims, values, strict=False)):
            if isinstance(dist, Choice):
                continue
            # NaN marks a parameter whose option is not chosen; a chosen one must be finite.
            parent = self.space.parent(j)
            active = parent is None or values[parent[0]] == parent[1]
            if math.isnan(value) and not active:
                continue
            if not math.isfinite(value):
                v.bad_value(f"x0[{name!r}]", value, "a finite value")
            if isinstance(dist, Int) and value != math.floor(value):
                v.bad_value(f"x0[{name!r}]", value, "a whole number (the parameter is an Int)")
            if isinstance(dist, (Float, Int)) and not dist.low <= value <= dist.high:
                v.bad_value(f"x0[{name!r}]", value, f"within [{dist.low}, {dist.high}]")
            if isinstance(dist, Normal):
                lo = -math.inf if dist.low is None else dist.low
                hi = math.inf if dist.high is None else dist.high
                if not lo <= value <= hi:
                    v.bad_value(f"x0[{name!r}]", value, f"within [{lo}, {hi}]")
        return [float(x) for x in row]

    def _set_direction(self, direction: str) -> None:
        """Called by the study: values of a maximised objective are negated here."""
        self._sign = -1.0 if direction == "maximize" else 1.0

    def ask(self) -> tuple[int, dict[str, Any]] | None:
        return self._core.ask()

    @property
    def exhausted(self) -> bool:
        return bool(self._core.exhausted)

    def tell(self, point_id: int, value: float | None, gradient: Any = None) -> None:
        """Tells point ``point_id``'s value (None when the trial failed or was pruned) and,
        optionally, its gradient (see the class docstring for its layout)."""
        g = None if gradient is None or value is None else self._gradient_row(gradient)
        if value is not None:
            value = self._sign * float(value)
            if g is not None:
                g = [self._sign * x for x in g]
        self._core.tell(point_id, value, g)

    def _gradient_row(self, gradient: Any) -> list[float]:
        names = self.space.names
        if isinstance(gradient, Mapping):
            unknown = [k for k in gradient if k not in names]
            if unknown:
                v.bad_value("gradient", gradient, f"keys among space.names {names}")
            row = [math.nan] * len(names)
            for k, val in gradient.items():
                row[names.index(k)] = v.real(f"gradient[{k!r}]", val, finite=False)
            active = self._core.active_names()
            missing = [a for a in active if a not in gradient]
            if missing:
                v.bad_value("gradient", gradient, f"a derivative for each of {missing}")
            return row
        try:
            arr = np.asarray(gradient, dtype=np.float64)
        except (TypeError, ValueError):
            v.bad_type("gradient", gradient, "an array or a dict of derivatives")
        if arr.ndim != 1 or arr.size != len(names):
            raise InvalidArgumentError(
                f"gradient must have shape ({len(names)},), one derivative per parameter in "
                f"space.names {names}; got shape {arr.shape}"
            )
        return arr.tolist()

    def requeue(self, point_id: int) -> None:
        self._core.requeue(point_id)

    def state(self) -> str:
        return self._core.state()

    def restore(self, state: str) -> None:
        try:
            self._core.restore(state)
        except StateError:
            raise
        except Exception as e:
            raise StateError(f"cannot restore GradientSearch from {state[:80]!r}: {e}") from e

    def config(self) -> dict[str, Any]:
        return {
            "kind": "gradient",
            "space": json.loads(self.space.fingerprint()),
            "seed": self.seed,
            "restarts": self.restarts,
            "x0": self.x0,
            "options": self._options,
        }

    @property
    def descents(self) -> list[dict[str, Any]]:
        """A summary of every finished descent: start and end (natural rows), value,
        status, counts."""
        return list(self._core.descents())

    def __repr__(self) -> str:
        return (
            f"GradientSearch({self.space!r}, seed={self.seed}, restarts={self.restarts}, "
            f"beta={self._options['beta']!r})"
        )
