"""The battery as a runtime manager reads it during the run (socsim.sim.battery.BatteryView)
counts every record's memory traffic, however the records leave memory: a streamed run
hands its op records (and transfers) on in chunks, and the fast path appends replayed
windows as blocks of columns. The charge read at each decision instant must be the same,
bit for bit, as in the run that keeps every record as a tuple."""

from __future__ import annotations

import textwrap

import pytest

import socsim.report.stream
from socsim.run import load, run_scenario
from socsim.sim.battery import BatteryView
from tests.conftest import REPO, write_scenario

SCENARIO = f"""
name: battery_view
soc: {REPO / "devices" / "imx8mp.yaml"}
workloads:
  - name: camera
    model: {REPO / "workloads" / "resnet8_int8.onnx"}
    rate_hz: 30
    duration_s: 1
    policy: {{name: single, params: {{unit: npu}}}}
  - name: kws
    model: {REPO / "workloads" / "ds_cnn_int8.onnx"}
    rate_hz: 10
    duration_s: 1
policy: {{name: single, params: {{unit: dsp}}}}
runtime: {{manager: threshold, period_ms: 5, params: {{rules: [{{metric: soc, below: 0.01, freq: {{cpu: min}}}}]}}}}
run:
  seed: 0
  functional: false
  zero_copy: false
  battery:
    capacity_mah: 0.5
    nominal_v: 3.7
    internal_resistance_ohm: 0.1
    cutoff_v: 3.0
    initial_soc: 0.9
    ocv_curve: [{{soc: 0.0, voltage_v: 3.3}}, {{soc: 1.0, voltage_v: 4.2}}]
"""


_ADVANCE = BatteryView._advance  # the real one (each run spies on it anew)


def _readings(tmp_path, monkeypatch, sets: list[str], chunk: int) -> list[tuple[int, float]]:
    log: list[tuple[int, float]] = []

    def spy(view: BatteryView) -> None:
        _ADVANCE(view)
        log.append((view._t_ns, view._soc))

    monkeypatch.setattr(BatteryView, "_advance", spy)
    monkeypatch.setattr(socsim.report.stream, "OPS_CHUNK", chunk)
    path = write_scenario(tmp_path, textwrap.dedent(SCENARIO))
    run_scenario(load(path, sets))
    return log


@pytest.mark.parametrize("fast", [True, False])
def test_streamed_run_reads_the_same_charge(tmp_path, monkeypatch, fast):
    fast_set = [f"run.fast_path={str(fast).lower()}"]
    kept = _readings(tmp_path, monkeypatch, [*fast_set, "run.ops_table=csv"], 7)
    streamed = _readings(tmp_path, monkeypatch, [*fast_set, "run.ops_table=parquet",
                                                 "run.trace={window_s: [0, 0.1]}"], 7)
    assert len(kept) > 100 and kept[-1][1] < kept[0][1]  # read all along, and it drains
    assert streamed == kept


def test_fast_path_reads_the_same_charge(tmp_path, monkeypatch):
    sets = ["run.ops_table=parquet", "run.trace={window_s: [0, 0.1]}"]
    on = _readings(tmp_path, monkeypatch, [*sets, "run.fast_path=true"], 300)
    off = _readings(tmp_path, monkeypatch, [*sets, "run.fast_path=false"], 300)
    assert on == off
