"""ferrotune.plots: every plot from a stored study, and the notes for plots without data."""

from __future__ import annotations

import logging

import pytest
from _study_factory import cv_study, plain_study

import ferrotune as ft
from ferrotune import errors
from ferrotune.plots import NoDataError

matplotlib = pytest.importorskip("matplotlib")

ALL = ["history", "slices", "parallel_coordinates", "learning_curves", "fold_scores"]


@pytest.fixture(scope="module")
def cv(tmp_path_factory):
    path = tmp_path_factory.mktemp("cv") / "cv.db"
    cv_study(path)
    return ft.load_study(path)


@pytest.fixture(scope="module")
def plain(tmp_path_factory):
    path = tmp_path_factory.mktemp("plain") / "plain.db"
    plain_study(path)
    return ft.load_study(path)


def _is_png(path) -> bool:
    from matplotlib import image

    with open(path, "rb") as f:
        if f.read(8) != b"\x89PNG\r\n\x1a\n":
            return False
    pixels = image.imread(path)
    return pixels.shape[0] > 100 and pixels.shape[1] > 100


def test_plot_study_writes_every_plot_of_a_cv_study(cv, tmp_path):
    backend = matplotlib.get_backend()
    paths = ft.plots.plot_study(cv, tmp_path / "new" / "folder")
    assert [p.stem for p in paths] == ALL
    assert all(_is_png(p) for p in paths)
    assert matplotlib.get_backend() == backend  # no pyplot, no backend switch


def test_plots_without_data_are_skipped_with_a_note(plain, tmp_path, caplog):
    with caplog.at_level(logging.INFO, logger="ferrotune.plots"):
        paths = ft.plots.plot_study(plain, tmp_path)
    assert [p.stem for p in paths] == ["history", "slices", "parallel_coordinates"]
    notes = [r.getMessage() for r in caplog.records if r.name == "ferrotune.plots"]
    assert any("learning_curves" in n for n in notes)
    assert any("fold_scores" in n for n in notes)


def test_history_best_so_far_follows_the_direction(cv, plain):
    for study, better in ((cv, max), (plain, min)):
        fig = ft.plots.plot_history(study)
        ax = fig.axes[0]
        (line,) = [ln for ln in ax.get_lines() if ln.get_label() == "best so far"]
        ys = list(line.get_ydata())
        assert ys[-1] == pytest.approx(study.best_value)
        assert all(better(a, b) == b for a, b in zip(ys, ys[1:], strict=False))


def test_history_marks_pruned_and_failed_trials(cv):
    ax = ft.plots.plot_history(cv).axes[0]
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "pruned (last report)" in labels and "failed" in labels


def test_slices_one_panel_per_parameter_with_log_axis_for_lr(cv):
    fig = ft.plots.plot_slices(cv)
    panels = {ax.get_xlabel(): ax for ax in fig.axes if ax.get_visible() and ax.get_xlabel()}
    assert set(panels) == {"lr", "dropout", "hidden", "optimizer"}
    assert panels["lr"].get_xscale() == "log"
    assert panels["dropout"].get_xscale() == "linear"
    assert [t.get_text() for t in panels["optimizer"].get_xticklabels()] == ["adam", "sgd"]


def test_parallel_coordinates_has_an_axis_per_parameter_and_the_objective(cv):
    ax = ft.plots.plot_parallel_coordinates(cv).axes[0]
    names = [t.get_text() for t in ax.get_xticklabels()]
    assert names == ["lr", "dropout", "hidden", "optimizer", "accuracy"]
    complete = cv.trials_in("COMPLETE")
    (others,) = ax.collections
    assert len(others.get_segments()) == len(complete) - 1
    (best,) = [ln for ln in ax.get_lines() if ln.get_label() == "best"]
    assert best.get_ydata()[-1] == 1.0  # the best accuracy tops the objective's axis


def test_learning_curves_mark_stop_best_epoch_and_minima(cv):
    best = cv.best_trial
    fig = ft.plots.plot_learning_curves(cv)
    folds = best.attrs["folds"]
    loss_axes = [ax for ax in fig.axes if ax.get_ylabel() == "loss"]
    assert len(loss_axes) == len(folds)
    assert len([ax for ax in fig.axes if ax.get_ylabel() == "accuracy"]) == len(folds)
    for ax, fold in zip(loss_axes, folds, strict=False):
        h = fold["history"]
        lines = {ln.get_label(): ln for ln in ax.get_lines()}
        val_min = min(range(len(h["val_loss"])), key=h["val_loss"].__getitem__)
        test_min = min(range(len(h["test_loss"])), key=h["test_loss"].__getitem__)
        assert list(lines["val minimum"].get_xdata()) == [val_min + 1]  # epochs drawn from 1
        assert list(lines["test minimum"].get_xdata()) == [test_min + 1]
        assert lines["stopped"].get_xdata()[0] == h["stopped_epoch"] + 1
        assert lines["best epoch"].get_xdata()[0] == h["best_epoch"] + 1
        assert len(lines["train"].get_xdata()) == len(h["train_loss"])


def test_learning_curves_without_a_test_set(tmp_path):
    cv_study(tmp_path / "s.db", n_trials=3, folds=2, with_test=False, failures=False)
    fig = ft.plots.plot_learning_curves(ft.load_study(tmp_path / "s.db"))
    labels = {ln.get_label() for ax in fig.axes for ln in ax.get_lines()}
    assert "val minimum" in labels
    assert "test" not in labels and "test minimum" not in labels


