import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.model_selection import ParameterGrid

import ferrotune as ft
from ferrotune.errors import IndexOutOfRangeError, InvalidArgumentError, InvalidTypeError

values = st.lists(
    st.one_of(
        st.integers(-5, 5),
        st.floats(-1, 1, allow_nan=False),
        st.text(max_size=3),
        st.none(),
        st.booleans(),
    ),
    min_size=1,
    max_size=4,
)
keys = st.text(alphabet="abcdefgh_", min_size=1, max_size=4)
sub_grid = st.dictionaries(keys, values, max_size=4)
param_grids = st.one_of(sub_grid, st.lists(sub_grid, min_size=1, max_size=3))


@settings(max_examples=80, deadline=None)
@given(param_grids)
def test_property_same_len_order_and_items_as_sklearn(pg):
    ours, theirs = ft.Grid(pg), ParameterGrid(pg)
    assert len(ours) == len(theirs)
    assert list(ours) == list(theirs)
    for i in range(len(theirs)):
        assert ours[i] == theirs[i]
    if len(theirs):
        assert ours[-1] == theirs[len(theirs) - 1]


def test_sorted_keys_last_varies_fastest():
    g = ft.Grid({"b": [1, 2], "a": ["x", "y"]})
    assert list(g) == [
        {"a": "x", "b": 1},
        {"a": "x", "b": 2},
        {"a": "y", "b": 1},
        {"a": "y", "b": 2},
    ]
    assert list(g[0]) == ["a", "b"]


def test_lists_of_dicts_and_empty_dict():
    g = ft.Grid([{"k": ["rbf"], "g": [1, 10]}, {}, {"k": ["lin"]}])
    assert len(g) == 4
    assert g[2] == {} and g[3] == {"k": "lin"}
    assert g[1:3] == [{"g": 10, "k": "rbf"}, {}]


def test_huge_grid_is_lazy():
    g = ft.Grid({f"p{i}": list(range(1000)) for i in range(4)})
    assert len(g) == 10**12
    assert g[10**12 - 1] == {f"p{i}": 999 for i in range(4)}
    assert g[123_456_789_012] == {"p0": 123, "p1": 456, "p2": 789, "p3": 12}


def test_to_array_numbers_indices_and_nan():
    g = ft.Grid([{"lr": [0.1, 0.01], "opt": ["adam", "sgd"]}, {"lr": [1.0], "mom": [0.9]}])
    assert g.columns == ["lr", "mom", "opt"]
    arr = g.to_array()
    expected = np.array(
        [
            [0.1, np.nan, 0],
            [0.1, np.nan, 1],
            [0.01, np.nan, 0],
            [0.01, np.nan, 1],
            [1.0, 0.9, np.nan],
        ]
    )
    np.testing.assert_array_equal(arr, expected)
    np.testing.assert_array_equal(g.to_array(1, 3), expected[1:3])
    np.testing.assert_array_equal(g.to_array(slice(2, None)), expected[2:])
    np.testing.assert_array_equal(g.to_array(-2), expected[-2:])


def test_to_array_large_matches_meshgrid():
    axes = [np.linspace(0, 1, 10) * (k + 1) for k in range(6)]
    g = ft.Grid({f"k{k}": list(a) for k, a in enumerate(axes)})
    mesh = np.stack([m.ravel() for m in np.meshgrid(*axes, indexing="ij")], axis=1)
    np.testing.assert_array_equal(g.to_array(), mesh)


def test_from_space():
    space = {
        "lr": ft.Float(1e-4, 1e-1, log=True),
        "n": ft.Int(1, 3),
        "act": ft.Choice(["relu", {"kind": "leaky", "slope": ft.Float(0.0, 0.2)}]),
        "x": ft.Normal(0, 1),
    }
    g = ft.Grid.from_space(space, points=3)
    lrs = sorted({p["lr"] for p in g})
    np.testing.assert_allclose(lrs, [1e-4, np.sqrt(1e-4 * 1e-1), 1e-1])
    assert sorted({p["n"] for p in g}) == [1, 2, 3]
    acts = [p["act"] for p in g[: len(g)]]
    assert "relu" in acts and {"kind": "leaky", "slope": 0.1} in acts
    xs = sorted({p["x"] for p in g})
    assert xs[1] == pytest.approx(0.0, abs=1e-12) and xs[0] == pytest.approx(-xs[2])
    assert len(g) == 3 * 3 * 4 * 3


@pytest.mark.parametrize(
    "pg, err",
    [
        ("abc", InvalidTypeError),
        (3, InvalidTypeError),
        ([{"a": [1]}, "b"], InvalidTypeError),
        ({"a": "xyz"}, InvalidTypeError),
        ({"a": 1}, InvalidTypeError),
        ({"a": []}, InvalidArgumentError),
        ({"a": np.zeros((2, 2))}, InvalidArgumentError),
        ({1: [1, 2]}, InvalidTypeError),
    ],
)
def test_bad_grids(pg, err):
    with pytest.raises(err):
        ft.Grid(pg)


def test_bad_indices():
    g = ft.Grid({"a": [1, 2, 3]})
    with pytest.raises(IndexOutOfRangeError):
        g[3]
    with pytest.raises(IndexError):
        g[-4]
    with pytest.raises(InvalidTypeError):
        g["a"]
    with pytest.raises(InvalidArgumentError):
        ft.Grid.from_space({"x": ft.Float(0, 1)}, points=0)


def test_to_array_too_large_to_allocate_is_an_error_not_a_crash():
    g = ft.Grid({f"p{i}": list(range(1000)) for i in range(4)})  # 10**12 points
    with pytest.raises(InvalidArgumentError, match="stop - start"):
        g.to_array()
    assert g.to_array(-2).tolist() == [[999.0, 999.0, 999.0, 998.0], [999.0] * 4]
