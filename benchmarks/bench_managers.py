"""The two-stream scenario with each built-in runtime manager, side by side.

Runs scenarios/two_streams{,_threshold,_feedback,_cascade}.yaml (same streams, seed, SoC,
thermal node and battery; only ``runtime`` differs) for ``--seconds`` of device time each and
prints one JSON document, then a short table:

* per manager and workload: latency p50/p95/p99 (ms, arrival to the end of the last variant
  an inference ran), deadline miss rate, dropped frames, energy per inference (mJ: the
  energy of the workload's own ops and transfers, all variants, over its completed
  inferences; idle leakage is the run's, not a workload's), accuracy-weighted throughput
  (Hz; all answers, and on time only), time per variant (fraction of the run), manager actions aimed at the workload;
* per run: total energy (mJ), average power (mW), estimated battery life (h, the scenario's
  18650 cell at the run's average power: docs/battery.md), the NPU's time at its throttled
  800 MHz point and peak temperature, manager actions by kind, the wall time of the run.

Simulated figures do not depend on the host; the wall times do.

Usage:
    python benchmarks/bench_managers.py [--seconds 60] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from socsim.run import run_scenario

REPO = Path(__file__).resolve().parents[1]
MANAGERS = {"static": "two_streams", "threshold": "two_streams_threshold",
            "feedback": "two_streams_feedback", "cascade": "two_streams_cascade"}


def _time_at(counters, unit: str, freq_mhz: float, end_ns: int) -> float:
    """Milliseconds ``unit`` spent at ``freq_mhz`` (from its frequency counter track)."""
    track = sorted((c.time_ns, c.value) for c in counters
                   if c.unit == unit and c.counter == "freq_mhz")
    total = 0
    for (t0, f), (t1, _) in zip(track, track[1:] + [(end_ns, None)]):
        if f == freq_mhz:
            total += max(0, min(t1, end_ns) - t0)
    return total / 1e6


def run_one(scenario: str, seconds: float, out: Path) -> dict:
    sets = [f"workloads.{i}.duration_s={seconds}" for i in (0, 1)] + [f"run.out={out}"]
    t0 = time.perf_counter()
    result = run_scenario(REPO / "scenarios" / f"{scenario}.yaml", sets)
    wall = time.perf_counter() - t0
    s = result.summary
    rt = s["runtime"]
    span_ms = s["simulated_ms"]
    ops, xfers = result.tables.ops, result.tables.transfers
    active_pj = ops.groupby("workload")["energy_pj"].sum().add(
        xfers.groupby("workload")["energy_pj"].sum(), fill_value=0.0)
    workloads = {}
    for w, d in rt["workloads"].items():
        actions = sum(1 for x in result.trace.switches if x.target == w)
        workloads[w] = {
            "inferences": d["inferences"],
            "latency_ms": d["latency_ms"],
            "miss_rate": d["miss_rate"],
            "dropped": d["dropped"],
            "energy_per_inference_mj": (float(active_pj.get(w, 0.0)) / 1e9 / d["inferences"]
                                        if d["inferences"] else None),
            "accuracy_weighted_throughput_hz": d["accuracy_weighted_throughput_hz"],
            "accuracy_weighted_throughput_on_time_hz":
                d["accuracy_weighted_throughput_on_time_hz"],
            "variant_fraction": {v: t / span_ms for v, t in d["variant_ms"].items()},
            "variant_inferences": d["variant_inferences"],
            "switches": actions,
        }
    npu = s["units"]["npu"]
    return {
        "scenario": f"scenarios/{scenario}.yaml",
        "simulated_ms": span_ms,
        "energy_mj": s["energy_mj"]["total"],
        "average_power_mw": s["power"]["average_mw"],
        "battery_life_h": s["battery"]["life_h"],
        "npu_ms_at_800mhz": _time_at(result.trace.counters, "npu", 800.0,
                                     result.trace.makespan_ns),
        "npu_temp_c_max": npu["temp_c_max"],
        "switches": rt["switches"],
        "switches_by_kind": rt["switches_by_kind"],
        "manager_state": rt.get("manager_state"),
        "wall_s": round(wall, 2),
        "workloads": workloads,
    }


def _f(x, fmt: str) -> str:
    return "-" if x is None else format(x, fmt)


def table(results: dict[str, dict]) -> str:
    lines = [f"{'manager':9} {'workload':8} {'miss %':>6} {'p50':>6} {'p95':>6} {'p99':>6} "
             f"{'drop':>4} {'mJ/inf':>7} {'AWT Hz':>7} {'on time':>7} {'switch':>6}  "
             "time per variant"]
    for m, r in results.items():
        for w, d in r["workloads"].items():
            lat = d["latency_ms"] or {}
            share = ", ".join(f"{v} {f:.0%}" for v, f in d["variant_fraction"].items() if f)
            lines.append(
                f"{m:9} {w:8} {_f(d['miss_rate'] and 100 * d['miss_rate'], '6.1f'):>6} "
                f"{_f(lat.get('p50'), '6.2f')} {_f(lat.get('p95'), '6.2f')} "
                f"{_f(lat.get('p99'), '6.2f')} {d['dropped']:4d} "
                f"{_f(d['energy_per_inference_mj'], '7.3f')} "
                f"{_f(d['accuracy_weighted_throughput_hz'], '7.2f')} "
                f"{_f(d['accuracy_weighted_throughput_on_time_hz'], '7.2f')} "
                f"{d['switches']:6d}  {share}")
    lines.append("")
    lines.append(f"{'manager':9} {'energy mJ':>9} {'avg mW':>7} {'life h':>7} "
                 f"{'NPU@800 s':>9} {'NPU max C':>9} {'wall s':>6}  actions")
    for m, r in results.items():
        lines.append(f"{m:9} {r['energy_mj']:9.1f} {r['average_power_mw']:7.2f} "
                     f"{r['battery_life_h']:7.2f} {r['npu_ms_at_800mhz'] / 1e3:9.2f} "
                     f"{r['npu_temp_c_max']:9.2f} {r['wall_s']:6.1f}  {r['switches_by_kind']}")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=60.0,
                    help="device time of each stream's arrivals (default 60)")
    ap.add_argument("--json", type=Path, help="also write the JSON document here")
    args = ap.parse_args()
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for manager, scenario in MANAGERS.items():
            results[manager] = run_one(scenario, args.seconds, Path(tmp) / manager)
    doc = {"seconds": args.seconds, "managers": results}
    text = json.dumps(doc, indent=2)
    print(text)
    if args.json is not None:
        args.json.write_text(text + "\n")
    print()
    print(table(results))


if __name__ == "__main__":
    main()
