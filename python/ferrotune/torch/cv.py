"""K-fold cross-validation of PyTorch models, and objectives that tune them with pruning."""

from __future__ import annotations

import dataclasses
import inspect
import logging
import math
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch import nn

from .. import _validate as v
from ..errors import InvalidArgumentError, TrialPruned
from ..folds import KFold, StratifiedKFold, as_folds, n_samples, take
from ..trial import Trial
from .early_stopping import EarlyStopping
from .fit import History, fit

__all__ = ["cross_validate", "cv_objective", "CVResult", "CVObjective"]

log = logging.getLogger("ferrotune.torch.cv")

_DEFAULT_FOLDS = StratifiedKFold(5)
_UNSET: Any = object()

# Trial parameters with these names are passed to fit() (a search over lr, say, needs no
# extra wiring); build_model reads the rest.
FIT_PARAMS = ("lr", "weight_decay", "batch_size", "epochs", "optimizer", "loss")


@dataclasses.dataclass
class CVResult:
    """The outcome of a cross-validation.

    Attributes
    ----------
    scores : list of float
        Each fold's validation score: accuracy for classification, else loss, at the epoch
        whose weights the fold's model kept.
    mean, std : float
        Of the scores (``std`` is the population standard deviation, ``ddof=0``).
    metric : {"accuracy", "loss"}
    histories : list of History
    folds : list of (train_idx, val_idx)
    """

    scores: list[float]
    mean: float
    std: float
    metric: str
    histories: list[History]
    folds: list[tuple[np.ndarray, np.ndarray]] = dataclasses.field(repr=False)

    def __getitem__(self, key: str) -> Any:
        # Dict-style access too: cv["mean"], cv["scores"], ...
        if key not in {f.name for f in dataclasses.fields(self)}:
            raise KeyError(key)
        return getattr(self, key)

    @property
    def greater_is_better(self) -> bool:
        return self.metric == "accuracy"

    def to_dict(self) -> dict[str, Any]:
        """Plain data: the fold records in the format ``trial.attrs["folds"]`` uses, and the
        summary of ``trial.attrs["cv"]``."""
        return {
            "folds": [
                {"score": s, "history": h.to_dict()}
                for s, h in zip(self.scores, self.histories, strict=False)
            ],
            "cv": {"mean": self.mean, "std": self.std, "metric": self.metric},
        }

    def __repr__(self) -> str:
        return (
            f"CVResult({self.metric}: mean={self.mean:.4g}, std={self.std:.4g}, "
            f"scores={[round(s, 4) for s in self.scores]})"
        )


def _is_classification(y: Any) -> bool:
    if isinstance(y, torch.Tensor):
        return not y.dtype.is_floating_point
    arr = np.asarray(y)
    return arr.dtype.kind in "iub" or arr.dtype.kind in "OSU"


def _resolve_folds(folds: Any, X: Any, y: Any) -> list[tuple[np.ndarray, np.ndarray]]:
    classify = _is_classification(y)
    if folds is _DEFAULT_FOLDS and not classify:
        folds = KFold(_DEFAULT_FOLDS.n_splits)  # a continuous target cannot be stratified
    return as_folds(folds, X, y, stratify=classify)


def _call_builder(build_model: Callable[..., Any], params: dict[str, Any]) -> nn.Module:
    try:
        sig = inspect.signature(build_model)
        takes_params = any(
            p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.VAR_POSITIONAL)
            for p in sig.parameters.values()
        )
    except (TypeError, ValueError):
        takes_params = True
    model = build_model(params) if takes_params else build_model()
    if not isinstance(model, nn.Module):
        v.bad_type("build_model", model, "a function returning a fresh torch.nn.Module")
    return model


def _check_data(X: Any, y: Any) -> tuple[Any, Any]:
    n = n_samples(X)
    if n == 0:
        v.bad_value("X", X, "a non-empty data set")
    if y is None:
        v.bad_value("y", y, "the targets, one per sample of X")
    m = n_samples(y, "y")
    if m != n:
        v.bad_value("y", f"{m} targets", f"one target per sample of X ({n} samples)")
    if not isinstance(X, (torch.Tensor, torch.utils.data.Dataset)):
        X = torch.as_tensor(np.asarray(X))
    if not isinstance(y, torch.Tensor):
        arr = np.asarray(y)
        if arr.dtype.kind not in "biuf":
            v.bad_value(
                "y",
                f"{arr.dtype} values such as {arr[:3].tolist()}",
                "numeric targets: encode class labels as integers 0..n_classes-1 first "
                "(for instance with numpy.unique(y, return_inverse=True))",
            )
        y = torch.as_tensor(arr)
    return X, y


def _fold_data(X: Any, y: torch.Tensor, idx: np.ndarray) -> Any:
    if isinstance(X, torch.Tensor):
        return take(X, idx), take(y, idx)
    return torch.utils.data.Subset(X, idx.tolist())  # a Dataset yields its own targets


