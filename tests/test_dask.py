"""Trials on real Dask clusters started here on 127.0.0.1: a LocalCluster of worker processes,
and a scheduler plus workers started as separate processes. Workers are killed mid-study."""

from __future__ import annotations

import os
import pathlib
import signal
import subprocess
import sys
import threading
import time

import _objectives as obj
import pytest

import ferrotune as ft

distributed = pytest.importorskip("distributed")

pytestmark = [pytest.mark.dask, pytest.mark.timeout(120)]

HERE = pathlib.Path(__file__).parent
SPACE = {"x": ft.Float(-1, 1), "k": ft.Int(0, 5)}


def _outcome(study):
    return sorted(
        (t.number, t.point_id, tuple(sorted(t.params.items())), t.state.value, t.value)
        for t in study.trials
    )


def space_points(space, seed, n):
    searcher = ft.RandomSearch(space, seed=seed)
    return [searcher.ask()[1] for _ in range(n)]


def _stop_by_pid(pids):
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


@pytest.fixture(scope="module")
def local_client():
    os.environ["PYTHONPATH"] = os.pathsep.join(
        [str(HERE), *filter(None, [os.environ.get("PYTHONPATH")])]
    )
    import dask

    # A task whose worker dies is KilledWorker at once, so that ferrotune's retries are used.
    with dask.config.set({"distributed.scheduler.allowed-failures": 0}):
        cluster = distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            host="127.0.0.1",
        )
    client = distributed.Client(cluster)
    pids = set(client.run(os.getpid).values())
    try:
        yield client
    finally:
        pids |= set(client.run(os.getpid).values())
        client.close()
        cluster.close()
        _stop_by_pid(pids)


def _kill_a_worker_after(client, study, n_done):
    """Kills one Dask worker process once `n_done` trials have finished."""
    victim = {}

    def watch():
        while len([t for t in study.trials if t.finished]) < n_done:
            time.sleep(0.01)
        pid = next(iter(client.run(os.getpid).values()))
        os.kill(pid, signal.SIGKILL)
        victim["pid"] = pid

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    return thread, victim


def test_dask_gives_the_same_trials_as_one_process(local_client):
    one = ft.Study(ft.RandomSearch(SPACE, seed=11))
    one.optimize(obj.quadratic, n_trials=20)
    dask = ft.Study(ft.RandomSearch(SPACE, seed=11))
    dask.optimize(obj.quadratic, n_trials=20, executor=local_client.get_executor())
    assert _outcome(one) == _outcome(dask)


def test_pruning_and_lambdas_on_dask(local_client):
    pruner = obj.LowIsHopeless(limit=0.5)
    study = ft.Study(ft.RandomSearch({"x": ft.Float(0, 1)}, seed=3), pruner=pruner)
    study.optimize(obj.reporting, n_trials=10, executor=local_client)  # a Client is accepted
    for t in study.trials:
        assert t.state is (
            ft.TrialState.COMPLETE if t.params["x"] * 4 <= 0.5 else ft.TrialState.PRUNED
        )
    # Dask sends functions with cloudpickle: a lambda works there.
    study.optimize(lambda t: 1.0, n_trials=2, executor=local_client.get_executor())
    assert len(study.trials) == 12


def test_killed_worker_is_retried_then_recorded_as_an_infrastructure_failure(local_client):
    # A seed where only the last of 6 trials (x < 0.2) kills its worker, every time it runs.
    space = {"x": ft.Float(0, 1)}
    seed = next(
        s
        for s in range(1000)
        if [p["x"] < 0.2 for p in space_points(space, s, 6)] == [0] * 5 + [1]
    )
    study = ft.Study(ft.RandomSearch(space, seed=seed))
    # n_jobs=2: one trial per worker at a time. Dask charges a worker's death to every task
    # assigned to it, queued ones included; a deeper queue would charge innocent trials more.
    study.optimize(
        obj.dies_below,
        n_trials=6,
        executor=local_client.get_executor(),
        n_jobs=2,
        max_retries=2,
    )
    assert len(study.trials) == 6
    (dead,) = [t for t in study.trials if t.params["x"] < 0.2]
    assert dead.number == 5 and dead.state is ft.TrialState.FAILED
    assert "WorkerLostError" in dead.error and "KilledWorker" in dead.error
    assert "3 time(s)" in dead.error and dead.attrs["ferrotune.retries"] == 2
    assert len(study.trials_in("COMPLETE")) == 5
    local_client.wait_for_workers(2, timeout=30)


def test_a_killed_local_cluster_worker_leaves_the_study_running(local_client, tmp_path):
    study = ft.Study(ft.RandomSearch(SPACE, seed=4), storage=tmp_path / "s.db")
    thread, victim = _kill_a_worker_after(local_client, study, 5)
    study.optimize(obj.sleepy, n_trials=40, executor=local_client.get_executor())
    thread.join(timeout=10)
    assert victim, "no worker was killed"
    assert len(study.trials_in("COMPLETE")) == 40
    local_client.wait_for_workers(2, timeout=30)


@pytest.fixture
def cli_cluster(tmp_path):
    """`dask scheduler` and `dask worker` as separate processes on 127.0.0.1."""
    env = dict(os.environ, PYTHONPATH=str(HERE))
    file = tmp_path / "scheduler.json"
    procs = []
    pids: set[int] = set()  # worker processes, stopped by id at the end
    try:
        procs.append(
            subprocess.Popen(
                [sys.executable, "-m", "dask", "scheduler", "--host", "127.0.0.1", "--port",
                 "0", "--no-dashboard", "--scheduler-file", str(file)],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )  # fmt: skip
        deadline = time.time() + 30
        while not file.exists() and time.time() < deadline:
            time.sleep(0.05)
        procs.append(
            subprocess.Popen(
                [sys.executable, "-m", "dask", "worker", "--scheduler-file", str(file),
                 "--nworkers", "2", "--nthreads", "1", "--host", "127.0.0.1",
                 "--no-dashboard"],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )  # fmt: skip
        client = distributed.Client(scheduler_file=str(file), timeout=30)
        client.wait_for_workers(2, timeout=30)
        pids |= set(client.run(os.getpid).values())
        try:
            yield client
        finally:
            pids |= set(client.run(os.getpid).values())
            client.shutdown()  # the scheduler, and the workers with their nannies
            client.close()
    finally:
        for p in reversed(procs):
            p.terminate()
        for p in reversed(procs):
            try:
                p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        _stop_by_pid(pids)


def test_a_scheduler_and_workers_as_processes(cli_cluster, tmp_path):
    assert cli_cluster.scheduler.address.startswith("tcp://127.0.0.1:")
    study = ft.Study(ft.RandomSearch(SPACE, seed=4), storage=tmp_path / "s.db")
    thread, victim = _kill_a_worker_after(cli_cluster, study, 5)
    study.optimize(obj.sleepy, n_trials=40, executor=cli_cluster.get_executor())
    thread.join(timeout=10)
    assert victim
    assert len(study.trials_in("COMPLETE")) == 40
    reference = ft.Study(ft.RandomSearch(SPACE, seed=4))
    reference.optimize(obj.sleepy, n_trials=40)
    assert _outcome(study) == _outcome(reference)
