"""Every intermediate tensor of every committed .tflite model, computed by socsim's TFLite
kernels, equals what TFLite's reference kernels computed (ai-edge-litert's interpreter with
``OpResolverType.BUILTIN_REF`` and ``experimental_preserve_all_tensors``; the arrays are in
tests/data/tflite/<model>.npz, written by tools/tflite/make_models.py): zero differing elements.
"""

from __future__ import annotations

import numpy as np
import pytest

from socsim.execute import execute
from socsim.graph.tflite_read import read_tflite
from socsim.kernels.tflite import compile_tflite
from tests.conftest import REPO

DATA = REPO / "tests" / "data" / "tflite"
MODELS = sorted(DATA.glob("*.tflite"))
#: Every builtin operator issue 11 names, and the converter's REDUCE_MAX (GlobalMaxPooling).
REQUIRED_OPS = {"CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "ADD", "SUB", "MUL",
                "AVERAGE_POOL_2D", "MAX_POOL_2D", "MEAN", "SOFTMAX", "LOGISTIC", "TANH",
                "HARD_SWISH", "CONCATENATION", "RESHAPE", "PAD", "QUANTIZE", "DEQUANTIZE"}


def _reference(path):
    with np.load(path.with_suffix(".npz")) as data:
        return {k: data[k] for k in data.files}


def compare(path) -> tuple[int, int, list[str]]:
    """(tensors compared, tensors differing, messages) for one model, every op output."""
    compiled = compile_tflite(path)
    ref = _reference(path)
    model = compiled.model
    feeds = {model.tensors[i].name: ref[f"t{i}"] for i in model.inputs}
    env = compiled.run_all(feeds)
    compared, differing, notes = 0, 0, []
    for step in compiled.steps:
        for i in step.outputs:
            want, got = ref[f"t{i}"], env[i]
            compared += 1
            if want.shape != got.shape or want.dtype != got.dtype:
                differing += 1
                notes.append(f"{step.opcode} {step.name}: {got.dtype}{got.shape} vs "
                             f"{want.dtype}{want.shape}")
                continue
            n = int(np.count_nonzero(want != got))
            if n:
                differing += 1
                notes.append(f"{step.opcode} {step.name}: {n} of {want.size} elements differ")
    return compared, differing, notes


def test_the_models_cover_every_operator_of_the_issue():
    ops = {op.opcode for path in MODELS for op in read_tflite(path).ops}
    assert REQUIRED_OPS <= ops, sorted(REQUIRED_OPS - ops)
    fused = {op.options.get("fused_activation_function") for path in MODELS
             for op in read_tflite(path).ops if op.opcode == "CONV_2D"}
    assert {"NONE", "RELU", "RELU6"} <= fused


@pytest.mark.parametrize("path", MODELS, ids=[p.stem for p in MODELS])
def test_every_intermediate_tensor_equals_the_reference_kernels(path):
    compared, differing, notes = compare(path)
    assert compared == sum(len(op.outputs) for op in read_tflite(path).ops)
    assert differing == 0, notes


@pytest.mark.parametrize("name", ["ds_cnn", "quantize_ops"])
def test_socsim_execute_takes_a_tflite_file(name):
    path = DATA / f"{name}.tflite"
    ref = _reference(path)
    model = read_tflite(path)
    feeds = {model.tensors[i].name: ref[f"t{i}"] for i in model.inputs}
    outs = execute(str(path), feeds)
    for i in model.outputs:
        np.testing.assert_array_equal(outs[model.tensors[i].name], ref[f"t{i}"])


def test_an_input_in_the_graph_ir_layout_is_accepted():
    """The timing graph describes 4-D tensors as (N, C, H, W); the functional run makes its
    random inputs in that shape, and the runner reads them back as the file's NHWC."""
    path = DATA / "resnet8.tflite"
    ref = _reference(path)
    compiled = compile_tflite(path)
    i = compiled.model.inputs[0]
    nhwc = ref[f"t{i}"]
    a = compiled.run({compiled.input_names[0]: nhwc}).outputs
    b = compiled.run({compiled.input_names[0]: nhwc.transpose(0, 3, 1, 2)}).outputs
    for k in a:
        np.testing.assert_array_equal(a[k], b[k])