def _fit_options(fit_options: dict[str, Any]) -> tuple[dict[str, Any], EarlyStopping | None]:
    for key in ("val", "train"):
        if key in fit_options:
            v.bad_value(
                key,
                "given",
                "left out: cross-validation takes each fold's training and validation data "
                "from X and y",
            )
    known = set(inspect.signature(fit).parameters) - {"model", "train"}
    unknown = sorted(set(fit_options) - known)
    if unknown:
        # Found now rather than in the first fold of the first trial.
        v.bad_value(
            "fit_options",
            unknown,
            f"options of ferrotune.torch.fit: {', '.join(sorted(known - {'val'}))}",
        )
    if "epochs" not in fit_options:
        v.bad_value("epochs", None, "given: the most epochs each fold trains for")
    opts = dict(fit_options)
    stopper = opts.pop("early_stopping", _UNSET)
    if stopper is _UNSET:
        stopper = EarlyStopping("val_loss", patience=10)
    if stopper is not None and not isinstance(stopper, EarlyStopping):
        v.bad_type("early_stopping", stopper, "an EarlyStopping or None")
    opts.pop("progress", None)
    return opts, stopper


def _fold_seed(seed: Any, k: int) -> int | None:
    return None if seed is None else (v.seed(seed) + 1_000_003 * k) % 2**64


def _run_fold(
    build_model: Callable[..., Any],
    params: dict[str, Any],
    X: Any,
    y: torch.Tensor,
    fold: tuple[np.ndarray, np.ndarray],
    k: int,
    opts: dict[str, Any],
    stopper: EarlyStopping | None,
) -> tuple[float, History]:
    seed = _fold_seed(opts.get("seed"), k)
    if seed is not None:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)  # the same initial weights for every trial's fold k
            model = _call_builder(build_model, params)
    else:
        model = _call_builder(build_model, params)
    train_idx, val_idx = fold
    history = fit(
        model,
        _fold_data(X, y, train_idx),
        val=_fold_data(X, y, val_idx),
        early_stopping=None if stopper is None else stopper.fresh(),
        **{**opts, "seed": seed},
    )
    score = history.score("val")
    if history.val_loss is not None and not math.isfinite(history.val_loss[history.final_epoch]):
        # The weights the fold kept diverged; their accuracy (a constant guess) says nothing.
        score = math.nan
    return score, history


def _summary(scores: list[float]) -> tuple[float, float]:
    arr = np.asarray(scores, dtype=float)
    return float(arr.mean()), float(arr.std())


def cross_validate(
    build_model: Callable[..., nn.Module],
    X: Any,
    y: Any,
    *,
    folds: Any = _DEFAULT_FOLDS,
    params: dict[str, Any] | None = None,
    progress: bool = False,
    **fit_options: Any,
) -> CVResult:
    """Trains a fresh model on each fold and scores it on the fold left out.

    Parameters
    ----------
    build_model : callable
        ``build_model(params)`` (or ``build_model()``) returning a fresh ``nn.Module``.
    X, y
        Inputs and targets (arrays or tensors), or a ``Dataset`` as ``X`` with its labels as
        ``y`` (used to assign folds).
    folds
        A ferrotune or scikit-learn splitter, a number of folds, or ``(train_idx, val_idx)``
        pairs. The default, ``StratifiedKFold(5)``, becomes ``KFold(5)`` for continuous
        targets.
    params : dict, optional
        Passed to ``build_model``.
    progress : bool
        A tqdm bar over folds (quiet when not attached to a terminal).
    **fit_options
        Passed to :func:`ferrotune.torch.fit` (``epochs`` is required). ``early_stopping``
        defaults to ``EarlyStopping("val_loss", patience=10)``; pass None to train every
        epoch. ``test=(X_test, y_test)`` records a test curve per fold as a control. With
        ``seed``, fold ``k`` uses its own seed derived from it, for the model's initial weights
        as for training.

    Returns
    -------
    CVResult

    Examples
    --------
    >>> import torch, ferrotune as ft
    >>> X, y = torch.randn(60, 4), torch.arange(60) % 2
    >>> cv = ft.torch.cross_validate(lambda: ft.torch.MLP(4, 8, 2), X, y,
    ...                              folds=ft.StratifiedKFold(3), epochs=2, seed=0)
    >>> len(cv.scores), cv.metric
    (3, 'accuracy')
    """
    if not callable(build_model):
        v.bad_type("build_model", build_model, "a function returning a fresh nn.Module")
    if params is not None and not isinstance(params, dict):
        v.bad_type("params", params, "a dict of parameters for build_model")
    v.flag("progress", progress)
    X, y = _check_data(X, y)
    pairs = _resolve_folds(folds, X, y)
    opts, stopper = _fit_options(fit_options)

    bar = None
    if progress:
        tqdm = v.optional_import("tqdm", "progress").tqdm
        bar = tqdm(total=len(pairs), unit="fold", desc="cross_validate", disable=None)
    scores: list[float] = []
    histories: list[History] = []
    try:
        for k, fold in enumerate(pairs):
            score, history = _run_fold(build_model, params or {}, X, y, fold, k, opts, stopper)
            scores.append(score)
            histories.append(history)
            if bar is not None:
                bar.set_postfix({history.metric: f"{score:.4g}"}, refresh=False)
                bar.update(1)
    finally:
        if bar is not None:
            bar.close()

    mean, std = _summary(scores)
    return CVResult(scores, mean, std, histories[0].metric, histories, pairs)


