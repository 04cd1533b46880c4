"""Pruners: stop trials whose intermediate values are clearly worse than other trials'.

A pruner sees the values an objective reports with ``trial.report(step, value)`` and answers
``should_prune(study, trial)``. Steps are compared only with the same step of other trials:
step ``k`` can be epoch ``k`` of a learning curve or fold ``k`` of a cross-validation (with
the same folds for every trial, fold ``k`` of one trial is comparable with fold ``k`` of the
next, and a hard fold is not mistaken for a bad trial).

>>> import ferrotune as ft
>>> study = ft.Study(
...     ft.RandomSearch({"x": ft.Float(0, 1)}, seed=0), pruner=ft.MedianPruner(n_startup_trials=2)
... )
>>> def objective(trial):
...     for fold in range(3):
...         trial.report(fold, trial.params["x"] + 0.1 * fold)
...         if trial.should_prune():
...             raise ft.TrialPruned()
...     return trial.params["x"]
>>> study.optimize(objective, n_trials=10)
>>> len(study.trials_in("PRUNED")) > 0
True
"""

from __future__ import annotations

import logging
import math
from typing import TYPE_CHECKING, Any

from . import _validate as v
from .trial import Trial, TrialState

if TYPE_CHECKING:
    from .study import Study

__all__ = ["Pruner", "MedianPruner", "SuccessiveHalvingPruner", "NopPruner"]

log = logging.getLogger("ferrotune.pruners")


class Pruner:
    """The pruner interface: ``should_prune(study, trial) -> bool``."""

    def should_prune(self, study: Study, trial: Trial) -> bool:
        raise NotImplementedError


class NopPruner(Pruner):
    """Never prunes."""

    def should_prune(self, study: Study, trial: Trial) -> bool:
        return False


def _statistic(values: dict[int, float], step: int, cumulative: bool) -> float | None:
    """The value a trial is judged by at `step`: its report there, or with `cumulative` the
    mean of its reports up to there (None when it did not report `step`)."""
    if step not in values:
        return None
    if not cumulative:
        return values[step]
    upto = [x for s, x in values.items() if s <= step]
    return math.fsum(upto) / len(upto)


def _latest_step(trial: Trial) -> int | None:
    return max(trial.intermediate) if trial.intermediate else None


def _percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0..100) with linear interpolation, as numpy's default."""
    xs = sorted(values)
    pos = (len(xs) - 1) * q / 100.0
    lo = int(math.floor(pos))
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


class MedianPruner(Pruner):
    """Prunes a trial whose value at its latest step is worse than the median of the other
    completed trials' values at that same step.

    Parameters
    ----------
    n_startup_trials : int
        Never prune until this many trials have completed.
    n_warmup_steps : int
        Never prune before a trial has reported step ``n_warmup_steps`` (with folds as steps,
        1 lets every trial finish its first fold).
    interval_steps : int
        Judge only every ``interval_steps`` steps after the warm-up.
    n_min_trials : int
        Judge a step only when at least this many completed trials reported it.
    percentile : float
        50 is the median; 25 prunes more eagerly (a trial must be in the best quarter to go
        on), 75 more gently.
    cumulative : bool
        Judge the mean of the reports up to the step instead of the step's value alone: less
        noisy for fold scores.

    Examples
    --------
    >>> import ferrotune as ft
    >>> pruner = ft.MedianPruner(n_startup_trials=5, n_warmup_steps=1)
    """

    def __init__(
        self,
        *,
        n_startup_trials: int = 5,
        n_warmup_steps: int = 0,
        interval_steps: int = 1,
        n_min_trials: int = 1,
        percentile: float = 50.0,
        cumulative: bool = False,
    ):
        self.n_startup_trials = v.integer("n_startup_trials", n_startup_trials, minimum=0)
        self.n_warmup_steps = v.integer("n_warmup_steps", n_warmup_steps, minimum=0)
        self.interval_steps = v.integer("interval_steps", interval_steps, minimum=1)
        self.n_min_trials = v.integer("n_min_trials", n_min_trials, minimum=1)
        self.percentile = v.real("percentile", percentile)
        if not 0.0 <= self.percentile <= 100.0:
            v.bad_value("percentile", percentile, "a number in [0, 100]")
        self.cumulative = v.flag("cumulative", cumulative)

    def __repr__(self) -> str:
        return (
            f"MedianPruner(n_startup_trials={self.n_startup_trials}, "
            f"n_warmup_steps={self.n_warmup_steps}, percentile={self.percentile})"
        )

    def should_prune(self, study: Study, trial: Trial) -> bool:
        step = _latest_step(trial)
        if step is None or step < self.n_warmup_steps:
            return False
        if (step - self.n_warmup_steps) % self.interval_steps != 0:
            return False
        completed = [t for t in study.trials_in(TrialState.COMPLETE) if t.number != trial.number]
        if len(completed) < self.n_startup_trials:
            return False

        mine = _statistic(trial.intermediate, step, self.cumulative)
        if mine is None:
            return False
        if math.isnan(mine):
            return True
        others = [_statistic(t.intermediate, step, self.cumulative) for t in completed]
        finite = [x for x in others if x is not None and not math.isnan(x)]
        if len(finite) < max(self.n_min_trials, 1):
            return False

        maximize = study.direction == "maximize"
        q = 100.0 - self.percentile if maximize else self.percentile
        threshold = _percentile(finite, q)
        prune = mine < threshold if maximize else mine > threshold
        if prune:
            log.debug(
                "trial %d pruned at step %d: %.6g vs threshold %.6g over %d trials",
                trial.number,
                step,
                mine,
                threshold,
                len(finite),
            )
        return prune


