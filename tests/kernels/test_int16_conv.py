"""16-bit QLinearConv / QGemm groups: sums beyond int32 are kept, not clipped (issue 13).

Hand case: a 1x1 Conv over 3 channels, int16 input with zero point -32768 and value 32767
(``x - x_zp = 65535``), int16 weights 16384, scales x 2^-16, w 2^-15, y 2^-14. Every
quantity is a power of two times a small integer, so float32 holds each exactly:

    acc = 3 * 65535 * 16384 = 3,221,176,320       (> 2^31 - 1 = 2,147,483,647)
    y   = rne(acc * 2^-16 * 2^-15 / 2^-14) = rne(24575.625) = 24576  ->  24576 * 2^-14 = 1.5

An int32 accumulator clips acc to 2^31 - 1, which gives 16384 (1.0): the issue's symptom.
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from socsim.execute import run_model


def _one_conv(w: np.ndarray, channels: int) -> onnx.ModelProto:
    consts = {"xs": np.float32(2.0**-16), "xz": np.int16(-32768), "ws": np.float32(2.0**-15),
              "wz": np.int16(0), "ys": np.float32(2.0**-14), "yz": np.int16(0), "w": w}
    nodes = [helper.make_node("QuantizeLinear", ["x", "xs", "xz"], ["xq"]),
             helper.make_node("DequantizeLinear", ["xq", "xs", "xz"], ["xd"]),
             helper.make_node("DequantizeLinear", ["w", "ws", "wz"], ["wd"]),
             helper.make_node("Conv", ["xd", "wd"], ["c"], name="conv"),
             helper.make_node("QuantizeLinear", ["c", "ys", "yz"], ["cq"]),
             helper.make_node("DequantizeLinear", ["cq", "ys", "yz"], ["y"])]
    graph = helper.make_graph(
        nodes, "int16_conv",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, channels, 1, 1])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        [numpy_helper.from_array(np.asarray(v), k) for k, v in consts.items()])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 21)])
    model.ir_version = 10
    return model


def test_int16_sum_beyond_int32_is_not_clipped():
    model = _one_conv(np.full((1, 3, 1, 1), 16384, np.int16), 3)
    res = run_model(model, {"x": np.ones((1, 3, 1, 1), np.float32)})
    assert res.stats["conv"].op_type == "QLinearConv"  # the integer path ran
    assert res.outputs["y"].item() == 1.5  # 24576 * 2^-14; clipped would be 1.0
    assert res.stats["conv"].accumulator_saturations == 0


def test_int16_negative_sum_beyond_int32():
    # weights -16384: acc = -3,221,176,320 -> rne(-24575.625) = -24576 -> -1.5
    model = _one_conv(np.full((1, 3, 1, 1), -16384, np.int16), 3)
    y = run_model(model, {"x": np.ones((1, 3, 1, 1), np.float32)}).outputs["y"]
    assert y.item() == -1.5
