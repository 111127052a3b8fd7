"""The SimPy engine: units, DMA engines and memories as resources; ops as processes.

Per inference, every op is a process that waits for its inputs, brings each one into a memory
its unit can read (in place when it already can: a zero-copy hand-off; else a DMA transfer
that holds an engine channel for ``setup + bytes / bw``), allocates its outputs in the first
of its unit's memories with room, holds one of the unit's engines for the roofline time of
:mod:`socsim.hw.estimate`, records its energy, and frees every tensor no one reads any more.

Only this package knows SimPy. Time is integer nanoseconds.
"""

from __future__ import annotations

from dataclasses import dataclass
from math import ceil

import numpy as np
import simpy

from socsim.config.scenario import RunSettings, Workload
from socsim.config.soc import SoC
from socsim.errors import PlacementError, SimulationError
from socsim.graph.cost import VIEW_OPS
from socsim.graph.ir import Graph
from socsim.hw.base import op_cycles
from socsim.hw.estimate import input_memory
from socsim.hw.timing import compute_ns, dynamic_pj, leakage_mw, transfer_ns
from socsim.policies.base import Plan
from socsim.sim.memory import MemoryPool
from socsim.sim.trace import Trace


@dataclass(frozen=True)
class Job:
    """One workload ready to simulate: its settings, its graph and where its ops run."""

    workload: Workload
    graph: Graph
    plan: Plan


class _Station:
    """A resource with numbered slots (a unit's engines or a DMA engine's channels)."""

    __slots__ = ("name", "res", "free")

    def __init__(self, env: simpy.Environment, name: str, slots: int):
        self.name = name
        self.res = simpy.Resource(env, capacity=slots)
        self.free = list(range(slots))

    def take(self) -> int:
        self.free.sort()
        return self.free.pop(0)


class _UnitState(_Station):
    __slots__ = ("pools", "home", "freq_mhz", "voltage_v", "static_mw_per_engine", "unit")

    def __init__(self, env, name, unit, point, pools):
        super().__init__(env, name, unit.engines)
        self.unit = unit
        self.pools = [pools[m] for m in unit.memories]
        self.home = unit.memories[0]
        self.freq_mhz = point.freq_mhz
        self.voltage_v = point.voltage_v
        self.static_mw_per_engine = leakage_mw(unit, point) / unit.engines


class _OpSpec:
    """Everything about one op that does not change during the run, computed once."""

    __slots__ = ("name", "op_type", "dtype", "unit", "inputs", "outputs", "in_bytes",
                 "out_bytes", "traffic", "weight_bytes", "weight_ns", "weight_pj", "compute_ns", "cycles",
                 "macs", "util", "dyn_pj")


class _Program:
    """A workload compiled for the engine: tensors as integer ids, ops as :class:`_OpSpec`."""

    def __init__(self, index: int, job: Job, soc: SoC, units: dict[str, _UnitState]):
        g = job.graph
        self.index = index
        self.name = job.workload.name
        self.workload = job.workload
        names = list(g.inputs)
        for op in g.ops:
            names += [t for t in (*op.inputs, *op.outputs) if t not in names]
        self.tensor_names = names
        tid = {n: i for i, n in enumerate(names)}
        self.nbytes = [g.tensors[n].nbytes for n in names]
        self.inputs = [tid[n] for n in g.inputs]
        self.outputs = [tid[n] for n in g.outputs]
        self.refs = [0] * len(names)
        self.producer: list[str | None] = [None] * len(names)
        self.specs: list[_OpSpec] = []
        for op, uname in zip(g.ops, job.plan.units):
            state = units[uname]
            unit = state.unit
            point = unit.dvfs.point(state.freq_mhz)
            cyc = op_cycles(unit, op, g)
            s = _OpSpec()
            s.name, s.op_type, s.dtype, s.unit = op.name, op.op_type, op.dtype, state
            s.inputs = tuple(tid[t] for t in op.inputs)
            s.outputs = tuple(tid[t] for t in op.outputs)
            s.in_bytes = tuple(self.nbytes[t] for t in s.inputs)
            s.out_bytes = tuple(self.nbytes[t] for t in s.outputs)
            s.traffic = 0 if op.op_type in VIEW_OPS else 1  # a view moves no bytes itself
            s.weight_bytes = g.bytes_of(op.weights)
            wmem = soc.memories[unit.weights_in]
            s.weight_ns = s.weight_bytes / wmem.bw_gbps
            s.weight_pj = s.weight_bytes * wmem.read_pj_per_byte
            s.cycles = cyc.compute
            s.compute_ns = compute_ns(cyc.compute, point.freq_mhz)
            s.macs, s.util = op.macs, cyc.utilisation
            s.dyn_pj = dynamic_pj(unit, op, point)
            for t in s.inputs:
                self.refs[t] += 1
            for t in s.outputs:
                self.producer[t] = uname
            self.specs.append(s)
        for t in self.outputs:
            self.refs[t] += 1


