"""scenarios/two_streams*.yaml run with each built-in manager; the threshold one's switch is
in trace.json and the summary's runtime section."""

from __future__ import annotations

import json

import pytest

from socsim.run import run_scenario
from tests.conftest import REPO


def _short(seconds: float) -> list[str]:
    return [f"workloads.{i}.duration_s={seconds}" for i in (0, 1)]


@pytest.mark.parametrize("name", ["two_streams", "two_streams_feedback"])
def test_managers_that_see_no_misses_leave_the_streams_alone(name):
    s = run_scenario(REPO / "scenarios" / f"{name}.yaml", _short(0.5)).summary
    rt = s["runtime"]
    assert rt["switches"] == 0
    assert rt["workloads"]["vision"]["variant_inferences"] == {"int8": 15, "small_dsp": 0,
                                                               "small_npu": 0}
    # MLPerf/TFLite figures of the scenario: 15 frames x 0.708 in 0.5 s of arrivals
    awt = rt["workloads"]["vision"]["accuracy_weighted_throughput_hz"]
    assert awt == pytest.approx(15 * 0.708 / (s["simulated_ms"] / 1e3))


def test_threshold_moves_vision_off_the_hot_npu(tmp_path):
    result = run_scenario(REPO / "scenarios" / "two_streams_threshold.yaml", _short(1.5))
    rt = result.summary["runtime"]
    v = rt["workloads"]["vision"]
    assert rt["switches_by_kind"] == {"variant": 1}
    assert v["variant_inferences"]["small_dsp"] > 0
    # after the switch the NPU runs no vision op of a later arrival
    switch = result.trace.switches[0]
    late = [op for op in result.trace.ops if op.workload == "vision" and op.unit == "npu"
            and op.start_ns > switch.time_ns + 40_000_000]
    assert not late
    result.write(tmp_path / "report")
    events = json.loads((tmp_path / "report" / "trace.json").read_text())["traceEvents"]
    marks = [e for e in events if e.get("cat") == "runtime"]
    assert [m["name"] for m in marks] == ["variant vision: int8 -> small_dsp"]
    assert marks[0]["ts"] == switch.time_ns / 1e3


def test_cascade_runs_the_small_model_on_every_frame():
    rt = run_scenario(REPO / "scenarios" / "two_streams_cascade.yaml",
                      _short(0.2)).summary["runtime"]
    v = rt["workloads"]["vision"]
    assert v["variant_inferences"]["small_npu"] == v["inferences"] == 6
    assert rt["switches_by_kind"]["escalate"] == v["variant_inferences"]["int8"]
