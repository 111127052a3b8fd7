"""``rules``: op-type, op-name or layer-range rules -> unit, first match wins."""

from __future__ import annotations

import re

from pydantic import PrivateAttr, model_validator

from socsim.config.soc import SoC
from socsim.errors import PlacementError
from socsim.graph.ir import Graph
from socsim.policies.base import PlacementPolicy, Plan, PolicyParams, require_units
from socsim.policies.compat import fallback_unit, unsupported_reason
from socsim.policies.registry import register_policy


class Rule(PolicyParams):
    """Send the ops one selector matches to ``unit``. Exactly one selector per rule:

    - ``op_types``: ONNX op types (``[Conv, Gemm]``);
    - ``names``: regular expressions matched against whole op names;
    - ``range``: ``[first, last]`` ops in topological order, inclusive, each an index
      (negative counts from the end) or an op name.
    """

    unit: str
    op_types: list[str] | None = None
    names: list[str] | None = None
    range: tuple[int | str, int | str] | None = None
    #: ``names`` compiled once, here, not per op
    _patterns: tuple[re.Pattern[str], ...] = PrivateAttr(default=())

    @model_validator(mode="after")
    def _one_selector(self) -> Rule:
        given = [k for k in ("op_types", "names", "range") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(f"give exactly one of op_types, names, range (got {given or 'none'})")
        patterns = []
        for pattern in self.names or []:
            try:
                patterns.append(re.compile(pattern))
            except re.error as exc:
                raise ValueError(f"names: bad regular expression {pattern!r}: {exc}") from None
        self._patterns = tuple(patterns)
        return self

    def matches_name(self, name: str) -> bool:
        """Whether one of ``names`` matches the whole of ``name``."""
        return any(p.fullmatch(name) for p in self._patterns)


class RulesParams(PolicyParams):
    rules: list[Rule]
    """Rules in priority order."""
    default: str
    """Unit for ops no rule matches."""
    fallback: bool = True
    """Send an op its rule's unit cannot run to the most general unit that can (noted)
    instead of failing."""

    def check(self, soc: SoC):
        problems = require_units(soc, [self.default], ("default",))
        for i, rule in enumerate(self.rules):
            problems += require_units(soc, [rule.unit], ("rules", i, "unit"))
        return problems


@register_policy
class Rules(PlacementPolicy):
    """Place each op by the first rule that matches it, else on ``default``."""

    name = "rules"
    Params = RulesParams

    def place(self, graph: Graph, soc: SoC) -> Plan:
        index = {op.name: i for i, op in enumerate(graph.ops)}
        spans = [self._span(rule, index, len(graph.ops)) for rule in self.params.rules]
        units, notes = [], []
        for i, op in enumerate(graph.ops):
            target = self.params.default
            for rule, span in zip(self.params.rules, spans):
                if self._matches(rule, span, i, op.name, op.op_type):
                    target = rule.unit
                    break
            why = unsupported_reason(soc.units[target], op, graph)
            if why is not None:
                other = fallback_unit(soc, op, graph) if self.params.fallback else None
                if other is None:
                    raise PlacementError(f"op {op.name!r} ({op.op_type}, {op.dtype}) cannot run "
                                         f"on {target!r} ({why}) and no fallback is allowed or "
                                         "possible")
                notes.append(f"{op.name} ({op.op_type}, {op.dtype}): {target} -> {other} "
                             f"({why})")
                target = other
            units.append(target)
        if notes:
            notes = [f"{len(notes)} op(s) fell back (unsupported on their rule's unit): "
                     + "; ".join(notes[:5]) + ("..." if len(notes) > 5 else "")]
        return Plan(tuple(units), tuple(notes))

    @staticmethod
    def _span(rule: Rule, index: dict[str, int], n: int) -> tuple[int, int] | None:
        if rule.range is None:
            return None
        ends = []
        for end in rule.range:
            if isinstance(end, str):
                if end not in index:
                    raise PlacementError(f"rules: range names op {end!r}, which the graph lacks")
                ends.append(index[end])
            else:
                ends.append(end % n if -n <= end < n else end)
        return ends[0], ends[1]

    @staticmethod
    def _matches(rule: Rule, span, i: int, name: str, op_type: str) -> bool:
        if rule.op_types is not None:
            return op_type in rule.op_types
        if rule.names is not None:
            return rule.matches_name(name)
        return span[0] <= i <= span[1]
