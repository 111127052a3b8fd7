"""Bounded time series of a run for the summary (``summary.json`` ``series``).

What ``socsim report`` draws over the whole run, in bounded size whatever the run's length,
on the bins of :mod:`socsim.report.bins` (a power of two ns wide, 1,024 to 2,048 over a run;
they cover every op of a streamed run as of a kept one):

- ``bins``: ``width_ms``, each bin's end ``time_ms``, per unit its ops' ``utilisation``
  (busy engine-time / (engines x bin length)), and per energy category its ``energy_mj`` in
  each bin (the bins of a category add up to ``energy_mj.<category>``);
- ``latency``: per workload, each inference's completion time and latency (ms); past
  :data:`MAX_POINTS` inferences, per bin of completion time the mean completion time, the
  median (``latency_ms``) and the maximum (``latency_max_ms``);
- ``latency_histogram``: per workload, :data:`HIST_BINS` bins of every inference's latency;
- ``power``: the run's power per bin (:func:`socsim.report.battery.power_series`);
- ``counters``: per unit and counter (``freq_mhz``, ``temp_c``), the samples; past
  :data:`MAX_POINTS`, the mean per bin;
- ``variants`` (runs with a runtime manager): per workload, the model variant its new
  inferences ran over the run (:func:`variant_series`).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from socsim.report.tables import PJ_PER_MJ, Tables

MAX_POINTS = 2000
HIST_BINS = 40


def _binned(x: np.ndarray, y: np.ndarray, edges: np.ndarray, how) -> tuple[list, list]:
    """Per bin of ``edges`` holding points: the mean x and ``how`` of its y."""
    k = np.clip(np.searchsorted(edges, x, side="right") - 1, 0, len(edges) - 2)
    order = np.lexsort((y, k))
    k, x, y = k[order], x[order], y[order]
    cuts = np.flatnonzero(np.diff(k)) + 1
    xs = [float(g.mean()) for g in np.split(x, cuts)]
    ys = [float(how(g)) for g in np.split(y, cuts)]
    return xs, ys


def _points(x: np.ndarray, y: np.ndarray, edges_ms: np.ndarray, how) -> tuple[list, list]:
    if len(x) <= MAX_POINTS:
        return x.tolist(), y.tolist()
    return _binned(x, y, edges_ms, how)


def run_series(t: Tables, counters, makespan_ns: int,
               engines: Mapping[str, int] | None = None) -> dict:
    """The ``series`` block of the summary (module docstring); ``engines``: engines per unit
    (for utilisation; 1 when not given)."""
    bins = t.series
    edges_ms = bins.edges_ns / 1e6
    latency, hist = {}, {}
    for w, g in t.inferences.sort_values("end_ns", kind="stable").groupby("workload",
                                                                          sort=False):
        end = g["end_ns"].to_numpy(float) / 1e6
        lat = g["latency_ns"].to_numpy(float) / 1e6
        block = {}
        block["time_ms"], block["latency_ms"] = _points(end, lat, edges_ms, np.median)
        if len(end) > MAX_POINTS:
            block["latency_max_ms"] = _binned(end, lat, edges_ms, np.max)[1]
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
            tx, ty = _points(np.asarray(xs), np.asarray(ys), edges_ms, np.mean)
            out_c.setdefault(unit, {})[counter] = {"time_ms": tx, "value": ty}
    from socsim.report.battery import power_series

    edges, mw = power_series(t, makespan_ns)
    power = {"time_ms": (edges[1:] / 1e6).tolist(), "power_mw": mw.tolist()}
    engines = engines or {}
    binned = {"width_ms": bins.width_ns / 1e6, "time_ms": edges_ms[1:].tolist(),
              "utilisation": {u: bins.utilisation(u, engines.get(u, 1)).tolist()
                              for u in sorted(bins.busy_ns)},
              "energy_mj": {c: (pj / PJ_PER_MJ).tolist() for c, pj in bins.energy_pj.items()}}
    return {"bins": binned, "latency": latency, "latency_histogram": hist, "power": power,
            "counters": out_c}


def variant_series(initial: Mapping[str, str], switches, edges_ns) -> dict:
    """Per workload, which model variant new inferences ran over the run: its primary
    variant from 0 ms, then one step per ``variant`` switch record of the runtime manager
    (``time_ms``, ``variant``); past :data:`MAX_POINTS` switches, the variant in force at
    each bin's end of ``edges_ns``."""
    steps = {w: ([0.0], [v]) for w, v in initial.items()}
    for sw in switches:
        if sw.kind == "variant" and sw.target in steps:
            xs, ys = steps[sw.target]
            xs.append(sw.time_ns / 1e6)
            ys.append(sw.new)
    out = {}
    for w, (xs, ys) in steps.items():
        if len(xs) > MAX_POINTS:
            at = np.asarray(edges_ns[1:], dtype=float) / 1e6
            k = np.searchsorted(np.asarray(xs), at, side="right") - 1
            xs, ys = at.tolist(), [ys[i] for i in k]
        out[w] = {"time_ms": xs, "variant": ys}
    return out