def test_learning_curves_of_a_chosen_trial_and_bad_choices(cv, plain):
    fig = ft.plots.plot_learning_curves(cv, trial=0)
    assert "trial 0" in fig._suptitle.get_text()
    with pytest.raises(NoDataError, match="trial 4"):
        ft.plots.plot_learning_curves(cv, trial=4)  # failed before any fold
    with pytest.raises(errors.InvalidArgumentError, match="trial"):
        ft.plots.plot_learning_curves(cv, trial=99)
    with pytest.raises(errors.InvalidTypeError, match="trial"):
        ft.plots.plot_learning_curves(cv, trial="best")
    with pytest.raises(NoDataError, match="learning curves"):
        ft.plots.plot_learning_curves(plain)


def test_fold_scores_best_first_and_top(cv):
    ax = ft.plots.plot_fold_scores(cv, top=4).axes[0]
    ranked = sorted((t for t in cv.trials_in("COMPLETE")), key=lambda t: -t.value)[:4]
    assert [t.get_text() for t in ax.get_xticklabels()] == [f"#{t.number}" for t in ranked]
    with pytest.raises(errors.InvalidArgumentError, match="top"):
        ft.plots.plot_fold_scores(cv, top=0)


def test_fold_scores_from_reports_when_only_cv_attrs(tmp_path):
    study = ft.Study(ft.RandomSearch({"x": ft.Float(0, 1)}, seed=0))

    def objective(trial):
        scores = [trial.params["x"] + 0.01 * k for k in range(4)]
        for k, s in enumerate(scores):
            trial.report(k, s)
        trial.set_attr("cv", {"mean": sum(scores) / 4, "std": 0.01, "metric": "mse"})
        return sum(scores) / 4

    study.optimize(objective, n_trials=3)
    ax = ft.plots.plot_fold_scores(study).axes[0]
    assert ax.get_ylabel() == "fold mse"
    assert len(ax.get_xticklabels()) == 3


def test_nested_and_odd_parameters():
    space = {
        "model": ft.Choice(
            [
                {"kind": "mlp", "width": ft.Int(8, 64)},
                {"kind": "linear", "bias": ft.Choice([True, False])},
            ]
        ),
        "flag": ft.Choice([None, "a"]),
    }
    study = ft.Study(ft.RandomSearch(space, seed=1))
    study.optimize(lambda t: float(len(str(t.params))), n_trials=30)
    fig = ft.plots.plot_slices(study)
    panels = {ax.get_xlabel(): ax for ax in fig.axes if ax.get_xlabel()}
    assert {"model.kind", "model.width", "model.bias", "flag"} <= set(panels)
    bias = panels["model.bias"]
    seen = {str(t.params["model"]["bias"]) for t in study.trials if "bias" in t.params["model"]}
    assert seen == {"False", "True"}
    assert [t.get_text() for t in bias.get_xticklabels()] == ["False", "True"]
    assert bias.get_xlim() == (-0.5, 1.5)  # both options in view
    ft.plots.plot_parallel_coordinates(study)  # absent parameters break the lines


def test_empty_study_and_bad_arguments(tmp_path):
    study = ft.Study(ft.RandomSearch({"x": ft.Float(0, 1)}, seed=0))
    for plot in (ft.plots.plot_history, ft.plots.plot_slices, ft.plots.plot_parallel_coordinates):
        with pytest.raises(NoDataError, match="no complete trial"):
            plot(study)
    assert ft.plots.plot_study(study, tmp_path) == []
    with pytest.raises(errors.InvalidTypeError, match="study"):
        ft.plots.plot_study("study.db", tmp_path)
    with pytest.raises(errors.InvalidTypeError, match="out_dir"):
        ft.plots.plot_study(study, 3)
    assert issubclass(NoDataError, ValueError)


def test_learning_curves_from_a_history_a_cv_result_and_a_trial(cv):
    best = cv.best_trial
    folds = best.attrs["folds"]

    one = ft.plots.plot_learning_curves(folds[0]["history"])
    assert len([ax for ax in one.axes if ax.get_ylabel() == "loss"]) == 1

    class History:  # what a training loop might return
        def to_dict(self):
            return {"train_loss": [1.0, 0.5], "val_loss": [1.2, 0.9]}

    bare = ft.plots.plot_learning_curves(History())
    assert len(bare.axes) == 1  # no metric: one panel
    labels = {ln.get_label() for ln in bare.axes[0].get_lines()}
    assert "stopped" not in labels and "val minimum" in labels

    class CVResult:
        scores = [f["score"] for f in folds]
        histories = [f["history"] for f in folds]

    for source in ({"folds": folds}, folds, CVResult(), best):
        fig = ft.plots.plot_learning_curves(source)
        assert len([ax for ax in fig.axes if ax.get_ylabel() == "loss"]) == len(folds)

    regression = dict(folds[0]["history"], metric="loss")
    regression["train_metric"] = regression["train_loss"]
    assert len(ft.plots.plot_learning_curves(regression).axes) == 1  # no repeated loss panel

    with pytest.raises(errors.InvalidTypeError, match="source"):
        ft.plots.plot_learning_curves([1, 2, 3])
    with pytest.raises(errors.InvalidArgumentError, match="trial"):
        ft.plots.plot_learning_curves(folds, trial=0)
    with pytest.raises(NoDataError, match="no training history"):
        ft.plots.plot_learning_curves({"folds": [{"score": 0.5, "history": None}]})
