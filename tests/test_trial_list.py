"""The study's trial list (`_core.TrialList`): trials drawn by the core random searcher are kept
as numbers and their records rebuilt when read, equal to what the objective saw."""

import gc
import json
import tracemalloc

import numpy as np
import pytest

import ferrotune as ft

NESTED = {
    "lr": ft.Float(1e-5, 1e-1, log=True),
    "width": ft.Int(16, 256, step=16),
    "prior": ft.Normal(0.0, 1.0, low=-2.0, high=2.0),
    "model": ft.Choice(
        [
            {"kind": "svm", "C": ft.Float(0.1, 10.0, log=True)},
            {"kind": "tree", "depth": ft.Int(1, 8)},
        ]
    ),
}


@pytest.mark.parametrize("sequence", ["random", "sobol"])
def test_drawn_trials_are_rebuilt_equal_to_what_the_objective_saw(sequence):
    seen = []

    def objective(trial):
        seen.append(trial)
        return trial.params["lr"] * trial.params["width"]

    study = ft.Study(ft.RandomSearch(NESTED, seed=3, sequence=sequence))
    study.optimize(objective, n_trials=40)
    kept = study.trials
    assert kept == seen
    for live, rebuilt in zip(seen, kept, strict=True):
        # Bit for bit: the same point drawn again, and the same value and times.
        assert json.dumps(rebuilt.params) == json.dumps(live.params)
        assert (rebuilt.number, rebuilt.point_id) == (live.number, live.point_id)
        assert (rebuilt.value, rebuilt.start, rebuilt.duration) == (
            live.value,
            live.start,
            live.duration,
        )
        assert rebuilt.state is ft.TrialState.COMPLETE
        assert rebuilt.intermediate == {} and rebuilt.attrs == {} and rebuilt.error is None


def test_trials_from_before_a_restore_under_another_seed_keep_their_points():
    searcher = ft.RandomSearch(NESTED, seed=0)
    study = ft.Study(searcher)
    study.optimize(lambda t: t.params["lr"], n_trials=5)
    before = [t.params for t in study.trials]
    state = json.loads(searcher.state())
    state["seed"] = 99
    searcher.restore(json.dumps(state))
    study.optimize(lambda t: t.params["lr"], n_trials=5)
    after = study.trials
    assert [t.params for t in after[:5]] == before
    reference = ft.Study(ft.RandomSearch(NESTED, seed=99))
    reference.optimize(lambda t: t.params["lr"], n_trials=10)
    assert [t.params for t in after[5:]] == [t.params for t in reference.trials[5:]]


def test_a_numpy_float_value_is_kept_as_a_plain_float():
    study = ft.Study(ft.RandomSearch(NESTED, seed=0))
    trial = study.ask()
    told = study.tell(trial, np.float64(0.25))
    assert type(told.value) is float and told.value == 0.25
    assert type(study.trials[0].value) is float
    bad = study.ask()
    study.tell(bad, np.float64("nan"))
    assert bad.state is ft.TrialState.FAILED


def test_params_replaced_in_the_objective_are_what_the_study_keeps():
    def objective(trial):
        trial.params = {**trial.params, "batch": 32}
        return trial.params["lr"]

    study = ft.Study(ft.RandomSearch(NESTED, seed=0))
    study.optimize(objective, n_trials=3)
    assert all(t.params["batch"] == 32 for t in study.trials)


@pytest.mark.parametrize("stored", [False, True], ids=["memory", "journal"])
@pytest.mark.parametrize("reports", [False, True], ids=["plain", "reporting"])
@pytest.mark.parametrize("searcher", ["random", "grid"])
def test_params_changed_in_place_are_not_what_the_study_records(
    tmp_path, stored, reports, searcher
):
    def make():
        if searcher == "random":
            return ft.RandomSearch(NESTED, seed=0)
        return ft.GridSearch(ft.Grid({"lr": [0.1, 0.2, 0.3], "model": [{"kind": "svm"}]}))

    def objective(trial):
        if reports:
            trial.report(0, 1.0)
        trial.params["lr"] = -1.0
        trial.params["model"]["kind"] = "changed"
        trial.params["extra"] = 1
        return 0.5

    path = str(tmp_path / "s.db") if stored else None
    study = ft.Study(make(), storage=path)
    study.optimize(objective, n_trials=3)
    expected = ft.Study(make())
    expected.optimize(lambda t: 0.5, n_trials=3)
    want = [t.params for t in expected.trials]
    assert all(p["lr"] > 0 and "extra" not in p for p in want)
    assert [t.params for t in study.trials] == want
    assert study.best_params == want[0]
    if stored:
        study.close()
        assert [t.params for t in ft.load_study(path).trials] == want


