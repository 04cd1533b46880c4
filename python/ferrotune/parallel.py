"""Running trials in parallel: local worker processes, any ``concurrent.futures`` executor, Dask.

The study driver (the process that called :meth:`Study.optimize`) stays the only writer of the
journal. It asks the searcher for points, records each trial as RUNNING *before* it submits
it, and records the result when it comes back; workers only compute. Because sample ``i`` is a
pure function of ``(seed, i)`` and every ask happens in the driver, in order, the same seed
gives the same trials whatever the number of workers.

Faults are sorted into two kinds:

* the objective raised: the trial is FAILED with the worker's traceback, and the exception is
  raised again in the driver unless its type is in ``catch`` (as with ``n_jobs=1``);
* the infrastructure failed (a worker process died, ``BrokenProcessPool``, Dask's
  ``KilledWorker``, a lost connection): the trial is submitted again, up to ``max_retries``
  times, then FAILED with the cause. A broken process pool is replaced by a fresh one.

Intermediate reports and pruning decisions travel over a small socket server that the driver
runs while a pruner is set: ``trial.report`` in a worker sends the value, ``trial.should_prune``
asks the driver, whose pruner sees every trial of the study.
"""

from __future__ import annotations

import collections
import concurrent.futures as cf
import json
import logging
import math
import numbers
import os
import pickle
import signal
import sys
import threading
import time
import traceback
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Callable

from . import _validate as v
from .errors import FerrotuneError, InvalidTypeError, TrialPruned
from .trial import Trial, TrialState, as_state, as_value

if TYPE_CHECKING:
    from .study import Study

__all__ = [
    "MaxTrialsCallback",
    "UnpicklableObjectiveError",
    "ObjectiveLoadError",
    "TrialTimeoutError",
    "WorkerLostError",
]

log = logging.getLogger("ferrotune.parallel")

# How often the driver wakes up, at most, to look at trial deadlines and the study timeout.
_TICK = 0.05


class UnpicklableObjectiveError(InvalidTypeError):
    """The objective cannot be sent to worker processes (it cannot be pickled)."""


class ObjectiveLoadError(FerrotuneError, RuntimeError):
    """A worker could not load the objective it was sent (its module is not importable there)."""


class TrialTimeoutError(FerrotuneError, TimeoutError):
    """A trial ran longer than ``trial_timeout``; it is recorded as FAILED."""


class WorkerLostError(FerrotuneError, RuntimeError):
    """The worker running a trial died (or its connection was lost) ``max_retries + 1`` times.

    Used as the recorded cause of such a trial; never raised by ``optimize``.
    """


class MaxTrialsCallback:
    """Ends ``optimize`` once the study holds ``n_trials`` trials in ``states``, counting every
    run of the study: trials finished before a crash and in earlier calls count too.

    This is how a resumed study ends with exactly ``n_trials`` completed trials in total:
    ``study.optimize(objective, callbacks=[ft.MaxTrialsCallback(100)])`` can be started again
    after the driver was killed, as many times as needed. Trials in flight count toward the
    limit, so parallel runs never overshoot; a trial in flight that fails frees its place again.

    Parameters
    ----------
    n_trials : int
        The number of trials in ``states`` to end with.
    states : sequence of TrialState or str
        Which trials count. Default: only COMPLETE ones.

    Examples
    --------
    >>> import ferrotune as ft
    >>> study = ft.Study(ft.RandomSearch({"x": ft.Float(0, 1)}, seed=0))
    >>> study.optimize(lambda t: t.params["x"], callbacks=[ft.MaxTrialsCallback(5)])
    >>> study.optimize(lambda t: t.params["x"], callbacks=[ft.MaxTrialsCallback(8)])
    >>> len(study.trials_in("COMPLETE"))
    8
    """

    def __init__(
        self,
        n_trials: int,
        states: Sequence[TrialState | str] | None = (TrialState.COMPLETE,),
    ):
        self.n_trials = v.integer("n_trials", n_trials, minimum=0)
        if states is None:
            states = tuple(TrialState)
        if isinstance(states, (str, TrialState)):
            states = (states,)
        try:
            self.states = frozenset(as_state(s, "states") for s in states)
        except TypeError:
            v.bad_value("states", states, "a sequence of trial states, e.g. ('COMPLETE',)")
        if not self.states:
            v.bad_value("states", states, "at least one trial state")
        self._seen: Any = None
        self._prefix = 0
        self._prefix_count = 0

    def remaining(self, study: Study) -> int:
        """How many more trials (in flight included) may still be started."""
        trials = study._trials
        if self._seen is not study or self._prefix > len(trials):
            self._seen, self._prefix, self._prefix_count = study, 0, 0
        # A finished trial never changes state again: count the finished prefix once.
        i, count = self._prefix, self._prefix_count
        while i < len(trials) and (state := as_state(trials.state(i))) is not TrialState.RUNNING:
            count += state in self.states
            i += 1
        self._prefix, self._prefix_count = i, count
        tail = sum(1 for k in range(i, len(trials)) if as_state(trials.state(k)) in self.states)
        return self.n_trials - count - tail

    def __call__(self, study: Study, trial: Trial) -> None:
        if self.remaining(study) <= 0:
            study.stop()

    def __repr__(self) -> str:
        names = sorted(s.value for s in self.states)
        return f"MaxTrialsCallback({self.n_trials}, states={names})"


