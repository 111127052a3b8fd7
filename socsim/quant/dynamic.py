"""Dynamic quantization of MatMul / Gemm, in the form onnxruntime's ``quantize_dynamic`` writes.

Weights are quantized offline (int8, symmetric, per tensor or per output column); the activation
is quantized at run time by ``DynamicQuantizeLinear`` (uint8, scale and zero point from the
tensor's own min/max, computed on every inference by the unit that runs that node), then

    y = Cast<float>(MatMulInteger(x_q, W_q, x_zp, 0)) * (x_scale * w_scale) [+ bias]

so the integer product is exact and only the final rescale is float. Other ops stay float.
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from socsim.quant.params import quantize, weight_qparams

__all__ = ["quantize_dynamic"]


def _attr(node: onnx.NodeProto, name: str, default: float) -> float:
    a = next((a for a in node.attribute if a.name == name), None)
    return default if a is None else helper.get_attribute_value(a)


def quantize_dynamic(model: onnx.ModelProto, *, per_channel: bool = False) -> onnx.ModelProto:
    """Rewrites every MatMul / Gemm with a float 2-D weight initializer (Gemm: alpha = beta = 1,
    transA = 0) as DynamicQuantizeLinear + MatMulInteger + rescale.

    Args:
        model: float model (not modified).
        per_channel: one weight scale per output column.

    Returns:
        The dynamically quantized model (opset unchanged; the ops exist since opset 11).
    """
    out = onnx.ModelProto()
    out.CopyFrom(model)
    g = out.graph
    inits = {i.name: i for i in g.initializer}
    nodes: list[onnx.NodeProto] = []
    for n in g.node:
        ok = (n.op_type in ("MatMul", "Gemm") and n.input[1] in inits
              and len(inits[n.input[1]].dims) == 2
              and inits[n.input[1]].data_type == TensorProto.FLOAT)
        if ok and n.op_type == "Gemm":
            ok = (_attr(n, "alpha", 1.0) == 1.0 and _attr(n, "beta", 1.0) == 1.0
                  and not _attr(n, "transA", 0))
        if not ok:
            nodes.append(n)
            continue
        w = numpy_helper.to_array(inits[n.input[1]]).astype(np.float32)
        if n.op_type == "Gemm" and _attr(n, "transB", 0):
            w = w.T
        qp = weight_qparams(w, "int8", per_channel=per_channel, axis=1)
        p = n.name or n.output[0]
        g.initializer.extend([
            numpy_helper.from_array(quantize(w, qp).astype(np.int8), f"{p}_W_quantized"),
            numpy_helper.from_array(qp.scale.astype(np.float32), f"{p}_W_scale"),
            numpy_helper.from_array(qp.zero_point.astype(np.int8), f"{p}_W_zero_point")])
        has_bias = n.op_type == "Gemm" and len(n.input) > 2 and n.input[2]
        y = n.output[0]
        prod = f"{p}_output_float" if has_bias else y
        nodes += [
            helper.make_node("DynamicQuantizeLinear", [n.input[0]],
                             [f"{p}_x_q", f"{p}_x_scale", f"{p}_x_zero_point"], name=f"{p}_DQL"),
            helper.make_node("MatMulInteger", [f"{p}_x_q", f"{p}_W_quantized",
                                               f"{p}_x_zero_point", f"{p}_W_zero_point"],
                             [f"{p}_acc"], name=f"{p}_MatMulInteger"),
            helper.make_node("Cast", [f"{p}_acc"], [f"{p}_acc_float"], name=f"{p}_Cast",
                             to=TensorProto.FLOAT),
            helper.make_node("Mul", [f"{p}_x_scale", f"{p}_W_scale"], [f"{p}_scale"],
                             name=f"{p}_scale_Mul"),
            helper.make_node("Mul", [f"{p}_acc_float", f"{p}_scale"], [prod],
                             name=f"{p}_rescale"),
        ]
        if has_bias:
            nodes.append(helper.make_node("Add", [prod, n.input[2]], [y], name=f"{p}_bias"))
    g.ClearField("node")
    g.node.extend(nodes)
    used = {i for x in g.node for i in x.input}
    kept = [i for i in g.initializer if i.name in used]
    g.ClearField("initializer")
    g.initializer.extend(kept)
    onnx.checker.check_model(out)
    return out
