"""Exceptions raised by ferrotune.

Every error a user can cause is a subclass of :class:`FerrotuneError` and also of the builtin
that describes it (``ValueError`` for a bad value, ``TypeError`` for a bad type), so existing
``except ValueError`` blocks keep working. Messages name the argument and quote the bad value.
The Rust core raises these same classes (see ``rust/src/bindings/errors.rs``).
"""

from __future__ import annotations

__all__ = [
    "FerrotuneError",
    "InvalidArgumentError",
    "InvalidTypeError",
    "IndexOutOfRangeError",
    "StorageError",
    "NotAJournalError",
    "IncompatibleJournalError",
    "StudyNotFoundError",
    "TrialStateError",
    "StateError",
    "TrialPruned",
    "MissingDependencyError",
    "InternalError",
]


class FerrotuneError(Exception):
    """Base class of every ferrotune exception."""


class InvalidArgumentError(FerrotuneError, ValueError):
    """An argument has a value ferrotune cannot use."""


class InvalidTypeError(FerrotuneError, TypeError):
    """An argument has a type ferrotune cannot use."""


class IndexOutOfRangeError(FerrotuneError, IndexError):
    """An index past the end of a grid or sequence."""


class StorageError(FerrotuneError):
    """The trial journal could not be opened, read or written."""


class NotAJournalError(StorageError, ValueError):
    """A storage path exists but is not a ferrotune study journal."""


class IncompatibleJournalError(StorageError, ValueError):
    """A journal written by a ferrotune whose format this one cannot read."""


class StudyNotFoundError(StorageError, KeyError):
    """A named study does not exist in the journal."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class TrialStateError(FerrotuneError, ValueError):
    """A trial was told twice, or is not part of the study."""


class StateError(FerrotuneError, ValueError):
    """A saved searcher state cannot be restored into this searcher."""


class TrialPruned(FerrotuneError):
    """Raised inside an objective to stop a trial that a pruner judged hopeless."""


class MissingDependencyError(FerrotuneError, ImportError):
    """An optional dependency (torch, pandas, matplotlib, dask, ...) is not installed."""


class InternalError(FerrotuneError, RuntimeError):
    """A bug in ferrotune itself. Please report it with the message."""
