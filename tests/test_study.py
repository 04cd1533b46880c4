import math
import sqlite3

import numpy as np
import pytest

import ferrotune as ft
from ferrotune.errors import (
    InvalidArgumentError,
    InvalidTypeError,
    NotAJournalError,
    StateError,
    StorageError,
    StudyNotFoundError,
    TrialStateError,
)

SPACE = {"x": ft.Float(-3, 3), "n": ft.Int(1, 4), "c": ft.Choice(["a", "b"])}


def quadratic(trial):
    return (trial.params["x"] - 1) ** 2 + trial.params["n"]


def test_optimize_records_trials_and_best():
    study = ft.Study(ft.RandomSearch(SPACE, seed=0))
    study.optimize(quadratic, n_trials=60)
    trials = study.trials
    assert [t.number for t in trials] == list(range(60))
    assert all(t.state is ft.TrialState.COMPLETE for t in trials)
    assert study.best_value == min(t.value for t in trials)
    assert study.best_trial.params == study.best_params
    assert all(t.duration is not None and t.duration >= 0 for t in trials)


def test_maximize():
    study = ft.Study(ft.RandomSearch(SPACE, seed=0), direction="maximize")
    study.optimize(quadratic, n_trials=30)
    assert study.best_value == max(t.value for t in study.trials)


def test_nan_and_inf_are_failed_never_best():
    values = iter([float("nan"), 5.0, float("inf"), -float("inf"), 7.0])
    study = ft.Study(ft.RandomSearch(SPACE, seed=0))
    study.optimize(lambda t: next(values), n_trials=5)
    states = [t.state for t in study.trials]
    assert states.count(ft.TrialState.FAILED) == 3
    assert study.best_value == 5.0
    assert "nan" in study.trials[0].error


def test_exception_fails_the_trial_and_is_raised_unless_caught():
    def boom(trial):
        if trial.number == 1:
            raise ZeroDivisionError("bad luck")
        return 1.0

    study = ft.Study(ft.RandomSearch(SPACE, seed=0))
    with pytest.raises(ZeroDivisionError):
        study.optimize(boom, n_trials=5)
    assert [t.state for t in study.trials] == [ft.TrialState.COMPLETE, ft.TrialState.FAILED]
    assert "ZeroDivisionError: bad luck" in study.trials[1].error
    study.optimize(boom, n_trials=3, catch=(ZeroDivisionError,))
    assert len(study.trials) == 5


def test_non_scalar_value_is_a_type_error_and_a_failed_trial():
    study = ft.Study(ft.RandomSearch(SPACE, seed=0))
    with pytest.raises(InvalidTypeError, match="objective value"):
        study.optimize(lambda t: "0.5", n_trials=1)
    assert study.trials[0].state is ft.TrialState.FAILED


def test_numpy_scalar_values_are_accepted():
    import numpy as np

    study = ft.Study(ft.RandomSearch(SPACE, seed=0))
    study.optimize(lambda t: np.float32(0.25), n_trials=2)
    assert study.best_value == 0.25


class _ItemOnly:
    """A tensor-like scalar: a shape and item(), but float() refuses it."""

    shape = (1,)

    def item(self):
        return 0.5

    def __float__(self):
        raise AssertionError("float() must not be used; tensors warn when they require grad")


def test_one_element_arrays_and_tensor_like_values_are_accepted():
    import numpy as np

    values = iter([np.array([0.75]), np.array(0.25), _ItemOnly()])
    study = ft.Study(ft.RandomSearch(SPACE, seed=0))
    study.optimize(lambda t: next(values), n_trials=3)
    assert [t.value for t in study.trials] == [0.75, 0.25, 0.5]


@pytest.mark.parametrize(
    "value, error",
    [
        (10**400, InvalidArgumentError),
        (True, InvalidTypeError),
        (np.bool_(True), InvalidTypeError),
    ],
    ids=["huge int", "bool", "numpy bool"],
)
def test_values_that_are_no_float_are_refused_by_name(value, error):
    study = ft.Study(ft.RandomSearch(SPACE, seed=0))
    with pytest.raises(error, match="objective value"):
        study.optimize(lambda t: value, n_trials=1)
    assert study.trials[0].state is ft.TrialState.FAILED


