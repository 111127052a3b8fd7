"""A run's transfer records (DMA copies, weight page-ins, zero-copy hand-offs) as a frame, their
totals for the summary, and, in a streamed run, taken in chunks as the run goes.

:class:`TransferTotals` holds what ``summary.json`` says of transfers (per DMA engine:
transfers, bytes, busy time, energies; zero-copy hand-offs; page-ins), added chunk by chunk.
Every run adds its transfers to it: a run that keeps its records in one go, a streamed run
(``run.ops_table`` parquet or none) at each op chunk through :class:`TransferStream`, which
also appends them to ``transfers.csv`` (in a spool folder until the report is written), adds
them to the run's bins (:mod:`socsim.report.bins`) and keeps only those the plots and the
trace window need (as :class:`socsim.report.stream.OpStream` does for ops).
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import BinaryIO

import pandas as pd

from socsim.report.bins import RunBins
from socsim.report.totals import KeyedTotals
from socsim.sim.trace import TRANSFER_COLUMNS, Trace, TransferRecord

PJ_PER_UJ = 1e6
_PJ = ["dma_pj", "sram_pj", "dram_pj"]
#: the columns of :meth:`TransferTotals.engines`, per DMA engine
ENGINE_COLUMNS = ("transfers", "bytes", "busy_ns", *_PJ)


def transfer_frame(records: Sequence[TransferRecord]) -> pd.DataFrame:
    """The records as a frame (TRANSFER_COLUMNS), with ``memory_pj`` and ``energy_pj``."""
    f = pd.DataFrame.from_records(records, columns=list(TRANSFER_COLUMNS))
    f["memory_pj"] = f["sram_pj"] + f["dram_pj"]
    f["energy_pj"] = f["dma_pj"] + f["memory_pj"]
    return f


def transfer_table_frame(f: pd.DataFrame) -> pd.DataFrame:
    """transfers.csv of the frame ``f``: times in µs, energies in µJ; engine is empty for
    zero-copy hand-offs."""
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


class TransferTotals:
    """Totals of transfer records, added chunk by chunk (see the module). Counts, bytes and
    nanoseconds are exact integers; energies are pandas' per-chunk sums added in chunk order
    (a run of one chunk gets exactly the sums of the whole table)."""

    def __init__(self) -> None:
        self._engines = KeyedTotals("engine", ENGINE_COLUMNS, "transfers", _PJ)
        self.zero_copy_count = 0
        self.zero_copy_bytes = 0
        self.page_ins = 0
        self.page_in_bytes = 0
        self.page_in_ns = 0
        self.page_in_pj = 0.0

    def add(self, f: pd.DataFrame) -> None:
        """Add the transfers of ``f`` (a :func:`transfer_frame`)."""
        if f.empty:
            return
        zc = f["kind"] == "zero_copy"
        self.zero_copy_count += int(zc.sum())
        self.zero_copy_bytes += int(f.loc[zc, "bytes"].sum())
        ins = f[f["kind"] == "page_in"]
        self.page_ins += len(ins)
        self.page_in_bytes += int(ins["bytes"].sum())
        self.page_in_ns += int((ins["end_ns"] - ins["start_ns"]).sum())
        self.page_in_pj += float(ins["energy_pj"].sum())
        self._engines.add(f[~zc])

    def engines(self) -> pd.DataFrame:
        """Per DMA engine that moved bytes (sorted by name): ENGINE_COLUMNS."""
        return self._engines.frame()


class TransferStream:
    """The transfers of a streamed run, taken from ``trace.transfers`` at each :meth:`drain`
    (called with every op chunk; see the module).

    Args:
        trace: the running simulation's trace (its ``transfers`` list is emptied in place).
        bins: the run's bins (the op stream's).
        window: trace.json's window in ns (None: no transfer is kept for it).
        keep_inferences: keep the transfers of inferences numbered below this.
        also: another window (ns) whose transfers are kept (``run.plot_window_ms``).
        chunk: records taken per chunk (the last chunk, at :meth:`finish`, may be shorter).
    """

    def __init__(self, trace: Trace, bins: RunBins, window: tuple[int, int] | None,
                 keep_inferences: int, also: tuple[int, int] | None = None,
                 chunk: int = 65_536):
        self.trace = trace
        self.chunk = chunk
        self.bins = bins
        self.window = window
        self.also = also
        self.keep_inferences = keep_inferences
        self.totals = TransferTotals()
        self.records = 0
        self._kept: list[pd.DataFrame] = []
        self._spool = tempfile.TemporaryDirectory(prefix="socsim-transfers-")
        self._csv: BinaryIO | None = open(Path(self._spool.name) / "transfers.csv", "wb")
        self._header = True

    def drain(self, everything: bool = False) -> None:
        """Take the transfer records the trace holds in whole chunks of ``chunk`` (all of
        them with ``everything``) and forget them there.

        Whole chunks, not whatever the trace holds at the call: the totals and bins add a
        chunk's sums in one go, so cutting the same records at the same places keeps them
        bit-identical whenever the drains come (a run with the fast path appends a replayed
        window's transfers at once, op by op one at a time)."""
        from socsim.report.stream import kept_mask

        records = self.trace.transfers
        take = len(records) if everything else len(records) // self.chunk * self.chunk
        if not take:
            return
        f = transfer_frame(records[:take])
        del records[:take]  # in place: the engine appends to this list
        self.records += len(f)
        self.totals.add(f)
        self.bins.add_transfers(f)
        transfer_table_frame(f).to_csv(self._csv, index=False, header=self._header)
        self._header = False
        keep = kept_mask(f, self.keep_inferences, self.window, self.also)
        if keep.any():
            self._kept.append(f[keep])

    def finish(self) -> tuple[pd.DataFrame, TransferTotals]:
        """Take the last records, close transfers.csv; the kept transfers and the totals."""
        self.drain(everything=True)
        if self._header:  # no transfer at all: the header alone
            transfer_table_frame(transfer_frame([])).to_csv(self._csv, index=False)
            self._header = False
        self._csv.close()
        kept = (pd.concat(self._kept, ignore_index=True) if self._kept
                else transfer_frame([]))
        self._kept = [kept]
        return kept, self.totals

    def copy_table(self, fh: BinaryIO) -> None:
        """Copy the finished transfers.csv into ``fh``."""
        with open(Path(self._spool.name) / "transfers.csv", "rb") as src:
            shutil.copyfileobj(src, fh, 1 << 20)

    def close(self) -> None:
        """Remove the spool folder (also done when the stream is garbage-collected)."""
        if self._csv is not None and not self._csv.closed:
            self._csv.close()
        self._spool.cleanup()
