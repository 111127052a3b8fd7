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

import numpy as np
import onnx

from socsim.graph.qdq_graph import (
    ACTIVATIONS,
    BINARY_MS,
    DEFAULT_DOMAINS,
    MATRIX_OPS,
    MOVE_OPS,
    MS_DOMAIN,
    RULES,
    TFLITE_BINARY,
    TFLITE_DOMAIN,
    TFLITE_UNARY,
    UNARY_MS,
    Params,
    QGraph,
    Rules,
    attr,
    params,
    per_tensor,
    qtype,
    same_params,
)
from socsim.graph.qdq_nodes import lower_group

__all__ = ["ACTIVATIONS", "BINARY_MS", "DEFAULT_DOMAINS", "MATRIX_OPS", "MOVE_OPS", "MS_DOMAIN",
           "RULES", "TFLITE_BINARY", "TFLITE_DOMAIN", "TFLITE_UNARY", "UNARY_MS", "Params",
           "QGraph", "QdqGroup", "Rules", "activation_clamp", "attr", "match_group", "params",
           "per_tensor", "qtype", "real_range", "same_params", "type_range"]


@dataclass(frozen=True)
class QdqGroup:
    """One ``DQ -> anchor -> [activation] -> Q`` group and whether the rules fuse it.

    Attributes:
        anchor: the compute node (its name is the fused op's name).
        kind: ``matrix`` (Conv/MatMul/Gemm), ``binary``, ``unary``, ``concat``, ``move`` or
            ``tflite`` (TFLite-only groups: Sub, Tanh, HardSwish, DQ -> Q).
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


def _output_path(g: QGraph, node: onnx.NodeProto, rules: str, fuses_activation: bool
                 ) -> tuple[onnx.NodeProto, tuple[onnx.NodeProto, ...], str] | None:
    """``(q, activation nodes, output)`` of the chain after ``node``, or None if no Q ends it.

    Matched: ``op -> Q``; for ops that fuse an activation (Conv/MatMul/Gemm; with tflite
    also Add/Mul/Sub, whose TFLite kernels clamp to the fused activation's range too) also
    ``op -> Q -> DQ -> act -> Q`` with one scale and zero point on the three (any rules) and
    ``op -> act -> Q`` (tflite;
    onnxruntime removes such an activation before fusing,
    :func:`socsim.graph.qdq_lowering.remove_quant_activations`).
    """
    out = node.output[0]
    q = g.only_q(out)
    if q is not None and not fuses_activation:
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
    if rules != "tflite" or not fuses_activation:
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
    path = _output_path(g, node, rules, kind == "matrix" or (
        rules == "tflite" and node.op_type in ("Add", "Mul", "Sub")))
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
