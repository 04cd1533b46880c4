import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import ferrotune as ft
from ferrotune.errors import InvalidArgumentError, InvalidTypeError

MIXED = {
    "lr": ft.Float(1e-5, 1e-1, log=True),
    "width": ft.Int(16, 512, log=True),
    "layers": ft.Int(1, 9, step=2),
    "act": ft.Choice(["relu", "gelu", "tanh"]),
    "init": ft.Normal(0.0, 1.0, low=-1.0, high=2.0),
    "drop": ft.Float(0.0, 0.5, step=0.1),
}


@pytest.mark.parametrize("sequence", ["random", "sobol"])
def test_samples_are_inside_bounds_and_on_steps(sequence):
    space = ft.Space(MIXED)
    for p in space.sample(2000, seed=3, sequence=sequence):
        assert 1e-5 <= p["lr"] <= 1e-1
        assert isinstance(p["width"], int) and 16 <= p["width"] <= 512
        assert p["layers"] in (1, 3, 5, 7, 9)
        assert p["act"] in ("relu", "gelu", "tanh")
        assert -1.0 <= p["init"] <= 2.0
        assert min(abs(p["drop"] - k / 10) for k in range(6)) < 1e-12


def test_sample_array_matches_sample_and_names():
    space = ft.Space(MIXED)
    arr = space.sample_array(500, seed=11)
    dicts = space.sample(500, seed=11)
    assert arr.shape == (500, 6) and arr.dtype == np.float64
    assert space.names == ["lr", "width", "layers", "act", "init", "drop"]
    options = ["relu", "gelu", "tanh"]
    for row, p in zip(arr, dicts, strict=False):
        assert row[0] == p["lr"] and row[1] == p["width"] and row[2] == p["layers"]
        assert options[int(row[3])] == p["act"]
    assert space.decode(arr[:3]) == dicts[:3]


def test_same_seed_same_samples_different_seed_different():
    space = ft.Space(MIXED)
    a = space.sample_array(100, seed=5)
    np.testing.assert_array_equal(a, space.sample_array(100, seed=5))
    assert not np.array_equal(a, space.sample_array(100, seed=6))
    # Sample i does not depend on how many are drawn.
    np.testing.assert_array_equal(a[:10], space.sample_array(10, seed=5))


def test_log_uniform_is_uniform_in_log_space():
    x = ft.Space({"x": ft.Float(1e-4, 1.0, log=True)}).sample_array(20000, seed=0)[:, 0]
    logs = np.log10(x)
    counts, _ = np.histogram(logs, bins=4, range=(-4, 0))
    assert counts.min() > 0.9 * 5000


def test_int_log_covers_every_value_with_decreasing_frequency():
    x = ft.Space({"x": ft.Int(1, 8, log=True)}).sample_array(40000, seed=1)[:, 0]
    counts = np.bincount(x.astype(int), minlength=9)[1:]
    assert (counts > 0).all()
    assert counts[0] > counts[-1]


def test_truncated_normal_moments():
    x = ft.Space({"x": ft.Normal(1.0, 2.0, low=0.0)}).sample_array(50000, seed=2)[:, 0]
    assert x.min() >= 0.0
    # Mean of N(1, 2) truncated below at 0: mu + sigma * phi(a) / (1 - Phi(a)), a = -0.5.
    a = -0.5
    phi = math.exp(-a * a / 2) / math.sqrt(2 * math.pi)
    big_phi = 0.5 * math.erfc(-a / math.sqrt(2))
    expected = 1.0 + 2.0 * phi / (1 - big_phi)
    assert abs(x.mean() - expected) < 0.03


def test_lognormal_is_normal_in_log_space():
    x = ft.Space({"x": ft.Normal(-3.0, 0.5, log=True)}).sample_array(50000, seed=4)[:, 0]
    assert abs(np.log(x).mean() + 3.0) < 0.01
    assert abs(np.log(x).std() - 0.5) < 0.01


def test_sobol_covers_better_than_random():
    space = ft.Space({"a": ft.Float(0, 1), "b": ft.Float(0, 1)})

    def worst_cell(arr):
        h, _, _ = np.histogram2d(arr[:, 0], arr[:, 1], bins=16, range=[[0, 1], [0, 1]])
        return np.abs(h - h.mean()).max()

    sobol = space.sample_array(1024, seed=0, sequence="sobol")
    rand = space.sample_array(1024, seed=0, sequence="random")
    assert worst_cell(sobol) < worst_cell(rand)
    # 1024 Sobol points put exactly 4 points in each of the 16 x 16 cells' rows of 1/256.
    assert np.all(np.histogram(sobol[:, 0], bins=256, range=(0, 1))[0] == 4)


