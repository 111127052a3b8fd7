"""Cycle models by unit kind against hand computations."""

from __future__ import annotations

import pytest
import yaml

from socsim.config import SoC
from socsim.graph import load_graph
from socsim.hw import op_cycles
from socsim.hw.npu import array_cycles
from socsim.zoo import build
from tests.conftest import FIXTURES, two_op_model


def _soc(**npu_overrides) -> SoC:
    data = yaml.safe_load((FIXTURES / "tiny_soc.yaml").read_text())
    data["units"]["npu"].update(npu_overrides)
    return SoC.model_validate(data)


def test_cpu_lanes_times_efficiency():
    soc = SoC.model_validate(yaml.safe_load((FIXTURES / "float_soc.yaml").read_text()))
    g = load_graph(two_op_model())
    # float32: 64 bits / 32 = 2 lanes, efficiency 0.5 -> 1 MAC / cycle
    assert op_cycles(soc.units["cpu"], g.ops[0], g).compute == 256 * 64
    # dsp: 4 MACs / cycle at efficiency 1
    assert op_cycles(soc.units["acc"], g.ops[0], g).compute == 256 * 64 / 4


@pytest.mark.parametrize("dataflow,expected", [
    # M=64 (8x8 output pixels), K=27 (3x3x3), N=8 on a 4x4 array
    # folds x per-fold cycles of SCALE-Sim's systolic model: os T + R + C - 2; ws / is add R
    # cycles to load the stationary operand: 2R + C + T - 2
    ("output_stationary", 16 * 2 * (27 + 4 + 4 - 2)),     # M on rows, N on cols, K streamed
    ("weight_stationary", 7 * 2 * (4 + 64 + 4 + 4 - 2)),  # K on rows, N on cols, M streamed
    ("input_stationary", 7 * 16 * (4 + 8 + 4 + 4 - 2)),   # K on rows, M on cols, N streamed
])
def test_npu_dataflows(dataflow, expected):
    unit = _soc(dataflow=dataflow).units["npu"]
    assert array_cycles(unit, m=64, k=27, n=8, macs_per_pe=1) == expected


def test_npu_conv_uses_layer_shape_and_reports_utilisation():
    soc = _soc()
    g = load_graph(build("resnet8_int8"))
    conv = g.ops[1]  # 3x3 conv, 3 -> 16 channels, 32x32 output
    cyc = op_cycles(soc.units["npu"], conv, g)
    m, k, n = 32 * 32, 27, 16
    assert cyc.compute == (m // 4) * (n // 4) * (k + 4 + 4 - 2)
    assert cyc.utilisation == pytest.approx(conv.macs / (cyc.compute * 16))
    assert conv.macs == m * k * n


def test_depthwise_maps_one_channel_per_group():
    soc = _soc()
    g = load_graph(build("ds_cnn_int8"))
    dw = next(op for op in g.ops if op.family == "depthwise")
    out = g.tensors[dw.outputs[0]].shape  # [1, 64, 25, 5]
    groups, m = out[1], out[2] * out[3]
    expected = groups * -(-m // 4) * 1 * (9 + 4 + 4 - 2)
    assert op_cycles(soc.units["npu"], dw, g).compute == expected


def test_launch_overhead_is_added():
    soc = _soc(launch_overhead_cycles=500)
    g = load_graph(build("resnet8_int8"))
    base = op_cycles(_soc().units["npu"], g.ops[1], g).compute
    assert op_cycles(soc.units["npu"], g.ops[1], g).compute == base + 500
