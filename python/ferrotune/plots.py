"""Pictures of a study, drawn with matplotlib (no pyplot: nothing global changes).

Each ``plot_*`` function takes a :class:`~ferrotune.Study` (a live one, or one opened with
:func:`ferrotune.load_study`) and returns a ``matplotlib.figure.Figure``. When the study holds
nothing that plot can show (no complete trial, no learning curves) it raises
:class:`NoDataError`; :func:`plot_study` draws every plot that has data, skips the others with
a note in the ``ferrotune.plots`` log, and returns the paths it wrote.

Learning curves and fold scores come from what ``ferrotune.torch`` stores with each trial:
``trial.attrs["folds"]``, a list of ``{"score", "history"}`` where a history holds per-epoch
``train_loss``, ``val_loss``, ``test_loss`` (or None), ``train_metric``, ``val_metric``,
``test_metric`` (or None), the ``best_epoch`` whose weights were kept and the
``stopped_epoch`` (both counted from 0), and ``trial.attrs["cv"] = {"mean", "std",
"metric"}``. Epochs are drawn counted from 1.

>>> import ferrotune as ft
>>> study = ft.Study(ft.RandomSearch({"x": ft.Float(-2, 2)}, seed=0))
>>> study.optimize(lambda t: t.params["x"] ** 2, n_trials=20)
>>> fig = ft.plots.plot_history(study)
>>> fig.axes[0].get_xlabel()
'trial'
"""

from __future__ import annotations

import logging
import math
import os
import pathlib
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from . import _validate as v
from .errors import InvalidArgumentError
from .trial import Trial, TrialState

__all__ = [
    "NoDataError",
    "PLOTS",
    "plot_study",
    "plot_history",
    "plot_slices",
    "plot_parallel_coordinates",
    "plot_learning_curves",
    "plot_fold_scores",
]

log = logging.getLogger("ferrotune.plots")

_BEST = "#d62728"  # the best trial, wherever it appears
_CURVE_COLOURS = {"train": "#1f77b4", "val": "#ff7f0e", "test": "#2ca02c"}


class NoDataError(InvalidArgumentError):
    """The study holds nothing this plot can show (no complete trial, no learning curves)."""


# -- input ---------------------------------------------------------------------------------


def _check_study(study: Any) -> Any:
    from .study import Study

    if not isinstance(study, Study):
        v.bad_type("study", study, "a ferrotune Study (or one opened with ft.load_study)")
    return study


def _complete(study: Any) -> list[Trial]:
    trials = [t for t in study.trials if t.state is TrialState.COMPLETE and t.value is not None]
    if not trials:
        raise NoDataError(
            f"no complete trial to plot (the study has {len(study.trials)} trial(s))"
        )
    return trials


def _ranked(study: Any, trials: list[Trial]) -> list[Trial]:
    """Best first."""
    sign = -1.0 if study.direction == "maximize" else 1.0
    return sorted(trials, key=lambda t: (sign * t.value, t.number))  # type: ignore[operator]


def _flatten(params: Any, prefix: str = "") -> dict[str, Any]:
    if not isinstance(params, dict):
        return {prefix: params}
    out: dict[str, Any] = {}
    for key, val in params.items():
        out.update(_flatten(val, f"{prefix}.{key}" if prefix else str(key)))
    return out


class _Column:
    """One parameter's values across trials, as numbers or as categories."""

    def __init__(self, name: str, values: list[Any], log: bool | None = None):
        self.name = name
        present = [x for x in values if x is not _MISSING]
        self.numeric = bool(present) and all(
            isinstance(x, (int, float)) and not isinstance(x, bool) for x in present
        )
        if self.numeric:
            self.categories: list[str] = []
            self.values = [math.nan if x is _MISSING else float(x) for x in values]
            finite = [x for x in self.values if math.isfinite(x)]
            if log is not None:  # the space says so
                self.log = log and bool(finite) and min(finite) > 0
            else:
                # No space on record (a custom searcher): log axes for a positive range over
                # two decades or more, a log-uniform learning rate say.
                self.log = bool(finite) and min(finite) > 0 and max(finite) / min(finite) >= 100
        else:
            labels = ["" if x is _MISSING else _label(x) for x in values]
            self.categories = sorted(
                {lab for x, lab in zip(values, labels, strict=False) if x is not _MISSING}
            )
            index = {c: i for i, c in enumerate(self.categories)}
            self.values = [
                math.nan if x is _MISSING else float(index[lab])
                for x, lab in zip(values, labels, strict=False)
            ]
            self.log = False

    def unit(self) -> list[float]:
        """The values scaled to [0, 1] (NaN where the parameter is absent)."""
        xs = [math.log10(x) if self.log and x > 0 else x for x in self.values]
        finite = [x for x in xs if math.isfinite(x)]
        if not finite:
            return [math.nan] * len(xs)
        lo, hi = min(finite), max(finite)
        if self.categories:
            lo, hi = 0.0, float(max(len(self.categories) - 1, 1))
        span = hi - lo
        return [0.5 if span == 0 and math.isfinite(x) else (x - lo) / (span or 1.0) for x in xs]


