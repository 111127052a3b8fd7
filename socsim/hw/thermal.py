"""Thermal model: a first-order RC node per unit, and leakage's temperature dependence.

The RC node is integrated exactly over a step with constant power:
``T(t + dt) = T_ss + (T(t) - T_ss) * exp(-dt / (R C))``, ``T_ss = T_ambient + P R``.
"""

from __future__ import annotations

from math import exp

from socsim.config.power import Power, Thermal


def rc_step(temp_c: float, power_w: float, ambient_c: float, thermal: Thermal,
            dt_s: float) -> float:
    """Temperature after ``dt_s`` seconds at constant ``power_w``."""
    steady = ambient_c + power_w * thermal.r_k_per_w
    return steady + (temp_c - steady) * exp(-dt_s / (thermal.r_k_per_w * thermal.c_j_per_k))


def leakage_factor(power: Power, temp_c: float) -> float:
    """Leakage at ``temp_c`` relative to ``leakage_mw`` (which holds at ``leakage_ref_c``):
    ``2 ** ((T - T_ref) / leakage_doubling_c)``, or 1 without a doubling temperature."""
    if power.leakage_doubling_c is None:
        return 1.0
    return 2.0 ** ((temp_c - power.leakage_ref_c) / power.leakage_doubling_c)
