"""Arrivals: closed- and open-loop workloads start inferences; an inference places its inputs,
starts the ops whose inputs are ready, waits for its outputs and frees its slot.

Part of :class:`socsim.sim.engine.Simulation` (a mixin: the engine's state lives there).
docs/model.md, "Workloads".
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial
from pathlib import Path

import numpy as np
import simpy

from socsim.config.scenario import Workload
from socsim.errors import ConfigError, Problem, SimulationError
from socsim.sim.program import Inference, Program, queue_key
from socsim.sim.trace import InferenceRecord


class Arrivals:
    """The processes that start inferences and see them through."""

    def _closed_loop(self, prog: Program, count: int, in_flight: int):
        slots = simpy.Resource(self.env, capacity=in_flight)
        for i in range(count):
            req = slots.request()
            self._slot_waiters += 1
            yield req
            self._slot_waiters -= 1
            self.env.process(self._inference(prog, i, self.env.now, slots, req))
        self._arrivals_open -= 1

    def _open_loop(self, prog: Program):
        w = prog.workload
        slots = simpy.Resource(self.env, capacity=w.max_in_flight)
        runtime = self.runtime
        for i, t in enumerate(arrival_times(w, self.settings.seed, prog.index)):
            yield self.env.timeout(max(0, round(t) - self.env.now))
            if runtime is not None and not runtime.admit(prog, i):
                continue  # dropped by the runtime manager (counted there)
            self.env.process(self._admit(prog, i, slots))
        self._arrivals_open -= 1
        self._timed_arrivals -= 1

    def _admit(self, prog: Program, index: int, slots: simpy.Resource):
        """An open-loop arrival waits (queued, FIFO) for one of the workload's slots."""
        arrival = self.env.now
        runtime = self.runtime
        if runtime is not None:
            runtime.queued(prog, +1)
        req = slots.request()
        self._slot_waiters += 1
        yield req
        self._slot_waiters -= 1
        if runtime is not None:
            runtime.queued(prog, -1)
        yield from self._inference(prog, index, arrival, slots, req)

    def _inference(self, prog: Program, index: int, arrival: int, slots: simpy.Resource,
                   req: simpy.Event):
        """One inference: run its program (the runtime manager's variant, and any follow-up
        it asks for, e.g. a cascade's big model), record it, free its slot."""
        runtime = self.runtime
        base = prog
        self._started += 1
        if runtime is not None:
            prog = runtime.variant_program(base)
        while prog is not None:
            yield from self._execute(prog, index, arrival)
            prog = runtime.completed(base, prog, index, arrival) if runtime is not None \
                else None
        deadline = base.workload.deadline_ms
        self.trace.inferences.append(InferenceRecord(
            base.name, index, arrival, self.env.now,
            None if deadline is None else arrival + round(deadline * 1e6)))
        slots.release(req)
        if not self._arrivals_open and len(self.trace.inferences) == self._started:
            self._done = True

    def _execute(self, prog: Program, index: int, arrival: int):
        """Place one inference's inputs, start its ops, wait for its outputs, free them.

        An inference starting in a quiet system first waits at the start barrier; with the
        fast path (:mod:`socsim.sim.replay`) one that runs alone (or with the others starting
        at its instant) from a state already recorded applies the recording and sleeps once
        instead."""
        env = self.env
        fast = self.fast_path
        handle = None
        key = queue_key(self.queue, prog.workload, arrival)
        barrier = fast.enter(prog, index, key)
        if barrier is not None:  # a quiet start: wait for this instant's other events
            yield barrier
            handle = fast.begin(prog, index, barrier)
            if handle.__class__ is int:  # replayed: its effects are applied, its time passes
                yield env.timeout(handle)
                fast.leave(None)
                return
        inf = Inference(env, prog, index, key)
        pool = self.pools[self.input_memory]
        for t in prog.inputs:
            nbytes = prog.nbytes[t]
            if pool.footprint(nbytes) > pool.capacity:
                raise SimulationError(
                    f"{prog.name}: input {prog.tensor_names[t]!r} ({nbytes} bytes) is larger "
                    f"than {self.input_memory!r} ({pool.capacity} bytes)",
                    hint=f"enlarge memory {self.input_memory!r} in the device file, or set "
                    "the SoC's inputs_in to a larger memory")
            size = yield from self.memory.fit(partial(pool.alloc, nbytes))
            inf.locs[t].append((self.input_memory, None, size, None))
            self._produced(inf, t)
        specs = prog.specs
        for i in prog.sources:
            env.process(self._op(inf, specs[i]))
        for ev in inf.outputs.values():
            if ev.callbacks is not None:
                yield ev
        for t in prog.outputs:
            self._unref(inf, t)
        fast.leave(handle)

    def _produced(self, inf: Inference, t: int) -> None:
        """Tensor ``t`` of ``inf`` is ready: start the ops it was the last input missing for."""
        ev = inf.outputs.get(t)
        if ev is not None:
            ev.succeed()
        waiting = inf.waiting
        specs = inf.prog.specs
        for c in inf.prog.consumers[t]:
            waiting[c] -= 1
            if not waiting[c]:
                self.env.process(self._op(inf, specs[c]))


def arrival_times(w: Workload, seed: int, index: int) -> Iterator[float]:
    """The arrival instants (ns, ascending, below ``duration_s``) of open-loop workload ``w``,
    the ``index``-th of its scenario, drawn from ``default_rng([seed, index])``.

    periodic: k / rate_hz, each moved by a uniform draw in +-jitter_ms/2; poisson: exponential
    gaps of mean 1 / rate_hz; bursty: periodic (with jitter) during each ``burst_on_s`` of a
    ``burst_on_s + burst_off_s`` cycle; trace: the file's timestamps (seconds).
    """
    horizon = w.duration_s * 1e9
    period = 1e9 / w.rate_hz
    rng = np.random.default_rng([seed, index])
    half = w.jitter_ms * 1e6 / 2
    if w.arrival == "trace":
        times = sorted(t * 1e9 for t in read_arrival_trace(w.arrival_trace))
        yield from (t for t in times if 0 <= t < horizon)
        return
    if w.arrival == "poisson":
        t = 0.0
        while t < horizon:
            yield t
            t += rng.exponential(period)
        return
    on = w.burst_on_s * 1e9 if w.arrival == "bursty" else horizon
    cycle = on + (w.burst_off_s * 1e9 if w.arrival == "bursty" else 0.0)
    start, last = 0.0, 0.0
    while start < horizon:
        k = 0  # k / rate, not a running sum: 60 arrivals at 30 Hz fill 2 s, not 61
        while (off := k * 1e9 / w.rate_hz) < on and start + off < horizon:
            x = start + off
            if half:
                x = max(last, x + rng.uniform(-half, half))  # arrivals stay in order
            last = x
            yield x
            k += 1
        start += cycle


def read_arrival_trace(path: str) -> list[float]:
    """Arrival times (s) from a text file: one number per line; blank lines and '#' comments
    skipped.

    Raises:
        ConfigError: a line that is not a finite, non-negative number (file and line named).
    """
    times = []
    for n, line in enumerate(Path(path).read_text().splitlines(), 1):
        text = line.split("#", 1)[0].strip()
        if not text:
            continue
        try:
            t = float(text)
        except ValueError:
            t = float("nan")
        if not np.isfinite(t) or t < 0:
            raise ConfigError(Problem(f"{text!r} is not an arrival time: give one time in "
                                      "seconds >= 0 per line", file=path, line=n))
        times.append(t)
    return times
