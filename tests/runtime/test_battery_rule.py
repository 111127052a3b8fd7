"""A ``threshold`` rule on the battery's state of charge ("below 20 % battery use
powersave") fires when the hand-computed discharge says it should.

The cell is made simple enough to discharge by hand: a flat 3.7 V open-circuit curve, no
internal resistance, a lossless converter, 25 % charge at the start and 0.076 mAh. Then the
current is I = P / 3.7 V and the charge reaches 20 % after

    t* = (0.25 - 0.20) x 0.076 mAh x 3.6 C/mAh x 3.7 V / P

with P the device's power: the device file's leakage at the run's operating points (A53
cluster 18.0 mW x 1.0 V / 0.85 V at 1.8 GHz, NPU 23.5 mW x 0.95 / 0.85 at its 1 GHz
default, DSP 3.0 mW; memories declare none) plus the keyword spotter's dynamic energy (its
ops' and transfers' energy without their leakage share, from the trace of a run without the
rule) per second.
"""

from __future__ import annotations

import textwrap

import pytest

from socsim.run import run_scenario
from tests.conftest import REPO, write_scenario

PERIOD_MS = 5
CAPACITY_MAH = 0.076
RULE = "{rules: [{metric: soc, below: 0.2, freq: {cpu: min}}]}"


def _run(tmp_path, manager: str, params: str = "{}"):
    text = textwrap.dedent(f"""
        name: battery_rule
        soc: {REPO / "devices" / "imx8mp.yaml"}
        workloads:
          - name: kws
            model: {REPO / "workloads" / "ds_cnn_int8.onnx"}
            rate_hz: 10
            duration_s: 3
            deadline_ms: 100
        policy: {{name: single, params: {{unit: cpu}}}}
        runtime: {{manager: {manager}, period_ms: {PERIOD_MS}, params: {params}}}
        run:
          seed: 0
          functional: false
          governors: {{cpu: {{name: performance}}}}
          battery:
            capacity_mah: {CAPACITY_MAH}
            nominal_v: 3.7
            internal_resistance_ohm: 0.0
            cutoff_v: 3.0
            converter_efficiency: 1.0
            initial_soc: 0.25
            ocv_curve: [{{soc: 0.0, voltage_v: 3.7}}, {{soc: 1.0, voltage_v: 3.7}}]
        """)
    return run_scenario(write_scenario(tmp_path, text))


def _hand_power_w(result) -> float:
    leakage_mw = 18.0 * 1.0 / 0.85 + 23.5 * 0.95 / 0.85 + 3.0
    ops, xfers = result.tables.ops, result.tables.transfers
    dynamic_pj = float((ops["energy_pj"] - ops["static_pj"]).sum() + xfers["energy_pj"].sum())
    seconds = result.summary["simulated_ms"] * 1e-3
    return leakage_mw * 1e-3 + dynamic_pj * 1e-12 / seconds


def test_battery_rule_switches_to_powersave_when_the_charge_crosses_20_percent(tmp_path):
    static = _run(tmp_path, "static")
    power_w = _hand_power_w(static)
    # the run's own total agrees with the hand figure (the device's power is leakage-bound)
    assert static.summary["power"]["average_mw"] == pytest.approx(power_w * 1e3, rel=2e-3)
    t_star = 0.05 * CAPACITY_MAH * 3.6 * 3.7 / power_w
    assert 0.5 < t_star < 2.5  # inside the 3 s run, after several inferences

    result = _run(tmp_path, "threshold", RULE)
    dvfs = [s for s in result.trace.switches if s.kind == "dvfs"]
    assert [(s.target, s.old, s.new) for s in dvfs] == [("cpu", "1800", "1200")]
    fired = dvfs[0].time_ns * 1e-9
    # the first decision instant at or after t* (one period late at most), within the
    # 0.2 % the power varies with the 10 Hz bursts
    assert t_star - 0.004 <= fired <= t_star + PERIOD_MS * 1e-3 + 0.004
    # before: 1.8 GHz; after the 150 us transition: the 1.2 GHz point, every op
    switch_ns = dvfs[0].time_ns + 150_000
    ops = result.tables.ops
    assert set(ops[ops["end_ns"] <= dvfs[0].time_ns]["freq_mhz"]) == {1800.0}
    assert set(ops[ops["start_ns"] >= switch_ns]["freq_mhz"]) == {1200.0}
    assert result.summary["battery"]["soc_end_of_run"] < 0.2


