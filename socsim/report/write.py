"""Write a run's report folder: summary.json, ops.csv, transfers.csv, trace.json, plots."""

from __future__ import annotations

import json
from pathlib import Path

from socsim.report.chrome import chrome_trace
from socsim.report.plots import energy, timeline
from socsim.report.tables import PJ_PER_UJ, Tables
from socsim.sim.trace import Trace


def ops_csv_frame(t: Tables):
    """ops.csv: times in µs, energies in µJ."""
    f = t.ops
    out = f[["workload", "inference", "op", "op_type", "dtype", "unit", "engine"]].copy()
    out["start_us"] = f["start_ns"] / 1e3
    out["end_us"] = f["end_ns"] / 1e3
    for col in ("cycles", "macs", "utilisation", "bytes_in", "weight_bytes", "bytes_out"):
        out[col] = f[col]
    out["energy_uj"] = f["energy_pj"] / PJ_PER_UJ
    out["compute_uj"] = f["compute_pj"] / PJ_PER_UJ
    out["sram_uj"] = f["sram_pj"] / PJ_PER_UJ
    out["dram_uj"] = f["dram_pj"] / PJ_PER_UJ
    out["static_uj"] = f["static_pj"] / PJ_PER_UJ
    out["freq_mhz"] = f["freq_mhz"]
    out["voltage_v"] = f["voltage_v"]
    return out


def transfers_csv_frame(t: Tables):
    """transfers.csv: times in µs, energies in µJ; engine is empty for zero-copy hand-offs."""
    f = t.transfers
    out = f[["workload", "inference", "tensor", "kind", "src", "dst", "bytes"]].copy()
    out["start_us"] = f["start_ns"] / 1e3
    out["end_us"] = f["end_ns"] / 1e3
    out["engine"] = f["engine"]
    out["channel"] = f["channel"].astype("Int64")
    out["energy_uj"] = f["energy_pj"] / PJ_PER_UJ
    out["dma_uj"] = f["dma_pj"] / PJ_PER_UJ
    out["sram_uj"] = f["sram_pj"] / PJ_PER_UJ
    out["dram_uj"] = f["dram_pj"] / PJ_PER_UJ
    return out


def write_report(out: Path, t: Tables, trace: Trace, summary: dict) -> list[Path]:
    """Write every report file into ``out`` (created if needed); return their paths."""
    out.mkdir(parents=True, exist_ok=True)
    paths = {name: out / name for name in ("summary.json", "ops.csv", "transfers.csv",
                                           "trace.json", "timeline.png", "energy.png")}
    paths["summary.json"].write_text(json.dumps(summary, indent=2) + "\n")
    ops_csv_frame(t).to_csv(paths["ops.csv"], index=False)
    transfers_csv_frame(t).to_csv(paths["transfers.csv"], index=False)
    with paths["trace.json"].open("w") as fh:
        json.dump(chrome_trace(t, trace), fh)
    rows = [*trace.units, *[d for d in trace.dma_engines]]
    timeline(t, rows, trace.engines).savefig(paths["timeline.png"], dpi=110)
    energy(t).savefig(paths["energy.png"], dpi=110)
    return list(paths.values())
