"""socsim's float Conv (run-time weights), Gemm and GlobalAveragePool against onnxruntime on this
host: zero differing elements (bit-exact), on shapes that take each of MLAS's paths.

The weights reach the Conv through a DequantizeLinear of int16 values, as in a 16-bit QDQ group
onnxruntime does not fuse; it keeps that node (it never folds a DequantizeLinear), so its Conv
runs ``MlasConv`` rather than the NCHWc kernels it uses for constant float weights.
"""

from __future__ import annotations

import numpy as np
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from socsim.execute import run_model


def _conv_model(c: int, m: int, k: tuple[int, int], hw: tuple[int, int], group: int = 1,
                pads=(0, 0, 0, 0), strides=(1, 1), bias: bool = True, seed: int = 0):
    rng = np.random.default_rng(seed)
    w = rng.integers(-32767, 32768, size=(m, c // group, *k)).astype(np.int16)
    inits = [numpy_helper.from_array(w, "wq"), numpy_helper.from_array(np.float32(3e-5), "ws"),
             numpy_helper.from_array(np.int16(0), "wz")]
    ins = ["x", "w"]
    if bias:
        inits.append(numpy_helper.from_array(rng.normal(size=m).astype(np.float32), "b"))
        ins.append("b")
    nodes = [helper.make_node("DequantizeLinear", ["wq", "ws", "wz"], ["w"]),
             helper.make_node("Conv", ins, ["y"], name="conv", group=group, pads=list(pads),
                              strides=list(strides), kernel_shape=list(k))]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info(
        "x", TensorProto.FLOAT, [2, c, *hw])], [helper.make_tensor_value_info(
            "y", TensorProto.FLOAT, None)], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 21)])
    model.ir_version = 10
    x = rng.normal(size=(2, c, *hw)).astype(np.float32)
    return model, {"x": x}


def _ort(model, feeds):
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    s = ort.InferenceSession(model.SerializeToString(), so, providers=["CPUExecutionProvider"])
    return s.run(None, feeds)[0]


def _ours(model, feeds):
    return run_model(model, feeds, arithmetic="onnxruntime").outputs


@pytest.mark.parametrize("case", [
    dict(c=16, m=32, k=(3, 3), hw=(8, 8), pads=(1, 1, 1, 1)),            # segmented, one K slice
    dict(c=128, m=8, k=(3, 3), hw=(4, 4), pads=(1, 1, 1, 1)),            # K = 1152: two slices
    dict(c=32, m=32, k=(3, 3), hw=(8, 8), group=32, pads=(1, 1, 1, 1)),  # depthwise: M1 kernel
    dict(c=64, m=48, k=(1, 1), hw=(6, 6)),                               # pointwise: GemmDirect
    dict(c=8, m=64, k=(3, 3), hw=(5, 5), strides=(2, 2), bias=False),    # M > N: ExpandThenGemm
    dict(c=8, m=12, k=(3, 3), hw=(3, 3)),                                # N = 1: flipped M1
    dict(c=3, m=16, k=(5, 5), hw=(11, 9), strides=(2, 1), pads=(2, 1, 1, 2)),
], ids=["segmented", "k-slices", "depthwise", "pointwise", "expand-then-gemm", "one-pixel",
     "strided"])
def test_conv_with_runtime_weights_is_bit_exact(case):
    model, feeds = _conv_model(**case)
    ours = _ours(model, feeds)["y"]
    ref = _ort(model, feeds)
    assert ours.shape == ref.shape
    assert np.count_nonzero(ours != ref) == 0


@pytest.mark.parametrize("hw", [(4, 4), (5, 5), (7, 3), (1, 1)])
def test_global_average_pool_is_bit_exact(hw):
    x = np.random.default_rng(1).normal(size=(3, 17, *hw)).astype(np.float32) * 100
    graph = helper.make_graph([helper.make_node("GlobalAveragePool", ["x"], ["y"])], "g",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, x.shape)],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 21)])
    model.ir_version = 10
    assert np.count_nonzero(_ours(model, {"x": x})["y"] != _ort(model, {"x": x})) == 0


@pytest.mark.parametrize("m, k, n, trans_b, const_b, bias", [  # A is always [M, K]
    (64, 128, 10, True, False, True),    # the digits classifier at batch 64
    (5, 300, 7, False, False, True),     # K slices (N small: 1024-deep slices) ... one here
    (4, 2100, 3, True, False, False),    # ... two here
    (1, 37, 9, False, False, True),      # one row: the M1 kernel
    (6, 600, 20, True, True, True),      # constant B: prepacked, 256-deep slices
    (1, 37, 9, True, False, True),       # one row, transposed B: M1TransposeB, rows 4+4+1
    (1, 130, 7, True, False, False),     # ... rows 4+2+1
    (1, 20, 6, True, False, True),       # ... rows 4+2
    (9, 44, 1, False, False, True),      # one column: the flipped small-M kernel
    (9, 300, 1, True, False, False),     # one column, transposed B (ldb = K): general path
])
def test_gemm_is_bit_exact(m, k, n, trans_b, const_b, bias):
    rng = np.random.default_rng(2)
    a = rng.normal(size=(m, k)).astype(np.float32)
    b = rng.normal(size=(n, k) if trans_b else (k, n)).astype(np.float32)
    inits = [numpy_helper.from_array(b, "b")] if const_b else []
    inputs = [helper.make_tensor_value_info("a", TensorProto.FLOAT, a.shape)]
    feeds = {"a": a}
    if not const_b:
        inputs.append(helper.make_tensor_value_info("b", TensorProto.FLOAT, b.shape))
        feeds["b"] = b
    names = ["a", "b"]
    if bias:
        inits.append(numpy_helper.from_array(rng.normal(size=n).astype(np.float32), "c"))
        names.append("c")
    graph = helper.make_graph([helper.make_node("Gemm", names, ["y"], transB=int(trans_b))],
                              "g", inputs, [helper.make_tensor_value_info(
                                  "y", TensorProto.FLOAT, None)], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 21)])
    model.ir_version = 10
    assert np.count_nonzero(_ours(model, feeds)["y"] != _ort(model, feeds)) == 0