class SuccessiveHalvingPruner(Pruner):
    """Asynchronous successive halving: at each rung, a trial goes on only if it is among the
    best ``1 / reduction_factor`` of all trials that reached the same rung.

    Rung ``r`` is the step at which ``min_resource * reduction_factor ** r`` steps have been
    reported (resource = step + 1: with folds as steps and the defaults, rungs are after folds
    1, 3, 9, ...). The first trials to reach a rung go on only if they are the best there so
    far, as in asynchronous successive halving without suspending trials.

    Parameters
    ----------
    min_resource : int
        Steps reported before the first rung.
    reduction_factor : int
        At least 2. Keeps the top ``1 / reduction_factor`` at each rung.
    min_early_stopping_rate : int
        Skips the first rungs (rung ``r`` is at ``min_resource * reduction_factor ** (r + s)``).
    cumulative : bool
        Rank by the mean of the reports up to the rung rather than the rung's value alone.

    Examples
    --------
    >>> import ferrotune as ft
    >>> pruner = ft.SuccessiveHalvingPruner(reduction_factor=2)
    """

    def __init__(
        self,
        *,
        min_resource: int = 1,
        reduction_factor: int = 3,
        min_early_stopping_rate: int = 0,
        cumulative: bool = False,
    ):
        self.min_resource = v.integer("min_resource", min_resource, minimum=1)
        self.reduction_factor = v.integer("reduction_factor", reduction_factor, minimum=2)
        self.min_early_stopping_rate = v.integer(
            "min_early_stopping_rate", min_early_stopping_rate, minimum=0
        )
        self.cumulative = v.flag("cumulative", cumulative)

    def __repr__(self) -> str:
        return (
            f"SuccessiveHalvingPruner(min_resource={self.min_resource}, "
            f"reduction_factor={self.reduction_factor}, "
            f"min_early_stopping_rate={self.min_early_stopping_rate})"
        )

    def rung_steps(self, up_to: int) -> list[int]:
        """The steps (0-based) that are rungs, up to and including `up_to`."""
        steps: list[int] = []
        r = self.min_early_stopping_rate
        while True:
            step = self.min_resource * self.reduction_factor**r - 1
            if step > up_to:
                return steps
            steps.append(step)
            r += 1

    def should_prune(self, study: Study, trial: Trial) -> bool:
        step = _latest_step(trial)
        if step is None:
            return False
        rungs = self.rung_steps(step)
        if not rungs or rungs[-1] != step:
            return False

        mine = _statistic(trial.intermediate, step, self.cumulative)
        if mine is None:
            return False
        if math.isnan(mine):
            return True
        competing = [mine]
        for t in study.trials:
            if t.number == trial.number:
                continue
            x = _statistic(t.intermediate, step, self.cumulative)
            if x is not None and not math.isnan(x):
                competing.append(x)

        keep = max(len(competing) // self.reduction_factor, 1)
        if study.direction == "maximize":
            cutoff = sorted(competing, reverse=True)[keep - 1]
            return mine < cutoff
        cutoff = sorted(competing)[keep - 1]
        return mine > cutoff


def check_reported(study: Study, trial: Trial) -> None:
    """Raises when a pruner is set but the objective reports nothing (called by the study
    after a trial completes): the pruner could never act, which is almost surely a mistake."""
    if study.pruner is None or trial.state is not TrialState.COMPLETE or trial.intermediate:
        return
    if any(t.intermediate for t in study.trials):
        return  # other trials report; this one may legitimately have skipped reporting
    from .errors import InvalidArgumentError

    raise InvalidArgumentError(
        f"pruner: the study has a pruner ({_short(study.pruner)}) but trial {trial.number} "
        "completed without reporting any intermediate value, so the pruner can never act; "
        "call trial.report(step, value) and check trial.should_prune() in the objective "
        "(ferrotune.torch.cv_objective does both), or create the Study without a pruner"
    )


def _short(obj: Any) -> str:
    text = repr(obj)
    return text if len(text) < 80 else type(obj).__name__
