"""Progress bars: shown with the best value on a terminal, quiet elsewhere unless asked."""

from __future__ import annotations

import sys

import pytest

import ferrotune as ft
from ferrotune import _progress, errors

pytest.importorskip("tqdm")


def _study():
    return ft.Study(ft.RandomSearch({"x": ft.Float(-1, 1)}, seed=0))


def _objective(trial):
    return (trial.params["x"] - 0.25) ** 2


def test_always_shows_the_bar_with_the_best_value(capsys):
    study = _study()
    study.optimize(_objective, n_trials=7, progress="always")
    err = capsys.readouterr().err
    assert "optimize" in err and "7/7" in err
    assert f"best={study.best_value:.6g}" in err


def test_true_is_quiet_when_stderr_is_not_a_terminal(capsys):
    _study().optimize(_objective, n_trials=5, progress=True)
    assert capsys.readouterr().err == ""


def test_true_shows_the_bar_on_a_terminal(capsys, monkeypatch):
    monkeypatch.setattr(_progress, "_stderr_is_terminal", lambda: True)
    _study().optimize(_objective, n_trials=5, progress=True)
    assert "5/5" in capsys.readouterr().err


def test_false_is_silent(capsys, monkeypatch):
    monkeypatch.setattr(_progress, "_stderr_is_terminal", lambda: True)
    _study().optimize(_objective, n_trials=3)
    assert capsys.readouterr().err == ""


def test_bad_progress_values():
    for bad in ("yes", 1, None):
        with pytest.raises(errors.InvalidArgumentError, match="progress"):
            _study().optimize(_objective, n_trials=1, progress=bad)


def test_missing_tqdm_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "tqdm", None)
    with pytest.raises(errors.MissingDependencyError, match=r"ferrotune\[progress\]"):
        _study().optimize(_objective, n_trials=1, progress=True)


def test_the_shared_bar_helper(capsys):
    assert _progress.progress_bar(False, total=3, desc="fit", unit="epoch") is None
    with _progress.progress_bar("always", total=3, desc="fit", unit="epoch") as bar:
        bar.update(best=0.5)
        bar.update(loss="0.1")
        bar.update()
    err = capsys.readouterr().err
    assert "fit" in err and "3/3" in err and "best=0.5" in err and "loss=0.1" in err
