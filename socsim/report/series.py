"""Bounded time series of a run for the summary (``summary.json`` ``series``).

What ``socsim report`` draws over the whole run, in bounded size whatever the run's length:

- ``latency``: per workload, each inference's completion time and latency (ms); past
  :data:`MAX_POINTS` inferences, per window of completion time its median and maximum;
- ``latency_histogram``: per workload, :data:`HIST_BINS` bins of every inference's latency;
- ``power``: the run's power per window (:func:`socsim.report.battery.power_series`);
- ``counters``: per unit and counter (``freq_mhz``, ``temp_c``), the samples; past
  :data:`MAX_POINTS`, the mean per window.
"""

from __future__ import annotations

import numpy as np

from socsim.report.tables import Tables

MAX_POINTS = 2000
HIST_BINS = 40


def _windows(x: np.ndarray, y: np.ndarray, how) -> tuple[list, list]:
    if len(x) <= MAX_POINTS:
        return x.tolist(), y.tolist()
    edges = np.linspace(x.min(), x.max(), MAX_POINTS + 1)
    k = np.clip(np.searchsorted(edges, x, side="right") - 1, 0, MAX_POINTS - 1)
    xs, ys = [], []
    for i in np.unique(k):
        sel = k == i
        xs.append(float(x[sel].mean()))
        ys.append(float(how(y[sel])))
    return xs, ys


def run_series(t: Tables, counters, makespan_ns: int) -> dict:
    """The ``series`` block of the summary (module docstring)."""
    latency, hist = {}, {}
    for w, g in t.inferences.sort_values("end_ns").groupby("workload", sort=False):
        end = g["end_ns"].to_numpy(float) / 1e6
        lat = g["latency_ns"].to_numpy(float) / 1e6
        block = {}
        block["time_ms"], block["latency_ms"] = _windows(end, lat, np.median)
        if len(end) > MAX_POINTS:
            block["latency_max_ms"] = _windows(end, lat, np.max)[1]
        latency[w] = block
        counts, edges = np.histogram(lat, bins=HIST_BINS)
        hist[w] = {"edges_ms": edges.tolist(), "counts": counts.tolist()}
    samples: dict[str, dict[str, tuple[list, list]]] = {}
    for rec in counters:
        xs, ys = samples.setdefault(rec.unit, {}).setdefault(rec.counter, ([], []))
        xs.append(rec.time_ns / 1e6)
        ys.append(float(rec.value))
    out_c: dict = {}
    for unit, per in samples.items():
        for counter, (xs, ys) in per.items():
            tx, ty = _windows(np.asarray(xs), np.asarray(ys), np.mean)
            out_c.setdefault(unit, {})[counter] = {"time_ms": tx, "value": ty}
    from socsim.report.battery import power_series

    edges, mw = power_series(t, makespan_ns)
    power = {"time_ms": (edges[1:] / 1e6).tolist(), "power_mw": mw.tolist()}
    return {"latency": latency, "latency_histogram": hist, "power": power, "counters": out_c}
