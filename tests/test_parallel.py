"""Trials in parallel: local worker processes, any executor, faults, pruning, budgets."""

from __future__ import annotations

import concurrent.futures as cf
import logging
import multiprocessing as mp

import _objectives as obj
import pytest

import ferrotune as ft
from ferrotune.errors import FerrotuneError, InvalidArgumentError, InvalidTypeError
from ferrotune.parallel import UnpicklableObjectiveError

SPACE = {"x": ft.Float(-1, 1), "k": ft.Int(0, 5)}


def _study(seed=7, **kw):
    return ft.Study(ft.RandomSearch(SPACE, seed=seed), **kw)


def _outcome(study):
    return sorted(
        (t.number, t.point_id, tuple(sorted(t.params.items())), t.state.value, t.value)
        for t in study.trials
    )


@pytest.fixture
def process_pool():
    ctx = mp.get_context("forkserver")
    with cf.ProcessPoolExecutor(2, mp_context=ctx) as pool:
        yield pool


def test_results_do_not_depend_on_the_number_of_workers(process_pool):
    one = _study()
    one.optimize(obj.quadratic, n_trials=24)
    two = _study()
    two.optimize(obj.quadratic, n_trials=24, n_jobs=2)
    pool = _study()
    pool.optimize(obj.quadratic, n_trials=24, executor=process_pool)
    with cf.ThreadPoolExecutor(3) as threads:
        thr = _study()
        thr.optimize(obj.quadratic, n_trials=24, executor=threads)
    assert len(one.trials) == 24
    assert _outcome(one) == _outcome(two) == _outcome(pool) == _outcome(thr)
    assert one.best_trial.number == two.best_trial.number


@pytest.mark.parametrize("method", ["fork", "forkserver", "spawn"])
def test_every_start_method_gives_the_same_trials(monkeypatch, method):
    monkeypatch.setenv("FERROTUNE_START_METHOD", method)
    one = _study()
    one.optimize(obj.quadratic, n_trials=6)
    two = _study()
    two.optimize(obj.quadratic, n_trials=6, n_jobs=2)
    assert _outcome(one) == _outcome(two)


def test_a_grid_runs_every_point_once_in_parallel(tmp_path):
    grid = ft.GridSearch({"a": [0, 1, 2, 3], "b": [0.5, 1.5, 2.5]})
    study = ft.Study(grid, storage=tmp_path / "g.db")
    study.optimize(obj.slow_grid, n_jobs=2)
    points = [t.point_id for t in study.trials]
    assert sorted(points) == list(range(12))
    assert all(t.state is ft.TrialState.COMPLETE for t in study.trials)
    study.close()
    again = ft.load_study(tmp_path / "g.db")
    assert sorted(t.value for t in again.trials) == sorted(t.value for t in study.trials)


def test_n_trials_counts_trials_in_flight(tmp_path):
    study = _study(storage=tmp_path / "s.db")
    study.optimize(obj.sleepy, n_trials=7, n_jobs=2)
    assert len(study.trials) == 7
    study.optimize(obj.sleepy, n_trials=3, n_jobs=2)
    assert len(study.trials) == 10
    assert [t.number for t in study.trials] == list(range(10))
    assert all(t.duration is not None and t.duration >= 0.01 for t in study.trials)


def test_objective_errors_are_recorded_and_raised():
    study = _study(seed=1)
    with pytest.raises(ValueError, match="is negative") as info:
        study.optimize(obj.fails_below, n_trials=30, n_jobs=2)
    raised = [t for t in study.trials_in("FAILED") if "ValueError" in t.error]
    assert len(raised) == 1
    assert "fails_below" in raised[0].error and raised[0].params["x"] < 0
    assert "Traceback in the worker" in str(info.value.__cause__)
    # Trials in flight when it raised are failed, their points requeued for a resumed study.
    assert not study.trials_in("RUNNING")
    for t in study.trials_in("FAILED"):
        assert t == raised[0] or "point requeued" in t.error


def test_caught_objective_errors_let_the_study_go_on():
    study = _study(seed=1)
    study.optimize(obj.fails_below, n_trials=30, n_jobs=2, catch=ValueError)
    assert len(study.trials) == 30
    failed = study.trials_in("FAILED")
    assert failed and all("is negative" in t.error for t in failed)
    assert all(t.params["x"] >= 0 for t in study.trials_in("COMPLETE"))


