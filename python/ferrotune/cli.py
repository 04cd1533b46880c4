"""The `ferrotune` command line (also `python -m ferrotune`).

    ferrotune bench [search|cg|augment|training|parallel|all] [--quick] [--json FILE]
    ferrotune show STUDY.db [--name NAME] [--top N] [--json]
    ferrotune plot STUDY.db --out DIR [--name NAME] [--trial N] [--top N]
    ferrotune report STUDY.db [-o report.html] [--name NAME] [--trial N] [--top N]

A mistake (a file that is not a study, a study name that does not exist, a folder that cannot
be written, an unknown benchmark suite) prints one line on standard error and exits with
status 2; never a traceback (``--traceback`` shows one, for bug reports).
"""

from __future__ import annotations

import argparse
import errno
import importlib.util
import json
import os
import pathlib
import sys
import traceback
from collections.abc import Sequence
from types import ModuleType
from typing import Any, NoReturn

from .errors import FerrotuneError, InvalidArgumentError, StudyNotFoundError

SUITES = ("search", "cg", "augment", "training", "parallel")

EXIT_USAGE = 2  # bad input: the user can fix it
EXIT_FAILED = 1  # something ran and failed (a benchmark suite, a bug)


class UsageError(Exception):
    """A mistake on the command line, reported as one line."""


