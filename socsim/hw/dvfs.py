"""DVFS governors as pure decisions: (governor, state) -> the operating point to move to.

The governors themselves are in a registry (:mod:`socsim.hw.governors`); these functions
apply the one a unit's spec names.
"""

from __future__ import annotations

from socsim.config.power import Dvfs, Thermal
from socsim.config.scenario import GovernorSpec
from socsim.hw.governors import get_governor


def initial_mhz(gov: GovernorSpec | None, dvfs: Dvfs, chosen: float | None) -> float:
    """Frequency a unit starts at: the governor's, else ``chosen`` (run.operating_points),
    else the unit's default point."""
    if gov is not None:
        start = get_governor(gov.name).initial_mhz(gov, sorted(p.freq_mhz for p in dvfs.points))
        if start is not None:
            return start
    return chosen if chosen is not None else dvfs.default.freq_mhz


def next_mhz(gov: GovernorSpec, dvfs: Dvfs, current: float, utilisation: float,
             temp_c: float, thermal: Thermal | None) -> float:
    """Where ``gov`` moves a unit at a sampling instant (see each governor in
    :mod:`socsim.hw.governors`)."""
    return get_governor(gov.name).next_mhz(gov, sorted(p.freq_mhz for p in dvfs.points),
                                           current, utilisation, temp_c, thermal)
