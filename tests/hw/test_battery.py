"""Discharge model against hand computations (docs/battery.md)."""

from __future__ import annotations

import math

import pytest

from socsim.config.battery import BatterySpec
from socsim.hw.battery import current_a, life_s, step, terminal_v


def _spec(**kw) -> BatterySpec:
    base = dict(capacity_mah=1000.0, nominal_v=3.7, internal_resistance_ohm=0.0,
                cutoff_v=3.0, ocv_curve=[{"soc": 0.0, "voltage_v": 3.7},
                                         {"soc": 1.0, "voltage_v": 3.7}])
    base.update(kw)
    return BatterySpec.model_validate(base)


def test_flat_curve_no_resistance_is_capacity_times_voltage_over_power():
    # 1000 mAh x 3.7 V = 3.7 Wh; at 0.37 W that is 10 h
    assert life_s(_spec(), 0.37) == pytest.approx(10 * 3600, rel=1e-9)


def test_linear_curve_is_mean_voltage():
    # R = 0, OCV 3.2 -> 4.2 V linear, cutoff below it: energy = Q x mean OCV = 1 Ah x 3.7 V
    spec = _spec(ocv_curve=[{"soc": 0.0, "voltage_v": 3.2}, {"soc": 1.0, "voltage_v": 4.2}])
    assert life_s(spec, 1.0) == pytest.approx(3.7 * 3600, rel=1e-6)


def test_cutoff_inside_the_curve():
    # linear 3.0 -> 4.0 V, cutoff 3.5 V is reached at s = 0.5; energy = 0.5 Ah x 3.75 V
    spec = _spec(cutoff_v=3.5, ocv_curve=[{"soc": 0.0, "voltage_v": 3.0},
                                          {"soc": 1.0, "voltage_v": 4.0}])
    assert life_s(spec, 2.0) == pytest.approx(0.5 * 3.75 * 3600 / 2.0, rel=1e-6)


def test_resistance_and_efficiency():
    # flat 4 V, R = 0.5 Ohm, 3 W at 75 % efficiency: P_b = 4 W; I = (4 - sqrt(16 - 8)) / 1
    spec = _spec(ocv_curve=[{"soc": 0.0, "voltage_v": 4.0}, {"soc": 1.0, "voltage_v": 4.0}],
                 internal_resistance_ohm=0.5, converter_efficiency=0.75, cutoff_v=2.5)
    i = 4.0 - math.sqrt(8.0)
    assert float(current_a(spec, 0.5, 3.0)) == pytest.approx(i, rel=1e-12)
    assert float(terminal_v(spec, 0.5, 3.0)) * i == pytest.approx(4.0, rel=1e-12)
    assert life_s(spec, 3.0) == pytest.approx(3600 / i, rel=1e-9)
    # the voltage drop alone reaches cutoff: V = 4 - 0.5 I <= 2.5 at I = 3 A, P_b = 7.5 W
    assert life_s(spec, 7.6 * 0.75) == 0.0
    assert math.isnan(float(current_a(spec, 0.5, 9.0 * 0.75)))  # 16 < 4 x 0.5 x 9


def test_step_is_coulomb_counting():
    spec = _spec()
    # 0.37 W at 3.7 V = 0.1 A for 360 s = 36 C = 10 mAh = 1 % of 1000 mAh
    assert step(spec, 1.0, 0.37, 360.0) == pytest.approx(0.99, rel=1e-12)


def test_bad_curves_are_refused():
    with pytest.raises(ValueError, match="strictly increase"):
        _spec(ocv_curve=[{"soc": 0.5, "voltage_v": 3.7}, {"soc": 0.5, "voltage_v": 3.8}])
    with pytest.raises(ValueError, match="cutoff_v"):
        _spec(cutoff_v=3.8)