class _Parser(argparse.ArgumentParser):
    """argparse, but a mistake is one line on stderr rather than the usage text."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message} (see '{self.prog} --help')")


# -- bench ---------------------------------------------------------------------------------


def _benches_dir() -> pathlib.Path:
    env = os.environ.get("FERROTUNE_BENCHES")
    candidates = [pathlib.Path(env)] if env else []
    candidates.append(pathlib.Path(__file__).resolve().parents[2] / "benches")
    candidates.append(pathlib.Path.cwd() / "benches")
    for c in candidates:
        if (c / "_harness.py").is_file():
            return c
    raise UsageError(
        "the benchmarks ship with ferrotune's source tree: run from a checkout, or set "
        "FERROTUNE_BENCHES to its benches/ folder"
    )


def _load(directory: pathlib.Path, name: str) -> ModuleType:
    if str(directory) not in sys.path:
        sys.path.insert(0, str(directory))
    spec = importlib.util.spec_from_file_location(name, directory / f"{name}.py")
    if spec is None or spec.loader is None:
        raise UsageError(f"no benchmark module {name} in {directory}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(name, None)
        raise
    return module


def _one_line(e: BaseException) -> str:
    text = " ".join(str(e).split())
    return f"{type(e).__name__}: {text}" if text else type(e).__name__


def _run_suite(directory: pathlib.Path, suite: str, quick: bool) -> tuple[list[Any], str | None]:
    """(rows, None) when the suite ran; ([], why) when it was skipped. Failures raise."""
    path = directory / f"bench_{suite}.py"
    if not path.is_file():
        return [], f"no benchmark module {path.name} in this checkout"
    try:
        module = _load(directory, f"bench_{suite}")
    except ImportError as e:  # the suite needs a package (or a ferrotune part) not installed
        return [], f"cannot import {path.name}: {_one_line(e)}"
    run = getattr(module, "run", None)
    if not callable(run):
        raise UsageError(f"{path.name} has no run(quick) function")
    try:
        rows = list(run(quick=quick))
    except ImportError as e:  # an anchor it cannot do without
        return [], f"missing dependency: {_one_line(e)}"
    return rows, None


def _bench(args: argparse.Namespace) -> int:
    choices = (*SUITES, "all")
    if args.suite not in choices:
        raise UsageError(
            f"unknown benchmark suite {args.suite!r}: choose one of {', '.join(choices)}"
        )
    if args.json:
        _check_writable_file(pathlib.Path(args.json))  # not after minutes of measuring
    directory = _benches_dir()
    harness = _load(directory, "_harness")
    machine = harness.machine()
    print(f"machine: {machine}", flush=True)

    rows: list[Any] = []
    skipped: dict[str, str] = {}
    failed: dict[str, str] = {}
    for suite in SUITES if args.suite == "all" else (args.suite,):
        try:
            got, why = _run_suite(directory, suite, args.quick)
        except KeyboardInterrupt:
            raise
        except UsageError as e:
            failed[suite] = str(e)
            continue
        except Exception as e:  # one broken suite does not lose the others' results
            if args.traceback:
                traceback.print_exc()
            failed[suite] = _one_line(e)
            continue
        if why is not None:
            skipped[suite] = why
        rows.extend(got)

    print(harness.table(rows) if rows else "no measurements")
    # Rows whose anchor is "-" state a figure of ferrotune's own (a wall time, a memory use).
    missing = sorted(
        {r.anchor for r in rows if r.anchor_value is None and r.anchor not in ("", "-")}
    )
    if missing:
        print(f"anchors not installed (their rows are skipped): {', '.join(missing)}")
    for suite, why in skipped.items():
        print(f"{suite}: skipped ({why})")
    for suite, why in failed.items():
        print(f"ferrotune bench: suite {suite} failed: {why}", file=sys.stderr)

    if args.json:
        data = {
            "machine": machine,
            "rows": [r.as_dict() for r in rows],
            "skipped": skipped,
            "failed": failed,
        }
        _write_text(pathlib.Path(args.json), json.dumps(data, indent=2) + "\n")
    return EXIT_FAILED if failed else 0


# -- studies -------------------------------------------------------------------------------


def _load_study(path_text: str, name: str | None) -> Any:
    from .study import load_study

    path = pathlib.Path(path_text)
    if not path.exists():
        raise UsageError(f"{path_text}: no such file")
    if path.is_dir():
        raise UsageError(f"{path_text} is a folder, not a ferrotune study file")
    try:
        return load_study(path, name)
    except (InvalidArgumentError, StudyNotFoundError):
        if name is not None:
            raise
        names = _study_names(path)
        if len(names) > 1:
            raise UsageError(
                f"{path_text} holds {len(names)} studies ({', '.join(names)}): "
                "choose one with --name"
            ) from None
        if not names:
            raise UsageError(f"{path_text} is a ferrotune journal with no study in it") from None
        raise


def _study_names(path: pathlib.Path) -> list[str]:
    from . import _core

    journal = _core.Journal(str(path), read_only=True)
    try:
        return [str(s[1]) for s in journal.studies()]
    finally:
        journal.close()


def _check_trial(study: Any, number: int | None) -> None:
    if number is not None and number >= len(study.trials):
        last = f"0 to {len(study.trials) - 1}" if study.trials else "none yet"
        raise UsageError(f"--trial {number}: the study has {len(study.trials)} trials ({last})")


def _writable_folder(text: str) -> pathlib.Path:
    folder = pathlib.Path(text)
    if folder.exists() and not folder.is_dir():
        raise UsageError(f"cannot write plots to {text}: it is a file, not a folder")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise UsageError(f"cannot write to {text}: {_reason(e)}") from None
    if not os.access(folder, os.W_OK | os.X_OK):
        raise UsageError(f"cannot write to {text}: permission denied")
    return folder


def _reason(e: OSError) -> str:
    # mkdir(parents=True, exist_ok=True) fails with EEXIST only when a parent is a file.
    if e.errno in (errno.ENOTDIR, errno.EEXIST):
        return "a part of the path is a file, not a folder"
    return (e.strerror or str(e)).lower()


def _check_writable_file(path: pathlib.Path) -> None:
    """Fails early, before any long work, when `path` clearly cannot be written."""
    if path.is_dir():
        raise UsageError(f"cannot write {path}: it is a folder; give a file name")
    existing = path.parent
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if existing.exists() and not existing.is_dir():
        raise UsageError(f"cannot write {path}: {existing} is a file, not a folder")
    target = path if path.exists() else existing
    if target.exists() and not os.access(target, os.W_OK):
        raise UsageError(f"cannot write {path}: permission denied")


def _write_text(path: pathlib.Path, text: str) -> None:
    _check_writable_file(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    except OSError as e:
        raise UsageError(f"cannot write {path}: {_reason(e)}") from None


def _show(args: argparse.Namespace) -> int:
    from .report import format_summary, summarize

    study = _load_study(args.study, args.name)
    if args.json:
        print(json.dumps(summarize(study, top=args.top), indent=2))
    else:
        print(format_summary(study, top=args.top, source=args.study))
    return 0


def _plot(args: argparse.Namespace) -> int:
    from .plots import _render

    study = _load_study(args.study, args.name)
    _check_trial(study, args.trial)
    folder = _writable_folder(args.out)
    for name, fig, note in _render(study, trial=args.trial, top=args.top):
        if fig is None:
            print(f"skipped {name}: {note}")
            continue
        path = folder / f"{name}.png"
        try:
            fig.savefig(path, dpi=args.dpi)
        except OSError as e:
            raise UsageError(f"cannot write {path}: {_reason(e)}") from None
        print(path)
    return 0


def _report(args: argparse.Namespace) -> int:
    from .report import render_report

    out = pathlib.Path(args.output)
    if out.is_dir():
        raise UsageError(
            f"cannot write {out}: it is a folder; give a file name such as report.html"
        )
    _check_writable_file(out)
    study = _load_study(args.study, args.name)
    _check_trial(study, args.trial)
    page = render_report(study, top=args.top, trial=args.trial, source=args.study)
    _write_text(out, page)
    print(out)
    return 0


# -- the parser ----------------------------------------------------------------------------


def _positive_int(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if n < 1:
        raise argparse.ArgumentTypeError(f"expected a number of at least 1, got {text!r}")
    return n


MAX_DPI = 1200  # a figure is about 11 x 6 inches: 1200 dpi is already ~100 megapixels


def _dpi(text: str) -> int:
    n = _positive_int(text)
    if n > MAX_DPI:
        raise argparse.ArgumentTypeError(f"expected at most {MAX_DPI} dots per inch, got {text!r}")
    return n


def _trial_number(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a trial number, got {text!r}") from None
    if n < 0:
        raise argparse.ArgumentTypeError(f"expected a trial number (0 or more), got {text!r}")
    return n


def _study_arguments(p: argparse.ArgumentParser, *, top: int) -> None:
    p.add_argument("study", metavar="STUDY.db", help="the study's SQLite journal file")
    p.add_argument("--name", help="which study, when the file holds several")
    p.add_argument(
        "--top",
        type=_positive_int,
        default=top,
        help=f"how many of the best trials (default {top})",
    )


def _parser() -> argparse.ArgumentParser:
    from . import __version__

    p = _Parser(
        prog="ferrotune",
        description="ferrotune's command line: benchmarks, and a look at stored studies.",
    )
    p.add_argument("--version", action="version", version=f"ferrotune {__version__}")
    p.add_argument(
        "--traceback", action="store_true", help="show the full traceback of an error (for bugs)"
    )
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    # --traceback is accepted after the command too; SUPPRESS keeps the top level's value.
    common = _Parser(add_help=False)
    common.add_argument(
        "--traceback", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS
    )

    b = sub.add_parser(
        "bench",
        parents=[common],
        help="benchmarks side by side with the anchors",
        description="Times ferrotune against whichever anchors are installed (numpy, scipy, "
        "scikit-learn, Optuna, Rustuna, torchvision, albumentations, kornia) in one run and "
        "prints the medians and ratios. A missing suite or anchor is reported as skipped.",
    )
    b.add_argument(
        "suite",
        nargs="?",
        default="all",
        metavar="SUITE",
        help=f"one of {', '.join((*SUITES, 'all'))} (default all)",
    )
    b.add_argument("--quick", action="store_true", help="smaller sizes, fewer repeats")
    b.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    b.set_defaults(func=_bench)

    s = sub.add_parser(
        "show",
        parents=[common],
        help="summary of a stored study",
        description="The best trial, counts by state, durations and the top trials.",
    )
    _study_arguments(s, top=10)
    s.add_argument("--json", action="store_true", help="print the summary as JSON")
    s.set_defaults(func=_show)

    pl = sub.add_parser(
        "plot",
        parents=[common],
        help="PNG plots of a stored study",
        description="Writes history, slices, parallel coordinates, learning curves and fold "
        "scores as PNG files into a folder; plots without data are skipped with a note.",
    )
    _study_arguments(pl, top=10)
    pl.add_argument("--out", "-o", metavar="DIR", required=True, help="the folder to write into")
    pl.add_argument("--trial", type=_trial_number, help="whose learning curves (default: best)")
    pl.add_argument(
        "--dpi", type=_dpi, default=110, help=f"resolution (default 110, at most {MAX_DPI})"
    )
    pl.set_defaults(func=_plot)

    r = sub.add_parser(
        "report",
        parents=[common],
        help="one self-contained HTML page about a stored study",
        description="Summary, diagnosis and every plot in one HTML file with no outside "
        "resources.",
    )
    _study_arguments(r, top=10)
    r.add_argument(
        "-o",
        "--output",
        metavar="FILE",
        default="report.html",
        help="the HTML file to write (default report.html)",
    )
    r.add_argument("--trial", type=_trial_number, help="whose learning curves (default: best)")
    r.set_defaults(func=_report)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Runs the command line and returns the exit status."""
    show_traceback = "--traceback" in (sys.argv[1:] if argv is None else argv)
    try:
        args = _parser().parse_args(argv)
        if getattr(args, "func", None) is None:
            raise UsageError(
                "choose a command: bench, show, plot or report (see 'ferrotune --help')"
            )
        return int(args.func(args))
    except BrokenPipeError:  # `ferrotune show ... | head`
        _quiet_stdout()
        return 0
    except (UsageError, FerrotuneError, OSError) as e:
        if show_traceback:
            traceback.print_exc()
        print(f"ferrotune: error: {' '.join(str(e).split())}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("ferrotune: interrupted", file=sys.stderr)
        return 130
    except Exception as e:
        if show_traceback:
            traceback.print_exc()
        print(
            f"ferrotune: internal error: {_one_line(e)} (run again with --traceback and "
            "please report it)",
            file=sys.stderr,
        )
        return EXIT_FAILED


def _quiet_stdout() -> None:
    # Python flushes stdout at exit; with the reader gone that would fail again, loudly.
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass
