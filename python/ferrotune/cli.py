"""The `ferrotune` command line (also `python -m ferrotune`).

User errors print one line on standard error and exit with status 2; never a traceback.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import pathlib
import sys
from collections.abc import Sequence
from types import ModuleType

from .errors import FerrotuneError

SUITES = ("search", "cg", "augment", "training", "parallel")


class UsageError(Exception):
    """A mistake on the command line, reported as one line."""


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
    spec.loader.exec_module(module)
    return module


def _bench(args: argparse.Namespace) -> int:
    directory = _benches_dir()
    suites = SUITES if args.suite == "all" else (args.suite,)
    harness = _load(directory, "_harness")
    print(f"machine: {harness.machine()}")
    rows = []
    for suite in suites:
        path = directory / f"bench_{suite}.py"
        if not path.is_file():
            print(f"{suite}: not available in this build (no {path.name})", file=sys.stderr)
            continue
        module = _load(directory, f"bench_{suite}")
        rows.extend(module.run(quick=args.quick))
    print(harness.table(rows))
    if args.json:
        out = pathlib.Path(args.json)
        try:
            out.write_text(
                json.dumps(
                    {"machine": harness.machine(), "rows": [r.as_dict() for r in rows]}, indent=2
                )
            )
        except OSError as e:
            raise UsageError(f"cannot write {out}: {e.strerror}") from e
    return 0


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="ferrotune", description="ferrotune's command line")
    sub = p.add_subparsers(dest="command", required=True)
    b = sub.add_parser("bench", help="benchmarks side by side with the anchors")
    b.add_argument("suite", nargs="?", default="all", choices=(*SUITES, "all"))
    b.add_argument("--quick", action="store_true", help="smaller sizes, fewer repeats")
    b.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    b.set_defaults(func=_bench)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except (UsageError, FerrotuneError, OSError) as e:
        print(f"ferrotune: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("ferrotune: interrupted", file=sys.stderr)
        return 130
