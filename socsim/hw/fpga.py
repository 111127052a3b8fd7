"""FPGA-fabric cost model: a pipelined datapath of fixed parallelism.

cycles = ceil(MACs / parallelism) * II + pipeline_depth, plus elementwise work at
``elementwise_ops_per_cycle``. (Kernel residency and reconfiguration come with the hardware
fidelity issue.)
"""

from __future__ import annotations

from math import ceil

from socsim.config.units import Fpga
from socsim.graph.ir import Graph, Op
from socsim.hw.base import Cycles, cost_model


@cost_model("fpga")
def fpga_cycles(unit: Fpga, op: Op, graph: Graph) -> Cycles:
    cycles = 0.0
    util = 0.0
    if op.macs:
        issues = ceil(op.macs / unit.parallelism)
        cycles += issues * unit.initiation_interval + unit.pipeline_depth
        util = op.macs / (cycles * unit.parallelism)
    if op.elem_ops:
        cycles += op.elem_ops / unit.elementwise_ops_per_cycle
    return Cycles(cycles, util)
