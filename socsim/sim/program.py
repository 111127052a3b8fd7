"""Workloads compiled for the engine: tensors as integer ids, ops as fixed records."""

from __future__ import annotations

from dataclasses import dataclass

import simpy

from socsim.config.scenario import Workload
from socsim.config.soc import SoC
from socsim.graph.cost import VIEW_OPS
from socsim.graph.ir import Graph
from socsim.hw.base import op_cycles
from socsim.hw.timing import dynamic_pj
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
    frequency then.
    """

    __slots__ = ("name", "op_type", "dtype", "unit", "inputs", "outputs", "in_bytes",
                 "out_bytes", "traffic", "weight_bytes", "weight_ns", "weight_pj", "cycles",
                 "macs", "util", "dyn_nom_pj")


class Program:
    """One workload compiled for the engine."""

    def __init__(self, index: int, job: Job, soc: SoC, units: dict[str, UnitState]):
        g = job.graph
        self.index = index
        self.name = job.workload.name
        self.workload = job.workload
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
        self.inputs = [tid[n] for n in g.inputs]
        self.outputs = [tid[n] for n in g.outputs]
        self.refs = [0] * len(names)
        self.producer: list[str | None] = [None] * len(names)
        self.specs: list[OpSpec] = []
        for op, uname in zip(g.ops, job.plan.units):
            state = units[uname]
            unit = state.unit
            s = OpSpec()
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
            cyc = op_cycles(unit, op, g)
            s.cycles = cyc.compute
            s.macs, s.util = op.macs, cyc.utilisation
            s.dyn_nom_pj = dynamic_pj(unit, op, unit.dvfs.nominal)
            for t in s.inputs:
                self.refs[t] += 1
            for t in s.outputs:
                self.producer[t] = uname
            self.specs.append(s)
        for t in self.outputs:
            self.refs[t] += 1


class Inference:
    """The state of one inference in flight."""

    __slots__ = ("prog", "index", "ready", "locs", "refs", "pending")

    def __init__(self, env: simpy.Environment, prog: Program, index: int):
        self.prog = prog
        self.index = index
        self.ready = [env.event() for _ in prog.tensor_names]
        self.locs: list[list[tuple[str, str | None, int]]] = [[] for _ in prog.tensor_names]
        self.refs = list(prog.refs)
        self.pending: dict[tuple[int, str], simpy.Event] = {}
