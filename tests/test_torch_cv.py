"""cross_validate and cv_objective: folds, per-fold early stopping, pruning, stored curves."""

from __future__ import annotations

import json
import math
import pickle

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import ferrotune as ft  # noqa: E402
from ferrotune.errors import InvalidArgumentError, InvalidTypeError  # noqa: E402

pytestmark = pytest.mark.torch


def _data(n=60, d=4, seed=0):
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % 2
    X = torch.randn(n, d, generator=g) + y[:, None] * 2.0
    return X, y


def build(params):
    return ft.torch.MLP(4, int(params.get("width", 8)), 2, dropout=params.get("dropout", 0.0))


def test_cross_validate_returns_every_folds_history():
    X, y = _data()
    cv = ft.torch.cross_validate(build, X, y, folds=ft.StratifiedKFold(3), epochs=4, seed=0)
    assert len(cv.scores) == 3 and len(cv.histories) == 3
    assert cv.metric == "accuracy" and cv.greater_is_better
    assert cv.mean == pytest.approx(np.mean(cv.scores))
    assert cv.std == pytest.approx(np.std(cv.scores))
    assert cv["mean"] == cv.mean and cv["histories"] is cv.histories
    assert cv.histories[0].val_accuracy == cv.histories[0].val_metric
    for score, h in zip(cv.scores, cv.histories, strict=False):
        assert score == h.val_metric[h.final_epoch]
        assert len(h.val_loss) == h.epochs
    json.dumps(cv.to_dict())
    again = ft.torch.cross_validate(build, X, y, folds=ft.StratifiedKFold(3), epochs=4, seed=0)
    assert again.scores == cv.scores


def test_cross_validate_uses_the_folds_it_is_given():
    sk = pytest.importorskip("sklearn.model_selection")
    X, y = _data()
    cv = ft.torch.cross_validate(
        lambda: ft.torch.MLP(4, 8, 2), X.numpy(), y.numpy(), folds=sk.KFold(4), epochs=1
    )
    assert [va.tolist() for _, va in cv.folds] == [
        va.tolist() for _, va in sk.KFold(4).split(X.numpy())
    ]
    cv = ft.torch.cross_validate(build, X, y, folds=2, epochs=1, early_stopping=None)
    assert len(cv.scores) == 2 and all(h.epochs == 1 for h in cv.histories)


def test_cross_validate_regression_defaults_to_kfold():
    X = torch.randn(40, 4)
    y = X.sum(1)
    cv = ft.torch.cross_validate(lambda: ft.torch.MLP(4, 8, 1), X, y, epochs=2)
    assert cv.metric == "loss" and len(cv.scores) == 5


def test_cross_validate_records_a_test_curve_as_control():
    X, y = _data()
    cv = ft.torch.cross_validate(build, X, y, folds=3, epochs=2, test=(X[:10], y[:10]))
    assert all(h.test_loss is not None and len(h.test_loss) == h.epochs for h in cv.histories)


def test_cross_validate_bad_inputs():
    X, y = _data()
    with pytest.raises(InvalidArgumentError, match="one target per sample"):
        ft.torch.cross_validate(build, X, y[:-3], epochs=1)
    with pytest.raises(InvalidArgumentError, match="number of samples"):
        ft.torch.cross_validate(build, X[:4], y[:4], folds=ft.KFold(5), epochs=1)
    with pytest.raises(InvalidArgumentError, match="members in each class"):
        ft.torch.cross_validate(build, X[:8], y[:8], folds=ft.StratifiedKFold(5), epochs=1)
    with pytest.raises(InvalidArgumentError, match="non-empty"):
        ft.torch.cross_validate(build, X[:0], y[:0], epochs=1)
    with pytest.raises(InvalidArgumentError, match="epochs"):
        ft.torch.cross_validate(build, X, y)
    with pytest.raises(InvalidArgumentError, match="val"):
        ft.torch.cross_validate(build, X, y, epochs=1, val=(X, y))
    with pytest.raises(InvalidTypeError, match="build_model"):
        ft.torch.cross_validate(lambda p: "not a model", X, y, folds=2, epochs=1)
    with pytest.raises(InvalidArgumentError, match=r"fit_options.*\['learning_rate'\]"):
        ft.torch.cv_objective(build, X, y, epochs=1, learning_rate=0.1)
    names = np.array(["cat", "dog"])[y.numpy()]
    with pytest.raises(InvalidArgumentError, match=r"y must be numeric.*'cat', 'dog'"):
        ft.torch.cross_validate(build, X, names, folds=2, epochs=1)


def test_a_diverged_fold_warns_at_the_users_line():
    X, y = _data()
    X[0, 0] = float("nan")  # every fold but the one holding sample 0 trains on it
    with pytest.warns(RuntimeWarning, match="nan") as caught:
        ft.torch.cross_validate(build, X, y, folds=2, epochs=2)
    assert {w.filename for w in caught} == {__file__}


