"""``subgraph``: contiguous accelerator subgraphs that minimise transfers and launches.

Each op goes to ``accelerator`` or ``host`` (default: the most general other unit, where
fallbacks go). The assignment minimises one inference's serial time

    sum of op times + sum of hand-offs (DMA copy, layout conversion) between the two
    + one launch overhead per accelerator subgraph (``launch_overhead_cycles`` of the unit:
      an op that shares its predecessor's launch computes that much less)

where an accelerator subgraph is a maximal run of consecutive ops (graph order) on the
accelerator, compiled and launched as one unit of work (the plan's ``groups``: the engine
charges the launch once per group). Host ops are launched one by one. Every term is a
function of one op's unit or of two ops' units with the "same unit costs nothing" shape, so
the minimum is a minimum s-t cut of a graph (Stone, "Multiprocessor scheduling with the aid of
network flow algorithms", IEEE TSE 3(1), 1977; the graph-cut construction of Kolmogorov and
Zabih, IEEE TPAMI 26(2), 2004), computed exactly with networkx. Ops the accelerator cannot run
(:mod:`socsim.policies.compat`) stay on the host, and the notes say why.
"""

from __future__ import annotations

from socsim.config.soc import SoC
from socsim.errors import PlacementError
from socsim.graph.ir import Graph
from socsim.policies.base import PlacementPolicy, Plan, PolicyParams, require_units
from socsim.policies.compat import generality, unsupported_reason
from socsim.policies.estimate import Estimator
from socsim.policies.registry import register_policy


class SubgraphParams(PolicyParams):
    accelerator: str | None = None
    """The unit the subgraphs run on (default: each unit other than the host is tried; the
    least serial time wins)."""
    host: str | None = None
    """The unit running the rest (default: the most general unit other than the
    accelerator)."""

    def check(self, soc: SoC):
        problems = require_units(soc, [self.accelerator] if self.accelerator else [],
                                 ("accelerator",))
        if self.host is not None:
            problems += require_units(soc, [self.host], ("host",))
            if self.host == self.accelerator:
                problems.append((("host",), "must differ from `accelerator`"))
        return problems


def serial_cost(est: Estimator, units: list[str], accelerator: str) -> float:
    """The objective: serial op times (one accelerator launch per subgraph), hand-offs."""
    total = 0.0
    for i, (op, u) in enumerate(zip(est.ops, units)):
        total += est.run_ns(i, u)
        if u == accelerator and i > 0 and units[i - 1] == accelerator:
            total -= est.launch_saving_ns(i, u)
        for t in op.inputs:
            total += est.edge_ns(t, est.writer(t, units), u)
    return total


