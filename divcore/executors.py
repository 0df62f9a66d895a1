"""Where a build's tasks run: on this machine (a process pool, or inline with
one job) or on a Dask cluster.

A task is a module-level function and its arguments; it returns a value and
writes nothing, so it can run in any process on any machine. The build
(`pipeline.execute`) decides what runs when; an executor only runs what it
is handed and reports each finished task as a `concurrent.futures`-style
future (`add_done_callback`, `result`). The one design decision here: the
computing goes to the cluster, the files stay with the client (workers need
no shared filesystem, and the client writes every output atomically).
"""

from __future__ import annotations

import os
import time
from concurrent.futures import Future, ProcessPoolExecutor
from typing import Any, Callable, NamedTuple

from .errors import BuildError

EXECUTORS = ("local", "dask")
SCHEDULER_ENV = "DIVFIT_SCHEDULER"
CONNECT_TIMEOUT = 10.0  # seconds to reach a scheduler before saying it cannot be reached


class Task(NamedTuple):
    fn: Callable  # module-level, so it pickles by reference
    args: tuple


def timed(fn: Callable, *args) -> tuple[Any, float]:
    """`fn(*args)` and the seconds it took where it ran."""
    start = time.monotonic()
    value = fn(*args)
    return value, time.monotonic() - start


class Local:
    """Today's pool: `jobs` worker processes, or every task inline when
    `jobs` is 1 (a debugger and a traceback see the task itself)."""

    def __init__(self, jobs: int = 1):
        self.jobs = max(1, int(jobs))
        self._pool: ProcessPoolExecutor | None = None

    @property
    def slots(self) -> int:
        """How many tasks it runs at once."""
        return self.jobs

    def submit(self, task: Task, priority: float = 0.0) -> Future:
        if self.jobs > 1:
            if self._pool is None:
                self._pool = ProcessPoolExecutor(max_workers=self.jobs)
            return self._pool.submit(timed, task.fn, *task.args)
        fut: Future = Future()
        try:
            fut.set_result(timed(task.fn, *task.args))
        except Exception as err:  # a KeyboardInterrupt is not the task's failure: it stops the build
            fut.set_exception(err)
        return fut

    def close(self, cancel: bool = False) -> None:
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=cancel)
            self._pool = None


class Dask:
    """Tasks submitted to the Dask scheduler at `address` (`dask.distributed`);
    the scheduler spreads them over its workers and reruns a task whose
    worker dies. Each task carries the build's priority for it, so the
    cluster starts the work that holds the most back first."""

    def __init__(self, address: str):
        try:
            import distributed
        except ImportError:
            raise BuildError("--executor dask needs Dask's distributed scheduler: "
                             "pip install 'divfit[dask]'") from None
        from distributed.comm import resolve_address

        self.address = address
        try:  # a malformed address fails here, before a client exists that would linger on it
            resolve_address(address)
            self.client = distributed.Client(address, timeout=CONNECT_TIMEOUT, set_as_default=False)
        except (OSError, TimeoutError, ValueError) as err:
            raise BuildError(f"cannot reach the Dask scheduler at {address}: {_first_line(err)}") from None
        self._futures: set = set()
        try:
            self.client.register_plugin(_plugin(), name="divfit-malloc")
        except Exception as err:  # noqa: BLE001 -- a worker that refuses it is only slower
            self.client.close()
            raise BuildError(f"the Dask scheduler at {address} did not take divfit's worker set-up: "
                             f"{_first_line(err)}") from None

    @property
    def slots(self) -> int:
        """Every ready task goes to the scheduler at once: it queues them by priority."""
        return 1 << 30

    def submit(self, task: Task, priority: float = 0.0):
        fut = self.client.submit(timed, task.fn, *task.args, pure=False, priority=priority)
        self._futures.add(fut)
        fut.add_done_callback(self._futures.discard)
        return fut

    def close(self, cancel: bool = False) -> None:
        if self.client.status in ("closing", "closed"):
            return
        if cancel and self._futures:
            self.client.cancel(list(self._futures))
        self.client.close()


def numpy_malloc() -> bool:
    """Let glibc keep freed memory for reuse, as it does by default: Dask's
    nanny starts workers with MALLOC_TRIM_THRESHOLD_=65536, which also fixes
    glibc's mmap threshold at 128 KiB, so every numpy temporary of a sweep's
    block (a few MB each step) is mapped and unmapped afresh. Measured in one
    worker on a basin block of the basins scene: 0.23 s of system time against
    0.02 s, and about 1.2x the wall time. True where it took effect."""
    import ctypes
    import sys

    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:  # not glibc
        return False
    M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3
    return bool(libc.mallopt(M_MMAP_THRESHOLD, 64 << 20) and libc.mallopt(M_TRIM_THRESHOLD, 256 << 20))


def _plugin():
    from distributed.diagnostics.plugin import WorkerPlugin

    class NumpyMalloc(WorkerPlugin):
        """`numpy_malloc` in every worker, those that join later included."""

        def setup(self, worker):
            numpy_malloc()

    return NumpyMalloc()


def _first_line(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    return text[0] if text else type(err).__name__


def scheduler_address(given: str | None) -> str | None:
    return given or os.environ.get(SCHEDULER_ENV) or None


def connect(kind: str, scheduler: str | None):
    """The executor for the build's `--executor` (None: local)."""
    if kind == "local":
        return None
    if kind != "dask":
        raise BuildError(f"unknown executor {kind!r}: one of {', '.join(EXECUTORS)}")
    address = scheduler_address(scheduler)
    if not address:
        raise BuildError(f"--executor dask needs --scheduler ADDRESS (or {SCHEDULER_ENV}), "
                         "e.g. tcp://127.0.0.1:8786")
    return Dask(address)
