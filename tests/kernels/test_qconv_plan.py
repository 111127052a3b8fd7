"""The planned QLinearConv (:mod:`socsim.kernels._qconv_plan`) against an int64 reference.

The reference below adds up ``(x - x_zp) * (w - w_zp)`` in int64 tap by tap, adds the bias and
requantizes as MLAS does (``float32(acc) * float32 scale``, round half to even, clamp, plus the
zero point); it shares no code with the kernels. The planned path must give the same bits and
the same saturation count, whatever the geometry, layout or type, and must step aside where its
float32 arithmetic could not be exact.
"""

from __future__ import annotations

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

from socsim.kernels._qconv_plan import plan_qlinear_conv
from socsim.kernels.arithmetic import DEFAULT, Arithmetic
from socsim.kernels.conv import qlinear_conv
from socsim.kernels.interpreter import compile_model
from socsim.kernels.registry import KernelContext


def _reference(x, x_zp, w, w_zp, b, scale32, y_zp, y_dtype, strides, dil, pads, group):
    n, c, h, wd = x.shape
    m, cg, kh, kw = w.shape
    xi = np.full((n, c, h + pads[0] + pads[2], wd + pads[1] + pads[3]), int(x_zp), np.int64)
    xi[:, :, pads[0]:pads[0] + h, pads[1]:pads[1] + wd] = x
    xi -= int(x_zp)
    wi = w.astype(np.int64) - np.asarray(w_zp, np.int64).reshape(-1, 1, 1, 1)
    ho = (xi.shape[2] - (kh - 1) * dil[0] - 1) // strides[0] + 1
    wo = (xi.shape[3] - (kw - 1) * dil[1] - 1) // strides[1] + 1
    acc = np.zeros((n, m, ho, wo), np.int64)
    mg = m // group
    for g in range(group):
        xs = xi[:, g * cg:(g + 1) * cg]
        for i in range(kh):
            for j in range(kw):
                tap = xs[:, :, i * dil[0]:i * dil[0] + (ho - 1) * strides[0] + 1:strides[0],
                         j * dil[1]:j * dil[1] + (wo - 1) * strides[1] + 1:strides[1]]
                acc[:, g * mg:(g + 1) * mg] += np.einsum("nchw,mc->nmhw", tap,
                                                         wi[g * mg:(g + 1) * mg, :, i, j])
    if b is not None:
        acc += b.astype(np.int64).reshape(1, -1, 1, 1)
    info = np.iinfo(y_dtype)
    v = np.rint(acc.astype(np.float32) * np.asarray(scale32, np.float32).reshape(1, -1, 1, 1)
                if np.size(scale32) > 1 else acc.astype(np.float32) * np.float32(scale32))
    lo, hi = info.min - int(y_zp), info.max - int(y_zp)
    sat = (int(np.count_nonzero(v < lo)) if int(y_zp) != info.min else 0) + \
        (int(np.count_nonzero(v > hi)) if int(y_zp) != info.max else 0)
    return (np.clip(v, lo, hi) + int(y_zp)).astype(y_dtype), sat


