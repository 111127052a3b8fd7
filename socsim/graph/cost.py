"""Per-op cost descriptors: which family an op is in, its MACs and elementwise operations.

Formulas (N batch, out = output elements):
- Conv / ConvInteger / QLinearConv: ``out * (C_in / group) * prod(kernel)`` MACs.
- MatMul family: ``out * K`` (K the reduced dimension); Gemm: ``M * N * K``.
- Elementwise: ``out * ELEM_OPS_PER_ELEMENT[op_type]`` (1 for a simple op).
- MaxPool / AveragePool: ``out * prod(kernel)``; GlobalAveragePool, Reduce*: input elements.
- Softmax, LayerNormalization: ``elements * ELEM_OPS_PER_ELEMENT`` (the exp/sum/div or
  mean/var/scale passes counted as operations per element).
- Views (Reshape, Flatten, Squeeze, Unsqueeze, Identity) cost 0 ops; copies (Transpose,
  Concat, Pad, Slice, Gather, Split) one op per output element.
"""

from __future__ import annotations

from math import prod

from socsim.errors import UnsupportedOpError

_CONV = {"Conv", "ConvInteger", "QLinearConv"}
_MATMUL = {"MatMul", "MatMulInteger", "QLinearMatMul"}
_GEMM = {"Gemm", "QGemm"}
_POOL = {"MaxPool", "AveragePool", "QLinearAveragePool"}
_GLOBAL_POOL = {"GlobalAveragePool", "GlobalMaxPool", "QLinearGlobalAveragePool"}
_REDUCE = {"ReduceMean", "ReduceSum", "ReduceMax", "ReduceMin"}
_VIEW = {"Reshape", "Flatten", "Squeeze", "Unsqueeze", "Identity"}
#: Ops that only relabel a buffer: no arithmetic and no memory traffic of their own.
VIEW_OPS: frozenset[str] = frozenset(_VIEW)
_COPY = {"Transpose", "Concat", "Pad", "Slice", "Gather", "Split", "QLinearConcat", "Expand"}
_QUANTIZE = {"QuantizeLinear", "DequantizeLinear", "DynamicQuantizeLinear", "Cast"}

#: Operations per output element of elementwise and normalising ops (documented estimates:
#: transcendental functions as a short polynomial, Softmax as max, sub, exp, sum, div).
ELEM_OPS_PER_ELEMENT: dict[str, int] = {
    "Add": 1, "Sub": 1, "Mul": 1, "Div": 1, "Relu": 1, "Clip": 1, "LeakyRelu": 2,
    "PRelu": 2, "Max": 1, "Min": 1, "Neg": 1, "Abs": 1, "Sqrt": 4, "Pow": 4, "Reciprocal": 4,
    "Sigmoid": 4, "Tanh": 4, "Erf": 4, "Exp": 4, "Gelu": 6, "HardSigmoid": 3, "HardSwish": 4,
    "Where": 1, "Equal": 1, "Less": 1, "Greater": 1,
    "QLinearAdd": 3, "QLinearMul": 3, "QLinearSigmoid": 4, "QLinearLeakyRelu": 3,
    "Softmax": 5, "QLinearSoftmax": 5, "LogSoftmax": 6, "LayerNormalization": 8,
    "BatchNormalization": 2, "InstanceNormalization": 8,
    "QuantizeLinear": 3, "DequantizeLinear": 2, "DynamicQuantizeLinear": 5, "Cast": 1,
}
_ELEMENTWISE = {k for k in ELEM_OPS_PER_ELEMENT} - {
    "Softmax", "QLinearSoftmax", "LogSoftmax", "LayerNormalization", "BatchNormalization",
    "InstanceNormalization"} - _QUANTIZE
_NORMALIZE = {"Softmax", "QLinearSoftmax", "LogSoftmax", "LayerNormalization",
              "BatchNormalization", "InstanceNormalization"}

#: Every op type socsim can cost.
SUPPORTED_OPS: frozenset[str] = frozenset(
    _CONV | _MATMUL | _GEMM | _POOL | _GLOBAL_POOL | _REDUCE | _VIEW | _COPY | _QUANTIZE
    | _ELEMENTWISE | _NORMALIZE)


