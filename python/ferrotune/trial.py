"""Trials: one evaluation of the objective at one point of the space."""

from __future__ import annotations

import enum
import numbers
from typing import Any

from . import _core
from . import _validate as v
from .errors import TrialPruned

__all__ = ["Trial", "TrialState", "TrialPruned", "as_value", "as_state"]


class TrialState(str, enum.Enum):
    """Where a trial stands. Only ``COMPLETE`` trials have a value that counts."""

    RUNNING = "RUNNING"
    COMPLETE = "COMPLETE"
    PRUNED = "PRUNED"
    FAILED = "FAILED"

    def __str__(self) -> str:
        return self.value

    @property
    def finished(self) -> bool:
        return self is not TrialState.RUNNING


# The Trial class is the Rust core's (`_core.Trial`, documented there): a study makes and files
# one per ask and tell without running Python bytecode. `ferrotune.Trial` is that class.
Trial = _core.Trial


# -- compact records of finished trials ------------------------------------------------------
#
# A study keeps a finished trial as a plain tuple, not as a Trial object: every Trial object is
# tracked by CPython's cyclic garbage collector and walked again by each full collection (with
# a million trials that walking was 40% of the time per trial), while a record that holds only
# numbers, strings and flat dicts is taken off the collector's list when it is made (see
# `PyTrial::record` in rust/src/bindings/trial.rs). The study's list of them is a
# `_core.TrialList` (rust/src/bindings/trials.rs), which keeps trials drawn by the core random
# searcher as numbers only, and rebuilds Trial objects from either when asked
# (`study.trials`).

_STATE_OF = {s.value: s for s in TrialState}


def to_record(trial: Trial) -> tuple[Any, ...]:
    """The finished `trial` as a tuple (see above): (number, params, point_id, state name,
    value, start, duration, intermediate or None, error, attrs or None, gradient)."""
    return trial._record()


def as_state(value: TrialState | str, name: str = "state") -> TrialState:
    """A TrialState from itself or its name in any case ("pruned" too), or a clear error."""
    if isinstance(value, TrialState):
        return value
    if isinstance(value, str) and value.upper() in _STATE_OF:
        return _STATE_OF[value.upper()]
    v.bad_value(name, value, "one of " + ", ".join(s.value for s in TrialState))


def as_value(value: Any, name: str = "objective value") -> float:
    """The objective's return value as a float, or a clear error.

    Accepts Python and numpy numbers, and arrays or tensors holding one number (shape ``()``
    or ``(1,)``); anything else is a type error. The result may be NaN or infinite: the
    caller decides what that means.
    """
    if type(value) is float:
        return value
    if isinstance(value, bool):
        v.bad_type(name, value, "a real number (a bool is not a score)")
    if isinstance(value, (str, bytes)):
        v.bad_type(name, value, "a real number, not text")
    shape = None if isinstance(value, numbers.Real) else getattr(value, "shape", None)
    if shape is not None:
        if tuple(shape) not in ((), (1,)):
            v.bad_type(name, value, f"a scalar, not an array of shape {tuple(shape)}")
        # numpy no longer converts a shape-(1,) array with float(), and torch warns when
        # float() meets a tensor that requires grad; item() takes the number out of both.
        item = getattr(value, "item", None)
        if callable(item):
            number = item()
            if isinstance(number, (bool, str, bytes)) or not isinstance(number, numbers.Real):
                v.bad_type(name, value, "a real number")
            value = number
    try:
        return float(value)
    except OverflowError:
        v.bad_value(name, value, "within the range of a float64")
    except (TypeError, ValueError):
        v.bad_type(name, value, "a real number")
