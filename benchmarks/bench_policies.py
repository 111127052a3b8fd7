"""Every built-in placement policy on bundled scenarios, against ``single``.

Runs each scenario (timing only) once per policy with the parameters below and prints one
JSON document (per scenario and policy: p50 latency, energy per inference, deadline misses,
placement time, ops per unit), then a short table with each policy's latency and energy
relative to ``single``. The figures are simulated quantities: they do not depend on the host
(the placement time does).

Usage:
    python benchmarks/bench_policies.py [--scenarios scenarios/quickstart.yaml ...]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from socsim.run import load, plan_jobs, simulate

REPO = Path(__file__).resolve().parents[1]
DEFAULT = ["scenarios/quickstart.yaml", "scenarios/imx8mp_resnet8_subgraph.yaml",
           "scenarios/imx8mp_mobilenetv2.yaml"]
#: policy -> params; `npu` and `cpu` are unit names of the bundled devices
POLICIES = {
    "single": {"unit": "npu"},
    "greedy_eft": {},
    "heft": {"inferences": 2},
    "layerwise": {"units": ["npu", "cpu"]},
    "subgraph": {"accelerator": "npu"},
    "energy_aware": {"latency_ms": 10},
    "priority": {"discipline": "edf"},
}


def run(scenario: str, policy: str, params: dict, out: Path) -> dict:
    sc = load(REPO / scenario, ["run.functional=false", f"run.out={out}",
                                f"policy.name={policy}", f"policy.params={json.dumps(params)}"])
    t0 = time.perf_counter()
    jobs = plan_jobs(sc)
    placed = time.perf_counter() - t0
    s = simulate(sc, jobs).summary
    units: dict[str, int] = {}
    for job in jobs:
        for u in job.plan.units:
            units[u] = units.get(u, 0) + 1
    return {"latency_p50_ms": s["latency_ms"]["p50"],
            "energy_per_inference_mj": s["energy_mj"]["per_inference"],
            "deadline_misses": s["deadline_misses"], "place_s": round(placed, 3),
            "ops_per_unit": units}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scenarios", nargs="+", default=DEFAULT)
    args = ap.parse_args()
    results: dict[str, dict[str, dict]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for sc in args.scenarios:
            results[sc] = {p: run(sc, p, params, Path(tmp) / f"{Path(sc).stem}_{p}")
                           for p, params in POLICIES.items()}
    print(json.dumps({"policies": POLICIES, "results": results}, indent=1))
    print(f"\n{'scenario':32} {'policy':13} {'p50 ms':>9} {'vs single':>9} "
          f"{'mJ/inf':>9} {'vs single':>9}")
    for sc, rows in results.items():
        base = rows["single"]
        for p, r in rows.items():
            print(f"{Path(sc).stem:32} {p:13} {r['latency_p50_ms']:9.4f} "
                  f"{r['latency_p50_ms'] / base['latency_p50_ms']:9.3f} "
                  f"{r['energy_per_inference_mj']:9.5f} "
                  f"{r['energy_per_inference_mj'] / base['energy_per_inference_mj']:9.3f}")


if __name__ == "__main__":
    main()
