"""Battery discharge: open-circuit voltage, I x R drop, coulomb counting, life to cutoff.

Formulas (docs/battery.md):

- OCV(s): linear interpolation of the configured curve in the state of charge s.
- The battery delivers P_b = P / eta (eta: converter efficiency) at terminal voltage
  V = OCV(s) - I R, so P_b = (OCV - I R) I and I = (OCV - sqrt(OCV^2 - 4 R P_b)) / (2 R)
  (I = P_b / OCV when R = 0). With OCV^2 < 4 R P_b no current delivers P_b: the device stops.
- Coulomb counting: ds/dt = -I / Q, Q = capacity_mah x 3.6 coulombs.
- Life at a constant power P from s0: t = Q x integral over s from s_cut to s0 of ds / I(s),
  where s_cut is the highest s at which V(s) <= cutoff_v (or P is infeasible), evaluated by
  the trapezoid rule on a fine grid of s.
"""

from __future__ import annotations

import math

import numpy as np

from socsim.config.battery import BatterySpec

#: Coulombs per mAh.
C_PER_MAH = 3.6
#: Points of the state-of-charge grid for the life integral: below 1e-6 relative error
#: for piecewise-linear OCV curves of a few tens of points.
_GRID = 20_001


def ocv(spec: BatterySpec, soc: float | np.ndarray) -> float | np.ndarray:
    """Open-circuit voltage at state of charge ``soc`` (clamped to the curve's ends), V."""
    xs = [p.soc for p in spec.ocv_curve]
    ys = [p.voltage_v for p in spec.ocv_curve]
    return np.interp(soc, xs, ys)


def current_a(spec: BatterySpec, soc: float | np.ndarray, power_w: float) -> np.ndarray:
    """Battery current delivering ``power_w`` to the device at ``soc``, A (NaN where no
    current can: OCV^2 < 4 R P_b)."""
    v0 = np.asarray(ocv(spec, soc), dtype=float)
    p_b = power_w / spec.converter_efficiency
    r = spec.internal_resistance_ohm
    if r == 0.0:
        return p_b / v0
    disc = v0 * v0 - 4.0 * r * p_b
    with np.errstate(invalid="ignore"):
        return np.where(disc >= 0.0, (v0 - np.sqrt(np.maximum(disc, 0.0))) / (2.0 * r), np.nan)


def terminal_v(spec: BatterySpec, soc: float | np.ndarray, power_w: float) -> np.ndarray:
    """Terminal voltage OCV - I R while delivering ``power_w``, V (NaN where infeasible)."""
    return np.asarray(ocv(spec, soc)) - current_a(spec, soc, power_w) * \
        spec.internal_resistance_ohm


def step(spec: BatterySpec, soc: float, power_w: float, seconds: float) -> float:
    """State of charge after ``seconds`` at constant ``power_w`` (one explicit Euler step;
    callers keep steps short against the hours a battery lasts). Never below 0."""
    i = float(current_a(spec, soc, power_w))
    if math.isnan(i):
        return 0.0
    return max(0.0, soc - i * seconds / (spec.capacity_mah * C_PER_MAH))


def life_s(spec: BatterySpec, power_w: float, soc0: float | None = None) -> float:
    """Seconds from ``soc0`` (default the spec's initial_soc) until the terminal voltage at
    constant ``power_w`` reaches ``cutoff_v``: Q x integral of ds / I(s) (module docstring).

    Returns ``inf`` for zero power and 0 when the battery is already at cutoff.
    """
    s0 = spec.initial_soc if soc0 is None else soc0
    if power_w <= 0.0:
        return math.inf
    s = np.linspace(0.0, s0, _GRID)
    v = terminal_v(spec, s, power_w)
    dead = ~(v > spec.cutoff_v)  # NaN (infeasible) counts as dead
    if dead[-1]:
        return 0.0
    s_cut = 0.0
    if dead.any():
        k = int(np.nonzero(dead)[0][-1])  # last dead grid point; cutoff between k and k+1
        lo, hi = s[k], s[k + 1]
        for _ in range(60):  # bisection for V(s) = cutoff between the two grid points
            mid = 0.5 * (lo + hi)
            vm = float(terminal_v(spec, mid, power_w))
            if vm > spec.cutoff_v:
                hi = mid
            else:
                lo = mid
        s_cut = hi
    grid = np.linspace(s_cut, s0, _GRID)
    inv_i = 1.0 / current_a(spec, grid, power_w)
    area = float(np.sum(0.5 * (inv_i[1:] + inv_i[:-1]) * np.diff(grid)))  # trapezoid rule
    return area * spec.capacity_mah * C_PER_MAH
