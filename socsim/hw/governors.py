"""DVFS governors by name: built-ins register with a decorator, third parties through the
``socsim.governors`` entry-point group (merged on first lookup), as policies do.

A governor is a pure decision: where a unit starts, and (if it ``samples``) where it moves at
each sampling instant given its utilisation and temperature. The engine never names one; it
asks the registry (:func:`get_governor`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from socsim.registry import Registry

if TYPE_CHECKING:  # annotations only: governors are pure functions of plain data
    from socsim.config.power import Thermal
    from socsim.config.scenario import GovernorSpec

__all__ = ["GOVERNORS", "Governor", "available_governors", "get_governor", "register_governor"]

#: the governors by name (built-ins by decorator, others from the entry-point group)
GOVERNORS: Registry[type[Governor]] = Registry("governor", "socsim.governors")


class Governor:
    """The interface of a DVFS governor (subclass it, set ``name``, register it).

    Attributes:
        name: the name a scenario gives in ``run.governors.<unit>.name``.
        samples: whether the engine samples the unit for it every ``sample_ms`` (and calls
            :meth:`next_mhz`); a governor that never moves a unit leaves it False.
    """

    name: ClassVar[str]
    samples: ClassVar[bool] = False

    def initial_mhz(self, spec: GovernorSpec, freqs: list[float]) -> float | None:
        """The frequency the unit starts at (one of ``freqs``, ascending), or None to start
        where the scenario's ``operating_points`` (else the unit's default point) say."""
        return None

    def next_mhz(self, spec: GovernorSpec, freqs: list[float], current: float,
                 utilisation: float, temp_c: float, thermal: Thermal | None) -> float:
        """Where the unit goes at a sampling instant (default: stays at ``current``)."""
        return current


def register_governor(cls: type[Governor]) -> type[Governor]:
    """Register a governor class under ``cls.name`` (decorator; returns the class unchanged).

    Raises:
        ValueError: if the name is taken by another class.
    """
    return GOVERNORS.register(cls)


def available_governors() -> list[str]:
    """Names of every registered governor."""
    return GOVERNORS.names()


def get_governor(name: str) -> Governor:
    """The governor registered as ``name``.

    Raises:
        KeyError: naming the valid governors.
    """
    return GOVERNORS.get(name)()


@register_governor
class Fixed(Governor):
    """Stay at ``freq_mhz`` (default: the unit's default point)."""

    name = "fixed"

    def initial_mhz(self, spec, freqs):
        return spec.freq_mhz


@register_governor
class Performance(Governor):
    """The highest point."""

    name = "performance"

    def initial_mhz(self, spec, freqs):
        return freqs[-1]


@register_governor
class Powersave(Governor):
    """The lowest point."""

    name = "powersave"

    def initial_mhz(self, spec, freqs):
        return freqs[0]


@register_governor
class Ondemand(Governor):
    """Linux's ondemand: above ``up_threshold`` utilisation jump to the highest point; below
    ``down_threshold`` step one point down."""

    name = "ondemand"
    samples = True

    def next_mhz(self, spec, freqs, current, utilisation, temp_c, thermal):
        if utilisation > spec.up_threshold:
            return freqs[-1]
        if utilisation < spec.down_threshold:
            return freqs[max(0, freqs.index(current) - 1)]
        return current


@register_governor
class ThermalGovernor(Governor):
    """Start at the highest point; above the unit's ``thermal.trip_c`` step one point down,
    below ``trip_c - hysteresis_c`` one point up."""

    name = "thermal"
    samples = True

    def initial_mhz(self, spec, freqs):
        return freqs[-1]

    def next_mhz(self, spec, freqs, current, utilisation, temp_c, thermal):
        if thermal is None or thermal.trip_c is None:
            return current
        i = freqs.index(current)
        if temp_c > thermal.trip_c:
            return freqs[max(0, i - 1)]
        if temp_c < thermal.trip_c - thermal.hysteresis_c:
            return freqs[min(len(freqs) - 1, i + 1)]
        return current
