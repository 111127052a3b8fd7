"""The one QDQ fuser: groups, rules, fused activations as clamps, and the timing graph built
from the node list the kernels execute."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import helper, numpy_helper

from socsim.execute import run_model
from socsim.graph import load_graph
from socsim.graph.cost import VIEW_OPS
from socsim.graph.qdq_groups import RULES
from socsim.graph.qdq_lowering import lower
from socsim.kernels.interpreter import CompiledModel
from socsim.zoo import build
from tests.graph.qdq_models import conv_act_q

#: The op type a timing op keeps for each integer node the lowering makes.
_QOP = {"QLinearConv": "Conv", "QLinearMatMul": "MatMul", "QGemm": "Gemm",
        "QLinearAdd": "Add", "QLinearMul": "Mul", "QLinearAveragePool": "AveragePool",
        "QLinearGlobalAveragePool": "GlobalAveragePool", "QLinearSigmoid": "Sigmoid",
        "QLinearLeakyRelu": "LeakyRelu", "QLinearSoftmax": "Softmax", "QLinearConcat": "Concat",
        "QLinearSub": "Sub", "QLinearTanh": "Tanh", "QLinearHardSwish": "HardSwish",
        "Requantize": "DequantizeLinear"}


def _lowering(model: onnx.ModelProto, rules: str):
    g = model.graph
    consts = {i.name: numpy_helper.to_array(i) for i in g.initializer}
    opset = next(o.version for o in model.opset_import if o.domain in ("", "ai.onnx"))
    return lower(list(g.node), consts, [o.name for o in g.output], opset, rules)


def _executed(model: onnx.ModelProto, rules: str) -> list[onnx.NodeProto]:
    """The nodes the kernels run per inference: the lowering minus constant-only nodes."""
    low = _lowering(model, rules)
    known = {i.name for i in model.graph.initializer} | set(low.consts)
    run = []
    for n in low.nodes:
        if all(i in known for i in n.input if i):
            known.update(n.output)
            continue
        run.append(n)
    return run


@pytest.mark.parametrize("rules", RULES)
@pytest.mark.parametrize("name", ["resnet8_int8", "ds_cnn_int8", "transformer_block_int8"])
def test_timing_ops_are_the_executed_nodes(name, rules):
    model = build(name)
    g = load_graph(model, rules=rules)
    executed = _executed(model, rules)
    by_name = {n.name: n for n in executed}
    covered = {m for op in g.ops for m in op.nodes}
    for op in g.ops:  # every simulated op is an executed node, in its integer form or not
        node = by_name[op.name]
        assert _QOP.get(node.op_type, node.op_type) == op.op_type
        integer = node.op_type in _QOP or node.op_type in ("QuantizeLinear", "DequantizeLinear")
        assert integer or not op.dtype.startswith("int") or op.op_type in VIEW_OPS | {
            "Transpose", "MaxPool", "Reshape"}, op
        if node.op_type in _QOP:
            assert op.dtype in ("int8", "uint8")
    for n in executed:  # every executed node is simulated, or folded/relabelled into an op
        assert n.name in {op.name for op in g.ops} or n.name in covered or (
            n.op_type in VIEW_OPS or n.name.endswith("_clamp_socsim")), n.name


def test_rules_decide_int8_activation_convs():
    model = conv_act_q(act=None)  # int8 activations: x86 onnxruntime fuses no such Conv
    low = {r: _lowering(model, r) for r in RULES}
    # (its S8->U8 pass makes the input uint8, so input and output types differ)
    assert not low["onnxruntime_x86"].groups["conv"].eligible
    assert "not one" in low["onnxruntime_x86"].groups["conv"].reason
    assert low["onnxruntime"].groups["conv"].eligible and low["tflite"].groups["conv"].eligible
    ops = {r: [(op.op_type, op.dtype) for op in load_graph(model, rules=r).ops] for r in RULES}
    assert ops["onnxruntime"] == ops["tflite"] == [("QuantizeLinear", "int8"), ("Conv", "int8")]
    # x86: the kernels run DQ -> float Conv -> Q; the timing graph simulates exactly that
    assert ops["onnxruntime_x86"] == [("QuantizeLinear", "int8"), ("DequantizeLinear", "int8"),
                                      ("Conv", "float32"), ("QuantizeLinear", "int8")]
    assert [n.op_type for n in _executed(model, "onnxruntime_x86")] == [
        "QuantizeLinear", "DequantizeLinear", "Conv", "QuantizeLinear"]


def _ort_removed(model: onnx.ModelProto, tmp_path) -> list[str]:
    """Op types of onnxruntime's optimized model (extended level, where onnxruntime 1.32 runs
    Relu/ClipQuantFusion)."""
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED
    so.optimized_model_filepath = str(tmp_path / "opt.onnx")
    ort.InferenceSession(model.SerializeToString(), so, providers=["CPUExecutionProvider"])
    return [n.op_type for n in onnx.load(str(tmp_path / "opt.onnx")).graph.node]


@pytest.mark.parametrize("act,y_scale,y_zp,clip,removed", [
    ("Relu", 0.05, -128, (0, 6), True),     # zero point at int8's minimum: Q saturates it
    ("Relu", 0.05, 0, (0, 6), False),       # zero point 0: the Relu clips values Q keeps
    ("Clip", 6 / 255, -128, (0, 6), True),  # Q's range is [0, 6]: the Clip is a no-op
    ("Clip", 0.05, -128, (0, 6), False),    # Q reaches 12.75 > 6: the Clip does work
])
def test_onnxruntime_removes_the_activations_onnxruntime_removes(act, y_scale, y_zp, clip,
                                                                 removed, tmp_path):
    model = conv_act_q(act, y_scale=y_scale, y_zp=y_zp, clip=clip)
    kept = _ort_removed(model, tmp_path)  # the reference (a kept one fuses into a FusedConv)
    assert (act not in kept and "FusedConv" not in kept) == removed
    for rules in ("onnxruntime", "onnxruntime_x86"):
        low = _lowering(model, rules)
        assert ("act" in low.absorbed) == removed
        assert (act not in [n.op_type for n in low.nodes]) == removed


def test_removed_relu_makes_the_group_run_as_onnxruntime_runs_it():
    """uint8 Conv -> Relu -> Q (zero point 0): onnxruntime drops the Relu and runs QLinearConv
    (u8s8); socsim's kernels now do the same: zero differing elements."""
    model = conv_act_q("Relu", y_zp=0, kernel=3, channels=8, dtype=np.uint8)
    x = np.random.default_rng(5).uniform(-0.5, 4.5, size=(16, 1, 3, 5, 5)).astype(np.float32)
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    compiled = CompiledModel(model)
    assert "QLinearConv" in [s.ctx.op_type for s in compiled.steps]
    for sample in x:
        (want,) = sess.run(None, {"x": sample})
        got = run_model(model, {"x": sample}).outputs["y"]
        assert np.array_equal(got, want)


