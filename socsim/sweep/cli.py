"""``socsim sweep SWEEP.yaml``: run a sweep, show its progress and a ranked table.

Light to import (typer and rich only); the sweep machinery loads when the command runs.
"""

from __future__ import annotations

import math
import time
from enum import Enum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

out = Console()
err = Console(stderr=True)


class ExecutorKind(str, Enum):
    local = "local"
    dask = "dask"


def sweep(file: Annotated[Path, typer.Argument(metavar="SWEEP", show_default=False,
                                               help="Sweep YAML file.")],
          out_dir: Annotated[str | None, typer.Option(
              "--out", metavar="DIR", help="Results folder (default: reports/<name>).")] = None,
          jobs: Annotated[int | None, typer.Option(
              "--jobs", "-j", min=1, metavar="N", help="Local worker processes (default: the "
              "cores available); with --executor dask, the local cluster's workers, or with "
              "--scheduler, the workers to wait for.")
          ] = None,
          executor: Annotated[ExecutorKind, typer.Option(
              "--executor", help="Where points run: local processes or a Dask cluster.")
          ] = ExecutorKind.local,
          scheduler: Annotated[str | None, typer.Option(
              "--scheduler", metavar="ADDRESS", help="Dask scheduler address (tcp://host:8786);"
              " without it --executor dask starts a local cluster.")] = None,
          resume: Annotated[bool, typer.Option(
              "--resume", help="Continue the sweep recorded in the folder: run only the "
              "points it has no result for.")] = False,
          overwrite: Annotated[bool, typer.Option(
              "--overwrite", help="Discard an earlier sweep's results in the folder.")] = False,
          top: Annotated[int, typer.Option("--top", min=0, metavar="N",
                                           help="Rows of the ranked table.")] = 10):
    """Run every point of a sweep (axes of changes to a scenario), write results.parquet,
    results.csv and pareto.png, and print the points ranked by Pareto layer."""
    from socsim.sweep.executors import make_executor
    from socsim.sweep.runner import run_sweep
    from socsim.sweep.spec import load_sweep

    spec = load_sweep(file)
    folder = Path(out_dir) if out_dir is not None else Path("reports") / spec.spec.name
    mode = _describe(spec)
    def start():
        ex = make_executor(executor.value, workers=jobs, scheduler=scheduler)
        err.print(f"running on {executor.value}: {ex.workers} worker(s)", highlight=False)
        return ex

    err.print(f"sweep {spec.spec.name}: {mode}", highlight=False, soft_wrap=True)
    if executor is ExecutorKind.local and scheduler is not None:
        make_executor("local", scheduler=scheduler)  # raises: --scheduler needs dask
    bar = _Bar(err)
    try:
        with bar:
            result = run_sweep(spec, folder, executor=start, resume=resume,
                               overwrite=overwrite, progress=bar.update)
    except KeyboardInterrupt:
        err.print(f"interrupted: finished points are kept in {folder}/; run again with "
                  "--resume to continue", highlight=False, soft_wrap=True)
        raise typer.Exit(130) from None
    _print_results(spec, result, folder, top)


def _describe(spec) -> str:
    if spec.spec.mode == "random":
        return f"{spec.spec.random.n} random points of a grid of {spec.size}"
    if spec.spec.mode == "search":
        return (f"NSGA-II search, {spec.spec.search.n_trials} trials over a space of "
                f"{spec.size}")
    return f"grid of {spec.size} points"


class _Bar:
    """A progress bar with ETA on a terminal (nothing when piped), like socsim.progress."""

    def __init__(self, console: Console):
        self.console = console
        self.progress = None
        self.task = None
        self.drawn = 0.0

    def __enter__(self):
        if self.console.is_terminal:
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )

            self.progress = Progress(TextColumn("points"), BarColumn(), MofNCompleteColumn(),
                                     TimeElapsedColumn(), TextColumn("eta"),
                                     TimeRemainingColumn(), console=self.console,
                                     transient=True, auto_refresh=False)  # no thread: the
            # local executor forks its workers while the bar is up
            self.task = self.progress.add_task("points", total=None)
            self.progress.start()
        return self

    def update(self, done: int, total: int) -> None:
        if self.progress is not None:
            self.progress.update(self.task, completed=done, total=total)
            now = time.monotonic()
            if now - self.drawn >= 0.1 or done == total:
                self.progress.refresh()
                self.drawn = now

    def __exit__(self, *exc):
        if self.progress is not None:
            self.progress.stop()


def _fmt(v, digits: int = 4) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "-"
    if isinstance(v, float):
        return f"{v:.{digits}g}"
    return str(v)


def _print_results(spec, result, folder: Path, top: int) -> None:
    from rich import box
    from rich.markup import escape
    from rich.table import Table

    axes = [a.name for a in spec.axes]
    t = result.table
    ranked = result.ranked
    if top and len(ranked):
        table = Table(box=box.SIMPLE_HEAD, title=f"{spec.spec.name}: best {min(top, len(ranked))} of {len(ranked)} "
                      "points (rank = Pareto layer)", title_justify="left")
        metrics = [("p99 ms", "latency_p99_ms"),
                   ("mJ/inf", "energy_per_inference_mj"), ("misses", "deadline_misses"),
                   ("peak °C", "peak_temp_c"), ("DMA B", "dma_bytes")]
        shown = [(h, c) for h, c in metrics if ranked[c].notna().any()]  # no empty columns
        table.add_column("rank", justify="right", no_wrap=True)
        for a in axes:
            width = max(len(a), *(len(str(x)) for x in ranked[a].head(top)))
            table.add_column(a, overflow="fold", min_width=min(width, 18))
        for h, _ in shown:
            table.add_column(h, justify="right", no_wrap=True)
        for _, r in ranked.head(top).iterrows():
            table.add_row(str(r["rank"]), *(escape(str(r[a])) for a in axes),
                          *(_fmt(r[c]) for _, c in shown))
        out.print(table)
    if len(ranked):
        for what, col in (("best latency", "latency_p99_ms"),
                          ("best energy", "energy_per_inference_mj")):
            r = ranked.sort_values([col, "point"], kind="stable").iloc[0]
            out.print(f"{what}: " + ", ".join(f"{a}={r[a]}" for a in axes)
                      + f" (p99 {_fmt(r['latency_p99_ms'])} ms, "
                      f"{_fmt(r['energy_per_inference_mj'])} mJ/inference)", highlight=False,
                      soft_wrap=True)
    failed = t[t["status"] != "ok"]
    if len(failed):
        first = failed.iloc[0]
        out.print(f"[yellow]{len(failed)} point(s) failed[/]; first: "
                  + escape(", ".join(f"{a}={first[a]}" for a in axes)) + ": "
                  + escape(str(first["error"])), soft_wrap=True)
    ran = (f"{result.computed} run now, {len(t) - result.computed} from before"
           if result.computed != len(t) else f"{len(t)} run")
    names = ", ".join(p.name for p in result.files)
    out.print(f"results: {folder}/ ({names}); {ran}", highlight=False, soft_wrap=True)
