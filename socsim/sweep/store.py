"""A sweep's results on disk: streamed as points finish, so an interrupted sweep resumes.

The out folder holds

- ``sweep.json``: the sweep's fingerprint (a resume of another sweep is refused) and how many
  sessions have written to the folder;
- ``parts/part-<session>-<n>.parquet``: the rows of the points finished since the last part,
  each written to a temporary name and renamed (a kill leaves whole parts only);
- ``results.parquet`` and ``results.csv``: the whole table in point order, written (the same
  way) when the sweep ends; the parts are removed after.

A point is finished once a part (or ``results.parquet``) holds its row; ``--resume`` reads
them all and runs only the others. Rows are deduplicated by point id.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Sequence
from pathlib import Path

from socsim.report.output import OutputError
from socsim.sweep.spec import METRICS, Sweep

__all__ = ["TIMING", "ResultStore", "columns"]

#: Columns that record how and where a point ran, not what it gave: they differ between runs
#: of the same sweep (and between local and Dask); every other column is identical.
TIMING = ("elapsed_s", "worker", "session")
_INT = ("point", "seed", "deadline_misses", "dma_bytes", "inferences", "session")
_FLOAT = ("latency_p50_ms", "latency_p99_ms", "energy_per_inference_mj", "peak_temp_c",
          "elapsed_s")


def columns(sweep: Sweep) -> list[str]:
    """The result table's columns, in order."""
    return ["point", "id", *(a.name for a in sweep.axes), "seed", "status", "error",
            *METRICS, "inferences", "set", *TIMING]


def _schema(sweep: Sweep):
    import pyarrow as pa

    def kind(c: str):
        return pa.int64() if c in _INT else pa.float64() if c in _FLOAT else pa.string()

    return pa.schema([(c, kind(c)) for c in columns(sweep)])


class ResultStore:
    """The rows of one sweep's finished points, on disk and in memory.

    Args:
        folder: the out folder.
        sweep: the sweep (its fingerprint guards the folder).
        resume: continue the sweep recorded in ``folder``.
        overwrite: discard an earlier sweep's results in ``folder``.

    Raises:
        OutputError: the folder holds another sweep's results (without ``overwrite``), or
            something that is not a sweep's, or cannot be written.
    """

    def __init__(self, folder: Path, sweep: Sweep, *, resume: bool = False,
                 overwrite: bool = False):
        self.folder = Path(folder)
        self.sweep = sweep
        self.schema = _schema(sweep)
        self.done: dict[str, dict] = {}
        meta = self.folder / "sweep.json"
        self.session = 0
        if self.folder.is_symlink() or (self.folder.exists() and not self.folder.is_dir()):
            raise OutputError(f"{self.folder}: not a folder", hint="give another --out")
        if meta.exists() and not overwrite:
            recorded = json.loads(meta.read_text())
            if not resume:
                raise OutputError(f"{self.folder}/ holds the results of a sweep already",
                                  hint="pass --resume to continue it, --overwrite to start "
                                  "again, or --out for another folder")
            if recorded.get("fingerprint") != sweep.fingerprint:
                raise OutputError(f"{self.folder}/ holds a different sweep (the sweep file, "
                                  "its scenario or their settings changed)",
                                  hint="--overwrite to start again, or --out for another "
                                  "folder")
            self.session = int(recorded.get("sessions", 0))
            self._read_existing()
        elif self.folder.exists() and not meta.exists():
            foreign = [p.name for p in self.folder.iterdir()]
            if foreign:
                raise OutputError(f"{self.folder}/ is not empty and holds no sweep "
                                  f"({', '.join(sorted(foreign)[:5])})",
                                  hint="give an empty or new folder with --out")
        if overwrite and meta.exists():
            for name in ("parts", "results.parquet", "results.csv", "pareto.png"):
                target = self.folder / name
                if target.is_dir():
                    shutil.rmtree(target)
                elif target.exists():
                    target.unlink()
        try:
            (self.folder / "parts").mkdir(parents=True, exist_ok=True)
            _atomic_text(meta, json.dumps({"fingerprint": sweep.fingerprint,
                                           "name": sweep.spec.name, "file": sweep.file,
                                           "sessions": self.session + 1}, indent=1))
        except OSError as exc:
            raise OutputError(f"{exc.filename or self.folder}: cannot write: "
                              f"{exc.strerror or exc}", hint="choose another --out") from None
        self._parts = 0

    def _read_existing(self) -> None:
        import pyarrow.parquet as pq

        files = [self.folder / "results.parquet", *sorted((self.folder / "parts").glob(
            "part-*.parquet"))]
        for f in files:
            if f.exists():
                for row in pq.read_table(f, use_threads=False).to_pylist():
                    self.done.setdefault(row["id"], row)

    def add(self, rows: Sequence[dict]) -> None:
        """Record finished points: one new part file, written whole or not at all."""
        if not rows:
            return
        import pyarrow as pa
        import pyarrow.parquet as pq

        rows = [{**r, "session": self.session} for r in rows]
        table = pa.Table.from_pylist(rows, schema=self.schema)
        path = self.folder / "parts" / f"part-{self.session:04d}-{self._parts:06d}.parquet"
        tmp = path.with_suffix(".tmp")
        pq.write_table(table, tmp)
        os.replace(tmp, path)
        self._parts += 1
        for r in rows:
            self.done.setdefault(r["id"], r)

    def frame(self, order: Sequence[str] | None = None):
        """Every recorded row as a DataFrame, in point order (or in ``order`` of ids)."""
        import pandas as pd
        import pyarrow as pa

        rows = list(self.done.values())
        if order is not None:
            rows = [self.done[i] for i in order if i in self.done]
        table = pa.Table.from_pylist(rows, schema=self.schema)
        df = table.to_pandas(types_mapper={pa.int64(): pd.Int64Dtype()}.get)
        if order is None:
            df = df.sort_values("point", kind="stable").reset_index(drop=True)
        return df

    def finish(self, df) -> list[Path]:
        """Write ``results.parquet`` and ``results.csv`` (whole, by rename), then drop the
        parts they replace."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        out = [self.folder / "results.parquet", self.folder / "results.csv"]
        table = pa.Table.from_pandas(df, schema=self.schema, preserve_index=False)
        tmp = out[0].with_suffix(".tmp")
        pq.write_table(table, tmp)
        os.replace(tmp, out[0])
        tmp = out[1].with_suffix(".tmp")
        df.to_csv(tmp, index=False)
        os.replace(tmp, out[1])
        shutil.rmtree(self.folder / "parts", ignore_errors=True)
        return out


def _atomic_text(path: Path, text: str) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)