def _tflite_clamp(f_lo: float, f_hi: float, scale: float, zp: int) -> tuple[int, int]:
    """TFLite's CalculateActivationRangeQuantizedImpl by hand: zp + round-half-away(f/scale)
    in float32, limited to int8's range."""
    def q(f: float) -> int:
        v = np.float32(f) / np.float32(scale)
        return zp + int(np.sign(v) * np.floor(abs(v) + 0.5))
    return max(-128, q(f_lo)), min(127, q(f_hi))


@pytest.mark.parametrize("act,clip,y_scale,y_zp,expected", [
    ("Clip", (0.0, 6.0), 0.05, -10, (-10, 110)),   # Relu6: 6 / 0.05 = 120
    ("Relu", None, 0.05, -10, (-10, 127)),          # Relu: [zp, qmax]
    ("Clip", (-1.0, 1.0), 0.025, 3, (-37, 43)),     # ReluN1To1: 1 / 0.025 = 40
    ("Clip", (0.0, 6.0), 12.0, 0, (0, 1)),          # 6 / 12 = 0.5: TFLite rounds away -> 1
])
def test_tflite_clamp_is_the_activation_range_tflite_computes(act, clip, y_scale, y_zp,
                                                              expected):
    lo_hi = clip or (0.0, np.inf)
    if np.isfinite(lo_hi[1]):
        assert _tflite_clamp(*lo_hi, y_scale, y_zp) == expected
    model = conv_act_q(act, clip=clip or (0, 6), y_scale=y_scale, y_zp=y_zp)
    group = _lowering(model, "tflite").groups["conv"]
    assert group.eligible and group.clamp == expected
    op = load_graph(model, rules="tflite").op("conv")
    assert op.attrs["clamp"] == expected and op.attrs["fused_activation"] == act
    assert {"act", "q_y", "conv_clamp_socsim"} <= set(op.nodes)