def test_report_takes_what_a_value_takes_and_refuses_bools():
    import numpy as np

    study = ft.Study(ft.RandomSearch(SPACE, seed=0))
    trial = study.ask()
    trial.report(0, np.array([1.5]))
    trial.report(1, _ItemOnly())
    assert trial.intermediate == {0: 1.5, 1: 0.5}
    with pytest.raises(InvalidTypeError, match="value"):
        trial.report(2, True)


def test_catch_covers_a_value_that_is_not_a_number():
    study = ft.Study(ft.RandomSearch(SPACE, seed=0))
    study.optimize(lambda t: "abc", n_trials=2, catch=(TypeError,))
    assert [t.state for t in study.trials] == [ft.TrialState.FAILED] * 2
    with pytest.raises(InvalidTypeError):
        study.optimize(lambda t: "abc", n_trials=2, catch=(ZeroDivisionError,))


def test_system_exit_in_the_objective_fails_its_trial():
    def objective(trial):
        raise SystemExit(3)

    study = ft.Study(ft.RandomSearch(SPACE, seed=0))
    with pytest.raises(SystemExit):
        study.optimize(objective, n_trials=2)
    assert study.trials[0].state is ft.TrialState.FAILED
    assert "SystemExit" in study.trials[0].error


def test_callbacks_may_be_none_or_a_single_callable():
    seen = []
    study = ft.Study(ft.RandomSearch(SPACE, seed=0))
    study.optimize(quadratic, n_trials=2, callbacks=None)
    study.optimize(quadratic, n_trials=2, callbacks=lambda s, t: seen.append(t.number))
    assert seen == [2, 3]
    with pytest.raises(InvalidTypeError, match="callbacks"):
        study.optimize(quadratic, n_trials=1, callbacks=3)


def test_ask_and_tell():
    study = ft.Study(ft.RandomSearch(SPACE, seed=0))
    a, b = study.ask(), study.ask()
    study.tell(b, 2.0)
    study.tell(a.number, 1.0)
    assert study.best_trial is a
    with pytest.raises(TrialStateError, match="already finished"):
        study.tell(a, 3.0)
    with pytest.raises(TrialStateError, match="no trial 9"):
        study.tell(9, 3.0)
    c = study.ask()
    study.tell(c, RuntimeError("worker exploded"))
    assert c.state is ft.TrialState.FAILED and "worker exploded" in c.error
    d = study.ask()
    d.report(0, 0.5)
    study.tell(d, state="PRUNED")
    assert d.state is ft.TrialState.PRUNED and d.value == 0.5
    e = study.ask()
    with pytest.raises(InvalidArgumentError, match="value"):
        study.tell(e)


def test_trial_from_another_study_is_refused():
    s1 = ft.Study(ft.RandomSearch(SPACE, seed=0))
    s2 = ft.Study(ft.RandomSearch(SPACE, seed=0))
    t = s1.ask()
    s2.ask()
    with pytest.raises(TrialStateError, match="does not belong"):
        s2.tell(t, 1.0)


def test_grid_study_stops_when_the_grid_is_done():
    study = ft.Study(ft.GridSearch({"a": [1, 2, 3]}))
    study.optimize(lambda t: t.params["a"], n_trials=10)
    assert len(study.trials) == 3
    with pytest.raises(ft.SearchExhausted):
        study.ask()


def test_timeout_and_callbacks():
    seen = []
    study = ft.Study(ft.RandomSearch(SPACE, seed=0))
    study.optimize(quadratic, timeout=0.2, callbacks=[lambda s, t: seen.append(t.number)])
    assert len(seen) == len(study.trials) > 0


def test_keyboard_interrupt_keeps_finished_trials(journal_path):
    def objective(trial):
        if trial.number == 3:
            raise KeyboardInterrupt
        return float(trial.number)

    study = ft.Study(ft.RandomSearch(SPACE, seed=0), storage=journal_path)
    study.optimize(objective, n_trials=10)
    assert [t.state for t in study.trials][:3] == [ft.TrialState.COMPLETE] * 3
    assert study.trials[3].state is ft.TrialState.FAILED
    study.close()
    resumed = ft.Study(ft.RandomSearch(SPACE, seed=0), storage=journal_path)
    trial = resumed.ask()
    assert trial.point_id == 3, "the interrupted point is asked again"


