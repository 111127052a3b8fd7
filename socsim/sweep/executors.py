"""Where a sweep's points run: local worker processes (default) or a Dask cluster.

Both keep their workers for the whole sweep (each worker's model cache is reused across
points: no process start per point) and keep a bounded window of points in flight, handing
results back as they finish. Results do not depend on the executor: a point's row is a
function of the point alone (its seed included).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from typing import Any, Protocol

from socsim.errors import SocsimError

__all__ = ["DaskExecutor", "Executor", "LocalExecutor", "make_executor"]

_PRELOAD = ["socsim.sweep.worker", "socsim.run", "socsim.check", "socsim.sim.engine",
            "socsim.sweep.metrics", "socsim.policies"]


class ExecutorError(SocsimError):
    """The executor could not start (no scheduler at the address, Dask missing)."""


class Executor(Protocol):
    """Runs ``fn(*args)`` for each argument tuple, yielding results as they finish."""

    workers: int

    def imap_unordered(self, fn: Callable[..., Any], tasks: Iterable[tuple]) -> Iterator[Any]:
        """Results of ``fn(*t)`` for every ``t`` in ``tasks``, in completion order."""

    def close(self) -> None:
        """Stop the workers (and a local cluster) this executor started."""


def default_workers() -> int:
    """The cores this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


def _ready() -> int:
    return os.getpid()


class LocalExecutor:
    """A pool of worker processes on this machine (``concurrent.futures``).

    On Linux the workers are forked from this process, all at once when the executor is made,
    so they start with socsim (and onnx, numba, pandas) already imported: importing them again
    in each worker costs seconds, more than a small sweep's simulations. The process forks
    before it starts any thread of its own (the progress bar redraws without one).
    Elsewhere workers come from a fork server that has imported socsim once.

    Args:
        workers: processes (default: the cores available).
    """

    def __init__(self, workers: int | None = None):
        import multiprocessing
        import sys
        from concurrent.futures import ProcessPoolExecutor

        self.workers = workers or default_workers()
        methods = multiprocessing.get_all_start_methods()
        method = ("fork" if sys.platform.startswith("linux") and "fork" in methods
                  else "forkserver" if "forkserver" in methods else "spawn")
        ctx = multiprocessing.get_context(method)
        if method == "forkserver":
            ctx.set_forkserver_preload(_PRELOAD)
        else:
            for name in _PRELOAD:  # imported once here, inherited by every worker
                __import__(name)
        self._pool = ProcessPoolExecutor(self.workers, mp_context=ctx)
        self._pool.submit(_ready).result()  # start the workers now (fork: all at once)

    def imap_unordered(self, fn, tasks):
        from concurrent.futures import FIRST_COMPLETED, wait

        pending = iter(tasks)
        running = set()
        window = 4 * self.workers
        try:
            while True:
                for t in pending:
                    running.add(self._pool.submit(fn, *t))
                    if len(running) >= window:
                        break
                if not running:
                    return
                done, running = wait(running, return_when=FIRST_COMPLETED)
                for f in sorted(done, key=id):
                    yield f.result()
        finally:
            for f in running:
                f.cancel()

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


class DaskExecutor:
    """A Dask distributed cluster: an existing scheduler, or a local cluster started here.

    Args:
        scheduler: the scheduler's address (``tcp://host:8786``); None starts a
            ``LocalCluster`` of ``workers`` single-threaded worker processes.
        workers: processes of the local cluster (default: the cores available); with a
            scheduler, the workers to wait for before starting (default 1).

    Raises:
        ExecutorError: no scheduler answers at ``scheduler`` within ``timeout_s``.
    """

    def __init__(self, scheduler: str | None = None, workers: int | None = None,
                 timeout_s: float = 30.0):
        from distributed import Client, LocalCluster

        self._cluster = None
        try:
            if scheduler is None:
                self._cluster = LocalCluster(n_workers=workers or default_workers(),
                                             threads_per_worker=1, processes=True,
                                             dashboard_address=None, silence_logs=40)
                self._client = Client(self._cluster, timeout=timeout_s)
            else:
                self._client = Client(scheduler, timeout=timeout_s)
        except (OSError, TimeoutError) as exc:
            if self._cluster is not None:
                self._cluster.close()
            raise ExecutorError(f"cannot reach the Dask scheduler at {scheduler}: {exc}",
                                hint="start one (`dask scheduler`, then `dask worker "
                                "ADDRESS`) or omit --scheduler for a local cluster") from None
        if scheduler is not None:
            try:
                self._client.wait_for_workers(workers or 1, timeout=timeout_s)
            except TimeoutError:
                self._client.close()
                raise ExecutorError(f"fewer than {workers or 1} Dask worker(s) joined "
                                    f"{scheduler} within {timeout_s:g} s",
                                    hint="start workers with `dask worker ADDRESS`") from None
        self.workers = max(1, sum(self._client.nthreads().values()))

    def imap_unordered(self, fn, tasks):
        from distributed import as_completed

        pending = iter(tasks)
        window = 4 * self.workers
        first = [self._client.submit(fn, *t, pure=False) for _, t in zip(range(window),
                                                                          pending)]
        if not first:
            return
        queue = as_completed(first)
        try:
            for future in queue:
                result = future.result()
                future.release()
                nxt = next(pending, None)
                if nxt is not None:
                    queue.add(self._client.submit(fn, *nxt, pure=False))
                yield result
        finally:
            for f in list(queue.futures):
                f.cancel()

    def close(self) -> None:
        self._client.close()
        if self._cluster is not None:
            self._cluster.close()


def make_executor(kind: str, *, workers: int | None = None,
                  scheduler: str | None = None) -> Executor:
    """``local`` or ``dask`` (``scheduler`` only with ``dask``).

    Raises:
        ExecutorError: an unknown kind, a scheduler without ``dask``, or Dask not reachable.
    """
    if kind == "local":
        if scheduler is not None:
            raise ExecutorError("--scheduler goes with --executor dask",
                                hint="add --executor dask, or drop --scheduler")
        return LocalExecutor(workers)
    if kind == "dask":
        return DaskExecutor(scheduler, workers)
    raise ExecutorError(f"unknown executor {kind!r}; choose local or dask")