def budget_left(budgets: list[MaxTrialsCallback], study: Study, in_flight: int) -> bool:
    """Whether every MaxTrialsCallback still leaves room for one more trial."""
    return all(b.remaining(study) - in_flight > 0 for b in budgets)


# -- worker side ------------------------------------------------------------------------------
#
# `_run_task` is what every executor runs. It never raises for something the objective did: it
# returns an outcome tuple, so that an exception coming out of a future always means the
# infrastructure failed.

_OBJECTIVES: dict[str, Callable[[Trial], Any]] = {}
_SLOTS: Any = None  # our own pools: shared array of (pid, trial number, attempt) per worker
_SLOT = -1
_LOAD_ERROR = ""  # why the initializer could not load the objective
_LOCAL = threading.local()


def _init_worker(
    key: str, blob: bytes, slots: Any, counter: Any, driver_pid: int
) -> None:  # pragma: no cover - runs in worker processes
    """Initializer of ferrotune's own worker processes."""
    global _SLOTS, _SLOT, _LOAD_ERROR
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the driver decides what Ctrl-C stops
    with counter.get_lock():
        _SLOT = counter.value
        counter.value += 1
    _SLOTS = slots
    slots[3 * _SLOT] = os.getpid()
    slots[3 * _SLOT + 1] = -1
    try:
        _OBJECTIVES[key] = pickle.loads(blob)
    except BaseException as e:
        _LOAD_ERROR = _format(e)  # reported per task by _run_task
    if os.name == "posix":  # os.kill(pid, 0) only probes on POSIX (Windows would kill it)
        threading.Thread(
            target=_watch_driver, args=(driver_pid,), daemon=True, name="ferrotune-watch"
        ).start()


def _watch_driver(pid: int) -> None:  # pragma: no cover - runs in worker processes
    # Worker processes outlive a driver killed with SIGKILL; this ends them soon after.
    while True:
        time.sleep(0.5)
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            os._exit(0)
        except PermissionError:
            pass


def _load_objective(key: str, blob: bytes | None, obj: Any) -> Callable[[Trial], Any]:
    if obj is not None:
        return obj  # type: ignore[no-any-return]
    fn = _OBJECTIVES.get(key)
    if fn is None:
        if blob is None:
            raise ObjectiveLoadError(_LOAD_ERROR or "the worker was started without the objective")
        fn = pickle.loads(blob)
        _OBJECTIVES.clear()  # one study at a time per worker; do not keep old objectives
        _OBJECTIVES[key] = fn
    return fn


class _RemoteStudy:
    """Stands in for the study inside a worker: relays reports and pruning questions to the
    driver's report server."""

    __slots__ = ("address", "key", "number", "attempt")

    def __init__(self, address: tuple[str, int], key: str, number: int, attempt: int):
        self.address = address
        self.key = key
        self.number = number
        self.attempt = attempt

    def _conn(self) -> Any:
        import socket

        conns = getattr(_LOCAL, "conns", None)
        if conns is None:
            conns = _LOCAL.conns = {}
        conn = conns.get(self.address)
        if conn is None:
            for old, _reader in conns.values():  # a study that ended: its server is gone
                old.close()
            conns.clear()
            sock = socket.create_connection(self.address, timeout=30)
            sock.sendall(self.key.encode() + b"\n")
            conn = conns[self.address] = (sock, sock.makefile("rb"))
        return conn

    def _send(self, message: list[Any], reply: bool) -> bytes | None:
        try:
            sock, reader = self._conn()
            sock.sendall(json.dumps(message).encode() + b"\n")
            return reader.readline() if reply else None
        except OSError as e:
            # The driver is gone or unreachable: the trial goes on; its result may be lost.
            _LOCAL.conns.pop(self.address, None)
            log.warning("cannot reach the study driver at %s: %s", self.address, e)
            return None

    def _on_report(self, trial: Trial, step: int) -> None:
        self._send(["r", self.number, self.attempt, step, trial.intermediate[step]], False)

    def _should_prune(self, trial: Trial) -> bool:
        return self._send(["p", self.number, self.attempt], True) == b"1\n"


