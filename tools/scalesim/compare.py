"""socsim's NPU cycles beside the committed SCALE-Sim reference, per layer and dataflow.

    python tools/scalesim/compare.py            # markdown tables for docs/npu_validation.md

Runs in socsim's environment; reads ``tests/hw/reference/scalesim/{setup.json,<config>.csv}``.
"""

from __future__ import annotations

import json
import time
from functools import cache
from pathlib import Path

import pandas as pd
import yaml

from socsim.config import SoC
from socsim.config.units import Npu
from socsim.graph import Graph, load_graph
from socsim.hw import op_cycles
from socsim.zoo import build

ROOT = Path(__file__).resolve().parents[2]
REF = ROOT / "tests" / "hw" / "reference" / "scalesim"
DATAFLOW = {"os": "output_stationary", "ws": "weight_stationary", "is": "input_stationary"}


def setup() -> dict:
    """The committed validation set (configs and layers)."""
    return json.loads((REF / "setup.json").read_text())


@cache
def graph(model: str) -> Graph:
    """A zoo model's graph (built once per process)."""
    return load_graph(build(model))


def npu(config: dict, dataflow: str, buffered: bool = False) -> Npu:
    """The config's device NPU with the dataflow (and, if ``buffered``, the SRAM sizes) set.

    Launch overhead is zeroed: SCALE-Sim has none.
    """
    soc = SoC.model_validate(yaml.safe_load((ROOT / config["device"]).read_text()))
    unit = next(u for u in soc.units.values() if u.kind == "npu")
    update = {"dataflow": DATAFLOW[dataflow], "launch_overhead_cycles": 0}
    if buffered:
        update |= {k: config[k] for k in ("ifmap_sram_kib", "filter_sram_kib", "ofmap_sram_kib")}
    return Npu.model_validate(unit.model_dump() | update)


def compare(config_name: str, buffered: bool = False) -> pd.DataFrame:
    """One row per (layer, dataflow): SCALE-Sim's and socsim's cycles, error, and timings.

    ``buffered=False`` compares with SCALE-Sim's ``Total Cycles`` (the array's compute time);
    ``True`` with ``Total Cycles (incl. prefetch)`` (SRAM fill and drain added).
    """
    s = setup()
    config = next(c for c in s["configs"] if c["name"] == config_name)
    ref = pd.read_csv(REF / f"{config_name}.csv")
    layers = {l["layer"]: l for l in s["layers"]}
    rows = []
    for r in ref.itertuples():
        layer = layers[r.layer]
        g = graph(layer["model"])
        op = next(o for o in g.ops if o.name == layer["op"])
        unit = npu(config, r.dataflow, buffered)
        t0 = time.perf_counter()
        cyc = op_cycles(unit, op, g)
        model_s = time.perf_counter() - t0
        want = r.total_cycles_incl_prefetch if buffered else r.total_cycles
        rows.append({"layer": r.layer, "family": layer["family"], "dataflow": r.dataflow,
                     "scalesim_cycles": int(want), "socsim_cycles": cyc.compute,
                     "error_pct": 100 * (cyc.compute - want) / want,
                     "scalesim_util_pct": r.overall_util_pct,
                     "socsim_util_pct": 100 * cyc.utilisation,
                     "scalesim_s": r.wall_s, "socsim_s": model_s})
    return pd.DataFrame(rows)


def main() -> None:
    for c in setup()["configs"]:
        if not (REF / f"{c['name']}.csv").exists():
            continue
        for buffered in (False, True):
            df = compare(c["name"], buffered)
            what = "incl. prefetch" if buffered else "Total Cycles"
            print(f"\n### {c['name']} ({c['array_rows']}x{c['array_cols']}), vs {what}\n")
            wide = df.pivot(index="layer", columns="dataflow",
                            values=["scalesim_cycles", "socsim_cycles", "error_pct"])
            print("| layer | " + " | ".join(
                f"{d} SCALE-Sim | {d} socsim | {d} err %" for d in ("os", "ws", "is")) + " |")
            print("|---|" + "---:|" * 9)
            for layer in df["layer"].unique():
                cells = []
                for d in ("os", "ws", "is"):
                    cells += [f"{wide.loc[layer, ('scalesim_cycles', d)]:,}",
                              f"{wide.loc[layer, ('socsim_cycles', d)]:,.0f}",
                              f"{wide.loc[layer, ('error_pct', d)]:+.2f}"]
                print(f"| {layer} | " + " | ".join(cells) + " |")
            stats = df.groupby("dataflow")["error_pct"].agg(
                max_abs=lambda e: e.abs().max(), mean_abs=lambda e: e.abs().mean())
            print("\n| dataflow | max abs error % | mean abs error % |\n|---|---:|---:|")
            for d, st in stats.iterrows():
                print(f"| {d} | {st['max_abs']:.3f} | {st['mean_abs']:.3f} |")


if __name__ == "__main__":
    main()