def test_soc_rule_never_fires_without_a_battery(tmp_path):
    from socsim.runtime.base import SystemState
    from socsim.runtime.builtin import Threshold

    class Ctl:
        def __init__(self):
            self.calls = []

        def set_variant(self, *a):
            self.calls.append(("variant", *a[:2]))

        def set_drop(self, *a):
            pass

        def set_freq(self, *a):
            self.calls.append(("pin", *a[:2]))

        def release_freq(self, *a):
            self.calls.append(("release", a[0]))

    t = Threshold({"rules": [{"metric": "soc", "below": 0.2, "freq": {"cpu": "min"}}]},
                  {"kws": ["int8"]}, {"cpu": [1200.0, 1800.0]})
    state = dict(now_s=1.0, queue={"kws": 0}, in_flight={"kws": 0}, miss_rate={"kws": None},
                 misses={"kws": 0}, utilisation={"cpu": 0.1}, temp_c={"cpu": 25.0},
                 freq_mhz={"cpu": 1800.0}, freqs_mhz={"cpu": [1200.0, 1800.0]},
                 variant={"kws": "int8"}, variants={"kws": ["int8"]})
    ctl = Ctl()
    t.decide(SystemState(**state, soc_fraction=None), ctl)
    assert ("release", "cpu") in ctl.calls and not any(c[0] == "pin" for c in ctl.calls)
    ctl = Ctl()
    t.decide(SystemState(**state, soc_fraction=0.19), ctl)
    assert ("pin", "cpu", 1200.0) in ctl.calls


def test_powersave_at_low_charge_extends_the_estimated_life(tmp_path):
    """scenarios/battery_kws.yaml (the 18650 cell, DS-CNN on the A53 cluster at 1.8 GHz)
    started at 15 % charge: the rule pins the cluster at 1.2 GHz from its first decision.
    The power it saves is the device file's: leakage 18.0 mW x (1.0 - 0.85) / 0.85 V, and
    the ops' dynamic energy x (1 - (0.85 / 1.0)^2) (energies scale with V^2), over the time
    pinned; life at constant power is ~ 1 / P on this cell (I R < 1 mV)."""
    scenario = REPO / "scenarios" / "battery_kws.yaml"
    sets = ["workloads.0.duration_s=1.0", "run.battery.initial_soc=0.15",
            "runtime.period_ms=50"]
    perf = run_scenario(scenario, sets)
    save = run_scenario(scenario, [*sets, "runtime.manager=threshold",
                                   f"runtime.params={RULE}"])
    (pin,) = [s for s in save.trace.switches if s.kind == "dvfs"]
    assert pin.time_ns == 50_000_000
    seconds = perf.summary["simulated_ms"] * 1e-3
    pinned = seconds - (pin.time_ns + 150_000) * 1e-9
    ops = perf.tables.ops
    late = ops[ops["start_ns"] >= pin.time_ns + 150_000]
    saved_mw = (18.0 * 0.15 / 0.85 * pinned
                + float(late["compute_pj"].sum()) * 1e-9 * (1 - 0.85 ** 2)) / seconds
    p_perf = perf.summary["power"]["average_mw"]
    p_save = save.summary["power"]["average_mw"]
    assert p_perf - p_save == pytest.approx(saved_mw, rel=1e-3)
    life_perf, life_save = perf.summary["battery"]["life_h"], save.summary["battery"]["life_h"]
    assert life_save > life_perf
    assert life_save / life_perf == pytest.approx(p_perf / p_save, rel=2e-3)
