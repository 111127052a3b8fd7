"""Reconfiguration: the configuration an op needs (an FPGA library's kernel) made resident on
its unit before the op runs.

Part of :class:`socsim.sim.engine.Simulation` (a mixin: the engine's state lives there). The
unit kind supplies the resource (:meth:`socsim.hw.kind.UnitKind.reconfigurable`: residency,
eviction, time and energy of a load); this module supplies time: one configuration port per
unit. docs/model.md, "FPGA fabric".
"""

from __future__ import annotations

from functools import partial
from math import ceil

from socsim.sim.program import Inference, OpSpec
from socsim.sim.trace import ReconfigRecord


class Reconfiguration:
    """Loads configurations through each reconfigurable unit's one configuration port."""

    def _configure(self, inf: Inference, spec: OpSpec):
        """Make the op's configuration resident and wait until it is usable.

        A miss is a reconfiguration (:meth:`socsim.hw.kind.Reconfigurable.acquire`: the
        resource evicts what it must and says what loading costs) through the unit's one
        configuration port, so reconfigurations of a unit serialise. The op holds its engine
        meanwhile; a configuration that fits only once a running op's is released waits for
        that release.
        """
        env = self.env
        name = spec.unit.name
        resource = self.reconfigurables[name]
        config = spec.kernel
        rc = yield from self.config_areas[name].fit(partial(_load, resource, config))
        ready = self._config_ready[name]
        if not rc.hit:
            start = max(env.now, self._config_port[name])
            end = start + ceil(rc.time_ns)
            self._config_port[name] = ready[config] = end
            for k in rc.evicted:
                ready.pop(k, None)
            spec.unit.dyn_pj += rc.energy_pj  # heats the unit like its ops' energy
            spec.unit.reconfig_pj += rc.energy_pj
            self.trace.reconfigs.append(ReconfigRecord(
                inf.prog.name, inf.index, spec.name, name, config, start, end,
                rc.bitstream_bytes, rc.energy_pj, " ".join(rc.evicted)))
        usable = ready.get(config, 0)
        if usable > env.now:
            self._busy += 1  # the configuration port works (not a stall)
            yield env.timeout(usable - env.now)
            self._busy -= 1


def _load(resource, config: str):
    """Acquire ``config`` on ``resource`` (a :class:`~socsim.hw.kind.ReconfigCost`), or None
    while it does not fit beside the configurations running ops hold."""
    return resource.acquire(config) if resource.can_load(config) else None
