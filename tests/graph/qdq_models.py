"""Hand-built QDQ models for the fuser's tests: ``x -> Q -> DQ -> Conv(DQ w, DQ b) ->
[activation] -> Q`` with chosen scales and zero points."""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

X_SCALE, W_SCALE = 0.02, 0.01


def conv_act_q(act: str | None = "Relu", *, y_scale: float = 0.05, y_zp: int = 0,
               clip: tuple[float, float] = (0.0, 6.0), dtype=np.int8, kernel: int = 1,
               channels: int = 4, seed: int = 0, opset: int = 19) -> onnx.ModelProto:
    """``DQ -> Conv -> act -> Q`` (``act`` None: ``Conv -> Q``), x [1, 3, 5, 5] float input
    quantized with (X_SCALE, 0), weights int8 (W_SCALE, 0), int32 bias."""
    rng = np.random.default_rng(seed)
    w = rng.integers(-127, 128, size=(channels, 3, kernel, kernel)).astype(np.int8)
    b = rng.integers(-2000, 2000, size=(channels,)).astype(np.int32)
    inits = [numpy_helper.from_array(np.array(X_SCALE, np.float32), "xs"),
             numpy_helper.from_array(np.array(0, dtype), "xz"),
             numpy_helper.from_array(np.array(W_SCALE, np.float32), "ws"),
             numpy_helper.from_array(np.array(0, np.int8), "wz"),
             numpy_helper.from_array(np.array(X_SCALE * W_SCALE, np.float32), "bs"),
             numpy_helper.from_array(np.array(0, np.int32), "bz"),
             numpy_helper.from_array(np.array(y_scale, np.float32), "ys"),
             numpy_helper.from_array(np.array(y_zp, dtype), "yz"),
             numpy_helper.from_array(w, "w"), numpy_helper.from_array(b, "b")]
    nodes = [helper.make_node("QuantizeLinear", ["x", "xs", "xz"], ["xq"], name="q_x"),
             helper.make_node("DequantizeLinear", ["xq", "xs", "xz"], ["xd"], name="dq_x"),
             helper.make_node("DequantizeLinear", ["w", "ws", "wz"], ["wd"], name="dq_w"),
             helper.make_node("DequantizeLinear", ["b", "bs", "bz"], ["bd"], name="dq_b"),
             helper.make_node("Conv", ["xd", "wd", "bd"], ["c"], name="conv",
                              pads=[kernel // 2] * 4)]
    pre_q = "c"
    if act == "Relu":
        nodes.append(helper.make_node("Relu", ["c"], ["a"], name="act"))
        pre_q = "a"
    elif act == "Clip":
        inits += [numpy_helper.from_array(np.array(clip[0], np.float32), "lo"),
                  numpy_helper.from_array(np.array(clip[1], np.float32), "hi")]
        nodes.append(helper.make_node("Clip", ["c", "lo", "hi"], ["a"], name="act"))
        pre_q = "a"
    nodes.append(helper.make_node("QuantizeLinear", [pre_q, "ys", "yz"], ["y"], name="q_y"))
    elem = helper.np_dtype_to_tensor_dtype(np.dtype(dtype))
    graph = helper.make_graph(
        nodes, "conv_act", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 5, 5])],
        [helper.make_tensor_value_info("y", elem, [1, channels, 5, 5])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 9
    return model


def weights_of(model: onnx.ModelProto) -> tuple[np.ndarray, np.ndarray]:
    inits = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    return inits["w"], inits["b"]
