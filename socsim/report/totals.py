"""Per-key totals of records added chunk by chunk (per unit of the op records, per DMA engine
of the transfers), so that a streamed run's summary needs no records kept.

Counts, nanoseconds and byte sums are exact integers. Energies are pandas' per-chunk sums
added in chunk order: a run of one chunk (any run below the chunk size, and every run that
keeps its records) gets exactly the sums of the whole table.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

import numpy as np
import pandas as pd


class KeyedTotals:
    """Totals per value of the records' ``key`` column.

    Args:
        key: the column grouped by (also the name of the frame's index).
        columns: the totals, in order: ``count`` (records), ``busy_ns`` (sum of end - start)
            and sums of the records' columns of the same names.
        count: the name of the record count among ``columns``.
        floats: the columns summed as floats (energies); the others are integers.
    """

    def __init__(self, key: str, columns: Sequence[str], count: str,
                 floats: Collection[str]):
        self.key = key
        self.columns = tuple(columns)
        self.count = count
        self.floats = frozenset(floats)
        self._sums = [c for c in self.columns if c not in (count, "busy_ns")]
        self._totals: dict[str, list] = {}

    def add(self, f: pd.DataFrame) -> None:
        """Add the records of ``f``."""
        if f.empty:
            return
        by = f.groupby(self.key)
        part = pd.concat([by.size().rename(self.count),
                          (f["end_ns"] - f["start_ns"]).groupby(f[self.key]).sum()
                          .rename("busy_ns"), by[self._sums].sum()], axis=1)
        floats = self.floats
        for name, row in zip(part.index, part[list(self.columns)].itertuples(index=False)):
            values = [float(v) if c in floats else int(v) for c, v in zip(self.columns, row)]
            held = self._totals.get(name)
            self._totals[name] = values if held is None else [a + b for a, b in
                                                              zip(held, values)]

    def frame(self) -> pd.DataFrame:
        """The totals, one row per key value seen (sorted), ``columns`` in order."""
        names = sorted(self._totals)
        frame = pd.DataFrame([self._totals[n] for n in names],
                             index=pd.Index(names, name=self.key), columns=list(self.columns))
        for col in self.columns:
            frame[col] = frame[col].astype(float if col in self.floats else np.int64)
        return frame
