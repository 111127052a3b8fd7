"""A manager's operating point against a unit's governor (docs/runtime.md, "Operating
points"): a pin overrides ``ondemand`` until released; a ``thermal`` governor's trip caps the
pin; a released unit goes back to its governor (or its starting point without one).

A test manager pins one unit at ``mhz`` from ``pin_s`` and releases it at ``release_s``."""

from __future__ import annotations

import textwrap

import pytest

from socsim.run import run_scenario
from socsim.runtime import base
from tests.conftest import REPO, write_scenario

TRANSITION_NS = {"cpu": 150_000, "npu": 0}  # devices/imx8mp.yaml: A53 150 us, NPU unset


class Schedule(base.RuntimeManager):
    name = "schedule_test"

    def __init__(self, params, workloads, units):
        super().__init__(params, workloads, units)
        self.released = False

    def begin(self, ctl):
        if self.params["pin_s"] == 0:
            ctl.set_freq(self.params["unit"], self.params["mhz"], "test pin")

    def decide(self, state, ctl):
        p = self.params
        if p.get("release_s") is not None and state.now_s >= p["release_s"]:
            if not self.released:
                ctl.release_freq(p["unit"], "test release")
                self.released = True
        elif state.now_s >= p["pin_s"]:
            ctl.set_freq(p["unit"], p["mhz"], "test pin")


@pytest.fixture(autouse=True)
def schedule_manager(monkeypatch):
    monkeypatch.setattr(base.MANAGERS, "entries", dict(base.MANAGERS.entries))
    base.MANAGERS.classes()
    base.register_manager(Schedule)


def _run(tmp_path, unit: str, governor: str, params: str, ambient: float = 25,
         inferences: int = 15):
    thermal = ('soc_set: ["units.npu.thermal={r_k_per_w: 120, c_j_per_k: 0.01, trip_c: 85, '
               'hysteresis_c: 2}"]') if unit == "npu" else ""
    text = textwrap.dedent(f"""
        name: arbitration
        soc: {REPO / "devices" / "imx8mp.yaml"}
        {thermal}
        workloads:
          - {{name: vision, model: {REPO / "workloads" / "mobilenetv2_int8.onnx"},
             inferences: {inferences}}}
        policy: {{name: single, params: {{unit: {unit}}}}}
        runtime: {{manager: schedule_test, period_ms: 5, params: {params}}}
        run:
          seed: 0
          functional: false
          ambient_c: {ambient}
          governors: {{{unit}: {governor}}}
        """)
    return run_scenario(write_scenario(tmp_path, text))


def _freq_track(result, unit):
    return [(c.time_ns, c.value) for c in result.trace.counters
            if c.unit == unit and c.counter == "freq_mhz"]


def _ops(result, lo_ns, hi_ns, unit="cpu"):
    ops = result.tables.ops
    return ops[(ops["unit"] == unit) & (ops["start_ns"] >= lo_ns) & (ops["end_ns"] <= hi_ns)]


def test_a_pin_overrides_ondemand_until_released(tmp_path):
    # MobileNetV2 back to back on the A53 cluster: utilisation ~1, so ondemand alone holds
    # the 1.8 GHz point (device default) at every 10 ms sample
    r = _run(tmp_path, "cpu", "{name: ondemand, sample_ms: 10}",
             "{unit: cpu, mhz: 1200, pin_s: 0.05, release_s: 0.15}")
    pins = [s for s in r.trace.switches if s.kind == "dvfs"]
    assert [(s.old, s.new) for s in pins] == [("1800", "1200")]
    pinned_at = pins[0].time_ns + TRANSITION_NS["cpu"]
    assert set(_ops(r, 0, pins[0].time_ns)["freq_mhz"]) == {1800.0}
    # ondemand sampled a busy cluster ~10 times meanwhile, and did not move it
    assert set(_ops(r, pinned_at, 150_000_000)["freq_mhz"]) == {1200.0}
    # released: ondemand's next sample (<= 10 ms) takes it back to 1.8 GHz
    back = [t for t, f in _freq_track(r, "cpu") if t > 150_000_000 and f == 1800.0]
    assert back and back[0] <= 150_000_000 + 10_000_000 + TRANSITION_NS["cpu"]
    assert set(_ops(r, back[0], r.trace.makespan_ns)["freq_mhz"]) == {1800.0}


