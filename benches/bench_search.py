"""Search-core benchmarks: ask/tell overhead, durable trials, sampling, Sobol and grids,
side by side with Rustuna, Optuna, numpy, scipy and scikit-learn in one run."""

from __future__ import annotations

import gc
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

import numpy as np
from _harness import Row, optional, timeit

import ferrotune as ft

SUITE = "search"

MIXED4 = {
    "lr": ft.Float(1e-5, 1e-1, log=True),
    "width": ft.Int(16, 256),
    "act": ft.Choice(["relu", "gelu", "tanh"]),
    "drop": ft.Float(0.0, 0.5),
}


def _per_trial(loop, n: int, repeats: int) -> float:
    """Median seconds per trial of `loop(n)` (which builds its own study)."""
    return timeit(lambda: loop(n), repeats=repeats, warmup=1) / n


def _ft_memory(n: int) -> None:
    study = ft.Study(ft.RandomSearch(MIXED4, seed=0))
    for _ in range(n):
        trial = study.ask()
        study.tell(trial, trial.params["lr"])


def _ft_sqlite(n: int) -> None:
    with tempfile.TemporaryDirectory() as d:
        study = ft.Study(ft.RandomSearch(MIXED4, seed=0), storage=os.path.join(d, "s.db"))
        for _ in range(n):
            trial = study.ask()
            study.tell(trial, trial.params["lr"])
        study.close()


def _optuna_like(module, sampler, n: int, storage=None) -> None:
    study = module.create_study(sampler=sampler, storage=storage)
    for _ in range(n):
        t = study.ask()
        lr = t.suggest_float("lr", 1e-5, 1e-1, log=True)
        t.suggest_int("width", 16, 256)
        t.suggest_categorical("act", ["relu", "gelu", "tanh"])
        t.suggest_float("drop", 0.0, 0.5)
        study.tell(t.number if module.__name__ == "rustuna" else t, lr)


