"""Each substitution computes the original op's function (onnxruntime on both graphs)."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from socsim.quant.substitute import SUBSTITUTIONS, substitute, verify


def _one_op(op: str, opset: int, shape=(4, 16), **attrs) -> tuple[onnx.ModelProto, list[str]]:
    inputs, inits = ["x"], []
    if op == "LayerNormalization":
        rng = np.random.default_rng(1)
        inits = [numpy_helper.from_array(rng.normal(size=shape[-1]).astype(np.float32), "g"),
                 numpy_helper.from_array(rng.normal(size=shape[-1]).astype(np.float32), "b")]
        inputs += ["g", "b"]
    g = helper.make_graph([helper.make_node(op, inputs, ["y"], name="n", **attrs)], "g",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(shape))],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, list(shape))],
                          inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = 10
    return m, inputs


CASES = [("HardSwish", {}), ("HardSigmoid", {"alpha": 0.25, "beta": 0.4}), ("Gelu", {}),
         ("Gelu", {"approximate": "tanh"}), ("LayerNormalization", {"epsilon": 1e-5}),
         ("Softmax", {"axis": -1}), ("Softmax", {"axis": 0})]


@pytest.mark.parametrize(("op", "attrs"), CASES, ids=[f"{o}-{a}" for o, a in CASES])
def test_substitution_equals_original(op, attrs):
    model, _ = _one_op(op, 20, **attrs)
    new, done = substitute(model, [op])
    assert [d.op_type for d in done] == [op] and op not in {n.op_type for n in new.graph.node}
    x = np.random.default_rng(0).normal(0, 3, (4, 16)).astype(np.float32)
    x[0, :4] = [-3.0, 3.0, 0.0, -6.0]  # HardSwish/HardSigmoid kinks
    assert verify(model, new, {"x": x}) <= SUBSTITUTIONS[op][1]


def test_unknown_op_lists_available():
    model, _ = _one_op("Relu", 20)
    with pytest.raises(ValueError, match="available: HardSwish"):
        substitute(model, ["Relu"])