def test_bad_arguments():
    with pytest.raises(InvalidArgumentError, match="direction"):
        ft.Study(ft.RandomSearch(SPACE), direction="down")
    with pytest.raises(InvalidTypeError, match="searcher"):
        ft.Study(SPACE)
    study = ft.Study(ft.RandomSearch(SPACE))
    with pytest.raises(InvalidArgumentError, match="n_trials"):
        study.optimize(quadratic, n_trials=-1)
    with pytest.raises(InvalidArgumentError, match="timeout"):
        study.optimize(quadratic, timeout=0)
    with pytest.raises(InvalidTypeError, match="catch"):
        study.optimize(quadratic, n_trials=1, catch="ValueError")
    with pytest.raises(InvalidTypeError, match="objective"):
        study.optimize(3, n_trials=1)
    with pytest.raises(ft.NoCompletedTrialError):
        _ = study.best_trial
    with pytest.raises(InvalidArgumentError):
        study.trials_in("DONE")


def test_storage_resumes_trials_and_sequence(journal_path):
    s1 = ft.Study(ft.RandomSearch(SPACE, seed=4), storage=journal_path, name="s")
    s1.optimize(quadratic, n_trials=10)
    s1.close()
    s2 = ft.Study(ft.RandomSearch(SPACE, seed=4), storage=journal_path, name="s")
    assert [t.params for t in s2.trials] == [t.params for t in s1.trials]
    assert s2.best_value == s1.best_value
    s2.optimize(quadratic, n_trials=5)
    s2.close()
    reference = ft.Study(ft.RandomSearch(SPACE, seed=4))
    reference.optimize(quadratic, n_trials=15)
    assert [t.params for t in s2.trials] == [t.params for t in reference.trials]


def test_resume_marks_orphans_failed_and_requeues(journal_path):
    study = ft.Study(ft.RandomSearch(SPACE, seed=4), storage=journal_path)
    study.optimize(quadratic, n_trials=2)
    orphan = study.ask()  # the driver "dies" with this trial running
    study.close()
    resumed = ft.Study(ft.RandomSearch(SPACE, seed=4), storage=journal_path)
    assert resumed.trials[orphan.number].state is ft.TrialState.FAILED
    assert "driver stopped" in resumed.trials[orphan.number].error
    assert resumed.ask().params == orphan.params


def test_grid_resume_never_repeats_a_point(journal_path):
    grid = {"a": list(range(6))}
    study = ft.Study(ft.GridSearch(grid, shuffle=True), storage=journal_path)
    study.optimize(lambda t: t.params["a"], n_trials=3)
    study.ask()
    study.close()
    resumed = ft.Study(ft.GridSearch(grid, shuffle=True), storage=journal_path)
    resumed.optimize(lambda t: t.params["a"], n_trials=100)
    done = [t.params["a"] for t in resumed.trials if t.state is ft.TrialState.COMPLETE]
    assert sorted(done) == list(range(6))


def test_resume_with_a_different_searcher_or_direction_is_refused(journal_path):
    ft.Study(ft.RandomSearch(SPACE, seed=1), storage=journal_path).close()
    with pytest.raises(StateError, match="different searcher") as e:
        ft.Study(ft.RandomSearch(SPACE, seed=2), storage=journal_path)
    # The message says what differs, however long the space is.
    assert "seed: stored 1, given 2" in str(e.value)
    assert "space" not in str(e.value)
    with pytest.raises(StateError, match="kind: stored 'random', given 'grid'"):
        ft.Study(ft.GridSearch({"x": [1, 2]}), storage=journal_path)
    with pytest.raises(InvalidArgumentError, match="direction"):
        ft.Study(ft.RandomSearch(SPACE, seed=1), storage=journal_path, direction="maximize")


def test_reopening_in_the_same_process_closes_the_earlier_study(journal_path):
    # A notebook cell run twice: the new Study takes over, the earlier one stops writing.
    first = ft.Study(ft.RandomSearch(SPACE), storage=journal_path)
    first.optimize(quadratic, n_trials=2)
    with pytest.warns(UserWarning, match="already open for writing in this process"):
        second = ft.Study(ft.RandomSearch(SPACE), storage=journal_path)
    assert len(second.trials) == 2
    with pytest.raises(StorageError, match="closed"):
        first.optimize(quadratic, n_trials=1)
    second.optimize(quadratic, n_trials=1)
    second.close()
    ft.Study(ft.RandomSearch(SPACE), storage=journal_path).close()  # no warning once closed


