"""CPU cost model: SIMD lanes x threads x efficiency.

MAC rate per core = vector_bits_per_cycle / bits(dtype) (one MAC per lane per cycle);
an op split over ``threads_per_op`` cores divides its work among them;
``efficiency[family]`` is the fraction of that peak a real kernel library reaches.
"""

from __future__ import annotations

from socsim.config._base import bits_of
from socsim.config.units import Cpu
from socsim.graph.ir import Graph, Op
from socsim.hw.base import Cycles, cost_model


@cost_model("cpu")
def cpu_cycles(unit: Cpu, op: Op, graph: Graph) -> Cycles:
    lanes = max(1.0, unit.vector_bits_per_cycle / bits_of(op.dtype))
    eff = unit.efficiency.get(op.family, unit.efficiency["default"])
    rate = lanes * unit.threads_per_op * eff
    return Cycles((op.macs + op.elem_ops) / rate, eff if op.macs else 0.0)
