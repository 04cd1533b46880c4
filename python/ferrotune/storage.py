"""Where a study keeps its trials: in memory, or in an embedded SQLite journal.

The journal is written only by the study driver. Each trial state change is one transaction
carrying the searcher's state too, so a reopened study knows exactly which points were out.
"""

from __future__ import annotations

import json
import os
import time
import warnings
import weakref
from typing import Any

from . import _core
from . import _validate as v
from .errors import StorageError
from .trial import Trial, TrialState

__all__ = ["Journal", "open_journal"]

_STATES = {s.value: s for s in TrialState}


def _dumps(value: Any, what: str) -> str:
    try:
        return json.dumps(value, allow_nan=True)
    except (TypeError, ValueError) as e:
        raise StorageError(
            f"{what} cannot be stored in the journal because it is not JSON-serialisable: {e}"
        ) from e


def _row(trial: Trial) -> tuple[Any, ...]:
    return (
        trial.number,
        trial.point_id,
        trial.state.value,
        _dumps(trial._recorded_params, f"trial {trial.number}'s params"),
        trial.value,
        trial.start,
        trial.duration,
        json.dumps({str(k): x for k, x in trial.intermediate.items()})
        if trial.intermediate
        else None,
        trial.error,
        _dumps(trial.attrs, f"trial {trial.number}'s attrs") if trial.attrs else None,
    )


def _trial(row: tuple[Any, ...]) -> Trial:
    number, point_id, state, params, value, start, duration, inter, error, attrs = row
    return Trial(
        number,
        json.loads(params),
        point_id=point_id,
        state=_STATES[state],
        value=value,
        start=start or 0.0,
        duration=duration,
        intermediate={int(k): x for k, x in json.loads(inter).items()} if inter else {},
        error=error,
        attrs=json.loads(attrs) if attrs else {},
    )


class Journal:
    """One study's view of a journal file."""

    def __init__(self, core: Any, study_id: int, name: str, record: tuple[Any, ...]):
        self._core = core
        self.closed = False
        self.study_id = study_id
        self.name = name
        self.record = record

    @property
    def path(self) -> str:
        return str(self._core.path)

    @property
    def direction(self) -> str:
        return str(self.record[2])

    @property
    def searcher_config(self) -> dict[str, Any]:
        return dict(json.loads(self.record[3]))

    @property
    def searcher_state(self) -> str | None:
        return self.record[4]  # type: ignore[no-any-return]

    @property
    def attrs(self) -> dict[str, Any]:
        return dict(json.loads(self.record[5]))

    def load_trials(self) -> list[Trial]:
        return [_trial(r) for r in self._core.trials(self.study_id)]

    def write(self, trials: list[Trial], searcher_state: str | None) -> None:
        self._core.write_trials(self.study_id, [_row(t) for t in trials], searcher_state)

    def set_attrs(self, attrs: dict[str, Any]) -> None:
        self._core.set_study_attrs(self.study_id, _dumps(attrs, "study attrs"))

    def close(self) -> None:
        _forget_lock(self._core)
        self._core.close()
        self.closed = True


# -- the writer's lock and forked children ---------------------------------------------------
#
# The journal's lock is an flock on `<path>.lock`, which a forked child shares with its parent.
# A child that outlives the driver (a worker of a fork-based process pool, say) would keep the
# study locked after the driver was killed. So forked children close their copy of it at once.

_LOCK_FDS: dict[int, list[int]] = {}  # id(core journal) -> fds of its lock file in this process


def _remember_lock(core: Any, path: str) -> None:
    target = os.path.realpath(path) + ".lock"
    try:
        names = os.listdir("/proc/self/fd")  # Linux; elsewhere children keep the lock
    except OSError:
        return
    fds = []
    for name in names:
        try:
            if os.readlink(f"/proc/self/fd/{name}") == target:
                fds.append(int(name))
        except (OSError, ValueError):
            pass
    if fds:
        _LOCK_FDS[id(core)] = fds


def _forget_lock(core: Any) -> None:
    _LOCK_FDS.pop(id(core), None)


def _close_locks_in_child() -> None:
    if not _LOCK_FDS:
        return
    # /dev/null takes the lock's place: the descriptor number stays valid for the Rust side,
    # and this process no longer refers to the locked file.
    try:
        null = os.open(os.devnull, os.O_RDONLY)
    except OSError:
        return
    for fds in _LOCK_FDS.values():
        for fd in fds:
            try:
                os.dup2(null, fd)
            except OSError:
                pass
    os.close(null)
    _LOCK_FDS.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_close_locks_in_child)


# -- one writer per file, also within this process ---------------------------------------------
#
# Re-running `study = ft.Study(..., storage="s.db")` (a notebook cell, say) opens the file again
# while the earlier Study still holds the writer's lock. Within one process that earlier
# handle is closed with a warning (its Study can no longer write), rather than refusing the
# new one: the new Study has just loaded every trial, so nothing is lost.


_WRITERS: dict[str, weakref.ref[Journal]] = {}


def _release_in_this_process(path: str) -> None:
    ref = _WRITERS.pop(os.path.realpath(path), None)
    earlier = None if ref is None else ref()
    if earlier is None or earlier.closed:
        return
    earlier.close()
    warnings.warn(
        f"{path} was already open for writing in this process; the earlier Study on it was "
        "closed and can no longer record trials",
        stacklevel=4,
    )


def _path(storage: Any) -> str:
    if isinstance(storage, str) and storage.startswith("sqlite:///"):
        storage = storage[len("sqlite:///") :]
    if not isinstance(storage, (str, os.PathLike)):
        v.bad_type("storage", storage, "None (in memory) or a path to a SQLite journal")
    return os.fspath(storage)


def open_journal(
    storage: Any,
    name: str | None,
    *,
    create: dict[str, Any] | None = None,
    read_only: bool = False,
    sync: str = "normal",
) -> Journal:
    """Opens the study `name` in the journal at `storage`.

    With `create` (direction, searcher config and state), a missing study is created; without
    it, a missing study is an error. A `name` of None picks the only study in the file, or
    "default" when creating in a file with none.
    """
    path = _path(storage)
    if read_only or create is None:
        if not os.path.exists(path):
            raise StorageError(f"storage {path!r} does not exist")
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise StorageError(
            f"storage {path!r}: its folder {folder!r} does not exist; create it first"
        )
    if not read_only:
        _release_in_this_process(path)
    core = _core.Journal(path, read_only=read_only, sync=sync)
    if not read_only:
        _remember_lock(core, path)
    try:
        if name is None:
            names = [s[1] for s in core.studies()]
            if len(names) == 1:
                name = names[0]
            elif not names and create is not None:
                name = "default"
            elif not names:
                core.require_study("default")  # raises StudyNotFoundError
            else:
                v.bad_value(
                    "name",
                    None,
                    f"one of the studies in {path!r}: " + ", ".join(repr(n) for n in names),
                )
        assert name is not None
        record = core.study(name)
        if record is None:
            if create is None:
                record = core.require_study(name)  # raises StudyNotFoundError
            else:
                core.create_study(
                    name,
                    create["direction"],
                    _dumps(create["searcher"], "searcher config"),
                    create.get("state"),
                    time.time(),
                )
                record = core.require_study(name)
        journal = Journal(core, record[0], name, record)
        if not read_only:
            _WRITERS[os.path.realpath(path)] = weakref.ref(journal)
        return journal
    except BaseException:
        core.close()
        raise
