"""The fast path (socsim.sim.replay) changes nothing but speed: the same scenario with
``run.fast_path`` on and off gives identical records, counters, ledger, tables and summary
(exact equality, no tolerance), on quiet, contended, thermal, governed, paged, Poisson and
runtime-managed runs; and it does engage where inferences run alone."""

from __future__ import annotations

import copy
import dataclasses
import io
import json

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from hypothesis import event, given, settings

import socsim.report.stream
import socsim.sim.replay
from socsim.errors import SimulationError
from socsim.run import load, run_scenario
from tests.conftest import REPO
from tests.sim.property_cases import EXAMPLES, SETTINGS, outcome, scenarios

SCENARIOS = REPO / "scenarios"


def _run(name: str, sets: list[str], fast: bool):
    scenario = load(SCENARIOS / f"{name}.yaml", [*sets, f"run.fast_path={str(fast).lower()}"])
    return run_scenario(scenario)


def _summary(result) -> str:
    s = {k: v for k, v in result.summary.items() if k != "fast_path"}
    return json.dumps(s, sort_keys=True, default=repr)


def _parquet(result) -> pd.DataFrame | None:
    if result.stream is None or result.stream.ops_table != "parquet":
        return None
    buf = io.BytesIO()
    result.stream.copy_table(buf)
    buf.seek(0)
    return pq.read_table(buf).to_pandas()


def _assert_identical(fast, slow) -> None:
    a, b = fast.trace, slow.trace
    for f in dataclasses.fields(a):
        if f.name in ("fast_path", "op_sink", "flush_at", "flush_hooks"):
            continue
        assert getattr(a, f.name) == getattr(b, f.name), f.name
    for f in dataclasses.fields(fast.tables):
        x, y = getattr(fast.tables, f.name), getattr(slow.tables, f.name)
        if x is None:
            assert y is None
        elif isinstance(x, pd.DataFrame):
            pd.testing.assert_frame_equal(x, y, check_exact=True, obj=f.name)
        else:  # the binned series, the transfer totals: every array and frame they hold
            _assert_same_parts(vars(x) if hasattr(x, "__dict__") else dataclasses.asdict(x),
                               vars(y) if hasattr(y, "__dict__") else dataclasses.asdict(y),
                               f.name)
    assert _summary(fast) == _summary(slow)
    table = _parquet(fast)
    if table is not None:
        pd.testing.assert_frame_equal(table, _parquet(slow), check_exact=True)
        assert len(table) == sum(u["ops"] for u in fast.summary["units"].values())


def _assert_same_parts(x, y, where: str) -> None:
    """Exact equality of nested dicts of numpy arrays, frames and plain values."""
    if isinstance(x, dict):
        assert isinstance(y, dict) and x.keys() == y.keys(), where
        for k in x:
            _assert_same_parts(x[k], y[k], f"{where}.{k}")
    elif isinstance(x, pd.DataFrame | pd.Series):
        _assert_pandas_equal(x, y, where)
    elif isinstance(x, np.ndarray):
        np.testing.assert_array_equal(x, y, err_msg=where, strict=True)
    elif hasattr(x, "__dict__"):  # an accumulator object (the totals per DMA engine)
        assert type(x) is type(y), where
        _assert_same_parts(vars(x), vars(y), where)
    else:
        assert x == y, where


def _assert_pandas_equal(x, y, where: str) -> None:
    if isinstance(x, pd.DataFrame):
        pd.testing.assert_frame_equal(x, y, check_exact=True, obj=where)
    else:
        pd.testing.assert_series_equal(x, y, check_exact=True, obj=where)


def _both(name: str, sets: list[str]):
    fast, slow = _run(name, sets, True), _run(name, sets, False)
    _assert_identical(fast, slow)
    assert "fast_path" not in slow.summary
    block = fast.summary["fast_path"]
    assert block["inferences_replayed"] + block["inferences_simulated"] >= len(
        fast.trace.inferences)
    return fast, block


def test_uncontended_stream_replays_and_matches_op_by_op(monkeypatch):
    # small chunks: the parquet table's chunk boundaries fall inside replayed inferences
    monkeypatch.setattr(socsim.report.stream, "OPS_CHUNK", 1000)
    sets = [f"workloads.{i}.duration_s=1" for i in (0, 1)]
    fast, block = _both("long_two_streams", sets)
    # camera alone between kws frames: 20 of its 30 frames start alone; the first records
    assert block["inferences_replayed"] >= 15
    assert block["recordings"] >= 1


def test_quickstart_replays_every_frame_after_the_first():
    fast, block = _both("quickstart", ["run.functional=false"])
    assert block["inferences_replayed"] == len(fast.trace.inferences) - 1


def test_contended_streams_identical():
    _both("imx8mp_multi", ["run.functional=false"])


@pytest.mark.parametrize("name", ["imx8mp_multi", "effect_paging"])
def test_streamed_table_with_replayed_blocks_identical(monkeypatch, name):
    # a streamed op table: replayed windows arrive as column blocks between op-by-op
    # records, and chunks of 300 records cut through both
    monkeypatch.setattr(socsim.report.stream, "OPS_CHUNK", 300)
    sets = ["run.functional=false", "run.ops_table=parquet", "run.trace={window_s: [0, 0.2]}"]
    if name == "effect_paging":
        sets.append("workloads.0.inferences=8")
    fast, block = _both(name, sets)
    assert block["inferences_replayed"] > 0


