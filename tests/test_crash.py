"""Crash safety: a driver killed with SIGKILL loses no finished trial, and a resumed study ends
with exactly the trials asked for; one writer per journal; incompatible journals refused."""

from __future__ import annotations

import os
import pathlib
import random
import signal
import sqlite3
import subprocess
import sys
import time

import pytest

import ferrotune as ft
from ferrotune.errors import IncompatibleJournalError, StorageError

HERE = pathlib.Path(__file__).parent


def _start(script: str, *args: str) -> subprocess.Popen[str]:
    env = dict(os.environ, PYTHONPATH=str(HERE))
    proc = subprocess.Popen(
        [sys.executable, str(HERE / script), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if line.strip() != "ready":
        proc.kill()
        _, err = proc.communicate(timeout=10)  # reads and closes both pipes
        raise AssertionError(f"{script} did not start: {line!r} {err}")
    return proc


def _kill(proc: subprocess.Popen[str]) -> None:
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)
    proc.stdout.close()  # type: ignore[union-attr]
    proc.stderr.close()  # type: ignore[union-attr]


def _processes_with(text: str) -> list[int]:
    pids = []
    for entry in pathlib.Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if text in (entry / "cmdline").read_text():
                    pids.append(int(entry.name))
            except OSError:
                pass
    return pids


def _completed(path: pathlib.Path) -> set[tuple[int, int, float]]:
    study = ft.load_study(path)
    return {
        (t.number, t.point_id, t.value) for t in study.trials if t.state is ft.TrialState.COMPLETE
    }


def test_a_second_live_driver_is_refused(journal_path):
    holder = _start("_hold_journal.py", str(journal_path))
    try:
        with pytest.raises(StorageError, match="another live study driver"):
            ft.Study(ft.RandomSearch({"x": ft.Float(0, 1)}, seed=0), storage=journal_path)
        # Readers need no lock.
        assert ft.load_study(journal_path).trials == []
    finally:
        _kill(holder)
    # The kernel released the dead driver's lock.
    study = ft.Study(ft.RandomSearch({"x": ft.Float(0, 1)}, seed=0), storage=journal_path)
    study.optimize(lambda t: t.params["x"], n_trials=2)
    study.close()


def test_an_incompatible_journal_is_refused(journal_path):
    study = ft.Study(ft.RandomSearch({"x": ft.Float(0, 1)}, seed=0), storage=journal_path)
    study.optimize(lambda t: t.params["x"], n_trials=2)
    study.close()
    with sqlite3.connect(journal_path) as db:
        db.execute("UPDATE meta SET value = '99' WHERE key = 'format'")
    db.close()
    with pytest.raises(IncompatibleJournalError, match="99") as info:
        ft.Study(ft.RandomSearch({"x": ft.Float(0, 1)}, seed=0), storage=journal_path)
    assert isinstance(info.value, StorageError)
    with pytest.raises(IncompatibleJournalError):
        ft.load_study(journal_path)


@pytest.mark.parametrize("n_jobs", [2, pytest.param(1, marks=pytest.mark.slow)])
def test_killed_drivers_lose_nothing_and_resume_to_exactly_n(journal_path, n_jobs):
    total = 60  # every point of the driver's grid
    rng = random.Random(n_jobs)
    seen: set[tuple[int, int, float]] = set()
    kills = 0
    for _ in range(3):
        proc = _start("_crash_driver.py", str(journal_path), str(n_jobs), str(total))
        time.sleep(rng.uniform(0.05, 0.5))
        if proc.poll() is not None:
            # It finished before the kill: collect its output so that its pipes are closed.
            proc.communicate(timeout=10)
            break
        _kill(proc)
        kills += 1
        if n_jobs > 1 and sys.platform == "linux":
            # The dead driver's worker processes notice and end.
            deadline = time.time() + 5
            while _processes_with(str(journal_path)) and time.time() < deadline:
                time.sleep(0.05)
            assert not _processes_with(str(journal_path)), "orphaned workers kept running"
        now = _completed(journal_path)
        assert seen <= now, "a completed trial was lost"
        seen = now
    assert kills >= 2

    proc = _start("_crash_driver.py", str(journal_path), str(n_jobs), str(total))
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert "done" in out

    study = ft.load_study(journal_path)
    complete = [t for t in study.trials if t.state is ft.TrialState.COMPLETE]
    assert seen <= {(t.number, t.point_id, t.value) for t in complete}
    assert len(complete) == total
    assert sorted(t.point_id for t in complete) == list(range(total)), "a grid point repeated"
    assert not study.trials_in("RUNNING")
    for t in study.trials_in("FAILED"):
        assert "driver stopped" in t.error
    # The values are those of the points: nothing was mixed up on the way.
    for t in complete:
        assert t.value == t.params["a"] * 10 + t.params["b"]
    # A further run with the same budget has nothing to do.
    proc = _start("_crash_driver.py", str(journal_path), str(n_jobs), str(total))
    proc.communicate(timeout=60)
    assert len(ft.load_study(journal_path).trials) == len(study.trials)


def test_ctrl_c_keeps_every_finished_trial_and_requeues_the_running_ones(journal_path):
    proc = _start("_crash_driver.py", str(journal_path), "2", "60")
    time.sleep(0.8)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "done" in out
    study = ft.load_study(journal_path)
    assert not study.trials_in("RUNNING")
    interrupted = [t for t in study.trials_in("FAILED") if "interrupted" in t.error]
    assert all(t.state is ft.TrialState.COMPLETE for t in study.trials if t not in interrupted)
    # Resumed, the interrupted points are run again and the grid completes exactly.
    proc = _start("_crash_driver.py", str(journal_path), "2", "60")
    proc.communicate(timeout=60)
    complete = ft.load_study(journal_path).trials_in("COMPLETE")
    assert sorted(t.point_id for t in complete) == list(range(60))


@pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning")
def test_forked_children_do_not_keep_the_journal_locked(journal_path):
    import concurrent.futures as cf
    import multiprocessing as mp

    space = {"x": ft.Float(0, 1)}
    study = ft.Study(ft.RandomSearch(space, seed=0), storage=journal_path)
    with cf.ProcessPoolExecutor(1, mp_context=mp.get_context("fork")) as pool:
        child = pool.submit(time.sleep, 1.5)  # forks now, while the journal is open
        time.sleep(0.3)
        study.close()
        # The child is alive and holds no lock: a new driver may open the journal.
        again = ft.Study(ft.RandomSearch(space, seed=0), storage=journal_path)
        assert not child.done()
        again.close()
        child.result()
