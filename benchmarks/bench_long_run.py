"""Long runs: socsim's two-stream scenario against bare SimPy doing as many resource cycles.

The scenario is ``scenarios/long_two_streams.yaml`` (MobileNetV2 int8 at 30 fps on the NPU,
DS-CNN int8 at 10 Hz on the DSP of the i.MX 8M Plus-class SoC, timing only) for ``--minutes``
of simulated time, written as a report (ops.parquet, a 1 s trace window). Bare SimPy runs the
same arrivals with the same number of request + timeout + release cycles on three
``simpy.Resource``s, one cycle per simulated op, each of the op's mean duration in the socsim
run. Each run is its own child process, so its peak resident memory (``ru_maxrss``) is its own.

``--legacy`` adds the report as it was before streaming (``run.ops_table: csv``, the whole
trace.json) for the output sizes before/after. ``--op-by-op`` adds the same run with
``run.fast_path: false`` (every op simulated; the socsim row replays quiet inferences, and
its ``fast_path`` entry says how many).

Not a test: a timing never fails. Prints JSON, then a short table::

    python benchmarks/bench_long_run.py --minutes 1
    python benchmarks/bench_long_run.py --minutes 10 --legacy --op-by-op

Needs the zoo models: ``socsim zoo build mobilenetv2_int8 ds_cnn_int8``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCENARIO = ROOT / "scenarios" / "long_two_streams.yaml"


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def _cpu_s() -> float:
    """CPU seconds of this process: on a shared machine, steadier than wall time."""
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _socsim(minutes: float, legacy: bool, op_by_op: bool = False) -> dict:
    t0 = time.perf_counter()
    c0 = _cpu_s()
    from socsim.run import load, plan_jobs, run_size, simulate

    seconds = minutes * 60
    sets = [f"workloads.{i}.duration_s={seconds}" for i in (0, 1)]
    if legacy:
        sets += ["run.ops_table=csv", "run.trace=true"]
    if op_by_op:
        sets += ["run.fast_path=false"]
    scenario = load(SCENARIO, sets)
    jobs = plan_jobs(scenario)
    t1 = time.perf_counter()
    result = simulate(scenario, jobs, size=run_size(scenario, jobs))
    t2 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="bench-long-") as tmp:
        paths = result.write(Path(tmp) / "report")
        sizes = {p.name: p.stat().st_size for p in paths}
    t3 = time.perf_counter()
    ops = sum(u["ops"] for u in result.summary["units"].values())
    mean_ns = {name: u["busy_ms"] * 1e6 / u["ops"] for name, u in
               result.summary["units"].items() if u["ops"]}
    what = "socsim (legacy report)" if legacy else "socsim (op by op)" if op_by_op else "socsim"
    return {"what": what, "ops": ops, "fast_path": result.summary.get("fast_path"),
            "inferences": result.summary["inferences"],
            "ops_by_unit": {n: u["ops"] for n, u in result.summary["units"].items()},
            "mean_op_ns": mean_ns,
            "load_plan_s": t1 - t0, "simulate_s": t2 - t1, "write_s": t3 - t2,
            "wall_s": t3 - t0, "cpu_s": _cpu_s() - c0, "peak_mb": _peak_mb(),
            "output_bytes": sum(sizes.values()),
            "files": sizes}


def _bare_simpy(ops_by_unit: dict[str, int], mean_op_ns: dict[str, float]) -> dict:
    """Bare SimPy: per unit, periodic arrivals each running its ops as request, timeout,
    release cycles on one Resource, until that unit's op count is done."""
    t0 = time.perf_counter()
    c0 = _cpu_s()
    import simpy

    env = simpy.Environment()
    cycles = [0]

    def inference(res, n_ops: int, dur: int):
        for _ in range(n_ops):
            with res.request() as req:
                yield req
                yield env.timeout(dur)
            cycles[0] += 1

    def source(res, total: int, per_inference: int, period: int, dur: int):
        left = total
        while left > 0:
            n = min(per_inference, left)
            env.process(inference(res, n, dur))
            left -= n
            yield env.timeout(period)

    # the scenario's units: NPU 30 Hz, DSP 10 Hz, CPU (the NPU model's two fallback ops) 30 Hz
    period = {"npu": 33_333_333, "dsp": 100_000_000, "cpu": 33_333_333}
    per_inf = {"npu": 64, "dsp": 13, "cpu": 2}
    for unit, total in ops_by_unit.items():
        if total:
            env.process(source(simpy.Resource(env), total, per_inf.get(unit, 1),
                               period.get(unit, 33_333_333), max(1, round(mean_op_ns[unit]))))
    env.run()
    t1 = time.perf_counter()
    return {"what": "bare SimPy", "ops": cycles[0], "wall_s": t1 - t0,
            "cpu_s": _cpu_s() - c0, "peak_mb": _peak_mb(),
            "output_bytes": 0}


