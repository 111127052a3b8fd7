"""QDQ groups: which ``DequantizeLinear -> op -> [activation] -> QuantizeLinear`` chains a
runtime runs as one integer operator, under a named runtime's rules.

This is socsim's one QDQ pattern matcher. The functional lowering
(:func:`socsim.graph.qdq_lowering.lower`, used by :mod:`socsim.kernels.qdq`) rewrites the
eligible groups into integer operators, and the timing graph (:mod:`socsim.graph.loading`)
builds its ops from that same lowered node list, so the simulated ops are the executed ones.

Rules (``rules=``):

- ``"onnxruntime_x86"``: onnxruntime's CPU provider on an x86 host (the installed onnxruntime,
  which socsim's kernels reproduce bit for bit): its QDQS8ToU8 rewrite, and no Conv/MatMul
  with int8 activations fused (MLAS's x86 kernels are u8s8).
- ``"onnxruntime"``: the same QDQ selectors without the x86 restrictions (onnxruntime on Arm,
  where s8s8 QLinearConv/QLinearMatMul run, and what an integer accelerator executes).
- ``"tflite"``: TFLite's integer semantics: Conv/MatMul/Gemm fused with int8 activations and
  a following Relu / Relu6 / ReluN1To1 (Clip) applied as TFLite's activation clamp.

A fused activation is a clamp ``[qmin, qmax]`` on the integer output (:attr:`QdqGroup.clamp`):
for TFLite the range ``CalculateActivationRangeQuantizedImpl`` computes
(tensorflow/lite/kernels/kernel_util.cc: ``zero_point + TfLiteRound(f / scale)``, float32
division, rounding half away from zero, limited to the type's range); for the onnxruntime
rules the exact integer equivalent of ``DQ -> Relu/Clip -> Q`` with one scale and zero point.
"""

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
_INT8ISH = (np.int8, np.uint8, np.int16, np.uint16)

Params = tuple[str, str, str]
"""``(data, scale, zero_point)`` names of a Q or DQ node, zero point made explicit."""


@dataclass(frozen=True)
class QdqGroup:
    """One ``DQ -> anchor -> [activation] -> Q`` group and whether the rules fuse it.

    Attributes:
        anchor: the compute node (its name is the fused op's name).
        kind: ``matrix`` (Conv/MatMul/Gemm), ``binary``, ``unary``, ``concat`` or ``move``.
        q: the QuantizeLinear whose scale and zero point requantize the output.
        output: the tensor the fused op writes (the last Q's output).
        operands: the anchor's inputs in ONNX order, each dequantized one replaced by the
            quantized tensor it dequantizes.
        dq: the DequantizeLinear node names feeding the anchor.
        activation: the nodes between the anchor's Q and the output, fused as the clamp
            (an activation, and for ``op -> Q -> DQ -> act -> Q`` the Q/DQ around it).
        clamp: ``(qmin, qmax)`` applied to the integer output, None when it is the type's
            whole range (nothing to clamp).
        eligible: whether the rules run the group as one integer op.
        reason: why not, when not eligible.
        lowered: the integer node replacing the group (eligible groups only).
    """

    anchor: onnx.NodeProto
    kind: str
    q: onnx.NodeProto
    output: str
    operands: tuple[str, ...]
    dq: tuple[str, ...]
    activation: tuple[onnx.NodeProto, ...] = ()
    clamp: tuple[int, int] | None = None
    eligible: bool = True
    reason: str = ""
    lowered: onnx.NodeProto | None = field(default=None, compare=False)


@dataclass
class QGraph:
    """A node list with producer/consumer indexes and constant lookup (plus added constants)."""

    nodes: list[onnx.NodeProto]
    consts: dict[str, np.ndarray]
    outputs: set[str]
    opset: int
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


def real_range(g: QGraph, act: onnx.NodeProto) -> tuple[float, float] | None:
    """The real interval an activation clamps to (Relu: [0, inf)); None for a Clip whose
    bounds are not constants."""
    if act.op_type == "Relu":
        return 0.0, np.inf
    if g.opset < 11:
        return float(attr(act, "min", -np.inf)), float(attr(act, "max", np.inf))
    bounds = []
    for k, default in ((1, -np.inf), (2, np.inf)):
        name = act.input[k] if len(act.input) > k else ""
        if not name:
            bounds.append(default)
            continue
        v = g.const(name)
        if v is None or v.size != 1:
            return None
        bounds.append(float(v.reshape(-1)[0]))
    return bounds[0], bounds[1]


