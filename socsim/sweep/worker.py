"""What a worker process does for one point: load, plan, simulate, measure; never raises for
a bad point (its error becomes the row's ``error``).

Each worker keeps the models it has loaded (a module-level cache living as long as the
process): a sweep's points share a handful of models, and loading one (onnx check, shape
inference, QDQ fusion) costs more than simulating a small scenario. The cache is keyed by the
file's path, size and modification time and by the workload's ``shapes``, so an edited model
is read again. Graphs are frozen dataclasses, so sharing one between points is safe.
"""

from __future__ import annotations

import math
import os
import socket
import time
from typing import Any

from socsim.sweep.spec import METRICS

__all__ = ["evaluate", "row_template"]

_MODELS: dict[tuple, Any] = {}
_installed = False


def _cached_load_model(source, shapes=None):
    from socsim.graph.loading import load_model

    if not isinstance(source, (str, os.PathLike)):
        return load_model(source, shapes)
    st = os.stat(source)
    key = (os.fspath(source), tuple(sorted((shapes or {}).items())), st.st_size, st.st_mtime_ns)
    found = _MODELS.get(key)
    if found is None:
        found = _MODELS[key] = load_model(source, shapes)
    return found


def _install_caches() -> None:
    """Route the planner's model loading (``socsim.check.load_model``) through the cache."""
    global _installed
    if not _installed:
        import socsim.check

        socsim.check.load_model = _cached_load_model
        _installed = True


def row_template(point) -> dict:
    """The row of ``point`` before it is run: identity and axes, metrics unknown."""
    row: dict[str, Any] = {"point": point.index, "id": point.id}
    row.update(dict(point.labels))
    row.update({"seed": point.seed, "status": "pending", "error": None})
    row.update({m: math.nan for m in METRICS})
    row["deadline_misses"] = None
    row["dma_bytes"] = None
    row["inferences"] = None
    return row


def evaluate(scenario: str, point, axis_sets: tuple[str, ...] = ()) -> dict:
    """Simulate one point of a sweep and return its result row.

    Args:
        scenario: the base scenario file.
        point: a :class:`socsim.sweep.space.Point`.
        axis_sets: the overrides the axes contributed (recorded in the ``set`` column).

    Returns:
        The row: identity, axes, seed, ``status`` ``ok`` or ``error`` (with ``error``, one
        line), the metrics, and the timing columns ``elapsed_s`` and ``worker``.
    """
    from socsim.errors import SocsimError
    from socsim.run import DEFAULT_MAX_OPS, check_size, load, plan_jobs, run_size
    from socsim.sim.engine import Simulation
    from socsim.sweep.metrics import point_metrics

    _install_caches()
    start = time.perf_counter()
    row = row_template(point)
    row["set"] = "; ".join(axis_sets)
    try:
        sc = load(scenario, point.overrides)
        jobs = plan_jobs(sc)
        check_size(run_size(sc, jobs), DEFAULT_MAX_OPS)
        trace = Simulation(sc.device, jobs, sc.run).run()
        row.update(point_metrics(trace))
        row["status"] = "ok"
    except SocsimError as exc:
        row["status"], row["error"] = "error", _one_line(exc)
    except (ValueError, ArithmeticError, RecursionError, MemoryError) as exc:
        row["status"] = "error"  # a point socsim could not simulate; the sweep goes on
        row["error"] = f"internal error ({type(exc).__name__}): {exc}"
    row["elapsed_s"] = time.perf_counter() - start
    row["worker"] = f"{socket.gethostname()}:{os.getpid()}"
    return row


def _one_line(exc) -> str:
    text = " | ".join(str(p) for p in exc.problems)
    return f"{text} (hint: {exc.hint})" if exc.hint else text
