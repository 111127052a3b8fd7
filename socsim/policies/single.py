"""``single``: every op on one named unit, falling back to a CPU for what it cannot run."""

from __future__ import annotations

from socsim.config.soc import SoC
from socsim.errors import PlacementError
from socsim.graph.ir import Graph
from socsim.policies.base import PlacementPolicy, Plan, PolicyParams, require_units
from socsim.policies.compat import fallback_unit, substitution_hint, unsupported_reason
from socsim.policies.registry import register_policy


class SingleParams(PolicyParams):
    unit: str
    """The unit to run everything on."""

    def check(self, soc: SoC):
        return require_units(soc, [self.unit], ("unit",))


@register_policy
class Single(PlacementPolicy):
    """All ops on ``params.unit``; an op it cannot run (type, dtype or attributes, see
    :mod:`socsim.policies.compat`) goes to the most general unit that can, and the plan's notes
    say which ops fell back and why."""

    name = "single"
    Params = SingleParams

    def place(self, graph: Graph, soc: SoC) -> Plan:
        target = soc.units[self.params.unit]
        units, fell_back = [], {}
        for op in graph.ops:
            why = unsupported_reason(target, op, graph)
            if why is None:
                units.append(self.params.unit)
                continue
            other = fallback_unit(soc, op, graph)
            if other is None:
                raise PlacementError(f"no unit supports op {op.name!r} ({op.op_type}, "
                                     f"{op.dtype}); on {self.params.unit!r}: {why}")
            units.append(other)
            hint = substitution_hint(target, op)
            why = why if hint is None else f"{why}; {hint}"
            fell_back.setdefault((op.op_type, op.dtype, other, why), []).append(op.name)
        notes = tuple(f"{len(names)} {op_type} op(s) in {dtype} fell back from "
                      f"{self.params.unit!r} to {other!r} (unsupported there: {why}): "
                      f"{', '.join(names[:3])}{'...' if len(names) > 3 else ''}"
                      for (op_type, dtype, other, why), names in fell_back.items())
        return Plan(tuple(units), notes)