def type_range(dtype: np.dtype) -> tuple[int, int]:
    info = np.iinfo(dtype)
    return int(info.min), int(info.max)


def activation_clamp(g: QGraph, act: onnx.NodeProto, qp: Params, rules: str
                     ) -> tuple[tuple[int, int] | None, str]:
    """The integer clamp ``act`` becomes on an output quantized by ``qp``, and why not ('' if
    it can).

    ``tflite``: TFLite's ``CalculateActivationRangeQuantizedImpl``
    (tensorflow/lite/kernels/kernel_util.cc) for its fused activations (Relu [0, inf), Relu6
    [0, 6], ReluN1To1 [-1, 1]; other constant Clip bounds by the same formula):
    ``zero_point + TfLiteRound(f / scale)`` (float32 division, half away from zero), limited
    to the type's range. Otherwise: ``zero_point + round_half_even(f / scale)``, the exact
    integer image of ``Q(clip(DQ(q)))`` when one scale and zero point are on both sides.
    """
    bounds = real_range(g, act)
    if bounds is None:
        return None, f"{act.op_type} {act.name!r} has non-constant bounds"
    if not per_tensor(g, qp):
        return None, "the output is quantized per channel"
    qmin, qmax = type_range(qtype(g, qp))
    scale = np.float32(g.const(qp[1]).reshape(-1)[0])
    zp = int(g.const(qp[2]).reshape(-1)[0])

    def quantize(f: float) -> int:
        v = float(np.float32(f) / scale)
        r = np.trunc(v + np.copysign(0.5, v)) if rules == "tflite" else np.round(v)
        return zp + int(r)

    lo = qmin if bounds[0] == -np.inf else max(qmin, quantize(bounds[0]))
    hi = qmax if bounds[1] == np.inf else min(qmax, quantize(bounds[1]))
    if lo > hi:
        return None, f"{act.op_type} {act.name!r} leaves no representable value"
    return (None if (lo, hi) == (qmin, qmax) else (lo, hi)), ""


def _output_path(g: QGraph, node: onnx.NodeProto, rules: str, matrix: bool
                 ) -> tuple[onnx.NodeProto, tuple[onnx.NodeProto, ...], str] | None:
    """``(q, activation nodes, output)`` of the chain after ``node``, or None if no Q ends it.

    Matched: ``op -> Q``; for Conv/MatMul/Gemm (``matrix``) also ``op -> Q -> DQ -> act -> Q``
    with one scale and zero point on the three (any rules) and ``op -> act -> Q`` (tflite;
    onnxruntime removes such an activation before fusing,
    :func:`socsim.graph.qdq_lowering.remove_quant_activations`).
    """
    out = node.output[0]
    q = g.only_q(out)
    if q is not None and not matrix:
        return q, (), q.output[0]
    if q is not None:
        dq = g.sole_reader(q.output[0])
        act = g.sole_reader(dq.output[0]) if dq is not None and dq.op_type == (
            "DequantizeLinear") else None
        q2 = g.only_q(act.output[0]) if act is not None and act.op_type in ACTIVATIONS \
            and act.domain in DEFAULT_DOMAINS else None
        if q2 is not None:
            p = [params(g, n) for n in (q, dq, q2)]
            if None not in p and same_params(g, p[0], p[1]) and same_params(g, p[0], p[2]):
                return q, (dq, act, q2), q2.output[0]
        return q, (), q.output[0]
    if rules != "tflite" or not matrix:
        return None
    act = g.sole_reader(out)
    if act is None or act.op_type not in ACTIVATIONS or act.domain not in DEFAULT_DOMAINS:
        return None
    q = g.only_q(act.output[0])
    return (q, (act,), q.output[0]) if q is not None else None


def _kind(node: onnx.NodeProto, rules: str) -> str | None:
    op = node.op_type
    if rules == "tflite" and (op in TFLITE_UNARY or op in TFLITE_BINARY
                              or op == "DequantizeLinear"):
        return "tflite"
    if op in MATRIX_OPS:
        return "matrix"
    if op in BINARY_MS:
        return "binary"
    if op in UNARY_MS:
        return "unary"
    if op == "Concat":
        return "concat"
    if op in MOVE_OPS or op == "Pad":
        return "move"
    return None


