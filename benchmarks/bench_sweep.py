"""Sweep throughput: points per second per core, beside a bare in-process `socsim run` loop.

Three measurements over the points of a sweep (default: scenarios/sweep_quickstart.yaml,
timing-only), each point replicated ``--replicas`` times through an extra axis that changes
nothing but the point id (``workloads.0.deadline_ms`` = 100, 101, ...):

- ``run_loop``: the reference, ``socsim.run.run_scenario`` in one process for each point
  (load, plan, simulate, the report's tables and summary; no files written): what a user's
  script calling socsim point by point gets;
- ``worker_loop``: the sweep's own per-point function (``socsim.sweep.worker.evaluate``) in
  one process: load, plan (models cached), simulate, metrics from the trace;
- ``sweep``: ``socsim.sweep.run_sweep`` on ``--jobs`` local worker processes, start-up,
  streaming to parquet, results.csv and pareto.png included.

Rates are given per wall-clock second and per CPU second of the measuring process (the
machine is shared: a wall rate below the CPU rate means other processes held the cores).
Goal: >= 10 points per second per core for the quickstart sweep.

Usage: python benchmarks/bench_sweep.py [--sweep FILE] [--replicas N] [--jobs N]
Prints one JSON object, then a short table.
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from pathlib import Path

import yaml

from socsim import __version__

ROOT = Path(__file__).resolve().parent.parent


def _replicated(sweep_file: Path, replicas: int, folder: Path) -> Path:
    """The sweep file with an extra axis of ``replicas`` values that change no result."""
    doc = yaml.safe_load(sweep_file.read_text())
    doc["scenario"] = str((sweep_file.parent / doc["scenario"]).resolve())
    doc["axes"]["replica"] = {"path": "workloads.0.deadline_ms",
                              "values": [100 + i for i in range(replicas)]}
    path = folder / "bench_sweep.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def _timed(fn) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - wall, time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sweep", type=Path,
                        default=ROOT / "scenarios" / "sweep_quickstart.yaml")
    parser.add_argument("--replicas", type=int, default=8)
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args()

    from socsim.run import run_scenario
    from socsim.sweep.executors import LocalExecutor
    from socsim.sweep.runner import run_sweep
    from socsim.sweep.space import sweep_points
    from socsim.sweep.spec import load_sweep
    from socsim.sweep.worker import evaluate

    with tempfile.TemporaryDirectory() as tmp:
        sweep = load_sweep(_replicated(args.sweep, args.replicas, Path(tmp)))
        points = sweep_points(sweep)
        n = len(points)
        run_scenario(sweep.scenario, points[0].overrides)  # warm: imports, numba, models
        evaluate(sweep.scenario, points[0])
        loop_wall, loop_cpu = _timed(lambda: [run_scenario(sweep.scenario, p.overrides)
                                              for p in points])
        worker_wall, worker_cpu = _timed(lambda: [evaluate(sweep.scenario, p)
                                                  for p in points])
        start = time.perf_counter()
        ex = LocalExecutor(args.jobs)
        stamps: list[float] = []
        try:
            result = run_sweep(sweep, Path(tmp) / "out", executor=ex,
                               progress=lambda done, known: stamps.append(time.perf_counter()))
        finally:
            ex.close()
        sweep_wall = time.perf_counter() - start
        busy = float(result.table["elapsed_s"].sum())  # time inside evaluate, all workers
        # steady state: from the first finished point to the last (start-up and the final
        # table and plot excluded), n - 1 points
        steady = (n - 1) / (stamps[-1] - stamps[1]) if len(stamps) > 2 else float("nan")
    report = {
        "socsim": __version__, "python": platform.python_version(),
        "machine": platform.machine(), "sweep_file": str(args.sweep), "points": n,
        "jobs": args.jobs,
        "run_loop": {"wall_s": loop_wall, "points_per_s": n / loop_wall,
                     "points_per_cpu_s": n / loop_cpu},
        "worker_loop": {"wall_s": worker_wall, "points_per_s": n / worker_wall,
                        "points_per_cpu_s": n / worker_cpu},
        "sweep": {"wall_s": sweep_wall, "points_per_s": n / sweep_wall,
                  "points_per_s_per_core": n / sweep_wall / args.jobs,
                  "points_per_worker_busy_s": n / busy,
                  "steady_points_per_s": steady,
                  "steady_points_per_s_per_core": steady / args.jobs,
                  "failed": int((result.table["status"] != "ok").sum())},
        "goal_points_per_s_per_core": 10,
    }
    print(json.dumps(report, indent=1))
    print(f"\n{'measurement':<34}{'wall s':>8}{'points/s':>10}{'per CPU s':>11}")
    for key, label in (("run_loop", "run_scenario loop (reference)"),
                       ("worker_loop", "sweep worker loop, 1 process")):
        r = report[key]
        print(f"{label:<34}{r['wall_s']:>8.2f}{r['points_per_s']:>10.1f}"
              f"{r['points_per_cpu_s']:>11.1f}")
    s = report["sweep"]
    print(f"{f'socsim sweep, {args.jobs} workers':<34}{s['wall_s']:>8.2f}"
          f"{s['points_per_s']:>10.1f}{'':>11}")
    print(f"per core: {s['points_per_s_per_core']:.1f} points/s including start-up, "
          f"{s['steady_points_per_s_per_core']:.1f} in steady state; "
          f"{s['points_per_worker_busy_s']:.1f} points per busy worker-second; goal >= 10")


if __name__ == "__main__":
    main()
