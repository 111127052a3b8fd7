"""``greedy_eft``: list scheduling, each op to the unit where it finishes earliest.

Ops are taken in topological order; for each candidate unit that runs the op (type, dtype
and attributes, :mod:`socsim.policies.compat`), the finish time is ``max(engine free, inputs
ready + transfer + conversion) + reconfiguration + run time``, with transfers estimated as one
DMA from the producer's home memory when the candidate cannot address it, conversions when the
producer writes another layout (docs/model.md, "Layouts"), a reconfiguration when a
reconfigurable candidate's configuration for the op (an FPGA's kernel) is not resident
(residency tracked as ops are placed, with the unit kind's model), and run times from the cost model at each unit's operating point in
force (the scenario's ``run.operating_points`` or a governor's starting point).

Bandwidth sharing: each DRAM's bandwidth is shared by the ops that stream from it at once, as
in the engine (max-min fair flows). An op already placed books its average DRAM rate over its
interval; a candidate starting while others stream gets what they leave, but never less than
an equal share (``bw / (flows + 1)``, what max-min fairness guarantees), and its memory time
stretches accordingly. Ties go to the unit declared first.
"""

from __future__ import annotations

from pydantic import Field

from socsim.config.soc import SoC
from socsim.errors import PlacementError
from socsim.graph.ir import Graph
from socsim.hw.cost import memory_ns_of
from socsim.hw.kind import configuration_of, reconfigurable
from socsim.policies.base import PlacementPolicy, Plan, PolicyParams, require_units
from socsim.policies.estimate import Estimator
from socsim.policies.registry import register_policy


class GreedyEftParams(PolicyParams):
    units: list[str] | None = None
    """Restrict the candidates to these units (default: all)."""
    reconfig_amortised_over: int = Field(1, ge=1)
    """Inferences a kernel load is spread over: 1 charges each FPGA reconfiguration in full to
    the one inference planned; a long run whose kernels stay resident pays a load once, so
    planning for N inferences charges 1/N of it."""
    share_bandwidth: bool = True
    """Stretch an op's DRAM time by the DRAM bandwidth ops placed before it use meanwhile."""

    def check(self, soc: SoC):
        return require_units(soc, self.units or [], ("units",))


class DramBookings:
    """Per DRAM, the average rates of the streams already planned, as (start, end, GB/s)."""

    def __init__(self, soc: SoC):
        self.bw = {n: m.bw_gbps for n, m in soc.memories.items() if m.kind == "dram"}
        self.flows: dict[str, list[tuple[float, float, float]]] = {n: [] for n in self.bw}

    def dram_ns(self, mem: str, nbytes: int, start: float) -> float:
        """Time ``nbytes`` take from ``mem`` for a stream starting at ``start``."""
        bw = self.bw[mem]
        live = [r for s, e, r in self.flows[mem] if s <= start < e]
        avail = max(bw - sum(live), bw / (len(live) + 1))
        return nbytes / avail

    def book(self, mem: str, nbytes: int, start: float, end: float) -> None:
        if end > start:
            self.flows[mem].append((start, end, nbytes / (end - start)))


@register_policy
class GreedyEft(PlacementPolicy):
    """Earliest-finish-time list scheduling over one inference."""

    name = "greedy_eft"
    Params = GreedyEftParams

    def place(self, graph: Graph, soc: SoC) -> Plan:
        est = Estimator(graph, soc)
        names = self.params.units or list(soc.units)
        engines = {u: [0.0] * soc.units[u].engines for u in names}
        ready: dict[str, tuple[float, str | None]] = {t: (0.0, None) for t in graph.inputs}
        fabrics = {u: lib for u in names if (lib := reconfigurable(soc.units[u])) is not None}
        dram = DramBookings(soc)
        units = []
        for i, op in enumerate(graph.ops):
            best = None
            for uname in est.candidates(i, names):
                unit = soc.units[uname]
                at = 0.0
                for t in op.inputs:
                    t_ready, producer = ready.get(t, (0.0, None))
                    at = max(at, t_ready + est.edge_ns(t, producer, uname))
                start = max(at, min(engines[uname]))
                fabric = fabrics.get(uname)
                if fabric is not None:
                    kernel = configuration_of(unit, op, graph)
                    if kernel is not None and not fabric.is_resident(kernel):
                        start += (fabric.reconfig_cost(kernel)[0]
                                  / self.params.reconfig_amortised_over)
                c_ns, sram_ns, streams = est.parts(i, uname)
                if self.params.share_bandwidth:
                    dram_ns = max((dram.dram_ns(m, nb, start) for m, nb in streams.items()),
                                  default=0.0)
                    mem_ns = memory_ns_of(unit, sram_ns, dram_ns)
                    run = max(c_ns, mem_ns)
                else:
                    run = est.run_ns(i, uname)
                finish = start + run
                if best is None or finish < best[0]:
                    best = (finish, uname, start, streams)
            if best is None:
                raise PlacementError(f"no candidate unit supports op {op.name!r} "
                                     f"({op.op_type}, {op.dtype}); candidates: {names}")
            finish, uname, start, streams = best
            for m, nb in streams.items():
                dram.book(m, nb, start, finish)
            kernel = configuration_of(soc.units[uname], op, graph)
            if uname in fabrics and kernel is not None:
                fabrics[uname].load(kernel)
            slots = engines[uname]
            slots[slots.index(min(slots))] = finish
            for t in op.outputs:
                ready[t] = (finish, uname)
            units.append(uname)
        return Plan(tuple(units))
