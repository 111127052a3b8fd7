"""Run the Vela reference networks' .tflite files through socsim's simulator and compare the
simulated NPU time with Vela 5.2's total cycles.

Runs in socsim's environment::

    python tools/vela/end_to_end.py              # per-network table (markdown) + JSON
    python tools/vela/end_to_end.py --layers     # plus every operator: Vela, cost model, simulated

Each network (tests/data/vela/tflite/<case>.tflite, the bytes Vela compiled) is run with the
bundled scenario ``scenarios/ethos_u55_tflite.yaml`` (policy ``single`` on the NPU, one
inference, timing only) with its ``soc`` set to the device file named after each Vela system
configuration. A network's simulated cycles are its inference latency x the NPU clock; its
Vela cycles are the sum of Vela's per-layer rows. Unlike tools/vela/compare.py, nothing is
taken from Vela's compiled network: layouts, memories and weight sizes are socsim's own.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import pandas as pd

from socsim.run import run_scenario
from tools.vela.compare import DEVICES, block_cycles, device, load_index, markdown

REPO = Path(__file__).resolve().parents[2]
SCENARIO = REPO / "scenarios" / "ethos_u55_tflite.yaml"
TFLITE = REPO / "tests" / "data" / "vela" / "tflite"


def simulate(case: str, config: str):
    """socsim's run of ``case`` on the device named after ``config`` (one inference)."""
    overrides = [f"soc=../{DEVICES[config]}",
                 f"workloads.0.model=../tests/data/vela/tflite/{case}.tflite"]
    return run_scenario(SCENARIO, overrides)


def _mhz(config: str) -> float:
    return float(device(config).units["npu"].dvfs.nominal_mhz)


def network_row(case: str, config: str, *, layers: bool = False) -> dict[str, Any]:
    """Vela's, the cost model's (recorded geometry) and the simulator's cycles for one case."""
    idx = load_index()["cases"][case]
    res = simulate(case, config)
    mhz = _mhz(config)
    latency_cycles = float(res.tables.inferences["latency_ns"].iloc[0]) * mhz / 1e3
    ops = res.tables.ops
    sim = float(ops["end_ns"].max() - ops["start_ns"].min()) * mhz / 1e3
    vela = float(idx["vela"][config]["total_cycles"])
    model = float(sum(block_cycles(idx, config)))
    row = {"config": config, "case": case, "vela": vela, "cost_model": model,
           "simulated": sim, "sim_err_pct": 100 * (sim / vela - 1),
           "model_err_pct": 100 * (model / vela - 1),
           "latency_cycles": latency_cycles, "cpu_ops": int((ops["unit"] != "npu").sum())}
    if layers:
        vel = {v["name"]: v["cycles"] for v in idx["vela"][config]["layers"]}
        per_model = dict(zip((g["name"] for g in idx["layers"]), block_cycles(idx, config)))
        row["layers"] = [{"op": r.op, "op_type": r.op_type, "vela": vel.get(r.op),
                          "cost_model": per_model.get(r.op),
                          "simulated": (r.end_ns - r.start_ns) * mhz / 1e3}
                         for r in ops.itertuples()]
    return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--layers", action="store_true")
    ap.add_argument("--json", type=Path)
    ap.add_argument("--cases", nargs="*")
    ap.add_argument("--configs", nargs="*", default=list(DEVICES))
    args = ap.parse_args()
    cases = args.cases or [n for n, c in load_index()["cases"].items()
                           if c["kind"] == "network"]
    rows = [network_row(c, cfg, layers=args.layers) for cfg in args.configs for c in cases]
    df = pd.DataFrame([{k: v for k, v in r.items() if k != "layers"} for r in rows])
    print(markdown(df))
    if args.layers:
        for r in rows:
            print(f"\n{r['config']} {r['case']}")
            print(pd.DataFrame(r["layers"]).assign(op=lambda d: d["op"].str[-40:])
                  .pipe(markdown))
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1) + "\n")


if __name__ == "__main__":
    main()
