"""Arrival processes: statistics against theory, determinism under a seed, the trace file."""

from __future__ import annotations

import textwrap

import numpy as np
import pytest

from socsim.config.scenario import Workload
from socsim.errors import ConfigError
from socsim.run import run_scenario
from socsim.sim.arrivals import arrival_times
from tests.conftest import REPO, write_scenario


def _w(**kw) -> Workload:
    return Workload(name="w", model="m.onnx", **kw)


def test_poisson_mean_rate_and_gaps_match_theory():
    # 100 Hz for 200 s: N ~ Poisson(20000), sd 141; 5 sd is a tolerance a wrong rate fails
    t = np.array(list(arrival_times(_w(rate_hz=100, duration_s=200, arrival="poisson"), 7, 0)))
    assert abs(len(t) - 20_000) < 5 * np.sqrt(20_000)
    gaps = np.diff(t) / 1e9
    assert gaps.mean() == pytest.approx(0.01, rel=0.03)
    # exponential gaps: the coefficient of variation is 1 (a periodic stream has 0)
    assert gaps.std() / gaps.mean() == pytest.approx(1.0, abs=0.03)


def test_poisson_is_deterministic_under_a_seed_and_differs_across_seeds():
    w = _w(rate_hz=50, duration_s=10, arrival="poisson")
    assert list(arrival_times(w, 3, 1)) == list(arrival_times(w, 3, 1))
    assert list(arrival_times(w, 3, 1)) != list(arrival_times(w, 4, 1))


def test_periodic_jitter_stays_within_half_the_jitter_of_the_grid():
    w = _w(rate_hz=30, duration_s=2, jitter_ms=4)
    t = np.array(list(arrival_times(w, 0, 0)))
    grid = np.arange(60) * 1e9 / 30
    assert len(t) == 60
    assert np.all(np.abs(t - grid) <= 2e6 + 1e-6)
    assert np.any(np.abs(t - grid) > 0.5e6)  # it does move them
    assert np.all(np.diff(t) >= 0)


def test_bursty_arrivals_fall_in_on_phases_only():
    # 100 Hz during 0.1 s on, 0.4 s off, for 2 s: 4 cycles x 10 arrivals
    w = _w(rate_hz=100, duration_s=2, arrival="bursty", burst_on_s=0.1, burst_off_s=0.4)
    t = np.array(list(arrival_times(w, 0, 0))) / 1e9
    assert len(t) == 40
    assert np.all(np.mod(t, 0.5) < 0.1 - 1e-9)


def test_trace_arrivals_come_from_the_file(tmp_path):
    f = tmp_path / "times.txt"
    f.write_text("# camera frames\n0.0\n0.25\n\n0.1  # late\n3.0\n")
    w = _w(rate_hz=1, duration_s=1, arrival="trace", arrival_trace=str(f))
    assert list(arrival_times(w, 0, 0)) == [0.0, 0.1e9, 0.25e9]
    f.write_text("0.1\nsoon\n")
    with pytest.raises(ConfigError, match=r"times.txt:2: 'soon' is not an arrival time"):
        list(arrival_times(w, 0, 0))


def test_bursty_without_its_phases_is_refused():
    with pytest.raises(ValueError, match="burst_on_s"):
        _w(rate_hz=1, duration_s=1, arrival="bursty")


def _kws(tmp_path, seed: int):
    text = textwrap.dedent(f"""
        name: poisson_kws
        soc: {REPO / "devices" / "imx8mp.yaml"}
        workloads:
          - name: kws
            model: {REPO / "workloads" / "ds_cnn_int8.onnx"}
            rate_hz: 40
            duration_s: 0.5
            arrival: poisson
            deadline_ms: 20
        policy: {{name: single, params: {{unit: dsp}}}}
        run: {{seed: {seed}, functional: false}}
        """)
    return run_scenario(write_scenario(tmp_path, text))


def test_a_poisson_run_is_identical_under_the_same_seed(tmp_path):
    a, b, c = _kws(tmp_path, 11), _kws(tmp_path, 11), _kws(tmp_path, 12)
    assert a.trace.inferences == b.trace.inferences
    assert a.summary == b.summary
    assert [r.arrival_ns for r in a.trace.inferences] != [r.arrival_ns for r in c.trace.inferences]
    # the engine's arrivals are the generator's, to the nanosecond
    w = a.scenario.workloads[0]
    assert sorted(r.arrival_ns for r in a.trace.inferences) == [
        round(t) for t in arrival_times(w, 11, 0)]


def test_a_managed_two_stream_run_with_poisson_arrivals_is_identical_under_a_seed():
    """Poisson keyword spotting beside the camera, ``threshold`` switching on temperature:
    the same seed gives the same arrivals, switches (to the nanosecond) and summary; another
    seed other keyword arrivals."""
    path = REPO / "scenarios" / "two_streams_threshold.yaml"
    sets = [f"workloads.{i}.duration_s=4" for i in (0, 1)]
    a, b = run_scenario(path, sets), run_scenario(path, sets)
    c = run_scenario(path, [*sets, "run.seed=1"])
    assert a.trace.switches and a.trace.switches == b.trace.switches
    assert a.trace.inferences == b.trace.inferences
    assert a.summary == b.summary

    def kws(r):
        return [i.arrival_ns for i in r.trace.inferences if i.workload == "kws"]

    assert kws(a) != kws(c)
    # the engine's keyword arrivals are the Poisson generator's (workload index 1)
    assert sorted(kws(a)) == [round(t) for t in arrival_times(a.scenario.workloads[1], 0, 1)]