def test_nested_choice_gives_sub_parameters_only_when_chosen():
    space = ft.Space(
        {
            "model": ft.Choice(
                [
                    {"kind": "svm", "C": ft.Float(1e-3, 1e3, log=True)},
                    {"kind": "tree", "depth": ft.Int(2, 12)},
                    "constant",
                ]
            ),
            "seed": 7,
            "opt": {"lr": ft.Float(0.1, 1.0)},
        }
    )
    assert space.names == ["model", "model[0].C", "model[1].depth", "opt.lr"]
    seen = set()
    for p in space.sample(300, seed=0):
        assert p["seed"] == 7 and 0.1 <= p["opt"]["lr"] <= 1.0
        m = p["model"]
        if m == "constant":
            seen.add("constant")
        elif m["kind"] == "svm":
            assert set(m) == {"kind", "C"}
            seen.add("svm")
        else:
            assert set(m) == {"kind", "depth"} and 2 <= m["depth"] <= 12
            seen.add("tree")
    assert seen == {"svm", "tree", "constant"}
    arr = space.sample_array(300, seed=0)
    assert np.all(np.isnan(arr[:, 1]) == (arr[:, 0] != 0))
    assert np.all(np.isnan(arr[:, 2]) == (arr[:, 0] != 1))


def test_encode_inverts_decode():
    space = ft.Space(
        {
            "model": ft.Choice([{"kind": "svm", "C": ft.Float(1, 10)}, "x"]),
            "n": ft.Int(1, 5),
        }
    )
    for p in space.sample(50, seed=1):
        row = space.encode(p)
        assert space.decode(row)[0] == p


def test_plain_dict_accepted_everywhere():
    s = ft.RandomSearch({"x": ft.Float(0, 1)}, seed=0)
    assert s.space == ft.Space({"x": ft.Float(0, 1)})


@pytest.mark.parametrize(
    "make, arg",
    [
        (lambda: ft.Float(1.0, 1.0), "low"),
        (lambda: ft.Float(2.0, 1.0), "low"),
        (lambda: ft.Float(0.0, 1.0, log=True), "low"),
        (lambda: ft.Float(0.0, 1.0, step=0.3), "step"),
        (lambda: ft.Float(0.0, 1.0, step=-0.5), "step"),
        (lambda: ft.Float(1e-3, 1.0, log=True, step=0.1), "step"),
        (lambda: ft.Float(float("nan"), 1.0), "low"),
        (lambda: ft.Float(0.0, float("inf")), "high"),
        (lambda: ft.Int(5, 1), "low"),
        (lambda: ft.Int(0, 10, log=True), "low"),
        (lambda: ft.Int(0, 10, step=3), "step"),
        (lambda: ft.Int(0, 10, step=0), "step"),
        (lambda: ft.Int(1, 10, log=True, step=3), "step"),
        (lambda: ft.Choice([]), "options"),
        (lambda: ft.Choice([object()]), "options[0]"),
        (lambda: ft.Normal(0.0, 0.0), "std"),
        (lambda: ft.Normal(0.0, -1.0), "std"),
        (lambda: ft.Normal(0.0, 1.0, low=2.0, high=1.0), "low"),
        (lambda: ft.Normal(0.0, 1.0, low=-1.0, log=True), "low"),
        (lambda: ft.Normal(0.0, 1.0, low=60.0, high=61.0), "low=60, high=61"),
        (lambda: ft.Float(-1e308, 1e308), "high - low must be a finite"),
    ],
)
def test_bad_distributions_name_the_argument(make, arg):
    with pytest.raises(InvalidArgumentError) as e:
        make()
    assert arg in str(e.value)
    assert isinstance(e.value, ValueError)


@pytest.mark.parametrize(
    "make",
    [
        lambda: ft.Float("0", 1.0),
        lambda: ft.Float(0.0, 1.0, log="yes"),
        lambda: ft.Int(0.5, 3),
        lambda: ft.Int(True, 3),
        lambda: ft.Choice("abc"),
        lambda: ft.Choice(3),
        lambda: ft.Space([1, 2]),
        lambda: ft.Space({1: ft.Float(0, 1)}),
    ],
)
def test_bad_types_are_type_errors(make):
    with pytest.raises(InvalidTypeError) as e:
        make()
    assert isinstance(e.value, TypeError)
    assert "got" in str(e.value)


