"""int4 weights are timed as int4 work: packed weight bytes always, int4 MACs where the unit
declares them.

Hand computations from devices/mcu_m55_u55.yaml's Ethos-U55 (16 x 16 output-stationary array,
500 launch cycles, int8 at 1 MAC/PE/cycle, 0.237 pJ per int8 MAC) on the digits CNN quantized
with the ``int4`` scheme (int4 weights, int8 activations). ``INT4`` is the same device with the
NPU also declaring int4 at 2 MACs/PE/cycle and 0.15 pJ per MAC (a hypothetical W4A8 datapath;
the bundled devices declare no int4, as none of their sources claims it).
"""

from __future__ import annotations

from math import ceil

import onnx
import pytest

from socsim import load_soc
from socsim.graph.loading import load_model
from socsim.hw.cost import op_cost
from socsim.quant import Recipe, quantize_static
from tests.conftest import REPO

DEVICE = REPO / "devices" / "mcu_m55_u55.yaml"
INT4 = ["units.npu.dtypes=[int8, int16, int4]", "units.npu.macs_per_pe_per_cycle.int4=2",
        "units.npu.power.energy_pj_per_mac.int4=0.15",
        "units.npu.power.energy_pj_per_op.int4=0.494"]
R = C = 16
LAUNCH = 500


@pytest.fixture(scope="module")
def graphs(digits, tmp_path_factory):
    """The digits CNN quantized int8 and int4, loaded at batch 1."""
    cnn, _, calib, _ = digits
    out = {}
    for scheme in ("int8", "int4"):
        path = tmp_path_factory.mktemp(scheme) / "q.onnx"
        onnx.save(quantize_static(cnn, calib, Recipe(scheme)).model, path)
        out[scheme] = load_model(path, {"N": 1}).graph
    return out


def _os_cycles(m: int, k: int, n: int, macs_per_pe: float) -> float:
    """Output stationary: ceil(M/R) * ceil(N/C) folds of K/rate + R + C - 2 cycles each."""
    return ceil(m / R) * ceil(n / C) * (k / macs_per_pe + R + C - 2) + LAUNCH


@pytest.mark.parametrize("name, m, k, n, weights", [
    ("conv2", 8 * 8, 16 * 3 * 3, 32, 32 * 16 * 3 * 3),  # 3x3 conv 16 -> 32 on 8x8 (pad 1)
    ("gemm1", 1, 32, 10, 32 * 10),
])
def test_int4_weights_hand_computed(graphs, name, m, k, n, weights):
    plain, int4 = load_soc(DEVICE), load_soc(DEVICE, INT4)
    g8, g4 = graphs["int8"], graphs["int4"]
    op8 = next(o for o in g8.ops if o.name == name)
    op4 = next(o for o in g4.ops if o.name == name)
    assert op8.macs == op4.macs == m * k * n
    bias = 4 * n  # int32 bias, one per output channel
    c8 = op_cost(plain.units["npu"], op8, g8)
    c4_plain = op_cost(plain.units["npu"], op4, g4)
    c4 = op_cost(int4.units["npu"], op4, g4)
    # weight traffic: ONNX packs int4 two to a byte, on every unit
    assert c8.weight_bytes == weights + bias
    assert c4_plain.weight_bytes == c4.weight_bytes == weights // 2 + bias
    # compute: a unit without int4 MACs runs the unpacked weights at its int8 rate ...
    assert c8.cycles == c4_plain.cycles == _os_cycles(m, k, n, 1)
    assert c4_plain.dynamic_pj == pytest.approx(m * k * n * 0.237)
    # ... one declaring int4 at its int4 rate and energy
    assert c4.cycles == _os_cycles(m, k, n, 2)
    assert c4.dynamic_pj == pytest.approx(m * k * n * 0.15)
    # an int8 model is unchanged on the int4-capable unit
    assert op_cost(int4.units["npu"], op8, g8).cycles == c8.cycles


def test_int16_activations_keep_their_rate_with_int4_declared(digits, tmp_path):
    """int4 MACs apply to int4 weights with activations of at most 8 bits: an int16 model on
    the int4-capable NPU runs at int16's 0.5 MAC/PE/cycle."""
    cnn, _, calib, _ = digits
    path = tmp_path / "q16.onnx"
    onnx.save(quantize_static(cnn, calib, Recipe("int16")).model, path)
    g = load_model(path, {"N": 1}).graph
    op = next(o for o in g.ops if o.name == "gemm1")
    assert op_cost(load_soc(DEVICE, INT4).units["npu"], op, g).cycles == _os_cycles(1, 32, 10,
                                                                                     0.5)