def family_of(op_type: str, attrs: dict, in_shapes: list[tuple[int, ...]]) -> str:
    """The cost family of an op (see :data:`socsim.config.units.OP_FAMILIES`).

    Raises:
        UnsupportedOpError: for an op type socsim has no cost formula for.
    """
    if op_type in _CONV:
        group = int(attrs.get("group", 1))
        channels = in_shapes[0][1] if in_shapes and len(in_shapes[0]) > 1 else 1
        return "depthwise" if group > 1 and group == channels else "conv"
    if op_type in _MATMUL or op_type in _GEMM:
        return "gemm"
    if op_type in _POOL or op_type in _GLOBAL_POOL:
        return "pool"
    if op_type in _REDUCE:
        return "reduce"
    if op_type in _NORMALIZE:
        return "normalize"
    if op_type in _QUANTIZE:
        return "quantize"
    if op_type in _VIEW or op_type in _COPY:
        return "data"
    if op_type in _ELEMENTWISE:
        return "elementwise"
    raise UnsupportedOpError(
        f"socsim has no cost model for op type {op_type!r}; supported: "
        f"{', '.join(sorted(SUPPORTED_OPS))}")


def op_work(op_type: str, attrs: dict, in_shapes: list[tuple[int, ...]],
            out_shapes: list[tuple[int, ...]], weight_shapes: list[tuple[int, ...]]) -> tuple[int, int]:
    """(MACs, elementwise ops) of one op from its shapes, by the formulas in this module.

    Args:
        in_shapes: shapes of all inputs in ONNX order (activations and constants).
        out_shapes: shapes of its outputs.
        weight_shapes: unused by most formulas; kept for kernels with packed weights.
    """
    out = prod(out_shapes[0]) if out_shapes else 0
    if op_type in _CONV:
        w = in_shapes[3] if op_type == "QLinearConv" else in_shapes[1]
        return out * prod(w[1:]), 0
    if op_type in _MATMUL:
        a = in_shapes[0]
        return out * (a[-1] if a else 1), 0
    if op_type in _GEMM:
        a = in_shapes[0]
        trans_a = int(attrs.get("transA", 0))
        k = a[0] if trans_a else a[-1]
        return out * k, 0
    if op_type in _POOL:
        return 0, out * prod(attrs.get("kernel_shape", [1]))
    if op_type in _GLOBAL_POOL or op_type in _REDUCE:
        return 0, prod(in_shapes[0])
    if op_type in _VIEW:
        return 0, 0
    if op_type in _COPY:
        return 0, sum(prod(s) for s in out_shapes)
    return 0, out * ELEM_OPS_PER_ELEMENT[op_type]


def gemm_view(op_type: str, attrs: dict, in_shapes: list[tuple[int, ...]],
              out_shape: tuple[int, ...]) -> tuple[int, int, int, int]:
    """An op with MACs seen as ``groups`` independent GEMMs of (M x K) @ (K x N).

    Conv: M = batch * output pixels, K = (C_in / group) * kernel area, N = C_out / group.
    MatMul: M = product of the leading output dims, N = last dim, K = reduced dim. A Gemm
    whose A has more than two dims reads it flattened to (dim 0, the rest), as when a Flatten
    producing it is a view the graph elides.

    Returns:
        (groups, M, K, N).
    """
    if op_type in _CONV:
        w = in_shapes[3] if op_type == "QLinearConv" else in_shapes[1]
        groups = int(attrs.get("group", 1))
        m = out_shape[0] * prod(out_shape[2:])
        return groups, m, prod(w[1:]), w[0] // groups
    n = out_shape[-1]
    m = prod(out_shape[:-1])
    if op_type in _GEMM:
        a = in_shapes[0]
        if len(a) > 2:
            a = (a[0], prod(a[1:]))
        k = a[0] if int(attrs.get("transA", 0)) else a[-1]
    else:
        k = in_shapes[0][-1]
    return 1, m, k, n
