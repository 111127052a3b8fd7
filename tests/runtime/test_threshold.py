"""Thermal throttling: MobileNetV2 int8 on the A53 cluster at 40 fps with a 20 ms deadline
under a 70 °C ambient (the RC node of scenarios/effect_throttling.yaml). At 1.8 GHz an
inference takes ~18.5 ms; once the cluster passes its 85 °C trip the thermal governor steps
it to 1.6 GHz, where it takes ~20.8 ms and misses. ``threshold`` runs ResNet-8 (int8) above
83 °C, so the cluster stays below the trip and the deadline holds."""

from __future__ import annotations

import textwrap

import pytest

from socsim.errors import ConfigError
from socsim.run import run_scenario
from tests.conftest import REPO, write_scenario

RULES = "{rules: [{metric: temp_c, of: cpu, above: 83, hysteresis: 3, variant: {vision: small}}]}"


def _run(tmp_path, manager: str, params: str = "{}"):
    text = textwrap.dedent(f"""
        name: throttle
        soc: {REPO / "devices" / "imx8mp.yaml"}
        soc_set:
          - "units.cpu.thermal={{r_k_per_w: 80, c_j_per_k: 0.015, trip_c: 85, hysteresis_c: 2}}"
        workloads:
          - name: vision
            model: {REPO / "workloads" / "mobilenetv2_int8.onnx"}
            variant: big
            accuracy: 0.708
            rate_hz: 40
            duration_s: 5
            deadline_ms: 20
            max_in_flight: 2
            variants:
              - {{name: small, model: {REPO / "workloads" / "resnet8_int8.onnx"}, accuracy: 0.87}}
        policy: {{name: single, params: {{unit: cpu}}}}
        runtime: {{manager: {manager}, period_ms: 50, params: {params}}}
        run:
          seed: 0
          functional: false
          ambient_c: 70
          governors: {{cpu: {{name: thermal, sample_ms: 250}}}}
        """)
    return run_scenario(write_scenario(tmp_path, text))


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("throttle")
    return _run(tmp, "static"), _run(tmp, "threshold", RULES)


def test_threshold_switches_variant_and_misses_less_than_static(runs):
    static, threshold = runs
    s = static.summary["runtime"]["workloads"]["vision"]
    t = threshold.summary["runtime"]["workloads"]["vision"]
    # static throttles (the governor leaves 1.8 GHz) and misses
    assert static.summary["units"]["cpu"]["freq_mhz_min"] < 1800
    assert s["miss_rate"] > 0.05
    assert s["variant_inferences"] == {"big": 200, "small": 0}
    # the misses are the throttle's: every frame that arrives once the cluster is at
    # 1.6 GHz misses (~20.8 ms > 20 ms), none before it (~18.5 ms at 1.8 GHz)
    drop = next(c.time_ns for c in static.trace.counters
                if c.unit == "cpu" and c.counter == "freq_mhz" and c.value < 1800)
    inf = static.tables.inferences
    assert not inf[inf["end_ns"] <= drop]["missed"].any()
    assert inf[inf["arrival_ns"] >= drop]["missed"].all()
    assert s["deadline_misses"] >= (inf["arrival_ns"] >= drop).sum()
    # threshold runs the small model part of the time and misses less
    assert t["variant_inferences"]["small"] > 0 and t["variant_inferences"]["big"] > 0
    assert t["miss_rate"] < s["miss_rate"]
    assert threshold.summary["units"]["cpu"]["temp_c_max"] < 85
    # time per variant covers the run
    assert sum(t["variant_ms"].values()) == pytest.approx(threshold.summary["simulated_ms"])


def test_switch_events_are_in_the_trace_in_time_order(runs):
    _, threshold = runs
    switches = threshold.trace.switches
    assert switches and all(s.kind == "variant" and s.manager == "threshold" for s in switches)
    assert [s.time_ns for s in switches] == sorted(s.time_ns for s in switches)
    assert (switches[0].old, switches[0].new) == ("big", "small")
    assert threshold.summary["runtime"]["switches"] == len(switches)
    # each switch happens when the cluster's temperature sample last seen was past the limit
    temps = [c for c in threshold.trace.counters if c.counter == "temp_c"]
    before = [c.value for c in temps if c.time_ns <= switches[0].time_ns]
    assert before[-1] > 83


def test_bad_threshold_rules_are_located(tmp_path):
    with pytest.raises(ConfigError, match=r"runtime.*rules\[0\]\.of: 'gpu'"):
        _run(tmp_path, "threshold", "{rules: [{metric: temp_c, of: gpu, above: 80}]}")
    with pytest.raises(ConfigError, match=r"unknown runtime manager 'oracle'.*threshold"):
        _run(tmp_path, "oracle")


def test_validate_checks_the_manager_and_the_variants():
    from socsim.check import check_file

    path = REPO / "scenarios" / "two_streams.yaml"
    assert check_file(path, ["runtime.manager=threshold", "runtime.params={rules: "
                             "[{metric: temp_c, of: npu, above: 85}]}"]).kind == "scenario"
    with pytest.raises(ConfigError, match=r"variant: vision: int2 is not a variant"):
        check_file(path, ["runtime.manager=threshold", "runtime.params={rules: [{metric: "
                          "temp_c, of: npu, above: 85, variant: {vision: int2}}]}"])


@pytest.mark.parametrize("manager, params, message", [
    ("threshold", "{rules: [{metric: temp_c, of: npu, above: yes}]}",
     r"rules\[0\]\.above: expected a number, got the boolean true"),
    ("threshold", "{rules: [{metric: temp_c, of: npu, below: 50, hysteresis: 'x'}]}",
     r"rules\[0\]\.hysteresis: expected a number, got 'x'"),
    ("feedback", "{workload: vision, target: false}",
     r"feedback\.target`: expected a number, got the boolean false"),
    ("feedback", "{workload: vision, patience: 2.5}",
     r"feedback\.patience`: expected a whole number, got 2\.5"),
    ("cascade", "{workload: vision, small: small_npu, big: int8, threshold: on}",
     r"cascade\.threshold`: expected a number, got the boolean true"),
])
def test_manager_numbers_refuse_booleans_and_text(manager, params, message):
    from socsim.check import check_file

    path = REPO / "scenarios" / "two_streams.yaml"
    with pytest.raises(ConfigError, match=r"runtime\.params.*" + message):
        check_file(path, [f"runtime.manager={manager}", f"runtime.params={params}"])
