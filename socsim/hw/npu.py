"""NPU cost model: a rows x cols MAC array, with fill/drain, folded over the layer.

An op with MACs is viewed as ``groups`` GEMMs (M x K) @ (K x N) (:func:`gemm_view`). By
dataflow, two of M, K, N are spatially mapped onto the array and the third is streamed:

- output stationary: M on rows, N on cols, K streamed;
- weight stationary: K on rows, N on cols, M streamed;
- input stationary: K on rows, M on cols, N streamed.

Each fold costs ``streamed / macs_per_pe_per_cycle + rows + cols - 1`` cycles (the stream
plus the array's fill and drain skew), and there are ``ceil(a / rows) * ceil(b / cols)``
folds per group. Elementwise work runs on the vector engine at
``elementwise_ops_per_cycle``.
"""

from __future__ import annotations

from math import ceil

from socsim.config.units import Npu
from socsim.graph.cost import gemm_view
from socsim.graph.ir import Graph, Op
from socsim.hw.base import Cycles, cost_model


@cost_model("npu")
def npu_cycles(unit: Npu, op: Op, graph: Graph) -> Cycles:
    cycles = 0.0
    util = 0.0
    if op.macs:
        shapes = [graph.tensors[t].shape for t in _onnx_inputs(op)]
        groups, m, k, n = gemm_view(op.op_type, op.attrs, shapes,
                                    graph.tensors[op.outputs[0]].shape)
        cycles = groups * array_cycles(unit, m, k, n, unit.macs_per_pe_per_cycle[op.dtype])
        peak = unit.array_rows * unit.array_cols * unit.macs_per_pe_per_cycle[op.dtype]
        util = op.macs / (cycles * peak)
    if op.elem_ops:
        cycles += op.elem_ops / unit.elementwise_ops_per_cycle
    return Cycles(cycles, util)


def array_cycles(unit: Npu, m: int, k: int, n: int, macs_per_pe: float) -> float:
    """Cycles of one (M x K) @ (K x N) GEMM on the array under the unit's dataflow."""
    rows, cols = unit.array_rows, unit.array_cols
    if unit.dataflow == "output_stationary":
        spatial_a, spatial_b, streamed = m, n, k
    elif unit.dataflow == "weight_stationary":
        spatial_a, spatial_b, streamed = k, n, m
    else:
        spatial_a, spatial_b, streamed = k, m, n
    folds = ceil(spatial_a / rows) * ceil(spatial_b / cols)
    return folds * (ceil(streamed / macs_per_pe) + rows + cols - 1)


def _onnx_inputs(op: Op) -> tuple[str, ...]:
    """The op's inputs in ONNX order (activation first, then weights) for shape lookups."""
    return (*op.inputs, *op.weights)