class _Missing:
    def __repr__(self) -> str:
        return "<missing>"


_MISSING: Any = _Missing()


def _label(value: Any) -> str:
    text = str(value)
    return text if len(text) <= 18 else text[:17] + "\u2026"


def _log_scales(config: Any) -> dict[str, bool]:
    """Which parameters (by dotted path, as `_flatten` names them) the searcher's space puts
    on a log scale, read from the searcher config stored with the study."""
    out: dict[str, bool] = {}

    def walk(spec: Any, path: str) -> None:
        if not isinstance(spec, dict):
            return
        if "kind" in spec and spec.get("kind") in ("float", "int", "normal"):
            out[path] = bool(spec.get("log"))
        elif "choice" in spec and isinstance(spec["choice"], list):
            for option in spec["choice"]:
                walk(option, path)
        else:
            for key, sub in spec.items():
                walk(sub, f"{path}.{key}" if path else str(key))

    if isinstance(config, dict):
        walk(config.get("space"), "")
    return out


def _columns(trials: list[Trial], config: Any = None) -> list[_Column]:
    flat = [_flatten(t.params) for t in trials]
    names: list[str] = []
    for f in flat:
        names.extend(n for n in f if n not in names)
    scales = _log_scales(config)
    return [_Column(n, [f.get(n, _MISSING) for f in flat], scales.get(n)) for n in names]


def _metric_name(study: Any) -> str:
    for t in study.trials:
        cv = t.attrs.get("cv") if isinstance(t.attrs, dict) else None
        if isinstance(cv, dict) and isinstance(cv.get("metric"), str):
            return str(cv["metric"])
    return "objective"


def _fold_scores(trial: Trial) -> list[float] | None:
    """A trial's fold scores: ``attrs["folds"]``, else its reports when it is a CV trial."""
    folds = trial.attrs.get("folds")
    if isinstance(folds, list) and folds:
        scores = [f.get("score") for f in folds if isinstance(f, dict)]
        out = [float(s) for s in scores if isinstance(s, (int, float)) and not isinstance(s, bool)]
        return out or None
    if "cv" in trial.attrs and trial.intermediate:
        return [trial.intermediate[k] for k in sorted(trial.intermediate)]
    return None


def _folds_with_history(trial: Trial) -> list[dict[str, Any]]:
    folds = trial.attrs.get("folds")
    if not isinstance(folds, list):
        return []
    return [
        f
        for f in folds
        if isinstance(f, dict)
        and isinstance(f.get("history"), dict)
        and _curve(f["history"], "train_loss", "val_loss")
    ]


def _curve(history: dict[str, Any], *names: str) -> list[float] | None:
    """The first of `names` that holds a non-empty list of numbers, as floats."""
    for name in names:
        c = history.get(name)
        if isinstance(c, (list, tuple)) and c:
            try:
                return [math.nan if x is None else float(x) for x in c]
            except (TypeError, ValueError):
                continue
    return None


def _figure(width: float, height: float) -> Any:
    v.optional_import("matplotlib", "plot")
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), layout="constrained")


def _value_axis_scale(values: Sequence[float]) -> str:
    if values and min(values) > 0 and max(values) / min(values) >= 100:
        return "log"
    return "linear"


def _marker(n: int) -> tuple[float, float]:
    """Marker area and opacity for `n` points: smaller and fainter as they crowd."""
    if n <= 300:
        return 18.0, 0.8
    crowd = math.sqrt(300 / n)
    return max(3.0, 18.0 * crowd), max(0.25, 0.8 * crowd)


