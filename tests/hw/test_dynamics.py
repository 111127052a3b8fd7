"""DVFS governors, the RC thermal step, leakage's temperature factor and a DMA channel's
burst-derated rate, against hand-computed values."""

from __future__ import annotations

from math import exp

import pytest

from socsim.config.dma import DmaEngine
from socsim.config.power import Dvfs, Power, Thermal
from socsim.config.scenario import GovernorSpec
from socsim.hw.dvfs import next_mhz
from socsim.hw.thermal import leakage_factor, rc_step

DVFS = Dvfs.model_validate({"points": [{"freq_mhz": f, "voltage_v": v} for f, v in
                                       ((400, 0.8), (800, 0.9), (1200, 1.0))],
                            "nominal_mhz": 1200})
HOT = Thermal(r_k_per_w=10.0, c_j_per_k=0.1, trip_c=85.0, hysteresis_c=5.0)


def test_rc_step_is_the_exact_exponential():
    # 2 W into 10 K/W from 25 C ambient: steady state 45 C, time constant 1 s
    assert rc_step(25.0, 2.0, 25.0, HOT, 1.0) == pytest.approx(45 - 20 * exp(-1))
    # two half steps at constant power equal one whole step
    half = rc_step(rc_step(30.0, 2.0, 25.0, HOT, 0.5), 2.0, 25.0, HOT, 0.5)
    assert half == pytest.approx(rc_step(30.0, 2.0, 25.0, HOT, 1.0), rel=1e-12)
    # no power: cools towards ambient
    assert rc_step(85.0, 0.0, 25.0, HOT, 1e3) == pytest.approx(25.0)


def test_leakage_doubles_every_doubling_temperature():
    p = Power(energy_pj_per_mac={"int8": 1.0}, energy_pj_per_op={"int8": 1.0}, leakage_mw=10,
              leakage_doubling_c=20.0, leakage_ref_c=25.0)
    assert leakage_factor(p, 25.0) == 1.0
    assert leakage_factor(p, 65.0) == pytest.approx(4.0)
    assert leakage_factor(p, 15.0) == pytest.approx(2 ** -0.5)
    flat = Power(energy_pj_per_mac={"int8": 1.0}, energy_pj_per_op={"int8": 1.0},
                 leakage_mw=10)
    assert leakage_factor(flat, 100.0) == 1.0


@pytest.mark.parametrize(("util", "current", "expect"), [
    (0.9, 400, 1200),   # above up_threshold (0.8): straight to the top
    (0.5, 800, 800),    # between the thresholds: stay
    (0.1, 1200, 800),   # below down_threshold (0.3): one step down
    (0.1, 400, 400),    # already at the bottom
])
def test_ondemand(util, current, expect):
    gov = GovernorSpec(name="ondemand")
    assert next_mhz(gov, DVFS, current, util, 25.0, None) == expect


@pytest.mark.parametrize(("temp", "current", "expect"), [
    (86.0, 1200, 800),   # above the trip point: one step down
    (86.0, 400, 400),
    (82.0, 800, 800),    # inside the hysteresis band (80..85): stay
    (79.0, 800, 1200),   # 5 C below the trip: one step up
    (79.0, 1200, 1200),
])
def test_thermal_governor(temp, current, expect):
    gov = GovernorSpec(name="thermal")
    assert next_mhz(gov, DVFS, current, 1.0, temp, HOT) == expect


def test_fixed_performance_powersave_never_move():
    for name in ("fixed", "performance", "powersave"):
        assert next_mhz(GovernorSpec(name=name), DVFS, 800, 1.0, 100.0, HOT) == 800


def test_burst_gaps_derate_a_channel():
    plain = DmaEngine(channels=1, bw_gbps=4.0, setup_ns=0, energy_pj_per_byte=0,
                      connects=["a", "b"])
    assert plain.rate_gbps == 4.0
    # 64 B bursts at 4 GB/s take 16 ns, then a 16 ns gap: half the rate
    bursty = DmaEngine(channels=1, bw_gbps=4.0, setup_ns=0, energy_pj_per_byte=0,
                       burst_bytes=64, burst_gap_ns=16, connects=["a", "b"])
    assert bursty.rate_gbps == pytest.approx(2.0)
