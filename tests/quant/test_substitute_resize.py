"""Resize rewritten as ops an NPU has: nearest upsampling by integer factors as Reshape/Concat
(exact), linear (and other nearest) as two MatMuls by interpolation matrices. The reference is
onnxruntime's own Resize on the original model; the hand-computed matrix rows come from the
ONNX formulas."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

import socsim
from socsim.quant import substitute
from socsim.quant._resize import interpolation_matrix
from socsim.quant.substitute import verify


def _model(shape, *, scales=None, sizes=None, **attrs) -> onnx.ModelProto:
    inits, ins = [], ["x", ""]
    if scales is not None:
        inits.append(numpy_helper.from_array(np.asarray(scales, np.float32), "scales"))
        ins.append("scales")
    else:
        inits.append(numpy_helper.from_array(np.asarray(sizes, np.int64), "sizes"))
        ins += ["", "sizes"]
    nodes = [helper.make_node("Resize", ins, ["y"], name="up", **attrs),
             helper.make_node("Relu", ["y"], ["z"], name="relu")]
    g = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT,
                                                                     shape)],
                          [helper.make_tensor_value_info("z", TensorProto.FLOAT, list("nchw"))],
                          inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 19)])
    m.ir_version = 9
    return m


def _ort(model, x):
    return ort.InferenceSession(model.SerializeToString(),
                                providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]


CASES = [
    (dict(scales=[1, 1, 2, 2], mode="nearest"), ("Reshape", "Concat", "Concat", "Reshape"), 0.0),
    (dict(sizes=[1, 3, 15, 10], mode="nearest", coordinate_transformation_mode="asymmetric",
          nearest_mode="floor"), ("Reshape", "Concat", "Concat", "Reshape"), 0.0),
    (dict(scales=[1, 1, 1.5, 2], mode="nearest"), ("MatMul", "Transpose", "MatMul",
                                                   "Transpose"), 0.0),
    (dict(scales=[1, 1, 2, 2], mode="linear"), ("MatMul", "Transpose", "MatMul", "Transpose"),
     1e-6),
    (dict(sizes=[1, 3, 8, 7], mode="linear", coordinate_transformation_mode="align_corners"),
     ("MatMul", "Transpose", "MatMul", "Transpose"), 1e-6),
]


@pytest.mark.parametrize("attrs, ops, bound", CASES,
                         ids=["nearest-2x", "nearest-3x-2x-sizes", "nearest-1.5x", "linear-2x",
                              "linear-align-corners"])
def test_resize_rewrite_equals_onnxruntime_resize(attrs, ops, bound):
    model = _model([1, 3, 5, 5], **attrs)
    new, subs = substitute(model, ["Resize"])
    (s,) = subs
    assert s.ops == ops and "Resize" not in {n.op_type for n in new.graph.node}
    x = np.random.default_rng(0).normal(size=(1, 3, 5, 5)).astype(np.float32) * 10
    assert verify(model, new, {"x": x}) <= bound  # onnxruntime: original vs rewrite
    ref = _ort(model, x)
    ours = socsim.execute(new, {"x": x})["z"]  # socsim runs the rewrite (it has no Resize)
    assert ours.shape == ref.shape
    if bound == 0.0:
        assert np.count_nonzero(ours != ref) == 0
    else:
        assert np.abs(ours - ref).max() <= bound * np.abs(ref).max()


def test_interpolation_matrix_by_hand():
    """half_pixel 2x linear on 3 inputs: x_original = (x + 0.5) / 2 - 0.5 = -0.25, 0.25, 0.75,
    1.25, 1.75, 2.25; floor/fraction give the two taps, clamped at the edges."""
    a = interpolation_matrix(3, 6, 2.0, "linear", "half_pixel")
    expected = np.array([[1, 0, 0], [0.75, 0.25, 0], [0.25, 0.75, 0], [0, 0.75, 0.25],
                         [0, 0.25, 0.75], [0, 0, 1]])
    np.testing.assert_array_equal(a, expected)
    for mode in ("nearest", "linear"):
        for t in ("half_pixel", "asymmetric", "align_corners", "pytorch_half_pixel"):
            np.testing.assert_allclose(interpolation_matrix(4, 7, 1.75, mode, t).sum(1), 1.0)


@pytest.mark.parametrize("attrs, message", [
    (dict(scales=[1, 1, 2, 2], mode="cubic"), "mode 'cubic' is not rewritten"),
    (dict(scales=[1, 2, 2, 2], mode="nearest"), "resizes N or C"),
])
def test_resize_cases_not_rewritten_say_why(attrs, message):
    with pytest.raises(ValueError, match=message):
        substitute(_model([1, 3, 5, 5], **attrs), ["Resize"])
