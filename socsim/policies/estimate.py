"""What the search policies plan with: one graph's op, transfer and energy estimates from the
one cost model (:mod:`socsim.hw.cost`, :mod:`socsim.hw.estimate`), cached, and a plan's
estimated latency and energy for one inference.

Estimates are taken at each unit's operating point in force: the scenario's
(``run.operating_points``, a governor's starting point), which :func:`at_points` writes into
the SoC the policy sees as each unit's ``dvfs.default_mhz``, or a point the policy itself is
trying (``energy_aware``).

Energy of a plan (pJ): each op's dynamic energy at its unit's voltage, its operand bytes
(inputs and outputs in the unit's home memory, weights in ``weights_in``) at the memories'
pJ/byte, each DMA copy's bytes at the engine's, the source's read and the destination's write
pJ/byte, and the leakage of every unit (at its point's voltage) and memory over the plan's
latency.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import cache
from math import inf

from socsim.config.soc import SoC
from socsim.graph.ir import Graph
from socsim.hw.cost import converter, memory_time, op_cost
from socsim.hw.estimate import convert_estimate_ns, input_memory, transfer_estimate_ns
from socsim.hw.timing import compute_ns, leakage_mw
from socsim.policies.compat import supports

__all__ = ["Estimator", "at_points", "contiguous_groups", "points_in_force"]


def at_points(soc: SoC, points: Mapping[str, float]) -> SoC:
    """``soc`` with each named unit's ``dvfs.default_mhz`` set to ``points[unit]`` (the point
    the estimates then use); unchanged when ``points`` is empty."""
    if not points:
        return soc
    units = dict(soc.units)
    for name, freq in points.items():
        unit = units[name]
        units[name] = unit.model_copy(update={"dvfs": unit.dvfs.model_copy(
            update={"default_mhz": freq})})
    return soc.model_copy(update={"units": units})


def points_in_force(soc: SoC, run) -> dict[str, float]:
    """Unit -> the freq_mhz a run starts it at, where that is not its default point: the
    governor's starting point, else ``run.operating_points`` (:func:`socsim.hw.dvfs.initial_mhz`,
    as the engine starts it). ``run``: the scenario's :class:`RunSettings`."""
    from socsim.hw.dvfs import initial_mhz
    from socsim.hw.governors import available_governors

    known = available_governors()
    points = {}
    for name, unit in soc.units.items():
        gov = run.governors.get(name)
        if gov is not None and gov.name not in known:
            gov = None  # reported, located, by the scenario check
        freq = initial_mhz(gov, unit.dvfs, run.operating_points.get(name))
        if freq != unit.dvfs.default.freq_mhz:
            points[name] = freq
    return points


