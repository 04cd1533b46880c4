# Type stub for the Rust extension module. tests/test_stub.py checks it against the module.
from collections.abc import Container, Iterable, Iterator
from os import PathLike
from typing import Any, Literal, SupportsIndex, final, overload

import numpy as np
import numpy.typing as npt
from typing_extensions import Self

from ferrotune.trial import TrialState

__all__ = [
    "__version__",
    "JOURNAL_FORMAT",
    "SOBOL_MAX_DIMS",
    "Space",
    "Grid",
    "RandomSearcher",
    "GridSearcher",
    "Journal",
    "CgMinimizer",
    "GradientSearcher",
    "estimate_noise",
    "kfold",
    "stratified_kfold",
    "three_way_split",
    "augment_flip",
    "augment_color",
    "augment_resize",
    "augment_resized_crop",
    "augment_normalize",
    "augment_sample_jitter",
    "augment_sample_boxes",
    "augment_flip_flags",
    "augment_num_threads",
    "augment_set_num_threads",
    "AUGMENT_THREADS_ENV",
    "Trial",
    "TrialList",
    "TrialListIterator",
    "StudyCore",
]
__version__: str
JOURNAL_FORMAT: int
SOBOL_MAX_DIMS: int

@final
class Space:
    def __new__(cls, dims_json: str, decoder: Any) -> Space: ...
    def __len__(self) -> int: ...
    @property
    def names(self) -> list[str]: ...
    def sample_array(
        self, n: int, seed: int, sequence: str = "random", start: int = 0
    ) -> npt.NDArray[np.float64]: ...
    def sample(
        self, n: int, seed: int, sequence: str = "random", start: int = 0
    ) -> list[dict[str, Any]]: ...
    def decode_array(self, rows: npt.NDArray[np.float64]) -> list[dict[str, Any]]: ...
    def transform(self, u: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]: ...
    def dims_json(self) -> str: ...

class Grid:
    def __new__(cls, subgrids: list[tuple[list[str], list[list[Any]]]]) -> Self: ...
    def __len__(self) -> int: ...
    def __getitem__(self, key: Any, /) -> Any: ...
    def get(self, index: int) -> dict[str, Any]: ...
    @property
    def _columns(self) -> list[str]: ...
    def _to_array(self, start: int, stop: int) -> npt.NDArray[np.float64]: ...

@final
class RandomSearcher:
    def __new__(cls, space: Space, seed: int, sequence: str) -> RandomSearcher: ...
    def ask(self) -> tuple[int, dict[str, Any]] | None: ...
    @property
    def exhausted(self) -> bool: ...
    def tell(self, id: int, value: Any | None = None, gradient: Any | None = None) -> bool: ...
    def requeue(self, id: int) -> None: ...
    def state(self) -> str: ...
    def restore(self, text: str) -> None: ...

@final
class GridSearcher:
    def __new__(cls, grid: Grid, shuffle_seed: int | None = None) -> GridSearcher: ...
    def ask(self) -> tuple[int, dict[str, Any]] | None: ...
    @property
    def exhausted(self) -> bool: ...
    def tell(self, id: int, value: Any | None = None, gradient: Any | None = None) -> bool: ...
    def requeue(self, id: int) -> None: ...
    def state(self) -> str: ...
    def restore(self, text: str) -> None: ...

_StudyRow = tuple[int, str, str, str, str | None, str, float]
_TrialRow = tuple[
    int,
    int | None,
    str,
    str,
    float | None,
    float | None,
    float | None,
    str | None,
    str | None,
    str | None,
]

@final
class Journal:
    def __new__(
        cls, path: str | PathLike[str], *, read_only: bool = False, sync: str = "normal"
    ) -> Journal: ...
    @property
    def path(self) -> str: ...
    def close(self) -> None: ...
    def studies(self) -> list[_StudyRow]: ...
    def study(self, name: str) -> _StudyRow | None: ...
    def require_study(self, name: str) -> _StudyRow: ...
    def create_study(
        self,
        name: str,
        direction: str,
        searcher: str,
        searcher_state: str | None,
        created: float,
    ) -> int: ...
    def set_study_attrs(self, study_id: int, attrs: str) -> None: ...
    def trials(self, study_id: int) -> list[_TrialRow]: ...
    def write_trials(
        self, study_id: int, trials: list[_TrialRow], searcher_state: str | None = None
    ) -> None: ...

# -- gradient search (rust/src/bindings/cg.rs) ------------------------------------------------

def estimate_noise(values: list[float]) -> float | None: ...

@final
class CgMinimizer:
    def __new__(
        cls,
        x0: list[float] | np.ndarray,
        lower: list[float],
        upper: list[float],
        options: str,
        seed: int,
        restarts: int | None,
    ) -> CgMinimizer: ...
    def ask(self) -> tuple[int, np.ndarray, bool] | None: ...
    def tell(self, id: int, value: float | None, grad: np.ndarray | None = None) -> bool: ...
    def tell_ask(
        self, id: int, value: float | None, grad: np.ndarray | None = None
    ) -> tuple[int, np.ndarray, bool] | Literal[False] | None: ...
    def descents(self) -> list[dict[str, Any]]: ...
    def progress(self) -> tuple[int, np.ndarray, float]: ...
    def used(self) -> int: ...
    def state(self) -> str: ...

