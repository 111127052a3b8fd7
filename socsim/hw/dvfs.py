"""DVFS governors as pure decisions: (governor, state) -> the operating point to move to."""

from __future__ import annotations

from socsim.config.power import Dvfs, Thermal
from socsim.config.scenario import GovernorSpec


def initial_mhz(gov: GovernorSpec | None, dvfs: Dvfs, chosen: float | None) -> float:
    """Frequency a unit starts at: the governor's, else ``chosen`` (run.operating_points),
    else the unit's default point."""
    freqs = sorted(p.freq_mhz for p in dvfs.points)
    if gov is not None:
        if gov.name in ("performance", "thermal"):
            return freqs[-1]
        if gov.name == "powersave":
            return freqs[0]
        if gov.name == "fixed" and gov.freq_mhz is not None:
            return gov.freq_mhz
    return chosen if chosen is not None else dvfs.default.freq_mhz


def next_mhz(gov: GovernorSpec, dvfs: Dvfs, current: float, utilisation: float,
             temp_c: float, thermal: Thermal | None) -> float:
    """Where ``gov`` moves a unit at a sampling instant.

    ondemand: above ``up_threshold`` utilisation jump to the highest point; below
    ``down_threshold`` step one point down. thermal: above ``trip_c`` step one point down;
    below ``trip_c - hysteresis_c`` step one point up. Others keep their point.
    """
    freqs = sorted(p.freq_mhz for p in dvfs.points)
    i = freqs.index(current)
    if gov.name == "ondemand":
        if utilisation > gov.up_threshold:
            return freqs[-1]
        if utilisation < gov.down_threshold:
            return freqs[max(0, i - 1)]
    elif gov.name == "thermal" and thermal is not None and thermal.trip_c is not None:
        if temp_c > thermal.trip_c:
            return freqs[max(0, i - 1)]
        if temp_c < thermal.trip_c - thermal.hysteresis_c:
            return freqs[min(len(freqs) - 1, i + 1)]
    return current
