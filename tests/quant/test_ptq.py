"""Quantized digits models: onnxruntime and socsim.execute agree bit for bit; accuracy holds."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx.reference import ReferenceEvaluator

import socsim
from socsim.execute import run_model
from socsim.quant import Recipe, accuracy, quantize_static

RECIPES = [Recipe("int8"), Recipe("int8", per_channel=True),
           Recipe("int8", method="percentile", equalize=True, bias_correction=True),
           Recipe("int8", symmetric=True, method="mse"), Recipe("int8", method="entropy"),
           ]


def _ort(model, x):
    s = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return s.run(None, {"input": x})[0]


@pytest.mark.parametrize("recipe", RECIPES, ids=["int8_pt", "int8_pc", "int8_pctl_cle_bc",
                                                  "int8_sym_mse", "int8_entropy"])
@pytest.mark.parametrize("which", [0, 1], ids=["cnn", "dscnn"])
def test_socsim_matches_onnxruntime_exactly(digits, recipe, which):
    model, calib, test = digits[which], digits[2], digits[3]
    q = quantize_static(model, calib, recipe).model
    x = test["input"][:16]
    ours = socsim.execute(q, {"input": x}, arithmetic="onnxruntime")["logits"]
    assert np.count_nonzero(ours != _ort(q, x)) == 0



@pytest.mark.parametrize("per_channel", [True, False], ids=["pc", "pt"])
@pytest.mark.parametrize("which", [0, 1], ids=["cnn", "dscnn"])
def test_int16_equals_onnxruntime(digits, which, per_channel):
    """int16 activations and weights with ``arithmetic="onnxruntime"``: onnxruntime's CPU EP
    fuses no 16-bit Conv/Gemm, so it runs DequantizeLinear -> float32 Conv/Gemm -> QuantizeLinear
    with MLAS's float kernels; socsim does the same in MLAS's order
    (:mod:`socsim.kernels._mlas_ops`): zero differing elements (before: 317-372 of 6000 logits
    on the 600 test images, one int16 step each)."""
    model, calib, test = digits[which], digits[2], digits[3]
    q = quantize_static(model, calib, Recipe("int16", per_channel=per_channel)).model
    x = test["input"][:64]
    res = run_model(q, {"input": x}, arithmetic="onnxruntime")
    assert {s.op_type for s in res.stats.values()} >= {"Conv", "Gemm", "DequantizeLinear"}
    assert np.count_nonzero(res.outputs["logits"] != _ort(q, x)) == 0


@pytest.mark.parametrize("which", [0, 1], ids=["cnn", "dscnn"])
def test_int16_integer_kernels_within_one_step_of_onnxruntime_and_reference(digits, which):
    """The integer path (a unit's arithmetic, not onnxruntime's): 16-bit groups lowered to
    QLinearConv/QGemm, exact 64-bit sums and an ``onnx_rne`` requantization. It rounds
    differently from the float32 runtimes only where their float sums land next to a half
    step: one output step at most. Before the accumulator fix the int32 accumulator clipped
    thousands of sums and the logits moved by up to 10 steps."""
    model, calib, test = digits[which], digits[2], digits[3]
    q = quantize_static(model, calib, Recipe("int16", per_channel=True)).model
    x = test["input"][:16]
    res = run_model(q, {"input": x})
    assert "QLinearConv" in {s.op_type for s in res.stats.values()}
    assert sum(s.accumulator_saturations for s in res.stats.values()) == 0
    step = float(onnx.numpy_helper.to_array(next(
        i for i in q.graph.initializer if i.name == next(
            n.input[1] for n in q.graph.node if n.op_type == "DequantizeLinear"
            and n.output[0] == "logits"))))
    ours = np.rint(res.outputs["logits"] / step)  # the int16 levels of the logits
    for other in (_ort(q, x), ReferenceEvaluator(q).run(None, {"input": x})[0]):
        assert np.abs(ours - np.rint(other / step)).max() <= 1
        assert np.array_equal(ours.argmax(axis=1), other.argmax(axis=1))


@pytest.mark.parametrize("which", [0, 1], ids=["cnn", "dscnn"])
def test_int4_matches_reference_evaluator(digits, which):
    model, calib, test = digits[which], digits[2], digits[3]
    q = quantize_static(model, calib, Recipe("int4", per_channel=True)).model
    assert q.opset_import[0].version == 21
    x = test["input"][:4]
    ref = ReferenceEvaluator(q).run(None, {"input": x})[0]
    ours = socsim.execute(q, {"input": x}, qdq="reference")["logits"]
    assert np.count_nonzero(ours != ref) == 0
    # onnxruntime runs it too, to float rounding of a different summation order
    np.testing.assert_allclose(_ort(q, x), ref, rtol=1e-4, atol=1e-4)


def test_int8_keeps_accuracy_and_relu_is_folded(digits):
    model, _, calib, test = digits
    res = quantize_static(model, calib, Recipe("int8", per_channel=True))
    assert accuracy(res.model, test) >= accuracy(model, test) - 0.01
    ops = [n.op_type for n in res.model.graph.node]
    assert "Relu" not in ops  # folded into the producers' QuantizeLinear (zero point = qmin)
    assert res.weight_bytes < sum(4 * r.params for r in res.layers) / 3.5


def test_symmetric_activations_keep_relu(digits):
    model, _, calib, _ = digits
    q = quantize_static(model, calib, Recipe("int8", symmetric=True)).model
    assert "Relu" in [n.op_type for n in q.graph.node]


def test_bias_correction_raises_sqnr_at_int4(digits):
    from socsim.quant import outputs, sqnr_db

    model, _, calib, test = digits
    ref = outputs(model, {"input": test["input"]})
    plain = quantize_static(model, calib, Recipe("int4", per_channel=True)).model
    fixed = quantize_static(model, calib, Recipe("int4", per_channel=True,
                                                 bias_correction=True)).model
    assert sqnr_db(ref, outputs(fixed, {"input": test["input"]})) > \
        sqnr_db(ref, outputs(plain, {"input": test["input"]}))


def test_depthwise_model_per_tensor_collapse_is_recovered(digits):
    # The depthwise-separable digits model has one depthwise channel ~400x the median range;
    # per-tensor int8 weights lose accuracy there, per-channel scales and cross-layer
    # equalization (with bias correction) bring it back to within a point of float.
    _, model, calib, test = digits
    fl = accuracy(model, test)
    pt = accuracy(quantize_static(model, calib, Recipe("int8")).model, test)
    pc = accuracy(quantize_static(model, calib, Recipe("int8", per_channel=True)).model, test)
    cle = accuracy(quantize_static(model, calib, Recipe("int8", equalize=True,
                                                        bias_correction=True)).model, test)
    assert pt < fl - 0.1
    assert pc >= fl - 0.01 and cle >= fl - 0.01


def test_mixed_int4_int8_matches_reference_evaluator(digits):
    _, model, calib, test = digits
    dtypes = {"conv5": "int4", "conv7": "int4", "gemm1": "int4"}
    q = quantize_static(model, calib, Recipe("mixed", per_channel=True,
                                             weight_dtypes=dtypes)).model
    kinds = {i.name.removesuffix("_W_quantized"): i.data_type for i in q.graph.initializer
             if i.name.endswith("_W_quantized")}
    assert {k for k, t in kinds.items() if t == onnx.TensorProto.INT4} == set(dtypes)
    x = test["input"][:4]
    ref = ReferenceEvaluator(q).run(None, {"input": x})[0]
    assert np.count_nonzero(socsim.execute(q, {"input": x}, qdq="reference")["logits"] != ref) == 0


def test_int16_conv_zero_point_at_qmin_matches_onnxruntime_and_reference():
    """The narrowed case of issue 13: one 3x3 Conv, int16 weights across the whole range,
    int16 input on [0, 1] (zero point -32768), 100 outputs: 30-72 of them were clipped by
    an int32 accumulator; now all equal onnxruntime and the reference evaluator."""
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    w = rng.integers(-32767, 32768, size=(4, 3, 3, 3)).astype(np.int16)
    consts = {"w": w, "ws": np.float32(1e-4), "wz": np.int16(0), "xs": np.float32(1 / 65535),
              "xz": np.int16(-32768), "ys": np.float32(0.05), "yz": np.int16(0)}
    nodes = [helper.make_node("QuantizeLinear", ["x", "xs", "xz"], ["xq"]),
             helper.make_node("DequantizeLinear", ["xq", "xs", "xz"], ["xd"]),
             helper.make_node("DequantizeLinear", ["w", "ws", "wz"], ["wd"]),
             helper.make_node("Conv", ["xd", "wd"], ["c"], name="conv", pads=[1, 1, 1, 1]),
             helper.make_node("QuantizeLinear", ["c", "ys", "yz"], ["cq"]),
             helper.make_node("DequantizeLinear", ["cq", "ys", "yz"], ["y"])]
    graph = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 5, 5])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        [numpy_helper.from_array(np.asarray(v), k) for k, v in consts.items()])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 21)])
    model.ir_version = 10
    x = rng.random((1, 3, 5, 5)).astype(np.float32)
    s = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    expected = s.run(None, {"x": x})[0]
    res = run_model(model, {"x": x})  # integer kernels
    assert res.stats["conv"].op_type == "QLinearConv"
    ours = res.outputs["y"]
    assert np.count_nonzero(ours != expected) == 0
    assert np.count_nonzero(ours != ReferenceEvaluator(model).run(None, {"x": x})[0]) == 0
    # following onnxruntime: its float Conv (unfused), the same outputs
    res = run_model(model, {"x": x}, arithmetic="onnxruntime")
    assert res.stats["conv"].op_type == "Conv"
    assert np.count_nonzero(res.outputs["y"] != expected) == 0