@final
class GradientSearcher:
    def __new__(
        cls,
        space: Space,
        options: str,
        seed: int,
        restarts: int | None,
        x0: list[float] | None = None,
    ) -> GradientSearcher: ...
    def ask(self) -> tuple[int, dict[str, Any]] | None: ...
    @property
    def exhausted(self) -> bool: ...
    def tell(self, id: int, value: float | None, grad: list[float] | None = None) -> bool: ...
    def requeue(self, id: int) -> bool: ...
    def descents(self) -> list[dict[str, Any]]: ...
    def active_names(self) -> list[str]: ...
    def state(self) -> str: ...
    def restore(self, text: str) -> None: ...

# -- folds (rust/src/bindings/folds.rs) ----------------------------------------------------

def kfold(n_samples: int, n_splits: int, seed: int | None = None) -> npt.NDArray[np.uint32]: ...
def stratified_kfold(
    labels: npt.NDArray[np.int64],
    n_classes: int,
    n_splits: int,
    seed: int | None = None,
) -> npt.NDArray[np.uint32]: ...
def three_way_split(
    n_samples: int,
    n_val: int,
    n_test: int,
    seed: int,
    labels: npt.NDArray[np.int64] | None = None,
    n_classes: int = 0,
) -> npt.NDArray[np.uint8]: ...

# --- augmentation (ferrotune/augment.py; rust/src/bindings/augment.rs) ---
# Batches are 4-D uint8 or float32 arrays in logical (N, C, H, W) order with any strides;
# `dst` is a writable array contiguous in NCHW or NHWC memory order, or None for in place.

AUGMENT_THREADS_ENV: str

def augment_flip(
    src: np.ndarray, dst: np.ndarray | None, horizontal: bool, mask: np.ndarray | None = None
) -> None: ...
def augment_color(
    src: np.ndarray, dst: np.ndarray | None, codes: np.ndarray, factors: np.ndarray
) -> None: ...
def augment_resize(src: np.ndarray, dst: np.ndarray, antialias: bool) -> None: ...
def augment_resized_crop(
    src: np.ndarray, dst: np.ndarray, boxes: np.ndarray, antialias: bool
) -> None: ...
def augment_normalize(
    src: np.ndarray,
    dst: np.ndarray | None,
    mean: list[float] | None = None,
    std: list[float] | None = None,
) -> None: ...
def augment_sample_jitter(
    seed: int,
    stream: int,
    call: int,
    n: int,
    ranges: tuple[
        tuple[float, float] | None,
        tuple[float, float] | None,
        tuple[float, float] | None,
        tuple[float, float] | None,
    ],
) -> tuple[np.ndarray, np.ndarray]: ...
def augment_sample_boxes(
    seed: int,
    stream: int,
    call: int,
    n: int,
    h: int,
    w: int,
    scale: tuple[float, float],
    ratio: tuple[float, float],
) -> np.ndarray: ...
def augment_flip_flags(seed: int, stream: int, call: int, n: int, p: float) -> np.ndarray: ...
def augment_num_threads() -> int: ...
def augment_set_num_threads(n: int | None = None) -> None: ...

@final
class Trial:
    number: int
    params: dict[str, Any]
    point_id: int | None
    state: TrialState
    value: float | None
    start: float
    duration: float | None
    intermediate: dict[int, float]
    attrs: dict[str, Any]
    error: str | None
    gradient: Any
    _study: Any
    _t0: float
    @property
    def _recorded_params(self) -> Any: ...
    def __new__(
        cls,
        number: int = 0,
        params: dict[str, Any] | None = None,
        point_id: int | None = None,
        start: float = 0.0,
        study: Any = None,
        *,
        state: TrialState | None = None,
        value: float | None = None,
        duration: float | None = None,
        intermediate: dict[int, float] | None = None,
        error: str | None = None,
        attrs: dict[str, Any] | None = None,
    ) -> Trial: ...
    @property
    def finished(self) -> bool: ...
    def report(self, step: int, value: float) -> None: ...
    def should_prune(self) -> bool: ...
    def set_attr(self, key: str, value: Any) -> None: ...
    def to_dict(self) -> dict[str, Any]: ...
    def _record(self) -> tuple[Any, ...]: ...
    def __eq__(self, other: object, /) -> bool: ...
    def __hash__(self) -> int: ...
    def __reduce__(self) -> tuple[Any, ...]: ...
    def __getstate__(self) -> dict[str, Any]: ...
    def __setstate__(self, state: dict[str, Any]) -> None: ...

@final
class TrialList:
    """A study's trials by number: live Trials and record tuples."""

    def __len__(self) -> int: ...
    @overload
    def __getitem__(self, i: SupportsIndex, /) -> Any: ...
    @overload
    def __getitem__(self, i: slice, /) -> list[Any]: ...
    def __setitem__(self, i: int, entry: Any, /) -> None: ...
    def __iter__(self) -> Iterator[Any]: ...
    def state(self, i: int) -> str: ...
    def states(self) -> list[str]: ...
    def trial(self, i: int) -> Trial: ...
    def trials(self, states: Container[str] | None = None) -> list[Trial]: ...

@final
class TrialListIterator:
    def __iter__(self) -> TrialListIterator: ...
    def __next__(self) -> Any: ...

class StudyCore:
    _searcher_ask: Any
    _searcher_tell: Any
    @property
    def _trials(self) -> TrialList: ...
    @_trials.setter
    def _trials(self, entries: Iterable[Any]) -> None: ...
    _best: Trial | None
    _sign: float
    _journal: Any
    def __new__(cls, *_args: Any, **_kwargs: Any) -> Self: ...
    def _try_ask(self) -> Trial | None: ...
    def ask(self) -> Trial: ...
    def tell(
        self,
        trial: Trial | int,
        value: Any = None,
        *,
        gradient: Any = None,
        state: Any = None,
    ) -> Trial: ...