def test_storage_that_is_not_a_journal(tmp_path):
    text = tmp_path / "notes.txt"
    text.write_text("not a database at all, just words")
    with pytest.raises(NotAJournalError):
        ft.Study(ft.RandomSearch(SPACE), storage=text)
    other = tmp_path / "other.db"
    con = sqlite3.connect(other)
    con.execute("CREATE TABLE people (name TEXT)")
    con.commit()
    con.close()
    with pytest.raises(NotAJournalError, match="without ferrotune's tables"):
        ft.Study(ft.RandomSearch(SPACE), storage=other)
    with pytest.raises(InvalidTypeError, match="storage"):
        ft.Study(ft.RandomSearch(SPACE), storage=3)
    with pytest.raises(StorageError, match="does not exist; create it first"):
        ft.Study(ft.RandomSearch(SPACE), storage=tmp_path / "no" / "such" / "s.db")
    assert text.read_text() == "not a database at all, just words"


def test_load_study_and_missing_names(journal_path):
    s = ft.Study(ft.RandomSearch(SPACE, seed=0), storage=journal_path, name="alpha")
    s.optimize(quadratic, n_trials=4)
    s.close()
    loaded = ft.load_study(journal_path)
    assert loaded.name == "alpha" and len(loaded.trials) == 4
    with pytest.raises(ft.SearchExhausted):
        loaded.ask()
    assert loaded.best_value == s.best_value
    with pytest.raises(StudyNotFoundError, match="beta"):
        ft.load_study(journal_path, name="beta")
    with pytest.raises(StorageError, match="does not exist"):
        ft.load_study(journal_path.parent / "missing.db")
    empty = journal_path.parent / "empty.db"
    empty.touch()
    with pytest.raises(NotAJournalError, match="it is empty"):
        ft.load_study(empty)
    with pytest.raises(NotAJournalError, match="it is a directory"):
        ft.load_study(journal_path.parent)
    with pytest.raises(InvalidTypeError, match="name must be a string, got 3"):
        ft.load_study(journal_path, name=3)


def test_params_that_cannot_be_stored_fail_clearly(journal_path):
    study = ft.Study(ft.GridSearch({"f": [object()]}), storage=journal_path)
    with pytest.raises(StorageError, match="JSON"):
        study.optimize(lambda t: 1.0, n_trials=1)


def test_intermediate_values_and_attrs_are_stored(journal_path):
    def objective(trial):
        for step in range(3):
            trial.report(step, 1.0 / (step + 1))
        trial.set_attr("note", {"k": [1, 2]})
        return 0.1

    s = ft.Study(ft.RandomSearch(SPACE, seed=0), storage=journal_path)
    s.optimize(objective, n_trials=2)
    s.close()
    t = ft.load_study(journal_path).trials[1]
    assert t.intermediate == {0: 1.0, 1: 0.5, 2: pytest.approx(1 / 3)}
    assert t.attrs == {"note": {"k": [1, 2]}}
    with pytest.raises(InvalidTypeError):
        t.report(0, "x")


def test_to_dataframe_flattens_nested_params():
    space = {"m": ft.Choice([{"kind": "a", "p": ft.Float(0, 1)}]), "x": ft.Float(0, 1)}
    study = ft.Study(ft.RandomSearch(space, seed=0))
    study.optimize(lambda t: t.params["x"], n_trials=3)
    df = study.to_dataframe()
    assert list(df["number"]) == [0, 1, 2]
    assert {"params.m.kind", "params.m.p", "params.x", "value", "state"} <= set(df.columns)
    assert math.isclose(df["value"].min(), study.best_value)


def test_finished_trials_are_kept_compact_and_rebuilt_equal():
    study = ft.Study(ft.RandomSearch(SPACE, seed=0))
    study.optimize(quadratic, n_trials=20)
    first, again = study.trials, study.trials
    assert first == again and first[3] is not again[3]
    assert all(type(entry) is tuple for entry in study._trials if entry is not study.best_trial)
    assert study.best_trial in first
    running = study.ask()
    assert study.trials[-1] is running
    study.tell(running, 0.0)
    assert study.best_trial is running


