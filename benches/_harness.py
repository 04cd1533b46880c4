"""Shared benchmark harness: timing with warm-up and repeats, anchors that may be missing, and
the table of medians and ratios that `ferrotune bench` prints.

Each suite module (bench_<suite>.py) defines ``run(quick: bool) -> list[Row]``.
"""

from __future__ import annotations

import dataclasses
import datetime
import importlib
import os
import platform
import statistics
import time
from collections.abc import Callable
from typing import Any


@dataclasses.dataclass
class Row:
    """One measured case: ferrotune against one anchor (or a target)."""

    suite: str
    case: str
    ferrotune: float | None  # seconds (median), or None when not measured
    anchor: str
    anchor_value: float | None  # seconds (median), or None when the anchor is missing
    unit: str = "s"
    target: str = ""  # e.g. ">= 4x"
    note: str = ""

    @property
    def ratio(self) -> float | None:
        """How many times faster ferrotune is than the anchor (anchor / ferrotune)."""
        if self.ferrotune in (None, 0) or self.anchor_value is None:
            return None
        return self.anchor_value / self.ferrotune

    def as_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["ratio"] = self.ratio
        return d


def timeit(fn: Callable[[], Any], *, repeats: int = 5, warmup: int = 1, inner: int = 1) -> float:
    """Median seconds of one call of `fn` over `repeats` timings of `inner` calls each."""
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(inner):
            fn()
        samples.append((time.perf_counter() - t0) / inner)
    return statistics.median(samples)


def optional(module: str) -> Any | None:
    """The module, or None when the anchor is not installed (reported as skipped)."""
    try:
        return importlib.import_module(module)
    except Exception:
        return None


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return (
        f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"{platform.system()} {platform.release()}, "
        f"{datetime.datetime.now().strftime('%Y-%m-%d %H:%M')}"
    )


def fmt_time(seconds: float | None, unit: str = "s") -> str:
    if seconds is None:
        return "skipped"
    if unit != "s":
        return f"{seconds:.4g} {unit}"
    for scale, name in ((1, "s"), (1e-3, "ms"), (1e-6, "us"), (1e-9, "ns")):
        if seconds >= scale:
            return f"{seconds / scale:.3g} {name}"
    return f"{seconds * 1e9:.3g} ns"


def table(rows: list[Row]) -> str:
    header = ("suite", "case", "ferrotune", "anchor", "anchor time", "ratio", "target", "note")
    body = []
    for r in rows:
        ratio = r.ratio
        body.append(
            (
                r.suite,
                r.case,
                fmt_time(r.ferrotune, r.unit),
                r.anchor,
                fmt_time(r.anchor_value, r.unit) if r.anchor_value is not None else "skipped",
                "-" if ratio is None else f"{ratio:.2f}x",
                r.target,
                r.note,
            )
        )
    widths = [max(len(str(x)) for x in col) for col in zip(header, *body, strict=False)]
    lines = ["  ".join(str(x).ljust(w) for x, w in zip(header, widths, strict=False))]
    lines.append("  ".join("-" * w for w in widths))
    lines += [
        "  ".join(str(x).ljust(w) for x, w in zip(row, widths, strict=False)) for row in body
    ]
    return "\n".join(lines)
