"""Write a run's report files: summary.json, ops.csv, transfers.csv, trace.json, plots, and
outputs.npz for a functional run.

Files are written into a folder the caller has just made empty (the staging folder of
:class:`socsim.report.output.ReportFolder`), each created exclusively (``O_EXCL``), so a
symbolic link planted in the folder is never followed.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from socsim.report.output import report_names
from socsim.report.tables import PJ_PER_UJ, Tables
from socsim.sim.trace import Trace


def ops_csv_frame(t: Tables) -> pd.DataFrame:
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


def transfers_csv_frame(t: Tables) -> pd.DataFrame:
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


def strict_summary(summary: dict) -> dict:
    """``summary`` with every non-finite number (inf, NaN) replaced by ``None`` and named in
    ``notes``, so that ``summary.json`` is strict JSON and nothing is dropped silently."""
    replaced: list[str] = []

    def walk(value, path: str):
        if isinstance(value, float) and not math.isfinite(value):
            replaced.append(f"{path} = {value}")
            return None
        if isinstance(value, Mapping):
            return {k: walk(v, f"{path}.{k}" if path else str(k)) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [walk(v, f"{path}.{i}") for i, v in enumerate(value)]
        return value

    clean = walk(summary, "")
    if replaced:
        clean["notes"] = [*clean.get("notes", []),
                          *(f"summary: {r} is not a finite number; written as null"
                            for r in replaced)]
    return clean


def write_report(out: Path, t: Tables, trace: Trace, summary: dict,
                 outputs: Mapping[str, np.ndarray] | None = None,
                 on_file: Callable[[str], None] | None = None,
                 plot_window_ns: tuple[int, int] | None = None) -> list[Path]:
    """Write every report file into the existing, empty folder ``out``; return their paths.

    Args:
        out: the folder (normally a staging folder; see :mod:`socsim.report.output`).
        t, trace, summary: the run's frames, trace and summary dictionary.
        outputs: a functional run's arrays by ``workload/inference/output`` (outputs.npz).
        on_file: called with each file's name before it is written (progress display).
        plot_window_ns: the timeline's zoom window (default: the first inference).

    Raises:
        FileExistsError: a file (or a link) of that name is already in ``out``.
        OSError: the folder cannot be written (full disk, removed meanwhile).
    """
    from socsim.report.chrome import chrome_trace
    from socsim.report.plots import energy, timeline

    paths = [out / n for n in report_names(outputs is not None)]

    def start(name: str):
        if on_file is not None:
            on_file(name)
        return open(out / name, "xb")

    with start("summary.json") as fh:
        text = json.dumps(strict_summary(summary), indent=2, allow_nan=False)
        fh.write(text.encode() + b"\n")
    with start("ops.csv") as fh:
        ops_csv_frame(t).to_csv(fh, index=False)
    with start("transfers.csv") as fh:
        transfers_csv_frame(t).to_csv(fh, index=False)
    with start("trace.json") as fh:
        # one C-encoded string: json.dump's chunked iterencode is ~10x slower on large traces
        fh.write(json.dumps(chrome_trace(t, trace), allow_nan=False).encode())
    rows = [*trace.units, *trace.dma_engines]
    with start("timeline.png") as fh:
        timeline(t, rows, trace.engines, counters=trace.counters,
                 window_ns=plot_window_ns).savefig(fh, dpi=110, format="png")
    with start("energy.png") as fh:
        energy(t).savefig(fh, dpi=110, format="png")
    if outputs is not None:
        with start("outputs.npz") as fh:
            np.savez_compressed(fh, **outputs)
    return paths
