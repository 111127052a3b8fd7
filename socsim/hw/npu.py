"""NPU cost model: a rows x cols systolic MAC array, folded over the layer, as in SCALE-Sim.

An op with MACs is ``groups`` GEMMs (M x K) @ (K x N) (:func:`gemm_view`; a depthwise conv is
C one-channel GEMMs with N = 1, and a batched MatMul whose second operand has batch dimensions
is one GEMM per batch entry). By dataflow, two of M, K, N map onto the array (``S_r`` on rows,
``S_c`` on columns) and the third, ``T``, streams through it:

- output stationary (os): S_r = M, S_c = N, T = K;
- weight stationary (ws): S_r = K, S_c = N, T = M;
- input stationary (is):  S_r = K, S_c = M, T = N.

The layer runs in ``ceil(S_r / rows) * ceil(S_c / cols)`` folds, one after another, and a fold
costs (R = rows, C = cols, T scaled by ``1 / macs_per_pe_per_cycle[dtype]``):

- os: ``T + R + C - 2``: operands enter skewed, one row/column a cycle later than the last,
  so PE (r, c) finishes its T MACs at cycle ``T - 1 + r + c``; the next fold starts once the
  outputs have drained;
- ws / is: ``2R + C + T - 2``: R cycles to load the stationary operand into the array, then
  the streamed operand enters skewed over R rows and the partial sums leave across C columns.

These are the per-fold cycle counts of SCALE-Sim's systolic compute model (``systolic_compute_
{os,ws,is}``: demand-matrix rows per fold), derived from its source; SCALE-Sim's reported
``Total Cycles`` is the 0-based index of the last cycle, one less than this count
(docs/npu_validation.md). Elementwise work runs on the vector engine at
``elementwise_ops_per_cycle``. Utilisation = MACs / (cycles x rows x cols x MACs per PE).

With the SRAM sizes set (``ifmap_sram_kib`` etc.), the double-buffered SRAMs add an exposed
prologue and epilogue per GEMM, as SCALE-Sim's estimate-bandwidth memory model does: before the
first fold the active half of the ifmap and filter SRAMs (or the whole operand, if smaller)
fills at ``sram_fill_words_per_cycle``, and after the last fold the active half of the ofmap
SRAM drains at ``cols`` words a cycle. Without them (the default) buffers are taken to be large
enough and nothing is added; the simulator charges the memory traffic itself.
"""

from __future__ import annotations

from math import ceil, prod

from socsim.config._base import DTYPE_BITS
from socsim.config.units import Npu
from socsim.graph.cost import gemm_view
from socsim.graph.ir import Graph, Op
from socsim.hw.base import mac_dtype
from socsim.hw.kind import Cycles, UnitKind


def _word_bytes(dtype: str) -> float:
    """Bytes per element: int4/uint4 pack two to a byte (ONNX's packing rule), the others
    ``bits / 8`` (uint16: 2)."""
    return DTYPE_BITS.get(dtype, 8) / 8


def npu_cycles(unit: Npu, op: Op, graph: Graph) -> Cycles:
    if unit.microarchitecture == "ethos_u":   # block-based model, socsim/hw/npu_block.py
        from socsim.hw.npu_block_cost import block_npu_cycles
        return block_npu_cycles(unit, op, graph)
    cycles = 0.0
    util = 0.0
    if op.macs:
        groups, m, k, n = _gemms(op, graph)
        per_pe = unit.macs_per_pe_per_cycle[mac_dtype(unit, op, graph,
                                                      unit.macs_per_pe_per_cycle)]
        cycles = groups * array_cycles(unit, m, k, n, per_pe)
        if unit.buffered:
            ifmap = _ifmap_words(op, graph, m, k)
            cycles += groups * buffer_cycles(unit, ifmap, k * n, m * n, _word_bytes(op.dtype))
        peak = unit.array_rows * unit.array_cols * per_pe
        util = op.macs / (cycles * peak)
    if op.elem_ops:
        cycles += op.elem_ops / unit.elementwise_ops_per_cycle
    return Cycles(cycles, util)