def test_a_dropped_study_is_freed_without_the_cycle_collector():
    # Finished trials let go of their study, so reference counting alone frees a study and
    # all its records (a study -> best trial -> study cycle used to wait for a full GC).
    import gc
    import weakref

    gc.disable()
    try:
        study = ft.Study(ft.RandomSearch(SPACE, seed=0))
        study.optimize(quadratic, n_trials=20)
        pruned = study.ask()
        study.tell(pruned, state="PRUNED")
        best = study.best_trial
        ref = weakref.ref(study)
        del study
        assert ref() is None
        assert best.value is not None  # a kept trial stays usable on its own
    finally:
        gc.enable()


def test_a_finished_trial_told_again_is_refused_as_finished_also_after_compaction():
    study = ft.Study(ft.RandomSearch(SPACE, seed=0))
    first, second = study.ask(), study.ask()
    study.tell(first, 5.0)
    study.tell(second, 1.0)  # the best: first is now kept only as a record
    for trial in (first, second):
        with pytest.raises(TrialStateError, match="already finished"):
            study.tell(trial, 0.0)
    other = ft.Study(ft.RandomSearch(SPACE, seed=1))
    with pytest.raises(TrialStateError, match="does not belong"):
        other.tell(first, 0.0)


def test_a_pickled_copy_of_a_running_trial_finishes_the_original_once():
    import pickle

    study = ft.Study(ft.RandomSearch(SPACE, seed=0))
    original = study.ask()
    copy = pickle.loads(pickle.dumps(original))
    told = study.tell(copy, 2.0)
    assert told is original and original.state is ft.TrialState.COMPLETE
    assert original.value == 2.0 and copy.state is ft.TrialState.RUNNING
    for again in (original, copy):
        with pytest.raises(TrialStateError, match="already finished"):
            study.tell(again, 1.0)
    assert [t.value for t in study.trials] == [2.0]
    changed = pickle.loads(pickle.dumps(study.ask()))
    changed.set_attr("note", "x")
    with pytest.raises(TrialStateError, match="does not belong"):
        study.tell(changed, 1.0)


def test_a_value_that_is_not_a_number_fails_the_trial_durably(journal_path):
    study = ft.Study(ft.RandomSearch(SPACE, seed=0), storage=journal_path)
    trial = study.ask()
    with pytest.raises(InvalidTypeError):
        study.tell(trial, "abc")
    study.close()
    stored = ft.load_study(journal_path).trials
    assert [t.state for t in stored] == [ft.TrialState.FAILED]
    assert "abc" in stored[0].error


def test_finished_records_are_off_the_cycle_collectors_list_unless_they_hold_containers():
    import gc

    study = ft.Study(ft.RandomSearch(SPACE, seed=0))
    flat, nested, best = study.ask(), study.ask(), study.ask()
    nested.set_attr("folds", [0.5, 0.6])  # a list: the record could join a cycle
    study.tell(flat, 3.0)
    study.tell(nested, 2.0)
    study.tell(best, 1.0)
    assert not gc.is_tracked(study._trials[0])
    assert gc.is_tracked(study._trials[1])
    assert study.trials[1].attrs == {"folds": [0.5, 0.6]}


def test_a_study_dropped_with_a_running_trial_is_collected():
    # study -> trial list -> running trial -> study: a cycle through the Rust base class,
    # which the cycle collector must be able to see and break.
    import gc
    import weakref

    study = ft.Study(ft.RandomSearch(SPACE, seed=0))
    running = study.ask()
    running.set_attr("me", running)  # and a cycle through the trial itself
    ref, trial_ref = weakref.ref(study), weakref.ref(running)
    del study, running
    gc.collect()
    assert ref() is None and trial_ref() is None


def test_trials_pickle_and_copy_without_their_study():
    import copy
    import pickle

    study = ft.Study(ft.RandomSearch(SPACE, seed=0))
    trial = study.ask()
    trial.report(1, 0.25)
    trial.set_attr("note", "first")
    for clone in (pickle.loads(pickle.dumps(trial)), copy.copy(trial)):
        assert clone == trial and clone is not trial
        assert clone._study is None and trial._study is study
        assert clone.state is ft.TrialState.RUNNING
        assert clone.intermediate == {1: 0.25} and clone.attrs == {"note": "first"}
        assert clone._t0 == trial._t0
    study.tell(trial, 1.0)
    assert pickle.loads(pickle.dumps(trial)).value == 1.0