def min_cut_assignment(est: Estimator, acc: str, host: str, allowed: list[tuple[bool, bool]]
                       ) -> list[str]:
    """The assignment minimising :func:`serial_cost` (x = 1: accelerator), by one s-t cut.

    ``allowed[i]``: (host runs op i, accelerator runs op i).
    """
    import networkx as nx

    n = len(est.ops)
    unary = [[0.0, 0.0] for _ in range(n)]  # cost of x_i = 0 (host), 1 (accelerator)
    pair: dict[tuple[int, int], float] = {}

    def add_pair(i: int, j: int, a: float, b: float, c: float, d: float) -> None:
        # theta(0,0)=a, (0,1)=b, (1,0)=c, (1,1)=d = a + (c-a) x_i + (d-c) x_j
        #   + (b+c-a-d) (1-x_i) x_j  (submodular: b + c >= a + d)
        unary[i][1] += c - a
        unary[j][1] += d - c
        pair[i, j] = pair.get((i, j), 0.0) + (b + c - a - d)

    for i, op in enumerate(est.ops):
        unary[i][0] += est.run_ns(i, host) if allowed[i][0] else 0.0
        unary[i][1] += est.run_ns(i, acc) if allowed[i][1] else 0.0
        if i > 0:  # op i is a new accelerator launch unless op i-1 is on it too
            add_pair(i - 1, i, 0.0, 0.0, 0.0, -est.launch_saving_ns(i, acc))
        for t in op.inputs:
            p = est.producer.get(t)
            if p is None:
                unary[i][0] += est.edge_ns(t, None, host)
                unary[i][1] += est.edge_ns(t, None, acc)
            else:
                add_pair(p, i, est.edge_ns(t, host, host), est.edge_ns(t, host, acc),
                         est.edge_ns(t, acc, host), est.edge_ns(t, acc, acc))
    finite = sum(abs(v) for u in unary for v in u) + sum(abs(v) for v in pair.values())
    big = 10 * finite + 1.0
    g = nx.DiGraph()
    g.add_nodes_from(["s", "t", *range(n)])
    for i, (c0, c1) in enumerate(unary):
        c0 = c0 if allowed[i][0] else big
        c1 = c1 if allowed[i][1] else big
        low = min(c0, c1)
        # x_i = 1 (accelerator) cuts s->i; x_i = 0 (host) cuts i->t
        if c1 - low > 0:
            g.add_edge("s", i, capacity=c1 - low)
        if c0 - low > 0:
            g.add_edge(i, "t", capacity=c0 - low)
    for (i, j), w in pair.items():
        if w > 0:  # cut when x_i = 0 and x_j = 1
            g.add_edge(i, j, capacity=w)
    _, (source_side, _) = nx.minimum_cut(g, "s", "t")
    return [host if i in source_side else acc for i in range(n)]


@register_policy
class Subgraph(PlacementPolicy):
    """Accelerator subgraphs by minimum cut: fewest transfers and launches for the op time
    they save; each subgraph is one launch."""

    name = "subgraph"
    Params = SubgraphParams

    def place(self, graph: Graph, soc: SoC) -> Plan:
        est = Estimator(graph, soc)
        if self.params.accelerator is not None:
            return self._place(est, self.params.accelerator)[1]
        host = self.params.host or generality(soc)[0]
        tried = []
        for acc in soc.units:
            if acc == host:
                continue
            try:
                tried.append(self._place(est, acc))
            except PlacementError:  # an op runs on neither: this pair cannot be the one
                continue
        if not tried:
            raise PlacementError(f"subgraph: no unit pairs with {host!r} to run every op; "
                                 "name an `accelerator`")
        return min(tried, key=lambda cost_plan: cost_plan[0])[1]

    def _place(self, est: Estimator, acc: str) -> tuple[float, Plan]:
        """(serial cost, plan) with ``acc`` as the accelerator."""
        graph, soc = est.graph, est.soc
        host = self.params.host or next(u for u in generality(soc) if u != acc)
        allowed, kept = [], []
        for i, op in enumerate(graph.ops):
            on_host = est.ok(i, host)
            why = unsupported_reason(soc.units[acc], op, graph)
            if not on_host and why is not None:
                raise PlacementError(f"op {op.name!r} ({op.op_type}, {op.dtype}) runs on "
                                     f"neither {acc!r} ({why}) nor {host!r}")
            if why is not None:
                kept.append(f"{op.name} ({why})")
            allowed.append((on_host, why is None))
        units = min_cut_assignment(est, acc, host, allowed)
        groups, g = [], -1
        for i, u in enumerate(units):
            if u != acc or i == 0 or units[i - 1] != acc:
                g += 1
            groups.append(g)
        subgraphs = len({gr for gr, u in zip(groups, units) if u == acc})
        latency, energy = est.evaluate(units, groups)
        serial = serial_cost(est, units, acc)
        notes = [f"subgraph: {units.count(acc)} op(s) in {subgraphs} subgraph(s) on {acc}, "
                 f"{units.count(host)} on {host}; serial estimate "
                 f"{serial / 1e3:.1f} us, scheduled {latency / 1e3:.1f} us"]
        if kept:
            notes.append(f"{len(kept)} op(s) stay on {host!r}, unsupported on {acc!r}: "
                         + "; ".join(kept[:5]) + ("..." if len(kept) > 5 else ""))
        return serial, Plan(tuple(units), tuple(notes), groups=tuple(groups))