def array_cycles(unit: Npu, m: int, k: int, n: int, macs_per_pe: float) -> float:
    """Cycles of one (M x K) @ (K x N) GEMM on the array under the unit's dataflow."""
    rows, cols = unit.array_rows, unit.array_cols
    if unit.dataflow == "output_stationary":
        spatial_r, spatial_c, streamed, load = m, n, k, 0
    elif unit.dataflow == "weight_stationary":
        spatial_r, spatial_c, streamed, load = k, n, m, rows
    else:
        spatial_r, spatial_c, streamed, load = k, m, n, rows
    folds = ceil(spatial_r / rows) * ceil(spatial_c / cols)
    return folds * (load + ceil(streamed / macs_per_pe) + rows + cols - 2)


def buffer_cycles(unit: Npu, ifmap_words: int, filter_words: int, ofmap_words: int,
                  word_bytes: float = 1) -> float:
    """Exposed SRAM fill before the first fold and ofmap drain after the last, in cycles.

    Both operand SRAMs fill in parallel (the slower one counts) plus one cycle of SRAM hit
    latency; the ofmap drain moves one array row (``cols`` words) a cycle. Zero when the unit
    has no SRAM sizes.
    """
    if not unit.buffered:
        return 0.0

    def half(kib: float) -> int:  # the active half of a double buffer, in words
        return int(kib * 1024 // word_bytes) // 2

    fill = max(ceil(min(ifmap_words, half(unit.ifmap_sram_kib)) / unit.sram_fill_words_per_cycle),
               ceil(min(filter_words, half(unit.filter_sram_kib))
                    / unit.sram_fill_words_per_cycle))
    drain = ceil(min(ofmap_words, half(unit.ofmap_sram_kib)) / unit.array_cols)
    return fill + 1 + drain


def _gemms(op: Op, graph: Graph) -> tuple[int, int, int, int]:
    """(groups, M, K, N); a batched MatMul with a batched second operand is one GEMM a batch."""
    shapes = [graph.tensors[t].shape for t in _onnx_inputs(op)]
    out = graph.tensors[op.outputs[0]].shape
    groups, m, k, n = gemm_view(op.op_type, op.attrs, shapes, out)
    if op.op_type in ("MatMul", "MatMulInteger", "QLinearMatMul"):
        b = shapes[3] if op.op_type == "QLinearMatMul" else shapes[1]
        batch = prod(out[:-2]) if len(b) > 2 and prod(b[:-2]) > 1 else 1
        groups, m = groups * batch, m // batch
    return groups, m, k, n


def _ifmap_words(op: Op, graph: Graph, m: int, k: int) -> int:
    """Distinct input words one group reads: the input pixels some window touches (conv), M x K.

    Per spatial dim a conv reads ``(out - 1) * stride + kernel`` positions when windows overlap
    or abut (kernel >= stride), else ``out * kernel``; padding rows count (they are fetched as
    zeros). SCALE-Sim sizes its prefetch by the distinct addresses of its operand matrix, the
    same count.
    """
    if op.op_type not in ("Conv", "QLinearConv", "ConvInteger"):
        return m * k
    operands = _onnx_inputs(op)
    x = graph.tensors[operands[0]].shape
    out = graph.tensors[op.outputs[0]].shape
    w_at = 3 if op.op_type == "QLinearConv" else 1  # after x_scale, x_zero_point
    w = graph.tensors[operands[w_at]].shape if len(operands) > w_at else None
    kernel = op.attrs.get("kernel_shape") or (w[2:] if w else [1] * (len(x) - 2))
    strides = op.attrs.get("strides", [1] * (len(x) - 2))
    read = [(o - 1) * s + kk if kk >= s else o * kk
            for o, s, kk in zip(out[2:], strides, kernel)]
    return x[0] * (x[1] // int(op.attrs.get("group", 1))) * prod(read)


def _onnx_inputs(op: Op) -> tuple[str, ...]:
    """The op's inputs in ONNX order for shape lookups (a constant first operand, Y = W x,
    stays first)."""
    return op.operands


class NpuKind(UnitKind):
    """Kind ``npu``: :func:`npu_cycles`."""

    name = "npu"
    config = Npu

    def cycles(self, unit: Npu, op: Op, graph: Graph) -> Cycles:
        return npu_cycles(unit, op, graph)

    def parallel_ports(self, unit: Npu) -> bool:
        return unit.microarchitecture == "ethos_u"  # the block model's AXI ports