def test_a_fold_whose_kept_weights_diverged_scores_nan_not_a_guess():
    X, y = _data()
    X[59, 0] = float("nan")  # fold 0 trains on sample 59, so its weights turn NaN
    space = {"width": ft.Choice([8])}
    study = ft.Study(ft.RandomSearch(space, seed=0), direction="maximize")
    objective = ft.torch.cv_objective(
        build, X, y, folds=ft.KFold(2), epochs=2, early_stopping=None
    )
    with pytest.warns(RuntimeWarning, match="nan"):
        study.optimize(objective, n_trials=1)
    trial = study.trials[0]
    assert trial.state.name == "FAILED"  # accuracy stayed finite, yet the weights were NaN
    assert [math.isnan(f["score"]) for f in trial.attrs["folds"]] == [True]


def test_cross_validate_binary_labels_with_bce():
    # Integer 0/1 labels are stratified, then meet BCEWithLogitsLoss as floats.
    X, y = _data()
    cv = ft.torch.cross_validate(
        lambda: ft.torch.MLP(4, 8, 1), X, y.numpy(), folds=3, epochs=2, loss="bce_with_logits"
    )
    assert cv.metric == "accuracy" and len(cv.scores) == 3
    assert all(0.0 <= s <= 1.0 for s in cv.scores)


def test_cv_objective_stores_curves_in_the_plotting_contract():
    X, y = _data()
    objective = ft.torch.cv_objective(build, X, y, folds=ft.StratifiedKFold(3), epochs=3, seed=0)
    space = {"lr": ft.Float(1e-3, 1e-1, log=True), "dropout": ft.Float(0.0, 0.5)}
    study = ft.Study(ft.RandomSearch(space, seed=0), direction="maximize")
    study.optimize(objective, n_trials=2)
    t = study.best_trial
    folds = t.attrs["folds"]
    assert len(folds) == 3
    for f in folds:
        h = f["history"]
        assert isinstance(f["score"], float)
        for key in ("train_loss", "val_loss", "train_metric", "val_metric"):
            assert len(h[key]) == h["stopped_epoch"] + 1
        assert h["test_loss"] is None and h["test_metric"] is None
        assert isinstance(h["best_epoch"], int) and isinstance(h["stopped_epoch"], int)
    assert t.attrs["cv"]["metric"] == "accuracy"
    assert t.value == pytest.approx(t.attrs["cv"]["mean"])
    assert t.intermediate == {k: f["score"] for k, f in enumerate(folds)}
    json.dumps(t.attrs)


def test_cv_objective_passes_fit_parameters_and_pickles():
    X, y = _data()
    objective = ft.torch.cv_objective(build, X, y, folds=2, epochs=1)
    clone = pickle.loads(pickle.dumps(objective))
    assert len(clone.folds) == 2
    study = ft.Study(
        ft.RandomSearch({"batch_size": ft.Choice([8, 16]), "epochs": ft.Choice([2])}, seed=1),
        direction="maximize",
    )
    study.optimize(objective, n_trials=1)
    h = study.trials[0].attrs["folds"][0]["history"]
    assert len(h["train_loss"]) == 2  # epochs came from the trial's parameters


def test_cv_objective_checks_the_study_direction():
    X, y = _data()
    objective = ft.torch.cv_objective(build, X, y, folds=2, epochs=1)
    study = ft.Study(ft.RandomSearch({"dropout": ft.Float(0, 0.5)}, seed=0))
    with pytest.raises(InvalidArgumentError, match="maximize"):
        study.optimize(objective, n_trials=1)


def test_cv_objective_with_a_fold_aware_pruner_prunes_bad_trials():
    X, y = _data(n=90)
    objective = ft.torch.cv_objective(build, X, y, folds=ft.StratifiedKFold(3), epochs=4, seed=0)
    # Two trials with a learning rate that learns, then three with one that cannot.
    study = ft.Study(
        ft.GridSearch(ft.Grid({"lr": [3e-2, 3e-2, 1e-7, 1e-7, 1e-7]})),
        direction="maximize",
        pruner=ft.MedianPruner(n_startup_trials=2),
    )
    study.optimize(objective, n_trials=5)
    pruned = study.trials_in("PRUNED")
    assert pruned, [t.intermediate for t in study.trials]
    for t in pruned:
        assert t.params["lr"] == 1e-7
        assert len(t.attrs["folds"]) < 3  # stopped before its last fold


def test_cross_validate_on_a_dataset_with_progress():
    X, y = _data(n=40)
    ds = torch.utils.data.TensorDataset(X, y)
    cv = ft.torch.cross_validate(
        build, ds, y, folds=ft.KFold(2), epochs=1, batch_size=8, progress=True
    )
    assert len(cv.scores) == 2 and cv.metric == "accuracy"


def test_a_study_reloaded_from_sqlite_keeps_the_curves(tmp_path):
    X, y = _data()
    objective = ft.torch.cv_objective(build, X, y, folds=2, epochs=2, seed=0)
    path = tmp_path / "cv.sqlite"
    space = {"dropout": ft.Float(0.0, 0.5)}
    with ft.Study(ft.RandomSearch(space, seed=0), direction="maximize", storage=path) as study:
        study.optimize(objective, n_trials=2)
    loaded = ft.load_study(path)
    t = loaded.best_trial
    assert len(t.attrs["folds"]) == 2 and t.attrs["cv"]["metric"] == "accuracy"
    assert isinstance(ft.diagnose(loaded), ft.Diagnosis)
