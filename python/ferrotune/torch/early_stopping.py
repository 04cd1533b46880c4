"""Early stopping with Keras semantics, restoring the weights of the best epoch."""

from __future__ import annotations

import copy
import logging
import math
from typing import Any

from .. import _validate as v

__all__ = ["EarlyStopping", "MONITORS"]

log = logging.getLogger("ferrotune.torch.early_stopping")

# Curve names a stopper can watch; "loss" and "accuracy" are the training curves, as in Keras.
MONITORS = (
    "val_loss",
    "val_accuracy",
    "val_metric",
    "train_loss",
    "train_accuracy",
    "train_metric",
    "loss",
    "accuracy",
)
_ALIASES = {"loss": "train_loss", "accuracy": "train_accuracy"}


class EarlyStopping:
    """Stops training when the monitored curve has stopped improving, and restores the
    weights of its best epoch.

    An epoch improves on the best so far when its value is lower than ``best - min_delta``
    (``mode="min"``) or higher than ``best + min_delta`` (``mode="max"``). Training stops
    after ``patience`` epochs in a row without improvement (``patience=0`` stops at the first
    one), or at once when the monitored value (or the training loss) is NaN or infinite. With
    ``restore_best`` the model ends with an exact copy of the weights it had at the end of the
    best epoch, whether training stopped early or ran out of epochs (Keras restores only when
    it stops early).

    The test curve is a control and can never be monitored.

    Parameters
    ----------
    monitor : str
        ``"val_loss"``, ``"val_accuracy"``, ``"val_metric"``, ``"train_loss"`` (or
        ``"loss"``), ``"train_accuracy"`` (or ``"accuracy"``), ``"train_metric"``.
    mode : {"min", "max", "auto"}
        ``"auto"`` minimises losses and maximises accuracies; the ``*_metric`` curves are
        accuracy for classification (maximised) and the loss otherwise (minimised).
    patience : int
        Epochs without improvement before stopping; at least 0.
    min_delta : float
        The smallest change that counts as an improvement; at least 0.
    restore_best : bool

    Attributes
    ----------
    best_epoch : int or None
        0-based epoch of the best value, after ``fit``.
    best_value : float or None
    stopped_epoch : int or None
        0-based last epoch that ran.
    stopped : bool
        Whether it stopped training before the last epoch.
    reason : str
        Why training ended.

    Examples
    --------
    >>> import ferrotune as ft
    >>> stopper = ft.torch.EarlyStopping("val_loss", patience=5, min_delta=1e-4)
    """

    def __init__(
        self,
        monitor: str = "val_loss",
        *,
        mode: str = "min",
        patience: int = 10,
        min_delta: float = 0.0,
        restore_best: bool = True,
    ):
        if not isinstance(monitor, str):
            v.bad_type("monitor", monitor, "a curve name such as 'val_loss'")
        if monitor.startswith("test"):
            v.bad_value(
                "monitor",
                monitor,
                "a training or validation curve: the test curve is a control and never "
                "decides when to stop",
            )
        v.one_of("monitor", monitor, MONITORS)
        self.monitor = _ALIASES.get(monitor, monitor)
        mode = v.one_of("mode", mode, ("min", "max", "auto"))
        self._auto = mode == "auto"  # a "metric" curve's direction is known only in fit
        if mode == "auto":
            mode = "max" if self.monitor.endswith("accuracy") else "min"
        if self.monitor.endswith("accuracy") and mode == "min":
            v.bad_value("mode", mode, f"'max' (or 'auto') for monitor={monitor!r}: accuracy rises")
        self.mode = mode
        self.patience = v.integer("patience", patience, minimum=0)
        self.min_delta = v.real("min_delta", min_delta)
        if self.min_delta < 0:
            v.bad_value("min_delta", min_delta, "a number >= 0 (the size of an improvement)")
        self.restore_best = v.flag("restore_best", restore_best)
        self._reset()

    def __repr__(self) -> str:
        return (
            f"EarlyStopping(monitor={self.monitor!r}, mode={self.mode!r}, "
            f"patience={self.patience}, min_delta={self.min_delta}, "
            f"restore_best={self.restore_best})"
        )

    def _reset(self) -> None:
        self.best_epoch: int | None = None
        self.best_value: float | None = None
        self.stopped_epoch: int | None = None
        self.stopped = False
        self.reason = ""
        self.wait = 0
        self._best_state: dict[str, Any] | None = None

    def fresh(self) -> EarlyStopping:
        """A copy with the same settings and no state (one per fold of a cross-validation)."""
        out = copy.copy(self)
        out._reset()
        return out

    # -- driven by fit() ----------------------------------------------------------------------

    def begin(self, *, has_val: bool, metric: str) -> None:
        """Checks the monitor against the curves this run records, and clears the state."""
        self._reset()
        if self.monitor.startswith("val") and not has_val:
            v.bad_value(
                "early_stopping",
                self,
                f"given validation data: monitor={self.monitor!r} needs fit(..., val=...)",
            )
        if self.monitor.endswith("metric"):
            # The metric curves hold accuracy for classification, else the loss again.
            if self._auto:
                self.mode = "max" if metric == "accuracy" else "min"
            elif metric == "accuracy" and self.mode == "min":
                v.bad_value(
                    "early_stopping",
                    self,
                    f"mode='max' (or 'auto'): monitor={self.monitor!r} is accuracy for this "
                    "classification task, and accuracy rises",
                )
        if self.monitor.endswith("accuracy") and metric != "accuracy":
            v.bad_value(
                "early_stopping",
                self,
                f"a loss or metric monitor: monitor={self.monitor!r} but this task has no "
                "accuracy (the targets are not class labels)",
            )

    def _improved(self, value: float) -> bool:
        if self.best_value is None:
            return True
        if self.mode == "min":
            return value < self.best_value - self.min_delta
        return value > self.best_value + self.min_delta

    def update(self, epoch: int, value: float, model: Any) -> bool:
        """Takes the monitored value of `epoch` (with the model as it is after that epoch);
        True means stop."""
        self.stopped_epoch = epoch
        if not math.isfinite(value):
            self.stopped = True
            self.reason = f"{self.monitor} was {value} at epoch {epoch}"
            return True
        if self._improved(value):
            self.best_value = value
            self.best_epoch = epoch
            self.wait = 0
            if self.restore_best:
                self._best_state = _snapshot(model)
            return False
        self.wait += 1
        if self.wait >= self.patience:
            self.stopped = True
            self.reason = (
                f"{self.monitor} did not improve by more than {self.min_delta} for "
                f"{self.wait} epoch(s) after epoch {self.best_epoch}"
            )
            return True
        return False

    def end(self, model: Any) -> bool:
        """Restores the best weights (when asked and known); True if it restored them."""
        if self.restore_best and self._best_state is not None:
            model.load_state_dict(self._best_state)
            self._best_state = None
            return True
        self._best_state = None
        return False


def _snapshot(model: Any) -> dict[str, Any]:
    """An exact copy of the model's parameters and buffers."""
    return {k: t.detach().clone() for k, t in model.state_dict().items()}
