"""Trials: one evaluation of the objective at one point of the space."""

from __future__ import annotations

import enum
import numbers
from typing import TYPE_CHECKING, Any

from . import _validate as v
from .errors import TrialPruned

if TYPE_CHECKING:
    from .study import Study

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


class Trial:
    """One evaluation: what the objective receives, and what the study keeps.

    Attributes
    ----------
    number : int
        Position in the study, from 0.
    params : dict
        The parameter values to evaluate.
    state : TrialState
    value : float or None
        The objective's value, once complete.
    start : float
        Wall-clock start (seconds since the epoch).
    duration : float or None
        Seconds from ask to tell.
    intermediate : dict[int, float]
        Values reported with :meth:`report`, by step.
    error : str or None
        The traceback text of a failed trial, or why it failed.
    attrs : dict
        Free-form attributes set with :meth:`set_attr`.
    """

    __slots__ = (
        "number",
        "params",
        "point_id",
        "state",
        "value",
        "start",
        "duration",
        "intermediate",
        "error",
        "attrs",
        "gradient",
        "_study",
        "_t0",
    )

    def __init__(
        self,
        number: int,
        params: dict[str, Any],
        point_id: int | None = None,
        start: float = 0.0,
        study: Study | None = None,
        *,
        state: TrialState = TrialState.RUNNING,
        value: float | None = None,
        duration: float | None = None,
        intermediate: dict[int, float] | None = None,
        error: str | None = None,
        attrs: dict[str, Any] | None = None,
    ):
        self.number = number
        self.params = params
        self.point_id = point_id
        self.state = state
        self.value = value
        self.start = start
        self.duration = duration
        self.intermediate: dict[int, float] = {} if intermediate is None else intermediate
        self.error = error
        self.attrs: dict[str, Any] = {} if attrs is None else attrs
        self.gradient: Any = None
        self._study = study
        self._t0 = 0.0

    def __repr__(self) -> str:
        return (
            f"Trial(number={self.number}, state={self.state.value}, value={self.value!r}, "
            f"params={self.params!r})"
        )

    def __eq__(self, other: object) -> bool:
        # Value equality: a study rebuilds finished trials from records on each `trials` call.
        if type(other) is not Trial:
            return NotImplemented
        return to_record(self)[:10] == to_record(other)[:10]

    def __hash__(self) -> int:
        return hash((self.number, self.start))

    def __getstate__(self) -> dict[str, Any]:
        # A trial travels to worker processes without its study.
        return {k: getattr(self, k) for k in self.__slots__ if k != "_study"}

    def __setstate__(self, state: dict[str, Any]) -> None:
        for k, val in state.items():
            setattr(self, k, val)
        self._study = None

    @property
    def finished(self) -> bool:
        return self.state is not TrialState.RUNNING

    def report(self, step: int, value: float) -> None:
        """Records an intermediate value (a fold's score, an epoch's loss) at ``step``.

        Pruners read these to stop hopeless trials; see :meth:`should_prune`.
        """
        step = v.integer("step", step, minimum=0)
        self.intermediate[step] = as_value(value, "value")
        if self._study is not None:
            self._study._on_report(self, step)

    def should_prune(self) -> bool:
        """Whether the study's pruner judges this trial hopeless given its reports so far.

        Raise :class:`ferrotune.TrialPruned` from the objective when it says so.
        """
        if self._study is None:
            return False
        return self._study._should_prune(self)

    def set_attr(self, key: str, value: Any) -> None:
        """Stores a JSON-serialisable attribute with the trial."""
        if not isinstance(key, str):
            v.bad_type("key", key, "a string")
        self.attrs[key] = value

    def to_dict(self) -> dict[str, Any]:
        """The trial as plain data."""
        return {
            "number": self.number,
            "params": self.params,
            "state": self.state.value,
            "value": self.value,
            "start": self.start,
            "duration": self.duration,
            "intermediate": dict(self.intermediate),
            "error": self.error,
            "attrs": dict(self.attrs),
        }


# -- compact records of finished trials ------------------------------------------------------
#
# A study keeps a finished trial as a plain tuple, not as a Trial object: CPython's cyclic
# garbage collector stops tracking tuples (and dicts) whose contents are numbers and strings,
# while every Trial object stays tracked and is walked again by each full collection. With a
# million trials that walking was 40% of the time per trial. Trial objects are rebuilt from
# records when asked for (`study.trials`).

_STATE_OF = {s.value: s for s in TrialState}
_STATE_INDEX = 3  # position of the state in a record


def to_record(trial: Trial) -> tuple[Any, ...]:
    """The finished `trial` as a tuple (see above)."""
    return (
        trial.number,
        trial.params,
        trial.point_id,
        trial.state.value,
        trial.value,
        trial.start,
        trial.duration,
        trial.intermediate or None,
        trial.error,
        trial.attrs or None,
        trial.gradient,
    )


def from_record(record: tuple[Any, ...]) -> Trial:
    """A Trial object for a record made by `to_record`."""
    number, params, point_id, state, value, start, duration, inter, error, attrs, grad = record
    trial = Trial(
        number,
        params,
        point_id,
        start,
        None,
        state=_STATE_OF[state],
        value=value,
        duration=duration,
        intermediate=dict(inter) if inter else None,
        error=error,
        attrs=dict(attrs) if attrs else None,
    )
    trial.gradient = grad
    return trial


def entry_state(entry: Trial | tuple[Any, ...]) -> TrialState:
    """The state of what a study keeps for one trial: a live Trial or a record."""
    if type(entry) is tuple:
        return _STATE_OF[entry[_STATE_INDEX]]
    return entry.state  # type: ignore[union-attr]


def as_trial(entry: Trial | tuple[Any, ...]) -> Trial:
    """A Trial object for what a study keeps for one trial."""
    return from_record(entry) if type(entry) is tuple else entry  # type: ignore[return-value,arg-type]


def as_state(value: TrialState | str, name: str = "state") -> TrialState:
    """A TrialState from itself or its name, or a clear error."""
    if isinstance(value, TrialState):
        return value
    try:
        return TrialState(value)
    except ValueError:
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
