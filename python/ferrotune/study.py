"""The study: runs trials proposed by a searcher, keeps them, and knows the best one.

>>> import ferrotune as ft
>>> study = ft.Study(ft.RandomSearch({"x": ft.Float(-2, 2)}, seed=0))
>>> study.optimize(lambda t: (t.params["x"] - 1) ** 2, n_trials=50)
>>> abs(study.best_params["x"] - 1) < 0.2
True
"""

from __future__ import annotations

import logging
import math
import time
import traceback
import warnings
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from . import _validate as v
from .errors import (
    FerrotuneError,
    StateError,
    TrialPruned,
    TrialStateError,
)
from .search import Searcher
from .storage import Journal, open_journal
from .trial import Trial, TrialState, as_value

__all__ = ["Study", "load_study", "SearchExhausted", "NoCompletedTrialError"]

log = logging.getLogger("ferrotune.study")

Objective = Callable[[Trial], Any]
Callback = Callable[["Study", Trial], None]


class SearchExhausted(FerrotuneError):
    """The searcher has no point to propose (every grid point handed out, say)."""


class NoCompletedTrialError(FerrotuneError, ValueError):
    """A best trial was asked for before any trial completed."""


class Study:
    """Runs a search, keeps its trials, and knows the best one.

    Parameters
    ----------
    searcher : Searcher
        ``RandomSearch``, ``GridSearch``, ``GradientSearch`` or your own.
    direction : {"minimize", "maximize"}
    storage : None or path
        None keeps trials in memory. A path keeps them in an embedded SQLite journal (WAL) that
        this study is the only writer of; opening the same path and name again resumes the
        study, searcher state included.
    name : str, optional
        The study's name within the journal. None picks the file's only study, or "default".
    pruner : optional
        An object with ``should_prune(study, trial) -> bool``, consulted by
        ``trial.should_prune()``.
    sync : {"normal", "full"}
        Journal durability. "normal" survives a crash of the process (each finished trial is
        in the file before the next is asked); "full" also survives power loss, at the cost of
        an fsync per trial.
    """

    def __init__(
        self,
        searcher: Searcher,
        *,
        direction: str = "minimize",
        storage: Any = None,
        name: str | None = None,
        pruner: Any = None,
        sync: str = "normal",
    ):
        if not isinstance(searcher, Searcher):
            v.bad_type("searcher", searcher, "a Searcher (RandomSearch, GridSearch, ...)")
        self.searcher = searcher
        self.direction = v.one_of("direction", direction, ("minimize", "maximize"))
        if name is not None and not isinstance(name, str):
            v.bad_type("name", name, "a string")
        self.pruner = pruner
        self._sign = 1.0 if direction == "minimize" else -1.0
        self._trials: list[Trial] = []
        self._best: Trial | None = None
        self._journal: Journal | None = None
        self.name = name
        self.user_attrs: dict[str, Any] = {}
        if storage is not None:
            self._open(storage, name, v.one_of("sync", sync, ("normal", "full")))

    # -- storage ---------------------------------------------------------------------------

    def _open(self, storage: Any, name: str | None, sync: str) -> None:
        config = self.searcher.config()
        journal = open_journal(
            storage,
            name,
            create={
                "direction": self.direction,
                "searcher": config,
                "state": self.searcher.state(),
            },
            sync=sync,
        )
        try:
            if journal.direction != self.direction:
                v.bad_value(
                    "direction",
                    self.direction,
                    f"{journal.direction!r}, the direction of the stored study {journal.name!r}",
                )
            if journal.searcher_config != _jsonable(config):
                raise StateError(
                    f"study {journal.name!r} in {journal.path} was run with a different "
                    f"searcher ({_short(journal.searcher_config)}); resume it with the same "
                    f"searcher, or give this search a new name"
                )
            if journal.searcher_state is not None:
                self.searcher.restore(journal.searcher_state)
            self._trials = journal.load_trials()
            self.user_attrs = journal.attrs
            self.name = journal.name
            self._recover(journal)
        except BaseException:
            journal.close()
            raise
        self._journal = journal
        for t in self._trials:
            t._study = self
            self._update_best(t)

    def _recover(self, journal: Journal) -> None:
        """Trials left RUNNING by a driver that died are failed, and their points requeued."""
        orphans = [t for t in self._trials if t.state is TrialState.RUNNING]
        if not orphans:
            return
        for t in orphans:
            t.state = TrialState.FAILED
            t.error = "the study driver stopped while this trial was running; point requeued"
            if t.point_id is not None:
                self.searcher.requeue(t.point_id)
        journal.write(orphans, self.searcher.state())
        log.warning(
            "study %r: %d trial(s) left running by a stopped driver were marked "
            "failed and their points requeued",
            journal.name,
            len(orphans),
        )

    def close(self) -> None:
        """Closes the journal (and releases its lock). The trials stay readable."""
        if self._journal is not None:
            self._journal.close()
            self._journal = None

    def __enter__(self) -> Study:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:
            pass

    def _write(self, trials: list[Trial]) -> None:
        if self._journal is not None:
            self._journal.write(trials, self.searcher.state())

    def set_user_attr(self, key: str, value: Any) -> None:
        """Stores a JSON-serialisable attribute with the study."""
        if not isinstance(key, str):
            v.bad_type("key", key, "a string")
        self.user_attrs[key] = value
        if self._journal is not None:
            self._journal.set_attrs(self.user_attrs)

    # -- ask and tell ----------------------------------------------------------------------

    def _try_ask(self) -> Trial | None:
        proposal = self.searcher.ask()
        if proposal is None:
            return None
        point_id, params = proposal
        trial = Trial(len(self._trials), params, point_id=point_id, start=time.time(), study=self)
        trial._t0 = time.perf_counter()
        self._trials.append(trial)
        if self._journal is not None:
            self._journal.write([trial], self.searcher.state())
        return trial

    def ask(self) -> Trial:
        """The next trial to evaluate. Raises :class:`SearchExhausted` when the searcher has
        nothing to propose (a finished grid; or points that wait on running trials)."""
        trial = self._try_ask()
        if trial is None:
            running = sum(1 for t in self._trials if t.state is TrialState.RUNNING)
            if self.searcher.exhausted:
                raise SearchExhausted("the searcher has proposed every point it has")
            raise SearchExhausted(
                f"the searcher has nothing to propose until some of the {running} running "
                "trial(s) are told"
            )
        return trial

    def tell(
        self,
        trial: Trial | int,
        value: Any = None,
        *,
        gradient: Any = None,
        state: TrialState | str | None = None,
    ) -> Trial:
        """Finishes a trial with its value, or with an exception (it failed).

        ``state="PRUNED"`` records a pruned trial (its last reported value is kept). A NaN or
        infinite value fails the trial: it can never be the best. ``gradient`` (same length
        as the parameters the searcher works in) goes to searchers that use it.
        """
        trial = self._trial_to_tell(trial)
        if state is not None:
            state = TrialState(state) if isinstance(state, str) else state
            if state not in (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAILED):
                v.bad_value("state", state, "COMPLETE, PRUNED or FAILED")
        trial.duration = time.perf_counter() - trial._t0 if trial._t0 else trial.duration

        if isinstance(value, BaseException):
            self._finish_failed(trial, _format_exc(value))
        elif state is TrialState.PRUNED:
            trial.state = TrialState.PRUNED
            if trial.intermediate:
                trial.value = trial.intermediate[max(trial.intermediate)]
            self.searcher.tell(trial.point_id, None)  # type: ignore[arg-type]
        elif state is TrialState.FAILED:
            self._finish_failed(trial, None if value is None else str(value))
        else:
            if value is None:
                v.bad_value(
                    "value",
                    value,
                    "the objective's value (or an exception, or state='PRUNED'/'FAILED')",
                )
            try:
                x = as_value(value)
            except FerrotuneError as e:
                self._finish_failed(trial, str(e))
                raise
            if math.isfinite(x):
                trial.value = x
                trial.state = TrialState.COMPLETE
                if gradient is not None:
                    trial.gradient = gradient
                self.searcher.tell(trial.point_id, x, gradient)  # type: ignore[arg-type]
                self._update_best(trial)
            else:
                self._finish_failed(
                    trial, f"the objective returned {x!r}; a trial needs a finite value"
                )
        self._write([trial])
        return trial

    def _trial_to_tell(self, trial: Trial | int) -> Trial:
        if isinstance(trial, Trial):
            if trial._study is not self and not (
                0 <= trial.number < len(self._trials) and self._trials[trial.number] is trial
            ):
                raise TrialStateError(f"trial {trial.number} does not belong to this study")
        else:
            number = v.integer("trial", trial, minimum=0)
            if number >= len(self._trials):
                raise TrialStateError(
                    f"there is no trial {number}; the study has {len(self._trials)}"
                )
            trial = self._trials[number]
        if trial.state is not TrialState.RUNNING:
            raise TrialStateError(
                f"trial {trial.number} is already finished ({trial.state.value}); a trial is "
                "told once"
            )
        return trial

    def _finish_failed(self, trial: Trial, error: str | None) -> None:
        trial.state = TrialState.FAILED
        trial.value = None
        trial.error = error or "failed"
        self.searcher.tell(trial.point_id, None)  # type: ignore[arg-type]

    def _update_best(self, trial: Trial) -> None:
        if trial.state is not TrialState.COMPLETE or trial.value is None:
            return
        if self._best is None or self._sign * trial.value < self._sign * self._best.value:  # type: ignore[operator]
            self._best = trial

    def _on_report(self, trial: Trial, step: int) -> None:
        """Hook for reports (a parallel driver relays them; pruners read them)."""

    def _should_prune(self, trial: Trial) -> bool:
        if self.pruner is None:
            return False
        return bool(self.pruner.should_prune(self, trial))

    # -- the loop ---------------------------------------------------------------------------

    def optimize(
        self,
        objective: Objective,
        *,
        n_trials: int | None = None,
        timeout: float | None = None,
        catch: Sequence[type[BaseException]] | type[BaseException] = (),
        callbacks: Iterable[Callback] = (),
        progress: bool = False,
    ) -> None:
        """Runs trials until ``n_trials`` have finished in this call, ``timeout`` seconds have
        passed, the searcher runs out, or Ctrl-C.

        ``objective(trial)`` returns a float. An exception marks the trial failed with its
        traceback and is raised again, unless its type is in ``catch``. Ctrl-C marks the
        running trial failed (its point is requeued for a resumed study) and returns: every
        finished trial is kept.
        """
        if not callable(objective):
            v.bad_type("objective", objective, "a callable taking a trial")
        if n_trials is not None:
            n_trials = v.integer("n_trials", n_trials, minimum=0)
        if timeout is not None:
            timeout = v.real("timeout", timeout)
            if timeout <= 0:
                v.bad_value("timeout", timeout, "a positive number of seconds")
        catch = _catch_tuple(catch)
        callbacks = list(callbacks)
        for cb in callbacks:
            if not callable(cb):
                v.bad_type("callbacks", cb, "callables taking (study, trial)")
        if n_trials is None and timeout is None and not _finite_searcher(self.searcher):
            warnings.warn(
                "optimize() without n_trials or timeout runs until Ctrl-C",
                stacklevel=2,
            )

        bar = _progress(self, n_trials, progress)
        deadline = None if timeout is None else time.perf_counter() + timeout
        done = 0
        try:
            while n_trials is None or done < n_trials:
                if deadline is not None and time.perf_counter() >= deadline:
                    break
                trial = self._try_ask()
                if trial is None:
                    break
                self._run_one(objective, trial, catch)
                done += 1
                for cb in callbacks:
                    cb(self, trial)
                if bar is not None:
                    bar.update(trial)
        except KeyboardInterrupt:
            self._interrupted()
            log.warning("optimize interrupted; %d trial(s) finished in this call", done)
        finally:
            if bar is not None:
                bar.close()

    def _run_one(
        self, objective: Objective, trial: Trial, catch: tuple[type[BaseException], ...]
    ) -> None:
        try:
            value = objective(trial)
        except TrialPruned:
            self.tell(trial, state=TrialState.PRUNED)
            return
        except Exception as e:
            self.tell(trial, e)
            if isinstance(e, catch):
                log.info("trial %d failed: %r", trial.number, e)
                return
            raise
        try:
            self.tell(trial, value)
        except FerrotuneError:
            if trial.state is TrialState.FAILED and FerrotuneError in catch:
                return
            raise
        if self.pruner is not None:
            from .pruners import check_reported  # a pruner that can never act is an error

            check_reported(self, trial)

    def _interrupted(self) -> None:
        running = [t for t in self._trials if t.state is TrialState.RUNNING]
        for t in running:
            t.state = TrialState.FAILED
            t.error = "interrupted (KeyboardInterrupt); point requeued"
            t.duration = time.perf_counter() - t._t0 if t._t0 else None
            if t.point_id is not None:
                self.searcher.requeue(t.point_id)
        self._write(running)

    # -- results ----------------------------------------------------------------------------

    @property
    def trials(self) -> list[Trial]:
        """Every trial, by number (a copy of the list; the trials themselves are live)."""
        return list(self._trials)

    def trials_in(self, *states: TrialState | str) -> list[Trial]:
        """The trials in any of the given states."""
        wanted = {TrialState(s) if isinstance(s, str) else s for s in states}
        return [t for t in self._trials if t.state in wanted]

    @property
    def best_trial(self) -> Trial:
        """The complete trial with the lowest value (highest when maximizing)."""
        if self._best is None:
            raise NoCompletedTrialError(
                f"no trial has completed yet ({len(self._trials)} trial(s) in the study)"
            )
        return self._best

    @property
    def best_value(self) -> float:
        return self.best_trial.value  # type: ignore[return-value]

    @property
    def best_params(self) -> dict[str, Any]:
        return self.best_trial.params

    def to_dataframe(self) -> Any:
        """The trials as a pandas DataFrame: one row per trial, one column per parameter
        (nested parameters by dotted path)."""
        pd = v.optional_import("pandas", "plot")
        rows = []
        for t in self._trials:
            row: dict[str, Any] = {
                "number": t.number,
                "state": t.state.value,
                "value": t.value,
                "start": pd.Timestamp(t.start, unit="s"),
                "duration": t.duration,
            }
            for key, val in _flatten(t.params).items():
                row[f"params.{key}"] = val
            row["error"] = t.error
            rows.append(row)
        return pd.DataFrame(rows)

    def __repr__(self) -> str:
        where = "memory" if self._journal is None else self._journal.path
        return (
            f"Study(name={self.name!r}, direction={self.direction!r}, "
            f"trials={len(self._trials)}, storage={where!r})"
        )


