"""Monitors: the RC thermal step of each node and each unit's DVFS governor, sampled.

Part of :class:`socsim.sim.engine.Simulation` (a mixin: the engine's state lives there).
docs/model.md, "DVFS governors and thermal".
"""

from __future__ import annotations

from socsim.hw.dvfs import next_mhz
from socsim.hw.thermal import rc_step
from socsim.sim.stations import UnitState
from socsim.sim.trace import CounterRecord


class Monitors:
    """Samples temperatures and lets governors change operating points; stops a run whose
    inferences all wait for memory (the deadlock watchdog of a sampled run)."""

    def _monitor(self, members: list[str]):
        """Sample a group of units that share one RC node (a thermal zone; else one unit):
        every period integrate the node's temperature over the group's power and record it on
        each member, and let each member's governor pick an operating point on its own
        sampling period (after the transition latency).

        The period is the shortest governor ``sample_ms`` in the group (1 ms without one).
        """
        env = self.env
        states = [self.units[m] for m in members]
        govs = [self.settings.governors.get(m) for m in members]
        thermal = self.soc.thermal_of(members[0])
        periods = [round(g.sample_ms * 1e6) if g is not None else None for g in govs]
        period = min((p for p in periods if p is not None), default=1_000_000)
        counters = self.trace.counters
        now = env.now
        last_t = now
        last_energy = sum(s.dyn_pj + s.static_pj(now) for s in states)
        decided = [(now, s.busy_ns(now)) for s in states]  # per member: last decision
        for s in states:
            counters.append(CounterRecord(now, s.name, "freq_mhz", s.freq_mhz))
            if thermal is not None:
                counters.append(CounterRecord(now, s.name, "temp_c", s.temp_c))
        temp = states[0].temp_c
        stalled = 0
        while True:
            yield env.timeout(period)
            now = env.now
            if self._done:
                return
            # nothing executing and no timed arrival to come: everything left waits for memory
            # (or for a slot such a waiter holds), a deadlock; stop and let run() report it
            stalled = stalled + 1 if not self._busy and not self._timed_arrivals else 0
            if stalled >= 2:
                return
            if thermal is not None:
                energy = sum(s.dyn_pj + s.static_pj(now) for s in states)
                power_w = (energy - last_energy) * 1e-3 / (now - last_t)  # pJ/ns = mW
                temp = rc_step(temp, power_w, self.ambient_c, thermal, (now - last_t) * 1e-9)
                for s in states:
                    s.set_temperature(now, temp)
                    counters.append(CounterRecord(now, s.name, "temp_c", temp))
                last_energy = sum(s.dyn_pj + s.static_pj(now) for s in states)
            last_t = now
            for k, (state, gov) in enumerate(zip(states, govs)):
                t0, busy0 = decided[k]
                if gov is None or now - t0 < periods[k]:
                    continue
                busy = state.busy_ns(now)
                decided[k] = (now, busy)
                if state.switching:
                    continue
                util = (busy - busy0) / (state.unit.engines * (now - t0))
                target = next_mhz(gov, state.unit.dvfs, state.freq_mhz, util, temp, thermal)
                if self.runtime is not None:  # a manager's pin (socsim/runtime/dvfs.py)
                    target = self.runtime.arbitrate(state, gov, util, temp, thermal, target)
                if target != state.freq_mhz:
                    env.process(self._switch(state, target))

    def _switch(self, state: UnitState, freq_mhz: float):
        """Change a unit's operating point after its DVFS transition latency."""
        state.switching = True
        yield self.env.timeout(round(state.unit.dvfs.transition_us * 1e3))
        if not self._done:
            state.set_point(self.env.now, freq_mhz)
            self.trace.counters.append(CounterRecord(self.env.now, state.name, "freq_mhz",
                                                      freq_mhz))
        state.switching = False
