"""The `ferrotune` console script, run as a user runs it (a subprocess): help, show, plot,
report and bench, and bad input answered with one line on stderr and a non-zero status."""

from __future__ import annotations

import json
import os
import pathlib
import shutil
import sqlite3
import subprocess
import sys

import pytest
from _study_factory import cv_study, plain_study

ROOT = pathlib.Path(__file__).resolve().parents[1]
SCRIPT = pathlib.Path(sys.executable).parent / "ferrotune"


def ferrotune(*args, cwd=None, env=None, module=False):
    command = [sys.executable, "-m", "ferrotune"] if module else [str(SCRIPT)]
    return subprocess.run(
        [*command, *map(str, args)],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**os.environ, **(env or {})},
        timeout=300,
    )


def one_line_error(result, *fragments):
    """Asserts a clean failure: non-zero status, one line on stderr, no traceback."""
    assert result.returncode != 0, result.stdout
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("ferrotune: error: "), lines[0]
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


@pytest.fixture(scope="module")
def studies(tmp_path_factory):
    d = tmp_path_factory.mktemp("studies")
    cv_study(d / "cv.db")
    plain_study(d / "plain.db")
    plain_study(d / "two.db", name="first", n_trials=3)
    plain_study(d / "two.db", name="second", n_trials=3)
    (d / "notes.txt").write_text("not a study\n" * 50)
    sqlite3.connect(d / "other.db").execute("CREATE TABLE t (x)").connection.commit()
    from ferrotune import _core

    _core.Journal(str(d / "empty.db")).close()  # a journal with no study yet
    return d


def test_console_script_is_installed():
    assert SCRIPT.is_file(), "the ferrotune console script is missing: run scripts/setup.sh"


@pytest.mark.parametrize("command", [[], ["bench"], ["show"], ["plot"], ["report"]])
def test_help_on_every_command(command):
    r = ferrotune(*command, "--help")
    assert r.returncode == 0 and r.stderr == ""
    assert r.stdout.startswith("usage: ferrotune")
    if command:
        assert f"ferrotune {command[0]}" in r.stdout


def test_python_dash_m_and_version():
    r = ferrotune("--version", module=True)
    assert r.returncode == 0 and r.stdout.startswith("ferrotune ")


def test_show(studies):
    r = ferrotune("show", studies / "cv.db", "--top", "3")
    assert r.returncode == 0, r.stderr
    assert "maximize, 12 trial(s)" in r.stdout
    assert "10 complete, 1 pruned, 1 failed" in r.stdout
    assert "best trial: #" in r.stdout and "top 3 trial(s):" in r.stdout
    assert "durations:" in r.stdout


def test_show_json_and_name(studies):
    r = ferrotune("show", studies / "two.db", "--name", "second", "--json")
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    assert data["name"] == "second" and data["n_trials"] == 3


def test_plot(studies, tmp_path):
    r = ferrotune("plot", studies / "plain.db", "--out", tmp_path / "plots")
    assert r.returncode == 0, r.stderr
    written = sorted(p.name for p in (tmp_path / "plots").iterdir())
    assert written == ["history.png", "parallel_coordinates.png", "slices.png"]
    assert "skipped learning_curves:" in r.stdout and "skipped fold_scores:" in r.stdout


def test_report(studies, tmp_path):
    out = tmp_path / "r" / "report.html"
    r = ferrotune("report", studies / "cv.db", "-o", out)
    assert r.returncode == 0, r.stderr
    page = out.read_text(encoding="utf-8")
    assert page.count("data:image/png;base64,") == 5
    assert "ferrotune report: study &#x27;default&#x27;" in page


def test_not_a_study(studies):
    one_line_error(ferrotune("show", studies / "notes.txt"), "not a ferrotune study")
    one_line_error(ferrotune("plot", studies / "other.db", "--out", studies / "x"), "other.db")
    one_line_error(ferrotune("report", studies), "is a folder")
    one_line_error(ferrotune("show", studies / "missing.db"), "missing.db: no such file")


def test_unknown_study_name(studies):
    one_line_error(ferrotune("show", studies / "cv.db", "--name", "nope"), '"nope"', "default")
    one_line_error(ferrotune("show", studies / "empty.db"), "no study in it")
    one_line_error(
        ferrotune("report", studies / "two.db", "-o", studies / "r.html"),
        "first, second",
        "--name",
    )


