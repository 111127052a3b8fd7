"""Write a run's report files: summary.json, the op table (ops.csv or ops.parquet),
transfers.csv, trace.json (whole, windowed or none), plots, and outputs.npz for a functional
run.

Files are written into a folder the caller has just made empty (the staging folder of
:class:`socsim.report.output.ReportFolder`), each created exclusively (``O_EXCL``), so a
symbolic link planted in the folder is never followed.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from socsim.report.output import report_names
from socsim.report.tables import PJ_PER_UJ, Tables
from socsim.report.transfers import transfer_table_frame
from socsim.sim.trace import Trace

if TYPE_CHECKING:
    from socsim.report.stream import OpStream
    from socsim.report.transfers import TransferStream


def ops_csv_frame(t: Tables) -> pd.DataFrame:
    """ops.csv: times in µs, energies in µJ."""
    return op_table_frame(t.ops)


def op_table_frame(f: pd.DataFrame) -> pd.DataFrame:
    """The op table (ops.csv, ops.parquet) of the op frame ``f``: times in µs, energies in
    µJ."""
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
    """transfers.csv of ``t.transfers``: times in µs, energies in µJ; engine is empty for
    zero-copy hand-offs (:func:`socsim.report.transfers.transfer_table_frame`)."""
    return transfer_table_frame(t.transfers)


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
                 plot_window_ns: tuple[int, int] | None = None, *,
                 ops_table: str = "csv", trace_file: bool = True,
                 window: tuple[int, int] | None = None,
                 stream: OpStream | None = None,
                 transfer_stream: TransferStream | None = None) -> list[Path]:
    """Write every report file into the existing, empty folder ``out``; return their paths.

    Args:
        out: the folder (normally a staging folder; see :mod:`socsim.report.output`).
        t, trace, summary: the run's frames, trace and summary dictionary.
        outputs: a functional run's arrays by ``workload/inference/output`` (outputs.npz).
        on_file: called with each file's name before it is written (progress display).
        plot_window_ns: the timeline's zoom window (default: the first inference).
        ops_table: ``csv`` (from ``t.ops``), ``parquet`` (from ``stream``) or ``none``.
        trace_file: write trace.json; window: only what overlaps this span (ns) in it.
        stream: the streamed run's op table (:mod:`socsim.report.stream`).
        transfer_stream: the streamed run's transfers.csv (:mod:`socsim.report.transfers`);
            None: transfers.csv from ``t.transfers``.

    Raises:
        FileExistsError: a file (or a link) of that name is already in ``out``.
        OSError: the folder cannot be written (full disk, removed meanwhile).
    """
    from socsim.report.chrome import chrome_trace
    from socsim.report.plots import energy, timeline

    names = report_names(outputs is not None, ops_table, trace_file)
    paths = [out / n for n in names]

    def start(name: str):
        if on_file is not None:
            on_file(name)
        return open(out / name, "xb")

    with start("summary.json") as fh:
        text = json.dumps(strict_summary(summary), indent=2, allow_nan=False)
        fh.write(text.encode() + b"\n")
    if "ops.csv" in names:
        with start("ops.csv") as fh:
            ops_csv_frame(t).to_csv(fh, index=False)
    if "ops.parquet" in names:
        if stream is None:
            raise ValueError("ops_table = parquet needs the run's op stream")
        with start("ops.parquet") as fh:
            stream.copy_table(fh)
    with start("transfers.csv") as fh:
        if transfer_stream is not None:
            transfer_stream.copy_table(fh)
        else:
            transfers_csv_frame(t).to_csv(fh, index=False)
    if "trace.json" in names:
        with start("trace.json") as fh:
            # one C-encoded string: json.dump's chunked iterencode is ~10x slower on large
            # traces
            fh.write(json.dumps(chrome_trace(t, trace, window), allow_nan=False).encode())
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
