"""Arrivals: closed- and open-loop workloads start inferences; an inference places its inputs,
starts the ops whose inputs are ready, waits for its outputs and frees its slot.

Part of :class:`socsim.sim.engine.Simulation` (a mixin: the engine's state lives there).
docs/model.md, "Workloads".
"""

from __future__ import annotations

from functools import partial

import numpy as np
import simpy

from socsim.errors import SimulationError
from socsim.sim.program import Inference, Program, queue_key
from socsim.sim.trace import InferenceRecord


class Arrivals:
    """The processes that start inferences and see them through."""

    def _closed_loop(self, prog: Program, count: int, in_flight: int):
        slots = simpy.Resource(self.env, capacity=in_flight)
        for i in range(count):
            req = slots.request()
            yield req
            self.env.process(self._inference(prog, i, self.env.now, slots, req))
        self._arrivals_open -= 1

    def _open_loop(self, prog: Program):
        w = prog.workload
        slots = simpy.Resource(self.env, capacity=w.max_in_flight)
        horizon = w.duration_s * 1e9
        period = 1e9 / w.rate_hz
        rng = np.random.default_rng([self.settings.seed, prog.index])
        t, i = 0.0, 0
        while t < horizon:
            yield self.env.timeout(round(t) - self.env.now)
            self.env.process(self._admit(prog, i, slots))
            i += 1
            t += rng.exponential(period) if w.arrival == "poisson" else period
        self._arrivals_open -= 1
        self._timed_arrivals -= 1

    def _admit(self, prog: Program, index: int, slots: simpy.Resource):
        """An open-loop arrival waits (queued, FIFO) for one of the workload's slots."""
        arrival = self.env.now
        req = slots.request()
        yield req
        yield from self._inference(prog, index, arrival, slots, req)

    def _inference(self, prog: Program, index: int, arrival: int, slots: simpy.Resource,
                   req: simpy.Event):
        """One inference: place its inputs, start its ops, wait for its outputs, free its slot."""
        env = self.env
        inf = Inference(env, prog, index, queue_key(self.queue, prog.workload, arrival))
        self._started += 1
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
        deadline = prog.workload.deadline_ms
        self.trace.inferences.append(InferenceRecord(
            prog.name, index, arrival, env.now,
            None if deadline is None else arrival + round(deadline * 1e6)))
        for t in prog.outputs:
            self._unref(inf, t)
        slots.release(req)
        if not self._arrivals_open and len(self.trace.inferences) == self._started:
            self._done = True

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
