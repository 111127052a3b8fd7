"""CiM crossbar residency: which layers' weights a compute-in-memory unit's crossbars hold.

A layer's configuration is its own weights (:class:`CrossbarWeights`, named after the op,
:meth:`socsim.hw.cim.CimKind.configuration`), occupying ``tiles`` crossbars
(:mod:`socsim.hw.cim_mapping`). The crossbars start empty; a layer whose weights are not
resident is programmed before it runs, evicting least-recently-used layers until its tiles fit.
Programming a layer that fits the unit writes each of its tiles' ``min(rows, K)`` rows, all
tiles at once: ``min(rows, K) * program_cycles_per_row`` cycles at the unit's nominal clock
(``dvfs.nominal_mhz``), ``groups * K * N * J`` cell writes at ``program_pj_per_cell`` each.

A layer larger than the crossbars (``tiles > crossbars``) reprograms them round by round while
it runs (its cycles and energy include that, :class:`~socsim.hw.cim_mapping.Mapping`); as a
configuration it occupies every crossbar at no load cost, so it evicts every other layer (their
weights are overwritten), records its weight bytes written, and leaves nothing resident.

Not modelled: the weights a programming reads from memory (the unit's configuration port
writes them; no memory traffic is charged), and which physical crossbar a layer lands on
(wear is averaged over all cells: see :meth:`socsim.hw.cim.CimKind.unit_summary`).
"""

from __future__ import annotations

from socsim.hw.fpga_residency import FabricBusyError, Reconfig
from socsim.hw.residency import Pinned

__all__ = ["CimResidency", "CrossbarWeights"]


class CrossbarWeights(str):
    """A configuration name (``<graph>/<op>``) carrying what making it resident takes.

    A ``str`` (so the engine, the trace and the policies treat it as any configuration name)
    with attributes: ``tiles`` (crossbars it occupies), ``time_ns`` and ``energy_pj`` (of
    programming it), ``bytes`` (weight bytes written), ``transient`` (a layer larger than the
    crossbars: it programs them itself while it runs and leaves nothing resident).
    """

    tiles: int
    time_ns: float
    energy_pj: float
    bytes: int
    transient: bool

    def __new__(cls, name: str, tiles: int, time_ns: float, energy_pj: float, nbytes: int,
                transient: bool = False) -> CrossbarWeights:
        self = super().__new__(cls, name)
        self.tiles, self.time_ns, self.energy_pj = tiles, time_ns, energy_pj
        self.bytes, self.transient = nbytes, transient
        return self

    def __reduce__(self):
        return (CrossbarWeights, (str(self), self.tiles, self.time_ns, self.energy_pj,
                                  self.bytes, self.transient))


class CimResidency(Pinned):
    """The layers resident in one CiM unit's crossbars, least recently used first
    (a :class:`socsim.hw.kind.Reconfigurable`).

    Args:
        crossbars: the unit's crossbars.
    """

    def __init__(self, crossbars: int):
        self.capacity = crossbars
        self._lru: dict[str, CrossbarWeights] = {}  # insertion order = LRU order
        self._pins: dict[str, int] = {}

    @property
    def resident(self) -> tuple[str, ...]:
        """Resident layers, least recently used first."""
        return tuple(self._lru)

    def is_resident(self, name: str) -> bool:
        """Whether ``name``'s weights are in the crossbars now."""
        return name in self._lru

    def reconfig_cost(self, name: CrossbarWeights) -> tuple[float, float]:
        """``(time_ns, energy_pj)`` of programming ``name`` (module docstring)."""
        return name.time_ns, name.energy_pj

    def can_load(self, name: CrossbarWeights) -> bool:
        """Whether :meth:`load` would succeed now (resident, or fits beside the pinned)."""
        return name in self._lru or self._pinned_tiles() + name.tiles <= self.capacity

    def load(self, name: CrossbarWeights) -> Reconfig:
        """Make ``name`` resident and the most recently used, programming it on a miss.

        Raises:
            FabricBusyError: it does not fit without evicting a pinned layer.
        """
        if name in self._lru:
            self._lru[name] = self._lru.pop(name)
            return Reconfig(name, 0.0, 0.0, 0, (), True)
        if not self.can_load(name):
            raise FabricBusyError(
                f"layer {name!r} needs {name.tiles} crossbars; the pinned layers hold "
                f"{self._pinned_tiles()} of {self.capacity}; wait for a release")
        evicted: list[str] = []
        for victim in list(self._lru):
            if self._used() + name.tiles <= self.capacity:
                break
            if not self.is_pinned(victim):
                del self._lru[victim]
                evicted.append(victim)
        self._lru[name] = name
        return Reconfig(name, name.time_ns, name.energy_pj, name.bytes, tuple(evicted), False)

    def _unpinned(self, name: str) -> None:
        if self._lru[name].transient:
            del self._lru[name]  # its last round's weights serve no other run

    def _used(self) -> int:
        return sum(w.tiles for w in self._lru.values())

    def _pinned_tiles(self) -> int:
        return sum(w.tiles for n, w in self._lru.items() if self.is_pinned(n))
