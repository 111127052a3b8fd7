"""What the figures show, read from their artists (tests/report; socsim/report/plots.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from socsim.report.plots import default_window, energy, timeline
from socsim.run import run_scenario

ROOT = Path(__file__).resolve().parents[2] / "scenarios"


def _axes(fig, gid):
    return [ax for ax in fig.axes if ax.get_gid() == gid]


def _spans(ax, prefix):
    """(start, width) of every bar whose collection label starts with ``prefix``."""
    out = []
    for c in ax.collections:
        if str(c.get_label()).startswith(prefix):
            for path in c.get_paths():
                xs = path.vertices[:, 0]
                out.append((float(xs.min()), float(xs.max() - xs.min())))
    return out


@pytest.fixture(scope="module")
def quick():
    return run_scenario(ROOT / "quickstart.yaml", ("run.functional=false",))


@pytest.fixture(scope="module")
def zynq():
    return run_scenario(ROOT / "zynq_fpga_kernels.yaml", ("run.functional=false",))


def _fig(r, **kw):
    tr = r.trace
    return timeline(r.tables, [*tr.units, *tr.dma_engines], tr.engines,
                    counters=tr.counters, **kw)


def test_zoom_covers_one_inference_ops(quick):
    t = quick.tables
    lo, hi, _ = default_window(t)
    first = t.inferences.sort_values("arrival_ns").iloc[0]
    ops = t.ops[(t.ops["workload"] == first["workload"])
                & (t.ops["inference"] == first["inference"])]
    assert lo <= ops["start_ns"].min() and ops["end_ns"].max() <= hi
    zoom, = _axes(_fig(quick), "zoom")
    bars = _spans(zoom, "op:") + _spans(zoom, "LayoutConvert")
    # every op of the inference is one bar (other inferences overlapping it may add more)
    overlapping = t.ops[(t.ops["end_ns"] >= lo) & (t.ops["start_ns"] <= hi)]
    assert len(bars) == len(overlapping) >= len(ops)
    right = max(s + w for s, w in bars)
    assert right == pytest.approx(zoom.get_xlim()[1], rel=0.02)  # the window fits its ops


def test_named_window(quick):
    t = quick.tables
    second = t.inferences.sort_values("arrival_ns").iloc[1]
    zoom, = _axes(_fig(quick, window_ns=(int(second["arrival_ns"]), int(second["end_ns"]))),
                  "zoom")
    mine = t.ops[t.ops["inference"] == second["inference"]]
    assert len(_spans(zoom, "op:")) + len(_spans(zoom, "LayoutConvert")) >= len(mine)


def test_reconfiguration_shown(zynq):
    fig = _fig(zynq)
    zoom, = _axes(fig, "zoom")
    bars = _spans(zoom, "reconfig")
    lo, hi, _ = default_window(zynq.tables)
    r = zynq.tables.reconfigs
    inside = r[(r["end_ns"] >= lo) & (r["start_ns"] <= hi)]
    assert len(inside) > 0 and len(bars) == len(inside)
    div = 1e6 if hi - lo >= 2e6 else 1e3
    shown = sum(w for _, w in bars) * div
    assert shown == pytest.approx(float((inside["end_ns"] - inside["start_ns"]).sum()), rel=1e-6)
    # the overview shows the FPGA busy (ops or reconfiguring) most of the run
    ov, = _axes(fig, "overview")
    img = ov.images[0].get_array()
    row = [*zynq.trace.units, *zynq.trace.dma_engines].index("fpga")
    assert img[row].mean() > 0.4  # of its engine-time (reconfiguring holds one engine's worth)


def test_frequency_track_where_it_changes():
    r = run_scenario(ROOT / "effect_governor.yaml")
    tracks = _axes(_fig(r), "tracks")
    labels = [ln.get_label() for ax in tracks for ln in ax.get_lines()]
    assert "freq_mhz:cpu" in labels
    assert r.summary["units"]["cpu"]["freq_changes"] > 0


def test_energy_per_inference_separates_idle(quick):
    fig = energy(quick.tables)
    left, = _axes(fig, "per_inference")
    right, = _axes(fig, "whole_run")
    t = quick.tables
    n = len(t.inferences)
    per_inf_uj = sum(p.get_width() for p in left.patches)
    active_pj = (t.ops["energy_pj"].sum()
                 + t.transfers.loc[t.transfers["kind"] != "zero_copy", "energy_pj"].sum()
                 + t.reconfigs["reconfig_pj"].sum())
    assert per_inf_uj == pytest.approx(active_pj / n / 1e6, rel=1e-9)
    widths = [p.get_width() for p in right.patches]
    assert sum(widths) == pytest.approx(quick.summary["energy_mj"]["total"], rel=1e-9)
    assert widths[1] == pytest.approx(quick.summary["energy_mj"]["idle"], rel=1e-9)


def test_multi_workload_title_names_the_window():
    r = run_scenario(ROOT / "imx8mp_multi.yaml", ("run.functional=false",))
    fig = _fig(r)
    zoom, = _axes(fig, "zoom")
    first = r.tables.inferences.sort_values("arrival_ns").iloc[0]
    assert f"{first['workload']} inference {first['inference']}" in zoom.get_title()
    assert all("first 4" not in ax.get_title() for ax in fig.axes)
    # the NPU's inferences (every 33 ms) show in the overview strip, not only the first
    ov, = _axes(fig, "overview")
    row = [*r.trace.units, *r.trace.dma_engines].index("npu")
    npu = r.tables.ops[r.tables.ops["unit"] == "npu"]
    starts = sorted(npu.groupby(["workload", "inference"])["start_ns"].min())
    lit = ov.images[0].get_array()[row] > 0
    edges = r.tables.series.edges_ns  # the overview's columns: the run's bins
    assert len(lit) == len(edges) - 1 and edges[-1] == r.trace.makespan_ns
    bins = {int(np.searchsorted(edges, s, side="right")) - 1 for s in starts}
    assert all(lit[b] for b in bins)
