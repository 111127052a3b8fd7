"""The sweep loop: enumerate (or search) the points, run the unfinished ones on an executor,
stream each row to the store as it arrives, then write the table and the Pareto plot."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from socsim.sweep.space import Point, sweep_points
from socsim.sweep.spec import Sweep
from socsim.sweep.store import ResultStore

__all__ = ["SweepResult", "objectives_of", "run_sweep"]

#: Ranking objectives of grid and random sweeps (a search ranks by its own objectives).
DEFAULT_OBJECTIVES = {"latency_p99_ms": "minimize", "energy_per_inference_mj": "minimize"}


@dataclass(frozen=True)
class SweepResult:
    """What a sweep produced.

    Attributes:
        table: one row per point, in point order (``results.parquet``).
        ranked: the ``ok`` rows with their Pareto ``rank``, best first.
        files: the files written.
        computed: points run by this call (the others were finished before, ``--resume``).
    """

    table: object
    ranked: object
    files: tuple[Path, ...]
    computed: int


def objectives_of(sweep: Sweep) -> dict[str, str]:
    """The objectives a sweep is ranked by."""
    return dict(sweep.spec.search.objectives) if sweep.spec.mode == "search" else dict(
        DEFAULT_OBJECTIVES)


def axis_sets(sweep: Sweep, point: Point) -> tuple[str, ...]:
    """The overrides a point's axis values contributed (without ``set`` and the seed)."""
    return point.overrides[len(sweep.fixed):-1]


def run_sweep(sweep: Sweep, out: str | Path, *, executor=None, resume: bool = False,
              overwrite: bool = False,
              progress: Callable[[int, int], None] | None = None) -> SweepResult:
    """Run a sweep into folder ``out``.

    Args:
        executor: where points run (:mod:`socsim.sweep.executors`), or a function making
            one, called only if some point is left to run (and closed here); default: local
            processes, started and stopped here.
        resume: continue the sweep recorded in ``out``, running only unfinished points.
        overwrite: discard an earlier sweep's results in ``out``.
        progress: called with (points finished, points known) after each point.

    Raises:
        OutputError: ``out`` cannot hold this sweep (see :class:`ResultStore`).
    """
    from socsim.sweep.worker import evaluate

    store = ResultStore(Path(out), sweep, resume=resume, overwrite=overwrite)
    factory = None
    if executor is None or not hasattr(executor, "imap_unordered"):
        factory, executor = executor, None
    computed = 0
    known = 0

    def run_batch(points: list[Point]) -> dict[str, dict]:
        nonlocal computed, known
        todo = [p for p in points if p.id not in store.done]
        known += len(points)
        finished = known - len(todo)
        if progress:
            progress(finished, known)
        if todo:
            tasks = [(sweep.scenario, p, axis_sets(sweep, p)) for p in todo]
            for row in get_executor().imap_unordered(evaluate, tasks):
                store.add([row])
                computed += 1
                finished += 1
                if progress:
                    progress(finished, known)
        return {p.id: store.done[p.id] for p in points}

    started = []

    def get_executor():
        nonlocal executor
        if executor is None:
            from socsim.sweep.executors import LocalExecutor

            executor = factory() if factory is not None else LocalExecutor()
            started.append(executor)
        return executor

    try:
        if sweep.spec.mode == "search":
            from socsim.sweep.search import search_points

            points = search_points(sweep, run_batch)
        else:
            points = sweep_points(sweep)
            run_batch(points)
    finally:
        if started:
            started[0].close()
    table = store.frame([p.id for p in points])
    files = store.finish(table)
    files.append(_plot(sweep, table, Path(out)))
    from socsim.sweep.pareto import ranked

    constraints = sweep.spec.search.constraints if sweep.spec.mode == "search" else None
    return SweepResult(table, ranked(table, objectives_of(sweep), constraints), tuple(files),
                       computed)


def _plot(sweep: Sweep, table, folder: Path) -> Path:
    from socsim.sweep.pareto import pareto_plot

    fig = pareto_plot(table, [a.name for a in sweep.axes], title=sweep.spec.name)
    path = folder / "pareto.png"
    tmp = folder / ".pareto.png.tmp"
    with open(tmp, "wb") as fh:
        fig.savefig(fh, dpi=110, format="png")
    os.replace(tmp, path)
    return path
