"""Argument checks shared by the package. Each raises with the argument's name and the bad
value with its type, so the user sees at once what to change."""

from __future__ import annotations

import importlib
import math
import numbers
import os
import sys
from typing import Any, NoReturn

from .errors import InvalidArgumentError, InvalidTypeError, MissingDependencyError


def describe(value: Any) -> str:
    """`value` quoted with its type, for messages: ``'abc' (str)``."""
    text = repr(value)
    if len(text) > 80:
        text = text[:77] + "..."
    return f"{text} ({type(value).__name__})"


def bad_value(name: str, value: Any, expected: str) -> NoReturn:
    raise InvalidArgumentError(f"{name} must be {expected}, got {describe(value)}")


def bad_type(name: str, value: Any, expected: str) -> NoReturn:
    raise InvalidTypeError(f"{name} must be {expected}, got {describe(value)}")


def real(name: str, value: Any, *, finite: bool = True) -> float:
    """A real number (not a bool), as float; NaN and infinities refused when `finite`."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        bad_type(name, value, "a real number")
    out = float(value)
    if finite and not math.isfinite(out):
        bad_value(name, value, "a finite number")
    return out


def integer(name: str, value: Any, *, minimum: int | None = None) -> int:
    """An integer (not a bool, not a float), optionally at least `minimum`."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        bad_type(name, value, "an integer")
    out = int(value)
    if minimum is not None and out < minimum:
        bad_value(name, value, f"an integer >= {minimum}")
    return out


def seed(value: Any, name: str = "seed") -> int:
    """A seed: a non-negative integer below 2**64."""
    out = integer(name, value, minimum=0)
    if out >= 2**64:
        bad_value(name, value, "below 2**64")
    return out


def flag(name: str, value: Any) -> bool:
    if not isinstance(value, bool):
        bad_type(name, value, "True or False")
    return value


def one_of(name: str, value: Any, options: tuple[str, ...]) -> str:
    if not isinstance(value, str) or value not in options:
        choices = ", ".join(repr(o) for o in options)
        bad_value(name, value, f"one of {choices}")
    return value


_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep


def user_stacklevel() -> int:
    """The ``stacklevel`` that makes a ``warnings.warn`` in the calling function point at the
    first frame outside ferrotune: the user's line, however deep the call came from (``fit``
    directly, or ``fit`` inside ``cross_validate`` inside ``Study.optimize``)."""
    level = 1
    frame = sys._getframe(1)  # the function about to warn
    while frame is not None and frame.f_code.co_filename.startswith(_PACKAGE_DIR):
        frame = frame.f_back  # type: ignore[assignment]
        level += 1
    return level


def optional_import(module: str, extra: str) -> Any:
    """Imports an optional dependency or says how to install it."""
    try:
        return importlib.import_module(module)
    except ImportError as e:
        top = module.split(".")[0]
        raise MissingDependencyError(
            f"this feature needs {top}, which is not installed: "
            f"pip install 'ferrotune[{extra}]' (or pip install {top})"
        ) from e
