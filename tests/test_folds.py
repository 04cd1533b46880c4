"""Fold assignment: the same folds as scikit-learn without shuffling, reproducible shuffles,
three-way splits, and clear errors."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import ferrotune as ft
from ferrotune.errors import InvalidArgumentError, InvalidTypeError

sk = pytest.importorskip("sklearn.model_selection")


def _pairs(splitter, X, y=None):
    return [(tr.tolist(), va.tolist()) for tr, va in splitter.split(X, y)]


@settings(max_examples=150, deadline=None)
@given(n=st.integers(2, 300), k=st.integers(2, 12))
def test_kfold_matches_sklearn(n, k):
    if k > n:
        with pytest.raises(InvalidArgumentError, match="n_splits"):
            list(ft.KFold(k).split(np.zeros(n)))
        return
    X = np.zeros((n, 3))
    assert _pairs(ft.KFold(k), X) == _pairs(sk.KFold(k), X)


@st.composite
def _labels(draw):
    n_classes = draw(st.integers(1, 6))
    k = draw(st.integers(2, 6))
    counts = draw(st.lists(st.integers(k, 40), min_size=n_classes, max_size=n_classes))
    names = draw(st.permutations(list(range(10, 10 + n_classes))))
    y = np.concatenate([np.full(c, names[i]) for i, c in enumerate(counts)])
    order = draw(st.permutations(list(range(len(y)))))
    return y[np.asarray(order)], k


@settings(max_examples=150, deadline=None)
@given(case=_labels())
def test_stratified_kfold_matches_sklearn(case):
    y, k = case
    X = np.zeros((len(y), 2))
    assert _pairs(ft.StratifiedKFold(k), X, y) == _pairs(sk.StratifiedKFold(k), X, y)


def test_stratified_matches_sklearn_with_string_labels():
    rng = np.random.default_rng(0)
    y = rng.choice(np.array(["cat", "dog", "eel"]), size=97, p=[0.5, 0.3, 0.2])
    X = np.zeros((97, 1))
    assert _pairs(ft.StratifiedKFold(5), X, y) == _pairs(sk.StratifiedKFold(5), X, y)


def test_folds_partition_the_samples():
    y = np.arange(53) % 3
    for splitter in (
        ft.KFold(4, shuffle=True, seed=1),
        ft.StratifiedKFold(4, shuffle=True, seed=1),
    ):
        vals = [va for _, va in splitter.split(np.zeros(53), y)]
        assert sorted(np.concatenate(vals).tolist()) == list(range(53))
        for tr, va in splitter.split(np.zeros(53), y):
            assert not set(tr) & set(va)
            assert len(tr) + len(va) == 53


def test_shuffle_is_seeded_and_reproducible():
    X = np.zeros(40)
    a = _pairs(ft.KFold(5, shuffle=True, seed=3), X)
    assert a == _pairs(ft.KFold(5, shuffle=True, seed=3), X)
    assert a != _pairs(ft.KFold(5, shuffle=True, seed=4), X)
    assert a != _pairs(ft.KFold(5), X)
    y = np.arange(40) % 2
    s = _pairs(ft.StratifiedKFold(4, shuffle=True, seed=3), X, y)
    assert s == _pairs(ft.StratifiedKFold(4, shuffle=True, seed=3), X, y)
    for _, va in s:
        assert sum(y[i] for i in va) == 5  # still stratified


def test_get_n_splits_and_repr():
    assert ft.KFold(7).get_n_splits() == 7
    assert "StratifiedKFold(n_splits=3" in repr(ft.StratifiedKFold(3))


def test_seed_without_shuffle_is_an_error():
    with pytest.raises(InvalidArgumentError, match="seed"):
        ft.KFold(5, seed=0)
    with pytest.raises(InvalidArgumentError, match="shuffle"):
        ft.StratifiedKFold(5, seed=0)


@pytest.mark.parametrize(
    "make, exc",
    [
        (lambda: ft.KFold(1), InvalidArgumentError),
        (lambda: ft.KFold(2.5), InvalidTypeError),
        (lambda: ft.KFold(3, shuffle="yes"), InvalidTypeError),
        (lambda: ft.KFold(3, shuffle=True, seed=-1), InvalidArgumentError),
    ],
)
def test_bad_constructor_arguments(make, exc):
    with pytest.raises(exc):
        make()


def test_bad_split_inputs():
    with pytest.raises(InvalidArgumentError, match="number of samples"):
        list(ft.KFold(5).split(np.zeros(3)))
    with pytest.raises(InvalidArgumentError, match="empty"):
        list(ft.KFold(2).split(np.zeros((0, 2))))
    with pytest.raises(InvalidArgumentError, match="members in each class"):
        list(ft.StratifiedKFold(3).split(np.zeros(10), [0] * 8 + [1] * 2))
    with pytest.raises(InvalidArgumentError, match="one label per sample"):
        list(ft.StratifiedKFold(2).split(np.zeros(10), [0, 1] * 4))
    with pytest.raises(InvalidArgumentError, match="one label per sample"):
        list(ft.KFold(2).split(np.zeros(10), [0, 1] * 4))
    with pytest.raises(InvalidArgumentError, match="class labels"):
        list(ft.StratifiedKFold(2).split(np.zeros(10)))
    with pytest.raises(InvalidArgumentError, match="continuous"):
        list(ft.StratifiedKFold(2).split(np.zeros(10), np.linspace(0, 1, 10)))
    mixed = np.array([1, "a"] * 5, dtype=object)  # numpy cannot sort 1 and "a" together
    with pytest.raises(InvalidArgumentError, match="y must be labels of one kind.*int, str"):
        list(ft.StratifiedKFold(2).split(np.zeros(10), mixed))


def test_train_val_test_split_sizes_and_order():
    X = np.arange(200).reshape(100, 2)
    y = np.arange(100) % 4
    Xtr, Xva, Xte, ytr, yva, yte = ft.train_val_test_split(X, y, val=0.2, test=0.1, seed=5)
    assert (len(Xtr), len(Xva), len(Xte)) == (70, 20, 10)
    assert (len(ytr), len(yva), len(yte)) == (70, 20, 10)
    rows = np.concatenate([Xtr, Xva, Xte])[:, 0] // 2
    assert sorted(rows.tolist()) == list(range(100))
    assert np.all(np.diff(Xtr[:, 0]) > 0)  # rows keep their order within a part
    np.testing.assert_array_equal(ytr, (Xtr[:, 0] // 2) % 4)
    again = ft.train_val_test_split(X, y, val=0.2, test=0.1, seed=5)
    np.testing.assert_array_equal(again[1], Xva)


def test_train_val_test_split_stratified_keeps_proportions():
    y = np.array([0] * 80 + [1] * 20)
    _, _, _, ytr, yva, yte = ft.train_val_test_split(
        np.zeros((100, 1)), y, val=0.2, test=0.2, stratify=True, seed=0
    )
    assert (yva == 1).sum() == 4 and (yte == 1).sum() == 4 and (ytr == 1).sum() == 12


def test_train_val_test_split_counts_lists_and_no_y():
    parts = ft.train_val_test_split(list("abcdefghij"), val=2, test=3, seed=1)
    assert [len(p) for p in parts] == [5, 2, 3]
    assert sorted(sum(parts, [])) == list("abcdefghij")


def test_train_val_test_split_bad_inputs():
    with pytest.raises(InvalidArgumentError, match="empty"):
        ft.train_val_test_split(np.zeros((0, 2)))
    with pytest.raises(InvalidArgumentError, match="one label per sample"):
        ft.train_val_test_split(np.zeros((10, 2)), np.zeros(9))
    with pytest.raises(InvalidArgumentError, match="val"):
        ft.train_val_test_split(np.zeros((10, 2)), val=0.6, test=0.5)
    with pytest.raises(InvalidArgumentError, match="val"):
        ft.train_val_test_split(np.zeros((10, 2)), val=1.5)
    with pytest.raises(InvalidArgumentError, match="y"):
        ft.train_val_test_split(np.zeros((10, 2)), stratify=True)
    with pytest.raises(InvalidArgumentError, match="single member"):
        ft.train_val_test_split(np.zeros((10, 2)), [0] * 9 + [1], stratify=True, seed=0)


def test_sklearn_splitters_are_accepted_where_folds_are():
    from ferrotune.folds import as_folds

    X, y = np.zeros((30, 2)), np.arange(30) % 3
    mine = as_folds(ft.StratifiedKFold(3), X, y, stratify=True)
    theirs = as_folds(sk.StratifiedKFold(3), X, y, stratify=True)
    assert [(a.tolist(), b.tolist()) for a, b in mine] == [
        (a.tolist(), b.tolist()) for a, b in theirs
    ]
    assert len(as_folds(3, X, y, stratify=False)) == 3
    with pytest.raises(InvalidArgumentError, match="folds"):
        as_folds([([0, 1], [99])], X, y, stratify=False)
    with pytest.raises(InvalidTypeError, match="folds"):
        as_folds("five", X, y, stratify=False)


def test_a_splitter_that_needs_groups_says_how_to_pass_its_folds():
    from ferrotune.folds import as_folds

    X, y, groups = np.zeros((12, 2)), np.arange(12) % 2, np.arange(12) // 3
    with pytest.raises(InvalidArgumentError, match=r"folds: GroupKFold.*groups.*folds=list"):
        as_folds(sk.GroupKFold(2), X, y, stratify=True)
    pairs = as_folds(list(sk.GroupKFold(2).split(X, y, groups)), X, y, stratify=True)
    assert sorted(np.concatenate([val for _, val in pairs]).tolist()) == list(range(12))