@pytest.mark.parametrize("chunk", [7, 300])
def test_streamed_transfers_identical(monkeypatch, chunk):
    """Every hand-off an SDMA copy, streamed in chunks that cut through replayed windows:
    a replayed window appends its transfers at once, op by op one at a time, and the
    streamed transfers.csv, totals and bins must not tell the two apart."""
    monkeypatch.setattr(socsim.report.stream, "OPS_CHUNK", chunk)
    sets = ["run.functional=false", "run.zero_copy=false", "run.ops_table=parquet",
            "run.trace={window_s: [0, 0.2]}"]
    fast, block = _both("imx8mp_multi", sets)
    assert block["inferences_replayed"] > 0
    assert fast.transfer_stream.records == fast.summary["dma"]["sdma"]["transfers"] > 0
    a, b = io.BytesIO(), io.BytesIO()
    fast.transfer_stream.copy_table(a)
    _run("imx8mp_multi", sets, False).transfer_stream.copy_table(b)
    assert a.getvalue() == b.getvalue()


def test_thermal_node_and_governor_identical():
    # an RC node on the NPU sampled every 100 ms with a thermal governor, Poisson kws
    _both("two_streams", [f"workloads.{i}.duration_s=1" for i in (0, 1)])


def test_governor_every_10_ms_identical():
    _both("effect_governor", ["workloads.0.duration_s=0.4"])


def test_thermal_throttling_identical():
    _both("effect_throttling", ["workloads.0.inferences=12"])


def test_paging_identical_and_warm_inferences_replay():
    fast, block = _both("effect_paging", ["workloads.0.inferences=8"])
    assert fast.trace.page_faults > 0
    assert block["inferences_replayed"] > 0


@pytest.mark.parametrize("name", ["two_streams_threshold", "two_streams_cascade",
                                  "two_streams_feedback"])
def test_runtime_managers_identical(name):
    _both(name, [f"workloads.{i}.duration_s=1" for i in (0, 1)])


def test_fast_path_setting_is_validated():
    from socsim.errors import ConfigError

    with pytest.raises(ConfigError, match="fast_path"):
        load(SCENARIOS / "quickstart.yaml", ["run.fast_path=sometimes"])


def test_thermal_node_sampled_every_ms_identical():
    # an RC node on the NPU: the monitor samples every 1 ms, the temperature (and with it the
    # leakage each op is charged) changes between replays; 0.3 ms frames fit between samples
    thermal = "{r_k_per_w: 120, c_j_per_k: 0.01, trip_c: 85, hysteresis_c: 2}"
    fast, block = _both("quickstart", ["run.functional=false",
                                       f"soc.units.npu.thermal={thermal}"])
    assert block["inferences_replayed"] > 0
    assert len({c.value for c in fast.trace.counters if c.counter == "temp_c"}) > 10


def test_edf_queues_identical():
    # EDF unit queues: a group's members rank by deadline, part of the recording's key
    edf = "{name: priority, params: {discipline: edf}}"
    sets = [f"workloads.{i}.{k}" for i in (0, 1)
            for k in ("duration_s=1", f"policy={edf}")]
    fast, block = _both("long_two_streams", sets)
    assert block["inferences_replayed"] >= 15


@settings(SETTINGS, max_examples=max(15, EXAMPLES // 3))
@given(scenarios())
def test_random_cases_identical_with_and_without_the_fast_path(case):
    # random SoCs (every unit kind, FPGA kernel libraries, weight caches, RC nodes, DVFS
    # governors sampling every 50 us), graphs, policies and arrivals; closed loops get a few
    # more inferences so that windows repeat
    doc, models = case
    doc = copy.deepcopy(doc)
    for w in doc["workloads"]:
        if "inferences" in w:
            w["inferences"] += 3
    fast = outcome(doc, models)[3]
    doc["run"]["fast_path"] = False
    slow = outcome(doc, models)[3]
    if isinstance(fast, SimulationError):
        assert isinstance(slow, SimulationError) and str(fast) == str(slow)
        return
    for f in dataclasses.fields(fast):
        if f.name not in ("fast_path", "op_sink", "flush_at", "flush_hooks"):
            assert getattr(fast, f.name) == getattr(slow, f.name), f.name
    event("replayed" if fast.fast_path["inferences_replayed"] else "nothing replayed")


def test_recordings_are_bounded(monkeypatch):
    # the first two windows: camera + kws at t = 0 (never again in that order), camera alone
    monkeypatch.setattr(socsim.sim.replay, "MAX_RECORDINGS", 2)
    fast, block = _both("long_two_streams", [f"workloads.{i}.duration_s=1" for i in (0, 1)])
    assert block["recordings"] == 2
    # the camera frames alone replay; the 100 ms windows (kws first) are not recorded
    assert 0 < block["inferences_replayed"] < 35  # 35 with all three recordings
