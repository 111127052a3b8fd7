"""The tf2onnx conversion of every committed .tflite model, run with ``qdq="tflite"``, gives
TFLite's reference-kernel tensors exactly on every tensor that carries a TFLite tensor's name
(every QuantizeLinear output, the integer Concat / Reshape / Transpose outputs, the graph
outputs); the onnxruntime family (``qdq="integer"``) does not."""

from __future__ import annotations

import onnx
import pytest

from tests.conftest import REPO
from tests.tflite.onnx_compare import compare_onnx

DATA = REPO / "tests" / "data" / "tflite"
CONVERSIONS = sorted(DATA.glob("*.onnx"))


@pytest.mark.parametrize("path", CONVERSIONS, ids=[p.stem for p in CONVERSIONS])
def test_tf2onnx_conversion_with_tflite_semantics_is_exact(path):
    compared, differing, rows = compare_onnx(path, "tflite")
    outputs = {o.name for o in onnx.load(str(path)).graph.output}
    assert outputs <= {r[0] for r in rows}  # the outputs at least are compared
    assert compared >= 4
    assert differing == 0, [r for r in rows if r[1]]


def test_the_onnxruntime_family_parts_from_tflite_on_the_same_model():
    _, differing, rows = compare_onnx(DATA / "resnet8.onnx", "integer")
    assert differing > 0 and sum(r[1] for r in rows) > 0