def ask_tell_rows(quick: bool) -> list[Row]:
    rows = []
    n, reps = (2_000, 3) if quick else (20_000, 5)
    ours = _per_trial(_ft_memory, n, reps)
    rustuna = optional("rustuna")
    optuna = optional("optuna")
    rt = None
    if rustuna is not None:
        from rustuna.samplers import RandomSampler

        rt = _per_trial(lambda k: _optuna_like(rustuna, RandomSampler(seed=0), k), n, reps)
    rows.append(
        Row(
            SUITE,
            "ask+tell in memory, 4-param space (per trial)",
            ours,
            "rustuna random",
            rt,
            target=">= 4x",
        )
    )
    op = None
    if optuna is not None:
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        k = max(200, n // 20)
        op = _per_trial(
            lambda m: _optuna_like(optuna, optuna.samplers.RandomSampler(seed=0), m), k, 3
        )
    rows.append(
        Row(
            SUITE,
            "ask+tell in memory, 4-param space (per trial)",
            ours,
            "optuna random",
            op,
            target=">= 100x",
        )
    )

    # Durable: every finished trial is in the journal before the next ask.
    n_db = 200 if quick else 2_000
    ours_db = _per_trial(_ft_sqlite, n_db, 3)
    rt_db = None
    if rustuna is not None:
        from rustuna.samplers import RandomSampler
        from rustuna.storages import SQLite3Storage

        def rustuna_db(k: int) -> None:
            with tempfile.TemporaryDirectory() as d:
                storage = SQLite3Storage(os.path.join(d, "r.db"))
                _optuna_like(rustuna, RandomSampler(seed=0), k, storage)

        rt_db = _per_trial(rustuna_db, 20 if quick else 100, 3)
    rows.append(
        Row(
            SUITE,
            "durable ask+tell, SQLite (per trial)",
            ours_db,
            "rustuna SQLite3Storage",
            rt_db,
            target=">= 10x",
        )
    )
    if optuna is not None:

        def optuna_db(k: int) -> None:
            with tempfile.TemporaryDirectory() as d:
                url = "sqlite:///" + os.path.join(d, "o.db")
                _optuna_like(optuna, optuna.samplers.RandomSampler(seed=0), k, url)

        op_db = _per_trial(optuna_db, 20 if quick else 100, 3)
        rows.append(
            Row(SUITE, "durable ask+tell, SQLite (per trial)", ours_db, "optuna sqlite", op_db)
        )
    return rows


def sampling_rows(quick: bool) -> list[Row]:
    n = 100_000 if quick else 1_000_000
    space = ft.Space(
        {
            "lr": ft.Float(1e-5, 1e-1, log=True),
            "width": ft.Int(16, 512),
            "act": ft.Choice(["a", "b", "c", "d"]),
            "drop": ft.Float(0.0, 0.5),
            "init": ft.Normal(0.0, 1.0),
        }
    )
    ours = timeit(lambda: space.sample_array(n, seed=1), repeats=5)
    rng = np.random.default_rng(1)

    def numpy_mixed() -> np.ndarray:
        out = np.empty((n, 5))
        out[:, 0] = np.exp(rng.uniform(np.log(1e-5), np.log(1e-1), n))
        out[:, 1] = rng.integers(16, 513, n)
        out[:, 2] = rng.integers(0, 4, n)
        out[:, 3] = rng.uniform(0.0, 0.5, n)
        out[:, 4] = rng.normal(0.0, 1.0, n)
        return out

    rows = [
        Row(
            SUITE,
            f"sample_array({n:,}) 5-dim mixed",
            ours,
            "numpy vectorised",
            timeit(numpy_mixed, repeats=5),
            target=">= 3x",
        )
    ]

    m = 16 if quick else 20
    qmc = optional("scipy.stats.qmc")
    cube = ft.Space({f"x{i}": ft.Float(0.0, 1.0) for i in range(5)})
    ours_sobol = timeit(lambda: cube.sample_array(2**m, seed=0, sequence="sobol"), repeats=5)
    theirs = None
    if qmc is not None:
        theirs = timeit(lambda: qmc.Sobol(d=5, scramble=True, seed=0).random_base2(m), repeats=5)
    rows.append(
        Row(
            SUITE,
            f"Sobol 2^{m} x 5, scrambled",
            ours_sobol,
            "scipy qmc.Sobol",
            theirs,
            target=">= 1x",
        )
    )

    skl = optional("sklearn.model_selection")
    stats = optional("scipy.stats")
    if skl is not None and stats is not None:
        dists = {
            "lr": stats.loguniform(1e-5, 1e-1),
            "width": stats.randint(16, 257),
            "act": ["relu", "gelu", "tanh"],
            "drop": stats.uniform(0.0, 0.5),
        }
        k = 2_000 if quick else 20_000
        sk = timeit(lambda: list(skl.ParameterSampler(dists, k, random_state=0)), repeats=3)
        sp = ft.Space(MIXED4)
        ours_k = timeit(lambda: sp.sample(k, seed=0), repeats=3)
        rows.append(
            Row(SUITE, f"sample {k:,} param dicts", ours_k, "sklearn ParameterSampler", sk)
        )
    return rows


def grid_rows(quick: bool) -> list[Row]:
    axes = [np.linspace(0.0, 1.0, 8 if quick else 10) for _ in range(6)]
    grid = ft.Grid({f"k{i}": list(a) for i, a in enumerate(axes)})
    ours = timeit(grid.to_array, repeats=5)

    def meshgrid() -> np.ndarray:
        return np.stack([m.ravel() for m in np.meshgrid(*axes, indexing="ij")], axis=1)

    rows = [
        Row(
            SUITE,
            f"grid {len(grid):,} x 6 to array",
            ours,
            "numpy meshgrid+stack",
            timeit(meshgrid, repeats=5),
            target=">= 2x",
        )
    ]
    skl = optional("sklearn.model_selection")
    pg = {"a": [1, 2, 3], "b": ["x", "y"], "c": list(range(10)), "d": [0.1, 0.2]}
    g = ft.Grid(pg)
    idx = [i % len(g) for i in range(0, 50_000, 7)]

    def ours_index() -> None:
        for i in idx:
            g[i]

    theirs = None
    if skl is not None:
        sk = skl.ParameterGrid(pg)

        def sk_index() -> None:
            for i in idx:
                sk[i]

        theirs = timeit(sk_index, repeats=3) / len(idx)
    rows.append(
        Row(
            SUITE,
            "grid[i] (per lookup)",
            timeit(ours_index, repeats=3) / len(idx),
            "sklearn ParameterGrid[i]",
            theirs,
            target=">= 10x",
        )
    )
    return rows


def _peak_rss() -> int:
    """This process's peak resident memory in bytes: VmHWM on Linux (getrusage's ru_maxrss
    there also counts the process that exec'd this one), else ru_maxrss."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    scale = 1 if sys.platform == "darwin" else 1024  # bytes on macOS, KiB elsewhere
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale


def _million_trial_study(n: int) -> dict[str, float]:
    """Runs an n-trial in-memory random study; its wall time and peak RSS growth per trial.
    Run in a fresh process (see `million_trial_rows`), so that the peak is the study's own."""
    gc.collect()
    before = _peak_rss()
    study = ft.Study(ft.RandomSearch(MIXED4, seed=0))
    t0 = time.perf_counter()
    study.optimize(lambda t: t.params["drop"], n_trials=n)
    wall = time.perf_counter() - t0
    grown = _peak_rss() - before
    t0 = time.perf_counter()
    kept = len(study.trials)
    read = (time.perf_counter() - t0) / n
    return {"wall": wall, "per_trial": grown / n, "kept": kept, "read": read}


def million_trial_rows(quick: bool) -> list[Row]:
    n = 100_000 if quick else 1_000_000
    # A fresh process: peak RSS is a high-water mark, and this process's earlier rows (arrays
    # of a million rows) would hide a study smaller than them.
    code = (
        "import json, sys; sys.path.insert(0, sys.argv[1]); import bench_search; "
        "print(json.dumps(bench_search._million_trial_study(int(sys.argv[2]))))"
    )
    here = os.path.dirname(os.path.abspath(__file__))
    out = subprocess.run(
        [sys.executable, "-c", code, here, str(n)],
        capture_output=True,
        text=True,
        check=True,
        timeout=600,
    )
    got = json.loads(out.stdout.strip().splitlines()[-1])
    return [
        Row(
            SUITE,
            f"{n:,}-trial in-memory random study, wall",
            got["wall"],
            "-",
            None,
            target="seconds",
        ),
        Row(
            SUITE,
            "memory per stored trial (peak RSS growth)",
            got["per_trial"],
            "-",
            None,
            unit="bytes",
            note=f"{int(got['kept']):,} trials kept",
        ),
        Row(
            SUITE,
            "study.trials read back (per trial)",
            got["read"],
            "-",
            None,
            note="rebuilt Trial objects",
        ),
    ]


def run(quick: bool = False) -> list[Row]:
    return (
        ask_tell_rows(quick) + sampling_rows(quick) + grid_rows(quick) + million_trial_rows(quick)
    )
