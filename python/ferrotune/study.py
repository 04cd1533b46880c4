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

from . import _core
from . import _validate as v
from ._progress import progress_bar
from .errors import (
    FerrotuneError,
    StateError,
    TrialPruned,
    TrialStateError,
)
from .search import Searcher
from .storage import Journal, open_journal
from .trial import (
    Trial,
    TrialState,
    as_state,
    as_value,
    to_record,
)

__all__ = ["Study", "load_study", "SearchExhausted", "NoCompletedTrialError"]

log = logging.getLogger("ferrotune.study")

_RUNNING = TrialState.RUNNING
_KEEP_BEST = object()  # `Study._settle`: the tell did not change the best trial
_clock = time.perf_counter

Objective = Callable[[Trial], Any]
Callback = Callable[["Study", Trial], None]


class SearchExhausted(FerrotuneError):
    """The searcher has no point to propose (every grid point handed out, say)."""


class NoCompletedTrialError(FerrotuneError, ValueError):
    """A best trial was asked for before any trial completed."""


class Study(_core.StudyCore):
    """Runs a search, keeps its trials, and knows the best one.

    ``ask`` and ``tell`` are the Rust base class's: the common case (a trial asked for, then
    told a finite float) runs no Python code; every other case comes back to ``_tell``.

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
        # Bound once: ask and tell run once per trial, and a million-trial study is in scope.
        self._searcher_ask = searcher.ask
        self._searcher_tell = searcher.tell
        self.direction = v.one_of("direction", direction, ("minimize", "maximize"))
        # Searchers that follow values (gradient search) need to know which way is better.
        if hasattr(searcher, "_set_direction"):
            searcher._set_direction(self.direction)
        if name is not None and not isinstance(name, str):
            v.bad_type("name", name, "a string")
        if pruner is not None and (
            isinstance(pruner, type) or not callable(getattr(pruner, "should_prune", None))
        ):
            v.bad_type(
                "pruner",
                pruner,
                "a pruner with should_prune(study, trial), such as ft.MedianPruner(), or None",
            )
        self.pruner = pruner
        self._sign = 1.0 if direction == "minimize" else -1.0
        # Trial number -> the live Trial while it runs, a compact record once it finished (a
        # `_core.TrialList`; see trial.to_record and rust/src/bindings/trials.rs).
        self._trials = []
        self._best = None
        self._journal = None
        # What the searcher was (kind, space, seed): kept so plots and reports of a stored
        # study can read the space, e.g. which parameters are on a log scale.
        self.searcher_config: dict[str, Any] = searcher.config()
        self.name = name
        self.user_attrs: dict[str, Any] = {}
        self._stop_requested = False
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
            given = _jsonable(config)
            if journal.searcher_config != given:
                raise StateError(
                    f"study {journal.name!r} in {journal.path} was run with a different "
                    f"searcher ({_difference(journal.searcher_config, given)}); resume it "
                    f"with the same searcher, or give this search a new name"
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
            if t.state is _RUNNING:
                t._study = self
            self._update_best(t)
        self._compact_finished()

    def _compact_finished(self) -> None:
        """Keeps every finished trial but the best as a record."""
        for i, t in enumerate(self._trials):
            if type(t) is Trial and t.state is not _RUNNING and t is not self._best:
                self._trials[i] = to_record(t)

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

    # ask(), tell() and _try_ask() are the base class's (rust/src/bindings/study.rs).

    def _no_proposal(self) -> None:
        """Raises why ``ask`` has no trial to give."""
        running = self._trials.states().count(_RUNNING.value)
        if self.searcher.exhausted:
            raise SearchExhausted("the searcher has proposed every point it has")
        raise SearchExhausted(
            f"the searcher has nothing to propose until some of the {running} running "
            "trial(s) are told"
        )

    def _tell(self, trial: Trial | int, value: Any, gradient: Any, state: Any) -> Trial:
        trial = self._trial_to_tell(trial)
        if state is not None:
            state = as_state(state)
            if state not in (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAILED):
                v.bad_value("state", state, "COMPLETE, PRUNED or FAILED")
        trial.duration = _clock() - trial._t0 if trial._t0 else trial.duration
        best_before = self._best

        if isinstance(value, BaseException):
            self._finish_failed(trial, _format_exc(value))
        elif state is TrialState.PRUNED:
            # The searcher first, here and below: if it raises, the trial is still running.
            self.searcher.tell(trial.point_id, None)  # type: ignore[arg-type]
            trial.state = TrialState.PRUNED
            if trial.intermediate:
                trial.value = trial.intermediate[max(trial.intermediate)]
        elif state is TrialState.FAILED:
            self._finish_failed(trial, None if value is None else str(value))
        else:
            try:
                if value is None:
                    v.bad_value(
                        "value",
                        value,
                        "the objective's value (or an exception, or state='PRUNED'/'FAILED')",
                    )
                x = as_value(value)
            except FerrotuneError as e:
                self._finish_failed(trial, str(e))
                self._settle(trial, best_before)  # durable before the error goes up
                raise
            if math.isfinite(x):
                # The searcher first: a bad gradient raises with the trial still running.
                self.searcher.tell(trial.point_id, x, gradient)  # type: ignore[arg-type]
                trial.value = x
                trial.state = TrialState.COMPLETE
                if gradient is not None:
                    trial.gradient = gradient
                self._update_best(trial)
            else:
                self._finish_failed(
                    trial, f"the objective returned {x!r}; a trial needs a finite value"
                )
        self._settle(trial, best_before)
        return trial

    def _settle(self, trial: Trial, best_before: Any = _KEEP_BEST) -> None:
        """Writes a trial that just finished and keeps it as a record from now on.

        When the write fails, the trial runs on (RUNNING, as the journal still has it) and
        the best trial is `best_before` again, so memory and journal agree; the error goes up.

        The trial also lets go of the study: it needs the study only while it runs (reports
        and pruning), and the link would make a cycle (study -> best trial -> study) that
        keeps a dropped study and all its records alive until a full garbage collection.
        """
        try:
            self._write([trial])
        except BaseException:
            trial.state = _RUNNING
            trial.value = trial.error = trial.gradient = trial.duration = None
            if best_before is not _KEEP_BEST:
                self._best = best_before
            raise
        self._trials[trial.number] = to_record(trial)
        trial._study = None

    def _trial_to_tell(self, trial: Trial | int) -> Trial:
        if isinstance(trial, Trial):
            number = trial.number
            entry = self._trials.trial(number) if 0 <= number < len(self._trials) else None
            if entry is not trial:
                # Another object for this trial: a finished one rebuilt from its record, or a
                # copy (a pickled trial). A copy finishes the study's own object, once.
                told = (
                    entry is not None
                    and entry.state is not _RUNNING
                    and (entry.start, entry.point_id) == (trial.start, trial.point_id)
                )
                if entry is None or not (told or entry == trial):
                    raise TrialStateError(f"trial {number} does not belong to this study")
                trial = entry
        else:
            number = v.integer("trial", trial, minimum=0)
            if number >= len(self._trials):
                raise TrialStateError(
                    f"there is no trial {number}; the study has {len(self._trials)}"
                )
            trial = self._trials.trial(number)
        if trial.state is not TrialState.RUNNING:
            raise TrialStateError(
                f"trial {trial.number} is already finished ({trial.state.value}); a trial is "
                "told once"
            )
        return trial

    def _finish_failed(self, trial: Trial, error: str | None) -> None:
        self.searcher.tell(trial.point_id, None)  # type: ignore[arg-type]
        trial.state = TrialState.FAILED
        trial.value = None
        trial.error = error or "failed"

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
        n_jobs: int = 1,
        executor: Any = None,
        max_retries: int = 2,
        trial_timeout: float | None = None,
    ) -> None:
        """Runs trials until ``n_trials`` have finished in this call, ``timeout`` seconds have
        passed, the searcher runs out, :meth:`stop` is called, or Ctrl-C.

        ``objective(trial)`` returns a float. An exception marks the trial failed with its
        traceback and is raised again, unless its type is in ``catch``. Ctrl-C marks the
        running trials failed (their points are requeued for a resumed study) and returns:
        every finished trial is kept.

        Parameters
        ----------
        objective : callable
            Takes a :class:`Trial`, returns the value to minimise (or maximise).
        n_trials : int, optional
            Trials to finish in this call. Trials in flight count toward it, so parallel runs
            never start more. To end with a number of trials *in total*, however often a
            study is resumed, pass ``callbacks=[ft.MaxTrialsCallback(n)]``.
        timeout : float, optional
            Seconds after which no new trial is started; trials already running finish.
        catch : exception class or tuple of them
            Objective exceptions that fail the trial without stopping the study. A returned
            value that is not a number raises ``InvalidTypeError`` (a ``TypeError``) the same
            way.
        callbacks : iterable of callables, or one callable
            Called as ``callback(study, trial)`` after each finished trial, in the driver.
        progress : bool or "always"
            ``True`` shows a tqdm bar with the best value so far when standard error is a
            terminal; ``"always"`` shows it even when it is not (a log file, a CI job).
        n_jobs : int
            Trials run at once. 1 runs them here, in this process; ``k > 1`` runs them in
            ``k`` local worker processes (-1: one per CPU core). Worker processes receive the
            objective by pickling: define it at the top level of a module, and start scripts
            under ``if __name__ == "__main__":``. With ``executor``, caps the trials in flight.
        executor : concurrent.futures.Executor, optional
            Runs the trials: a ``ProcessPoolExecutor``, a ``ThreadPoolExecutor``, Dask's
            ``client.get_executor()`` (a Dask ``Client`` is taken as such), ... It is not
            shut down here. This process stays the only writer of the journal.
        max_retries : int
            How many times a trial whose worker died (a killed process, a broken pool, Dask's
            ``KilledWorker``) is run again before it is recorded FAILED with the cause.
            Exceptions raised by the objective are never retried.
        trial_timeout : float, optional
            Seconds a trial may run; a trial over its time is recorded FAILED
            (:class:`~ferrotune.parallel.TrialTimeoutError`) and the study goes on. With
            ``n_jobs > 1`` its worker process is stopped; with ``n_jobs=1`` the objective is
            interrupted by ``SIGALRM`` (POSIX, main thread).

        Examples
        --------
        >>> import ferrotune as ft
        >>> study = ft.Study(ft.RandomSearch({"x": ft.Float(-1, 1)}, seed=0))
        >>> study.optimize(lambda t: t.params["x"] ** 2, n_trials=10)
        >>> len(study.trials)
        10

        In a script, with worker processes (the objective defined with ``def`` at the top):

        .. code-block:: python

            if __name__ == "__main__":
                study.optimize(objective, n_trials=100, n_jobs=4)
        """
        from . import parallel

        if not callable(objective):
            v.bad_type("objective", objective, "a callable taking a trial")
        if n_trials is not None:
            n_trials = v.integer("n_trials", n_trials, minimum=0)
        if timeout is not None:
            timeout = v.real("timeout", timeout)
            if timeout <= 0:
                v.bad_value("timeout", timeout, "a positive number of seconds")
        catch = _catch_tuple(catch)
        callbacks = _callback_list(callbacks)
        for cb in callbacks:
            if not callable(cb):
                v.bad_type("callbacks", cb, "callables taking (study, trial)")
        n_jobs = parallel.check_n_jobs(n_jobs)
        executor = parallel.as_executor(executor)
        max_retries = v.integer("max_retries", max_retries, minimum=0)
        if trial_timeout is not None:
            trial_timeout = v.real("trial_timeout", trial_timeout)
            if not trial_timeout > 0:
                v.bad_value("trial_timeout", trial_timeout, "a positive number of seconds")
        budgets = [cb for cb in callbacks if isinstance(cb, parallel.MaxTrialsCallback)]
        if (
            n_trials is None
            and timeout is None
            and not budgets
            and not _finite_searcher(self.searcher)
        ):
            warnings.warn(
                "optimize() without n_trials or timeout runs until Ctrl-C",
                stacklevel=2,
            )

        bar = progress_bar(progress, total=n_trials, desc="optimize", unit="trial")
        deadline = None if timeout is None else time.perf_counter() + timeout
        self._stop_requested = False
        if n_jobs > 1 or executor is not None:
            try:
                parallel.run(
                    self,
                    objective,
                    n_trials=n_trials,
                    deadline=deadline,
                    catch=catch,
                    callbacks=callbacks,
                    bar=bar,
                    n_jobs=n_jobs,
                    executor=executor,
                    max_retries=max_retries,
                    trial_timeout=trial_timeout,
                )
            finally:
                if bar is not None:
                    bar.close()
            return

        if trial_timeout is not None and not parallel.can_alarm():
            v.bad_value(
                "trial_timeout",
                trial_timeout,
                "None with n_jobs=1 outside the main thread (the limit uses SIGALRM); "
                "use n_jobs > 1 or an executor",
            )
        done = 0
        try:
            while n_trials is None or done < n_trials:
                if deadline is not None and time.perf_counter() >= deadline:
                    break
                if self._stop_requested or (
                    budgets and not parallel.budget_left(budgets, self, 0)
                ):
                    break
                trial = self._try_ask()
                if trial is None:
                    break
                self._run_one(objective, trial, catch, trial_timeout)
                done += 1
                for cb in callbacks:
                    cb(self, trial)
                if bar is not None:
                    bar.update(best=None if self._best is None else self._best.value)
        except KeyboardInterrupt:
            self._interrupted()
            log.warning("optimize interrupted; %d trial(s) finished in this call", done)
        finally:
            if bar is not None:
                bar.close()

    def stop(self) -> None:
        """Asks a running :meth:`optimize` to start no new trial (from a callback, say).

        Trials already running finish and are recorded; ``optimize`` then returns.
        """
        self._stop_requested = True

    def _run_one(
        self,
        objective: Objective,
        trial: Trial,
        catch: tuple[type[BaseException], ...],
        trial_timeout: float | None = None,
    ) -> None:
        try:
            if trial_timeout is None:
                value = objective(trial)
            else:
                from .parallel import TrialTimeoutError, run_with_alarm

                try:
                    value = run_with_alarm(objective, trial, trial_timeout)
                except TrialTimeoutError as e:
                    self.tell(trial, state=TrialState.FAILED, value=f"{type(e).__name__}: {e}")
                    log.warning("trial %d: %s", trial.number, e)
                    return
        except TrialPruned:
            self.tell(trial, state=TrialState.PRUNED)
            return
        except KeyboardInterrupt:
            raise  # optimize requeues the running trial
        except BaseException as e:
            # SystemExit and the like fail the trial too, rather than leave it RUNNING.
            self.tell(trial, e)
            if isinstance(e, catch):
                log.info("trial %d failed: %r", trial.number, e)
                return
            raise
        try:
            self.tell(trial, value)
        except FerrotuneError as e:
            # A value that is not a number failed the trial; `catch` decides, as for an
            # exception raised by the objective (and as worker processes do).
            if trial.state is TrialState.FAILED and isinstance(e, catch):
                log.info("trial %d failed: %s", trial.number, e)
                return
            raise
        if self.pruner is not None:
            from .pruners import check_reported  # a pruner that can never act is an error

            check_reported(self, trial)

    def _interrupted(self) -> None:
        trials = self._trials
        running = [trials[i] for i, s in enumerate(trials.states()) if s == _RUNNING.value]
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
        """Every trial, by number. Running trials are the live objects; finished ones
        (the best one too: ``best_trial`` is the object that was told) are rebuilt from what
        the study records on each call, new objects equal by value, so changing them does not
        change the study."""
        return self._trials.trials()

    def trials_in(self, *states: TrialState | str) -> list[Trial]:
        """The trials in any of the given states."""
        wanted = {as_state(s) for s in states}
        return self._trials.trials({s.value for s in wanted})

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
        """The best trial's parameters as the study records them: as proposed, or the dict
        assigned to ``trial.params`` (a copy: changing it does not change the study)."""
        return self.best_trial._recorded_params  # type: ignore[no-any-return]

    def to_dataframe(self) -> Any:
        """The trials as a pandas DataFrame: one row per trial, one column per parameter
        (nested parameters by dotted path)."""
        pd = v.optional_import("pandas", "plot")
        rows = []
        for t in self.trials:
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
        if not rows:  # the same columns as a study with trials, minus the unknown parameters
            return pd.DataFrame(columns=["number", "state", "value", "start", "duration", "error"])
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
    if name is not None and not isinstance(name, str):
        v.bad_type("name", name, "a string")
    journal = open_journal(storage, name, read_only=True)
    try:
        study = Study.__new__(Study)
        study.searcher = _NoSearcher()
        study.searcher_config = journal.searcher_config
        study._searcher_ask = study.searcher.ask
        study._searcher_tell = study.searcher.tell
        study.direction = journal.direction
        study.pruner = None
        study._sign = 1.0 if study.direction == "minimize" else -1.0
        study._journal = None
        study.name = journal.name
        study.user_attrs = journal.attrs
        study._trials = list(journal.load_trials())
        study._best = None
        study._stop_requested = False
        for t in study._trials:
            study._update_best(t)
        study._compact_finished()
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


def _callback_list(callbacks: Any) -> list[Callback]:
    """``callbacks=`` as a list: None is none, a single callable is a list of one."""
    if callbacks is None:
        return []
    if callable(callbacks):
        return [callbacks]
    try:
        return list(callbacks)
    except TypeError:
        v.bad_type("callbacks", callbacks, "a list of callables taking (study, trial)")


def _finite_searcher(searcher: Searcher) -> bool:
    from .search import GridSearch

    return isinstance(searcher, GridSearch) or searcher.exhausted


def _jsonable(value: Any) -> Any:
    import json

    return json.loads(json.dumps(value))


def _short(value: Any, limit: int = 120) -> str:
    text = repr(value)
    return text if len(text) < limit else text[: limit - 3] + "..."


def _difference(stored: dict[str, Any], given: dict[str, Any]) -> str:
    """What differs between a stored searcher config and the one given, key by key."""
    keys = sorted(set(stored) | set(given))
    if stored.get("kind") != given.get("kind"):
        keys = ["kind"]  # another kind of searcher: its other keys differ by nature
    parts = [
        f"{k}: stored {_short(stored.get(k), 60)}, given {_short(given.get(k), 60)}"
        for k in keys
        if stored.get(k) != given.get(k)
    ]
    return "; ".join(parts)
