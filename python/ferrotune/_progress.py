"""Progress bars (tqdm) shared by every long-running loop: ``optimize``, cross-validation, fit.

``progress=True`` shows a bar on standard error when it is a terminal and stays quiet otherwise
(a log file or a CI job does not fill with carriage returns); ``progress="always"`` shows it
regardless. tqdm is imported only when a bar is wanted.

>>> from ferrotune._progress import progress_bar
>>> bar = progress_bar(False, total=10, desc="optimize", unit="trial")
>>> bar is None
True
"""

from __future__ import annotations

import sys
from typing import Any

from . import _validate as v

__all__ = ["Bar", "check_progress", "progress_bar"]


def check_progress(progress: Any) -> bool | str:
    """Validates a ``progress`` argument: True, False or "always"."""
    if isinstance(progress, bool):
        return progress
    if isinstance(progress, str) and progress == "always":
        return progress
    v.bad_value("progress", progress, "True, False or 'always'")


def _stderr_is_terminal() -> bool:
    stream = sys.stderr
    try:
        return stream is not None and bool(stream.isatty())
    except (AttributeError, ValueError):  # a replaced or closed stream
        return False


class Bar:
    """A tqdm bar that shows the best value so far next to the count.

    Parameters
    ----------
    total : int or None
        The expected number of steps; None for an open-ended loop.
    desc, unit : str
        The bar's label and the name of one step.
    """

    def __init__(self, *, total: int | None, desc: str, unit: str, leave: bool = True):
        tqdm = v.optional_import("tqdm", "progress").tqdm
        self._bar = tqdm(total=total, desc=desc, unit=unit, leave=leave, file=sys.stderr)
        self.best: float | None = None
        self._postfix: dict[str, Any] = {}

    def update(self, n: int = 1, *, best: float | None = None, **postfix: Any) -> None:
        """Advances by ``n`` steps. ``best`` and any other keyword go to the text after the
        bar, and stay there until given again."""
        if best is not None:
            self.best = best
        self._postfix.update(postfix)
        shown = dict(self._postfix)
        if self.best is not None:
            shown = {"best": f"{self.best:.6g}", **shown}
        if shown:
            self._bar.set_postfix(shown, refresh=False)
        self._bar.update(n)

    def close(self) -> None:
        self._bar.close()

    def __enter__(self) -> Bar:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def progress_bar(
    progress: Any, *, total: int | None, desc: str, unit: str, leave: bool = True
) -> Bar | None:
    """A :class:`Bar`, or None when ``progress`` is False or standard error is not a terminal
    (unless ``progress="always"``).

    Raises :class:`~ferrotune.errors.MissingDependencyError` when ``progress`` is not False
    and tqdm is not installed, terminal or not, so the missing extra shows up at once.
    """
    mode = check_progress(progress)
    if mode is False:
        return None
    v.optional_import("tqdm", "progress")  # a missing tqdm is reported even when quiet
    if mode is True and not _stderr_is_terminal():
        return None
    return Bar(total=total, desc=desc, unit=unit, leave=leave)