class Estimator:
    """Cached estimates of one graph on one SoC (at the units' default points).

    Args:
        graph: the model.
        soc: the device, operating points already in ``dvfs.default_mhz`` (:func:`at_points`).
    """

    def __init__(self, graph: Graph, soc: SoC):
        self.graph = graph
        self.soc = soc
        self.ops = graph.ops
        self.producer = graph.producer()
        self.consumers = graph.consumers()
        self.input_memory = input_memory(soc)
        self.run_ns = cache(self._run_ns)
        self.edge_ns = cache(self._edge_ns)
        self.op_pj = cache(self._op_pj)
        self.edge_pj = cache(self._edge_pj)
        self.ok = cache(lambda i, u: supports(soc.units[u], graph.ops[i], graph))

    def candidates(self, i: int, names: Sequence[str] | None = None) -> list[str]:
        """Units (of ``names``, default all) that run op ``i``."""
        return [u for u in (names or self.soc.units) if self.ok(i, u)]

    def launch_ns(self, unit: str) -> float:
        """The unit's per-launch overhead at its point."""
        u = self.soc.units[unit]
        return compute_ns(u.launch_overhead_cycles, u.dvfs.default.freq_mhz)

    def _run_ns(self, i: int, unit: str, in_mems: tuple[str, ...] | None = None) -> float:
        u = self.soc.units[unit]
        return op_cost(u, self.ops[i], self.graph).run_ns(self.soc, u, in_mems)

    def launch_saving_ns(self, i: int, unit: str, in_mems: tuple[str, ...] | None = None
                         ) -> float:
        """How much shorter op ``i`` runs when it shares its launch with the op before it (its
        compute loses the launch cycles, the roofline may keep it memory-bound), as the
        engine times it."""
        u = self.soc.units[unit]
        cost = op_cost(u, self.ops[i], self.graph)
        memory = cost.memory_ns(self.soc, u, in_mems)
        return max(cost.compute_ns, memory) - max(cost.compute_ns - self.launch_ns(unit),
                                                  memory)

    def in_mems(self, i: int, unit: str, writer_of) -> tuple[str, ...]:
        """Where op ``i`` on ``unit`` reads each input, as the engine does: in place where
        its writer (``writer_of(tensor)``, None for a graph input) left it, when the unit
        addresses that memory; else from the copy in its home memory."""
        u = self.soc.units[unit]
        mems = []
        for t in self.ops[i].inputs:
            src = self.src_memory(writer_of(t))
            mems.append(src if src in u.memories else u.memories[0])
        return tuple(mems)

    def parts(self, i: int, unit: str) -> tuple[float, float, dict[str, int]]:
        """(compute ns, SRAM ns, bytes per DRAM) of op ``i`` on ``unit`` with its operands in
        the unit's home memory: the roofline's pieces (:meth:`OpCost.memory_ns`)."""
        u = self.soc.units[unit]
        cost = op_cost(u, self.ops[i], self.graph)
        home = u.memories[0]
        operands = [(u.weights_in, cost.weight_bytes)]
        if cost.moves:
            operands += [(home, nb) for nb in (*cost.in_bytes, *cost.out_bytes)]
        sram_ns, dram = memory_time(self.soc.memories, operands)
        return cost.compute_ns, sram_ns, {m: nb for m, nb in dram.items() if nb}

    def src_memory(self, writer: str | None) -> str:
        """Where a tensor is read from: its writer's home memory, or the inputs' memory."""
        return self.soc.units[writer].memories[0] if writer else self.input_memory

    def _edge_ns(self, t: str, writer: str | None, reader: str) -> float:
        tensor = self.graph.tensors[t]
        unit = self.soc.units[reader]
        return (transfer_estimate_ns(self.soc, self.src_memory(writer), unit, tensor)
                + convert_estimate_ns(self.soc, writer, reader, tensor))

    def _op_pj(self, i: int, unit: str, in_mems: tuple[str, ...] | None = None) -> float:
        u = self.soc.units[unit]
        cost = op_cost(u, self.ops[i], self.graph)
        mems = self.soc.memories
        home = mems[u.memories[0]]
        pj = cost.dynamic_pj + cost.weight_bytes * mems[u.weights_in].read_pj_per_byte
        if cost.moves:
            reads = in_mems or (u.memories[0],) * len(cost.in_bytes)
            pj += sum(nb * mems[m].read_pj_per_byte for nb, m in zip(cost.in_bytes, reads))
            pj += sum(cost.out_bytes) * home.write_pj_per_byte
        return pj

    def _edge_pj(self, t: str, writer: str | None, reader: str) -> float:
        return self._copy_pj(t, writer, reader) + self._convert_pj(t, writer, reader)

    def _copy_pj(self, t: str, writer: str | None, reader: str) -> float:
        src = self.src_memory(writer)
        unit = self.soc.units[reader]
        if src in unit.memories:
            return 0.0
        nbytes = self.graph.tensors[t].nbytes
        for dst in unit.memories:
            engine = self.soc.dma_between(src, dst)
            if engine is not None:
                mems = self.soc.memories
                return nbytes * (self.soc.dma[engine].energy_pj_per_byte
                                 + mems[src].read_pj_per_byte + mems[dst].write_pj_per_byte)
        return 0.0

    def _convert_pj(self, t: str, writer: str | None, reader: str) -> float:
        """A layout conversion's energy as the engine charges it: one elementwise op per
        element on the converter at its voltage, plus reading and writing the tensor."""
        tensor = self.graph.tensors[t]
        if writer is None or not 0 < convert_estimate_ns(self.soc, writer, reader, tensor) < inf:
            return 0.0
        who = self.soc.units[converter(self.soc, writer, reader)]
        scale = (who.dvfs.default.voltage_v / who.dvfs.nominal.voltage_v) ** 2
        pj = tensor.size * who.power.energy_pj_per_op.get(tensor.dtype, 0.0) * scale
        home = self.soc.memories[who.memories[0]]
        return pj + tensor.nbytes * (home.read_pj_per_byte + home.write_pj_per_byte)

    def leakage_mw(self) -> float:
        """Static power of every unit (at its point) and memory, mW (pJ per ns)."""
        units = sum(leakage_mw(u, u.dvfs.default) for u in self.soc.units.values())
        return units + sum(m.leakage_mw for m in self.soc.memories.values())

    def writer(self, t: str, units: Sequence[str]) -> str | None:
        """The unit that writes tensor ``t`` under ``units`` (None: a graph input)."""
        p = self.producer.get(t)
        return None if p is None else units[p]

    def evaluate(self, units: Sequence[str], groups: Sequence[int] | None = None
                 ) -> tuple[float, float]:
        """(latency ns, energy pJ) of one inference placed as ``units``: a list schedule in
        graph order (each op starts when an engine of its unit is free and its inputs are
        there, copied and converted), with one launch overhead per group when ``groups`` is
        given; energy as the module says. Infinite when a hand-off has no route."""
        soc = self.soc
        free = {u: [0.0] * soc.units[u].engines for u in set(units)}
        ready: dict[str, float] = {}
        seen: set[int] = set()
        energy = 0.0
        span = 0.0
        for i, (op, u) in enumerate(zip(self.ops, units)):
            at = 0.0
            for t in op.inputs:
                w = self.writer(t, units)
                at = max(at, ready.get(t, 0.0) + self.edge_ns(t, w, u))
                energy += self.edge_pj(t, w, u)
            mems = self.in_mems(i, u, lambda t: self.writer(t, units))
            run = self.run_ns(i, u, mems)
            if groups is not None:
                if groups[i] in seen:
                    run -= self.launch_saving_ns(i, u, mems)
                seen.add(groups[i])
            slots = free[u]
            k = slots.index(min(slots))
            finish = max(at, slots[k]) + run
            slots[k] = finish
            for t in op.outputs:
                ready[t] = finish
            span = max(span, finish)
            energy += self.op_pj(i, u, mems)
        return span, energy + self.leakage_mw() * span


def contiguous_groups(units: Sequence[str]) -> tuple[int, ...]:
    """One launch group per maximal run of consecutive ops (graph order) on one unit."""
    groups, g = [], -1
    for i, u in enumerate(units):
        if i == 0 or u != units[i - 1]:
            g += 1
        groups.append(g)
    return tuple(groups)
