"""Hardware blocks as SimPy resources: DMA engines and compute units with their dynamic state.

A :class:`UnitState` carries what changes during a run: the operating point (DVFS), the
temperature, and exact running integrals of busy time and static energy, so that utilisation
over any window and an op's share of leakage are differences of two readings.
"""

from __future__ import annotations

from heapq import heappop, heappush
from typing import ClassVar

import simpy

from socsim.config.units import Unit
from socsim.hw.thermal import leakage_factor
from socsim.hw.timing import leakage_mw
from socsim.sim.memory import MemoryPool
from socsim.sim.resources import FifoQueue, PriorityQueue, Request


class Station:
    """Numbered slots (a unit's engines or a DMA engine's channels) granted first come, first
    served, lowest free number first (deterministic track assignment).

    Lighter than ``simpy.Resource``: a free slot is granted without scheduling an event, and a
    released slot passes straight to the waiter served next. Waiters are served in the order
    of ``queue_type`` (one class attribute, as SimPy's ``PriorityResource``): FIFO here, by
    priority in :class:`PriorityStation`.
    """

    __slots__ = ("env", "name", "_free", "_waiters", "_order")

    #: the waiters' queue class: FIFO here, by (priority, arrival) in PriorityStation
    queue_type: ClassVar[type] = FifoQueue

    def __init__(self, env: simpy.Environment, name: str, slots: int):
        self.env = env
        self.name = name
        self._free = list(range(slots))
        self._waiters = self.queue_type()
        self._order = 0

    def acquire(self, priority: float = 0) -> int | Request:
        """A free slot number now, or an event whose value is the slot once one frees.

        Args:
            priority: the request's key in a priority queue (lower first); FIFO ignores it.
        """
        if self._free and not self._waiters:
            return heappop(self._free)
        self._order += 1
        ev = Request(self.env, None, priority, self._order)
        self._waiters.push(ev)
        return ev

    def release(self, slot: int) -> None:
        """Give ``slot`` back (to the waiter served next, if any)."""
        if self._waiters:
            self._waiters.pop_first().succeed(slot)
        else:
            heappush(self._free, slot)


class PriorityStation(Station):
    """A :class:`Station` whose waiters are served by (priority, arrival), lowest first."""

    __slots__ = ()

    queue_type = PriorityQueue


class UnitState(Station):
    """A compute unit during a run.

    Attributes:
        freq_mhz, voltage_v: the current operating point.
        vscale2: (V / V_nominal)^2, the factor on dynamic energy.
        leak_mw: current static power (voltage- and temperature-dependent).
        temp_c: current temperature.
        switching: True while an operating-point transition is under way.
        dyn_pj: dynamic energy of the ops finished so far (and of reconfigurations
            scheduled), the thermal model's input.
        compute_pj, reconfig_pj, op_static_pj, ops: the ledger's counters
            (:mod:`socsim.sim.ledger`): dynamic energy of ops and conversions, of
            reconfigurations, the static shares charged to ops and conversions, and how many.
    """

    __slots__ = ("unit", "engines", "pools", "freq_mhz", "voltage_v", "vscale2", "leak_mw",
                 "temp_c", "switching", "dyn_pj", "compute_pj", "reconfig_pj", "op_static_pj",
                 "ops", "_static_pj", "_t_static", "_running", "_busy_ns", "_t_busy")

    def __init__(self, env: simpy.Environment, name: str, unit: Unit, freq_mhz: float,
                 pools: dict[str, MemoryPool], ambient_c: float):
        super().__init__(env, name, unit.engines)
        self.unit = unit
        self.engines = unit.engines
        self.pools = [pools[m] for m in unit.memories]
        self.temp_c = ambient_c
        self.switching = False
        self.dyn_pj = 0.0
        self.compute_pj = 0.0
        self.reconfig_pj = 0.0
        self.op_static_pj = 0.0
        self.ops = 0
        self._static_pj = 0.0
        self._t_static = 0
        self._running = 0
        self._busy_ns = 0
        self._t_busy = 0
        self._apply(freq_mhz)

    def _apply(self, freq_mhz: float) -> None:
        point = self.unit.dvfs.point(freq_mhz)
        self.freq_mhz = point.freq_mhz
        self.voltage_v = point.voltage_v
        self.vscale2 = (point.voltage_v / self.unit.dvfs.nominal.voltage_v) ** 2
        self.leak_mw = leakage_mw(self.unit, point) * leakage_factor(self.unit.power, self.temp_c)

    def static_pj(self, now: int) -> float:
        """Static energy since the start of the run, pJ (mW x ns = pJ)."""
        return self._static_pj + self.leak_mw * (now - self._t_static)

    def set_point(self, now: int, freq_mhz: float) -> None:
        """Move to the operating point at ``freq_mhz`` at time ``now``."""
        self._static_pj = self.static_pj(now)
        self._t_static = now
        self._apply(freq_mhz)

    def set_temperature(self, now: int, temp_c: float) -> None:
        """Update the temperature (and with it the leakage) at time ``now``."""
        self._static_pj = self.static_pj(now)
        self._t_static = now
        self.temp_c = temp_c
        self._apply(self.freq_mhz)

    def busy_ns(self, now: int) -> int:
        """Engine-nanoseconds of op execution since the start of the run."""
        return self._busy_ns + self._running * (now - self._t_busy)

    def begin(self, now: int) -> None:
        self._busy_ns = self.busy_ns(now)
        self._t_busy = now
        self._running += 1

    def end(self, now: int) -> None:
        self._busy_ns = self.busy_ns(now)
        self._t_busy = now
        self._running -= 1



class PriorityUnitState(UnitState):
    """A :class:`UnitState` whose waiting ops are served by (priority key, arrival), lowest
    first: the plans' ``queue`` is ``priority`` (key: minus the workload's priority) or
    ``edf`` (key: the inference's absolute deadline), see
    :func:`socsim.sim.program.queue_key`."""

    __slots__ = ()

    queue_type = PriorityQueue
