"""What a study says, in words and pictures: a text summary and a self-contained HTML report.

:func:`summarize` gathers the numbers (counts by state, durations, the best and the top
trials), :func:`format_summary` prints them (``ferrotune show``), and :func:`write_report`
writes one HTML page with the summary, the diagnosis of the best trial's curves and every plot
of :mod:`ferrotune.plots` embedded as PNG (``ferrotune report``). The page has no scripts and
loads nothing from anywhere: mail it, archive it, open it offline.

>>> import ferrotune as ft
>>> study = ft.Study(ft.RandomSearch({"x": ft.Float(-1, 1)}, seed=0))
>>> study.optimize(lambda t: t.params["x"] ** 2, n_trials=10)
>>> ft.report.summarize(study)["counts"]["COMPLETE"]
10
"""

from __future__ import annotations

import base64
import datetime
import html
import importlib
import io
import logging
import os
import pathlib
import statistics
from typing import Any

from . import _validate as v
from .errors import FerrotuneError
from .trial import Trial, TrialState

__all__ = ["summarize", "format_summary", "render_report", "write_report"]

log = logging.getLogger("ferrotune.report")


def _check_study(study: Any) -> Any:
    from .study import Study

    if not isinstance(study, Study):
        v.bad_type("study", study, "a ferrotune Study (or one opened with ft.load_study)")
    return study


def _flatten(params: Any, prefix: str = "") -> dict[str, Any]:
    if not isinstance(params, dict):
        return {prefix: params}
    out: dict[str, Any] = {}
    for key, val in params.items():
        out.update(_flatten(val, f"{prefix}.{key}" if prefix else str(key)))
    return out


def _last_line(error: str | None) -> str:
    lines = [ln.strip() for ln in (error or "").splitlines() if ln.strip()]
    return lines[-1] if lines else "failed"


def _trial_row(t: Trial) -> dict[str, Any]:
    cv = t.attrs.get("cv") if isinstance(t.attrs.get("cv"), dict) else None
    return {
        "number": t.number,
        "state": t.state.value,
        "value": t.value,
        "duration": t.duration,
        "params": _flatten(t.params),
        "cv": cv,
    }


def summarize(study: Any, *, top: int = 10) -> dict[str, Any]:
    """The numbers that describe a study, as plain (JSON-serialisable) data.

    Parameters
    ----------
    study : Study
    top : int
        How many of the best complete trials to list.

    Returns
    -------
    dict
        ``name``, ``direction``, ``n_trials``, ``counts`` (by state), ``durations``
        (``total``, ``mean``, ``median``, ``min``, ``max`` over finished trials, and ``wall``,
        from the first start to the last finish; seconds, None without data), ``best`` (a
        trial row or None), ``top`` (trial rows, best first) and ``failures`` (number and last
        line of the error of each failed trial).

    Examples
    --------
    >>> import ferrotune as ft
    >>> study = ft.Study(ft.RandomSearch({"x": ft.Float(-1, 1)}, seed=0))
    >>> study.optimize(lambda t: abs(t.params["x"]), n_trials=5)
    >>> s = ft.report.summarize(study, top=3)
    >>> len(s["top"]), s["best"]["number"] == study.best_trial.number
    (3, True)
    """
    study = _check_study(study)
    top = v.integer("top", top, minimum=0)
    trials = study.trials
    order = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAILED, TrialState.RUNNING)
    counts = {s.value: 0 for s in order}
    for t in trials:
        counts[t.state.value] += 1

    # Durations: per finished trial, and the wall-clock span of the whole study.
    finished = [t for t in trials if t.finished and t.duration is not None]
    times = [float(t.duration) for t in finished]  # type: ignore[arg-type]
    ends = [t.start + t.duration for t in finished if t.start]  # type: ignore[operator]
    starts = [t.start for t in trials if t.start]
    durations: dict[str, float | None] = {
        "total": sum(times) if times else None,
        "mean": statistics.fmean(times) if times else None,
        "median": statistics.median(times) if times else None,
        "min": min(times) if times else None,
        "max": max(times) if times else None,
        "wall": max(ends) - min(starts) if ends and starts else None,
    }

    sign = -1.0 if study.direction == "maximize" else 1.0
    complete = [t for t in trials if t.state is TrialState.COMPLETE and t.value is not None]
    ranked = sorted(complete, key=lambda t: (sign * t.value, t.number))  # type: ignore[operator]
    return {
        "name": study.name,
        "direction": study.direction,
        "n_trials": len(trials),
        "counts": counts,
        "durations": durations,
        "best": _trial_row(ranked[0]) if ranked else None,
        "top": [_trial_row(t) for t in ranked[:top]],
        "failures": [
            {"number": t.number, "error": _last_line(t.error)}
            for t in trials
            if t.state is TrialState.FAILED
        ],
    }