def test_an_unpicklable_exception_comes_back_as_a_stand_in():
    study = _study()
    with pytest.raises(ft.parallel.RemoteObjectiveError, match="Unpicklable: 1/2"):
        study.optimize(obj.raises_unpicklable, n_trials=2, n_jobs=2)


def test_lambda_objective_gets_a_clear_error():
    study = _study()
    with pytest.raises(UnpicklableObjectiveError, match="top level of a module") as info:
        study.optimize(lambda t: 1.0, n_trials=2, n_jobs=2)
    assert "__main__" in str(info.value) and "lambda" in str(info.value)
    assert isinstance(info.value, TypeError)
    assert study.trials == []

    def local(trial):
        return 1.0

    with pytest.raises(UnpicklableObjectiveError, match="local"):
        study.optimize(local, n_trials=2, n_jobs=2)
    # Threads need no pickling.
    with cf.ThreadPoolExecutor(2) as threads:
        study.optimize(lambda t: 1.0, n_trials=2, executor=threads)
    assert len(study.trials_in("COMPLETE")) == 2


def test_an_objective_workers_cannot_load_is_a_clear_error(process_pool):
    from ferrotune.parallel import ObjectiveLoadError

    for kwargs in ({"n_jobs": 2}, {"executor": process_pool}):
        study = _study()
        with pytest.raises(ObjectiveLoadError, match="only_on_the_driver") as info:
            study.optimize(obj.NotLoadable(), n_trials=4, **kwargs)
        assert "top level of a module" in str(info.value)
        assert not study.trials_in("RUNNING")
    with cf.ThreadPoolExecutor(2) as threads:  # nothing to load in threads
        study.optimize(obj.NotLoadable(), n_trials=2, executor=threads)
    assert len(study.trials_in("COMPLETE")) == 2


@pytest.mark.parametrize("bad", [0, -2, 1.5, "2", True, None])
def test_bad_n_jobs(bad):
    with pytest.raises((InvalidArgumentError, InvalidTypeError), match="n_jobs") as info:
        _study().optimize(obj.quadratic, n_trials=1, n_jobs=bad)
    assert repr(bad) in str(info.value)


@pytest.mark.parametrize("bad", ["pool", object(), 4, cf.ProcessPoolExecutor])
def test_bad_executor(bad):
    with pytest.raises(InvalidTypeError, match="executor.*concurrent.futures.Executor"):
        _study().optimize(obj.quadratic, n_trials=1, executor=bad)


def test_bad_retry_and_timeout_arguments():
    study = _study()
    with pytest.raises(InvalidArgumentError, match="max_retries"):
        study.optimize(obj.quadratic, n_trials=1, max_retries=-1)
    with pytest.raises(InvalidArgumentError, match="trial_timeout"):
        study.optimize(obj.quadratic, n_trials=1, trial_timeout=0)
    with pytest.raises(InvalidTypeError, match="trial_timeout"):
        study.optimize(obj.quadratic, n_trials=1, trial_timeout="1s")
    with pytest.raises(InvalidArgumentError, match="n_trials"):
        ft.MaxTrialsCallback(-1)
    with pytest.raises(InvalidArgumentError, match="states"):
        ft.MaxTrialsCallback(3, states=("DONE",))


def test_a_shut_down_executor_is_a_clear_error():
    pool = cf.ThreadPoolExecutor(1)
    pool.shutdown()
    with pytest.raises(FerrotuneError, match="shut down"):
        _study().optimize(obj.quadratic, n_trials=2, executor=pool)


def test_reports_and_pruning_cross_processes():
    pruner = obj.LowIsHopeless(limit=0.5)
    study = ft.Study(ft.RandomSearch({"x": ft.Float(0, 1)}, seed=3), pruner=pruner)
    study.optimize(obj.reporting, n_trials=16, n_jobs=2)
    assert len(study.trials) == 16
    for t in study.trials:
        x = t.params["x"]
        # The pruner (in the driver) saw every report the worker made.
        expected = [s for s in range(4) if all(x * (j + 1) <= 0.5 for j in range(s))]
        assert sorted(t.intermediate) == expected, t
        assert t.intermediate[0] == pytest.approx(x)
        if x * 4 <= 0.5:
            assert t.state is ft.TrialState.COMPLETE
        else:
            assert t.state is ft.TrialState.PRUNED
    assert study.trials_in("PRUNED") and study.trials_in("COMPLETE")
    assert pruner.calls >= 16


