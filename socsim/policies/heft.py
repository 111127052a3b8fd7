"""``heft``: Heterogeneous Earliest Finish Time list scheduling (Topcuoglu, Hariri and Wu,
IEEE TPDS 13(3), 2002), transfer-aware, over one or several inferences in flight.

1. Costs: an op's mean run time over the units that can run it (:mod:`socsim.policies.compat`),
   and an edge's mean hand-off time (DMA copy and layout conversion, 0 on one unit) over the
   pairs of units its producer and consumer can run on, from the one cost model
   (:class:`socsim.policies.estimate.Estimator`).
2. Upward rank: ``rank(op) = mean run + max over consumers (mean hand-off + rank(consumer))``.
3. Ops are taken by decreasing rank (ties: earlier inference, then graph order) and each goes
   to the unit where it finishes earliest, inserted into the earliest idle gap of one of the
   unit's engines that is long enough (insertion-based EFT) after its inputs arrive.

With ``inferences: N``, N copies of the graph are scheduled together, as N inferences in flight
compete for the units: the first copy of an op to be scheduled chooses its unit, and every
other copy runs there too (a plan maps each op to one unit), so an op's choice sees the load
that the other inferences put on each unit.

HEFT is greedy, and with several inferences in flight its per-op choices can lose to keeping
everything on one unit (its Adds go where an engine is free now and pay the hand-off back
later). With ``keep_best`` (default) each unit alone is scheduled by the same insertion-based
list scheduler and the shortest estimated makespan is kept; the notes say which won.
"""

from __future__ import annotations

from bisect import insort

from pydantic import Field

from socsim.config.soc import SoC
from socsim.errors import PlacementError
from socsim.graph.ir import Graph
from socsim.policies.base import PlacementPolicy, Plan, PolicyParams, require_units
from socsim.policies.estimate import Estimator
from socsim.policies.registry import register_policy


class HeftParams(PolicyParams):
    units: list[str] | None = None
    """Restrict the candidates to these units (default: all)."""
    inferences: int = Field(1, ge=1, le=64)
    """Inferences in flight scheduled together (e.g. the workload's ``max_in_flight``)."""
    keep_best: bool = True
    """Also schedule each unit alone (ops it cannot run on their first candidate) with the
    same list scheduler, and keep whichever has the shortest estimated makespan (false: HEFT's
    own schedule, as published)."""

    def check(self, soc: SoC):
        return require_units(soc, self.units or [], ("units",))


def upward_ranks(est: Estimator, cands: list[list[str]]) -> list[float]:
    """HEFT's upward rank of every op, from mean run and hand-off times."""
    graph = est.graph
    n = len(graph.ops)
    mean_w = [sum(est.run_ns(i, u) for u in c) / len(c) for i, c in enumerate(cands)]
    rank = [0.0] * n
    for i in range(n - 1, -1, -1):
        tail = 0.0
        for t in graph.ops[i].outputs:
            for c in est.consumers.get(t, []):
                pairs = [est.edge_ns(t, a, b) for a in cands[i] for b in cands[c]]
                tail = max(tail, sum(pairs) / len(pairs) + rank[c])
        rank[i] = mean_w[i] + tail
    return rank


def _earliest_gap(busy: list[tuple[float, float]], ready: float, duration: float) -> float:
    """Earliest start >= ``ready`` of an idle gap of ``duration`` among sorted intervals."""
    start = ready
    for s, e in busy:
        if start + duration <= s:
            return start
        start = max(start, e)
    return start


def schedule(est: Estimator, cands: list[list[str]], rank: list[float], copies: int
             ) -> tuple[float, tuple[str, ...]]:
    """HEFT's list schedule of ``copies`` copies of the graph, each op's unit among
    ``cands[op]``: (estimated makespan ns, unit per op)."""
    graph, soc = est.graph, est.soc
    order = sorted(((i, j) for j in range(copies) for i in range(len(graph.ops))),
                   key=lambda ij: (-rank[ij[0]], ij[1], ij[0]))
    busy = {u: [[] for _ in range(soc.units[u].engines)] for c in cands for u in c}
    chosen: list[str | None] = [None] * len(graph.ops)
    finish: dict[tuple[int, int], float] = {}
    span = 0.0
    for i, j in order:
        op = graph.ops[i]
        best = None
        for u in ([chosen[i]] if chosen[i] is not None else cands[i]):
            ready = 0.0
            for t in op.inputs:
                p = est.producer.get(t)
                if p is None:
                    ready = max(ready, est.edge_ns(t, None, u))
                else:
                    ready = max(ready, finish[p, j] + est.edge_ns(t, chosen[p], u))
            run = est.run_ns(i, u)
            for k, slots in enumerate(busy[u]):
                start = _earliest_gap(slots, ready, run)
                if best is None or start + run < best[0]:
                    best = (start + run, u, k, start)
        end, u, k, start = best
        insort(busy[u][k], (start, end))
        chosen[i] = u
        finish[i, j] = end
        span = max(span, end)
    return span, tuple(chosen)


@register_policy
class Heft(PlacementPolicy):
    """HEFT: ops by upward rank, each to the unit that finishes it earliest (insertion-based),
    over ``inferences`` inferences in flight."""

    name = "heft"
    Params = HeftParams

    def place(self, graph: Graph, soc: SoC) -> Plan:
        est = Estimator(graph, soc)
        names = self.params.units or list(soc.units)
        cands = [est.candidates(i, names) for i in range(len(graph.ops))]
        for i, c in enumerate(cands):
            if not c:
                op = graph.ops[i]
                raise PlacementError(f"no candidate unit supports op {op.name!r} "
                                     f"({op.op_type}, {op.dtype}); candidates: {names}")
        rank = upward_ranks(est, cands)
        copies = self.params.inferences
        span, units = schedule(est, cands, rank, copies)
        note = (f"heft: {copies} inference(s) in flight scheduled in an estimated "
                f"{span / 1e3:.1f} us")
        if self.params.keep_best:
            for name in names:  # each unit alone, what it cannot run where it can go
                alone = [[name] if name in c else c[:1] for c in cands]
                other, placed = schedule(est, alone, rank, copies)
                if other < span:
                    note = (f"heft: its own schedule ({span / 1e3:.1f} us for {copies} "
                            f"inference(s)) loses to {name!r} alone ({other / 1e3:.1f} us, same "
                            "list scheduler); keeping the latter (keep_best)")
                    span, units = other, placed
        return Plan(units, (note,))
