"""Cycles of one op on one unit: the unit kind's cycle model plus the launch overhead.

A cycle model is a pure function of the unit's config, the op and the graph: it knows the
unit's micro-architecture, never time, DVFS state or SimPy. Each kind provides its own
(:meth:`socsim.hw.kind.UnitKind.cycles`); :func:`op_cycles` adds the unit's fixed per-op
launch overhead.
"""

from __future__ import annotations

from socsim.config.units import UnitBase
from socsim.graph.ir import Graph, Op
from socsim.hw.kind import Cycles, kind_of

__all__ = ["Cycles", "input_rereads", "op_cycles"]


def input_rereads(unit: UnitBase, op: Op, graph: Graph) -> int:
    """How many times ``op`` on ``unit`` reads its activation inputs from memory (the kind's
    :meth:`~socsim.hw.kind.UnitKind.input_rereads`, e.g. a CPU's cache blocking; else 1)."""
    return kind_of(unit).input_rereads(unit, op, graph)


def op_cycles(unit: UnitBase, op: Op, graph: Graph) -> Cycles:
    """Cycles ``op`` takes on ``unit``, launch overhead included."""
    c = kind_of(unit).cycles(unit, op, graph)
    return Cycles(c.compute + unit.launch_overhead_cycles, c.utilisation)
