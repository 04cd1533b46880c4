"""Parameter grids with scikit-learn's ``ParameterGrid`` semantics, lazily indexed in Rust.

>>> import ferrotune as ft
>>> g = ft.Grid({"b": [1, 2], "a": ["x", "y", "z"]})
>>> len(g), g[0], g[1]
(6, {'a': 'x', 'b': 1}, {'a': 'x', 'b': 2})
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, Union

import numpy as np

from . import _core
from . import _validate as v
from .space import Choice, Distribution, Float, Int, Normal, Space, SpaceLike, as_space

__all__ = ["Grid"]

ParamGrid = Union[Mapping[str, Sequence[Any]], Sequence[Mapping[str, Sequence[Any]]]]


class Grid(_core.Grid):
    """Every combination of the listed values, in scikit-learn's ``ParameterGrid`` order.

    Parameters
    ----------
    param_grid : dict or list of dicts
        Parameter name to a non-empty list of values; a list of such dicts chains grids.
        Within a dict, keys are taken in sorted order and the last one varies fastest.

    A grid is lazy: ``len``, indexing (``g[i]``, negative ``i``, slices) cost memory
    proportional to the number of listed values, not of points, so a grid of 10**12 points is
    fine. Indexing runs entirely in Rust.
    """

    param_grid: list[Mapping[str, Any]]

    def __new__(cls, param_grid: ParamGrid) -> Grid:
        if isinstance(param_grid, Mapping):
            grids: list[Mapping[str, Any]] = [param_grid]
        elif isinstance(param_grid, Sequence) and not isinstance(param_grid, (str, bytes)):
            grids = list(param_grid)
        else:
            v.bad_type("param_grid", param_grid, "a dict or a list of dicts")
        subgrids = []
        for i, grid in enumerate(grids):
            if not isinstance(grid, Mapping):
                v.bad_type(f"param_grid[{i}]", grid, "a dict")
            keys, values = [], []
            for key, vals in sorted(grid.items(), key=lambda kv: str(kv[0])):
                if not isinstance(key, str):
                    v.bad_type("param_grid key", key, "a string")
                values.append(_value_list(key, vals))
                keys.append(key)
            subgrids.append((keys, values))
        self = super().__new__(cls, subgrids)
        self.param_grid = grids
        return self

    def __iter__(self) -> Iterator[dict[str, Any]]:
        for i in range(len(self)):
            yield self.get(i)

    def __repr__(self) -> str:
        return f"Grid({self.param_grid!r})"

    @property
    def columns(self) -> list[str]:
        """Column names of :meth:`to_array`: every parameter name, sorted."""
        return list(self._columns)

    def to_array(self, start: int | slice | None = None, stop: int | None = None) -> np.ndarray:
        """Points as a float64 array with one column per name in :attr:`columns`.

        Numbers appear as themselves, other values as their position in their list, and a
        name a sub-grid lacks as NaN. ``to_array()`` gives every point; ``to_array(a, b)`` or
        ``to_array(slice(a, b))`` points ``a`` to ``b`` (step 1).
        """
        n = len(self)
        if isinstance(start, slice):
            if stop is not None:
                v.bad_value("stop", stop, "None when start is a slice")
            if start.step not in (None, 1):
                v.bad_value("start", start, "a slice with step 1")
            lo, hi, _ = start.indices(n)
        else:
            lo = 0 if start is None else v.integer("start", start)
            hi = n if stop is None else v.integer("stop", stop)
            lo, hi, _ = slice(lo, hi).indices(n)
        return self._to_array(lo, max(lo, hi))

    @classmethod
    def from_space(cls, space: SpaceLike, *, points: int = 5) -> Grid:
        """A grid over a space: ``points`` values per continuous or integer dimension
        (log-spaced on log dimensions, quantiles for ``Normal``), every option of a
        ``Choice`` (with its sub-parameters discretised the same way)."""
        points = v.integer("points", points, minimum=1)
        sp = as_space(space)
        return cls({key: _discretise(value, points) for key, value in sp.definition.items()})


def _value_list(key: str, vals: Any) -> list[Any]:
    if isinstance(vals, np.ndarray):
        if vals.ndim != 1:
            v.bad_value(f"param_grid[{key!r}]", vals, "a one-dimensional array")
        vals = vals.tolist()
    elif isinstance(vals, (str, bytes)) or not isinstance(vals, Sequence):
        v.bad_type(f"param_grid[{key!r}]", vals, "a list of values")
    out = list(vals)
    if not out:
        v.bad_value(f"param_grid[{key!r}]", vals, "a non-empty list of values")
    return out


def _discretise(value: Any, points: int) -> list[Any]:
    """The grid values for one space entry."""
    if isinstance(value, Choice):
        out: list[Any] = []
        for option in value.options:
            out.extend(_discretise(option, points))
        return out
    if isinstance(value, Mapping):
        sub = Grid({k: _discretise(val, points) for k, val in value.items()})
        return [dict(zip(value.keys(), (p[k] for k in value), strict=False)) for p in sub]
    if isinstance(value, Float):
        if value.step is not None:
            count = int(round((value.high - value.low) / value.step)) + 1
            idx = np.unique(np.round(np.linspace(0, count - 1, min(points, count))))
            return [float(value.low + i * value.step) for i in idx]
        if points == 1:
            mid = math.sqrt(value.low * value.high) if value.log else (value.low + value.high) / 2
            return [float(mid)]
        ladder = np.geomspace if value.log else np.linspace
        return [float(x) for x in ladder(value.low, value.high, points)]
    if isinstance(value, Int):
        count = (value.high - value.low) // value.step + 1
        if count <= points:
            return list(range(value.low, value.high + 1, value.step))
        if value.log:
            raw = np.geomspace(value.low, value.high, points)
            return sorted({int(x) for x in np.round(raw)})
        idx = np.unique(np.round(np.linspace(0, count - 1, points)))
        return [int(value.low + int(i) * value.step) for i in idx]
    if isinstance(value, Normal):
        probe = Space({"x": value})
        quantiles = (np.arange(points)[:, None] + 0.5) / points
        return [float(x) for x in probe._core.transform(quantiles)[:, 0]]
    if isinstance(value, Distribution):
        v.bad_type("space", value, "a known distribution")
    return [value]