def test_a_dead_worker_is_retried(tmp_path):
    objective = obj.DiesOnce(str(tmp_path), every=3)
    study = _study(storage=tmp_path / "s.db")
    study.optimize(objective, n_trials=12, n_jobs=2)
    assert len(study.trials) == 12
    assert all(t.state is ft.TrialState.COMPLETE for t in study.trials)
    retried = {t.number for t in study.trials if t.attrs.get("ferrotune.retries")}
    # A trial stopped by the pool while another one broke it is re-run without a charge.
    assert retried and all(n % 3 == 0 for n in retried)
    reference = _study()
    reference.optimize(obj.quadratic, n_trials=12)
    assert [t.value for t in study.trials] == [t.value for t in reference.trials]


def test_a_worker_that_always_dies_fails_its_trial_after_retries(caplog):
    study = ft.Study(ft.RandomSearch({"x": ft.Float(0, 1)}, seed=5))
    with caplog.at_level(logging.WARNING, "ferrotune.parallel"):
        study.optimize(obj.dies_below, n_trials=12, n_jobs=2, max_retries=1)
    assert len(study.trials) == 12
    for t in study.trials:
        if t.params["x"] < 0.2:
            assert t.state is ft.TrialState.FAILED
            assert "WorkerLostError" in t.error and "2 time(s)" in t.error
            assert "BrokenProcessPool" in t.error
        else:
            # An innocent trial that shared the broken pool is run again, uncharged.
            assert t.state is ft.TrialState.COMPLETE, t
    assert "retrying" in caplog.text


def test_a_dead_worker_in_a_users_process_pool_is_retried(tmp_path):
    ctx = mp.get_context("forkserver")
    pool = cf.ProcessPoolExecutor(2, mp_context=ctx)
    try:
        study = _study()
        study.optimize(obj.DiesOnce(str(tmp_path), every=4), n_trials=8, executor=pool)
    finally:
        pool.shutdown()
    assert len(study.trials_in("COMPLETE")) == 8


def test_trial_timeout_in_workers():
    study = ft.Study(ft.RandomSearch({"x": ft.Float(0, 1)}, seed=2))
    study.optimize(obj.hangs_below, n_trials=10, n_jobs=2, trial_timeout=0.5)
    assert len(study.trials) == 10
    for t in study.trials:
        if t.params["x"] < 0.25:
            assert t.state is ft.TrialState.FAILED and "TrialTimeoutError" in t.error
        else:
            assert t.state is ft.TrialState.COMPLETE


def test_trial_timeout_in_this_process():
    study = ft.Study(ft.RandomSearch({"x": ft.Float(0, 1)}, seed=2))
    study.optimize(obj.hangs_below, n_trials=6, trial_timeout=0.2)
    assert len(study.trials) == 6
    timed_out = [t for t in study.trials if t.params["x"] < 0.25]
    assert timed_out and all("TrialTimeoutError" in t.error for t in timed_out)


def test_study_timeout_in_parallel():
    study = _study()
    study.optimize(obj.sleepy, timeout=0.3, n_jobs=2)
    assert 2 <= len(study.trials) < 200
    assert not study.trials_in("RUNNING")


def test_max_trials_callback_counts_every_run(tmp_path):
    path = tmp_path / "s.db"
    study = _study(seed=1, storage=path)
    study.optimize(obj.fails_below, catch=ValueError, callbacks=[ft.MaxTrialsCallback(5)])
    assert len(study.trials_in("COMPLETE")) == 5
    study.close()
    study = _study(seed=1, storage=path)
    study.optimize(
        obj.fails_below, catch=ValueError, n_jobs=2, callbacks=[ft.MaxTrialsCallback(11)]
    )
    assert len(study.trials_in("COMPLETE")) == 11
    # Already there: nothing more runs.
    before = len(study.trials)
    study.optimize(obj.fails_below, n_jobs=2, callbacks=[ft.MaxTrialsCallback(11)])
    study.optimize(obj.fails_below, callbacks=[ft.MaxTrialsCallback(11)])
    assert len(study.trials) == before


def test_stop_from_a_callback():
    def stop_at_four(study, trial):
        if len(study.trials_in("COMPLETE")) >= 4:
            study.stop()

    for n_jobs in (1, 2):
        study = _study()
        study.optimize(obj.quadratic, n_jobs=n_jobs, timeout=60, callbacks=[stop_at_four])
        assert 4 <= len(study.trials) <= 4 + n_jobs + 1
        assert not study.trials_in("RUNNING")


def test_progress_bar_in_parallel(capsys):
    study = _study()
    study.optimize(obj.quadratic, n_trials=4, n_jobs=2, progress="always")
    assert "4/4" in capsys.readouterr().err