def test_a_searcher_written_in_python_drives_the_study():
    class Halving(ft.search.Searcher):
        def __init__(self):
            self.told = []
            self.next = 0

        def ask(self):
            self.next += 1
            return (self.next, {"x": 1.0 / self.next}) if self.next <= 3 else None

        @property
        def exhausted(self):
            return self.next > 3

        def tell(self, point_id, value, gradient=None):
            self.told.append((point_id, value))

        def config(self):
            return {"kind": "halving"}

    searcher = Halving()
    study = ft.Study(searcher)
    study.optimize(lambda t: t.params["x"], n_trials=10)
    assert searcher.told == [(1, 1.0), (2, 0.5), (3, 1.0 / 3)]
    assert study.best_params == {"x": 1.0 / 3}
    with pytest.raises(ft.SearchExhausted, match="every point"):
        study.ask()


@pytest.mark.parametrize(
    "finish", [lambda s, t: s.tell(t, state="PRUNED"), lambda s, t: s.tell(t, ValueError("x"))]
)
def test_a_searcher_that_refuses_a_tell_leaves_the_trial_running(finish):
    class Picky(ft.search.Searcher):
        refuse = True

        def ask(self):
            return 0, {"x": 1.0}

        def tell(self, point_id, value, gradient=None):
            if self.refuse:
                raise RuntimeError("not now")

        def config(self):
            return {"kind": "picky"}

    searcher = Picky()
    study = ft.Study(searcher)
    trial = study.ask()
    with pytest.raises(RuntimeError, match="not now"):
        finish(study, trial)
    assert trial.state is ft.TrialState.RUNNING and trial.error is None
    searcher.refuse = False
    finish(study, trial)
    assert trial.state is not ft.TrialState.RUNNING
    assert study.trials[0].state is trial.state


def test_a_searcher_proposing_something_else_than_a_pair_is_a_clear_error():
    class Broken(ft.search.Searcher):
        def ask(self):
            return {"x": 1.0}

        def config(self):
            return {"kind": "broken"}

    study = ft.Study(Broken())
    with pytest.raises(InvalidTypeError, match=r"searcher's ask\(\).*\{'x': 1.0\}"):
        study.ask()
    assert study.trials == []


def test_a_restored_random_search_draws_under_the_restored_seed():
    one, two = ft.RandomSearch(SPACE, seed=1), ft.RandomSearch(SPACE, seed=2)
    study = ft.Study(two)
    study.ask()  # the sampler is now set up for seed 2
    one.ask()
    two.restore(one.state())
    assert study.ask().params == ft.RandomSearch(SPACE, seed=1).space.sample(2, seed=1)[1]


def test_state_names_are_taken_in_any_case():
    study = ft.Study(ft.RandomSearch(SPACE, seed=0))
    trial = study.ask()
    trial.report(0, 2.0)
    study.tell(trial, state="pruned")
    assert trial.state is ft.TrialState.PRUNED and trial.value == 2.0
    assert study.trials_in("Pruned") == [trial]
    with pytest.raises(InvalidArgumentError, match="state must be one of.*'stopped'"):
        study.trials_in("stopped")


def test_an_empty_study_gives_a_dataframe_with_the_usual_columns():
    df = ft.Study(ft.RandomSearch(SPACE, seed=0)).to_dataframe()
    assert len(df) == 0
    assert list(df.columns) == ["number", "state", "value", "start", "duration", "error"]


def test_a_trial_pickled_by_an_earlier_version_loads():
    # Earlier versions pickled Trial as a Python class: Trial.__new__(Trial), then its state.
    import pickle

    old = pickle.dumps(ft.Trial(3, {"x": 1.0}, 7, 12.5))
    trial = ft.Trial.__new__(ft.Trial)
    trial.__setstate__({"number": 3, "params": {"x": 1.0}, "point_id": 7, "start": 12.5})
    assert trial == pickle.loads(old)
    assert trial.params == {"x": 1.0} and trial.state is ft.TrialState.RUNNING


