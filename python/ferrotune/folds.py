"""Cross-validation folds and three-way splits, assigned in the Rust core.

Without shuffling, :class:`KFold` and :class:`StratifiedKFold` give exactly the folds of
scikit-learn's classes of the same names; with shuffling, the permutation comes from a
counter-based generator, so a seed gives the same folds on every machine.

>>> import numpy as np
>>> import ferrotune as ft
>>> X, y = np.zeros((6, 2)), np.array([0, 0, 0, 1, 1, 1])
>>> [val.tolist() for _, val in ft.StratifiedKFold(3).split(X, y)]
[[0, 3], [1, 4], [2, 5]]
"""

from __future__ import annotations

import numbers
import secrets
from collections.abc import Iterator
from typing import Any

import numpy as np

from . import _core
from . import _validate as v
from .errors import InvalidArgumentError

__all__ = ["KFold", "StratifiedKFold", "train_val_test_split", "n_samples", "take", "as_folds"]


def n_samples(X: Any, name: str = "X") -> int:
    """The number of samples (first dimension) of an array, tensor, data frame or sequence."""
    shape = getattr(X, "shape", None)
    if shape is not None:
        if len(shape) == 0:
            v.bad_value(name, X, "an array with a first (sample) dimension, not a scalar")
        return int(shape[0])
    try:
        return len(X)
    except TypeError:
        v.bad_type(name, X, "an array, tensor, data frame or sequence of samples")


def take(X: Any, idx: np.ndarray) -> Any:
    """The rows ``idx`` of an array, tensor, data frame or list, in the same kind of object."""
    if isinstance(X, np.ndarray):
        return X[idx]
    module = type(X).__module__.split(".")[0]
    if module == "torch":
        import torch

        return X[torch.as_tensor(idx, dtype=torch.long, device=X.device)]
    if module == "pandas":
        return X.iloc[idx]
    if hasattr(X, "__array__") and hasattr(X, "shape"):
        return np.asarray(X)[idx]
    return [X[int(i)] for i in idx]


def _labels_1d(y: Any, n: int) -> np.ndarray:
    """`y` as a 1-D numpy array of `n` labels (torch tensors are moved to the CPU)."""
    if type(y).__module__.split(".")[0] == "torch":
        y = y.detach().cpu().numpy()
    arr = np.asarray(y)
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr[:, 0]
    if arr.ndim != 1:
        v.bad_value("y", y, f"a 1-D array of labels, not shape {arr.shape}")
    if len(arr) != n:
        v.bad_value("y", y, f"one label per sample of X ({n} samples), not {len(arr)} labels")
    return arr


def _encode(labels: np.ndarray) -> tuple[np.ndarray, int]:
    """Class codes numbered by order of first appearance, as scikit-learn numbers them."""
    if labels.dtype.kind == "f":
        if np.isnan(labels).any():
            v.bad_value("y", labels, "labels without NaN")
        if not np.all(labels == np.round(labels)):
            v.bad_value(
                "y",
                labels,
                "class labels; these look continuous: use KFold for a regression target",
            )
    try:
        _, first, inverse = np.unique(labels, return_index=True, return_inverse=True)
    except TypeError:  # mixed kinds in an object array: 1 and "a" cannot be sorted together
        kinds = sorted({type(x).__name__ for x in labels.tolist()})
        v.bad_value("y", labels, f"labels of one kind, not a mix of {', '.join(kinds)}")
    rank = np.empty(len(first), dtype=np.int64)
    rank[np.argsort(first, kind="stable")] = np.arange(len(first))
    return rank[inverse.reshape(-1)], len(first)


def _resolve_seed(shuffle: bool, seed: Any, owner: str) -> int | None:
    v.flag("shuffle", shuffle)
    if seed is None:
        return None
    seed = v.seed(seed)
    if not shuffle:
        v.bad_value(
            "seed",
            seed,
            f"None when shuffle=False ({owner} does not shuffle, so a seed would be ignored); "
            "pass shuffle=True to use it",
        )
    return seed


