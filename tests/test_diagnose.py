"""ft.diagnose: overfitting, fold variance and a poorly divided data set, with numbers."""

from __future__ import annotations

import pytest

import ferrotune as ft
from ferrotune.errors import InvalidArgumentError, InvalidTypeError


def _h(
    train_m,
    val_m,
    *,
    train_l=None,
    val_l=None,
    test_l=None,
    test_m=None,
    best=None,
    metric="accuracy",
):
    n = len(train_m)
    val_l = val_l or [1.0 - x for x in val_m]
    return {
        "train_loss": train_l or [1.0 - x for x in train_m],
        "val_loss": val_l,
        "test_loss": test_l,
        "train_metric": train_m,
        "val_metric": val_m,
        "test_metric": test_m,
        "metric": metric,
        "best_epoch": min(range(n), key=lambda i: val_l[i]) if best is None else best,
        "stopped_epoch": n - 1,
        "restored": True,
    }


def test_overfitting_with_its_numbers():
    h = _h([0.7, 0.9, 0.99, 1.0], [0.65, 0.8, 0.82, 0.81])
    d = ft.diagnose(h)
    assert d.kinds == ["overfitting"]
    f = d.findings[0]
    assert f.numbers["gap"] == pytest.approx(0.17)
    assert f.numbers["threshold"] == 0.05
    assert "dropout" in " ".join(f.suggestions) and "weight decay" in " ".join(f.suggestions)
    assert "0.170" in str(d)
    assert not ft.diagnose(h, gap=0.2)  # thresholds are arguments


def test_overfitting_for_regression_uses_the_loss_ratio():
    h = _h([0, 0, 0], [0, 0, 0], train_l=[1.0, 0.5, 0.1], val_l=[1.0, 0.6, 0.4], metric="loss")
    assert "overfitting" in ft.diagnose(h)
    assert "overfitting" not in ft.diagnose(h, loss_ratio=5.0)


def test_variance_from_fold_scores():
    folds = [{"score": s, "history": _h([0.9], [s])} for s in (0.80, 0.88, 0.84)]
    d = ft.diagnose({"folds": folds}, gap=0.5)
    assert d.kinds == ["variance"]
    assert d.findings[0].numbers["std"] == pytest.approx(0.0326598, rel=1e-4)
    assert not ft.diagnose({"folds": folds}, gap=0.5, spread=0.05)


def test_poorly_divided_when_minima_lie_far_apart():
    val_l = [1.0, 0.8, 0.6, 0.5, 0.55, 0.6, 0.7, 0.8, 0.9, 1.0]
    test_l = [1.0, 0.9, 0.85, 0.8, 0.75, 0.7, 0.65, 0.6, 0.55, 0.6]
    m = [0.5] * 10
    h = _h(m, m, val_l=val_l, test_l=test_l, test_m=m)
    d = ft.diagnose(h)
    assert "poorly_divided" in d
    f = next(f for f in d if f.kind == "poorly_divided")
    assert f.numbers["epochs_apart"] == 5
    assert "poorly_divided" not in ft.diagnose(h, min_apart=6)


def test_poorly_divided_when_validation_and_test_disagree():
    h = _h([0.9, 0.9], [0.88, 0.9], test_m=[0.7, 0.72], test_l=[0.3, 0.1])
    d = ft.diagnose(h, gap=0.1)
    assert "poorly_divided" in d and "overfitting" in d  # train 0.9 vs test 0.72


def test_not_converged_and_clean_runs():
    h = _h([0.5, 0.6, 0.7], [0.5, 0.6, 0.7])
    assert ft.diagnose(h).kinds == ["not_converged"]
    h = _h([0.8, 0.9, 0.9], [0.8, 0.89, 0.88])
    d = ft.diagnose(h)
    assert not d and "nothing stands out" in str(d)


def test_diagnose_a_study_reads_the_best_trials_folds():
    study = ft.Study(ft.GridSearch(ft.Grid({"i": [0, 1]})), direction="maximize")
    for score in (0.7, 0.9):
        t = study.ask()
        folds = [{"score": s, "history": _h([1.0], [s])} for s in (score - 0.05, score + 0.05)]
        t.set_attr("folds", folds)
        study.tell(t, score)
    d = ft.diagnose(study)
    assert "trial 1" in str(d) and "overfitting" in d and "variance" in d
    empty = ft.Study(ft.GridSearch(ft.Grid({"i": [0]})))
    empty.optimize(lambda t: 1.0, n_trials=1)
    with pytest.raises(InvalidArgumentError, match="folds"):
        ft.diagnose(empty)


def test_diagnose_bad_inputs():
    with pytest.raises(InvalidTypeError, match="result"):
        ft.diagnose(42)
    with pytest.raises(InvalidArgumentError, match=r"'train_loss' or a 'folds' key.*\['loss'\]"):
        ft.diagnose({"loss": [0.5, 0.4]})
    with pytest.raises(InvalidArgumentError, match="gap"):
        ft.diagnose(_h([0.5], [0.5]), gap=-1)
    with pytest.raises(InvalidArgumentError, match="epoch"):
        ft.diagnose({"train_loss": [], "val_loss": [], "metric": "loss"})
