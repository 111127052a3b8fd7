"""Shared fixtures: small hand-built ONNX models and device files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

FIXTURES = Path(__file__).parent / "fixtures"
REPO = Path(__file__).parent.parent


def two_op_model(k: int = 256, n: int = 64) -> onnx.ModelProto:
    """x[1,k] -> MatMul(W[k,n]) -> y -> Relu -> z: the hand-computed two-op graph."""
    w = numpy_helper.from_array(np.random.default_rng(0).normal(size=(k, n)).astype(np.float32),
                                "W")
    nodes = [helper.make_node("MatMul", ["x", "W"], ["y"], name="mm"),
             helper.make_node("Relu", ["y"], ["z"], name="relu")]
    graph = helper.make_graph(nodes, "two_op",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, k])],
                              [helper.make_tensor_value_info("z", TensorProto.FLOAT, [1, n])],
                              [w])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 19)])
    model.ir_version = 9
    return model


@pytest.fixture
def two_op_path(tmp_path: Path) -> Path:
    path = tmp_path / "two_op.onnx"
    onnx.save(two_op_model(), str(path))
    return path


@pytest.fixture
def tiny_soc_path() -> Path:
    return FIXTURES / "tiny_soc.yaml"


def write_scenario(folder: Path, text: str, name: str = "scenario.yaml") -> Path:
    path = folder / name
    path.write_text(text)
    return path