@pytest.mark.parametrize("seed", [-1, 1.5, "1", 2**64])
def test_bad_seeds(seed):
    space = ft.Space({"x": ft.Float(0, 1)})
    with pytest.raises((InvalidArgumentError, InvalidTypeError), match="seed"):
        space.sample(3, seed=seed)
    with pytest.raises((InvalidArgumentError, InvalidTypeError), match="seed"):
        ft.RandomSearch(space, seed=seed)


def test_bad_sequence_and_n():
    space = ft.Space({"x": ft.Float(0, 1)})
    with pytest.raises(InvalidArgumentError, match="sequence"):
        space.sample(3, seed=0, sequence="halton")
    with pytest.raises(InvalidArgumentError, match="n"):
        space.sample(-1, seed=0)


def test_int_ranges_wider_than_int64_sample_inside_their_bounds():
    # high - low = 2**63 overflows an int64; the samples must still lie in [low, high].
    for low, high in [(-(2**62), 2**62), (-(2**63), 2**63 - 1)]:
        values = [p["x"] for p in ft.Space({"x": ft.Int(low, high)}).sample(200, seed=0)]
        assert all(low <= x <= high for x in values)
        assert len(set(values)) > 150
        assert min(values) < low // 2 and max(values) > high // 2


def test_arrays_too_large_to_allocate_are_an_error_not_a_crash():
    space = ft.Space({"x": ft.Float(0, 1), "y": ft.Int(0, 3)})
    with pytest.raises(InvalidArgumentError, match="n"):
        space.sample_array(2**62, seed=0)


def test_decode_and_encode_refuse_text_by_name():
    space = ft.Space({"x": ft.Float(0, 1)})
    with pytest.raises(InvalidTypeError, match="rows"):
        space.decode("abc")
    with pytest.raises(InvalidTypeError, match="params\\['x'\\]"):
        space.encode({"x": "0.5"})


@pytest.mark.parametrize(
    ("row", "where", "why"),
    [
        ([3, np.nan, 0.5, 4], r"rows\[1, 0\] \(model\)", "option index.*0 to 1"),
        ([0.5, np.nan, 0.5, 4], r"rows\[1, 0\] \(model\)", "option index"),
        ([0, np.nan, 1.5, 4], r"rows\[1, 2\] \(lr\)", r"within \[0.001, 1"),
        ([0, np.nan, 0.5, 4.5], r"rows\[1, 3\] \(layers\)", "whole number"),
        ([0, np.nan, 0.5, 5], r"rows\[1, 3\] \(layers\)", "on the step"),
        ([0, np.nan, np.nan, 4], r"rows\[1, 2\] \(lr\)", "finite.*active"),
        ([1, np.nan, 0.5, 4], r"rows\[1, 1\] \(model\[1\].depth\)", "finite.*active"),
        ([1, 1e300, 0.5, 4], r"rows\[1, 1\]", "within.*got 1e300"),
    ],
)
def test_decode_refuses_a_row_no_sample_could_be_naming_its_cell(row, where, why):
    space = ft.Space(
        {
            "model": ft.Choice(["linear", {"depth": ft.Int(1, 8)}]),
            "lr": ft.Float(1e-3, 1.0, log=True),
            "layers": ft.Int(2, 8, step=2),
        }
    )
    assert space.names == ["model", "model[1].depth", "lr", "layers"]
    good = space.sample_array(1, seed=0)[0]
    with pytest.raises(InvalidArgumentError, match=f"{where}.*{why}"):
        space.decode(np.array([good, row]))
    # An inactive parameter's cell is not read: the option not chosen may hold anything.
    assert space.decode([0, 123.0, 0.5, 4]) == [{"model": "linear", "lr": 0.5, "layers": 4}]


@pytest.mark.parametrize("low", [1e9, -1e9, 0.1, 1e6])
def test_decode_takes_every_value_sampled_on_a_fine_step_far_from_zero(low):
    # Far from zero a float64 is coarser than a hundredth of the step: a grid value is off
    # the exact grid by the rounding of `low + k * step`, which decode must allow.
    space = ft.Space({"f": ft.Float(low, low + 1, step=0.01)})
    rows = space.sample_array(500, seed=0)
    assert [p["f"] for p in space.decode(rows)] == rows[:, 0].tolist()
    with pytest.raises(InvalidArgumentError, match="on the step"):
        space.decode([low + 0.005])


