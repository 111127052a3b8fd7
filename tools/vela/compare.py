"""Compare socsim's NPU models with the committed Vela 5.2 per-layer estimates.

Runs in socsim's environment (reads only tests/data/vela/index.json and the device files)::

    python tools/vela/compare.py                 # per-network and per-op-type tables
    python tools/vela/compare.py --layers        # plus every layer
    python tools/vela/compare.py --json out.json

For every recorded case and Vela system configuration, each TFLite operator's geometry is
lowered to NPU operations (socsim.hw.npu_block_lower.lower_recorded: tensor layouts, tensor
memories and encoded weight sizes as Vela compiled them) and costed two ways on the device
file named after that configuration:

- **block** (after): socsim's block-based model, ``microarchitecture: ethos_u``
  (socsim.hw.npu_block_cycles.network_cycles, weights staged under the previous op);
- **systolic** (before): the same device with ``microarchitecture: systolic`` (its 2-D array
  of the same MAC count, socsim.hw.npu.array_cycles, elementwise and pooling work at
  ``elementwise_ops_per_cycle``), its time ``max(compute, memory)`` with the memory time the
  sum over ports of bytes / bandwidth (socsim.hw.cost.OpCost.memory_ns: an SRAM operand and a
  backing-store operand add up).

A network's cycles are the sum of its operators' (Vela's total is the sum of its rows).
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Mapping
from functools import cache
from math import ceil, prod
from pathlib import Path
from typing import Any

import pandas as pd

from socsim.config.loading import load_soc
from socsim.config.soc import SoC
from socsim.hw.npu import array_cycles
from socsim.hw.npu_block import NpuOp
from socsim.hw.npu_block_cycles import network_cycles
from socsim.hw.npu_block_lower import lower_recorded

REPO = Path(__file__).resolve().parents[2]
INDEX = REPO / "tests" / "data" / "vela" / "index.json"

#: Vela system configuration (index.json key) -> the device file named after it.
DEVICES = {
    "u55_128_high_end": "devices/ethos_u55_128_high_end_embedded.yaml",
    "u55_64_deep": "devices/ethos_u55_64_deep_embedded.yaml",
    "u65_256_high_end": "devices/ethos_u65_256_high_end.yaml",
}

#: Vela memory names -> the port (memory) names the device files use.
PORTS = {"Sram": "sram", "OffChipFlash": "flash", "Dram": "dram"}


@cache
def load_index() -> dict[str, Any]:
    return json.loads(INDEX.read_text())


@cache
def device(config: str) -> SoC:
    return load_soc(REPO / DEVICES[config])


def recorded_ops(case: Mapping[str, Any], config: str) -> list[list[NpuOp]]:
    """Each TFLite operator of ``case`` lowered to NPU ops as Vela compiled it for
    ``config`` (layouts, memories, encoded weight sizes)."""
    layers = case["vela"][config]["layers"]
    return [lower_recorded(geo, vel.get("vela_op_details", []), PORTS)
            for geo, vel in zip(case["layers"], layers)]


def block_cycles(case: Mapping[str, Any], config: str) -> list[float]:
    """The block model's cycles per TFLite operator of ``case`` (ops run back to back)."""
    cfg = device(config).units["npu"].ethos_u
    groups = recorded_ops(case, config)
    res = network_cycles(cfg, [op for g in groups for op in g])
    out, i = [], 0
    for g in groups:
        out.append(sum(lc.total for lc in res[i:i + len(g)]))
        i += len(g)
    return out


