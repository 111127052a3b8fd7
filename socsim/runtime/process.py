"""The runtime manager inside the simulation: a SimPy process that builds the
:class:`~socsim.runtime.base.SystemState` every period, lets the manager act through
:class:`Controls`, picks each inference's variant and records what happened.

The engine knows it through these calls: :meth:`RuntimeProcess.bind` (at construction),
:meth:`~RuntimeProcess.process` (started with the monitors), :meth:`~RuntimeProcess.admit`,
:meth:`~RuntimeProcess.queued`, :meth:`~RuntimeProcess.variant_program` and
:meth:`~RuntimeProcess.completed` (from :mod:`socsim.sim.arrivals`), and
:meth:`~RuntimeProcess.arbitrate` (from :mod:`socsim.sim.monitor`, at each governor sample).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from socsim.runtime.base import RuntimeManager, SystemState
from socsim.runtime.dvfs import OperatingPoints
from socsim.runtime.records import DropRecord, InferenceVariants, SwitchRecord
from socsim.sim.program import Job, Program

if TYPE_CHECKING:
    from socsim.sim.engine import Simulation


@dataclass(frozen=True)
class Variant:
    """One build of a workload: its name, accuracy (or None) and planned job."""

    name: str
    accuracy: float | None
    job: Job


@dataclass(frozen=True)
class Finished:
    """A variant's inference that just finished (what a manager's ``after_inference`` sees)."""

    workload: str
    inference: int
    variant: str
    arrival_ns: int
    now_ns: int
    program: Program


def battery_fraction(sim) -> float | None:
    """State of charge (0-1) of the run's battery, if the engine has one (``sim.battery``
    with a ``soc_fraction`` attribute or method), else None."""
    battery = getattr(sim, "battery", None)
    value = getattr(battery, "soc_fraction", None) if battery is not None else None
    if callable(value):
        value = value()
    return None if value is None else float(value)


class Controls:
    """What a manager may do; every change is a :class:`SwitchRecord` in the trace."""

    def __init__(self, rt: RuntimeProcess):
        self._rt = rt

    def set_variant(self, workload: str, variant: str, reason: str = "") -> None:
        """New inferences of ``workload`` run ``variant`` (those running finish as they are)."""
        rt = self._rt
        if variant not in rt.programs[workload]:
            raise ValueError(f"workload {workload!r} has no variant {variant!r}; it has "
                             f"{list(rt.programs[workload])}")
        old = rt.current[workload]
        if old != variant:
            now = rt.sim.env.now
            rt.variant_ns[workload][old] += now - rt.since[workload]
            rt.since[workload] = now
            rt.current[workload] = variant
            rt.record("variant", workload, old, variant, reason)

    def set_drop(self, workload: str, on: bool, reason: str = "") -> None:
        """While on, an arrival of ``workload`` that finds every slot busy is dropped."""
        rt = self._rt
        if rt.dropping[workload] != on:
            rt.dropping[workload] = on
            rt.record("drop", workload, str(not on).lower(), str(on).lower(), reason)

    def set_freq(self, unit: str, freq_mhz: float, reason: str = "") -> None:
        """Pin ``unit`` at DVFS point ``freq_mhz`` (after its transition latency) until
        :meth:`release_freq`: its governor stops choosing, except that a ``thermal``
        governor's trip still caps it (socsim.runtime.dvfs, docs/runtime.md)."""
        rt = self._rt
        state = rt.sim.units[unit]
        freqs = [p.freq_mhz for p in state.unit.dvfs.points]
        if freq_mhz not in freqs:
            raise ValueError(f"{freq_mhz:g} MHz is not a DVFS point of {unit!r}: {freqs}")
        rt.points.pins[unit] = freq_mhz
        rt.apply_point(unit, reason)

    def release_freq(self, unit: str, reason: str = "") -> None:
        """Hand ``unit`` back to its governor (no-op when not pinned)."""
        rt = self._rt
        if rt.points.pins.pop(unit, None) is None:
            return
        target = rt.points.target_on_release(unit)
        if target is not None:
            if unit not in rt.points.caps:  # a thermal governor moves a released unit itself
                rt.points.returning[unit] = target
            rt.move(unit, target, reason)