# -- text ----------------------------------------------------------------------------------


def _num(x: Any, digits: int = 6) -> str:
    if x is None:
        return "-"
    if isinstance(x, bool) or not isinstance(x, (int, float)):
        return str(x)
    if isinstance(x, int):
        return str(x)
    return f"{x:.{digits}g}"


def _seconds(x: float | None) -> str:
    if x is None:
        return "-"
    if x >= 3600:
        return f"{x / 3600:.2f} h"
    if x >= 60:
        return f"{x / 60:.1f} min"
    if x >= 1:
        return f"{x:.2f} s"
    return f"{x * 1e3:.3g} ms"


def _cv_text(cv: dict[str, Any] | None) -> str:
    if not cv or not isinstance(cv.get("mean"), (int, float)):
        return ""
    metric = cv.get("metric") or "score"
    std = cv.get("std")
    spread = f" \u00b1 {std:.4g}" if isinstance(std, (int, float)) else ""
    return f"{metric} {cv['mean']:.4g}{spread} over the folds"


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    widths = [max(len(x) for x in col) for col in zip(header, *rows, strict=False)]
    lines = ["  ".join(x.ljust(w) for x, w in zip(header, widths, strict=False)).rstrip()]
    lines += [
        "  ".join(x.ljust(w) for x, w in zip(row, widths, strict=False)).rstrip() for row in rows
    ]
    return lines


def format_summary(study: Any, *, top: int = 10, source: str | None = None) -> str:
    """The summary of :func:`summarize` as text, as ``ferrotune show`` prints it.

    Examples
    --------
    >>> import ferrotune as ft
    >>> study = ft.Study(ft.RandomSearch({"x": ft.Float(-1, 1)}, seed=0), name="demo")
    >>> study.optimize(lambda t: abs(t.params["x"]), n_trials=5)
    >>> print(ft.report.format_summary(study).splitlines()[0])
    study 'demo': minimize, 5 trial(s)
    """
    s = summarize(study, top=top)
    where = f" in {source}" if source else ""
    lines = [f"study {s['name']!r}{where}: {s['direction']}, {s['n_trials']} trial(s)"]
    counts = ", ".join(f"{n} {state.lower()}" for state, n in s["counts"].items())
    lines.append(f"  states: {counts}")
    d = s["durations"]
    if d["total"] is not None:
        lines.append(
            f"  durations: {_seconds(d['total'])} in trials, median {_seconds(d['median'])} "
            f"(min {_seconds(d['min'])}, max {_seconds(d['max'])}); "
            f"wall clock {_seconds(d['wall'])}"
        )

    best = s["best"]
    if best is None:
        lines.append("best trial: none has completed")
    else:
        cv = _cv_text(best["cv"])
        lines.append(
            f"best trial: #{best['number']}, value {_num(best['value'])}"
            + (f" ({cv})" if cv else "")
            + f", {_seconds(best['duration'])}"
        )
        width = max((len(k) for k in best["params"]), default=0)
        lines += [f"  {k.ljust(width)} = {_num(x, 6)}" for k, x in best["params"].items()]

    if s["top"]:
        names: list[str] = []
        for row in s["top"]:
            names.extend(k for k in row["params"] if k not in names)
        header = ["rank", "trial", "value", "duration", *names]
        rows = [
            [
                str(i + 1),
                f"#{row['number']}",
                _num(row["value"]),
                _seconds(row["duration"]),
                *[_num(row["params"][k], 4) if k in row["params"] else "-" for k in names],
            ]
            for i, row in enumerate(s["top"])
        ]
        lines.append(f"top {len(rows)} trial(s):")
        lines += ["  " + ln for ln in _table(header, rows)]

    if s["failures"]:
        lines.append(f"failed trial(s): {len(s['failures'])}")
        for f in s["failures"][-5:]:
            lines.append(f"  #{f['number']}: {f['error']}")
    return "\n".join(lines)


# -- diagnosis -----------------------------------------------------------------------------


def _diagnosis(study: Any) -> tuple[str, Any]:
    """("ok", Diagnosis) | ("none", why) | ("unavailable", why)."""
    try:
        module = importlib.import_module(".diagnose", __package__)
    except ImportError:
        return "unavailable", "this build of ferrotune has no diagnosis module"
    try:
        return "ok", module.diagnose(study)
    except FerrotuneError as e:
        return "none", str(e)


# -- HTML ----------------------------------------------------------------------------------

_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;
  color:#1d1d1f;background:#f6f7f9;line-height:1.45}