def test_a_step_that_divides_the_range_is_taken_far_from_zero_too():
    # high - low of 0.2 is 0.19999992847442627 at this size: only rounding, not a bad step.
    space = ft.Space({"f": ft.Float(1e9 + 0.1, 1e9 + 0.3, step=0.1)})
    values = space.sample_array(300, seed=0)[:, 0]
    assert values.min() >= 1e9 + 0.1 and values.max() <= 1e9 + 0.3
    assert len({round(x - 1e9, 6) for x in values}) == 3
    assert len(space.decode(space.sample_array(50, seed=1))) == 50
    with pytest.raises(InvalidArgumentError, match="step must divide"):
        ft.Float(1e9, 1e9 + 1.0, step=0.3)


def test_empty_space_samples_empty_dicts():
    space = ft.Space({})
    assert space.sample(2, seed=0) == [{}, {}]
    assert space.sample_array(2, seed=0).shape == (2, 0)


@st.composite
def distributions(draw):
    kind = draw(st.sampled_from(["float", "log", "step", "int", "intlog", "normal", "choice"]))
    lo = draw(st.floats(-1e6, 1e6, allow_nan=False))
    width = draw(st.floats(1e-3, 1e6))
    if kind == "float":
        return ft.Float(lo, lo + width)
    if kind == "log":
        low = draw(st.floats(1e-8, 1e3))
        return ft.Float(low, low * draw(st.floats(1.001, 1e6)), log=True)
    if kind == "step":
        step = draw(st.sampled_from([0.5, 0.25, 1.0, 2.0]))
        n = draw(st.integers(1, 100))
        low = round(lo)
        return ft.Float(float(low), float(low + n * step), step=step)
    if kind == "int":
        low = draw(st.integers(-(10**9), 10**9))
        step = draw(st.integers(1, 7))
        return ft.Int(low, low + step * draw(st.integers(1, 1000)), step=step)
    if kind == "intlog":
        low = draw(st.integers(1, 10**6))
        return ft.Int(low, low + draw(st.integers(1, 10**6)), log=True)
    if kind == "normal":
        return ft.Normal(lo, width, low=lo - width, high=lo + 3 * width)
    return ft.Choice(list(range(draw(st.integers(1, 9)))))


def inside(dist, x):
    if isinstance(dist, ft.Choice):
        return x in dist.options
    if isinstance(dist, ft.Int):
        return (
            isinstance(x, int) and dist.low <= x <= dist.high and ((x - dist.low) % dist.step == 0)
        )
    if isinstance(dist, ft.Normal):
        return dist.low <= x <= dist.high
    if dist.step is not None:
        k = (x - dist.low) / dist.step
        return dist.low <= x <= dist.high and abs(k - round(k)) < 1e-6
    return dist.low <= x <= dist.high


@settings(max_examples=60, deadline=None)
@given(
    dist=distributions(),
    seed=st.integers(0, 2**64 - 1),
    seq=st.sampled_from(["random", "sobol"]),
)
def test_property_samples_inside_bounds_and_on_step(dist, seed, seq):
    space = ft.Space({"x": dist})
    for p in space.sample(64, seed=seed, sequence=seq):
        assert inside(dist, p["x"]), (dist, p["x"])


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**64 - 1),
    i=st.integers(0, 300),
    start=st.integers(0, 300),
    seq=st.sampled_from(["random", "sobol"]),
)
def test_property_sample_i_depends_only_on_seed_and_i(seed, i, start, seq):
    space = ft.Space(MIXED)
    batch = space.sample(i + 1, seed=seed, sequence=seq)
    # The same point through a searcher, asked one at a time.
    searcher = ft.RandomSearch(space, seed=seed, sequence=seq)
    for _ in range(i):
        searcher.ask()
    point_id, params = searcher.ask()
    assert point_id == i and params == batch[i]
    # And through a batch that starts elsewhere.
    rows = space._core.sample_array(i + 1, seed, seq, start)
    whole = space._core.sample_array(start + i + 1, seed, seq, 0)
    np.testing.assert_array_equal(rows, whole[start:])


def test_choice_accepts_numpy_values():
    c = ft.Choice(np.arange(3))
    assert c.options == [0, 1, 2] and all(type(o) is int for o in c.options)
    assert ft.Space({"k": c}).sample(5, seed=0)[0]["k"] in (0, 1, 2)
