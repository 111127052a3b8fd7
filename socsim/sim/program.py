"""Workloads compiled for the engine: tensors as integer ids, ops as fixed records."""

from __future__ import annotations

import re
from dataclasses import dataclass

import simpy

from socsim.config.scenario import Workload
from socsim.config.soc import SoC
from socsim.graph.ir import Graph
from socsim.hw.cost import activation_channels, op_cost, padded_bytes, read_pj
from socsim.hw.kind import configuration_of
from socsim.policies.base import Plan
from socsim.sim.stations import UnitState


@dataclass(frozen=True)
class Job:
    """One workload ready to simulate: its settings, its graph and where its ops run."""

    workload: Workload
    graph: Graph
    plan: Plan


class OpSpec:
    """Everything about one op that does not change during the run, computed once.

    ``dyn_nom_pj`` is the dynamic energy at the unit's nominal voltage; the engine scales it by
    the unit's (V / V_nom)^2 when the op starts, and turns ``cycles`` into time at the unit's
    frequency then. ``w_cost`` is (SRAM pJ, DRAM pJ) of reading the weights from
    ``weights_in``; with a ``weights_cache`` (``wcache``, segment ``wkey``, paged in by DMA
    engine ``wengine``), ``wc_cost`` is the same read from the cache (their time: the
    engine's ``_traffic``, with :func:`socsim.hw.cost.memory_time`). ``kernel`` names the
    configuration the op needs resident on a reconfigurable unit (the unit kind's
    :meth:`~socsim.hw.kind.UnitKind.configuration`: an FPGA library's kernel; None: none).
    ``wpool`` is the pool of ``weights_in`` (the ledger counts weight reads there when the
    weights are not read from the cache).
    ``need`` is, per input, the (layout, channel alignment) it must be read in (the unit's
    format; None: any, for tensors that are not 4-D).
    """

    __slots__ = ("name", "op_type", "dtype", "unit", "inputs", "outputs", "in_bytes",
                 "out_bytes", "traffic", "weight_bytes", "w_cost", "wcache", "wkey", "wpin",
                 "wengine", "wc_cost", "cycles", "macs", "util", "dyn_nom_pj", "in_total",
                 "out_total", "traffic_cost", "kernel", "need", "wpool")