def match_group(g: QGraph, node: onnx.NodeProto, rules: str) -> QdqGroup | None:
    """The group anchored at ``node`` (eligible or with the reason it is not), or None when
    ``node`` is no anchor (not a fusable op type, or no QuantizeLinear ends its output)."""
    if node.domain not in DEFAULT_DOMAINS or len([o for o in node.output if o]) != 1:
        return None
    kind = _kind(node, rules)
    if kind is None:
        return None
    path = _output_path(g, node, rules, kind == "matrix")
    if path is None:
        return None
    q, acts, output = path
    dqs = [g.dq(t) if t else None for t in node.input] if kind != "tflite" or (
        node.op_type != "DequantizeLinear") else [None] * len(node.input)
    operands = tuple(d.input[0] if d is not None else t for d, t in zip(dqs, node.input))
    base = QdqGroup(node, kind, q, output, operands,
                    tuple(d.name for d in dqs if d is not None), acts)
    clamp = None
    qp = params(g, q)
    if qp is None:
        return _no(base, f"Q {q.name!r} has a non-constant or blocked scale/zero point")
    act = next((a for a in acts if a.op_type in ACTIVATIONS), None)
    if act is not None:
        clamp, why = activation_clamp(g, act, qp, rules)
        if why:
            return _no(base, why)
    lowered, why = lower_group(g, node, kind, qp, output, rules)
    if lowered is None:
        return _no(base, why)
    return QdqGroup(node, kind, q, output, operands, base.dq, acts, clamp, True, "", lowered)


def _no(group: QdqGroup, reason: str) -> QdqGroup:
    return QdqGroup(group.anchor, group.kind, group.q, group.output, group.operands, group.dq,
                    group.activation, None, False, reason)


def lower_group(g: QGraph, node: onnx.NodeProto, kind: str, qp: Params, y: str, rules: str
                ) -> tuple[onnx.NodeProto | None, str]:
    """The integer node of a group writing ``y`` (QOperator form: QLinearConv, QLinearMatMul,
    com.microsoft QGemm / QLinearAdd / ..., or the data-movement op on the integers), or None
    and the rule that stops it."""
    op, name = node.op_type, node.name

    def dq_params(tensor: str) -> Params | None:
        d = g.dq(tensor)
        if d is None:
            return None
        x = d.input[0]
        xt = g.const(x).dtype if g.const(x) is not None else None
        return params(g, d, quantized_type=xt)

    attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
    if kind == "tflite":
        return _lower_tflite(g, node, qp, y, dq_params)
    if kind == "matrix":
        xp, wp = dq_params(node.input[0]), dq_params(node.input[1])
        if xp is None or wp is None:
            return None, "an operand is not dequantized by a DequantizeLinear with constant " \
                "scale and zero point"
        if not per_tensor(g, xp) or not per_tensor(g, qp):
            return None, "input or output quantized per channel"
        if qtype(g, xp) not in _INT8ISH or (qtype(g, qp) != qtype(g, xp) and not (
                op == "Gemm" and {str(qtype(g, xp)), str(qtype(g, qp))} == {"int8", "uint8"})):
            # (QGemm takes an 8-bit output of the other signedness, as onnxruntime fuses it)
            return None, "input and output are not one 8/16-bit integer type"
        # onnxruntime's x86 build fuses no Conv/MatMul with int8 activations (its S8->U8 pass
        # converts the ones it can first): those stay DQ -> float op -> Q, as there.
        if rules == "onnxruntime_x86" and op != "Gemm" and qtype(g, xp) == np.int8:
            return None, "onnxruntime x86 fuses no Conv/MatMul with int8 activations"
        if qtype(g, xp) == np.int8 and qtype(g, wp) != np.int8:
            return None, "int8 activations need int8 weights"
        bias = ""
        if len(node.input) > 2 and node.input[2]:
            d = g.dq(node.input[2])
            if d is None or g.const(d.input[0]) is None or g.const(d.input[0]).dtype != np.int32:
                return None, "the bias is not a dequantized int32 constant"
            bias = d.input[0]
        if op == "Conv":
            if g.const(wp[0]) is None:
                return None, "the weights are not constant"
            return helper.make_node("QLinearConv", [*xp, *wp, *qp[1:], bias] if bias
                                    else [*xp, *wp, *qp[1:]], [y], name=name, **attrs), ""
        if op == "MatMul":
            return helper.make_node("QLinearMatMul", [*xp, *wp, *qp[1:]], [y], name=name), ""
        if float(attrs.get("beta", 1.0)) != 1.0 or g.const(wp[0]) is None:
            return None, "Gemm with beta != 1 or non-constant weights"
        attrs.pop("beta", None)
        return helper.make_node("QGemm", [*xp, *wp, bias, *qp[1:]], [y], name=name,
                                domain=MS_DOMAIN, **attrs), ""
    if kind == "binary":
        ap, bp = dq_params(node.input[0]), dq_params(node.input[1])
        if ap is None or bp is None or not all(per_tensor(g, p) for p in (ap, bp, qp)):
            return None, "an input is not dequantized per tensor"
        if not qtype(g, ap) == qtype(g, bp) == qtype(g, qp) or qtype(g, qp) not in (
                np.int8, np.uint8):
            return None, "inputs and output are not one 8-bit type"
        return helper.make_node(BINARY_MS[op], [*ap, *bp, *qp[1:]], [y], name=name,
                                domain=MS_DOMAIN), ""
    if kind == "unary":
        xp = dq_params(node.input[0])
        if xp is None or not per_tensor(g, xp) or not per_tensor(g, qp):
            return None, "the input is not dequantized per tensor"
        if not qtype(g, xp) == qtype(g, qp) or qtype(g, qp) not in (np.int8, np.uint8):
            return None, "input and output are not one 8-bit type"
        if op == "Softmax":
            attrs = {"axis": attrs.get("axis", -1 if g.opset >= 13 else 1), "opset": g.opset}
        return helper.make_node(UNARY_MS[op], [*xp, *qp[1:]], [y], name=name,
                                domain=MS_DOMAIN, **attrs), ""
    if kind == "concat":
        ps = [dq_params(i) for i in node.input]
        if any(p is None or not per_tensor(g, p) for p in ps) or not per_tensor(g, qp):
            return None, "an input is not dequantized per tensor"
        if any(qtype(g, p) != qtype(g, qp) for p in ps):
            return None, "inputs and output are not one type"
        flat = [t for p in ps for t in p]
        return helper.make_node("QLinearConcat", [*qp[1:], *flat], [y], name=name,
                                domain=MS_DOMAIN, **attrs), ""
    xp = dq_params(node.input[0])
    if xp is None or not same_params(g, xp, qp):
        return None, "input and output quantized differently"
    inputs = [xp[0], *node.input[1:]]
    if op == "Pad":
        # zero padding is the zero point on the integers (exact: Q(0.0) = zero point)
        value = g.const(node.input[2]) if len(node.input) > 2 and node.input[2] else None
        if (attr(node, "mode", b"constant") not in (b"constant", "constant") or g.opset < 11
                or (value is not None and float(value.reshape(-1)[0]) != 0.0)
                or (len(node.input) > 2 and node.input[2] and value is None)
                or not per_tensor(g, xp)):
            return None, "only constant zero padding runs on the integers"
        inputs = [xp[0], node.input[1], xp[2], *node.input[3:]]
    return helper.make_node(op, inputs, [y], name=name, **attrs), ""


