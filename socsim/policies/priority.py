"""``priority``: per-unit queues ordered across concurrent workloads, as a real-time runtime
orders them: by fixed priority or earliest deadline first.

Placement is delegated to another policy (``placement``, default ``greedy_eft``); this policy
sets the plan's ``queue``, and the engine then orders every unit's waiting ops by it
(:class:`socsim.sim.stations.PriorityUnitState`):

- ``discipline: fixed``: by the workload's ``priority`` (higher first), ties in arrival order;
- ``discipline: edf``: by the inference's absolute deadline (arrival + ``deadline_ms``),
  earliest first; inferences without a deadline go last.

An op that has started runs to completion (no preemption), as on an accelerator whose jobs are
not interruptible. Every workload sharing the units should use one discipline: the simulation
refuses plans that mix fixed priorities and deadlines (their keys do not compare).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Literal

from pydantic import Field

from socsim.config.scenario import PolicySpec
from socsim.config.soc import SoC
from socsim.errors import ConfigError
from socsim.graph.ir import Graph
from socsim.policies.base import PlacementPolicy, Plan, PolicyParams
from socsim.policies.registry import get_policy, make_policy, register_policy


class PriorityParams(PolicyParams):
    discipline: Literal["fixed", "edf"] = "fixed"
    """fixed: the workloads' ``priority``; edf: earliest absolute deadline first."""
    placement: dict[str, Any] = Field(default_factory=lambda: {"name": "greedy_eft"})
    """The policy that places the ops: ``{name, params}``."""

    def check(self, soc: SoC):
        try:
            spec = PolicySpec.model_validate(self.placement)
            if spec.name == "priority":
                return [(("placement", "name"), "cannot be `priority` itself")]
            get_policy(spec.name)
            make_policy(spec, soc)
        except ConfigError as exc:
            return [(("placement",), p.message) for p in exc.problems]
        except KeyError as exc:
            return [(("placement", "name"), str(exc.args[0]))]
        except ValueError as exc:
            return [(("placement",), str(exc).splitlines()[0])]
        return []


@register_policy
class Priority(PlacementPolicy):
    """Another policy's placement, with the units' queues ordered by fixed priority or EDF."""

    name = "priority"
    Params = PriorityParams

    def place(self, graph: Graph, soc: SoC) -> Plan:
        inner = make_policy(PolicySpec.model_validate(self.params.placement), soc)
        plan = inner.place(graph, soc)
        queue = "priority" if self.params.discipline == "fixed" else "edf"
        note = (f"priority: units serve waiting ops by "
                f"{'workload priority' if queue == 'priority' else 'earliest deadline'}; "
                f"placement by {inner.name}")
        return replace(plan, queue=queue, notes=(*plan.notes, note))
