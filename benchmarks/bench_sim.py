"""Simulation speed: socsim's timing-only ops/s beside bare SimPy's event rate, in one run.

socsim: a timing-only run (run.functional=false) of a scenario (default: MobileNetV2 int8 on
the i.MX 8M Plus-class SoC) with many inferences; we time ``Simulation.run`` alone (graph
loading, placement and reports excluded) and count simulated ops per second.

Bare SimPy: two processes contending for a capacity-1 Resource, each looping
``request -> timeout -> release``; the rate is those cycles per second. A socsim op is one such
cycle plus its own bookkeeping (input waits, memory allocation, energy, the record), so the
ratio says what the engine adds beyond the events it must schedule. Goal: ratio >= 0.25.

Usage: python benchmarks/bench_sim.py [--scenario FILE] [--inferences N] [--repeat K]
Prints one JSON object, then a short table.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from pathlib import Path

import simpy

from socsim import __version__
from socsim.config import load_scenario
from socsim.run import plan_jobs
from socsim.sim import Simulation

ROOT = Path(__file__).resolve().parent.parent


def bare_simpy_rate(cycles: int) -> float:
    """request + timeout + release cycles per second on a contended Resource."""
    env = simpy.Environment()
    res = simpy.Resource(env, capacity=1)

    def worker(n: int):
        for _ in range(n):
            with res.request() as req:
                yield req
                yield env.timeout(1)

    env.process(worker(cycles // 2))
    env.process(worker(cycles // 2))
    start = time.perf_counter()
    env.run()
    return cycles / (time.perf_counter() - start)


def socsim_rate(scenario: Path, inferences: int) -> tuple[float, int, float]:
    """(ops per second, ops simulated, seconds) of one timing-only simulation."""
    sc = load_scenario(scenario, [f"workloads.0.inferences={inferences}",
                                  "run.functional=false"])
    jobs = plan_jobs(sc)
    sim = Simulation(sc.device, jobs, sc.run)
    start = time.perf_counter()
    trace = sim.run()
    seconds = time.perf_counter() - start
    return len(trace.ops) / seconds, len(trace.ops), seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", type=Path,
                        default=ROOT / "scenarios" / "imx8mp_mobilenetv2.yaml")
    parser.add_argument("--inferences", type=int, default=500)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    socsim_runs, bare_runs = [], []
    ops = 0
    for _ in range(args.repeat):  # interleaved so both see the same machine state
        rate, ops, _ = socsim_rate(args.scenario, args.inferences)
        socsim_runs.append(rate)
        bare_runs.append(bare_simpy_rate(max(ops, 100_000)))
    socsim_ops_s = statistics.median(socsim_runs)
    bare_s = statistics.median(bare_runs)
    result = {
        "benchmark": "bench_sim",
        "socsim_version": __version__,
        "simpy_version": simpy.__version__,
        "python": platform.python_version(),
        "scenario": str(args.scenario.relative_to(ROOT) if args.scenario.is_relative_to(ROOT)
                        else args.scenario),
        "inferences": args.inferences,
        "ops_simulated": ops,
        "repeat": args.repeat,
        "socsim_ops_per_s": round(socsim_ops_s),
        "bare_simpy_cycles_per_s": round(bare_s),
        "ratio": round(socsim_ops_s / bare_s, 3),
        "goal_ratio": 0.25,
        "goal_met": socsim_ops_s / bare_s >= 0.25,
        "runs": {"socsim_ops_per_s": [round(r) for r in socsim_runs],
                 "bare_simpy_cycles_per_s": [round(r) for r in bare_runs]},
    }
    print(json.dumps(result))
    print()
    print(f"{'measure':<40}{'value':>14}")
    print(f"{'socsim simulated ops / s (median)':<40}{result['socsim_ops_per_s']:>14,}")
    print(f"{'bare SimPy request+timeout+release / s':<40}{result['bare_simpy_cycles_per_s']:>14,}")
    print(f"{'ratio (goal >= 0.25)':<40}{result['ratio']:>14}")


if __name__ == "__main__":
    main()
