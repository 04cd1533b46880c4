"""ferrotune.report: the summary, the text of `ferrotune show`, and the HTML report (which a
headless Chromium opens and checks)."""

from __future__ import annotations

import base64
import re
import shutil
import subprocess
import sys
import types

import pytest
from _study_factory import cv_study, plain_study

import ferrotune as ft
from ferrotune import errors

pytest.importorskip("matplotlib")


@pytest.fixture(scope="module")
def cv(tmp_path_factory):
    path = tmp_path_factory.mktemp("cv") / "cv.db"
    cv_study(path)
    return ft.load_study(path)


@pytest.fixture(scope="module")
def cv_page(cv):
    """The report of the CV study as a build without ferrotune.diagnose renders it."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setitem(sys.modules, "ferrotune.diagnose", None)
        return ft.report.render_report(cv, source="cv.db")


@pytest.fixture
def no_diagnosis(monkeypatch):
    """As if ferrotune.diagnose were not part of this build."""
    monkeypatch.setitem(sys.modules, "ferrotune.diagnose", None)


@pytest.fixture
def fake_diagnosis(monkeypatch):
    """A stand-in for ferrotune.diagnose that records what it was given."""
    calls = []
    finding = types.SimpleNamespace(
        kind="overfitting",
        message="training accuracy exceeds validation accuracy by 0.07 <b>",
        suggestions=["more dropout", "weight decay"],
    )

    def diagnose(result):
        calls.append(result)
        return types.SimpleNamespace(findings=[finding], summary={})

    module = types.ModuleType("ferrotune.diagnose")
    module.diagnose = diagnose  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "ferrotune.diagnose", module)
    return calls


def test_summarize_counts_durations_best_and_top(cv):
    s = ft.report.summarize(cv, top=3)
    assert s["counts"] == {"COMPLETE": 10, "PRUNED": 1, "FAILED": 1, "RUNNING": 0}
    assert s["n_trials"] == 12 and s["direction"] == "maximize"
    assert s["best"]["number"] == cv.best_trial.number
    assert s["best"]["cv"]["metric"] == "accuracy"
    values = [row["value"] for row in s["top"]]
    assert len(values) == 3 and values == sorted(values, reverse=True)
    assert values[0] == cv.best_value
    d = s["durations"]
    assert d["min"] <= d["median"] <= d["max"] <= d["total"]
    assert d["wall"] >= d["max"]
    assert s["failures"] == [{"number": 4, "error": "RuntimeError: out of memory (synthetic)"}]


def test_summarize_an_empty_study_and_bad_arguments():
    study = ft.Study(ft.RandomSearch({"x": ft.Float(0, 1)}, seed=0))
    s = ft.report.summarize(study)
    assert s["best"] is None and s["top"] == [] and s["durations"]["total"] is None
    assert "none has completed" in ft.report.format_summary(study)
    with pytest.raises(errors.InvalidTypeError, match="study"):
        ft.report.summarize({"trials": []})
    with pytest.raises(errors.InvalidArgumentError, match="top"):
        ft.report.summarize(study, top=-1)


def test_format_summary(cv):
    text = ft.report.format_summary(cv, top=5, source="cv.db")
    lines = text.splitlines()
    assert lines[0] == "study 'default' in cv.db: maximize, 12 trial(s)"
    assert "10 complete, 1 pruned, 1 failed, 0 running" in lines[1]
    assert f"best trial: #{cv.best_trial.number}, value {cv.best_value:.6g}" in text
    assert "accuracy" in text and "top 5 trial(s):" in text
    assert "#4: RuntimeError: out of memory (synthetic)" in text


def _images(page: str) -> list[bytes]:
    return [
        base64.b64decode(m) for m in re.findall(r"data:image/png;base64,([A-Za-z0-9+/=]+)", page)
    ]


def test_report_is_self_contained_with_plots_and_diagnosis(cv, fake_diagnosis):
    page = ft.report.render_report(cv, source="cv.db")
    assert page.startswith("<!DOCTYPE html>")
    assert not re.search(r"(src|href)=['\"](?!data:)", page)  # nothing loaded from outside
    assert "<script" not in page
    pngs = _images(page)
    assert len(pngs) == 5 and all(p.startswith(b"\x89PNG\r\n\x1a\n") for p in pngs)
    assert fake_diagnosis == [cv]  # the diagnosis is asked about the study
    assert "overfitting" in page and "more dropout" in page
    assert "0.07 &lt;b&gt;" in page  # text is escaped
    for section in ("summary", "best", "diagnosis", "plots", "top"):
        assert f"id='{section}'" in page


def test_report_without_the_diagnosis_module(cv_page):
    assert "Diagnosis unavailable" in cv_page
    assert len(_images(cv_page)) == 5


def test_write_report_creates_the_folder(tmp_path, no_diagnosis):
    plain_study(tmp_path / "p.db")
    path = ft.report.write_report(ft.load_study(tmp_path / "p.db"), tmp_path / "a" / "r.html")
    assert path == tmp_path / "a" / "r.html"
    assert path.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")


def test_report_of_a_plain_study_notes_the_missing_plots(tmp_path, no_diagnosis):
    plain_study(tmp_path / "p.db", name="<odd & name>")
    page = ft.report.render_report(ft.load_study(tmp_path / "p.db"))
    assert len(_images(page)) == 3
    assert page.count("class='skipped'") == 2
    assert "&lt;odd &amp; name&gt;" in page and "<odd & name>" not in page


def test_write_report_bad_arguments(cv):
    with pytest.raises(errors.InvalidTypeError, match="path"):
        ft.report.write_report(cv, None)
    with pytest.raises(errors.InvalidTypeError, match="study"):
        ft.report.write_report("cv.db", "r.html")


_CHECKER = (
    "<script>window.addEventListener('load',function(){var m=document.images,ok=0,bad=[];"
    "for(var i=0;i<m.length;i++){if(m[i].complete&&m[i].naturalWidth>0)ok++;"
    "else bad.push(m[i].alt);}document.body.setAttribute('data-images-ok',ok);"
    "document.body.setAttribute('data-images-bad',bad.join('|'));});</script>"
)


def test_report_renders_in_headless_chromium(cv_page, tmp_path):
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip("chromium is not installed (scripts/setup.sh installs it when run as root)")
    page = cv_page
    report = tmp_path / "report.html"
    report.write_text(page, encoding="utf-8")
    # A copy with a probe that records, in the DOM, which images the browser decoded.
    probed = tmp_path / "probed.html"
    probed.write_text(page.replace("</body>", _CHECKER + "</body>"), encoding="utf-8")
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--enable-logging=stderr", "--v=0"]

    dom = subprocess.run(
        [chromium, *flags, "--dump-dom", probed.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert 'data-images-ok="5"' in dom.stdout and 'data-images-bad=""' in dom.stdout
    assert "Diagnosis" in dom.stdout and "Top 10 trial(s)" in dom.stdout
    assert "CONSOLE" not in dom.stderr  # no console message from the page

    shot = tmp_path / "shot.png"
    run = subprocess.run(
        [
            chromium,
            *flags,
            "--hide-scrollbars",
            "--window-size=1280,2400",
            f"--screenshot={shot}",
            report.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    assert "CONSOLE" not in run.stderr
    from matplotlib import image

    pixels = image.imread(shot)
    assert pixels.shape[:2] == (2400, 1280)
    assert pixels[..., :3].std() > 0.05  # not a blank page: text, cards and plots drawn
