"""Search spaces: distributions for single hyperparameters, and the space that holds them.

A space is a dict of parameter name to a distribution (``Float``, ``Int``, ``Choice``,
``Normal``), a constant, or a nested dict. A ``Choice`` option may itself be a dict of
sub-parameters, which exist only when that option is chosen (as Hyperopt's nested choices).

>>> import ferrotune as ft
>>> space = ft.Space({"lr": ft.Float(1e-4, 1e-1, log=True), "layers": ft.Int(1, 4)})
>>> [sorted(p) for p in space.sample(2, seed=0)]
[['layers', 'lr'], ['layers', 'lr']]
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from typing import Any, Union

import numpy as np

from . import _core
from . import _validate as v
from .errors import InvalidArgumentError

__all__ = ["Distribution", "Float", "Int", "Choice", "Normal", "Space", "as_space"]

_I64 = 2**63


class Distribution:
    """Base class of the distributions of one hyperparameter."""

    __slots__ = ()

    def _spec(self) -> dict[str, Any]:
        raise NotImplementedError

    def _check(self) -> None:
        # The Rust core owns the rules; a one-dimension space runs them.
        dims = [{"name": type(self).__name__, "dist": self._spec(), "parent": None}]
        _core.Space(json.dumps(dims), ("dict", []))

    def __eq__(self, other: object) -> bool:
        return type(self) is type(other) and self._spec() == other._spec()  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        return hash(json.dumps(self._spec(), sort_keys=True))

    def __repr__(self) -> str:
        spec = self._spec()
        spec.pop("kind")
        args = ", ".join(f"{k}={val!r}" for k, val in spec.items())
        return f"{type(self).__name__}({args})"


class Float(Distribution):
    """A real number in ``[low, high]``: uniform, log-uniform (``log=True``), or uniform over
    ``low, low + step, ..., high`` (``step``, which must divide the range)."""

    __slots__ = ("low", "high", "log", "step")

    def __init__(self, low: float, high: float, *, log: bool = False, step: float | None = None):
        self.low = v.real("low", low)
        self.high = v.real("high", high)
        self.log = v.flag("log", log)
        self.step = None if step is None else v.real("step", step)
        self._check()

    def _spec(self) -> dict[str, Any]:
        return {
            "kind": "float",
            "low": self.low,
            "high": self.high,
            "log": self.log,
            "step": self.step,
        }


class Int(Distribution):
    """An integer in ``[low, high]`` (both included): uniform over ``low, low + step, ...``,
    or log-uniform and rounded with ``log=True``."""

    __slots__ = ("low", "high", "log", "step")

    def __init__(self, low: int, high: int, *, log: bool = False, step: int = 1):
        self.low = v.integer("low", low)
        self.high = v.integer("high", high)
        for name, val in (("low", self.low), ("high", self.high)):
            if not -_I64 <= val < _I64:
                v.bad_value(name, val, "within the 64-bit integer range")
        self.log = v.flag("log", log)
        self.step = v.integer("step", step)
        if not 0 < self.step < _I64:
            v.bad_value("step", step, "a positive integer")
        self._check()

    def _spec(self) -> dict[str, Any]:
        return {
            "kind": "int",
            "low": self.low,
            "high": self.high,
            "log": self.log,
            "step": self.step,
        }


class Normal(Distribution):
    """A normal prior ``N(mean, std)``, truncated to ``[low, high]`` when bounds are given.

    With ``log=True`` the logarithm of the value is normal with this ``mean`` and ``std`` (as
    Hyperopt's ``lognormal``), and ``low``/``high`` are in natural units.
    """

    __slots__ = ("mean", "std", "low", "high", "log")

    def __init__(
        self,
        mean: float,
        std: float,
        *,
        low: float | None = None,
        high: float | None = None,
        log: bool = False,
    ):
        self.mean = v.real("mean", mean)
        self.std = v.real("std", std)
        self.low = None if low is None else v.real("low", low)
        self.high = None if high is None else v.real("high", high)
        self.log = v.flag("log", log)
        self._check()

    def _spec(self) -> dict[str, Any]:
        return {
            "kind": "normal",
            "mean": self.mean,
            "std": self.std,
            "low": self.low,
            "high": self.high,
            "log": self.log,
        }


class Choice(Distribution):
    """One of ``options``, each equally likely. An option may be a constant (any
    JSON-serialisable value), a distribution, or a dict of sub-parameters."""

    __slots__ = ("options",)

    def __init__(self, options: Sequence[Any]):
        if isinstance(options, (str, bytes, Mapping)) or not isinstance(options, Sequence):
            if not isinstance(options, np.ndarray):
                v.bad_type("options", options, "a list or tuple of options")
        # numpy scalars (from np.arange, say) become plain Python values, which JSON can store.
        self.options = [o.item() if isinstance(o, np.generic) else o for o in options]
        if not self.options:
            v.bad_value("options", options, "a non-empty list (a Choice needs an option)")
        for i, option in enumerate(self.options):
            _check_option(f"options[{i}]", option)

    def _spec(self) -> dict[str, Any]:
        return {"kind": "choice", "n": len(self.options)}

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Choice) and _fingerprint(self.options) == _fingerprint(
            other.options
        )

    def __hash__(self) -> int:
        return hash(_fingerprint(self.options))

    def __repr__(self) -> str:
        return f"Choice({self.options!r})"


def _check_option(name: str, option: Any) -> None:
    if isinstance(option, Distribution):
        return
    if isinstance(option, Mapping):
        for key, sub in option.items():
            if not isinstance(key, str):
                v.bad_type(f"{name} key", key, "a string")
            _check_option(f"{name}[{key!r}]", sub)
        return
    try:
        json.dumps(option)
    except (TypeError, ValueError):
        v.bad_value(name, option, "JSON-serialisable (a number, string, bool, None, list or dict)")


def _fingerprint(value: Any) -> str:
    """A stable text for comparing spaces (used to refuse resuming with a different one)."""

    def encode(x: Any) -> Any:
        if isinstance(x, Distribution):
            if isinstance(x, Choice):
                return {"choice": [encode(o) for o in x.options]}
            return x._spec()
        if isinstance(x, Mapping):
            return {str(k): encode(val) for k, val in x.items()}
        if isinstance(x, (list, tuple)):
            return [encode(o) for o in x]
        return x

    return json.dumps(encode(value), sort_keys=True, default=repr)


SpaceLike = Union["Space", Mapping[str, Any]]


class Space:
    """A search space: a dict of parameter name to distribution, constant or nested dict.

    Parameters
    ----------
    space : dict
        Parameter names (strings) to ``Float``, ``Int``, ``Choice``, ``Normal``, a constant,
        or a nested dict of the same.

    Examples
    --------
    >>> import ferrotune as ft
    >>> space = ft.Space({
    ...     "model": ft.Choice([
    ...         {"kind": "svm", "C": ft.Float(1e-3, 1e3, log=True)},
    ...         {"kind": "tree", "depth": ft.Int(2, 12)},
    ...     ]),
    ... })
    >>> space.names
    ['model', 'model[0].C', 'model[1].depth']
    >>> space.sample_array(3, seed=1).shape
    (3, 3)
    """

    def __init__(self, space: Mapping[str, Any]):
        if isinstance(space, Space):
            space = space.definition
        if not isinstance(space, Mapping):
            v.bad_type("space", space, "a dict of parameter name to distribution")
        self.definition: dict[str, Any] = dict(space)
        self._dims: list[tuple[str, Distribution, tuple[int, int] | None]] = []
        specs: list[dict[str, Any]] = []

        def add(path: str, dist: Distribution, parent: tuple[int, int] | None) -> int:
            self._dims.append((path, dist, parent))
            specs.append(
                {
                    "name": path,
                    "dist": dist._spec(),
                    "parent": None if parent is None else {"dim": parent[0], "option": parent[1]},
                }
            )
            return len(specs) - 1

        def build(value: Any, path: str, parent: tuple[int, int] | None) -> tuple[Any, ...]:
            if isinstance(value, Choice):
                j = add(path, value, parent)
                options = [build(o, f"{path}[{i}]", (j, i)) for i, o in enumerate(value.options)]
                return ("choice", j, options)
            if isinstance(value, Int):
                return ("int", add(path, value, parent))
            if isinstance(value, Distribution):
                return ("float", add(path, value, parent))
            if isinstance(value, Mapping):
                items = []
                for key, sub in value.items():
                    if not isinstance(key, str):
                        v.bad_type("space key", key, "a string")
                    items.append((key, build(sub, f"{path}.{key}" if path else key, parent)))
                return ("dict", items)
            _check_option(path or "space", value)
            return ("const", value)

        decoder = build(self.definition, "", None)
        self._core = _core.Space(json.dumps(specs), decoder)

    @property
    def names(self) -> list[str]:
        """Column names of ``sample_array``: one per distribution, nested ones by path."""
        return [name for name, _, _ in self._dims]

    @property
    def dims(self) -> list[tuple[str, Distribution]]:
        """``(name, distribution)`` for every column."""
        return [(name, dist) for name, dist, _ in self._dims]

    def parent(self, column: int) -> tuple[int, int] | None:
        """For a conditional column, ``(choice column, option index)`` that activates it."""
        return self._dims[column][2]

    def __len__(self) -> int:
        return len(self._dims)

    def __repr__(self) -> str:
        return f"Space({self.definition!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Space) and self.fingerprint() == other.fingerprint()

    def __hash__(self) -> int:
        return hash(self.fingerprint())

    def fingerprint(self) -> str:
        """A stable JSON text describing the space."""
        return _fingerprint(self.definition)

    def sample(self, n: int, *, seed: int, sequence: str = "random") -> list[dict[str, Any]]:
        """``n`` parameter dicts; sample ``i`` depends only on ``(seed, i)``.

        ``sequence="sobol"`` gives scrambled Sobol points instead of independent draws.
        """
        n = v.integer("n", n, minimum=0)
        return self._core.sample(n, v.seed(seed), v.one_of("sequence", sequence, _SEQUENCES))

    def sample_array(self, n: int, *, seed: int, sequence: str = "random") -> np.ndarray:
        """``n`` samples as a float64 array of shape ``(n, len(space))`` in natural units.

        A ``Choice`` column holds the option's index; a conditional column is NaN where its
        option is not chosen. Produced in Rust, in parallel, with no per-sample Python work.
        """
        n = v.integer("n", n, minimum=0)
        return self._core.sample_array(n, v.seed(seed), v.one_of("sequence", sequence, _SEQUENCES))

    def decode(self, rows: np.ndarray) -> list[dict[str, Any]]:
        """The parameter dicts for rows of an array shaped like ``sample_array``'s.

        Every active value must be one a sample could hold: within its bounds, a whole number
        on its step for an ``Int``, an option index for a ``Choice``, on the grid of a stepped
        ``Float``. Anything else raises :class:`~ferrotune.errors.InvalidArgumentError` naming
        the cell (``rows[i, j]`` and the parameter). The cells of parameters under an option
        not chosen are not read.
        """
        try:
            arr = np.ascontiguousarray(np.asarray(rows, dtype=np.float64))
        except (TypeError, ValueError):
            v.bad_type("rows", rows, f"an array of numbers with {len(self)} columns")
        if arr.ndim == 1:
            arr = arr[None, :]
        if arr.ndim != 2:
            v.bad_value("rows", rows, f"a 2-D array with {len(self)} columns")
        return self._core.decode_array(arr)

    def encode(self, params: Mapping[str, Any]) -> np.ndarray:
        """The row (natural units, option indices, NaN for inactive) for a parameter dict."""
        row = np.full(len(self), math.nan)

        def walk(value: Any, spec: Any, path: str) -> None:
            if isinstance(spec, Choice):
                j = self.names.index(path)
                for i, option in enumerate(spec.options):
                    if _matches(option, value):
                        row[j] = i
                        walk(value, option, f"{path}[{i}]")
                        return
                raise InvalidArgumentError(
                    f"params[{path!r}] = {v.describe(value)} is not one of the options"
                )
            if isinstance(spec, Distribution):
                row[self.names.index(path)] = v.real(f"params[{path!r}]", value, finite=False)
            elif isinstance(spec, Mapping):
                if not isinstance(value, Mapping):
                    raise InvalidArgumentError(f"params[{path!r}] must be a dict")
                for key, sub in spec.items():
                    if key not in value:
                        raise InvalidArgumentError(f"params is missing {key!r} (at {path!r})")
                    walk(value[key], sub, f"{path}.{key}" if path else key)

        walk(params, self.definition, "")
        return row


def _matches(option: Any, value: Any) -> bool:
    if isinstance(option, Mapping):
        if not isinstance(value, Mapping) or set(option) != set(value):
            return False
        return all(isinstance(o, Distribution) or _matches(o, value[k]) for k, o in option.items())
    if isinstance(option, Distribution):
        return True
    return bool(option == value)


_SEQUENCES = ("random", "sobol")


def as_space(space: SpaceLike) -> Space:
    """``space`` itself if it is a :class:`Space`, else ``Space(space)``."""
    return space if isinstance(space, Space) else Space(space)
