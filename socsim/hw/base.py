"""The cost-model interface: cycles of one op on one unit kind, and a registry by kind.

A cost model is a pure function ``(unit, op, graph) -> cycles``: it knows the unit's
micro-architecture, never time, DVFS state or SimPy. :func:`op_cycles` adds the unit's fixed
per-op launch overhead. Deeper models (issue "Hardware fidelity") replace a kind's function
without touching the simulator.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from socsim.config.units import Unit
from socsim.graph.ir import Graph, Op

CycleModel = Callable[[Unit, Op, Graph], "Cycles"]
RereadModel = Callable[[Unit, Op, Graph], int]
_MODELS: dict[str, CycleModel] = {}
_REREADS: dict[str, RereadModel] = {}


@dataclass(frozen=True)
class Cycles:
    """Compute cycles of an op on a unit, and how well it used the unit's peak MAC rate.

    Attributes:
        compute: cycles of arithmetic (MACs and elementwise work), before launch overhead.
        utilisation: achieved MACs / peak MACs over those cycles (0 for ops without MACs).
    """

    compute: float
    utilisation: float = 0.0


def cost_model(kind: str) -> Callable[[CycleModel], CycleModel]:
    """Register the cycle model of a unit kind (decorator; returns the function unchanged)."""

    def register(fn: CycleModel) -> CycleModel:
        if kind in _MODELS:
            raise ValueError(f"a cost model for kind {kind!r} is already registered")
        _MODELS[kind] = fn
        return fn

    return register


def rereads_model(kind: str) -> Callable[[RereadModel], RereadModel]:
    """Register how many times a unit kind's kernels read an op's activation inputs
    (decorator; returns the function unchanged). Kinds without one read them once."""

    def register(fn: RereadModel) -> RereadModel:
        if kind in _REREADS:
            raise ValueError(f"a reread model for kind {kind!r} is already registered")
        _REREADS[kind] = fn
        return fn

    return register


def input_rereads(unit: Unit, op: Op, graph: Graph) -> int:
    """How many times ``op`` on ``unit`` reads its activation inputs from memory (the kind's
    reread model, e.g. a CPU's cache blocking; else 1)."""
    model = _REREADS.get(unit.kind)
    return 1 if model is None else model(unit, op, graph)


def op_cycles(unit: Unit, op: Op, graph: Graph) -> Cycles:
    """Cycles ``op`` takes on ``unit``, launch overhead included."""
    c = _MODELS[unit.kind](unit, op, graph)
    return Cycles(c.compute + unit.launch_overhead_cycles, c.utilisation)
