"""Searchers: deterministic ask/tell state machines that propose the points a study runs.

Grid, random and gradient search differ only here; the :class:`~ferrotune.Study` owns the
loop, the storage, parallelism and scoring. A searcher's state serialises to JSON text, so a
study resumes where it stopped and replays exactly.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Mapping, Sequence
from typing import Any

from . import _core
from . import _validate as v
from .errors import StateError
from .grid import Grid
from .space import Space, SpaceLike, as_space

__all__ = ["Searcher", "RandomSearch", "GridSearch"]


class Searcher:
    """The interface a study drives. Subclasses implement every method.

    ``ask()`` returns ``(point_id, params)``, or ``None`` when there is nothing to propose until
    pending points are told (or ever again: then ``exhausted`` is true). ``tell`` feeds back a
    value (``None`` for a failed or pruned point) and optionally a gradient. ``requeue`` hands
    a point out again (its worker died, or the driver did). ``state``/``restore`` save and load
    the state as JSON text, and ``config`` describes the searcher so that a study refuses to
    resume with a different one.
    """

    space: Space | None = None

    def ask(self) -> tuple[int, dict[str, Any]] | None:
        raise NotImplementedError

    @property
    def exhausted(self) -> bool:
        raise NotImplementedError

    def tell(self, point_id: int, value: float | None, gradient: Any = None) -> None:
        raise NotImplementedError

    def requeue(self, point_id: int) -> None:
        raise NotImplementedError

    def state(self) -> str:
        raise NotImplementedError

    def restore(self, state: str) -> None:
        raise NotImplementedError

    def config(self) -> dict[str, Any]:
        raise NotImplementedError


class _CoreSearcher(Searcher):
    """A searcher whose state machine is one of the Rust core's (`self._core`): it walks
    point ids, so a told value does not steer it, and its state is the core's JSON."""

    _core: Any

    def tell(self, point_id: int, value: float | None, gradient: Any = None) -> None:
        self._core.tell(point_id)

    def requeue(self, point_id: int) -> None:
        self._core.requeue(point_id)

    def state(self) -> str:
        return str(self._core.state())

    def restore(self, state: str) -> None:
        try:
            self._core.restore(state)
        except StateError:
            raise
        except Exception as e:  # a state from another searcher kind
            raise StateError(
                f"cannot restore {type(self).__name__} from {state[:80]!r}: {e}"
            ) from e


class RandomSearch(_CoreSearcher):
    """Random search: trial ``i`` gets sample ``i`` of the space under ``seed``.

    Parameters
    ----------
    space : Space or dict
    seed : int
        Non-negative. The same seed gives the same points whatever the number of workers and
        whether the study was resumed.
    sequence : {"random", "sobol"}
        ``"sobol"`` gives scrambled Sobol points: quasi-random, covering the space more evenly
        than independent draws.

    Examples
    --------
    >>> import ferrotune as ft
    >>> s = ft.RandomSearch({"x": ft.Float(0, 1)}, seed=3)
    >>> point_id, params = s.ask()
    >>> point_id, 0 <= params["x"] <= 1
    (0, True)
    """

    def __init__(self, space: SpaceLike, *, seed: int = 0, sequence: str = "random"):
        self.space: Space = as_space(space)
        self.seed = v.seed(seed)
        self.sequence = v.one_of("sequence", sequence, ("random", "sobol"))
        if sequence == "sobol" and len(self.space) > _core.SOBOL_MAX_DIMS:
            v.bad_value(
                "sequence", sequence, f"'random' for more than {_core.SOBOL_MAX_DIMS} dimensions"
            )
        self._core = _core.RandomSearcher(self.space._core, self.seed, self.sequence)
        # The core's own methods, bound per instance: one Python frame less per trial.
        self.ask = self._core.ask  # type: ignore[method-assign]
        self.tell = self._core.tell  # type: ignore[method-assign,assignment]

    def ask(self) -> tuple[int, dict[str, Any]] | None:  # replaced per instance by the core's
        return self._core.ask()

    @property
    def exhausted(self) -> bool:
        return False

    def config(self) -> dict[str, Any]:
        return {
            "kind": "random",
            "space": json.loads(self.space.fingerprint()),
            "seed": self.seed,
            "sequence": self.sequence,
        }

    def __repr__(self) -> str:
        return f"RandomSearch({self.space!r}, seed={self.seed}, sequence={self.sequence!r})"


class GridSearch(_CoreSearcher):
    """Every point of a grid exactly once, also when trials run in parallel.

    Parameters
    ----------
    grid : Grid, dict or list of dicts
        A :class:`Grid`, or what ``Grid`` takes.
    shuffle : bool
        Visit the points in a seeded random order (a bijection computed on the fly, so it costs
        no memory even for huge grids).
    seed : int, optional
        The shuffle's seed; only with ``shuffle=True``. When shuffling without a seed, one is
        drawn and kept in the study's state, so a resumed study continues the same order.
    """

    def __init__(
        self,
        grid: Grid | Mapping[str, Sequence[Any]] | Sequence[Mapping[str, Sequence[Any]]],
        *,
        shuffle: bool = False,
        seed: int | None = None,
    ):
        self.grid = grid if isinstance(grid, Grid) else Grid(grid)
        self.shuffle = v.flag("shuffle", shuffle)
        if seed is not None and not shuffle:
            v.bad_value(
                "seed", seed, "None unless shuffle=True (a seed without shuffling has no effect)"
            )
        if shuffle and seed is None:
            seed = secrets.randbits(63)
        self.seed = None if seed is None else v.seed(seed)
        self._core = _core.GridSearcher(self.grid, self.seed)
        self.ask = self._core.ask  # type: ignore[method-assign]
        self.tell = self._core.tell  # type: ignore[method-assign,assignment]

    def ask(self) -> tuple[int, dict[str, Any]] | None:  # replaced per instance by the core's
        return self._core.ask()

    @property
    def exhausted(self) -> bool:
        return bool(self._core.exhausted)

    def restore(self, state: str) -> None:
        super().restore(state)
        self.seed = json.loads(state).get("shuffle_seed")

    def config(self) -> dict[str, Any]:
        # A drawn shuffle seed lives in the state, not the config, so it need not be repeated.
        return {"kind": "grid", "grid": repr(self.grid.param_grid), "shuffle": self.shuffle}

    def __repr__(self) -> str:
        return f"GridSearch({self.grid!r}, shuffle={self.shuffle}, seed={self.seed})"