def test_tflite_clamp_of_a_tie_differs_from_round_half_even():
    """6 / 12 = 0.5 exactly: TFLite's TfLiteRound gives 1, round-half-even 0; the onnxruntime
    rules' clamp (the exact image of DQ -> Clip -> Q with Q's round half to even) keeps 0."""
    model = conv_act_q("Clip", y_scale=12.0, y_zp=0)
    # Conv -> Clip -> Q is no onnxruntime group (it keeps this Clip: Q reaches 1524 > 6)
    assert "conv" not in _lowering(model, "onnxruntime").groups
    assert _lowering(model, "tflite").groups["conv"].clamp == (0, 1)


def _run_lowered(model: onnx.ModelProto, rules: str, x: np.ndarray, out: str = "y"
                 ) -> np.ndarray:
    """Runs the lowered node list as written (the interpreter's reference mode: no further
    lowering) so the test sees exactly what the lowering produced."""
    low = _lowering(model, rules)
    inits = list(model.graph.initializer) + [numpy_helper.from_array(v, k)
                                             for k, v in low.consts.items()]
    graph = helper.make_graph(low.nodes, "lowered", list(model.graph.input),
                              list(model.graph.output), inits)
    lowered = helper.make_model(graph, opset_imports=list(model.opset_import))
    return CompiledModel(lowered, qdq="reference").run({"x": x}).outputs[out]


def test_tflite_fused_conv_is_the_integer_conv_then_the_clamp():
    """Zero differing elements against an independent composition: the same integer conv
    without an activation, then the clamp computed by hand."""
    x = np.random.default_rng(1).uniform(-2.5, 2.5, size=(1, 3, 5, 5)).astype(np.float32)
    plain = _run_lowered(conv_act_q(None, y_scale=0.05, y_zp=-10, kernel=3), "tflite", x)
    fused = _run_lowered(conv_act_q("Clip", y_scale=0.05, y_zp=-10, kernel=3), "tflite", x)
    lo, hi = _tflite_clamp(0.0, 6.0, 0.05, -10)
    assert (lo, hi) == (-10, 110)
    assert np.array_equal(fused, np.clip(plain, lo, hi))
    assert (plain > hi).any() and (plain < lo).any()  # the clamp did work on both sides


def test_zoo_pattern_q_dq_relu_q_is_an_exact_clamp():
    """``Conv -> Q -> DQ -> Relu -> Q`` with one scale and zero point (0): the lowering runs the
    integer conv and the integer clamp [0, 127]; its outputs equal the float chain's."""
    from tests.graph.test_loading import _qdq_conv_relu_model

    model = _qdq_conv_relu_model()
    x = np.random.default_rng(2).uniform(-3, 3, size=(1, 3, 8, 8)).astype(np.float32)
    low = _lowering(model, "onnxruntime")
    assert low.groups["conv"].clamp == (0, 127)
    fused = _run_lowered(model, "onnxruntime", x)
    # the reference: the integer conv alone (graph cut at its Q), then DQ -> Relu -> Q in float
    cut = onnx.ModelProto()
    cut.CopyFrom(model)
    del cut.graph.output[:]
    cut.graph.output.append(helper.make_tensor_value_info("cq", onnx.TensorProto.INT8, None))
    conv_q = _run_lowered(cut, "onnxruntime", x, out="cq")
    chain = helper.make_graph(
        [n for n in model.graph.node if n.name in ("dq_c", "relu", "q_y")], "chain",
        [helper.make_tensor_value_info("cq", onnx.TensorProto.INT8, [1, 4, 8, 8])],
        list(model.graph.output), list(model.graph.initializer))
    chain = helper.make_model(chain, opset_imports=list(model.opset_import))
    ref = CompiledModel(chain, qdq="reference").run({"cq": conv_q}).outputs["y"]
    assert np.array_equal(fused, ref) and (conv_q < 0).any()


def test_unknown_rules_are_refused():
    with pytest.raises(ValueError, match="rules must be one of onnxruntime"):
        load_graph(conv_act_q(), rules="tensorrt")


