"""Quantize -> dequantize error bounds, rounding, and per-channel versus per-tensor."""

from __future__ import annotations

import numpy as np
import pytest

from socsim.quant.params import (
    QRANGES,
    dequantize,
    fake_quantize,
    qparams_for,
    quantize,
    weight_qparams,
)


@pytest.mark.parametrize("dtype", ["int4", "int8", "int16", "uint8"])
@pytest.mark.parametrize("symmetric", [True, False])
def test_roundtrip_error_within_half_a_step(dtype, symmetric):
    if symmetric and dtype.startswith("u"):
        pytest.skip("symmetric needs a signed dtype")
    x = np.random.default_rng(0).normal(0.3, 2.0, 10_000).astype(np.float32)
    qp = qparams_for(x.min(), x.max(), dtype, symmetric=symmetric)
    q = quantize(x, qp)
    lo, hi = QRANGES[dtype]
    assert q.min() >= lo and q.max() <= hi
    err = np.abs(dequantize(q, qp) - x)
    # half a step, plus float32 rounding of x / scale and of the product (a few ulp of |x|)
    assert err.max() <= float(qp.scale) / 2 + 4 * np.spacing(np.abs(x).max())


def test_round_half_to_even_and_saturation():
    qp = qparams_for(-128, 127, "int8", symmetric=False)  # scale 1, zero point 0
    assert float(qp.scale) == 1.0 and int(qp.zero_point) == 0
    x = np.array([0.5, 1.5, 2.5, -0.5, -1.5, 300.0, -300.0], np.float32)
    assert quantize(x, qp).tolist() == [0, 2, 2, 0, -2, 127, -128]


def test_zero_is_exact_and_relu_range_puts_zero_point_on_qmin():
    qp = qparams_for(0.0, 6.0, "int8", symmetric=False)
    assert int(qp.zero_point) == -128
    assert fake_quantize(np.zeros(3, np.float32), qp).tolist() == [0, 0, 0]
    qp = qparams_for(0.4, 1.0, "int8", symmetric=False)  # widened to include 0
    assert fake_quantize(np.float32(0.0), qp) == 0.0


def test_matches_onnx_quantize_linear():
    from onnx import TensorProto, helper
    from onnx.reference import ReferenceEvaluator

    x = np.random.default_rng(3).normal(0, 3, 1000).astype(np.float32)
    qp = qparams_for(x.min(), x.max(), "int8", symmetric=False)
    node = helper.make_node("QuantizeLinear", ["x", "s", "z"], ["y"])
    g = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1000])],
                          [helper.make_tensor_value_info("y", TensorProto.INT8, [1000])],
                          [helper.make_tensor("s", TensorProto.FLOAT, [], [float(qp.scale)]),
                           helper.make_tensor("z", TensorProto.INT8, [], [int(qp.zero_point)])])
    ref = ReferenceEvaluator(helper.make_model(g, opset_imports=[helper.make_opsetid("", 21)]))
    assert np.array_equal(ref.run(None, {"x": x})[0].astype(np.int64), quantize(x, qp))


def test_per_channel_beats_per_tensor_on_uneven_channels():
    rng = np.random.default_rng(0)
    gains = np.array([0.01, 0.1, 1.0, 10.0])[:, None, None, None]
    w = (rng.normal(size=(4, 8, 3, 3)) * gains).astype(np.float32)
    pt = weight_qparams(w, "int8", per_channel=False)
    pc = weight_qparams(w, "int8", per_channel=True, axis=0)
    e_pt = ((fake_quantize(w, pt) - w) ** 2).reshape(4, -1).mean(1)
    e_pc = ((fake_quantize(w, pc) - w) ** 2).reshape(4, -1).mean(1)
    assert e_pc.sum() < e_pt.sum()
    assert np.all(e_pc[:3] < e_pt[:3] / 50)  # the small channels gain most
    # the small channel vanishes per tensor: its weights all round to 0
    assert np.all(fake_quantize(w, pt)[0] == 0)