main{max-width:1180px;margin:0 auto;padding:24px 28px 48px}
h1{font-size:1.6em;margin:0 0 4px}h2{font-size:1.2em;margin:28px 0 10px;
  border-bottom:1px solid #d8dbe0;padding-bottom:4px}
.sub{color:#5f6368;margin:0 0 18px}
.cards{display:flex;flex-wrap:wrap;gap:12px}
.card{background:#fff;border:1px solid #e1e4e8;border-radius:8px;padding:10px 16px;
  min-width:120px}
.card b{display:block;font-size:1.35em}.card span{color:#5f6368;font-size:.85em}
table{border-collapse:collapse;background:#fff;font-size:.9em}
th,td{border:1px solid #e1e4e8;padding:4px 10px;text-align:left}
th{background:#f0f2f5}td.n{text-align:right;font-variant-numeric:tabular-nums}
.finding{background:#fff;border-left:4px solid #d62728;padding:8px 14px;margin:8px 0}
.finding.ok{border-left-color:#2ca02c}.finding.note{border-left-color:#9aa0a6}
.finding h3{margin:0 0 4px;font-size:1em}
figure{background:#fff;border:1px solid #e1e4e8;border-radius:8px;margin:14px 0;padding:10px}
figure img{max-width:100%;height:auto;display:block;margin:0 auto}
figcaption{color:#5f6368;font-size:.9em;margin-top:6px}
.skipped{color:#5f6368;font-style:italic}
pre{white-space:pre-wrap;font-size:.85em;background:#fff;border:1px solid #e1e4e8;
  padding:8px}
footer{margin-top:36px;color:#80868b;font-size:.8em}
"""

_CAPTIONS = {
    "history": "Optimisation history: every trial's value and the best so far.",
    "slices": "The objective against each parameter; the best trial is the red star.",
    "parallel_coordinates": "Parallel coordinates: each line is a complete trial.",
    "learning_curves": (
        "Learning curves of the best trial with curves, per fold: the dashed line is where "
        "training stopped, the dotted line early stopping's best epoch, the circle and "
        "diamond the validation and test minima."
    ),
    "fold_scores": "Fold scores of the best trials: how much each value depends on the split.",
}


def _e(x: Any) -> str:
    return html.escape(str(x), quote=True)


def _png(fig: Any, dpi: int) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _cards(s: dict[str, Any]) -> str:
    d = s["durations"]
    items = [
        (str(s["n_trials"]), "trials"),
        *[(str(n), state.lower()) for state, n in s["counts"].items() if n or state != "RUNNING"],
        (_num(s["best"]["value"]) if s["best"] else "-", "best value"),
        (_seconds(d["median"]), "median trial"),
        (_seconds(d["wall"]), "wall clock"),
    ]
    cells = "".join(
        f"<div class='card'><b>{_e(a)}</b><span>{_e(b)}</span></div>" for a, b in items
    )
    return f"<div class='cards'>{cells}</div>"


def _best_html(best: dict[str, Any] | None) -> str:
    if best is None:
        return "<p>No trial has completed yet.</p>"
    cv = _cv_text(best["cv"])
    rows = "".join(
        f"<tr><th>{_e(k)}</th><td class='n'>{_e(_num(x))}</td></tr>"
        for k, x in best["params"].items()
    )
    return (
        f"<p>Trial <b>#{best['number']}</b>: value <b>{_e(_num(best['value']))}</b>"
        + (f" ({_e(cv)})" if cv else "")
        + f", {_e(_seconds(best['duration']))}.</p>"
        + (f"<table><tr><th>parameter</th><th>value</th></tr>{rows}</table>" if rows else "")
    )


def _top_html(top: list[dict[str, Any]]) -> str:
    if not top:
        return "<p>No trial has completed yet.</p>"
    names: list[str] = []
    for row in top:
        names.extend(k for k in row["params"] if k not in names)
    head = "".join(
        f"<th>{_e(h)}</th>" for h in ["rank", "trial", "value", "fold std", "duration", *names]
    )
    body = []
    for i, row in enumerate(top):
        std = row["cv"].get("std") if row["cv"] else None
        cells = [str(i + 1), f"#{row['number']}", _num(row["value"]), _num(std, 4)]
        cells.append(_seconds(row["duration"]))
        cells += [_num(row["params"][k], 4) if k in row["params"] else "-" for k in names]
        body.append("<tr>" + "".join(f"<td class='n'>{_e(c)}</td>" for c in cells) + "</tr>")
    return f"<table><tr>{head}</tr>{''.join(body)}</table>"


def _diagnosis_html(study: Any) -> str:
    status, result = _diagnosis(study)
    if status == "unavailable":
        return (
            f"<div class='finding note'><h3>Diagnosis unavailable</h3><p>{_e(result)}.</p></div>"
        )
    if status == "none":
        return f"<div class='finding note'><h3>Nothing to diagnose</h3><p>{_e(result)}</p></div>"
    findings = list(getattr(result, "findings", []) or [])
    if not findings:
        return f"<div class='finding ok'><h3>Nothing stands out</h3><p>{_e(str(result))}</p></div>"
    parts = []
    for f in findings:
        kind = str(getattr(f, "kind", "finding")).replace("_", " ")
        message = getattr(f, "message", str(f))
        tips = list(getattr(f, "suggestions", []) or [])
        items = "".join(f"<li>{_e(t)}</li>" for t in tips)
        tip_html = f"<p>Try:</p><ul>{items}</ul>" if tips else ""
        parts.append(
            f"<div class='finding'><h3>{_e(kind)}</h3><p>{_e(message)}</p>{tip_html}</div>"
        )
    return "".join(parts)


def _plots_html(study: Any, *, trial: Any, top: int, dpi: int) -> str:
    from .plots import _render

    parts = []
    for name, fig, note in _render(study, trial=trial, top=top):
        title = name.replace("_", " ")
        if fig is None:
            parts.append(f"<p class='skipped'>No {_e(title)} plot: {_e(note)}.</p>")
            continue
        data = _png(fig, dpi)
        parts.append(
            f"<figure id='plot-{_e(name)}'><img alt='{_e(title)}' "
            f"src='data:image/png;base64,{data}'>"
            f"<figcaption>{_e(_CAPTIONS.get(name, title))}</figcaption></figure>"
        )
    return "".join(parts)


def _failures_html(failures: list[dict[str, Any]]) -> str:
    if not failures:
        return ""
    rows = "".join(f"<tr><td>#{f['number']}</td><td>{_e(f['error'])}</td></tr>" for f in failures)
    return (
        f"<h2>Failed trials ({len(failures)})</h2>"
        f"<table><tr><th>trial</th><th>error</th></tr>{rows}</table>"
    )


def render_report(
    study: Any,
    *,
    top: int = 10,
    trial: Trial | int | None = None,
    dpi: int = 90,
    source: str | None = None,
) -> str:
    """The HTML report of a study as a string (see :func:`write_report`)."""
    study = _check_study(study)
    dpi = v.integer("dpi", dpi, minimum=10)
    s = summarize(study, top=top)
    from . import __version__

    title = f"ferrotune report: study {s['name']!r}"
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    where = f"{source} \u00b7 " if source else ""
    return "".join(
        [
            "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
            "<meta name='viewport' content='width=device-width, initial-scale=1'>",
            f"<title>{_e(title)}</title><style>{_CSS}</style></head><body><main>",
            f"<h1>{_e(title)}</h1>",
            f"<p class='sub'>{_e(where)}{_e(s['direction'])} \u00b7 generated {_e(stamp)}</p>",
            "<h2 id='summary'>Summary</h2>",
            _cards(s),
            "<h2 id='best'>Best trial</h2>",
            _best_html(s["best"]),
            "<h2 id='diagnosis'>Diagnosis</h2>",
            _diagnosis_html(study),
            "<h2 id='plots'>Plots</h2>",
            _plots_html(study, trial=trial, top=top, dpi=dpi),
            f"<h2 id='top'>Top {len(s['top'])} trial(s)</h2>",
            _top_html(s["top"]),
            _failures_html(s["failures"]),
            f"<footer>ferrotune {_e(__version__)}</footer>",
            "</main></body></html>\n",
        ]
    )


def write_report(
    study: Any,
    path: str | os.PathLike[str],
    *,
    top: int = 10,
    trial: Trial | int | None = None,
    dpi: int = 90,
    source: str | None = None,
) -> pathlib.Path:
    """Writes one self-contained HTML page about a study and returns its path.

    The page holds the summary (counts, durations, the best trial), the diagnosis of the best
    trial's learning curves (``ferrotune.diagnose``), every plot of
    :func:`ferrotune.plots.plot_study` embedded as a PNG, the top trials and the failures.
    Missing parent folders are created.

    Parameters
    ----------
    study : Study
    path : path
        The HTML file to write.
    top : int
        How many of the best trials to list (and to show in the fold-score plot).
    trial : Trial or int, optional
        Whose learning curves to draw; by default the best trial that has them.
    dpi : int
        Resolution of the embedded plots.
    source : str, optional
        Where the study came from (its file), shown under the title.

    Returns
    -------
    pathlib.Path

    Examples
    --------
    >>> import ferrotune as ft
    >>> study = ft.Study(ft.RandomSearch({"x": ft.Float(-1, 1)}, seed=0))
    >>> study.optimize(lambda t: t.params["x"] ** 2, n_trials=20)
    >>> ft.report.write_report(study, "report.html")  # doctest: +SKIP
    PosixPath('report.html')
    """
    if not isinstance(path, (str, os.PathLike)):
        v.bad_type("path", path, "a path to an HTML file")
    out = pathlib.Path(path)
    page = render_report(study, top=top, trial=trial, dpi=dpi, source=source)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(page, encoding="utf-8")
    log.info("wrote the report of study %r to %s", study.name, out)
    return out
