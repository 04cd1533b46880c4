"""MedianPruner and SuccessiveHalvingPruner: fold-aware comparisons, and the error for an
objective that never reports while a pruner is set."""

from __future__ import annotations

import pytest

import ferrotune as ft
from ferrotune.errors import InvalidArgumentError, InvalidTypeError


def _study(pruner, direction="minimize", n=20):
    return ft.Study(
        ft.GridSearch(ft.Grid({"i": list(range(n))})), direction=direction, pruner=pruner
    )


def _fold_objective(scores_of):
    """An objective reporting the per-fold scores `scores_of(i)`, pruning when told."""

    def objective(trial):
        scores = scores_of(trial.params["i"])
        for k, s in enumerate(scores):
            trial.report(k, s)
            if trial.should_prune():
                raise ft.TrialPruned()
        return sum(scores) / len(scores)

    return objective


def test_median_pruner_compares_the_same_fold_of_other_trials():
    # Fold 1 is hard for everyone (high loss); trial 3 is bad on fold 0 only.
    table = {
        0: [0.1, 0.9, 0.1],
        1: [0.2, 1.0, 0.2],
        2: [0.15, 0.95, 0.1],
        3: [0.5, 0.9, 0.1],
        4: [0.12, 0.92, 0.1],
    }
    study = _study(ft.MedianPruner(n_startup_trials=2), n=5)
    study.optimize(_fold_objective(table.__getitem__), n_trials=5)
    states = [t.state.value for t in study.trials]
    assert states == ["COMPLETE", "COMPLETE", "COMPLETE", "PRUNED", "COMPLETE"]
    assert study.trials[3].intermediate == {0: 0.5}
    # A hard fold 1 (0.9 and up) does not prune trial 4, whose fold 1 is at the median.


def test_median_pruner_maximize_warmup_and_startup():
    table = {i: [0.9 - 0.1 * i, 0.9 - 0.1 * i] for i in range(5)}
    study = _study(ft.MedianPruner(n_startup_trials=1, n_warmup_steps=1), "maximize", n=5)
    study.optimize(_fold_objective(table.__getitem__), n_trials=5)
    for t in study.trials[1:]:
        assert t.state.value == "PRUNED" and list(t.intermediate) == [0, 1]
    study = _study(ft.MedianPruner(n_startup_trials=10), "maximize", n=5)
    study.optimize(_fold_objective(table.__getitem__), n_trials=5)
    assert not study.trials_in("PRUNED")


def test_median_pruner_cumulative_and_percentile():
    table = {0: [0.1, 0.1], 1: [0.1, 0.1], 2: [0.05, 0.3]}
    study = _study(ft.MedianPruner(n_startup_trials=1, cumulative=True), n=3)
    study.optimize(_fold_objective(table.__getitem__), n_trials=3)
    assert study.trials[2].state.value == "PRUNED"  # mean 0.175 > 0.1 at fold 1
    table = {0: [0.1], 1: [0.3], 2: [0.2], 3: [0.25]}
    study = _study(ft.MedianPruner(n_startup_trials=1, percentile=25.0), n=4)
    study.optimize(_fold_objective(table.__getitem__), n_trials=4)
    assert [t.state.value for t in study.trials] == ["COMPLETE", "PRUNED", "PRUNED", "PRUNED"]


def test_median_pruner_prunes_nan_reports():
    table = {0: [0.1, 0.1], 1: [float("nan"), 0.1]}
    study = _study(ft.MedianPruner(n_startup_trials=1), n=2)
    study.optimize(_fold_objective(table.__getitem__), n_trials=2)
    assert study.trials[1].state.value == "PRUNED"


def test_successive_halving_rungs_and_pruning():
    p = ft.SuccessiveHalvingPruner(min_resource=1, reduction_factor=3)
    assert p.rung_steps(20) == [0, 2, 8]
    assert ft.SuccessiveHalvingPruner(min_early_stopping_rate=1).rung_steps(10) == [2, 8]
    # Losses that get better with i: each later trial is the best so far at every rung.
    improving = {i: [1.0 - 0.05 * i] * 3 for i in range(9)}
    study = _study(ft.SuccessiveHalvingPruner(), n=9)
    study.optimize(_fold_objective(improving.__getitem__), n_trials=9)
    assert not study.trials_in("PRUNED")
    # Losses that get worse with i: all but the first are pruned at the first rung (fold 0).
    worsening = {i: [0.1 + 0.05 * i] * 3 for i in range(9)}
    study = _study(ft.SuccessiveHalvingPruner(), n=9)
    study.optimize(_fold_objective(worsening.__getitem__), n_trials=9)
    assert [t.state.value for t in study.trials].count("COMPLETE") == 1
    assert all(list(t.intermediate) == [0] for t in study.trials_in("PRUNED"))


def test_successive_halving_keeps_the_top_third():
    values = [0.5, 0.1, 0.9, 0.2, 0.8, 0.3]  # fold-0 losses; rung 0 is fold 0
    table = {i: [x] for i, x in enumerate(values)}
    study = _study(ft.SuccessiveHalvingPruner(reduction_factor=2), n=6)
    study.optimize(_fold_objective(table.__getitem__), n_trials=6)
    # Trial 3 (0.2) sees [0.5, 0.1, 0.9, 0.2]: keeps the best 2, so it goes on.
    assert study.trials[3].state.value == "COMPLETE"
    assert study.trials[2].state.value == "PRUNED"


def test_a_pruner_that_is_not_one_is_refused_when_the_study_is_made():
    # A name instead of an object used to be kept, failing later inside should_prune().
    for bad in ("median", ft.MedianPruner):
        with pytest.raises(InvalidTypeError, match="pruner must be a pruner with should_prune"):
            ft.Study(ft.RandomSearch({"x": ft.Float(0, 1)}), pruner=bad)


def test_objective_that_never_reports_with_a_pruner_is_an_error():
    study = _study(ft.MedianPruner(), n=3)
    with pytest.raises(InvalidArgumentError, match="report"):
        study.optimize(lambda t: 1.0, n_trials=3)
    assert len(study.trials) == 1  # it stops at the first trial


def test_pruners_work_without_reports_from_other_trials():
    assert not ft.MedianPruner().should_prune(_study(None), ft.Trial(0, {}))
    assert not ft.SuccessiveHalvingPruner().should_prune(_study(None), ft.Trial(0, {}))
    assert not ft.NopPruner().should_prune(_study(None), ft.Trial(0, {}))


@pytest.mark.parametrize(
    "make, exc",
    [
        (lambda: ft.MedianPruner(n_startup_trials=-1), InvalidArgumentError),
        (lambda: ft.MedianPruner(percentile=120.0), InvalidArgumentError),
        (lambda: ft.MedianPruner(interval_steps=0), InvalidArgumentError),
        (lambda: ft.MedianPruner(cumulative=1), InvalidTypeError),
        (lambda: ft.SuccessiveHalvingPruner(reduction_factor=1), InvalidArgumentError),
        (lambda: ft.SuccessiveHalvingPruner(min_resource=0), InvalidArgumentError),
    ],
)
def test_bad_pruner_arguments(make, exc):
    with pytest.raises(exc):
        make()
