"""NPU model speed: socsim's analytical per-layer time beside SCALE-Sim's per-layer wall time.

socsim: ``op_cycles`` on each validation layer (tests/hw/reference/scalesim/setup.json), for
each dataflow, timed over ``--repeat`` calls (best of), graph building excluded. SCALE-Sim: the
wall times committed by tools/scalesim/regenerate.py (one SCALE-Sim run per layer and
dataflow, estimate-bandwidth mode, traces off). Both are cycle counts for the same layer on
the same array; docs/npu_validation.md has the accuracy side.

Usage: python benchmarks/bench_npu.py [--config u55_16x16] [--repeat 200]
Prints one JSON object, then a table.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools" / "scalesim"))

from compare import REF, compare, graph, npu, setup

from socsim.hw import op_cycles


def socsim_layer_s(config: dict, layer: dict, dataflow: str, repeat: int) -> float:
    """Best-of-``repeat`` seconds of one ``op_cycles`` call on the layer."""
    g = graph(layer["model"])
    op = next(o for o in g.ops if o.name == layer["op"])
    unit = npu(config, dataflow)
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        op_cycles(unit, op, g)
        best = min(best, time.perf_counter() - t0)
    return best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", default="u55_16x16")
    ap.add_argument("--repeat", type=int, default=200)
    args = ap.parse_args()
    s = setup()
    config = next(c for c in s["configs"] if c["name"] == args.config)
    layers = {l["layer"]: l for l in s["layers"]}
    ref = pd.read_csv(REF / f"{args.config}.csv")
    err = compare(args.config).set_index(["layer", "dataflow"])["error_pct"]
    rows = []
    for r in ref.itertuples():
        t = socsim_layer_s(config, layers[r.layer], r.dataflow, args.repeat)
        rows.append({"layer": r.layer, "dataflow": r.dataflow, "socsim_us": t * 1e6,
                     "scalesim_s": r.wall_s, "speedup": r.wall_s / t,
                     "error_pct": float(err[(r.layer, r.dataflow)])})
    df = pd.DataFrame(rows)
    summary = {
        "config": args.config, "layers": int(df["layer"].nunique()), "runs": len(df),
        "python": platform.python_version(), "machine": platform.machine(),
        "socsim_us_median": statistics.median(df["socsim_us"]),
        "socsim_us_max": float(df["socsim_us"].max()),
        "scalesim_s_median": statistics.median(df["scalesim_s"]),
        "scalesim_s_max": float(df["scalesim_s"].max()),
        "speedup_median": statistics.median(df["speedup"]),
        "speedup_min": float(df["speedup"].min()),
        "scalesim_total_s": float(df["scalesim_s"].sum()),
        "socsim_total_s": float(df["socsim_us"].sum() / 1e6),
        "max_abs_error_pct": float(df["error_pct"].abs().max()),
        "scalesim_version": (REF / "VERSION").read_text().split("\n")[0]
        if (REF / "VERSION").exists() else "unknown",
    }
    print(json.dumps(summary, indent=1))
    print(df.to_string(index=False, float_format=lambda v: f"{v:,.2f}"))


if __name__ == "__main__":
    main()
