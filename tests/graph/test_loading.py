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
