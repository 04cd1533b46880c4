"""ferrotune logs like a library: named children of the "ferrotune" logger, no handlers of its
own, and warnings that point at the user's line."""

from __future__ import annotations

import logging
import pathlib

import pytest

import ferrotune as ft


class _Three(ft.Searcher):
    """Proposes three points, then nothing; not marked exhausted, so optimize() warns."""

    def __init__(self):
        self.n = 0

    def ask(self):
        if self.n >= 3:
            return None
        self.n += 1
        return self.n - 1, {"x": float(self.n)}

    @property
    def exhausted(self):
        return False

    def tell(self, point_id, value, gradient=None):
        pass

    def requeue(self, point_id):
        pass

    def state(self):
        return "{}"

    def restore(self, state):
        pass

    def config(self):
        return {"kind": "three"}


def test_no_handlers_installed():
    import ferrotune.cli  # noqa: F401  (every module that logs is now imported)

    names = ["ferrotune", "ferrotune.study", "ferrotune.plots", "ferrotune.report"]
    for name in names:
        assert logging.getLogger(name).handlers == [], name
    assert all(
        not logging.getLogger(n).handlers
        for n in logging.root.manager.loggerDict
        if n.startswith("ferrotune")
    )


def test_warning_points_at_the_callers_line():
    study = ft.Study(_Three())
    with pytest.warns(UserWarning, match="runs until Ctrl-C") as record:
        study.optimize(lambda t: t.params["x"])  # the line the warning must name
    assert pathlib.Path(record[0].filename) == pathlib.Path(__file__)
    assert len(study.trials) == 3


def test_plot_notes_go_to_the_plots_logger(caplog):
    pytest.importorskip("matplotlib")
    study = ft.Study(ft.RandomSearch({"x": ft.Float(0, 1)}, seed=0))
    study.optimize(lambda t: t.params["x"], n_trials=3)
    with caplog.at_level(logging.INFO, logger="ferrotune"):
        ft.plots.plot_history(study)
        from ferrotune.plots import _render

        _render(study)
    assert {r.name for r in caplog.records} == {"ferrotune.plots"}