def _child(args: list[str]) -> dict:
    out = subprocess.run([sys.executable, __file__, *args], check=True, capture_output=True,
                         text=True, env={**os.environ, "PYTHONHASHSEED": "0"})
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--minutes", type=float, default=10.0, help="simulated minutes (default 10)")
    p.add_argument("--legacy", action="store_true", help="also run the pre-streaming report")
    p.add_argument("--op-by-op", action="store_true",
                   help="also run with run.fast_path: false (every op simulated)")
    p.add_argument("--child", choices=["socsim", "legacy", "opbyop", "simpy"],
                   help=argparse.SUPPRESS)
    p.add_argument("--counts", help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.child in ("socsim", "legacy", "opbyop"):
        print(json.dumps(_socsim(a.minutes, a.child == "legacy", a.child == "opbyop")))
        return
    if a.child == "simpy":
        counts = json.loads(a.counts)
        print(json.dumps(_bare_simpy(counts["ops_by_unit"], counts["mean_op_ns"])))
        return
    if not (ROOT / "workloads" / "mobilenetv2_int8.onnx").exists():
        sys.exit("missing workloads/mobilenetv2_int8.onnx: run "
                 "`socsim zoo build mobilenetv2_int8 ds_cnn_int8` first")
    rows = [_child(["--child", "socsim", "--minutes", str(a.minutes)])]
    counts = {"ops_by_unit": rows[0]["ops_by_unit"], "mean_op_ns": rows[0]["mean_op_ns"]}
    rows.append(_child(["--child", "simpy", "--counts", json.dumps(counts)]))
    if a.legacy:
        rows.append(_child(["--child", "legacy", "--minutes", str(a.minutes)]))
    if a.op_by_op:
        rows.append(_child(["--child", "opbyop", "--minutes", str(a.minutes)]))
    doc = {"minutes": a.minutes, "runs": rows,
           "socsim_over_bare_simpy_wall": rows[0]["wall_s"] / rows[1]["wall_s"],
           "socsim_over_bare_simpy_cpu": rows[0]["cpu_s"] / rows[1]["cpu_s"]}
    print(json.dumps(doc, indent=2))
    fast = rows[0]["fast_path"] or {}
    print(f"\n{a.minutes:g} simulated minutes, {rows[0]['ops']:,} ops, "
          f"{rows[0]['inferences']:,} inferences; fast path: "
          f"{fast.get('inferences_replayed', 0):,} replayed, "
          f"{fast.get('inferences_simulated', 0):,} simulated op by op, "
          f"{fast.get('recordings', 0)} recordings")
    print(f"{'run':24} {'wall s':>8} {'cpu s':>7} {'sim s':>7} {'write s':>8} {'peak MB':>8} "
          f"{'output MB':>10}")
    for r in rows:
        print(f"{r['what']:24} {r['wall_s']:8.2f} {r['cpu_s']:7.2f} "
              f"{r.get('simulate_s', float('nan')):7.2f} "
              f"{r.get('write_s', float('nan')):8.2f} {r['peak_mb']:8.0f} "
              f"{r['output_bytes'] / 1e6:10.1f}")
    print(f"socsim / bare SimPy: wall {doc['socsim_over_bare_simpy_wall']:.1f}x, "
          f"CPU {doc['socsim_over_bare_simpy_cpu']:.1f}x (wall time counts the other "
          "processes sharing the cores)")


if __name__ == "__main__":
    main()