class _Inference:
    """The state of one inference in flight."""

    __slots__ = ("prog", "index", "ready", "locs", "refs", "pending")

    def __init__(self, env: simpy.Environment, prog: _Program, index: int):
        self.prog = prog
        self.index = index
        self.ready = [env.event() for _ in prog.tensor_names]
        self.locs: list[list[tuple[str, str | None, int]]] = [[] for _ in prog.tensor_names]
        self.refs = list(prog.refs)
        self.pending: dict[tuple[int, str], simpy.Event] = {}


class Simulation:
    """One run of a set of jobs on a SoC.

    Args:
        soc: the device.
        jobs: the workloads with their graphs and plans.
        settings: the scenario's run settings (seed, operating points, zero-copy switch).
    """

    def __init__(self, soc: SoC, jobs: list[Job], settings: RunSettings):
        self.soc = soc
        self.settings = settings
        self.env = simpy.Environment()
        self.trace = Trace()
        self.pools = {name: MemoryPool(name, m.size_bytes, m.page_bytes)
                      for name, m in soc.memories.items()}
        self.units: dict[str, _UnitState] = {}
        for name, unit in soc.units.items():
            freq = settings.operating_points.get(name)
            point = unit.dvfs.point(freq) if freq is not None else unit.dvfs.default
            self.units[name] = _UnitState(self.env, name, unit, point, self.pools)
        self.dma = {name: _Station(self.env, name, e.channels) for name, e in soc.dma.items()}
        self.input_memory = input_memory(soc)
        self.programs = [_Program(i, job, soc, self.units) for i, job in enumerate(jobs)]
        for job in jobs:
            self._check_routes(job)
            self.trace.notes += list(job.plan.notes)
        self._freed = self.env.event()  # succeeds (and is renewed) whenever memory is freed
        self._started = 0

    def _check_routes(self, job: Job) -> None:
        """Every hand-off the plan implies must be addressable or have a DMA route."""
        producer_mem = {t: self.input_memory for t in job.graph.inputs}
        problems = []
        for op, uname in zip(job.graph.ops, job.plan.units):
            unit = self.soc.units[uname]
            for t in op.inputs:
                src = producer_mem[t]
                if src in unit.memories:
                    continue
                if not any(self.soc.dma_between(src, dst) for dst in unit.memories):
                    problems.append(f"{job.workload.name}: op {op.name!r} on {uname!r} reads "
                                    f"{t!r} from {src!r}, which {uname!r} cannot address and no "
                                    f"DMA engine connects to its memories {unit.memories}")
            for t in op.outputs:
                producer_mem[t] = unit.memories[0]
        if problems:
            raise PlacementError(problems[:5], hint="add a DMA engine or a memory link in the "
                                 "device file, or place the ops differently")

    # -- processes -------------------------------------------------------------------------

    def run(self) -> Trace:
        """Simulate every workload to completion and return the trace."""
        env = self.env
        for prog in self.programs:
            w = prog.workload
            if w.inferences is not None:
                env.process(self._closed_loop(prog, w.inferences, w.max_in_flight))
            else:
                env.process(self._open_loop(prog))
        try:
            env.run()
        except SimulationError as exc:  # SimPy re-raises a copy; surface ours with its hint
            raise exc.__cause__ if isinstance(exc.__cause__, SimulationError) else exc from None
        if len(self.trace.inferences) < self._started:
            full = [f"{p.name} {p.used}/{p.capacity} bytes in use" for p in self.pools.values()
                    if p.used]
            raise SimulationError(
                f"deadlock: {self._started - len(self.trace.inferences)} inference(s) could not "
                f"finish: every one waits for memory another holds ({'; '.join(full)})",
                hint="enlarge the memory, lower max_in_flight or the arrival rate, or place ops "
                "on a unit with more memory")
        self._finish()
        return self.trace

    def _closed_loop(self, prog: _Program, count: int, in_flight: int):
        slots = simpy.Resource(self.env, capacity=in_flight)
        for i in range(count):
            req = slots.request()
            yield req
            self.env.process(self._inference(prog, i, self.env.now, slots, req))

    def _open_loop(self, prog: _Program):
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

    def _admit(self, prog: _Program, index: int, slots: simpy.Resource):
        """An open-loop arrival waits (queued, FIFO) for one of the workload's slots."""
        arrival = self.env.now
        req = slots.request()
        yield req
        yield from self._inference(prog, index, arrival, slots, req)

    def _inference(self, prog: _Program, index: int, arrival: int, slots: simpy.Resource,
                   req: simpy.Event):
        """One inference: place its inputs, start its ops, wait for its outputs, free its slot."""
        env = self.env
        inf = _Inference(env, prog, index)
        self._started += 1
        pool = self.pools[self.input_memory]
        for t in prog.inputs:
            size = pool.try_alloc(prog.nbytes[t])
            while not size and prog.nbytes[t]:
                if pool.footprint(prog.nbytes[t]) > pool.capacity:
                    raise SimulationError(f"{prog.name}: input {prog.tensor_names[t]!r} is larger "
                                          f"than {self.input_memory!r}")
                yield self._freed
                size = pool.try_alloc(prog.nbytes[t])
            inf.locs[t].append((self.input_memory, None, size))
            inf.ready[t].succeed()
        for spec in prog.specs:
            env.process(self._op(inf, spec))
        for t in prog.outputs:
            ev = inf.ready[t]
            if ev.callbacks is not None:
                yield ev
        deadline = prog.workload.deadline_ms
        self.trace.inferences.append((prog.name, index, arrival, env.now,
                                      None if deadline is None else arrival + round(deadline * 1e6)))
        for t in prog.outputs:
            self._unref(inf, t)
        slots.release(req)

    def _op(self, inf: _Inference, spec: _OpSpec):
        env = self.env
        ready = inf.ready
        for t in spec.inputs:
            ev = ready[t]
            if ev.callbacks is not None:
                yield ev
        unit = spec.unit
        in_mems = []
        for t in spec.inputs:
            mem = self._readable(inf, t, unit)
            if mem is None:
                mem = yield from self._copy(inf, t, unit)
            in_mems.append(mem)
        out_mems = self._alloc_outputs(inf, spec, unit)
        while out_mems is None:  # no memory of the unit has room: wait until something frees
            yield self._freed
            out_mems = self._alloc_outputs(inf, spec, unit)
        req = unit.res.request()
        yield req
        engine = unit.take()
        start = env.now
        mems = self.soc.memories
        mem_ns = spec.weight_ns
        mem_pj = spec.weight_pj
        if spec.traffic:
            for nb, m in zip(spec.in_bytes, in_mems):
                spec_mem = mems[m]
                mem_ns += nb / spec_mem.bw_gbps
                mem_pj += nb * spec_mem.read_pj_per_byte
            for nb, m in zip(spec.out_bytes, out_mems):
                spec_mem = mems[m]
                mem_ns += nb / spec_mem.bw_gbps
                mem_pj += nb * spec_mem.write_pj_per_byte
        duration = ceil(max(spec.compute_ns, mem_ns))
        yield env.timeout(duration)
        unit.free.append(engine)
        unit.res.release(req)
        self.trace.ops.append((
            inf.prog.name, inf.index, spec.name, spec.op_type, spec.dtype, unit.name, engine,
            start, start + duration, spec.cycles, spec.macs, spec.util, sum(spec.in_bytes),
            spec.weight_bytes, sum(spec.out_bytes), spec.dyn_pj, mem_pj,
            unit.static_mw_per_engine * duration, unit.freq_mhz, unit.voltage_v))
        for t in spec.inputs:
            self._unref(inf, t)
        for t in spec.outputs:
            ready[t].succeed()

    # -- memory and transfers --------------------------------------------------------------

    def _readable(self, inf: _Inference, t: int, unit: _UnitState) -> str | None:
        """A memory holding ``t`` that ``unit`` may read in place, or None (needs a copy)."""
        zero_copy = self.settings.zero_copy
        for mem, owner, _ in inf.locs[t]:
            if mem in unit.unit.memories and (zero_copy or owner is None or owner == unit.name):
                producer = inf.prog.producer[t]
                if producer is not None and producer != unit.name and owner == producer:
                    now = self.env.now
                    self.trace.transfers.append((
                        inf.prog.name, inf.index, inf.prog.tensor_names[t], "zero_copy", mem,
                        mem, inf.prog.nbytes[t], now, now, None, None, 0.0, 0.0))
                return mem
        return None

    def _copy(self, inf: _Inference, t: int, unit: _UnitState):
        """Copy ``t`` by DMA into a memory ``unit`` reads; return that memory's name."""
        key = (t, unit.name if not self.settings.zero_copy else "")
        pending = inf.pending.get(key)
        if pending is not None:
            if pending.callbacks is not None:
                yield pending
            return pending.value
        done = self.env.event()
        inf.pending[key] = done
        nbytes = inf.prog.nbytes[t]
        route = self._route_for(inf, t, unit, nbytes)
        while route is None:  # every reachable memory of the unit is full: wait for a free
            yield self._freed
            route = self._route_for(inf, t, unit, nbytes)
        src, engine_name, dst, size = route
        station = self.dma[engine_name]
        engine = self.soc.dma[engine_name]
        with station.res.request() as req:
            yield req
            channel = station.take()
            start = self.env.now
            duration = transfer_ns(engine, nbytes)
            yield self.env.timeout(duration)
            station.free.append(channel)
        mems = self.soc.memories
        self.trace.transfers.append((
            inf.prog.name, inf.index, inf.prog.tensor_names[t], "dma", src, dst, nbytes, start,
            start + duration, engine_name, channel, nbytes * engine.energy_pj_per_byte,
            nbytes * (mems[src].read_pj_per_byte + mems[dst].write_pj_per_byte)))
        inf.locs[t].append((dst, unit.name, size))
        done.succeed(dst)
        return dst

    def _route_for(self, inf: _Inference, t: int, unit: _UnitState, nbytes: int):
        """(source memory, DMA engine, destination memory, footprint) for copying ``t`` to
        ``unit``, allocating the destination; None when every reachable memory is full."""
        reachable = False
        for dst_pool in unit.pools:
            for src, _, _ in inf.locs[t]:
                engine = self.soc.dma_between(src, dst_pool.name)
                if engine is None or dst_pool.footprint(nbytes) > dst_pool.capacity:
                    continue
                reachable = True
                size = dst_pool.try_alloc(nbytes)
                if size or not nbytes:
                    if dst_pool is not unit.pools[0]:
                        self._count_spill(unit.pools[0], nbytes)
                    return src, engine, dst_pool.name, size
        if not reachable:
            raise SimulationError(
                f"{inf.prog.name}: cannot bring {inf.prog.tensor_names[t]!r} ({nbytes} bytes) to "
                f"unit {unit.name!r}: no DMA engine reaches a memory of it large enough",
                hint="enlarge a memory or add a DMA engine in the device file")
        return None

    def _alloc_outputs(self, inf: _Inference, spec: _OpSpec, unit: _UnitState
                       ) -> list[str] | None:
        """Allocate every output of ``spec`` in the first of the unit's memories with room.

        Returns:
            The memory of each output, or None (nothing allocated) when one fits nowhere.
        """
        placed: list[tuple[int, MemoryPool, int]] = []
        for t, nbytes in zip(spec.outputs, spec.out_bytes):
            for pool in unit.pools:
                size = pool.try_alloc(nbytes)
                if size or not nbytes:
                    placed.append((t, pool, size))
                    break
            else:
                if not any(p.footprint(nbytes) <= p.capacity for p in unit.pools):
                    raise SimulationError(
                        f"{inf.prog.name}: output {inf.prog.tensor_names[t]!r} ({nbytes} bytes) "
                        f"is larger than every memory of {unit.name!r} {unit.unit.memories}",
                        hint="enlarge a memory, or place the op on another unit")
                for _, pool, size in placed:
                    pool.free(size)
                return None
        for t, pool, size in placed:
            if pool is not unit.pools[0]:
                self._count_spill(unit.pools[0], inf.prog.nbytes[t])
            inf.locs[t].append((pool.name, unit.name, size))
        return [pool.name for _, pool, _ in placed]

    def _count_spill(self, preferred: MemoryPool, nbytes: int) -> None:
        self.trace.spills += 1
        self.trace.page_faults += -(-nbytes // preferred.page)

    def _unref(self, inf: _Inference, t: int) -> None:
        inf.refs[t] -= 1
        if inf.refs[t] == 0:
            for mem, _, size in inf.locs[t]:
                self.pools[mem].free(size)
            inf.locs[t] = []
            if self._freed.callbacks:  # someone waits for memory: wake them, re-arm
                self._freed.succeed()
                self._freed = self.env.event()

    def _finish(self) -> None:
        trace = self.trace
        span = self.env.now
        trace.makespan_ns = span
        trace.units = list(self.soc.units)
        trace.dma_engines = list(self.soc.dma)
        op_static: dict[str, float] = {u: 0.0 for u in self.units}
        for rec in trace.ops:
            op_static[rec[5]] += rec[17]
        for name, state in self.units.items():
            total = state.static_mw_per_engine * state.unit.engines * span
            trace.idle_static_pj[name] = total - op_static[name]
            trace.engines[name] = state.unit.engines
        for name, mem in self.soc.memories.items():
            trace.idle_static_pj[name] = mem.leakage_mw * span
            trace.memory_peak_bytes[name] = self.pools[name].peak
            trace.memory_capacity_bytes[name] = self.pools[name].capacity
        for name, engine in self.soc.dma.items():
            trace.engines[name] = engine.channels
