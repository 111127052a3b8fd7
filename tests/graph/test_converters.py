"""Converter-made models (torch.onnx.export, onnxruntime's quantize_static): the simulated ops
are the ops onnxruntime executes (its optimized model), and converter leftovers cost nothing.

Models: workloads/converters/ (tools/converters/make_torch_models.py, quantize_ort.py).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from socsim.graph import load_graph
from socsim.graph.cost import VIEW_OPS

DIR = Path(__file__).resolve().parents[2] / "workloads" / "converters"
#: onnxruntime's optimized op -> the op socsim simulates for it
_ORT_NAMES = {"QLinearConv": "Conv", "FusedConv": "Conv", "QLinearMatMul": "MatMul",
              "QGemm": "Gemm", "FusedGemm": "Gemm", "QLinearAdd": "Add", "QLinearMul": "Mul",
              "QLinearGlobalAveragePool": "GlobalAveragePool",
              "QLinearAveragePool": "AveragePool"}


def ort_ops(path: Path, tmp_path: Path) -> list[str]:
    """Op types onnxruntime (extended optimizations, CPU) executes per inference: QOperator and
    fused names mapped, views dropped, DequantizeLinear of initializers dropped (socsim's
    interpreter folds those at compile time), and a DequantizeLinear onnxruntime duplicates
    for a second reader (EnsureUniqueDQForNodeUnit) counted once, as socsim runs it."""
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED
    so.optimized_model_filepath = str(tmp_path / f"{path.stem}_opt.onnx")
    ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
    g = onnx.load(so.optimized_model_filepath).graph
    inits = {i.name for i in g.initializer}
    seen: set[tuple[str, ...]] = set()
    ops = []
    for n in g.node:
        if n.op_type == "DequantizeLinear":
            if n.input[0] in inits or tuple(n.input) in seen:
                continue
            seen.add(tuple(n.input))
        if n.op_type not in VIEW_OPS:
            ops.append(_ORT_NAMES.get(n.op_type, n.op_type))
    return ops


@pytest.mark.parametrize("name", ["torch_mbblock", "torch_mbblock_ts", "torch_mlp",
                                  "torch_mbblock_qdq_u8", "torch_mlp_qdq_u8",
                                  "torch_mbblock_qdq_s8", "torch_mlp_qdq_s8"])
def test_simulated_ops_are_what_onnxruntime_runs(name, tmp_path):
    path = DIR / f"{name}.onnx"
    assert path.stat().st_size < 200_000
    g = load_graph(path, rules="onnxruntime_x86")
    assert [op.op_type for op in g.ops] == ort_ops(path, tmp_path)


@pytest.mark.parametrize("name", ["torch_mlp_qdq_s8", "torch_mbblock_qdq_s8"])
def test_int8_models_compute_what_onnxruntime_computes(name):
    """The same lowering runs in the kernels: zero differing outputs against onnxruntime
    (including QGemm with a uint8 input, after the S8->U8 pass, and an int8 output)."""
    from socsim.execute import run_model

    path = DIR / f"{name}.onnx"
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    shape = [d if isinstance(d, int) else 1 for d in sess.get_inputs()[0].shape]
    rng = np.random.default_rng(0)
    for _ in range(20):
        x = rng.uniform(-1.5, 1.5, size=shape).astype(np.float32)
        (want,) = sess.run(None, {"input": x})
        assert np.array_equal(run_model(path, {"input": x}).outputs["logits"], want)


def test_torchscript_leftovers_are_folded():
    """Pad, BatchNormalization, Clip (ReLU6) and Flatten from the TorchScript exporter: the
    runtime's Conv does their work."""
    g = load_graph(DIR / "torch_mbblock_ts.onnx")
    assert [op.op_type for op in g.ops] == ["Conv", "Conv", "Conv", "Add", "Relu",
                                            "GlobalAveragePool", "Gemm"]
    stem = g.ops[0]
    assert stem.attrs["folded"] == ["Pad", "BatchNormalization", "Clip"]
    assert stem.attrs["pads"] == [1, 1, 1, 1] and stem.inputs == ("input",)
    assert stem.macs == 16 * 3 * 3 * 3 * 32 * 32  # the padded input's 32x32 outputs
    gemm = g.ops[-1]
    assert gemm.inputs == g.ops[-2].outputs  # reads the pool's output: no Flatten between
    assert g.tensors[gemm.operands[0]].shape == (1, 16)  # shapes from the view's output


def test_qdq_relu6_is_fused_into_the_quantized_convs():
    g = load_graph(DIR / "torch_mbblock_qdq_u8.onnx")
    convs = [op for op in g.ops if op.op_type == "Conv"]
    assert [op.dtype for op in convs] == ["uint8"] * 3
    assert not any(op.op_type in ("Clip", "Relu") and op.dtype.startswith("float")
                   for op in g.ops)


def _squeeze_model() -> onnx.ModelProto:
    """int8 ``DQ -> Squeeze -> Q``, then an int8 Add: the Squeeze is a view no unit needs to
    support (tf2onnx's MobileNetV2 failed at placement on it)."""
    s = numpy_helper.from_array(np.array(0.1, np.float32), "s")
    z = numpy_helper.from_array(np.array(0, np.int8), "z")
    axes = numpy_helper.from_array(np.array([2, 3], np.int64), "axes")
    nodes = [helper.make_node("DequantizeLinear", ["x", "s", "z"], ["xd"], name="dq"),
             helper.make_node("Squeeze", ["xd", "axes"], ["sq"], name="squeeze"),
             helper.make_node("QuantizeLinear", ["sq", "s", "z"], ["sqq"], name="q"),
             helper.make_node("DequantizeLinear", ["sqq", "s", "z"], ["a"], name="dq_a"),
             helper.make_node("DequantizeLinear", ["sqq", "s", "z"], ["b"], name="dq_b"),
             helper.make_node("Add", ["a", "b"], ["y"], name="add"),
             helper.make_node("QuantizeLinear", ["y", "s", "z"], ["yq"], name="q_y")]
    graph = helper.make_graph(
        nodes, "squeeze", [helper.make_tensor_value_info("x", TensorProto.INT8, [1, 8, 1, 1])],
        [helper.make_tensor_value_info("yq", TensorProto.INT8, [1, 8])], [s, z, axes])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 19)])
    model.ir_version = 9
    return model


