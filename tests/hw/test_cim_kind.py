"""The ``cim`` unit kind (socsim.hw.cim) on devices/imx8mp_cim.yaml, against hand computations
from the device file's figures (docs/devices.md, "imx8mp_cim")."""

from __future__ import annotations

import numpy as np
import pytest

from socsim.config import load_soc
from socsim.errors import ConfigError
from socsim.graph import load_graph
from socsim.hw.cim import CimKind, lifetime_runs, op_mapping, programming
from socsim.hw.cost import op_cost
from socsim.hw.kind import available_unit_kinds, kind_of
from socsim.kernels.cim import CimDot
from socsim.quant import Recipe, quantize_static
from tests.conftest import REPO

DEVICE = REPO / "devices" / "imx8mp_cim.yaml"
MAC_PJ, ADC_PJ, WRITE_PJ = 0.002423, 0.2098, 0.0768   # the device file's cim figures
LAUNCH, MHZ = 364, 181.818


@pytest.fixture(scope="module")
def soc():
    return load_soc(DEVICE)


@pytest.fixture(scope="module")
def digits(tmp_path_factory):
    calib = dict(np.load(REPO / "workloads" / "digits_calib.npz"))
    q = quantize_static(REPO / "workloads" / "digits_cnn.onnx", calib,
                        Recipe(scheme="int8", per_channel=True)).model
    path = tmp_path_factory.mktemp("cim") / "digits_int8.onnx"
    path.write_bytes(q.SerializeToString())
    return load_graph(path, {"N": 1})


def _op(graph, name):
    return next(o for o in graph.ops if o.name == name)


def test_cim_is_a_registered_kind(soc):
    assert "cim" in available_unit_kinds()
    assert isinstance(kind_of(soc.units["cim"]), CimKind)


def test_conv2_cycles_time_and_energy_by_hand(soc, digits):
    # conv2: M = 64 pixels, K = 16 * 9 = 144, N = 32; I = 8/4 = 2, J = 8/4 = 2;
    # 3 row tiles x 4 column tiles = 12 crossbars <= 64: resident, one round, one ADC step.
    unit = soc.units["cim"]
    cost = op_cost(unit, _op(digits, "conv2"), digits)
    assert cost.cycles == 64 * 2 + LAUNCH
    assert cost.compute_ns == pytest.approx((128 + LAUNCH) / MHZ * 1e3)
    conversions = 3 * 64 * 2 * 64          # row tiles x M x I x N*J
    slices = 64 * 144 * 32 * 2 * 2         # M K N I J
    assert cost.dynamic_pj == pytest.approx(slices * MAC_PJ + conversions * ADC_PJ)
    assert cost.weight_bytes == 0          # the weights stay in the crossbars


def test_whole_digits_model_fits_the_crossbars(soc, digits):
    unit = soc.units["cim"]
    maps = [op_mapping(unit, op, digits) for op in digits.ops if op.op_type in ("Conv", "Gemm")]
    assert [m.tiles for m in maps] == [2, 12, 20, 2]    # conv1, conv2, conv3, gemm1
    assert sum(m.tiles for m in maps) == 36 <= unit.crossbars
    assert not any(m.reprogrammed for m in maps)


def test_too_few_crossbars_reprogram_and_read_weights(soc, digits):
    unit = soc.units["cim"].model_copy(update={"crossbars": 4})
    op = _op(digits, "conv3")   # M = 16, K = 288, N = 32: 5 x 4 = 20 tiles -> 5 rounds
    cost = op_cost(unit, op, digits)
    stream = 5 * 16 * 2
    program = 5 * 64 * 1.0                  # rounds x min(rows, K) row writes
    assert cost.cycles == stream + program + LAUNCH
    writes = 288 * 32 * 2                   # every weight's two cells, once per run
    conversions = 5 * 16 * 2 * 64
    slices = 16 * 288 * 32 * 4
    assert cost.dynamic_pj == pytest.approx(slices * MAC_PJ + conversions * ADC_PJ
                                            + writes * WRITE_PJ)
    assert cost.weight_bytes == digits.bytes_of(op.weights)


def test_energy_scales_with_voltage_squared(soc, digits):
    unit = soc.units["cim"]
    op = _op(digits, "conv1")
    low, high = unit.dvfs.points
    ratio = op_cost(unit, op, digits, high).dynamic_pj / op_cost(unit, op, digits, low).dynamic_pj
    assert ratio == pytest.approx((1.0 / 0.8) ** 2)


def test_arithmetic_hook_carries_the_adc(soc):
    unit = soc.units["cim"]
    a = kind_of(unit).arithmetic(unit)
    assert a.integer_dot == CimDot(rows=64, dac_bits=4, bits_per_cell=4, adc_bits=4)


def test_endurance_lifetime():
    class _Unit:
        endurance_writes = 1e6
    assert lifetime_runs(_Unit(), 2) == 5e5
    _Unit.endurance_writes = None
    assert lifetime_runs(_Unit(), 2) == float("inf")


def _device_with(tmp_path, old: str, new: str):
    text = DEVICE.read_text()
    assert old in text
    path = tmp_path / "dev.yaml"
    path.write_text(text.replace(old, new))
    return path


def test_inconsistent_mac_energy_is_refused_with_the_fix(tmp_path):
    path = _device_with(tmp_path, "energy_pj_per_mac: {int8: 0.02280}",
                        "energy_pj_per_mac: {int8: 0.05}")
    with pytest.raises(ConfigError, match=r"energy_pj_per_mac.int8=0.05.*0.0228"):
        load_soc(path)


def test_more_adcs_than_columns_is_refused(tmp_path):
    path = _device_with(tmp_path, "adcs_per_crossbar: 16", "adcs_per_crossbar: 32")
    with pytest.raises(ConfigError, match="adcs_per_crossbar=32 exceeds crossbar_cols=16"):
        load_soc(path)


def test_programming_of_resnet8_counts_the_reprogrammed_layer(soc):
    # stack3_conv2: 64 -> 64 channels, 3x3: K = 576 (9 row tiles), N * J = 128 (8 column
    # tiles) = 72 crossbars > 64: 2 rounds, 576 * 64 * 2 = 73,728 cell writes per run.
    unit = soc.units["cim"]
    graph = load_graph(REPO / "workloads" / "resnet8_int8.onnx")
    prog = programming(unit, graph, graph.ops)
    assert prog.reprogrammed == ("stack3_conv2",)
    assert prog.cell_writes == 576 * 64 * 2 and prog.writes_per_cell == 2
    assert prog.lifetime_inferences == float("inf")          # SRAM
    rram = unit.model_copy(update={"endurance_writes": 1e6})
    assert programming(rram, graph, graph.ops).lifetime_inferences == 5e5
    # the other layers keep 2+6+6+12+4+20+40+8+2 = 100 crossbars: more than 64 together
    assert prog.resident_tiles == 100 and not prog.fits_together


def test_programming_of_digits_is_one_deployment(soc, digits):
    prog = programming(soc.units["cim"], digits, digits.ops)
    assert prog.reprogrammed == () and prog.cell_writes == 0
    assert prog.resident_tiles == 36 and prog.fits_together
