"""FPGA-fabric cost model: a pipelined datapath, or the library kernel chosen for the op.

cycles = ⌈MACs / parallelism⌉ × II + pipeline_depth + elem_ops / elementwise_ops_per_cycle,
with the datapath of the kernel that runs the op (:meth:`socsim.config.units.Fpga.kernel_for`:
the first declared implementing its op type and dtype) when the unit has a kernel library, else
the unit's fixed datapath. Residency and reconfiguration are
:mod:`socsim.hw.fpga_residency`'s; :class:`FpgaKind` offers them to the engine as the kind's
reconfigurable resource, and its reconfigurations as the summary's ``fpga`` block.
"""

from __future__ import annotations

from math import ceil

from socsim.config.units import Fpga
from socsim.errors import UnsupportedOpError
from socsim.graph.ir import Graph, Op
from socsim.hw.fpga_residency import FpgaResidency
from socsim.hw.kind import Cycles, UnitKind


def fpga_cycles(unit: Fpga, op: Op, graph: Graph) -> Cycles:
    """Cycles of ``op`` on ``unit``'s datapath (its kernel's, with a kernel library).

    Raises:
        UnsupportedOpError: the unit has a kernel library and no kernel implements the op.
    """
    kernel = None
    if unit.kernels is not None:
        kernel = unit.kernel_for(op.op_type, op.dtype)
        if kernel is None:
            raise UnsupportedOpError(
                f"no kernel of this fpga unit implements {op.op_type} in {op.dtype} (op "
                f"{op.name!r}); kernels: "
                f"{ {n: k.ops for n, k in unit.kernels.items()} }")
    parallelism, ii, depth, elem_rate = unit.datapath(kernel)
    cycles = 0.0
    util = 0.0
    if op.macs:
        issues = ceil(op.macs / parallelism)
        cycles += issues * ii + depth
        util = op.macs / (cycles * parallelism)
    if op.elem_ops:
        cycles += op.elem_ops / elem_rate
    return Cycles(cycles, util)


class FpgaKind(UnitKind):
    """Kind ``fpga``: a fixed datapath, or a kernel library whose kernels are made resident
    by partial reconfiguration (:class:`~socsim.hw.fpga_residency.FpgaResidency`)."""

    name = "fpga"
    config = Fpga
    reconfig_section = "fpga"
    reconfig_label = "FPGA"

    def cycles(self, unit: Fpga, op: Op, graph: Graph) -> Cycles:
        return fpga_cycles(unit, op, graph)

    def reconfigurable(self, unit: Fpga) -> FpgaResidency | None:
        return FpgaResidency(unit) if unit.kernels is not None else None

    def configuration(self, unit: Fpga, op: Op, graph: Graph) -> str | None:
        """The library kernel that runs ``op`` (by op type and dtype: kernels serve every op
        of their types)."""
        return unit.kernel_for(op.op_type, op.dtype) if unit.kernels is not None else None