def test_a_view_needs_no_unit_and_its_reader_reads_the_producer(tmp_path):
    import yaml

    from socsim.config import SoC
    from socsim.policies.registry import get_policy
    from tests.conftest import FIXTURES

    g = load_graph(_squeeze_model())
    assert [op.op_type for op in g.ops] == ["Add"]
    add = g.ops[0]
    assert add.inputs == ("x",) and add.operands[:1] == ("sqq",) and add.dtype == "int8"
    soc = SoC.model_validate(yaml.safe_load((FIXTURES / "tiny_soc.yaml").read_text()))
    plan = get_policy("single")({"unit": "npu"}).place(g, soc)  # the npu lists no Squeeze
    assert plan.units == ("npu",)


def test_input_transpose_is_a_layout_conversion():
    """tf2onnx: NHWC graph input -> Transpose(0, 3, 1, 2) -> Conv. The Conv reads the input as
    it arrives; its cost uses the NCHW shape."""
    w = numpy_helper.from_array(np.ones((4, 3, 3, 3), np.float32), "w")
    nodes = [helper.make_node("Transpose", ["x"], ["xt"], name="t", perm=[0, 3, 1, 2]),
             helper.make_node("Conv", ["xt", "w"], ["y"], name="conv", pads=[1, 1, 1, 1])]
    graph = helper.make_graph(
        nodes, "nhwc", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 8, 8, 3])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4, 8, 8])], [w])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    g = load_graph(model)
    (conv,) = g.ops
    assert conv.inputs == ("x",) and conv.operands[0] == "xt"
    assert conv.macs == 4 * 3 * 3 * 3 * 8 * 8


#: tf2onnx conversions of TFLite int8 models, committed by the tflite branch (its
#: tools/tflite/make_models.py); these tests run once both branches are merged.
TF2ONNX = Path(__file__).resolve().parents[2] / "tests" / "data" / "tflite"


def _tf2onnx(name: str) -> Path:
    path = TF2ONNX / f"{name}.onnx"
    if not path.exists():
        pytest.skip(f"{path} comes with the tflite branch")
    return path


@pytest.mark.parametrize("name", ["resnet8", "ds_cnn", "mobilenet_v2"])
def test_tf2onnx_ops_are_what_onnxruntime_runs(name, tmp_path):
    """Same multiset of ops as onnxruntime's optimized model, except the input Transpose
    (NHWC -> NCHW), which socsim treats as a layout conversion (branches may be ordered
    differently)."""
    from collections import Counter

    path = _tf2onnx(name)
    g = onnx.load(str(path)).graph
    inputs = {i.name for i in g.input}
    layout = sum(1 for n in g.node if n.op_type == "Transpose" and n.input[0] in inputs
                 and list(helper.get_attribute_value(n.attribute[0])) == [0, 3, 1, 2])
    ours = Counter(op.op_type for op in load_graph(path, rules="onnxruntime_x86").ops)
    theirs = Counter(ort_ops(path, tmp_path))
    assert theirs - ours == Counter({"Transpose": layout}) and not ours - theirs


def test_tf2onnx_mobilenet_places_on_the_u55_with_no_float_op():
    """Issue 11: `no unit supports op '.../Mean_prequant_Squeeze__889' (Squeeze, int8)`; the
    Relu / Clip between convs and their Q ran in float on the CPU."""
    from socsim.config.loading import load_soc
    from socsim.policies.registry import get_policy

    g = load_graph(_tf2onnx("mobilenet_v2"))
    soc = load_soc(Path(__file__).resolve().parents[2] / "devices" / "mcu_m55_u55.yaml")
    plan = get_policy("single")({"unit": "npu"}).place(g, soc)
    assert set(plan.units) == {"npu"} and not any(op.dtype.startswith("float") for op in g.ops)
    assert not any(op.op_type in VIEW_OPS | {"Relu", "Clip"} for op in g.ops)


def test_converter_models_simulate_on_the_mcu():
    """Simulated end to end on devices/mcu_m55_u55.yaml (NPU, CPU fallback): every op of the
    timing graph runs once; the Relu6-fused int8 convs run on the NPU."""
    from tools.converters.latency import latency

    root = Path(__file__).resolve().parents[2]
    device = root / "devices" / "mcu_m55_u55.yaml"
    s8 = latency(device, DIR / "torch_mbblock_qdq_s8.onnx")
    g = load_graph(DIR / "torch_mbblock_qdq_s8.onnx")
    assert s8["ops"] == len(g.ops) and s8["units"]["npu"] == sum(
        op.op_type in ("Conv", "Add", "Gemm") for op in g.ops)
    assert s8["latency_us"] > 0
    if (TF2ONNX / "resnet8.onnx").exists():
        r8 = latency(device, TF2ONNX / "resnet8.onnx")
        assert r8["float_ops"] == 0 and set(r8["units"]) == {"npu"}
