"""Binned time series of a whole run, accumulated as the run goes, in bounded memory.

Every op record (chunk by chunk in a streamed run, the whole table at once otherwise: the
same :meth:`RunBins.add_ops`), every transfer and reconfiguration, and the leakage outside
ops are added into one grid of bins over simulated time:

- per unit, its ops' busy engine-time (integer ns, exact); per unit and DMA engine, the busy
  time of its transfers and reconfigurations apart;
- per energy category of ``summary.json`` ``energy_mj`` (compute, sram, dram, dma, reconfig,
  static, idle), pJ. An op, transfer or reconfiguration spreads each of its energies
  uniformly over its own [start, end] (one of zero length falls in the bin of its instant);
  the leakage not charged to ops (units' ``idle``, memories' ``static``) spreads uniformly
  over the run. So the bins of a category add up to the summary's total of that category;
- per workload and category, the energy of its own ops, transfers and reconfigurations
  (energy.png's energy per inference), not binned.

Bin width: a power of two ns, the smallest for which the run fits in :data:`MAX_BINS` bins,
so that a run of more than 2,048 ns has between 1,024 and 2,048 bins. The last one ends at
the run's end: it is between half a width and one and a half widths long (a remainder under
half a width joins the bin before, so that no sliver of a bin shows a spike of power). The width is known only at the end of a run, so the grid starts at
1 ns and, whenever a record ends past its last bin, doubles its width by adding neighbouring
bins pairwise: memory stays :data:`MAX_BINS` floats per series whatever the run's length,
and the final width depends on the run's length only, not on the chunking.

Busy times are integers and come out identical whatever the chunking. Energies are float
sums whose order depends on the chunking (a chunk's bin sums are added to the running bins);
a streamed run and the same run kept whole agree to rounding (relative 1e-12 is asserted in
tests/report/test_bins.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

#: Most bins over a run (the width doubles past it).
MAX_BINS = 2048
#: The energy categories binned, as in ``summary.json`` ``energy_mj``.
CATEGORIES = ("compute", "sram", "dram", "dma", "reconfig", "static", "idle")
_OP_CATEGORIES = {"compute": "compute_pj", "sram": "sram_pj", "dram": "dram_pj",
                  "static": "static_pj"}
_XFER_CATEGORIES = {"dma": "dma_pj", "sram": "sram_pj", "dram": "dram_pj"}


def spread(start: np.ndarray, end: np.ndarray, value: np.ndarray | None, width: int,
           n: int) -> np.ndarray:
    """Per bin of ``width`` ns (``n`` bins from 0), the sum over intervals [start, end] of
    ``value`` x (overlap with the bin) / (interval length); ``value`` None: the overlap itself
    (ns). An interval of zero length puts its whole value (and no time) in its instant's bin.
    Times at or past the last bin count in the last bin."""
    start = np.asarray(start, dtype=np.int64)
    end = np.asarray(end, dtype=np.int64)
    first = np.minimum(start // width, n - 1)
    last = np.minimum(np.maximum(end - 1, start) // width, n - 1)
    dur = end - start
    if value is None:
        value = dur.astype(float)
    else:
        value = np.asarray(value, dtype=float)
    one = last <= first
    out = np.bincount(first[one], weights=value[one], minlength=n)[:n].astype(float)
    many = np.flatnonzero(~one)
    if len(many):
        s, e, f, la = start[many], end[many], first[many], last[many]
        rate = value[many] / dur[many]
        out += np.bincount(f, weights=((f + 1) * width - s) * rate, minlength=n)[:n]
        out += np.bincount(la, weights=(e - la * width) * rate, minlength=n)[:n]
        # intervals longer than a bin: few (a lane holds at most n of them per run)
        for k in np.flatnonzero(la - f > 1):
            out[f[k] + 1:la[k]] += rate[k] * width
    return out


def _halve(a: np.ndarray) -> np.ndarray:
    """Neighbouring bins added pairwise, then zeros: the same span at twice the width."""
    merged = a.reshape(-1, 2).sum(axis=1)
    return np.concatenate([merged, np.zeros(len(a) - len(merged), dtype=a.dtype)])


class RunBins:
    """The accumulator of a run's binned series (see the module).

    Args:
        max_bins: bins at most (a power of two).
    """

    def __init__(self, max_bins: int = MAX_BINS):
        if max_bins < 2 or max_bins & (max_bins - 1):
            raise ValueError(f"max_bins = {max_bins}: a power of two >= 2")
        self.max_bins = max_bins
        self.width = 1
        self.latest_ns = 0
        self.busy_ns: dict[str, np.ndarray] = {}
        self.other_busy_ns: dict[str, np.ndarray] = {}
        self.energy_pj = {c: np.zeros(max_bins) for c in CATEGORIES}
        self.workload_pj: dict[str, dict[str, float]] = {}

    def _fit(self, latest: int) -> None:
        """Double the width until ``latest`` ns falls inside the grid."""
        self.latest_ns = max(self.latest_ns, int(latest))
        while self.latest_ns >= self.max_bins * self.width:
            for series in (self.busy_ns, self.other_busy_ns, self.energy_pj):
                for key, a in series.items():
                    series[key] = _halve(a)
            self.width *= 2

    def _add_busy(self, into: dict, rows: pd.Series, start, end) -> None:
        for row, idx in rows.groupby(rows, sort=True).groups.items():
            busy = spread(start[idx], end[idx], None, self.width, self.max_bins)
            held = into.get(row)
            into[row] = busy if held is None else held + busy

    def _add(self, f: pd.DataFrame, into: dict, row: str,
             columns: Mapping[str, str]) -> None:
        """Add records ``f``: their busy time per ``f[row]`` into ``into``, their energy
        ``columns`` (category -> column) into the categories and the workloads' sums."""
        if f.empty:
            return
        self._fit(f["end_ns"].max())
        f = f.reset_index(drop=True)
        s, e = f["start_ns"].to_numpy(np.int64), f["end_ns"].to_numpy(np.int64)
        self._add_busy(into, f[row], s, e)
        for cat, col in columns.items():
            self.energy_pj[cat] += spread(s, e, f[col].to_numpy(float), self.width,
                                          self.max_bins)
        sums = f.groupby("workload", sort=True)[list(columns.values())].sum()
        for w, values in zip(sums.index, sums.itertuples(index=False)):
            mine = self.workload_pj.setdefault(str(w), dict.fromkeys(CATEGORIES, 0.0))
            for cat, pj in zip(columns, values):
                mine[cat] += float(pj)

    def add_ops(self, ops: pd.DataFrame) -> None:
        """Add op records (an :func:`socsim.report.tables.op_frame`)."""
        self._add(ops, self.busy_ns, "unit", _OP_CATEGORIES)

    def add_transfers(self, transfers: pd.DataFrame) -> None:
        """Add transfer records (``Tables.transfers``); zero-copy hand-offs cost nothing."""
        self._add(transfers[transfers["kind"] != "zero_copy"], self.other_busy_ns, "engine",
                  _XFER_CATEGORIES)

    def add_reconfigs(self, reconfigs: pd.DataFrame) -> None:
        """Add reconfiguration records (``Tables.reconfigs``)."""
        self._add(reconfigs, self.other_busy_ns, "unit", {"reconfig": "reconfig_pj"})

    def finish(self, span_ns: int, background_pj: Mapping[str, float]) -> RunSeries:
        """The series over [0, ``span_ns``], the leakage outside ops (``background_pj``: pJ
        per category, ``idle`` and ``static``) spread uniformly over it."""
        self._fit(max(int(span_ns), 1) - 1)
        span = max(int(span_ns), self.latest_ns, 1)
        w = self.width
        n = -(-span // w)
        if n > 1 and span - (n - 1) * w < w // 2:
            n -= 1  # a last bin under half a width joins the one before: no sliver
        edges = np.minimum(np.arange(n + 1, dtype=np.int64) * w, span)
        edges[-1] = span

        def cut(a: np.ndarray) -> np.ndarray:
            out = a[:n].copy()
            out[-1] += a[n:].sum()
            return out

        energy = {c: cut(a) for c, a in self.energy_pj.items()}
        lengths = np.diff(edges).astype(float)
        for cat, pj in background_pj.items():
            energy[cat] = energy[cat] + float(pj) * lengths / span
        return RunSeries(
            width_ns=w, edges_ns=edges,
            busy_ns={r: cut(a).round().astype(np.int64) for r, a in self.busy_ns.items()},
            other_busy_ns={r: cut(a).round().astype(np.int64)
                           for r, a in self.other_busy_ns.items()},
            energy_pj=energy, workload_pj={w_: dict(c) for w_, c in self.workload_pj.items()})


@dataclass(frozen=True)
class RunSeries:
    """A run's binned series (:class:`RunBins`' result).

    Attributes:
        width_ns: the bin width (a power of two); edges_ns: the n + 1 bin edges, 0 to the
            run's end (the last bin may be shorter).
        busy_ns: per unit, its ops' busy engine-time per bin.
        other_busy_ns: per unit or DMA engine, its reconfigurations' and transfers' busy time.
        energy_pj: per category (:data:`CATEGORIES`), energy per bin.
        workload_pj: per workload, its ops', transfers' and reconfigurations' energy per
            category (pJ, whole run).
    """

    width_ns: int
    edges_ns: np.ndarray
    busy_ns: dict[str, np.ndarray]
    other_busy_ns: dict[str, np.ndarray]
    energy_pj: dict[str, np.ndarray]
    workload_pj: dict[str, dict[str, float]]

    @property
    def lengths_ns(self) -> np.ndarray:
        """Each bin's length (ns, float)."""
        return np.diff(self.edges_ns).astype(float)

    def power_mw(self) -> np.ndarray:
        """Average power per bin, every category, mW (pJ / ns)."""
        return sum(self.energy_pj.values()) / self.lengths_ns

    def utilisation(self, row: str, engines: int, *, everything: bool = False) -> np.ndarray:
        """Busy fraction of ``row``'s engine-time per bin: its ops' (with ``everything``,
        also its transfers' and reconfigurations')."""
        zero = np.zeros(len(self.lengths_ns), dtype=np.int64)
        busy = self.busy_ns.get(row, zero)
        if everything:
            busy = busy + self.other_busy_ns.get(row, zero)
        return busy / (max(1, engines) * self.lengths_ns)