def test_what_goes_into_a_finished_trials_attrs_later_does_not_reach_the_study():
    import gc
    import weakref

    def run():
        study = ft.Study(ft.RandomSearch(SPACE, seed=0))

        def keep_study(st, tr):
            tr.attrs["study"] = st  # a cycle, made after the trial was filed

        study.optimize(
            lambda t: (t.set_attr("a", 1), t.params["x"])[1], n_trials=3, callbacks=[keep_study]
        )
        assert all("study" not in t.attrs for t in study.trials)
        return weakref.ref(study)

    ref = run()
    gc.collect()
    assert ref() is None


def test_a_python_searcher_may_propose_a_list_pair():
    class Listing(ft.search.Searcher):
        def __init__(self, reply):
            self.reply = reply

        def ask(self):
            return self.reply

        def tell(self, point_id, value, gradient=None):
            pass

        def config(self):
            return {"kind": "listing"}

    assert ft.Study(Listing([0, {"x": 0.5}])).ask().params == {"x": 0.5}
    with pytest.raises(InvalidTypeError, match=r"a \(point_id, params\) pair or None, got 'ab'"):
        ft.Study(Listing("ab")).ask()


def test_max_trials_callback_takes_state_names_in_any_case():
    assert ft.MaxTrialsCallback(5, states=("complete",)).states == {ft.TrialState.COMPLETE}


def test_an_objective_returning_none_fails_its_trial_which_catch_can_cover():
    study = ft.Study(ft.RandomSearch(SPACE, seed=0))
    study.optimize(lambda t: None, n_trials=3, catch=InvalidArgumentError)
    assert [t.state for t in study.trials] == [ft.TrialState.FAILED] * 3
    assert "value must be the objective's value" in study.trials[0].error
    with pytest.raises(InvalidArgumentError, match="got None"):
        study.optimize(lambda t: None, n_trials=1)
    assert study.trials[-1].state is ft.TrialState.FAILED


def test_a_wrong_argument_count_names_the_study_class():
    study = ft.Study(ft.RandomSearch(SPACE, seed=0))
    with pytest.raises(TypeError, match=r"^Study\.ask\(\)"):
        study.ask(1)
    with pytest.raises(TypeError, match=r"^Study\.tell\(\) missing .* 'trial'"):
        study.tell()


def test_a_tell_whose_journal_write_fails_leaves_the_trial_running(journal_path, monkeypatch):
    study = ft.Study(ft.RandomSearch(SPACE, seed=0), storage=journal_path)
    first = study.ask()
    study.tell(first, 1.0)
    second, third = study.ask(), study.ask()

    def disk_full(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(study._journal, "write", disk_full)
    for finish in (lambda: study.tell(second, 0.5), lambda: study.tell(third, state="PRUNED")):
        with pytest.raises(OSError, match="disk full"):
            finish()
    for trial in (second, third):
        assert trial.state is ft.TrialState.RUNNING
        assert trial.value is None and trial.duration is None
    assert study.best_trial is first
    assert [t.state.value for t in study.trials] == ["COMPLETE", "RUNNING", "RUNNING"]
    monkeypatch.undo()
    study.tell(second, 0.5)
    study.tell(third, state="PRUNED")
    assert study.best_trial is second
    study.close()
    stored = ft.load_study(journal_path).trials
    assert [(t.state.value, t.value) for t in stored] == [
        ("COMPLETE", 1.0),
        ("COMPLETE", 0.5),
        ("PRUNED", None),
    ]


@pytest.mark.parametrize("searcher", ["random", "python"])
def test_a_copy_of_a_running_trial_whose_params_changed_in_place_is_still_that_trial(searcher):
    import copy
    import pickle

    class Counting(ft.search.Searcher):
        def __init__(self):
            self.next = 0

        def ask(self):
            self.next += 1
            return self.next, {"x": float(self.next), "layers": [8]}

        def tell(self, point_id, value, gradient=None):
            pass

        def config(self):
            return {"kind": "counting"}

    made = ft.RandomSearch(SPACE, seed=0) if searcher == "random" else Counting()
    study = ft.Study(made)
    for clone in (lambda t: pickle.loads(pickle.dumps(t)), copy.copy):
        original = study.ask()
        proposed = dict(original.params)
        original.params["x"] = 123.0  # in place: not recorded
        twin = clone(original)
        assert twin == original and twin._recorded_params == proposed
        assert study.tell(twin, 1.0) is original
        assert study.trials[original.number].params == proposed