class _Splitter:
    """Shared machinery: yields (train, val) index arrays from a fold assignment."""

    def __init__(self, n_splits: int = 5, *, shuffle: bool = False, seed: int | None = None):
        self.n_splits = v.integer("n_splits", n_splits, minimum=2)
        self.seed = _resolve_seed(shuffle, seed, type(self).__name__)
        self.shuffle = shuffle

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(n_splits={self.n_splits}, shuffle={self.shuffle}, "
            f"seed={self.seed})"
        )

    def get_n_splits(self, X: Any = None, y: Any = None, groups: Any = None) -> int:
        """The number of folds."""
        return self.n_splits

    def _draw_seed(self) -> int | None:
        if not self.shuffle:
            return None
        # Like scikit-learn with random_state=None: a fresh permutation on every split().
        return self.seed if self.seed is not None else secrets.randbits(64)

    def assign(self, X: Any, y: Any = None) -> np.ndarray:
        """The validation fold (0 to n_splits - 1) of each sample."""
        raise NotImplementedError

    def split(
        self, X: Any, y: Any = None, groups: Any = None
    ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Yields ``(train_idx, val_idx)`` index arrays (int64, sorted) for each fold."""
        assign = self.assign(X, y)
        for k in range(self.n_splits):
            in_fold = assign == k
            yield np.flatnonzero(~in_fold), np.flatnonzero(in_fold)


class KFold(_Splitter):
    """K-fold cross-validation: ``n_splits`` contiguous validation folds.

    The first ``n % n_splits`` folds hold one sample more than the others. With
    ``shuffle=False`` (the default) the folds are scikit-learn's ``KFold`` folds.

    Parameters
    ----------
    n_splits : int
        At least 2, and at most the number of samples.
    shuffle : bool
        Permute the samples before cutting them into folds.
    seed : int, optional
        The permutation's seed (``shuffle=True`` only; a seed without shuffling is an error).
        None draws a fresh permutation on every ``split``.

    Examples
    --------
    >>> import ferrotune as ft
    >>> [val.tolist() for _, val in ft.KFold(3).split(list(range(7)))]
    [[0, 1, 2], [3, 4], [5, 6]]
    """

    def assign(self, X: Any, y: Any = None) -> np.ndarray:
        n = n_samples(X)
        if y is not None:
            _labels_1d(y, n)
        return _core.kfold(n, self.n_splits, self._draw_seed())


class StratifiedKFold(_Splitter):
    """Stratified K-fold: each validation fold keeps the class proportions of ``y``.

    With ``shuffle=False`` the folds are scikit-learn's ``StratifiedKFold`` folds. Every class
    needs at least ``n_splits`` members (scikit-learn only warns; here it is an error, since a
    fold without some class scores differently from the others).

    Parameters
    ----------
    n_splits : int
    shuffle : bool
        Shuffle each class's assignment to folds.
    seed : int, optional
        Only with ``shuffle=True``.

    Examples
    --------
    >>> import ferrotune as ft
    >>> y = [1, 1, 0, 0, 1, 0]
    >>> [val.tolist() for _, val in ft.StratifiedKFold(3).split(y, y)]
    [[0, 2], [1, 3], [4, 5]]
    """

    def assign(self, X: Any, y: Any = None) -> np.ndarray:
        n = n_samples(X)
        if y is None:
            v.bad_value("y", y, "the class labels (StratifiedKFold stratifies by them)")
        codes, n_classes = _encode(_labels_1d(y, n))
        return _core.stratified_kfold(codes, n_classes, self.n_splits, self._draw_seed())


def as_folds(folds: Any, X: Any, y: Any, *, stratify: bool) -> list[tuple[np.ndarray, np.ndarray]]:
    """(train, val) index pairs from an int, a splitter with ``split(X, y)`` (ferrotune's or
    scikit-learn's) or an iterable of pairs, checked against the number of samples."""
    n = n_samples(X)
    if isinstance(folds, numbers.Integral) and not isinstance(folds, bool):
        folds = StratifiedKFold(int(folds)) if stratify else KFold(int(folds))
    if isinstance(folds, (str, bytes)):
        v.bad_type("folds", folds, "a number of folds, a splitter, or (train_idx, val_idx) pairs")
    if hasattr(folds, "split"):
        X_arg = X
        if type(X).__module__.split(".")[0] == "torch":
            X_arg = np.empty((n, 0))  # scikit-learn splitters only need the sample count
        y_arg = None if y is None else _labels_1d(y, n)
        try:
            pairs = list(folds.split(X_arg, y_arg))
        except (TypeError, ValueError) as e:
            if isinstance(folds, _Splitter):
                raise  # ours already name the argument
            # A splitter that needs more than (X, y), such as scikit-learn's GroupKFold.
            reason = str(e).rstrip(".")
            raise InvalidArgumentError(
                f"folds: {folds!r}.split(X, y) failed: {reason}; for a splitter that needs "
                "groups, pass its folds instead: folds=list(splitter.split(X, y, groups))"
            ) from e
    elif not hasattr(folds, "__iter__"):
        v.bad_type(
            "folds",
            folds,
            "a number of folds, a splitter with split(X, y) (ferrotune or scikit-learn), "
            "or (train_idx, val_idx) pairs",
        )
    else:
        pairs = list(folds)

    out = []
    for k, pair in enumerate(pairs):
        try:
            train, val = pair
        except (TypeError, ValueError):
            v.bad_value(f"folds[{k}]", pair, "a (train_idx, val_idx) pair")
        train, val = np.asarray(train, dtype=np.int64), np.asarray(val, dtype=np.int64)
        for name, idx in (("train", train), ("validation", val)):
            if idx.size == 0:
                v.bad_value(f"folds[{k}]", pair, f"a pair with a non-empty {name} part")
            if idx.min() < 0 or idx.max() >= n:
                v.bad_value(f"folds[{k}]", pair, f"indices in 0..{n - 1} (X has {n} samples)")
        out.append((train, val))
    if not out:
        v.bad_value("folds", folds, "at least one (train, val) fold")
    return out


def _count(name: str, size: Any, n: int) -> int:
    """A part's size: a fraction of `n` in [0, 1) (rounded up, as scikit-learn does), or a
    number of samples."""
    if isinstance(size, bool) or not isinstance(size, numbers.Real):
        v.bad_type(name, size, "a fraction in [0, 1) or a number of samples")
    if isinstance(size, numbers.Integral):
        if size < 0:
            v.bad_value(name, size, "a fraction in [0, 1) or a number of samples >= 0")
        return int(size)
    frac = float(size)
    if not 0.0 <= frac < 1.0:
        v.bad_value(name, size, "a fraction in [0, 1) or a whole number of samples")
    return int(np.ceil(frac * n))


def train_val_test_split(
    X: Any,
    y: Any = None,
    *,
    val: float | int = 0.15,
    test: float | int = 0.15,
    stratify: bool = False,
    seed: int | None = None,
) -> tuple[Any, ...]:
    """Shuffles and splits data into training, validation and test parts.

    Parameters
    ----------
    X : array, tensor, data frame or sequence
    y : optional
        Targets, one per sample; split alongside ``X``.
    val, test : float or int
        A fraction of the samples in [0, 1) (rounded up) or a number of samples.
    stratify : bool
        Keep the class proportions of ``y`` in every part.
    seed : int, optional
        None draws a fresh split each call.

    Returns
    -------
    tuple
        ``(X_train, X_val, X_test)`` without ``y``, else
        ``(X_train, X_val, X_test, y_train, y_val, y_test)``; each part the same kind of object
        as its input, its rows in their original order.

    Examples
    --------
    >>> import numpy as np
    >>> import ferrotune as ft
    >>> X, y = np.arange(40).reshape(20, 2), np.arange(20) % 2
    >>> parts = ft.train_val_test_split(X, y, val=0.2, test=0.2, stratify=True, seed=0)
    >>> [len(p) for p in parts]
    [12, 4, 4, 12, 4, 4]
    """
    n = n_samples(X)
    if n == 0:
        v.bad_value("X", X, "a non-empty data set")
    n_val, n_test = _count("val", val, n), _count("test", test, n)
    v.flag("stratify", stratify)
    seed = secrets.randbits(64) if seed is None else v.seed(seed)
    labels: np.ndarray | None = None
    n_classes = 0
    if y is not None:
        arr = _labels_1d(y, n)
        if stratify:
            labels, n_classes = _encode(arr)
    elif stratify:
        v.bad_value("y", y, "the class labels when stratify=True")
    if n_val + n_test >= n:
        v.bad_value(
            "val + test", (val, test), f"to leave training samples: {n_val} + {n_test} of {n}"
        )

    part = _core.three_way_split(n, n_val, n_test, seed, labels, n_classes)
    idx = [np.flatnonzero(part == p) for p in range(3)]
    out = tuple(take(X, i) for i in idx)
    if y is not None:
        out += tuple(take(y, i) for i in idx)
    return out
