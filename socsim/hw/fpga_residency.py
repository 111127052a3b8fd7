"""FPGA kernel residency: which kernels of a library are configured on the fabric
(:class:`socsim.config.units.FpgaFabric`), and what loading costs.

Not to be confused with the bandwidth fabric of the engine
(:class:`socsim.sim.bandwidth.BandwidthFabric`, flows sharing links).

A pure model, independent of SimPy and of time: :class:`FpgaResidency` keeps the resident
kernels in least-recently-used order; :meth:`FpgaResidency.load` makes one resident, evicting LRU kernels until it
fits in every resource, and returns what the partial reconfiguration costs. The engine decides
when to call it and how long to hold the unit (docs/model.md, "FPGA fabric").
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from math import ceil

from socsim.config.units.fpga import FPGA_RESOURCES, Fpga
from socsim.errors import SimulationError
from socsim.hw.residency import Pinned


@dataclass(frozen=True)
class Kernel:
    """A kernel of the library with every default resolved.

    Attributes:
        name: its key in the unit's ``kernels``.
        ops: ONNX op types it implements.
        dtypes: compute dtypes it implements.
        resources: occupancy per resource of :data:`socsim.config.units.FPGA_RESOURCES`.
        parallelism: MACs started per initiation.
        initiation_interval: cycles between initiations.
        pipeline_depth: pipeline fill latency, cycles.
        elementwise_ops_per_cycle: elementwise throughput, ops/cycle.
        bitstream_bytes: size of its partial bitstream.
        preloaded: resident at t = 0.
    """

    name: str
    ops: tuple[str, ...]
    dtypes: tuple[str, ...]
    resources: dict[str, float]
    parallelism: int
    initiation_interval: int
    pipeline_depth: float
    elementwise_ops_per_cycle: float
    bitstream_bytes: int
    preloaded: bool

    def implements(self, op_type: str, dtype: str) -> bool:
        """Whether the kernel runs ``op_type`` in ``dtype``."""
        return op_type in self.ops and dtype in self.dtypes


@dataclass(frozen=True)
class Reconfig:
    """What making a kernel resident cost.

    Attributes:
        kernel: the kernel loaded.
        time_ns: reconfiguration time (0 on a hit).
        energy_pj: reconfiguration energy (0 on a hit).
        bitstream_bytes: bytes written through the configuration port (0 on a hit).
        evicted: kernels evicted to make room, least recently used first.
        hit: the kernel was already resident.
    """

    kernel: str
    time_ns: float
    energy_pj: float
    bitstream_bytes: int
    evicted: tuple[str, ...]
    hit: bool


class FabricBusyError(SimulationError):
    """A kernel cannot be loaded without evicting a kernel that is in use (pinned)."""


def resolve_kernels(unit: Fpga) -> dict[str, Kernel]:
    """Every kernel of ``unit`` with unit-level defaults and bitstream sizes filled in.

    A kernel without ``bitstream_bytes`` gets ``⌈full_bitstream_bytes × max_r(kernel_r /
    fabric_r)⌉`` over the resources the fabric has: a reconfigurable region spans whole clock
    regions, so its frame count follows the resource it needs the largest share of.

    Raises:
        ValueError: ``unit`` has no kernel library.
    """
    if unit.kernels is None or unit.fabric is None:
        raise ValueError(f"unit {unit.description or unit.kind!r} has no `kernels` / `fabric`")
    fabric = unit.fabric
    kernels: dict[str, Kernel] = {}
    for name, spec in unit.kernels.items():
        resources = {r: float(getattr(spec, r)) for r in FPGA_RESOURCES}
        size = spec.bitstream_bytes
        if size is None:
            assert fabric.full_bitstream_bytes is not None  # checked by the config
            share = max(resources[r] / getattr(fabric, r) for r in FPGA_RESOURCES
                        if getattr(fabric, r) > 0)
            size = ceil(fabric.full_bitstream_bytes * share)
        par, ii, depth, elem = unit.datapath(name)
        kernels[name] = Kernel(
            name=name, ops=tuple(spec.ops), dtypes=tuple(spec.dtypes or unit.dtypes),
            resources=resources, parallelism=par, initiation_interval=ii,
            pipeline_depth=depth, elementwise_ops_per_cycle=elem, bitstream_bytes=size,
            preloaded=spec.preloaded)
    return kernels


class FpgaResidency(Pinned):
    """The resident kernels of one FPGA unit's fabric, in least-recently-used order.

    Deterministic: preloaded kernels start resident in declaration order (the first declared is
    the least recently used); every :meth:`load` makes its kernel the most recently used.

    Args:
        unit: an FPGA unit config with ``kernels`` and ``fabric``.

    Raises:
        ValueError: ``unit`` has no kernel library.
    """

    def __init__(self, unit: Fpga):
        self.unit = unit
        self.kernels: dict[str, Kernel] = resolve_kernels(unit)
        assert unit.fabric is not None
        self._spec = unit.fabric
        self.capacity: dict[str, float] = {r: float(getattr(unit.fabric, r))
                                           for r in FPGA_RESOURCES}
        self._lru: list[str] = [n for n, k in self.kernels.items() if k.preloaded]
        self._pins: dict[str, int] = {}

    # -- queries -----------------------------------------------------------------------------

    @property
    def resident(self) -> tuple[str, ...]:
        """Resident kernels, least recently used first."""
        return tuple(self._lru)

    @property
    def used(self) -> dict[str, float]:
        """Resources the resident kernels occupy."""
        return self._occupancy(self._lru)

    def kernel_for(self, op_type: str, dtype: str) -> Kernel | None:
        """The kernel that runs ``op_type`` in ``dtype`` (the first declared that implements
        it, as the cost model chooses), or None."""
        name = self.unit.kernel_for(op_type, dtype)
        return None if name is None else self.kernels[name]

    def kernel(self, name: str) -> Kernel:
        """The kernel called ``name``.

        Raises:
            KeyError: listing the kernels of the library.
        """
        try:
            return self.kernels[name]
        except KeyError:
            raise KeyError(f"no kernel {name!r}; the library has {list(self.kernels)}") from None

    def is_resident(self, name: str) -> bool:
        """Whether ``name`` is configured now."""
        return name in self._lru

    def reconfig_cost(self, name: str) -> tuple[float, float]:
        """``(time_ns, energy_pj)`` of loading ``name`` from scratch.

        ``time = reconfig_setup_ns + bytes × 1000 / reconfig_bw_mb_per_s`` (1 MB/s = 10⁻³
        byte/ns), ``energy = bytes × reconfig_pj_per_byte``.
        """
        size = self.kernel(name).bitstream_bytes
        return (self._spec.reconfig_setup_ns + size * 1000 / self._spec.reconfig_bw_mb_per_s,
                size * self._spec.reconfig_pj_per_byte)

    def can_load(self, name: str) -> bool:
        """Whether :meth:`load` would succeed now (resident, or fits once every unpinned
        kernel is evicted)."""
        if name in self._lru:
            return True
        pinned = [n for n in self._lru if self.is_pinned(n)]
        return self._fits(name, pinned)

    # -- state changes -----------------------------------------------------------------------

    def load(self, name: str) -> Reconfig:
        """Make ``name`` resident and the most recently used.

        A hit costs nothing. A miss evicts resident kernels, least recently used first and
        skipping pinned ones, until ``name`` fits in every resource, then charges one partial
        reconfiguration (:meth:`reconfig_cost`).

        Raises:
            KeyError: ``name`` is not in the library.
            FabricBusyError: it does not fit without evicting a pinned kernel (check
                :meth:`can_load` first and wait for a :meth:`release`).
        """
        kernel = self.kernel(name)
        if name in self._lru:
            self._lru.remove(name)
            self._lru.append(name)
            return Reconfig(name, 0.0, 0.0, 0, (), True)
        if not self.can_load(name):
            pinned = sorted(n for n in self._lru if self.is_pinned(n))
            raise FabricBusyError(
                f"kernel {name!r} does not fit next to the pinned kernels {pinned} "
                f"(needs {kernel.resources}, capacity {self.capacity}); wait for a release")
        evicted: list[str] = []
        for victim in list(self._lru):
            if self._fits(name, self._lru):
                break
            if not self.is_pinned(victim):
                self._lru.remove(victim)
                evicted.append(victim)
        self._lru.append(name)
        time_ns, energy_pj = self.reconfig_cost(name)
        return Reconfig(name, time_ns, energy_pj, kernel.bitstream_bytes, tuple(evicted), False)

    # -- helpers -----------------------------------------------------------------------------

    def _occupancy(self, names: Iterable[str]) -> dict[str, float]:
        total = dict.fromkeys(FPGA_RESOURCES, 0.0)
        for n in names:
            for r, v in self.kernels[n].resources.items():
                total[r] += v
        return total

    def _fits(self, name: str, beside: Iterable[str]) -> bool:
        used = self._occupancy(beside)
        need = self.kernels[name].resources
        return all(used[r] + need[r] <= self.capacity[r] for r in FPGA_RESOURCES)