def test_a_released_unit_without_a_sampling_governor_returns_to_its_start(tmp_path):
    r = _run(tmp_path, "cpu", "{name: performance}",
             "{unit: cpu, mhz: 1200, pin_s: 0.05, release_s: 0.15}")
    moves = [(s.old, s.new) for s in r.trace.switches if s.kind == "dvfs"]
    assert moves == [("1800", "1200"), ("1200", "1800")]
    assert [f for _, f in _freq_track(r, "cpu")] == [1800.0, 1200.0, 1800.0]


def _temps(r):
    return [(c.time_ns, c.value) for c in r.trace.counters
            if c.unit == "npu" and c.counter == "temp_c"]


def test_the_thermal_trip_caps_a_pin(tmp_path):
    # 83 C ambient: the NPU's leakage alone (26.3 mW x 120 K/W = 3.2 K) takes it past its
    # 85 C trip; the manager pins it at its top point from the start
    r = _run(tmp_path, "npu", "{name: thermal, sample_ms: 100}",
             "{unit: npu, mhz: 1000, pin_s: 0}", ambient=83, inferences=400)
    track = _freq_track(r, "npu")
    assert track[0][1] == 1000.0
    drops = [t for t, f in track if f == 800.0]
    assert drops, "the trip must win over the pin"
    # the governor's first sample (every 100 ms) that saw the NPU above 85 C stepped the cap
    hot = [t for t, c in _temps(r) if c > 85 and t % 100_000_000 == 0]
    assert drops[0] == hot[0] + TRANSITION_NS["npu"]
    # at 800 MHz it stays above 83 C (trip - hysteresis): the cap never rises again
    assert all(f == 800.0 for t, f in track if t >= drops[0])


def test_a_pin_below_the_cap_holds_and_release_returns_to_the_cap(tmp_path):
    # cool (25 C): the thermal governor alone runs the NPU at 1000 MHz throughout
    r = _run(tmp_path, "npu", "{name: thermal, sample_ms: 100}",
             "{unit: npu, mhz: 800, pin_s: 0, release_s: 0.3}", inferences=60)
    assert max(c for _, c in _temps(r)) < 83
    track = _freq_track(r, "npu")
    moves = [(s.time_ns, s.old, s.new) for s in r.trace.switches if s.kind == "dvfs"]
    assert [(o, n) for _, o, n in moves] == [("1000", "800"), ("800", "1000")]
    released = moves[1][0]
    assert 300_000_000 <= released < 305_000_000  # the first 5 ms decision at or after 0.3 s
    assert set(_ops(r, 0, released, "npu")["freq_mhz"]) == {800.0}
    assert set(_ops(r, released, r.trace.makespan_ns, "npu")["freq_mhz"]) == {1000.0}
    assert [f for _, f in track] == [1000.0, 800.0, 1000.0]


def test_a_release_that_meets_the_pins_transition_still_returns(tmp_path):
    # decisions every 0.1 ms: the release comes while the 150 us move to 1.2 GHz is under
    # way; the unit must still end up back at its starting 1.8 GHz
    text = textwrap.dedent(f"""
        name: arbitration
        soc: {REPO / "devices" / "imx8mp.yaml"}
        workloads:
          - {{name: vision, model: {REPO / "workloads" / "mobilenetv2_int8.onnx"},
             inferences: 3}}
        policy: {{name: single, params: {{unit: cpu}}}}
        runtime: {{manager: schedule_test, period_ms: 0.1,
                  params: {{unit: cpu, mhz: 1200, pin_s: 0.01, release_s: 0.0101}}}}
        run: {{seed: 0, functional: false, governors: {{cpu: {{name: performance}}}}}}
        """)
    r = run_scenario(write_scenario(tmp_path, text))
    track = _freq_track(r, "cpu")
    assert [f for _, f in track] == [1800.0, 1200.0, 1800.0]
    assert track[-1][0] < 20_000_000
    assert set(_ops(r, 20_000_000, r.trace.makespan_ns)["freq_mhz"]) == {1800.0}
