"""A study driver for crash tests: run as a script, killed with SIGKILL, started again.

Usage: python _crash_driver.py JOURNAL N_JOBS TOTAL
"""

from __future__ import annotations

import sys

import _objectives as obj

import ferrotune as ft


def grid() -> ft.GridSearch:
    return ft.GridSearch(
        {"a": list(range(10)), "b": [0.5, 1.5, 2.5, 3.5, 4.5, 5.5]}, shuffle=True, seed=3
    )


def main() -> None:
    path, n_jobs, total = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    study = ft.Study(grid(), storage=path)
    print("ready", flush=True)
    study.optimize(obj.slow_grid, n_jobs=n_jobs, callbacks=[ft.MaxTrialsCallback(total)])
    study.close()
    print("done", flush=True)


if __name__ == "__main__":
    main()
