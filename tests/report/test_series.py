"""The summary's series past MAX_POINTS (socsim/report/series.py), by hand on small data."""

from __future__ import annotations

import numpy as np

import socsim.report.series as series_mod
from socsim.report.series import _binned, variant_series
from socsim.runtime.records import SwitchRecord


def test_latency_per_bin_by_hand():
    x = np.array([0.5, 1.5, 1.6, 3.5])  # completion times, ms
    y = np.array([1.0, 2.0, 4.0, 8.0])  # latencies
    edges = np.array([0.0, 1.0, 2.0, 3.0, 4.0])
    xs, med = _binned(x, y, edges, np.median)
    assert xs == [0.5, 1.55, 3.5] and med == [1.0, 3.0, 8.0]  # bin 2 empty: no point
    assert _binned(x, y, edges, np.max)[1] == [1.0, 4.0, 8.0]


def _switch(t_ns, new):
    return SwitchRecord(t_ns, "threshold", "variant", "vision", "?", new, "")


def test_variant_steps_and_their_bins(monkeypatch):
    switches = [_switch(10_000_000, "int4"), _switch(30_000_000, "int8"),
                SwitchRecord(31_000_000, "threshold", "dvfs", "npu", "1000", "800", "")]
    got = variant_series({"vision": "int8", "kws": "int8"}, switches, [0, 50_000_000])
    assert got == {"vision": {"time_ms": [0.0, 10.0, 30.0], "variant": ["int8", "int4", "int8"]},
                   "kws": {"time_ms": [0.0], "variant": ["int8"]}}
    # past MAX_POINTS switches: the variant in force at each bin's end
    monkeypatch.setattr(series_mod, "MAX_POINTS", 2)
    edges = [0, 20_000_000, 40_000_000, 60_000_000]
    got = variant_series({"vision": "int8"}, switches, edges)["vision"]
    assert got == {"time_ms": [20.0, 40.0, 60.0], "variant": ["int4", "int8", "int8"]}
