"""scenarios/two_streams*.yaml run with each built-in manager.

The scenario's comments give the thermal figures the expectations below come from: the NPU
(R 120 K/W, tau 1.2 s, 81.8 C ambient) heads for 85.18 C running MobileNetV2 at 1000 MHz,
so the thermal governor's 85 C trip throttles a static run after ~3.5 s
(1.2 s x ln(3.38 / 0.18)), and at 800 MHz MobileNetV2 misses the 8 ms budget;
``threshold``'s 84.8 C rule is reached after ~2.6 s (1.2 s x ln(3.38 / 0.38)).
"""

from __future__ import annotations

import json
import math

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
    # the scenario's TFLite figure: 15 frames x 0.708 in 0.5 s of arrivals
    awt = rt["workloads"]["vision"]["accuracy_weighted_throughput_hz"]
    assert awt == pytest.approx(15 * 0.708 / (s["simulated_ms"] / 1e3))


@pytest.fixture(scope="module")
def six_seconds():
    return {n: run_scenario(REPO / "scenarios" / f"{n}.yaml", _short(6))
            for n in ("two_streams", "two_streams_threshold", "two_streams_feedback")}


def _npu_freq(result):
    return [(c.time_ns, c.value) for c in result.trace.counters
            if c.unit == "npu" and c.counter == "freq_mhz"]


def test_static_throttles_and_misses_where_threshold_and_feedback_do_not(six_seconds):
    static, threshold, feedback = six_seconds.values()
    trip_s = 1.2 * math.log(3.38 / 0.18)
    (t0, f0), (t1, f1) = _npu_freq(static)
    assert (f0, f1) == (1000.0, 800.0)
    assert abs(t1 * 1e-9 - trip_s) < 0.15  # the governor samples every 100 ms
    vis = {n: r.summary["runtime"]["workloads"]["vision"] for n, r in six_seconds.items()}
    # from the throttle on every MobileNetV2 frame misses 8 ms: ~(6 - 3.5) / 6 of them
    assert vis["two_streams"]["miss_rate"] == pytest.approx((6 - t1 * 1e-9) / 6, abs=0.03)
    assert vis["two_streams_threshold"]["miss_rate"] < 0.1 * vis["two_streams"]["miss_rate"]
    assert vis["two_streams_feedback"]["miss_rate"] < 0.1 * vis["two_streams"]["miss_rate"]
    assert threshold.summary["units"]["npu"]["temp_c_max"] < 85  # it never trips
    # late answers count for nothing on time: static's on-time score is its on-time frames
    inf = static.tables.inferences
    ok = int((~inf[inf["workload"] == "vision"]["missed"]).sum())
    span_s = static.summary["simulated_ms"] * 1e-3
    assert vis["two_streams"]["accuracy_weighted_throughput_on_time_hz"] == pytest.approx(
        ok * 0.708 / span_s)
    assert (vis["two_streams_threshold"]["accuracy_weighted_throughput_on_time_hz"]
            > vis["two_streams"]["accuracy_weighted_throughput_on_time_hz"])


def test_threshold_switches_when_hot_and_back_when_cool_and_the_trace_shows_it(six_seconds,
                                                                              tmp_path):
    result = six_seconds["two_streams_threshold"]
    temps = [(c.time_ns, c.value) for c in result.trace.counters
             if c.unit == "npu" and c.counter == "temp_c"]
    sw = result.trace.switches
    kinds = [(s.kind, s.target, s.old, s.new) for s in sw]
    assert kinds[:4] == [("variant", "vision", "int8", "small_dsp"), ("dvfs", "npu", "1000", "800"),
                         ("variant", "vision", "small_dsp", "int8"), ("dvfs", "npu", "800", "1000")]
    on, off = sw[0].time_ns, sw[2].time_ns
    assert abs(on * 1e-9 - 1.2 * math.log(3.38 / 0.38)) < 0.1
    # on: the first decision after a sample above 84.8 C; off: after one below 84.7 C
    seen = [c for t, c in temps if t <= on]
    assert seen[-1] > 84.8 and max(c for t, c in temps if t < on - 50_000_000) <= 84.8
    assert [c for t, c in temps if t <= off][-1] < 84.7
    # while the rule is on no vision op of a later arrival runs on the NPU
    ops = result.tables.ops
    late = ops[(ops["workload"] == "vision") & (ops["unit"] == "npu")
               & (ops["start_ns"] > on + 10_000_000) & (ops["end_ns"] < off)]
    assert late.empty
    result.write(tmp_path / "report")
    events = json.loads((tmp_path / "report" / "trace.json").read_text())["traceEvents"]
    marks = [e for e in events if e.get("cat") == "runtime"]
    assert len(marks) == len(sw)
    assert marks[0]["name"] == "variant vision: int8 -> small_dsp"
    assert marks[0]["ts"] == on / 1e3


def test_feedback_keeps_the_miss_rate_near_its_target_after_the_throttle(six_seconds):
    result = six_seconds["two_streams_feedback"]
    downs = [s for s in result.trace.switches if s.new == "small_npu"]
    ups = [s for s in result.trace.switches if s.new == "int8"]
    assert downs and ups  # it steps down on misses and probes back up
    # each step up comes 20 calm 50 ms periods after the step down before it
    for d, u in zip(downs, ups):
        assert u.time_ns - d.time_ns == 20 * 50_000_000
    inf = result.tables.inferences
    after = inf[(inf["workload"] == "vision") & (inf["arrival_ns"] > downs[0].time_ns)]
    assert after["missed"].mean() < 0.10  # the 5 % target with one probe period's misses


def test_cascade_runs_the_small_model_on_every_frame():
    rt = run_scenario(REPO / "scenarios" / "two_streams_cascade.yaml",
                      _short(0.2)).summary["runtime"]
    v = rt["workloads"]["vision"]
    assert v["variant_inferences"]["small_npu"] == v["inferences"] == 6
    assert rt["switches_by_kind"]["escalate"] == v["variant_inferences"]["int8"]
    assert rt["manager_state"]["small_runs"] == 6
    assert rt["manager_state"]["escalated"] == v["variant_inferences"]["int8"]