def _run_task(
    key: str,
    blob: bytes | None,
    obj: Any,
    trial: Trial,
    attempt: int,
    report: tuple[tuple[str, int], str] | None,
) -> tuple[Any, ...]:
    """Runs one trial in a worker. Returns (kind, payload, intermediate, attrs, start, secs)."""
    start = time.time()
    t0 = time.perf_counter()
    try:
        objective = _load_objective(key, blob, obj)
    except BaseException as e:
        return ("load", _format(e), {}, {}, start, 0.0)
    if report is not None:
        trial._study = _RemoteStudy(report[0], report[1], trial.number, attempt)  # type: ignore[assignment]
    if _SLOTS is not None:
        _SLOTS[3 * _SLOT + 1] = trial.number
        _SLOTS[3 * _SLOT + 2] = attempt
    try:
        value = objective(trial)
        out: tuple[str, Any] = ("ok", as_value(value))
    except TrialPruned:
        out = ("pruned", None)
    except Exception as e:
        out = ("error", (_portable(e), _format(e)))
    finally:
        if _SLOTS is not None:
            _SLOTS[3 * _SLOT + 1] = -1
        trial._study = None
    secs = time.perf_counter() - t0
    return (out[0], out[1], trial.intermediate, trial.attrs, start, secs)


def _portable(e: BaseException) -> BaseException:
    """The exception itself if it survives pickling, else a stand-in naming its type."""
    try:
        pickle.loads(pickle.dumps(e))
        return e
    except Exception:
        return RemoteObjectiveError(f"{type(e).__module__}.{type(e).__qualname__}: {e}")


class RemoteObjectiveError(FerrotuneError, RuntimeError):
    """Stands for an exception raised by the objective in a worker that could not be sent back
    as itself (it cannot be pickled). The message names the original type."""


class _RemoteTraceback(Exception):
    """Carries the worker's traceback text as the cause of a re-raised objective error."""

    def __str__(self) -> str:
        return "\n\nTraceback in the worker:\n" + str(self.args[0])


def _format(e: BaseException) -> str:
    return "".join(traceback.format_exception(type(e), e, e.__traceback__))


# -- driver side: reports and pruning --------------------------------------------------------


class _ReportServer:
    """A socket server in the driver (one thread) receiving intermediate reports from workers
    and answering ``should_prune`` with the study's pruner. Messages are JSON lines; the first
    line of a connection must be the study's random key."""

    def __init__(self, study: Study, lock: threading.RLock, host: str):
        import secrets
        import selectors
        import socket

        self.study = study
        self.lock = lock
        self.key = secrets.token_hex(16)
        self.flights: dict[int, tuple[Trial, int]] = {}
        self.sock = socket.create_server((host, 0))
        self.sock.setblocking(False)
        self.address: tuple[str, int] = (host, self.sock.getsockname()[1])
        self.sel = selectors.DefaultSelector()
        self._read = selectors.EVENT_READ
        self.sel.register(self.sock, selectors.EVENT_READ, None)
        self._wake_r, self._wake_w = socket.socketpair()
        self.sel.register(self._wake_r, selectors.EVENT_READ, "wake")
        self._stop = False
        self.thread = threading.Thread(target=self._serve, daemon=True, name="ferrotune-reports")
        self.thread.start()

    def _serve(self) -> None:
        import secrets

        buffers: dict[Any, list[Any]] = {}
        while not self._stop:
            for sel_key, _ in self.sel.select(timeout=1.0):
                if sel_key.data == "wake":
                    return
                if sel_key.fileobj is self.sock:
                    try:
                        conn, _addr = self.sock.accept()
                    except OSError:
                        continue
                    conn.setblocking(True)
                    buffers[conn] = [b"", False]
                    self.sel.register(conn, self._read, "conn")
                    continue
                conn = sel_key.fileobj  # type: ignore[assignment]
                try:
                    data = conn.recv(65536)
                except OSError:
                    data = b""
                if not data:
                    self._drop(conn, buffers)
                    continue
                state = buffers[conn]
                state[0] += data
                while b"\n" in state[0]:
                    line, state[0] = state[0].split(b"\n", 1)
                    if not state[1]:
                        if not secrets.compare_digest(line, self.key.encode()):
                            self._drop(conn, buffers)
                            break
                        state[1] = True
                        continue
                    try:
                        self._handle(conn, line)
                    except Exception:
                        log.exception("bad report message %r", line[:200])

    def _drop(self, conn: Any, buffers: dict[Any, list[Any]]) -> None:
        try:
            self.sel.unregister(conn)
        except (KeyError, ValueError):
            pass
        buffers.pop(conn, None)
        conn.close()

    def _handle(self, conn: Any, line: bytes) -> None:
        try:
            message = json.loads(line)
            op, number, attempt = message[0], int(message[1]), int(message[2])
        except (ValueError, IndexError, TypeError):
            return
        with self.lock:
            flight = self.flights.get(number)
            live = flight is not None and flight[1] == attempt
            if op == "r":
                if live:
                    trial = flight[0]  # type: ignore[index]
                    step, value = int(message[3]), float(message[4])
                    trial.intermediate[step] = value
                    self.study._on_report(trial, step)
                return
            decision = False
            if live:
                try:
                    decision = self.study._should_prune(flight[0])  # type: ignore[index]
                except Exception:
                    log.exception("the pruner failed on trial %d; not pruning it", number)
        try:
            conn.sendall(b"1\n" if decision else b"0\n")
        except OSError:
            pass

    def close(self) -> None:
        self._stop = True
        try:
            self._wake_w.send(b"x")
        except OSError:
            pass
        self.thread.join(timeout=5)
        for sel_key in list(self.sel.get_map().values()):
            sel_key.fileobj.close()  # type: ignore[union-attr]
        self.sel.close()
        self._wake_w.close()


