"""Who sets a unit's operating point when a runtime manager and a governor both want to:
the arbitration of docs/runtime.md ("Operating points: manager vs governor").

As Linux's devfreq with the thermal framework: a thermal trip caps a unit's highest
frequency (a passive trip's cooling device sets the devfreq max-frequency limit), and a
user-space request (the ``userspace`` governor, here a manager's ``set_freq``) is honoured
within that cap. So:

* a manager's ``set_freq(unit, f)`` **pins** the unit: its governor stops choosing the point
  (``ondemand`` no longer moves it) until the manager releases it;
* except the thermal trip: on a unit whose governor is ``thermal`` that governor keeps
  stepping a **cap** at each of its samples (down above ``trip_c``, up below
  ``trip_c - hysteresis_c``), and the unit runs the highest point at or below both the pin
  and the cap;
* ``release_freq(unit)`` hands the unit back: a ``thermal`` unit goes to its cap, a unit with
  another sampling governor (``ondemand``) stays until that governor's next sample, and a unit
  whose governor never samples (none, ``fixed``, ``performance``, ``powersave``) returns to
  the point it started at.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from socsim.hw.dvfs import next_mhz
from socsim.hw.governors import ThermalGovernor, get_governor

if TYPE_CHECKING:
    from socsim.config.power import Thermal
    from socsim.config.scenario import GovernorSpec
    from socsim.sim.engine import Simulation
    from socsim.sim.stations import UnitState


def _caps_with_trip(gov: GovernorSpec | None) -> bool:
    return gov is not None and isinstance(get_governor(gov.name), ThermalGovernor)


class OperatingPoints:
    """The pins a manager holds and the thermal caps that bound them, for one run."""

    def __init__(self, sim: Simulation):
        self.sim = sim
        govs = sim.settings.governors
        #: per unit: the point it started at (where a released, unsampled unit returns)
        self.start = {n: s.freq_mhz for n, s in sim.units.items()}
        #: per unit whose governor is `thermal`: the highest point its trip allows now
        self.caps = {n: s.freq_mhz for n, s in sim.units.items()
                     if _caps_with_trip(govs.get(n))}
        #: per unit: the point a manager asked for (absent: its governor decides)
        self.pins: dict[str, float] = {}
        #: per released unit: the point it goes back to, until it is there
        self.returning: dict[str, float] = {}

    def effective(self, unit: str) -> float:
        """Where a pinned unit runs: the highest point at or below its pin and its cap."""
        pin = self.pins[unit]
        cap = self.caps.get(unit)
        if cap is None or pin <= cap:
            return pin
        points = [p.freq_mhz for p in self.sim.units[unit].unit.dvfs.points]
        return max((f for f in points if f <= cap), default=min(points))

    def target_on_release(self, unit: str) -> float | None:
        """Where a unit goes when its pin is released (None: its governor decides later)."""
        if unit in self.caps:
            return self.caps[unit]
        gov = self.sim.settings.governors.get(unit)
        if gov is not None and get_governor(gov.name).samples:
            return None
        return self.start[unit]

    def arbitrate(self, state: UnitState, gov: GovernorSpec, utilisation: float,
                  temp_c: float, thermal: Thermal | None, proposed: float) -> float:
        """The point a governor's sample moves ``state`` to, given the manager's pin.

        Args:
            proposed: what the governor alone would choose (from the current point).
        """
        unit = state.name
        if unit in self.caps:
            # the trip's cap evolves as the governor would move an unpinned unit
            cap = proposed if unit not in self.pins else next_mhz(
                gov, state.unit.dvfs, self.caps[unit], utilisation, temp_c, thermal)
            self.caps[unit] = cap
        if unit not in self.pins:
            return proposed
        return self.effective(unit)
