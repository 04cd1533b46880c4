"""Reading the curves: what a training history, a cross-validation or a study says to do next.

``ft.diagnose`` looks for three things, each with its numbers and a threshold you can change:

- overfitting: training accuracy (or loss) much better than validation (or test) at the epoch
  the model was kept from. Suggests dropout, weight decay, augmentation, more data.
- variance: fold scores spread widely. Suggests dropout and more data (and more folds).
- a poorly divided data set: the validation curve's minimum far (in epochs) from the test
  curve's, or validation scores far from test scores. Suggests reshuffling or stratifying the
  split, and a larger validation set.

It also says when the validation curve was still improving at the last epoch.

It needs only plain data (no torch): a ``History``, a ``CVResult``, a ``Study`` whose trials
carry ``attrs["folds"]`` (as ``ft.torch.cv_objective`` stores them), or their ``to_dict()``.

>>> import ferrotune as ft
>>> h = {"train_loss": [1.0, 0.5, 0.2, 0.1], "val_loss": [1.1, 0.7, 0.6, 0.8],
...      "train_metric": [0.6, 0.8, 0.95, 0.99], "val_metric": [0.55, 0.7, 0.75, 0.74],
...      "metric": "accuracy", "best_epoch": 2, "stopped_epoch": 3}
>>> [f.kind for f in ft.diagnose(h)]
['overfitting']
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from . import _validate as v

__all__ = ["diagnose", "Diagnosis", "Finding"]

_CURVES = ("train_loss", "val_loss", "test_loss", "train_metric", "val_metric", "test_metric")


@dataclasses.dataclass
class Finding:
    """One thing the curves say.

    Attributes
    ----------
    kind : str
        ``"overfitting"``, ``"variance"``, ``"poorly_divided"`` or ``"not_converged"``.
    message : str
        The finding in a sentence, with its numbers.
    numbers : dict
        The measured quantities and the threshold they crossed.
    suggestions : list of str
    """

    kind: str
    message: str
    numbers: dict[str, Any]
    suggestions: list[str]

    def __str__(self) -> str:
        text = f"{self.kind}: {self.message}"
        if self.suggestions:
            text += "\n    try: " + "; ".join(self.suggestions)
        return text


class Diagnosis:
    """The findings of :func:`diagnose`: iterate over them, or print them.

    Attributes
    ----------
    findings : list of Finding
    summary : dict
        The numbers looked at, whether or not they crossed a threshold.
    """

    def __init__(self, findings: list[Finding], summary: dict[str, Any]):
        self.findings = findings
        self.summary = summary

    def __iter__(self) -> Iterator[Finding]:
        return iter(self.findings)

    def __len__(self) -> int:
        return len(self.findings)

    def __bool__(self) -> bool:
        return bool(self.findings)

    def __contains__(self, kind: object) -> bool:
        return any(f.kind == kind for f in self.findings)

    @property
    def kinds(self) -> list[str]:
        return [f.kind for f in self.findings]

    def __str__(self) -> str:
        if not self.findings:
            return "diagnosis: nothing stands out (" + _fmt_summary(self.summary) + ")"
        return "diagnosis:\n" + "\n".join(f"  - {f}" for f in self.findings)

    def __repr__(self) -> str:
        return f"Diagnosis({self.kinds})"


def _fmt_summary(summary: dict[str, Any]) -> str:
    parts = []
    for k, x in summary.items():
        if isinstance(x, float):
            parts.append(f"{k}={x:.4g}")
        elif x is not None:
            parts.append(f"{k}={x}")
    return ", ".join(parts)


# -- input ---------------------------------------------------------------------------------


def _history_dict(h: Any) -> dict[str, Any]:
    data = h.to_dict() if hasattr(h, "to_dict") else h
    if not isinstance(data, dict):
        v.bad_type("result", h, "a History, a cross-validation result, a Study, or a dict")
    if "train_loss" not in data:
        keys = sorted(map(str, data))
        v.bad_value(
            "result",
            h,
            "a History or CVResult as a dict (their to_dict(), with a 'train_loss' or a "
            f"'folds' key); this dict has keys {keys}",
        )
    return data


def _fold_records(result: Any) -> tuple[list[dict[str, Any]], list[float] | None, str | None]:
    """(histories as dicts, fold scores or None, where the data came from)."""
    from .study import Study

    if isinstance(result, Study):
        return _from_study(result)
    if hasattr(result, "histories") and hasattr(result, "scores"):  # CVResult
        return [_history_dict(h) for h in result.histories], list(result.scores), None
    if isinstance(result, dict) and "folds" in result:  # CVResult.to_dict() or trial attrs
        folds = result["folds"]
        return [_history_dict(f["history"]) for f in folds], [f["score"] for f in folds], None
    if isinstance(result, (list, tuple)) and result and isinstance(result[0], dict):
        if "history" in result[0]:
            return (
                [_history_dict(f["history"]) for f in result],
                [f["score"] for f in result],
                None,
            )
    return [_history_dict(result)], None, None


def _from_study(study: Any) -> tuple[list[dict[str, Any]], list[float] | None, str | None]:
    from .errors import InvalidArgumentError

    with_folds = [t for t in study.trials_in("COMPLETE") if "folds" in t.attrs]
    if not with_folds:
        raise InvalidArgumentError(
            "result: the study has no complete trial with cross-validation curves "
            "(attrs['folds'], as ferrotune.torch.cv_objective stores them)"
        )
    sign = -1.0 if study.direction == "maximize" else 1.0
    best = min(with_folds, key=lambda t: sign * t.value)
    folds = best.attrs["folds"]
    return (
        [_history_dict(f["history"]) for f in folds],
        [f["score"] for f in folds],
        f"trial {best.number} (the best)",
    )


# -- measures ------------------------------------------------------------------------------


def _curve(h: dict[str, Any], name: str) -> list[float] | None:
    c = h.get(name)
    if c is None or len(c) == 0:
        return None
    return [float(x) for x in c]


def _kept_epoch(h: dict[str, Any]) -> int:
    n = len(h["train_loss"])
    if h.get("restored", True):
        e = int(h.get("best_epoch", n - 1))
    else:
        e = int(h.get("stopped_epoch", n - 1))
    return min(max(e, 0), n - 1)


def _argmin(c: list[float]) -> int:
    return int(np.argmin([x if math.isfinite(x) else math.inf for x in c]))


def _mean(xs: Sequence[float]) -> float:
    return float(np.mean(xs)) if xs else math.nan


def diagnose(
    result: Any,
    *,
    gap: float = 0.05,
    loss_ratio: float = 1.5,
    spread: float = 0.02,
    apart: float = 0.25,
    min_apart: int = 3,
) -> Diagnosis:
    """Says what a training history, a cross-validation or a study's best trial suggests.

    Parameters
    ----------
    result : History, CVResult, Study or dict
        For a study, the best complete trial with ``attrs["folds"]``.
    gap : float
        Overfitting when training accuracy exceeds validation (or test) accuracy by more than
        this at the kept epoch (mean over folds). Also the largest accepted difference between
        validation and test accuracy before the split is suspected.
    loss_ratio : float
        For regression (no accuracy): overfitting when validation loss exceeds training loss
        by more than this factor.
    spread : float
        Variance when the standard deviation of fold scores exceeds this (accuracy), or this
        fraction of the mean score (loss).
    apart, min_apart : float, int
        A poorly divided data set when the validation and test loss minima lie more than
        ``max(min_apart, apart * epochs)`` epochs apart (mean over folds).

    Returns
    -------
    Diagnosis

    Examples
    --------
    >>> import ferrotune as ft
    >>> cv = {"folds": [
    ...     {"score": s, "history": {"train_loss": [0.3], "val_loss": [0.4],
    ...      "train_metric": [0.9], "val_metric": [s], "metric": "accuracy",
    ...      "best_epoch": 0, "stopped_epoch": 0}} for s in (0.70, 0.88, 0.80)]}
    >>> d = ft.diagnose(cv, gap=0.2)
    >>> d.kinds
    ['variance']
    """
    gap = _positive("gap", gap)
    loss_ratio = _positive("loss_ratio", loss_ratio)
    spread = _positive("spread", spread)
    apart = _positive("apart", apart)
    min_apart = v.integer("min_apart", min_apart, minimum=0)
    histories, scores, source = _fold_records(result)
    for h in histories:
        if not h.get("train_loss"):
            v.bad_value("result", "a history with no epochs", "at least one recorded epoch")
    accuracy = histories[0].get("metric", "loss") == "accuracy"
    where = f" in {source}" if source else ""
    n_folds = len(histories)
    over = " (mean over folds)" if n_folds > 1 else ""

    findings: list[Finding] = []
    summary: dict[str, Any] = {"folds": n_folds if n_folds > 1 else None}

    # Overfitting: train vs validation, and train vs test, at the kept epoch.
    for other in ("val", "test"):
        diffs = []
        for h in histories:
            e = _kept_epoch(h)
            if accuracy:
                tr, ot = _curve(h, "train_metric"), _curve(h, f"{other}_metric")
                if tr and ot:
                    diffs.append(tr[e] - ot[e])
            else:
                tr, ot = _curve(h, "train_loss"), _curve(h, f"{other}_loss")
                if tr and ot and tr[e] > 0:
                    diffs.append(ot[e] / tr[e])
        if not diffs:
            continue
        value = _mean(diffs)
        summary[f"train_{other}_{'gap' if accuracy else 'ratio'}"] = value
        crossed = value > gap if accuracy else value > loss_ratio
        if crossed and not any(f.kind == "overfitting" for f in findings):
            part = "validation" if other == "val" else "test"
            if accuracy:
                msg = (
                    f"training accuracy exceeds {part} accuracy by {value:.3f}{over}{where} "
                    f"(threshold {gap})"
                )
                nums = {"gap": value, "threshold": gap, "against": part}
            else:
                msg = (
                    f"{part} loss is {value:.2f} times the training loss{over}{where} "
                    f"(threshold {loss_ratio})"
                )
                nums = {"ratio": value, "threshold": loss_ratio, "against": part}
            findings.append(
                Finding(
                    "overfitting",
                    msg,
                    nums,
                    [
                        "more dropout",
                        "more weight decay",
                        "data augmentation",
                        "more training data",
                        "a smaller model",
                    ],
                )
            )

    # Variance: the spread of fold scores.
    if scores is not None and len(scores) > 1:
        arr = np.asarray(scores, dtype=float)
        std, mean = float(arr.std()), float(arr.mean())
        summary["fold_std"] = std
        measure = std if accuracy else (std / abs(mean) if mean else math.inf)
        if math.isfinite(std) and measure > spread:
            what = "standard deviation" if accuracy else "relative standard deviation"
            findings.append(
                Finding(
                    "variance",
                    f"fold scores spread widely{where}: {what} {measure:.3f} (threshold "
                    f"{spread}; scores from {arr.min():.4g} to {arr.max():.4g}, mean "
                    f"{mean:.4g})",
                    {
                        "std": std,
                        "mean": mean,
                        "min": float(arr.min()),
                        "max": float(arr.max()),
                        "threshold": spread,
                    },
                    ["more dropout", "more training data", "more folds for a steadier estimate"],
                )
            )

    # A poorly divided data set: where the validation and test minima lie, and how far apart
    # the validation and test scores are.
    distances, epochs_run, level = [], [], []
    for h in histories:
        vl, tl = _curve(h, "val_loss"), _curve(h, "test_loss")
        if vl and tl:
            distances.append(abs(_argmin(vl) - _argmin(tl)))
            epochs_run.append(len(vl))
            if accuracy:
                vm, tm = _curve(h, "val_metric"), _curve(h, "test_metric")
                if vm and tm:
                    e = _kept_epoch(h)
                    level.append(vm[e] - tm[e])
    if distances:
        dist, n_ep = _mean(distances), _mean(epochs_run)
        limit = max(float(min_apart), apart * n_ep)
        summary["val_test_min_apart"] = dist
        val_test = _mean(level) if level else None
        summary["val_test_gap"] = val_test
        reasons = []
        if dist > limit:
            reasons.append(
                f"the validation loss is lowest {dist:.1f} epochs away from where the test "
                f"loss is lowest{over} (threshold {limit:.1f} epochs)"
            )
        if val_test is not None and abs(val_test) > gap:
            reasons.append(
                f"validation accuracy differs from test accuracy by {val_test:+.3f}{over} "
                f"(threshold {gap})"
            )
        if reasons:
            findings.append(
                Finding(
                    "poorly_divided",
                    "the data set may be poorly divided" + where + ": " + "; ".join(reasons),
                    {
                        "epochs_apart": dist,
                        "epochs_threshold": limit,
                        "val_test_gap": val_test,
                        "gap_threshold": gap,
                    },
                    [
                        "reshuffle the split (stratified by class)",
                        "a larger validation set",
                        "check for duplicates or drift between the parts",
                    ],
                )
            )

    # Still improving at the end.
    late = 0
    for h in histories:
        vl = _curve(h, "val_loss")
        if vl and len(vl) > 1 and _argmin(vl) == len(vl) - 1:
            late += 1
    if late * 2 > len(histories):
        findings.append(
            Finding(
                "not_converged",
                f"the validation loss was still falling at the last epoch in {late} of "
                f"{len(histories)} run(s){where}",
                {"runs": late, "of": len(histories)},
                ["more epochs", "a higher learning rate"],
            )
        )
    return Diagnosis(findings, summary)


def _positive(name: str, value: Any) -> float:
    x = v.real(name, value)
    if x < 0:
        v.bad_value(name, value, "a threshold >= 0")
    return x