def _systolic_op(soc: SoC, op: NpuOp) -> float:
    """Cycles of one NPU op on the device's systolic model, as socsim's systolic NPU costs
    it: array folds for MAC ops, ``elementwise_ops_per_cycle`` for the rest, and the
    memory time of every operand added over ports."""
    unit = soc.units["npu"]
    dtype = "int8" if op.ifm_bits == 8 else "int16"
    per_pe = unit.macs_per_pe_per_cycle.get(dtype, 1)
    oh, ow, oc = op.ofm
    kh, kw = op.kernel
    if op.kind == "conv":
        compute = array_cycles(unit, oh * ow, kh * kw * op.ifm[2], oc, per_pe)
    elif op.kind == "vector":
        compute = array_cycles(unit, 1, op.ifm[2], oc, per_pe)
    elif op.kind == "depthwise":
        compute = oc * array_cycles(unit, oh * ow, kh * kw, 1, per_pe)
    elif op.kind in ("pool_avg", "pool_max"):
        compute = oh * ow * oc * kh * kw / unit.elementwise_ops_per_cycle
    else:
        compute = oh * ow * oc / unit.elementwise_ops_per_cycle
    mode = unit.ethos_u.memory_mode
    f_hz = unit.dvfs.nominal_mhz * 1e6
    traffic: dict[str, float] = {}
    for port, nbytes in ((op.ifm_port or mode.arena, prod(op.ifm) * op.ifm_bits // 8),
                         (op.ifm_port or mode.arena,
                          prod(op.ifm2) * op.ifm_bits // 8 if op.ifm2 else 0),
                         (op.ofm_port or mode.arena, prod(op.ofm) * op.ofm_bits // 8),
                         (mode.constants, op.weight_bytes)):
        traffic[port] = traffic.get(port, 0) + nbytes
    memory = sum(nb / (soc.memories[p].bw_gbps * 1e9 / f_hz) for p, nb in traffic.items())
    return max(ceil(compute), memory)


def systolic_cycles(case: Mapping[str, Any], config: str) -> list[float]:
    """The systolic model's cycles per TFLite operator of ``case``."""
    soc = device(config)
    return [sum(_systolic_op(soc, op) for op in g) for g in recorded_ops(case, config)]


def frame(configs: list[str] | None = None) -> pd.DataFrame:
    """One row per (configuration, case, TFLite operator): Vela's and both models' cycles."""
    idx = load_index()
    rows = []
    for config in configs or list(idx["configs"]):
        for name, case in idx["cases"].items():
            if config not in case["vela"]:
                continue
            vela = case["vela"][config]["layers"]
            for geo, v, b, s in zip(case["layers"], vela, block_cycles(case, config),
                                    systolic_cycles(case, config)):
                rows.append({"config": config, "case": name, "kind": case["kind"],
                             "layer": geo["name"], "op": geo["op"], "vela": v["cycles"],
                             "block": b, "systolic": s})
    return pd.DataFrame(rows)


def per_network(df: pd.DataFrame) -> pd.DataFrame:
    """Whole-network cycles and errors (networks only)."""
    net = df[df["kind"] == "network"].groupby(["config", "case"])[
        ["vela", "block", "systolic"]].sum().reset_index()
    net["block_err_pct"] = 100 * (net["block"] / net["vela"] - 1)
    net["systolic_err_pct"] = 100 * (net["systolic"] / net["vela"] - 1)
    return net


def per_op_type(df: pd.DataFrame) -> pd.DataFrame:
    """Per TFLite op type: count, mean and max absolute per-layer error, both models."""
    d = df.assign(block_err=100 * (df["block"] / df["vela"] - 1).abs(),
                  systolic_err=100 * (df["systolic"] / df["vela"] - 1).abs(),
                  ratio=df["systolic"] / df["vela"])
    g = d.groupby(["config", "op"])
    return pd.DataFrame({
        "layers": g.size(),
        "systolic_mean_abs_err_pct": g["systolic_err"].mean(),
        "systolic_ratio_min": g["ratio"].min(),
        "systolic_ratio_max": g["ratio"].max(),
        "block_mean_abs_err_pct": g["block_err"].mean(),
        "block_max_abs_err_pct": g["block_err"].max(),
    }).reset_index()


def markdown(df: pd.DataFrame) -> str:
    """A pipe table of ``df``: errors (``*_pct``) signed to 0.1, ratios to 0.01, cycles whole."""
    def cell(col: str, v: Any) -> str:
        if isinstance(v, float):
            if col.endswith("_pct"):
                return f"{v:+.1f}"
            return f"{v:.2f}" if "ratio" in col else f"{v:,.0f}"
        return str(v)
    num = [pd.api.types.is_numeric_dtype(df[c]) for c in df.columns]
    lines = ["| " + " | ".join(df.columns) + " |",
             "|" + "|".join("---:" if n else "---" for n in num) + "|"]
    lines += ["| " + " | ".join(cell(c, v) for c, v in zip(df.columns, row)) + " |"
              for row in df.itertuples(index=False)]
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--layers", action="store_true", help="print every layer")
    ap.add_argument("--json", type=Path, help="write the tables as JSON here")
    args = ap.parse_args()
    df = frame()
    net, ops = per_network(df), per_op_type(df)
    pd.set_option("display.width", 200)
    if args.layers:
        d = df.assign(block_err_pct=100 * (df["block"] / df["vela"] - 1))
        print(markdown(d))
    print(markdown(net))
    print()
    print(markdown(ops))
    if args.json:
        args.json.write_text(json.dumps({"networks": net.to_dict("records"),
                                         "op_types": ops.to_dict("records")}, indent=1))


if __name__ == "__main__":
    main()