def _case(seed: int):
    rng = np.random.default_rng(seed)
    x_dtype = (np.uint8, np.int8)[seed % 2]
    kind = ("pointwise", "depthwise", "im2col")[seed % 3]
    c = int(rng.integers(1, 13))
    n = int(rng.integers(1, 3))
    h, wd = int(rng.integers(3, 12)), int(rng.integers(3, 12))
    if kind == "pointwise":
        k, strides, dil, pads = (1, 1), [1, 1], [1, 1], [0, 0, 0, 0]
    else:
        k = (int(rng.integers(1, 4)), int(rng.integers(1, 4)))
        strides = [int(s) for s in rng.integers(1, 3, 2)]
        dil = [int(d) for d in rng.integers(1, 3, 2)]
        pads = [int(p) for p in rng.integers(0, 3, 4)]
    h, wd = max(h, (k[0] - 1) * dil[0] + 1), max(wd, (k[1] - 1) * dil[1] + 1)
    m = c if kind == "depthwise" else int(rng.integers(1, 9))
    group = c if kind == "depthwise" else 1
    xi, wi = np.iinfo(x_dtype), np.iinfo(np.int8)
    x = rng.integers(xi.min, xi.max + 1, (n, c, h, wd)).astype(x_dtype)
    if seed % 4 < 2:  # channels-last memory, as planned convolutions hand on
        x = np.ascontiguousarray(x.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)
    w = rng.integers(wi.min + 1, wi.max + 1, (m, c // group, *k)).astype(np.int8)
    per_channel = seed % 5 != 0
    w_scale = ((rng.random(m) * 0.02 + 1e-3) if per_channel else np.array(0.01)).astype(
        np.float32)
    w_zp = np.zeros(w_scale.shape, np.int8)
    x_scale, y_scale = np.float32(rng.random() * 0.05 + 1e-3), np.float32(rng.random() + 0.02)
    x_zp = np.array(rng.integers(xi.min, xi.max + 1), dtype=x_dtype)
    y_zp = np.array(xi.min if seed % 7 == 0 else rng.integers(xi.min, xi.max + 1),
                    dtype=x_dtype)
    b = rng.integers(-30000, 30000, m).astype(np.int32) if seed % 6 else None
    attrs = {"kernel_shape": list(k), "strides": strides, "dilations": dil, "pads": pads,
             "group": group}
    return x, x_scale, x_zp, w, w_scale, w_zp, y_scale, y_zp, b, attrs


@pytest.mark.parametrize("seed", range(60))
def test_planned_conv_matches_the_int64_reference(seed: int) -> None:
    x, xs, xz, w, ws, wz, ys, yz, b, attrs = _case(seed)
    args = [x, np.asarray(xs), xz, w, ws, wz, np.asarray(ys), yz] + ([b] if b is not None else [])
    ctx = KernelContext("conv", "QLinearConv", attrs, const=(False,) + (True,) * (len(args) - 1))
    (y,) = qlinear_conv(ctx, *args)
    assert ctx.cache[("plan", x.dtype, x.ndim)] is not None, "the fast path should apply"
    scale32 = (np.float32(xs) * ws) / np.float32(ys)
    expected, sat = _reference(x, xz, w, wz, b, scale32, yz, x.dtype, attrs["strides"],
                               attrs["dilations"], attrs["pads"], attrs["group"])
    assert y.dtype == expected.dtype and y.shape == expected.shape
    np.testing.assert_array_equal(y, expected)
    assert ctx.events.get("output_saturations", 0) == sat


@pytest.mark.parametrize("seed", range(0, 60, 7))
def test_planned_and_general_paths_agree(seed: int) -> None:
    x, xs, xz, w, ws, wz, ys, yz, b, attrs = _case(seed)
    args = [x, np.asarray(xs), xz, w, ws, wz, np.asarray(ys), yz] + ([b] if b is not None else [])
    fast = KernelContext("c", "QLinearConv", attrs, const=(False,) + (True,) * (len(args) - 1))
    slow = KernelContext("c", "QLinearConv", attrs, const=(False,) * len(args))
    np.testing.assert_array_equal(qlinear_conv(fast, *args)[0], qlinear_conv(slow, *args)[0])
    assert fast.events == slow.events


def test_hand_computed_pointwise_with_zero_points() -> None:
    # One output channel, weights (2, -3), x zero point 10: acc = 2*(12-10) - 3*(7-10) + 5 = 18;
    # scale 0.5 / 1 -> 9, plus y zero point 100 -> 109.
    x = np.array([12, 7], np.uint8).reshape(1, 2, 1, 1)
    w = np.array([2, -3], np.int8).reshape(1, 2, 1, 1)
    plan = plan_qlinear_conv({}, DEFAULT, x.dtype, np.float32(0.5), np.uint8(10), w,
                             np.float32(1.0), np.int8(0), np.float32(1.0), np.uint8(100),
                             np.array([5], np.int32))
    assert plan is not None and plan.kind == "pointwise"
    ctx = KernelContext("c", "QLinearConv", {}, const=(False,) + (True,) * 8)
    (y,) = qlinear_conv(ctx, x, np.float32(0.5), np.uint8(10), w, np.float32(1.0), np.int8(0),
                        np.float32(1.0), np.uint8(100), np.array([5], np.int32))
    assert y.reshape(-1).tolist() == [109]


def _plan(w: np.ndarray, attrs: dict, arithmetic: Arithmetic = DEFAULT):
    m = w.shape[0]
    return plan_qlinear_conv(attrs, arithmetic, np.dtype(np.uint8), np.float32(0.1),
                             np.uint8(0), w, np.full(m, 0.01, np.float32), np.zeros(m, np.int8),
                             np.float32(0.2), np.uint8(0), None)


def test_no_plan_where_float32_could_not_be_exact_or_mode_differs() -> None:
    small = np.ones((4, 4, 3, 3), np.int8)
    assert _plan(small, {"pads": [1, 1, 1, 1]}) is not None
    # 127 * 600 taps * 255 > 2^24: partial sums could round in float32.
    assert _plan(np.full((2, 600, 1, 1), 127, np.int8), {}) is None
    # The TFLite modes requantize in fixed point: general path.
    assert _plan(small, {}, Arithmetic(32, "tflite_double")) is None
    # A 12-bit accumulator could saturate: general path (it counts saturations).
    assert _plan(small, {}, Arithmetic(12, "onnx_rne")) is None
    # Grouped (not depthwise) convolutions: general path.
    assert _plan(np.ones((4, 2, 3, 3), np.int8), {"group": 2}) is None


def _qdq_conv_model() -> tuple:
    rng = np.random.default_rng(3)
    w = rng.integers(-127, 128, (4, 3, 3, 3)).astype(np.int8)
    inits = [
        numpy_helper.from_array(w, "w_q"),
        numpy_helper.from_array(np.full(4, 0.02, np.float32), "w_s"),
        numpy_helper.from_array(np.zeros(4, np.int8), "w_z"),
        numpy_helper.from_array(np.array(0.05, np.float32), "x_s"),
        numpy_helper.from_array(np.array(128, np.uint8), "x_z"),
        numpy_helper.from_array(np.array(0.1, np.float32), "y_s"),
        numpy_helper.from_array(np.array(0, np.uint8), "y_z"),
    ]
    nodes = [
        helper.make_node("QuantizeLinear", ["x", "x_s", "x_z"], ["xq"], name="qx"),
        helper.make_node("DequantizeLinear", ["xq", "x_s", "x_z"], ["xd"], name="dqx"),
        helper.make_node("DequantizeLinear", ["w_q", "w_s", "w_z"], ["wd"], name="dqw", axis=0),
        helper.make_node("Conv", ["xd", "wd"], ["y"], name="conv", pads=[1, 1, 1, 1]),
        helper.make_node("QuantizeLinear", ["y", "y_s", "y_z"], ["yq"], name="qy"),
    ]
    graph = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 6, 6])],
        [helper.make_tensor_value_info("yq", TensorProto.UINT8, [1, 4, 6, 6])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 21)])
    x = rng.uniform(-8, 8, (1, 3, 6, 6)).astype(np.float32)
    return model, x


def test_compiled_model_folds_constant_nodes_and_keeps_their_stats() -> None:
    model, x = _qdq_conv_model()
    integer = compile_model(model, qdq="integer")
    reference = compile_model(model, qdq="reference")
    # The weight DequantizeLinear is evaluated once, at compile time, in both modes.
    assert "dqw" not in {s.ctx.name for s in reference.steps}
    res_i, res_r = integer.run({"x": x}), reference.run({"x": x})
    assert "dqw" in res_r.stats and res_r.stats["dqw"].op_type == "DequantizeLinear"
    y = res_i.outputs["yq"]
    assert y.flags.c_contiguous and y.dtype == np.uint8 and y.shape == (1, 4, 6, 6)
    # Running twice gives the same bits (plans and caches are reused, not mutated).
    np.testing.assert_array_equal(integer.run({"x": x}).outputs["yq"], y)
