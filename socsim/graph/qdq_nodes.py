"""The integer node of an eligible QDQ group (QOperator form), or the rule that stops it.

QLinearConv / QLinearMatMul / com.microsoft QGemm for Conv / MatMul / Gemm; com.microsoft
QLinearAdd, QLinearMul, QLinearAveragePool, ... for the other ops onnxruntime fuses; the
data-movement op itself on the integers; ai.socsim.tflite ops for TFLite-only groups.
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import helper

from socsim.graph.qdq_graph import (
    BINARY_MS,
    INT_TYPES,
    MS_DOMAIN,
    TFLITE_BINARY,
    TFLITE_DOMAIN,
    TFLITE_UNARY,
    UNARY_MS,
    Params,
    QGraph,
    attr,
    params,
    per_tensor,
    qtype,
    same_params,
)


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
        if qtype(g, xp) not in INT_TYPES or (qtype(g, qp) != qtype(g, xp) and not (
                op == "Gemm" and {str(qtype(g, xp)), str(qtype(g, qp))} == {"int8", "uint8"})):
            # (QGemm takes an 8-bit output of the other signedness, as onnxruntime fuses it)
            return None, "input and output are not one 8/16-bit integer type"
        if g.unfused_16bit_matrix and qtype(g, xp) in (np.int16, np.uint16):
            # onnxruntime's QDQ selectors fuse no 16-bit Conv/MatMul/Gemm (no such integer
            # kernel): DQ -> float op -> Q there, as here with arithmetic="onnxruntime"
            return None, "onnxruntime has no 16-bit integer kernel for this op"
        # onnxruntime's x86 build fuses no Conv/MatMul with int8 activations (its S8->U8 pass
        # converts the ones it can first): those stay DQ -> float op -> Q, as there.
        if rules == "onnxruntime_x86" and op != "Gemm" and qtype(g, xp) == np.int8:
            return None, "onnxruntime x86 fuses no Conv/MatMul with int8 activations"
        w4 = str(qtype(g, wp)) in ("int4", "uint4")
        if w4 and rules != "onnxruntime":
            # onnxruntime has no 4-bit-weight QLinearConv/MatMul: DQ -> float op -> Q there;
            # a target unit (the timing graph's rules) runs them as integer work (W4A8)
            return None, "4-bit weights have no integer kernel in onnxruntime"
        if qtype(g, xp) == np.int8 and qtype(g, wp) != np.int8 and not w4:
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
