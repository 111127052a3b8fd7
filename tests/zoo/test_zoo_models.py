"""Every zoo model: valid ONNX, runs, has the published size, and int8 tracks float."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from _zoo_reference import BASES, SMALL, cosine, count_macs, count_params
from onnx import numpy_helper
from onnx.reference import ReferenceEvaluator

from socsim import zoo

Built = Callable[[str], onnx.ModelProto]

OUTPUTS = {
    "mobilenetv2": ("logits", (1, 1000)),
    "resnet8": ("logits", (1, 10)),
    "ds_cnn": ("logits", (1, 12)),
    "transformer_block": ("output", (1, 64, 128)),
}


def _run(model: onnx.ModelProto, feeds: dict[str, np.ndarray]) -> np.ndarray:
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return sess.run(None, feeds)[0]


def _base(name: str) -> str:
    return name.removesuffix(zoo.INT8_SUFFIX)


@pytest.mark.parametrize("name", zoo.NAMES)
def test_model_is_valid_onnx_at_opset_19(built: Built, name: str) -> None:
    model = built(name)
    onnx.checker.check_model(model, full_check=True)
    assert [(o.domain, o.version) for o in model.opset_import] == [("", 19)]
    assert model.ir_version == 9
    names = [n.name for n in model.graph.node]
    assert all(names) and len(set(names)) == len(names)
    assert "BatchNormalization" not in {n.op_type for n in model.graph.node}


@pytest.mark.parametrize("name", zoo.NAMES)
def test_model_runs_with_float_io_and_published_output_shape(built: Built, name: str) -> None:
    model = built(name)
    out_name, out_shape = OUTPUTS[_base(name)]
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    (inp,) = sess.get_inputs()
    assert (inp.name, tuple(inp.shape), inp.type) == (
        "input",
        zoo.input_spec(name)["input"][0],
        "tensor(float)",
    )
    (out,) = sess.get_outputs()
    assert (out.name, out.type) == (out_name, "tensor(float)")
    y = sess.run(None, zoo.example_inputs(name))[0]
    assert y.shape == out_shape and y.dtype == np.float32
    assert np.all(np.isfinite(y))


def _keras_minus_bn(keras_total: int, bn_channels: int) -> int:
    # Keras counts gamma, beta, moving mean and variance per BN channel; folded, they vanish into
    # the preceding conv's bias, which every Keras conv here already has.
    return keras_total - 4 * bn_channels


# (exact parameters, exact MACs by hand, published MACs, tolerance against published)
PUBLISHED = {
    # torchvision mobilenet_v2: 3,504,872 = bias-free convs + BN gamma/beta on 17,056 channels;
    # folding swaps each gamma/beta pair for one bias. Paper: 300M multiply-adds.
    "mobilenetv2": (3_504_872 - 17_056, None, 300e6, 0.01),
    # MLPerf Tiny resnet_v1_eembc (16 filters): Keras 78,666 with 240 BN channels; ~12.5M MACs.
    "resnet8": (
        _keras_minus_bn(78_666, 16 * 3 + 32 * 2 + 64 * 2),
        32 * 32 * 16 * 27
        + 2 * 32 * 32 * 16 * 144
        + 16 * 16 * 32 * (144 + 288 + 16)
        + 8 * 8 * 64 * (288 + 576 + 32)
        + 64 * 10,
        12.5e6,
        0.01,
    ),
    # MLPerf Tiny ds_cnn: Keras 24,908 with 9 BN layers of 64; Hello Edge: 5.4M ops = 2.7M MACs.
    "ds_cnn": (
        _keras_minus_bn(24_908, 9 * 64),
        25 * 5 * 64 * (10 * 4 + 4 * (9 + 64)) + 64 * 12,
        2.7e6,
        0.02,
    ),
    "transformer_block": (
        4 * (128 * 128 + 128) + 2 * 2 * 128 + (128 * 512 + 512) + (512 * 128 + 128),
        4 * 64 * 128 * 128 + 2 * 4 * 64 * 64 * 32 + 2 * 64 * 128 * 512,
        13.6e6,
        0.01,
    ),
}


@pytest.mark.parametrize("base", BASES)
def test_params_and_macs_match_reference(built: Built, base: str) -> None:
    params, macs, published_macs, tol = PUBLISHED[base]
    model = built(base)
    measured = count_macs(model)
    assert count_params(model) == params
    if macs is not None:
        assert measured == macs
    assert abs(measured - published_macs) <= tol * published_macs
    # Quantization leaves the arithmetic unchanged.
    assert count_macs(built(base + zoo.INT8_SUFFIX)) == measured


def test_mobilenetv2_has_the_papers_block_structure(built: Built) -> None:
    nodes = built("mobilenetv2").graph.node
    ops = [n.op_type for n in nodes]
    assert ops.count("Conv") == 52  # stem + 17 dw + 17 project + 16 expand + head
    groups = [a.i for n in nodes if n.op_type == "Conv" for a in n.attribute if a.name == "group"]
    assert sum(g > 1 for g in groups) == 17
    assert ops.count("Add") == 10  # residual blocks: 1 + 2 + 3 + 2 + 2
    assert ops.count("Clip") == 35  # stem, head, 17 dw, 16 expand
    assert ops[-3:] == ["GlobalAveragePool", "Flatten", "Gemm"]


@pytest.mark.parametrize("base", BASES)
def test_int8_tracks_float_on_example_inputs(built: Built, base: str) -> None:
    f, q = built(base), built(base + zoo.INT8_SUFFIX)
    feeds = [zoo.example_inputs(base, seed=s) for s in range(3)]
    fy, qy = [_run(f, x) for x in feeds], [_run(q, x) for x in feeds]
    for a, b in zip(fy, qy, strict=True):
        assert cosine(a - a.mean(), b - b.mean()) > 0.99
        if OUTPUTS[base][0] == "logits":
            assert a.argmax() == b.argmax()
    # The input-dependent part too, not just the bias-dominated common part.
    assert cosine(fy[0] - fy[1], qy[0] - qy[1]) > 0.9


@pytest.mark.parametrize("base", BASES)
def test_int8_is_qdq_with_float_io_and_per_channel_weights(built: Built, base: str) -> None:
    g = built(base + zoo.INT8_SUFFIX).graph
    inits = {i.name: i for i in g.initializer}
    producer = {o: n for n in g.node for o in n.output}
    consumers = [n for n in g.node if "input" in n.input]
    assert [n.op_type for n in consumers] == ["QuantizeLinear"]
    assert producer[g.output[0].name].op_type == "DequantizeLinear"
    ops = {n.op_type for n in g.node}
    # ORT folds ReLU/ReLU6 into the producer's output quantization range.
    assert not ops & {"Relu", "Clip"}
    for node in g.node:
        if node.op_type not in ("Conv", "Gemm") and not (
            node.op_type == "MatMul"
            and node.input[1] in producer
            and producer[node.input[1]].input[0] in inits
        ):
            continue
        dq = producer[node.input[1]]
        assert dq.op_type == "DequantizeLinear"
        w, scale = inits[dq.input[0]], numpy_helper.to_array(inits[dq.input[1]])
        assert w.data_type == onnx.TensorProto.INT8
        axis = next((a.i for a in dq.attribute if a.name == "axis"), 1)
        assert scale.shape == (w.dims[axis],), node.name  # one scale per output channel
        if node.op_type == "Conv":
            bias_dq = producer[node.input[2]]
            assert inits[bias_dq.input[0]].data_type == onnx.TensorProto.INT32


@pytest.mark.parametrize("name", [n + s for n in SMALL for s in ("", zoo.INT8_SUFFIX)])
def test_reference_evaluator_agrees_with_onnxruntime(built: Built, name: str) -> None:
    model = built(name)
    feeds = zoo.example_inputs(name)
    ref = ReferenceEvaluator(model).run(None, feeds)[0]
    got = _run(model, feeds)
    if name.endswith(zoo.INT8_SUFFIX):
        # ORT runs fused integer kernels, the evaluator requantizes in float: a few output steps.
        out = model.graph.output[0].name
        step = numpy_helper.to_array(
            next(i for i in model.graph.initializer if i.name == f"{out}_scale")
        )
        assert np.abs(ref - got).max() <= 4 * step
    else:
        np.testing.assert_allclose(ref, got, rtol=1e-4, atol=1e-5)