def load_study(storage: Any, name: str | None = None) -> Study:
    """Opens a stored study read-only, to look at its trials (no searcher needed).

    Raises :class:`~ferrotune.errors.StudyNotFoundError` when ``name`` is not in the file.
    """
    journal = open_journal(storage, name, read_only=True)
    try:
        study = Study.__new__(Study)
        study.searcher = _NoSearcher()
        study.direction = journal.direction
        study.pruner = None
        study._sign = 1.0 if study.direction == "minimize" else -1.0
        study._journal = None
        study.name = journal.name
        study.user_attrs = journal.attrs
        study._trials = journal.load_trials()
        study._best = None
        for t in study._trials:
            study._update_best(t)
        return study
    finally:
        journal.close()


class _NoSearcher(Searcher):
    """The searcher of a study loaded for reading: it proposes nothing."""

    def ask(self) -> None:
        return None

    @property
    def exhausted(self) -> bool:
        return True

    def tell(self, point_id: int, value: float | None, gradient: Any = None) -> None:
        pass

    def requeue(self, point_id: int) -> None:
        pass

    def state(self) -> str:
        return "{}"

    def restore(self, state: str) -> None:
        pass

    def config(self) -> dict[str, Any]:
        return {"kind": "none"}


def _flatten(params: Any, prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    if isinstance(params, dict):
        for k, val in params.items():
            out.update(_flatten(val, f"{prefix}.{k}" if prefix else str(k)))
    else:
        out[prefix] = params
    return out


def _format_exc(e: BaseException) -> str:
    return "".join(traceback.format_exception(type(e), e, e.__traceback__))


def _catch_tuple(catch: Any) -> tuple[type[BaseException], ...]:
    items = catch if isinstance(catch, (tuple, list)) else (catch,)
    for c in items:
        if not (isinstance(c, type) and issubclass(c, BaseException)):
            v.bad_type("catch", c, "an exception class or a tuple of them")
    return tuple(items)


def _finite_searcher(searcher: Searcher) -> bool:
    from .search import GridSearch

    return isinstance(searcher, GridSearch) or searcher.exhausted


def _jsonable(value: Any) -> Any:
    import json

    return json.loads(json.dumps(value))


def _short(config: dict[str, Any]) -> str:
    text = repr(config)
    return text if len(text) < 120 else text[:117] + "..."


class _Bar:
    """A tqdm bar showing the best value so far."""

    def __init__(self, study: Study, total: int | None, tqdm: Any):
        self.study = study
        self.bar = tqdm(total=total, unit="trial", desc="optimize")

    def update(self, trial: Trial) -> None:
        if self.study._best is not None:
            self.bar.set_postfix(best=f"{self.study._best.value:.6g}", refresh=False)
        self.bar.update(1)

    def close(self) -> None:
        self.bar.close()


def _progress(study: Study, total: int | None, progress: bool) -> _Bar | None:
    if not v.flag("progress", progress):
        return None
    tqdm = v.optional_import("tqdm", "progress").tqdm
    return _Bar(study, total, tqdm)