# -- the plots -----------------------------------------------------------------------------


def plot_history(study: Any) -> Any:
    """The objective of every trial in order, with the best value so far.

    Pruned trials show their last reported value; failed trials are ticks along the bottom.

    Parameters
    ----------
    study : Study

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import ferrotune as ft
    >>> study = ft.Study(ft.RandomSearch({"x": ft.Float(0, 1)}, seed=1))
    >>> study.optimize(lambda t: t.params["x"], n_trials=10)
    >>> ft.plots.plot_history(study).savefig("history.png")  # doctest: +SKIP
    """
    study = _check_study(study)
    complete = sorted(_complete(study), key=lambda t: t.number)
    maximize = study.direction == "maximize"

    fig = _figure(8, 4.5)
    ax = fig.add_subplot()
    xs = [t.number for t in complete]
    ys = [float(t.value) for t in complete]  # type: ignore[arg-type]
    size, alpha = _marker(len(xs))
    ax.scatter(xs, ys, s=size, color="#1f77b4", alpha=alpha, label="complete", zorder=3)

    # Best so far, as a step line through every complete trial.
    best: list[float] = []
    for y in ys:
        best.append(y if not best else (max(best[-1], y) if maximize else min(best[-1], y)))
    ax.step(xs, best, where="post", color=_BEST, linewidth=1.8, label="best so far", zorder=4)

    pruned = [t for t in study.trials if t.state is TrialState.PRUNED and t.value is not None]
    if pruned:
        ax.scatter(
            [t.number for t in pruned],
            [float(t.value) for t in pruned],  # type: ignore[arg-type]
            marker="x",
            s=20,
            color="0.55",
            label="pruned (last report)",
            zorder=2,
        )
    failed = [t.number for t in study.trials if t.state is TrialState.FAILED]
    if failed:
        ax.plot(
            failed,
            [0.0] * len(failed),
            linestyle="none",
            marker="|",
            markersize=10,
            color="#9467bd",
            transform=ax.get_xaxis_transform(),
            label="failed",
            clip_on=False,
        )

    ax.set_yscale(_value_axis_scale(ys))
    ax.set_xlabel("trial")
    ax.set_ylabel(_metric_name(study))
    top = _ranked(study, complete)[0]
    ax.set_title(
        f"Optimisation history: {len(study.trials)} trial(s), best {top.value:.6g} "
        f"at trial {top.number} ({study.direction})"
    )
    ax.grid(True, alpha=0.3)
    ax.legend(loc="best", fontsize="small")
    return fig


