"""Binned series of a whole run (socsim/report/bins.py): by hand on small intervals, the same
whatever the chunking, equal for a streamed run and the run that keeps every op, and adding
up to the summary's totals."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import socsim.report.stream as stream_mod
from socsim.report.bins import CATEGORIES, RunBins, spread
from socsim.report.plots import timeline
from socsim.run import run_scenario
from socsim.zoo import ensure
from tests.conftest import REPO

SCENARIO = REPO / "scenarios" / "imx8mp_multi.yaml"  # three workloads, one Poisson: contended
BATTERY = REPO / "scenarios" / "battery_kws.yaml"
BASE = ["run.functional=false"]
#: energies are float sums added in chunk order: equal to rounding, not bit for bit
REL = 1e-12


def test_spread_by_hand():
    # [3, 13) over bins of 4 ns: 1 ns in [0, 4), 4 in [4, 8), 4 in [8, 12), 1 in [12, 16)
    assert spread(np.array([3]), np.array([13]), None, 4, 4).tolist() == [1, 4, 4, 1]
    assert spread(np.array([3]), np.array([13]), np.array([20.0]), 4, 4).tolist() == \
        [2.0, 8.0, 8.0, 2.0]
    # an instant puts its value in its bin; [4, 8) stays in one bin; past the end: last bin
    got = spread(np.array([5, 4, 30]), np.array([5, 8, 40]), np.array([7.0, 1.0, 3.0]), 4, 4)
    assert got.tolist() == [0.0, 8.0, 0.0, 3.0]


def _frame(rng, n, span):
    start = rng.integers(0, span, n)
    dur = np.where(rng.random(n) < 0.1, rng.integers(0, span // 20, n), rng.integers(0, 500, n))
    f = pd.DataFrame({"workload": rng.choice(["a", "b"], n), "unit": rng.choice(["x", "y"], n),
                      "start_ns": start, "end_ns": start + dur})
    for col in ("compute_pj", "sram_pj", "dram_pj", "static_pj"):
        f[col] = rng.random(n) * 100
    return f


def test_chunking_changes_no_busy_time_and_energies_only_to_rounding():
    rng = np.random.default_rng(1)
    ops = _frame(rng, 5000, 3_000_000)
    whole, chunked = RunBins(), RunBins()
    whole.add_ops(ops)
    for lo in range(0, len(ops), 333):  # early chunks fit a finer grid: merged later
        chunked.add_ops(ops.iloc[lo:lo + 333])
    assert ops["end_ns"].max() < 3_200_000
    a = whole.finish(3_200_000, {"idle": 5e4, "static": 0.0})
    b = chunked.finish(3_200_000, {"idle": 5e4, "static": 0.0})
    assert a.width_ns == b.width_ns == 2048  # smallest power of two with 3.2 ms in 2048 bins
    assert len(a.edges_ns) - 1 == 1563 and a.edges_ns[-1] == 3_200_000  # 3.2e6 / 2048
    for unit in ("x", "y"):
        np.testing.assert_array_equal(a.busy_ns[unit], b.busy_ns[unit])
        # busy time per bin adds up to the ops' durations, exactly
        mine = ops[ops["unit"] == unit]
        assert a.busy_ns[unit].sum() == (mine["end_ns"] - mine["start_ns"]).sum()
    for cat in CATEGORIES:
        np.testing.assert_allclose(a.energy_pj[cat], b.energy_pj[cat], rtol=REL, atol=1e-9)
    assert a.energy_pj["compute"].sum() == pytest.approx(ops["compute_pj"].sum(), rel=1e-12)
    assert a.energy_pj["idle"].sum() == pytest.approx(5e4, rel=1e-12)
    assert a.workload_pj["a"]["sram"] == pytest.approx(
        ops.loc[ops["workload"] == "a", "sram_pj"].sum(), rel=1e-12)


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    """The multi-workload run kept whole, and streamed in chunks of 7 ops with a 0.1 s trace
    window (so ``Tables.ops`` holds a part of the run)."""
    for m in ("resnet8_int8", "ds_cnn_int8", "transformer_block"):
        ensure(REPO / "workloads" / f"{m}.onnx")
    full = run_scenario(SCENARIO, BASE)
    mp = pytest.MonkeyPatch()
    mp.setattr(stream_mod, "OPS_CHUNK", 7)
    try:
        part = run_scenario(SCENARIO, [*BASE, "run.ops_table=none",
                                       "run.trace={window_s: [0.1, 0.2]}"])
    finally:
        mp.undo()
    assert len(part.tables.ops) < len(full.tables.ops)  # the stream kept a part only
    return full, part


def test_streamed_series_equal_the_kept_runs(pair):
    full, part = pair
    a, b = full.tables.series, part.tables.series
    assert a.width_ns == b.width_ns
    np.testing.assert_array_equal(a.edges_ns, b.edges_ns)
    assert a.busy_ns.keys() == b.busy_ns.keys()
    for unit in a.busy_ns:
        np.testing.assert_array_equal(a.busy_ns[unit], b.busy_ns[unit])
    for cat in CATEGORIES:
        np.testing.assert_allclose(a.energy_pj[cat], b.energy_pj[cat], rtol=REL, atol=1e-6)
    sa, sb = full.summary["series"], part.summary["series"]
    assert sa["bins"]["utilisation"] == sb["bins"]["utilisation"]  # integers: exact
    assert sa["latency"] == sb["latency"]
    np.testing.assert_allclose(sa["power"]["power_mw"], sb["power"]["power_mw"], rtol=REL)


def test_series_add_up_to_the_summary(pair):
    for r in pair:
        s, series = r.summary, r.tables.series
        for cat in CATEGORIES:  # energy over the bins = the summary's category total
            binned_mj = float(np.sum(s["series"]["bins"]["energy_mj"][cat]))
            assert binned_mj == pytest.approx(s["energy_mj"][cat], rel=1e-9, abs=1e-12)
        power = np.array(s["series"]["power"]["power_mw"])
        assert float(power @ series.lengths_ns) / 1e9 == pytest.approx(s["energy_mj"]["total"],
                                                                       rel=1e-9)
        for unit, u in s["units"].items():  # busy time over the bins = the unit's busy_ms
            assert int(series.busy_ns.get(unit, np.zeros(1, int)).sum()) == \
                round(u["busy_ms"] * 1e6)
        n = len(series.edges_ns) - 1
        assert 1024 <= n <= 2048 and series.edges_ns[-1] == r.trace.makespan_ns


def test_overview_strip_shows_the_whole_streamed_run(pair):
    images = []
    for r in pair:
        tr = r.trace
        fig = timeline(r.tables, [*tr.units, *tr.dma_engines], tr.engines,
                       counters=tr.counters)
        ov, = [ax for ax in fig.axes if ax.get_gid() == "overview"]
        images.append(np.asarray(ov.images[0].get_array()))
    np.testing.assert_allclose(images[0], images[1], rtol=1e-12)
    # busy after the last op the stream kept (the first inferences, the 0.1-0.2 s window)
    late = pair[1].tables.series.edges_ns[:-1] > pair[1].tables.ops["end_ns"].max()
    assert late.sum() > 100 and images[1][:, late].max() > 0


def test_battery_series_equal_streamed(monkeypatch):
    sets = ["workloads.0.duration_s=0.3"]
    monkeypatch.setattr(stream_mod, "OPS_CHUNK", 16)
    full = run_scenario(BATTERY, sets).summary["battery"]
    part = run_scenario(BATTERY, [*sets, "run.ops_table=none", "run.trace=false"]).summary
    np.testing.assert_allclose(part["battery"]["series"]["soc"], full["series"]["soc"],
                               rtol=REL)
    assert part["battery"]["soc_end_of_run"] == pytest.approx(full["soc_end_of_run"], rel=REL)


def test_a_sliver_at_the_end_joins_the_bin_before():
    bins = RunBins()
    ops = pd.DataFrame({"workload": ["a", "a"], "unit": ["x", "x"],
                        "start_ns": [0, 2_998_300], "end_ns": [100, 2_998_372],
                        "compute_pj": [1.0, 2.0], "sram_pj": [0.0, 0.0], "dram_pj": [0.0, 0.0],
                        "static_pj": [0.0, 0.0]})
    bins.add_ops(ops)
    # 2,998,372 ns in bins of 2,048: 1,464 whole bins and 100 ns; the 100 ns join bin 1,463
    s = bins.finish(2_998_372, {})
    assert s.width_ns == 2048 and len(s.edges_ns) - 1 == 1464
    assert s.lengths_ns[-1] == 2048 + 100 and s.edges_ns[-1] == 2_998_372
    assert s.busy_ns["x"][-1] == 72 and s.busy_ns["x"].sum() == 172
    assert s.energy_pj["compute"][-1] == 2.0 and s.energy_pj["compute"].sum() == 3.0
