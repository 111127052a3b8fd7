""".tflite as a model format: reading, the timing graph (hand-computed MACs), errors that name
the problem, and a bundled scenario that runs a .tflite model."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from socsim.errors import ModelError, UnsupportedOpError
from socsim.graph import load_graph
from socsim.graph.tflite_graph import lower_tflite
from socsim.graph.tflite_read import read_tflite
from socsim.kernels.tflite import compile_tflite
from socsim.kernels.tflite.runner import CompiledTflite
from socsim.run import run_scenario
from tests.conftest import REPO

DATA = REPO / "tests" / "data" / "tflite"


def test_reader_decodes_tensors_quantization_and_options():
    m = read_tflite(DATA / "conv_ops.tflite")
    conv = m.ops[0]
    assert conv.opcode == "CONV_2D"
    assert conv.options["fused_activation_function"] == "RELU"
    assert conv.options["padding"] == "SAME"
    w = m.tensors[conv.inputs[1]]
    assert w.dtype == "int8" and w.data.shape == (8, 3, 3, 3)
    assert w.scale.size == 8 and w.axis == 0  # per-channel along the output channels
    bias = m.tensors[conv.inputs[2]]
    assert bias.dtype == "int32" and bias.data.shape == (8,)
    assert m.ops[1].options["fused_activation_function"] == "RELU6"


def test_timing_graph_of_ds_cnn_matches_hand_counts():
    g = load_graph(DATA / "ds_cnn.tflite")
    assert [op.op_type for op in g.ops] == (["Conv"] * 9 + ["AveragePool", "Gemm", "Softmax"])
    first, dw, pw, fc = g.ops[0], g.ops[1], g.ops[2], g.ops[10]
    # 49x10x1 input, 64 filters 10x4, stride 2, SAME: 25x5x64 outputs x 40 taps
    assert first.macs == 25 * 5 * 64 * 10 * 4
    assert dw.family == "depthwise" and dw.macs == 25 * 5 * 64 * 9
    assert pw.family == "conv" and pw.macs == 25 * 5 * 64 * 64
    assert fc.macs == 64 * 12
    assert all(op.dtype == "int8" for op in g.ops)
    assert first.attrs["fused_activation"] == "Relu"
    assert g.tensors[first.weights[0]].shape == (64, 1, 10, 4)  # (O, I, KH, KW)
    assert g.tensors[first.inputs[0]].shape == (1, 1, 49, 10)  # (N, C, H, W)


def test_not_a_tflite_file_is_one_clear_error(tmp_path):
    bad = tmp_path / "model.tflite"
    bad.write_bytes(b"\x00" * 64)
    with pytest.raises(ModelError, match="not a TFLite flatbuffer"):
        load_graph(bad)
    with pytest.raises(ModelError, match="file not found"):
        load_graph(tmp_path / "missing.tflite")


def test_an_unsupported_operator_is_named_with_the_supported_ones():
    m = read_tflite(DATA / "conv_ops.tflite")
    ops = list(m.ops)
    ops[4] = dataclasses.replace(ops[4], opcode="GATHER_ND")
    odd = dataclasses.replace(m, ops=tuple(ops))
    with pytest.raises(UnsupportedOpError, match="GATHER_ND.*supported: .*CONV_2D"):
        lower_tflite(odd)
    with pytest.raises(UnsupportedOpError, match="GATHER_ND.*supported: .*CONV_2D"):
        CompiledTflite(odd)


def test_a_wrong_input_shape_is_one_clear_error():
    c = compile_tflite(DATA / "ds_cnn.tflite")
    with pytest.raises(ModelError, match="expects"):
        c.run({c.input_names[0]: np.zeros((1, 5, 5, 1), np.int8)})


def test_bundled_scenario_runs_a_tflite_model(tmp_path):
    result = run_scenario(REPO / "scenarios" / "mcu_tflite_dscnn.yaml",
                          [f"run.out={tmp_path / 'out'}"])
    job = result.jobs[0]
    assert job.graph.path.endswith("ds_cnn.tflite") and len(job.graph.ops) == 12
    outs = result.functional.outputs
    assert len(outs) == 3
    assert all(v.shape == (1, 12) and v.dtype == np.int8 for v in outs.values())
    assert result.summary  # the timing report exists


@pytest.mark.parametrize("keep", [12, 2000, -10])
def test_a_truncated_file_is_one_clear_error(tmp_path, keep):
    data = (DATA / "ds_cnn.tflite").read_bytes()
    bad = tmp_path / "cut.tflite"
    bad.write_bytes(data[:keep])
    with pytest.raises(ModelError, match="cut.tflite"):
        load_graph(bad)


def test_a_float_operator_is_refused_by_name():
    m = read_tflite(DATA / "quantize_ops.tflite")
    ts = list(m.tensors)
    conv = next(op for op in m.ops if op.opcode == "CONV_2D")
    out = ts[conv.outputs[0]]
    ts[out.index] = dataclasses.replace(out, dtype="float32", scale=np.zeros(0, np.float32),
                                        zero_point=np.zeros(0, np.int64))
    with pytest.raises(UnsupportedOpError, match="CONV_2D on the float32 tensor"):
        CompiledTflite(dataclasses.replace(m, tensors=tuple(ts)))
