"""``layerwise``: contiguous layer ranges per unit, the split points searched.

The ops, in topological order, are cut into ``len(units)`` contiguous ranges (some may be
empty), range k on ``units[k]``: feature extraction on an accelerator, the classifier on a
host, or a longer pipeline. Every choice of split points is tried (``C(n + k - 1, k - 1)``
of them for ``n`` ops and ``k`` units) and scored with the cost model
(:meth:`socsim.policies.estimate.Estimator.evaluate`: one inference's latency or energy); the
best wins, ties to the earliest splits. An op its range's unit cannot run goes to the most
general unit that can (:mod:`socsim.policies.compat`), and the plan's notes say so.
"""

from __future__ import annotations

from itertools import combinations_with_replacement
from typing import Literal

from pydantic import Field

from socsim.config.soc import SoC
from socsim.errors import PlacementError
from socsim.graph.ir import Graph
from socsim.policies.base import PlacementPolicy, Plan, PolicyParams, require_units
from socsim.policies.compat import fallback_unit, generality, unsupported_reason
from socsim.policies.estimate import Estimator
from socsim.policies.registry import register_policy

#: Most split combinations searched (a guard against a long pipeline on a deep graph).
MAX_SPLITS = 2_000_000


class LayerwiseParams(PolicyParams):
    units: list[str] | None = Field(None, min_length=1)
    """The units in pipeline order: the first range of ops runs on ``units[0]``, etc.
    Default: each unit other than the most general one, followed by the most general one
    (an accelerator then the host), every such pair tried; the best wins."""
    objective: Literal["latency", "energy"] = "latency"
    """What the split points minimise (one inference's estimate)."""

    def check(self, soc: SoC):
        return require_units(soc, self.units or [], ("units",))


def range_units(graph: Graph, soc: SoC, units: list[str], splits: tuple[int, ...]
                ) -> tuple[list[str], list[str]]:
    """The unit per op for ``splits`` (range k = ops ``splits[k-1]`` to ``splits[k] - 1``),
    with fallbacks, and the notes naming them.

    Raises:
        PlacementError: an op no unit runs.
    """
    bounds = (0, *splits, len(graph.ops))
    placed, notes = [], []
    for k, unit in enumerate(units):
        for i in range(bounds[k], bounds[k + 1]):
            op = graph.ops[i]
            why = unsupported_reason(soc.units[unit], op, graph)
            if why is None:
                placed.append(unit)
                continue
            other = fallback_unit(soc, op, graph)
            if other is None:
                raise PlacementError(f"no unit runs op {op.name!r} ({op.op_type}, {op.dtype})")
            placed.append(other)
            notes.append(f"{op.name} -> {other} ({unit}: {why})")
    return placed, notes


@register_policy
class Layerwise(PlacementPolicy):
    """Contiguous op ranges, one per unit in ``units`` order, split where the cost model
    says latency (or energy) is lowest."""

    name = "layerwise"
    Params = LayerwiseParams

    def place(self, graph: Graph, soc: SoC) -> Plan:
        est = Estimator(graph, soc)
        if self.params.units is not None:
            pipelines = [self.params.units]
        else:
            order = generality(soc)
            pipelines = [[u, order[0]] for u in soc.units if u != order[0]] or [[order[0]]]
        best = None
        for units in pipelines:
            found = self._search(graph, soc, est, units)
            if best is None or found[0] < best[0]:
                best = found
        _, (latency, energy), splits, placed, notes, units = best
        n = len(graph.ops)
        bounds = (0, *splits, n)
        ranges = "; ".join(f"ops {bounds[k]}-{bounds[k + 1] - 1} on {u}"
                           for k, u in enumerate(units) if bounds[k + 1] > bounds[k])
        out = [f"layerwise ({self.params.objective}): {ranges}; estimated "
               f"{latency / 1e3:.1f} us, {energy / 1e6:.4f} uJ per inference"]
        if notes:
            out.append(f"{len(notes)} op(s) fell back from their range's unit: "
                       + "; ".join(notes[:5]) + ("..." if len(notes) > 5 else ""))
        return Plan(tuple(placed), tuple(out))

    def _search(self, graph: Graph, soc: SoC, est: Estimator, units: list[str]):
        """(score, (latency, energy), splits, placement, fallback notes, units) of the best
        split points of ``units``."""
        n = len(graph.ops)
        pick = 0 if self.params.objective == "latency" else 1
        best = None
        for count, splits in enumerate(combinations_with_replacement(range(n + 1),
                                                                     len(units) - 1)):
            if count >= MAX_SPLITS:
                raise PlacementError(f"layerwise: more than {MAX_SPLITS:,} split choices for "
                                     f"{len(units)} units over {n} ops; name fewer units")
            placed, notes = range_units(graph, soc, units, splits)
            score = est.evaluate(placed)
            if best is None or score[pick] < best[0]:
                best = (score[pick], score, splits, placed, notes, units)
        return best