def test_a_trial_with_reports_or_attributes_keeps_them():
    def objective(trial):
        trial.report(0, 1.5)
        if trial.number == 1:
            trial.set_attr("note", "x")
        return 1.0

    study = ft.Study(ft.RandomSearch(NESTED, seed=0))
    study.optimize(objective, n_trials=3)
    assert [t.intermediate for t in study.trials] == [{0: 1.5}] * 3
    assert study.trials[1].attrs == {"note": "x"}


@pytest.mark.parametrize("as_value", [float, np.float64])
def test_a_long_in_memory_study_keeps_no_python_object_per_trial(as_value):
    n = 20_000
    gc.collect()
    tracemalloc.start()
    try:
        study = ft.Study(ft.RandomSearch(NESTED, seed=0))
        base = tracemalloc.get_traced_memory()[0]
        for _ in range(n):
            trial = study.ask()
            study.tell(trial, as_value(trial.params["lr"]))
        del trial
        gc.collect()
        grown = tracemalloc.get_traced_memory()[0] - base
    finally:
        tracemalloc.stop()
    # A record tuple with its params dict took about 400 bytes of Python objects per trial.
    assert grown / n < 16, f"{grown / n:.1f} bytes of Python objects per stored trial"
    assert len(study.trials) == n
    assert type(study.best_value) is float


def test_the_trial_list_reads_like_a_list():
    study = ft.Study(ft.RandomSearch(NESTED, seed=0))
    study.optimize(lambda t: t.params["lr"], n_trials=6)
    running = study.ask()
    trials = study._trials
    assert len(trials) == 7
    assert trials[-1] is running and trials[6] is running
    assert [e[0] for e in trials[1:6:2]] == [1, 3, 5]
    assert trials[::-3][0] is running
    assert [e[0] for e in trials[:6]] == list(range(6))
    assert [t.number for t in trials.trials()] == list(range(7))
    assert trials.trial(-1) is running and trials.trial(2) == study.trials[2]
    assert [t.number for t in trials.trials({"RUNNING"})] == [6]
    assert trials.states() == ["COMPLETE"] * 6 + ["RUNNING"]
    assert trials.state(-1) == "RUNNING"
    with pytest.raises(IndexError, match="trial index 7 out of range for a study of 7"):
        trials[7]
    with pytest.raises(IndexError, match="-8"):
        trials.state(-8)
    with pytest.raises(IndexError):
        trials[9] = None
    study.tell(running, state="PRUNED")
    assert trials.state(6) == "PRUNED"


def test_a_study_counts_running_trials_in_its_exhausted_message():
    study = ft.Study(ft.GridSearch(ft.Grid({"a": [1, 2]})))
    study.ask()
    done = study.ask()
    study.tell(done, 1.0)
    with pytest.raises(ft.SearchExhausted, match="some of the 1 running"):
        study.ask()


def test_rebuilt_trials_are_seen_by_the_garbage_collector():
    import weakref

    study = ft.Study(ft.RandomSearch(NESTED, seed=0))
    study.optimize(lambda t: t.params["lr"], n_trials=3)
    trials = study.trials
    assert all(gc.is_tracked(t) for t in trials)
    trials[0].attrs["me"] = trials[0]  # a cycle only the collector can free
    ref = weakref.ref(trials[0])
    del trials
    gc.collect()
    assert ref() is None


def test_reading_the_trials_leaves_the_garbage_collector_as_it_was():
    study = ft.Study(ft.RandomSearch(NESTED, seed=0))
    study.optimize(lambda t: t.params["lr"], n_trials=3)
    assert gc.isenabled()
    assert len(study.trials) == 3 and gc.isenabled()
    gc.disable()
    try:
        assert len(study.trials_in("COMPLETE")) == 3 and not gc.isenabled()
    finally:
        gc.enable()


def test_rebuilt_trials_are_copies_that_do_not_change_the_study():
    def objective(trial):
        trial.set_attr("folds", [1, 2])
        return trial.params["lr"]

    study = ft.Study(ft.RandomSearch(NESTED, seed=0))
    study.optimize(objective, n_trials=2)
    study.optimize(lambda t: t.params["lr"], n_trials=2)
    for t in study.trials:
        t.params["lr"] = -1.0
        t.attrs["folds"] = None
        t.intermediate[0] = 9.0
    again = study.trials
    assert all(t.params["lr"] > 0 for t in again)
    assert [t.attrs for t in again] == [{"folds": [1, 2]}] * 2 + [{}] * 2
    assert all(t.intermediate == {} for t in again)
