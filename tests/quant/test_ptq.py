"""Quantized digits models: onnxruntime and socsim.execute agree bit for bit; accuracy holds."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx.reference import ReferenceEvaluator

import socsim
from socsim.quant import Recipe, accuracy, quantize_static

RECIPES = [Recipe("int8"), Recipe("int8", per_channel=True),
           Recipe("int8", method="percentile", equalize=True, bias_correction=True),
           Recipe("int8", symmetric=True, method="mse"), Recipe("int8", method="entropy"),
           pytest.param(Recipe("int16", per_channel=True), marks=pytest.mark.xfail(
               strict=True, reason="socsim.execute's integer path differs from onnxruntime and the ONNX "
               "reference (which agree) for a Conv with int16 weights and an int16 input whose "
               "zero point is -32768 (range starting at 0): a socsim/kernels issue, see "
               "docs/quantization.md"))]


def _ort(model, x):
    s = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return s.run(None, {"input": x})[0]


@pytest.mark.parametrize("recipe", RECIPES, ids=["int8_pt", "int8_pc", "int8_pctl_cle_bc",
                                                  "int8_sym_mse", "int8_entropy", "int16_pc"])
@pytest.mark.parametrize("which", [0, 1], ids=["cnn", "dscnn"])
def test_socsim_matches_onnxruntime_exactly(digits, recipe, which):
    model, calib, test = digits[which], digits[2], digits[3]
    q = quantize_static(model, calib, recipe).model
    x = test["input"][:16]
    ours = socsim.execute(q, {"input": x}, arithmetic="onnxruntime")["logits"]
    assert np.count_nonzero(ours != _ort(q, x)) == 0


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