def test_tflite_takes_per_channel_weights_and_refuses_other_clips():
    model = conv_act_q("Clip", clip=(0.0, 6.0), y_scale=0.05, y_zp=-10)
    inits = {i.name: i for i in model.graph.initializer}
    per_channel = numpy_helper.from_array(np.array([0.01, 0.02, 0.03, 0.04], np.float32), "ws")
    inits["ws"].CopyFrom(per_channel)
    inits["wz"].CopyFrom(numpy_helper.from_array(np.zeros(4, np.int8), "wz"))
    for n in model.graph.node:
        if n.name == "dq_w":
            n.attribute.append(helper.make_attribute("axis", 0))
    group = _lowering(model, "tflite").groups["conv"]
    assert group.eligible and group.clamp == (-10, 110)
    assert group.lowered.op_type == "QLinearConv"
    # other constant bounds: the same formula (TFLite's converter only makes the three)
    odd = _lowering(conv_act_q("Clip", clip=(0.0, 4.0), y_scale=0.05, y_zp=-10),
                    "tflite").groups["conv"]
    assert odd.eligible and odd.clamp == (-10, 70)


def _dq_op_q(op: str, arity: int, act: str | None = None) -> onnx.ModelProto:
    """int8 ``DQ -> op -> [act] -> Q`` (``op`` None: ``DQ -> Q`` with a new scale)."""
    inits = [numpy_helper.from_array(np.array(0.1, np.float32), "s"),
             numpy_helper.from_array(np.array(0.05, np.float32), "s2"),
             numpy_helper.from_array(np.array(3, np.int8), "z")]
    ins = [f"x{i}" for i in range(arity)]
    nodes = [helper.make_node("DequantizeLinear", [x, "s", "z"], [f"{x}d"], name=f"dq_{x}")
             for x in ins]
    pre = "x0d"
    if op is not None:
        nodes.append(helper.make_node(op, [f"{x}d" for x in ins], ["r"], name="op"))
        pre = "r"
    if act is not None:
        nodes.append(helper.make_node(act, ["r"], ["ra"], name="act"))
        pre = "ra"
    nodes.append(helper.make_node("QuantizeLinear", [pre, "s2", "z"], ["y"], name="q"))
    graph = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info(x, onnx.TensorProto.INT8, [1, 8])
                     for x in ins],
        [helper.make_tensor_value_info("y", onnx.TensorProto.INT8, [1, 8])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 19)])
    model.ir_version = 9
    return model


@pytest.mark.parametrize("op,arity,anchor,lowered", [
    ("Sub", 2, "op", "QLinearSub"), ("Tanh", 1, "op", "QLinearTanh"),
    ("HardSwish", 1, "op", "QLinearHardSwish"), (None, 1, "dq_x0", "Requantize")])
def test_tflite_only_groups_are_modes_of_the_one_matcher(op, arity, anchor, lowered):
    """TFLite's SUB, TANH, HARD_SWISH and int8 -> int8 QUANTIZE: groups under ``tflite`` (run
    by TFLite's kernels in ai.socsim.tflite), no group under the onnxruntime rules."""
    model = _dq_op_q(op, arity)
    group = _lowering(model, "tflite").groups[anchor]
    assert group.eligible and group.lowered.op_type == lowered
    assert group.lowered.domain == "ai.socsim.tflite" and group.output == "y"
    assert anchor not in _lowering(model, "onnxruntime").groups
    timing = load_graph(model, rules="tflite")
    assert [op.name for op in timing.ops] == [anchor] and timing.ops[0].dtype == "int8"


def test_tflite_add_takes_its_fused_relu_as_a_clamp():
    """TFLite's ADD clamps to its fused activation's range like CONV_2D: Relu on an output
    with scale 0.05 and zero point 3 is the clamp [3, 127]. onnxruntime keeps this Relu (zero
    point 3 is not int8's minimum), so there the Add is no group."""
    model = _dq_op_q("Add", 2, act="Relu")
    group = _lowering(model, "tflite").groups["op"]
    assert group.eligible and group.clamp == (3, 127) and group.lowered.op_type == "QLinearAdd"
    assert "op" not in _lowering(model, "onnxruntime").groups
    (add,) = load_graph(model, rules="tflite").ops
    assert add.attrs["clamp"] == (3, 127) and add.dtype == "int8"
