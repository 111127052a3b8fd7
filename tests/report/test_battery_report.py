"""Battery life and power budget of a run (scenarios/battery_kws.yaml, docs/battery.md)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from socsim.hw.battery import life_s
from socsim.report.battery import power_series
from socsim.run import load, plan_jobs, run_scenario
from socsim.sim.engine import Simulation

SCENARIO = Path(__file__).resolve().parents[2] / "scenarios" / "battery_kws.yaml"
SHORT = ("workloads.0.duration_s=0.5",)


@pytest.fixture(scope="module")
def runs():
    return {g: run_scenario(SCENARIO, (*SHORT, f"run.governors.cpu.name={g}"))
            for g in ("performance", "powersave")}


def test_powersave_extends_battery_life(runs):
    perf, save = (runs[g].summary for g in ("performance", "powersave"))
    assert save["power"]["average_mw"] < perf["power"]["average_mw"]
    assert save["battery"]["life_h"] > perf["battery"]["life_h"]
    # the estimate is the model applied to the run's own average power (total / makespan)
    for r in runs.values():
        s = r.summary
        avg_mw = s["energy_mj"]["total"] / s["simulated_ms"] * 1e3
        assert s["power"]["average_mw"] == pytest.approx(avg_mw, rel=1e-12)
        expected_h = life_s(r.scenario.run.battery, avg_mw * 1e-3) / 3600
        assert s["battery"]["life_h"] == pytest.approx(expected_h, rel=1e-12)


def test_power_series_accounts_for_every_picojoule(runs):
    r = runs["performance"]
    edges, mw = power_series(r.tables, r.trace.makespan_ns)
    total_pj = float(np.sum(mw * np.diff(edges)))
    assert total_pj == pytest.approx(r.summary["energy_mj"]["total"] * 1e9, rel=1e-9)
    # a 10 Hz keyword spotter: windows with an inference draw more than the idle ones
    assert mw.max() > 1.2 * mw.min()


def test_state_of_charge_falls_by_the_charge_drawn(runs):
    s = runs["performance"].summary["battery"]
    soc = np.array(s["series"]["soc"])
    assert np.all(np.diff(soc) <= 0) and soc[-1] < 1.0
    # charge drawn ~ energy / (terminal V x efficiency); V within 1 mV of 4.2 V this early
    energy_j = runs["performance"].summary["energy_mj"]["total"] * 1e-3
    drawn_c = energy_j / 0.9 / 4.2
    assert (1.0 - soc[-1]) * 2600 * 3.6 == pytest.approx(drawn_c, rel=1e-3)


def test_power_budget_flagged():
    r = run_scenario(SCENARIO, (*SHORT, "run.power_budget_mw=20"))
    assert r.summary["power"]["over_budget"] is True
    assert any("power budget 20 mW exceeded" in n for n in r.summary["notes"])


def test_live_view_matches_the_report():
    scenario = load(SCENARIO, SHORT)
    sim = Simulation(scenario.device, plan_jobs(scenario), scenario.run)
    readings = []

    def reader():
        while True:
            yield sim.env.timeout(50_000_000)
            readings.append(sim.battery.soc_fraction)
            if len(readings) >= 8:  # 400 ms: before the last inference ends
                return

    sim.env.process(reader())
    sim.run()
    assert sim.env.now == sim.trace.makespan_ns
    final = sim.battery.soc_fraction  # read at the end of the run
    assert all(b <= a for a, b in zip(readings, readings[1:]))
    report = run_scenario(SCENARIO, SHORT).summary["battery"]["soc_end_of_run"]
    assert 1.0 - final == pytest.approx(1.0 - report, rel=1e-3)