def _lower_tflite(g: QGraph, node: onnx.NodeProto, qp: Params, y: str, dq_params
                  ) -> tuple[onnx.NodeProto | None, str]:
    """TFLite-only groups (``ai.socsim.tflite`` ops, run by TFLite's kernels): SUB, TANH,
    HARD_SWISH between a DQ and a Q, and an activation's ``DQ -> Q`` (TFLite's int8 -> int8
    QUANTIZE, ``Requantize``)."""
    op = node.op_type
    if not per_tensor(g, qp):
        return None, "the output is quantized per channel"
    if op == "DequantizeLinear":
        xp = params(g, node)
        if xp is None or g.const(node.input[0]) is not None or not per_tensor(g, xp):
            return None, "requantizes a constant or a per-channel tensor"
        return helper.make_node("Requantize", [*xp, *qp[1:]], [y], name=node.name,
                                domain=TFLITE_DOMAIN), ""
    if op in TFLITE_UNARY:
        xp = dq_params(node.input[0])
        if xp is None or not per_tensor(g, xp) or qtype(g, xp) != qtype(g, qp):
            return None, "the input is not dequantized per tensor in the output's type"
        return helper.make_node(TFLITE_UNARY[op], [*xp, *qp[1:]], [y], name=node.name,
                                domain=TFLITE_DOMAIN), ""
    ap, bp = dq_params(node.input[0]), dq_params(node.input[1])
    if ap is None or bp is None or not (per_tensor(g, ap) and per_tensor(g, bp)):
        return None, "an input is not dequantized per tensor"
    return helper.make_node(TFLITE_BINARY[op], [*ap, *bp, *qp[1:]], [y], name=node.name,
                            domain=TFLITE_DOMAIN), ""
