"""The block model as socsim's NPU cycle model for a unit with ``microarchitecture: ethos_u``.

A graph op (ONNX op types, NCHW shapes) is lowered to NPU operations
(:func:`socsim.hw.npu_block_lower.lower_onnx`) and costed with
:func:`socsim.hw.npu_block_cycles.layer_cycles`. The returned compute cycles are the NPU's own
(MAC and output stages and block commands); the simulator charges the op's memory traffic
itself and overlaps it with them (``max(compute, memory)``, :meth:`OpCost.run_ns`), which is
how the Ethos-U's AXI ports overlap with compute. Tensors the NPU writes and another op
reads are laid out NHCWB16 (as Vela lays out NPU-internal tensors), the graph's inputs and
outputs NHWC. Weights are costed at their stored size (socsim does not model Vela's weight
codec). Ops with no NPU lowering (views, layout and data-movement ops) cost their
elementwise work at ``elementwise_ops_per_cycle``, as on the systolic model.
"""

from __future__ import annotations

from dataclasses import replace

from socsim.config.units import Npu
from socsim.graph.ir import Graph, Op
from socsim.hw.base import Cycles
from socsim.hw.npu_block import NpuOp
from socsim.hw.npu_block_cycles import layer_cycles
from socsim.hw.npu_block_lower import lower_onnx

__all__ = ["block_npu_cycles"]


def block_npu_cycles(unit: Npu, op: Op, graph: Graph) -> Cycles:
    """Cycles of ``op`` on an Ethos-U-class ``unit`` (its ``ethos_u`` parameters): the block
    model's ``max(NPU, each AXI port)`` with the weights staged under the op producing its
    input (:func:`socsim.hw.npu_block_cycles.layer_cycles`)."""
    cfg = unit.ethos_u
    assert cfg is not None, "block_npu_cycles needs a unit with an ethos_u block"
    ops = npu_ops(unit, op, graph)
    if ops is None:
        return Cycles(op.elem_ops / unit.elementwise_ops_per_cycle if op.elem_ops else 0.0)
    producer = next((p for p in graph.ops if op.inputs and op.inputs[0] in p.outputs), None)
    slack = 0.0
    if producer is not None:
        prev = npu_ops(unit, producer, graph)
        slack = sum(layer_cycles(cfg, o).npu for o in prev or ())
    cycles = 0.0
    for o in ops:
        lc = layer_cycles(cfg, o, slack=slack)
        slack = lc.npu
        cycles += lc.total
    macs = sum(o.macs for o in ops)
    util = macs / (cycles * cfg.macs_per_cycle) if cycles and macs else 0.0
    return Cycles(float(cycles), util)


def npu_ops(unit: Npu, op: Op, graph: Graph) -> list[NpuOp] | None:
    """``op`` lowered to the block model's NPU operations, its tensors laid out and placed as
    an Ethos-U compiler places them: graph inputs and outputs NHWC in the arena memory,
    tensors between NPU operations NHCWB16 in the staging (fast) memory; None for an op with
    no NPU lowering."""
    cfg = unit.ethos_u
    in_shapes = [graph.tensors[t].shape for t in op.inputs]
    out_shape = graph.tensors[op.outputs[0]].shape
    weight = max((graph.tensors[w] for w in op.weights), default=None,
                 key=lambda t: len(t.shape) * 10**12 + graph.bytes_of([t.name]))
    weight_shape = weight.shape if weight is not None else None
    weight_bytes = graph.bytes_of([weight.name]) if weight is not None else 0
    ops = lower_onnx(op.op_type, op.attrs, in_shapes, out_shape, weight_shape, weight_bytes,
                     op.dtype) if in_shapes else None
    if not ops:
        return None
    boundary = set(graph.inputs) | set(graph.outputs)
    mode = cfg.memory_mode
    ifmt, iport = (("nhwc", mode.arena) if op.inputs[0] in boundary
                   else ("nhcwb16", mode.staging))
    ofmt, oport = (("nhwc", mode.arena) if op.outputs[0] in boundary
                   else ("nhcwb16", mode.staging))
    last = len(ops) - 1
    return [replace(o, ifm_format=ifmt if i == 0 else "nhcwb16",
                    ofm_format=ofmt if i == last else "nhcwb16",
                    ifm_port=iport if i == 0 else mode.staging,
                    ofm_port=oport if i == last else mode.staging)
            for i, o in enumerate(ops)]