class Program:
    """One workload compiled for the engine."""

    def __init__(self, index: int, job: Job, soc: SoC, units: dict[str, UnitState]):
        g = job.graph
        self.index = index
        self.name = job.workload.name
        self.workload = job.workload
        #: the workload's primary program when this is one of its other variants (started by
        #: the runtime manager, never by an arrival process), else None
        self.variant_of: Program | None = None
        names = list(g.inputs)
        seen = set(names)
        for op in g.ops:
            for t in (*op.inputs, *op.outputs):
                if t not in seen:
                    seen.add(t)
                    names.append(t)
        self.tensor_names = names
        tid = {n: i for i, n in enumerate(names)}
        self.nbytes = [g.tensors[n].nbytes for n in names]
        # layouts: channels of each 4-D tensor (0: not 4-D), the (layout, channel alignment)
        # it is stored in (its producer's; None for graph inputs: they arrive as the reader
        # wants), and its stored size (channels padded to the producer's alignment)
        self.logical_bytes = list(self.nbytes)
        self.channels = [activation_channels(g.tensors[n]) for n in names]
        self.elements = [g.tensors[n].size for n in names]
        self.dtypes = [g.tensors[n].dtype for n in names]
        self.fmt: list[tuple[str, int] | None] = [None] * len(names)
        self.inputs = [tid[n] for n in g.inputs]
        self.outputs = [tid[n] for n in g.outputs]
        self.refs = [0] * len(names)
        self.producer: list[str | None] = [None] * len(names)
        self.specs: list[OpSpec] = []
        groups = job.plan.groups
        launched: set[int] = set()  # launch groups whose first op has been compiled
        for i_op, (op, uname) in enumerate(zip(g.ops, job.plan.units)):
            state = units[uname]
            unit = state.unit
            s = OpSpec()
            s.name, s.op_type, s.dtype, s.unit = op.name, op.op_type, op.dtype, state
            s.inputs = tuple(tid[t] for t in op.inputs)
            s.outputs = tuple(tid[t] for t in op.outputs)
            fmt = (unit.layout, unit.channel_align)
            s.need = tuple(fmt if self.channels[t] else None for t in s.inputs)
            for t in s.outputs:
                if self.channels[t]:
                    self.fmt[t] = fmt
                    self.nbytes[t] = self.stored_bytes(t, fmt)
            # what the op reads and writes, its cycles and energy: the one cost model's
            # record (socsim.hw.cost), as every policy's estimate sees it
            cost = op_cost(unit, op, g, unit.dvfs.nominal)
            s.in_bytes, s.out_bytes = cost.in_bytes, cost.out_bytes
            s.traffic = 1 if cost.moves else 0  # a view moves no bytes itself
            # the bytes its record reports: those it moves (none for a view)
            s.in_total = sum(s.in_bytes) if s.traffic else 0
            s.out_total = sum(s.out_bytes) if s.traffic else 0
            s.traffic_cost = {}  # (memories it touched) -> cost, filled by the engine
            s.weight_bytes = cost.weight_bytes
            s.w_cost = read_pj(soc.memories[unit.weights_in], s.weight_bytes)
            s.wpool = next(p for p in state.pools if p.name == unit.weights_in)
            s.wcache, s.wkey, s.wpin, s.wengine, s.wc_cost = None, (index, len(self.specs)), \
                False, None, None
            if unit.weights_cache and s.weight_bytes:
                pool = next(p for p in state.pools if p.name == unit.weights_cache)
                if pool.footprint(s.weight_bytes) <= pool.capacity:  # else: streamed
                    s.wcache = pool.cache
                    s.wpin = any(re.fullmatch(p, op.name) for p in job.workload.pin_weights)
                    s.wengine = soc.dma_between(unit.weights_in, unit.weights_cache)
                    s.wc_cost = read_pj(soc.memories[unit.weights_cache], s.weight_bytes)
            # a reconfigurable unit runs the op once its configuration is resident
            s.kernel = configuration_of(unit, op, g)
            s.cycles = cost.cycles
            if groups is not None:  # one launch per group: its first op pays the overhead
                if groups[i_op] in launched:
                    s.cycles -= unit.launch_overhead_cycles
                launched.add(groups[i_op])
            s.macs, s.util = op.macs, cost.utilisation
            s.dyn_nom_pj = cost.dynamic_pj
            for t in s.inputs:
                self.refs[t] += 1
            for t in s.outputs:
                self.producer[t] = uname
            self.specs.append(s)
        for t in self.outputs:
            self.refs[t] += 1
        # dataflow: an op starts once each of its distinct inputs is ready
        self.consumers: list[list[int]] = [[] for _ in names]
        self.deps = []
        for i, s in enumerate(self.specs):
            distinct = dict.fromkeys(s.inputs)
            for t in distinct:
                self.consumers[t].append(i)
            self.deps.append(len(distinct))
        self.sources = [i for i, d in enumerate(self.deps) if not d]
        # weight prefetch: per op, the next ops of its unit (graph order) whose weights are
        # paged into the same cache, as many as the unit's weights_prefetch
        self.prefetch: list[tuple[int, ...]] = []
        for i, s in enumerate(self.specs):
            depth = s.unit.unit.weights_prefetch if s.wcache is not None else 0
            later = [j for j in range(i + 1, len(self.specs))
                     if self.specs[j].unit is s.unit and self.specs[j].wcache is s.wcache]
            self.prefetch.append(tuple(later[:depth]))

    def stored_bytes(self, t: int, fmt: tuple[str, int]) -> int:
        """Bytes of 4-D tensor ``t`` stored in ``fmt``: channels padded to its alignment."""
        return padded_bytes(self.logical_bytes[t], self.channels[t], fmt[1])


def queue_key(queue: str, workload: Workload, arrival: int) -> float:
    """The key an inference's ops wait with in a unit's queue (lower first): 0 for FIFO; minus
    the workload's ``priority`` (higher priority first); for EDF, the absolute deadline in ns
    (``arrival + deadline_ms``; no deadline: last)."""
    if queue == "priority":
        return -workload.priority
    if queue == "edf":
        d = workload.deadline_ms
        return float("inf") if d is None else arrival + round(d * 1e6)
    return 0


class Inference:
    """The state of one inference in flight (``key``: its ops' key in the units' queues)."""

    __slots__ = ("prog", "index", "outputs", "waiting", "locs", "refs", "pending", "key")

    def __init__(self, env: simpy.Environment, prog: Program, index: int, key: float = 0):
        self.prog = prog
        self.index = index
        self.key = key
        self.outputs = {t: env.event() for t in prog.outputs}  # succeed when produced
        self.waiting = list(prog.deps)  # per op: inputs not ready yet
        #: per tensor: its copies as (memory, owner unit or None, footprint, format or None)
        self.locs: list[list[tuple[str, str | None, int, tuple[str, int] | None]]] = [
            [] for _ in prog.tensor_names]
        self.refs = list(prog.refs)
        self.pending: dict[tuple[int, str], simpy.Event] = {}