class RuntimeProcess:
    """The manager's process and bookkeeping for one run.

    Args:
        manager: the manager instance.
        variants: per workload, its variants (primary first: the workload's own job).
        period_ms: decision period.
    """

    def __init__(self, manager: RuntimeManager, variants: dict[str, list[Variant]],
                 period_ms: float):
        self.manager = manager
        self.variants = variants
        self.period_ns = max(1, round(period_ms * 1e6))
        self.switches: list[SwitchRecord] = []
        self.drops: list[DropRecord] = []
        self.done: list[InferenceVariants] = []

    # -- engine hooks ------------------------------------------------------------------

    def bind(self, sim: Simulation) -> None:
        """Compile the non-primary variants as programs of ``sim`` (never started by an
        arrival process) and start every workload on its primary variant."""
        self.sim = sim
        primary = {p.name: p for p in sim.programs}
        self.programs: dict[str, dict[str, Program]] = {}
        for w, variants in self.variants.items():
            base = primary[w]
            progs = {variants[0].name: base}
            for v in variants[1:]:
                v.job.plan.validate(v.job.graph, sim.soc, f"{w} variant {v.name}")
                prog = Program(len(sim.programs), v.job, sim.soc, sim.units)
                prog.variant_of = base
                sim.programs.append(prog)
                progs[v.name] = prog
            self.programs[w] = progs
        self.accuracy = {w: {v.name: v.accuracy for v in vs} for w, vs in self.variants.items()}
        self.current = {w: vs[0].name for w, vs in self.variants.items()}
        self.since = dict.fromkeys(self.variants, 0)
        self.variant_ns = {w: dict.fromkeys(progs, 0) for w, progs in self.programs.items()}
        self.queue = dict.fromkeys(self.variants, 0)
        self.in_flight = dict.fromkeys(self.variants, 0)
        self.dropping = dict.fromkeys(self.variants, False)
        self.path: dict[tuple[str, int], list[str]] = {}
        self._window: dict[str, list[int]] = {w: [0, 0] for w in self.variants}  # done, missed
        self.points = OperatingPoints(sim)
        self.ctl = Controls(self)
        self.manager.begin(self.ctl)

    def admit(self, prog: Program, index: int) -> bool:
        """Whether an arrival goes on (False: dropped, and recorded)."""
        w = prog.name
        if self.dropping[w] and self.in_flight[w] + self.queue[w] >= prog.workload.max_in_flight:
            self.drops.append(DropRecord(self.sim.env.now, w, index))
            return False
        return True

    def queued(self, prog: Program, delta: int) -> None:
        """An arrival starts (+1) or stops (-1) waiting for a slot."""
        self.queue[prog.name] += delta

    def variant_program(self, base: Program) -> Program:
        """The program a new inference of ``base``'s workload runs: the current variant."""
        self.in_flight[base.name] += 1
        return self.programs[base.name][self.current[base.name]]

    def completed(self, base: Program, prog: Program, index: int, arrival: int
                  ) -> Program | None:
        """A variant's inference finished: the next program for this arrival, or None."""
        w = base.name
        now = self.sim.env.now
        name = next(n for n, p in self.programs[w].items() if p is prog)
        path = self.path.setdefault((w, index), [])
        path.append(name)
        done = Finished(w, index, name, arrival, now, prog)
        nxt = self.manager.after_inference(done)
        if nxt is not None:
            self.record("escalate", w, name, nxt,
                        f"inference {index}{self.manager.escalation_note(done)}")
            return self.programs[w][nxt]
        del self.path[(w, index)]
        self.in_flight[w] -= 1
        d = base.workload.deadline_ms
        missed = d is not None and now > arrival + round(d * 1e6)
        self._window[w][0] += 1
        self._window[w][1] += missed
        self.done.append(InferenceVariants(w, index, "+".join(path), arrival, now, missed))
        return None

    def apply_point(self, unit: str, reason: str = "") -> None:
        """Move a pinned unit to where its pin and cap put it (if it is not there)."""
        self.move(unit, self.points.effective(unit), reason)

    def move(self, unit: str, freq_mhz: float, reason: str) -> None:
        """Start a transition of ``unit`` to ``freq_mhz`` unless it is there or mid-switch (a
        pin is re-applied every period, so a request that meets a transition is not lost)."""
        state = self.sim.units[unit]
        if state.freq_mhz != freq_mhz and not state.switching:
            self.record("dvfs", unit, f"{state.freq_mhz:g}", f"{freq_mhz:g}", reason)
            state.switching = True  # now: the process below starts later in this instant
            self.sim.env.process(self.sim._switch(state, freq_mhz))

    def arbitrate(self, state, gov, utilisation: float, temp_c: float, thermal,
                  proposed: float) -> float:
        """The engine's monitor asks where a governor's sample moves a unit
        (:meth:`socsim.runtime.dvfs.OperatingPoints.arbitrate`)."""
        return self.points.arbitrate(state, gov, utilisation, temp_c, thermal, proposed)

    def record(self, kind: str, target: str, old: str, new: str, reason: str) -> None:
        self.switches.append(SwitchRecord(self.sim.env.now, self.manager.name, kind, target,
                                          old, new, reason))

    # -- the process -------------------------------------------------------------------

    def process(self):
        """Every period: snapshot the system and let the manager act."""
        sim = self.sim
        env = sim.env
        last = env.now
        busy = {n: s.busy_ns(last) for n, s in sim.units.items()}
        stalled = 0
        while True:
            yield env.timeout(self.period_ns)
            if sim._done:
                return
            # as the monitors' watchdog: nothing runs and nothing will arrive (a deadlock on
            # memory, which run() reports): stop deciding
            stalled = stalled + 1 if not sim._busy and not sim._timed_arrivals else 0
            if stalled >= 2:
                return
            now = env.now
            util = {}
            for n, s in sim.units.items():
                b = s.busy_ns(now)
                util[n] = (b - busy[n]) / (s.unit.engines * (now - last))
                busy[n] = b
            last = now
            miss_rate = {w: (m / d if d and self.variants[w][0].job.workload.deadline_ms
                             is not None else None) for w, (d, m) in self._window.items()}
            misses = {w: m for w, (_, m) in self._window.items()}
            self._window = {w: [0, 0] for w in self.variants}
            state = SystemState(
                now_s=now * 1e-9, queue=dict(self.queue), in_flight=dict(self.in_flight),
                miss_rate=miss_rate, misses=misses, utilisation=util,
                temp_c={n: s.temp_c for n, s in sim.units.items()},
                freq_mhz={n: s.freq_mhz for n, s in sim.units.items()},
                freqs_mhz={n: [p.freq_mhz for p in s.unit.dvfs.points]
                           for n, s in sim.units.items()},
                variant=dict(self.current),
                variants={w: list(p) for w, p in self.programs.items()},
                soc_fraction=battery_fraction(sim))
            self.manager.decide(state, self.ctl)
            for unit in sorted(self.points.pins):
                self.apply_point(unit, "pinned")
            for unit, target in sorted(self.points.returning.items()):
                state = sim.units[unit]
                if unit in self.points.pins or (state.freq_mhz == target
                                                and not state.switching):
                    del self.points.returning[unit]
                else:  # a release that met a transition under way
                    self.move(unit, target, "released")

    def close(self, end_ns: int) -> None:
        """Charge the current variants their time up to ``end_ns``."""
        for w, v in self.current.items():
            self.variant_ns[w][v] += max(0, end_ns - self.since[w])
            self.since[w] = end_ns
