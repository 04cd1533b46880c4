import json

import pytest

import ferrotune as ft
from ferrotune.errors import InvalidArgumentError, StateError

SPACE = {"x": ft.Float(0, 1), "k": ft.Choice(["a", "b"])}


def drain(searcher, n):
    out = []
    for _ in range(n):
        proposal = searcher.ask()
        if proposal is None:
            break
        out.append(proposal)
        searcher.tell(proposal[0], 0.0)
    return out


def test_random_search_ids_and_params_follow_the_space():
    s = ft.RandomSearch(SPACE, seed=9)
    got = drain(s, 20)
    assert [i for i, _ in got] == list(range(20))
    assert [p for _, p in got] == ft.Space(SPACE).sample(20, seed=9)


def test_random_search_state_round_trip_continues_the_sequence():
    a = ft.RandomSearch(SPACE, seed=1, sequence="sobol")
    drain(a, 7)
    b = ft.RandomSearch(SPACE, seed=1, sequence="sobol")
    b.restore(a.state())
    assert drain(b, 5) == drain(a, 5)


def test_requeued_points_come_back_first():
    s = ft.RandomSearch(SPACE, seed=0)
    first = [s.ask() for _ in range(3)]
    s.requeue(first[1][0])
    assert s.ask() == first[1]
    assert s.ask()[0] == 3


def test_grid_search_visits_every_point_once():
    grid = ft.Grid({"a": list(range(7)), "b": [0, 1, 2]})
    s = ft.GridSearch(grid)
    got = drain(s, 100)
    assert [p for _, p in got] == list(grid)
    assert s.exhausted and s.ask() is None


def test_shuffled_grid_search_is_a_permutation_and_reproducible():
    grid = ft.Grid({"a": list(range(10)), "b": list(range(10))})
    one = [p for _, p in drain(ft.GridSearch(grid, shuffle=True, seed=3), 1000)]
    two = [p for _, p in drain(ft.GridSearch(grid, shuffle=True, seed=3), 1000)]
    assert one == two and one != list(grid)
    assert sorted(map(json.dumps, one)) == sorted(map(json.dumps, grid))


def test_grid_search_waits_for_pending_points_then_finishes():
    s = ft.GridSearch({"a": [1, 2]})
    p0, p1 = s.ask(), s.ask()
    assert s.ask() is None and not s.exhausted
    s.tell(p0[0], 1.0)
    s.requeue(p1[0])
    assert s.ask() == p1
    s.tell(p1[0], 1.0)
    assert s.exhausted


def test_seed_without_shuffle_is_an_error():
    with pytest.raises(InvalidArgumentError, match="seed"):
        ft.GridSearch({"a": [1]}, seed=3)


def test_restore_rejects_foreign_state():
    s = ft.GridSearch({"a": [1, 2, 3]})
    with pytest.raises(StateError):
        s.restore(ft.GridSearch({"a": [1, 2]}).state())
    with pytest.raises(StateError):
        ft.RandomSearch(SPACE).restore("not json")


@pytest.mark.parametrize(
    "searcher",
    [
        lambda: ft.RandomSearch({"layers": ft.Choice([[64, 64], [128], ([1], 2)])}, seed=0),
        lambda: ft.GridSearch(ft.Grid({"layers": [[64, 64], [128], ([1], 2)], "x": [1, 2]})),
    ],
    ids=["random", "grid"],
)
def test_changing_a_list_option_in_one_trial_changes_no_other_trial(searcher):
    study = ft.Study(searcher())
    for _ in range(6):
        trial = study.ask()
        layers = trial.params["layers"]
        (layers if isinstance(layers, list) else layers[0]).append(10)
        study.tell(trial, 1.0)
    seen = [t.params["layers"] for t in study.trials]
    assert {repr(x) for x in seen} <= {"[64, 64]", "[128]", "([1], 2)"}
    fresh = ft.Study(searcher())
    fresh.optimize(lambda t: 1.0, n_trials=6)
    assert seen == [t.params["layers"] for t in fresh.trials]
