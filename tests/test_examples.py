"""The examples a user starts from (the README's main job among them) run end to end, on tiny
budgets, and leave their study and plots behind."""

from __future__ import annotations

import pathlib
import subprocess
import sys

import pytest

import ferrotune as ft

pytest.importorskip("torch")
pytest.importorskip("matplotlib")
pytest.importorskip("sklearn")

EXAMPLES = pathlib.Path(__file__).resolve().parents[1] / "examples"


@pytest.mark.torch
@pytest.mark.parametrize(
    "script, plots",
    [("tune_digits.py", "digits-plots"), ("tune_photos.py", "photos-plots")],
)
def test_example_runs_and_writes_study_and_plots(tmp_path, script, plots):
    storage = tmp_path / "runs" / "study.sqlite"
    result = subprocess.run(
        [
            sys.executable,
            str(EXAMPLES / script),
            "--trials",
            "2",
            "--epochs",
            "2",
            "--storage",
            str(storage),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    study = ft.load_study(storage)
    assert len(study.trials_in("COMPLETE")) == 2
    assert all("folds" in t.attrs for t in study.trials_in("COMPLETE"))
    written = sorted(p.name for p in (storage.parent / plots).glob("*.png"))
    assert "history.png" in written and "learning_curves.png" in written
    assert "wall time" in result.stdout
