"""The report's write phase of the long two-stream run: CPU seconds of ``RunResult.write``.

Simulates ``scenarios/long_two_streams.yaml`` (streamed: ops.parquet, a 1 s trace window) for
``--minutes`` once, then writes the report ``--repeat`` times into temporary folders. The
first write pays matplotlib's import; the later ones show what the write itself costs. CPU
seconds of this process, steadier than wall time on a shared machine. Not a test: a timing
never fails. Prints JSON, then a short table::

    python benchmarks/bench_report_write.py --minutes 10

Needs the zoo models: ``socsim zoo build mobilenetv2_int8 ds_cnn_int8``.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCENARIO = ROOT / "scenarios" / "long_two_streams.yaml"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--minutes", type=float, default=10.0, help="simulated minutes (default 10)")
    p.add_argument("--repeat", type=int, default=3, help="writes (default 3)")
    a = p.parse_args()
    from socsim.run import load, plan_jobs, run_size, simulate

    sets = [f"workloads.{i}.duration_s={a.minutes * 60}" for i in (0, 1)]
    scenario = load(SCENARIO, sets)
    jobs = plan_jobs(scenario)
    c0 = time.process_time()
    result = simulate(scenario, jobs, size=run_size(scenario, jobs))
    simulate_cpu = time.process_time() - c0
    writes = []
    for _ in range(max(1, a.repeat)):
        with tempfile.TemporaryDirectory(prefix="bench-write-") as tmp:
            w0, c0 = time.perf_counter(), time.process_time()
            paths = result.write(Path(tmp) / "report")
            writes.append({"cpu_s": time.process_time() - c0, "wall_s": time.perf_counter() - w0,
                           "bytes": sum(q.stat().st_size for q in paths)})
    doc = {"minutes": a.minutes, "ops": sum(u["ops"] for u in result.summary["units"].values()),
           "simulate_cpu_s": simulate_cpu, "writes": writes}
    print(json.dumps(doc, indent=2))
    print(f"\n{a.minutes:g} simulated minutes, {doc['ops']:,} ops; simulate {simulate_cpu:.2f} "
          "CPU s")
    print(f"{'write':>6} {'cpu s':>7} {'wall s':>7} {'output MB':>10}")
    for i, w in enumerate(writes):
        print(f"{i + 1:>6} {w['cpu_s']:7.2f} {w['wall_s']:7.2f} {w['bytes'] / 1e6:10.1f}")


if __name__ == "__main__":
    main()
