"""ONNX -> Graph: QDQ fusion, cost descriptors, and clear errors for broken or unknown models."""

from __future__ import annotations

import onnx
import pytest
from onnx import TensorProto, helper

from socsim.errors import ModelError, UnsupportedOpError
from socsim.graph import load_graph
from socsim.zoo import build
from tests.conftest import two_op_model


def test_float_two_op_graph():
    g = load_graph(two_op_model())
    assert [op.name for op in g.ops] == ["mm", "relu"]
    mm, relu = g.ops
    assert (mm.macs, mm.family, mm.dtype, mm.weights) == (256 * 64, "gemm", "float32", ("W",))
    assert (relu.elem_ops, relu.family, relu.inputs) == (64, "elementwise", ("y",))
    assert g.tensors["W"].nbytes == 256 * 64 * 4 and g.tensors["W"].const


def test_qdq_groups_fuse_into_integer_ops():
    g = load_graph(build("resnet8_int8"))
    conv = g.ops[1]
    assert conv.op_type == "Conv" and conv.dtype == "int8"
    # the fused group covers the conv, its weight/bias/input DequantizeLinear and output Q
    kinds = sorted(n.split("_")[-1] for n in conv.nodes)
    assert "DequantizeLinear" in " ".join(conv.nodes) and "QuantizeLinear" in " ".join(conv.nodes)
    assert len(kinds) >= 4
    assert all(g.tensors[t].dtype == "int8" for t in (*conv.inputs, *conv.outputs))
    w = g.tensors[conv.weights[0]]
    assert w.dtype == "int8" and g.tensors[conv.weights[1]].dtype == "int32"
    # the model's only float boundaries are the input Q and the output DQ
    assert g.ops[0].op_type == "QuantizeLinear" and g.ops[-1].op_type == "DequantizeLinear"
    assert not any(op.op_type in ("QuantizeLinear", "DequantizeLinear") for op in g.ops[1:-1])


def test_fused_macs_equal_float_macs():
    for name in ("resnet8", "ds_cnn", "transformer_block"):
        assert load_graph(build(name)).total_macs == load_graph(build(f"{name}_int8")).total_macs


def test_depthwise_family():
    g = load_graph(build("ds_cnn_int8"))
    families = {op.family for op in g.ops if op.op_type == "Conv"}
    assert families == {"conv", "depthwise"}


def test_broken_file(tmp_path):
    path = tmp_path / "broken.onnx"
    path.write_bytes(b"not a protobuf at all")
    with pytest.raises(ModelError, match="not a readable ONNX model"):
        load_graph(path)


def test_invalid_model():
    model = two_op_model()
    model.graph.node[0].input[1] = "missing_weight"
    with pytest.raises(ModelError, match="invalid ONNX model"):
        load_graph(model)


def test_unsupported_op_lists_supported():
    node = helper.make_node("NonMaxSuppression", ["b", "s"], ["i"], name="nms")
    graph = helper.make_graph(
        [node], "g", [helper.make_tensor_value_info("b", TensorProto.FLOAT, [1, 4, 4]),
                      helper.make_tensor_value_info("s", TensorProto.FLOAT, [1, 1, 4])],
        [helper.make_tensor_value_info("i", TensorProto.INT64, [None, 3])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 19)])
    with pytest.raises(UnsupportedOpError, match="node 'nms'.*NonMaxSuppression.*supported: .*Conv"):
        load_graph(model)


def _qdq_conv_relu_model(relu_readers: int = 1) -> onnx.ModelProto:
    """DQ(x) -> Conv(DQ(w)) -> Q -> DQ -> Relu -> Q (-> DQ -> Add with the conv's output when
    ``relu_readers`` is 2, so the conv output has a second reader)."""
    import numpy as np
    from onnx import numpy_helper

    inits = [numpy_helper.from_array(np.array(0.05, np.float32), "s"),
             numpy_helper.from_array(np.array(0, np.int8), "zp"),
             numpy_helper.from_array(np.ones((4, 3, 3, 3), np.int8), "w")]
    nodes = [helper.make_node("QuantizeLinear", ["x", "s", "zp"], ["xq"], name="q_in"),
             helper.make_node("DequantizeLinear", ["xq", "s", "zp"], ["xd"], name="dq_in"),
             helper.make_node("DequantizeLinear", ["w", "s", "zp"], ["wd"], name="dq_w"),
             helper.make_node("Conv", ["xd", "wd"], ["c"], name="conv", pads=[1, 1, 1, 1]),
             helper.make_node("QuantizeLinear", ["c", "s", "zp"], ["cq"], name="q_c"),
             helper.make_node("DequantizeLinear", ["cq", "s", "zp"], ["cd"], name="dq_c"),
             helper.make_node("Relu", ["cd"], ["r"], name="relu"),
             helper.make_node("QuantizeLinear", ["r", "s", "zp"], ["y"], name="q_y")]
    if relu_readers == 2:
        nodes += [helper.make_node("DequantizeLinear", ["cq", "s", "zp"], ["cd2"], name="dq_c2"),
                  helper.make_node("DequantizeLinear", ["y", "s", "zp"], ["yd"], name="dq_y"),
                  helper.make_node("Add", ["cd2", "yd"], ["a"], name="add"),
                  helper.make_node("QuantizeLinear", ["a", "s", "zp"], ["out"], name="q_out")]
    out = "out" if relu_readers == 2 else "y"
    graph = helper.make_graph(
        nodes, "conv_relu", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8])],
        [helper.make_tensor_value_info(out, TensorProto.INT8, [1, 4, 8, 8])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 19)])
    model.ir_version = 9
    return model


def test_integer_activation_fuses_into_its_conv():
    g = load_graph(_qdq_conv_relu_model())
    assert [op.op_type for op in g.ops] == ["QuantizeLinear", "Conv"]
    conv = g.ops[1]
    assert conv.outputs == ("y",) and conv.attrs["fused_activation"] == "Relu"
    assert {"conv", "relu", "q_y"} <= set(conv.nodes)
    assert conv.macs == 4 * 3 * 3 * 3 * 8 * 8  # the activation adds no work


def test_activation_stays_apart_when_the_conv_output_has_other_readers():
    # the conv's Q has two readers: the Relu runs on its own, in float between a DQ and a Q,
    # as the kernels (and onnxruntime, zero point 0 != -128) execute it
    g = load_graph(_qdq_conv_relu_model(relu_readers=2))
    assert [op.op_type for op in g.ops] == ["QuantizeLinear", "Conv", "DequantizeLinear",
                                            "Relu", "QuantizeLinear", "Add"]
    assert g.op("relu").dtype == "float32" and g.op("add").dtype == "int8"

