"""A run's op records, taken in chunks as the run goes: bounded memory for long runs.

With ``run.ops_table: parquet`` (or ``none``) the engine hands its op records to an
:class:`OpStream` every :data:`OPS_CHUNK` records (:meth:`socsim.sim.trace.Trace.stream_ops`).
Each chunk is added to the per-unit totals the summary reads
(:class:`socsim.report.tables.OpTotals`) and to the time series
(:class:`socsim.report.bins.RunBins`), appended to ``ops.parquet`` (one row group per
chunk, in a spool folder until the report is written) and dropped, except the ops the report
still draws: those of the first inferences of each workload (the timeline plot), those
overlapping ``run.trace.window_s`` (trace.json) and ``run.plot_window_ms`` (the timeline's
zoom).
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import BinaryIO

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from socsim.report.bins import RunBins
from socsim.report.tables import OpTotals, op_frame
from socsim.sim.trace import OP_COLUMNS, OpRecord

OPS_CHUNK = 65_536
"""Op records per chunk: about 30 MB of records in memory at once, a row group of ops.parquet."""

KEEP_INFERENCES = 4
"""Ops of the first inferences of each workload kept for the timeline plot
(:func:`socsim.report.plots.timeline` draws these)."""

_STRINGS = ("workload", "op", "op_type", "dtype", "unit")
_INTS = ("inference", "engine", "macs", "bytes_in", "weight_bytes", "bytes_out")

OPS_PARQUET = "ops.parquet"


def ops_schema(columns: Sequence[str]) -> pa.Schema:
    """The Parquet schema of the op table's ``columns`` (ops.csv's, see
    :func:`socsim.report.write.ops_csv_frame`): strings, 64-bit integers, doubles."""
    return pa.schema([(c, pa.string() if c in _STRINGS else pa.int64() if c in _INTS
                       else pa.float64()) for c in columns])


def window_ns(trace_setting) -> tuple[int, int] | None:
    """``run.trace``'s window in integer ns (None: the whole run or no trace)."""
    window = getattr(trace_setting, "window_s", None)
    if window is None:
        return None
    return round(window[0] * 1e9), round(window[1] * 1e9)


def in_window(start_ns: pd.Series, end_ns: pd.Series, window: tuple[int, int]) -> pd.Series:
    """Records of ``[start, end]`` that overlap ``window`` (an instant at its start counts)."""
    return (end_ns >= window[0]) & (start_ns < window[1])


def kept_mask(f: pd.DataFrame, keep_inferences: int,
              *windows: tuple[int, int] | None) -> pd.Series:
    """The records of ``f`` (ops or transfers) a streamed run keeps in memory: those of its
    first ``keep_inferences`` inferences and those overlapping any of ``windows`` (None:
    no window)."""
    keep = f["inference"] < keep_inferences
    for window in windows:
        if window is not None:
            keep |= in_window(f["start_ns"], f["end_ns"], window)
    return keep


def records_frame(records: Sequence[OpRecord]) -> pd.DataFrame:
    """:func:`~socsim.report.tables.op_frame` of a chunk, which may hold blocks of records
    as columns (:class:`socsim.sim.trace.OpBuffer`: the fast path's replayed windows, no
    tuple per op). The same frame, column types and values as ``op_frame`` of the records as
    tuples: each column is the concatenation of its parts, each part typed as pandas types
    a list of its values (integers int64, with a float anywhere float64, strings str)."""
    blocks = getattr(records, "blocks", None)
    if not blocks:
        return op_frame(records)
    parts: dict[str, list] = {c: [] for c in OP_COLUMNS}
    for kind, seg in records.segments():
        if kind == "block":
            for c in OP_COLUMNS:
                parts[c].append(seg[c])
            continue
        for c, values in zip(OP_COLUMNS, zip(*seg)):
            parts[c].append(np.array(values, dtype=object if c in _STRINGS else None))
    ops = pd.DataFrame({c: np.concatenate(p) for c, p in parts.items()})
    ops["memory_pj"] = ops["sram_pj"] + ops["dram_pj"]
    ops["energy_pj"] = ops["compute_pj"] + ops["memory_pj"] + ops["static_pj"]
    return ops


class OpStream:
    """The sink of a streamed run's op records (see the module).

    Args:
        ops_table: ``parquet`` (write ops.parquet) or ``none``.
        window: trace.json's window in ns (None: no op is kept for it).
        keep_inferences: keep the ops of inferences numbered below this (the timeline's).
        also: another window (ns) whose ops are kept (the timeline's ``run.plot_window_ms``).
    """

    def __init__(self, ops_table: str, window: tuple[int, int] | None,
                 keep_inferences: int = KEEP_INFERENCES, also: tuple[int, int] | None = None):
        if ops_table not in ("parquet", "none"):
            raise ValueError(f"ops_table = {ops_table!r}: a stream writes parquet or none")
        self.ops_table = ops_table
        self.window = window
        self.keep_inferences = keep_inferences
        self.also = also
        self.totals = OpTotals()
        self.bins = RunBins()  # the time series of every op (socsim.report.bins)
        self.records = 0
        self._kept: list[pd.DataFrame] = []
        self._spool: tempfile.TemporaryDirectory | None = None
        self._writer: pq.ParquetWriter | None = None

    def __call__(self, records: Sequence[OpRecord]) -> None:
        """Take one chunk of records (called by :meth:`Trace.flush_ops`)."""
        from socsim.report.write import op_table_frame

        ops = records_frame(records)
        self.records += len(ops)
        self.totals.add(ops)
        self.bins.add_ops(ops)
        if self.ops_table == "parquet":
            table = op_table_frame(ops)
            if self._writer is None:
                self._spool = tempfile.TemporaryDirectory(prefix="socsim-ops-")
                self._writer = pq.ParquetWriter(Path(self._spool.name) / OPS_PARQUET,
                                                ops_schema(table.columns),
                                                compression="snappy")
            self._writer.write_table(pa.Table.from_pandas(
                table, schema=ops_schema(table.columns), preserve_index=False))
        keep = kept_mask(ops, self.keep_inferences, self.window, self.also)
        if keep.any():
            self._kept.append(ops[keep])

    def finish(self) -> tuple[pd.DataFrame, OpTotals, RunBins]:
        """Close the table; return the kept ops (one frame), the totals and the bins of every
        op."""
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        kept = (pd.concat(self._kept, ignore_index=True) if self._kept
                else op_frame([]))
        self._kept = [kept]
        return kept, self.totals, self.bins

    def copy_table(self, fh: BinaryIO) -> None:
        """Copy the finished ops.parquet into ``fh`` (an empty table if no op ran)."""
        if self._spool is None:
            from socsim.report.write import op_table_frame

            empty = op_table_frame(op_frame([]))
            pq.write_table(pa.Table.from_pandas(empty, schema=ops_schema(empty.columns),
                                                preserve_index=False), fh)
            return
        with open(Path(self._spool.name) / OPS_PARQUET, "rb") as src:
            shutil.copyfileobj(src, fh, 1 << 20)

    def close(self) -> None:
        """Remove the spool folder (also done when the stream is garbage-collected)."""
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        if self._spool is not None:
            self._spool.cleanup()
            self._spool = None