def _report_host(executor: Any) -> str:
    """The address workers reach the driver on: loopback for local pools; for a Dask cluster,
    the local interface that faces its scheduler (FERROTUNE_REPORT_HOST overrides)."""
    import socket

    host = os.environ.get("FERROTUNE_REPORT_HOST")
    if host:
        return host
    client = getattr(executor, "_client", None)
    address = getattr(getattr(client, "scheduler", None), "address", None)
    if not isinstance(address, str) or "://" not in address:
        return "127.0.0.1"
    hostport = address.split("://", 1)[1]
    target = hostport.rsplit(":", 1)[0].strip("[]")
    if target in ("127.0.0.1", "localhost", "::1", ""):
        return "127.0.0.1"
    try:  # no packet is sent: connecting a UDP socket only picks the route
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.connect((target, 9))
            return str(s.getsockname()[0])
    except OSError:
        return "127.0.0.1"


# -- driver side: executors -------------------------------------------------------------------


def _mp_context() -> Any:
    """How ferrotune's own worker processes start.

    "fork" starts in milliseconds, and is used when it is safe: this process runs one thread
    (forking a multi-threaded process can deadlock the child) and has not initialised CUDA
    (a forked child cannot use it). The journal's lock is not inherited (``storage.py`` closes
    it in forked children). Otherwise "forkserver" (or "spawn" where there is none): workers
    then import the objective's module afresh, which takes a fraction of a second.
    FERROTUNE_START_METHOD (fork, forkserver or spawn) overrides the choice.
    """
    import multiprocessing as mp

    methods = mp.get_all_start_methods()
    wanted = os.environ.get("FERROTUNE_START_METHOD")
    if wanted in methods:
        return mp.get_context(wanted)
    # Not on macOS: system frameworks there are not fork-safe (Python defaults to spawn).
    if "fork" in methods and sys.platform.startswith("linux") and _fork_is_safe():
        return mp.get_context("fork")
    return mp.get_context("forkserver" if "forkserver" in methods else "spawn")


def _fork_is_safe() -> bool:
    if threading.active_count() > 1:
        return False  # another Python thread may hold a lock the child would inherit held
    if sys.version_info >= (3, 12) and _os_threads() != 1:
        # Python 3.12+ warns when forking with threads started outside Python (BLAS, OpenMP).
        # Before 3.12 those are what multiprocessing always forked with on Linux: numpy's and
        # torch's pools handle a fork.
        return False
    torch = sys.modules.get("torch")
    if torch is not None:
        try:
            if torch.cuda.is_initialized():
                return False
        except Exception:
            return False
    return True