def plot_slices(study: Any) -> Any:
    """The objective against each parameter, one panel per parameter, coloured by trial
    number; the best trial is a red star. Categorical parameters are jittered columns.

    Parameters
    ----------
    study : Study

    Returns
    -------
    matplotlib.figure.Figure
    """
    study = _check_study(study)
    complete = sorted(_complete(study), key=lambda t: t.number)
    columns = _columns(complete, getattr(study, "searcher_config", None))
    if not columns:
        raise NoDataError("the trials have no parameters to plot against")
    best = _ranked(study, complete)[0]
    best_row = complete.index(best)
    ys = [float(t.value) for t in complete]  # type: ignore[arg-type]
    numbers = [t.number for t in complete]

    ncols = min(3, len(columns))
    nrows = math.ceil(len(columns) / ncols)
    fig = _figure(3.6 * ncols + 0.8, 3.0 * nrows + 0.6)
    axes = fig.subplots(nrows, ncols, squeeze=False)
    scatter = None
    for i, col in enumerate(columns):
        ax = axes[i // ncols][i % ncols]
        xs = list(col.values)
        if col.categories:
            # A deterministic jitter, so the same study always draws the same picture.
            xs = [
                x + 0.28 * (((n * 0.618034) % 1.0) - 0.5)
                for x, n in zip(xs, numbers, strict=False)
            ]
            ax.set_xticks(range(len(col.categories)))
            ax.set_xticklabels(col.categories, rotation=30, ha="right", fontsize="small")
            ax.set_xlim(-0.5, len(col.categories) - 0.5)  # every option, even a rare one
        size, alpha = _marker(len(xs))
        scatter = ax.scatter(xs, ys, c=numbers, cmap="viridis", s=size, alpha=alpha)
        ax.scatter(
            [xs[best_row]],
            [ys[best_row]],
            marker="*",
            s=160,
            color=_BEST,
            edgecolor="k",
            linewidth=0.6,
            zorder=5,
        )
        if col.log:
            ax.set_xscale("log")
        ax.set_yscale(_value_axis_scale(ys))
        ax.set_xlabel(col.name)
        if i % ncols == 0:
            ax.set_ylabel(_metric_name(study))
        ax.grid(True, alpha=0.3)
    for j in range(len(columns), nrows * ncols):
        axes[j // ncols][j % ncols].set_visible(False)
    if scatter is not None:
        fig.colorbar(scatter, ax=axes, label="trial", shrink=0.8)
    fig.suptitle(f"Parameter slices (best: trial {best.number}, red star)")
    return fig


def plot_parallel_coordinates(study: Any) -> Any:
    """Parallel coordinates: one vertical axis per parameter and one for the objective, one
    line per complete trial coloured by its value; the best trial is drawn in red on top.

    Numeric axes run from the lowest to the highest value tried (log-scaled when the values
    span two decades or more); categorical axes list their options.

    Parameters
    ----------
    study : Study

    Returns
    -------
    matplotlib.figure.Figure
    """
    study = _check_study(study)
    complete = _ranked(study, _complete(study))  # best first, drawn last
    columns = _columns(complete, getattr(study, "searcher_config", None))
    if not columns:
        raise NoDataError("the trials have no parameters to plot")
    objective = _Column(_metric_name(study), [float(t.value) for t in complete])  # type: ignore[arg-type]
    axes_cols = [*columns, objective]
    scaled = [c.unit() for c in axes_cols]
    n_axes = len(axes_cols)

    import matplotlib
    from matplotlib import cm, colors

    vals = objective.values
    norm: Any = colors.Normalize(vmin=min(vals), vmax=max(vals))
    if objective.log:
        norm = colors.LogNorm(vmin=min(vals), vmax=max(vals))
    # Better trials in the darker colours, whichever the direction.
    cmap = matplotlib.colormaps["viridis_r" if study.direction == "maximize" else "viridis"]

    fig = _figure(max(6.0, 1.6 * n_axes + 2.0), 5.0)
    ax = fig.add_subplot()
    xs = list(range(n_axes))
    # One collection for every trial but the best: thousands of lines draw in one call.
    # Worse trials first, so the better ones lie on top. A line skips the axes of parameters
    # its trial does not have (a conditional choice), joining the ones on either side.
    from matplotlib.collections import LineCollection

    def polyline(row: int) -> list[tuple[int, float]]:
        return [(x, s[row]) for x, s in zip(xs, scaled, strict=False) if math.isfinite(s[row])]

    order = list(reversed(range(1, len(complete))))
    segments = [polyline(row) for row in order]
    alpha = 0.6 if len(order) <= 200 else max(0.08, 0.6 * math.sqrt(200 / len(order)))
    shade = cmap(norm(np.asarray([vals[row] for row in order], dtype=float)))
    lines = LineCollection(segments, colors=shade, linewidths=1.0, alpha=alpha)
    ax.add_collection(lines)
    best_x, best_y = zip(*polyline(0), strict=False)
    ax.plot(best_x, best_y, color=_BEST, linewidth=2.4, zorder=5, label="best")
    for x, col in enumerate(axes_cols):
        ax.axvline(x, color="0.3", linewidth=0.8, zorder=1)
        for y, text in _axis_labels(col):
            ax.text(x + 0.04, y, text, fontsize="x-small", va="center", ha="left", zorder=6)
    ax.set_xticks(xs)
    ax.set_xticklabels([c.name for c in axes_cols], rotation=20, ha="right")
    ax.set_xlim(-0.2, n_axes - 0.6)
    ax.set_ylim(-0.05, 1.05)
    ax.set_yticks([])
    for side in ("top", "right", "left"):
        ax.spines[side].set_visible(False)
    mappable = cm.ScalarMappable(norm=norm, cmap=cmap)
    fig.colorbar(mappable, ax=ax, label=objective.name, shrink=0.85)
    ax.set_title(
        f"Parallel coordinates: {len(complete)} complete trial(s); "
        f"best (trial {complete[0].number}) in red"
    )
    return fig


def _axis_labels(col: _Column) -> list[tuple[float, str]]:
    if col.categories:
        k = len(col.categories)
        return [(i / max(k - 1, 1) if k > 1 else 0.5, c) for i, c in enumerate(col.categories)]
    finite = [x for x in col.values if math.isfinite(x)]
    if not finite:
        return []
    lo, hi = min(finite), max(finite)
    if lo == hi:
        return [(0.5, f"{lo:.4g}")]
    return [(0.0, f"{lo:.4g}"), (1.0, f"{hi:.4g}")]


def plot_learning_curves(source: Any, trial: Trial | int | None = None) -> Any:
    """Training, validation and test curves, one row per fold: loss on the left, the metric
    (when recorded) on the right.

    Marked on each fold: the epoch training stopped at (dashed line), the best epoch of early
    stopping, whose weights are restored (dotted line), and the minima of the validation and
    test losses (circle and diamond). A test minimum far from the validation minimum hints at
    a poorly divided data set.

    Parameters
    ----------
    source : Study, Trial, cross-validation result or history
        A study (see ``trial``); one trial with ``attrs["folds"]``; a cross-validation result
        (an object with ``histories`` and ``scores``, or a dict with ``"folds"``, or the
        list of folds); or one training history (a dict with ``train_loss``, ``val_loss``,
        ... or an object with ``to_dict()`` giving one).
    trial : Trial or int, optional
        For a study: the trial (or its number). By default the best complete trial that has
        curves.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import ferrotune as ft
    >>> h = {"train_loss": [1.0, 0.6, 0.4, 0.3], "val_loss": [1.1, 0.8, 0.7, 0.75],
    ...      "best_epoch": 2, "stopped_epoch": 3}
    >>> fig = ft.plots.plot_learning_curves(h)
    >>> fig.axes[0].get_ylabel()
    'loss'
    """
    folds, title, metric = _curve_source(source, trial)
    # A metric panel when there is a metric other than the loss itself (regression histories
    # from ferrotune.torch record metric="loss" and repeat the loss curves).
    has_metric = any(
        f["history"].get("metric") != "loss" and _curve(f["history"], "train_metric", "val_metric")
        for f in folds
    )
    ncols = 2 if has_metric else 1
    fig = _figure(5.2 * ncols + 0.6, 2.7 * len(folds) + 0.7)
    axes = fig.subplots(len(folds), ncols, squeeze=False)

    for i, fold in enumerate(folds):
        h = fold["history"]
        score = fold.get("score")
        label = f"fold {i}" if len(folds) > 1 else ""
        if isinstance(score, (int, float)) and not isinstance(score, bool):
            label += (": " if label else "") + f"score {score:.4g}"
        _draw_curves(axes[i][0], h, "loss", mark_minima=True)
        axes[i][0].set_title(label, fontsize="medium", loc="left")
        if has_metric:
            _draw_curves(axes[i][1], h, "metric", mark_minima=False)
            name = h.get("metric") if isinstance(h.get("metric"), str) else metric
            axes[i][1].set_ylabel(name)
    handles, labels = axes[0][0].get_legend_handles_labels()
    if has_metric:  # the metric panel may add a test curve the loss panel lacks
        for hnd, lab in zip(*axes[0][1].get_legend_handles_labels(), strict=False):
            if lab not in labels:
                handles.append(hnd)
                labels.append(lab)
    fig.legend(handles, labels, loc="outside lower center", ncols=min(len(labels), 4))
    fig.suptitle(title)
    return fig


def _history_dict(h: Any) -> dict[str, Any] | None:
    data = h.to_dict() if hasattr(h, "to_dict") and not isinstance(h, dict) else h
    if isinstance(data, dict) and _curve(data, "train_loss", "val_loss"):
        return data
    return None


def _curve_source(source: Any, trial: Trial | int | None) -> tuple[list[dict[str, Any]], str, str]:
    """(folds with a history each, the figure's title, the metric's name)."""
    from .study import Study

    if isinstance(source, Study):
        chosen = _curve_trial(source, trial)
        value = f" (value {chosen.value:.6g})" if chosen.value is not None else ""
        title = f"Learning curves of trial {chosen.number}{value}"
        metric = _metric_name(source)
        return _folds_with_history(chosen), title, "metric" if metric == "objective" else metric
    if trial is not None:
        v.bad_value("trial", trial, "None unless the first argument is a Study")
    if isinstance(source, Trial):
        if not _folds_with_history(source):
            raise NoDataError(f"trial {source.number} has no learning curves (attrs['folds'])")
        cv = source.attrs.get("cv")
        named = cv.get("metric") if isinstance(cv, dict) else None
        title = f"Learning curves of trial {source.number}"
        return _folds_with_history(source), title, str(named or "metric")

    # A cross-validation result: an object, its dict, or the bare list of folds.
    raw: Any = None
    if hasattr(source, "histories") and hasattr(source, "scores"):
        raw = [
            {"score": s, "history": h}
            for s, h in zip(source.scores, source.histories, strict=False)
        ]
    elif isinstance(source, dict) and "folds" in source:
        raw = source["folds"]
    elif isinstance(source, (list, tuple)) and source and isinstance(source[0], dict):
        raw = source
    if raw is not None:
        folds = []
        for f in raw:
            h = _history_dict(f.get("history")) if isinstance(f, dict) else None
            if h is not None:
                folds.append({"score": f.get("score"), "history": h})
        if not folds:
            raise NoDataError("the cross-validation result holds no training history")
        return folds, f"Learning curves ({len(folds)} folds)", "metric"

    h = _history_dict(source)
    if h is None:
        v.bad_type(
            "source",
            source,
            "a Study, a Trial, a cross-validation result or a training history "
            "(a dict with train_loss and val_loss)",
        )
    return [{"score": None, "history": h}], "Learning curves", "metric"


def _curve_trial(study: Any, trial: Trial | int | None) -> Trial:
    if trial is None:
        candidates = [t for t in study.trials if _folds_with_history(t)]
        complete = [
            t for t in candidates if t.state is TrialState.COMPLETE and t.value is not None
        ]
        if complete:
            return _ranked(study, complete)[0]
        if candidates:
            return candidates[-1]
        raise NoDataError(
            "no trial has learning curves (trial.attrs['folds'] with histories, as "
            "ferrotune.torch stores them)"
        )
    if isinstance(trial, Trial):
        chosen = trial
    else:
        number = v.integer("trial", trial, minimum=0)
        if number >= len(study.trials):
            v.bad_value("trial", trial, f"a trial number below {len(study.trials)}")
        chosen = study.trials[number]
    if not _folds_with_history(chosen):
        raise NoDataError(f"trial {chosen.number} has no learning curves (attrs['folds'])")
    return chosen


def _draw_curves(ax: Any, h: dict[str, Any], kind: str, *, mark_minima: bool) -> None:
    val = None
    test = None
    for split in ("train", "val", "test"):
        c = _curve(h, f"{split}_{kind}")
        if c is None:
            continue
        epochs = list(range(1, len(c) + 1))
        ax.plot(epochs, c, color=_CURVE_COLOURS[split], linewidth=1.5, label=split)
        if split == "val":
            val = c
        elif split == "test":
            test = c

    stopped = h.get("stopped_epoch")
    kept = h.get("best_epoch")
    if isinstance(stopped, int) and not isinstance(stopped, bool):
        ax.axvline(stopped + 1, color="0.35", linestyle="--", linewidth=1, label="stopped")
    if isinstance(kept, int) and not isinstance(kept, bool):
        ax.axvline(kept + 1, color="0.35", linestyle=":", linewidth=1.3, label="best epoch")
    if mark_minima:
        for c, name, marker in ((val, "val", "o"), (test, "test", "D")):
            if c is None or not any(math.isfinite(x) for x in c):
                continue
            i = min((j for j in range(len(c)) if math.isfinite(c[j])), key=lambda j: c[j])
            ax.plot(
                [i + 1],
                [c[i]],
                marker=marker,
                markersize=8,
                linestyle="none",
                markerfacecolor="none",
                markeredgecolor=_CURVE_COLOURS[name],
                markeredgewidth=2,
                label=f"{name} minimum",
                zorder=5,
            )
    ax.set_xlabel("epoch")
    ax.set_ylabel(kind)
    ax.grid(True, alpha=0.3)


def plot_fold_scores(study: Any, *, top: int = 10) -> Any:
    """Box plots of the fold scores of the ``top`` best trials (with the scores as dots), to
    see how much a trial's value depends on the split.

    Parameters
    ----------
    study : Study
    top : int
        How many of the best trials with fold scores to show.

    Returns
    -------
    matplotlib.figure.Figure
    """
    study = _check_study(study)
    top = v.integer("top", top, minimum=1)
    complete = [t for t in study.trials if t.state is TrialState.COMPLETE and t.value is not None]
    with_scores = [(t, _fold_scores(t)) for t in _ranked(study, complete)]
    chosen = [(t, s) for t, s in with_scores if s][:top]
    if not chosen:
        raise NoDataError(
            "no complete trial has fold scores (trial.attrs['folds'], as ferrotune.torch "
            "stores them)"
        )

    fig = _figure(max(5.0, 0.75 * len(chosen) + 2.5), 4.5)
    ax = fig.add_subplot()
    data = [s for _, s in chosen]
    positions = list(range(1, len(chosen) + 1))
    ax.boxplot(data, positions=positions, widths=0.55, showmeans=True)
    for p, scores in zip(positions, data, strict=False):
        k = len(scores)
        xs = [p + 0.18 * ((i + 0.5) / k - 0.5) for i in range(k)]
        ax.scatter(xs, scores, s=14, color="#1f77b4", alpha=0.7, zorder=3)
    ax.set_xticks(positions)
    ax.set_xticklabels([f"#{t.number}" for t, _ in chosen])
    ax.set_xlabel("trial, best first (box: quartiles; triangle: mean; dots: folds)")
    ax.set_ylabel(f"fold {_metric_name(study)}")
    ax.set_title(f"Fold scores of the {len(chosen)} best trial(s) with cross-validation")
    ax.grid(True, axis="y", alpha=0.3)
    return fig


PLOTS: dict[str, Callable[..., Any]] = {
    "history": plot_history,
    "slices": plot_slices,
    "parallel_coordinates": plot_parallel_coordinates,
    "learning_curves": plot_learning_curves,
    "fold_scores": plot_fold_scores,
}
"""Every plot :func:`plot_study` draws, by the name of its file (without ``.png``)."""


def _render(
    study: Any, *, trial: Trial | int | None = None, top: int = 10
) -> list[tuple[str, Any, str | None]]:
    """Every plot as (name, figure or None, note when skipped)."""
    out: list[tuple[str, Any, str | None]] = []
    for name, fn in PLOTS.items():
        try:
            if name == "learning_curves":
                fig = fn(study, trial)
            elif name == "fold_scores":
                fig = fn(study, top=top)
            else:
                fig = fn(study)
        except NoDataError as e:
            log.info("skipped the %s plot: %s", name, e)
            out.append((name, None, str(e)))
            continue
        out.append((name, fig, None))
    return out


def plot_study(
    study: Any,
    out_dir: str | os.PathLike[str],
    *,
    trial: Trial | int | None = None,
    top: int = 10,
    dpi: int = 110,
) -> list[pathlib.Path]:
    """Draws every plot that has data into ``out_dir`` as PNG files and returns their paths.

    The files are ``history.png``, ``slices.png``, ``parallel_coordinates.png``,
    ``learning_curves.png`` and ``fold_scores.png``. A plot without data (no learning curves
    in a study that did not use ``ferrotune.torch``, say) is skipped with an INFO note in
    the ``ferrotune.plots`` log. ``out_dir`` is created when missing.

    Parameters
    ----------
    study : Study
    out_dir : path
    trial : Trial or int, optional
        Whose learning curves to draw; by default the best trial that has them.
    top : int
        How many trials the fold-score plot shows.
    dpi : int
        Resolution of the PNG files.

    Returns
    -------
    list of pathlib.Path

    Examples
    --------
    >>> import ferrotune as ft
    >>> study = ft.Study(ft.RandomSearch({"x": ft.Float(-1, 1)}, seed=0))
    >>> study.optimize(lambda t: t.params["x"] ** 2, n_trials=30)
    >>> [p.name for p in ft.plots.plot_study(study, "plots")]  # doctest: +SKIP
    ['history.png', 'slices.png', 'parallel_coordinates.png']
    """
    study = _check_study(study)
    if not isinstance(out_dir, (str, os.PathLike)):
        v.bad_type("out_dir", out_dir, "a path to a folder")
    dpi = v.integer("dpi", dpi, minimum=10)
    folder = pathlib.Path(out_dir)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, fig, _ in _render(study, trial=trial, top=top):
        if fig is None:
            continue
        path = folder / f"{name}.png"
        fig.savefig(path, dpi=dpi)
        paths.append(path)
    return paths
