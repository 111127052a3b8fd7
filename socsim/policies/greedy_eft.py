"""``greedy_eft``: list scheduling, each op to the unit where it finishes earliest.

Ops are taken in topological order; for each candidate unit that supports the op, the finish
time is ``max(engine free, inputs ready + transfer + conversion) + reconfiguration + run
time``, with transfers estimated as one DMA from the producer's home memory when the candidate
cannot address it, conversions when the producer writes another layout (docs/model.md,
"Layouts"), a reconfiguration when a reconfigurable candidate's configuration for the op (an
FPGA's kernel) is not resident (residency tracked as ops are placed, with the unit kind's
model), and run times from the same cost and roofline formulas the simulator uses at each
unit's default operating point.
Ties go to the unit declared first.
"""

from __future__ import annotations

from pydantic import Field

from socsim.config.soc import SoC
from socsim.errors import PlacementError
from socsim.graph.ir import Graph
from socsim.hw.estimate import convert_estimate_ns, input_memory, op_run_ns, transfer_estimate_ns
from socsim.hw.kind import configuration_of, reconfigurable
from socsim.policies.base import PlacementPolicy, Plan, PolicyParams, require_units
from socsim.policies.registry import register_policy


class GreedyEftParams(PolicyParams):
    units: list[str] | None = None
    """Restrict the candidates to these units (default: all)."""
    reconfig_amortised_over: int = Field(1, ge=1)
    """Inferences a kernel load is spread over: 1 charges each FPGA reconfiguration in full to
    the one inference planned; a long run whose kernels stay resident pays a load once, so
    planning for N inferences charges 1/N of it."""

    def check(self, soc: SoC):
        return require_units(soc, self.units or [], ("units",))


@register_policy
class GreedyEft(PlacementPolicy):
    """Earliest-finish-time list scheduling over one inference."""

    name = "greedy_eft"
    Params = GreedyEftParams

    def place(self, graph: Graph, soc: SoC) -> Plan:
        candidates = self.params.units or list(soc.units)
        engines = {u: [0.0] * soc.units[u].engines for u in candidates}
        ready: dict[str, tuple[float, str | None]] = {t: (0.0, None) for t in graph.inputs}
        fabrics = {u: lib for u in candidates
                   if (lib := reconfigurable(soc.units[u])) is not None}
        units = []
        for op in graph.ops:
            best = None
            for uname in candidates:
                unit = soc.units[uname]
                if not unit.supports(op.op_type, op.dtype):
                    continue
                at = 0.0
                for t in op.inputs:
                    t_ready, producer = ready.get(t, (0.0, None))
                    src = soc.units[producer].memories[0] if producer else input_memory(soc)
                    tensor = graph.tensors[t]
                    at = max(at, t_ready + transfer_estimate_ns(soc, src, unit, tensor)
                             + convert_estimate_ns(soc, producer, uname, tensor))
                free = min(engines[uname])
                finish = max(at, free) + op_run_ns(unit, op, graph, soc)
                fabric = fabrics.get(uname)
                if fabric is not None:
                    kernel = configuration_of(unit, op.op_type, op.dtype)
                    if kernel is not None and not fabric.is_resident(kernel):
                        finish += (fabric.reconfig_cost(kernel)[0]
                                   / self.params.reconfig_amortised_over)
                if best is None or finish < best[0]:
                    best = (finish, uname)
            if best is None:
                raise PlacementError(f"no candidate unit supports op {op.name!r} "
                                     f"({op.op_type}, {op.dtype}); candidates: {candidates}")
            finish, uname = best
            kernel = configuration_of(soc.units[uname], op.op_type, op.dtype)
            if uname in fabrics and kernel is not None:
                fabrics[uname].load(kernel)
            slots = engines[uname]
            slots[slots.index(min(slots))] = finish
            for t in op.outputs:
                ready[t] = (finish, uname)
            units.append(uname)
        return Plan(tuple(units))