def _os_threads() -> int:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("Threads:"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return -1  # unknown


def _noop() -> None:
    pass


class _Pool:
    """The executor trials are submitted to: ferrotune's own process pool (``n_jobs``), or the
    user's executor. Knows how to rebuild a broken process pool and which trial a dead worker
    was running (own pools only)."""

    def __init__(self, executor: Any, n_jobs: int, key: str, blob: bytes | None, obj: Any):
        self.key = key
        self.blob = blob
        self.obj = obj
        self.own = executor is None
        self.user = executor
        self.slots: Any = None
        self.counter: Any = None
        self.n_jobs = n_jobs
        self.rebuilt = 0
        if self.own:
            self.executor: Any = self._new_own()
            self.capacity = n_jobs
        else:
            self.executor = executor
            self.capacity = n_jobs if n_jobs > 1 else _capacity(executor)
        self.kind = _kind(self.executor)

    def _new_own(self) -> cf.ProcessPoolExecutor:
        ctx = _mp_context()
        self.slots = ctx.Array("q", [0, -1, 0] * self.n_jobs, lock=False)
        self.counter = ctx.Value("i", 0)
        initargs = (self.key, self.blob, self.slots, self.counter, os.getpid())
        pool = cf.ProcessPoolExecutor(
            max_workers=self.n_jobs,
            mp_context=ctx,
            initializer=_init_worker,  # type: ignore[arg-type]
            initargs=initargs,  # type: ignore[arg-type]
        )
        if ctx.get_start_method() == "fork":
            pool.submit(_noop)  # fork every worker now, while this process has one thread
        return pool

    def submit(self, trial: Trial, attempt: int, report: Any) -> cf.Future[Any]:
        if self.own:
            args: tuple[Any, ...] = (self.key, None, None)
        elif self.kind == "thread":
            args = (self.key, None, self.obj)
        else:
            args = (self.key, self.blob, None)
        if self.kind == "dask":
            # pure=False: every submission is a new task (a retry must not reuse a result).
            return self.executor.submit(  # type: ignore[no-any-return]
                _run_task, *args, _detached(trial), attempt, report, pure=False
            )
        return self.executor.submit(_run_task, *args, _detached(trial), attempt, report)  # type: ignore[no-any-return]

    def running(self) -> dict[int, tuple[int, int]]:
        """Own pool: pid -> (trial number, attempt) of each worker busy with a trial."""
        out: dict[int, tuple[int, int]] = {}
        if self.slots is None:
            return out
        for i in range(self.n_jobs):
            pid, number, attempt = self.slots[3 * i : 3 * i + 3]
            if pid and number >= 0:
                out[int(pid)] = (int(number), int(attempt))
        return out

    def rebuild(self) -> dict[tuple[int, int], int | None]:
        """Replaces a broken process pool. Returns, for our own pool, the (trial, attempt)
        each worker was running when it broke, with its exit code (None when unknown)."""
        old = self.executor
        busy = self.running()
        processes = dict(getattr(old, "_processes", None) or {})
        old.shutdown(wait=True, cancel_futures=True)
        codes = {pid: processes[pid].exitcode for pid in processes}
        self.rebuilt += 1
        if self.own:
            self.executor = self._new_own()
        else:
            self.executor = _clone_process_pool(old)
        return {flight: codes.get(pid) for pid, flight in busy.items()}

    def kill_worker_running(self, number: int) -> bool:
        """Own pool: kills the worker process busy with trial ``number`` (its time is up)."""
        for pid, (n, _attempt) in self.running().items():
            if n == number:
                try:
                    os.kill(pid, getattr(signal, "SIGKILL", signal.SIGTERM))
                    return True
                except OSError:
                    return False
        return False

    def close(self, *, kill: bool) -> None:
        ex = self.executor
        if self.own or ex is not self.user:
            if kill:
                for p in list((getattr(ex, "_processes", None) or {}).values()):
                    try:
                        p.kill()
                    except Exception:
                        pass
            ex.shutdown(wait=True, cancel_futures=True)


def _clone_process_pool(old: cf.ProcessPoolExecutor) -> cf.ProcessPoolExecutor:
    """A fresh pool like the user's broken one (same size, start method and initializer)."""
    log.warning("the process pool broke; continuing on a new pool of the same size")
    return cf.ProcessPoolExecutor(
        max_workers=getattr(old, "_max_workers", None),
        mp_context=getattr(old, "_mp_context", None),
        initializer=getattr(old, "_initializer", None),
        initargs=getattr(old, "_initargs", ()),
    )


def _kind(executor: Any) -> str:
    if isinstance(executor, cf.ProcessPoolExecutor):
        return "process"
    if isinstance(executor, cf.ThreadPoolExecutor):
        return "thread"
    if type(executor).__module__.startswith("distributed"):
        return "dask"
    return "other"


def _capacity(executor: Any) -> int:
    """How many trials the executor runs at once."""
    n = getattr(executor, "_max_workers", None)
    if isinstance(n, int) and n > 0:
        return n
    client = getattr(executor, "_client", None)
    if client is not None:
        try:
            total = sum(client.nthreads().values())
            if total > 0:
                return int(total)
        except Exception:
            pass
    return os.cpu_count() or 1


def _detached(trial: Trial) -> Trial:
    """A copy of the trial for a worker: no study, its own dicts."""
    copy = Trial(trial.number, trial.params)
    copy.__setstate__(trial.__getstate__())
    copy.intermediate = dict(trial.intermediate)
    copy.attrs = dict(trial.attrs)
    return copy


def as_executor(executor: Any) -> Any:
    """Validates ``executor=``; a Dask ``Client`` is taken as ``client.get_executor()``."""
    if executor is None or isinstance(executor, cf.Executor):
        return executor
    if type(executor).__name__ == "Client" and hasattr(executor, "get_executor"):
        return executor.get_executor()
    v.bad_type(
        "executor",
        executor,
        "a concurrent.futures.Executor (ProcessPoolExecutor, ThreadPoolExecutor, a Dask "
        "client.get_executor(), ...) or None",
    )


def _serialise(objective: Any, kind: str) -> bytes | None:
    """Pickles the objective for process-based workers, or explains why it cannot be sent."""
    if kind == "thread":
        return None
    dumps: Callable[[Any], bytes] = pickle.dumps
    how = "pickle"
    if kind == "dask":
        try:
            import cloudpickle  # type: ignore[import-untyped]  # Dask sends functions with cloudpickle, lambdas included

            dumps = cloudpickle.dumps
            how = "cloudpickle"
        except ImportError:
            pass
    try:
        return dumps(objective)
    except Exception as e:
        name = getattr(objective, "__qualname__", None) or type(objective).__name__
        raise UnpicklableObjectiveError(
            f"objective {name!r} cannot be sent to worker processes: {how} failed with "
            f"{type(e).__name__}: {e}. Workers receive the objective by pickling: define it "
            "with `def` at the top level of a module (not a lambda, a nested function or a "
            "method of a local class), keep unpicklable things (open files, locks, "
            "connections) out of what it holds, and start the study from a script under "
            '`if __name__ == "__main__":`. With n_jobs=1 or a ThreadPoolExecutor nothing is '
            "pickled."
        ) from e


# -- driver side: the loop --------------------------------------------------------------------


class _Flight:
    __slots__ = ("trial", "attempt", "submitted", "deadline")

    def __init__(self, trial: Trial, attempt: int, deadline: float | None):
        self.trial = trial
        self.attempt = attempt
        self.submitted = time.perf_counter()
        self.deadline = deadline


_INFRA_NAMES = {
    "BrokenProcessPool",
    "BrokenExecutor",
    "BrokenThreadPool",
    "KilledWorker",
    "CommClosedError",
    "CancelledError",
    "FutureCancelledError",
    "WorkerLostError",
}


def run(
    study: Study,
    objective: Callable[[Trial], Any],
    *,
    n_trials: int | None,
    deadline: float | None,
    catch: tuple[type[BaseException], ...],
    callbacks: list[Any],
    bar: Any,
    n_jobs: int,
    executor: Any,
    max_retries: int,
    trial_timeout: float | None,
) -> int:
    """The parallel ask / submit / wait / tell loop. Returns the number of trials finished."""
    import secrets

    kind = "process" if executor is None else _kind(executor)
    blob = _serialise(objective, kind)
    key = secrets.token_hex(8)
    pool = _Pool(executor, n_jobs, key, blob, objective)
    driver = _Driver(study, objective, pool, catch, callbacks, bar, max_retries, trial_timeout)
    try:
        return driver.loop(n_trials, deadline)
    finally:
        driver.close()


class _Driver:
    def __init__(
        self,
        study: Study,
        objective: Callable[[Trial], Any],
        pool: _Pool,
        catch: tuple[type[BaseException], ...],
        callbacks: list[Any],
        bar: Any,
        max_retries: int,
        trial_timeout: float | None,
    ):
        self.study = study
        self.pool = pool
        self.catch = catch
        self.callbacks = callbacks
        self.budgets = [cb for cb in callbacks if isinstance(cb, MaxTrialsCallback)]
        self.bar = bar
        self.max_retries = max_retries
        self.trial_timeout = trial_timeout
        self.lock = threading.RLock()
        self.server = (
            _ReportServer(study, self.lock, _report_host(pool.executor))
            if study.pruner is not None
            else None
        )
        self.flights: dict[cf.Future[Any], _Flight] = {}
        self.retry: collections.deque[tuple[Trial, int]] = collections.deque()
        self.failures: dict[int, int] = {}
        self.orphans: list[Trial] = []  # out of flight, not finished, when the loop raised
        self.finished = 0
        self.kill_on_close = False
        # Keep the workers fed: trials queued beyond the executor's size hide the round trip
        # through the driver (milliseconds on Dask). Not where a trial timeout's clock starts
        # at submission (executors other than our own pool).
        queued = pool.own or trial_timeout is None
        depth = 4 if pool.kind == "dask" else 2
        self.width = pool.capacity * depth if queued and pool.capacity > 1 else pool.capacity

    # -- submitting

    def _room(self, n_trials: int | None) -> bool:
        pending = len(self.flights) + len(self.retry)
        if n_trials is not None and self.finished + pending >= n_trials:
            return False
        return budget_left(self.budgets, self.study, len(self.flights))

    def _submit(self, trial: Trial, attempt: int) -> None:
        report = None if self.server is None else (self.server.address, self.server.key)
        deadline = None
        if self.trial_timeout is not None and not self.pool.own:
            deadline = time.perf_counter() + self.trial_timeout
        try:
            fut = self.pool.submit(trial, attempt, report)
        except cf.BrokenExecutor as e:
            self._broken(e)
            self.retry.appendleft((trial, attempt))
            return
        except RuntimeError as e:
            raise FerrotuneError(
                f"cannot submit trial {trial.number} to the executor: {e} (was it shut down?)"
            ) from e
        flight = _Flight(trial, attempt, deadline)
        self.flights[fut] = flight
        if self.server is not None:
            with self.lock:
                self.server.flights[trial.number] = (trial, attempt)

    def _fill(self, n_trials: int | None, deadline: float | None) -> None:
        """Submits trials until the executor is full or nothing more is to be started."""
        while len(self.flights) < self.width:
            if self.retry:
                self._submit(*self.retry.popleft())
                continue
            if self.study._stop_requested or not self._room(n_trials):
                return
            if deadline is not None and time.perf_counter() >= deadline:
                return
            with self.lock:
                trial = self.study._try_ask()
            if trial is None:
                return  # a finished grid, or points that wait on trials in flight
            self._submit(trial, 0)

    # -- the loop

    def loop(self, n_trials: int | None, deadline: float | None) -> int:
        try:
            while True:
                self._fill(n_trials, deadline)
                if not self.flights:
                    if not self.retry:
                        break
                    continue
                done, _ = cf.wait(
                    list(self.flights), timeout=self._wait_time(), return_when=cf.FIRST_COMPLETED
                )
                for fut in done:
                    flight = self.flights.pop(fut, None)
                    if flight is not None:
                        self._collect(fut, flight)
                self._expire()
        except KeyboardInterrupt:
            self.kill_on_close = True
            self._abandon("interrupted (KeyboardInterrupt); point requeued")
            log.warning("optimize interrupted; %d trial(s) finished in this call", self.finished)
        except BaseException:
            self.kill_on_close = True
            self._abandon("stopped because another trial raised; point requeued")
            raise
        return self.finished

    def _wait_time(self) -> float | None:
        if self.trial_timeout is None:
            return None if not self.retry else _TICK
        soonest = math.inf
        for f in self.flights.values():
            if f.deadline is None:
                return _TICK  # watching for trials to start
            soonest = min(soonest, f.deadline)
        return max(0.0, min(soonest - time.perf_counter(), 1.0)) + 0.001

    # -- results

    def _collect(self, fut: cf.Future[Any], flight: _Flight) -> None:
        if fut.cancelled():  # not by us: we cancel only futures no longer in flight
            self._charge(flight.trial, flight.attempt, "the executor cancelled the task")
            return
        exc = fut.exception()
        if exc is not None:
            self._infra_failure(flight, exc)
            return
        kind, payload, intermediate, attrs, start, secs = fut.result()
        trial = flight.trial
        if kind == "load":
            self.orphans.append(trial)
            raise ObjectiveLoadError(
                f"a worker could not load the objective: {payload.strip().splitlines()[-1]}. "
                "Workers import the objective's module: define the objective at the top level "
                "of a module they can import (installed, or on their PYTHONPATH), not in an "
                'interactive session, and guard the script with `if __name__ == "__main__":`.'
                f"\n\nWorker traceback:\n{payload}"
            )
        error: BaseException | None = None
        with self.lock:
            if self.server is not None:
                self.server.flights.pop(trial.number, None)
            trial.intermediate.update(intermediate)
            trial.attrs.update(attrs)
            trial.start = start
            trial._t0 = time.perf_counter() - secs  # tell measures the duration from _t0
            if kind == "ok":
                self.study.tell(trial, payload)
            elif kind == "pruned":
                self.study.tell(trial, state=TrialState.PRUNED)
            else:
                error, text = payload
                trial.duration = secs
                self.study._finish_failed(trial, text)
                self.study._settle(trial)
        self._finished(trial)
        if error is not None:
            if not isinstance(error, self.catch):
                error.__cause__ = _RemoteTraceback(text)
                raise error
            log.info("trial %d failed: %r", trial.number, error)

    def _finished(self, trial: Trial) -> None:
        self.finished += 1
        for cb in self.callbacks:
            cb(self.study, trial)
        if self.bar is not None:
            best = self.study._best
            self.bar.update(best=None if best is None else best.value)

    def _fail(self, trial: Trial, cause: str) -> None:
        with self.lock:
            if self.server is not None:
                self.server.flights.pop(trial.number, None)
            trial.duration = time.perf_counter() - trial._t0
            self.study._finish_failed(trial, cause)
            self.study._settle(trial)
        self._finished(trial)

    def _infra_failure(self, flight: _Flight, exc: BaseException) -> None:
        if isinstance(exc, cf.BrokenExecutor):
            self._broken(exc, first=flight)
            return
        if isinstance(exc, (ImportError, pickle.PicklingError)):
            self.orphans.append(flight.trial)
            raise ObjectiveLoadError(
                f"the executor could not run trial {flight.trial.number}: "
                f"{type(exc).__name__}: {exc}. Is ferrotune (and the objective's module) "
                "installed where the workers run?"
            ) from exc
        # TODO: Dask raises KilledWorker for every task assigned to a worker that died, the
        # queued ones too, and says not which one was running; all of them are charged a
        # retry. Fewer trials in flight (n_jobs=) make an innocent trial's charge rarer.
        self._charge(flight.trial, flight.attempt, exc)

    def _charge(self, trial: Trial, attempt: int, exc: BaseException | str) -> None:
        cause = exc if isinstance(exc, str) else f"{type(exc).__name__}: {exc}"
        n = self.failures.get(trial.number, 0) + 1
        self.failures[trial.number] = n
        if n > self.max_retries:
            log.warning("trial %d lost its worker %d time(s); recorded failed", trial.number, n)
            if self.max_retries:
                trial.attrs["ferrotune.retries"] = self.max_retries
            self._fail(
                trial,
                f"{WorkerLostError.__name__}: the worker running this trial was lost {n} "
                f"time(s) (max_retries={self.max_retries}); last cause: {cause}",
            )
            return
        log.warning(
            "trial %d: its worker was lost (%s); retrying (%d of %d)",
            trial.number,
            cause,
            n,
            self.max_retries,
        )
        trial.attrs["ferrotune.retries"] = n
        self.retry.append((trial, attempt + 1))

    def _broken(self, exc: BaseException, first: _Flight | None = None) -> None:
        """The process pool broke: rebuild it and resubmit what it was running."""
        if not self.pool.own and self.pool.kind != "process":
            if first is not None:
                self.orphans.append(first.trial)
            raise FerrotuneError(
                f"the executor is broken and cannot be rebuilt here: {type(exc).__name__}: {exc}"
            ) from exc
        results = []
        lost = [] if first is None else [first]
        for fut, flight in list(self.flights.items()):
            self.flights.pop(fut)
            if fut.done() and not fut.cancelled() and fut.exception() is None:
                results.append((fut, flight))  # finished before the pool broke
            else:
                lost.append(flight)
        culprits = self.pool.rebuild()
        # Our own pool knows which worker ran what: a worker ended by the pool (SIGTERM) or by
        # us was innocent. A user's pool does not, so every trial in flight is charged.
        blamed = {
            flight for flight, code in culprits.items() if code is None or code != -signal.SIGTERM
        }
        for flight in lost:
            key = (flight.trial.number, flight.attempt)
            if self.pool.own and culprits and key not in blamed:
                self.retry.append((flight.trial, flight.attempt + 1))
            else:
                self._charge(flight.trial, flight.attempt, exc)
        for fut, flight in results:
            self._collect(fut, flight)

    def _expire(self) -> None:
        if self.trial_timeout is None:
            return
        now = time.perf_counter()
        if self.pool.own:
            # The clock of a trial starts when a worker picks it up, not at submission (a
            # queued trial, or one waiting for a worker process to start, is not late).
            started = set(self.pool.running().values())
            for flight in self.flights.values():
                if flight.deadline is None and (flight.trial.number, flight.attempt) in started:
                    flight.deadline = now + self.trial_timeout
        late = [
            (fut, fl)
            for fut, fl in self.flights.items()
            if fl.deadline is not None and fl.deadline <= now
        ]
        killed = False
        for fut, flight in late:
            self.flights.pop(fut, None)
            fut.cancel()
            stopped = self.pool.own and self.pool.kill_worker_running(flight.trial.number)
            killed = killed or stopped
            # TODO: a user's process pool or a Dask worker keeps running a timed-out trial
            # until it ends by itself (its result is then ignored); there is no portable way
            # to stop one task there without losing the worker.
            self._fail(
                flight.trial,
                f"{TrialTimeoutError.__name__}: the trial ran longer than trial_timeout="
                f"{self.trial_timeout:g} s" + (" (its worker was stopped)" if stopped else ""),
            )
        if killed:
            # The pool breaks; the other trials it ran are resubmitted, uncharged.
            self._rebuild_after_kill()

    def _rebuild_after_kill(self) -> None:
        results = []
        for fut, flight in list(self.flights.items()):
            self.flights.pop(fut)
            if fut.done() and not fut.cancelled() and fut.exception() is None:
                results.append((fut, flight))
            else:
                self.retry.append((flight.trial, flight.attempt + 1))
        self.pool.rebuild()
        for fut, flight in results:
            self._collect(fut, flight)

    def _abandon(self, why: str) -> None:
        """Marks every trial in flight failed, requeues their points, and drops the retries."""
        trials = [f.trial for f in self.flights.values()] + [t for t, _ in self.retry]
        trials += [t for t in self.orphans if t.state is TrialState.RUNNING]
        for fut in self.flights:
            fut.cancel()
        self.flights.clear()
        self.retry.clear()
        with self.lock:
            for t in trials:
                t.state = TrialState.FAILED
                t.error = why
                if t.point_id is not None:
                    self.study.searcher.requeue(t.point_id)
            if trials:
                self.study._write(trials)

    def close(self) -> None:
        try:
            self.pool.close(kill=self.kill_on_close)
        finally:
            if self.server is not None:
                self.server.close()


def check_n_jobs(n_jobs: Any) -> int:
    """Validates ``n_jobs``: a positive integer, or -1 for one worker per CPU core."""
    if isinstance(n_jobs, bool) or not isinstance(n_jobs, numbers.Integral):
        v.bad_type("n_jobs", n_jobs, "a positive integer (or -1 for every CPU core)")
    if n_jobs == -1:
        return os.cpu_count() or 1
    if n_jobs < 1:
        v.bad_value("n_jobs", n_jobs, "a positive integer (or -1 for every CPU core)")
    return int(n_jobs)


def run_with_alarm(
    objective: Callable[[Trial], Any], trial: Trial, seconds: float
) -> Any:  # pragma: no cover - exercised through Study.optimize
    """Runs ``objective(trial)`` in this thread, raising :class:`TrialTimeoutError` inside it
    after ``seconds`` (SIGALRM; main thread on POSIX only)."""

    def on_alarm(signum: int, frame: Any) -> None:
        raise TrialTimeoutError(f"the trial ran longer than trial_timeout={seconds:g} s")

    previous = signal.signal(signal.SIGALRM, on_alarm)
    if previous is None:  # a handler not installed from Python
        previous = signal.SIG_DFL
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        return objective(trial)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def can_alarm() -> bool:
    return hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()