def test_output_that_cannot_be_written(studies, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    one_line_error(ferrotune("plot", studies / "plain.db", "--out", blocker), "not a folder")
    one_line_error(
        ferrotune("plot", studies / "plain.db", "--out", blocker / "sub"), "cannot write"
    )
    one_line_error(
        ferrotune("report", studies / "plain.db", "-o", blocker / "r.html"), "cannot write"
    )
    one_line_error(ferrotune("report", studies / "plain.db", "-o", tmp_path), "is a folder")
    # A file where a folder should be is named as such, not as "file exists".
    for path in (blocker / "r.html", blocker / "deep" / "r.html"):
        line = one_line_error(
            ferrotune("report", studies / "plain.db", "-o", path), "is a file, not a folder"
        )
        assert "exists" not in line


def test_a_resolution_too_large_to_render_is_refused(studies, tmp_path):
    # 100000 dpi asked matplotlib for gigapixels and ended in an internal MemoryError.
    out = tmp_path / "plots"
    one_line_error(
        ferrotune("plot", studies / "plain.db", "--out", out, "--dpi", "100000"),
        "--dpi",
        "at most 1200",
        "'100000'",
    )
    assert not out.exists()


def test_trial_out_of_range_writes_nothing(studies, tmp_path):
    out = tmp_path / "plots"
    one_line_error(ferrotune("plot", studies / "cv.db", "--out", out, "--trial", "12"), "0 to 11")
    assert not out.exists()


def test_unknown_suite_command_and_option():
    line = one_line_error(ferrotune("bench", "serch"), "unknown benchmark suite 'serch'")
    assert "search" in line and "all" in line
    one_line_error(ferrotune(), "choose a command")
    one_line_error(ferrotune("frobnicate"), "frobnicate")
    one_line_error(ferrotune("show"), "STUDY.db")
    one_line_error(ferrotune("show", "x.db", "--top", "zero"), "--top")


# -- bench: missing suites and anchors are skipped, broken suites reported -------------------


def _fake_suite(body: str) -> str:
    return "from _harness import Row\n\n\ndef run(quick):\n" + body


@pytest.fixture
def benches(tmp_path):
    """A benches folder with the real harness and hand-made suites."""
    d = tmp_path / "benches"
    d.mkdir()
    shutil.copy(ROOT / "benches" / "_harness.py", d / "_harness.py")
    (d / "bench_search.py").write_text(
        _fake_suite(
            "    return [Row('search', 'sample', 0.001, 'numpy', 0.004),\n"
            "            Row('search', 'sample', 0.001, 'rustuna', None, note='not installed')]\n"
        )
    )
    (d / "bench_cg.py").write_text(
        "import no_such_anchor_package\n" + _fake_suite("    return []\n")
    )
    (d / "bench_augment.py").write_text(
        _fake_suite(
            "    from ferrotune.errors import MissingDependencyError\n"
            "    raise MissingDependencyError('kornia is not installed')\n"
        )
    )
    (d / "bench_training.py").write_text(
        _fake_suite("    raise RuntimeError('a bug\\nin a suite')\n")
    )
    return d


def test_bench_one_suite_table_and_json(benches, tmp_path):
    out = tmp_path / "b.json"
    r = ferrotune("bench", "search", "--quick", "--json", out, env={"FERROTUNE_BENCHES": benches})
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("machine: ")
    assert "4.00x" in r.stdout and "skipped" in r.stdout
    assert "anchors not installed (their rows are skipped): rustuna" in r.stdout
    data = json.loads(out.read_text())
    assert data["rows"][0]["ratio"] == pytest.approx(4.0)
    assert data["skipped"] == {} and data["failed"] == {}


def test_bench_all_skips_missing_suites_and_reports_broken_ones(benches):
    r = ferrotune("bench", "all", env={"FERROTUNE_BENCHES": benches})
    assert "Traceback" not in r.stderr
    assert "4.00x" in r.stdout  # the suite that ran still reports
    assert "cg: skipped (cannot import bench_cg.py: ModuleNotFoundError" in r.stdout
    assert "augment: skipped (missing dependency: MissingDependencyError: kornia" in r.stdout
    assert "parallel: skipped (no benchmark module bench_parallel.py" in r.stdout
    assert r.stderr.strip().splitlines() == [
        "ferrotune bench: suite training failed: RuntimeError: a bug in a suite"
    ]
    assert r.returncode == 1


def test_bench_missing_module_alone_is_skipped_not_failed(benches):
    r = ferrotune("bench", "parallel", env={"FERROTUNE_BENCHES": benches})
    assert r.returncode == 0 and r.stderr == ""
    assert "parallel: skipped" in r.stdout


def test_bench_json_that_cannot_be_written_fails_before_measuring(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    r = ferrotune("bench", "all", "--json", blocker / "out.json")
    one_line_error(r, "cannot write", "is a file, not a folder")
    assert r.stdout == ""  # no machine line: nothing was measured


def test_bench_json_to_a_folder_is_one_line(benches, tmp_path):
    one_line_error(
        ferrotune("bench", "search", "--json", tmp_path, env={"FERROTUNE_BENCHES": benches}),
        "is a folder",
    )
