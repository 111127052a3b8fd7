"""DSP cost model: peak MACs (or elementwise ops) per cycle per dtype x efficiency."""

from __future__ import annotations

from socsim.config.units import Dsp
from socsim.graph.ir import Graph, Op
from socsim.hw.base import mac_dtype
from socsim.hw.kind import Cycles, UnitKind


def dsp_cycles(unit: Dsp, op: Op, graph: Graph) -> Cycles:
    eff = unit.efficiency.get(op.family, unit.efficiency["default"])
    cycles = 0.0
    if op.macs:
        rate = unit.macs_per_cycle[mac_dtype(unit, op, graph, unit.macs_per_cycle)]
        cycles += op.macs / (rate * eff)
    if op.elem_ops:
        cycles += op.elem_ops / (unit.ops_per_cycle[op.dtype] * eff)
    return Cycles(cycles, eff if op.macs else 0.0)


class DspKind(UnitKind):
    """Kind ``dsp``."""

    name = "dsp"
    config = Dsp

    def cycles(self, unit: Dsp, op: Op, graph: Graph) -> Cycles:
        return dsp_cycles(unit, op, graph)
