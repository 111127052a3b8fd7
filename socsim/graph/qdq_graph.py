"""The QDQ fuser's vocabulary: rule names, op tables, a node list with producer/consumer
indexes, and the scale / zero point helpers of Q and DQ nodes (:mod:`socsim.graph.qdq_groups`
matches groups with them, :mod:`socsim.graph.qdq_nodes` builds their integer nodes)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import onnx
from onnx import helper

Rules = Literal["onnxruntime", "onnxruntime_x86", "tflite"]
RULES: tuple[str, ...] = ("onnxruntime", "onnxruntime_x86", "tflite")
MS_DOMAIN = "com.microsoft"
DEFAULT_DOMAINS = ("", "ai.onnx")

#: Data-movement ops run on the integers between a DQ and a Q of one scale and zero point.
MOVE_OPS = frozenset({"Reshape", "Transpose", "Flatten", "Squeeze", "Unsqueeze", "MaxPool",
                      "Identity", "Slice", "Gather"})
UNARY_MS = {"AveragePool": "QLinearAveragePool",
            "GlobalAveragePool": "QLinearGlobalAveragePool", "Sigmoid": "QLinearSigmoid",
            "LeakyRelu": "QLinearLeakyRelu", "Softmax": "QLinearSoftmax"}
BINARY_MS = {"Add": "QLinearAdd", "Mul": "QLinearMul"}
MATRIX_OPS = ("Conv", "MatMul", "Gemm")
#: TFLite-only groups (``rules="tflite"``), run by TFLite's kernels in this domain
#: (socsim.kernels.tflite.onnx_ops): SUB, TANH, HARD_SWISH, and QUANTIZE int8 -> int8.
TFLITE_DOMAIN = "ai.socsim.tflite"
TFLITE_UNARY = {"Tanh": "QLinearTanh", "HardSwish": "QLinearHardSwish"}
TFLITE_BINARY = {"Sub": "QLinearSub"}
ACTIVATIONS = ("Relu", "Clip")
#: Quantized types of Conv/MatMul/Gemm activations.
INT_TYPES = (np.int8, np.uint8, np.int16, np.uint16)

Params = tuple[str, str, str]
"""``(data, scale, zero_point)`` names of a Q or DQ node, zero point made explicit."""


@dataclass
class QGraph:
    """A node list with producer/consumer indexes and constant lookup (plus added constants)."""

    nodes: list[onnx.NodeProto]
    consts: dict[str, np.ndarray]
    outputs: set[str]
    opset: int
    #: leave 16-bit Conv/MatMul/Gemm groups unfused, as onnxruntime's CPU provider does
    unfused_16bit_matrix: bool = False
    new_consts: dict[str, np.ndarray] = field(default_factory=dict)
    producer: dict[str, onnx.NodeProto] = field(default_factory=dict)
    consumers: dict[str, list[onnx.NodeProto]] = field(default_factory=dict)

    def index(self) -> None:
        self.producer = {o: n for n in self.nodes for o in n.output if o}
        self.consumers = {}
        for n in self.nodes:
            for i in n.input:
                if i:
                    self.consumers.setdefault(i, []).append(n)

    def const(self, name: str) -> np.ndarray | None:
        if name in self.consts:
            return self.consts[name]
        return self.new_consts.get(name)

    def dq(self, tensor: str) -> onnx.NodeProto | None:
        n = self.producer.get(tensor)
        return n if n is not None and n.op_type == "DequantizeLinear" and n.domain in (
            DEFAULT_DOMAINS) else None

    def sole_reader(self, tensor: str) -> onnx.NodeProto | None:
        users = self.consumers.get(tensor, [])
        if tensor in self.outputs or len(users) != 1:
            return None
        return users[0]

    def only_q(self, tensor: str) -> onnx.NodeProto | None:
        q = self.sole_reader(tensor)
        return q if q is not None and q.op_type == "QuantizeLinear" and q.domain in (
            DEFAULT_DOMAINS) else None


def attr(node: onnx.NodeProto, name: str, default=None):
    """The decoded attribute ``name`` of ``node`` (``default`` when absent)."""
    for a in node.attribute:
        if a.name == name:
            return helper.get_attribute_value(a)
    return default


def params(g: QGraph, node: onnx.NodeProto, *, quantized_type: np.dtype | None = None
           ) -> Params | None:
    """``(data, scale, zero_point)`` of a DQ/Q node, zero point made explicit (an added
    constant); None if the scale or zero point is not constant or the node is blocked."""
    if attr(node, "block_size", 0):
        return None
    scale = node.input[1]
    if g.const(scale) is None:
        return None
    zp = node.input[2] if len(node.input) > 2 and node.input[2] else ""
    if zp and g.const(zp) is None:
        return None
    if not zp:
        if quantized_type is None:
            out_t = attr(node, "output_dtype", 0) or onnx.TensorProto.UINT8
            quantized_type = helper.tensor_dtype_to_np_dtype(out_t)
        zp = f"{node.name or node.output[0]}_zero_point_socsim"
        g.new_consts[zp] = np.zeros(g.const(scale).shape, dtype=quantized_type)
    return node.input[0], scale, zp


def per_tensor(g: QGraph, p: Params) -> bool:
    return g.const(p[1]).size == 1 and g.const(p[2]).size == 1


def same_params(g: QGraph, a: Params, b: Params) -> bool:
    sa, sb, za, zb = g.const(a[1]), g.const(b[1]), g.const(a[2]), g.const(b[2])
    return (sa.shape == sb.shape and za.dtype == zb.dtype and np.array_equal(sa, sb)
            and np.array_equal(za, zb))


def qtype(g: QGraph, p: Params) -> np.dtype:
    return g.const(p[2]).dtype