class CVObjective:
    """The objective :func:`cv_objective` returns: call it with a trial.

    Picklable when ``build_model`` is (a module-level function), so parallel executors can
    ship it to worker processes.
    """

    def __init__(
        self,
        build_model: Callable[..., nn.Module],
        X: Any,
        y: Any,
        folds: list[tuple[np.ndarray, np.ndarray]],
        opts: dict[str, Any],
        stopper: EarlyStopping | None,
    ):
        self.build_model = build_model
        self.X, self.y = X, y
        self.folds = folds
        self.opts = opts
        self.stopper = stopper

    def __call__(self, trial: Trial) -> float:
        params = dict(trial.params)
        opts = dict(self.opts)
        for key in FIT_PARAMS:
            if key in params:
                opts[key] = params[key]

        records: list[dict[str, Any]] = []
        scores: list[float] = []
        metric = "loss"
        for k, fold in enumerate(self.folds):
            score, history = _run_fold(
                self.build_model, params, self.X, self.y, fold, k, opts, self.stopper
            )
            metric = history.metric
            if k == 0:
                _check_direction(trial, metric)
            scores.append(score)
            records.append({"score": score, "history": history.to_dict()})
            trial.set_attr("folds", records)
            mean, std = _summary(scores)
            trial.set_attr("cv", {"mean": mean, "std": std, "metric": metric})

            trial.report(k, score)
            if not math.isfinite(score):
                break  # a diverged fold: the trial fails with its NaN value
            if k + 1 < len(self.folds) and trial.should_prune():
                raise TrialPruned(f"pruned after fold {k} ({metric} {score:.4g})")
        return _summary(scores)[0] if all(map(math.isfinite, scores)) else math.nan


def _check_direction(trial: Trial, metric: str) -> None:
    study = getattr(trial, "_study", None)
    if study is None:
        return
    want = "maximize" if metric == "accuracy" else "minimize"
    if study.direction != want:
        raise InvalidArgumentError(
            f"direction: the cross-validation score is {metric}, which the study should "
            f"{want[:-1]}e, but it was created with direction={study.direction!r}; "
            f"use ft.Study(..., direction={want!r})"
        )


def cv_objective(
    build_model: Callable[..., nn.Module],
    X: Any,
    y: Any,
    *,
    folds: Any = _DEFAULT_FOLDS,
    **fit_options: Any,
) -> CVObjective:
    """An objective for :meth:`Study.optimize` that scores each trial by K-fold
    cross-validation with early stopping.

    For each fold it builds a fresh model with ``build_model(trial.params)``, trains it with
    early stopping, and reports the fold's score with ``trial.report(fold_index, score)``,
    then asks ``trial.should_prune()`` (a fold-aware pruner compares the trial's fold k with
    other trials' fold k) and raises :class:`ferrotune.TrialPruned` when told to. The folds
    are drawn once, so every trial sees the same folds. Trial parameters named ``lr``,
    ``weight_decay``, ``batch_size``, ``epochs``, ``optimizer`` or ``loss`` go to ``fit``.

    Each trial stores ``attrs["folds"]`` (per fold: ``score`` and the ``history`` as plain
    data) and ``attrs["cv"]`` (``mean``, ``std``, ``metric``), which ``ft.diagnose`` and the
    plots read. The value is the mean fold score: accuracy (create the study with
    ``direction="maximize"``) or loss for regression (``"minimize"``).

    Parameters
    ----------
    build_model : callable
        ``build_model(params) -> nn.Module``.
    X, y
        As for :func:`cross_validate`.
    folds
        A splitter, a number of folds or (train_idx, val_idx) pairs.
    **fit_options
        As for :func:`cross_validate`; ``epochs`` is required.

    Examples
    --------
    >>> import torch, ferrotune as ft
    >>> X, y = torch.randn(60, 4), torch.arange(60) % 2
    >>> objective = ft.torch.cv_objective(
    ...     lambda p: ft.torch.MLP(4, 8, 2, dropout=p["dropout"]), X, y,
    ...     folds=ft.StratifiedKFold(3), epochs=2, seed=0)
    >>> study = ft.Study(ft.RandomSearch({"dropout": ft.Float(0, 0.5)}, seed=0),
    ...                  direction="maximize")
    >>> study.optimize(objective, n_trials=2)
    >>> sorted(study.best_trial.attrs)
    ['cv', 'folds']
    """
    if not callable(build_model):
        v.bad_type("build_model", build_model, "a function returning a fresh nn.Module")
    X, y = _check_data(X, y)
    pairs = _resolve_folds(folds, X, y)
    opts, stopper = _fit_options(fit_options)
    return CVObjective(build_model, X, y, pairs, opts, stopper)
