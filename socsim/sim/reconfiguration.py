"""FPGA reconfiguration: an op's kernel made resident on the fabric before the op runs.

Part of :class:`socsim.sim.engine.Simulation` (a mixin: the engine's state lives there).
docs/model.md, "FPGA fabric".
"""

from __future__ import annotations

from functools import partial
from math import ceil

from socsim.sim.program import Inference, OpSpec


class Reconfiguration:
    """Loads FPGA kernels through each fabric's one configuration port."""

    def _configure(self, inf: Inference, spec: OpSpec):
        """Make the op's FPGA kernel resident and wait until it is usable.

        A miss is a partial reconfiguration (:meth:`socsim.hw.fabric.Fabric.acquire`: LRU
        eviction of unpinned kernels, time and energy from the fabric's parameters) through
        the fabric's one configuration port, so reconfigurations of a unit serialise. The op
        holds its engine meanwhile; a kernel that fits only once a running op's kernel is
        released waits for that release.
        """
        env = self.env
        name = spec.unit.name
        fabric = self.kernel_fabrics[name]
        kernel = spec.kernel
        rc = yield from self.kernel_areas[name].fit(partial(_load, fabric, kernel))
        ready = self._kernel_ready[name]
        if not rc.hit:
            start = max(env.now, self._config_port[name])
            end = start + ceil(rc.time_ns)
            self._config_port[name] = ready[kernel] = end
            for k in rc.evicted:
                ready.pop(k, None)
            spec.unit.dyn_pj += rc.energy_pj  # heats the unit like its ops' energy
            spec.unit.reconfig_pj += rc.energy_pj
            self.trace.reconfigs.append((inf.prog.name, inf.index, spec.name, name, kernel,
                                         start, end, rc.bitstream_bytes, rc.energy_pj,
                                         " ".join(rc.evicted)))
        usable = ready.get(kernel, 0)
        if usable > env.now:
            self._busy += 1  # the configuration port works (not a stall)
            yield env.timeout(usable - env.now)
            self._busy -= 1


def _load(fabric, kernel: str):
    """Acquire ``kernel`` on ``fabric`` (a :class:`~socsim.hw.fabric.Reconfig`), or None
    while it does not fit beside the kernels running ops hold."""
    return fabric.acquire(kernel) if fabric.can_load(kernel) else None
