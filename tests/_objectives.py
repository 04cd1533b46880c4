"""Objectives for tests that run trials in worker processes (they must be importable there,
so they live at the top level of a module, not inside test functions)."""

from __future__ import annotations

import math
import os
import pathlib
import signal
import threading
import time

import ferrotune as ft


def quadratic(trial: ft.Trial) -> float:
    """Deterministic in the parameters."""
    p = trial.params
    return (p["x"] - 0.3) ** 2 + 0.1 * math.sin(7 * p["x"]) + p.get("k", 0) * 0.01


def sleepy(trial: ft.Trial) -> float:
    time.sleep(0.01)
    return float(trial.params["x"])


def fails_below(trial: ft.Trial) -> float:
    if trial.params["x"] < 0.0:
        raise ValueError(f"x={trial.params['x']} is negative")
    return float(trial.params["x"])


class Unpicklable(Exception):
    """An exception that cannot be pickled (it holds a lock)."""

    def __init__(self, message: str):
        super().__init__(message)
        self.lock = threading.Lock()


def raises_unpicklable(trial: ft.Trial) -> float:
    raise Unpicklable("1/2")


def reporting(trial: ft.Trial) -> float:
    """Reports 4 steps (value x * (step + 1)) and stops when the pruner says so."""
    x = float(trial.params["x"])
    for step in range(4):
        trial.report(step, x * (step + 1))
        if trial.should_prune():
            raise ft.TrialPruned()
    return x


def dies_below(trial: ft.Trial) -> float:
    """The worker process dies (SIGKILL) whenever x < 0.2."""
    time.sleep(0.02)
    if trial.params["x"] < 0.2:
        os.kill(os.getpid(), signal.SIGKILL)
    return float(trial.params["x"])


class DiesOnce:
    """Kills its worker the first time it sees each trial (a marker file remembers)."""

    def __init__(self, folder: str, every: int = 3):
        self.folder = folder
        self.every = every

    def __call__(self, trial: ft.Trial) -> float:
        marker = pathlib.Path(self.folder) / f"t{trial.number}"
        if trial.number % self.every == 0 and not marker.exists():
            marker.touch()
            time.sleep(0.05)
            os.kill(os.getpid(), signal.SIGKILL)
        time.sleep(0.01)
        return quadratic(trial)


def hangs_below(trial: ft.Trial) -> float:
    """Never returns (in time) when x < 0.25."""
    if trial.params["x"] < 0.25:
        time.sleep(60)
    return float(trial.params["x"])


def slow_grid(trial: ft.Trial) -> float:
    """A grid objective slow enough to be killed mid-study."""
    time.sleep(0.03)
    return float(trial.params["a"] * 10 + trial.params["b"])


class LowIsHopeless:
    """A pruner: prunes a trial whose last report is above `limit`."""

    def __init__(self, limit: float):
        self.limit = limit
        self.calls = 0

    def should_prune(self, study: ft.Study, trial: ft.Trial) -> bool:
        self.calls += 1
        last = trial.intermediate[max(trial.intermediate)]
        return last > self.limit


def _refuse_to_load() -> None:
    raise ModuleNotFoundError("No module named 'only_on_the_driver'")


class NotLoadable:
    """Pickles fine here, but cannot be unpickled (as if its module were missing there)."""

    def __call__(self, trial: ft.Trial) -> float:
        return 0.0

    def __reduce__(self) -> tuple[object, tuple[()]]:
        return (_refuse_to_load, ())
