"""The one plan check: :func:`check_plan`, behind :meth:`socsim.policies.base.Plan.validate`,
and what several workloads' plans must agree on (:func:`plan_points`, :func:`plan_queue`).

``socsim validate``, the run (:mod:`socsim.check`) and the simulation's constructor
(:class:`socsim.sim.engine.Simulation`) all call them, so a plan the engine would refuse is
refused before anything runs, with the same message.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from socsim.config.soc import SoC
from socsim.errors import PlacementError, Problem
from socsim.graph.ir import Graph
from socsim.hw.cost import activation_channels, converter
from socsim.hw.estimate import input_memory
from socsim.policies.compat import unsupported_reason

if TYPE_CHECKING:
    from socsim.policies.base import Plan

_ROUTE_HINT = ("add a DMA engine or a memory link in the device file, or place the ops "
               "differently")
_CONVERT_HINT = ("a unit that converts layouts needs convert_bytes_per_cycle; or place the "
                 "ops differently")


def check_plan(plan: Plan, graph: Graph, soc: SoC, workload: str | None = None) -> None:
    """Raise if ``plan`` cannot run ``graph`` on ``soc``.

    Args:
        workload: prefixes route and conversion problems (the engine's messages).

    Raises:
        PlacementError: the first failing category's problems (at most five), with a hint.
    """
    from socsim.policies.base import QUEUES

    if len(plan.units) != len(graph.ops):
        raise PlacementError(f"plan places {len(plan.units)} ops; {graph.name} has "
                             f"{len(graph.ops)}")
    bad = []
    for op, uname in zip(graph.ops, plan.units):
        unit = soc.units.get(uname)
        if unit is None:
            bad.append(f"op {op.name!r} placed on unknown unit {uname!r} "
                       f"(the SoC has {sorted(soc.units)})")
            continue
        why = unsupported_reason(unit, op, graph)
        if why is not None:
            bad.append(f"op {op.name!r} ({op.op_type}, {op.dtype}) placed on {uname!r}, "
                       f"which supports ops {unit.ops} in {unit.dtypes}: {why}")
    bad += _shape_problems(plan, soc)
    if plan.queue not in QUEUES:
        bad.append(f"plan queue {plan.queue!r} is not one of {list(QUEUES)}")
    if bad:
        raise PlacementError([Problem(m) for m in bad])
    who = f"{workload}: " if workload else ""
    problems = _route_problems(plan, graph, soc, who)
    if problems:
        raise PlacementError([Problem(m) for m in problems[:5]], hint=_ROUTE_HINT)
    problems = _conversion_problems(plan, graph, soc, who)
    if problems:
        raise PlacementError([Problem(m) for m in problems[:5]],
                             hint=_CONVERT_HINT)


def _shape_problems(plan: Plan, soc: SoC) -> list[str]:
    """Groups on one unit each, aligned with the ops; points among the units' points."""
    bad = []
    if plan.groups is not None:
        if len(plan.groups) != len(plan.units):
            bad.append(f"plan has {len(plan.groups)} groups for {len(plan.units)} ops")
        else:
            where: dict[int, str] = {}
            for g, u in zip(plan.groups, plan.units):
                if where.setdefault(g, u) != u:
                    bad.append(f"launch group {g} spans units {where[g]!r} and {u!r}")
                    break
    for uname, freq in plan.points:
        unit = soc.units.get(uname)
        if unit is None:
            bad.append(f"plan fixes an operating point for unknown unit {uname!r}")
        elif freq not in [p.freq_mhz for p in unit.dvfs.points]:
            bad.append(f"plan fixes {uname!r} at {freq:g} MHz, not one of its points "
                       f"{[p.freq_mhz for p in unit.dvfs.points]}")
    return bad


def _route_problems(plan: Plan, graph: Graph, soc: SoC, who: str) -> list[str]:
    """Every hand-off must be addressable in place or have a DMA route."""
    producer_mem = {t: input_memory(soc) for t in graph.inputs}
    problems = []
    for op, uname in zip(graph.ops, plan.units):
        unit = soc.units[uname]
        for t in op.inputs:
            src = producer_mem[t]
            if src in unit.memories:
                continue
            if not any(soc.dma_between(src, dst) for dst in unit.memories):
                problems.append(f"{who}op {op.name!r} on {uname!r} reads {t!r} from {src!r}, "
                                f"which {uname!r} cannot address and no DMA engine connects "
                                f"to its memories {unit.memories}")
        for t in op.outputs:
            producer_mem[t] = unit.memories[0]
    return problems


def _conversion_problems(plan: Plan, graph: Graph, soc: SoC, who: str) -> list[str]:
    """Units the plan makes convert layouts must say how fast (and what it costs)."""
    writer_of: dict[str, str] = {}
    problems = []
    for op, uname in zip(graph.ops, plan.units):
        reader = soc.units[uname]
        need = (reader.layout, reader.channel_align)
        for t in op.inputs:
            writer = writer_of.get(t)
            tensor = graph.tensors[t]
            if writer is None or not activation_channels(tensor):
                continue
            w = soc.units[writer]
            fmt = (w.layout, w.channel_align)
            if fmt == need:
                continue
            conv = converter(soc, writer, uname)
            if conv is None:
                problems.append(
                    f"{who}op {op.name!r} on {uname!r} reads {t!r} written by {writer!r} as "
                    f"{fmt[0]}/c{fmt[1]} but works in {need[0]}/c{need[1]}: set "
                    f"units.{uname}.convert_bytes_per_cycle (or "
                    f"units.{writer}.convert_bytes_per_cycle) in the device file, or give "
                    "both units one layout")
            elif tensor.dtype not in soc.units[conv].power.energy_pj_per_op:
                problems.append(f"{who}{conv!r} converts {t!r} ({tensor.dtype}): add "
                                f"units.{conv}.power.energy_pj_per_op.{tensor.dtype}")
        for t in op.outputs:
            writer_of[t] = uname
    return problems


def plan_points(plans: Sequence[tuple[str, Plan]]) -> dict[str, float]:
    """Unit -> the operating point the plans (``(workload, plan)`` pairs) fix.

    Raises:
        PlacementError: two workloads' plans fix one unit at different points.
    """
    fixed: dict[str, tuple[float, str]] = {}
    for name, plan in plans:
        for unit, freq in plan.points:
            seen = fixed.setdefault(unit, (freq, name))
            if seen[0] != freq:
                raise PlacementError(f"workloads {seen[1]!r} and {name!r} fix unit {unit!r} "
                                     f"at {seen[0]:g} and {freq:g} MHz",
                                     hint="give both one policy, or fix the point in "
                                     "run.operating_points")
    return {u: f for u, (f, _) in fixed.items()}


def plan_queue(plans: Sequence[tuple[str, Plan]]) -> str:
    """How the units order waiting ops: the plans' one non-FIFO ``queue``, else FIFO.

    Raises:
        PlacementError: plans ask for different orders (fixed priority and EDF keys do not
            compare).
    """
    queues = {plan.queue for _, plan in plans} - {"fifo"}
    if len(queues) > 1:
        raise PlacementError(f"the workloads' plans order the units' queues differently: "
                             f"{sorted(queues)}", hint="give every workload one queue "
                             "discipline (policy `priority`, param `discipline`)")
    return queues.pop() if queues else "fifo"
