"""TFLite's rules for the QDQ fuser (``qdq="tflite"``): the groups a converter's QDQ model
holds for TFLite operators that onnxruntime has no fused form of.

* ``Conv / MatMul / Gemm -> Relu | Clip -> QuantizeLinear``: the integer op followed by an
  integer Clip to TFLite's activation range (``CalculateActivationRangeQuantized``:
  ``zp + round(f / s)`` in float32, ties away from zero, within the type's range);
* ``DQ -> Sub -> Q``, ``DQ -> Tanh -> Q``, ``DQ -> HardSwish -> Q``: ``ai.socsim.tflite``
  QLinearSub / QLinearTanh / QLinearHardSwish (inputs in com.microsoft's QLinear order);
* ``DequantizeLinear -> QuantizeLinear`` of an activation: ``ai.socsim.tflite`` Requantize
  (TFLite's int8 -> int8 QUANTIZE).

The kernels are :mod:`socsim.kernels.tflite.onnx_ops`.
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import helper

from socsim.kernels.tflite.base import round_away
from socsim.kernels.tflite.onnx_ops import TFLITE_DOMAIN

_UNARY = {"Tanh": "QLinearTanh", "HardSwish": "QLinearHardSwish"}
_BINARY = {"Sub": "QLinearSub"}


def _clamp_bounds(g, act: onnx.NodeProto) -> tuple[float, float] | None:
    if act.op_type == "Relu":
        return 0.0, np.inf
    lo, hi = -np.inf, np.inf
    ins = list(act.input) + ["", ""]
    for k, name in ((0, ins[1]), (1, ins[2])):
        if not name:
            continue
        v = g.const(name)
        if v is None:
            return None
        if k == 0:
            lo = float(np.asarray(v).reshape(-1)[0])
        else:
            hi = float(np.asarray(v).reshape(-1)[0])
    return lo, hi


def match(g, node: onnx.NodeProto, params, per_tensor, qtype, lower_one):
    """``(replacement nodes, output)`` of a TFLite-only group starting at ``node``, or None."""
    op = node.op_type
    if op == "DequantizeLinear":
        users = g.consumers.get(node.output[0], [])
        if (len(users) != 1 or users[0].op_type != "QuantizeLinear"
                or node.output[0] in g.outputs or g.const(node.input[0]) is not None):
            return None
        xp, qp = params(g, node), params(g, users[0])
        if xp is None or qp is None or not per_tensor(g, xp) or not per_tensor(g, qp):
            return None
        y = users[0].output[0]
        return [helper.make_node("Requantize", [*xp, *qp[1:]], [y], name=node.name,
                                 domain=TFLITE_DOMAIN)], y
    if op in ("Conv", "MatMul", "Gemm"):
        users = g.consumers.get(node.output[0], [])
        if (len(users) != 1 or users[0].op_type not in ("Relu", "Clip")
                or node.output[0] in g.outputs):
            return None
        act = users[0]
        q = g.only_q(act.output[0])
        bounds = _clamp_bounds(g, act)
        if q is None or bounds is None:
            return None
        fake = onnx.NodeProto()
        fake.CopyFrom(node)
        fake.output[0] = act.output[0]
        res = lower_one(g, fake, "tflite_plain")
        if res is None:
            return None
        new, y = res
        qp = params(g, q)
        s = np.float32(np.asarray(g.const(qp[1])).reshape(-1)[0])
        zp_arr = g.const(qp[2])
        zp = int(np.asarray(zp_arr).reshape(-1)[0])
        info = np.iinfo(zp_arr.dtype)
        lo = info.min if bounds[0] == -np.inf else max(
            info.min, zp + int(round_away(np.float32(bounds[0]) / s)))
        hi = info.max if bounds[1] == np.inf else min(
            info.max, zp + int(round_away(np.float32(bounds[1]) / s)))
        if (lo, hi) == (info.min, info.max):
            return new, y
        raw = f"{y}_raw_socsim"
        new[-1].output[0] = raw
        names = (f"{node.name}_clamp_lo_socsim", f"{node.name}_clamp_hi_socsim")
        g.new_consts[names[0]] = np.array(lo, zp_arr.dtype)
        g.new_consts[names[1]] = np.array(hi, zp_arr.dtype)
        clip = helper.make_node("Clip", [raw, *names], [y], name=f"{node.name}_clamp_socsim")
        return [*new, clip], y
    q = g.only_q(node.output[0])
    if q is None:
        return None
    qp = params(g, q)
    if qp is None or not per_tensor(g, qp):
        return None

    def dq_params(t):
        d = g.dq(t)
        return None if d is None else params(g, d)

    y = q.output[0]
    if op in _UNARY:
        xp = dq_params(node.input[0])
        if xp is None or not per_tensor(g, xp) or qtype(g, xp) != qtype(g, qp):
            return None
        return [helper.make_node(_UNARY[op], [*xp, *qp[1:]], [y], name=node.name,
                                 domain=TFLITE_DOMAIN)], y
    if op in _BINARY:
        ap, bp = dq_params(node.input[0]), dq_params(node.input[1])
        if ap is None or bp is None or not (per_tensor(g, ap) and per_tensor(g, bp)):
            return None
        return [helper.make_node(_BINARY[op], [*ap, *bp, *qp[1:]], [y], name=node.name,
                                 domain=TFLITE_DOMAIN)], y
    return None
